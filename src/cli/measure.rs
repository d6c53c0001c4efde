//! `diffusion-lowdim measure` (parse, call, print, write).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use diffusion_lowdim::io::fsio::write_file_atomic;
use diffusion_lowdim::service::measure::{self, MeasureConfig, TrainingSet};

use super::golden::golden_files;
use super::output::{CliError, ensure_not_input};

/// Arguments of `measure`.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// Your sampler's outputs, (M, d) .npy: row m computed from row m of the golden noise
    /// bank (`measure/noises.npy`, x_T = 80 z, VE). float32 is promoted.
    #[arg(long)]
    samples: PathBuf,
    /// The golden suite directory (`golden export`).
    #[arg(long)]
    golden: PathBuf,
    /// Your training set, (N, d) .npy: E_mem against its empirical flow (computed here)
    /// and GL against its points.
    #[arg(long, conflicts_with = "n")]
    train: Option<PathBuf>,
    /// A golden training set by size N (see the manifest's `measure.training_sets`).
    #[arg(long, allow_negative_numbers = true)]
    n: Option<usize>,
    /// Linear feature map h(x) = W x: a (k, d) .npy matrix. Default: identity.
    #[arg(long)]
    features: Option<PathBuf>,
    /// Confidence level of every interval.
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    confidence: f64,
    /// Cosine-similarity threshold τ of RP and GL.
    #[arg(long, default_value_t = 0.6, allow_negative_numbers = true)]
    threshold: f64,
    /// Also write the JSON report here (atomically).
    #[arg(long)]
    report: Option<PathBuf>,
}

/// Runs `measure`.
pub fn run(a: MeasureArgs) -> Result<ExitCode, CliError> {
    if let Some(report) = &a.report {
        let mut inputs = vec![("--samples".to_string(), a.samples.clone())];
        if let Some(t) = &a.train {
            inputs.push(("--train".into(), t.clone()));
        }
        if let Some(f) = &a.features {
            inputs.push(("--features".into(), f.clone()));
        }
        inputs.extend(golden_files(&a.golden));
        ensure_not_input("--report", report, &inputs)?;
    }
    let mut config = MeasureConfig::new(a.samples, a.golden);
    config.training = match (a.train, a.n) {
        (Some(p), _) => TrainingSet::File(p),
        (None, Some(n)) => TrainingSet::Golden(n),
        (None, None) => TrainingSet::None,
    };
    config.features = a.features;
    config.confidence = a.confidence;
    config.threshold = a.threshold;
    let report = measure::measure(&config)?;
    print!("{}", report.table());
    if let Some(path) = a.report {
        let mut json = serde_json::to_vec_pretty(&report)?;
        json.push(b'\n');
        write_file_atomic(&path, &json)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
