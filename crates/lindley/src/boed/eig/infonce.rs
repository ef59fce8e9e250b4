//! Learned contrastive EIG bounds with a critic T(θ, y, ξ): InfoNCE (van den Oord et al. 2018;
//! Foster et al. 2020's ACE/PCE family with a learned critic) and NWJ (Nguyen, Wainwright & Jordan
//! 2010; MINE-f), both amortised over designs and differentiable in ξ through a
//! [`DifferentiableProblem`]'s pathwise simulator.
//!
//! With a pool of L + 1 parameter draws θ₀..θ_L (θ₀ the one that generated y, the rest prior draws
//! independent of y; "in-batch" contrasts take them from the other rows of the batch):
//! - InfoNCE: E[T(θ₀, y, ξ) − log((1/(L+1)) Σ_ℓ exp T(θ_ℓ, y, ξ))] ≤ EIG(ξ), and ≤ log(L + 1);
//! - NWJ: E_joint[T] − E_marginals[exp(T − 1)] ≤ EIG(ξ).
//!
//! The critic is an MLP on the concatenated (θ, y, ξ), each block standardised by fixed statistics
//! of a pilot batch (θ, y) or of the design box (ξ), with layer normalisation of every hidden
//! layer's pre-activations (Ba et al. 2016). It is trained online on fresh simulations at the
//! current designs with AdamW, a linear learning-rate warm-up and global gradient-norm clipping.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{relu, softplus};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::online::{OnlineBound, OnlineEig};
use super::{DesignSimulations, EigEstimate};
use crate::boed::problems::{DifferentiableProblem, standard_normal};
use crate::nn::Dense;
use crate::rng::LindleyRng;
use crate::tensor_ops::{logsumexp_last, matrix_to_tensor};
use crate::{Error, Result};

/// Which bound a critic is trained on or scored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CriticObjective {
    /// InfoNCE: T(θ₀, y) − logsumexp_ℓ T(θ_ℓ, y) + log(L + 1).
    InfoNce,
    /// NWJ / MINE-f: T(θ₀, y) − mean_{ℓ≥1} exp(T(θ_ℓ, y) − 1).
    Nwj,
    /// Binary cross-entropy of the joint pair against the shuffled (contrast) pairs,
    /// softplus(−T(θ₀, y)) + mean_{ℓ≥1} softplus(T(θ_ℓ, y)); only a training loss (scored with InfoNCE).
    Bce,
}

/// Settings of an [`InfoNce`] critic and its online training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CriticConfig {
    /// Hidden layer widths of the MLP.
    pub hidden: Vec<usize>,
    /// Layer-normalise every hidden layer's pre-activations.
    pub layer_norm: bool,
    /// Training objective.
    pub objective: CriticObjective,
    /// AdamW learning rate (after warm-up).
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Steps of linear learning-rate warm-up.
    pub warmup_steps: usize,
    /// Simulations per training step.
    pub batch_size: usize,
    /// Pool size L + 1 of every contrastive block (the positive and L contrasts).
    pub contrast_block: usize,
    /// Global gradient-norm clip of each training step.
    pub clip_grad_norm: f64,
}

impl Default for CriticConfig {
    fn default() -> Self {
        CriticConfig {
            hidden: vec![256, 256],
            layer_norm: true,
            objective: CriticObjective::InfoNce,
            learning_rate: 1e-3,
            weight_decay: 1e-2,
            warmup_steps: 100,
            batch_size: 1024,
            contrast_block: 64,
            clip_grad_norm: 1.0,
        }
    }
}

impl CriticConfig {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(Error::InvalidInput(format!(
                "critic needs at least one hidden layer, all of positive width (got {:?})",
                self.hidden
            )));
        }
        if self.contrast_block < 2 || self.batch_size == 0 {
            return Err(Error::InvalidInput(format!(
                "critic needs a contrast block of at least 2 and a positive batch size (got {} and {})",
                self.contrast_block, self.batch_size
            )));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "critic learning rate must be positive, got {}",
                self.learning_rate
            )));
        }
        Ok(())
    }
}

/// Layer normalisation with a learned gain and bias: (x − mean)/√(var + 1e-5)·γ + β per row.
#[derive(Module, Debug)]
struct LayerNorm {
    gain: Param<Tensor<1>>,
    bias: Param<Tensor<1>>,
}

