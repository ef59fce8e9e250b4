//! Approximate Bayesian computation (ABC): posteriors for one observation x_o from simulations
//! alone, with no network — parameters are kept when their simulation lands close to x_o.
//!
//! - [`rejection_abc`]: rejection ABC (Pritchard et al. 1999) — simulate a budget from the prior,
//!   keep the θ whose (summarised, optionally z-scored) x is closest to x_o, optionally corrected by
//!   the local-linear regression adjustment of Beaumont, Zhang & Balding (2002).
//! - [`smc_abc`]: SMC-ABC / population Monte Carlo ABC (Beaumont, Cornuet, Marin & Robert 2009),
//!   with the adaptive ε schedule and final density estimate used by the sbibm benchmark
//!   (Lueckmann et al. 2021).
//!
//! Both return an [`AbcPosterior`]: weighted particles θᵢ, wᵢ for the one x_o they were run for.
//! It is deliberately *not* a [`Posterior`](super::Posterior): that trait is amortised (sample and
//! evaluate for any x_o), whereas ABC must be re-run for every observation, and its density exists
//! only through a kernel density estimate. [`AbcPosterior::sample`] turns the particles into
//! [`PosteriorSamples`](super::PosteriorSamples) — by a Gaussian KDE with cross-validated bandwidth
//! (sbibm's final step, which gives 10,000 samples from ~100 particles) or by resampling the
//! particles by weight.
//!
//! Simulations whose x (or summary) has a NaN or ±Inf value count against the budget, are
//! dropped, and are reported in [`AbcPosterior::dropped`].

mod kde;
mod rejection;
mod smc;

#[cfg(test)]
mod tests;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use super::{PosteriorSamples, check_observation};
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::rng::substream;
use crate::simulators::{Simulator, Task};
use crate::{Error, Result};

pub use kde::{Bandwidth, Kde};
pub use rejection::{RejectionConfig, Selection, rejection_abc};
pub use smc::{SmcConfig, smc_abc};

/// Summary statistics s(x): maps simulated rows `[n, D]` to summary rows `[n, S]` (the same
/// function is applied to the observation as a one-row batch).
pub type SummaryFn = dyn Fn(ArrayView2<f64>) -> Result<Array2<f64>> + Send + Sync;

/// The distance between (scaled) summaries s(x) and s(x_o).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// Euclidean: √Σⱼ (sⱼ − s_oⱼ)².
    #[default]
    L2,
    /// Manhattan: Σⱼ |sⱼ − s_oⱼ|.
    L1,
}

impl Distance {
    /// The distance between `s` and `s_o`, each coordinate divided by `scale[j]`.
    fn between(self, s: ArrayView1<f64>, s_o: ArrayView1<f64>, scale: ArrayView1<f64>) -> f64 {
        let terms = s.iter().zip(s_o).zip(scale).map(|((a, b), c)| (a - b) / c);
        match self {
            Distance::L2 => terms.map(|t| t * t).sum::<f64>().sqrt(),
            Distance::L1 => terms.map(f64::abs).sum(),
        }
    }
}

/// What ABC needs: the prior, the simulator, the one observation, and optional summaries.
#[derive(Clone, Copy)]
pub struct AbcProblem<'a> {
    /// The prior p(θ).
    pub prior: &'a Distribution,
    /// The simulator p(x | θ).
    pub simulator: &'a dyn Simulator,
    /// The observation x_o (raw data, `data_dim` values).
    pub observation: ArrayView1<'a, f64>,
    /// Summary statistics compared instead of the raw data (`None`: compare x itself).
    pub summary: Option<&'a SummaryFn>,
}

impl<'a> AbcProblem<'a> {
    /// The problem of a built-in or user task for one observation, without summaries.
    pub fn for_task(task: &'a Task, observation: ArrayView1<'a, f64>) -> Self {
        AbcProblem { prior: &task.prior, simulator: task.simulator.as_ref(), observation, summary: None }
    }

