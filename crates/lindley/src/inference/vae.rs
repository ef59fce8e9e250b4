//! Variational-autoencoder SBI ("Accelerating simulation-based inference with variational
//! autoencoders"): a latent variable z carries what x leaves uncertain about θ, and the posterior
//! is sampled by drawing z and decoding θ.
//!
//! - CP-VAE (conditional prior): encoder q(z | θ, x), conditional prior p(z | x) and decoder
//!   p(θ | x, z), all diagonal Gaussians; loss = KL(q(z | θ, x) ‖ p(z | x)) − E_q[log p(θ | x, z)],
//!   the negative evidence lower bound of log p(θ | x).
//! - UP-VAE (unconditional prior): encoder q(z | θ, x), prior N(0, I), θ-decoder p(θ | x, z) and
//!   data decoder p(x | z); loss = 0.4·KL(q ‖ N(0, I)) − 0.4·E_q[log p(θ | x, z)] −
//!   0.2·E_q[log p(x | z)] (the paper's weights).
//!
//! Every network is an MLP with Leaky-ReLU (slope 0.1) whose output holds the mean and the
//! log-variance of a diagonal Gaussian; θ and x are z-scored with statistics of the training set;
//! E_q is estimated with one reparameterised draw z = μ_q + σ_q·ε per pair, ε from a seeded stream.
//! Training goes through the shared loop of [`crate::train`] (AdamW, validation split, early
//! stopping, gradient clipping). Inference draws z from p(z | x_o) (CP) or N(0, I) (UP), then θ
//! from p(θ | x_o, z), and keeps the draws inside the prior support ([`VaePosterior`]). The
//! posterior density is an integral over z that the method never approximates, so
//! [`Posterior::log_prob`] is an error.

use std::cell::RefCell;
use std::path::Path;

use burn::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{Method, ModelHeader};
use super::posterior::{in_support, rejection_sample};
use super::simulations::{Simulations, simulation_api};
use super::{Posterior, PosteriorSamples, SampleOptions, check_observation};
use crate::flows::{EstimatorConfig, Standardizer, standard_normal};
use crate::nn::Mlp;
use crate::rng::{LindleyRng, seeded, substream};
use crate::tensor_ops::{HALF_LOG_TWO_PI, matrix_to_tensor, tensor_to_matrix, vector};
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};
use crate::{Error, Result};

/// Slope of the Leaky-ReLU between layers (the paper's 0.1).
pub const LEAKY_SLOPE: f64 = 0.1;

/// Log-variances are clamped to ±this, so that a collapsing or exploding variance cannot make the
/// loss infinite.
const LOG_VARIANCE_LIMIT: f64 = 15.0;

/// Rows per parallel task when drawing posterior samples.
const DRAW_CHUNK: usize = 2_500;

/// Which of the paper's two models.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VaeKind {
    /// CP-VAE: a learned conditional prior p(z | x).
    #[default]
    Conditional,
    /// UP-VAE: the standard-normal prior p(z) = N(0, I) and a data decoder p(x | z).
    Unconditional,
}

impl VaeKind {
    /// The model-file method of this kind.
    pub fn method(self) -> Method {
        match self {
            VaeKind::Conditional => Method::Cpvae,
            VaeKind::Unconditional => Method::Upvae,
        }
    }
}

/// The architecture of a VAE estimator, stored in its model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeArchitecture {
    /// CP-VAE or UP-VAE.
    pub kind: VaeKind,
    /// Dimension of the latent z.
    pub latent: usize,
    /// Hidden-layer widths of every MLP (encoder, prior, decoders).
    pub hidden: Vec<usize>,
}

/// Weights of the three loss terms: weight_kl·KL − weight_theta·log p(θ | x, z) −
/// weight_data·log p(x | z) (the last only for UP-VAE).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VaeWeights {
    /// Weight of KL(q(z | θ, x) ‖ prior).
    pub kl: f64,
    /// Weight of the θ reconstruction term.
    pub theta: f64,
    /// Weight of the data reconstruction term (UP-VAE).
    pub data: f64,
}

