//! Simulation datasets: pairs (θᵢ, xᵢ) of parameters and simulated data, as produced by a
//! simulator or brought from files by a user who simulates elsewhere.
//!
//! On disk a dataset is either
//! - one `.npz` archive with two 2-D arrays named `theta` `[n, P]` and `x` `[n, D]`
//!   (`numpy.savez("sims.npz", theta=theta, x=x)`),
//! - one `.csv` file with a header row whose first P columns are θ and the remaining D are x
//!   (P must be given: a CSV does not say which columns are parameters), or
//! - two files, one for θ and one for x, each `.csv` (header row) or `.npy` (2-D array)
//!   ([`Dataset::load_pair`]).
//!
//! Rows whose simulation failed (NaN or ±Inf anywhere) are kept on load and removed by
//! [`Dataset::drop_nonfinite`], which reports how many went.

use std::fmt;
use std::path::Path;

use ndarray::{Array2, ArrayView2, Axis, concatenate};

use crate::io::{self, csv, default_names, npy};
use crate::{Error, Result};

/// Paired parameters θ `[n, P]` and simulated data x `[n, D]`, with one name per column.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    theta: Array2<f64>,
    x: Array2<f64>,
    parameter_names: Vec<String>,
    data_names: Vec<String>,
}

/// What [`Dataset::drop_nonfinite`] removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedRows {
    /// Number of rows removed.
    pub count: usize,
    /// Number of rows before removal.
    pub total: usize,
    /// Zero-based indices (in the dataset before removal) of the first removed rows, at most 10.
    pub first_rows: Vec<usize>,
}

impl fmt::Display for DroppedRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dropped {} of {} simulations with NaN/Inf values", self.count, self.total)?;
        if !self.first_rows.is_empty() {
            let rows: Vec<String> = self.first_rows.iter().map(usize::to_string).collect();
            let more = self.count - self.first_rows.len();
            if more > 0 {
                write!(f, " (rows {}, and {more} more)", rows.join(", "))?;
            } else {
                write!(f, " (rows {})", rows.join(", "))?;
            }
        }
        Ok(())
    }
}

/// How many removed row indices [`DroppedRows`] lists.
const LISTED_ROWS: usize = 10;

impl Dataset {
    /// A dataset from θ `[n, P]` and x `[n, D]` with default names `theta_1..theta_P`,
    /// `x_1..x_D`; the row counts must match and neither may have zero columns.
    pub fn new(theta: Array2<f64>, x: Array2<f64>) -> Result<Self> {
        Self::from_parts(theta, x, "dataset")
    }

    /// [`Dataset::new`] with `context` (e.g. the file) named in the row-count error.
    fn from_parts(theta: Array2<f64>, x: Array2<f64>, context: &str) -> Result<Self> {
        if theta.nrows() != x.nrows() {
            return Err(Error::shape(
                context,
                "θ and x with the same number of rows (one simulation per row)",
                format!("θ has {} rows but x has {}", theta.nrows(), x.nrows()),
            ));
        }
        if theta.ncols() == 0 || x.ncols() == 0 {
            return Err(Error::shape(
                context,
                "at least one θ column and one x column",
                format!("{} θ columns and {} x columns", theta.ncols(), x.ncols()),
            ));
        }
        let parameter_names = default_names("theta", theta.ncols());
        let data_names = default_names("x", x.ncols());
        Ok(Dataset { theta, x, parameter_names, data_names })
    }

