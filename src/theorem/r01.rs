//! R01: Tweedie's formula, $\mathbb E[x_0\mid x_t] = (x_t + \beta^2\nabla\log p_t(x_t))/\alpha$.
//!
//! Facets (for all three exact models):
//! - `tweedie_fd`: the posterior mean against Tweedie's formula applied to a
//!   score computed *independently* by fourth-order central differences of
//!   $\log p_t$ (step $h = \beta/256$). The tolerance is the finite difference's
//!   own a-posteriori error bound: $|g_h - g_{2h}|$ (about 15× its truncation
//!   error, since the stencil is fourth order) plus the rounding term
//!   $3\varepsilon_f/h$ with $\varepsilon_f = 4\gamma_{d+4}(|\log p_t| + d(1+|\log\beta|))$,
//!   propagated through $\beta^2/\alpha$, plus the posterior mean's own rounding.
//!   Moderate levels ($\alpha \in [0.1, 1]$, $\beta \in [0.05, 5]$), where central
//!   differences of $\log p_t$ are informative.
//! - `tweedie_analytic`: at extreme levels ($\beta \in [10^{-8}, 10^4]$,
//!   $\alpha \in [10^{-8}, 1]$), the posterior mean against
//!   $(x_t + \beta^2 s)/\alpha$ with the model's analytic score (a separate code
//!   path), evaluated in double-double. Normwise error relative to the scale
//!   of the formula's terms $(\|x_t\| + \alpha\|\mu\|)/\alpha$; tolerance
//!   $32\gamma_{d+r+4} + 10^{-13}$ (rounding of both paths plus the
//!   batch path's weight-refinement threshold).
//! - `conversions`: at the moderate level, [`Subject::convert`] applied to the model's
//!   posterior mean $\hat x_0$ (to $\hat\varepsilon$, $\hat v$, score) and to its analytic score
//!   $\hat s$ (to $\hat x_0$, $\hat\varepsilon$, $\hat v$) against the relations of Part 4 evaluated in
//!   double-double from the *other* quantity: $\hat\varepsilon = -\beta\hat s$,
//!   $\hat v = \alpha\hat\varepsilon - \beta\hat x_0$, $\hat x_0$ itself. The two inputs are computed by
//!   separate code paths (the model's mean and its closed-form score), so a conversion
//!   with a wrong coefficient (α and β swapped, a missing $\beta$) cannot agree with both.
//!   Each error is normwise, relative to the magnitude of the converted formula's terms;
//!   tolerance $4\times$ the `tweedie_analytic` tolerance times $(1 + \beta/\alpha + \alpha/\beta)$
//!   (the mean/score mismatch that facet allows, carried through one conversion).
//!
//! The check is generic over the implementation under test ([`Subject`]); the
//! independent references (finite differences, double-double formulas) stay here.

use faer::{Mat, MatRef};
use rand::RngExt;

use super::instance::{AnyModel, BasisKind, log_uniform, random_model, typical_point};
use super::{CaseResult, Measurement, Theorem, rel};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::model::ExactModel;
use crate::model::ModelKind;
use crate::prec::{EPS, gamma};
use crate::reference::{self, Q, q};
use crate::rng::SeededRng;
use crate::tweedie::Prediction;

