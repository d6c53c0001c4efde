//! R08 (Theorem 3): for $K > 1$ the DAE loss of the MoLRG parameterization reduces
//! to subspace clustering — after two approximations whose error this check measures.
//!
//! The implementation under test ([`Subject`]) is the softmax parameterization $x_\theta$, the
//! hard-max loss and the K-subspaces solver. Assignments, objectives, residuals, matchings and
//! the softmax-gap bound are computed by the check itself.
//!
//! Facets, on $K \in \{2,3,4\}$ mutually orthogonal rank-$r$ subspaces with $N_k \ge r$
//! noise-free samples each:
//! - `softmax_is_molrg`: the subject's $x_\theta$ with softmax weights equals the crate's exact
//!   MoLRG posterior mean ([`crate::Molrg::uniform`], compensated) at noisy points. Tolerance,
//!   relative to $g\|x_t\|$: $8\gamma_{d+r+4}(K+1) + 4\eta$ with $\eta = (4\sqrt r\gamma_d + 4\varepsilon)\varphi\|x_t\|^2$
//!   the logit rounding (softmax is 2-Lipschitz from logits to $\ell_1$ weights).
//! - `softmax_gap`: the two approximations (the $\varepsilon$-expectation moved inside the softmax,
//!   softmax → hard max on clean data) at the instance's level $(\alpha, \beta)$ and candidate bases:
//!   for one clean sample per component, $\mathbb E_\varepsilon\|x_\theta(x_t) - x_0\|^2 - \mathbb E_\varepsilon\|gU_{k^*}U_{k^*}^\top x_t - x_0\|^2$
//!   ($k^* = \arg\max_k\|U_k^\top x_0\|$), estimated by Monte Carlo with 256 seeded noises (the hard-max
//!   term as a control variate on the same noises), against the bound of [`softmax_gap_bound`]
//!   (`proofs/R08-subspace-clustering.md` statement 6). The error is the measured gap (reported
//!   in the `check` JSON), the tolerance the proven bound + the rounding of the two losses +
//!   $5$ standard errors. False-failure rate per instance $\le 3\cdot10^{-7}$ per sample (normal
//!   approximation of the mean of 256 draws of a variable with all moments finite). Power:
//!   a softmin (the logits' sign flipped) is caught (`r08_planted_softmin`); a halved logit
//!   coefficient is not (its extra gap stays within the bound's slack, which is $10^2$–$10^3$ where the
//!   bound is informative, see `r08_softmax_gap_curve`) and is caught by `softmax_is_molrg`.
//! - `hard_max_identity`: the subject's hard-max loss (quadrature of the per-point denoisers'
//!   exact $\varepsilon$-expectation) equals $-C\cdot NJ(U) + L\|X\|_F^2 + NrG$ with $J$ computed by the
//!   check, for candidate bases that are the truth, random, or the subject's K-subspaces solution.
//!   Tolerance as R05's `closed_vs_quadrature` with $(|C| + L)$.
//! - `certified_optimal`: the subject's K-subspaces solution reaches the proven upper bound
//!   $J \le \frac1N\|X\|_F^2$, verified by the check from the residuals $\sum_i\min_k\|(I-\hat P_k)x_i\|^2$
//!   (relative gap within the SVDs' backward errors and the bases' orthonormality defects; the
//!   solver's own certificate is not used). Reaching the bound is a proof of global optimality.
//! - `equals_truth`: its matched error (exhaustive matching) is at most
//!   $\max_k\big[\sqrt2\|\Delta X_k\|_F/\sigma_r(X_k)\big] + 4(\delta_{\hat U} + \delta_U)$
//!   (R06's exact-recovery allowance per cluster; `proofs/R08-subspace-clustering.md`
//!   proves that a feasible solution reaching the bound is the truth).
//! - `feasible`: $\max_{k\ne l}\|\hat U_k^\top\hat U_l\|_2$ is at most twice that allowance.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::ScheduleKind;
use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::r05::WeightKind;
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::{frobenius_distance, frobenius_norm, mul, orthonormality_deviation};
use crate::model::{Denoiser, Molrg};
use crate::prec::{EPS, gamma};
use crate::reduction::quadrature::Integral;
use crate::reduction::{
    KSubspaces, LossCoefficients, MolrgParam, Weight, dae_loss_hard_max_quadrature,
    subspace_distance,
};
use crate::reduction::{product_rounding, recovery_bound, svd_backward_error};
use crate::rng::{SeededRng, seeded, standard_normal};
use crate::schedule::Schedule;

