//! R07 (failure side of Theorem 2 of arXiv:2409.02426): with $N < r$ samples the PCA optimum is not
//! identifiable.
//!
//! The computations under test are the methods of [`Subject`]: a generic optimal basis, the
//! adversarial optimal basis, the formula for the largest error of an optimal basis, the
//! failure lower bound and the subspace distance. The check measures them against quantities
//! it computes itself: $\|\tilde X\|_F^2$, the numerical rank $k = N$ of the Gaussian data, and a lower
//! bound on $\sigma_N(\tilde X)$ from the Gram eigenvalues and from Weyl ([`super::r06::sigma_lower`]),
//! not from the subject's SVD.
//!
//! # Instances
//! $d \in [3, 48]$, $2 \le r < d$, $1 \le N < r$ (so $m = \min\{r - N, d - r\} \ge 1$: with $r = d$ every basis
//! is optimal and error-free, nothing to check). $E = sG$ with $s$ set from the drawn $A$, $G$ so that
//! the a-priori loss term $\min(\|E\|_F^2, m\|E\|_2^2)/(\sigma_N(A) - \|E\|_2)^2$ equals $\tau m$, $\tau$ log-uniform in
//! $[10^{-12}, 1/2]$ ([`relative_noise_scale`]): both lower bounds are positive (informative) on every
//! instance, where the earlier absolute noise level left many a-priori bounds at 0.
//!
//! # Facets
//! Every instance checks its coefficients $A$ twice, noise-free and noisy ($k$ = the numerical
//! rank of $\tilde X$, $= N$ a.s.).
//! - `numerical_rank`: the adversarial construction reports $k = N$.
//! - `contains_span_x`: every optimal $\hat U$ contains $\operatorname{span}\tilde X$; checked on the subject's
//!   optimal basis (completed at random, as a generic optimizer returns it):
//!   $\|(I - \hat U\hat U^\top)\tilde X\|_F \le \gamma_{8dN}\|\tilde X\|_F + 4\delta_{\hat U}\|\tilde X\|_F$
//!   (the SVD's backward error; the leading vectors span $\tilde X + \Delta X$ exactly).
//! - `objective_is_max`: the adversarial basis $\hat U = [Q, W]$ reaches the maximum $\|\tilde X\|_F^2$ of
//!   $\|U^\top\tilde X\|_F^2$, within twice the previous allowance times $\|\tilde X\|_F$.
//! - `adversarial_error_exact` (noise-free): its measured error equals `Subject::max_optimal_error`
//!   $\sqrt{2m}$: $|{\rm dist} - \sqrt{2m}| \le \sqrt2\,a/\sqrt m + 4\delta + 8\gamma_{d+r}\sqrt{2m}$ with
//!   $a = (\|\Delta X\|_F/\underline\sigma_N)^2$: the error lies in $[\sqrt2(m - a)_+^{1/2}, \sqrt{2(m + a)}]$
//!   (`proofs/R07-pca-failure.md`). Fails for a construction that picks $W$ from the largest singular
//!   values of $B^\top U_g$, and for a formula $\sqrt{2(r-N)}$ when $d - r < r - N$.
//! - `at_most_max_error` (noise-free): the generic optimal basis's error is at most $\sqrt{2m}$
//!   plus the same allowance (no optimal basis is farther).
//! - `failure_lower_bound` (noisy): dist $\ge$ `Subject::failure_lower_bound`
//!   $\sqrt2\big(m - \min(\|E\|_F^2, m\|E\|_2^2)/\sigma_N(\tilde X)^2\big)_+^{1/2}$ evaluated at the lower bound
//!   $\underline\sigma_N$; the measurement is the shortfall (bound − dist)$_+$, allowed $4\delta + 8\gamma_{d+r}\sqrt{2m}$.
//! - `failure_a_priori` (noisy): the same with $\sigma_N(A) - \|E\|_2$.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::log_uniform;
use super::r06::{Data, draw, draw_scaled, effective_noise, sigma_lower};
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::linalg::{frobenius_norm, orthonormality_deviation};
use crate::prec::gamma;
use crate::reduction::subspace::residual_matrix;
use crate::reduction::svd_backward_error;
use crate::reduction::{Pca, pca_objective};
use crate::rng::{SeededRng, seeded};

