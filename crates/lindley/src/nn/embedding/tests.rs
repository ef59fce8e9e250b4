//! Embedding nets: DeepSets' permutation invariance (which an MLP lacks), DeepSets + NPE against
//! an analytic iid posterior, and shapes, shape errors and model round trips of the CNN and LSTM.

use std::path::Path;

use burn::prelude::*;
use ndarray::{Array1, Array2, Axis, array};
use rand_distr::{Distribution as _, StandardNormal};

use super::{EmbeddingConfig, EmbeddingKind, EmbeddingNet};
use crate::Error;
use crate::data::Dataset;
use crate::distributions::Distribution;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, EstimatorKind, Standardizer};
use crate::inference::Posterior;
use crate::inference::{DirectPosterior, McmcPosterior, McmcSettings, Npe, NpeConfig, Nre, NreConfig, SampleOptions};
use crate::rng::seeded;
use crate::tensor_ops::{matrix_to_tensor, tensor_to_vec};

/// θ ~ N(0, I₂) and x = `trials` iid draws N(θ, I₂), stored trial after trial.
fn iid_gaussian(n: usize, trials: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = seeded(seed);
    let theta = Array2::from_shape_fn((n, 2), |_| -> f64 { StandardNormal.sample(&mut rng) });
    let x = Array2::from_shape_fn((n, 2 * trials), |(i, j)| {
        let e: f64 = StandardNormal.sample(&mut rng);
        theta[[i, j % 2]] + e
    });
    (theta, x)
}

/// The rows of `x` with their trials (of `trial_dim` values) in reverse order.
fn reverse_trials(x: &Array2<f64>, trial_dim: usize) -> Array2<f64> {
    let trials = x.ncols() / trial_dim;
    Array2::from_shape_fn(x.dim(), |(i, j)| x[[i, (trials - 1 - j / trial_dim) * trial_dim + j % trial_dim]])
}

#[test]
fn deepsets_is_invariant_to_permuting_trials_and_an_mlp_is_not() {
    let device = Device::flex();
    let (theta, x) = iid_gaussian(200, 6, 1);
    let permuted = reverse_trials(&x, 2);
    let log_prob = |kind: EmbeddingKind| {
        let embedding = EmbeddingConfig { kind, trial_dim: 2, hidden: 16, features: 6, ..Default::default() };
        let config =
            EstimatorConfig { hidden: 16, transforms: 2, embedding: Some(embedding.clone()), ..Default::default() };
        let context = embedding.standardizer(x.view()).unwrap();
        let model =
            ConditionalEstimator::new(&config, Standardizer::fit(theta.view()), context, &mut seeded(3), &device)
                .unwrap();
        let t = matrix_to_tensor(theta.view(), &device);
        let original = tensor_to_vec(model.log_prob(t.clone(), matrix_to_tensor(x.view(), &device)));
        let reordered = tensor_to_vec(model.log_prob(t, matrix_to_tensor(permuted.view(), &device)));
        original.iter().zip(&reordered).map(|(a, b)| (a - b).abs()).fold(0.0_f32, f32::max)
    };
    let deepsets = log_prob(EmbeddingKind::DeepSets);
    assert!(deepsets < 1e-5, "DeepSets changed log q by {deepsets} when the trials were reordered");
    let mlp = log_prob(EmbeddingKind::Mlp);
    assert!(mlp > 1e-3, "an MLP embedding should see the trial order, changed log q by only {mlp}");
}

