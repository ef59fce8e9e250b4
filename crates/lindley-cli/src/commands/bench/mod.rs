//! `lindley bench …`: the benchmark harness behind the tables in the README.

pub mod acquisition;
pub mod eig_curve;
pub mod published;
pub mod sbibm;
pub mod speed;

use anyhow::Result;

/// The benchmarks.
#[derive(clap::Subcommand)]
pub enum Bench {
    /// Accuracy on the sbibm tasks: C2ST of 10,000 posterior samples against the reference
    /// posteriors, beside the published figures, with training and sampling times.
    Sbibm(sbibm::Args),
    /// Training seconds per epoch and seconds to draw 10,000 samples for NPE, NLE or NRE (MCMC)
    /// on one task, as JSON for benches/compare_sbi.py (the side-by-side comparison with
    /// Python's sbi).
    Speed(speed::Args),
    /// The single-acquisition experiment of Klein et al. (2026, §4.1) on source finding: one
    /// design chosen by MPR-GA with each EIG estimator and number of restarts after two
    /// measurements, scored by the true-likelihood PCE under the posterior (step counts scaled
    /// down from the paper's 12,000 to fit a CPU; see --steps).
    Acquisition(acquisition::Args),
    /// vOED-NFs case 1: the Barber–Agakov bound with a design-amortised NSF posterior against a
    /// nested Monte Carlo reference over a grid of a 1-D design; table, argmaxes, JSON and SVG.
    EigCurve(eig_curve::Args),
}

/// Run a benchmark.
pub fn run(bench: Bench) -> Result<()> {
    match bench {
        Bench::Sbibm(args) => sbibm::run(args),
        Bench::Speed(args) => speed::run(args),
        Bench::Acquisition(args) => acquisition::run(args),
        Bench::EigCurve(args) => eig_curve::run(args),
    }
}

/// Median of a non-empty list.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        sorted[n / 2]
    } else {
        0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
    }
}
