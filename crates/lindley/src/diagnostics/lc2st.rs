//! Local classifier two-sample test (L-C2ST; Linhart, Gramfort & Rodrigues 2023, "L-C2ST: Local
//! Diagnostics for Posterior Approximations in Simulation-Based Inference", NeurIPS), in the
//! generic form that needs only posterior samples (no normalising-flow inverse).
//!
//! Calibration data are N joint draws (θᵢ, xᵢ) ~ p(θ) p(x | θ) and one posterior draw
//! θ'ᵢ ~ q(θ | xᵢ) per xᵢ. A classifier d(θ, x) is trained to tell the class C = 1 pairs (θᵢ, xᵢ)
//! from the class C = 0 pairs (θ'ᵢ, xᵢ). If q(θ | x) = p(θ | x) the two classes have the same
//! distribution and the optimal classifier is d ≡ ½; otherwise d departs from ½ where q is wrong.
//! Because the classifier is conditioned on x, it can be evaluated *locally* at any observation
//! x_o: with samples θⱼ ~ q(θ | x_o), j = 1 … M, the test statistic is
//!
//! T(x_o) = (1/M) Σⱼ (d(θⱼ, x_o) − ½)²
//!
//! (the paper's t_MSE, eq. 6). Its null distribution is estimated by training H classifiers on
//! calibration data whose class labels are permuted under H₀ — here each pair (θᵢ, θ'ᵢ) sharing xᵢ
//! swaps labels with probability ½, which leaves the data's distribution unchanged when q equals
//! the true posterior — and evaluating each on the same samples at x_o (the paper's
//! permutation procedure, Sec. 3.2). The p-value is (1 + #{h : T_h ≥ T}) / (1 + H).
//!
//! The classifier is the scikit-learn-style MLP of [`c2st`](super::c2st) (two ReLU hidden layers of
//! `hidden_per_dim · (dim θ + dim x)` units, Adam, early stopping on the training loss), on inputs
//! (θ, x) z-scored with the mean and standard deviation of the joint draws. Training happens once
//! ([`Lc2st::train`]); the trained classifiers then test any number of observations
//! ([`Lc2st::test`]).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::Rng;
use rand::RngCore;
use rayon::prelude::*;

use super::check_finite;
use super::mlp::Mlp;
use crate::inference::{Posterior, SampleOptions};
use crate::rng::substream;
use crate::{Error, Result};

/// Settings of [`Lc2st::train`].
#[derive(Clone, Debug, PartialEq)]
pub struct Lc2stConfig {
    /// Classifiers trained under the null hypothesis H (the paper uses 100; the smallest
    /// attainable p-value is 1 / (1 + H), so H ≥ 20 is needed to reject at 0.05).
    pub null_trials: usize,
    /// Width of each of the two hidden layers per input dimension (dim θ + dim x), as in sbibm's C2ST (10).
    pub hidden_per_dim: usize,
    /// Maximum training epochs per classifier (scikit-learn's `max_iter`; training usually stops
    /// earlier on its loss plateau).
    pub max_epochs: usize,
    /// Seed of the classifier initialisations, the mini-batch shuffles and the null permutations.
    pub seed: u64,
}

impl Default for Lc2stConfig {
    fn default() -> Self {
        Lc2stConfig { null_trials: 50, hidden_per_dim: 10, max_epochs: 1000, seed: 0 }
    }
}

/// The outcome of an L-C2ST at one observation.
#[derive(Clone, Debug)]
pub struct Lc2stResult {
    /// T(x_o) = mean over the evaluation samples of (d(θⱼ, x_o) − ½)².
    pub statistic: f64,
    /// The statistic of each classifier trained under the null hypothesis, at the same samples.
    pub null_statistics: Vec<f64>,
    /// (1 + #{null statistics ≥ T}) / (1 + H): small values mean q(θ | x_o) differs from the true posterior.
    pub p_value: f64,
    /// d(θⱼ, x_o) for every evaluation sample: the classifier's probability that (θⱼ, x_o) is a
    /// joint draw rather than a q-draw. Values above ½ mark regions where q puts too little
    /// mass, below ½ too much.
    pub probabilities: Vec<f64>,
}

impl Lc2stResult {
    /// Whether the test rejects "q(θ | x_o) is the true posterior" at significance `level`.
    pub fn rejects(&self, level: f64) -> bool {
        self.p_value < level
    }
}

/// Trained L-C2ST classifiers: one on the calibration data and `null_trials` under H₀.
pub struct Lc2st {
    classifier: Mlp,
    null_classifiers: Vec<Mlp>,
    mean: Array1<f64>,
    std: Array1<f64>,
    parameter_dim: usize,
    data_dim: usize,
}

