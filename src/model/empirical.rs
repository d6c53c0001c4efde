//! The empirical distribution of a training set, R04: the memorizing denoiser.

use faer::reborrow::ReborrowMut;
use faer::{ColRef, Mat, MatMut, MatRef};
use rand::RngExt;

use super::{Denoiser, ExactModel, check_batch, check_point, log_norm_const, par_blocks};
use crate::error::{
    Error, Result, ensure_dim, ensure_finite, ensure_finite_output, ensure_finite_output_slice,
};

/// Why an empirical-model evaluation can overflow although its inputs are valid.
const OVERFLOW_CAUSE: &str = "x_t or the training points are so large relative to beta (or beta \
     so small) that the exact value is beyond f64; rescale the data or raise the noise level";
use crate::level::NoiseLevel;
use crate::linalg::compensated::{Acc, two_sum};
use crate::linalg::{self};
use crate::rng::SeededRng;

/// The empirical distribution $p_{\mathrm{emp}} = \frac1N\sum_{i=1}^N\delta_{x^{(i)}}$.
///
/// # Definition
/// $$\mathbb E[x_0\mid x_t] = \sum_i s_i\,x^{(i)},\qquad
///   s = \operatorname{softmax}_i\Big(-\frac{\|x_t-\alpha x^{(i)}\|^2}{2\beta^2}\Big). \qquad\text{(R04)}$$
/// This is the minimizer of the denoising loss over all functions on a finite
/// training set: it memorizes, and as $\beta \to 0$ it returns the nearest
/// training point.
///
/// # Accuracy
/// The logits reach $10^{16}$ at $\beta = 10^{-8}$. They are never exponentiated
/// directly: with $i_\star$ the nearest point, each candidate's gap
/// $\Delta_i = \|x_t-\alpha x^{(i)}\|^2 - \|x_t-\alpha x^{(i_\star)}\|^2$ is the difference of two
/// squared distances computed in double length (every residual $x_t - \alpha x^{(i)}$
/// kept exactly, squares and sums accumulated in double length), accurate to about
/// $d\varepsilon^2(\|x_t-\alpha x^{(i)}\|^2 + \|x_t-\alpha x^{(i_\star)}\|^2)$ — near ties between
/// nearby *and* far-apart points are resolved — and
/// $s_i = e^{-\Delta_i/2\beta^2}/\sum_l e^{-\Delta_l/2\beta^2}$. Points whose gap
/// provably exceeds $1600\beta^2$ get weight exactly 0 (their true weight is
/// below $e^{-800}$, under the smallest f64). Ties whose computed gaps are equal
/// (duplicated points, a point and its negative at the origin) split evenly. The mean
/// is formed as $x^{(i_\star)} + \sum_i s_i(x^{(i)} - x^{(i_\star)})$, the score as
/// $-\big[(x_t - \alpha x^{(i_\star)}) - \alpha\sum_i s_i(x^{(i)}-x^{(i_\star)})\big]/\beta^2$,
/// so neither cancels when the weights concentrate.
///
/// The *batch* posterior mean ([`Denoiser::posterior_mean`]) first forms all
/// squared distances with one GEMM (`‖x‖² − 2α⟨x, x^{(i)}⟩ + α²‖x^{(i)}‖²`), then
/// recomputes exactly the gaps that matter: all candidates in the tiny-β /
/// near-tie regime, otherwise the heaviest ones until a rigorous bound on the
/// remaining error is met (see [`Empirical::posterior_mean_with_bounds`], which
/// returns that bound per column), and forms the mean as one GEMM. Scores,
/// log-densities, Jacobians and [`Empirical::posterior_weights`] use the exact
/// per-point path.
///
/// # Examples
/// ```
/// use diffusion_lowdim::{Empirical, Denoiser, NoiseLevel};
/// let pts = faer::mat![[0.0, 1.0], [0.0, 0.0]]; // two points in R²
/// let emp = Empirical::new(pts.as_ref())?;
/// let x = faer::mat![[0.4], [0.0]];
/// // β → 0: the nearest training point.
/// let e = emp.posterior_mean(x.as_ref(), NoiseLevel::new(1.0, 1e-8)?)?;
/// assert_eq!(e[(0, 0)], 0.0);
/// // Equidistant: the tie splits evenly.
/// let mid = faer::mat![[0.5], [0.0]];
/// let e = emp.posterior_mean(mid.as_ref(), NoiseLevel::new(1.0, 1e-8)?)?;
/// assert_eq!(e[(0, 0)], 0.5);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
///
/// # References
/// SPEC R04. Derivation: `docs/exact-denoisers.md`; proof: `proofs/R04-empirical-posterior.md`.
#[derive(Debug, Clone)]
pub struct Empirical {
    points: Mat<f64>,
    /// `‖x^(i)‖²`, each from a double-length dot product.
    sq_norms: Vec<f64>,
    /// `max_i ‖x^(i)‖`.
    max_norm: f64,
}

