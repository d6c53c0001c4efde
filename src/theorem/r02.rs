//! R02: the Gaussian posterior mean, score and log-density.
//!
//! Facets:
//! - `projector_dd`: [`Gaussian`]'s mean, score and log-density against the
//!   double-double evaluation of the projector-form formulas
//!   ([`reference::gaussian_projector_at`]) with the model's own basis. Tolerance
//!   `8 γ_{d+r+4}` relative to the magnitudes of the summed terms
//!   (`‖μ‖ + g_max‖y‖` for the mean, `‖U(h∘c)‖ + ‖res‖/β²` for the score,
//!   `|quad| + |logdet| + |const|` for the log-density).
//! - `dense_dd`: against the dense formulas $\mu + \alpha\Sigma C^{-1}y$, $-C^{-1}y$
//!   with $C = \alpha^2\Sigma+\beta^2I$ solved by Cholesky in double-double
//!   ([`reference::dense_gaussian_at`]) — an independent derivation. The tolerance
//!   adds the two input ambiguities: a basis orthonormal only to $\delta$ makes
//!   the dense and projector formulas differ by $\lesssim 4r\delta\|y\|/\beta^2$ in the score ($\|U^\top U - I\|_2 \le r\delta$), and a full
//!   covariance is only determined up to its eigensolver backward error
//!   $8d\varepsilon\|\Sigma\|$, amplified by at most $\kappa = \lambda_{\max}/\lambda_{\min}$.
//! - `jacobian_dd`: the analytic Jacobian $U\operatorname{diag}(g)U^\top$ against the dense
//!   $\alpha\Sigma(\alpha^2\Sigma+\beta^2I)^{-1}$ in double-double, at the same extreme levels,
//!   relative to $g_{\max}\sqrt r$; tolerance as `dense_dd` plus the oracle's own
//!   $8d\varepsilon^2\operatorname{cond}(C)$.
//!
//! The check is generic over the implementation under test ([`Subject`]); the
//! double-double oracles stay here. `projector_dd` evaluates the same projector
//! formulas as the crate (in higher precision: it catches rounding and coding errors
//! of the crate's evaluation, not a wrong formula); `dense_dd` and `jacobian_dd` are the
//! independent derivations (dense covariance, Cholesky solve).

use faer::{ColRef, Mat, MatRef};
use rand::RngExt;

use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement, Theorem, rel};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::{mul, orthonormality_deviation};
use crate::model::{Denoiser, ExactModel, Gaussian};
use crate::prec::{EPS, gamma};
use crate::reference::{self, dense_gaussian_at, gaussian_projector_at, norm};
use crate::rng::{SeededRng, seeded, standard_normal};

/// The computations R02's check exercises, as the implementation under test.
///
/// The default methods call [`Gaussian`] ([`super::Reference`]). `model` is
/// $\mathcal N(\mu, U\Lambda U^\top)$ (`model.mean()`, `model.basis()`, `model.variances()`);
/// `x_t` holds points $x_t = \alpha x_0 + \beta\varepsilon$ as columns.
pub trait Subject: Sync {
    /// $\mathbb E[x_0\mid x_t] = \mu + \alpha\Sigma(\alpha^2\Sigma + \beta^2I)^{-1}(x_t - \alpha\mu)$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn posterior_mean(
        &self,
        model: &Gaussian,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.posterior_mean(x_t, level)
    }

    /// $\nabla\log p_t(x_t) = -(\alpha^2\Sigma + \beta^2I)^{-1}(x_t - \alpha\mu)$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn score(&self, model: &Gaussian, x_t: MatRef<'_, f64>, level: NoiseLevel) -> Result<Mat<f64>> {
        model.score(x_t, level)
    }

    /// $\log p_t(x_t) = -\tfrac12\big[(x_t-\alpha\mu)^\top C^{-1}(x_t-\alpha\mu) + \log\det C + d\log 2\pi\big]$,
    /// $C = \alpha^2\Sigma + \beta^2I$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn log_density(
        &self,
        model: &Gaussian,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Vec<f64>> {
        model.log_density(x_t, level)
    }

    /// The Jacobian $\partial\,\mathbb E[x_0\mid x_t]/\partial x_t = \alpha\Sigma C^{-1}$ at one point.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn jacobian(
        &self,
        model: &Gaussian,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.jacobian(x_t, level)
    }
}

