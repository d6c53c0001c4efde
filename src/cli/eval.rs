//! `diffusion-lowdim eval`: ground truth on the user's inputs (parse, call, write).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use diffusion_lowdim::io::fsio::{DirContents, write_dir_atomic, write_file_atomic};
use diffusion_lowdim::io::model_file;
use diffusion_lowdim::io::npy::{self, Array};
use diffusion_lowdim::service::eval::{
    self, FlowSpec, GridSpec, LevelSpec, LossForm, LossRange, Noises, PfdSummary, Quantity,
    SolverSpec, WeightsOutput,
};
use diffusion_lowdim::service::presets::{self, Precision, Spacing, TableOptions};

use super::output::{CliError, ensure_not_input, model_inputs, on_file};

const NORMALIZE_HELP: &str = "Mixture model files: divide the weights by their sum (without it, \
     weights that do not sum to 1 within 1e-12 are refused)";

/// Loads a model file, normalizing mixture weights if asked.
fn load_model(
    path: &std::path::Path,
    normalize: bool,
) -> Result<model_file::LoadedModel, CliError> {
    Ok(model_file::load_with(
        path,
        model_file::LoadOptions {
            normalize_weights: normalize,
        },
    )?)
}

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
    /// The probability-flow map Φ(x_T) of the model's exact denoiser: integrate the PF ODE
    /// from every row of --x with a named solver over a time grid; writes (B, d) float64.
    ///
    /// The grid is EDM's by default (--steps noise levels σ from --sigma-max to --sigma-min,
    /// ρ = --rho, mapped to the schedule's times, then the clean end: the result is
    /// D(x_{t_n}, t_n), EDM's Euler last step), or --steps equal steps from --t-start to
    /// --t-end (add --clean for the clean end). `--steps 1 --t-start T --t-end S` is one
    /// sampler step. `--solver exact` (Gaussian models) is the exact flow: the oracle.
    Flow(FlowArgs),
    /// The probability flow distance PFD(p, q) between the flows of two models on shared
    /// noises, with its confidence interval; writes a JSON report (`--method exact`: the closed
    /// form, also as a (1,) .npy with --out).
    Pfd(Box<PfdArgs>),
    /// The posterior (softmax) weights of a mixture (molrg, k-subspaces: (B, K)) or empirical
    /// model ((B, N), one column per training point) at every row of --x; writes float64.
    PosteriorWeights(ModelArgs),
    /// The logs of the posterior weights, from log-sum-exp-normalized logits (finite and
    /// accurate where a weight underflows to 0); writes (B, K) or (B, N) float64 (-inf only
    /// for a mixture component of prior weight 0).
    LogPosteriorWeights(ModelArgs),
    /// Subspace distance ||UU^T - VV^T||_F, principal angles and their sines for two
    /// orthonormal bases (.npy (d, r) each); writes a JSON report.
    Subspaces(SubspaceArgs),
    /// The DAE loss of one basis (K = 1) or of K bases (--form softmax or hard-max) on data,
    /// summed over the samples: at one noise level (exact expectation over the noise), or
    /// integrated over [--t0, --t1] of --loss-schedule with --weighting; writes a JSON report.
    DaeLoss(LossArgs),
}

/// Arguments of `eval subspaces`.
#[derive(Debug, Args)]
pub struct SubspaceArgs {
    /// The first basis U, a (d, p) .npy matrix with orthonormal columns.
    #[arg(long)]
    u: PathBuf,
    /// The second basis V, a (d, q) .npy matrix with orthonormal columns.
    #[arg(long)]
    v: PathBuf,
    /// JSON report (distance, sin_theta_norm, principal_angles, sines), written atomically.
    #[arg(long, required_unless_present_any = ["out_angles", "out_sines"])]
    out_json: Option<PathBuf>,
    /// The principal angles as a (min(p, q),) float64 .npy (ascending), written atomically.
    #[arg(long)]
    out_angles: Option<PathBuf>,
    /// Their sines as a (min(p, q),) float64 .npy (ascending), written atomically.
    #[arg(long)]
    out_sines: Option<PathBuf>,
}

