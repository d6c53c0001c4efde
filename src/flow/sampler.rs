//! A solver, a grid, a schedule and a denoiser bundled into a flow map.

use faer::{Mat, MatRef};

use super::{FlowMap, ProbabilityFlow, Solution, Solver, TimeGrid};
use crate::error::Result;
use crate::model::Denoiser;
use crate::schedule::Schedule;

/// A sampler: `solver` applied to the probability flow of `denoiser` under
/// `schedule` over `grid` — a [`FlowMap`] from starting noise to samples.
///
/// # Examples
/// ```
/// use diffusion_lowdim::flow::{FlowMap, Heun, Sampler, TimeGrid};
/// use diffusion_lowdim::{schedule::Ve, Gaussian};
/// let g = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref())?;
/// let grid = TimeGrid::edm(&Ve, 18)?;
/// let sampler = Sampler::new(&Ve, &g, &Heun, grid);
/// let x = sampler.map(faer::mat![[80.0], [40.0]].as_ref())?;
/// assert!(x[(1, 0)].abs() < 1e-12); // samples lie in span(U)
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sampler<'a> {
    flow: ProbabilityFlow<'a>,
    solver: &'a dyn Solver,
    grid: TimeGrid,
}

impl<'a> Sampler<'a> {
    /// Bundles the four parts.
    pub fn new(
        schedule: &'a dyn Schedule,
        denoiser: &'a dyn Denoiser,
        solver: &'a dyn Solver,
        grid: TimeGrid,
    ) -> Self {
        Self {
            flow: ProbabilityFlow::new(schedule, denoiser),
            solver,
            grid,
        }
    }

    /// Solves from `x_start`, returning the samples and the solver's diagnostics.
    ///
    /// # Errors
    /// See [`Solver`].
    pub fn run(&self, x_start: MatRef<'_, f64>) -> Result<Solution> {
        self.solver.solve(&self.flow, &self.grid, x_start)
    }

    /// The grid.
    pub fn grid(&self) -> &TimeGrid {
        &self.grid
    }

    /// The flow.
    pub fn flow(&self) -> &ProbabilityFlow<'a> {
        &self.flow
    }

    /// The starting noise scale $\beta_{t_0}$ ($T$ in VE): draw $x_T \sim \mathcal N(0, \beta_{t_0}^2 I)$.
    ///
    /// # Errors
    /// The schedule's errors at $t_0$.
    pub fn noise_scale(&self) -> Result<f64> {
        Ok(self.flow.schedule().level(self.grid.start())?.beta())
    }
}

impl FlowMap for Sampler<'_> {
    fn dim(&self) -> usize {
        self.flow.dim()
    }

    fn map(&self, x_start: MatRef<'_, f64>) -> Result<Mat<f64>> {
        Ok(self.run(x_start)?.x)
    }

    fn columnwise(&self) -> bool {
        self.solver.columnwise()
    }
}
