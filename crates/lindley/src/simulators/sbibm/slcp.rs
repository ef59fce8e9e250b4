//! `slcp` (simple likelihood, complex posterior; Papamakarios, Sterratt & Murray 2019) and
//! `slcp_distractors`, which hides the 8 informative values among 92 θ-independent ones.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_distr::{ChiSquared, StandardNormal};

use super::{constants_error, numbered, parse_embedded, sbibm_task};
use crate::distributions::Distribution;
use crate::rng::LindleyRng;
use crate::simulators::{Simulator, Task, check_parameter_shape, simulate_rows};
use crate::{Error, Result};

/// Number of iid 2-d draws per simulation.
const DRAWS: usize = 4;
/// Dimension of the informative part of x.
const SLCP_DIM: usize = 2 * DRAWS;
/// Jitter added to the diagonal of the covariance (as in sbibm).
const JITTER: f64 = 1e-6;
/// Prior box [−3, 3]⁵.
const PRIOR_BOUND: f64 = 3.0;

/// Fill `x` (length 8) with 4 iid draws of N(m, Σ), m = (θ₁, θ₂), s₁ = θ₃², s₂ = θ₄²,
/// ρ = tanh θ₅, Σ = [[s₁², ρ s₁ s₂], [ρ s₁ s₂, s₂²]] + 10⁻⁶·I, laid out (x₁₁, x₁₂, x₂₁, …).
fn simulate_slcp(theta: &[f64], rng: &mut LindleyRng, x: &mut [f64]) {
    let (s1, s2) = (theta[2] * theta[2], theta[3] * theta[3]);
    let rho = theta[4].tanh();
    // Cholesky factor of Σ.
    let l11 = (s1 * s1 + JITTER).sqrt();
    let l21 = rho * s1 * s2 / l11;
    let l22 = (s2 * s2 + JITTER - l21 * l21).max(0.0).sqrt();
    for draw in x.chunks_exact_mut(2) {
        let z1: f64 = rng.sample(StandardNormal);
        let z2: f64 = rng.sample(StandardNormal);
        draw[0] = theta[0] + l11 * z1;
        draw[1] = theta[1] + l21 * z1 + l22 * z2;
    }
}

/// The `slcp` simulator.
struct Slcp;

impl Simulator for Slcp {
    fn parameter_dim(&self) -> usize {
        5
    }
    fn data_dim(&self) -> usize {
        SLCP_DIM
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "slcp simulator")?;
        Ok(simulate_rows(theta, SLCP_DIM, seed, simulate_slcp))
    }
}

/// Number of distractor dimensions.
const NOISE_DIM: usize = 92;
/// Number of (equally weighted) mixture components.
const COMPONENTS: usize = 20;
/// Degrees of freedom of every multivariate Student-t component.
const DEGREES_OF_FREEDOM: f64 = 2.0;
/// Total data dimension of `slcp_distractors`.
const DISTRACTORS_DIM: usize = SLCP_DIM + NOISE_DIM;

const LOCS_PATH: &str = "data/sbibm/slcp_distractors/mixture_locs.csv";
const LOCS_CSV: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sbibm/slcp_distractors/mixture_locs.csv"));
const SCALE_TRIL_PATH: &str = "data/sbibm/slcp_distractors/mixture_scale_tril.csv.bz2";
const SCALE_TRIL_BZ2: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/sbibm/slcp_distractors/mixture_scale_tril.csv.bz2"
));
const PERMUTATION_PATH: &str = "data/sbibm/slcp_distractors/permutation.csv";
const PERMUTATION_CSV: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sbibm/slcp_distractors/permutation.csv"));

/// sbibm's fixed distractor distribution and output permutation (from its `gmm.torch` and
/// `permutation_idx.torch`, vendored by `data/tools/generate_sbibm_constants.py`).
struct Distractors {
    /// Component locations `[20, 92]`.
    locs: Array2<f64>,
    /// Lower-triangular scale factors, component c in rows `92·c .. 92·(c + 1)`: `[20·92, 92]`.
    scale_tril: Array2<f64>,
    /// Output value i is the concatenation (slcp values, distractors) at `permutation[i]`.
    permutation: Vec<usize>,
}

