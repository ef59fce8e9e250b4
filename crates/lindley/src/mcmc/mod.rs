//! Markov chain Monte Carlo over an unnormalised log-density, vectorised over chains.
//!
//! NLE and NRE posteriors are known only up to a constant (likelihood or ratio network × prior),
//! so they are sampled with MCMC, as sbi/sbibm do (100 chains of vectorised slice sampling). Every
//! step evaluates the target once for a whole `[chains, dim]` batch — the target is usually a
//! neural network, and batching is what makes that fast; a cheap target may parallelise its own
//! batch evaluation with rayon.
//!
//! - [`LogDensity`]: the target, batched over rows.
//! - [`Sampler`]: vectorised coordinate-wise slice sampling (Neal 2003), adaptive random-walk
//!   Metropolis, or the No-U-Turn sampler (Hoffman & Gelman 2014) with gradients of the target,
//!   all adapted during warm-up only.
//! - [`Init`]: chain starts drawn from an initial distribution, given, or picked by importance
//!   resampling (sbi's "resample" strategy).
//! - [`Unconstrained`]: maps a target with a bounded prior onto ℝᴰ so that any sampler works;
//!   [`TimeLimited`] stops a run at a time limit.
//! - [`sample`] runs the chains and returns an [`McmcRun`] with R̂ and ESS ([`split_rhat`],
//!   [`ess_bulk`]).

mod diagnostics;
mod metropolis;
mod nuts;
mod slice;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, Axis, s};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::distributions::Distribution;
use crate::rng::{LindleyRng, substream};
use crate::{Error, Result};

pub use diagnostics::{ess_bulk, split_rhat};

/// An unnormalised log-density log π(θ) over ℝᴰ, evaluated for a batch of rows.
pub trait LogDensity: Sync {
    /// Dimension D of θ.
    fn dim(&self) -> usize;

    /// log π(θ) for each row of `theta [n, dim]` (up to an additive constant). −∞ marks points
    /// outside the support; NaN is an error.
    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>>;

    /// log π(θ) and its gradient ∇θ log π `[n, dim]` for each row, for gradient-based samplers
    /// ([`Sampler::Nuts`]); `None` (the default) when the target has no gradient.
    fn gradient(&self, _theta: ArrayView2<f64>) -> Option<Result<(Array1<f64>, Array2<f64>)>> {
        None
    }
}

/// Run lengths and seed of [`sample`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct McmcConfig {
    /// Number of chains run side by side (default 100, as in sbibm).
    pub chains: usize,
    /// Warm-up (adaptation) steps per chain, discarded (default 200).
    pub warmup: usize,
    /// Keep every `thin`-th step after warm-up (default 10).
    pub thin: usize,
    /// Total number of draws kept over all chains (default 10 000).
    pub samples: usize,
    /// Seed of all random numbers of the run.
    pub seed: u64,
}

impl Default for McmcConfig {
    fn default() -> Self {
        McmcConfig { chains: 100, warmup: 200, thin: 10, samples: 10_000, seed: 0 }
    }
}

