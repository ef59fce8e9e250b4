//! Tests of the design problems and the contrastive EIG estimators against analytic truth and
//! hand-computed values.

use ndarray::{Array2, Array3, ArrayView1, array, s};

use super::eig::{ContrastiveEig, ContrastiveKind, EigEstimate, EigEstimator, RunningLogSumExp, snmc, spce};
use super::problems::{
    Ces, DesignBox, DesignProblem, HALF_LN_2PI, LinearGaussian, PROBLEM_NAMES, log_normal_cdf, problem,
};
use crate::Error;
use crate::rng::seeded;

fn estimate(
    problem: &dyn DesignProblem,
    kind: ContrastiveKind,
    outer: usize,
    inner: usize,
    designs: &Array2<f64>,
) -> Vec<EigEstimate> {
    ContrastiveEig::new(kind, outer, inner).estimate(problem, designs.view(), 11).unwrap()
}

/// Four designs per linear-Gaussian problem besides ξ = 0: a corner, and three designs of
/// moderate to high signal-to-noise ratio (where a 2% tolerance is a few standard errors).
fn linear_gaussian_designs(dim: usize) -> Array2<f64> {
    let mut designs = Array2::zeros((4, dim));
    designs.row_mut(0).fill(1.0);
    designs[[1, 0]] = 1.0;
    designs[[2, 0]] = -1.0;
    designs[[2, 1]] = 0.6;
    designs[[3, 0]] = 0.8;
    designs[[3, 1]] = -1.0;
    if dim > 2 {
        designs[[3, 2]] = 0.5;
        designs[[3, 3]] = -0.25;
    }
    designs
}

#[test]
fn linear_gaussian_nmc_and_pce_are_within_two_percent_of_analytic_eig() {
    for dim in [2, 10] {
        let problem = LinearGaussian::new(dim).unwrap();
        let designs = linear_gaussian_designs(dim);
        // ξ = 0 carries no information: every term is exactly zero, whatever the sample sizes.
        let zero = Array2::zeros((1, dim));
        for kind in [ContrastiveKind::Nmc, ContrastiveKind::Pce] {
            let e = estimate(&problem, kind, 100, 10, &zero)[0];
            assert!(e.eig.abs() < 1e-12 && e.stderr < 1e-12, "{kind:?} at ξ = 0: {e:?}");
        }
        // NMC bias ≈ s/(2L) for signal-to-noise ratio s ≤ 6.2 (E[w²] = 1 + s): ≤ 0.7% at L = 500.
        let nmc = estimate(&problem, ContrastiveKind::Nmc, 30_000, 500, &designs);
        let pce = estimate(&problem, ContrastiveKind::Pce, 30_000, 500, &designs);
        for (j, design) in designs.outer_iter().enumerate() {
            let truth = problem.analytic_eig(design).unwrap();
            for (name, e) in [("NMC", nmc[j]), ("PCE", pce[j])] {
                assert!(
                    (e.eig - truth).abs() <= 0.02 * truth + 1e-12,
                    "p{dim} design {j}: {name} {:.4} ± {:.4} vs analytic {truth:.4}",
                    e.eig,
                    e.stderr
                );
            }
        }
        // The corner is the optimum among these designs.
        let corner = problem.analytic_eig(designs.row(0)).unwrap();
        assert!(designs.outer_iter().all(|d| problem.analytic_eig(d).unwrap() <= corner));
    }
}

#[test]
fn linear_gaussian_analytic_eig_matches_formula() {
    let problem = LinearGaussian::new(10).unwrap();
    let corner = ndarray::Array1::<f64>::ones(10);
    let sum: f64 = (1..=10).map(|i| 1.0 / (i * i) as f64).sum();
    assert!((problem.analytic_eig(corner.view()).unwrap() - 0.5 * (1.0 + 4.0 * sum).ln()).abs() < 1e-14);
    assert_eq!(problem.analytic_eig(ArrayView1::from(&[0.0; 10])), Some(0.0));
    assert_eq!(problem.analytic_eig(ArrayView1::from(&[1.0; 3])), None);
}

