//! The one-compartment pharmacokinetic model with oral dosing (Ryan et al. 2014; used by
//! Ivanova et al. 2021 and Klein et al. 2026).

use ndarray::{Array1, Array2, ArrayView2};

use super::{
    DesignBox, DesignProblem, DesignSimulator, SequentialProtocol, map_log_likelihood, map_log_prior, map_simulation,
    normal_log_pdf, standard_normal,
};
use crate::Result;
use crate::rng::LindleyRng;

/// Dose D.
pub const DOSE: f64 = 400.0;
/// Prior means of (k_a, k_e, V) on the natural scale; the prior is on their logarithms.
pub const PRIOR_MEDIANS: [f64; 3] = [1.0, 0.1, 20.0];
/// Prior variance of each log-parameter.
pub const PRIOR_LOG_VARIANCE: f64 = 0.05;
/// Proportional noise coefficient (sd = 0.1·c).
pub const PROPORTIONAL_NOISE: f64 = 0.1;
/// Additive noise variance.
pub const ADDITIVE_NOISE_VARIANCE: f64 = 0.1;
/// Last admissible sampling time (hours); the design box is [0, 24].
pub const MAX_TIME: f64 = 24.0;
/// A published static design of five sampling times (hours).
pub const STATIC_DESIGN: [f64; 5] = [17.56, 0.3889, 5.3970, 23.9907, 0.3223];

/// `pharmacokinetic`: θ = log(k_a, k_e, V) ~ N(log(1, 0.1, 20), 0.05·I₃), design = sampling time
/// t ∈ [0, 24] h, concentration c(t) = (D/V)·k_a/(k_a − k_e)·(e^{−k_e t} − e^{−k_a t}) with
/// D = 400, observation y ~ N(c, (0.1·c)² + 0.1). Sequential protocol: T = 5, first time 17.56 h.
#[derive(Debug, Clone, Copy)]
pub struct Pharmacokinetic;

impl Pharmacokinetic {
    /// Concentration c(t) for log-parameters (log k_a, log k_e, log V); at k_a = k_e the limit
    /// (D/V)·k·t·e^{−k t} is used.
    pub fn concentration(log_ka: f64, log_ke: f64, log_v: f64, t: f64) -> f64 {
        let (ka, ke, v) = (log_ka.exp(), log_ke.exp(), log_v.exp());
        let scale = DOSE / v;
        let gap = ka - ke;
        if gap.abs() <= 1e-10 * ka {
            scale * ka * t * (-ka * t).exp()
        } else {
            // e^{−k_e t} − e^{−k_a t} = e^{−k_e t}·(1 − e^{−(k_a − k_e) t}), without cancellation.
            scale * ka / gap * (-ke * t).exp() * -(-gap * t).exp_m1()
        }
    }

    /// Observation noise standard deviation √((0.1·c)² + 0.1).
    pub fn noise_sd(concentration: f64) -> f64 {
        ((PROPORTIONAL_NOISE * concentration).powi(2) + ADDITIVE_NOISE_VARIANCE).sqrt()
    }
}

impl DesignSimulator for Pharmacokinetic {
    fn name(&self) -> &str {
        "pharmacokinetic"
    }
    fn parameter_dim(&self) -> usize {
        3
    }
    fn design_dim(&self) -> usize {
        1
    }
    fn observation_dim(&self) -> usize {
        1
    }
    fn design_box(&self) -> DesignBox {
        DesignBox::uniform(1, 0.0, MAX_TIME)
    }
    fn sample_prior(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        let sd = PRIOR_LOG_VARIANCE.sqrt();
        Array2::from_shape_fn((n, 3), |(_, j)| PRIOR_MEDIANS[j].ln() + sd * standard_normal(rng))
    }
    /// Σⱼ log N(θⱼ; log mⱼ, 0.05) with m = (1, 0.1, 20).
    fn log_prior(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        let sd = PRIOR_LOG_VARIANCE.sqrt();
        map_log_prior(self, theta, |t| (0..3).map(|j| normal_log_pdf(t[j], PRIOR_MEDIANS[j].ln(), sd)).sum())
    }
    fn simulate(&self, theta: ArrayView2<f64>, design: ArrayView2<f64>, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        map_simulation(self, theta, design, rng, |t, x, rng, y| {
            let c = Self::concentration(t[0], t[1], t[2], x[0]);
            y[0] = c + Self::noise_sd(c) * standard_normal(rng);
        })
    }
    fn protocol(&self) -> Option<SequentialProtocol> {
        Some(SequentialProtocol { steps: 5, first_design: vec![STATIC_DESIGN[0]] })
    }
}

impl DesignProblem for Pharmacokinetic {
    fn log_likelihood(
        &self,
        y: ArrayView2<f64>,
        theta: ArrayView2<f64>,
        design: ArrayView2<f64>,
    ) -> Result<Array1<f64>> {
        map_log_likelihood(self, y, theta, design, |y, t, x| {
            let c = Self::concentration(t[0], t[1], t[2], x[0]);
            normal_log_pdf(y[0], c, Self::noise_sd(c))
        })
    }
}
