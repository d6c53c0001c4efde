//! The weight engine of a MoLRG: logits in double length where rounding could move the
//! weights, with certified error bounds deciding when a second, exact refinement is needed
//! (docs/numerics.md §3.3), and the rescaled path for overflowing logits.

use faer::{Mat, MatRef};

use super::Molrg;
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::basis::residual_dd;
use crate::linalg::compensated::{Acc, SplitLanes, two_prod, two_sum};
use crate::linalg::ozaki::SplitProjector;
use crate::linalg::{self};
use crate::model::softmax_in_place;
use crate::prec;

/// See [`prec::MOLRG_REFINE_TOL`].
pub(super) const REFINE_THRESHOLD: f64 = prec::MOLRG_REFINE_TOL;

/// Relative rounding of a double-length logit ([`Molrg::dd_logit`]): a few
/// dozen operations in double length, each exact to about $u^2$; $2^{-96}$
/// leaves a factor of $2^{10}$ to spare.
pub(super) const DD_LOGIT_ROUNDING: f64 = 1.262_177_448_353_619e-29; // 2^-96

impl Molrg {
    /// The columns `start..end` of component `k` in `stacked`.
    pub(super) fn columns_of(&self, k: usize) -> (usize, usize) {
        (
            self.starts[k],
            self.starts[k] + self.components[k].basis.ncols(),
        )
    }

    /// `stacked` pre-split for single-column `Dot2` projections.
    pub(super) fn lanes(&self) -> &SplitLanes {
        self.lanes
            .get_or_init(|| SplitLanes::from_columns(self.stacked.as_ref()))
    }

    /// `stacked` split for the certified GEMM projections of the batch path.
    pub(super) fn projector(&self) -> &SplitProjector {
        self.projector.get_or_init(|| {
            // `stacked` holds the validated (finite) bases: the only error of
            // `SplitProjector::new` cannot occur.
            Box::new(SplitProjector::new(self.stacked.as_ref()).expect("finite bases"))
        })
    }

    /// Constant part of the logits: $\log\pi_k - \frac12\sum_j\log(1+\alpha^2\lambda_{kj}/\beta^2)$.
    pub(super) fn logit_offsets(&self, level: NoiseLevel) -> Vec<f64> {
        self.components
            .iter()
            .zip(&self.log_weights)
            .map(|(c, lp)| {
                lp - c
                    .variances
                    .iter()
                    .map(|&l| level.half_log1p_snr(l))
                    .sum::<f64>()
            })
            .collect()
    }

    /// The accurate per-column state: double-length coefficients and weights.
    ///
    /// The quadratic part of the logits, $\sum_j\kappa(\lambda_{kj})c_{kj}^2$, is
    /// accumulated in double length by groups of equal $\lambda$ (one group in
    /// the paper's case $\Lambda_k = I$), so every group contributes
    /// $\kappa_g\cdot S_{kg}$ with $S_{kg} = \sum_{j\in g}c_{kj}^2$ exact to
    /// double length and $\kappa_g$ the *same* float for every component: its
    /// rounding is a common relative factor and logit differences stay accurate
    /// to a few ulps of themselves. Groups with $t = \alpha^2\lambda/\beta^2 \ge 1$
    /// are further split by $\kappa = \frac{1}{2\beta^2} - \frac{h}{2}$ ($h = 1/(\alpha^2\lambda+\beta^2)$),
    /// so the dominant part has the coefficient $1/(2\beta^2)$ shared by all
    /// groups and the remainder is smaller by the factor $1/(1+t)$: the logit
    /// error is then within a few ulps of the rounding-level sensitivity to $\lambda$.
    pub(super) fn column(&self, x: &[f64], level: NoiseLevel, offsets: &[f64]) -> Column {
        let kk = self.components.len();
        let ranges: Vec<(usize, usize)> = (0..kk).map(|k| self.columns_of(k)).collect();
        let total = self.stacked.ncols();
        let (mut hi, mut lo) = (vec![0.0; total], vec![0.0; total]);
        self.lanes().dot2(x, &ranges, &mut hi, &mut lo);
        let mut coeffs: Vec<Vec<Acc>> = Vec::with_capacity(kk);
        let mut logits: Vec<Acc> = Vec::with_capacity(kk);
        for (k, &(s, e)) in ranges.iter().enumerate() {
            let cd: Vec<Acc> = (s..e)
                .map(|j| {
                    Acc {
                        hi: hi[j],
                        lo: lo[j],
                    }
                    .normalized()
                })
                .collect();
            logits.push(self.dd_logit(k, &cd, offsets[k], level));
            coeffs.push(cd);
        }
        let weights = if logits.iter().all(|l| l.hi < f64::INFINITY) {
            weights_from_dd_logits(&logits)
        } else {
            // A logit overflowed (‖x‖ ≳ 1e154 β): the rescaled path.
            self.scaled_weights(x, level, offsets)
        };
        Column { weights, coeffs }
    }

