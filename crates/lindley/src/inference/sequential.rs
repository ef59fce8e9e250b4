//! Sequential rounds (SNPE, SNLE, SNRE): spend the simulation budget in rounds, the first with
//! parameters from the prior and every later one with parameters drawn from the current
//! posterior at one observation x_o, so that later simulations land where p(θ | x_o) has its
//! mass. The posterior is no longer amortised: it is accurate near x_o.
//!
//! One driver, [`run_rounds`], serves every method through [`RoundMethod`]; what differs between
//! the methods is only how a round trains:
//! - SNPE (Greenberg, Nonnenmacher & Macke 2019, "Automatic posterior transformation"; sbi's
//!   `SNPE_C`): round 1 by maximum likelihood, later rounds with the atomic loss on the data of
//!   all rounds (see [`super::npe::atomic_loss`]), which learns q(θ | x) = p(θ | x) whatever the
//!   proposals were. The result is still a [`super::DirectPosterior`], restricted to the prior's
//!   support by rejection.
//! - SNLE (Papamakarios, Sterratt & Murray 2019): maximum likelihood of q(x | θ) on all data; a
//!   conditional density of x given θ does not depend on where the θ's came from.
//! - SNRE (Durkan, Murray & Papamakarios 2020; sbi's `SNRE_B`): the NRE-B contrastive loss on
//!   all data, the contrasting θ's taken from the same mini-batch, i.e. from the mixture of the
//!   rounds' proposals p̃. Its optimum is f(θ, x) = log p̃(θ | x)/p̃(θ) + c(x) =
//!   log p(x | θ) − log p̃(x) + c(x), so the posterior is still ∝ p(θ) exp f(θ, x_o). The other
//!   NRE losses (A, C, BNRE) contrast joint pairs with pairs from p̃(θ)p̃(x) in the same way, so
//!   their optima are the same ratio (with c(x) = 0) and they serve as well.
//!
//! Each round after the first warm-starts from the previous round's network (as sbi does), keeping
//! the standardisation fitted on round 1's data.

use std::time::Instant;

use ndarray::ArrayView1;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::{Posterior, PosteriorSamples, SampleOptions, check_observation};
use crate::data::{Dataset, DroppedRows};
use crate::distributions::Distribution;
use crate::flows::Standardizer;
use crate::rng::substream;
use crate::simulators::Simulator;
use crate::train::{EpochProgress, TrainReport};
use crate::{Error, Result};

/// Settings of the round driver; the defaults are sbibm's (10 rounds, the budget split evenly).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SequentialConfig {
    /// Number of rounds (≥ 1); round r gets budget/rounds simulations (the first
    /// budget mod rounds rounds one more).
    pub rounds: usize,
    /// Seed of the proposals (prior and posterior draws) and of the simulator.
    pub seed: u64,
    /// Limits of the posterior sampling that draws each round's proposals.
    pub sampling: SampleOptions,
}

impl Default for SequentialConfig {
    fn default() -> Self {
        Self { rounds: 10, seed: 0, sampling: SampleOptions::default() }
    }
}

/// A trained network on the training (autodiff) device with the standardisation of its inputs
/// and context, kept between rounds to warm-start the next one.
#[derive(Clone, Debug)]
pub struct Fitted<N> {
    /// The network.
    pub network: N,
    /// Standardisation of the network's inputs and context (fitted on round 1's data).
    pub standardizers: (Standardizer, Standardizer),
}

/// What a method must provide for the round driver.
pub trait RoundMethod {
    /// The trained network (kept on the training device).
    type Network: Clone;
    /// The posterior a trained network gives.
    type Posterior: Posterior;
    /// The prior the rounds start from.
    fn prior(&self) -> &Distribution;
    /// Add one round's simulations (rows with NaN/Inf are dropped and counted).
    fn append_round(&mut self, data: Dataset) -> Result<DroppedRows>;
    /// Train on every simulation appended so far; `round` is 0-based, `warm` the previous
    /// round's network (None in round 0), `seed` the training seed of this round.
    fn fit_round(
        &self,
        round: usize,
        warm: Option<Fitted<Self::Network>>,
        seed: u64,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<(Fitted<Self::Network>, TrainReport)>;
    /// The seed the method's own training settings hold (round 0 trains with it).
    fn training_seed(&self) -> u64;
    /// The posterior of a trained network.
    fn posterior(&self, fitted: &Fitted<Self::Network>, report: &TrainReport) -> Result<Self::Posterior>;
    /// The `n` parameters of a round after the first, given the previous round's posterior: by
    /// default draws of that posterior at the observation.
    fn propose(
        &self,
        posterior: &Self::Posterior,
        n: usize,
        observation: ArrayView1<f64>,
        seed: u64,
        options: &SampleOptions,
    ) -> Result<PosteriorSamples> {
        posterior.sample(n, observation, seed, options)
    }
}

/// One finished round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundReport {
    /// 1-based round number.
    pub round: usize,
    /// Simulations run in this round.
    pub simulations: usize,
    /// Of them, rows dropped for NaN/Inf values.
    pub dropped: usize,
    /// Seconds spent drawing the round's parameters (prior or posterior).
    pub proposal_seconds: f64,
    /// Seconds spent simulating.
    pub simulation_seconds: f64,
    /// Warnings of the proposal sampler (e.g. MCMC R̂ above its limit).
    pub warnings: Vec<String>,
    /// The training run after the round's simulations were added.
    pub training: TrainReport,
}

