//! The `two_moons` task of sbibm (Greenberg, Nonnenmacher & Macke 2019, as defined in sbibm).

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2};
use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_distr::StandardNormal;

use super::{numbered, sbibm_task};
use crate::Result;
use crate::distributions::Distribution;
use crate::rng::LindleyRng;
use crate::simulators::{Simulator, Task, check_parameter_shape, simulate_rows};

/// Mean and standard deviation of the moon radius r.
const RADIUS_MEAN: f64 = 0.1;
const RADIUS_STD: f64 = 0.01;
/// Horizontal offset of the moon.
const OFFSET: f64 = 0.25;

/// a ~ U(−π/2, π/2), r ~ N(0.1, 0.01²), p = (r cos a + 0.25, r sin a);
/// x = p + (−|θ₁ + θ₂|/√2, (−θ₁ + θ₂)/√2).
struct TwoMoons;

impl Simulator for TwoMoons {
    fn parameter_dim(&self) -> usize {
        2
    }
    fn data_dim(&self) -> usize {
        2
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "two_moons simulator")?;
        Ok(simulate_rows(theta, 2, seed, |theta, rng: &mut LindleyRng, x| {
            let angle = (rng.random::<f64>() - 0.5) * 2.0 * FRAC_PI_2;
            let z: f64 = rng.sample(StandardNormal);
            let radius = RADIUS_MEAN + RADIUS_STD * z;
            x[0] = radius * angle.cos() + OFFSET - ((theta[0] + theta[1]) * FRAC_1_SQRT_2).abs();
            x[1] = radius * angle.sin() + (theta[1] - theta[0]) * FRAC_1_SQRT_2;
        }))
    }
}

/// `two_moons`: θ ~ U([−1, 1]²), x a crescent around a point that depends on |θ₁ + θ₂| and
/// θ₂ − θ₁, giving a bimodal, crescent-shaped posterior.
pub(super) fn two_moons() -> Task {
    sbibm_task(
        "two_moons",
        "Two moons: θ ~ U([-1, 1]^2), crescent-shaped bimodal posterior",
        Distribution::Uniform { low: vec![-1.0; 2], high: vec![1.0; 2] },
        Arc::new(TwoMoons),
        numbered("theta", 2),
    )
}