    /// The log posterior weights of one column: the double-length logits of
    /// [`Self::column`] (or the rescaled differences of [`Self::scaled_weights`] when a
    /// logit overflows), normalized by a log-sum-exp ([`crate::model::log_softmax`]),
    /// never `log(w)`: a weight that underflows to 0 keeps its finite log.
    pub(super) fn column_log_weights(
        &self,
        x: &[f64],
        level: NoiseLevel,
        offsets: &[f64],
    ) -> Vec<f64> {
        let logits = self.dd_logits(x, level, |k| offsets[k]);
        let diffs = if logits.iter().all(|l| l.hi < f64::INFINITY) {
            dd_logit_differences(&logits)
        } else {
            self.scaled_logit_differences(x, level, offsets)
        };
        crate::model::log_softmax(&diffs)
    }

    /// The double-length logits of every component at the column `x` (projections by
    /// [`Lanes::dot2`](crate::linalg::fused), then [`Self::dd_logit`] with offset `offset(k)`).
    fn dd_logits(&self, x: &[f64], level: NoiseLevel, offset: impl Fn(usize) -> f64) -> Vec<Acc> {
        let kk = self.components.len();
        let ranges: Vec<(usize, usize)> = (0..kk).map(|k| self.columns_of(k)).collect();
        let total = self.stacked.ncols();
        let (mut hi, mut lo) = (vec![0.0; total], vec![0.0; total]);
        self.lanes().dot2(x, &ranges, &mut hi, &mut lo);
        ranges
            .iter()
            .enumerate()
            .map(|(k, &(a, e))| {
                let cd: Vec<Acc> = (a..e)
                    .map(|j| {
                        Acc {
                            hi: hi[j],
                            lo: lo[j],
                        }
                        .normalized()
                    })
                    .collect();
                self.dd_logit(k, &cd, offset(k), level)
            })
            .collect()
    }

    /// The weights of a column whose logits overflow f64 (their quadratic part
    /// $\sum_j\kappa_{kj}c_{kj}^2$ exceeds 1.8e308, from $\|x\| \gtrsim 10^{154}\beta$).
    ///
    /// With $x = 2^s x'$ (an exact power-of-two rescaling, $\max_i|x'_i| \in [\tfrac12, 1)$)
    /// the logits are $\ell_k = o_k + 4^s q'_k$, $q'_k$ the quadratic part at $x'$
    /// (finite, computed in double length). Their differences to a reference
    /// component $k^*$ (the largest $q'$) are $4^s(q'_k - q'_{k^*}) + (o_k - o_{k^*})$:
    /// finite or $-\infty$ (weight exactly 0), and accurate to the same relative
    /// precision as the unscaled formula would be. Only columns whose ordinary logits
    /// are not finite take this path.
    pub(super) fn scaled_weights(&self, x: &[f64], level: NoiseLevel, offsets: &[f64]) -> Vec<f64> {
        let mut w = self.scaled_logit_differences(x, level, offsets);
        softmax_in_place(&mut w);
        w
    }

