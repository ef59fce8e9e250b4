//! `lindley design` (optimise one design by MPR-GA, or pick the best of many candidates with an
//! amortised learned-density estimator) and `lindley eig` (score given designs with a
//! true-likelihood or a learned-density estimator).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lindley::boed::eig::{
    ContrastiveEig, ContrastiveKind, EigEstimate, EigEstimator, FlowEig, FlowEigConfig, FlowEigKind,
};
use lindley::boed::optimize::{MprgaConfig, learned_eig, mprga};
use lindley::boed::problems::{
    DesignProblem, DesignSimulator, DifferentiableProblem, IMPLICIT_PROBLEM_NAMES, ParticlePrior,
    differentiable_problem, problem, simulator,
};
use lindley::io::{read_matrix, write_matrix};
use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;
use serde_json::json;

use super::estimators::{self, LearnedEstimator};
use crate::progress;

/// Arguments of `lindley design`.
#[derive(clap::Args, Debug)]
pub struct DesignArgs {
    /// Design problem (infonce, nre, npe-nre, nle-pce and ince need a differentiable one:
    /// linear-gaussian-p2/p10, source-finding-2d/3d/5d; ba and nle take any problem, the
    /// simulator-only aphid-1…4, sir and sir-2 included; upper any problem with a likelihood).
    #[arg(long)]
    pub problem: String,
    /// EIG estimator optimised. infonce (or nre): MPR-GA (gradient ascent through the simulator)
    /// on an InfoNCE critic T(θ, y, ξ) trained online (by the objective of the settings file,
    /// InfoNCE by default). npe-nre: the NPE-NRE hybrid of Klein et al. — the same critic trained
    /// with binary cross-entropy against shuffled negatives and scored with InfoNCE, θ drawn from
    /// --theta-samples (e.g. NPE posterior samples from `lindley sample`; without them from the
    /// prior). nle-pce: NLE contrastive, PCE with a likelihood flow q(y | θ, ξ) trained online by
    /// maximum likelihood. ince: INCE-λ, InfoNCE with T = log q(y | θ, ξ), q trained on InfoNCE +
    /// λ·log q (--ince-lambda). ba (the Barber–Agakov lower bound with a posterior flow
    /// q(θ | y, ξ)) and nle (the NLE direct estimator with flows q(y | θ, ξ) and q(y | ξ)): MPR-GA
    /// with the flows trained online on a differentiable problem, candidate search (below) on the
    /// others. upper (marginal upper bound with a flow q(y | ξ) and the true likelihood), and ba
    /// and nle on simulator-only problems: candidate search — flows amortised over the design box
    /// are trained once, every candidate design (--restarts uniform in the box, or
    /// --prior-samples) is scored, and the best is kept (no gradient steps).
    #[arg(long, default_value = "infonce")]
    pub estimator: String,
    /// Number of parallel restarts M (MPR-GA), or of candidate designs (candidate search).
    #[arg(long)]
    pub restarts: Option<usize>,
    /// Grid points per design coordinate. With --optimizer grid: the gradient-free grid search
    /// (default 21, Dξ ≤ 2). Otherwise, with a learned-density estimator (ba, nle, upper): the
    /// candidates are a regular grid over the design box (only non-decreasing coordinates where
    /// the design is a set of observation times), scored by flows amortised over the box and
    /// trained once; replaces --restarts/--prior-samples candidates and MPR-GA.
    #[arg(long)]
    pub grid_points: Option<usize>,
    /// Number of optimisation steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Critic-only steps at the start (default: the settings file's, or steps/12 when that is not shorter than the run).
    #[arg(long)]
    pub burn_in: Option<usize>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Initial designs, one per row (CSV with a header or .npy), e.g. prior or posterior samples
    /// of the quantity the design lives in; their number sets M.
    #[arg(long)]
    pub prior_samples: Option<PathBuf>,
    /// Parameter samples θ (CSV with a header or .npy, one per row, e.g. NPE posterior samples)
    /// that replace the problem's prior: every simulation, and the PCE of the chosen design,
    /// draws θ from them uniformly. Not with ba, which needs the prior's density.
    #[arg(long)]
    pub theta_samples: Option<PathBuf>,
    /// λ of INCE-λ (default: the settings file's, or 0.05).
    #[arg(long)]
    pub ince_lambda: Option<f64>,
    /// Settings (TOML): for MPR-GA (infonce, ba on a differentiable problem) the fields of
    /// `MprgaConfig` (the critic under `[critic]`, the BA flow under `[posterior_flow]`); for
    /// candidate search those of `FlowEigConfig` (`simulations`, `outer`, the flow under
    /// `[estimator]`, its training under `[training]`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Outer samples of the true-likelihood PCE of the chosen design.
    #[arg(long, default_value_t = 2000)]
    pub pce_outer: usize,
    /// Contrastive samples L of that PCE.
    #[arg(long, default_value_t = 10_000)]
    pub pce_inner: usize,
    /// Optimiser: mprga (gradient ascent as --estimator says; the default), or a gradient-free one
    /// for any problem — spsa, design-distribution, grid (Dξ ≤ 2), random — driven by the EIG
    /// estimates of --estimator pce (true likelihood, --pce-outer × --pce-inner samples per
    /// estimate) or ba, nle, upper (flows amortised over the box, trained once). --restarts sets
    /// the restarts (random: the candidates), --steps the iterations; other settings from --config
    /// (`[optimizer]`: fields of `GradientFreeConfig`; `[flows]`: of `FlowEigConfig`).
    #[arg(long, default_value = "mprga")]
    pub optimizer: String,
    /// Output JSON file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Parameter samples read from `path` (CSV with a header, or .npy).
fn read_theta(path: &Path) -> Result<Array2<f64>> {
    Ok(read_matrix(path).with_context(|| format!("cannot read parameter samples {}", path.display()))?.1)
}

/// The differentiable problem `name`, with its prior replaced by `theta_samples` if given.
fn differentiable_target(name: &str, theta_samples: Option<&PathBuf>) -> Result<Box<dyn DifferentiableProblem>> {
    let base = differentiable_problem(name)?;
    Ok(match theta_samples {
        None => base,
        Some(path) => Box::new(ParticlePrior::from_samples(base, read_theta(path)?)?),
    })
}

/// The problem `name`, with its prior replaced by `theta_samples` if given.
pub(crate) fn any_target(name: &str, theta_samples: Option<&PathBuf>) -> Result<Box<dyn DesignProblem>> {
    let base = problem(name)?;
    Ok(match theta_samples {
        None => base,
        Some(path) => Box::new(ParticlePrior::from_samples(base, read_theta(path)?)?),
    })
}

/// A problem given by its simulator, with its likelihood where it has one.
pub(crate) enum Target {
    /// A problem with an explicit likelihood.
    Explicit(Box<dyn DesignProblem>),
    /// A simulator-only problem.
    Implicit(Box<dyn DesignSimulator>),
}

impl Target {
    /// The problem `name` (any design problem, simulator-only ones included), with its prior
    /// replaced by `theta_samples` if given (problems with a likelihood only).
    pub(crate) fn new(name: &str, theta_samples: Option<&PathBuf>) -> Result<Self> {
        if !IMPLICIT_PROBLEM_NAMES.contains(&name) {
            return Ok(Target::Explicit(any_target(name, theta_samples)?));
        }
        if theta_samples.is_some() {
            bail!(
                "--theta-samples is available for problems with a likelihood only, not for the simulator-only '{name}'"
            );
        }
        Ok(Target::Implicit(simulator(name)?))
    }

