//! Elementwise invertible maps whose parameters come from a conditioner network: the affine map
//! (MAF, RealNVP) and the monotonic rational-quadratic spline with linear tails (neural spline
//! flows, Durkan et al. 2019).

use burn::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::tensor_ops::{softmax_last, softplus, softplus_inverse, tensor_to_vec};

/// Smallest bin width and height, as a fraction of the spline interval.
const MIN_BIN: f64 = 1e-3;
/// Smallest knot derivative.
const MIN_DERIVATIVE: f64 = 1e-3;
/// Smallest affine scale.
const MIN_SCALE: f64 = 1e-3;

/// Which elementwise map a flow layer applies.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transformer {
    /// y = x·s + t with s = softplus(a + softplus⁻¹(1)) + 10⁻³ (identity at a = 0).
    Affine,
    /// Monotonic rational-quadratic spline on [−bound, bound] with `bins` bins and identity
    /// (linear, slope 1) tails outside.
    Spline {
        /// Number of bins K.
        bins: usize,
        /// Half-width B of the spline interval.
        bound: f64,
    },
}

impl Transformer {
    /// Number of conditioner outputs per transformed variable (2 for affine, 3K − 1 for splines).
    pub fn params_per_dim(&self) -> usize {
        match *self {
            Transformer::Affine => 2,
            Transformer::Spline { bins, .. } => 3 * bins - 1,
        }
    }

    /// Map `x [B, D]` with parameters `[B, D, P]`; returns `y` and log|det ∂y/∂x| per row `[B]`.
    pub fn forward(&self, x: Tensor<2>, params: Tensor<3>) -> (Tensor<2>, Tensor<1>) {
        match *self {
            Transformer::Affine => {
                let (shift, scale) = affine_params(params);
                let logdet = scale.clone().log().sum_dim(1).squeeze_dim::<1>(1);
                (x * scale + shift, logdet)
            }
            Transformer::Spline { bins, bound } => spline(x, params, bins, bound, false),
        }
    }

    /// The inverse map alone, without its log-determinant (for sampling).
    pub fn invert(&self, y: Tensor<2>, params: Tensor<3>) -> Tensor<2> {
        match *self {
            Transformer::Affine => {
                let (shift, scale) = affine_params(params);
                (y - shift) / scale
            }
            Transformer::Spline { bins, bound } => spline_inverse_value(y, params, bins, bound),
        }
    }

    /// The inverse map; returns `x` and log|det ∂x/∂y| per row.
    pub fn inverse(&self, y: Tensor<2>, params: Tensor<3>) -> (Tensor<2>, Tensor<1>) {
        match *self {
            Transformer::Affine => {
                let (shift, scale) = affine_params(params);
                let logdet = scale.clone().log().sum_dim(1).squeeze_dim::<1>(1).neg();
                ((y - shift) / scale, logdet)
            }
            Transformer::Spline { bins, bound } => spline(y, params, bins, bound, true),
        }
    }
}

fn affine_params(params: Tensor<3>) -> (Tensor<2>, Tensor<2>) {
    let [batch, dim, _] = params.dims();
    let shift = params.clone().slice(s![.., .., 0..1]).reshape([batch, dim]);
    let raw = params.slice(s![.., .., 1..2]).reshape([batch, dim]);
    let scale = softplus(raw.add_scalar(softplus_inverse(1.0))).add_scalar(MIN_SCALE);
    (shift, scale)
}

/// Knot positions `[B, D, K+1]` from unnormalised bin sizes `[B, D, K]`: the bins get
/// softmax-distributed shares (each at least MIN_BIN) of the interval [−B, B].
fn knots(unnormalised: Tensor<3>, bins: usize, bound: f64) -> Tensor<3> {
    let [batch, dim, _] = unnormalised.dims();
    let share = softmax_last(unnormalised).mul_scalar(1.0 - MIN_BIN * bins as f64).add_scalar(MIN_BIN);
    let cumulative = share.cumsum(2).mul_scalar(2.0 * bound).sub_scalar(bound);
    let start = Tensor::full([batch, dim, 1], -bound, &cumulative.device());
    // The last knot is exactly +B whatever the rounding of the cumulative sum.
    let interior = cumulative.slice(s![.., .., 0..bins - 1]);
    let end = Tensor::full([batch, dim, 1], bound, &interior.device());
    Tensor::cat(vec![start, interior, end], 2)
}

