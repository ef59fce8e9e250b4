//! The posterior of NLE and NRE, known only up to a constant and sampled by MCMC.
//!
//! The potential (unnormalised log-posterior) is
//! - NLE: log q(x_o | θ) + log p(θ), with q the trained likelihood flow;
//! - NRE: f(θ, x_o) + log p(θ), with f the classifier's logit (≈ log r(θ, x_o) + c(x_o)),
//!
//! and −∞ outside the prior support. It is evaluated for all chains at once (one network call per
//! `[chains, dim]` batch) and sampled with [`crate::mcmc::sample`] in the unconstrained space of
//! the prior ([`Unconstrained`]), the chains started by importance resampling of prior draws
//! (sbi's default "resample" initialisation).

use std::path::Path;

use burn::module::Module;
use burn::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::model::{Method, ModelHeader};
use super::nre::RatioClassifier;
use super::posterior::{MapOptions, projected_adam_ascent};
use super::{Posterior, PosteriorSamples, SampleOptions, check_observation, check_parameters};
use crate::distributions::Distribution;
use crate::flows::{ConditionalDensity, ConditionalEstimator};
use crate::mcmc::{Init, LogDensity, McmcConfig, McmcRun, Resampling, Sampler, TimeLimited, Unconstrained};
use crate::rng::seeded;
use crate::tensor_ops::{matrix_to_tensor, tensor_to_matrix, tensor_to_vec};
use crate::{Error, Result};

/// Rows per network evaluation when scoring many parameters.
const EVALUATION_CHUNK: usize = 10_000;

/// How an MCMC posterior is sampled; stored in the model file. The defaults follow sbibm's
/// NLE/NRE runs: 100 chains of slice sampling, thinning 10, chains started by resampling prior
/// draws.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct McmcSettings {
    /// The transition kernel (slice, Metropolis or NUTS), run in the prior's unconstrained space.
    pub sampler: Sampler,
    /// Chains run side by side.
    pub chains: usize,
    /// Warm-up (adaptation) steps per chain, discarded.
    pub warmup: usize,
    /// Keep every `thin`-th step after warm-up.
    pub thin: usize,
    /// Prior draws scored to choose the chain starts by importance resampling (per pool).
    pub init_candidates: usize,
    /// How the chain starts are drawn from the candidates (sbi: a pool per chain).
    pub init_resampling: Resampling,
    /// Largest acceptable rank-normalised split-R̂ of any parameter.
    pub max_rhat: f64,
    /// Whether an R̂ above `max_rhat` is an error; otherwise it is returned as a warning with
    /// the samples ([`PosteriorSamples::warnings`]).
    pub rhat_is_error: bool,
}

impl Default for McmcSettings {
    fn default() -> Self {
        Self {
            sampler: Sampler::Slice { width: 1.0 },
            chains: 100,
            warmup: 200,
            thin: 10,
            init_candidates: 10_000,
            init_resampling: Resampling::PerChain,
            max_rhat: 1.1,
            rhat_is_error: false,
        }
    }
}

impl McmcSettings {
    /// `n` draws of `target`, a density on the support of `prior`: chains of [`Self::sampler`]
    /// in the prior's unconstrained space ([`Unconstrained`]), started by importance resampling of
    /// prior draws, mapped back to the support.
    pub fn run(&self, target: &dyn LogDensity, prior: &Distribution, n: usize, seed: u64) -> Result<McmcRun> {
        let unconstrained = Unconstrained::new(target, prior)?;
        let draw = |rows: usize, rng: &mut crate::rng::LindleyRng| unconstrained.prior_draws(rows, rng);
        let init =
            Init::Resample { draw: &draw, candidates: self.init_candidates.max(1), resampling: self.init_resampling };
        let config = McmcConfig { chains: self.chains, warmup: self.warmup, thin: self.thin, samples: n, seed };
        let run = crate::mcmc::sample(&unconstrained, &self.sampler, &init, &config, &mut |_, _| {})?;
        Ok(unconstrained.constrain(run))
    }
}

/// The coordinates in which an NLE or NRE network reads θ; stored in the model file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThetaSpace {
    /// θ as the prior draws it.
    #[default]
    Prior,
    /// u = T(θ), the prior's bijection onto ℝᴰ ([`Distribution::to_unconstrained`]): bounded
    /// coordinates through a logit, positive ones through a log (sbibm's "automatic transforms",
    /// under which its published NLE and NRE figures were run). A log-normal prior becomes a
    /// normal one, so the network sees a well-scaled input where θ is skewed over decades.
    Unconstrained,
}

