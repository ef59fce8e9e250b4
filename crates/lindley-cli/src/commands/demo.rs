//! `lindley demo`: a small, real end-to-end run — simulate a built-in task, train NPE, sample
//! the posterior of a reference observation, score it by C2ST against the reference posterior,
//! and show both side by side in the terminal and in a pair plot (SVG).

use std::path::PathBuf;

use anyhow::Result;
use lindley::data::Dataset;
use lindley::diagnostics::c2st::{C2stConfig, c2st};
use lindley::inference::{Npe, NpeConfig, Posterior, SampleOptions};
use lindley::simulators::sbibm;
use ndarray::{ArrayView1, ArrayView2, Axis};

use super::sample::format_named;
use crate::progress;

/// Arguments of `lindley demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Task with a reference posterior.
    #[arg(long, default_value = "two_moons")]
    task: String,
    /// Simulations to train on.
    #[arg(long, default_value_t = 5_000)]
    budget: usize,
    /// Reference observation (1-5).
    #[arg(long, default_value_t = 1)]
    observation: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder for the model and the samples.
    #[arg(long, default_value = "runs/demo")]
    out_dir: PathBuf,
}

/// Run the demo.
pub fn run(args: Args) -> Result<()> {
    let task = sbibm::task(&args.task)?;
    let reference = sbibm::reference(&args.task, args.observation)?;
    println!("lindley demo: NPE on {} with {} simulations (observation {})", task.name, args.budget, args.observation);
    let (theta, x) = task.sample_joint(args.budget, args.seed)?;
    let mut config = NpeConfig::default();
    config.training.seed = args.seed;
    let mut npe = Npe::for_task(&task, config);
    npe.append_simulations(Dataset::new(theta, x)?)?;
    let (bar, mut update) = progress::training("training NPE");
    let (posterior, report) = npe.train(&mut update)?;
    bar.finish_and_clear();
    println!("trained: {} epochs in {:.1} s", report.epochs, report.seconds);

    let samples = posterior.sample(10_000, reference.observation.view(), args.seed, &SampleOptions::default())?;
    let score = c2st(
        samples.theta.view(),
        reference.posterior_samples.view(),
        &C2stConfig { seed: args.seed, ..Default::default() },
    )?;
    std::fs::create_dir_all(&args.out_dir)?;
    let model_path = args.out_dir.join("model.safetensors");
    let samples_path = args.out_dir.join("samples.csv");
    let pairs_path = args.out_dir.join("pairs.svg");
    let loss_path = args.out_dir.join("loss.svg");
    posterior.save(&model_path)?;
    lindley::io::write_matrix(&samples_path, &task.parameter_names, samples.theta.view())?;
    lindley::plot::pair_plot(
        samples.theta.view(),
        Some(reference.posterior_samples.view()),
        Some(reference.true_parameters.view()),
        &task.parameter_names,
    )?
    .save(&pairs_path)?;
    lindley::plot::training_curve(&report)?.save(&loss_path)?;

    let names = &task.parameter_names;
    let mean = samples.theta.mean_axis(Axis(0)).expect("samples");
    let reference_mean = reference.posterior_samples.mean_axis(Axis(0)).expect("samples");
    println!(
        "true parameters:       {}",
        format_named(names, reference.true_parameters.as_slice().expect("contiguous"))
    );
    println!("posterior mean:        {}", format_named(names, mean.as_slice().expect("contiguous")));
    println!("reference mean:        {}", format_named(names, reference_mean.as_slice().expect("contiguous")));
    println!(
        "C2ST against the reference posterior: {score:.3}  (0.5 = indistinguishable; sbibm's published NPE at 10k simulations: 0.61)"
    );
    println!();
    println!(
        "{}",
        side_by_side(samples.theta.view(), reference.posterior_samples.view(), reference.true_parameters.view(), names)
    );
    println!("model: {}   samples: {}", model_path.display(), samples_path.display());
    println!("plots: {} (samples vs reference, truth marked)   {}", pairs_path.display(), loss_path.display());
    Ok(())
}

/// Two terminal density plots of the first two parameters — lindley's samples and the
/// reference — on the same axes, with the true parameters marked `X`.
fn side_by_side(
    samples: ArrayView2<f64>,
    reference: ArrayView2<f64>,
    truth: ArrayView1<f64>,
    names: &[String],
) -> String {
    let (width, height) = (36usize, 18usize);
    let range = |column: usize| {
        let values = reference.column(column);
        let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let pad = 0.15 * (hi - lo).max(1e-9);
        (lo - pad, hi + pad)
    };
    let (xr, yr) = (range(0), range(1.min(samples.ncols() - 1)));
    let cell = |v: f64, (lo, hi): (f64, f64), n: usize| ((v - lo) / (hi - lo) * n as f64).floor();
    let grid = |points: ArrayView2<f64>| {
        let mut counts = vec![vec![0usize; width]; height];
        for row in points.rows() {
            let (cx, cy) = (cell(row[0], xr, width), cell(row[1.min(row.len() - 1)], yr, height));
            if cx >= 0.0 && cy >= 0.0 && (cx as usize) < width && (cy as usize) < height {
                counts[height - 1 - cy as usize][cx as usize] += 1;
            }
        }
        let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
        let shades: Vec<char> = " .:-=+*#%@".chars().collect();
        let mut rows: Vec<Vec<char>> = counts
            .iter()
            .map(|r| {
                r.iter().map(|&c| if c == 0 { ' ' } else { shades[1 + ((c as f64 / max) * 8.999) as usize] }).collect()
            })
            .collect();
        let (tx, ty) = (cell(truth[0], xr, width), cell(truth[1.min(truth.len() - 1)], yr, height));
        if tx >= 0.0 && ty >= 0.0 && (tx as usize) < width && (ty as usize) < height {
            rows[height - 1 - ty as usize][tx as usize] = 'X';
        }
        rows
    };
    let (left, right) = (grid(samples), grid(reference));
    let mut out = format!("{:<width$}    {}\n", "lindley NPE", "reference posterior", width = width + 2);
    for (a, b) in left.iter().zip(&right) {
        out += &format!("|{}|  |{}|\n", a.iter().collect::<String>(), b.iter().collect::<String>());
    }
    out += &format!(
        "x: {} in [{:.2}, {:.2}]   y: {} in [{:.2}, {:.2}]   X: true parameters",
        names[0],
        xr.0,
        xr.1,
        names[1.min(names.len() - 1)],
        yr.0,
        yr.1
    );
    out
}
