//! The direct posterior of NPE: samples of q(θ | x_o) restricted to the prior support by
//! rejection (by MCMC when the estimator leaks so much mass outside the support that rejection
//! stalls), the correspondingly renormalised log-density, and a MAP estimate by gradient ascent;
//! and [`AnyPosterior`], which loads a model file of any method.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::mcmc_posterior::{McmcPosterior, McmcSettings};
use super::model::{Method, ModelHeader};
use super::vae::VaePosterior;
use super::{Posterior, PosteriorSamples, SampleOptions, check_observation, check_parameters};
use crate::flows::{ConditionalDensity, ConditionalEstimator};
use crate::mcmc::{LogDensity, TimeLimited, weighted_indices};
use crate::rng::{seeded, substream};
use crate::tensor_ops::{matrix_to_tensor, tensor_to_matrix, tensor_to_vec};
use crate::{Error, Result};

/// Rows per network evaluation when scoring many parameters.
const EVALUATION_CHUNK: usize = 10_000;

/// Rows per parallel task when drawing from the estimator.
const DRAW_CHUNK: usize = 2_500;

/// Posterior samples whose log-densities set the threshold of TSNPE's truncated prior (sbi's
/// `num_samples_to_estimate_support`: the ε = 10⁻⁴ quantile is then the 100th smallest value,
/// where 10,000 samples would leave it to the single most extreme draw).
pub const SUPPORT_SAMPLES: usize = 1_000_000;

/// Settings of [`DirectPosterior::map`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MapOptions {
    /// Posterior samples scored to pick starting points.
    pub candidates: usize,
    /// Best candidates refined by gradient ascent.
    pub starts: usize,
    /// Adam steps per start.
    pub steps: usize,
    /// Adam learning rate (in the units of θ).
    pub learning_rate: f64,
}

impl Default for MapOptions {
    fn default() -> Self {
        Self { candidates: 1000, starts: 10, steps: 500, learning_rate: 0.01 }
    }
}

/// q(θ | x_o) from a trained conditional density estimator, restricted to the prior support.
#[derive(Clone, Debug)]
pub struct DirectPosterior {
    estimator: ConditionalEstimator,
    header: ModelHeader,
    /// The device the estimator lives on (see [`crate::device`]).
    device: Device,
}

impl DirectPosterior {
    /// Wrap a trained estimator, living on `device` (without autodiff), with its header.
    pub fn new(estimator: ConditionalEstimator, header: ModelHeader, device: Device) -> Self {
        Self { estimator, header, device }
    }

    /// The model description (method, architecture, prior, names, training summary).
    pub fn header(&self) -> &ModelHeader {
        &self.header
    }

