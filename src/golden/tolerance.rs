//! Tolerances of golden cases: $c\,\varepsilon_T\,\kappa$ per point and tier.
//!
//! The scales are those of the theorem checks (`src/theorem/r02.rs` … `r04.rs`):
//! a point's error is measured against the magnitude of the terms its formula
//! sums (e.g. $\|\mu\| + g_{\max}\|y\|$ for a Gaussian posterior mean). The
//! factor $\kappa$ is the problem's condition number relative to that scale —
//! how much the exact answer moves when every input (the point, the model's
//! arrays, $\alpha$, $\beta$) is perturbed by a relative $\varepsilon_T$ —
//! so a backward-stable implementation in precision $T$ passes, whatever its
//! summation order. In the f32 tier this includes rounding the f64 inputs to
//! f32. The constant $c = 8$ and $\gamma_T(n) = 2n\varepsilon_T/(1 - n\varepsilon_T)$ are those of
//! [`crate::prec::gamma`].
//!
//! Softmax weights are where conditioning bites: a logit $l_k$ known to
//! $\pm\eta_k$ moves the weights by $|\delta w_k| \le w_k\sum_{j\ne k}w_j(\eta_k+\eta_j)$ to
//! first order (the $j = k$ term cancels, so a saturated softmax is insensitive
//! to errors far smaller than its gaps). [`weight_perturbation`] returns these
//! bounds, doubled for the second-order terms, or `None` when some pair of
//! non-negligible weights has $\eta_k + \eta_j > 1/2$ (the linearization is then
//! meaningless and callers fall back to the convex-hull bound).

use super::Tier;

/// The tolerance constant $c$ of every case.
pub const C: f64 = 8.0;

/// $\gamma_T(n) = 2n\varepsilon_T/(1 - n\varepsilon_T)$ (∞ if $n\varepsilon_T \ge 1/2$).
pub fn gamma(tier: Tier, n: usize) -> f64 {
    let ne = (n.max(1) as f64) * tier.eps();
    if ne >= 0.5 {
        f64::INFINITY
    } else {
        2.0 * ne / (1.0 - ne)
    }
}

/// A point's scale and its relative tolerances in both tiers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointTolerance {
    /// The magnitude the error is measured against.
    pub scale: f64,
    /// Relative tolerance, f64 tier.
    pub f64: f64,
    /// Relative tolerance, f32 tier.
    pub f32: f64,
}

impl PointTolerance {
    /// Builds both tiers from one formula `rel(tier)`.
    pub fn from_fn(scale: f64, rel: impl Fn(Tier) -> f64) -> Self {
        Self {
            scale,
            f64: rel(Tier::F64),
            f32: rel(Tier::F32),
        }
    }
}

/// First-order bounds on $|\delta w_k|$ for logit errors $\eta$, doubled; `None`
/// if some pair with $w_kw_j > 10^{-30}$ has $\eta_k + \eta_j > 1/2$.
pub fn weight_perturbation(w: &[f64], eta: &[f64]) -> Option<Vec<f64>> {
    let mut out = vec![0.0; w.len()];
    for k in 0..w.len() {
        let mut s = 0.0;
        for j in 0..w.len() {
            if j == k {
                continue;
            }
            let pair = w[k] * w[j];
            if pair > 1e-30 && eta[k] + eta[j] > 0.5 {
                return None;
            }
            s += w[j] * (eta[k] + eta[j]);
        }
        out[k] = 2.0 * w[k] * s;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturated_softmax_is_insensitive() {
        let d = weight_perturbation(&[1.0, 0.0], &[1e3, 1e3]).unwrap();
        assert!(d.iter().all(|&v| v == 0.0));
        let tie = weight_perturbation(&[0.5, 0.5], &[1e-3, 1e-3]).unwrap();
        assert!((tie[0] - 1e-3).abs() < 1e-18);
        assert!(weight_perturbation(&[0.5, 0.5], &[1.0, 1.0]).is_none());
    }

    #[test]
    fn gamma_grows_with_n_and_tier() {
        assert!(gamma(Tier::F32, 10) > gamma(Tier::F64, 10));
        assert!(gamma(Tier::F64, 20) > gamma(Tier::F64, 10));
        assert!(gamma(Tier::F32, 1 << 23).is_infinite());
    }
}
