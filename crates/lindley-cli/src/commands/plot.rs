//! `lindley plot`: draw plots of sample files as SVG or PNG.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

/// The plots `lindley plot` draws.
#[derive(clap::Subcommand)]
pub enum Plot {
    /// Pair (corner) plot of posterior samples: histograms on the diagonal, scatter plots below,
    /// optionally reference samples in orange and the true parameters in red.
    Pairs(PairsArgs),
}

/// Arguments of `lindley plot pairs`.
#[derive(clap::Args)]
pub struct PairsArgs {
    /// Samples: CSV with a header row of parameter names, or `.npy` `[n, D]`.
    #[arg(long)]
    samples: PathBuf,
    /// Reference samples to overlay (same columns).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// True parameters: CSV with a header row and one data row, or a `.npy` vector.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Output file: .svg or .png (the extension chooses the format).
    #[arg(long)]
    out: PathBuf,
}

/// Draw the chosen plot.
pub fn run(plot: Plot) -> Result<()> {
    let Plot::Pairs(args) = plot;
    let (names, samples) = lindley::io::read_matrix(&args.samples)?;
    let dim = samples.ncols();
    let reference = match &args.reference {
        Some(path) => {
            let (_, values) = lindley::io::read_matrix(path)?;
            if values.ncols() != dim {
                bail!("{}: {} columns, but the samples have {dim}", path.display(), values.ncols());
            }
            Some(values)
        }
        None => None,
    };
    let truth = match &args.truth {
        Some(path) => Some(super::read_observation(path, dim).context("reading the true parameters")?),
        None => None,
    };
    lindley::plot::pair_plot(
        samples.view(),
        reference.as_ref().map(|r| r.view()),
        truth.as_ref().map(|t| t.view()),
        &names,
    )
    .with_context(|| format!("plotting {}", args.samples.display()))?
    .save(&args.out)?;
    tracing::info!("wrote a pair plot of {} samples to {}", samples.nrows(), args.out.display());
    Ok(())
}
