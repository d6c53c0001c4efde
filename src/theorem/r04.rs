//! R04: the empirical posterior mean (the memorizing denoiser).
//!
//! Facets:
//! - `formula_dd`: [`Empirical`]'s mean (batch path: GEMM distances, exact gaps for
//!   the heaviest points, mean as one GEMM — the crate's own a-posteriori bound at the point,
//!   normally $2\cdot$[`EMPIRICAL_BATCH_TOL`](crate::prec::EMPIRICAL_BATCH_TOL)$\max_i\|x^{(i)}-\hat x_0\|$, never one
//!   reported by the implementation under test, plus $8\gamma_{N+4}$, is added) and score against the double-double
//!   softmax over all training points ([`reference::empirical_at`]). The crate's
//!   logit gaps are differences of double-length squared distances, accurate to
//!   $\eta_i \approx 8d\varepsilon^2(D_i + D_\star)/2\beta^2 + 4\varepsilon(|\Delta_i|/2\beta^2 + 1)$, and the oracle's to
//!   $\approx 8d\varepsilon^2\|x_t-\alpha x^\star\|^2/2\beta^2$; weights then move by
//!   $\le 2\eta$ relative, and the mean by $\le 2\eta\sum_is_i\|x^{(i)} - \hat x_0\|$.
//! - `jacobian_dd`: the analytic Jacobian $\frac{\alpha}{\beta^2}\sum_is_i(x^{(i)}-\hat x_0)(x^{(i)}-\hat x_0)^\top$
//!   against its double-double evaluation with the oracle's weights
//!   ([`reference::empirical_jacobian`]), relative to $\frac{\alpha}{\beta^2}\sum_is_i\|x^{(i)}-\hat x_0\|^2$;
//!   tolerance: weights move by $\le 2\eta$ (both factors), plus the rounding of the offsets.
//! - `nearest_point`: when the gap to the second-nearest point exceeds
//!   $1600\beta^2$ (true weights below $e^{-800}$), the posterior mean is the
//!   nearest training point, bit for bit.
//! - `tie_split`: duplicated training points, and a point and its exact
//!   negative queried at the origin, get bitwise-equal weights.
//! - `tiny_beta_finite`: at $\beta = 10^{-8}$ (logits of order $10^{16}$) the
//!   mean, score and weights are finite, the weights sum to one within
//!   $N\varepsilon$, and the largest is at least $1/N$.
//! - `high_noise_expansion`: an independent derivation at low signal-to-noise. Writing
//!   $v_i = x^{(i)} - \bar x$ (data mean $\bar x$, covariance $S = \frac1N\sum_iv_iv_i^\top$, third moment
//!   $M_3 = \frac1N\sum_i\|v_i\|^2v_i$), the centred logits are
//!   $b_i = \big(\alpha\langle x_t - \alpha\bar x, v_i\rangle - \frac{\alpha^2}2(\|v_i\|^2 - \operatorname{tr}S)\big)/\beta^2$, and
//!   expanding $e^{b_i} = 1 + b_i + R_i$, $|R_i| \le \rho = \frac{\delta^2}2e^\delta$ ($\delta = \max_i|b_i|$), gives
//!   $\big\|\hat x_0 - \bar x - \frac{\alpha}{\beta^2}S(x_t - \alpha\bar x) + \frac{\alpha^2}{2\beta^2}M_3\big\| \le \frac{(2+\delta)\rho}{1-\rho}\max_i\|v_i\|$
//!   (proof in `proofs/R04-empirical-posterior.md`). The expansion is built from the data's
//!   moments in double-double — no softmax — so it catches a wrong temperature or a
//!   wrong scaling of the logits that a higher-precision softmax sharing the same
//!   formula would not. Measured where $\delta \le 0.1$; tolerance: that bound plus the
//!   `formula_dd` tolerance of the crate's mean and $8\gamma_{d+4}(\|\bar x\| + \max_i\|v_i\|)$.
//!
//! `formula_dd` evaluates the defining softmax in higher precision: it catches rounding
//! and coding errors of the crate's evaluation, not a misreading of the formula it
//! shares; `high_noise_expansion` (low SNR), `nearest_point` (the $\beta\to0$ limit,
//! computed from double-double distances) and R01's `tweedie_fd` (finite differences of
//! $\log p_t$, moderate levels) are the independent comparisons.
//!
//! The check is generic over the implementation under test ([`Subject`]).

