//! Contrastive EIG bounds with a learned, normalised likelihood flow q(y | θ, ξ) used as the
//! critic, T(θ, y, ξ) = log q(y | θ, ξ), trained online on pathwise simulations and
//! differentiable in ξ (through y = g(θ, ξ, ε) and through the flow's context):
//!
//! - NLE contrastive (Klein et al. 2026): the prior contrastive estimate (Foster et al. 2020) with
//!   q in place of the true likelihood, E[log q(y | θ₀, ξ) − log((1/(L+1)) Σ_{ℓ=0..L} q(y | θ_ℓ, ξ))],
//!   with q trained by maximum likelihood (NLE) on simulations at the current designs.
//! - INCE-λ (Zaballa & Hui 2025): the same InfoNCE form, but q is trained on the InfoNCE bound
//!   itself plus λ times the log-likelihood of the joint pairs, i.e. it maximises
//!   E[InfoNCE terms] + λ·E[log q(y | θ₀, ξ)]; the likelihood term keeps q close to a calibrated
//!   density (λ ≈ 0.01–0.1).
//!
//! Both are scored with in-batch contrasts (the θ of the other rows of a block, independent of y),
//! so with the true likelihood they would be exactly PCE with L = block − 1; for any q they stay
//! below log(L + 1).

use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::prelude::*;
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::infonce::{
    CriticConfig, CriticObjective, SimulationBatch, bound_terms, contrast_blocks, draw_inputs, simulate_at, summarise,
};
use super::{DensityRole, EigEstimate, simulate_designs};
use crate::boed::problems::DifferentiableProblem;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, Standardizer};
use crate::rng::{LindleyRng, substream};
use crate::tensor_ops::matrix_to_tensor;
use crate::train::online_step;
use crate::{Error, Result};

/// Pilot simulations for the flow's standardisation.
const PILOT_ROWS: usize = 4096;

/// How an [`OnlineLikelihood`] flow is trained.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LikelihoodObjective {
    /// Maximum likelihood, −E[log q(y | θ₀, ξ)] (NLE; scored as NLE contrastive).
    MaximumLikelihood,
    /// INCE-λ: −(E[InfoNCE terms with T = log q] + λ·E[log q(y | θ₀, ξ)]).
    InceLambda {
        /// Weight λ of the likelihood term.
        lambda: f64,
    },
}

/// Default λ of INCE-λ.
pub const DEFAULT_INCE_LAMBDA: f64 = 0.05;

/// A likelihood flow q(y | θ, ξ) trained online at the current designs, scored as a contrastive
/// EIG bound with T = log q (see the module documentation).
pub struct OnlineLikelihood {
    flow: ConditionalEstimator,
    optimizer: ModuleOptimizer,
    training: CriticConfig,
    objective: LikelihoodObjective,
    steps: usize,
    device: Device,
}

impl std::fmt::Debug for OnlineLikelihood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnlineLikelihood")
            .field("objective", &self.objective)
            .field("training", &self.training)
            .field("steps", &self.steps)
            .finish()
    }
}

/// log q(yᵢ | θ_pool[j], ξᵢ) for every row i of the block and pool row j, `[B, Q]`.
fn pair_log_likelihood(flow: &ConditionalEstimator, pool: Tensor<2>, y: Tensor<2>, design: Tensor<2>) -> Tensor<2> {
    let [q, p] = pool.dims();
    let [b, dy] = y.dims();
    let dx = design.dims()[1];
    let theta = pool.unsqueeze_dim::<3>(0).expand([b, q, p]).reshape([b * q, p]);
    let y = y.unsqueeze_dim::<3>(1).expand([b, q, dy]).reshape([b * q, dy]);
    let design = design.unsqueeze_dim::<3>(1).expand([b, q, dx]).reshape([b * q, dx]);
    flow.log_prob(y, Tensor::cat(vec![theta, design], 1)).reshape([b, q])
}

