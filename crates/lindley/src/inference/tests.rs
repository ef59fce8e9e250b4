//! NPE against an analytic posterior, and the bad inputs a user can give it.

use std::sync::Arc;

use ndarray::{Array1, Array2, Axis, array};

use super::{Npe, NpeConfig, Posterior, SampleOptions};
use crate::Error;
use crate::data::Dataset;
use crate::distributions::Distribution;
use crate::flows::EstimatorKind;
use crate::inference::DirectPosterior;
use crate::simulators::{Simulator, Task, simulate_rows};

/// x = θ + ε, ε ~ N(0, σ²I), under θ ~ N(0, I): the posterior is N(x/(1+σ²), σ²/(1+σ²)·I).
const NOISE: f64 = 0.5;

struct AddNoise;

impl Simulator for AddNoise {
    fn parameter_dim(&self) -> usize {
        2
    }
    fn data_dim(&self) -> usize {
        2
    }
    fn simulate(&self, theta: ndarray::ArrayView2<f64>, seed: u64) -> crate::Result<Array2<f64>> {
        use rand_distr::{Distribution as _, StandardNormal};
        Ok(simulate_rows(theta, 2, seed, |theta, rng, x| {
            for (xi, ti) in x.iter_mut().zip(theta) {
                let e: f64 = StandardNormal.sample(rng);
                *xi = ti + NOISE * e;
            }
        }))
    }
}

fn linear_gaussian() -> Task {
    let prior = Distribution::normal(vec![0.0; 2], vec![1.0; 2]).unwrap();
    let simulator = AddNoise;
    Task {
        name: "linear_gaussian_2d".into(),
        description: "x = θ + N(0, 0.25 I)".into(),
        prior,
        simulator: Arc::new(simulator),
        parameter_names: vec!["a".into(), "b".into()],
        data_names: vec!["xa".into(), "xb".into()],
    }
}

fn quick_config(kind: EstimatorKind) -> NpeConfig {
    let mut config = NpeConfig::default();
    config.estimator.kind = kind;
    config.estimator.hidden = 32;
    config.estimator.transforms = 3;
    config.training.max_epochs = 60;
    config.training.batch_size = 100;
    config.training.learning_rate = 2e-3;
    config
}

fn trained(kind: EstimatorKind, n: usize) -> DirectPosterior {
    let task = linear_gaussian();
    let (theta, x) = task.sample_joint(n, 3).unwrap();
    let mut npe = Npe::for_task(&task, quick_config(kind));
    npe.append_simulations(Dataset::new(theta, x).unwrap()).unwrap();
    npe.train(&mut |_| {}).unwrap().0
}

#[test]
fn npe_recovers_the_analytic_linear_gaussian_posterior() {
    let posterior = trained(EstimatorKind::Nsf, 3000);
    let observation = array![0.8, -1.2];
    let samples = posterior.sample(4000, observation.view(), 11, &SampleOptions::default()).unwrap().theta;
    let mean = samples.mean_axis(Axis(0)).unwrap();
    let variance = samples.var_axis(Axis(0), 1.0);
    let shrink = 1.0 / (1.0 + NOISE * NOISE);
    for d in 0..2 {
        assert!((mean[d] - shrink * observation[d]).abs() < 0.08, "mean {mean} vs {}", &observation * shrink);
        let exact = NOISE * NOISE * shrink;
        assert!((variance[d] / exact - 1.0).abs() < 0.25, "variance {variance} vs {exact}");
    }
    // log q(θ | x_o) is close to the analytic log-density where the posterior has its mass.
    let exact_log_prob = |t: &Array1<f64>| {
        let var = NOISE * NOISE * shrink;
        t.iter()
            .zip(observation.iter())
            .map(|(ti, xi)| -0.5 * (ti - shrink * xi).powi(2) / var - 0.5 * (2.0 * std::f64::consts::PI * var).ln())
            .sum::<f64>()
    };
    let points = array![[0.64, -0.96], [0.4, -0.8], [0.9, -1.1]];
    let estimated = posterior.log_prob(points.view(), observation.view()).unwrap();
    for (row, value) in points.rows().into_iter().zip(estimated.iter()) {
        let exact = exact_log_prob(&row.to_owned());
        assert!((value - exact).abs() < 0.3, "log_prob {value} vs exact {exact} at {row}");
    }
}

