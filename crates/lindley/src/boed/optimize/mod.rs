//! Design optimisation.
//!
//! - [`mprga`]: multiple parallel restart gradient ascent (MPR-GA) of Klein et al. (2026,
//!   "Supercharging SBI for BOED"): M candidate designs optimised as one batch against a critic
//!   that is trained online, with a diversity penalty and a final re-scoring; [`learned_eig`]
//!   scores given designs with the same online-trained bounds.
//! - [`gradient_free`]: SPSA, a score-function design distribution, and grid/random search for
//!   non-differentiable simulators, driven by any noisy EIG objective ([`EigObjective`]).

pub mod gradient_free;
pub mod mprga;

pub use gradient_free::{
    DesignDistributionConfig, DistributionOptimizer, EigObjective, GradientFreeConfig, GradientFreeMethod,
    GradientFreeResult, SpsaConfig, estimator_objective, optimize_gradient_free,
};
pub use mprga::{
    MprgaConfig, MprgaEstimator, MprgaProgress, MprgaResult, StoppedRestart, TracePoint, learned_eig, mprga,
};
