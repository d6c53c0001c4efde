//! Variance-preserving schedules (score_sde linear, Nichol–Dhariwal cosine) and sub-VP.

use super::{Coefficients, Domain, Schedule, sigma_error};
use crate::error::{Error, Result};

/// The VP schedules need a noise level $\beta_1 \ge$ [`MIN_BETA`](crate::level::MIN_BETA)
/// at $t = 1$: with $-2L(1) = \tfrac12(\beta_0 + \beta_1)$ that is
/// $\tfrac12(\beta_0+\beta_1) \ge$ this (a smaller $\beta_{\max}$, e.g. `5e-324`, makes
/// every noise level of the schedule underflow and $\beta'_t$ infinite).
const MIN_VP_INTEGRATED_BETA: f64 = 1e-190;

fn check_beta_range(beta_min: f64, beta_max: f64) -> Result<()> {
    if !(beta_min.is_finite() && beta_min >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "beta_min",
            value: beta_min,
            requirement: "finite and ≥ 0",
        });
    }
    if !(beta_max.is_finite() && beta_max >= beta_min && beta_max > 0.0) {
        return Err(Error::InvalidParameter {
            name: "beta_max",
            value: beta_max,
            requirement: "finite, > 0 and ≥ beta_min",
        });
    }
    let integrated = 0.5 * (beta_min + beta_max);
    if integrated.is_nan() || integrated < MIN_VP_INTEGRATED_BETA {
        return Err(Error::InvalidParameter {
            name: "beta_max",
            value: beta_max,
            requirement: "such that (beta_min + beta_max)/2 ≥ 1e-190 (else the schedule's noise \
                          level underflows below 1e-100 at every time)",
        });
    }
    Ok(())
}

/// The log signal scale of the linear-β VP SDE and its derivative:
/// $L(t) = -\tfrac14 t^2(\beta_1-\beta_0) - \tfrac12 t\beta_0$, $L'(t) = -\tfrac12 b(t)$.
fn vp_log_alpha(beta_min: f64, beta_max: f64, t: f64) -> (f64, f64) {
    let d = beta_max - beta_min;
    let l = -(0.25 * d * t * t + 0.5 * beta_min * t);
    let dl = -0.5 * (beta_min + d * t);
    (l, dl)
}

/// Solves $-2L(t) = m$ for $t \ge 0$: $\tfrac{\Delta}{2}t^2 + \beta_0 t - m = 0$,
/// in the cancellation-free form $t = 2m/(\beta_0 + \sqrt{\beta_0^2 + 2\Delta m})$.
fn vp_time_at_neg2log(beta_min: f64, beta_max: f64, m: f64) -> f64 {
    let d = beta_max - beta_min;
    let disc = beta_min * beta_min + 2.0 * d * m;
    if disc.is_finite() {
        2.0 * m / (beta_min + disc.sqrt())
    } else {
        // β₀² or 2Δm overflows (β₀ ≳ 1e154 or an astronomically large m): the same
        // root with the square root taken as a hypotenuse.
        2.0 * m / (beta_min + beta_min.hypot((2.0 * d).sqrt() * m.sqrt()))
    }
}

/// Variance-preserving SDE with linear $\beta(s) = \beta_0 + s(\beta_1 - \beta_0)$
/// (Song et al., score_sde: $\beta_0 = 0.1$, $\beta_1 = 20$).
///
/// # Definition
/// $\alpha_t = \exp L(t)$ with $L(t) = -\tfrac14 t^2(\beta_1-\beta_0) - \tfrac12 t\beta_0$,
/// $\beta_t = \sqrt{1-\alpha_t^2}$ (evaluated as $\sqrt{-\operatorname{expm1}(2L)}$),
/// $\alpha'_t = -\tfrac12 b(t)\alpha_t$, $\beta'_t = \alpha_t^2 b(t)/(2\beta_t)$,
/// $b(t) = \beta_0 + (\beta_1-\beta_0)t$. Domain $(0, 1]$: $\beta'_t \to \infty$ as $t \to 0$.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpLinear {
    beta_min: f64,
    beta_max: f64,
}

