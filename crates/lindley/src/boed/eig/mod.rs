//! Expected-information-gain estimators.
//!
//! Every estimator scores a batch of designs `[m, Dξ]` through [`EigEstimator::estimate`],
//! returning one [`EigEstimate`] (value and Monte Carlo standard error) per design. The
//! contrastive estimators in [`contrastive`] use the problem's true likelihood; they stream their
//! inner (contrastive) samples in chunks with a running log-sum-exp ([`RunningLogSumExp`]), so
//! memory does not grow with the number of inner samples.

mod contrastive;
pub mod infonce;

pub use contrastive::{ContrastiveEig, ContrastiveKind, DEFAULT_CHUNK, TrajectoryEig, snmc, spce};
pub use infonce::{CriticConfig, CriticObjective, InfoNce};

use ndarray::ArrayView2;

use crate::Result;
use crate::boed::problems::DesignProblem;

/// An EIG estimate at one design: the estimate (nats) and its Monte Carlo standard error
/// (standard deviation of the per-sample terms over √N).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EigEstimate {
    /// Estimated EIG in nats.
    pub eig: f64,
    /// Standard error of `eig` over the outer samples.
    pub stderr: f64,
}

/// An estimator of EIG(ξ) = E[log p(y | θ, ξ) − log p(y | ξ)] at a batch of designs.
pub trait EigEstimator {
    /// One estimate per row of `designs [m, Dξ]`, reproducible from `seed`. Designs outside the
    /// problem's design box are an error naming the row and coordinate.
    fn estimate(&self, problem: &dyn DesignProblem, designs: ArrayView2<f64>, seed: u64) -> Result<Vec<EigEstimate>>;
}

/// log Σᵢ exp(vᵢ) accumulated over batches of values: the state is (max, Σ exp(v − max)),
/// rescaled whenever a larger maximum arrives, so that neither overflow nor underflow occurs and
/// memory stays constant. A NaN input makes the result NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunningLogSumExp {
    max: f64,
    sum: f64,
}

impl Default for RunningLogSumExp {
    fn default() -> Self {
        Self::new()
    }
}

impl RunningLogSumExp {
    /// The empty sum (log 0 = −∞).
    pub fn new() -> Self {
        RunningLogSumExp { max: f64::NEG_INFINITY, sum: 0.0 }
    }

    /// Add exp(v) for every v in `values`.
    pub fn extend(&mut self, values: &[f64]) {
        if self.max.is_nan() {
            return;
        }
        if values.iter().any(|v| v.is_nan()) {
            self.max = f64::NAN;
            return;
        }
        let batch_max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if batch_max == f64::NEG_INFINITY {
            return;
        }
        if batch_max > self.max {
            self.sum *= (self.max - batch_max).exp();
            self.max = batch_max;
        }
        let max = self.max;
        self.sum += values.iter().map(|&v| (v - max).exp()).sum::<f64>();
    }

    /// The current value log Σ exp(v).
    pub fn value(&self) -> f64 {
        if self.max.is_nan() {
            f64::NAN
        } else if self.sum == 0.0 {
            f64::NEG_INFINITY
        } else {
            self.max + self.sum.ln()
        }
    }
}
