//! The bijection T between the support of a prior and ℝᴰ, and log|det ∂T⁻¹/∂u|.
//!
//! - unbounded coordinates: identity (log-det 0);
//! - (0, ∞): u = ln θ, θ = eᵘ, log-det u;
//! - [a, b]: u = ln((θ − a)/(b − θ)), θ = a + (b − a)σ(u), log-det
//!   ln(b − a) + ln σ(u) + ln σ(−u) = ln(b − a) − softplus(u) − softplus(−u);
//! - Dirichlet simplex (K − 1 free coordinates), stick-breaking as in the Stan reference manual
//!   ("Unit simplex" transform): zₖ = σ(uₖ − ln(K − k)), remaining stick r₁ = 1, xₖ = rₖzₖ,
//!   rₖ₊₁ = rₖ(1 − zₖ); the Jacobian is triangular with diagonal rₖzₖ(1 − zₖ), so the log-det is
//!   Σₖ [ln rₖ + ln zₖ + ln(1 − zₖ)], accumulated in log space.

use burn::prelude::*;
use ndarray::{ArrayView2, ArrayViewMut1, ArrayViewMut2, s};

use super::Distribution;
use crate::tensor_ops::vector;

/// softplus(x) = ln(1 + eˣ), without overflow or loss of precision for large |x|.
fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// θ = a + (b − a)σ(u) and its log-derivative; for u > 0 written as b − (b − a)σ(−u), so that
/// values near either bound keep their distance to it accurately.
fn interval_from(u: f64, a: f64, b: f64) -> (f64, f64) {
    let w = b - a;
    let theta = if u <= 0.0 { a + w * sigmoid(u) } else { b - w * sigmoid(-u) };
    (theta, w.ln() - softplus(u) - softplus(-u))
}

/// u = ln((θ − a)/(b − θ)).
fn interval_to(theta: f64, a: f64, b: f64) -> f64 {
    (theta - a).ln() - (b - theta).ln()
}

/// σ(x) = 1 / (1 + e⁻ˣ), evaluated without overflow.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Writes T(θ) for each row of `theta` (whose column count is `d.dim()`) into `out`.
pub(super) fn to_unconstrained(d: &Distribution, theta: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
    match d {
        Distribution::Product { parts } => {
            let mut start = 0;
            for part in parts {
                let k = part.dim();
                to_unconstrained(part, theta.slice(s![.., start..start + k]), out.slice_mut(s![.., start..start + k]));
                start += k;
            }
        }
        Distribution::Normal { .. } | Distribution::MultivariateNormal { .. } => out.assign(&theta),
        Distribution::LogNormal { .. } | Distribution::Gamma { .. } => out.zip_mut_with(&theta, |o, &t| *o = t.ln()),
        Distribution::Uniform { low, high } => {
            for (mut o, t) in out.outer_iter_mut().zip(theta.outer_iter()) {
                for (j, (&a, &b)) in low.iter().zip(high).enumerate() {
                    o[j] = interval_to(t[j], a, b);
                }
            }
        }
        Distribution::Beta { .. } => out.zip_mut_with(&theta, |o, &t| *o = interval_to(t, 0.0, 1.0)),
        Distribution::Dirichlet { .. } => {
            let free = theta.ncols();
            for (mut o, x) in out.outer_iter_mut().zip(theta.outer_iter()) {
                // rₖ = 1 − Σ_{i<k} xᵢ, and uₖ = ln xₖ − ln rₖ₊₁ + ln(K − k) with K − k = free − k + 1
                // for zero-based k.
                let mut remaining = 1.0;
                for k in 0..free {
                    let next = remaining - x[k];
                    o[k] = x[k].ln() - next.ln() + ((free - k) as f64).ln();
                    remaining = next;
                }
            }
        }
    }
}

