//! Bayesian optimal experimental design (BOED).
//!
//! A design ξ is scored by its expected information gain
//! EIG(ξ) = E_{p(θ)p(y|θ,ξ)}[log p(y|θ,ξ) − log p(y|ξ)] (Lindley 1956).
//!
//! - [`problems`]: benchmark design problems with an explicit likelihood p(y | θ, ξ)
//!   (linear-Gaussian with analytic EIG, source finding, pharmacokinetic, CES, the vOED nonlinear
//!   1-D model), looked up by name with [`problems::problem`]; [`problems::ParticlePrior`]
//!   replaces a problem's prior by parameter samples or by a true-likelihood importance-resampling
//!   posterior ("posterior as new prior").
//! - [`eig`]: EIG estimators that use the true likelihood — nested Monte Carlo, the prior
//!   contrastive lower bound (PCE) and its matching upper bound (sNMC), for single designs and for
//!   whole trajectories (sPCE / sNMC of Foster et al. 2021), streamed in chunks so that very large
//!   numbers of contrastive samples fit in bounded memory; and learned bounds with a critic
//!   T(θ, y, ξ) ([`eig::infonce`]: InfoNCE, NWJ), trained online and differentiable in ξ through a
//!   problem's pathwise simulator ([`problems::DifferentiableProblem`]); and learned-density
//!   estimators with flows amortised over designs ([`eig::density`]: the Barber–Agakov lower bound
//!   with a posterior flow, the NLE direct estimator, the marginal upper bound); and contrastive
//!   bounds with a learned likelihood flow as the critic ([`eig::likelihood`]: NLE contrastive,
//!   INCE-λ). The NPE-NRE hybrid is the critic trained with BCE
//!   ([`eig::CriticObjective::Bce`]) and scored with InfoNCE, with θ drawn from posterior samples
//!   ([`problems::ParticlePrior`]).
//! - [`optimize`]: design optimisation by multiple parallel restart gradient ascent (MPR-GA).
//! - [`sequential`]: the sequential loop — design by MPR-GA on the current belief, measure at a
//!   hidden true θ, update the particle posterior with the true likelihood, design again — and
//!   its evaluation by sPCE over rollouts against a random-design baseline.

pub mod eig;
pub mod npe_posterior;
pub mod optimize;
pub mod problems;
pub mod sequential;

#[cfg(test)]
mod learned_tests;
#[cfg(test)]
mod tests;
