//! Neural posterior estimation (NPE; Papamakarios & Murray 2016, Lueckmann et al. 2017,
//! Greenberg et al. 2019): train a conditional density estimator q(θ | x) on pairs
//! θ ~ p(θ), x ~ p(x | θ) by maximising Σ log q(θᵢ | xᵢ); at the optimum q(θ | x) = p(θ | x) for
//! every x, so one training run serves every observation (amortisation).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::model::{FORMAT_VERSION, Method, ModelHeader, TrainingSummary};
use super::posterior::DirectPosterior;
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, Standardizer};
use crate::rng::seeded;
use crate::simulators::Task;
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};
use crate::{Error, Result};

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
    prior: Distribution,
    config: NpeConfig,
    data: Option<Dataset>,
    dropped: usize,
    parameter_names: Vec<String>,
    data_names: Vec<String>,
    task: Option<String>,
}

impl Npe {
    /// NPE under `prior`; parameters are named θ_1.., data x_1.. until set by [`Npe::with_names`].
    pub fn new(prior: Distribution, config: NpeConfig) -> Self {
        let parameter_names = (1..=prior.dim()).map(|i| format!("theta_{i}")).collect();
        Self { prior, config, data: None, dropped: 0, parameter_names, data_names: vec![], task: None }
    }

    /// NPE for a built-in task (its prior and names).
    pub fn for_task(task: &Task, config: NpeConfig) -> Self {
        let mut npe = Self::new(task.prior.clone(), config);
        npe.parameter_names = task.parameter_names.clone();
        npe.data_names = task.data_names.clone();
        npe.task = Some(task.name.clone());
        npe
    }

    /// Name the parameters (one per prior dimension) and the data values.
    pub fn with_names(mut self, parameter_names: Vec<String>, data_names: Vec<String>) -> Result<Self> {
        if parameter_names.len() != self.prior.dim() {
            return Err(Error::shape(
                "parameter names",
                format!("{}", self.prior.dim()),
                format!("{}", parameter_names.len()),
            ));
        }
        self.parameter_names = parameter_names;
        self.data_names = data_names;
        Ok(self)
    }

    /// Record the built-in task the simulations come from (stored in the model file).
    pub fn with_task(mut self, task: Option<String>) -> Self {
        self.task = task;
        self
    }

    /// Add simulations. Rows with NaN/Inf values are dropped (and reported); θ must have the
    /// prior's dimension and lie in its support, and x must have the dimension of earlier data.
    /// On error nothing is added.
    pub fn append_simulations(&mut self, mut data: Dataset) -> Result<DroppedRows> {
        let expected_data_dim = match &self.data {
            Some(existing) => existing.data_dim(),
            None if !self.data_names.is_empty() => self.data_names.len(),
            None => data.data_dim(),
        };
        data.check_against(self.prior.dim(), expected_data_dim, "appended simulations")?;
        let dropped = data.drop_nonfinite();
        self.prior.check_support(data.theta())?;
        self.dropped += dropped.count;
        if self.data_names.is_empty() {
            self.data_names = data.data_names().to_vec();
        }
        match &mut self.data {
            Some(existing) => existing.append(data)?,
            None => self.data = Some(data),
        }
        Ok(dropped)
    }

    /// The simulations appended so far (after dropping invalid rows).
    pub fn data(&self) -> Option<&Dataset> {
        self.data.as_ref()
    }

    /// Train q(θ | x) on every simulation appended so far and return the posterior.
    pub fn train(&self, progress: &mut dyn FnMut(&EpochProgress)) -> Result<(DirectPosterior, TrainReport)> {
        let data = self
            .data
            .as_ref()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| Error::Training("no valid simulations to train on; append simulations first".into()))?;
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
        let header = ModelHeader {
            format_version: FORMAT_VERSION,
            lindley_version: env!("CARGO_PKG_VERSION").to_string(),
            method: Method::Npe,
            estimator: self.config.estimator.clone(),
            input_standardizer: input,
            context_standardizer: context,
            prior: self.prior.clone(),
            parameter_names: self.parameter_names.clone(),
            data_names: self.data_names.clone(),
            task: self.task.clone(),
            training: TrainingSummary::new(&report, data.len(), self.dropped),
        };
        Ok((DirectPosterior::new(model.valid(), header, device), report))
    }
}
