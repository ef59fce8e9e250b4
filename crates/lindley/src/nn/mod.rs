//! Neural-network building blocks: dense layers (optionally masked, for MADE), MLPs, residual
//! networks and the embedding nets that summarise x before it conditions an estimator.
//!
//! Weights are initialised from lindley's seeded RNG (not burn's global one) so that the same
//! seed gives the same network.

mod dense;
pub mod embedding;
mod made;

pub use dense::{Dense, Mlp, ResidualNet};
pub use embedding::{EmbeddingConfig, EmbeddingKind, EmbeddingNet, context_standardizer};
pub use made::Made;
