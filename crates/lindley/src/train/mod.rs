//! One training loop for every estimator: AdamW on mini-batches, a held-out validation split,
//! early stopping on the validation loss (the best parameters are kept), global gradient-norm
//! clipping, seeded shuffling, and progress reported through a callback.
//!
//! The loss is any function of the model and a mini-batch `(inputs, context)` that returns a
//! scalar tensor (e.g. the mean negative log-density for NPE/NLE, a classification loss for NRE).

use std::time::Instant;

use burn::module::{ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::rng::seeded;
use crate::tensor_ops::indices;
use crate::{Error, Result};

/// Settings of [`train`]; the defaults are sbi's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// Mini-batch size.
    pub batch_size: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay (0 makes it Adam).
    pub weight_decay: f64,
    /// Fraction of the data held out for validation and early stopping.
    pub validation_fraction: f64,
    /// Stop after this many epochs without a lower validation loss.
    pub patience: usize,
    /// Hard cap on epochs.
    pub max_epochs: usize,
    /// Clip the global gradient norm to this value (None: no clipping).
    pub clip_grad_norm: Option<f64>,
    /// Seed of the validation split and the shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 200,
            learning_rate: 5e-4,
            weight_decay: 0.0,
            validation_fraction: 0.1,
            patience: 20,
            max_epochs: 10_000,
            clip_grad_norm: Some(5.0),
            seed: 0,
        }
    }
}

/// What happened during training.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrainReport {
    /// Epochs run.
    pub epochs: usize,
    /// Epoch (1-based) whose parameters were kept.
    pub best_epoch: usize,
    /// Mean training loss per epoch.
    pub train_loss: Vec<f64>,
    /// Validation loss per epoch.
    pub validation_loss: Vec<f64>,
    /// Wall-clock seconds per epoch (training and validation).
    pub epoch_seconds: Vec<f64>,
    /// Total wall-clock seconds.
    pub seconds: f64,
}

/// Progress of one finished epoch, passed to the caller's callback.
#[derive(Clone, Debug)]
pub struct EpochProgress {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss of the epoch.
    pub train_loss: f64,
    /// Validation loss after the epoch.
    pub validation_loss: f64,
    /// Best validation loss so far.
    pub best_validation_loss: f64,
    /// Epochs since the best validation loss.
    pub epochs_without_improvement: usize,
    /// The patience in force.
    pub patience: usize,
}

/// Train `model` on pairs (`inputs[i]`, `context[i]`) by minimising `loss`, and return the
/// parameters with the lowest validation loss. `model` must live on an autodiff device.
pub fn train<M, L>(
    model: M,
    inputs: ArrayView2<f64>,
    context: ArrayView2<f64>,
    loss: L,
    config: &TrainConfig,
    device: &Device,
    progress: &mut dyn FnMut(&EpochProgress),
) -> Result<(M, TrainReport)>
where
    M: Module + Clone,
    L: Fn(&M, Tensor<2>, Tensor<2>) -> Tensor<1>,
{
    let n = inputs.nrows();
    if context.nrows() != n {
        return Err(Error::shape("train", format!("{n} context rows"), format!("{}", context.nrows())));
    }
    if !(0.0..1.0).contains(&config.validation_fraction) || config.batch_size == 0 {
        return Err(Error::InvalidInput(format!(
            "validation fraction must be in [0, 1) and the batch size positive (got {} and {})",
            config.validation_fraction, config.batch_size
        )));
    }
    let n_validation = ((n as f64) * config.validation_fraction).ceil() as usize;
    let n_train = n - n_validation;
    if n_train < 2 || n_validation < 1 {
        return Err(Error::Training(format!("need at least 3 valid simulations to train, got {n}")));
    }
    let mut rng = seeded(config.seed);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    let upload = |rows: &[usize], a: ArrayView2<f64>| {
        let cols = a.ncols();
        let v: Vec<f32> = rows.iter().flat_map(|&r| a.row(r).to_vec()).map(|x| x as f32).collect();
        Tensor::<2>::from_data(TensorData::new(v, [rows.len(), cols]), device)
    };
    let (train_rows, validation_rows) = order.split_at(n_train);
    let train_inputs = upload(train_rows, inputs);
    let train_context = upload(train_rows, context);
    let validation_inputs = upload(validation_rows, inputs).without_autodiff();
    let validation_context = upload(validation_rows, context).without_autodiff();

    let mut optimizer = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(config.weight_decay as f32).init();
    let start = Instant::now();
    let mut model = model;
    let mut best = (f64::INFINITY, model.clone(), 0usize);
    let mut report = TrainReport::default();
    let mut stale = 0;
    let mut batch_order: Vec<usize> = (0..n_train).collect();
    for epoch in 1..=config.max_epochs {
        let epoch_start = Instant::now();
        batch_order.shuffle(&mut rng);
        let mut total = 0.0;
        for batch in batch_order.chunks(config.batch_size) {
            let idx = indices(batch, device);
            let value = loss(&model, train_inputs.clone().select(0, idx.clone()), train_context.clone().select(0, idx));
            let scalar: f64 = value.clone().into_scalar::<f32>() as f64;
            if !scalar.is_finite() {
                return Err(Error::Training(format!(
                    "the training loss became {scalar} in epoch {epoch}; try a lower learning rate or check the data for extreme values"
                )));
            }
            total += scalar * batch.len() as f64;
            let mut grads = GradientsParams::from_grads(value.backward(), &model);
            if let Some(max_norm) = config.clip_grad_norm {
                clip_global_norm(&model, &mut grads, max_norm);
            }
            model = optimizer.step(config.learning_rate, model, grads);
        }
        let validation =
            evaluate(&model.valid(), &loss, &validation_inputs, &validation_context, config.batch_size.max(1000));
        report.train_loss.push(total / n_train as f64);
        report.validation_loss.push(validation);
        report.epoch_seconds.push(epoch_start.elapsed().as_secs_f64());
        report.epochs = epoch;
        if validation < best.0 {
            best = (validation, model.clone(), epoch);
            stale = 0;
        } else {
            stale += 1;
        }
        progress(&EpochProgress {
            epoch,
            train_loss: total / n_train as f64,
            validation_loss: validation,
            best_validation_loss: best.0,
            epochs_without_improvement: stale,
            patience: config.patience,
        });
        if stale >= config.patience {
            break;
        }
    }
    report.best_epoch = best.2;
    report.seconds = start.elapsed().as_secs_f64();
    Ok((best.1, report))
}

