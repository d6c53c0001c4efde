//! Noise schedules: $t \mapsto (\alpha_t, \beta_t, \alpha'_t, \beta'_t)$, and time grids.
//!
//! A schedule turns a time into a [`NoiseLevel`]; models never see time.
//! Every schedule gives the derivatives analytically (never by finite
//! differences) and rejects times outside its domain with
//! [`Error::TimeOutOfDomain`].
//!
//! | schedule | $\alpha_t$ | $\beta_t$ | domain |
//! |---|---|---|---|
//! | [`Ve`] (EDM, k-diffusion) | $1$ | $t$ | $[0, \infty)$ |
//! | [`VpLinear`] (score_sde) | $e^{-\frac14 t^2(\beta_1-\beta_0) - \frac12 t\beta_0}$ | $\sqrt{1-\alpha_t^2}$ | $(0, 1]$ |
//! | [`VpCosine`] (Nichol–Dhariwal) | $\cos\theta_t/\cos\theta_0$, $\theta_t = \frac{t+s}{1+s}\frac\pi2$ | $\sqrt{1-\alpha_t^2}$ | $(0, 1]$ |
//! | [`SubVp`] (score_sde) | as `VpLinear` | $1-\alpha_t^2$ | $[0, 1]$ |
//! | [`RectifiedFlow`] | $1-t$ | $t$ | $[0, 1]$ |
//! | [`DiscreteTable`] (DDPM) | $\sqrt{\bar\alpha_t}$ | $\sqrt{1-\bar\alpha_t}$ | $[0, N-1]$ |
//! | [`Custom`] | user | user | user |
//!
//! The derivative-free point $t = 0$ is excluded where $\beta'_0$ is infinite
//! (VP: $\beta_t \sim \sqrt{t}$).

mod custom;
mod discrete;
mod sigmas;
mod ve;
mod vp;

pub use custom::Custom;
pub use discrete::{DiscreteTable, cosine_betas, linear_betas, scaled_linear_betas};
pub use sigmas::{karras_sigmas, log_uniform_grid, uniform_grid};
pub use ve::{RectifiedFlow, Ve};
pub use vp::{SubVp, VpCosine, VpLinear};

use crate::error::{Error, Result};
use crate::level::NoiseLevel;

/// The value of a schedule at one time: $(\alpha_t, \beta_t, \alpha'_t, \beta'_t)$.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    /// Signal scale $\alpha_t$.
    pub alpha: f64,
    /// Noise scale $\beta_t$.
    pub beta: f64,
    /// $\mathrm d\alpha_t/\mathrm dt$.
    pub dalpha: f64,
    /// $\mathrm d\beta_t/\mathrm dt$.
    pub dbeta: f64,
}

impl Coefficients {
    /// The noise level $(\alpha_t, \beta_t)$.
    ///
    /// # Errors
    /// [`Error::InvalidNoiseLevel`] where $\beta_t = 0$ (e.g. $t = 0$ in VE).
    pub fn level(&self) -> Result<NoiseLevel> {
        NoiseLevel::new(self.alpha, self.beta)
    }

    /// `Ok(self)` if all four values are finite, else [`Error::Overflow`]: the
    /// guard every built-in schedule applies, so a time next to a singular point
    /// (e.g. $t = 10^{-320}$ in VP, where $\beta_t$ underflows to 0 and $\beta'_t$
    /// is infinite) is an error, never a non-finite success.
    ///
    /// # Errors
    /// [`Error::Overflow`] if any value is NaN or infinite.
    pub fn checked(self) -> Result<Self> {
        if [self.alpha, self.beta, self.dalpha, self.dbeta]
            .iter()
            .all(|v| v.is_finite())
        {
            Ok(self)
        } else {
            Err(Error::Overflow {
                what: "a schedule coefficient (alpha, beta or a derivative)",
                cause: "the time is too close to a singular point of the schedule (e.g. beta_t \
                        underflows to 0 there), or its parameters are extreme; pick a time further in",
            })
        }
    }

    /// The VE-equivalent noise level $\sigma_t = \beta_t/\alpha_t$ ($+\infty$ at $\alpha_t = 0$).
    pub fn sigma(&self) -> f64 {
        self.beta / self.alpha
    }
}

