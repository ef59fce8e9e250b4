//! MPR-GA: multiple parallel restart gradient ascent on a learned EIG bound (Klein et al. 2026).
//!
//! M candidate designs ξ₁..ξ_M are optimised as one batch. Every step trains the EIG model — the
//! critic of an [`InfoNce`] bound (trained by InfoNCE, NWJ or BCE as [`CriticConfig::objective`]
//! says), the posterior flow of the Barber–Agakov bound ([`OnlineBarberAgakov`]), a likelihood
//! flow scored contrastively ([`OnlineLikelihood`]: NLE contrastive, INCE-λ), or the likelihood and
//! marginal flows of the NLE direct estimator ([`OnlineNleDirect`]), chosen by
//! [`MprgaConfig::estimator`] — by one AdamW step on fresh
//! simulations at the current designs; after a burn-in of model-only steps each step also takes
//! one RMSProp step on the designs with loss −Σᵢ EIĜ(ξᵢ) + c·Σ_{i<j} max(0, s − ‖zᵢ − zⱼ‖)² (z:
//! designs scaled to the unit box; the diversity penalty is switched off for the last 2×burn-in
//! steps), where EIĜ(ξᵢ) is the bound on `samples_per_design` pathwise simulations at ξᵢ,
//! differentiated through the simulator.
//! Each design's gradient is clipped to a maximal norm and the designs are projected onto the
//! design box. Finally every design is re-scored with fresh simulations and the best is returned.
//! A restart whose EIG estimate, gradient or simulations become non-finite is stopped and reported;
//! the others go on.

use std::time::Instant;

use burn::prelude::*;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::boed::eig::EigEstimate;
use crate::boed::eig::infonce::{CriticConfig, InfoNce, simulate_at};
use crate::boed::eig::likelihood::{DEFAULT_INCE_LAMBDA, LikelihoodObjective, OnlineLikelihood};
use crate::boed::eig::{OnlineBarberAgakov, OnlineNleDirect};
use crate::boed::problems::{DesignBox, DifferentiableProblem};
use crate::flows::{EstimatorConfig, EstimatorKind};
use crate::rng::{LindleyRng, substream};
use crate::tensor_ops::{matrix_to_tensor, tensor_to_matrix, tensor_to_vec};
use crate::{Error, Result};

/// Weight of the newest per-step estimate in each restart's smoothed EIG (for progress only).
const SMOOTHING: f64 = 0.1;

/// The learned EIG bound MPR-GA ascends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MprgaEstimator {
    /// InfoNCE with a critic T(θ, y, ξ) (Klein et al. 2026).
    #[default]
    #[serde(rename = "infonce")]
    InfoNce,
    /// Barber–Agakov with a posterior flow q(θ | y, ξ) ([`OnlineBarberAgakov`]).
    #[serde(rename = "ba")]
    BarberAgakov,
    /// NLE contrastive: PCE with a likelihood flow q(y | θ, ξ) trained by maximum likelihood
    /// ([`OnlineLikelihood`]).
    #[serde(rename = "nle-pce")]
    NleContrastive,
    /// INCE-λ: InfoNCE with T = log q(y | θ, ξ), q trained on InfoNCE + λ·log q
    /// ([`OnlineLikelihood`], λ = [`MprgaConfig::ince_lambda`]).
    #[serde(rename = "ince")]
    InceLambda,
    /// NLE direct: E[log q₁(y | θ, ξ) − log q₂(y | ξ)] with a likelihood and a marginal flow
    /// trained online by maximum likelihood ([`OnlineNleDirect`]; both flows take
    /// [`MprgaConfig::likelihood_flow`]).
    #[serde(rename = "nle")]
    NleDirect,
}

/// The EIG model being trained and ascended (one per run, so the variants' sizes do not matter).
#[allow(clippy::large_enum_variant)]
enum Model {
    Critic(InfoNce),
    Posterior(OnlineBarberAgakov),
    Likelihood(OnlineLikelihood),
    Direct(OnlineNleDirect),
}

