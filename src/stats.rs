//! Statistics shared by the checks and the studies: binomial proportions with
//! exact Clopper–Pearson intervals, and binomial tail probabilities.

use statrs::distribution::{Beta, Continuous, ContinuousCDF};
use statrs::function::beta::beta_reg;

use crate::error::{Error, Result};

/// `Ok(())` iff `confidence` is in `(0, 1)`.
///
/// # Errors
/// [`Error::InvalidParameter`] otherwise.
pub(crate) fn check_confidence(confidence: f64) -> Result<()> {
    if confidence.is_finite() && confidence > 0.0 && confidence < 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "confidence",
            value: confidence,
            requirement: "in (0, 1)",
        })
    }
}

/// A proportion $k/n$ with its exact (Clopper–Pearson) confidence interval.
///
/// # Definition
/// For $k$ successes in $n$ trials and confidence $1-a$, the Clopper–Pearson interval is
/// $[\,B^{-1}_{k,\,n-k+1}(a/2),\ B^{-1}_{k+1,\,n-k}(1-a/2)\,]$, $B^{-1}_{\alpha,\beta}$ the
/// inverse CDF of the Beta distribution (statrs, refined by Newton steps on statrs'
/// regularized incomplete Beta function; the upper end is computed as
/// $1 - B^{-1}_{n-k,\,k+1}(a/2)$, and refined directly in $p$ when it is below $1/2$, where
/// that subtraction would cancel), with lower end 0 for $k = 0$ and upper end 1 for $k = n$. Equivalently the lower end $p_\ell$ solves
/// $\mathbb P_{p_\ell}(X \ge k) = a/2$ and the upper end $p_u$ solves
/// $\mathbb P_{p_u}(X \le k) = a/2$, $X \sim \mathrm{Bin}(n, p)$; its coverage is at least
/// $1 - a$ for every $p$ (`proofs/R13-reproducibility-generalization.md`).
///
/// # Errors
/// [`Error::InvalidCount`] for $n = 0$ or $k > n$; [`Error::InvalidParameter`] for a
/// confidence outside $(0, 1)$.
///
/// # Examples
/// ```
/// use diffusion_lowdim::stats::Proportion;
/// let p = Proportion::new(0, 10, 0.95)?;
/// // k = 0: the upper end solves (1 − p)^10 = 0.025.
/// assert!((p.interval.1 - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-12);
/// assert_eq!(p.interval.0, 0.0);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    /// $k$.
    pub successes: usize,
    /// $n$.
    pub trials: usize,
    /// $k/n$.
    pub estimate: f64,
    /// The Clopper–Pearson interval.
    pub interval: (f64, f64),
    /// Its confidence level $1 - a$.
    pub confidence: f64,
}

impl Proportion {
    /// $k/n$ with its Clopper–Pearson interval at `confidence`.
    ///
    /// # Errors
    /// See [`Proportion`].
    pub fn new(successes: usize, trials: usize, confidence: f64) -> Result<Self> {
        Ok(Self {
            successes,
            trials,
            estimate: successes as f64 / trials.max(1) as f64,
            interval: clopper_pearson(successes, trials, confidence)?,
            confidence,
        })
    }
}

/// The largest number of trials for which [`clopper_pearson`] computes the exact
/// interval; above it, the continuity-corrected Wilson interval (see there).
///
/// statrs' Beta inverse (AS 109) and regularized incomplete Beta function (a
/// continued fraction capped at 140 terms, with a prefactor formed from
/// $\ln\Gamma$ values that cancel) are accurate and fast up to here; at
/// $n = 10^{12}$ the inverse does not return at all.
pub const CLOPPER_PEARSON_EXACT_MAX_TRIALS: usize = 10_000_000;

