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
#[inline]
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    let e = a.mul_add(b, -p);
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
#[allow(clippy::float_cmp)] // exactness is what these tests claim
mod tests {
    use super::*;

    #[test]
    fn two_sum_is_exact() {
        let (s, e) = two_sum(1.0, 1e-20);
        assert_eq!(s, 1.0);
        assert_eq!(e, 1e-20);
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
