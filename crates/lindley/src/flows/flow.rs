//! Normalizing flows built from one generic layer: a conditioner network (coupling residual net
//! or MADE) that outputs the parameters of an elementwise [`Transformer`].
//!
//! | name | conditioner | transformer |
//! |---|---|---|
//! | NSF (coupling), Durkan et al. 2019 | context-gated residual net on half the variables | spline |
//! | NSF (autoregressive) | MADE | spline |
//! | MAF, Papamakarios et al. 2017 | MADE | affine |
//! | RealNVP / cINN affine coupling, Dinh et al. 2017 | residual net | affine |
//! | diagonal Gaussian | — (conditional affine layer only) | affine |
//!
//! Coupling layers are each followed by an [`LuLinear`] layer (for more than one variable) so that
//! every coordinate is eventually transformed conditionally on every other, as in sbi's NSF.
//! Spline bin-width and bin-height logits are divided by √hidden before the softmax (as nflows
//! does), which slows their effective learning rate relative to the knot derivatives.
//!
//! Direction: `forward` maps data θ to noise z (used by `log_prob`), `inverse` maps z to θ
//! (used by `sample`). log q(θ | c) = log N(z; 0, I) + Σ log|det ∂z/∂θ|.

use burn::prelude::*;
use rand::seq::SliceRandom;

use super::lu::LuLinear;
use super::transformer::Transformer;
use crate::nn::{Made, Mlp, ResidualNet};
use crate::rng::{LindleyRng, substream};
use crate::tensor_ops::{indices, standard_normal_log_prob};

/// Seed of the permuted MADE orders (offset by the dimension; one stream per layer).
const PERMUTATION_SEED: u64 = 0x6d61_6465;

/// The network that produces a layer's transformer parameters.
// Built once per layer and never moved in a hot loop, so the size difference between the variants
// does not matter; burn's Module derive does not support boxed variants.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Conditioner {
    /// Coupling: parameters of the transformed half from the identity half and the context.
    Coupling(ResidualNet),
    /// Autoregressive: parameters of every variable from the earlier ones (in the layer's order).
    Autoregressive(Made),
}

/// One invertible layer of a flow.
#[derive(Module, Debug)]
pub struct FlowLayer {
    conditioner: Conditioner,
    /// Variables this layer transforms (all of them for autoregressive layers).
    transformed: Vec<usize>,
    /// Variables passed through unchanged (coupling layers only).
    identity: Vec<usize>,
    /// Linear mixing applied after the transformer (coupling layers with more than one variable).
    mixing: Option<LuLinear>,
}

/// Shape of a flow's layers; see the module docs for the named combinations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerKind {
    /// Coupling layers with residual-net conditioners (`blocks` residual blocks).
    Coupling {
        /// Residual blocks per conditioner.
        blocks: usize,
    },
    /// MADE conditioners (tanh or ReLU hidden units), with variable orders from [`made_order`].
    Autoregressive {
        /// tanh hidden activation instead of ReLU.
        tanh: bool,
        /// Hidden layers per MADE.
        hidden_layers: usize,
        /// Pseudo-random variable orders after the first layer instead of alternating reversals.
        permuted: bool,
    },
}

/// The variable order (a permutation of 1..=dim) of the MADE in flow layer `layer`: natural in
/// the first layer, then reversed every other layer, or (`permuted`) a pseudo-random permutation
/// that depends only on `dim` and `layer`, redrawn while it equals the previous layer's order (two
/// MADEs in the same order leave the first variable unconditioned twice; in two dimensions this
/// makes the permuted orders the alternating ones).
pub(crate) fn made_order(dim: usize, layer: usize, permuted: bool) -> Vec<usize> {
    let natural: Vec<usize> = (1..=dim).collect();
    if !permuted {
        let mut order = natural;
        if layer % 2 == 1 {
            order.reverse();
        }
        return order;
    }
    let mut order = natural.clone();
    if dim < 2 {
        return order;
    }
    for l in 1..=layer {
        let mut stream = substream(PERMUTATION_SEED + dim as u64, l as u64);
        order = loop {
            let mut candidate = natural.clone();
            candidate.shuffle(&mut stream);
            if candidate != order {
                break candidate;
            }
        };
    }
    order
}

