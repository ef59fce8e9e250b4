//! The store of simulations shared by every amortised method (NPE, NLE, NRE): the prior, the
//! (θ, x) pairs appended so far with their checks, the names, and the header fields that every
//! model file records about them.

use super::mcmc_posterior::ThetaSpace;
use super::model::{FORMAT_VERSION, Method, ModelHeader, TrainingSummary};
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::flows::{EstimatorConfig, Standardizer};
use crate::simulators::Task;
use crate::train::TrainReport;
use crate::{Error, Result};

/// A prior and the valid simulations appended under it.
#[derive(Clone, Debug)]
pub struct Simulations {
    prior: Distribution,
    data: Option<Dataset>,
    dropped: usize,
    parameter_names: Vec<String>,
    data_names: Vec<String>,
    task: Option<String>,
}

impl Simulations {
    /// An empty store under `prior`; parameters are named theta_1.., data names come from the
    /// first appended data set until set by [`Simulations::set_names`].
    pub fn new(prior: Distribution) -> Self {
        let parameter_names = (1..=prior.dim()).map(|i| format!("theta_{i}")).collect();
        Self { prior, data: None, dropped: 0, parameter_names, data_names: vec![], task: None }
    }

    /// An empty store under a built-in task's prior, with its names.
    pub fn for_task(task: &Task) -> Self {
        Self {
            parameter_names: task.parameter_names.clone(),
            data_names: task.data_names.clone(),
            task: Some(task.name.clone()),
            ..Self::new(task.prior.clone())
        }
    }

    /// The prior.
    pub fn prior(&self) -> &Distribution {
        &self.prior
    }

    /// Name the parameters (one per prior dimension) and the data values.
    pub fn set_names(&mut self, parameter_names: Vec<String>, data_names: Vec<String>) -> Result<()> {
        if parameter_names.len() != self.prior.dim() {
            return Err(Error::shape(
                "parameter names",
                format!("{}", self.prior.dim()),
                format!("{}", parameter_names.len()),
            ));
        }
        self.parameter_names = parameter_names;
        self.data_names = data_names;
        Ok(())
    }

    /// Record the built-in task the simulations come from (stored in the model file).
    pub fn set_task(&mut self, task: Option<String>) {
        self.task = task;
    }

    /// Add simulations. Rows with NaN/Inf values are dropped (and reported); θ must have the
    /// prior's dimension and lie in its support, and x must have the dimension of earlier data
    /// (or of the data names). On error nothing is added.
    pub fn append(&mut self, mut data: Dataset) -> Result<DroppedRows> {
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

    /// The simulations to train on, or an error if there are none.
    pub fn training_data(&self) -> Result<&Dataset> {
        self.data
            .as_ref()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| Error::Training("no valid simulations to train on; append simulations first".into()))
    }

    /// The model header of a network trained on these simulations.
    pub fn header(
        &self,
        method: Method,
        estimator: EstimatorConfig,
        standardizers: (Standardizer, Standardizer),
        report: &TrainReport,
    ) -> ModelHeader {
        let simulations = self.data.as_ref().map_or(0, Dataset::len);
        ModelHeader {
            format_version: FORMAT_VERSION,
            lindley_version: env!("CARGO_PKG_VERSION").to_string(),
            method,
            estimator,
            input_standardizer: standardizers.0,
            context_standardizer: standardizers.1,
            prior: self.prior.clone(),
            parameter_names: self.parameter_names.clone(),
            data_names: self.data_names.clone(),
            task: self.task.clone(),
            training: TrainingSummary::new(report, simulations, self.dropped),
            classifier: None,
            mcmc: None,
            theta_space: ThetaSpace::Prior,
            vae: None,
        }
    }
}

/// The simulation API every amortised method shares (`new`, `for_task`, `with_names`,
/// `with_task`, `append_simulations`, `data`), for a type with fields `simulations:
/// Simulations` and `config: $config`, delegating to [`Simulations`].
macro_rules! simulation_api {
    ($method:ident, $config:ty) => {
        impl $method {
            #[doc = concat!(stringify!($method), " under `prior`; parameters are named theta_1.., data x_1.. until set by `with_names`.")]
            pub fn new(prior: $crate::distributions::Distribution, config: $config) -> Self {
                Self { simulations: $crate::inference::simulations::Simulations::new(prior), config }
            }

            #[doc = concat!(stringify!($method), " for a built-in task (its prior and names).")]
            pub fn for_task(task: &$crate::simulators::Task, config: $config) -> Self {
                Self { simulations: $crate::inference::simulations::Simulations::for_task(task), config }
            }

            /// Name the parameters (one per prior dimension) and the data values.
            pub fn with_names(
                mut self,
                parameter_names: Vec<String>,
                data_names: Vec<String>,
            ) -> $crate::Result<Self> {
                self.simulations.set_names(parameter_names, data_names)?;
                Ok(self)
            }

            /// Record the built-in task the simulations come from (stored in the model file).
            pub fn with_task(mut self, task: Option<String>) -> Self {
                self.simulations.set_task(task);
                self
            }

            /// Add simulations. Rows with NaN/Inf values are dropped (and reported); θ must have
            /// the prior's dimension and lie in its support, and x must have the dimension of
            /// earlier data. On error nothing is added.
            pub fn append_simulations(
                &mut self,
                data: $crate::data::Dataset,
            ) -> $crate::Result<$crate::data::DroppedRows> {
                self.simulations.append(data)
            }

            /// The simulations appended so far (after dropping invalid rows).
            pub fn data(&self) -> Option<&$crate::data::Dataset> {
                self.simulations.data()
            }
        }
    };
}

pub(crate) use simulation_api;
