//! PCA from a thin SVD of the data matrix (never from the eigenvalues of $XX^\top$).
//!
//! # Definition
//! For $X \in \mathbb R^{d\times N}$ (columns are samples) and $1 \le r \le d$, PCA solves
//! $$\max_{U \in \mathbb R^{d\times r},\ U^\top U = I_r} \|U^\top X\|_F^2 .$$
//! With the thin SVD $X = \sum_{j\le m}\sigma_j u_jv_j^\top$, $m = \min(d, N)$, the
//! maximum is $\sum_{j\le \min(r,m)}\sigma_j^2$ (Ky Fan), attained by $U = [u_1..u_r]$
//! when $r \le m$. When $r > m$ (fewer samples than the rank) the leading $m$
//! vectors are completed by any $r - m$ orthonormal directions orthogonal to them
//! ([`Pca::complete`]); every completion is optimal. By Theorem 1 of
//! arXiv:2409.02426 (R05 here) minimizing the DAE loss of the linear denoiser
//! $x_U = \frac{\alpha}{\alpha^2+\beta^2}UU^\top x_t$ is this problem.
//!
//! # Accuracy
//! A backward-stable SVD gives the singular vectors of $X + \Delta X$ with
//! $\|\Delta X\|_F \le c\,mn\,\varepsilon\|X\|_F$; by the sin-Θ bound of R06 the
//! computed subspace is within $\sqrt2\|\Delta X\|_F/\sigma_r$ of the exact one
//! when $\sigma_{r+1} = 0$. Forming $XX^\top$ first would square the condition
//! number and lose all digits below $\sigma_r/\sigma_1 \approx 10^{-8}$.

use faer::{Mat, MatRef};
use rand::Rng;

use crate::error::{Error, Result, ensure_finite};
use crate::linalg::{frobenius_norm, mul, orthonormalize};
use crate::reduction::subspace::residual_matrix;
use crate::rng::standard_normal;

/// The PCA of a data matrix: leading left singular vectors and all singular values.
///
/// # Examples
/// ```
/// use diffusion_lowdim::reduction::{Pca, subspace_distance};
/// use diffusion_lowdim::linalg::random_orthonormal;
/// use diffusion_lowdim::rng::{seeded, standard_normal};
/// let mut g = seeded(1);
/// let u = random_orthonormal(&mut g, 20, 3)?;
/// let x = &u * &standard_normal(&mut g, 3, 10);     // noise-free, N = 10 ≥ r = 3
/// let pca = Pca::fit(x.as_ref(), 3)?;
/// assert!(subspace_distance(pca.basis(), u.as_ref())? < 1e-13);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pca {
    rank: usize,
    basis: Mat<f64>,
    singular_values: Vec<f64>,
}

impl Pca {
    /// Computes the PCA of `x` (`d × N`) with target rank `r`.
    ///
    /// # Errors
    /// [`Error::Empty`] if `d = 0` or `N = 0`; [`Error::InvalidCount`] unless
    /// $1 \le r \le d$; [`Error::NonFinite`] for NaN/inf data;
    /// [`Error::NoConvergence`] if the SVD fails.
    pub fn fit(x: MatRef<'_, f64>, r: usize) -> Result<Self> {
        check_data(x)?;
        if r == 0 || r > x.nrows() {
            return Err(Error::InvalidCount {
                name: "rank r",
                value: r,
                requirement: "1 ≤ r ≤ d (the ambient dimension)",
            });
        }
        let svd = x
            .thin_svd()
            .map_err(|_| Error::NoConvergence { what: "thin SVD" })?;
        let m = x.nrows().min(x.ncols());
        let keep = r.min(m);
        let singular_values: Vec<f64> = (0..m).map(|j| svd.S()[j]).collect();
        let basis = svd.U().subcols(0, keep).to_owned();
        Ok(Self {
            rank: r,
            basis,
            singular_values,
        })
    }

