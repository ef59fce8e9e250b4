//! Neural likelihood estimation (NLE; Papamakarios, Sterratt & Murray 2019, "Sequential neural
//! likelihood"): train a conditional density estimator q(x | θ) on pairs θ ~ p(θ),
//! x ~ p(x | θ) by maximising Σ log q(xᵢ | θᵢ); at the optimum q(x | θ) = p(x | θ), and the
//! posterior p(θ | x_o) ∝ q(x_o | θ) p(θ) is sampled by MCMC. One training run serves every
//! observation.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::mcmc_posterior::{McmcPosterior, McmcSettings, Network};
use super::model::Method;
use super::sequential::{Fitted, RoundMethod};
use super::simulations::{Simulations, simulation_api};
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, EstimatorKind, Standardizer};
use crate::nn::EmbeddingKind;
use crate::rng::seeded;
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};
use crate::{Error, Result};

/// Architecture, training and sampling settings of NLE; the defaults are sbibm's NLE (MAF with
/// 5 transforms and 50 hidden units; batch 200, learning rate 5·10⁻⁴, patience 20) and its MCMC
/// (100 chains of vectorised slice sampling, initialised by resampling prior draws).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NleConfig {
    /// The density estimator q(x | θ).
    pub estimator: EstimatorConfig,
    /// The training loop.
    pub training: TrainConfig,
    /// Posterior sampling.
    pub mcmc: McmcSettings,
}

impl Default for NleConfig {
    fn default() -> Self {
        Self {
            estimator: EstimatorConfig { kind: EstimatorKind::Maf, transforms: 5, hidden: 50, ..Default::default() },
            training: TrainConfig::default(),
            mcmc: McmcSettings::default(),
        }
    }
}

/// An NLE run: a prior, accumulated simulations, and settings.
#[derive(Clone, Debug)]
pub struct Nle {
    simulations: Simulations,
    config: NleConfig,
}

simulation_api!(Nle, NleConfig);

impl Nle {
    /// Train q(x | θ) on every simulation appended so far and return the MCMC posterior
    /// p(θ | x_o) ∝ q(x_o | θ) p(θ).
    pub fn train(&self, progress: &mut dyn FnMut(&EpochProgress)) -> Result<(McmcPosterior, TrainReport)> {
        let (fitted, report) = self.fit(None, self.config.training.seed, progress)?;
        Ok((self.mcmc_posterior(&fitted, &report)?, report))
    }

    /// Maximum likelihood of q(x | θ) from `warm` (or a fresh network standardised on the data).
    fn fit(
        &self,
        warm: Option<Fitted<ConditionalEstimator>>,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(Fitted<ConditionalEstimator>, TrainReport)> {
        if let Some(embedding) = &self.config.estimator.embedding
            && embedding.kind != EmbeddingKind::Mlp
        {
            return Err(Error::InvalidInput(format!(
                "NLE conditions its flow on θ, which has no trial or time structure; a {} embedding net \
                 summarises x and belongs to NPE or NRE (NLE takes at most an mlp embedding of θ)",
                embedding.kind.name()
            )));
        }
        let data = self.simulations.training_data()?;
        let device = Device::flex().autodiff();
        let mut training = self.config.training.clone();
        training.seed = seed;
        let (network, standardizers) = match warm {
            Some(fitted) => (fitted.network, fitted.standardizers),
            None => {
                let input = Standardizer::fit(data.x());
                let context = Standardizer::fit(data.theta());
                let network = ConditionalEstimator::new(
                    &self.config.estimator,
                    input.clone(),
                    context.clone(),
                    &mut seeded(seed),
                    &device,
                )?;
                (network, (input, context))
            }
        };
        let loss = |m: &ConditionalEstimator, x: Tensor<2>, theta: Tensor<2>| m.log_prob(x, theta).mean().neg();
        let (network, report) = train(network, data.x(), data.theta(), loss, &training, &device, progress)?;
        Ok((Fitted { network, standardizers }, report))
    }

    /// The MCMC posterior of a trained network.
    fn mcmc_posterior(&self, fitted: &Fitted<ConditionalEstimator>, report: &TrainReport) -> Result<McmcPosterior> {
        let mut header =
            self.simulations.header(Method::Nle, self.config.estimator.clone(), fitted.standardizers.clone(), report);
        header.mcmc = Some(self.config.mcmc.clone());
        McmcPosterior::new(Network::Likelihood(fitted.network.clone().valid()), header)
    }
}

/// SNLE: every round maximises the likelihood of q(x | θ) on the data of all rounds; the
/// proposals only decide where θ's are simulated.
impl RoundMethod for Nle {
    type Network = ConditionalEstimator;
    type Posterior = McmcPosterior;

    fn prior(&self) -> &Distribution {
        self.simulations.prior()
    }

    fn append_round(&mut self, data: Dataset) -> Result<DroppedRows> {
        self.simulations.append(data)
    }

    fn fit_round(
        &self,
        _round: usize,
        warm: Option<Fitted<ConditionalEstimator>>,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(Fitted<ConditionalEstimator>, TrainReport)> {
        self.fit(warm, seed, progress)
    }

    fn training_seed(&self) -> u64 {
        self.config.training.seed
    }

    fn posterior(&self, fitted: &Fitted<ConditionalEstimator>, report: &TrainReport) -> Result<McmcPosterior> {
        self.mcmc_posterior(fitted, report)
    }
}