/// The computations R01's check exercises, as the implementation under test.
///
/// The default methods call this crate ([`super::Reference`]); a planted defect or a
/// user's implementation overrides them. Every method acts on `d × B` batches whose
/// columns are points $x_t$ observed at `level` $= (\alpha, \beta)$.
pub trait Subject: Sync {
    /// The posterior mean $\mathbb E[x_0\mid x_t]$ of `model` at every column of `x_t`.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn posterior_mean(
        &self,
        model: &dyn ExactModel,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.posterior_mean(x_t, level)
    }

    /// The score $\nabla\log p_t(x_t)$ of `model` at every column of `x_t`, where
    /// $p_t$ is the law of $\alpha x_0 + \beta\varepsilon$.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn score(
        &self,
        model: &dyn ExactModel,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.score(x_t, level)
    }

    /// $\log p_t(x_t)$ of `model` (natural log, normalized density) at every column.
    ///
    /// # Errors
    /// Evaluation errors (counted as failures).
    fn log_density(
        &self,
        model: &dyn ExactModel,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Vec<f64>> {
        model.log_density(x_t, level)
    }

    /// A prediction `value` of type `from` made at `x_t`, converted to type `to` by the
    /// relations $x_t = \alpha\hat x_0 + \beta\hat\varepsilon$, $\hat v = \alpha\hat\varepsilon - \beta\hat x_0$,
    /// $\hat s = -\hat\varepsilon/\beta$ (as [`crate::tweedie::convert`]).
    ///
    /// # Errors
    /// Conversion errors (counted as failures).
    fn convert(
        &self,
        from: Prediction,
        value: MatRef<'_, f64>,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
        to: Prediction,
    ) -> Result<Mat<f64>> {
        crate::tweedie::convert(from, value, x_t, level, to)
    }
}

impl Subject for super::Reference {}

