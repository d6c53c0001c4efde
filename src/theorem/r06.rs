//! R06 (recovery side of Theorem 2 of arXiv:2409.02426): with $N \ge r$ samples $\tilde X = U_gA + E$,
//! PCA recovers $\operatorname{span}U_g$, with the explicit bound proven in `proofs/R06-pca-recovery.md`.
//!
//! The computations under test are the methods of [`Subject`] (the PCA basis, the subspace
//! distance, the two sin-Θ bounds); the check compares them with quantities it computes
//! itself by a different route: $\sigma_r(\tilde X)$ from the eigenvalues of the Gram matrix (not from
//! the SVD under test), and, on a *tight* instance built so that the bound is attained, the
//! distance and $\sigma_r$ in closed form.
//!
//! # Instances
//! $d \in [2, 48]$, $1 \le r < d$, $N \in [r, r+20]$, $U_g$ Haar, $A$ and $G$ standard Gaussian,
//! $E = sG$. The noise scale $s$ is set from the drawn $A$, $G$ so that the a-priori bound equals
//! $\tau\sqrt{2\min(r, d-r)}$ (the trivial maximum of the distance) with $\tau$ log-uniform in
//! $[10^{-12}, 1/2]$: both bounds are informative on every instance (the `informative` facet
//! asserts it), where the earlier absolute noise level made 26/200 a-posteriori and 37/200
//! a-priori bounds vacuous.
//!
//! # Facets
//! - `exact_recovery` (noise-free $X = \mathrm{fl}(U_gA)$): $\|\hat U\hat U^\top - U_gU_g^\top\|_F \le
//!   \sqrt2\,\|\Delta X\|_F/\underline\sigma_r + 4(\delta_{\hat U} + \delta_{U_g})$, where
//!   $\|\Delta X\|_F \le \gamma_r\sqrt r\|A\|_F + \gamma_{8dN}\|X\|_F$ bounds the rounding of
//!   $X = \mathrm{fl}(U_gA)$ and the SVD's backward error
//!   ([`crate::reduction::product_rounding`], [`crate::reduction::svd_backward_error`]),
//!   $\underline\sigma_r$ is the larger of two lower bounds on $\sigma_r(\tilde X)$ computed without the SVD under
//!   test (the Gram eigenvalues, [`sigma_lower`], and Weyl from the coefficients, $\sigma_r(A) - \|E\|_2$) and $\delta$ the measured orthonormality
//!   defects. Fails for a basis that misses $\operatorname{span}X$ (e.g. the smallest singular vectors).
//! - `sin_theta_bound`: the measured distance must not exceed `Subject::recovery_bound`
//!   $\sqrt2\min(\|E\|_F,\sqrt r\|E\|_2)/\sigma_r(\tilde X)$ (with $E$ enlarged by the rounding terms above and
//!   $\sigma_r(\tilde X)$ replaced by $\underline\sigma_r$) on the noisy instance, and on the tight instance
//!   (where the bound is attained, so a constant below $\sqrt2$ fails).
//! - `sin_theta_tight`: on the tight instance the bound equals the closed-form distance
//!   $\sqrt2\varepsilon/\sqrt{1+\varepsilon^2}$ to $16\varepsilon_{\rm mach}$ relative (a constant above $\sqrt2$, or
//!   $\|E\|_2$ in place of the minimum, fails).
//! - `tight_distance`: on the tight instance the measured distance equals the closed form, within
//!   $\sqrt2\eta/(\sigma_r - \eta) + 4r(\delta_{\hat U} + \delta_{U}) + 8\gamma_{d+r}\,$dist ($\eta$ the rounding of
//!   forming $\tilde X$ plus the SVD's backward error; R06 statement 1 with the truth $\operatorname{span}\tilde X$).
//! - `sin_theta_a_priori`: the same as `sin_theta_bound` with `Subject::recovery_bound_a_priori` and
//!   $\sigma_r(A) - \|E\|_2$ (Weyl) on the noisy and the tight instance ($\sigma_r(A) = 1$ there).
//! - `informative`: both noisy bounds are below the trivial maximum $\sqrt{2\min(r, d-r)}$
//!   (error = largest bound / maximum, tolerance 1; skipped if $r = d$).
//! - `ky_fan`: the objective $\|\hat U^\top\tilde X\|_F^2$ of the subject's basis equals the sum of the $r$
//!   largest Gram eigenvalues (an independent computation of $\sum_{j\le r}\sigma_j^2$), within
//!   $8\gamma_{d+N}(\sqrt r + 1)\|\tilde X\|_F^2 + r\eta_G$, and is not beaten by $U_g$ or 4 random bases.
//!
//! # Tight instance
//! $U = [U_g, z]$ Haar ($d \times (r+1)$), $V$ Haar ($N \times r$), $s_r = 1$, $s_j \in [3/2, 3]$ ($j < r$),
//! $\varepsilon$ log-uniform in $[10^{-8}, 1/2]$, $A = \operatorname{diag}(s)V^\top$, $E = \varepsilon zv_r^\top$. The columns of
//! $U_g\operatorname{diag}(s) + \varepsilon ze_r^\top$ are orthogonal, so $\sigma_r(\tilde X) = \sqrt{1+\varepsilon^2}$, the PCA subspace is
//! $\operatorname{span}\tilde X$, the distance is $\sqrt2\varepsilon/\sqrt{1+\varepsilon^2}$ and
//! $\|E\|_F = \|E\|_2 = \varepsilon$: the a-posteriori bound holds with equality.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::log_uniform;
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::linalg::{
    frobenius_norm, mul, orthonormality_deviation, random_orthonormal, symmetric_eigenvalues,
};
use crate::prec::{EPS, gamma};
use crate::reduction::{Pca, pca_objective};
use crate::reduction::{product_rounding, svd_backward_error};
use crate::rng::{SeededRng, seeded, standard_normal};