impl Distractors {
    /// Parse and check the embedded constants.
    fn load() -> Result<Self> {
        let locs = parse_embedded(LOCS_CSV.as_bytes(), LOCS_PATH)?;
        let decoder = bzip2::read::MultiBzDecoder::new(SCALE_TRIL_BZ2);
        let scale_tril = parse_embedded(std::io::BufReader::new(decoder), SCALE_TRIL_PATH)?;
        let permutation = parse_embedded(PERMUTATION_CSV.as_bytes(), PERMUTATION_PATH)?;
        let shape_error = |path: &str, expected: String, got: &Array2<f64>| {
            Err(Error::parse(Path::new(path), format!("expected {expected} values, got {:?}", got.shape())))
        };
        if locs.dim() != (COMPONENTS, NOISE_DIM) {
            return shape_error(LOCS_PATH, format!("{COMPONENTS}×{NOISE_DIM}"), &locs);
        }
        if scale_tril.dim() != (COMPONENTS * NOISE_DIM, NOISE_DIM) {
            return shape_error(SCALE_TRIL_PATH, format!("{}×{NOISE_DIM}", COMPONENTS * NOISE_DIM), &scale_tril);
        }
        if permutation.dim() != (DISTRACTORS_DIM, 1) {
            return shape_error(PERMUTATION_PATH, format!("{DISTRACTORS_DIM}×1"), &permutation);
        }
        let permutation: Vec<usize> = permutation.iter().map(|&v| v as usize).collect();
        let mut seen = [false; DISTRACTORS_DIM];
        for &index in &permutation {
            if index >= DISTRACTORS_DIM || std::mem::replace(&mut seen[index], true) {
                return Err(Error::parse(Path::new(PERMUTATION_PATH), "not a permutation of 0..100"));
            }
        }
        Ok(Self { locs, scale_tril, permutation })
    }

    /// The constants, parsed once per process.
    fn shared() -> Result<Arc<Self>> {
        static CELL: OnceLock<std::result::Result<Arc<Distractors>, String>> = OnceLock::new();
        CELL.get_or_init(|| Self::load().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map_err(|message| constants_error("slcp_distractors", message))
    }

    /// One draw from the mixture of 20 multivariate Student-t (df 2) components with uniform
    /// weights: pick component c, then loc_c + L_c z · √(df / w), z ~ N(0, I), w ~ χ²(df).
    fn sample(&self, chi_squared: &ChiSquared<f64>, rng: &mut LindleyRng, out: &mut [f64]) {
        let component = rng.random_range(0..COMPONENTS);
        let w: f64 = rng.sample(chi_squared);
        let scale = (DEGREES_OF_FREEDOM / w).sqrt();
        let z: Vec<f64> = (0..NOISE_DIM).map(|_| rng.sample(StandardNormal)).collect();
        for (i, value) in out.iter_mut().enumerate() {
            let row = self.scale_tril.row(component * NOISE_DIM + i);
            let lz: f64 = row.iter().zip(&z).take(i + 1).map(|(l, z)| l * z).sum();
            *value = self.locs[[component, i]] + scale * lz;
        }
    }
}

/// The `slcp_distractors` simulator: slcp's 8 values and 92 distractors, permuted.
struct SlcpDistractors {
    distractors: Arc<Distractors>,
    chi_squared: ChiSquared<f64>,
}

impl Simulator for SlcpDistractors {
    fn parameter_dim(&self) -> usize {
        5
    }
    fn data_dim(&self) -> usize {
        DISTRACTORS_DIM
    }
    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "slcp_distractors simulator")?;
        Ok(simulate_rows(theta, DISTRACTORS_DIM, seed, |theta, rng, x| {
            let mut unpermuted = [0.0; DISTRACTORS_DIM];
            simulate_slcp(theta, rng, &mut unpermuted[..SLCP_DIM]);
            self.distractors.sample(&self.chi_squared, rng, &mut unpermuted[SLCP_DIM..]);
            for (x, &index) in x.iter_mut().zip(&self.distractors.permutation) {
                *x = unpermuted[index];
            }
        }))
    }
}

/// The slcp prior U([−3, 3]⁵).
fn prior() -> Distribution {
    Distribution::Uniform { low: vec![-PRIOR_BOUND; 5], high: vec![PRIOR_BOUND; 5] }
}

/// `slcp`: θ ~ U([−3, 3]⁵), x = 4 iid draws of a 2-d Gaussian whose mean and covariance depend
/// on θ (8 values); the posterior has four symmetric modes.
pub(super) fn slcp() -> Task {
    sbibm_task(
        "slcp",
        "SLCP: θ ~ U([-3, 3]^5), x = 4 draws of a θ-dependent 2-d Gaussian",
        prior(),
        Arc::new(Slcp),
        numbered("theta", 5),
    )
}

/// `slcp_distractors`: slcp's 8 values plus 92 θ-independent draws from sbibm's fixed mixture of
/// 20 multivariate Student-t distributions (df 2), in sbibm's fixed permuted order (100 values).
pub(super) fn slcp_distractors() -> Result<Task> {
    let chi_squared = ChiSquared::new(DEGREES_OF_FREEDOM).map_err(|e| Error::InvalidInput(e.to_string()))?;
    Ok(sbibm_task(
        "slcp_distractors",
        "SLCP with 92 distractors: slcp's 8 values among Student-t mixture noise (100 values)",
        prior(),
        Arc::new(SlcpDistractors { distractors: Distractors::shared()?, chi_squared }),
        numbered("theta", 5),
    ))
}
