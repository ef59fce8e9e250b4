//! Neural likelihood estimation (NLE; Papamakarios, Sterratt & Murray 2019, "Sequential neural
//! likelihood"): train a conditional density estimator q(x | θ) on pairs θ ~ p(θ),
//! x ~ p(x | θ) by maximising Σ log q(xᵢ | θᵢ); at the optimum q(x | θ) = p(x | θ), and the
//! posterior p(θ | x_o) ∝ q(x_o | θ) p(θ) is sampled by MCMC. One training run serves every
//! observation.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::mcmc_posterior::{McmcPosterior, McmcSettings, Network};
use super::model::Method;
use super::simulations::{Simulations, simulation_api};
use crate::Result;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, EstimatorKind, Standardizer};
use crate::rng::seeded;
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};

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
        let data = self.simulations.training_data()?;
        let device = Device::flex().autodiff();
        let input = Standardizer::fit(data.x());
        let context = Standardizer::fit(data.theta());
        let mut rng = seeded(self.config.training.seed);
        let model =
            ConditionalEstimator::new(&self.config.estimator, input.clone(), context.clone(), &mut rng, &device);
        let loss = |m: &ConditionalEstimator, x: Tensor<2>, theta: Tensor<2>| m.log_prob(x, theta).mean().neg();
        let (model, report) = train(model, data.x(), data.theta(), loss, &self.config.training, &device, progress)?;
        let mut header = self.simulations.header(Method::Nle, self.config.estimator.clone(), (input, context), &report);
        header.mcmc = Some(self.config.mcmc.clone());
        Ok((McmcPosterior::new(Network::Likelihood(model.valid()), header)?, report))
    }
}
