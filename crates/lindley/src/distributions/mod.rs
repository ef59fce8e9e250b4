//! Prior distributions over parameter vectors θ ∈ ℝᴰ: batched sampling and log-density, support
//! checks, and a smooth bijection to unconstrained space ℝᴰ (used by MCMC and by flows that must
//! respect bounded priors).
//!
//! [`Distribution`] is a serialisable enum so that a prior can be written in a TOML/JSON config
//! file and stored in a model file's header. Univariate families take one parameter per
//! dimension (independent coordinates); [`Distribution::Product`] stacks blocks.
//!
//! Rows of a batch are parameter vectors: `theta` is `[n, dim]`.
//!
//! A prior in a TOML config (the `family` key selects the variant, names in snake_case); this one
//! has dimension 2 + 2 + 1 = 5:
//!
//! ```toml
//! family = "product"
//!
//! [[parts]]
//! family = "uniform"
//! low = [0.0, -1.0]
//! high = [1.0, 1.0]
//!
//! [[parts]]
//! family = "multivariate_normal"
//! mean = [0.0, 0.5]
//! covariance = [[1.0, 0.3], [0.3, 2.0]]
//!
//! [[parts]]
//! family = "gamma"
//! shape = [2.0]
//! rate = [0.5]
//! ```
//!
//! A deserialised value has not been checked: call [`Distribution::validate`] before using it.
//! The methods never panic on an unvalidated value, but their results are then meaningless
//! (typically NaN).

mod bijection;
pub(crate) mod linalg;
mod special;
mod support;
mod univariate;

#[cfg(test)]
mod tests;

use std::ops::Range;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::rng::LindleyRng;
use crate::{Error, Result};

pub use special::ln_gamma;

/// A probability distribution over ℝᴰ (or a subset of it: its support).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Distribution {
    /// Independent uniforms on the box [low, high] (one entry per dimension).
    Uniform {
        /// Lower bounds.
        low: Vec<f64>,
        /// Upper bounds (each > the matching lower bound).
        high: Vec<f64>,
    },
    /// Independent normals N(mean, std²).
    Normal {
        /// Means.
        mean: Vec<f64>,
        /// Standard deviations (> 0).
        std: Vec<f64>,
    },
    /// Multivariate normal N(mean, covariance) with a full, positive-definite covariance.
    MultivariateNormal {
        /// Mean vector.
        mean: Vec<f64>,
        /// Covariance matrix, row by row.
        covariance: Vec<Vec<f64>>,
    },
    /// Independent log-normals: log θᵢ ~ N(mu, sigma²).
    LogNormal {
        /// Means of log θ.
        mu: Vec<f64>,
        /// Standard deviations of log θ (> 0).
        sigma: Vec<f64>,
    },
    /// Independent Beta(alpha, beta) on (0, 1).
    Beta {
        /// First shape parameters (> 0).
        alpha: Vec<f64>,
        /// Second shape parameters (> 0).
        beta: Vec<f64>,
    },
    /// Independent Gamma(shape, rate) on (0, ∞), density ∝ θ^(shape−1) e^(−rate·θ).
    Gamma {
        /// Shape parameters (> 0).
        shape: Vec<f64>,
        /// Rate parameters (> 0).
        rate: Vec<f64>,
    },
    /// Dirichlet(concentration) over K proportions, represented by its first K − 1 coordinates
    /// (the last is 1 − Σ of the others), so its dimension is K − 1 and its density is taken with
    /// respect to Lebesgue measure on that open simplex.
    Dirichlet {
        /// Concentrations α₁..α_K (> 0, K ≥ 2).
        concentration: Vec<f64>,
    },
    /// Independent blocks stacked in order: θ = (θ₁, θ₂, …).
    Product {
        /// The blocks.
        parts: Vec<Distribution>,
    },
}

