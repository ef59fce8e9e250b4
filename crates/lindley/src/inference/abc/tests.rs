//! ABC against the analytic linear-Gaussian posterior, failed simulations, and bad inputs.

use ndarray::{Array1, Array2, ArrayView2, Axis, array};
use rand_distr::{Distribution as _, StandardNormal};

use super::*;
use crate::distributions::Distribution;
use crate::simulators::{Simulator, simulate_rows};

/// x = θ + ε, ε ~ N(0, σ²I), θ ~ N(0, I): p(θ | x_o) = N(x_o/(1+σ²), σ²/(1+σ²)·I).
const NOISE: f64 = 0.5;

/// The linear-Gaussian simulator; rows with θ₁ > `fail_above` return NaN (a failed simulation).
struct AddNoise {
    fail_above: f64,
}

impl Simulator for AddNoise {
    fn parameter_dim(&self) -> usize {
        2
    }
    fn data_dim(&self) -> usize {
        2
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> crate::Result<Array2<f64>> {
        let fail_above = self.fail_above;
        Ok(simulate_rows(theta, 2, seed, |theta, rng, x| {
            for (xi, ti) in x.iter_mut().zip(theta) {
                let e: f64 = StandardNormal.sample(rng);
                *xi = if theta[0] > fail_above { f64::NAN } else { ti + NOISE * e };
            }
        }))
    }
}

fn prior() -> Distribution {
    Distribution::normal(vec![0.0; 2], vec![1.0; 2]).unwrap()
}

const OBSERVATION: [f64; 2] = [0.8, -1.2];
const SHRINK: f64 = 1.0 / (1.0 + NOISE * NOISE);

/// Analytic posterior mean and standard deviation per coordinate.
fn analytic() -> (Array1<f64>, f64) {
    (Array1::from(OBSERVATION.to_vec()) * SHRINK, (NOISE * NOISE * SHRINK).sqrt())
}

/// Weighted mean and standard deviation of the particles.
fn weighted_moments(posterior: &AbcPosterior) -> (Array1<f64>, Array1<f64>) {
    let mean = posterior.mean();
    let centred = &posterior.particles - &mean.view().insert_axis(Axis(0));
    let var = (&centred * &centred).t().dot(&posterior.weights);
    (mean, var.mapv(f64::sqrt))
}

fn run_rejection(config: &RejectionConfig, budget: usize, seed: u64) -> AbcPosterior {
    let (prior, simulator) = (prior(), AddNoise { fail_above: f64::INFINITY });
    let observation = Array1::from(OBSERVATION.to_vec());
    let problem = AbcProblem { prior: &prior, simulator: &simulator, observation: observation.view(), summary: None };
    rejection_abc(&problem, budget, config, seed).unwrap()
}

fn run_smc(config: &SmcConfig, budget: usize, seed: u64) -> AbcPosterior {
    let (prior, simulator) = (prior(), AddNoise { fail_above: f64::INFINITY });
    let observation = Array1::from(OBSERVATION.to_vec());
    let problem = AbcProblem { prior: &prior, simulator: &simulator, observation: observation.view(), summary: None };
    smc_abc(&problem, budget, config, seed).unwrap()
}

#[test]
fn rejection_abc_recovers_the_analytic_posterior() {
    let config = RejectionConfig { selection: Selection::Quantile(0.01), ..Default::default() };
    let posterior = run_rejection(&config, 20_000, 1);
    assert_eq!(posterior.particles.nrows(), 200);
    assert_eq!(posterior.simulations, 20_000);
    let (mean, std) = weighted_moments(&posterior);
    let (exact_mean, exact_std) = analytic();
    for d in 0..2 {
        // Standard error of the mean ≈ 0.45/√200 = 0.03; the prior (mean 0, std 1) fails both.
        assert!((mean[d] - exact_mean[d]).abs() < 0.1, "mean {mean} vs {exact_mean}");
        assert!((std[d] / exact_std - 1.0).abs() < 0.15, "std {std} vs {exact_std}");
    }
    // Kept distances are the smallest and sorted; ε is the largest kept one.
    assert!(posterior.distances.windows(2).into_iter().all(|w| w[0] <= w[1]));
    assert_eq!(posterior.epsilon, posterior.distances[199]);
    // Same seed, same particles; another seed, other particles.
    assert_eq!(run_rejection(&config, 20_000, 1).particles, posterior.particles);
    assert_ne!(run_rejection(&config, 20_000, 2).particles, posterior.particles);
}

#[test]
fn regression_adjustment_removes_the_tolerance_bias() {
    // Keeping a fifth of the simulations inflates the spread; the linear-Gaussian model is exactly
    // linear in x, so Beaumont et al.'s adjustment recovers the analytic posterior.
    let plain = RejectionConfig { selection: Selection::Quantile(0.2), ..Default::default() };
    let adjusted = RejectionConfig { regression_adjustment: true, ..plain.clone() };
    let (exact_mean, exact_std) = analytic();
    let (_, std_plain) = weighted_moments(&run_rejection(&plain, 10_000, 3));
    let posterior = run_rejection(&adjusted, 10_000, 3);
    let (mean, std) = weighted_moments(&posterior);
    for d in 0..2 {
        assert!(std_plain[d] > 1.2 * exact_std, "unadjusted std {std_plain} should be inflated");
        assert!((mean[d] - exact_mean[d]).abs() < 0.05, "adjusted mean {mean} vs {exact_mean}");
        assert!((std[d] / exact_std - 1.0).abs() < 0.08, "adjusted std {std} vs {exact_std}");
    }
    // Epanechnikov weights: the farthest kept particle has weight 0.
    assert_eq!(posterior.weights[posterior.weights.len() - 1], 0.0);
}

#[test]
fn smc_abc_recovers_the_posterior_and_beats_rejection_at_equal_budget() {
    let budget = 10_000;
    // sbibm's defaults: 100 particles at this budget, ε the 0.2 quantile of the last distances.
    let smc = run_smc(&SmcConfig::default(), budget, 4);
    assert_eq!(smc.simulations, budget);
    assert_eq!(smc.particles.nrows(), 100);
    assert!(smc.populations >= 3, "only {} populations", smc.populations);
    let (mean, std) = weighted_moments(&smc);
    let (exact_mean, exact_std) = analytic();
    for d in 0..2 {
        assert!((mean[d] - exact_mean[d]).abs() < 0.12, "SMC mean {mean} vs {exact_mean}");
        assert!((std[d] / exact_std - 1.0).abs() < 0.25, "SMC std {std} vs {exact_std}");
    }
    // Rejection with the same budget and the same number of particles accepts a much wider ε.
    // (Here the simulator noise caps the gain: even at the true θ, P(d ≤ ε) ≈ 2ε².)
    let rejection =
        run_rejection(&RejectionConfig { selection: Selection::Count(100), ..Default::default() }, budget, 4);
    assert!(smc.epsilon < 0.6 * rejection.epsilon, "SMC ε {} vs rejection ε {}", smc.epsilon, rejection.epsilon);
    // KDE samples follow the particles and stay reproducible.
    let samples = smc.sample(4000, 9, &Resampling::default()).unwrap();
    let sample_mean = samples.theta.mean_axis(Axis(0)).unwrap();
    for d in 0..2 {
        assert!((sample_mean[d] - mean[d]).abs() < 0.06, "KDE mean {sample_mean} vs particles {mean}");
    }
    assert_eq!(smc.sample(4000, 9, &Resampling::default()).unwrap().theta, samples.theta);
}

#[test]
fn failed_simulations_are_dropped_and_counted() {
    let (prior, simulator) = (prior(), AddNoise { fail_above: 1.0 });
    let observation = array![0.3, 0.1];
    let problem = AbcProblem { prior: &prior, simulator: &simulator, observation: observation.view(), summary: None };
    let budget = 4000;
    let posterior = rejection_abc(&problem, budget, &RejectionConfig::default(), 5).unwrap();
    // The prior draws are the stream the run used (one batch): count those with θ₁ > 1.
    let draws = prior.sample(budget, &mut crate::rng::substream(5, u64::MAX));
    let failing = draws.column(0).iter().filter(|&&t| t > 1.0).count();
    assert!(failing > 400, "{failing}");
    assert_eq!(posterior.dropped.count, failing);
    assert_eq!(posterior.dropped.total, budget);
    assert_eq!(posterior.simulations, budget);
    assert!(posterior.particles.column(0).iter().all(|&t| t <= 1.0));
    assert!(posterior.sample(10, 0, &Resampling::Particles).unwrap().warnings[0].contains("dropped"));

    let smc = smc_abc(&problem, budget, &SmcConfig::default(), 5).unwrap();
    assert!(smc.dropped.count > 0 && smc.dropped.total == budget);
    assert!(smc.particles.iter().all(|v| v.is_finite()));
}

#[test]
fn bad_inputs_give_clear_errors() {
    let (prior, simulator) = (prior(), AddNoise { fail_above: f64::INFINITY });
    let short = array![0.3];
    let problem = AbcProblem { prior: &prior, simulator: &simulator, observation: short.view(), summary: None };
    let error = rejection_abc(&problem, 100, &RejectionConfig::default(), 0).unwrap_err().to_string();
    assert!(error.contains("observation") && error.contains("2 values"), "{error}");
    let error = smc_abc(&problem, 100, &SmcConfig::default(), 0).unwrap_err().to_string();
    assert!(error.contains("observation"), "{error}");

    let good = array![0.3, 0.2];
    let problem = AbcProblem { observation: good.view(), ..problem };
    let error = rejection_abc(&problem, 0, &RejectionConfig::default(), 0).unwrap_err().to_string();
    assert!(error.contains("budget"), "{error}");
    let error = smc_abc(&problem, 0, &SmcConfig::default(), 0).unwrap_err().to_string();
    assert!(error.contains("budget"), "{error}");

    let nan = array![0.3, f64::NAN];
    let error = rejection_abc(&AbcProblem { observation: nan.view(), ..problem }, 100, &RejectionConfig::default(), 0)
        .unwrap_err()
        .to_string();
    assert!(error.contains("finite"), "{error}");

    let config = RejectionConfig { selection: Selection::Quantile(1.5), ..Default::default() };
    assert!(rejection_abc(&problem, 100, &config, 0).unwrap_err().to_string().contains("quantile"));
    let config = RejectionConfig { selection: Selection::Epsilon(1e-9), ..Default::default() };
    assert!(rejection_abc(&problem, 100, &config, 0).unwrap_err().to_string().contains("within ε"));
    let config = SmcConfig { epsilon_quantile: 1.0, ..Default::default() };
    assert!(smc_abc(&problem, 100, &config, 0).unwrap_err().to_string().contains("epsilon_quantile"));

    // A summary function that changes the number of rows is reported.
    let bad_summary: &SummaryFn = &|x: ArrayView2<f64>| Ok(x.slice(ndarray::s![..1, ..]).to_owned());
    let with_summary = AbcProblem { summary: Some(bad_summary), ..problem };
    let error = rejection_abc(&with_summary, 100, &RejectionConfig::default(), 0).unwrap_err().to_string();
    assert!(error.contains("summary"), "{error}");
}

#[test]
fn summaries_and_l1_distance_are_used() {
    // Summarising x by its first coordinate only: the second parameter stays at its prior.
    let (prior, simulator) = (prior(), AddNoise { fail_above: f64::INFINITY });
    let observation = Array1::from(OBSERVATION.to_vec());
    let first: &SummaryFn = &|x: ArrayView2<f64>| Ok(x.slice(ndarray::s![.., ..1]).to_owned());
    let problem =
        AbcProblem { prior: &prior, simulator: &simulator, observation: observation.view(), summary: Some(first) };
    let config = RejectionConfig { selection: Selection::Quantile(0.02), distance: Distance::L1, ..Default::default() };
    let posterior = rejection_abc(&problem, 10_000, &config, 6).unwrap();
    let (mean, std) = weighted_moments(&posterior);
    let (exact_mean, exact_std) = analytic();
    assert!((mean[0] - exact_mean[0]).abs() < 0.1, "{mean}");
    assert!((std[0] / exact_std - 1.0).abs() < 0.15, "{std}");
    assert!(
        mean[1].abs() < 0.2 && (std[1] - 1.0).abs() < 0.15,
        "second parameter should follow the prior: {mean} {std}"
    );
}

#[test]
fn cross_validated_kde_bandwidth_is_near_the_normal_optimum() {
    // For 500 standard-normal points the density-optimal bandwidth is about 1.06·500^(−1/5) ≈ 0.31.
    let mut rng = crate::rng::seeded(7);
    let points: Array2<f64> = Array2::from_shape_fn((500, 1), |_| StandardNormal.sample(&mut rng));
    let kde = Kde::fit(points, Array1::ones(500), &Bandwidth::CrossValidated).unwrap();
    assert!((0.15..0.6).contains(&kde.bandwidth()), "bandwidth {}", kde.bandwidth());
    // Its density integrates to about 1 and peaks near 0.
    let grid: Vec<f64> = (-600..=600).map(|k| k as f64 / 100.0).collect();
    let mass: f64 = grid.iter().map(|&t| kde.log_prob(array![t].view()).exp() * 0.01).sum();
    assert!((mass - 1.0).abs() < 1e-3, "mass {mass}");
    assert!(Kde::fit(Array2::zeros((3, 1)), Array1::ones(2), &Bandwidth::Scott).is_err());
    assert!(Kde::fit(Array2::zeros((3, 1)), Array1::ones(3), &Bandwidth::Fixed(0.0)).is_err());
}

#[test]
fn smc_abc_resamples_low_ess_populations_and_is_reproducible() {
    // ess_min = 1: every population with unequal weights is resampled to equal weights.
    let config = SmcConfig { ess_min: Some(1.0), ..Default::default() };
    let posterior = run_smc(&config, 3000, 8);
    assert!(posterior.populations >= 2);
    assert!(posterior.weights.iter().all(|&w| (w - 0.01).abs() < 1e-12), "weights {}", posterior.weights);
    // Without resampling the importance weights differ.
    let plain = run_smc(&SmcConfig::default(), 3000, 8);
    assert!(plain.ess() < 99.999, "ESS {}", plain.ess());
    assert_eq!(run_smc(&SmcConfig::default(), 3000, 8).particles, plain.particles);
    assert!(plain.particles.rows().into_iter().all(|row| prior().in_support(row)));
}
