//! `lindley tasks`: the built-in tasks and their dimensions.

use anyhow::Result;
use lindley::simulators::sbibm;

/// Print one line per task: name, dim θ, dim x, and its description.
pub fn run() -> Result<()> {
    println!("{:<26} {:>6} {:>6}  description", "task", "dim θ", "dim x");
    for name in sbibm::NAMES {
        let task = sbibm::task(name)?;
        println!("{:<26} {:>6} {:>6}  {}", task.name, task.prior.dim(), task.data_names.len(), task.description);
    }
    Ok(())
}