impl Distribution {
    /// Independent uniforms on [low, high]; errors on length mismatch or low ≥ high.
    pub fn uniform(low: Vec<f64>, high: Vec<f64>) -> Result<Self> {
        Self::checked(Distribution::Uniform { low, high })
    }
    /// Independent normals; errors on length mismatch or std ≤ 0.
    pub fn normal(mean: Vec<f64>, std: Vec<f64>) -> Result<Self> {
        Self::checked(Distribution::Normal { mean, std })
    }
    /// Multivariate normal; errors if the covariance is not square, symmetric, positive definite.
    pub fn multivariate_normal(mean: Vec<f64>, covariance: Vec<Vec<f64>>) -> Result<Self> {
        Self::checked(Distribution::MultivariateNormal { mean, covariance })
    }
    /// Multivariate normal given its precision matrix P = Σ⁻¹ (e.g. the FᵀF smoothness prior of
    /// bernoulli_glm); returns the [`Distribution::MultivariateNormal`] variant with Σ = P⁻¹,
    /// computed from the Cholesky factor P = LLᵀ as Σ = L⁻ᵀL⁻¹. Errors if P is not square,
    /// symmetric, positive definite.
    pub fn multivariate_normal_from_precision(mean: Vec<f64>, precision: Vec<Vec<f64>>) -> Result<Self> {
        check_finite("multivariate_normal", "mean", &mean)?;
        let chol = spd_cholesky("multivariate_normal", "precision", mean.len(), &precision)?;
        let cov = linalg::inverse_from_cholesky(chol.view());
        let covariance = cov.outer_iter().map(|row| row.to_vec()).collect();
        Self::checked(Distribution::MultivariateNormal { mean, covariance })
    }
    /// Independent log-normals.
    pub fn log_normal(mu: Vec<f64>, sigma: Vec<f64>) -> Result<Self> {
        Self::checked(Distribution::LogNormal { mu, sigma })
    }
    /// Independent betas.
    pub fn beta(alpha: Vec<f64>, beta: Vec<f64>) -> Result<Self> {
        Self::checked(Distribution::Beta { alpha, beta })
    }
    /// Independent gammas (shape, rate).
    pub fn gamma(shape: Vec<f64>, rate: Vec<f64>) -> Result<Self> {
        Self::checked(Distribution::Gamma { shape, rate })
    }
    /// Dirichlet over K ≥ 2 proportions (dimension K − 1).
    pub fn dirichlet(concentration: Vec<f64>) -> Result<Self> {
        Self::checked(Distribution::Dirichlet { concentration })
    }
    /// Blocks stacked in order.
    pub fn product(parts: Vec<Distribution>) -> Result<Self> {
        Self::checked(Distribution::Product { parts })
    }

    fn checked(d: Distribution) -> Result<Self> {
        d.validate()?;
        Ok(d)
    }