use faer::{ColRef, Mat, MatRef};
use rand::RngExt;

use super::instance::log_uniform;
use super::{CaseResult, Measurement, Theorem, rel};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::model::{Denoiser, Empirical, ExactModel};
use crate::prec::{EPS, gamma};
use crate::reference::{self, empirical_at};
use crate::rng::{SeededRng, seeded, standard_normal};

/// The computations R04's check exercises, as the implementation under test.
///
/// The default methods call [`Empirical`] ([`super::Reference`]). `model` is the
/// uniform distribution on the training points $x^{(1)}, \dots, x^{(N)}$ (`model.points()`);
/// the posterior weights are $s_i(x_t) \propto \exp(-\|x_t - \alpha x^{(i)}\|^2/2\beta^2)$.
pub trait Subject: Sync {
    /// $\nabla\log p_t(x_t) = (\alpha\,\mathbb E[x_0\mid x_t] - x_t)/\beta^2$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn score(
        &self,
        model: &Empirical,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.score(x_t, level)
    }

    /// The Jacobian $\frac{\alpha}{\beta^2}\sum_is_i(x^{(i)} - \hat x_0)(x^{(i)} - \hat x_0)^\top$ at one point.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn jacobian(
        &self,
        model: &Empirical,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.jacobian(x_t, level)
    }

    /// The non-zero posterior weights $(i, s_i(x_t))$ at one point.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn posterior_weights(
        &self,
        model: &Empirical,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Vec<(usize, f64)>> {
        model.posterior_weights(x_t, level)
    }

    /// $\mathbb E[x_0\mid x_t] = \sum_is_i(x_t)\,x^{(i)}$ at every column of `x_t`.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn posterior_mean(
        &self,
        model: &Empirical,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.posterior_mean(x_t, level)
    }
}

impl Subject for super::Reference {}

/// Where the query point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// `α x^(i) + β ε` for a random training point.
    Typical,
    /// Half-way between two training points (scaled by α), plus `1e-9·β` noise.
    NearTie,
    /// A Gaussian vector of norm `10^U(-2, 3)·√d`.
    Far,
    /// Training points 0 and 1 are `1e-6` apart and the query is about `30·√d` away:
    /// a near tie that the f64 distances cannot resolve.
    FarNearDuplicates,
}

