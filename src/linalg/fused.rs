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
