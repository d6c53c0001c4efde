//! Time grids for the fixed-step solvers.

use crate::error::{Error, Result};
use crate::schedule::{Schedule, karras_sigmas, log_uniform_grid, uniform_grid};

/// Where a grid ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridEnd {
    /// At its last time $t_n$ (a noise level with $\beta > 0$).
    Last,
    /// At the clean data: after $t_n$, one more step to $\beta = 0$ (EDM's
    /// Euler last step), whose result is $D(x_{t_n}, t_n)$.
    Clean,
}

/// Strictly decreasing times $t_0 > t_1 > \dots > t_n$, optionally followed by a
/// step to the clean data.
///
/// # Definition
/// The solvers step from $t_i$ to $t_{i+1}$; with [`GridEnd::Clean`] they then
/// return $D(x_{t_n}, t_n)$ (see [the module docs](super)). The number of steps
/// is $n$ plus one for the clean end. Times are validated against a schedule
/// (domain, $\beta_t > 0$) when a solver runs.
///
/// # Errors
/// [`Error::InvalidCount`] for no step; [`Error::InvalidParameter`] for
/// non-finite or non-decreasing times and invalid grid parameters.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::TimeGrid;
/// use diffusion_lowdim::schedule::Ve;
/// let g = TimeGrid::edm(&Ve, 18)?; // EDM: 18 noise levels in [0.002, 80], then σ = 0
/// assert_eq!(g.steps(), 18);
/// assert!((g.times()[0] - 80.0).abs() < 1e-12);
/// assert!(TimeGrid::edm(&Ve, 0).is_err());
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TimeGrid {
    times: Vec<f64>,
    end: GridEnd,
}

/// EDM's defaults (Karras et al. 2022): $\sigma_{\min} = 0.002$, $\sigma_{\max} = 80$, $\rho = 7$.
pub const EDM_SIGMA_MIN: f64 = 0.002;
/// See [`EDM_SIGMA_MIN`].
pub const EDM_SIGMA_MAX: f64 = 80.0;
/// See [`EDM_SIGMA_MIN`].
pub const EDM_RHO: f64 = 7.0;

fn no_steps(steps: usize) -> Error {
    Error::InvalidCount {
        name: "steps",
        value: steps,
        requirement: "at least 1",
    }
}

