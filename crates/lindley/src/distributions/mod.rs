//! Prior distributions over parameter vectors θ ∈ ℝᴰ: batched sampling and log-density, support
//! checks, and a smooth bijection to unconstrained space ℝᴰ (used by MCMC and by flows that must
//! respect bounded priors).
//!
//! [`Distribution`] is a serialisable enum so that a prior can be written in a TOML/JSON config
//! file and stored in a model file's header. Univariate families take one parameter per
//! dimension (independent coordinates); [`Distribution::Product`] stacks blocks.
//!
//! Rows of a batch are parameter vectors: `theta` is `[n, dim]`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::rng::LindleyRng;
use crate::{Error, Result};

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
        todo!()
    }
    /// Independent normals; errors on length mismatch or std ≤ 0.
    pub fn normal(mean: Vec<f64>, std: Vec<f64>) -> Result<Self> {
        todo!()
    }
    /// Multivariate normal; errors if the covariance is not square, symmetric, positive definite.
    pub fn multivariate_normal(mean: Vec<f64>, covariance: Vec<Vec<f64>>) -> Result<Self> {
        todo!()
    }
    /// Independent log-normals.
    pub fn log_normal(mu: Vec<f64>, sigma: Vec<f64>) -> Result<Self> {
        todo!()
    }
    /// Independent betas.
    pub fn beta(alpha: Vec<f64>, beta: Vec<f64>) -> Result<Self> {
        todo!()
    }
    /// Independent gammas (shape, rate).
    pub fn gamma(shape: Vec<f64>, rate: Vec<f64>) -> Result<Self> {
        todo!()
    }
    /// Dirichlet over K ≥ 2 proportions (dimension K − 1).
    pub fn dirichlet(concentration: Vec<f64>) -> Result<Self> {
        todo!()
    }
    /// Blocks stacked in order.
    pub fn product(parts: Vec<Distribution>) -> Result<Self> {
        todo!()
    }
    /// Check the parameters (what the constructors check); used after deserialising a config.
    pub fn validate(&self) -> Result<()> {
        todo!()
    }
    /// Dimension D of θ.
    pub fn dim(&self) -> usize {
        todo!()
    }
    /// `n` independent draws, `[n, dim]`.
    pub fn sample(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        todo!()
    }
    /// log p(θ) for each row of `theta [n, dim]`; −∞ outside the support.
    pub fn log_prob(&self, theta: ArrayView2<f64>) -> Array1<f64> {
        todo!()
    }
    /// Whether one parameter vector lies in the support.
    pub fn in_support(&self, theta: ArrayView1<f64>) -> bool {
        todo!()
    }
    /// Error [`Error::OutsideSupport`] naming the first row (and coordinate) outside the support,
    /// or a shape error if `theta` does not have `dim` columns.
    pub fn check_support(&self, theta: ArrayView2<f64>) -> Result<()> {
        todo!()
    }
    /// Per-coordinate bounds of the support, (−∞, ∞) where unbounded.
    pub fn bounds(&self) -> Vec<(f64, f64)> {
        todo!()
    }
    /// Mean vector.
    pub fn mean(&self) -> Vec<f64> {
        todo!()
    }
    /// Marginal variances.
    pub fn variance(&self) -> Vec<f64> {
        todo!()
    }
    /// The bijection T from the support onto ℝᴰ, applied to each row (identity for unbounded
    /// coordinates, logit of the rescaled value for intervals, log for (0, ∞), stick-breaking for
    /// the Dirichlet simplex).
    pub fn to_unconstrained(&self, theta: ArrayView2<f64>) -> Array2<f64> {
        todo!()
    }
    /// T⁻¹ applied to each row of `u`, and log|det ∂T⁻¹/∂u| per row, so that the density of u is
    /// p(T⁻¹(u)) · |det ∂T⁻¹/∂u|.
    pub fn from_unconstrained(&self, u: ArrayView2<f64>) -> (Array2<f64>, Array1<f64>) {
        todo!()
    }
}
