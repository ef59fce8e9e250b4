//! Neural posterior estimation (NPE; Papamakarios & Murray 2016, Lueckmann et al. 2017,
//! Greenberg et al. 2019): train a conditional density estimator q(θ | x) on pairs
//! θ ~ p(θ), x ~ p(x | θ) by maximising Σ log q(θᵢ | xᵢ); at the optimum q(θ | x) = p(θ | x) for
//! every x, so one training run serves every observation (amortisation).

use burn::prelude::*;
use ndarray::{ArrayView1, Axis};
use serde::{Deserialize, Serialize};

use super::model::Method;
use super::nre::rotate_rows;
use super::posterior::DirectPosterior;
use super::sequential::{Fitted, RoundMethod};
use super::simulations::{Simulations, simulation_api};
use super::{Posterior, PosteriorSamples, SampleOptions};
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::flows::{ConditionalDensity, ConditionalEstimator, EstimatorConfig, Standardizer};
use crate::nn::context_standardizer;
use crate::rng::seeded;
use crate::tensor_ops::logsumexp_last;
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};
use crate::{Error, Result};

/// Architecture and training settings of NPE; the defaults are sbi's (NSF with 5 transforms, 50
/// hidden units, 10 bins; batch 200, learning rate 5·10⁻⁴, patience 20, 10% validation; 10
/// atoms for the sequential rounds' atomic loss).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NpeConfig {
    /// The density estimator q(θ | x).
    pub estimator: EstimatorConfig,
    /// The training loop.
    pub training: TrainConfig,
    /// Atoms of the atomic loss used by sequential rounds after the first (SNPE-C).
    pub atoms: usize,
    /// How sequential rounds after the first draw their parameters and train.
    pub sequential: SequentialNpe,
}

impl Default for NpeConfig {
    fn default() -> Self {
        Self {
            estimator: EstimatorConfig::default(),
            training: TrainConfig::default(),
            atoms: 10,
            sequential: SequentialNpe::Atomic,
        }
    }
}

/// The two sequential NPE schemes: how a round after the first draws its parameters and what
/// loss it trains with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SequentialNpe {
    /// APT / SNPE-C (Greenberg, Nonnenmacher & Macke 2019; sbi's `NPE_C`): θ from the current
    /// posterior at x_o, trained with the atomic loss ([`NpeConfig::atoms`]) on all rounds.
    Atomic,
    /// TSNPE (Deistler, Gonçalves & Macke 2022, "Truncated proposals for scalable and
    /// hassle-free simulation-based inference"): θ from the prior truncated to the current
    /// posterior's highest-density region of mass 1 − `epsilon` (see
    /// [`DirectPosterior::sample_truncated_prior`]), trained by maximum likelihood on all rounds —
    /// the truncated prior is proportional to the prior where the posterior has its mass, so the
    /// plain NPE loss stays right there, and no atomic loss is needed.
    Truncated {
        /// Posterior mass left outside the truncation (sbi's default quantile: 10⁻⁴).
        epsilon: f64,
    },
}

impl NpeConfig {
    /// The defaults with truncated sequential rounds (TSNPE, sbi's ε = 10⁻⁴): what `train tsnpe`
    /// and `bench sbibm --method tsnpe` read their settings files over.
    pub fn tsnpe() -> Self {
        Self { sequential: SequentialNpe::Truncated { epsilon: 1e-4 }, ..Default::default() }
    }
}

/// An NPE run: a prior, accumulated simulations, and settings.
#[derive(Clone, Debug)]
pub struct Npe {
    simulations: Simulations,
    config: NpeConfig,
}

simulation_api!(Npe, NpeConfig);

/// The loss NPE minimises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NpeLoss {
    /// −mean log q(θᵢ | xᵢ): right when θ was drawn from the prior.
    MaximumLikelihood,
    /// The atomic loss of APT (Greenberg et al. 2019; sbi's `SNPE_C`), right whatever the
    /// proposal θ was drawn from (see [`atomic_loss`]).
    Atomic {
        /// Candidate θ's per x, its own included (sbi's default 10; at least 2).
        atoms: usize,
    },
}

/// The atomic (APT) loss of a mini-batch (Greenberg, Nonnenmacher & Macke 2019, eq. 5 with
/// atomic proposals). For each row i the candidates are its own θ_i and the θ's of K − 1 other
/// rows, θ_{(i+k) mod B} for k = 1..K−1 (K = min(`atoms`, B)); with
/// ℓ_k(i) = log q(θ_{(i+k) mod B} | x_i) − log p(θ_{(i+k) mod B}), the loss is
/// mean_i [log Σ_k exp ℓ_k(i) − ℓ_0(i)] = −mean_i log [q(θ_i|x_i)/p(θ_i) / Σ_k q(θ_k|x_i)/p(θ_k)].
/// Its minimiser is q(θ | x) = p(θ | x) for any proposal with the prior's support, so data of
/// every round can be pooled. `context` is `[x, log p(θ)]`: the last column holds the prior
/// log-density of the row's θ.
pub fn atomic_loss(model: &ConditionalEstimator, theta: Tensor<2>, context: Tensor<2>, atoms: usize) -> Tensor<1> {
    let [rows, columns] = context.dims();
    let x = context.clone().slice(s![.., 0..columns - 1]);
    let log_prior = context.slice(s![.., columns - 1..columns]);
    let atoms = atoms.clamp(1, rows.max(1));
    let candidates = Tensor::cat((0..atoms).map(|k| rotate_rows(theta.clone(), k)).collect(), 0);
    let candidate_prior = Tensor::cat((0..atoms).map(|k| rotate_rows(log_prior.clone(), k)).collect(), 0);
    let contexts = x.repeat_dim(0, atoms);
    // logits[i, k] = log q(θ_{(i+k) mod B} | x_i) − log p(θ_{(i+k) mod B}).
    let logits =
        (model.log_prob(candidates, contexts) - candidate_prior.squeeze_dim::<1>(1)).reshape([atoms, rows]).transpose();
    let own = logits.clone().slice(s![.., 0..1]);
    (logsumexp_last(logits) - own).mean()
}

