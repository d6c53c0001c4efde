//! `diffusion-lowdim reproduce memorization`: parse, run the study, write CSV and SVG atomically.

use std::path::PathBuf;
use std::process::ExitCode;

use diffusion_lowdim::figure::memorization::{csv, svg};
use diffusion_lowdim::metric::MemorizationStudy;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::output::{CliError, write_atomic};

/// Arguments of `reproduce memorization` (defaults: `MemorizationStudy::default()`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for memorization.csv and memorization.svg (created if missing).
    #[arg(long, default_value = "memorization")]
    out: PathBuf,
    /// Master seed (bases, training sets and noises derive from it).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Shared noises per ratio.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Ambient dimension d.
    #[arg(long, default_value_t = 96)]
    dim: usize,
    /// Intrinsic dimension r of each component.
    #[arg(long, default_value_t = 24)]
    rank: usize,
    /// Number of MoLRG components K.
    #[arg(long, default_value_t = 2)]
    components: usize,
    /// Ratios N/r, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.25,0.5,0.75,1,1.5,2,3,4"
    )]
    ratios: Vec<f64>,
    /// Heun steps on the EDM grid.
    #[arg(long, default_value_t = 18)]
    steps: usize,
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
