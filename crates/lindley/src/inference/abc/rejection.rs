//! Rejection ABC (Pritchard et al. 1999) with optional local-linear regression adjustment
//! (Beaumont, Zhang & Balding 2002).
//!
//! Draw θᵢ ~ p(θ), xᵢ ~ p(x | θᵢ), i = 1..N; compute dᵢ = ‖(s(xᵢ) − s(x_o)) / σ‖ with σ the
//! per-coordinate standard deviation of the simulated summaries (or 1); keep the closest θᵢ. The
//! adjustment fits u = α + (s − s_o)ᵀβ by least squares weighted with the Epanechnikov kernel
//! Kᵢ = 1 − (dᵢ/ε)², ε the largest kept distance, on u = T(θ) (the prior's map to unconstrained
//! space, so that adjusted particles stay inside the support), and replaces uᵢ by
//! uᵢ − (sᵢ − s_o)ᵀβ; the particles are then weighted by Kᵢ.

use std::time::Instant;

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use super::{AbcPosterior, AbcProblem, Distance, Runner, argsort, distances, summary_scale};
use crate::distributions::linalg;
use crate::{Error, Result};

/// Which simulations rejection ABC keeps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The closest `count` simulations (sbibm: 100, i.e. the quantile 100 / N).
    Count(usize),
    /// The closest fraction `q` ∈ (0, 1] of the successful simulations (at least one).
    Quantile(f64),
    /// Every simulation within distance ε.
    Epsilon(f64),
}

/// Settings of [`rejection_abc`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RejectionConfig {
    /// Which simulations to keep (default: the closest 100, as in sbibm's REJ-ABC).
    pub selection: Selection,
    /// Distance between summaries.
    pub distance: Distance,
    /// Divide each summary coordinate by its standard deviation over the simulations.
    pub standardize: bool,
    /// Apply Beaumont et al.'s (2002) local-linear regression adjustment.
    pub regression_adjustment: bool,
    /// Simulations per simulator call.
    pub batch_size: usize,
}

impl Default for RejectionConfig {
    fn default() -> Self {
        RejectionConfig {
            selection: Selection::Count(100),
            distance: Distance::L2,
            standardize: true,
            regression_adjustment: false,
            batch_size: 10_000,
        }
    }
}

impl RejectionConfig {
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(format!("rejection ABC: {m}")));
        match self.selection {
            Selection::Count(0) => return bad("the number of kept simulations must be at least 1".into()),
            Selection::Quantile(q) if !(q > 0.0 && q <= 1.0) => {
                return bad(format!("the quantile must lie in (0, 1], got {q}"));
            }
            Selection::Epsilon(e) if !(e >= 0.0 && e.is_finite()) => {
                return bad(format!("ε must be finite and ≥ 0, got {e}"));
            }
            _ => {}
        }
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        Ok(())
    }
}

/// Rejection ABC with a budget of `budget` simulations, reproducible from `seed`.
pub fn rejection_abc(problem: &AbcProblem, budget: usize, config: &RejectionConfig, seed: u64) -> Result<AbcPosterior> {
    let start = Instant::now();
    config.check()?;
    let s_o = problem.check(budget, "rejection ABC")?;
    let mut runner = Runner::new(problem, budget, seed);
    let mut prior_rng = crate::rng::substream(seed, u64::MAX);
    let (p, width) = (problem.prior.dim(), s_o.len());
    let mut theta = Array2::zeros((0, p));
    let mut s = Array2::zeros((0, width));
    while runner.left() > 0 {
        let batch = problem.prior.sample(runner.left().min(config.batch_size), &mut prior_rng);
        let (t, sb, _) = runner.simulate(batch)?;
        theta.append(Axis(0), t.view()).expect("θ columns match");
        s.append(Axis(0), sb.view()).expect("summary columns match");
    }
    if theta.nrows() == 0 {
        return Err(Error::Simulator(format!("rejection ABC: every simulation failed ({})", runner.dropped)));
    }
    let scale = if config.standardize { summary_scale(s.view()) } else { Array1::ones(width) };
    let d = distances(s.view(), s_o.view(), scale.view(), config.distance);
    let order = argsort(d.view());
    let n = order.len();
    let keep = match config.selection {
        Selection::Count(k) => k.min(n),
        Selection::Quantile(q) => ((q * n as f64).round() as usize).clamp(1, n),
        Selection::Epsilon(eps) => {
            let k = order.partition_point(|&i| d[i] <= eps);
            if k == 0 {
                return Err(Error::Sampling(format!(
                    "rejection ABC: no simulation within ε = {eps} of the observation (closest: {:.4})",
                    d[order[0]]
                )));
            }
            k
        }
    };
    let kept = &order[..keep];
    let mut particles = theta.select(Axis(0), kept);
    let kept_d = d.select(Axis(0), kept);
    let epsilon = kept_d[keep - 1];
    let mut weights = Array1::from_elem(keep, 1.0 / keep as f64);
    if config.regression_adjustment {
        let kept_s = s.select(Axis(0), kept);
        let (adjusted, kernel) = regression_adjust(problem, &particles, &kept_s, &s_o, &scale, &kept_d, epsilon)?;
        particles = adjusted;
        weights = &kernel / kernel.sum();
    }
    Ok(AbcPosterior {
        particles,
        weights,
        distances: kept_d,
        epsilon,
        simulations: runner.spent,
        dropped: runner.dropped,
        populations: 1,
        seconds: start.elapsed().as_secs_f64(),
        prior: problem.prior.clone(),
    })
}