impl Subject for super::Reference {}

/// One R02 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Ambient dimension.
    pub d: usize,
    /// Rank (ignored when `full`).
    pub r: usize,
    /// Build from a full covariance (`Gaussian::from_covariance`) instead of `(U, Λ)`.
    pub full: bool,
    /// Exactly orthonormal f64 basis (Hadamard blocks) instead of Haar.
    pub exact_basis: bool,
    /// Signal scale.
    pub alpha: f64,
    /// Noise scale.
    pub beta: f64,
    /// Seed for the matrices and the point.
    pub seed: u64,
}

impl Instance {
    /// A random instance: `d ≤ 48`, `β ∈ [1e-8, 1e4]`, `α ∈ [1e-8, 1]` (α = 1 a quarter of the time).
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = rng.random_range(1..=48);
        Self {
            d,
            r: rng.random_range(1..=d),
            full: rng.random::<f64>() < 0.25,
            exact_basis: rng.random::<bool>(),
            alpha: if rng.random::<f64>() < 0.25 {
                1.0
            } else {
                log_uniform(rng, -8.0, 0.0)
            },
            beta: log_uniform(rng, -8.0, 4.0),
            seed: rng.random(),
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
        let mut rng = seeded(self.seed);
        let d = self.d;
        let r = if self.full { d } else { self.r.clamp(1, d) };
        let kind = if self.exact_basis {
            BasisKind::ExactHadamard
        } else {
            BasisKind::Haar
        };
        let u = orthogonal_bases(&mut rng, d, &[r], kind)?.remove(0);
        let lambda: Vec<f64> = (0..r).map(|_| log_uniform(&mut rng, -1.0, 1.0)).collect();
        let mu: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let (model, sigma_dense) = if self.full {
            let scaled = Mat::from_fn(d, r, |i, j| u[(i, j)] * lambda[j]);
            let sigma = mul(scaled.as_ref(), u.transpose());
            let sym = Mat::from_fn(d, d, |i, j| 0.5 * (sigma[(i, j)] + sigma[(j, i)]));
            (
                Gaussian::from_covariance(&mu, sym.as_ref())?,
                reference::dense(sym.as_ref()),
            )
        } else {
            (
                Gaussian::new(&mu, u.as_ref(), &lambda)?,
                reference::dense_covariance(u.as_ref(), &lambda),
            )
        };
        // A typical point x = αx0 + βε.
        let x0 = model.sample_x0(&mut rng, 1);
        let e = standard_normal(&mut rng, d, 1);
        let x: Vec<f64> = (0..d)
            .map(|i| self.alpha * x0[(i, 0)] + self.beta * e[(i, 0)])
            .collect();
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let mean = s.posterior_mean(&model, xm.as_ref(), level)?;
        let score = s.score(&model, xm.as_ref(), level)?;
        let logp = s.log_density(&model, xm.as_ref(), level)?[0];
        let mean: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
        let score: Vec<f64> = (0..d).map(|i| score[(i, 0)]).collect();

        let gmax = model
            .variances()
            .iter()
            .map(|&l| level.gain(l))
            .fold(0.0, f64::max);
        let m_scale = reference::mean_scale(&mu, gmax, &x, self.alpha);
        let base_tol = 8.0 * gamma(d + r + 4);
        let mut out = Vec::new();

        // Projector form with the model's own basis and variances.
        let p = gaussian_projector_at(
            &mu,
            model.basis(),
            model.variances(),
            &x,
            self.alpha,
            self.beta,
        );
        let s_scale = score_scale(&model, &x, level);
        let l_scale = logdensity_scale(&model, &x, level, reference::f(p.log_density));
        let e_mean = rel(reference::dist(&mean, &p.mean), m_scale);
        let e_score = rel(reference::dist(&score, &p.score), s_scale);
        let e_logp = rel((logp - reference::f(p.log_density)).abs(), l_scale);
        out.push(Measurement::new(
            "projector_dd",
            e_mean.max(e_score).max(e_logp),
            base_tol,
        ));

        // Dense covariance, independent formula.
        let dref = dense_gaussian_at(&mu, &sigma_dense, &x, self.alpha, self.beta);
        // ‖UᵀU − I‖₂ ≤ r · max-entry deviation.
        let delta = (model.rank() as f64) * orthonormality_deviation(model.basis());
        let ny = norm(
            &x.iter()
                .zip(&mu)
                .map(|(xi, mi)| reference::q(*xi) - reference::q(self.alpha) * reference::q(*mi))
                .collect::<Vec<_>>(),
        );
        let kappa = if self.full {
            let lmax = lambda.iter().cloned().fold(0.0, f64::max);
            let lmin = lambda.iter().cloned().fold(f64::INFINITY, f64::min);
            lmax / lmin
        } else {
            0.0
        };
        let eig = 8.0 * (d as f64) * EPS * (1.0 + kappa);
        let dense_tol_mean = base_tol + eig + 4.0 * delta;
        let dense_tol_score = base_tol + eig + 4.0 * delta * ny / (self.beta * self.beta * s_scale);
        let dense_tol_logp =
            base_tol + eig + 4.0 * delta * ny * ny / (self.beta * self.beta * l_scale);
        let em = rel(reference::dist(&mean, &dref.mean), m_scale) / dense_tol_mean;
        let es = rel(reference::dist(&score, &dref.score), s_scale) / dense_tol_score;
        let el = rel((logp - reference::f(dref.log_density)).abs(), l_scale) / dense_tol_logp;
        // Report as a ratio against 1 (three different tolerances are combined).
        out.push(Measurement::new("dense_dd", em.max(es).max(el), 1.0));

        // The Jacobian U diag(g) Uᵀ against the dense αΣ(α²Σ+β²I)⁻¹ in double-double,
        // relative to its scale g_max √r. The oracle's own error is ≈ 8dε²·cond(C).
        let jac = s.jacobian(&model, xm.col(0), level)?;
        let jref = reference::gaussian_jacobian_dense(&sigma_dense, self.alpha, self.beta);
        let lmax = lambda.iter().cloned().fold(0.0, f64::max);
        let cond_c = 1.0 + self.alpha * self.alpha * lmax / (self.beta * self.beta);
        let j_scale = gmax * (r as f64).sqrt() + f64::MIN_POSITIVE;
        out.push(Measurement::new(
            "jacobian_dd",
            rel(reference::frobenius_dist(jac.as_ref(), &jref), j_scale),
            base_tol + eig + 4.0 * delta + 8.0 * (d as f64) * EPS * EPS * cond_c,
        ));
        Ok(out)
    }
}

/// `‖U(h∘c)‖ + ‖(I−UUᵀ)y‖/β²`: the magnitudes of the score's two orthogonal parts.
fn score_scale(model: &Gaussian, x: &[f64], level: NoiseLevel) -> f64 {
    let (hc, res) = reference::score_parts(
        model.mean(),
        model.basis(),
        model.variances(),
        x,
        level.alpha(),
        level.beta(),
    );
    hc + res
}

/// `|quad| + |logdet| + |const|` bound for the log-density's rounding.
fn logdensity_scale(model: &Gaussian, x: &[f64], level: NoiseLevel, logp: f64) -> f64 {
    let d = x.len() as f64;
    let logdet: f64 = model
        .variances()
        .iter()
        .map(|&l| level.log_marginal_variance(l).abs())
        .sum::<f64>()
        + (d - model.rank() as f64) * (2.0 * level.beta().ln()).abs();
    logp.abs() + logdet + d * 1.84
}

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &super::Reference)
}

/// R02's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R02",
    title: "Gaussian posterior mean, score and log-density",
    proof: "proofs/R02-gaussian-posterior.md",
    run_case,
};
