use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

use super::Dense;
use crate::rng::LindleyRng;
use crate::tensor_ops::tensor_to_vec;

/// MADE, a masked autoencoder for distribution estimation (Germain et al. 2015).
///
/// Maps `[batch, dim + context]` to `[batch, dim, params]` such that the parameters of variable
/// `order[i]`-th in the autoregressive order depend only on variables earlier in that order and
/// on the context. Context inputs have degree 0 (visible to every unit); hidden unit `k` has
/// degree `k mod dim`; variable `i` has degree `order[i]` ∈ 1..=dim and its outputs see hidden
/// units of strictly smaller degree.
#[derive(Module, Debug)]
pub struct Made {
    layers: Vec<Dense>,
    dim: usize,
    params_per_dim: usize,
    /// tanh hidden activation instead of ReLU.
    tanh: bool,
}

impl Made {
    /// A MADE over `dim` variables (autoregressive order `order`, a permutation of 1..=dim)
    /// with `context` conditioning inputs, `hidden` units per layer and `params_per_dim` outputs
    /// per variable. The output layer is scaled by `output_scale`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dim: usize,
        order: &[usize],
        context: usize,
        hidden: &[usize],
        params_per_dim: usize,
        output_scale: f64,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Self {
        assert_eq!(order.len(), dim, "one order entry per variable");
        let mut degrees: Vec<usize> = order.to_vec();
        degrees.extend(std::iter::repeat_n(0, context));
        let mut layers = Vec::new();
        for &width in hidden {
            let next: Vec<usize> = (0..width).map(|k| k % dim).collect();
            let mask = degrees.iter().map(|&a| next.iter().map(|&b| a <= b).collect()).collect();
            layers.push(Dense::new(degrees.len(), width, 1.0, rng, device).with_mask(mask, device));
            degrees = next;
        }
        let outputs: Vec<usize> = order.iter().flat_map(|&o| std::iter::repeat_n(o, params_per_dim)).collect();
        let mask = degrees.iter().map(|&a| outputs.iter().map(|&b| a < b).collect()).collect();
        layers.push(Dense::new(degrees.len(), outputs.len(), output_scale, rng, device).with_mask(mask, device));
        Self { layers, dim, params_per_dim, tanh: false }
    }

    /// The same network with tanh (`true`) or ReLU hidden activations.
    pub fn with_tanh(mut self, tanh: bool) -> Self {
        self.tanh = tanh;
        self
    }

    /// Parameters `[batch, dim, params_per_dim]` from `[batch, dim + context]`.
    pub fn forward(&self, input: Tensor<2>) -> Tensor<3> {
        let batch = input.dims()[0];
        let mut h = input;
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = if self.tanh { tanh(h) } else { relu(h) };
            }
        }
        h.reshape([batch, self.dim, self.params_per_dim])
    }
}

/// tanh x. Where gradients flow (autodiff) or on another backend it is 2σ(2x) − 1, within
/// 3·10⁻⁷ of tanh in f32 and with the exact derivative 4σ(2x)(1 − σ(2x)) = 1 − tanh² x (the CPU
/// backend evaluates its own tanh with libm's `tanhf`, which took two thirds of an NLE posterior's
/// MCMC time). On the CPU backend without autodiff — the MCMC potential, evaluated for a few
/// hundred rows thousands of times — it is [`rational_tanh`] in one pass over the values, which
/// avoids the sigmoid's `exp` per element.
fn tanh(x: Tensor<2>) -> Tensor<2> {
    let device = x.device();
    if device.is_autodiff() || device != Device::flex() {
        return sigmoid(x * 2.0) * 2.0 - 1.0;
    }
    let shape = x.dims();
    let values: Vec<f32> = tensor_to_vec(x).into_iter().map(rational_tanh).collect();
    Tensor::from_data(TensorData::new(values, shape), &device)
}