/// The Clopper–Pearson interval of [`Proportion`], exact for
/// $n \le$ [`CLOPPER_PEARSON_EXACT_MAX_TRIALS`] $= 10^7$.
///
/// # Large $n$
/// Above $10^7$ trials the ends are those of the continuity-corrected Wilson (score)
/// interval: the lower end $p$ solves $k - \tfrac12 - np = z\sqrt{np(1-p)}$ and the upper
/// end $k + \tfrac12 - np = -z\sqrt{np(1-p)}$, $z = \Phi^{-1}(1 - a/2)$ (closed forms, no
/// iteration). This is the normal approximation to the same two tail equations, so its
/// error is stated by Berry–Esseen (Shevtsova's constant 0.4748): at each end
/// $|\mathbb P_p(X \ge k) - a/2|$ (resp. $\mathbb P_p(X \le k)$) is at most
/// $0.4748\,(p^2 + q^2)/\sqrt{npq}$, $q = 1-p$ — below $10^{-3}$ once $npq \ge 2.3\cdot10^5$,
/// and weak (a Poisson regime) when $k$ or $n - k$ is small.
/// The answer is returned in constant time for every $n$.
///
/// # Errors
/// See [`Proportion`].
pub fn clopper_pearson(successes: usize, trials: usize, confidence: f64) -> Result<(f64, f64)> {
    check_confidence(confidence)?;
    if trials == 0 {
        return Err(Error::InvalidCount {
            name: "trials",
            value: 0,
            requirement: "at least 1",
        });
    }
    if successes > trials {
        return Err(Error::InvalidCount {
            name: "successes",
            value: successes,
            requirement: "at most the number of trials",
        });
    }
    let a = 1.0 - confidence;
    if trials > CLOPPER_PEARSON_EXACT_MAX_TRIALS {
        return Ok(wilson_cc(successes, trials, a));
    }
    let (k, n) = (successes as f64, trials as f64);
    let lo = if successes == 0 {
        0.0
    } else {
        lower_tail_root(k, n - k + 1.0, 0.5 * a)
    };
    // The upper end p solves P_p(X ≤ k) = a/2, i.e. I_{1−p}(n − k, k + 1) = a/2: solve for
    // q = 1 − p (a small tail target), then p = 1 − q. When p < 1/2 that subtraction
    // cancels (q ≈ 1), so p is refined directly on I_p(k + 1, n − k) = 1 − a/2.
    let hi = if successes == trials {
        1.0
    } else {
        let p = 1.0 - lower_tail_root(n - k, k + 1.0, 0.5 * a);
        if p < 0.5 {
            newton(k + 1.0, n - k, 1.0 - 0.5 * a, p)
        } else {
            p
        }
    };
    Ok((lo, hi))
}

/// The continuity-corrected Wilson interval for $k$ of $n$ at level $1 - a$ (see
/// [`clopper_pearson`], large $n$), with lower end 0 for $k = 0$ and upper end 1 for $k = n$.
fn wilson_cc(k: usize, n: usize, a: f64) -> (f64, f64) {
    use statrs::distribution::Normal;
    let z = Normal::standard().inverse_cdf(1.0 - 0.5 * a);
    let nf = n as f64;
    // Smaller root of (c − np)² = z² np(1 − p) with c = k − 1/2, in the form without
    // cancellation: p = 2c²/n / (2c + z² + z√(z² + 4c(1 − c/n))).
    let lower = |c: f64| {
        let disc = z * z + 4.0 * c * (1.0 - c / nf);
        (2.0 * c * c / nf) / (2.0 * c + z * z + z * disc.max(0.0).sqrt())
    };
    let lo = if k == 0 { 0.0 } else { lower(k as f64 - 0.5) };
    // By symmetry the upper end for k is 1 − (the lower end for n − k).
    let hi = if k == n {
        1.0
    } else {
        1.0 - lower((n - k) as f64 - 0.5)
    };
    (lo.clamp(0.0, 1.0), hi.clamp(0.0, 1.0))
}

/// The $x$ with $I_x(a, b) = t$ for a small target $t \le 1/2$ in the lower tail: statrs'
/// Beta inverse CDF (AS 109), then up to four Newton steps on $I_x(a, b) - t$ with statrs'
/// `beta_reg` and the Beta density, stopping when a step is below $2\varepsilon x$ (AS 109
/// alone leaves tail residuals of a few hundred ulps).
fn lower_tail_root(a: f64, b: f64, t: f64) -> f64 {
    let x = Beta::new(a, b).expect("both shapes are ≥ 1").inverse_cdf(t);
    newton(a, b, t, x)
}

