//! One module per subcommand, plus the pieces they share: resolving where simulations and the
//! prior come from, and reading observations.

pub mod abc;
pub mod bench;
pub mod demo;
pub mod design;
pub mod design_free;
pub mod diagnose;
pub mod estimators;
pub mod plot;
pub mod sample;
pub mod sequential;
pub mod simulate;
pub mod tasks;
pub mod train;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lindley::distributions::Distribution;
use lindley::simulators::{Task, sbibm};
use ndarray::Array1;

/// Read a prior from a TOML or JSON file, e.g. `family = "uniform"`, `low = [-1, -1]`,
/// `high = [1, 1]`, and check its parameters.
pub fn read_prior(path: &Path) -> Result<Distribution> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read the prior file {}", path.display()))?;
    let prior: Distribution = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).with_context(|| format!("{}: not a valid prior", path.display()))?
    } else {
        toml::from_str(&text).with_context(|| format!("{}: not a valid prior", path.display()))?
    };
    prior.validate().with_context(|| format!("{}: invalid prior", path.display()))?;
    Ok(prior)
}

/// Read a settings file (TOML) over `T::default()` (see [`crate::settings`]), or return the
/// defaults when no file is given.
pub fn read_config<T: serde::Serialize + serde::de::DeserializeOwned + Default>(path: Option<&PathBuf>) -> Result<T> {
    crate::settings::read_over(path, T::default())
}

/// Look up a built-in task by name.
pub fn task(name: &str) -> Result<Task> {
    Ok(sbibm::task(name)?)
}

/// Read one observation: a CSV file with a header row and one data row (like sbibm's
/// observation.csv), or a `.npy` vector, of `expected` finite values.
pub fn read_observation(path: &Path, expected: usize) -> Result<Array1<f64>> {
    Ok(lindley::io::read_observation(path, expected)?)
}
