//! Reading and writing arrays: CSV with a header row (the format of sbibm's files and of
//! lindley's sample outputs), NPY/NPZ, and the bzip2-compressed reference posteriors, and model files (safetensors weights with a JSON header).

pub mod csv;
pub mod model;
