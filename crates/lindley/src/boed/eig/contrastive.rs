//! Contrastive EIG estimators with the true likelihood: nested Monte Carlo (NMC), the prior
//! contrastive lower bound (PCE) and its matching upper bound (sNMC), for one design
//! ([`ContrastiveEig`]) and for whole trajectories ([`spce`], [`snmc`]).

use ndarray::{Array1, ArrayView1, ArrayView2, ArrayView3, Axis, s};
use rayon::prelude::*;

use super::{EigEstimate, EigEstimator, RunningLogSumExp};
use crate::boed::problems::{DesignProblem, check_cols};
use crate::rng::substream;
use crate::{Error, Result};

/// Default number of inner samples drawn and scored at once.
pub const DEFAULT_CHUNK: usize = 16_384;

/// Stream index (under the estimator's seed) of the outer samples (θₙ, yₙ).
const OUTER_STREAM: u64 = 0;
/// Stream index of the contrastive set shared by all outer samples (PCE, sNMC).
const SHARED_CONTRAST_STREAM: u64 = 1;
/// First stream index of the per-outer-sample inner sets (NMC): outer sample n uses this + n.
const FRESH_INNER_STREAM: u64 = 2;

/// Which contrastive estimator [`ContrastiveEig`] computes. With outer samples (θₙ, yₙ) ~
/// p(θ)p(y | θ, ξ) and inner prior samples θ₁..θ_L, each outer sample contributes
/// log p(yₙ | θₙ, ξ) − log p̂(yₙ | ξ), where p̂ is:
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContrastiveKind {
    /// Nested Monte Carlo (Ryan 2003; Rainforth et al. 2018): p̂ = (1/L) Σ_ℓ p(yₙ | θₙ,ℓ, ξ) with
    /// a fresh inner set for every outer sample. Consistent as N, L → ∞; biased upwards for
    /// finite L.
    Nmc,
    /// Prior contrastive estimation (Foster et al. 2020): p̂ = (1/(L+1))·[p(yₙ | θₙ, ξ) +
    /// Σ_ℓ p(yₙ | θ_ℓ, ξ)]. A lower bound on the EIG, never above log(L + 1).
    Pce,
    /// Sequential nested Monte Carlo (Foster et al. 2021): p̂ = (1/L) Σ_ℓ p(yₙ | θ_ℓ, ξ), the
    /// matching upper bound.
    Snmc,
}

/// The contrastive estimators NMC, PCE and sNMC at each design of a batch.
///
/// PCE and sNMC share one contrastive set θ₁..θ_L among all N outer samples (drawn once per
/// design); NMC draws a fresh set per outer sample. Inner samples are drawn and scored `chunk` at a
/// time and folded into a running log-sum-exp, so memory is O(N + chunk) whatever L is; the work
/// is split over outer samples with rayon. Every design uses the same seed (common random numbers),
/// so differences between designs are not blurred by sampling noise, and the random draws do not
/// depend on `chunk` or on the number of threads. The standard error is taken over the outer
/// samples; for PCE and sNMC it treats the shared contrastive set as fixed (its own variability
/// shrinks as L grows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContrastiveEig {
    /// Which estimator.
    pub kind: ContrastiveKind,
    /// Number of outer samples N (at least 2, for the standard error).
    pub outer: usize,
    /// Number of inner (contrastive) samples L (at least 1).
    pub inner: usize,
    /// Inner samples drawn and scored at once (at least 1).
    pub chunk: usize,
}

impl ContrastiveEig {
    /// The estimator with N = `outer`, L = `inner` and the default chunk size.
    pub fn new(kind: ContrastiveKind, outer: usize, inner: usize) -> Self {
        ContrastiveEig { kind, outer, inner, chunk: DEFAULT_CHUNK }
    }

    fn validate(&self) -> Result<()> {
        if self.outer < 2 {
            return Err(Error::InvalidInput(format!(
                "contrastive EIG needs at least 2 outer samples for a standard error, got {}",
                self.outer
            )));
        }
        check_inner(self.inner, self.chunk)
    }
}

fn check_inner(inner: usize, chunk: usize) -> Result<()> {
    if inner == 0 {
        return Err(Error::InvalidInput("contrastive EIG needs at least 1 inner sample, got 0".into()));
    }
    if chunk == 0 {
        return Err(Error::InvalidInput("contrastive EIG chunk size must be at least 1, got 0".into()));
    }
    Ok(())
}

