//! Error-free transformations and compensated (double-length) dot products.
//!
//! Used where a result is a small difference of large terms that the inputs
//! determine accurately, most of all the residual $(I - UU^\top)y$ of a
//! projection when $y$ lies almost in $\operatorname{span} U$ (the score at
//! small $\beta$). Algorithms: `TwoSum` (Knuth), `TwoProduct` via FMA, and
//! `Dot2` (Ogita, Rump, Oishi, *Accurate sum and dot product*, SIAM J. Sci.
//! Comput. 26(6), 2005).
//!
//! # Error bound
//! `Dot2` returns $\hat s$ with
//! $|\hat s - x^\top y| \le \varepsilon |x^\top y| + \gamma_{n}^2 |x|^\top |y|$
//! (ORO05, Prop. 5.5), i.e. the result is as accurate as if it were computed in
//! about twice the working precision and then rounded.

/// `(s, e)` with `s = fl(a + b)` and `a + b = s + e` exactly.
#[inline]
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `(p, e)` with `p = fl(a · b)` and `a · b = p + e` exactly (barring underflow).
///
/// Dekker's product from Veltkamp splits where the splits cannot overflow
/// (both factors below $2^{995}$ in magnitude), else one fused multiply-add.
/// Both compute the same exact `e`, so the result does not depend on the path
/// (the split avoids a call to the software `fma` on CPUs without FMA).
#[inline]
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    const LIMIT: f64 = 3.348_464_397_457_085_4e299; // 2^995
    let p = a * b;
    let e = if a.abs() < LIMIT && b.abs() < LIMIT {
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        ((ah * bh - p) + ah * bl + al * bh) + al * bl
    } else {
        a.mul_add(b, -p)
    };
    (p, e)
}

/// A double-length accumulator: the value is `hi + lo` with `|lo|` small.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Acc {
    /// Leading part.
    pub hi: f64,
    /// Accumulated compensation.
    pub lo: f64,
}

impl Acc {
    /// Starts from a single float.
    #[inline]
    pub fn new(x: f64) -> Self {
        Self { hi: x, lo: 0.0 }
    }

    /// Adds the exact product `a · b`.
    #[inline]
    pub fn add_prod(&mut self, a: f64, b: f64) {
        let (p, ep) = two_prod(a, b);
        let (s, es) = two_sum(self.hi, p);
        self.hi = s;
        self.lo += es + ep;
    }

    /// Adds `a · (b.hi + b.lo)`, keeping the product of `a` with the low part to
    /// working precision (it is already a correction term).
    #[inline]
    pub fn add_prod_acc(&mut self, a: f64, b: Acc) {
        self.add_prod(a, b.hi);
        self.lo = a.mul_add(b.lo, self.lo);
    }

    /// Adds a float exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let (s, e) = two_sum(self.hi, x);
        self.hi = s;
        self.lo += e;
    }

    /// Rounds to the nearest-ish float (`hi + lo` in one rounding).
    #[inline]
    pub fn value(self) -> f64 {
        self.hi + self.lo
    }

    /// Renormalizes so that `hi = fl(hi + lo)`.
    #[inline]
    pub fn normalized(self) -> Self {
        let (s, e) = two_sum(self.hi, self.lo);
        Self { hi: s, lo: e }
    }
}

/// Veltkamp's splitting constant $2^{27} + 1$.
const SPLITTER: f64 = 134_217_729.0;

/// Veltkamp split: `a = hi + lo` exactly, each half with at most 26 significant
/// bits, so products of halves are exact (valid for $|a| < 2^{996}$).
#[inline]
pub fn split(a: f64) -> (f64, f64) {
    let t = SPLITTER * a;
    let hi = t - (t - a);
    (hi, a - hi)
}

/// Dekker's `TwoProduct` from pre-split factors: `(p, e)` with `p = fl(a·b)` and
/// `a·b = p + e` exactly (barring over/underflow). No FMA needed, so it
/// vectorizes on any x86-64.
#[inline]
pub fn two_prod_split(a: f64, ah: f64, al: f64, b: f64, bh: f64, bl: f64) -> (f64, f64) {
    let p = a * b;
    let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    (p, e)
}

/// A set of `R` vectors of length `d`, stored coordinate-major and pre-split
/// (Veltkamp) for many simultaneous `Dot2` products ([`SplitLanes::dot2`]).
#[derive(Debug, Clone)]
pub struct SplitLanes {
    a: Vec<f64>,
    hi: Vec<f64>,
    lo: Vec<f64>,
    rows: usize,
}

impl SplitLanes {
    /// From the `R` columns of `u` (`d × R`).
    pub fn from_columns(u: faer::MatRef<'_, f64>) -> Self {
        let (d, rows) = (u.nrows(), u.ncols());
        let mut a = Vec::with_capacity(d * rows);
        for i in 0..d {
            for j in 0..rows {
                a.push(u[(i, j)]);
            }
        }
        let (hi, lo) = a.iter().map(|&v| split(v)).unzip();
        Self { a, hi, lo, rows }
    }

