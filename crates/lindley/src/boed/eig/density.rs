//! Learned EIG estimators built on conditional density estimators (the flows of [`crate::flows`]),
//! amortised over designs: every density takes the design ξ as part of its context and is trained
//! by maximum likelihood on simulations (θ, y) at designs drawn uniformly in the design box (or at
//! given designs), with the project's training loop ([`crate::train::train`]). With outer samples
//! (θₙ, yₙ) ~ p(θ)p(y | θ, ξ) at the design being scored:
//!
//! - Barber–Agakov lower bound (Barber & Agakov 2003; Foster et al. 2019) with a design-amortised
//!   posterior q(θ | y, ξ) (NPE): EIG_BA(ξ) = E[log q(θ | y, ξ) − log p(θ)] = EIG(ξ) −
//!   E_y KL(p(θ | y, ξ) ‖ q(θ | y, ξ)) ≤ EIG(ξ).
//! - NLE direct estimator (Klein et al. 2026): E[log q₁(y | θ, ξ) − log q₂(y | ξ)] with a learned
//!   likelihood and a learned marginal; its error KL(p(y | ξ) ‖ q₂) − E_θ KL(p(y | θ, ξ) ‖ q₁) has
//!   either sign, so it is neither a lower nor an upper bound.
//! - Marginal upper bound (Foster et al. 2019) with the true likelihood and a learned marginal:
//!   U(ξ) = E[log p(y | θ, ξ) − log q(y | ξ)] = EIG(ξ) + KL(p(y | ξ) ‖ q(y | ξ)) ≥ EIG(ξ).

use std::time::Instant;

use burn::prelude::*;
use ndarray::{Array2, ArrayView2, Axis, concatenate, s};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::contrastive::summarise;
use super::infonce::{CriticConfig, SimulationBatch};
use super::online::{OnlineBound, OnlineEig};
use super::{DesignSimulations, EigEstimate, EigEstimator, simulate_designs};
use crate::boed::problems::{DesignProblem, DesignSimulator, DifferentiableProblem};
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, Standardizer};
use crate::rng::{LindleyRng, substream};
use crate::tensor_ops::{matrix_to_tensor, tensor_to_matrix, tensor_to_vec, vector};
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};
use crate::{Error, Result};

/// Rows scored by a density at once.
const EVALUATION_CHUNK: usize = 8192;
/// Stream index (under the estimation seed) of the outer samples, the same at every design.
const OUTER_STREAM: u64 = 0;
/// Stream index (under the training seed) of the training simulations.
const TRAINING_STREAM: u64 = 1;
/// First stream index of the densities' initialisations (one per role).
const INIT_STREAM: u64 = 2;

/// Which learned estimator a [`FlowEig`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowEigKind {
    /// Barber–Agakov lower bound E[log q(θ | y, ξ) − log p(θ)] with a posterior flow.
    BarberAgakov,
    /// NLE direct estimator E[log q(y | θ, ξ) − log q(y | ξ)] with a likelihood and a marginal flow.
    NleDirect,
    /// Marginal upper bound E[log p(y | θ, ξ) − log q(y | ξ)] with a marginal flow.
    MarginalUpper,
}

impl FlowEigKind {
    /// All kinds, in the order of [`FlowEigKind::name`]'s listing.
    pub const ALL: [FlowEigKind; 3] = [FlowEigKind::BarberAgakov, FlowEigKind::NleDirect, FlowEigKind::MarginalUpper];

    /// The short name used on the command line: `ba`, `nle`, `upper`.
    pub fn name(&self) -> &'static str {
        match self {
            FlowEigKind::BarberAgakov => "ba",
            FlowEigKind::NleDirect => "nle",
            FlowEigKind::MarginalUpper => "upper",
        }
    }

    /// The densities this estimator needs.
    pub fn roles(&self) -> &'static [DensityRole] {
        match self {
            FlowEigKind::BarberAgakov => &[DensityRole::Posterior],
            FlowEigKind::NleDirect => &[DensityRole::Likelihood, DensityRole::Marginal],
            FlowEigKind::MarginalUpper => &[DensityRole::Marginal],
        }
    }
}

impl std::str::FromStr for FlowEigKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
            Error::InvalidInput(format!("unknown learned EIG estimator '{s}'; choose one of {}", names.join(", ")))
        })
    }
}

