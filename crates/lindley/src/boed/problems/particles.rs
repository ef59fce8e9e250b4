//! A design problem whose prior p(θ) is replaced by a set of (weighted) parameter particles: the
//! "posterior as new prior" step of sequential BOED. The simulator and the likelihood are the base
//! problem's; only [`DesignSimulator::sample_prior`] (and [`DesignSimulator::log_prior`], where a
//! density is known) change.
//!
//! Two ways to build one:
//! - [`ParticlePrior::from_samples`]: equally weighted samples, e.g. from an NPE posterior
//!   (`lindley sample`); there is no density, so estimators that need log p(θ) (Barber–Agakov)
//!   refuse it, unless the samples' density is given with [`ParticlePrior::with_density`] (e.g. a
//!   trained [`NpePosterior`](crate::boed::npe_posterior::NpePosterior)).
//! - [`ParticlePrior::posterior`]: sampling importance resampling (Rubin 1987) with the base
//!   problem's true likelihood: a pool of prior draws θ⁽ⁱ⁾ weighted by
//!   wᵢ ∝ Πₜ p(yₜ | θ⁽ⁱ⁾, ξₜ) for the measurements (ξₜ, yₜ) made so far; draws are categorical on
//!   the weights. Its density is the exact posterior p(θ) Πₜ p(yₜ | θ, ξₜ) / Ẑ with the evidence
//!   estimated from the same pool, Ẑ = (1/n) Σᵢ wᵢ.

use std::sync::Arc;

use burn::prelude::*;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::Rng;

use super::{DesignBox, DesignProblem, DesignSimulator, DifferentiableProblem, SequentialProtocol, check_cols};
use crate::boed::eig::RunningLogSumExp;
use crate::mcmc::LogDensity;
use crate::rng::LindleyRng;
use crate::{Error, Result};

/// The measurements (ξₜ, yₜ) behind a true-likelihood particle posterior and its log evidence.
#[derive(Debug, Clone)]
struct History {
    designs: Array2<f64>,
    observations: Array2<f64>,
    log_evidence: f64,
}

/// What a particle prior knows about its density.
enum ParticleDensity {
    /// Samples without a density.
    Unknown,
    /// A true-likelihood importance-resampling posterior.
    Posterior(History),
    /// Samples with a given log density, normalised inside the base prior's support.
    Given(Arc<dyn LogDensity + Send>),
}

/// A problem with the base problem's simulator and likelihood and a particle prior (see the
/// module documentation).
pub struct ParticlePrior<P: ?Sized> {
    particles: Array2<f64>,
    /// Normalised cumulative weights (last = 1).
    cumulative: Vec<f64>,
    effective_size: f64,
    density: ParticleDensity,
    base: Box<P>,
}

impl<P: ?Sized> std::fmt::Debug for ParticlePrior<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParticlePrior")
            .field("particles", &self.particles.nrows())
            .field("effective_size", &self.effective_size)
            .finish()
    }
}

/// Normalised cumulative weights and the effective sample size (Σw)²/Σw² of log-weights.
fn cumulative_weights(log_weights: &[f64]) -> Result<(Vec<f64>, f64)> {
    let max = log_weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return Err(Error::InvalidInput(format!(
            "particle prior: no particle has a finite positive weight (largest log-weight {max})"
        )));
    }
    let weights: Vec<f64> = log_weights.iter().map(|&l| if l.is_nan() { 0.0 } else { (l - max).exp() }).collect();
    let total: f64 = weights.iter().sum();
    let squares: f64 = weights.iter().map(|w| w * w).sum();
    let mut running = 0.0;
    let cumulative = weights
        .iter()
        .map(|w| {
            running += w / total;
            running
        })
        .collect();
    Ok((cumulative, total * total / squares))
}

impl<P: DesignProblem + ?Sized> ParticlePrior<P> {
    /// The base problem with its prior replaced by the equally weighted rows of `samples [n, P]`
    /// (at least one row, all finite). [`DesignSimulator::log_prior`] is then an error.
    pub fn from_samples(base: Box<P>, samples: Array2<f64>) -> Result<Self> {
        check_cols(|| format!("{} particle prior", base.name()), "samples", samples.view(), base.parameter_dim())?;
        if samples.nrows() == 0 {
            return Err(Error::InvalidInput("particle prior: no parameter samples given".into()));
        }
        if let Some((i, _)) = samples.outer_iter().enumerate().find(|(_, r)| r.iter().any(|v| !v.is_finite())) {
            return Err(Error::InvalidInput(format!("particle prior: sample row {i} is not finite")));
        }
        let n = samples.nrows();
        let (cumulative, effective_size) = cumulative_weights(&vec![0.0; n])?;
        Ok(ParticlePrior { particles: samples, cumulative, effective_size, density: ParticleDensity::Unknown, base })
    }

    /// The same particles with `density` as their log density log p(θ) inside the base prior's
    /// support (−∞ outside it). A density of another dimension is a shape error.
    pub fn with_density(mut self, density: Arc<dyn LogDensity + Send>) -> Result<Self> {
        if density.dim() != self.base.parameter_dim() {
            return Err(Error::shape(
                format!("{} particle prior density", self.base.name()),
                format!("a density of {} parameters", self.base.parameter_dim()),
                format!("{}", density.dim()),
            ));
        }
        self.density = ParticleDensity::Given(density);
        Ok(self)
    }

