//! Classifier two-sample test (C2ST; Lopez-Paz & Oquab, "Revisiting Classifier Two-Sample Tests",
//! ICLR 2017) with the protocol of the sbibm benchmark (Lueckmann et al., AISTATS 2021, `sbibm.metrics.c2st`).
//!
//! Both samples are z-scored with the mean and (unbiased) standard deviation of the *first* sample,
//! labelled 0 (first) and 1 (second), and an MLP with two hidden layers of width
//! `hidden_per_dim · dim` (scikit-learn `MLPClassifier(activation="relu", solver="adam")`, see the
//! private `mlp` module) is scored by shuffled k-fold cross-validation; the result is the mean
//! held-out accuracy over the folds. 0.5 means the samples are indistinguishable, 1.0 fully separable.
//!
//! The random stream is our own (seeded from [`C2stConfig::seed`]), so values agree with sbibm's
//! statistically, not bit for bit. Folds are trained in parallel with rayon; the result does not
//! depend on the number of threads.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::{check_finite, check_same_dim};
use crate::diagnostics::mlp::Mlp;
use crate::rng::{seeded, substream};
use crate::{Error, Result};

/// Settings of [`c2st`]; the defaults are sbibm's.
#[derive(Clone, Debug, PartialEq)]
pub struct C2stConfig {
    /// Seed of the fold split, the weight initialisation and the mini-batch shuffles (sbibm: 1).
    pub seed: u64,
    /// Number of cross-validation folds (sbibm: 5).
    pub folds: usize,
    /// Maximum number of training epochs per fold (scikit-learn `max_iter`; sbibm: 10000).
    pub max_epochs: usize,
    /// Whether to z-score both samples with the first sample's mean and standard deviation (sbibm: true).
    pub z_score: bool,
    /// Width of each of the two hidden layers per input dimension (sbibm: 10).
    pub hidden_per_dim: usize,
}

impl Default for C2stConfig {
    fn default() -> Self {
        C2stConfig { seed: 1, folds: 5, max_epochs: 10_000, z_score: true, hidden_per_dim: 10 }
    }
}

/// C2ST accuracy between the samples `x` (rows are points; in sbibm the reference sample) and `y`.
///
/// Returns the mean held-out accuracy of the classifier over `config.folds` shuffled folds.
/// Errors when the column counts differ or are zero, when either sample has fewer rows than
/// folds, when a value is NaN or infinite, when z-scoring meets a constant column of `x`, or when
/// the configuration is unusable (fewer than 2 folds, zero epochs, zero hidden width).
pub fn c2st(x: ArrayView2<f64>, y: ArrayView2<f64>, config: &C2stConfig) -> Result<f64> {
    let dim = check_same_dim("c2st", x, y)?;
    if config.folds < 2 {
        return Err(Error::InvalidInput(format!("c2st: folds must be at least 2, got {}", config.folds)));
    }
    if config.max_epochs == 0 {
        return Err(Error::InvalidInput("c2st: max_epochs must be at least 1".into()));
    }
    if config.hidden_per_dim == 0 {
        return Err(Error::InvalidInput("c2st: hidden_per_dim must be at least 1".into()));
    }
    for (name, sample) in [("x", x), ("y", y)] {
        if sample.nrows() < config.folds {
            return Err(Error::InvalidInput(format!(
                "c2st: sample {name} has {} rows, fewer than the {} folds",
                sample.nrows(),
                config.folds
            )));
        }
    }
    check_finite("c2st", "x", x)?;
    check_finite("c2st", "y", y)?;

    let (data, labels) = pooled_data(x, y, config.z_score)?;
    let n = data.nrows();

    // KFold(shuffle=True): one permutation, then consecutive folds, the first n % k one row larger.
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut seeded(config.seed));
    let mut bounds = Vec::with_capacity(config.folds + 1);
    bounds.push(0);
    for k in 0..config.folds {
        let size = n / config.folds + usize::from(k < n % config.folds);
        bounds.push(bounds[k] + size);
    }

    let hidden = [config.hidden_per_dim * dim; 2];
    let accuracies: Vec<f64> = (0..config.folds)
        .into_par_iter()
        .map(|k| {
            let test_idx = &perm[bounds[k]..bounds[k + 1]];
            let train_idx: Vec<usize> = perm[..bounds[k]].iter().chain(&perm[bounds[k + 1]..]).copied().collect();
            let x_train = data.select(Axis(0), &train_idx);
            let y_train: Array1<f32> = train_idx.iter().map(|&i| labels[i]).collect();
            let x_test = data.select(Axis(0), test_idx);
            let y_test: Array1<f32> = test_idx.iter().map(|&i| labels[i]).collect();
            let mut rng = substream(config.seed, k as u64);
            let mlp = Mlp::fit(x_train.view(), y_train.view(), &hidden, config.max_epochs, &mut rng);
            mlp.count_correct(x_test.view(), y_test.view()) as f64 / test_idx.len() as f64
        })
        .collect();
    Ok(accuracies.iter().sum::<f64>() / accuracies.len() as f64)
}

