//! Mixture density network (Bishop 1994): q(θ | c) = Σₖ πₖ(c) N(θ; μₖ(c), Σₖ(c)) with full
//! covariances, parameterised by upper-triangular precision factors Σₖ⁻¹ = UₖᵀUₖ (positive
//! diagonal), so that log N = Σᵢ log Uᵢᵢ − ½‖U(θ − μ)‖² − (d/2)·log 2π needs no matrix inverse.

use burn::prelude::*;
use rand::Rng;
use rand_distr::StandardNormal;

use crate::nn::ResidualNet;
use crate::rng::LindleyRng;
use crate::tensor_ops::{
    HALF_LOG_TWO_PI, logsumexp_last, softplus, softplus_inverse, tensor_to_vec, triangle_placement,
};

/// A conditional Gaussian mixture with `components` full-covariance components.
#[derive(Module, Debug)]
pub struct Mdn {
    net: ResidualNet,
    dim: usize,
    components: usize,
    /// Constant `[D, D·D]` matrix placing the diagonal entries of U.
    diagonal_placement: Tensor<2>,
    /// Constant `[D(D−1)/2, D·D]` matrix placing the strictly upper entries of U.
    upper_placement: Tensor<2>,
}

/// The mixture's parameters for a batch: log weights `[B, K]`, means `[B, K, D]`, precision
/// factors `[B, K, D, D]` and Σᵢ log Uᵢᵢ `[B, K]`.
struct MixtureParams {
    log_weights: Tensor<2>,
    means: Tensor<3>,
    factors: Tensor<4>,
    log_det_factors: Tensor<2>,
}

impl Mdn {
    /// An MDN over `dim` variables conditioned on `context` features.
    pub fn new(
        dim: usize,
        context: usize,
        components: usize,
        hidden: usize,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Self {
        let upper = dim * (dim - 1) / 2;
        let outputs = components * (1 + 2 * dim + upper);
        let net = ResidualNet::new(context, 0, hidden, 2, outputs, 1.0, rng, device);
        Self {
            net,
            dim,
            components,
            diagonal_placement: triangle_placement(dim, |i, j| i == j, device),
            upper_placement: triangle_placement(dim, |i, j| j > i, device),
        }
    }

    fn params(&self, context: Tensor<2>) -> MixtureParams {
        let (d, k) = (self.dim, self.components);
        let batch = context.dims()[0];
        let upper = d * (d - 1) / 2;
        let out = self.net.forward(context, None);
        let logits = out.clone().slice(s![.., 0..k]);
        let log_weights = logits.clone() - logsumexp_last(logits);
        let means = out.clone().slice(s![.., k..k + k * d]).reshape([batch, k, d]);
        let raw_diag = out.clone().slice(s![.., k + k * d..k + 2 * k * d]).reshape([batch * k, d]);
        let diag = softplus(raw_diag.add_scalar(softplus_inverse(1.0))).add_scalar(1e-3);
        let log_det_factors = diag.clone().log().sum_dim(1).reshape([batch, k]);
        let mut factors = diag.matmul(self.diagonal_placement.clone());
        if upper > 0 {
            let raw_upper = out.slice(s![.., k + 2 * k * d..]).reshape([batch * k, upper]);
            factors = factors + raw_upper.matmul(self.upper_placement.clone());
        }
        MixtureParams { log_weights, means, factors: factors.reshape([batch, k, d, d]), log_det_factors }
    }

    /// log q(θ | c) for `theta [B, D]`, `context [B, C]`.
    pub fn log_prob(&self, theta: Tensor<2>, context: Tensor<2>) -> Tensor<1> {
        let batch = theta.dims()[0];
        let p = self.params(context);
        let centred = theta.unsqueeze_dim::<3>(1) - p.means; // [B, K, D]
        let whitened = (p.factors * centred.unsqueeze_dim::<4>(2)).sum_dim(3).squeeze_dim::<3>(3);
        let component = p.log_det_factors
            - whitened.square().sum_dim(2).squeeze_dim::<2>(2).mul_scalar(0.5)
            - (self.dim as f64 * HALF_LOG_TWO_PI);
        logsumexp_last(p.log_weights + component).reshape([batch])
    }

    /// One sample per context row: pick a component, then θ = μ + U⁻¹z by back substitution.
    pub fn sample(&self, context: Tensor<2>, rng: &mut LindleyRng) -> Tensor<2> {
        let (d, k) = (self.dim, self.components);
        let batch = context.dims()[0];
        let device = context.device();
        let p = self.params(context);
        let log_weights = tensor_to_vec(p.log_weights);
        let means = tensor_to_vec(p.means);
        let factors = tensor_to_vec(p.factors);
        let mut out = vec![0f32; batch * d];
        for b in 0..batch {
            let u: f64 = rng.random();
            let mut acc = 0.0;
            let mut c = k - 1;
            for j in 0..k {
                acc += (log_weights[b * k + j] as f64).exp();
                if u < acc {
                    c = j;
                    break;
                }
            }
            let z: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
            let u_mat = &factors[(b * k + c) * d * d..(b * k + c + 1) * d * d];
            let mut w = vec![0f64; d];
            for i in (0..d).rev() {
                let mut s = z[i];
                for j in i + 1..d {
                    s -= u_mat[i * d + j] as f64 * w[j];
                }
                w[i] = s / u_mat[i * d + i] as f64;
            }
            for i in 0..d {
                out[b * d + i] = (means[(b * k + c) * d + i] as f64 + w[i]) as f32;
            }
        }
        Tensor::from_data(TensorData::new(out, [batch, d]), &device)
    }
}
