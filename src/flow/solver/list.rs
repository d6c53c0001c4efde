//! The solvers by name: the one list from which the CLI parses `--solver`, prints its help
//! and lists the choices in errors, and the eval service and golden manifests name solvers.

use super::{Ddim, DormandPrince, DpmSolverPP2M, Euler, Heun, Rk4, Solver};
use crate::error::{Error, Result};

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
    build: Option<fn(f64, f64) -> Result<Box<dyn Solver>>>,
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