/// The Markov transition kernel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Sampler {
    /// Univariate slice sampling along each coordinate in turn, with stepping-out (at most 32
    /// widths, split at random between the two sides) and shrinkage (Neal 2003, "Slice sampling",
    /// Ann. Statist. 31(3), figs. 3 and 5), all chains moving together. `width` is the initial
    /// bracket width; during warm-up each coordinate's width is adapted to three times the mean
    /// absolute move of that coordinate (≈ the slice width for a Gaussian), then held fixed.
    Slice {
        /// Initial bracket width (> 0).
        width: f64,
    },
    /// Gaussian random-walk Metropolis θ' = θ + hᶜ L z, z ~ N(0, I). During warm-up the proposal
    /// shape L is re-estimated from the pooled chain states at 1/8, 1/4, 1/2 and 3/4 of warm-up
    /// (Cholesky factor of their covariance, as in Haario, Saksman & Tamminen 2001) and each
    /// chain's step hᶜ follows a Robbins–Monro recursion towards acceptance 0.3; both are then held
    /// fixed, so the kept draws come from a fixed, π-invariant kernel.
    Metropolis {
        /// Initial step size hᶜ of every chain (> 0), with L = I until the first re-estimation.
        step: f64,
    },
    /// The No-U-Turn sampler (Hoffman & Gelman 2014) as in Stan: multinomial trajectory
    /// sampling, the generalised U-turn criterion, one dual-averaging step size for all chains
    /// during warm-up (driven by the chains' mean acceptance statistic) and optionally a diagonal
    /// mass matrix from pooled warm-up draws; all chains build
    /// their trees in lockstep, one batched gradient call per leapfrog step. Needs
    /// [`LogDensity::gradient`].
    Nuts {
        /// Most tree doublings per transition (Stan: 10).
        max_depth: usize,
        /// Mean acceptance statistic the step size is adapted to (Stan: 0.8), in (0, 1).
        target_accept: f64,
        /// Whether to adapt a diagonal mass matrix during warm-up.
        adapt_mass: bool,
    },
}

impl Sampler {
    /// NUTS with Stan's defaults: depth 10, target acceptance 0.8, diagonal mass matrix.
    pub fn nuts() -> Self {
        Sampler::Nuts { max_depth: 10, target_accept: 0.8, adapt_mass: true }
    }
}

/// A distribution to draw initial points from: `draw(n, rng)` returns `[n, dim]`.
pub type InitialDraw<'a> = &'a dyn Fn(usize, &mut LindleyRng) -> Array2<f64>;

/// How the chains start.
pub enum Init<'a> {
    /// Each chain starts at a draw of the initial distribution (typically the prior); draws with
    /// log π = −∞ are redrawn (up to 100 rounds).
    Prior(InitialDraw<'a>),
    /// Given starts `[chains, dim]`; each must have finite log π.
    Points(Array2<f64>),
    /// Sampling importance resampling (sbi's "resample" strategy): draw `candidates` points from
    /// the initial distribution and pick the chain starts among them with probabilities
    /// ∝ exp(log π) (see [`Resampling`]).
    Resample {
        /// The initial (proposal) distribution.
        draw: InitialDraw<'a>,
        /// Number of candidates per pool (≥ 1).
        candidates: usize,
        /// How the starts are drawn from the candidates.
        resampling: Resampling,
    },
}

/// How [`Init::Resample`] picks the chain starts from its importance-weighted candidates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resampling {
    /// One pool for all chains; the starts are a weighted draw from it without replacement
    /// (Gumbel-top-k, Kool, van Hoof & Welling 2019) as long as there are enough candidates of
    /// positive weight, with replacement for the rest. Distinct starts, but when a few
    /// candidates carry almost all the weight the other starts come from low-weight regions.
    Distinct,
    /// A fresh pool for every chain and one weighted draw from each, as sbi's "resample" init
    /// does (it is called once per chain): the starts are independent draws of the same
    /// importance-resampling approximation of π. Costs chains × candidates evaluations of π.
    /// (Independent draws from one shared pool would have the same distribution per start at
    /// the cost of one pool, but when one candidate carries almost all the weight every chain
    /// starts there; on SNLE lotka_volterra that sent all chains of one observation into a
    /// wrong mode.) The default of every MCMC posterior.
    #[default]
    PerChain,
}

impl std::str::FromStr for Resampling {
    type Err = Error;
    /// Parses the settings-file names, `distinct` and `per_chain` (`per-chain` also accepted).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "distinct" => Ok(Resampling::Distinct),
            "per_chain" | "per-chain" => Ok(Resampling::PerChain),
            other => Err(Error::InvalidInput(format!(
                "unknown chain-start resampling '{other}'; choose distinct or per_chain"
            ))),
        }
    }
}

