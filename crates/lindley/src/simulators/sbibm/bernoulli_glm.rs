//! `bernoulli_glm` and `bernoulli_glm_raw`: a generalised linear model of a spiking neuron driven
//! by a fixed white-noise stimulus (sbibm; after Gonçalves et al. 2020 / Lueckmann et al. 2017).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use ndarray::{Array2, ArrayView2};
use rand::Rng;

use super::{constants_error, numbered, parse_embedded, sbibm_task};
use crate::distributions::Distribution;
use crate::simulators::{Simulator, Task, check_parameter_shape, simulate_rows};
use crate::{Error, Result};

/// Number of parameters: offset and 9 filter coefficients.
const PARAMETERS: usize = 10;
/// Number of filter coefficients (lags 0..8 of the stimulus).
const FILTER: usize = PARAMETERS - 1;
/// Number of time bins.
const BINS: usize = 100;
/// Prior variance of the offset θ₁ (sbibm: precision 0.5).
const OFFSET_VARIANCE: f64 = 2.0;

const DESIGN_PATH: &str = "data/sbibm/bernoulli_glm/design_matrix.csv";
const DESIGN_CSV: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sbibm/bernoulli_glm/design_matrix.csv"));

/// sbibm's design matrix X `[100, 10]`: a column of ones, then lags 0..8 of its fixed white-noise
/// stimulus s (X[t, 1 + l] = s[t − l], 0 before the stimulus starts), parsed once per process.
fn design_matrix() -> Result<Arc<Array2<f64>>> {
    static CELL: OnceLock<std::result::Result<Arc<Array2<f64>>, String>> = OnceLock::new();
    CELL.get_or_init(|| {
        let design = parse_embedded(DESIGN_CSV.as_bytes(), DESIGN_PATH).map_err(|e| e.to_string())?;
        if design.dim() != (BINS, PARAMETERS) {
            let error = Error::parse(Path::new(DESIGN_PATH), format!("expected 100×10 values, got {:?}", design.dim()));
            return Err(error.to_string());
        }
        Ok(Arc::new(design))
    })
    .clone()
    .map_err(|message| constants_error("bernoulli_glm", message))
}

/// Spikes y_t ~ Bernoulli(σ(Xθ)_t), t = 1..100; output either the raw spikes or the sufficient
/// statistics (Σ y_t, then the spike-triggered averages Σ_t y_t X[t, 1 + l], l = 0..8).
struct BernoulliGlm {
    design: Arc<Array2<f64>>,
    raw: bool,
}

impl Simulator for BernoulliGlm {
    fn parameter_dim(&self) -> usize {
        PARAMETERS
    }
    fn data_dim(&self) -> usize {
        if self.raw { BINS } else { PARAMETERS }
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "bernoulli_glm simulator")?;
        Ok(simulate_rows(theta, self.data_dim(), seed, |theta, rng, x| {
            let mut spikes = [0.0; BINS];
            for (spike, row) in spikes.iter_mut().zip(self.design.rows()) {
                let psi: f64 = row.iter().zip(theta).map(|(a, b)| a * b).sum();
                let rate = 1.0 / (1.0 + (-psi).exp());
                *spike = if rng.random::<f64>() < rate { 1.0 } else { 0.0 };
            }
            if theta.iter().any(|t| t.is_nan()) {
                x.fill(f64::NAN);
            } else if self.raw {
                x.copy_from_slice(&spikes);
            } else {
                x.fill(0.0);
                for (&spike, row) in spikes.iter().zip(self.design.rows()) {
                    if spike == 1.0 {
                        for (x, &d) in x.iter_mut().zip(row) {
                            *x += d;
                        }
                    }
                }
            }
        }))
    }
}

/// The smoothness prior of sbibm: θ ~ N(0, B⁻¹) with block-diagonal precision B: 1/2 for the
/// offset and FᵀF for the filter, F = D·D + diag(√(i/9)), i = 0..8, D the 9×9 first-difference
/// matrix (1 on the diagonal, −1 below it). F is lower triangular, so the filter covariance is
/// (FᵀF)⁻¹ = F⁻¹F⁻ᵀ with F⁻¹ from forward substitution.
fn prior() -> Distribution {
    let mut f = [[0.0; FILTER]; FILTER];
    for (i, row) in f.iter_mut().enumerate() {
        // (D·D)[i][j] = 1 (j = i), −2 (j = i − 1), 1 (j = i − 2).
        row[i] = 1.0 + (i as f64 / FILTER as f64).sqrt();
        if i >= 1 {
            row[i - 1] = -2.0;
        }
        if i >= 2 {
            row[i - 2] = 1.0;
        }
    }
    // G = F⁻¹ by forward substitution in F·G = I, row by row.
    let mut g = [[0.0; FILTER]; FILTER];
    for (i, f_row) in f.iter().enumerate() {
        let mut g_row = [0.0; FILTER];
        for (k, value) in g_row.iter_mut().enumerate() {
            let identity = if i == k { 1.0 } else { 0.0 };
            let known: f64 = (0..i).map(|j| f_row[j] * g[j][k]).sum();
            *value = (identity - known) / f_row[i];
        }
        g[i] = g_row;
    }
    let mut covariance = vec![vec![0.0; PARAMETERS]; PARAMETERS];
    covariance[0][0] = OFFSET_VARIANCE;
    for i in 0..FILTER {
        for j in 0..FILTER {
            covariance[1 + i][1 + j] = (0..FILTER).map(|k| g[i][k] * g[j][k]).sum();
        }
    }
    Distribution::MultivariateNormal { mean: vec![0.0; PARAMETERS], covariance }
}