    /// The logit differences of [`Self::scaled_weights`] (to a reference component), before
    /// the softmax.
    fn scaled_logit_differences(&self, x: &[f64], level: NoiseLevel, offsets: &[f64]) -> Vec<f64> {
        use crate::linalg::rank::times_pow2;
        let kk = self.components.len();
        let amax = x
            .iter()
            .fold(0.0f64, |m, v| if v.abs() > m { v.abs() } else { m });
        // s with amax · 2^-s in [1/2, 1): amax ≥ 1 here (else nothing overflows).
        let s = if amax > 0.0 {
            amax.log2().floor() as i32 + 1
        } else {
            0
        };
        let xs: Vec<f64> = x.iter().map(|&v| times_pow2(v, -s)).collect();
        let q = self.dd_logits(&xs, level, |_| 0.0);
        // Reference: the largest q' among components of positive prior weight.
        let reference = (0..kk)
            .filter(|&k| offsets[k] > f64::NEG_INFINITY)
            .max_by(|&a, &b| q[a].hi.total_cmp(&q[b].hi))
            .unwrap_or(0);
        let top = q[reference];
        (0..kk)
            .map(|k| {
                if offsets[k] == f64::NEG_INFINITY {
                    return f64::NEG_INFINITY;
                }
                let (d, e) = two_sum(q[k].hi, -top.hi);
                let dq = d + (e + (q[k].lo - top.lo));
                // 0 · ∞ must stay 0 (a tie), not NaN.
                let scaled = if dq == 0.0 {
                    0.0
                } else {
                    times_pow2(dq, 2 * s)
                };
                scaled + (offsets[k] - offsets[reference])
            })
            .collect()
    }

    /// The double-length logit of component `k` from its double-length coefficients.
    pub(super) fn dd_logit(&self, k: usize, cd: &[Acc], off: f64, level: NoiseLevel) -> Acc {
        if off == f64::NEG_INFINITY {
            return Acc {
                hi: f64::NEG_INFINITY,
                lo: 0.0,
            };
        }
        let c = &self.components[k];
        let inv_2b2 = 0.5 / (level.beta() * level.beta());
        let mut big = Acc::default();
        let mut l = Acc::new(off);
        // One group of squared coefficients with equal variance: its sum enters
        // the logit through the shared 1/(2β²) (t ≥ 1) or through κ(λ).
        let mut add_group = |lam: f64, sq: Acc| {
            let sq = sq.normalized();
            let t = level.snr() * lam;
            if t >= 1.0 {
                big.add(sq.hi);
                big.lo += sq.lo;
                l.add_prod_acc(-0.5 * level.inv_marginal_variance(lam), sq);
            } else {
                l.add_prod_acc(level.logit_coefficient(lam), sq);
            }
        };
        let square = |g: &mut Acc, cj: &Acc| {
            let (p, e) = two_prod(cj.hi, cj.hi);
            g.add(p);
            g.lo += e + 2.0 * cj.hi * cj.lo;
        };
        if let Some(&lam) = c.variances.first().filter(|_| c.uniform) {
            // All variances equal (the common case): one group, no allocation.
            let mut g = Acc::default();
            cd.iter().for_each(|cj| square(&mut g, cj));
            add_group(lam, g);
        } else {
            // Group by equal variance, in order of first appearance.
            let mut groups: Vec<(f64, Acc)> = Vec::new();
            for (cj, &lam) in cd.iter().zip(&c.variances) {
                let idx = match groups.iter().position(|g| g.0.to_bits() == lam.to_bits()) {
                    Some(i) => i,
                    None => {
                        groups.push((lam, Acc::default()));
                        groups.len() - 1
                    }
                };
                square(&mut groups[idx].1, cj);
            }
            for (lam, sq) in groups {
                add_group(lam, sq);
            }
        }
        l.add_prod_acc(inv_2b2, big.normalized());
        l.normalized()
    }