/// The bin of a rational-quadratic spline that each input falls in, with the quantities of
/// Durkan et al. (2019), eqs. 4–6, picked for that bin. Inputs are clamped into [−B, B]; `inside`
/// marks the ones the spline applies to (the identity tails take the rest).
struct SelectedBin {
    inside: Tensor<2, Bool>,
    clamped: Tensor<3>,
    x_lo: Tensor<3>,
    width: Tensor<3>,
    y_lo: Tensor<3>,
    height: Tensor<3>,
    d_lo: Tensor<3>,
    d_hi: Tensor<3>,
    slope: Tensor<3>,
    curvature: Tensor<3>,
}

impl SelectedBin {
    /// Locate each input among the knots: x-knots for the forward map, y-knots for the inverse.
    fn locate(input: &Tensor<2>, params: Tensor<3>, bins: usize, bound: f64, inverse: bool) -> Self {
        let [batch, dim, _] = params.dims();
        let device = input.device();
        let xs = knots(params.clone().slice(s![.., .., 0..bins]), bins, bound);
        let ys = knots(params.clone().slice(s![.., .., bins..2 * bins]), bins, bound);
        let one = Tensor::ones([batch, dim, 1], &device);
        let interior = softplus(params.slice(s![.., .., 2 * bins..3 * bins - 1])).add_scalar(MIN_DERIVATIVE);
        // Boundary derivatives are 1, matching the slope of the linear tails.
        let derivatives = Tensor::cat(vec![one.clone(), interior, one], 2);

        let inside = input.clone().abs().lower_equal_elem(bound);
        let clamped = input.clone().clamp(-bound, bound).unsqueeze_dim::<3>(2);
        // Bin search by comparison and sum, then one-hot selection (cheaper than gather here).
        let locate = if inverse { &ys } else { &xs };
        let left_edges = locate.clone().slice(s![.., .., 0..bins]);
        let at_or_right = clamped.clone().greater_equal(left_edges).float();
        let next = at_or_right.clone().slice(s![.., .., 1..bins]);
        let zero = Tensor::zeros([batch, dim, 1], &device);
        let one_hot = at_or_right - Tensor::cat(vec![next, zero], 2);
        let pick = |t: Tensor<3>| (t * one_hot.clone()).sum_dim(2);

        let x_lo = pick(xs.clone().slice(s![.., .., 0..bins]));
        let width = pick(xs.clone().slice(s![.., .., 1..bins + 1]) - xs.slice(s![.., .., 0..bins]));
        let y_lo = pick(ys.clone().slice(s![.., .., 0..bins]));
        let height = pick(ys.clone().slice(s![.., .., 1..bins + 1]) - ys.slice(s![.., .., 0..bins]));
        let d_lo = pick(derivatives.clone().slice(s![.., .., 0..bins]));
        let d_hi = pick(derivatives.slice(s![.., .., 1..bins + 1]));
        let slope = height.clone() / width.clone();
        let curvature = d_lo.clone() + d_hi.clone() - slope.clone().mul_scalar(2.0);
        Self { inside, clamped, x_lo, width, y_lo, height, d_lo, d_hi, slope, curvature }
    }

    /// The forward map within the bin, and the position θ ∈ [0, 1] in it.
    fn forward(&self) -> (Tensor<3>, Tensor<3>) {
        let theta = (self.clamped.clone() - self.x_lo.clone()) / self.width.clone();
        let t1mt = theta.clone() * theta.clone().neg().add_scalar(1.0);
        let numerator =
            self.height.clone() * (self.slope.clone() * theta.clone().square() + self.d_lo.clone() * t1mt.clone());
        let denominator = self.slope.clone() + self.curvature.clone() * t1mt;
        (self.y_lo.clone() + numerator / denominator, theta)
    }

