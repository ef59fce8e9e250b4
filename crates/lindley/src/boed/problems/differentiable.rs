//! Differentiable simulation: the same simulators as the `ndarray` path, written with burn tensors
//! so that gradients flow from the observation y back to the design ξ (the pathwise or
//! reparameterisation gradient, y = g(θ, ξ, ε) with the noise ε drawn outside the graph).

use burn::prelude::*;

use super::linear_gaussian::LINEAR_GAUSSIAN_NOISE_SD;
use super::source_finding::{BACKGROUND, NOISE_SD, SATURATION, SOURCES, STRENGTH};
use super::{DesignProblem, DesignSimulator, LinearGaussian, SourceFinding};
use crate::{Error, Result};

/// Names accepted by [`differentiable_problem`].
pub const DIFFERENTIABLE_PROBLEM_NAMES: &[&str] =
    &["linear-gaussian-p2", "linear-gaussian-p10", "source-finding-2d", "source-finding-3d", "source-finding-5d"];

/// A design problem whose simulator is a differentiable function y = g(θ, ξ, ε) of the
/// parameters, the design and standard normal noise ε.
pub trait DifferentiableProblem: DesignProblem {
    /// Number of standard normal noise values per simulation row (the columns of `noise`).
    fn noise_dim(&self) -> usize {
        self.observation_dim()
    }
    /// y = g(θ, ξ, ε) row by row for `theta [n, P]`, `design [n, Dξ]` and standard normal
    /// `noise [n, noise_dim]`; the result is `[n, Dy]`. With the same noise, row i equals what
    /// [`DesignSimulator::simulate`](super::DesignSimulator::simulate) returns when its generator draws those noise values. Shapes
    /// are the caller's responsibility (checked with [`check_tensor_shapes`]).
    fn simulate_tensor(&self, theta: Tensor<2>, design: Tensor<2>, noise: Tensor<2>) -> Tensor<2>;
}

/// The differentiable design problem called `name` (one of [`DIFFERENTIABLE_PROBLEM_NAMES`]).
pub fn differentiable_problem(name: &str) -> Result<Box<dyn DifferentiableProblem>> {
    Ok(match name {
        "linear-gaussian-p2" => Box::new(LinearGaussian::new(2)?),
        "linear-gaussian-p10" => Box::new(LinearGaussian::new(10)?),
        "source-finding-2d" => Box::new(SourceFinding::new(2)?),
        "source-finding-3d" => Box::new(SourceFinding::new(3)?),
        "source-finding-5d" => Box::new(SourceFinding::new(5)?),
        _ => {
            return Err(Error::InvalidInput(format!(
                "design problem '{name}' has no differentiable simulator; differentiable problems: {}",
                DIFFERENTIABLE_PROBLEM_NAMES.join(", ")
            )));
        }
    })
}

/// Error unless `theta [n, P]`, `design [n, Dξ]` and `noise [n, noise_dim]` fit `problem` and
/// have the same number of rows.
pub fn check_tensor_shapes(
    problem: &dyn DifferentiableProblem,
    theta: &Tensor<2>,
    design: &Tensor<2>,
    noise: &Tensor<2>,
) -> Result<()> {
    let context = format!("{} simulate_tensor", problem.name());
    let n = theta.dims()[0];
    for (name, t, cols) in [
        ("theta", theta, problem.parameter_dim()),
        ("design", design, problem.design_dim()),
        ("noise", noise, problem.noise_dim()),
    ] {
        let [rows, c] = t.dims();
        if rows != n || c != cols {
            return Err(Error::shape(context, format!("{name} [{n}, {cols}]"), format!("[{rows}, {c}]")));
        }
    }
    Ok(())
}

impl DifferentiableProblem for LinearGaussian {
    /// y = Σⱼ ξⱼθⱼ + σε.
    fn simulate_tensor(&self, theta: Tensor<2>, design: Tensor<2>, noise: Tensor<2>) -> Tensor<2> {
        (theta * design).sum_dim(1) + noise.mul_scalar(LINEAR_GAUSSIAN_NOISE_SD)
    }
}

impl DifferentiableProblem for SourceFinding {
    /// y = log(b + Σₖ α/(m + ‖ξ − θₖ‖²)) + σε.
    fn simulate_tensor(&self, theta: Tensor<2>, design: Tensor<2>, noise: Tensor<2>) -> Tensor<2> {
        let d = self.design_dim();
        let mut signal: Option<Tensor<2>> = None;
        for k in 0..SOURCES {
            let source = theta.clone().slice(s![.., k * d..(k + 1) * d]);
            let squared = (design.clone() - source).square().sum_dim(1);
            let term = squared.add_scalar(SATURATION).recip().mul_scalar(STRENGTH);
            signal = Some(match signal {
                Some(total) => total + term,
                None => term,
            });
        }
        let signal = signal.expect("at least one source");
        signal.add_scalar(BACKGROUND).log() + noise.mul_scalar(NOISE_SD)
    }
}