/// The computations R08's check exercises, as the implementation under test.
///
/// The default methods call this crate ([`Reference`]); a planted defect or a user's own
/// implementation overrides them.
pub trait Subject: Sync {
    /// The softmax parameterization of Theorem 3 at each column of `x_t`:
    /// $x_\theta(x_t) = \frac{\alpha}{\alpha^2+\beta^2}\sum_kw_kU_kU_k^\top x_t$,
    /// $w = \operatorname{softmax}_k(\varphi\|U_k^\top x_t\|^2)$, $\varphi = \frac{\alpha^2}{2\beta^2(\alpha^2+\beta^2)}$
    /// ([`MolrgParam`]).
    ///
    /// # Errors
    /// Any error counts as a failure of the check.
    fn posterior_mean(
        &self,
        bases: &[MatRef<'_, f64>],
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        MolrgParam::new(bases)?.posterior_mean(x_t, level)
    }

    /// The hard-max loss $\sum_i\int_{t_0}^{t_1}\lambda_t\,\mathbb E_\varepsilon\|x_{U_{k(i)}}(\alpha_tx_i + \beta_t\varepsilon) - x_i\|^2dt$,
    /// $k(i) = \arg\max_k\|U_k^\top x_i\|$, with an a-posteriori error estimate
    /// ([`dae_loss_hard_max_quadrature`]).
    ///
    /// # Errors
    /// Any error counts as a failure of the check.
    fn hard_max_loss(
        &self,
        bases: &[MatRef<'_, f64>],
        x: MatRef<'_, f64>,
        schedule: &dyn Schedule,
        weight: &Weight,
        t0: f64,
        t1: f64,
    ) -> Result<Integral> {
        dae_loss_hard_max_quadrature(bases, x, schedule, weight, t0, t1)
    }

    /// Subspace clustering: $K$ orthonormal $d\times r$ bases maximizing
    /// $J(U) = \frac1N\sum_i\max_k\|U_k^\top x_i\|^2$ ([`KSubspaces`] with its defaults).
    ///
    /// # Errors
    /// Any error counts as a failure of the check.
    fn k_subspaces(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        r: usize,
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        Ok(KSubspaces::new(k, r).solve(x, rng)?.bases)
    }
}

impl Subject for Reference {}

/// Which bases the hard-max loss identity is evaluated at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// The true bases.
    Truth,
    /// Independent random orthonormal bases (generally not mutually orthogonal).
    Random,
    /// The K-subspaces solution.
    Solver,
}

/// One R08 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Common rank.
    pub r: usize,
    /// Samples per component (each $\ge r$).
    pub n_per: Vec<usize>,
    /// Signal scale for the softmax facets.
    pub alpha: f64,
    /// Noise scale for the softmax facets.
    pub beta: f64,
    /// Schedule of the loss identity.
    pub schedule: ScheduleKind,
    /// Weight of the loss identity.
    pub weight: WeightKind,
    /// Time range.
    pub t0: f64,
    /// Time range.
    pub t1: f64,
    /// Candidate bases for the loss identity and the softmax gap.
    pub candidate: Candidate,
    /// Seed.
    pub seed: u64,
}

/// Clustered data: the true bases, the coefficient matrices $A_k$ and $X = [X_1 \dots X_K]$.
pub type Clustered = (Vec<Mat<f64>>, Vec<Mat<f64>>, Mat<f64>);

/// Draws $K$ orthogonal bases and $N_k$ samples $U_ka + \sigma g$ from each ($g$ standard normal).
///
/// # Errors
/// [`crate::Error::InvalidCount`] if $Kr > d$.
pub fn clustered_data(
    d: usize,
    r: usize,
    n_per: &[usize],
    noise: f64,
    seed: u64,
) -> Result<Clustered> {
    let mut g = seeded(seed);
    let bases = orthogonal_bases(&mut g, d, &vec![r; n_per.len()], BasisKind::Haar)?;
    let total: usize = n_per.iter().sum();
    let mut x = Mat::<f64>::zeros(d, total);
    let mut coeffs = Vec::new();
    let mut off = 0;
    for (u, &nk) in bases.iter().zip(n_per) {
        let a = standard_normal(&mut g, r, nk);
        let xk = u * &a;
        x.as_mut().subcols_mut(off, nk).copy_from(xk.as_ref());
        coeffs.push(a);
        off += nk;
    }
    if noise > 0.0 {
        let e = standard_normal(&mut g, d, total);
        for j in 0..total {
            for i in 0..d {
                x[(i, j)] += noise * e[(i, j)];
            }
        }
    }
    Ok((bases, coeffs, x))
}

