//! `lindley bench speed`: training time per epoch and the time to draw 10,000 posterior samples
//! for one method (NPE, NLE or NRE) on one task, with the settings of benches/compare_sbi.py
//! (sbi's defaults), written as JSON.
//!
//! - NPE: NSF with 5 transforms, 50 hidden units, 10 bins; direct sampling.
//! - NLE: MAF with 5 transforms, 50 hidden units; MCMC.
//! - NRE: ResNet classifier with 50 hidden units and 2 blocks, NRE-B (10 atoms) or NRE-A; MCMC.
//!
//! All train with batch 200, learning rate 5·10⁻⁴ and patience 20. For NLE and NRE the MCMC run
//! lengths (chains, warm-up, thinning, initialisation candidates) can be set to match another
//! tool's defaults; the settings used are printed on stderr and written to the JSON.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use lindley::data::Dataset;
use lindley::diagnostics::c2st::{C2stConfig, c2st};
use lindley::inference::{
    McmcPosterior, McmcSettings, Nle, NleConfig, Npe, NpeConfig, Nre, NreConfig, NreLoss, Posterior, SampleOptions,
};
use lindley::mcmc::{Resampling, Sampler};
use lindley::simulators::sbibm;
use lindley::train::TrainReport;
use ndarray::Array2;
use serde_json::{Value, json};

use super::median;

/// Number of posterior samples drawn (and timed).
const SAMPLES: usize = 10_000;