    /// Check dimensions and the observation, and return s(x_o).
    fn check(&self, budget: usize, method: &str) -> Result<Array1<f64>> {
        if budget == 0 {
            return Err(Error::InvalidInput(format!("{method}: the simulation budget must be at least 1, got 0")));
        }
        if self.prior.dim() != self.simulator.parameter_dim() {
            return Err(Error::shape(
                format!("{method} prior"),
                format!("{} parameters (the simulator's)", self.simulator.parameter_dim()),
                format!("{}", self.prior.dim()),
            ));
        }
        check_observation(self.observation, self.simulator.data_dim())?;
        let s_o = self.summarise(self.observation.insert_axis(Axis(0)), "the observation")?;
        if let Some(j) = s_o.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "{method}: summary {} of the observation is {}; summaries of x_o must be finite",
                j + 1,
                s_o[[0, j]]
            )));
        }
        Ok(s_o.row(0).to_owned())
    }

    /// s(x) for a batch, checked to keep one row per simulation.
    fn summarise(&self, x: ArrayView2<f64>, what: &str) -> Result<Array2<f64>> {
        let Some(summary) = self.summary else {
            return Ok(x.to_owned());
        };
        let s = summary(x)?;
        if s.nrows() != x.nrows() {
            return Err(Error::shape(
                format!("summary statistics of {what}"),
                format!("{} rows (one per simulation)", x.nrows()),
                format!("{}", s.nrows()),
            ));
        }
        Ok(s)
    }
}

/// Runs the simulator for ABC: counts the budget, gives each call its own seed, drops failed
/// simulations (NaN/Inf in x or s(x)) and remembers how many.
struct Runner<'p, 'a> {
    problem: &'p AbcProblem<'a>,
    seed: u64,
    budget: usize,
    spent: usize,
    calls: u64,
    dropped: DroppedRows,
}

impl<'p, 'a> Runner<'p, 'a> {
    fn new(problem: &'p AbcProblem<'a>, budget: usize, seed: u64) -> Self {
        Runner {
            problem,
            seed,
            budget,
            spent: 0,
            calls: 0,
            dropped: DroppedRows { count: 0, total: 0, first_rows: vec![] },
        }
    }

    /// Simulations left in the budget.
    fn left(&self) -> usize {
        self.budget - self.spent
    }

    /// Simulate `theta` (at most [`Runner::left`] rows) and return the rows that succeeded:
    /// (θ, s(x), x).
    fn simulate(&mut self, theta: Array2<f64>) -> Result<(Array2<f64>, Array2<f64>, Array2<f64>)> {
        let n = theta.nrows();
        debug_assert!(n <= self.left());
        let call_seed = substream(self.seed, self.calls).next_u64();
        self.calls += 1;
        let sim = self.problem.simulator;
        let x = sim.simulate(theta.view(), call_seed)?;
        if x.nrows() != n || x.ncols() != sim.data_dim() {
            return Err(Error::Simulator(format!(
                "returned a [{}, {}] array for {n} parameter rows; expected [{n}, {}]",
                x.nrows(),
                x.ncols(),
                sim.data_dim()
            )));
        }
        let s = self.problem.summarise(x.view(), "the simulations")?;
        // One dataset of (θ, [s(x), x]) so that a non-finite value in either drops the row.
        let mut joined = Dataset::new(theta, ndarray::concatenate![Axis(1), s, x])?;
        let dropped = joined.drop_nonfinite();
        let offset = self.spent;
        for row in dropped.first_rows {
            if self.dropped.first_rows.len() < 10 {
                self.dropped.first_rows.push(offset + row);
            }
        }
        self.dropped.count += dropped.count;
        self.spent += n;
        self.dropped.total = self.spent;
        let (theta, sx) = joined.into_parts();
        let width = sx.ncols() - sim.data_dim();
        let s = sx.slice(ndarray::s![.., ..width]).to_owned();
        let x = sx.slice(ndarray::s![.., width..]).to_owned();
        Ok((theta, s, x))
    }
}

/// Per-coordinate standard deviation of `s` (rows = simulations), with 1 for constant
/// coordinates (which then add nothing to any distance).
fn summary_scale(s: ArrayView2<f64>) -> Array1<f64> {
    if s.nrows() < 2 {
        return Array1::ones(s.ncols());
    }
    s.std_axis(Axis(0), 1.0).mapv(|v| if v > 0.0 && v.is_finite() { v } else { 1.0 })
}

/// Distances of every row of `s` to `s_o`.
fn distances(s: ArrayView2<f64>, s_o: ArrayView1<f64>, scale: ArrayView1<f64>, distance: Distance) -> Array1<f64> {
    s.rows().into_iter().map(|row| distance.between(row, s_o, scale)).collect()
}

/// Indices that sort `values` in increasing order (ties by index).
fn argsort(values: ArrayView1<f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    order
}

