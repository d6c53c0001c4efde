//! R05 (Theorem 1): the K = 1 DAE loss equals −C‖UᵀX‖² + D, three ways.

use super::common;

use diffusion_lowdim::Error;
use diffusion_lowdim::reduction::quadrature::composite_rule;
use diffusion_lowdim::reduction::{
    LossCoefficients, Weight, dae_loss_closed_form, dae_loss_monte_carlo, dae_loss_quadrature,
    dae_loss_rule,
};
use diffusion_lowdim::rng::seeded;
use diffusion_lowdim::schedule::Ve;
use diffusion_lowdim::theorem::instance::ScheduleKind;
use diffusion_lowdim::theorem::r05::{Instance, WeightKind};
use proptest::prelude::*;

prop_compose! {
    /// Readable instances: sizes, schedule, weight, times, scales and a seed.
    fn instance()(
        d in 1usize..=16,
        r_frac in 0.0f64..1.0,
        n in 1usize..=8,
        schedule in prop_oneof![
            Just(ScheduleKind::Ve), Just(ScheduleKind::VpLinear), Just(ScheduleKind::VpCosine),
            Just(ScheduleKind::SubVp), Just(ScheduleKind::RectifiedFlow)],
        weight in prop_oneof![Just(WeightKind::Unit), Just(WeightKind::InverseNoiseVariance), Just(WeightKind::Snr)],
        log_t0 in -3.0f64..-0.5,
        span in 0.02f64..1.0,
        log_scale in -3.0f64..3.0,
        off_span in prop_oneof![Just(0.0), Just(1e-8), Just(1.0)],
        seed in any::<u64>(),
    ) -> Instance {
        let r = 1 + ((r_frac * d as f64) as usize).min(d - 1);
        let t0 = 10f64.powf(log_t0);
        let t1 = match schedule {
            ScheduleKind::Ve => t0 + 10f64.powf(4.0 * span - 2.0),
            _ => t0 + (0.999 - t0) * span,
        };
        Instance { d, r, n, schedule, weight, t0, t1, scale: 10f64.powf(log_scale), off_span, seed }
    }
}

proptest! {
    #![proptest_config(common::config(64))]
    /// Every facet of R05 on random instances, including data exactly in span U
    /// (the a_t → 1 cancellation case) and scales from 1e-3 to 1e3.
    #[test]
    fn r05_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }
}

/// The analytic VE coefficients agree with quadrature to its stated error, and
/// C + C' = L holds to rounding.
#[test]
fn r05_analytic_coefficients_match_quadrature() {
    for w in [Weight::Unit, Weight::InverseNoiseVariance] {
        for (t0, t1) in [(0.002, 80.0), (0.5, 0.51), (1e-3, 1.0)] {
            let a = LossCoefficients::ve_analytic(&w, t0, t1).unwrap();
            let q = LossCoefficients::quadrature(&Ve, &w, t0, t1).unwrap();
            for (va, vq, ea, eq) in [
                (
                    a.weight_integral,
                    q.weight_integral,
                    a.errors[0],
                    q.errors[0],
                ),
                (a.c, q.c, a.errors[1], q.errors[1]),
                (a.c_complement, q.c_complement, a.errors[2], q.errors[2]),
                (a.noise, q.noise, a.errors[3], q.errors[3]),
            ] {
                assert!(
                    (va - vq).abs() <= ea + eq,
                    "{w:?} [{t0}, {t1}]: {va} vs {vq}"
                );
            }
            assert!((a.c + a.c_complement - a.weight_integral).abs() <= 1e-14 * a.weight_integral);
            assert!(a.c > 0.0);
        }
    }
}