/// The exact-recovery allowance of one noise-free cluster $X_k = \mathrm{fl}(U_kA_k)$
/// (R06's `exact_recovery`): $\sqrt2(\gamma_r\sqrt r\|A_k\|_F + \gamma_{8dN_k}\|X_k\|_F)/\sigma_r(X_k)$.
///
/// # Errors
/// SVD failure.
pub fn cluster_allowance(a: &Mat<f64>, xk: faer::MatRef<'_, f64>) -> Result<f64> {
    let r = a.nrows();
    let s = crate::linalg::singular_values(xk)?;
    let xf = frobenius_norm(xk);
    let e = product_rounding(r, frobenius_norm(a.as_ref()))
        + svd_backward_error(xk.nrows(), xk.ncols(), xf);
    Ok(recovery_bound(
        e,
        e,
        r,
        s.get(r - 1).copied().unwrap_or(0.0),
    ))
}

/// The proven bound on the softmax → hard-max gap at one level and one clean point
/// (`proofs/R08-subspace-clustering.md` statement 6).
///
/// For orthonormal bases $U_1..U_K$, $x_0 \in \mathbb R^d$, $k^* = \arg\max_k\|U_k^\top x_0\|$,
/// $x_t = \alpha x_0 + \beta\varepsilon$, $g = \frac{\alpha}{\alpha^2+\beta^2}$, $D_k = gU_kU_k^\top x_t$ and $\Delta =
/// \|x_\theta(x_t) - x_0\|^2 - \|D_{k^*} - x_0\|^2$:
/// $$|\mathbb E_\varepsilon\Delta| \le \min\Big\{\mathbb E h,\ \min_{t\in T}\sum_{k\ne k^*}m_k(t)\big(a\,\mathbb E_{Q_k(t)}\|x_t\|^2 + g\|x_0\|^2\big)\Big\},
/// \qquad h = a\|x_t\|^2 + g\|x_0\|^2,\ a = 3g^2 + g,$$
/// where $m_k(t) = \mathbb E\,e^{t\varphi(\|U_k^\top x_t\|^2 - \|U_{k^*}^\top x_t\|^2)}$ (a Gaussian moment generating
/// function of a quadratic form, finite because $2t\varphi\beta^2 \le \frac{\alpha^2}{\alpha^2+\beta^2} < 1$),
/// $Q_k(t)$ the correspondingly tilted Gaussian law of $\varepsilon$, $\mathcal N((I-2M_k)^{-1}b_k, (I-2M_k)^{-1})$ with
/// $M_k = t\varphi\beta^2B_k$, $b_k = 2t\varphi\alpha\beta B_kx_0$, $B_k = U_kU_k^\top - U_{k^*}U_{k^*}^\top$, and
/// $T = \{2^{-j} : 0 \le j < 12\}$ the Chernoff exponents ($\min(1, e^y) \le e^{ty}$ for $t \in [0, 1]$).
/// Returns the bound and $k^*$.
///
/// # Errors
/// Eigendecomposition failure.
pub fn softmax_gap_bound(
    bases: &[MatRef<'_, f64>],
    x0: MatRef<'_, f64>,
    level: NoiseLevel,
) -> Result<(f64, usize)> {
    let d = x0.nrows();
    let (alpha, beta) = (level.alpha(), level.beta());
    let g = level.shrinkage();
    let phi = level.logit_coefficient(1.0);
    let a = 3.0 * g * g + g;
    let x0n2 = (0..d).map(|i| x0[(i, 0)] * x0[(i, 0)]).sum::<f64>();
    let star = labels_of(bases, x0)[0];
    let e_h = a * (alpha * alpha * x0n2 + beta * beta * d as f64) + g * x0n2;
    let proj = |u: MatRef<'_, f64>| mul(u, u.transpose());
    let p_star = proj(bases[star]);
    // Chernoff exponents t: min(1, e^y) ≤ e^{ty} for every t ∈ [0, 1].
    let ts: Vec<f64> = (0..12).map(|j| 0.5f64.powi(j)).collect();
    let mut sums = vec![0.0; ts.len()];
    for (k, u) in bases.iter().enumerate() {
        if k == star {
            continue;
        }
        let pk = proj(*u);
        let b = Mat::from_fn(d, d, |i, j| pk[(i, j)] - p_star[(i, j)]);
        let bx = mul(b.as_ref(), x0);
        let xbx = (0..d).map(|i| x0[(i, 0)] * bx[(i, 0)]).sum::<f64>();
        let evd =
            b.self_adjoint_eigen(faer::Side::Lower)
                .map_err(|_| crate::Error::NoConvergence {
                    what: "symmetric eigendecomposition",
                })?;
        let (vals, vecs) = (evd.S().column_vector(), evd.U());
        let vbx: Vec<f64> = (0..d)
            .map(|j| (0..d).map(|i| vecs[(i, j)] * bx[(i, 0)]).sum::<f64>())
            .collect();
        for (t, sum) in ts.iter().zip(sums.iter_mut()) {
            let tphi = t * phi;
            // Tilted mean (I − 2M)⁻¹b and trace of (I − 2M)⁻¹ in the eigenbasis of B,
            // M = tφβ²B, b = 2tφαβBx₀.
            let mut log_mgf = tphi * alpha * alpha * xbx;
            let mut tr = 0.0;
            let mut mean = vec![0.0; d];
            for j in 0..d {
                let one = 1.0 - 2.0 * tphi * beta * beta * vals[j];
                let vb = 2.0 * tphi * alpha * beta * vbx[j];
                log_mgf += -0.5 * one.ln() + vb * vb / (2.0 * one);
                tr += 1.0 / one;
                for (i, m) in mean.iter_mut().enumerate() {
                    *m += vecs[(i, j)] * vb / one;
                }
            }
            let shifted = (0..d)
                .map(|i| {
                    let v = alpha * x0[(i, 0)] + beta * mean[i];
                    v * v
                })
                .sum::<f64>();
            *sum += log_mgf.exp() * (a * (shifted + beta * beta * tr) + g * x0n2);
        }
    }
    let sum = sums.into_iter().fold(f64::INFINITY, f64::min);
    Ok((e_h.min(sum), star))
}

/// The Monte Carlo estimate of the softmax → hard-max gap at one clean point, with its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxGap {
    /// Mean of $\Delta$ over the noises (estimates $\mathbb E_\varepsilon\Delta$ without bias).
    pub gap: f64,
    /// Its standard error.
    pub std_error: f64,
    /// The proven bound on $|\mathbb E_\varepsilon\Delta|$ ([`softmax_gap_bound`]).
    pub bound: f64,
    /// The rounding allowance of the mean of $\Delta$.
    pub rounding: f64,
}

