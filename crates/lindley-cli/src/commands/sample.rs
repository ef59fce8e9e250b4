//! `lindley sample` and `lindley map`: use a trained model for one observation.

use std::path::PathBuf;

use anyhow::{Result, bail};
use lindley::inference::posterior::MapOptions;
use lindley::inference::{AnyPosterior, Posterior, SampleOptions};
use ndarray::Axis;

/// Arguments of `lindley sample`.
#[derive(clap::Args)]
pub struct Args {
    /// Model file written by `lindley train`.
    #[arg(long)]
    model: PathBuf,
    /// Observation: CSV with a header row and one data row, or a `.npy` vector.
    #[arg(long)]
    observation: PathBuf,
    /// Number of samples.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    num: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600.0)]
    max_seconds: f64,
    /// Output CSV (header: the parameter names) or `.npy`.
    #[arg(long)]
    out: PathBuf,
    /// For NLE/NRE models: sample with this MCMC kernel instead of the one stored in the model
    /// (slice, metropolis or nuts).
    #[arg(long, visible_alias = "sampler")]
    mcmc: Option<super::train::SamplerKind>,
}

/// Draw samples and write them.
pub fn run(args: Args) -> Result<()> {
    if args.num == 0 {
        bail!("-n must be at least 1 sample");
    }
    let mut posterior = AnyPosterior::load(&args.model)?;
    if let Some(kind) = args.mcmc {
        let method = posterior.header().method.name();
        let AnyPosterior::Mcmc(mcmc) = &mut posterior else {
            bail!("--mcmc applies to NLE and NRE models; this {method} model is sampled directly");
        };
        let mut settings = mcmc.settings().clone();
        settings.sampler = kind.sampler();
        if matches!(kind, super::train::SamplerKind::Nuts) {
            // NUTS draws are nearly independent: no thinning needed.
            settings.thin = 1;
        }
        mcmc.set_settings(settings);
    }
    super::check_fits_in_memory(&format!("{} samples", args.num), args.num, posterior.parameter_dim())?;
    let observation = super::read_observation(&args.observation, posterior.data_dim())?;
    let options = SampleOptions { max_seconds: args.max_seconds, ..Default::default() };
    let samples = posterior.sample(args.num, observation.view(), args.seed, &options)?;
    for warning in &samples.warnings {
        tracing::warn!("{warning}");
    }
    lindley::io::write_matrix(&args.out, &posterior.header().parameter_names, samples.theta.view())?;
    let mean = samples.theta.mean_axis(Axis(0)).expect("at least one sample");
    tracing::info!(
        "wrote {} samples to {} in {:.2} s ({} {:.1}%); posterior mean {}",
        args.num,
        args.out.display(),
        samples.seconds,
        if matches!(posterior, AnyPosterior::Mcmc(_)) { "MCMC acceptance" } else { "acceptance rate" },
        100.0 * samples.acceptance_rate,
        format_named(&posterior.header().parameter_names, mean.as_slice().expect("contiguous"))
    );
    Ok(())
}

/// Arguments of `lindley map`.
#[derive(clap::Args)]
pub struct MapArgs {
    /// Model file written by `lindley train`.
    #[arg(long)]
    model: PathBuf,
    /// Observation: CSV with a header row and one data row, or a `.npy` vector.
    #[arg(long)]
    observation: PathBuf,
    /// Random seed (candidate draws).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Print the MAP estimate, one `name = value` line per parameter.
pub fn run_map(args: MapArgs) -> Result<()> {
    let posterior = AnyPosterior::load(&args.model)?;
    let observation = super::read_observation(&args.observation, posterior.data_dim())?;
    let map = posterior.map(observation.view(), &MapOptions::default(), args.seed)?;
    for (name, value) in posterior.header().parameter_names.iter().zip(map.iter()) {
        println!("{name} = {value}");
    }
    Ok(())
}

/// `name=value, …` with four significant decimals.
pub fn format_named(names: &[String], values: &[f64]) -> String {
    names.iter().zip(values).map(|(n, v)| format!("{n}={v:.4}")).collect::<Vec<_>>().join(", ")
}
