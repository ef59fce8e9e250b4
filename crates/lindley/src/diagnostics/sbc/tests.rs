//! Calibration checks against an exact Gaussian posterior (must pass) and a deliberately
//! over-confident one (must fail), plus the Kolmogorov distribution and bad inputs.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand_distr::{Distribution as _, StandardNormal};

use super::*;
use crate::inference::PosteriorSamples;

/// Observation noise σ of the model x = θ + σ ε, θ ~ N(0, I): p(θ | x) = N(x / (1 + σ²), σ²/(1 + σ²) I).
const SIGMA: f64 = 0.7;
const DIM: usize = 2;

/// The exact posterior of the model above with its variance multiplied by `variance_factor`
/// (1 = exact, 0.25 = over-confident).
struct GaussianPosterior {
    variance_factor: f64,
}

impl GaussianPosterior {
    fn moments(&self, observation: ArrayView1<f64>) -> (Array1<f64>, f64) {
        let shrink = 1.0 / (1.0 + SIGMA * SIGMA);
        (observation.mapv(|v| v * shrink), (SIGMA * SIGMA * shrink * self.variance_factor).sqrt())
    }
}

impl Posterior for GaussianPosterior {
    fn parameter_dim(&self) -> usize {
        DIM
    }
    fn data_dim(&self) -> usize {
        DIM
    }
    fn sample(&self, n: usize, observation: ArrayView1<f64>, seed: u64, _: &SampleOptions) -> Result<PosteriorSamples> {
        let (mean, std) = self.moments(observation);
        let mut rng = seeded(seed);
        let theta = Array2::from_shape_fn((n, DIM), |(_, d)| {
            let e: f64 = StandardNormal.sample(&mut rng);
            mean[d] + std * e
        });
        Ok(PosteriorSamples { theta, acceptance_rate: 1.0, seconds: 0.0, warnings: Vec::new() })
    }
    fn log_prob(&self, theta: ArrayView2<f64>, observation: ArrayView1<f64>) -> Result<Array1<f64>> {
        let (mean, std) = self.moments(observation);
        Ok(theta.rows().into_iter().map(|row| -0.5 * ((&row - &mean) / std).mapv(|z| z * z).sum()).collect())
    }
}

/// N joint draws (θ, x) of the model.
fn joint(n: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = seeded(seed);
    let theta = Array2::from_shape_fn((n, DIM), |_| StandardNormal.sample(&mut rng));
    let noise: Array2<f64> = Array2::from_shape_fn((n, DIM), |_| StandardNormal.sample(&mut rng));
    let x = &theta + &(noise * SIGMA);
    (theta, x)
}

fn config() -> SbcConfig {
    SbcConfig { posterior_samples: 100, seed: 5, ..Default::default() }
}

#[test]
fn exact_posterior_has_uniform_ranks() {
    let (theta, x) = joint(500, 1);
    let result = sbc(&GaussianPosterior { variance_factor: 1.0 }, theta.view(), x.view(), &config()).unwrap();
    assert_eq!(result.ranks.dim(), (500, DIM));
    assert!(result.ranks.iter().all(|&r| r <= 100));
    for (d, p) in result.ks_pvalues.iter().enumerate() {
        assert!(*p > 0.01, "dimension {d}: KS p = {p} (D = {})", result.ks_statistics[d]);
    }
    // Mean rank of a uniform rank on {0..100} is 50.
    let mean_rank = result.ranks.iter().sum::<usize>() as f64 / result.ranks.len() as f64;
    assert!((mean_rank - 50.0).abs() < 3.0, "mean rank {mean_rank}");
}

