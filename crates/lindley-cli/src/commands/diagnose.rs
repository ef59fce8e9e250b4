//! `lindley diagnose`: checks of a trained model — calibration across many observations (SBC,
//! expected coverage / TARP), and local checks at one observation (L-C2ST, posterior predictive).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lindley::data::Dataset;
use lindley::diagnostics::lc2st::{Lc2stConfig, lc2st};
use lindley::diagnostics::ppc::{PpcConfig, posterior_predictive_check};
use lindley::diagnostics::sbc::{CoverageResult, expected_coverage, posterior_samples, sbc_ranks, tarp};
use lindley::inference::{AnyPosterior, ModelHeader, Posterior, SampleOptions};
use lindley::rng::substream;
use lindley::simulators::Simulator;
use lindley::simulators::external::{ExternalConfig, ExternalSimulator};
use ndarray::{Array2, s};
use rand::RngCore;

/// The diagnostics `lindley diagnose` runs.
#[derive(clap::Subcommand)]
pub enum Diagnose {
    /// Simulation-based calibration: ranks of the true parameters among posterior samples for N
    /// simulations (uniform if calibrated, KS test per dimension), expected (HPD) coverage and
    /// TARP coverage. Writes ranks.csv, sbc_ranks.svg, coverage.svg and sbc.json to --out
    /// (the plots as .png with --plot-format png).
    Sbc(CoverageArgs),
    /// Expected coverage of highest-posterior-density regions and TARP coverage over N
    /// simulations (a calibrated posterior follows the diagonal). Writes coverage.svg (or .png)
    /// and coverage.json to --out.
    Coverage(CoverageArgs),
    /// Local classifier two-sample test (L-C2ST) at one observation: is the posterior for this
    /// x_o the true one? Trains a classifier on N calibration simulations and as many under the
    /// null hypothesis as --null-trials. Writes lc2st.svg (or .png) and lc2st.json to --out.
    Lc2st(Lc2stArgs),
    /// Posterior predictive check at one observation: simulate from posterior samples and report,
    /// per data dimension, whether the observation lies inside the central predictive interval.
    Ppc(PpcArgs),
}

/// Where the (θ, x) calibration pairs come from.
#[derive(clap::Args)]
pub struct CalibrationSource {
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
    /// Seed of the simulations, the posterior samples and the tests' own random numbers.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Image format of the plots written to --out.
    #[arg(long, value_enum, default_value_t = PlotFormat::Svg)]
    plot_format: PlotFormat,
}

/// Image format of the plots a diagnostic writes.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum PlotFormat {
    /// SVG (vector).
    Svg,
    /// PNG (bitmap).
    Png,
}

impl PlotFormat {
    /// The plot file `stem` in `folder` with this format's extension.
    fn path(self, folder: &Path, stem: &str) -> PathBuf {
        folder.join(format!("{stem}.{}", if matches!(self, PlotFormat::Svg) { "svg" } else { "png" }))
    }
}