/// An interval of admissible times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Domain {
    /// Lower end.
    pub lo: f64,
    /// Upper end (may be `+∞`).
    pub hi: f64,
    /// `lo` excluded.
    pub lo_open: bool,
    /// `hi` excluded.
    pub hi_open: bool,
}

impl Domain {
    /// `[lo, hi]`.
    pub const fn closed(lo: f64, hi: f64) -> Self {
        Self {
            lo,
            hi,
            lo_open: false,
            hi_open: false,
        }
    }

    /// `(lo, hi]`.
    pub const fn left_open(lo: f64, hi: f64) -> Self {
        Self {
            lo,
            hi,
            lo_open: true,
            hi_open: false,
        }
    }

    /// Whether `t` lies in the domain (NaN never does).
    pub fn contains(&self, t: f64) -> bool {
        let above = if self.lo_open {
            t > self.lo
        } else {
            t >= self.lo
        };
        let below = if self.hi_open {
            t < self.hi
        } else {
            t <= self.hi
        };
        above && below && t.is_finite()
    }

    /// `Ok(())` if `t` is in the domain, else [`Error::TimeOutOfDomain`].
    pub fn check(&self, schedule: &'static str, t: f64) -> Result<()> {
        if self.contains(t) {
            Ok(())
        } else {
            Err(Error::TimeOutOfDomain {
                schedule,
                t,
                lo: self.lo,
                hi: self.hi,
                lo_open: self.lo_open,
                hi_open: self.hi_open,
            })
        }
    }
}

/// A noise schedule of the forward process $x_t = \alpha_t x_0 + \beta_t\varepsilon$.
///
/// Implementors give $\alpha_t, \beta_t$ and their time derivatives in closed form.
/// The trait is object safe, so solvers can take `&dyn Schedule`.
///
/// # Examples
/// ```
/// use diffusion_lowdim::schedule::{Schedule, VpLinear};
/// let s = VpLinear::score_sde();
/// let c = s.coefficients(0.5)?;
/// assert!((c.alpha * c.alpha + c.beta * c.beta - 1.0).abs() < 1e-15); // variance preserving
/// assert!(s.coefficients(1.5).is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub trait Schedule: Send + Sync + core::fmt::Debug {
    /// A short name (`"ve"`, `"vp-linear"`, ...).
    fn name(&self) -> &'static str;

    /// The admissible times.
    fn domain(&self) -> Domain;

    /// $(\alpha_t, \beta_t, \alpha'_t, \beta'_t)$.
    ///
    /// # Errors
    /// [`Error::TimeOutOfDomain`] outside [`Schedule::domain`].
    fn coefficients(&self, t: f64) -> Result<Coefficients>;

    /// The noise level at time `t`.
    ///
    /// # Errors
    /// As [`Schedule::coefficients`], and [`Error::InvalidNoiseLevel`] where $\beta_t = 0$.
    fn level(&self, t: f64) -> Result<NoiseLevel> {
        self.coefficients(t)?.level()
    }

    /// The time at which $\sigma_t = \beta_t/\alpha_t$ equals `sigma`.
    ///
    /// All schedules here have $\sigma_t$ strictly increasing in $t$. The default
    /// bisects on the domain to full precision; schedules with a closed-form
    /// inverse override it.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `sigma` is not finite and positive or not
    /// reached inside the domain.
    fn time_at_sigma(&self, sigma: f64) -> Result<f64> {
        bisect_sigma(self, sigma)
    }
}

/// The error of [`Schedule::time_at_sigma`] for an unreachable or invalid `sigma`.
pub(crate) fn sigma_error(sigma: f64) -> Error {
    Error::InvalidParameter {
        name: "sigma",
        value: sigma,
        requirement: "finite, > 0 and reached by the schedule inside its domain",
    }
}

