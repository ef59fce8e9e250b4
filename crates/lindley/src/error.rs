//! The one error type of the library: every fallible public function returns [`Result`].
//!
//! Each variant says *what* was wrong and *where* (file, row, column, task), so that the CLI can
//! print it as is and a user can fix the input.

use std::path::PathBuf;

/// Errors reported by lindley's library code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Arrays whose shapes do not fit together (e.g. θ with 3 columns for a 2-parameter prior).
    #[error("shape mismatch in {context}: expected {expected}, got {got}")]
    Shape {
        /// Where the mismatch was found (function or file).
        context: String,
        /// What was expected, in words (e.g. "2 columns").
        expected: String,
        /// What was found.
        got: String,
    },
    /// A value that is not allowed (NaN where a number is needed, an unknown task name, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A parameter vector outside the support of the prior.
    #[error("parameter row {row} is outside the prior support: {detail}")]
    OutsideSupport {
        /// Zero-based row index in the batch.
        row: usize,
        /// Which coordinate and bound were violated.
        detail: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A file was read but its contents are malformed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong, with line/column where known.
        message: String,
    },
    /// A model file that is corrupt, truncated, or made for another architecture.
    #[error("model file {path}: {message}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A simulator failed (external program exited non-zero, produced the wrong shape, ...).
    #[error("simulator: {0}")]
    Simulator(String),
    /// Posterior sampling could not produce the requested samples (e.g. acceptance collapsed).
    #[error("sampling: {0}")]
    Sampling(String),
    /// Training diverged or could not start (e.g. too few valid simulations).
    #[error("training: {0}")]
    Training(String),
    /// An operation the object cannot do (e.g. the density of a VAE posterior, which has none).
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// Result type of the library.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::Shape`].
    pub fn shape(context: impl Into<String>, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Shape { context: context.into(), expected: expected.into(), got: got.into() }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Shorthand for [`Error::Parse`].
    pub fn parse(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Parse { path: path.into(), message: message.into() }
    }
}