/// The output of [`sample`].
#[derive(Clone, Debug)]
pub struct McmcRun {
    /// The kept draws `[samples, dim]`, interleaved across chains (draw 0 of every chain, then
    /// draw 1, …), truncated to `config.samples`.
    pub samples: Array2<f64>,
    /// The kept draws of each chain `[chains, kept, dim]` (kept = ⌈samples / chains⌉).
    pub per_chain: Array3<f64>,
    /// Rank-normalised split-R̂ of each parameter ([`split_rhat`] on `per_chain`).
    pub rhat: Vec<f64>,
    /// Bulk effective sample size of each parameter ([`ess_bulk`] on `per_chain`).
    pub ess: Vec<f64>,
    /// After warm-up: the fraction of accepted proposals (Metropolis), or the fraction of
    /// shrinkage proposals that landed in the slice, i.e. 1 / (target evaluations per coordinate
    /// update during shrinkage) (slice).
    pub acceptance_rate: f64,
    /// Wall-clock time of the run (initialisation included).
    pub seconds: f64,
    /// Number of batched `log_density` calls (initialisation included).
    pub target_calls: usize,
    /// Number of rows evaluated over all those calls.
    pub target_rows: usize,
    /// Transitions after warm-up that ended in a divergent trajectory (NUTS; 0 for the other
    /// samplers). Divergences mean the step size is too large for some region of the target,
    /// and draws from that region may be missing.
    pub divergences: usize,
}

impl McmcRun {
    /// Error [`Error::Sampling`] naming the parameter with the largest R̂ if it exceeds `max_rhat`
    /// (or cannot be computed). When that parameter's chain means fall into two groups far apart
    /// (see [`separated_chains`]) the message says so: the target looks multimodal and the chains
    /// do not cross between modes, which more warm-up does not cure.
    pub fn check(&self, max_rhat: f64) -> Result<()> {
        let worst = self
            .rhat
            .iter()
            .enumerate()
            .max_by(|a, b| {
                let key = |r: f64| if r.is_nan() { f64::INFINITY } else { r };
                key(*a.1).total_cmp(&key(*b.1))
            })
            .map(|(i, &r)| (i, r));
        match worst {
            Some((i, r)) if r.is_nan() => Err(Error::Sampling(format!(
                "R̂ of parameter {i} cannot be computed (fewer than 4 kept draws per chain, or a constant parameter)"
            ))),
            Some((i, r)) if r > max_rhat => match separated_chains(&self.per_chain, i) {
                Some((low, high)) => Err(Error::Sampling(format!(
                    "chains have not converged: R̂ of parameter {i} is {r:.4} > {max_rhat}; its chain means form two \
                     groups ({low} and {high} chains) more than {MODE_GAP} within-chain standard deviations apart: \
                     the target looks multimodal and the chains do not move between its modes, so the pooled draws \
                     weigh the modes as the chain starts did (more warm-up will not help)"
                ))),
                None => Err(Error::Sampling(format!(
                    "chains have not converged: R̂ of parameter {i} is {r:.4} > {max_rhat}; use a longer warm-up or more samples"
                ))),
            },
            _ => Ok(()),
        }
    }
}

/// Gap between groups of chain means, in pooled within-chain standard deviations, that
/// [`separated_chains`] reads as chains held in separate modes.
const MODE_GAP: f64 = 4.0;