/// Beaumont et al. (2002): weighted least squares of u = T(θ) on (s − s_o)/σ with Epanechnikov
/// weights, and the adjusted particles T⁻¹(u − (s − s_o)β/σ) with those weights.
fn regression_adjust(
    problem: &AbcProblem,
    theta: &Array2<f64>,
    s: &Array2<f64>,
    s_o: &Array1<f64>,
    scale: &Array1<f64>,
    d: &Array1<f64>,
    epsilon: f64,
) -> Result<(Array2<f64>, Array1<f64>)> {
    let (k, width) = s.dim();
    let kernel: Array1<f64> =
        if epsilon > 0.0 { d.mapv(|di| (1.0 - (di / epsilon).powi(2)).max(0.0)) } else { Array1::ones(k) };
    let effective = kernel.iter().filter(|&&w| w > 0.0).count();
    if effective < width + 2 {
        return Err(Error::InvalidInput(format!(
            "rejection ABC regression adjustment: {effective} kept simulations with positive kernel weight for \
             {width} summaries; keep at least {} (raise the number kept or the quantile)",
            width + 2
        )));
    }
    let u = problem.prior.to_unconstrained(theta.view());
    // Design matrix [1, (s − s_o)/σ] and the weighted normal equations (XᵀWX) B = XᵀWU.
    let mut design = Array2::ones((k, width + 1));
    for i in 0..k {
        for j in 0..width {
            design[[i, j + 1]] = (s[[i, j]] - s_o[j]) / scale[j];
        }
    }
    let weighted = &design * &kernel.view().insert_axis(Axis(1));
    let mut gram = weighted.t().dot(&design);
    let rhs = weighted.t().dot(&u);
    // A ridge of 10⁻¹⁰ of the mean diagonal keeps collinear summaries solvable.
    let ridge = 1e-10 * gram.diag().sum() / (width + 1) as f64;
    for j in 0..=width {
        gram[[j, j]] += ridge;
    }
    let l = linalg::cholesky(gram.view()).map_err(|_| {
        Error::InvalidInput(
            "rejection ABC regression adjustment: the summaries of the kept simulations are collinear".into(),
        )
    })?;
    let mut adjusted_u = u.clone();
    for c in 0..u.ncols() {
        let y = linalg::solve_lower(l.view(), rhs.column(c));
        let beta = linalg::solve_lower_transposed(l.view(), y.view());
        for i in 0..k {
            let correction: f64 = (1..=width).map(|j| design[[i, j]] * beta[j]).sum();
            adjusted_u[[i, c]] -= correction;
        }
    }
    let (adjusted, _) = problem.prior.from_unconstrained(adjusted_u.view());
    if adjusted.iter().any(|v| !v.is_finite()) {
        return Err(Error::Sampling("rejection ABC regression adjustment produced non-finite parameters".into()));
    }
    Ok((adjusted, kernel))
}