impl Model {
    /// A fresh model of `config.estimator` (initialised from stream 1 of the seed).
    fn new(problem: &dyn DifferentiableProblem, config: &MprgaConfig, device: &Device) -> Result<Self> {
        let rng = &mut substream(config.seed, 1);
        Ok(match config.estimator {
            MprgaEstimator::InfoNce => Model::Critic(InfoNce::new(problem, config.critic.clone(), rng, device)?),
            MprgaEstimator::BarberAgakov => Model::Posterior(OnlineBarberAgakov::new(
                problem,
                &config.posterior_flow,
                config.critic.clone(),
                rng,
                device,
            )?),
            MprgaEstimator::NleDirect => Model::Direct(OnlineNleDirect::new(
                problem,
                &config.likelihood_flow,
                config.critic.clone(),
                rng,
                device,
            )?),
            MprgaEstimator::NleContrastive | MprgaEstimator::InceLambda => {
                let objective = if config.estimator == MprgaEstimator::InceLambda {
                    LikelihoodObjective::InceLambda { lambda: config.ince_lambda }
                } else {
                    LikelihoodObjective::MaximumLikelihood
                };
                Model::Likelihood(OnlineLikelihood::new(
                    problem,
                    &config.likelihood_flow,
                    config.critic.clone(),
                    objective,
                    rng,
                    device,
                )?)
            }
        })
    }
}

/// `$body` with `$m` bound to the [`OnlineEig`](crate::boed::eig::OnlineEig) inside whichever
/// variant `$model` holds (all four offer the same generic training step and bound).
macro_rules! with_model {
    ($model:expr, $m:ident => $body:expr) => {
        match $model {
            Model::Critic($m) => $body,
            Model::Posterior($m) => $body,
            Model::Likelihood($m) => $body,
            Model::Direct($m) => $body,
        }
    };
}

/// Settings of [`mprga`]; the defaults are the published ones for source finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MprgaConfig {
    /// Number of restarts M (ignored when initial designs are given: their row count is used).
    pub restarts: usize,
    /// Total number of steps (critic steps; design steps after the burn-in).
    pub steps: usize,
    /// Critic-only steps at the start (designs frozen).
    pub burn_in: usize,
    /// Pathwise simulations per design in each design step.
    pub samples_per_design: usize,
    /// RMSProp learning rate of the designs.
    pub design_learning_rate: f64,
    /// RMSProp smoothing constant α of the squared-gradient average.
    pub rmsprop_alpha: f64,
    /// RMSProp ε added to the root mean square.
    pub rmsprop_epsilon: f64,
    /// Maximal gradient norm per design.
    pub design_clip: f64,
    /// Diversity penalty scale c.
    pub diversity_scale: f64,
    /// Diversity penalty radius s in unit-box coordinates.
    pub diversity_radius: f64,
    /// Final re-scoring: number of batches per design.
    pub rescore_batches: usize,
    /// Final re-scoring: simulations per batch.
    pub rescore_batch_size: usize,
    /// Record a trace point every this many steps (and at the last step).
    pub trace_every: usize,
    /// The bound ascended: InfoNCE (`infonce`), Barber–Agakov (`ba`), NLE contrastive
    /// (`nle-pce`), INCE-λ (`ince`) or the NLE direct estimator (`nle`).
    pub estimator: MprgaEstimator,
    /// The critic and its online training; with the flow-based bounds its training settings
    /// (learning rate, weight decay, warm-up, batch size, contrast block, clipping) train the flow.
    pub critic: CriticConfig,
    /// The posterior flow q(θ | y, ξ) of the Barber–Agakov bound.
    pub posterior_flow: EstimatorConfig,
    /// The likelihood flow q(y | θ, ξ) of NLE contrastive, INCE-λ and NLE direct (whose marginal
    /// flow q(y | ξ) takes the same settings).
    pub likelihood_flow: EstimatorConfig,
    /// λ of INCE-λ (weight of the likelihood term in the flow's training loss).
    pub ince_lambda: f64,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for MprgaConfig {
    fn default() -> Self {
        MprgaConfig {
            restarts: 256,
            steps: 12_000,
            burn_in: 1000,
            samples_per_design: 3,
            design_learning_rate: 1e-3,
            rmsprop_alpha: 0.99,
            rmsprop_epsilon: 1e-8,
            design_clip: 1.0,
            diversity_scale: 1000.0,
            diversity_radius: 0.01,
            rescore_batches: 10,
            rescore_batch_size: 100,
            trace_every: 100,
            estimator: MprgaEstimator::InfoNce,
            critic: CriticConfig::default(),
            posterior_flow: EstimatorConfig {
                kind: EstimatorKind::Maf,
                transforms: 3,
                hidden: 64,
                blocks: 1,
                ..EstimatorConfig::default()
            },
            likelihood_flow: EstimatorConfig {
                kind: EstimatorKind::Maf,
                transforms: 3,
                hidden: 64,
                blocks: 1,
                ..EstimatorConfig::default()
            },
            ince_lambda: DEFAULT_INCE_LAMBDA,
            seed: 0,
        }
    }
}