/// Arguments of `eval dae-loss`.
#[derive(Debug, Args)]
pub struct LossArgs {
    /// A basis U_k, a (d, r_k) .npy matrix with orthonormal columns; repeat for K > 1.
    #[arg(long = "basis", required = true)]
    bases: Vec<PathBuf>,
    /// The data x_1..x_N, a (N, d) .npy array (one sample per row).
    #[arg(long)]
    data: PathBuf,
    /// K > 1: softmax weights (the noise expectation inside the softmax) or the hard max on
    /// clean data (Theorem 3's two forms). Ignored for K = 1.
    #[arg(long, default_value = "softmax", value_parser = ["softmax", "hard-max"])]
    form: String,
    #[command(flatten)]
    level: LevelArgs,
    /// Integrate over [--t0, --t1] of this crate schedule instead of one level.
    #[arg(long, requires_all = ["t0", "t1"], help = schedule_help(" (integrated loss)"))]
    loss_schedule: Option<String>,
    /// Start of the integration range (with --loss-schedule).
    #[arg(long, requires = "loss_schedule", allow_negative_numbers = true)]
    t0: Option<f64>,
    /// End of the integration range (with --loss-schedule).
    #[arg(long, requires = "loss_schedule", allow_negative_numbers = true)]
    t1: Option<f64>,
    #[arg(long, default_value = "unit", help = weighting_help())]
    weighting: String,
    /// JSON report (value, integration error bound, method), written atomically.
    #[arg(long, required_unless_present = "out")]
    out_json: Option<PathBuf>,
    /// The loss as a (1,) float64 .npy, written atomically.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The flow: schedule, solver and time grid (shared by `eval flow` and `eval pfd`).
#[derive(Debug, Args)]
pub struct FlowOptions {
    #[arg(long, default_value = "ve", help = schedule_help(""))]
    schedule: String,
    #[arg(long, help = solver_help())]
    solver: String,
    /// Number of steps (noise levels of the EDM grid, or steps from --t-start to --t-end).
    /// Required by the fixed-step solvers; dopri5 and exact default to the grid's two ends.
    #[arg(long, allow_negative_numbers = true)]
    steps: Option<usize>,
    /// First time t_0 of an explicit grid (in the schedule's time; VE: t = σ). With --t-end.
    #[arg(long, requires = "t_end", conflicts_with_all = ["sigma_max", "sigma_min", "rho"], allow_negative_numbers = true)]
    t_start: Option<f64>,
    /// Last time t_n of an explicit grid. With --t-start.
    #[arg(long, requires = "t_start", allow_negative_numbers = true)]
    t_end: Option<f64>,
    /// Explicit grids: equal steps in log t instead of t.
    #[arg(long, requires = "t_start")]
    log_spacing: bool,
    /// Explicit grids: end with the clean step x ↦ D(x, t_n) (EDM's Euler last step).
    #[arg(long, requires = "t_start")]
    clean: bool,
    /// EDM grid: largest noise level σ_max (the flow starts at the time where β/α = σ_max).
    #[arg(long, default_value_t = diffusion_lowdim::flow::EDM_SIGMA_MAX, allow_negative_numbers = true)]
    sigma_max: f64,
    /// EDM grid: smallest noise level σ_min before the clean end.
    #[arg(long, default_value_t = diffusion_lowdim::flow::EDM_SIGMA_MIN, allow_negative_numbers = true)]
    sigma_min: f64,
    /// EDM grid: exponent ρ of the Karras spacing.
    #[arg(long, default_value_t = diffusion_lowdim::flow::EDM_RHO, allow_negative_numbers = true)]
    rho: f64,
    /// dopri5: relative tolerance.
    #[arg(long, default_value_t = 1e-10, allow_negative_numbers = true)]
    rtol: f64,
    /// dopri5: absolute tolerance.
    #[arg(long, default_value_t = 1e-12, allow_negative_numbers = true)]
    atol: f64,
}

impl FlowOptions {
    fn spec(&self) -> Result<FlowSpec, CliError> {
        let solver = SolverSpec::parse(&self.solver, self.rtol, self.atol)?;
        let steps = match (self.steps, solver) {
            (Some(n), _) => n,
            // Only the grid's ends matter.
            (None, SolverSpec::DormandPrince { .. } | SolverSpec::Exact) => {
                if self.t_start.is_some() { 1 } else { 2 }
            }
            (None, _) => {
                return Err(CliError::Usage(format!(
                    "--solver {} needs --steps N",
                    solver.name()
                )));
            }
        };
        let grid = match (self.t_start, self.t_end) {
            (Some(t_start), Some(t_end)) => GridSpec::Times {
                steps,
                t_start,
                t_end,
                log: self.log_spacing,
                clean: self.clean,
            },
            _ => GridSpec::Karras {
                steps,
                sigma_min: self.sigma_min,
                sigma_max: self.sigma_max,
                rho: self.rho,
            },
        };
        Ok(FlowSpec {
            schedule: self.schedule.clone(),
            solver,
            grid,
        })
    }
}

/// Arguments of `eval flow`.
#[derive(Debug, Args)]
pub struct FlowArgs {
    /// Model file (JSON manifest; see docs/model-format.md).
    #[arg(long)]
    model: PathBuf,
    #[arg(long, help = NORMALIZE_HELP)]
    normalize_weights: bool,
    /// Starting points x_{t_0} (e.g. noises x_T), a (B, d) .npy array (float64, or float32
    /// promoted to float64).
    #[arg(long)]
    x: PathBuf,
    #[command(flatten)]
    flow: FlowOptions,
    /// Output .npy file (B, d) float64, written atomically.
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `eval pfd`.
#[derive(Debug, Args)]
pub struct PfdArgs {
    /// The first model file (p).
    #[arg(long)]
    model: PathBuf,
    /// The second model file (q).
    #[arg(long)]
    model2: PathBuf,
    #[arg(long, help = NORMALIZE_HELP)]
    normalize_weights: bool,
    #[command(flatten)]
    flow: FlowOptions,
    /// Shared noises x_T, a (M, d) .npy array (M ≥ 2). Default: draw --samples noises.
    #[arg(long, conflicts_with_all = ["samples", "seed", "t_max"])]
    noises: Option<PathBuf>,
    /// Number M of noises x_T = T z, z ~ N(0, I) to draw (without --noises).
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    samples: usize,
    /// Seed of the drawn noises.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Noise scale T of the drawn noises. Default: β at the grid's first time (80 on the
    /// default EDM grid in VE).
    #[arg(long, allow_negative_numbers = true)]
    t_max: Option<f64>,
    /// Linear feature map h(x) = W x: a (k, d) .npy matrix. Default: identity.
    #[arg(long)]
    features: Option<PathBuf>,
    /// Confidence level of the interval.
    #[arg(long, default_value_t = 0.95, allow_negative_numbers = true)]
    confidence: f64,
    /// JSON report (estimate, interval, standard errors, the flow), written atomically.
    #[arg(long)]
    out_json: PathBuf,
    /// With --method exact: the closed-form PFD also as a (1,) float64 .npy, written
    /// atomically.
    #[arg(long)]
    out: Option<PathBuf>,
    /// `estimate`: the PFD estimator on shared noises, with its interval. `exact`: the closed
    /// form for two Gaussian models (kinds gaussian, pca) under the VE schedule, from
    /// x_T = T z to the clean data: accurate relative to the PFD itself, also for nearly
    /// identical models (no noises, no solver steps).
    #[arg(long, default_value = "estimate", value_parser = ["estimate", "exact"])]
    method: String,
}

/// The noise level: `--alpha A --beta B`, `--sigma S`, or `--schedule NAME --t T`.
#[derive(Debug, Args)]
pub struct LevelArgs {
    /// Signal scale α of x_t = α x_0 + β ε (with --beta).
    #[arg(long, requires = "beta", conflicts_with_all = ["sigma", "schedule"], allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// Noise scale β (with --alpha).
    #[arg(long, requires = "alpha", allow_negative_numbers = true)]
    beta: Option<f64>,
    /// VE / EDM / k-diffusion noise level σ: α = 1, β = σ.
    #[arg(long, conflicts_with_all = ["alpha", "schedule"], allow_negative_numbers = true)]
    sigma: Option<f64>,
    #[arg(
        long,
        requires = "t",
        help = schedule_help(", or a library preset (see `presets list`), evaluated at --t in its own time variable")
    )]
    schedule: Option<String>,
    /// Time in the schedule's coordinates (a diffusers train timestep, a grid index, …).
    #[arg(long, requires = "schedule", allow_negative_numbers = true)]
    t: Option<f64>,
    /// Presets only: f64 ground truth or the library's float32 table (diffusers' DDPM family bit
    /// for bit; Euler and k-diffusion within 1 float32 ulp, 2 for Euler --karras: docs/validate.md).
    #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
    precision: String,
    /// Presets only: number of grid steps (σ grids, score_sde time grids).
    #[arg(long, allow_negative_numbers = true)]
    steps: Option<usize>,
}