impl VaeWeights {
    /// The paper's weights: CP-VAE the plain negative ELBO (1, 1), UP-VAE 0.4 (KL), 0.4 (θ),
    /// 0.2 (x).
    pub fn paper(kind: VaeKind) -> Self {
        match kind {
            VaeKind::Conditional => Self { kl: 1.0, theta: 1.0, data: 0.0 },
            VaeKind::Unconditional => Self { kl: 0.4, theta: 0.4, data: 0.2 },
        }
    }
}

/// Settings of a VAE estimator; the defaults are the paper's published settings for two_moons
/// (3 hidden layers of 128 units, latent dimension = dim θ; AdamW with learning rate 5·10⁻⁴ and
/// PyTorch's default weight decay 0.01, batch 32, up to 1000 epochs with patience 20, gradient
/// clipping at 3, 10% validation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VaeConfig {
    /// CP-VAE or UP-VAE.
    pub kind: VaeKind,
    /// Latent dimension (None: the number of parameters).
    pub latent: Option<usize>,
    /// Hidden-layer widths of every MLP.
    pub hidden: Vec<usize>,
    /// Loss weights (None: [`VaeWeights::paper`] for the kind).
    pub weights: Option<VaeWeights>,
    /// The training loop.
    pub training: TrainConfig,
}

impl Default for VaeConfig {
    fn default() -> Self {
        Self {
            kind: VaeKind::Conditional,
            latent: None,
            hidden: vec![128; 3],
            weights: None,
            training: TrainConfig {
                batch_size: 32,
                learning_rate: 5e-4,
                weight_decay: 0.01,
                validation_fraction: 0.1,
                patience: 20,
                max_epochs: 1000,
                clip_grad_norm: Some(3.0),
                seed: 0,
            },
        }
    }
}

impl VaeConfig {
    /// The defaults of `kind` for an sbibm task: the paper's batch sizes (16 for slcp, 128 for
    /// lotka_volterra, 32 otherwise); 3 × 128 hidden units (the paper's two_moons network, used
    /// for every task here).
    pub fn for_sbibm_task(kind: VaeKind, task: &str) -> Self {
        let mut config = Self { kind, ..Self::default() };
        config.training.batch_size = match task {
            "slcp" | "slcp_distractors" => 16,
            "lotka_volterra" => 128,
            _ => 32,
        };
        config
    }

    /// The loss weights in force.
    pub fn loss_weights(&self) -> VaeWeights {
        self.weights.clone().unwrap_or_else(|| VaeWeights::paper(self.kind))
    }

    /// The architecture for `parameter_dim` parameters, or an error for unusable settings.
    pub fn architecture(&self, parameter_dim: usize) -> Result<VaeArchitecture> {
        let latent = self.latent.unwrap_or(parameter_dim);
        if latent == 0 {
            return Err(Error::InvalidInput("the VAE's latent dimension must be at least 1".into()));
        }
        if self.hidden.contains(&0) {
            return Err(Error::InvalidInput(format!(
                "every hidden layer needs at least 1 unit, got {:?}",
                self.hidden
            )));
        }
        let weights = self.loss_weights();
        if [weights.kl, weights.theta, weights.data].iter().any(|w| !(w.is_finite() && *w >= 0.0))
            || weights.theta <= 0.0
        {
            return Err(Error::InvalidInput(format!(
                "VAE loss weights must be finite and ≥ 0, with a positive θ weight; got {weights:?}"
            )));
        }
        Ok(VaeArchitecture { kind: self.kind, latent, hidden: self.hidden.clone() })
    }
}

/// A diagonal Gaussian N(mean, exp(log_variance)) per row.
struct Gaussian {
    mean: Tensor<2>,
    log_variance: Tensor<2>,
}

impl Gaussian {
    /// Split an MLP output `[B, 2d]` into mean and (clamped) log-variance.
    fn from_output(output: Tensor<2>) -> Self {
        let d = output.dims()[1] / 2;
        let mean = output.clone().slice(s![.., 0..d]);
        let log_variance = output.slice(s![.., d..2 * d]).clamp(-LOG_VARIANCE_LIMIT, LOG_VARIANCE_LIMIT);
        Self { mean, log_variance }
    }

