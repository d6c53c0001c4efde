//! The sample-complexity phase transition (R09): recovery rate over a grid of $(K, r, N)$.
//!
//! # Definition
//! One **trial** at $(K, r, N)$ in ambient dimension $d$: draw $[U_1..U_K]$ Haar with
//! orthonormal columns ($Kr \le d$), $N$ samples per component
//! $x = U_ka + e$, $a \sim \mathcal N(0, I_r)$, $e \sim \mathcal N(0, \frac{\sigma^2}{d} I_d)$
//! ($\sigma$ = `noise`, so $\mathbb E\|e\|^2 = \sigma^2$ against $\mathbb E\|U_ka\|^2 = r$: the
//! noise level per sample, independent of the ambient dimension), and solve the training problem: PCA ($K = 1$, Theorem 1/2) or
//! K-subspaces ($K > 1$, Theorem 3/4). When a solution has fewer data directions
//! than $r$ it is completed by seeded random orthonormal directions outside the
//! span of its data, as a generic optimizer would. The trial **succeeds** iff
//! $\max_k\|\hat U_{\pi(k)}\hat U_{\pi(k)}^\top - U_kU_k^\top\|_F \le \tau$ (`threshold`) for the
//! optimal matching $\pi$.
//!
//! Trial $j$ of cell $c$ draws from `rng::stream(seed, "phase-transition", c·2³² + j)`,
//! so results do not depend on the number of threads; trials run in parallel
//! (rayon) and are collected in order.
//!
//! # Default threshold
//! $\tau = 0.5$. Noise-free, a recovered trial has error at rounding level
//! ($\lesssim 10^{-12}$) and a failed one (some $N_k < r$) has error $\ge\sqrt2\,\|(I-U_kU_k^\top)W\|_F$ for a
//! random completion $W$, which for $d = 48$ is below $0.5$ with probability
//! $< 10^{-15}$ (`docs/reductions.md` §6): any $\tau$ in $[10^{-6}, 1]$ gives the same table.
//! $0.5 = \sqrt2\cdot\frac{1}{2\sqrt2}$ also means: with noise, a success has
//! $\|\sin\Theta\|_F \le 0.354$, i.e. every principal angle below $20.7°$.

use faer::Mat;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::linalg::random_orthonormal;
use crate::reduction::Pca;
use crate::reduction::{KSubspaces, match_subspaces};
use crate::rng::{SeededRng, standard_normal, stream};
use crate::stats::clopper_pearson;

/// The label of the per-trial random streams.
pub const STREAM_LABEL: &str = "phase-transition";

/// The sweep's grid and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseConfig {
    /// Ambient dimension $d$.
    pub dim: usize,
    /// Component counts $K$.
    pub components: Vec<usize>,
    /// Ranks $r$.
    pub ranks: Vec<usize>,
    /// Samples per component $N$.
    pub samples: Vec<usize>,
    /// Trials per cell.
    pub trials: usize,
    /// Master seed.
    pub seed: u64,
    /// Noise level $\sigma$: each sample gets $e \sim \mathcal N(0, \frac{\sigma^2}{d}I_d)$, $\mathbb E\|e\|^2 = \sigma^2$ ($0$ = noise-free).
    pub noise: f64,
    /// Success threshold $\tau$ on the matched subspace distance.
    pub threshold: f64,
    /// K-subspaces restarts ($K > 1$).
    pub restarts: usize,
}

impl Default for PhaseConfig {
    /// The paper's grid: $d = 48$, $K \in \{1,2,3\}$, $r = 2..8$, $N = 2..15$ per component;
    /// 50 trials per cell, noise-free, $\tau = 0.5$, 10 restarts.
    fn default() -> Self {
        Self {
            dim: 48,
            components: vec![1, 2, 3],
            ranks: (2..=8).collect(),
            samples: (2..=15).collect(),
            trials: 50,
            seed: 0,
            noise: 0.0,
            threshold: 0.5,
            restarts: 10,
        }
    }
}

/// One cell of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct CellResult {
    /// $K$.
    pub k: usize,
    /// $r$.
    pub r: usize,
    /// Samples per component $N$.
    pub n: usize,
    /// Trials run.
    pub trials: usize,
    /// Successes.
    pub successes: usize,
    /// Lower end of the 95% Clopper–Pearson interval of the success probability.
    pub ci_low: f64,
    /// Upper end of that interval.
    pub ci_high: f64,
    /// Median over trials of the matched error $\max_k\|\hat U\hat U^\top - UU^\top\|_F$.
    pub median_error: f64,
}

impl CellResult {
    /// `successes / trials`.
    pub fn rate(&self) -> f64 {
        self.successes as f64 / self.trials as f64
    }
}

/// The cells of a configuration in table order (K, then r, then N).
pub fn cells(config: &PhaseConfig) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for &k in &config.components {
        for &r in &config.ranks {
            for &n in &config.samples {
                out.push((k, r, n));
            }
        }
    }
    out
}

