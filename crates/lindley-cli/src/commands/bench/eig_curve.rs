//! `lindley bench eig-curve`: vOED-NFs case 1 — the Barber–Agakov lower bound with a
//! design-amortised posterior flow (NSF by default) against a nested Monte Carlo reference with
//! the true likelihood, over a grid of a 1-D design (problem `nonlinear-1d`, Huan & Marzouk 2013).
//!
//! The flow q(θ | y, ξ) is trained once on simulations at designs uniform in the box
//! ([`FlowEig`]); every grid design is then scored with the same outer draws (common random
//! numbers). NMC with L inner samples is biased upwards by O(1/L) (Rainforth et al. 2018) and
//! converges to the EIG as L grows; BA is a lower bound, below the EIG by the expected KL between
//! the true and the learned posterior. Prints the table, both argmaxes and the largest gap, and
//! writes `eig-curve.json` and `eig-curve.svg` (both curves with ±2 standard-error bands).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use lindley::boed::eig::{
    ContrastiveEig, ContrastiveKind, EigEstimate, EigEstimator, FlowEig, FlowEigConfig, FlowEigKind,
};
use lindley::boed::problems::problem;
use lindley::plot::{Curve, curves_plot};
use ndarray::Array2;
use serde_json::json;

/// Arguments of `lindley bench eig-curve`.
#[derive(clap::Args)]
pub struct Args {
    /// Design problem with a 1-D design.
    #[arg(long, default_value = "nonlinear-1d")]
    problem: String,
    /// Grid points over the design box (end points included).
    #[arg(long, default_value_t = 21)]
    points: usize,
    /// Outer samples of the NMC reference per design.
    #[arg(long, default_value_t = 2000)]
    nmc_outer: usize,
    /// Inner samples L of the NMC reference.
    #[arg(long, default_value_t = 100_000)]
    nmc_inner: usize,
    /// Training simulations of the posterior flow (default: the settings file's, else 20,000).
    #[arg(long)]
    simulations: Option<usize>,
    /// Outer samples of the BA bound per design.
    #[arg(long, default_value_t = 4000)]
    ba_outer: usize,
    /// Flow and training settings (TOML, fields of `FlowEigConfig`; default: sbi's NSF and
    /// training defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder for eig-curve.json and eig-curve.svg.
    #[arg(long, default_value = "runs/eig-curve")]
    out: PathBuf,
}

/// Index of the largest estimate.
fn argmax(estimates: &[EigEstimate]) -> usize {
    (0..estimates.len()).max_by(|&a, &b| estimates[a].eig.total_cmp(&estimates[b].eig)).unwrap_or(0)
}

/// Run the benchmark.
pub fn run(args: Args) -> Result<()> {
    let target = problem(&args.problem)?;
    if target.design_dim() != 1 {
        bail!("eig-curve needs a problem with a 1-D design; {} has {}", args.problem, target.design_dim());
    }
    if args.points < 2 {
        bail!("--points must be at least 2");
    }
    let bounds = target.design_box();
    let (low, high) = (bounds.low[0], bounds.high[0]);
    let grid =
        Array2::from_shape_fn((args.points, 1), |(i, _)| low + (high - low) * i as f64 / (args.points - 1) as f64);

    let start = Instant::now();
    let nmc = ContrastiveEig::new(ContrastiveKind::Nmc, args.nmc_outer, args.nmc_inner)
        .estimate(target.as_ref(), grid.view(), args.seed)
        .context("NMC reference")?;
    let nmc_seconds = start.elapsed().as_secs_f64();
    eprintln!("NMC (N = {}, L = {}) at {} designs in {nmc_seconds:.1} s", args.nmc_outer, args.nmc_inner, args.points);

    let mut config: FlowEigConfig = crate::commands::read_config(args.config.as_ref())?;
    config.outer = args.ba_outer;
    if let Some(simulations) = args.simulations {
        config.simulations = simulations;
    }
    let flows = FlowEig::train(target.as_ref(), &[FlowEigKind::BarberAgakov], &config, None, args.seed.wrapping_add(1))
        .context("training the posterior flow")?;
    let ba = flows.estimate(target.as_ref(), grid.view(), args.seed.wrapping_add(2)).context("BA bound")?;
    eprintln!(
        "BA ({:?} flow, {} transforms × {} hidden, {} simulations) trained in {:.1} s",
        config.estimator.kind,
        config.estimator.transforms,
        config.estimator.hidden,
        flows.training_simulations(),
        flows.train_seconds()
    );

    println!("{:>6}  {:>16}  {:>16}  {:>8}", "ξ", "NMC ± se", "BA ± se", "BA−NMC");
    let mut max_gap: f64 = 0.0;
    let mut above = Vec::new();
    for i in 0..args.points {
        let (n, b) = (nmc[i], ba[i]);
        let gap = b.eig - n.eig;
        max_gap = max_gap.max(gap.abs());
        if gap > 3.0 * (n.stderr.powi(2) + b.stderr.powi(2)).sqrt() {
            above.push(grid[[i, 0]]);
        }
        println!(
            "{:>6.3}  {:>8.4} ± {:.4}  {:>8.4} ± {:.4}  {:>+8.4}",
            grid[[i, 0]],
            n.eig,
            n.stderr,
            b.eig,
            b.stderr,
            gap
        );
    }
    let (best_nmc, best_ba) = (argmax(&nmc), argmax(&ba));
    println!(
        "argmax: NMC ξ = {:.3} (EIG {:.4}), BA ξ = {:.3} (EIG {:.4}); max |BA − NMC| = {max_gap:.4}; \
         BA above NMC by more than 3 standard errors at {} designs {above:?}",
        grid[[best_nmc, 0]],
        nmc[best_nmc].eig,
        grid[[best_ba, 0]],
        ba[best_ba].eig,
        above.len()
    );

    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let x: Vec<f64> = grid.column(0).to_vec();
    let curve = |label: String, estimates: &[EigEstimate]| Curve {
        label,
        x: x.clone(),
        y: estimates.iter().map(|e| e.eig).collect(),
        band: Some(estimates.iter().map(|e| 2.0 * e.stderr).collect()),
    };
    let curves = [
        curve(format!("NMC (L = {})", args.nmc_inner), &nmc),
        curve(format!("Barber–Agakov ({:?} posterior)", config.estimator.kind), &ba),
    ];
    let title = format!("EIG over the design of {}", args.problem);
    let svg_path = args.out.join("eig-curve.svg");
    curves_plot(&title, "design ξ", "EIG (nats)", &curves)?.save(&svg_path)?;
    let row = |e: &EigEstimate| json!({ "eig": e.eig, "stderr": e.stderr });
    let document = json!({
        "problem": args.problem,
        "designs": x,
        "nmc": nmc.iter().map(row).collect::<Vec<_>>(),
        "ba": ba.iter().map(row).collect::<Vec<_>>(),
        "nmc_argmax": grid[[best_nmc, 0]],
        "ba_argmax": grid[[best_ba, 0]],
        "max_abs_difference": max_gap,
        "nmc_outer": args.nmc_outer,
        "nmc_inner": args.nmc_inner,
        "nmc_seconds": nmc_seconds,
        "ba_train_seconds": flows.train_seconds(),
        "ba_simulations": flows.training_simulations(),
        "flows": config,
        "seed": args.seed,
    });
    let json_path = args.out.join("eig-curve.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&document)?)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    eprintln!("→ {} and {}", json_path.display(), svg_path.display());
    Ok(())
}
