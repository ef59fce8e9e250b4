//! Sequential Bayesian experimental design: measure, update the posterior, design again.
//!
//! At step t = 1..T a design ξₜ is chosen for the current belief about θ — by MPR-GA
//! ([`mprga`]) on a learned EIG bound (the adaptive policy, with the belief's particles as the
//! prior: "posterior as new prior", [`ParticlePrior`]), or uniformly in the design box (the random
//! baseline) — an observation yₜ ~ p(y | θ*, ξₜ) is simulated at the hidden true parameters θ*,
//! and the belief is updated to p(θ | ξ₁..ₜ, y₁..ₜ) ∝ p(θ) Πₛ p(yₛ | θ, ξₛ) with the true
//! likelihood by resample-move sequential Monte Carlo (Gilks & Berzuini 2001; Chopin 2002): the
//! particles are reweighted by p(yₜ | θ, ξₜ), resampled (systematic resampling) and moved by
//! random-walk Metropolis steps that leave the exact posterior of all measurements so far
//! invariant ([`crate::mcmc`]), so the particle set does not collapse as measurements accumulate.
//! The adaptive policy can take the problem's published first design
//! ([`DesignProblem::protocol`]) at t = 1.
//!
//! Instead of SMC, the belief can be updated without the likelihood by NPE, "posterior as new
//! prior" (Klein et al. 2026; [`PosteriorUpdate::Npe`]): θ drawn from the current posterior (the
//! prior at t = 1, then the previous step's NPE at its observation), y simulated at the newest
//! design only, a fresh NPE q(θ | y, ξₜ) trained on these pairs — since θ was drawn from
//! p(θ | y₁..ₜ₋₁), its minimiser is p(θ | y₁..ₜ) — and the particles drawn from q(θ | yₜ, ξₜ),
//! keeping the draws inside the prior's support.
//!
//! A trajectory h = (ξ₁, y₁, …, ξ_T, y_T) is scored by sPCE (Foster et al. 2021, eq. 9):
//! log(L+1) − log Σ_{ℓ=0..L} exp[Σₜ log p(yₜ | θ_ℓ, ξₜ) − Σₜ log p(yₜ | θ₀, ξₜ)] with θ₀ = θ* and
//! L prior contrasts; averaged over rollouts with θ* ~ p(θ) it is a lower bound on the total EIG
//! of the policy, at most log(L+1) ([`rollouts`], [`score_runs`]).

use std::sync::Arc;
use std::time::Instant;

use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::boed::eig::{DEFAULT_CHUNK, RunningLogSumExp, spce};
use crate::boed::npe_posterior::{MIN_NPE_SIMULATIONS, NpePosterior, NpeUpdate};
use crate::boed::optimize::{MprgaConfig, MprgaEstimator, MprgaProgress, mprga};
use crate::boed::problems::{DesignProblem, DifferentiableProblem, ParticlePrior};
use crate::mcmc::{Init, LogDensity, McmcConfig, Sampler, sample};
use crate::rng::{LindleyRng, substream};
use crate::train::EpochProgress;
use crate::{Error, Result};

/// How the designs of a sequential experiment are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SequentialPolicy {
    /// MPR-GA on the current belief at every step (the protocol's first design at t = 1 when
    /// [`SequentialConfig::protocol_first_design`] is set and the problem has one).
    #[default]
    Adaptive,
    /// Every design uniform in the design box (the baseline).
    Random,
}

impl SequentialPolicy {
    /// The policy's name as written in JSON and accepted by [`str::parse`].
    pub fn name(self) -> &'static str {
        match self {
            SequentialPolicy::Adaptive => "adaptive",
            SequentialPolicy::Random => "random",
        }
    }
}

impl std::str::FromStr for SequentialPolicy {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "adaptive" => Ok(SequentialPolicy::Adaptive),
            "random" => Ok(SequentialPolicy::Random),
            other => Err(Error::InvalidInput(format!("unknown design policy '{other}'; known: adaptive, random"))),
        }
    }
}

/// Where MPR-GA's restarts start at each adaptive step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DesignStarts {
    /// Uniform in the design box.
    #[default]
    Uniform,
    /// At posterior draws of parameter blocks that live in the design space: a θ row is cut into
    /// P/Dξ blocks of Dξ values (e.g. the K source locations of source finding) and restart r
    /// starts at block r mod (P/Dξ) of its own posterior draw. Needs P to be a multiple of Dξ.
    Posterior,
}

