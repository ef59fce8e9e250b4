use burn::prelude::*;
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{ConditionalDensity, DensityEstimator, EstimatorConfig};
use crate::nn::EmbeddingNet;
use crate::rng::LindleyRng;
use crate::tensor_ops::vector;
use crate::{Error, Result};

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

    /// Like [`fit`](Self::fit), but with statistics pooled over the columns of each group:
    /// `groups[j]` names the group of column j, and every column of a group gets the mean and
    /// (n − 1)-normalised standard deviation of all the values in the group's columns.
    pub fn fit_pooled(data: ArrayView2<f64>, groups: &[usize]) -> Self {
        let count = groups.iter().max().map_or(0, |g| g + 1);
        let mut sums = vec![(0.0_f64, 0_usize); count];
        for (column, &g) in data.columns().into_iter().zip(groups) {
            sums[g].0 += column.sum();
            sums[g].1 += column.len();
        }
        let means: Vec<f64> = sums.iter().map(|&(s, n)| s / n.max(1) as f64).collect();
        let mut squares = vec![0.0_f64; count];
        for (column, &g) in data.columns().into_iter().zip(groups) {
            squares[g] += column.iter().map(|v| (v - means[g]).powi(2)).sum::<f64>();
        }
        let stds: Vec<f64> = squares
            .iter()
            .zip(&sums)
            .map(|(&q, &(_, n))| {
                let s = (q / (n.max(2) - 1) as f64).sqrt();
                if s > 1e-12 && s.is_finite() { s } else { 1.0 }
            })
            .collect();
        Self { mean: groups.iter().map(|&g| means[g]).collect(), std: groups.iter().map(|&g| stds[g]).collect() }
    }

    /// The identity map on `dim` columns.
    pub fn identity(dim: usize) -> Self {
        Self { mean: vec![0.0; dim], std: vec![1.0; dim] }
    }

    /// Number of columns.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// An error unless there is one std per mean, every mean is finite and every std finite and
    /// positive (a check for statistics read from a file).
    pub fn validate(&self) -> Result<()> {
        if self.std.len() != self.mean.len() {
            return Err(Error::InvalidInput(format!(
                "a standardizer with {} means but {} standard deviations",
                self.mean.len(),
                self.std.len()
            )));
        }
        if self.mean.iter().any(|m| !m.is_finite()) || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::InvalidInput(
                "a standardizer needs finite means and finite, positive standard deviations".into(),
            ));
        }
        Ok(())
    }

    /// Σ log std: the log-Jacobian of un-standardising one row.
    pub fn log_scale(&self) -> f64 {
        self.std.iter().map(|s| s.ln()).sum()
    }
}

/// A density estimator q(v | c) in the user's units: z-scores v and c with statistics from the
/// training set, passes c through an optional embedding net (see [`crate::nn::EmbeddingNet`];
/// trained with the flow), and corrects the log-density by the
/// Jacobian of the standardisation, log q(v | c) = log q̃(ṽ | c̃) − Σ log std_v.
#[derive(Module, Debug)]
pub struct ConditionalEstimator {
    embedding: Option<EmbeddingNet>,
    pub(crate) density: DensityEstimator,
    input_mean: Tensor<1>,
    input_std: Tensor<1>,
    context_mean: Tensor<1>,
    context_std: Tensor<1>,
    #[module(skip)]
    standardizers: (Standardizer, Standardizer),
}

impl ConditionalEstimator {
    /// An untrained estimator for inputs and contexts standardised by the given statistics; an
    /// error says if the configured embedding net does not fit the context's shape.
    pub fn new(
        config: &EstimatorConfig,
        input: Standardizer,
        context: Standardizer,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        input.validate()?;
        context.validate()?;
        let embedding = match &config.embedding {
            Some(e) => Some(EmbeddingNet::new(e, context.dim(), rng, device)?),
            None => None,
        };
        let features = config.embedding.as_ref().map_or(context.dim(), |e| e.features);
        let density = DensityEstimator::new(config, input.dim(), features, rng, device);
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        Ok(Self {
            embedding,
            density,
            input_mean: vector(&f32s(&input.mean), device),
            input_std: vector(&f32s(&input.std), device),
            context_mean: vector(&f32s(&context.mean), device),
            context_std: vector(&f32s(&context.std), device),
            standardizers: (input, context),
        })
    }

    /// The standardisation of the inputs v.
    pub fn input_standardizer(&self) -> &Standardizer {
        &self.standardizers.0
    }

    /// The standardisation of the context c.
    pub fn context_standardizer(&self) -> &Standardizer {
        &self.standardizers.1
    }

    /// The z-scored context through the embedding net (if any), `[B, features]`.
    pub(crate) fn embed(&self, context: Tensor<2>) -> Tensor<2> {
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
