//! Simulator-only design problems: Markov jump processes simulated exactly with Gillespie's
//! direct method (Gillespie 1977), observed at chosen times. Their likelihood p(y | θ, ξ) is not
//! available in closed form, so they implement [`DesignSimulator`] only and are scored by the
//! simulation-only EIG estimators (Barber–Agakov with a design-amortised posterior flow, NLE
//! direct).
//!
//! A design is a set of observation times: the simulator sorts them, runs one path through all of
//! them and returns the observations in the order the times were given, so the design box is a
//! plain box and designs that differ by a permutation are the same experiment
//! ([`DesignSimulator::exchangeable_design`]). Each row has its own random stream, seeded from the
//! caller's generator in row order, and rows are simulated in parallel: results do not depend on
//! the number of threads.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::{Rng, RngCore};
use rand_distr::{Distribution, Exp1};
use rayon::prelude::*;

use super::{DesignBox, DesignSimulator, broadcast, map_log_prior, simulation_rows, standard_normal};
use crate::rng::{LindleyRng, seeded};
use crate::{Error, Result};

/// Initial aphid count N₀ and cumulative count C₀ (Gillespie & Golightly 2010; Gillespie & Boys
/// 2019).
pub const APHID_INITIAL: f64 = 28.0;
/// Prior means of (λ, μ): the posterior means of Gillespie & Golightly (2010) for the cotton-aphid
/// data, as used by Gillespie & Boys (2019).
pub const APHID_PRIOR_MEAN: [f64; 2] = [0.246, 0.000134];
/// Prior standard deviations of (λ, μ): ten times Gillespie & Golightly's posterior standard
/// deviations (0.00079, 0.000002), as in Gillespie & Boys' design code.
pub const APHID_PRIOR_SD: [f64; 2] = [0.0079, 0.00002];
/// Prior correlation of λ and μ (Gillespie & Golightly's posterior correlation).
pub const APHID_PRIOR_CORRELATION: f64 = 0.356;
/// Latest admissible observation time (days): Gillespie & Boys choose observation times among
/// 1, …, 50.
pub const APHID_MAX_TIME: f64 = 50.0;
/// Population size of the stochastic SIR model (Kleinegesse & Gutmann 2020).
pub const SIR_POPULATION: f64 = 50.0;
/// Upper bound of the uniform priors of β and γ (both U(0, 0.5)).
pub const SIR_PRIOR_HIGH: f64 = 0.5;
/// Latest admissible observation time of the SIR model.
pub const SIR_MAX_TIME: f64 = 100.0;
/// Events simulated per path before it is declared failed (NaN), a guard against parameters far
/// outside the prior that make a population explode.
const MAX_EVENTS: usize = 50_000_000;

/// A Markov jump process with two state variables and two reactions.
struct TwoReactionProcess {
    /// State at time 0.
    initial: [f64; 2],
    /// State change of each reaction.
    jumps: [[f64; 2]; 2],
    /// Index of the observed state variable.
    observed: usize,
}

impl TwoReactionProcess {
    /// One exact path (Gillespie's direct method) with reaction rates `rates(state)` observed at
    /// `times` (any order; written to `y` in that order). Returns false, with `y` NaN, when a rate
    /// is negative or not finite, or the path exceeds [`MAX_EVENTS`].
    fn path<F>(&self, rates: F, times: ArrayView1<f64>, rng: &mut LindleyRng, y: &mut [f64]) -> bool
    where
        F: Fn(&[f64; 2]) -> [f64; 2],
    {
        let mut order: Vec<usize> = (0..times.len()).collect();
        order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
        let mut state = self.initial;
        let mut events = 0;
        let mut propensities = rates(&state);
        let mut total = propensities[0] + propensities[1];
        let mut next = match waiting_time(total, rng) {
            Some(dt) => dt,
            None => return fail(y),
        };
        for &k in &order {
            while next <= times[k] {
                let reaction = usize::from(rng.random::<f64>() * total >= propensities[0]);
                for (s, d) in state.iter_mut().zip(self.jumps[reaction]) {
                    *s += d;
                }
                events += 1;
                if events > MAX_EVENTS {
                    return fail(y);
                }
                propensities = rates(&state);
                total = propensities[0] + propensities[1];
                match waiting_time(total, rng) {
                    Some(dt) => next += dt,
                    None => return fail(y),
                }
            }
            y[k] = state[self.observed];
        }
        true
    }
}