#[test]
fn overconfident_posterior_fails_sbc() {
    let (theta, x) = joint(500, 1);
    let result = sbc(&GaussianPosterior { variance_factor: 0.25 }, theta.view(), x.view(), &config()).unwrap();
    for (d, p) in result.ks_pvalues.iter().enumerate() {
        assert!(*p < 1e-3, "dimension {d}: KS p = {p}");
    }
    // Over-confidence piles ranks at both ends: uniform ranks put 20% in the outer 10% on each
    // side; with the standard deviation halved, rank/L ≈ Φ(2z), so that fraction is 2·Φ(−0.64) ≈ 0.52.
    let extreme = result.ranks.iter().filter(|&&r| !(10..=90).contains(&r)).count() as f64 / result.ranks.len() as f64;
    assert!(extreme > 0.4, "fraction of extreme ranks {extreme}");
}

#[test]
fn coverage_is_diagonal_for_the_exact_posterior_and_below_for_an_overconfident_one() {
    let (theta, x) = joint(500, 2);
    for (factor, calibrated) in [(1.0, true), (0.25, false)] {
        let posterior = GaussianPosterior { variance_factor: factor };
        let samples = posterior_samples(&posterior, x.view(), 100, 9, &SampleOptions::default()).unwrap();
        let hpd = expected_coverage(&posterior, theta.view(), x.view(), &samples, 21).unwrap();
        let tarp_result = tarp(theta.view(), &samples, 21, 4).unwrap();
        assert_eq!(hpd.levels.len(), 21);
        assert_eq!(hpd.coverage[20], 1.0);
        if calibrated {
            assert!(hpd.ks_pvalue > 0.01, "HPD KS p {}", hpd.ks_pvalue);
            assert!(hpd.atc.abs() < 0.03, "HPD ATC {}", hpd.atc);
            assert!((hpd.coverage[10] - 0.5).abs() < 0.07, "ECP(0.5) = {}", hpd.coverage[10]);
            assert!(tarp_result.ks_pvalue > 0.01, "TARP KS p {}", tarp_result.ks_pvalue);
            assert!(tarp_result.atc.abs() < 0.03, "TARP ATC {}", tarp_result.atc);
        } else {
            assert!(hpd.ks_pvalue < 1e-3, "HPD KS p {}", hpd.ks_pvalue);
            assert!(hpd.atc < -0.1, "HPD ATC {}", hpd.atc);
            // In 2-D, θ is inside the exact α-HPD ellipse iff |z|² < −2 ln(1 − α); with the
            // variance quartered, ECP(0.5) = P(χ²₂ < 2 ln 2 / 4) = 1 − 2^(−1/4) ≈ 0.16.
            assert!((hpd.coverage[10] - 0.16).abs() < 0.06, "ECP(0.5) = {}", hpd.coverage[10]);
            assert!(hpd.coverage.iter().zip(&hpd.levels).skip(1).take(19).all(|(c, a)| c < a));
            assert!(tarp_result.ks_pvalue < 1e-3, "TARP KS p {}", tarp_result.ks_pvalue);
            // TARP's curve for a shrunken posterior is S-shaped around the diagonal, so its area
            // is small; the KS distance is what detects it.
            assert!(tarp_result.atc < 0.0, "TARP ATC {}", tarp_result.atc);
            assert!(tarp_result.ks_statistic > 0.15, "TARP KS D {}", tarp_result.ks_statistic);
        }
    }
}

#[test]
fn calibration_is_reproducible_from_the_seed() {
    let (theta, x) = joint(50, 3);
    let posterior = GaussianPosterior { variance_factor: 1.0 };
    let a = sbc(&posterior, theta.view(), x.view(), &config()).unwrap();
    let b = sbc(&posterior, theta.view(), x.view(), &config()).unwrap();
    let c = sbc(&posterior, theta.view(), x.view(), &SbcConfig { seed: 6, ..config() }).unwrap();
    assert_eq!(a.ranks, b.ranks);
    assert_eq!(a.ks_pvalues, b.ks_pvalues);
    assert_ne!(a.ranks, c.ranks);
    let samples = posterior_samples(&posterior, x.view(), 50, 1, &SampleOptions::default()).unwrap();
    let t1 = tarp(theta.view(), &samples, 11, 2).unwrap();
    let t2 = tarp(theta.view(), &samples, 11, 2).unwrap();
    assert_eq!(t1.counts, t2.counts);
}

