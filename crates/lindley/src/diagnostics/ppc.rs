//! Posterior predictive checks (Gelman, Meng & Stern 1996, "Posterior predictive assessment of
//! model fitness via realized discrepancies"; Gelman et al., *Bayesian Data Analysis*, ch. 6).
//!
//! Each posterior sample θⱼ ~ q(θ | x_o) is simulated once, x̃ⱼ ~ p(x | θⱼ), giving draws of the
//! posterior predictive distribution p(x̃ | x_o) = ∫ p(x̃ | θ) q(θ | x_o) dθ. If the posterior (and
//! the simulator) describe the observation, x_o looks like one of those draws. Per data dimension d
//! the check reports the central `level` interval of x̃_d, whether x_o,d falls inside it, and the
//! two-sided tail probability 2·min(P(x̃_d ≤ x_o,d), P(x̃_d ≥ x_o,d)) (capped at 1). With many
//! dimensions some fall outside by chance — about (1 − level)·D — so the overall verdict uses the
//! Bonferroni-corrected smallest tail probability, min(1, D · min_d p_d).

use ndarray::{ArrayView1, ArrayView2, Axis};

use crate::simulators::Simulator;
use crate::{Error, Result};

/// Settings of [`posterior_predictive_check`].
#[derive(Clone, Debug, PartialEq)]
pub struct PpcConfig {
    /// Probability mass of the central predictive interval per dimension (in (0, 1); default 0.95).
    pub level: f64,
    /// Seed of the simulations.
    pub seed: u64,
}

impl Default for PpcConfig {
    fn default() -> Self {
        PpcConfig { level: 0.95, seed: 0 }
    }
}

/// The outcome of a posterior predictive check, one entry per data dimension.
#[derive(Clone, Debug)]
pub struct PpcResult {
    /// The interval's probability mass.
    pub level: f64,
    /// Predictive simulations used (finite rows).
    pub simulations: usize,
    /// Simulations dropped because they contained NaN or infinite values.
    pub dropped: usize,
    /// Mean of the predictive draws.
    pub mean: Vec<f64>,
    /// Lower end of the central interval (the (1 − level)/2 quantile).
    pub lower: Vec<f64>,
    /// Upper end of the central interval (the (1 + level)/2 quantile).
    pub upper: Vec<f64>,
    /// Whether lower ≤ x_o,d ≤ upper.
    pub inside: Vec<bool>,
    /// Two-sided tail probability 2·min(P(x̃_d ≤ x_o,d), P(x̃_d ≥ x_o,d)), capped at 1.
    pub tail_probability: Vec<f64>,
}

impl PpcResult {
    /// Indices of the dimensions whose observed value lies outside its predictive interval.
    pub fn outside(&self) -> Vec<usize> {
        self.inside.iter().enumerate().filter(|(_, inside)| !**inside).map(|(d, _)| d).collect()
    }

    /// Bonferroni-corrected smallest tail probability, min(1, D · min_d p_d): the probability,
    /// under a correct posterior, of a dimension at least this extreme.
    pub fn corrected_p_value(&self) -> f64 {
        let smallest = self.tail_probability.iter().copied().fold(1.0f64, f64::min);
        (smallest * self.tail_probability.len() as f64).min(1.0)
    }

    /// Whether the check flags the posterior at significance `alpha` (corrected p-value < alpha).
    pub fn flags(&self, alpha: f64) -> bool {
        self.corrected_p_value() < alpha
    }
}

