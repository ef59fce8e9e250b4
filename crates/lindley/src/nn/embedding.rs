//! Embedding (summary) networks: learned maps s = e(x) from the z-scored data to a few features,
//! trained end to end with the estimator they feed (NPE's flow, NRE's classifier), as in
//! Greenberg et al. 2019, Radev et al. 2020 (BayesFlow) and sbi's `embedding_net`.
//!
//! - [`EmbeddingKind::Mlp`]: a multilayer perceptron on the whole x.
//! - [`EmbeddingKind::DeepSets`] (Zaheer et al. 2017, "Deep Sets"): x is `n` iid trials of
//!   `trial_dim` values, stored trial after trial; e(x) = ρ(mean_i φ(x_i)), which is invariant to
//!   any permutation of the trials.
//! - [`EmbeddingKind::Cnn`]: a 1-D convolutional net for time series, `channels` series of equal
//!   length stored channel after channel; convolution (same padding) + ReLU + max pooling per
//!   layer, then an MLP head (the layout of sbi's `CNNEmbedding`).
//! - [`EmbeddingKind::Lstm`]: an LSTM (Hochreiter & Schmidhuber 1997), optionally bidirectional
//!   (Schuster & Paliwal 1997), over the time steps of the same layout; the last hidden state of
//!   each direction goes through a linear head.
//!
//! The shape of x is part of the configuration ([`EmbeddingConfig::validate`] checks it against
//! the data and says what does not fit). Weights are drawn from lindley's seeded RNG: uniform in
//! ±1/√fan_in like PyTorch's defaults, so the same seed gives the same network.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::pool::{MaxPool1d, MaxPool1dConfig};
use burn::nn::{BiLstm, BiLstmConfig, Initializer, Lstm, LstmConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use ndarray::ArrayView2;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Mlp;
use crate::flows::Standardizer;
use crate::rng::LindleyRng;
use crate::{Error, Result};

/// The family of embedding net.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmbeddingKind {
    /// A multilayer perceptron on the whole of x.
    #[serde(rename = "mlp")]
    Mlp,
    /// A permutation-invariant DeepSets net for iid trials.
    #[serde(rename = "deepsets")]
    DeepSets,
    /// A 1-D convolutional net for time series.
    #[serde(rename = "cnn")]
    Cnn,
    /// A (bidirectional) LSTM for time series.
    #[serde(rename = "lstm")]
    Lstm,
}

impl EmbeddingKind {
    /// All kinds, for help texts and parsing.
    pub const ALL: [EmbeddingKind; 4] =
        [EmbeddingKind::Mlp, EmbeddingKind::DeepSets, EmbeddingKind::Cnn, EmbeddingKind::Lstm];

    /// The name used on the command line and in model files.
    pub fn name(&self) -> &'static str {
        match self {
            EmbeddingKind::Mlp => "mlp",
            EmbeddingKind::DeepSets => "deepsets",
            EmbeddingKind::Cnn => "cnn",
            EmbeddingKind::Lstm => "lstm",
        }
    }

    /// The module variant name of [`EmbeddingNet`] that holds this kind's weights (how the
    /// weights are named in model files).
    fn variant(&self) -> &'static str {
        match self {
            EmbeddingKind::Mlp => "Mlp",
            EmbeddingKind::DeepSets => "DeepSets",
            EmbeddingKind::Cnn => "Cnn",
            EmbeddingKind::Lstm => "Lstm",
        }
    }

    /// The kind whose weights are stored under the module variant name `variant`.
    pub fn from_variant(variant: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.variant() == variant)
    }
}

impl std::str::FromStr for EmbeddingKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
            Error::InvalidInput(format!("unknown embedding net '{s}'; choose one of {}", names.join(", ")))
        })
    }
}

