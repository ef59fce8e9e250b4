//! NumPy's array files: `.npy` (one array) and `.npz` (a zip archive of `.npy` members, as written
//! by `numpy.savez` and `numpy.savez_compressed`).
//!
//! An NPY file is the magic string `\x93NUMPY`, a major/minor version byte pair, the header length
//! (little-endian u16 for version 1, u32 for versions 2 and 3), an ASCII/UTF-8 header that is a
//! Python dict literal `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }` padded with
//! spaces and ending in `\n`, then the raw values (format described in NumPy's NEP 1).
//!
//! lindley reads little-endian `float64`, `float32`, `int64` and `int32` arrays in C order and
//! converts them to `f64`; big-endian or Fortran-ordered arrays and other types are rejected with
//! an error that says how to convert them. Files are written as version 1.0, `<f8`, C order.

use std::io::{Read, Write};
use std::path::Path;

use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::{Error, Result};

/// The magic string that opens every NPY file.
const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// An array read from an NPY file: its shape and its values in C (row-major) order, as `f64`.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The shape (empty for a 0-d array).
    pub shape: Vec<usize>,
    /// The values, row-major; `values.len()` is the product of `shape`.
    pub values: Vec<f64>,
}

impl NpyArray {
    /// The array as a matrix `[rows, columns]`; `what` names it in errors (e.g. "data.npz, array
    /// 'theta'"). A 1-D array is an error (lindley cannot know whether it is one row or one column).
    pub fn into_array2(self, what: &str) -> Result<ndarray::Array2<f64>> {
        match self.shape[..] {
            [rows, cols] => ndarray::Array2::from_shape_vec((rows, cols), self.values).map_err(|e| {
                Error::shape(what, "a 2-D array [rows, columns]", format!("shape [{rows}, {cols}] ({e})"))
            }),
            [n] => Err(Error::shape(
                what,
                "a 2-D array [rows, columns]",
                format!(
                    "a 1-D array of length {n} (reshape it to [{n}, 1] for one column or [1, {n}] for one row before saving)"
                ),
            )),
            _ => Err(Error::shape(what, "a 2-D array [rows, columns]", format!("shape {:?}", self.shape))),
        }
    }
}

/// Read an `.npy` file.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy(&bytes).map_err(|message| Error::parse(path, message))
}

/// Write `values` (row-major, `shape.iter().product()` of them) as an `.npy` file (version 1.0,
/// `<f8`, C order).
pub fn write_npy(path: &Path, shape: &[usize], values: &[f64]) -> Result<()> {
    let bytes =
        encode_npy(shape, values).map_err(|message| Error::InvalidInput(format!("{}: {message}", path.display())))?;
    create_parent(path)?;
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Read every array of an `.npz` archive, in archive order, named without the `.npy` suffix.
pub fn read_npz(path: &Path) -> Result<Vec<(String, NpyArray)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| Error::parse(path, format!("not a valid .npz (zip) archive: {e}")))?;
    let mut arrays = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .map_err(|e| Error::parse(path, format!("cannot open archive member {index}: {e}")))?;
        let raw_name =
            member.name().map_err(|e| Error::parse(path, format!("archive member {index} has a bad name: {e}")))?;
        let name = raw_name.strip_suffix(".npy").unwrap_or(&raw_name).to_string();
        // Not pre-allocated from the member's declared size, which a corrupt archive can inflate.
        let mut bytes = Vec::new();
        member
            .read_to_end(&mut bytes)
            .map_err(|e| Error::parse(path, format!("array '{name}': cannot decompress: {e}")))?;
        let array = parse_npy(&bytes).map_err(|message| Error::parse(path, format!("array '{name}': {message}")))?;
        arrays.push((name, array));
    }
    Ok(arrays)
}

