//! Orthonormal bases: validation, construction, projections.

use faer::{Mat, MatRef};
use rand::Rng;

use super::compensated::Acc;
use crate::error::{Error, Result, ensure_finite};
use crate::prec;

/// `max_{ij} |(UᵀU − I)_{ij}|`, the deviation of `U` from orthonormal columns.
///
/// Computed with compensated dot products, so the value is accurate even
/// below `1e-16` (it is itself a small difference of O(1) terms). It is NaN if
/// `u` has a NaN entry and `+∞` if `UᵀU` overflows (entries ≳ 1.3e154): never a
/// small number for a matrix that is not orthonormal.
pub fn orthonormality_deviation(u: MatRef<'_, f64>) -> f64 {
    let r = u.ncols();
    let d = u.nrows();
    let mut worst = 0.0f64;
    let cols: Vec<Vec<f64>> = (0..r)
        .map(|j| (0..d).map(|i| u[(i, j)]).collect())
        .collect();
    for a in 0..r {
        for b in a..r {
            let mut acc = Acc::new(if a == b { -1.0 } else { 0.0 });
            for (x, y) in cols[a].iter().zip(&cols[b]) {
                acc.add_prod(*x, *y);
            }
            let v = acc.value().abs();
            if v.is_nan() {
                // A NaN entry, or products of huge entries that overflow with
                // opposite signs (∞ − ∞): never "deviation 0" (which `f64::max`
                // would make of it by dropping the NaN).
                let finite = cols[a].iter().chain(&cols[b]).all(|x| x.is_finite());
                return if finite { f64::INFINITY } else { f64::NAN };
            }
            if v > worst {
                worst = v;
            }
        }
    }
    worst
}

/// Validates that `u` is finite, non-empty, has at most `d` columns and
/// orthonormal columns within [`prec::ORTHONORMALITY_TOL`].
///
/// # Errors
/// [`Error::Empty`], [`Error::NonFinite`], [`Error::InvalidCount`] (more columns
/// than rows), [`Error::NotOrthonormal`].
pub fn check_orthonormal(what: &'static str, component: usize, u: MatRef<'_, f64>) -> Result<()> {
    if u.nrows() == 0 {
        return Err(Error::Empty { what, unit: "row" });
    }
    if u.ncols() == 0 {
        return Err(Error::Empty {
            what,
            unit: "column (rank r ≥ 1)",
        });
    }
    if u.ncols() > u.nrows() {
        return Err(Error::InvalidCount {
            name: "rank r (columns of the basis)",
            value: u.ncols(),
            requirement: "at most the ambient dimension d (rows)",
        });
    }
    ensure_finite(what, u)?;
    let deviation = orthonormality_deviation(u);
    // Written so that a NaN deviation is refused too.
    if deviation.is_nan() || deviation > prec::ORTHONORMALITY_TOL {
        return Err(Error::NotOrthonormal {
            what,
            component,
            deviation,
            tolerance: prec::ORTHONORMALITY_TOL,
        });
    }
    Ok(())
}

/// An orthonormal basis of the column span of `a` (thin QR, Householder),
/// with the signs fixed so that `R` has a non-negative diagonal.
///
/// # Errors
/// [`Error::Empty`] for an empty input, [`Error::NonFinite`], and
/// [`Error::InvalidCount`] if `a` has more columns than rows, [`Error::Overflow`] if
/// even after rescaling the factor is not finite. Rank deficiency
/// is not detected here: use an SVD when the rank is in doubt.
///
/// # Examples
/// ```
/// use diffusion_lowdim::linalg::{orthonormalize, orthonormality_deviation};
/// let a = faer::mat![[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];
/// let q = orthonormalize(a.as_ref())?;
/// assert!(orthonormality_deviation(q.as_ref()) < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn orthonormalize(a: MatRef<'_, f64>) -> Result<Mat<f64>> {
    if a.nrows() == 0 || a.ncols() == 0 {
        return Err(Error::Empty {
            what: "matrix to orthonormalize",
            unit: "row and column",
        });
    }
    if a.ncols() > a.nrows() {
        return Err(Error::InvalidCount {
            name: "columns to orthonormalize",
            value: a.ncols(),
            requirement: "at most the number of rows",
        });
    }
    ensure_finite("matrix to orthonormalize", a)?;
    let q = signed_q(a);
    if q.col_iter().all(|c| c.iter().all(|v| v.is_finite())) {
        return Ok(q);
    }
    // A Householder norm overflowed (entries near 1.8e308) or underflowed: the same
    // span after an exact power-of-two rescaling.
    let (scaled, _) = super::rank::scale_to_unit(a);
    let q = signed_q(scaled.as_ref());
    crate::error::ensure_finite_output(
        "an orthonormal basis (QR)",
        "the columns span nothing representable (rank deficiency at the f64 limits)",
        q.as_ref(),
    )?;
    Ok(q)
}

