//! A simulator that is a program in any language: lindley runs it on batches of θ and reads back x.
//!
//! # Protocol
//!
//! θ is split into batches of `batch_size` rows. For each batch lindley starts the command once and
//! - writes the batch's θ rows to the program's **stdin** as CSV with a header row
//!   `theta_1,...,theta_P` (numbers printed so that they round-trip exactly),
//! - sets the environment variables `LINDLEY_SEED` (this batch's seed, an integer in [0, 2³¹), derived
//!   from the simulation seed and the batch index with [`substream`](crate::rng::substream), so that
//!   it can seed numpy, R's `set.seed` or any other generator) and `LINDLEY_BATCH` (the zero-based batch
//!   index),
//! - reads x from the program's **stdout**: one line per θ row, in the same order, with `data_dim`
//!   numbers separated by commas (or by spaces when a line has no comma). A first line that does
//!   not parse as numbers is taken as a header and skipped; empty lines are skipped. `nan`, `NaN`,
//!   `NA` and `inf` are accepted: a failed simulation may print NaN, and such rows are dropped
//!   later (see [`Dataset::drop_nonfinite`](crate::data::Dataset::drop_nonfinite)).
//!
//! **File mode**: if an argument of the command contains `{input}` or `{output}`, those are
//! replaced by the paths of temporary CSV files; the program then reads θ from the `{input}` file
//! (same CSV as above, instead of stdin) and/or writes x to the `{output}` file (instead of stdout).
//!
//! A program that exits with a non-zero status, prints the wrong number of rows or values, or
//! runs past `timeout_seconds` (it is then killed, together with the processes it started) fails
//! the whole simulation with an [`Error::Simulator`] that names the command and the batch and, for a
//! failed program, quotes the last lines of its stderr. With `workers > 1`, that many batches run
//! as parallel processes; results do not depend on `workers` when the program uses `LINDLEY_SEED`.
//!
//! # Example simulator (Python)
//!
//! ```python
//! import os, sys, numpy as np
//! rng = np.random.default_rng(int(os.environ["LINDLEY_SEED"]))
//! theta = np.loadtxt(sys.stdin, delimiter=",", skiprows=1, ndmin=2)
//! x = theta + 0.1 * rng.standard_normal(theta.shape)
//! np.savetxt(sys.stdout, x, delimiter=",")
//! ```
//!
//! run as `ExternalConfig::new(vec!["python3".into(), "sim.py".into()], 2, 2)`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2, Axis, s};
use rand::RngCore;

use super::{Simulator, check_parameter_shape};
use crate::rng::substream;
use crate::{Error, Result};

/// How many of the last stderr lines an error message quotes.
const STDERR_LINES: usize = 10;

/// How to run an external simulator program (see the [module documentation](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalConfig {
    /// The program and its arguments, e.g. `["python3", "sim.py"]`; arguments may contain the
    /// placeholders `{input}` and `{output}` (file mode).
    pub command: Vec<String>,
    /// Number of parameters P per θ row.
    pub parameter_dim: usize,
    /// Number of values D the program prints per row.
    pub data_dim: usize,
    /// θ rows per program run (default 1000).
    pub batch_size: usize,
    /// Number of program runs at the same time (default 1).
    pub workers: usize,
    /// Seconds one run may take before it is killed (default: no limit).
    pub timeout_seconds: Option<f64>,
    /// Folder the program runs in (default: lindley's current folder).
    pub working_dir: Option<PathBuf>,
}

impl ExternalConfig {
    /// A configuration with the defaults: batches of 1000 rows, one worker, no timeout.
    pub fn new(command: Vec<String>, parameter_dim: usize, data_dim: usize) -> Self {
        ExternalConfig {
            command,
            parameter_dim,
            data_dim,
            batch_size: 1000,
            workers: 1,
            timeout_seconds: None,
            working_dir: None,
        }
    }
}

/// A [`Simulator`] that runs an external program per batch of θ (see the [module documentation](self)).
#[derive(Clone, Debug)]
pub struct ExternalSimulator {
    config: ExternalConfig,
}