    /// The family name as written in config files (`"uniform"`, `"multivariate_normal"`, ...).
    pub fn family(&self) -> &'static str {
        match self {
            Distribution::Uniform { .. } => "uniform",
            Distribution::Normal { .. } => "normal",
            Distribution::MultivariateNormal { .. } => "multivariate_normal",
            Distribution::LogNormal { .. } => "log_normal",
            Distribution::Beta { .. } => "beta",
            Distribution::Gamma { .. } => "gamma",
            Distribution::Dirichlet { .. } => "dirichlet",
            Distribution::Product { .. } => "product",
        }
    }

    /// Check the parameters (what the constructors check); used after deserialising a config.
    pub fn validate(&self) -> Result<()> {
        let family = self.family();
        match self {
            Distribution::Uniform { low, high } => {
                check_pair(family, "low", low, "high", high)?;
                for (i, (&a, &b)) in low.iter().zip(high).enumerate() {
                    if a >= b {
                        return Err(invalid(family, format!("low[{i}] = {a} must be < high[{i}] = {b}")));
                    }
                }
                Ok(())
            }
            Distribution::Normal { mean, std } => {
                check_pair(family, "mean", mean, "std", std)?;
                check_positive(family, "std", std)
            }
            Distribution::MultivariateNormal { mean, covariance } => {
                if mean.is_empty() {
                    return Err(invalid(family, "mean is empty (at least one dimension is needed)".into()));
                }
                check_finite(family, "mean", mean)?;
                spd_cholesky(family, "covariance", mean.len(), covariance).map(|_| ())
            }
            Distribution::LogNormal { mu, sigma } => {
                check_pair(family, "mu", mu, "sigma", sigma)?;
                check_positive(family, "sigma", sigma)
            }
            Distribution::Beta { alpha, beta } => {
                check_pair(family, "alpha", alpha, "beta", beta)?;
                check_positive(family, "alpha", alpha)?;
                check_positive(family, "beta", beta)
            }
            Distribution::Gamma { shape, rate } => {
                check_pair(family, "shape", shape, "rate", rate)?;
                check_positive(family, "shape", shape)?;
                check_positive(family, "rate", rate)
            }
            Distribution::Dirichlet { concentration } => {
                if concentration.len() < 2 {
                    return Err(invalid(
                        family,
                        format!("needs at least 2 concentrations, got {}", concentration.len()),
                    ));
                }
                check_finite(family, "concentration", concentration)?;
                check_positive(family, "concentration", concentration)
            }
            Distribution::Product { parts } => {
                if parts.is_empty() {
                    return Err(invalid(family, "has no parts".into()));
                }
                for (i, part) in parts.iter().enumerate() {
                    part.validate().map_err(|e| match e {
                        Error::InvalidInput(msg) => Error::InvalidInput(format!("product prior, part {i}: {msg}")),
                        other => other,
                    })?;
                }
                Ok(())
            }
        }
    }

    /// Dimension D of θ.
    pub fn dim(&self) -> usize {
        match self {
            Distribution::Uniform { low, .. } => low.len(),
            Distribution::Normal { mean, .. } => mean.len(),
            Distribution::MultivariateNormal { mean, .. } => mean.len(),
            Distribution::LogNormal { mu, .. } => mu.len(),
            Distribution::Beta { alpha, .. } => alpha.len(),
            Distribution::Gamma { shape, .. } => shape.len(),
            Distribution::Dirichlet { concentration } => concentration.len().saturating_sub(1),
            Distribution::Product { parts } => parts.iter().map(Distribution::dim).sum(),
        }
    }

    /// `n` independent draws, `[n, dim]`. Blocks of a product are drawn one after the other
    /// (all rows of block 1, then block 2, ...), so the result is a function of the RNG state.
    pub fn sample(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        let mut out = Array2::from_elem((n, self.dim()), f64::NAN);
        univariate::sample_into(self, out.view_mut(), rng);
        out
    }

    /// log p(θ) for each row of `theta [n, dim]`; −∞ outside the support (including rows with
    /// NaN or infinite entries). If `theta` does not have `dim` columns every entry is NaN (use
    /// [`Distribution::check_support`] to get an error instead).
    pub fn log_prob(&self, theta: ArrayView2<f64>) -> Array1<f64> {
        if theta.ncols() != self.dim() {
            return Array1::from_elem(theta.nrows(), f64::NAN);
        }
        let mut out = Array1::zeros(theta.nrows());
        univariate::add_log_prob(self, theta, out.view_mut());
        out
    }

    /// Whether one parameter vector lies in the support (false if its length is not `dim`).
    pub fn in_support(&self, theta: ArrayView1<f64>) -> bool {
        theta.len() == self.dim() && support::first_violation(self, theta, 0).is_none()
    }

    /// Error [`Error::OutsideSupport`] naming the first row (and coordinate) outside the support,
    /// or a shape error if `theta` does not have `dim` columns.
    pub fn check_support(&self, theta: ArrayView2<f64>) -> Result<()> {
        let dim = self.dim();
        if theta.ncols() != dim {
            return Err(Error::shape(
                format!("{} prior support check", self.family()),
                format!("{dim} columns"),
                format!("{} columns", theta.ncols()),
            ));
        }
        for (row, values) in theta.outer_iter().enumerate() {
            if let Some(v) = support::first_violation(self, values, 0) {
                return Err(Error::OutsideSupport { row, detail: v.to_string() });
            }
        }
        Ok(())
    }

    /// Per-coordinate bounds of the support, (−∞, ∞) where unbounded.
    pub fn bounds(&self) -> Vec<(f64, f64)> {
        let unbounded = |n: usize| vec![(f64::NEG_INFINITY, f64::INFINITY); n];
        match self {
            Distribution::Uniform { low, high } => low.iter().copied().zip(high.iter().copied()).collect(),
            Distribution::Normal { .. } | Distribution::MultivariateNormal { .. } => unbounded(self.dim()),
            Distribution::LogNormal { .. } | Distribution::Gamma { .. } => vec![(0.0, f64::INFINITY); self.dim()],
            Distribution::Beta { .. } | Distribution::Dirichlet { .. } => vec![(0.0, 1.0); self.dim()],
            Distribution::Product { parts } => parts.iter().flat_map(Distribution::bounds).collect(),
        }
    }

    /// Mean vector.
    pub fn mean(&self) -> Vec<f64> {
        univariate::mean(self)
    }

    /// Marginal variances.
    pub fn variance(&self) -> Vec<f64> {
        univariate::variance(self)
    }

    /// The bijection T from the support onto ℝᴰ, applied to each row (identity for unbounded
    /// coordinates, logit of the rescaled value for intervals, log for (0, ∞), stick-breaking for
    /// the Dirichlet simplex).
    ///
    /// Rows outside the support map to non-finite values; a `theta` without `dim` columns gives
    /// an all-NaN `[n, dim]` result.
    pub fn to_unconstrained(&self, theta: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::from_elem((theta.nrows(), self.dim()), f64::NAN);
        if theta.ncols() == self.dim() {
            bijection::to_unconstrained(self, theta, out.view_mut());
        }
        out
    }

    /// The vector–Jacobian product gᵀ ∂T/∂θ for each row of `theta` (inside the support) and of
    /// `g`: the gradient with respect to θ of a function of u = T(θ) whose gradient with respect
    /// to u is g. Computed in f64 from θ, so it stays accurate where θ is within rounding of a
    /// bound (the chain rule for networks that read θ in unconstrained space). Inputs without
    /// `dim` columns give an all-NaN result.
    pub fn to_unconstrained_vjp(&self, theta: ArrayView2<f64>, g: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::from_elem((theta.nrows(), self.dim()), f64::NAN);
        if theta.ncols() == self.dim() && g.dim() == theta.dim() {
            bijection::to_unconstrained_vjp(self, theta, g, out.view_mut());
        }
        out
    }

    /// T⁻¹ applied to each row of `u`, and log|det ∂T⁻¹/∂u| per row, so that the density of u is
    /// p(T⁻¹(u)) · |det ∂T⁻¹/∂u|.
    ///
    /// A `u` without `dim` columns gives all-NaN results.
    pub fn from_unconstrained(&self, u: ArrayView2<f64>) -> (Array2<f64>, Array1<f64>) {
        let mut theta = Array2::from_elem((u.nrows(), self.dim()), f64::NAN);
        let mut log_det = Array1::from_elem(u.nrows(), f64::NAN);
        if u.ncols() == self.dim() {
            log_det.fill(0.0);
            bijection::from_unconstrained(self, u, theta.view_mut(), log_det.view_mut());
        }
        (theta, log_det)
    }
}

