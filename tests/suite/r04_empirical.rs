//! R04 — the empirical (memorizing) denoiser.

use super::common;

use diffusion_lowdim::model::Denoiser;
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::theorem::r04::{Instance, PointKind};
use diffusion_lowdim::{Empirical, NoiseLevel};
use faer::Mat;
use proptest::prelude::*;

fn point_kind() -> impl Strategy<Value = PointKind> {
    prop_oneof![
        Just(PointKind::Typical),
        Just(PointKind::NearTie),
        Just(PointKind::Far),
        Just(PointKind::FarNearDuplicates)
    ]
}

prop_compose! {
    fn instance()(
        d in 1usize..=32,
        n in 1usize..=64,
        log_alpha in -8.0f64..0.0,
        log_beta in -8.0f64..4.0,
        point in point_kind(),
        seed in any::<u64>(),
    ) -> Instance {
        Instance { d, n, alpha: 10f64.powf(log_alpha), beta: 10f64.powf(log_beta), point, seed }
    }
}

proptest! {
    #![proptest_config(common::config(192))]

    /// Mean and score against the double-double softmax over all points, with
    /// the tolerance derived from the gap formula's rounding (see the check docs).
    #[test]
    fn r04_matches_reference(inst in instance()) {
        let ms = inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?;
        common::check_all(&ms)?;
    }

    /// β → 0: the posterior mean is the nearest training point, bit for bit,
    /// whenever the squared distances to the nearest and second-nearest points
    /// differ by more than 1700β² (so every other weight is below e^{-850}).
    #[test]
    fn r04_nearest_point_as_beta_to_zero(
        d in 1usize..=16,
        n in 2usize..=40,
        log_beta in -8.0f64..-4.0,
        seed in any::<u64>(),
    ) {
        let mut rng = seeded(seed);
        let pts = standard_normal(&mut rng, d, n);
        let x = standard_normal(&mut rng, d, 1);
        let beta = 10f64.powf(log_beta);
        let emp = Empirical::new(pts.as_ref()).unwrap();
        let dist = |i: usize| (0..d).map(|l| (x[(l, 0)] - pts[(l, i)]).powi(2)).sum::<f64>();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| dist(a).total_cmp(&dist(b)));
        prop_assume!(dist(order[1]) - dist(order[0]) > 1700.0 * beta * beta + 1e-12);
        let m = emp.posterior_mean(x.as_ref(), NoiseLevel::new(1.0, beta).unwrap()).unwrap();
        for l in 0..d {
            prop_assert_eq!(m[(l, 0)].to_bits(), pts[(l, order[0])].to_bits());
        }
    }
}

/// Exact ties split evenly: a point duplicated three times gets three equal
/// weights (bitwise), and ±p queried at the origin get exactly 1/2 each, at
/// every noise level down to β = 1e-8.
#[test]
fn r04_exact_ties_split_evenly() {
    for case in 0..40u64 {
        let mut rng = seeded(case);
        let d = 1 + case as usize % 9;
        let p = standard_normal(&mut rng, d, 1);
        let pm = Mat::from_fn(d, 2, |i, j| if j == 0 { p[(i, 0)] } else { -p[(i, 0)] });
        let sym = Empirical::new(pm.as_ref()).unwrap();
        let origin = Mat::<f64>::zeros(d, 1);
        for &beta in &[1e-8, 1e-3, 1.0, 1e3] {
            let level = NoiseLevel::new(0.7, beta).unwrap();
            let w = sym.posterior_weights(origin.col(0), level).unwrap();
            assert_eq!(w, vec![(0, 0.5), (1, 0.5)], "case {case} beta {beta}");
            let m = sym.posterior_mean(origin.as_ref(), level).unwrap();
            assert!((0..d).all(|i| m[(i, 0)] == 0.0));
            // Triplicated point plus a far one, queried near the triplicate.
            let q = standard_normal(&mut rng, d, 1);
            let tri = Mat::from_fn(
                d,
                4,
                |i, j| if j < 3 { p[(i, 0)] } else { q[(i, 0)] + 10.0 },
            );
            let e = Empirical::new(tri.as_ref()).unwrap();
            let x = Mat::from_fn(d, 1, |i, _| 0.7 * p[(i, 0)] + 1e-3);
            let w = e.posterior_weights(x.col(0), level).unwrap();
            let wt: Vec<f64> = w.iter().filter(|(i, _)| *i < 3).map(|(_, v)| *v).collect();
            assert_eq!(wt.len(), 3);
            assert!(wt[0].to_bits() == wt[1].to_bits() && wt[1].to_bits() == wt[2].to_bits());
        }
    }
}