/// Architecture and input shape of an embedding net; stored in model files (in the estimator's or
/// the classifier's settings) so that a saved model is rebuilt with the same net.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddingConfig {
    /// Which family.
    pub kind: EmbeddingKind,
    /// Output features e(x).
    pub features: usize,
    /// Hidden units of the MLP layers (MLP, DeepSets' φ and ρ, the CNN's head) and of the LSTM.
    pub hidden: usize,
    /// Hidden layers of each MLP (MLP, DeepSets' φ and ρ, the CNN's head).
    pub layers: usize,
    /// DeepSets: values per trial; x holds its trials one after another.
    pub trial_dim: usize,
    /// CNN and LSTM: number of series; x holds each channel's whole series in turn.
    pub channels: usize,
    /// CNN: output channels of each convolution layer.
    pub conv_channels: Vec<usize>,
    /// CNN: kernel width of the convolutions (same padding: the length is kept).
    pub kernel: usize,
    /// CNN: width and stride of the max pooling after each convolution (1: no pooling).
    pub pool: usize,
    /// LSTM: also run the sequence backwards and use both last hidden states.
    pub bidirectional: bool,
}

impl Default for EmbeddingConfig {
    /// sbi's defaults where it has them: 20 output features, CNN with 6 and 12 channels, kernel 5,
    /// pooling 2 and two 50-unit linear layers; 50 hidden units and 2 hidden layers elsewhere;
    /// scalar trials, one channel, a bidirectional LSTM.
    fn default() -> Self {
        Self {
            kind: EmbeddingKind::Mlp,
            features: 20,
            hidden: 50,
            layers: 2,
            trial_dim: 1,
            channels: 1,
            conv_channels: vec![6, 12],
            kernel: 5,
            pool: 2,
            bidirectional: true,
        }
    }
}

impl EmbeddingConfig {
    /// The default settings of `kind`.
    pub fn of_kind(kind: EmbeddingKind) -> Self {
        Self { kind, ..Self::default() }
    }

    /// Check that the settings make a net for x of `x_dim` values: a whole number of trials
    /// (DeepSets), of equally long channels (CNN, LSTM), pooling that leaves at least one time step
    /// (CNN), and non-zero widths.
    pub fn validate(&self, x_dim: usize) -> Result<()> {
        let name = self.kind.name();
        let fail = |message: String| Err(Error::InvalidInput(format!("{name} embedding net: {message}")));
        if x_dim == 0 {
            return fail("x has no values".into());
        }
        if self.features == 0 || self.hidden == 0 {
            return fail(format!("features ({}) and hidden units ({}) must be at least 1", self.features, self.hidden));
        }
        match self.kind {
            EmbeddingKind::Mlp => Ok(()),
            EmbeddingKind::DeepSets => {
                if self.trial_dim == 0 || !x_dim.is_multiple_of(self.trial_dim) {
                    return fail(format!(
                        "x has {x_dim} values, which is not a whole number of trials of trial_dim = {} values \
                         (set the values per trial, e.g. --trial-dim)",
                        self.trial_dim
                    ));
                }
                Ok(())
            }
            EmbeddingKind::Cnn | EmbeddingKind::Lstm => {
                if self.channels == 0 || !x_dim.is_multiple_of(self.channels) {
                    return fail(format!(
                        "x has {x_dim} values, which cannot be split into channels = {} series of equal length \
                         (set the number of series, e.g. --channels)",
                        self.channels
                    ));
                }
                if self.kind == EmbeddingKind::Lstm {
                    return Ok(());
                }
                if self.conv_channels.is_empty() || self.conv_channels.contains(&0) {
                    return fail(format!("conv_channels {:?} needs at least one layer, each ≥ 1", self.conv_channels));
                }
                if self.kernel == 0 || self.pool == 0 {
                    return fail(format!("kernel ({}) and pool ({}) must be at least 1", self.kernel, self.pool));
                }
                let length = x_dim / self.channels;
                if self.cnn_length(length) == 0 {
                    return fail(format!(
                        "series of length {length} pooled by {} in each of {} layers leave no time step; \
                         use fewer conv layers or a smaller pool",
                        self.pool,
                        self.conv_channels.len()
                    ));
                }
                Ok(())
            }
        }
    }

    /// Length of a series of `length` steps after the CNN's layers (each pools by `pool`).
    fn cnn_length(&self, length: usize) -> usize {
        self.conv_channels.iter().fold(length, |l, _| l / self.pool.max(1))
    }

