use burn::prelude::*;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{ConditionalDensity, DensityEstimator, EstimatorConfig, embedding_net};
use crate::nn::Mlp;
use crate::rng::LindleyRng;
use crate::tensor_ops::vector;

/// Per-column z-scoring v ↦ (v − mean) / std, learned from a training set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 for constant columns).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Mean and (n − 1)-normalised standard deviation of each column; constant columns get std 1.
    pub fn fit(data: ArrayView2<f64>) -> Self {
        let n = data.nrows().max(2) as f64;
        let mean: Vec<f64> = data.columns().into_iter().map(|c| c.sum() / data.nrows().max(1) as f64).collect();
        let std = data
            .columns()
            .into_iter()
            .zip(&mean)
            .map(|(c, m)| {
                let s = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
                if s > 1e-12 && s.is_finite() { s } else { 1.0 }
            })
            .collect();
        Self { mean, std }
    }

    /// The identity map on `dim` columns.
    pub fn identity(dim: usize) -> Self {
        Self { mean: vec![0.0; dim], std: vec![1.0; dim] }
    }

    /// Number of columns.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Σ log std: the log-Jacobian of un-standardising one row.
    pub fn log_scale(&self) -> f64 {
        self.std.iter().map(|s| s.ln()).sum()
    }
}

/// A density estimator q(v | c) in the user's units: z-scores v and c with statistics from the
/// training set, passes c through an optional embedding net, and corrects the log-density by the
/// Jacobian of the standardisation, log q(v | c) = log q̃(ṽ | c̃) − Σ log std_v.
#[derive(Module, Debug)]
pub struct ConditionalEstimator {
    embedding: Option<Mlp>,
    pub(crate) density: DensityEstimator,
    input_mean: Tensor<1>,
    input_std: Tensor<1>,
    context_mean: Tensor<1>,
    context_std: Tensor<1>,
    #[module(skip)]
    standardizers: (Standardizer, Standardizer),
}

impl ConditionalEstimator {
    /// An untrained estimator for inputs and contexts standardised by the given statistics.
    pub fn new(
        config: &EstimatorConfig,
        input: Standardizer,
        context: Standardizer,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Self {
        let embedding = embedding_net(config, context.dim(), rng, device);
        let features = if config.embedding_features > 0 && embedding.is_some() {
            config.embedding_features
        } else {
            context.dim()
        };
        let density = DensityEstimator::new(config, input.dim(), features, rng, device);
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        Self {
            embedding,
            density,
            input_mean: vector(&f32s(&input.mean), device),
            input_std: vector(&f32s(&input.std), device),
            context_mean: vector(&f32s(&context.mean), device),
            context_std: vector(&f32s(&context.std), device),
            standardizers: (input, context),
        }
    }

    /// The standardisation of the inputs v.
    pub fn input_standardizer(&self) -> &Standardizer {
        &self.standardizers.0
    }

    /// The standardisation of the context c.
    pub fn context_standardizer(&self) -> &Standardizer {
        &self.standardizers.1
    }

    fn embed(&self, context: Tensor<2>) -> Tensor<2> {
        let c = (context - self.context_mean.clone().unsqueeze_dim(0)) / self.context_std.clone().unsqueeze_dim(0);
        match &self.embedding {
            Some(net) => net.forward(c),
            None => c,
        }
    }
}

impl ConditionalDensity for ConditionalEstimator {
    fn log_prob(&self, inputs: Tensor<2>, context: Tensor<2>) -> Tensor<1> {
        let v = (inputs - self.input_mean.clone().unsqueeze_dim(0)) / self.input_std.clone().unsqueeze_dim(0);
        self.density.log_prob(v, self.embed(context)).sub_scalar(self.input_standardizer().log_scale())
    }

    fn sample(&self, context: Tensor<2>, rng: &mut LindleyRng) -> Tensor<2> {
        let v = self.density.sample(self.embed(context), rng);
        v * self.input_std.clone().unsqueeze_dim(0) + self.input_mean.clone().unsqueeze_dim(0)
    }

    fn sample_shared(&self, context: Tensor<2>, n: usize, rng: &mut LindleyRng) -> Tensor<2> {
        let v = self.density.sample_shared(self.embed(context), n, rng);
        v * self.input_std.clone().unsqueeze_dim(0) + self.input_mean.clone().unsqueeze_dim(0)
    }
}
