//! Vectorised univariate slice sampling along coordinates (Neal 2003), all chains at once.

use ndarray::{Array1, Array2, Axis};
use rand::Rng;

use super::{Kernel, LogDensity, evaluate};
use crate::Result;
use crate::rng::LindleyRng;

/// Largest number of widths the stepping-out procedure may add to a bracket (Neal's m).
const MAX_STEPS: usize = 32;
/// Shrinkage proposals per coordinate update after which a chain stays where it is.
const MAX_SHRINK: usize = 200;
/// Weight of the newest sweep in the moving average that adapts the widths.
const ADAPT_RATE: f64 = 0.2;

/// Slice-sampling kernel: one step is a sweep over all coordinates.
pub(super) struct SliceKernel {
    /// Bracket width per coordinate.
    width: Vec<f64>,
    /// Shrinkage proposals made after warm-up.
    proposals: usize,
    /// Of which landed in the slice.
    accepted: usize,
}

impl SliceKernel {
    pub(super) fn new(width: f64, dim: usize) -> Self {
        SliceKernel { width: vec![width; dim], proposals: 0, accepted: 0 }
    }

    /// Update coordinate `d` of every chain.
    fn update_coordinate(
        &mut self,
        target: &dyn LogDensity,
        x: &mut Array2<f64>,
        lp: &mut Array1<f64>,
        rng: &mut LindleyRng,
        d: usize,
        warmup: bool,
    ) -> Result<()> {
        let chains = x.nrows();
        let w = self.width[d];
        let start: Vec<f64> = x.column(d).to_vec();
        // Slice level log y = log π(x) + log U = log π(x) − Exp(1).
        let level: Vec<f64> = lp.iter().map(|l| l + rng.random::<f64>().max(f64::MIN_POSITIVE).ln()).collect();
        let mut left = vec![0.0; chains];
        let mut right = vec![0.0; chains];
        let mut steps_left = vec![0; chains];
        let mut steps_right = vec![0; chains];
        for c in 0..chains {
            left[c] = start[c] - w * rng.random::<f64>();
            right[c] = left[c] + w;
            let j = ((MAX_STEPS as f64 * rng.random::<f64>()) as usize).min(MAX_STEPS - 1);
            steps_left[c] = j;
            steps_right[c] = MAX_STEPS - 1 - j;
        }
        // Stepping out: both ends of all still-growing brackets in one batch.
        let mut grow_left: Vec<usize> = (0..chains).filter(|&c| steps_left[c] > 0).collect();
        let mut grow_right: Vec<usize> = (0..chains).filter(|&c| steps_right[c] > 0).collect();
        while !grow_left.is_empty() || !grow_right.is_empty() {
            let rows: Vec<usize> = grow_left.iter().chain(&grow_right).copied().collect();
            let mut batch = x.select(Axis(0), &rows);
            for (k, &c) in grow_left.iter().enumerate() {
                batch[[k, d]] = left[c];
            }
            for (k, &c) in grow_right.iter().enumerate() {
                batch[[grow_left.len() + k, d]] = right[c];
            }
            let values = evaluate(target, batch.view(), &rows, "chain")?;
            let mut next_left = Vec::new();
            for (k, &c) in grow_left.iter().enumerate() {
                if values[k] > level[c] {
                    left[c] -= w;
                    steps_left[c] -= 1;
                    if steps_left[c] > 0 {
                        next_left.push(c);
                    }
                }
            }
            let mut next_right = Vec::new();
            for (k, &c) in grow_right.iter().enumerate() {
                if values[grow_left.len() + k] > level[c] {
                    right[c] += w;
                    steps_right[c] -= 1;
                    if steps_right[c] > 0 {
                        next_right.push(c);
                    }
                }
            }
            grow_left = next_left;
            grow_right = next_right;
        }
        // Shrinkage: propose uniformly in the bracket until the point is in the slice.
        let mut active: Vec<usize> = (0..chains).collect();
        for _ in 0..MAX_SHRINK {
            if active.is_empty() {
                break;
            }
            let mut batch = x.select(Axis(0), &active);
            let proposals: Vec<f64> =
                active.iter().map(|&c| left[c] + rng.random::<f64>() * (right[c] - left[c])).collect();
            for (k, &p) in proposals.iter().enumerate() {
                batch[[k, d]] = p;
            }
            let values = evaluate(target, batch.view(), &active, "chain")?;
            if !warmup {
                self.proposals += active.len();
            }
            let mut still = Vec::new();
            for (k, &c) in active.iter().enumerate() {
                if values[k] > level[c] {
                    x[[c, d]] = proposals[k];
                    lp[c] = values[k];
                    if !warmup {
                        self.accepted += 1;
                    }
                } else {
                    if proposals[k] < start[c] {
                        left[c] = proposals[k];
                    } else {
                        right[c] = proposals[k];
                    }
                    still.push(c);
                }
            }
            active = still;
        }
        if warmup {
            let mean_move = start.iter().zip(x.column(d)).map(|(a, b)| (a - b).abs()).sum::<f64>() / chains as f64;
            if mean_move.is_finite() && mean_move > 0.0 {
                self.width[d] = (1.0 - ADAPT_RATE) * w + ADAPT_RATE * 3.0 * mean_move;
            }
        }
        Ok(())
    }
}

impl Kernel for SliceKernel {
    fn step(
        &mut self,
        target: &dyn LogDensity,
        x: &mut Array2<f64>,
        lp: &mut Array1<f64>,
        rng: &mut LindleyRng,
        warmup: Option<usize>,
    ) -> Result<()> {
        for d in 0..x.ncols() {
            self.update_coordinate(target, x, lp, rng, d, warmup.is_some())?;
        }
        Ok(())
    }

    fn acceptance_rate(&self) -> f64 {
        if self.proposals == 0 { f64::NAN } else { self.accepted as f64 / self.proposals as f64 }
    }
}