    /// PCA by truncated subspace iteration ([`crate::linalg::truncated_svd`]) for
    /// $r \ll \min(d, N)$: the leading `r` left singular vectors, certified by an
    /// a-posteriori Wedin bound on $\|\sin\Theta\|_F$ against the exact leading
    /// subspace (returned in the info: at most $10^{-11}$, or the rounding floor
    /// $\approx\gamma\|X\|_F/\text{gap}$ of any backward-stable SVD when that is larger; the
    /// [`subspace_distance`](crate::reduction::subspace_distance) to the full-SVD answer
    /// is at most $\sqrt2$ times it plus that SVD's own rounding), falling back to
    /// the full thin SVD when no gap can be certified or the problem is not
    /// small-rank. Deterministic (fixed internal seed).
    ///
    /// Only the leading $\min(d, N, r + p)$ singular values are kept (Ritz values,
    /// $p \le 16$ oversampling); [`Pca::fit`] keeps all of them.
    ///
    /// # Errors
    /// As [`Pca::fit`]; [`Error::InvalidCount`] also when $r > \min(d, N)$ (use
    /// [`Pca::fit`], which completes the basis).
    pub fn fit_truncated(
        x: MatRef<'_, f64>,
        r: usize,
    ) -> Result<(Self, crate::linalg::TruncatedInfo)> {
        check_data(x)?;
        let m = x.nrows().min(x.ncols());
        if r == 0 || r > m {
            return Err(Error::InvalidCount {
                name: "rank r",
                value: r,
                requirement: "1 ≤ r ≤ min(d, N) for the truncated fit",
            });
        }
        let mut rng = crate::rng::seeded(0x7ca_5eed);
        let t = crate::linalg::truncated_svd(x, r, None, 1e-11, &mut rng)?;
        Ok((
            Self {
                rank: r,
                basis: t.u,
                singular_values: t.singular_values,
            },
            t.info,
        ))
    }

    /// The target rank $r$.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The leading $\min(r, d, N)$ left singular vectors (`d × min(r, m)`).
    pub fn basis(&self) -> MatRef<'_, f64> {
        self.basis.as_ref()
    }

    /// All $\min(d, N)$ singular values, non-increasing.
    pub fn singular_values(&self) -> &[f64] {
        &self.singular_values
    }

    /// Whether the leading vectors already form a full `d × r` solution ($r \le \min(d, N)$).
    pub fn is_complete(&self) -> bool {
        self.basis.ncols() == self.rank
    }

    /// The optimal value $\sum_{j \le \min(r, m)}\sigma_j^2$ of $\max\|U^\top X\|_F^2$.
    pub fn objective(&self) -> f64 {
        self.singular_values
            .iter()
            .take(self.rank)
            .map(|s| s * s)
            .sum()
    }

    /// $\sigma_r$ (0 if $r > \min(d, N)$).
    pub fn sigma_r(&self) -> f64 {
        self.singular_values
            .get(self.rank - 1)
            .copied()
            .unwrap_or(0.0)
    }

    /// $\sigma_{r+1}$ (0 if $r \ge \min(d, N)$).
    pub fn sigma_r_plus_1(&self) -> f64 {
        self.singular_values.get(self.rank).copied().unwrap_or(0.0)
    }

    /// A full `d × r` optimal solution: the leading singular vectors, completed (if
    /// $r > \min(d,N)$) by seeded random orthonormal directions orthogonal to them,
    /// as a generic optimizer would return.
    ///
    /// # Errors
    /// [`Error::NoConvergence`] never in practice (a QR of a Gaussian matrix).
    pub fn complete<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Mat<f64>> {
        complete_basis(self.basis.as_ref(), self.rank, rng)
    }
}

/// Validates a data matrix: non-empty and finite.
pub(crate) fn check_data(x: MatRef<'_, f64>) -> Result<()> {
    if x.nrows() == 0 {
        return Err(Error::Empty {
            what: "data matrix X",
            unit: "row (ambient dimension d ≥ 1)",
        });
    }
    if x.ncols() == 0 {
        return Err(Error::Empty {
            what: "data matrix X",
            unit: "column (sample, N ≥ 1)",
        });
    }
    ensure_finite("data matrix X", x)
}

