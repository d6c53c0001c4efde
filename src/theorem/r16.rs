//! R16: the null-space perturbation bound of Shallow Diffuse (Li–Zhang–Qu, Theorem 1) for
//! the linear $K = 1$ model only, where the denoiser is exactly linear.
//!
//! The denoiser $f(x) = gUU^\top x$, $g = \frac{\alpha}{\alpha^2+\beta^2}$, has Lipschitz constant
//! $L = g$ and rank $r$, and $f(x + \lambda\Delta) - f(x) = \lambda gUU^\top\Delta$. For $\Delta$ uniform on
//! $S^{d-1}$, $\|U^\top\Delta\|^2 \sim \mathrm{Beta}(r/2, (d-r)/2)$, so the theorem's event
//! $\|f(x+\lambda\Delta) - f(x)\| \le \lambda Lh(r)$ has an exactly computable probability.
//!
//! **Instances.** Half of the instances are drawn in the *informative* regime, where
//! $h(r) < 1$ and the theorem says something: $2 \le r \le 8$ and $d$ log-uniform in
//! $[700\log 2r,\ 1400\log 2r]$ (so $d \ge 560\log(2r) + 2$ and $h(r)^2 \le 0.92 + r/d$). The other
//! half keep the broad distribution: $d$ log-uniform in $[3, 2048]$ and $r \le \min(d, 32)$,
//! where the event is mostly certain ($h \ge 1$). Every instance draws a level
//! ($\alpha \in [10^{-2}, 1]$, $\beta \in [10^{-3}, 10^2]$), a point and $\lambda \in [10^{-3}, 10^2]$.
//!
//! **What is under test** is the [`Subject`]: the $K = 1$ denoiser, its Lipschitz
//! constant, $h(r)$, the sphere sampler and the Beta tail. Every facet compares them with a
//! computation written independently inside the check:
//!
//! - `h_formula`: the implementation's $h$ inverted, $(h^2 - r/d)^2(d-2)/\log(2r)$, equals
//!   $18\pi^3$ within its rounding $16\varepsilon(1 + h^2/(h^2 - r/d))$ relative. Fails for a wrong
//!   constant ($9\pi^3$: relative error $1/2$), a missing square root, $d$ for $d - 2$
//!   (relative error $\ge 2/d \ge 10^{-4}$) or $\log_2$ for $\log$.
//! - `theorem_exact`: the exact violation probability at the implementation's $h$,
//!   $\mathbb P(\mathrm{Beta}(\frac r2, \frac{d-r}2) > h^2)$ by statrs' Beta law (0 if $h \ge 1$ or $r = d$),
//!   is at most $1/r$: the statement itself, by an independent computation.
//! - `lipschitz`: the implementation's $L$ against $g = 1/(\alpha + \beta^2/\alpha)$ (the
//!   information form of the scalar posterior mean, not the crate's expression), within
//!   $8\varepsilon g$. Fails for $1/\alpha$, $\alpha/\beta^2$, $\alpha/(\alpha^2 + \beta)$, ...
//! - `sphere_norm`: each of the $M = 400$ sampled perturbations has $|\|\Delta\| - 1| \le \gamma_{d+2}$.
//! - `linear_change`: for every perturbation, the denoiser's change
//!   $f(x+\lambda\Delta) - f(x)$ equals $\lambda gU(U^\top\Delta)$ computed from the instance's own basis
//!   and the independent $g$, within $16\gamma_{d+r}\,g(\|x\| + \lambda)$ (the rounding of two
//!   evaluations of $gUU^\top$ and their difference). Fails for $g\cdot I$ in place of
//!   $gUU^\top$ (error $\lambda g\|(I - UU^\top)\Delta\| \approx \lambda g\sqrt{1 - r/d}$), a wrong gain, a wrong basis.
//! - `violation_count`: the number $k$ of perturbations whose change exceeds the
//!   implementation's bound $\lambda Lh$ against $\mathrm{Bin}(M, p)$ with $p$ the exact Beta-law
//!   probability of $\|U^\top\Delta\| > Lh/g$: fail iff the two-sided exact binomial p-value is below
//!   $10^{-6}$ (false-failure rate $\le 10^{-6}$ per instance). In the informative regime $p$ is
//!   astronomically small (the proof has a factor-5 margin), so a single violation fails.
//! - `sphere_law` (only $r < d$): the number of changes above $\lambda gc_{1/2}$, $c_{1/2}$ the exact
//!   median of $\|U^\top\Delta\|$ (statrs' Beta inverse CDF), against $\mathrm{Bin}(M, \frac12)$, two-sided at level
//!   $10^{-6}$: false-failure rate $\le 10^{-6}$ per instance; power $\ge 0.99$ per instance against
//!   a true rate $\le 0.32$ or $\ge 0.68$ (computed exactly by `r16_sphere_law_size_and_power`).
//!   It checks the sampler's law, the model's linearity and the Beta law together.
//! - `tail_series` (only $r < d$, $r$ even): the implementation's
//!   $\mathbb P(\|U^\top\Delta\| > c)$ at $c = h$ (if $h < 1$) and $c = c_{1/2}$ against the finite series
//!   $I_{1-x}(b, a) = (1-x)^b\sum_{j<a}\frac{\Gamma(b+j)}{\Gamma(b)\,j!}x^j$, $x = c^2$, $a = r/2$,
//!   $b = (d-r)/2$ (repeated integration by parts, no continued fraction), relative
//!   tolerance $64\varepsilon(S + a + b + 1)$ with $S$ the sum of the magnitudes of the logarithms
//!   that both evaluations exponentiate.
//!
//! For a MoLRG the denoiser is only approximately linear and the theorem does not apply;
//! [`perturbation_test`](crate::metric::perturbation_test) reports the measured violation
//! rate there (with a user-chosen $L$, e.g. $\|J(x)\|_2$) without asserting it (see
//! `docs/metrics.md`).

