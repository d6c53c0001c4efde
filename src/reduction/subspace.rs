//! Distances between subspaces and principal angles, accurate for tiny angles (SPEC §8).
//!
//! # Definition
//! For $U \in \mathbb R^{d\times p}$, $V \in \mathbb R^{d\times q}$ with orthonormal
//! columns and $q \le p$, the principal angles $0 \le \theta_1 \le \dots \le \theta_q \le \pi/2$
//! have $\cos\theta_i$ = the singular values of $U^\top V$ and $\sin\theta_i$ = the
//! singular values of $W = (I - UU^\top)V$ (since $W^\top W = I - V^\top UU^\top V$). Then
//! $$\|UU^\top - VV^\top\|_F^2 = p + q - 2\|U^\top V\|_F^2 = (p - q) + 2\|W\|_F^2,$$
//! so for $p = q$, $\|UU^\top - VV^\top\|_F = \sqrt2\,\|\sin\Theta\|_F$ with
//! $\|\sin\Theta\|_F^2 = \sum_i\sin^2\theta_i = \|W\|_F^2$.
//!
//! # Accuracy
//! The naive $\sqrt{2r - 2\|U^\top V\|_F^2}$ subtracts two numbers of size $2r$, so
//! its absolute error is about $\sqrt{r\varepsilon}\approx 10^{-8}$: useless for
//! angles below $10^{-8}$. Here $W$ is formed column by column with double-length
//! (`Dot2`) projections ([`crate::linalg::projection_residual`]), so each entry of
//! $W$ has error $\le \varepsilon|W_{ij}| + O(\varepsilon^2)$, and
//! $\|W\|_F$ is accurate to a few ulps *relative* to itself — for angles down to
//! about the orthonormality defects $\delta_U, \delta_V$ of the inputs (a basis
//! orthonormal only to $\delta$ defines its subspace only to $O(\delta)$). The
//! distance therefore has absolute error $\lesssim 4(\delta_U + \delta_V) +
//! 8\gamma_{d+p}\,\mathrm{dist}$. Principal angles take $\arcsin$ of the
//! singular values of $W$ for $\sin\theta \le 1/\sqrt2$ and $\arccos$ of those of
//! $U^\top V$ otherwise (Björck–Golub 1973; Knyazev–Argentati 2002), so each is
//! accurate to about $\varepsilon\,\|W\|_2$ absolutely.

#![allow(non_snake_case)]

use faer::{Mat, MatRef};

use crate::error::{Error, Result, ensure_dim};
use crate::linalg::{check_orthonormal, frobenius_norm, mul};