    /// Write the model to `path` (safetensors weights, JSON header).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::model::save(path, &self.header, &self.estimator)
    }

    /// Read a model written by [`DirectPosterior::save`]; errors say if the file is not a lindley
    /// model, is corrupt or truncated, belongs to another method, or holds weights that do not fit
    /// the architecture its header describes.
    pub fn load(path: &Path) -> Result<Self> {
        let header = ModelHeader::read(path, Method::Npe)?;
        let device = crate::device::compute_device()?;
        let skeleton = ConditionalEstimator::new(
            &header.estimator,
            header.input_standardizer.clone(),
            header.context_standardizer.clone(),
            &mut seeded(0),
            &device,
        )
        .map_err(|e| Error::Model { path: path.into(), message: e.to_string() })?;
        let estimator = crate::io::model::load_weights(path, skeleton)?;
        Ok(Self { estimator, header, device })
    }

    /// x_o as a `[rows, D]` context tensor.
    fn context(&self, observation: ArrayView1<f64>, rows: usize, device: &Device) -> Tensor<2> {
        let single = observation.insert_axis(Axis(0));
        matrix_to_tensor(single, device).repeat_dim(0, rows)
    }

    /// log q(θ | x_o) of the unrestricted estimator, without the support restriction.
    pub fn log_prob_estimator(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Result<Array1<f64>> {
        check_parameters(theta, self.parameter_dim())?;
        check_observation(observation, self.data_dim())?;
        let device = &self.device;
        let mut out = Vec::with_capacity(theta.nrows());
        for start in (0..theta.nrows()).step_by(EVALUATION_CHUNK) {
            let rows = theta.slice(ndarray::s![start..(start + EVALUATION_CHUNK).min(theta.nrows()), ..]);
            let values = self
                .estimator
                .log_prob(matrix_to_tensor(rows, device), self.context(observation, rows.nrows(), device));
            out.extend(tensor_to_vec(values).into_iter().map(f64::from));
        }
        Ok(Array1::from(out))
    }

    /// Fraction of q(θ | x_o)'s mass inside the prior support, estimated from `n` draws.
    pub fn acceptance_rate(&self, observation: ArrayView1<f64>, n: usize, seed: u64) -> Result<f64> {
        check_observation(observation, self.data_dim())?;
        let draws = self.draw(observation, n.max(1), seed);
        let inside = draws.rows().into_iter().filter(|row| self.header.prior.in_support(*row)).count();
        Ok(inside as f64 / n.max(1) as f64)
    }

    /// `rows` unrestricted draws from q(θ | x_o).
    /// Chunks of [`DRAW_CHUNK`] rows are drawn in parallel, chunk `k` from `substream(seed, k)`, so
    /// the draws do not depend on the number of threads. The observation is one context row shared
    /// by every draw (see [`ConditionalDensity::sample_shared`]).
    fn draw(&self, observation: ArrayView1<f64>, rows: usize, seed: u64) -> Array2<f64> {
        let chunks: Vec<usize> = (0..rows.div_ceil(DRAW_CHUNK)).collect();
        let parts: Vec<Array2<f64>> = chunks
            .into_par_iter()
            .map(|k| {
                let n = DRAW_CHUNK.min(rows - k * DRAW_CHUNK);
                let context = self.context(observation, 1, &self.device);
                tensor_to_matrix(self.estimator.sample_shared(context, n, &mut substream(seed, k as u64)))
            })
            .collect();
        let views: Vec<_> = parts.iter().map(|part| part.view()).collect();
        ndarray::concatenate(Axis(0), &views).unwrap_or_else(|_| Array2::zeros((0, self.parameter_dim())))
    }

    /// The maximum of p(θ | x_o): the best of `candidates` posterior samples, refined by Adam
    /// ascent on log q(θ | x_o) from the `starts` best, kept inside the prior's bounds.
    pub fn map(&self, observation: ArrayView1<f64>, options: &MapOptions, seed: u64) -> Result<Array1<f64>> {
        let samples = self.sample(options.candidates.max(1), observation, seed, &SampleOptions::default())?.theta;
        let scores = self.log_prob_estimator(samples.view(), observation)?;
        let mut order: Vec<usize> = (0..samples.nrows()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let starts = samples.select(Axis(0), &order[..options.starts.clamp(1, order.len())]);
        let refined = self.ascend(starts, observation, options)?;
        let refined_scores = self.log_prob_estimator(refined.view(), observation)?;
        // Keep the best of the refined points and the best raw candidate (ascent never hurts the
        // returned value).
        let (best_refined, best_score) = refined_scores
            .iter()
            .enumerate()
            .filter(|(i, s)| s.is_finite() && self.header.prior.in_support(refined.row(*i)))
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, s)| (i, *s))
            .unwrap_or((0, f64::NEG_INFINITY));
        if best_score >= scores[order[0]] {
            Ok(refined.row(best_refined).to_owned())
        } else {
            Ok(samples.row(order[0]).to_owned())
        }
    }

    /// TSNPE's proposal (Deistler, Gonçalves & Macke 2022): `n` draws of the prior restricted to
    /// the highest-density region {θ : log q(θ | x_o) ≥ τ} of this posterior, τ the
    /// `epsilon`-quantile of log q over [`SUPPORT_SAMPLES`] posterior samples (as sbi's density
    /// thresholder), so the region holds about 1 − ε of the posterior's mass. Drawn by rejection
    /// from the prior; when the region is too small a part of the prior for that (acceptance
    /// below `options.min_acceptance`), by sampling importance resampling instead — the same
    /// posterior samples, those inside the region weighted by p(θ)/q(θ | x_o) and resampled —
    /// with a warning.
    pub fn sample_truncated_prior(
        &self,
        n: usize,
        observation: ArrayView1<f64>,
        epsilon: f64,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples> {
        if !(epsilon > 0.0 && epsilon < 1.0) {
            return Err(Error::InvalidInput(format!("the truncation's ε must lie in (0, 1), got {epsilon}")));
        }
        let start = Instant::now();
        let reference = self.sample(SUPPORT_SAMPLES, observation, substream(seed, 0).random(), options)?.theta;
        let log_q = self.log_prob_estimator(reference.view(), observation)?;
        let mut ordered = log_q.to_vec();
        let rank = ((epsilon * ordered.len() as f64) as usize).min(ordered.len() - 1);
        let threshold = *ordered.select_nth_unstable_by(rank, f64::total_cmp).1;
        let prior = &self.header.prior;
        let inside = |rows: ArrayView2<f64>| -> Result<Vec<bool>> {
            let values = self.log_prob_estimator(rows, observation)?;
            Ok(rows.rows().into_iter().zip(values).map(|(row, v)| v >= threshold && prior.in_support(row)).collect())
        };
        let draw = |rows, draw_seed| prior.sample(rows, &mut seeded(draw_seed));
        let rejection = rejection_sample(prior.dim(), n, substream(seed, 1).random(), options, draw, inside)?;
        let Rejection::Collapsed { accepted, proposed, .. } = rejection else {
            let mut samples = rejection.into_result()?;
            samples.seconds = start.elapsed().as_secs_f64();
            return Ok(samples);
        };
        // The posterior samples that set the threshold serve as the candidates.
        let mut log_weights = prior.log_prob(reference.view()) - &log_q;
        log_weights.zip_mut_with(&log_q, |w, &q| {
            if q < threshold {
                *w = f64::NEG_INFINITY;
            }
        });
        let chosen = weighted_indices(log_weights.view(), n, &mut substream(seed, 3)).ok_or_else(|| {
            Error::Sampling("no posterior sample lies inside the prior and its highest-density region".into())
        })?;
        Ok(PosteriorSamples {
            theta: reference.select(Axis(0), &chosen),
            acceptance_rate: accepted as f64 / proposed.max(1) as f64,
            seconds: start.elapsed().as_secs_f64(),
            warnings: vec![format!(
                "only {accepted} of {proposed} prior draws fall in the posterior's highest-density region; the \
                 truncated prior was drawn by importance resampling of {} posterior samples instead",
                reference.nrows()
            )],
        })
    }

    /// Adam ascent on log q(θ | x_o) for every row of `start`, projected onto the prior bounds.
    fn ascend(&self, start: Array2<f64>, observation: ArrayView1<f64>, options: &MapOptions) -> Result<Array2<f64>> {
        let device = self.device.clone().autodiff();
        let model = self.estimator.clone().train().no_grad();
        let rows = start.nrows();
        let bounds = self.header.prior.bounds();
        let context = self.context(observation, rows, &device);
        projected_adam_ascent(start, &bounds, options, |theta| {
            let input = matrix_to_tensor(theta, &device).require_grad();
            let gradients = model.log_prob(input.clone(), context.clone()).sum().backward();
            let gradient = input
                .grad(&gradients)
                .ok_or_else(|| Error::Sampling("no gradient of the log-density with respect to θ".into()))?;
            Ok(tensor_to_matrix(gradient))
        })
    }
}

