use ndarray::{Array1, Array2, ArrayView2, array};
use rand::Rng;
use rand_distr::StandardNormal;

use super::*;
use crate::rng::LindleyRng;

/// N(mean, covariance) given by its mean and precision matrix.
struct Gaussian {
    mean: Array1<f64>,
    precision: Array2<f64>,
}

impl LogDensity for Gaussian {
    fn dim(&self) -> usize {
        self.mean.len()
    }
    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        let centred = &theta - &self.mean;
        let projected = centred.dot(&self.precision);
        Ok((&centred * &projected).sum_axis(Axis(1)) * -0.5)
    }
    /// ∇ log π = −P (θ − μ).
    fn gradient(&self, theta: ArrayView2<f64>) -> Option<Result<(Array1<f64>, Array2<f64>)>> {
        let centred = &theta - &self.mean;
        let projected = centred.dot(&self.precision);
        Some(Ok(((&centred * &projected).sum_axis(Axis(1)) * -0.5, -projected)))
    }
}

/// Correlated 2-D Gaussian (ρ = 0.8, unit variances, mean (1, −1)) and its covariance.
fn correlated_2d() -> (Gaussian, Array2<f64>) {
    let rho = 0.8;
    let cov = array![[1.0, rho], [rho, 1.0]];
    let precision = array![[1.0, -rho], [-rho, 1.0]] / (1.0 - rho * rho);
    (Gaussian { mean: array![1.0, -1.0], precision }, cov)
}

/// 5-D Gaussian with standard deviations 0.1 … 3 and its covariance.
fn scaled_5d() -> (Gaussian, Array2<f64>) {
    let std = [0.1, 0.5, 1.0, 2.0, 3.0];
    let cov = Array2::from_diag(&Array1::from_iter(std.iter().map(|s| s * s)));
    let precision = Array2::from_diag(&Array1::from_iter(std.iter().map(|s| 1.0 / (s * s))));
    (Gaussian { mean: array![0.5, -1.0, 2.0, 0.0, 1.0], precision }, cov)
}

fn broad_normal(dim: usize) -> impl Fn(usize, &mut LindleyRng) -> Array2<f64> {
    move |n, rng| Array2::from_shape_fn((n, dim), |_| 3.0 * rng.sample::<f64, _>(StandardNormal))
}

fn config(thin: usize, seed: u64) -> McmcConfig {
    McmcConfig { chains: 100, warmup: 200, thin, samples: 10_000, seed }
}

fn run(target: &dyn LogDensity, sampler: &Sampler, thin: usize, seed: u64) -> McmcRun {
    let draw = broad_normal(target.dim());
    let init = Init::Resample { draw: &draw, candidates: 2000, resampling: Resampling::Distinct };
    sample(target, sampler, &init, &config(thin, seed), &mut |_, _| {}).unwrap()
}

fn assert_moments(run: &McmcRun, mean: &Array1<f64>, cov: &Array2<f64>, what: &str) {
    let n = run.samples.nrows() as f64;
    let m = run.samples.mean_axis(Axis(0)).unwrap();
    let centred = &run.samples - &m;
    let c = centred.t().dot(&centred) / (n - 1.0);
    for i in 0..mean.len() {
        // 0.1 absolute, relative to the scale where the standard deviation exceeds 1 (with
        // ESS ≈ 5000 this is ≥ 7 Monte Carlo standard errors; σ = 3 draws would otherwise fail
        // an absolute 0.1 for about one seed in thirty).
        let tolerance = 0.1 * cov[[i, i]].sqrt().max(1.0);
        assert!((m[i] - mean[i]).abs() < tolerance, "{what}: mean[{i}] = {} vs {}", m[i], mean[i]);
        for j in 0..mean.len() {
            let scale = (cov[[i, i]] * cov[[j, j]]).sqrt();
            assert!(
                (c[[i, j]] - cov[[i, j]]).abs() < 0.15 * scale,
                "{what}: cov[{i},{j}] = {} vs {}",
                c[[i, j]],
                cov[[i, j]]
            );
        }
    }
    run.check(1.05).unwrap_or_else(|e| panic!("{what}: {e}"));
}

