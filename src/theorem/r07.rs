//! R07 (Theorem 2(ii)): with $N < r$ samples the PCA optimum is not identifiable.
//!
//! Every instance checks its coefficients $A$ twice, noise-free and noisy.
//! With $m = \min\{r - k, d - r\}$ and $k$ = the numerical rank of $\tilde X$ ($= N$ a.s.):
//! - `contains_span_x`: every optimal $\hat U$ contains $\operatorname{span}\tilde X$; checked on the
//!   PCA solution completed at random (as a generic optimizer returns it):
//!   $\|(I - \hat U\hat U^\top)\tilde X\|_F \le \gamma_{8dN}\|\tilde X\|_F + 4\delta_{\hat U}\|\tilde X\|_F$
//!   (the SVD's backward error; the leading vectors span $\tilde X + \Delta X$ exactly).
//! - `objective_is_max`: the constructed $\hat U = [Q, W]$
//!   ([`crate::reduction::bounds::adversarial_optimal_basis`]) reaches the maximum $\|\tilde X\|_F^2$ of
//!   $\|U^\top\tilde X\|_F^2$, within twice the previous allowance times $\|\tilde X\|_F$.
//! - `adversarial_error_exact` (noise-free): its error is exactly $\sqrt{2m}$:
//!   $|{\rm dist} - \sqrt{2m}| \le \sqrt2\,a/\sqrt m + 4\delta + 8\gamma_{d+r}\sqrt{2m}$
//!   ($\sqrt{2a}$ if $m = 0$) with $a = (\|\Delta X\|_F/\sigma_k)^2$: the error lies in
//!   $[\sqrt2(m - a)_+^{1/2}, \sqrt{2(m + a)}]$ (`proofs/R07-pca-failure.md`).
//! - `at_most_max_error` (noise-free): the random completion's error is at most $\sqrt{2m}$
//!   plus the same allowance (no optimal basis is farther).
//! - `failure_lower_bound` (noisy): dist $\ge \sqrt2\big(m - \min(\|E\|_F^2, m\|E\|_2^2)/\sigma_k(\tilde X)^2\big)_+^{1/2}$
//!   ([`crate::reduction::bounds::failure_lower_bound`]); the measurement is the shortfall (bound − dist)$_+$,
//!   allowed $4\delta + 8\gamma_{d+r}\sqrt{2m}$.
//! - `failure_a_priori` (noisy): the same with $\sigma_N(A) - \|E\|_2$ (vacuous, i.e. a bound of 0,
//!   unless $\|E\|_2 < \sigma_N(A)$).

use rand::RngExt;

use super::instance::log_uniform;
use super::r06::{Data, draw, effective_noise};
use super::{CaseResult, Measurement};
use crate::error::Result;
use crate::linalg::{frobenius_norm, orthonormality_deviation};
use crate::prec::gamma;
use crate::reduction::bounds::{
    adversarial_optimal_basis, failure_lower_bound, svd_backward_error,
};
use crate::reduction::subspace::residual_matrix;
use crate::reduction::{Pca, pca_objective, subspace_distance};
use crate::rng::{SeededRng, seeded};

/// One R07 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Rank of the truth ($\ge 2$).
    pub r: usize,
    /// Samples ($1 \le N < r$).
    pub n: usize,
    /// Noise standard deviation per entry of $E$ (> 0; the noise-free facets use $E = 0$).
    pub noise: f64,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance: `2 ≤ d ≤ 48`, `2 ≤ r ≤ d`, `1 ≤ N < r`, $\sigma$ log-uniform in $[10^{-12}, 10^{-1}]$.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(2..=48);
        let r = rng.random_range(2..=d);
        Self {
            d,
            r,
            n: rng.random_range(1..r),
            noise: log_uniform(rng, -12.0, -1.0),
            seed: rng.random(),
        }
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Construction or evaluation errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        let mut out = Vec::new();
        let clean = draw(self.d, self.r, self.n, 0.0, self.seed)?;
        self.facets(&clean, true, &mut out)?;
        let noisy = draw(self.d, self.r, self.n, self.noise, self.seed)?;
        self.facets(&noisy, false, &mut out)?;
        Ok(out)
    }

    fn facets(&self, data: &Data, noise_free: bool, out: &mut Vec<Measurement>) -> Result<()> {
        let x = data.x.as_ref();
        let xf = frobenius_norm(x);

        // Every optimal basis contains span X: the randomly completed PCA solution.
        let pca = Pca::fit(x, self.r)?;
        let u_rand = pca.complete(&mut seeded(self.seed ^ 0x636f_6d70))?;
        let d_rand = orthonormality_deviation(u_rand.as_ref());
        let res = frobenius_norm(residual_matrix(u_rand.as_ref(), x).as_ref());
        let tol_span = svd_backward_error(self.d, self.n, xf) + 4.0 * d_rand * xf;
        out.push(Measurement::new("contains_span_x", res, tol_span));

        // The constructed optimal basis with the largest error.
        let (u_adv, k, sigma_k) = adversarial_optimal_basis(x, data.u_g.as_ref())?;
        let m = (self.r - k).min(self.d - self.r);
        let obj = pca_objective(u_adv.as_ref(), x)?;
        let d_adv = orthonormality_deviation(u_adv.as_ref());
        out.push(Measurement::new(
            "objective_is_max",
            (obj - xf * xf).abs(),
            2.0 * (svd_backward_error(self.d, self.n, xf) + 4.0 * d_adv * xf) * xf
                + 8.0 * gamma(self.d + self.r) * xf * xf,
        ));
        let dist = subspace_distance(u_adv.as_ref(), data.u_g.as_ref())?;
        let delta = d_adv + orthonormality_deviation(data.u_g.as_ref());
        let max_err = (2.0 * m as f64).sqrt();
        let (ef, e2) = effective_noise(data)?;
        let round = 4.0 * delta + 8.0 * gamma(self.d + self.r) * max_err;
        if noise_free {
            let a = if sigma_k > 0.0 {
                (ef / sigma_k).powi(2)
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
                (dist - max_err).abs(),
                slack + round,
            ));
            let d_r = subspace_distance(u_rand.as_ref(), data.u_g.as_ref())?;
            out.push(Measurement::new(
                "at_most_max_error",
                (d_r - max_err).max(0.0),
                slack + 4.0 * (d_rand + delta) + 8.0 * gamma(self.d + self.r) * max_err,
            ));
        } else {
            let lb = failure_lower_bound(ef, e2, m, sigma_k);
            out.push(Measurement::new(
                "failure_lower_bound",
                (lb - dist).max(0.0),
                round,
            ));
            // A-priori: σ_k(X̃) ≥ σ_N(A) − ‖E‖₂ when k = N; the bound is 0 (vacuous) otherwise.
            let sa = crate::linalg::singular_values(data.a.as_ref())?;
            let af = frobenius_norm(data.a.as_ref());
            let sigma_n_a = sa[self.n - 1] - svd_backward_error(self.r, self.n, af);
            let lb = if k == self.n {
                failure_lower_bound(ef, e2, m, sigma_n_a - e2)
            } else {
                0.0
            };
            out.push(Measurement::new(
                "failure_a_priori",
                (lb - dist).max(0.0),
                round,
            ));
        }
        Ok(())
    }
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    CaseResult::of(Instance::sample(rng), Instance::check)
}
