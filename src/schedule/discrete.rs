//! Discrete DDPM schedules (`alphas_cumprod` tables) with a continuous extension.

use super::{Coefficients, Domain, Schedule};
use crate::error::{Error, Result, ensure_finite_slice};
use crate::linalg::compensated::Acc;

/// `numpy.linspace(start, stop, n)` in f64, reproduced exactly:
/// $y_i = i \cdot \frac{\text{stop}-\text{start}}{n-1} + \text{start}$, last entry set to `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / ((n - 1) as f64);
    let mut y: Vec<f64> = (0..n).map(|i| (i as f64) * step + start).collect();
    y[n - 1] = stop;
    y
}

/// `n ≥ 2` and within [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS).
fn check_table_size(n: usize) -> Result<()> {
    if n < 2 {
        return Err(Error::InvalidCount {
            name: "num_train_timesteps",
            value: n,
            requirement: "at least 2",
        });
    }
    crate::error::ensure_size("num_train_timesteps", n).map(|_| ())
}

fn check_beta_pair(n: usize, beta_start: f64, beta_end: f64) -> Result<()> {
    check_table_size(n)?;
    for (name, v) in [("beta_start", beta_start), ("beta_end", beta_end)] {
        if !(v.is_finite() && v > 0.0 && v < 1.0) {
            return Err(Error::InvalidParameter {
                name,
                value: v,
                requirement: "in (0, 1)",
            });
        }
    }
    Ok(())
}

/// The `"linear"` betas of DDPM / diffusers: `linspace(beta_start, beta_end, n)`
/// (DDPM: `1e-4, 0.02, 1000`), in f64 with numpy's `linspace` rule.
///
/// # Errors
/// [`Error::InvalidCount`] for `n < 2`; [`Error::TooLarge`] above
/// [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS); [`Error::InvalidParameter`] unless both
/// ends are in `(0, 1)`.
pub fn linear_betas(n: usize, beta_start: f64, beta_end: f64) -> Result<Vec<f64>> {
    check_beta_pair(n, beta_start, beta_end)?;
    Ok(linspace(beta_start, beta_end, n))
}

/// The `"scaled_linear"` betas of diffusers (Stable Diffusion: `0.00085, 0.012, 1000`):
/// `linspace(√beta_start, √beta_end, n)²`, in f64.
///
/// # Errors
/// As [`linear_betas`].
pub fn scaled_linear_betas(n: usize, beta_start: f64, beta_end: f64) -> Result<Vec<f64>> {
    check_beta_pair(n, beta_start, beta_end)?;
    Ok(linspace(beta_start.sqrt(), beta_end.sqrt(), n)
        .into_iter()
        .map(|b| b * b)
        .collect())
}

/// The `"squaredcos_cap_v2"` betas (Nichol–Dhariwal, diffusers' `betas_for_alpha_bar`):
/// $\beta_i = \min\!\big(1 - \bar a(\tfrac{i+1}{n})/\bar a(\tfrac{i}{n}),\ 0.999\big)$,
/// $\bar a(t) = \cos^2\!\big(\tfrac{t+0.008}{1.008}\tfrac{\pi}{2}\big)$, in f64.
///
/// # Errors
/// [`Error::InvalidCount`] for `n < 2`; [`Error::TooLarge`] above
/// [`MAX_ELEMENTS`](crate::error::MAX_ELEMENTS).
pub fn cosine_betas(n: usize) -> Result<Vec<f64>> {
    check_table_size(n)?;
    let abar = |t: f64| {
        let c = ((t + 0.008) / 1.008 * core::f64::consts::PI / 2.0).cos();
        c * c
    };
    Ok((0..n)
        .map(|i| {
            let t1 = i as f64 / n as f64;
            let t2 = (i + 1) as f64 / n as f64;
            (1.0 - abar(t2) / abar(t1)).min(0.999)
        })
        .collect())
}

