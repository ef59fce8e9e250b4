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

use anyhow::{Context, Result, bail};
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

/// Refuse a table of `rows` × `columns` f64 values (`what`, e.g. "10 simulations") that could not
/// be held in memory: more bytes than the machine has (MemTotal in /proc/meminfo, where there is
/// one) or than an address can count. Catches a mistyped count before it allocates.
pub fn check_fits_in_memory(what: &str, rows: usize, columns: usize) -> Result<()> {
    let bytes =
        rows.checked_mul(columns).and_then(|values| values.checked_mul(8)).filter(|&b| b <= isize::MAX as usize);
    let Some(bytes) = bytes else {
        bail!("{what} of {columns} values each do not fit in any memory; ask for fewer");
    };
    if let Some(total) = total_memory_bytes()
        && bytes > total
    {
        bail!(
            "{what} of {columns} values each need {:.1} GiB in memory, more than this machine's {:.1} GiB; ask for \
             fewer (or run several commands with different seeds)",
            bytes as f64 / 2f64.powi(30),
            total as f64 / 2f64.powi(30)
        );
    }
    Ok(())
}

/// The machine's physical memory in bytes, from /proc/meminfo (None where there is none).
fn total_memory_bytes() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_too_large_for_memory_are_refused_before_allocating() {
        check_fits_in_memory("1000 simulations", 1000, 3).unwrap();
        let error = check_fits_in_memory("n simulations", 5_000_000_000_000_000_000, 3).unwrap_err().to_string();
        assert!(error.contains("do not fit in any memory"), "{error}");
        // 8 PiB: addressable, but more than any machine this runs on has.
        let result = check_fits_in_memory("n samples", 1 << 50, 1);
        if total_memory_bytes().is_some() {
            let error = result.unwrap_err().to_string();
            assert!(error.contains("more than this machine's"), "{error}");
        }
    }
}