impl LayerNorm {
    fn new(width: usize, device: &Device) -> Self {
        LayerNorm {
            gain: Param::from_tensor(Tensor::ones([width], device)),
            bias: Param::from_tensor(Tensor::zeros([width], device)),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let (var, mean) = x.clone().var_mean_bias(1);
        let z = (x - mean) / var.add_scalar(1e-5).sqrt();
        z * self.gain.val().unsqueeze_dim(0) + self.bias.val().unsqueeze_dim(0)
    }
}

/// The critic network T(θ, y, ξ) → ℝ.
#[derive(Module, Debug)]
pub struct Critic {
    /// Per-column shift of the concatenated input (θ, y, ξ), `[1, P + Dy + Dξ]`.
    shift: Tensor<2>,
    /// Per-column scale of the concatenated input.
    scale: Tensor<2>,
    layers: Vec<Dense>,
    norms: Vec<LayerNorm>,
    output: Dense,
    /// Number of parameter columns P (the first block of the input).
    parameters: usize,
}

impl Critic {
    /// Hidden activations after the first layer for every pair (θ_pool[j], yᵢ, ξᵢ), `[B·Q, H]`
    /// in row-major (i, j) order: the first layer is split into its θ part and its (y, ξ) part
    /// so that the pairs cost a broadcast add instead of a `[B·Q, P + Dy + Dξ]` input.
    fn first_layer_pairs(&self, pool: Tensor<2>, observed: Tensor<2>) -> Tensor<2> {
        let p = self.parameters;
        let inputs = self.shift.dims()[1];
        let [q, _] = pool.dims();
        let [b, _] = observed.dims();
        let weight = self.layers[0].weight.val();
        let hidden = weight.dims()[1];
        let theta_z = (pool - self.shift.clone().slice(s![.., 0..p])) / self.scale.clone().slice(s![.., 0..p]);
        let rest_z =
            (observed - self.shift.clone().slice(s![.., p..inputs])) / self.scale.clone().slice(s![.., p..inputs]);
        let a = theta_z.matmul(weight.clone().slice(s![0..p, ..]));
        let c = rest_z.matmul(weight.slice(s![p..inputs, ..])) + self.layers[0].bias.val().unsqueeze_dim(0);
        (a.unsqueeze_dim::<3>(0) + c.unsqueeze_dim::<3>(1)).reshape([b * q, hidden])
    }

    /// Scores T(θ_pool[j], yᵢ, ξᵢ) for every row i of `observed = [y, ξ]` (`[B, Dy + Dξ]`) and
    /// every pool row j (`[Q, P]`), as `[B, Q]`.
    pub fn pair_scores(&self, pool: Tensor<2>, observed: Tensor<2>) -> Tensor<2> {
        let [q, _] = pool.dims();
        let [b, _] = observed.dims();
        let mut h = self.first_layer_pairs(pool, observed);
        for (k, layer) in self.layers.iter().enumerate() {
            if k > 0 {
                h = layer.forward(h);
            }
            if let Some(norm) = self.norms.get(k) {
                h = norm.forward(h);
            }
            h = relu(h);
        }
        self.output.forward(h).reshape([b, q])
    }
}

/// Per-row bound terms of a batch, in blocks of `contrast_block` rows: the pool of a block is its
/// own rows' θ (in-batch contrasts), topped up with fresh prior draws when the block is shorter
/// than the pool size, so every row has exactly L = pool − 1 contrasts. `terms(pool, start, end)`
/// gives the terms of rows `start..end` against `pool` (`[Q, P]`, row k of the block is pool row k).
pub(crate) fn contrast_blocks(
    problem: &dyn DifferentiableProblem,
    batch: &SimulationBatch,
    contrast_block: usize,
    rng: &mut LindleyRng,
    mut terms: impl FnMut(Tensor<2>, usize, usize) -> Tensor<1>,
) -> Tensor<1> {
    let rows = batch.theta.dims()[0];
    let device = batch.theta.device();
    let mut parts = Vec::with_capacity(rows.div_ceil(contrast_block));
    for start in (0..rows).step_by(contrast_block) {
        let end = (start + contrast_block).min(rows);
        let mut pool = batch.theta.clone().slice(s![start..end, ..]);
        if end - start < contrast_block {
            let extra = problem.sample_prior(contrast_block - (end - start), rng);
            pool = Tensor::cat(vec![pool, matrix_to_tensor(extra.view(), &device)], 0);
        }
        parts.push(terms(pool, start, end));
    }
    Tensor::cat(parts, 0)
}

/// Per-row bound terms (or per-row training losses for [`CriticObjective::Bce`]) from pair scores
/// `[B, Q]` whose positive for row i sits in column i (B ≤ Q).
pub(crate) fn bound_terms(scores: Tensor<2>, objective: CriticObjective) -> Tensor<1> {
    let [b, q] = scores.dims();
    let device = scores.device();
    let eye: Tensor<2> = Tensor::<2>::eye(q, &device).slice(s![0..b, ..]);
    let positive = (scores.clone() * eye.clone()).sum_dim(1);
    let off = eye.neg().add_scalar(1.0);
    let contrasts = (q - 1).max(1) as f64;
    let terms = match objective {
        CriticObjective::InfoNce => positive - logsumexp_last(scores) + (q as f64).ln(),
        CriticObjective::Nwj => positive - (scores.sub_scalar(1.0).exp() * off).sum_dim(1).div_scalar(contrasts),
        CriticObjective::Bce => {
            softplus(positive.neg(), 1.0) + (softplus(scores, 1.0) * off).sum_dim(1).div_scalar(contrasts)
        }
    };
    terms.squeeze_dim::<1>(1)
}

/// A critic T(θ, y, ξ) for one differentiable problem, with its optimiser state, trained online
/// on simulations at given designs (an [`OnlineEig`] with the [`CriticLoss`]); scores designs by
/// InfoNCE or NWJ.
pub type InfoNce = OnlineEig<CriticLoss>;

/// The training loss of an [`InfoNce`] critic: the negated bound of [`CriticConfig::objective`]
/// (or the BCE loss) over in-batch contrasts in blocks of [`CriticConfig::contrast_block`] rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CriticLoss;

impl OnlineBound for CriticLoss {
    type Network = Critic;

