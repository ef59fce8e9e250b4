//! Tests of the sbibm tasks on fixed parameters (the true parameters of the vendored
//! observations and hand-picked values).

use std::f64::consts::FRAC_1_SQRT_2;

use ndarray::{Array1, Array2, ArrayView2, Axis};

use super::*;

/// (θ dimension, x dimension) of each task in [`NAMES`] order, from the sbibm paper.
const DIMS: [(usize, usize); 10] =
    [(10, 10), (10, 10), (5, 8), (5, 100), (10, 10), (10, 100), (2, 2), (2, 2), (2, 10), (4, 20)];

/// `n` copies of `row`.
fn repeat(row: &[f64], n: usize) -> Array2<f64> {
    Array2::from_shape_fn((n, row.len()), |(_, j)| row[j])
}

/// The vendored observation `observation` of `name`, without loading the reference samples.
fn observed(name: &str, observation: usize) -> Array1<f64> {
    single_row(&reference_paths(name, observation)[0], task(name).unwrap().simulator.data_dim()).unwrap()
}

/// The true parameters of observation `observation` of `name`.
fn true_parameters(name: &str, observation: usize) -> Array1<f64> {
    single_row(&reference_paths(name, observation)[1], task(name).unwrap().parameter_names.len()).unwrap()
}

