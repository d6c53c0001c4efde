//! Double-length projections $U^\top X$ from three f64 GEMMs (an Ozaki-type
//! error-free splitting), for refining many columns at GEMM speed.
//!
//! # Method
//! Every column $u$ of $U$ ($d \times R$) and every column $x$ of $X$ is split
//! as $u = u_h + u_\ell$, $x = x_h + x_\ell$, where $u_h$ holds the leading
//! $s$ bits of $u$ relative to $2^{e}\ge\max_i|u_i|$: each entry of $u_h$ is an
//! integer multiple of $2^{e-s}$ with $|u_{h,i}|\le 2^{e}$, and
//! $|u_{\ell,i}|\le 2^{e-s-1}$ (the split is `fl(u + σ) − σ` with
//! $\sigma = 1.5\cdot 2^{e-s+52}$, exact by Sterbenz's lemma; likewise for $x$ with
//! $2^{f}\ge\max_i|x_i|$).
//! Each product $u_{h,i}x_{h,i}$ is then an integer multiple of $2^{e+f-2s}$ of
//! magnitude at most $2^{e+f}$, so every partial sum of $u_h^\top x_h$ is an
//! integer multiple of $2^{e+f-2s}$ bounded by $d\,2^{e+f}$; with
//! $2s + \lceil\log_2 d\rceil \le 53$ all of them are representable, and
//! the f64 GEMM $U_h^\top X_h$ is **exact** whatever its summation order or use of
//! FMA (barring underflow of $2^{e+f-2s}$, which [`SplitProjector::project`] detects).
//!
//! The rest, $U_h^\top x_\ell + U_\ell^\top x$, is $2^{-s}$ times smaller and is
//! computed by two f64 GEMMs accumulating into one matrix (a dot product of
//! length $2d$ per entry); with $\gamma_n = nu/(1-nu)$, $u = 2^{-53}$, its
//! rounding error for entry $(j, b)$ is at most
//! $$\gamma_{2d+1}\big(\|u_{h,j}\|_2\|x_{\ell,b}\|_2 + \|u_{\ell,j}\|_2\|x_b\|_2\big)$$
//! (the standard bound $|\mathrm{fl}(a^\top b) - a^\top b| \le \gamma_d |a|^\top|b|$,
//! Higham, *Accuracy and Stability*, 2nd ed., eq. (3.5), and Cauchy–Schwarz). [`SplitProjector::project`]
//! returns this bound with the two parts, so a caller can certify what it needs
//! and fall back to [`super::compensated::SplitLanes`] where it does not suffice.
//!
//! For $d = 1024$, $s = 21$: the correction's error is about $2^{-21}$ of the
//! plain f64 GEMM's, at three GEMMs' cost.

use faer::{Mat, MatRef};

use super::{col_slice, col_slice_mut};
use crate::error::{Result, ensure_dim, ensure_finite};
use crate::prec;

/// Bits kept in the leading part for inner dimension `d`: the largest `s` with
/// `2s + ⌈log₂ d⌉ ≤ 53`.
pub fn split_bits(d: usize) -> u32 {
    let lg = usize::BITS - d.max(1).saturating_sub(1).leading_zeros(); // ⌈log₂ d⌉
    (53u32.saturating_sub(lg)) / 2
}

/// The smallest exponent `e` with `2^e ≥ m` (for finite `m > 0`).
fn ceil_exp(m: f64) -> i32 {
    let mut e = m.log2().ceil() as i32;
    // Guard against log2's last-bit error in either direction.
    while 2f64.powi(e) < m {
        e += 1;
    }
    while e > -1074 && 2f64.powi(e - 1) >= m {
        e -= 1;
    }
    e
}

