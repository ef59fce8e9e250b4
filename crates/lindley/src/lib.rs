//! # lindley
//!
//! Simulation-based inference (SBI) and Bayesian optimal experimental design (BOED) in Rust.
//!
//! Data flows one way: prior ([`distributions`]) → simulator ([`simulators`]) → dataset
//! ([`data`], [`io`]) → estimator ([`flows`], trained by [`train`]) → posterior ([`inference`]) →
//! diagnostics ([`diagnostics`]).

pub mod error;
pub mod rng;

pub use error::{Error, Result};
pub mod flows;
pub mod nn;
pub(crate) mod tensor_ops;
pub mod train;
pub mod persist;
