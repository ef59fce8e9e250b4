//! Conditional density estimators q(v | c) behind one trait, [`ConditionalDensity`]: normalizing
//! flows (spline, MAF, affine coupling, diagonal Gaussian; see [`flow`]) and the mixture density
//! network ([`mdn`]). [`ConditionalEstimator`] adds what every estimator needs around them:
//! z-scoring of both sides learned from the training set and an optional embedding net for c.

mod estimator;
pub mod flow;
mod lu;
pub mod mdn;
pub mod transformer;

use burn::prelude::*;
use rand_distr::{Distribution as _, StandardNormal};
use serde::{Deserialize, Serialize};

pub use estimator::{ConditionalEstimator, Standardizer};
pub use flow::{Flow, LayerKind};
pub use mdn::Mdn;
pub use transformer::Transformer;

use crate::nn::EmbeddingConfig;
use crate::rng::LindleyRng;

/// A conditional density q(v | c) with exact log-density and sampling.
pub trait ConditionalDensity {
    /// log q(v | c) for `inputs [B, D]` and `context [B, C]`, one value per row.
    fn log_prob(&self, inputs: Tensor<2>, context: Tensor<2>) -> Tensor<1>;
    /// One sample of v per row of `context [B, C]`.
    fn sample(&self, context: Tensor<2>, rng: &mut LindleyRng) -> Tensor<2>;
    /// `n` samples of v for one context row `context [1, C]`; the same distribution as
    /// [`sample`](Self::sample) with the row repeated `n` times, which is what the default does.
    fn sample_shared(&self, context: Tensor<2>, n: usize, rng: &mut LindleyRng) -> Tensor<2> {
        self.sample(context.repeat_dim(0, n), rng)
    }
}

/// Hidden-layer activation of the MADE conditioners of autoregressive flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MadeActivation {
    /// max(0, x).
    #[default]
    Relu,
    /// tanh x, as in sbi's MAF (nflows' `MaskedAffineAutoregressiveTransform` with
    /// `activation=tanh`).
    Tanh,
}

/// How the variable order changes from one MADE conditioner of an autoregressive flow to the next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MadeOrder {
    /// The natural order, reversed every other layer.
    #[default]
    Reversed,
    /// The natural order in the first layer, then a pseudo-random permutation per layer (as sbi's
    /// MAF puts a `RandomPermutation` after every MADE), drawn from a fixed seed that depends only
    /// on the dimension and the layer, so a model file rebuilds the same flow; never the previous
    /// layer's order (in two dimensions: the alternating orders of `Reversed`). NLE's default.
    Permuted,
}

/// The family of density estimator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimatorKind {
    /// Neural spline flow with coupling layers (Durkan et al. 2019); sbi's "nsf".
    Nsf,
    /// Neural spline flow with autoregressive (MADE) layers.
    NsfAutoregressive,
    /// Masked autoregressive flow (Papamakarios et al. 2017); sbi's "maf".
    Maf,
    /// Affine coupling flow (RealNVP, Dinh et al. 2017; cINN style).
    AffineCoupling,
    /// Mixture density network with full covariances; sbi's "mdn".
    Mdn,
    /// Diagonal Gaussian with mean and scale from the context.
    Gaussian,
}

impl EstimatorKind {
    /// All kinds, for help texts and parsing.
    pub const ALL: [EstimatorKind; 6] = [
        EstimatorKind::Nsf,
        EstimatorKind::NsfAutoregressive,
        EstimatorKind::Maf,
        EstimatorKind::AffineCoupling,
        EstimatorKind::Mdn,
        EstimatorKind::Gaussian,
    ];

    /// The name used on the command line and in model files.
    pub fn name(&self) -> &'static str {
        match self {
            EstimatorKind::Nsf => "nsf",
            EstimatorKind::NsfAutoregressive => "nsf_autoregressive",
            EstimatorKind::Maf => "maf",
            EstimatorKind::AffineCoupling => "affine_coupling",
            EstimatorKind::Mdn => "mdn",
            EstimatorKind::Gaussian => "gaussian",
        }
    }
}

impl std::str::FromStr for EstimatorKind {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
            crate::Error::InvalidInput(format!("unknown density estimator '{s}'; choose one of {}", names.join(", ")))
        })
    }
}

/// Architecture of a density estimator; stored in model files so a model can be rebuilt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EstimatorConfig {
    /// Which family.
    pub kind: EstimatorKind,
    /// Number of flow layers (ignored by MDN and Gaussian).
    pub transforms: usize,
    /// Hidden units of every conditioner layer.
    pub hidden: usize,
    /// Depth of every conditioner: the residual blocks of a coupling net; for a MADE (MAF,
    /// autoregressive NSF) the hidden layers after the first, as nflows' `num_blocks` counts them,
    /// so 2 gives sbi's MADE of three hidden layers.
    pub blocks: usize,
    /// Spline bins.
    pub bins: usize,
    /// Half-width of the spline interval in standardised units (identity tails outside).
    pub tail_bound: f64,
    /// Mixture components (MDN).
    pub components: usize,
    /// Prepend a context-conditioned affine layer to flows.
    pub conditional_affine: bool,
    /// Hidden activation of MADE conditioners (MAF, autoregressive NSF).
    pub made_activation: MadeActivation,
    /// Variable orders of the MADE conditioners (MAF, autoregressive NSF).
    pub made_order: MadeOrder,
    /// Embedding net applied to the (z-scored) context before it conditions the estimator, trained
    /// with it (`None`: the context as it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingConfig>,
}