/// A conditional normalizing flow q(θ | c) with a standard-normal base.
#[derive(Module, Debug)]
pub struct Flow {
    /// Optional first layer z = (θ − μ(c)) / s(c) with μ, s from an MLP on the context.
    conditional_affine: Option<Mlp>,
    layers: Vec<FlowLayer>,
    #[module(skip)]
    transformer: Transformer,
    /// Constant factor per transformer parameter (1/√hidden on spline width/height logits).
    parameter_scale: Tensor<1>,
    dim: usize,
}

impl Flow {
    /// A flow over `dim` variables conditioned on `context` features, with `transforms` layers of
    /// `kind` applying `transformer`, conditioners `hidden` units wide.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        dim: usize,
        context: usize,
        transforms: usize,
        kind: LayerKind,
        transformer: Transformer,
        hidden: usize,
        conditional_affine: bool,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Self {
        let p = transformer.params_per_dim();
        // Conditioners start with small outputs so the flow starts near the identity.
        let output_scale = 1e-2;
        let layers = (0..transforms)
            .map(|l| match kind {
                LayerKind::Coupling { blocks } => {
                    let (transformed, identity): (Vec<usize>, Vec<usize>) =
                        if dim == 1 { (vec![0], vec![]) } else { (0..dim).partition(|i| (i + l) % 2 == 0) };
                    // A single variable is conditioned on the context alone.
                    let net = if identity.is_empty() {
                        ResidualNet::new(context, 0, hidden, blocks, transformed.len() * p, output_scale, rng, device)
                    } else {
                        ResidualNet::new(
                            identity.len(),
                            context,
                            hidden,
                            blocks,
                            transformed.len() * p,
                            output_scale,
                            rng,
                            device,
                        )
                    };
                    let mixing = (dim > 1).then(|| LuLinear::identity(dim, device));
                    FlowLayer { conditioner: Conditioner::Coupling(net), transformed, identity, mixing }
                }
                LayerKind::Autoregressive { tanh, hidden_layers, permuted } => {
                    let order = made_order(dim, l, permuted);
                    let widths = vec![hidden; hidden_layers];
                    let made = Made::new(dim, &order, context, &widths, p, output_scale, rng, device).with_tanh(tanh);
                    FlowLayer {
                        conditioner: Conditioner::Autoregressive(made),
                        transformed: (0..dim).collect(),
                        identity: vec![],
                        mixing: None,
                    }
                }
            })
            .collect();
        let conditional_affine =
            conditional_affine.then(|| Mlp::new(context, &[hidden, hidden], 2 * dim, 1e-2, rng, device));
        let scale: Vec<f32> = match transformer {
            Transformer::Spline { bins, .. } => {
                let logit = 1.0 / (hidden as f32).sqrt();
                (0..p).map(|k| if k < 2 * bins { logit } else { 1.0 }).collect()
            }
            Transformer::Affine => vec![1.0; p],
        };
        let parameter_scale = Tensor::from_data(TensorData::new(scale, [p]), device);
        Self { conditional_affine, layers, transformer, parameter_scale, dim }
    }

    /// Number of variables.
    pub fn dim(&self) -> usize {
        self.dim
    }

    fn affine_params(&self, net: &Mlp, context: Tensor<2>) -> Tensor<3> {
        let batch = context.dims()[0];
        net.forward(context).reshape([batch, self.dim, 2])
    }

    /// log q(θ | c) for `theta [B, dim]`, `context [B, C]`.
    pub fn log_prob(&self, theta: Tensor<2>, context: Tensor<2>) -> Tensor<1> {
        let (z, logdet) = self.transform(theta, context);
        standard_normal_log_prob(z) + logdet
    }

    /// The map θ → z to the base space and log|det ∂z/∂θ| per row.
    pub fn transform(&self, theta: Tensor<2>, context: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        let batch = theta.dims()[0];
        let mut z = theta;
        let mut logdet = Tensor::zeros([batch], &z.device());
        if let Some(net) = &self.conditional_affine {
            let (next, ld) = Transformer::Affine.inverse(z, self.affine_params(net, context.clone()));
            z = next;
            logdet = logdet + ld;
        }
        for layer in &self.layers {
            let (next, ld) =
                layer.apply(z, context.clone(), self.transformer, &self.parameter_scale, Direction::Forward);
            z = next;
            logdet = logdet + ld;
        }
        (z, logdet)
    }