    /// For every lane `j` in the given half-open ranges,
    /// `(hi[j], lo[j]) ≈ Σ_i u[i, j] x[i]` in double length (the accuracy of [`dot2`]);
    /// other lanes are left untouched. The lanes are independent, so the inner
    /// loop vectorizes (no FMA needed).
    pub fn dot2(&self, x: &[f64], ranges: &[(usize, usize)], hi: &mut [f64], lo: &mut [f64]) {
        for &(s, e) in ranges {
            hi[s..e].iter_mut().for_each(|v| *v = 0.0);
            lo[s..e].iter_mut().for_each(|v| *v = 0.0);
        }
        for (i, &xi) in x.iter().enumerate() {
            let (xh, xl) = split(xi);
            let base = i * self.rows;
            for &(s, e) in ranges {
                let a = &self.a[base + s..base + e];
                let ah = &self.hi[base + s..base + e];
                let al = &self.lo[base + s..base + e];
                let h = &mut hi[s..e];
                let l = &mut lo[s..e];
                for j in 0..(e - s) {
                    let (p, pe) = two_prod_split(a[j], ah[j], al[j], xi, xh, xl);
                    let sum = h[j] + p;
                    let bb = sum - h[j];
                    let se = (h[j] - (sum - bb)) + (p - bb);
                    h[j] = sum;
                    l[j] += pe + se;
                }
            }
        }
    }
}

/// `Dot2`: $x^\top y$ as a normalized double-length value.
///
/// # Panics
/// Never; if the lengths differ the shorter length is used (callers check shapes).
pub fn dot2(x: &[f64], y: &[f64]) -> Acc {
    let mut acc = Acc::default();
    for (&a, &b) in x.iter().zip(y) {
        acc.add_prod(a, b);
    }
    acc.normalized()
}

#[cfg(test)]
// Exactness is the claim: these tests compare bit patterns on purpose.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn two_prod_matches_the_fma_error_bit_for_bit() {
        let mut rng = crate::rng::seeded(11);
        for _ in 0..20_000 {
            let v = crate::rng::standard_normal_vec(&mut rng, 4);
            let a = v[0] * 10f64.powf(v[1] * 60.0);
            let b = v[2] * 10f64.powf(v[3] * 60.0);
            let (p, e) = two_prod(a, b);
            if !(p.is_finite() && p.abs() > 1e-200) {
                continue; // outside the documented range (overflow, underflow)
            }
            assert_eq!(p.to_bits(), (a * b).to_bits());
            assert_eq!(
                e.to_bits(),
                a.mul_add(b, -p).to_bits(),
                "a = {a:e}, b = {b:e}"
            );
        }
        // Beyond the split's range: the FMA path.
        let (p, e) = two_prod(1e300, 1e-290);
        assert_eq!(e, 1e300f64.mul_add(1e-290, -p));
    }

    #[test]
    fn two_sum_is_exact() {
        let (s, e) = two_sum(1.0, 1e-20);
        assert_eq!(s, 1.0);
        assert_eq!(e, 1e-20);
    }

    #[test]
    fn dekker_product_is_exact() {
        for &(a, b) in &[
            (0.1, 0.3),
            (1e10 + 1.0 / 3.0, -7.123456789e-5),
            (3.0, 1.0 / 3.0),
        ] {
            let (ah, al) = split(a);
            let (bh, bl) = split(b);
            let (p, e) = two_prod_split(a, ah, al, b, bh, bl);
            let (p2, e2) = two_prod(a, b);
            assert_eq!((p, e), (p2, e2));
        }
    }

    #[test]
    fn lanes_match_dot2() {
        let (rows, d) = (5, 40);
        let u = faer::Mat::from_fn(d, rows, |i, j| {
            (((i * rows + j) * 37 % 101) as f64 - 50.0) / 7.0
        });
        let x: Vec<f64> = (0..d).map(|i| (i as f64).sin() * 1e3).collect();
        let lanes = SplitLanes::from_columns(u.as_ref());
        let mut hi = vec![0.0; rows];
        let mut lo = vec![0.0; rows];
        lanes.dot2(&x, &[(0, 2), (3, 5)], &mut hi, &mut lo);
        for j in [0, 1, 3, 4] {
            let col: Vec<f64> = (0..d).map(|i| u[(i, j)]).collect();
            let want = dot2(&col, &x);
            let got = Acc {
                hi: hi[j],
                lo: lo[j],
            }
            .normalized();
            assert!((got.hi - want.hi).abs() <= f64::EPSILON * want.hi.abs());
        }
        assert_eq!((hi[2], lo[2]), (0.0, 0.0));
    }

    #[test]
    fn dot2_recovers_cancelled_sum() {
        // 1e16 + 1 - 1e16 = 1; naive f64 gives 0 (or 2).
        let x = [1e16, 1.0, -1e16];
        let y = [1.0, 1.0, 1.0];
        assert_eq!(dot2(&x, &y).value(), 1.0);
        let naive: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert_ne!(naive, 1.0);
    }
}