    /// The posterior after measurements `observations [T, Dy]` at `designs [T, Dξ]` by sampling
    /// importance resampling: `pool` prior draws from `rng`, weighted by their true likelihood of
    /// the measurements. Its log density is the exact unnormalised posterior minus the pool's
    /// estimate of the log evidence.
    pub fn posterior(
        base: Box<P>,
        designs: ArrayView2<f64>,
        observations: ArrayView2<f64>,
        pool: usize,
        rng: &mut LindleyRng,
    ) -> Result<Self> {
        if pool < 2 || designs.nrows() != observations.nrows() || designs.nrows() == 0 {
            return Err(Error::InvalidInput(format!(
                "particle posterior needs a pool of at least 2 and one observation per design (got pool {pool}, {} \
                 designs, {} observations)",
                designs.nrows(),
                observations.nrows()
            )));
        }
        let particles = base.sample_prior(pool, rng);
        let mut log_weights = Array1::<f64>::zeros(pool);
        for t in 0..designs.nrows() {
            let y = observations.row(t).insert_axis(Axis(0));
            let design = designs.row(t).insert_axis(Axis(0));
            log_weights += &base.log_likelihood(y, particles.view(), design)?;
        }
        let log_weights = log_weights.to_vec();
        let mut lse = RunningLogSumExp::new();
        lse.extend(&log_weights);
        let log_evidence = lse.value() - (pool as f64).ln();
        let (cumulative, effective_size) = cumulative_weights(&log_weights)?;
        let history = History { designs: designs.to_owned(), observations: observations.to_owned(), log_evidence };
        Ok(ParticlePrior { particles, cumulative, effective_size, density: ParticleDensity::Posterior(history), base })
    }

    /// Effective sample size (Σw)²/Σw² of the particle weights (the particle count when equally
    /// weighted).
    pub fn effective_size(&self) -> f64 {
        self.effective_size
    }

    /// Number of particles.
    pub fn particles(&self) -> usize {
        self.particles.nrows()
    }

    /// The estimated log evidence log p(y₁..y_T | ξ₁..ξ_T) of a true-likelihood posterior.
    pub fn log_evidence(&self) -> Option<f64> {
        match &self.density {
            ParticleDensity::Posterior(history) => Some(history.log_evidence),
            _ => None,
        }
    }

    /// The base problem.
    pub fn base(&self) -> &P {
        &self.base
    }
}

impl<P: DesignProblem + ?Sized> DesignSimulator for ParticlePrior<P> {
    fn name(&self) -> &str {
        self.base.name()
    }
    fn parameter_dim(&self) -> usize {
        self.base.parameter_dim()
    }
    fn design_dim(&self) -> usize {
        self.base.design_dim()
    }
    fn observation_dim(&self) -> usize {
        self.base.observation_dim()
    }
    fn design_box(&self) -> DesignBox {
        self.base.design_box()
    }
    /// Categorical draws of particles by weight (one uniform per row).
    fn sample_prior(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        let last = self.cumulative.len() - 1;
        let rows: Vec<usize> = (0..n)
            .map(|_| {
                let u: f64 = rng.random();
                self.cumulative.partition_point(|&c| c <= u).min(last)
            })
            .collect();
        self.particles.select(Axis(0), &rows)
    }
    /// log p(θ) + Σₜ log p(yₜ | θ, ξₜ) − log Ẑ for a true-likelihood posterior; the given density
    /// (−∞ outside the base prior's support) for samples with one; an error for samples without.
    fn log_prior(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        let history = match &self.density {
            ParticleDensity::Posterior(history) => history,
            ParticleDensity::Given(density) => {
                let support = self.base.log_prior(theta)?;
                let density = density.log_density(theta)?;
                return Ok(Array1::from_shape_fn(theta.nrows(), |i| {
                    if support[i].is_finite() { density[i] } else { f64::NEG_INFINITY }
                }));
            }
            ParticleDensity::Unknown => {
                return Err(Error::InvalidInput(format!(
                    "{}: the prior is a set of parameter samples without a density, so log p(θ) (needed by the \
                     Barber-Agakov bound) is not available",
                    self.base.name()
                )));
            }
        };
        let mut out = self.base.log_prior(theta)?;
        for t in 0..history.designs.nrows() {
            let y = history.observations.row(t).insert_axis(Axis(0));
            let design = history.designs.row(t).insert_axis(Axis(0));
            out += &self.base.log_likelihood(y, theta, design)?;
        }
        Ok(out - history.log_evidence)
    }
    fn simulate(&self, theta: ArrayView2<f64>, design: ArrayView2<f64>, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        self.base.simulate(theta, design, rng)
    }
    fn protocol(&self) -> Option<SequentialProtocol> {
        self.base.protocol()
    }
}

impl<P: DesignProblem + ?Sized> DesignProblem for ParticlePrior<P> {
    fn log_likelihood(
        &self,
        y: ArrayView2<f64>,
        theta: ArrayView2<f64>,
        design: ArrayView2<f64>,
    ) -> Result<Array1<f64>> {
        self.base.log_likelihood(y, theta, design)
    }
    /// Not known in closed form under a particle prior.
    fn analytic_eig(&self, _design: ArrayView1<f64>) -> Option<f64> {
        None
    }
}

impl<P: DifferentiableProblem + ?Sized> DifferentiableProblem for ParticlePrior<P> {
    fn noise_dim(&self) -> usize {
        self.base.noise_dim()
    }
    fn simulate_tensor(&self, theta: Tensor<2>, design: Tensor<2>, noise: Tensor<2>) -> Tensor<2> {
        self.base.simulate_tensor(theta, design, noise)
    }
}
