//! Per-family sampling, log-density and moments (a product: block by block, in order).
//!
//! Densities (all normalised, with respect to Lebesgue measure on the support):
//! - Uniform[a, b]: 1 / (b − a);
//! - Normal(μ, σ): exp(−(θ − μ)² / 2σ²) / (σ√(2π));
//! - MVN(μ, Σ), Σ = LLᵀ: exp(−|L⁻¹(θ − μ)|² / 2) / ((2π)^(D/2) |L|);
//! - LogNormal(μ, σ): exp(−(ln θ − μ)² / 2σ²) / (θσ√(2π));
//! - Beta(α, β): θ^(α−1) (1 − θ)^(β−1) / B(α, β);
//! - Gamma(k, r): r^k θ^(k−1) e^(−rθ) / Γ(k);
//! - Dirichlet(α₁..α_K) on (x₁..x_(K−1)), x_K = 1 − Σ xᵢ: Γ(Σα) / ΠΓ(αᵢ) · Π xᵢ^(αᵢ−1).

use ndarray::{Array1, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, s};
use rand::Rng;
use rand_distr::{Beta, Distribution as _, Gamma, StandardNormal};

use super::support::first_violation;
use super::{Distribution, linalg, part_columns, special::ln_gamma};
use crate::rng::LindleyRng;

/// ½ ln(2π).
const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Fills `out [n, dim]` with independent draws, row by row (a product: block by block). Entries
/// whose parameters are invalid (only possible for an unvalidated value) are left as they were.
pub(super) fn sample_into(d: &Distribution, mut out: ArrayViewMut2<f64>, rng: &mut LindleyRng) {
    let n = out.nrows();
    match d {
        Distribution::Product { parts } => {
            for (part, columns) in part_columns(parts) {
                sample_into(part, out.slice_mut(s![.., columns]), rng);
            }
        }
        Distribution::Uniform { low, high } => {
            for r in 0..n {
                for (j, (&a, &b)) in low.iter().zip(high).enumerate() {
                    let u: f64 = rng.random();
                    out[[r, j]] = a + (b - a) * u;
                }
            }
        }
        Distribution::Normal { mean, std } => {
            for r in 0..n {
                for (j, (&m, &s)) in mean.iter().zip(std).enumerate() {
                    let z: f64 = rng.sample(StandardNormal);
                    out[[r, j]] = m + s * z;
                }
            }
        }
        Distribution::MultivariateNormal { mean, covariance } => {
            let Some(l) = cholesky_of_rows(covariance, mean.len()) else { return };
            let dim = mean.len();
            let mut z = Array1::<f64>::zeros(dim);
            for r in 0..n {
                z.iter_mut().for_each(|zi| *zi = rng.sample(StandardNormal));
                for i in 0..dim {
                    let lz: f64 = (0..=i).map(|k| l[[i, k]] * z[k]).sum();
                    out[[r, i]] = mean[i] + lz;
                }
            }
        }
        Distribution::LogNormal { mu, sigma } => {
            for r in 0..n {
                for (j, (&m, &s)) in mu.iter().zip(sigma).enumerate() {
                    let z: f64 = rng.sample(StandardNormal);
                    out[[r, j]] = (m + s * z).exp();
                }
            }
        }
        Distribution::Beta { alpha, beta } => {
            let dists: Vec<Option<Beta<f64>>> = alpha.iter().zip(beta).map(|(&a, &b)| Beta::new(a, b).ok()).collect();
            for r in 0..n {
                for (j, dist) in dists.iter().enumerate() {
                    if let Some(dist) = dist {
                        out[[r, j]] = dist.sample(rng);
                    }
                }
            }
        }
        Distribution::Gamma { shape, rate } => {
            // rand_distr parameterises by scale = 1 / rate.
            let dists: Vec<Option<Gamma<f64>>> =
                shape.iter().zip(rate).map(|(&k, &r)| Gamma::new(k, 1.0 / r).ok()).collect();
            for r in 0..n {
                for (j, dist) in dists.iter().enumerate() {
                    if let Some(dist) = dist {
                        out[[r, j]] = dist.sample(rng);
                    }
                }
            }
        }
        Distribution::Dirichlet { concentration } => {
            // x = g / Σg with independent gᵢ ~ Gamma(αᵢ, 1).
            let Some(dists) = concentration.iter().map(|&a| Gamma::new(a, 1.0).ok()).collect::<Option<Vec<_>>>() else {
                return;
            };
            let mut g = vec![0.0; dists.len()];
            for r in 0..n {
                for (gi, dist) in g.iter_mut().zip(&dists) {
                    *gi = dist.sample(rng);
                }
                let total: f64 = g.iter().sum();
                for j in 0..dists.len().saturating_sub(1) {
                    out[[r, j]] = g[j] / total;
                }
            }
        }
    }
}

