//! Neural ratio estimation (NRE): train a classifier d(θ, x) whose logit estimates the
//! likelihood-to-evidence ratio log r(θ, x) = log p(x | θ) − log p(x) (up to a function of x
//! alone), then sample p(θ | x_o) ∝ r(θ, x_o) p(θ) by MCMC.
//!
//! Four losses:
//! - NRE-A (Hermans, Begy & Louppe 2020): binary cross-entropy between pairs from the joint
//!   p(θ, x) (label 1) and from the product of marginals p(θ)p(x) (label 0), balanced one to one;
//!   the optimal logit is exactly log r.
//! - NRE-B (Durkan, Murray & Papamakarios 2020, "On contrastive learning for likelihood-free
//!   inference"; sbi's `NRE_B`): for each x_i, K candidate parameters — its own θ_i and K − 1
//!   θ's of other pairs — and the cross-entropy of picking θ_i,
//!   −log [exp f(θ_i, x_i) / Σ_k exp f(θ_k, x_i)]; the optimal f is log r + c(x), and c(x)
//!   cancels in the posterior.
//! - NRE-C (Miller, Weniger & Forré 2022, "Contrastive neural ratio estimation"; sbi's `NRE_C`):
//!   K + 1 classes over K candidate θ's per x — class 0 "every θ_k drawn from the marginal",
//!   class k "θ_k is x's own" — with γ = K·p(y=k)/p(y=0) the odds of a joint against a marginal
//!   set. The classifier is q(y=0) = K / (K + γ Σ_j exp f_j), q(y=k) = γ exp f_k / (K + γ Σ_j exp f_j);
//!   the loss −[1/(1+γ)]·E_marginal log q(y=0) − [γ/(1+γ)]·E_joint log q(y=1). Class 0 pins the
//!   normalisation, so the optimal f is exactly log r (no c(x) as in NRE-B).
//! - BNRE (Delaunoy et al. 2022, "Towards reliable simulation-based inference with balanced neural
//!   ratio estimation"): the NRE-A loss plus λ·(E_joint[σ(f)] + E_marginal[σ(f)] − 1)², which
//!   pushes the classifier towards balance (the Bayes-optimal one is balanced) and so towards
//!   conservative posteriors; λ = 100 by default.
//!
//! The contrasting θ's come from the other rows of the same mini-batch: atom k of row i is θ of
//! row (i + k) mod B. The training loop reshuffles the batches every epoch, so every epoch pairs
//! each x with new contrasting θ's, all of them drawn from the prior as the losses require.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::mcmc_posterior::{McmcPosterior, McmcSettings, Network, ThetaSpace};
use super::model::Method;
use super::sequential::{Fitted, RoundMethod};
use super::simulations::{Simulations, simulation_api};
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::flows::{EstimatorConfig, Standardizer};
use crate::nn::{EmbeddingConfig, EmbeddingNet, ResidualNet, context_standardizer};
use crate::rng::{LindleyRng, seeded};
use crate::tensor_ops::{logsumexp_last, softplus, vector};
use crate::train::{EpochProgress, TrainConfig, TrainReport, train};
use crate::{Error, Result};
use burn::tensor::activation::sigmoid;

/// Architecture of the ratio classifier: a residual network on z-scored [θ, x] (sbi's default
/// "resnet" classifier: 50 hidden units, 2 residual blocks), or on [z(θ), e(z(x))] with an
/// embedding net e trained with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassifierConfig {
    /// Hidden units of every layer.
    pub hidden: usize,
    /// Residual blocks.
    pub blocks: usize,
    /// Embedding net for x (`None`: x as it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<EmbeddingConfig>,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self { hidden: 50, blocks: 2, embedding: None }
    }
}

/// The classification loss of NRE.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NreLoss {
    /// NRE-A: balanced binary cross-entropy, joint pairs against shuffled (marginal) pairs.
    Binary,
    /// NRE-B: contrastive cross-entropy over `atoms` candidate θ's per x (sbi's default 10).
    Contrastive {
        /// Candidates per x, the true θ included (≥ 2).
        atoms: usize,
    },
    /// NRE-C: K + 1 classes (`classes` = K candidate θ's per x, plus the all-marginal class 0) with
    /// odds `gamma` of a joint against a marginal set (sbi's defaults K = 5, γ = 1); see
    /// [`multiclass_loss`].
    Multiclass {
        /// K, the candidate θ's per x (≥ 1; at most the batch size − 1 are used).
        classes: usize,
        /// γ = K·p(y = k)/p(y = 0) > 0.
        gamma: f64,
    },
    /// BNRE: NRE-A plus `lambda`·(E_joint[σ(f)] + E_marginal[σ(f)] − 1)² (Delaunoy et al. 2022,
    /// λ = 100); see [`balanced_loss`].
    Balanced {
        /// λ ≥ 0, the weight of the balancing penalty.
        lambda: f64,
    },
}

