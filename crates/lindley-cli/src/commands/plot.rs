//! `lindley plot`: draw plots of sample files as SVG or PNG.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lindley::boed::problems::{DesignBox, problem};
use lindley::boed::sequential::SequentialRun;
use ndarray::{Array2, Axis};
use serde_json::Value;

/// The plots `lindley plot` draws.
#[derive(clap::Subcommand)]
pub enum Plot {
    /// Pair (corner) plot of posterior samples: histograms on the diagonal, scatter plots below,
    /// optionally reference samples in orange and the true parameters in red.
    Pairs(PairsArgs),
    /// MPR-GA restart paths in a 2-D design space (Figure 1 of Klein et al. 2026) from the JSON
    /// of `lindley design`, optionally over an EIG surface (the CSV of `lindley eig` on a grid).
    DesignTrace(DesignTraceArgs),
    /// EIG over designs from the CSV of `lindley eig`: a curve (one design coordinate) or a heat
    /// map (two).
    EigSurface(EigSurfaceArgs),
    /// One run of `lindley sequential`: design path with the true parameters and the final
    /// posterior particles, estimated EIG and posterior standard deviations per step.
    Sequential(SequentialPlotArgs),
}

/// Arguments of `lindley plot design-trace`.
#[derive(clap::Args)]
pub struct DesignTraceArgs {
    /// JSON written by `lindley design`.
    #[arg(long)]
    design: PathBuf,
    /// EIG surface: CSV written by `lindley eig` (design columns, `eig`, `stderr`), e.g. on a grid.
    #[arg(long)]
    surface: Option<PathBuf>,
    /// Output file: .svg or .png (the extension chooses the format).
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `lindley plot eig-surface`.
#[derive(clap::Args)]
pub struct EigSurfaceArgs {
    /// CSV written by `lindley eig` (design columns, then `eig` and `stderr`).
    #[arg(long)]
    eig: PathBuf,
    /// Output file: .svg or .png (the extension chooses the format).
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `lindley plot sequential`.
#[derive(clap::Args)]
pub struct SequentialPlotArgs {
    /// JSON written by `lindley sequential`.
    #[arg(long)]
    run: PathBuf,
    /// Policy whose run is drawn (default: the first in the file).
    #[arg(long)]
    policy: Option<String>,
    /// Index of the rollout drawn (0-based).
    #[arg(long, default_value_t = 0)]
    rollout: usize,
    /// Output file: .svg or .png (the extension chooses the format).
    #[arg(long)]
    out: PathBuf,
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
    match plot {
        Plot::Pairs(args) => pairs(args),
        Plot::DesignTrace(args) => design_trace(args),
        Plot::EigSurface(args) => eig_surface(args),
        Plot::Sequential(args) => sequential(args),
    }
}

/// Read a JSON document.
fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// The design box of the problem named by a document's `problem` field.
fn design_box(document: &Value, path: &Path) -> Result<(String, DesignBox)> {
    let name = document["problem"].as_str().with_context(|| format!("{}: no \"problem\" field", path.display()))?;
    Ok((name.to_string(), problem(name)?.design_box()))
}

/// A `lindley eig` CSV: design column names, designs `[n, D]`, EIG and standard errors.
struct EigTable {
    names: Vec<String>,
    designs: Array2<f64>,
    eig: Vec<f64>,
    stderr: Option<Vec<f64>>,
}

/// The designs and the `eig` (and `stderr`) columns of a `lindley eig` CSV.
fn read_eig_table(path: &Path) -> Result<EigTable> {
    let (names, table) = lindley::io::read_matrix(path).with_context(|| format!("cannot read {}", path.display()))?;
    let Some(eig) = names.iter().position(|n| n == "eig") else {
        bail!("{}: no `eig` column (expected the CSV written by `lindley eig`)", path.display());
    };
    let stderr = names.iter().position(|n| n == "stderr");
    let design_columns: Vec<usize> = (0..names.len()).filter(|&j| j != eig && Some(j) != stderr).collect();
    let designs = table.select(Axis(1), &design_columns);
    let design_names = design_columns.iter().map(|&j| names[j].clone()).collect();
    Ok(EigTable {
        names: design_names,
        designs,
        eig: table.column(eig).to_vec(),
        stderr: stderr.map(|j| table.column(j).to_vec()),
    })
}

fn design_trace(args: DesignTraceArgs) -> Result<()> {
    let document = read_json(&args.design)?;
    let (_, bounds) = design_box(&document, &args.design)?;
    let field =
        |name: &str| -> Result<Option<Vec<Vec<f64>>>> {
            match document.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => Ok(Some(serde_json::from_value(value.clone()).with_context(|| {
                    format!("{}: field \"{name}\" is not a list of designs", args.design.display())
                })?)),
            }
        };
    let initial = field("initial_designs")?;
    let finals = field("restart_designs")?.unwrap_or_default();
    let trace: Vec<Vec<Vec<f64>>> = match document.get("trace").and_then(Value::as_array) {
        Some(points) => points
            .iter()
            .map(|p| serde_json::from_value(p["designs"].clone()))
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("{}: a trace point has no list of designs", args.design.display()))?,
        None => Vec::new(),
    };
    let restarts = initial.as_ref().map_or(finals.len(), |i| i.len()).max(finals.len());
    let paths: Vec<Vec<Vec<f64>>> = (0..restarts)
        .map(|r| {
            let mut path: Vec<Vec<f64>> = initial.iter().filter_map(|i| i.get(r).cloned()).collect();
            path.extend(trace.iter().filter_map(|p| p.get(r).cloned()));
            if path.is_empty()
                && let Some(last) = finals.get(r)
            {
                path.push(last.clone());
            }
            path
        })
        .collect();
    let chosen: Option<Vec<f64>> = document.get("design").and_then(|d| serde_json::from_value(d.clone()).ok());
    let surface = match &args.surface {
        Some(path) => Some(read_eig_table(path)?),
        None => None,
    };
    let figure = lindley::plot::design_trace_plot(
        &paths,
        chosen.as_deref(),
        &bounds,
        surface.as_ref().map(|t| (t.designs.view(), t.eig.as_slice())),
    )
    .with_context(|| format!("plotting {}", args.design.display()))?;
    figure.save(&args.out)?;
    tracing::info!("wrote the paths of {} restarts to {}", paths.len(), args.out.display());
    Ok(())
}

