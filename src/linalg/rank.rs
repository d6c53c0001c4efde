//! Singular values and numerical rank (R14).

use faer::{Mat, MatRef};

use crate::error::{Error, Result, ensure_finite};

/// Multiplies by $2^k$ exactly (in steps that never overflow or underflow an
/// intermediate power of two).
pub(crate) fn times_pow2(x: f64, mut k: i32) -> f64 {
    let mut v = x;
    while k != 0 {
        let step = k.clamp(-1000, 1000);
        v *= 2f64.powi(step);
        k -= step;
    }
    v
}

/// `(a · 2^k, k)` with `max |a_ij| · 2^k ∈ [1/2, 1)`: an exact rescaling that
/// keeps dense decompositions away from overflow and from subnormal inputs
/// (on which iterative eigen/SVD solvers may fail to converge or lose all digits).
/// Returns `k = 0` for an all-zero matrix.
pub fn scale_to_unit(a: MatRef<'_, f64>) -> (Mat<f64>, i32) {
    let m = (0..a.ncols())
        .flat_map(|j| (0..a.nrows()).map(move |i| (i, j)))
        .fold(0.0f64, |acc, (i, j)| acc.max(a[(i, j)].abs()));
    if m == 0.0 || !m.is_finite() {
        return (a.to_owned(), 0);
    }
    let k = -(m.log2().floor() as i32) - 1;
    (
        Mat::from_fn(a.nrows(), a.ncols(), |i, j| times_pow2(a[(i, j)], k)),
        k,
    )
}

/// Singular values of `a` in non-increasing order.
///
/// The matrix is first rescaled exactly by a power of two (see
/// [`scale_to_unit`]), so tiny (even subnormal) and huge matrices get the same
/// relative accuracy as ordinary ones.
///
/// # Errors
/// [`Error::NonFinite`] for NaN/inf entries, [`Error::NoConvergence`] if the SVD fails,
/// [`Error::Overflow`] if a singular value exceeds f64.
pub fn singular_values(a: MatRef<'_, f64>) -> Result<Vec<f64>> {
    ensure_finite("matrix", a)?;
    if a.nrows() == 0 || a.ncols() == 0 {
        return Ok(Vec::new());
    }
    let (scaled, k) = scale_to_unit(a);
    let mut s = scaled
        .singular_values()
        .map_err(|_| Error::NoConvergence { what: "SVD" })?;
    s.sort_by(|x, y| y.total_cmp(x));
    let s: Vec<f64> = s.into_iter().map(|v| times_pow2(v, -k)).collect();
    crate::error::ensure_finite_output_slice("a singular value", MATRIX_TOO_LARGE, &s)?;
    Ok(s)
}

/// Why a spectrum overflows.
const MATRIX_TOO_LARGE: &str =
    "the matrix is so large (entries near 1.8e308) that it exceeds f64; scale it down";

/// Eigenvalues of a symmetric matrix (lower triangle used), non-decreasing,
/// computed on an exact power-of-two rescaling of the matrix.
///
/// # Errors
/// [`Error::NonFinite`], [`Error::DimensionMismatch`] for a non-square matrix,
/// [`Error::NoConvergence`], [`Error::Overflow`] if an eigenvalue exceeds f64.
pub fn symmetric_eigenvalues(a: MatRef<'_, f64>) -> Result<Vec<f64>> {
    ensure_finite("matrix", a)?;
    crate::error::ensure_dim(
        "columns vs rows of a symmetric matrix",
        a.nrows(),
        a.ncols(),
    )?;
    if a.nrows() == 0 {
        return Ok(Vec::new());
    }
    let (scaled, k) = scale_to_unit(a);
    let ev = scaled
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|_| Error::NoConvergence {
            what: "symmetric eigendecomposition",
        })?;
    let ev: Vec<f64> = ev.into_iter().map(|v| times_pow2(v, -k)).collect();
    crate::error::ensure_finite_output_slice("an eigenvalue", MATRIX_TOO_LARGE, &ev)?;
    Ok(ev)
}

/// The energy rule of the LOCO-edit / Shallow-Diffuse papers: the smallest `k`
/// with $\sqrt{\sum_{i \le k}\sigma_i^2} > \theta\,\|J\|_F$ (they use $\theta = 0.99$).
///
/// Returns 0 for an all-zero spectrum. `sigma` must be sorted non-increasing.
///
/// # Examples
/// ```
/// use diffusion_lowdim::linalg::numerical_rank_energy;
/// // r equal singular values: the rule gives r while (r−1)/r ≤ 0.99², i.e. r ≤ 50.
/// assert_eq!(numerical_rank_energy(&[1.0; 50], 0.99), 50);
/// assert_eq!(numerical_rank_energy(&[1.0; 51], 0.99), 51 - 1);
/// ```
pub fn numerical_rank_energy(sigma: &[f64], theta: f64) -> usize {
    let total: f64 = sigma.iter().map(|s| s * s).sum();
    if total == 0.0 {
        return 0;
    }
    let target = theta * theta * total;
    let mut partial = 0.0;
    for (k, s) in sigma.iter().enumerate() {
        partial += s * s;
        if partial > target {
            return k + 1;
        }
    }
    sigma.len()
}

/// The count of singular values above `tol · σ_max` (classical numerical rank).
pub fn numerical_rank_tol(sigma: &[f64], tol: f64) -> usize {
    let smax = sigma.iter().cloned().fold(0.0f64, f64::max);
    sigma.iter().filter(|&&s| s > tol * smax).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_and_huge_matrices() {
        let tiny = faer::mat![[3e-310, 0.0], [0.0, 1e-310]];
        let s = singular_values(tiny.as_ref()).unwrap();
        assert_eq!(s, vec![3e-310, 1e-310]);
        let ev = symmetric_eigenvalues(tiny.as_ref()).unwrap();
        assert_eq!(ev, vec![1e-310, 3e-310]);
        let huge = faer::mat![[1e300, 0.0], [0.0, -1e300]];
        let ev = symmetric_eigenvalues(huge.as_ref()).unwrap();
        assert_eq!(ev, vec![-1e300, 1e300]);
    }
}