/// The computations R07 checks, each with a default body that calls this crate.
pub trait Subject: Sync {
    /// A generic optimal basis for $N < r$: $r$ orthonormal columns maximizing $\|U^\top X\|_F^2$ (the
    /// leading left singular vectors completed by random orthonormal directions drawn from
    /// `seeded(seed)`).
    ///
    /// # Errors
    /// Data validation or SVD failures.
    fn optimal_basis(&self, x: MatRef<'_, f64>, r: usize, seed: u64) -> Result<Mat<f64>> {
        Pca::fit(x, r)?.complete(&mut seeded(seed))
    }

    /// The optimal basis with the largest error $\|\hat U\hat U^\top - U_gU_g^\top\|_F$, the numerical rank $k$
    /// of $X$ and $\sigma_k(X)$ ([`crate::reduction::adversarial_optimal_basis`]).
    ///
    /// # Errors
    /// As [`crate::reduction::adversarial_optimal_basis`].
    fn adversarial_optimal_basis(
        &self,
        x: MatRef<'_, f64>,
        u_g: MatRef<'_, f64>,
    ) -> Result<(Mat<f64>, usize, f64)> {
        crate::reduction::adversarial_optimal_basis(x, u_g)
    }

    /// The largest error of an optimal basis for noise-free data of rank $k < r$ in $\mathbb R^d$:
    /// $\sqrt{2\min\{r-k, d-r\}}$.
    fn max_optimal_error(&self, d: usize, r: usize, k: usize) -> f64 {
        (2.0 * (r - k).min(d - r) as f64).sqrt()
    }

    /// The failure lower bound $\sqrt2\big(m - \min(\|E\|_F^2, m\|E\|_2^2)/\sigma_k^2\big)_+^{1/2}$
    /// ([`crate::reduction::failure_lower_bound`]).
    fn failure_lower_bound(&self, e_fro: f64, e_op: f64, m: usize, sigma_k: f64) -> f64 {
        crate::reduction::failure_lower_bound(e_fro, e_op, m, sigma_k)
    }

    /// The subspace distance $\|UU^\top - VV^\top\|_F$ of two orthonormal bases.
    ///
    /// # Errors
    /// Validation errors.
    fn subspace_distance(&self, u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<f64> {
        crate::reduction::subspace_distance(u, v)
    }
}

impl Subject for Reference {}

/// One R07 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Rank of the truth ($\ge 2$).
    pub r: usize,
    /// Samples ($1 \le N < r$).
    pub n: usize,
    /// Relative noise level $\tau \ge 0$ ([`relative_noise_scale`]; 0: only the noise-free facets).
    pub noise: f64,
    /// Seed.
    pub seed: u64,
}

/// The noise scale $s$ with $\min(s^2\|G\|_F^2, ms^2\|G\|_2^2)/(\sigma_N(A) - s\|G\|_2)^2 = \tau m$,
/// $m = \min\{r-N, d-r\}$: $s = \sqrt{\tau m}\,\sigma_N(A)/(\min(\|G\|_F, \sqrt m\|G\|_2) + \sqrt{\tau m}\|G\|_2)$
/// (0 if $m = 0$ or $\tau = 0$).
///
/// # Errors
/// SVD failures.
pub fn relative_noise_scale(a: &Mat<f64>, g: &Mat<f64>, d: usize, tau: f64) -> Result<f64> {
    let (r, n) = (a.nrows(), a.ncols());
    let m = (r - n.min(r)).min(d - r) as f64;
    if tau == 0.0 || m == 0.0 {
        return Ok(0.0);
    }
    let sa = crate::linalg::singular_values(a.as_ref())?;
    let sn = sa.get(n - 1).copied().unwrap_or(0.0);
    let g2 = crate::linalg::singular_values(g.as_ref())?
        .first()
        .copied()
        .unwrap_or(0.0);
    let gf = frobenius_norm(g.as_ref());
    let q = (tau * m).sqrt();
    Ok(q * sn / (gf.min(m.sqrt() * g2) + q * g2))
}

impl Instance {
    /// A random instance: `3 ≤ d ≤ 48`, `2 ≤ r < d`, `1 ≤ N < r`, $\tau$ log-uniform in $[10^{-12}, 1/2]$.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(3..=48);
        let r = rng.random_range(2..d);
        Self {
            d,
            r,
            n: rng.random_range(1..r),
            noise: log_uniform(rng, -12.0, -(2f64.log10())),
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
    /// Construction or evaluation errors (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let mut out = Vec::new();
        let clean = draw(self.d, self.r, self.n, 0.0, self.seed)?;
        self.facets(s, &clean, true, &mut out)?;
        if self.noise > 0.0 && self.r < self.d {
            let noisy = draw_scaled(self.d, self.r, self.n, self.seed, |a, g| {
                relative_noise_scale(a, g, self.d, self.noise)
            })?;
            self.facets(s, &noisy, false, &mut out)?;
        }
        Ok(out)
    }

