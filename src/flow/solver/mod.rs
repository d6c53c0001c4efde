//! ODE solvers for the probability flow: fixed-step (Euler, Heun, RK4), exponential
//! integrators (DDIM, DPM-Solver++(2M)) and adaptive Dormand–Prince.

mod dopri;
mod explicit;
mod exponential;
mod list;

pub use dopri::DormandPrince;
pub use explicit::{Euler, Heun, Rk4};
pub use exponential::{Ddim, DpmSolverPP2M};
pub use list::{NamedSolver, SOLVERS, find_solver, solver_names};

use faer::{Mat, MatRef};

use super::{GridEnd, ProbabilityFlow, TimeGrid};
use crate::error::Result;

/// Diagnostics of a solve (a success: failures are errors).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SolveInfo {
    /// Accepted steps, including the clean-end step.
    pub steps: usize,
    /// Rejected steps (adaptive solvers only).
    pub rejections: usize,
    /// Denoiser evaluations (each on the whole `d × B` batch).
    pub evaluations: usize,
    /// Times at which the state was computed: $t_0$, every accepted step's end,
    /// $t_n$ (the clean end, $\beta = 0$, is not a time and is not listed).
    pub mesh: Vec<f64>,
}

/// The result of a solve: the samples and the diagnostics.
#[derive(Debug, Clone)]
pub struct Solution {
    /// The state at the end of the grid (`d × B`): samples if the grid ends clean.
    pub x: Mat<f64>,
    /// Steps, rejections, evaluations, mesh.
    pub info: SolveInfo,
}

/// An ODE solver for a [`ProbabilityFlow`] over a [`TimeGrid`].
///
/// Solvers see only the flow's velocity and denoiser (never the model's type)
/// and act on whole `d × B` batches; every operation is sequential except the
/// denoiser's own fixed-partition parallelism, so results are bit-identical
/// for any number of threads.
///
/// # Errors
/// [`Error::DimensionMismatch`](crate::Error::DimensionMismatch) and
/// [`Error::NonFinite`](crate::Error::NonFinite) for bad starting points;
/// [`Error::TimeOutOfDomain`](crate::Error::TimeOutOfDomain) and
/// [`Error::InvalidNoiseLevel`](crate::Error::InvalidNoiseLevel) for grid times
/// the schedule does not accept; the denoiser's errors;
/// [`Error::StepFailure`](crate::Error::StepFailure) (adaptive solvers).
pub trait Solver: Send + Sync + core::fmt::Debug {
    /// A short name (`"heun"`, ...).
    fn name(&self) -> &'static str;

    /// The order of convergence of the global error in the step size, or `None`
    /// for adaptive solvers (which are driven by tolerances).
    fn order(&self) -> Option<u32>;

    /// Integrates the flow over the grid from `x_start` (`d × B`), calling
    /// `observer(k, t_k, x_k)` with the state at $t_0$ and after every accepted
    /// step (the mesh of [`SolveInfo`]; not at the clean end, whose result is returned).
    ///
    /// # Errors
    /// See [`Solver`].
    fn solve_observed(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
        observer: &mut dyn FnMut(usize, f64, MatRef<'_, f64>),
    ) -> Result<Solution>;

    /// `true` if every column is integrated independently of the others
    /// (fixed steps, no batch-wide decisions), so that solving a batch in column
    /// blocks gives the same bits. `false` by default; the fixed-step solvers of
    /// this crate return `true`, [`DormandPrince`] (one step size per batch) `false`.
    fn columnwise(&self) -> bool {
        false
    }

    /// `true` if the solution, and every state at which the denoiser is
    /// evaluated, is $a\,x_{\text{start}} + \sum_i b_i\,D(\xi_i)$ with scalars $a, b_i$
    /// fixed by the grid and the schedule (explicit fixed-step and multistep
    /// methods): then the flow of a denoiser that lives on a subspace separates
    /// exactly into that subspace and its complement ([`SubspaceSampler`](crate::flow::SubspaceSampler)).
    /// `false` by default; the fixed-step solvers of this crate return `true`,
    /// [`DormandPrince`] (step sizes chosen from the state) `false`.
    fn linear(&self) -> bool {
        false
    }

    /// Integrates the flow over the grid from `x_start` (`d × B`).
    ///
    /// # Errors
    /// See [`Solver`].
    fn solve(
        &self,
        flow: &ProbabilityFlow<'_>,
        grid: &TimeGrid,
        x_start: MatRef<'_, f64>,
    ) -> Result<Solution> {
        self.solve_observed(flow, grid, x_start, &mut |_, _, _| {})
    }
}

/// A solver's observer, called with `(k, t_k, x_k)`.
pub(crate) type Observer<'o> = &'o mut dyn FnMut(usize, f64, MatRef<'_, f64>);

/// Validates the grid against the schedule and the starting points against the model.
fn prepare(flow: &ProbabilityFlow<'_>, grid: &TimeGrid, x: MatRef<'_, f64>) -> Result<()> {
    flow.check_start(x)?;
    grid.validate(flow.schedule())
}

/// The clean-end step (EDM's Euler last step to $\sigma = 0$): $x \mapsto D(x, t_n)$.
fn finish(
    flow: &ProbabilityFlow<'_>,
    grid: &TimeGrid,
    x: Mat<f64>,
    mut info: SolveInfo,
) -> Result<Solution> {
    if grid.end() == GridEnd::Clean {
        let x = flow.denoise(grid.last(), x.as_ref())?;
        info.steps += 1;
        info.evaluations += 1;
        Ok(Solution { x, info })
    } else {
        Ok(Solution { x, info })
    }
}

/// Runs a one-step method over the grid's intervals (`evals_per_step` denoiser
/// calls each), then the clean end.
pub(super) fn run_one_step<F>(
    flow: &ProbabilityFlow<'_>,
    grid: &TimeGrid,
    x_start: MatRef<'_, f64>,
    evals_per_step: usize,
    observer: Observer<'_>,
    step: F,
) -> Result<Solution>
where
    F: Fn(f64, f64, &faer::Mat<f64>) -> Result<faer::Mat<f64>>,
{
    prepare(flow, grid, x_start)?;
    let times = grid.times();
    let mut x = x_start.to_owned();
    let mut info = SolveInfo {
        mesh: vec![times[0]],
        ..SolveInfo::default()
    };
    observer(0, times[0], x.as_ref());
    for (k, w) in times.windows(2).enumerate() {
        x = step(w[0], w[1], &x)?;
        info.steps += 1;
        info.evaluations += evals_per_step;
        info.mesh.push(w[1]);
        observer(k + 1, w[1], x.as_ref());
    }
    finish(flow, grid, x, info)
}

/// $x + \sum_k c_k v_k$, entrywise with fused multiply-adds in a fixed order.
fn combine(x: &Mat<f64>, terms: &[(f64, &Mat<f64>)]) -> Mat<f64> {
    crate::linalg::fused::combine(x, terms)
}

/// $\lambda_t = \log(\alpha_t/\beta_t)$ (half log-SNR); $-\infty$ at $\alpha_t = 0$.
fn half_log_snr(alpha: f64, beta: f64) -> f64 {
    alpha.ln() - beta.ln()
}