impl ExternalSimulator {
    /// Check the configuration: a non-empty command, positive dimensions, batch size and worker
    /// count, and a positive, finite timeout if one is set.
    pub fn new(config: ExternalConfig) -> Result<Self> {
        if config.command.first().is_none_or(|program| program.trim().is_empty()) {
            return Err(Error::InvalidInput("the external simulator's command is empty; give a program to run".into()));
        }
        for (value, what) in [
            (config.parameter_dim, "parameter_dim"),
            (config.data_dim, "data_dim"),
            (config.batch_size, "batch_size"),
            (config.workers, "workers"),
        ] {
            if value == 0 {
                return Err(Error::InvalidInput(format!("the external simulator's {what} must be at least 1")));
            }
        }
        if let Some(t) = config.timeout_seconds.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(Error::InvalidInput(format!(
                "the external simulator's timeout must be a positive number of seconds, got {t}"
            )));
        }
        Ok(ExternalSimulator { config })
    }

    /// The configuration.
    pub fn config(&self) -> &ExternalConfig {
        &self.config
    }

    /// Run one batch and check its shape.
    fn run_batch(&self, theta: ArrayView2<f64>, rows: Range<usize>, batch: usize, seed: u64) -> Result<Array2<f64>> {
        let run = Run {
            command: &self.config.command,
            working_dir: self.config.working_dir.as_deref(),
            timeout_seconds: self.config.timeout_seconds,
            batch,
            seed: batch_seed(seed, batch),
        };
        let output = run.execute(theta.slice(s![rows.clone(), ..]))?;
        let where_ = format!("`{}` (batch {batch}, rows {}..{})", display_command(run.command), rows.start, rows.end);
        if output.len() != rows.len() {
            return Err(Error::Simulator(format!(
                "{where_} printed {} rows of output, expected {} (one per θ row)",
                output.len(),
                rows.len()
            )));
        }
        let data_dim = self.config.data_dim;
        let mut x = Array2::<f64>::zeros((rows.len(), data_dim));
        for (i, (line, values)) in output.into_iter().enumerate() {
            if values.len() != data_dim {
                return Err(Error::Simulator(format!(
                    "{where_}: output line {line} has {} values, expected {data_dim} (data_dim)",
                    values.len()
                )));
            }
            x.row_mut(i).assign(&ndarray::ArrayView1::from(&values));
        }
        Ok(x)
    }
}

impl Simulator for ExternalSimulator {
    fn parameter_dim(&self) -> usize {
        self.config.parameter_dim
    }

    fn data_dim(&self) -> usize {
        self.config.data_dim
    }

    fn simulate(&self, theta: ArrayView2<f64>, seed: u64) -> Result<Array2<f64>> {
        check_parameter_shape(self, theta, "external simulator input")?;
        let n = theta.nrows();
        let batch_size = self.config.batch_size;
        let batches: Vec<Range<usize>> =
            (0..n).step_by(batch_size).map(|start| start..(start + batch_size).min(n)).collect();
        let results: Mutex<Vec<Option<Result<Array2<f64>>>>> = Mutex::new(batches.iter().map(|_| None).collect());
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..self.config.workers.min(batches.len()) {
                scope.spawn(|| {
                    loop {
                        let batch = next.fetch_add(1, Ordering::Relaxed);
                        if batch >= batches.len() || failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let result = self.run_batch(theta, batches[batch].clone(), batch, seed);
                        if result.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        results.lock().unwrap_or_else(|e| e.into_inner())[batch] = Some(result);
                    }
                });
            }
        });
        // Batches are handed out in order and none starts after a failure, so the first error in
        // batch order comes before any batch that did not run.
        let mut x = Array2::<f64>::zeros((0, self.config.data_dim));
        for result in results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten() {
            x.append(Axis(0), result?.view()).expect("every batch has data_dim columns");
        }
        Ok(x)
    }
}