/// Monte Carlo standard error is honest: over 400 independent seeds the
/// standardized deviations (MC − exact rule)/SE have a sample variance near 1.
/// Statistical test: the tolerance [0.6, 1.6] on the variance of 400 roughly
/// normal ratios is met except with probability < 1e-7 (χ²₃₉₉ tails), given
/// that the per-run SE estimate is itself based on 16 nodes × 8 draws.
#[test]
fn r05_monte_carlo_standard_error_is_calibrated() {
    let u = faer::mat![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
    let x = faer::mat![[1.0, -0.5], [0.3, 2.0], [0.7, 0.1]];
    let rule = composite_rule(0.1, 2.0, 1).unwrap();
    let exact = dae_loss_rule(u.as_ref(), x.as_ref(), &Ve, &Weight::Unit, &rule).unwrap();
    let mut z2 = 0.0;
    let runs = 400;
    for s in 0..runs {
        let mut g = seeded(1000 + s);
        let mc = dae_loss_monte_carlo(u.as_ref(), x.as_ref(), &Ve, &Weight::Unit, &rule, 8, &mut g)
            .unwrap();
        let z = (mc.value - exact) / mc.std_error;
        z2 += z * z;
    }
    let var = z2 / runs as f64;
    assert!(
        (0.6..=1.6).contains(&var),
        "variance of standardized errors {var}"
    );
}

/// Hostile inputs give typed errors, never panics.
#[test]
fn r05_hostile_inputs() {
    let u = faer::mat![[1.0], [0.0]];
    let k = LossCoefficients::ve_analytic(&Weight::Unit, 0.0, 1.0).unwrap();
    let empty = faer::Mat::<f64>::zeros(2, 0);
    assert!(matches!(
        dae_loss_closed_form(u.as_ref(), empty.as_ref(), &k),
        Err(Error::Empty { .. })
    ));
    let nan = faer::mat![[f64::NAN], [0.0]];
    assert!(matches!(
        dae_loss_closed_form(u.as_ref(), nan.as_ref(), &k),
        Err(Error::NonFinite { .. })
    ));
    let x3 = faer::mat![[1.0], [0.0], [0.0]];
    assert!(matches!(
        dae_loss_closed_form(u.as_ref(), x3.as_ref(), &k),
        Err(Error::DimensionMismatch { .. })
    ));
    let skew = faer::mat![[1.0], [1.0]];
    let x = faer::mat![[1.0], [2.0]];
    assert!(matches!(
        dae_loss_closed_form(skew.as_ref(), x.as_ref(), &k),
        Err(Error::NotOrthonormal { .. })
    ));
    let wide = faer::mat![[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
    assert!(matches!(
        dae_loss_closed_form(wide.as_ref(), x.as_ref(), &k),
        Err(Error::InvalidCount { .. })
    ));
    let rank0 = faer::Mat::<f64>::zeros(2, 0);
    assert!(matches!(
        dae_loss_closed_form(rank0.as_ref(), x.as_ref(), &k),
        Err(Error::Empty { .. })
    ));
    assert!(LossCoefficients::ve_analytic(&Weight::Snr, 0.1, 1.0).is_err());
    assert!(LossCoefficients::ve_analytic(&Weight::InverseNoiseVariance, 0.0, 1.0).is_err());
    assert!(LossCoefficients::ve_analytic(&Weight::Unit, 1.0, 0.5).is_err());
    assert!(dae_loss_quadrature(u.as_ref(), x.as_ref(), &Ve, &Weight::Unit, -1.0, 1.0).is_err());
    let bad = Weight::Custom(|_, _| -1.0);
    assert!(matches!(
        dae_loss_quadrature(u.as_ref(), x.as_ref(), &Ve, &bad, 0.1, 1.0),
        Err(Error::InvalidUserFunction { .. })
    ));
}

/// The quadrature refuses an infinite or NaN limit at either end (one finite limit is not
/// enough), naming the limit, before evaluating the integrand.
#[test]
fn r05_quadrature_needs_two_finite_limits() {
    use diffusion_lowdim::reduction::quadrature::integrate;
    for (a, b) in [
        (0.0, f64::INFINITY),
        (f64::NEG_INFINITY, 1.0),
        (0.0, f64::NAN),
        (f64::NAN, f64::NAN),
    ] {
        let mut calls = 0;
        let r = integrate(
            |x| {
                calls += 1;
                Ok((-x * x).exp())
            },
            a,
            b,
            1e-10,
            64,
        );
        assert!(
            matches!(
                r,
                Err(diffusion_lowdim::Error::InvalidParameter {
                    name: "integration limit",
                    ..
                })
            ),
            "[{a}, {b}]: {r:?}"
        );
        assert_eq!(calls, 0);
        assert!(composite_rule(a, b, 4).is_err());
    }
}
