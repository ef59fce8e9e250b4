//! A small binary MLP classifier that reproduces scikit-learn's `MLPClassifier(solver="adam")`
//! training procedure (scikit-learn `neural_network/_multilayer_perceptron.py`), used by C2ST and L-C2ST.
//!
//! What is reproduced, fact by fact:
//! - ReLU hidden layers, one logistic output unit, binary log-loss with the predicted probability
//!   clipped to `[ε, 1 − ε]` (ε = machine epsilon of the working type);
//! - Glorot-uniform initialisation of weights *and* biases, `U(−b, b)` with `b = √(6 / (fan_in + fan_out))`
//!   (scikit-learn's factor 6 for every activation but the logistic one);
//! - L2 penalty α = 1e-4: the batch loss gets `0.5·α·Σ‖W‖² / batch_size` and the weight gradients
//!   `α·W / batch_size` (biases are not penalised);
//! - Adam (Kingma & Ba 2015) with learning rate 1e-3, β₁ = 0.9, β₂ = 0.999, ε = 1e-8, in
//!   scikit-learn's form `lr_t = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)`, `Δ = −lr_t·m / (√v + ε)`;
//! - mini-batches of `min(200, n)` rows over a fresh permutation each epoch (last batch smaller);
//! - the epoch loss is the batch losses weighted by batch size; training stops once it has failed to
//!   fall below `best_loss − tol` (tol = 1e-4) for more than `n_iter_no_change = 10` consecutive
//!   epochs, or after `max_epochs` epochs;
//! - prediction: class 1 when the probability exceeds 0.5.
//!
//! Arithmetic is in `f32` (scikit-learn keeps float32 input in float32, and sbibm passes float32
//! samples); losses are accumulated in `f64`. Matrix products go through ndarray's
//! `general_mat_mul` (matrixmultiply kernels) into preallocated buffers.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Zip, linalg::general_mat_mul, s};
use rand::Rng;
use rand::seq::SliceRandom;

use crate::rng::LindleyRng;

/// L2 penalty (scikit-learn's `alpha` default).
const ALPHA: f32 = 1e-4;
/// Adam step size (`learning_rate_init`).
const LEARNING_RATE: f32 = 1e-3;
/// Adam first-moment decay (`beta_1`).
const BETA1: f32 = 0.9;
/// Adam second-moment decay (`beta_2`).
const BETA2: f32 = 0.999;
/// Adam denominator offset (`epsilon`).
const ADAM_EPS: f32 = 1e-8;
/// Minimum loss improvement per epoch (`tol`).
const TOL: f64 = 1e-4;
/// Epochs without improvement tolerated before stopping (`n_iter_no_change`).
const N_ITER_NO_CHANGE: usize = 10;
/// Largest mini-batch (`batch_size="auto"` is `min(200, n)`).
const MAX_BATCH: usize = 200;

/// One fully connected layer, `z = a·W + b` with `W` of shape `[fan_in, fan_out]`.
struct Layer {
    w: Array2<f32>,
    b: Array1<f32>,
}

/// Adam moment estimates for one layer.
struct Moments {
    m_w: Array2<f32>,
    v_w: Array2<f32>,
    m_b: Array1<f32>,
    v_b: Array1<f32>,
}

/// A trained (or training) binary classifier.
pub(crate) struct Mlp {
    layers: Vec<Layer>,
}

/// Preallocated per-batch buffers: layer outputs, their deltas and the parameter gradients.
struct Workspace {
    input: Array2<f32>,
    target: Array1<f32>,
    acts: Vec<Array2<f32>>,
    deltas: Vec<Array2<f32>>,
    grad_w: Vec<Array2<f32>>,
    grad_b: Vec<Array1<f32>>,
}

impl Workspace {
    fn new(units: &[usize], batch: usize) -> Self {
        let outs = &units[1..];
        Workspace {
            input: Array2::zeros((batch, units[0])),
            target: Array1::zeros(batch),
            acts: outs.iter().map(|&u| Array2::zeros((batch, u))).collect(),
            deltas: outs.iter().map(|&u| Array2::zeros((batch, u))).collect(),
            grad_w: units.windows(2).map(|p| Array2::zeros((p[0], p[1]))).collect(),
            grad_b: outs.iter().map(|&u| Array1::zeros(u)).collect(),
        }
    }
}

