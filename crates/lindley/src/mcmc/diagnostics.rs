//! Convergence diagnostics for multi-chain MCMC output: rank-normalised split-R̂ and bulk effective
//! sample size (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-normalization, folding,
//! and localization: an improved R̂ for assessing convergence of MCMC", Bayesian Analysis 16(2)).
//!
//! Draws are laid out `[chains, draws, dim]`; each function returns one value per parameter.

use ndarray::{ArrayView3, Axis};

/// Rank-normalised split-R̂ for each parameter of `chains [chains, draws, dim]`.
///
/// Each chain is split in halves (the middle draw is dropped when the count is odd), all draws of
/// one parameter are replaced by their normal scores Φ⁻¹((r − 3/8)/(S + 1/4)) (r = average rank
/// among the S pooled draws), and the classic potential scale reduction √(V̂⁺/W) is computed, with
/// W the mean within-chain variance and V̂⁺ = (n − 1)/n · W + B/n. The result is the larger of this
/// bulk R̂ and the same statistic on the folded draws |θ − median θ| (which detects chains with
/// equal locations but different scales). Values near 1 mean the chains agree; values above 1.01
/// (strict) or 1.05 (lenient) suggest they have not converged. NaN when there are fewer than 4 draws per
/// chain or a parameter is constant.
pub fn split_rhat(chains: ArrayView3<f64>) -> Vec<f64> {
    (0..chains.len_of(Axis(2)))
        .map(|d| match split_halves(chains, d) {
            Some(halves) => {
                let bulk = basic_rhat(&rank_normalise(&halves));
                let median = median(&halves);
                let folded: Vec<Vec<f64>> =
                    halves.iter().map(|h| h.iter().map(|v| (v - median).abs()).collect()).collect();
                let tail = basic_rhat(&rank_normalise(&folded));
                if bulk.is_nan() || tail.is_nan() { f64::NAN } else { bulk.max(tail) }
            }
            None => f64::NAN,
        })
        .collect()
}

/// Bulk effective sample size for each parameter of `chains [chains, draws, dim]`.
///
/// Computed on rank-normalised split chains (as in [`split_rhat`]) with the multi-chain
/// autocorrelation estimate ρ̂ₜ = 1 − (W − mean over chains of γ̂ₜ)/V̂⁺ and Geyer's (1992) initial
/// monotone sequence estimator: the sums of adjacent pairs Pₖ = ρ̂₂ₖ + ρ̂₂ₖ₊₁ are kept while positive
/// and made non-increasing, τ̂ = −1 + 2 Σₖ Pₖ, and ESS = S/τ̂ with S the total number of draws
/// (τ̂ is bounded below by 1/log₁₀ S). NaN when there are fewer than 4 draws per chain or a
/// parameter is constant.
pub fn ess_bulk(chains: ArrayView3<f64>) -> Vec<f64> {
    (0..chains.len_of(Axis(2)))
        .map(|d| match split_halves(chains, d) {
            Some(halves) => geyer_ess(&rank_normalise(&halves)),
            None => f64::NAN,
        })
        .collect()
}

/// The 2M half-chains of parameter `d`, or None if there are fewer than 4 draws per chain.
fn split_halves(chains: ArrayView3<f64>, d: usize) -> Option<Vec<Vec<f64>>> {
    let n = chains.len_of(Axis(1));
    if n < 4 || chains.len_of(Axis(0)) == 0 {
        return None;
    }
    let h = n / 2;
    let mut halves = Vec::with_capacity(2 * chains.len_of(Axis(0)));
    for chain in chains.axis_iter(Axis(0)) {
        let column = chain.column(d);
        halves.push(column.iter().take(h).copied().collect());
        halves.push(column.iter().skip(n - h).copied().collect());
    }
    Some(halves)
}

/// Median of all pooled values.
fn median(halves: &[Vec<f64>]) -> f64 {
    let mut all: Vec<f64> = halves.iter().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    let s = all.len();
    if s % 2 == 1 { all[s / 2] } else { 0.5 * (all[s / 2 - 1] + all[s / 2]) }
}

/// Replace every value by its normal score Φ⁻¹((r − 3/8)/(S + 1/4)), r the average (tie-aware,
/// one-based) rank among all S pooled values (Blom 1958).
fn rank_normalise(halves: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut order: Vec<(f64, usize, usize)> =
        halves.iter().enumerate().flat_map(|(m, h)| h.iter().enumerate().map(move |(i, &v)| (v, m, i))).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let s = order.len() as f64;
    let mut out: Vec<Vec<f64>> = halves.iter().map(|h| vec![0.0; h.len()]).collect();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && order[end].0.total_cmp(&order[start].0).is_eq() {
            end += 1;
        }
        let rank = 0.5 * ((start + 1) + end) as f64;
        let z = normal_quantile((rank - 0.375) / (s + 0.25));
        for &(_, m, i) in &order[start..end] {
            out[m][i] = z;
        }
        start = end;
    }
    out
}

/// Chain means, mean within-chain variance W and pooled variance estimate V̂⁺.
fn variance_components(halves: &[Vec<f64>]) -> (Vec<f64>, f64, f64) {
    let m = halves.len() as f64;
    let n = halves[0].len() as f64;
    let means: Vec<f64> = halves.iter().map(|h| h.iter().sum::<f64>() / n).collect();
    let w = halves
        .iter()
        .zip(&means)
        .map(|(h, mu)| h.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / (n - 1.0))
        .sum::<f64>()
        / m;
    let grand = means.iter().sum::<f64>() / m;
    let b_over_n =
        if m > 1.0 { means.iter().map(|mu| (mu - grand) * (mu - grand)).sum::<f64>() / (m - 1.0) } else { 0.0 };
    (means, w, (n - 1.0) / n * w + b_over_n)
}