/// What a learned density models; the design ξ is always part of the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DensityRole {
    /// q(θ | y, ξ): NPE amortised over designs, context [y, ξ].
    Posterior,
    /// q(y | θ, ξ): NLE amortised over designs, context [θ, ξ].
    Likelihood,
    /// q(y | ξ): the marginal (evidence) of y at a design, context ξ.
    Marginal,
}

impl DensityRole {
    fn index(&self) -> u64 {
        match self {
            DensityRole::Posterior => 0,
            DensityRole::Likelihood => 1,
            DensityRole::Marginal => 2,
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            DensityRole::Posterior => "posterior q(θ | y, ξ)",
            DensityRole::Likelihood => "likelihood q(y | θ, ξ)",
            DensityRole::Marginal => "marginal q(y | ξ)",
        }
    }

    /// The (inputs, context) columns of this role for a set of simulations.
    pub(crate) fn columns(&self, sims: &DesignSimulations) -> (Array2<f64>, Array2<f64>) {
        let join = |a: ArrayView2<f64>, b: ArrayView2<f64>| {
            concatenate(Axis(1), &[a, b]).expect("row-aligned simulations have equal row counts")
        };
        match self {
            DensityRole::Posterior => (sims.theta.clone(), join(sims.y.view(), sims.design.view())),
            DensityRole::Likelihood => (sims.y.clone(), join(sims.theta.view(), sims.design.view())),
            DensityRole::Marginal => (sims.y.clone(), sims.design.clone()),
        }
    }

    /// A fresh flow of `estimator` in this role on `device`, initialised from `rng`, with its
    /// inputs and context z-scored by the statistics of the `pilot` simulations.
    pub(crate) fn flow_from_pilot(
        &self,
        estimator: &EstimatorConfig,
        pilot: &DesignSimulations,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Result<ConditionalEstimator> {
        let (inputs, context) = self.columns(pilot);
        ConditionalEstimator::new(
            estimator,
            Standardizer::fit(inputs.view()),
            Standardizer::fit(context.view()),
            rng,
            device,
        )
    }
}

/// Settings of a [`FlowEig`]: the density estimator of every flow, its training, the number of
/// training simulations and the number of outer samples per scored design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowEigConfig {
    /// Architecture of every flow (q(θ | y, ξ), q(y | θ, ξ), q(y | ξ)).
    pub estimator: EstimatorConfig,
    /// The training loop (its seed is replaced by one derived from the training seed).
    pub training: TrainConfig,
    /// Number of training simulations (θ, ξ, y).
    pub simulations: usize,
    /// Outer samples (θₙ, yₙ) per scored design.
    pub outer: usize,
}

impl Default for FlowEigConfig {
    /// sbi's NSF and training defaults, 20,000 training simulations, 2,000 outer samples.
    fn default() -> Self {
        FlowEigConfig {
            estimator: EstimatorConfig::default(),
            training: TrainConfig::default(),
            simulations: 20_000,
            outer: 2000,
        }
    }
}

impl FlowEigConfig {
    fn validate(&self) -> Result<()> {
        if self.outer < 2 {
            return Err(Error::InvalidInput(format!(
                "learned EIG needs at least 2 outer samples per design for a standard error, got {}",
                self.outer
            )));
        }
        if self.simulations < 3 {
            return Err(Error::InvalidInput(format!(
                "learned EIG needs at least 3 training simulations, got {}",
                self.simulations
            )));
        }
        Ok(())
    }
}

/// A conditional density in one [`DensityRole`], trained by maximum likelihood on simulations.
#[derive(Debug)]
pub struct LearnedDensity {
    role: DensityRole,
    model: ConditionalEstimator,
    device: Device,
    report: TrainReport,
}

