//! The Gaussian tasks of sbibm: `gaussian_linear`, `gaussian_linear_uniform` and
//! `gaussian_mixture`.

use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use rand_distr::StandardNormal;

use super::{numbered, sbibm_task};
use crate::Result;
use crate::distributions::Distribution;
use crate::rng::LindleyRng;
use crate::simulators::{Simulator, Task, check_parameter_shape, simulate_rows};

/// Dimension of θ and x in both Gaussian-linear tasks.
const LINEAR_DIM: usize = 10;
/// Variance of the simulator noise (and of the `gaussian_linear` prior), 0.1 in sbibm.
const LINEAR_VARIANCE: f64 = 0.1;

/// x ~ N(θ, σ²·I): the simulator of both Gaussian-linear tasks.
struct GaussianLinear {
    dim: usize,
    noise_std: f64,
}

impl Simulator for GaussianLinear {
    fn parameter_dim(&self) -> usize {
        self.dim
    }
    fn data_dim(&self) -> usize {
        self.dim
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "gaussian_linear simulator")?;
        Ok(simulate_rows(theta, self.dim, seed, |theta, rng: &mut LindleyRng, x| {
            for (x, &t) in x.iter_mut().zip(theta) {
                let z: f64 = rand::Rng::sample(rng, StandardNormal);
                *x = t + self.noise_std * z;
            }
        }))
    }
}

/// `gaussian_linear`: θ ~ N(0, 0.1·I₁₀), x ~ N(θ, 0.1·I₁₀) (0.1 is the variance).
pub(super) fn gaussian_linear() -> Task {
    let std = LINEAR_VARIANCE.sqrt();
    sbibm_task(
        "gaussian_linear",
        "Gaussian linear: θ ~ N(0, 0.1·I), x ~ N(θ, 0.1·I), 10 dimensions",
        Distribution::Normal { mean: vec![0.0; LINEAR_DIM], std: vec![std; LINEAR_DIM] },
        Arc::new(GaussianLinear { dim: LINEAR_DIM, noise_std: std }),
        numbered("theta", LINEAR_DIM),
    )
}

/// `gaussian_linear_uniform`: θ ~ U([−1, 1]¹⁰), x ~ N(θ, 0.1·I₁₀).
pub(super) fn gaussian_linear_uniform() -> Task {
    sbibm_task(
        "gaussian_linear_uniform",
        "Gaussian linear with uniform prior: θ ~ U([-1, 1]^10), x ~ N(θ, 0.1·I)",
        Distribution::Uniform { low: vec![-1.0; LINEAR_DIM], high: vec![1.0; LINEAR_DIM] },
        Arc::new(GaussianLinear { dim: LINEAR_DIM, noise_std: LINEAR_VARIANCE.sqrt() }),
        numbered("theta", LINEAR_DIM),
    )
}

/// Standard deviations of the two equally weighted mixture components of `gaussian_mixture`.
const MIXTURE_STDS: [f64; 2] = [1.0, 0.1];

/// x ~ ½·N(θ, I) + ½·N(θ, 0.01·I) in two dimensions; the component is drawn independently for
/// each row (the corrected sbibm simulator).
struct GaussianMixture;

impl Simulator for GaussianMixture {
    fn parameter_dim(&self) -> usize {
        2
    }
    fn data_dim(&self) -> usize {
        2
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "gaussian_mixture simulator")?;
        Ok(simulate_rows(theta, 2, seed, |theta, rng: &mut LindleyRng, x| {
            let std = MIXTURE_STDS[usize::from(rand::Rng::random_bool(rng, 0.5))];
            for (x, &t) in x.iter_mut().zip(theta) {
                let z: f64 = rand::Rng::sample(rng, StandardNormal);
                *x = t + std * z;
            }
        }))
    }
}

/// `gaussian_mixture`: θ ~ U([−10, 10]²), x ~ ½·N(θ, I) + ½·N(θ, 0.01·I).
pub(super) fn gaussian_mixture() -> Task {
    sbibm_task(
        "gaussian_mixture",
        "Gaussian mixture: θ ~ U([-10, 10]^2), x ~ 0.5·N(θ, I) + 0.5·N(θ, 0.01·I)",
        Distribution::Uniform { low: vec![-10.0; 2], high: vec![10.0; 2] },
        Arc::new(GaussianMixture),
        numbered("theta", 2),
    )
}