/// How the belief is updated after each measurement.
// One value per run, so the variants' size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PosteriorUpdate {
    /// Resample-move SMC with the true likelihood (see the module documentation): exact in the
    /// limit of many particles.
    #[default]
    Smc,
    /// NPE "posterior as new prior" (see the module documentation): needs no likelihood.
    Npe(NpeUpdate),
}

/// Settings of a sequential experiment ([`sequential_design`], [`rollouts`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SequentialConfig {
    /// Number of measurements T.
    pub steps: usize,
    /// How designs are chosen.
    pub policy: SequentialPolicy,
    /// MPR-GA settings of each adaptive step (its seed is derived from [`SequentialConfig::seed`]
    /// and the step).
    pub mprga: MprgaConfig,
    /// Where MPR-GA's restarts start.
    pub starts: DesignStarts,
    /// Take the problem's published first design at t = 1 (adaptive policy only).
    pub protocol_first_design: bool,
    /// Number of posterior particles N.
    pub particles: usize,
    /// How the belief is updated after each measurement.
    pub update: PosteriorUpdate,
    /// Adapted Metropolis steps per SMC update before the kept move steps.
    pub mcmc_warmup: usize,
    /// Metropolis steps per SMC update after the warm-up (the particles' positions after them
    /// are kept).
    pub mcmc_steps: usize,
    /// Seed of every random draw.
    pub seed: u64,
}

/// MPR-GA settings sized for one design per measurement on a CPU: 16 restarts, 600 steps
/// (100 critic-only), a 128×128 critic on batches of 512, design learning rate 0.02 (RMSProp
/// moves about one learning rate per step, so the restarts can cross a box of width ~10).
pub fn sequential_mprga_defaults() -> MprgaConfig {
    let base = MprgaConfig::default();
    MprgaConfig {
        restarts: 16,
        steps: 600,
        burn_in: 100,
        samples_per_design: 16,
        design_learning_rate: 0.02,
        rescore_batches: 4,
        rescore_batch_size: 250,
        trace_every: 25,
        critic: crate::boed::eig::CriticConfig {
            hidden: vec![128, 128],
            batch_size: 512,
            contrast_block: 64,
            warmup_steps: 50,
            ..base.critic.clone()
        },
        ..base
    }
}

impl Default for SequentialConfig {
    fn default() -> Self {
        SequentialConfig {
            steps: 10,
            policy: SequentialPolicy::Adaptive,
            mprga: sequential_mprga_defaults(),
            starts: DesignStarts::Uniform,
            protocol_first_design: true,
            particles: 2000,
            update: PosteriorUpdate::Smc,
            mcmc_warmup: 24,
            mcmc_steps: 8,
            seed: 0,
        }
    }
}

impl SequentialConfig {
    fn validate(&self) -> Result<()> {
        if self.steps == 0 || self.particles < 2 || self.mcmc_steps == 0 {
            return Err(Error::InvalidInput(format!(
                "sequential design needs at least 1 step, 2 particles and 1 Metropolis step per update (got steps {}, \
                 particles {}, mcmc_steps {})",
                self.steps, self.particles, self.mcmc_steps
            )));
        }
        if self.policy == SequentialPolicy::Adaptive
            && self.mprga.estimator == MprgaEstimator::BarberAgakov
            && self.update == PosteriorUpdate::Smc
        {
            return Err(Error::InvalidInput(
                "the Barber-Agakov bound needs the density log p(θ) of the current belief, which the SMC particles \
                 do not have; use the NPE update"
                    .into(),
            ));
        }
        if let PosteriorUpdate::Npe(npe) = &self.update
            && npe.simulations < MIN_NPE_SIMULATIONS
        {
            return Err(Error::InvalidInput(format!(
                "the NPE posterior update needs at least {MIN_NPE_SIMULATIONS} simulations per step, got {}",
                npe.simulations
            )));
        }
        Ok(())
    }
}

/// How one design of a run was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DesignSource {
    /// The problem's published first design.
    Protocol,
    /// MPR-GA on the belief at that step.
    Mprga,
    /// Uniform in the design box.
    Random,
}