impl ThetaSpace {
    /// The network's view of the rows of `theta`, which must lie strictly inside the prior's
    /// support (an error names the first row that does not).
    pub fn map_rows(&self, prior: &Distribution, theta: ArrayView2<f64>) -> Result<Array2<f64>> {
        let mapped = self.coordinates(prior, theta);
        match mapped.outer_iter().position(|row| row.iter().any(|v| !v.is_finite())) {
            Some(row) if *self == ThetaSpace::Unconstrained => Err(Error::InvalidInput(format!(
                "θ row {row} ({}) lies on the boundary of the prior's support or outside it, where the \
                 unconstrained θ space the network reads is not defined",
                theta.row(row)
            ))),
            _ => Ok(mapped),
        }
    }

    /// The network's view of rows of θ inside the prior's support, in f64 (so θ within rounding of
    /// a bound, where an unconstrained coordinate is large, maps accurately); a row on the
    /// boundary of the support maps to non-finite values.
    fn coordinates(&self, prior: &Distribution, theta: ArrayView2<f64>) -> Array2<f64> {
        match self {
            ThetaSpace::Prior => theta.to_owned(),
            ThetaSpace::Unconstrained => prior.to_unconstrained(theta),
        }
    }

    /// The gradient with respect to θ of a function of the network's coordinates whose gradient
    /// with respect to them is `g` (the chain rule through [`ThetaSpace::coordinates`]).
    fn pull_back(&self, prior: &Distribution, theta: ArrayView2<f64>, g: Array2<f64>) -> Array2<f64> {
        match self {
            ThetaSpace::Prior => g,
            ThetaSpace::Unconstrained => prior.to_unconstrained_vjp(theta, g.view()),
        }
    }
}

/// The trained network behind an MCMC posterior.
// One value per model, so the variants' size difference does not matter (and Module cannot box).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Network {
    /// NLE's likelihood estimator q(x | θ) (input x, context θ).
    Likelihood(ConditionalEstimator),
    /// NRE's classifier with logit f(θ, x).
    Ratio(RatioClassifier),
}

impl Network {
    /// The θ-dependent part of the potential, log q(x_o | θ) or f(θ, x_o), for each row of θ;
    /// `observation` has one row per row of θ or a single row shared by all (the classifier then
    /// embeds x_o once).
    fn evaluate(&self, theta: Tensor<2>, observation: Tensor<2>) -> Tensor<1> {
        let rows = theta.dims()[0];
        match self {
            Network::Likelihood(estimator) if observation.dims()[0] == 1 && rows > 1 => {
                estimator.log_prob(observation.repeat_dim(0, rows), theta)
            }
            Network::Likelihood(estimator) => estimator.log_prob(observation, theta),
            Network::Ratio(classifier) => classifier.logit(theta, observation),
        }
    }
}

/// p(θ | x_o) ∝ exp(potential(θ)) from a trained likelihood estimator or ratio classifier,
/// sampled by MCMC.
#[derive(Debug)]
pub struct McmcPosterior {
    network: Network,
    header: ModelHeader,
    settings: McmcSettings,
}

impl McmcPosterior {
    /// Wrap a trained network (on the inference device) with its header, which must be an NLE
    /// header for a likelihood estimator or an NRE header for a classifier, with MCMC settings.
    pub fn new(network: Network, header: ModelHeader) -> Result<Self> {
        let expected = match network {
            Network::Likelihood(_) => Method::Nle,
            Network::Ratio(_) => Method::Nre,
        };
        if header.method != expected {
            return Err(Error::InvalidInput(format!(
                "a {} network with a {} model header",
                expected.name(),
                header.method.name()
            )));
        }
        let settings = header.mcmc.clone().ok_or_else(|| {
            Error::InvalidInput(format!("a {} model header without MCMC settings", header.method.name()))
        })?;
        Ok(Self { network, header, settings })
    }

    /// The model description (method, architecture, prior, names, training and MCMC settings).
    pub fn header(&self) -> &ModelHeader {
        &self.header
    }

    /// The MCMC settings used by [`Posterior::sample`].
    pub fn settings(&self) -> &McmcSettings {
        &self.settings
    }

