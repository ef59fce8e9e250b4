//! Reading and writing arrays: CSV with a header row (the format of sbibm's files and of
//! lindley's sample outputs), NumPy's NPY/NPZ, the bzip2-compressed reference posteriors, and model
//! files (safetensors weights with a JSON header).
//!
//! [`read_matrix`], [`write_matrix`] and [`read_observation`] choose the format from the file
//! extension, so that every command that takes a matrix accepts `.csv` and `.npy` alike.

pub mod csv;
pub mod model;
pub mod npy;

use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2};

use crate::{Error, Result};

/// The file formats a matrix can be stored in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum MatrixFormat {
    /// CSV with a header row (also `.csv.bz2`, read by [`csv::read`]).
    Csv,
    /// A 2-D NumPy array.
    Npy,
}

/// The matrix format of `path` from its extension, or an error listing the supported ones.
pub(crate) fn matrix_format(path: &Path) -> Result<MatrixFormat> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    if name.ends_with(".csv") || name.ends_with(".csv.bz2") {
        Ok(MatrixFormat::Csv)
    } else if name.ends_with(".npy") {
        Ok(MatrixFormat::Npy)
    } else {
        Err(Error::InvalidInput(format!(
            "{}: unsupported file type; use .csv (with a header row) or .npy (a 2-D array)",
            path.display()
        )))
    }
}

/// Read a matrix `[rows, columns]` and its column names from a CSV file with a header row or a
/// 2-D `.npy` array; NPY columns are named `{default_prefix}_1`, `{default_prefix}_2`, ...
/// A file without data rows is an error.
pub(crate) fn read_matrix_named(path: &Path, default_prefix: &str) -> Result<(Vec<String>, Array2<f64>)> {
    let (names, values) = match matrix_format(path)? {
        MatrixFormat::Csv => {
            let table = csv::read(path)?;
            (table.header, table.values)
        }
        MatrixFormat::Npy => {
            let values = npy::read_npy(path)?.into_array2(&path.display().to_string())?;
            (default_names(default_prefix, values.ncols()), values)
        }
    };
    if values.nrows() == 0 {
        let what = match matrix_format(path)? {
            MatrixFormat::Csv => "has a header row but no data rows",
            MatrixFormat::Npy => "holds an array with no rows",
        };
        return Err(Error::parse(path, what));
    }
    Ok((names, values))
}

/// Names `prefix_1, ..., prefix_n`.
pub(crate) fn default_names(prefix: &str, n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("{prefix}_{i}")).collect()
}

/// Read a matrix `[rows, columns]` and its column names by file extension: `.csv` (header row, one
/// row of numbers per line) or `.npy` (a 2-D array, columns named `col_1, col_2, ...`).
/// A file without data rows is an error.
pub fn read_matrix(path: &Path) -> Result<(Vec<String>, Array2<f64>)> {
    read_matrix_named(path, "col")
}

/// Write a matrix by file extension: `.csv` with `names` as the header row, or `.npy` (`<f8`,
/// C order; the names are not stored). `names` must have one entry per column.
pub fn write_matrix(path: &Path, names: &[String], values: ArrayView2<f64>) -> Result<()> {
    let format = matrix_format(path)?;
    if names.len() != values.ncols() {
        return Err(Error::shape(
            format!("column names for {}", path.display()),
            format!("{} names", values.ncols()),
            format!("{}", names.len()),
        ));
    }
    match format {
        MatrixFormat::Csv => csv::write(path, names, values),
        MatrixFormat::Npy => {
            let values = values.as_standard_layout();
            npy::write_npy(path, values.shape(), values.as_slice().expect("standard layout is contiguous"))
        }
    }
}

/// Read one observation x_o of length `expected_dim`: a CSV file with a header row and exactly one
/// data row (like sbibm's `observation.csv`), or an `.npy` array of shape `[D]` or `[1, D]`.
/// A wrong length is an [`Error::Shape`] naming the file; NaN or ±Inf values are
/// [`Error::InvalidInput`] (an observation must be a real data point).
pub fn read_observation(path: &Path, expected_dim: usize) -> Result<Array1<f64>> {
    let (names, values) = match matrix_format(path)? {
        MatrixFormat::Csv => {
            let table = csv::read(path)?;
            match table.values.nrows() {
                1 => (table.header, table.values.row(0).to_owned()),
                0 => {
                    return Err(Error::parse(
                        path,
                        "has a header row but no data row; an observation file needs a header row \
                         (names) and then one row of numbers",
                    ));
                }
                n => {
                    return Err(Error::parse(
                        path,
                        format!("has {n} data rows; an observation file needs exactly one (one observation per file)"),
                    ));
                }
            }
        }
        MatrixFormat::Npy => {
            let array = npy::read_npy(path)?;
            let values = match array.shape[..] {
                [_] | [1, _] => Array1::from(array.values),
                _ => {
                    return Err(Error::shape(
                        path.display().to_string(),
                        "an observation of shape [D] or [1, D]",
                        format!("shape {:?}", array.shape),
                    ));
                }
            };
            (default_names("x", values.len()), values)
        }
    };
    if values.len() != expected_dim {
        return Err(Error::shape(
            format!("observation file {}", path.display()),
            format!("{expected_dim} values (the simulator's output dimension)"),
            format!("{} values", values.len()),
        ));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "{}: the observation's value {} ('{}') is {}; an observation must be finite",
            path.display(),
            i + 1,
            names[i],
            values[i]
        )));
    }
    Ok(values)
}