use crate::prec::EMPIRICAL_BATCH_TOL as FAST_PATH_TOL;

/// At most this many points per column get exact gaps in the batch path when
/// the GEMM logits are not accurate enough on their own (`ε_G ≤ 1`); the
/// remaining error is reported by [`Empirical::posterior_mean_with_bounds`].
pub const MAX_EXACT: usize = 32;

/// Above this logit error bound `ε_G` the GEMM distances are only used to find
/// the candidates, whose gaps are then all computed exactly (see
/// `gemm_weights`): the tiny-β / near-tie regime, where the candidates are few.
const EXACT_SWITCH: f64 = 1e-6;

/// Logit gap (in units of 2β²) beyond which a weight is exactly zero.
const GAP_CUTOFF: f64 = 800.0;

/// Per-column accurate state: the nearest point and the (index, weight) pairs
/// with non-zero weight, sorted by index.
struct Column {
    star: usize,
    weights: Vec<(usize, f64)>,
    /// `log Σ_i exp(−Δ_i/2β²)` over the kept candidates (Δ relative to `star`;
    /// may be positive when the accurate gaps find a nearer point).
    log_mass: f64,
    /// `‖x − α x*‖²`.
    dist_star: f64,
}

impl Empirical {
    /// The empirical distribution of the columns of `points` (`d × N`).
    ///
    /// # Errors
    /// [`Error::Empty`] for no points or `d = 0`, [`Error::NonFinite`].
    pub fn new(points: MatRef<'_, f64>) -> Result<Self> {
        if points.nrows() == 0 {
            return Err(Error::Empty {
                what: "training set",
                unit: "row (dimension d ≥ 1)",
            });
        }
        if points.ncols() == 0 {
            return Err(Error::Empty {
                what: "training set",
                unit: "column (training point)",
            });
        }
        ensure_finite("training set", points)?;
        let sq_norms: Vec<f64> = (0..points.ncols())
            .map(|i| {
                let c: Vec<f64> = points.col(i).iter().copied().collect();
                crate::linalg::compensated::dot2(&c, &c).value()
            })
            .collect();
        let max_norm = sq_norms.iter().fold(0.0f64, |a, &v| a.max(v)).sqrt();
        Ok(Self {
            points: points.to_owned(),
            sq_norms,
            max_norm,
        })
    }

