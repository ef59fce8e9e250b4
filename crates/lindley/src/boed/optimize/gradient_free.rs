//! Gradient-free design optimisation for simulators that cannot be differentiated (jump
//! processes, external programs): every method only asks a noisy objective for EIG estimates at
//! a batch of designs, so any estimator can drive it — PCE with the true likelihood, a trained
//! Barber–Agakov flow, an InfoNCE critic ([`EigObjective`], [`estimator_objective`]).
//!
//! - SPSA (Spall 1998): every restart estimates the gradient from two evaluations at
//!   z ± c_k·Δ with a Rademacher direction Δ, ĝⱼ = (f(z⁺) − f(z⁻)) / (z⁺ⱼ − z⁻ⱼ), and ascends
//!   z ← Π(z + a_k·ĝ) with the gain sequences a_k = a/(k + 1 + A)^0.602 and c_k = c/(k + 1)^0.101;
//!   without a given `a`, it is calibrated as Spall recommends from the mean |ĝ| at the start so
//!   that the first step moves by about `initial_step`.
//! - A design distribution: per restart an independent truncated normal over the box with a
//!   learnable mean μ and log standard deviation, ascended by the score-function (REINFORCE)
//!   gradient of E_{ξ∼q}[EIG(ξ)], ĝ = 1/(S−1)·Σₛ (fₛ − f̄)·∇ log q(ξₛ) (the batch mean as baseline,
//!   the leave-one-out correction S/(S−1) keeping it unbiased), with Adam or RMSProp; the design is
//!   the final mean.
//! - Grid search (Dξ ≤ 2) and uniform random search, as baselines.
//!
//! All methods work in unit-box coordinates z = (ξ − low)/(high − low), run their restarts as one
//! batch per objective call, and finish like MPR-GA: the final designs (the best candidates for
//! grid and random search) are re-scored by `rescore_repeats` fresh evaluations and the argmax is
//! returned with its mean and standard error. A non-finite EIG estimate never reaches an update:
//! an SPSA restart that meets one is stopped and reported ([`StoppedRestart`]), a design-distribution
//! or grid/random candidate is dropped and counted (a distribution restart with fewer than two
//! finite samples in an iteration is stopped); only when nothing finite is left is it an error.

use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};

use super::mprga::{MprgaProgress, StoppedRestart, TracePoint};
use crate::boed::eig::EigEstimate;
use crate::boed::problems::{DesignBox, standard_normal};
use crate::rng::{LindleyRng, substream};
use crate::{Error, Result};

/// A noisy EIG objective: one estimate per row of `designs [M, Dξ]` (all inside the design box),
/// reproducible from `seed`. A NaN or infinite value marks a failed estimate at that design.
/// Closures `FnMut(ArrayView2<f64>, u64) -> Result<Vec<f64>>` are objectives.
pub trait EigObjective {
    /// EIG estimates at every row of `designs`.
    fn evaluate(&mut self, designs: ArrayView2<f64>, seed: u64) -> Result<Vec<f64>>;
}

impl<F> EigObjective for F
where
    F: FnMut(ArrayView2<f64>, u64) -> Result<Vec<f64>>,
{
    fn evaluate(&mut self, designs: ArrayView2<f64>, seed: u64) -> Result<Vec<f64>> {
        self(designs, seed)
    }
}

/// The objective made of an EIG estimator's `estimate` function (designs, seed → one
/// [`EigEstimate`] per design), e.g. `|d, s| pce.estimate(problem, d, s)`. A batch whose
/// estimation fails numerically ([`Error::Sampling`], [`Error::Simulator`]: a non-finite term, a
/// failed simulation) is scored row by row, and the rows that fail numerically become NaN, which
/// the optimisers drop; any other error is returned.
pub fn estimator_objective<'a>(
    estimate: impl Fn(ArrayView2<f64>, u64) -> Result<Vec<EigEstimate>> + 'a,
) -> impl FnMut(ArrayView2<f64>, u64) -> Result<Vec<f64>> + 'a {
    move |designs: ArrayView2<f64>, seed: u64| {
        let numerical = |e: &Error| matches!(e, Error::Sampling(_) | Error::Simulator(_));
        match estimate(designs, seed) {
            Ok(estimates) => Ok(estimates.iter().map(|e| e.eig).collect()),
            Err(e) if numerical(&e) => designs
                .outer_iter()
                .map(|row| match estimate(row.insert_axis(Axis(0)), seed) {
                    Ok(one) => Ok(one[0].eig),
                    Err(e) if numerical(&e) => Ok(f64::NAN),
                    Err(e) => Err(e),
                })
                .collect(),
            Err(e) => Err(e),
        }
    }
}