impl NreLoss {
    /// NRE-C with sbi's defaults (K = 5 classes, γ = 1).
    pub fn multiclass() -> Self {
        NreLoss::Multiclass { classes: 5, gamma: 1.0 }
    }

    /// BNRE with the paper's default λ = 100.
    pub fn balanced() -> Self {
        NreLoss::Balanced { lambda: 100.0 }
    }

    /// An error for settings the loss cannot use (too few atoms or classes, γ ≤ 0, λ < 0).
    pub fn validate(&self) -> Result<()> {
        match *self {
            NreLoss::Binary => Ok(()),
            NreLoss::Contrastive { atoms } if atoms < 2 => {
                Err(Error::InvalidInput(format!("NRE-B needs at least 2 atoms, got {atoms}")))
            }
            NreLoss::Contrastive { .. } => Ok(()),
            NreLoss::Multiclass { classes, gamma } => {
                if classes < 1 {
                    return Err(Error::InvalidInput("NRE-C needs at least 1 class (K ≥ 1), got 0".into()));
                }
                if !(gamma.is_finite() && gamma > 0.0) {
                    return Err(Error::InvalidInput(format!("NRE-C needs a finite γ > 0, got {gamma}")));
                }
                Ok(())
            }
            NreLoss::Balanced { lambda } if !(lambda.is_finite() && lambda >= 0.0) => {
                Err(Error::InvalidInput(format!("BNRE needs a finite λ ≥ 0, got {lambda}")))
            }
            NreLoss::Balanced { .. } => Ok(()),
        }
    }
}

impl Default for NreLoss {
    fn default() -> Self {
        NreLoss::Contrastive { atoms: 10 }
    }
}

/// Settings of NRE; the defaults are sbi's NRE_B (10 atoms, ResNet classifier with 50 hidden
/// units and 2 blocks; batch 200, learning rate 5·10⁻⁴) with sbibm's MCMC (100 chains of slice
/// sampling, initialised by resampling prior draws).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NreConfig {
    /// The classifier.
    pub classifier: ClassifierConfig,
    /// The loss (NRE-A, NRE-B, NRE-C or BNRE).
    pub loss: NreLoss,
    /// The training loop.
    pub training: TrainConfig,
    /// Posterior sampling.
    pub mcmc: McmcSettings,
    /// The coordinates in which the classifier reads θ (by default as the prior draws it, the
    /// setting of lindley's NRE tables; sbibm ran NRE in unconstrained space).
    pub theta_space: ThetaSpace,
}

/// A classifier d(θ, x) = f(z(θ), e(z(x))) whose logit f estimates log r(θ, x) (+ c(x) for
/// NRE-B), with the z-scoring of θ and x learned from the training set and an optional embedding
/// net e (the identity without one).
#[derive(Module, Debug)]
pub struct RatioClassifier {
    embedding: Option<EmbeddingNet>,
    net: ResidualNet,
    theta_mean: Tensor<1>,
    theta_std: Tensor<1>,
    x_mean: Tensor<1>,
    x_std: Tensor<1>,
}