#[test]
fn slice_samples_gaussians() {
    let sampler = Sampler::Slice { width: 0.05 };
    let (target, cov) = correlated_2d();
    let out = run(&target, &sampler, 2, 1);
    assert_moments(&out, &target.mean, &cov, "slice 2-D");
    assert!(out.acceptance_rate > 0.2 && out.acceptance_rate <= 1.0);
    let (target, cov) = scaled_5d();
    let out = run(&target, &sampler, 2, 2);
    assert_moments(&out, &target.mean, &cov, "slice 5-D");
}

#[test]
fn metropolis_samples_gaussians() {
    let sampler = Sampler::Metropolis { step: 0.1 };
    let (target, cov) = correlated_2d();
    let out = run(&target, &sampler, 10, 3);
    assert_moments(&out, &target.mean, &cov, "Metropolis 2-D");
    assert!((out.acceptance_rate - 0.3).abs() < 0.1, "acceptance {}", out.acceptance_rate);
    let (target, cov) = scaled_5d();
    let out = run(&target, &sampler, 10, 4);
    assert_moments(&out, &target.mean, &cov, "Metropolis 5-D");
    assert!((out.acceptance_rate - 0.3).abs() < 0.1, "acceptance {}", out.acceptance_rate);
}

#[test]
fn runs_are_seeded_and_shaped() {
    let (target, _) = correlated_2d();
    for sampler in [Sampler::Slice { width: 1.0 }, Sampler::Metropolis { step: 0.5 }] {
        let draw = broad_normal(2);
        let init = Init::Prior(&draw);
        let cfg = McmcConfig { chains: 7, warmup: 20, thin: 3, samples: 40, seed: 11 };
        let mut calls = Vec::new();
        let a = sample(&target, &sampler, &init, &cfg, &mut |done, total| calls.push((done, total))).unwrap();
        let b = sample(&target, &sampler, &init, &cfg, &mut |_, _| {}).unwrap();
        let c = sample(&target, &sampler, &init, &McmcConfig { seed: 12, ..cfg.clone() }, &mut |_, _| {}).unwrap();
        assert_eq!(a.samples, b.samples);
        assert_ne!(a.samples, c.samples);
        assert_eq!(a.samples.dim(), (40, 2));
        assert_eq!(a.per_chain.dim(), (7, 6, 2));
        // Draw-major interleaving: row 8 is chain 1's second kept draw.
        assert_eq!(a.samples.row(8), a.per_chain.slice(s![1, 1, ..]));
        assert_eq!(calls.len(), 20 + 6 * 3);
        assert_eq!(calls.last(), Some(&(38, 38)));
    }
}

/// log π = θ + 4 log(1 − θ) on (0, 1): a Beta(2, 5) density.
struct Beta25;

impl LogDensity for Beta25 {
    fn dim(&self) -> usize {
        1
    }
    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        Ok(theta.column(0).mapv(|t| if t > 0.0 && t < 1.0 { t.ln() + 4.0 * (1.0 - t).ln() } else { f64::NEG_INFINITY }))
    }
    fn gradient(&self, theta: ArrayView2<f64>) -> Option<Result<(Array1<f64>, Array2<f64>)>> {
        let grad = theta.mapv(|t| 1.0 / t - 4.0 / (1.0 - t));
        Some(self.log_density(theta).map(|lp| (lp, grad)))
    }
}

#[test]
fn bounded_target_through_unconstrained_space() {
    let prior = Distribution::uniform(vec![0.0], vec![1.0]).unwrap();
    let target = Unconstrained::new(&Beta25, &prior).unwrap();
    let draw = |n: usize, rng: &mut LindleyRng| target.prior_draws(n, rng);
    let init = Init::Resample { draw: &draw, candidates: 1000, resampling: Resampling::Distinct };
    for sampler in [Sampler::Slice { width: 1.0 }, Sampler::Metropolis { step: 0.5 }, Sampler::nuts()] {
        let out = sample(&target, &sampler, &init, &config(5, 8), &mut |_, _| {}).unwrap();
        let out = target.constrain(out);
        assert!(out.samples.iter().all(|t| *t > 0.0 && *t < 1.0));
        let mean = out.samples.mean().unwrap();
        assert!((mean - 2.0 / 7.0).abs() < 0.01, "{sampler:?}: mean {mean}");
        // Beta(2, 5) variance αβ/((α+β)²(α+β+1)) = 10/392.
        let var = out.samples.var(1.0);
        assert!((var / (10.0 / 392.0) - 1.0).abs() < 0.15, "{sampler:?}: variance {var}");
        out.check(1.05).unwrap();
    }
    let wrong = Distribution::uniform(vec![0.0, 0.0], vec![1.0, 1.0]).unwrap();
    assert!(matches!(Unconstrained::new(&Beta25, &wrong), Err(Error::Shape { .. })));
}

