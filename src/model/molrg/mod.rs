//! Mixture of low-rank Gaussians (MoLRG), R03.

use std::sync::OnceLock;

use faer::reborrow::ReborrowMut;
use faer::{ColRef, Mat, MatMut, MatRef};
use rand::RngExt;

use super::{
    Denoiser, ExactModel, check_batch, check_point, log_norm_const, par_blocks, softmax_in_place,
};
use crate::error::{
    Error, Result, ensure_dim, ensure_finite, ensure_finite_output, ensure_finite_output_slice,
    ensure_finite_slice,
};
use crate::level::NoiseLevel;
use crate::linalg::basis::coefficients_dd;
use crate::linalg::compensated::{Acc, SplitLanes};
use crate::linalg::ozaki::SplitProjector;
use crate::linalg::{self, check_orthonormal};
use crate::prec;
use crate::rng::{SeededRng, standard_normal};

mod weights;

use weights::{Pending, REFINE_THRESHOLD, log_sum_exp_dd, residual_or_zero};

/// One component $\mathcal N(0, U_k\Lambda_kU_k^\top)$.
#[derive(Debug, Clone)]
struct Component {
    basis: Mat<f64>,
    variances: Vec<f64>,
    /// All variances bitwise equal.
    uniform: bool,
}

/// A mixture of low-rank Gaussians $p_0 = \sum_k \pi_k\,\mathcal N(0, U_k\Lambda_kU_k^\top)$.
///
/// # Definition
/// Each $U_k \in \mathbb R^{d\times r_k}$ has orthonormal columns (components need
/// not be mutually orthogonal), $\Lambda_k = \operatorname{diag}(\lambda_{k1}..\lambda_{kr_k}) \succeq 0$,
/// $\pi_k \ge 0$, $\sum_k\pi_k = 1$. With $c_k = U_k^\top x_t$, $g(\lambda) = \frac{\alpha\lambda}{\alpha^2\lambda+\beta^2}$,
/// $\kappa(\lambda) = \frac{\alpha^2\lambda}{2\beta^2(\alpha^2\lambda+\beta^2)}$:
/// $$\mathbb E[x_0\mid x_t] = \sum_k w_k\,U_k\operatorname{diag}(g(\lambda_{kj}))\,c_k,\quad w = \operatorname{softmax}_k\Big(\log\pi_k - \tfrac12\sum_j\log\!\big(1+\tfrac{\alpha^2\lambda_{kj}}{\beta^2}\big) + \sum_j \kappa(\lambda_{kj})\,c_{kj}^2\Big). \qquad\text{(R03)}$$
/// With $\Lambda_k = I$ this is SPEC R03:
/// $\frac{\alpha}{\alpha^2+\beta^2}\sum_k w_kU_kU_k^\top x_t$,
/// $w = \operatorname{softmax}(\log\pi_k - \frac{r_k}{2}\log(1+\alpha^2/\beta^2) + \varphi_t\|U_k^\top x_t\|^2)$,
/// $\varphi_t = \frac{\alpha^2}{2\beta^2(\alpha^2+\beta^2)}$.
///
/// # Accuracy
/// The weights are a softmax of logits that reach $10^{12}$ and beyond at small
/// $\beta$; they are computed by log-sum-exp, never by exponentiating an
/// unshifted logit. The batch posterior mean forms the logits from GEMM
/// projections in f64 together with a rigorous bound on their rounding
/// ($|\delta\ell_k| \le \gamma_{r+10}(q_k + |o_k|) + \sum_j\kappa_{kj}(2|\hat c_{kj}|\delta + 3\delta^2)$,
/// $\delta = 1.001\,\gamma_d\|x\|$, with Higham's $\gamma_n = nu/(1-nu)$). Every column
/// whose weights that rounding could move by more than
/// [`MOLRG_REFINE_TOL`](crate::prec::MOLRG_REFINE_TOL) $= 5\cdot10^{-14}$ (in $\sum_k|\delta w_k|$)
/// gets the logits of the components that can matter recomputed from
/// double-length projections (three GEMMs over the pending columns with a
/// certified error, [`crate::linalg::ozaki`]; `Dot2` where that certificate does
/// not reach the tolerance), with the logit *differences* formed in double
/// length: those weights are then accurate to a few ulps relative to the
/// formula evaluated exactly at the given $U_k, x_t$ (with all $\lambda_{kj}$
/// equal; otherwise relative to the rounded $\kappa(\lambda_{kj})$). The batch mean
/// is therefore within $2\cdot5\cdot10^{-14}\max_k\|m_k - \hat x_0\|$ of the exact
/// one, plus the GEMMs' rounding. Scores, log-densities, Jacobians and
/// [`Molrg::posterior_weights`] use the double-length path for every column,
/// with residuals $(I-U_kU_k^\top)x_t$ free of cancellation.
///
/// # Examples
/// ```
/// use diffusion_lowdim::{Molrg, Denoiser, NoiseLevel};
/// // Two lines in R², π = (1/2, 1/2). At x_t on the first line and small β, all
/// // weight goes to component 0 and E[x0|x_t] ≈ x_t/α.
/// let u1 = faer::mat![[1.0], [0.0]];
/// let u2 = faer::mat![[0.0], [1.0]];
/// let m = Molrg::uniform(&[u1.as_ref(), u2.as_ref()])?;
/// let x = faer::mat![[1.0], [0.0]];
/// let e = m.posterior_mean(x.as_ref(), NoiseLevel::new(1.0, 1e-6)?)?;
/// assert!((e[(0, 0)] - 1.0).abs() < 1e-11 && e[(1, 0)] == 0.0);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
///
/// # References
/// Wang, Zhang, Zhang, Chen, Ma, Qu, arXiv:2409.02426, Lemma 1 (equal $\pi$, $r$, $\Lambda = I$).
/// Derivation: `docs/exact-denoisers.md`; proof: `proofs/R03-molrg-posterior.md`.
#[derive(Debug, Clone)]
pub struct Molrg {
    dim: usize,
    components: Vec<Component>,
    weights: Vec<f64>,
    log_weights: Vec<f64>,
    /// `[U_1 … U_K]` (d × Σr_k): one GEMM projects a batch on every component.
    stacked: Mat<f64>,
    /// First column of `U_k` in `stacked`.
    starts: Vec<usize>,
    /// `stacked`, pre-split for double-length projections of single columns
    /// (built on first use: a model that is only evaluated through the fast
    /// batch path, or only through a reduced model, never carries it).
    lanes: OnceLock<SplitLanes>,
    /// `stacked`, split for double-length projections of many columns by GEMMs
    /// (built on first use).
    projector: OnceLock<Box<SplitProjector>>,
}