/// One R01 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Which model.
    pub kind: ModelKind,
    /// Dimension.
    pub d: usize,
    /// Component ranks (Gaussian: the first).
    pub ranks: Vec<usize>,
    /// Training points (empirical only).
    pub n_points: usize,
    /// Moderate level for the finite-difference facet.
    pub fd_alpha: f64,
    /// Moderate level for the finite-difference facet.
    pub fd_beta: f64,
    /// Extreme level for the analytic facet.
    pub alpha: f64,
    /// Extreme level for the analytic facet.
    pub beta: f64,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance (`d ≤ 24`, up to 3 components, up to 24 points).
    pub fn sample(rng: &mut SeededRng) -> Self {
        let kind = match rng.random_range(0..3) {
            0 => ModelKind::Gaussian,
            1 => ModelKind::Molrg,
            _ => ModelKind::Empirical,
        };
        let k = if kind == ModelKind::Gaussian {
            1
        } else {
            rng.random_range(1..=3usize)
        };
        let d = rng.random_range(k.max(1)..=24);
        let rmax = (d / k).max(1);
        Self {
            kind,
            d,
            ranks: (0..k).map(|_| rng.random_range(1..=rmax)).collect(),
            n_points: rng.random_range(1..=24),
            fd_alpha: log_uniform(rng, -1.0, 0.0),
            fd_beta: log_uniform(rng, -1.3, 0.7),
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
        let model = self.model()?;
        Ok(vec![
            self.fd_facet_with(&model, s)?,
            self.analytic_facet_with(&model, s)?,
            self.conversions_facet(&model, s)?,
        ])
    }

    /// The instance's model.
    ///
    /// # Errors
    /// Construction errors for inconsistent sizes.
    pub fn model(&self) -> Result<AnyModel> {
        random_model(
            self.seed,
            self.kind,
            self.d,
            &self.ranks,
            self.n_points,
            BasisKind::Haar,
        )
    }

    /// The `tweedie_fd` facet alone.
    ///
    /// # Errors
    /// Model evaluation errors.
    pub fn fd_facet(&self, model: &AnyModel) -> Result<Measurement> {
        self.fd_facet_with(model, &super::Reference)
    }

    fn fd_facet_with(&self, model: &AnyModel, s: &dyn Subject) -> Result<Measurement> {
        let m = model.as_exact();
        let d = self.d;
        let level = NoiseLevel::new(self.fd_alpha, self.fd_beta)?;
        let (alpha, beta) = (self.fd_alpha, self.fd_beta);
        let x = typical_point(self.seed, model, level);
        // Central differences of log p_t with steps h and 2h (h = β/256).
        let h = beta / 256.0;
        let offs = [4.0 * h, 2.0 * h, h, -h, -2.0 * h, -4.0 * h];
        let pts = Mat::from_fn(d, 6 * d, |i, c| {
            let (j, o) = (c / 6, offs[c % 6]);
            if i == j { x[i] + o } else { x[i] }
        });
        let f = s.log_density(m, pts.as_ref(), level)?;
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let f0 = s.log_density(m, xm.as_ref(), level)?[0];
        let mut g = vec![0.0; d];
        let mut err_g = vec![0.0; d];
        let eps_f = 4.0 * gamma(d + 4) * (f0.abs() + d as f64 * (1.0 + beta.ln().abs()));
        for j in 0..d {
            // f(x+4h), f(x+2h), f(x+h), f(x−h), f(x−2h), f(x−4h)
            let v = &f[6 * j..6 * j + 6];
            let gh = (-v[1] + 8.0 * v[2] - 8.0 * v[3] + v[4]) / (12.0 * h);
            let g2h = (-v[0] + 8.0 * v[1] - 8.0 * v[4] + v[5]) / (24.0 * h);
            g[j] = gh;
            err_g[j] = (gh - g2h).abs() + 3.0 * eps_f / h;
        }
        let mean = s.posterior_mean(m, xm.as_ref(), level)?;
        // Tweedie with the FD score, in double-double to add no rounding of its own.
        let b2 = q(beta) * q(beta);
        let tw: Vec<Q> = (0..d)
            .map(|i| (q(x[i]) + b2 * q(g[i])) / q(alpha))
            .collect();
        let mean_v: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
        let err = reference::dist(&mean_v, &tw);
        let ng: f64 = err_g.iter().map(|e| e * e).sum::<f64>().sqrt();
        let nx: f64 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let ngrad: f64 = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        let scale = (nx + beta * beta * ngrad) / alpha;
        let bound = beta * beta * ng / alpha + 8.0 * gamma(d + 8) * scale;
        Ok(Measurement::new(
            "tweedie_fd",
            rel(err, scale),
            bound / scale,
        ))
    }

    /// The `tweedie_analytic` facet alone.
    ///
    /// # Errors
    /// Model evaluation errors.
    pub fn analytic_facet(&self, model: &AnyModel) -> Result<Measurement> {
        self.analytic_facet_with(model, &super::Reference)
    }

    fn analytic_facet_with(&self, model: &AnyModel, s: &dyn Subject) -> Result<Measurement> {
        let m = model.as_exact();
        let d = self.d;
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let x = typical_point(self.seed ^ 1, model, level);
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let mean = s.posterior_mean(m, xm.as_ref(), level)?;
        let score = s.score(m, xm.as_ref(), level)?;
        let b2 = q(self.beta) * q(self.beta);
        let tw: Vec<Q> = (0..d)
            .map(|i| (q(x[i]) + b2 * q(score[(i, 0)])) / q(self.alpha))
            .collect();
        let mean_v: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
        let nx: f64 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let nmu = mean_magnitude(model);
        let scale = (nx + self.alpha * nmu) / self.alpha + f64::MIN_POSITIVE;
        Ok(Measurement::new(
            "tweedie_analytic",
            rel(reference::dist(&mean_v, &tw), scale),
            self.analytic_tolerance(),
        ))
    }

    /// The `tweedie_analytic` tolerance: rounding of both paths plus the batch path's
    /// weight-refinement threshold.
    fn analytic_tolerance(&self) -> f64 {
        let rsum: usize = self.ranks.iter().sum();
        32.0 * gamma(self.d + rsum + 4) + 2.0 * crate::prec::MOLRG_REFINE_TOL + 64.0 * EPS
    }

    /// The `conversions` facet (see the module docs).
    fn conversions_facet(&self, model: &AnyModel, s: &dyn Subject) -> Result<Measurement> {
        let m = model.as_exact();
        let d = self.d;
        let level = NoiseLevel::new(self.fd_alpha, self.fd_beta)?;
        let (alpha, beta) = (self.fd_alpha, self.fd_beta);
        let x = typical_point(self.seed, model, level);
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let mean = s.posterior_mean(m, xm.as_ref(), level)?;
        let score = s.score(m, xm.as_ref(), level)?;
        let col = |a: &Mat<f64>| -> Vec<f64> { (0..d).map(|i| a[(i, 0)]).collect() };
        let (mv, sv) = (col(&mean), col(&score));
        let n = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
        let (nx, nm, ns) = (n(&x), n(&mv), n(&sv));
        // References from the other quantity (Part 4), in double-double.
        let (qa, qb) = (q(alpha), q(beta));
        let eps_ref: Vec<Q> = sv.iter().map(|&v| -qb * q(v)).collect();
        let x0_ref: Vec<Q> = mv.iter().map(|&v| q(v)).collect();
        let v_ref: Vec<Q> = (0..d).map(|i| qa * eps_ref[i] - qb * x0_ref[i]).collect();
        let s_ref: Vec<Q> = sv.iter().map(|&v| q(v)).collect();
        let v_f: Vec<f64> = v_ref.iter().map(|&v| reference::f(v)).collect();
        let v_mat = Mat::from_fn(d, 1, |i, _| v_f[i]);
        let nv = n(&v_f);
        // |m − (x + β²s)/α| ≤ τ(‖x‖ + α‖μ‖)/α (the `tweedie_analytic` bound).
        let e = self.analytic_tolerance() * (nx + alpha * mean_magnitude(model)) / alpha;
        let u = 8.0 * EPS;
        let h2 = alpha * alpha + beta * beta;
        // (from, value, to, reference, carried mean/score mismatch, rounding allowance)
        type Conversion<'a> = (Prediction, &'a Mat<f64>, Prediction, &'a [Q], f64, f64);
        let cases: [Conversion<'_>; 7] = [
            (
                Prediction::X0,
                &mean,
                Prediction::Eps,
                &eps_ref,
                alpha / beta * e,
                u * ((nx + alpha * nm) / beta + beta * ns),
            ),
            (
                Prediction::X0,
                &mean,
                Prediction::Score,
                &s_ref,
                alpha / (beta * beta) * e,
                u * ((nx + alpha * nm) / (beta * beta) + ns),
            ),
            (
                Prediction::X0,
                &mean,
                Prediction::V,
                &v_ref,
                alpha * alpha / beta * e,
                u * (alpha * (nx + alpha * nm) / beta + beta * nm + nv),
            ),
            (
                Prediction::Score,
                &score,
                Prediction::X0,
                &x0_ref,
                e,
                u * ((nx + beta * beta * ns) / alpha + nm),
            ),
            (
                Prediction::Score,
                &score,
                Prediction::Eps,
                &eps_ref,
                0.0,
                u * beta * ns,
            ),
            (
                Prediction::Score,
                &score,
                Prediction::V,
                &v_ref,
                beta * e,
                u * (alpha * beta * ns + beta * (nx + beta * beta * ns) / alpha + nv),
            ),
            (
                Prediction::V,
                &v_mat,
                Prediction::X0,
                &x0_ref,
                alpha * alpha / h2 * e,
                u * ((alpha * nx + beta * nv) / h2 + nm),
            ),
        ];
        let mut worst = 0.0f64;
        for (from, value, to, reference, carried, rounding) in cases {
            let got = s.convert(from, value.as_ref(), xm.as_ref(), level, to)?;
            let err = reference::dist(&col(&got), reference);
            worst = worst.max(err / (2.0 * carried + rounding + f64::MIN_POSITIVE));
        }
        Ok(Measurement::new("conversions", worst, 1.0))
    }
}

/// $\|\mu\|$ for a Gaussian, the largest training point's norm for an empirical
/// model, 0 for a MoLRG: the size of the prior's location in the Tweedie scale.
fn mean_magnitude(model: &AnyModel) -> f64 {
    match model {
        AnyModel::Gaussian(g) => g.mean().iter().map(|v| v * v).sum::<f64>().sqrt(),
        AnyModel::Empirical(e) => {
            let p = e.points();
            (0..p.ncols())
                .map(|j| {
                    (0..p.nrows())
                        .map(|i| p[(i, j)] * p[(i, j)])
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(0.0, f64::max)
        }
        AnyModel::Molrg(_) => 0.0,
    }
}

/// Draws one instance from `rng` and checks the implementation `s` on it.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &super::Reference)
}

/// R01's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R01",
    title: "Tweedie: E[x0|xt] = (xt + beta^2 grad log p_t)/alpha",
    proof: "proofs/R01-tweedie.md",
    run_case,
};
