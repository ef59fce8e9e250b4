//! # lindley
//!
//! Simulation-based inference (SBI) and Bayesian optimal experimental design (BOED) in Rust.
//!
//! Data flows one way: prior ([`distributions`]) → simulator ([`simulators`]) → dataset
//! ([`data`], files in [`io`]) → estimator ([`flows`], trained by [`train`]) → posterior
//! ([`inference`], sampled directly or by [`mcmc`]) → [`diagnostics`], drawn by [`plot`].

pub mod boed;
pub mod data;
pub mod device;
pub mod diagnostics;
pub mod distributions;
pub mod error;
pub mod flows;
pub mod inference;
pub mod io;
pub mod mcmc;
pub mod nn;
pub mod plot;
pub mod rng;
pub mod simulators;
pub(crate) mod tensor_ops;
pub mod train;

pub use error::{Error, Result};
