//! The nonlinear 1-D test model of Huan & Marzouk (2013), case 1 of the vOED-NFs paper.

use ndarray::{Array1, Array2, ArrayView2};
use rand::Rng;

use super::{
    DesignBox, DesignProblem, DesignSimulator, HALF_LN_2PI, map_log_likelihood, map_log_prior, map_simulation,
    standard_normal,
};
use crate::Result;
use crate::rng::LindleyRng;

/// Noise standard deviation: ε ~ N(0, 10⁻⁴) as in Huan & Marzouk (2013, §5.1); `tasks-boed.md`
/// does not fix the noise.
pub const NONLINEAR_NOISE_SD: f64 = 0.01;

/// `nonlinear-1d`: y = θ³ξ² + θ·exp(−|0.2 − ξ|) + ε, θ ~ U(0, 1), ξ ∈ [0, 1],
/// ε ~ N(0, 0.01²). Its EIG curve has a local optimum near ξ = 0.2 and the global one at ξ = 1.
#[derive(Debug, Clone, Copy)]
pub struct Nonlinear1d;

impl Nonlinear1d {
    /// The noise-free response G(θ, ξ).
    pub fn response(theta: f64, design: f64) -> f64 {
        theta.powi(3) * design * design + theta * (-(0.2 - design).abs()).exp()
    }
}

impl DesignSimulator for Nonlinear1d {
    fn name(&self) -> &str {
        "nonlinear-1d"
    }
    fn parameter_dim(&self) -> usize {
        1
    }
    fn design_dim(&self) -> usize {
        1
    }
    fn observation_dim(&self) -> usize {
        1
    }
    fn design_box(&self) -> DesignBox {
        DesignBox::uniform(1, 0.0, 1.0)
    }
    fn sample_prior(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        Array2::from_shape_fn((n, 1), |_| rng.random::<f64>())
    }
    /// log 1 = 0 on [0, 1], −∞ outside.
    fn log_prior(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        map_log_prior(self, theta, |t| if (0.0..=1.0).contains(&t[0]) { 0.0 } else { f64::NEG_INFINITY })
    }
    fn simulate(&self, theta: ArrayView2<f64>, design: ArrayView2<f64>, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        map_simulation(self, theta, design, rng, |t, x, rng, y| {
            y[0] = Self::response(t[0], x[0]) + NONLINEAR_NOISE_SD * standard_normal(rng);
        })
    }
}

impl DesignProblem for Nonlinear1d {
    fn log_likelihood(
        &self,
        y: ArrayView2<f64>,
        theta: ArrayView2<f64>,
        design: ArrayView2<f64>,
    ) -> Result<Array1<f64>> {
        let log_norm = -NONLINEAR_NOISE_SD.ln() - HALF_LN_2PI;
        map_log_likelihood(self, y, theta, design, |y, t, x| {
            let z = (y[0] - Self::response(t[0], x[0])) / NONLINEAR_NOISE_SD;
            log_norm - 0.5 * z * z
        })
    }
}