impl LearnedDensity {
    /// Train a fresh density of `config.estimator` in `role` on `simulations` (all finite) by
    /// minimising the mean negative log-density with `training`, on the device chosen by
    /// `LINDLEY_DEVICE`; both sides are z-scored with statistics of the training set.
    /// `rng` initialises the network; `progress` is called after every epoch.
    pub fn train(
        role: DensityRole,
        simulations: &DesignSimulations,
        estimator: &EstimatorConfig,
        training: &TrainConfig,
        rng: &mut LindleyRng,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<Self> {
        let device = crate::device::compute_device()?;
        let training_device = device.clone().autodiff();
        let (inputs, context) = role.columns(simulations);
        let model = ConditionalEstimator::new(
            estimator,
            Standardizer::fit(inputs.view()),
            Standardizer::fit(context.view()),
            rng,
            &training_device,
        )?;
        let loss = |m: &ConditionalEstimator, v: Tensor<2>, c: Tensor<2>| m.log_prob(v, c).mean().neg();
        let (model, report) = train(model, inputs.view(), context.view(), loss, training, &training_device, progress)
            .map_err(|e| Error::Training(format!("training the {}: {e}", role.describe())))?;
        Ok(LearnedDensity { role, model: model.valid(), device, report })
    }

    /// What the density models.
    pub fn role(&self) -> DensityRole {
        self.role
    }

    /// The training report (epochs, losses, seconds).
    pub fn report(&self) -> &TrainReport {
        &self.report
    }

    /// The density estimator.
    pub fn estimator(&self) -> &ConditionalEstimator {
        &self.model
    }

    /// `n` draws of the density's inputs at one `context` row `[1, C]` (in the role's context
    /// layout, e.g. [y, ξ] for the posterior). A context of the wrong width is a shape error.
    pub fn sample(&self, context: ArrayView2<f64>, n: usize, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        let width = self.model.context_standardizer().dim();
        if context.dim() != (1, width) {
            return Err(Error::shape(
                format!("sampling the {}", self.role.describe()),
                format!("one context row of {width} values"),
                format!("{:?}", context.dim()),
            ));
        }
        Ok(tensor_to_matrix(self.model.sample_shared(matrix_to_tensor(context, &self.device), n, rng)))
    }

    /// log q per row of `simulations` (its inputs and context by the role).
    pub fn log_prob(&self, simulations: &DesignSimulations) -> Vec<f64> {
        let (inputs, context) = self.role.columns(simulations);
        let mut out = Vec::with_capacity(inputs.nrows());
        for start in (0..inputs.nrows()).step_by(EVALUATION_CHUNK) {
            let end = (start + EVALUATION_CHUNK).min(inputs.nrows());
            let v = matrix_to_tensor(inputs.slice(s![start..end, ..]), &self.device);
            let c = matrix_to_tensor(context.slice(s![start..end, ..]), &self.device);
            out.extend(tensor_to_vec(self.model.log_prob(v, c)).into_iter().map(f64::from));
        }
        out
    }
}

/// A learned EIG estimator ([`FlowEigKind`]) with the flows it was trained with, for one problem.
/// The flows trained for several kinds at once can be scored as any of them
/// ([`FlowEig::set_kind`]): NLE's marginal flow also gives the upper bound.
#[derive(Debug)]
pub struct FlowEig {
    kind: FlowEigKind,
    outer: usize,
    problem: String,
    dims: (usize, usize, usize),
    posterior: Option<LearnedDensity>,
    likelihood: Option<LearnedDensity>,
    marginal: Option<LearnedDensity>,
    simulations: usize,
    train_seconds: f64,
}

impl FlowEig {
    /// Train the flows that `kinds` need (each density once) on `config.simulations` simulations
    /// at `designs` (rows cycled) or, without them, at designs uniform in the design box; the
    /// estimator computes `kinds[0]`. Failed (non-finite) simulations are left out. Everything is
    /// reproducible from `seed`: the simulations, every network's initialisation and every
    /// training split and shuffle. Training needs simulations only, so simulator-only problems
    /// (no likelihood) are accepted.
    pub fn train(
        problem: &dyn DesignSimulator,
        kinds: &[FlowEigKind],
        config: &FlowEigConfig,
        designs: Option<ArrayView2<f64>>,
        seed: u64,
    ) -> Result<Self> {
        config.validate()?;
        let Some(&kind) = kinds.first() else {
            return Err(Error::InvalidInput("train at least one learned EIG estimator".into()));
        };
        let start = Instant::now();
        let simulations =
            simulate_designs(problem, designs, config.simulations, &mut substream(seed, TRAINING_STREAM))?.finite();
        if simulations.len() < 3 {
            return Err(Error::Simulator(format!(
                "{}: only {} of {} training simulations for the learned EIG are finite",
                problem.name(),
                simulations.len(),
                config.simulations
            )));
        }
        let mut estimator = FlowEig {
            kind,
            outer: config.outer,
            problem: problem.name().to_string(),
            dims: (problem.parameter_dim(), problem.observation_dim(), problem.design_dim()),
            posterior: None,
            likelihood: None,
            marginal: None,
            simulations: simulations.len(),
            train_seconds: 0.0,
        };
        for role in [DensityRole::Posterior, DensityRole::Likelihood, DensityRole::Marginal] {
            if !kinds.iter().any(|k| k.roles().contains(&role)) {
                continue;
            }
            let split_seed = substream(seed, INIT_STREAM + 3 + role.index()).next_u64();
            let training = TrainConfig { seed: split_seed, ..config.training.clone() };
            let mut rng = substream(seed, INIT_STREAM + role.index());
            let density =
                LearnedDensity::train(role, &simulations, &config.estimator, &training, &mut rng, &mut |_| {})?;
            *estimator.slot(role) = Some(density);
        }
        estimator.train_seconds = start.elapsed().as_secs_f64();
        Ok(estimator)
    }