/// Write named arrays `(name, shape, row-major values)` as an uncompressed `.npz` archive
/// (what `numpy.savez` writes); member `name` is stored as `name.npy`.
pub fn write_npz(path: &Path, arrays: &[(&str, &[usize], &[f64])]) -> Result<()> {
    let mut encoded = Vec::with_capacity(arrays.len());
    for (name, shape, values) in arrays {
        let bytes = encode_npy(shape, values)
            .map_err(|message| Error::InvalidInput(format!("{}, array '{name}': {message}", path.display())))?;
        encoded.push((name, bytes));
    }
    create_parent(path)?;
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let zip_error = |e: zip::result::ZipError| Error::io(path, std::io::Error::other(e));
    for (name, bytes) in encoded {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .large_file(bytes.len() >= u32::MAX as usize);
        writer.start_file(format!("{name}.npy"), options).map_err(zip_error)?;
        writer.write_all(&bytes).map_err(|e| Error::io(path, e))?;
    }
    let mut inner = writer.finish().map_err(zip_error)?;
    inner.flush().map_err(|e| Error::io(path, e))
}

/// Create the parent folder of `path` if it does not exist.
fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    Ok(())
}

/// The element types lindley reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Dtype {
    F64,
    F32,
    I64,
    I32,
}

impl Dtype {
    fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
        }
    }

    fn decode(self, bytes: &[u8]) -> f64 {
        match self {
            Dtype::F64 => f64::from_le_bytes(bytes.try_into().expect("8 bytes")),
            Dtype::F32 => f64::from(f32::from_le_bytes(bytes.try_into().expect("4 bytes"))),
            Dtype::I64 => i64::from_le_bytes(bytes.try_into().expect("8 bytes")) as f64,
            Dtype::I32 => f64::from(i32::from_le_bytes(bytes.try_into().expect("4 bytes"))),
        }
    }
}

/// Parse the bytes of an NPY file. Errors are messages without the file name.
pub(crate) fn parse_npy(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not an NPY file (it does not start with the \\x93NUMPY magic string)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, header_start) = match major {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("the NPY header is truncated".into());
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        _ => return Err(format!("unsupported NPY format version {major}.{minor} (lindley reads versions 1, 2 and 3)")),
    };
    let data_start = header_start + header_len;
    if bytes.len() < data_start {
        return Err("the NPY header is truncated".into());
    }
    let header = std::str::from_utf8(&bytes[header_start..data_start])
        .map_err(|_| "the NPY header is not valid text".to_string())?;
    let descr = header_string_value(header, "descr")?;
    let fortran_order = header_word_value(header, "fortran_order")?;
    let shape = header_shape(header)?;
    let dtype = parse_descr(&descr)?;
    match fortran_order {
        "False" => {}
        "True" => {
            return Err("the array is stored in Fortran (column-major) order; save it in C order, e.g. \
                 numpy.save(path, numpy.ascontiguousarray(a))"
                .into());
        }
        other => return Err(format!("bad 'fortran_order' value '{other}' in the NPY header")),
    }
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("the shape {shape:?} is too large"))?;
    let expected = count.checked_mul(dtype.size()).ok_or_else(|| format!("the shape {shape:?} is too large"))?;
    let data = &bytes[data_start..];
    if data.len() < expected {
        return Err(format!(
            "the data is truncated: shape {shape:?} of '{descr}' needs {expected} bytes, the file has {}",
            data.len()
        ));
    }
    let values = data[..expected].chunks_exact(dtype.size()).map(|chunk| dtype.decode(chunk)).collect();
    Ok(NpyArray { shape, values })
}

/// The element type for a `descr` string, or an error saying what lindley reads.
fn parse_descr(descr: &str) -> std::result::Result<Dtype, String> {
    let supported = "lindley reads float64, float32, int64 and int32 arrays; convert with a.astype('<f8')";
    let order = descr.chars().next().unwrap_or(' ');
    let kind = &descr[order.len_utf8().min(descr.len())..];
    match order {
        '<' | '|' | '=' => {}
        '>' => {
            return Err(format!(
                "the array is big-endian ('{descr}'); save it little-endian, e.g. numpy.save(path, a.astype('<f8'))"
            ));
        }
        _ => return Err(format!("unsupported dtype '{descr}': {supported}")),
    }
    match kind {
        "f8" => Ok(Dtype::F64),
        "f4" => Ok(Dtype::F32),
        "i8" => Ok(Dtype::I64),
        "i4" => Ok(Dtype::I32),
        _ => Err(format!("unsupported dtype '{descr}': {supported}")),
    }
}