/// Measures the softmax → hard-max gap of `s` at the clean point `x0` with `m` noises from `rng`.
///
/// # Errors
/// The subject's errors; eigendecomposition failure.
pub fn softmax_gap(
    s: &dyn Subject,
    bases: &[MatRef<'_, f64>],
    x0: MatRef<'_, f64>,
    level: NoiseLevel,
    m: usize,
    rng: &mut SeededRng,
) -> Result<SoftmaxGap> {
    let (d, k, r) = (x0.nrows(), bases.len(), bases[0].ncols());
    let (bound, star) = softmax_gap_bound(bases, x0, level)?;
    let (alpha, beta) = (level.alpha(), level.beta());
    let g = level.shrinkage();
    let phi = level.logit_coefficient(1.0);
    let e = standard_normal(rng, d, m);
    let xt = Mat::from_fn(d, m, |i, j| alpha * x0[(i, 0)] + beta * e[(i, j)]);
    let soft = s.posterior_mean(bases, xt.as_ref(), level)?;
    let u = bases[star];
    let mut deltas = Vec::with_capacity(m);
    let mut rounding = 0.0;
    for j in 0..m {
        let c: Vec<f64> = (0..r)
            .map(|l| (0..d).map(|i| u[(i, l)] * xt[(i, j)]).sum())
            .collect();
        let (mut a2, mut b2, mut nx2) = (0.0, 0.0, 0.0);
        for i in 0..d {
            let p: f64 = (0..r).map(|l| u[(i, l)] * c[l]).sum();
            let hb = g * p - x0[(i, 0)];
            let sa = soft[(i, j)] - x0[(i, 0)];
            a2 += sa * sa;
            b2 += hb * hb;
            nx2 += xt[(i, j)] * xt[(i, j)];
        }
        deltas.push(a2 - b2);
        let nx = nx2.sqrt();
        let eta = (4.0 * (r as f64).sqrt() * gamma(d) + 4.0 * EPS) * phi * nx2;
        let rho = (8.0 * gamma(d + r + 4) * (k as f64 + 1.0) + 4.0 * eta) * g * nx;
        rounding += (2.0 * b2.sqrt() * rho + rho * rho + 4.0 * gamma(d) * (a2 + b2)) / m as f64;
    }
    let mean = deltas.iter().sum::<f64>() / m as f64;
    let var = deltas.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1).max(1) as f64;
    Ok(SoftmaxGap {
        gap: mean,
        std_error: (var / m as f64).sqrt(),
        bound,
        rounding,
    })
}

