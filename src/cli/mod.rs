//! Command-line front end: parse, call the library, write. No mathematics here.

mod check;
mod eval;
mod golden;
mod measure;
mod output;
mod presets;
mod reproduce;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Ground truth for diffusion models on low-dimensional data.
#[derive(Debug, Parser)]
#[command(name = "diffusion-lowdim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the theorem checks (every registered result on seeded random instances).
    Check(check::Args),
    /// Reproduce a study of the papers (writes CSV and SVG).
    Reproduce {
        /// The study.
        #[command(subcommand)]
        target: reproduce::Target,
    },
    /// Ground truth on your inputs: posterior mean, score, Jacobian, conversions, schedule
    /// tables, probability-flow maps and PFD.
    Eval {
        /// What to evaluate.
        #[command(subcommand)]
        target: eval::Target,
    },
    /// Golden suite for other implementations: export it, validate a candidate against it.
    Golden {
        /// Export or validate.
        #[command(subcommand)]
        action: golden::Action,
    },
    /// Measure a trained network's samples on the golden noise bank against ground truth:
    /// E_gen and E_mem (PFD with confidence intervals), RP and GL (Clopper–Pearson intervals).
    Measure(measure::MeasureArgs),
    /// Library schedule presets (diffusers, k-diffusion, EDM, score_sde) and their divergences.
    Presets {
        /// List, show, divergences.
        #[command(subcommand)]
        action: presets::Action,
    },
}

/// Entry point: exit code 0 on success, 1 when a check fails, 2 on unusable input,
/// 130 when interrupted by a signal (nothing half-written is left).
pub fn main() -> ExitCode {
    // On SIGINT, SIGTERM or SIGHUP: remove the temporary file or directory of a write
    // in progress (never a finished output), then exit 130.
    let _ = ctrlc::set_handler(|| {
        diffusion_lowdim::io::fsio::remove_pending_temporaries();
        eprintln!("interrupted: no output written");
        std::process::exit(130);
    });
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Reproduce { target } => reproduce::run(target),
        Command::Eval { target } => eval::run(target),
        Command::Golden { action } => golden::run(action),
        Command::Measure(args) => measure::run(args),
        Command::Presets { action } => presets::run(action),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
