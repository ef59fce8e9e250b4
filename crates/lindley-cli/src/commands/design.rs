//! `lindley design` (optimise one design by MPR-GA) and `lindley eig` (score given designs with a
//! true-likelihood estimator).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lindley::boed::eig::{ContrastiveEig, ContrastiveKind, EigEstimator};
use lindley::boed::optimize::{MprgaConfig, mprga};
use lindley::boed::problems::{differentiable_problem, problem};
use lindley::io::{read_matrix, write_matrix};
use ndarray::{Array2, Axis};
use serde_json::json;

use crate::progress;

/// Arguments of `lindley design`.
#[derive(clap::Args, Debug)]
pub struct DesignArgs {
    /// Design problem (a differentiable one: linear-gaussian-p2/p10, source-finding-2d/3d/5d).
    #[arg(long)]
    pub problem: String,
    /// EIG estimator optimised (infonce: a critic T(θ, y, ξ) trained online).
    #[arg(long, default_value = "infonce")]
    pub estimator: String,
    /// Number of parallel restarts M.
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
    /// MPR-GA settings (TOML; fields of `MprgaConfig`, the critic under `[critic]`).
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

/// Run `lindley design`.
pub fn run_design(args: DesignArgs) -> Result<()> {
    if args.estimator != "infonce" {
        bail!("estimator '{}' is not available for design optimisation; available: infonce", args.estimator);
    }
    let target = differentiable_problem(&args.problem)?;
    let mut config: MprgaConfig = super::read_config(args.config.as_ref())?;
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
            "best EIG {:.4} · critic loss {:.4} · {} running",
            p.best_eig, p.critic_loss, p.running
        ));
    })?;
    bar.finish_and_clear();
    let chosen = Array2::from_shape_vec((1, result.design.len()), result.design.clone())?;
    let pce = if args.pce_outer >= 2 && args.pce_inner >= 1 {
        let estimate = ContrastiveEig::new(ContrastiveKind::Pce, args.pce_outer, args.pce_inner).estimate(
            target.as_ref(),
            chosen.view(),
            args.seed,
        )?[0];
        json!({ "eig": estimate.eig, "stderr": estimate.stderr, "outer": args.pce_outer, "inner": args.pce_inner })
    } else {
        serde_json::Value::Null
    };
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
        "restart_designs": result.designs,
        "restart_eig": result.restart_eig,
        "stopped": result.stopped,
        "seconds": result.seconds,
        "seconds_per_step": result.seconds_per_step,
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

/// Arguments of `lindley eig`.
#[derive(clap::Args, Debug)]
pub struct EigArgs {
    /// Design problem (see the list in the error message of an unknown name).
    #[arg(long)]
    pub problem: String,
    /// Estimator with the true likelihood: pce (lower bound), nmc, snmc (upper bound).
    #[arg(long, default_value = "pce")]
    pub estimator: String,
    /// Designs to score: CSV with a header (or .npy), one design per row.
    #[arg(long)]
    pub designs: PathBuf,
    /// Outer samples N per design.
    #[arg(long, default_value_t = 2000)]
    pub outer: usize,
    /// Inner (contrastive) samples L.
    #[arg(long, default_value_t = 10_000)]
    pub inner: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output CSV: the design columns plus `eig` and `stderr`.
    #[arg(long)]
    pub out: PathBuf,
}

/// Run `lindley eig`.
pub fn run_eig(args: EigArgs) -> Result<()> {
    let kind = match args.estimator.as_str() {
        "pce" => ContrastiveKind::Pce,
        "nmc" => ContrastiveKind::Nmc,
        "snmc" => ContrastiveKind::Snmc,
        other => bail!("unknown EIG estimator '{other}'; available: pce, nmc, snmc"),
    };
    let target = problem(&args.problem)?;
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
    let estimates = ContrastiveEig::new(kind, args.outer, args.inner)
        .estimate(target.as_ref(), designs.view(), args.seed)
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