impl OnlineLikelihood {
    /// A fresh flow of `estimator` on `device` (an autodiff device for training), initialised from
    /// `rng`, with y and [θ, ξ] z-scored by a pilot batch of prior draws simulated at designs
    /// uniform in the box (failed simulations left out). Of `training` the learning rate, weight
    /// decay, warm-up, batch size, contrast block and clipping are used. λ of INCE-λ must be
    /// finite and non-negative.
    pub fn new(
        problem: &dyn DifferentiableProblem,
        estimator: &EstimatorConfig,
        training: CriticConfig,
        objective: LikelihoodObjective,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Result<Self> {
        training.validate()?;
        if let LikelihoodObjective::InceLambda { lambda } = objective
            && !(lambda >= 0.0 && lambda.is_finite())
        {
            return Err(Error::InvalidInput(format!("INCE-λ needs a finite λ ≥ 0, got {lambda}")));
        }
        let pilot = simulate_designs(problem, None, PILOT_ROWS, rng)?.finite();
        if pilot.len() < 2 {
            return Err(Error::Simulator(format!(
                "{}: fewer than 2 of {PILOT_ROWS} pilot simulations (for the likelihood flow's standardisation) are finite",
                problem.name()
            )));
        }
        let (inputs, context) = DensityRole::Likelihood.columns(&pilot);
        let flow = ConditionalEstimator::new(
            estimator,
            Standardizer::fit(inputs.view()),
            Standardizer::fit(context.view()),
            rng,
            device,
        )?;
        let optimizer = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(training.weight_decay as f32).init();
        Ok(OnlineLikelihood { flow, optimizer, training, objective, steps: 0, device: device.clone() })
    }

    /// The likelihood flow q(y | [θ, ξ]).
    pub fn flow(&self) -> &ConditionalEstimator {
        &self.flow
    }

    /// How the flow is trained.
    pub fn objective(&self) -> LikelihoodObjective {
        self.objective
    }

    /// The training settings in force.
    pub fn training(&self) -> &CriticConfig {
        &self.training
    }

    /// Training steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Per-row InfoNCE terms with T = log q(y | θ, ξ) (in-batch contrasts in blocks of
    /// `contrast_block`, see [`InfoNce::batch_terms`](super::InfoNce::batch_terms)):
    /// log q(yᵢ | θᵢ, ξᵢ) − log((1/Q) Σⱼ q(yᵢ | θⱼ, ξᵢ)). Differentiable in the designs when the
    /// batch was simulated from designs that require gradients (freeze the flow with `no_grad` to
    /// leave its parameters out).
    pub fn batch_terms(
        flow: &ConditionalEstimator,
        problem: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        contrast_block: usize,
        rng: &mut LindleyRng,
    ) -> Tensor<1> {
        contrast_blocks(problem, batch, contrast_block, rng, |pool, start, end| {
            let y = batch.y.clone().slice(s![start..end, ..]);
            let design = batch.design.clone().slice(s![start..end, ..]);
            bound_terms(pair_log_likelihood(flow, pool, y, design), CriticObjective::InfoNce)
        })
    }

    /// One AdamW step of the flow on `batch_size` fresh simulations at `designs [M, Dξ]` (design m
    /// gets rows m, m + M, …) with the objective's loss; returns the loss. A non-finite loss is
    /// an [`Error::Training`].
    pub fn train_step(
        &mut self,
        problem: &dyn DifferentiableProblem,
        designs: ArrayView2<f64>,
        rng: &mut LindleyRng,
    ) -> Result<f64> {
        let m = designs.nrows();
        if m == 0 {
            return Err(Error::InvalidInput("likelihood flow training needs at least one design".into()));
        }
        let rows = self.training.batch_size;
        let spread = Array2::from_shape_fn((rows, designs.ncols()), |(i, j)| designs[[i % m, j]]);
        let design = matrix_to_tensor(spread.view(), &self.device);
        let (theta, noise) = draw_inputs(problem, rows, rng, &self.device);
        let y = problem.simulate_tensor(theta.clone(), design.clone(), noise);
        let joint = self.flow.log_prob(y.clone(), Tensor::cat(vec![theta.clone(), design.clone()], 1)).mean();
        let loss = match self.objective {
            LikelihoodObjective::MaximumLikelihood => joint.neg(),
            LikelihoodObjective::InceLambda { lambda } => {
                let batch = SimulationBatch { theta, design, y };
                let terms = Self::batch_terms(&self.flow, problem, &batch, self.training.contrast_block, rng);
                (terms.mean() + joint.mul_scalar(lambda)).neg()
            }
        };
        let (flow, value) = online_step(
            self.flow.clone(),
            &mut self.optimizer,
            loss,
            &mut self.steps,
            self.training.learning_rate,
            self.training.warmup_steps,
            self.training.clip_grad_norm,
            "the likelihood flow",
        )?;
        self.flow = flow;
        Ok(value)
    }

    /// Train for `steps` steps at fixed `designs` (see [`OnlineLikelihood::train_step`]); returns
    /// the loss of every step.
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

    /// The contrastive bound with T = log q at every row of `designs [m, Dξ]` from `outer` fresh
    /// simulations per design with `contrasts` in-batch contrasts each, without gradients;
    /// reproducible from `seed`, with the same draws at every design (common random numbers).
    pub fn estimate(
        &self,
        problem: &dyn DifferentiableProblem,
        designs: ArrayView2<f64>,
        outer: usize,
        contrasts: usize,
        seed: u64,
    ) -> Result<Vec<EigEstimate>> {
        if outer < 2 || contrasts == 0 {
            return Err(Error::InvalidInput(format!(
                "likelihood-flow EIG needs at least 2 outer samples and 1 contrast (got {outer} and {contrasts})"
            )));
        }
        problem.design_box().check(designs)?;
        let flow = self.flow.valid();
        let device = self.device.clone().inner();
        let mut out = Vec::with_capacity(designs.nrows());
        for design in designs.outer_iter() {
            let mut rng = substream(seed, 0);
            let one = matrix_to_tensor(design.insert_axis(Axis(0)), &device);
            let batch = simulate_at(problem, one, outer, &mut rng);
            let terms = Self::batch_terms(&flow, problem, &batch, contrasts + 1, &mut rng);
            out.push(summarise(&crate::tensor_ops::tensor_to_vec(terms)));
        }
        Ok(out)
    }
}
