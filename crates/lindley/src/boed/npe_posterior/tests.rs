//! The NPE belief on linear-gaussian-p2, whose posterior after any measurements is Gaussian in
//! closed form ([`LinearGaussian::exact_posterior`]).

use std::sync::Arc;

use ndarray::{Array1, Array2, array};

use super::*;
use crate::boed::problems::{DesignSimulator, LinearGaussian, ParticlePrior};
use crate::distributions::Distribution;
use crate::flows::EstimatorKind;
use crate::rng::substream;

/// The Gaussian N(μ, Σ) as a project distribution (sampling and log-density).
fn gaussian(mean: &Array1<f64>, cov: &Array2<f64>) -> Distribution {
    Distribution::multivariate_normal(mean.to_vec(), cov.outer_iter().map(|r| r.to_vec()).collect()).unwrap()
}

/// Mean absolute difference of two log-densities.
fn mean_abs_difference(a: &Array1<f64>, b: &Array1<f64>) -> f64 {
    (a - b).mapv(f64::abs).mean().unwrap()
}

#[test]
fn npe_belief_after_two_measurements_has_the_exact_posterior_density() {
    let problem = LinearGaussian::new(2).unwrap();
    let mut rng = substream(11, 0);
    let designs = array![[1.0, 1.0], [0.5, -1.0]];
    let theta_star = array![[0.6, -0.4]];
    let y = Array2::from_shape_fn((2, 1), |(t, _)| {
        problem.simulate(theta_star.view(), designs.slice(ndarray::s![t..=t, ..]), &mut rng).unwrap()[[0, 0]]
    });
    let settings = NpeUpdate {
        simulations: 4000,
        estimator: EstimatorConfig { kind: EstimatorKind::Maf, transforms: 2, hidden: 32, ..Default::default() },
        training: TrainConfig { learning_rate: 1e-3, patience: 10, max_epochs: 80, ..Default::default() },
    };
    let wrong_width =
        NpePosterior::train(&problem, None, designs.view(), y.t(), &settings, &mut rng, &mut |_| {}).unwrap_err();
    assert!(wrong_width.to_string().contains("observations [k, 1]"), "{wrong_width}");
    let mut epochs_seen = Vec::new();
    let belief = NpePosterior::train(&problem, None, designs.view(), y.view(), &settings, &mut rng, &mut |p| {
        epochs_seen.push(p.epoch)
    })
    .unwrap();
    assert_eq!(belief.support_mass(), 1.0, "the prior has full support");
    let epochs = belief.density().report().epochs;
    assert_eq!(epochs_seen, (1..=epochs).collect::<Vec<_>>(), "progress after every epoch");

    // Score the belief at draws of the exact posterior of both measurements.
    let (mean, cov) = problem.exact_posterior(designs.view(), y.column(0)).unwrap();
    let exact_posterior = gaussian(&mean, &cov);
    let theta = exact_posterior.sample(400, &mut rng);
    let exact = exact_posterior.log_prob(theta.view());
    let learned = belief.log_density(theta.view()).unwrap();
    let error = mean_abs_difference(&learned, &exact);
    // The same draws under the posterior of the second measurement only: what a belief that
    // forgot the first one would give, and far outside the tolerance.
    let (mean1, cov1) =
        problem.exact_posterior(designs.slice(ndarray::s![1.., ..]), y.slice(ndarray::s![1.., 0])).unwrap();
    let forgetful = mean_abs_difference(&gaussian(&mean1, &cov1).log_prob(theta.view()), &exact);
    eprintln!("mean |log q − log p| = {error:.3} nats; a one-measurement posterior is off by {forgetful:.3}");
    assert!(error < 0.15, "NPE log-density off by {error:.3} nats on average");
    assert!(forgetful > 3.0 * 0.15, "the check does not tell the measurements apart ({forgetful:.3})");

    // As the density of a particle prior it is log p(θ) for the Barber–Agakov bound.
    let (draws, acceptance) = belief.sample(&problem, 500, &mut rng).unwrap();
    assert_eq!((draws.nrows(), acceptance), (500, 1.0));
    let samples = ParticlePrior::from_samples(Box::new(problem.clone()), draws.clone()).unwrap();
    let missing = samples.log_prior(theta.view()).unwrap_err().to_string();
    assert!(missing.contains("without a density"), "{missing}");
    let belief = Arc::new(belief);
    let with_density = samples.with_density(belief.clone()).unwrap();
    assert_eq!(with_density.log_prior(theta.view()).unwrap(), learned);
    let p3 = ParticlePrior::from_samples(Box::new(LinearGaussian::new(3).unwrap()), Array2::zeros((2, 3))).unwrap();
    let mismatch = p3.with_density(belief).unwrap_err().to_string();
    assert!(mismatch.contains("a density of 3 parameters"), "{mismatch}");
}

#[test]
fn draws_outside_the_prior_support_are_refused_with_a_clear_error() {
    // A linear-gaussian-p1 belief whose mass lies near θ = −2.4, kept inside the support of
    // nonlinear-1d's U(0, 1) prior: less than 1 in 100 draws qualify.
    let problem = LinearGaussian::new(1).unwrap();
    let settings = NpeUpdate {
        simulations: 4000,
        estimator: EstimatorConfig { kind: EstimatorKind::Maf, transforms: 2, hidden: 32, ..Default::default() },
        training: TrainConfig { learning_rate: 1e-3, patience: 10, max_epochs: 80, ..Default::default() },
    };
    let mut rng = substream(12, 0);
    // One measurement y = −3 at ξ = 1.
    let train = |settings: &NpeUpdate, rng: &mut LindleyRng| {
        NpePosterior::train(&problem, None, array![[1.0]].view(), array![[-3.0]].view(), settings, rng, &mut |_| {})
    };
    let belief = train(&settings, &mut rng).unwrap();
    let bounded = crate::boed::problems::problem("nonlinear-1d").unwrap();
    let error = belief.sample(bounded.as_ref(), 50, &mut rng).unwrap_err().to_string();
    assert!(error.contains("draws of the NPE posterior lie inside the prior's support"), "{error}");
    let too_few = NpeUpdate { simulations: 5, ..settings };
    let error = train(&too_few, &mut rng).unwrap_err().to_string();
    assert!(error.contains("needs at least 10 simulations, got 5"), "{error}");
}
