//! Noise levels `(α, β)`: what a denoiser sees instead of a time.

use crate::error::{Error, Result};

/// Largest admissible $\alpha$ and $\beta$.
pub const MAX_SCALE: f64 = 1e100;
/// Smallest admissible $\beta$.
pub const MIN_BETA: f64 = 1e-100;

/// A noise level of the forward process $x_t = \alpha x_0 + \beta \varepsilon$,
/// $\varepsilon \sim \mathcal N(0, I_d)$.
///
/// # Definition
/// The pair $(\alpha, \beta)$ with $\alpha \ge 0$ (signal scale) and $\beta > 0$
/// (noise scale), both finite. The signal-to-noise ratio is
/// $\mathrm{SNR} = \alpha^2/\beta^2$. Models see only this pair; a
/// [`Schedule`](crate::schedule::Schedule) maps a time $t$ to it.
///
/// $\alpha = 0$ is allowed (pure noise: the posterior mean is the prior mean);
/// $\beta = 0$ is not (the posterior is a point mass at $x_t/\alpha$ and the
/// score does not exist).
///
/// # Errors
/// [`Error::InvalidNoiseLevel`] if $\alpha < 0$, $\beta \le 0$ or either is not finite.
///
/// # Examples
/// ```
/// use diffusion_lowdim::NoiseLevel;
/// let l = NoiseLevel::new(0.8, 0.6)?;
/// assert!((l.snr() - 16.0 / 9.0).abs() < 1e-15);
/// assert!(NoiseLevel::new(1.0, 0.0).is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseLevel {
    alpha: f64,
    beta: f64,
}

impl NoiseLevel {
    /// Validates and builds a noise level.
    ///
    /// The admissible range is $0 \le \alpha \le 10^{100}$, $10^{-100} \le \beta \le 10^{100}$:
    /// wide enough for every schedule in use (EDM's $\sigma \in [0.002, 80]$, VP's
    /// $\beta \ge 10^{-5}$…), and narrow enough that $1/\beta^2$, $\rho = \alpha/\beta$ and
    /// the overflow-free forms below stay finite.
    pub fn new(alpha: f64, beta: f64) -> Result<Self> {
        if (0.0..=MAX_SCALE).contains(&alpha) && (MIN_BETA..=MAX_SCALE).contains(&beta) {
            Ok(Self { alpha, beta })
        } else {
            Err(Error::InvalidNoiseLevel { alpha, beta })
        }
    }

    /// The variance-exploding level $\alpha = 1$, $\beta = \sigma$ (EDM / k-diffusion's `sigma`).
    ///
    /// # Errors
    /// [`Error::InvalidNoiseLevel`] unless $\sigma$ is finite and positive.
    pub fn ve(sigma: f64) -> Result<Self> {
        Self::new(1.0, sigma)
    }

    /// Signal scale $\alpha$.
    #[inline]
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Noise scale $\beta$.
    #[inline]
    pub fn beta(&self) -> f64 {
        self.beta
    }

    /// $\rho = \alpha/\beta$, the square root of the SNR.
    #[inline]
    pub fn ratio(&self) -> f64 {
        self.alpha / self.beta
    }

    /// $\mathrm{SNR} = \alpha^2/\beta^2$.
    #[inline]
    pub fn snr(&self) -> f64 {
        let r = self.ratio();
        r * r
    }

    /// $a = \alpha^2/(\alpha^2+\beta^2) = \rho^2/(1+\rho^2) \in [0, 1)$,
    /// evaluated without overflow for any admissible level.
    #[inline]
    pub fn signal_fraction(&self) -> f64 {
        let (a, _) = self.fractions();
        a
    }

    /// $(a, 1-a)$ with $a = \alpha^2/(\alpha^2+\beta^2)$ and
    /// $1 - a = \beta^2/(\alpha^2+\beta^2)$, both computed directly (the second
    /// is never formed as `1 - a`, which would cancel when $a \to 1$).
    #[inline]
    pub fn fractions(&self) -> (f64, f64) {
        // Work with the larger of α, β scaled to one so nothing over- or underflows.
        if self.alpha <= self.beta {
            let q = self.alpha / self.beta; // ≤ 1
            let q2 = q * q;
            (q2 / (1.0 + q2), 1.0 / (1.0 + q2))
        } else {
            let q = self.beta / self.alpha; // < 1
            let q2 = q * q;
            (1.0 / (1.0 + q2), q2 / (1.0 + q2))
        }
    }

    /// The shrinkage factor $\alpha/(\alpha^2+\beta^2)$ of the rank-one posterior
    /// mean ($\lambda = 1$), computed without forming $\alpha^2+\beta^2$ when that
    /// would overflow or underflow.
    #[inline]
    pub fn shrinkage(&self) -> f64 {
        self.gain(1.0)
    }