#[test]
fn npe_with_deepsets_recovers_the_iid_gaussian_posterior() {
    // θ ~ N(0, I₂), x = n iid N(θ, I₂) trials: p(θ | x) = N(Σ xᵢ / (n + 1), I₂ / (n + 1)).
    let trials = 10;
    let (theta, x) = iid_gaussian(3000, trials, 7);
    let estimator = EstimatorConfig {
        kind: EstimatorKind::Maf,
        transforms: 2,
        hidden: 32,
        embedding: Some(EmbeddingConfig {
            kind: EmbeddingKind::DeepSets,
            trial_dim: 2,
            hidden: 32,
            layers: 1,
            features: 8,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut config = NpeConfig { estimator, ..Default::default() };
    config.training.max_epochs = 40;
    config.training.batch_size = 100;
    config.training.learning_rate = 2e-3;
    let prior = Distribution::normal(vec![0.0; 2], vec![1.0; 2]).unwrap();
    let mut npe = Npe::new(prior, config);
    npe.append_simulations(Dataset::new(theta, x).unwrap()).unwrap();
    let posterior = npe.train(&mut |_| {}).unwrap().0;
    let exact_std = 1.0 / ((trials + 1) as f64).sqrt();
    let (truth, observations) = iid_gaussian(3, trials, 99);
    for (o, observation) in observations.rows().into_iter().enumerate() {
        let samples = posterior.sample(3000, observation, o as u64, &SampleOptions::default()).unwrap().theta;
        let mean = samples.mean_axis(Axis(0)).unwrap();
        let std = samples.std_axis(Axis(0), 1.0);
        for d in 0..2 {
            let sum: f64 = (0..trials).map(|i| observation[2 * i + d]).sum();
            let exact_mean = sum / (trials + 1) as f64;
            assert!(
                (mean[d] - exact_mean).abs() < 0.12,
                "observation {o} (θ = {}), dim {d}: mean {} vs exact {exact_mean}",
                truth.row(o),
                mean[d]
            );
            assert!(
                (std[d] / exact_std - 1.0).abs() < 0.25,
                "observation {o}, dim {d}: std {} vs exact {exact_std}",
                std[d]
            );
        }
    }
}

/// Replace the `estimator` (or the NRE `classifier`) embedding in the header of the model file
/// `from`, keeping its weights, and write the result to `to`.
fn with_header_embedding(from: &Path, to: &Path, key: &str, embedding: &EmbeddingConfig) {
    let bytes = std::fs::read(from).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut header: serde_json::Value =
        serde_json::from_str(&metadata.metadata().as_ref().unwrap()["lindley"]).unwrap();
    header[key]["embedding"] = serde_json::to_value(embedding).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors: Vec<_> = file.tensors();
    let metadata = std::collections::HashMap::from([("lindley".to_string(), header.to_string())]);
    std::fs::write(to, safetensors::serialize(tensors, Some(metadata)).unwrap()).unwrap();
}

#[test]
fn cnn_and_lstm_have_the_configured_shapes_refuse_bad_ones_and_round_trip() {
    let device = Device::flex();
    // Output shapes: [batch, features] for every kind, from x of 2 channels × 12 steps.
    for (kind, bidirectional) in [
        (EmbeddingKind::Mlp, true),
        (EmbeddingKind::DeepSets, true),
        (EmbeddingKind::Cnn, true),
        (EmbeddingKind::Lstm, false),
        (EmbeddingKind::Lstm, true),
    ] {
        let config = EmbeddingConfig {
            kind,
            channels: 2,
            trial_dim: 2,
            hidden: 8,
            features: 5,
            bidirectional,
            ..Default::default()
        };
        let net = EmbeddingNet::new(&config, 24, &mut seeded(1), &device).unwrap();
        let out = net.forward(Tensor::zeros([3, 24], &device));
        assert_eq!(out.dims(), [3, 5], "{} (bidirectional {bidirectional})", kind.name());
    }
    // Shapes that do not fit are errors that name the setting.
    let bad = |config: EmbeddingConfig, x_dim: usize, needle: &str| {
        let error = EmbeddingNet::new(&config, x_dim, &mut seeded(1), &device).unwrap_err().to_string();
        assert!(error.contains(needle), "{error}");
    };
    bad(EmbeddingConfig { trial_dim: 5, ..EmbeddingConfig::of_kind(EmbeddingKind::DeepSets) }, 24, "trial_dim = 5");
    bad(EmbeddingConfig { channels: 5, ..EmbeddingConfig::of_kind(EmbeddingKind::Lstm) }, 24, "channels = 5");
    bad(EmbeddingConfig { pool: 4, ..EmbeddingConfig::of_kind(EmbeddingKind::Cnn) }, 12, "leave no time step");

    // x: 2 channels of 8 steps, a noisy sine with amplitude θ₁ and frequency θ₂.
    let mut rng = seeded(5);
    let theta = Array2::from_shape_fn((300, 2), |_| -> f64 { StandardNormal.sample(&mut rng) });
    let x = Array2::from_shape_fn((300, 16), |(i, j)| {
        let t: f64 = (j % 8) as f64 + (j / 8) as f64 * 0.5;
        let noise: f64 = StandardNormal.sample(&mut rng);
        theta[[i, 0]] * (t * (1.0 + 0.2 * theta[[i, 1]])).sin() + 0.1 * noise
    });
    let prior = Distribution::normal(vec![0.0; 2], vec![1.0; 2]).unwrap();
    let data = || Dataset::new(theta.clone(), x.clone()).unwrap();
    let observation: Array1<f64> = x.row(0).to_owned();
    let probe = array![[0.1, -0.2], [1.0, 0.5], [-0.7, 1.2]];
    let directory = std::env::temp_dir().join(format!("lindley-embedding-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let cnn = EmbeddingConfig {
        kind: EmbeddingKind::Cnn,
        channels: 2,
        kernel: 3,
        hidden: 16,
        features: 6,
        ..Default::default()
    };
    let lstm = EmbeddingConfig { kind: EmbeddingKind::Lstm, channels: 2, hidden: 8, features: 6, ..Default::default() };

    // NPE with a CNN: a wrong channel count is an error at training, not a panic.
    let estimator = EstimatorConfig { kind: EstimatorKind::Maf, transforms: 2, hidden: 16, ..Default::default() };
    let mut config = NpeConfig { estimator, ..Default::default() };
    config.training.max_epochs = 3;
    config.training.batch_size = 100;
    config.estimator.embedding = Some(EmbeddingConfig { channels: 3, ..cnn.clone() });
    let mut npe = Npe::new(prior.clone(), config.clone());
    npe.append_simulations(data()).unwrap();
    match npe.train(&mut |_| {}) {
        Err(Error::InvalidInput(message)) => assert!(message.contains("channels = 3"), "{message}"),
        other => panic!("expected a shape error, got {:?}", other.map(|_| ())),
    }
    config.estimator.embedding = Some(cnn.clone());
    let mut npe = Npe::new(prior.clone(), config);
    npe.append_simulations(data()).unwrap();
    let posterior = npe.train(&mut |_| {}).unwrap().0;
    let path = directory.join("npe-cnn.safetensors");
    posterior.save(&path).unwrap();
    let loaded = DirectPosterior::load(&path).unwrap();
    assert_eq!(loaded.header().estimator.embedding, Some(cnn.clone()));
    let before = posterior.log_prob_estimator(probe.view(), observation.view()).unwrap();
    assert_eq!(before, loaded.log_prob_estimator(probe.view(), observation.view()).unwrap());
    assert!(before.iter().all(|v| v.is_finite()));
    // The header names an LSTM, the weights are a CNN's: a clear error, not a panic.
    let swapped = directory.join("npe-swapped.safetensors");
    with_header_embedding(&path, &swapped, "estimator", &lstm);
    let error = DirectPosterior::load(&swapped).unwrap_err().to_string();
    assert!(error.contains("describes embedding net 'lstm' but the weights hold embedding net 'cnn'"), "{error}");

    // NRE with a bidirectional LSTM.
    let mut config =
        NreConfig { mcmc: McmcSettings { chains: 10, warmup: 20, ..Default::default() }, ..Default::default() };
    config.classifier.hidden = 16;
    config.classifier.embedding = Some(lstm.clone());
    config.training.max_epochs = 3;
    config.training.batch_size = 100;
    let mut nre = Nre::new(prior, config);
    nre.append_simulations(data()).unwrap();
    let posterior = nre.train(&mut |_| {}).unwrap().0;
    let path = directory.join("nre-lstm.safetensors");
    posterior.save(&path).unwrap();
    let loaded = McmcPosterior::load(&path).unwrap();
    let before = posterior.log_prob(probe.view(), observation.view()).unwrap();
    assert_eq!(before, loaded.log_prob(probe.view(), observation.view()).unwrap());
    assert!(before.iter().all(|v| v.is_finite()));
    let swapped = directory.join("nre-swapped.safetensors");
    with_header_embedding(&path, &swapped, "classifier", &cnn);
    let error = McmcPosterior::load(&swapped).unwrap_err().to_string();
    assert!(error.contains("describes embedding net 'cnn' but the weights hold embedding net 'lstm'"), "{error}");
    std::fs::remove_dir_all(&directory).ok();
}
