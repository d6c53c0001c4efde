//! The leading left singular subspace of a matrix by block subspace iteration
//! with Rayleigh–Ritz, with a computable error bound and a fallback to the full
//! thin SVD.
//!
//! # Algorithm
//! For $X \in \mathbb R^{d\times N}$ and a target rank $r \ll \min(d, N)$, keep
//! $k = \min(r + p, m)$ vectors ($p$ = oversampling). Starting from
//! $Q_0 = \operatorname{orth}(X\Omega)$ (or a warm start), iterate
//! $Q \leftarrow \operatorname{orth}(XX^\top Q)$, then Rayleigh–Ritz:
//! $B = Q^\top X = \tilde U\Sigma\tilde V^\top$ (thin SVD of the small $k\times N$ matrix),
//! $U = Q\tilde U$.
//!
//! # Error bound (checked after every iteration)
//! With $U_r, V_r, \Sigma_r$ the leading Ritz triplets, the residuals are
//! $R = XV_r - U_r\Sigma_r = (I - QQ^\top)XV_r$ and $X^\top U_r - V_r\Sigma_r = 0$ (up to
//! rounding). By Weyl, $\sigma_{r+1}(X) \le \sigma_{r+1}(QQ^\top X) + \|(I-QQ^\top)X\|_2 \le
//! \tilde\sigma_{r+1} + \sqrt{\|X\|_F^2 - \|B\|_F^2} =: s^+$ (Pythagoras for the second
//! term). Wedin's theorem then bounds the sines of the principal angles between
//! $\operatorname{span}U_r$ and the exact leading subspace:
//! $$\|\sin\Theta\|_F \le \frac{\|R\|_F + \rho}{\tilde\sigma_r - s^+}, \qquad \tilde\sigma_r > s^+,$$
//! with $\rho$ an allowance for the rounding of the computed quantities. The
//! iteration stops when this bound is below the requested tolerance, or when the
//! residual has reached the rounding level (the bound is then of the order of a
//! backward-stable full SVD's own, $\gamma\|X\|_F/\text{gap}$, and is reported). If
//! neither happens with the current block — the residual stagnates, or no gap
//! can be certified and the energy outside $\operatorname{span}Q$ has stopped shrinking
//! (e.g. $\operatorname{rank}X > k$) — the block is doubled (the current iterate plus
//! $k$ new directions of the range of $X$), as long as $4k \le \min(d, N)$; after
//! that, or after 40 iterations in all, the full SVD is used.
//!
//! Inside the crate the iteration runs on any operator that provides $XG$,
//! $X^\top Q$ and a fallback SVD; the K-subspaces update uses it on a cluster's
//! columns without copying them (chunked products, and a TSQR + SVD fallback).

use faer::{Mat, MatRef};
use rand::Rng;

use super::{mul, orthonormalize};
use crate::error::{Error, Result};
use crate::prec::gamma;

/// Diagnostics of [`truncated_svd`].
#[derive(Debug, Clone, PartialEq)]
pub struct TruncatedInfo {
    /// Subspace iterations performed (0 if the full SVD was used directly).
    pub iterations: usize,
    /// Whether the full thin SVD was used (small problem or no convergence).
    pub fallback: bool,
    /// The final a-posteriori bound on $\|\sin\Theta\|_F$ ($0$ for the full SVD,
    /// whose accuracy is that of a backward-stable SVD).
    pub sin_theta_bound: f64,
}

/// The result of [`truncated_svd`].
#[derive(Debug, Clone)]
pub struct TruncatedSvd {
    /// Leading `r` left singular vectors (`d × r`, orthonormal columns).
    pub u: Mat<f64>,
    /// Leading singular values (at least `r`; Ritz values when iterated).
    pub singular_values: Vec<f64>,
    /// How they were obtained.
    pub info: TruncatedInfo,
}

