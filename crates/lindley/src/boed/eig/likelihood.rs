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

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::DensityRole;
use super::infonce::{CriticConfig, CriticObjective, SimulationBatch, bound_terms, contrast_blocks};
use super::online::{OnlineBound, OnlineEig};
use crate::boed::problems::DifferentiableProblem;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig};
use crate::rng::LindleyRng;
use crate::{Error, Result};

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
/// EIG bound with T = log q (see the module documentation): an [`OnlineEig`] whose bound is the
/// flow's [`LikelihoodObjective`].
pub type OnlineLikelihood = OnlineEig<LikelihoodObjective>;

impl OnlineBound for LikelihoodObjective {
    type Network = ConditionalEstimator;

    const WHAT: &'static str = "the likelihood flow";

    /// λ of INCE-λ must be finite and non-negative.
    fn validate(&self) -> Result<()> {
        if let LikelihoodObjective::InceLambda { lambda } = *self
            && !(lambda >= 0.0 && lambda.is_finite())
        {
            return Err(Error::InvalidInput(format!("INCE-λ needs a finite λ ≥ 0, got {lambda}")));
        }
        Ok(())
    }

    fn loss(
        &self,
        flow: &ConditionalEstimator,
        training: &CriticConfig,
        problem: &dyn DifferentiableProblem,
        batch: SimulationBatch,
        rng: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        let context = Tensor::cat(vec![batch.theta.clone(), batch.design.clone()], 1);
        let joint = flow.log_prob(batch.y.clone(), context).mean();
        Ok(match *self {
            LikelihoodObjective::MaximumLikelihood => joint.neg(),
            LikelihoodObjective::InceLambda { lambda } => {
                let terms = self.terms(flow, problem, &batch, training.contrast_block, rng)?;
                (terms.mean() + joint.mul_scalar(lambda)).neg()
            }
        })
    }

    /// Per-row InfoNCE terms with T = log q(y | θ, ξ) (in-batch contrasts in blocks of
    /// `contrast_block`, see [`InfoNce::batch_terms`](super::InfoNce::batch_terms)):
    /// log q(yᵢ | θᵢ, ξᵢ) − log((1/Q) Σⱼ q(yᵢ | θⱼ, ξᵢ)).
    fn terms(
        &self,
        flow: &ConditionalEstimator,
        problem: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        contrast_block: usize,
        rng: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        Ok(contrast_blocks(problem, batch, contrast_block, rng, |pool, start, end| {
            let y = batch.y.clone().slice(s![start..end, ..]);
            let design = batch.design.clone().slice(s![start..end, ..]);
            bound_terms(pair_log_likelihood(flow, pool, y, design), CriticObjective::InfoNce)
        }))
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
        OnlineEig::from_pilot(problem, objective, training, rng, device, |pilot, _, rng| {
            DensityRole::Likelihood.flow_from_pilot(estimator, pilot, rng, device)
        })
    }

    /// How the flow is trained.
    pub fn objective(&self) -> LikelihoodObjective {
        *self.bound()
    }
}