/// An exponential waiting time with rate `total` (∞ when nothing can happen); `None` for a negative
/// or non-finite rate.
fn waiting_time(total: f64, rng: &mut LindleyRng) -> Option<f64> {
    if !(total >= 0.0 && total.is_finite()) {
        return None;
    }
    if total == 0.0 {
        return Some(f64::INFINITY);
    }
    let e: f64 = Exp1.sample(rng);
    Some(e / total)
}

fn fail(y: &mut [f64]) -> bool {
    y.fill(f64::NAN);
    false
}

/// Validate shapes and the design box, then fill row i of the `[n, Dy]` output with
/// `row(θᵢ, ξᵢ, rngᵢ, yᵢ)` in parallel, where rngᵢ is seeded by the i-th value drawn from `rng`.
fn map_paths<F>(
    problem: &dyn DesignSimulator,
    theta: ArrayView2<f64>,
    design: ArrayView2<f64>,
    rng: &mut LindleyRng,
    row: F,
) -> Result<Array2<f64>>
where
    F: Fn(ArrayView1<f64>, ArrayView1<f64>, &mut LindleyRng, &mut [f64]) + Sync,
{
    let n = simulation_rows(problem, theta, design)?;
    let (theta, design) = (broadcast(&theta, n), broadcast(&design, n));
    let seeds: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
    let dy = problem.observation_dim();
    let mut out = Array2::zeros((n, dy));
    out.as_slice_mut().expect("fresh array").par_chunks_mut(dy).enumerate().for_each(|(i, y)| {
        row(theta.row(i), design.row(i), &mut seeded(seeds[i]), y);
    });
    Ok(out)
}

/// A two-reaction jump process with two rates θ = (θ₁, θ₂) and its prior: the per-model part of
/// an [`ObservationTimes`] design problem.
pub trait JumpModel: std::fmt::Debug + Send + Sync + 'static {
    /// The model's name in messages ("aphid", "SIR").
    const FAMILY: &'static str;
    /// Problem names for 1, 2, … observation times; more times take the last name.
    const NAMES: &'static [&'static str];
    /// Latest admissible observation time (the design box is [0, `MAX_TIME`]ⁿ).
    const MAX_TIME: f64;
    /// `n` prior draws of the rates, `[n, 2]`, drawn row after row from `rng`.
    fn sample_prior(n: usize, rng: &mut LindleyRng) -> Array2<f64>;
    /// The prior log-density of one row of rates (−∞ outside the support).
    fn log_prior(rates: ArrayView1<f64>) -> f64;
    /// The observed state at each of `times` on one exact path with `rates` (written to `y` in
    /// the order of `times`); NaN for negative or non-finite rates.
    fn path(rates: ArrayView1<f64>, times: ArrayView1<f64>, rng: &mut LindleyRng, y: &mut [f64]);
}

/// A jump process of [`JumpModel`] `M` observed at n design times ξ ∈ [0, `M::MAX_TIME`]ⁿ (any
/// order): θ = the two rates, y = the observed state at each time.
#[derive(Debug)]
pub struct ObservationTimes<M: JumpModel> {
    times: usize,
    name: &'static str,
    model: std::marker::PhantomData<M>,
}

impl<M: JumpModel> Clone for ObservationTimes<M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: JumpModel> Copy for ObservationTimes<M> {}

impl<M: JumpModel> ObservationTimes<M> {
    /// The problem with `times` observation times, named from `M::NAMES`. Zero times is an error.
    pub fn new(times: usize) -> Result<Self> {
        if times == 0 {
            return Err(Error::InvalidInput(format!(
                "the {} design problem needs at least one observation time",
                M::FAMILY
            )));
        }
        let name = M::NAMES[(times - 1).min(M::NAMES.len() - 1)];
        Ok(ObservationTimes { times, name, model: std::marker::PhantomData })
    }
}

impl<M: JumpModel> DesignSimulator for ObservationTimes<M> {
    fn name(&self) -> &str {
        self.name
    }
    fn parameter_dim(&self) -> usize {
        2
    }
    fn design_dim(&self) -> usize {
        self.times
    }
    fn observation_dim(&self) -> usize {
        self.times
    }
    fn design_box(&self) -> DesignBox {
        DesignBox::uniform(self.times, 0.0, M::MAX_TIME)
    }
    fn sample_prior(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        M::sample_prior(n, rng)
    }
    fn log_prior(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        map_log_prior(self, theta, M::log_prior)
    }
    /// Exact paths; a row with negative or non-finite rates is NaN (a failed simulation).
    fn simulate(&self, theta: ArrayView2<f64>, design: ArrayView2<f64>, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        map_paths(self, theta, design, rng, M::path)
    }
    fn exchangeable_design(&self) -> bool {
        true
    }
}