fn same_values(a: ArrayView2<f64>, b: ArrayView2<f64>) -> bool {
    a.shape() == b.shape() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn every_name_builds_a_task_with_sbibm_dimensions_and_unknown_names_are_refused() {
    for (name, (parameter_dim, data_dim)) in NAMES.iter().zip(DIMS) {
        let task = task(name).unwrap();
        assert_eq!(task.name, *name);
        assert_eq!(task.simulator.parameter_dim(), parameter_dim, "{name}");
        assert_eq!(task.simulator.data_dim(), data_dim, "{name}");
        assert_eq!(task.parameter_names.len(), parameter_dim, "{name}");
        assert_eq!(task.data_names.len(), data_dim, "{name}");
        assert_eq!(task.data_names[data_dim - 1], format!("data_{data_dim}"));
    }
    assert_eq!(task("sir").unwrap().parameter_names, ["beta", "gamma"]);
    assert_eq!(task("lotka_volterra").unwrap().parameter_names, ["alpha", "beta", "gamma", "delta"]);
    assert_eq!(task("slcp").unwrap().parameter_names[4], "theta_5");
    let error = task("two_moon").unwrap_err();
    assert!(matches!(error, Error::InvalidInput(_)), "{error}");
    let message = error.to_string();
    assert!(message.contains("'two_moon'") && NAMES.iter().all(|n| message.contains(n)), "{message}");
}

#[test]
fn every_task_simulates_its_true_parameters_reproducibly_and_seed_dependently() {
    for (name, (parameter_dim, data_dim)) in NAMES.iter().zip(DIMS) {
        let task = task(name).unwrap();
        let theta = repeat(true_parameters(name, 1).as_slice().unwrap(), 6);
        let x = task.simulator.simulate(theta.view(), 11).unwrap();
        assert_eq!(x.dim(), (6, data_dim), "{name}");
        assert!(x.iter().all(|v| v.is_finite()), "{name}: {x}");
        assert!(same_values(x.view(), task.simulator.simulate(theta.view(), 11).unwrap().view()), "{name}");
        assert!(!same_values(x.view(), task.simulator.simulate(theta.view(), 12).unwrap().view()), "{name}");
        // Rows have their own streams: equal θ, different x.
        assert!(x.row(0) != x.row(1), "{name}");
        // A θ with the wrong number of columns is a shape error.
        let wrong = Array2::<f64>::zeros((2, parameter_dim + 1));
        assert!(matches!(task.simulator.simulate(wrong.view(), 1), Err(Error::Shape { .. })), "{name}");
    }
}

#[test]
fn gaussian_linear_has_mean_theta_and_variance_one_tenth() {
    for name in ["gaussian_linear", "gaussian_linear_uniform"] {
        let theta_row: Vec<f64> = (0..10).map(|i| 0.9 - 0.2 * i as f64).collect();
        let n = 20_000;
        let x = task(name).unwrap().simulator.simulate(repeat(&theta_row, n).view(), 3).unwrap();
        let mean = x.mean_axis(Axis(0)).unwrap();
        let variance = x.var_axis(Axis(0), 1.0);
        for j in 0..10 {
            assert!((mean[j] - theta_row[j]).abs() < 4.0 * (0.1 / n as f64).sqrt(), "{name} mean {j}: {}", mean[j]);
            assert!((variance[j] - 0.1).abs() < 0.006, "{name} variance {j}: {}", variance[j]);
        }
    }
}

#[test]
fn gaussian_mixture_draws_the_component_per_row() {
    let n = 20_000;
    let theta_row = [3.0, -7.5];
    let x = task("gaussian_mixture").unwrap().simulator.simulate(repeat(&theta_row, n).view(), 4).unwrap();
    let variance = x.var_axis(Axis(0), 1.0);
    // Mixture variance 0.5·1 + 0.5·0.01 = 0.505 (a shared component would give 1 or 0.01).
    for v in variance {
        assert!((v - 0.505).abs() < 0.03, "variance {v}");
    }
    // About half the rows come from the narrow component: |x − θ| < 0.4 in both coordinates.
    let narrow = x.rows().into_iter().filter(|r| (r[0] - 3.0).abs() < 0.4 && (r[1] + 7.5).abs() < 0.4).count();
    let narrow_wide = 0.5 + 0.5 * 0.3108_f64.powi(2); // P(|z| < 0.4)² = 0.3108² for the wide component
    assert!((narrow as f64 / n as f64 - narrow_wide).abs() < 0.02, "{narrow}");
}

#[test]
fn two_moons_lies_on_a_half_circle_of_radius_one_tenth_around_the_mapped_parameters() {
    let n = 10_000;
    let theta_row = [0.3, -0.7];
    let x = task("two_moons").unwrap().simulator.simulate(repeat(&theta_row, n).view(), 5).unwrap();
    let centre =
        [0.25 - ((theta_row[0] + theta_row[1]) * FRAC_1_SQRT_2).abs(), (theta_row[1] - theta_row[0]) * FRAC_1_SQRT_2];
    let radii: Array1<f64> = x.rows().into_iter().map(|r| (r[0] - centre[0]).hypot(r[1] - centre[1])).collect();
    assert!((radii.mean().unwrap() - 0.1).abs() < 0.001);
    assert!((radii.std(1.0) - 0.01).abs() < 0.001);
    // The angle is in (−π/2, π/2): the points lie right of the centre, spread over both halves.
    assert!(x.column(0).iter().all(|&v| v > centre[0]));
    let above = x.column(1).iter().filter(|&&v| v > centre[1]).count();
    assert!((above as f64 / n as f64 - 0.5).abs() < 0.03);
}

#[test]
fn slcp_draws_four_gaussians_with_the_parameterised_mean_and_covariance() {
    let n = 10_000;
    let theta_row = [0.5, -1.0, 1.2, -0.8, 0.7];
    let x = task("slcp").unwrap().simulator.simulate(repeat(&theta_row, n).view(), 6).unwrap();
    let (s1, s2, rho) = (1.2f64.powi(2), 0.8f64.powi(2), 0.7f64.tanh());
    for draw in 0..4 {
        let a = x.column(2 * draw);
        let b = x.column(2 * draw + 1);
        let (ma, mb) = (a.mean().unwrap(), b.mean().unwrap());
        assert!((ma - 0.5).abs() < 4.0 * s1 / (n as f64).sqrt() && (mb + 1.0).abs() < 4.0 * s2 / (n as f64).sqrt());
        assert!((a.std(1.0) / s1 - 1.0).abs() < 0.03 && (b.std(1.0) / s2 - 1.0).abs() < 0.03);
        let correlation =
            a.iter().zip(b).map(|(u, v)| (u - ma) * (v - mb)).sum::<f64>() / (n as f64 * a.std(0.0) * b.std(0.0));
        assert!((correlation - rho).abs() < 0.02, "draw {draw}: {correlation} vs {rho}");
    }
}

#[test]
fn slcp_distractors_hide_the_slcp_values_among_theta_independent_noise() {
    let slcp = task("slcp").unwrap();
    let distractors = task("slcp_distractors").unwrap();
    let theta = ndarray::array![[0.5, -1.0, 1.2, -0.8, 0.7], [-2.0, 2.5, 0.3, 2.9, -1.5]];
    let inner = slcp.simulator.simulate(theta.view(), 8).unwrap();
    let outer = distractors.simulator.simulate(theta.view(), 8).unwrap();
    // The observation of sbibm gives the positions of the 8 slcp values.
    let observed_distractors = observed("slcp_distractors", 1);
    let observed_slcp = observed("slcp", 1);
    let positions: Vec<usize> = observed_slcp
        .iter()
        .map(|v| observed_distractors.iter().position(|w| w == v).expect("slcp value in the distractor observation"))
        .collect();
    for row in 0..2 {
        for (k, &position) in positions.iter().enumerate() {
            assert_eq!(outer[[row, position]], inner[[row, k]]);
        }
    }
    // Same stream, different θ: the 92 distractor values are identical (they do not depend on θ).
    let same_stream = distractors.simulator.simulate(ndarray::array![[-2.0, 2.5, 0.3, 2.9, -1.5]].view(), 8).unwrap();
    let noise: Vec<usize> = (0..100).filter(|i| !positions.contains(i)).collect();
    assert_eq!(noise.len(), 92);
    for &i in &noise {
        assert_eq!(same_stream[[0, i]], outer[[0, i]]);
    }
    // The distractors are heavy-tailed and spread out (component locations have scale 15).
    let many = distractors.simulator.simulate(repeat(&[0.0; 5], 2000).view(), 9).unwrap();
    let spread: f64 = noise.iter().map(|&i| many.column(i).std(1.0)).sum::<f64>() / 92.0;
    assert!(spread > 10.0, "{spread}");
}

#[test]
fn sir_and_lotka_volterra_reproduce_the_scale_of_observation_one() {
    // SIR: x ~ Binomial(1000, I/N); the mean of many draws at the true θ is within binomial noise
    // of sbibm's observation (made by its own ODE solver).
    let n = 400;
    let x = task("sir")
        .unwrap()
        .simulator
        .simulate(repeat(true_parameters("sir", 1).as_slice().unwrap(), n).view(), 1)
        .unwrap();
    let mean = x.mean_axis(Axis(0)).unwrap();
    for (k, (&m, &o)) in mean.iter().zip(&observed("sir", 1)).enumerate() {
        let std = (m * (1.0 - m / 1000.0)).sqrt();
        assert!((m - o).abs() <= 4.0 * std + 1.0, "sir point {k}: mean {m}, observed {o}");
    }
    assert!(mean.iter().cloned().fold(0.0, f64::max) > 100.0, "the epidemic must take off: {mean}");
    // Lotka–Volterra: log x ~ N(log u, 0.1²), so log x_o is within 5·0.1 of the mean log x.
    let theta = repeat(true_parameters("lotka_volterra", 1).as_slice().unwrap(), n);
    let x = task("lotka_volterra").unwrap().simulator.simulate(theta.view(), 2).unwrap();
    let mean_log = x.mapv(f64::ln).mean_axis(Axis(0)).unwrap();
    for (k, (&m, &o)) in mean_log.iter().zip(&observed("lotka_volterra", 1)).enumerate() {
        assert!((m - o.ln()).abs() < 0.5, "lotka_volterra value {k}: mean log {m}, observed log {}", o.ln());
    }
    // The first values are the initial populations (30, 1) with 10 % noise.
    assert!((mean_log[0] - 30f64.ln()).abs() < 0.02 && mean_log[10].abs() < 0.02, "{mean_log}");
}

#[test]
fn ode_tasks_give_nan_rows_for_failed_solves_and_clamp_lotka_volterra() {
    let sir = task("sir").unwrap();
    let x = sir.simulator.simulate(ndarray::array![[f64::NAN, 0.1], [0.5, 0.1]].view(), 1).unwrap();
    assert!(x.row(0).iter().all(|v| v.is_nan()) && x.row(1).iter().all(|v| v.is_finite()));
    let lotka_volterra = task("lotka_volterra").unwrap();
    // Predators die out (γ = 5, δ ≈ 0) and prey grow like 30·e^t: both leave [10⁻¹⁰, 10⁴].
    // Row 2 has a non-finite rate; row 3 oscillates so fast that the solver runs out of steps.
    let theta = ndarray::array![[1.0, 0.01, 5.0, 1e-9], [0.5, 0.1, f64::INFINITY, 0.1], [1e4, 1.0, 1e4, 1.0]];
    let x = lotka_volterra.simulator.simulate(theta.view(), 3).unwrap();
    let (prey, predators) = (x[[0, 9]], x[[0, 19]]);
    assert!((prey.ln() - 1e4f64.ln()).abs() < 0.6, "prey {prey}");
    assert!((predators.ln() - 1e-10f64.ln()).abs() < 0.6, "predators {predators}");
    assert!(x.row(1).iter().all(|v| v.is_nan()) && x.row(2).iter().all(|v| v.is_nan()));
}

#[test]
fn references_load_for_every_task_and_observation() {
    for (name, (parameter_dim, data_dim)) in NAMES.iter().zip(DIMS) {
        assert!(has_reference(name), "{name}");
        let reference = reference(name, 1).unwrap();
        assert_eq!(reference.observation.len(), data_dim, "{name}");
        assert_eq!(reference.true_parameters.len(), parameter_dim, "{name}");
        assert_eq!(reference.posterior_samples.dim(), (10_000, parameter_dim), "{name}");
        assert!(reference.posterior_samples.iter().all(|v| v.is_finite()));
        assert_eq!(reference.parameter_names, task(name).unwrap().parameter_names);
        // Observations 2..5: the task's dimensions (single_row checks them), samples present.
        for observation in 2..=5 {
            assert_eq!(observed(name, observation).len(), data_dim);
            assert_eq!(true_parameters(name, observation).len(), parameter_dim);
            assert!(reference_paths(name, observation)[2].is_file(), "{name} obs {observation}");
        }
    }
    assert!(!has_reference("nonexistent"));
    let missing = reference("two_moons", 99).unwrap_err();
    assert!(matches!(missing, Error::Io { .. }), "{missing}");
    assert!(missing.to_string().contains("obs99/observation.csv"), "{missing}");
    assert!(matches!(reference("nonexistent", 1), Err(Error::InvalidInput(_))));
}

#[test]
fn bernoulli_glm_raw_observations_summarise_to_the_bernoulli_glm_observations() {
    let simulator = task("bernoulli_glm").unwrap().simulator;
    // Recompute the summary of a raw spike train through the simulator's own definition: with
    // θ = (+∞ offset) every bin spikes, so the summary is (100, column sums of the lags).
    let all = simulator.simulate(repeat(&[1e3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 1).view(), 1).unwrap();
    assert_eq!(all[[0, 0]], 100.0);
    let none = simulator.simulate(repeat(&[-1e3, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], 1).view(), 1).unwrap();
    assert!(none.iter().all(|&v| v == 0.0));
    for observation in 1..=5 {
        let raw = observed("bernoulli_glm_raw", observation);
        let summary = observed("bernoulli_glm", observation);
        assert!(raw.iter().all(|&v| v == 0.0 || v == 1.0));
        assert_eq!(raw.sum(), summary[0], "obs {observation}");
    }
}

#[test]
fn prior_draws_are_in_support_and_simulate_reproducibly() {
    for (name, (parameter_dim, data_dim)) in NAMES.iter().zip(DIMS) {
        let task = task(name).unwrap();
        task.prior.validate().unwrap();
        assert_eq!(task.prior.dim(), parameter_dim, "{name}");
        let (theta, x) = task.sample_joint(64, 21).unwrap();
        assert_eq!(theta.dim(), (64, parameter_dim), "{name}");
        assert_eq!(x.dim(), (64, data_dim), "{name}");
        task.prior.check_support(theta.view()).unwrap();
        assert!(x.iter().all(|v| v.is_finite()), "{name}");
        let (theta_again, x_again) = task.sample_joint(64, 21).unwrap();
        assert!(same_values(theta.view(), theta_again.view()) && same_values(x.view(), x_again.view()), "{name}");
        let (theta_other, x_other) = task.sample_joint(64, 22).unwrap();
        assert!(!same_values(theta.view(), theta_other.view()) && !same_values(x.view(), x_other.view()), "{name}");
        // The true parameters of every vendored observation are in the prior's support.
        for observation in 1..=5 {
            assert!(task.prior.in_support(true_parameters(name, observation).view()), "{name}");
        }
    }
}

#[test]
fn priors_have_the_sbibm_moments() {
    let prior = |name: &str| task(name).unwrap().prior;
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(&prior("gaussian_linear").variance(), &[0.1; 10]));
    assert!(close(&prior("gaussian_linear_uniform").bounds().iter().map(|b| b.1).collect::<Vec<_>>(), &[1.0; 10]));
    assert!(close(&prior("slcp_distractors").bounds().iter().map(|b| b.0).collect::<Vec<_>>(), &[-3.0; 5]));
    assert!(close(&prior("gaussian_mixture").bounds().iter().map(|b| b.1).collect::<Vec<_>>(), &[10.0; 2]));
    assert!(close(&prior("two_moons").bounds().iter().map(|b| b.0).collect::<Vec<_>>(), &[-1.0; 2]));
    // Offset variance 2 (precision 0.5); the filter's variances grow towards the first lags.
    let glm = prior("bernoulli_glm").variance();
    assert!((glm[0] - 2.0).abs() < 1e-12 && glm[1] > glm[9], "{glm:?}");
    // Log-normal means exp(μ + σ²/2).
    let sir = prior("sir").mean();
    assert!(close(&sir, &[(0.4f64.ln() + 0.125).exp(), (0.125f64.ln() + 0.02).exp()]), "{sir:?}");
    let lv = prior("lotka_volterra").mean();
    assert!(close(&lv, &[(-0.125f64 + 0.125).exp(), (-3.0f64 + 0.125).exp(), 1.0, (-2.875f64).exp()]), "{lv:?}");
}
