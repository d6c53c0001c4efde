//! ODE solvers for the probability flow: fixed-step (Euler, Heun, RK4), exponential
//! integrators (DDIM, DPM-Solver++(2M)) and adaptive Dormand–Prince.

mod dopri;
mod explicit;
mod exponential;

pub use dopri::DormandPrince;
pub use explicit::{Euler, Heun, Rk4};
pub use exponential::{Ddim, DpmSolverPP2M};

use faer::{Mat, MatRef};

use super::{GridEnd, ProbabilityFlow, TimeGrid};
use crate::error::{Error, Result};

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

// ---------------------------------------------------------------- the solver list

// The solvers by name: the one list from which the CLI parses `--solver`, prints its help
// and lists the choices in errors, and the eval service and golden manifests name solvers.

/// Builds a solver from the tolerances `rtol`, `atol` (ignored by fixed-step solvers).
type BuildSolver = fn(f64, f64) -> Result<Box<dyn Solver>>;

/// One entry of the solver list.
#[derive(Debug, Clone, Copy)]
pub struct NamedSolver {
    /// The name used on the command line, in golden manifests and by [`Solver::name`].
    pub name: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [&'static str],
    /// What it is, in a few words (for `--help`).
    pub about: &'static str,
    /// Denoiser evaluations per step (1 where the solver is not a fixed-step one).
    pub stages: usize,
    build: Option<BuildSolver>,
}

impl NamedSolver {
    /// The solver, with the tolerances `rtol`, `atol` where it takes them (`dopri5`);
    /// `None` for `exact`, the exact Gaussian flow, which is not a [`Solver`].
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for invalid Dormand–Prince tolerances.
    pub fn build(&self, rtol: f64, atol: f64) -> Result<Option<Box<dyn Solver>>> {
        self.build.map(|b| b(rtol, atol)).transpose()
    }
}

/// Every solver, in the order the help lists them.
pub static SOLVERS: [NamedSolver; 7] = [
    NamedSolver {
        name: "euler",
        aliases: &[],
        about: "explicit Euler (order 1)",
        stages: 1,
        build: Some(|_, _| Ok(Box::new(Euler))),
    },
    NamedSolver {
        name: "heun",
        aliases: &[],
        about: "Heun, EDM's sampler (order 2)",
        stages: 2,
        build: Some(|_, _| Ok(Box::new(Heun))),
    },
    NamedSolver {
        name: "rk4",
        aliases: &[],
        about: "classical Runge-Kutta (order 4)",
        stages: 4,
        build: Some(|_, _| Ok(Box::new(Rk4))),
    },
    NamedSolver {
        name: "ddim",
        aliases: &[],
        about: "deterministic DDIM (order 1)",
        stages: 1,
        build: Some(|_, _| Ok(Box::new(Ddim))),
    },
    NamedSolver {
        name: "dpm-solver++2m",
        aliases: &["dpmpp-2m"],
        about: "DPM-Solver++(2M), multistep (order 2)",
        stages: 1,
        build: Some(|_, _| Ok(Box::new(DpmSolverPP2M))),
    },
    NamedSolver {
        name: "dopri5",
        aliases: &["dormand-prince"],
        about: "adaptive Dormand-Prince 5(4); uses only the grid's two ends",
        stages: 6,
        build: Some(|rtol, atol| Ok(Box::new(DormandPrince::new(rtol, atol)?))),
    },
    NamedSolver {
        name: "exact",
        aliases: &[],
        about: "the exact flow of a Gaussian model (no discretization)",
        stages: 1,
        build: None,
    },
];

/// The names of [`SOLVERS`], in order.
pub fn solver_names() -> Vec<&'static str> {
    SOLVERS.iter().map(|s| s.name).collect()
}

/// The solver called `name` (or one of its aliases).
///
/// # Errors
/// [`Error::Unknown`] listing the names of [`SOLVERS`].
pub fn find_solver(name: &str) -> Result<&'static NamedSolver> {
    SOLVERS
        .iter()
        .find(|s| s.name == name || s.aliases.contains(&name))
        .ok_or_else(|| Error::Unknown {
            kind: "solver",
            name: name.to_string(),
            known: solver_names().join(", "),
        })
}
