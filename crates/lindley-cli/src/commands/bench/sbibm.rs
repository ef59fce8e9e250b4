//! `lindley bench sbibm`: the sbibm accuracy protocol (Lueckmann et al. 2021) — train on a budget
//! of simulations, draw 10,000 posterior samples per observation, C2ST against the reference
//! posterior — for each task, beside the published figure.
//!
//! NRE-C and BNRE (`--method nre-c|bnre`) are NRE with those losses (K = 5, γ = 1; λ = 100 unless
//! --config sets them). CP-VAE and UP-VAE (`--method cpvae|upvae`) are amortised too, with the VAE
//! paper's settings for each task (3 × 128 hidden units, batch 32 — 16 for slcp, 128 for
//! lotka_volterra — AdamW 5·10⁻⁴, patience 20, gradient clipping 3) unless --config is given.
//!
//! NPE, NLE and NRE are amortised: one network per task serves every observation (sbibm trained
//! one per observation; the expected C2ST is the same, the spread across observations is larger).
//! NLE and NRE posteriors are sampled by MCMC (sample times include the chains' warm-up).
//!
//! REJ-ABC and SMC-ABC (`--method rej-abc|smc-abc`) are not amortised: each observation gets its
//! own run with the whole budget (seed + observation number), as in sbibm, and 10,000 samples from
//! a KDE of the accepted particles (cross-validated bandwidth as in sbibm; unlike sbibm, weighted by
//! the SMC importance weights, with draws outside the prior support redrawn, and the data z-scored
//! per coordinate — which changes nothing on tasks whose coordinates share a scale). For them the
//! `train s` column is the ABC run (simulations included) and `epochs` is the number of
//! populations (1 for rejection ABC).
//!
//! SNPE, TSNPE, SNLE and SNRE (`--method snpe|tsnpe|snle|snre`) are not amortised: as in sbibm, one run of
//! `--rounds` rounds per observation, the budget split evenly over the rounds; their train seconds
//! cover all rounds (proposal sampling and simulation included) and their epochs are summed over
//! the rounds.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use lindley::data::Dataset;
use lindley::diagnostics::c2st::{C2stConfig, c2st};
use lindley::inference::abc::{AbcProblem, RejectionConfig, Resampling, SmcConfig, rejection_abc, smc_abc};
use lindley::inference::{
    Nle, NleConfig, Npe, NpeConfig, Nre, NreConfig, NreLoss, Posterior, PosteriorSamples, RoundMethod, SampleOptions,
    SequentialConfig, Vae, VaeConfig, VaeKind, run_rounds,
};
use lindley::simulators::{Task, sbibm};
use lindley::train::EpochProgress;
use ndarray::{ArrayView1, ArrayView2};
use serde::Serialize;

use super::{median, published};
use crate::progress;
use crate::settings::SettingsFile;

