//! `lindley train <method>`: train an inference method on simulations from a task, a simulator
//! program, or the user's own files, and write a model file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lindley::data::Dataset;
use lindley::flows::EstimatorKind;
use lindley::inference::{Npe, NpeConfig};

use super::simulate::Source;
use crate::progress;

/// The methods `lindley train` knows.
#[derive(clap::Subcommand)]
pub enum Method {
    /// Neural posterior estimation: a conditional flow q(θ | x), amortised over observations.
    Npe(Args),
}

/// Arguments shared by every method.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// Number of simulations to run (with --task or --program).
    #[arg(long, default_value_t = 10_000)]
    budget: usize,
    /// Train on simulations in a file instead: `.csv` with a header row whose first columns are
    /// the parameters (as many as the prior has) and the rest the data, or `.npz` with arrays
    /// theta and x. Needs --prior (or --task for a built-in prior).
    #[arg(long, conflicts_with_all = ["program", "theta"])]
    data: Option<PathBuf>,
    /// Parameters in a file of their own (`.csv` or `.npy`), with --x.
    #[arg(long, requires = "x")]
    theta: Option<PathBuf>,
    /// Simulated data in a file of their own (`.csv` or `.npy`), with --theta.
    #[arg(long, requires = "theta")]
    x: Option<PathBuf>,
    /// Settings file (TOML) with [estimator] and [training] tables; flags below override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Density estimator: nsf, nsf_autoregressive, maf, affine_coupling, mdn, gaussian.
    #[arg(long)]
    density: Option<EstimatorKind>,
    /// Flow layers.
    #[arg(long)]
    transforms: Option<usize>,
    /// Hidden units per conditioner layer.
    #[arg(long)]
    hidden: Option<usize>,
    /// Mini-batch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    learning_rate: Option<f64>,
    /// Epochs without validation improvement before stopping.
    #[arg(long)]
    patience: Option<usize>,
    /// Upper limit on epochs.
    #[arg(long)]
    max_epochs: Option<usize>,
    /// Seed of the simulations, the network initialisation and the training order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Model file to write (safetensors with a JSON header).
    #[arg(long)]
    out: PathBuf,
    /// Also draw the training and validation loss per epoch to this SVG file.
    #[arg(long)]
    loss_plot: Option<PathBuf>,
}

impl Args {
    /// The settings file with the command-line overrides applied.
    fn npe_config(&self) -> Result<NpeConfig> {
        let mut config: NpeConfig = super::read_config(self.config.as_ref())?;
        if let Some(kind) = self.density {
            config.estimator.kind = kind;
        }
        let set = |target: &mut usize, value: Option<usize>| {
            if let Some(v) = value {
                *target = v;
            }
        };
        set(&mut config.estimator.transforms, self.transforms);
        set(&mut config.estimator.hidden, self.hidden);
        set(&mut config.training.batch_size, self.batch_size);
        set(&mut config.training.patience, self.patience);
        set(&mut config.training.max_epochs, self.max_epochs);
        if let Some(lr) = self.learning_rate {
            config.training.learning_rate = lr;
        }
        config.training.seed = self.seed;
        Ok(config)
    }
}

/// Train the chosen method and write its model file.
pub fn run(method: Method) -> Result<()> {
    let Method::Npe(args) = method;
    let config = args.npe_config()?;
    let (mut npe, data) = if args.data.is_some() || args.theta.is_some() {
        let prior = match (&args.source.prior, &args.source.task) {
            (Some(path), _) => super::read_prior(path)?,
            (None, Some(name)) => super::task(name)?.prior,
            (None, None) => bail!("training on a data file needs the prior: --prior FILE (or --task NAME)"),
        };
        let data = match (&args.data, &args.theta, &args.x) {
            (Some(path), _, _) => Dataset::load(path, Some(prior.dim()))?,
            (None, Some(theta), Some(x)) => Dataset::load_pair(theta, x)?,
            _ => bail!("give the simulations as --data FILE, or as --theta FILE with --x FILE"),
        };
        let names = data.parameter_names().to_vec();
        let data_names = data.data_names().to_vec();
        (Npe::new(prior, config).with_names(names, data_names)?, data)
    } else {
        let resolved = args.source.resolve()?;
        let start = std::time::Instant::now();
        let data = resolved.simulate(args.budget, args.seed).context("simulation failed")?;
        tracing::info!("simulated {} pairs in {:.1} s", data.len(), start.elapsed().as_secs_f64());
        let npe = Npe::new(resolved.prior.clone(), config)
            .with_names(resolved.parameter_names.clone(), resolved.data_names.clone())?;
        (npe.with_task(resolved.task.clone()), data)
    };
    let dropped = npe.append_simulations(data)?;
    if dropped.count > 0 {
        tracing::warn!("{dropped}");
    }
    let (bar, mut update) = progress::training("training NPE");
    let (posterior, report) = npe.train(&mut update)?;
    bar.finish_and_clear();
    posterior.save(&args.out)?;
    if let Some(path) = &args.loss_plot {
        lindley::plot::save_svg(path, &lindley::plot::training_curve(&report)?)?;
        tracing::info!("wrote the training curve to {}", path.display());
    }
    let summary = &posterior.header().training;
    tracing::info!(
        "trained on {} simulations: {} epochs (best {}), validation loss {:.4}, {:.1} s ({:.3} s/epoch); wrote {}",
        summary.simulations,
        report.epochs,
        report.best_epoch,
        summary.best_validation_loss,
        report.seconds,
        report.seconds / report.epochs.max(1) as f64,
        args.out.display()
    );
    Ok(())
}