/// The computations R06 checks, each with a default body that calls this crate.
///
/// Implement it for your own PCA / distance / bound code and run
/// [`run_case_with`] on it (see [`super::run_cases`]).
pub trait Subject: Sync {
    /// An optimal PCA basis: $r$ orthonormal columns $\hat U \in \mathbb R^{d\times r}$ maximizing
    /// $\|U^\top X\|_F^2$ over $U^\top U = I_r$ (the $r$ leading left singular vectors of $X$; here $r \le N$).
    ///
    /// # Errors
    /// Data validation or SVD failures.
    fn pca_basis(&self, x: MatRef<'_, f64>, r: usize) -> Result<Mat<f64>> {
        Ok(Pca::fit(x, r)?.basis().to_owned())
    }

    /// The subspace distance $\|UU^\top - VV^\top\|_F$ of two orthonormal bases.
    ///
    /// # Errors
    /// Validation errors (non-orthonormal bases, dimension mismatch).
    fn subspace_distance(&self, u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<f64> {
        crate::reduction::subspace_distance(u, v)
    }

    /// The a-posteriori sin-Θ bound $\sqrt2\min(\|E\|_F, \sqrt r\|E\|_2)/\sigma_r(\tilde X)$
    /// ($+\infty$ if $\sigma_r \le 0$).
    fn recovery_bound(&self, e_fro: f64, e_op: f64, r: usize, sigma_r: f64) -> f64 {
        crate::reduction::recovery_bound(e_fro, e_op, r, sigma_r)
    }

    /// The a-priori bound $\sqrt2\min(\|E\|_F, \sqrt r\|E\|_2)/(\sigma_r(A) - \|E\|_2)$
    /// ($+\infty$ unless $\|E\|_2 < \sigma_r(A)$).
    fn recovery_bound_a_priori(&self, e_fro: f64, e_op: f64, r: usize, sigma_r_a: f64) -> f64 {
        crate::reduction::recovery_bound_a_priori(e_fro, e_op, r, sigma_r_a)
    }
}

impl Subject for Reference {}

/// One R06 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Rank of the truth.
    pub r: usize,
    /// Samples ($\ge r$).
    pub n: usize,
    /// Relative noise level $\tau \ge 0$: $E = sG$ with $s$ chosen so that the a-priori bound is
    /// $\tau\sqrt{2\min(r, d-r)}$ ([`relative_noise_scale`]); 0 is noise-free (only the noise-free facet
    /// and the tight instance are then checked).
    pub noise: f64,
    /// Seed for $U_g$, $A$, $E$ and the tight instance.
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
    draw_scaled(d, r, n, seed, |_, _| Ok(noise))
}