/// Posterior predictive check of `observation` against `simulator` run once on each row of
/// `samples` (posterior draws for that observation); see the module documentation.
///
/// Errors when shapes disagree, `level` is not in (0, 1), the observation is not finite, the
/// simulator fails, or fewer than 2 simulations are finite.
pub fn posterior_predictive_check(
    simulator: &dyn Simulator,
    samples: ArrayView2<f64>,
    observation: ArrayView1<f64>,
    config: &PpcConfig,
) -> Result<PpcResult> {
    const CONTEXT: &str = "posterior predictive check";
    if !(config.level > 0.0 && config.level < 1.0) {
        return Err(Error::InvalidInput(format!("{CONTEXT}: level must be in (0, 1), got {}", config.level)));
    }
    if samples.ncols() != simulator.parameter_dim() || samples.nrows() < 2 {
        return Err(Error::shape(
            format!("{CONTEXT}: posterior samples"),
            format!("at least 2 rows of {} parameters", simulator.parameter_dim()),
            format!("{} × {}", samples.nrows(), samples.ncols()),
        ));
    }
    if observation.len() != simulator.data_dim() {
        return Err(Error::shape(
            format!("{CONTEXT}: observation"),
            format!("{} values (the simulator's data dimension)", simulator.data_dim()),
            format!("{}", observation.len()),
        ));
    }
    if let Some(d) = observation.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!("{CONTEXT}: observation value {d} is {}", observation[d])));
    }
    let simulated = simulator.simulate(samples, config.seed)?;
    if simulated.dim() != (samples.nrows(), observation.len()) {
        return Err(Error::shape(
            format!("{CONTEXT}: simulator output"),
            format!("{} × {}", samples.nrows(), observation.len()),
            format!("{} × {}", simulated.nrows(), simulated.ncols()),
        ));
    }
    let finite: Vec<usize> =
        (0..simulated.nrows()).filter(|&i| simulated.row(i).iter().all(|v| v.is_finite())).collect();
    let dropped = simulated.nrows() - finite.len();
    if finite.len() < 2 {
        return Err(Error::Sampling(format!(
            "{CONTEXT}: only {} of {} predictive simulations are finite",
            finite.len(),
            simulated.nrows()
        )));
    }
    let simulated = simulated.select(Axis(0), &finite);
    let n = simulated.nrows() as f64;
    let tail = (1.0 - config.level) / 2.0;
    let dim = observation.len();
    let mut result = PpcResult {
        level: config.level,
        simulations: finite.len(),
        dropped,
        mean: Vec::with_capacity(dim),
        lower: Vec::with_capacity(dim),
        upper: Vec::with_capacity(dim),
        inside: Vec::with_capacity(dim),
        tail_probability: Vec::with_capacity(dim),
    };
    for d in 0..dim {
        let mut column = simulated.column(d).to_vec();
        column.sort_by(f64::total_cmp);
        let observed = observation[d];
        let (lower, upper) = (quantile(&column, tail), quantile(&column, 1.0 - tail));
        let below = column.partition_point(|&v| v <= observed) as f64 / n;
        let above = (column.len() - column.partition_point(|&v| v < observed)) as f64 / n;
        result.mean.push(column.iter().sum::<f64>() / n);
        result.lower.push(lower);
        result.upper.push(upper);
        result.inside.push(lower <= observed && observed <= upper);
        result.tail_probability.push((2.0 * below.min(above)).min(1.0));
    }
    Ok(result)
}

/// The `q`-quantile of sorted `values` by linear interpolation between order statistics
/// (Hyndman & Fan type 7, numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let (low, frac) = (position.floor() as usize, position.fract());
    let high = (low + 1).min(sorted.len() - 1);
    sorted[low] + frac * (sorted[high] - sorted[low])
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};
    use rand_distr::{Distribution as _, StandardNormal};

    use super::*;
    use crate::rng::seeded;
    use crate::simulators::simulate_rows;

    /// x = θ + σ ε in 3 dimensions, θ ~ N(0, I): p(θ | x) = N(x / (1 + σ²), σ²/(1 + σ²) I).
    const SIGMA: f64 = 0.5;

    struct Noise;

    impl Simulator for Noise {
        fn parameter_dim(&self) -> usize {
            3
        }
        fn data_dim(&self) -> usize {
            3
        }
        fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
            Ok(simulate_rows(theta, 3, seed, |t, rng, x| {
                for (out, value) in x.iter_mut().zip(t) {
                    let e: f64 = StandardNormal.sample(rng);
                    *out = value + SIGMA * e;
                }
            }))
        }
    }

    /// `n` draws of N(x_o / (1 + σ²) + shift, σ²/(1 + σ²) I).
    fn posterior(observation: &Array1<f64>, shift: f64, n: usize) -> Array2<f64> {
        let shrink = 1.0 / (1.0 + SIGMA * SIGMA);
        let std = SIGMA * shrink.sqrt();
        let mut rng = seeded(2);
        Array2::from_shape_fn((n, 3), |(_, d)| {
            let e: f64 = StandardNormal.sample(&mut rng);
            observation[d] * shrink + shift + std * e
        })
    }

    #[test]
    fn correct_posterior_covers_and_shifted_one_is_flagged() {
        let observation = Array1::from(vec![0.7, -1.2, 0.1]);
        let config = PpcConfig { level: 0.95, seed: 4 };
        let good =
            posterior_predictive_check(&Noise, posterior(&observation, 0.0, 2000).view(), observation.view(), &config)
                .unwrap();
        assert_eq!(good.simulations, 2000);
        assert!(good.outside().is_empty(), "{good:?}");
        assert!(!good.flags(0.05), "{good:?}");
        // The predictive std is √(σ² + σ²/(1 + σ²)) ≈ 0.67, so the 95% interval is about ±1.31.
        for d in 0..3 {
            let width = good.upper[d] - good.lower[d];
            assert!((width - 2.0 * 1.96 * 0.67).abs() < 0.15, "dimension {d}: width {width}");
        }
        // Shifting the posterior by 2.5 (over 3.5 predictive standard deviations) puts x_o in the tails.
        let bad =
            posterior_predictive_check(&Noise, posterior(&observation, 2.5, 2000).view(), observation.view(), &config)
                .unwrap();
        assert_eq!(bad.outside(), vec![0, 1, 2]);
        assert!(bad.flags(0.05) && bad.tail_probability.iter().all(|&p| p < 0.01), "{bad:?}");
        let err = posterior_predictive_check(
            &Noise,
            posterior(&observation, 0.0, 10).view(),
            observation.slice(ndarray::s![..2]),
            &config,
        )
        .unwrap_err();
        assert!(err.to_string().contains("3 values"), "{err}");
    }
}