/// The gradient-free optimisers of [`optimize_gradient_free`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GradientFreeMethod {
    /// Simultaneous perturbation stochastic approximation (Spall 1998).
    #[default]
    Spsa,
    /// A truncated-normal design distribution ascended by the score-function gradient.
    DesignDistribution,
    /// Every point of a regular grid over the box (Dξ ≤ 2).
    Grid,
    /// Candidates drawn uniformly in the box.
    Random,
}

impl GradientFreeMethod {
    /// All methods, in the order of [`GradientFreeMethod::name`]'s listing.
    pub const ALL: [GradientFreeMethod; 4] = [
        GradientFreeMethod::Spsa,
        GradientFreeMethod::DesignDistribution,
        GradientFreeMethod::Grid,
        GradientFreeMethod::Random,
    ];

    /// The command-line name: `spsa`, `design-distribution`, `grid`, `random`.
    pub fn name(&self) -> &'static str {
        match self {
            GradientFreeMethod::Spsa => "spsa",
            GradientFreeMethod::DesignDistribution => "design-distribution",
            GradientFreeMethod::Grid => "grid",
            GradientFreeMethod::Random => "random",
        }
    }
}

impl std::str::FromStr for GradientFreeMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|m| m.name()).collect();
            Error::InvalidInput(format!("unknown gradient-free optimiser '{s}'; choose one of {}", names.join(", ")))
        })
    }
}

/// SPSA settings (Spall 1998, "Implementation of the simultaneous perturbation algorithm for
/// stochastic optimization"); lengths are in unit-box coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpsaConfig {
    /// Step gain a; `None` calibrates it so that the first step moves by `initial_step`.
    pub step: Option<f64>,
    /// Intended size of the first step, for the calibration of a.
    pub initial_step: f64,
    /// Gradient estimates per restart at the initial designs for the calibration of a.
    pub calibration_samples: usize,
    /// Perturbation gain c.
    pub perturbation: f64,
    /// Stability constant A; `None` is 10% of the iterations (Spall's rule).
    pub stability: Option<f64>,
    /// Decay exponent α of a_k (0.602).
    pub alpha: f64,
    /// Decay exponent γ of c_k (0.101).
    pub gamma: f64,
}

impl Default for SpsaConfig {
    fn default() -> Self {
        SpsaConfig {
            step: None,
            initial_step: 0.1,
            calibration_samples: 4,
            perturbation: 0.1,
            stability: None,
            alpha: 0.602,
            gamma: 0.101,
        }
    }
}

/// The first-order optimiser of the design distribution's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistributionOptimizer {
    /// Adam (Kingma & Ba 2015).
    #[default]
    Adam,
    /// RMSProp (Tieleman & Hinton 2012).
    #[serde(rename = "rmsprop")]
    RmsProp,
}

/// Design-distribution settings; standard deviations are in unit-box coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DesignDistributionConfig {
    /// Designs drawn per restart and iteration (S ≥ 2).
    pub samples: usize,
    /// Learning rate of μ and log σ.
    pub learning_rate: f64,
    /// Initial standard deviation σ of every coordinate.
    pub initial_std: f64,
    /// Smallest σ (log σ is clamped).
    pub min_std: f64,
    /// Largest σ (at most 1, the width of the unit box).
    pub max_std: f64,
    /// Adam or RMSProp.
    pub optimizer: DistributionOptimizer,
    /// Adam β₁ (first-moment decay).
    pub beta1: f64,
    /// Adam β₂, or RMSProp's smoothing constant α (second-moment decay).
    pub beta2: f64,
    /// ε added to the root mean square.
    pub epsilon: f64,
}