    /// The training points (`d × N`).
    pub fn points(&self) -> MatRef<'_, f64> {
        self.points.as_ref()
    }

    /// Number of training points $N$.
    pub fn len(&self) -> usize {
        self.points.ncols()
    }

    /// Always false (construction requires a point).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// `‖x − α p_i‖²` with one rounding per residual entry.
    fn sq_dist(&self, x: &[f64], alpha: f64, i: usize) -> f64 {
        let p = self.points.col(i);
        let mut s = 0.0;
        for (l, &xl) in x.iter().enumerate() {
            let r = (-alpha).mul_add(p[l], xl);
            s = r.mul_add(r, s);
        }
        s
    }

    /// The accurate weights of one column.
    fn column(&self, x: &[f64], level: NoiseLevel) -> Column {
        let col = self.column_direct(x, level);
        if col.dist_star.is_finite() && col.weights.iter().all(|w| w.1.is_finite()) {
            col
        } else {
            // A squared distance overflowed (a point or x_t of norm ≳ 1.3e154).
            self.scaled_column(x, level)
        }
    }

    /// [`Self::column`] for a column whose squared distances overflow f64.
    ///
    /// With $\alpha x^{(i)}$ and $x$ rescaled by the same power of two $2^{-s}$ (exact),
    /// the squared distances are $4^s d'_i$ with $d'_i$ finite (double length); the
    /// weights need only the gaps $4^s(d'_i - d'_{i^*})/(2\beta^2)$, which are finite or
    /// $+\infty$ (weight exactly 0). The posterior mean, a convex combination of the
    /// points, is then finite whatever their size.
    fn scaled_column(&self, x: &[f64], level: NoiseLevel) -> Column {
        let (star, gaps, dist_star) = self.scaled_gaps(x, level);
        let shift = gaps.iter().fold(0.0f64, |m, &g| if g < m { g } else { m });
        let mut total = 0.0;
        let mut weights: Vec<(usize, f64)> = gaps
            .iter()
            .enumerate()
            .filter(|(_, g)| **g - shift <= GAP_CUTOFF)
            .map(|(i, &g)| {
                let e = (-(g - shift)).exp();
                total += e;
                (i, e)
            })
            .collect();
        for w in &mut weights {
            w.1 /= total;
        }
        Column {
            star,
            weights,
            log_mass: total.ln() - shift,
            dist_star,
        }
    }

    /// The rescaled gaps of [`Self::scaled_column`]: the nearest point `star`, the gaps
    /// $(\|x - \alpha x^{(i)}\|^2 - \|x - \alpha x^{(i^*)}\|^2)/2\beta^2$ (finite or `+∞`)
    /// and the nearest squared distance.
    fn scaled_gaps(&self, x: &[f64], level: NoiseLevel) -> (usize, Vec<f64>, f64) {
        use crate::linalg::rank::times_pow2;
        let (alpha, beta) = (level.alpha(), level.beta());
        let n = self.len();
        let amax = |v: &mut dyn Iterator<Item = f64>| {
            v.fold(0.0f64, |m, e| if e.abs() > m { e.abs() } else { m })
        };
        let xmax = amax(&mut x.iter().copied());
        let pmax = amax(&mut self.points.col_iter().flat_map(|c| c.iter().copied()));
        // log2 of the largest magnitude among x and αx^(i) (formed in logs: α·pmax
        // itself may overflow).
        let lg = |v: f64| if v > 0.0 { v.log2() } else { f64::NEG_INFINITY };
        let top = lg(xmax).max(lg(alpha) + lg(pmax));
        let s = if top.is_finite() {
            top.floor() as i32 + 1
        } else {
            0
        };
        let xs: Vec<f64> = x.iter().map(|&v| times_pow2(v, -s)).collect();
        let p_scale = times_pow2(alpha, -s);
        let dist: Vec<Acc> = (0..n)
            .map(|i| {
                let p = self.points.col(i);
                let mut acc = Acc::default();
                for (l, &xl) in xs.iter().enumerate() {
                    // α·2^-s·p is exact up to one rounding (α·2^-s is exact unless it
                    // underflows, when αp is negligible against x anyway).
                    let r = (-p_scale).mul_add(p[l], xl);
                    acc.add_prod(r, r);
                }
                acc.normalized()
            })
            .collect();
        let star = (0..n)
            .min_by(|&a, &b| dist[a].hi.total_cmp(&dist[b].hi))
            .unwrap_or(0);
        let two_b2 = 2.0 * beta * beta;
        let gaps: Vec<f64> = dist
            .iter()
            .map(|di| {
                let (g, e) = two_sum(di.hi, -dist[star].hi);
                let g = g + (e + (di.lo - dist[star].lo));
                if g == 0.0 {
                    0.0
                } else {
                    times_pow2(g, 2 * s) / two_b2
                }
            })
            .collect();
        (star, gaps, times_pow2(dist[star].value(), 2 * s))
    }

    /// The log posterior weights $\log s_i(x_t)$ of one point, for every training point
    /// (length $N$).
    ///
    /// # Definition
    /// $\log s_i = -\Delta_i/2\beta^2 - \log\sum_j e^{-\Delta_j/2\beta^2}$ with the gaps
    /// $\Delta_i = \|x_t - \alpha x^{(i)}\|^2 - \min_j\|x_t - \alpha x^{(j)}\|^2$, every one
    /// computed in double length (as the weights near the nearest point are), normalized
    /// by a log-sum-exp: a weight that underflows to 0 ([`Empirical::posterior_weights`]
    /// omits it) has a finite log, accurate to a few ulps of its gap.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`]; [`Error::Overflow`] if a gap
    /// divided by $2\beta^2$ exceeds f64 (a log weight below $-1.8\times10^{308}$).
    ///
    /// # Examples
    /// ```
    /// use diffusion_lowdim::{Empirical, NoiseLevel};
    /// let e = Empirical::new(faer::mat![[0.0, 1.0]].as_ref())?;  // points 0 and 1 on a line
    /// let x = faer::mat![[0.0]];
    /// let lw = e.posterior_log_weights(x.col(0), NoiseLevel::new(1.0, 0.01)?)?;
    /// // Δ = 1, 2β² = 2e-4: log s_1 = -5000 (s_1 = e^-5000 is 0 in f64).
    /// assert!((lw[1] + 5000.0).abs() < 1e-9);
    /// assert_eq!(lw[0], 0.0);
    /// # Ok::<(), diffusion_lowdim::Error>(())
    /// ```
    pub fn posterior_log_weights(
        &self,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Vec<f64>> {
        check_point(self.dim(), x_t)?;
        let mut x = vec![0.0; self.dim()];
        linalg::col_to_slice(x_t.as_mat(), 0, &mut x);
        let (alpha, beta) = (level.alpha(), level.beta());
        let n = self.len();
        let dist: Vec<f64> = (0..n).map(|i| self.sq_dist(&x, alpha, i)).collect();
        let logits: Vec<f64> = if dist.iter().all(|d| d.is_finite()) {
            let star = (0..n)
                .min_by(|&a, &b| dist[a].total_cmp(&dist[b]))
                .unwrap_or(0);
            let d_star = self.sq_dist_dd(&x, alpha, star);
            let two_b2 = 2.0 * beta * beta;
            (0..n)
                .map(|i| {
                    if i == star {
                        0.0
                    } else {
                        -self.exact_gap(&x, alpha, &d_star, i) / two_b2
                    }
                })
                .collect()
        } else {
            let (_, gaps, _) = self.scaled_gaps(&x, level);
            gaps.iter().map(|g| -g).collect()
        };
        let lw = crate::model::log_softmax(&logits);
        ensure_finite_output_slice(
            "an empirical log posterior weight",
            "the point is so far from a training point (relative to the noise level) that \
             its log weight is below -1.8e308",
            &lw,
        )?;
        Ok(lw)
    }

    /// The posterior mean of one column as the convex combination $\sum_i w_ix^{(i)}$
    /// (used where the batch path overflowed; every partial sum is bounded by the
    /// largest entry of the points).
    fn convex_mean(&self, x: &[f64], level: NoiseLevel, out: &mut [f64]) {
        let col = self.column(x, level);
        out.iter_mut().for_each(|v| *v = 0.0);
        for &(i, w) in &col.weights {
            let p = self.points.col(i);
            for (l, o) in out.iter_mut().enumerate() {
                *o = w.mul_add(p[l], *o);
            }
        }
    }

    /// The accurate per-column state, by direct squared distances.
    fn column_direct(&self, x: &[f64], level: NoiseLevel) -> Column {
        let (alpha, beta) = (level.alpha(), level.beta());
        let n = self.len();
        let d = x.len();
        let dist: Vec<f64> = (0..n).map(|i| self.sq_dist(x, alpha, i)).collect();
        let star = (0..n)
            .min_by(|&a, &b| dist[a].total_cmp(&dist[b]))
            .unwrap_or(0);
        let two_b2 = 2.0 * beta * beta;
        // Rounding allowance of each directly computed distance (γ_{d+2}·value).
        let g = crate::prec::gamma(d + 2);
        let d_star_dd = self.sq_dist_dd(x, alpha, star);
        let mut gaps: Vec<(usize, f64)> = Vec::new();
        for i in 0..n {
            if i == star {
                gaps.push((i, 0.0));
                continue;
            }
            let est = dist[i] - dist[star];
            if est - g * (dist[i] + dist[star]) > GAP_CUTOFF * two_b2 {
                continue;
            }
            gaps.push((i, self.exact_gap(x, alpha, &d_star_dd, i)));
        }
        // The accurate gaps may reveal that another candidate is nearer than the
        // f64 choice of `star` (a near tie): shift by the smallest gap instead of
        // clamping, so the weights stay right whatever the reference point.
        let shift = gaps.iter().map(|g| g.1).fold(0.0f64, f64::min);
        let mut total = 0.0;
        let mut weights: Vec<(usize, f64)> = gaps
            .iter()
            .filter(|g| g.1 - shift <= GAP_CUTOFF * two_b2)
            .map(|&(i, delta)| {
                let e = (-(delta - shift) / two_b2).exp();
                total += e;
                (i, e)
            })
            .collect();
        for w in &mut weights {
            w.1 /= total;
        }
        Column {
            star,
            weights,
            log_mass: total.ln() - shift / two_b2,
            dist_star: dist[star],
        }
    }

    /// `‖x − αx^(i)‖²` in double length: every residual `x_l − αx^(i)_l` is kept
    /// exactly (`TwoProduct` + `TwoSum`) and squared and summed in double length,
    /// so the result is within about `d ε² ‖x − αx^(i)‖²` of the exact value.
    fn sq_dist_dd(&self, x: &[f64], alpha: f64, i: usize) -> Acc {
        let p = linalg::col_slice(&self.points, i);
        // Four independent double-length accumulators (so the loop vectorizes),
        // combined exactly at the end; TwoProduct by FMA where the CPU has it.
        const LANES: usize = linalg::fused::DIST_LANES;
        let mut hi = [0.0f64; LANES];
        let mut lo = [0.0f64; LANES];
        linalg::fused::sq_dist_lanes(x, p, alpha, &mut hi, &mut lo);
        let mut acc = Acc::default();
        for k in 0..LANES {
            acc.add(hi[k]);
            acc.lo += lo[k];
        }
        acc.normalized()
    }

    /// The exact gap `‖x − αx^(i)‖² − ‖x − αx*‖²`, from double-length squared
    /// distances (accurate to about `d ε² (‖x − αx^(i)‖² + ‖x − αx*‖²)` whatever the
    /// geometry: far-apart nearly tied points included).
    fn exact_gap(&self, x: &[f64], alpha: f64, d_star: &Acc, i: usize) -> f64 {
        let di = self.sq_dist_dd(x, alpha, i);
        let (s, e) = two_sum(di.hi, -d_star.hi);
        s + (e + (di.lo - d_star.lo))
    }

    /// Overwrites `g` (on entry `g_i = ⟨x^(i), x⟩` from a GEMM) with the
    /// posterior weights of `x`, and returns a rigorous bound `B` such that the
    /// posterior mean formed from these weights is within
    /// `B · max_i ‖x^(i) − x̂0‖` of the one formed from exact weights.
    ///
    /// Squared distances less the common `‖x‖²` are formed as
    /// `h_i = α²‖x^(i)‖² − 2αg_i`, each off by at most
    /// `E = γ_{d+4} α max‖x^(i)‖ (2‖x‖ + α max‖x^(i)‖)`, so every logit (relative to
    /// the smallest distance) is off by at most `ε_G = 2E/2β²`.
    /// - `ε_G > 10⁻⁶` (tiny β, near ties): every point that could carry weight above
    ///   `e^{-800}` (squared distance within `1600β² + 2E` of the smallest) gets its
    ///   gap exactly (double length, as in the per-column path); `B = 0`.
    /// - otherwise the heaviest points (at most [`MAX_EXACT`]) get exact logits
    ///   until the mass `m` left on GEMM logits satisfies `ρ(1+ρ)m ≤`
    ///   [`EMPIRICAL_BATCH_TOL`](crate::prec::EMPIRICAL_BATCH_TOL), `ρ = e^{2ε_G} − 1`; then
    ///   `Σ_i |ŝ_i − s_i| ≤ 2ρ(1+ρ)m = B`.
    fn gemm_weights(&self, x: &[f64], level: NoiseLevel, g: &mut [f64]) -> f64 {
        let (alpha, beta) = (level.alpha(), level.beta());
        let two_b2 = 2.0 * beta * beta;
        let d = x.len();
        // h_i = ‖x − αx^(i)‖² − ‖x‖² = α²‖x^(i)‖² − 2α⟨x^(i), x⟩: the common ‖x‖²
        // cancels in every gap, so it is never formed (it would add ε‖x‖² of
        // rounding to each gap, which dominates when ‖x‖ ≫ α‖x^(i)‖).
        let mut xnorm: f64 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !xnorm.is_finite() {
            // ‖x‖² overflowed: the norm itself, scaled (only the bound below uses it).
            xnorm = x.iter().fold(0.0f64, |h, &v| h.hypot(v));
        }
        let (a2, m2a) = (alpha * alpha, -2.0 * alpha);
        for (gi, &pp) in g.iter_mut().zip(&self.sq_norms) {
            *gi = m2a * *gi + a2 * pp;
        }
        let star = (0..g.len())
            .min_by(|&a, &b| g[a].total_cmp(&g[b]))
            .unwrap_or(0);
        let d_star = g[star];
        // |δh_i| ≤ γ_{d+4} α‖x^(i)‖ (2‖x‖ + α‖x^(i)‖) (dot product, norm, two products, sum).
        let e = crate::prec::gamma(d + 4)
            * alpha
            * self.max_norm
            * (2.0 * xnorm + alpha * self.max_norm);
        // A NaN bound (0 · ∞ from an overflowing norm) is no bound: take the exact path.
        let e = if e.is_nan() { f64::INFINITY } else { e };
        let eps_g = 2.0 * e / two_b2;
        let d_star_dd = self.sq_dist_dd(x, alpha, star);
        if eps_g > EXACT_SWITCH {
            // Exact gaps for every point that may matter; zero for the rest.
            let window = GAP_CUTOFF * two_b2 + 2.0 * e;
            let mut gaps: Vec<(usize, f64)> = Vec::new();
            for (i, gi) in g.iter().enumerate() {
                if gi - d_star <= window {
                    let gap = if i == star {
                        0.0
                    } else {
                        self.exact_gap(x, alpha, &d_star_dd, i)
                    };
                    gaps.push((i, gap));
                }
            }
            g.iter_mut().for_each(|v| *v = 0.0);
            let shift = gaps.iter().map(|p| p.1).fold(0.0f64, f64::min);
            let mut total = 0.0;
            for &(i, gap) in &gaps {
                if gap - shift <= GAP_CUTOFF * two_b2 {
                    let v = (-(gap - shift) / two_b2).exp();
                    g[i] = v;
                    total += v;
                }
            }
            g.iter_mut().for_each(|v| *v /= total);
            return 0.0;
        }
        // Unnormalized weights from the GEMM logits (relative to the smallest distance).
        let mut total = 0.0;
        for gi in g.iter_mut() {
            *gi = (-(*gi - d_star) / two_b2).exp();
            total += *gi;
        }
        let rho = (2.0 * eps_g).exp_m1();
        let factor = rho * (1.0 + rho);
        let mut remaining = 1.0f64;
        if factor > FAST_PATH_TOL {
            // The heaviest points, by a linear-time selection, then in order.
            let k = MAX_EXACT.min(g.len());
            let mut idx: Vec<usize> = (0..g.len()).collect();
            if k < idx.len() {
                idx.select_nth_unstable_by(k - 1, |&a, &b| g[b].total_cmp(&g[a]).then(a.cmp(&b)));
                idx.truncate(k);
            }
            idx.sort_by(|&a, &b| g[b].total_cmp(&g[a]).then(a.cmp(&b)));
            for &i in &idx {
                if factor * remaining <= FAST_PATH_TOL {
                    break;
                }
                remaining -= g[i] / total;
                let exact = if i == star {
                    1.0
                } else {
                    (-self.exact_gap(x, alpha, &d_star_dd, i) / two_b2).exp()
                };
                total += exact - g[i];
                g[i] = exact;
            }
        }
        g.iter_mut().for_each(|v| *v /= total);
        2.0 * factor * remaining.max(0.0)
    }

    /// The batch posterior mean with, for every column, the rigorous bound `B`
    /// on its error relative to `max_i ‖x^(i) − x̂0‖` (see [`Empirical`]'s accuracy
    /// notes). [`Denoiser::posterior_mean`] returns the same means.
    ///
    /// # Errors
    /// As [`Denoiser::posterior_mean_into`].
    pub fn posterior_mean_with_bounds(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<(Mat<f64>, Vec<f64>)> {
        let mut out = Mat::<f64>::zeros(self.dim(), x_t.ncols());
        check_batch(self.dim(), x_t, out.as_ref())?;
        let bounds = std::sync::Mutex::new(vec![0.0; x_t.ncols()]);
        let d = self.dim();
        par_blocks(x_t, out.as_mut(), |first, xb, o| {
            let b = self.block_mean(xb, level, o, d);
            let mut all = bounds.lock().expect("no panics inside");
            all[first..first + b.len()].copy_from_slice(&b);
            Ok(())
        })?;
        Ok((out, bounds.into_inner().expect("no panics inside")))
    }

    /// One block of the batch mean: GEMM inner products, weights, one GEMM.
    fn block_mean(
        &self,
        xb: MatRef<'_, f64>,
        level: NoiseLevel,
        mut o: MatMut<'_, f64>,
        d: usize,
    ) -> Vec<f64> {
        let mut g = linalg::mul(self.points.transpose(), xb);
        let mut x = vec![0.0; d];
        let mut bounds = Vec::with_capacity(xb.ncols());
        for j in 0..xb.ncols() {
            linalg::col_to_slice(xb, j, &mut x);
            bounds.push(self.gemm_weights(&x, level, linalg::col_slice_mut(&mut g, j)));
        }
        linalg::gemm(o.rb_mut(), self.points.as_ref(), g.as_ref(), 1.0);
        // Columns whose GEMM logits overflowed (a point or x_t of norm ≳ 1.3e154, or
        // α‖x^(i)‖ beyond f64): the rescaled exact path, as a convex combination.
        let mut mean = vec![0.0; d];
        for j in 0..xb.ncols() {
            if (0..d).all(|i| o[(i, j)].is_finite()) {
                continue;
            }
            linalg::col_to_slice(xb, j, &mut x);
            self.convex_mean(&x, level, &mut mean);
            for (i, v) in mean.iter().enumerate() {
                o[(i, j)] = *v;
            }
            bounds[j] = 0.0;
        }
        bounds
    }

    /// `Σ_i s_i (p_i − p*)` for one column.
    fn weighted_offset(&self, col: &Column, out: &mut [f64]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let p_star = self.points.col(col.star);
        for &(i, s) in &col.weights {
            if i == col.star {
                continue;
            }
            let p = self.points.col(i);
            for (l, o) in out.iter_mut().enumerate() {
                *o = s.mul_add(p[l] - p_star[l], *o);
            }
        }
    }

    /// The weights $s_i(x_t)$ of one point, as `(index, weight)` pairs for
    /// every training point with a non-zero weight, sorted by index.
    ///
    /// # Errors
    /// [`Error::DimensionMismatch`], [`Error::NonFinite`].
    pub fn posterior_weights(
        &self,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Vec<(usize, f64)>> {
        check_point(self.dim(), x_t)?;
        let mut x = vec![0.0; self.dim()];
        linalg::col_to_slice(x_t.as_mat(), 0, &mut x);
        Ok(self.column(&x, level).weights)
    }
}

impl Denoiser for Empirical {
    fn dim(&self) -> usize {
        self.points.nrows()
    }

    fn posterior_mean_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim(), x_t, out.as_ref())?;
        let d = self.dim();
        // ⟨x^(i), x_j⟩ for every point and column (one GEMM), overwritten by the
        // weights column by column, then E[x0|x_t] = P·S (one GEMM).
        par_blocks(x_t, out, |_, xb, o| {
            self.block_mean(xb, level, o, d);
            Ok(())
        })
    }

    fn score_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim(), x_t, out.as_ref())?;
        let d = self.dim();
        let (alpha, beta) = (level.alpha(), level.beta());
        let inv_b2 = 1.0 / (beta * beta);
        par_blocks(x_t, out, |_, xb, mut o| {
            o.fill(0.0);
            let mut x = vec![0.0; d];
            let mut off = vec![0.0; d];
            for j in 0..xb.ncols() {
                linalg::col_to_slice(xb, j, &mut x);
                let col = self.column(&x, level);
                self.weighted_offset(&col, &mut off);
                let p_star = self.points.col(col.star);
                for l in 0..d {
                    let r_star = (-alpha).mul_add(p_star[l], x[l]);
                    o[(l, j)] = -alpha.mul_add(-off[l], r_star) * inv_b2;
                }
            }
            ensure_finite_output("the empirical score", OVERFLOW_CAUSE, o.as_ref())
        })
    }
}