/// Why a MoLRG evaluation can overflow although its inputs are valid.
const OVERFLOW_CAUSE: &str = "x_t is so large relative to beta (or beta so small) that the exact \
     value is beyond f64; scale x_t down or raise the noise level";

impl Molrg {
    /// The paper's model: $\pi_k = 1/K$, $\Lambda_k = I$.
    ///
    /// # Errors
    /// As [`Molrg::new`].
    pub fn uniform(bases: &[MatRef<'_, f64>]) -> Result<Self> {
        let k = bases.len().max(1);
        Self::new(&vec![1.0 / k as f64; bases.len()], bases)
    }

    /// Weights $\pi$ and bases $U_k$, with $\Lambda_k = I$.
    ///
    /// # Errors
    /// [`Error::Empty`] for no components, [`Error::DimensionMismatch`] (bases of
    /// different heights, wrong number of weights), [`Error::NonFinite`],
    /// [`Error::NotOrthonormal`], [`Error::InvalidWeights`].
    pub fn new(weights: &[f64], bases: &[MatRef<'_, f64>]) -> Result<Self> {
        let variances: Vec<Vec<f64>> = bases.iter().map(|u| vec![1.0; u.ncols()]).collect();
        Self::with_variances(weights, bases, &variances)
    }

    /// The general model: weights $\pi$, bases $U_k$ and variances $\Lambda_k$.
    ///
    /// # Errors
    /// As [`Molrg::new`], plus [`Error::InvalidParameter`] for a negative variance
    /// and [`Error::DimensionMismatch`] if `variances[k].len() != r_k`.
    pub fn with_variances(
        weights: &[f64],
        bases: &[MatRef<'_, f64>],
        variances: &[Vec<f64>],
    ) -> Result<Self> {
        if bases.is_empty() {
            return Err(Error::Empty {
                what: "MoLRG",
                unit: "component",
            });
        }
        ensure_dim(
            "number of weights vs components",
            bases.len(),
            weights.len(),
        )?;
        ensure_dim(
            "number of variance lists vs components",
            bases.len(),
            variances.len(),
        )?;
        ensure_finite_slice("mixture weights", weights)?;
        let sum: f64 = weights.iter().sum();
        for (i, &w) in weights.iter().enumerate() {
            if w < 0.0 {
                return Err(Error::InvalidWeights {
                    index: i,
                    value: w,
                    sum,
                    tolerance: prec::WEIGHT_SUM_TOL,
                });
            }
        }
        if (sum - 1.0).abs() > prec::WEIGHT_SUM_TOL {
            return Err(Error::InvalidWeights {
                index: 0,
                value: weights[0],
                sum,
                tolerance: prec::WEIGHT_SUM_TOL,
            });
        }
        let dim = bases[0].nrows();
        let mut components = Vec::with_capacity(bases.len());
        for (k, (u, lam)) in bases.iter().zip(variances).enumerate() {
            ensure_dim("rows of U_k vs rows of U_0", dim, u.nrows())?;
            check_orthonormal("MoLRG basis U_k", k, *u)?;
            ensure_dim(
                "number of variances vs columns of U_k",
                u.ncols(),
                lam.len(),
            )?;
            ensure_finite_slice("MoLRG variances", lam)?;
            if let Some(&v) = lam.iter().find(|&&v| v < 0.0) {
                return Err(Error::InvalidParameter {
                    name: "variance",
                    value: v,
                    requirement: "≥ 0",
                });
            }
            components.push(Component {
                basis: u.to_owned(),
                uniform: lam.windows(2).all(|w| w[0].to_bits() == w[1].to_bits()),
                variances: lam.clone(),
            });
        }
        let total: usize = components.iter().map(|c| c.basis.ncols()).sum();
        let mut stacked = Mat::<f64>::zeros(dim, total);
        let mut starts = Vec::with_capacity(components.len());
        let mut s = 0;
        for c in &components {
            starts.push(s);
            stacked
                .as_mut()
                .subcols_mut(s, c.basis.ncols())
                .copy_from(c.basis.as_ref());
            s += c.basis.ncols();
        }
        Ok(Self {
            dim,
            components,
            weights: weights.to_vec(),
            log_weights: weights.iter().map(|w| w.ln()).collect(),
            lanes: OnceLock::new(),
            projector: OnceLock::new(),
            stacked,
            starts,
        })
    }

    /// Number of components $K$.
    pub fn num_components(&self) -> usize {
        self.components.len()
    }

    /// Mixture weights $\pi$.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Basis $U_k$.
    ///
    /// # Panics
    /// If `k >= K`.
    pub fn basis(&self, k: usize) -> MatRef<'_, f64> {
        self.components[k].basis.as_ref()
    }

    /// Variances $\lambda_{k\cdot}$ of component `k`.
    ///
    /// # Panics
    /// If `k >= K`.
    pub fn variances(&self, k: usize) -> &[f64] {
        &self.components[k].variances
    }

    /// Ranks $r_k$.
    pub fn ranks(&self) -> Vec<usize> {
        self.components.iter().map(|c| c.basis.ncols()).collect()
    }
}

impl Denoiser for Molrg {
    fn dim(&self) -> usize {
        self.dim
    }

    fn posterior_mean_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim, x_t, out.as_ref())?;
        let offsets = self.logit_offsets(level);
        let kk = self.components.len();
        // Per-component constants: logit coefficients κ, gains g, and the largest κ
        // (for the rounding bound).
        let kappas: Vec<Vec<f64>> = self
            .components
            .iter()
            .map(|c| {
                c.variances
                    .iter()
                    .map(|&l| level.logit_coefficient(l))
                    .collect()
            })
            .collect();
        let gains: Vec<Vec<f64>> = self
            .components
            .iter()
            .map(|c| c.variances.iter().map(|&l| level.gain(l)).collect())
            .collect();
        par_blocks(x_t, out, |_, xb, mut o| {
            let w = xb.ncols();
            // All projections at once: C = [U_1 … U_K]ᵀ X (one GEMM), then f64 logits.
            let mut coeffs = linalg::mul(self.stacked.transpose(), xb);
            // Softmax weights (K × w), and for the columns whose rounding can move
            // the weights by more than the threshold: the f64 logits and their bounds.
            let mut weights = Mat::<f64>::zeros(kk, w);
            let mut pending: Vec<Pending> = Vec::new();
            let mut logits = vec![0.0; kk];
            // Rigorous (Higham's γ with u = 2^-53): it decides which columns need
            // the double-length logits, so a tighter bound saves work, not accuracy.
            let gd = prec::gamma_unit(self.dim);
            let kappa_sums: Vec<f64> = kappas.iter().map(|k| k.iter().sum()).collect();
            for j in 0..w {
                // Bound on the f64 logits' rounding, per component. The GEMM
                // coefficients v carry |δc| ≤ γ_d Σ_i|u_i||x_i| ≤ γ_d‖x‖ (‖u‖ ≤ 1 + 1e-10,
                // ‖x‖ itself computed to γ_d): δ = 1.001 γ_d ‖x‖. Then
                // |δq_k| ≤ γ_{r+10}(q_k + |o_k|) + Σ_j κ_kj (2|v_kj| δ + 3δ²), the γ term
                // covering the products, the sum, the offset addition and the
                // rounding of κ (a few operations). Weights then move by at most
                // 2 max_k|δℓ_k| (1 − w_max) (docs/numerics.md §3.2).
                let xnorm = xb.col(j).norm_l2();
                let delta = 1.001 * gd * xnorm;
                let cj = coeffs.col(j);
                let mut errs = vec![0.0; kk];
                let mut err = 0.0f64;
                for k in 0..kk {
                    let (s0, kap) = (self.starts[k], &kappas[k]);
                    let (mut q, mut a) = (0.0, 0.0);
                    for (i, &kp) in kap.iter().enumerate() {
                        let v = cj[s0 + i];
                        q += kp * v * v;
                        a += kp * v.abs();
                    }
                    logits[k] = offsets[k] + q;
                    let gr = prec::gamma_unit(kap.len() + 10);
                    let e = gr * (q + offsets[k].abs())
                        + 1.001 * (2.0 * delta * a + 3.0 * delta * delta * kappa_sums[k]);
                    errs[k] = if e.is_finite() { e } else { f64::INFINITY };
                    err = err.max(errs[k]);
                }
                if logits
                    .iter()
                    .any(|l| l.is_nan() || (l.is_infinite() && *l > 0.0))
                {
                    // The quadratic part overflowed: rescaled weights for this column.
                    let mut xcol = vec![0.0; self.dim];
                    linalg::col_to_slice(xb, j, &mut xcol);
                    let sw = self.scaled_weights(&xcol, level, &offsets);
                    weights
                        .col_mut(j)
                        .iter_mut()
                        .zip(&sw)
                        .for_each(|(d, s)| *d = *s);
                    continue;
                }
                let raw = logits.clone();
                softmax_in_place(&mut logits);
                let wmax = logits.iter().cloned().fold(0.0, f64::max);
                let sensitivity = 2.0 * err * (1.0 - wmax);
                if sensitivity > REFINE_THRESHOLD && kk > 1 {
                    // Components that can carry weight above e^{-60} of the largest
                    // even with their logits off by the bound get double-length
                    // logits; the others keep their (negligible) f64 weights.
                    let top = (0..kk)
                        .map(|k| raw[k] - errs[k])
                        .fold(f64::NEG_INFINITY, f64::max);
                    let active = (0..kk).map(|k| raw[k] + errs[k] >= top - 60.0).collect();
                    pending.push(Pending {
                        col: j,
                        raw,
                        active,
                    });
                }
                weights
                    .col_mut(j)
                    .iter_mut()
                    .zip(&logits)
                    .for_each(|(d, s)| *d = *s);
            }
            if !pending.is_empty() {
                self.refine_pending(xb, level, &offsets, &kappas, &pending, &mut weights)?;
            }
            // Scale the coefficients in place: c_kj ← w_k g_kj c_kj.
            for j in 0..w {
                let mut cj = coeffs.col_mut(j);
                for k in 0..kk {
                    let (s0, wk) = (self.starts[k], weights[(k, j)]);
                    for (i, g) in gains[k].iter().enumerate() {
                        cj[s0 + i] *= wk * g;
                    }
                }
            }
            // E[x0|x_t] = [U_1 … U_K] · (w ∘ g ∘ C)  (one GEMM).
            linalg::gemm(o.rb_mut(), self.stacked.as_ref(), coeffs.as_ref(), 1.0);
            ensure_finite_output("the MoLRG posterior mean", OVERFLOW_CAUSE, o.as_ref())
        })
    }

