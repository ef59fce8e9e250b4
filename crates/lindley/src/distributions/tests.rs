//! Tests of the prior distributions: moments of samples, normalisation, closed-form densities,
//! support errors, constructor validation, the unconstrained bijection and its log-det, seeding,
//! and (de)serialisation.

use ndarray::{Array1, Array2, array};

use super::*;
use crate::rng::seeded;

/// One instance of every family (with dimensions > 1 where the family allows), and a product.
fn families() -> Vec<Distribution> {
    let leaves = vec![
        Distribution::uniform(vec![-1.0, 2.0], vec![3.0, 2.5]).unwrap(),
        Distribution::normal(vec![1.0, -2.0], vec![2.0, 0.5]).unwrap(),
        Distribution::multivariate_normal(vec![1.0, -1.0], vec![vec![2.0, 0.6], vec![0.6, 1.0]]).unwrap(),
        Distribution::log_normal(vec![0.2, -1.0], vec![0.5, 0.3]).unwrap(),
        Distribution::beta(vec![2.0, 0.5], vec![3.0, 0.7]).unwrap(),
        Distribution::gamma(vec![3.0, 0.8], vec![2.0, 0.5]).unwrap(),
        Distribution::dirichlet(vec![2.0, 3.0, 1.5]).unwrap(),
    ];
    let mut all = leaves.clone();
    all.push(Distribution::product(leaves).unwrap());
    all
}

/// Column means and (unbiased) variances of `x`.
fn moments(x: &Array2<f64>) -> (Array1<f64>, Array1<f64>) {
    let n = x.nrows() as f64;
    let mean = x.mean_axis(ndarray::Axis(0)).unwrap();
    let var = x.map_axis(ndarray::Axis(0), |c| {
        let m = c.mean().unwrap();
        c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)
    });
    (mean, var)
}

#[test]
fn sample_moments_match_mean_and_variance() {
    let n = 50_000;
    for (k, d) in families().iter().enumerate() {
        let x = d.sample(n, &mut seeded(100 + k as u64));
        assert_eq!(x.dim(), (n, d.dim()));
        d.check_support(x.view()).unwrap();
        let (m, v) = moments(&x);
        let (mean, var) = (d.mean(), d.variance());
        assert_eq!(mean.len(), d.dim());
        assert_eq!(var.len(), d.dim());
        for j in 0..d.dim() {
            let se = (var[j] / n as f64).sqrt();
            assert!((m[j] - mean[j]).abs() < 5.0 * se, "{}: mean[{j}] {} vs {}", d.family(), m[j], mean[j]);
            assert!((v[j] / var[j] - 1.0).abs() < 0.05, "{}: variance[{j}] {} vs {}", d.family(), v[j], var[j]);
        }
    }
}

#[test]
fn multivariate_normal_sample_covariance() {
    let d = Distribution::multivariate_normal(vec![1.0, -1.0], vec![vec![2.0, 0.6], vec![0.6, 1.0]]).unwrap();
    let x = d.sample(50_000, &mut seeded(5));
    let (m, _) = moments(&x);
    let cov = x.outer_iter().map(|r| (r[0] - m[0]) * (r[1] - m[1])).sum::<f64>() / 49_999.0;
    assert!((cov - 0.6).abs() < 0.04, "sample covariance {cov}");
}

/// Midpoint-rule integral of exp(log_prob) over [a, b] with `n` cells (1-D distributions).
fn integrate_1d(d: &Distribution, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let grid = Array2::from_shape_fn((n, 1), |(i, _)| a + (i as f64 + 0.5) * h);
    d.log_prob(grid.view()).iter().map(|lp| lp.exp()).sum::<f64>() * h
}

