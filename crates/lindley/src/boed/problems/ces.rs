//! Constant elasticity of substitution (CES) preference model (Foster et al. 2020; Blau et al.
//! 2022), with the exact likelihood of its censored sigmoid-normal observation.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::Rng;
use rand_distr::{Distribution, Exp1};

use super::{
    DesignBox, DesignProblem, DesignSimulator, SequentialProtocol, log_normal_cdf, map_log_likelihood, map_log_prior,
    map_simulation, normal_log_pdf, standard_normal,
};
use crate::Result;
use crate::rng::LindleyRng;

/// Censoring level ε = 2⁻²²: y is clipped to [ε, 1 − ε].
pub const CENSOR_EPS: f64 = 1.0 / 4_194_304.0;
/// ρ is kept inside [ρ_min, 1 − ρ_min].
pub const RHO_MIN: f64 = 1e-3;
/// Baskets are clamped to at least this amount of each good inside the model.
pub const MIN_AMOUNT: f64 = 0.01;
/// Upper end of the design box [0, 100]⁶.
pub const MAX_AMOUNT: f64 = 100.0;
/// Mean of log u.
pub const LOG_U_MEAN: f64 = 1.0;
/// Standard deviation of log u.
pub const LOG_U_SD: f64 = 3.0;
/// Noise scale factor: sd(η) = 0.005·u·(1 + ‖x₁ − x₂‖).
pub const NOISE_SCALE: f64 = 0.005;
/// First design of the published sequential protocol.
pub const FIRST_DESIGN: [f64; 6] = [24.9064, 52.0116, 81.8273, 53.4674, 62.4753, 35.4513];

/// `ces`: θ = (ρ, α₁, α₂, log u) with ρ ~ Beta(1, 1) kept inside [10⁻³, 1 − 10⁻³],
/// (α₁, α₂, α₃) ~ Dirichlet(1, 1, 1) (α₃ = 1 − α₁ − α₂ is implied), log u ~ N(1, 3²). Design
/// ξ = (x₁, x₂) ∈ [0, 100]⁶, two baskets of three goods, each amount clamped to ≥ 0.01 inside the
/// model. With U(x) = (Σᵢ αᵢ xᵢ^ρ)^{1/ρ}: η ~ N(μ, s²), μ = u·(U(x₁) − U(x₂)),
/// s = 0.005·u·(1 + ‖x₁ − x₂‖), and y = clip(sigmoid(η), ε, 1 − ε) with ε = 2⁻²².
///
/// The likelihood is taken with respect to Lebesgue measure on (ε, 1 − ε) plus unit point masses
/// at ε and 1 − ε: an interior y has density N(logit y; μ, s²)/(y(1 − y)); y = ε has
/// probability Φ((logit ε − μ)/s), y = 1 − ε has probability Φ((μ − logit(1 − ε))/s).
/// Sequential protocol: T = 10 with the published first design.
#[derive(Debug, Clone, Copy)]
pub struct Ces;

impl Ces {
    /// (μ, s) of the latent η for parameters θ and design ξ.
    pub fn latent_mean_sd(theta: ArrayView1<f64>, design: ArrayView1<f64>) -> (f64, f64) {
        let rho = theta[0].clamp(RHO_MIN, 1.0 - RHO_MIN);
        let alpha = [theta[1], theta[2], (1.0 - theta[1] - theta[2]).max(0.0)];
        let u = theta[3].exp();
        let amount = |j: usize| design[j].max(MIN_AMOUNT);
        let utility = |offset: usize| {
            let sum: f64 = (0..3).map(|i| alpha[i] * (rho * amount(offset + i).ln()).exp()).sum();
            (sum.ln() / rho).exp()
        };
        let distance = (0..3).map(|i| (amount(i) - amount(3 + i)).powi(2)).sum::<f64>().sqrt();
        (u * (utility(0) - utility(3)), NOISE_SCALE * u * (1.0 + distance))
    }