impl Default for EstimatorConfig {
    /// sbi's NSF defaults: 5 transforms, 50 hidden units, 10 bins, coupling with 2 residual blocks.
    fn default() -> Self {
        Self {
            kind: EstimatorKind::Nsf,
            transforms: 5,
            hidden: 50,
            blocks: 2,
            bins: 10,
            tail_bound: 3.0,
            components: 10,
            conditional_affine: false,
            made_activation: MadeActivation::Relu,
            made_order: MadeOrder::Reversed,
            embedding: None,
        }
    }
}

impl EstimatorConfig {
    /// An error for settings no estimator can be built from: no hidden units, spline bins or
    /// mixture components, sizes beyond any memory (more than 2³² hidden weights, more than
    /// 65,536 bins or components), or a tail bound that is not finite and positive.
    pub fn validate(&self) -> crate::Result<()> {
        let counts = [("hidden", self.hidden), ("bins", self.bins), ("components", self.components)];
        if let Some((name, _)) = counts.iter().find(|(_, n)| *n == 0) {
            return Err(crate::Error::InvalidInput(format!("the density estimator's `{name}` must be at least 1")));
        }
        if let Some((name, n)) =
            [("bins", self.bins), ("components", self.components)].into_iter().find(|(_, n)| *n > 1 << 16)
        {
            return Err(crate::Error::InvalidInput(format!(
                "the density estimator's `{name}` = {n} is beyond 65,536 (a typo or a corrupt model file?)"
            )));
        }
        let hidden_weights = self
            .transforms
            .max(1)
            .checked_mul(self.blocks.saturating_add(1))
            .and_then(|layers| layers.checked_mul(self.hidden).and_then(|w| w.checked_mul(self.hidden)));
        if hidden_weights.is_none_or(|w| w > 1 << 32) {
            return Err(crate::Error::InvalidInput(format!(
                "the density estimator would hold more than 2³² hidden weights (transforms {} × (blocks {} + 1) × \
                 hidden {}²); a typo or a corrupt model file?",
                self.transforms, self.blocks, self.hidden
            )));
        }
        if !(self.tail_bound.is_finite() && self.tail_bound > 0.0) {
            return Err(crate::Error::InvalidInput(format!(
                "the density estimator's `tail_bound` must be finite and positive, got {}",
                self.tail_bound
            )));
        }
        Ok(())
    }
}

/// The density estimator families as one burn module (burn modules cannot be trait objects).
// One value per model, so the variants' size difference does not matter (and Module cannot box).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum DensityEstimator {
    /// Any normalizing flow.
    Flow(Flow),
    /// A mixture density network.
    Mdn(Mdn),
}

impl DensityEstimator {
    /// Build an untrained estimator of q(v | c) with `dim` variables and `context` features.
    pub fn new(config: &EstimatorConfig, dim: usize, context: usize, rng: &mut LindleyRng, device: &Device) -> Self {
        let spline = Transformer::Spline { bins: config.bins, bound: config.tail_bound };
        let coupling = LayerKind::Coupling { blocks: config.blocks };
        let autoregressive = LayerKind::Autoregressive {
            tanh: config.made_activation == MadeActivation::Tanh,
            hidden_layers: config.blocks + 1,
            permuted: config.made_order == MadeOrder::Permuted,
        };
        let flow = |kind, transformer, transforms, affine, rng: &mut LindleyRng| {
            DensityEstimator::Flow(Flow::new(
                dim,
                context,
                transforms,
                kind,
                transformer,
                config.hidden,
                affine,
                rng,
                device,
            ))
        };
        let affine = config.conditional_affine;
        match config.kind {
            EstimatorKind::Nsf => flow(coupling, spline, config.transforms, affine, rng),
            EstimatorKind::NsfAutoregressive => flow(autoregressive, spline, config.transforms, affine, rng),
            EstimatorKind::Maf => flow(autoregressive, Transformer::Affine, config.transforms, affine, rng),
            EstimatorKind::AffineCoupling => flow(coupling, Transformer::Affine, config.transforms, affine, rng),
            EstimatorKind::Gaussian => flow(coupling, Transformer::Affine, 0, true, rng),
            EstimatorKind::Mdn => {
                DensityEstimator::Mdn(Mdn::new(dim, context, config.components, config.hidden, rng, device))
            }
        }
    }
}

impl ConditionalDensity for DensityEstimator {
    fn log_prob(&self, inputs: Tensor<2>, context: Tensor<2>) -> Tensor<1> {
        match self {
            DensityEstimator::Flow(f) => f.log_prob(inputs, context),
            DensityEstimator::Mdn(m) => m.log_prob(inputs, context),
        }
    }

    fn sample(&self, context: Tensor<2>, rng: &mut LindleyRng) -> Tensor<2> {
        match self {
            DensityEstimator::Flow(f) => f.sample(context, rng),
            DensityEstimator::Mdn(m) => m.sample(context, rng),
        }
    }

    fn sample_shared(&self, context: Tensor<2>, n: usize, rng: &mut LindleyRng) -> Tensor<2> {
        match self {
            DensityEstimator::Flow(f) => f.sample_shared(context, n, rng),
            DensityEstimator::Mdn(m) => m.sample(context.repeat_dim(0, n), rng),
        }
    }
}

/// A `[rows, cols]` tensor of independent standard-normal draws from `rng`.
pub fn standard_normal(rows: usize, cols: usize, rng: &mut LindleyRng, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..rows * cols).map(|_| StandardNormal.sample(rng)).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

#[cfg(test)]
mod tests;
