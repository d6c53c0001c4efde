//! R08 planted defects.

use diffusion_lowdim::reduction::{Weight, dae_loss_quadrature};
use diffusion_lowdim::rng::SeededRng;
use diffusion_lowdim::schedule::Schedule;
use diffusion_lowdim::theorem::r08::{self, Subject};
use diffusion_lowdim::{NoiseLevel, Result};
use faer::{Mat, MatRef};

use super::{assert_caught as caught, run};

/// [`super::assert_caught`], printing the failure counts per facet (`--nocapture`).
#[track_caller]
pub fn assert_caught(report: &diffusion_lowdim::theorem::ResultReport, facet: &str) {
    let counts: Vec<_> = report
        .facets
        .iter()
        .filter(|f| f.failures > 0)
        .map(|f| (f.name, f.failures, f.instances))
        .collect();
    eprintln!(
        "{} on {} instances: {counts:?}",
        report.id, report.instances
    );
    caught(report, facet);
}

// Wrong K-subspaces variants shared with the R09 defects.
use diffusion_lowdim::reduction::KSubspaces;
use diffusion_lowdim::rng::standard_normal;

/// Orthonormal completion of `q` (`d × m`) to `d × r` by Gram–Schmidt on Gaussian columns.
pub fn complete(q: MatRef<'_, f64>, r: usize, rng: &mut SeededRng) -> Mat<f64> {
    let d = q.nrows();
    let mut cols: Vec<Vec<f64>> = (0..q.ncols())
        .map(|j| (0..d).map(|i| q[(i, j)]).collect())
        .collect();
    while cols.len() < r {
        let g = standard_normal(rng, d, 1);
        let mut v: Vec<f64> = (0..d).map(|i| g[(i, 0)]).collect();
        for _ in 0..2 {
            for c in &cols {
                let p: f64 = c.iter().zip(&v).map(|(a, b)| a * b).sum();
                for (vi, ci) in v.iter_mut().zip(c) {
                    *vi -= p * ci;
                }
            }
        }
        let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        cols.push(v.into_iter().map(|a| a / n).collect());
    }
    Mat::from_fn(d, r, |i, j| cols[j][i])
}

/// K-subspaces fitted with rank $r - 1$ (an off-by-one in the rank), completed at random to $r$.
pub fn wrong_rank(
    x: MatRef<'_, f64>,
    k: usize,
    r: usize,
    rng: &mut SeededRng,
) -> Result<Vec<Mat<f64>>> {
    if r < 2 {
        return Ok(KSubspaces::new(k, r).solve(x, rng)?.bases);
    }
    let sol = KSubspaces::new(k, r - 1).solve(x, rng)?;
    Ok(sol
        .bases
        .iter()
        .map(|b| complete(b.as_ref(), r, rng))
        .collect())
}

fn proj_sq(u: MatRef<'_, f64>, x: MatRef<'_, f64>, j: usize) -> f64 {
    (0..u.ncols())
        .map(|l| {
            let c: f64 = (0..u.nrows()).map(|i| u[(i, l)] * x[(i, j)]).sum();
            c * c
        })
        .sum()
}

/// One more K-subspaces step after the crate's solution, with a wrong assignment rule
/// (`largest = false`: each point to the subspace it projects on *least*) and/or a wrong PCA
/// (`smallest = true`: the cluster's *last* left singular vectors), empty clusters kept.
pub fn bad_step(
    x: MatRef<'_, f64>,
    k: usize,
    r: usize,
    rng: &mut SeededRng,
    largest: bool,
    smallest: bool,
) -> Result<Vec<Mat<f64>>> {
    let sol = KSubspaces::new(k, r).solve(x, rng)?;
    let d = x.nrows();
    let labels: Vec<usize> = (0..x.ncols())
        .map(|j| {
            let v: Vec<f64> = sol
                .bases
                .iter()
                .map(|u| proj_sq(u.as_ref(), x, j))
                .collect();
            let mut best = 0;
            for (c, val) in v.iter().enumerate() {
                if (largest && *val > v[best]) || (!largest && *val < v[best]) {
                    best = c;
                }
            }
            best
        })
        .collect();
    let mut out = Vec::with_capacity(k);
    for (c, old) in sol.bases.iter().enumerate() {
        let idx: Vec<usize> = (0..x.ncols()).filter(|&j| labels[j] == c).collect();
        if idx.is_empty() {
            out.push(old.clone());
            continue;
        }
        let xc = Mat::from_fn(d, idx.len(), |i, j| x[(i, idx[j])]);
        let svd = xc.svd().expect("svd");
        let u = svd.U();
        let basis = if smallest {
            u.subcols(d - r, r).to_owned()
        } else {
            let m = idx.len().min(r);
            complete(u.subcols(0, m), r, rng)
        };
        out.push(basis);
    }
    Ok(out)
}

/// A softmax parameterization with the logits scaled by `phi_scale` and the gain `gain(α, β)`.
fn softmax(
    bases: &[MatRef<'_, f64>],
    x_t: MatRef<'_, f64>,
    level: NoiseLevel,
    phi_scale: f64,
    gain: f64,
) -> Mat<f64> {
    let phi = phi_scale * level.logit_coefficient(1.0);
    let (d, b) = (x_t.nrows(), x_t.ncols());
    let mut out = Mat::<f64>::zeros(d, b);
    for j in 0..b {
        let coeffs: Vec<Vec<f64>> = bases
            .iter()
            .map(|u| {
                (0..u.ncols())
                    .map(|l| (0..d).map(|i| u[(i, l)] * x_t[(i, j)]).sum())
                    .collect()
            })
            .collect();
        let logits: Vec<f64> = coeffs
            .iter()
            .map(|c| phi * c.iter().map(|v| v * v).sum::<f64>())
            .collect();
        let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - m).exp()).collect();
        let s: f64 = e.iter().sum();
        for ((u, c), ek) in bases.iter().zip(&coeffs).zip(&e) {
            for i in 0..d {
                let v: f64 = (0..u.ncols()).map(|l| u[(i, l)] * c[l]).sum();
                out[(i, j)] += gain * ek / s * v;
            }
        }
    }
    out
}