/// Adam ascent (β₁ 0.9, β₂ 0.999, ε 10⁻⁸) from every row of `start` for `options.steps` steps,
/// each step projected onto `bounds`; `gradient(θ)` returns the ascent direction for all rows. Stops
/// early when a gradient is not finite, keeping the last finite iterate.
pub(crate) fn projected_adam_ascent(
    start: Array2<f64>,
    bounds: &[(f64, f64)],
    options: &MapOptions,
    mut gradient: impl FnMut(ArrayView2<f64>) -> Result<Array2<f64>>,
) -> Result<Array2<f64>> {
    let (beta1, beta2, epsilon): (f64, f64, f64) = (0.9, 0.999, 1e-8);
    let mut theta = start;
    let mut first = Array2::<f64>::zeros(theta.raw_dim());
    let mut second = Array2::<f64>::zeros(theta.raw_dim());
    for step in 1..=options.steps {
        let gradient = gradient(theta.view())?;
        if gradient.iter().any(|g| !g.is_finite()) {
            break;
        }
        let correction1 = 1.0 - beta1.powi(step as i32);
        let correction2 = 1.0 - beta2.powi(step as i32);
        let moments = first.iter_mut().zip(second.iter_mut());
        for ((t, (m, v)), g) in theta.iter_mut().zip(moments).zip(gradient.iter()) {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            *t += options.learning_rate * (*m / correction1) / ((*v / correction2).sqrt() + epsilon);
        }
        for mut row in theta.rows_mut() {
            for (value, &(low, high)) in row.iter_mut().zip(bounds) {
                *value = value.clamp(low, high);
            }
        }
    }
    Ok(theta)
}