/// A discrete-time DDPM schedule given by its $\bar\alpha_n$ (`alphas_cumprod`),
/// $n = 0, \dots, N-1$, extended to real $t \in [0, N-1]$.
///
/// # Definition
/// At integer $t = n$: $\alpha_t = \sqrt{\bar\alpha_n}$, $\beta_t = \sqrt{1-\bar\alpha_n}$.
/// Between grid points $\log\bar\alpha$ is linear (a piecewise-constant continuous-time
/// $\beta$), so on $[n, n+1)$ with $\ell_n = \log\bar\alpha_n$ and slope $\ell' = \ell_{n+1}-\ell_n$:
/// $\alpha_t = e^{\ell(t)/2}$, $\beta_t = \sqrt{-\operatorname{expm1}\ell(t)}$,
/// $\alpha'_t = \tfrac12\ell'\alpha_t$, $\beta'_t = -\tfrac12\ell'\alpha_t^2/\beta_t$.
/// At a grid point the derivative is the one of the piece to its right (left at $N-1$).
///
/// The table keeps $\log\bar\alpha_n$ (from betas: a compensated sum of
/// $\operatorname{log1p}(-\beta_i)$, accurate to a few ulps), so $1-\bar\alpha_n$ is
/// never formed by cancellation.
///
/// # Examples
/// ```
/// use diffusion_lowdim::schedule::{DiscreteTable, Schedule, linear_betas};
/// let ddpm = DiscreteTable::from_betas("ddpm-linear", &linear_betas(1000, 1e-4, 0.02)?)?;
/// let c = ddpm.coefficients(0.0)?;
/// assert!((c.beta * c.beta - 1e-4).abs() < 1e-18); // ᾱ₀ = 1 − β₀
/// assert!(ddpm.coefficients(999.5).is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteTable {
    name: &'static str,
    log_alpha_bar: Vec<f64>,
}

impl DiscreteTable {
    /// From per-step betas $\beta_1..\beta_N$ (diffusers' `betas`): $\bar\alpha_n = \prod_{i \le n}(1-\beta_i)$.
    ///
    /// # Errors
    /// [`Error::InvalidCount`] for fewer than 2 betas, [`Error::NonFinite`],
    /// [`Error::InvalidParameter`] unless every beta is in `(0, 1)`.
    pub fn from_betas(name: &'static str, betas: &[f64]) -> Result<Self> {
        if betas.len() < 2 {
            return Err(Error::InvalidCount {
                name: "number of betas",
                value: betas.len(),
                requirement: "at least 2",
            });
        }
        ensure_finite_slice("betas", betas)?;
        let mut acc = Acc::default();
        let mut log_alpha_bar = Vec::with_capacity(betas.len());
        for &b in betas {
            if !(b > 0.0 && b < 1.0) {
                return Err(Error::InvalidParameter {
                    name: "betas[i]",
                    value: b,
                    requirement: "in (0, 1)",
                });
            }
            acc.add((-b).ln_1p());
            log_alpha_bar.push(acc.value());
        }
        Ok(Self {
            name,
            log_alpha_bar,
        })
    }

    /// From a table of $\bar\alpha_n$ (diffusers' `alphas_cumprod`), taken as exact.
    ///
    /// # Errors
    /// [`Error::InvalidCount`] for fewer than 2 entries, [`Error::NonFinite`],
    /// [`Error::InvalidParameter`] unless entries are in `(0, 1)` and strictly decreasing.
    pub fn from_alphas_cumprod(name: &'static str, alphas_cumprod: &[f64]) -> Result<Self> {
        if alphas_cumprod.len() < 2 {
            return Err(Error::InvalidCount {
                name: "length of alphas_cumprod",
                value: alphas_cumprod.len(),
                requirement: "at least 2",
            });
        }
        ensure_finite_slice("alphas_cumprod", alphas_cumprod)?;
        let mut prev = 1.0;
        for &a in alphas_cumprod {
            if !(a > 0.0 && a < prev) {
                return Err(Error::InvalidParameter {
                    name: "alphas_cumprod[i]",
                    value: a,
                    requirement: "in (0, 1) and strictly decreasing",
                });
            }
            prev = a;
        }
        Ok(Self {
            name,
            log_alpha_bar: alphas_cumprod.iter().map(|a| a.ln()).collect(),
        })
    }