/// Classic R̂ = √(V̂⁺/W) (Gelman & Rubin 1992) of equally long chains.
fn basic_rhat(halves: &[Vec<f64>]) -> f64 {
    let (_, w, var_plus) = variance_components(halves);
    if w > 0.0 { (var_plus / w).sqrt() } else { f64::NAN }
}

/// Multi-chain ESS with Geyer's initial monotone sequence (see [`ess_bulk`]).
fn geyer_ess(halves: &[Vec<f64>]) -> f64 {
    let (means, w, var_plus) = variance_components(halves);
    if !(w > 0.0 && var_plus > 0.0) {
        return f64::NAN;
    }
    let n = halves[0].len();
    let s = (n * halves.len()) as f64;
    // ρ̂ₜ from the mean over chains of the biased autocovariance at lag t.
    let rho = |t: usize| -> f64 {
        let mean_acov = halves
            .iter()
            .zip(&means)
            .map(|(h, mu)| (0..n - t).map(|i| (h[i] - mu) * (h[i + t] - mu)).sum::<f64>() / n as f64)
            .sum::<f64>()
            / halves.len() as f64;
        1.0 - (w - mean_acov) / var_plus
    };
    let mut sum_pairs = 0.0;
    let mut previous = f64::INFINITY;
    let mut k = 0;
    while 2 * k + 1 < n {
        let pair = if k == 0 { 1.0 + rho(1) } else { rho(2 * k) + rho(2 * k + 1) };
        if pair <= 0.0 {
            break;
        }
        let pair = pair.min(previous);
        sum_pairs += pair;
        previous = pair;
        k += 1;
    }
    let tau = (-1.0 + 2.0 * sum_pairs).max(1.0 / s.log10());
    s / tau
}

/// Standard normal quantile Φ⁻¹(p) for p ∈ (0, 1) by Acklam's rational approximation (relative
/// error below 1.2·10⁻⁹).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    const P_LOW: f64 = 0.02425;
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p <= 0.0 {
        f64::NEG_INFINITY
    } else if p >= 1.0 {
        f64::INFINITY
    } else if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;
    use ndarray::Array3;
    use rand::Rng;
    use rand_distr::StandardNormal;

    fn iid(chains: usize, draws: usize, dim: usize, seed: u64) -> Array3<f64> {
        let mut rng = seeded(seed);
        Array3::from_shape_fn((chains, draws, dim), |_| rng.sample::<f64, _>(StandardNormal))
    }

    #[test]
    fn normal_quantile_matches_known_values() {
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
        assert!((normal_quantile(0.8413447461) - 1.0).abs() < 1e-8);
    }

    #[test]
    fn rhat_is_one_for_iid_draws_and_large_for_shifted_chains() {
        let draws = iid(4, 1000, 2, 1);
        for r in split_rhat(draws.view()) {
            assert!((r - 1.0).abs() < 0.01, "iid R̂ {r}");
        }
        let mut shifted = iid(4, 1000, 1, 2);
        for c in 0..4 {
            shifted.index_axis_mut(Axis(0), c).mapv_inplace(|v| v + c as f64);
        }
        let r = split_rhat(shifted.view())[0];
        assert!(r > 1.2, "shifted R̂ {r}");
    }

    #[test]
    fn rhat_detects_chains_with_different_scales_and_drifting_chains() {
        // Equal means, scale 1 vs 3: the folded (tail) statistic sees it.
        let mut scaled = iid(4, 1000, 1, 3);
        scaled.index_axis_mut(Axis(0), 0).mapv_inplace(|v| 3.0 * v);
        scaled.index_axis_mut(Axis(0), 1).mapv_inplace(|v| 3.0 * v);
        assert!(split_rhat(scaled.view())[0] > 1.05);
        // One chain drifts within itself: splitting exposes it.
        let mut drift = iid(4, 1000, 1, 4);
        for i in 0..1000 {
            drift[[0, i, 0]] += 4.0 * i as f64 / 1000.0;
        }
        assert!(split_rhat(drift.view())[0] > 1.05);
    }

    #[test]
    fn ess_is_close_to_n_for_iid_and_matches_ar1_theory() {
        let draws = iid(4, 2500, 1, 5);
        let ess = ess_bulk(draws.view())[0];
        assert!((ess / 10_000.0 - 1.0).abs() < 0.1, "iid ESS {ess}");

        let phi: f64 = 0.9;
        let mut rng = seeded(6);
        let (chains, n) = (4, 25_000);
        let mut ar = Array3::zeros((chains, n, 1));
        for c in 0..chains {
            let mut v: f64 = rng.sample::<f64, _>(StandardNormal) / (1.0 - phi * phi).sqrt();
            for i in 0..n {
                v = phi * v + rng.sample::<f64, _>(StandardNormal);
                ar[[c, i, 0]] = v;
            }
        }
        let ess = ess_bulk(ar.view())[0];
        let theory = (chains * n) as f64 * (1.0 - phi) / (1.0 + phi);
        assert!((ess / theory - 1.0).abs() < 0.15, "AR(1) ESS {ess}, theory {theory}");
    }

    #[test]
    fn too_few_draws_give_nan() {
        let draws = iid(2, 3, 1, 7);
        assert!(split_rhat(draws.view())[0].is_nan());
        assert!(ess_bulk(draws.view())[0].is_nan());
    }
}
