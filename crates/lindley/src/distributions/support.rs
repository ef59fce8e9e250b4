//! Support membership: the first coordinate of a parameter vector that violates the support,
//! with a message naming it.

use std::fmt;

use ndarray::ArrayView1;

use super::{Distribution, part_columns};

/// How a parameter vector leaves the support; `index` is the coordinate in the full vector θ.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Violation {
    /// NaN or ±∞.
    NotFinite { index: usize, value: f64 },
    /// Below the lower bound (`strict`: the bound itself is excluded too).
    Below { index: usize, value: f64, bound: f64, strict: bool },
    /// Above the upper bound (`strict`: the bound itself is excluded too).
    Above { index: usize, value: f64, bound: f64, strict: bool },
    /// Dirichlet coordinates θ[first..=last] whose sum is not below 1.
    SumNotBelowOne { first: usize, last: usize, sum: f64 },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Violation::NotFinite { index, value } => write!(f, "θ[{index}] = {value} is not a finite number"),
            Violation::Below { index, value, bound, strict: false } => {
                write!(f, "θ[{index}] = {value} is below the lower bound {bound}")
            }
            Violation::Below { index, value, bound, strict: true } => {
                write!(f, "θ[{index}] = {value} is not above the lower bound {bound} (excluded)")
            }
            Violation::Above { index, value, bound, strict: false } => {
                write!(f, "θ[{index}] = {value} is above the upper bound {bound}")
            }
            Violation::Above { index, value, bound, strict: true } => {
                write!(f, "θ[{index}] = {value} is not below the upper bound {bound} (excluded)")
            }
            Violation::SumNotBelowOne { first, last, sum } => write!(
                f,
                "θ[{first}..={last}] sums to {sum}, which is not below 1 (Dirichlet proportions, the last one \
                 being 1 minus their sum)"
            ),
        }
    }
}

/// Checks one coordinate against an interval; `strict` excludes the bounds themselves.
fn check_interval(index: usize, value: f64, low: f64, high: f64, strict: bool) -> Option<Violation> {
    if value.is_nan() {
        return Some(Violation::NotFinite { index, value });
    }
    let below = if strict { value <= low } else { value < low };
    if below {
        return Some(Violation::Below { index, value, bound: low, strict });
    }
    let above = if strict { value >= high } else { value > high };
    if above {
        return Some(Violation::Above { index, value, bound: high, strict });
    }
    if !value.is_finite() {
        return Some(Violation::NotFinite { index, value });
    }
    None
}

/// The first violation of the support by `theta` (whose length must be `d.dim()`), with
/// coordinates numbered from `offset`.
pub(crate) fn first_violation(d: &Distribution, theta: ArrayView1<f64>, offset: usize) -> Option<Violation> {
    let inf = f64::INFINITY;
    let each = |low: &dyn Fn(usize) -> f64, high: &dyn Fn(usize) -> f64, strict: bool| {
        theta.iter().enumerate().find_map(|(i, &v)| check_interval(offset + i, v, low(i), high(i), strict))
    };
    match d {
        Distribution::Uniform { low, high } => {
            each(&|i| low.get(i).copied().unwrap_or(f64::NAN), &|i| high.get(i).copied().unwrap_or(f64::NAN), false)
        }
        Distribution::Normal { .. } | Distribution::MultivariateNormal { .. } => each(&|_| -inf, &|_| inf, false),
        Distribution::LogNormal { .. } | Distribution::Gamma { .. } => each(&|_| 0.0, &|_| inf, true),
        Distribution::Beta { .. } => each(&|_| 0.0, &|_| 1.0, true),
        Distribution::Dirichlet { .. } => {
            if let Some(v) = each(&|_| 0.0, &|_| 1.0, true) {
                return Some(v);
            }
            let sum: f64 = theta.sum();
            (sum >= 1.0).then_some(Violation::SumNotBelowOne {
                first: offset,
                last: offset + theta.len().saturating_sub(1),
                sum,
            })
        }
        Distribution::Product { parts } => part_columns(parts).find_map(|(part, columns)| {
            first_violation(part, theta.slice(ndarray::s![columns.clone()]), offset + columns.start)
        }),
    }
}