/// Splits the column `src` into its leading part `hi` and the rest `lo`,
/// relative to `2^e ≥ max|src|`, in one pass. Returns `e` (`None` for a zero
/// column, whose parts are zero), `‖src‖₂` and `‖lo‖₂`.
fn split_column(
    src: faer::ColRef<'_, f64>,
    hi: &mut [f64],
    lo: &mut [f64],
    s: u32,
) -> (Option<i32>, f64, f64) {
    let (mut m, mut ss) = (0.0f64, 0.0f64);
    for v in src.iter() {
        m = m.max(v.abs());
        ss += v * v;
    }
    if m == 0.0 {
        hi.fill(0.0);
        lo.fill(0.0);
        return (None, 0.0, 0.0);
    }
    let e = ceil_exp(m);
    let sigma = 1.5 * 2f64.powi(e - s as i32 + 52);
    let mut ls = 0.0;
    for ((h, l), v) in hi.iter_mut().zip(lo.iter_mut()).zip(src.iter()) {
        let t = (*v + sigma) - sigma;
        *h = t;
        *l = *v - t;
        ls += *l * *l;
    }
    (Some(e), ss.sqrt(), ls.sqrt())
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The result of [`SplitProjector::project`]: $U^\top X = \texttt{exact} + \texttt{correction} + \delta$
/// entrywise, with $|\delta_{jb}| \le \texttt{bound}[(j, b)]$.
#[derive(Debug, Clone)]
pub struct SplitProjection {
    /// $U_h^\top X_h$, exact.
    pub exact: Mat<f64>,
    /// $\mathrm{fl}(U_h^\top X_\ell + U_\ell^\top X)$.
    pub correction: Mat<f64>,
    /// Entrywise bound on the correction's rounding error (`+∞` for columns
    /// where exactness could not be guaranteed: under/overflow of the units).
    pub bound: Mat<f64>,
}

/// A fixed left factor $U$ ($d \times R$), pre-split for [`SplitProjector::project`].
#[derive(Debug, Clone)]
pub struct SplitProjector {
    hi: Mat<f64>,
    lo: Mat<f64>,
    exps: Vec<Option<i32>>,
    hi_norms: Vec<f64>,
    lo_norms: Vec<f64>,
    bits: u32,
}

impl SplitProjector {
    /// Splits the columns of `u`.
    ///
    /// # Errors
    /// [`Error::NonFinite`](crate::Error::NonFinite) for a non-finite entry.
    pub fn new(u: MatRef<'_, f64>) -> Result<Self> {
        ensure_finite("left factor of the split projection", u)?;
        let (d, r) = (u.nrows(), u.ncols());
        let bits = split_bits(d);
        let (mut hi, mut lo) = (Mat::<f64>::zeros(d, r), Mat::<f64>::zeros(d, r));
        let (mut exps, mut hi_norms, mut lo_norms) = (Vec::new(), Vec::new(), Vec::new());
        for j in 0..r {
            let (e, _, lo_norm) = split_column(
                u.col(j),
                col_slice_mut(&mut hi, j),
                col_slice_mut(&mut lo, j),
                bits,
            );
            exps.push(e);
            hi_norms.push(norm(col_slice(&hi, j)));
            lo_norms.push(lo_norm);
        }
        Ok(Self {
            hi,
            lo,
            exps,
            hi_norms,
            lo_norms,
            bits,
        })
    }

    /// $U^\top X$ as an exact part plus a correction with a rigorous bound
    /// (see the module docs). Sequential: callers parallelize over column blocks.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) unless `x` has
    /// as many rows as $U$; [`Error::NonFinite`](crate::Error::NonFinite) for a
    /// non-finite entry (its bound would be meaningless).
    pub fn project(&self, x: MatRef<'_, f64>) -> Result<SplitProjection> {
        ensure_dim("rows of x vs rows of U", self.hi.nrows(), x.nrows())?;
        ensure_finite("right factor of the split projection", x)?;
        let (d, b) = (x.nrows(), x.ncols());
        let r = self.hi.ncols();
        let (mut xh, mut xl) = (Mat::<f64>::zeros(d, b), Mat::<f64>::zeros(d, b));
        let mut fexp = Vec::with_capacity(b);
        let (mut lo_norm, mut x_norm) = (Vec::with_capacity(b), Vec::with_capacity(b));
        for c in 0..b {
            let (e, xn, ln) = split_column(
                x.col(c),
                col_slice_mut(&mut xh, c),
                col_slice_mut(&mut xl, c),
                self.bits,
            );
            fexp.push(e);
            x_norm.push(xn);
            lo_norm.push(ln);
        }
        let exact = super::mul(self.hi.transpose(), xh.as_ref());
        let mut correction = super::mul(self.hi.transpose(), xl.as_ref());
        super::gemm_acc(correction.as_mut(), self.lo.transpose(), x.as_ref(), 1.0);
        // Both GEMMs accumulate into one entry: a dot product of length 2d.
        let g = prec::gamma(2 * d + 1);
        let s = self.bits as i32;
        let mut bound = Mat::<f64>::zeros(r, b);
        for c in 0..b {
            let col = col_slice_mut(&mut bound, c);
            let Some(f) = fexp[c] else {
                continue; // a zero column: the product is exactly zero
            };
            for (j, out) in col.iter_mut().enumerate() {
                let Some(e) = self.exps[j] else {
                    continue;
                };
                // The unit of the exact part must be a normal number and the
                // largest partial sum finite.
                *out = if e + f - 2 * s < -1022 || e + f + 64 > 1023 {
                    f64::INFINITY
                } else {
                    g * (self.hi_norms[j] * lo_norm[c] + self.lo_norms[j] * x_norm[c])
                };
            }
        }
        Ok(SplitProjection {
            exact,
            correction,
            bound,
        })
    }
}

#[cfg(test)]
// Exact zeros are the claim of one test.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::linalg::compensated::dot2;
    use crate::rng::{seeded, standard_normal};
    use rand::RngExt;

    #[test]
    fn split_bits_fit_the_exactness_condition() {
        for d in [1usize, 2, 3, 4, 5, 255, 256, 257, 1024, 1025, 1 << 20] {
            let s = split_bits(d);
            let lg = (d as f64).log2().ceil() as u32;
            assert!(2 * s + lg <= 53, "d = {d}: s = {s}");
            assert!(2 * (s + 1) + lg > 53, "d = {d}: s = {s} is not the largest");
        }
    }

    #[test]
    fn exact_part_is_exact_and_bound_holds() {
        // Against Dot2 (double length) on wide-ranging random data.
        let mut rng = seeded(7);
        for &(d, r, b) in &[
            (3usize, 2usize, 4usize),
            (64, 8, 5),
            (1024, 16, 3),
            (1000, 3, 2),
        ] {
            let mut u = standard_normal(&mut rng, d, r);
            let mut x = standard_normal(&mut rng, d, b);
            // Entries over six orders of magnitude.
            for v in u
                .col_iter_mut()
                .chain(x.col_iter_mut())
                .flat_map(|c| c.iter_mut())
            {
                *v *= 10f64.powi(rng.random_range(-3..3));
            }
            let p = SplitProjector::new(u.as_ref())
                .unwrap()
                .project(x.as_ref())
                .unwrap();
            for j in 0..r {
                let uj: Vec<f64> = (0..d).map(|i| u[(i, j)]).collect();
                for c in 0..b {
                    let xc: Vec<f64> = (0..d).map(|i| x[(i, c)]).collect();
                    let reference = dot2(&uj, &xc);
                    // exact + correction vs the double-length reference.
                    let diff =
                        (p.exact[(j, c)] - reference.hi) - reference.lo + p.correction[(j, c)];
                    let ref_err = 1e-30 * (reference.hi.abs() + 1.0);
                    assert!(
                        diff.abs() <= p.bound[(j, c)] + ref_err,
                        "d={d} j={j} c={c}: |error| {} > bound {}",
                        diff.abs(),
                        p.bound[(j, c)]
                    );
                    // The bound is far below the plain f64 GEMM's: ‖x_ℓ‖ ≤ √d 2^{f−s−1}
                    // and ‖x‖ ≥ 2^{f−1}, so the ratio is at most about 2√d·2^{−s}·2.
                    let plain = prec::gamma(d) * norm(&uj) * norm(&xc);
                    let s = split_bits(d) as i32;
                    assert!(p.bound[(j, c)] <= plain * 8.0 * (d as f64).sqrt() * 2f64.powi(-s));
                }
            }
        }
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        let u = Mat::from_fn(3, 2, |i, j| (i + j) as f64);
        let p = SplitProjector::new(u.as_ref()).unwrap();
        let mut x = Mat::from_fn(3, 2, |i, j| (i * j) as f64);
        x[(1, 1)] = f64::INFINITY;
        assert!(matches!(
            p.project(x.as_ref()),
            Err(crate::Error::NonFinite { .. })
        ));
        x[(1, 1)] = f64::NAN;
        assert!(matches!(
            p.project(x.as_ref()),
            Err(crate::Error::NonFinite { .. })
        ));
        let short = Mat::<f64>::zeros(2, 1);
        assert!(matches!(
            p.project(short.as_ref()),
            Err(crate::Error::DimensionMismatch { .. })
        ));
        let mut bad = u.clone();
        bad[(0, 0)] = f64::NAN;
        assert!(SplitProjector::new(bad.as_ref()).is_err());
    }

    #[test]
    fn zero_columns_give_zero() {
        let u = Mat::from_fn(4, 2, |i, j| if j == 0 { 0.0 } else { i as f64 + 0.5 });
        let x = Mat::from_fn(
            4,
            2,
            |i, c| if c == 0 { 0.0 } else { 1.0 / (i as f64 + 1.0) },
        );
        let p = SplitProjector::new(u.as_ref())
            .unwrap()
            .project(x.as_ref())
            .unwrap();
        assert_eq!(p.exact[(0, 1)], 0.0);
        assert_eq!(p.bound[(0, 1)], 0.0);
        assert_eq!(p.exact[(1, 0)], 0.0);
        let want: f64 = (0..4).map(|i| (i as f64 + 0.5) / (i as f64 + 1.0)).sum();
        assert!((p.exact[(1, 1)] + p.correction[(1, 1)] - want).abs() < 1e-15);
    }
}