impl LevelArgs {
    /// Whether any level flag was given.
    fn given(&self) -> bool {
        self.alpha.is_some() || self.sigma.is_some() || self.schedule.is_some()
    }

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
    #[arg(long, help = NORMALIZE_HELP)]
    normalize_weights: bool,
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
    /// f64 ground truth, or the library's float32 computation (diffusers' DDPM-family tables bit
    /// for bit; Euler and k-diffusion grids within 1 float32 ulp, 2 for Euler --karras:
    /// docs/validate.md).
    #[arg(long, default_value = "f64", value_parser = ["f64", "f32"])]
    precision: String,
    /// Number of sampling steps (diffusers: inference steps; grids: length). Default: the preset's.
    #[arg(long, allow_negative_numbers = true)]
    steps: Option<usize>,
    /// diffusers timestep_spacing (with --steps). Default: the scheduler's own (leading for
    /// the DDPM family, linspace for diffusers-euler-*).
    #[arg(long, value_parser = ["linspace", "leading", "trailing"])]
    spacing: Option<String>,
    /// diffusers steps_offset (added by the leading spacing).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    steps_offset: usize,
    /// σ grids (k-diffusion-karras, k-diffusion-exponential, edm): smallest level (default
    /// 0.002); diffusers-euler-* with --karras: the scheduler's sigma_min config.
    #[arg(long, allow_negative_numbers = true)]
    sigma_min: Option<f64>,
    /// As --sigma-min, the largest level (default 80).
    #[arg(long, allow_negative_numbers = true)]
    sigma_max: Option<f64>,
    /// Karras grids (k-diffusion-karras, edm): the exponent rho (default 7).
    #[arg(long, allow_negative_numbers = true)]
    rho: Option<f64>,
    /// diffusers-euler-*: use_karras_sigmas=True (the Karras grid between the interpolated
    /// sigmas' ends, rho = 7).
    #[arg(long)]
    karras: bool,
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
        Target::Flow(a) => flow(a),
        Target::Pfd(a) => pfd(*a),
        Target::PosteriorWeights(a) => weights(a, WeightsOutput::Weights),
        Target::LogPosteriorWeights(a) => weights(a, WeightsOutput::LogWeights),
        Target::Subspaces(a) => subspaces(a),
        Target::DaeLoss(a) => dae_loss(a),
    }
}