impl RatioClassifier {
    /// An untrained classifier for θ and x standardised by the given statistics; an error says
    /// if the configured embedding net does not fit the shape of x.
    pub fn new(
        config: &ClassifierConfig,
        theta: &Standardizer,
        x: &Standardizer,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Result<Self> {
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
        let features = config.embedding.as_ref().map_or(x.dim(), |e| e.features);
        let net = ResidualNet::new(theta.dim() + features, 0, config.hidden, config.blocks, 1, 1.0, rng, device);
        let embedding = match &config.embedding {
            Some(e) => Some(EmbeddingNet::new(e, x.dim(), rng, device)?),
            None => None,
        };
        Ok(Self {
            embedding,
            net,
            theta_mean: vector(&f32s(&theta.mean), device),
            theta_std: vector(&f32s(&theta.std), device),
            x_mean: vector(&f32s(&x.mean), device),
            x_std: vector(&f32s(&x.std), device),
        })
    }

    /// The logit f(θ, x) for each row of `theta [B, P]` and `x [B, D]`; `x` may also be one row
    /// `[1, D]` shared by every θ (embedded once).
    pub fn logit(&self, theta: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
        let rows = theta.dims()[0];
        let t = (theta - self.theta_mean.clone().unsqueeze_dim(0)) / self.theta_std.clone().unsqueeze_dim(0);
        let v = (x - self.x_mean.clone().unsqueeze_dim(0)) / self.x_std.clone().unsqueeze_dim(0);
        let mut v = match &self.embedding {
            Some(net) => net.forward(v),
            None => v,
        };
        if v.dims()[0] == 1 && rows > 1 {
            v = v.repeat_dim(0, rows);
        }
        self.net.forward(Tensor::cat(vec![t, v], 1), None).squeeze_dim::<1>(1)
    }
}

/// θ with its rows rotated by `k`: row i of the result is row (i + k) mod B of `theta`.
pub(crate) fn rotate_rows(theta: Tensor<2>, k: usize) -> Tensor<2> {
    let rows = theta.dims()[0];
    let k = k % rows;
    if k == 0 {
        return theta;
    }
    Tensor::cat(vec![theta.clone().slice(s![k..rows, ..]), theta.slice(s![0..k, ..])], 0)
}

/// NRE-B loss of a mini-batch: mean over rows i of log Σ_k exp f(θ_{(i+k) mod B}, x_i) −
/// f(θ_i, x_i), with k = 0..K−1 and K = min(`atoms`, B). A batch of one row has loss 0.
pub fn contrastive_loss(model: &RatioClassifier, theta: Tensor<2>, x: Tensor<2>, atoms: usize) -> Tensor<1> {
    let rows = theta.dims()[0];
    let atoms = atoms.clamp(1, rows.max(1));
    let candidates = Tensor::cat((0..atoms).map(|k| rotate_rows(theta.clone(), k)).collect(), 0);
    let contexts = x.repeat_dim(0, atoms);
    // logits[k, i] = f(θ_{(i+k) mod B}, x_i).
    let logits = model.logit(candidates, contexts).reshape([atoms, rows]).transpose();
    let true_logit = logits.clone().slice(s![.., 0..1]);
    (logsumexp_last(logits) - true_logit).mean()
}

/// NRE-C loss of a mini-batch (Miller, Weniger & Forré 2022, eq. 9 with sbi's estimator). With
/// K = min(`classes`, B − 1) and logits L[i, k] = f(θ_{(i+k) mod B}, x_i) for k = 0..K, the joint
/// set of row i is k = 0..K−1 (its own θ first) and the marginal set k = 1..K (no θ of its own):
/// log q₀(i) = log K − log[K + γ Σ_{k=1..K} exp L[i, k]],
/// log q₁(i) = log γ + L[i, 0] − log[K + γ Σ_{k=0..K−1} exp L[i, k]],
/// loss = −mean_i [log q₀(i)/(1+γ) + γ·log q₁(i)/(1+γ)]. A batch of one row (no marginal θ) has
/// loss 0.
pub fn multiclass_loss(
    model: &RatioClassifier,
    theta: Tensor<2>,
    x: Tensor<2>,
    classes: usize,
    gamma: f64,
) -> Tensor<1> {
    let rows = theta.dims()[0];
    if rows < 2 {
        return model.logit(theta, x).mul_scalar(0.0).mean();
    }
    let k = classes.clamp(1, rows - 1);
    let candidates = Tensor::cat((0..=k).map(|j| rotate_rows(theta.clone(), j)).collect(), 0);
    let contexts = x.repeat_dim(0, k + 1);
    let logits = model.logit(candidates, contexts).reshape([k + 1, rows]).transpose();
    let (log_gamma, log_k) = (gamma.ln(), (k as f64).ln());
    let class_zero = logits.clone().slice(s![.., 0..1]).detach().zeros_like().add_scalar(log_k);
    let denominator =
        |set: Tensor<2>| logsumexp_last(Tensor::cat(vec![set.add_scalar(log_gamma), class_zero.clone()], 1));
    let log_q_marginal = denominator(logits.clone().slice(s![.., 1..k + 1])).neg().add_scalar(log_k);
    let log_q_joint =
        logits.clone().slice(s![.., 0..1]).add_scalar(log_gamma) - denominator(logits.slice(s![.., 0..k]));
    let (p_marginal, p_joint) = (1.0 / (1.0 + gamma), gamma / (1.0 + gamma));
    (log_q_marginal.mul_scalar(p_marginal) + log_q_joint.mul_scalar(p_joint)).mean().neg()
}

/// Logits of the joint pairs (θ_i, x_i) and of as many marginal pairs (θ_{(i+1) mod B}, x_i).
fn joint_and_marginal(model: &RatioClassifier, theta: Tensor<2>, x: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    let joint = model.logit(theta.clone(), x.clone());
    let marginal = model.logit(rotate_rows(theta, 1), x);
    (joint, marginal)
}

/// NRE-A loss of a mini-batch: mean binary cross-entropy of the joint pairs (θ_i, x_i), label 1,
/// and as many marginal pairs (θ_{(i+1) mod B}, x_i), label 0:
/// ½·mean[softplus(−f(θ_i, x_i)) + softplus(f(θ_{i+1}, x_i))].
pub fn binary_loss(model: &RatioClassifier, theta: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    let (joint, marginal) = joint_and_marginal(model, theta, x);
    (softplus(joint.neg()) + softplus(marginal)).mean().mul_scalar(0.5)
}

/// BNRE loss of a mini-batch (Delaunoy et al. 2022, eq. 7; sbi's `BNRE`): the NRE-A loss of
/// [`binary_loss`] plus λ·(mean_i σ(f(θ_i, x_i)) + mean_i σ(f(θ_{i+1}, x_i)) − 1)², the batch
/// estimate of the balancing condition E_joint[d] + E_marginal[d] = 1.
pub fn balanced_loss(model: &RatioClassifier, theta: Tensor<2>, x: Tensor<2>, lambda: f64) -> Tensor<1> {
    let (joint, marginal) = joint_and_marginal(model, theta, x);
    let cross_entropy = (softplus(joint.clone().neg()) + softplus(marginal.clone())).mean().mul_scalar(0.5);
    let balance = (sigmoid(joint).mean() + sigmoid(marginal).mean()).sub_scalar(1.0);
    cross_entropy + balance.square().mul_scalar(lambda)
}

/// An NRE run: a prior, accumulated simulations, and settings.
#[derive(Clone, Debug)]
pub struct Nre {
    simulations: Simulations,
    config: NreConfig,
}

simulation_api!(Nre, NreConfig);

impl Nre {
    /// Train the classifier on every simulation appended so far and return the MCMC posterior
    /// p(θ | x_o) ∝ exp f(θ, x_o) p(θ).
    pub fn train(&self, progress: &mut dyn FnMut(&EpochProgress)) -> Result<(McmcPosterior, TrainReport)> {
        let (fitted, report) = self.fit(None, self.config.training.seed, progress)?;
        Ok((self.mcmc_posterior(&fitted, &report)?, report))
    }

