//! R14 — Jacobian structure of the exact denoisers.

use super::common;

use diffusion_lowdim::linalg::{numerical_rank_energy, random_orthonormal};
use diffusion_lowdim::model::ModelKind;
use diffusion_lowdim::model::jacobian::{analyze, finite_difference_jacobian};
use diffusion_lowdim::model::{Denoiser, ExactModel};
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::theorem::r14::Instance;
use diffusion_lowdim::{Gaussian, Molrg, NoiseLevel};
use faer::Mat;
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = ModelKind> {
    prop_oneof![
        Just(ModelKind::Gaussian),
        Just(ModelKind::Molrg),
        Just(ModelKind::Empirical)
    ]
}

prop_compose! {
    fn instance()(
        kind in kind(),
        d in 2usize..=32,
        raw_ranks in prop::collection::vec(1usize..=8, 1..=3),
        n_points in 1usize..=24,
        log_alpha in -1.0f64..0.0,
        log_beta in -1.3f64..0.7,
        lambda in -10.0f64..10.0,
        seed in any::<u64>(),
    ) -> Instance {
        let k = raw_ranks.len().min(d);
        let cap = (d / k).max(1);
        Instance {
            kind,
            d,
            ranks: raw_ranks.iter().take(k).map(|r| 1 + (r - 1) % cap).collect(),
            n_points,
            alpha: 10f64.powf(log_alpha),
            beta: 10f64.powf(log_beta),
            lambda,
            seed,
        }
    }
}

proptest! {
    #![proptest_config(common::config(96))]

    /// Every facet of the R14 check: analytic Jacobian = fourth-order central
    /// differences (with their own error estimate), symmetry and PSD-ness,
    /// K = 1 rank and energy rank, steering, null-space invariance, MoLRG rank bound.
    #[test]
    fn r14_jacobian_matches_finite_differences(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }

    /// K = 1: J = α/(α²+β²)·UUᵀ exactly (entrywise, to rounding), so its rank is r
    /// at every level, including β down to 1e-8 and α down to 1e-8.
    #[test]
    fn r14_k1_rank_is_r(
        d in 1usize..=64,
        r_raw in 1usize..=64,
        log_alpha in -8.0f64..0.0,
        log_beta in -8.0f64..4.0,
        seed in any::<u64>(),
    ) {
        let r = 1 + (r_raw - 1) % d;
        let mut rng = seeded(seed);
        let u = random_orthonormal(&mut rng, d, r).unwrap();
        let g = Gaussian::subspace(u.as_ref()).unwrap();
        let level = NoiseLevel::new(10f64.powf(log_alpha), 10f64.powf(log_beta)).unwrap();
        let x = standard_normal(&mut rng, d, 1);
        let j = g.jacobian(x.col(0), level).unwrap();
        let s = analyze(j.as_ref()).unwrap();
        prop_assert_eq!(s.tolerance_rank, r);
        let gain = level.shrinkage();
        for a in 0..d {
            for b in 0..d {
                let p: f64 = (0..r).map(|k| u[(a, k)] * u[(b, k)]).sum();
                prop_assert!((j[(a, b)] - gain * p).abs() <= 8.0 * r as f64 * f64::EPSILON * gain);
            }
        }
    }
}

