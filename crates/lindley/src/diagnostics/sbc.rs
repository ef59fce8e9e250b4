//! Calibration diagnostics: should a posterior be trusted across the observations it will see?
//!
//! All three checks draw N pairs (θᵢ, xᵢ) from the joint p(θ) p(x | θ), L posterior samples
//! θᵢ₁ … θᵢL ~ q(θ | xᵢ) for each xᵢ, and ask where θᵢ falls among its samples. If q is the true
//! posterior, θᵢ is just one more draw from it, so its position is uniform:
//!
//! - [`sbc_ranks`]: simulation-based calibration (Talts et al. 2018, "Validating Bayesian
//!   inference algorithms with simulation-based calibration"): per dimension d the rank
//!   rᵢ = #{j : θᵢⱼ,d < θᵢ,d} ∈ {0, …, L} is uniform; tested by Kolmogorov–Smirnov.
//! - [`expected_coverage`]: coverage of highest-posterior-density regions (Hermans et al. 2022,
//!   "A trust crisis in simulation-based inference?"): the credibility of the smallest HPD region
//!   that contains θᵢ is fᵢ = #{j : log q(θᵢⱼ | xᵢ) > log q(θᵢ | xᵢ)} / L; the empirical coverage
//!   ECP(α) = #{i : fᵢ < α} / N equals α for a calibrated posterior, lies below the diagonal for
//!   an over-confident one and above it for an under-confident one.
//! - [`tarp`]: tests of accuracy with random points (Lemos et al. 2023, "Sampling-based accuracy
//!   testing of posterior estimators for general inference"): for a random reference point θᵣ,ᵢ,
//!   fᵢ = #{j : ‖θᵢⱼ − θᵣ,ᵢ‖ < ‖θᵢ − θᵣ,ᵢ‖} / L, with ECP(α) as above; needs no density.
//!
//! [`sbc`] draws the samples and computes the ranks; [`posterior_samples`] draws them once so that
//! all three checks can share them.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::Rng;

use super::c2st::{C2stConfig, c2st};
use crate::inference::{Posterior, SampleOptions};
use crate::rng::{seeded, substream};
use crate::{Error, Result};

/// Settings of [`sbc`].
#[derive(Clone, Debug)]
pub struct SbcConfig {
    /// Posterior samples L per observation.
    pub posterior_samples: usize,
    /// Seed of the posterior samples (and of the uniform reference sample of the rank C2ST).
    pub seed: u64,
    /// Limits on posterior sampling.
    pub sample_options: SampleOptions,
    /// Also run a classifier two-sample test of each dimension's ranks against uniform ranks
    /// (as in the `sbi` package's `run_sbc`); 0.5 = indistinguishable from uniform.
    pub c2st_ranks: bool,
}

impl Default for SbcConfig {
    fn default() -> Self {
        Self { posterior_samples: 100, seed: 0, sample_options: SampleOptions::default(), c2st_ranks: false }
    }
}

/// The result of simulation-based calibration.
#[derive(Clone, Debug)]
pub struct SbcResult {
    /// Rank of θᵢ,d among the L samples of dimension d, `[N, D]`, each in {0, …, L}.
    pub ranks: Array2<usize>,
    /// L, the number of posterior samples per observation (ranks lie in 0..=L).
    pub posterior_samples: usize,
    /// Kolmogorov–Smirnov distance per dimension between the ranks' empirical distribution and
    /// the discrete uniform distribution on {0, …, L}.
    pub ks_statistics: Vec<f64>,
    /// p-value of that distance per dimension under uniformity (Kolmogorov distribution with
    /// n = N; conservative for discrete ranks). Small values mean miscalibration.
    pub ks_pvalues: Vec<f64>,
    /// C2ST accuracy per dimension of the ranks against uniform ranks, when requested.
    pub c2st_ranks: Option<Vec<f64>>,
}

