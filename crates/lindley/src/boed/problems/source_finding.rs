//! Source finding (location finding) of Foster et al. (2021, DAD) and Ivanova et al. (2021).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::{
    DesignBox, DesignProblem, DesignSimulator, HALF_LN_2PI, SequentialProtocol, map_log_likelihood, map_log_prior,
    map_simulation, normal_log_pdf, standard_normal,
};
use crate::rng::LindleyRng;
use crate::{Error, Result};

/// Number of sources K.
pub const SOURCES: usize = 2;
/// Background signal b.
pub const BACKGROUND: f64 = 0.1;
/// Saturation constant m.
pub const SATURATION: f64 = 1e-4;
/// Source strength α.
pub const STRENGTH: f64 = 1.0;
/// Observation noise standard deviation σ (on the log signal).
pub const NOISE_SD: f64 = 0.5;
/// Half-width of the design box [−6, 6]ᵈ.
pub const DESIGN_LIMIT: f64 = 6.0;

/// `source-finding-Dd`: K = 2 sources θₖ ∈ ℝᵈ with θₖ ~ N(0, I_d) iid (θ row = θ₁ then θ₂,
/// P = 2d), design ξ ∈ [−6, 6]ᵈ, y ~ N(log(b + Σₖ α/(m + ‖ξ − θₖ‖²)), σ²) with b = 0.1,
/// m = 1e-4, α = 1, σ = 0.5. Sequential protocol: T = 10, first measurement at the origin.
#[derive(Debug, Clone)]
pub struct SourceFinding {
    dim: usize,
    name: String,
}

impl SourceFinding {
    /// The problem in `dim` spatial dimensions (d ≥ 1).
    pub fn new(dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidInput("source finding needs at least one spatial dimension".into()));
        }
        Ok(SourceFinding { dim, name: format!("source-finding-{dim}d") })
    }

    /// The noise-free mean log signal at design ξ for sources θ (row of K·d values).
    pub fn mean_log_signal(&self, theta: ArrayView1<f64>, design: ArrayView1<f64>) -> f64 {
        let d = self.dim;
        let mut signal = BACKGROUND;
        for k in 0..SOURCES {
            let mut sq = 0.0;
            for j in 0..d {
                let diff = design[j] - theta[k * d + j];
                sq += diff * diff;
            }
            signal += STRENGTH / (SATURATION + sq);
        }
        signal.ln()
    }
}

impl DesignSimulator for SourceFinding {
    fn name(&self) -> &str {
        &self.name
    }
    fn parameter_dim(&self) -> usize {
        SOURCES * self.dim
    }
    fn design_dim(&self) -> usize {
        self.dim
    }
    fn observation_dim(&self) -> usize {
        1
    }
    fn design_box(&self) -> DesignBox {
        DesignBox::uniform(self.dim, -DESIGN_LIMIT, DESIGN_LIMIT)
    }
    fn sample_prior(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        Array2::from_shape_fn((n, SOURCES * self.dim), |_| standard_normal(rng))
    }
    /// Σ log N(θᵢ; 0, 1) over the K·d coordinates.
    fn log_prior(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        map_log_prior(self, theta, |t| t.iter().map(|&v| normal_log_pdf(v, 0.0, 1.0)).sum())
    }
    fn simulate(&self, theta: ArrayView2<f64>, design: ArrayView2<f64>, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        map_simulation(self, theta, design, rng, |t, x, rng, y| {
            y[0] = self.mean_log_signal(t, x) + NOISE_SD * standard_normal(rng);
        })
    }
    fn protocol(&self) -> Option<SequentialProtocol> {
        Some(SequentialProtocol { steps: 10, first_design: vec![0.0; self.dim] })
    }
}

impl DesignProblem for SourceFinding {
    fn log_likelihood(
        &self,
        y: ArrayView2<f64>,
        theta: ArrayView2<f64>,
        design: ArrayView2<f64>,
    ) -> Result<Array1<f64>> {
        let log_norm = -NOISE_SD.ln() - HALF_LN_2PI;
        map_log_likelihood(self, y, theta, design, |y, t, x| {
            let z = (y[0] - self.mean_log_signal(t, x)) / NOISE_SD;
            log_norm - 0.5 * z * z
        })
    }
}