impl Instance {
    /// A random instance: $K \in \{2, 3, 4\}$, $Kr \le d \le 40$, $N_k \in [r, r+4]$.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let k = rng.random_range(2..=4usize);
        let r = rng.random_range(1..=(40 / k).min(8));
        let d = rng.random_range(k * r..=40);
        let schedule = match rng.random_range(0..3) {
            0 => ScheduleKind::Ve,
            1 => ScheduleKind::VpLinear,
            _ => ScheduleKind::RectifiedFlow,
        };
        let (t0, t1) = match schedule {
            ScheduleKind::Ve => {
                let t0 = log_uniform(rng, -3.0, 0.0);
                (t0, t0 + log_uniform(rng, -1.0, 1.5))
            }
            _ => {
                let t0 = log_uniform(rng, -3.0, -0.5);
                (t0, t0 + (0.999 - t0) * rng.random_range(0.05..=1.0))
            }
        };
        Self {
            d,
            r,
            n_per: (0..k).map(|_| r + rng.random_range(0..=4)).collect(),
            alpha: log_uniform(rng, -1.3, 0.0),
            beta: log_uniform(rng, -2.0, 1.0),
            schedule,
            weight: match rng.random_range(0..3) {
                0 => WeightKind::Unit,
                1 => WeightKind::InverseNoiseVariance,
                _ => WeightKind::Snr,
            },
            t0,
            t1,
            candidate: match rng.random_range(0..3) {
                0 => Candidate::Truth,
                1 => Candidate::Random,
                _ => Candidate::Solver,
            },
            seed: rng.random(),
        }
    }

    /// Runs the facets on this crate's implementation.
    ///
    /// # Errors
    /// Construction or evaluation errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Construction or evaluation errors, including the subject's (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let (d, r, k) = (self.d, self.r, self.n_per.len());
        let (bases, coeffs, x) = clustered_data(d, r, &self.n_per, 0.0, self.seed)?;
        let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
        let n = x.ncols();
        let mut g = seeded(self.seed ^ 0x0008);
        let mut out = Vec::new();
        let level = NoiseLevel::new(self.alpha, self.beta)?;

        // Softmax parameterization = exact MoLRG posterior mean.
        let molrg = Molrg::uniform(&refs)?;
        let pts = 4.min(n);
        let e = standard_normal(&mut g, d, pts);
        let xt = Mat::from_fn(d, pts, |i, j| {
            self.alpha * x[(i, j)] + self.beta * e[(i, j)]
        });
        let a = s.posterior_mean(&refs, xt.as_ref(), level)?;
        let b = molrg.posterior_mean(xt.as_ref(), level)?;
        let phi = level.logit_coefficient(1.0);
        let gain = level.shrinkage();
        let mut worst = 0.0f64;
        for j in 0..pts {
            let nx = frobenius_norm(xt.as_ref().subcols(j, 1));
            let eta = (4.0 * (r as f64).sqrt() * gamma(d) + 4.0 * EPS) * phi * nx * nx;
            let tol = 8.0 * gamma(d + r + 4) * (k as f64 + 1.0) + 4.0 * eta;
            let err = frobenius_distance(a.as_ref().subcols(j, 1), b.as_ref().subcols(j, 1));
            worst = worst.max(err / (gain * nx + f64::MIN_POSITIVE) / tol);
        }
        out.push(Measurement::new("softmax_is_molrg", worst, 1.0));

        // K-subspaces: optimal (verified from the residuals) and equal to the truth.
        let sol = s.k_subspaces(x.as_ref(), k, r, &mut g)?;
        let est: Vec<_> = sol.iter().map(|b| b.as_ref()).collect();
        let delta = est
            .iter()
            .chain(refs.iter())
            .map(|u| orthonormality_deviation(*u))
            .fold(0.0, f64::max);
        let xf = frobenius_norm(x.as_ref());
        let mut allowed = 0.0;
        let mut allowance = 0.0f64;
        let mut off = 0;
        for (a_k, &nk) in coeffs.iter().zip(&self.n_per) {
            let xk = x.as_ref().subcols(off, nk);
            let f = frobenius_norm(xk);
            let e = svd_backward_error(d, nk, f) + (4.0 * delta + 1e-12) * f;
            allowed += e * e;
            allowance = allowance.max(cluster_allowance(a_k, xk)?);
            off += nk;
        }
        out.push(Measurement::new(
            "certified_optimal",
            residual_sum(&est, x.as_ref()) / (xf * xf),
            4.0 * allowed / (xf * xf) + 8.0 * gamma(d * r),
        ));
        let dist: Vec<Vec<f64>> = refs
            .iter()
            .map(|t| est.iter().map(|e| subspace_distance(*e, *t)).collect())
            .collect::<Result<_>>()?;
        let perm = best_permutation(&dist);
        let max_distance = (0..k).map(|c| dist[c][perm[c]]).fold(0.0, f64::max);
        let tol = allowance + 8.0 * delta;
        out.push(Measurement::new("equals_truth", max_distance, tol));
        out.push(Measurement::new(
            "feasible",
            cross_coherence(&est)?,
            2.0 * tol,
        ));

        // Hard-max loss = −C·N·J + const.
        let random;
        let cand: Vec<faer::MatRef<'_, f64>> = match self.candidate {
            Candidate::Truth => refs.clone(),
            Candidate::Solver => est.clone(),
            Candidate::Random => {
                random = (0..k)
                    .map(|_| crate::linalg::random_orthonormal(&mut g, d, r))
                    .collect::<Result<Vec<_>>>()?;
                random.iter().map(|b| b.as_ref()).collect()
            }
        };
        let schedule = self.schedule.build();
        let weight = self.weight.build();
        let coef = LossCoefficients::quadrature(schedule.as_ref(), &weight, self.t0, self.t1)?;
        let hard = s.hard_max_loss(
            &cand,
            x.as_ref(),
            schedule.as_ref(),
            &weight,
            self.t0,
            self.t1,
        )?;
        let j: f64 = labels_of(&cand, x.as_ref())
            .iter()
            .enumerate()
            .map(|(i, &l)| projection_sq(cand[l], x.as_ref(), i))
            .sum::<f64>()
            / n as f64;
        let x2 = xf * xf;
        let nr = (n * r) as f64;
        let predicted = -coef.c * n as f64 * j + coef.d(x2, n, r);
        let gg = gamma(d + r + 4);
        let sr = (r as f64).sqrt() + 1.0;
        let tol = hard.error
            + (coef.errors[0] + coef.errors[1]) * x2
            + nr * coef.errors[3]
            + 8.0 * gg * sr * (coef.c.abs() + 2.0 * coef.weight_integral) * x2
            + 16.0 * gg * nr * coef.noise;
        out.push(Measurement::new(
            "hard_max_identity",
            (hard.value - predicted).abs(),
            tol,
        ));

        // The two approximations: softmax loss vs hard-max loss at (α, β), one clean
        // sample per component, for the candidate bases.
        let mut gm = seeded(self.seed ^ 0x0108);
        let mut worst: Option<(f64, f64, f64)> = None;
        let mut off = 0;
        for &nk in &self.n_per {
            let sg = softmax_gap(s, &cand, x.as_ref().subcols(off, 1), level, 256, &mut gm)?;
            let tol = sg.bound + sg.rounding + 5.0 * sg.std_error;
            let ratio = sg.gap.abs() / tol;
            if worst.is_none_or(|w| ratio > w.0 || ratio.is_nan()) {
                worst = Some((ratio, sg.gap.abs(), tol));
            }
            off += nk;
        }
        if let Some((_, err, tol)) = worst {
            out.push(Measurement::new("softmax_gap", err, tol));
        }
        Ok(out)
    }
}