/// One R04 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Training points.
    pub n: usize,
    /// Signal scale.
    pub alpha: f64,
    /// Noise scale.
    pub beta: f64,
    /// Query point.
    pub point: PointKind,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance: `d ≤ 32`, `N ≤ 64`, `β ∈ [1e-8, 1e4]`, `α ∈ [1e-8, 1]`.
    pub fn sample(rng: &mut SeededRng) -> Self {
        Self {
            d: rng.random_range(1..=32),
            n: rng.random_range(1..=64),
            alpha: if rng.random::<f64>() < 0.25 {
                1.0
            } else {
                log_uniform(rng, -8.0, 0.0)
            },
            beta: log_uniform(rng, -8.0, 4.0),
            point: match rng.random_range(0..4) {
                0 => PointKind::Typical,
                1 => PointKind::NearTie,
                2 => PointKind::Far,
                _ => PointKind::FarNearDuplicates,
            },
            seed: rng.random(),
        }
    }

    fn data(&self) -> (Mat<f64>, Vec<f64>) {
        let mut rng = seeded(self.seed);
        let (d, n) = (self.d, self.n.max(1));
        let mut pts = standard_normal(&mut rng, d, n);
        let x: Vec<f64> = match self.point {
            PointKind::Typical => {
                let i = rng.random_range(0..n);
                let e = standard_normal(&mut rng, d, 1);
                (0..d)
                    .map(|l| self.alpha * pts[(l, i)] + self.beta * e[(l, 0)])
                    .collect()
            }
            PointKind::NearTie => {
                let a = rng.random_range(0..n);
                let b = rng.random_range(0..n);
                let e = standard_normal(&mut rng, d, 1);
                (0..d)
                    .map(|l| {
                        0.5 * self.alpha * (pts[(l, a)] + pts[(l, b)])
                            + 1e-9 * self.beta * e[(l, 0)]
                    })
                    .collect()
            }
            PointKind::Far => {
                let s = log_uniform(&mut rng, -2.0, 3.0);
                let e = standard_normal(&mut rng, d, 1);
                (0..d).map(|l| s * e[(l, 0)]).collect()
            }
            PointKind::FarNearDuplicates => {
                let e = standard_normal(&mut rng, d, 2);
                if n >= 2 {
                    for l in 0..d {
                        pts[(l, 1)] = pts[(l, 0)] + 1e-6 * e[(l, 1)];
                    }
                }
                (0..d).map(|l| 30.0 * e[(l, 0)]).collect()
            }
        };
        (pts, x)
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Model construction or evaluation errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&super::Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Model construction or evaluation errors (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let (pts, x) = self.data();
        let (d, n) = (self.d, pts.ncols());
        let model = Empirical::new(pts.as_ref())?;
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let mean = s.posterior_mean(&model, xm.as_ref(), level)?;
        // The allowance for the batch path's GEMM logits is the crate's own a-posteriori
        // bound at this point (what the certified implementation achieves), never one
        // reported by the implementation under test.
        let (_, bounds) = model.posterior_mean_with_bounds(xm.as_ref(), level)?;
        let score = s.score(&model, xm.as_ref(), level)?;
        let mean: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
        let score: Vec<f64> = (0..d).map(|i| score[(i, 0)]).collect();
        let mut out = Vec::new();

        // formula_dd
        let (rm, rs, rw) = empirical_at(pts.as_ref(), &x, self.alpha, self.beta);
        let w: Vec<f64> = rw.iter().map(|&v| reference::f(v)).collect();
        let (alpha, b2) = (self.alpha, self.beta * self.beta);
        let dist2 = |i: usize| -> f64 {
            (0..d)
                .map(|l| {
                    let r = x[l] - alpha * pts[(l, i)];
                    r * r
                })
                .sum()
        };
        let star = (0..n)
            .min_by(|&a, &b| dist2(a).total_cmp(&dist2(b)))
            .unwrap_or(0);
        // Each gap is the difference of two double-length squared distances
        // (error ≲ 2dε²(D_i + D*)), rounded once to f64 (error ε|Δ_i|); as a logit
        // error: that over 2β². The prefilter keeps every point within rounding
        // of the window, so nothing else enters.
        let eta_gap = |i: usize| -> f64 {
            let (di, ds) = (dist2(i), dist2(star));
            8.0 * (d as f64) * EPS * EPS * (di + ds) / (2.0 * b2)
                + 4.0 * EPS * ((di - ds).abs() / (2.0 * b2) + 1.0)
        };
        // Only points with non-negligible weight matter for the error.
        let eta = (0..n)
            .filter(|&i| w[i] > 1e-300)
            .map(eta_gap)
            .fold(0.0, f64::max)
            + 8.0 * (d as f64) * EPS * EPS * dist2(star) / (2.0 * b2);
        let nmean = reference::norm(&rm);
        let spread: f64 = (0..n)
            .map(|i| {
                let v: Vec<f64> = (0..d).map(|l| pts[(l, i)]).collect();
                w[i] * reference::dist(&v, &rm)
            })
            .sum();
        let m_scale = nmean + spread + f64::MIN_POSITIVE;
        let rstar: f64 = dist2(star).sqrt();
        let s_scale = (rstar + alpha * spread) / b2 + f64::MIN_POSITIVE;
        let base = 8.0 * gamma(d + 4);
        // The batch mean is Σ s_i x^(i) as one GEMM over the N points (γ_N), with
        // the documented error of the GEMM-distance path on top.
        let pmax_dist = (0..n)
            .map(|i| {
                let v: Vec<f64> = (0..d).map(|l| pts[(l, i)]).collect();
                reference::dist(&v, &rm)
            })
            .fold(0.0, f64::max);
        let batch =
            8.0 * gamma(n + 4) + bounds.first().copied().unwrap_or(0.0) * pmax_dist / m_scale;
        // Share of the score's scale carried by the weighted offsets (in [0, 1]).
        let frac_s = if spread == 0.0 {
            0.0
        } else {
            (alpha * spread / b2) / s_scale
        };
        let tol_mean = base + batch + (2.0 * eta + 4.0 * (n as f64) * EPS) * spread / m_scale;
        out.push(Measurement::new(
            "formula_dd",
            rel(reference::dist(&mean, &rm), m_scale),
            tol_mean,
        ));
        out.push(Measurement::new(
            "formula_dd",
            rel(reference::dist(&score, &rs), s_scale),
            base + (2.0 * eta + 4.0 * (n as f64) * EPS) * frac_s,
        ));

        // jacobian_dd: (α/β²) Σ s_i v_i v_iᵀ, v_i = x^(i) − x̂0, against the same in
        // double-double with the reference weights; scale (α/β²) Σ s_i ‖v_i‖².
        let jac = s.jacobian(&model, xm.col(0), level)?;
        let jref = reference::empirical_jacobian(pts.as_ref(), &x, alpha, self.beta);
        let coef = alpha / b2;
        let vnorms: Vec<f64> = (0..n)
            .map(|i| {
                let v: Vec<f64> = (0..d).map(|l| pts[(l, i)]).collect();
                reference::dist(&v, &rm)
            })
            .collect();
        let j_scale =
            coef * (0..n).map(|i| w[i] * vnorms[i] * vnorms[i]).sum::<f64>() + f64::MIN_POSITIVE;
        let pnorm = (0..n)
            .map(|i| (0..d).map(|l| pts[(l, i)].abs()).fold(0.0, f64::max))
            .fold(0.0, f64::max);
        // v_i is formed from offsets of size ≤ 2·max|p|: its rounding is ≤ 4ε√d·max|p|.
        let v_err: f64 = coef
            * (0..n).map(|i| w[i] * 2.0 * vnorms[i]).sum::<f64>()
            * 4.0
            * EPS
            * (d as f64).sqrt()
            * pnorm;
        out.push(Measurement::new(
            "jacobian_dd",
            rel(reference::frobenius_dist(jac.as_ref(), &jref), j_scale),
            base + 4.0 * eta + 4.0 * (n as f64) * EPS + v_err / j_scale,
        ));

        // nearest_point: the second-smallest gap, in double-double.
        let xq: Vec<reference::Q> = x.iter().map(|&v| reference::q(v)).collect();
        let dq = |i: usize| -> reference::Q {
            let mut s = reference::Q::ZERO;
            for l in 0..d {
                let r = xq[l] - reference::q(alpha) * reference::q(pts[(l, i)]);
                s += r * r;
            }
            s
        };
        let dstar = dq(star);
        let gap = (0..n)
            .filter(|&i| i != star)
            .map(|i| reference::f(dq(i) - dstar))
            .fold(f64::INFINITY, f64::min);
        if gap > 1600.0 * b2 {
            let nearest: Vec<f64> = (0..d).map(|l| pts[(l, star)]).collect();
            out.push(Measurement::holds(
                "nearest_point",
                mean.iter()
                    .zip(&nearest)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
            ));
        }

        // tie_split: duplicate point `0` three times; query at α·p0 + tiny; and ±p at 0.
        {
            let mut dup = Mat::<f64>::zeros(d, n + 2);
            for j in 0..n {
                for l in 0..d {
                    dup[(l, j)] = pts[(l, j)];
                }
            }
            for l in 0..d {
                dup[(l, n)] = pts[(l, 0)];
                dup[(l, n + 1)] = pts[(l, 0)];
            }
            let m = Empirical::new(dup.as_ref())?;
            let wts = s.posterior_weights(&m, xm.col(0), level)?;
            let get = |i: usize| wts.iter().find(|p| p.0 == i).map(|p| p.1).unwrap_or(0.0);
            let (a, b, c) = (get(0), get(n), get(n + 1));
            out.push(Measurement::holds(
                "tie_split",
                a.to_bits() == b.to_bits() && b.to_bits() == c.to_bits(),
            ));
            let mut pm = Mat::<f64>::zeros(d, 2);
            for l in 0..d {
                pm[(l, 0)] = pts[(l, 0)];
                pm[(l, 1)] = -pts[(l, 0)];
            }
            let sym = Empirical::new(pm.as_ref())?;
            let origin = Mat::<f64>::zeros(d, 1);
            let ws = s.posterior_weights(&sym, origin.col(0), level)?;
            out.push(Measurement::holds(
                "tie_split",
                ws.len() == 2
                    && ws[0].1.to_bits() == 0.5f64.to_bits()
                    && ws[1].1.to_bits() == 0.5f64.to_bits(),
            ));
        }

        // tiny_beta_finite
        {
            let tiny = NoiseLevel::new(self.alpha.max(1e-8), 1e-8)?;
            let mt = s.posterior_mean(&model, xm.as_ref(), tiny)?;
            let st = s.score(&model, xm.as_ref(), tiny)?;
            let wt = s.posterior_weights(&model, xm.col(0), tiny)?;
            let sum: f64 = wt.iter().map(|p| p.1).sum();
            let wmax = wt.iter().map(|p| p.1).fold(0.0, f64::max);
            let finite = (0..d).all(|i| mt[(i, 0)].is_finite() && st[(i, 0)].is_finite())
                && wt.iter().all(|p| p.1.is_finite());
            out.push(Measurement::holds(
                "tiny_beta_finite",
                finite && (sum - 1.0).abs() <= (n as f64 + 2.0) * EPS && wmax >= 1.0 / n as f64,
            ));
        }

        // high_noise_expansion (see the module docs), from the data's moments.
        if let Some(m) = high_noise_expansion(pts.as_ref(), &x, alpha, self.beta) {
            let tol = m.bound + tol_mean * m_scale + 8.0 * gamma(d + 4) * m.scale;
            out.push(Measurement::new(
                "high_noise_expansion",
                reference::dist(&mean, &m.mean),
                tol,
            ));
        }
        Ok(out)
    }
}