impl VpLinear {
    /// The score_sde defaults $\beta_0 = 0.1$, $\beta_1 = 20$.
    pub fn score_sde() -> Self {
        Self {
            beta_min: 0.1,
            beta_max: 20.0,
        }
    }

    /// A linear-β VP schedule.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `0 ≤ beta_min ≤ beta_max`, `beta_max > 0`, finite,
    /// and `(beta_min + beta_max)/2 ≥ 1e-190` (so that $\beta_1 \ge 10^{-100}$ is a valid
    /// noise level and no coefficient in the domain underflows to a division by zero
    /// except next to $t = 0$, where [`Coefficients::checked`](super::Coefficients::checked) refuses it).
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        check_beta_range(beta_min, beta_max)?;
        Ok(Self { beta_min, beta_max })
    }

    /// $(\beta_0, \beta_1)$.
    pub fn betas(&self) -> (f64, f64) {
        (self.beta_min, self.beta_max)
    }
}

impl Schedule for VpLinear {
    fn name(&self) -> &'static str {
        "vp-linear"
    }

    fn domain(&self) -> Domain {
        Domain::left_open(0.0, 1.0)
    }

    fn coefficients(&self, t: f64) -> Result<Coefficients> {
        self.domain().check(self.name(), t)?;
        let (l, dl) = vp_log_alpha(self.beta_min, self.beta_max, t);
        let alpha = l.exp();
        let beta = (-(2.0 * l).exp_m1()).sqrt();
        Coefficients {
            alpha,
            beta,
            dalpha: alpha * dl,
            dbeta: -alpha * alpha * dl / beta,
        }
        .checked()
    }

    fn time_at_sigma(&self, sigma: f64) -> Result<f64> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(sigma_error(sigma));
        }
        // α² = 1/(1+σ²) ⇒ −2L = log1p(σ²) (= 2 log σ, to the last bit, once σ² overflows).
        let s2 = sigma * sigma;
        let m = if s2.is_finite() {
            s2.ln_1p()
        } else {
            2.0 * sigma.ln()
        };
        let t = vp_time_at_neg2log(self.beta_min, self.beta_max, m);
        // Written so that a NaN is refused too; t = 0 (a σ so small that the time
        // underflows) is outside the domain.
        if t.is_nan() || t > 1.0 || t <= 0.0 {
            return Err(sigma_error(sigma));
        }
        Ok(t)
    }
}

/// The sub-VP SDE of score_sde: same $\alpha_t$ as [`VpLinear`], $\beta_t = 1 - \alpha_t^2$.
///
/// # Definition
/// $\beta_t = -\operatorname{expm1}(2L(t))$, $\beta'_t = -2\alpha_t\alpha'_t = \alpha_t^2 b(t)$.
/// Domain $[0, 1]$ (all four coefficients are finite at $t = 0$, where $\beta_0 = 0$).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubVp {
    beta_min: f64,
    beta_max: f64,
}

impl SubVp {
    /// The score_sde defaults $\beta_0 = 0.1$, $\beta_1 = 20$.
    pub fn score_sde() -> Self {
        Self {
            beta_min: 0.1,
            beta_max: 20.0,
        }
    }

    /// A sub-VP schedule.
    ///
    /// # Errors
    /// As [`VpLinear::new`].
    pub fn new(beta_min: f64, beta_max: f64) -> Result<Self> {
        check_beta_range(beta_min, beta_max)?;
        Ok(Self { beta_min, beta_max })
    }
}