/// How [`AbcPosterior::sample`] turns particles into samples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resampling {
    /// Draw from a Gaussian kernel density estimate of the particles (sbibm's final step), keeping
    /// only draws inside the prior support.
    Kde {
        /// Kernel bandwidth rule.
        bandwidth: Bandwidth,
        /// Weight each particle's kernel by its importance weight (false: equal weights, as sbibm
        /// does for SMC-ABC).
        weighted: bool,
    },
    /// Draw particles with replacement in proportion to their weights (no smoothing).
    Particles,
}

impl Default for Resampling {
    fn default() -> Self {
        Resampling::Kde { bandwidth: Bandwidth::CrossValidated, weighted: true }
    }
}

/// The result of an ABC run for one observation: weighted particles approximating p(θ | x_o).
#[derive(Clone, Debug)]
pub struct AbcPosterior {
    /// Accepted (and, with regression adjustment, adjusted) parameters, `[k, parameter_dim]`,
    /// closest simulation first.
    pub particles: Array2<f64>,
    /// Normalised importance weights of the particles (Σ = 1).
    pub weights: Array1<f64>,
    /// Distance of each particle's simulation to x_o.
    pub distances: Array1<f64>,
    /// The final acceptance threshold ε (the largest accepted distance).
    pub epsilon: f64,
    /// Simulations spent, failed ones included.
    pub simulations: usize,
    /// Failed simulations (NaN/Inf), dropped.
    pub dropped: DroppedRows,
    /// Populations run (1 for rejection ABC).
    pub populations: usize,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// The prior (for support checks when sampling).
    prior: Distribution,
}

impl AbcPosterior {
    /// Effective sample size of the particles, 1 / Σ wᵢ² (Kong 1992).
    pub fn ess(&self) -> f64 {
        1.0 / self.weights.iter().map(|w| w * w).sum::<f64>()
    }

    /// Weighted mean of the particles.
    pub fn mean(&self) -> Array1<f64> {
        self.particles.t().dot(&self.weights)
    }

    /// The Gaussian KDE of the particles (weighted by their importance weights or not).
    pub fn kde(&self, bandwidth: &Bandwidth, weighted: bool) -> Result<Kde> {
        let weights = if weighted { self.weights.clone() } else { Array1::from_elem(self.weights.len(), 1.0) };
        Kde::fit(self.particles.clone(), weights, bandwidth)
    }

    /// `n` posterior samples, reproducible from `seed`.
    pub fn sample(&self, n: usize, seed: u64, resampling: &Resampling) -> Result<PosteriorSamples> {
        let start = std::time::Instant::now();
        let mut rng = crate::rng::seeded(seed);
        let (theta, acceptance_rate) = match resampling {
            Resampling::Particles => {
                let picks = sample_indices(self.weights.view(), n, &mut rng);
                (self.particles.select(Axis(0), &picks), 1.0)
            }
            Resampling::Kde { bandwidth, weighted } => {
                self.kde(bandwidth, *weighted)?.sample_in_support(n, &self.prior, &mut rng)?
            }
        };
        let mut warnings = Vec::new();
        if self.dropped.count > 0 {
            warnings.push(self.dropped.to_string());
        }
        if self.ess() < 10.0 {
            warnings.push(format!("only {:.1} effective particles; the posterior estimate is rough", self.ess()));
        }
        Ok(PosteriorSamples { theta, acceptance_rate, seconds: start.elapsed().as_secs_f64(), warnings })
    }
}

/// `n` indices drawn with replacement with probabilities ∝ `weights`.
fn sample_indices(weights: ArrayView1<f64>, n: usize, rng: &mut impl Rng) -> Vec<usize> {
    let categorical = Categorical::new(weights);
    (0..n).map(|_| categorical.draw(rng)).collect()
}

/// Draws indices with probabilities ∝ non-negative weights, by inverting the cumulative sum
/// (built once, O(log n) per draw).
struct Categorical {
    cumulative: Vec<f64>,
}

impl Categorical {
    fn new(weights: ArrayView1<f64>) -> Self {
        let mut total = 0.0;
        Categorical {
            cumulative: weights
                .iter()
                .map(|&w| {
                    total += w;
                    total
                })
                .collect(),
        }
    }

    fn draw(&self, rng: &mut impl Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= u).min(self.cumulative.len().saturating_sub(1))
    }
}