use faer::{Mat, MatRef};
use rand::RngExt;
use statrs::distribution::{Beta, ContinuousCDF};
use statrs::function::gamma::ln_gamma;

use super::instance::{BasisKind, log_uniform, orthogonal_bases};
use super::{CaseResult, Measurement, Reference, Theorem};
use crate::error::Result;
use crate::level::NoiseLevel;
use crate::linalg::mul;
use crate::metric::{binomial_two_sided_p, shallow_diffuse_h, sphere_projection_tail};
use crate::model::{Denoiser, ExactModel, Gaussian};
use crate::prec::gamma;
use crate::rng::{SeededRng, seeded};

/// Perturbations per instance.
pub const SAMPLES: usize = 400;
/// Level of the binomial tests.
pub const TEST_LEVEL: f64 = 1e-6;

/// The computations R16's check exercises, as the implementation under test.
///
/// The default methods call this crate ([`Reference`]); override one to check another
/// implementation (the planted-defect suite does, `tests/suite/planted/r16.rs`).
pub trait Subject: Sync {
    /// The $K = 1$ denoiser of $\mathcal N(0, UU^\top)$ ($U$ = `model`'s orthonormal basis) at
    /// every column of `x_t`: $f(x) = \frac{\alpha}{\alpha^2+\beta^2}UU^\top x$.
    ///
    /// # Errors
    /// Shape or finiteness errors.
    fn posterior_mean(
        &self,
        model: &Gaussian,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        model.posterior_mean(x_t, level)
    }

    /// The Lipschitz constant of that denoiser, $L = g = \alpha/(\alpha^2+\beta^2)$.
    fn lipschitz(&self, level: NoiseLevel) -> f64 {
        level.shrinkage()
    }

    /// $h(r) = \sqrt{r/d + \sqrt{18\pi^3\log(2r)/(d-2)}}$.
    ///
    /// # Errors
    /// Unless $d \ge 3$ and $1 \le r \le d$.
    fn h(&self, r: usize, d: usize) -> Result<f64> {
        shallow_diffuse_h(r, d)
    }

    /// `m` independent points uniform on the unit sphere $S^{d-1}$, as the columns of a
    /// `d × m` matrix.
    fn uniform_sphere(&self, rng: &mut SeededRng, d: usize, m: usize) -> Mat<f64> {
        crate::metric::uniform_sphere(rng, d, m)
    }

    /// $\mathbb P(\|U^\top\Delta\| > c)$ for $\Delta$ uniform on $S^{d-1}$ and orthonormal
    /// $U \in \mathbb R^{d\times r}$: the survival function of $\mathrm{Beta}(r/2, (d-r)/2)$ at $c^2$.
    ///
    /// # Errors
    /// Unless $1 \le r \le d$ and $c$ is finite.
    fn sphere_projection_tail(&self, r: usize, d: usize, c: f64) -> Result<f64> {
        sphere_projection_tail(r, d, c)
    }
}

