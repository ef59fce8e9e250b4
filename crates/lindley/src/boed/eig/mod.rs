//! Expected-information-gain estimators.
//!
//! Every estimator scores a batch of designs `[m, Dξ]` through [`EigEstimator::estimate`],
//! returning one [`EigEstimate`] (value and Monte Carlo standard error) per design. The
//! contrastive estimators in [`contrastive`] use the problem's true likelihood; they stream their
//! inner (contrastive) samples in chunks with a running log-sum-exp ([`RunningLogSumExp`]), so
//! memory does not grow with the number of inner samples. The learned estimators: critics
//! ([`infonce`]), flows amortised over designs ([`density`]) and likelihood flows used as critics
//! ([`likelihood`]: NLE contrastive, INCE-λ). The online-trained ones (the critic, the likelihood
//! flow and the Barber–Agakov posterior flow of MPR-GA) share their pilot standardisation,
//! training step and scoring through [`OnlineEig`] and differ only in an [`OnlineBound`].

mod contrastive;
pub mod density;
pub mod infonce;
pub mod likelihood;
mod online;

pub use contrastive::{ContrastiveEig, ContrastiveKind, DEFAULT_CHUNK, TrajectoryEig, snmc, spce};
pub use density::{
    DensityRole, DirectLoss, FlowEig, FlowEigConfig, FlowEigKind, LearnedDensity, LikelihoodAndMarginal,
    OnlineBarberAgakov, OnlineNleDirect, PosteriorLoss,
};
pub use infonce::{CriticConfig, CriticLoss, CriticObjective, InfoNce};
pub use likelihood::{DEFAULT_INCE_LAMBDA, LikelihoodObjective, OnlineLikelihood};
pub use online::{OnlineBound, OnlineEig};

use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;

use crate::Result;
use crate::boed::problems::{DesignProblem, DesignSimulator};
use crate::rng::LindleyRng;

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

/// Row-aligned simulations at designs: θᵢ ~ p(θ), yᵢ ~ p(y | θᵢ, ξᵢ), the training set of the
/// learned EIG estimators (and the pilot set of a critic's input standardisation).
#[derive(Debug, Clone, PartialEq)]
pub struct DesignSimulations {
    /// Parameters θ, `[n, P]`.
    pub theta: Array2<f64>,
    /// Observations y, `[n, Dy]` (non-finite where the simulator failed).
    pub y: Array2<f64>,
    /// The design of each row, `[n, Dξ]`.
    pub design: Array2<f64>,
}

impl DesignSimulations {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.theta.nrows()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows whose observation is finite in every coordinate (failed simulations left out).
    pub fn finite(self) -> Self {
        let keep: Vec<usize> = (0..self.len()).filter(|&i| self.y.row(i).iter().all(|v| v.is_finite())).collect();
        if keep.len() == self.len() {
            return self;
        }
        DesignSimulations {
            theta: self.theta.select(Axis(0), &keep),
            y: self.y.select(Axis(0), &keep),
            design: self.design.select(Axis(0), &keep),
        }
    }
}

/// Simulate `n` rows at designs: with `designs [m, Dξ]` row i uses design i mod m (the batch is
/// spread evenly over the designs); without, every row gets its own design drawn uniformly in the
/// problem's design box. The designs are drawn first, then θ from the prior, then y, all from
/// `rng`. Designs outside the box, or an empty design set, are an error. Failed (non-finite)
/// simulations are kept; see [`DesignSimulations::finite`].
pub fn simulate_designs(
    problem: &dyn DesignSimulator,
    designs: Option<ArrayView2<f64>>,
    n: usize,
    rng: &mut LindleyRng,
) -> Result<DesignSimulations> {
    let bounds = problem.design_box();
    let design = match designs {
        Some(given) => {
            bounds.check(given)?;
            let m = given.nrows();
            if m == 0 {
                return Err(crate::Error::InvalidInput(format!(
                    "{}: simulations at given designs need at least one design",
                    problem.name()
                )));
            }
            Array2::from_shape_fn((n, given.ncols()), |(i, j)| given[[i % m, j]])
        }
        None => Array2::from_shape_fn((n, bounds.dim()), |(_, j)| rng.random_range(bounds.low[j]..=bounds.high[j])),
    };
    let theta = problem.sample_prior(n, rng);
    let y = problem.simulate(theta.view(), design.view(), rng)?;
    Ok(DesignSimulations { theta, y, design })
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
