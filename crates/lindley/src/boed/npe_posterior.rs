//! An NPE posterior over a design problem's parameters after measurements at fixed designs, the
//! belief of Klein et al.'s (2026) "posterior as new prior": θ drawn from a proposal (the prior, or
//! the previous belief), y simulated at the designs, a conditional flow q(θ | y, ξ) trained by
//! maximum likelihood on the pairs ([`LearnedDensity`]) and evaluated at the measured y. Since θ
//! was drawn from the proposal p̃(θ), the flow's minimiser is p̃(θ) p(y | θ, ξ) / p̃(y | ξ): the
//! prior's posterior when p̃ is the prior, the posterior of all measurements when p̃ is the
//! previous belief.
//!
//! The belief is restricted to the prior's support: draws outside it are discarded, and the
//! density is renormalised by the fraction of q's mass inside (estimated from draws at training).
//! As a [`LogDensity`] it gives that renormalised log q(θ | y_obs, ξ) ("log p(θ)" for the next
//! design step's Barber–Agakov bound, via [`ParticlePrior::with_density`]); the support mask is the
//! particle prior's, which owns the problem.
//!
//! [`ParticlePrior::with_density`]: crate::boed::problems::ParticlePrior::with_density

use ndarray::{Array1, Array2, ArrayView2, Axis, concatenate};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::boed::eig::{DensityRole, DesignSimulations, LearnedDensity};
use crate::boed::problems::DesignProblem;
use crate::flows::EstimatorConfig;
use crate::mcmc::LogDensity;
use crate::rng::{LindleyRng, substream};
use crate::train::{EpochProgress, TrainConfig};
use crate::{Error, Result};

/// Settings of an NPE belief ([`NpePosterior::train`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NpeUpdate {
    /// Simulations to train on: θ from the proposal, y at the designs.
    pub simulations: usize,
    /// The posterior density estimator q(θ | y, ξ).
    pub estimator: EstimatorConfig,
    /// Its training (the seed is drawn from the caller's random stream).
    pub training: TrainConfig,
}

impl Default for NpeUpdate {
    /// 20,000 simulations, sbi's NSF and training defaults.
    fn default() -> Self {
        NpeUpdate { simulations: 20_000, estimator: EstimatorConfig::default(), training: TrainConfig::default() }
    }
}

/// Fewest simulations an NPE belief trains on.
pub const MIN_NPE_SIMULATIONS: usize = 10;

/// At most this many flow draws per wanted draw inside the prior's support before giving up.
const MAX_DRAWS_PER_KEPT: usize = 100;

/// Flow draws that estimate the fraction of q's mass inside the prior's support.
const SUPPORT_DRAWS: usize = 4096;

/// A trained NPE at its measurements (see the module documentation).
#[derive(Debug)]
pub struct NpePosterior {
    density: LearnedDensity,
    /// The measurements as one context row [y₁..y_k, ξ₁..ξ_k].
    context: Array2<f64>,
    parameter_dim: usize,
    /// Fraction of q(θ | y_obs, ξ)'s mass inside the prior's support.
    support_mass: f64,
}