    fn score_into(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        out: MatMut<'_, f64>,
    ) -> Result<()> {
        check_batch(self.dim, x_t, out.as_ref())?;
        let offsets = self.logit_offsets(level);
        let d = self.dim;
        let inv_b2 = 1.0 / (level.beta() * level.beta());
        par_blocks(x_t, out, |_, xb, mut o| {
            o.fill(0.0);
            let mut x = vec![0.0; d];
            let mut res = vec![0.0; d];
            for j in 0..xb.ncols() {
                linalg::col_to_slice(xb, j, &mut x);
                let col = self.column(&x, level, &offsets);
                // s = −Σ_k w_k [ (I − U_kU_kᵀ)x / β² + U_k diag(h_k) c_k ].
                for (k, c) in self.components.iter().enumerate() {
                    let wk = col.weights[k];
                    if wk == 0.0 {
                        continue;
                    }
                    residual_or_zero(c.basis.as_ref(), &x, &col.coeffs[k], &mut res);
                    let hc: Vec<f64> = col.coeffs[k]
                        .iter()
                        .zip(&c.variances)
                        .map(|(cj, &l)| level.inv_marginal_variance(l) * cj.value())
                        .collect();
                    for i in 0..d {
                        let mut v = res[i] * inv_b2;
                        for (jj, h) in hc.iter().enumerate() {
                            v = c.basis[(i, jj)].mul_add(*h, v);
                        }
                        o[(i, j)] -= wk * v;
                    }
                }
            }
            ensure_finite_output("the MoLRG score", OVERFLOW_CAUSE, o.as_ref())
        })
    }
}