/// Up to four Newton steps on $I_x(a, b) = t$ from `x` (see [`lower_tail_root`]).
fn newton(a: f64, b: f64, t: f64, mut x: f64) -> f64 {
    let dist = Beta::new(a, b).expect("both shapes are ≥ 1");
    for _ in 0..4 {
        let density = dist.pdf(x);
        if !(x > 0.0 && x < 1.0 && density > 0.0 && density.is_finite()) {
            break;
        }
        let step = (beta_reg(a, b, x) - t) / density;
        let next = (x - step).clamp(0.5 * x, 0.5 * (1.0 + x));
        let done = (next - x).abs() <= 2.0 * f64::EPSILON * x;
        x = next;
        if done {
            break;
        }
    }
    x
}

/// `Ok(())` if `p` is a probability.
fn check_probability(p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name: "p",
            value: p,
            requirement: "a probability in [0, 1]",
        })
    }
}

/// $\mathbb P(X \ge k)$ for $X \sim \mathrm{Bin}(n, p)$, as the regularized incomplete Beta
/// function $I_p(k, n - k + 1)$ (1 for $k = 0$, 0 for $k > n$); above $10^7$ trials the
/// continuity-corrected normal approximation, with the Berry–Esseen error stated at
/// [`clopper_pearson`].
///
/// # Errors
/// [`Error::InvalidParameter`] unless $p \in [0, 1]$ (NaN included).
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::binomial_upper_tail;
/// assert!((binomial_upper_tail(1, 3, 0.5)? - 0.875).abs() < 1e-15);
/// assert!(binomial_upper_tail(1, 3, f64::NAN).is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn binomial_upper_tail(k: usize, n: usize, p: f64) -> Result<f64> {
    check_probability(p)?;
    Ok(if k == 0 || (k <= n && p >= 1.0) {
        1.0
    } else if k > n || p <= 0.0 {
        0.0
    } else if n > CLOPPER_PEARSON_EXACT_MAX_TRIALS {
        normal_tail(k as f64 - 0.5 - n as f64 * p, n, p)
    } else {
        beta_reg(k as f64, (n - k + 1) as f64, p)
    })
}

/// $1 - \Phi(c/\sqrt{npq})$: the continuity-corrected normal approximation of a binomial
/// tail for $n >$ [`CLOPPER_PEARSON_EXACT_MAX_TRIALS`], where statrs' incomplete Beta
/// function (140 continued-fraction terms) no longer converges. Its error is at most
/// $0.4748\,(p^2+q^2)/\sqrt{npq}$ (Berry–Esseen; see [`clopper_pearson`]).
fn normal_tail(c: f64, n: usize, p: f64) -> f64 {
    use statrs::distribution::Normal;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    Normal::standard().sf(c / sd)
}

/// $\mathbb P(X \le k)$ for $X \sim \mathrm{Bin}(n, p)$: $1 - \mathbb P(X \ge k+1)$, computed as
/// $I_{1-p}(n-k, k+1)$ (no cancellation); above $10^7$ trials the normal approximation
/// of [`binomial_upper_tail`].
///
/// # Errors
/// [`Error::InvalidParameter`] unless $p \in [0, 1]$ (NaN included).
///
/// # Examples
/// ```
/// use diffusion_lowdim::metric::binomial_lower_tail;
/// assert!((binomial_lower_tail(0, 3, 0.5)? - 0.125).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn binomial_lower_tail(k: usize, n: usize, p: f64) -> Result<f64> {
    check_probability(p)?;
    Ok(if k >= n || p <= 0.0 {
        1.0
    } else if p >= 1.0 {
        0.0
    } else if n > CLOPPER_PEARSON_EXACT_MAX_TRIALS {
        // P(X ≤ k) = P(−X ≥ −k): the same approximation, mirrored.
        normal_tail(n as f64 * p - (k as f64 + 0.5), n, p)
    } else {
        beta_reg((n - k) as f64, (k + 1) as f64, 1.0 - p)
    })
}

/// The two-sided binomial test's p-value by doubling the smaller tail:
/// $\min(1, 2\min(\mathbb P(X \le k), \mathbb P(X \ge k)))$.
///
/// # Errors
/// [`Error::InvalidParameter`] unless $p \in [0, 1]$ (NaN included).
pub fn binomial_two_sided_p(k: usize, n: usize, p: f64) -> Result<f64> {
    Ok((2.0 * binomial_lower_tail(k, n, p)?.min(binomial_upper_tail(k, n, p)?)).min(1.0))
}