/// For parameter `d` of `per_chain` `[chains, kept, dim]`: if the sorted chain means have a gap
/// wider than [`MODE_GAP`] pooled within-chain standard deviations (root mean of the chains'
/// variances), the numbers of chains below and above the widest gap. Chains that drift slowly
/// through one mode spread their means without such a gap; chains stuck in separate modes
/// leave one.
pub fn separated_chains(per_chain: &Array3<f64>, d: usize) -> Option<(usize, usize)> {
    let (chains, kept, dim) = per_chain.dim();
    if chains < 2 || kept < 2 || d >= dim {
        return None;
    }
    let mut means = Vec::with_capacity(chains);
    let mut variance = 0.0;
    for chain in per_chain.axis_iter(Axis(0)) {
        let column = chain.column(d);
        means.push(column.mean()?);
        variance += column.var(1.0) / chains as f64;
    }
    means.sort_by(f64::total_cmp);
    let (k, gap) = means.windows(2).map(|w| w[1] - w[0]).enumerate().max_by(|a, b| a.1.total_cmp(&b.1))?;
    (gap.is_finite() && gap > MODE_GAP * variance.sqrt()).then_some((k + 1, chains - k - 1))
}

/// [`LogDensity`] of a target over a bounded support, seen in the unconstrained space ℝᴰ of the
/// prior's bijection T ([`Distribution::to_unconstrained`]): log π_u(u) = log π(T⁻¹(u)) +
/// log|det ∂T⁻¹/∂u|. Sample it with [`sample`], then map the run back with
/// [`Unconstrained::constrain`].
pub struct Unconstrained<'a, D: LogDensity + ?Sized> {
    /// The target log π(θ) on the constrained space.
    pub target: &'a D,
    /// The prior whose support and bijection are used (only its bijection; its density is not added).
    pub prior: &'a Distribution,
}

impl<'a, D: LogDensity + ?Sized> Unconstrained<'a, D> {
    /// Wrap `target`; errors if its dimension differs from the prior's.
    pub fn new(target: &'a D, prior: &'a Distribution) -> Result<Self> {
        if target.dim() != prior.dim() {
            return Err(Error::shape(
                "Unconstrained::new",
                format!("a target of the prior's dimension {}", prior.dim()),
                format!("dimension {}", target.dim()),
            ));
        }
        Ok(Unconstrained { target, prior })
    }

    /// `n` prior draws mapped to unconstrained space, `[n, dim]` (an [`InitialDraw`] for [`Init`]).
    pub fn prior_draws(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        self.prior.to_unconstrained(self.prior.sample(n, rng).view())
    }

    /// Map a run in unconstrained space back to the constrained space (draws through T⁻¹; R̂ and
    /// ESS recomputed on the constrained draws).
    pub fn constrain(&self, run: McmcRun) -> McmcRun {
        let (samples, _) = self.prior.from_unconstrained(run.samples.view());
        let mut per_chain = Array3::zeros(run.per_chain.dim());
        for (chain, mut out) in run.per_chain.axis_iter(Axis(0)).zip(per_chain.axis_iter_mut(Axis(0))) {
            out.assign(&self.prior.from_unconstrained(chain).0);
        }
        McmcRun {
            samples,
            rhat: split_rhat(per_chain.view()),
            ess: ess_bulk(per_chain.view()),
            per_chain,
            acceptance_rate: run.acceptance_rate,
            seconds: run.seconds,
            target_calls: run.target_calls,
            target_rows: run.target_rows,
            divergences: run.divergences,
        }
    }
}