impl ExactModel for Molrg {
    fn jacobian(&self, x_t: ColRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        check_point(self.dim, x_t)?;
        let d = self.dim;
        let mut x = vec![0.0; d];
        linalg::col_to_slice(x_t.as_mat(), 0, &mut x);
        let offsets = self.logit_offsets(level);
        let col = self.column(&x, level, &offsets);
        let means = self.component_means(&col, level);
        let kk = self.components.len();
        let mut j = Mat::<f64>::zeros(d, d);
        // Σ_k w_k U_k diag(g_k) U_kᵀ
        for (k, c) in self.components.iter().enumerate() {
            let wk = col.weights[k];
            if wk == 0.0 {
                continue;
            }
            let r = c.basis.ncols();
            let scaled = Mat::from_fn(d, r, |i, jj| {
                c.basis[(i, jj)] * wk * level.gain(c.variances[jj])
            });
            linalg::gemm_acc(j.as_mut(), scaled.as_ref(), c.basis.transpose(), 1.0);
        }
        // + (α/β²) Σ_k w_k (m_k − m)(m_k − m)ᵀ, with m_k − m = Σ_l w_l (m_k − m_l).
        let coef = level.alpha() / (level.beta() * level.beta());
        if coef > 0.0 && kk > 1 {
            for k in 0..kk {
                let wk = col.weights[k];
                if wk == 0.0 {
                    continue;
                }
                let diff: Vec<f64> = (0..d)
                    .map(|i| {
                        (0..kk)
                            .filter(|&l| l != k)
                            .map(|l| col.weights[l] * (means[k][i] - means[l][i]))
                            .sum::<f64>()
                    })
                    .collect();
                let s = coef * wk;
                for b in 0..d {
                    let db = s * diff[b];
                    if db == 0.0 {
                        continue;
                    }
                    for a in 0..d {
                        j[(a, b)] += diff[a] * db;
                    }
                }
            }
        }
        ensure_finite_output("the MoLRG Jacobian", OVERFLOW_CAUSE, j.as_ref())?;
        Ok(j)
    }