impl std::fmt::Debug for Lc2st {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lc2st")
            .field("parameter_dim", &self.parameter_dim)
            .field("data_dim", &self.data_dim)
            .field("null_trials", &self.null_classifiers.len())
            .finish()
    }
}

impl Lc2st {
    /// Train the classifier on joint draws (`theta[i]`, `x[i]`) against (`q_theta[i]`, `x[i]`),
    /// where `q_theta[i]` is one draw of the posterior under test for `x[i]`, and the
    /// `config.null_trials` classifiers on label-permuted copies (all in parallel; the result
    /// does not depend on the number of threads).
    ///
    /// Errors when the shapes disagree, there are fewer than 2 pairs, a value is not finite, or
    /// the configuration is unusable (no hidden units or epochs).
    pub fn train(
        theta: ArrayView2<f64>,
        x: ArrayView2<f64>,
        q_theta: ArrayView2<f64>,
        config: &Lc2stConfig,
    ) -> Result<Self> {
        const CONTEXT: &str = "L-C2ST calibration data";
        let (n, parameter_dim) = theta.dim();
        let data_dim = x.ncols();
        if n < 2 || parameter_dim == 0 || data_dim == 0 {
            return Err(Error::InvalidInput(format!(
                "{CONTEXT}: need at least 2 pairs with at least one parameter and one data column, got θ {n} × \
                 {parameter_dim} and x {} × {data_dim}",
                x.nrows()
            )));
        }
        if x.nrows() != n {
            return Err(Error::shape(CONTEXT, format!("{n} rows of x (one per row of θ)"), format!("{}", x.nrows())));
        }
        if q_theta.dim() != theta.dim() {
            return Err(Error::shape(
                CONTEXT,
                format!("posterior draws of shape {n} × {parameter_dim} (one per row of x)"),
                format!("{} × {}", q_theta.nrows(), q_theta.ncols()),
            ));
        }
        if config.hidden_per_dim == 0 || config.max_epochs == 0 {
            return Err(Error::InvalidInput("L-C2ST: hidden_per_dim and max_epochs must be at least 1".into()));
        }
        check_finite(CONTEXT, "θ", theta)?;
        check_finite(CONTEXT, "x", x)?;
        check_finite(CONTEXT, "posterior draws", q_theta)?;

        // Standardise (θ, x) by the joint draws; a constant column is only centred.
        let joint = ndarray::concatenate![Axis(1), theta, x];
        let mean = joint.mean_axis(Axis(0)).expect("n ≥ 2");
        let std = joint.std_axis(Axis(0), 1.0).mapv(|s| if s.is_normal() { s } else { 1.0 });
        let mut inputs = Array2::<f32>::zeros((2 * n, parameter_dim + data_dim));
        for i in 0..n {
            for (row, source) in [(i, theta.row(i)), (n + i, q_theta.row(i))] {
                for j in 0..parameter_dim {
                    inputs[[row, j]] = ((source[j] - mean[j]) / std[j]) as f32;
                }
                for j in 0..data_dim {
                    let k = parameter_dim + j;
                    inputs[[row, k]] = ((x[[i, j]] - mean[k]) / std[k]) as f32;
                }
            }
        }
        if let Some(((row, col), _)) = inputs.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "{CONTEXT}: row {} column {col} does not fit in f32 after standardisation",
                row % n
            )));
        }
        let labels: Array1<f32> = (0..2 * n).map(|r| if r < n { 1.0 } else { 0.0 }).collect();
        let hidden = [config.hidden_per_dim * (parameter_dim + data_dim); 2];

        // Trial 0 is the real classifier; trials 1..=H swap each pair's labels with probability ½.
        let mut classifiers: Vec<Mlp> = (0..=config.null_trials)
            .into_par_iter()
            .map(|trial| {
                let mut rng = substream(config.seed, trial as u64);
                let mut trial_labels = labels.clone();
                if trial > 0 {
                    for i in 0..n {
                        if rng.random::<bool>() {
                            trial_labels.swap(i, n + i);
                        }
                    }
                }
                let mut fit_rng = substream(rng.next_u64(), 0);
                Mlp::fit(inputs.view(), trial_labels.view(), &hidden, config.max_epochs, &mut fit_rng)
            })
            .collect();
        let null_classifiers = classifiers.split_off(1);
        let classifier = classifiers.pop().expect("trial 0 is always trained");
        Ok(Lc2st { classifier, null_classifiers, mean, std, parameter_dim, data_dim })
    }

    /// Test the posterior at `observation` with samples `samples [M, dim θ]` drawn from
    /// q(θ | observation): the statistic, its null distribution and p-value (module docs).
    pub fn test(&self, observation: ArrayView1<f64>, samples: ArrayView2<f64>) -> Result<Lc2stResult> {
        const CONTEXT: &str = "L-C2ST evaluation";
        if observation.len() != self.data_dim {
            return Err(Error::shape(
                CONTEXT,
                format!("an observation of {} values", self.data_dim),
                format!("{}", observation.len()),
            ));
        }
        if samples.nrows() == 0 || samples.ncols() != self.parameter_dim {
            return Err(Error::shape(
                CONTEXT,
                format!("posterior samples with at least 1 row and {} columns", self.parameter_dim),
                format!("{} × {}", samples.nrows(), samples.ncols()),
            ));
        }
        check_finite(CONTEXT, "posterior samples", samples)?;
        if let Some(j) = observation.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!("{CONTEXT}: observation value {j} is {}", observation[j])));
        }
        let p = self.parameter_dim;
        let mut inputs = Array2::<f32>::zeros((samples.nrows(), p + self.data_dim));
        for (mut row, sample) in inputs.rows_mut().into_iter().zip(samples.rows()) {
            for j in 0..p {
                row[j] = ((sample[j] - self.mean[j]) / self.std[j]) as f32;
            }
            for j in 0..self.data_dim {
                row[p + j] = ((observation[j] - self.mean[p + j]) / self.std[p + j]) as f32;
            }
        }
        let statistic_of = |mlp: &Mlp| -> (f64, Vec<f64>) {
            let probabilities: Vec<f64> = mlp.probabilities(inputs.view()).iter().map(|&v| v as f64).collect();
            let t = probabilities.iter().map(|v| (v - 0.5).powi(2)).sum::<f64>() / probabilities.len() as f64;
            (t, probabilities)
        };
        let (statistic, probabilities) = statistic_of(&self.classifier);
        let null_statistics: Vec<f64> = self.null_classifiers.par_iter().map(|mlp| statistic_of(mlp).0).collect();
        let exceed = null_statistics.iter().filter(|&&t| t >= statistic).count();
        let p_value = (1 + exceed) as f64 / (1 + null_statistics.len()) as f64;
        Ok(Lc2stResult { statistic, null_statistics, p_value, probabilities })
    }
}