/// The thin Q factor of `a` with the signs making `R`'s diagonal non-negative.
fn signed_q(a: MatRef<'_, f64>) -> Mat<f64> {
    let qr = a.qr();
    let mut q = qr.compute_thin_Q();
    let r = qr.thin_R();
    for j in 0..q.ncols() {
        if r[(j, j)] < 0.0 {
            for i in 0..q.nrows() {
                q[(i, j)] = -q[(i, j)];
            }
        }
    }
    q
}

/// A Haar-distributed random `d × r` matrix with orthonormal columns: the
/// sign-fixed Q factor of a Gaussian matrix (Mezzadri 2007).
///
/// # Errors
/// [`Error::InvalidCount`] unless `1 ≤ r ≤ d`; [`Error::TooLarge`] if `d·r`
/// exceeds [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS).
pub fn random_orthonormal<R: Rng + ?Sized>(rng: &mut R, d: usize, r: usize) -> Result<Mat<f64>> {
    if r == 0 || r > d {
        return Err(Error::InvalidCount {
            name: "rank r",
            value: r,
            requirement: "1 ≤ r ≤ d",
        });
    }
    crate::error::ensure_size2("random orthonormal basis d × r", d, r)?;
    let g = crate::rng::standard_normal(rng, d, r);
    orthonormalize(g.as_ref())
}

/// Coefficients `c = Uᵀ y` (plain f64 dot products).
pub fn coefficients(u: MatRef<'_, f64>, y: &[f64], c: &mut [f64]) {
    for (j, cj) in c.iter_mut().enumerate() {
        let col = u.col(j);
        let mut s = 0.0;
        for (i, &yi) in y.iter().enumerate() {
            s = col[i].mul_add(yi, s);
        }
        *cj = s;
    }
}

/// Coefficients $c = U^\top y$ as double-length values (`Dot2` per column).
pub fn coefficients_dd(u: MatRef<'_, f64>, y: &[f64], c: &mut [Acc]) {
    for (j, cj) in c.iter_mut().enumerate() {
        let col = u.col(j);
        let mut acc = Acc::default();
        for (i, &yi) in y.iter().enumerate() {
            acc.add_prod(col[i], yi);
        }
        *cj = acc.normalized();
    }
}

/// The residual $y - Uc$ for double-length coefficients $c$, accumulated in
/// double length and rounded once per entry.
pub fn residual_dd(u: MatRef<'_, f64>, y: &[f64], c: &[Acc], res: &mut [f64]) {
    for (i, ri) in res.iter_mut().enumerate() {
        let mut acc = Acc::new(y[i]);
        for (j, cj) in c.iter().enumerate() {
            acc.add_prod_acc(-u[(i, j)], *cj);
        }
        *ri = acc.value();
    }
}

/// [`coefficients_dd`] for a double-length input vector $y$.
pub fn coefficients_dd_acc(u: MatRef<'_, f64>, y: &[Acc], c: &mut [Acc]) {
    for (j, cj) in c.iter_mut().enumerate() {
        let col = u.col(j);
        let mut acc = Acc::default();
        for (i, yi) in y.iter().enumerate() {
            acc.add_prod_acc(col[i], *yi);
        }
        *cj = acc.normalized();
    }
}

/// [`residual_dd`] for a double-length input vector $y$.
pub fn residual_dd_acc(u: MatRef<'_, f64>, y: &[Acc], c: &[Acc], res: &mut [f64]) {
    for (i, ri) in res.iter_mut().enumerate() {
        let mut acc = y[i];
        for (j, cj) in c.iter().enumerate() {
            acc.add_prod_acc(-u[(i, j)], *cj);
        }
        *ri = acc.value();
    }
}

