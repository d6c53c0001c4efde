//! Singular values and numerical rank (R14).

use faer::MatRef;

use crate::error::{Error, Result, ensure_finite};

/// Singular values of `a` in non-increasing order.
///
/// # Errors
/// [`Error::NonFinite`] for NaN/inf entries, [`Error::NoConvergence`] if the SVD fails.
pub fn singular_values(a: MatRef<'_, f64>) -> Result<Vec<f64>> {
    ensure_finite("matrix", a)?;
    if a.nrows() == 0 || a.ncols() == 0 {
        return Ok(Vec::new());
    }
    let mut s = a
        .singular_values()
        .map_err(|_| Error::NoConvergence { what: "SVD" })?;
    s.sort_by(|x, y| y.total_cmp(x));
    Ok(s)
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