    /// Map base noise `z [B, dim]` to samples θ given `context [B, C]` (or one context row shared
    /// by all of z's rows).
    pub fn transform_noise(&self, z: Tensor<2>, context: Tensor<2>) -> Tensor<2> {
        let mut theta = z;
        for layer in self.layers.iter().rev() {
            theta = layer.apply(theta, context.clone(), self.transformer, &self.parameter_scale, Direction::Sample).0;
        }
        if let Some(net) = &self.conditional_affine {
            theta = Transformer::Affine.forward(theta, self.affine_params(net, context)).0;
        }
        theta
    }

    /// One sample per context row.
    pub fn sample(&self, context: Tensor<2>, rng: &mut LindleyRng) -> Tensor<2> {
        let batch = context.dims()[0];
        self.sample_shared(context, batch, rng)
    }

    /// `n` samples for one context row `[1, C]` (or one per row of a `[n, C]` context).
    pub fn sample_shared(&self, context: Tensor<2>, n: usize, rng: &mut LindleyRng) -> Tensor<2> {
        let z = super::standard_normal(n, self.dim, rng, &context.device());
        self.transform_noise(z, context)
    }
}

/// Which way a layer is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// θ → z with log|det ∂z/∂θ| (density evaluation).
    Forward,
    /// z → θ without the log-determinant (sampling).
    Sample,
}

impl FlowLayer {
    /// The layer's map θ → z with its log-det, or z → θ (whose log-det is returned as zeros).
    fn apply(
        &self,
        input: Tensor<2>,
        context: Tensor<2>,
        transformer: Transformer,
        scale: &Tensor<1>,
        direction: Direction,
    ) -> (Tensor<2>, Tensor<1>) {
        let batch = input.dims()[0];
        let inverse = direction == Direction::Sample;
        let run = |x: Tensor<2>, params: Tensor<3>| {
            let params = params * scale.clone().reshape([1, 1, transformer.params_per_dim()]);
            match direction {
                Direction::Forward => transformer.forward(x, params),
                Direction::Sample => (transformer.invert(x, params), Tensor::zeros([batch], &scale.device())),
            }
        };
        // Only a coupling net with an identity half broadcasts a shared context row itself.
        let shares_context = matches!(&self.conditioner, Conditioner::Coupling(_)) && !self.identity.is_empty();
        let context =
            if context.dims()[0] == 1 && batch > 1 && !shares_context { context.repeat_dim(0, batch) } else { context };
        match &self.conditioner {
            Conditioner::Coupling(net) => {
                // z → θ undoes the mixing first; θ → z applies it last.
                let (input, mixing_logdet) = match (&self.mixing, inverse) {
                    (Some(lu), true) => {
                        let (v, ld) = lu.inverse(input);
                        (v, Some(ld))
                    }
                    _ => (input, None),
                };
                let device = input.device();
                let moving = input.clone().select(1, indices(&self.transformed, &device));
                let (params, fixed) = if self.identity.is_empty() {
                    (net.forward(context, None), None)
                } else {
                    let fixed = input.select(1, indices(&self.identity, &device));
                    (net.forward(fixed.clone(), Some(context)), Some(fixed))
                };
                let params = params.reshape([batch, self.transformed.len(), transformer.params_per_dim()]);
                let (moved, logdet) = run(moving, params);
                let output = match fixed {
                    None => moved,
                    Some(fixed) => {
                        // Undo the [transformed, identity] concatenation order.
                        let mut position = vec![0usize; self.transformed.len() + self.identity.len()];
                        for (k, &i) in self.transformed.iter().chain(&self.identity).enumerate() {
                            position[i] = k;
                        }
                        Tensor::cat(vec![moved, fixed], 1).select(1, indices(&position, &device))
                    }
                };
                match (&self.mixing, inverse) {
                    (Some(lu), false) => {
                        let (z, ld) = lu.forward(output);
                        (z, logdet + ld)
                    }
                    _ => (output, logdet + mixing_logdet.unwrap_or_else(|| Tensor::zeros([batch], &device))),
                }
            }
            Conditioner::Autoregressive(made) => {
                if !inverse {
                    let params = made.forward(Tensor::cat(vec![input.clone(), context], 1));
                    return run(input, params);
                }
                // Invert one variable per pass: after pass k the first k in the order are exact.
                let dim = self.transformed.len();
                let mut x = Tensor::zeros([batch, dim], &input.device());
                for _ in 0..dim {
                    let params = made.forward(Tensor::cat(vec![x, context.clone()], 1));
                    x = run(input.clone(), params).0;
                }
                let params = made.forward(Tensor::cat(vec![x, context], 1));
                run(input, params)
            }
        }
    }
}
