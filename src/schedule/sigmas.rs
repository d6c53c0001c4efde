//! Time / noise-level grids for samplers.

use crate::error::{Error, Result};

fn positive(name: &'static str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            name,
            value: v,
            requirement: "finite and > 0",
        })
    }
}

fn count(n: usize) -> Result<()> {
    if n >= 2 {
        crate::error::ensure_size("grid points", n).map(|_| ())
    } else {
        Err(Error::InvalidCount {
            name: "steps",
            value: n,
            requirement: "at least 2 grid points",
        })
    }
}

/// Below this ratio $\sigma_{\min}^{1/\rho}/\sigma_{\max}^{1/\rho}$ the interpolation
/// $a + f(b - a)$ of [`karras_sigmas`] would lose more than $2^{-20}$ relative accuracy
/// at its small end (its rounding is $\varepsilon a$ absolute, and the last value is $b$),
/// so the cancellation-free $(1-f)a + fb$ is used instead. Ordinary grids (EDM's ratio
/// is 0.22) never reach it, and keep their bits.
const KARRAS_CANCELLATION_RATIO: f64 = 1.164_153_218_269_348_1e-10; // 2^-33

/// The EDM / Karras et al. (2022) noise levels, decreasing from $\sigma_{\max}$ to $\sigma_{\min}$:
///
/// # Definition
/// $\sigma_i = \big(\sigma_{\max}^{1/\rho} + \tfrac{i}{n-1}(\sigma_{\min}^{1/\rho} - \sigma_{\max}^{1/\rho})\big)^{\rho}$,
/// $i = 0, \dots, n-1$. EDM's sampler appends $\sigma_n = 0$; this function does
/// not (append it yourself when the last step goes to the clean data).
/// EDM defaults: $\rho = 7$, $\sigma_{\min} = 0.002$, $\sigma_{\max} = 80$.
///
/// # Errors
/// [`Error::InvalidCount`] for `n < 2`; [`Error::TooLarge`] for `n` above
/// [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS); [`Error::InvalidParameter`] unless
/// $0 < \sigma_{\min} < \sigma_{\max} < \infty$ and $\rho > 0$, and unless
/// $\sigma^{1/\rho}$ is finite and positive at both ends (a tiny $\rho$ overflows it).
///
/// # Examples
/// ```
/// use diffusion_lowdim::schedule::karras_sigmas;
/// let s = karras_sigmas(18, 0.002, 80.0, 7.0)?;
/// assert_eq!(s.len(), 18);
/// assert!((s[0] - 80.0).abs() < 1e-12 && (s[17] - 0.002).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn karras_sigmas(n: usize, sigma_min: f64, sigma_max: f64, rho: f64) -> Result<Vec<f64>> {
    count(n)?;
    positive("sigma_min", sigma_min)?;
    positive("sigma_max", sigma_max)?;
    positive("rho", rho)?;
    if sigma_min >= sigma_max {
        return Err(Error::InvalidParameter {
            name: "sigma_min",
            value: sigma_min,
            requirement: "smaller than sigma_max",
        });
    }
    let a = sigma_max.powf(1.0 / rho);
    let b = sigma_min.powf(1.0 / rho);
    for (name, value, root) in [("sigma_max", sigma_max, a), ("sigma_min", sigma_min, b)] {
        if !(root.is_finite() && root > 0.0) {
            return Err(Error::InvalidParameter {
                name,
                value,
                requirement: "such that sigma^(1/rho) is finite and > 0 (rho is too small for it)",
            });
        }
    }
    let cancels = b < KARRAS_CANCELLATION_RATIO * a;
    let sigmas: Vec<f64> = (0..n)
        .map(|i| {
            let f = i as f64 / (n - 1) as f64;
            if cancels {
                ((1.0 - f) * a + f * b).powf(rho)
            } else {
                (a + f * (b - a)).powf(rho)
            }
        })
        .collect();
    if sigmas.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::Overflow {
            what: "a Karras noise level",
            cause: "sigma^(1/rho) raised back to the power rho leaves the f64 range; use a larger rho",
        });
    }
    Ok(sigmas)
}

/// `n` equally spaced times from `hi` down to `lo` (both included).
///
/// # Errors
/// [`Error::InvalidCount`] for `n < 2`; [`Error::TooLarge`] for `n` above
/// [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS); [`Error::InvalidParameter`] unless both
/// are finite and `hi > lo` with `hi − lo` finite.
pub fn uniform_grid(n: usize, hi: f64, lo: f64) -> Result<Vec<f64>> {
    count(n)?;
    if !(hi.is_finite() && lo.is_finite() && hi > lo && (hi - lo).is_finite()) {
        return Err(Error::InvalidParameter {
            name: "hi",
            value: hi,
            requirement: "finite and greater than lo (finite), with hi − lo finite",
        });
    }
    Ok((0..n)
        .map(|i| {
            if i == n - 1 {
                lo
            } else {
                hi + (i as f64 / (n - 1) as f64) * (lo - hi)
            }
        })
        .collect())
}

/// `n` times from `hi` down to `lo`, equally spaced in $\log t$.
///
/// # Errors
/// As [`uniform_grid`], and both ends must be `> 0`.
pub fn log_uniform_grid(n: usize, hi: f64, lo: f64) -> Result<Vec<f64>> {
    positive("lo", lo)?;
    positive("hi", hi)?;
    let logs = uniform_grid(n, hi.ln(), lo.ln())?;
    let mut out: Vec<f64> = logs.into_iter().map(f64::exp).collect();
    out[0] = hi;
    out[n - 1] = lo;
    Ok(out)
}