/// An empirical coverage curve (from [`expected_coverage`] or [`tarp`]).
#[derive(Clone, Debug)]
pub struct CoverageResult {
    /// Credibility levels α, evenly spaced from 0 to 1.
    pub levels: Vec<f64>,
    /// Empirical coverage ECP(α) = #{i : fᵢ < α} / N at each level (1 at α = 1).
    pub coverage: Vec<f64>,
    /// Per simulation i, the count L·fᵢ of samples "inside" θᵢ (a rank in {0, …, L}).
    pub counts: Vec<usize>,
    /// L, the number of posterior samples per observation.
    pub posterior_samples: usize,
    /// Area to curve: ∫₀¹ (ECP(α) − α) dα by the trapezoid rule; negative means over-confident,
    /// positive under-confident, 0 calibrated.
    pub atc: f64,
    /// Kolmogorov–Smirnov distance between the distribution of the counts and the discrete
    /// uniform distribution on {0, …, L} (≈ max |ECP(α) − α|).
    pub ks_statistic: f64,
    /// p-value of that distance under calibration (Kolmogorov distribution, n = N).
    pub ks_pvalue: f64,
}

/// Draw `l` posterior samples for every row of `x` (via [`Posterior::sample_many`], which batches
/// observations where the posterior can), checking shapes first.
pub fn posterior_samples<P: Posterior + ?Sized>(
    posterior: &P,
    x: ArrayView2<f64>,
    l: usize,
    seed: u64,
    options: &SampleOptions,
) -> Result<Vec<Array2<f64>>> {
    if l == 0 {
        return Err(Error::InvalidInput("calibration: the number of posterior samples L must be at least 1".into()));
    }
    if x.nrows() == 0 {
        return Err(Error::InvalidInput("calibration: no simulations (x has 0 rows)".into()));
    }
    if x.ncols() != posterior.data_dim() {
        return Err(Error::shape(
            "calibration data x",
            format!("{} columns (the posterior's data dimension)", posterior.data_dim()),
            format!("{} columns", x.ncols()),
        ));
    }
    let samples = posterior.sample_many(l, x, seed, options)?;
    if samples.len() != x.nrows() || samples.iter().any(|s| s.nrows() != l) {
        return Err(Error::Sampling(format!("calibration: the posterior did not return {l} samples per observation")));
    }
    Ok(samples)
}

/// Simulation-based calibration of `posterior` on the joint draws (`theta[i]`, `x[i]`): draws
/// `config.posterior_samples` samples per row of `x` and computes [`sbc_ranks`].
pub fn sbc<P: Posterior + ?Sized>(
    posterior: &P,
    theta: ArrayView2<f64>,
    x: ArrayView2<f64>,
    config: &SbcConfig,
) -> Result<SbcResult> {
    check_pairs(theta, x, posterior.parameter_dim())?;
    let samples = posterior_samples(posterior, x, config.posterior_samples, config.seed, &config.sample_options)?;
    let mut result = sbc_ranks(theta, &samples)?;
    if config.c2st_ranks {
        result.c2st_ranks = Some(rank_c2st(&result, config.seed)?);
    }
    Ok(result)
}

/// SBC ranks and their per-dimension uniformity test from posterior samples already drawn:
/// `samples[i]` (`[L, D]`) are the samples for the observation simulated from `theta[i]`.
pub fn sbc_ranks(theta: ArrayView2<f64>, samples: &[Array2<f64>]) -> Result<SbcResult> {
    let l = check_samples(theta, samples)?;
    let (n, dim) = theta.dim();
    let mut ranks = Array2::<usize>::zeros((n, dim));
    for (i, sample) in samples.iter().enumerate() {
        for d in 0..dim {
            ranks[[i, d]] = sample.column(d).iter().filter(|&&v| v < theta[[i, d]]).count();
        }
    }
    let mut ks_statistics = Vec::with_capacity(dim);
    let mut ks_pvalues = Vec::with_capacity(dim);
    for d in 0..dim {
        let column: Vec<usize> = ranks.column(d).to_vec();
        let statistic = discrete_uniform_ks(&column, l);
        ks_statistics.push(statistic);
        ks_pvalues.push(kolmogorov_pvalue(statistic, n));
    }
    Ok(SbcResult { ranks, posterior_samples: l, ks_statistics, ks_pvalues, c2st_ranks: None })
}

/// C2ST per dimension between the normalised ranks r/L and as many uniform ranks.
fn rank_c2st(result: &SbcResult, seed: u64) -> Result<Vec<f64>> {
    let (n, dim) = result.ranks.dim();
    let l = result.posterior_samples;
    let mut rng = seeded(seed ^ 0x5bc);
    (0..dim)
        .map(|d| {
            let ranks = result.ranks.column(d).mapv(|r| r as f64 / l as f64).insert_axis(Axis(1));
            let uniform = Array2::from_shape_fn((n, 1), |_| rng.random_range(0..=l) as f64 / l as f64);
            c2st(ranks.view(), uniform.view(), &C2stConfig { seed, ..Default::default() })
        })
        .collect()
}

