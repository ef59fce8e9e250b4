//! `lindley simulate`: draw θ from a prior and simulate x, from a built-in task or from a user's
//! simulator program (any language; see `lindley::simulators::external` for the protocol).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use lindley::data::Dataset;
use lindley::distributions::Distribution;
use lindley::rng::substream;
use lindley::simulators::Simulator;
use lindley::simulators::external::{ExternalConfig, ExternalSimulator, probe_data_dim};

/// Where simulations come from: a built-in task, or a program plus a prior.
#[derive(clap::Args, Clone, Debug)]
pub struct Source {
    /// Built-in task (see `lindley tasks`).
    #[arg(long, conflicts_with = "program")]
    pub task: Option<String>,
    /// A simulator program: θ rows arrive as CSV on stdin, x rows are expected as CSV on stdout,
    /// the seed is in $LINDLEY_SEED. Given as one string, split like a shell command line
    /// (no shell is involved: use `sh -c '...'` for pipes).
    #[arg(long, requires = "prior")]
    pub program: Option<String>,
    /// Prior of the parameters, a TOML or JSON file (e.g. family = "uniform", low = [...],
    /// high = [...]); needed with --program or user data.
    #[arg(long)]
    pub prior: Option<PathBuf>,
    /// θ rows sent to the program per call.
    #[arg(long, default_value_t = 1000)]
    pub program_batch: usize,
    /// Copies of the program run in parallel (one batch each).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
}

/// The prior, simulator and names described by a [`Source`].
pub struct Resolved {
    /// Built-in task name, if any.
    pub task: Option<String>,
    /// The prior.
    pub prior: Distribution,
    /// The simulator.
    pub simulator: Arc<dyn Simulator>,
    /// Parameter names.
    pub parameter_names: Vec<String>,
    /// Data names.
    pub data_names: Vec<String>,
}

impl Source {
    /// Resolve the task or program into a prior and a simulator.
    pub fn resolve(&self) -> Result<Resolved> {
        if let Some(name) = &self.task {
            let task = super::task(name)?;
            return Ok(Resolved {
                task: Some(task.name.clone()),
                prior: task.prior.clone(),
                simulator: task.simulator.clone(),
                parameter_names: task.parameter_names.clone(),
                data_names: task.data_names.clone(),
            });
        }
        let (Some(program), Some(prior_path)) = (&self.program, &self.prior) else {
            bail!("say where simulations come from: --task NAME, or --program CMD with --prior FILE");
        };
        let prior = super::read_prior(prior_path)?;
        let command = split_command(program)?;
        let probe = prior.sample(1, &mut substream(0, u64::MAX));
        let data_dim = probe_data_dim(&command, probe.row(0).as_slice().unwrap_or_default())
            .with_context(|| format!("cannot run the simulator program `{program}`"))?;
        let config = ExternalConfig {
            batch_size: self.program_batch,
            workers: self.workers,
            ..ExternalConfig::new(command, prior.dim(), data_dim)
        };
        let simulator = ExternalSimulator::new(config)?;
        let data_names = (1..=data_dim).map(|i| format!("x_{i}")).collect();
        let parameter_names = (1..=prior.dim()).map(|i| format!("theta_{i}")).collect();
        Ok(Resolved { task: None, prior, simulator: Arc::new(simulator), parameter_names, data_names })
    }
}

impl Resolved {
    /// Draw `n` parameters from the prior and simulate them.
    pub fn simulate(&self, n: usize, seed: u64) -> Result<Dataset> {
        let columns = self.prior.dim() + self.simulator.data_dim();
        super::check_fits_in_memory(&format!("{n} simulations"), n, columns)?;
        let theta = self.prior.sample(n, &mut substream(seed, u64::MAX));
        let x = self.simulator.simulate(theta.view(), seed)?;
        Ok(Dataset::new(theta, x)?.with_names(self.parameter_names.clone(), self.data_names.clone())?)
    }
}

/// Split a command line into words with shell-like quoting ('…', "…", backslash escapes).
pub fn split_command(line: &str) -> Result<Vec<String>> {
    let words =
        shlex::split(line).with_context(|| format!("cannot parse the command `{line}` (unbalanced quotes?)"))?;
    if words.is_empty() {
        bail!("the simulator command is empty");
    }
    Ok(words)
}

/// Arguments of `lindley simulate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// Number of simulations.
    #[arg(short = 'n', long)]
    num: usize,
    /// Random seed (prior draws and simulator noise).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file: `.csv` (parameter columns, then data columns, named in the header) or `.npz`
    /// (arrays theta, x).
    #[arg(long)]
    out: PathBuf,
}

/// Simulate and write the pairs.
pub fn run(args: Args) -> Result<()> {
    let resolved = args.source.resolve()?;
    let start = std::time::Instant::now();
    let data = resolved.simulate(args.num, args.seed)?;
    let failed = data.x().rows().into_iter().filter(|r| r.iter().any(|v| !v.is_finite())).count();
    data.save(&args.out)?;
    tracing::info!(
        "wrote {} simulations ({} failed with NaN/Inf values) to {} in {:.1} s",
        data.len(),
        failed,
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
