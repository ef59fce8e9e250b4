//! Exactness tests shared by every estimator family: fitted moments on a known conditional
//! target, densities integrating to one, log-densities equal to the change-of-variables formula
//! with a numerical Jacobian, and invertibility.

use burn::prelude::*;
use ndarray::Array2;
use rand::Rng;
use rand_distr::StandardNormal;

use super::*;
use crate::rng::seeded;
use crate::tensor_ops::tensor_to_vec;
use crate::train::{TrainConfig, train};

/// Target: c ~ U(−1, 1), θ₁ | c ~ N(c, 0.5²), θ₂ | θ₁ ~ N(θ₁², 0.3²) — a curved, non-Gaussian
/// joint. At c: E[θ₁] = c, E[θ₂] = c² + 0.25, sd(θ₁) = 0.5.
fn target(n: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = seeded(seed);
    let mut theta = Array2::zeros((n, 2));
    let mut context = Array2::zeros((n, 1));
    for i in 0..n {
        let c: f64 = rng.random_range(-1.0..1.0);
        let e1: f64 = rng.sample(StandardNormal);
        let e2: f64 = rng.sample(StandardNormal);
        let t1 = c + 0.5 * e1;
        context[[i, 0]] = c;
        theta[[i, 0]] = t1;
        theta[[i, 1]] = t1 * t1 + 0.3 * e2;
    }
    (theta, context)
}

fn fitted(kind: EstimatorKind) -> ConditionalEstimator {
    let device = Device::flex().autodiff();
    let (theta, context) = target(3000, 1);
    let config = EstimatorConfig { kind, transforms: 3, hidden: 32, bins: 8, components: 4, ..Default::default() };
    let model = ConditionalEstimator::new(
        &config,
        Standardizer::fit(theta.view()),
        Standardizer::fit(context.view()),
        &mut seeded(2),
        &device,
    )
    .unwrap();
    let train_config =
        TrainConfig { max_epochs: 40, patience: 40, batch_size: 100, learning_rate: 3e-3, ..Default::default() };
    let loss = |m: &ConditionalEstimator, v: Tensor<2>, c: Tensor<2>| m.log_prob(v, c).mean().neg();
    let (model, report) =
        train(model, theta.view(), context.view(), loss, &train_config, &device, &mut |_| {}).unwrap();
    assert!(report.validation_loss.iter().all(|v| v.is_finite()));
    model.valid()
}

fn context_rows(n: usize, c: f32, device: &Device) -> Tensor<2> {
    Tensor::full([n, 1], c, device)
}

/// Sample moments at c = 0.5 match the target's.
fn check_moments(model: &ConditionalEstimator, kind: EstimatorKind) {
    let device = Device::flex();
    let n = 4000;
    let samples = tensor_to_vec(model.sample(context_rows(n, 0.5, &device), &mut seeded(5)));
    let mean = |k: usize| samples.iter().skip(k).step_by(2).map(|&v| v as f64).sum::<f64>() / n as f64;
    let (m1, m2) = (mean(0), mean(1));
    let sd1 = (samples.iter().step_by(2).map(|&v| (v as f64 - m1).powi(2)).sum::<f64>() / n as f64).sqrt();
    assert!((m1 - 0.5).abs() < 0.1, "{kind:?}: E[θ₁] = {m1}, want 0.5");
    assert!((m2 - 0.5).abs() < 0.15, "{kind:?}: E[θ₂] = {m2}, want 0.5");
    assert!((sd1 - 0.5).abs() < 0.1, "{kind:?}: sd(θ₁) = {sd1}, want 0.5");
}

/// ∫∫ q(θ | c) dθ ≈ 1 on a grid covering the mass.
fn check_normalised(model: &ConditionalEstimator, kind: EstimatorKind) {
    let device = Device::flex();
    let (lo1, hi1, lo2, hi2, m) = (-2.5f32, 3.5f32, -2.0f32, 5.0f32, 240usize);
    let (h1, h2) = ((hi1 - lo1) / m as f32, (hi2 - lo2) / m as f32);
    let mut grid = Vec::with_capacity(m * m * 2);
    for i in 0..m {
        for j in 0..m {
            grid.push(lo1 + (i as f32 + 0.5) * h1);
            grid.push(lo2 + (j as f32 + 0.5) * h2);
        }
    }
    let theta = Tensor::from_data(TensorData::new(grid, [m * m, 2]), &device);
    let log_q = tensor_to_vec(model.log_prob(theta, context_rows(m * m, 0.5, &device)));
    let mass: f64 = log_q.iter().map(|&l| (l as f64).exp()).sum::<f64>() * (h1 * h2) as f64;
    assert!((mass - 1.0).abs() < 0.03, "{kind:?}: density integrates to {mass}");
}

#[test]
fn every_estimator_fits_moments_and_is_normalised_and_flows_are_exact() {
    for kind in EstimatorKind::ALL {
        let model = fitted(kind);
        if let DensityEstimator::Flow(flow) = &model.density {
            check_change_of_variables(flow, kind);
        }
        check_normalised(&model, kind);
        check_moments(&model, kind);
    }
}

