//! R16: the null-space perturbation bound of Shallow Diffuse (Li–Zhang–Qu, Theorem 1) on
//! the $K = 1$ model, where the denoiser is exactly linear.
//!
//! The denoiser $f(x) = gUU^\top x$, $g = \frac{\alpha}{\alpha^2+\beta^2}$, has Lipschitz constant
//! $L = g$ and rank $r$, and $\|f(x + \lambda\Delta) - f(x)\| = \lambda g\|U^\top\Delta\|$. For $\Delta$
//! uniform on $S^{d-1}$, $\|U^\top\Delta\|^2 \sim \mathrm{Beta}(r/2, (d-r)/2)$, so the theorem's event
//! $\|f(x+\lambda\Delta) - f(x)\| \le \lambda Lh(r)$ has an exactly computable probability. Every
//! instance draws $d$ log-uniform in $[3, 2048]$ (the bound is informative, $h(r) < 1$, only
//! for $d \gtrsim 560\log 2r$), $r \le \min(d, 32)$, a level, a point and $\lambda$.
//!
//! Facets:
//! - `theorem_exact`: the exact violation probability
//!   [`sphere_projection_tail`]$(r, d, h(r)) \le 1/r$ — the theorem, for the linear case, by an
//!   independent computation (the Beta law, statrs).
//! - `binomial_bound`: $M = 400$ perturbations through the model; the number $k$ of
//!   violations is tested against the theorem's rate: fail iff
//!   $\mathbb P(\mathrm{Bin}(M, 1/r) \ge k) < 10^{-6}$. Since the true rate is $\le 1/r$, the false-failure
//!   rate is $\le 10^{-6}$ per instance. Reported as $-\log_{10}$ of that tail, tolerance 6.
//! - `sphere_law`: the same perturbations against the exact median $c_{1/2}$ of $\|U^\top\Delta\|$
//!   (Beta inverse CDF): the count of changes above $\lambda gc_{1/2}$ is $\mathrm{Bin}(M, 1/2)$; fail iff
//!   the two-sided binomial p-value is below $10^{-6}$ (false-failure rate $\le 10^{-6}$). This
//!   checks the sampler, the model's linearity and the Beta law together.
//!
//! For a MoLRG the denoiser is only approximately linear and the theorem does not apply;
//! [`perturbation_test`] reports the measured violation rate there (with a user-chosen
//! $L$, e.g. $\|J(x)\|_2$) without asserting it (see `docs/metrics.md`).

use rand::RngExt;
use statrs::distribution::{Beta, ContinuousCDF};

use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::metric::{
    binomial_two_sided_p, binomial_upper_tail, perturbation_test, shallow_diffuse_h,
    sphere_projection_tail,
};
use crate::model::{ExactModel, Gaussian};
use crate::rng::{SeededRng, seeded};

/// Perturbations per instance.
pub const SAMPLES: usize = 400;
/// Level of the binomial tests.
pub const TEST_LEVEL: f64 = 1e-6;

/// One R16 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Dimension.
    pub d: usize,
    /// Rank of the denoiser.
    pub r: usize,
    /// Signal scale.
    pub alpha: f64,
    /// Noise scale.
    pub beta: f64,
    /// Perturbation size $\lambda$.
    pub lambda: f64,
    /// Seed.
    pub seed: u64,
}

impl Instance {
    /// A random instance.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let d = log_uniform(rng, 0.48, 3.32).round().clamp(3.0, 2048.0) as usize;
        Self {
            d,
            r: rng.random_range(1..=d.min(32)),
            alpha: log_uniform(rng, -2.0, 0.0),
            beta: log_uniform(rng, -3.0, 2.0),
            lambda: log_uniform(rng, -3.0, 2.0),
            seed: rng.random(),
        }
    }

    /// Runs the facets.
    ///
    /// # Errors
    /// Model or test errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        let (d, r) = (self.d, self.r);
        let mut rng = seeded(self.seed);
        let u = orthogonal_bases(&mut rng, d, &[r], BasisKind::Haar)?.remove(0);
        let model = Gaussian::subspace(u.as_ref())?;
        let level = NoiseLevel::new(self.alpha, self.beta)?;
        let g = level.shrinkage();
        let x0 = model.sample_x0(&mut rng, 1);
        let x: Vec<f64> = (0..d)
            .map(|i| self.alpha * x0[(i, 0)] + self.beta * rng.random::<f64>())
            .collect();
        let h = shallow_diffuse_h(r, d)?;
        let exact = sphere_projection_tail(r, d, h)?;
        let mut out = vec![Measurement::new("theorem_exact", exact, 1.0 / r as f64)];
        let test = perturbation_test(
            &model,
            &x,
            level,
            self.lambda,
            g,
            r,
            SAMPLES,
            0.95,
            &mut rng,
        )?;
        let tail = binomial_upper_tail(test.violations.successes, SAMPLES, 1.0 / r as f64);
        out.push(Measurement::new(
            "binomial_bound",
            0.0 - tail.max(f64::MIN_POSITIVE).log10(),
            -TEST_LEVEL.log10(),
        ));
        let median = if r == d {
            1.0
        } else {
            Beta::new(0.5 * r as f64, 0.5 * (d - r) as f64)
                .expect("positive shapes")
                .inverse_cdf(0.5)
                .sqrt()
        };
        if r < d {
            let above = test
                .changes
                .iter()
                .filter(|&&c| c > self.lambda * g * median)
                .count();
            let p = binomial_two_sided_p(above, SAMPLES, 0.5);
            out.push(Measurement::new(
                "sphere_law",
                0.0 - p.max(f64::MIN_POSITIVE).log10(),
                -TEST_LEVEL.log10(),
            ));
        }
        Ok(out)
    }
}

/// Registry entry.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    CaseResult::of(Instance::sample(rng), Instance::check)
}
