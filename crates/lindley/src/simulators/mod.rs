//! Simulators θ → x and the benchmark tasks built on them.
//!
//! A [`Simulator`] maps a batch of parameter rows `[n, parameter_dim]` to one simulated data row
//! each, `[n, data_dim]`, reproducibly from a seed. Simulators defined one row at a time use
//! [`simulate_rows`], which runs rows in parallel (rayon) and gives row `i` its own random
//! stream [`substream(seed, i)`](crate::rng::substream), so results do not depend on the number
//! of threads. A simulation that fails (e.g. an ODE solve that does not converge) yields a row of
//! NaN; downstream code drops such rows and reports how many.
//!
//! A [`Task`] bundles a prior, a simulator and names; [`sbibm`] holds the ten tasks of the SBI
//! benchmark (Lueckmann et al. 2021) with their observations and reference posteriors.

pub mod external;
pub mod sbibm;

use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::distributions::Distribution;
use crate::rng::{LindleyRng, substream};
use crate::{Error, Result};

/// A batched, seeded simulator.
pub trait Simulator: Send + Sync {
    /// Number of parameters per row of θ.
    fn parameter_dim(&self) -> usize;
    /// Number of values per simulated row of x.
    fn data_dim(&self) -> usize;
    /// One simulation per row of `theta [n, parameter_dim]`, reproducible from `seed`.
    /// Rows whose simulation failed are NaN.
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>>;
}

/// Run a row-wise simulator over a batch in parallel: `simulate_row(θᵢ, rngᵢ, xᵢ)` fills the
/// output row `xᵢ` (length `data_dim`) using the stream `substream(seed, i)`.
pub fn simulate_rows<F>(theta: ArrayView2<f64>, data_dim: usize, seed: u64, simulate_row: F) -> Array2<f64>
where
    F: Fn(&[f64], &mut LindleyRng, &mut [f64]) + Sync,
{
    let n = theta.nrows();
    let mut out = Array2::<f64>::zeros((n, data_dim));
    let theta = theta.as_standard_layout();
    out.as_slice_mut().expect("a fresh array is contiguous").par_chunks_mut(data_dim.max(1)).enumerate().for_each(
        |(i, x)| {
            let mut rng = substream(seed, i as u64);
            simulate_row(theta.row(i).as_slice().expect("standard layout"), &mut rng, x);
        },
    );
    out
}

/// Check that `theta` has the simulator's number of columns.
pub fn check_parameter_shape(simulator: &dyn Simulator, theta: ArrayView2<f64>, context: &str) -> Result<()> {
    if theta.ncols() != simulator.parameter_dim() {
        return Err(Error::shape(
            context,
            format!("{} parameter columns", simulator.parameter_dim()),
            format!("{}", theta.ncols()),
        ));
    }
    Ok(())
}

/// A named inference problem: prior, simulator, and the names of parameters and data.
#[derive(Clone)]
pub struct Task {
    /// Short name used on the command line (e.g. `two_moons`).
    pub name: String,
    /// One-line description.
    pub description: String,
    /// The prior p(θ).
    pub prior: Distribution,
    /// The simulator p(x | θ).
    pub simulator: Arc<dyn Simulator>,
    /// One name per parameter (CSV headers, plot labels).
    pub parameter_names: Vec<String>,
    /// One name per data value.
    pub data_names: Vec<String>,
}

impl Task {
    /// Draw `n` parameters from the prior and simulate them: (θ `[n, P]`, x `[n, D]`).
    /// The prior draw and the simulation use independent streams derived from `seed`.
    pub fn sample_joint(&self, n: usize, seed: u64) -> Result<(Array2<f64>, Array2<f64>)> {
        let theta = self.prior.sample(n, &mut substream(seed, u64::MAX));
        let x = self.simulator.simulate(theta.view(), seed)?;
        Ok((theta, x))
    }
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .field("parameters", &self.parameter_names)
            .field("data_dim", &self.data_names.len())
            .finish()
    }
}