impl<D: LogDensity + ?Sized> LogDensity for Unconstrained<'_, D> {
    fn dim(&self) -> usize {
        self.target.dim()
    }

    fn log_density(&self, u: ArrayView2<f64>) -> Result<Array1<f64>> {
        let (theta, log_det) = self.prior.from_unconstrained(u);
        let log_pi = self.target.log_density(theta.view())?;
        Ok(log_pi + log_det)
    }

    /// ∇u log π_u = Jᵀ ∇θ log π(T⁻¹(u)) + ∇u log|det J| with J = ∂T⁻¹/∂u; the target supplies
    /// ∇θ log π, and J and ∇ log|det J| are taken by central differences of the bijection
    /// (step 10⁻⁵·max(1, |u_j|)), which costs no target evaluations. (A leapfrog integrator
    /// stays reversible and volume-preserving with any deterministic force field, so NUTS
    /// remains exact with this gradient.)
    fn gradient(&self, u: ArrayView2<f64>) -> Option<Result<(Array1<f64>, Array2<f64>)>> {
        let (theta, log_det) = self.prior.from_unconstrained(u);
        let (log_pi, grad_theta) = match self.target.gradient(theta.view())? {
            Ok(values) => values,
            Err(error) => return Some(Err(error)),
        };
        if grad_theta.dim() != u.dim() {
            return Some(Err(Error::shape(
                "MCMC target gradient",
                format!("{} × {}", u.nrows(), u.ncols()),
                format!("{} × {}", grad_theta.nrows(), grad_theta.ncols()),
            )));
        }
        let mut grad = Array2::zeros(u.raw_dim());
        for j in 0..u.ncols() {
            let steps: Vec<f64> = u.column(j).iter().map(|v| 1e-5 * v.abs().max(1.0)).collect();
            let (mut plus, mut minus) = (u.to_owned(), u.to_owned());
            for (i, h) in steps.iter().enumerate() {
                plus[[i, j]] += h;
                minus[[i, j]] -= h;
            }
            let (theta_plus, log_det_plus) = self.prior.from_unconstrained(plus.view());
            let (theta_minus, log_det_minus) = self.prior.from_unconstrained(minus.view());
            for (i, h) in steps.iter().enumerate() {
                let mut g = (log_det_plus[i] - log_det_minus[i]) / (2.0 * h);
                for k in 0..u.ncols() {
                    if grad_theta[[i, k]] != 0.0 {
                        g += grad_theta[[i, k]] * (theta_plus[[i, k]] - theta_minus[[i, k]]) / (2.0 * h);
                    }
                }
                grad[[i, j]] = g;
            }
        }
        Some(Ok((log_pi + log_det, grad)))
    }
}

/// Run `config.chains` chains of `sampler` on `target` from `init`: `config.warmup` adapted steps,
/// then `thin · ⌈samples / chains⌉` steps of which every `thin`-th is kept. `progress(done,
/// total)` is called after every step. A step is one sweep over all coordinates (slice) or one
/// proposal (Metropolis) for all chains at once.
///
/// Errors: invalid configuration or sampler parameters, initial points of the wrong shape or with
/// log π = −∞ / NaN, and a target returning NaN (or +∞) for some chain during sampling.
pub fn sample(
    target: &dyn LogDensity,
    sampler: &Sampler,
    init: &Init,
    config: &McmcConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<McmcRun> {
    let start = Instant::now();
    validate(target, sampler, config)?;
    let counting = Counting { inner: target, calls: AtomicUsize::new(0), rows: AtomicUsize::new(0) };
    let target: &dyn LogDensity = &counting;
    let (mut x, mut lp) = initialise(target, init, config)?;
    let mut rng = substream(config.seed, 1);
    let dim = target.dim();
    let chains = config.chains;
    let kept = config.samples.div_ceil(chains);
    let total = config.warmup + kept * config.thin;
    let mut kernel: Box<dyn Kernel> = match *sampler {
        Sampler::Slice { width } => Box::new(slice::SliceKernel::new(width, dim)),
        Sampler::Metropolis { step } => Box::new(metropolis::MetropolisKernel::new(step, chains, dim, config.warmup)),
        Sampler::Nuts { max_depth, target_accept, adapt_mass } => {
            Box::new(nuts::NutsKernel::new(max_depth, target_accept, adapt_mass, chains, dim, config.warmup))
        }
    };
    let mut per_chain = Array3::zeros((chains, kept, dim));
    for iteration in 0..total {
        let warmup = iteration < config.warmup;
        kernel.step(target, &mut x, &mut lp, &mut rng, warmup.then_some(iteration))?;
        if !warmup {
            let j = iteration - config.warmup;
            if (j + 1).is_multiple_of(config.thin) {
                per_chain.slice_mut(s![.., j / config.thin, ..]).assign(&x);
            }
        }
        progress(iteration + 1, total);
    }
    let mut samples = Array2::zeros((config.samples, dim));
    for (row, mut out) in samples.axis_iter_mut(Axis(0)).enumerate() {
        out.assign(&per_chain.slice(s![row % chains, row / chains, ..]));
    }
    Ok(McmcRun {
        samples,
        rhat: split_rhat(per_chain.view()),
        ess: ess_bulk(per_chain.view()),
        per_chain,
        acceptance_rate: kernel.acceptance_rate(),
        seconds: start.elapsed().as_secs_f64(),
        target_calls: counting.calls.load(Ordering::Relaxed),
        target_rows: counting.rows.load(Ordering::Relaxed),
        divergences: kernel.divergences(),
    })
}

/// A target that refuses every evaluation once `max_seconds` have passed since it was made: the
/// time limit of a sampling call ([`crate::inference::SampleOptions::max_seconds`]) applied inside
/// the MCMC run, which then stops with the error.
pub struct TimeLimited<D> {
    target: D,
    start: Instant,
    max_seconds: f64,
}

impl<D: LogDensity> TimeLimited<D> {
    /// `target` with `max_seconds` left from now.
    pub fn new(target: D, max_seconds: f64) -> Self {
        Self { target, start: Instant::now(), max_seconds }
    }

    fn check_time(&self) -> Result<()> {
        if self.start.elapsed().as_secs_f64() > self.max_seconds {
            return Err(Error::Sampling(format!("MCMC time limit of {:.1} s reached", self.max_seconds.max(0.0))));
        }
        Ok(())
    }
}

impl<D: LogDensity> LogDensity for TimeLimited<D> {
    fn dim(&self) -> usize {
        self.target.dim()
    }

    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        self.check_time()?;
        self.target.log_density(theta)
    }

    /// The target's gradient (`None` if it has none), or the time-limit error once time is up.
    fn gradient(&self, theta: ArrayView2<f64>) -> Option<Result<(Array1<f64>, Array2<f64>)>> {
        self.check_time().err().map(Err).or_else(|| self.target.gradient(theta))
    }
}