impl Subject for Reference {}

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
    /// A random instance: informative ($h(r) < 1$) with probability 1/2.
    pub fn sample(rng: &mut SeededRng) -> Self {
        let (d, r) = if rng.random::<bool>() {
            let r = rng.random_range(2..=8usize);
            let base = 700.0 * (2.0 * r as f64).ln();
            let d = (base * 2f64.powf(rng.random::<f64>())).round() as usize;
            (d, r)
        } else {
            let d = log_uniform(rng, 0.48, 3.32).round().clamp(3.0, 2048.0) as usize;
            (d, rng.random_range(1..=d.min(32)))
        };
        Self {
            d,
            r,
            alpha: log_uniform(rng, -2.0, 0.0),
            beta: log_uniform(rng, -3.0, 2.0),
            lambda: log_uniform(rng, -3.0, 2.0),
            seed: rng.random(),
        }
    }

    /// Runs the facets on this crate's implementation.
    ///
    /// # Errors
    /// Model or test errors (which count as failures).
    pub fn check(&self) -> Result<Vec<Measurement>> {
        self.check_with(&Reference)
    }

    /// Runs the facets on the implementation `s`.
    ///
    /// # Errors
    /// Model or test errors (which count as failures).
    pub fn check_with(&self, s: &dyn Subject) -> Result<Vec<Measurement>> {
        let (d, r) = (self.d, self.r);
        let (a, b, lambda) = (self.alpha, self.beta, self.lambda);
        let (rf, df) = (r as f64, d as f64);
        let eps = f64::EPSILON;
        let mut rng = seeded(self.seed);
        let u = orthogonal_bases(&mut rng, d, &[r], BasisKind::Haar)?.remove(0);
        let model = Gaussian::subspace(u.as_ref())?;
        let level = NoiseLevel::new(a, b)?;
        // The scalar posterior mean in information form: 1/(α + β²/α) = α/(α² + β²).
        let g = 1.0 / (a + b * (b / a));
        let x0 = model.sample_x0(&mut rng, 1);
        let x: Vec<f64> = (0..d)
            .map(|i| a * x0[(i, 0)] + b * rng.random::<f64>())
            .collect();
        let mut out = Vec::new();

        // h_formula: invert the implementation's h.
        let h = s.h(r, d)?;
        let s_part = h * h - rf / df;
        let inverted = s_part * s_part * (df - 2.0) / (2.0 * rf).ln();
        let target = 18.0 * core::f64::consts::PI.powi(3);
        out.push(Measurement::new(
            "h_formula",
            (inverted / target - 1.0).abs(),
            16.0 * eps * (1.0 + h * h / s_part.abs()),
        ));

        // theorem_exact: the Beta law at the implementation's h.
        let beta_law = (r < d)
            .then(|| Beta::new(0.5 * rf, 0.5 * (df - rf)).expect("positive shapes for 1 ≤ r < d"));
        let exact_tail = |c: f64| -> f64 {
            match &beta_law {
                _ if c < 0.0 => 1.0,
                None => f64::from(c < 1.0),
                Some(law) if c * c < 1.0 => law.sf(c * c),
                Some(_) => 0.0,
            }
        };
        out.push(Measurement::new("theorem_exact", exact_tail(h), 1.0 / rf));

        // lipschitz.
        let lip = s.lipschitz(level);
        out.push(Measurement::new(
            "lipschitz",
            (lip - g).abs(),
            8.0 * eps * g,
        ));

        // The perturbations, through the implementation's sampler and denoiser.
        let delta = s.uniform_sphere(&mut rng, d, SAMPLES);
        let worst_norm = (0..SAMPLES)
            .map(|j| {
                let n2: f64 = (0..d).map(|i| delta[(i, j)] * delta[(i, j)]).sum();
                (n2.sqrt() - 1.0).abs()
            })
            .fold(0.0f64, f64::max);
        out.push(Measurement::new("sphere_norm", worst_norm, gamma(d + 2)));
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let base = s.posterior_mean(&model, xm.as_ref(), level)?;
        let moved = Mat::from_fn(d, SAMPLES, |i, j| x[i] + lambda * delta[(i, j)]);
        let fm = s.posterior_mean(&model, moved.as_ref(), level)?;
        // Independent prediction λ g U (UᵀΔ) from the instance's own basis.
        let coef = mul(u.transpose(), delta.as_ref());
        let pred = mul(u.as_ref(), coef.as_ref());
        let nx = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let tol_lin = 16.0 * gamma(d + r) * g * (nx + lambda);
        let mut worst_lin = 0.0f64;
        let mut changes = Vec::with_capacity(SAMPLES);
        for j in 0..SAMPLES {
            let (mut c2, mut e2) = (0.0, 0.0);
            for i in 0..d {
                let ch = fm[(i, j)] - base[(i, 0)];
                c2 += ch * ch;
                let e = ch - lambda * g * pred[(i, j)];
                e2 += e * e;
            }
            changes.push(c2.sqrt());
            worst_lin = worst_lin.max(e2.sqrt());
        }
        out.push(Measurement::new(
            "linear_change",
            worst_lin,
            tol_lin + f64::MIN_POSITIVE,
        ));

        // violation_count: the implementation's bound against the exact law.
        let bound = lambda * lip * h;
        let k = changes.iter().filter(|&&c| c > bound).count();
        let p = exact_tail(lip * h / g);
        out.push(Measurement::new(
            "violation_count",
            0.0 - binomial_two_sided_p(k, SAMPLES, p)?
                .max(f64::MIN_POSITIVE)
                .log10(),
            -TEST_LEVEL.log10(),
        ));

        if let Some(law) = &beta_law {
            // sphere_law: the count above the exact median.
            let median = law.inverse_cdf(0.5).sqrt();
            let above = changes.iter().filter(|&&c| c > lambda * g * median).count();
            out.push(Measurement::new(
                "sphere_law",
                0.0 - binomial_two_sided_p(above, SAMPLES, 0.5)?
                    .max(f64::MIN_POSITIVE)
                    .log10(),
                -TEST_LEVEL.log10(),
            ));

            // tail_series: r even.
            if r % 2 == 0 {
                let mut cs = vec![median];
                if h < 1.0 {
                    cs.push(h);
                }
                let mut worst = 0.0f64;
                for c in cs {
                    let got = s.sphere_projection_tail(r, d, c)?;
                    let (want, tol) = even_rank_tail(r, d, c);
                    worst = worst.max((got - want).abs() / (tol * want + f64::MIN_POSITIVE));
                }
                out.push(Measurement::new("tail_series", worst, 1.0));
            }
        }
        Ok(out)
    }
}

