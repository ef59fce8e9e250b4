//! SMC-ABC: population Monte Carlo ABC (Beaumont, Cornuet, Marin & Robert 2009), with the
//! settings of sbibm's SMC-ABC (Lueckmann et al. 2021, via sbi's `SMCABC`, variant "C").
//!
//! 1. Initial population: simulate `initial_factor · P` draws from the prior (clipped to
//!    [P, max(N/2, P)]), keep the P closest, weights 1/P; ε₀ = the P-th distance.
//! 2. Population t: εₜ = the `epsilon_quantile` quantile of the previous population's distances.
//!    Proposals θ* = θⱼ + η, j ~ w, η ~ N(0, Σ) with Σ = `kernel_scale` · (weighted empirical
//!    covariance of the previous population) (Beaumont et al.: 2·cov); proposals outside the
//!    prior support are redrawn without simulating. θ* is accepted when d(s(x*), s(x_o)) ≤ εₜ,
//!    until P particles are accepted, with weight w(θ*) ∝ p(θ*) / Σⱼ wⱼ N(θ*; θⱼ, Σ).
//!    If the effective sample size falls below `ess_min`·P, the population is resampled to equal
//!    weights (Sisson et al. 2007).
//! 3. Stop when the budget N is spent. A population cut short by the budget is filled with the
//!    closest particles of the previous one and all its weights are recomputed by the formula of
//!    step 2 (sbi's `use_last_pop_samples`).

use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView1, Axis, concatenate};
use rand::Rng;
use rand_distr::{Distribution as _, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    AbcPosterior, AbcProblem, Categorical, Distance, Runner, argsort, distances, sample_indices, summary_scale,
};
use crate::distributions::linalg;
use crate::rng::substream;
use crate::{Error, Result};

/// Settings of [`smc_abc`]; the defaults are sbibm's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmcConfig {
    /// Particles per population P; `None`: sbibm's rule, 100 for budgets up to 10,000 and 1000
    /// above.
    pub population_size: Option<usize>,
    /// The initial population is chosen from `initial_factor · P` prior simulations (sbibm: 5).
    pub initial_factor: usize,
    /// εₜ is this quantile of the previous population's distances (sbibm: 0.2).
    pub epsilon_quantile: f64,
    /// Perturbation covariance = `kernel_scale` × weighted covariance of the previous population
    /// (Beaumont et al. 2009: 2).
    pub kernel_scale: f64,
    /// Resample a population whose effective sample size is below `ess_min · P` (sbibm: never).
    pub ess_min: Option<f64>,
    /// Distance between summaries.
    pub distance: Distance,
    /// Divide each summary coordinate by its standard deviation over the initial (prior)
    /// simulations.
    pub standardize: bool,
    /// Fill a population cut short by the budget with the previous population's closest
    /// particles (true), or return the previous population (false).
    pub fill_last_population: bool,
}

impl Default for SmcConfig {
    fn default() -> Self {
        SmcConfig {
            population_size: None,
            initial_factor: 5,
            epsilon_quantile: 0.2,
            kernel_scale: 2.0,
            ess_min: None,
            distance: Distance::L2,
            standardize: true,
            fill_last_population: true,
        }
    }
}

impl SmcConfig {
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(format!("SMC-ABC: {m}")));
        if self.population_size == Some(0) {
            return bad("population_size must be at least 1".into());
        }
        if self.initial_factor == 0 {
            return bad("initial_factor must be at least 1".into());
        }
        if !(self.epsilon_quantile > 0.0 && self.epsilon_quantile < 1.0) {
            return bad(format!("epsilon_quantile must lie in (0, 1), got {}", self.epsilon_quantile));
        }
        if !(self.kernel_scale > 0.0 && self.kernel_scale.is_finite()) {
            return bad(format!("kernel_scale must be > 0, got {}", self.kernel_scale));
        }
        if let Some(e) = self.ess_min
            && !(0.0..=1.0).contains(&e)
        {
            return bad(format!("ess_min must lie in [0, 1], got {e}"));
        }
        Ok(())
    }
}

/// One population: particles, normalised weights, distances (sorted increasing).
struct Population {
    theta: Array2<f64>,
    weights: Array1<f64>,
    distances: Array1<f64>,
}

impl Population {
    fn sorted(theta: Array2<f64>, weights: Array1<f64>, distances: Array1<f64>) -> Self {
        let order = argsort(distances.view());
        let total = weights.sum();
        Population {
            theta: theta.select(Axis(0), &order),
            weights: weights.select(Axis(0), &order) / total,
            distances: distances.select(Axis(0), &order),
        }
    }

