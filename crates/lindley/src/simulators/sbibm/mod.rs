//! The ten tasks of the SBI benchmark suite sbibm (Lueckmann et al., "Benchmarking
//! Simulation-Based Inference", AISTATS 2021), with the priors, simulators and fixed constants of
//! the sbibm 1.1.0 package, and its vendored observations and reference posterior samples.
//!
//! Data live under [`data_dir`]: `<task>/obs<k>/{observation.csv, true_parameters.csv,
//! reference_posterior_samples.csv.bz2}`. `slcp_distractors` and `bernoulli_glm_raw` have their
//! own observations (100 values each) but share θ, and so the true parameters and reference
//! samples, with `slcp` and `bernoulli_glm`. The fixed constants of `bernoulli_glm` (design
//! matrix) and `slcp_distractors` (Student-t mixture, permutation) are compiled into the library
//! from the same folder (see `data/tools/generate_sbibm_constants.py`).

mod bernoulli_glm;
mod gaussian;
mod ode;
mod slcp;
mod two_moons;

#[cfg(test)]
mod tests;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{Array1, Array2};

use crate::distributions::Distribution;
use crate::io::csv;
use crate::simulators::{Simulator, Task};
use crate::{Error, Result};

/// The task names, in sbibm's order.
pub const NAMES: [&str; 10] = [
    "gaussian_linear",
    "gaussian_linear_uniform",
    "slcp",
    "slcp_distractors",
    "bernoulli_glm",
    "bernoulli_glm_raw",
    "gaussian_mixture",
    "two_moons",
    "sir",
    "lotka_volterra",
];

/// The sbibm task `name` (one of [`NAMES`]); [`Error::InvalidInput`] listing the valid names
/// otherwise.
pub fn task(name: &str) -> Result<Task> {
    match name {
        "gaussian_linear" => Ok(gaussian::gaussian_linear()),
        "gaussian_linear_uniform" => Ok(gaussian::gaussian_linear_uniform()),
        "slcp" => Ok(slcp::slcp()),
        "slcp_distractors" => slcp::slcp_distractors(),
        "bernoulli_glm" => bernoulli_glm::bernoulli_glm(),
        "bernoulli_glm_raw" => bernoulli_glm::bernoulli_glm_raw(),
        "gaussian_mixture" => Ok(gaussian::gaussian_mixture()),
        "two_moons" => Ok(two_moons::two_moons()),
        "sir" => Ok(ode::sir()),
        "lotka_volterra" => Ok(ode::lotka_volterra()),
        _ => Err(Error::InvalidInput(format!("unknown sbibm task '{name}'; valid names: {}", NAMES.join(", ")))),
    }
}

/// The folder of the vendored sbibm data: `$LINDLEY_DATA/sbibm` if the environment variable
/// `LINDLEY_DATA` is set, else the repository's `data/sbibm`.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("LINDLEY_DATA") {
        Some(root) => PathBuf::from(root).join("sbibm"),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/sbibm")),
    }
}

/// One observation of a task with its ground truth: x_o, the θ that generated it, and samples
/// of the reference posterior p(θ | x_o).
#[derive(Clone, Debug)]
pub struct Reference {
    /// The observed data x_o (`data_dim` values).
    pub observation: Array1<f64>,
    /// The parameters that generated x_o (`parameter_dim` values).
    pub true_parameters: Array1<f64>,
    /// Reference posterior samples `[n, parameter_dim]` (10,000 for the vendored data).
    pub posterior_samples: Array2<f64>,
    /// The task's parameter names (the columns of `posterior_samples`).
    pub parameter_names: Vec<String>,
}

/// The task whose θ-side files (true parameters, reference samples) a task uses.
fn parameter_folder(task: &str) -> &str {
    match task {
        "slcp_distractors" => "slcp",
        "bernoulli_glm_raw" => "bernoulli_glm",
        other => other,
    }
}

/// The three files of observation `observation` (1-based) of `task`: observation, true
/// parameters, reference posterior samples.
fn reference_paths(task: &str, observation: usize) -> [PathBuf; 3] {
    let own = data_dir().join(task).join(format!("obs{observation}"));
    let shared = data_dir().join(parameter_folder(task)).join(format!("obs{observation}"));
    [
        own.join("observation.csv"),
        shared.join("true_parameters.csv"),
        shared.join("reference_posterior_samples.csv.bz2"),
    ]
}

/// Load observation `observation` (1-based; 1..=5 are vendored) of `task` from [`data_dir`].
/// Errors: unknown task ([`Error::InvalidInput`]), missing file ([`Error::Io`] with its path),
/// or files whose shapes do not fit the task ([`Error::Parse`]).
pub fn reference(task: &str, observation: usize) -> Result<Reference> {
    let definition = self::task(task)?;
    let parameter_dim = definition.parameter_names.len();
    let data_dim = definition.simulator.data_dim();
    let [observation_path, parameters_path, samples_path] = reference_paths(task, observation);
    let observation = single_row(&observation_path, data_dim)?;
    let true_parameters = single_row(&parameters_path, parameter_dim)?;
    let samples = csv::read(&samples_path)?;
    if samples.values.ncols() != parameter_dim || samples.values.nrows() == 0 {
        return Err(Error::parse(
            &samples_path,
            format!("expected samples with {parameter_dim} columns, got {:?}", samples.values.dim()),
        ));
    }
    Ok(Reference {
        observation,
        true_parameters,
        posterior_samples: samples.values,
        parameter_names: definition.parameter_names,
    })
}

/// Whether `task` is an sbibm task whose reference files for observation 1 are present in
/// [`data_dir`].
pub fn has_reference(task: &str) -> bool {
    NAMES.contains(&task) && reference_paths(task, 1).iter().all(|path| path.is_file())
}

/// Read a CSV file with exactly one row of `columns` values.
fn single_row(path: &Path, columns: usize) -> Result<Array1<f64>> {
    let table = csv::read(path)?;
    if table.values.dim() != (1, columns) {
        return Err(Error::parse(path, format!("expected one row of {columns} values, got {:?}", table.values.dim())));
    }
    Ok(table.values.row(0).to_owned())
}

/// `prefix_1, …, prefix_n`.
fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}_{i}")).collect()
}

/// A task with data names `data_1, …, data_D` (the columns of sbibm's observation files).
fn sbibm_task(
    name: &str,
    description: &str,
    prior: Distribution,
    simulator: Arc<dyn Simulator>,
    parameter_names: Vec<String>,
) -> Task {
    let data_names = numbered("data", simulator.data_dim());
    Task { name: name.into(), description: description.into(), prior, simulator, parameter_names, data_names }
}

/// Parse a table of constants compiled into the library; `path` (relative to the repository)
/// names it in errors.
fn parse_embedded(reader: impl BufRead, path: &str) -> Result<Array2<f64>> {
    Ok(csv::parse(reader, Path::new(path))?.values)
}

/// The error for compiled-in constants of `task` that could not be parsed.
fn constants_error(task: &str, message: String) -> Error {
    Error::InvalidInput(format!("the vendored sbibm constants of {task} are invalid: {message}"))
}