impl Mlp {
    /// Trains a classifier with the given hidden-layer widths on rows `x` with 0/1 labels `y`,
    /// following scikit-learn's Adam procedure (see the module documentation). `x` must have at
    /// least one row; `rng` drives initialisation and the per-epoch shuffles.
    pub(crate) fn fit(
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
        hidden: &[usize],
        max_epochs: usize,
        rng: &mut LindleyRng,
    ) -> Mlp {
        let n = x.nrows();
        let mut units = vec![x.ncols()];
        units.extend_from_slice(hidden);
        units.push(1);

        let layers: Vec<Layer> = units
            .windows(2)
            .map(|p| {
                let bound = (6.0 / (p[0] + p[1]) as f64).sqrt() as f32;
                let w = Array2::from_shape_simple_fn((p[0], p[1]), || rng.random_range(-bound..bound));
                let b = Array1::from_shape_simple_fn(p[1], || rng.random_range(-bound..bound));
                Layer { w, b }
            })
            .collect();
        let mut moments: Vec<Moments> = layers
            .iter()
            .map(|l| Moments {
                m_w: Array2::zeros(l.w.raw_dim()),
                v_w: Array2::zeros(l.w.raw_dim()),
                m_b: Array1::zeros(l.b.raw_dim()),
                v_b: Array1::zeros(l.b.raw_dim()),
            })
            .collect();
        let mut mlp = Mlp { layers };

        let batch = n.min(MAX_BATCH);
        let mut ws = Workspace::new(&units, batch);
        let mut order: Vec<usize> = (0..n).collect();
        let mut step: i32 = 0;
        let mut best_loss = f64::INFINITY;
        let mut no_improvement = 0usize;

        for _ in 0..max_epochs {
            order.shuffle(rng);
            let mut accumulated = 0.0f64;
            for chunk in order.chunks(batch) {
                let bs = chunk.len();
                for (r, &i) in chunk.iter().enumerate() {
                    ws.input.row_mut(r).assign(&x.row(i));
                    ws.target[r] = y[i];
                }
                let loss = mlp.backprop(&mut ws, bs);
                accumulated += loss * bs as f64;
                step += 1;
                mlp.adam_step(&ws, &mut moments, step);
            }
            let epoch_loss = accumulated / n as f64;
            if epoch_loss > best_loss - TOL {
                no_improvement += 1;
            } else {
                no_improvement = 0;
            }
            if epoch_loss < best_loss {
                best_loss = epoch_loss;
            }
            if no_improvement > N_ITER_NO_CHANGE {
                break;
            }
        }
        mlp
    }

    /// Number of rows of `x` whose predicted class (probability > 0.5) equals the label in `y`.
    pub(crate) fn count_correct(&self, x: ArrayView2<f32>, y: ArrayView1<f32>) -> usize {
        self.probabilities(x)
            .iter()
            .zip(y.iter())
            .filter(|&(&p, &label)| (if p > 0.5 { 1.0 } else { 0.0 }) == label)
            .count()
    }

    /// Predicted probability of class 1 for each row of `x` (forward pass in batches of 1024 rows).
    pub(crate) fn probabilities(&self, x: ArrayView2<f32>) -> Array1<f32> {
        let units: Vec<usize> = std::iter::once(x.ncols()).chain(self.layers.iter().map(|l| l.w.ncols())).collect();
        let batch = x.nrows().clamp(1, 1024);
        let mut ws = Workspace::new(&units, batch);
        let mut out = Array1::zeros(x.nrows());
        let mut start = 0;
        while start < x.nrows() {
            let bs = batch.min(x.nrows() - start);
            ws.input.slice_mut(s![..bs, ..]).assign(&x.slice(s![start..start + bs, ..]));
            self.forward(&mut ws, bs);
            let probs = &ws.acts[ws.acts.len() - 1];
            out.slice_mut(s![start..start + bs]).assign(&probs.slice(s![..bs, 0]));
            start += bs;
        }
        out
    }