/// Expected coverage of highest-posterior-density regions, from samples already drawn
/// (`samples[i]` for the observation `x[i]` simulated from `theta[i]`), evaluated at `levels`
/// evenly spaced credibility levels (at least 2). Uses [`Posterior::log_prob`] once per
/// observation, on θᵢ and its samples together, so any constant in log q cancels.
pub fn expected_coverage<P: Posterior + ?Sized>(
    posterior: &P,
    theta: ArrayView2<f64>,
    x: ArrayView2<f64>,
    samples: &[Array2<f64>],
    levels: usize,
) -> Result<CoverageResult> {
    check_pairs(theta, x, posterior.parameter_dim())?;
    let l = check_samples(theta, samples)?;
    let mut counts = Vec::with_capacity(theta.nrows());
    for (i, sample) in samples.iter().enumerate() {
        let mut points = Array2::<f64>::zeros((l + 1, theta.ncols()));
        points.row_mut(0).assign(&theta.row(i));
        points.slice_mut(ndarray::s![1.., ..]).assign(sample);
        let log_prob = posterior.log_prob(points.view(), x.row(i))?;
        if log_prob.len() != l + 1 || log_prob.iter().any(|v| v.is_nan()) {
            return Err(Error::InvalidInput(format!(
                "expected coverage: the posterior's log-density for simulation {i} is NaN or has the wrong length"
            )));
        }
        counts.push(log_prob.iter().skip(1).filter(|&&v| v > log_prob[0]).count());
    }
    coverage_from_counts(counts, l, levels)
}

/// TARP coverage (Lemos et al. 2023) from samples already drawn, at `levels` evenly spaced
/// credibility levels. Parameters and samples are standardised by the mean and standard deviation
/// of all samples per dimension; reference point i is uniform in the bounding box of the
/// standardised samples (seeded by `substream(seed, i)`); distances are Euclidean.
pub fn tarp(theta: ArrayView2<f64>, samples: &[Array2<f64>], levels: usize, seed: u64) -> Result<CoverageResult> {
    let l = check_samples(theta, samples)?;
    let dim = theta.ncols();
    let total = (samples.len() * l) as f64;
    let mut mean = Array1::<f64>::zeros(dim);
    let (mut low, mut high) = (vec![f64::INFINITY; dim], vec![f64::NEG_INFINITY; dim]);
    for sample in samples {
        mean += &sample.sum_axis(Axis(0));
    }
    mean /= total;
    let mut scale = Array1::<f64>::zeros(dim);
    for sample in samples {
        for row in sample.rows() {
            for d in 0..dim {
                scale[d] += (row[d] - mean[d]).powi(2);
            }
        }
    }
    scale.mapv_inplace(|s| (s / total).sqrt().max(1e-12));
    for sample in samples {
        for row in sample.rows() {
            for d in 0..dim {
                let z = (row[d] - mean[d]) / scale[d];
                low[d] = low[d].min(z);
                high[d] = high[d].max(z);
            }
        }
    }
    let standardise = |row: ArrayView1<f64>| -> Vec<f64> { (0..dim).map(|d| (row[d] - mean[d]) / scale[d]).collect() };
    let distance = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(u, v)| (u - v).powi(2)).sum::<f64>() };
    let mut counts = Vec::with_capacity(samples.len());
    for (i, sample) in samples.iter().enumerate() {
        let mut rng = substream(seed, i as u64);
        let reference: Vec<f64> = (0..dim).map(|d| low[d] + (high[d] - low[d]) * rng.random::<f64>()).collect();
        let truth = distance(&standardise(theta.row(i)), &reference);
        counts.push(sample.rows().into_iter().filter(|row| distance(&standardise(*row), &reference) < truth).count());
    }
    coverage_from_counts(counts, l, levels)
}