    /// The z-scoring of x this net expects, fitted on the rows of `x`: statistics pooled over the
    /// values that play the same role — one mean and std per trial value for DeepSets (so that
    /// permuting trials commutes with the z-scoring), one per channel for the CNN and the LSTM
    /// (so that a series keeps its shape), and one per column for the MLP.
    pub fn standardizer(&self, x: ArrayView2<f64>) -> Result<Standardizer> {
        let dim = x.ncols();
        self.validate(dim)?;
        let groups: Vec<usize> = match self.kind {
            EmbeddingKind::Mlp => return Ok(Standardizer::fit(x)),
            EmbeddingKind::DeepSets => (0..dim).map(|j| j % self.trial_dim).collect(),
            EmbeddingKind::Cnn | EmbeddingKind::Lstm => {
                let length = dim / self.channels;
                (0..dim).map(|j| j / length).collect()
            }
        };
        Ok(Standardizer::fit_pooled(x, &groups))
    }
}

/// The z-scoring of the context x for an optional embedding net (see
/// [`EmbeddingConfig::standardizer`]); per column without one.
pub fn context_standardizer(embedding: Option<&EmbeddingConfig>, x: ArrayView2<f64>) -> Result<Standardizer> {
    match embedding {
        Some(config) => config.standardizer(x),
        None => Ok(Standardizer::fit(x)),
    }
}

/// The embedding nets as one burn module (burn modules cannot be trait objects).
// One net per estimator: the size gap between the variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum EmbeddingNet {
    /// A multilayer perceptron.
    Mlp(Mlp),
    /// A permutation-invariant DeepSets net.
    DeepSets(DeepSets),
    /// A 1-D convolutional net.
    Cnn(Cnn),
    /// A (bidirectional) LSTM.
    Lstm(LstmEmbedding),
}

impl EmbeddingNet {
    /// An untrained net for x of `x_dim` values; an error says which shape setting does not fit.
    pub fn new(config: &EmbeddingConfig, x_dim: usize, rng: &mut LindleyRng, device: &Device) -> Result<Self> {
        config.validate(x_dim)?;
        let hidden = vec![config.hidden; config.layers];
        Ok(match config.kind {
            EmbeddingKind::Mlp => EmbeddingNet::Mlp(Mlp::new(x_dim, &hidden, config.features, 1.0, rng, device)),
            EmbeddingKind::DeepSets => EmbeddingNet::DeepSets(DeepSets {
                phi: Mlp::new(config.trial_dim, &hidden, config.hidden, 1.0, rng, device),
                rho: Mlp::new(config.hidden, &hidden, config.features, 1.0, rng, device),
                trial_dim: config.trial_dim,
            }),
            EmbeddingKind::Cnn => EmbeddingNet::Cnn(Cnn::new(config, x_dim, rng, device)),
            EmbeddingKind::Lstm => EmbeddingNet::Lstm(LstmEmbedding::new(config, rng, device)),
        })
    }

    /// e(x) `[batch, features]` for z-scored `x [batch, x_dim]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            EmbeddingNet::Mlp(net) => net.forward(x),
            EmbeddingNet::DeepSets(net) => net.forward(x),
            EmbeddingNet::Cnn(net) => net.forward(x),
            EmbeddingNet::Lstm(net) => net.forward(x),
        }
    }
}

/// DeepSets (Zaheer et al. 2017): e(x) = ρ(1/n Σᵢ φ(xᵢ)) over the n trials xᵢ of x.
#[derive(Module, Debug)]
pub struct DeepSets {
    phi: Mlp,
    rho: Mlp,
    trial_dim: usize,
}

impl DeepSets {
    /// Apply to `x [batch, n · trial_dim]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [batch, dim] = x.dims();
        let trials = dim / self.trial_dim;
        let per_trial = self.phi.forward(x.reshape([batch * trials, self.trial_dim]));
        let width = per_trial.dims()[1];
        let pooled = per_trial.reshape([batch, trials, width]).mean_dim(1).reshape([batch, width]);
        self.rho.forward(pooled)
    }
}

/// A 1-D CNN: per layer h ↦ maxpool(relu(conv(h))), then an MLP on the flattened result.
#[derive(Module, Debug)]
pub struct Cnn {
    convs: Vec<Conv1d>,
    pool: MaxPool1d,
    head: Mlp,
    channels: usize,
}