/// As [`draw`], with the noise scale computed by `scale(A, G)` from the drawn coefficients and
/// the standard Gaussian $G$ ($E = \text{scale}\cdot G$); the random stream is the same as [`draw`]'s.
///
/// # Errors
/// As [`draw`] and `scale`.
pub fn draw_scaled(
    d: usize,
    r: usize,
    n: usize,
    seed: u64,
    scale: impl FnOnce(&Mat<f64>, &Mat<f64>) -> Result<f64>,
) -> Result<Data> {
    let mut g = seeded(seed);
    let u_g = random_orthonormal(&mut g, d, r)?;
    let a = standard_normal(&mut g, r, n);
    let e0 = standard_normal(&mut g, d, n);
    let noise = scale(&a, &e0)?;
    let e = Mat::from_fn(d, n, |i, j| noise * e0[(i, j)]);
    let ua = &u_g * &a;
    let x = Mat::from_fn(d, n, |i, j| ua[(i, j)] + e[(i, j)]);
    Ok(Data { u_g, a, e, x })
}

/// The noise scale $s$ with $\sqrt2\,s\min(\|G\|_F, \sqrt r\|G\|_2)/(\sigma_r(A) - s\|G\|_2) = \tau T$,
/// $T = \sqrt{2\min(r, d-r)}$: $s = \tau T\sigma_r(A)/(\sqrt2\min(\|G\|_F,\sqrt r\|G\|_2) + \tau T\|G\|_2)$, so the
/// a-priori bound of $E = sG$ is $\tau T$ (and the a-posteriori one at most that, by Weyl).
///
/// # Errors
/// SVD failures.
pub fn relative_noise_scale(a: &Mat<f64>, g: &Mat<f64>, d: usize, tau: f64) -> Result<f64> {
    let r = a.nrows();
    let t = (2.0 * r.min(d - r) as f64).sqrt();
    if tau == 0.0 || t == 0.0 {
        return Ok(0.0);
    }
    let sa = crate::linalg::singular_values(a.as_ref())?;
    let sr = sa.get(r - 1).copied().unwrap_or(0.0);
    let g2 = crate::linalg::singular_values(g.as_ref())?
        .first()
        .copied()
        .unwrap_or(0.0);
    let gf = frobenius_norm(g.as_ref());
    let m = gf.min((r as f64).sqrt() * g2);
    Ok(tau * t * sr / (core::f64::consts::SQRT_2 * m + tau * t * g2))
}

/// $(\|E\|_F, \|E\|_2)$ enlarged by the rounding of forming $\tilde X$ and of its SVD.
///
/// # Errors
/// SVD failures.
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

/// Lower bounds on the $j$ largest singular values of $X$ ($j \le \min(d, N)$), computed
/// without an SVD of $X$: the eigenvalues of the Gram matrix $X^\top X$ (or $XX^\top$, the smaller),
/// each lowered by $\eta_G = (\gamma_m + \gamma_{8p^2}(1 + \gamma_m))\|X\|_F^2$ (the rounding of the product,
/// inner dimension $m$, plus a backward-stable symmetric eigensolver's error on a $p\times p$ matrix;
/// Weyl), then square-rooted. Returns the lower bounds (non-increasing) and $\eta_G$.
///
/// # Errors
/// Eigensolver failures.
pub fn sigma_lower(x: MatRef<'_, f64>, j: usize) -> Result<(Vec<f64>, f64)> {
    let (d, n) = (x.nrows(), x.ncols());
    let (gram, p, m) = if n <= d {
        (mul(x.transpose(), x), n, d)
    } else {
        (mul(x, x.transpose()), d, n)
    };
    let xf = frobenius_norm(x);
    let eta = (gamma(m) + gamma(8 * p * p) * (1.0 + gamma(m))) * xf * xf;
    let mut ev = symmetric_eigenvalues(gram.as_ref())?;
    ev.reverse();
    let out = ev
        .iter()
        .take(j)
        .map(|&l| (l - eta).max(0.0).sqrt())
        .collect();
    Ok((out, eta))
}