/// The logit coefficient halved ($\varphi/2$: the $2$ in $2\beta^2$ doubled).
struct LogitHalved;
impl Subject for LogitHalved {
    fn posterior_mean(
        &self,
        bases: &[MatRef<'_, f64>],
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        Ok(softmax(bases, x_t, level, 0.5, level.shrinkage()))
    }
}

/// Softmin: the sign of the logits flipped.
struct Softmin;
impl Subject for Softmin {
    fn posterior_mean(
        &self,
        bases: &[MatRef<'_, f64>],
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        Ok(softmax(bases, x_t, level, -1.0, level.shrinkage()))
    }
}

/// The gain $1/\alpha$ (the noise-free inverse) instead of $\alpha/(\alpha^2+\beta^2)$.
struct GainInverse;
impl Subject for GainInverse {
    fn posterior_mean(
        &self,
        bases: &[MatRef<'_, f64>],
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        Ok(softmax(bases, x_t, level, 1.0, 1.0 / level.alpha()))
    }
}

/// The hard-max loss with each sample denoised by the component it projects on *least*.
struct HardMinAssignment;
impl Subject for HardMinAssignment {
    fn hard_max_loss(
        &self,
        bases: &[MatRef<'_, f64>],
        x: MatRef<'_, f64>,
        schedule: &dyn Schedule,
        weight: &Weight,
        t0: f64,
        t1: f64,
    ) -> Result<diffusion_lowdim::reduction::quadrature::Integral> {
        let d = x.nrows();
        let proj = |u: MatRef<'_, f64>, j: usize| -> f64 {
            (0..u.ncols())
                .map(|l| (0..d).map(|i| u[(i, l)] * x[(i, j)]).sum::<f64>().powi(2))
                .sum()
        };
        let labels: Vec<usize> = (0..x.ncols())
            .map(|j| {
                (0..bases.len())
                    .min_by(|&a, &b| proj(bases[a], j).total_cmp(&proj(bases[b], j)))
                    .unwrap()
            })
            .collect();
        let mut total: Option<diffusion_lowdim::reduction::quadrature::Integral> = None;
        for (k, u) in bases.iter().enumerate() {
            let idx: Vec<usize> = (0..x.ncols()).filter(|&j| labels[j] == k).collect();
            if idx.is_empty() {
                continue;
            }
            let xk = Mat::from_fn(d, idx.len(), |i, j| x[(i, idx[j])]);
            let part = dae_loss_quadrature(*u, xk.as_ref(), schedule, weight, t0, t1)?;
            total = Some(match total {
                None => part,
                Some(mut t) => {
                    t.value += part.value;
                    t.error += part.error;
                    t
                }
            });
        }
        Ok(total.expect("some cluster is non-empty"))
    }
}

/// K-subspaces with rank $r - 1$, completed at random.
struct WrongRank;
impl Subject for WrongRank {
    fn k_subspaces(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        r: usize,
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        wrong_rank(x, k, r, rng)
    }
}

/// K-subspaces whose cluster PCA keeps the smallest singular vectors.
struct SmallestVectors;
impl Subject for SmallestVectors {
    fn k_subspaces(
        &self,
        x: MatRef<'_, f64>,
        k: usize,
        r: usize,
        rng: &mut SeededRng,
    ) -> Result<Vec<Mat<f64>>> {
        bad_step(x, k, r, rng, true, true)
    }
}

#[test]
fn r08_planted_logit_halved() {
    // Not caught by `softmax_gap` on 200 instances: the halved coefficient's extra gap stays
    // within that bound's slack (the bound is loose by 10²–10³ where it is informative).
    let report = run("R08", 20, |rng| r08::run_case_with(rng, &LogitHalved));
    assert_caught(&report, "softmax_is_molrg");
}

#[test]
fn r08_planted_softmin() {
    let report = run("R08", 20, |rng| r08::run_case_with(rng, &Softmin));
    assert_caught(&report, "softmax_is_molrg");
    assert_caught(&report, "softmax_gap");
}

#[test]
fn r08_planted_gain_inverse() {
    let report = run("R08", 20, |rng| r08::run_case_with(rng, &GainInverse));
    assert_caught(&report, "softmax_is_molrg");
}

#[test]
fn r08_planted_hard_min_assignment() {
    let report = run("R08", 20, |rng| r08::run_case_with(rng, &HardMinAssignment));
    assert_caught(&report, "hard_max_identity");
}

#[test]
fn r08_planted_wrong_rank() {
    let report = run("R08", 20, |rng| r08::run_case_with(rng, &WrongRank));
    assert_caught(&report, "certified_optimal");
    assert_caught(&report, "equals_truth");
}

#[test]
fn r08_planted_smallest_vectors() {
    let report = run("R08", 20, |rng| r08::run_case_with(rng, &SmallestVectors));
    assert_caught(&report, "certified_optimal");
    assert_caught(&report, "equals_truth");
}