    fn ess(&self) -> f64 {
        1.0 / self.weights.iter().map(|w| w * w).sum::<f64>()
    }
}

/// The Gaussian perturbation kernel N(θⱼ, Σ) of one population, Σ = LLᵀ.
struct Kernel {
    chol: Array2<f64>,
    /// The previous particles whitened by L⁻¹, for the mixture density.
    whitened: Array2<f64>,
    log_weights: Array1<f64>,
}

impl Kernel {
    fn new(population: &Population, scale: f64) -> Result<Self> {
        let (n, p) = population.theta.dim();
        let w = &population.weights;
        let mean = population.theta.t().dot(w);
        let centred = &population.theta - &mean.view().insert_axis(Axis(0));
        // Unbiased weighted covariance (numpy's `aweights`): Σ wᵢ cᵢcᵢᵀ / (1 − Σ wᵢ²).
        let mut cov = (&centred * &w.view().insert_axis(Axis(1))).t().dot(&centred);
        let denominator = 1.0 - w.iter().map(|v| v * v).sum::<f64>();
        if n > 1 && denominator > 1e-12 {
            cov /= denominator;
        }
        cov *= scale;
        // A degenerate population (all particles equal in some direction) gets a small ridge.
        let mut chol = linalg::cholesky(cov.view());
        let mut jitter = 1e-12 * (cov.diag().sum() / p as f64).max(1e-12);
        while chol.is_err() && jitter < 1e6 {
            let mut c = cov.clone();
            for j in 0..p {
                c[[j, j]] += jitter;
            }
            chol = linalg::cholesky(c.view());
            jitter *= 100.0;
        }
        let chol = chol.map_err(|_| Error::Sampling("SMC-ABC: the particle covariance is not finite".into()))?;
        let whitened = whiten(&chol, &population.theta);
        Ok(Kernel { chol, whitened, log_weights: population.weights.mapv(f64::ln) })
    }

    /// θⱼ + Lz, z ~ N(0, I).
    fn perturb(&self, centre: ArrayView1<f64>, rng: &mut impl Rng) -> Array1<f64> {
        let z: Array1<f64> = (0..centre.len()).map(|_| StandardNormal.sample(rng)).collect();
        &centre + &self.chol.dot(&z)
    }

    /// log Σⱼ wⱼ N(θ; θⱼ, Σ) up to the normalising constant shared by every θ.
    fn log_mixture(&self, theta: &Array2<f64>) -> Array1<f64> {
        let y = whiten(&self.chol, theta);
        let rows: Vec<f64> = (0..y.nrows())
            .into_par_iter()
            .map(|i| {
                let yi = y.row(i);
                let terms: Vec<f64> = self
                    .whitened
                    .rows()
                    .into_iter()
                    .zip(&self.log_weights)
                    .map(|(yj, lw)| lw - 0.5 * yi.iter().zip(yj).map(|(a, b)| (a - b) * (a - b)).sum::<f64>())
                    .collect();
                let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
            })
            .collect();
        Array1::from(rows)
    }

    /// Importance weights p(θ) / Σⱼ wⱼ K(θ | θⱼ) (unnormalised, in linear scale after a shift).
    fn weights(&self, problem: &AbcProblem, theta: &Array2<f64>) -> Array1<f64> {
        let log_w = problem.prior.log_prob(theta.view()) - self.log_mixture(theta);
        let max = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        log_w.mapv(|v| (v - max).exp())
    }
}

/// L⁻¹θᵢ for every row.
fn whiten(chol: &Array2<f64>, theta: &Array2<f64>) -> Array2<f64> {
    let mut out = Array2::zeros(theta.dim());
    for (i, row) in theta.rows().into_iter().enumerate() {
        out.row_mut(i).assign(&linalg::solve_lower(chol.view(), row));
    }
    out
}

