//! `lindley train abc` and `lindley train smcabc`: approximate Bayesian computation for one
//! observation. ABC trains no model, so these write posterior samples (CSV with the parameter
//! names as header, or `.npy`) instead of a model file.

use std::path::PathBuf;

use anyhow::{Result, bail};
use lindley::inference::abc::{
    AbcPosterior, AbcProblem, Bandwidth, Distance, RejectionConfig, Resampling, Selection, SmcConfig, rejection_abc,
    smc_abc,
};
use ndarray::Axis;

use super::simulate::Source;

/// Distances selectable on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum DistanceKind {
    /// Euclidean distance.
    L2,
    /// Manhattan distance.
    L1,
}

/// How the final samples are drawn from the ABC particles.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ResampleKind {
    /// Gaussian kernel density estimate with cross-validated bandwidth, restricted to the prior
    /// support (sbibm's final step).
    Kde,
    /// Resample the particles by weight (no smoothing; repeats particles).
    Particles,
}

/// Arguments shared by both ABC methods.
#[derive(clap::Args)]
pub struct CommonArgs {
    #[command(flatten)]
    source: Source,
    /// Simulation budget (failed simulations count against it).
    #[arg(long, default_value_t = 10_000)]
    budget: usize,
    /// Observation x_o: CSV with a header row and one data row, or a `.npy` vector. ABC runs for
    /// this one observation.
    #[arg(long)]
    observation: PathBuf,
    /// Posterior samples to write.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    samples: usize,
    /// How the samples are drawn from the accepted particles.
    #[arg(long, value_enum, default_value = "kde")]
    resample: ResampleKind,
    /// Distance between simulated and observed data [default: l2].
    #[arg(long, value_enum)]
    distance: Option<DistanceKind>,
    /// Compare raw data values instead of dividing each by its standard deviation over the
    /// simulations.
    #[arg(long)]
    no_standardize: bool,
    /// Settings file (TOML) with the fields of lindley::inference::abc::RejectionConfig or
    /// SmcConfig; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed of the prior draws, simulations and resampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Posterior samples file to write: `.csv` (header: the parameter names) or `.npy`. ABC has no
    /// model to save.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `lindley train abc`.
#[derive(clap::Args)]
pub struct RejectionArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Keep the closest fraction of the simulations (e.g. 0.01).
    #[arg(long, conflicts_with_all = ["keep", "epsilon"])]
    quantile: Option<f64>,
    /// Keep the closest N simulations [default: 100, as in sbibm].
    #[arg(long, conflicts_with = "epsilon")]
    keep: Option<usize>,
    /// Keep every simulation within this distance.
    #[arg(long)]
    epsilon: Option<f64>,
    /// Correct the kept parameters by local-linear regression on the data (Beaumont et al. 2002).
    #[arg(long)]
    regression_adjustment: bool,
}

/// Arguments of `lindley train smcabc`.
#[derive(clap::Args)]
pub struct SmcArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Particles per population [default: 100 for budgets up to 10,000, else 1000].
    #[arg(long)]
    population: Option<usize>,
    /// Each population's ε is this quantile of the previous population's distances [default: 0.2].
    #[arg(long)]
    epsilon_quantile: Option<f64>,
    /// Resample a population whose effective sample size falls below this fraction of its size.
    #[arg(long)]
    ess_min: Option<f64>,
}

impl CommonArgs {
    /// The --distance flag, if given.
    fn distance(&self) -> Option<Distance> {
        self.distance.map(|kind| match kind {
            DistanceKind::L2 => Distance::L2,
            DistanceKind::L1 => Distance::L1,
        })
    }

    /// Resolve the simulator, read x_o, run `method`, sample and write.
    fn run(&self, label: &str, method: impl FnOnce(&AbcProblem) -> lindley::Result<AbcPosterior>) -> Result<()> {
        if self.samples == 0 {
            bail!("--samples must be at least 1");
        }
        let resolved = self.source.resolve()?;
        let observation = super::read_observation(&self.observation, resolved.simulator.data_dim())?;
        let problem = AbcProblem {
            prior: &resolved.prior,
            simulator: resolved.simulator.as_ref(),
            observation: observation.view(),
            summary: None,
        };
        let posterior = method(&problem)?;
        if posterior.dropped.count > 0 {
            tracing::warn!("{}", posterior.dropped);
        }
        let resampling = match self.resample {
            ResampleKind::Kde => Resampling::Kde { bandwidth: Bandwidth::CrossValidated, weighted: true },
            ResampleKind::Particles => Resampling::Particles,
        };
        let samples = posterior.sample(self.samples, self.seed, &resampling)?;
        lindley::io::write_matrix(&self.out, &resolved.parameter_names, samples.theta.view())?;
        let mean = samples.theta.mean_axis(Axis(0)).expect("at least one sample");
        tracing::info!(
            "{label}: {} simulations, {} population(s), {} particles (ESS {:.1}), ε = {:.4}, {:.1} s; wrote {} samples \
             to {}; posterior mean {}",
            posterior.simulations,
            posterior.populations,
            posterior.particles.nrows(),
            posterior.ess(),
            posterior.epsilon,
            posterior.seconds,
            self.samples,
            self.out.display(),
            super::sample::format_named(&resolved.parameter_names, mean.as_slice().expect("contiguous"))
        );
        Ok(())
    }
}

/// `lindley train abc`.
pub fn run_rejection(args: &RejectionArgs) -> Result<()> {
    let common = &args.common;
    let mut config: RejectionConfig = super::read_config(common.config.as_ref())?;
    if let Some(distance) = common.distance() {
        config.distance = distance;
    }
    if common.no_standardize {
        config.standardize = false;
    }
    if let Some(q) = args.quantile {
        config.selection = Selection::Quantile(q);
    } else if let Some(eps) = args.epsilon {
        config.selection = Selection::Epsilon(eps);
    } else if let Some(k) = args.keep {
        config.selection = Selection::Count(k);
    }
    if args.regression_adjustment {
        config.regression_adjustment = true;
    }
    common.run("rejection ABC", |problem| rejection_abc(problem, common.budget, &config, common.seed))
}

/// `lindley train smcabc`.
pub fn run_smc(args: &SmcArgs) -> Result<()> {
    let common = &args.common;
    let mut config: SmcConfig = super::read_config(common.config.as_ref())?;
    if let Some(distance) = common.distance() {
        config.distance = distance;
    }
    if common.no_standardize {
        config.standardize = false;
    }
    if args.population.is_some() {
        config.population_size = args.population;
    }
    if let Some(q) = args.epsilon_quantile {
        config.epsilon_quantile = q;
    }
    if args.ess_min.is_some() {
        config.ess_min = args.ess_min;
    }
    common.run("SMC-ABC", |problem| smc_abc(problem, common.budget, &config, common.seed))
}