/// One measurement of a sequential run and the belief after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialStep {
    /// Step t (1-based).
    pub step: usize,
    /// The design ξₜ.
    pub design: Vec<f64>,
    /// The observation yₜ simulated at the true parameters.
    pub observation: Vec<f64>,
    /// How ξₜ was chosen.
    pub chosen_by: DesignSource,
    /// MPR-GA's re-scored estimate of the EIG of ξₜ under the belief before the measurement (by
    /// the bound it optimised); `None` when ξₜ was not optimised.
    pub eig: Option<f64>,
    /// Standard error of `eig`.
    pub eig_stderr: Option<f64>,
    /// Posterior mean of every parameter after the measurement.
    pub posterior_mean: Vec<f64>,
    /// Posterior standard deviation of every parameter after the measurement.
    pub posterior_sd: Vec<f64>,
    /// SMC: effective sample size (Σw)²/Σw² of the reweighted particles before resampling; NPE:
    /// the number of particles (equally weighted draws).
    pub effective_size: f64,
    /// SMC: acceptance rate of the Metropolis moves after their warm-up; NPE: the fraction of the
    /// NPE's draws inside the prior's support.
    pub acceptance: f64,
    /// Wall-clock seconds spent choosing the design.
    pub design_seconds: f64,
    /// Wall-clock seconds of the whole step (design, measurement, update).
    pub seconds: f64,
}

/// A whole sequential run at one true θ*.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequentialRun {
    /// The policy that chose the designs.
    pub policy: SequentialPolicy,
    /// The hidden true parameters θ*.
    pub true_theta: Vec<f64>,
    /// Every measurement in order.
    pub steps: Vec<SequentialStep>,
    /// The final posterior particles (equally weighted), one row per particle.
    pub particles: Vec<Vec<f64>>,
    /// SMC estimate of the log evidence log p(y₁..y_T | ξ₁..ξ_T) (sum of the log mean incremental
    /// weights); `None` with the NPE update, which has no weights.
    pub log_evidence: Option<f64>,
    /// The run's sPCE term (see the module documentation); set by [`score_runs`].
    pub spce: Option<f64>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

impl SequentialRun {
    /// The designs `[T, Dξ]`; steps with designs of different lengths (a run read from a
    /// hand-edited file) are an [`Error::InvalidInput`] naming the step.
    pub fn designs(&self) -> Result<Array2<f64>> {
        rows_to_matrix("design", self.steps.iter().map(|s| s.design.as_slice()))
    }

    /// The observations `[T, Dy]`, checked like [`SequentialRun::designs`].
    pub fn observations(&self) -> Result<Array2<f64>> {
        rows_to_matrix("observation", self.steps.iter().map(|s| s.observation.as_slice()))
    }
}

/// The rows as a matrix; rows of different lengths are an error naming the first odd step.
fn rows_to_matrix<'a>(what: &str, rows: impl Iterator<Item = &'a [f64]> + Clone) -> Result<Array2<f64>> {
    let n = rows.clone().count();
    let width = rows.clone().next().map_or(0, |r| r.len());
    if let Some((step, row)) = rows.clone().enumerate().find(|(_, r)| r.len() != width) {
        return Err(Error::InvalidInput(format!(
            "sequential run: the {what} of step {} has {} values, step 1's has {width}",
            step + 1,
            row.len()
        )));
    }
    let flat: Vec<f64> = rows.flatten().copied().collect();
    Array2::from_shape_vec((n, width), flat).map_err(|e| Error::InvalidInput(format!("sequential run: {e}")))
}

/// What happened, for progress display.
#[derive(Debug, Clone, Copy)]
pub enum SequentialEvent<'a> {
    /// MPR-GA is optimising the design of the current step.
    Optimising(&'a MprgaProgress),
    /// The NPE belief of the current step has finished a training epoch (NPE updates only).
    Updating(&'a EpochProgress),
    /// The step's measurement is done and the belief updated.
    Measured(&'a SequentialStep),
}

/// Progress of a sequential run.
#[derive(Debug, Clone, Copy)]
pub struct SequentialProgress<'a> {
    /// Rollout index (0 for a single run).
    pub rollout: usize,
    /// The step being worked on (1-based).
    pub step: usize,
    /// Number of steps T.
    pub steps: usize,
    /// What happened.
    pub event: SequentialEvent<'a>,
}

/// Makes a fresh copy of the design problem (the belief of each step owns one).
pub type ProblemFactory<'a> = &'a dyn Fn() -> Result<Box<dyn DifferentiableProblem>>;

/// The unnormalised posterior log p(θ) + Σₜ log p(yₜ | θ, ξₜ) of the measurements so far.
struct TrajectoryPosterior<'a> {
    problem: &'a dyn DesignProblem,
    designs: ArrayView2<'a, f64>,
    observations: ArrayView2<'a, f64>,
}