    /// Replace the MCMC settings (not stored until the model is saved again).
    pub fn set_settings(&mut self, settings: McmcSettings) {
        self.header.mcmc = Some(settings.clone());
        self.settings = settings;
    }

    /// Write the model to `path` (safetensors weights, JSON header).
    pub fn save(&self, path: &Path) -> Result<()> {
        match &self.network {
            Network::Likelihood(estimator) => crate::io::model::save(path, &self.header, estimator),
            Network::Ratio(classifier) => crate::io::model::save(path, &self.header, classifier),
        }
    }

    /// Read an NLE or NRE model written by [`McmcPosterior::save`]; errors say if the file is
    /// not a lindley model, is corrupt, belongs to another method (e.g. an NPE model), or holds
    /// weights that do not fit the architecture its header describes.
    pub fn load(path: &Path) -> Result<Self> {
        let method = ModelHeader::method_of(path)?;
        if !matches!(method, Method::Nle | Method::Nre) {
            return Err(Error::Model {
                path: path.into(),
                message: format!(
                    "this is a {} model, not an MCMC-sampled one (nle or nre); load it as a {} posterior",
                    method.name(),
                    method.name()
                ),
            });
        }
        let header = ModelHeader::read(path, method)?;
        let device = Device::flex();
        let network = match method {
            Method::Nre => {
                let config = header.classifier.clone().expect("ModelHeader::read checks an nre header's classifier");
                let skeleton = RatioClassifier::new(
                    &config,
                    &header.input_standardizer,
                    &header.context_standardizer,
                    &mut seeded(0),
                    &device,
                )
                .map_err(|e| Error::Model { path: path.into(), message: e.to_string() })?;
                Network::Ratio(crate::io::model::load_weights(path, skeleton)?)
            }
            _ => {
                let skeleton = ConditionalEstimator::new(
                    &header.estimator,
                    header.input_standardizer.clone(),
                    header.context_standardizer.clone(),
                    &mut seeded(0),
                    &device,
                )
                .map_err(|e| Error::Model { path: path.into(), message: e.to_string() })?;
                Network::Likelihood(crate::io::model::load_weights(path, skeleton)?)
            }
        };
        Self::new(network, header)
    }

