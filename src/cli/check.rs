//! `diffusion-lowdim check`.

use std::path::PathBuf;
use std::process::ExitCode;

use diffusion_lowdim::theorem::{self, CheckConfig, CheckReport, Status};

use super::output::{CliError, write_atomic};

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_delimiter = ',', help = only_help())]
    only: Option<Vec<String>>,
    /// Master seed: instance i of result R uses the stream (seed, R, i).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Instances per result.
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    cases: usize,
    /// Write the JSON report here (atomically).
    #[arg(long)]
    report: Option<PathBuf>,
}

/// Bytes kept per instance of a result (its outcome in the report): an estimate.
const BYTES_PER_CASE: u128 = 256;

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    diffusion_lowdim::io::limits::ensure_count_fits(
        "--cases",
        args.cases as u128,
        0,
        BYTES_PER_CASE,
        0,
        "",
    )?;
    let config = CheckConfig {
        seed: args.seed,
        cases: args.cases,
        only: args.only,
    };
    // Validate ids before spending time.
    if let Some(ids) = &config.only {
        for id in ids {
            theorem::find(id)?;
        }
    }
    let report = theorem::run(&config)?;
    print_table(&report);
    if let Some(path) = &args.report {
        let json = serde_json::to_vec_pretty(&report)?;
        write_atomic(path, &json)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_table(report: &CheckReport) {
    println!(
        "diffusion-lowdim {} check  (seed {}, {} instances per result)",
        report.version, report.seed, report.cases
    );
    println!(
        "{:<4} {:<52} {:>9} {:>8} {:>11} {:>11} {:>8}  status",
        "id", "title", "instances", "failures", "worst err", "tolerance", "time"
    );
    for r in &report.results {
        println!(
            "{:<4} {:<52} {:>9} {:>8} {:>11.3e} {:>11.3e} {:>7.2}s  {}",
            r.id,
            truncate(r.title, 52),
            r.instances,
            r.failures,
            r.max_error,
            r.tolerance,
            r.seconds,
            match r.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
            }
        );
        if r.status == Status::Fail {
            for f in r.facets.iter().filter(|f| f.failures > 0) {
                println!(
                    "       facet {:<20} {} of {} failed; worst error {:.3e} vs tolerance {:.3e}",
                    f.name, f.failures, f.instances, f.max_error, f.tolerance
                );
            }
            for e in &r.errors {
                println!("       error: {e}");
            }
            if let Some(w) = &r.worst_instance {
                println!("       worst instance: {w}");
            }
        }
    }
    let failed = report
        .results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .count();
    if failed == 0 {
        println!("all {} results passed", report.results.len());
    } else {
        println!("{failed} of {} results FAILED", report.results.len());
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// `--only`'s help, from the result registry.
fn only_help() -> String {
    let ids: Vec<&str> = diffusion_lowdim::theorem::registry()
        .iter()
        .map(|t| t.id)
        .collect();
    format!(
        "Only these result ids, comma separated (e.g. `R01,R03`): {}. Default: all",
        ids.join(", ")
    )
}