/// The odd rational minimax approximation of tanh of degrees 13/6 on [−7.9053, 7.9053] (where
/// tanh rounds to ±1 in f32), with the coefficients of Eigen's and XLA's fast tanh; within about
/// 10⁻⁶ of tanh, and odd, so small arguments keep their relative accuracy.
// The published coefficients are kept as written; each rounds to its f32.
#[allow(clippy::excessive_precision)]
fn rational_tanh(x: f32) -> f32 {
    const ALPHA: [f32; 7] = [
        -2.76076847742355e-16,
        2.00018790482477e-13,
        -8.60467152213735e-11,
        5.12229709037114e-08,
        1.48572235717979e-05,
        6.37261928875436e-04,
        4.89352455891786e-03,
    ];
    const BETA: [f32; 4] = [1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03];
    let x = x.clamp(-7.905_311, 7.905_311);
    let x2 = x * x;
    let p = ALPHA.iter().fold(0.0, |acc, &a| acc * x2 + a) * x;
    let q = BETA.iter().fold(0.0, |acc, &b| acc * x2 + b);
    p / q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    /// Perturbing variable j may change only the outputs of variables later in the order.
    #[test]
    fn made_is_autoregressive_with_either_activation() {
        for tanh in [false, true] {
            check_autoregressive(tanh);
        }
    }

    fn check_autoregressive(tanh: bool) {
        let device = Device::flex();
        let mut rng = seeded(0);
        let order = [2, 3, 1];
        let made = Made::new(3, &order, 2, &[16, 16], 2, 1.0, &mut rng, &device).with_tanh(tanh);
        let base = [0.3f32, -0.7, 1.1, 0.5, -0.2];
        let eval =
            |v: &[f32]| tensor_to_vec(made.forward(Tensor::from_data(TensorData::new(v.to_vec(), [1, 5]), &device)));
        let y0 = eval(&base);
        for j in 0..3 {
            let mut v = base;
            v[j] += 1.0;
            let y = eval(&v);
            for i in 0..3 {
                let changed = (0..2).any(|p| (y[i * 2 + p] - y0[i * 2 + p]).abs() > 1e-7);
                if order[i] <= order[j] {
                    assert!(!changed, "output of variable {i} depends on variable {j}");
                }
            }
        }
        // The context (inputs 3, 4) reaches every variable, including the first in the order.
        let mut v = base;
        v[3] += 1.0;
        let y = eval(&v);
        assert!((0..6).all(|k| (y[k] - y0[k]).abs() > 0.0));
        // The activation is the one asked for: the two give different outputs.
        let other = Made::new(3, &order, 2, &[16, 16], 2, 1.0, &mut seeded(0), &device).with_tanh(!tanh);
        let y_other = tensor_to_vec(other.forward(Tensor::from_data(TensorData::new(base.to_vec(), [1, 5]), &device)));
        assert_ne!(y0, y_other);
    }

    #[test]
    fn both_tanh_paths_match_tanh() {
        let x: Vec<f32> = (-4000..=4000).map(|i| i as f32 * 0.005).chain([-60.0, 60.0, 1e-6, -1e-6]).collect();
        let n = x.len();
        // Through the sigmoid with autodiff, by the rational approximation without.
        for (device, tolerance) in [(Device::flex().autodiff(), 3e-7), (Device::flex(), 2e-6)] {
            let y = tensor_to_vec(tanh(Tensor::from_data(TensorData::new(x.clone(), [1, n]), &device)));
            let worst = x.iter().zip(&y).map(|(&x, &y)| (y as f64 - (x as f64).tanh()).abs()).fold(0.0, f64::max);
            assert!(worst < tolerance, "autodiff {}: largest error {worst:e}", device.is_autodiff());
        }
        // Small arguments keep their relative accuracy.
        let tiny = rational_tanh(1e-6);
        assert!((tiny as f64 / 1e-6 - 1.0).abs() < 1e-5, "tanh(1e-6) ≈ {tiny:e}");
    }
}