/// Standard normal in 2-D, NaN where θ₀ > `nan_above`, −∞ where θ₀ < `mass_above`.
struct Broken {
    nan_above: f64,
    mass_above: f64,
}

impl LogDensity for Broken {
    fn dim(&self) -> usize {
        2
    }
    fn log_density(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        Ok(Array1::from_iter(theta.rows().into_iter().map(|r| {
            if r[0] > self.nan_above {
                f64::NAN
            } else if r[0] < self.mass_above {
                f64::NEG_INFINITY
            } else {
                -0.5 * r.dot(&r)
            }
        })))
    }
}

#[test]
fn errors_name_the_chain_and_the_cause() {
    let cfg = McmcConfig { chains: 5, warmup: 50, thin: 1, samples: 500, seed: 0 };
    let draw = |n: usize, rng: &mut LindleyRng| Array2::from_shape_fn((n, 2), |_| rng.sample::<f64, _>(StandardNormal));
    let slice = Sampler::Slice { width: 1.0 };

    // NaN during sampling.
    let target = Broken { nan_above: 1.5, mass_above: f64::NEG_INFINITY };
    let err = sample(&target, &slice, &Init::Points(Array2::zeros((5, 2))), &cfg, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("is NaN for chain "), "{err}");

    // NaN / −∞ at a given start.
    let mut points = Array2::zeros((5, 2));
    points[[3, 0]] = 2.0;
    let err = sample(&target, &slice, &Init::Points(points.clone()), &cfg, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("NaN for chain 3"), "{err}");
    let target = Broken { nan_above: f64::INFINITY, mass_above: -1.0 };
    points[[3, 0]] = -2.0;
    let err = sample(&target, &slice, &Init::Points(points), &cfg, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("chain 3 has log-density −∞"), "{err}");

    // No mass where the initial distribution puts its points.
    let target = Broken { nan_above: f64::INFINITY, mass_above: 50.0 };
    for init in [
        Init::Resample { draw: &draw, candidates: 100, resampling: Resampling::Distinct },
        Init::Resample { draw: &draw, candidates: 100, resampling: Resampling::PerChain },
        Init::Prior(&draw),
    ] {
        let err = sample(&target, &slice, &init, &cfg, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("no mass where the initial distribution"), "{err}");
    }

    // Wrong shapes and parameters.
    let target = Broken { nan_above: f64::INFINITY, mass_above: f64::NEG_INFINITY };
    let err = sample(&target, &slice, &Init::Points(Array2::zeros((4, 2))), &cfg, &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    let init = Init::Points(Array2::zeros((5, 2)));
    let err = sample(&target, &Sampler::Slice { width: 0.0 }, &init, &cfg, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("slice width"), "{err}");
    let bad = McmcConfig { thin: 0, ..cfg };
    assert!(sample(&target, &slice, &init, &bad, &mut |_, _| {}).is_err());
}

#[test]
fn resampling_prefers_high_density_candidates() {
    // Target N(4, 0.5²) in 1-D, candidates from N(0, 3²): the starts must concentrate near 4.
    let target = Gaussian { mean: array![4.0], precision: array![[4.0]] };
    let draw = broad_normal(1);
    let init = Init::Resample { draw: &draw, candidates: 5000, resampling: Resampling::Distinct };
    let cfg = McmcConfig { chains: 50, warmup: 0, thin: 1, samples: 50, seed: 3 };
    let out = sample(&target, &Sampler::Metropolis { step: 1e-9 }, &init, &cfg, &mut |_, _| {}).unwrap();
    let starts = out.per_chain.slice(s![.., 0, 0]);
    let mean = starts.mean().unwrap();
    assert!((mean - 4.0).abs() < 0.4, "mean start {mean}");
    // Drawn without replacement: all starts distinct.
    let mut sorted = starts.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    assert_eq!(sorted.len(), 50);
}

#[test]
fn independent_starts_cluster_near_a_narrow_mode() {
    // Target N(4, 0.1²), 300 candidates from N(0, 3²): about 8 per pool lie within 0.25 of 4,
    // so 50 distinct starts from one pool must mostly lie farther out, while one
    // importance-resampling draw from a pool per chain nearly always lies near the mode.
    let target = Gaussian { mean: array![4.0], precision: array![[100.0]] };
    let draw = broad_normal(1);
    let cfg = McmcConfig { chains: 50, warmup: 0, thin: 1, samples: 50, seed: 5 };
    let starts = |resampling| {
        let init = Init::Resample { draw: &draw, candidates: 300, resampling };
        let (x, lp) = initialise(&target, &init, &cfg).unwrap();
        assert!(lp.iter().all(|v| v.is_finite()));
        x
    };
    let near = |x: &Array2<f64>| x.column(0).iter().filter(|v| (**v - 4.0).abs() < 0.25).count();
    let distinct = near(&starts(Resampling::Distinct));
    assert!(distinct <= 25, "distinct: {distinct} of 50 starts within 0.25 of the mode");
    let per_chain = starts(Resampling::PerChain);
    assert!(near(&per_chain) >= 45, "per chain: {} of 50 starts within 0.25 of the mode", near(&per_chain));
    assert_eq!(per_chain, starts(Resampling::PerChain), "same seed, same starts");
}

#[test]
fn resampling_rules_parse_by_their_settings_names() {
    assert_eq!("distinct".parse::<Resampling>().unwrap(), Resampling::Distinct);
    assert_eq!("per_chain".parse::<Resampling>().unwrap(), Resampling::PerChain);
    assert_eq!("per-chain".parse::<Resampling>().unwrap(), Resampling::PerChain);
    let error = "sir".parse::<Resampling>().unwrap_err().to_string();
    assert!(error.contains("'sir'") && error.contains("per_chain"), "{error}");
}

#[test]
fn resampling_reuses_candidates_when_too_few_have_mass() {
    // Only θ₀ > 0 has mass: with 6 candidates about 3 qualify, fewer than the 10 chains.
    let target = Broken { nan_above: f64::INFINITY, mass_above: 0.0 };
    let draw = |n: usize, rng: &mut LindleyRng| Array2::from_shape_fn((n, 2), |_| rng.sample::<f64, _>(StandardNormal));
    let init = Init::Resample { draw: &draw, candidates: 6, resampling: Resampling::Distinct };
    let cfg = McmcConfig { chains: 10, warmup: 0, thin: 1, samples: 10, seed: 9 };
    let (x, lp) = initialise(&target, &init, &cfg).unwrap();
    assert_eq!(x.dim(), (10, 2));
    assert!(lp.iter().all(|v| v.is_finite()));
    assert!(x.column(0).iter().all(|v| *v > 0.0));
}

#[test]
fn check_names_the_worst_parameter() {
    let run = McmcRun {
        samples: Array2::zeros((1, 3)),
        per_chain: Array3::zeros((1, 1, 3)),
        rhat: vec![1.0, 1.31, 1.02],
        ess: vec![1.0; 3],
        acceptance_rate: 1.0,
        seconds: 0.0,
        target_calls: 0,
        target_rows: 0,
        divergences: 0,
    };
    let err = run.check(1.05).unwrap_err().to_string();
    assert!(err.contains("parameter 1") && err.contains("1.31") && err.contains("longer warm-up"), "{err}");
    assert!(run.check(1.5).is_ok());
    // Chains stuck in two modes (6 near 0, 4 near 3, spread 0.1) are named as such; chains whose
    // means drift evenly over a range as wide are not.
    let mut rng = crate::rng::seeded(3);
    let stuck = Array3::from_shape_fn((10, 50, 2), |(c, _, d)| {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        if d == 1 && c >= 6 { 3.0 + 0.1 * z } else { 0.1 * z }
    });
    let drifting = Array3::from_shape_fn((10, 50, 2), |(c, _, d)| {
        let z: f64 = rng.sample(rand_distr::StandardNormal);
        if d == 1 { c as f64 / 3.0 + 0.1 * z } else { 0.1 * z }
    });
    assert_eq!(separated_chains(&stuck, 1), Some((6, 4)));
    assert_eq!(separated_chains(&stuck, 0), None);
    assert_eq!(separated_chains(&drifting, 1), None);
    let run = McmcRun { per_chain: stuck, rhat: vec![1.0, 1.8], ..run };
    let err = run.check(1.1).unwrap_err().to_string();
    assert!(err.contains("two groups (6 and 4 chains)") && err.contains("multimodal"), "{err}");
}

#[test]
fn throughput_on_a_cheap_target() {
    let (target, _) = correlated_2d();
    for sampler in [Sampler::Slice { width: 1.0 }, Sampler::Metropolis { step: 0.5 }] {
        let out = run(&target, &sampler, 10, 5);
        eprintln!(
            "{sampler:?}: 100 chains, 2-D Gaussian, warm-up 200, thin 10: {:.0} kept samples/s ({:.3} s), \
             {} target calls, {:.1} rows per kept sample",
            out.samples.nrows() as f64 / out.seconds,
            out.seconds,
            out.target_calls,
            out.target_rows as f64 / out.samples.nrows() as f64
        );
        assert!(out.rhat.iter().all(|r| *r < 1.05));
    }
}

#[test]
fn nuts_samples_gaussians_with_adapted_steps() {
    let draw = broad_normal(2);
    let init = Init::Resample { draw: &draw, candidates: 2000, resampling: Resampling::Distinct };
    let cfg = McmcConfig { chains: 20, warmup: 300, thin: 1, samples: 6000, seed: 21 };
    let (target, cov) = correlated_2d();
    let out = sample(&target, &Sampler::nuts(), &init, &cfg, &mut |_, _| {}).unwrap();
    assert_moments(&out, &target.mean, &cov, "NUTS 2-D");
    eprintln!(
        "NUTS 2-D: acceptance {:.3}, R̂ {:?}, ESS {:?}, {} gradient rows, {:.3} s",
        out.acceptance_rate, out.rhat, out.ess, out.target_rows, out.seconds
    );
    // The step size adapted during warm-up holds the mean acceptance statistic after warm-up at
    // the target 0.8 (per-chain adaptation left it near 0.92).
    assert!((out.acceptance_rate - 0.8).abs() < 0.07, "acceptance statistic {}", out.acceptance_rate);
    assert_eq!(out.divergences, 0);
    // Trajectories are short for a Gaussian: far fewer gradient rows than a fixed 2¹⁰ leaves.
    let rows_per_transition = out.target_rows as f64 / (cfg.chains * (cfg.warmup + 300)) as f64;
    assert!(rows_per_transition < 16.0, "{rows_per_transition} gradient rows per transition");
    // Scales from 0.1 to 3 need the adapted mass matrix to mix in this many steps.
    let draw = broad_normal(5);
    let init = Init::Resample { draw: &draw, candidates: 2000, resampling: Resampling::Distinct };
    let (target, cov) = scaled_5d();
    let out = sample(&target, &Sampler::nuts(), &init, &cfg, &mut |_, _| {}).unwrap();
    assert_moments(&out, &target.mean, &cov, "NUTS 5-D");
    let again = sample(&target, &Sampler::nuts(), &init, &cfg, &mut |_, _| {}).unwrap();
    assert_eq!(out.samples, again.samples);
    // A target without a gradient is refused with a clear message.
    let draw = broad_normal(2);
    let no_gradient = Broken { nan_above: f64::INFINITY, mass_above: f64::NEG_INFINITY };
    let err = sample(&no_gradient, &Sampler::nuts(), &Init::Prior(&draw), &cfg, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("gradient"), "{err}");
}