/// Leading `r` left singular vectors of `x` (`d × N`), accurate to `tol` in
/// $\|\sin\Theta\|_F$ (see the module docs), with the full thin SVD as fallback.
///
/// `start` (optional, `d × r₀` with orthonormal columns) warm-starts the
/// iteration, e.g. with the previous iterate of an alternating method.
///
/// # Errors
/// [`Error::InvalidCount`] unless `1 ≤ r ≤ min(d, N)`; [`Error::NoConvergence`]
/// if an SVD fails.
pub fn truncated_svd<R: Rng + ?Sized>(
    x: MatRef<'_, f64>,
    r: usize,
    start: Option<MatRef<'_, f64>>,
    tol: f64,
    rng: &mut R,
) -> Result<TruncatedSvd> {
    truncated_svd_op(&x, r, start, tol, rng)
}

/// What [`truncated_svd`] needs of its matrix $X$ (`d × N`): its Frobenius norm,
/// the products $XG$ and $X^\top Q$, and the fallback (leading `r` left singular
/// vectors and all singular values).
pub(crate) trait Operator: Sync {
    /// `d`.
    fn nrows(&self) -> usize;
    /// `N`.
    fn ncols(&self) -> usize;
    /// $\|X\|_F$.
    fn norm_l2(&self) -> f64;
    /// $XG$ for `G` of size `N × k`.
    fn mul(&self, g: MatRef<'_, f64>) -> Mat<f64>;
    /// $X^\top Q$ for `Q` of size `d × k`.
    fn tmul(&self, q: MatRef<'_, f64>) -> Mat<f64>;
    /// The fallback: leading `r ≤ min(d, N)` left singular vectors and all
    /// $\min(d, N)$ singular values, descending, from a backward-stable SVD.
    fn full_svd(&self, r: usize) -> Result<(Mat<f64>, Vec<f64>)>;
}

impl Operator for MatRef<'_, f64> {
    fn nrows(&self) -> usize {
        MatRef::nrows(self)
    }

    fn ncols(&self) -> usize {
        MatRef::ncols(self)
    }

    fn norm_l2(&self) -> f64 {
        MatRef::norm_l2(self)
    }

    fn mul(&self, g: MatRef<'_, f64>) -> Mat<f64> {
        super::par_mul(*self, g)
    }

    fn tmul(&self, q: MatRef<'_, f64>) -> Mat<f64> {
        super::par_mul(self.transpose(), q)
    }

    fn full_svd(&self, r: usize) -> Result<(Mat<f64>, Vec<f64>)> {
        let svd = self
            .thin_svd()
            .map_err(|_| Error::NoConvergence { what: "thin SVD" })?;
        let m = MatRef::nrows(self).min(MatRef::ncols(self));
        Ok((
            svd.U().subcols(0, r).to_owned(),
            (0..m).map(|j| svd.S()[j]).collect(),
        ))
    }
}

/// Columns of a column subset copied at a time by [`Columns`].
const CHUNK: usize = 256;

/// The columns `idx` of `x` as an [`Operator`], without materializing them:
/// products gather at most [`CHUNK`] columns at a time, and the fallback SVD
/// is that of the triangular factor of a tall-skinny QR (TSQR) of $X^\top$,
/// accumulated over the same chunks. Working memory: $O(d\cdot\text{CHUNK} + d^2)$
/// instead of the $d\times|\text{idx}|$ copy plus a full SVD's workspace.
pub(crate) struct Columns<'a> {
    x: MatRef<'a, f64>,
    idx: &'a [usize],
}

impl<'a> Columns<'a> {
    /// The columns `idx` of `x` (indices must be in range).
    pub(crate) fn new(x: MatRef<'a, f64>, idx: &'a [usize]) -> Self {
        Self { x, idx }
    }

    /// Columns `idx[s..s + w]` as a `d × w` matrix.
    fn gather(&self, s: usize, w: usize) -> Mat<f64> {
        Mat::from_fn(self.x.nrows(), w, |i, j| self.x[(i, self.idx[s + j])])
    }