/// Extends an orthonormal `d × m` basis `q` to `d × r` ($r \ge m$) by Gaussian
/// directions projected twice onto the orthogonal complement and orthonormalized.
pub(crate) fn complete_basis<R: Rng + ?Sized>(
    q: MatRef<'_, f64>,
    r: usize,
    rng: &mut R,
) -> Result<Mat<f64>> {
    let (d, m) = (q.nrows(), q.ncols());
    if m >= r {
        return Ok(q.subcols(0, r).to_owned());
    }
    let extra = r - m;
    let mut g = standard_normal(rng, d, extra);
    if m > 0 {
        // Twice is enough (Kahan–Parlett "twice is enough" for Gram–Schmidt).
        g = residual_matrix(q, g.as_ref());
        g = residual_matrix(q, g.as_ref());
    }
    let w = orthonormalize(g.as_ref())?;
    let mut out = Mat::<f64>::zeros(d, r);
    out.as_mut().subcols_mut(0, m).copy_from(q);
    out.as_mut().subcols_mut(m, extra).copy_from(w.as_ref());
    Ok(out)
}

/// The PCA objective $\|U^\top X\|_F^2$.
///
/// # Errors
/// [`Error::DimensionMismatch`] if the row counts differ; [`Error::NonFinite`];
/// [`Error::Overflow`] if the objective exceeds f64.
pub fn pca_objective(u: MatRef<'_, f64>, x: MatRef<'_, f64>) -> Result<f64> {
    crate::error::ensure_dim("rows of X vs rows of U", u.nrows(), x.nrows())?;
    ensure_finite("data matrix X", x)?;
    ensure_finite("basis U", u)?;
    let c = mul(u.transpose(), x);
    let n = frobenius_norm(c.as_ref());
    let v = n * n;
    if !v.is_finite() {
        return Err(Error::Overflow {
            what: "the PCA objective ‖UᵀX‖²",
            cause: "the data (or U) are so large that the squared norm is beyond f64; scale X down",
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::orthonormality_deviation;
    use crate::rng::seeded;

    #[test]
    fn hostile_inputs_are_typed_errors() {
        let x = Mat::<f64>::zeros(4, 0);
        assert!(matches!(Pca::fit(x.as_ref(), 1), Err(Error::Empty { .. })));
        let x = Mat::<f64>::zeros(4, 3);
        assert!(matches!(
            Pca::fit(x.as_ref(), 0),
            Err(Error::InvalidCount { .. })
        ));
        assert!(matches!(
            Pca::fit(x.as_ref(), 5),
            Err(Error::InvalidCount { .. })
        ));
        let mut x = Mat::<f64>::zeros(4, 3);
        x[(2, 1)] = f64::NAN;
        assert!(matches!(
            Pca::fit(x.as_ref(), 2),
            Err(Error::NonFinite { row: 2, col: 1, .. })
        ));
    }

    #[test]
    fn completion_is_orthonormal_and_contains_the_data() {
        let mut g = seeded(9);
        let x = standard_normal(&mut g, 12, 2);
        let p = Pca::fit(x.as_ref(), 5).unwrap();
        assert!(!p.is_complete());
        let u = p.complete(&mut g).unwrap();
        assert_eq!(u.ncols(), 5);
        assert!(orthonormality_deviation(u.as_ref()) < 1e-14);
        let res = residual_matrix(u.as_ref(), x.as_ref());
        assert!(frobenius_norm(res.as_ref()) < 1e-14 * frobenius_norm(x.as_ref()));
        let obj = pca_objective(u.as_ref(), x.as_ref()).unwrap();
        assert!((obj - p.objective()).abs() < 1e-13 * obj);
    }
}
