//! Entrywise kernels with fused multiply-adds, dispatched at run time to the
//! hardware FMA instruction where the CPU has one.
//!
//! `f64::mul_add` is correctly rounded by definition, so the hardware
//! instruction and the portable software routine return the same bits: the
//! dispatch changes speed, never results (tested below on random data, and by
//! the determinism tests of the crate). Without the dispatch, a build for the
//! baseline x86-64 target calls the software routine for every entry.

use faer::{Mat, MatRef};

use super::{col_slice, col_slice_mut};

/// Runs `$body` (an expression using `mul_add`) with the FMA target feature
/// enabled when the CPU supports it, so that `mul_add` becomes one instruction.
macro_rules! with_fma {
    ($name:ident, ($($arg:ident : $ty:ty),*), $body:block) => {{
        #[inline(always)]
        fn portable($($arg: $ty),*) $body
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "fma")]
        fn $name($($arg: $ty),*) {
            portable($($arg),*)
        }
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the `fma` target feature (checked above),
                // the only precondition of calling a `#[target_feature]` function.
                #[allow(unsafe_code)]
                unsafe { $name($($arg),*) }
            } else {
                portable($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            portable($($arg),*)
        }
    }};
}

/// $x + \sum_k c_k v_k$, entrywise, each term added by one fused multiply-add,
/// in the order given.
///
/// # Panics
/// If a `v_k` has a different shape from `x` (an internal invariant of the solvers).
pub fn combine(x: &Mat<f64>, terms: &[(f64, &Mat<f64>)]) -> Mat<f64> {
    let mut out = x.clone();
    for &(_, v) in terms {
        assert_eq!((v.nrows(), v.ncols()), (x.nrows(), x.ncols()));
    }
    for j in 0..x.ncols() {
        let cols: Vec<(f64, &[f64])> = terms.iter().map(|&(c, v)| (c, col_slice(v, j))).collect();
        let o = col_slice_mut(&mut out, j);
        let cols = cols.as_slice();
        with_fma!(combine_fma, (o: &mut [f64], cols: &[(f64, &[f64])]), {
            for &(c, v) in cols {
                for (oi, vi) in o.iter_mut().zip(v) {
                    *oi = c.mul_add(*vi, *oi);
                }
            }
        });
    }
    out
}

/// The probability-flow velocity from the denoiser output, in place:
/// $v \leftarrow k\,(x - a v) + d_a v$ with $x - a v$ and the final sum each
/// rounded once (two fused multiply-adds per entry).
///
/// # Panics
/// If `x` and `v` differ in shape (an internal invariant of the flow).
pub fn velocity_in_place(k: f64, a: f64, da: f64, x: MatRef<'_, f64>, v: &mut Mat<f64>) {
    assert_eq!((v.nrows(), v.ncols()), (x.nrows(), x.ncols()));
    for j in 0..x.ncols() {
        let xj: Vec<f64>;
        let xs = match x.col(j).try_as_col_major() {
            Some(c) => c.as_slice(),
            None => {
                xj = x.col(j).iter().copied().collect();
                &xj
            }
        };
        let o = col_slice_mut(v, j);
        with_fma!(velocity_fma, (o: &mut [f64], xs: &[f64], k: f64, a: f64, da: f64), {
            for (oi, xi) in o.iter_mut().zip(xs) {
                let d = *oi;
                *oi = k.mul_add((-a).mul_add(d, *xi), da * d);
            }
        });
    }
}

/// Columns processed together by [`projection_residuals`] (two AVX vectors).
const LANES: usize = 8;