    fn chunks(&self) -> impl Iterator<Item = (usize, usize)> + use<'_> {
        let n = self.idx.len();
        (0..n).step_by(CHUNK).map(move |s| (s, CHUNK.min(n - s)))
    }
}

impl Operator for Columns<'_> {
    fn nrows(&self) -> usize {
        self.x.nrows()
    }

    fn ncols(&self) -> usize {
        self.idx.len()
    }

    fn norm_l2(&self) -> f64 {
        self.chunks()
            .fold(0.0, |f: f64, (s, w)| f.hypot(self.gather(s, w).norm_l2()))
    }

    /// $\sum_c X_cG_c$ over the chunks, in order.
    fn mul(&self, g: MatRef<'_, f64>) -> Mat<f64> {
        use faer::linalg::matmul::matmul;
        let mut out = Mat::<f64>::zeros(self.x.nrows(), g.ncols());
        for (s, w) in self.chunks() {
            let c = self.gather(s, w);
            matmul(
                out.as_mut(),
                faer::Accum::Add,
                c.as_ref(),
                g.subrows(s, w),
                1.0,
                faer::Par::Seq,
            );
        }
        out
    }

    /// The rows $X_c^\top Q$ of each chunk. Sequential: these products are small
    /// (the subset of an alternating method's cluster), and allocating in worker
    /// threads would spread the gathered chunks over per-thread allocator arenas.
    fn tmul(&self, q: MatRef<'_, f64>) -> Mat<f64> {
        let mut out = Mat::<f64>::zeros(self.idx.len(), q.ncols());
        for (s, w) in self.chunks() {
            let c = self.gather(s, w);
            out.as_mut()
                .subrows_mut(s, w)
                .copy_from(mul(c.transpose(), q).as_ref());
        }
        out
    }

    /// $X^\top = Q_1R$ by TSQR ($R \leftarrow$ the R factor of $[R; X_c^\top]$, chunk by
    /// chunk; Householder QR of each stack), then the SVD of $R^\top$ ($p \times$… with
    /// $p = \min(d, N)$): $X = R^\top Q_1^\top$ with $Q_1$ orthonormal, so the two have
    /// the same singular values and left singular vectors. Both steps are
    /// backward stable, hence so is the result.
    fn full_svd(&self, r: usize) -> Result<(Mat<f64>, Vec<f64>)> {
        let d = self.x.nrows();
        let mut rf = Mat::<f64>::zeros(0, d);
        for (s, w) in self.chunks() {
            let p = rf.nrows();
            let mut st = Mat::<f64>::zeros(p + w, d);
            st.as_mut().subrows_mut(0, p).copy_from(rf.as_ref());
            for j in 0..w {
                let col = self.idx[s + j];
                for i in 0..d {
                    st[(p + j, i)] = self.x[(i, col)];
                }
            }
            rf = qr_r_factor(st);
        }
        let (u, sv) = left_svd(rf.transpose())?;
        Ok((u.subcols(0, r).to_owned(), sv))
    }
}

/// The `min(m, n) × n` upper-trapezoidal R factor of the Householder QR of `a` (`m × n`).
fn qr_r_factor(mut a: Mat<f64>) -> Mat<f64> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::qr::no_pivoting::factor;
    let (m, n) = (a.nrows(), a.ncols());
    let size = m.min(n);
    if size == 0 {
        return Mat::zeros(0, n);
    }
    let bs = factor::recommended_block_size::<f64>(m, n);
    let mut hh = Mat::<f64>::zeros(bs, size);
    let mut mem = MemBuffer::new(factor::qr_in_place_scratch::<f64>(
        m,
        n,
        bs,
        faer::Par::Seq,
        Default::default(),
    ));
    factor::qr_in_place(
        a.as_mut(),
        hh.as_mut(),
        faer::Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    );
    Mat::from_fn(size, n, |i, j| if i <= j { a[(i, j)] } else { 0.0 })
}