#[test]
fn log_prob_integrates_to_one_in_1d() {
    let cases = [
        // Bounded supports are integrated over a wider range: outside, the density must be 0.
        (Distribution::uniform(vec![-1.0], vec![3.0]).unwrap(), -2.0, 4.5),
        (Distribution::normal(vec![1.0], vec![2.0]).unwrap(), -19.0, 21.0),
        (Distribution::log_normal(vec![0.2], vec![0.5]).unwrap(), -1.0, 40.0),
        (Distribution::beta(vec![2.0], vec![3.0]).unwrap(), -0.5, 1.5),
        (Distribution::beta(vec![1.0], vec![1.5]).unwrap(), 0.0, 1.0),
        (Distribution::gamma(vec![3.0], vec![2.0]).unwrap(), -1.0, 30.0),
        (Distribution::dirichlet(vec![2.5, 4.0]).unwrap(), -0.5, 1.5),
        (Distribution::multivariate_normal(vec![0.5], vec![vec![0.25]]).unwrap(), -5.0, 6.0),
    ];
    for (d, a, b) in cases {
        let total = integrate_1d(&d, a, b, 400_000);
        assert!((total - 1.0).abs() < 1e-5, "{}: integral {total}", d.family());
    }
}

#[test]
fn dirichlet_k3_integrates_to_one_on_a_grid() {
    let d = Distribution::dirichlet(vec![2.0, 3.0, 1.5]).unwrap();
    let n = 1500;
    let h = 1.0 / n as f64;
    let grid = Array2::from_shape_fn((n * n, 2), |(r, c)| {
        let i = if c == 0 { r / n } else { r % n };
        (i as f64 + 0.5) * h
    });
    let total: f64 = d.log_prob(grid.view()).iter().map(|lp| lp.exp()).sum::<f64>() * h * h;
    assert!((total - 1.0).abs() < 1e-3, "integral {total}");
}

#[test]
fn log_prob_matches_closed_form_values() {
    // Reference values from Python's math module (math.lgamma for the normalisers).
    let cases: Vec<(Distribution, Vec<f64>, f64)> = vec![
        (Distribution::normal(vec![1.0], vec![2.0]).unwrap(), vec![0.0], -1.737085713764618),
        (Distribution::gamma(vec![3.0], vec![2.0]).unwrap(), vec![1.5], -0.8027754226637804),
        (Distribution::beta(vec![2.0], vec![3.0]).unwrap(), vec![0.4], 0.5469646703818639),
        (Distribution::log_normal(vec![0.2], vec![0.5]).unwrap(), vec![1.3], -0.49593422007736077),
        (Distribution::dirichlet(vec![2.0, 3.0, 1.5]).unwrap(), vec![0.2, 0.5], 1.4924784412154808),
        (
            Distribution::multivariate_normal(vec![1.0, -1.0], vec![vec![2.0, 0.6], vec![0.6, 1.0]]).unwrap(),
            vec![0.5, 0.0],
            -2.9541276263517893,
        ),
        (Distribution::uniform(vec![0.0, -1.0], vec![2.0, 3.0]).unwrap(), vec![1.9, -1.0], -2.0794415416798357),
    ];
    for (d, x, expected) in &cases {
        let lp = d.log_prob(Array2::from_shape_vec((1, x.len()), x.clone()).unwrap().view())[0];
        assert!((lp - expected).abs() < 1e-12, "{}: {lp} vs {expected}", d.family());
    }
    // A product adds its blocks' log-densities.
    let parts: Vec<Distribution> = cases.iter().map(|c| c.0.clone()).collect();
    let product = Distribution::product(parts).unwrap();
    let x: Vec<f64> = cases.iter().flat_map(|c| c.1.clone()).collect();
    let lp = product.log_prob(Array2::from_shape_vec((1, x.len()), x).unwrap().view())[0];
    let expected: f64 = cases.iter().map(|c| c.2).sum();
    assert!((lp - expected).abs() < 1e-11, "product: {lp} vs {expected}");
}

