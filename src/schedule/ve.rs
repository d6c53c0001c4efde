//! Variance exploding (EDM) and rectified-flow schedules.

use super::{Coefficients, Domain, Schedule};
use crate::error::{Error, Result};

/// Variance exploding / EDM / k-diffusion: $\alpha_t = 1$, $\beta_t = t$ (so $\sigma = t$).
///
/// # Definition
/// $\alpha_t = 1,\ \beta_t = t,\ \alpha'_t = 0,\ \beta'_t = 1$ on $t \in [0, \infty)$.
/// At $t = 0$ the coefficients exist but the noise level does not ($\beta = 0$).
///
/// # Examples
/// ```
/// use diffusion_lowdim::schedule::{Schedule, Ve};
/// let c = Ve.coefficients(80.0)?;
/// assert_eq!((c.alpha, c.beta, c.dalpha, c.dbeta), (1.0, 80.0, 0.0, 1.0));
/// assert_eq!(Ve.time_at_sigma(2.5)?, 2.5);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ve;

impl Schedule for Ve {
    fn name(&self) -> &'static str {
        "ve"
    }

    fn domain(&self) -> Domain {
        Domain {
            lo: 0.0,
            hi: f64::INFINITY,
            lo_open: false,
            hi_open: true,
        }
    }

    fn coefficients(&self, t: f64) -> Result<Coefficients> {
        self.domain().check(self.name(), t)?;
        Ok(Coefficients {
            alpha: 1.0,
            beta: t,
            dalpha: 0.0,
            dbeta: 1.0,
        })
    }

    fn time_at_sigma(&self, sigma: f64) -> Result<f64> {
        if sigma.is_finite() && sigma > 0.0 {
            Ok(sigma)
        } else {
            Err(Error::InvalidParameter {
                name: "sigma",
                value: sigma,
                requirement: "finite and > 0",
            })
        }
    }
}

/// Rectified flow / flow matching: $\alpha_t = 1 - t$, $\beta_t = t$ on $[0, 1]$.
///
/// # Definition
/// $\alpha'_t = -1$, $\beta'_t = 1$; $\sigma_t = t/(1-t)$, inverted as $t = \sigma/(1+\sigma)$.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RectifiedFlow;

impl Schedule for RectifiedFlow {
    fn name(&self) -> &'static str {
        "rectified-flow"
    }

    fn domain(&self) -> Domain {
        Domain::closed(0.0, 1.0)
    }

    fn coefficients(&self, t: f64) -> Result<Coefficients> {
        self.domain().check(self.name(), t)?;
        Ok(Coefficients {
            alpha: 1.0 - t,
            beta: t,
            dalpha: -1.0,
            dbeta: 1.0,
        })
    }

    fn time_at_sigma(&self, sigma: f64) -> Result<f64> {
        if sigma.is_finite() && sigma > 0.0 {
            Ok(sigma / (1.0 + sigma))
        } else {
            Err(Error::InvalidParameter {
                name: "sigma",
                value: sigma,
                requirement: "finite and > 0",
            })
        }
    }
}