    /// The network term of the potential for each row of `theta` (inside the prior's support), in
    /// chunks; −∞ for a row the network's [`ThetaSpace`] cannot map (on a bound of the support).
    fn network_term(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Array1<f64> {
        let device = Device::flex();
        let x = matrix_to_tensor(observation.insert_axis(Axis(0)), &device);
        let (input, unmapped) = self.network_input(theta);
        let mut out = Vec::with_capacity(theta.nrows());
        for start in (0..theta.nrows()).step_by(EVALUATION_CHUNK) {
            let rows = input.slice(ndarray::s![start..(start + EVALUATION_CHUNK).min(theta.nrows()), ..]);
            let values = self.network.evaluate(matrix_to_tensor(rows, &device), x.clone());
            out.extend(tensor_to_vec(values).into_iter().map(f64::from));
        }
        Array1::from(out) + unmapped
    }

    /// The network's coordinates of each row of `theta`, with the rows it cannot map replaced by
    /// zeros (so the network stays finite), and per row 0 or, for those rows, −∞ (to add to the
    /// network term).
    fn network_input(&self, theta: ArrayView2<f64>) -> (Array2<f64>, Array1<f64>) {
        let mut input = self.header.theta_space.coordinates(&self.header.prior, theta);
        let mut unmapped = Array1::zeros(theta.nrows());
        for (mut row, penalty) in input.outer_iter_mut().zip(&mut unmapped) {
            if row.iter().any(|v| !v.is_finite()) {
                row.fill(0.0);
                *penalty = f64::NEG_INFINITY;
            }
        }
        (input, unmapped)
    }

    /// The network term and its gradient with respect to θ for each row of `theta` (inside the
    /// support), by one backward pass of burn's automatic differentiation in the network's
    /// coordinates, pulled back to θ in f64; −∞ and a zero gradient for rows that do not map.
    fn network_term_gradient(
        &self,
        network: &Network,
        theta: ArrayView2<f64>,
        observation: ArrayView1<f64>,
    ) -> Result<(Array1<f64>, Array2<f64>)> {
        let device = Device::flex().autodiff();
        let (input, unmapped) = self.network_input(theta);
        let x = matrix_to_tensor(observation.insert_axis(Axis(0)), &device).repeat_dim(0, theta.nrows());
        let input_tensor = matrix_to_tensor(input.view(), &device).require_grad();
        let output = network.evaluate(input_tensor.clone(), x);
        let values = Array1::from(tensor_to_vec(output.clone()).into_iter().map(f64::from).collect::<Vec<_>>());
        let gradients = output.sum().backward();
        let g = tensor_to_matrix(
            input_tensor
                .grad(&gradients)
                .ok_or_else(|| Error::Sampling("no gradient of the potential with respect to θ".into()))?,
        );
        let mut gradient = self.header.theta_space.pull_back(&self.header.prior, theta, g);
        for (mut row, penalty) in gradient.outer_iter_mut().zip(&unmapped) {
            if penalty.is_infinite() {
                row.fill(0.0);
            }
        }
        Ok((values + unmapped, gradient))
    }

    /// The potential log q(x_o | θ) + log p(θ) (NLE) or f(θ, x_o) + log p(θ) (NRE) for each
    /// row, −∞ outside the prior support; the network is not evaluated there.
    fn potential_unchecked(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Array1<f64> {
        let mut values = self.header.prior.log_prob(theta);
        let inside: Vec<usize> = (0..theta.nrows()).filter(|&i| values[i] > f64::NEG_INFINITY).collect();
        if inside.len() == theta.nrows() {
            values += &self.network_term(theta, observation);
        } else if !inside.is_empty() {
            let term = self.network_term(theta.select(Axis(0), &inside).view(), observation);
            for (&i, t) in inside.iter().zip(term.iter()) {
                values[i] += t;
            }
        }
        values
    }

    /// Run the chains for `n` draws of p(θ | x_o) with the model's MCMC settings, and return the
    /// whole run (draws per chain, R̂, ESS) in the parameters' own space. Errors past
    /// `options.max_seconds`.
    pub fn run_mcmc(
        &self,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<McmcRun> {
        check_observation(observation, self.data_dim())?;
        let autodiff = matches!(self.settings.sampler, Sampler::Nuts { .. }).then(|| self.autodiff_network());
        let target = TimeLimited::new(Target { posterior: self, observation, autodiff }, options.max_seconds);
        self.settings.run(&target, &self.header.prior, n, seed)
    }

    /// The maximum of the potential: the best of `candidates` MCMC samples, refined by Adam
    /// ascent from the `starts` best (gradient of the network term by automatic
    /// differentiation, of log p(θ) by central differences), kept inside the prior's bounds.
    pub fn map(&self, observation: ArrayView1<f64>, options: &MapOptions, seed: u64) -> Result<Array1<f64>> {
        let samples = self.sample(options.candidates.max(1), observation, seed, &SampleOptions::default())?.theta;
        let scores = self.log_prob(samples.view(), observation)?;
        let mut order: Vec<usize> = (0..samples.nrows()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        let starts = samples.select(Axis(0), &order[..options.starts.clamp(1, order.len())]);
        let refined = self.ascend(starts, observation, options)?;
        let refined_scores = self.log_prob(refined.view(), observation)?;
        let best = refined_scores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_finite())
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, s)| (i, *s));
        match best {
            Some((i, score)) if score >= scores[order[0]] => Ok(refined.row(i).to_owned()),
            _ => Ok(samples.row(order[0]).to_owned()),
        }
    }

    /// A copy of the network on the autodiff backend with frozen weights, for gradients with
    /// respect to θ.
    fn autodiff_network(&self) -> Network {
        match &self.network {
            Network::Likelihood(e) => Network::Likelihood(e.clone().train().no_grad()),
            Network::Ratio(c) => Network::Ratio(c.clone().train().no_grad()),
        }
    }

    /// The potential and its gradient with respect to θ for each row of `theta`, with the
    /// network term differentiated by burn's automatic differentiation (one backward pass for
    /// the whole batch; `network` from [`McmcPosterior::autodiff_network`]) and log p(θ) by
    /// central differences. Rows outside the prior support get −∞ and a zero gradient.
    fn potential_gradient(
        &self,
        network: &Network,
        theta: ArrayView2<f64>,
        observation: ArrayView1<f64>,
    ) -> Result<(Array1<f64>, Array2<f64>)> {
        let prior = &self.header.prior;
        let mut values = prior.log_prob(theta);
        let mut gradient = Array2::zeros(theta.raw_dim());
        let inside: Vec<usize> = (0..theta.nrows()).filter(|&i| values[i] > f64::NEG_INFINITY).collect();
        if inside.is_empty() {
            return Ok((values, gradient));
        }
        let rows = theta.select(Axis(0), &inside);
        let (term, network_gradient) = self.network_term_gradient(network, rows.view(), observation)?;
        let prior_grad = prior_gradient(prior, rows.view());
        for (k, &i) in inside.iter().enumerate() {
            values[i] += term[k];
            for j in 0..theta.ncols() {
                gradient[[i, j]] = network_gradient[[k, j]] + prior_grad[[k, j]];
            }
        }
        Ok((values, gradient))
    }

    /// Adam ascent on the potential for every row of `start`, projected onto the prior bounds.
    fn ascend(&self, start: Array2<f64>, observation: ArrayView1<f64>, options: &MapOptions) -> Result<Array2<f64>> {
        let network = self.autodiff_network();
        let prior = &self.header.prior;
        let mut bounds = prior.bounds();
        if self.header.theta_space == ThetaSpace::Unconstrained {
            // The network cannot read θ on a bound: project a hair inside it instead.
            for (low, high) in &mut bounds {
                let inset = 1e-9 * if (*high - *low).is_finite() { *high - *low } else { 1.0 };
                (*low, *high) = (*low + inset, *high - inset);
            }
        }
        projected_adam_ascent(start, &bounds, options, |theta| {
            let (_, gradient) = self.network_term_gradient(&network, theta, observation)?;
            Ok(gradient + prior_gradient(prior, theta))
        })
    }
}

/// ∇θ log p(θ) by central differences (step 10⁻⁵·max(1, |θ_j|)); 0 for a coordinate where
/// either side leaves the support.
fn prior_gradient(prior: &crate::distributions::Distribution, theta: ArrayView2<f64>) -> Array2<f64> {
    let mut gradient = Array2::zeros(theta.raw_dim());
    for j in 0..theta.ncols() {
        let mut plus = theta.to_owned();
        let mut minus = theta.to_owned();
        let steps: Vec<f64> = theta.column(j).iter().map(|v| 1e-5 * v.abs().max(1.0)).collect();
        for (i, h) in steps.iter().enumerate() {
            plus[[i, j]] += h;
            minus[[i, j]] -= h;
        }
        let (up, down) = (prior.log_prob(plus.view()), prior.log_prob(minus.view()));
        for (i, h) in steps.iter().enumerate() {
            let g = (up[i] - down[i]) / (2.0 * h);
            gradient[[i, j]] = if g.is_finite() { g } else { 0.0 };
        }
    }
    gradient
}

/// The potential as an MCMC target, with, for NUTS, the network on the autodiff backend.
struct Target<'a> {
    posterior: &'a McmcPosterior,
    observation: ArrayView1<'a, f64>,
    autodiff: Option<Network>,
}