impl Posterior for DirectPosterior {
    fn parameter_dim(&self) -> usize {
        self.header.prior.dim()
    }

    fn data_dim(&self) -> usize {
        self.header.data_dim()
    }

    /// Rejection sampling: draw from q(θ | x_o) in batches and keep the draws inside the prior
    /// support, until `n` are kept or the time limit passes. When the acceptance rate collapses
    /// (the estimator leaks its mass outside the prior, as sequential NPE's can), the same target,
    /// q(θ | x_o) restricted to the support, is sampled by MCMC instead (slice sampling with
    /// [`McmcSettings::default`], in the prior's unconstrained space), with a warning that says so.
    /// `options.max_seconds` bounds rejection and MCMC together.
    fn sample(
        &self,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples> {
        check_observation(observation, self.data_dim())?;
        let prior = &self.header.prior;
        let draw = |rows, draw_seed| self.draw(observation, rows, draw_seed);
        let rejection = rejection_sample(prior.dim(), n, seed, options, draw, in_support(prior))?;
        let Rejection::Collapsed { accepted, proposed, seconds } = rejection else {
            return rejection.into_result();
        };
        let start = Instant::now();
        let settings = McmcSettings::default();
        // The time limit covers rejection and MCMC together.
        let target = TimeLimited::new(Truncated { posterior: self, observation }, options.max_seconds - seconds);
        let run = settings.run(&target, &self.header.prior, n, seed)?;
        let mut warnings = vec![format!(
            "{} (the estimator puts its mass outside the prior for this observation); the samples are of the same \
             target, q(θ | x_o) restricted to the support, drawn by slice-sampling MCMC instead of rejection",
            inside_support(accepted, proposed)
        )];
        if let Err(problem) = run.check(settings.max_rhat) {
            warnings.push(problem.to_string());
        }
        Ok(PosteriorSamples {
            theta: run.samples,
            acceptance_rate: run.acceptance_rate,
            seconds: seconds + start.elapsed().as_secs_f64(),
            warnings,
        })
    }

    /// Batched rejection sampling for many observations: each round draws, for every observation
    /// still short of `n` samples, about as many proposals as its acceptance rate so far says it
    /// needs, all in one network evaluation per chunk of `options.batch_size` rows (round `r`,
    /// chunk `c` seeded with `substream(seed, r · 2³² + c)`).
    fn sample_many(
        &self,
        n: usize,
        observations: ArrayView2<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<Vec<Array2<f64>>> {
        for observation in observations.rows() {
            check_observation(observation, self.data_dim())?;
        }
        let start = Instant::now();
        let (count, dim) = (observations.nrows(), self.parameter_dim());
        let mut kept: Vec<Vec<f64>> = vec![Vec::with_capacity(n * dim); count];
        let mut accepted = vec![0usize; count];
        let mut proposed = vec![0usize; count];
        let device = Device::flex();
        let chunk_rows = options.batch_size.max(100);
        for round in 0u64.. {
            // (observation index, proposals) for every observation still short of n samples.
            let mut plan: Vec<(usize, usize)> = Vec::new();
            for i in (0..count).filter(|&i| accepted[i] < n) {
                let rate = if proposed[i] == 0 { 1.0 } else { (accepted[i] as f64 / proposed[i] as f64).max(1e-3) };
                let wanted = (((n - accepted[i]) as f64 / rate) * 1.1).ceil() as usize;
                plan.push((i, wanted.clamp(8, chunk_rows)));
            }
            if plan.is_empty() {
                break;
            }
            let owners: Vec<usize> = plan.iter().flat_map(|&(i, rows)| std::iter::repeat_n(i, rows)).collect();
            for (chunk, rows) in owners.chunks(chunk_rows).enumerate() {
                let contexts = observations.select(Axis(0), rows);
                let mut rng = substream(seed, (round << 32) + chunk as u64);
                let draws =
                    tensor_to_matrix(self.estimator.sample(matrix_to_tensor(contexts.view(), &device), &mut rng));
                for (&i, row) in rows.iter().zip(draws.rows()) {
                    proposed[i] += 1;
                    if accepted[i] < n && self.header.prior.in_support(row) {
                        kept[i].extend(row.iter());
                        accepted[i] += 1;
                    }
                }
            }
            for &(i, _) in &plan {
                let rate = accepted[i] as f64 / proposed[i] as f64;
                if proposed[i] >= 10_000 && rate < options.min_acceptance {
                    return Err(Error::Sampling(format!(
                        "observation row {i}: only {} of {} draws from the estimated posterior ({:.4}%) fall inside \
                         the prior support",
                        accepted[i],
                        proposed[i],
                        100.0 * rate
                    )));
                }
            }
            if accepted.iter().any(|&a| a < n) && start.elapsed().as_secs_f64() > options.max_seconds {
                let short = accepted.iter().filter(|&&a| a < n).count();
                return Err(Error::Sampling(format!(
                    "time limit of {} s reached with {short} of {count} observations short of {n} samples",
                    options.max_seconds
                )));
            }
        }
        Ok(kept
            .into_iter()
            .map(|values| Array2::from_shape_vec((n, dim), values).expect("n rows of dim values were kept"))
            .collect())
    }

    /// log q(θ | x_o) − log P_q(θ ∈ support | x_o) inside the support, −∞ outside: the density of
    /// the rejection sampler's output. The acceptance probability is estimated from 10,000 draws.
    fn log_prob(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Result<Array1<f64>> {
        let mut values = self.log_prob_estimator(theta, observation)?;
        let acceptance = self.acceptance_rate(observation, 10_000, 0)?.max(1e-4);
        for (value, row) in values.iter_mut().zip(theta.rows()) {
            *value = if self.header.prior.in_support(row) { *value - acceptance.ln() } else { f64::NEG_INFINITY };
        }
        Ok(values)
    }
}

/// q(θ | x_o) of a direct posterior restricted to the prior support (−∞ outside): the target
/// of [`DirectPosterior::sample`]'s MCMC fallback.
struct Truncated<'a> {
    posterior: &'a DirectPosterior,
    observation: ArrayView1<'a, f64>,
}

impl LogDensity for Truncated<'_> {
    fn dim(&self) -> usize {
        self.posterior.parameter_dim()
    }

    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        let mut values = self.posterior.log_prob_estimator(theta, self.observation)?;
        for (value, row) in values.iter_mut().zip(theta.rows()) {
            if !self.posterior.header.prior.in_support(row) {
                *value = f64::NEG_INFINITY;
            }
        }
        Ok(values)
    }
}

