//! `lindley design` (optimise one design by MPR-GA, or pick the best of many candidates with an
//! amortised learned-density estimator) and `lindley eig` (score given designs with a
//! true-likelihood or a learned-density estimator).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lindley::boed::eig::{
    ContrastiveEig, ContrastiveKind, CriticObjective, EigEstimator, FlowEig, FlowEigConfig, FlowEigKind,
};
use lindley::boed::optimize::{MprgaConfig, MprgaEstimator, learned_eig, mprga};
use lindley::boed::problems::{DesignProblem, DifferentiableProblem, ParticlePrior, differentiable_problem, problem};
use lindley::io::{read_matrix, write_matrix};
use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;
use serde_json::json;

use crate::progress;

/// Arguments of `lindley design`.
#[derive(clap::Args, Debug)]
pub struct DesignArgs {
    /// Design problem (infonce, nre, npe-nre, nle-pce and ince need a differentiable one:
    /// linear-gaussian-p2/p10, source-finding-2d/3d/5d; ba, nle and upper take any problem).
    #[arg(long)]
    pub problem: String,
    /// EIG estimator optimised. infonce (or nre): MPR-GA (gradient ascent through the simulator)
    /// on an InfoNCE critic T(θ, y, ξ) trained online (by the objective of the settings file,
    /// InfoNCE by default). npe-nre: the NPE-NRE hybrid of Klein et al. — the same critic trained
    /// with binary cross-entropy against shuffled negatives and scored with InfoNCE, θ drawn from
    /// --theta-samples (e.g. NPE posterior samples from `lindley sample`; without them from the
    /// prior). nle-pce: NLE contrastive, PCE with a likelihood flow q(y | θ, ξ) trained online by
    /// maximum likelihood. ince: INCE-λ, InfoNCE with T = log q(y | θ, ξ), q trained on InfoNCE +
    /// λ·log q (--ince-lambda). ba: the Barber–Agakov lower bound with a
    /// posterior flow q(θ | y, ξ) — MPR-GA with the flow trained online on a differentiable
    /// problem, candidate search (below) on the others. nle (NLE direct estimator with flows
    /// q(y | θ, ξ) and q(y | ξ)), upper (marginal upper bound with a flow q(y | ξ) and the true
    /// likelihood): candidate search — flows amortised over the design box are trained once, every
    /// candidate design (--restarts uniform in the box, or --prior-samples) is scored, and the best
    /// is kept (no gradient steps).
    #[arg(long, default_value = "infonce")]
    pub estimator: String,
    /// Number of parallel restarts M (MPR-GA), or of candidate designs (nle, upper).
    #[arg(long)]
    pub restarts: Option<usize>,
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
    /// Output JSON file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Design estimators accepted by `lindley design --estimator`.
const DESIGN_ESTIMATORS: &str = "infonce (nre), npe-nre, nle-pce, ince, ba, nle, upper";

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
fn any_target(name: &str, theta_samples: Option<&PathBuf>) -> Result<Box<dyn DesignProblem>> {
    let base = problem(name)?;
    Ok(match theta_samples {
        None => base,
        Some(path) => Box::new(ParticlePrior::from_samples(base, read_theta(path)?)?),
    })
}

/// The MPR-GA bound and, where the estimator fixes it, the critic's training objective, of an
/// online-trained estimator name (`None` for the others).
pub(crate) fn online_estimator(name: &str) -> Option<(MprgaEstimator, Option<CriticObjective>)> {
    Some(match name {
        "infonce" | "nre" => (MprgaEstimator::InfoNce, None),
        "npe-nre" => (MprgaEstimator::InfoNce, Some(CriticObjective::Bce)),
        "nle-pce" => (MprgaEstimator::NleContrastive, None),
        "ince" => (MprgaEstimator::InceLambda, None),
        _ => return None,
    })
}

/// Run `lindley design`.
pub fn run_design(args: DesignArgs) -> Result<()> {
    if args.estimator == "ba" && args.theta_samples.is_some() {
        bail!("--theta-samples has no density, which the Barber-Agakov bound (ba) needs; use another estimator");
    }
    let (estimator, objective) = match online_estimator(&args.estimator) {
        Some(found) => found,
        None if args.estimator == "ba" && differentiable_problem(&args.problem).is_ok() => {
            (MprgaEstimator::BarberAgakov, None)
        }
        None => {
            let Ok(kind) = args.estimator.parse::<FlowEigKind>() else {
                bail!("unknown design estimator '{}'; available: {DESIGN_ESTIMATORS}", args.estimator);
            };
            return run_design_learned(args, kind);
        }
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
fn chosen_pce(target: &dyn DesignProblem, chosen: ArrayView2<f64>, args: &DesignArgs) -> Result<serde_json::Value> {
    Ok(if args.pce_outer >= 2 && args.pce_inner >= 1 {
        let estimate = ContrastiveEig::new(ContrastiveKind::Pce, args.pce_outer, args.pce_inner)
            .estimate(target, chosen, args.seed)?[0];
        json!({ "eig": estimate.eig, "stderr": estimate.stderr, "outer": args.pce_outer, "inner": args.pce_inner })
    } else {
        serde_json::Value::Null
    })
}

/// `lindley design` with a learned-density estimator: train flows amortised over the design box
/// once, score every candidate design with them, keep the argmax.
fn run_design_learned(args: DesignArgs, kind: FlowEigKind) -> Result<()> {
    let target = any_target(&args.problem, args.theta_samples.as_ref())?;
    let config: FlowEigConfig = super::read_config(args.config.as_ref())?;
    let candidates = match &args.prior_samples {
        Some(path) => {
            let designs =
                read_matrix(path).with_context(|| format!("cannot read candidate designs {}", path.display()))?.1;
            target.design_box().project(designs.view())?
        }
        None => {
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
    let estimator = FlowEig::train(target.as_ref(), &[kind], &config, None, args.seed)?;
    let scores = estimator.estimate(target.as_ref(), candidates.view(), args.seed.wrapping_add(1))?;
    let (best, score) =
        scores.iter().enumerate().max_by(|a, b| a.1.eig.total_cmp(&b.1.eig)).expect("at least one candidate");
    let chosen = candidates.select(Axis(0), &[best]);
    let pce = chosen_pce(target.as_ref(), chosen.view(), &args)?;
    let analytic = target.analytic_eig(chosen.row(0));
    let document = json!({
        "problem": args.problem,
        "estimator": args.estimator,
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
        "training_simulations": estimator.training_simulations(),
        "config": config,
    });
    std::fs::write(&args.out, serde_json::to_string_pretty(&document)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!(
        "design {:?}: {} EIG {:.4} ± {:.4}{} (best of {} candidates); trained in {:.1} s → {}",
        chosen.row(0).to_vec(),
        kind.name(),
        score.eig,
        score.stderr,
        analytic.map(|a| format!(", analytic {a:.4}")).unwrap_or_default(),
        candidates.nrows(),
        estimator.train_seconds(),
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

/// Run `lindley eig`.
pub fn run_eig(args: EigArgs) -> Result<()> {
    if args.estimator == "ba" && args.theta_samples.is_some() {
        bail!("--theta-samples has no density, which the Barber-Agakov bound (ba) needs; use another estimator");
    }
    let kind = match args.estimator.as_str() {
        "pce" => Some(ContrastiveKind::Pce),
        "nmc" => Some(ContrastiveKind::Nmc),
        "snmc" => Some(ContrastiveKind::Snmc),
        other if online_estimator(other).is_some() => None,
        other => match other.parse::<FlowEigKind>() {
            Ok(_) => None,
            Err(_) => bail!(
                "unknown EIG estimator '{other}'; available: pce, nmc, snmc, ba, nle, upper, nre, npe-nre, nle-pce, ince"
            ),
        },
    };
    let target = any_target(&args.problem, args.theta_samples.as_ref())?;
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
    let estimates = match kind {
        Some(kind) => {
            ContrastiveEig::new(kind, args.outer, args.inner).estimate(target.as_ref(), designs.view(), args.seed)
        }
        None if online_estimator(&args.estimator).is_some() => Ok(online_eig(&args, designs.view())?),
        None => {
            let learned: FlowEigKind = args.estimator.parse()?;
            let mut config: FlowEigConfig = super::read_config(args.config.as_ref())?;
            config.outer = args.outer;
            if let Some(simulations) = args.simulations {
                config.simulations = simulations;
            }
            let at = args.train_at_designs.then(|| designs.view());
            let estimator = FlowEig::train(target.as_ref(), &[learned], &config, at, args.seed)
                .with_context(|| format!("training the '{}' flows", learned.name()))?;
            eprintln!(
                "trained the '{}' flows on {} simulations in {:.1} s",
                learned.name(),
                estimator.training_simulations(),
                estimator.train_seconds()
            );
            estimator.estimate(target.as_ref(), designs.view(), args.seed.wrapping_add(1))
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
    let Some((estimator, objective)) = online_estimator(&args.estimator) else {
        bail!("'{}' is not an online estimator", args.estimator);
    };
    let target = differentiable_target(&args.problem, args.theta_samples.as_ref())?;
    let mut config: MprgaConfig = super::read_config(args.config.as_ref())?;
    config.estimator = estimator;
    config.seed = args.seed;
    if let Some(objective) = objective {
        config.critic.objective = objective;
    }
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