    /// The posterior-mean gain along an eigen-direction of variance $\lambda \ge 0$:
    /// $g(\lambda) = \alpha\lambda/(\alpha^2\lambda+\beta^2)$.
    ///
    /// Evaluated as $\frac{\rho\lambda/\beta}{\rho^2\lambda+1}$ (with $\rho = \alpha/\beta$)
    /// or its reciprocal-scaled form, so it is accurate to a few ulps for all
    /// admissible levels and finite $\lambda$.
    #[inline]
    pub fn gain(&self, lambda: f64) -> f64 {
        if lambda == 0.0 || self.alpha == 0.0 {
            return 0.0;
        }
        let rho = self.ratio();
        let t = rho * rho * lambda;
        if t.is_finite() && t <= 1.0 {
            (rho * lambda / self.beta) / (t + 1.0)
        } else {
            // α²λ ≥ β²: divide through by α²λ: g = (1/α) / (1 + β²/(α²λ)).
            let s = (self.beta / self.alpha) * (self.beta / self.alpha) / lambda;
            (1.0 / self.alpha) / (1.0 + s)
        }
    }

    /// $\tfrac12\log(1 + \alpha^2\lambda/\beta^2)$, the per-direction log-volume term of
    /// the mixture weights, accurate for tiny and huge arguments.
    #[inline]
    pub fn half_log1p_snr(&self, lambda: f64) -> f64 {
        if lambda == 0.0 || self.alpha == 0.0 {
            return 0.0;
        }
        let rho = self.ratio();
        let t = rho * rho * lambda;
        if t.is_finite() {
            0.5 * t.ln_1p()
        } else {
            // log(1 + ρ²λ) = 2 log ρ + log λ + log1p(1/(ρ²λ)) with ρ²λ overflowing.
            rho.ln() + 0.5 * lambda.ln()
        }
    }

    /// $\kappa(\lambda) = \alpha^2\lambda/(2\beta^2(\alpha^2\lambda+\beta^2))$, the
    /// coefficient of $\|U^\top x\|^2$ in the mixture logits (the paper's $\varphi_t$ at $\lambda=1$).
    ///
    /// Computed as $\tfrac{1}{2\beta^2} \cdot \frac{\rho^2\lambda}{1+\rho^2\lambda}$.
    #[inline]
    pub fn logit_coefficient(&self, lambda: f64) -> f64 {
        if lambda == 0.0 || self.alpha == 0.0 {
            return 0.0;
        }
        let rho = self.ratio();
        let t = rho * rho * lambda;
        let frac = if t.is_finite() { t / (1.0 + t) } else { 1.0 };
        frac / (2.0 * self.beta * self.beta)
    }

    /// $1/(\alpha^2\lambda + \beta^2)$, the inverse marginal variance along an
    /// eigen-direction of variance $\lambda$.
    #[inline]
    pub fn inv_marginal_variance(&self, lambda: f64) -> f64 {
        let rho = self.ratio();
        let t = if lambda == 0.0 {
            0.0
        } else {
            rho * rho * lambda
        };
        (1.0 / (self.beta * self.beta)) / (1.0 + t)
    }

    /// $\log(\alpha^2\lambda + \beta^2) = 2\log\beta + \log(1+\rho^2\lambda)$.
    #[inline]
    pub fn log_marginal_variance(&self, lambda: f64) -> f64 {
        2.0 * self.beta.ln() + 2.0 * self.half_log1p_snr(lambda)
    }
}

impl core::fmt::Display for NoiseLevel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "(alpha = {}, beta = {})", self.alpha, self.beta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid() {
        for (a, b) in [
            (-1.0, 1.0),
            (1.0, 0.0),
            (1.0, -1.0),
            (f64::NAN, 1.0),
            (1.0, f64::INFINITY),
        ] {
            assert!(NoiseLevel::new(a, b).is_err(), "{a} {b}");
        }
        assert!(NoiseLevel::new(0.0, 1.0).is_ok());
        assert!(NoiseLevel::new(1.0, 1e-101).is_err());
        assert!(NoiseLevel::new(1e101, 1.0).is_err());
    }

    #[test]
    fn helpers_finite_over_the_whole_domain() {
        let scales = [0.0, 1e-100, 1e-8, 1.0, 1e8, 1e100];
        let lambdas = [0.0, 1e-300, 1e-8, 1.0, 1e8, 1e300];
        for &a in &scales {
            for &b in scales.iter().filter(|&&b| b > 0.0) {
                let l = NoiseLevel::new(a, b).unwrap();
                let (f, g) = l.fractions();
                assert!(f.is_finite() && g.is_finite());
                for &lam in &lambdas {
                    for v in [
                        l.gain(lam),
                        l.half_log1p_snr(lam),
                        l.logit_coefficient(lam),
                        l.inv_marginal_variance(lam),
                        l.log_marginal_variance(lam),
                    ] {
                        assert!(v.is_finite(), "alpha {a} beta {b} lambda {lam}: {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn gain_matches_direct_formula_in_ordinary_range() {
        for &(a, b, l) in &[(0.8, 0.6, 1.0), (1.0, 1e-3, 2.5), (1e-3, 1.0, 0.3)] {
            let lv = NoiseLevel::new(a, b).unwrap();
            let direct = a * l / (a * a * l + b * b);
            assert!((lv.gain(l) - direct).abs() <= 4.0 * f64::EPSILON * direct);
        }
    }

    #[test]
    fn fractions_sum_to_one_and_do_not_cancel() {
        let lv = NoiseLevel::new(1.0, 1e-9).unwrap();
        let (a, one_minus_a) = lv.fractions();
        assert!((a - 1.0).abs() <= f64::EPSILON);
        // 1 - a = β²/(α²+β²) = 1e-18/(1+1e-18)
        assert!((one_minus_a - 1e-18).abs() <= 1e-33);
    }
}