impl ExactModel for Empirical {
    fn jacobian(&self, x_t: ColRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        check_point(self.dim(), x_t)?;
        let d = self.dim();
        let mut x = vec![0.0; d];
        linalg::col_to_slice(x_t.as_mat(), 0, &mut x);
        let col = self.column(&x, level);
        let mut off = vec![0.0; d];
        self.weighted_offset(&col, &mut off);
        let coef = level.alpha() / (level.beta() * level.beta());
        let p_star = self.points.col(col.star);
        let mut j = Mat::<f64>::zeros(d, d);
        if coef == 0.0 {
            return Ok(j);
        }
        // J = (α/β²) Σ_i s_i (p_i − x̂0)(p_i − x̂0)ᵀ, p_i − x̂0 = (p_i − p*) − off.
        let mut v = vec![0.0; d];
        for &(i, s) in &col.weights {
            let p = self.points.col(i);
            for l in 0..d {
                v[l] = (p[l] - p_star[l]) - off[l];
            }
            let cs = coef * s;
            for b in 0..d {
                let vb = cs * v[b];
                if vb == 0.0 {
                    continue;
                }
                for a in 0..d {
                    j[(a, b)] += v[a] * vb;
                }
            }
        }
        ensure_finite_output("the empirical Jacobian", OVERFLOW_CAUSE, j.as_ref())?;
        Ok(j)
    }

    fn log_density(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Vec<f64>> {
        ensure_dim("rows of x_t vs model dimension", self.dim(), x_t.nrows())?;
        ensure_finite("x_t", x_t)?;
        let d = self.dim();
        let beta = level.beta();
        let mut x = vec![0.0; d];
        let out: Vec<f64> = (0..x_t.ncols())
            .map(|j| {
                linalg::col_to_slice(x_t, j, &mut x);
                let col = self.column(&x, level);
                -col.dist_star / (2.0 * beta * beta) + col.log_mass
                    - (self.len() as f64).ln()
                    - (d as f64) * beta.ln()
                    + log_norm_const(d)
            })
            .collect();
        ensure_finite_output_slice("the empirical log-density", OVERFLOW_CAUSE, &out)?;
        Ok(out)
    }

    fn sample_x0(&self, rng: &mut SeededRng, n: usize) -> Mat<f64> {
        let d = self.dim();
        let mut out = Mat::<f64>::zeros(d, n);
        for j in 0..n {
            let i = rng.random_range(0..self.len());
            for l in 0..d {
                out[(l, j)] = self.points[(l, i)];
            }
        }
        out
    }
}