/// Mean loss over a data set, evaluated in chunks without autodiff.
fn evaluate<M, L>(model: &M, loss: &L, inputs: &Tensor<2>, context: &Tensor<2>, chunk: usize) -> f64
where
    L: Fn(&M, Tensor<2>, Tensor<2>) -> Tensor<1>,
{
    let n = inputs.dims()[0];
    let mut total = 0.0;
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        let value = loss(model, inputs.clone().slice(s![start..end, ..]), context.clone().slice(s![start..end, ..]));
        total += value.into_scalar::<f32>() as f64 * (end - start) as f64;
    }
    let mean = total / n as f64;
    if mean.is_nan() { f64::INFINITY } else { mean }
}

/// One online optimiser step of a model trained alongside a design search (the InfoNCE critic,
/// the Barber–Agakov posterior flow): a non-finite `loss` is an error naming `what` and the step;
/// otherwise the gradient's global norm is clipped to `max_norm` and the learning rate is ramped up
/// linearly over the first `warmup_steps` steps. `steps` counts the completed steps. Returns the
/// updated model and the loss value.
#[allow(clippy::too_many_arguments)]
pub(crate) fn online_step<M: Module + Clone>(
    model: M,
    optimizer: &mut burn::optim::ModuleOptimizer,
    loss: Tensor<1>,
    steps: &mut usize,
    learning_rate: f64,
    warmup_steps: usize,
    max_norm: f64,
    what: &str,
) -> Result<(M, f64)> {
    let value = loss.clone().into_scalar::<f32>() as f64;
    if !value.is_finite() {
        return Err(Error::Training(format!(
            "{what}'s training loss became {value} at step {}; try a lower learning rate",
            *steps + 1
        )));
    }
    let mut grads = GradientsParams::from_grads(loss.backward(), &model);
    clip_global_norm(&model, &mut grads, max_norm);
    *steps += 1;
    let warmup = (*steps as f64 / warmup_steps.max(1) as f64).min(1.0);
    Ok((optimizer.step(learning_rate * warmup, model, grads), value))
}

/// Scale all gradients by min(1, max_norm / ‖g‖₂), the norm taken over every parameter
/// together (PyTorch's `clip_grad_norm_`; burn's own clipping is per parameter tensor).
pub fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f64) {
    struct SquaredNorm<'a> {
        grads: &'a GradientsParams,
        total: f64,
    }
    impl ModuleVisitor for SquaredNorm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.total += g.square().sum().into_scalar::<f32>() as f64;
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut norm = SquaredNorm { grads, total: 0.0 };
    model.visit(&mut norm);
    let norm = norm.total.sqrt();
    if norm > max_norm {
        model.visit(&mut Scale { grads, factor: max_norm / (norm + 1e-6) });
    }
}
