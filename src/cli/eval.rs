//! `diffusion-lowdim eval`: ground truth on the user's inputs (parse, call, write).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use diffusion_lowdim::interop::eval::{self, LevelSpec, Quantity};
use diffusion_lowdim::interop::fsio::{DirContents, write_dir_atomic, write_file_atomic};
use diffusion_lowdim::interop::model_file;
use diffusion_lowdim::interop::npy::{self, Array};
use diffusion_lowdim::interop::presets::{self, Precision, Spacing, TableOptions};

use super::output::CliError;

/// What to evaluate.
#[derive(Debug, Subcommand)]
pub enum Target {
    /// E[x_0 | x_t] at every row of --x; writes (B, d) float64.
    PosteriorMean(ModelArgs),
    /// The score ∇ log p_t(x_t) at every row of --x; writes (B, d) float64.
    Score(ModelArgs),
    /// The Jacobian ∂E[x_0|x_t]/∂x_t at every row of --x; writes (B, d, d) float64,
    /// J[b, i, j] = ∂x̂0_i/∂x_t_j.
    Jacobian(ModelArgs),
    /// Convert predictions between types (x0, eps, v, score) at the same x_t; writes (B, d).
    Convert(ConvertArgs),
    /// Write a schedule table (t, alpha, beta and the library's native arrays) as .npy files.
    Schedule(ScheduleArgs),
}

/// The noise level: `--alpha A --beta B`, `--sigma S`, or `--schedule NAME --t T`.
#[derive(Debug, Args)]
pub struct LevelArgs {
    /// Signal scale α of x_t = α x_0 + β ε (with --beta).
    #[arg(long, requires = "beta", conflicts_with_all = ["sigma", "schedule"])]
    alpha: Option<f64>,
    /// Noise scale β (with --alpha).
    #[arg(long, requires = "alpha")]
    beta: Option<f64>,
    /// VE / EDM / k-diffusion noise level σ: α = 1, β = σ.
    #[arg(long, conflicts_with_all = ["alpha", "schedule"])]
    sigma: Option<f64>,
    /// A schedule: ve, vp-linear, vp-cosine, sub-vp, rectified-flow, ddpm-linear,
    /// ddpm-scaled-linear, ddpm-cosine, or a library preset (see `presets list`),
    /// evaluated at --t in its own time variable.
    #[arg(long, requires = "t")]
    schedule: Option<String>,
    /// Time in the schedule's coordinates (a diffusers train timestep, a grid index, …).
    #[arg(long, requires = "schedule")]
    t: Option<f64>,
    /// Presets only: f64 ground truth or the library's float32 table (bit for bit).
    #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
    precision: String,
    /// Presets only: number of grid steps (σ grids, score_sde time grids).
    #[arg(long)]
    steps: Option<usize>,
}

impl LevelArgs {
    fn spec(&self) -> Result<LevelSpec, CliError> {
        match (self.alpha, self.beta, self.sigma, &self.schedule, self.t) {
            (Some(alpha), Some(beta), None, None, None) => Ok(LevelSpec::AlphaBeta { alpha, beta }),
            (None, None, Some(s), None, None) => Ok(LevelSpec::Sigma(s)),
            (None, None, None, Some(name), Some(t)) => Ok(LevelSpec::Schedule {
                name: name.clone(),
                t,
                options: TableOptions {
                    precision: precision(&self.precision),
                    steps: self.steps,
                    ..TableOptions::default()
                },
            }),
            _ => Err(CliError::Usage(
                "give the noise level as --alpha A --beta B, or --sigma S, or --schedule NAME --t T"
                    .into(),
            )),
        }
    }
}

fn precision(s: &str) -> Precision {
    if s == "f32" {
        Precision::F32
    } else {
        Precision::F64
    }
}

