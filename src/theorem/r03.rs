//! R03: the MoLRG posterior mean with general $\pi_k$, $r_k$, $\Lambda_k$.
//!
//! Facets:
//! - `formula_dd`: [`Molrg`]'s mean and score against the double-double
//!   evaluation of R03 in projector form ([`reference::molrg_formula_at`]).
//!   Tolerance: `8 γ_{d+r+4}` relative to the magnitudes of the summed terms,
//!   plus the weights' sensitivity to the logit rounding the crate guarantees
//!   (a few ulps of each logit gap and of the $O(1)$ logit parts, or the
//!   [`MOLRG_REFINE_TOL`](crate::prec::MOLRG_REFINE_TOL) refinement threshold of the batch path), propagated as
//!   $|\delta\hat x_0| \le 2\eta\sum_k w_k\|m_k - \hat x_0\|$.
//! - `dense_mixture_dd`: against the general Gaussian-mixture formula with dense
//!   covariances $\Sigma_k = U_k\Lambda_kU_k^\top$ ([`reference::dense_mixture_at`]), an
//!   independent derivation. For a basis with $\|U_k^\top U_k - I\|_2 \le \delta$ ($\le r_k\times$ the max-entry deviation) the two
//!   formulas' logits differ by up to $2\delta\|x\|^2/\beta^2$ (and the score by
//!   $4\delta\|x\|/\beta^2$), which the tolerance adds; exactly orthonormal
//!   (Hadamard) instances have $\delta = 0$. The oracle's own double-double
//!   rounding of its quadratic forms ($\approx d\varepsilon^2\|x\|^2/\beta^2$) is added too:
//!   near-tie points at low SNR reach $\|x\| \sim 10^{15}$. So is the backward error of its
//!   Cholesky solve, $(3d+1)\varepsilon^2\operatorname{tr}(C_k)\|C_k^{-1}x\|^2$ in each logit
//!   (Higham, Thm 10.4, with $\||L||L^\top|\|_2 \le \operatorname{tr}C_k$): at
//!   $\operatorname{cond}(C_k) \sim 1/\beta^2 \sim 10^{12}$ the dense oracle resolves logits to
//!   about $10^{-9}$ only, and the facet is correspondingly weaker there (the projector-form
//!   `formula_dd` keeps its tolerance).
//! - `jacobian_dd`: the analytic Jacobian against
//!   $\sum_k w_k\,\alpha\Sigma_kC_k^{-1} + \frac{\alpha}{\beta^2}\sum_k w_k(m_k-m)(m_k-m)^\top$ with dense
//!   covariances, dense weights and dense component means in double-double
//!   ([`reference::mixture_jacobian_dense`]), relative to the scale
//!   $\sum_k w_kg_{\max,k}\sqrt{r_k} + \frac{\alpha}{\beta^2}\sum_k w_k\|m_k-m\|^2$. Tolerance: the
//!   dense facet's (weights move by $\le 2\eta$, each moving both terms), plus the rounding
//!   of the differences $m_k - m_l$ ($4\varepsilon\frac{\alpha}{\beta^2}\sum_kw_k\|m_k-m\|\max_l\|m_l\|$)
//!   and the oracle's $8d\varepsilon^2\operatorname{cond}(C_k)$.
//! - `lemma1_paper_case`: with $\pi_k = 1/K$, equal $r_k$ and $\Lambda_k = I$, the
//!   crate's posterior mean equals the paper's printed Lemma 1.
//!
//! The check is generic over the implementation under test ([`Subject`]); the
//! double-double oracles stay here. `formula_dd` evaluates the crate's projector-form
//! formula in higher precision (it catches rounding and coding errors, not a wrong
//! formula); `dense_mixture_dd` and `jacobian_dd` are the independent derivations (the
//! general Gaussian-mixture posterior with dense covariances).

use faer::{ColRef, Mat, MatRef};
use rand::RngExt;

use super::instance::{BasisKind, independent_bases, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement, Theorem, rel};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::orthonormality_deviation;
use crate::model::{Denoiser, ExactModel, Molrg};
use crate::prec::{EPS, gamma};
use crate::reference::{self, Q, dense_mixture_at, molrg_formula_at};
use crate::rng::{SeededRng, seeded, standard_normal};