/// The coverage curve, its area to curve and its KS test from per-simulation counts in 0..=L.
fn coverage_from_counts(counts: Vec<usize>, l: usize, levels: usize) -> Result<CoverageResult> {
    if levels < 2 {
        return Err(Error::InvalidInput(format!("coverage: need at least 2 credibility levels, got {levels}")));
    }
    let n = counts.len() as f64;
    let grid: Vec<f64> = (0..levels).map(|k| k as f64 / (levels - 1) as f64).collect();
    let coverage: Vec<f64> = grid
        .iter()
        .map(|&alpha| {
            if alpha >= 1.0 {
                1.0
            } else {
                counts.iter().filter(|&&c| (c as f64) / (l as f64) < alpha).count() as f64 / n
            }
        })
        .collect();
    let step = 1.0 / (levels - 1) as f64;
    let atc = grid
        .windows(2)
        .zip(coverage.windows(2))
        .map(|(a, c)| 0.5 * ((c[0] - a[0]) + (c[1] - a[1])) * step)
        .sum::<f64>();
    let ks_statistic = discrete_uniform_ks(&counts, l);
    let ks_pvalue = kolmogorov_pvalue(ks_statistic, counts.len());
    Ok(CoverageResult { levels: grid, coverage, counts, posterior_samples: l, atc, ks_statistic, ks_pvalue })
}

/// Checks that `theta` and `x` have the same, non-zero number of rows, `theta` has
/// `parameter_dim` columns and both are finite.
fn check_pairs(theta: ArrayView2<f64>, x: ArrayView2<f64>, parameter_dim: usize) -> Result<()> {
    if theta.nrows() != x.nrows() {
        return Err(Error::shape(
            "calibration pairs",
            format!("as many rows of x as of θ ({})", theta.nrows()),
            format!("{} rows", x.nrows()),
        ));
    }
    if theta.ncols() != parameter_dim {
        return Err(Error::shape(
            "calibration parameters θ",
            format!("{parameter_dim} columns (the posterior's parameter dimension)"),
            format!("{} columns", theta.ncols()),
        ));
    }
    super::check_finite("calibration", "θ", theta)?;
    super::check_finite("calibration", "x", x)
}

/// Checks that there is one finite `[L, D]` sample per row of `theta`, with L ≥ 1 the same for
/// all, and returns L.
fn check_samples(theta: ArrayView2<f64>, samples: &[Array2<f64>]) -> Result<usize> {
    if theta.nrows() == 0 || theta.ncols() == 0 {
        return Err(Error::InvalidInput(format!(
            "calibration: θ must have at least one row and one column, got {} × {}",
            theta.nrows(),
            theta.ncols()
        )));
    }
    if samples.len() != theta.nrows() {
        return Err(Error::shape(
            "calibration samples",
            format!("one sample set per row of θ ({})", theta.nrows()),
            format!("{} sets", samples.len()),
        ));
    }
    super::check_finite("calibration", "θ", theta)?;
    let l = samples[0].nrows();
    if l == 0 {
        return Err(Error::InvalidInput("calibration: posterior sample sets are empty (L = 0)".into()));
    }
    for (i, sample) in samples.iter().enumerate() {
        if sample.dim() != (l, theta.ncols()) {
            return Err(Error::shape(
                format!("calibration sample set {i}"),
                format!("{l} × {}", theta.ncols()),
                format!("{} × {}", sample.nrows(), sample.ncols()),
            ));
        }
        super::check_finite("calibration", &format!("set {i}"), sample.view())?;
    }
    Ok(l)
}

/// sup |F̂(k) − (k + 1)/(L + 1)| over k ∈ {0, …, L}: the KS distance between the empirical
/// distribution of `values` (each in 0..=L) and the discrete uniform distribution on {0, …, L}.
/// Both are step functions with jumps at the integers, so the supremum is attained there.
fn discrete_uniform_ks(values: &[usize], l: usize) -> f64 {
    let mut histogram = vec![0usize; l + 1];
    for &v in values {
        histogram[v.min(l)] += 1;
    }
    let n = values.len() as f64;
    let mut cumulative = 0usize;
    let mut worst = 0.0f64;
    for (k, count) in histogram.iter().enumerate() {
        cumulative += count;
        worst = worst.max((cumulative as f64 / n - (k + 1) as f64 / (l + 1) as f64).abs());
    }
    worst
}