    /// μ + σ·ε.
    fn reparameterise(&self, noise: Tensor<2>) -> Tensor<2> {
        self.mean.clone() + self.log_variance.clone().mul_scalar(0.5).exp() * noise
    }

    /// log N(v; μ, σ²) summed over columns, for each row.
    fn log_prob(&self, v: Tensor<2>) -> Tensor<1> {
        let d = v.dims()[1] as f64;
        let squared = (v - self.mean.clone()).square() * self.log_variance.clone().neg().exp();
        (squared + self.log_variance.clone())
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .mul_scalar(-0.5)
            .sub_scalar(d * HALF_LOG_TWO_PI)
    }

    /// KL(self ‖ other) summed over columns, for each row:
    /// ½ Σ [log σ₂² − log σ₁² + (σ₁² + (μ₁ − μ₂)²)/σ₂² − 1].
    fn kl(&self, other: &Gaussian) -> Tensor<1> {
        let ratio = (self.log_variance.clone() - other.log_variance.clone()).exp();
        let difference = (self.mean.clone() - other.mean.clone()).square() * other.log_variance.clone().neg().exp();
        (ratio + difference - (self.log_variance.clone() - other.log_variance.clone()))
            .sub_scalar(1.0)
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .mul_scalar(0.5)
    }

    /// KL(self ‖ N(0, I)) summed over columns: ½ Σ [σ² + μ² − 1 − log σ²].
    fn kl_standard(&self) -> Tensor<1> {
        (self.log_variance.clone().exp() + self.mean.clone().square() - self.log_variance.clone())
            .sub_scalar(1.0)
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .mul_scalar(0.5)
    }
}

/// The networks of a CP-VAE or UP-VAE, with the z-scoring of θ and x.
#[derive(Module, Debug)]
pub struct VaeNetwork {
    encoder: Mlp,
    prior: Option<Mlp>,
    decoder: Mlp,
    data_decoder: Option<Mlp>,
    theta_mean: Tensor<1>,
    theta_std: Tensor<1>,
    x_mean: Tensor<1>,
    x_std: Tensor<1>,
    #[module(skip)]
    latent: usize,
}