    /// Weights from double-length logits for the components that can matter
    /// (`active`), keeping the f64 logits of the others (whose weights are below
    /// `e^{-60}` relative to the largest even after their rounding; see
    /// [`Molrg`]'s accuracy notes). The coefficients come from `Dot2`.
    pub(super) fn refined_weights(
        &self,
        x: &[f64],
        level: NoiseLevel,
        offsets: &[f64],
        f64_logits: &[f64],
        active: &[bool],
    ) -> Vec<f64> {
        let kk = self.components.len();
        let ranges: Vec<(usize, usize)> = (0..kk)
            .filter(|&k| active[k])
            .map(|k| self.columns_of(k))
            .collect();
        let total = self.stacked.ncols();
        let (mut hi, mut lo) = (vec![0.0; total], vec![0.0; total]);
        self.lanes().dot2(x, &ranges, &mut hi, &mut lo);
        self.weights_from_coefficients(
            |j| {
                Acc {
                    hi: hi[j],
                    lo: lo[j],
                }
                .normalized()
            },
            level,
            offsets,
            f64_logits,
            active,
        )
    }

    /// Weights from double-length logits of the `active` components, whose
    /// stacked coefficient `j` is `coeff(j)`; the others keep their f64 logits.
    pub(super) fn weights_from_coefficients(
        &self,
        coeff: impl Fn(usize) -> Acc,
        level: NoiseLevel,
        offsets: &[f64],
        f64_logits: &[f64],
        active: &[bool],
    ) -> Vec<f64> {
        let logits: Vec<Acc> = (0..self.components.len())
            .map(|k| {
                if active[k] {
                    let (s, e) = self.columns_of(k);
                    let cd: Vec<Acc> = (s..e).map(&coeff).collect();
                    self.dd_logit(k, &cd, offsets[k], level)
                } else {
                    Acc::new(f64_logits[k])
                }
            })
            .collect();
        weights_from_dd_logits(&logits)
    }

    /// `m_k = U_k diag(g_k) c_k` for each component, as dense vectors.
    pub(super) fn component_means(&self, col: &Column, level: NoiseLevel) -> Vec<Vec<f64>> {
        self.components
            .iter()
            .zip(&col.coeffs)
            .map(|(c, cd)| {
                let gc: Vec<f64> = cd
                    .iter()
                    .zip(&c.variances)
                    .map(|(cj, &l)| level.gain(l) * cj.value())
                    .collect();
                (0..self.dim)
                    .map(|i| {
                        let mut s = 0.0;
                        for (j, gj) in gc.iter().enumerate() {
                            s = c.basis[(i, j)].mul_add(*gj, s);
                        }
                        s
                    })
                    .collect()
            })
            .collect()
    }
}

/// The residual `x − U_k c_k` (double length), or exactly zero when `U_k` is
/// square: a basis with `r_k = d` spans R^d, and the rounding-level residual of
/// a numerically orthogonal square matrix is not part of the model.
pub(super) fn residual_or_zero(u: MatRef<'_, f64>, x: &[f64], c: &[Acc], res: &mut [f64]) {
    if u.ncols() == u.nrows() {
        res.iter_mut().for_each(|v| *v = 0.0);
    } else {
        residual_dd(u, x, c, res);
    }
}

/// Per-column accurate state.
pub(super) struct Column {
    pub(super) coeffs: Vec<Vec<Acc>>,
    pub(super) weights: Vec<f64>,
}

/// A column of a batch whose f64 weights need double-length logits.
pub(super) struct Pending {
    pub(super) col: usize,
    pub(super) raw: Vec<f64>,
    pub(super) active: Vec<bool>,
}

