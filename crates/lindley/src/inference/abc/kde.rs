//! Weighted Gaussian kernel density estimate with an isotropic bandwidth h:
//! q(θ) = Σᵢ wᵢ N(θ; θᵢ, h²I), the final smoothing step of ABC in the sbibm benchmark.
//!
//! The cross-validated bandwidth follows sbibm's rule: candidate bandwidths between 0.1 and 0.5
//! times the standard deviation of all particle coordinates, scored by the held-out log density
//! over 20 folds, refined around the best candidate until the score stops improving.

use ndarray::{Array1, Array2, ArrayView1, Axis};
use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::distributions::Distribution;
use crate::{Error, Result};

/// How the KDE bandwidth is chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bandwidth {
    /// Maximise the 20-fold cross-validated held-out log density over a grid in
    /// [0.1σ, 0.5σ] (σ: standard deviation of all coordinates), refined around the best point.
    CrossValidated,
    /// Scott's rule, n^(−1/(d+4)) (in units of the data, as scikit-learn uses it).
    Scott,
    /// Silverman's rule, (n (d + 2) / 4)^(−1/(d+4)).
    Silverman,
    /// A fixed bandwidth (> 0).
    Fixed(f64),
}

/// Candidates per grid, folds, refinement rounds and the largest number of points scored by
/// cross-validation (a strided subset beyond it).
const GRID: usize = 10;
const FOLDS: usize = 20;
const ROUNDS: usize = 5;
const MAX_CV_POINTS: usize = 2000;

/// A fitted weighted Gaussian KDE.
#[derive(Clone, Debug)]
pub struct Kde {
    points: Array2<f64>,
    weights: Array1<f64>,
    bandwidth: f64,
}

impl Kde {
    /// Fit to `points [n, d]` with non-negative `weights` (normalised here).
    pub fn fit(points: Array2<f64>, weights: Array1<f64>, bandwidth: &Bandwidth) -> Result<Self> {
        let (n, d) = points.dim();
        if n == 0 || d == 0 {
            return Err(Error::InvalidInput(format!("KDE: needs at least one point of dimension ≥ 1, got [{n}, {d}]")));
        }
        if weights.len() != n {
            return Err(Error::shape("KDE weights", format!("{n} weights"), format!("{}", weights.len())));
        }
        let total: f64 = weights.sum();
        if !(total > 0.0 && total.is_finite()) || weights.iter().any(|&w| w.is_nan() || w < 0.0) {
            return Err(Error::InvalidInput("KDE: weights must be non-negative with a positive finite sum".into()));
        }
        if points.iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidInput("KDE: points must be finite".into()));
        }
        let weights = weights / total;
        let h = match bandwidth {
            Bandwidth::Fixed(h) if *h > 0.0 && h.is_finite() => *h,
            Bandwidth::Fixed(h) => return Err(Error::InvalidInput(format!("KDE: bandwidth must be > 0, got {h}"))),
            Bandwidth::Scott => (n as f64).powf(-1.0 / (d as f64 + 4.0)),
            Bandwidth::Silverman => (n as f64 * (d as f64 + 2.0) / 4.0).powf(-1.0 / (d as f64 + 4.0)),
            Bandwidth::CrossValidated => cross_validated(&points, &weights),
        };
        Ok(Kde { points, weights, bandwidth: h })
    }

    /// The bandwidth h.
    pub fn bandwidth(&self) -> f64 {
        self.bandwidth
    }

    /// log q(θ) for one point.
    pub fn log_prob(&self, theta: ArrayView1<f64>) -> f64 {
        log_density(&self.points, &self.weights, self.bandwidth, theta, None)
    }

    /// `n` draws from q restricted to the prior's support (draws outside it are redrawn), with
    /// the fraction of draws that fell inside. Errors when fewer than 1 in 1000 do.
    pub fn sample_in_support(&self, n: usize, prior: &Distribution, rng: &mut impl Rng) -> Result<(Array2<f64>, f64)> {
        let d = self.points.ncols();
        let mut out = Array2::zeros((n, d));
        let mut draws = 0usize;
        let mut filled = 0usize;
        let limit = 1000 * n.max(1);
        let mut theta = Array1::zeros(d);
        let categorical = super::Categorical::new(self.weights.view());
        while filled < n {
            if draws >= limit {
                return Err(Error::Sampling(format!(
                    "ABC KDE: only {filled} of {draws} draws fell inside the prior support (need {n})"
                )));
            }
            draws += 1;
            let i = categorical.draw(rng);
            for j in 0..d {
                let z: f64 = StandardNormal.sample(rng);
                theta[j] = self.points[[i, j]] + self.bandwidth * z;
            }
            if prior.in_support(theta.view()) {
                out.row_mut(filled).assign(&theta);
                filled += 1;
            }
        }
        Ok((out, n as f64 / draws.max(1) as f64))
    }
}