/// What [`rejection_sample`] ended with.
pub(crate) enum Rejection {
    /// The `n` samples.
    Complete(PosteriorSamples),
    /// After at least 10,000 proposals fewer than [`SampleOptions::min_acceptance`] of them fell
    /// inside the support: `accepted` of `proposed`, in `seconds`.
    Collapsed { accepted: usize, proposed: usize, seconds: f64 },
}

impl Rejection {
    /// The samples, or an error saying that the estimator puts its mass outside the prior.
    pub(crate) fn into_result(self) -> Result<PosteriorSamples> {
        match self {
            Rejection::Complete(samples) => Ok(samples),
            Rejection::Collapsed { accepted, proposed, .. } => Err(Error::Sampling(format!(
                "{}; the estimator puts its mass outside the prior for this observation — is the observation far from \
                 the simulations it was trained on?",
                inside_support(accepted, proposed)
            ))),
        }
    }
}

/// "only `accepted` of `proposed` draws … fall inside the prior support", with the percentage.
fn inside_support(accepted: usize, proposed: usize) -> String {
    format!(
        "only {accepted} of {proposed} draws from the estimated posterior ({:.4}%) fall inside the prior support",
        100.0 * accepted as f64 / proposed.max(1) as f64
    )
}

/// Rejection sampling: `draw(rows, seed)` returns `rows` proposals of `dim` columns, `accept`
/// says which of a batch to keep, and batches are drawn (batch `b` seeded with a draw from
/// `substream(seed, b)`) until `n` are kept ([`Rejection::Complete`]), the acceptance rate
/// collapses ([`Rejection::Collapsed`]) or the time limit passes (an error; see
/// [`SampleOptions`]). Shared by the posteriors that sample an estimator directly (NPE's flow, the
/// VAEs' decoder; `accept` = [`in_support`]) and by TSNPE's truncated prior.
pub(crate) fn rejection_sample(
    dim: usize,
    n: usize,
    seed: u64,
    options: &SampleOptions,
    mut draw: impl FnMut(usize, u64) -> Array2<f64>,
    mut accept: impl FnMut(ArrayView2<f64>) -> Result<Vec<bool>>,
) -> Result<Rejection> {
    let start = Instant::now();
    let mut kept: Vec<f64> = Vec::with_capacity(n * dim);
    let (mut accepted, mut proposed) = (0usize, 0usize);
    let mut batch_index = 0u64;
    while accepted < n {
        // The first batch assumes everything is accepted (no surplus to discard when the
        // posterior lies well inside the support); later ones add 10% to the measured rate.
        let (rate, margin) =
            if proposed == 0 { (1.0, 1.0) } else { ((accepted as f64 / proposed as f64).max(1e-3), 1.1) };
        let wanted = (((n - accepted) as f64 / rate) * margin).ceil() as usize;
        let rows = wanted.clamp(100, options.batch_size.max(100));
        let draws = draw(rows, substream(seed, batch_index).random());
        batch_index += 1;
        proposed += rows;
        for (row, keep) in draws.rows().into_iter().zip(accept(draws.view())?) {
            if accepted < n && keep {
                kept.extend(row.iter());
                accepted += 1;
            }
        }
        let rate = accepted as f64 / proposed as f64;
        if proposed >= 10_000 && rate < options.min_acceptance {
            return Ok(Rejection::Collapsed { accepted, proposed, seconds: start.elapsed().as_secs_f64() });
        }
        if accepted < n && start.elapsed().as_secs_f64() > options.max_seconds {
            return Err(Error::Sampling(format!(
                "time limit of {} s reached with {accepted} of {n} samples (acceptance rate {:.4}%)",
                options.max_seconds,
                100.0 * rate
            )));
        }
    }
    let theta = Array2::from_shape_vec((n, dim), kept).expect("n rows of dim values were kept");
    let acceptance_rate = accepted as f64 / proposed.max(1) as f64;
    Ok(Rejection::Complete(PosteriorSamples {
        theta,
        acceptance_rate,
        seconds: start.elapsed().as_secs_f64(),
        warnings: vec![],
    }))
}

