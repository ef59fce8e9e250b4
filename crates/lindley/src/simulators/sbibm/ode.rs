//! The two ODE tasks of sbibm: the `sir` epidemic model and the `lotka_volterra` predator–prey
//! model. Both are solved with the adaptive Dormand–Prince 5(4) method (crate `ode_solvers`) at
//! relative and absolute tolerance 10⁻⁸; a failed solve (step-size underflow, stiffness, too many
//! steps) or a non-finite θ gives a row of NaN.

use std::sync::Arc;

use ndarray::{Array2, ArrayView2};
use ode_solvers::{Dopri5, System, Vector2, Vector3};
use rand::Rng;
use rand_distr::{Binomial, StandardNormal};

use super::sbibm_task;
use crate::Result;
use crate::distributions::Distribution;
use crate::rng::LindleyRng;
use crate::simulators::{Simulator, Task, check_parameter_shape, simulate_rows};

/// Relative and absolute tolerance of the ODE solver.
const TOLERANCE: f64 = 1e-8;
/// Number of time points kept by both tasks.
const TIME_POINTS: usize = 10;

/// Solve `system` from `y0` at t = 0 and return the state at t = k·`spacing`, k = 0..9, or `None`
/// if the solver fails or the states are not finite. The solve runs to `t_end` as in sbibm.
fn solve<const N: usize, S>(system: S, y0: [f64; N], spacing: f64, t_end: f64) -> Option<Vec<[f64; N]>>
where
    S: System<f64, ode_solvers::SVector<f64, N>>,
{
    let mut solver =
        Dopri5::new(system, 0.0, t_end, spacing, ode_solvers::SVector::<f64, N>::from(y0), TOLERANCE, TOLERANCE);
    solver.integrate().ok()?;
    let states: Vec<[f64; N]> = solver.y_out().iter().take(TIME_POINTS).map(|y| (*y).into()).collect();
    (states.len() == TIME_POINTS && states.iter().flatten().all(|v| v.is_finite())).then_some(states)
}

/// Total population N of the SIR model.
const POPULATION: f64 = 1e6;
/// Initially infected I₀ (S₀ = N − I₀, R₀ = 0).
const INITIALLY_INFECTED: f64 = 1.0;
/// Days between kept time points (every 17th point of the daily grid over 160 days).
const SIR_SPACING: f64 = 17.0;
/// Length of the SIR simulation in days.
const SIR_DAYS: f64 = 160.0;
/// Number of trials of the binomial observation model.
const SIR_TRIALS: u64 = 1000;

/// dS/dt = −β S I / N, dI/dt = β S I / N − γ I, dR/dt = γ I.
struct SirOde {
    beta: f64,
    gamma: f64,
}

impl System<f64, Vector3<f64>> for SirOde {
    fn system(&self, _t: f64, y: &Vector3<f64>, dy: &mut Vector3<f64>) {
        let infection = self.beta * y[0] * y[1] / POPULATION;
        let recovery = self.gamma * y[1];
        dy[0] = -infection;
        dy[1] = infection - recovery;
        dy[2] = recovery;
    }
}

/// The `sir` simulator: I(t) at t = 0, 17, …, 153 days, then x_k ~ Binomial(1000, I(t_k)/N).
struct Sir;

/// Fill `x` with one SIR observation for θ = (β, γ), or NaN if the solve fails.
fn simulate_sir(theta: &[f64], rng: &mut LindleyRng, x: &mut [f64]) {
    x.fill(f64::NAN);
    if !theta.iter().all(|t| t.is_finite()) {
        return;
    }
    let system = SirOde { beta: theta[0], gamma: theta[1] };
    let y0 = [POPULATION - INITIALLY_INFECTED, INITIALLY_INFECTED, 0.0];
    let Some(states) = solve(system, y0, SIR_SPACING, SIR_DAYS) else { return };
    for (x, state) in x.iter_mut().zip(&states) {
        let probability = (state[1] / POPULATION).clamp(0.0, 1.0);
        // The probability is in [0, 1], so the binomial is always valid.
        if let Ok(binomial) = Binomial::new(SIR_TRIALS, probability) {
            *x = rng.sample(binomial) as f64;
        }
    }
}

