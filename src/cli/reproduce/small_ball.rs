//! `diffusion-lowdim reproduce small-ball`: the small-ball table of R06
//! (`docs/reductions.md` §5).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use diffusion_lowdim::study::small_ball_table;

use crate::cli::output::{CliError, write_atomic};

/// Arguments of `reproduce small-ball`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gaussian matrices per row of the table.
    #[arg(long, default_value_t = 20_000, allow_negative_numbers = true)]
    trials: usize,
    /// Master seed (trial j of row c uses the stream (seed, "small-ball", c·2³² + j)).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Also write DIR/small_ball.csv (atomically).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Prints (and optionally writes) the table.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let mut cells = Vec::new();
    for r in [2usize, 4, 8] {
        for extra in [0usize, 1, 3, 7] {
            for eps in [0.1, 0.3, 0.5] {
                cells.push((r + extra, r, eps));
            }
        }
    }
    let rows = small_ball_table(&cells, args.trials, args.seed, 0.95)?;
    println!("| r | N | N−r+1 | ε | P̂(σ_r < ε(√N−√(r−1))) | 95% CI | proven bound |");
    println!("|---|---|---|---|---|---|---|");
    let mut csv = String::from("r,N,epsilon,trials,below,rate,ci_low,ci_high,bound\n");
    for row in &rows {
        let rate = row.below as f64 / row.trials as f64;
        println!(
            "| {} | {} | {} | {} | {:.5} | [{:.5}, {:.5}] | {:.3e} |",
            row.r,
            row.n,
            row.n - row.r + 1,
            row.epsilon,
            rate,
            row.ci.0,
            row.ci.1,
            row.bound
        );
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{}",
            row.r, row.n, row.epsilon, row.trials, row.below, rate, row.ci.0, row.ci.1, row.bound
        );
    }
    if let Some(dir) = args.out {
        std::fs::create_dir_all(&dir).map_err(|source| CliError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        write_atomic(&dir.join("small_ball.csv"), csv.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
