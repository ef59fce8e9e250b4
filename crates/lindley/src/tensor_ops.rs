//! Small tensor helpers shared by the neural modules, kept in one place so that workarounds for
//! slow backend kernels can be changed (or dropped after a burn upgrade) in one spot.
//!
//! On the `flex` CPU backend, `log1p`/`softplus` are 20–35× slower than PyTorch and `exp`/`log`
//! about 4×, so the helpers below are written with the cheapest kernels that are still
//! numerically safe.

use burn::prelude::*;
use ndarray::{Array2, ArrayView2};

/// ½·log(2π), the normalising constant of a standard normal per dimension.
pub const HALF_LOG_TWO_PI: f64 = 0.918_938_533_204_672_8;

/// Numerically stable softplus, log(1 + eˣ) = relu(x) + log(1 + e^{−|x|}).
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let negative_abs = x.clone().abs().neg();
    burn::tensor::activation::relu(x) + negative_abs.exp().add_scalar(1.0).log()
}

/// The inverse of softplus at a scalar: log(eʸ − 1).
pub fn softplus_inverse(y: f64) -> f64 {
    y + (-(-y).exp_m1()).ln()
}

/// Softmax over the last dimension (max-subtracted for stability).
pub fn softmax_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let max = x.clone().max_dim(D - 1).detach();
    let e = (x - max).exp();
    let sum = e.clone().sum_dim(D - 1);
    e / sum
}

/// log Σ exp over the last dimension, keeping it as size 1.
pub fn logsumexp_last<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let max = x.clone().max_dim(D - 1).detach();
    (x - max.clone()).exp().sum_dim(D - 1).log() + max
}

/// Log-density of a standard normal, summed over the last dimension: −½‖z‖² − (d/2)·log 2π.
pub fn standard_normal_log_prob(z: Tensor<2>) -> Tensor<1> {
    let dim = z.dims()[1] as f64;
    z.square().sum_dim(1).squeeze_dim::<1>(1).mul_scalar(-0.5).sub_scalar(dim * HALF_LOG_TWO_PI)
}

/// A constant `[m, d·d]` matrix whose row k places the k-th entry (i, j), in row-major order
/// among the pairs with `keep(i, j)`, at flat position i·d + j: multiplying a row of m values by
/// it fills those entries of a `d × d` matrix (e.g. a triangle) and leaves the rest zero.
/// With no kept pairs it is a single zero row (a `[1, d·d]` placement of nothing).
pub fn triangle_placement(d: usize, keep: impl Fn(usize, usize) -> bool, device: &Device) -> Tensor<2> {
    let pairs: Vec<(usize, usize)> =
        (0..d).flat_map(|i| (0..d).map(move |j| (i, j))).filter(|&(i, j)| keep(i, j)).collect();
    let rows = pairs.len().max(1);
    let mut values = vec![0f32; rows * d * d];
    for (k, (i, j)) in pairs.into_iter().enumerate() {
        values[k * d * d + i * d + j] = 1.0;
    }
    Tensor::from_data(TensorData::new(values, [rows, d * d]), device)
}

/// Upload a row-major `f64` matrix as an `f32` tensor `[rows, cols]`.
pub fn matrix_to_tensor(a: ArrayView2<f64>, device: &Device) -> Tensor<2> {
    let (rows, cols) = a.dim();
    let data: Vec<f32> = a.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// Download a 2-D tensor into a row-major `f64` matrix.
pub fn tensor_to_matrix(t: Tensor<2>) -> Array2<f64> {
    let [rows, cols] = t.dims();
    let values = tensor_to_vec(t);
    Array2::from_shape_vec((rows, cols), values.into_iter().map(f64::from).collect())
        .expect("tensor element count matches its shape")
}

/// Download any float tensor as a flat `Vec<f32>` in row-major order.
pub fn tensor_to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().expect("a float tensor converts to f32")
}

/// A 1-D float tensor from a slice.
pub fn vector(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}

/// A 1-D integer index tensor from a slice (for `select`).
pub fn indices(values: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = values.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [values.len()]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    #[test]
    fn softplus_matches_closed_form_and_is_stable() {
        let x = vector(&[-100.0, -3.0, 0.0, 2.5, 100.0], &device());
        let got = tensor_to_vec(softplus(x));
        let want = [0.0f64, (1.0f64 + (-3.0f64).exp()).ln(), 2f64.ln(), (1.0f64 + 2.5f64.exp()).ln(), 100.0];
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-5, "{g} vs {w}");
        }
        assert!((softplus_inverse(1.0) - (std::f64::consts::E - 1.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn logsumexp_and_softmax_are_consistent() {
        let x =
            Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 1000.0, 1000.0, 1000.0], [2, 3]), &device());
        let lse = tensor_to_vec(logsumexp_last(x.clone()));
        assert!((lse[0] as f64 - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln()).abs() < 1e-5);
        assert!((lse[1] as f64 - (1000.0 + 3f64.ln())).abs() < 1e-3);
        let sm = tensor_to_vec(softmax_last(x));
        assert!((sm[3] - 1.0 / 3.0).abs() < 1e-6);
        assert!((sm[0] + sm[1] + sm[2] - 1.0).abs() < 1e-6);
    }
}