/// Validates a configuration.
///
/// # Errors
/// [`Error::Empty`] for an empty grid; [`Error::InvalidCount`] for $d = 0$, a zero
/// $K$, $r$, $N$, `trials` or `restarts`, or $Kr > d$; [`Error::InvalidParameter`] for a
/// negative or non-finite noise or a non-positive threshold.
pub fn validate(config: &PhaseConfig) -> Result<()> {
    let count = |name, value, requirement| Error::InvalidCount {
        name,
        value,
        requirement,
    };
    if config.components.is_empty() || config.ranks.is_empty() || config.samples.is_empty() {
        return Err(Error::Empty {
            what: "phase-transition grid",
            unit: "value of each of K, r and N",
        });
    }
    if config.dim == 0 {
        return Err(count("dimension d", 0, "at least 1"));
    }
    if config.trials == 0 {
        return Err(count("trials", 0, "at least 1"));
    }
    if config.restarts == 0 {
        return Err(count("restarts", 0, "at least 1"));
    }
    for &k in &config.components {
        if k == 0 {
            return Err(count("K", 0, "at least 1"));
        }
        for &r in &config.ranks {
            if r == 0 {
                return Err(count("rank r", 0, "at least 1"));
            }
            if k * r > config.dim {
                return Err(count(
                    "K·r",
                    k * r,
                    "at most d (the K subspaces are mutually orthogonal)",
                ));
            }
        }
    }
    if let Some(&n) = config.samples.iter().find(|&&n| n == 0) {
        return Err(count("samples per component N", n, "at least 1"));
    }
    if !(config.noise.is_finite() && config.noise >= 0.0) {
        return Err(Error::InvalidParameter {
            name: "noise",
            value: config.noise,
            requirement: "finite and ≥ 0",
        });
    }
    if !(config.threshold.is_finite() && config.threshold > 0.0) {
        return Err(Error::InvalidParameter {
            name: "threshold",
            value: config.threshold,
            requirement: "finite and > 0",
        });
    }
    Ok(())
}

/// One trial (see the module docs); returns the matched error $\max_k$ distance.
///
/// # Errors
/// Construction and solver errors (none for a validated configuration).
pub fn trial(
    config: &PhaseConfig,
    k: usize,
    r: usize,
    n: usize,
    rng: &mut SeededRng,
) -> Result<f64> {
    let d = config.dim;
    let q = random_orthonormal(rng, d, k * r)?;
    let mut x = Mat::<f64>::zeros(d, k * n);
    for c in 0..k {
        let a = standard_normal(rng, r, n);
        let xc = q.as_ref().subcols(c * r, r) * &a;
        x.as_mut().subcols_mut(c * n, n).copy_from(xc.as_ref());
    }
    if config.noise > 0.0 {
        let e = standard_normal(rng, d, k * n);
        let s = config.noise / (d as f64).sqrt();
        for j in 0..k * n {
            for i in 0..d {
                x[(i, j)] += s * e[(i, j)];
            }
        }
    }
    let truth: Vec<_> = (0..k).map(|c| q.as_ref().subcols(c * r, r)).collect();
    let bases: Vec<Mat<f64>> = if k == 1 {
        vec![Pca::fit(x.as_ref(), r)?.complete(rng)?]
    } else {
        let mut solver = KSubspaces::new(k, r);
        solver.restarts = config.restarts;
        solver.solve(x.as_ref(), rng)?.bases
    };
    let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
    Ok(match_subspaces(&refs, &truth)?.max_distance)
}

/// Runs the sweep. `progress` is called once per finished trial (from worker threads).
///
/// # Errors
/// As [`validate`]; errors of a trial.
///
/// # Examples
/// ```
/// use diffusion_lowdim::study::{PhaseConfig, phase_transition};
/// let cfg = PhaseConfig { components: vec![1], ranks: vec![3], samples: vec![2, 3],
///                         trials: 4, ..PhaseConfig::default() };
/// let cells = phase_transition(&cfg, |_| {})?;
/// assert_eq!(cells[0].successes, 0);   // N = 2 < r = 3: never recovered
/// assert_eq!(cells[1].successes, 4);   // N = r: always (noise-free)
/// # Ok::<(), diffusion_lowdim::Error>(())
/// ```
pub fn phase_transition<F>(config: &PhaseConfig, progress: F) -> Result<Vec<CellResult>>
where
    F: Fn(usize) + Sync,
{
    validate(config)?;
    let grid = cells(config);
    let trials = config.trials;
    let jobs: Vec<(usize, usize)> = (0..grid.len())
        .flat_map(|c| (0..trials).map(move |j| (c, j)))
        .collect();
    let errors: Vec<Result<f64>> = jobs
        .par_iter()
        .map(|&(c, j)| {
            let (k, r, n) = grid[c];
            let mut rng = stream(config.seed, STREAM_LABEL, ((c as u64) << 32) | j as u64);
            let e = trial(config, k, r, n, &mut rng);
            progress(1);
            e
        })
        .collect();
    let mut out = Vec::with_capacity(grid.len());
    for (c, &(k, r, n)) in grid.iter().enumerate() {
        let mut errs: Vec<f64> = errors[c * trials..(c + 1) * trials]
            .iter()
            .cloned()
            .collect::<Result<_>>()?;
        let successes = errs.iter().filter(|&&e| e <= config.threshold).count();
        errs.sort_by(|a, b| a.total_cmp(b));
        let median = if trials % 2 == 1 {
            errs[trials / 2]
        } else {
            0.5 * (errs[trials / 2 - 1] + errs[trials / 2])
        };
        let (ci_low, ci_high) = clopper_pearson(successes, trials, 0.95)?;
        out.push(CellResult {
            k,
            r,
            n,
            trials,
            successes,
            ci_low,
            ci_high,
            median_error: median,
        });
    }
    Ok(out)
}

/// The located transition of each $(K, r)$ row: the smallest $N$ with success rate
/// $\ge 1/2$ (`None` if no $N$ of the grid reaches it).
pub fn transitions(cells: &[CellResult]) -> Vec<(usize, usize, Option<usize>)> {
    let mut out: Vec<(usize, usize, Option<usize>)> = Vec::new();
    for c in cells {
        let hit = 2 * c.successes >= c.trials;
        match out.iter_mut().find(|(k, r, _)| *k == c.k && *r == c.r) {
            Some(row) => {
                if hit && row.2.is_none_or(|n| c.n < n) {
                    row.2 = Some(c.n);
                }
            }
            None => out.push((c.k, c.r, if hit { Some(c.n) } else { None })),
        }
    }
    out
}
