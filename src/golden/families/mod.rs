//! The registry of golden-case families: one module per family.
//!
//! To add a family (e.g. the probability-flow maps R10 or PFD R11), write a
//! module with a `build(&mut SuiteBuilder) -> Result<()>` that adds its models
//! and cases, and add one line to [`FAMILIES`]. The exporter and the validator
//! need no change: the validator only compares arrays.

mod dae_loss;
mod flows;
mod grids;
mod measure;
mod pfd;
mod r01;
mod r02;
mod r03;
mod r04;
mod r10_flow;
mod r14;
mod schedules;
mod steps;
mod subspaces;
mod weights;

use faer::Mat;

use super::export::SuiteBuilder;
use crate::io::Result;
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::reference::{self, Q};

/// A family of golden cases.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Family id (`R02`, …, `schedules`), as in the manifest.
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Adds the family's models and cases.
    pub build: fn(&mut SuiteBuilder) -> Result<()>,
}

/// Every family, in export order.
pub const FAMILIES: &[Family] = &[
    Family {
        id: "R01",
        title: "Tweedie's formula: conversions among x0, eps, v and score predictions",
        build: r01::build,
    },
    Family {
        id: "R02",
        title: "Gaussian posterior mean and score (low-rank, full covariance, PCA denoiser)",
        build: r02::build,
    },
    Family {
        id: "R03",
        title: "MoLRG posterior mean and score (unequal pi, r, Lambda; near ties; saturated softmax; K-subspaces)",
        build: r03::build,
    },
    Family {
        id: "R04",
        title: "Empirical posterior mean and score (memorization; near ties; small beta)",
        build: r04::build,
    },
    Family {
        id: "R14",
        title: "Jacobians of the exact denoisers",
        build: r14::build,
    },
    Family {
        id: "R10",
        title: "Probability-flow maps: exact Gaussian flow (VE/EDM, VP, rectified flow), MoLRG by Dormand-Prince",
        build: r10_flow::build,
    },
    Family {
        id: "R10-steps",
        title: "One sampler step with the exact denoiser: Euler, Heun (EDM), DDIM (diffusers)",
        build: steps::build,
    },
    Family {
        id: "measure",
        title: "Teacher-student reference of `measure`: reference MoLRG, noise bank, flow outputs of p* and of each training set's p_emp",
        build: measure::build,
    },
    Family {
        id: "schedules",
        title: "Schedule tables: diffusers alphas_cumprod, EDM sigma grid, score_sde levels",
        build: schedules::build,
    },
    Family {
        id: "weights",
        title: "Posterior weights and log weights of MoLRG and empirical models (saturated, tied)",
        build: weights::build,
    },
    Family {
        id: "subspaces",
        title: "Principal angles and their sines (down to 1e-9)",
        build: subspaces::build,
    },
    Family {
        id: "dae-loss",
        title: "DAE losses of one basis and hard-max losses of two (beta = 1e-4, alpha = 1e-3)",
        build: dae_loss::build,
    },
    Family {
        id: "grids",
        title: "Schedule grids: k-diffusion Karras and exponential with another range, get_sigmas_vp, diffusers Euler sigmas and init_noise_sigma",
        build: grids::build,
    },
    Family {
        id: "pfd-exact",
        title: "Closed-form PFD of Gaussians under VE, including nearly identical pairs (eigenvalues 1e-10 apart, principal angles 1e-9)",
        build: pfd::build,
    },
];

/// Every registered family.
pub fn families() -> &'static [Family] {
    FAMILIES
}

/// The exact posterior mean of `model` at `x` in double-double, with the scale and
/// tolerances of the R02–R04 mean cases (Gaussians given by a basis, MoLRGs, empirical).
fn mean_at(
    model: &crate::io::model_file::Model,
    x: &[f64],
    level: NoiseLevel,
) -> (Vec<Q>, super::tolerance::PointTolerance) {
    use crate::io::model_file::Model;
    match model {
        Model::Gaussian(g) => r02::mean_at(g, x, level),
        Model::Molrg(m) => r03::mean_at(m, x, level),
        Model::Empirical(e) => r04::mean_at(e, x, level),
    }
}

/// The number of terms a model's posterior mean sums per coordinate (rank, total
/// rank, number of points), for rounding bounds.
fn model_terms(model: &crate::io::model_file::Model) -> usize {
    use crate::io::model_file::Model;
    match model {
        Model::Gaussian(g) => g.rank(),
        Model::Molrg(m) => m.ranks().iter().sum(),
        Model::Empirical(e) => e.len(),
    }
}

/// Column `j` of a matrix.
fn col(m: &Mat<f64>, j: usize) -> Vec<f64> {
    (0..m.nrows()).map(|i| m[(i, j)]).collect()
}

/// Rounds a double-double vector to f64.
fn qv(v: &[Q]) -> Vec<f64> {
    v.iter().map(|&x| reference::f(x)).collect()
}

/// Euclidean norm.
fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `‖a − b‖` for double-double vectors, rounded.
fn dist_q(a: &[Q], b: &[Q]) -> f64 {
    let mut s = Q::ZERO;
    for (x, y) in a.iter().zip(b) {
        let e = *x - *y;
        s += e * e;
    }
    reference::f(s.sqrt())
}

/// A `(B, d)` array from rows.
fn rows(rows: &[Vec<f64>]) -> Array {
    let b = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    Array::new(vec![b, d], rows.concat()).expect("rows of equal length")
}

/// A `(B, d, d)` array from dense double-double matrices (row vectors), rounded.
fn stack_q(ms: &[Vec<Vec<Q>>]) -> Array {
    let b = ms.len();
    let d = ms.first().map_or(0, Vec::len);
    let data: Vec<f64> = ms
        .iter()
        .flat_map(|m| m.iter().flat_map(|r| r.iter().map(|&v| reference::f(v))))
        .collect();
    Array::new(vec![b, d, d], data).expect("square matrices of equal size")
}

/// The `eval` command of a model case (paths relative to the suite directory).
fn eval_command(sub: &str, model: &str, id: &str, level: NoiseLevel) -> String {
    format!(
        "diffusion-lowdim eval {sub} --model {model} --x cases/{id}/x.npy --alpha {} --beta {} --out {id}.npy",
        level.alpha(),
        level.beta()
    )
}

/// A seed-determined matrix with standard normal entries.
fn gaussian(rng: &mut crate::rng::SeededRng, m: usize, n: usize) -> Mat<f64> {
    crate::rng::standard_normal(rng, m, n)
}
