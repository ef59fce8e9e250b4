//! `lindley diagnose`: calibration checks of a trained model across many observations.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lindley::data::Dataset;
use lindley::diagnostics::sbc::{SbcConfig, expected_coverage, posterior_samples, sbc_ranks, tarp};
use lindley::inference::{DirectPosterior, Posterior, SampleOptions};
use lindley::rng::substream;
use ndarray::{Array2, s};
use rand::RngCore;

/// The diagnostics `lindley diagnose` runs.
#[derive(clap::Subcommand)]
pub enum Diagnose {
    /// Simulation-based calibration: ranks of the true parameters among posterior samples for N
    /// simulations (uniform if calibrated, KS test per dimension), expected (HPD) coverage and
    /// TARP coverage. Writes ranks.csv, sbc_ranks.svg, coverage.svg and sbc.json to --out.
    Sbc(SbcArgs),
}

/// Arguments of `lindley diagnose sbc`.
#[derive(clap::Args)]
pub struct SbcArgs {
    /// Model file written by `lindley train`.
    #[arg(long)]
    model: PathBuf,
    /// Built-in task to simulate (θ, x) pairs from (default: the task the model was trained on).
    #[arg(long, conflicts_with = "data")]
    task: Option<String>,
    /// Simulations held out from training instead: `.npz` with arrays theta and x, or `.csv`
    /// whose first columns are the parameters; the first N rows with finite values are used.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Number of simulations N.
    #[arg(short = 'n', long, default_value_t = 200)]
    num: usize,
    /// Posterior samples L per simulation.
    #[arg(long, default_value_t = 100)]
    posterior_samples: usize,
    /// Credibility levels on the coverage curves.
    #[arg(long, default_value_t = 51)]
    levels: usize,
    /// Seed of the simulations, the posterior samples and the TARP reference points.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// Run the chosen diagnostic.
pub fn run(diagnose: Diagnose) -> Result<()> {
    let Diagnose::Sbc(args) = diagnose;
    let posterior = DirectPosterior::load(&args.model)?;
    let header = posterior.header();
    let (theta, x) = match (&args.data, args.task.as_ref().or(header.task.as_ref())) {
        (Some(path), _) => {
            let mut data = Dataset::load(path, Some(posterior.parameter_dim()))?;
            let dropped = data.drop_nonfinite();
            if dropped.count > 0 {
                tracing::warn!("{dropped}");
            }
            let (theta, x) = data.into_parts();
            let rows = args.num.min(theta.nrows());
            if rows < args.num {
                tracing::warn!("{} holds only {rows} usable simulations; using all of them", path.display());
            }
            (theta.slice(s![..rows, ..]).to_owned(), x.slice(s![..rows, ..]).to_owned())
        }
        (None, Some(name)) => super::task(name)?.sample_joint(args.num, args.seed)?,
        (None, None) => bail!("the model names no task: give --task NAME or --data FILE with held-out simulations"),
    };
    if theta.nrows() == 0 {
        bail!("no simulations to check");
    }
    let config = SbcConfig { posterior_samples: args.posterior_samples, seed: args.seed, ..Default::default() };
    let start = std::time::Instant::now();
    let sample_seed = substream(config.seed, 1).next_u64();
    let samples =
        posterior_samples(&posterior, x.view(), config.posterior_samples, sample_seed, &SampleOptions::default())
            .context("drawing posterior samples")?;
    tracing::info!(
        "drew {} × {} posterior samples in {:.1} s",
        theta.nrows(),
        config.posterior_samples,
        start.elapsed().as_secs_f64()
    );
    let ranks = sbc_ranks(theta.view(), &samples)?;
    let hpd = expected_coverage(&posterior, theta.view(), x.view(), &samples, args.levels)?;
    let tarp_result = tarp(theta.view(), &samples, args.levels, substream(config.seed, 2).next_u64())?;

    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let names = &header.parameter_names;
    let ranks_path = args.out.join("ranks.csv");
    let as_float: Array2<f64> = ranks.ranks.mapv(|r| r as f64);
    lindley::io::write_matrix(&ranks_path, names, as_float.view())?;
    let histogram_path = args.out.join("sbc_ranks.svg");
    lindley::plot::save_svg(&histogram_path, &lindley::plot::rank_histograms(&ranks, names)?)?;
    let coverage_path = args.out.join("coverage.svg");
    let coverage_svg = lindley::plot::coverage_plot(&[("HPD", &hpd), ("TARP", &tarp_result)])?;
    lindley::plot::save_svg(&coverage_path, &coverage_svg)?;
    let summary = serde_json::json!({
        "simulations": theta.nrows(),
        "posterior_samples": config.posterior_samples,
        "parameter_names": names,
        "ks_pvalues": ranks.ks_pvalues,
        "ks_statistics": ranks.ks_statistics,
        "hpd_coverage": { "levels": hpd.levels, "coverage": hpd.coverage, "atc": hpd.atc, "ks_pvalue": hpd.ks_pvalue },
        "tarp": { "levels": tarp_result.levels, "coverage": tarp_result.coverage, "atc": tarp_result.atc,
                  "ks_pvalue": tarp_result.ks_pvalue },
    });
    let summary_path = args.out.join("sbc.json");
    std::fs::write(&summary_path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;

    println!("SBC with {} simulations and {} posterior samples each:", theta.nrows(), config.posterior_samples);
    for (name, (p, d)) in names.iter().zip(ranks.ks_pvalues.iter().zip(&ranks.ks_statistics)) {
        let verdict = if *p < 0.01 { "NOT uniform (p < 0.01)" } else { "uniform" };
        println!("  {name}: rank KS D = {d:.3}, p = {p:.4}  {verdict}");
    }
    for (label, curve) in [("expected coverage (HPD)", &hpd), ("TARP coverage", &tarp_result)] {
        let shape = if curve.ks_pvalue >= 0.01 {
            "consistent with calibration"
        } else if curve.atc < 0.0 {
            "below the diagonal: over-confident"
        } else {
            "above the diagonal: under-confident"
        };
        println!("  {label}: ATC = {:+.4}, KS p = {:.4}  {shape}", curve.atc, curve.ks_pvalue);
    }
    println!(
        "wrote {}, {}, {}, {}",
        ranks_path.display(),
        histogram_path.display(),
        coverage_path.display(),
        summary_path.display()
    );
    Ok(())
}