impl Default for DesignDistributionConfig {
    fn default() -> Self {
        DesignDistributionConfig {
            samples: 16,
            learning_rate: 0.05,
            initial_std: 0.3,
            min_std: 1e-3,
            max_std: 1.0,
            optimizer: DistributionOptimizer::Adam,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// Settings of [`optimize_gradient_free`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GradientFreeConfig {
    /// The optimiser.
    pub method: GradientFreeMethod,
    /// Parallel restarts (SPSA, design distribution); for grid and random search the number of
    /// best candidates re-scored.
    pub restarts: usize,
    /// Iterations (SPSA, design distribution).
    pub iterations: usize,
    /// Grid points per design coordinate (grid search).
    pub grid_points: usize,
    /// Uniform candidates (random search).
    pub candidates: usize,
    /// Candidates per objective call (grid and random search; one trace point per call).
    pub batch: usize,
    /// Fresh evaluations averaged in the final re-scoring of each design.
    pub rescore_repeats: usize,
    /// Record a trace point every this many iterations (and at the last).
    pub trace_every: usize,
    /// SPSA gains.
    pub spsa: SpsaConfig,
    /// Design-distribution settings.
    pub distribution: DesignDistributionConfig,
    /// Seed of every random draw and of every objective call.
    pub seed: u64,
}

impl Default for GradientFreeConfig {
    fn default() -> Self {
        GradientFreeConfig {
            method: GradientFreeMethod::Spsa,
            restarts: 8,
            iterations: 200,
            grid_points: 21,
            candidates: 1024,
            batch: 256,
            rescore_repeats: 5,
            trace_every: 10,
            spsa: SpsaConfig::default(),
            distribution: DesignDistributionConfig::default(),
            seed: 0,
        }
    }
}

impl GradientFreeConfig {
    fn validate(&self, dim: usize) -> Result<()> {
        let fail = |what: String| {
            Err(Error::InvalidInput(format!("gradient-free optimiser ({}): {what}", self.method.name())))
        };
        for (name, value) in [
            ("restarts", self.restarts),
            ("iterations", self.iterations),
            ("batch", self.batch),
            ("rescore_repeats", self.rescore_repeats),
            ("trace_every", self.trace_every),
        ] {
            if value == 0 {
                return fail(format!("setting {name} must be positive"));
            }
        }
        let positive = |v: f64| v > 0.0 && v.is_finite();
        match self.method {
            GradientFreeMethod::Spsa => {
                let s = &self.spsa;
                if !positive(s.perturbation) || !positive(s.initial_step) || s.step.is_some_and(|a| !positive(a)) {
                    return fail("SPSA gains a, c and the initial step must be positive and finite".into());
                }
                if s.stability.is_some_and(|a| !(a >= 0.0 && a.is_finite())) || !(s.alpha > 0.0 && s.gamma > 0.0) {
                    return fail("SPSA needs A ≥ 0 and positive decay exponents α and γ".into());
                }
                if s.step.is_none() && s.calibration_samples == 0 {
                    return fail("SPSA needs calibration samples when the step gain a is not given".into());
                }
            }
            GradientFreeMethod::DesignDistribution => {
                let d = &self.distribution;
                if d.samples < 2 {
                    return fail(format!(
                        "the design distribution needs at least 2 samples per restart, got {}",
                        d.samples
                    ));
                }
                let ordered = positive(d.min_std) && d.min_std <= d.initial_std && d.initial_std <= d.max_std;
                if !positive(d.learning_rate) || !ordered || d.max_std > 1.0 || !positive(d.epsilon) {
                    return fail(
                        "needs a positive learning rate and ε, and 0 < min_std ≤ initial_std ≤ max_std ≤ 1 (unit box)"
                            .into(),
                    );
                }
                if !((0.0..1.0).contains(&d.beta1) && (0.0..1.0).contains(&d.beta2)) {
                    return fail(format!("β₁ and β₂ must lie in [0, 1), got {} and {}", d.beta1, d.beta2));
                }
            }
            GradientFreeMethod::Grid => {
                if dim > 2 {
                    return fail(format!(
                        "grid search covers at most 2 design coordinates, this problem has {dim}; use random search"
                    ));
                }
                if self.grid_points < 2 {
                    return fail(format!("a grid needs at least 2 points per coordinate, got {}", self.grid_points));
                }
            }
            GradientFreeMethod::Random => {
                if self.candidates == 0 {
                    return fail("random search needs at least one candidate".into());
                }
            }
        }
        Ok(())
    }
}

/// The outcome of [`optimize_gradient_free`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientFreeResult {
    /// The optimiser used.
    pub method: GradientFreeMethod,
    /// The chosen design (the re-scoring argmax).
    pub design: Vec<f64>,
    /// Its re-scored EIG: the mean of `rescore_repeats` fresh evaluations.
    pub eig: f64,
    /// Standard error of `eig` over the repeats (NaN with a single repeat).
    pub stderr: f64,
    /// Index into `designs` of the chosen design.
    pub best_restart: usize,
    /// The re-scored designs: the final design of every restart, or the best grid/random candidates.
    pub designs: Vec<Vec<f64>>,
    /// Re-scored EIG of every entry of `designs` (NaN where no evaluation was finite).
    pub restart_eig: Vec<f64>,
    /// Restarts stopped on a non-finite estimate.
    pub stopped: Vec<StoppedRestart>,
    /// Non-finite candidate evaluations dropped (design distribution, grid, random search).
    pub dropped: usize,
    /// Per-iteration (per-batch for grid and random search) best and mean EIG estimate, with the
    /// current designs; `critic_loss` is NaN and `penalty` 0 (no model is trained here).
    pub trace: Vec<TracePoint>,
    /// Designs evaluated in all (calibration and re-scoring included).
    pub evaluations: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Conversion between unit-box coordinates and designs, and objective calls with bookkeeping.
struct Runner<'a> {
    bounds: &'a DesignBox,
    objective: &'a mut dyn EigObjective,
    seed: u64,
    calls: u64,
    evaluations: usize,
}

impl Runner<'_> {
    /// Designs of unit-box points `z [n, D]`, projected to absorb rounding.
    fn designs(&self, z: ArrayView2<f64>) -> Result<Array2<f64>> {
        let b = self.bounds;
        let designs = Array2::from_shape_fn(z.dim(), |(i, j)| b.low[j] + z[[i, j]] * (b.high[j] - b.low[j]));
        b.project(designs.view())
    }