/// A target that counts its calls and evaluated rows.
struct Counting<'a> {
    inner: &'a dyn LogDensity,
    calls: AtomicUsize,
    rows: AtomicUsize,
}

impl LogDensity for Counting<'_> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(theta.nrows(), Ordering::Relaxed);
        self.inner.log_density(theta)
    }

    fn gradient(&self, theta: ArrayView2<f64>) -> Option<Result<(Array1<f64>, Array2<f64>)>> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(theta.nrows(), Ordering::Relaxed);
        self.inner.gradient(theta)
    }
}

/// One Markov transition for all chains at once.
trait Kernel {
    /// Move every chain (`x [chains, dim]` with log π values `lp`). `warmup` is the warm-up
    /// iteration index, or None after warm-up (no adaptation; statistics are counted).
    fn step(
        &mut self,
        target: &dyn LogDensity,
        x: &mut Array2<f64>,
        lp: &mut Array1<f64>,
        rng: &mut LindleyRng,
        warmup: Option<usize>,
    ) -> Result<()>;

    /// Acceptance statistic after warm-up (see [`McmcRun::acceptance_rate`]).
    fn acceptance_rate(&self) -> f64;

    /// Divergent transitions after warm-up (see [`McmcRun::divergences`]).
    fn divergences(&self) -> usize {
        0
    }
}

