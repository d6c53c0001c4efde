//! R05 (Theorem 1): the K = 1 DAE loss equals $-C\|U^\top X\|_F^2 + D$, so minimizing it is PCA.
//!
//! Facets (all on random $(U, X, \text{schedule}, \lambda, [t_0, t_1])$):
//! - `closed_vs_quadrature`: [`dae_loss_closed_form`] (coefficients by scalar quadrature)
//!   against [`dae_loss_quadrature`] (adaptive Gauss–Legendre of the actual denoiser's
//!   exact $\varepsilon$-expectation). Tolerance: the two stated quadrature errors, the
//!   coefficient errors times the energies they multiply, and the rounding of both
//!   paths: $8\gamma_{d+r+4}(\sqrt r+1)(L + C')\|X\|_F^2 + 8\gamma_{d+r+4}NrG$ for the
//!   closed form (entries of $U^\top X$ have error $\le\gamma_d\|x_i\|$) and
//!   $8\gamma_{d+r+4}(\sqrt r + 1)L\|X\|_F^2 + 8\gamma_{d+r+4}NrG$ for the denoiser path
//!   (each $x_U(\alpha x_i) - x_i$ is formed to $\approx2\gamma(\sqrt r + 1)\|x_i\|$ absolutely).
//! - `analytic_vs_quadrature`: for VE with $\lambda\in\{1, 1/\beta^2\}$ on the instance's
//!   $[t_0, t_1]$, the closed-form antiderivatives of [`LossCoefficients::ve_analytic`]
//!   against the scalar quadratures; tolerance = the sum of the two stated errors,
//!   per coefficient (reported as the largest ratio).
//! - `identity_c_d`: the theorem's form $-C\|U^\top X\|_F^2 + D$ with $D = L\|X\|_F^2 + NrG$
//!   against the cancellation-free form; tolerance: coefficient errors times
//!   $\|X\|_F^2$, plus $8\gamma_{d+r+4}(\sqrt r+1)(|C| + L)\|X\|_F^2 + 8\gamma\,NrG$
//!   (this facet detects a wrong constant in $C$ or $D$ together with the first).
//! - `c_positive`: $C > 0$ (a fact).
//! - `monte_carlo`: [`dae_loss_monte_carlo`] on a 16-node rule against the exact
//!   rule value [`dae_loss_rule`]. The deviation is an exact Gaussian linear term
//!   plus a weighted $\chi^2$ term: with $\omega_j = w_j\lambda_{t_j}$, $M$ draws per node,
//!   $V_G = \sum_j\omega_j^2\,4a_j(1-a_j)^3\|U^\top X\|_F^2/M$ and $\kappa_j = \omega_ja_j(1-a_j)/M$
//!   repeated $rNM$ times, the tolerance $7\sqrt{V_G} + 2\|\kappa\|_2\sqrt{27} + 2\|\kappa\|_\infty 27$
//!   is exceeded with probability $\le 2\Phi(-7) + 2e^{-27} < 10^{-11}$ per instance
//!   (Gaussian tail; Laurent–Massart 2000, Lemma 1), plus rounding.
//! - `pca_minimizes`: the subject's PCA basis (thin SVD, completed if $r > N$) has
//!   $\ell(\hat U) = D - C\sum_{j\le r}\sigma_j^2$, with $\sum_{j\le r}\sigma_j^2$ the sum of the $r$ largest Gram
//!   eigenvalues of $X$ ([`super::r06::top_energy`], independent of the SVD under test; its error
//!   allowance times $C$ is added), and $\ell(\hat U) \le \ell(U)$ for the instance's $U$.
//!
//! The computations under test are the methods of [`Subject`] (coefficients, closed form,
//! Monte Carlo estimate, PCA basis); `check` runs them for [`Reference`].

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::{ScheduleKind, log_uniform};
use super::r06::top_energy;
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::linalg::{frobenius_norm, random_orthonormal};
use crate::prec::gamma;
use crate::reduction::projection_energies;
use crate::reduction::quadrature::composite_rule;
use crate::reduction::{
    LossCoefficients, MonteCarlo, Pca, Weight, dae_loss_closed_form, dae_loss_monte_carlo,
    dae_loss_quadrature, dae_loss_rule,
};
use crate::rng::{SeededRng, seeded, standard_normal};
use crate::schedule::{Schedule, Ve};