    /// The objective at unit-box points, with a fresh seed per call.
    fn evaluate(&mut self, z: ArrayView2<f64>) -> Result<Vec<f64>> {
        let designs = self.designs(z)?;
        let seed = substream(self.seed, 1000 + self.calls).next_u64();
        self.calls += 1;
        let values = self.objective.evaluate(designs.view(), seed)?;
        if values.len() != designs.nrows() {
            return Err(Error::shape(
                "gradient-free EIG objective",
                format!("{} estimates (one per design)", designs.nrows()),
                format!("{}", values.len()),
            ));
        }
        self.evaluations += values.len();
        Ok(values)
    }

    /// Mean and standard error of `repeats` evaluations of every row of `z` (finite values only;
    /// NaN where none is finite).
    fn rescore(&mut self, z: ArrayView2<f64>, repeats: usize) -> Result<Vec<(f64, f64)>> {
        let mut values = vec![Vec::with_capacity(repeats); z.nrows()];
        for _ in 0..repeats {
            for (i, v) in self.evaluate(z)?.into_iter().enumerate() {
                if v.is_finite() {
                    values[i].push(v);
                }
            }
        }
        Ok(values
            .iter()
            .map(|v| {
                let n = v.len() as f64;
                if v.is_empty() {
                    return (f64::NAN, f64::NAN);
                }
                let mean = v.iter().sum::<f64>() / n;
                let stderr = if v.len() > 1 {
                    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
                } else {
                    f64::NAN
                };
                (mean, stderr)
            })
            .collect())
    }
}

/// Per-iteration bookkeeping shared by SPSA and the design distribution.
struct Restarts {
    running: Vec<bool>,
    stopped: Vec<StoppedRestart>,
    dropped: usize,
    trace: Vec<TracePoint>,
}

impl Restarts {
    fn new(m: usize) -> Self {
        Restarts { running: vec![true; m], stopped: Vec::new(), dropped: 0, trace: Vec::new() }
    }

    fn active(&self) -> Vec<usize> {
        (0..self.running.len()).filter(|&i| self.running[i]).collect()
    }

    fn stop(&mut self, restart: usize, step: usize, design: Vec<f64>, reason: String) {
        self.running[restart] = false;
        self.stopped.push(StoppedRestart { restart, step, design, reason });
    }

    /// Error when no restart is left.
    fn check_alive(&self, context: &str) -> Result<()> {
        if self.running.iter().any(|&r| r) {
            return Ok(());
        }
        Err(Error::Training(format!(
            "every restart of the gradient-free optimiser stopped {context}: {}",
            self.stopped.iter().map(|s| format!("restart {}: {}", s.restart, s.reason)).collect::<Vec<_>>().join("; ")
        )))
    }
}