/// Arguments of the model-based evaluations.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model file (JSON manifest; see docs/model-format.md).
    #[arg(long)]
    model: PathBuf,
    /// Points x_t, a (B, d) .npy array (float64, or float32 promoted to float64).
    #[arg(long)]
    x: PathBuf,
    #[command(flatten)]
    level: LevelArgs,
    /// Output .npy file (float64), written atomically.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `eval convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Prediction type of --value.
    #[arg(long, value_parser = ["x0", "eps", "v", "score"])]
    from: String,
    /// Prediction type to write.
    #[arg(long, value_parser = ["x0", "eps", "v", "score"])]
    to: String,
    /// Points x_t where the predictions were made, (B, d).
    #[arg(long)]
    x: PathBuf,
    /// The predictions, (B, d).
    #[arg(long)]
    value: PathBuf,
    #[command(flatten)]
    level: LevelArgs,
    /// Output .npy file (float64), written atomically.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `eval schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// A library preset (see `presets list`).
    #[arg(long)]
    schedule: String,
    /// f64 ground truth, or the library's float32 computation bit for bit.
    #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
    precision: String,
    /// Number of sampling steps (diffusers: inference steps; grids: length). Default: the preset's.
    #[arg(long)]
    steps: Option<usize>,
    /// diffusers timestep_spacing (with --steps).
    #[arg(long, default_value = "leading", value_parser = ["linspace", "leading", "trailing"])]
    spacing: String,
    /// diffusers steps_offset (added by the leading spacing).
    #[arg(long, default_value_t = 0)]
    steps_offset: usize,
    /// Output directory (t.npy, alpha.npy, beta.npy and native arrays), written atomically.
    #[arg(long)]
    out_dir: PathBuf,
    /// Replace --out-dir if it exists.
    #[arg(long)]
    force: bool,
}

/// Runs `eval`.
pub fn run(target: Target) -> Result<ExitCode, CliError> {
    match target {
        Target::PosteriorMean(a) => model_eval(a, Quantity::PosteriorMean),
        Target::Score(a) => model_eval(a, Quantity::Score),
        Target::Jacobian(a) => model_eval(a, Quantity::Jacobian),
        Target::Convert(a) => convert(a),
        Target::Schedule(a) => schedule(a),
    }
}

fn model_eval(a: ModelArgs, q: Quantity) -> Result<ExitCode, CliError> {
    let level = a.level.spec()?.resolve()?;
    let model = model_file::load(&a.model)?;
    let x = npy::read_finite(&a.x)?;
    let out = eval::evaluate(model.model.exact(), &x, &a.x, level, q)?;
    write_file_atomic(&a.out, &npy::encode(&out))?;
    eprintln!(
        "{} of {} ({}) at {level} for {} points written to {}",
        q.name(),
        a.model.display(),
        model.kind.name(),
        x.shape()[0],
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn convert(a: ConvertArgs) -> Result<ExitCode, CliError> {
    let level = a.level.spec()?.resolve()?;
    let from = eval::parse_prediction(&a.from).expect("clap restricts the values");
    let to = eval::parse_prediction(&a.to).expect("clap restricts the values");
    let x = npy::read_finite(&a.x)?;
    let v = npy::read_finite(&a.value)?;
    let out = eval::convert(from, &v, &a.value, &x, &a.x, level, to)?;
    write_file_atomic(&a.out, &npy::encode(&out))?;
    eprintln!("{} -> {} written to {}", a.from, a.to, a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn schedule(a: ScheduleArgs) -> Result<ExitCode, CliError> {
    let preset = presets::find(&a.schedule)?;
    let options = TableOptions {
        precision: precision(&a.precision),
        steps: a.steps,
        spacing: Spacing::parse(&a.spacing).expect("clap restricts the values"),
        steps_offset: a.steps_offset,
    };
    let table = preset.table(&options)?;
    let mut files = DirContents::new();
    files.insert(
        "t.npy".into(),
        npy::encode(&Array::from_vec(table.t.clone())),
    );
    files.insert(
        "alpha.npy".into(),
        npy::encode(&Array::from_vec(table.alpha.clone())),
    );
    files.insert(
        "beta.npy".into(),
        npy::encode(&Array::from_vec(table.beta.clone())),
    );
    for (name, v) in &table.native {
        files.insert(
            format!("{name}.npy"),
            npy::encode(&Array::from_vec(v.clone())),
        );
    }
    write_dir_atomic(&a.out_dir, &files, a.force)?;
    eprintln!(
        "{} ({} entries, {:?}): {} written to {}",
        preset.name,
        table.t.len(),
        options.precision,
        files.keys().cloned().collect::<Vec<_>>().join(", "),
        a.out_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