/// Stacks `x` over `y` (optionally z-scored with `x`'s mean and unbiased std) as `f32`, with labels 0 then 1.
fn pooled_data(x: ArrayView2<f64>, y: ArrayView2<f64>, z_score: bool) -> Result<(Array2<f32>, Vec<f32>)> {
    let dim = x.ncols();
    let (mean, std) = if z_score {
        let mean = x.mean_axis(Axis(0)).expect("x has rows");
        let std = x.std_axis(Axis(0), 1.0);
        if let Some(j) = std.iter().position(|&s| !s.is_normal()) {
            return Err(Error::InvalidInput(format!(
                "c2st: column {j} of x has standard deviation {}, cannot z-score",
                std[j]
            )));
        }
        (mean, std)
    } else {
        (Array1::zeros(dim), Array1::ones(dim))
    };
    let n = x.nrows() + y.nrows();
    let mut data = Array2::<f32>::zeros((n, dim));
    for (mut out, row) in data.rows_mut().into_iter().zip(x.rows().into_iter().chain(y.rows())) {
        for j in 0..dim {
            out[j] = ((row[j] - mean[j]) / std[j]) as f32;
        }
    }
    if let Some(((i, j), _)) = data.indexed_iter().find(|(_, v)| !v.is_finite()) {
        let (name, row) = if i < x.nrows() { ("x", i) } else { ("y", i - x.nrows()) };
        return Err(Error::InvalidInput(format!(
            "c2st: sample {name} row {row} column {j} does not fit in f32 after standardisation"
        )));
    }
    let labels = (0..n).map(|i| if i < x.nrows() { 0.0 } else { 1.0 }).collect();
    Ok((data, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::normal_sample;

    #[test]
    fn identical_distributions_give_one_half() {
        let x = normal_sample(2000, 2, 0.0, 10);
        let y = normal_sample(2000, 2, 0.0, 11);
        let acc = c2st(x.view(), y.view(), &C2stConfig::default()).unwrap();
        assert!((acc - 0.5).abs() < 0.05, "accuracy {acc}");
    }

    #[test]
    fn separated_distributions_give_almost_one() {
        let x = normal_sample(1000, 2, 0.0, 12);
        let y = normal_sample(1000, 2, 3.0, 13);
        let acc = c2st(x.view(), y.view(), &C2stConfig::default()).unwrap();
        // Means 3σ apart on each of 2 axes are 3√2σ apart: Bayes accuracy Φ(3/√2) ≈ 0.983.
        assert!(acc > 0.95, "accuracy {acc}");
    }

    #[test]
    fn half_sigma_shift_reaches_bayes_accuracy() {
        let x = normal_sample(2000, 1, 0.0, 14);
        let y = normal_sample(2000, 1, 0.5, 15);
        let acc = c2st(x.view(), y.view(), &C2stConfig::default()).unwrap();
        // Bayes classifier thresholds at 0.25: accuracy Φ(0.25) ≈ 0.5987.
        assert!((acc - 0.5987).abs() < 0.04, "accuracy {acc}");
    }

    #[test]
    fn seeded_runs_are_reproducible() {
        let x = normal_sample(500, 2, 0.0, 16);
        let y = normal_sample(500, 2, 0.7, 17);
        let config = C2stConfig { seed: 42, ..C2stConfig::default() };
        let a = c2st(x.view(), y.view(), &config).unwrap();
        let b = c2st(x.view(), y.view(), &config).unwrap();
        assert_eq!(a, b);
        let c = c2st(x.view(), y.view(), &C2stConfig { seed: 43, ..config }).unwrap();
        assert_ne!(a, c, "a different seed should change the folds and the fit");
    }

    #[test]
    fn without_z_score_a_scaled_problem_still_works() {
        let x = normal_sample(1000, 1, 0.0, 18) * 0.01;
        let y = normal_sample(1000, 1, 3.0, 19) * 0.01;
        let config = C2stConfig { z_score: false, ..C2stConfig::default() };
        let acc = c2st(x.view(), y.view(), &config).unwrap();
        // Means 0.03 apart with std 0.01: Bayes accuracy Φ(1.5) ≈ 0.933; unscaled inputs train slower.
        assert!(acc > 0.85, "accuracy {acc}");
    }

    #[test]
    fn invalid_inputs_are_reported() {
        let cfg = C2stConfig::default();
        let x = normal_sample(20, 2, 0.0, 1);
        let y3 = normal_sample(20, 3, 0.0, 2);
        let err = c2st(x.view(), y3.view(), &cfg).unwrap_err().to_string();
        assert!(err.contains("c2st") && err.contains("2 columns") && err.contains("3"), "{err}");

        let short = normal_sample(4, 2, 0.0, 3);
        let err = c2st(x.view(), short.view(), &cfg).unwrap_err().to_string();
        assert!(err.contains("sample y has 4 rows") && err.contains("5 folds"), "{err}");

        let mut bad = normal_sample(20, 2, 0.0, 4);
        bad[[7, 1]] = f64::NAN;
        let err = c2st(bad.view(), x.view(), &cfg).unwrap_err().to_string();
        assert!(err.contains("x") && err.contains("row 7") && err.contains("column 1"), "{err}");
        bad[[7, 1]] = f64::INFINITY;
        let err = c2st(x.view(), bad.view(), &cfg).unwrap_err().to_string();
        assert!(err.contains("y") && err.contains("row 7") && err.contains("inf"), "{err}");

        let mut constant = normal_sample(20, 2, 0.0, 5);
        constant.column_mut(0).fill(1.5);
        let err = c2st(constant.view(), x.view(), &cfg).unwrap_err().to_string();
        assert!(err.contains("column 0") && err.contains("standard deviation"), "{err}");

        let err = c2st(x.view(), x.view(), &C2stConfig { folds: 1, ..cfg.clone() }).unwrap_err().to_string();
        assert!(err.contains("folds must be at least 2"), "{err}");
        let empty = Array2::<f64>::zeros((20, 0));
        let err = c2st(empty.view(), empty.view(), &cfg).unwrap_err().to_string();
        assert!(err.contains("at least 1 column"), "{err}");
    }

    /// Timing of the benchmark's workload: `cargo test --release -p lindley --lib c2st_timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing measurement, takes minutes"]
    fn c2st_timing_10k() {
        for dim in [2, 10] {
            let x = normal_sample(10_000, dim, 0.0, 20);
            let y = normal_sample(10_000, dim, 0.1, 21);
            let start = std::time::Instant::now();
            let acc = c2st(x.view(), y.view(), &C2stConfig::default()).unwrap();
            println!("c2st 10k vs 10k, dim {dim}: accuracy {acc:.4}, {:.1} s", start.elapsed().as_secs_f64());
        }
    }
}