/// Optimise a design over `bounds` by the gradient-free method of `config`, asking `objective`
/// for noisy EIG estimates; `progress` is called after every iteration (batch). Reproducible from
/// `config.seed`. Errors: invalid settings or box, an objective error or a wrong number of
/// estimates, and no finite estimate left.
pub fn optimize_gradient_free(
    bounds: &DesignBox,
    objective: &mut dyn EigObjective,
    config: &GradientFreeConfig,
    progress: &mut dyn FnMut(&MprgaProgress),
) -> Result<GradientFreeResult> {
    let dim = bounds.dim();
    if dim == 0 || bounds.high.len() != dim {
        return Err(Error::InvalidInput("gradient-free optimiser: the design box has no coordinates".into()));
    }
    if let Some(j) = (0..dim)
        .find(|&j| !(bounds.low[j].is_finite() && bounds.high[j].is_finite() && bounds.low[j] <= bounds.high[j]))
    {
        return Err(Error::InvalidInput(format!(
            "gradient-free optimiser: design coordinate {j} has the box [{}, {}], which is not a finite interval",
            bounds.low[j], bounds.high[j]
        )));
    }
    config.validate(dim)?;
    let start = Instant::now();
    let mut runner = Runner { bounds, objective, seed: config.seed, calls: 0, evaluations: 0 };
    let (z, mut restarts) = match config.method {
        GradientFreeMethod::Spsa => spsa(&mut runner, config, progress)?,
        GradientFreeMethod::DesignDistribution => design_distribution(&mut runner, config, progress)?,
        GradientFreeMethod::Grid | GradientFreeMethod::Random => search(&mut runner, config, progress)?,
    };
    let active = restarts.active();
    let scores = runner.rescore(z.select(Axis(0), &active).view(), config.rescore_repeats)?;
    let mut restart_eig = vec![f64::NAN; z.nrows()];
    let mut best: Option<(usize, f64, f64)> = None;
    for (&i, &(eig, stderr)) in active.iter().zip(&scores) {
        restart_eig[i] = eig;
        if !eig.is_finite() {
            let design = runner.designs(z.select(Axis(0), &[i]).view())?.row(0).to_vec();
            restarts.stop(i, config.iterations, design, "every re-scoring estimate is not finite".into());
        } else if best.is_none_or(|(_, e, _)| eig > e) {
            best = Some((i, eig, stderr));
        }
    }
    let Some((best_restart, eig, stderr)) = best else {
        restarts.check_alive("at the final re-scoring")?;
        return Err(Error::Training("no re-scored design has a finite EIG estimate".into()));
    };
    let designs = runner.designs(z.view())?;
    Ok(GradientFreeResult {
        method: config.method,
        design: designs.row(best_restart).to_vec(),
        eig,
        stderr,
        best_restart,
        designs: designs.outer_iter().map(|r| r.to_vec()).collect(),
        restart_eig,
        stopped: restarts.stopped,
        dropped: restarts.dropped,
        trace: restarts.trace,
        evaluations: runner.evaluations,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// `n` points uniform in the unit box `[0, 1]^dim`.
fn uniform_points(n: usize, dim: usize, rng: &mut LindleyRng) -> Array2<f64> {
    Array2::from_shape_fn((n, dim), |_| rng.random::<f64>())
}

/// Record a trace point (if due) and report progress; `levels` holds the current estimate of
/// every running restart.
#[allow(clippy::too_many_arguments)]
fn record(
    runner: &Runner<'_>,
    restarts: &mut Restarts,
    z: ArrayView2<f64>,
    levels: &[f64],
    step: usize,
    steps: usize,
    trace_every: usize,
    progress: &mut dyn FnMut(&MprgaProgress),
) -> Result<()> {
    let best_eig = levels.iter().copied().filter(|v| v.is_finite()).fold(f64::NAN, f64::max);
    let finite: Vec<f64> = levels.iter().copied().filter(|v| v.is_finite()).collect();
    let mean_eig = if finite.is_empty() { f64::NAN } else { finite.iter().sum::<f64>() / finite.len() as f64 };
    if step.is_multiple_of(trace_every) || step == steps {
        let designs = runner.designs(z)?;
        restarts.trace.push(TracePoint {
            step,
            critic_loss: f64::NAN,
            best_eig,
            mean_eig,
            penalty: 0.0,
            designs: designs.outer_iter().map(|r| r.to_vec()).collect(),
        });
    }
    let running = restarts.running.iter().filter(|&&r| r).count();
    progress(&MprgaProgress { step, steps, critic_loss: f64::NAN, best_eig, running });
    Ok(())
}

/// Rows z ± c·Δ (clamped to the unit box) for every active restart: `[2n, D]`, the + rows first.
fn perturbed(z: &Array2<f64>, active: &[usize], directions: &Array2<f64>, c: f64) -> Array2<f64> {
    let (n, dim) = (active.len(), z.ncols());
    Array2::from_shape_fn((2 * n, dim), |(r, j)| {
        let (k, sign) = if r < n { (r, 1.0) } else { (r - n, -1.0) };
        (z[[active[k], j]] + sign * c * directions[[k, j]]).clamp(0.0, 1.0)
    })
}

/// The SPSA gradient estimate from the evaluations at the + and − rows of restart `k`.
fn spsa_gradient(points: &Array2<f64>, k: usize, n: usize, plus: f64, minus: f64) -> Vec<f64> {
    (0..points.ncols())
        .map(|j| {
            let width = points[[k, j]] - points[[k + n, j]];
            if width == 0.0 { 0.0 } else { (plus - minus) / width }
        })
        .collect()
}

/// Rademacher directions, `[n, D]`.
fn rademacher(n: usize, dim: usize, rng: &mut LindleyRng) -> Array2<f64> {
    Array2::from_shape_fn((n, dim), |_| if rng.random::<bool>() { 1.0 } else { -1.0 })
}

/// SPSA ascent of every restart; returns the final unit-box points.
fn spsa(
    runner: &mut Runner<'_>,
    config: &GradientFreeConfig,
    progress: &mut dyn FnMut(&MprgaProgress),
) -> Result<(Array2<f64>, Restarts)> {
    let s = &config.spsa;
    let (m, dim) = (config.restarts, runner.bounds.dim());
    let mut z = uniform_points(m, dim, &mut substream(config.seed, 0));
    let mut rng = substream(config.seed, 1);
    let mut restarts = Restarts::new(m);
    let stability = s.stability.unwrap_or(0.1 * config.iterations as f64);
    let a = match s.step {
        Some(a) => a,
        None => {
            // Spall (1998, §III): a such that a/(A + 1)^α · mean|ĝ| at the start is the intended
            // first step.
            let all: Vec<usize> = (0..m).collect();
            let mut total = 0.0;
            let mut count = 0usize;
            for _ in 0..s.calibration_samples {
                let directions = rademacher(m, dim, &mut rng);
                let points = perturbed(&z, &all, &directions, s.perturbation);
                let values = runner.evaluate(points.view())?;
                for k in 0..m {
                    let (plus, minus) = (values[k], values[k + m]);
                    if plus.is_finite() && minus.is_finite() {
                        total += spsa_gradient(&points, k, m, plus, minus).iter().map(|g| g.abs()).sum::<f64>();
                        count += dim;
                    }
                }
            }
            let mean = total / count.max(1) as f64;
            let scale = (stability + 1.0).powf(s.alpha);
            if mean > 0.0 && mean.is_finite() { s.initial_step * scale / mean } else { s.initial_step * scale }
        }
    };
    for k in 0..config.iterations {
        let ck = s.perturbation / (k as f64 + 1.0).powf(s.gamma);
        let ak = a / (k as f64 + 1.0 + stability).powf(s.alpha);
        let active = restarts.active();
        let n = active.len();
        let directions = rademacher(n, dim, &mut rng);
        let points = perturbed(&z, &active, &directions, ck);
        let values = runner.evaluate(points.view())?;
        let mut levels = Vec::with_capacity(n);
        for (r, &i) in active.iter().enumerate() {
            let (plus, minus) = (values[r], values[r + n]);
            if !(plus.is_finite() && minus.is_finite()) {
                let design = runner.designs(z.select(Axis(0), &[i]).view())?.row(0).to_vec();
                let reason = format!("EIG estimates {plus} and {minus} at the perturbed designs are not both finite");
                restarts.stop(i, k, design, reason);
                continue;
            }
            let gradient = spsa_gradient(&points, r, n, plus, minus);
            for (j, g) in gradient.into_iter().enumerate() {
                z[[i, j]] = (z[[i, j]] + ak * g).clamp(0.0, 1.0);
            }
            levels.push(0.5 * (plus + minus));
        }
        restarts.check_alive(&format!("by iteration {k}"))?;
        record(runner, &mut restarts, z.view(), &levels, k + 1, config.iterations, config.trace_every, progress)?;
    }
    Ok((z, restarts))
}

/// Φ(x), the standard normal CDF.
fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// φ(x), the standard normal density (0 at ±∞).
fn normal_pdf(x: f64) -> f64 {
    if x.is_infinite() { 0.0 } else { (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt() }
}

/// One draw of N(μ, σ²) truncated to [0, 1] (μ ∈ [0, 1], σ ≤ 1, so each proposal is accepted with
/// probability above 1/3); after 1000 rejected proposals μ itself is returned.
fn truncated_normal(mean: f64, sd: f64, rng: &mut LindleyRng) -> f64 {
    for _ in 0..1000 {
        let z = mean + sd * standard_normal(rng);
        if (0.0..=1.0).contains(&z) {
            return z;
        }
    }
    mean
}

/// ∂/∂μ and ∂/∂log σ of log q(z) for q = N(μ, σ²) truncated to [0, 1]:
/// log q = log φ(t) − log σ − log Z with t = (z − μ)/σ, Z = Φ(b) − Φ(a), a = −μ/σ, b = (1 − μ)/σ;
/// ∂μ = t/σ − (φ(a) − φ(b))/(σZ), ∂log σ = t² − 1 − (a·φ(a) − b·φ(b))/Z.
fn truncated_normal_score(z: f64, mean: f64, sd: f64) -> (f64, f64) {
    let (a, b) = (-mean / sd, (1.0 - mean) / sd);
    let mass = normal_cdf(b) - normal_cdf(a);
    let t = (z - mean) / sd;
    if mass <= 0.0 {
        return (t / sd, t * t - 1.0);
    }
    let (pa, pb) = (normal_pdf(a), normal_pdf(b));
    (t / sd - (pa - pb) / (sd * mass), t * t - 1.0 - (a * pa - b * pb) / mass)
}

/// Design-distribution ascent of every restart; returns the final means (unit box).
fn design_distribution(
    runner: &mut Runner<'_>,
    config: &GradientFreeConfig,
    progress: &mut dyn FnMut(&MprgaProgress),
) -> Result<(Array2<f64>, Restarts)> {
    let d = &config.distribution;
    let (m, dim, samples) = (config.restarts, runner.bounds.dim(), d.samples);
    let mut mean = uniform_points(m, dim, &mut substream(config.seed, 0));
    let mut log_sd = Array2::from_elem((m, dim), d.initial_std.ln());
    let (log_min, log_max) = (d.min_std.ln(), d.max_std.ln());
    // Optimiser moments over the 2·D parameters (μ, log σ) of every restart.
    let mut first = Array2::<f64>::zeros((m, 2 * dim));
    let mut second = Array2::<f64>::zeros((m, 2 * dim));
    let mut updates = vec![0i32; m];
    let mut rng = substream(config.seed, 1);
    let mut restarts = Restarts::new(m);
    for k in 0..config.iterations {
        let active = restarts.active();
        let n = active.len();
        let points = Array2::from_shape_fn((n * samples, dim), |(row, j)| {
            let i = active[row / samples];
            truncated_normal(mean[[i, j]], log_sd[[i, j]].exp(), &mut rng)
        });
        let values = runner.evaluate(points.view())?;
        let mut levels = Vec::with_capacity(n);
        for (r, &i) in active.iter().enumerate() {
            let rows: Vec<usize> = (r * samples..(r + 1) * samples).filter(|&row| values[row].is_finite()).collect();
            restarts.dropped += samples - rows.len();
            if rows.len() < 2 {
                let design = runner.designs(mean.select(Axis(0), &[i]).view())?.row(0).to_vec();
                let reason = format!("only {} of {samples} EIG estimates at its samples are finite", rows.len());
                restarts.stop(i, k, design, reason);
                continue;
            }
            let baseline = rows.iter().map(|&row| values[row]).sum::<f64>() / rows.len() as f64;
            let mut gradient = vec![0.0; 2 * dim];
            for &row in &rows {
                let weight = (values[row] - baseline) / (rows.len() - 1) as f64;
                for j in 0..dim {
                    let (d_mean, d_log_sd) =
                        truncated_normal_score(points[[row, j]], mean[[i, j]], log_sd[[i, j]].exp());
                    gradient[j] += weight * d_mean;
                    gradient[dim + j] += weight * d_log_sd;
                }
            }
            updates[i] += 1;
            for (p, &g) in gradient.iter().enumerate() {
                let step = match d.optimizer {
                    DistributionOptimizer::Adam => {
                        first[[i, p]] = d.beta1 * first[[i, p]] + (1.0 - d.beta1) * g;
                        second[[i, p]] = d.beta2 * second[[i, p]] + (1.0 - d.beta2) * g * g;
                        let m_hat = first[[i, p]] / (1.0 - d.beta1.powi(updates[i]));
                        let v_hat = second[[i, p]] / (1.0 - d.beta2.powi(updates[i]));
                        d.learning_rate * m_hat / (v_hat.sqrt() + d.epsilon)
                    }
                    DistributionOptimizer::RmsProp => {
                        second[[i, p]] = d.beta2 * second[[i, p]] + (1.0 - d.beta2) * g * g;
                        d.learning_rate * g / (second[[i, p]].sqrt() + d.epsilon)
                    }
                };
                if p < dim {
                    mean[[i, p]] = (mean[[i, p]] + step).clamp(0.0, 1.0);
                } else {
                    log_sd[[i, p - dim]] = (log_sd[[i, p - dim]] + step).clamp(log_min, log_max);
                }
            }
            levels.push(baseline);
        }
        restarts.check_alive(&format!("by iteration {k}"))?;
        record(runner, &mut restarts, mean.view(), &levels, k + 1, config.iterations, config.trace_every, progress)?;
    }
    Ok((mean, restarts))
}

/// Grid or uniform random search; returns the best `restarts` candidates (unit box), to be
/// re-scored.
fn search(
    runner: &mut Runner<'_>,
    config: &GradientFreeConfig,
    progress: &mut dyn FnMut(&MprgaProgress),
) -> Result<(Array2<f64>, Restarts)> {
    let dim = runner.bounds.dim();
    let candidates = if config.method == GradientFreeMethod::Grid {
        let unit = DesignBox { low: vec![0.0; dim], high: vec![1.0; dim] };
        unit.grid(config.grid_points, false, usize::MAX)?
    } else {
        uniform_points(config.candidates, dim, &mut substream(config.seed, 0))
    };
    let total = candidates.nrows();
    let batches = total.div_ceil(config.batch);
    let mut restarts = Restarts::new(0);
    let mut scored: Vec<(usize, f64)> = Vec::with_capacity(total);
    for b in 0..batches {
        let rows: Vec<usize> = (b * config.batch..((b + 1) * config.batch).min(total)).collect();
        let values = runner.evaluate(candidates.select(Axis(0), &rows).view())?;
        let finite: Vec<(usize, f64)> =
            rows.iter().zip(&values).filter(|(_, v)| v.is_finite()).map(|(&r, &v)| (r, v)).collect();
        restarts.dropped += rows.len() - finite.len();
        scored.extend(&finite);
        let best = scored.iter().copied().max_by(|x, y| x.1.total_cmp(&y.1));
        let batch_mean =
            if finite.is_empty() { f64::NAN } else { finite.iter().map(|p| p.1).sum::<f64>() / finite.len() as f64 };
        if (b + 1).is_multiple_of(config.trace_every) || b + 1 == batches {
            let designs = match best {
                Some((r, _)) => {
                    runner.designs(candidates.select(Axis(0), &[r]).view())?.outer_iter().map(|r| r.to_vec()).collect()
                }
                None => Vec::new(),
            };
            restarts.trace.push(TracePoint {
                step: b + 1,
                critic_loss: f64::NAN,
                best_eig: best.map_or(f64::NAN, |p| p.1),
                mean_eig: batch_mean,
                penalty: 0.0,
                designs,
            });
        }
        progress(&MprgaProgress {
            step: b + 1,
            steps: batches,
            critic_loss: f64::NAN,
            best_eig: best.map_or(f64::NAN, |p| p.1),
            running: scored.len(),
        });
    }
    if scored.is_empty() {
        return Err(Error::Training(format!(
            "{} search: none of the {total} candidate designs has a finite EIG estimate",
            config.method.name()
        )));
    }
    scored.sort_by(|x, y| y.1.total_cmp(&x.1));
    let top: Vec<usize> = scored.iter().take(config.restarts).map(|p| p.0).collect();
    restarts.running = vec![true; top.len()];
    Ok((candidates.select(Axis(0), &top), restarts))
}

#[cfg(test)]
mod tests;