#[test]
fn pce_and_snmc_bracket_the_truth() {
    // Few contrasts, so that both bounds are loose and the ordering is informative.
    let problem = LinearGaussian::new(10).unwrap();
    let designs = linear_gaussian_designs(10);
    let pce = estimate(&problem, ContrastiveKind::Pce, 20_000, 20, &designs);
    let upper = estimate(&problem, ContrastiveKind::Snmc, 20_000, 20, &designs);
    for (j, design) in designs.outer_iter().enumerate() {
        let truth = problem.analytic_eig(design).unwrap();
        let (lo, hi) = (pce[j], upper[j]);
        assert!(lo.eig <= truth + 3.0 * lo.stderr, "design {j}: PCE {lo:?} above truth {truth}");
        assert!(truth + 3.0 * lo.stderr <= hi.eig + 6.0 * hi.stderr, "design {j}: sNMC {hi:?} below truth {truth}");
        // With L = 20 the bounds are visibly apart.
        assert!(hi.eig - lo.eig > 0.02, "design {j}: PCE {lo:?} and sNMC {hi:?} are not separated");
    }
}

#[test]
fn pce_never_exceeds_log_of_contrasts_plus_one() {
    // nonlinear-1d at ξ = 1 has an EIG of several nats: with few contrasts the bound binds.
    let nonlinear = problem("nonlinear-1d").unwrap();
    for inner in [1, 3, 10] {
        let e = estimate(nonlinear.as_ref(), ContrastiveKind::Pce, 2_000, inner, &array![[1.0]])[0];
        let cap = (inner as f64 + 1.0).ln();
        assert!(e.eig <= cap + 1e-12, "L = {inner}: PCE {} above log(L+1) = {cap}", e.eig);
        assert!(e.eig >= 0.8 * cap, "L = {inner}: PCE {} far below log(L+1) = {cap}, the bound should bind", e.eig);
    }
    for name in PROBLEM_NAMES {
        let p = problem(name).unwrap();
        let b = p.design_box();
        let design = Array2::from_shape_fn((1, b.dim()), |(_, j)| b.low[j] + 0.7 * (b.high[j] - b.low[j]));
        let e = estimate(p.as_ref(), ContrastiveKind::Pce, 200, 2, &design)[0];
        assert!(e.eig <= 3f64.ln() + 1e-12, "{name}: PCE {} above log 3", e.eig);
    }
}

#[test]
fn streaming_in_chunks_matches_one_chunk() {
    let p = problem("source-finding-2d").unwrap();
    let designs = array![[0.0, 0.0], [1.5, -0.5]];
    for kind in [ContrastiveKind::Nmc, ContrastiveKind::Pce, ContrastiveKind::Snmc] {
        let whole = ContrastiveEig { kind, outer: 64, inner: 1_000, chunk: 1_000 };
        let streamed = ContrastiveEig { chunk: 7, ..whole };
        let a = whole.estimate(p.as_ref(), designs.view(), 5).unwrap();
        let b = streamed.estimate(p.as_ref(), designs.view(), 5).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x.eig - y.eig).abs() < 1e-10 && (x.stderr - y.stderr).abs() < 1e-10, "{kind:?}: {x:?} vs {y:?}");
        }
        assert!(a[0].eig != a[1].eig);
    }
    let (theta0, designs, y) = static_trajectories(p.as_ref(), &array![[0.0, 0.0], [1.0, 1.0], [-2.0, 0.5]], 50, 3);
    let whole = spce(p.as_ref(), theta0.view(), designs.view(), y.view(), 500, 500, 9).unwrap();
    let streamed = spce(p.as_ref(), theta0.view(), designs.view(), y.view(), 500, 13, 9).unwrap();
    assert!((whole.mean - streamed.mean).abs() < 1e-10);
    assert_eq!(whole.per_trajectory.len(), 50);
}

/// N trajectories of the fixed designs `steps [T, Dξ]`: θ₀ from the prior and yₜ ~ p(y | θ₀, ξₜ).
fn static_trajectories(
    problem: &dyn DesignProblem,
    steps: &Array2<f64>,
    n: usize,
    seed: u64,
) -> (Array2<f64>, Array3<f64>, Array3<f64>) {
    let mut rng = seeded(seed);
    let theta0 = problem.sample_prior(n, &mut rng);
    let t = steps.nrows();
    let mut designs = Array3::zeros((n, t, steps.ncols()));
    let mut y = Array3::zeros((n, t, problem.observation_dim()));
    for k in 0..t {
        designs.slice_mut(s![.., k, ..]).assign(&steps.row(k));
        let yk = problem.simulate(theta0.view(), steps.slice(s![k..k + 1, ..]), &mut rng).unwrap();
        y.slice_mut(s![.., k, ..]).assign(&yk);
    }
    (theta0, designs, y)
}