    /// The inverse within the bin (the stable root of the quadratic), and θ.
    fn inverse(&self) -> (Tensor<3>, Tensor<3>) {
        let dy = self.clamped.clone() - self.y_lo.clone();
        let a = self.height.clone() * (self.slope.clone() - self.d_lo.clone()) + dy.clone() * self.curvature.clone();
        let b = self.height.clone() * self.d_lo.clone() - dy.clone() * self.curvature.clone();
        let c = self.slope.clone().neg() * dy;
        let discriminant = (b.clone().square() - a * c.clone().mul_scalar(4.0)).clamp_min(0.0);
        let theta = c.mul_scalar(2.0) / (b.neg() - discriminant.sqrt());
        (theta.clone() * self.width.clone() + self.x_lo.clone(), theta)
    }

    /// log dy/dx at position θ: log(s²(d₁θ² + 2sθ(1−θ) + d₀(1−θ)²)) − 2·log(s + (d₀ + d₁ − 2s)θ(1−θ)).
    fn log_derivative(self, theta: Tensor<3>) -> Tensor<3> {
        let t1mt = theta.clone() * theta.clone().neg().add_scalar(1.0);
        let one_minus = theta.clone().neg().add_scalar(1.0);
        let numerator = self.slope.clone().square()
            * (self.d_hi * theta.square()
                + self.slope.clone() * t1mt.clone().mul_scalar(2.0)
                + self.d_lo * one_minus.square());
        let denominator = self.slope + self.curvature * t1mt;
        numerator.log() - denominator.log().mul_scalar(2.0)
    }
}

/// Rational-quadratic spline (Durkan et al. 2019) forward or inverse, with log|det| per row.
fn spline(input: Tensor<2>, params: Tensor<3>, bins: usize, bound: f64, inverse: bool) -> (Tensor<2>, Tensor<1>) {
    let [batch, dim, _] = params.dims();
    let bin = SelectedBin::locate(&input, params, bins, bound, inverse);
    let (output, theta) = if inverse { bin.inverse() } else { bin.forward() };
    let inside = bin.inside.clone();
    let log_derivative = bin.log_derivative(theta).reshape([batch, dim]);
    let log_derivative = if inverse { log_derivative.neg() } else { log_derivative };
    let logdet = Tensor::zeros([batch, dim], &input.device()).mask_where(inside.clone(), log_derivative);
    (input.mask_where(inside, output.reshape([batch, dim])), logdet.sum_dim(1).squeeze_dim::<1>(1))
}

/// The spline's inverse without its log-determinant (sampling), computed on the host one element
/// at a time: the sampling path needs no gradients, and a fused scalar loop does in one pass what
/// the tensor version does in some forty whole-batch kernels (and evaluates only the two knot
/// derivatives of the selected bin instead of all of them).
fn spline_inverse_value(input: Tensor<2>, params: Tensor<3>, bins: usize, bound: f64) -> Tensor<2> {
    let [batch, dim] = input.dims();
    let device = input.device();
    let values = spline_inverse_host(&tensor_to_vec(input), &tensor_to_vec(params), bins, bound as f32);
    Tensor::from_data(TensorData::new(values, [batch, dim]), &device)
}