impl MprgaConfig {
    fn validate(&self) -> Result<()> {
        let positive = [
            ("steps", self.steps),
            ("samples_per_design", self.samples_per_design),
            ("rescore_batches", self.rescore_batches),
            ("trace_every", self.trace_every),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::InvalidInput(format!("MPR-GA setting {name} must be positive")));
            }
        }
        if self.rescore_batches * self.rescore_batch_size < 2 {
            return Err(Error::InvalidInput("MPR-GA re-scoring needs at least 2 simulations per design".into()));
        }
        if self.burn_in >= self.steps {
            return Err(Error::InvalidInput(format!(
                "MPR-GA burn-in ({}) must be shorter than the number of steps ({})",
                self.burn_in, self.steps
            )));
        }
        for (name, value) in [
            ("design_learning_rate", self.design_learning_rate),
            ("design_clip", self.design_clip),
            ("rmsprop_epsilon", self.rmsprop_epsilon),
        ] {
            if !(value > 0.0 && value.is_finite()) {
                return Err(Error::InvalidInput(format!("MPR-GA setting {name} must be positive, got {value}")));
            }
        }
        let penalty_ok = self.diversity_scale >= 0.0 && self.diversity_radius >= 0.0;
        if !(0.0..1.0).contains(&self.rmsprop_alpha) || !penalty_ok {
            return Err(Error::InvalidInput(format!(
                "MPR-GA needs RMSProp α in [0, 1) and a non-negative diversity penalty (got α = {}, c = {}, s = {})",
                self.rmsprop_alpha, self.diversity_scale, self.diversity_radius
            )));
        }
        Ok(())
    }
}

/// A restart stopped because its EIG estimate, gradient or simulations became non-finite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppedRestart {
    /// Restart index (row of the initial designs).
    pub restart: usize,
    /// Step at which it stopped (0-based).
    pub step: usize,
    /// The design it stopped at.
    pub design: Vec<f64>,
    /// What went wrong.
    pub reason: String,
}

/// The state of the optimisation at one step, recorded every `trace_every` steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracePoint {
    /// Step (1-based count of steps done).
    pub step: usize,
    /// Training loss of the EIG model (critic or posterior flow) at this step (NaN for the
    /// gradient-free optimisers, which train no model).
    pub critic_loss: f64,
    /// Largest smoothed per-restart EIG estimate (NaN during the burn-in).
    pub best_eig: f64,
    /// Mean smoothed EIG estimate over the running restarts (NaN during the burn-in).
    pub mean_eig: f64,
    /// Diversity penalty value (0 when switched off).
    pub penalty: f64,
    /// Every restart's design (stopped restarts keep their last design).
    pub designs: Vec<Vec<f64>>,
}

/// Progress reported after every step.
#[derive(Debug, Clone, PartialEq)]
pub struct MprgaProgress {
    /// Steps done.
    pub step: usize,
    /// Total steps.
    pub steps: usize,
    /// Training loss of the EIG model (critic or posterior flow) at this step.
    pub critic_loss: f64,
    /// Current best smoothed EIG estimate over the restarts (NaN during the burn-in).
    pub best_eig: f64,
    /// Restarts still running.
    pub running: usize,
}

/// The outcome of [`mprga`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MprgaResult {
    /// The chosen design (the re-scoring argmax).
    pub design: Vec<f64>,
    /// Its re-scored EIG estimate (by the bound optimised).
    pub eig: f64,
    /// Standard error of `eig`.
    pub stderr: f64,
    /// Index of the restart it came from.
    pub best_restart: usize,
    /// Starting design of every restart (after projection onto the box): with the designs of
    /// [`MprgaResult::trace`] it gives each restart's path ([`MprgaResult::restart_paths`]).
    #[serde(default)]
    pub initial_designs: Vec<Vec<f64>>,
    /// Final design of every restart.
    pub designs: Vec<Vec<f64>>,
    /// Re-scored EIG of every restart (NaN for stopped restarts).
    pub restart_eig: Vec<f64>,
    /// Restarts stopped on a non-finite value.
    pub stopped: Vec<StoppedRestart>,
    /// The optimisation trace.
    pub trace: Vec<TracePoint>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
    /// Mean wall-clock seconds per step (critic and design steps, excluding re-scoring).
    pub seconds_per_step: f64,
    /// Simulations run in all: model training batches, pathwise design batches, finiteness
    /// probes and the final re-scoring.
    pub simulations: usize,
}