    fn log_density(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Vec<f64>> {
        ensure_dim("rows of x_t vs model dimension", self.dim, x_t.nrows())?;
        ensure_finite("x_t", x_t)?;
        let d = self.dim;
        let inv_b2 = 1.0 / (level.beta() * level.beta());
        let log_b2 = 2.0 * level.beta().ln();
        let mut x = vec![0.0; d];
        let mut res = vec![0.0; d];
        let mut out = Vec::with_capacity(x_t.ncols());
        for j in 0..x_t.ncols() {
            linalg::col_to_slice(x_t, j, &mut x);
            // log π_k + log N(x; 0, α²U_kΛ_kU_kᵀ + β²I), each from accurate residuals.
            let terms: Vec<Acc> = self
                .components
                .iter()
                .zip(&self.log_weights)
                .map(|(c, &lp)| {
                    let r = c.basis.ncols();
                    let mut cd = vec![Acc::default(); r];
                    coefficients_dd(c.basis.as_ref(), &x, &mut cd);
                    residual_or_zero(c.basis.as_ref(), &x, &cd, &mut res);
                    let quad: f64 = cd
                        .iter()
                        .zip(&c.variances)
                        .map(|(cj, &l)| level.inv_marginal_variance(l) * cj.value() * cj.value())
                        .sum::<f64>()
                        + res.iter().map(|v| v * v).sum::<f64>() * inv_b2;
                    let logdet: f64 = c
                        .variances
                        .iter()
                        .map(|&l| level.log_marginal_variance(l))
                        .sum::<f64>()
                        + ((d - r) as f64) * log_b2;
                    let mut a = Acc::new(lp);
                    a.add(-0.5 * quad);
                    a.add(-0.5 * logdet);
                    a
                })
                .collect();
            out.push(log_sum_exp_dd(&terms) + log_norm_const(d));
        }
        ensure_finite_output_slice("the MoLRG log-density", OVERFLOW_CAUSE, &out)?;
        Ok(out)
    }

    fn sample_x0(&self, rng: &mut SeededRng, n: usize) -> Mat<f64> {
        let d = self.dim;
        let mut out = Mat::<f64>::zeros(d, n);
        let cdf: Vec<f64> = self
            .weights
            .iter()
            .scan(0.0, |s, w| {
                *s += w;
                Some(*s)
            })
            .collect();
        for j in 0..n {
            let u: f64 = rng.random::<f64>() * cdf[cdf.len() - 1];
            let k = cdf.iter().position(|&c| u < c).unwrap_or(cdf.len() - 1);
            let c = &self.components[k];
            let r = c.basis.ncols();
            let z = standard_normal(rng, r, 1);
            for i in 0..d {
                let mut s = 0.0;
                for jj in 0..r {
                    s += c.basis[(i, jj)] * z[(jj, 0)] * c.variances[jj].sqrt();
                }
                out[(i, j)] = s;
            }
        }
        out
    }
}

impl Molrg {
    /// The mixture weights $w_k(x_t)$ of every column (a `K × B` matrix),
    /// computed with double-length logits.
    ///
    /// # Errors
    /// As [`Denoiser::posterior_mean_into`].
    pub fn posterior_weights(&self, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        ensure_dim("rows of x_t vs model dimension", self.dim, x_t.nrows())?;
        ensure_finite("x_t", x_t)?;
        let offsets = self.logit_offsets(level);
        let kk = self.components.len();
        let mut out = Mat::<f64>::zeros(kk, x_t.ncols());
        let mut x = vec![0.0; self.dim];
        for j in 0..x_t.ncols() {
            linalg::col_to_slice(x_t, j, &mut x);
            let col = self.column(&x, level, &offsets);
            for k in 0..kk {
                out[(k, j)] = col.weights[k];
            }
        }
        Ok(out)
    }

