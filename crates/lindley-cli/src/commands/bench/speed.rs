//! `lindley bench speed`: NPE training time per epoch and the time to draw 10,000 posterior
//! samples, with the settings of benches/compare_sbi.py (sbi's defaults: NSF with 5 transforms,
//! 50 hidden units, 10 bins; batch 200, learning rate 5·10⁻⁴, patience 20), written as JSON.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use lindley::data::Dataset;
use lindley::inference::{Npe, NpeConfig, Posterior, SampleOptions};
use lindley::simulators::sbibm;
use serde_json::json;

use super::median;

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
    /// Write the figures as JSON here (also printed).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Train once, sample once, report.
pub fn run(args: Args) -> Result<()> {
    let task = sbibm::task(&args.task)?;
    let (theta, x) = task.sample_joint(args.budget, args.seed)?;
    let mut config = NpeConfig::default();
    config.training.seed = args.seed;
    let mut npe = Npe::for_task(&task, config);
    npe.append_simulations(Dataset::new(theta, x)?)?;
    let (posterior, report) = npe.train(&mut |_| {})?;
    let observation = sbibm::reference(&args.task, 1)?.observation;
    let start = Instant::now();
    let samples = posterior.sample(10_000, observation.view(), args.seed + 1, &SampleOptions::default())?;
    let sample_seconds = start.elapsed().as_secs_f64();
    let figures = json!({
        "task": args.task,
        "budget": args.budget,
        "seed": args.seed,
        "epochs": report.epochs,
        "epoch_seconds": median(&report.epoch_seconds),
        "train_seconds": report.seconds,
        "sample_seconds": sample_seconds,
        "acceptance_rate": samples.acceptance_rate,
        "epoch_durations_sec": report.epoch_seconds,
    });
    let text = serde_json::to_string_pretty(&figures)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