impl Cnn {
    fn new(config: &EmbeddingConfig, x_dim: usize, rng: &mut LindleyRng, device: &Device) -> Self {
        let mut convs = Vec::with_capacity(config.conv_channels.len());
        let mut inputs = config.channels;
        for &outputs in &config.conv_channels {
            let conv = Conv1dConfig::new(inputs, outputs, config.kernel)
                .with_padding(PaddingConfig1d::Same)
                .with_initializer(Initializer::Zeros)
                .init(device);
            convs.push(reinitialise(conv, 1.0 / ((inputs * config.kernel) as f64).sqrt(), rng));
            inputs = outputs;
        }
        let flat = inputs * config.cnn_length(x_dim / config.channels);
        let hidden = vec![config.hidden; config.layers];
        Self {
            convs,
            pool: MaxPool1dConfig::new(config.pool).with_stride(config.pool).init(),
            head: Mlp::new(flat, &hidden, config.features, 1.0, rng, device),
            channels: config.channels,
        }
    }

    /// Apply to `x [batch, channels · length]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [batch, dim] = x.dims();
        let mut h = x.reshape([batch, self.channels, dim / self.channels]);
        for conv in &self.convs {
            h = self.pool.forward(relu(conv.forward(h)));
        }
        let [_, channels, length] = h.dims();
        self.head.forward(h.reshape([batch, channels * length]))
    }
}

/// The recurrent layer of an [`LstmEmbedding`].
#[allow(clippy::large_enum_variant)] // one per net, see [`EmbeddingNet`]
#[derive(Module, Debug)]
pub enum Recurrent {
    /// Forward in time only.
    Forward(Lstm),
    /// Both directions.
    Bidirectional(BiLstm),
}

/// An LSTM over the time steps of x; the last hidden state of each direction, through a linear
/// layer, is the embedding.
#[derive(Module, Debug)]
pub struct LstmEmbedding {
    recurrent: Recurrent,
    head: Mlp,
    channels: usize,
}

impl LstmEmbedding {
    fn new(config: &EmbeddingConfig, rng: &mut LindleyRng, device: &Device) -> Self {
        let bound = 1.0 / (config.hidden as f64).sqrt();
        let recurrent = if config.bidirectional {
            let lstm = BiLstmConfig::new(config.channels, config.hidden, true)
                .with_initializer(Initializer::Zeros)
                .init(device);
            Recurrent::Bidirectional(reinitialise(lstm, bound, rng))
        } else {
            let lstm =
                LstmConfig::new(config.channels, config.hidden, true).with_initializer(Initializer::Zeros).init(device);
            Recurrent::Forward(reinitialise(lstm, bound, rng))
        };
        let directions = if config.bidirectional { 2 } else { 1 };
        Self {
            recurrent,
            head: Mlp::new(directions * config.hidden, &[], config.features, 1.0, rng, device),
            channels: config.channels,
        }
    }

    /// Apply to `x [batch, channels · length]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [batch, dim] = x.dims();
        let steps = x.reshape([batch, self.channels, dim / self.channels]).swap_dims(1, 2);
        let last = match &self.recurrent {
            Recurrent::Forward(lstm) => lstm.forward(steps, None).1.hidden,
            Recurrent::Bidirectional(lstm) => {
                // hidden: [2, batch, hidden] → [batch, 2 · hidden].
                let hidden = lstm.forward(steps, None).1.hidden;
                let width = hidden.dims()[2];
                hidden.swap_dims(0, 1).reshape([batch, 2 * width])
            }
        };
        self.head.forward(last)
    }
}

/// Redraw every parameter of `module` uniformly in ±`bound` from `rng` (PyTorch's default for
/// convolutions and LSTMs), in the module's fixed traversal order.
fn reinitialise<M: Module>(module: M, bound: f64, rng: &mut LindleyRng) -> M {
    struct Redraw<'a> {
        rng: &'a mut LindleyRng,
        bound: f64,
    }
    impl ModuleMapper for Redraw<'_> {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (rng, bound) = (&mut *self.rng, self.bound);
            param.map(|old| {
                let dims: [usize; D] = old.dims();
                let count = dims.iter().product();
                let values: Vec<f32> = (0..count).map(|_| rng.random_range(-bound..=bound) as f32).collect();
                let fresh = Tensor::<D>::from_data(TensorData::new(values, dims), &old.device());
                if old.is_require_grad() { fresh.require_grad() } else { fresh }
            })
        }
    }
    module.map(&mut Redraw { rng, bound })
}

#[cfg(test)]
mod tests;