/// The computations R05 checks, each with a default body that calls this crate.
///
/// The reference they are compared with is the check's own: the loss of the actual linear
/// denoiser integrated by adaptive quadrature ([`dae_loss_quadrature`]), the exact value of a
/// fixed rule ([`dae_loss_rule`]), the VE antiderivatives ([`LossCoefficients::ve_analytic`]) and
/// the Gram eigenvalues of $X$.
pub trait Subject: Sync {
    /// The time-integrated coefficients $L = \int\lambda_t$, $C = \int\lambda_t(2a_t - a_t^2)$,
    /// $C' = \int\lambda_t(1-a_t)^2$, $G = \int\lambda_t a_t(1-a_t)$ over $[t_0, t_1]$
    /// ($a_t = \alpha_t^2/(\alpha_t^2+\beta_t^2)$), with stated errors.
    ///
    /// # Errors
    /// Schedule, weight or range errors.
    fn coefficients(
        &self,
        schedule: &dyn Schedule,
        weight: &Weight,
        t0: f64,
        t1: f64,
    ) -> Result<LossCoefficients> {
        LossCoefficients::quadrature(schedule, weight, t0, t1)
    }

    /// The closed-form loss $\ell(U) = L\|(I-UU^\top)X\|_F^2 + C'\|U^\top X\|_F^2 + NrG$.
    ///
    /// # Errors
    /// Basis or data validation errors.
    fn closed_form(
        &self,
        u: MatRef<'_, f64>,
        x: MatRef<'_, f64>,
        k: &LossCoefficients,
    ) -> Result<f64> {
        dae_loss_closed_form(u, x, k)
    }

    /// The Monte Carlo estimate of the loss on the time rule `rule` with `m` noise draws per node
    /// (an unbiased estimate of [`dae_loss_rule`]).
    ///
    /// # Errors
    /// As [`dae_loss_monte_carlo`].
    #[allow(clippy::too_many_arguments)]
    fn monte_carlo(
        &self,
        u: MatRef<'_, f64>,
        x: MatRef<'_, f64>,
        schedule: &dyn Schedule,
        weight: &Weight,
        rule: &[(f64, f64)],
        m: usize,
        rng: &mut SeededRng,
    ) -> Result<MonteCarlo> {
        dae_loss_monte_carlo(u, x, schedule, weight, rule, m, rng)
    }

    /// A minimizer of the loss: an orthonormal $d\times r$ basis spanning the $r$ leading left
    /// singular vectors of $X$ (completed by random directions from `seeded(seed)` if $r > \min(d, N)$).
    ///
    /// # Errors
    /// Data validation or SVD failures.
    fn pca_basis(&self, x: MatRef<'_, f64>, r: usize, seed: u64) -> Result<Mat<f64>> {
        Pca::fit(x, r)?.complete(&mut seeded(seed))
    }
}

impl Subject for Reference {}

/// Which weight an instance uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightKind {
    /// $\lambda = 1$.
    Unit,
    /// $\lambda = 1/\beta^2$.
    InverseNoiseVariance,
    /// $\lambda = \alpha^2/\beta^2$.
    Snr,
}

impl WeightKind {
    /// The weight.
    pub fn build(self) -> Weight {
        match self {
            Self::Unit => Weight::Unit,
            Self::InverseNoiseVariance => Weight::InverseNoiseVariance,
            Self::Snr => Weight::Snr,
        }
    }
}

/// One R05 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Rank of $U$.
    pub r: usize,
    /// Samples.
    pub n: usize,
    /// Schedule.
    pub schedule: ScheduleKind,
    /// Weight.
    pub weight: WeightKind,
    /// Lower time.
    pub t0: f64,
    /// Upper time.
    pub t1: f64,
    /// Scale of the data.
    pub scale: f64,
    /// Relative size of the data's part outside $\operatorname{span}U$ (0: data in the span,
    /// the cancellation case $a_t \to 1$).
    pub off_span: f64,
    /// Seed for $U$, $X$ and the Monte Carlo draws.
    pub seed: u64,
}