fn weights(a: ModelArgs, output: WeightsOutput) -> Result<ExitCode, CliError> {
    let level = a.level.spec()?.resolve()?;
    let model = load_model(&a.model, a.normalize_weights)?;
    let mut inputs = model_inputs("--model", &model);
    inputs.push(("--x".into(), a.x.clone()));
    ensure_not_input("--out", &a.out, &inputs)?;
    let x = npy::read_finite(&a.x)?;
    let out = eval::posterior_weights(&model, &x, &a.x, level, output)
        .map_err(|e| on_file(e, &a.x, "--x"))?;
    write_file_atomic(&a.out, &npy::encode(&out))?;
    eprintln!(
        "{} of {} ({}) at {level} for {} points: {:?} written to {}",
        match output {
            WeightsOutput::Weights => "posterior weights",
            WeightsOutput::LogWeights => "log posterior weights",
        },
        a.model.display(),
        model.kind.name(),
        x.shape()[0],
        out.shape(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn subspaces(a: SubspaceArgs) -> Result<ExitCode, CliError> {
    let inputs = [("--u".into(), a.u.clone()), ("--v".into(), a.v.clone())];
    for (flag, out) in [
        ("--out-json", &a.out_json),
        ("--out-angles", &a.out_angles),
        ("--out-sines", &a.out_sines),
    ] {
        if let Some(out) = out {
            ensure_not_input(flag, out, &inputs)?;
        }
    }
    let u = eval::read_basis(&a.u, "basis U")?;
    let v = eval::read_basis(&a.v, "basis V")?;
    let c = eval::compare_subspaces(u.as_ref(), v.as_ref())?;
    if let Some(out) = &a.out_angles {
        write_file_atomic(
            out,
            &npy::encode(&Array::from_vec(c.principal_angles.clone())),
        )?;
    }
    if let Some(out) = &a.out_sines {
        write_file_atomic(out, &npy::encode(&Array::from_vec(c.sines.clone())))?;
    }
    let Some(out_json) = &a.out_json else {
        return Ok(ExitCode::SUCCESS);
    };
    let report = serde_json::json!({
        "format": "diffusion-lowdim/subspaces-report",
        "crate_version": env!("CARGO_PKG_VERSION"),
        "u": a.u,
        "v": a.v,
        "result": c,
    });
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    write_file_atomic(out_json, &json)?;
    println!(
        "distance = {:e}, principal angles = {:?}",
        c.distance, c.principal_angles
    );
    Ok(ExitCode::SUCCESS)
}

fn dae_loss(a: LossArgs) -> Result<ExitCode, CliError> {
    let form = LossForm::parse(&a.form).expect("clap restricts the values");
    let mut inputs: Vec<(String, PathBuf)> = a
        .bases
        .iter()
        .map(|b| ("--basis".into(), b.clone()))
        .collect();
    inputs.push(("--data".into(), a.data.clone()));
    for (flag, out) in [("--out-json", &a.out_json), ("--out", &a.out)] {
        if let Some(out) = out {
            ensure_not_input(flag, out, &inputs)?;
        }
    }
    let range = match (&a.loss_schedule, a.t0, a.t1) {
        (Some(name), Some(t0), Some(t1)) => {
            if a.level.given() {
                return Err(CliError::Usage(
                    "give either a noise level (--alpha/--beta, --sigma, --schedule/--t) or an \
                     integration range (--loss-schedule --t0 --t1), not both"
                        .into(),
                ));
            }
            LossRange::Integrated {
                schedule: name.clone(),
                weighting: a.weighting.clone(),
                t0,
                t1,
            }
        }
        _ => LossRange::Level(a.level.spec()?.resolve()?),
    };
    let bases: Vec<_> = a
        .bases
        .iter()
        .map(|p| eval::read_basis(p, "basis U_k"))
        .collect::<Result<_, _>>()?;
    let xa = npy::read_finite(&a.data)?;
    let x = xa.to_batch(&a.data, "data", Some(bases[0].nrows()))?;
    let v = eval::dae_loss(&bases, x.as_ref(), form, &range)?;
    if let Some(out) = &a.out {
        write_file_atomic(out, &npy::encode(&Array::from_vec(vec![v.value])))?;
    }
    let Some(out_json) = &a.out_json else {
        return Ok(ExitCode::SUCCESS);
    };
    let report = serde_json::json!({
        "format": "diffusion-lowdim/dae-loss-report",
        "crate_version": env!("CARGO_PKG_VERSION"),
        "bases": a.bases,
        "data": a.data,
        "samples": x.ncols(),
        "form": if bases.len() == 1 { "linear (K = 1)" } else { a.form.as_str() },
        "range": match &range {
            LossRange::Level(l) => serde_json::json!({ "alpha": l.alpha(), "beta": l.beta() }),
            LossRange::Integrated { schedule, weighting, t0, t1 } => serde_json::json!({
                "schedule": schedule, "weighting": weighting, "t0": t0, "t1": t1,
            }),
        },
        "loss": v,
    });
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    write_file_atomic(out_json, &json)?;
    println!("DAE loss = {:e} ({})", v.value, v.method);
    Ok(ExitCode::SUCCESS)
}

/// `--weighting`'s help, from the library's list.
fn weighting_help() -> String {
    let names: Vec<String> = eval::LOSS_WEIGHTINGS
        .iter()
        .map(|(n, a)| format!("{n}: {a}"))
        .collect();
    format!("Loss weight (with --loss-schedule): {}", names.join("; "))
}

fn flow(a: FlowArgs) -> Result<ExitCode, CliError> {
    let spec = a.flow.spec()?;
    let model = load_model(&a.model, a.normalize_weights)?;
    let mut inputs = model_inputs("--model", &model);
    inputs.push(("--x".into(), a.x.clone()));
    ensure_not_input("--out", &a.out, &inputs)?;
    let x = npy::read_finite(&a.x)?;
    let (out, info) = eval::flow(&model, &x, &a.x, &spec).map_err(|e| on_file(e, &a.x, "--x"))?;
    write_file_atomic(&a.out, &npy::encode(&out))?;
    eprintln!(
        "flow of {} ({}) with {} ({} steps, {} evaluations) for {} points written to {}",
        a.model.display(),
        model.kind.name(),
        spec.solver.name(),
        info.steps,
        info.evaluations,
        x.shape()[0],
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn pfd(a: PfdArgs) -> Result<ExitCode, CliError> {
    let spec = a.flow.spec()?;
    let p = load_model(&a.model, a.normalize_weights)?;
    let q = load_model(&a.model2, a.normalize_weights)?;
    let mut inputs = model_inputs("--model", &p);
    inputs.extend(model_inputs("--model2", &q));
    if let Some(n) = &a.noises {
        inputs.push(("--noises".into(), n.clone()));
    }
    if let Some(f) = &a.features {
        inputs.push(("--features".into(), f.clone()));
    }
    ensure_not_input("--out-json", &a.out_json, &inputs)?;
    if let Some(out) = &a.out {
        ensure_not_input("--out", out, &inputs)?;
        if *out == a.out_json {
            return Err(CliError::Usage(
                "--out and --out-json name the same file: give two different paths".into(),
            ));
        }
        if a.method != "exact" {
            return Err(CliError::Usage(
                "--out is the closed-form PFD of --method exact; the estimate's value, interval \
                 and standard errors are in --out-json"
                    .into(),
            ));
        }
    }
    let features = match &a.features {
        Some(path) => Some(eval::read_features(path, p.model.dim())?),
        None => None,
    };
    if a.method == "exact" {
        return pfd_exact(&a, &spec, &p, &q, features.as_ref());
    }
    let noises = match &a.noises {
        Some(path) => {
            let x = npy::read_finite(path)?;
            Noises::Given(x.to_batch(path, "noises", Some(p.model.dim()))?)
        }
        None => Noises::Drawn {
            samples: a.samples,
            seed: a.seed,
            noise_scale: a.t_max,
        },
    };
    let (est, x) =
        eval::pfd(&p, &q, &spec, &noises, features.as_ref(), a.confidence).map_err(|e| match &a
            .noises
        {
            Some(path) => on_file(e, path, "--noises"),
            None => e,
        })?;
    let summary = PfdSummary::from(&est);
    let report = serde_json::json!({
        "format": "diffusion-lowdim/pfd-report",
        "crate_version": env!("CARGO_PKG_VERSION"),
        "model": a.model,
        "model2": a.model2,
        "flow": spec,
        "noises": match &a.noises {
            Some(path) => serde_json::json!({ "file": path, "samples": x.ncols() }),
            None => serde_json::json!({
                "drawn": true,
                "samples": x.ncols(),
                "seed": a.seed,
                "noise_scale": match a.t_max { Some(t) => t, None => spec.noise_scale()? },
            }),
        },
        "features": match (&a.features, &features) {
            (Some(path), Some(w)) => serde_json::json!({
                "kind": "linear",
                "file": path,
                "shape": [w.matrix().nrows(), w.matrix().ncols()],
            }),
            _ => serde_json::json!({ "kind": "identity" }),
        },
        "pfd": summary,
    });
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    write_file_atomic(&a.out_json, &json)?;
    println!(
        "PFD = {:.6e}  ({:.0}% interval [{:.6e}, {:.6e}], standard error {:.2e}, M = {})",
        summary.estimate,
        100.0 * summary.confidence,
        summary.interval.0,
        summary.interval.1,
        summary.std_error,
        summary.samples
    );
    eprintln!("report written to {}", a.out_json.display());
    Ok(ExitCode::SUCCESS)
}

fn model_eval(a: ModelArgs, q: Quantity) -> Result<ExitCode, CliError> {
    let level = a.level.spec()?.resolve()?;
    let model = load_model(&a.model, a.normalize_weights)?;
    let mut inputs = model_inputs("--model", &model);
    inputs.push(("--x".into(), a.x.clone()));
    ensure_not_input("--out", &a.out, &inputs)?;
    let x = npy::read_finite(&a.x)?;
    let out = eval::evaluate(model.model.exact(), &x, &a.x, level, q)
        .map_err(|e| on_file(e, &a.x, "--x"))?;
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
    ensure_not_input(
        "--out",
        &a.out,
        &[
            ("--x".into(), a.x.clone()),
            ("--value".into(), a.value.clone()),
        ],
    )?;
    let x = npy::read_finite(&a.x)?;
    let v = npy::read_finite(&a.value)?;
    let out = eval::convert(from, &v, &a.value, &x, &a.x, level, to)
        .map_err(|e| on_file(e, &a.value, "--value"))?;
    write_file_atomic(&a.out, &npy::encode(&out))?;
    eprintln!("{} -> {} written to {}", a.from, a.to, a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn schedule(a: ScheduleArgs) -> Result<ExitCode, CliError> {
    let preset = presets::find(&a.schedule)?;
    let options = TableOptions {
        precision: precision(&a.precision),
        steps: a.steps,
        spacing: match &a.spacing {
            Some(sp) => Spacing::parse(sp).expect("clap restricts the values"),
            None => preset.default_spacing(),
        },
        steps_offset: a.steps_offset,
        sigma_min: a.sigma_min,
        sigma_max: a.sigma_max,
        rho: a.rho,
        karras: a.karras,
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

/// `--schedule`'s help, from the schedule list.
fn schedule_help(more: &str) -> String {
    let names: Vec<String> = diffusion_lowdim::schedule::SCHEDULES
        .iter()
        .map(|s| format!("{}: {}", s.name, s.about))
        .collect();
    format!("A crate schedule: {}{more}", names.join("; "))
}

/// `--solver`'s help, from the solver list.
fn solver_help() -> String {
    let names: Vec<String> = diffusion_lowdim::flow::SOLVERS
        .iter()
        .map(|s| format!("{}: {}", s.name, s.about))
        .collect();
    format!("The solver: {}", names.join("; "))
}

/// `eval pfd --method exact`: the closed form (Gaussian models, VE).
fn pfd_exact(
    a: &PfdArgs,
    spec: &eval::FlowSpec,
    p: &model_file::LoadedModel,
    q: &model_file::LoadedModel,
    features: Option<&diffusion_lowdim::metric::LinearFeatures>,
) -> Result<ExitCode, CliError> {
    if spec.schedule != "ve" {
        return Err(CliError::Usage(format!(
            "--method exact is the closed form of the VE flows (--schedule ve), not of --schedule {}",
            spec.schedule
        )));
    }
    if a.noises.is_some() {
        return Err(CliError::Usage(
            "--method exact takes no --noises: the closed form integrates over x_T = T z, \
             z ~ N(0, I) (set T with --t-max)"
                .into(),
        ));
    }
    let t_max = match a.t_max {
        Some(t) => t,
        None => spec.noise_scale()?,
    };
    let (value, form) = eval::pfd_exact(p, q, t_max, features)?;
    if let Some(out) = &a.out {
        write_file_atomic(out, &npy::encode(&Array::from_vec(vec![value])))?;
    }
    let report = serde_json::json!({
        "format": "diffusion-lowdim/pfd-report",
        "crate_version": env!("CARGO_PKG_VERSION"),
        "model": a.model,
        "model2": a.model2,
        "method": "exact",
        "closed_form": form,
        "noise_scale": t_max,
        "features": match (&a.features, features) {
            (Some(path), Some(w)) => serde_json::json!({
                "kind": "linear",
                "file": path,
                "shape": [w.matrix().nrows(), w.matrix().ncols()],
            }),
            _ => serde_json::json!({ "kind": "identity" }),
        },
        "pfd": { "exact": value },
    });
    let mut json = serde_json::to_vec_pretty(&report)?;
    json.push(b'\n');
    write_file_atomic(&a.out_json, &json)?;
    println!("PFD = {value:e} (exact, {form:?} closed form, T = {t_max})");
    Ok(ExitCode::SUCCESS)
}