    /// Forward pass of the first `bs` rows of `ws.input`: ReLU hidden layers, logistic output.
    fn forward(&self, ws: &mut Workspace, bs: usize) {
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let (before, rest) = ws.acts.split_at_mut(l);
            let input = if l == 0 { ws.input.slice(s![..bs, ..]) } else { before[l - 1].slice(s![..bs, ..]) };
            let mut out = rest[0].slice_mut(s![..bs, ..]);
            out.rows_mut().into_iter().for_each(|mut row| row.assign(&layer.b));
            general_mat_mul(1.0, &input, &layer.w, 1.0, &mut out);
            if l < last {
                out.mapv_inplace(|z| z.max(0.0));
            } else {
                out.mapv_inplace(|z| 1.0 / (1.0 + (-z).exp()));
            }
        }
    }

    /// Forward and backward pass on the first `bs` rows of the workspace; fills the gradients and
    /// returns the batch loss (log-loss plus the L2 term).
    fn backprop(&self, ws: &mut Workspace, bs: usize) -> f64 {
        self.forward(ws, bs);
        let last = self.layers.len() - 1;
        let eps = f32::EPSILON;
        let mut log_loss = 0.0f64;
        {
            let probs = ws.acts[last].slice(s![..bs, ..]);
            let mut delta = ws.deltas[last].slice_mut(s![..bs, ..]);
            for r in 0..bs {
                let p = probs[[r, 0]];
                let t = ws.target[r];
                let pc = p.clamp(eps, 1.0 - eps) as f64;
                log_loss -= if t > 0.5 { pc.ln() } else { (1.0 - pc).ln() };
                delta[[r, 0]] = p - t;
            }
        }
        let squared_norm: f64 =
            self.layers.iter().map(|l| l.w.iter().map(|&w| (w as f64) * (w as f64)).sum::<f64>()).sum();
        let loss = log_loss / bs as f64 + 0.5 * ALPHA as f64 * squared_norm / bs as f64;

        let scale = 1.0 / bs as f32;
        for l in (0..=last).rev() {
            let input = if l == 0 { ws.input.slice(s![..bs, ..]) } else { ws.acts[l - 1].slice(s![..bs, ..]) };
            let (lower, upper) = ws.deltas.split_at_mut(l);
            let delta = upper[0].slice(s![..bs, ..]);
            let layer = &self.layers[l];
            let grad_w = &mut ws.grad_w[l];
            general_mat_mul(scale, &input.t(), &delta, 0.0, grad_w);
            grad_w.scaled_add(ALPHA * scale, &layer.w);
            // Column sums of δ over plain slices (ndarray's lane iterators do not vectorise here).
            let units = layer.b.len();
            let grad_b = ws.grad_b[l].as_slice_mut().expect("workspace buffers are contiguous");
            grad_b.fill(0.0);
            for row in upper[0].as_slice().expect("workspace buffers are contiguous")[..bs * units].chunks_exact(units)
            {
                grad_b.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
            }
            grad_b.iter_mut().for_each(|g| *g *= scale);
            if l > 0 {
                let mut prev: ArrayViewMut2<f32> = lower[l - 1].slice_mut(s![..bs, ..]);
                general_mat_mul(1.0, &delta, &layer.w.t(), 0.0, &mut prev);
                // ReLU derivative as a multiplicative 0/1 mask: a data-dependent branch here
                // mispredicts on about half of the entries and used to dominate the run time.
                prev.zip_mut_with(&input, |d, &a| *d *= f32::from(u8::from(a > 0.0)));
            }
        }
        loss
    }

    /// One Adam update of every weight and bias from the gradients in `ws` (`step` counts from 1).
    fn adam_step(&mut self, ws: &Workspace, moments: &mut [Moments], step: i32) {
        let lr = LEARNING_RATE * (1.0 - BETA2.powi(step)).sqrt() / (1.0 - BETA1.powi(step));
        let update = |p: &mut f32, m: &mut f32, v: &mut f32, g: f32| {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            *p -= lr * *m / (v.sqrt() + ADAM_EPS);
        };
        for ((layer, mom), (gw, gb)) in
            self.layers.iter_mut().zip(moments.iter_mut()).zip(ws.grad_w.iter().zip(ws.grad_b.iter()))
        {
            Zip::from(layer.w.view_mut())
                .and(mom.m_w.view_mut())
                .and(mom.v_w.view_mut())
                .and(gw.view())
                .for_each(|p, m, v, &g| update(p, m, v, g));
            Zip::from(layer.b.view_mut())
                .and(mom.m_b.view_mut())
                .and(mom.v_b.view_mut())
                .and(gb.view())
                .for_each(|p, m, v, &g| update(p, m, v, g));
        }
    }
}