fn validate(target: &dyn LogDensity, sampler: &Sampler, config: &McmcConfig) -> Result<()> {
    if target.dim() == 0 {
        return Err(Error::InvalidInput("MCMC target has dimension 0".into()));
    }
    if config.chains == 0 || config.thin == 0 || config.samples == 0 {
        return Err(Error::InvalidInput(format!(
            "MCMC config needs chains, thin and samples ≥ 1 (got chains {}, thin {}, samples {})",
            config.chains, config.thin, config.samples
        )));
    }
    let (name, value) = match *sampler {
        Sampler::Slice { width } => ("slice width", width),
        Sampler::Metropolis { step } => ("Metropolis step", step),
        Sampler::Nuts { max_depth, target_accept, .. } => {
            if max_depth == 0 || max_depth > 20 {
                return Err(Error::InvalidInput(format!("NUTS max_depth must be in 1..=20, got {max_depth}")));
            }
            if !(target_accept > 0.0 && target_accept < 1.0) {
                return Err(Error::InvalidInput(format!("NUTS target_accept must be in (0, 1), got {target_accept}")));
            }
            ("NUTS target_accept", target_accept)
        }
    };
    if !(value.is_finite() && value > 0.0) {
        return Err(Error::InvalidInput(format!("{name} must be finite and > 0, got {value}")));
    }
    Ok(())
}

/// Evaluate `target` on `theta`, checking the output length and that no value is NaN or +∞.
/// `labels[i]` names row i in errors as "`what` labels[i]" (e.g. "chain 3").
fn evaluate(target: &dyn LogDensity, theta: ArrayView2<f64>, labels: &[usize], what: &str) -> Result<Array1<f64>> {
    let values = target.log_density(theta)?;
    if values.len() != theta.nrows() {
        return Err(Error::shape(
            "MCMC target log_density",
            format!("{} values (one per row)", theta.nrows()),
            format!("{} values", values.len()),
        ));
    }
    if let Some(i) = values.iter().position(|v| v.is_nan() || *v == f64::INFINITY) {
        return Err(Error::Sampling(format!(
            "target log-density is {} for {what} {} at θ = {}",
            values[i],
            labels[i],
            theta.row(i)
        )));
    }
    Ok(values)
}

/// Chain starts `[chains, dim]` and their log π values.
fn initialise(target: &dyn LogDensity, init: &Init, config: &McmcConfig) -> Result<(Array2<f64>, Array1<f64>)> {
    let dim = target.dim();
    let chains = config.chains;
    let mut rng = substream(config.seed, 0);
    let check_shape = |points: &Array2<f64>, rows: usize, context: &str| {
        if points.dim() != (rows, dim) {
            return Err(Error::shape(context, format!("[{rows}, {dim}]"), format!("{:?}", points.shape())));
        }
        Ok(())
    };
    let no_mass = |tried: usize| {
        Error::Sampling(format!(
            "all {tried} initial points have log-density −∞: the target has no mass where the initial distribution \
             puts its points"
        ))
    };
    match init {
        Init::Points(points) => {
            check_shape(points, chains, "MCMC initial points")?;
            let labels: Vec<usize> = (0..chains).collect();
            let lp = evaluate(target, points.view(), &labels, "chain")?;
            if let Some(c) = lp.iter().position(|v| *v == f64::NEG_INFINITY) {
                return Err(Error::Sampling(format!(
                    "initial point of chain {c} has log-density −∞ (θ = {})",
                    points.row(c)
                )));
            }
            Ok((points.clone(), lp))
        }
        Init::Prior(draw) => {
            let mut x = Array2::zeros((chains, dim));
            let mut lp = Array1::from_elem(chains, f64::NEG_INFINITY);
            let mut missing: Vec<usize> = (0..chains).collect();
            let mut tried = 0;
            for _ in 0..100 {
                let points = draw(missing.len(), &mut rng);
                check_shape(&points, missing.len(), "MCMC initial draws")?;
                let values = evaluate(target, points.view(), &missing, "chain")?;
                tried += missing.len();
                for (k, &c) in missing.iter().enumerate() {
                    x.row_mut(c).assign(&points.row(k));
                    lp[c] = values[k];
                }
                missing.retain(|&c| lp[c] == f64::NEG_INFINITY);
                if missing.is_empty() {
                    return Ok((x, lp));
                }
            }
            if missing.len() == chains {
                Err(no_mass(tried))
            } else {
                Err(Error::Sampling(format!(
                    "after {tried} initial draws, {} of {chains} chains still start where the target has log-density \
                     −∞; use Init::Resample",
                    missing.len()
                )))
            }
        }
        Init::Resample { draw, candidates, resampling } => {
            let k = *candidates;
            if k == 0 {
                return Err(Error::InvalidInput("Init::Resample needs at least 1 candidate".into()));
            }
            let pool = |rng: &mut LindleyRng| -> Result<(Array2<f64>, Array1<f64>)> {
                let points = draw(k, rng);
                check_shape(&points, k, "MCMC initial candidates")?;
                let mut lp = Array1::zeros(k);
                for start in (0..k).step_by(1024) {
                    let end = (start + 1024).min(k);
                    let labels: Vec<usize> = (start..end).collect();
                    let values = evaluate(target, points.slice(s![start..end, ..]), &labels, "initial candidate")?;
                    lp.slice_mut(s![start..end]).assign(&values);
                }
                Ok((points, lp))
            };
            let chosen = match resampling {
                Resampling::Distinct => {
                    let (points, lp) = pool(&mut rng)?;
                    let chosen = weighted_without_replacement(lp.view(), chains, &mut rng).ok_or_else(|| no_mass(k))?;
                    (points.select(Axis(0), &chosen), lp.select(Axis(0), &chosen))
                }
                Resampling::PerChain => {
                    let mut x = Array2::zeros((chains, dim));
                    let mut lp = Array1::zeros(chains);
                    for c in 0..chains {
                        let (points, values) = pool(&mut rng)?;
                        let i = weighted_indices(values.view(), 1, &mut rng).ok_or_else(|| no_mass(k))?[0];
                        x.row_mut(c).assign(&points.row(i));
                        lp[c] = values[i];
                    }
                    (x, lp)
                }
            };
            Ok(chosen)
        }
    }
}

