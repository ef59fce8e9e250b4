//! Numeric CSV tables with one header row: `name_1,...,name_D` then one row of numbers per line.
//! Errors name the file, line and column of the first bad value.

use std::io::{BufRead, Write};
use std::path::Path;

use ndarray::{Array2, ArrayView2};

use crate::{Error, Result};

/// A numeric table: column names and values `[rows, columns]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Column names from the header row.
    pub header: Vec<String>,
    /// The values.
    pub values: Array2<f64>,
}

/// Read a CSV file with a header row. Empty lines are skipped; every data row must have as many
/// fields as the header, each a number (`nan`, `inf` are accepted and left to the caller).
/// A path ending in `.bz2` is decompressed (bzip2) while it is read.
pub fn read(path: &Path) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    if path.extension().is_some_and(|extension| extension == "bz2") {
        parse(std::io::BufReader::new(bzip2::read::MultiBzDecoder::new(file)), path)
    } else {
        parse(std::io::BufReader::new(file), path)
    }
}

/// Parse CSV text from any reader; `path` is used in error messages only.
pub fn parse(reader: impl BufRead, path: &Path) -> Result<Table> {
    let mut header: Option<Vec<String>> = None;
    let mut values = Vec::new();
    let mut rows = 0usize;
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let line_number = index + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        match &header {
            None => header = Some(fields.iter().map(|f| f.trim_matches('"').to_string()).collect()),
            Some(names) => {
                if fields.len() != names.len() {
                    return Err(Error::parse(
                        path,
                        format!(
                            "line {line_number}: {} fields, but the header has {} columns",
                            fields.len(),
                            names.len()
                        ),
                    ));
                }
                for (column, field) in fields.iter().enumerate() {
                    let value: f64 = field.parse().map_err(|_| {
                        Error::parse(
                            path,
                            format!(
                                "line {line_number}, column {} ('{}'): '{field}' is not a number",
                                column + 1,
                                names[column]
                            ),
                        )
                    })?;
                    values.push(value);
                }
                rows += 1;
            }
        }
    }
    let header = header.ok_or_else(|| Error::parse(path, "the file is empty (expected a header row and data rows)"))?;
    let values = Array2::from_shape_vec((rows, header.len()), values)
        .expect("every row was checked to have the header's length");
    Ok(Table { header, values })
}

/// Write `values` with a header row. Numbers are written with enough digits to round-trip f64.
pub fn write(path: &Path, header: &[String], values: ArrayView2<f64>) -> Result<()> {
    if header.len() != values.ncols() {
        return Err(Error::shape("CSV header", format!("{} names", values.ncols()), format!("{}", header.len())));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::new(file);
    let io = |e| Error::io(path, e);
    writeln!(out, "{}", header.join(",")).map_err(io)?;
    for row in values.rows() {
        let line: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
        writeln!(out, "{}", line.join(",")).map_err(io)?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn round_trips_and_reports_bad_fields() {
        let dir = std::env::temp_dir().join(format!("lindley-csv-{}", std::process::id()));
        let path = dir.join("t.csv");
        let values = array![[1.0, -2.5e-7], [f64::NAN, 3.0]];
        write(&path, &["a".into(), "b".into()], values.view()).unwrap();
        let table = read(&path).unwrap();
        assert_eq!(table.header, vec!["a", "b"]);
        assert_eq!(table.values[[0, 1]], -2.5e-7);
        assert!(table.values[[1, 0]].is_nan());

        let bad = parse("a,b\n1,2\n3,x\n".as_bytes(), Path::new("bad.csv")).unwrap_err().to_string();
        assert!(bad.contains("line 3, column 2 ('b')") && bad.contains("'x' is not a number"), "{bad}");
        let short = parse("a,b\n1\n".as_bytes(), Path::new("s.csv")).unwrap_err().to_string();
        assert!(short.contains("line 2: 1 fields, but the header has 2 columns"), "{short}");
        let empty = parse("".as_bytes(), Path::new("e.csv")).unwrap_err().to_string();
        assert!(empty.contains("empty"), "{empty}");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn reads_bzip2_compressed_files() {
        use std::io::Write as _;
        let dir = std::env::temp_dir().join(format!("lindley-csv-bz2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv.bz2");
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        encoder.write_all(b"a,b\n1.5,2\n-3,4e-3\n").unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let table = read(&path).unwrap();
        assert_eq!(table.header, vec!["a", "b"]);
        assert_eq!(table.values, array![[1.5, 2.0], [-3.0, 4e-3]]);
        // A plain-text file named .bz2 is a decompression error, reported with the path.
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let error = read(&path).unwrap_err().to_string();
        assert!(error.contains("t.csv.bz2"), "{error}");
        std::fs::remove_dir_all(dir).ok();
    }
}
