//! Model persistence: one safetensors file per model. The weights are named by their module path
//! (e.g. `density.Flow.layers.0.conditioner.Coupling.input.weight`), and the safetensors header's
//! metadata holds a readable JSON description under the key `lindley` — architecture, dims,
//! standardisation, parameter names, format and library version — from which the model is rebuilt
//! before its weights are loaded. `head -c 4096 model.safetensors` shows it.
//!
//! Loading checks everything it can and says what is wrong: not a safetensors file, truncated,
//! missing header, another format version, and weights that do not fit the architecture the header
//! describes (missing, extra, or differently shaped tensors).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::tensor_ops::tensor_to_vec;
use crate::{Error, Result};

/// Metadata key under which the JSON header is stored.
const HEADER_KEY: &str = "lindley";

/// Write `module`'s parameters and `header` (any serialisable description) to `path`, atomically
/// (a temporary file renamed into place).
pub fn save<M: Module, H: Serialize>(path: &Path, header: &H, module: &M) -> Result<()> {
    let mut collect = Collect { path: Vec::new(), tensors: BTreeMap::new() };
    module.visit(&mut collect);
    let header = serde_json::to_string_pretty(header)
        .map_err(|e| Error::Model { path: path.into(), message: format!("cannot encode the header: {e}") })?;
    let views: Vec<(String, TensorView<'_>)> = collect
        .tensors
        .iter()
        .map(|(name, (shape, bytes))| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes).expect("byte length matches shape");
            (name.clone(), view)
        })
        .collect();
    let metadata = HashMap::from([(HEADER_KEY.to_string(), header)]);
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Model { path: path.into(), message: format!("cannot encode the weights: {e}") })?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let temporary = path.with_extension("safetensors.tmp");
    std::fs::write(&temporary, bytes).map_err(|e| Error::io(&temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| Error::io(path, e))
}

/// Read the JSON header of a model file without loading the weights.
pub fn read_header<H: DeserializeOwned>(path: &Path) -> Result<H> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    header_of(path, &bytes)
}

fn header_of<H: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<H> {
    let model_error = |message: String| Error::Model { path: path.into(), message };
    if bytes.is_empty() {
        return Err(model_error("the file is empty".into()));
    }
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| {
        model_error(format!("not a readable safetensors file ({e}); is it truncated or not a lindley model?"))
    })?;
    let json = metadata.metadata().as_ref().and_then(|m| m.get(HEADER_KEY)).ok_or_else(|| {
        model_error("safetensors file without a lindley header; it was not written by lindley".into())
    })?;
    serde_json::from_str(json)
        .map_err(|e| model_error(format!("the lindley header does not describe a model this version can read: {e}")))
}

/// Load the weights of `path` into `module`, which must have been built from the file's header.
/// Every parameter of the module must be present with the same shape, and the file must hold no
/// other tensors.
pub fn load_weights<M: Module>(path: &Path, module: M) -> Result<M> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let model_error = |message: String| Error::Model { path: path.into(), message };
    let file =
        SafeTensors::deserialize(&bytes).map_err(|e| model_error(format!("corrupt or truncated weights ({e})")))?;
    let mut expected = Collect { path: Vec::new(), tensors: BTreeMap::new() };
    module.visit(&mut expected);
    let names: Vec<String> = file.names().into_iter().map(String::from).collect();
    let described = embedding_variants(expected.tensors.keys());
    let stored = embedding_variants(names.iter());
    if described != stored {
        return Err(model_error(format!(
            "the header describes {} but the weights hold {}; header and weights come from different models",
            describe_embeddings(&described),
            describe_embeddings(&stored)
        )));
    }
    for name in &names {
        if !expected.tensors.contains_key(name) {
            return Err(model_error(format!("the file holds tensor '{name}', which this architecture does not have")));
        }
    }
    let mut values = HashMap::new();
    for (name, (shape, _)) in &expected.tensors {
        let view = file.tensor(name).map_err(|_| {
            model_error(format!("tensor '{name}' is missing: the weights were made for another architecture"))
        })?;
        if view.dtype() != Dtype::F32 || view.shape() != shape.as_slice() {
            return Err(model_error(format!(
                "tensor '{name}' has {:?} {:?}, the architecture expects F32 {:?}",
                view.dtype(),
                view.shape(),
                shape
            )));
        }
        let floats: Vec<f32> =
            view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        if floats.iter().any(|v| !v.is_finite()) {
            return Err(model_error(format!("tensor '{name}' holds NaN or infinite values")));
        }
        values.insert(name.clone(), (shape.clone(), floats));
    }
    Ok(module.map(&mut Assign { path: Vec::new(), values }))
}

/// The embedding-net variants (module variant names such as `DeepSets`) that tensor names hold
/// under a module named `embedding`, e.g. `Cnn` in `embedding.Cnn.convs.0.weight`.
fn embedding_variants<'a>(names: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    names
        .filter_map(|name| {
            let mut parts = name.split('.');
            parts.by_ref().find(|p| *p == "embedding")?;
            parts.next().map(String::from)
        })
        .collect()
}

/// "no embedding net", "embedding net 'deepsets'", ... for an error message.
fn describe_embeddings(variants: &BTreeSet<String>) -> String {
    if variants.is_empty() {
        return "no embedding net".into();
    }
    let names: Vec<String> = variants
        .iter()
        .map(|v| match crate::nn::EmbeddingKind::from_variant(v) {
            Some(kind) => kind.name().to_string(),
            None => format!("of unknown kind {v}"),
        })
        .collect();
    format!("embedding net '{}'", names.join("' + '"))
}

/// Collects every float parameter as (shape, little-endian f32 bytes) keyed by module path.
struct Collect {
    path: Vec<String>,
    tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)>,
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let bytes = tensor_to_vec(tensor).iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.insert(self.path.join("."), (shape, bytes));
    }
}

/// Replaces every float parameter by the value stored under its module path.
struct Assign {
    path: Vec<String>,
    values: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl ModuleMapper for Assign {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let key = self.path.join(".");
        // Presence and shapes were checked against the same traversal before mapping.
        let (shape, values) = self.values.remove(&key).expect("checked before mapping");
        param.map(|old| {
            let device = old.device();
            let dims: [usize; D] = shape.try_into().expect("checked rank");
            let fresh = Tensor::<D>::from_data(TensorData::new(values, dims), &device);
            if old.is_require_grad() { fresh.require_grad() } else { fresh }
        })
    }
}
