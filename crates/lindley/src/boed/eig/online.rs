//! The shared part of the EIG models trained online at the current designs: the critic of
//! [`InfoNce`](super::InfoNce), the likelihood flow of [`OnlineLikelihood`](super::OnlineLikelihood)
//! and the posterior flow of [`OnlineBarberAgakov`](super::OnlineBarberAgakov).
//!
//! Each is an [`OnlineEig`]: a network whose inputs are standardised by a pilot batch of prior
//! draws simulated at designs uniform in the box, trained one AdamW step at a time (linear
//! learning-rate warm-up, global gradient-norm clipping) on fresh pathwise simulations at the
//! designs, and scored at each design as the mean and standard error of per-row bound terms on
//! fresh simulations, with the same draws at every design (common random numbers). What differs
//! between the models, the network and its training loss, is an [`OnlineBound`].

use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::prelude::*;
use ndarray::{Array2, ArrayView2, Axis};

use super::infonce::{CriticConfig, SimulationBatch, draw_inputs, simulate_at, summarise};
use super::{DesignSimulations, EigEstimate, simulate_designs};
use crate::boed::problems::DifferentiableProblem;
use crate::flows::ConditionalEstimator;
use crate::rng::{LindleyRng, substream};
use crate::tensor_ops::{matrix_to_tensor, tensor_to_vec};
use crate::train::online_step;
use crate::{Error, Result};

/// Pilot simulations for a network's input standardisation.
const PILOT_ROWS: usize = 4096;

/// The model-specific part of an [`OnlineEig`]: which network is trained, on which loss, and the
/// per-row terms of the bound it is scored by.
pub trait OnlineBound: std::fmt::Debug {
    /// The network trained online.
    type Network: Module;

    /// The network as named in messages ("the critic").
    const WHAT: &'static str;

    /// Whether the bound's terms use contrasts (other parameter draws than the one behind y).
    const CONTRASTS: bool = true;

    /// Check the bound's own settings (called before any simulation).
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    /// The training loss of `network` on `batch` (simulated at the current designs, row i at
    /// design i mod M), differentiable in the network's parameters; `rng` draws whatever contrasts
    /// the loss needs.
    fn loss(
        &self,
        network: &Self::Network,
        training: &CriticConfig,
        problem: &dyn DifferentiableProblem,
        batch: SimulationBatch,
        rng: &mut LindleyRng,
    ) -> Result<Tensor<1>>;

    /// Per-row terms of the bound under `network` on `batch`, with in-batch contrasts in blocks of
    /// `contrast_block` rows where the bound uses contrasts (`rng` tops up a short last block);
    /// differentiable in the designs when the batch was simulated from designs that require
    /// gradients (freeze the network with `no_grad` to leave its parameters out).
    fn terms(
        &self,
        network: &Self::Network,
        problem: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        contrast_block: usize,
        rng: &mut LindleyRng,
    ) -> Result<Tensor<1>>;
}

/// A network trained online on fresh simulations at given designs, with its AdamW state: its
/// inputs standardised by a pilot batch of prior draws simulated at designs uniform in the box,
/// trained one step at a time with linear learning-rate warm-up and global gradient-norm clipping,
/// and scored per design as the mean and standard error of per-row bound terms with common random
/// numbers. The bound `B` says which network is trained and on which loss.
pub struct OnlineEig<B: OnlineBound> {
    network: B::Network,
    bound: B,
    optimizer: ModuleOptimizer,
    training: CriticConfig,
    steps: usize,
    device: Device,
}

impl<B: OnlineBound> std::fmt::Debug for OnlineEig<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineEig")
            .field("bound", &self.bound)
            .field("training", &self.training)
            .field("steps", &self.steps)
            .finish()
    }
}

impl<B: OnlineBound> OnlineEig<B> {
    /// Check `training` and `bound`, simulate a pilot batch of prior draws at designs uniform in
    /// the box (non-finite simulations left out) and `build` the network (on `device`) from it;
    /// the AdamW optimiser takes `training`'s weight decay.
    pub(crate) fn from_pilot(
        problem: &dyn DifferentiableProblem,
        bound: B,
        training: CriticConfig,
        rng: &mut LindleyRng,
        device: &Device,
        build: impl FnOnce(&DesignSimulations, &CriticConfig, &mut LindleyRng) -> Result<B::Network>,
    ) -> Result<Self> {
        training.validate()?;
        bound.validate()?;
        let pilot = simulate_designs(problem, None, PILOT_ROWS, rng)?.finite();
        if pilot.len() < 2 {
            return Err(Error::Simulator(format!(
                "{}: fewer than 2 of {PILOT_ROWS} pilot simulations (for the input standardisation of {}) are finite",
                problem.name(),
                B::WHAT
            )));
        }
        let network = build(&pilot, &training, rng)?;
        let optimizer = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(training.weight_decay as f32).init();
        Ok(OnlineEig { network, bound, optimizer, training, steps: 0, device: device.clone() })
    }

    /// The training settings in force.
    pub fn training(&self) -> &CriticConfig {
        &self.training
    }

