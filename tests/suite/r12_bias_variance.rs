//! R12: the bias–variance identity.

use super::common;

use diffusion_lowdim::flow::{FlowMap, GaussianFlow};
use diffusion_lowdim::metric::{BiasVariance, Pfd};
use diffusion_lowdim::theorem::r12::Instance;
use diffusion_lowdim::{Error, Gaussian, NoiseLevel, rng};
use faer::Mat;
use proptest::prelude::*;

prop_compose! {
    fn instance()(
        components in 1usize..=2,
        r in 1usize..=4,
        extra in 0usize..=6,
        sets in 1usize..=6,
        pf in 0.0..1.0f64,
        ff in prop::option::of(0.0..1.0f64),
        seed in any::<u64>(),
    ) -> Instance {
        let d = components * r + extra;
        Instance {
            d, r, components, sets,
            points: 1 + ((2 * r - 1) as f64 * pf).round() as usize,
            features: ff.map_or(0, |f| 1 + ((d - 1) as f64 * f).round() as usize),
            seed,
        }
    }
}

proptest! {
    #![proptest_config(common::config(48))]
    #[test]
    fn r12_check_on_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }

    /// The identity on arbitrary features, including huge and tiny magnitudes.
    #[test]
    fn r12_identity_on_arbitrary_features(
        m in 1usize..=8, k in 1usize..=5, n in 1usize..=40, log_scale in -150.0..150.0f64, seed in any::<u64>()
    ) {
        let mut g = rng::seeded(seed);
        let s = 10f64.powf(log_scale);
        let truth = rng::standard_normal(&mut g, k, n) * faer::Scale(s);
        let fits: Vec<Mat<f64>> = (0..m).map(|_| rng::standard_normal(&mut g, k, n) * faer::Scale(s)).collect();
        let bv = BiasVariance::from_features(&fits, &truth).unwrap();
        prop_assert!(bv.residual.abs() <= bv.residual_bound, "{bv:?}");
        prop_assert!(bv.bias_sq <= bv.mean_gen_sq + bv.residual_bound);
    }
}

/// A hand-computed case: truth 0, fits ±1 and 3 at one noise.
#[test]
fn r12_hand_computed_case() {
    let truth = faer::mat![[0.0]];
    let fits = [faer::mat![[-1.0]], faer::mat![[1.0]], faer::mat![[3.0]]];
    let bv = BiasVariance::from_features(&fits, &truth).unwrap();
    // E_gen² = 1, 1, 9 (mean 11/3); mean map 1: bias² = 1, var = (4 + 0 + 4)/3 = 8/3.
    assert!((bv.mean_gen_sq - 11.0 / 3.0).abs() < 1e-15);
    assert_eq!(bv.bias_sq, 1.0);
    assert!((bv.variance - 8.0 / 3.0).abs() < 1e-15);
}

#[test]
fn r12_hostile_inputs_give_typed_errors() {
    let truth = faer::mat![[0.0, 1.0]];
    assert!(matches!(
        BiasVariance::from_features(&[], &truth),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        BiasVariance::from_features(&[faer::mat![[0.0]]], &truth),
        Err(Error::DimensionMismatch { .. })
    ));
    let g2 = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref()).unwrap();
    let g3 = Gaussian::subspace(faer::mat![[1.0], [0.0], [0.0]].as_ref()).unwrap();
    let l = NoiseLevel::ve(1.0).unwrap();
    let (f2, f3) = (
        GaussianFlow::to_clean(&g2, l),
        GaussianFlow::to_clean(&g3, l),
    );
    let pfd = Pfd::new(1.0, 4).unwrap();
    let noises = pfd.noises(2, &mut rng::seeded(0));
    let learned: [&dyn FlowMap; 1] = [&f3];
    assert!(matches!(
        BiasVariance::from_flows(&pfd, &learned, &f2, noises.as_ref()),
        Err(Error::DimensionMismatch { .. })
    ));
}

/// The stated rounding bound is the documented one,
/// $\gamma_{kM+m+4}(\overline{E^2_{\mathrm{gen}}} + E^2_{\mathrm{bias}} + E_{\mathrm{var}}) + 2\gamma_mA\,E_{\mathrm{bias}}$
/// with $A = \|\frac1m\sum_j|F_j|\|_M$, recomputed here from the features (γ_n in the crate's
/// conservative convention of `prec::gamma`, 2nε/(1 − nε)):
/// a bound that grows (or shrinks) silently would loosen (or break) R12's `identity` facet.
#[test]
fn r12_residual_bound_is_the_documented_one() {
    let mut g = rng::seeded(1212);
    let (m, k, n) = (5usize, 3usize, 7usize);
    let truth = rng::standard_normal(&mut g, k, n);
    let fits: Vec<Mat<f64>> = (0..m)
        .map(|j| {
            let e = rng::standard_normal(&mut g, k, n);
            Mat::from_fn(k, n, |a, b| {
                truth[(a, b)] + 0.3 * e[(a, b)] + 0.1 * j as f64
            })
        })
        .collect();
    let bv = BiasVariance::from_features(&fits, &truth).unwrap();
    let gamma = |p: usize| 2.0 * p as f64 * f64::EPSILON / (1.0 - p as f64 * f64::EPSILON);
    let mut a2 = 0.0;
    for a in 0..k {
        for b in 0..n {
            let v: f64 = fits.iter().map(|f| f[(a, b)].abs()).sum::<f64>() / m as f64;
            a2 += v * v;
        }
    }
    let big_a = (a2 / n as f64).sqrt();
    let expected = gamma(k * n + m + 4) * (bv.mean_gen_sq + bv.bias_sq + bv.variance)
        + 2.0 * gamma(m) * big_a * bv.bias_sq.sqrt();
    assert!(
        (bv.residual_bound - expected).abs() <= 1e-12 * expected,
        "{} vs {expected}",
        bv.residual_bound
    );
}