/// $x - \alpha\mu$ as double-length values (`TwoProduct` of $\alpha\mu_i$ plus `TwoSum`):
/// exact up to $O(\varepsilon^2)|x_i - \alpha\mu_i|$, i.e. free of the cancellation a
/// single rounding would suffer.
pub fn shifted_dd(x: &[f64], alpha: f64, mu: &[f64]) -> Vec<Acc> {
    x.iter()
        .zip(mu)
        .map(|(&xi, &mi)| {
            let mut a = Acc::new(xi);
            a.add_prod(-alpha, mi);
            a.normalized()
        })
        .collect()
}

/// The projection residual $y - UU^\top y$ and the coefficients $U^\top y$,
/// both computed with double-length accumulation.
///
/// # Definition
/// `c = Uᵀy` and `res = y − U c`, where `U` is taken as given (its `UUᵀ` is the
/// projector of the formulas). Each entry of `res` has error at most
/// $\varepsilon|\mathrm{res}_i| + \gamma_{2r+2}^2\big(|y_i| + \sum_j |U_{ij}|\,(|U|^\top|y|)_j\big)$
/// (the second term collects the double-length errors of the coefficients and of the
/// final sum: it is $O(\varepsilon^2)\|y\|$),
/// so the residual is accurate even when $y$ lies almost in $\operatorname{span} U$
/// and plain evaluation would lose $\log_{10}(\|y\|/\|\mathrm{res}\|)$ digits.
pub fn projection_residual(u: MatRef<'_, f64>, y: &[f64], c: &mut [f64], res: &mut [f64]) {
    let mut cacc = vec![Acc::default(); u.ncols()];
    coefficients_dd(u, y, &mut cacc);
    for (cj, a) in c.iter_mut().zip(&cacc) {
        *cj = a.value();
    }
    residual_dd(u, y, &cacc, res);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::seeded;

    #[test]
    fn random_orthonormal_is_orthonormal() {
        let mut rng = seeded(1);
        let u = random_orthonormal(&mut rng, 50, 7).unwrap();
        assert!(orthonormality_deviation(u.as_ref()) < 1e-14);
        assert!(check_orthonormal("U", 0, u.as_ref()).is_ok());
    }

    #[test]
    fn rejects_non_orthonormal() {
        let mut u = Mat::<f64>::zeros(3, 2);
        u[(0, 0)] = 1.0;
        u[(1, 1)] = 1.1;
        assert!(matches!(
            check_orthonormal("U", 0, u.as_ref()),
            Err(Error::NotOrthonormal { .. })
        ));
        let wide = Mat::<f64>::zeros(2, 3);
        assert!(matches!(
            check_orthonormal("U", 0, wide.as_ref()),
            Err(Error::InvalidCount { .. })
        ));
    }

    #[test]
    fn residual_is_accurate_near_the_subspace() {
        // An exactly orthonormal basis of R^4 (normalized Hadamard, entries ±1/2):
        // U = its first three columns, w = the fourth. For y = 3u₀ − 2u₁ + 1e-12·w
        // (rounded to f64 as y), the exact residual is w (wᵀ y), evaluated here
        // by an independent formula (Dot2 on w only).
        let h = [
            [0.5, 0.5, 0.5, 0.5],
            [0.5, -0.5, 0.5, -0.5],
            [0.5, 0.5, -0.5, -0.5],
            [0.5, -0.5, -0.5, 0.5],
        ];
        let q = Mat::from_fn(4, 4, |i, j| h[i][j]);
        let u = q.as_ref().subcols(0, 3);
        let w: Vec<f64> = (0..4).map(|i| q[(i, 3)]).collect();
        let y: Vec<f64> = (0..4)
            .map(|i| 3.0 * u[(i, 0)] - 2.0 * u[(i, 1)] + 1e-12 * w[i])
            .collect();
        let wty = super::super::compensated::dot2(&w, &y).value();
        let mut c = vec![0.0; 3];
        let mut res = vec![0.0; 4];
        projection_residual(u, &y, &mut c, &mut res);
        for i in 0..4 {
            let exact = w[i] * wty;
            assert!(
                (res[i] - exact).abs() <= 4.0 * f64::EPSILON * exact.abs(),
                "{i}: {} vs {exact}",
                res[i]
            );
        }
        // Plain evaluation loses about log10(|y|/|res|) ≈ 12 digits here.
        let mut plain = vec![0.0; 3];
        coefficients(u, &y, &mut plain);
        let naive0 = y[0] - (0..3).map(|j| u[(0, j)] * plain[j]).sum::<f64>();
        assert!((naive0 - w[0] * wty).abs() > 1e-6 * (w[0] * wty).abs());
    }
}