/// The seed handed to the program for batch `batch` of a simulation seeded with `seed`: the first
/// 31 bits of [`substream(seed, batch)`](substream), so that any language's generator accepts it.
pub fn batch_seed(seed: u64, batch: usize) -> u64 {
    substream(seed, batch as u64).next_u64() >> 33
}

/// Run `command` on the single parameter row `theta_row` (protocol of the
/// [module documentation](self), batch 0, seed 0) and return how many values it printed.
pub fn probe_data_dim(command: &[String], theta_row: &[f64]) -> Result<usize> {
    if command.first().is_none_or(|program| program.trim().is_empty()) {
        return Err(Error::InvalidInput("the external simulator's command is empty; give a program to run".into()));
    }
    let theta = ArrayView2::from_shape((1, theta_row.len()), theta_row).expect("one row");
    let run = Run { command, working_dir: None, timeout_seconds: None, batch: 0, seed: batch_seed(0, 0) };
    let output = run.execute(theta)?;
    match &output[..] {
        [(_, values)] => Ok(values.len()),
        _ => Err(Error::Simulator(format!(
            "`{}` printed {} rows of output for one θ row, expected 1",
            display_command(command),
            output.len()
        ))),
    }
}

/// One run of the program on one batch.
struct Run<'a> {
    command: &'a [String],
    working_dir: Option<&'a Path>,
    timeout_seconds: Option<f64>,
    batch: usize,
    seed: u64,
}

impl Run<'_> {
    /// Start the program, feed it θ, wait for it, and parse its output into
    /// `(line number, values)` rows (shape not checked).
    fn execute(&self, theta: ArrayView2<f64>) -> Result<Vec<(usize, Vec<f64>)>> {
        let shown = display_command(self.command);
        let input = theta_csv(theta);
        let uses = |placeholder: &str| self.command.iter().any(|arg| arg.contains(placeholder));
        let (file_input, file_output) = (uses("{input}"), uses("{output}"));
        let folder = if file_input || file_output { Some(TempFolder::new()?) } else { None };
        let input_path = folder.as_ref().map(|f| f.0.join("input.csv"));
        let output_path = folder.as_ref().map(|f| f.0.join("output.csv"));
        if let (true, Some(path)) = (file_input, &input_path) {
            std::fs::write(path, &input).map_err(|e| Error::io(path, e))?;
        }
        let args: Vec<String> = self
            .command
            .iter()
            .map(|arg| {
                let mut arg = arg.clone();
                if let Some(path) = &input_path {
                    arg = arg.replace("{input}", &path.to_string_lossy());
                }
                if let Some(path) = &output_path {
                    arg = arg.replace("{output}", &path.to_string_lossy());
                }
                arg
            })
            .collect();

        let mut command = Command::new(&args[0]);
        command
            .args(&args[1..])
            .env("LINDLEY_SEED", self.seed.to_string())
            .env("LINDLEY_BATCH", self.batch.to_string())
            .stdin(if file_input { Stdio::null() } else { Stdio::piped() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = self.working_dir {
            command.current_dir(dir);
        }
        // With a timeout the program gets its own process group, so that killing it also kills
        // the processes it started (e.g. `sh` running `python3`).
        #[cfg(unix)]
        if self.timeout_seconds.is_some() {
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
        }
        let mut child = command.spawn().map_err(|e| Error::Simulator(format!("cannot start `{shown}`: {e}")))?;

        let stdin = child.stdin.take();
        let writer = std::thread::spawn(move || {
            if let Some(mut stdin) = stdin {
                // A program that exits without reading its input closes the pipe; its exit
                // status or output tells what went wrong, so the write error is not reported.
                let _ = stdin.write_all(input.as_bytes());
            }
        });
        let stdout_reader = read_in_background(child.stdout.take());
        let stderr_reader = read_in_background(child.stderr.take());

        let timeout = self.timeout_seconds.map(|t| Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX));
        let status = match wait(&mut child, timeout).map_err(|e| Error::Simulator(format!("`{shown}`: {e}")))? {
            Some(status) => status,
            None => {
                kill(&mut child);
                return Err(Error::Simulator(format!(
                    "`{shown}` (batch {}) did not finish within the timeout of {} s and was killed",
                    self.batch,
                    self.timeout_seconds.unwrap_or_default()
                )));
            }
        };
        let _ = writer.join();
        let stdout = stdout_reader.join().unwrap_or_default();
        let stderr = stderr_reader.join().unwrap_or_default();
        if !status.success() {
            return Err(Error::Simulator(format!(
                "`{shown}` (batch {}) failed with {status}; {}",
                self.batch,
                stderr_tail(&stderr)
            )));
        }
        let text = match (file_output, &output_path) {
            (true, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                Error::Simulator(format!("`{shown}` (batch {}) did not write its output file: {e}", self.batch))
            })?,
            _ => String::from_utf8_lossy(&stdout).into_owned(),
        };
        parse_output(&text).map_err(|message| Error::Simulator(format!("`{shown}` (batch {}): {message}", self.batch)))
    }
}