#[test]
fn spce_and_snmc_of_static_trajectories_match_analytic_eig() {
    // Two measurements of linear-gaussian-p2: EIG = ½·log det(I + A Σ₀ Aᵀ / σ²), A = [ξ₁ᵀ; ξ₂ᵀ].
    let p = LinearGaussian::new(2).unwrap();
    let steps = array![[1.0, 1.0], [1.0, -1.0]];
    let prior_var = [1.0, 0.25];
    let m = Array2::from_shape_fn((2, 2), |(a, b)| {
        let k: f64 = (0..2).map(|i| steps[[a, i]] * prior_var[i] * steps[[b, i]]).sum::<f64>() / 0.25;
        k + if a == b { 1.0 } else { 0.0 }
    });
    let truth = 0.5 * (m[[0, 0]] * m[[1, 1]] - m[[0, 1]] * m[[1, 0]]).ln();
    let (theta0, designs, y) = static_trajectories(&p, &steps, 10_000, 4);
    let lower = spce(&p, theta0.view(), designs.view(), y.view(), 1_000, 512, 8).unwrap();
    let upper = snmc(&p, theta0.view(), designs.view(), y.view(), 1_000, 512, 8).unwrap();
    assert!(lower.mean <= truth + 3.0 * lower.stderr, "sPCE {lower:?} above {truth}");
    assert!(upper.mean + 3.0 * upper.stderr >= truth, "sNMC {:?} below {truth}", upper.mean);
    assert!((lower.mean - truth).abs() < 0.03 * truth, "sPCE {} vs {truth}", lower.mean);
    assert!((upper.mean - truth).abs() < 0.03 * truth, "sNMC {} vs {truth}", upper.mean);
    assert!(lower.per_trajectory.iter().all(|&v| v <= (1_001f64).ln() + 1e-12));
    assert!(lower.median.is_finite() && lower.stderr > 0.0);
}

#[test]
fn log_likelihoods_match_direct_formulas() {
    let check = |name: &str, y: f64, theta: &[f64], design: &[f64], expected: f64| {
        let p = problem(name).unwrap();
        let ll = p
            .log_likelihood(
                Array2::from_elem((1, 1), y).view(),
                Array2::from_shape_vec((1, theta.len()), theta.to_vec()).unwrap().view(),
                Array2::from_shape_vec((1, design.len()), design.to_vec()).unwrap().view(),
            )
            .unwrap()[0];
        assert!((ll - expected).abs() < 1e-9 * expected.abs().max(1.0), "{name}: {ll} vs {expected}");
    };
    let gauss = |y: f64, mean: f64, sd: f64| -0.5 * ((y - mean) / sd).powi(2) - sd.ln() - HALF_LN_2PI;
    // y = 0.1, ξᵀθ = 0.5·0.3 − 1·0.2 = −0.05, σ = 0.5: −½·0.3² + log 2 − ½ log 2π.
    check("linear-gaussian-p2", 0.1, &[0.3, -0.2], &[0.5, 1.0], -0.045 + 2f64.ln() - HALF_LN_2PI);
    // Sources (1, 0) and (0, 2) seen from the origin: squared distances 1 and 4.
    let signal = (0.1 + 1.0 / 1.0001 + 1.0 / 4.0001f64).ln();
    check("source-finding-2d", 0.5, &[1.0, 0.0, 0.0, 2.0], &[0.0, 0.0], gauss(0.5, signal, 0.5));
    // Prior medians k_a = 1, k_e = 0.1, V = 20 at t = 2 h.
    let c = 400.0 / 20.0 * 1.0 / 0.9 * ((-0.2f64).exp() - (-2.0f64).exp());
    assert!((c - 15.186566).abs() < 1e-5);
    let sd = ((0.1 * c).powi(2) + 0.1).sqrt();
    check("pharmacokinetic", 15.0, &[0.0, 0.1f64.ln(), 20f64.ln()], &[2.0], gauss(15.0, c, sd));
    // G(0.5, 1) = 0.125 + 0.5·e^{−0.8}.
    let g = 0.125 + 0.5 * (-0.8f64).exp();
    check("nonlinear-1d", 0.35, &[0.5], &[1.0], gauss(0.35, g, 0.01));
    // CES, ρ = ½, α = (0.2, 0.3, 0.5), u = 1, x₁ = (1, 4, 9), x₂ = (4, 1, 1):
    // U(x₁) = (0.2 + 0.6 + 1.5)² = 5.29, U(x₂) = (0.4 + 0.3 + 0.5)² = 1.44, ‖x₁ − x₂‖ = √82.
    let (mean, sd) = (5.29 - 1.44, 0.005 * (1.0 + 82f64.sqrt()));
    let y = 0.98f64;
    let interior = gauss((y / (1.0 - y)).ln(), mean, sd) - y.ln() - (1.0 - y).ln();
    check("ces", y, &[0.5, 0.2, 0.3, 0.0], &[1.0, 4.0, 9.0, 4.0, 1.0, 1.0], interior);
    // Swapped baskets with α₁ = α₂ give μ = 0; choose ‖x₁ − x₂‖ so that s = −logit ε: each
    // censored end then has probability Φ(−1), and y = ½ has density N(0; 0, s²)/¼.
    let eps = 2f64.powi(-22);
    let s_target = -(eps / (1.0 - eps)).ln();
    let log_u = 5.0f64;
    let gap = (s_target / (0.005 * log_u.exp()) - 1.0) / 2f64.sqrt();
    let design = [10.0, 10.0 + gap, 30.0, 10.0 + gap, 10.0, 30.0];
    let theta = [0.3, 0.25, 0.25, log_u];
    let log_phi_minus_one = 0.158_655_253_931_457_05f64.ln();
    check("ces", eps, &theta, &design, log_phi_minus_one);
    check("ces", 1.0 - eps, &theta, &design, log_phi_minus_one);
    check("ces", 0.5, &theta, &design, gauss(0.0, 0.0, s_target) - 0.25f64.ln());
    assert_eq!(Ces::censored_log_density(1.5, 0.0, 1.0), f64::NEG_INFINITY);
}