/// `Error::InvalidInput` prefixed with the family name.
fn invalid(family: &str, message: String) -> Error {
    Error::InvalidInput(format!("{family} prior: {message}"))
}

/// Two parameter vectors of one family: non-empty, equal lengths, finite entries.
fn check_pair(family: &str, a_name: &str, a: &[f64], b_name: &str, b: &[f64]) -> Result<()> {
    if a.is_empty() {
        return Err(invalid(family, format!("{a_name} is empty (at least one dimension is needed)")));
    }
    if a.len() != b.len() {
        return Err(invalid(family, format!("{a_name} has {} entries but {b_name} has {}", a.len(), b.len())));
    }
    check_finite(family, a_name, a)?;
    check_finite(family, b_name, b)
}

fn check_finite(family: &str, name: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(invalid(family, format!("{name}[{i}] = {} is not finite", values[i]))),
        None => Ok(()),
    }
}

fn check_positive(family: &str, name: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|&v| v.is_nan() || v <= 0.0) {
        Some(i) => Err(invalid(family, format!("{name}[{i}] = {} must be > 0", values[i]))),
        None => Ok(()),
    }
}

/// Checks that `rows` is a `dim × dim`, finite, symmetric (to a relative tolerance of 1e-9 of
/// √(aᵢᵢaⱼⱼ)), positive-definite matrix and returns its lower Cholesky factor.
fn spd_cholesky(family: &str, name: &str, dim: usize, rows: &[Vec<f64>]) -> Result<Array2<f64>> {
    if rows.len() != dim {
        return Err(invalid(family, format!("{name} has {} rows but the mean has {dim} entries", rows.len())));
    }
    let mut a = Array2::zeros((dim, dim));
    for (i, row) in rows.iter().enumerate() {
        if row.len() != dim {
            return Err(invalid(family, format!("{name} row {i} has {} entries, expected {dim}", row.len())));
        }
        for (j, &v) in row.iter().enumerate() {
            if !v.is_finite() {
                return Err(invalid(family, format!("{name}[{i}][{j}] = {v} is not finite")));
            }
            a[[i, j]] = v;
        }
    }
    for i in 0..dim {
        if a[[i, i]] <= 0.0 {
            return Err(invalid(family, format!("{name}[{i}][{i}] = {} must be > 0", a[[i, i]])));
        }
    }
    for i in 0..dim {
        for j in 0..i {
            let tol = 1e-9 * (a[[i, i]] * a[[j, j]]).sqrt();
            if (a[[i, j]] - a[[j, i]]).abs() > tol {
                return Err(invalid(
                    family,
                    format!("{name} is not symmetric: [{i}][{j}] = {} but [{j}][{i}] = {}", a[[i, j]], a[[j, i]]),
                ));
            }
        }
    }
    linalg::cholesky(a.view())
        .map_err(|k| invalid(family, format!("{name} is not positive definite (Cholesky pivot {k} is not positive)")))
}

/// Each part of a product distribution with the range of θ's columns it covers (the parts'
/// coordinates are concatenated in order).
pub(super) fn part_columns(parts: &[Distribution]) -> impl Iterator<Item = (&Distribution, Range<usize>)> {
    parts.iter().scan(0, |start, part| {
        let columns = *start..*start + part.dim();
        *start = columns.end;
        Some((part, columns))
    })
}