    const WHAT: &'static str = "the critic";

    fn loss(
        &self,
        critic: &Critic,
        training: &CriticConfig,
        problem: &dyn DifferentiableProblem,
        batch: SimulationBatch,
        rng: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        let terms = InfoNce::batch_terms(critic, problem, &batch, training.objective, training.contrast_block, rng);
        Ok(match training.objective {
            CriticObjective::Bce => terms.mean(),
            _ => terms.mean().neg(),
        })
    }

    /// The InfoNCE terms of [`InfoNce::batch_terms`].
    fn terms(
        &self,
        critic: &Critic,
        problem: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        contrast_block: usize,
        rng: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        Ok(InfoNce::batch_terms(critic, problem, batch, CriticObjective::InfoNce, contrast_block, rng))
    }
}

/// A batch of simulations at given designs: θ `[n, P]`, the design of each row `[n, Dξ]` and
/// y `[n, Dy]` (differentiable in the designs when they require gradients).
pub struct SimulationBatch {
    /// Parameters θ.
    pub theta: Tensor<2>,
    /// Design of each row.
    pub design: Tensor<2>,
    /// Observations y = g(θ, ξ, ε).
    pub y: Tensor<2>,
}

/// θ from the prior and noise ε for `rows` simulations, uploaded to `device`.
pub(crate) fn draw_inputs(
    problem: &dyn DifferentiableProblem,
    rows: usize,
    rng: &mut LindleyRng,
    device: &Device,
) -> (Tensor<2>, Tensor<2>) {
    let theta = problem.sample_prior(rows, rng);
    let noise = Array2::from_shape_fn((rows, problem.noise_dim()), |_| standard_normal(rng));
    (matrix_to_tensor(theta.view(), device), matrix_to_tensor(noise.view(), device))
}

/// Simulate `per_design` rows at each row of `designs [M, Dξ]` (rows design-major: row
/// m·per_design + s belongs to design m). Gradients flow into `designs` if it requires them.
pub fn simulate_at(
    problem: &dyn DifferentiableProblem,
    designs: Tensor<2>,
    per_design: usize,
    rng: &mut LindleyRng,
) -> SimulationBatch {
    let [m, d] = designs.dims();
    let device = designs.device();
    let (theta, noise) = draw_inputs(problem, m * per_design, rng, &device);
    let design = designs.unsqueeze_dim::<3>(1).expand([m, per_design, d]).reshape([m * per_design, d]);
    let y = problem.simulate_tensor(theta.clone(), design.clone(), noise);
    SimulationBatch { theta, design, y }
}

impl Critic {
    /// A fresh critic of `config`'s architecture on `device`, initialised from `rng`: θ and y are
    /// standardised with their mean and standard deviation over the `pilot` simulations, ξ with
    /// the design box's centre and half-width.
    fn from_pilot(
        problem: &dyn DifferentiableProblem,
        pilot: &DesignSimulations,
        config: &CriticConfig,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Critic {
        let bounds = problem.design_box();
        let (p, dy, dx) = (problem.parameter_dim(), problem.observation_dim(), problem.design_dim());
        let mut shift = Vec::with_capacity(p + dy + dx);
        let mut scale = Vec::with_capacity(p + dy + dx);
        for column in pilot.theta.columns().into_iter().chain(pilot.y.columns()) {
            let mean = column.mean().unwrap_or(0.0);
            let sd = column.std(1.0);
            shift.push(mean as f32);
            scale.push(sd.max(1e-6) as f32);
        }
        for j in 0..dx {
            shift.push((0.5 * (bounds.low[j] + bounds.high[j])) as f32);
            scale.push((0.5 * (bounds.high[j] - bounds.low[j])).max(1e-6) as f32);
        }
        let inputs = p + dy + dx;
        let row = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, inputs]), device);
        let mut widths = vec![inputs];
        widths.extend_from_slice(&config.hidden);
        let layers: Vec<Dense> = widths.windows(2).map(|w| Dense::new(w[0], w[1], 1.0, rng, device)).collect();
        let norms =
            if config.layer_norm { config.hidden.iter().map(|&h| LayerNorm::new(h, device)).collect() } else { vec![] };
        let output = Dense::new(*config.hidden.last().expect("validated"), 1, 1.0, rng, device);
        Critic { shift: row(shift), scale: row(scale), layers, norms, output, parameters: p }
    }
}

