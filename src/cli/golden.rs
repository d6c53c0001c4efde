//! `diffusion-lowdim golden export|validate` (parse, call, write).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Subcommand;
use diffusion_lowdim::golden::{self, Tier};
use diffusion_lowdim::io::fsio::write_file_atomic;

use super::output::{CliError, ensure_not_input};

/// The files of a golden suite (its manifest and every file it records a digest of),
/// described for [`ensure_not_input`]; empty if the manifest cannot be read (the
/// command then fails on it with the real error).
pub fn golden_files(golden: &std::path::Path) -> Vec<(String, PathBuf)> {
    let mut v = vec![(
        "the golden manifest".to_string(),
        golden.join("manifest.json"),
    )];
    if let Ok(m) = golden::validate::read_manifest(golden) {
        v.extend(
            m.sha256
                .keys()
                .map(|rel| (format!("the golden file {rel}"), golden.join(rel))),
        );
    }
    v
}

/// The golden-suite commands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Write the golden suite (inputs, expected outputs, per-point f64/f32 tolerances,
    /// model files, manifest.json, README.md) to a new directory. Byte-identical on every run.
    Export {
        /// Output directory (must not exist unless --force); built under a temporary
        /// name next to it and renamed at the end.
        #[arg(long)]
        out: PathBuf,
        /// Master seed of the cases.
        #[arg(long, default_value_t = golden::DEFAULT_SEED, allow_negative_numbers = true)]
        seed: u64,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Compare a candidate's outputs (<outputs>/<case id>.npy, float64 or float32) with a
    /// suite. Exit 0 iff every case passes, 1 if any fails or is missing, 2 on unusable input.
    Validate {
        /// The golden suite directory.
        #[arg(long)]
        golden: PathBuf,
        /// The candidate's outputs directory.
        #[arg(long)]
        outputs: PathBuf,
        /// Tolerance tier: f64 (double-precision candidate) or f32 (single precision).
        #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
        tier: String,
        /// Also write the JSON report here (atomically).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Only the cases whose id or family starts with one of these (comma separated,
        /// e.g. `R03,r14-jacobian-molrg`). Default: every case.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
}

/// Runs a golden command.
pub fn run(action: Action) -> Result<ExitCode, CliError> {
    match action {
        Action::Export { out, seed, force } => {
            let start = Instant::now();
            let summary = golden::export_to(&out, seed, force)?;
            let total: usize = summary.families.iter().map(|f| f.1).sum();
            println!(
                "golden suite written to {}: {total} cases, {} files, {} bytes, {:.2} s",
                out.display(),
                summary.files,
                summary.bytes,
                start.elapsed().as_secs_f64()
            );
            for (id, n) in &summary.families {
                println!("  {id:<10} {n} cases");
            }
            Ok(ExitCode::SUCCESS)
        }
        Action::Validate {
            golden,
            outputs,
            tier,
            report,
            only,
        } => {
            let tier = Tier::parse(&tier).expect("clap restricts the values");
            if let Some(path) = &report {
                let mut inputs = golden_files(&golden);
                if let Ok(m) = golden::validate::read_manifest(&golden) {
                    inputs.extend(m.cases.iter().map(|c| {
                        (
                            format!("the output of case {}", c.id),
                            outputs.join(&c.output),
                        )
                    }));
                }
                ensure_not_input("--report", path, &inputs)?;
            }
            let r = golden::validate_only(&golden, &outputs, tier, &only)?;
            print!("{}", r.table());
            if let Some(path) = report {
                let mut json = serde_json::to_vec_pretty(&r)?;
                json.push(b'\n');
                write_file_atomic(&path, &json)?;
                eprintln!("report written to {}", path.display());
            }
            Ok(if r.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