    /// Replace the column names: one per parameter and one per data value. Names may not contain
    /// commas, quotes or line breaks (they become CSV header fields).
    pub fn with_names(mut self, parameter_names: Vec<String>, data_names: Vec<String>) -> Result<Self> {
        if parameter_names.len() != self.parameter_dim() {
            return Err(Error::shape(
                "dataset parameter names",
                format!("{} names (one per θ column)", self.parameter_dim()),
                format!("{}", parameter_names.len()),
            ));
        }
        if data_names.len() != self.data_dim() {
            return Err(Error::shape(
                "dataset data names",
                format!("{} names (one per x column)", self.data_dim()),
                format!("{}", data_names.len()),
            ));
        }
        if let Some(bad) = parameter_names.iter().chain(&data_names).find(|n| n.contains([',', '"', '\n', '\r'])) {
            return Err(Error::InvalidInput(format!(
                "column name {bad:?} contains a comma, quote or line break, which a CSV header cannot hold"
            )));
        }
        self.parameter_names = parameter_names;
        self.data_names = data_names;
        Ok(self)
    }

    /// The parameters θ `[n, P]`.
    pub fn theta(&self) -> ArrayView2<'_, f64> {
        self.theta.view()
    }

    /// The simulated data x `[n, D]`.
    pub fn x(&self) -> ArrayView2<'_, f64> {
        self.x.view()
    }

    /// Take θ and x out of the dataset.
    pub fn into_parts(self) -> (Array2<f64>, Array2<f64>) {
        (self.theta, self.x)
    }

    /// Number of simulations (rows).
    pub fn len(&self) -> usize {
        self.theta.nrows()
    }

    /// Whether the dataset has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of parameters P (columns of θ).
    pub fn parameter_dim(&self) -> usize {
        self.theta.ncols()
    }

    /// Number of data values D (columns of x).
    pub fn data_dim(&self) -> usize {
        self.x.ncols()
    }

    /// The names of the θ columns.
    pub fn parameter_names(&self) -> &[String] {
        &self.parameter_names
    }

    /// The names of the x columns.
    pub fn data_names(&self) -> &[String] {
        &self.data_names
    }

    /// Remove every row with a NaN or ±Inf in θ or x (failed simulations) and report which.
    pub fn drop_nonfinite(&mut self) -> DroppedRows {
        let total = self.len();
        let keep: Vec<usize> = (0..total)
            .filter(|&i| self.theta.row(i).iter().chain(self.x.row(i).iter()).all(|v| v.is_finite()))
            .collect();
        let count = total - keep.len();
        let mut first_rows = Vec::new();
        if count > 0 {
            let mut kept = keep.iter().peekable();
            for i in 0..total {
                if kept.peek() == Some(&&i) {
                    kept.next();
                } else {
                    first_rows.push(i);
                    if first_rows.len() == LISTED_ROWS {
                        break;
                    }
                }
            }
            self.theta = self.theta.select(Axis(0), &keep);
            self.x = self.x.select(Axis(0), &keep);
        }
        DroppedRows { count, total, first_rows }
    }

    /// Append the rows of `other` (same P and D; its names are not checked and self's are kept).
    pub fn append(&mut self, other: Dataset) -> Result<()> {
        other.check_against(self.parameter_dim(), self.data_dim(), "appended dataset")?;
        self.theta.append(Axis(0), other.theta.view()).expect("column counts were checked");
        self.x.append(Axis(0), other.x.view()).expect("column counts were checked");
        Ok(())
    }

    /// Check that the dataset has `parameter_dim` θ columns (the prior's dimension) and
    /// `data_dim` x columns (the simulator's output); `context` names the dataset in the error.
    pub fn check_against(&self, parameter_dim: usize, data_dim: usize, context: &str) -> Result<()> {
        if self.parameter_dim() != parameter_dim {
            return Err(Error::shape(
                context,
                format!("{parameter_dim} parameter columns (the prior has {parameter_dim})"),
                format!("{} parameter columns", self.parameter_dim()),
            ));
        }
        if self.data_dim() != data_dim {
            return Err(Error::shape(
                context,
                format!("{data_dim} data columns (the simulator's output has {data_dim})"),
                format!("{} data columns", self.data_dim()),
            ));
        }
        Ok(())
    }

    /// Load a dataset from one file: `.npz` with arrays `theta` `[n, P]` and `x` `[n, D]`, or `.csv`
    /// with a header row whose first `parameter_dim` columns are θ and the rest x. For a CSV
    /// `parameter_dim` is required; for an NPZ it is checked when given. Non-finite values are kept
    /// (see [`Dataset::drop_nonfinite`]); a file without rows is an error.
    pub fn load(path: &Path, parameter_dim: Option<usize>) -> Result<Self> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        let shown = path.display().to_string();
        let dataset = if name.ends_with(".npz") {
            let mut theta = None;
            let mut x = None;
            let mut names = Vec::new();
            for (array_name, array) in npy::read_npz(path)? {
                match array_name.as_str() {
                    "theta" => theta = Some(array.into_array2(&format!("{shown}, array 'theta'"))?),
                    "x" => x = Some(array.into_array2(&format!("{shown}, array 'x'"))?),
                    _ => {}
                }
                names.push(format!("'{array_name}'"));
            }
            let (Some(theta), Some(x)) = (theta, x) else {
                let found =
                    if names.is_empty() { "no arrays".to_string() } else { format!("arrays {}", names.join(", ")) };
                return Err(Error::parse(
                    path,
                    format!(
                        "has {found}, but a dataset needs arrays named 'theta' and 'x' \
                         (numpy.savez(path, theta=theta, x=x))"
                    ),
                ));
            };
            if let Some(p) = parameter_dim.filter(|&p| p != theta.ncols()) {
                return Err(Error::shape(
                    format!("{shown}, array 'theta'"),
                    format!("{p} parameter columns"),
                    format!("{} parameter columns", theta.ncols()),
                ));
            }
            Self::from_parts(theta, x, &shown)?
        } else if name.ends_with(".csv") || name.ends_with(".csv.bz2") {
            let table = csv::read(path)?;
            let columns = table.header.len();
            let Some(p) = parameter_dim else {
                return Err(Error::InvalidInput(format!(
                    "{shown}: a CSV dataset holds θ and x side by side in its {columns} columns; say how many \
                     of them (the first ones) are parameters"
                )));
            };
            if p == 0 {
                return Err(Error::InvalidInput(format!(
                    "{shown}: the number of parameter columns must be at least 1, got 0"
                )));
            }
            if p >= columns {
                return Err(Error::shape(
                    shown,
                    format!("at least {} columns ({p} parameter columns and at least one data column)", p + 1),
                    format!("{columns} columns"),
                ));
            }
            let theta = table.values.slice(ndarray::s![.., ..p]).to_owned();
            let x = table.values.slice(ndarray::s![.., p..]).to_owned();
            let (parameter_names, data_names) = (table.header[..p].to_vec(), table.header[p..].to_vec());
            Self::from_parts(theta, x, &shown)?.with_names(parameter_names, data_names)?
        } else {
            return Err(Error::InvalidInput(format!(
                "{shown}: unsupported dataset file; use .npz (arrays 'theta' and 'x'), .csv (θ columns then x \
                 columns), or a θ file and an x file"
            )));
        };
        if dataset.is_empty() {
            return Err(Error::parse(path, "holds no simulations (zero rows)"));
        }
        Ok(dataset)
    }

    /// Load θ and x from two files, each `.csv` (header row; the names are kept) or `.npy`
    /// (2-D array; default names). Row counts must match.
    pub fn load_pair(theta_path: &Path, x_path: &Path) -> Result<Self> {
        let (parameter_names, theta) = io::read_matrix_named(theta_path, "theta")?;
        let (data_names, x) = io::read_matrix_named(x_path, "x")?;
        let context = format!("{} and {}", theta_path.display(), x_path.display());
        Self::from_parts(theta, x, &context)?.with_names(parameter_names, data_names)
    }

    /// Save to `.npz` (arrays `theta` and `x`; names are not stored) or `.csv` (one file, header
    /// row of parameter names then data names, θ columns then x columns).
    pub fn save(&self, path: &Path) -> Result<()> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
        if name.ends_with(".npz") {
            let theta = self.theta.as_standard_layout();
            let x = self.x.as_standard_layout();
            npy::write_npz(
                path,
                &[
                    ("theta", theta.shape(), theta.as_slice().expect("standard layout")),
                    ("x", x.shape(), x.as_slice().expect("standard layout")),
                ],
            )
        } else if name.ends_with(".csv") {
            let values = concatenate(Axis(1), &[self.theta.view(), self.x.view()]).expect("row counts match");
            let header: Vec<String> = self.parameter_names.iter().chain(&self.data_names).cloned().collect();
            csv::write(path, &header, values.view())
        } else {
            Err(Error::InvalidInput(format!(
                "{}: unsupported dataset file; save to .npz (arrays 'theta' and 'x') or .csv",
                path.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::test_dir;
    use ndarray::array;

    fn example() -> Dataset {
        Dataset::new(array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], array![[0.1], [0.2], [0.3]]).unwrap()
    }

    #[test]
    fn dataset_new_checks_rows_and_names() {
        let e = Dataset::new(Array2::zeros((1000, 2)), Array2::zeros((999, 3))).unwrap_err();
        assert!(matches!(e, Error::Shape { .. }));
        assert!(e.to_string().contains("θ has 1000 rows but x has 999"), "{e}");
        let e = Dataset::new(Array2::zeros((10, 2)), Array2::zeros((10, 0))).unwrap_err().to_string();
        assert!(e.contains("at least one θ column and one x column") && e.contains("0 x columns"), "{e}");
        let d = example();
        assert_eq!((d.len(), d.parameter_dim(), d.data_dim(), d.is_empty()), (3, 2, 1, false));
        assert_eq!(d.parameter_names(), ["theta_1", "theta_2"]);
        assert_eq!(d.data_names(), ["x_1"]);
        let named = example().with_names(vec!["a".into(), "b".into()], vec!["y".into()]).unwrap();
        assert_eq!(named.parameter_names(), ["a", "b"]);
        let e = example().with_names(vec!["a".into()], vec!["y".into()]).unwrap_err().to_string();
        assert!(e.contains("expected 2 names (one per θ column), got 1"), "{e}");
        let e = example().with_names(vec!["a".into(), "b".into()], vec![]).unwrap_err().to_string();
        assert!(e.contains("expected 1 names (one per x column), got 0"), "{e}");
        let e = example().with_names(vec!["a,b".into(), "c".into()], vec!["y".into()]).unwrap_err().to_string();
        assert!(e.contains("\"a,b\" contains a comma"), "{e}");
        let (theta, x) = example().into_parts();
        assert_eq!((theta[[2, 1]], x[[1, 0]]), (6.0, 0.2));
    }

    #[test]
    fn dataset_drops_nonfinite_rows_and_reports_them() {
        let n = 30;
        let mut theta = Array2::<f64>::zeros((n, 2));
        let mut x = Array2::<f64>::zeros((n, 1));
        for i in 0..n {
            theta[[i, 0]] = i as f64;
            x[[i, 0]] = 10.0 * i as f64;
        }
        theta[[5, 1]] = f64::NAN;
        x[[17, 0]] = f64::INFINITY;
        x[[23, 0]] = f64::NEG_INFINITY;
        let mut d = Dataset::new(theta, x).unwrap();
        let dropped = d.drop_nonfinite();
        assert_eq!(dropped, DroppedRows { count: 3, total: 30, first_rows: vec![5, 17, 23] });
        assert_eq!(dropped.to_string(), "dropped 3 of 30 simulations with NaN/Inf values (rows 5, 17, 23)");
        assert_eq!(d.len(), 27);
        // Rows stay paired: θ₀ = i and x = 10 i on every kept row.
        assert!(d.theta().rows().into_iter().zip(d.x().rows()).all(|(t, x)| x[0] == 10.0 * t[0]));
        assert!(!d.theta().column(0).iter().any(|&t| t == 5.0 || t == 17.0 || t == 23.0));

        let mut all_bad = Dataset::new(Array2::from_elem((12, 1), f64::NAN), Array2::zeros((12, 1))).unwrap();
        let dropped = all_bad.drop_nonfinite();
        assert_eq!(dropped.first_rows, (0..10).collect::<Vec<_>>());
        assert!(dropped.to_string().ends_with("(rows 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, and 2 more)"), "{dropped}");
        assert!(all_bad.is_empty());
        assert_eq!(example().drop_nonfinite().to_string(), "dropped 0 of 3 simulations with NaN/Inf values");
    }

    #[test]
    fn dataset_append_and_check_against() {
        let mut d = example();
        d.append(example()).unwrap();
        assert_eq!(d.len(), 6);
        assert_eq!(d.theta()[[4, 1]], 4.0);
        let other = Dataset::new(Array2::zeros((2, 3)), Array2::zeros((2, 1))).unwrap();
        let e = d.append(other).unwrap_err().to_string();
        assert!(e.contains("appended dataset") && e.contains("expected 2 parameter columns"), "{e}");
        let e = d.check_against(3, 1, "data file sims.npz").unwrap_err();
        assert!(matches!(e, Error::Shape { .. }));
        let e = e.to_string();
        assert!(e.contains("data file sims.npz") && e.contains("the prior has 3") && e.contains("got 2 parameter"));
        let e = d.check_against(2, 4, "data file").unwrap_err().to_string();
        assert!(e.contains("expected 4 data columns") && e.contains("got 1 data columns"), "{e}");
        d.check_against(2, 1, "data file").unwrap();
    }

    #[test]
    fn dataset_files_round_trip() {
        let dir = test_dir("data-round-trip");
        let mut d = example().with_names(vec!["mu".into(), "sigma".into()], vec!["mean".into()]).unwrap();
        d.x = array![[0.1], [f64::NAN], [1e-300]];
        for file in ["d.npz", "d.csv"] {
            let path = dir.join(file);
            d.save(&path).unwrap();
            let back = Dataset::load(&path, Some(2)).unwrap();
            assert_eq!(back.theta(), d.theta());
            assert_eq!(back.x()[[2, 0]], 1e-300);
            assert!(back.x()[[1, 0]].is_nan());
            if file.ends_with("csv") {
                assert_eq!(back.parameter_names(), ["mu", "sigma"]);
                assert_eq!(back.data_names(), ["mean"]);
            }
        }
        assert_eq!(Dataset::load(&dir.join("d.npz"), None).unwrap().len(), 3);

        io::write_matrix(&dir.join("t.csv"), &["mu".into(), "sigma".into()], d.theta()).unwrap();
        io::write_matrix(&dir.join("x.npy"), &["m".into()], d.x()).unwrap();
        let pair = Dataset::load_pair(&dir.join("t.csv"), &dir.join("x.npy")).unwrap();
        assert_eq!(pair.parameter_names(), ["mu", "sigma"]);
        assert_eq!(pair.data_names(), ["x_1"]);
        assert_eq!(pair.theta(), d.theta());
        let e = d.save(&dir.join("d.json")).unwrap_err().to_string();
        assert!(e.contains("d.json: unsupported dataset file"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn dataset_load_errors_name_the_file() {
        let dir = test_dir("data-errors");
        let load_err = |name: &str, contents: &str, p: Option<usize>| {
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            Dataset::load(&path, p).unwrap_err().to_string()
        };
        let e = load_err("empty.csv", "", Some(1));
        assert!(e.contains("empty.csv") && e.contains("empty"), "{e}");
        let e = load_err("header.csv", "a,b,c\n", Some(1));
        assert!(e.contains("header.csv: holds no simulations (zero rows)"), "{e}");
        let e = load_err("ragged.csv", "a,b,c\n1,2,3\n4,5\n", Some(1));
        assert!(e.contains("ragged.csv: line 3: 2 fields, but the header has 3 columns"), "{e}");
        let e = load_err("text.csv", "a,b,c\n1,2,3\n4,five,6\n", Some(1));
        assert!(e.contains("text.csv: line 3, column 2 ('b'): 'five' is not a number"), "{e}");
        let e = load_err("nodim.csv", "a,b,c\n1,2,3\n", None);
        assert!(e.contains("nodim.csv") && e.contains("say how many") && e.contains("are parameters"), "{e}");
        let e = load_err("wide.csv", "a,b,c\n1,2,3\n", Some(3));
        assert!(e.contains("wide.csv") && e.contains("at least 4 columns") && e.contains("got 3 columns"), "{e}");
        let e = load_err("zero.csv", "a,b,c\n1,2,3\n", Some(0));
        assert!(e.contains("zero.csv: the number of parameter columns must be at least 1"), "{e}");
        let e = load_err("d.txt", "1 2\n", Some(1));
        assert!(e.contains("d.txt: unsupported dataset file"), "{e}");
        let e = load_err("bad.npz", "not a zip", None);
        assert!(e.contains("bad.npz: not a valid .npz"), "{e}");

        let npz = dir.join("names.npz");
        npy::write_npz(&npz, &[("params", &[2, 1], &[1.0, 2.0]), ("x", &[2, 1], &[1.0, 2.0])]).unwrap();
        let e = Dataset::load(&npz, None).unwrap_err().to_string();
        assert!(e.contains("names.npz: has arrays 'params', 'x', but a dataset needs arrays named 'theta' and 'x'"));
        let flat = dir.join("flat.npz");
        npy::write_npz(&flat, &[("theta", &[2], &[1.0, 2.0]), ("x", &[2, 1], &[1.0, 2.0])]).unwrap();
        let e = Dataset::load(&flat, None).unwrap_err().to_string();
        assert!(e.contains("flat.npz, array 'theta'") && e.contains("1-D array of length 2"), "{e}");
        let rows = dir.join("rows.npz");
        npy::write_npz(&rows, &[("theta", &[3, 1], &[1.0, 2.0, 3.0]), ("x", &[2, 1], &[1.0, 2.0])]).unwrap();
        let e = Dataset::load(&rows, None).unwrap_err().to_string();
        assert!(e.contains("rows.npz") && e.contains("θ has 3 rows but x has 2"), "{e}");
        let e = Dataset::load(&rows, Some(2)).unwrap_err().to_string();
        assert!(e.contains("rows.npz, array 'theta'") && e.contains("expected 2 parameter columns"), "{e}");
        let dtype = dir.join("dtype.npz");
        {
            use std::io::Write;
            let mut writer = zip::ZipWriter::new(std::fs::File::create(&dtype).unwrap());
            writer.start_file("theta.npy", zip::write::SimpleFileOptions::default()).unwrap();
            let mut bytes = npy::encode_npy(&[1, 1], &[1.0]).unwrap();
            let at = bytes.windows(3).position(|w| w == b"<f8").unwrap();
            bytes[at..at + 3].copy_from_slice(b"<c8");
            writer.write_all(&bytes).unwrap();
            writer.finish().unwrap();
        }
        let e = Dataset::load(&dtype, None).unwrap_err().to_string();
        assert!(e.contains("dtype.npz: array 'theta': unsupported dtype '<c8'"), "{e}");

        let t = dir.join("t.npy");
        let x = dir.join("x.csv");
        npy::write_npy(&t, &[3, 1], &[1.0, 2.0, 3.0]).unwrap();
        std::fs::write(&x, "y\n1\n2\n").unwrap();
        let e = Dataset::load_pair(&t, &x).unwrap_err().to_string();
        assert!(e.contains("t.npy and") && e.contains("x.csv") && e.contains("θ has 3 rows but x has 2"), "{e}");
        std::fs::write(&x, "y\n").unwrap();
        let e = Dataset::load_pair(&t, &x).unwrap_err().to_string();
        assert!(e.contains("x.csv: has a header row but no data rows"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }
}