#[test]
fn ces_censored_density_integrates_to_one() {
    // Interior density (midpoint rule on the logit scale) plus the two point masses.
    let (mean, sd) = (3.0, 8.0);
    let eps = 2f64.powi(-22);
    let (a, b) = ((eps / (1.0 - eps)).ln(), ((1.0 - eps) / eps).ln());
    let steps = 200_000;
    let h = (b - a) / steps as f64;
    let interior: f64 = (0..steps)
        .map(|k| {
            let z = a + (k as f64 + 0.5) * h;
            let y = 1.0 / (1.0 + (-z).exp());
            Ces::censored_log_density(y, mean, sd).exp() * y * (1.0 - y) * h
        })
        .sum();
    let atoms = Ces::censored_log_density(eps, mean, sd).exp() + Ces::censored_log_density(1.0 - eps, mean, sd).exp();
    assert!((interior + atoms - 1.0).abs() < 1e-6, "total mass {}", interior + atoms);
    assert!(atoms > 1e-3, "both atoms should carry visible mass here, got {atoms}");
}

#[test]
fn log_normal_cdf_is_accurate_in_both_tails() {
    for (x, phi) in
        [(-1.0, 0.158_655_253_931_457_05), (-5.0, 2.866_515_718_791_939e-7), (-10.0, 7.619_853_024_160_527e-24)]
    {
        assert!((log_normal_cdf(x) - f64::ln(phi)).abs() < 1e-12, "x = {x}");
    }
    // The asymptotic series below −30 agrees with erfc where erfc still has full precision.
    for x in [-30.5f64, -33.0, -36.0] {
        let direct = (0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)).ln();
        assert!((log_normal_cdf(x) - direct).abs() < 1e-10 * direct.abs(), "x = {x}");
    }
    assert!(log_normal_cdf(-1e4).is_finite() && log_normal_cdf(-1e4) < -4.9e7);
    // Upper tail: log Φ(6) = log(1 − Q) = −Q − Q²/2 − … with Q = 1 − Φ(6) = 9.8658764503769e-10.
    let q = 9.865_876_450_376_98e-10;
    assert!((log_normal_cdf(6.0) + q + 0.5 * q * q).abs() < 1e-21);
    assert_eq!(log_normal_cdf(50.0), 0.0);
}