impl LogDensity for TrajectoryPosterior<'_> {
    fn dim(&self) -> usize {
        self.problem.parameter_dim()
    }
    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        let mut out = self.problem.log_prior(theta)?;
        for t in 0..self.designs.nrows() {
            let y = self.observations.row(t).insert_axis(Axis(0));
            let design = self.designs.row(t).insert_axis(Axis(0));
            out += &self.problem.log_likelihood(y, theta, design)?;
        }
        Ok(out)
    }
}

/// The particles after one belief update, with its diagnostics.
struct Update {
    particles: Array2<f64>,
    /// Log mean incremental weight (SMC only).
    log_mean_weight: Option<f64>,
    effective_size: f64,
    acceptance: f64,
}

/// Reweight `particles` (equally weighted draws from the posterior of all but the last
/// measurement) by the likelihood of the last measurement, resample systematically and move them
/// by Metropolis steps targeting the posterior of all measurements.
fn resample_move(
    problem: &dyn DesignProblem,
    particles: &Array2<f64>,
    designs: ArrayView2<f64>,
    observations: ArrayView2<f64>,
    config: &SequentialConfig,
    rng: &mut LindleyRng,
) -> Result<Update> {
    let n = particles.nrows();
    let last = designs.nrows() - 1;
    let y = observations.row(last).insert_axis(Axis(0));
    let design = designs.row(last).insert_axis(Axis(0));
    let log_weights = problem.log_likelihood(y, particles.view(), design)?;
    let mut lse = RunningLogSumExp::new();
    lse.extend(log_weights.as_slice().expect("fresh array"));
    let total = lse.value();
    if !total.is_finite() {
        return Err(Error::Sampling(format!(
            "{}: no posterior particle explains measurement {} (y = {:?} at design {:?}; log mean weight {total})",
            problem.name(),
            last + 1,
            observations.row(last).to_vec(),
            designs.row(last).to_vec()
        )));
    }
    let weights: Vec<f64> =
        log_weights.iter().map(|&l| if l.is_nan() { 0.0 } else { (l - total).exp() }).collect::<Vec<_>>();
    let squares: f64 = weights.iter().map(|w| w * w).sum();
    let effective_size = 1.0 / squares;
    // Systematic resampling: one uniform u, the n points (u + k)/n against the cumulative weights.
    let u: f64 = rng.random();
    let mut rows = Vec::with_capacity(n);
    let mut cumulative = 0.0;
    let mut i = 0;
    for k in 0..n {
        let point = (u + k as f64) / n as f64;
        while i + 1 < n && cumulative + weights[i] < point {
            cumulative += weights[i];
            i += 1;
        }
        rows.push(i);
    }
    let resampled = particles.select(Axis(0), &rows);
    let target = TrajectoryPosterior { problem, designs, observations };
    let mcmc =
        McmcConfig { chains: n, warmup: config.mcmc_warmup, thin: config.mcmc_steps, samples: n, seed: rng.random() };
    let run = sample(&target, &Sampler::Metropolis { step: 0.1 }, &Init::Points(resampled), &mcmc, &mut |_, _| {})?;
    Ok(Update {
        particles: run.samples,
        log_mean_weight: Some(total - (n as f64).ln()),
        effective_size,
        acceptance: run.acceptance_rate,
    })
}