    fn facets(
        &self,
        s: &dyn Subject,
        data: &Data,
        noise_free: bool,
        out: &mut Vec<Measurement>,
    ) -> Result<()> {
        let x = data.x.as_ref();
        let xf = frobenius_norm(x);
        let (d, r, n) = (self.d, self.r, self.n);

        // Every optimal basis contains span X: the subject's generic optimal basis.
        let u_rand = s.optimal_basis(x, r, self.seed ^ 0x636f_6d70)?;
        let d_rand = orthonormality_deviation(u_rand.as_ref());
        let res = frobenius_norm(residual_matrix(u_rand.as_ref(), x).as_ref());
        let tol_span = svd_backward_error(d, n, xf) + 4.0 * d_rand * xf;
        out.push(Measurement::new("contains_span_x", res, tol_span));

        // The constructed optimal basis with the largest error.
        let (u_adv, k, _) = s.adversarial_optimal_basis(x, data.u_g.as_ref())?;
        out.push(Measurement::holds("numerical_rank", k == n));
        // The check's own k = N, m and lower bound on σ_N(X̃) (Gram eigenvalues; Weyl below).
        let m = (r - n).min(d - r);
        let (sig, _) = sigma_lower(x, n)?;
        let (ef, e2) = effective_noise(data)?;
        let sa = crate::linalg::singular_values(data.a.as_ref())?;
        let af = frobenius_norm(data.a.as_ref());
        let sigma_n_a = sa[n - 1] - svd_backward_error(r, n, af);
        let sigma_n = sig[n - 1].max(sigma_n_a - e2);
        let obj = pca_objective(u_adv.as_ref(), x)?;
        let d_adv = orthonormality_deviation(u_adv.as_ref());
        out.push(Measurement::new(
            "objective_is_max",
            (obj - xf * xf).abs(),
            2.0 * (svd_backward_error(d, n, xf) + 4.0 * d_adv * xf) * xf
                + 8.0 * gamma(d + r) * xf * xf,
        ));
        let dist = s.subspace_distance(u_adv.as_ref(), data.u_g.as_ref())?;
        let delta = d_adv + orthonormality_deviation(data.u_g.as_ref());
        let max_err = (2.0 * m as f64).sqrt();
        let round = 4.0 * delta + 8.0 * gamma(d + r) * max_err;
        if noise_free {
            let a = if sigma_n > 0.0 {
                (ef / sigma_n).powi(2)
            } else {
                f64::INFINITY
            };
            let slack = if m > 0 {
                core::f64::consts::SQRT_2 * a / (m as f64).sqrt()
            } else {
                (2.0 * a).sqrt()
            };
            out.push(Measurement::new(
                "adversarial_error_exact",
                (dist - s.max_optimal_error(d, r, k)).abs(),
                slack + round,
            ));
            let d_r = s.subspace_distance(u_rand.as_ref(), data.u_g.as_ref())?;
            out.push(Measurement::new(
                "at_most_max_error",
                (d_r - max_err).max(0.0),
                slack + 4.0 * (d_rand + delta) + 8.0 * gamma(d + r) * max_err,
            ));
        } else {
            let lb = s.failure_lower_bound(ef, e2, m, sigma_n);
            out.push(Measurement::new(
                "failure_lower_bound",
                (lb - dist).max(0.0),
                round,
            ));
            // A-priori: σ_N(X̃) ≥ σ_N(A) − ‖E‖₂ (Weyl).
            let lb = s.failure_lower_bound(ef, e2, m, sigma_n_a - e2);
            out.push(Measurement::new(
                "failure_a_priori",
                (lb - dist).max(0.0),
                round,
            ));
        }
        Ok(())
    }
}

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry: [`run_case_with`] on this crate ([`Reference`]).
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R07's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R07",
    title: "PCA failure N < r: error sqrt(2 min(r-N, d-r))",
    proof: "proofs/R07-pca-failure.md",
    run_case,
};