impl EigEstimator for ContrastiveEig {
    fn estimate(&self, problem: &dyn DesignProblem, designs: ArrayView2<f64>, seed: u64) -> Result<Vec<EigEstimate>> {
        self.validate()?;
        problem.design_box().check(designs)?;
        let mut estimates = Vec::with_capacity(designs.nrows());
        for j in 0..designs.nrows() {
            let design = designs.slice(s![j..j + 1, ..]);
            let design_dim = design.ncols();
            let mut rng = substream(seed, OUTER_STREAM);
            let theta = problem.sample_prior(self.outer, &mut rng);
            let y = problem.simulate(theta.view(), design, &mut rng)?;
            let own = problem.log_likelihood(y.view(), theta.view(), design)?;
            let n = self.outer;
            let design3 = design.insert_axis(Axis(1));
            let history = History {
                designs: design3.broadcast((n, 1, design_dim)).expect("one design broadcasts over outer samples"),
                observations: y.view().insert_axis(Axis(1)),
            };
            let terms = contrastive_terms(problem, &history, own.view(), self.kind, self.inner, self.chunk, seed)?;
            let summary = summarise(&terms, &format!("{} EIG at design row {j}", problem.name()))?;
            estimates.push(EigEstimate { eig: summary.mean, stderr: summary.stderr });
        }
        Ok(estimates)
    }
}

/// EIG of whole trajectories: mean, median and standard error over trajectories, and the term of
/// each trajectory.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryEig {
    /// Mean over trajectories.
    pub mean: f64,
    /// Median over trajectories.
    pub median: f64,
    /// Standard error of the mean.
    pub stderr: f64,
    /// One value per trajectory, in input order.
    pub per_trajectory: Vec<f64>,
}

/// sPCE of Foster et al. (2021) over N trajectories, each with its true parameters θ₀
/// (`theta0 [N, P]`), designs ξ₁..ξ_T (`designs [N, T, Dξ]`) and observations y₁..y_T
/// (`observations [N, T, Dy]`): with L prior samples θ₁..θ_L (one set, shared by all
/// trajectories), each trajectory scores
/// log(L + 1) − logsumexp_{ℓ=0..L}[Σₜ log p(yₜ | θ_ℓ, ξₜ) − Σₜ log p(yₜ | θ₀, ξₜ)],
/// a lower bound on the total EIG of the design policy, at most log(L + 1). The contrastive
/// samples are streamed `chunk` at a time, so L of 10⁶–10⁷ runs in bounded memory.
pub fn spce(
    problem: &dyn DesignProblem,
    theta0: ArrayView2<f64>,
    designs: ArrayView3<f64>,
    observations: ArrayView3<f64>,
    contrasts: usize,
    chunk: usize,
    seed: u64,
) -> Result<TrajectoryEig> {
    trajectory_eig(problem, theta0, designs, observations, ContrastiveKind::Pce, contrasts, chunk, seed)
}

/// sNMC of Foster et al. (2021), the upper bound matching [`spce`] (same arguments): each
/// trajectory scores log L − logsumexp_{ℓ=1..L}[Σₜ log p(yₜ | θ_ℓ, ξₜ) − Σₜ log p(yₜ | θ₀, ξₜ)].
pub fn snmc(
    problem: &dyn DesignProblem,
    theta0: ArrayView2<f64>,
    designs: ArrayView3<f64>,
    observations: ArrayView3<f64>,
    contrasts: usize,
    chunk: usize,
    seed: u64,
) -> Result<TrajectoryEig> {
    trajectory_eig(problem, theta0, designs, observations, ContrastiveKind::Snmc, contrasts, chunk, seed)
}

#[allow(clippy::too_many_arguments)]
fn trajectory_eig(
    problem: &dyn DesignProblem,
    theta0: ArrayView2<f64>,
    designs: ArrayView3<f64>,
    observations: ArrayView3<f64>,
    kind: ContrastiveKind,
    contrasts: usize,
    chunk: usize,
    seed: u64,
) -> Result<TrajectoryEig> {
    check_inner(contrasts, chunk)?;
    let context = "trajectory EIG";
    check_cols(|| context.to_string(), "theta0", theta0, problem.parameter_dim())?;
    let (n, steps, design_dim) = designs.dim();
    let (n_obs, steps_obs, obs_dim) = observations.dim();
    if n == 0 || steps == 0 {
        return Err(Error::InvalidInput(format!(
            "trajectory EIG needs at least one trajectory and one step, got {n} trajectories of {steps} steps"
        )));
    }
    if theta0.nrows() != n || n_obs != n {
        return Err(Error::shape(
            context,
            format!("{n} trajectories in theta0, designs and observations"),
            format!("{} in theta0, {n} in designs, {n_obs} in observations", theta0.nrows()),
        ));
    }
    if steps_obs != steps || obs_dim != problem.observation_dim() || design_dim != problem.design_dim() {
        return Err(Error::shape(
            context,
            format!(
                "designs [{n}, T, {}] and observations [{n}, T, {}]",
                problem.design_dim(),
                problem.observation_dim()
            ),
            format!("designs [{n}, {steps}, {design_dim}] and observations [{n}, {steps_obs}, {obs_dim}]"),
        ));
    }
    for t in 0..steps {
        problem.design_box().check(designs.index_axis(Axis(1), t)).map_err(|e| match e {
            Error::InvalidInput(message) => Error::InvalidInput(format!("step {t} (rows are trajectories): {message}")),
            other => other,
        })?;
    }
    let mut own = Array1::<f64>::zeros(n);
    for t in 0..steps {
        own += &problem.log_likelihood(observations.index_axis(Axis(1), t), theta0, designs.index_axis(Axis(1), t))?;
    }
    let history = History { designs, observations };
    let terms = contrastive_terms(problem, &history, own.view(), kind, contrasts, chunk, seed)?;
    let summary = summarise(&terms, &format!("{} trajectory EIG", problem.name()))?;
    Ok(TrajectoryEig { mean: summary.mean, median: summary.median, stderr: summary.stderr, per_trajectory: terms })
}