/// The `accept` of [`rejection_sample`] that keeps the rows inside `prior`'s support.
pub(crate) fn in_support(
    prior: &crate::distributions::Distribution,
) -> impl FnMut(ArrayView2<f64>) -> Result<Vec<bool>> {
    |rows| Ok(rows.rows().into_iter().map(|row| prior.in_support(row)).collect())
}

/// A posterior of any method, as read from a model file whose header says which.
#[derive(Debug)]
pub enum AnyPosterior {
    /// NPE's directly sampled posterior.
    Direct(DirectPosterior),
    /// NLE's or NRE's MCMC-sampled posterior.
    Mcmc(McmcPosterior),
    /// A CP-VAE's or UP-VAE's decoded posterior.
    Vae(VaePosterior),
}

impl AnyPosterior {
    /// Load any model file, choosing the posterior type from the method in its header.
    pub fn load(path: &Path) -> Result<Self> {
        match ModelHeader::method_of(path)? {
            Method::Npe => DirectPosterior::load(path).map(AnyPosterior::Direct),
            Method::Nle | Method::Nre => McmcPosterior::load(path).map(AnyPosterior::Mcmc),
            Method::Cpvae | Method::Upvae => VaePosterior::load(path).map(AnyPosterior::Vae),
        }
    }

    /// The model description.
    pub fn header(&self) -> &ModelHeader {
        match self {
            AnyPosterior::Direct(p) => p.header(),
            AnyPosterior::Mcmc(p) => p.header(),
            AnyPosterior::Vae(p) => p.header(),
        }
    }