#[test]
fn outside_support_is_minus_infinity_and_reported() {
    let d = Distribution::product(vec![
        Distribution::normal(vec![0.0], vec![1.0]).unwrap(),
        Distribution::uniform(vec![0.0; 3], vec![1.0; 3]).unwrap(),
    ])
    .unwrap();
    let theta = array![[0.3, 0.1, 0.2, 0.9], [5.0, 0.5, 0.5, 1.7], [0.0, -0.5, 0.5, 0.5]];
    let lp = d.log_prob(theta.view());
    assert!(lp[0].is_finite());
    assert_eq!(lp[1], f64::NEG_INFINITY);
    assert_eq!(lp[2], f64::NEG_INFINITY);
    assert!(d.in_support(theta.row(0)));
    assert!(!d.in_support(theta.row(1)));
    assert!(!d.in_support(array![0.1, 0.2].view()));
    match d.check_support(theta.view()) {
        Err(Error::OutsideSupport { row, detail }) => {
            assert_eq!(row, 1);
            assert_eq!(detail, "θ[3] = 1.7 is above the upper bound 1");
        }
        other => panic!("expected OutsideSupport, got {other:?}"),
    }
    let below = d.check_support(theta.slice(ndarray::s![2.., ..])).unwrap_err().to_string();
    assert!(below.contains("row 0") && below.contains("θ[1] = -0.5 is below the lower bound 0"), "{below}");

    let cases: Vec<(Distribution, Vec<f64>, &str)> = vec![
        (Distribution::gamma(vec![2.0], vec![1.0]).unwrap(), vec![0.0], "θ[0] = 0 is not above the lower bound 0"),
        (Distribution::log_normal(vec![0.0], vec![1.0]).unwrap(), vec![-1.0], "θ[0] = -1 is not above"),
        (Distribution::beta(vec![2.0, 2.0], vec![2.0, 2.0]).unwrap(), vec![0.5, 1.0], "θ[1] = 1 is not below"),
        (Distribution::normal(vec![0.0], vec![1.0]).unwrap(), vec![f64::NAN], "θ[0] = NaN is not a finite number"),
        (Distribution::normal(vec![0.0], vec![1.0]).unwrap(), vec![f64::INFINITY], "θ[0] = inf is not a finite"),
        (Distribution::dirichlet(vec![1.0, 1.0, 1.0]).unwrap(), vec![0.6, 0.5], "θ[0..=1] sums to 1.1"),
        (Distribution::dirichlet(vec![1.0, 1.0, 1.0]).unwrap(), vec![0.6, -0.1], "θ[1] = -0.1 is not above"),
    ];
    for (d, x, text) in cases {
        let theta = Array2::from_shape_vec((1, x.len()), x).unwrap();
        assert_eq!(d.log_prob(theta.view())[0], f64::NEG_INFINITY, "{}", d.family());
        let err = d.check_support(theta.view()).unwrap_err().to_string();
        assert!(err.contains(text), "{err}");
    }

    // Wrong column count: a shape error, and NaN log-densities.
    let err = d.check_support(array![[0.1, 0.2]].view()).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err:?}");
    assert!(err.to_string().contains("4 columns") && err.to_string().contains("2 columns"), "{err}");
    assert!(d.log_prob(array![[0.1, 0.2]].view())[0].is_nan());
}

#[test]
fn bounds_and_dims() {
    let d = Distribution::product(vec![
        Distribution::uniform(vec![-1.0], vec![2.0]).unwrap(),
        Distribution::normal(vec![0.0], vec![1.0]).unwrap(),
        Distribution::gamma(vec![1.0], vec![1.0]).unwrap(),
        Distribution::beta(vec![1.0], vec![1.0]).unwrap(),
        Distribution::dirichlet(vec![1.0, 1.0, 1.0]).unwrap(),
    ])
    .unwrap();
    assert_eq!(d.dim(), 6);
    let inf = f64::INFINITY;
    assert_eq!(d.bounds(), vec![(-1.0, 2.0), (-inf, inf), (0.0, inf), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0)]);
}