/// A fresh, empty folder under the system's temporary folder for one test.
#[cfg(test)]
pub(crate) fn test_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lindley-test-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("create a temporary test folder");
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matrices_round_trip_through_csv_and_npy() {
        let dir = test_dir("io-matrix");
        let values = array![[1.0, 2.0, 3.0], [4.5, -5.0, 1e-12]];
        let names: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
        for file in ["m.csv", "m.npy"] {
            let path = dir.join(file);
            write_matrix(&path, &names, values.view()).unwrap();
            let (read_names, read_values) = read_matrix(&path).unwrap();
            assert_eq!(read_values, values);
            let expected_names = if file.ends_with("csv") { names.clone() } else { default_names("col", 3) };
            assert_eq!(read_names, expected_names);
        }
        // A transposed (non-standard layout) view is written in its logical order.
        write_matrix(&dir.join("t.npy"), &names[..2], values.t()).unwrap();
        assert_eq!(read_matrix(&dir.join("t.npy")).unwrap().1, values.t());

        let e = write_matrix(&dir.join("m.txt"), &names, values.view()).unwrap_err().to_string();
        assert!(e.contains("m.txt: unsupported file type; use .csv"), "{e}");
        let e = write_matrix(&dir.join("m.csv"), &names[..2], values.view()).unwrap_err().to_string();
        assert!(e.contains("expected 3 names, got 2"), "{e}");
        std::fs::write(dir.join("h.csv"), "a,b\n").unwrap();
        let e = read_matrix(&dir.join("h.csv")).unwrap_err().to_string();
        assert!(e.contains("h.csv: has a header row but no data rows"), "{e}");
        npy::write_npy(&dir.join("v.npy"), &[3], &[1.0, 2.0, 3.0]).unwrap();
        let e = read_matrix(&dir.join("v.npy")).unwrap_err().to_string();
        assert!(e.contains("v.npy") && e.contains("1-D array of length 3"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn observations_are_checked_for_shape_and_finiteness() {
        let dir = test_dir("io-observation");
        let csv_path = dir.join("observation.csv");
        std::fs::write(&csv_path, "data_1,data_2\n0.5,-1.25\n").unwrap();
        assert_eq!(read_observation(&csv_path, 2).unwrap(), array![0.5, -1.25]);
        let e = read_observation(&csv_path, 3).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }));
        let e = e.to_string();
        assert!(e.contains("observation.csv") && e.contains("expected 3 values") && e.contains("got 2 values"), "{e}");

        std::fs::write(&csv_path, "data_1,data_2\n1,2\n3,4\n").unwrap();
        let e = read_observation(&csv_path, 2).unwrap_err().to_string();
        assert!(e.contains("has 2 data rows; an observation file needs exactly one"), "{e}");
        std::fs::write(&csv_path, "0.5,1.0\n").unwrap();
        let e = read_observation(&csv_path, 2).unwrap_err().to_string();
        assert!(e.contains("has a header row but no data row"), "{e}");
        std::fs::write(&csv_path, "data_1,data_2\n0.5,nan\n").unwrap();
        let e = read_observation(&csv_path, 2).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)));
        assert!(e.to_string().contains("value 2 ('data_2') is NaN; an observation must be finite"), "{e}");

        let flat = dir.join("flat.npy");
        npy::write_npy(&flat, &[3], &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(read_observation(&flat, 3).unwrap(), array![1.0, 2.0, 3.0]);
        let row = dir.join("row.npy");
        npy::write_npy(&row, &[1, 2], &[1.0, f64::INFINITY]).unwrap();
        let e = read_observation(&row, 2).unwrap_err().to_string();
        assert!(e.contains("('x_2') is inf"), "{e}");
        let two = dir.join("two.npy");
        npy::write_npy(&two, &[2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        let e = read_observation(&two, 2).unwrap_err().to_string();
        assert!(e.contains("two.npy") && e.contains("shape [D] or [1, D]") && e.contains("[2, 2]"), "{e}");
        let e = read_observation(&flat, 4).unwrap_err().to_string();
        assert!(e.contains("flat.npy") && e.contains("expected 4 values") && e.contains("got 3 values"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }
}
