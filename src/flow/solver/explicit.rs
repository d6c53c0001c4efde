//! Explicit Runge–Kutta steps in the schedule's time: Euler, Heun (EDM), RK4.

use faer::MatRef;

use super::{Observer, Solution, Solver, combine, run_one_step};
use crate::error::Result;
use crate::flow::{ProbabilityFlow, TimeGrid};

/// The explicit Euler method in $t$: $x_{i+1} = x_i + h\,v(t_i, x_i)$, $h = t_{i+1} - t_i$.
///
/// # Definition
/// Order 1, one evaluation per step. In VE its step to $t = 0$ is exactly the
/// clean-end step $x \mapsto D(x, t_n)$.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{Euler, ProbabilityFlow, Solver, TimeGrid};
/// use diffusion_lowdim::{schedule::Ve, Gaussian};
/// let g = Gaussian::new(&[0.0], faer::mat![[1.0]].as_ref(), &[1.0])?;
/// let flow = ProbabilityFlow::new(&Ve, &g);
/// // One step from t = 1 to 1/2 at x = 2: v = (x − x/2)/1 = 1, so x = 2 − 1/2.
/// let grid = TimeGrid::uniform(1, 1.0, 0.5)?;
/// let s = Euler.solve(&flow, &grid, faer::mat![[2.0]].as_ref())?;
/// assert!((s.x[(0, 0)] - 1.5).abs() < 1e-15);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Euler;

impl Solver for Euler {
    fn name(&self) -> &'static str {
        "euler"
    }

    fn order(&self) -> Option<u32> {
        Some(1)
    }

    fn columnwise(&self) -> bool {
        true
    }

    fn linear(&self) -> bool {
        true
    }

    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: Observer<'_>,
    ) -> Result<Solution> {
        run_one_step(flow, grid, x_start, 1, observer, |t, s, x| {
            let v = flow.velocity(t, x.as_ref())?;
            Ok(combine(x, &[(s - t, &v)]))
        })
    }
}

/// Heun's method, the deterministic sampler of EDM (Karras et al. 2022, Alg. 1).
///
/// # Definition
/// $\tilde x = x_i + h v(t_i, x_i)$, $x_{i+1} = x_i + \frac h2\big(v(t_i, x_i) + v(t_{i+1}, \tilde x)\big)$:
/// order 2, two evaluations per step; the step to the clean end is EDM's Euler
/// last step (one evaluation).
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{GaussianFlow, FlowMap, Heun, ProbabilityFlow, Solver, TimeGrid};
/// use diffusion_lowdim::{schedule::Ve, Gaussian, NoiseLevel};
/// let g = Gaussian::new(&[0.5], faer::mat![[1.0]].as_ref(), &[2.0])?;
/// let x_t = faer::mat![[7.0]];
/// let exact = GaussianFlow::between(&g, NoiseLevel::ve(10.0)?, 1.0, 0.1)?.map(x_t.as_ref())?;
/// let error = |n: usize| -> diffusion_lowdim::Result<f64> {
///     let s = Heun.solve(&ProbabilityFlow::new(&Ve, &g), &TimeGrid::uniform(n, 10.0, 0.1)?, x_t.as_ref())?;
///     Ok((s.x[(0, 0)] - exact[(0, 0)]).abs())
/// };
/// let (e64, e128) = (error(64)?, error(128)?);
/// assert!(e64 < 2e-3);
/// assert!((e64 / e128 - 4.0).abs() < 0.2); // second order: halving h divides the error by 4
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Heun;

impl Solver for Heun {
    fn name(&self) -> &'static str {
        "heun"
    }

    fn order(&self) -> Option<u32> {
        Some(2)
    }

    fn columnwise(&self) -> bool {
        true
    }

    fn linear(&self) -> bool {
        true
    }

    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: Observer<'_>,
    ) -> Result<Solution> {
        run_one_step(flow, grid, x_start, 2, observer, |t, s, x| {
            let h = s - t;
            let v1 = flow.velocity(t, x.as_ref())?;
            let xe = combine(x, &[(h, &v1)]);
            let v2 = flow.velocity(s, xe.as_ref())?;
            Ok(combine(x, &[(0.5 * h, &v1), (0.5 * h, &v2)]))
        })
    }
}

/// The classical fourth-order Runge–Kutta method in $t$.
///
/// # Definition
/// $k_1 = v(t, x)$, $k_2 = v(t + \frac h2, x + \frac h2k_1)$, $k_3 = v(t+\frac h2, x + \frac h2 k_2)$,
/// $k_4 = v(t + h, x + hk_3)$, $x_{i+1} = x + \frac h6(k_1 + 2k_2 + 2k_3 + k_4)$:
/// order 4, four evaluations per step.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{GaussianFlow, FlowMap, Rk4, ProbabilityFlow, Solver, TimeGrid};
/// use diffusion_lowdim::{schedule::Ve, Gaussian, NoiseLevel};
/// let g = Gaussian::new(&[0.0], faer::mat![[1.0]].as_ref(), &[1.0])?;
/// let grid = TimeGrid::uniform(32, 4.0, 0.5)?;
/// let x_t = faer::mat![[3.0]];
/// let s = Rk4.solve(&ProbabilityFlow::new(&Ve, &g), &grid, x_t.as_ref())?;
/// let exact = GaussianFlow::between(&g, NoiseLevel::ve(4.0)?, 1.0, 0.5)?.map(x_t.as_ref())?;
/// assert!((s.x[(0, 0)] - exact[(0, 0)]).abs() < 1e-7); // 32 steps of order 4: 7.5e-8
/// assert_eq!(s.info.evaluations, 4 * 32);
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rk4;

impl Solver for Rk4 {
    fn name(&self) -> &'static str {
        "rk4"
    }

    fn order(&self) -> Option<u32> {
        Some(4)
    }

    fn columnwise(&self) -> bool {
        true
    }

    fn linear(&self) -> bool {
        true
    }

    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: Observer<'_>,
    ) -> Result<Solution> {
        run_one_step(flow, grid, x_start, 4, observer, |t, s, x| {
            let h = s - t;
            let mid = t + 0.5 * h;
            let k1 = flow.velocity(t, x.as_ref())?;
            let k2 = flow.velocity(mid, combine(x, &[(0.5 * h, &k1)]).as_ref())?;
            let k3 = flow.velocity(mid, combine(x, &[(0.5 * h, &k2)]).as_ref())?;
            let k4 = flow.velocity(s, combine(x, &[(h, &k3)]).as_ref())?;
            Ok(combine(
                x,
                &[
                    (h / 6.0, &k1),
                    (h / 3.0, &k2),
                    (h / 3.0, &k3),
                    (h / 6.0, &k4),
                ],
            ))
        })
    }
}