/// Draws one instance from `rng` and checks the implementation `s`.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R08's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R08",
    title: "K>1 DAE loss = subspace clustering; K-subspaces",
    proof: "proofs/R08-subspace-clustering.md",
    run_case,
};

/// $\|U^\top x_j\|^2$ for column `j` of `x`, by plain dot products (check-side, independent of
/// [`crate::reduction::KSubspaces`]).
pub fn projection_sq(u: faer::MatRef<'_, f64>, x: faer::MatRef<'_, f64>, j: usize) -> f64 {
    (0..u.ncols())
        .map(|l| {
            let c: f64 = (0..u.nrows()).map(|i| u[(i, l)] * x[(i, j)]).sum();
            c * c
        })
        .sum()
}

/// $\|(I - UU^\top)x_j\|^2$ for column `j` of `x`, from the residual vector itself (no
/// cancellation against $\|x_j\|^2$).
pub fn residual_sq(u: faer::MatRef<'_, f64>, x: faer::MatRef<'_, f64>, j: usize) -> f64 {
    let c: Vec<f64> = (0..u.ncols())
        .map(|l| (0..u.nrows()).map(|i| u[(i, l)] * x[(i, j)]).sum())
        .collect();
    (0..u.nrows())
        .map(|i| {
            let p: f64 = c.iter().enumerate().map(|(l, cl)| u[(i, l)] * cl).sum();
            let v = x[(i, j)] - p;
            v * v
        })
        .sum()
}