/// log p(θ) of one row, with the family's normalising constants precomputed.
type RowLogProb<'a> = Box<dyn Fn(ArrayView1<f64>) -> f64 + 'a>;

/// The Cholesky factor of a covariance given row by row, or None if it is not a `dim × dim`
/// positive-definite matrix (only possible for an unvalidated value).
fn cholesky_of_rows(rows: &[Vec<f64>], dim: usize) -> Option<ndarray::Array2<f64>> {
    if rows.len() != dim || rows.iter().any(|r| r.len() != dim) {
        return None;
    }
    let a = ndarray::Array2::from_shape_fn((dim, dim), |(i, j)| rows[i][j]);
    linalg::cholesky(a.view()).ok()
}

/// Adds log p(θ) to `out` for each row of `theta [n, dim]` (−∞ outside the support); a product
/// adds the log-densities of its blocks.
pub(super) fn add_log_prob(d: &Distribution, theta: ArrayView2<f64>, mut out: ArrayViewMut1<f64>) {
    let row_fn: RowLogProb<'_> = match d {
        Distribution::Product { parts } => {
            for (part, columns) in part_columns(parts) {
                add_log_prob(part, theta.slice(s![.., columns]), out.view_mut());
            }
            return;
        }
        Distribution::Uniform { low, high } => {
            let log_volume: f64 = low.iter().zip(high).map(|(a, b)| (b - a).ln()).sum();
            Box::new(move |_: ArrayView1<f64>| -log_volume)
        }
        Distribution::Normal { mean, std } => Box::new(move |row: ArrayView1<f64>| {
            row.iter()
                .zip(mean.iter().zip(std))
                .map(|(&x, (&m, &s))| {
                    let z = (x - m) / s;
                    -0.5 * z * z - s.ln() - HALF_LN_2PI
                })
                .sum()
        }),
        Distribution::MultivariateNormal { mean, covariance } => match cholesky_of_rows(covariance, mean.len()) {
            Some(l) => {
                let norm = -0.5 * linalg::log_det_from_cholesky(l.view()) - mean.len() as f64 * HALF_LN_2PI;
                let mean = ArrayView1::from(mean.as_slice());
                Box::new(move |row: ArrayView1<f64>| {
                    let diff = &row - &mean;
                    let z = linalg::solve_lower(l.view(), diff.view());
                    norm - 0.5 * z.dot(&z)
                })
            }
            None => Box::new(|_: ArrayView1<f64>| f64::NAN),
        },
        Distribution::LogNormal { mu, sigma } => Box::new(move |row: ArrayView1<f64>| {
            row.iter()
                .zip(mu.iter().zip(sigma))
                .map(|(&x, (&m, &s))| {
                    let lx = x.ln();
                    let z = (lx - m) / s;
                    -0.5 * z * z - lx - s.ln() - HALF_LN_2PI
                })
                .sum()
        }),
        Distribution::Beta { alpha, beta } => {
            let log_b: Vec<f64> =
                alpha.iter().zip(beta).map(|(&a, &b)| ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)).collect();
            Box::new(move |row: ArrayView1<f64>| {
                row.iter()
                    .zip(alpha.iter().zip(beta).zip(&log_b))
                    .map(|(&x, ((&a, &b), &lb))| xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - lb)
                    .sum()
            })
        }
        Distribution::Gamma { shape, rate } => {
            let norm: Vec<f64> = shape.iter().zip(rate).map(|(&k, &r)| k * r.ln() - ln_gamma(k)).collect();
            Box::new(move |row: ArrayView1<f64>| {
                row.iter()
                    .zip(shape.iter().zip(rate).zip(&norm))
                    .map(|(&x, ((&k, &r), &c))| c + xlogy(k - 1.0, x) - r * x)
                    .sum()
            })
        }
        Distribution::Dirichlet { concentration } => {
            let total: f64 = concentration.iter().sum();
            let norm = ln_gamma(total) - concentration.iter().map(|&a| ln_gamma(a)).sum::<f64>();
            Box::new(move |row: ArrayView1<f64>| {
                let last = 1.0 - row.sum();
                let body: f64 = row.iter().zip(concentration).map(|(&x, &a)| xlogy(a - 1.0, x)).sum();
                norm + body + xlogy(concentration.last().map_or(f64::NAN, |a| a - 1.0), last)
            })
        }
    };
    for (row, o) in theta.outer_iter().zip(out.iter_mut()) {
        *o += if first_violation(d, row, 0).is_some() { f64::NEG_INFINITY } else { row_fn(row) };
    }
}