/// θ rows as CSV with a `theta_1,...` header, numbers in shortest round-trip form.
fn theta_csv(theta: ArrayView2<f64>) -> String {
    let mut text = String::with_capacity(16 * (theta.len() + theta.ncols()));
    let header: Vec<String> = (1..=theta.ncols()).map(|i| format!("theta_{i}")).collect();
    text.push_str(&header.join(","));
    text.push('\n');
    for row in theta.rows() {
        for (j, v) in row.iter().enumerate() {
            if j > 0 {
                text.push(',');
            }
            write!(text, "{v}").expect("writing to a String cannot fail");
        }
        text.push('\n');
    }
    text
}

/// Parse the program's output: rows of numbers separated by commas (or whitespace when a line
/// has no comma); a first line that is not numeric is a header; empty lines are skipped.
fn parse_output(text: &str) -> std::result::Result<Vec<(usize, Vec<f64>)>, String> {
    let mut rows = Vec::new();
    let mut first = true;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = if line.contains(',') {
            line.split(',').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let parsed: std::result::Result<Vec<f64>, (usize, &str)> =
            fields.iter().enumerate().map(|(j, field)| parse_value(field).ok_or((j, *field))).collect();
        match parsed {
            Ok(values) => rows.push((index + 1, values)),
            Err(_) if first => {}
            Err((j, field)) => {
                return Err(format!("output line {}, value {}: '{field}' is not a number", index + 1, j + 1));
            }
        }
        first = false;
    }
    Ok(rows)
}

/// A number, or NaN for R's `NA`.
fn parse_value(field: &str) -> Option<f64> {
    if field == "NA" { Some(f64::NAN) } else { field.parse().ok() }
}

/// The command as one would type it.
fn display_command(command: &[String]) -> String {
    command.join(" ")
}

/// The last lines of stderr, for an error message.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return "its stderr was empty".into();
    }
    let tail = &lines[lines.len().saturating_sub(STDERR_LINES)..];
    format!("last lines of its stderr:\n{}", tail.join("\n"))
}

