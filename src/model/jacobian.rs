//! Jacobian structure of denoisers (R14): numerical rank, rank ratio, and a
//! finite-difference Jacobian for any [`Denoiser`].
//!
//! # Definition
//! For every exact model, $J = \nabla_{x_t}\mathbb E[x_0\mid x_t] = \frac{\alpha}{\beta^2}\operatorname{Cov}[x_0\mid x_t]$
//! (symmetric PSD). For $K = 1$, $J = \frac{\alpha}{\alpha^2+\beta^2}UU^\top$: rank $r$,
//! so the denoiser moves by exactly $\lambda\sigma u$ along a singular vector $u$
//! (steering, LOCO edit) and does not move at all along $\operatorname{span}(U)^\perp$
//! (the null space used by Shallow Diffuse's watermark).
//!
//! The numerical rank of the LOCO-edit / Shallow-Diffuse papers is the smallest
//! $k$ with $\sqrt{\sum_{i\le k}\sigma_i^2} > 0.99\,\|J\|_F$; the rank ratio is $k/d$.
//!
//! Derivation: `docs/jacobians.md`; proof: `proofs/R14-jacobian-structure.md`.

use faer::{ColRef, Mat, MatRef};

use crate::error::{Error, Result, ensure_finite};
use crate::level::NoiseLevel;
use crate::linalg::{numerical_rank_energy, numerical_rank_tol, singular_values};
use crate::model::Denoiser;
use crate::prec;

/// The energy threshold used by the LOCO-edit and Shallow-Diffuse papers.
pub const ENERGY_THRESHOLD: f64 = 0.99;

/// Spectrum and ranks of a Jacobian.
#[derive(Debug, Clone, PartialEq)]
pub struct JacobianStructure {
    /// Singular values, non-increasing.
    pub singular_values: Vec<f64>,
    /// Smallest $k$ with $\sqrt{\sum_{i\le k}\sigma_i^2} > \theta\|J\|_F$ ($\theta$ = [`ENERGY_THRESHOLD`]).
    pub energy_rank: usize,
    /// Count of $\sigma_i > \tau\,\sigma_1$ with $\tau = 8\,d\,\varepsilon$
    /// (the backward error of the SVD is $O(d\varepsilon\|J\|_2)$, so smaller
    /// singular values are indistinguishable from zero).
    pub tolerance_rank: usize,
    /// `energy_rank / d`.
    pub rank_ratio: f64,
}

/// Singular values, numerical ranks and rank ratio of a square Jacobian.
///
/// # Errors
/// [`Error::DimensionMismatch`] if `j` is not square, [`Error::NonFinite`],
/// [`Error::NoConvergence`].
///
/// # Examples
/// ```
/// use diffusion_lowdim::model::jacobian::analyze;
/// let j = faer::mat![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
/// let s = analyze(j.as_ref())?;
/// assert_eq!((s.energy_rank, s.tolerance_rank), (2, 2));
/// assert!((s.rank_ratio - 2.0 / 3.0).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn analyze(j: MatRef<'_, f64>) -> Result<JacobianStructure> {
    if j.nrows() != j.ncols() {
        return Err(Error::DimensionMismatch {
            what: "Jacobian columns vs rows",
            expected: j.nrows(),
            found: j.ncols(),
        });
    }
    let d = j.nrows();
    let s = singular_values(j)?;
    let energy_rank = numerical_rank_energy(&s, ENERGY_THRESHOLD);
    Ok(JacobianStructure {
        tolerance_rank: numerical_rank_tol(&s, 8.0 * (d.max(1) as f64) * prec::EPS),
        energy_rank,
        rank_ratio: energy_rank as f64 / d.max(1) as f64,
        singular_values: s,
    })
}

/// The Jacobian of any denoiser by the fourth-order central difference
/// $J_{:,j} \approx \frac{-D(x+2he_j) + 8D(x+he_j) - 8D(x-he_j) + D(x-2he_j)}{12h}$.
///
/// Truncation error $\frac{h^4}{30}\max\|D^{(5)}\|$, rounding error about
/// $\frac{3\varepsilon\max\|D\|}{2h}$. Evaluates the denoiser once on a `d × 4d` batch.
/// Use it to validate a user denoiser's own Jacobian, or an exact model's.
/// Pass `h` a power of two so that `x ± h` and `x ± 2h` are exact for ordinary `x`.
///
/// # Errors
/// [`Error::InvalidParameter`] unless `h` is finite and positive; the denoiser's errors.
pub fn finite_difference_jacobian<D: Denoiser + ?Sized>(
    denoiser: &D,
    x_t: ColRef<'_, f64>,
    level: NoiseLevel,
    h: f64,
) -> Result<Mat<f64>> {
    if !(h.is_finite() && h > 0.0) {
        return Err(Error::InvalidParameter {
            name: "h",
            value: h,
            requirement: "finite and > 0",
        });
    }
    let d = denoiser.dim();
    crate::error::ensure_dim("length of x_t vs model dimension", d, x_t.nrows())?;
    ensure_finite("x_t", x_t.as_mat())?;
    let offsets = [2.0 * h, h, -h, -2.0 * h];
    let pts = Mat::from_fn(d, 4 * d, |i, c| {
        let (j, s) = (c / 4, offsets[c % 4]);
        if i == j { x_t[i] + s } else { x_t[i] }
    });
    let out = denoiser.posterior_mean(pts.as_ref(), level)?;
    Ok(Mat::from_fn(d, d, |i, j| {
        let (p2, p1, m1, m2) = (
            out[(i, 4 * j)],
            out[(i, 4 * j + 1)],
            out[(i, 4 * j + 2)],
            out[(i, 4 * j + 3)],
        );
        (-p2 + 8.0 * p1 - 8.0 * m1 + m2) / (12.0 * h)
    }))
}