/// Bisection for [`Schedule::time_at_sigma`]: σ_t increasing on the domain.
pub(crate) fn bisect_sigma<S: Schedule + ?Sized>(s: &S, sigma: f64) -> Result<f64> {
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(sigma_error(sigma));
    }
    let dom = s.domain();
    let eval_sigma = |t: f64| {
        s.coefficients(t)
            .map(|c| c.sigma())
            .map_err(|_| sigma_error(sigma))
    };
    let mut lo = dom.lo;
    let mut hi = if dom.hi.is_finite() {
        dom.hi
    } else {
        dom.lo.max(1.0)
    };
    // Unbounded domains: double `hi` until σ is bracketed.
    if !dom.hi.is_finite() {
        while eval_sigma(hi)? < sigma {
            hi *= 2.0;
            if !hi.is_finite() {
                return Err(sigma_error(sigma));
            }
        }
    }
    if eval_sigma(hi)? < sigma {
        return Err(sigma_error(sigma));
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        let sm = if dom.contains(mid) {
            eval_sigma(mid)?
        } else {
            0.0
        };
        if sm < sigma {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

// ---------------------------------------------------------------- the schedule list

// The schedules by name: the one list from which the CLI parses `--schedule`, prints its help
// and lists the choices in errors, the eval service resolves names, golden manifests name
// schedules, and the theorem checks draw their instances. Library presets (diffusers,
// k-diffusion, … tables) are tables without derivatives, listed in `service::presets`.

/// One entry of the schedule list.
#[derive(Debug, Clone, Copy)]
pub struct NamedSchedule {
    /// The name used on the command line, in golden manifests and in model files.
    pub name: &'static str,
    /// What it is, in a few words (for `--help`).
    pub about: &'static str,
    build: fn() -> Box<dyn Schedule>,
}

impl NamedSchedule {
    /// A new instance of the schedule.
    pub fn build(&self) -> Box<dyn Schedule> {
        (self.build)()
    }
}

/// Every schedule the crate defines with its parameters fixed, in the order the help lists
/// them.
pub static SCHEDULES: [NamedSchedule; 8] = [
    NamedSchedule {
        name: "ve",
        about: "variance exploding (EDM, k-diffusion), alpha = 1, beta = t",
        build: || Box::new(Ve),
    },
    NamedSchedule {
        name: "vp-linear",
        about: "variance preserving, linear beta(s) (score_sde)",
        build: || Box::new(VpLinear::score_sde()),
    },
    NamedSchedule {
        name: "vp-cosine",
        about: "variance preserving, cosine (Nichol-Dhariwal)",
        build: || Box::new(VpCosine::nichol_dhariwal()),
    },
    NamedSchedule {
        name: "sub-vp",
        about: "sub-VP (score_sde)",
        build: || Box::new(SubVp::score_sde()),
    },
    NamedSchedule {
        name: "rectified-flow",
        about: "rectified flow, alpha = 1 - t, beta = t",
        build: || Box::new(RectifiedFlow),
    },
    NamedSchedule {
        name: "ddpm-linear",
        about: "DDPM's 1000-step linear beta table, interpolated",
        build: || Box::new(DiscreteTable::ddpm_linear()),
    },
    NamedSchedule {
        name: "ddpm-scaled-linear",
        about: "Stable Diffusion's scaled-linear beta table, interpolated",
        build: || Box::new(DiscreteTable::ddpm_scaled_linear()),
    },
    NamedSchedule {
        name: "ddpm-cosine",
        about: "the cosine (squaredcos_cap_v2) beta table, interpolated",
        build: || Box::new(DiscreteTable::ddpm_cosine()),
    },
];

/// The names of [`SCHEDULES`], in order.
pub fn schedule_names() -> Vec<&'static str> {
    SCHEDULES.iter().map(|s| s.name).collect()
}

/// The schedule called `name`, if there is one.
pub fn find_schedule(name: &str) -> Option<&'static NamedSchedule> {
    SCHEDULES.iter().find(|s| s.name == name)
}

/// A new instance of the schedule called `name`.
///
/// # Errors
/// [`Error::Unknown`] listing the names of [`SCHEDULES`].
///
/// # Examples
/// ```
/// let ve = diffusion_lowdim::schedule::by_name("ve")?;
/// assert_eq!(ve.level(2.0)?.beta(), 2.0);
/// assert!(diffusion_lowdim::schedule::by_name("edm").is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn by_name(name: &str) -> Result<Box<dyn Schedule>> {
    find_schedule(name)
        .map(NamedSchedule::build)
        .ok_or_else(|| Error::Unknown {
            kind: "schedule",
            name: name.to_string(),
            known: schedule_names().join(", "),
        })
}