impl MprgaResult {
    /// The path of every restart through the design space (the paper's Figure 1): its starting
    /// design, then its design at every trace point.
    pub fn restart_paths(&self) -> Vec<Vec<Vec<f64>>> {
        (0..self.designs.len())
            .map(|r| {
                self.initial_designs
                    .get(r)
                    .into_iter()
                    .chain(self.trace.iter().filter_map(|point| point.designs.get(r)))
                    .cloned()
                    .collect()
            })
            .collect()
    }
}

/// Designs scaled to the unit box, z = (ξ − low)/(high − low).
fn unit_box(designs: ArrayView2<f64>, bounds: &DesignBox) -> Array2<f64> {
    Array2::from_shape_fn(designs.dim(), |(i, j)| {
        (designs[[i, j]] - bounds.low[j]) / (bounds.high[j] - bounds.low[j]).max(f64::MIN_POSITIVE)
    })
}

/// The diversity penalty c·Σ_{i<j} max(0, s − ‖zᵢ − zⱼ‖)² on unit-box coordinates and its
/// gradient with respect to the designs ξ (coincident designs are pushed apart along the first
/// coordinate, where the gradient of the norm is undefined).
fn diversity_penalty(designs: ArrayView2<f64>, bounds: &DesignBox, scale: f64, radius: f64) -> (f64, Array2<f64>) {
    let z = unit_box(designs, bounds);
    let (m, d) = z.dim();
    let mut value = 0.0;
    let mut grad = Array2::zeros((m, d));
    for i in 0..m {
        for j in i + 1..m {
            let diff = &z.row(i) - &z.row(j);
            let dist = diff.dot(&diff).sqrt();
            if dist >= radius {
                continue;
            }
            let gap = radius - dist;
            value += scale * gap * gap;
            // ∂/∂zᵢ c·(s − ‖zᵢ − zⱼ‖)² = −2c·(s − ‖·‖)·(zᵢ − zⱼ)/‖·‖
            let direction: Array1<f64> =
                if dist > 1e-12 { diff / dist } else { Array1::from_shape_fn(d, |k| if k == 0 { 1.0 } else { 0.0 }) };
            for k in 0..d {
                let g = -2.0 * scale * gap * direction[k] / (bounds.high[k] - bounds.low[k]).max(f64::MIN_POSITIVE);
                grad[[i, k]] += g;
                grad[[j, k]] -= g;
            }
        }
    }
    (value, grad)
}

/// Whether simulations at each design are finite (`samples` pathwise draws per design, no
/// gradients).
fn probe(
    problem: &dyn DifferentiableProblem,
    designs: ArrayView2<f64>,
    samples: usize,
    rng: &mut LindleyRng,
    device: &Device,
) -> Vec<bool> {
    let batch = simulate_at(problem, matrix_to_tensor(designs, device), samples, rng);
    let y = tensor_to_vec(batch.y);
    let per_design = samples * problem.observation_dim();
    y.chunks(per_design.max(1)).map(|c| c.iter().all(|v| v.is_finite())).collect()
}

