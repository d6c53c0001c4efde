//! Linear-algebra helpers shared by the models and the theorem checks.
//!
//! Thin wrappers over faer with the crate's conventions: f64, column-major,
//! sequential kernels (parallelism is applied by the callers over fixed
//! partitions, so results are bit-identical for any thread count).

pub mod basis;
pub mod compensated;
pub(crate) mod fused;
pub mod ozaki;
pub mod rank;
pub mod truncated;

pub use basis::{
    check_orthonormal, orthonormality_deviation, orthonormalize, projection_residual,
    random_orthonormal,
};
pub use rank::{
    numerical_rank_energy, numerical_rank_tol, scale_to_unit, singular_values,
    symmetric_eigenvalues,
};
pub use truncated::{TruncatedInfo, TruncatedSvd, truncated_svd};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// `dst = alpha · lhs · rhs` (sequential, deterministic).
pub fn gemm(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>, alpha: f64) {
    matmul(dst, Accum::Replace, lhs, rhs, alpha, Par::Seq);
}

/// `dst += alpha · lhs · rhs` (sequential, deterministic).
pub fn gemm_acc(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>, alpha: f64) {
    matmul(dst, Accum::Add, lhs, rhs, alpha, Par::Seq);
}

/// Output blocks of this many rows or columns are the unit of parallel work in
/// [`par_mul`]. Fixed, so the partition (and every bit of the result) does not
/// depend on the number of threads.
const PAR_CHUNK: usize = 256;

/// `lhs · rhs` as a new matrix, computed in parallel over fixed blocks of the
/// output (columns if it has many, else rows), each block by a sequential GEMM:
/// bit-identical for any thread count.
pub fn par_mul(lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) -> Mat<f64> {
    use rayon::prelude::*;
    let (m, n) = (lhs.nrows(), rhs.ncols());
    let mut out = Mat::<f64>::zeros(m, n);
    if n >= 2 * PAR_CHUNK {
        let blocks: Vec<(usize, Mat<f64>)> = (0..n)
            .step_by(PAR_CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|s| {
                let w = PAR_CHUNK.min(n - s);
                (s, mul(lhs, rhs.subcols(s, w)))
            })
            .collect();
        for (s, b) in blocks {
            out.as_mut().subcols_mut(s, b.ncols()).copy_from(b.as_ref());
        }
    } else if m >= 2 * PAR_CHUNK {
        let blocks: Vec<(usize, Mat<f64>)> = (0..m)
            .step_by(PAR_CHUNK)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|s| {
                let h = PAR_CHUNK.min(m - s);
                (s, mul(lhs.subrows(s, h), rhs))
            })
            .collect();
        for (s, b) in blocks {
            out.as_mut().subrows_mut(s, b.nrows()).copy_from(b.as_ref());
        }
    } else {
        gemm(out.as_mut(), lhs, rhs, 1.0);
    }
    out
}

/// `lhs · rhs` as a new matrix.
pub fn mul(lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(lhs.nrows(), rhs.ncols());
    gemm(out.as_mut(), lhs, rhs, 1.0);
    out
}

/// Copies column `j` of `m` into `buf` (works for any stride).
pub fn col_to_slice(m: MatRef<'_, f64>, j: usize, buf: &mut [f64]) {
    let c = m.col(j);
    for (i, b) in buf.iter_mut().enumerate() {
        *b = c[i];
    }
}

/// Column `j` of an owned matrix as a slice (owned faer matrices are column major).
pub fn col_slice(m: &Mat<f64>, j: usize) -> &[f64] {
    m.col(j)
        .try_as_col_major()
        .expect("owned matrices are column major")
        .as_slice()
}

/// Column `j` of an owned matrix as a mutable slice.
pub fn col_slice_mut(m: &mut Mat<f64>, j: usize) -> &mut [f64] {
    m.col_mut(j)
        .try_as_col_major_mut()
        .expect("owned matrices are column major")
        .as_slice_mut()
}

/// Frobenius norm of `a − b` (same shapes), scaled against overflow.
pub fn frobenius_distance(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let mut scale = 0.0f64;
    let mut ssq = 1.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let v = (a[(i, j)] - b[(i, j)]).abs();
            if v > 0.0 {
                if scale < v {
                    ssq = 1.0 + ssq * (scale / v) * (scale / v);
                    scale = v;
                } else {
                    ssq += (v / scale) * (v / scale);
                }
            }
        }
    }
    scale * ssq.sqrt()
}

/// Frobenius norm of `a`.
pub fn frobenius_norm(a: MatRef<'_, f64>) -> f64 {
    a.norm_l2()
}
