//! Normalizing flows built from one generic layer: a conditioner network (coupling residual net
//! or MADE) that outputs the parameters of an elementwise [`Transformer`].
//!
//! | name | conditioner | transformer |
//! |---|---|---|
//! | NSF (coupling), Durkan et al. 2019 | residual net on half the variables | spline |
//! | NSF (autoregressive) | MADE | spline |
//! | MAF, Papamakarios et al. 2017 | MADE | affine |
//! | RealNVP / cINN affine coupling, Dinh et al. 2017 | residual net | affine |
//! | diagonal Gaussian | — (conditional affine layer only) | affine |
//!
//! Direction: `forward` maps data θ to noise z (used by `log_prob`), `inverse` maps z to θ
//! (used by `sample`). log q(θ | c) = log N(z; 0, I) + Σ log|det ∂z/∂θ|.

use burn::prelude::*;

use super::transformer::Transformer;
use crate::nn::{Made, Mlp, ResidualNet};
use crate::rng::LindleyRng;
use crate::tensor_ops::{indices, standard_normal_log_prob};

/// The network that produces a layer's transformer parameters.
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
}

/// Shape of a flow's layers; see the module docs for the named combinations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerKind {
    /// Coupling layers with residual-net conditioners (`blocks` residual blocks).
    Coupling {
        /// Residual blocks per conditioner.
        blocks: usize,
    },
    /// MADE conditioners with two hidden layers; the variable order is reversed every layer.
    Autoregressive,
}

/// A conditional normalizing flow q(θ | c) with a standard-normal base.
#[derive(Module, Debug)]
pub struct Flow {
    /// Optional first layer z = (θ − μ(c)) / s(c) with μ, s from an MLP on the context.
    conditional_affine: Option<Mlp>,
    layers: Vec<FlowLayer>,
    #[module(skip)]
    transformer: Transformer,
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
                    let net = ResidualNet::new(
                        identity.len() + context,
                        hidden,
                        blocks,
                        transformed.len() * p,
                        output_scale,
                        rng,
                        device,
                    );
                    FlowLayer { conditioner: Conditioner::Coupling(net), transformed, identity }
                }
                LayerKind::Autoregressive => {
                    let order: Vec<usize> = if l % 2 == 0 { (1..=dim).collect() } else { (1..=dim).rev().collect() };
                    let made = Made::new(dim, &order, context, &[hidden, hidden], p, output_scale, rng, device);
                    FlowLayer {
                        conditioner: Conditioner::Autoregressive(made),
                        transformed: (0..dim).collect(),
                        identity: vec![],
                    }
                }
            })
            .collect();
        let conditional_affine =
            conditional_affine.then(|| Mlp::new(context, &[hidden, hidden], 2 * dim, 1e-2, rng, device));
        Self { conditional_affine, layers, transformer, dim }
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
            let (next, ld) = layer.apply(z, context.clone(), self.transformer, false);
            z = next;
            logdet = logdet + ld;
        }
        (z, logdet)
    }

    /// Map base noise `z [B, dim]` to samples θ given `context [B, C]`.
    pub fn transform_noise(&self, z: Tensor<2>, context: Tensor<2>) -> Tensor<2> {
        let mut theta = z;
        for layer in self.layers.iter().rev() {
            theta = layer.apply(theta, context.clone(), self.transformer, true).0;
        }
        if let Some(net) = &self.conditional_affine {
            theta = Transformer::Affine.forward(theta, self.affine_params(net, context)).0;
        }
        theta
    }

    /// One sample per context row.
    pub fn sample(&self, context: Tensor<2>, rng: &mut LindleyRng) -> Tensor<2> {
        let batch = context.dims()[0];
        let z = super::standard_normal(batch, self.dim, rng, &context.device());
        self.transform_noise(z, context)
    }
}

impl FlowLayer {
    /// The layer's map θ → z (`inverse = false`) or z → θ, with its log-det.
    fn apply(
        &self,
        input: Tensor<2>,
        context: Tensor<2>,
        transformer: Transformer,
        inverse: bool,
    ) -> (Tensor<2>, Tensor<1>) {
        let batch = input.dims()[0];
        let run = |x: Tensor<2>, params: Tensor<3>| {
            if inverse { transformer.inverse(x, params) } else { transformer.forward(x, params) }
        };
        match &self.conditioner {
            Conditioner::Coupling(net) => {
                let device = input.device();
                let moving = input.clone().select(1, indices(&self.transformed, &device));
                let (conditioner_input, fixed) = if self.identity.is_empty() {
                    (context, None)
                } else {
                    let fixed = input.select(1, indices(&self.identity, &device));
                    (Tensor::cat(vec![fixed.clone(), context], 1), Some(fixed))
                };
                let params = net.forward(conditioner_input).reshape([
                    batch,
                    self.transformed.len(),
                    transformer.params_per_dim(),
                ]);
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
                (output, logdet)
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
