//! Design optimisation.
//!
//! - [`mprga`]: multiple parallel restart gradient ascent (MPR-GA) of Klein et al. (2026,
//!   "Supercharging SBI for BOED"): M candidate designs optimised as one batch against a critic
//!   that is trained online, with a diversity penalty and a final re-scoring; [`learned_eig`]
//!   scores given designs with the same online-trained bounds.

pub mod mprga;

pub use mprga::{
    MprgaConfig, MprgaEstimator, MprgaProgress, MprgaResult, StoppedRestart, TracePoint, learned_eig, mprga,
};