/// The computations R03's check exercises, as the implementation under test.
///
/// The default methods call [`Molrg`] ([`super::Reference`]). `model` is the mixture
/// $\sum_k\pi_k\mathcal N(0, U_k\Lambda_kU_k^\top)$ (`model.weights()`, `model.basis(k)`,
/// `model.variances(k)`); `x_t` holds points $x_t = \alpha x_0 + \beta\varepsilon$ as columns.
pub trait Subject: Sync {
    /// $\mathbb E[x_0\mid x_t] = \sum_k w_k(x_t)\,U_k\operatorname{diag}(g_k)U_k^\top x_t$, with
    /// $g_{k,i} = \alpha\lambda_{k,i}/(\alpha^2\lambda_{k,i}+\beta^2)$ and
    /// $w_k \propto \pi_k\,\mathcal N(x_t; 0, \alpha^2U_k\Lambda_kU_k^\top + \beta^2I)$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn posterior_mean(
        &self,
        model: &Molrg,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.posterior_mean(x_t, level)
    }

    /// $\nabla\log p_t(x_t) = (\alpha\,\mathbb E[x_0\mid x_t] - x_t)/\beta^2$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn score(&self, model: &Molrg, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        model.score(x_t, level)
    }

    /// The Jacobian of the posterior mean at one point:
    /// $\sum_kw_k\,\alpha\Sigma_kC_k^{-1} + \frac{\alpha}{\beta^2}\sum_kw_k(m_k-m)(m_k-m)^\top$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn jacobian(&self, model: &Molrg, x_t: ColRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        model.jacobian(x_t, level)
    }
}

impl Subject for super::Reference {}

/// Where the evaluation point is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    /// `α x0 + β ε` with `x0` drawn from the model.
    Typical,
    /// On two components at once, scaled so that their logits tie (weights near 1/2 each).
    NearTie,
    /// An arbitrary Gaussian vector of norm `10^U(-2, 2)·√d`.
    Random,
}

/// An instance's model with its ingredients: `(model, bases, variances, weights)`.
pub type InstanceModel = (Molrg, Vec<Mat<f64>>, Vec<Vec<f64>>, Vec<f64>);

/// One R03 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Component ranks.
    pub ranks: Vec<usize>,
    /// The paper's case: uniform π, equal ranks, Λ = I.
    pub paper_case: bool,
    /// Unit variances Λ_k = I (otherwise log-uniform in [0.1, 10]).
    pub unit_variances: bool,
    /// Mutually orthogonal components (otherwise independent Haar bases).
    pub orthogonal: bool,
    /// Exactly orthonormal f64 bases (only with `orthogonal`).
    pub exact_basis: bool,
    /// Signal scale.
    pub alpha: f64,
    /// Noise scale.
    pub beta: f64,
    /// Evaluation point.
    pub point: PointKind,
    /// Seed for matrices and point.
    pub seed: u64,
}