/// Run MPR-GA for `problem`. `initial` gives the starting designs `[M, Dξ]` (projected onto the
/// design box; e.g. prior or posterior samples of the quantity the design lives in); without it
/// `config.restarts` designs are drawn uniformly in the box. `progress` is called after every step.
/// Errors: invalid settings or initial designs, a critic whose training loss is not finite, and
/// every restart stopped.
pub fn mprga(
    problem: &dyn DifferentiableProblem,
    initial: Option<ArrayView2<f64>>,
    config: &MprgaConfig,
    progress: &mut dyn FnMut(&MprgaProgress),
) -> Result<MprgaResult> {
    config.validate()?;
    let start = Instant::now();
    let bounds = problem.design_box();
    let dim = problem.design_dim();
    let mut designs = match initial {
        Some(initial) => bounds.project(initial)?,
        None => {
            let mut rng = substream(config.seed, 0);
            Array2::from_shape_fn((config.restarts, dim), |(_, j)| rng.random_range(bounds.low[j]..=bounds.high[j]))
        }
    };
    let m = designs.nrows();
    if m == 0 {
        return Err(Error::InvalidInput("MPR-GA needs at least one restart".into()));
    }
    let initial_designs: Vec<Vec<f64>> = designs.outer_iter().map(|r| r.to_vec()).collect();
    let device = Device::flex().autodiff();
    let plain = device.clone().inner();
    let mut model = Model::new(problem, config, &device)?;
    let mut sim_rng = substream(config.seed, 2);
    let mut design_rng = substream(config.seed, 3);
    let mut probe_rng = substream(config.seed, 4);

    let mut running = vec![true; m];
    let mut stopped: Vec<StoppedRestart> = Vec::new();
    let stop = |running: &mut Vec<bool>,
                stopped: &mut Vec<StoppedRestart>,
                restart: usize,
                step: usize,
                design: Vec<f64>,
                reason: String| {
        running[restart] = false;
        stopped.push(StoppedRestart { restart, step, design, reason });
    };
    for (i, ok) in
        probe(problem, designs.view(), config.samples_per_design, &mut probe_rng, &plain).into_iter().enumerate()
    {
        if !ok {
            stop(
                &mut running,
                &mut stopped,
                i,
                0,
                designs.row(i).to_vec(),
                "simulations at the initial design are not finite".into(),
            );
        }
    }
    let mut square_average = Array2::<f64>::zeros((m, dim));
    let mut smoothed = vec![f64::NAN; m];
    let mut trace = Vec::new();
    let penalty_until = config.steps.saturating_sub(2 * config.burn_in);
    let mut step_seconds = 0.0;
    let mut simulations = m * config.samples_per_design;
    for step in 0..config.steps {
        let step_start = Instant::now();
        let active: Vec<usize> = (0..m).filter(|&i| running[i]).collect();
        if active.is_empty() {
            return Err(Error::Training(format!(
                "every MPR-GA restart stopped by step {step}: {}",
                stopped.iter().map(|s| format!("restart {}: {}", s.restart, s.reason)).collect::<Vec<_>>().join("; ")
            )));
        }
        let current = designs.select(Axis(0), &active);
        let critic_loss = with_model!(&mut model, m => m.train_step(problem, current.view(), &mut sim_rng))?;
        simulations += config.critic.batch_size;
        let mut penalty = 0.0;
        if step >= config.burn_in {
            let input = matrix_to_tensor(current.view(), &device).require_grad();
            let batch = simulate_at(problem, input.clone(), config.samples_per_design, &mut sim_rng);
            simulations += 2 * active.len() * config.samples_per_design;
            let terms = with_model!(&model, m => m.design_terms(problem, &batch, config.critic.contrast_block, &mut design_rng))?;
            let per_design: Tensor<1> =
                terms.reshape([active.len(), config.samples_per_design]).mean_dim(1).squeeze_dim::<1>(1);
            let values = tensor_to_vec(per_design.clone());
            let gradients = per_design.sum().neg().backward();
            let Some(gradient) = input.grad(&gradients) else {
                return Err(Error::Training("no gradient of the EIG bound with respect to the designs".into()));
            };
            let mut gradient = tensor_to_matrix(gradient);
            if step < penalty_until && config.diversity_scale > 0.0 && active.len() > 1 {
                let (value, grad) =
                    diversity_penalty(current.view(), &bounds, config.diversity_scale, config.diversity_radius);
                penalty = value;
                gradient += &grad;
            }
            for (r, &i) in active.iter().enumerate() {
                let mut g = gradient.row(r).to_owned();
                let value = values[r] as f64;
                if !value.is_finite() || g.iter().any(|v| !v.is_finite()) {
                    let reason = format!("EIG estimate {value} or its gradient is not finite");
                    stop(&mut running, &mut stopped, i, step, designs.row(i).to_vec(), reason);
                    continue;
                }
                smoothed[i] =
                    if smoothed[i].is_nan() { value } else { (1.0 - SMOOTHING) * smoothed[i] + SMOOTHING * value };
                let norm = g.dot(&g).sqrt();
                if norm > config.design_clip {
                    g *= config.design_clip / norm;
                }
                for k in 0..dim {
                    let v = &mut square_average[[i, k]];
                    *v = config.rmsprop_alpha * *v + (1.0 - config.rmsprop_alpha) * g[k] * g[k];
                    let updated =
                        designs[[i, k]] - config.design_learning_rate * g[k] / (v.sqrt() + config.rmsprop_epsilon);
                    designs[[i, k]] = updated.clamp(bounds.low[k], bounds.high[k]);
                }
            }
            let moved: Vec<usize> = (0..m).filter(|&i| running[i]).collect();
            let checks = probe(
                problem,
                designs.select(Axis(0), &moved).view(),
                config.samples_per_design,
                &mut probe_rng,
                &plain,
            );
            for (&i, ok) in moved.iter().zip(checks) {
                if !ok {
                    stop(
                        &mut running,
                        &mut stopped,
                        i,
                        step,
                        designs.row(i).to_vec(),
                        "simulations at the updated design are not finite".into(),
                    );
                }
            }
        }
        step_seconds += step_start.elapsed().as_secs_f64();
        let live: Vec<f64> = (0..m).filter(|&i| running[i] && smoothed[i].is_finite()).map(|i| smoothed[i]).collect();
        let best_eig = live.iter().copied().fold(f64::NAN, f64::max);
        let mean_eig = if live.is_empty() { f64::NAN } else { live.iter().sum::<f64>() / live.len() as f64 };
        let done = step + 1;
        if done % config.trace_every == 0 || done == config.steps {
            trace.push(TracePoint {
                step: done,
                critic_loss,
                best_eig,
                mean_eig,
                penalty,
                designs: designs.outer_iter().map(|r| r.to_vec()).collect(),
            });
        }
        progress(&MprgaProgress {
            step: done,
            steps: config.steps,
            critic_loss,
            best_eig,
            running: running.iter().filter(|&&r| r).count(),
        });
    }

    let active: Vec<usize> = (0..m).filter(|&i| running[i]).collect();
    if active.is_empty() {
        return Err(Error::Training("every MPR-GA restart stopped before the final re-scoring".into()));
    }
    let scores = with_model!(&model, m => m.estimate(
        problem,
        designs.select(Axis(0), &active).view(),
        config.rescore_batches * config.rescore_batch_size,
        config.critic.contrast_block - 1,
        config.seed.wrapping_add(0x5eed),
    ))?;
    let mut restart_eig = vec![f64::NAN; m];
    let mut best: Option<(usize, f64, f64)> = None;
    for (&i, score) in active.iter().zip(&scores) {
        restart_eig[i] = score.eig;
        if score.eig.is_finite() && best.is_none_or(|(_, e, _)| score.eig > e) {
            best = Some((i, score.eig, score.stderr));
        }
    }
    let Some((best_restart, eig, stderr)) = best else {
        return Err(Error::Training("no restart has a finite re-scored EIG".into()));
    };
    Ok(MprgaResult {
        design: designs.row(best_restart).to_vec(),
        eig,
        stderr,
        best_restart,
        initial_designs,
        designs: designs.outer_iter().map(|r| r.to_vec()).collect(),
        restart_eig,
        stopped,
        trace,
        seconds: start.elapsed().as_secs_f64(),
        seconds_per_step: step_seconds / config.steps as f64,
        simulations: simulations + active.len() * config.rescore_batches * config.rescore_batch_size,
    })
}