impl VaeNetwork {
    /// Untrained networks of `architecture` for θ and x standardised by the given statistics:
    /// encoder [θ, x] → z, conditional prior x → z (CP-VAE), decoder [x, z] → θ, and data
    /// decoder z → x (UP-VAE), each giving a mean and a log-variance per output.
    pub fn new(
        architecture: &VaeArchitecture,
        theta: &Standardizer,
        x: &Standardizer,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Self {
        let (p, d, l) = (theta.dim(), x.dim(), architecture.latent);
        let hidden = &architecture.hidden;
        let conditional = architecture.kind == VaeKind::Conditional;
        let encoder = Mlp::new(p + d, hidden, 2 * l, 1.0, rng, device);
        let prior = conditional.then(|| Mlp::new(d, hidden, 2 * l, 1.0, rng, device));
        let decoder = Mlp::new(d + l, hidden, 2 * p, 1.0, rng, device);
        let data_decoder = (!conditional).then(|| Mlp::new(l, hidden, 2 * d, 1.0, rng, device));
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        Self {
            encoder,
            prior,
            decoder,
            data_decoder,
            theta_mean: vector(&f32s(&theta.mean), device),
            theta_std: vector(&f32s(&theta.std), device),
            x_mean: vector(&f32s(&x.mean), device),
            x_std: vector(&f32s(&x.std), device),
            latent: l,
        }
    }

    fn standardise_theta(&self, theta: Tensor<2>) -> Tensor<2> {
        (theta - self.theta_mean.clone().unsqueeze_dim(0)) / self.theta_std.clone().unsqueeze_dim(0)
    }

    fn standardise_x(&self, x: Tensor<2>) -> Tensor<2> {
        (x - self.x_mean.clone().unsqueeze_dim(0)) / self.x_std.clone().unsqueeze_dim(0)
    }

    /// The prior of z for z-scored `x [B, D]`: p(z | x) (CP-VAE) or N(0, I) (UP-VAE, `None`).
    fn latent_prior(&self, x: Tensor<2>) -> Option<Gaussian> {
        self.prior.as_ref().map(|net| Gaussian::from_output(net.forward_leaky(x, LEAKY_SLOPE)))
    }

    /// p(θ | x, z) in z-scored units.
    fn decode(&self, x: Tensor<2>, z: Tensor<2>) -> Gaussian {
        Gaussian::from_output(self.decoder.forward_leaky(Tensor::cat(vec![x, z], 1), LEAKY_SLOPE))
    }

    /// The weighted negative ELBO of each pair (θ, x) (user units), with the reparameterisation
    /// noise ε `[B, latent]`: weights.kl·KL(q(z | θ, x) ‖ prior) − weights.theta·log p(θ̃ | x̃, z)
    /// − weights.data·log p(x̃ | z), z = μ_q + σ_q·ε, densities of the z-scored θ̃ and x̃.
    pub fn loss(&self, theta: Tensor<2>, x: Tensor<2>, noise: Tensor<2>, weights: &VaeWeights) -> Tensor<1> {
        let t = self.standardise_theta(theta);
        let v = self.standardise_x(x);
        let posterior =
            Gaussian::from_output(self.encoder.forward_leaky(Tensor::cat(vec![t.clone(), v.clone()], 1), LEAKY_SLOPE));
        let z = posterior.reparameterise(noise);
        let kl = match self.latent_prior(v.clone()) {
            Some(prior) => posterior.kl(&prior),
            None => posterior.kl_standard(),
        };
        let mut loss =
            kl.mul_scalar(weights.kl) - self.decode(v.clone(), z.clone()).log_prob(t).mul_scalar(weights.theta);
        if let Some(net) = &self.data_decoder {
            let data = Gaussian::from_output(net.forward_leaky(z, LEAKY_SLOPE));
            loss = loss - data.log_prob(v).mul_scalar(weights.data);
        }
        loss
    }

    /// `n` draws of θ (user units) for one observation `x [1, D]` (user units): z from the prior
    /// (p(z | x) or N(0, I)), then θ from p(θ | x, z).
    pub fn sample(&self, x: Tensor<2>, n: usize, rng: &mut LindleyRng) -> Tensor<2> {
        let device = x.device();
        let v = self.standardise_x(x);
        let noise = standard_normal(n, self.latent, rng, &device);
        let z = match self.latent_prior(v.clone()) {
            Some(prior) => prior.reparameterise(noise),
            None => noise,
        };
        let decoded = self.decode(v.repeat_dim(0, n), z);
        let p = decoded.mean.dims()[1];
        let t = decoded.reparameterise(standard_normal(n, p, rng, &device));
        t * self.theta_std.clone().unsqueeze_dim(0) + self.theta_mean.clone().unsqueeze_dim(0)
    }
}

/// A CP-VAE or UP-VAE run: a prior, accumulated simulations, and settings.
#[derive(Clone, Debug)]
pub struct Vae {
    simulations: Simulations,
    config: VaeConfig,
}

simulation_api!(Vae, VaeConfig);

impl Vae {
    /// Train the networks on every simulation appended so far (θ and x z-scored on them) and
    /// return the posterior. The reparameterisation noise comes from a stream seeded by the
    /// training seed, so the same seed gives the same model.
    pub fn train(&self, progress: &mut dyn FnMut(&EpochProgress)) -> Result<(VaePosterior, TrainReport)> {
        let data = self.simulations.training_data()?;
        let architecture = self.config.architecture(self.simulations.prior().dim())?;
        let weights = self.config.loss_weights();
        let device = crate::device::compute_device()?.autodiff();
        let training = &self.config.training;
        let theta_standardizer = Standardizer::fit(data.theta());
        let x_standardizer = Standardizer::fit(data.x());
        let network =
            VaeNetwork::new(&architecture, &theta_standardizer, &x_standardizer, &mut seeded(training.seed), &device);
        let noise_rng = RefCell::new(substream(training.seed, 1));
        let latent = architecture.latent;
        let loss = |m: &VaeNetwork, theta: Tensor<2>, x: Tensor<2>| {
            let rows = theta.dims()[0];
            let noise = standard_normal(rows, latent, &mut noise_rng.borrow_mut(), &theta.device());
            m.loss(theta, x, noise, &weights).mean()
        };
        let (network, report) = train(network, data.theta(), data.x(), loss, training, &device, progress)?;
        let mut header = self.simulations.header(
            architecture.kind.method(),
            EstimatorConfig::default(),
            (theta_standardizer, x_standardizer),
            &report,
        );
        header.vae = Some(architecture);
        let device = crate::device::compute_device()?;
        Ok((VaePosterior { network: network.valid(), header, device }, report))
    }
}

/// The posterior of a trained CP-VAE or UP-VAE: z from the (conditional) prior, θ from the
/// decoder, kept when inside the prior support (rejection, as [`super::DirectPosterior`]).
#[derive(Debug)]
pub struct VaePosterior {
    network: VaeNetwork,
    header: ModelHeader,
    device: Device,
}

impl VaePosterior {
    /// The model description (method, architecture, prior, names, training summary).
    pub fn header(&self) -> &ModelHeader {
        &self.header
    }

