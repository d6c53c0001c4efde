//! R06 (Theorem 2(i)): with $N \ge r$ samples $\tilde X = U_gA + E$, PCA recovers $\operatorname{span}U_g$.
//!
//! Facets:
//! Every instance checks its coefficients $A$ twice: noise-free ($X = \mathrm{fl}(U_gA)$) and noisy.
//! - `exact_recovery` (noise-free): $\|\hat U\hat U^\top - U_gU_g^\top\|_F \le
//!   \sqrt2\,\|\Delta X\|_F/\hat\sigma_r + 4(\delta_{\hat U} + \delta_{U_g})$, where
//!   $\|\Delta X\|_F \le \gamma_r\sqrt r\|A\|_F + \gamma_{8dN}\|X\|_F$ bounds the rounding of
//!   $X = \mathrm{fl}(U_gA)$ and the SVD's backward error
//!   ([`crate::reduction::bounds::product_rounding`], [`crate::reduction::bounds::svd_backward_error`]), $\hat\sigma_r$ is the
//!   computed $\sigma_r(X)$ and $\delta$ the measured orthonormality defects (a basis
//!   orthonormal to $\delta$ moves its projector by $\le 2\delta$). This is the
//!   deterministic bound of `sin_theta_bound` with $E = \Delta X$: rounding level,
//!   scaled by the condition $\|X\|_F/\sigma_r(X)$.
//! - `sin_theta_bound` (noisy): every optimal $\hat U$ has
//!   $\|\hat U\hat U^\top - U_gU_g^\top\|_F \le \sqrt2\min(\|E\|_F,\sqrt r\|E\|_2)/\sigma_r(\tilde X)$
//!   ([`crate::reduction::bounds::recovery_bound`], proven in `proofs/R06-pca-recovery.md`), with $E$
//!   enlarged by the rounding terms above; the measured error must not exceed it.
//! - `sin_theta_a_priori` (noisy): the same with $\sigma_r(A) - \|E\|_2$ in the denominator
//!   (Weyl); the bound is $+\infty$ (vacuous) when $\|E\|_2 \ge \sigma_r(A)$.
//! - `ky_fan`: the PCA objective $\|\hat U^\top\tilde X\|_F^2$ equals $\sum_{j\le r}\hat\sigma_j^2$
//!   and is at least the objective of $U_g$ and of 4 random bases (brute-force
//!   competitors), within $8\gamma_{d+N}(\sqrt r + 1)\|\tilde X\|_F^2$.

use faer::Mat;
use rand::RngExt;

use super::instance::log_uniform;
use super::{CaseResult, Measurement};
use crate::error::Result;
use crate::linalg::{frobenius_norm, orthonormality_deviation, random_orthonormal};
use crate::prec::{EPS, gamma};
use crate::reduction::bounds::{
    product_rounding, recovery_bound, recovery_bound_a_priori, svd_backward_error,
};
use crate::reduction::{Pca, pca_objective, subspace_distance};
use crate::rng::{SeededRng, seeded, standard_normal};

/// One R06 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Rank of the truth.
    pub r: usize,
    /// Samples ($\ge r$).
    pub n: usize,
    /// Noise standard deviation per entry of $E$ (> 0; the noise-free facet uses $E = 0$).
    pub noise: f64,
    /// Seed for $U_g$, $A$, $E$.
    pub seed: u64,
}

/// The data of an instance of R06/R07.
#[derive(Debug, Clone)]
pub struct Data {
    /// The true basis $U_g$ (`d × r`).
    pub u_g: Mat<f64>,
    /// Coefficients $A$ (`r × N`).
    pub a: Mat<f64>,
    /// Noise $E$ (`d × N`).
    pub e: Mat<f64>,
    /// $\tilde X = \mathrm{fl}(U_gA) + E$.
    pub x: Mat<f64>,
}

/// Draws $U_g$ (Haar), $A$ and $E = \sigma G$ with i.i.d. standard normal entries.
///
/// # Errors
/// [`crate::Error::InvalidCount`] unless $1 \le r \le d$.
pub fn draw(d: usize, r: usize, n: usize, noise: f64, seed: u64) -> Result<Data> {
    let mut g = seeded(seed);
    let u_g = random_orthonormal(&mut g, d, r)?;
    let a = standard_normal(&mut g, r, n);
    let e0 = standard_normal(&mut g, d, n);
    let e = Mat::from_fn(d, n, |i, j| noise * e0[(i, j)]);
    let ua = &u_g * &a;
    let x = Mat::from_fn(d, n, |i, j| ua[(i, j)] + e[(i, j)]);
    Ok(Data { u_g, a, e, x })
}