#[test]
fn simulations_have_the_right_shapes_and_are_seeded() {
    for name in PROBLEM_NAMES {
        let p = problem(name).unwrap();
        assert_eq!(p.name(), *name);
        let b = p.design_box();
        assert_eq!(b.dim(), p.design_dim());
        let design = Array2::from_shape_fn((1, b.dim()), |(_, j)| b.low[j] + 0.3 * (b.high[j] - b.low[j]));
        let theta = p.sample_prior(6, &mut seeded(1));
        assert_eq!(theta.dim(), (6, p.parameter_dim()));
        assert_eq!(p.sample_prior(3, &mut seeded(1)), theta.slice(s![..3, ..]), "{name}: prior draws are sequential");
        let y1 = p.simulate(theta.view(), design.view(), &mut seeded(2)).unwrap();
        let y2 = p.simulate(theta.view(), design.view(), &mut seeded(2)).unwrap();
        let y3 = p.simulate(theta.view(), design.view(), &mut seeded(3)).unwrap();
        assert_eq!(y1.dim(), (6, p.observation_dim()));
        assert_eq!(y1, y2, "{name}: same seed, same simulation");
        assert_ne!(y1, y3, "{name}: another seed, another simulation");
        let ll = p.log_likelihood(y1.view(), theta.view(), design.view()).unwrap();
        assert!(ll.iter().all(|v| v.is_finite()), "{name}: {ll}");
        // One observation broadcast against many parameter rows equals the repeated batch.
        let single = p.log_likelihood(y1.slice(s![0..1, ..]), theta.view(), design.view()).unwrap();
        let repeated = Array2::from_shape_fn((6, p.observation_dim()), |(_, k)| y1[[0, k]]);
        let full = p.log_likelihood(repeated.view(), theta.view(), design.view()).unwrap();
        assert_eq!(single, full, "{name}: broadcasting");
        if let Some(protocol) = p.protocol() {
            let first = Array2::from_shape_vec((1, b.dim()), protocol.first_design).unwrap();
            b.check(first.view()).unwrap();
            assert!(protocol.steps >= 5);
        }
    }
    let ces = problem("ces").unwrap();
    let theta = ces.sample_prior(2_000, &mut seeded(4));
    let y = ces.simulate(theta.view(), array![[1.0, 50.0, 3.0, 40.0, 2.0, 60.0]].view(), &mut seeded(5)).unwrap();
    let eps = 2f64.powi(-22);
    assert!(y.iter().all(|&v| (eps..=1.0 - eps).contains(&v)));
    assert!(y.iter().any(|&v| v == eps || v == 1.0 - eps), "CES should produce censored observations");
    assert!(
        theta
            .outer_iter()
            .all(|t| t[1] > 0.0 && t[2] > 0.0 && t[1] + t[2] < 1.0 && (1e-3..=1.0 - 1e-3).contains(&t[0]))
    );
}

#[test]
fn bad_names_designs_and_shapes_are_reported() {
    let err = problem("source-finding-4d").err().unwrap().to_string();
    assert!(err.contains("source-finding-4d") && PROBLEM_NAMES.iter().all(|n| err.contains(n)), "{err}");

    let b = DesignBox::uniform(2, -1.0, 1.0);
    let designs = array![[0.0, 0.5], [1.5, 0.0], [0.0, f64::NAN]];
    match b.check(designs.view()) {
        Err(Error::InvalidInput(m)) => assert!(m.contains("row 1") && m.contains("coordinate 0"), "{m}"),
        other => panic!("expected an out-of-box error, got {other:?}"),
    }
    match b.check(designs.slice(s![2..3, ..])) {
        Err(Error::InvalidInput(m)) => assert!(m.contains("row 0") && m.contains("coordinate 1"), "{m}"),
        other => panic!("expected a NaN error, got {other:?}"),
    }
    assert_eq!(b.project(array![[-3.0, 0.2], [0.9, 7.0]].view()).unwrap(), array![[-1.0, 0.2], [0.9, 1.0]]);
    assert!(matches!(b.project(designs.view()), Err(Error::InvalidInput(m)) if m.contains("row 2")));
    assert!(matches!(b.check(array![[0.0, 0.0, 0.0]].view()), Err(Error::Shape { .. })));

    let p = problem("linear-gaussian-p2").unwrap();
    let theta = p.sample_prior(3, &mut seeded(0));
    assert!(
        matches!(p.simulate(theta.view(), array![[0.0, 1.01]].view(), &mut seeded(0)), Err(Error::InvalidInput(m)) if m.contains("coordinate 1"))
    );
    assert!(matches!(
        p.simulate(theta.view(), array![[0.0, 0.0], [0.0, 0.0]].view(), &mut seeded(0)),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        p.log_likelihood(array![[0.0, 1.0]].view(), theta.view(), array![[0.0, 0.0]].view()),
        Err(Error::Shape { .. })
    ));
    let pce = ContrastiveEig::new(ContrastiveKind::Pce, 10, 10);
    assert!(
        matches!(pce.estimate(p.as_ref(), array![[0.0, 0.0], [0.0, -2.0]].view(), 0), Err(Error::InvalidInput(m)) if m.contains("row 1"))
    );
    assert!(ContrastiveEig { chunk: 0, ..pce }.estimate(p.as_ref(), array![[0.0, 0.0]].view(), 0).is_err());
    assert!(ContrastiveEig { outer: 1, ..pce }.estimate(p.as_ref(), array![[0.0, 0.0]].view(), 0).is_err());
    let (theta0, designs, y) = static_trajectories(p.as_ref(), &array![[0.0, 0.0]], 4, 0);
    assert!(matches!(
        spce(p.as_ref(), theta0.slice(s![..3, ..]), designs.view(), y.view(), 10, 10, 0),
        Err(Error::Shape { .. })
    ));
    let mut outside = designs.clone();
    outside[[2, 0, 1]] = 3.0;
    assert!(matches!(
        spce(p.as_ref(), theta0.view(), outside.view(), y.view(), 10, 10, 0),
        Err(Error::InvalidInput(m)) if m.contains("step 0") && m.contains("row 2") && m.contains("coordinate 1")
    ));
}

