//! Neural posterior estimation (NPE; Papamakarios & Murray 2016, Lueckmann et al. 2017,
//! Greenberg et al. 2019): train a conditional density estimator q(θ | x) on pairs
//! θ ~ p(θ), x ~ p(x | θ) by maximising Σ log q(θᵢ | xᵢ); at the optimum q(θ | x) = p(θ | x) for
//! every x, so one training run serves every observation (amortisation).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::Method;
use super::posterior::DirectPosterior;
use super::simulations::{Simulations, simulation_api};
use crate::Result;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, Standardizer};
use crate::rng::seeded;
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};

/// Architecture and training settings of NPE; the defaults are sbi's (NSF with 5 transforms, 50
/// hidden units, 10 bins; batch 200, learning rate 5·10⁻⁴, patience 20, 10% validation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NpeConfig {
    /// The density estimator q(θ | x).
    pub estimator: EstimatorConfig,
    /// The training loop.
    pub training: TrainConfig,
}

/// An NPE run: a prior, accumulated simulations, and settings.
#[derive(Clone, Debug)]
pub struct Npe {
    simulations: Simulations,
    config: NpeConfig,
}

simulation_api!(Npe, NpeConfig);

impl Npe {
    /// Train q(θ | x) on every simulation appended so far and return the posterior.
    pub fn train(&self, progress: &mut dyn FnMut(&EpochProgress)) -> Result<(DirectPosterior, TrainReport)> {
        let data = self.simulations.training_data()?;
        let device = crate::device::compute_device()?;
        let training_device = device.clone().autodiff();
        let input = Standardizer::fit(data.theta());
        let context = Standardizer::fit(data.x());
        let mut rng = seeded(self.config.training.seed);
        let model = ConditionalEstimator::new(
            &self.config.estimator,
            input.clone(),
            context.clone(),
            &mut rng,
            &training_device,
        );
        let loss = |m: &ConditionalEstimator, theta: Tensor<2>, x: Tensor<2>| m.log_prob(theta, x).mean().neg();
        let (model, report) =
            train(model, data.theta(), data.x(), loss, &self.config.training, &training_device, progress)?;
        let header = self.simulations.header(Method::Npe, self.config.estimator.clone(), (input, context), &report);
        Ok((DirectPosterior::new(model.valid(), header, device), report))
    }
}
