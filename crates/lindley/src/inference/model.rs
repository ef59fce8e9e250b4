//! The header stored in every trained model file (see [`crate::io::model`]): enough to rebuild
//! the network before its weights are loaded and to use it without the training data — method,
//! architecture, standardisation, prior, names, and a summary of the training run.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::distributions::Distribution;
use crate::flows::{EstimatorConfig, Standardizer};
use crate::inference::mcmc_posterior::{McmcSettings, ThetaSpace};
use crate::inference::nre::ClassifierConfig;
use crate::inference::vae::VaeArchitecture;
use crate::train::TrainReport;
use crate::{Error, Result};

/// Version of the model-file layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Which inference method a model file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Neural posterior estimation: q(θ | x).
    Npe,
    /// Neural likelihood estimation: q(x | θ), sampled by MCMC.
    Nle,
    /// Neural ratio estimation: a classifier whose logit estimates log p(x | θ) / p(x), sampled
    /// by MCMC.
    Nre,
    /// CP-VAE: a variational autoencoder with a conditional prior p(z | x), sampled by decoding.
    Cpvae,
    /// UP-VAE: a variational autoencoder with a standard-normal prior and a data decoder.
    Upvae,
}

impl Method {
    /// The name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Npe => "npe",
            Method::Nle => "nle",
            Method::Nre => "nre",
            Method::Cpvae => "cpvae",
            Method::Upvae => "upvae",
        }
    }
}

/// What a training run did, kept with the model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Valid simulations trained on (training + validation).
    pub simulations: usize,
    /// Simulations dropped for NaN/Inf values.
    pub dropped: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Epoch whose parameters were kept.
    pub best_epoch: usize,
    /// Validation loss at that epoch.
    pub best_validation_loss: f64,
    /// Training wall-clock seconds.
    pub seconds: f64,
}

impl TrainingSummary {
    /// Summarise a training report.
    pub fn new(report: &TrainReport, simulations: usize, dropped: usize) -> Self {
        let best = report.best_epoch.checked_sub(1).and_then(|i| report.validation_loss.get(i)).copied();
        Self {
            simulations,
            dropped,
            epochs: report.epochs,
            best_epoch: report.best_epoch,
            best_validation_loss: best.unwrap_or(f64::NAN),
            seconds: report.seconds,
        }
    }
}

/// The JSON header of a model file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Version of lindley that wrote the file.
    pub lindley_version: String,
    /// Inference method.
    pub method: Method,
    /// Architecture of the density estimator (NPE, NLE).
    pub estimator: EstimatorConfig,
    /// Standardisation of the network's inputs: θ for NPE and NRE, x for NLE.
    pub input_standardizer: Standardizer,
    /// Standardisation of the network's context: x for NPE and NRE, θ for NLE.
    pub context_standardizer: Standardizer,
    /// The prior the model was trained under.
    pub prior: Distribution,
    /// Parameter names.
    pub parameter_names: Vec<String>,
    /// Data names.
    pub data_names: Vec<String>,
    /// Built-in task the simulations came from, if any.
    pub task: Option<String>,
    /// The training run.
    pub training: TrainingSummary,
    /// Architecture of the ratio classifier (NRE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<ClassifierConfig>,
    /// MCMC settings of the posterior (NLE and NRE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcmc: Option<McmcSettings>,
    /// The coordinates in which the network reads θ (NLE and NRE; files without the field
    /// predate it and read θ as the prior draws it).
    #[serde(default)]
    pub theta_space: ThetaSpace,
    /// Architecture of the VAE networks (CP-VAE and UP-VAE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vae: Option<VaeArchitecture>,
}

impl ModelHeader {
    /// Read and check the header of `path`: a lindley model of this format version made for
    /// `method`, with dimensions that agree with each other.
    pub fn read(path: &Path, method: Method) -> Result<Self> {
        let header: ModelHeader = crate::io::model::read_header(path)?;
        let fail = |message: String| Error::Model { path: path.into(), message };
        if header.format_version != FORMAT_VERSION {
            return Err(fail(format!(
                "written in model format {} by lindley {}; this lindley ({}) reads format {FORMAT_VERSION}",
                header.format_version,
                header.lindley_version,
                env!("CARGO_PKG_VERSION")
            )));
        }
        if header.method != method {
            return Err(fail(format!("this is a {} model, not {}", header.method.name(), method.name())));
        }
        header.prior.validate().map_err(|e| fail(format!("the stored prior is invalid: {e}")))?;
        let p = header.prior.dim();
        let (theta_dim, x_dim) = match header.method {
            Method::Nle => (header.context_standardizer.dim(), header.input_standardizer.dim()),
            Method::Npe | Method::Nre | Method::Cpvae | Method::Upvae => {
                (header.input_standardizer.dim(), header.context_standardizer.dim())
            }
        };
        if header.parameter_names.len() != p || theta_dim != p || header.data_names.len() != x_dim {
            return Err(fail("the header's names do not match its dimensions".into()));
        }
        header.estimator.validate().map_err(|e| fail(format!("the stored estimator: {e}")))?;
        for (which, standardizer) in [("input", &header.input_standardizer), ("context", &header.context_standardizer)]
        {
            standardizer.validate().map_err(|e| fail(format!("the stored {which} standardisation: {e}")))?;
        }
        let needs_mcmc = matches!(header.method, Method::Nle | Method::Nre);
        if needs_mcmc && header.mcmc.is_none() {
            return Err(fail(format!("a {} model without MCMC settings", header.method.name())));
        }
        if header.method == Method::Nre && header.classifier.is_none() {
            return Err(fail("an nre model without a classifier architecture".into()));
        }
        if matches!(header.method, Method::Cpvae | Method::Upvae) {
            match &header.vae {
                Some(architecture) if architecture.kind.method() == header.method => {}
                Some(_) => return Err(fail("the VAE architecture's kind does not match the model's method".into())),
                None => return Err(fail(format!("a {} model without a VAE architecture", header.method.name()))),
            }
        }
        let embedding = match header.method {
            Method::Nre => header.classifier.as_ref().and_then(|c| c.embedding.as_ref()),
            Method::Npe | Method::Nle => header.estimator.embedding.as_ref(),
            Method::Cpvae | Method::Upvae => None,
        };
        if let Some(embedding) = embedding {
            embedding
                .validate(header.context_standardizer.dim())
                .map_err(|e| fail(format!("the stored embedding net does not fit the model's context: {e}")))?;
        }
        Ok(header)
    }

    /// The method of the model file at `path`, read from its header (to choose the loader).
    pub fn method_of(path: &Path) -> Result<Method> {
        #[derive(Deserialize)]
        struct MethodOnly {
            method: Method,
        }
        let header: MethodOnly = crate::io::model::read_header(path)?;
        Ok(header.method)
    }

    /// Number of values in an observation x.
    pub fn data_dim(&self) -> usize {
        self.data_names.len()
    }
}