/// `aphid-n`: the aphid population model (see [`AphidModel`]) observed at n times.
pub type Aphid = ObservationTimes<AphidModel>;

/// `sir`, `sir-2`: the stochastic SIR epidemic (see [`SirModel`]) observed at n times.
pub type Sir = ObservationTimes<SirModel>;

/// The aphid population model of Matis et al. (2007) and Gillespie & Golightly (2010), the
/// implicit design problem of Gillespie & Boys (2019, arXiv 1803.04254), Ao & Li (2020, LB-KLD)
/// and Dong et al. (2024, vOED-NFs, case 4). State (N, C), aphids alive and cumulative births,
/// from N₀ = C₀ = 28; births N → N+1, C → C+1 at rate λN; deaths N → N−1 at rate μNC. Only N is
/// observed, at n times ξ ∈ [0, 50]ⁿ (days). Prior: (λ, μ) bivariate normal with means
/// (0.246, 0.000134), standard deviations (0.0079, 0.00002) and correlation 0.356, restricted to
/// λ, μ > 0 (whose excluded mass, Φ(−6.7) ≈ 10⁻¹¹, is ignored in the density) — Gillespie &
/// Golightly's posterior with standard deviations inflated tenfold, as in Gillespie & Boys' design
/// code. Published optimal times: n = 1: 21; n = 2: (17, 27–28); EIG lower bounds ≈ 1.18 (n = 1)
/// and 1.88 (n = 2) nats.
#[derive(Debug, Clone, Copy)]
pub struct AphidModel;

impl AphidModel {
    const PROCESS: TwoReactionProcess =
        TwoReactionProcess { initial: [APHID_INITIAL, APHID_INITIAL], jumps: [[1.0, 1.0], [-1.0, 0.0]], observed: 0 };
}

impl JumpModel for AphidModel {
    const FAMILY: &'static str = "aphid";
    const NAMES: &'static [&'static str] = &["aphid-1", "aphid-2", "aphid-3", "aphid-4", "aphid-n"];
    const MAX_TIME: f64 = APHID_MAX_TIME;

    /// Correlated normal draws (two standard normals per attempt), redrawn in the (practically
    /// impossible) case of a non-positive rate.
    fn sample_prior(n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        let [m1, m2] = APHID_PRIOR_MEAN;
        let [s1, s2] = APHID_PRIOR_SD;
        let rho = APHID_PRIOR_CORRELATION;
        let mut out = Array2::zeros((n, 2));
        for mut row in out.outer_iter_mut() {
            loop {
                let z1 = standard_normal(rng);
                let z2 = standard_normal(rng);
                let lambda = m1 + s1 * z1;
                let mu = m2 + s2 * (rho * z1 + (1.0 - rho * rho).sqrt() * z2);
                if lambda > 0.0 && mu > 0.0 {
                    row[0] = lambda;
                    row[1] = mu;
                    break;
                }
            }
        }
        out
    }

    /// The bivariate normal log-density, −∞ unless λ, μ > 0.
    fn log_prior(t: ArrayView1<f64>) -> f64 {
        let [m1, m2] = APHID_PRIOR_MEAN;
        let [s1, s2] = APHID_PRIOR_SD;
        let rho = APHID_PRIOR_CORRELATION;
        if !(t[0] > 0.0 && t[1] > 0.0) {
            return f64::NEG_INFINITY;
        }
        let one_minus = 1.0 - rho * rho;
        let log_norm = -(2.0 * std::f64::consts::PI * s1 * s2 * one_minus.sqrt()).ln();
        let (z1, z2) = ((t[0] - m1) / s1, (t[1] - m2) / s2);
        log_norm - (z1 * z1 - 2.0 * rho * z1 * z2 + z2 * z2) / (2.0 * one_minus)
    }

    /// N at each time, with birth rate λ = `rates[0]` and death rate μ = `rates[1]`.
    fn path(rates: ArrayView1<f64>, times: ArrayView1<f64>, rng: &mut LindleyRng, y: &mut [f64]) {
        let (lambda, mu) = (rates[0], rates[1]);
        Self::PROCESS.path(|s| [lambda * s[0], mu * s[0] * s[1]], times, rng, y);
    }
}

/// The stochastic SIR epidemic of Kleinegesse & Gutmann (2020, MINEBED) and Kleinegesse, Drovandi
/// & Gutmann (2021): a population of N = 50 with S₀ = 49 susceptible and I₀ = 1 infected;
/// infections S → S−1, I → I+1 at rate βSI/N, recoveries I → I−1 at rate γI. The number infected
/// I(t) is observed at the design times t ∈ [0, 100]. Prior: β, γ ~ U(0, 0.5) independent.
#[derive(Debug, Clone, Copy)]
pub struct SirModel;