    /// The maximum-a-posteriori parameters (see [`DirectPosterior::map`] and [`McmcPosterior::map`]);
    /// an error for a VAE, whose posterior has no density to maximise.
    pub fn map(&self, observation: ArrayView1<f64>, options: &MapOptions, seed: u64) -> Result<Array1<f64>> {
        match self {
            AnyPosterior::Direct(p) => p.map(observation, options, seed),
            AnyPosterior::Mcmc(p) => p.map(observation, options, seed),
            AnyPosterior::Vae(p) => Err(crate::Error::Unsupported(format!(
                "a {} posterior has no density, so no MAP estimate; summarise its samples instead",
                p.header().method.name()
            ))),
        }
    }

    /// Write the model to `path`.
    pub fn save(&self, path: &Path) -> Result<()> {
        match self {
            AnyPosterior::Direct(p) => p.save(path),
            AnyPosterior::Mcmc(p) => p.save(path),
            AnyPosterior::Vae(p) => p.save(path),
        }
    }

    fn inner(&self) -> &dyn Posterior {
        match self {
            AnyPosterior::Direct(p) => p,
            AnyPosterior::Mcmc(p) => p,
            AnyPosterior::Vae(p) => p,
        }
    }
}

impl Posterior for AnyPosterior {
    fn parameter_dim(&self) -> usize {
        self.inner().parameter_dim()
    }

    fn data_dim(&self) -> usize {
        self.inner().data_dim()
    }

