//! `diffusion-lowdim reproduce phase-transition`: the sample-complexity phase
//! transition of arXiv:2409.02426 (R09). Parses, calls
//! [`diffusion_lowdim::study::phase_transition_transition`], renders with
//! [`diffusion_lowdim::figure::phase_transition`], writes atomically.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use diffusion_lowdim::figure::phase_transition::{csv, svg};
use diffusion_lowdim::io::{InteropError, limits};
use diffusion_lowdim::study::phase_transition::{transitions, validate};
use diffusion_lowdim::study::{PhaseConfig, phase_transition};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::output::{CliError, write_atomic};

/// Arguments of `reproduce phase-transition`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output directory (created if missing): phase_transition.csv and phase_transition.svg.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Seeded trials per (K, r, N) cell.
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    trials: usize,
    /// Master seed: trial j of cell c uses the stream (seed, "phase-transition", c·2^32 + j).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
    /// Noise level per sample: e ~ N(0, noise²/d · I), so E‖e‖² = noise² against E‖Ua‖² = r (0 = noise-free).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    noise: f64,
    /// Success iff the matched subspace distance max_k ‖ÛÛᵀ − UUᵀ‖_F is at most this.
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    threshold: f64,
    /// Ambient dimension d.
    #[arg(long, default_value_t = 48, allow_negative_numbers = true)]
    dim: usize,
    /// Numbers of components K, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,3",
        allow_hyphen_values = true
    )]
    ks: Vec<usize>,
    /// Smallest rank r.
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    r_min: usize,
    /// Largest rank r.
    #[arg(long, default_value_t = 8, allow_negative_numbers = true)]
    r_max: usize,
    /// Smallest number of samples per component N.
    #[arg(long, default_value_t = 2, allow_negative_numbers = true)]
    n_min: usize,
    /// Largest number of samples per component N.
    #[arg(long, default_value_t = 15, allow_negative_numbers = true)]
    n_max: usize,
    /// K-subspaces restarts (K > 1).
    #[arg(long, default_value_t = 10, allow_negative_numbers = true)]
    restarts: usize,
}

/// Refuses grids and trial counts whose arrays do not fit in the memory budget, before
/// the grid's ranges are even collected: the ranks and sample sizes (8 bytes each), the
/// trials' errors (24 bytes per trial of each cell) and each running trial's matrices
/// (about 4 · d × (d + K N) `f64` per thread).
fn check_memory(args: &Args) -> Result<(), CliError> {
    let range = |lo: usize, hi: usize| (hi as u128).saturating_sub(lo as u128) + 1;
    let ranks = range(args.r_min, args.r_max);
    let samples = range(args.n_min, args.n_max);
    let note = |lo| format!(" (with {lo})");
    limits::ensure_count_fits(
        "--r-max",
        args.r_max as u128,
        1,
        8,
        0,
        &note(format!("--r-min {}", args.r_min)),
    )?;
    limits::ensure_count_fits(
        "--n-max",
        args.n_max as u128,
        1,
        8,
        0,
        &note(format!("--n-min {}", args.n_min)),
    )?;
    let cells = (args.ks.len() as u128)
        .saturating_mul(ranks)
        .saturating_mul(samples);
    limits::ensure_count_fits(
        "--trials",
        args.trials as u128,
        0,
        24u128.saturating_mul(cells.max(1)),
        0,
        &format!(" ({cells} cells)"),
    )?;
    let k = args.ks.iter().copied().max().unwrap_or(1) as u128;
    let kn = k.saturating_mul(args.n_max as u128);
    let d = args.dim as u128;
    let per_d2 = 32u128.saturating_mul(rayon::current_num_threads() as u128);
    let needs = d
        .saturating_mul(d.saturating_add(kn))
        .saturating_mul(per_d2);
    let budget = u128::from(limits::memory_budget());
    if needs > budget {
        // The largest d with d (d + K N) per_d2 <= budget.
        let (mut lo, mut hi) = (0u128, d);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if mid
                .saturating_mul(mid.saturating_add(kn))
                .saturating_mul(per_d2)
                <= budget
            {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return Err(CliError::Interop(InteropError::BudgetExceeded {
            what: format!("--dim {}", args.dim),
            needs: limits::human_bytes(needs),
            at_most: format!("--dim {lo}"),
            budget: limits::human_bytes(budget),
        }));
    }
    Ok(())
}

pub fn run(args: Args) -> Result<ExitCode, CliError> {
    check_memory(&args)?;
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