/// L-C2ST of `posterior` at `observation`, from calibration pairs (`theta[i]`, `x[i]`) drawn
/// from the joint: draws one posterior sample per `x[i]` (seeded from `seed`), trains
/// [`Lc2st`], draws `evaluation_samples` from q(θ | observation) and tests them.
pub fn lc2st<P: Posterior + ?Sized>(
    posterior: &P,
    theta: ArrayView2<f64>,
    x: ArrayView2<f64>,
    observation: ArrayView1<f64>,
    evaluation_samples: usize,
    config: &Lc2stConfig,
    options: &SampleOptions,
) -> Result<Lc2stResult> {
    if evaluation_samples == 0 {
        return Err(Error::InvalidInput("L-C2ST: evaluation_samples must be at least 1".into()));
    }
    if theta.ncols() != posterior.parameter_dim() {
        return Err(Error::shape(
            "L-C2ST calibration θ",
            format!("{} columns (the posterior's parameter dimension)", posterior.parameter_dim()),
            format!("{}", theta.ncols()),
        ));
    }
    let draws = super::sbc::posterior_samples(posterior, x, 1, substream(config.seed, u64::MAX).next_u64(), options)?;
    let mut q_theta = Array2::<f64>::zeros(theta.raw_dim());
    for (mut row, draw) in q_theta.rows_mut().into_iter().zip(&draws) {
        row.assign(&draw.row(0));
    }
    let trained = Lc2st::train(theta, x, q_theta.view(), config)?;
    let seed = substream(config.seed, u64::MAX - 1).next_u64();
    let samples = posterior.sample(evaluation_samples, observation, seed, options)?;
    trained.test(observation, samples.theta.view())
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};
    use rand_distr::{Distribution as _, StandardNormal};

    use super::*;
    use crate::inference::PosteriorSamples;
    use crate::rng::seeded;

    /// Observation noise of x = θ + σ ε, θ ~ N(0, 1) (one parameter, one datum):
    /// p(θ | x) = N(x / (1 + σ²), σ² / (1 + σ²)).
    const SIGMA: f64 = 0.5;

    /// The exact posterior, or a wrong one: mean shifted by `shift` posterior standard
    /// deviations and standard deviation multiplied by `scale`.
    struct Gaussian {
        shift: f64,
        scale: f64,
    }

    impl Posterior for Gaussian {
        fn parameter_dim(&self) -> usize {
            1
        }
        fn data_dim(&self) -> usize {
            1
        }
        fn sample(&self, n: usize, x: ArrayView1<f64>, seed: u64, _: &SampleOptions) -> Result<PosteriorSamples> {
            let shrink = 1.0 / (1.0 + SIGMA * SIGMA);
            let std = SIGMA * shrink.sqrt();
            let mut rng = seeded(seed);
            let theta = Array2::from_shape_simple_fn((n, 1), || {
                let e: f64 = StandardNormal.sample(&mut rng);
                x[0] * shrink + std * (self.shift + self.scale * e)
            });
            Ok(PosteriorSamples { theta, acceptance_rate: 1.0, seconds: 0.0, warnings: Vec::new() })
        }
        fn log_prob(&self, theta: ArrayView2<f64>, _: ArrayView1<f64>) -> Result<Array1<f64>> {
            Ok(Array1::zeros(theta.nrows()))
        }
    }

    fn joint(n: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
        let mut rng = seeded(seed);
        let theta: Array2<f64> = Array2::from_shape_simple_fn((n, 1), || StandardNormal.sample(&mut rng));
        let noise: Array2<f64> = Array2::from_shape_simple_fn((n, 1), || StandardNormal.sample(&mut rng));
        let x = &theta + &(noise * SIGMA);
        (theta, x)
    }

    #[test]
    fn exact_posterior_passes_and_wrong_ones_fail() {
        let (theta, x) = joint(600, 3);
        let observation = Array1::from(vec![0.8]);
        let config = Lc2stConfig { null_trials: 24, hidden_per_dim: 5, max_epochs: 300, seed: 7 };
        let options = SampleOptions::default();
        let run = |shift: f64, scale: f64| {
            lc2st(&Gaussian { shift, scale }, theta.view(), x.view(), observation.view(), 1000, &config, &options)
                .unwrap()
        };
        let exact = run(0.0, 1.0);
        eprintln!("L-C2ST exact posterior: T = {:.2e}, p = {:.3}", exact.statistic, exact.p_value);
        assert_eq!(exact.null_statistics.len(), 24);
        assert_eq!(exact.probabilities.len(), 1000);
        assert!(!exact.rejects(0.05), "exact posterior rejected: T = {}, p = {}", exact.statistic, exact.p_value);
        for (shift, scale) in [(1.0, 1.0), (0.0, 0.4)] {
            let wrong = run(shift, scale);
            eprintln!("L-C2ST shift {shift}, scale {scale}: T = {:.2e}, p = {:.3}", wrong.statistic, wrong.p_value);
            assert!(
                wrong.rejects(0.05) && wrong.statistic > 2.0 * exact.statistic,
                "shift {shift}, scale {scale}: T = {} (exact {}), p = {}",
                wrong.statistic,
                exact.statistic,
                wrong.p_value
            );
        }
    }

    #[test]
    fn bad_inputs_are_reported() {
        let (theta, x) = joint(10, 1);
        let config = Lc2stConfig { null_trials: 1, max_epochs: 5, ..Default::default() };
        let err = Lc2st::train(theta.view(), x.view(), theta.slice(ndarray::s![..5, ..]), &config).unwrap_err();
        assert!(err.to_string().contains("posterior draws"), "{err}");
        let mut bad = theta.clone();
        bad[[3, 0]] = f64::NAN;
        let err = Lc2st::train(theta.view(), x.view(), bad.view(), &config).unwrap_err();
        assert!(err.to_string().contains("row 3"), "{err}");
        let trained = Lc2st::train(theta.view(), x.view(), theta.view(), &config).unwrap();
        let err = trained.test(Array1::from(vec![0.0, 1.0]).view(), theta.view()).unwrap_err();
        assert!(err.to_string().contains("observation of 1 values"), "{err}");
        // Same seed, same classifiers.
        let again = Lc2st::train(theta.view(), x.view(), theta.view(), &config).unwrap();
        let observation = Array1::from(vec![0.3]);
        let (a, b) =
            (trained.test(observation.view(), x.view()).unwrap(), again.test(observation.view(), x.view()).unwrap());
        assert_eq!((a.statistic, a.null_statistics), (b.statistic, b.null_statistics));
    }
}
