//! `diffusion-lowdim presets list|show|divergences`.

use std::process::ExitCode;

use clap::Subcommand;
use diffusion_lowdim::service::presets::{self, DIVERGENCES, PRESETS};

use super::output::CliError;

/// The preset commands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// List the library schedule presets.
    List,
    /// Show one preset (library, formula, time variable, divergences) as JSON.
    Show {
        /// Preset name.
        name: String,
    },
    /// List the known divergences between libraries (conventions, not bugs).
    Divergences,
}

/// Runs a presets command.
pub fn run(action: Action) -> Result<ExitCode, CliError> {
    match action {
        Action::List => {
            for p in PRESETS {
                println!("{:<28} {}", p.name, p.summary);
            }
        }
        Action::Show { name } => {
            let p = presets::find(&name)?;
            let divs: Vec<_> = DIVERGENCES
                .iter()
                .filter(|d| p.divergences.contains(&d.id))
                .collect();
            let v = serde_json::json!({ "preset": p, "divergence_details": divs });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Action::Divergences => {
            for d in DIVERGENCES {
                println!(
                    "{} ({})\n  {}\n  advice: {}\n",
                    d.id, d.libraries, d.description, d.advice
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
