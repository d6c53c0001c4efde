//! `.npy` arrays in and out, through the `npyz` crate (no hand-written parser).
//!
//! # Reading
//! [`read`] accepts float64 and float32 arrays (either byte order, C or Fortran
//! order); float32 is promoted to float64 exactly. Every other dtype, a
//! malformed header, a data section shorter or longer than the header
//! declares, is an [`InteropError`] naming the file. [`read_finite`] also
//! refuses NaN and ±inf. The result is an [`Array`]: a shape and its entries
//! in C order (last index fastest), whatever the file's order.
//!
//! # Writing
//! [`encode`] produces the bytes of a little-endian float64 C-order `.npy` file
//! (what `numpy.save` writes for a float64 array): deterministic, byte for byte.
//!
//! # Examples
//! ```
//! use diffusion_lowdim::io::npy::{Array, decode, encode};
//! let a = Array::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let bytes = encode(&a);
//! let b = decode("memory.npy".as_ref(), &bytes)?;
//! assert_eq!(b.shape(), &[2, 3]);
//! assert_eq!(b.data()[4], 5.0);
//! // Batch-first (B, d) on disk ↔ d × B in the crate.
//! let m = b.to_batch("memory.npy".as_ref(), "x", None)?;
//! assert_eq!((m.nrows(), m.ncols()), (3, 2));
//! assert_eq!(m[(1, 0)], 2.0);
//! # Ok::<(), diffusion_lowdim::io::InteropError>(())
//! ```

use std::io::Cursor;
use std::path::Path;

use faer::{Mat, MatRef};
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, WriterBuilder};

use super::{InteropError, Result};

/// The floating-point type an array was stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredPrecision {
    /// float64 (`<f8` or `>f8`).
    F64,
    /// float32 (`<f4` or `>f4`), promoted to float64 on reading.
    F32,
}

/// An n-dimensional f64 array: its shape and its entries in C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    shape: Vec<usize>,
    data: Vec<f64>,
    stored: StoredPrecision,
}

impl Array {
    /// An array from a shape and its entries in C order (last index fastest).
    ///
    /// # Errors
    /// [`crate::Error::DimensionMismatch`] (as [`InteropError::Lib`]) if the number of
    /// entries is not the product of the shape.
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Self> {
        // A product that overflows cannot equal any length.
        let n: usize = shape
            .iter()
            .try_fold(1usize, |a, &s| a.checked_mul(s))
            .unwrap_or(usize::MAX);
        if n != data.len() {
            return Err(crate::Error::DimensionMismatch {
                what: "number of entries vs product of the shape",
                expected: n,
                found: data.len(),
            }
            .into());
        }
        Ok(Self {
            shape,
            data,
            stored: StoredPrecision::F64,
        })
    }

    /// A batch-first `(B, d)` array from the crate's `d × B` matrix (columns are points).
    pub fn from_batch(m: MatRef<'_, f64>) -> Self {
        let (d, b) = (m.nrows(), m.ncols());
        let mut data = Vec::with_capacity(d * b);
        for j in 0..b {
            for i in 0..d {
                data.push(m[(i, j)]);
            }
        }
        Self {
            shape: vec![b, d],
            data,
            stored: StoredPrecision::F64,
        }
    }

    /// A `(m, n)` array from an `m × n` matrix (e.g. a basis `(d, r)`).
    pub fn from_matrix(m: MatRef<'_, f64>) -> Self {
        let (r, c) = (m.nrows(), m.ncols());
        let mut data = Vec::with_capacity(r * c);
        for i in 0..r {
            for j in 0..c {
                data.push(m[(i, j)]);
            }
        }
        Self {
            shape: vec![r, c],
            data,
            stored: StoredPrecision::F64,
        }
    }

    /// A 1-d array.
    pub fn from_vec(v: Vec<f64>) -> Self {
        Self {
            shape: vec![v.len()],
            data: v,
            stored: StoredPrecision::F64,
        }
    }