/// Validates a pair of bases: orthonormal, same ambient dimension.
fn check_pair(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<()> {
    check_orthonormal("subspace basis U", 0, u)?;
    check_orthonormal("subspace basis V", 1, v)?;
    ensure_dim("rows of V vs rows of U", u.nrows(), v.nrows())
}

/// $W = (I - UU^\top)V$, each column formed with double-length projections.
///
/// # Definition
/// Column $j$ of the result is $v_j - U(U^\top v_j)$ with $U^\top v_j$ and the
/// residual accumulated in double length ([`crate::linalg::projection_residual`]).
/// No validation (callers check shapes); `u` and `v` must have the same number of rows.
pub fn residual_matrix(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Mat<f64> {
    crate::linalg::fused::projection_residuals(u, v)
}

/// $\|\sin\Theta(U, V)\|_F = \|(I - UU^\top)V\|_F$ for bases with `cols(V) ≤ cols(U)`.
///
/// # Errors
/// As [`subspace_distance`], plus [`Error::InvalidCount`] if `V` has more columns than `U`.
pub fn sin_theta_norm(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<f64> {
    check_pair(u, v)?;
    if v.ncols() > u.ncols() {
        return Err(Error::InvalidCount {
            name: "columns of V",
            value: v.ncols(),
            requirement: "at most the columns of U",
        });
    }
    Ok(frobenius_norm(residual_matrix(u, v).as_ref()))
}

/// The subspace distance $\|UU^\top - VV^\top\|_F$.
///
/// # Definition
/// With $q \le p$ (swap otherwise) and $W = (I-UU^\top)V$:
/// $\|UU^\top - VV^\top\|_F = \sqrt{(p - q) + 2\|W\|_F^2}$; for equal ranks
/// $= \sqrt2\,\|\sin\Theta\|_F$. Ranges over $[\sqrt{|p-q|}, \sqrt{p+q}]$.
///
/// # Errors
/// [`Error::Empty`], [`Error::NonFinite`], [`Error::InvalidCount`] (more columns than
/// rows), [`Error::NotOrthonormal`] for either basis; [`Error::DimensionMismatch`]
/// if the ambient dimensions differ.
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::subspace_distance;
/// // Two lines in R² at angle θ = 1e-9: distance √2·sin θ, to full relative accuracy.
/// let th: f64 = 1e-9;
/// let u = faer::mat![[1.0], [0.0]];
/// let v = faer::mat![[th.cos()], [th.sin()]];
/// let dist = subspace_distance(u.as_ref(), v.as_ref())?;
/// assert!((dist - 2f64.sqrt() * th.sin()).abs() <= 1e-15 * dist);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn subspace_distance(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<f64> {
    check_pair(u, v)?;
    let (big, small) = if v.ncols() <= u.ncols() {
        (u, v)
    } else {
        (v, u)
    };
    let w = frobenius_norm(residual_matrix(big, small).as_ref());
    let extra = (big.ncols() - small.ncols()) as f64;
    Ok((extra + 2.0 * w * w).sqrt())
}

/// Principal angles $\theta_1 \le \dots \le \theta_{\min(p,q)}$ between $\operatorname{span}U$ and $\operatorname{span}V$, in radians.
///
/// # Definition
/// $\theta_i = \arcsin s_i$ where $s_i$ (ascending) are the singular values of
/// $(I - UU^\top)V$, for $s_i \le 1/\sqrt2$; $\theta_i = \arccos c_i$ where $c_i$
/// (descending) are the singular values of $U^\top V$, otherwise (with $q \le p$;
/// the arguments are swapped if not).
///
/// # Errors
/// As [`subspace_distance`]; [`Error::NoConvergence`] if an SVD fails.
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::principal_angles;
/// let u = faer::mat![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
/// let v = faer::mat![[1.0], [0.0], [0.0]];
/// let th = principal_angles(u.as_ref(), v.as_ref())?;
/// assert_eq!(th, vec![0.0]);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn principal_angles(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<Vec<f64>> {
    check_pair(u, v)?;
    let (big, small) = if v.ncols() <= u.ncols() {
        (u, v)
    } else {
        (v, u)
    };
    let q = small.ncols();
    let W = residual_matrix(big, small);
    let mut sines = W
        .singular_values()
        .map_err(|_| Error::NoConvergence { what: "SVD" })?;
    sines.sort_by(|a, b| a.total_cmp(b));
    let C = mul(big.transpose(), small);
    let mut cosines = C
        .singular_values()
        .map_err(|_| Error::NoConvergence { what: "SVD" })?;
    cosines.sort_by(|a, b| b.total_cmp(a));
    let half = core::f64::consts::FRAC_1_SQRT_2;
    Ok((0..q)
        .map(|i| {
            let s = sines.get(i).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            if s <= half {
                s.asin()
            } else {
                cosines
                    .get(i)
                    .copied()
                    .unwrap_or(0.0)
                    .clamp(0.0, 1.0)
                    .acos()
            }
        })
        .collect())
}

/// The sines $\sin\theta_1 \le \dots \le \sin\theta_{\min(p,q)}$ of the principal angles (ascending,
/// in the order of [`principal_angles`]).
///
/// # Definition
/// The singular values of $W = (I - UU^\top)V$ (with $q \le p$; the arguments are swapped if
/// not), $W$ formed with double-length projections: each sine is accurate to about
/// $\varepsilon\|W\|_2$ absolutely and to a few ulps relative to itself for angles down to the
/// bases' orthonormality defects — never $\sin(\arccos c)$, which loses everything below
/// $10^{-8}$.
///
/// # Errors
/// As [`principal_angles`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::principal_sines;
/// let th: f64 = 1e-9;
/// let u = faer::mat![[1.0], [0.0]];
/// let v = faer::mat![[th.cos()], [th.sin()]];
/// let s = principal_sines(u.as_ref(), v.as_ref())?;
/// assert!((s[0] - th.sin()).abs() <= 4e-16 * th);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn principal_sines(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<Vec<f64>> {
    check_pair(u, v)?;
    let (big, small) = if v.ncols() <= u.ncols() {
        (u, v)
    } else {
        (v, u)
    };
    let W = residual_matrix(big, small);
    let mut sines = W
        .singular_values()
        .map_err(|_| Error::NoConvergence { what: "SVD" })?;
    sines.sort_by(|a, b| a.total_cmp(b));
    Ok(sines.into_iter().map(|s| s.clamp(0.0, 1.0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::random_orthonormal;
    use crate::rng::seeded;

    #[test]
    fn distance_of_equal_and_orthogonal_subspaces() {
        let mut g = seeded(3);
        let q = random_orthonormal(&mut g, 10, 6).unwrap();
        let (a, b) = (q.as_ref().subcols(0, 3), q.as_ref().subcols(3, 3));
        assert!(subspace_distance(a, a).unwrap() < 1e-15);
        let d = subspace_distance(a, b).unwrap();
        assert!((d - 6f64.sqrt()).abs() < 1e-14);
        let th = principal_angles(a, b).unwrap();
        for t in th {
            assert!((t - core::f64::consts::FRAC_PI_2).abs() < 1e-14);
        }
    }

    #[test]
    fn unequal_ranks() {
        let mut g = seeded(4);
        let q = random_orthonormal(&mut g, 8, 5).unwrap();
        let big = q.as_ref().subcols(0, 5);
        let small = q.as_ref().subcols(1, 2);
        // small ⊂ big: distance² = p − q = 3.
        let d = subspace_distance(big, small).unwrap();
        assert!((d - 3f64.sqrt()).abs() < 1e-14);
        assert!((subspace_distance(small, big).unwrap() - d).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_inputs() {
        let u = faer::mat![[1.0], [0.0]];
        let v3 = faer::mat![[1.0], [0.0], [0.0]];
        assert!(matches!(
            subspace_distance(u.as_ref(), v3.as_ref()),
            Err(Error::DimensionMismatch { .. })
        ));
        let bad = faer::mat![[2.0], [0.0]];
        assert!(matches!(
            subspace_distance(u.as_ref(), bad.as_ref()),
            Err(Error::NotOrthonormal { .. })
        ));
        let nan = faer::mat![[f64::NAN], [0.0]];
        assert!(matches!(
            principal_angles(u.as_ref(), nan.as_ref()),
            Err(Error::NonFinite { .. })
        ));
    }
}