impl Molrg {
    /// Replaces the weights of the `pending` columns of `xb` by weights from
    /// double-length logits. The coefficients come from the split projection
    /// (three GEMMs over the pending columns, [`SplitProjector`]); a column whose
    /// certified weight error is still above the threshold (extreme logits) is
    /// recomputed with `Dot2` coefficients instead.
    pub(super) fn refine_pending(
        &self,
        xb: MatRef<'_, f64>,
        level: NoiseLevel,
        offsets: &[f64],
        kappas: &[Vec<f64>],
        pending: &[Pending],
        weights: &mut Mat<f64>,
    ) -> Result<()> {
        let kk = self.components.len();
        let sub = Mat::from_fn(self.dim, pending.len(), |i, p| xb[(i, pending[p].col)]);
        let proj = self.projector().project(sub.as_ref())?;
        let mut xcol = vec![0.0; self.dim];
        for (p, pd) in pending.iter().enumerate() {
            let coeff = |j: usize| {
                let (hi, lo) = two_sum(proj.exact[(j, p)], proj.correction[(j, p)]);
                Acc { hi, lo }
            };
            // Certified error of the double-length logits of the active
            // components: |δq_k| ≤ Σ_j κ_kj (2|c_kj| e_kj + e_kj²) from the
            // coefficients' bounds e, plus the double-length rounding of the sum.
            let mut err = 0.0f64;
            for k in (0..kk).filter(|&k| pd.active[k]) {
                let s0 = self.starts[k];
                let mut e = 0.0;
                let mut mag = offsets[k].abs();
                for (i, &kp) in kappas[k].iter().enumerate() {
                    let c = coeff(s0 + i).hi.abs();
                    let b = proj.bound[(s0 + i, p)];
                    e += kp.abs() * (2.0 * c * b + b * b);
                    mag += kp.abs() * c * c;
                }
                e += DD_LOGIT_ROUNDING * mag;
                err = err.max(if e.is_finite() { e } else { f64::INFINITY });
            }
            let w = self.weights_from_coefficients(coeff, level, offsets, &pd.raw, &pd.active);
            let wmax = w.iter().cloned().fold(0.0, f64::max);
            let w = if 2.0 * err * (1.0 - wmax) <= REFINE_THRESHOLD {
                w
            } else {
                linalg::col_to_slice(xb, pd.col, &mut xcol);
                self.refined_weights(&xcol, level, offsets, &pd.raw, &pd.active)
            };
            weights
                .col_mut(pd.col)
                .iter_mut()
                .zip(&w)
                .for_each(|(d, s)| *d = *s);
        }
        Ok(())
    }
}

/// Softmax of double-length logits: differences to the maximum are formed in
/// double length, then exponentiated.
pub(super) fn weights_from_dd_logits(logits: &[Acc]) -> Vec<f64> {
    let mut w = dd_logit_differences(logits);
    softmax_in_place(&mut w);
    w
}

/// The differences $\ell_k - \ell_{k^*}$ of double-length logits to the largest one
/// (`-∞` stays `-∞`), rounded once.
pub(super) fn dd_logit_differences(logits: &[Acc]) -> Vec<f64> {
    let imax = (0..logits.len())
        .max_by(|&a, &b| logits[a].hi.total_cmp(&logits[b].hi))
        .unwrap_or(0);
    let top = logits[imax];
    logits
        .iter()
        .map(|l| {
            if l.hi == f64::NEG_INFINITY {
                f64::NEG_INFINITY
            } else {
                let (s, e) = two_sum(l.hi, -top.hi);
                s + (e + (l.lo - top.lo))
            }
        })
        .collect()
}

/// log Σ_k exp(v_k) for double-length values.
pub(super) fn log_sum_exp_dd(v: &[Acc]) -> f64 {
    let imax = (0..v.len())
        .max_by(|&a, &b| v[a].hi.total_cmp(&v[b].hi))
        .unwrap_or(0);
    let top = v[imax];
    if top.hi == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    let mut s = 0.0;
    for l in v {
        if l.hi > f64::NEG_INFINITY {
            let (a, e) = two_sum(l.hi, -top.hi);
            s += (a + (e + (l.lo - top.lo))).exp();
        }
    }
    top.value() + s.ln()
}