impl Instance {
    /// A random instance: `K ≤ 4`, `d ≤ 40`, extremes of `α, β` on purpose.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let k = rng.random_range(1..=4usize);
        let d = rng.random_range((2 * k).max(2)..=40);
        let paper_case = rng.random::<f64>() < 0.3;
        let rmax = (d / k).max(1);
        let ranks = if paper_case {
            vec![rng.random_range(1..=rmax); k]
        } else {
            (0..k).map(|_| rng.random_range(1..=rmax)).collect()
        };
        let orthogonal = rng.random::<f64>() < 0.7;
        Self {
            d,
            ranks,
            paper_case,
            unit_variances: paper_case || rng.random::<bool>(),
            orthogonal,
            exact_basis: orthogonal && rng.random::<bool>(),
            alpha: if rng.random::<f64>() < 0.25 {
                1.0
            } else {
                log_uniform(rng, -8.0, 0.0)
            },
            beta: log_uniform(rng, -8.0, 4.0),
            point: match rng.random_range(0..3) {
                0 => PointKind::Typical,
                1 => PointKind::NearTie,
                _ => PointKind::Random,
            },
            seed: rng.random(),
        }
    }

    /// Builds the model (weights, bases, variances) of this instance.
    ///
    /// # Errors
    /// Construction errors (inconsistent sizes).
    pub fn model(&self) -> Result<InstanceModel> {
        let mut rng = seeded(self.seed);
        let k = self.ranks.len();
        let bases = if self.orthogonal {
            let kind = if self.exact_basis {
                BasisKind::ExactHadamard
            } else {
                BasisKind::Haar
            };
            orthogonal_bases(&mut rng, self.d, &self.ranks, kind)?
        } else {
            independent_bases(&mut rng, self.d, &self.ranks)?
        };
        let variances: Vec<Vec<f64>> = self
            .ranks
            .iter()
            .map(|&r| {
                (0..r)
                    .map(|_| {
                        if self.unit_variances {
                            1.0
                        } else {
                            log_uniform(&mut rng, -1.0, 1.0)
                        }
                    })
                    .collect()
            })
            .collect();
        let pi: Vec<f64> = if self.paper_case {
            vec![1.0 / k as f64; k]
        } else {
            let raw: Vec<f64> = (0..k).map(|_| 0.1 + rng.random::<f64>()).collect();
            let s: f64 = raw.iter().sum();
            let mut p: Vec<f64> = raw.iter().map(|w| w / s).collect();
            let tail: f64 = p[1..].iter().sum();
            p[0] = 1.0 - tail;
            p
        };
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let m = Molrg::with_variances(&pi, &refs, &variances)?;
        Ok((m, bases, variances, pi))
    }

    /// The evaluation point.
    fn point(&self, model: &Molrg, bases: &[Mat<f64>], level: NoiseLevel) -> Vec<f64> {
        let mut rng = seeded(self.seed ^ 0x00c0_ffee);
        let d = self.d;
        match self.point {
            PointKind::Typical => {
                let x0 = model.sample_x0(&mut rng, 1);
                let e = standard_normal(&mut rng, d, 1);
                (0..d)
                    .map(|i| level.alpha() * x0[(i, 0)] + level.beta() * e[(i, 0)])
                    .collect()
            }
            PointKind::Random => {
                let s = log_uniform(&mut rng, -2.0, 2.0);
                let e = standard_normal(&mut rng, d, 1);
                (0..d).map(|i| s * e[(i, 0)]).collect()
            }
            PointKind::NearTie => {
                let k = bases.len();
                if k < 2 {
                    let e = standard_normal(&mut rng, d, 1);
                    return (0..d).map(|i| e[(i, 0)]).collect();
                }
                let a = rng.random_range(0..k);
                let b = (a + 1 + rng.random_range(0..k - 1)) % k;
                // Logit_k ≈ off_k + κ_k c², choose c_a, c_b so the logits tie.
                let off = |j: usize| {
                    model.weights()[j].ln()
                        - model
                            .variances(j)
                            .iter()
                            .map(|&l| level.half_log1p_snr(l))
                            .sum::<f64>()
                };
                let ka = level.logit_coefficient(model.variances(a)[0]);
                let kb = level.logit_coefficient(model.variances(b)[0]);
                let scale = (level.alpha() + level.beta()).max(1e-300);
                let mut ca2 = scale * scale;
                let mut cb2 = (ka * ca2 + off(a) - off(b)) / kb;
                if cb2.is_nan() || cb2 <= 0.0 || !cb2.is_finite() {
                    cb2 = scale * scale;
                    ca2 = (kb * cb2 + off(b) - off(a)) / ka;
                }
                let (ca, cb) = (ca2.max(0.0).sqrt(), cb2.max(0.0).sqrt());
                let e = standard_normal(&mut rng, d, 1);
                (0..d)
                    .map(|i| {
                        ca * bases[a][(i, 0)]
                            + cb * bases[b][(i, 0)]
                            + 1e-3 * level.beta() * e[(i, 0)]
                    })
                    .collect()
            }
        }
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
        let (model, bases, variances, pi) = self.model()?;
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let d = self.d;
        let x = self.point(&model, &bases, level);
        if x.iter().any(|v| !v.is_finite()) {
            return Ok(vec![]);
        }
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let mean = s.posterior_mean(&model, xm.as_ref(), level)?;
        let score = s.score(&model, xm.as_ref(), level)?;
        let mean: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
        let score: Vec<f64> = (0..d).map(|i| score[(i, 0)]).collect();
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let rsum: usize = self.ranks.iter().sum();
        let base_tol = 8.0 * gamma(d + rsum + 4);
        let nx = reference::norm(&x.iter().map(|&v| reference::q(v)).collect::<Vec<_>>());

        let f = molrg_formula_at(&pi, &refs, &variances, &x, self.alpha, self.beta, false);
        let w: Vec<f64> = f.weights.iter().map(|&v| reference::f(v)).collect();
        let gmax: Vec<f64> = variances
            .iter()
            .map(|v| v.iter().map(|&l| level.gain(l)).fold(0.0, f64::max))
            .collect();
        let m_scale: f64 =
            w.iter().zip(&gmax).map(|(wk, g)| wk * g * nx).sum::<f64>() + f64::MIN_POSITIVE;
        let s_scale: f64 = w
            .iter()
            .zip(&f.score_magnitudes)
            .map(|(wk, m)| wk * m)
            .sum::<f64>()
            + f64::MIN_POSITIVE;
        // Logit error bound η of the crate's accurate path (see module docs).
        let lmax = f
            .logits
            .iter()
            .map(|l| l.0)
            .fold(f64::NEG_INFINITY, f64::max);
        let eta = f
            .logits
            .iter()
            .zip(&variances)
            .zip(&pi)
            .map(|((l, lam), p)| {
                let gap = (l.0 - lmax).abs();
                let vol: f64 = lam.iter().map(|&v| level.half_log1p_snr(v)).sum();
                16.0 * EPS * (gap + vol + p.ln().abs() + 1.0)
            })
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let spread_m: f64 = f
            .component_means
            .iter()
            .zip(&w)
            .map(|(mk, wk)| wk * dist_q(mk, &f.mean))
            .sum();
        let spread_s: f64 = f
            .score_magnitudes
            .iter()
            .zip(&w)
            .map(|(mag, wk)| wk * (mag + reference::norm(&f.score)))
            .sum();
        let tol_mean =
            base_tol + (2.0 * eta + 2.0 * crate::prec::MOLRG_REFINE_TOL) * spread_m / m_scale;
        let tol_score = base_tol + 2.0 * eta * spread_s / s_scale;
        let mut out = vec![
            Measurement::new(
                "formula_dd",
                rel(reference::dist(&mean, &f.mean), m_scale),
                tol_mean,
            ),
            Measurement::new(
                "formula_dd",
                rel(reference::dist(&score, &f.score), s_scale),
                tol_score,
            ),
        ];

        // Dense Gaussian mixture (independent formula).
        let covs: Vec<Vec<Vec<Q>>> = bases
            .iter()
            .zip(&variances)
            .map(|(u, l)| reference::dense_covariance(u.as_ref(), l))
            .collect();
        // ‖U_kᵀU_k − I‖₂ ≤ r_k · max-entry deviation.
        let delta = bases
            .iter()
            .map(|u| u.ncols() as f64 * orthonormality_deviation(u.as_ref()))
            .fold(0.0, f64::max);
        let (dm, _) = dense_mixture_at(&pi, &covs, &x, self.alpha, self.beta);
        // The dense oracle's own rounding: its quadratic forms xᵀC⁻¹x ≈ ‖x‖²/β² carry
        // a double-double error of about d·ε²·‖x‖²/β² (ε² ≈ 4.9e-32).
        let q_mag = nx * nx / (self.beta * self.beta);
        // The dense oracle's Cholesky solve is backward stable in double-double (unit
        // ε² ≈ 4.9e-32): (C_k + δC)ẑ = y with |δC| ≤ γ_{3d+1}|L||Lᵀ| (Higham, Thm 10.4) and
        // ‖|L||Lᵀ|‖₂ ≤ ‖L‖_F² = tr C_k, so its quadratic form yᵀẑ is off by
        // |z*ᵀδCẑ| ≤ (3d+1)ε² tr(C_k)‖z_k‖², with ‖z_k‖ ≤ the component's score magnitude;
        // its log-determinant by |tr(C⁻¹δC)| ≤ √d(d+1)ε² tr(C_k)/β². At cond(C_k) ~ 1/β² ~ 1e12
        // this reaches 1e-9 of a logit, far above the f64 rounding of the crate's logits.
        let chol = f
            .score_magnitudes
            .iter()
            .zip(&variances)
            .map(|(sk, lam)| {
                let tr = self.alpha * self.alpha * lam.iter().sum::<f64>()
                    + d as f64 * self.beta * self.beta;
                (3 * d + 1) as f64 * EPS * EPS * tr * sk * sk
                    + (d as f64).sqrt() * (d + 1) as f64 * EPS * EPS * tr / (self.beta * self.beta)
            })
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let eta_dense = eta + 2.0 * delta * q_mag + 8.0 * (d as f64) * EPS * EPS * q_mag + chol;
        let tol_dm = base_tol
            + 4.0 * delta
            + (2.0 * eta_dense + 2.0 * crate::prec::MOLRG_REFINE_TOL) * spread_m / m_scale;
        let tol_ds = base_tol
            + 4.0 * delta * nx / (self.beta * self.beta * s_scale)
            + 2.0 * eta_dense * spread_s / s_scale;
        out.push(Measurement::new(
            "dense_mixture_dd",
            rel(reference::dist(&mean, &dm.mean), m_scale),
            tol_dm,
        ));
        out.push(Measurement::new(
            "dense_mixture_dd",
            rel(reference::dist(&score, &dm.score), s_scale),
            tol_ds,
        ));

        // The Jacobian against J = Σ w_k αΣ_kC_k⁻¹ + (α/β²) Σ w_k (m_k − m)(m_k − m)ᵀ
        // from dense covariances in double-double (see the module docs for the tolerance).
        let jac = s.jacobian(&model, xm.col(0), level)?;
        let jref = reference::mixture_jacobian_dense(&pi, &covs, &x, self.alpha, self.beta);
        let coef = self.alpha / (self.beta * self.beta);
        let dk: Vec<f64> = f
            .component_means
            .iter()
            .map(|mk| dist_q(mk, &f.mean))
            .collect();
        let mmax = f
            .component_means
            .iter()
            .map(|mk| reference::norm(mk))
            .fold(0.0, f64::max);
        let term1: f64 = w
            .iter()
            .zip(&gmax)
            .zip(&self.ranks)
            .map(|((wk, g), r)| wk * g * (*r as f64).sqrt())
            .sum();
        let term2: f64 = coef * w.iter().zip(&dk).map(|(wk, dd)| wk * dd * dd).sum::<f64>();
        let j_scale = term1 + term2 + f64::MIN_POSITIVE;
        let lmax = variances.iter().flatten().cloned().fold(0.0, f64::max);
        let cond_c = 1.0 + self.alpha * self.alpha * lmax / (self.beta * self.beta);
        let cancel: f64 =
            4.0 * EPS * coef * w.iter().zip(&dk).map(|(wk, dd)| wk * dd).sum::<f64>() * mmax;
        out.push(Measurement::new(
            "jacobian_dd",
            rel(reference::frobenius_dist(jac.as_ref(), &jref), j_scale),
            base_tol
                + 4.0 * delta
                + 4.0 * eta_dense
                + 2.0 * crate::prec::MOLRG_REFINE_TOL
                + (cancel + 8.0 * (d as f64) * EPS * EPS * cond_c * j_scale) / j_scale,
        ));

        // The paper's printed Lemma 1 in its own case.
        if self.paper_case {
            let l1 = molrg_formula_at(&pi, &refs, &variances, &x, self.alpha, self.beta, true);
            out.push(Measurement::new(
                "lemma1_paper_case",
                rel(reference::dist(&mean, &l1.mean), m_scale),
                tol_mean,
            ));
        }
        Ok(out)
    }
}

fn dist_q(a: &[Q], b: &[Q]) -> f64 {
    let mut s = Q::ZERO;
    for (x, y) in a.iter().zip(b) {
        let e = *x - *y;
        s += e * e;
    }
    reference::f(s.sqrt())
}

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &super::Reference)
}

/// R03's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R03",
    title: "MoLRG posterior mean (general pi, r_k, Lambda_k)",
    proof: "proofs/R03-molrg-posterior.md",
    run_case,
};