/// Inverse rational-quadratic spline for each value of `y` with its `3·bins − 1` parameters
/// (row-major, the layout of the conditioner output): the same knots, bin choice and stable
/// quadratic root as [`SelectedBin`], and the identity outside [−bound, bound] (NaN passes through).
fn spline_inverse_host(y: &[f32], params: &[f32], bins: usize, bound: f32) -> Vec<f32> {
    let per_value = 3 * bins - 1;
    let mut out = vec![0f32; y.len()];
    // Independent per element: split across threads in fixed chunks (same result for any
    // thread count).
    out.par_chunks_mut(PARALLEL_CHUNK)
        .zip(y.par_chunks(PARALLEL_CHUNK))
        .zip(params.par_chunks(PARALLEL_CHUNK * per_value))
        .for_each(|((out, y), params)| {
            let mut xs = vec![0f32; bins + 1];
            let mut ys = vec![0f32; bins + 1];
            for ((o, &v), theta) in out.iter_mut().zip(y).zip(params.chunks_exact(per_value)) {
                *o = spline_inverse_one(v, theta, bins, bound, &mut xs, &mut ys);
            }
        });
    out
}

/// Values per parallel task of [`spline_inverse_host`].
const PARALLEL_CHUNK: usize = 2048;

/// The inverse spline of one value `v` with its parameters `theta`; `xs` and `ys` are scratch
/// space for the knots (length `bins + 1`).
fn spline_inverse_one(v: f32, theta: &[f32], bins: usize, bound: f32, xs: &mut [f32], ys: &mut [f32]) -> f32 {
    if v.is_nan() || v.abs() > bound {
        return v;
    }
    knots_host(&theta[..bins], bound, xs);
    knots_host(&theta[bins..2 * bins], bound, ys);
    // ys[0] = −bound ≤ v, and the knots increase: the bin is the last knot at or below v.
    let k = ys[1..bins].iter().filter(|&&knot| v >= knot).count();
    let derivative = |j: usize| {
        if j == 0 || j == bins { 1.0 } else { softplus_scalar(theta[2 * bins + j - 1]) + MIN_DERIVATIVE as f32 }
    };
    let (d_lo, d_hi) = (derivative(k), derivative(k + 1));
    let (width, height) = (xs[k + 1] - xs[k], ys[k + 1] - ys[k]);
    let slope = height / width;
    let curvature = d_lo + d_hi - 2.0 * slope;
    let dy = v - ys[k];
    let a = height * (slope - d_lo) + dy * curvature;
    let b = height * d_lo - dy * curvature;
    let c = -slope * dy;
    let discriminant = (b * b - 4.0 * a * c).max(0.0);
    let position = 2.0 * c / (-b - discriminant.sqrt());
    position * width + xs[k]
}

/// The knots of [`knots`] for one variable, written into `out` (length `bins + 1`).
fn knots_host(unnormalised: &[f32], bound: f32, out: &mut [f32]) {
    let bins = unnormalised.len();
    let max = unnormalised.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0f32;
    for (o, &u) in out[1..].iter_mut().zip(unnormalised) {
        *o = (u - max).exp();
        total += *o;
    }
    let scale = (1.0 - MIN_BIN as f32 * bins as f32) / total;
    let mut cumulative = 0f32;
    out[0] = -bound;
    for o in out[1..bins].iter_mut() {
        cumulative += *o * scale + MIN_BIN as f32;
        *o = cumulative * 2.0 * bound - bound;
    }
    out[bins] = bound;
}