    /// Training steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// One AdamW step of the network on `batch_size` fresh simulations at `designs [M, Dξ]`
    /// (design m gets rows m, m + M, …, so the batch is spread evenly over the designs) with the
    /// bound's training loss; returns the loss. A non-finite loss is an [`Error::Training`].
    pub fn train_step(
        &mut self,
        problem: &dyn DifferentiableProblem,
        designs: ArrayView2<f64>,
        rng: &mut LindleyRng,
    ) -> Result<f64> {
        let m = designs.nrows();
        if m == 0 {
            return Err(Error::InvalidInput(format!("training {} needs at least one design", B::WHAT)));
        }
        let rows = self.training.batch_size;
        let spread = Array2::from_shape_fn((rows, designs.ncols()), |(i, j)| designs[[i % m, j]]);
        let design = matrix_to_tensor(spread.view(), &self.device);
        let (theta, noise) = draw_inputs(problem, rows, rng, &self.device);
        let y = problem.simulate_tensor(theta.clone(), design.clone(), noise);
        let batch = SimulationBatch { theta, design, y };
        let loss = self.bound.loss(&self.network, &self.training, problem, batch, rng)?;
        let (network, value) = online_step(
            self.network.clone(),
            &mut self.optimizer,
            loss,
            &mut self.steps,
            self.training.learning_rate,
            self.training.warmup_steps,
            self.training.clip_grad_norm,
            B::WHAT,
        )?;
        self.network = network;
        Ok(value)
    }

    /// Train for `steps` steps at fixed `designs` (see [`OnlineEig::train_step`]); returns the
    /// loss of every step. Designs outside the box are an error.
    pub fn fit(
        &mut self,
        problem: &dyn DifferentiableProblem,
        designs: ArrayView2<f64>,
        steps: usize,
        rng: &mut LindleyRng,
    ) -> Result<Vec<f64>> {
        problem.design_box().check(designs)?;
        (0..steps).map(|_| self.train_step(problem, designs, rng)).collect()
    }

    /// Per-row terms of the bound (see [`OnlineBound::terms`]) on a pathwise `batch` with the
    /// network frozen: differentiable in the designs the batch was simulated from when they
    /// require gradients, not in the network's parameters (the design step of MPR-GA).
    pub fn design_terms(
        &self,
        problem: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        contrast_block: usize,
        rng: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        self.bound.terms(&self.network.clone().no_grad(), problem, batch, contrast_block, rng)
    }

    /// The bound at every row of `designs [m, Dξ]` from `outer` fresh simulations per design with
    /// `contrasts` in-batch contrasts each (unused by a bound without contrasts), without
    /// gradients; reproducible from `seed`, with the same draws at every design (common random
    /// numbers). The standard error is over the per-row terms; a failed simulation makes that
    /// design's estimate NaN.
    pub fn estimate(
        &self,
        problem: &dyn DifferentiableProblem,
        designs: ArrayView2<f64>,
        outer: usize,
        contrasts: usize,
        seed: u64,
    ) -> Result<Vec<EigEstimate>> {
        self.estimate_with(problem, designs, outer, contrasts, seed, |network, batch, rng| {
            self.bound.terms(network, problem, batch, contrasts + 1, rng)
        })
    }

    /// Mean and standard error of the per-row `terms` of the network (without gradients) on
    /// `outer` fresh simulations at every row of `designs [m, Dξ]`, the same draws (θ, ε and
    /// whatever `terms` draws) at every design: stream 0 of `seed` (common random numbers, so that
    /// differences between designs are not blurred by sampling noise). At least 2 outer samples
    /// are needed, and 1 contrast when the bound uses contrasts.
    pub(crate) fn estimate_with(
        &self,
        problem: &dyn DifferentiableProblem,
        designs: ArrayView2<f64>,
        outer: usize,
        contrasts: usize,
        seed: u64,
        terms: impl Fn(&B::Network, &SimulationBatch, &mut LindleyRng) -> Result<Tensor<1>>,
    ) -> Result<Vec<EigEstimate>> {
        if outer < 2 || (B::CONTRASTS && contrasts == 0) {
            let needs = if B::CONTRASTS {
                format!("2 outer samples and 1 contrast (got {outer} and {contrasts})")
            } else {
                format!("2 outer samples (got {outer})")
            };
            return Err(Error::InvalidInput(format!("EIG with {} needs at least {needs}", B::WHAT)));
        }
        problem.design_box().check(designs)?;
        let network = self.network.valid();
        let device = self.device.clone().inner();
        let mut out = Vec::with_capacity(designs.nrows());
        for design in designs.outer_iter() {
            let mut rng = substream(seed, 0);
            let one = matrix_to_tensor(design.insert_axis(Axis(0)), &device);
            let batch = simulate_at(problem, one, outer, &mut rng);
            out.push(summarise(&tensor_to_vec(terms(&network, &batch, &mut rng)?)));
        }
        Ok(out)
    }

    /// The bound (the model-specific settings).
    pub(crate) fn bound(&self) -> &B {
        &self.bound
    }

    /// The network being trained.
    pub(crate) fn network(&self) -> &B::Network {
        &self.network
    }
}

impl<B: OnlineBound<Network = ConditionalEstimator>> OnlineEig<B> {
    /// The flow being trained (q(y | [θ, ξ]) of [`OnlineLikelihood`](super::OnlineLikelihood),
    /// q(θ | [y, ξ]) of [`OnlineBarberAgakov`](super::OnlineBarberAgakov)).
    pub fn flow(&self) -> &ConditionalEstimator {
        &self.network
    }
}
