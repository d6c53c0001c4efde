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

use faer::Mat;
use rand::RngExt;

use super::instance::{AnyModel, BasisKind, ModelKind, log_uniform, random_model, typical_point};
use super::oracle::{self, Q, q};
use super::{CaseResult, Measurement, rel};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::prec::{EPS, gamma};
use crate::rng::SeededRng;

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
        let model = self.model()?;
        Ok(vec![self.fd_facet(&model)?, self.analytic_facet(&model)?])
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
        let f = m.log_density(pts.as_ref(), level)?;
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let f0 = m.log_density(xm.as_ref(), level)?[0];
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
        let mean = m.posterior_mean(xm.as_ref(), level)?;
        // Tweedie with the FD score, in double-double to add no rounding of its own.
        let b2 = q(beta) * q(beta);
        let tw: Vec<Q> = (0..d)
            .map(|i| (q(x[i]) + b2 * q(g[i])) / q(alpha))
            .collect();
        let mean_v: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
        let err = oracle::dist(&mean_v, &tw);
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
        let m = model.as_exact();
        let d = self.d;
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let x = typical_point(self.seed ^ 1, model, level);
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let mean = m.posterior_mean(xm.as_ref(), level)?;
        let score = m.score(xm.as_ref(), level)?;
        let b2 = q(self.beta) * q(self.beta);
        let tw: Vec<Q> = (0..d)
            .map(|i| (q(x[i]) + b2 * q(score[(i, 0)])) / q(self.alpha))
            .collect();
        let mean_v: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
        let nx: f64 = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let nmu = match model {
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
        };
        let scale = (nx + self.alpha * nmu) / self.alpha + f64::MIN_POSITIVE;
        let rsum: usize = self.ranks.iter().sum();
        let tol = 32.0 * gamma(d + rsum + 4) + 2.0 * crate::prec::MOLRG_REFINE_TOL + 64.0 * EPS;
        Ok(Measurement::new(
            "tweedie_analytic",
            rel(oracle::dist(&mean_v, &tw), scale),
            tol,
        ))
    }
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    CaseResult::of(Instance::sample(rng), Instance::check)
}