/// The designs `[N, T, Dξ]` and observations `[N, T, Dy]` of N outer samples.
struct History<'a> {
    designs: ArrayView3<'a, f64>,
    observations: ArrayView3<'a, f64>,
}

impl History<'_> {
    /// Σₜ log p(yₙₜ | θ, ξₙₜ) for every row θ of `theta`.
    fn log_likelihood(&self, problem: &dyn DesignProblem, n: usize, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        let steps = self.designs.dim().1;
        let mut total = problem.log_likelihood(
            self.observations.slice(s![n, 0..1, ..]),
            theta,
            self.designs.slice(s![n, 0..1, ..]),
        )?;
        for t in 1..steps {
            total += &problem.log_likelihood(
                self.observations.slice(s![n, t..t + 1, ..]),
                theta,
                self.designs.slice(s![n, t..t + 1, ..]),
            )?;
        }
        Ok(total)
    }
}

/// The per-outer-sample terms log p(hₙ | θₙ) − log p̂(hₙ) of the chosen estimator, where `own[n]`
/// is log p(hₙ | θₙ) and p̂ uses `inner` prior samples streamed `chunk` at a time.
fn contrastive_terms(
    problem: &dyn DesignProblem,
    history: &History<'_>,
    own: ArrayView1<f64>,
    kind: ContrastiveKind,
    inner: usize,
    chunk: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let n = own.len();
    let chunks = || (0..inner).step_by(chunk).map(move |start| chunk.min(inner - start));
    let log_inner = (inner as f64).ln();
    match kind {
        ContrastiveKind::Nmc => (0..n)
            .into_par_iter()
            .map(|i| -> Result<f64> {
                let mut rng = substream(seed, FRESH_INNER_STREAM + i as u64);
                let mut lse = RunningLogSumExp::new();
                for size in chunks() {
                    let theta = problem.sample_prior(size, &mut rng);
                    let ll = history.log_likelihood(problem, i, theta.view())?;
                    lse.extend(ll.as_slice().expect("fresh array"));
                }
                Ok(own[i] - (lse.value() - log_inner))
            })
            .collect(),
        ContrastiveKind::Pce | ContrastiveKind::Snmc => {
            let include_own = kind == ContrastiveKind::Pce;
            let mut states: Vec<RunningLogSumExp> = (0..n)
                .map(|i| {
                    let mut lse = RunningLogSumExp::new();
                    if include_own {
                        lse.extend(&[own[i]]);
                    }
                    lse
                })
                .collect();
            let mut rng = substream(seed, SHARED_CONTRAST_STREAM);
            for size in chunks() {
                let theta = problem.sample_prior(size, &mut rng);
                states.par_iter_mut().enumerate().try_for_each(|(i, lse)| -> Result<()> {
                    let ll = history.log_likelihood(problem, i, theta.view())?;
                    lse.extend(ll.as_slice().expect("fresh array"));
                    Ok(())
                })?;
            }
            let log_count = if include_own { (inner as f64 + 1.0).ln() } else { log_inner };
            Ok(states.iter().zip(own.iter()).map(|(lse, &a)| a - (lse.value() - log_count)).collect())
        }
    }
}

/// Mean, median and standard error of per-sample EIG terms.
pub(super) struct Summary {
    pub(super) mean: f64,
    pub(super) median: f64,
    pub(super) stderr: f64,
}

/// Mean, median and standard error of per-sample terms; a non-finite term is an error.
pub(super) fn summarise(terms: &[f64], context: &str) -> Result<Summary> {
    if let Some((i, v)) = terms.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::Sampling(format!(
            "{context}: the term of outer sample {i} is {v} (a log-likelihood was NaN or every contrast had zero \
             likelihood)"
        )));
    }
    let n = terms.len() as f64;
    let mean = terms.iter().sum::<f64>() / n;
    let variance =
        if terms.len() > 1 { terms.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    let mut sorted = terms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 { sorted[mid] } else { 0.5 * (sorted[mid - 1] + sorted[mid]) };
    Ok(Summary { mean, median, stderr: (variance / n).sqrt() })
}