/// The low-SNR expansion of the empirical posterior mean (module docs).
struct Expansion {
    /// $\bar x + \frac{\alpha}{\beta^2}S(x_t - \alpha\bar x) - \frac{\alpha^2}{2\beta^2}M_3$.
    mean: Vec<reference::Q>,
    /// $\frac{(2+\delta)\rho}{1-\rho}\max_i\|v_i\|$.
    bound: f64,
    /// $\|\bar x\| + \max_i\|v_i\|$.
    scale: f64,
}

/// The expansion if $\delta = \max_i|b_i| \le 0.1$, else `None`.
fn high_noise_expansion(
    pts: MatRef<'_, f64>,
    x: &[f64],
    alpha: f64,
    beta: f64,
) -> Option<Expansion> {
    use reference::{Q, q};
    let (d, n) = (pts.nrows(), pts.ncols());
    let nq = q(n as f64);
    let mut bar = vec![Q::ZERO; d];
    for i in 0..n {
        for (l, b) in bar.iter_mut().enumerate() {
            *b += q(pts[(l, i)]);
        }
    }
    bar.iter_mut().for_each(|b| *b /= nq);
    let v: Vec<Vec<Q>> = (0..n)
        .map(|i| (0..d).map(|l| q(pts[(l, i)]) - bar[l]).collect())
        .collect();
    let (qa, qb2) = (q(alpha), q(beta) * q(beta));
    let y: Vec<Q> = (0..d).map(|l| q(x[l]) - qa * bar[l]).collect();
    let dot = |a: &[Q], b: &[Q]| a.iter().zip(b).fold(Q::ZERO, |s, (u, w)| s + *u * *w);
    let sq: Vec<Q> = v.iter().map(|vi| dot(vi, vi)).collect();
    let tr = sq.iter().fold(Q::ZERO, |s, &t| s + t) / nq;
    let half_a2 = q(0.5) * qa * qa;
    let delta = v
        .iter()
        .zip(&sq)
        .map(|(vi, &s2)| reference::f((qa * dot(&y, vi) - half_a2 * (s2 - tr)) / qb2).abs())
        .fold(0.0, f64::max);
    if delta.is_nan() || delta > 0.1 {
        return None;
    }
    // x̄ + (α/β²) S y − (α²/2β²) M₃, with S y = (1/N) Σ v_i ⟨v_i, y⟩, M₃ = (1/N) Σ ‖v_i‖² v_i.
    let mut mean = bar.clone();
    for (vi, &s2) in v.iter().zip(&sq) {
        let c = (qa * dot(vi, &y) - half_a2 * s2) / (qb2 * nq);
        for (m, &vl) in mean.iter_mut().zip(vi) {
            *m += c * vl;
        }
    }
    let vmax = sq
        .iter()
        .map(|&s2| reference::f(s2).sqrt())
        .fold(0.0, f64::max);
    let rho = 0.5 * delta * delta * delta.exp();
    Some(Expansion {
        mean,
        bound: (2.0 + delta) * rho / (1.0 - rho) * vmax,
        scale: reference::norm(&bar) + vmax,
    })
}

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &super::Reference)
}

/// R04's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R04",
    title: "Empirical posterior mean (memorization)",
    proof: "proofs/R04-empirical-posterior.md",
    run_case,
};
