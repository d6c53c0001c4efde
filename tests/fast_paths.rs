//! The fast paths of the performance work against the plain algorithms they
//! replace: truncated PCA vs the full thin SVD, K-subspaces from a fixed
//! initialization, the empirical GEMM batch path vs the exact per-point path.

mod common;

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