#[test]
fn running_logsumexp_matches_direct_sum() {
    let values = [-1000.0, 3.0, f64::NEG_INFINITY, 2.5, 700.0, -2.0, 699.0];
    let max = 700.0;
    let direct = max + values.iter().map(|v| f64::exp(v - max)).sum::<f64>().ln();
    let mut lse = RunningLogSumExp::new();
    assert_eq!(lse.value(), f64::NEG_INFINITY);
    for part in values.chunks(2) {
        lse.extend(part);
    }
    assert!((lse.value() - direct).abs() < 1e-12);
    lse.extend(&[f64::NAN]);
    lse.extend(&[1.0]);
    assert!(lse.value().is_nan());
}

/// Timing of the evaluation-scale estimator; run with `--ignored --nocapture`.
#[test]
#[ignore]
fn timing_pce_source_finding_2d() {
    let p = problem("source-finding-2d").unwrap();
    let start = std::time::Instant::now();
    let e = ContrastiveEig::new(ContrastiveKind::Pce, 1_000, 100_000)
        .estimate(p.as_ref(), array![[0.5, -0.5]].view(), 1)
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "PCE N=1000 L=1e5 source-finding-2d: {:.4} ± {:.4} in {seconds:.2} s ({:.1} M likelihoods/s, {} threads)",
        e[0].eig,
        e[0].stderr,
        1e8 / seconds / 1e6,
        rayon::current_num_threads()
    );
}

#[test]
fn prior_log_densities_match_direct_formulas_and_cover_prior_draws() {
    let at = |name: &str, theta: Array2<f64>| problem(name).unwrap().log_prior(theta.view()).unwrap();
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-10, "{a} vs {b}");
    // N(0, 1) and N(0, 1/4) at 0.
    close(at("linear-gaussian-p2", array![[0.0, 0.0]])[0], -2.0 * HALF_LN_2PI + 2f64.ln());
    close(at("linear-gaussian-p2", array![[1.0, 0.5]])[0], -2.0 * HALF_LN_2PI + 2f64.ln() - 0.5 - 0.5);
    close(at("source-finding-2d", Array2::zeros((1, 4)))[0], -4.0 * HALF_LN_2PI);
    let medians = array![[0.0, 0.1f64.ln(), 20f64.ln()]];
    close(at("pharmacokinetic", medians)[0], -1.5 * (2.0 * std::f64::consts::PI * 0.05).ln());
    let nonlinear = at("nonlinear-1d", array![[0.5], [1.5]]);
    assert!(nonlinear[0] == 0.0 && nonlinear[1] == f64::NEG_INFINITY);
    // Beta(1, 1)·Dirichlet(1, 1, 1)·N(1, 3²) at log u = 1; outside the simplex −∞.
    let ces = at("ces", array![[0.5, 0.2, 0.3, 1.0], [0.5, 0.7, 0.5, 1.0]]);
    close(ces[0], 2f64.ln() - 3f64.ln() - HALF_LN_2PI);
    assert_eq!(ces[1], f64::NEG_INFINITY);
    for name in PROBLEM_NAMES {
        let target = problem(name).unwrap();
        let theta = target.sample_prior(500, &mut seeded(2));
        let values = target.log_prior(theta.view()).unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{name}: a prior draw has log-density outside the support");
        let wrong = Array2::zeros((2, target.parameter_dim() + 1));
        assert!(matches!(target.log_prior(wrong.view()), Err(Error::Shape { .. })), "{name}");
    }
}