#[test]
fn map_finds_the_mode_of_the_estimated_posterior() {
    // A Gaussian estimator's mode is its mean, which many samples pin down independently of how
    // well the network was trained; both must also be near the analytic posterior mean.
    let posterior = trained(EstimatorKind::Gaussian, 2000);
    let observation = array![1.0, 0.5];
    let map = posterior.map(observation.view(), &Default::default(), 0).unwrap();
    let samples = posterior.sample(50_000, observation.view(), 1, &SampleOptions::default()).unwrap().theta;
    let mean = samples.mean_axis(Axis(0)).unwrap();
    let shrink = 1.0 / (1.0 + NOISE * NOISE);
    for d in 0..2 {
        assert!((map[d] - mean[d]).abs() < 0.02, "MAP {map} vs estimated posterior mean {mean}");
        assert!((map[d] - shrink * observation[d]).abs() < 0.15, "MAP {map} vs analytic mode");
    }
}

#[test]
fn sampling_is_reproducible_from_the_seed() {
    let posterior = trained(EstimatorKind::Gaussian, 500);
    let observation = array![0.0, 0.0];
    let options = SampleOptions::default();
    let a = posterior.sample(100, observation.view(), 5, &options).unwrap().theta;
    let b = posterior.sample(100, observation.view(), 5, &options).unwrap().theta;
    let c = posterior.sample(100, observation.view(), 6, &options).unwrap().theta;
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn bad_simulations_are_rejected_or_dropped_with_a_count() {
    let task = linear_gaussian();
    let mut npe = Npe::for_task(&task, quick_config(EstimatorKind::Gaussian));
    // θ with 3 columns for a 2-parameter prior.
    let wrong = Dataset::new(Array2::zeros((10, 3)), Array2::zeros((10, 2))).unwrap();
    let error = npe.append_simulations(wrong).unwrap_err();
    assert!(matches!(error, Error::Shape { .. }), "{error}");
    assert!(error.to_string().contains('3'), "{error}");
    // NaN and Inf rows are dropped and counted.
    let (theta, mut x) = task.sample_joint(50, 1).unwrap();
    x[[4, 0]] = f64::NAN;
    x[[9, 1]] = f64::INFINITY;
    let dropped = npe.append_simulations(Dataset::new(theta, x).unwrap()).unwrap();
    assert_eq!((dropped.count, dropped.total), (2, 50));
    assert_eq!(dropped.first_rows, vec![4, 9]);
    assert_eq!(npe.data().unwrap().len(), 48);
    // x of another dimension than the data already appended.
    let error = npe.append_simulations(Dataset::new(Array2::zeros((5, 2)), Array2::zeros((5, 4))).unwrap());
    assert!(matches!(error, Err(Error::Shape { .. })));
    assert_eq!(npe.data().unwrap().len(), 48, "a failed append adds nothing");
}

#[test]
fn parameters_outside_the_prior_support_are_rejected() {
    let prior = Distribution::uniform(vec![0.0, 0.0], vec![1.0, 1.0]).unwrap();
    let mut npe = Npe::new(prior, NpeConfig::default());
    let theta = array![[0.5, 0.5], [0.2, 1.5]];
    let error = npe.append_simulations(Dataset::new(theta, Array2::zeros((2, 1))).unwrap()).unwrap_err();
    assert!(matches!(error, Error::OutsideSupport { row: 1, .. }), "{error}");
    assert!(npe.data().is_none());
}

#[test]
fn training_without_simulations_is_an_error() {
    let npe = Npe::new(Distribution::normal(vec![0.0], vec![1.0]).unwrap(), NpeConfig::default());
    let error = npe.train(&mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("no valid simulations"), "{error}");
}

#[test]
fn observations_of_the_wrong_length_or_with_nan_are_rejected() {
    let posterior = trained(EstimatorKind::Gaussian, 300);
    let options = SampleOptions::default();
    let error = posterior.sample(10, array![1.0, 2.0, 3.0].view(), 0, &options).unwrap_err();
    assert!(error.to_string().contains("expected 2 values, got 3"), "{error}");
    let error = posterior.sample(10, array![1.0, f64::NAN].view(), 0, &options).unwrap_err();
    assert!(error.to_string().contains("must be finite"), "{error}");
    let error = posterior.log_prob(array![[1.0]].view(), array![1.0, 2.0].view()).unwrap_err();
    assert!(matches!(error, Error::Shape { .. }), "{error}");
}

#[test]
fn models_round_trip_and_broken_files_give_clear_errors() {
    let posterior = trained(EstimatorKind::Nsf, 300);
    let directory = std::env::temp_dir().join(format!("lindley-npe-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("model.safetensors");
    posterior.save(&path).unwrap();
    let loaded = DirectPosterior::load(&path).unwrap();
    let observation = array![0.3, 0.1];
    let theta = array![[0.1, 0.2], [-0.5, 0.4]];
    let before = posterior.log_prob_estimator(theta.view(), observation.view()).unwrap();
    let after = loaded.log_prob_estimator(theta.view(), observation.view()).unwrap();
    assert!(before.iter().zip(after.iter()).all(|(a, b)| (a - b).abs() < 1e-6), "{before} vs {after}");
    assert_eq!(loaded.header(), posterior.header());

    let bytes = std::fs::read(&path).unwrap();
    let truncated = directory.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let error = DirectPosterior::load(&truncated).unwrap_err().to_string();
    assert!(error.contains("truncated.safetensors") && error.contains("truncated"), "{error}");

    let empty = directory.join("empty.safetensors");
    std::fs::write(&empty, b"").unwrap();
    assert!(DirectPosterior::load(&empty).unwrap_err().to_string().contains("empty"));

    let garbage = directory.join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a model at all, just text").unwrap();
    assert!(DirectPosterior::load(&garbage).unwrap_err().to_string().contains("not a readable safetensors file"));

    // A header that describes another architecture than the stored weights.
    let pattern = b"\\\"hidden\\\": 32";
    let at = bytes.windows(pattern.len()).position(|w| w == pattern).expect("the header stores the hidden width");
    let mut other = bytes.clone();
    other[at + pattern.len() - 1] = b'3';
    let mismatched = directory.join("mismatched.safetensors");
    std::fs::write(&mismatched, other).unwrap();
    let error = DirectPosterior::load(&mismatched).unwrap_err().to_string();
    assert!(error.contains("architecture"), "{error}");
    std::fs::remove_dir_all(&directory).ok();
}

#[test]
fn batched_sampling_of_many_observations_matches_each_posterior() {
    let posterior = trained(EstimatorKind::Gaussian, 2000);
    let observations = array![[0.8, -1.2], [-0.5, 0.3], [1.5, 1.0]];
    let options = SampleOptions { batch_size: 700, ..Default::default() };
    let batched = posterior.sample_many(800, observations.view(), 4, &options).unwrap();
    assert_eq!(batched.len(), 3);
    let shrink = 1.0 / (1.0 + NOISE * NOISE);
    for (sample, observation) in batched.iter().zip(observations.rows()) {
        assert_eq!(sample.dim(), (800, 2));
        let mean = sample.mean_axis(Axis(0)).unwrap();
        for d in 0..2 {
            assert!((mean[d] - shrink * observation[d]).abs() < 0.1, "mean {mean} for x = {observation}");
        }
    }
    let again = posterior.sample_many(800, observations.view(), 4, &options).unwrap();
    assert_eq!(batched, again);
    let mut bad = observations.clone();
    bad[[2, 0]] = f64::NAN;
    assert!(matches!(posterior.sample_many(10, bad.view(), 4, &options), Err(Error::InvalidInput(_))));
}