/// At β = 1e-8 the logits reach 1e16: no NaN, no overflow, and the weights
/// never all underflow (the largest is ≥ 1/N and they sum to 1 within Nε).
#[test]
fn r04_no_overflow_at_tiny_beta() {
    for case in 0..60u64 {
        let mut rng = seeded(100 + case);
        let (d, n) = (1 + case as usize % 30, 1 + (7 * case as usize) % 50);
        let pts = standard_normal(&mut rng, d, n);
        let scale = 10f64.powi((case % 7) as i32 - 3);
        let x = Mat::from_fn(d, 5, |i, j| scale * (i as f64 - j as f64));
        let emp = Empirical::new(pts.as_ref()).unwrap();
        for &alpha in &[1e-8, 0.5, 1.0] {
            let level = NoiseLevel::new(alpha, 1e-8).unwrap();
            let m = emp.posterior_mean(x.as_ref(), level).unwrap();
            let s = emp.score(x.as_ref(), level).unwrap();
            for j in 0..5 {
                assert!((0..d).all(|i| m[(i, j)].is_finite() && s[(i, j)].is_finite()));
                let w = emp.posterior_weights(x.col(j), level).unwrap();
                let sum: f64 = w.iter().map(|p| p.1).sum();
                let wmax = w.iter().map(|p| p.1).fold(0.0, f64::max);
                assert!((sum - 1.0).abs() <= (n as f64 + 2.0) * f64::EPSILON);
                assert!(wmax >= 1.0 / n as f64);
            }
        }
    }
}

/// A query far from the data, ‖x‖ = 1e6 ≫ α‖x^(i)‖ ≈ 0.5, with the points tied to O(β²) in
/// their distances: the GEMM logits' rounding (γ_d α‖x^(i)‖ · 2‖x‖ ≈ 1e-9, over 2β² = 2e-6)
/// would move logits by ~1e-3, so the rounding allowance must scale with ‖x‖ and send the
/// query to the exact (double-length) gaps. The posterior mean must match the double-double
/// oracle to 1e-12 (relative to max‖x^(i)‖; the crate's exact path is ~1e-15); an allowance
/// that ignores ‖x‖ takes the GEMM path and misses by ~1e-7.
#[test]
fn r04_far_query_with_tied_points_uses_exact_gaps() {
    use diffusion_lowdim::reference;
    let (d, n) = (8usize, 20usize);
    let mut g = seeded(4_040);
    let v0 = standard_normal(&mut g, d, 1);
    let nv = (0..d).map(|i| v0[(i, 0)] * v0[(i, 0)]).sum::<f64>().sqrt();
    let v: Vec<f64> = (0..d).map(|i| v0[(i, 0)] / nv).collect();
    let perp = |h: &Mat<f64>, j: usize| -> Vec<f64> {
        let c: f64 = (0..d).map(|i| h[(i, j)] * v[i]).sum();
        (0..d).map(|i| h[(i, j)] - c * v[i]).collect()
    };
    let gp = standard_normal(&mut g, d, n);
    let points = Mat::from_fn(d, n, |i, j| 0.5 * v[i] + 1e-3 * perp(&gp, j)[i]);
    let hq = standard_normal(&mut g, d, 1);
    let hp = perp(&hq, 0);
    let x: Vec<f64> = (0..d).map(|i| 1e6 * v[i] + 1e-3 * hp[i]).collect();
    let (alpha, beta) = (1.0, 1e-3);
    let model = Empirical::new(points.as_ref()).unwrap();
    let level = NoiseLevel::new(alpha, beta).unwrap();
    let xm = Mat::from_fn(d, 1, |i, _| x[i]);
    let mean = model.posterior_mean(xm.as_ref(), level).unwrap();
    let (oracle_mean, _, w) = reference::empirical_at(points.as_ref(), &x, alpha, beta);
    // The instance is a real tie: several points carry weight.
    let carried = w.iter().filter(|wi| reference::f(**wi) > 1e-3).count();
    assert!(carried >= 2, "only {carried} points carry weight");
    let got: Vec<f64> = (0..d).map(|i| mean[(i, 0)]).collect();
    let err = reference::dist(&got, &oracle_mean);
    assert!(err <= 1e-12 * 0.5, "posterior mean off by {err:e}");
    // The per-column bound B of the batch path holds: |x̂0 − exact| ≤ B·max_i‖x^(i) − x̂0‖ plus
    // the rounding of the final weighted sum (γ_{n+1}·max_i‖x^(i)‖, generously 64ε·0.6).
    let (bm, b) = model
        .posterior_mean_with_bounds(xm.as_ref(), level)
        .unwrap();
    let got: Vec<f64> = (0..d).map(|i| bm[(i, 0)]).collect();
    let err = reference::dist(&got, &oracle_mean);
    let spread = (0..n)
        .map(|j| {
            (0..d)
                .map(|i| (points[(i, j)] - got[i]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .fold(0.0, f64::max);
    let allowance = b[0] * spread + 64.0 * f64::EPSILON * 0.6;
    assert!(
        err <= allowance,
        "batch mean off by {err:e} > bound {allowance:e} (B = {:e})",
        b[0]
    );
}