/// Arguments of `lindley bench sbibm`.
#[derive(clap::Args)]
pub struct Args {
    /// Inference method: npe, nle, nre (NRE-B), nre-c, bnre, cpvae, upvae, sequential snpe, tsnpe
    /// (truncated SNPE; compared with sbibm's SNPE figures), snle, snre, or rej-abc, smc-abc.
    #[arg(long, default_value = "npe")]
    method: String,
    /// Rounds of the sequential methods (sbibm: 10).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Comma-separated task names, or `all` (the tasks with reference posteriors).
    #[arg(long, default_value = "all")]
    tasks: String,
    /// Simulation budget.
    #[arg(long, default_value_t = 10_000)]
    budget: usize,
    /// Observations, as a range `1-5` or a list `1,3`.
    #[arg(long, default_value = "1-5")]
    observations: String,
    /// Posterior samples per observation (sbibm: 10,000).
    #[arg(long, default_value_t = 10_000)]
    samples: usize,
    /// Seed of simulations, training, sampling and C2ST.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Settings file (TOML) for the method.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Also write one JSON record per task and observation to this file (rewritten after every
    /// record, so a run that stops keeps the observations it finished).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One task × observation result.
#[derive(Serialize)]
struct Record {
    method: String,
    task: String,
    budget: usize,
    observation: usize,
    seed: u64,
    c2st: f64,
    published_c2st: Option<f64>,
    train_seconds: f64,
    epochs: usize,
    sample_seconds: f64,
    acceptance_rate: f64,
    /// Reasons to distrust the samples (e.g. MCMC R̂ above the limit).
    warnings: Vec<String>,
}

impl Record {
    /// The record of one task × observation: `samples` judged by C2ST against the reference
    /// posterior samples, beside the method's published figure, with the sampling time
    /// (`sample_seconds`, or the sampler's own figure) and `(train seconds, epochs or populations)`.
    fn scored(
        args: &Args,
        task: &str,
        observation: usize,
        reference: ArrayView2<f64>,
        samples: PosteriorSamples,
        sample_seconds: Option<f64>,
        (train_seconds, epochs): (f64, usize),
    ) -> Result<Self> {
        let c2st = c2st(samples.theta.view(), reference, &C2stConfig { seed: args.seed, ..Default::default() })?;
        Ok(Self {
            method: args.method.clone(),
            task: task.to_string(),
            budget: args.budget,
            observation,
            seed: args.seed,
            c2st,
            published_c2st: published::c2st(&args.method, task, args.budget),
            train_seconds,
            epochs,
            sample_seconds: sample_seconds.unwrap_or(samples.seconds),
            acceptance_rate: samples.acceptance_rate,
            warnings: samples.warnings,
        })
    }
}

/// The settings of the benchmarked method.
enum Settings {
    Npe(NpeConfig),
    Nle(NleConfig),
    Nre(NreConfig),
    /// A VAE of this kind: the paper's settings for each task, with the settings file (if any)
    /// over them.
    Vae(VaeKind, Option<SettingsFile>),
    RejAbc(RejectionConfig),
    SmcAbc(SmcConfig),
}

/// A trained posterior with what its training cost.
struct Trained {
    posterior: Box<dyn Posterior>,
    seconds: f64,
    epochs: usize,
}

impl Settings {
    /// The settings file of the method (`npe`, `nle`, `nre`, or their sequential versions), or its
    /// defaults.
    fn read(method: &str, path: Option<&PathBuf>) -> Result<Self> {
        Ok(match method {
            "rej-abc" => Settings::RejAbc(super::super::read_config(path)?),
            "smc-abc" => Settings::SmcAbc(super::super::read_config(path)?),
            "nle" | "snle" => Settings::Nle(super::super::read_config(path)?),
            "nre" | "snre" => Settings::Nre(super::super::read_config(path)?),
            "nre-c" | "bnre" => {
                let mut config: NreConfig = super::super::read_config(path)?;
                match (method, &config.loss) {
                    ("nre-c", NreLoss::Multiclass { .. }) | ("bnre", NreLoss::Balanced { .. }) => {}
                    ("nre-c", _) => config.loss = NreLoss::multiclass(),
                    _ => config.loss = NreLoss::balanced(),
                }
                Settings::Nre(config)
            }
            "cpvae" | "upvae" => {
                let kind = if method == "cpvae" { VaeKind::Conditional } else { VaeKind::Unconditional };
                let file = path.map(|path| SettingsFile::read(path)).transpose()?;
                if let Some(file) = &file {
                    // Fail before the first task runs, not after it.
                    file.over(&VaeConfig::for_sbibm_task(kind, "two_moons"))?;
                }
                Settings::Vae(kind, file)
            }
            "tsnpe" => Settings::Npe(crate::settings::read_over(path, NpeConfig::tsnpe())?),
            _ => Settings::Npe(super::super::read_config(path)?),
        })
    }