/// The check's own hard assignment $i \mapsto \arg\max_k\|U_k^\top x_i\|^2$ (first on ties).
pub fn labels_of(bases: &[faer::MatRef<'_, f64>], x: faer::MatRef<'_, f64>) -> Vec<usize> {
    (0..x.ncols())
        .map(|j| {
            let mut best = (0, f64::NEG_INFINITY);
            for (k, u) in bases.iter().enumerate() {
                let v = projection_sq(*u, x, j);
                if v > best.1 {
                    best = (k, v);
                }
            }
            best.0
        })
        .collect()
}

/// $\sum_i\min_k\|(I - U_kU_k^\top)x_i\|^2$ (the certificate gap $\|X\|_F^2 - NJ(U)$ of
/// `proofs/R08-subspace-clustering.md` statement 4), residual by residual.
pub fn residual_sum(bases: &[faer::MatRef<'_, f64>], x: faer::MatRef<'_, f64>) -> f64 {
    (0..x.ncols())
        .map(|j| {
            bases
                .iter()
                .map(|u| residual_sq(*u, x, j))
                .fold(f64::INFINITY, f64::min)
        })
        .sum()
}

/// The permutation $\pi$ (true component $\mapsto$ estimate) minimizing $\sum_k d_{k,\pi(k)}^2$ over the table `dist`
/// by exhaustive search over all $K!$ permutations (the check's own matching; $K \le 6$).
pub fn best_permutation(dist: &[Vec<f64>]) -> Vec<usize> {
    fn rec(
        dist: &[Vec<f64>],
        k: usize,
        used: &mut Vec<bool>,
        cur: &mut Vec<usize>,
        best: &mut (f64, Vec<usize>),
    ) {
        if k == dist.len() {
            let cost: f64 = cur
                .iter()
                .enumerate()
                .map(|(a, &b)| dist[a][b].powi(2))
                .sum();
            if cost < best.0 || best.1.is_empty() {
                *best = (cost, cur.clone());
            }
            return;
        }
        for b in 0..dist.len() {
            if !used[b] {
                used[b] = true;
                cur.push(b);
                rec(dist, k + 1, used, cur, best);
                cur.pop();
                used[b] = false;
            }
        }
    }
    let mut best = (f64::INFINITY, Vec::new());
    rec(
        dist,
        0,
        &mut vec![false; dist.len()],
        &mut Vec::new(),
        &mut best,
    );
    best.1
}

/// Largest $\|\hat U_a^\top\hat U_b\|_2$ over pairs $a < b$ (0 for $K = 1$).
///
/// # Errors
/// SVD failure.
pub fn cross_coherence(bases: &[faer::MatRef<'_, f64>]) -> Result<f64> {
    let mut coh = 0.0f64;
    for a in 0..bases.len() {
        for b in (a + 1)..bases.len() {
            let c = mul(bases[a].transpose(), bases[b]);
            let s = crate::linalg::singular_values(c.as_ref())?;
            coh = coh.max(s.first().copied().unwrap_or(0.0));
        }
    }
    Ok(coh)
}