#[test]
fn rank_c2st_is_near_chance_for_the_exact_posterior() {
    let (theta, x) = joint(300, 4);
    let config = SbcConfig { c2st_ranks: true, ..config() };
    let result = sbc(&GaussianPosterior { variance_factor: 1.0 }, theta.view(), x.view(), &config).unwrap();
    let scores = result.c2st_ranks.unwrap();
    assert_eq!(scores.len(), DIM);
    assert!(scores.iter().all(|s| (0.35..0.65).contains(s)), "rank C2ST {scores:?}");
}

#[test]
fn kolmogorov_distribution_matches_published_values() {
    // Marsaglia, Tsang & Wang (2003): P(D₁₀ < 0.274) = 0.6284796154565043.
    assert!((kolmogorov_cdf_exact(0.274, 10) - 0.628_479_615_456_504_3).abs() < 1e-12);
    // n = 1: P(D₁ < d) = 2d − 1 for d ∈ [1/2, 1].
    assert!((kolmogorov_cdf_exact(0.8, 1) - 0.6).abs() < 1e-12);
    // Asymptotic critical values: Q(1.358) ≈ 0.05, Q(1.628) ≈ 0.01.
    assert!((kolmogorov_tail(1.358) - 0.05).abs() < 1e-3);
    assert!((kolmogorov_tail(1.628) - 0.01).abs() < 2e-4);
    // Exact and asymptotic agree for large n.
    let exact = 1.0 - kolmogorov_cdf_exact(0.04, 1000);
    let asymptotic = kolmogorov_tail((1000f64.sqrt() + 0.12 + 0.11 / 1000f64.sqrt()) * 0.04);
    assert!((exact - asymptotic).abs() < 2e-3, "{exact} vs {asymptotic}");
    assert_eq!(kolmogorov_pvalue(0.0, 10), 1.0);
    assert!(kolmogorov_pvalue(0.9, 500) < 1e-100);
}

#[test]
fn discrete_ks_is_zero_for_perfectly_uniform_ranks() {
    let values: Vec<usize> = (0..=9).cycle().take(100).collect();
    assert!(discrete_uniform_ks(&values, 9) < 1e-12);
    let all_zero = vec![0usize; 100];
    assert!((discrete_uniform_ks(&all_zero, 9) - 0.9).abs() < 1e-12);
}

#[test]
fn bad_inputs_are_refused_with_errors() {
    let posterior = GaussianPosterior { variance_factor: 1.0 };
    let (theta, x) = joint(10, 5);
    let short_x = x.slice(ndarray::s![..5, ..]).to_owned();
    assert!(matches!(sbc(&posterior, theta.view(), short_x.view(), &config()), Err(Error::Shape { .. })));
    let zero_l = SbcConfig { posterior_samples: 0, ..config() };
    assert!(matches!(sbc(&posterior, theta.view(), x.view(), &zero_l), Err(Error::InvalidInput(_))));
    let mut nan_theta = theta.clone();
    nan_theta[[3, 1]] = f64::NAN;
    let error = sbc(&posterior, nan_theta.view(), x.view(), &config()).unwrap_err();
    assert!(error.to_string().contains("row 3 column 1"), "{error}");
    let empty = Array2::<f64>::zeros((0, DIM));
    assert!(sbc(&posterior, empty.view(), empty.view(), &config()).is_err());
    let samples = posterior_samples(&posterior, x.view(), 20, 0, &SampleOptions::default()).unwrap();
    assert!(matches!(tarp(theta.view(), &samples[..4], 11, 0), Err(Error::Shape { .. })));
    assert!(matches!(tarp(theta.view(), &samples, 1, 0), Err(Error::InvalidInput(_))));
    let mut nan_samples = samples.clone();
    nan_samples[2][[0, 0]] = f64::INFINITY;
    assert!(sbc_ranks(theta.view(), &nan_samples).is_err());
}