/// The sum of the $r$ largest eigenvalues of the Gram matrix (i.e. $\sum_{j\le r}\sigma_j(X)^2$) and
/// its error allowance $r\eta_G$ (see [`sigma_lower`]).
///
/// # Errors
/// Eigensolver failures.
pub fn top_energy(x: MatRef<'_, f64>, r: usize) -> Result<(f64, f64)> {
    let (d, n) = (x.nrows(), x.ncols());
    let (gram, p, m) = if n <= d {
        (mul(x.transpose(), x), n, d)
    } else {
        (mul(x, x.transpose()), d, n)
    };
    let xf = frobenius_norm(x);
    let eta = (gamma(m) + gamma(8 * p * p) * (1.0 + gamma(m))) * xf * xf;
    let ev = symmetric_eigenvalues(gram.as_ref())?;
    let k = r.min(ev.len());
    let sum: f64 = ev.iter().rev().take(k).map(|&l| l.max(0.0)).sum();
    Ok((sum, k as f64 * eta + gamma(p) * sum))
}

impl Instance {
    /// A random instance: `2 ≤ d ≤ 48`, `1 ≤ r < d`, `N ∈ [r, r+20]`, $\tau$ log-uniform in
    /// $[10^{-12}, 1/2]$.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(2..=48);
        let r = rng.random_range(1..d);
        Self {
            d,
            r,
            n: r + rng.random_range(0..=20),
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
        let (d, r, n) = (self.d, self.r, self.n);
        // Noise-free: X = fl(U_g A) (the same U_g and A as the noisy data).
        let clean = draw(d, r, n, 0.0, self.seed)?;
        let (dist, bound, round) = self.recovery(s, &clean)?;
        out.push(Measurement::new("exact_recovery", dist, bound + round));
        let trivial = (2.0 * r.min(d - r) as f64).sqrt();
        if self.noise > 0.0 && trivial > 0.0 {
            // Noisy: X̃ = fl(U_g A) + E, E scaled so that the a-priori bound is τ·trivial.
            let data = draw_scaled(d, r, n, self.seed, |a, g| {
                relative_noise_scale(a, g, d, self.noise)
            })?;
            let (dist, bound, dist_round) = self.recovery(s, &data)?;
            out.push(Measurement::new(
                "sin_theta_bound",
                dist,
                bound + dist_round,
            ));
            let (ef, e2) = effective_noise(&data)?;
            let sa = crate::linalg::singular_values(data.a.as_ref())?;
            let af = frobenius_norm(data.a.as_ref());
            // Computed σ_r(A) is within the SVD's backward error of the exact one.
            let sigma_r_a = sa[r - 1] - svd_backward_error(r, n, af);
            let prior = s.recovery_bound_a_priori(ef, e2, r, sigma_r_a);
            out.push(Measurement::new(
                "sin_theta_a_priori",
                dist,
                prior + dist_round,
            ));
            out.push(Measurement::new(
                "informative",
                bound.max(prior) / trivial,
                1.0,
            ));
            self.ky_fan(s, &data, &mut out)?;
        } else {
            self.ky_fan(s, &clean, &mut out)?;
        }
        if r < d {
            self.tight(s, &mut out)?;
        }
        Ok(out)
    }

    /// Ky Fan: the subject's basis reaches $\sum_{j\le r}\sigma_j^2$ (Gram eigenvalues) and beats competitors.
    fn ky_fan(&self, s: &dyn Subject, data: &Data, out: &mut Vec<Measurement>) -> Result<()> {
        let x = data.x.as_ref();
        let u_hat = s.pca_basis(x, self.r)?;
        let xf = frobenius_norm(x);
        let (top, top_err) = top_energy(x, self.r)?;
        let tol = 8.0 * gamma(self.d + self.n) * ((self.r as f64).sqrt() + 1.0) * xf * xf;
        let obj = pca_objective(u_hat.as_ref(), x)?;
        out.push(Measurement::new(
            "ky_fan",
            (obj - top).abs(),
            tol + top_err
                + 4.0 * self.r as f64 * orthonormality_deviation(u_hat.as_ref()) * xf * xf,
        ));
        let mut g = seeded(self.seed ^ 0x006b_7966);
        let mut worst = pca_objective(data.u_g.as_ref(), x)? - obj;
        for _ in 0..4 {
            let v = random_orthonormal(&mut g, self.d, self.r)?;
            worst = worst.max(pca_objective(v.as_ref(), x)? - obj);
        }
        out.push(Measurement::new("ky_fan", worst.max(0.0), tol));
        Ok(())
    }

