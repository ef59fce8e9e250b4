//! Sample-quality diagnostics: does a set of posterior samples look like a reference set?
//!
//! - [`c2st`]: classifier two-sample test with the sbibm protocol (the benchmark's headline metric);
//! - [`mmd`]: unbiased squared maximum mean discrepancy with a Gaussian kernel;
//! - [`sbc`]: calibration across observations — simulation-based calibration ranks, expected
//!   (HPD) coverage and TARP coverage;
//! - [`lc2st`]: local classifier two-sample test of a posterior at one observation (L-C2ST);
//! - [`ppc`]: posterior predictive checks of one observation against simulations from the posterior.
//!
//! Samples are `[n, dim]` arrays, one point per row.

pub mod c2st;
pub mod lc2st;
mod mlp;
pub mod mmd;
pub mod ppc;
pub mod sbc;

pub use c2st::{C2stConfig, c2st};
pub use lc2st::{Lc2st, Lc2stConfig, Lc2stResult, lc2st};
pub use mmd::{Bandwidth, MmdConfig, mmd};
pub use ppc::{PpcConfig, PpcResult, posterior_predictive_check};
pub use sbc::{CoverageResult, SbcConfig, SbcResult, expected_coverage, sbc, tarp};

use ndarray::ArrayView2;

use crate::{Error, Result};

/// Checks that `x` and `y` have the same, non-zero number of columns and returns it.
fn check_same_dim(context: &str, x: ArrayView2<f64>, y: ArrayView2<f64>) -> Result<usize> {
    if x.ncols() == 0 {
        return Err(Error::shape(context, "at least 1 column", "0 columns in x"));
    }
    if x.ncols() != y.ncols() {
        return Err(Error::shape(
            context,
            format!("{} columns in y (as in x)", x.ncols()),
            format!("{} columns", y.ncols()),
        ));
    }
    Ok(x.ncols())
}

/// Fails on the first NaN or infinite entry of the sample called `name`, naming its row and column.
fn check_finite(context: &str, name: &str, sample: ArrayView2<f64>) -> Result<()> {
    match sample.indexed_iter().find(|(_, v)| !v.is_finite()) {
        Some(((row, col), v)) => {
            Err(Error::InvalidInput(format!("{context}: sample {name} row {row} column {col} is {v}")))
        }
        None => Ok(()),
    }
}

/// Test data shared by the two-sample tests: `n` rows of independent N(shift, 1) coordinates in
/// `dim` dimensions.
#[cfg(test)]
pub(crate) fn normal_sample(n: usize, dim: usize, shift: f64, seed: u64) -> ndarray::Array2<f64> {
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = crate::rng::seeded(seed);
    ndarray::Array2::from_shape_simple_fn((n, dim), || {
        shift + <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng)
    })
}
