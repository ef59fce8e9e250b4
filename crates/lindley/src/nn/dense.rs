use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{leaky_relu, relu, sigmoid};
use rand::Rng;

use crate::rng::LindleyRng;

/// An affine layer y = x·W + b, optionally with a fixed 0/1 mask on W (used by MADE).
///
/// Initialised like PyTorch's `nn.Linear`: W and b uniform in ±1/√fan_in, times `scale`
/// (a small `scale` starts a flow near the identity).
#[derive(Module, Debug)]
pub struct Dense {
    /// Weight matrix `[inputs, outputs]`.
    pub weight: Param<Tensor<2>>,
    /// Bias `[outputs]`.
    pub bias: Param<Tensor<1>>,
    /// Constant 0/1 mask `[inputs, outputs]` multiplied into the weights (not a parameter).
    mask: Option<Tensor<2>>,
}

impl Dense {
    /// A dense layer with uniform ±scale/√inputs initialisation.
    pub fn new(inputs: usize, outputs: usize, scale: f64, rng: &mut LindleyRng, device: &Device) -> Self {
        let bound = scale / (inputs.max(1) as f64).sqrt();
        let mut uniform = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..=bound) as f32).collect() };
        let weight = Tensor::from_data(TensorData::new(uniform(inputs * outputs), [inputs, outputs]), device);
        let bias = Tensor::from_data(TensorData::new(uniform(outputs), [outputs]), device);
        Self { weight: Param::from_tensor(weight), bias: Param::from_tensor(bias), mask: None }
    }

    /// The same layer with a fixed connectivity mask (`mask[i][o]` ∈ {0, 1}).
    pub fn with_mask(mut self, mask: Vec<Vec<bool>>, device: &Device) -> Self {
        let [inputs, outputs] = self.weight.val().dims();
        let flat: Vec<f32> = mask.iter().flatten().map(|&m| if m { 1.0 } else { 0.0 }).collect();
        assert_eq!(flat.len(), inputs * outputs, "mask shape must match the weight shape");
        self.mask = Some(Tensor::from_data(TensorData::new(flat, [inputs, outputs]), device));
        self
    }

    /// Apply the layer to `[batch, inputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let weight = match &self.mask {
            Some(mask) => self.weight.val() * mask.clone(),
            None => self.weight.val(),
        };
        x.matmul(weight) + self.bias.val().unsqueeze_dim(0)
    }
}

/// A multilayer perceptron with ReLU between layers and a linear output.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Dense>,
}

impl Mlp {
    /// `inputs → hidden[0] → … → outputs`; the output layer is scaled by `output_scale`.
    pub fn new(
        inputs: usize,
        hidden: &[usize],
        outputs: usize,
        output_scale: f64,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Self {
        let mut sizes = vec![inputs];
        sizes.extend_from_slice(hidden);
        sizes.push(outputs);
        let last = sizes.len() - 2;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let scale = if i == last { output_scale } else { 1.0 };
                Dense::new(w[0], w[1], scale, rng, device)
            })
            .collect();
        Self { layers }
    }

    /// Apply to `[batch, inputs]`.
    pub fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }

    /// Apply to `[batch, inputs]` with Leaky-ReLU, max(x, `negative_slope`·x), between layers
    /// instead of ReLU (e.g. slope 0.1 for the VAE estimators of [`crate::inference::vae`]).
    pub fn forward_leaky(&self, mut x: Tensor<2>, negative_slope: f64) -> Tensor<2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = leaky_relu(x, negative_slope);
            }
        }
        x
    }
}

/// A residual network with optional context gating, as used by neural spline flows' coupling
/// conditioners (Durkan et al. 2019; nflows' `ResidualNet`):
/// h₀ = W_in·[x, c]; each block hₖ₊₁ = hₖ + (W₂·relu(W₁·relu(hₖ))) ⊙ σ(W_c·c) (the gate is omitted
/// without context); output = W_out·h. The second layer of each block starts near zero, so every
/// block starts close to the identity.
#[derive(Module, Debug)]
pub struct ResidualNet {
    input: Dense,
    blocks: Vec<ResidualBlock>,
    output: Dense,
}

/// One block of a [`ResidualNet`].
#[derive(Module, Debug)]
struct ResidualBlock {
    first: Dense,
    second: Dense,
    gate: Option<Dense>,
}

impl ResidualNet {
    /// `inputs` (+ `context`) → `hidden` (with `blocks` residual blocks) → `outputs`; the output
    /// layer is scaled by `output_scale`. With `context == 0` the net takes `inputs` only.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        inputs: usize,
        context: usize,
        hidden: usize,
        blocks: usize,
        outputs: usize,
        output_scale: f64,
        rng: &mut LindleyRng,
        device: &Device,
    ) -> Self {
        let input = Dense::new(inputs + context, hidden, 1.0, rng, device);
        let blocks = (0..blocks)
            .map(|_| ResidualBlock {
                first: Dense::new(hidden, hidden, 1.0, rng, device),
                second: Dense::new(hidden, hidden, 1e-2, rng, device),
                gate: (context > 0).then(|| Dense::new(context, hidden, 1.0, rng, device)),
            })
            .collect();
        let output = Dense::new(hidden, outputs, output_scale, rng, device);
        Self { input, blocks, output }
    }

    /// Apply to `x [batch, inputs]` with `context [batch, context]` (`None` when built without).
    /// A context of one row is shared by every row of `x`: its contributions (to the first layer
    /// and to the gates) are computed once and broadcast, which is what makes drawing many
    /// posterior samples for one observation cheap.
    pub fn forward(&self, x: Tensor<2>, context: Option<Tensor<2>>) -> Tensor<2> {
        let mut h = match &context {
            Some(c) if c.dims()[0] == 1 && x.dims()[0] != 1 => {
                let inputs = x.dims()[1];
                let weight = self.input.weight.val();
                let total = weight.dims()[0];
                let from_context = c.clone().matmul(weight.clone().slice(s![inputs..total, ..]))
                    + self.input.bias.val().unsqueeze_dim(0);
                x.matmul(weight.slice(s![0..inputs, ..])) + from_context
            }
            Some(c) => self.input.forward(Tensor::cat(vec![x, c.clone()], 1)),
            None => self.input.forward(x),
        };
        for block in &self.blocks {
            let mut update = block.second.forward(relu(block.first.forward(relu(h.clone()))));
            if let (Some(gate), Some(c)) = (&block.gate, &context) {
                update = update * sigmoid(gate.forward(c.clone()));
            }
            h = h + update;
        }
        self.output.forward(h)
    }
}