/// `bernoulli_glm`: θ (offset and 9-tap filter) from the Gaussian smoothness prior, x = (spike
/// count, 9 spike-triggered averages) of 100 Bernoulli spikes.
pub(super) fn bernoulli_glm() -> Result<Task> {
    Ok(sbibm_task(
        "bernoulli_glm",
        "Bernoulli GLM: 100 spikes of a neuron with a 9-tap stimulus filter, summarised (10 values)",
        prior(),
        Arc::new(BernoulliGlm { design: design_matrix()?, raw: false }),
        numbered("theta", PARAMETERS),
    ))
}

/// `bernoulli_glm_raw`: as `bernoulli_glm`, but x is the raw train of 100 binary spikes.
pub(super) fn bernoulli_glm_raw() -> Result<Task> {
    Ok(sbibm_task(
        "bernoulli_glm_raw",
        "Bernoulli GLM raw: the 100 binary spikes of the Bernoulli GLM",
        prior(),
        Arc::new(BernoulliGlm { design: design_matrix()?, raw: true }),
        numbered("theta", PARAMETERS),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The covariance is the inverse of sbibm's precision matrix.
    #[test]
    fn bernoulli_glm_prior_covariance_inverts_the_smoothness_precision() {
        let Distribution::MultivariateNormal { covariance, .. } = prior() else { panic!("not a multivariate normal") };
        // Precision: 0.5 for the offset, FᵀF for the filter, built directly from the definition.
        let m = FILTER;
        let d = Array2::from_shape_fn((m, m), |(i, j)| match i as isize - j as isize {
            0 => 1.0,
            1 => -1.0,
            _ => 0.0,
        });
        let f = d.dot(&d) + Array2::from_diag(&ndarray::Array1::from_shape_fn(m, |i| (i as f64 / m as f64).sqrt()));
        let mut precision = Array2::<f64>::zeros((PARAMETERS, PARAMETERS));
        precision[[0, 0]] = 0.5;
        precision.slice_mut(ndarray::s![1.., 1..]).assign(&f.t().dot(&f));
        let covariance = Array2::from_shape_fn((PARAMETERS, PARAMETERS), |(i, j)| covariance[i][j]);
        let product = precision.dot(&covariance);
        for ((i, j), &value) in product.indexed_iter() {
            let identity = if i == j { 1.0 } else { 0.0 };
            assert!((value - identity).abs() < 1e-9, "(B·Σ)[{i}][{j}] = {value}");
            assert_eq!(covariance[[i, j]], covariance[[j, i]]);
        }
    }

    #[test]
    fn bernoulli_glm_summary_is_spike_count_and_spike_triggered_average() {
        let design = design_matrix().unwrap();
        // The lag structure of the vendored design matrix: X[t, 1 + l] = X[t − l, 1].
        assert!(design.column(0).iter().all(|&v| v == 1.0));
        for l in 0..FILTER {
            for t in 0..BINS {
                let expected = if t >= l { design[[t - l, 1]] } else { 0.0 };
                assert_eq!(design[[t, 1 + l]], expected, "t {t}, lag {l}");
            }
        }
        let theta = ndarray::Array2::from_shape_fn((4, PARAMETERS), |(i, j)| 0.3 * i as f64 - 0.1 * j as f64);
        let raw = BernoulliGlm { design: design.clone(), raw: true }.simulate(theta.view(), 5).unwrap();
        let summary = BernoulliGlm { design: design.clone(), raw: false }.simulate(theta.view(), 5).unwrap();
        for (y, s) in raw.rows().into_iter().zip(summary.rows()) {
            assert!(y.iter().all(|&v| v == 0.0 || v == 1.0));
            assert_eq!(s[0], y.sum());
            for l in 0..FILTER {
                let sta: f64 = (0..BINS).map(|t| y[t] * design[[t, 1 + l]]).sum();
                assert!((s[1 + l] - sta).abs() < 1e-12);
            }
        }
    }

    /// sbibm's raw observations summarise to its summary observations through the design matrix.
    #[test]
    fn vendored_raw_observations_summarise_to_the_vendored_summaries() {
        use crate::simulators::sbibm::{reference_paths, single_row};
        let design = design_matrix().unwrap();
        for observation in 1..=5 {
            let raw = single_row(&reference_paths("bernoulli_glm_raw", observation)[0], BINS).unwrap();
            let summary = single_row(&reference_paths("bernoulli_glm", observation)[0], PARAMETERS).unwrap();
            assert_eq!(raw.sum(), summary[0]);
            for l in 0..FILTER {
                let sta: f64 = (0..BINS).map(|t| raw[t] * design[[t, 1 + l]]).sum();
                assert!((sta - summary[1 + l]).abs() < 1e-4, "obs {observation}, lag {l}: {sta} vs {}", summary[1 + l]);
            }
        }
    }
}