impl TimeGrid {
    /// A grid from explicit times.
    ///
    /// # Errors
    /// See [`TimeGrid`]: at least one step (two times, or one time and a clean end).
    pub fn new(times: Vec<f64>, end: GridEnd) -> Result<Self> {
        let steps = times.len().saturating_sub(1) + usize::from(end == GridEnd::Clean);
        if times.is_empty() || steps == 0 {
            return Err(no_steps(steps));
        }
        if let Some(&t) = times.iter().find(|t| !t.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "grid time",
                value: t,
                requirement: "finite",
            });
        }
        if let Some(w) = times.windows(2).find(|w| w[1] >= w[0]) {
            return Err(Error::InvalidParameter {
                name: "grid time",
                value: w[1],
                requirement: "strictly smaller than the time before it (grids run from noise to data)",
            });
        }
        Ok(Self { times, end })
    }

    /// The EDM / Karras grid: `steps` noise levels
    /// $\sigma_i = (\sigma_{\max}^{1/\rho} + \frac{i}{n-1}(\sigma_{\min}^{1/\rho} - \sigma_{\max}^{1/\rho}))^\rho$
    /// mapped to times by [`Schedule::time_at_sigma`] ($\sigma = \beta/\alpha$), then
    /// the clean end. `steps = 1` is the single level $\sigma_{\max}$.
    ///
    /// # Errors
    /// [`Error::InvalidCount`] for `steps = 0`; the parameter errors of
    /// [`karras_sigmas`]; [`Error::InvalidParameter`] if the schedule does not reach a level.
    pub fn karras(
        schedule: &dyn Schedule,
        steps: usize,
        sigma_min: f64,
        sigma_max: f64,
        rho: f64,
    ) -> Result<Self> {
        let sigmas = match steps {
            0 => return Err(no_steps(0)),
            1 => {
                karras_sigmas(2, sigma_min, sigma_max, rho)?;
                vec![sigma_max]
            }
            n => karras_sigmas(n, sigma_min, sigma_max, rho)?,
        };
        let times = sigmas
            .iter()
            .map(|&s| schedule.time_at_sigma(s))
            .collect::<Result<Vec<_>>>()?;
        Self::new(times, GridEnd::Clean)
    }

    /// [`TimeGrid::karras`] with EDM's defaults ($\sigma \in [0.002, 80]$, $\rho = 7$).
    ///
    /// # Errors
    /// As [`TimeGrid::karras`].
    pub fn edm(schedule: &dyn Schedule, steps: usize) -> Result<Self> {
        Self::karras(schedule, steps, EDM_SIGMA_MIN, EDM_SIGMA_MAX, EDM_RHO)
    }

    /// `steps` equal steps in $t$ from `t_hi` down to `t_lo` (both included), ending at `t_lo`.
    ///
    /// # Errors
    /// [`Error::InvalidCount`] for `steps = 0`; as [`uniform_grid`].
    pub fn uniform(steps: usize, t_hi: f64, t_lo: f64) -> Result<Self> {
        if steps == 0 {
            return Err(no_steps(0));
        }
        Self::new(
            uniform_grid(steps.saturating_add(1), t_hi, t_lo)?,
            GridEnd::Last,
        )
    }

    /// `steps` steps equal in $\log t$ from `t_hi` down to `t_lo > 0`, ending at `t_lo`.
    ///
    /// # Errors
    /// [`Error::InvalidCount`] for `steps = 0`; as [`log_uniform_grid`].
    pub fn log_uniform(steps: usize, t_hi: f64, t_lo: f64) -> Result<Self> {
        if steps == 0 {
            return Err(no_steps(0));
        }
        Self::new(
            log_uniform_grid(steps.saturating_add(1), t_hi, t_lo)?,
            GridEnd::Last,
        )
    }

    /// The same times with another end.
    ///
    /// # Errors
    /// [`Error::InvalidCount`] if that leaves no step.
    pub fn with_end(self, end: GridEnd) -> Result<Self> {
        Self::new(self.times, end)
    }

    /// The times $t_0 > \dots > t_n$.
    pub fn times(&self) -> &[f64] {
        &self.times
    }

    /// How the grid ends.
    pub fn end(&self) -> GridEnd {
        self.end
    }

    /// Number of solver steps: $n$, plus one for a clean end.
    pub fn steps(&self) -> usize {
        self.times.len() - 1 + usize::from(self.end == GridEnd::Clean)
    }

    /// The first time $t_0$.
    pub fn start(&self) -> f64 {
        self.times[0]
    }

    /// The last time $t_n$ (before the clean step, if any).
    pub fn last(&self) -> f64 {
        self.times[self.times.len() - 1]
    }

    /// Checks every time against a schedule: inside its domain with $\beta_t > 0$.
    ///
    /// # Errors
    /// [`Error::TimeOutOfDomain`], [`Error::InvalidNoiseLevel`].
    pub fn validate(&self, schedule: &dyn Schedule) -> Result<()> {
        for &t in &self.times {
            schedule.level(t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Ve, VpLinear};

    #[test]
    fn rejects_bad_grids() {
        assert!(TimeGrid::new(vec![], GridEnd::Clean).is_err());
        assert!(TimeGrid::new(vec![1.0], GridEnd::Last).is_err());
        assert!(TimeGrid::new(vec![1.0, 1.0], GridEnd::Last).is_err());
        assert!(TimeGrid::new(vec![1.0, 2.0], GridEnd::Last).is_err());
        assert!(TimeGrid::new(vec![1.0, f64::NAN], GridEnd::Last).is_err());
        assert!(TimeGrid::uniform(0, 1.0, 0.5).is_err());
        assert!(TimeGrid::new(vec![1.0], GridEnd::Clean).is_ok());
    }

    #[test]
    fn karras_maps_sigmas_to_times() {
        let s = VpLinear::score_sde();
        let g = TimeGrid::edm(&s, 10).unwrap();
        let c = s.coefficients(g.last()).unwrap();
        assert!((c.sigma() - 0.002).abs() < 1e-12);
        assert!(g.validate(&s).is_ok());
        // VE at t = 0 has beta = 0: not a valid grid time.
        let bad = TimeGrid::new(vec![1.0, 0.0], GridEnd::Last).unwrap();
        assert!(bad.validate(&Ve).is_err());
    }
}