    /// The tight instance: the a-posteriori bound is attained (module docs).
    fn tight(&self, s: &dyn Subject, out: &mut Vec<Measurement>) -> Result<()> {
        let (d, r, n) = (self.d, self.r, self.n);
        let mut g = seeded(self.seed ^ 0x74_6967_6874);
        let u = random_orthonormal(&mut g, d, r + 1)?;
        let v = random_orthonormal(&mut g, n, r)?;
        let eps = log_uniform(&mut g, -8.0, -(2f64.log10()));
        let sv: Vec<f64> = (0..r)
            .map(|j| {
                if j + 1 == r {
                    1.0
                } else {
                    1.5 + 1.5 * g.random::<f64>()
                }
            })
            .collect();
        // M = U_g diag(s) + ε z e_rᵀ (d × r), X̃ = M Vᵀ.
        let mm = Mat::from_fn(d, r, |i, j| {
            let base = u[(i, j)] * sv[j];
            if j + 1 == r {
                base + eps * u[(i, r)]
            } else {
                base
            }
        });
        let x = mul(mm.as_ref(), v.as_ref().transpose());
        let u_g = u.as_ref().subcols(0, r);
        let u_hat = s.pca_basis(x.as_ref(), r)?;
        let dist = s.subspace_distance(u_hat.as_ref(), u_g)?;
        let sigma_r = (1.0 + eps * eps).sqrt();
        let exact = core::f64::consts::SQRT_2 * eps / sigma_r;
        let d_u = orthonormality_deviation(u.as_ref()) + orthonormality_deviation(v.as_ref());
        let d_hat = orthonormality_deviation(u_hat.as_ref());
        let mf = frobenius_norm(mm.as_ref());
        let xf = frobenius_norm(x.as_ref());
        let eta = (gamma(r + 2) * (r as f64).sqrt() + 4.0 * r as f64 * d_u) * mf
            + svd_backward_error(d, n, xf);
        let tol = core::f64::consts::SQRT_2 * eta / (sigma_r - eta)
            + 4.0 * r as f64 * (d_hat + d_u)
            + 8.0 * gamma(d + r) * exact;
        out.push(Measurement::new(
            "tight_distance",
            (dist - exact).abs(),
            tol,
        ));
        let bound = s.recovery_bound(eps, eps, r, sigma_r);
        out.push(Measurement::new("sin_theta_bound", dist, bound + tol));
        out.push(Measurement::new(
            "sin_theta_tight",
            (bound - exact).abs(),
            16.0 * EPS * exact,
        ));
        let prior = s.recovery_bound_a_priori(eps, eps, r, 1.0);
        out.push(Measurement::new("sin_theta_a_priori", dist, prior + tol));
        Ok(())
    }

    /// The PCA error, the a-posteriori bound (with the Gram lower bound on $\sigma_r$) and the
    /// rounding allowance of the distance.
    fn recovery(&self, s: &dyn Subject, data: &Data) -> Result<(f64, f64, f64)> {
        let u_hat = s.pca_basis(data.x.as_ref(), self.r)?;
        let dist = s.subspace_distance(u_hat.as_ref(), data.u_g.as_ref())?;
        let delta =
            orthonormality_deviation(u_hat.as_ref()) + orthonormality_deviation(data.u_g.as_ref());
        let (ef, e2) = effective_noise(data)?;
        // Two independent lower bounds on σ_r(X̃), neither from the SVD under test: the Gram
        // eigenvalues, and Weyl from the coefficients, σ_r(A) − ‖E‖₂ (σ_r(U_gA) = σ_r(A)).
        let (sig, _) = sigma_lower(data.x.as_ref(), self.r)?;
        let gram = sig.get(self.r - 1).copied().unwrap_or(0.0);
        let sa = crate::linalg::singular_values(data.a.as_ref())?;
        let af = frobenius_norm(data.a.as_ref());
        let weyl = sa[self.r - 1] - svd_backward_error(self.r, self.n, af) - e2;
        let sigma_r = gram.max(weyl);
        let dist_round = 4.0 * delta + 8.0 * gamma(self.d + self.r) * dist;
        Ok((dist, s.recovery_bound(ef, e2, self.r, sigma_r), dist_round))
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

/// R06's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R06",
    title: "PCA recovery N >= r: exact; noisy sin-theta bound",
    proof: "proofs/R06-pca-recovery.md",
    run_case,
};