/// The error message of an invalid-input result, checked to be `Error::InvalidInput`.
fn invalid_message(result: Result<Distribution>) -> String {
    match result {
        Err(Error::InvalidInput(msg)) => msg,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[test]
fn constructors_reject_invalid_parameters() {
    let nan = f64::NAN;
    let cases: Vec<(Result<Distribution>, &str)> = vec![
        (Distribution::uniform(vec![0.0, 1.0], vec![1.0]), "uniform prior: low has 2 entries but high has 1"),
        (Distribution::uniform(vec![0.0, 2.0], vec![1.0, 1.0]), "uniform prior: low[1] = 2 must be < high[1] = 1"),
        (Distribution::uniform(vec![], vec![]), "uniform prior: low is empty"),
        (Distribution::normal(vec![0.0, nan], vec![1.0, 1.0]), "normal prior: mean[1] = NaN is not finite"),
        (Distribution::normal(vec![0.0], vec![-1.0]), "normal prior: std[0] = -1 must be > 0"),
        (
            Distribution::multivariate_normal(vec![0.0, 0.0], vec![vec![1.0, 0.5], vec![0.4, 1.0]]),
            "covariance is not symmetric: [1][0] = 0.4 but [0][1] = 0.5",
        ),
        (
            Distribution::multivariate_normal(vec![0.0, 0.0], vec![vec![1.0, 2.0], vec![2.0, 1.0]]),
            "covariance is not positive definite",
        ),
        (Distribution::multivariate_normal(vec![0.0, 0.0], vec![vec![1.0, 0.0]]), "covariance has 1 rows"),
        (
            Distribution::multivariate_normal(vec![0.0, 0.0], vec![vec![1.0, 0.0], vec![0.0]]),
            "covariance row 1 has 1 entries, expected 2",
        ),
        (
            Distribution::multivariate_normal(vec![0.0], vec![vec![-2.0]]),
            "multivariate_normal prior: covariance[0][0] = -2 must be > 0",
        ),
        (Distribution::log_normal(vec![0.0], vec![0.0]), "log_normal prior: sigma[0] = 0 must be > 0"),
        (Distribution::beta(vec![1.0, -1.0], vec![1.0, 1.0]), "beta prior: alpha[1] = -1 must be > 0"),
        (Distribution::beta(vec![1.0], vec![0.0]), "beta prior: beta[0] = 0 must be > 0"),
        (Distribution::gamma(vec![f64::INFINITY], vec![1.0]), "gamma prior: shape[0] = inf is not finite"),
        (Distribution::gamma(vec![1.0], vec![0.0]), "gamma prior: rate[0] = 0 must be > 0"),
        (Distribution::dirichlet(vec![1.0]), "dirichlet prior: needs at least 2 concentrations, got 1"),
        (Distribution::dirichlet(vec![1.0, -0.5]), "dirichlet prior: concentration[1] = -0.5 must be > 0"),
        (Distribution::product(vec![]), "product prior: has no parts"),
        (
            Distribution::product(vec![
                Distribution::normal(vec![0.0], vec![1.0]).unwrap(),
                Distribution::Normal { mean: vec![0.0], std: vec![0.0] },
            ]),
            "product prior, part 1: normal prior: std[0] = 0 must be > 0",
        ),
        (
            Distribution::multivariate_normal_from_precision(vec![0.0, 0.0], vec![vec![1.0, 3.0], vec![3.0, 1.0]]),
            "precision is not positive definite",
        ),
    ];
    for (result, text) in cases {
        let msg = invalid_message(result);
        assert!(msg.contains(text), "{msg:?} does not contain {text:?}");
    }
}

#[test]
fn validate_checks_deserialised_values() {
    let bad: Distribution = serde_json::from_str(r#"{"family": "gamma", "shape": [1.0, 2.0], "rate": [1.0, -3.0]}"#)
        .expect("well-formed JSON");
    let msg = bad.validate().unwrap_err().to_string();
    assert!(msg.contains("gamma prior: rate[1] = -3 must be > 0"), "{msg}");
    // Unvalidated values give meaningless results, but never panic.
    let broken = Distribution::Uniform { low: vec![0.0, 1.0], high: vec![1.0] };
    let x = broken.sample(3, &mut seeded(1));
    assert_eq!(x.dim(), (3, 2));
    assert!(x.column(1).iter().all(|v| v.is_nan()));
    let broken_mvn = Distribution::MultivariateNormal { mean: vec![0.0, 0.0], covariance: vec![vec![1.0]] };
    assert!(broken_mvn.sample(2, &mut seeded(1)).iter().all(|v| v.is_nan()));
    assert!(broken_mvn.log_prob(array![[0.0, 0.0]].view())[0].is_nan());
    let empty = Distribution::Dirichlet { concentration: vec![] };
    assert_eq!(empty.sample(2, &mut seeded(1)).dim(), (2, 0));
    assert_eq!(empty.log_prob(Array2::zeros((2, 0)).view()).len(), 2);
}

#[test]
fn ln_gamma_matches_reference_values() {
    // Reference values from Python's math.lgamma.
    let cases = [
        (0.5, 0.5723649429247004),
        (10.0, 12.801827480081467),
        (100.0, 359.1342053695754),
        (1.0 / 3.0, 0.9854206469277675),
        (1.5, -0.12078223763524543),
        (2.5, 0.2846828704729196),
        (0.1, 2.2527126517342055),
        (1e-5, 11.512919692895824),
        (7.3, 7.147892523022248),
        (171.5, 709.1431630309282),
        (1e4, 82099.71749644238),
        (-0.5, 1.265512123484645),
        (-2.5, -0.05624371649767457),
        (3.0, std::f64::consts::LN_2),
        (1.0001, -5.771334222032243e-05),
    ];
    for (x, expected) in cases {
        let got = ln_gamma(x);
        // Relative accuracy, except near the zeros at 1 and 2 where it is absolute.
        assert!((got - expected).abs() <= 1e-13 * expected.abs().max(1.0), "ln_gamma({x}) = {got} vs {expected}");
    }
    assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-15);
    assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-13 * 12.8);
    assert!(ln_gamma(1.0).abs().max(ln_gamma(2.0).abs()) < 1e-15);
    // Recurrence Γ(x + 1) = xΓ(x) over a range of arguments.
    for i in 1..500 {
        let x = i as f64 * 0.1 - 0.05;
        let diff = ln_gamma(x + 1.0) - ln_gamma(x) - x.ln();
        assert!(diff.abs() <= 1e-13 * ln_gamma(x + 1.0).abs().max(1.0), "x = {x}: {diff}");
    }
    assert_eq!(ln_gamma(0.0), f64::INFINITY);
    assert_eq!(ln_gamma(-3.0), f64::INFINITY);
    assert!(ln_gamma(f64::NAN).is_nan());
}

/// log |det A| by Gaussian elimination with partial pivoting.
fn log_abs_det(mut a: Array2<f64>) -> f64 {
    let n = a.nrows();
    let mut total = 0.0;
    for k in 0..n {
        let p = (k..n).max_by(|&i, &j| a[[i, k]].abs().total_cmp(&a[[j, k]].abs())).unwrap();
        if p != k {
            for c in 0..n {
                a.swap([k, c], [p, c]);
            }
        }
        let pivot = a[[k, k]];
        total += pivot.abs().ln();
        for i in k + 1..n {
            let f = a[[i, k]] / pivot;
            for c in k..n {
                a[[i, c]] -= f * a[[k, c]];
            }
        }
    }
    total
}

#[test]
fn unconstrained_vjp_matches_central_differences_and_stays_finite_near_a_bound() {
    for (k, d) in families().iter().enumerate() {
        let theta = d.sample(5, &mut seeded(11 + k as u64));
        let g = Array2::from_shape_fn(theta.raw_dim(), |(r, c)| 0.3 + 0.7 * r as f64 - 0.5 * c as f64);
        let vjp = d.to_unconstrained_vjp(theta.view(), g.view());
        // gᵀ ∂T/∂θ is the θ-gradient of Σ_c g_c T_c(θ).
        for r in 0..theta.nrows() {
            for c in 0..d.dim() {
                let h = 1e-6 * theta[[r, c]].abs().max(1e-3);
                let row = theta.slice(ndarray::s![r..r + 1, ..]);
                let (mut plus, mut minus) = (row.to_owned(), row.to_owned());
                plus[[0, c]] += h;
                minus[[0, c]] -= h;
                let weighted = |t: &Array2<f64>| (d.to_unconstrained(t.view()) * g.row(r)).sum();
                let numerical = (weighted(&plus) - weighted(&minus)) / (2.0 * h);
                let v = vjp[[r, c]];
                assert!(
                    (v - numerical).abs() <= 1e-5 * numerical.abs().max(1.0),
                    "{} row {r} column {c}: {v} vs {numerical}",
                    d.family()
                );
            }
        }
    }
    // θ = a + (b − a)σ(−30) is 10⁻¹³ inside the bound: u = −30 is recovered and the product is finite.
    let d = Distribution::uniform(vec![-3.0], vec![3.0]).unwrap();
    let (theta, _) = d.from_unconstrained(array![[-30.0]].view());
    assert!((d.to_unconstrained(theta.view())[[0, 0]] + 30.0).abs() < 1e-3);
    let vjp = d.to_unconstrained_vjp(theta.view(), array![[1.0]].view())[[0, 0]];
    assert!(vjp.is_finite() && vjp > 1e12, "{vjp}");
}

#[test]
fn bijection_round_trips_and_log_det_matches_numerical_jacobian() {
    for (k, d) in families().iter().enumerate() {
        let dim = d.dim();
        // θ → u → θ on draws from the prior.
        let theta = d.sample(200, &mut seeded(7 + k as u64));
        let u = d.to_unconstrained(theta.view());
        assert!(u.iter().all(|v| v.is_finite()), "{}", d.family());
        let (back, log_det) = d.from_unconstrained(u.view());
        assert!(log_det.iter().all(|v| v.is_finite()));
        for (a, b) in theta.iter().zip(&back) {
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{}: {a} vs {b}", d.family());
        }
        // u → θ → u on arbitrary points of ℝᴰ; the image lies in the support.
        let u = Distribution::normal(vec![0.0; dim], vec![2.0; dim]).unwrap().sample(50, &mut seeded(3));
        let (theta, log_det) = d.from_unconstrained(u.view());
        d.check_support(theta.view()).unwrap();
        let again = d.to_unconstrained(theta.view());
        for (a, b) in u.iter().zip(&again) {
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{}: {a} vs {b}", d.family());
        }
        // log|det ∂T⁻¹/∂u| against central finite differences, on a few rows.
        let h = 1e-6;
        for r in 0..5 {
            let mut jac = Array2::<f64>::zeros((dim, dim));
            for c in 0..dim {
                let mut plus = u.slice(ndarray::s![r..r + 1, ..]).to_owned();
                let mut minus = plus.clone();
                plus[[0, c]] += h;
                minus[[0, c]] -= h;
                let (tp, _) = d.from_unconstrained(plus.view());
                let (tm, _) = d.from_unconstrained(minus.view());
                for i in 0..dim {
                    jac[[i, c]] = (tp[[0, i]] - tm[[0, i]]) / (2.0 * h);
                }
            }
            let numerical = log_abs_det(jac);
            assert!(
                (numerical - log_det[r]).abs() < 1e-5,
                "{} row {r}: log-det {} vs numerical {numerical}",
                d.family(),
                log_det[r]
            );
        }
    }
}

#[test]
fn bijection_log_det_transforms_the_density() {
    // ∫ p(T⁻¹(u)) |det ∂T⁻¹/∂u| du = 1 for a bounded and a half-bounded family.
    for d in [Distribution::beta(vec![2.0], vec![3.0]).unwrap(), Distribution::gamma(vec![3.0], vec![2.0]).unwrap()] {
        let (a, b, n) = (-30.0, 30.0, 200_000);
        let h = (b - a) / n as f64;
        let u = Array2::from_shape_fn((n, 1), |(i, _)| a + (i as f64 + 0.5) * h);
        let (theta, log_det) = d.from_unconstrained(u.view());
        let total: f64 = (d.log_prob(theta.view()) + log_det).iter().map(|v| v.exp()).sum::<f64>() * h;
        assert!((total - 1.0).abs() < 1e-6, "{}: {total}", d.family());
    }
}

#[test]
fn sampling_is_deterministic_given_the_seed() {
    for d in families() {
        let a = d.sample(64, &mut seeded(11));
        let b = d.sample(64, &mut seeded(11));
        let c = d.sample(64, &mut seeded(12));
        assert_eq!(a, b, "{}", d.family());
        assert_ne!(a, c, "{}", d.family());
    }
}

#[test]
fn multivariate_normal_from_precision_inverts() {
    let d = Distribution::multivariate_normal_from_precision(vec![0.0, 1.0], vec![vec![2.0, -1.0], vec![-1.0, 2.0]])
        .unwrap();
    let Distribution::MultivariateNormal { covariance, .. } = &d else { panic!("wrong variant {d:?}") };
    let expected = [[2.0 / 3.0, 1.0 / 3.0], [1.0 / 3.0, 2.0 / 3.0]];
    for i in 0..2 {
        for j in 0..2 {
            assert!((covariance[i][j] - expected[i][j]).abs() < 1e-15);
        }
    }
    // log p(x) = −½ dᵀPd + ½ ln det P − ln 2π with d = x − μ.
    let (dx, dy) = (0.5, -1.5);
    let expected =
        -0.5 * (2.0 * dx * dx - 2.0 * dx * dy + 2.0 * dy * dy) + 0.5 * 3f64.ln() - (2.0 * std::f64::consts::PI).ln();
    let lp = d.log_prob(array![[0.5, -0.5]].view())[0];
    assert!((lp - expected).abs() < 1e-13, "{lp} vs {expected}");

    // A larger precision (AᵀA + I): Σ·P = I.
    let a = Distribution::normal(vec![0.0; 36], vec![1.0; 36]).unwrap().sample(1, &mut seeded(2));
    let a = a.into_shape_with_order((6, 6)).unwrap();
    let p = a.t().dot(&a) + Array2::<f64>::eye(6);
    let rows: Vec<Vec<f64>> = p.outer_iter().map(|r| r.to_vec()).collect();
    let d = Distribution::multivariate_normal_from_precision(vec![0.0; 6], rows).unwrap();
    let Distribution::MultivariateNormal { covariance, .. } = &d else { panic!("wrong variant") };
    let sigma = Array2::from_shape_fn((6, 6), |(i, j)| covariance[i][j]);
    let identity = sigma.dot(&p);
    for ((i, j), v) in identity.indexed_iter() {
        assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10, "[{i}][{j}] = {v}");
    }
}