impl NpePosterior {
    /// Train the NPE belief after `observations [k, Dy]` measured at `designs [k, Dξ]` (one row per
    /// measurement): `settings.simulations` draws of θ from `proposal` (the prior when `None`),
    /// each simulated at all k designs; failed simulations are left out. An error when fewer than
    /// [`MIN_NPE_SIMULATIONS`] simulations are finite, when the shapes disagree, or when less than
    /// 1 in 100 draws of the trained flow lies inside the prior's support. `progress` is called
    /// after every training epoch.
    pub fn train(
        problem: &dyn DesignProblem,
        proposal: Option<&NpePosterior>,
        designs: ArrayView2<f64>,
        observations: ArrayView2<f64>,
        settings: &NpeUpdate,
        rng: &mut LindleyRng,
        progress: &mut dyn FnMut(&EpochProgress),
    ) -> Result<Self> {
        let what = || format!("{} NPE posterior", problem.name());
        let (k, dy, dim) = (designs.nrows(), problem.observation_dim(), problem.design_dim());
        if k == 0 || designs.ncols() != dim || observations.dim() != (k, dy) {
            return Err(Error::shape(
                what(),
                format!("designs [k, {dim}] and observations [k, {dy}] for k ≥ 1 measurements"),
                format!("designs {:?}, observations {:?}", designs.dim(), observations.dim()),
            ));
        }
        if settings.simulations < MIN_NPE_SIMULATIONS {
            return Err(Error::InvalidInput(format!(
                "{}: needs at least {MIN_NPE_SIMULATIONS} simulations, got {}",
                what(),
                settings.simulations
            )));
        }
        problem.design_box().check(designs)?;
        let theta = match proposal {
            None => problem.sample_prior(settings.simulations, rng),
            Some(belief) => belief.sample(problem, settings.simulations, rng)?.0,
        };
        let n = theta.nrows();
        let mut y = Array2::zeros((n, 0));
        for design in designs.outer_iter() {
            let at = problem.simulate(theta.view(), design.insert_axis(Axis(0)), rng)?;
            y = concatenate(Axis(1), &[y.view(), at.view()]).expect("one row per θ");
        }
        let flat_designs = designs.to_shape((1, k * dim)).expect("contiguous rows").to_owned();
        let simulations = DesignSimulations {
            theta,
            y,
            design: flat_designs.broadcast((n, k * dim)).expect("one design row").to_owned(),
        }
        .finite();
        if simulations.len() < MIN_NPE_SIMULATIONS {
            return Err(Error::Simulator(format!(
                "{}: only {} of {n} simulations are finite",
                what(),
                simulations.len()
            )));
        }
        let training = TrainConfig { seed: rng.random(), ..settings.training.clone() };
        let density =
            LearnedDensity::train(DensityRole::Posterior, &simulations, &settings.estimator, &training, rng, progress)?;
        let flat_observations = observations.to_shape((1, k * dy)).expect("contiguous rows");
        let context = concatenate(Axis(1), &[flat_observations.view(), flat_designs.view()]).expect("one row each");
        let mut belief = NpePosterior { density, context, parameter_dim: problem.parameter_dim(), support_mass: 1.0 };
        // Its own stream, so that `rng` runs on as if the estimate were not made.
        belief.support_mass = belief.sample(problem, SUPPORT_DRAWS, &mut substream(training.seed, 1))?.1;
        Ok(belief)
    }

    /// `n` draws from q(θ | y_obs, ξ) inside the prior's support (finite log p(θ)), and the fraction
    /// of draws that were. An error if fewer than 1 in 100 were.
    pub fn sample(&self, problem: &dyn DesignProblem, n: usize, rng: &mut LindleyRng) -> Result<(Array2<f64>, f64)> {
        let mut kept = Array2::zeros((0, self.parameter_dim));
        let mut drawn = 0;
        while kept.nrows() < n {
            if drawn >= MAX_DRAWS_PER_KEPT * n {
                return Err(Error::Sampling(format!(
                    "{}: only {} of {drawn} draws of the NPE posterior lie inside the prior's support",
                    problem.name(),
                    kept.nrows()
                )));
            }
            let batch = (n - kept.nrows()).max(256);
            let draws = self.density.sample(self.context.view(), batch, rng)?;
            drawn += batch;
            let log_prior = problem.log_prior(draws.view())?;
            for (row, lp) in draws.outer_iter().zip(&log_prior) {
                if lp.is_finite() && kept.nrows() < n {
                    kept.push_row(row).expect("rows of the prior's width");
                }
            }
        }
        Ok((kept, n as f64 / drawn as f64))
    }

    /// Fraction of the flow's mass inside the prior's support (1 for a prior on all of ℝᴾ).
    pub fn support_mass(&self) -> f64 {
        self.support_mass
    }

    /// The trained flow.
    pub fn density(&self) -> &LearnedDensity {
        &self.density
    }
}

impl LogDensity for NpePosterior {
    fn dim(&self) -> usize {
        self.parameter_dim
    }
    /// log q(θ | y_obs, ξ) − log(support mass): normalised inside the prior's support (points
    /// outside it are the caller's to mask).
    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        if theta.ncols() != self.parameter_dim {
            return Err(Error::shape(
                "NPE posterior density",
                format!("θ rows of {} values", self.parameter_dim),
                format!("{:?}", theta.dim()),
            ));
        }
        let n = theta.nrows();
        let context = self.context.broadcast((n, self.context.ncols())).expect("one context row");
        // The whole context row [y, ξ] goes in as y with an empty design: the posterior role's
        // context is their concatenation either way.
        let simulations =
            DesignSimulations { theta: theta.to_owned(), y: context.to_owned(), design: Array2::zeros((n, 0)) };
        let shift = self.support_mass.ln();
        Ok(self.density.log_prob(&simulations).into_iter().map(|l| l - shift).collect())
    }
}

#[cfg(test)]
mod tests;