impl SirModel {
    const PROCESS: TwoReactionProcess =
        TwoReactionProcess { initial: [SIR_POPULATION - 1.0, 1.0], jumps: [[-1.0, 1.0], [0.0, -1.0]], observed: 1 };
}

impl JumpModel for SirModel {
    const FAMILY: &'static str = "SIR";
    const NAMES: &'static [&'static str] = &["sir", "sir-2", "sir-n"];
    const MAX_TIME: f64 = SIR_MAX_TIME;

    fn sample_prior(n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        Array2::from_shape_fn((n, 2), |_| SIR_PRIOR_HIGH * rng.random::<f64>())
    }

    /// log(1/0.5²) = log 4 on [0, 0.5]², −∞ outside.
    fn log_prior(t: ArrayView1<f64>) -> f64 {
        if t.iter().all(|v| (0.0..=SIR_PRIOR_HIGH).contains(v)) {
            (1.0 / (SIR_PRIOR_HIGH * SIR_PRIOR_HIGH)).ln()
        } else {
            f64::NEG_INFINITY
        }
    }

    /// I at each time, with infection rate β = `rates[0]` and recovery rate γ = `rates[1]`.
    fn path(rates: ArrayView1<f64>, times: ArrayView1<f64>, rng: &mut LindleyRng, y: &mut [f64]) {
        let (beta, gamma) = (rates[0], rates[1]);
        Self::PROCESS.path(|s| [beta * s[0] * s[1] / SIR_POPULATION, gamma * s[1]], times, rng, y);
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Axis, array};

    use super::*;
    use crate::boed::eig::{FlowEig, FlowEigConfig, FlowEigKind};
    use crate::boed::problems::{problem, simulator};
    use crate::flows::{EstimatorConfig, EstimatorKind};
    use crate::train::TrainConfig;

    /// The deterministic aphid model dN/dt = λN − μNC, dC/dt = λN by RK4 (step 10⁻³) at `times`
    /// (increasing).
    fn aphid_ode(lambda: f64, mu: f64, times: &[f64]) -> Vec<f64> {
        let f = |n: f64, c: f64| (lambda * n - mu * n * c, lambda * n);
        let (mut n, mut c, mut t, h) = (APHID_INITIAL, APHID_INITIAL, 0.0, 1e-3);
        times
            .iter()
            .map(|&end| {
                while t < end - 1e-12 {
                    let k1 = f(n, c);
                    let k2 = f(n + 0.5 * h * k1.0, c + 0.5 * h * k1.1);
                    let k3 = f(n + 0.5 * h * k2.0, c + 0.5 * h * k2.1);
                    let k4 = f(n + h * k3.0, c + h * k3.1);
                    n += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
                    c += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
                    t += h;
                }
                n
            })
            .collect()
    }

    #[test]
    fn aphid_paths_follow_the_ode_mean_in_the_given_time_order_and_are_reproducible() {
        let aphid = Aphid::new(4).unwrap();
        let theta = array![[0.246, 0.000134]];
        // Unsorted times: the simulator sorts them and answers in the given order.
        let design = array![[20.0, 5.0, 30.0, 10.0]];
        let n = 1000;
        let theta = theta.broadcast((n, 2)).unwrap().to_owned();
        let y = aphid.simulate(theta.view(), design.view(), &mut seeded(3)).unwrap();
        assert_eq!(y, aphid.simulate(theta.view(), design.view(), &mut seeded(3)).unwrap(), "same seed, same paths");
        assert_ne!(y, aphid.simulate(theta.view(), design.view(), &mut seeded(4)).unwrap());
        assert!(y.iter().all(|v| *v >= 0.0 && v.fract() == 0.0), "counts");
        let mean = y.mean_axis(Axis(0)).unwrap();
        // Mean N(t) of the jump process against the ODE (peak ≈ 917 near t = 20); the standard
        // error of the mean is below 1% at every time, the moment-closure gap about 1%.
        let ode = aphid_ode(0.246, 0.000134, &[5.0, 10.0, 20.0, 30.0]);
        for (&m, (t, o)) in [mean[1], mean[3], mean[0], mean[2]].iter().zip([5, 10, 20, 30].iter().zip(ode)) {
            assert!((m / o - 1.0).abs() < 0.04, "time {t}: mean N {m:.1}, ODE {o:.1}");
        }
        // The path is one trajectory: with a death rate μNC the population rises and falls.
        assert!(mean[0] > mean[3] && mean[3] > mean[1] && mean[0] > mean[2]);
    }

    #[test]
    fn sir_recoveries_and_infections_follow_their_rates() {
        let sir = Sir::new(2).unwrap();
        let n = 4000;
        // β = 0: the single infected recovers after an Exp(γ) time, so P(I(10) = 1) = e^{−γ·10}.
        let theta = array![[0.0, 0.1]];
        let y = sir.simulate(theta.broadcast((n, 2)).unwrap(), array![[10.0, 0.0]].view(), &mut seeded(5)).unwrap();
        assert!(y.column(1).iter().all(|&v| v == 1.0), "I(0) = I₀ = 1");
        let alive = y.column(0).iter().filter(|&&v| v == 1.0).count() as f64 / n as f64;
        assert!((alive - (-1.0f64).exp()).abs() < 0.03, "P(I(10) = 1) = {alive}, expected e^-1");
        // γ = 0: nobody recovers, so I only grows and reaches the whole population.
        let y = sir.simulate(array![[0.5, 0.0]].view(), array![[100.0, 5.0]].view(), &mut seeded(6)).unwrap();
        assert!(y[[0, 1]] <= y[[0, 0]] && y[[0, 0]] == SIR_POPULATION, "{y:?}");
        // The prior density is that of U(0, 0.5)².
        let lp = sir.log_prior(array![[0.1, 0.2], [0.6, 0.1]].view()).unwrap();
        assert!((lp[0] - 4f64.ln()).abs() < 1e-12 && lp[1] == f64::NEG_INFINITY);
    }

    #[test]
    fn bad_designs_and_names_are_clear_errors() {
        let aphid = simulator("aphid-2").unwrap();
        let theta = aphid.sample_prior(2, &mut seeded(0));
        let err = aphid.simulate(theta.view(), array![[10.0, 60.0]].view(), &mut seeded(0)).unwrap_err();
        assert!(matches!(&err, Error::InvalidInput(m) if m.contains("coordinate 1") && m.contains("outside")), "{err}");
        let err = simulator("sir").unwrap().simulate(theta.view(), array![[-1.0]].view(), &mut seeded(0)).unwrap_err();
        assert!(err.to_string().contains("outside the design box"), "{err}");
        let err = problem("aphid-1").err().unwrap().to_string();
        assert!(err.contains("simulator-only"), "{err}");
        let err = simulator("aphid-9").err().unwrap().to_string();
        assert!(err.contains("aphid-1") && err.contains("sir-2") && err.contains("linear-gaussian-p2"), "{err}");
        assert!(Aphid::new(0).is_err());
        // Grid candidates: exchangeable observation times keep one order only.
        let bounds = aphid.design_box();
        let grid = bounds.grid(3, aphid.exchangeable_design(), 100).unwrap();
        assert_eq!(grid, array![[0.0, 0.0], [0.0, 25.0], [0.0, 50.0], [25.0, 25.0], [25.0, 50.0], [50.0, 50.0]]);
        assert_eq!(bounds.grid(3, false, 100).unwrap().nrows(), 9);
        assert!(bounds.grid(0, true, 100).is_err() && bounds.grid(11, true, 100).is_err());
        // Rates outside the prior's support fail the row instead of the batch.
        let y = aphid.simulate(array![[-0.1, 0.0001]].view(), array![[1.0, 2.0]].view(), &mut seeded(0)).unwrap();
        assert!(y.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn barber_agakov_flow_trains_on_the_implicit_aphid_problem() {
        let aphid = Aphid::new(1).unwrap();
        let config = FlowEigConfig {
            estimator: EstimatorConfig {
                kind: EstimatorKind::Maf,
                transforms: 2,
                hidden: 32,
                blocks: 1,
                ..Default::default()
            },
            training: TrainConfig {
                batch_size: 256,
                learning_rate: 2e-3,
                patience: 5,
                max_epochs: 40,
                ..Default::default()
            },
            simulations: 3000,
            outer: 500,
        };
        let flow = FlowEig::train(&aphid, &[FlowEigKind::BarberAgakov], &config, None, 7).unwrap();
        let scores = flow.estimate_simulator(&aphid, array![[0.5], [20.0]].view(), 8).unwrap();
        // At t = 0.5 the count barely moves from 28 (little information); near the peak it is
        // informative (published optimum t = 21, EIG ≈ 1.18).
        assert!(scores[0].eig < 0.5 && scores[1].eig > 0.6, "{scores:?}");
        assert!(scores[1].eig > scores[0].eig + 5.0 * (scores[0].stderr + scores[1].stderr), "{scores:?}");
    }
}