/// a·ln(x), taken as 0 when a = 0 (so that exponent 0 at a boundary does not give 0·∞ = NaN).
fn xlogy(a: f64, x: f64) -> f64 {
    if a == 0.0 { 0.0 } else { a * x.ln() }
}

/// a·ln(1 + x), taken as 0 when a = 0.
fn xlog1py(a: f64, x: f64) -> f64 {
    if a == 0.0 { 0.0 } else { a * x.ln_1p() }
}

/// Mean vector of any family (products: blocks concatenated).
pub(super) fn mean(d: &Distribution) -> Vec<f64> {
    match d {
        Distribution::Uniform { low, high } => low.iter().zip(high).map(|(a, b)| 0.5 * (a + b)).collect(),
        Distribution::Normal { mean, .. } | Distribution::MultivariateNormal { mean, .. } => mean.clone(),
        Distribution::LogNormal { mu, sigma } => mu.iter().zip(sigma).map(|(m, s)| (m + 0.5 * s * s).exp()).collect(),
        Distribution::Beta { alpha, beta } => alpha.iter().zip(beta).map(|(a, b)| a / (a + b)).collect(),
        Distribution::Gamma { shape, rate } => shape.iter().zip(rate).map(|(k, r)| k / r).collect(),
        Distribution::Dirichlet { concentration } => {
            let total: f64 = concentration.iter().sum();
            concentration.iter().take(d.dim()).map(|a| a / total).collect()
        }
        Distribution::Product { parts } => parts.iter().flat_map(mean).collect(),
    }
}

/// Marginal variances of any family (products: blocks concatenated).
pub(super) fn variance(d: &Distribution) -> Vec<f64> {
    match d {
        Distribution::Uniform { low, high } => low.iter().zip(high).map(|(a, b)| (b - a).powi(2) / 12.0).collect(),
        Distribution::Normal { std, .. } => std.iter().map(|s| s * s).collect(),
        Distribution::MultivariateNormal { covariance, .. } => {
            covariance.iter().enumerate().map(|(i, row)| row.get(i).copied().unwrap_or(f64::NAN)).collect()
        }
        Distribution::LogNormal { mu, sigma } => mu
            .iter()
            .zip(sigma)
            .map(|(m, s)| {
                let s2 = s * s;
                s2.exp_m1() * (2.0 * m + s2).exp()
            })
            .collect(),
        Distribution::Beta { alpha, beta } => {
            alpha.iter().zip(beta).map(|(a, b)| a * b / ((a + b).powi(2) * (a + b + 1.0))).collect()
        }
        Distribution::Gamma { shape, rate } => shape.iter().zip(rate).map(|(k, r)| k / (r * r)).collect(),
        Distribution::Dirichlet { concentration } => {
            let total: f64 = concentration.iter().sum();
            concentration.iter().take(d.dim()).map(|a| a * (total - a) / (total * total * (total + 1.0))).collect()
        }
        Distribution::Product { parts } => parts.iter().flat_map(variance).collect(),
    }
}
