//! `diffusion-lowdim reproduce <study>`: the papers' experiments, from the library.

pub mod memorization;
pub mod phase_transition;
pub mod small_ball;

use std::process::ExitCode;

use super::output::CliError;

/// Which study to reproduce.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Recovery rate over (N, r, K): the sample-complexity phase transition (R09).
    PhaseTransition(phase_transition::Args),
    /// RP, GL, E_gen and E_mem against N/r: memorization to generalization (R11, R13).
    Memorization(memorization::Args),
    /// The small-ball probability of σ_r(A) against its proven bound (R06).
    SmallBall(small_ball::Args),
}

/// Runs the chosen study.
pub fn run(target: Target) -> Result<ExitCode, CliError> {
    match target {
        Target::PhaseTransition(a) => phase_transition::run(a),
        Target::Memorization(a) => memorization::run(a),
        Target::SmallBall(a) => small_ball::run(a),
    }
}