/// $v_j - U(U^\top v_j)$ for every column of `v`, with the coefficients and the
/// residual accumulated in double length: bit for bit
/// [`projection_residual`](super::projection_residual) applied column by column.
///
/// # Definition
/// Each column goes through exactly the operations of `coefficients_dd` and
/// `residual_dd` ([`super::basis`]), in the same order; only the layout
/// differs (`LANES` columns at once, one per SIMD lane, with `TwoProduct` as
/// $p = ab$, $e = \mathrm{fma}(a, b, -p)$, which equals Dekker's product bit
/// for bit: both are the exact $ab - p$).
///
/// # Panics
/// If `u` and `v` have different numbers of rows (callers check shapes).
pub fn projection_residuals(u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Mat<f64> {
    let (d, q) = (v.nrows(), v.ncols());
    let mut out = Mat::<f64>::zeros(d, q);
    for_each_residual_block(
        u,
        v,
        q,
        |j| j,
        |start, w, res| {
            for p in 0..w {
                let o = col_slice_mut(&mut out, start + p);
                for (oi, ri) in o.iter_mut().zip(res) {
                    *oi = ri[p];
                }
            }
        },
    );
    out
}

/// $\sum_{j\in\text{cols}}\|x_j - U(U^\top x_j)\|^2$ with the residuals of
/// [`projection_residuals`] (double length, the same bits), streamed `LANES`
/// columns at a time: no `d × |cols|` copy. Each column's squares are summed in
/// f64 (relative error at most $\gamma_d$, all terms being nonnegative) and the
/// column sums in double length, so the total is within $\gamma_d$ relative of the
/// exact sum of squares of the computed residuals.
///
/// # Panics
/// If `u` and `x` have different numbers of rows, or an index is out of range.
pub fn residual_sq_sum(u: MatRef<'_, f64>, x: MatRef<'_, f64>, cols: &[usize]) -> f64 {
    let mut total = crate::linalg::compensated::Acc::default();
    for_each_residual_block(
        u,
        x,
        cols.len(),
        |j| cols[j],
        |_, w, res| {
            let mut sums = [0.0; LANES];
            for row in res {
                for (s, r) in sums.iter_mut().zip(row) {
                    *s += r * r;
                }
            }
            for s in &sums[..w] {
                total.add(*s);
            }
        },
    );
    total.value()
}

/// Runs the double-length residual kernel on the `q` columns `col(0..q)` of `v`,
/// `LANES` at a time, calling `f(first, width, residuals)` for each block
/// (`residuals[i][p]` is row `i` of the block's column `p`; lanes `≥ width` are padding).
fn for_each_residual_block(
    u: MatRef<'_, f64>,
    v: MatRef<'_, f64>,
    q: usize,
    col: impl Fn(usize) -> usize,
    mut f: impl FnMut(usize, usize, &[[f64; LANES]]),
) {
    let (d, r) = (v.nrows(), u.ncols());
    assert_eq!(u.nrows(), d);
    // U row by row, so that one row's r entries are contiguous.
    let ur: Vec<f64> = (0..d)
        .flat_map(|i| (0..r).map(move |j| u[(i, j)]))
        .collect();
    let mut yb = vec![[0.0; LANES]; d];
    let mut ch = vec![[0.0; LANES]; r];
    let mut cl = vec![[0.0; LANES]; r];
    let mut res = vec![[0.0; LANES]; d];
    for start in (0..q).step_by(LANES) {
        let w = LANES.min(q - start);
        for p in 0..LANES {
            if p < w {
                let c = col(start + p);
                for (i, row) in yb.iter_mut().enumerate() {
                    row[p] = v[(i, c)];
                }
            } else {
                for row in yb.iter_mut() {
                    row[p] = 0.0;
                }
            }
        }
        {
            let (ur, yb, ch, cl, res) = (&ur[..], &yb[..], &mut ch[..], &mut cl[..], &mut res[..]);
            with_fma!(
                residual_block_fma,
                (
                    ur: &[f64],
                    yb: &[[f64; LANES]],
                    ch: &mut [[f64; LANES]],
                    cl: &mut [[f64; LANES]],
                    res: &mut [[f64; LANES]]
                ),
                { residual_block(ur, yb, ch, cl, res) }
            );
        }
        f(start, w, &res);
    }
}

/// Lanes of [`sq_dist_lanes`].
pub const DIST_LANES: usize = 4;

/// The double-length squared distance $\|x - \alpha p\|^2$ of the empirical
/// denoiser's near-tie safeguard, accumulated into `DIST_LANES` independent
/// double-length accumulators (`hi`, `lo`; entry $l$ goes to lane $l \bmod$
/// `DIST_LANES`, the tail after the last full group to lane 0), which the caller
/// combines. Every residual $x_l - \alpha p_l$ is kept exactly (TwoProduct + TwoSum)
/// and squared and summed in double length. TwoProduct is $q = ab$,
/// $e = \mathrm{fma}(a, b, -q)$: bit for bit Dekker's product (both are the exact
/// $ab - q$), one instruction where the CPU has FMA.
///
/// # Panics
/// If `x` and `p` differ in length (an internal invariant of the caller).
pub fn sq_dist_lanes(
    x: &[f64],
    p: &[f64],
    alpha: f64,
    hi: &mut [f64; DIST_LANES],
    lo: &mut [f64; DIST_LANES],
) {
    assert_eq!(x.len(), p.len());
    with_fma!(
        sq_dist_fma,
        (
            x: &[f64],
            p: &[f64],
            alpha: f64,
            hi: &mut [f64; DIST_LANES],
            lo: &mut [f64; DIST_LANES]
        ),
        {
            #[inline(always)]
            fn step(xl: f64, pl: f64, alpha: f64, hi: &mut f64, lo: &mut f64) {
                let ap = alpha * pl;
                let e = alpha.mul_add(pl, -ap);
                let s = xl - ap;
                let bb = s - xl;
                let t = (xl - (s - bb)) + (-ap - bb);
                let low = t - e;
                let sq = s * s;
                let sq_err = s.mul_add(s, -sq);
                let sum = *hi + sq;
                let b2 = sum - *hi;
                let err = (*hi - (sum - b2)) + (sq - b2);
                *hi = sum;
                *lo += err + sq_err + (2.0 * s + low) * low;
            }
            let n = x.len();
            let full = n - n % DIST_LANES;
            for (xs, ps) in x[..full]
                .chunks_exact(DIST_LANES)
                .zip(p[..full].chunks_exact(DIST_LANES))
            {
                for k in 0..DIST_LANES {
                    step(xs[k], ps[k], alpha, &mut hi[k], &mut lo[k]);
                }
            }
            for l in full..n {
                step(x[l], p[l], alpha, &mut hi[0], &mut lo[0]);
            }
        }
    );
}

/// `Acc::add_prod` on every lane: `(h, l) += a · b` with `TwoProduct` by FMA.
#[inline(always)]
fn add_prod_lanes(h: &mut [f64; LANES], l: &mut [f64; LANES], a: f64, b: &[f64; LANES]) {
    for p in 0..LANES {
        let prod = a * b[p];
        let ep = a.mul_add(b[p], -prod);
        let s = h[p] + prod;
        let bb = s - h[p];
        let es = (h[p] - (s - bb)) + (prod - bb);
        h[p] = s;
        l[p] += es + ep;
    }
}

/// One block of [`projection_residuals`]: `coefficients_dd` into `(ch, cl)`, then
/// `residual_dd` into `res`, lane by lane.
#[inline(always)]
fn residual_block(
    ur: &[f64],
    yb: &[[f64; LANES]],
    ch: &mut [[f64; LANES]],
    cl: &mut [[f64; LANES]],
    res: &mut [[f64; LANES]],
) {
    let r = ch.len();
    for (h, l) in ch.iter_mut().zip(cl.iter_mut()) {
        *h = [0.0; LANES];
        *l = [0.0; LANES];
    }
    if r > 0 {
        for (urow, y) in ur.chunks_exact(r).zip(yb) {
            for ((h, l), &a) in ch.iter_mut().zip(cl.iter_mut()).zip(urow) {
                add_prod_lanes(h, l, a, y);
            }
        }
    }
    // Acc::normalized.
    for (h, l) in ch.iter_mut().zip(cl.iter_mut()) {
        for p in 0..LANES {
            let s = h[p] + l[p];
            let bb = s - h[p];
            let e = (h[p] - (s - bb)) + (l[p] - bb);
            h[p] = s;
            l[p] = e;
        }
    }
    for (i, (y, out)) in yb.iter().zip(res.iter_mut()).enumerate() {
        let mut h = *y;
        let mut l = [0.0; LANES];
        for j in 0..r {
            let a = -ur[i * r + j];
            add_prod_lanes(&mut h, &mut l, a, &ch[j]);
            for p in 0..LANES {
                l[p] = a.mul_add(cl[j][p], l[p]);
            }
        }
        for p in 0..LANES {
            out[p] = h[p] + l[p];
        }
    }
}

#[cfg(test)]
// The claim is bit-identity with the portable definition.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::rng::{seeded, standard_normal};

    #[test]
    fn combine_matches_the_portable_definition_bit_for_bit() {
        let mut rng = seeded(3);
        let x = standard_normal(&mut rng, 37, 5);
        let v1 = standard_normal(&mut rng, 37, 5);
        let v2 = standard_normal(&mut rng, 37, 5);
        let got = combine(&x, &[(0.3, &v1), (-1.7e-3, &v2)]);
        for j in 0..5 {
            for i in 0..37 {
                let want = (-1.7e-3f64).mul_add(v2[(i, j)], 0.3f64.mul_add(v1[(i, j)], x[(i, j)]));
                assert_eq!(got[(i, j)].to_bits(), want.to_bits());
            }
        }
    }

    #[test]
    fn projection_residuals_match_the_column_routine_bit_for_bit() {
        let mut rng = seeded(5);
        for &(d, r, q) in &[(37, 5, 19), (8, 8, 8), (64, 0, 3), (1, 1, 9), (130, 12, 1)] {
            let u = if r == 0 {
                Mat::<f64>::zeros(d, 0)
            } else {
                crate::linalg::random_orthonormal(&mut rng, d, r).unwrap()
            };
            // Columns near span(U) (the cancellation case) and generic ones.
            let c = standard_normal(&mut rng, r, q);
            let g = standard_normal(&mut rng, d, q);
            let v = Mat::from_fn(d, q, |i, j| {
                let inside: f64 = (0..r).map(|l| u[(i, l)] * c[(l, j)]).sum();
                if j % 2 == 0 {
                    inside + 1e-9 * g[(i, j)]
                } else {
                    g[(i, j)]
                }
            });
            let got = projection_residuals(u.as_ref(), v.as_ref());
            let (mut cc, mut res) = (vec![0.0; r], vec![0.0; d]);
            for j in 0..q {
                let y: Vec<f64> = (0..d).map(|i| v[(i, j)]).collect();
                crate::linalg::projection_residual(u.as_ref(), &y, &mut cc, &mut res);
                for i in 0..d {
                    assert_eq!(
                        got[(i, j)].to_bits(),
                        res[i].to_bits(),
                        "d={d} r={r} ({i},{j})"
                    );
                }
            }
        }
    }

    #[test]
    fn residual_sq_sum_matches_the_residual_matrix() {
        let mut rng = seeded(6);
        let u = crate::linalg::random_orthonormal(&mut rng, 29, 4).unwrap();
        let x = standard_normal(&mut rng, 29, 23);
        let cols = [3usize, 0, 22, 7, 7, 15, 1, 2, 9, 11, 4];
        let res = projection_residuals(u.as_ref(), x.as_ref());
        let want: f64 = cols
            .iter()
            .map(|&j| (0..29).map(|i| res[(i, j)] * res[(i, j)]).sum::<f64>())
            .sum();
        let got = residual_sq_sum(u.as_ref(), x.as_ref(), &cols);
        assert!((got - want).abs() <= 1e-14 * want, "{got} vs {want}");
        assert_eq!(residual_sq_sum(u.as_ref(), x.as_ref(), &[]), 0.0);
    }

    #[test]
    fn sq_dist_lanes_match_dekker_products_bit_for_bit() {
        use crate::linalg::compensated::{split, two_prod_split};
        let mut rng = seeded(7);
        for &(n, alpha) in &[(37usize, 0.8), (4, 1e-8), (1, 0.999_999), (130, 3.7)] {
            let x = standard_normal(&mut rng, n, 1);
            let p = standard_normal(&mut rng, n, 1);
            // x close to αp in half the entries: the cancellation case.
            let x: Vec<f64> = (0..n)
                .map(|l| {
                    if l % 2 == 0 {
                        alpha * p[(l, 0)] + 1e-12 * x[(l, 0)]
                    } else {
                        x[(l, 0)]
                    }
                })
                .collect();
            let p: Vec<f64> = (0..n).map(|l| p[(l, 0)]).collect();
            let (mut hi, mut lo) = ([0.0; DIST_LANES], [0.0; DIST_LANES]);
            sq_dist_lanes(&x, &p, alpha, &mut hi, &mut lo);
            // The definition with Dekker's products (the previous implementation).
            let (ah, al) = split(alpha);
            let (mut wh, mut wl) = ([0.0f64; DIST_LANES], [0.0f64; DIST_LANES]);
            let full = n - n % DIST_LANES;
            for l in 0..n {
                let k = if l < full { l % DIST_LANES } else { 0 };
                let (ph, pl) = split(p[l]);
                let (ap, e) = two_prod_split(alpha, ah, al, p[l], ph, pl);
                let s = x[l] - ap;
                let bb = s - x[l];
                let t = (x[l] - (s - bb)) + (-ap - bb);
                let low = t - e;
                let (sh, sl) = split(s);
                let (sq, sq_err) = two_prod_split(s, sh, sl, s, sh, sl);
                let sum = wh[k] + sq;
                let b2 = sum - wh[k];
                let err = (wh[k] - (sum - b2)) + (sq - b2);
                wh[k] = sum;
                wl[k] += err + sq_err + (2.0 * s + low) * low;
            }
            for k in 0..DIST_LANES {
                assert_eq!(hi[k].to_bits(), wh[k].to_bits(), "n={n} lane {k}");
                assert_eq!(lo[k].to_bits(), wl[k].to_bits(), "n={n} lane {k}");
            }
        }
    }

    #[test]
    fn velocity_matches_the_portable_definition_bit_for_bit() {
        let mut rng = seeded(4);
        let x = standard_normal(&mut rng, 33, 4);
        let d = standard_normal(&mut rng, 33, 4);
        let mut v = d.clone();
        let (k, a, da) = (0.731, 0.9991, -0.0123);
        velocity_in_place(k, a, da, x.as_ref(), &mut v);
        for j in 0..4 {
            for i in 0..33 {
                let want = k.mul_add((-a).mul_add(d[(i, j)], x[(i, j)]), da * d[(i, j)]);
                assert_eq!(v[(i, j)].to_bits(), want.to_bits());
            }
        }
        // A strided (non-contiguous) input takes the copying path.
        let xt = x.transpose().to_owned();
        let mut v2 = d.clone();
        velocity_in_place(k, a, da, xt.transpose(), &mut v2);
        assert_eq!(v, v2);
    }
}