/// log(1 + eˣ) for one value, without overflow.
fn softplus_scalar(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;
    use rand::Rng;

    fn random_params(batch: usize, dim: usize, p: usize, seed: u64, device: &Device) -> Tensor<3> {
        let mut rng = seeded(seed);
        let v: Vec<f32> = (0..batch * dim * p).map(|_| rng.random_range(-2.0..2.0)).collect();
        Tensor::from_data(TensorData::new(v, [batch, dim, p]), device)
    }

    /// Forward then inverse returns the input, log-dets cancel, and the log-det matches a
    /// central finite difference of the map, inside the interval and in the tails.
    #[test]
    fn transformers_invert_and_have_exact_log_det() {
        let device = Device::flex();
        for transformer in [Transformer::Affine, Transformer::Spline { bins: 8, bound: 3.0 }] {
            let p = transformer.params_per_dim();
            let xs: Vec<f32> = vec![-4.0, -2.9, -1.3, -0.2, 0.0, 0.7, 1.9, 2.99, 3.5, 10.0];
            let n = xs.len();
            let params = random_params(n, 1, p, 3, &device);
            let x = Tensor::<2>::from_data(TensorData::new(xs.clone(), [n, 1]), &device);
            let (y, ld) = transformer.forward(x.clone(), params.clone());
            let (back, ld_inv) = transformer.inverse(y.clone(), params.clone());
            let back = tensor_to_vec(back);
            let ld = tensor_to_vec(ld);
            let ld_inv = tensor_to_vec(ld_inv);
            let h = 1e-2f32;
            let xp =
                Tensor::<2>::from_data(TensorData::new(xs.iter().map(|v| v + h).collect::<Vec<_>>(), [n, 1]), &device);
            let xm =
                Tensor::<2>::from_data(TensorData::new(xs.iter().map(|v| v - h).collect::<Vec<_>>(), [n, 1]), &device);
            let yp = tensor_to_vec(transformer.forward(xp, params.clone()).0);
            let ym = tensor_to_vec(transformer.forward(xm, params).0);
            for i in 0..n {
                assert!((back[i] - xs[i]).abs() < 1e-4, "{transformer:?}: x={} back={}", xs[i], back[i]);
                assert!((ld[i] + ld_inv[i]).abs() < 1e-4);
                // Skip points within h of a spline boundary, where the difference straddles a kink.
                if (xs[i].abs() - 3.0).abs() > 2.0 * h {
                    let numeric = ((yp[i] - ym[i]) / (2.0 * h)).ln();
                    assert!((numeric - ld[i]).abs() < 2e-2, "{transformer:?} at {}: {} vs {}", xs[i], numeric, ld[i]);
                }
            }
        }
    }

    /// The spline is monotonic and maps the interval onto itself.
    #[test]
    fn spline_is_monotonic_onto_the_interval() {
        let device = Device::flex();
        let t = Transformer::Spline { bins: 10, bound: 3.0 };
        let n = 601;
        let xs: Vec<f32> = (0..n).map(|i| -3.0 + 6.0 * i as f32 / (n - 1) as f32).collect();
        let params = random_params(1, 1, t.params_per_dim(), 9, &device).repeat_dim(0, n);
        let y = tensor_to_vec(t.forward(Tensor::from_data(TensorData::new(xs, [n, 1]), &device), params).0);
        assert!((y[0] + 3.0).abs() < 1e-5 && (y[n - 1] - 3.0).abs() < 1e-5);
        assert!(y.windows(2).all(|w| w[1] > w[0]));
    }

    /// The host-side sampling inverse agrees with the tensor inverse and undoes the forward map,
    /// for many random splines and inputs spread over the interval, its edges and the tails.
    #[test]
    fn host_spline_inverse_matches_the_tensor_inverse() {
        let device = Device::flex();
        let t = Transformer::Spline { bins: 10, bound: 3.0 };
        let (n, dim) = (2000, 3);
        let mut rng = seeded(17);
        let ys: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-3.5..3.5)).collect();
        let y = Tensor::<2>::from_data(TensorData::new(ys.clone(), [n, dim]), &device);
        let params = random_params(n, dim, t.params_per_dim(), 5, &device);
        let host = t.invert(y.clone(), params.clone());
        let tensor = tensor_to_vec(t.inverse(y, params.clone()).0);
        let round_trip = tensor_to_vec(t.forward(host.clone(), params).0);
        for ((h, t), (r, y)) in tensor_to_vec(host).iter().zip(&tensor).zip(round_trip.iter().zip(&ys)) {
            // Knots that differ in the last bit (another summation order) move the inverse by
            // up to width/height ulps in flat bins, hence tolerances above f32 precision.
            assert!((h - t).abs() < 2e-4, "host {h} vs tensor {t} at y = {y}");
            assert!((r - y).abs() < 2e-4, "forward(invert({y})) = {r}");
        }
    }
}