/// Column means and standard deviations of equally weighted particles.
fn moments(particles: &Array2<f64>) -> (Vec<f64>, Vec<f64>) {
    let n = particles.nrows() as f64;
    let mean = particles.mean_axis(Axis(0)).expect("at least one particle");
    let sd = particles
        .axis_iter(Axis(1))
        .zip(mean.iter())
        .map(|(column, &m)| (column.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt())
        .collect();
    (mean.to_vec(), sd)
}

/// MPR-GA's starting designs from posterior draws of the parameter blocks that live in the design
/// space ([`DesignStarts::Posterior`]).
fn posterior_starts(belief: &dyn DesignProblem, restarts: usize, rng: &mut LindleyRng) -> Result<Array2<f64>> {
    let (p, d) = (belief.parameter_dim(), belief.design_dim());
    if d == 0 || !p.is_multiple_of(d) {
        return Err(Error::InvalidInput(format!(
            "{}: posterior design starts cut θ into blocks of the design dimension, but {p} parameters are not a \
             multiple of {d} design coordinates; use uniform starts",
            belief.name()
        )));
    }
    let blocks = p / d;
    let theta = belief.sample_prior(restarts, rng);
    let starts = Array2::from_shape_fn((restarts, d), |(r, j)| theta[[r, (r % blocks) * d + j]]);
    belief.design_box().project(starts.view())
}

/// Run T measurements at the hidden true parameters `true_theta` (P values), choosing each design
/// by `config.policy` for the current belief and updating the belief as `config.update` says
/// (see the module documentation). `make` makes a fresh copy of the design problem. Reproducible
/// from `config.seed`. `progress` is called during every MPR-GA step and after every measurement.
/// Errors: invalid settings or θ*, a protocol first design outside the box, MPR-GA failures, a
/// measurement that no particle explains (SMC) and an NPE whose draws miss the prior's support.
pub fn sequential_design(
    make: ProblemFactory<'_>,
    true_theta: ArrayView1<f64>,
    config: &SequentialConfig,
    progress: &mut dyn FnMut(SequentialProgress<'_>),
) -> Result<SequentialRun> {
    config.validate()?;
    let start = Instant::now();
    let base = make()?;
    let (p, dim, dy) = (base.parameter_dim(), base.design_dim(), base.observation_dim());
    if true_theta.len() != p {
        return Err(Error::shape(
            format!("{} sequential design: true parameters", base.name()),
            format!("{p} values"),
            format!("{}", true_theta.len()),
        ));
    }
    if let Some((j, v)) = true_theta.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::InvalidInput(format!("true parameter {j} is {v}; it must be finite")));
    }
    let bounds = base.design_box();
    let theta0 = true_theta.insert_axis(Axis(0));
    let mut measure_rng = substream(config.seed, 1);
    let mut random_rng = substream(config.seed, 2);
    let mut update_rng = substream(config.seed, 3);
    let mut starts_rng = substream(config.seed, 5);
    let mut particles = base.sample_prior(config.particles, &mut substream(config.seed, 4));
    let mut designs = Array2::<f64>::zeros((0, dim));
    let mut observations = Array2::<f64>::zeros((0, dy));
    let mut steps = Vec::with_capacity(config.steps);
    let mut log_evidence = Some(0.0);
    let mut npe: Option<Arc<NpePosterior>> = None;
    for t in 1..=config.steps {
        let step_start = Instant::now();
        let protocol = base.protocol().filter(|_| t == 1 && config.protocol_first_design);
        let (design, eig, eig_stderr, chosen_by) = match (config.policy, protocol) {
            (SequentialPolicy::Random, _) => {
                let design = (0..dim).map(|j| random_rng.random_range(bounds.low[j]..=bounds.high[j])).collect();
                (design, None, None, DesignSource::Random)
            }
            (SequentialPolicy::Adaptive, Some(protocol)) => (protocol.first_design, None, None, DesignSource::Protocol),
            (SequentialPolicy::Adaptive, None) => {
                let belief: Box<dyn DifferentiableProblem> = if t == 1 {
                    make()?
                } else {
                    let samples = ParticlePrior::from_samples(make()?, particles.clone())?;
                    match &npe {
                        // The NPE belief's density is log p(θ) for the Barber–Agakov bound.
                        Some(density) => Box::new(samples.with_density(density.clone())?),
                        None => Box::new(samples),
                    }
                };
                let mut mprga_config = config.mprga.clone();
                mprga_config.seed = substream(config.seed, 100 + t as u64).random();
                let initial = match config.starts {
                    DesignStarts::Uniform => None,
                    DesignStarts::Posterior => {
                        Some(posterior_starts(belief.as_ref(), mprga_config.restarts, &mut starts_rng)?)
                    }
                };
                let result = mprga(belief.as_ref(), initial.as_ref().map(|a| a.view()), &mprga_config, &mut |p| {
                    progress(SequentialProgress {
                        rollout: 0,
                        step: t,
                        steps: config.steps,
                        event: SequentialEvent::Optimising(p),
                    })
                })?;
                (result.design, Some(result.eig), Some(result.stderr), DesignSource::Mprga)
            }
        };
        let design_seconds = step_start.elapsed().as_secs_f64();
        let row = Array1::from(design.clone()).insert_axis(Axis(0));
        bounds.check(row.view()).map_err(|e| Error::InvalidInput(format!("step {t}: {e}")))?;
        let y = base.simulate(theta0, row.view(), &mut measure_rng)?;
        designs.push_row(row.row(0)).expect("design width checked by the box");
        observations.push_row(y.row(0)).expect("observation width from the simulator");
        let update = match &config.update {
            PosteriorUpdate::Smc => {
                resample_move(base.as_ref(), &particles, designs.view(), observations.view(), config, &mut update_rng)?
            }
            PosteriorUpdate::Npe(settings) => {
                // Trained on the last measurement with the previous belief as the proposal.
                let belief = NpePosterior::train(
                    base.as_ref(),
                    npe.as_deref(),
                    row.view(),
                    y.view(),
                    settings,
                    &mut update_rng,
                    &mut |epoch| {
                        progress(SequentialProgress {
                            rollout: 0,
                            step: t,
                            steps: config.steps,
                            event: SequentialEvent::Updating(epoch),
                        })
                    },
                )?;
                let (drawn, acceptance) = belief.sample(base.as_ref(), config.particles, &mut update_rng)?;
                let update = Update {
                    effective_size: drawn.nrows() as f64,
                    particles: drawn,
                    log_mean_weight: None,
                    acceptance,
                };
                npe = Some(Arc::new(belief));
                update
            }
        };
        particles = update.particles;
        log_evidence = log_evidence.zip(update.log_mean_weight).map(|(sum, w)| sum + w);
        let (posterior_mean, posterior_sd) = moments(&particles);
        let record = SequentialStep {
            step: t,
            design,
            observation: y.row(0).to_vec(),
            chosen_by,
            eig,
            eig_stderr,
            posterior_mean,
            posterior_sd,
            effective_size: update.effective_size,
            acceptance: update.acceptance,
            design_seconds,
            seconds: step_start.elapsed().as_secs_f64(),
        };
        progress(SequentialProgress {
            rollout: 0,
            step: t,
            steps: config.steps,
            event: SequentialEvent::Measured(&record),
        });
        steps.push(record);
    }
    Ok(SequentialRun {
        policy: config.policy,
        true_theta: true_theta.to_vec(),
        steps,
        particles: particles.outer_iter().map(|r| r.to_vec()).collect(),
        log_evidence,
        spce: None,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// sPCE of a set of runs: its mean, median and standard error over the runs, the number of
/// contrasts L and the bound's ceiling log(L + 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryScore {
    /// Mean sPCE over the runs (nats).
    pub mean: f64,
    /// Median over the runs.
    pub median: f64,
    /// Standard error of the mean.
    pub stderr: f64,
    /// Number of contrastive prior samples L.
    pub contrasts: usize,
    /// log(L + 1), the largest value sPCE can take.
    pub ceiling: f64,
}

/// Score runs of equal length by sPCE with `contrasts` prior samples (streamed, shared by all
/// runs; [`spce`]) and store each run's term in [`SequentialRun::spce`]. Errors: no runs, runs of
/// different lengths, shapes that do not fit `problem`.
pub fn score_runs(
    problem: &dyn DesignProblem,
    runs: &mut [SequentialRun],
    contrasts: usize,
    seed: u64,
) -> Result<TrajectoryScore> {
    let Some(first) = runs.first() else {
        return Err(Error::InvalidInput("sPCE needs at least one run".into()));
    };
    let steps = first.steps.len();
    if let Some((r, run)) = runs.iter().enumerate().find(|(_, run)| run.steps.len() != steps) {
        return Err(Error::InvalidInput(format!(
            "sPCE needs runs of equal length: run 0 has {steps} steps, run {r} has {}",
            run.steps.len()
        )));
    }
    let (n, dim, dy, p) = (runs.len(), problem.design_dim(), problem.observation_dim(), problem.parameter_dim());
    let mut designs = Array3::zeros((n, steps, dim));
    let mut observations = Array3::zeros((n, steps, dy));
    let mut theta0 = Array2::zeros((n, p));
    for (r, run) in runs.iter().enumerate() {
        let shape = |what: &str, got: usize, want: usize| {
            Error::shape(format!("sPCE of run {r}"), format!("{want} {what}"), format!("{got}"))
        };
        if run.true_theta.len() != p {
            return Err(shape("true parameters", run.true_theta.len(), p));
        }
        theta0.row_mut(r).assign(&ArrayView1::from(&run.true_theta));
        for (t, step) in run.steps.iter().enumerate() {
            if step.design.len() != dim {
                return Err(shape("design coordinates", step.design.len(), dim));
            }
            if step.observation.len() != dy {
                return Err(shape("observation values", step.observation.len(), dy));
            }
            designs.slice_mut(ndarray::s![r, t, ..]).assign(&ArrayView1::from(&step.design));
            observations.slice_mut(ndarray::s![r, t, ..]).assign(&ArrayView1::from(&step.observation));
        }
    }
    let score = spce(problem, theta0.view(), designs.view(), observations.view(), contrasts, DEFAULT_CHUNK, seed)?;
    for (run, &value) in runs.iter_mut().zip(&score.per_trajectory) {
        run.spce = Some(value);
    }
    Ok(TrajectoryScore {
        mean: score.mean,
        median: score.median,
        stderr: score.stderr,
        contrasts,
        ceiling: (contrasts as f64 + 1.0).ln(),
    })
}

/// Runs of one policy at many true parameters, scored together by sPCE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutSummary {
    /// The policy.
    pub policy: SequentialPolicy,
    /// sPCE over the runs.
    pub spce: TrajectoryScore,
    /// Wall-clock seconds of all runs (scoring excluded).
    pub seconds: f64,
    /// Every run.
    pub runs: Vec<SequentialRun>,
}

/// Run [`sequential_design`] at `count` true parameters θ*ᵣ ~ p(θ), or at the rows of
/// `true_theta [R, P]` when given, and score all runs by sPCE with `contrasts` prior samples
/// ([`score_runs`]). Rollout r draws its θ*ᵣ and its run seed from streams of `config.seed` that do
/// not depend on the policy, so two policies with the same seed meet the same θ* values and are
/// compared on common random numbers. `progress` receives the rollout index.
pub fn rollouts(
    make: ProblemFactory<'_>,
    true_theta: Option<ArrayView2<f64>>,
    count: usize,
    contrasts: usize,
    config: &SequentialConfig,
    progress: &mut dyn FnMut(SequentialProgress<'_>),
) -> Result<RolloutSummary> {
    config.validate()?;
    let start = Instant::now();
    let base = make()?;
    let theta = match true_theta {
        Some(given) => given.to_owned(),
        None => {
            let rows: Vec<Array2<f64>> =
                (0..count).map(|r| base.sample_prior(1, &mut substream(config.seed, 10_000 + r as u64))).collect();
            let views: Vec<ArrayView2<f64>> = rows.iter().map(|r| r.view()).collect();
            if views.is_empty() {
                Array2::zeros((0, base.parameter_dim()))
            } else {
                ndarray::concatenate(Axis(0), &views).expect("prior rows of equal width")
            }
        }
    };
    if theta.nrows() == 0 {
        return Err(Error::InvalidInput("rollouts need at least one true parameter vector".into()));
    }
    let mut runs = Vec::with_capacity(theta.nrows());
    for (r, row) in theta.outer_iter().enumerate() {
        let run_config =
            SequentialConfig { seed: substream(config.seed, 20_000 + r as u64).random(), ..config.clone() };
        let run = sequential_design(make, row, &run_config, &mut |p| progress(SequentialProgress { rollout: r, ..p }))?;
        runs.push(run);
    }
    let seconds = start.elapsed().as_secs_f64();
    let spce = score_runs(base.as_ref(), &mut runs, contrasts, config.seed.wrapping_add(0x5bce))?;
    Ok(RolloutSummary { policy: config.policy, spce, seconds, runs })
}

#[cfg(test)]
mod tests;