/// Steering (LOCO edit) and null-space invariance (Shallow Diffuse) hold
/// exactly for the K = 1 denoiser at every level, for steps λ up to 1e3.
#[test]
fn r14_steering_and_null_space() {
    for case in 0..100u64 {
        let mut rng = seeded(case);
        let d = 2 + case as usize % 40;
        let r = 1 + case as usize % d.min(8);
        let q = random_orthonormal(&mut rng, d, (r + 1).min(d)).unwrap();
        let u = q.as_ref().subcols(0, r).to_owned();
        let g = Gaussian::subspace(u.as_ref()).unwrap();
        let level = NoiseLevel::new(
            10f64.powi(-((case % 9) as i32)),
            10f64.powi((case % 13) as i32 - 8),
        )
        .unwrap();
        let x = standard_normal(&mut rng, d, 1);
        let d0 = g.posterior_mean(x.as_ref(), level).unwrap();
        let sigma = level.shrinkage();
        let lam = 10f64.powi((case % 7) as i32 - 3);
        // Steering along u_0 (a right singular vector of J = σ UUᵀ with value σ).
        let moved = Mat::from_fn(d, 1, |i, _| x[(i, 0)] + lam * u[(i, 0)]);
        let d1 = g.posterior_mean(moved.as_ref(), level).unwrap();
        let scale = sigma * (x.norm_l2() + lam);
        for i in 0..d {
            let pred = d0[(i, 0)] + lam * sigma * u[(i, 0)];
            assert!((d1[(i, 0)] - pred).abs() <= 32.0 * (d + r) as f64 * f64::EPSILON * scale);
        }
        // Null space: a direction orthogonal to span U (exists when r < d).
        if r < d {
            let w = q.as_ref().col(r);
            let shifted = Mat::from_fn(d, 1, |i, _| x[(i, 0)] + lam * w[i]);
            let d2 = g.posterior_mean(shifted.as_ref(), level).unwrap();
            for i in 0..d {
                assert!(
                    (d2[(i, 0)] - d0[(i, 0)]).abs() <= 32.0 * (d + r) as f64 * f64::EPSILON * scale
                );
            }
        }
    }
}

/// MoLRG with mutually orthogonal components: rank J ≤ Σ r_k; with non-orthogonal
/// components the bound still holds (range J ⊆ span ∪ U_k), and the energy rank of
/// r equal singular values is r exactly when r ≤ 50 and r − 1 at r = 51.
#[test]
fn r14_molrg_rank_bound() {
    for case in 0..60u64 {
        let mut rng = seeded(500 + case);
        let d = 6 + case as usize % 30;
        let ranks = [1 + case as usize % 3, 1 + (case as usize / 3) % 3];
        let orthogonal = case % 2 == 0;
        let (u1, u2) = if orthogonal {
            let q = random_orthonormal(&mut rng, d, ranks[0] + ranks[1]).unwrap();
            (
                q.as_ref().subcols(0, ranks[0]).to_owned(),
                q.as_ref().subcols(ranks[0], ranks[1]).to_owned(),
            )
        } else {
            (
                random_orthonormal(&mut rng, d, ranks[0]).unwrap(),
                random_orthonormal(&mut rng, d, ranks[1]).unwrap(),
            )
        };
        let m = Molrg::uniform(&[u1.as_ref(), u2.as_ref()]).unwrap();
        let level = NoiseLevel::new(0.9, 0.3).unwrap();
        let x0 = m.sample_x0(&mut rng, 1);
        let e = standard_normal(&mut rng, d, 1);
        let x = Mat::from_fn(d, 1, |i, _| 0.9 * x0[(i, 0)] + 0.3 * e[(i, 0)]);
        let j = m.jacobian(x.col(0), level).unwrap();
        let s = analyze(j.as_ref()).unwrap();
        assert!(
            s.tolerance_rank <= ranks[0] + ranks[1],
            "case {case}: rank {}",
            s.tolerance_rank
        );
        // The analytic Jacobian also matches central differences here: with
        // h = 2⁻¹², rounding ≈ 1.5ε‖D‖/h ≈ 1.4e-12‖D‖ and truncation
        // ≈ h⁴‖D⁽⁵⁾‖/30 ≈ 3e-14·(1/β)⁵ ≈ 1e-11 at β = 0.3; 1e-9 leaves a factor 100.
        let fd = finite_difference_jacobian(&m, x.col(0), level, 2f64.powi(-12)).unwrap();
        let err = (0..d)
            .flat_map(|a| (0..d).map(move |b| (a, b)))
            .map(|(a, b)| (j[(a, b)] - fd[(a, b)]).abs())
            .fold(0.0, f64::max);
        assert!(
            err < 1e-9 * (1.0 + j.norm_max()),
            "case {case}: fd error {err}"
        );
    }
    assert_eq!(numerical_rank_energy(&[1.0; 50], 0.99), 50);
    assert_eq!(numerical_rank_energy(&[1.0; 51], 0.99), 50);
}