/// Arguments of `lindley bench speed`.
#[derive(clap::Args)]
pub struct Args {
    /// Task (observation 1 is used for sampling).
    #[arg(long, default_value = "two_moons")]
    task: String,
    /// Simulations.
    #[arg(long, default_value_t = 10_000)]
    budget: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Method: npe (direct sampling), nle or nre (MCMC).
    #[arg(long, default_value = "npe")]
    method: String,
    /// NRE loss: b (NRE-B, contrastive with 10 atoms, sbi's NRE_B) or a (NRE-A, binary, sbi's NRE_A).
    #[arg(long, default_value = "b")]
    nre_variant: String,
    /// MCMC chains (nle/nre; default: lindley's 100).
    #[arg(long)]
    chains: Option<usize>,
    /// MCMC warm-up steps per chain, discarded (nle/nre; default: lindley's 200).
    #[arg(long)]
    warmup: Option<usize>,
    /// Keep every thin-th MCMC step after warm-up (nle/nre; default: lindley's 10).
    #[arg(long)]
    thin: Option<usize>,
    /// Prior draws scored to choose the chain starts by importance resampling (nle/nre; default:
    /// lindley's 10,000).
    #[arg(long)]
    init_candidates: Option<usize>,
    /// How the chain starts are drawn from the candidates: distinct (one pool, without
    /// replacement) or per_chain (a fresh pool and one importance-resampled start per chain, as
    /// sbi's "resample" initialisation does) (nle/nre; default: per_chain).
    #[arg(long)]
    init_resampling: Option<Resampling>,
    /// Write the 10,000 posterior samples here as CSV (header row of parameter names).
    #[arg(long)]
    samples_out: Option<PathBuf>,
    /// Also compute lindley's own C2ST of the samples against the reference posterior of
    /// observation 1 (not timed).
    #[arg(long)]
    c2st: bool,
    /// Write the figures as JSON here (also printed).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// The MCMC settings: lindley's defaults (shared by NLE and NRE), overridden by the flags given.
fn mcmc_settings(args: &Args) -> Result<McmcSettings> {
    let mut settings = McmcSettings::default();
    if let Some(chains) = args.chains {
        settings.chains = chains;
    }
    if let Some(warmup) = args.warmup {
        settings.warmup = warmup;
    }
    if let Some(thin) = args.thin {
        settings.thin = thin;
    }
    if let Some(candidates) = args.init_candidates {
        settings.init_candidates = candidates;
    }
    if let Some(rule) = args.init_resampling {
        settings.init_resampling = rule;
    }
    if settings.chains == 0 || settings.thin == 0 || settings.init_candidates == 0 {
        bail!(
            "--chains, --thin and --init-candidates must be at least 1 (got {}, {}, {})",
            settings.chains,
            settings.thin,
            settings.init_candidates
        );
    }
    Ok(settings)
}

/// The NRE loss named by `--nre-variant`.
fn nre_loss(variant: &str) -> Result<NreLoss> {
    match variant {
        "a" | "A" => Ok(NreLoss::Binary),
        "b" | "B" => Ok(NreLoss::Contrastive { atoms: 10 }),
        other => bail!("unknown --nre-variant '{other}'; expected a (NRE-A) or b (NRE-B)"),
    }
}

/// The samples, sampling time and method-specific figures of one timed draw.
struct Draw {
    samples: Array2<f64>,
    seconds: f64,
    acceptance_rate: f64,
    extra: Value,
}

/// Time `SAMPLES` MCMC draws and describe the run (settings, R̂, ESS, target evaluations).
fn draw_mcmc(posterior: &McmcPosterior, observation: ndarray::ArrayView1<f64>, seed: u64) -> Result<Draw> {
    let settings = posterior.settings().clone();
    let start = Instant::now();
    let run = posterior.run_mcmc(SAMPLES, observation, seed, &SampleOptions::default())?;
    let seconds = start.elapsed().as_secs_f64();
    let sampler = match settings.sampler {
        Sampler::Slice { .. } => "slice",
        Sampler::Metropolis { .. } => "metropolis",
        Sampler::Nuts { .. } => "nuts",
    };
    Ok(Draw {
        seconds,
        acceptance_rate: run.acceptance_rate,
        extra: json!({
            "mcmc": {
                "sampler": sampler,
                "chains": settings.chains,
                "warmup": settings.warmup,
                "thin": settings.thin,
                "init": "resample",
                "init_candidates": settings.init_candidates,
                "init_resampling": settings.init_resampling,
                "rhat": run.rhat,
                "divergences": run.divergences,
                "ess": run.ess,
                "target_calls": run.target_calls,
                "target_rows": run.target_rows,
            }
        }),
        samples: run.samples,
    })
}

/// Train the chosen method on `budget` simulations and time `SAMPLES` posterior draws at x_o.
fn train_and_draw(args: &Args, observation: ndarray::ArrayView1<f64>) -> Result<(TrainReport, Draw)> {
    let task = sbibm::task(&args.task)?;
    let (theta, x) = task.sample_joint(args.budget, args.seed)?;
    let data = Dataset::new(theta, x)?;
    let sample_seed = args.seed + 1;
    match args.method.as_str() {
        "npe" => {
            let mut config = NpeConfig::default();
            config.training.seed = args.seed;
            let mut npe = Npe::for_task(&task, config);
            npe.append_simulations(data)?;
            let (posterior, report) = npe.train(&mut |_| {})?;
            let start = Instant::now();
            let samples = posterior.sample(SAMPLES, observation, sample_seed, &SampleOptions::default())?;
            let seconds = start.elapsed().as_secs_f64();
            let draw =
                Draw { seconds, acceptance_rate: samples.acceptance_rate, samples: samples.theta, extra: json!({}) };
            Ok((report, draw))
        }
        "nle" => {
            let mut config = NleConfig { mcmc: mcmc_settings(args)?, ..Default::default() };
            config.training.seed = args.seed;
            print_mcmc_settings("NLE (MAF)", &config.mcmc);
            let mut nle = Nle::for_task(&task, config);
            nle.append_simulations(data)?;
            let (posterior, report) = nle.train(&mut |_| {})?;
            Ok((report, draw_mcmc(&posterior, observation, sample_seed)?))
        }
        "nre" => {
            let loss = nre_loss(&args.nre_variant)?;
            let mut config = NreConfig { mcmc: mcmc_settings(args)?, loss, ..Default::default() };
            config.training.seed = args.seed;
            let name = if matches!(config.loss, NreLoss::Binary) { "NRE-A" } else { "NRE-B (10 atoms)" };
            print_mcmc_settings(name, &config.mcmc);
            let mut nre = Nre::for_task(&task, config);
            nre.append_simulations(data)?;
            let (posterior, report) = nre.train(&mut |_| {})?;
            Ok((report, draw_mcmc(&posterior, observation, sample_seed)?))
        }
        other => bail!("unknown --method '{other}'; expected npe, nle or nre"),
    }
}

/// Print the MCMC settings on stderr (stdout carries the JSON).
fn print_mcmc_settings(method: &str, settings: &McmcSettings) {
    eprintln!(
        "lindley {method} MCMC: {:?}, {} chains, warm-up {} steps, thin {}, init: resample from {} prior draws",
        settings.sampler, settings.chains, settings.warmup, settings.thin, settings.init_candidates
    );
}

/// Train once, sample once, report.
pub fn run(args: Args) -> Result<()> {
    let reference = sbibm::reference(&args.task, 1)?;
    let (report, draw) = train_and_draw(&args, reference.observation.view())?;
    let mut figures = json!({
        "task": args.task,
        "method": args.method,
        "budget": args.budget,
        "seed": args.seed,
        "num_samples": draw.samples.nrows(),
        "epochs": report.epochs,
        "epoch_seconds": median(&report.epoch_seconds),
        "train_seconds": report.seconds,
        "sample_seconds": draw.seconds,
        "acceptance_rate": draw.acceptance_rate,
        "epoch_durations_sec": report.epoch_seconds,
    });
    if args.method == "nre" {
        figures["nre_variant"] = json!(if args.nre_variant.eq_ignore_ascii_case("a") { "NRE-A" } else { "NRE-B" });
    }
    if let (Value::Object(out), Value::Object(extra)) = (&mut figures, draw.extra) {
        out.extend(extra);
    }
    if let Some(path) = &args.samples_out {
        lindley::io::csv::write(path, &reference.parameter_names, draw.samples.view())?;
        figures["samples_file"] = json!(path.display().to_string());
    }
    if args.c2st {
        let start = Instant::now();
        let score = c2st(draw.samples.view(), reference.posterior_samples.view(), &C2stConfig::default())?;
        figures["lindley_c2st"] = json!(score);
        figures["lindley_c2st_seconds"] = json!(start.elapsed().as_secs_f64());
    }
    let text = serde_json::to_string_pretty(&figures)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(chains: Option<usize>, warmup: Option<usize>, thin: Option<usize>, candidates: Option<usize>) -> Args {
        Args {
            task: "two_moons".into(),
            budget: 100,
            seed: 0,
            method: "nle".into(),
            nre_variant: "b".into(),
            chains,
            warmup,
            thin,
            init_candidates: candidates,
            init_resampling: None,
            samples_out: None,
            c2st: false,
            json: None,
        }
    }

    #[test]
    fn mcmc_flags_override_only_what_is_given() {
        assert_eq!(mcmc_settings(&args(None, None, None, None)).unwrap(), McmcSettings::default());
        let settings = mcmc_settings(&args(Some(20), Some(200), Some(1), Some(5_000))).unwrap();
        assert_eq!((settings.chains, settings.warmup, settings.thin, settings.init_candidates), (20, 200, 1, 5_000));
        assert_eq!(settings.sampler, McmcSettings::default().sampler);
        let partial = mcmc_settings(&args(Some(7), None, None, None)).unwrap();
        assert_eq!((partial.chains, partial.thin), (7, McmcSettings::default().thin));
        let distinct = Args { init_resampling: Some(Resampling::Distinct), ..args(None, None, None, None) };
        assert_eq!(mcmc_settings(&distinct).unwrap().init_resampling, Resampling::Distinct);
    }

    #[test]
    fn zero_run_lengths_and_unknown_variants_are_rejected() {
        assert!(mcmc_settings(&args(Some(0), None, None, None)).is_err());
        assert!(mcmc_settings(&args(None, None, Some(0), None)).is_err());
        assert!(mcmc_settings(&args(None, None, None, Some(0))).is_err());
        assert_eq!(nre_loss("a").unwrap(), NreLoss::Binary);
        assert_eq!(nre_loss("B").unwrap(), NreLoss::Contrastive { atoms: 10 });
        assert!(nre_loss("c").is_err());
    }
}
