//! The invertible linear layer of neural spline flows (Durkan et al. 2019; Kingma & Dhariwal
//! 2018): z = W·v + b with W = L·U, L unit lower-triangular and U upper-triangular with a positive
//! diagonal, so log|det W| = Σᵢ log Uᵢᵢ. Initialised to the identity. Placed after every coupling
//! layer, it mixes the coordinates that the next coupling layer splits.

use burn::module::Param;
use burn::prelude::*;

use crate::tensor_ops::{softplus, softplus_inverse, triangle_placement};

/// Smallest diagonal entry of U.
const MIN_DIAGONAL: f64 = 1e-3;

/// z = v·Wᵀ + b with W = L·U (see the module docs).
#[derive(Module, Debug)]
pub struct LuLinear {
    /// Strictly lower entries of L, row by row.
    lower: Param<Tensor<1>>,
    /// Strictly upper entries of U, row by row.
    upper: Param<Tensor<1>>,
    /// Unconstrained diagonal of U: Uᵢᵢ = softplus(uᵢ) + 10⁻³.
    diagonal: Param<Tensor<1>>,
    bias: Param<Tensor<1>>,
    /// Constant `[d(d−1)/2, d·d]` maps placing the triangle entries into a `d × d` matrix.
    lower_placement: Tensor<2>,
    upper_placement: Tensor<2>,
    dim: usize,
}

impl LuLinear {
    /// The identity map on `dim ≥ 2` coordinates, as a trainable layer.
    pub fn identity(dim: usize, device: &Device) -> Self {
        let entries = dim * (dim - 1) / 2;
        let start = softplus_inverse(1.0 - MIN_DIAGONAL) as f32;
        Self {
            lower: Param::from_tensor(Tensor::zeros([entries], device)),
            upper: Param::from_tensor(Tensor::zeros([entries], device)),
            diagonal: Param::from_tensor(Tensor::full([dim], start, device)),
            bias: Param::from_tensor(Tensor::zeros([dim], device)),
            lower_placement: triangle_placement(dim, |i, j| j < i, device),
            upper_placement: triangle_placement(dim, |i, j| j > i, device),
            dim,
        }
    }

    /// (L − I, U − diag(U), diag(U)) as `d × d`, `d × d` and `[d]` tensors.
    fn factors(&self) -> (Tensor<2>, Tensor<2>, Tensor<1>) {
        let d = self.dim;
        let strict_lower = self.lower.val().unsqueeze_dim::<2>(0).matmul(self.lower_placement.clone()).reshape([d, d]);
        let strict_upper = self.upper.val().unsqueeze_dim::<2>(0).matmul(self.upper_placement.clone()).reshape([d, d]);
        let diagonal = softplus(self.diagonal.val()).add_scalar(MIN_DIAGONAL);
        (strict_lower, strict_upper, diagonal)
    }

    /// log|det W|, the same for every row.
    fn log_det(&self, diagonal: Tensor<1>) -> Tensor<1> {
        diagonal.log().sum()
    }

    /// v → z and log|det ∂z/∂v| per row.
    pub fn forward(&self, v: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let batch = v.dims()[0];
        let (strict_lower, strict_upper, diagonal) = self.factors();
        let device = v.device();
        let identity = Tensor::eye(self.dim, &device);
        let upper = strict_upper + identity.clone() * diagonal.clone().unsqueeze_dim(0);
        let weight = (identity + strict_lower).matmul(upper);
        let z = v.matmul(weight.transpose()) + self.bias.val().unsqueeze_dim(0);
        (z, self.log_det(diagonal).expand([batch]))
    }

    /// z → v and log|det ∂v/∂z| per row. W⁻¹ = U⁻¹L⁻¹ with the exact finite series
    /// (I + N)⁻¹ = Σₖ₌₀^{d−1} (−N)ᵏ for the nilpotent strictly-triangular parts.
    pub fn inverse(&self, z: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let batch = z.dims()[0];
        let (strict_lower, strict_upper, diagonal) = self.factors();
        let device = z.device();
        let inverse_diagonal = diagonal.clone().recip().unsqueeze_dim::<2>(1); // [d, 1]
        let lower_inverse = unipotent_inverse(strict_lower, self.dim, &device);
        // U = D(I + D⁻¹M) ⇒ U⁻¹ = (I + D⁻¹M)⁻¹ D⁻¹.
        let scaled_upper = strict_upper * inverse_diagonal.clone();
        let upper_inverse = unipotent_inverse(scaled_upper, self.dim, &device) * inverse_diagonal.transpose();
        let weight_inverse = upper_inverse.matmul(lower_inverse);
        let v = (z - self.bias.val().unsqueeze_dim(0)).matmul(weight_inverse.transpose());
        (v, self.log_det(diagonal).neg().expand([batch]))
    }
}

/// (I + N)⁻¹ for a nilpotent `d × d` matrix N (strictly triangular): Σₖ₌₀^{d−1} (−N)ᵏ.
fn unipotent_inverse(nilpotent: Tensor<2>, dim: usize, device: &Device) -> Tensor<2> {
    let negated = nilpotent.neg();
    let mut term = Tensor::eye(dim, device);
    let mut total = term.clone();
    for _ in 1..dim {
        term = term.matmul(negated.clone());
        total = total + term.clone();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor_ops::tensor_to_vec;

    /// With random triangle entries: inverse(forward(v)) = v, and log|det| equals the log of the
    /// determinant of the dense matrix recovered column by column from the forward map.
    #[test]
    fn lu_layer_inverts_and_has_exact_log_det() {
        let device = Device::flex();
        let d = 4;
        let mut layer = LuLinear::identity(d, &device);
        let values =
            |n: usize, offset: f32| (0..n).map(|k| ((k as f32 + offset) * 0.7).sin() * 0.8).collect::<Vec<_>>();
        let m = d * (d - 1) / 2;
        layer.lower = Param::from_tensor(Tensor::from_data(TensorData::new(values(m, 0.3), [m]), &device));
        layer.upper = Param::from_tensor(Tensor::from_data(TensorData::new(values(m, 1.9), [m]), &device));
        layer.diagonal = Param::from_tensor(Tensor::from_data(TensorData::new(values(d, 4.2), [d]), &device));
        layer.bias = Param::from_tensor(Tensor::from_data(TensorData::new(values(d, 7.7), [d]), &device));
        let v: Vec<f32> = values(3 * d, 11.0).iter().map(|x| x * 3.0).collect();
        let input = Tensor::<2>::from_data(TensorData::new(v.clone(), [3, d]), &device);
        let (z, logdet) = layer.forward(input);
        let (back, inverse_logdet) = layer.inverse(z);
        for (a, b) in tensor_to_vec(back).iter().zip(&v) {
            assert!((a - b).abs() < 1e-4, "round trip {a} vs {b}");
        }
        // Columns of W: forward(e_j) − forward(0).
        let basis = Tensor::<2>::cat(vec![Tensor::zeros([1, d], &device), Tensor::eye(d, &device)], 0);
        let out = tensor_to_vec(layer.forward(basis).0);
        let w: Vec<Vec<f64>> =
            (0..d).map(|i| (0..d).map(|j| (out[(j + 1) * d + i] - out[i]) as f64).collect()).collect();
        let want = crate::flows::tests::log_abs_det(w);
        let got = tensor_to_vec(logdet);
        assert!(got.iter().all(|&g| (g as f64 - want).abs() < 1e-4), "{got:?} vs {want}");
        assert!(tensor_to_vec(inverse_logdet).iter().all(|&g| (g as f64 + want).abs() < 1e-4));
    }
}
