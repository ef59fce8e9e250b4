//! Neural likelihood estimation (NLE; Papamakarios, Sterratt & Murray 2019, "Sequential neural
//! likelihood"): train a conditional density estimator q(x | θ) on pairs θ ~ p(θ),
//! x ~ p(x | θ) by maximising Σ log q(xᵢ | θᵢ); at the optimum q(x | θ) = p(x | θ), and the
//! posterior p(θ | x_o) ∝ q(x_o | θ) p(θ) is sampled by MCMC. One training run serves every
//! observation.
//!
//! Integer-valued data (counts, binary outcomes) put point masses where a flow has a density, so
//! maximum likelihood can pile density onto exact values (e.g. the many zeros of sbibm's SIR
//! counts) instead of modelling their spread. With [`NleConfig::dequantize`] the flow is trained on
//! x + u, u ~ U(−½, ½)ᴰ (uniform dequantization; Uria, Murray & Larochelle 2013, Theis et al.
//! 2016): q then models a density whose mass over the unit cell around an integer x is the
//! probability of x, and the likelihood is read at the cell's centre, q(x_o | θ).

use burn::prelude::*;
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::mcmc_posterior::{McmcPosterior, McmcSettings, Network, ThetaSpace};
use super::model::Method;
use super::sequential::{Fitted, RoundMethod};
use super::simulations::{Simulations, simulation_api};
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::flows::{
    ConditionalDensity, ConditionalEstimator, EstimatorConfig, EstimatorKind, MadeActivation, MadeOrder, Standardizer,
};
use crate::nn::EmbeddingKind;
use crate::rng::{seeded, substream};
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};
use crate::{Error, Result};

/// Architecture, training and sampling settings of NLE; the defaults are sbibm's NLE (MAF with
/// 5 transforms whose MADEs have three hidden layers of 50 tanh units and pseudo-randomly permuted
/// variable orders, as sbi builds it, reading θ in the prior's unconstrained space as sbibm's
/// automatic transforms do; batch 200, learning rate 5·10⁻⁴, patience 20) and its MCMC (100
/// chains of vectorised slice sampling, each started by importance resampling its own pool of
/// 10,000 prior draws, as sbi's "resample" initialisation does). The command
/// line's settings files merge over these defaults; serde alone fills a partial `estimator` table
/// from [`EstimatorConfig::default`] (an NSF with ReLU MADEs in reversed orders).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NleConfig {
    /// The density estimator q(x | θ).
    pub estimator: EstimatorConfig,
    /// The training loop.
    pub training: TrainConfig,
    /// Posterior sampling.
    pub mcmc: McmcSettings,
    /// Train on uniformly dequantized data x + U(−½, ½) (see the module documentation); the data
    /// must then be integer-valued.
    pub dequantize: bool,
    /// The coordinates in which q(x | θ) reads θ.
    pub theta_space: ThetaSpace,
}

impl Default for NleConfig {
    fn default() -> Self {
        Self {
            estimator: EstimatorConfig {
                kind: EstimatorKind::Maf,
                transforms: 5,
                hidden: 50,
                made_activation: MadeActivation::Tanh,
                made_order: MadeOrder::Permuted,
                ..Default::default()
            },
            training: TrainConfig::default(),
            mcmc: McmcSettings::default(),
            dequantize: false,
            theta_space: ThetaSpace::Unconstrained,
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
        let theta = self.config.theta_space.map_rows(self.simulations.prior(), data.theta())?;
        let x = if self.config.dequantize { dequantized(data.x(), seed)? } else { data.x().to_owned() };
        let device = Device::flex().autodiff();
        let mut training = self.config.training.clone();
        training.seed = seed;
        let (network, standardizers) = match warm {
            Some(fitted) => (fitted.network, fitted.standardizers),
            None => {
                let input = Standardizer::fit(x.view());
                let context = Standardizer::fit(theta.view());
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
        let (network, report) = train(network, x.view(), theta.view(), loss, &training, &device, progress)?;
        Ok((Fitted { network, standardizers }, report))
    }

    /// The MCMC posterior of a trained network.
    fn mcmc_posterior(&self, fitted: &Fitted<ConditionalEstimator>, report: &TrainReport) -> Result<McmcPosterior> {
        let mut header =
            self.simulations.header(Method::Nle, self.config.estimator.clone(), fitted.standardizers.clone(), report);
        header.mcmc = Some(self.config.mcmc.clone());
        header.theta_space = self.config.theta_space;
        McmcPosterior::new(Network::Likelihood(fitted.network.clone().valid()), header)
    }
}

/// `x` plus independent U(−½, ½) noise per value, drawn from stream 1 of `seed` (uniform
/// dequantization). Any value that is not an integer is an error naming its row and column.
fn dequantized(x: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
    if let Some(((row, column), value)) = x.indexed_iter().find(|(_, v)| v.fract() != 0.0) {
        return Err(Error::InvalidInput(format!(
            "NLE dequantization needs integer-valued data, but x row {row}, column {column} is {value}; \
             turn `dequantize` off for continuous data"
        )));
    }
    let mut rng = substream(seed, 1);
    Ok(x.mapv(|v| v + rng.random::<f64>() - 0.5))
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