    /// log p(y | μ, s) of the censored sigmoid-normal (see the type's documentation);
    /// −∞ for y outside [0, 1].
    pub fn censored_log_density(y: f64, mean: f64, sd: f64) -> f64 {
        let upper = 1.0 - CENSOR_EPS;
        if !(0.0..=1.0).contains(&y) {
            f64::NEG_INFINITY
        } else if y <= CENSOR_EPS {
            log_normal_cdf((logit(CENSOR_EPS) - mean) / sd)
        } else if y >= upper {
            log_normal_cdf((mean - logit(upper)) / sd)
        } else {
            normal_log_pdf(logit(y), mean, sd) - y.ln() - (-y).ln_1p()
        }
    }
}

/// log(p / (1 − p)).
fn logit(p: f64) -> f64 {
    p.ln() - (-p).ln_1p()
}

/// 1/(1 + e^{−x}) without overflow.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl DesignSimulator for Ces {
    fn name(&self) -> &str {
        "ces"
    }
    fn parameter_dim(&self) -> usize {
        4
    }
    fn design_dim(&self) -> usize {
        6
    }
    fn observation_dim(&self) -> usize {
        1
    }
    fn design_box(&self) -> DesignBox {
        DesignBox::uniform(6, 0.0, MAX_AMOUNT)
    }
    fn sample_prior(&self, n: usize, rng: &mut LindleyRng) -> Array2<f64> {
        let mut theta = Array2::zeros((n, 4));
        for mut row in theta.outer_iter_mut() {
            row[0] = rng.random::<f64>().clamp(RHO_MIN, 1.0 - RHO_MIN);
            let g: [f64; 3] = std::array::from_fn(|_| Exp1.sample(rng));
            let total = g[0] + g[1] + g[2];
            row[1] = g[0] / total;
            row[2] = g[1] / total;
            row[3] = LOG_U_MEAN + LOG_U_SD * standard_normal(rng);
        }
        theta
    }
    /// log of the prior density with respect to Lebesgue measure on (ρ, α₁, α₂, log u): Beta(1, 1)
    /// gives 0 for ρ ∈ [10⁻³, 1 − 10⁻³] (the clamped ends, 0.1% of the mass each, are scored with
    /// the same unit density), Dirichlet(1, 1, 1) gives log Γ(3) = log 2 on the simplex
    /// α₁, α₂ ≥ 0, α₁ + α₂ ≤ 1, and log u adds log N(log u; 1, 3²); −∞ outside the support.
    fn log_prior(&self, theta: ArrayView2<f64>) -> Result<Array1<f64>> {
        map_log_prior(self, theta, |t| {
            let rho_ok = (RHO_MIN..=1.0 - RHO_MIN).contains(&t[0]);
            let simplex_ok = t[1] >= 0.0 && t[2] >= 0.0 && t[1] + t[2] <= 1.0;
            if rho_ok && simplex_ok {
                std::f64::consts::LN_2 + normal_log_pdf(t[3], LOG_U_MEAN, LOG_U_SD)
            } else {
                f64::NEG_INFINITY
            }
        })
    }
    fn simulate(&self, theta: ArrayView2<f64>, design: ArrayView2<f64>, rng: &mut LindleyRng) -> Result<Array2<f64>> {
        map_simulation(self, theta, design, rng, |t, x, rng, y| {
            let (mean, sd) = Self::latent_mean_sd(t, x);
            y[0] = sigmoid(mean + sd * standard_normal(rng)).clamp(CENSOR_EPS, 1.0 - CENSOR_EPS);
        })
    }
    fn protocol(&self) -> Option<SequentialProtocol> {
        Some(SequentialProtocol { steps: 10, first_design: FIRST_DESIGN.to_vec() })
    }
}

impl DesignProblem for Ces {
    fn log_likelihood(
        &self,
        y: ArrayView2<f64>,
        theta: ArrayView2<f64>,
        design: ArrayView2<f64>,
    ) -> Result<Array1<f64>> {
        map_log_likelihood(self, y, theta, design, |y, t, x| {
            let (mean, sd) = Self::latent_mean_sd(t, x);
            Self::censored_log_density(y[0], mean, sd)
        })
    }
}
