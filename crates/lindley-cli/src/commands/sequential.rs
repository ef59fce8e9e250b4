//! `lindley sequential`: the sequential design loop (design by MPR-GA on the current belief,
//! measure at a hidden true θ, update the posterior by SMC or NPE, design again), over one or many true
//! parameters, for the adaptive policy and the random-design baseline, scored by sPCE.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lindley::boed::npe_posterior::NpeUpdate;
use lindley::boed::problems::{DifferentiableProblem, differentiable_problem};
use lindley::boed::sequential::{
    DesignStarts, PosteriorUpdate, RolloutSummary, SequentialConfig, SequentialEvent, SequentialPolicy, rollouts,
};
use ndarray::Array2;
use serde_json::json;

use crate::progress;

/// Arguments of `lindley sequential`.
#[derive(clap::Args, Debug)]
pub struct SequentialArgs {
    /// Design problem with a differentiable simulator (linear-gaussian-p2/p10,
    /// source-finding-2d/3d/5d).
    #[arg(long)]
    pub problem: String,
    /// Number of measurements T (default: the settings file's, 10).
    #[arg(long)]
    pub steps: Option<usize>,
    /// EIG bound MPR-GA ascends at every adaptive step: infonce (or nre), npe-nre (critic trained
    /// by BCE), nle-pce, ince, nle (NLE direct, likelihood and marginal flows), ba (or npe;
    /// Barber–Agakov with a posterior flow: needs --update npe, whose posterior has the density
    /// log p(θ) the bound subtracts).
    #[arg(long, default_value = "infonce")]
    pub estimator: String,
    /// MPR-GA restarts M per step.
    #[arg(long)]
    pub restarts: Option<usize>,
    /// MPR-GA steps per measurement.
    #[arg(long)]
    pub design_steps: Option<usize>,
    /// MPR-GA critic-only steps per measurement (default: the settings file's, or design-steps/6).
    #[arg(long)]
    pub burn_in: Option<usize>,
    /// Policies to run, comma-separated: adaptive (MPR-GA), random (designs uniform in the box).
    /// Every policy meets the same true parameters.
    #[arg(long, default_value = "adaptive", value_delimiter = ',')]
    pub policies: Vec<String>,
    /// Number of rollouts, each at its own true θ drawn from the prior.
    #[arg(long, default_value_t = 1)]
    pub rollouts: usize,
    /// The true parameters of a single run, comma-separated (instead of a prior draw).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true)]
    pub true_theta: Option<Vec<f64>>,
    /// Where MPR-GA's restarts start: uniform (in the box) or posterior (at posterior draws of
    /// the parameter blocks that live in the design space, e.g. source locations).
    #[arg(long)]
    pub starts: Option<String>,
    /// Posterior particles N.
    #[arg(long)]
    pub particles: Option<usize>,
    /// How the belief is updated after each measurement: smc (resample-move SMC with the true
    /// likelihood) or npe ("posterior as new prior": a fresh NPE per step trained on θ from the
    /// current posterior and y at the newest design; settings under `[update]` in --config).
    #[arg(long)]
    pub update: Option<String>,
    /// Simulations per NPE update (default 20,000; implies --update npe).
    #[arg(long)]
    pub npe_simulations: Option<usize>,
    /// Do not take the problem's published first design at t = 1.
    #[arg(long)]
    pub no_protocol: bool,
    /// Contrastive prior samples L of the sPCE score.
    #[arg(long, default_value_t = 100_000)]
    pub contrasts: usize,
    /// Settings (TOML): the fields of `SequentialConfig`, MPR-GA under `[mprga]` (its critic
    /// under `[mprga.critic]`); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output JSON: settings, and per policy the sPCE summary and every run (designs,
    /// observations, estimated EIG, posterior mean/sd, wall time per step, final particles).
    #[arg(long)]
    pub out: PathBuf,
}