impl Simulator for Sir {
    fn parameter_dim(&self) -> usize {
        2
    }
    fn data_dim(&self) -> usize {
        TIME_POINTS
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "sir simulator")?;
        Ok(simulate_rows(theta, TIME_POINTS, seed, simulate_sir))
    }
}

/// `sir`: β ~ LogNormal(log 0.4, 0.5), γ ~ LogNormal(log 0.125, 0.2); SIR ODE with N = 10⁶,
/// I₀ = 1 over 160 days; x = binomial counts out of 1000 of the infected fraction at 10 times.
pub(super) fn sir() -> Task {
    sbibm_task(
        "sir",
        "SIR epidemic: contact rate β and recovery rate γ, infected counts at 10 times",
        Distribution::LogNormal { mu: vec![0.4f64.ln(), 0.125f64.ln()], sigma: vec![0.5, 0.2] },
        Arc::new(Sir),
        vec!["beta".into(), "gamma".into()],
    )
}

/// Initial prey and predator populations.
const LV_INITIAL: [f64; 2] = [30.0, 1.0];
/// Time between kept points (every 21st point of the 0.1 grid over 20 time units).
const LV_SPACING: f64 = 2.1;
/// Length of the Lotka–Volterra simulation.
const LV_END: f64 = 20.0;
/// Clamp applied to the populations before the log-normal observation noise.
const LV_CLAMP: (f64, f64) = (1e-10, 1e4);
/// Standard deviation of the log-normal observation noise.
const LV_NOISE: f64 = 0.1;

/// Prey u, predators v: du/dt = α u − β u v, dv/dt = −γ v + δ u v.
struct LotkaVolterraOde {
    alpha: f64,
    beta: f64,
    gamma: f64,
    delta: f64,
}

impl System<f64, Vector2<f64>> for LotkaVolterraOde {
    fn system(&self, _t: f64, y: &Vector2<f64>, dy: &mut Vector2<f64>) {
        dy[0] = self.alpha * y[0] - self.beta * y[0] * y[1];
        dy[1] = -self.gamma * y[1] + self.delta * y[0] * y[1];
    }
}

/// Fill `x` with one Lotka–Volterra observation for θ = (α, β, γ, δ), or NaN if the solve fails:
/// prey at t = 0, 2.1, …, 18.9, then predators at the same times, each
/// x ~ LogNormal(log(clamp(u, 10⁻¹⁰, 10⁴)), 0.1).
fn simulate_lotka_volterra(theta: &[f64], rng: &mut LindleyRng, x: &mut [f64]) {
    x.fill(f64::NAN);
    if !theta.iter().all(|t| t.is_finite()) {
        return;
    }
    let system = LotkaVolterraOde { alpha: theta[0], beta: theta[1], gamma: theta[2], delta: theta[3] };
    let Some(states) = solve(system, LV_INITIAL, LV_SPACING, LV_END) else { return };
    let (prey, predators) = x.split_at_mut(TIME_POINTS);
    for (k, state) in states.iter().enumerate() {
        for (species, out) in [(0, &mut prey[k]), (1, &mut predators[k])] {
            let z: f64 = rng.sample(StandardNormal);
            *out = (state[species].clamp(LV_CLAMP.0, LV_CLAMP.1).ln() + LV_NOISE * z).exp();
        }
    }
}

/// The `lotka_volterra` simulator.
struct LotkaVolterra;

impl Simulator for LotkaVolterra {
    fn parameter_dim(&self) -> usize {
        4
    }
    fn data_dim(&self) -> usize {
        2 * TIME_POINTS
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "lotka_volterra simulator")?;
        Ok(simulate_rows(theta, 2 * TIME_POINTS, seed, simulate_lotka_volterra))
    }
}

/// `lotka_volterra`: (α, β, γ, δ) ~ LogNormal((−0.125, −3, −0.125, −3), 0.5); predator–prey ODE
/// from (30, 1) over 20 time units; x = noisy prey and predator counts at 10 times (20 values).
pub(super) fn lotka_volterra() -> Task {
    sbibm_task(
        "lotka_volterra",
        "Lotka-Volterra predator-prey: 4 rates, noisy prey and predator counts at 10 times",
        Distribution::LogNormal { mu: vec![-0.125, -3.0, -0.125, -3.0], sigma: vec![0.5; 4] },
        Arc::new(LotkaVolterra),
        vec!["alpha".into(), "beta".into(), "gamma".into(), "delta".into()],
    )
}
