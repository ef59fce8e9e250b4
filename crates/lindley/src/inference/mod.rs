//! Inference methods that turn simulations into posteriors p(θ | x_o), and the posterior objects
//! they produce.
//!
//! - [`npe`]: neural posterior estimation (Papamakarios & Murray 2016; Greenberg et al. 2019):
//!   a conditional density estimator q(θ | x) trained by maximum likelihood on (θ, x) pairs from
//!   the prior and the simulator; amortised over x.
//! - [`nle`]: neural likelihood estimation (Papamakarios et al. 2019): a flow q(x | θ), with the
//!   posterior q(x_o | θ) p(θ) sampled by MCMC.
//! - [`nre`]: neural ratio estimation, NRE-A (Hermans et al. 2020) and NRE-B (Durkan et al.
//!   2020): a classifier whose logit estimates log p(x | θ)/p(x), sampled by MCMC.
//! - NRE-C (Miller et al. 2022) and BNRE (Delaunoy et al. 2022) are further losses of [`nre`].
//! - [`vae`]: CP-VAE and UP-VAE ("Accelerating SBI with variational autoencoders"): a latent
//!   variable model of θ given x, sampled by decoding draws of the latent prior.
//! - [`posterior`]: [`DirectPosterior`](posterior::DirectPosterior), which samples q(θ | x_o)
//!   directly with rejection to the prior's support, the [`Posterior`] interface shared by
//!   every posterior type, and [`AnyPosterior`], which loads any model file.
//! - [`abc`]: approximate Bayesian computation for one observation — rejection ABC (with
//!   Beaumont et al.'s regression adjustment) and SMC-ABC (Beaumont et al. 2009) — returning
//!   weighted particles ([`AbcPosterior`]) rather than an amortised posterior.
//! - [`mcmc_posterior`]: [`McmcPosterior`], the posterior of NLE and NRE.
//! - [`sequential`]: sequential rounds (SNPE-C, SNLE, SNRE) that spend the budget near one
//!   observation, drawing each round's parameters from the previous round's posterior.
//! - [`simulations`]: the store of simulations every method appends to.
//! - [`model`]: model files — what is stored beside the weights so that a posterior can be
//!   rebuilt and used without the training data.

pub mod abc;
pub mod mcmc_posterior;
pub mod model;
pub mod nle;
pub mod npe;
pub mod nre;
pub mod posterior;
pub mod sequential;
pub mod simulations;
pub mod vae;

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub use abc::{AbcPosterior, AbcProblem, RejectionConfig, SmcConfig, rejection_abc, smc_abc};
pub use mcmc_posterior::{McmcPosterior, McmcSettings, ThetaSpace};
pub use model::ModelHeader;
pub use nle::{Nle, NleConfig};
pub use npe::{Npe, NpeConfig, NpeLoss, SequentialNpe};
pub use nre::{Nre, NreConfig, NreLoss};
pub use posterior::{AnyPosterior, DirectPosterior};
pub use sequential::{RoundMethod, SequentialConfig, SequentialReport, run_rounds};
pub use vae::{Vae, VaeConfig, VaeKind, VaePosterior};

/// How long and how hard posterior sampling may try.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SampleOptions {
    /// Give up (with an error saying how far it got) after this many seconds.
    pub max_seconds: f64,
    /// Stop rejection sampling when, after at least 10,000 proposals, fewer than this fraction
    /// fall inside the prior support (a sign that the estimator puts its mass outside the prior
    /// for this x_o): NPE's `sample` then switches to MCMC; NPE's `sample_many` and a VAE's
    /// posterior report an error.
    pub min_acceptance: f64,
    /// Most proposals drawn per batch. Draws are made in parallel chunks of a few thousand rows,
    /// so this bounds only the size of the returned batch, not the network's working memory; it
    /// is large so that a typical request (n / acceptance rate, plus 10%) needs a single batch.
    pub batch_size: usize,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self { max_seconds: 600.0, min_acceptance: 1e-4, batch_size: 100_000 }
    }
}

/// Posterior samples and how they were obtained.
#[derive(Clone, Debug)]
pub struct PosteriorSamples {
    /// The samples, `[n, parameter_dim]`.
    pub theta: Array2<f64>,
    /// Fraction of proposals that were accepted (1 when no rejection step was needed).
    pub acceptance_rate: f64,
    /// Wall-clock seconds spent.
    pub seconds: f64,
    /// Reasons to distrust the samples that were not made errors (e.g. MCMC chains whose R̂
    /// says they have not mixed); empty when there are none.
    pub warnings: Vec<String>,
}

/// A posterior p(θ | x_o) that can be sampled and evaluated for any observation x_o.
pub trait Posterior {
    /// Number of parameters.
    fn parameter_dim(&self) -> usize;
    /// Number of values in an observation.
    fn data_dim(&self) -> usize;
    /// `n` samples from p(θ | x_o), reproducible from `seed`.
    fn sample(
        &self,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples>;
    /// log p(θ | x_o) for each row of `theta`, −∞ outside the prior support.
    fn log_prob(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Result<Array1<f64>>;
    /// `n` samples for each row of `observations` (one `[n, parameter_dim]` array per row), as
    /// needed by calibration checks that sample many posteriors. Row `i` is seeded with
    /// `substream(seed, i)`; posteriors that can batch several observations into one network
    /// evaluation override this.
    fn sample_many(
        &self,
        n: usize,
        observations: ArrayView2<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<Vec<Array2<f64>>> {
        observations
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, observation)| {
                let index_seed = crate::rng::substream(seed, i as u64).next_u64();
                self.sample(n, observation, index_seed, options).map(|s| s.theta)
            })
            .collect()
    }
}

/// Check an observation's length and finiteness.
pub fn check_observation(observation: ArrayView1<f64>, data_dim: usize) -> Result<()> {
    if observation.len() != data_dim {
        return Err(Error::shape("observation", format!("{data_dim} values"), format!("{}", observation.len())));
    }
    if let Some(i) = observation.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "observation value {} (column {}) is {}; an observation must be finite",
            i + 1,
            i + 1,
            observation[i]
        )));
    }
    Ok(())
}

/// Check that `theta` has `parameter_dim` columns.
pub fn check_parameters(theta: ArrayView2<f64>, parameter_dim: usize) -> Result<()> {
    if theta.ncols() != parameter_dim {
        return Err(Error::shape("parameters", format!("{parameter_dim} columns"), format!("{}", theta.ncols())));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