    fn sample(
        &self,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples> {
        self.inner().sample(n, observation, seed, options)
    }

    fn log_prob(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Result<Array1<f64>> {
        self.inner().log_prob(theta, observation)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Axis, array};

    use super::*;
    use crate::distributions::Distribution;
    use crate::flows::EstimatorKind;

    #[test]
    fn a_leaking_estimator_is_sampled_by_mcmc_on_the_same_truncated_target() {
        // q(θ | x_o) ≈ N((0.64, −0.96), 0.2·I) under a box that keeps almost none of its mass.
        let trained = super::super::tests::trained(EstimatorKind::Nsf, 3000);
        let (low, high) = ([5.0, -3.0], [7.0, 3.0]);
        let prior = Distribution::uniform(low.to_vec(), high.to_vec()).unwrap();
        let posterior = DirectPosterior { header: ModelHeader { prior, ..trained.header.clone() }, ..trained };
        let observation = array![0.8, -1.2];
        let inside = posterior.acceptance_rate(observation.view(), 100_000, 1).unwrap();
        assert!(inside < SampleOptions::default().min_acceptance, "{inside}");
        let samples = posterior.sample(2000, observation.view(), 5, &SampleOptions::default()).unwrap();
        assert!(samples.warnings[0].contains("slice-sampling MCMC instead of rejection"), "{:?}", samples.warnings);
        assert!(samples.theta.rows().into_iter().all(|row| posterior.header.prior.in_support(row)));

        // The truncated target's mean by quadrature of the same estimator on a fine grid.
        let steps = 300;
        let grid = Array2::from_shape_fn((steps * steps, 2), |(k, j)| {
            let i = if j == 0 { k / steps } else { k % steps };
            low[j] + (high[j] - low[j]) * (i as f64 + 0.5) / steps as f64
        });
        let log_q = posterior.log_prob_estimator(grid.view(), observation.view()).unwrap();
        let peak = log_q.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        let weights = log_q.mapv(|v| (v - peak).exp());
        let exact = grid.t().dot(&weights) / weights.sum();
        let mean = samples.theta.mean_axis(Axis(0)).unwrap();
        for j in 0..2 {
            assert!((mean[j] - exact[j]).abs() < 0.05, "MCMC mean {mean} vs quadrature {exact}");
        }
        assert!(exact[0] < 5.4, "the target hugs the boundary θ₁ = 5: {exact}");

        // One batch of 10,000 proposals collapses before the (zero) time limit is checked, and
        // the limit then stops the MCMC fallback too.
        let no_time = SampleOptions { max_seconds: 0.0, ..SampleOptions::default() };
        let error = posterior.sample(10_000, observation.view(), 5, &no_time).unwrap_err().to_string();
        assert!(error.contains("MCMC time limit"), "{error}");
    }

    /// TSNPE's proposal under a uniform prior is uniform on the highest-density region
    /// {log q ≥ τ} of the learned q(θ | x_o) ≈ N(μ, 0.2·I): with τ read off as the draws' smallest
    /// log q, the region leaves out ε of q's mass, and the draws' mean of log q matches its average
    /// over the region, both by quadrature on a fine grid (draws of q itself would weigh the peak
    /// more; untruncated prior draws would make the region the whole box). Checked by rejection from a box
    /// around the region and by the importance-resampling fallback from a box 10⁶ times its area.
    #[test]
    fn the_truncated_prior_is_the_prior_on_the_highest_density_region() {
        let trained = super::super::tests::trained(EstimatorKind::Nsf, 3000);
        let observation = array![0.8, -1.2];
        let epsilon: f64 = 0.01;
        let steps = 400;
        let grid = Array2::from_shape_fn((steps * steps, 2), |(k, j)| {
            let i = if j == 0 { k / steps } else { k % steps };
            -3.0 + 6.0 * (i as f64 + 0.5) / steps as f64
        });
        let grid_log_q = trained.log_prob_estimator(grid.view(), observation.view()).unwrap();
        for (half_width, expect_fallback) in [(3.0, false), (2000.0, true)] {
            let prior = Distribution::uniform(vec![-half_width; 2], vec![half_width; 2]).unwrap();
            let posterior =
                DirectPosterior { header: ModelHeader { prior, ..trained.header.clone() }, ..trained.clone() };
            let draws = posterior
                .sample_truncated_prior(4000, observation.view(), epsilon, 7, &SampleOptions::default())
                .unwrap();
            assert_eq!(!draws.warnings.is_empty(), expect_fallback, "{:?}", draws.warnings);
            let log_q = posterior.log_prob_estimator(draws.theta.view(), observation.view()).unwrap();
            let threshold = log_q.fold(f64::INFINITY, |a, &b| a.min(b));
            // The region leaves out ε of q's mass (quadrature; q's mass outside the grid is nil).
            let mass =
                |keep: &dyn Fn(f64) -> bool| grid_log_q.iter().filter(|&&v| keep(v)).map(|v| v.exp()).sum::<f64>();
            let outside = mass(&|v| v < threshold) / mass(&|_| true);
            assert!((outside / epsilon - 1.0).abs() < 0.3, "q's mass outside the region {outside}, ε = {epsilon}");
            let region: Vec<f64> = grid_log_q.iter().copied().filter(|&v| v >= threshold).collect();
            let exact = region.iter().sum::<f64>() / region.len() as f64;
            let (mean, peak) = (log_q.mean().unwrap(), grid_log_q.fold(f64::NEG_INFINITY, |a, &b| a.max(b)));
            assert!(
                (mean - exact).abs() < 0.04 * (peak - threshold),
                "mean log q {mean} against {exact} on the region (box ±{half_width})"
            );
        }
        let error = trained.sample_truncated_prior(10, observation.view(), 0.0, 7, &SampleOptions::default());
        assert!(error.unwrap_err().to_string().contains("ε must lie in (0, 1)"));
    }
}
