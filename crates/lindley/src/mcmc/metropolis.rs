//! Gaussian random-walk Metropolis with adaptation during warm-up, all chains at once.

use ndarray::{Array1, Array2, Axis};
use rand::Rng;
use rand_distr::StandardNormal;

use super::{Kernel, LogDensity, evaluate};
use crate::Result;
use crate::distributions::linalg::cholesky;
use crate::rng::LindleyRng;

/// Acceptance rate the per-chain steps are adapted to.
const TARGET_ACCEPTANCE: f64 = 0.3;

/// Random-walk Metropolis kernel θ' = θ + h_c L z.
pub(super) struct MetropolisKernel {
    /// log h_c per chain.
    log_step: Vec<f64>,
    /// Lower-triangular proposal shape L `[dim, dim]`.
    shape: Array2<f64>,
    /// Warm-up iterations after which L is re-estimated (ascending).
    windows: Vec<usize>,
    /// Pooled states of the current window: count, Σθ, Σθθᵀ.
    count: f64,
    sum: Array1<f64>,
    outer: Array2<f64>,
    /// Iterations since the steps were last reset (Robbins–Monro clock).
    clock: usize,
    /// Proposals and acceptances after warm-up.
    proposals: usize,
    accepted: usize,
}

impl MetropolisKernel {
    pub(super) fn new(step: f64, chains: usize, dim: usize, warmup: usize) -> Self {
        let mut windows: Vec<usize> =
            [warmup / 8, warmup / 4, warmup / 2, 3 * warmup / 4].into_iter().filter(|&w| w > 0).collect();
        windows.dedup();
        MetropolisKernel {
            log_step: vec![step.ln(); chains],
            shape: Array2::eye(dim),
            windows,
            count: 0.0,
            sum: Array1::zeros(dim),
            outer: Array2::zeros((dim, dim)),
            clock: 0,
            proposals: 0,
            accepted: 0,
        }
    }

    /// Re-estimate L from the window's pooled covariance and reset the steps to 2.38/√D (Roberts,
    /// Gelman & Gilks 1997); keep the old L if the covariance is not positive definite.
    fn reshape(&mut self) {
        let dim = self.sum.len();
        if self.count > (dim + 1) as f64 {
            let mean = &self.sum / self.count;
            let n = self.count;
            let mut cov = Array2::zeros((dim, dim));
            for i in 0..dim {
                for j in 0..dim {
                    cov[[i, j]] = (self.outer[[i, j]] - n * mean[i] * mean[j]) / (n - 1.0);
                }
            }
            if let Ok(l) = cholesky(cov.view()) {
                self.shape = l;
                self.log_step.fill((2.38 / (dim as f64).sqrt()).ln());
                self.clock = 0;
            }
        }
        self.count = 0.0;
        self.sum.fill(0.0);
        self.outer.fill(0.0);
    }
}

impl Kernel for MetropolisKernel {
    fn step(
        &mut self,
        target: &dyn LogDensity,
        x: &mut Array2<f64>,
        lp: &mut Array1<f64>,
        rng: &mut LindleyRng,
        warmup: Option<usize>,
    ) -> Result<()> {
        let (chains, dim) = x.dim();
        let z = Array2::from_shape_fn((chains, dim), |_| rng.sample::<f64, _>(StandardNormal));
        let mut proposal = z.dot(&self.shape.t());
        for (mut row, &log_h) in proposal.axis_iter_mut(Axis(0)).zip(&self.log_step) {
            row *= log_h.exp();
        }
        proposal += &*x;
        let labels: Vec<usize> = (0..chains).collect();
        let values = evaluate(target, proposal.view(), &labels, "chain")?;
        let gain = 1.0 / (self.clock as f64 + 1.0).powf(0.6);
        for c in 0..chains {
            let log_alpha = if values[c] == f64::NEG_INFINITY { f64::NEG_INFINITY } else { values[c] - lp[c] };
            let accept = rng.random::<f64>().ln() < log_alpha;
            if accept {
                x.row_mut(c).assign(&proposal.row(c));
                lp[c] = values[c];
            }
            if warmup.is_some() {
                self.log_step[c] += gain * (log_alpha.min(0.0).exp() - TARGET_ACCEPTANCE);
            } else {
                self.proposals += 1;
                self.accepted += usize::from(accept);
            }
        }
        if let Some(iteration) = warmup {
            self.clock += 1;
            self.count += chains as f64;
            for row in x.axis_iter(Axis(0)) {
                self.sum += &row;
                for i in 0..dim {
                    for j in 0..dim {
                        self.outer[[i, j]] += row[i] * row[j];
                    }
                }
            }
            if self.windows.contains(&(iteration + 1)) {
                self.reshape();
            }
        }
        Ok(())
    }

    fn acceptance_rate(&self) -> f64 {
        if self.proposals == 0 { f64::NAN } else { self.accepted as f64 / self.proposals as f64 }
    }
}