impl Instance {
    /// A random instance: `d ≤ 24`, `N ≤ 12`, all five schedules, three weights,
    /// data scales $10^{-2}..10^{2}$, data in, near or off the span of $U$.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(1..=24);
        let schedule = match rng.random_range(0..5) {
            0 => ScheduleKind::Ve,
            1 => ScheduleKind::VpLinear,
            2 => ScheduleKind::VpCosine,
            3 => ScheduleKind::SubVp,
            _ => ScheduleKind::RectifiedFlow,
        };
        let weight = match rng.random_range(0..3) {
            0 => WeightKind::Unit,
            1 => WeightKind::InverseNoiseVariance,
            _ => WeightKind::Snr,
        };
        let (t0, t1) = match schedule {
            ScheduleKind::Ve => {
                let t0 = log_uniform(rng, -3.0, 0.0);
                (t0, t0 + log_uniform(rng, -2.0, 1.9))
            }
            _ => {
                let t0 = log_uniform(rng, -3.0, -0.5);
                (t0, t0 + (0.999 - t0) * rng.random_range(0.05..=1.0))
            }
        };
        Self {
            d,
            r: rng.random_range(1..=d),
            n: rng.random_range(1..=12),
            schedule,
            weight,
            t0,
            t1,
            scale: log_uniform(rng, -2.0, 2.0),
            off_span: match rng.random_range(0..3) {
                0 => 0.0,
                1 => 1e-6,
                _ => 1.0,
            },
            seed: rng.random(),
        }
    }

    /// The basis $U$ and the data $X = s(UA + \text{off\_span}\cdot G)$.
    pub fn data(&self) -> Result<(Mat<f64>, Mat<f64>)> {
        let mut g = seeded(self.seed);
        let u = random_orthonormal(&mut g, self.d, self.r)?;
        let a = standard_normal(&mut g, self.r, self.n);
        let e = standard_normal(&mut g, self.d, self.n);
        let ua = &u * &a;
        let x = Mat::from_fn(self.d, self.n, |i, j| {
            self.scale * (ua[(i, j)] + self.off_span * e[(i, j)])
        });
        Ok((u, x))
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
        let (u, x) = self.data()?;
        let schedule = self.schedule.build();
        let weight = self.weight.build();
        let (d, r, n) = (self.d, self.r, self.n);
        let g = gamma(d + r + 4);
        let sr = (r as f64).sqrt() + 1.0;
        let xf = frobenius_norm(x.as_ref());
        let x2 = xf * xf;
        let nr = (n * r) as f64;
        let e = projection_energies(u.as_ref(), x.as_ref())?;
        let k = s.coefficients(schedule.as_ref(), &weight, self.t0, self.t1)?;
        let mut out = Vec::new();

        // closed form vs quadrature of the actual denoiser
        let closed = s.closed_form(u.as_ref(), x.as_ref(), &k)?;
        let quad = dae_loss_quadrature(
            u.as_ref(),
            x.as_ref(),
            schedule.as_ref(),
            &weight,
            self.t0,
            self.t1,
        )?;
        let coeff_err = k.errors[0] * e.residual + k.errors[2] * e.in_span + nr * k.errors[3];
        let round_closed =
            8.0 * g * sr * (k.weight_integral + k.c_complement) * x2 + 8.0 * g * nr * k.noise;
        let round_quad = 8.0 * g * sr * k.weight_integral * x2 + 8.0 * g * nr * k.noise;
        out.push(Measurement::new(
            "closed_vs_quadrature",
            (closed - quad.value).abs(),
            quad.error + coeff_err + round_closed + round_quad,
        ));

        // analytic coefficients: VE with λ = 1 and λ = 1/β² over the instance's time range
        for w in [Weight::Unit, Weight::InverseNoiseVariance] {
            let a = LossCoefficients::ve_analytic(&w, self.t0, self.t1)?;
            let q = s.coefficients(&Ve, &w, self.t0, self.t1)?;
            let pairs = [
                (a.weight_integral, q.weight_integral),
                (a.c, q.c),
                (a.c_complement, q.c_complement),
                (a.noise, q.noise),
            ];
            let ratio = pairs
                .iter()
                .enumerate()
                .map(|(i, (va, vq))| (va - vq).abs() / (a.errors[i] + q.errors[i]))
                .fold(0.0, f64::max);
            out.push(Measurement::new("analytic_vs_quadrature", ratio, 1.0));
        }

        // −C‖UᵀX‖² + D against the cancellation-free form
        let theorem_form = -k.c * e.in_span + k.d(x2, n, r);
        let err_id = (k.errors[0] + k.errors[1] + k.errors[2]) * x2 + nr * k.errors[3];
        let round_id = 8.0 * g * sr * (k.c.abs() + k.weight_integral) * x2 + 8.0 * g * nr * k.noise;
        out.push(Measurement::new(
            "identity_c_d",
            (theorem_form - closed).abs(),
            err_id + round_id,
        ));
        out.push(Measurement::holds("c_positive", k.c > 0.0));

        // Monte Carlo in ε
        let rule = composite_rule(self.t0, self.t1, 1)?;
        let m = 4usize;
        let mut mc_rng = seeded(self.seed ^ 0x6d63_5f72_6f35);
        let mc = s.monte_carlo(
            u.as_ref(),
            x.as_ref(),
            schedule.as_ref(),
            &weight,
            &rule,
            m,
            &mut mc_rng,
        )?;
        let exact_rule = dae_loss_rule(u.as_ref(), x.as_ref(), schedule.as_ref(), &weight, &rule)?;
        let (mut vg, mut k2, mut kinf, mut omega_sum) = (0.0, 0.0, 0.0f64, 0.0);
        for &(t, w) in &rule {
            let c = schedule.coefficients(t)?;
            let lam = weight.at(t, &c)?;
            let (a, b) = c.level()?.fractions();
            let om = w * lam;
            vg += om * om * 4.0 * a * b * b * b * e.in_span / m as f64;
            let kap = om * a * b / m as f64;
            k2 += kap * kap * (r * n * m) as f64;
            kinf = kinf.max(kap);
            omega_sum += om;
        }
        let dev = 7.0 * vg.sqrt() + 2.0 * k2.sqrt() * 27f64.sqrt() + 2.0 * kinf * 27.0;
        let round_mc = 16.0 * g * sr * (mc.value.abs() + omega_sum * (x2 + nr));
        out.push(Measurement::new(
            "monte_carlo",
            (mc.value - exact_rule).abs(),
            dev + round_mc,
        ));

        // PCA minimizes the loss: the subject's basis reaches D − C·Σ_{j≤r}σ_j², the σ_j² taken
        // from the Gram eigenvalues (not from the subject's SVD), and beats the instance's U.
        let u_hat = s.pca_basis(x.as_ref(), r, self.seed ^ 0x0070_6361)?;
        let l_hat = s.closed_form(u_hat.as_ref(), x.as_ref(), &k)?;
        let (top, top_err) = top_energy(x.as_ref(), r)?;
        let predicted = k.d(x2, n, r) - k.c * top;
        let d_hat = crate::linalg::orthonormality_deviation(u_hat.as_ref());
        let tol_pca = err_id
            + round_id
            + 2.0 * round_closed
            + k.c.abs() * (top_err + 4.0 * r as f64 * d_hat * x2);
        out.push(Measurement::new(
            "pca_minimizes",
            (l_hat - predicted).abs(),
            tol_pca,
        ));
        out.push(Measurement::new(
            "pca_minimizes",
            (l_hat - closed).max(0.0),
            2.0 * round_closed + coeff_err,
        ));
        Ok(out)
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

/// R05's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R05",
    title: "K=1 DAE loss = -C||U^T X||^2 + D (PCA), three ways",
    proof: "proofs/R05-dae-loss-pca.md",
    run_case,
};