/// The example of the module documentation.
const TOML_EXAMPLE: &str = r#"
family = "product"

[[parts]]
family = "uniform"
low = [0.0, -1.0]
high = [1.0, 1.0]

[[parts]]
family = "multivariate_normal"
mean = [0.0, 0.5]
covariance = [[1.0, 0.3], [0.3, 2.0]]

[[parts]]
family = "gamma"
shape = [2.0]
rate = [0.5]
"#;

#[test]
fn serde_round_trips_through_json_and_toml() {
    let prior: Distribution = toml::from_str(TOML_EXAMPLE).expect("the documented TOML example parses");
    prior.validate().unwrap();
    let expected = Distribution::product(vec![
        Distribution::uniform(vec![0.0, -1.0], vec![1.0, 1.0]).unwrap(),
        Distribution::multivariate_normal(vec![0.0, 0.5], vec![vec![1.0, 0.3], vec![0.3, 2.0]]).unwrap(),
        Distribution::gamma(vec![2.0], vec![0.5]).unwrap(),
    ])
    .unwrap();
    assert_eq!(prior, expected);
    assert_eq!(prior.dim(), 5);

    let text = toml::to_string(&prior).unwrap();
    assert_eq!(toml::from_str::<Distribution>(&text).unwrap(), prior, "{text}");

    let everything = families().pop().unwrap();
    let json = serde_json::to_string(&everything).unwrap();
    assert!(json.starts_with(r#"{"family":"product","parts":[{"family":"uniform","low":[-1.0,2.0]"#), "{json}");
    assert_eq!(serde_json::from_str::<Distribution>(&json).unwrap(), everything);

    let unknown = serde_json::from_str::<Distribution>(r#"{"family": "cauchy", "loc": [0.0]}"#);
    assert!(unknown.unwrap_err().to_string().contains("cauchy"));
}