/// Indices of `n` rows drawn with probabilities ∝ exp(`log_weights`): without replacement
/// (Gumbel-top-k) among the rows of positive weight, then with replacement once those run out.
/// None when no weight is positive.
fn weighted_without_replacement(log_weights: ArrayView1<f64>, n: usize, rng: &mut LindleyRng) -> Option<Vec<usize>> {
    let finite: Vec<usize> = (0..log_weights.len()).filter(|&i| log_weights[i] > f64::NEG_INFINITY).collect();
    if finite.is_empty() {
        return None;
    }
    // Gumbel-top-k: the largest log π + Gumbel keys are a weighted draw without replacement.
    let mut keyed: Vec<(f64, usize)> = finite
        .iter()
        .map(|&i| {
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            (log_weights[i] - (-u.ln()).ln(), i)
        })
        .collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut chosen: Vec<usize> = keyed.iter().take(n).map(|&(_, i)| i).collect();
    let missing = n - chosen.len();
    chosen.extend(weighted_indices(log_weights, missing, rng)?);
    Some(chosen)
}

/// `n` indices drawn independently (with replacement) with probabilities ∝ exp(`log_weights`),
/// by inverse CDF; None when no weight is positive.
pub(crate) fn weighted_indices(log_weights: ArrayView1<f64>, n: usize, rng: &mut LindleyRng) -> Option<Vec<usize>> {
    let max = log_weights.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    if max == f64::NEG_INFINITY {
        return None;
    }
    let cumulative: Vec<f64> = log_weights
        .iter()
        .scan(0.0, |acc, &v| {
            *acc += (v - max).exp();
            Some(*acc)
        })
        .collect();
    let total = cumulative[cumulative.len() - 1];
    // The first index whose cumulative weight exceeds u has positive weight.
    let draw = |u: f64| cumulative.partition_point(|&c| c <= u * total).min(log_weights.len() - 1);
    Some((0..n).map(|_| draw(rng.random::<f64>())).collect())
}

#[cfg(test)]
mod tests;
