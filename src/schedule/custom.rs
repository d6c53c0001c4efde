//! A user-supplied schedule.

use super::{Coefficients, Domain, Schedule};
use crate::error::{Error, Result};

type Func = Box<dyn Fn(f64) -> f64 + Send + Sync>;

/// A schedule from user functions $\alpha(t), \beta(t), \alpha'(t), \beta'(t)$ on a domain.
///
/// Every evaluation checks the returned values: all finite, $\alpha \ge 0$, $\beta \ge 0$.
/// The derivatives are the user's responsibility (the crate's tests compare
/// built-in schedules against finite differences; a user can do the same with
/// [`Custom::derivative_mismatch`]).
///
/// # Examples
/// ```
/// use diffusion_lowdim::schedule::{Custom, Domain, Schedule};
/// // α = cos(πt/2), β = sin(πt/2) on (0, 1].
/// let h = std::f64::consts::FRAC_PI_2;
/// let s = Custom::new(
///     "trig",
///     Domain::left_open(0.0, 1.0),
///     move |t| (h * t).cos(),
///     move |t| (h * t).sin(),
///     move |t| -h * (h * t).sin(),
///     move |t| h * (h * t).cos(),
/// );
/// assert!(s.derivative_mismatch(0.3)? < 1e-8);
/// assert!(s.coefficients(0.0).is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub struct Custom {
    name: &'static str,
    domain: Domain,
    alpha: Func,
    beta: Func,
    dalpha: Func,
    dbeta: Func,
}

impl core::fmt::Debug for Custom {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Custom")
            .field("name", &self.name)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl Custom {
    /// Builds a schedule from four functions and a domain.
    pub fn new(
        name: &'static str,
        domain: Domain,
        alpha: impl Fn(f64) -> f64 + Send + Sync + 'static,
        beta: impl Fn(f64) -> f64 + Send + Sync + 'static,
        dalpha: impl Fn(f64) -> f64 + Send + Sync + 'static,
        dbeta: impl Fn(f64) -> f64 + Send + Sync + 'static,
    ) -> Self {
        Self {
            name,
            domain,
            alpha: Box::new(alpha),
            beta: Box::new(beta),
            dalpha: Box::new(dalpha),
            dbeta: Box::new(dbeta),
        }
    }

    /// The largest relative mismatch between the supplied derivatives and a
    /// 4th-order central difference of $\alpha, \beta$ at `t` (step $10^{-3}$ of
    /// the distance to the domain's ends, at most $10^{-3}$).
    ///
    /// # Errors
    /// As [`Schedule::coefficients`].
    pub fn derivative_mismatch(&self, t: f64) -> Result<f64> {
        let c = self.coefficients(t)?;
        let room = (t - self.domain.lo).min(self.domain.hi - t);
        let h = (1e-3 * room).min(1e-3);
        let fd = |f: &Func| {
            (-f(t + 2.0 * h) + 8.0 * f(t + h) - 8.0 * f(t - h) + f(t - 2.0 * h)) / (12.0 * h)
        };
        let rel = |x: f64, y: f64| (x - y).abs() / y.abs().max(1e-300).max(x.abs());
        Ok(rel(fd(&self.alpha), c.dalpha).max(rel(fd(&self.beta), c.dbeta)))
    }
}

impl Schedule for Custom {
    fn name(&self) -> &'static str {
        self.name
    }

    fn domain(&self) -> Domain {
        self.domain
    }

    fn coefficients(&self, t: f64) -> Result<Coefficients> {
        self.domain.check(self.name, t)?;
        let check = |what: &'static str, v: f64, nonneg: bool| {
            if v.is_finite() && (!nonneg || v >= 0.0) {
                Ok(v)
            } else {
                Err(Error::InvalidUserFunction {
                    what,
                    t,
                    value: v,
                    requirement: if nonneg { "finite and ≥ 0" } else { "finite" },
                })
            }
        };
        Ok(Coefficients {
            alpha: check("alpha", (self.alpha)(t), true)?,
            beta: check("beta", (self.beta)(t), true)?,
            dalpha: check("dalpha", (self.dalpha)(t), false)?,
            dbeta: check("dbeta", (self.dbeta)(t), false)?,
        })
    }
}