/// log Σᵢ wᵢ N(θ; pᵢ, h²I), leaving out point `skip_fold`'s members when scoring held-out data
/// (`Some((fold, folds))` excludes points with index % folds == fold and renormalises).
fn log_density(
    points: &Array2<f64>,
    weights: &Array1<f64>,
    h: f64,
    theta: ArrayView1<f64>,
    skip_fold: Option<(usize, usize)>,
) -> f64 {
    let d = points.ncols() as f64;
    let mut max = f64::NEG_INFINITY;
    let mut terms = Vec::with_capacity(points.nrows());
    let mut kept_weight = 0.0;
    for (i, p) in points.axis_iter(Axis(0)).enumerate() {
        if skip_fold.is_some_and(|(fold, folds)| i % folds == fold) || weights[i] <= 0.0 {
            continue;
        }
        let sq: f64 = p.iter().zip(theta).map(|(a, b)| (a - b) * (a - b)).sum();
        let t = weights[i].ln() - 0.5 * sq / (h * h);
        max = max.max(t);
        kept_weight += weights[i];
        terms.push(t);
    }
    if terms.is_empty() || !max.is_finite() {
        return f64::NEG_INFINITY;
    }
    let lse = max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
    lse - kept_weight.ln() - 0.5 * d * (2.0 * std::f64::consts::PI * h * h).ln()
}

/// Mean held-out log density over `FOLDS` interleaved folds (held-out points weighted too).
fn cv_score(points: &Array2<f64>, weights: &Array1<f64>, h: f64) -> f64 {
    let n = points.nrows();
    let folds = FOLDS.min(n);
    let stride = n.div_ceil(MAX_CV_POINTS).max(1);
    let scored: Vec<usize> = (0..n).step_by(stride).filter(|&i| weights[i] > 0.0).collect();
    let (sum, wsum) = scored
        .par_iter()
        .map(|&i| {
            let lp = log_density(points, weights, h, points.row(i), Some((i % folds, folds)));
            // A held-out point with no other point in its fold's complement scores nothing.
            (weights[i] * lp.max(-1e6), weights[i])
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    if wsum > 0.0 { sum / wsum } else { f64::NEG_INFINITY }
}

/// sbibm's cross-validated bandwidth: a grid of `GRID` values in [0.1σ, 0.5σ]; each round narrows
/// to the interval between the best candidate's neighbours (or shifts the interval when the best
/// lies on its edge) until the best score changes by less than 10⁻³.
fn cross_validated(points: &Array2<f64>, weights: &Array1<f64>) -> f64 {
    let n = points.len() as f64;
    let mean = points.sum() / n;
    let sigma = (points.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    if sigma.is_nan() || sigma <= 0.0 || points.nrows() < 2 {
        return 1.0_f64.max(sigma);
    }
    let (mut lower, mut upper) = (0.1 * sigma, 0.5 * sigma);
    let mut best = (f64::NEG_INFINITY, 0.3 * sigma);
    for _ in 0..ROUNDS {
        let step = (upper - lower) / (GRID - 1) as f64;
        let grid: Vec<f64> = (0..GRID).map(|k| lower + step * k as f64).filter(|&h| h > 0.0).collect();
        let scores: Vec<f64> = grid.iter().map(|&h| cv_score(points, weights, h)).collect();
        let (k, &score) =
            scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("a non-empty grid of bandwidths");
        let improved = score - best.0;
        if score > best.0 {
            best = (score, grid[k]);
        }
        if improved.abs() < 1e-3 {
            break;
        }
        let h = grid[k];
        if k == 0 {
            (lower, upper) = ((h - (upper - lower) / 2.0).max(0.01 * sigma), h + step);
        } else if k == grid.len() - 1 {
            (lower, upper) = (h - step, h + (upper - lower) / 2.0);
        } else {
            (lower, upper) = (h - step, h + step);
        }
    }
    best.1
}