/// Arguments of `lindley diagnose sbc` and `lindley diagnose coverage`.
#[derive(clap::Args)]
pub struct CoverageArgs {
    #[command(flatten)]
    source: CalibrationSource,
    /// Number of simulations N.
    #[arg(short = 'n', long, default_value_t = 200)]
    num: usize,
    /// Posterior samples L per simulation.
    #[arg(long, default_value_t = 100)]
    posterior_samples: usize,
    /// Credibility levels on the coverage curves.
    #[arg(long, default_value_t = 51)]
    levels: usize,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `lindley diagnose lc2st`.
#[derive(clap::Args)]
pub struct Lc2stArgs {
    #[command(flatten)]
    source: CalibrationSource,
    /// Observation to test: CSV with a header row and one data row, or a `.npy` vector.
    #[arg(long)]
    observation: PathBuf,
    /// Number of calibration simulations N (one posterior draw each).
    #[arg(short = 'n', long, default_value_t = 2000)]
    num: usize,
    /// Posterior samples at the observation on which the classifiers are evaluated.
    #[arg(long, default_value_t = 5000)]
    evaluation_samples: usize,
    /// Classifiers trained under the null hypothesis (the smallest p-value is 1/(1 + this)).
    #[arg(long, default_value_t = 50)]
    null_trials: usize,
    /// Upper limit on each classifier's training epochs.
    #[arg(long, default_value_t = 1000)]
    max_epochs: usize,
    /// Significance level of the verdict.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `lindley diagnose ppc`.
#[derive(clap::Args)]
pub struct PpcArgs {
    /// Model file written by `lindley train`.
    #[arg(long)]
    model: PathBuf,
    /// Observation to check: CSV with a header row and one data row, or a `.npy` vector.
    #[arg(long)]
    observation: PathBuf,
    /// Built-in task whose simulator is used (default: the task the model was trained on).
    #[arg(long, conflicts_with = "program")]
    task: Option<String>,
    /// A simulator program instead (same protocol as `lindley simulate --program`).
    #[arg(long)]
    program: Option<String>,
    /// Posterior samples, each simulated once.
    #[arg(short = 'n', long, default_value_t = 1000)]
    num: usize,
    /// Probability mass of the central predictive interval per dimension.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    /// Significance level of the verdict (on the Bonferroni-corrected smallest tail probability).
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Seed of the posterior samples and the simulations.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the per-dimension results to this JSON file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Run the chosen diagnostic.
pub fn run(diagnose: Diagnose) -> Result<()> {
    match diagnose {
        Diagnose::Sbc(args) => run_sbc(args),
        Diagnose::Coverage(args) => run_coverage(args),
        Diagnose::Lc2st(args) => run_lc2st(args),
        Diagnose::Ppc(args) => run_ppc(args),
    }
}

/// N (θ, x) pairs from held-out data or simulated from the task.
fn calibration_pairs(
    source: &CalibrationSource,
    header: &ModelHeader,
    num: usize,
) -> Result<(Array2<f64>, Array2<f64>)> {
    let (theta, x) = match (&source.data, source.task.as_ref().or(header.task.as_ref())) {
        (Some(path), _) => {
            let mut data = Dataset::load(path, Some(header.prior.dim()))?;
            let dropped = data.drop_nonfinite();
            if dropped.count > 0 {
                tracing::warn!("{dropped}");
            }
            let (theta, x) = data.into_parts();
            let rows = num.min(theta.nrows());
            if rows < num {
                tracing::warn!("{} holds only {rows} usable simulations; using all of them", path.display());
            }
            (theta.slice(s![..rows, ..]).to_owned(), x.slice(s![..rows, ..]).to_owned())
        }
        (None, Some(name)) => super::task(name)?.sample_joint(num, source.seed)?,
        (None, None) => bail!("the model names no task: give --task NAME or --data FILE with held-out simulations"),
    };
    if theta.nrows() == 0 {
        bail!("no simulations to check");
    }
    if x.ncols() != header.data_dim() {
        bail!("the simulations have {} data columns, the model expects {}", x.ncols(), header.data_dim());
    }
    Ok((theta, x))
}

/// L posterior samples for each row of x, timed.
fn draw_samples(posterior: &AnyPosterior, x: &Array2<f64>, l: usize, seed: u64) -> Result<Vec<Array2<f64>>> {
    let start = std::time::Instant::now();
    let sample_seed = substream(seed, 1).next_u64();
    let samples = posterior_samples(posterior, x.view(), l, sample_seed, &SampleOptions::default())
        .context("drawing posterior samples")?;
    tracing::info!("drew {} × {l} posterior samples in {:.1} s", x.nrows(), start.elapsed().as_secs_f64());
    Ok(samples)
}

/// HPD expected coverage and TARP coverage from the drawn samples.
fn coverage_curves(
    posterior: &AnyPosterior,
    theta: &Array2<f64>,
    x: &Array2<f64>,
    samples: &[Array2<f64>],
    levels: usize,
    seed: u64,
) -> Result<(CoverageResult, CoverageResult)> {
    let hpd = expected_coverage(posterior, theta.view(), x.view(), samples, levels)?;
    let tarp_result = tarp(theta.view(), samples, levels, substream(seed, 2).next_u64())?;
    Ok((hpd, tarp_result))
}

/// One verdict line per coverage curve.
fn print_coverage(hpd: &CoverageResult, tarp_result: &CoverageResult) {
    for (label, curve) in [("expected coverage (HPD)", hpd), ("TARP coverage", tarp_result)] {
        let shape = if curve.ks_pvalue >= 0.01 {
            "consistent with calibration"
        } else if curve.atc < 0.0 {
            "below the diagonal: over-confident"
        } else {
            "above the diagonal: under-confident"
        };
        println!("  {label}: ATC = {:+.4}, KS p = {:.4}  {shape}", curve.atc, curve.ks_pvalue);
    }
}

/// A coverage curve as JSON.
fn coverage_json(curve: &CoverageResult) -> serde_json::Value {
    serde_json::json!({ "levels": curve.levels, "coverage": curve.coverage, "atc": curve.atc,
                        "ks_statistic": curve.ks_statistic, "ks_pvalue": curve.ks_pvalue })
}

/// Write `value` as pretty JSON to `path`.
fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn create_folder(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))
}

fn run_sbc(args: CoverageArgs) -> Result<()> {
    let posterior = AnyPosterior::load(&args.source.model)?;
    let header = posterior.header();
    let (theta, x) = calibration_pairs(&args.source, header, args.num)?;
    let samples = draw_samples(&posterior, &x, args.posterior_samples, args.source.seed)?;
    let ranks = sbc_ranks(theta.view(), &samples)?;
    let (hpd, tarp_result) = coverage_curves(&posterior, &theta, &x, &samples, args.levels, args.source.seed)?;

    create_folder(&args.out)?;
    let names = &header.parameter_names;
    let ranks_path = args.out.join("ranks.csv");
    let as_float: Array2<f64> = ranks.ranks.mapv(|r| r as f64);
    lindley::io::write_matrix(&ranks_path, names, as_float.view())?;
    let histogram_path = args.source.plot_format.path(&args.out, "sbc_ranks");
    lindley::plot::rank_histograms(&ranks, names)?.save(&histogram_path)?;
    let coverage_path = args.source.plot_format.path(&args.out, "coverage");
    lindley::plot::coverage_plot(&[("HPD", &hpd), ("TARP", &tarp_result)])?.save(&coverage_path)?;
    let summary_path = args.out.join("sbc.json");
    write_json(
        &summary_path,
        &serde_json::json!({
            "simulations": theta.nrows(),
            "posterior_samples": args.posterior_samples,
            "parameter_names": names,
            "ks_pvalues": ranks.ks_pvalues,
            "ks_statistics": ranks.ks_statistics,
            "hpd_coverage": coverage_json(&hpd),
            "tarp": coverage_json(&tarp_result),
        }),
    )?;

    println!("SBC with {} simulations and {} posterior samples each:", theta.nrows(), args.posterior_samples);
    for (name, (p, d)) in names.iter().zip(ranks.ks_pvalues.iter().zip(&ranks.ks_statistics)) {
        let verdict = if *p < 0.01 { "NOT uniform (p < 0.01)" } else { "uniform" };
        println!("  {name}: rank KS D = {d:.3}, p = {p:.4}  {verdict}");
    }
    print_coverage(&hpd, &tarp_result);
    println!(
        "wrote {}, {}, {}, {}",
        ranks_path.display(),
        histogram_path.display(),
        coverage_path.display(),
        summary_path.display()
    );
    Ok(())
}

fn run_coverage(args: CoverageArgs) -> Result<()> {
    let posterior = AnyPosterior::load(&args.source.model)?;
    let (theta, x) = calibration_pairs(&args.source, posterior.header(), args.num)?;
    let samples = draw_samples(&posterior, &x, args.posterior_samples, args.source.seed)?;
    let (hpd, tarp_result) = coverage_curves(&posterior, &theta, &x, &samples, args.levels, args.source.seed)?;

    create_folder(&args.out)?;
    let coverage_path = args.source.plot_format.path(&args.out, "coverage");
    lindley::plot::coverage_plot(&[("HPD", &hpd), ("TARP", &tarp_result)])?.save(&coverage_path)?;
    let summary_path = args.out.join("coverage.json");
    write_json(
        &summary_path,
        &serde_json::json!({
            "simulations": theta.nrows(),
            "posterior_samples": args.posterior_samples,
            "hpd_coverage": coverage_json(&hpd),
            "tarp": coverage_json(&tarp_result),
        }),
    )?;
    println!("coverage with {} simulations and {} posterior samples each:", theta.nrows(), args.posterior_samples);
    print_coverage(&hpd, &tarp_result);
    println!("wrote {}, {}", coverage_path.display(), summary_path.display());
    Ok(())
}

fn run_lc2st(args: Lc2stArgs) -> Result<()> {
    let posterior = AnyPosterior::load(&args.source.model)?;
    let observation = super::read_observation(&args.observation, posterior.data_dim())?;
    let (theta, x) = calibration_pairs(&args.source, posterior.header(), args.num)?;
    let config = Lc2stConfig {
        null_trials: args.null_trials,
        max_epochs: args.max_epochs,
        seed: substream(args.source.seed, 3).next_u64(),
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let result = lc2st(
        &posterior,
        theta.view(),
        x.view(),
        observation.view(),
        args.evaluation_samples,
        &config,
        &SampleOptions::default(),
    )?;
    let seconds = start.elapsed().as_secs_f64();

    create_folder(&args.out)?;
    let plot_path = args.source.plot_format.path(&args.out, "lc2st");
    lindley::plot::lc2st_plot(&result)?.save(&plot_path)?;
    let summary_path = args.out.join("lc2st.json");
    let mean_probability = result.probabilities.iter().sum::<f64>() / result.probabilities.len() as f64;
    write_json(
        &summary_path,
        &serde_json::json!({
            "observation": observation.to_vec(),
            "calibration_simulations": theta.nrows(),
            "evaluation_samples": args.evaluation_samples,
            "statistic": result.statistic,
            "p_value": result.p_value,
            "null_statistics": result.null_statistics,
            "mean_probability": mean_probability,
            "alpha": args.alpha,
            "rejected": result.rejects(args.alpha),
            "seconds": seconds,
        }),
    )?;
    println!(
        "L-C2ST at {} with {} calibration simulations, {} null classifiers ({seconds:.1} s):",
        args.observation.display(),
        theta.nrows(),
        result.null_statistics.len()
    );
    println!("  statistic T = {:.4e}, p = {:.4}", result.statistic, result.p_value);
    if result.rejects(args.alpha) {
        println!("  REJECTED at α = {}: the posterior at this observation differs from the true one", args.alpha);
    } else {
        println!("  not rejected at α = {}: no evidence that the posterior at this observation is wrong", args.alpha);
    }
    println!("wrote {}, {}", plot_path.display(), summary_path.display());
    Ok(())
}

fn run_ppc(args: PpcArgs) -> Result<()> {
    let posterior = AnyPosterior::load(&args.model)?;
    let header = posterior.header();
    let observation = super::read_observation(&args.observation, posterior.data_dim())?;
    let simulator: Arc<dyn Simulator> = match (&args.program, args.task.as_ref().or(header.task.as_ref())) {
        (Some(program), _) => {
            let command = super::simulate::split_command(program)?;
            Arc::new(ExternalSimulator::new(ExternalConfig::new(command, header.prior.dim(), header.data_dim()))?)
        }
        (None, Some(name)) => super::task(name)?.simulator,
        (None, None) => bail!("the model names no task: give --task NAME or --program CMD for the simulator"),
    };
    let samples = posterior.sample(
        args.num,
        observation.view(),
        substream(args.seed, 1).next_u64(),
        &SampleOptions::default(),
    )?;
    for warning in &samples.warnings {
        tracing::warn!("{warning}");
    }
    let config = PpcConfig { level: args.level, seed: substream(args.seed, 2).next_u64() };
    let result = posterior_predictive_check(simulator.as_ref(), samples.theta.view(), observation.view(), &config)?;
    let names = &header.data_names;
    println!(
        "posterior predictive check with {} simulations ({} dropped), {:.0}% central intervals:",
        result.simulations,
        result.dropped,
        100.0 * result.level
    );
    for d in 0..observation.len() {
        let name = names.get(d).cloned().unwrap_or_else(|| format!("x_{}", d + 1));
        let mark = if result.inside[d] { "inside" } else { "OUTSIDE" };
        println!(
            "  {name}: observed {:.4}, interval [{:.4}, {:.4}], tail p = {:.4}  {mark}",
            observation[d], result.lower[d], result.upper[d], result.tail_probability[d]
        );
    }
    let outside = result.outside().len();
    println!(
        "  {outside} of {} dimensions outside (about {:.1} expected by chance); corrected p = {:.4}",
        observation.len(),
        (1.0 - result.level) * observation.len() as f64,
        result.corrected_p_value()
    );
    if result.flags(args.alpha) {
        println!("  FLAGGED at α = {}: the observation is unlikely under the posterior predictive", args.alpha);
    } else {
        println!("  not flagged at α = {}: the observation is consistent with the posterior predictive", args.alpha);
    }
    if let Some(path) = &args.out {
        write_json(
            path,
            &serde_json::json!({
                "data_names": names,
                "observation": observation.to_vec(),
                "level": result.level,
                "simulations": result.simulations,
                "dropped": result.dropped,
                "mean": result.mean,
                "lower": result.lower,
                "upper": result.upper,
                "inside": result.inside,
                "tail_probability": result.tail_probability,
                "corrected_p_value": result.corrected_p_value(),
                "flagged": result.flags(args.alpha),
            }),
        )?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