    fn slot(&mut self, role: DensityRole) -> &mut Option<LearnedDensity> {
        match role {
            DensityRole::Posterior => &mut self.posterior,
            DensityRole::Likelihood => &mut self.likelihood,
            DensityRole::Marginal => &mut self.marginal,
        }
    }

    /// The trained density in `role`, if any.
    pub fn density(&self, role: DensityRole) -> Option<&LearnedDensity> {
        match role {
            DensityRole::Posterior => self.posterior.as_ref(),
            DensityRole::Likelihood => self.likelihood.as_ref(),
            DensityRole::Marginal => self.marginal.as_ref(),
        }
    }

    /// The estimator computed by [`EigEstimator::estimate`].
    pub fn kind(&self) -> FlowEigKind {
        self.kind
    }

    /// Score as `kind` from now on; an error if a flow it needs was not trained.
    pub fn set_kind(&mut self, kind: FlowEigKind) -> Result<()> {
        if let Some(role) = kind.roles().iter().find(|r| self.density(**r).is_none()) {
            return Err(Error::InvalidInput(format!(
                "the '{}' EIG estimator needs the {}, which was not trained",
                kind.name(),
                role.describe()
            )));
        }
        self.kind = kind;
        Ok(())
    }

    /// Outer samples per scored design.
    pub fn outer(&self) -> usize {
        self.outer
    }

    /// Number of (finite) training simulations used.
    pub fn training_simulations(&self) -> usize {
        self.simulations
    }

    /// Wall-clock seconds of simulating and training every flow.
    pub fn train_seconds(&self) -> f64 {
        self.train_seconds
    }

    fn check_problem(&self, problem: &dyn DesignSimulator) -> Result<()> {
        let dims = (problem.parameter_dim(), problem.observation_dim(), problem.design_dim());
        if problem.name() != self.problem || dims != self.dims {
            return Err(Error::InvalidInput(format!(
                "this learned EIG estimator was trained on '{}' (P, Dy, Dξ = {:?}), not on '{}' ({dims:?})",
                self.problem,
                self.dims,
                problem.name()
            )));
        }
        Ok(())
    }

    /// Per-sample terms of the estimator at the outer samples `sims` (all at one design); the
    /// marginal upper bound needs `likelihood` (the same problem with its likelihood).
    fn terms(
        &self,
        problem: &dyn DesignSimulator,
        likelihood: Option<&dyn DesignProblem>,
        sims: &DesignSimulations,
    ) -> Result<Vec<f64>> {
        let need = |role: DensityRole| {
            self.density(role).ok_or_else(|| {
                Error::InvalidInput(format!("the '{}' EIG estimator needs the {}", self.kind.name(), role.describe()))
            })
        };
        let difference = |a: Vec<f64>, b: Vec<f64>| a.into_iter().zip(b).map(|(a, b)| a - b).collect();
        Ok(match self.kind {
            FlowEigKind::BarberAgakov => {
                let log_q = need(DensityRole::Posterior)?.log_prob(sims);
                difference(log_q, problem.log_prior(sims.theta.view())?.to_vec())
            }
            FlowEigKind::NleDirect => {
                let log_likelihood = need(DensityRole::Likelihood)?.log_prob(sims);
                difference(log_likelihood, need(DensityRole::Marginal)?.log_prob(sims))
            }
            FlowEigKind::MarginalUpper => {
                let Some(likelihood) = likelihood else {
                    return Err(Error::InvalidInput(format!(
                        "the marginal upper bound ('upper') needs the likelihood, which the simulator-only problem \
                         '{}' does not have; use ba or nle",
                        problem.name()
                    )));
                };
                let marginal = need(DensityRole::Marginal)?.log_prob(sims);
                let log_likelihood = likelihood.log_likelihood(sims.y.view(), sims.theta.view(), sims.design.view())?;
                difference(log_likelihood.to_vec(), marginal)
            }
        })
    }

