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

use ndarray::{ArrayView2, ArrayViewMut1, ArrayViewMut2, s};

use super::{Distribution, part_columns};

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
            for (part, columns) in part_columns(parts) {
                let block = s![.., columns];
                to_unconstrained(part, theta.slice(block), out.slice_mut(block));
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

/// Writes gᵀ ∂T/∂θ for each row of `theta` (inside the support) and of `g` into `out`: the
/// gradient with respect to θ of a function whose gradient with respect to u = T(θ) is g. The
/// Jacobians are diagonal except the Dirichlet's, where ∂uₖ/∂xⱼ = [k = j]/xₖ + [j ≤ k]/rₖ₊₁ with
/// rₖ₊₁ = 1 − Σ_{i≤k} xᵢ, so the product is gⱼ/xⱼ + Σ_{k≥j} gₖ/rₖ₊₁ (a suffix sum).
pub(super) fn to_unconstrained_vjp(
    d: &Distribution,
    theta: ArrayView2<f64>,
    g: ArrayView2<f64>,
    mut out: ArrayViewMut2<f64>,
) {
    match d {
        Distribution::Product { parts } => {
            for (part, columns) in part_columns(parts) {
                let block = s![.., columns];
                to_unconstrained_vjp(part, theta.slice(block), g.slice(block), out.slice_mut(block));
            }
        }
        Distribution::Normal { .. } | Distribution::MultivariateNormal { .. } => out.assign(&g),
        Distribution::LogNormal { .. } | Distribution::Gamma { .. } => {
            out.assign(&g);
            out.zip_mut_with(&theta, |o, &t| *o /= t);
        }
        Distribution::Uniform { low, high } => {
            for ((mut o, t), gr) in out.outer_iter_mut().zip(theta.outer_iter()).zip(g.outer_iter()) {
                for (j, (&a, &b)) in low.iter().zip(high).enumerate() {
                    o[j] = gr[j] * (1.0 / (t[j] - a) + 1.0 / (b - t[j]));
                }
            }
        }
        Distribution::Beta { .. } => {
            out.assign(&g);
            out.zip_mut_with(&theta, |o, &t| *o *= 1.0 / t + 1.0 / (1.0 - t));
        }
        Distribution::Dirichlet { .. } => {
            let free = theta.ncols();
            for ((mut o, x), gr) in out.outer_iter_mut().zip(theta.outer_iter()).zip(g.outer_iter()) {
                let mut remaining = vec![0.0; free];
                let mut r = 1.0;
                for k in 0..free {
                    r -= x[k];
                    remaining[k] = r;
                }
                let mut suffix = 0.0;
                for j in (0..free).rev() {
                    suffix += gr[j] / remaining[j];
                    o[j] = gr[j] / x[j] + suffix;
                }
            }
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
            for (part, columns) in part_columns(parts) {
                let block = s![.., columns];
                from_unconstrained(part, u.slice(block), theta.slice_mut(block), log_det.view_mut());
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
