//! The fast paths of the performance work against the plain algorithms they
//! replace: truncated PCA vs the full thin SVD, K-subspaces from a fixed
//! initialization, the empirical and MoLRG GEMM batch paths vs the exact
//! per-point / per-column double-length paths.

use super::common;

use diffusion_lowdim::linalg::random_orthonormal;
use diffusion_lowdim::model::{Denoiser, ExactModel};
use diffusion_lowdim::reduction::{KSubspaces, Pca, match_subspaces, subspace_distance};
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::{Empirical, Error, Molrg, NoiseLevel};
use faer::Mat;
use proptest::prelude::*;

fn low_rank_plus_noise(
    seed: u64,
    d: usize,
    n: usize,
    r: usize,
    noise: f64,
) -> (Mat<f64>, Mat<f64>) {
    let mut g = seeded(seed);
    let u = random_orthonormal(&mut g, d, r).unwrap();
    let a = standard_normal(&mut g, r, n);
    let e = standard_normal(&mut g, d, n);
    let x = Mat::from_fn(d, n, |i, j| {
        (0..r).map(|l| u[(i, l)] * a[(l, j)]).sum::<f64>() + noise * e[(i, j)]
    });
    (x, u)
}

proptest! {
    #![proptest_config(common::config(48))]

    /// The truncated PCA agrees with the full-SVD PCA to its certified bound:
    /// distance ≤ √2·bound + the full SVD's own error (≤ 1e-12 at these sizes),
    /// or it reports the fallback and is then the full SVD itself.
    #[test]
    fn truncated_pca_matches_full_svd(
        d in 40usize..=200,
        n in 40usize..=300,
        r in 1usize..=8,
        log_noise in -12.0f64..0.0,
        seed in any::<u64>(),
    ) {
        let (x, _) = low_rank_plus_noise(seed, d, n, r, 10f64.powf(log_noise));
        let full = Pca::fit(x.as_ref(), r).unwrap();
        let (fast, info) = Pca::fit_truncated(x.as_ref(), r).unwrap();
        let dist = subspace_distance(full.basis(), fast.basis()).unwrap();
        if info.fallback {
            prop_assert!(dist <= 1e-12, "fallback differs: {dist:e}");
        } else {
            prop_assert!(dist <= 2f64.sqrt() * info.sin_theta_bound + 1e-12, "{dist:e} vs bound {:e}", info.sin_theta_bound);
        }
    }
}

#[test]
fn truncated_pca_refuses_bad_ranks() {
    let x = Mat::<f64>::zeros(5, 3);
    assert!(matches!(
        Pca::fit_truncated(x.as_ref(), 4),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        Pca::fit_truncated(x.as_ref(), 0),
        Err(Error::InvalidCount { .. })
    ));
}

/// From a fixed initialization near the truth, one alternation sequence recovers
/// noise-free subspaces to rounding; bad initial bases are typed errors.
#[test]
fn ksubspaces_solve_from_fixed_init() {
    let mut g = seeded(21);
    let (d, k, r) = (64, 3, 4);
    let q = random_orthonormal(&mut g, d, k * r).unwrap();
    let truth: Vec<Mat<f64>> = (0..k)
        .map(|i| q.as_ref().subcols(i * r, r).to_owned())
        .collect();
    let mut x = Mat::<f64>::zeros(d, k * 60);
    for (c, u) in truth.iter().enumerate() {
        let a = standard_normal(&mut g, r, 60);
        let block = diffusion_lowdim::linalg::mul(u.as_ref(), a.as_ref());
        x.as_mut().subcols_mut(c * 60, 60).copy_from(block.as_ref());
    }
    let init: Vec<Mat<f64>> = truth
        .iter()
        .map(|u| {
            let p = Mat::from_fn(d, r, |i, j| {
                u[(i, j)] + 0.3 * standard_normal(&mut g, 1, 1)[(0, 0)]
            });
            diffusion_lowdim::linalg::orthonormalize(p.as_ref()).unwrap()
        })
        .collect();
    let refs: Vec<_> = init.iter().map(|b| b.as_ref()).collect();
    let solver = KSubspaces {
        restarts: 1,
        max_iter: 20,
        ..KSubspaces::new(k, r)
    };
    let sol = solver.solve_from(x.as_ref(), &refs, &mut g).unwrap();
    let found: Vec<_> = sol.bases.iter().map(|b| b.as_ref()).collect();
    let truth_refs: Vec<_> = truth.iter().map(|b| b.as_ref()).collect();
    let m = match_subspaces(&found, &truth_refs).unwrap();
    assert!(m.max_distance < 1e-12, "{}", m.max_distance);
    assert!(sol.info.certified);
    assert!(matches!(
        solver.solve_from(x.as_ref(), &refs[..2], &mut g),
        Err(Error::DimensionMismatch { .. })
    ));
    let skew = Mat::from_fn(d, r, |i, j| if i == j { 2.0 } else { 0.0 });
    let bad = [skew.as_ref(), refs[1], refs[2]];
    assert!(matches!(
        solver.solve_from(x.as_ref(), &bad, &mut g),
        Err(Error::NotOrthonormal { .. })
    ));
}