/// What [`run_rounds`] did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SequentialReport {
    /// One entry per round.
    pub rounds: Vec<RoundReport>,
    /// Total wall-clock seconds.
    pub seconds: f64,
}

impl SequentialReport {
    /// Epochs summed over all rounds.
    pub fn total_epochs(&self) -> usize {
        self.rounds.iter().map(|r| r.training.epochs).sum()
    }

    /// Training seconds summed over all rounds.
    pub fn training_seconds(&self) -> f64 {
        self.rounds.iter().map(|r| r.training.seconds).sum()
    }
}

/// Simulations of round `round` (0-based) when `budget` is split evenly over `rounds`.
pub fn round_budget(budget: usize, rounds: usize, round: usize) -> usize {
    budget / rounds + usize::from(round < budget % rounds)
}

/// The training seed of round `round`: the method's own seed in round 0 (so one round is exactly
/// the non-sequential method), a derived stream after.
pub fn round_training_seed(seed: u64, round: usize) -> u64 {
    if round == 0 { seed } else { substream(seed, (1 << 40) | round as u64).next_u64() }
}

/// Run `config.rounds` rounds of simulate-and-train at `observation` with `budget` simulations in
/// all, and return the last round's posterior. Round 1 draws θ from the prior; round r > 1 draws
/// θ as [`RoundMethod::propose`] says (by default from the posterior of round r − 1 at the
/// observation). Round r's proposals use `substream(config.seed, 2r)`, its simulations the seed
/// `substream(config.seed, 2r + 1)`.
/// `progress` gets the 1-based round number with every epoch.
pub fn run_rounds<M: RoundMethod>(
    method: &mut M,
    simulator: &dyn Simulator,
    observation: ArrayView1<f64>,
    budget: usize,
    config: &SequentialConfig,
    progress: &mut dyn FnMut(usize, &EpochProgress),
) -> Result<(M::Posterior, SequentialReport)> {
    check_observation(observation, simulator.data_dim())?;
    if config.rounds == 0 {
        return Err(Error::InvalidInput("the number of rounds must be at least 1".into()));
    }
    if simulator.parameter_dim() != method.prior().dim() {
        return Err(Error::shape(
            "sequential rounds",
            format!("a simulator of {} parameters (the prior's)", method.prior().dim()),
            format!("{}", simulator.parameter_dim()),
        ));
    }
    if budget / config.rounds < 3 {
        return Err(Error::InvalidInput(format!(
            "a budget of {budget} simulations over {} rounds leaves fewer than 3 per round",
            config.rounds
        )));
    }
    let start = Instant::now();
    let mut report = SequentialReport::default();
    let mut fitted: Option<Fitted<M::Network>> = None;
    let mut posterior: Option<M::Posterior> = None;
    for round in 0..config.rounds {
        let n = round_budget(budget, config.rounds, round);
        let proposal_start = Instant::now();
        let proposal_seed = substream(config.seed, 2 * round as u64).next_u64();
        let (theta, warnings) = match &posterior {
            None => (method.prior().sample(n, &mut crate::rng::seeded(proposal_seed)), vec![]),
            Some(current) => {
                let samples = method
                    .propose(current, n, observation, proposal_seed, &config.sampling)
                    .map_err(|e| Error::Sampling(format!("drawing the proposals of round {}: {e}", round + 1)))?;
                (samples.theta, samples.warnings)
            }
        };
        let proposal_seconds = proposal_start.elapsed().as_secs_f64();
        let simulation_start = Instant::now();
        let simulation_seed = substream(config.seed, 2 * round as u64 + 1).next_u64();
        let x = simulator.simulate(theta.view(), simulation_seed)?;
        let simulation_seconds = simulation_start.elapsed().as_secs_f64();
        let dropped = method.append_round(Dataset::new(theta, x)?)?;
        let seed = round_training_seed(method.training_seed(), round);
        let (next, training) = method.fit_round(round, fitted.take(), seed, &mut |p| progress(round + 1, p))?;
        posterior = Some(method.posterior(&next, &training)?);
        fitted = Some(next);
        report.rounds.push(RoundReport {
            round: round + 1,
            simulations: n,
            dropped: dropped.count,
            proposal_seconds,
            simulation_seconds,
            warnings,
            training,
        });
    }
    report.seconds = start.elapsed().as_secs_f64();
    let posterior = posterior.ok_or_else(|| Error::Training("no round was run".into()))?;
    Ok((posterior, report))
}
