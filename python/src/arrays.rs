//! Arrays across the boundary: any array-like in, float64 numpy arrays out.
//!
//! Input: a C-contiguous float64 numpy array is borrowed (zero copy: a `(B, d)` row-major
//! buffer is exactly the crate's column-major `d × B` batch). Anything else goes through
//! `numpy.asarray` (lists, tuples, objects with `__array__` such as torch CPU tensors) and is
//! converted to C-contiguous float64 when its dtype is real: float32 / float16 and integers are
//! promoted (as the CLI promotes float32 `.npy` files); complex, bool, object and string dtypes
//! are a `DtypeError`.

use faer::{Mat, MatRef};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors;

/// A float64, C-contiguous array borrowed from Python.
pub(crate) struct In<'py> {
    arr: PyReadonlyArrayDyn<'py, f64>,
}

impl In<'_> {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.arr.shape()
    }

    /// The entries, row-major.
    pub fn data(&self) -> &[f64] {
        // Always C-contiguous by construction.
        self.arr.as_slice().unwrap_or(&[])
    }
}

/// Converts `obj` to a float64 C-contiguous array (borrowed when it already is one).
pub(crate) fn array<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<In<'py>> {
    if let Ok(a) = obj.cast::<PyArrayDyn<f64>>()
        && a.is_c_contiguous()
    {
        return Ok(In {
            arr: a.try_readonly()?,
        });
    }
    let py = obj.py();
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (obj,)).map_err(|e| {
        errors::dtype(format!(
            "{what}: cannot be read as an array ({e}); pass a numpy array, a list of numbers or \
             an object with __array__"
        ))
    })?;
    let dtype = arr.getattr("dtype")?;
    let kind: String = dtype.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        let name: String = dtype.getattr("name")?.extract()?;
        return Err(errors::dtype(format!(
            "{what} has dtype {name}: arrays must be real numbers (float64, or float32 / \
             integers, promoted to float64); convert with .astype(numpy.float64)"
        )));
    }
    let f64_dtype = np.getattr("float64")?;
    let c = np.call_method1("ascontiguousarray", (arr, f64_dtype))?;
    let a = c.cast_into::<PyArrayDyn<f64>>().map_err(PyErr::from)?;
    Ok(In {
        arr: a.try_readonly()?,
    })
}

/// First non-finite entry of a row-major array, as a message.
fn check_finite(a: &In<'_>, what: &str) -> PyResult<()> {
    if let Some(k) = a.data().iter().position(|v| !v.is_finite()) {
        let shape = a.shape();
        let mut idx = vec![0usize; shape.len()];
        let mut rest = k;
        for (ax, n) in shape.iter().enumerate().rev() {
            idx[ax] = rest % n.max(&1);
            rest /= n.max(&1);
        }
        return Err(errors::input(format!(
            "{what} has a non-finite value {} at index {idx:?} (all entries must be finite)",
            a.data()[k]
        )));
    }
    Ok(())
}

/// A batch `(B, d)` of finite points (`d` checked if given).
pub(crate) fn batch<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    d: Option<usize>,
) -> PyResult<In<'py>> {
    let a = array(obj, what)?;
    let s = a.shape();
    if s.len() != 2 {
        return Err(errors::input(format!(
            "{what} must be a 2-dimensional array (B, d), one point per row; found shape {s:?} \
             (a single point x is x[None, :])"
        )));
    }
    if s[0] == 0 || s[1] == 0 {
        return Err(errors::input(format!(
            "{what} is empty (shape {s:?}): it needs at least one point and one coordinate"
        )));
    }
    if let Some(d) = d
        && s[1] != d
    {
        return Err(errors::input(format!(
            "{what} has shape {s:?}: axis 1 has length {}, expected {d} (the model's dimension d)",
            s[1]
        )));
    }
    check_finite(&a, what)?;
    Ok(a)
}

/// A finite matrix `(rows, cols)` (shape checked where given).
pub(crate) fn matrix<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
    rows: Option<usize>,
    cols: Option<usize>,
) -> PyResult<In<'py>> {
    let a = array(obj, what)?;
    let s = a.shape();
    if s.len() != 2 {
        return Err(errors::input(format!(
            "{what} must be a 2-dimensional array; found shape {s:?}"
        )));
    }
    for (axis, want) in [(0, rows), (1, cols)] {
        if let Some(w) = want
            && s[axis] != w
        {
            return Err(errors::input(format!(
                "{what} has shape {s:?}: axis {axis} has length {}, expected {w}",
                s[axis]
            )));
        }
    }
    check_finite(&a, what)?;
    Ok(a)
}

/// A finite vector (length checked if given).
pub(crate) fn vector(obj: &Bound<'_, PyAny>, what: &str, len: Option<usize>) -> PyResult<Vec<f64>> {
    let a = array(obj, what)?;
    let s = a.shape();
    if s.len() != 1 {
        return Err(errors::input(format!(
            "{what} must be a 1-dimensional array; found shape {s:?}"
        )));
    }
    if let Some(n) = len
        && s[0] != n
    {
        return Err(errors::input(format!(
            "{what} has length {}, expected {n}",
            s[0]
        )));
    }
    check_finite(&a, what)?;
    Ok(a.data().to_vec())
}

impl In<'_> {
    /// The batch `(B, d)` as the crate's `d × B` matrix view (no copy).
    pub fn as_batch(&self) -> MatRef<'_, f64> {
        let s = self.shape();
        MatRef::from_column_major_slice(self.data(), s[1], s[0])
    }

    /// A row-major `(r, c)` matrix as an owned faer matrix `r × c` (copied).
    pub fn to_mat(&self) -> Mat<f64> {
        let s = self.shape();
        let (r, c) = (s[0], s[1]);
        let d = self.data();
        Mat::from_fn(r, c, |i, j| d[i * c + j])
    }
}

/// A `d × B` matrix as a `(B, d)` numpy array.
pub(crate) fn out_batch<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> PyResult<Bound<'py, PyAny>> {
    let (d, b) = (m.nrows(), m.ncols());
    let mut v = Vec::with_capacity(d * b);
    for j in 0..b {
        match m.col(j).try_as_col_major() {
            // A contiguous column (the crate's outputs): one slice copy.
            Some(c) => v.extend_from_slice(c.as_slice()),
            None => v.extend((0..d).map(|i| m[(i, j)])),
        }
    }
    out_shaped(py, v, &[b, d])
}

/// An `r × c` matrix as an `(r, c)` numpy array.
pub(crate) fn out_matrix<'py>(py: Python<'py>, m: MatRef<'_, f64>) -> PyResult<Bound<'py, PyAny>> {
    let (r, c) = (m.nrows(), m.ncols());
    let mut v = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            v.push(m[(i, j)]);
        }
    }
    out_shaped(py, v, &[r, c])
}

/// A row-major buffer as a numpy array of `shape`.
pub(crate) fn out_shaped<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    let a = PyArray1::from_vec(py, v);
    Ok(a.reshape(shape.to_vec())?.into_any())
}

/// A vector as a 1-d numpy array.
pub(crate) fn out_vec<'py>(py: Python<'py>, v: Vec<f64>) -> PyResult<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, v).into_any())
}