/// The empirical GEMM batch path honours its reported per-column bound against
/// the exact per-point weights, over random sizes and levels (including the
/// regime where it recomputes candidates exactly).
#[test]
fn empirical_batch_path_honours_its_bound() {
    for case in 0..40u64 {
        let mut g = seeded(700 + case);
        let d = 8 + (case as usize * 7) % 60;
        let n = 30 + (case as usize * 37) % 300;
        let q = random_orthonormal(&mut g, d, 4).unwrap();
        let m = Molrg::uniform(&[q.as_ref().subcols(0, 2), q.as_ref().subcols(2, 2)]).unwrap();
        let train = m.sample_x0(&mut g, n);
        let emp = Empirical::new(train.as_ref()).unwrap();
        let beta = 10f64.powf(-6.0 + (case % 8) as f64 * 0.8);
        let level = NoiseLevel::new(0.9, beta).unwrap();
        let x0 = m.sample_x0(&mut g, 20);
        let e = standard_normal(&mut g, d, 20);
        let x = Mat::from_fn(d, 20, |i, j| 0.9 * x0[(i, j)] + beta * e[(i, j)]);
        let (mean, bounds) = emp.posterior_mean_with_bounds(x.as_ref(), level).unwrap();
        let plain = emp.posterior_mean(x.as_ref(), level).unwrap();
        for j in 0..20 {
            let w = emp.posterior_weights(x.col(j), level).unwrap();
            let exact: Vec<f64> = (0..d)
                .map(|l| w.iter().map(|&(i, s)| s * train[(l, i)]).sum())
                .collect();
            let spread = (0..n)
                .map(|i| {
                    (0..d)
                        .map(|l| (train[(l, i)] - exact[l]).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(0.0, f64::max);
            let err = (0..d)
                .map(|l| (mean[(l, j)] - exact[l]).powi(2))
                .sum::<f64>()
                .sqrt();
            let scale = exact.iter().map(|v| v * v).sum::<f64>().sqrt() + spread;
            // The bound, plus the rounding of the two sums Σ s_i x^(i) (γ_N each).
            let tol = bounds[j] * spread + 16.0 * (n as f64) * f64::EPSILON * scale;
            assert!(
                err <= tol,
                "case {case} col {j}: {err:e} > {tol:e} (bound {:e})",
                bounds[j]
            );
            for l in 0..d {
                assert_eq!(mean[(l, j)].to_bits(), plain[(l, j)].to_bits());
            }
        }
    }
}

/// The MoLRG batch posterior mean (f64 GEMM logits, refined where its rigorous
/// bound says the weights could be off by more than `MOLRG_REFINE_TOL`: split
/// projection, or `Dot2` beyond it) against means rebuilt from the per-column
/// double-length weights, in three regimes: W1-like (most columns refined by
/// the split projection), saturated (none), and large near-tied logits (the
/// `Dot2` fallback), where plain f64 weights are measurably wrong.
#[test]
fn molrg_batch_path_honours_its_refinement_tolerance() {
    use diffusion_lowdim::prec::MOLRG_REFINE_TOL;
    let eps = f64::EPSILON;
    let mut naive_worst = 0.0f64;
    for case in 0..24u64 {
        let mut g = seeded(900 + case);
        let regime = case % 3;
        let (d, k, r) = [(96, 4, 8), (40, 3, 5), (30, 2, 1)][regime as usize];
        let q = random_orthonormal(&mut g, d, k * r).unwrap();
        let bases: Vec<_> = (0..k).map(|i| q.as_ref().subcols(i * r, r)).collect();
        let m = Molrg::uniform(&bases).unwrap();
        let b = 64;
        let (level, x) = match regime {
            0 => {
                let level = NoiseLevel::new(0.8, 0.6).unwrap();
                let (x0, e) = (m.sample_x0(&mut g, b), standard_normal(&mut g, d, b));
                (
                    level,
                    Mat::from_fn(d, b, |i, j| 0.8 * x0[(i, j)] + 0.6 * e[(i, j)]),
                )
            }
            1 => {
                let level = NoiseLevel::new(1.0, 1e-4).unwrap();
                let (x0, e) = (m.sample_x0(&mut g, b), standard_normal(&mut g, d, b));
                (
                    level,
                    Mat::from_fn(d, b, |i, j| x0[(i, j)] + 1e-4 * e[(i, j)]),
                )
            }
            _ => {
                // x = s (u1 + u2)/√2 + t (u1 − u2)/√2 + small noise: logits ≈ 10^9
                // whose difference is O(1).
                let level = NoiseLevel::new(1.0, 1e-3).unwrap();
                let e = standard_normal(&mut g, d, b);
                let x = Mat::from_fn(d, b, |i, j| {
                    let t = 1e-6 * (j as f64 - b as f64 / 2.0) / b as f64;
                    let (u1, u2) = (q[(i, 0)], q[(i, 1)]);
                    100.0 * (u1 + u2) / 2f64.sqrt() + t * (u1 - u2) / 2f64.sqrt() + 1e-9 * e[(i, j)]
                });
                (level, x)
            }
        };
        let batch = m.posterior_mean(x.as_ref(), level).unwrap();
        let w = m.posterior_weights(x.as_ref(), level).unwrap();
        let gain = level.gain(1.0);
        let kappa = level.logit_coefficient(1.0);
        for j in 0..b {
            // Component means m_k = g U_k U_kᵀ x (f64), and the mean from dd weights.
            let means: Vec<Vec<f64>> = bases
                .iter()
                .map(|u| {
                    let c: Vec<f64> = (0..r)
                        .map(|l| (0..d).map(|i| u[(i, l)] * x[(i, j)]).sum())
                        .collect();
                    (0..d)
                        .map(|i| gain * (0..r).map(|l| u[(i, l)] * c[l]).sum::<f64>())
                        .collect()
                })
                .collect();
            let exact: Vec<f64> = (0..d)
                .map(|i| (0..k).map(|kk| w[(kk, j)] * means[kk][i]).sum())
                .collect();
            let spread = means
                .iter()
                .map(|mk| {
                    mk.iter()
                        .zip(&exact)
                        .map(|(a, b)| (a - b).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(0.0, f64::max);
            let xn = (0..d).map(|i| x[(i, j)].powi(2)).sum::<f64>().sqrt();
            let err = (0..d)
                .map(|i| (batch[(i, j)] - exact[i]).powi(2))
                .sum::<f64>()
                .sqrt();
            // The documented bound, plus the rounding of both sides' projections
            // and sums (each within 4γ of ‖x‖/α with γ = (d + K r) ε).
            let tol = 2.0 * MOLRG_REFINE_TOL * spread
                + 16.0 * ((d + k * r) as f64) * eps * xn / 0.8f64.min(1.0);
            assert!(
                err <= tol,
                "case {case} (regime {regime}) col {j}: {err:e} > {tol:e}"
            );
            // What plain f64 logits would give (no refinement): the test's teeth.
            if regime == 2 {
                let logits: Vec<f64> = bases
                    .iter()
                    .map(|u| {
                        kappa
                            * (0..r)
                                .map(|l| (0..d).map(|i| u[(i, l)] * x[(i, j)]).sum::<f64>().powi(2))
                                .sum::<f64>()
                    })
                    .collect();
                let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let ex: Vec<f64> = logits.iter().map(|l| (l - top).exp()).collect();
                let s: f64 = ex.iter().sum();
                let naive: Vec<f64> = (0..d)
                    .map(|i| (0..k).map(|kk| ex[kk] / s * means[kk][i]).sum())
                    .collect();
                let nerr = (0..d)
                    .map(|i| (naive[i] - exact[i]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                naive_worst = naive_worst.max(nerr / tol);
            }
        }
    }
    // Plain f64 logits exceed the tolerance by orders of magnitude in the
    // near-tie regime, so a missing or broken refinement would fail above.
    assert!(
        naive_worst > 100.0,
        "plain f64 weights only reach {naive_worst:e} × tol"
    );
}