/// The text following `'key':` in the header dict, with leading spaces removed.
fn header_after_key<'a>(header: &'a str, key: &str) -> std::result::Result<&'a str, String> {
    for quote in ['\'', '"'] {
        let pattern = format!("{quote}{key}{quote}");
        if let Some(at) = header.find(&pattern) {
            let rest = header[at + pattern.len()..].trim_start();
            if let Some(rest) = rest.strip_prefix(':') {
                return Ok(rest.trim_start());
            }
        }
    }
    Err(format!("the NPY header has no '{key}' entry: {}", header.trim()))
}

/// A quoted string value of the header dict.
fn header_string_value(header: &str, key: &str) -> std::result::Result<String, String> {
    let rest = header_after_key(header, key)?;
    let bad = || format!("the NPY header's '{key}' is not a simple string (structured dtypes are not supported)");
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"').ok_or_else(bad)?;
    let end = rest[1..].find(quote).ok_or_else(bad)?;
    Ok(rest[1..1 + end].to_string())
}

/// A bare word value (e.g. `True`) of the header dict.
fn header_word_value<'a>(header: &'a str, key: &str) -> std::result::Result<&'a str, String> {
    let rest = header_after_key(header, key)?;
    let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
    Ok(&rest[..end])
}

/// The `shape` tuple of the header dict.
fn header_shape(header: &str) -> std::result::Result<Vec<usize>, String> {
    let rest = header_after_key(header, "shape")?;
    let bad = || format!("the NPY header's 'shape' is not a tuple of integers: {}", header.trim());
    let inner = rest.strip_prefix('(').ok_or_else(bad)?;
    let end = inner.find(')').ok_or_else(bad)?;
    inner[..end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().map_err(|_| bad()))
        .collect()
}