    /// [`EigEstimator::estimate`] for a problem given by its simulator only: the Barber–Agakov
    /// bound and the NLE direct estimator need no likelihood; the marginal upper bound is then an
    /// error.
    pub fn estimate_simulator(
        &self,
        problem: &dyn DesignSimulator,
        designs: ArrayView2<f64>,
        seed: u64,
    ) -> Result<Vec<EigEstimate>> {
        self.estimate_with(problem, None, designs, seed)
    }

    fn estimate_with(
        &self,
        problem: &dyn DesignSimulator,
        likelihood: Option<&dyn DesignProblem>,
        designs: ArrayView2<f64>,
        seed: u64,
    ) -> Result<Vec<EigEstimate>> {
        self.check_problem(problem)?;
        problem.design_box().check(designs)?;
        let mut out = Vec::with_capacity(designs.nrows());
        for (j, design) in designs.outer_iter().enumerate() {
            let mut rng = substream(seed, OUTER_STREAM);
            let sims = simulate_designs(problem, Some(design.insert_axis(Axis(0))), self.outer, &mut rng)?;
            let terms = self.terms(problem, likelihood, &sims)?;
            let context = format!("{} {} EIG at design row {j}", problem.name(), self.kind.name());
            let summary = summarise(&terms, &context)?;
            out.push(EigEstimate { eig: summary.mean, stderr: summary.stderr });
        }
        Ok(out)
    }
}

impl EigEstimator for FlowEig {
    /// The estimate of [`FlowEig::kind`] at every row of `designs` from [`FlowEig::outer`] fresh
    /// simulations per design, with the same draws (θ and simulator noise) at every design
    /// (common random numbers). A non-finite term (a failed simulation, θ outside the prior's
    /// support) is an error naming the design row; so is a problem other than the one trained on.
    fn estimate(&self, problem: &dyn DesignProblem, designs: ArrayView2<f64>, seed: u64) -> Result<Vec<EigEstimate>> {
        self.estimate_with(problem, Some(problem), designs, seed)
    }
}

/// The Barber–Agakov bound E[log q(θ | y, ξ) − log p(θ)] with a posterior flow q(θ | y, ξ)
/// trained online on fresh pathwise simulations at the current designs (an [`OnlineEig`] with the
/// [`PosteriorLoss`]: one AdamW step at a time with linear warm-up and global gradient-norm
/// clipping, as [`InfoNce`](super::InfoNce) trains its critic) and differentiable in ξ through a
/// [`DifferentiableProblem`]'s simulator, through both y = g(θ, ξ, ε) and the flow's context: the
/// BA model of MPR-GA. With q fixed, the pathwise gradient ∇ξ E_{θ,ε}[log q(θ | g(θ, ξ, ε), ξ)] is
/// the gradient of the bound (log p(θ) does not depend on ξ).
pub type OnlineBarberAgakov = OnlineEig<PosteriorLoss>;

/// The training loss of an [`OnlineBarberAgakov`] flow: its negative log-likelihood
/// −E[log q(θ | y, ξ)] on the joint simulations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosteriorLoss;

impl OnlineBound for PosteriorLoss {
    type Network = ConditionalEstimator;

    const WHAT: &'static str = "the posterior flow";

    const CONTRASTS: bool = false;

    fn loss(
        &self,
        flow: &ConditionalEstimator,
        _: &CriticConfig,
        _: &dyn DifferentiableProblem,
        batch: SimulationBatch,
        _: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        Ok(flow.log_prob(batch.theta, Tensor::cat(vec![batch.y, batch.design], 1)).mean().neg())
    }