/// Thin left singular vectors (`m × min(m, n)`) and the singular values of `a`,
/// without computing the right singular vectors.
fn left_svd(a: MatRef<'_, f64>) -> Result<(Mat<f64>, Vec<f64>)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::svd::{ComputeSvdVectors, svd, svd_scratch};
    let (m, n) = (a.nrows(), a.ncols());
    let size = m.min(n);
    let mut u = Mat::<f64>::zeros(m, size);
    let mut sv = faer::diag::Diag::<f64>::zeros(size);
    let mut mem = MemBuffer::new(svd_scratch::<f64>(
        m,
        n,
        ComputeSvdVectors::Thin,
        ComputeSvdVectors::No,
        faer::Par::Seq,
        Default::default(),
    ));
    svd(
        a,
        sv.as_mut(),
        Some(u.as_mut()),
        None,
        faer::Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|_| Error::NoConvergence { what: "SVD" })?;
    Ok((u, (0..size).map(|j| sv[j]).collect()))
}

/// [`truncated_svd`] of any [`Operator`].
pub(crate) fn truncated_svd_op<R: Rng + ?Sized>(
    x: &dyn Operator,
    r: usize,
    start: Option<MatRef<'_, f64>>,
    tol: f64,
    rng: &mut R,
) -> Result<TruncatedSvd> {
    let (d, n) = (x.nrows(), x.ncols());
    let m = d.min(n);
    if r == 0 || r > m {
        return Err(Error::InvalidCount {
            name: "rank r",
            value: r,
            requirement: "1 ≤ r ≤ min(d, N)",
        });
    }
    let p = (r / 2).clamp(4, 16);
    let mut k = (r + p).min(m);
    // Iterating only pays when k is a small fraction of the dimensions.
    if 4 * k > m {
        return full(x, r);
    }
    let xf2 = {
        let f = x.norm_l2();
        f * f
    };
    // Starting block: the warm start (completed at random) or the range of XΩ.
    let mut q = match start {
        Some(s) if s.nrows() == d && s.ncols() > 0 && s.ncols() <= k => {
            orthonormalize(with_random_range(x, s, k, rng).as_ref())?
        }
        _ => {
            let g = crate::rng::standard_normal(rng, n, k);
            orthonormalize(x.mul(g.as_ref()).as_ref())?
        }
    };
    let max_iter = 40;
    let mut it = 0;
    while it < max_iter {
        // Rounding allowance: the computed Bᵀ = fl(XᵀQ) is off by ≤ γ_{d}‖X‖_F‖Q‖_F
        // (‖Q‖_F = √k) and the small SVD adds a backward error of the same order, so the
        // second Wedin residual XᵀU_r − V_rΣ_r (zero in exact arithmetic) is at most
        // 2γ_{max(d,N)+k}√k‖X‖_F; the computed R carries at most the same again.
        let round = 2.0 * gamma(d.max(n) + k) * (k as f64).sqrt() * xf2.sqrt();
        let mut prev_res = f64::INFINITY;
        let mut prev_tail2 = f64::INFINITY;
        let mut local = 0;
        let y = loop {
            it += 1;
            local += 1;
            // Rayleigh–Ritz on span Q: Bᵀ = XᵀQ = Ṽ Σ Ũᵀ (thin SVD of the N × k matrix).
            let bt = x.tmul(q.as_ref());
            let svd = bt
                .thin_svd()
                .map_err(|_| Error::NoConvergence { what: "thin SVD" })?;
            let s: Vec<f64> = (0..k).map(|j| svd.S()[j]).collect();
            // Y = XṼ serves both the residual and the next power step
            // (span(XṼ) = span(XBᵀ) = span(XXᵀQ) when Σ is invertible).
            let y = x.mul(svd.U());
            let u = mul(q.as_ref(), svd.V().subcols(0, r));
            // Residual R = X V_r − U_r Σ_r.
            let mut res2 = 0.0;
            for j in 0..r {
                for i in 0..d {
                    let e = y[(i, j)] - u[(i, j)] * s[j];
                    res2 += e * e;
                }
            }
            let bf2: f64 = s.iter().map(|v| v * v).sum();
            // ‖(I − QQᵀ)X‖_F² = ‖X‖_F² − ‖B‖_F², both computed to γ relative: allow for it.
            let tail2 = xf2 - bf2 + 2.0 * gamma(d * n + k) * xf2;
            let s_up = s.get(r).copied().unwrap_or(0.0) + tail2.max(0.0).sqrt() + round;
            let gap = s[r - 1] - s_up;
            let bound = if gap > 0.0 {
                (res2.sqrt() + 2.0 * round) / gap
            } else {
                f64::INFINITY
            };
            // Stop when the bound meets the tolerance, or when the residual has
            // reached the rounding level (no further iteration can improve the bound,
            // which is then as good as a backward-stable full SVD's, γ‖X‖/gap).
            let converged = res2.sqrt() <= round;
            if bound <= tol || (converged && bound.is_finite()) {
                return Ok(TruncatedSvd {
                    u,
                    singular_values: s,
                    info: TruncatedInfo {
                        iterations: it,
                        fallback: false,
                        sin_theta_bound: bound,
                    },
                });
            }
            // Stagnation (no spectral gap in reach of this block): stop iterating
            // with it.
            // No certifiable gap, and none coming: the energy outside span Q (which
            // bounds σ_{r+1} from above together with s_r) has stopped shrinking, so
            // the gap estimate cannot turn positive (e.g. rank(X) > k with the tail
            // spread over many directions).
            let stagnated = (local >= 4 && res2.sqrt() > 0.5 * prev_res)
                || (local >= 3 && gap <= 0.0 && prev_tail2 - tail2 <= 0.01 * tail2);
            if stagnated || it >= max_iter {
                break y;
            }
            prev_res = res2.sqrt();
            prev_tail2 = tail2;
            q = orthonormalize(y.as_ref())?;
        };
        // Double the block while it stays a small fraction of the dimensions: the
        // current iterate plus as many new directions of the range of X. A larger
        // block captures more of the tail (a gap beyond rank(X) = k + … can then be
        // certified) and converges faster; otherwise the full SVD gives the answer.
        if it >= max_iter || 8 * k > m {
            break;
        }
        q = orthonormalize(with_random_range(x, y.as_ref(), 2 * k, rng).as_ref())?;
        k *= 2;
    }
    let mut out = full(x, r)?;
    out.info.iterations = it;
    Ok(out)
}