/// The `q` quantile of sorted values (linear interpolation).
fn quantile(sorted: ArrayView1<f64>, q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// SMC-ABC with a budget of `budget` simulations, reproducible from `seed`.
pub fn smc_abc(problem: &AbcProblem, budget: usize, config: &SmcConfig, seed: u64) -> Result<AbcPosterior> {
    let start = Instant::now();
    config.check()?;
    let s_o = problem.check(budget, "SMC-ABC")?;
    let size = config.population_size.unwrap_or(if budget > 10_000 { 1000 } else { 100 }).min(budget);
    let initial = (config.initial_factor * size).clamp(size, (budget / 2).max(size));
    let mut runner = Runner::new(problem, budget, seed);
    let mut rng = substream(seed, u64::MAX - 1);

    // Initial population from the prior.
    let theta0 = problem.prior.sample(initial, &mut substream(seed, u64::MAX));
    let (theta0, s0, _) = runner.simulate(theta0)?;
    if theta0.nrows() < size.min(2) {
        return Err(Error::Simulator(format!(
            "SMC-ABC: {} of {initial} initial simulations succeeded ({}); too few to start",
            theta0.nrows(),
            runner.dropped
        )));
    }
    let scale = if config.standardize { summary_scale(s0.view()) } else { Array1::ones(s_o.len()) };
    let d0 = distances(s0.view(), s_o.view(), scale.view(), config.distance);
    let order = argsort(d0.view());
    let keep = &order[..size.min(order.len())];
    let mut population =
        Population::sorted(theta0.select(Axis(0), keep), Array1::ones(keep.len()), d0.select(Axis(0), keep));
    let mut epsilon = population.distances[population.distances.len() - 1];
    let mut populations = 1;

    while runner.left() > 0 {
        let target = population.theta.nrows();
        let next_epsilon = quantile(population.distances.view(), config.epsilon_quantile);
        let kernel = Kernel::new(&population, config.kernel_scale)?;
        let mut accepted_theta = Array2::zeros((0, population.theta.ncols()));
        let mut accepted_d = Array1::zeros(0);
        while accepted_theta.nrows() < target && runner.left() > 0 {
            let batch = (target - accepted_theta.nrows()).min(runner.left());
            let proposals = propose(problem, &population, &kernel, batch, &mut rng)?;
            let (theta, s, _) = runner.simulate(proposals)?;
            let d = distances(s.view(), s_o.view(), scale.view(), config.distance);
            let hits: Vec<usize> = (0..d.len()).filter(|&i| d[i] <= next_epsilon).collect();
            accepted_theta.append(Axis(0), theta.select(Axis(0), &hits).view()).expect("θ columns match");
            accepted_d = concatenate![Axis(0), accepted_d, d.select(Axis(0), &hits)];
        }
        let missing = target - accepted_theta.nrows();
        if missing > 0 {
            if !config.fill_last_population || missing == target {
                break;
            }
            accepted_theta.append(Axis(0), population.theta.slice(ndarray::s![..missing, ..])).expect("columns match");
            accepted_d = concatenate![Axis(0), accepted_d, population.distances.slice(ndarray::s![..missing])];
        }
        let weights = kernel.weights(problem, &accepted_theta);
        if !weights.iter().all(|w| w.is_finite()) || weights.sum() <= 0.0 {
            return Err(Error::Sampling(format!("SMC-ABC: population {populations} has no positive weight")));
        }
        population = Population::sorted(accepted_theta, weights, accepted_d);
        epsilon = next_epsilon;
        populations += 1;
        if let Some(ess_min) = config.ess_min
            && population.ess() < ess_min * target as f64
        {
            let picks = sample_indices(population.weights.view(), target, &mut rng);
            population = Population::sorted(
                population.theta.select(Axis(0), &picks),
                Array1::ones(target),
                population.distances.select(Axis(0), &picks),
            );
        }
    }
    Ok(AbcPosterior {
        particles: population.theta,
        weights: population.weights,
        distances: population.distances,
        epsilon,
        simulations: runner.spent,
        dropped: runner.dropped,
        populations,
        seconds: start.elapsed().as_secs_f64(),
        prior: problem.prior.clone(),
    })
}

/// `n` perturbed particles inside the prior support: j ~ w, θ* = θⱼ + Lz, redrawn when outside.
fn propose(
    problem: &AbcProblem,
    population: &Population,
    kernel: &Kernel,
    n: usize,
    rng: &mut impl Rng,
) -> Result<Array2<f64>> {
    let mut out = Array2::zeros((n, population.theta.ncols()));
    let (mut filled, mut tries) = (0, 0usize);
    let categorical = Categorical::new(population.weights.view());
    while filled < n {
        tries += 1;
        if tries > 10_000 * n {
            return Err(Error::Sampling(format!(
                "SMC-ABC: only {filled} of {tries} perturbed particles fell inside the prior support"
            )));
        }
        let j = categorical.draw(rng);
        let candidate = kernel.perturb(population.theta.row(j), rng);
        if problem.prior.in_support(candidate.view()) {
            out.row_mut(filled).assign(&candidate);
            filled += 1;
        }
    }
    Ok(out)
}