    /// Per-row terms log q(θᵢ | yᵢ, ξᵢ) − log p(θᵢ) (no contrasts).
    fn terms(
        &self,
        flow: &ConditionalEstimator,
        problem: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        _: usize,
        _: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        let log_prior = problem.log_prior(tensor_to_matrix(batch.theta.clone()).view())?;
        let log_prior: Vec<f32> = log_prior.iter().map(|&v| v as f32).collect();
        let context = Tensor::cat(vec![batch.y.clone(), batch.design.clone()], 1);
        Ok(flow.log_prob(batch.theta.clone(), context) - vector(&log_prior, &batch.theta.device()))
    }
}

impl OnlineBarberAgakov {
    /// A fresh flow of `estimator` on `device` (an autodiff device for training), initialised from
    /// `rng`, with θ and [y, ξ] z-scored by a pilot batch of prior draws simulated at designs
    /// uniform in the box (failed simulations left out). Of `training` the learning rate, weight
    /// decay, warm-up, batch size and clipping are used (the critic's architecture is not).
    pub fn new(
        problem: &dyn DifferentiableProblem,
        estimator: &EstimatorConfig,
        training: CriticConfig,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Result<Self> {
        OnlineEig::from_pilot(problem, PosteriorLoss, training, rng, device, |pilot, _, rng| {
            DensityRole::Posterior.flow_from_pilot(estimator, pilot, rng, device)
        })
    }
}

/// The two flows of the NLE direct estimator trained online: a likelihood q₁(y | θ, ξ) (context
/// [θ, ξ]) and a marginal q₂(y | ξ) (context ξ).
#[derive(Module, Debug)]
pub struct LikelihoodAndMarginal {
    likelihood: ConditionalEstimator,
    marginal: ConditionalEstimator,
}

impl LikelihoodAndMarginal {
    /// log q₁(yᵢ | θᵢ, ξᵢ) and log q₂(yᵢ | ξᵢ) of every row of `batch`.
    fn log_probs(&self, batch: &SimulationBatch) -> (Tensor<1>, Tensor<1>) {
        let context = Tensor::cat(vec![batch.theta.clone(), batch.design.clone()], 1);
        (
            self.likelihood.log_prob(batch.y.clone(), context),
            self.marginal.log_prob(batch.y.clone(), batch.design.clone()),
        )
    }
}

/// The NLE direct estimator E[log q₁(y | θ, ξ) − log q₂(y | ξ)] (Klein et al. 2026) with both flows
/// trained online at the current designs ([`DirectLoss`]), differentiable in ξ through y = g(θ, ξ, ε)
/// and through both flows' contexts: the NLE model of MPR-GA. Neither a lower nor an upper bound
/// (see the module documentation); with q₁ and q₂ fixed its pathwise gradient is the gradient of
/// the estimate.
pub type OnlineNleDirect = OnlineEig<DirectLoss>;

/// The training loss of an [`OnlineNleDirect`] model: the sum of both flows' negative
/// log-likelihoods, −E[log q₁(y | θ, ξ)] − E[log q₂(y | ξ)], on the joint simulations (the flows
/// share no parameters, so this trains each by maximum likelihood).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectLoss;

impl OnlineBound for DirectLoss {
    type Network = LikelihoodAndMarginal;

    const WHAT: &'static str = "the likelihood and marginal flows";

    const CONTRASTS: bool = false;

    fn loss(
        &self,
        flows: &LikelihoodAndMarginal,
        _: &CriticConfig,
        _: &dyn DifferentiableProblem,
        batch: SimulationBatch,
        _: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        let (likelihood, marginal) = flows.log_probs(&batch);
        Ok((likelihood.mean() + marginal.mean()).neg())
    }

    /// Per-row terms log q₁(yᵢ | θᵢ, ξᵢ) − log q₂(yᵢ | ξᵢ) (no contrasts).
    fn terms(
        &self,
        flows: &LikelihoodAndMarginal,
        _: &dyn DifferentiableProblem,
        batch: &SimulationBatch,
        _: usize,
        _: &mut LindleyRng,
    ) -> Result<Tensor<1>> {
        let (likelihood, marginal) = flows.log_probs(batch);
        Ok(likelihood - marginal)
    }
}

impl OnlineNleDirect {
    /// Fresh flows of `estimator` on `device` (an autodiff device for training), initialised from
    /// `rng`, with y, [θ, ξ] and ξ z-scored by a pilot batch of prior draws simulated at designs
    /// uniform in the box (failed simulations left out). Of `training` the learning rate, weight
    /// decay, warm-up, batch size and clipping are used (the critic's architecture is not).
    pub fn new(
        problem: &dyn DifferentiableProblem,
        estimator: &EstimatorConfig,
        training: CriticConfig,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Result<Self> {
        OnlineEig::from_pilot(problem, DirectLoss, training, rng, device, |pilot, _, rng| {
            Ok(LikelihoodAndMarginal {
                likelihood: DensityRole::Likelihood.flow_from_pilot(estimator, pilot, rng, device)?,
                marginal: DensityRole::Marginal.flow_from_pilot(estimator, pilot, rng, device)?,
            })
        })
    }
}
