//! `diffusion-lowdim reproduce phase-transition`: the sample-complexity phase
//! transition of arXiv:2409.02426 (R09). Parses, calls
//! [`diffusion_lowdim::reduction::phase_transition`], renders with
//! [`diffusion_lowdim::figure::phase_transition`], writes atomically.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use diffusion_lowdim::figure::phase_transition::{csv, svg};
use diffusion_lowdim::reduction::phase::{transitions, validate};
use diffusion_lowdim::reduction::{PhaseConfig, phase_transition};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::output::{CliError, write_atomic};

/// Arguments of `reproduce phase-transition`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory (created if missing): phase_transition.csv and phase_transition.svg.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Seeded trials per (K, r, N) cell.
    #[arg(long, default_value_t = 50)]
    trials: usize,
    /// Master seed: trial j of cell c uses the stream (seed, "phase-transition", c·2^32 + j).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Noise level per sample: e ~ N(0, noise²/d · I), so E‖e‖² = noise² against E‖Ua‖² = r (0 = noise-free).
    #[arg(long, default_value_t = 0.0)]
    noise: f64,
    /// Success iff the matched subspace distance max_k ‖ÛÛᵀ − UUᵀ‖_F is at most this.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Ambient dimension d.
    #[arg(long, default_value_t = 48)]
    dim: usize,
    /// Numbers of components K, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    ks: Vec<usize>,
    /// Smallest rank r.
    #[arg(long, default_value_t = 2)]
    r_min: usize,
    /// Largest rank r.
    #[arg(long, default_value_t = 8)]
    r_max: usize,
    /// Smallest number of samples per component N.
    #[arg(long, default_value_t = 2)]
    n_min: usize,
    /// Largest number of samples per component N.
    #[arg(long, default_value_t = 15)]
    n_max: usize,
    /// K-subspaces restarts (K > 1).
    #[arg(long, default_value_t = 10)]
    restarts: usize,
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let config = PhaseConfig {
        dim: args.dim,
        components: args.ks.clone(),
        ranks: (args.r_min..=args.r_max).collect(),
        samples: (args.n_min..=args.n_max).collect(),
        trials: args.trials,
        seed: args.seed,
        noise: args.noise,
        threshold: args.threshold,
        restarts: args.restarts,
    };
    validate(&config)?;
    std::fs::create_dir_all(&args.out).map_err(|source| CliError::Io {
        path: args.out.display().to_string(),
        source,
    })?;
    let total =
        (config.components.len() * config.ranks.len() * config.samples.len() * config.trials)
            as u64;
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} trials  {elapsed}") {
        bar.set_style(style);
    }
    let start = Instant::now();
    let cells = phase_transition(&config, |k| bar.inc(k as u64))?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let table = csv(&cells);
    let figure = svg(&cells, &config)?;
    let csv_path = args.out.join("phase_transition.csv");
    let svg_path = args.out.join("phase_transition.svg");
    write_atomic(&csv_path, table.as_bytes())?;
    write_atomic(&svg_path, figure.as_bytes())?;
    println!(
        "phase transition: {} cells x {} trials in {:.1} s (d = {}, noise = {}, threshold = {})",
        cells.len(),
        config.trials,
        seconds,
        config.dim,
        config.noise,
        config.threshold
    );
    for (k, r, n) in transitions(&cells) {
        match n {
            Some(n) => println!(
                "  K = {k}, r = {r}: rate >= 1/2 from N = {n} (N - r = {})",
                n as i64 - r as i64
            ),
            None => println!("  K = {k}, r = {r}: rate < 1/2 for every N of the grid"),
        }
    }
    println!("wrote {} and {}", csv_path.display(), svg_path.display());
    Ok(ExitCode::SUCCESS)
}