    /// DDPM (Ho et al. 2020): linear betas `1e-4 … 0.02`, `N = 1000`.
    pub fn ddpm_linear() -> Self {
        Self::from_betas("ddpm-linear", &linspace(1e-4, 0.02, 1000)).expect("valid constants")
    }

    /// Stable Diffusion's scaled-linear betas `0.00085 … 0.012`, `N = 1000`.
    pub fn ddpm_scaled_linear() -> Self {
        let betas = scaled_linear_betas(1000, 0.00085, 0.012).expect("valid constants");
        Self::from_betas("ddpm-scaled-linear", &betas).expect("valid constants")
    }

    /// `squaredcos_cap_v2` with `N = 1000`.
    pub fn ddpm_cosine() -> Self {
        Self::from_betas("ddpm-cosine", &cosine_betas(1000).expect("valid constants"))
            .expect("valid constants")
    }

    /// Number of grid points $N$.
    pub fn len(&self) -> usize {
        self.log_alpha_bar.len()
    }

    /// Always false: a table has at least two points.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// $\bar\alpha_n$ for every grid point.
    pub fn alphas_cumprod(&self) -> Vec<f64> {
        self.log_alpha_bar.iter().map(|l| l.exp()).collect()
    }

    /// $\log\bar\alpha_n$ for every grid point.
    pub fn log_alphas_cumprod(&self) -> &[f64] {
        &self.log_alpha_bar
    }
}

impl Schedule for DiscreteTable {
    fn name(&self) -> &'static str {
        self.name
    }

    fn domain(&self) -> Domain {
        Domain::closed(0.0, (self.len() - 1) as f64)
    }

    fn coefficients(&self, t: f64) -> Result<Coefficients> {
        self.domain().check(self.name, t)?;
        let last = self.len() - 1;
        let n = (t.floor() as usize).min(last - 1);
        let slope = self.log_alpha_bar[n + 1] - self.log_alpha_bar[n];
        let frac = t - n as f64;
        // Grid points are returned exactly (l[n] + 1·slope need not round to l[n+1]).
        #[allow(clippy::float_cmp)]
        let l = if frac == 0.0 {
            self.log_alpha_bar[n]
        } else if frac == 1.0 {
            self.log_alpha_bar[n + 1]
        } else {
            self.log_alpha_bar[n] + frac * slope
        };
        let alpha = (0.5 * l).exp();
        let beta = (-l.exp_m1()).sqrt();
        let dalpha = 0.5 * slope * alpha;
        Coefficients {
            alpha,
            beta,
            dalpha,
            dbeta: -0.5 * slope * alpha * alpha / beta,
        }
        .checked()
    }
}

#[cfg(test)]
// numpy's linspace rule is reproduced exactly: the tests compare bit patterns.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_numpy_rule() {
        let y = linspace(1e-4, 0.02, 1000);
        assert_eq!(y[0], 1e-4);
        assert_eq!(y[999], 0.02);
        assert_eq!(y[1], 1.0 * ((0.02 - 1e-4) / 999.0) + 1e-4);
    }

    #[test]
    fn cumprod_agrees_with_log_form() {
        let betas = linear_betas(1000, 1e-4, 0.02).unwrap();
        let t = DiscreteTable::from_betas("x", &betas).unwrap();
        let mut p = 1.0;
        for (n, b) in betas.iter().enumerate() {
            p *= 1.0 - b;
            let a = t.alphas_cumprod()[n];
            // sequential cumprod accumulates ≤ (n+1)·ε relative error
            assert!((a - p).abs() <= 2.0 * (n as f64 + 2.0) * f64::EPSILON * p);
        }
    }

    #[test]
    fn grid_points_and_interpolation() {
        let t = DiscreteTable::ddpm_linear();
        let c0 = t.coefficients(3.0).unwrap();
        let abar = t.alphas_cumprod()[3];
        assert!((c0.alpha * c0.alpha - abar).abs() < 4.0 * f64::EPSILON);
        let c_last = t.coefficients(999.0).unwrap();
        assert!(c_last.alpha > 0.0 && c_last.beta < 1.0);
    }
}