/// Encode an `<f8`, C-order array as NPY version 1.0 bytes.
pub(crate) fn encode_npy(shape: &[usize], values: &[f64]) -> std::result::Result<Vec<u8>, String> {
    let count: usize = shape.iter().product();
    if count != values.len() {
        return Err(format!("shape {shape:?} holds {count} values but {} were given", values.len()));
    }
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad with spaces so that the data starts at a multiple of 64 bytes; the header ends in '\n'.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len()).map_err(|_| format!("the shape {shape:?} has too many dimensions"))?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 4 + header.len() + 8 * values.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&header_len.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NPY bytes with an arbitrary header and raw data, as another writer might produce them.
    fn raw_npy(major: u8, header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[major, 0]);
        if major == 1 {
            bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn npy_round_trip_is_exact_and_aligned() {
        let values = [1.0, -2.5e-300, f64::NAN, f64::INFINITY, 0.1, 7.0];
        let bytes = encode_npy(&[3, 2], &values).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes[10 + header_len - 1], b'\n');
        let back = parse_npy(&bytes).unwrap();
        assert_eq!(back.shape, vec![3, 2]);
        assert_eq!(back.values[1], -2.5e-300);
        assert!(back.values[2].is_nan());
        assert_eq!(back.values[3], f64::INFINITY);
        let one_d = parse_npy(&encode_npy(&[4], &[1.0, 2.0, 3.0, 4.0]).unwrap()).unwrap();
        assert_eq!(one_d.shape, vec![4]);
        assert!(encode_npy(&[2, 2], &[1.0]).unwrap_err().contains("holds 4 values but 1 were given"));
    }

    #[test]
    fn npy_reads_other_dtypes_and_versions() {
        let f32_data: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse_npy(&raw_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }\n", &f32_data));
        assert_eq!(a.unwrap().values, vec![1.5, -2.0]);
        let i64_data: Vec<u8> = [3i64, -4].iter().flat_map(|v| v.to_le_bytes()).collect();
        let b = parse_npy(&raw_npy(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n", &i64_data));
        assert_eq!(b.unwrap(), NpyArray { shape: vec![2], values: vec![3.0, -4.0] });
        let i32_data: Vec<u8> = [7i32, 8, 9, 10].iter().flat_map(|v| v.to_le_bytes()).collect();
        let c =
            parse_npy(&raw_npy(3, "{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2, 2)}\n", &i32_data));
        assert_eq!(c.unwrap().values, vec![7.0, 8.0, 9.0, 10.0]);
    }

    #[test]
    fn npy_rejects_what_it_cannot_read() {
        let data = [0u8; 32];
        let err = |header: &str| parse_npy(&raw_npy(1, header, &data)).unwrap_err();
        let big = err("{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }\n");
        assert!(big.contains("big-endian ('>f8')") && big.contains("astype('<f8')"), "{big}");
        let fortran = err("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 2), }\n");
        assert!(fortran.contains("Fortran (column-major) order"), "{fortran}");
        let dtype = err("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }\n");
        assert!(dtype.contains("unsupported dtype '|b1'") && dtype.contains("float64, float32, int64 and int32"));
        let text = err("{'descr': '<U5', 'fortran_order': False, 'shape': (2,), }\n");
        assert!(text.contains("unsupported dtype '<U5'"), "{text}");
        let short = err("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }\n");
        assert!(short.contains("truncated: shape [3, 2] of '<f8' needs 48 bytes, the file has 32"), "{short}");
        let no_shape = err("{'descr': '<f8', 'fortran_order': False}\n");
        assert!(no_shape.contains("no 'shape' entry"), "{no_shape}");
        assert!(parse_npy(b"a,b\n1,2\n").unwrap_err().contains("not an NPY file"));
        let mut future = encode_npy(&[1], &[1.0]).unwrap();
        future[6] = 9;
        assert!(parse_npy(&future).unwrap_err().contains("unsupported NPY format version 9.0"));
        // No values, but more elements per row than an array can index.
        let empty = parse_npy(&raw_npy(
            1,
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 9223372036854775808), }\n",
            &[],
        ))
        .unwrap();
        let error = empty.into_array2("e.npy").unwrap_err().to_string();
        assert!(error.contains("e.npy") && error.contains("shape [0, 9223372036854775808]"), "{error}");
    }

    #[test]
    fn npz_round_trip_and_deflated_members() {
        let dir = crate::io::test_dir("npz");
        let path = dir.join("a.npz");
        write_npz(&path, &[("theta", &[2, 1], &[1.0, 2.0]), ("x", &[2, 2], &[3.0, 4.0, 5.0, 6.0])]).unwrap();
        let arrays = read_npz(&path).unwrap();
        assert_eq!(arrays.len(), 2);
        assert_eq!(arrays[0], ("theta".to_string(), NpyArray { shape: vec![2, 1], values: vec![1.0, 2.0] }));
        assert_eq!(arrays[1].1.values, vec![3.0, 4.0, 5.0, 6.0]);

        // What numpy.savez_compressed writes: deflated members.
        let compressed = dir.join("c.npz");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&compressed).unwrap());
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        writer.start_file("x.npy", options).unwrap();
        let values: Vec<f64> = (0..300).map(|i| f64::from(i) * 0.5).collect();
        writer.write_all(&encode_npy(&[100, 3], &values).unwrap()).unwrap();
        writer.finish().unwrap();
        let arrays = read_npz(&compressed).unwrap();
        assert_eq!(arrays[0].0, "x");
        assert_eq!(arrays[0].1.values, values);

        let not_zip = dir.join("bad.npz");
        std::fs::write(&not_zip, b"theta,x\n1,2\n").unwrap();
        let e = read_npz(&not_zip).unwrap_err().to_string();
        assert!(e.contains("bad.npz") && e.contains("not a valid .npz (zip) archive"), "{e}");
        let e = read_npy(&dir.join("missing.npy")).unwrap_err().to_string();
        assert!(e.contains("missing.npy"), "{e}");
        let e = NpyArray { shape: vec![5], values: vec![0.0; 5] }.into_array2("f.npy").unwrap_err().to_string();
        assert!(e.contains("f.npy") && e.contains("1-D array of length 5"), "{e}");
        std::fs::remove_dir_all(dir).ok();
    }
}