    /// An error, before any training, when the learned estimator `kind` needs a likelihood that
    /// this problem does not have.
    pub(crate) fn check_kind(&self, kind: FlowEigKind, name: &str) -> Result<()> {
        if kind == FlowEigKind::MarginalUpper && self.explicit().is_none() {
            bail!(
                "the marginal upper bound (upper) needs the likelihood, which the simulator-only '{name}' does \
                 not have; use ba or nle"
            );
        }
        Ok(())
    }

    /// The problem's simulator.
    pub(crate) fn simulator(&self) -> &dyn DesignSimulator {
        match self {
            Target::Explicit(p) => p.as_ref(),
            Target::Implicit(s) => s.as_ref(),
        }
    }

    /// The problem with its likelihood, if it has one.
    pub(crate) fn explicit(&self) -> Option<&dyn DesignProblem> {
        match self {
            Target::Explicit(p) => Some(p.as_ref()),
            Target::Implicit(_) => None,
        }
    }

    /// Scores of `designs` by a trained learned-density estimator.
    pub(crate) fn score(
        &self,
        estimator: &FlowEig,
        designs: ArrayView2<f64>,
        seed: u64,
    ) -> lindley::Result<Vec<EigEstimate>> {
        match self {
            Target::Explicit(p) => estimator.estimate(p.as_ref(), designs, seed),
            Target::Implicit(s) => estimator.estimate_simulator(s.as_ref(), designs, seed),
        }
    }
}

/// An error when the Barber–Agakov bound, which needs log p(θ), would run on `--theta-samples`,
/// which have no density.
fn refuse_samples_without_density(found: &LearnedEstimator, theta_samples: bool) -> Result<()> {
    if found.flows == Some(FlowEigKind::BarberAgakov) && theta_samples {
        bail!("--theta-samples has no density, which the Barber-Agakov bound (ba) needs; use another estimator");
    }
    Ok(())
}

/// Run `lindley design`.
pub fn run_design(args: DesignArgs) -> Result<()> {
    if args.optimizer != "mprga" {
        return super::design_free::run(args);
    }
    let Some(found) = estimators::find(&args.estimator) else {
        bail!("unknown design estimator '{}'; available: {}", args.estimator, estimators::all_names());
    };
    refuse_samples_without_density(&found, args.theta_samples.is_some())?;
    if args.grid_points.is_some() {
        let Some(kind) = found.flows else {
            bail!("--grid-points needs a learned-density estimator (ba, nle, upper), not '{}'", args.estimator);
        };
        return run_design_learned(args, kind);
    }
    let differentiable = differentiable_problem(&args.problem).is_ok();
    let (estimator, objective) = match (found.online, found.flows) {
        (Some(bound), None) => (bound, found.objective),
        (Some(bound), Some(_)) if differentiable => (bound, found.objective),
        (_, Some(kind)) => return run_design_learned(args, kind),
        (None, None) => bail!("'{}' has neither an online nor an amortised form", found.name),
    };
    let target = differentiable_target(&args.problem, args.theta_samples.as_ref())?;
    let mut config: MprgaConfig = super::read_config(args.config.as_ref())?;
    config.estimator = estimator;
    if let Some(objective) = objective {
        config.critic.objective = objective;
    }
    if let Some(lambda) = args.ince_lambda {
        config.ince_lambda = lambda;
    }
    config.seed = args.seed;
    if let Some(restarts) = args.restarts {
        config.restarts = restarts;
    }
    if let Some(steps) = args.steps {
        config.steps = steps;
    }
    match args.burn_in {
        Some(burn_in) => config.burn_in = burn_in,
        None if config.burn_in >= config.steps => config.burn_in = config.steps / 12,
        None => {}
    }
    let initial = match &args.prior_samples {
        Some(path) => {
            Some(read_matrix(path).with_context(|| format!("cannot read initial designs {}", path.display()))?.1)
        }
        None => None,
    };
    let bar = progress::counter(&format!("MPR-GA {}", args.problem), config.steps as u64);
    let result = mprga(target.as_ref(), initial.as_ref().map(|a| a.view()), &config, &mut |p| {
        bar.set_position(p.step as u64);
        bar.set_message(format!(
            "best EIG {:.4} · model loss {:.4} · {} running",
            p.best_eig, p.critic_loss, p.running
        ));
    })?;
    bar.finish_and_clear();
    let chosen = Array2::from_shape_vec((1, result.design.len()), result.design.clone())?;
    let pce = chosen_pce(target.as_ref(), chosen.view(), &args)?;
    let analytic = target.analytic_eig(chosen.row(0));
    let document = json!({
        "problem": args.problem,
        "estimator": args.estimator,
        "restarts": result.designs.len(),
        "steps": config.steps,
        "seed": args.seed,
        "design": result.design,
        "eig": result.eig,
        "eig_stderr": result.stderr,
        "pce": pce,
        "analytic_eig": analytic,
        "best_restart": result.best_restart,
        "initial_designs": result.initial_designs,
        "restart_designs": result.designs,
        "restart_eig": result.restart_eig,
        "stopped": result.stopped,
        "seconds": result.seconds,
        "seconds_per_step": result.seconds_per_step,
        "simulations": result.simulations,
        "config": config,
        "trace": result.trace,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&document)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "design {:?}: EIG {:.4} ± {:.4} (re-scored){}; {:.1} s, {:.4} s/step → {}",
        result.design,
        result.eig,
        result.stderr,
        analytic.map(|a| format!(", analytic {a:.4}")).unwrap_or_default(),
        result.seconds,
        result.seconds_per_step,
        args.out.display()
    );
    Ok(())
}

/// The PCE (true likelihood) of one chosen design as JSON, or null when switched off.
pub(crate) fn chosen_pce(
    target: &dyn DesignProblem,
    chosen: ArrayView2<f64>,
    args: &DesignArgs,
) -> Result<serde_json::Value> {
    Ok(if args.pce_outer >= 2 && args.pce_inner >= 1 {
        let estimate = ContrastiveEig::new(ContrastiveKind::Pce, args.pce_outer, args.pce_inner)
            .estimate(target, chosen, args.seed)?[0];
        json!({ "eig": estimate.eig, "stderr": estimate.stderr, "outer": args.pce_outer, "inner": args.pce_inner })
    } else {
        serde_json::Value::Null
    })
}

/// `lindley design` with a learned-density estimator: train flows amortised over the design box
/// once, score every candidate design (a grid, given or uniform draws) with them, keep the argmax.
fn run_design_learned(args: DesignArgs, kind: FlowEigKind) -> Result<()> {
    let problem = Target::new(&args.problem, args.theta_samples.as_ref())?;
    problem.check_kind(kind, &args.problem)?;
    let target = problem.simulator();
    let config: FlowEigConfig = super::read_config(args.config.as_ref())?;
    let candidates = match (&args.prior_samples, args.grid_points) {
        (Some(_), Some(_)) => bail!("give either --grid-points or --prior-samples candidates, not both"),
        (None, Some(points)) => target.design_box().grid(points, target.exchangeable_design(), 1_000_000)?,
        (Some(path), None) => {
            let designs =
                read_matrix(path).with_context(|| format!("cannot read candidate designs {}", path.display()))?.1;
            target.design_box().project(designs.view())?
        }
        (None, None) => {
            let bounds = target.design_box();
            let mut rng = lindley::rng::substream(args.seed, 100);
            Array2::from_shape_fn((args.restarts.unwrap_or(256), bounds.dim()), |(_, j)| {
                rng.random_range(bounds.low[j]..=bounds.high[j])
            })
        }
    };
    if candidates.nrows() == 0 {
        bail!("no candidate designs to score");
    }
    eprintln!(
        "training the {} flows of '{}' on {} simulations over the design box of {} …",
        kind.roles().len(),
        kind.name(),
        config.simulations,
        args.problem
    );
    let estimator = FlowEig::train(target, &[kind], &config, None, args.seed)?;
    let start = std::time::Instant::now();
    let scores = problem.score(&estimator, candidates.view(), args.seed.wrapping_add(1))?;
    let score_seconds = start.elapsed().as_secs_f64();
    let (best, score) =
        scores.iter().enumerate().max_by(|a, b| a.1.eig.total_cmp(&b.1.eig)).expect("at least one candidate");
    let chosen = candidates.select(Axis(0), &[best]);
    let (pce, analytic) = match problem.explicit() {
        Some(explicit) => (chosen_pce(explicit, chosen.view(), &args)?, explicit.analytic_eig(chosen.row(0))),
        None => (serde_json::Value::Null, None),
    };
    let document = json!({
        "problem": args.problem,
        "estimator": args.estimator,
        "grid_points": args.grid_points,
        "restarts": candidates.nrows(),
        "seed": args.seed,
        "design": chosen.row(0).to_vec(),
        "eig": score.eig,
        "eig_stderr": score.stderr,
        "pce": pce,
        "analytic_eig": analytic,
        "best_restart": best,
        "restart_designs": candidates.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
        "restart_eig": scores.iter().map(|s| s.eig).collect::<Vec<_>>(),
        "train_seconds": estimator.train_seconds(),
        "score_seconds": score_seconds,
        "training_simulations": estimator.training_simulations(),
        "config": config,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&document)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "design {:?}: {} EIG {:.4} ± {:.4}{} (best of {} candidates); trained in {:.1} s, scored in {:.1} s → {}",
        chosen.row(0).to_vec(),
        kind.name(),
        score.eig,
        score.stderr,
        analytic.map(|a| format!(", analytic {a:.4}")).unwrap_or_default(),
        candidates.nrows(),
        estimator.train_seconds(),
        score_seconds,
        args.out.display()
    );
    Ok(())
}

/// Arguments of `lindley eig`.
#[derive(clap::Args, Debug)]
pub struct EigArgs {
    /// Design problem (see the list in the error message of an unknown name).
    #[arg(long)]
    pub problem: String,
    /// EIG estimator. With the true likelihood: pce (lower bound), nmc, snmc (upper bound).
    /// Learned, with flows amortised over designs and trained first (see --config,
    /// --simulations, --train-at-designs): ba (Barber–Agakov lower bound, posterior flow
    /// q(θ | y, ξ)), nle (NLE direct, flows q(y | θ, ξ) and q(y | ξ); neither bound), upper
    /// (marginal upper bound, flow q(y | ξ) and the true likelihood). Learned online for --steps
    /// steps on a differentiable problem (the MPR-GA models, settings as for `lindley design`):
    /// nre (InfoNCE critic), npe-nre (critic trained by BCE, scored by InfoNCE; θ from
    /// --theta-samples), nle-pce (NLE contrastive), ince (INCE-λ); these use --contrasts.
    #[arg(long, default_value = "pce")]
    pub estimator: String,
    /// Designs to score: CSV with a header (or .npy), one design per row.
    #[arg(long)]
    pub designs: PathBuf,
    /// Outer samples N per design.
    #[arg(long, default_value_t = 2000)]
    pub outer: usize,
    /// Inner (contrastive) samples L (pce, nmc, snmc).
    #[arg(long, default_value_t = 10_000)]
    pub inner: usize,
    /// Settings of the learned estimators (TOML; fields of `FlowEigConfig`: `simulations`, the
    /// flow under `[estimator]`, its training under `[training]`); --outer and --simulations
    /// override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Training simulations of the learned estimators (default 20,000).
    #[arg(long)]
    pub simulations: Option<usize>,
    /// Train the learned estimators on simulations at the designs being scored only, instead of
    /// at designs uniform in the design box.
    #[arg(long)]
    pub train_at_designs: bool,
    /// Parameter samples θ (CSV with a header or .npy, e.g. NPE posterior samples) replacing the
    /// problem's prior in every estimator (not ba, which needs the prior's density).
    #[arg(long)]
    pub theta_samples: Option<PathBuf>,
    /// Training steps of the online estimators (nre, npe-nre, nle-pce, ince).
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Contrasts per outer sample of the online estimators.
    #[arg(long, default_value_t = 255)]
    pub contrasts: usize,
    /// λ of INCE-λ (default 0.05).
    #[arg(long)]
    pub ince_lambda: Option<f64>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output CSV: the design columns plus `eig` and `stderr`.
    #[arg(long)]
    pub out: PathBuf,
}

/// How `lindley eig` scores designs.
enum Scorer {
    /// A bound with the true likelihood (PCE, NMC, sNMC).
    TrueLikelihood(ContrastiveKind),
    /// A learned estimator: online at the designs, or flows amortised over the box where it has them.
    Learned(LearnedEstimator),
}

/// Run `lindley eig`.
pub fn run_eig(args: EigArgs) -> Result<()> {
    let scorer = match args.estimator.as_str() {
        "pce" => Scorer::TrueLikelihood(ContrastiveKind::Pce),
        "nmc" => Scorer::TrueLikelihood(ContrastiveKind::Nmc),
        "snmc" => Scorer::TrueLikelihood(ContrastiveKind::Snmc),
        other => match estimators::find(other) {
            Some(found) => {
                refuse_samples_without_density(&found, args.theta_samples.is_some())?;
                Scorer::Learned(found)
            }
            None => bail!("unknown EIG estimator '{other}'; available: pce, nmc, snmc, {}", estimators::all_names()),
        },
    };
    let problem = Target::new(&args.problem, args.theta_samples.as_ref())?;
    let target = problem.simulator();
    let (mut names, designs) =
        read_matrix(&args.designs).with_context(|| format!("cannot read designs {}", args.designs.display()))?;
    if designs.ncols() != target.design_dim() {
        bail!(
            "{}: {} columns, but {} designs have {} coordinates",
            args.designs.display(),
            designs.ncols(),
            args.problem,
            target.design_dim()
        );
    }
    let estimates = match scorer {
        Scorer::TrueLikelihood(kind) => {
            let Some(explicit) = problem.explicit() else {
                bail!(
                    "'{}' needs the likelihood, which the simulator-only '{}' does not have",
                    args.estimator,
                    args.problem
                );
            };
            ContrastiveEig::new(kind, args.outer, args.inner).estimate(explicit, designs.view(), args.seed)
        }
        Scorer::Learned(LearnedEstimator { flows: None, .. }) => Ok(online_eig(&args, designs.view())?),
        Scorer::Learned(LearnedEstimator { flows: Some(learned), .. }) => {
            problem.check_kind(learned, &args.problem)?;
            let mut config: FlowEigConfig = super::read_config(args.config.as_ref())?;
            config.outer = args.outer;
            if let Some(simulations) = args.simulations {
                config.simulations = simulations;
            }
            let at = args.train_at_designs.then(|| designs.view());
            let estimator = FlowEig::train(target, &[learned], &config, at, args.seed)
                .with_context(|| format!("training the '{}' flows", learned.name()))?;
            eprintln!(
                "trained the '{}' flows on {} simulations in {:.1} s",
                learned.name(),
                estimator.training_simulations(),
                estimator.train_seconds()
            );
            problem.score(&estimator, designs.view(), args.seed.wrapping_add(1))
        }
    }
    .with_context(|| format!("scoring the designs of {}", args.designs.display()))?;
    let scores =
        Array2::from_shape_fn(
            (estimates.len(), 2),
            |(i, j)| if j == 0 { estimates[i].eig } else { estimates[i].stderr },
        );
    let table = ndarray::concatenate(Axis(1), &[designs.view(), scores.view()])?;
    names.extend(["eig".to_string(), "stderr".to_string()]);
    write_matrix(&args.out, &names, table.view())?;
    eprintln!("scored {} designs with {} → {}", designs.nrows(), args.estimator, args.out.display());
    Ok(())
}

/// `lindley eig` with an online-trained estimator (nre, npe-nre, nle-pce, ince).
fn online_eig(args: &EigArgs, designs: ArrayView2<f64>) -> Result<Vec<lindley::boed::eig::EigEstimate>> {
    let target = differentiable_target(&args.problem, args.theta_samples.as_ref())?;
    let mut config: MprgaConfig = super::read_config(args.config.as_ref())?;
    (config.estimator, config.critic.objective) = estimators::online(&args.estimator, "eig", config.critic.objective)?;
    config.seed = args.seed;
    if let Some(lambda) = args.ince_lambda {
        config.ince_lambda = lambda;
    }
    let at = args.train_at_designs.then_some(designs);
    let start = std::time::Instant::now();
    let estimates = learned_eig(target.as_ref(), at, designs, args.steps, args.outer, args.contrasts, &config)?;
    eprintln!(
        "trained and scored '{}' online ({} steps) in {:.1} s",
        args.estimator,
        args.steps,
        start.elapsed().as_secs_f64()
    );
    Ok(estimates)
}