/// $(\|E\|_F, \|E\|_2)$ enlarged by the rounding of forming $\tilde X$ and of its SVD.
pub fn effective_noise(data: &Data) -> Result<(f64, f64)> {
    let (d, n) = (data.x.nrows(), data.x.ncols());
    let r = data.u_g.ncols();
    let af = frobenius_norm(data.a.as_ref());
    let xf = frobenius_norm(data.x.as_ref());
    let ef = frobenius_norm(data.e.as_ref());
    let e2 = crate::linalg::singular_values(data.e.as_ref())?
        .first()
        .copied()
        .unwrap_or(0.0);
    // Rounding of U_g A, of the addition (≤ ε‖X̃‖_F), of the SVD, and of ‖E‖₂ itself.
    let extra = product_rounding(r, af) + EPS * xf + svd_backward_error(d, n, xf);
    Ok((ef + extra, e2 * (1.0 + 8.0 * gamma(d * n)) + extra))
}

impl Instance {
    /// A random instance: `d ≤ 48`, `N ∈ [r, r+20]`, $\sigma$ log-uniform in $[10^{-12}, 1]$.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(1..=48);
        let r = rng.random_range(1..=d);
        Self {
            d,
            r,
            n: r + rng.random_range(0..=20),
            noise: log_uniform(rng, -12.0, 0.0),
            seed: rng.random(),
        }
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Construction or evaluation errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        let mut out = Vec::new();
        // Noise-free: X = fl(U_g A) (the same U_g and A as the noisy data).
        let clean = draw(self.d, self.r, self.n, 0.0, self.seed)?;
        let (dist, bound, round) = self.recovery(&clean)?;
        out.push(Measurement::new("exact_recovery", dist, bound + round));
        // Noisy: X̃ = fl(U_g A) + E.
        let data = draw(self.d, self.r, self.n, self.noise, self.seed)?;
        let (dist, bound, dist_round) = self.recovery(&data)?;
        out.push(Measurement::new(
            "sin_theta_bound",
            dist,
            bound + dist_round,
        ));
        let (ef, e2) = effective_noise(&data)?;
        let sa = crate::linalg::singular_values(data.a.as_ref())?;
        let af = frobenius_norm(data.a.as_ref());
        // Computed σ_r(A) is within the SVD's backward error of the exact one. The
        // a-priori bound is +∞ (vacuous) unless ‖E‖₂ < σ_r(A).
        let sigma_r_a = sa[self.r - 1] - svd_backward_error(self.r, self.n, af);
        out.push(Measurement::new(
            "sin_theta_a_priori",
            dist,
            recovery_bound_a_priori(ef, e2, self.r, sigma_r_a) + dist_round,
        ));
        // Ky Fan: the SVD solution's objective is the optimum and beats competitors.
        let pca = Pca::fit(data.x.as_ref(), self.r)?;
        let u_hat = pca.basis();
        let xf = frobenius_norm(data.x.as_ref());
        let tol = 8.0 * gamma(self.d + self.n) * ((self.r as f64).sqrt() + 1.0) * xf * xf;
        let obj = pca_objective(u_hat, data.x.as_ref())?;
        out.push(Measurement::new(
            "ky_fan",
            (obj - pca.objective()).abs(),
            tol,
        ));
        let mut g = seeded(self.seed ^ 0x006b_7966);
        let mut worst = pca_objective(data.u_g.as_ref(), data.x.as_ref())? - obj;
        for _ in 0..4 {
            let v = random_orthonormal(&mut g, self.d, self.r)?;
            worst = worst.max(pca_objective(v.as_ref(), data.x.as_ref())? - obj);
        }
        out.push(Measurement::new("ky_fan", worst.max(0.0), tol));
        Ok(out)
    }

    /// The PCA error, the a-posteriori bound and the rounding allowance of the distance.
    fn recovery(&self, data: &Data) -> Result<(f64, f64, f64)> {
        let pca = Pca::fit(data.x.as_ref(), self.r)?;
        let u_hat = pca.basis();
        let dist = subspace_distance(u_hat, data.u_g.as_ref())?;
        let delta = orthonormality_deviation(u_hat) + orthonormality_deviation(data.u_g.as_ref());
        let (ef, e2) = effective_noise(data)?;
        let dist_round = 4.0 * delta + 8.0 * gamma(self.d + self.r) * dist;
        Ok((
            dist,
            recovery_bound(ef, e2, self.r, pca.sigma_r()),
            dist_round,
        ))
    }
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    CaseResult::of(Instance::sample(rng), Instance::check)
}