    /// Train the classifier from `warm` (or a fresh one standardised on the data).
    pub(crate) fn fit(
        &self,
        warm: Option<Fitted<RatioClassifier>>,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(Fitted<RatioClassifier>, TrainReport)> {
        self.config.loss.validate()?;
        let data = self.simulations.training_data()?;
        let theta = self.config.theta_space.map_rows(self.simulations.prior(), data.theta())?;
        let device = Device::flex().autodiff();
        let mut training = self.config.training.clone();
        training.seed = seed;
        let (model, standardizers) = match warm {
            Some(fitted) => (fitted.network, fitted.standardizers),
            None => {
                let theta = Standardizer::fit(theta.view());
                let x = context_standardizer(self.config.classifier.embedding.as_ref(), data.x())?;
                let model = RatioClassifier::new(&self.config.classifier, &theta, &x, &mut seeded(seed), &device)?;
                (model, (theta, x))
            }
        };
        let loss_kind = self.config.loss.clone();
        let loss = move |m: &RatioClassifier, theta: Tensor<2>, x: Tensor<2>| match loss_kind {
            NreLoss::Binary => binary_loss(m, theta, x),
            NreLoss::Contrastive { atoms } => contrastive_loss(m, theta, x, atoms),
            NreLoss::Multiclass { classes, gamma } => multiclass_loss(m, theta, x, classes, gamma),
            NreLoss::Balanced { lambda } => balanced_loss(m, theta, x, lambda),
        };
        let (network, report) = train(model, theta.view(), data.x(), loss, &training, &device, progress)?;
        Ok((Fitted { network, standardizers }, report))
    }

    /// The MCMC posterior of a trained classifier.
    fn mcmc_posterior(&self, fitted: &Fitted<RatioClassifier>, report: &TrainReport) -> Result<McmcPosterior> {
        let mut header =
            self.simulations.header(Method::Nre, EstimatorConfig::default(), fitted.standardizers.clone(), report);
        header.classifier = Some(self.config.classifier.clone());
        header.mcmc = Some(self.config.mcmc.clone());
        header.theta_space = self.config.theta_space;
        McmcPosterior::new(Network::Ratio(fitted.network.clone().valid()), header)
    }
}

/// SNRE (sbi's `SNRE_B` with the default loss): every round trains the classifier with the
/// configured loss on the data of all rounds, the contrasting θ's drawn from the same pooled data
/// (the rounds' proposal mixture p̃). The optimal logit is then log p(x | θ) − log p̃(x) + c(x),
/// so the posterior stays p(θ) exp f(θ, x_o) up to a constant.
impl RoundMethod for Nre {
    type Network = RatioClassifier;
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
        warm: Option<Fitted<RatioClassifier>>,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(Fitted<RatioClassifier>, TrainReport)> {
        self.fit(warm, seed, progress)
    }

    fn training_seed(&self) -> u64 {
        self.config.training.seed
    }

    fn posterior(&self, fitted: &Fitted<RatioClassifier>, report: &TrainReport) -> Result<McmcPosterior> {
        self.mcmc_posterior(fitted, report)
    }
}