/// Run `lindley sequential`.
pub fn run(args: SequentialArgs) -> Result<()> {
    let make = || -> lindley::Result<Box<dyn DifferentiableProblem>> { differentiable_problem(&args.problem) };
    let base = make()?;
    let mut config: SequentialConfig = super::read_config(args.config.as_ref())?;
    config.seed = args.seed;
    (config.mprga.estimator, config.mprga.critic.objective) =
        super::estimators::online(&args.estimator, "sequential design", config.mprga.critic.objective)?;
    if let Some(steps) = args.steps {
        config.steps = steps;
    }
    if let Some(restarts) = args.restarts {
        config.mprga.restarts = restarts;
    }
    if let Some(steps) = args.design_steps {
        config.mprga.steps = steps;
    }
    match args.burn_in {
        Some(burn_in) => config.mprga.burn_in = burn_in,
        None if config.mprga.burn_in >= config.mprga.steps => config.mprga.burn_in = config.mprga.steps / 6,
        None => {}
    }
    if let Some(particles) = args.particles {
        config.particles = particles;
    }
    if let Some(starts) = &args.starts {
        config.starts = match starts.as_str() {
            "uniform" => DesignStarts::Uniform,
            "posterior" => DesignStarts::Posterior,
            other => bail!("unknown --starts '{other}'; available: uniform, posterior"),
        };
    }
    if args.no_protocol {
        config.protocol_first_design = false;
    }
    match args.update.as_deref() {
        None => {}
        Some("smc") => config.update = PosteriorUpdate::Smc,
        Some("npe") if !matches!(config.update, PosteriorUpdate::Npe(_)) => {
            config.update = PosteriorUpdate::Npe(NpeUpdate::default())
        }
        Some("npe") => {}
        Some(other) => bail!("unknown --update '{other}'; available: smc, npe"),
    }
    if let Some(simulations) = args.npe_simulations {
        match &mut config.update {
            PosteriorUpdate::Npe(npe) => npe.simulations = simulations,
            PosteriorUpdate::Smc if args.update.is_none() => {
                config.update = PosteriorUpdate::Npe(NpeUpdate { simulations, ..NpeUpdate::default() })
            }
            PosteriorUpdate::Smc => bail!("--npe-simulations sets the NPE update, but --update is smc"),
        }
    }
    let policies: Vec<SequentialPolicy> =
        args.policies.iter().map(|p| p.trim().parse()).collect::<lindley::Result<_>>()?;
    if policies.is_empty() {
        bail!("--policies is empty; available: adaptive, random");
    }
    let theta = match &args.true_theta {
        Some(values) => {
            if args.rollouts != 1 {
                bail!("--true-theta fixes a single run; drop --rollouts {} or --true-theta", args.rollouts);
            }
            if values.len() != base.parameter_dim() {
                bail!(
                    "--true-theta has {} values, but {} has {} parameters",
                    values.len(),
                    args.problem,
                    base.parameter_dim()
                );
            }
            Some(Array2::from_shape_vec((1, values.len()), values.clone())?)
        }
        None => None,
    };
    let mut summaries: Vec<RolloutSummary> = Vec::new();
    for &policy in &policies {
        let policy_config = SequentialConfig { policy, ..config.clone() };
        let total = (args.rollouts * config.steps) as u64;
        let bar = progress::counter(&format!("{} {}", policy.name(), args.problem), total);
        let steps = config.steps;
        let summary = rollouts(
            &make,
            theta.as_ref().map(|t| t.view()),
            args.rollouts,
            args.contrasts,
            &policy_config,
            &mut |p| match p.event {
                SequentialEvent::Optimising(m) => bar.set_message(format!(
                    "rollout {} step {}/{}: MPR-GA {}/{} best EIG {:.3}",
                    p.rollout + 1,
                    p.step,
                    p.steps,
                    m.step,
                    m.steps,
                    m.best_eig
                )),
                SequentialEvent::Updating(e) => bar.set_message(format!(
                    "rollout {} step {}/{}: training the NPE belief, epoch {} · validation loss {:.4} (best {:.4}, {}/{} \
                     without improvement)",
                    p.rollout + 1,
                    p.step,
                    p.steps,
                    e.epoch,
                    e.validation_loss,
                    e.best_validation_loss,
                    e.epochs_without_improvement,
                    e.patience
                )),
                SequentialEvent::Measured(step) => {
                    bar.set_position((p.rollout * steps + p.step) as u64);
                    bar.set_message(format!(
                        "rollout {} step {}: design {:?}, EIG {}, posterior sd {:?}",
                        p.rollout + 1,
                        step.step,
                        step.design.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>(),
                        step.eig.map_or("-".to_string(), |e| format!("{e:.3}")),
                        step.posterior_sd.iter().map(|v| format!("{v:.3}")).collect::<Vec<_>>()
                    ));
                }
            },
        )
        .with_context(|| format!("sequential design with the {} policy", policy.name()))?;
        bar.finish_and_clear();
        eprintln!(
            "{:>8}: sPCE {:.3} ± {:.3} (median {:.3}, L = {}, ceiling {:.2}) over {} runs of {} steps; {:.1} s",
            policy.name(),
            summary.spce.mean,
            summary.spce.stderr,
            summary.spce.median,
            summary.spce.contrasts,
            summary.spce.ceiling,
            summary.runs.len(),
            config.steps,
            summary.seconds
        );
        summaries.push(summary);
    }
    let document = json!({
        "problem": args.problem,
        "estimator": args.estimator,
        "seed": args.seed,
        "rollouts": args.rollouts,
        "contrasts": args.contrasts,
        "config": config,
        "policies": summaries,
    });
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&document)?)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    eprintln!("→ {}", args.out.display());
    Ok(())
}