impl Npe {
    /// Train q(θ | x) on every simulation appended so far and return the posterior.
    pub fn train(&self, progress: &mut dyn FnMut(&EpochProgress)) -> Result<(DirectPosterior, TrainReport)> {
        self.train_with_loss(&NpeLoss::MaximumLikelihood, progress)
    }

    /// Train q(θ | x) with the given loss on every simulation appended so far and return the
    /// posterior; [`NpeLoss::Atomic`] is for simulations whose θ's were not drawn from the prior.
    pub fn train_with_loss(
        &self,
        loss: &NpeLoss,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(DirectPosterior, TrainReport)> {
        let (fitted, report) = self.fit(None, loss, self.config.training.seed, progress)?;
        Ok((self.direct_posterior(&fitted, &report)?, report))
    }

    /// Train from `warm` (or a fresh network, standardised on the data) with `loss` and `seed`.
    fn fit(
        &self,
        warm: Option<Fitted<ConditionalEstimator>>,
        loss: &NpeLoss,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(Fitted<ConditionalEstimator>, TrainReport)> {
        let data = self.simulations.training_data()?;
        let training_device = crate::device::compute_device()?.autodiff();
        let mut training = self.config.training.clone();
        training.seed = seed;
        let (network, standardizers) = match warm {
            Some(fitted) => (fitted.network, fitted.standardizers),
            None => {
                let input = Standardizer::fit(data.theta());
                let context = context_standardizer(self.config.estimator.embedding.as_ref(), data.x())?;
                let network = ConditionalEstimator::new(
                    &self.config.estimator,
                    input.clone(),
                    context.clone(),
                    &mut seeded(seed),
                    &training_device,
                )?;
                (network, (input, context))
            }
        };
        let (network, report) = match *loss {
            NpeLoss::MaximumLikelihood => {
                let loss = |m: &ConditionalEstimator, theta: Tensor<2>, x: Tensor<2>| m.log_prob(theta, x).mean().neg();
                train(network, data.theta(), data.x(), loss, &training, &training_device, progress)?
            }
            NpeLoss::Atomic { atoms } => {
                if atoms < 2 {
                    return Err(Error::InvalidInput(format!("the atomic loss needs at least 2 atoms, got {atoms}")));
                }
                let log_prior = self.simulations.prior().log_prob(data.theta());
                let context = ndarray::concatenate(Axis(1), &[data.x(), log_prior.view().insert_axis(Axis(1))])
                    .map_err(|e| Error::Training(format!("cannot join x and log p(θ): {e}")))?;
                let loss = move |m: &ConditionalEstimator, theta: Tensor<2>, context: Tensor<2>| {
                    atomic_loss(m, theta, context, atoms)
                };
                train(network, data.theta(), context.view(), loss, &training, &training_device, progress)?
            }
        };
        Ok((Fitted { network, standardizers }, report))
    }

    /// The direct posterior of a trained network.
    fn direct_posterior(&self, fitted: &Fitted<ConditionalEstimator>, report: &TrainReport) -> Result<DirectPosterior> {
        let header =
            self.simulations.header(Method::Npe, self.config.estimator.clone(), fitted.standardizers.clone(), report);
        Ok(DirectPosterior::new(fitted.network.clone().valid(), header, crate::device::compute_device()?))
    }
}

/// Sequential NPE as [`NpeConfig::sequential`] says: SNPE-C (APT: round 0 by maximum likelihood
/// on prior draws, later rounds with the atomic loss on the data of all rounds, proposals from the
/// posterior) or TSNPE (maximum likelihood throughout, proposals from the truncated prior).
impl RoundMethod for Npe {
    type Network = ConditionalEstimator;
    type Posterior = DirectPosterior;

    fn prior(&self) -> &Distribution {
        self.simulations.prior()
    }

    fn append_round(&mut self, data: Dataset) -> Result<DroppedRows> {
        self.simulations.append(data)
    }

    fn fit_round(
        &self,
        round: usize,
        warm: Option<Fitted<ConditionalEstimator>>,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(Fitted<ConditionalEstimator>, TrainReport)> {
        let loss = match self.config.sequential {
            SequentialNpe::Atomic if round > 0 => NpeLoss::Atomic { atoms: self.config.atoms },
            _ => NpeLoss::MaximumLikelihood,
        };
        self.fit(warm, &loss, seed, progress)
    }

    fn propose(
        &self,
        posterior: &DirectPosterior,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples> {
        match self.config.sequential {
            SequentialNpe::Atomic => posterior.sample(n, observation, seed, options),
            SequentialNpe::Truncated { epsilon } => {
                posterior.sample_truncated_prior(n, observation, epsilon, seed, options)
            }
        }
    }

    fn training_seed(&self) -> u64 {
        self.config.training.seed
    }

    fn posterior(&self, fitted: &Fitted<ConditionalEstimator>, report: &TrainReport) -> Result<DirectPosterior> {
        self.direct_posterior(fitted, report)
    }
}