/// T applied to each row of a `[n, d.dim()]` tensor with the tensor operations of burn, so that
/// gradients flow through it (the same maps as [`to_unconstrained`], in f32).
pub(super) fn to_unconstrained_tensor(d: &Distribution, theta: Tensor<2>) -> Tensor<2> {
    let device = theta.device();
    let row = |values: &[f64]| vector(&values.iter().map(|&v| v as f32).collect::<Vec<_>>(), &device).unsqueeze_dim(0);
    match d {
        Distribution::Product { parts } => {
            let mut start = 0;
            let blocks = parts
                .iter()
                .map(|part| {
                    let k = part.dim();
                    let block = to_unconstrained_tensor(part, theta.clone().narrow(1, start, k));
                    start += k;
                    block
                })
                .collect();
            Tensor::cat(blocks, 1)
        }
        Distribution::Normal { .. } | Distribution::MultivariateNormal { .. } => theta,
        Distribution::LogNormal { .. } | Distribution::Gamma { .. } => theta.log(),
        Distribution::Uniform { low, high } => (theta.clone() - row(low)).log() - (row(high) - theta).log(),
        Distribution::Beta { .. } => theta.clone().log() - theta.neg().add_scalar(1.0).log(),
        Distribution::Dirichlet { .. } => {
            // rₖ₊₁ = 1 − Σ_{i≤k} xᵢ through a matrix of ones on and above the diagonal.
            let free = theta.dims()[1];
            let ones: Vec<f32> = (0..free * free).map(|i| if i / free <= i % free { 1.0 } else { 0.0 }).collect();
            let upper = Tensor::from_data(TensorData::new(ones, [free, free]), &device);
            let next = theta.clone().matmul(upper).neg().add_scalar(1.0);
            let offsets = row(&(0..free).map(|k| ((free - k) as f64).ln()).collect::<Vec<_>>());
            theta.log() - next.log() + offsets
        }
    }
}

/// Writes T⁻¹(u) for each row of `u` into `theta` and adds log|det ∂T⁻¹/∂u| to `log_det`.
pub(super) fn from_unconstrained(
    d: &Distribution,
    u: ArrayView2<f64>,
    mut theta: ArrayViewMut2<f64>,
    mut log_det: ArrayViewMut1<f64>,
) {
    match d {
        Distribution::Product { parts } => {
            let mut start = 0;
            for part in parts {
                let k = part.dim();
                from_unconstrained(
                    part,
                    u.slice(s![.., start..start + k]),
                    theta.slice_mut(s![.., start..start + k]),
                    log_det.view_mut(),
                );
                start += k;
            }
        }
        Distribution::Normal { .. } | Distribution::MultivariateNormal { .. } => theta.assign(&u),
        Distribution::LogNormal { .. } | Distribution::Gamma { .. } => {
            theta.zip_mut_with(&u, |t, &v| *t = v.exp());
            for (ld, row) in log_det.iter_mut().zip(u.outer_iter()) {
                *ld += row.sum();
            }
        }
        Distribution::Uniform { low, high } => {
            for ((mut t, row), ld) in theta.outer_iter_mut().zip(u.outer_iter()).zip(log_det.iter_mut()) {
                for (j, (&a, &b)) in low.iter().zip(high).enumerate() {
                    let (value, l) = interval_from(row[j], a, b);
                    t[j] = value;
                    *ld += l;
                }
            }
        }
        Distribution::Beta { .. } => {
            for ((mut t, row), ld) in theta.outer_iter_mut().zip(u.outer_iter()).zip(log_det.iter_mut()) {
                for (tj, &v) in t.iter_mut().zip(row) {
                    let (value, l) = interval_from(v, 0.0, 1.0);
                    *tj = value;
                    *ld += l;
                }
            }
        }
        Distribution::Dirichlet { .. } => {
            let free = u.ncols();
            for ((mut t, row), ld) in theta.outer_iter_mut().zip(u.outer_iter()).zip(log_det.iter_mut()) {
                let mut log_remaining = 0.0;
                for k in 0..free {
                    let y = row[k] - ((free - k) as f64).ln();
                    let log_z = -softplus(-y);
                    let log_one_minus_z = -softplus(y);
                    t[k] = (log_remaining + log_z).exp();
                    *ld += log_remaining + log_z + log_one_minus_z;
                    log_remaining += log_one_minus_z;
                }
            }
        }
    }
}
