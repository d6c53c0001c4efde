//! `diffusion-lowdim reproduce memorization`: parse, run the study, write CSV and SVG atomically.

use std::path::PathBuf;
use std::process::ExitCode;

use diffusion_lowdim::figure::memorization::{csv, svg};
use diffusion_lowdim::io::{InteropError, limits};
use diffusion_lowdim::study::MemorizationStudy;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::output::{CliError, write_atomic};

/// Arguments of `reproduce memorization` (defaults: `MemorizationStudy::default()`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for memorization.csv and memorization.svg (created if missing).
    #[arg(long, default_value = "memorization")]
    out: PathBuf,
    /// Master seed (bases, training sets and noises derive from it).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Shared noises per ratio.
    #[arg(long, default_value_t = 200, allow_negative_numbers = true)]
    samples: usize,
    /// Ambient dimension d.
    #[arg(long, default_value_t = 96, allow_negative_numbers = true)]
    dim: usize,
    /// Intrinsic dimension r of each component.
    #[arg(long, default_value_t = 24, allow_negative_numbers = true)]
    rank: usize,
    /// Number of MoLRG components K.
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    components: usize,
    /// Ratios N/r, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.25,0.5,0.75,1,1.5,2,3,4",
        allow_hyphen_values = true
    )]
    ratios: Vec<f64>,
    /// Heun steps on the EDM grid.
    #[arg(long, default_value_t = 18, allow_negative_numbers = true)]
    steps: usize,
}

/// `x <= budget`, false for NaN (so a NaN footprint is refused).
fn fits(x: f64, budget: f64) -> bool {
    x <= budget
}

/// Refuses a study whose arrays do not fit in the memory budget, naming the flag.
///
/// Per ratio with `n = ceil(ratio · r)` points per component, the study holds the
/// basis (d × K r), two training sets with their parts and empirical copies
/// (6 · d × K n), five flows of the `samples` noises with their stage states
/// (9 · d × samples), the empirical posterior weights (samples × K n) and the grid
/// (24 bytes per step): all `f64`.
fn check_memory(study: &MemorizationStudy) -> Result<(), CliError> {
    let budget = limits::memory_budget() as f64;
    let (d, r, k, m) = (
        study.d as f64,
        study.r as f64,
        study.components as f64,
        study.samples as f64,
    );
    let steps = study.steps as f64 + 2.0;
    // The flags but --ratios first, at one point per component.
    let n_min = 1.0;
    // The footprint at given d, samples, steps and N.
    let needs = |d: f64, m: f64, steps: f64, n: f64| {
        8.0 * (d * k * r + 9.0 * d * m + 6.0 * d * k * n + m * k * n) + 24.0 * steps
    };
    let refuse = |what: String, needs: f64, at_most: String| {
        Err(CliError::Interop(InteropError::BudgetExceeded {
            what,
            needs: limits::human_bytes(needs.min(u128::MAX as f64) as u128),
            at_most,
            budget: limits::human_bytes(budget as u128),
        }))
    };
    let floor = |x: f64| limits::human_number(x.max(0.0).floor());
    let total = needs(d, m, steps, n_min);
    if !fits(total, budget) {
        // Blame --dim if even 2 samples and 1 step do not fit, else --steps if the grid
        // takes more than half the budget, else --samples.
        if !fits(needs(d, 2.0, 3.0, n_min), budget) {
            let per = 8.0 * (k * r + 18.0 + 6.0 * k * n_min);
            return refuse(
                format!("--dim {}", study.d),
                total,
                format!(
                    "--dim {} (with --samples 2)",
                    floor((budget - 72.0 - 16.0 * k * n_min) / per)
                ),
            );
        }
        if 24.0 * steps > budget / 2.0 {
            return refuse(
                format!("--steps {}", study.steps),
                total,
                format!(
                    "--steps {}",
                    floor((budget - needs(d, m, 0.0, n_min)) / 24.0 - 2.0)
                ),
            );
        }
        let per = 8.0 * (9.0 * d + k * n_min);
        return refuse(
            format!("--samples {}", study.samples),
            total,
            format!(
                "--samples {} (at --dim {})",
                floor((budget - needs(d, 0.0, steps, n_min)) / per),
                study.d
            ),
        );
    }
    let fixed = needs(d, m, steps, 0.0);
    let per_point = 8.0 * (6.0 * d * k + m * k);
    for &ratio in &study.ratios {
        let n = (ratio * r).ceil().max(1.0);
        let total = fixed + per_point * n;
        if !fits(total, budget) {
            return refuse(
                format!(
                    "--ratios {} (N = {} points per component)",
                    limits::human_number(ratio),
                    limits::human_number(n)
                ),
                total,
                format!(
                    "a ratio of {} (at --dim {} --samples {})",
                    floor((budget - fixed) / per_point / r),
                    study.d,
                    study.samples
                ),
            );
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let study = MemorizationStudy {
        d: args.dim,
        r: args.rank,
        components: args.components,
        ratios: args.ratios,
        samples: args.samples,
        steps: args.steps,
    };
    // Refuse bad input before touching the file system.
    study.validate()?;
    check_memory(&study)?;
    let bar =
        ProgressBar::with_draw_target(Some(study.work() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ratios ({elapsed})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message("memorization");
    let rows = study.run(args.seed, &mut |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let table = csv(&rows);
    let figure = svg(&rows, &study)?;
    std::fs::create_dir_all(&args.out).map_err(|source| CliError::Io {
        path: args.out.display().to_string(),
        source,
    })?;
    let csv_path = args.out.join("memorization.csv");
    let svg_path = args.out.join("memorization.svg");
    write_atomic(&csv_path, table.as_bytes())?;
    write_atomic(&svg_path, figure.as_bytes())?;
    println!(
        "{:>6} {:>5} {:<11} {:>6} {:>6} {:>8} {:>8}",
        "N/r", "N", "denoiser", "RP", "GL", "E_gen", "E_mem"
    );
    for r in &rows {
        println!(
            "{:>6} {:>5} {:<11} {:>6.3} {:>6.3} {:>8.4} {:>8.4}",
            r.ratio,
            r.points_per_component,
            r.denoiser,
            r.rp.estimate,
            r.gl.estimate,
            r.e_gen.estimate,
            r.e_mem.estimate
        );
    }
    eprintln!("wrote {} and {}", csv_path.display(), svg_path.display());
    Ok(ExitCode::SUCCESS)
}