impl Schedule for SubVp {
    fn name(&self) -> &'static str {
        "sub-vp"
    }

    fn domain(&self) -> Domain {
        Domain::closed(0.0, 1.0)
    }

    fn coefficients(&self, t: f64) -> Result<Coefficients> {
        self.domain().check(self.name(), t)?;
        let (l, dl) = vp_log_alpha(self.beta_min, self.beta_max, t);
        let alpha = l.exp();
        Coefficients {
            alpha,
            beta: -(2.0 * l).exp_m1(),
            dalpha: alpha * dl,
            dbeta: -2.0 * alpha * alpha * dl,
        }
        .checked()
    }

    fn time_at_sigma(&self, sigma: f64) -> Result<f64> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(sigma_error(sigma));
        }
        // σ = (1−α²)/α ⇒ α = 2/(σ + √(σ²+4)); m = −2 log α. Once σ² overflows,
        // √(σ²+4) = σ in f64 and α = 1/σ.
        let s2 = sigma * sigma;
        let alpha = if s2.is_finite() {
            2.0 / (sigma + (s2 + 4.0).sqrt())
        } else {
            1.0 / sigma
        };
        let t = vp_time_at_neg2log(self.beta_min, self.beta_max, -2.0 * alpha.ln());
        // Written so that a NaN is refused too.
        if t.is_nan() || t > 1.0 {
            return Err(sigma_error(sigma));
        }
        Ok(t)
    }
}

/// The cosine schedule of Nichol & Dhariwal (2021), in continuous time.
///
/// # Definition
/// $\theta_t = \frac{t+s}{1+s}\frac{\pi}{2}$, $\alpha_t = \cos\theta_t/\cos\theta_0$ (so
/// $\bar\alpha_t = \alpha_t^2 = f(t)/f(0)$, $f(t) = \cos^2\theta_t$), $s = 0.008$ by default,
/// $\beta_t = \sqrt{1-\alpha_t^2}$ evaluated as
/// $\sqrt{\sin(\theta_t-\theta_0)\sin(\theta_t+\theta_0)}/\cos\theta_0$ (no cancellation
/// near $t = 0$), $\alpha'_t = -\theta'\sin\theta_t/\cos\theta_0$ with
/// $\theta' = \frac{\pi}{2(1+s)}$, $\beta'_t = -\alpha_t\alpha'_t/\beta_t$. Domain $(0, 1]$.
/// (The discrete version clips betas at 0.999; see [`cosine_betas`](super::cosine_betas).)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VpCosine {
    s: f64,
}

impl VpCosine {
    /// Offset $s = 0.008$ as in the paper.
    pub fn nichol_dhariwal() -> Self {
        Self { s: 0.008 }
    }

    /// A cosine schedule with offset `s`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `0 < s ≤ 1e6`. Beyond that
    /// $\cos\theta_0 \approx \pi/(2s)$ is computed as the cosine of an angle next to
    /// $\pi/2$, with relative error $\approx s\varepsilon$, and at $s \approx 10^{16}$ it is
    /// a rounding artefact (at $s = 9.7\cdot10^{94}$ the coefficients are not finite).
    pub fn new(s: f64) -> Result<Self> {
        if s.is_finite() && s > 0.0 && s <= MAX_COSINE_OFFSET {
            Ok(Self { s })
        } else {
            Err(Error::InvalidParameter {
                name: "s",
                value: s,
                requirement: "in (0, 1e6]",
            })
        }
    }
}

/// The largest offset [`VpCosine::new`] accepts.
const MAX_COSINE_OFFSET: f64 = 1e6;

impl Schedule for VpCosine {
    fn name(&self) -> &'static str {
        "vp-cosine"
    }

    fn domain(&self) -> Domain {
        Domain::left_open(0.0, 1.0)
    }

    fn coefficients(&self, t: f64) -> Result<Coefficients> {
        self.domain().check(self.name(), t)?;
        let half_pi = core::f64::consts::FRAC_PI_2;
        let dtheta = half_pi / (1.0 + self.s);
        let theta0 = self.s * dtheta;
        let theta = (t + self.s) * dtheta;
        let c0 = theta0.cos();
        let alpha = theta.cos() / c0;
        let beta = ((t * dtheta).sin() * (theta + theta0).sin()).sqrt() / c0;
        let dalpha = -dtheta * theta.sin() / c0;
        Coefficients {
            alpha,
            beta,
            dalpha,
            dbeta: -alpha * dalpha / beta,
        }
        .checked()
    }
}