impl LogDensity for Target<'_> {
    fn dim(&self) -> usize {
        self.posterior.parameter_dim()
    }

    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        Ok(self.posterior.potential_unchecked(theta, self.observation))
    }

    fn gradient(&self, theta: ArrayView2<f64>) -> Option<Result<(Array1<f64>, Array2<f64>)>> {
        let network = self.autodiff.as_ref()?;
        Some(self.posterior.potential_gradient(network, theta, self.observation))
    }
}

impl Posterior for McmcPosterior {
    fn parameter_dim(&self) -> usize {
        self.header.prior.dim()
    }

    fn data_dim(&self) -> usize {
        self.header.data_dim()
    }

    /// `n` draws by MCMC (see [`McmcPosterior::run_mcmc`]); an R̂ above the settings' `max_rhat`
    /// is an error or a warning in [`PosteriorSamples::warnings`], as the settings say.
    /// `acceptance_rate` is the sampler's (see [`McmcRun::acceptance_rate`]).
    fn sample(
        &self,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples> {
        let run = self.run_mcmc(n, observation, seed, options)?;
        let mut warnings = Vec::new();
        if run.divergences > 0 {
            warnings.push(format!(
                "{} of {} NUTS transitions after warm-up diverged; the draws may miss part of the posterior \
                 (try a higher target_accept)",
                run.divergences,
                run.per_chain.shape()[0] * run.per_chain.shape()[1] * self.settings.thin
            ));
        }
        if let Err(problem) = run.check(self.settings.max_rhat) {
            if self.settings.rhat_is_error {
                return Err(problem);
            }
            warnings.push(problem.to_string());
        }
        Ok(PosteriorSamples {
            theta: run.samples,
            acceptance_rate: run.acceptance_rate,
            seconds: run.seconds,
            warnings,
        })
    }

    /// The unnormalised potential log q(x_o | θ) + log p(θ) (NLE) or f(θ, x_o) + log p(θ)
    /// (NRE), −∞ outside the prior support. It differs from log p(θ | x_o) by a constant that
    /// depends on x_o (the log-evidence), so it ranks parameters for one observation but does
    /// not compare observations.
    fn log_prob(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Result<Array1<f64>> {
        check_parameters(theta, self.parameter_dim())?;
        check_observation(observation, self.data_dim())?;
        Ok(self.potential_unchecked(theta, observation))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;
    use crate::data::Dataset;
    use crate::inference::{Nle, NleConfig};

    #[test]
    fn potential_gradient_through_the_unconstrained_map_matches_finite_differences() {
        let prior = Distribution::uniform(vec![0.0, -1.0], vec![1.0, 3.0]).unwrap();
        let theta = prior.sample(300, &mut seeded(1));
        let x = theta.mapv(|v| v * v + 0.1 * v);
        let mut config = NleConfig::default();
        config.training.max_epochs = 2;
        assert_eq!(config.theta_space, ThetaSpace::Unconstrained);
        let mut nle = Nle::new(prior.clone(), config);
        nle.append_simulations(Dataset::new(theta, x).unwrap()).unwrap();
        let posterior = nle.train(&mut |_| {}).unwrap().0;
        let network = posterior.autodiff_network();
        let observation = array![0.3, 1.5];
        let points = array![[0.2, 0.4], [0.7, 2.5], [0.95, -0.8]];
        let (values, gradient) = posterior.potential_gradient(&network, points.view(), observation.view()).unwrap();
        let exact = posterior.log_prob(points.view(), observation.view()).unwrap();
        let h = 1e-3;
        for i in 0..points.nrows() {
            assert!((values[i] - exact[i]).abs() < 1e-4 * exact[i].abs().max(1.0), "{values} vs {exact}");
            for j in 0..2 {
                let mut plus = points.slice(ndarray::s![i..i + 1, ..]).to_owned();
                let mut minus = plus.clone();
                plus[[0, j]] += h;
                minus[[0, j]] -= h;
                let numerical = (posterior.log_prob(plus.view(), observation.view()).unwrap()[0]
                    - posterior.log_prob(minus.view(), observation.view()).unwrap()[0])
                    / (2.0 * h);
                let g = gradient[[i, j]];
                assert!((g - numerical).abs() < 2e-2 * numerical.abs().max(1.0), "row {i}, θ{j}: {g} vs {numerical}");
            }
        }
        // θ within 10⁻¹³ of a bound (unconstrained coordinate −30, where f32 would round θ onto
        // the bound and the logit to −∞): finite potential and gradient, as a slice or NUTS chain
        // far out in unconstrained space needs; on the bound itself, −∞ and a zero gradient.
        let (near, _) = prior.from_unconstrained(array![[-30.0, 30.0], [0.5, 0.5]].view());
        let on = array![[0.0, 1.0]];
        let potential = posterior.log_prob(near.view(), observation.view()).unwrap();
        let (values, gradient) = posterior.potential_gradient(&network, near.view(), observation.view()).unwrap();
        assert!(
            potential.iter().chain(&values).chain(&gradient).all(|v| v.is_finite()),
            "{potential} {values} {gradient}"
        );
        assert!((values[0] - potential[0]).abs() < 1e-4 * potential[0].abs().max(1.0), "{values} vs {potential}");
        let (values, gradient) = posterior.potential_gradient(&network, on.view(), observation.view()).unwrap();
        assert_eq!(posterior.log_prob(on.view(), observation.view()).unwrap()[0], f64::NEG_INFINITY);
        assert_eq!((values[0], gradient[[0, 0]], gradient[[0, 1]]), (f64::NEG_INFINITY, 0.0, 0.0));
    }
}