/// Read a pipe to its end on a separate thread (so that a program writing much to both stdout and
/// stderr cannot block).
fn read_in_background(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// Wait for the child; `None` when `timeout` passed first.
fn wait(child: &mut Child, timeout: Option<Duration>) -> std::io::Result<Option<ExitStatus>> {
    let Some(limit) = timeout else {
        return child.wait().map(Some);
    };
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let elapsed = start.elapsed();
        if elapsed >= limit {
            return Ok(None);
        }
        std::thread::sleep(pause.min(limit - elapsed));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Kill the child and its process group, and reap it.
fn kill(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) has no memory-safety preconditions; the negative pid addresses the
        // process group created for this child (`process_group(0)` when a timeout is set).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A temporary folder for file-mode runs, removed when dropped.
struct TempFolder(PathBuf);

impl TempFolder {
    fn new() -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("lindley-external-{}-{n}", std::process::id()));
        std::fs::remove_dir_all(&path).ok();
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempFolder(path))
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_dir;
    use ndarray::array;

    /// A Python simulator printing x = (θ₁ + θ₂, θ₁ θ₂, LINDLEY_BATCH, LINDLEY_SEED) with a header.
    const PYTHON_SIM: &str = "import os, sys\n\
        rows = [list(map(float, l.split(','))) for l in sys.stdin.read().splitlines()[1:] if l]\n\
        print('sum,product,batch,seed')\n\
        for a, b in rows: print(f\"{a + b},{a * b},{os.environ['LINDLEY_BATCH']},{os.environ['LINDLEY_SEED']}\")\n";

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    fn theta(n: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, 2), |(i, j)| i as f64 + 0.25 * j as f64)
    }

    fn simulator(command: Vec<String>, data_dim: usize) -> ExternalSimulator {
        ExternalSimulator::new(ExternalConfig::new(command, 2, data_dim)).unwrap()
    }

    #[test]
    fn external_round_trip_batches_and_seeds() {
        let dir = test_dir("external-python");
        std::fs::write(dir.join("sim.py"), PYTHON_SIM).unwrap();
        let mut config = ExternalConfig::new(vec!["python3".into(), "sim.py".into()], 2, 4);
        config.batch_size = 3;
        config.workers = 2;
        config.working_dir = Some(dir.clone());
        let sim = ExternalSimulator::new(config).unwrap();
        let theta = theta(10);
        let x = sim.simulate(theta.view(), 42).unwrap();
        assert_eq!(x.dim(), (10, 4));
        for i in 0..10 {
            let (a, b) = (theta[[i, 0]], theta[[i, 1]]);
            assert_eq!(x[[i, 0]], a + b);
            assert_eq!(x[[i, 1]], a * b);
            assert_eq!(x[[i, 2]], (i / 3) as f64, "row {i} ran in batch {}", i / 3);
            assert_eq!(x[[i, 3]], batch_seed(42, i / 3) as f64);
        }
        let seeds: Vec<f64> = (0..4).map(|b| x[[3 * b, 3]]).collect();
        assert!(seeds.iter().enumerate().all(|(i, s)| seeds[..i].iter().all(|t| t != s)), "{seeds:?}");
        assert!(seeds.iter().all(|&s| (0.0..2f64.powi(31)).contains(&s)));
        assert_eq!(sim.simulate(theta.view(), 42).unwrap(), x);
        assert_ne!(sim.simulate(theta.view(), 43).unwrap().column(3), x.column(3));
        assert_eq!(sim.simulate(theta.slice(s![..0, ..]), 1).unwrap().dim(), (0, 4));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn external_reads_headerless_spaced_and_nan_output() {
        // Drop the header, print θ₁ and NaN/NA separated by spaces.
        let sim = simulator(sh("tail -n +2 | while IFS=, read a b; do echo \"$a nan NA\"; done"), 3);
        let x = sim.simulate(theta(3).view(), 0).unwrap();
        assert_eq!(x.column(0).to_vec(), vec![0.0, 1.0, 2.0]);
        assert!(x.column(1).iter().chain(x.column(2).iter()).all(|v| v.is_nan()));
    }

    #[test]
    fn external_file_mode() {
        let dir = test_dir("external-files");
        let script = "import sys\n\
            lines = open(sys.argv[1]).read().splitlines()\n\
            assert lines[0] == 'theta_1,theta_2', lines[0]\n\
            out = open(sys.argv[2], 'w')\n\
            for l in lines[1:]: out.write(str(2 * float(l.split(',')[1])) + '\\n')\n";
        std::fs::write(dir.join("files.py"), script).unwrap();
        let command =
            vec!["python3".into(), dir.join("files.py").to_string_lossy().into(), "{input}".into(), "{output}".into()];
        let x = simulator(command, 1).simulate(theta(4).view(), 0).unwrap();
        assert_eq!(x.column(0).to_vec(), vec![0.5, 2.5, 4.5, 6.5]);
        // Only an output file: θ still comes on stdin.
        let mut command = sh("tail -n +2 | cut -d, -f1 > \"$0\"");
        command.push("{output}".into());
        let x = simulator(command, 1).simulate(theta(2).view(), 0).unwrap();
        assert_eq!(x, array![[0.0], [1.0]]);
        let e =
            simulator(sh("cat > /dev/null; true {output}"), 1).simulate(theta(2).view(), 0).unwrap_err().to_string();
        assert!(e.contains("did not write its output file"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn external_failures_are_reported() {
        let failing = sh(
            "cat > /dev/null; for i in $(seq 1 15); do echo \"warning $i\" >&2; done; echo 'boom: bad θ' >&2; exit 3",
        );
        let e = simulator(failing, 1).simulate(theta(2).view(), 0).unwrap_err();
        assert!(matches!(e, Error::Simulator(_)));
        let e = e.to_string();
        assert!(e.contains("exit status: 3") && e.contains("boom: bad θ") && e.contains("warning 15"), "{e}");
        assert!(!e.contains("warning 5\n"), "only the last {STDERR_LINES} stderr lines: {e}");

        let e =
            simulator(sh("cat > /dev/null; echo 1; echo 2"), 1).simulate(theta(3).view(), 0).unwrap_err().to_string();
        assert!(e.contains("(batch 0, rows 0..3) printed 2 rows of output, expected 3"), "{e}");
        let e = simulator(sh("tail -n +2 | while read l; do echo 1,2; done"), 3).simulate(theta(2).view(), 0);
        let e = e.unwrap_err().to_string();
        assert!(e.contains("output line 1 has 2 values, expected 3 (data_dim)"), "{e}");
        let e = simulator(sh("cat > /dev/null; echo a,b; echo 1; echo oops"), 1).simulate(theta(2).view(), 0);
        let e = e.unwrap_err().to_string();
        assert!(e.contains("output line 3, value 1: 'oops' is not a number"), "{e}");
        let e = simulator(vec!["/nonexistent/simulator".into()], 1).simulate(theta(1).view(), 0).unwrap_err();
        assert!(e.to_string().contains("cannot start `/nonexistent/simulator`"), "{e}");
        let e = simulator(sh("true"), 1).simulate(theta(1).slice(s![.., ..1]), 0).unwrap_err().to_string();
        assert!(e.contains("expected 2 parameter columns"), "{e}");
    }

    #[test]
    fn external_timeout_kills_the_program() {
        let mut config = ExternalConfig::new(sh("sleep 5; echo 1"), 2, 1);
        config.timeout_seconds = Some(0.3);
        let sim = ExternalSimulator::new(config).unwrap();
        let start = Instant::now();
        let e = sim.simulate(theta(1).view(), 0).unwrap_err().to_string();
        assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
        assert!(e.contains("did not finish within the timeout of 0.3 s and was killed"), "{e}");
    }

    #[test]
    fn external_config_is_validated_and_probe_counts_values() {
        let e = ExternalSimulator::new(ExternalConfig::new(vec![], 2, 1)).unwrap_err().to_string();
        assert!(e.contains("command is empty"), "{e}");
        let mut config = ExternalConfig::new(sh("true"), 2, 1);
        config.batch_size = 0;
        assert!(
            ExternalSimulator::new(config.clone()).unwrap_err().to_string().contains("batch_size must be at least 1")
        );
        config.batch_size = 10;
        config.timeout_seconds = Some(-1.0);
        assert!(ExternalSimulator::new(config).unwrap_err().to_string().contains("timeout must be a positive number"));

        assert_eq!(probe_data_dim(&sh("cat > /dev/null; echo x1,x2,x3; echo 1,2,3"), &[0.5, 1.0]).unwrap(), 3);
        let e = probe_data_dim(&sh("cat > /dev/null; echo 1; echo 2"), &[0.5]).unwrap_err().to_string();
        assert!(e.contains("printed 2 rows of output for one θ row, expected 1"), "{e}");
        assert!(probe_data_dim(&[], &[0.5]).unwrap_err().to_string().contains("command is empty"));
    }
}