    /// The log mixture weights $\log w_k(x_t)$ of every column (a `K × B` matrix).
    ///
    /// # Definition
    /// $\log w_k = \ell_k - \log\sum_j e^{\ell_j}$ with the double-length logits $\ell_k$ of
    /// [`Molrg::posterior_weights`], normalized by a log-sum-exp (never $\log w_k$ of a
    /// rounded weight): a saturated weight such as $10^{-300}$ or one that underflows to
    /// 0 has a finite log accurate to a few ulps of the logit gap. A component of prior
    /// weight $\pi_k = 0$ has $\log w_k = -\infty$ (its weight is exactly 0).
    ///
    /// # Errors
    /// As [`Molrg::posterior_weights`]; [`Error::Overflow`] if a log weight of a component
    /// with $\pi_k > 0$ is below $-1.8\times10^{308}$.
    ///
    /// # Examples
    /// ```
    /// use diffusion_lowdim::{Molrg, NoiseLevel};
    /// let u1 = faer::mat![[1.0], [0.0]];
    /// let u2 = faer::mat![[0.0], [1.0]];
    /// let m = Molrg::uniform(&[u1.as_ref(), u2.as_ref()])?;
    /// // Logits φ·x_k² with φ = α²/(2β²(α²+β²)) = 1/(2·0.01·1.01): the gap is 900/0.0202.
    /// let x = faer::mat![[30.0], [0.0]];
    /// let lw = m.posterior_log_weights(x.as_ref(), NoiseLevel::new(1.0, 0.1)?)?;
    /// let gap = 900.0 / 0.0202;
    /// assert!((lw[(1, 0)] + gap).abs() <= 1e-12 * gap);    // weight e^-44554: 0 in f64
    /// # Ok::<(), diffusion_lowdim::Error>(())
    /// ```
    pub fn posterior_log_weights(
        &self,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        ensure_dim("rows of x_t vs model dimension", self.dim, x_t.nrows())?;
        ensure_finite("x_t", x_t)?;
        let offsets = self.logit_offsets(level);
        let kk = self.components.len();
        let mut out = Mat::<f64>::zeros(kk, x_t.ncols());
        let mut x = vec![0.0; self.dim];
        for j in 0..x_t.ncols() {
            linalg::col_to_slice(x_t, j, &mut x);
            let lw = self.column_log_weights(&x, level, &offsets);
            for k in 0..kk {
                if offsets[k] > f64::NEG_INFINITY && !lw[k].is_finite() {
                    return Err(Error::Overflow {
                        what: "a MoLRG log posterior weight",
                        cause: "the point is so far from a component (relative to the noise \
                                level) that its log weight is below -1.8e308",
                    });
                }
                out[(k, j)] = lw[k];
            }
        }
        Ok(out)
    }
}
