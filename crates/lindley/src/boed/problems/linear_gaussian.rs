//! The linear-Gaussian validation problem with analytic EIG.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::{
    DesignBox, DesignProblem, DesignSimulator, HALF_LN_2PI, map_log_likelihood, map_log_prior, map_simulation,
    normal_log_pdf, standard_normal,
};
use crate::distributions::linalg::{cholesky, inverse_from_cholesky};
use crate::rng::LindleyRng;
use crate::{Error, Result};

/// Noise standard deviation σ of the linear-Gaussian problems.
pub const LINEAR_GAUSSIAN_NOISE_SD: f64 = 0.5;

/// `linear-gaussian-pP`: θ ∈ ℝᴾ with θᵢ ~ N(0, 1/i²) independent (i = 1..P), design ξ ∈ [−1, 1]ᴾ,
/// y = ξᵀθ + ε with ε ~ N(0, 0.5²). The EIG is ½·log(1 + 4·Σᵢ ξᵢ²/i²), the Gaussian-channel
/// formula ½·log det(I + Σ₀Aᵀ Σ⁻¹A) with A = ξᵀ; it is maximal at the corners of the box.
#[derive(Debug, Clone)]
pub struct LinearGaussian {
    dim: usize,
    name: String,
}

impl LinearGaussian {
    /// The problem with P = `dim` parameters (P ≥ 1).
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidInput("linear-Gaussian problem needs at least one parameter".into()));
        }
        Ok(LinearGaussian { dim, name: format!("linear-gaussian-p{dim}") })
    }

    /// Prior standard deviation 1/i of parameter i (zero-based index `j`, i = j + 1).
    fn prior_sd(j: usize) -> f64 {
        1.0 / (j as f64 + 1.0)
    }

    /// The exact posterior N(μ, Σ) after measurements `y [T]` at `designs [T, P]` (rows):
    /// Σ = (Σ₀⁻¹ + XᵀX/σ²)⁻¹ and μ = ΣXᵀy/σ² with Σ₀ = diag(1/i²), the reference for checking
    /// learned posteriors.
    pub fn exact_posterior(&self, designs: ArrayView2<f64>, y: ArrayView1<f64>) -> Result<(Array1<f64>, Array2<f64>)> {
        if designs.ncols() != self.dim || designs.nrows() != y.len() {
            return Err(Error::shape(
                format!("{} exact posterior", self.name),
                format!("designs [T, {}] and T observations", self.dim),
                format!("designs {:?}, {} observations", designs.dim(), y.len()),
            ));
        }
        let noise_var = LINEAR_GAUSSIAN_NOISE_SD * LINEAR_GAUSSIAN_NOISE_SD;
        let prior_precision = Array1::from_shape_fn(self.dim, |j| Self::prior_sd(j).powi(-2));
        let precision = Array2::from_diag(&prior_precision) + designs.t().dot(&designs) / noise_var;
        let factor = cholesky(precision.view()).map_err(|_| {
            Error::InvalidInput(format!("{} exact posterior: the designs are not all finite", self.name))
        })?;
        let covariance = inverse_from_cholesky(factor.view());
        let mean = covariance.dot(&designs.t().dot(&y)) / noise_var;
        Ok((mean, covariance))
    }

    fn mean(theta: ArrayView1<f64>, design: ArrayView1<f64>) -> f64 {
        theta.iter().zip(design.iter()).map(|(t, x)| t * x).sum()
    }
}

impl DesignSimulator for LinearGaussian {
    fn name(&self) -> &str {
        &self.name
    }
    fn parameter_dim(&self) -> usize {
        self.dim
    }
    fn design_dim(&self) -> usize {
        self.dim
    }
    fn observation_dim(&self) -> usize {
        1
    }
    fn design_box(&self) -> DesignBox {
        DesignBox::uniform(self.dim, -1.0, 1.0)
    }
    fn sample_prior(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        Array2::from_shape_fn((n, self.dim), |(_, j)| Self::prior_sd(j) * standard_normal(rng))
    }
    /// Σⱼ log N(θⱼ; 0, 1/(j+1)²).
    fn log_prior(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        map_log_prior(self, theta, |t| {
            t.iter().enumerate().map(|(j, &v)| normal_log_pdf(v, 0.0, Self::prior_sd(j))).sum()
        })
    }
    fn simulate(&self, theta: ArrayView2<f64>, design: ArrayView2<f64>, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        map_simulation(self, theta, design, rng, |t, x, rng, y| {
            y[0] = Self::mean(t, x) + LINEAR_GAUSSIAN_NOISE_SD * standard_normal(rng);
        })
    }
}

impl DesignProblem for LinearGaussian {
    fn log_likelihood(
        &self,
        y: ArrayView2<f64>,
        theta: ArrayView2<f64>,
        design: ArrayView2<f64>,
    ) -> Result<Array1<f64>> {
        let log_norm = -LINEAR_GAUSSIAN_NOISE_SD.ln() - HALF_LN_2PI;
        map_log_likelihood(self, y, theta, design, |y, t, x| {
            let z = (y[0] - Self::mean(t, x)) / LINEAR_GAUSSIAN_NOISE_SD;
            log_norm - 0.5 * z * z
        })
    }
    fn analytic_eig(&self, design: ArrayView1<f64>) -> Option<f64> {
        if design.len() != self.dim {
            return None;
        }
        let snr: f64 = design.iter().enumerate().map(|(j, &x)| (x * Self::prior_sd(j)).powi(2)).sum::<f64>()
            / (LINEAR_GAUSSIAN_NOISE_SD * LINEAR_GAUSSIAN_NOISE_SD);
        Some(0.5 * snr.ln_1p())
    }
}