/// Score designs with the learned bound of `config.estimator` (its model and online training as
/// in [`mprga`], the critic's objective included) without optimising them: train the model for
/// `steps` steps — on simulations at `train_at [k, Dξ]` (rows cycled), or, without it, at a fresh
/// design uniform in the box for every row of every batch (amortised over the box) — then
/// estimate the bound at every row of `designs` from `outer` simulations with `contrasts`
/// contrasts (the Barber–Agakov bound uses none). Reproducible from `config.seed`.
pub fn learned_eig(
    problem: &dyn DifferentiableProblem,
    train_at: Option<ArrayView2<f64>>,
    designs: ArrayView2<f64>,
    steps: usize,
    outer: usize,
    contrasts: usize,
    config: &MprgaConfig,
) -> Result<Vec<EigEstimate>> {
    let bounds = problem.design_box();
    bounds.check(designs)?;
    if let Some(at) = train_at {
        bounds.check(at)?;
        if at.nrows() == 0 {
            return Err(Error::InvalidInput("learned EIG: no designs to train at".into()));
        }
    }
    let device = Device::flex().autodiff();
    let mut model = Model::new(problem, config, &device)?;
    let mut sim_rng = substream(config.seed, 2);
    let mut design_rng = substream(config.seed, 3);
    for _ in 0..steps {
        let uniform;
        let at = match train_at {
            Some(at) => at,
            None => {
                uniform = Array2::from_shape_fn((config.critic.batch_size, bounds.dim()), |(_, j)| {
                    design_rng.random_range(bounds.low[j]..=bounds.high[j])
                });
                uniform.view()
            }
        };
        with_model!(&mut model, m => m.train_step(problem, at, &mut sim_rng))?;
    }
    with_model!(&model, m => m.estimate(problem, designs, outer, contrasts, config.seed.wrapping_add(0x5eed)))
}