    /// Write the model to `path` (safetensors weights, JSON header with the architecture).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::model::save(path, &self.header, &self.network)
    }

    /// Read a model written by [`VaePosterior::save`]; errors say if the file is not a lindley
    /// model, is corrupt, belongs to another method, or holds weights that do not fit the
    /// architecture its header describes.
    pub fn load(path: &Path) -> Result<Self> {
        let method = ModelHeader::method_of(path)?;
        if !matches!(method, Method::Cpvae | Method::Upvae) {
            return Err(Error::Model {
                path: path.into(),
                message: format!("this is a {} model, not a VAE (cpvae or upvae)", method.name()),
            });
        }
        let header = ModelHeader::read(path, method)?;
        let architecture = header.vae.clone().expect("ModelHeader::read checks a VAE header's architecture");
        let device = crate::device::compute_device()?;
        let skeleton = VaeNetwork::new(
            &architecture,
            &header.input_standardizer,
            &header.context_standardizer,
            &mut seeded(0),
            &device,
        );
        let network = crate::io::model::load_weights(path, skeleton)?;
        Ok(Self { network, header, device })
    }

    /// `rows` unrestricted draws for `observation`, in parallel chunks of [`DRAW_CHUNK`] rows,
    /// chunk `k` from `substream(seed, k)` (independent of the number of threads).
    fn draw(&self, observation: ArrayView1<f64>, rows: usize, seed: u64) -> Array2<f64> {
        let chunks: Vec<usize> = (0..rows.div_ceil(DRAW_CHUNK)).collect();
        let parts: Vec<Array2<f64>> = chunks
            .into_par_iter()
            .map(|k| {
                let n = DRAW_CHUNK.min(rows - k * DRAW_CHUNK);
                let x = matrix_to_tensor(observation.insert_axis(Axis(0)), &self.device);
                tensor_to_matrix(self.network.sample(x, n, &mut substream(seed, k as u64)))
            })
            .collect();
        let views: Vec<_> = parts.iter().map(|part| part.view()).collect();
        ndarray::concatenate(Axis(0), &views).unwrap_or_else(|_| Array2::zeros((0, self.parameter_dim())))
    }
}

impl Posterior for VaePosterior {
    fn parameter_dim(&self) -> usize {
        self.header.prior.dim()
    }

    fn data_dim(&self) -> usize {
        self.header.data_dim()
    }

    /// Rejection sampling of the decoder's draws to the prior support.
    fn sample(
        &self,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples> {
        check_observation(observation, self.data_dim())?;
        let prior = &self.header.prior;
        let draw = |rows, draw_seed| self.draw(observation, rows, draw_seed);
        rejection_sample(prior.dim(), n, seed, options, draw, in_support(prior))?.into_result()
    }

    /// Not available: the VAE posterior p(θ | x_o) = ∫ p(θ | x_o, z) p(z | x_o) dz has no closed
    /// form, and the method does not estimate it.
    fn log_prob(&self, _theta: ArrayView2<f64>, _observation: ArrayView1<f64>) -> Result<Array1<f64>> {
        Err(Error::Unsupported(format!(
            "a {} posterior has no density: log p(θ | x_o) is an intractable integral over the latent z; \
             use its samples instead (e.g. C2ST, SBC or coverage from samples)",
            self.header.method.name()
        )))
    }
}