impl InfoNce {
    /// A fresh critic for `problem` on `device` (an autodiff device for training), initialised
    /// from `rng`. Inputs are standardised with the mean and standard deviation of θ and y over
    /// a pilot batch of prior draws simulated at designs uniform in the box (non-finite
    /// simulations left out), and ξ with the box's centre and half-width.
    pub fn new(
        problem: &dyn DifferentiableProblem,
        config: CriticConfig,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Result<Self> {
        OnlineEig::from_pilot(problem, CriticLoss, config, rng, device, |pilot, config, rng| {
            Ok(Critic::from_pilot(problem, pilot, config, rng, device))
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &CriticConfig {
        self.training()
    }

    /// The critic network.
    pub fn critic(&self) -> &Critic {
        self.network()
    }

    /// Per-row terms of `objective` for a batch, in blocks of `contrast_block` rows: the pool of
    /// a block is its own rows' θ (in-batch contrasts), topped up with fresh prior draws when
    /// the block is shorter than the pool size, so every row has exactly L = pool − 1 contrasts.
    pub fn batch_terms(
        critic: &Critic,
        problem: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        objective: CriticObjective,
        contrast_block: usize,
        rng: &mut LindleyRng,
    ) -> Tensor<1> {
        let observed = Tensor::cat(vec![batch.y.clone(), batch.design.clone()], 1);
        contrast_blocks(problem, batch, contrast_block, rng, |pool, start, end| {
            bound_terms(critic.pair_scores(pool, observed.clone().slice(s![start..end, ..])), objective)
        })
    }

    /// Estimate `bound` (InfoNCE or NWJ) at every row of `designs [m, Dξ]` from `outer` fresh
    /// simulations per design, with `contrasts` + 1 parameter draws per pool (in-batch), without
    /// gradients; reproducible from `seed`, with the same random draws at every design (common
    /// random numbers). The standard error is over the per-row terms. ([`OnlineEig::estimate`]
    /// is this with InfoNCE.)
    pub fn estimate_bound(
        &self,
        problem: &dyn DifferentiableProblem,
        designs: ArrayView2<f64>,
        bound: CriticObjective,
        outer: usize,
        contrasts: usize,
        seed: u64,
    ) -> Result<Vec<EigEstimate>> {
        if bound == CriticObjective::Bce {
            return Err(Error::InvalidInput("BCE is a training loss, not a bound: score with InfoNCE or NWJ".into()));
        }
        self.estimate_with(problem, designs, outer, contrasts, seed, |critic, batch, rng| {
            Ok(Self::batch_terms(critic, problem, batch, bound, contrasts + 1, rng))
        })
    }
}

/// Mean and standard error of per-sample terms (NaN if any term is NaN).
pub(crate) fn summarise(terms: &[f32]) -> EigEstimate {
    let n = terms.len() as f64;
    let mean = terms.iter().map(|&t| t as f64).sum::<f64>() / n;
    let var = terms.iter().map(|&t| (t as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    EigEstimate { eig: mean, stderr: (var / n).sqrt() }
}