    /// A `(B, m, n)` stack of equally shaped matrices (e.g. Jacobians).
    ///
    /// # Errors
    /// [`crate::Error::DimensionMismatch`] if the matrices differ in shape.
    pub fn from_matrices(ms: &[Mat<f64>]) -> Result<Self> {
        let (r, c) = ms.first().map_or((0, 0), |m| (m.nrows(), m.ncols()));
        let mut data = Vec::with_capacity(ms.len() * r * c);
        for m in ms {
            crate::error::ensure_dim("rows of stacked matrices", r, m.nrows())?;
            crate::error::ensure_dim("columns of stacked matrices", c, m.ncols())?;
            for i in 0..r {
                for j in 0..c {
                    data.push(m[(i, j)]);
                }
            }
        }
        Ok(Self {
            shape: vec![ms.len(), r, c],
            data,
            stored: StoredPrecision::F64,
        })
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The entries in C order.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Mutable entries in C order.
    pub fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Consumes the array, returning its entries in C order.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// The precision the array was stored in (f64 for arrays built in memory).
    pub fn stored(&self) -> StoredPrecision {
        self.stored
    }

    /// The multi-index of flat C-order position `flat`.
    pub fn unravel(&self, mut flat: usize) -> Vec<usize> {
        let mut idx = vec![0; self.shape.len()];
        for (k, &n) in self.shape.iter().enumerate().rev() {
            if n > 0 {
                idx[k] = flat % n;
                flat /= n;
            }
        }
        idx
    }

    /// Checks the number of dimensions.
    ///
    /// # Errors
    /// [`InteropError::WrongRank`].
    pub fn expect_rank(
        &self,
        path: &Path,
        what: &'static str,
        layout: &'static str,
        rank: usize,
    ) -> Result<()> {
        if self.shape.len() == rank {
            Ok(())
        } else {
            Err(InteropError::WrongRank {
                path: path.to_path_buf(),
                what,
                layout,
                expected: rank,
                found: self.shape.clone(),
            })
        }
    }

    /// Checks the length of one axis.
    ///
    /// # Errors
    /// [`InteropError::WrongShape`].
    pub fn expect_axis(
        &self,
        path: &Path,
        what: &'static str,
        axis: usize,
        expected: usize,
        reason: &'static str,
    ) -> Result<()> {
        let found = self.shape.get(axis).copied().unwrap_or(0);
        if found == expected {
            Ok(())
        } else {
            Err(InteropError::WrongShape {
                path: path.to_path_buf(),
                what,
                shape: self.shape.clone(),
                axis,
                expected,
                found,
                reason,
            })
        }
    }

    fn expect_nonempty(&self, path: &Path, what: &'static str) -> Result<()> {
        if self.data.is_empty() {
            Err(InteropError::EmptyArray {
                path: path.to_path_buf(),
                what,
                shape: self.shape.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Checks that every entry is finite.
    ///
    /// # Errors
    /// [`InteropError::NonFinite`] with the multi-index of the first bad entry.
    pub fn ensure_finite(&self, path: &Path) -> Result<()> {
        match self.data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(k) => Err(InteropError::NonFinite {
                path: path.to_path_buf(),
                index: self.unravel(k),
                value: self.data[k],
            }),
        }
    }

    /// A batch-first `(B, d)` array as the crate's `d × B` matrix.
    ///
    /// `dim`, when given, is the required `d`. A 1-d array of length `d` is
    /// *not* accepted as one point: the layout must be explicit.
    ///
    /// # Errors
    /// [`InteropError::WrongRank`], [`InteropError::WrongShape`], [`InteropError::EmptyArray`].
    pub fn to_batch(
        &self,
        path: &Path,
        what: &'static str,
        dim: Option<usize>,
    ) -> Result<Mat<f64>> {
        self.expect_rank(path, what, "(B, d): one point per row", 2)?;
        if let Some(d) = dim {
            self.expect_axis(path, what, 1, d, "the model's dimension d")?;
        }
        self.expect_nonempty(path, what)?;
        let (b, d) = (self.shape[0], self.shape[1]);
        Ok(Mat::from_fn(d, b, |i, j| self.data[j * d + i]))
    }

    /// A 2-d array `(m, n)` as an `m × n` matrix.
    ///
    /// # Errors
    /// [`InteropError::WrongRank`], [`InteropError::EmptyArray`].
    pub fn to_matrix(
        &self,
        path: &Path,
        what: &'static str,
        layout: &'static str,
    ) -> Result<Mat<f64>> {
        self.expect_rank(path, what, layout, 2)?;
        self.expect_nonempty(path, what)?;
        let (r, c) = (self.shape[0], self.shape[1]);
        Ok(Mat::from_fn(r, c, |i, j| self.data[i * c + j]))
    }

    /// A 1-d array as a vector.
    ///
    /// # Errors
    /// [`InteropError::WrongRank`], [`InteropError::EmptyArray`].
    pub fn to_vector(&self, path: &Path, what: &'static str) -> Result<Vec<f64>> {
        self.expect_rank(path, what, "(n,)", 1)?;
        self.expect_nonempty(path, what)?;
        Ok(self.data.clone())
    }
}

/// The dtype's numpy notation, for messages.
fn dtype_name(dtype: &DType) -> String {
    dtype.descr()
}

/// Whether `dtype` is a float of `bytes` bytes.
fn is_float(dtype: &DType, bytes: u64) -> bool {
    matches!(dtype, DType::Plain(ts) if ts.type_char() == TypeChar::Float && ts.size_field() == bytes)
}

/// The header of a `.npy` file, checked against the data that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyInfo {
    /// The shape declared in the header.
    pub shape: Vec<u64>,
    /// The precision of the entries.
    pub stored: StoredPrecision,
    /// Bytes of the header (magic, version, length and the header dictionary).
    pub header_bytes: u64,
    /// Bytes of the data section the shape implies.
    pub data_bytes: u64,
}

/// The deepest nesting of brackets accepted in a `.npy` header (numpy writes 2 for the
/// float arrays read here).
const MAX_HEADER_DEPTH: usize = 4;

/// Refuses a header whose `shape` has more entries than fit in 64 bits before the
/// `.npy` parser sees it (it multiplies the shape without overflow checks).
///
/// Every `shape` key of the header dictionary must be followed by a tuple of decimal
/// integers (what numpy writes) whose product, times 8, fits in a `u64`; brackets may
/// nest at most [`MAX_HEADER_DEPTH`] deep (the parser is exponential in the depth).
fn precheck_shape(path: &Path, bytes: &[u8]) -> Result<()> {
    let refuse = |why: &str| InteropError::NpyHeader {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()),
    };
    let start: usize = match bytes.get(6) {
        Some(1) => 10,
        Some(2 | 3) => 12,
        _ => return Ok(()), // not a .npy header: the parser reports it
    };
    let len = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
        Some(2 | 3) if bytes.len() >= 12 => {
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
        }
        _ => return Ok(()),
    };
    let end = start.saturating_add(len).min(bytes.len());
    let text = &bytes[start.min(end)..end];
    // The header parser backtracks exponentially in the nesting depth (a header of 90
    // unclosed '[' takes hours); numpy's headers for float arrays nest 2 deep.
    let (mut depth, mut deepest, mut quote) = (0usize, 0usize, None::<u8>);
    for &c in text {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(c),
            (None, b'(' | b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_HEADER_DEPTH {
        return Err(refuse(&format!(
            "the header nests {deepest} levels of brackets (at most {MAX_HEADER_DEPTH})"
        )));
    }
    for key in [&b"'shape'"[..], &b"\"shape\""[..]] {
        let mut from = 0;
        while let Some(k) = find(&text[from..], key) {
            let after = from + k + key.len();
            let rest = &text[after..];
            let Some(open) = rest.iter().position(|&c| c == b'(') else {
                return Err(refuse("the shape is not a tuple"));
            };
            if rest[..open]
                .iter()
                .any(|&c| !(c == b':' || c.is_ascii_whitespace()))
            {
                return Err(refuse("the shape is not a tuple"));
            }
            let Some(close) = rest[open..].iter().position(|&c| c == b')') else {
                return Err(refuse("the shape tuple is not closed"));
            };
            let inner = &rest[open + 1..open + close];
            let mut total: u64 = 8;
            for item in inner.split(|&c| c == b',') {
                let item = std::str::from_utf8(item).unwrap_or("x").trim();
                if item.is_empty() {
                    continue;
                }
                let Ok(n) = item.trim_end_matches('L').parse::<u64>() else {
                    return Err(refuse("the shape must be a tuple of decimal integers"));
                };
                total = total.checked_mul(n).ok_or_else(|| {
                    refuse(&format!(
                        "the shape ({}) declares more bytes than fit in 64 bits",
                        String::from_utf8_lossy(inner).trim()
                    ))
                })?;
            }
            from = after;
        }
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a header from the start of `bytes` and checks the dtype and the data size
/// against `total`, the length of the whole file (`bytes` may hold only its start).
fn parse_header(path: &Path, bytes: &[u8], total: u64) -> Result<(NpyHeader, NpyInfo)> {
    let header_err = |source| InteropError::NpyHeader {
        path: path.to_path_buf(),
        source,
    };
    precheck_shape(path, bytes)?;
    let mut cursor = Cursor::new(bytes);
    let header = NpyHeader::from_reader(&mut cursor).map_err(header_err)?;
    let header_bytes = cursor.position();
    let dtype = header.dtype();
    let (item, stored) = if is_float(&dtype, 8) {
        (8u64, StoredPrecision::F64)
    } else if is_float(&dtype, 4) {
        (4u64, StoredPrecision::F32)
    } else {
        return Err(InteropError::UnsupportedDtype {
            path: path.to_path_buf(),
            dtype: dtype_name(&dtype),
        });
    };
    let shape: Vec<u64> = header.shape().to_vec();
    let found = total.saturating_sub(header_bytes);
    let expected = shape
        .iter()
        .try_fold(1u64, |acc, &s| acc.checked_mul(s))
        .and_then(|n| n.checked_mul(item))
        // No usize index may overflow either (32-bit targets).
        .filter(|&n| {
            usize::try_from(n).is_ok() && shape.iter().all(|&s| usize::try_from(s).is_ok())
        });
    let Some(expected) = expected else {
        return Err(InteropError::NpyTruncated {
            path: path.to_path_buf(),
            shape,
            dtype: dtype_name(&dtype),
            expected: u64::MAX,
            found,
        });
    };
    if found < expected {
        return Err(InteropError::NpyTruncated {
            path: path.to_path_buf(),
            shape,
            dtype: dtype_name(&dtype),
            expected,
            found,
        });
    }
    if found > expected {
        return Err(InteropError::NpyTrailingBytes {
            path: path.to_path_buf(),
            shape,
            extra: found - expected,
        });
    }
    Ok((
        header,
        NpyInfo {
            shape,
            stored,
            header_bytes,
            data_bytes: expected,
        },
    ))
}

/// Reads and checks the header of a `.npy` file without reading its data: the
/// dtype, and the data size the shape implies against the file's length.
///
/// # Errors
/// [`InteropError::Read`], [`InteropError::NotRegularFile`] (FIFOs, devices,
/// directories), [`InteropError::FileTooLarge`] (a header beyond
/// [`super::limits::MAX_NPY_HEADER_BYTES`]), [`InteropError::NpyHeader`],
/// [`InteropError::NpyTruncated`], [`InteropError::NpyTrailingBytes`],
/// [`InteropError::UnsupportedDtype`].
pub fn read_info(path: &Path) -> Result<NpyInfo> {
    let (mut f, len) = super::fsio::open_regular(path)?;
    Ok(header_of(path, &mut f, len)?.1)
}

/// Reads the header at the start of an open file of length `len`.
fn header_of(path: &Path, f: &mut std::fs::File, len: u64) -> Result<(NpyHeader, NpyInfo)> {
    use std::io::Read;
    // magic (6) + version (2) + header length (2 or 4 bytes, little-endian).
    let mut prefix = Vec::with_capacity(12);
    f.by_ref()
        .take(12)
        .read_to_end(&mut prefix)
        .map_err(|source| InteropError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let declared = match prefix.get(6) {
        Some(1) if prefix.len() >= 10 => u64::from(u16::from_le_bytes([prefix[8], prefix[9]])) + 10,
        Some(2 | 3) if prefix.len() >= 12 => {
            u64::from(u32::from_le_bytes([
                prefix[8], prefix[9], prefix[10], prefix[11],
            ])) + 12
        }
        // Not a .npy file: let the parser say what is wrong.
        _ => prefix.len() as u64,
    };
    let limit = super::limits::MAX_NPY_HEADER_BYTES;
    if declared > limit {
        return Err(InteropError::FileTooLarge {
            path: path.to_path_buf(),
            what: ".npy header",
            bytes: u128::from(declared),
            limit,
        });
    }
    let rest = declared.min(len).saturating_sub(prefix.len() as u64);
    f.by_ref()
        .take(rest)
        .read_to_end(&mut prefix)
        .map_err(|source| InteropError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    parse_header(path, &prefix, len)
}

/// Reads a `.npy` file (float64 or float32; any byte order; C or Fortran order).
///
/// Only regular files are read. The header is read and checked first; the data
/// section is read only if its size (the shape's product times the item size)
/// matches the file's length and fits in the memory budget
/// ([`super::limits::memory_budget`]). NaN and ±inf are returned as they are; use
/// [`read_finite`] for inputs.
///
/// # Errors
/// As [`read_info`], and [`InteropError::BudgetExceeded`] for a data section beyond
/// the memory budget.
pub fn read(path: &Path) -> Result<Array> {
    let (mut f, len) = super::fsio::open_regular(path)?;
    let (header, info) = header_of(path, &mut f, len)?;
    let budget = super::limits::memory_budget();
    // The f64 entries (f32 is promoted) and their C-order copy for Fortran files.
    let needs = u128::from(
        info.data_bytes
            / if info.stored == StoredPrecision::F32 {
                4
            } else {
                8
            },
    ) * super::limits::F64_BYTES
        * 2;
    if needs > u128::from(budget) {
        return Err(InteropError::BudgetExceeded {
            what: format!("{} (shape {:?})", path.display(), info.shape),
            needs: super::limits::human_bytes(needs),
            at_most: format!("{} entries", u128::from(budget) / 16),
            budget: super::limits::human_bytes(u128::from(budget)),
        });
    }
    let data = super::fsio::read_to_vec(
        path,
        &mut f,
        info.data_bytes,
        info.data_bytes,
        ".npy data section",
    )?;
    if (data.len() as u64) < info.data_bytes {
        // The file shrank while being read.
        return Err(InteropError::NpyTruncated {
            path: path.to_path_buf(),
            shape: info.shape,
            dtype: dtype_name(&header.dtype()),
            expected: info.data_bytes,
            found: data.len() as u64,
        });
    }
    from_parts(path, header, &info, &data)
}

/// Reads a `.npy` file and refuses NaN / ±inf entries.
///
/// # Errors
/// As [`read`], and [`InteropError::NonFinite`].
pub fn read_finite(path: &Path) -> Result<Array> {
    let a = read(path)?;
    a.ensure_finite(path)?;
    Ok(a)
}

/// Decodes the bytes of a `.npy` file (`path` is only used in messages).
///
/// # Errors
/// As [`read`] (but for [`InteropError::Read`], [`InteropError::NotRegularFile`] and
/// the memory budget: `bytes` is already in memory).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Array> {
    let (header, info) = parse_header(path, bytes, bytes.len() as u64)?;
    let start = usize::try_from(info.header_bytes).unwrap_or(bytes.len());
    from_parts(path, header, &info, &bytes[start.min(bytes.len())..])
}

/// The array of a checked header and its data section (exactly `info.data_bytes` long).
fn from_parts(path: &Path, header: NpyHeader, info: &NpyInfo, data_bytes: &[u8]) -> Result<Array> {
    let header_err = |source| InteropError::NpyHeader {
        path: path.to_path_buf(),
        source,
    };
    let order = header.order();
    let file = NpyFile::with_header(header, data_bytes);
    let stored_data = match info.stored {
        StoredPrecision::F64 => file.into_vec::<f64>().map_err(header_err)?,
        StoredPrecision::F32 => {
            let v = file.into_vec::<f32>().map_err(header_err)?;
            v.into_iter().map(f64::from).collect()
        }
    };
    let shape: Vec<usize> = info
        .shape
        .iter()
        .map(|&s| usize::try_from(s).unwrap_or(usize::MAX))
        .collect();
    let data = match order {
        Order::C => stored_data,
        Order::Fortran => fortran_to_c(&shape, &stored_data),
    };
    Ok(Array {
        shape,
        data,
        stored: info.stored,
    })
}

/// Reorders Fortran-order (first index fastest) entries into C order.
fn fortran_to_c(shape: &[usize], f: &[f64]) -> Vec<f64> {
    let nd = shape.len();
    if nd <= 1 || f.is_empty() {
        // Strides of an empty array may overflow (a zero-length axis after huge ones).
        return f.to_vec();
    }
    // Fortran strides.
    let mut fstride = vec![1usize; nd];
    for k in 1..nd {
        fstride[k] = fstride[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(f.len());
    let mut idx = vec![0usize; nd];
    for _ in 0..f.len() {
        let off: usize = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        out.push(f[off]);
        // Increment the C-order multi-index (last fastest).
        for k in (0..nd).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

/// The bytes of a little-endian float64 C-order `.npy` file holding `a`.
pub fn encode(a: &Array) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + 8 * a.data.len());
    let shape: Vec<u64> = a.shape.iter().map(|&s| s as u64).collect();
    let mut w = npyz::WriteOptions::<f64>::new()
        .dtype(DType::Plain("<f8".parse().expect("valid type string")))
        .shape(&shape)
        .writer(&mut out)
        .begin_nd()
        .expect("writing to memory cannot fail");
    w.extend(a.data.iter().copied())
        .expect("writing to memory cannot fail");
    w.finish().expect("writing to memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.npy")
    }

    #[test]
    fn round_trip_preserves_bits() {
        let a = Array::new(vec![2, 2], vec![0.1, -0.0, f64::MIN_POSITIVE, 1e300]).unwrap();
        let b = decode(p(), &encode(&a)).unwrap();
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.data().iter().zip(b.data()) {
            assert_eq!(x.to_bits(), y.to_bits());
        }
    }

    #[test]
    fn fortran_order_is_transposed_to_c() {
        // shape (2, 3) in Fortran order: entries stored column by column.
        let c = fortran_to_c(&[2, 3], &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(c, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let c3 = fortran_to_c(&[2, 2, 2], &[0.0, 4.0, 2.0, 6.0, 1.0, 5.0, 3.0, 7.0]);
        assert_eq!(c3, (0..8).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn truncated_and_trailing_bytes_are_refused() {
        let a = Array::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
        let bytes = encode(&a);
        assert!(matches!(
            decode(p(), &bytes[..bytes.len() - 1]),
            Err(InteropError::NpyTruncated {
                expected: 24,
                found: 23,
                ..
            })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode(p(), &longer),
            Err(InteropError::NpyTrailingBytes { extra: 1, .. })
        ));
        assert!(matches!(
            decode(p(), &bytes[..20]),
            Err(InteropError::NpyHeader { .. })
        ));
        assert!(matches!(
            decode(p(), b"not a numpy file at all"),
            Err(InteropError::NpyHeader { .. })
        ));
    }

    /// A v1 `.npy` file with a hand-written header and `data`.
    fn with_header(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut h = dict.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn shapes_whose_product_overflows_are_refused_before_parsing() {
        for shape in [
            "(1099511627776, 1099511627776)",
            "(1099511627776, 1099511627776, 0)",
            "(18446744073709551615,)",
        ] {
            let b = with_header(
                &format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}"),
                &[0; 8],
            );
            assert!(
                matches!(decode(p(), &b), Err(InteropError::NpyHeader { .. })),
                "{shape}"
            );
        }
        // A duplicate key cannot smuggle a second shape past the check.
        let b = with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'shape': (4294967296, 4294967296), }",
            &[0; 8],
        );
        assert!(decode(p(), &b).is_err());
        // Deep nesting (exponential backtracking in the header parser) is refused fast.
        let deep = format!(
            "{{'descr': {}'<f8', 'fortran_order': False, 'shape': (2, 4), }}",
            "[".repeat(90)
        );
        let t = std::time::Instant::now();
        assert!(matches!(
            decode(p(), &with_header(&deep, &[0; 64])),
            Err(InteropError::NpyHeader { .. })
        ));
        assert!(t.elapsed().as_secs() < 1);
        // Zero-length axes after small ones are fine (an empty array).
        let b = with_header(
            "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 0, 2), }",
            &[],
        );
        assert_eq!(decode(p(), &b).unwrap().shape(), &[3, 0, 2]);
    }

    #[test]
    fn unravel_is_c_order() {
        let a = Array::new(vec![2, 3, 4], vec![0.0; 24]).unwrap();
        assert_eq!(a.unravel(0), vec![0, 0, 0]);
        assert_eq!(a.unravel(5), vec![0, 1, 1]);
        assert_eq!(a.unravel(23), vec![1, 2, 3]);
    }
}