/// For a flow: θ = T⁻¹(z) then T(θ) = z to 1e-4, and log q(θ) = log N(z) − log|det ∂θ/∂z| with
/// the Jacobian by central differences.
fn check_change_of_variables(flow: &Flow, kind: EstimatorKind) {
    let device = Device::flex();
    let (n, d) = (8, flow.dim());
    let mut rng = seeded(4);
    let z: Vec<f32> = (0..n * d).map(|_| rng.sample::<f32, _>(StandardNormal) * 1.5).collect();
    let c: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let ct = Tensor::<2>::from_data(TensorData::new(c, [n, 1]), &device);
    let theta = flow.transform_noise(Tensor::from_data(TensorData::new(z.clone(), [n, d]), &device), ct.clone());
    let (z_back, _) = flow.transform(theta.clone(), ct.clone());
    for (a, b) in tensor_to_vec(z_back).iter().zip(&z) {
        assert!((a - b).abs() < 1e-4, "{kind:?}: round trip {a} vs {b}");
    }
    let log_q = tensor_to_vec(flow.log_prob(theta, ct.clone()));
    let h = 1e-3f64;
    for r in 0..n {
        let mut jacobian = vec![vec![0f64; d]; d];
        for k in 0..d {
            let mut plus = z[r * d..(r + 1) * d].to_vec();
            let mut minus = plus.clone();
            plus[k] += h as f32;
            minus[k] -= h as f32;
            let both = Tensor::from_data(TensorData::new([plus, minus].concat(), [2, d]), &device);
            let out = tensor_to_vec(flow.transform_noise(both, ct.clone().slice(s![r..r + 1, ..]).repeat_dim(0, 2)));
            for (i, row) in jacobian.iter_mut().enumerate() {
                row[k] = (out[i] as f64 - out[d + i] as f64) / (2.0 * h);
            }
        }
        let log_base: f64 = z[r * d..(r + 1) * d].iter().map(|&v| -0.5 * (v as f64).powi(2)).sum::<f64>()
            - d as f64 * crate::tensor_ops::HALF_LOG_TWO_PI;
        let want = log_base - log_abs_det(jacobian);
        assert!(
            (log_q[r] as f64 - want).abs() < 2e-2,
            "{kind:?} row {r}: log q {} vs change of variables {want}",
            log_q[r]
        );
    }
}

/// log|det A| by Gaussian elimination with partial pivoting.
pub(crate) fn log_abs_det(mut a: Vec<Vec<f64>>) -> f64 {
    let d = a.len();
    let mut total = 0.0;
    for col in 0..d {
        let pivot = (col..d).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs())).unwrap();
        a.swap(col, pivot);
        total += a[col][col].abs().ln();
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for row in lower.iter_mut() {
            let f = row[col] / pivot_row[col];
            for (value, pivot_value) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *value -= f * pivot_value;
            }
        }
    }
    total
}

#[test]
fn permuted_made_orders_are_fixed_permutations() {
    use super::flow::made_order;
    for dim in [1, 2, 5, 8] {
        for layer in 0..6 {
            for permuted in [false, true] {
                let order = made_order(dim, layer, permuted);
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, (1..=dim).collect::<Vec<_>>(), "dim {dim} layer {layer}");
                // The same order whenever a flow of this shape is built (e.g. from a model file).
                assert_eq!(order, made_order(dim, layer, permuted));
            }
        }
        assert_eq!(made_order(dim, 0, true), (1..=dim).collect::<Vec<_>>());
    }
    // With 8 variables the permuted layers are neither the natural nor the reversed order, and differ.
    let natural: Vec<usize> = (1..=8).collect();
    let reversed: Vec<usize> = (1..=8).rev().collect();
    let layers: Vec<Vec<usize>> = (1..5).map(|l| made_order(8, l, true)).collect();
    assert!(layers.iter().all(|o| *o != natural && *o != reversed), "{layers:?}");
    assert!(layers.windows(2).all(|w| w[0] != w[1]), "{layers:?}");
    assert_eq!(made_order(8, 3, false), reversed);
    // No layer repeats its predecessor's order; in two dimensions the permuted orders alternate.
    for dim in 2..=12 {
        for layer in 1..10 {
            assert_ne!(made_order(dim, layer, true), made_order(dim, layer - 1, true), "dim {dim} layer {layer}");
        }
    }
    for layer in 0..6 {
        assert_eq!(made_order(2, layer, true), made_order(2, layer, false), "layer {layer}");
    }
}

#[test]
fn architectures_beyond_any_memory_are_refused_without_allocating() {
    let refuse = |config: EstimatorConfig, expected: &str| {
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains(expected), "{error}");
    };
    refuse(EstimatorConfig { hidden: 1 << 20, ..Default::default() }, "more than 2³² hidden weights");
    refuse(EstimatorConfig { hidden: usize::MAX, ..Default::default() }, "more than 2³² hidden weights");
    refuse(EstimatorConfig { transforms: usize::MAX, blocks: usize::MAX - 1, ..Default::default() }, "hidden weights");
    refuse(EstimatorConfig { bins: 1 << 17, ..Default::default() }, "`bins` = 131072 is beyond 65,536");
    EstimatorConfig { hidden: 1024, transforms: 20, blocks: 4, ..Default::default() }.validate().unwrap();
}