/// `[s, XΩ]` (`d × k`) with `Ω` a fresh `N × (k − cols(s))` Gaussian block.
fn with_random_range<R: Rng + ?Sized>(
    x: &dyn Operator,
    s: MatRef<'_, f64>,
    k: usize,
    rng: &mut R,
) -> Mat<f64> {
    let (d, n) = (x.nrows(), x.ncols());
    let g = crate::rng::standard_normal(rng, n, k - s.ncols());
    let extra = x.mul(g.as_ref());
    let mut y = Mat::<f64>::zeros(d, k);
    y.as_mut().subcols_mut(0, s.ncols()).copy_from(s);
    y.as_mut()
        .subcols_mut(s.ncols(), k - s.ncols())
        .copy_from(extra.as_ref());
    y
}

/// The full thin SVD path.
fn full(x: &dyn Operator, r: usize) -> Result<TruncatedSvd> {
    let (u, singular_values) = x.full_svd(r)?;
    Ok(TruncatedSvd {
        u,
        singular_values,
        info: TruncatedInfo {
            iterations: 0,
            fallback: true,
            sin_theta_bound: 0.0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::random_orthonormal;
    use crate::rng::{seeded, standard_normal};

    /// The column-subset operator against the same columns copied out and handled
    /// by faer directly (products, norm, and the TSQR fallback against `thin_svd`),
    /// with subsets wider and narrower than `d` and spanning several chunks.
    #[test]
    fn column_subset_operator_matches_the_copied_columns() {
        let mut g = seeded(8);
        let d = 40;
        let x = standard_normal(&mut g, d, 700);
        for idx in [
            (0..700).rev().step_by(2).collect::<Vec<_>>(), // 350 columns: two chunks
            vec![5, 3, 611, 42, 42, 7],                    // fewer columns than rows
            (0..d).collect(),                              // square
        ] {
            let copy = Mat::from_fn(d, idx.len(), |i, j| x[(i, idx[j])]);
            let op = Columns::new(x.as_ref(), &idx);
            let scale = copy.norm_l2();
            assert!((op.norm_l2() - scale).abs() <= 1e-14 * scale);
            let gk = standard_normal(&mut g, idx.len(), 3);
            let q = standard_normal(&mut g, d, 3);
            let tol = 1e-13 * scale * 3.0 * (idx.len() as f64).sqrt();
            assert!((&op.mul(gk.as_ref()) - &copy * &gk).norm_max() <= tol);
            assert!((&op.tmul(q.as_ref()) - copy.transpose() * &q).norm_max() <= tol);
            let r = 3.min(idx.len());
            let (u, s) = op.full_svd(r).unwrap();
            let svd = copy.thin_svd().unwrap();
            assert_eq!(s.len(), d.min(idx.len()));
            for (j, sj) in s.iter().enumerate() {
                assert!(
                    (sj - svd.S()[j]).abs() <= 1e-13 * scale,
                    "σ_{j}: {sj} vs {}",
                    svd.S()[j]
                );
            }
            // The leading singular values of a Gaussian matrix are separated, so
            // the leading subspaces agree to rounding.
            let dist =
                crate::reduction::subspace_distance(u.as_ref(), svd.U().subcols(0, r)).unwrap();
            assert!(dist < 1e-10, "subspace distance {dist:e}");
        }
    }

    /// Against the full SVD on a low-rank-plus-noise matrix: the computed bound
    /// holds and the subspaces agree to it.
    #[test]
    fn matches_full_svd_within_its_bound() {
        let mut g = seeded(3);
        let (d, n, r) = (300, 500, 6);
        let u = random_orthonormal(&mut g, d, r).unwrap();
        let a = standard_normal(&mut g, r, n);
        let e = standard_normal(&mut g, d, n);
        let x = Mat::from_fn(d, n, |i, j| {
            (0..r).map(|l| u[(i, l)] * a[(l, j)]).sum::<f64>() + 1e-3 * e[(i, j)]
        });
        let t = truncated_svd(x.as_ref(), r, None, 1e-10, &mut g).unwrap();
        assert!(!t.info.fallback && t.info.sin_theta_bound <= 1e-10);
        let f = full(&x.as_ref(), r).unwrap();
        // ‖sin Θ‖_F from ‖(I − UUᵀ)V‖_F.
        let proj = mul(t.u.transpose(), f.u.as_ref());
        let resid = mul(t.u.as_ref(), proj.as_ref());
        let mut s2 = 0.0;
        for j in 0..r {
            for i in 0..d {
                let v = f.u[(i, j)] - resid[(i, j)];
                s2 += v * v;
            }
        }
        // The full SVD is itself accurate to about γ‖X‖/gap ≈ 1e-13 here.
        assert!(s2.sqrt() <= t.info.sin_theta_bound + 1e-12, "{}", s2.sqrt());
    }

    /// No gap: the iteration cannot certify and falls back to the full SVD.
    #[test]
    fn falls_back_without_a_gap() {
        let mut g = seeded(4);
        let x = standard_normal(&mut g, 200, 300);
        let t = truncated_svd(x.as_ref(), 5, None, 1e-12, &mut g).unwrap();
        assert!(t.info.fallback);
    }
}
