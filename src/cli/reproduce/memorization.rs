//! Work in progress on a branch; replaced when the study lands.

use std::process::ExitCode;

use crate::cli::output::CliError;

/// Arguments (none yet).
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Not available in this build.
pub fn run(_args: Args) -> Result<ExitCode, CliError> {
    Err(CliError::Usage(
        "this study is not available in this build of diffusion-lowdim".to_string(),
    ))
}