/// P(Dₙ ≥ d) for the one-sample Kolmogorov–Smirnov statistic Dₙ of n observations from a
/// continuous distribution. Exact (Marsaglia, Tsang & Wang 2003, "Evaluating Kolmogorov's
/// distribution") for n ≤ 10,000 and n·d ≤ 300 when the result is not far in the tail;
/// otherwise the asymptotic Kolmogorov series with Stephens' (1970) finite-n correction.
pub fn kolmogorov_pvalue(d: f64, n: usize) -> f64 {
    if n == 0 || d.is_nan() {
        return f64::NAN;
    }
    if d <= 0.0 {
        return 1.0;
    }
    if d >= 1.0 {
        return 0.0;
    }
    let nf = n as f64;
    let tail = nf * d * d;
    if n <= 10_000 && nf * d <= 300.0 && tail < 7.24 && !(tail > 3.76 && n > 99) {
        return (1.0 - kolmogorov_cdf_exact(d, n)).clamp(0.0, 1.0);
    }
    let lambda = (nf.sqrt() + 0.12 + 0.11 / nf.sqrt()) * d;
    kolmogorov_tail(lambda)
}

/// Q(λ) = 2 Σⱼ≥₁ (−1)^(j−1) exp(−2 j² λ²): the limiting P(√n Dₙ ≥ λ).
fn kolmogorov_tail(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for j in 1..=100 {
        let term = (-2.0 * (j * j) as f64 * lambda * lambda).exp();
        sum += if j % 2 == 1 { term } else { -term };
        if term < 1e-17 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// P(Dₙ < d) by Marsaglia, Tsang & Wang (2003): with k = ⌊n d⌋ + 1, m = 2k − 1 and
/// h = k − n d, the probability is n!/nⁿ · (Hⁿ)ₖₖ for an m × m matrix H with entries
/// 1/(i − j + 1)! (i − j + 1 ≥ 0), corrected in the first column and last row by powers of h.
/// The matrix power is kept in range by rescaling, tracked in log space.
fn kolmogorov_cdf_exact(d: f64, n: usize) -> f64 {
    let nf = n as f64;
    let k = (nf * d).floor() as usize + 1;
    let m = 2 * k - 1;
    let h = k as f64 - nf * d;
    let mut matrix = vec![0.0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            if i + 1 >= j {
                matrix[i * m + j] = 1.0;
            }
        }
    }
    for i in 0..m {
        matrix[i * m] -= h.powi(i as i32 + 1);
        matrix[(m - 1) * m + i] -= h.powi((m - i) as i32);
    }
    if 2.0 * h - 1.0 > 0.0 {
        matrix[(m - 1) * m] += (2.0 * h - 1.0).powi(m as i32);
    }
    for i in 0..m {
        for j in 0..m {
            if i + 1 > j {
                let factorial: f64 = (1..=(i + 1 - j)).map(|g| g as f64).product();
                matrix[i * m + j] /= factorial;
            }
        }
    }
    let (power, log_scale) = matrix_power(&matrix, m, n);
    let entry = power[(k - 1) * m + (k - 1)];
    if entry <= 0.0 {
        return 0.0;
    }
    let log_p = entry.ln() + log_scale + libm::lgamma(nf + 1.0) - nf * nf.ln();
    log_p.exp().min(1.0)
}

/// `matrix`ⁿ (m × m, row-major) by repeated squaring, as (M, s) with the power = M · exp(s).
fn matrix_power(matrix: &[f64], m: usize, n: usize) -> (Vec<f64>, f64) {
    let multiply = |a: &[f64], b: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; m * m];
        for i in 0..m {
            for t in 0..m {
                let a_it = a[i * m + t];
                if a_it != 0.0 {
                    for j in 0..m {
                        out[i * m + j] += a_it * b[t * m + j];
                    }
                }
            }
        }
        out
    };
    let rescale = |values: &mut Vec<f64>, log_scale: &mut f64| {
        let largest = values.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
        if largest > 1e100 || (largest > 0.0 && largest < 1e-100) {
            values.iter_mut().for_each(|v| *v /= largest);
            *log_scale += largest.ln();
        }
    };
    let mut result: Option<(Vec<f64>, f64)> = None;
    let (mut base, mut base_scale) = (matrix.to_vec(), 0.0);
    let mut exponent = n;
    while exponent > 0 {
        if exponent & 1 == 1 {
            result = Some(match result {
                None => (base.clone(), base_scale),
                Some((r, s)) => {
                    let (mut product, mut scale) = (multiply(&r, &base), s + base_scale);
                    rescale(&mut product, &mut scale);
                    (product, scale)
                }
            });
        }
        exponent >>= 1;
        if exponent > 0 {
            base = multiply(&base, &base);
            base_scale *= 2.0;
            rescale(&mut base, &mut base_scale);
        }
    }
    result.expect("n ≥ 1")
}

#[cfg(test)]
mod tests;