fn eig_surface(args: EigSurfaceArgs) -> Result<()> {
    let EigTable { names, designs, eig, stderr } = read_eig_table(&args.eig)?;
    let figure = lindley::plot::eig_surface_plot(designs.view(), &eig, stderr.as_deref(), &names)
        .with_context(|| format!("plotting {}", args.eig.display()))?;
    figure.save(&args.out)?;
    tracing::info!("wrote the EIG of {} designs to {}", eig.len(), args.out.display());
    Ok(())
}

fn sequential(args: SequentialPlotArgs) -> Result<()> {
    let document = read_json(&args.run)?;
    let (name, bounds) = design_box(&document, &args.run)?;
    let policies = document["policies"].as_array().with_context(|| {
        format!("{}: no \"policies\" list (expected the JSON of `lindley sequential`)", args.run.display())
    })?;
    let entry = match &args.policy {
        Some(wanted) => policies.iter().find(|p| p["policy"].as_str() == Some(wanted.as_str())),
        None => policies.first(),
    }
    .with_context(|| format!("{}: no runs of policy {:?}", args.run.display(), args.policy))?;
    let runs = entry["runs"].as_array().with_context(|| format!("{}: a policy without runs", args.run.display()))?;
    let Some(run) = runs.get(args.rollout) else {
        bail!("{}: rollout {} requested, but there are {} runs", args.run.display(), args.rollout, runs.len());
    };
    let run: SequentialRun = serde_json::from_value(run.clone())
        .with_context(|| format!("{}: rollout {} is not a sequential run", args.run.display(), args.rollout))?;
    let figure = lindley::plot::sequential_plot(&run, &bounds, name.starts_with("source-finding"))
        .with_context(|| format!("plotting {}", args.run.display()))?;
    figure.save(&args.out)?;
    tracing::info!("wrote a {}-step sequential run to {}", run.steps.len(), args.out.display());
    Ok(())
}

fn pairs(args: PairsArgs) -> Result<()> {
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