/// $\mathbb P(\mathrm{Beta}(a, b) > x)$ for integer $a = r/2$, $b = (d-r)/2$, $x = c^2 \in (0, 1)$, by the
/// finite series $(1-x)^b\sum_{j<a}\frac{\Gamma(b+j)}{\Gamma(b)j!}x^j$, with its relative tolerance
/// against a second evaluation: $64\varepsilon(S + a + b + 1)$, $S$ the magnitudes of the logarithms an
/// evaluation of the regularized incomplete Beta function exponentiates.
fn even_rank_tail(r: usize, d: usize, c: f64) -> (f64, f64) {
    let a = r / 2;
    let b = 0.5 * (d - r) as f64;
    let x = c * c;
    let l1 = (-x).ln_1p();
    let lx = x.ln();
    let mut sum = 0.0;
    let mut log_ratio = 0.0; // log Γ(b + j)/(Γ(b) j!)
    for j in 0..a {
        if j > 0 {
            log_ratio += ((b + (j - 1) as f64) / j as f64).ln();
        }
        sum += (b * l1 + j as f64 * lx + log_ratio).exp();
    }
    let af = a as f64;
    let s = (b * l1).abs()
        + (af * lx).abs()
        + ln_gamma(af + b).abs()
        + ln_gamma(af).abs()
        + ln_gamma(b).abs();
    (sum, 64.0 * f64::EPSILON * (s + af + b + 1.0))
}

/// Registry entry: the check on this crate's implementation.
pub fn run_case(rng: &mut SeededRng) -> CaseResult {
    run_case_with(rng, &Reference)
}

/// R16's entry in the [registry](super::registry): the only place its title is written.
pub const THEOREM: Theorem = Theorem {
    id: "R16",
    title: "Shallow Diffuse Thm 1: null-space perturbation bound (linear K = 1)",
    proof: "proofs/R16-perturbation-bound.md",
    run_case,
};

/// The check on the implementation `s`, on the instance drawn from `rng`.
pub fn run_case_with(rng: &mut SeededRng, s: &dyn Subject) -> CaseResult {
    CaseResult::of(Instance::sample(rng), |i| i.check_with(s))
}