    /// Train the method on `data` from `task` with training seed `seed`.
    fn train(
        &self,
        task: &Task,
        data: Dataset,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<Trained> {
        let report_dropped = |dropped: lindley::data::DroppedRows| {
            if dropped.count > 0 {
                tracing::info!("{}: {dropped}", task.name);
            }
        };
        let (posterior, report): (Box<dyn Posterior>, _) = match self {
            Settings::Npe(config) => {
                let mut config = config.clone();
                config.training.seed = seed;
                let mut npe = Npe::for_task(task, config);
                report_dropped(npe.append_simulations(data)?);
                let (posterior, report) = npe.train(progress)?;
                (Box::new(posterior), report)
            }
            Settings::Nle(config) => {
                let mut config = config.clone();
                config.training.seed = seed;
                let mut nle = Nle::for_task(task, config);
                report_dropped(nle.append_simulations(data)?);
                let (posterior, report) = nle.train(progress)?;
                (Box::new(posterior), report)
            }
            Settings::Nre(config) => {
                let mut config = config.clone();
                config.training.seed = seed;
                let mut nre = Nre::for_task(task, config);
                report_dropped(nre.append_simulations(data)?);
                let (posterior, report) = nre.train(progress)?;
                (Box::new(posterior), report)
            }
            Settings::Vae(kind, file) => {
                let paper = VaeConfig::for_sbibm_task(*kind, &task.name);
                let mut config = match file {
                    Some(file) => file.over(&paper)?,
                    None => paper,
                };
                config.kind = *kind;
                config.training.seed = seed;
                let mut vae = Vae::for_task(task, config);
                report_dropped(vae.append_simulations(data)?);
                let (posterior, report) = vae.train(progress)?;
                (Box::new(posterior), report)
            }
            Settings::RejAbc(_) | Settings::SmcAbc(_) => bail!("ABC methods train no network"),
        };
        Ok(Trained { posterior, seconds: report.seconds, epochs: report.epochs })
    }

    /// Run the sequential version of the method at `observation`: `rounds` rounds of `budget`
    /// simulations in all, proposals, simulations and training seeded by `seed`.
    fn train_sequential(
        &self,
        task: &Task,
        observation: ArrayView1<f64>,
        budget: usize,
        rounds: usize,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<Trained> {
        fn run<M: RoundMethod>(
            mut method: M,
            task: &Task,
            observation: ArrayView1<f64>,
            budget: usize,
            config: &SequentialConfig,
            progress: &mut dyn FnMut(&EpochProgress),
        ) -> Result<Trained>
        where
            M::Posterior: 'static,
        {
            let (posterior, report) =
                run_rounds(&mut method, task.simulator.as_ref(), observation, budget, config, &mut |_, p| progress(p))?;
            for round in &report.rounds {
                for warning in &round.warnings {
                    tracing::warn!("{}, round {}: {warning}", task.name, round.round);
                }
            }
            Ok(Trained { posterior: Box::new(posterior), seconds: report.seconds, epochs: report.total_epochs() })
        }
        let config = SequentialConfig { rounds, seed, ..Default::default() };
        match self {
            Settings::Npe(c) => {
                let mut c = c.clone();
                c.training.seed = seed;
                run(Npe::for_task(task, c), task, observation, budget, &config, progress)
            }
            Settings::Nle(c) => {
                let mut c = c.clone();
                c.training.seed = seed;
                run(Nle::for_task(task, c), task, observation, budget, &config, progress)
            }
            Settings::Nre(c) => {
                let mut c = c.clone();
                c.training.seed = seed;
                run(Nre::for_task(task, c), task, observation, budget, &config, progress)
            }
            Settings::Vae(..) => bail!("the VAE methods have no sequential rounds"),
            Settings::RejAbc(_) | Settings::SmcAbc(_) => bail!("ABC methods have no sequential rounds"),
        }
    }
}

/// One ABC run per observation (the whole budget each), 10,000 KDE samples, C2ST; prints the
/// task's row and returns its records.
fn run_abc(args: &Args, settings: &Settings, task: &Task, observations: &[usize]) -> Result<Vec<Record>> {
    let name = &task.name;
    let published = published::c2st(&args.method, name, args.budget);
    let mut records = Vec::new();
    let bar = progress::counter(&format!("{name}: {} + C2ST", args.method), observations.len() as u64);
    for &k in observations {
        bar.set_message(format!("observation {k}"));
        let reference = sbibm::reference(name, k)?;
        let problem = AbcProblem::for_task(task, reference.observation.view());
        let seed = args.seed + k as u64;
        let posterior = match settings {
            Settings::RejAbc(config) => rejection_abc(&problem, args.budget, config, seed)?,
            Settings::SmcAbc(config) => smc_abc(&problem, args.budget, config, seed)?,
            _ => bail!("{} is not an ABC method", args.method),
        };
        if posterior.dropped.count > 0 {
            tracing::info!("{name}, observation {k}: {}", posterior.dropped);
        }
        let samples = posterior.sample(args.samples, seed, &Resampling::default())?;
        records.push(Record::scored(
            args,
            name,
            k,
            reference.posterior_samples.view(),
            samples,
            None,
            (posterior.seconds, posterior.populations),
        )?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mean = records.iter().map(|r| r.c2st).sum::<f64>() / records.len() as f64;
    let (published_text, delta) = match published {
        Some(p) => (format!("{p:.2}"), format!("{:+.3}", mean - p)),
        None => ("—".into(), "—".into()),
    };
    println!(
        "{:<24} {:>8.3} {:>10} {:>8} {:>8} {:>9.1} {:>12.3}",
        name,
        mean,
        published_text,
        delta,
        median(&records.iter().map(|r| r.epochs as f64).collect::<Vec<_>>()),
        median(&records.iter().map(|r| r.train_seconds).collect::<Vec<_>>()),
        median(&records.iter().map(|r| r.sample_seconds).collect::<Vec<_>>())
    );
    Ok(records)
}

/// Parse `1-5` or `1,3,4`.
fn parse_observations(text: &str) -> Result<Vec<usize>> {
    let parse = |s: &str| s.trim().parse::<usize>().with_context(|| format!("'{s}' is not an observation number"));
    let list = if let Some((a, b)) = text.split_once('-') {
        (parse(a)?..=parse(b)?).collect()
    } else {
        text.split(',').map(parse).collect::<Result<Vec<_>>>()?
    };
    if list.is_empty() || list.iter().any(|&k| !(1..=5).contains(&k)) {
        bail!("observations must be within 1-5 (the vendored reference posteriors), got '{text}'");
    }
    Ok(list)
}

/// Run the benchmark and print its table.
pub fn run(args: Args) -> Result<()> {
    const METHODS: [&str; 13] =
        ["npe", "nle", "nre", "nre-c", "bnre", "cpvae", "upvae", "snpe", "tsnpe", "snle", "snre", "rej-abc", "smc-abc"];
    if !METHODS.contains(&args.method.as_str()) {
        bail!("unknown method '{}'; this build benchmarks: {}", args.method, METHODS.join(", "));
    }
    let sequential = ["snpe", "tsnpe", "snle", "snre"].contains(&args.method.as_str());
    let observations = parse_observations(&args.observations)?;
    let tasks: Vec<String> = if args.tasks == "all" {
        sbibm::NAMES.iter().filter(|name| sbibm::has_reference(name)).map(|s| s.to_string()).collect()
    } else {
        args.tasks.split(',').map(|s| s.trim().to_string()).collect()
    };
    let settings = Settings::read(&args.method, args.config.as_ref())?;
    let mut records = Vec::new();
    println!(
        "{:<24} {:>8} {:>10} {:>8} {:>8} {:>9} {:>12}",
        "task", "C2ST", "published", "Δ", "epochs", "train s", "sample-10k s"
    );
    for name in &tasks {
        let task = sbibm::task(name)?;
        if matches!(settings, Settings::RejAbc(_) | Settings::SmcAbc(_)) {
            records.extend(run_abc(&args, &settings, &task, &observations)?);
            write_records(args.json.as_deref(), &records)?;
            continue;
        }
        let amortised = if sequential {
            None
        } else {
            let (theta, x) = task.sample_joint(args.budget, args.seed)?;
            let data = lindley::data::Dataset::new(theta, x)?;
            let (bar, mut update) = progress::training(name);
            let trained = settings.train(&task, data, args.seed, &mut update)?;
            bar.finish_and_clear();
            Some(trained)
        };
        let published = published::c2st(&args.method, name, args.budget);
        let task_start = records.len();
        let bar = progress::counter(&format!("{name}: sample + C2ST"), observations.len() as u64);
        for &k in &observations {
            bar.set_message(format!("observation {k}"));
            let reference = sbibm::reference(name, k)?;
            let per_observation;
            let trained = match &amortised {
                Some(trained) => trained,
                None => {
                    let label = format!("{name}, observation {k}");
                    let (bar, mut update) = progress::training(&label);
                    per_observation = settings.train_sequential(
                        &task,
                        reference.observation.view(),
                        args.budget,
                        args.rounds,
                        args.seed,
                        &mut update,
                    )?;
                    bar.finish_and_clear();
                    &per_observation
                }
            };
            let start = Instant::now();
            let samples = trained.posterior.sample(
                args.samples,
                reference.observation.view(),
                args.seed + k as u64,
                &SampleOptions::default(),
            )?;
            let sample_seconds = start.elapsed().as_secs_f64();
            for warning in &samples.warnings {
                tracing::warn!("{name}, observation {k}: {warning}");
            }
            let record = Record::scored(
                &args,
                name,
                k,
                reference.posterior_samples.view(),
                samples,
                Some(sample_seconds),
                (trained.seconds, trained.epochs),
            )?;
            let score = record.c2st;
            records.push(record);
            write_records(args.json.as_deref(), &records)?;
            tracing::info!(
                "{name}, observation {k}: C2ST {score:.3}, {} epochs, train {:.1} s",
                trained.epochs,
                trained.seconds
            );
            bar.inc(1);
        }
        bar.finish_and_clear();
        let task_records = &records[task_start..];
        let mean = task_records.iter().map(|r| r.c2st).sum::<f64>() / task_records.len() as f64;
        let sample_seconds = median(&task_records.iter().map(|r| r.sample_seconds).collect::<Vec<_>>());
        let train_seconds = median(&task_records.iter().map(|r| r.train_seconds).collect::<Vec<_>>());
        let epochs = median(&task_records.iter().map(|r| r.epochs as f64).collect::<Vec<_>>());
        let (published_text, delta) = match published {
            Some(p) => (format!("{p:.2}"), format!("{:+.3}", mean - p)),
            None => ("—".into(), "—".into()),
        };
        println!(
            "{:<24} {:>8.3} {:>10} {:>8} {:>8.0} {:>9.1} {:>12.3}",
            name, mean, published_text, delta, epochs, train_seconds, sample_seconds
        );
    }
    Ok(())
}

/// Write `records` as a JSON array to `path`, if given.
fn write_records(path: Option<&std::path::Path>, records: &[Record]) -> Result<()> {
    if let Some(path) = path {
        let text = serde_json::to_string_pretty(records)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
