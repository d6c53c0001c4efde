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

/// An integrand with a closed-form integral over $[t_0, t_1]$, the reference computed from
/// differences (no cancellation between two antiderivatives).
#[derive(Debug, Clone, Copy)]
enum TestIntegrand {
    /// $a/t^2 + c/(1+t^2)^2$: the shape of R05's VE integrands with $\lambda = 1/\beta^2$ or the
    /// SNR (a pole at $t = 0$, a distance $t_0$ from the interval, and poles at $\pm i$).
    PoleAtZero { a: f64, c: f64, t0: f64, t1: f64 },
    /// $w/(t + \delta) + 1$ on $[0, 1]$: a pole just left of the interval.
    PoleNearEnd { w: f64, delta: f64 },
    /// $e^{kt}$ on $[0, 1]$.
    Exponential { k: f64 },
    /// $w/\sqrt t + 1$ on $[t_0, 1]$: a branch point at $0$.
    BranchPoint { w: f64, t0: f64 },
}

impl TestIntegrand {
    fn limits(self) -> (f64, f64) {
        match self {
            Self::PoleAtZero { t0, t1, .. } => (t0, t1),
            Self::PoleNearEnd { .. } | Self::Exponential { .. } => (0.0, 1.0),
            Self::BranchPoint { t0, .. } => (t0, 1.0),
        }
    }

    fn at(self, t: f64) -> f64 {
        match self {
            Self::PoleAtZero { a, c, .. } => {
                let s = 1.0 + t * t;
                a / (t * t) + c / (s * s)
            }
            Self::PoleNearEnd { w, delta } => w / (t + delta) + 1.0,
            Self::Exponential { k } => (k * t).exp(),
            Self::BranchPoint { w, .. } => w / t.sqrt() + 1.0,
        }
    }

    fn integral(self) -> f64 {
        match self {
            Self::PoleAtZero { a, c, t0, t1 } => {
                // ∫ 1/(1+t²)² = t/(2(1+t²)) + atan(t)/2, both differences formed directly.
                let h = t1 - t0;
                let datan = (h / (1.0 + t0 * t1)).atan();
                let drat = h * (1.0 - t0 * t1) / ((1.0 + t0 * t0) * (1.0 + t1 * t1));
                a * h / (t0 * t1) + c * 0.5 * (drat + datan)
            }
            Self::PoleNearEnd { w, delta } => w * (1.0 / delta).ln_1p() + 1.0,
            Self::Exponential { k } => k.exp_m1() / k,
            Self::BranchPoint { w, t0 } => 2.0 * w * (1.0 - t0.sqrt()) + (1.0 - t0),
        }
    }
}

fn test_integrand() -> impl Strategy<Value = TestIntegrand> {
    prop_oneof![
        (-16.0f64..0.0, 1.0f64..50.0, -3.0f64..0.0, -2.0f64..1.9).prop_map(|(la, c, lt0, lh)| {
            let t0 = 10f64.powf(lt0);
            TestIntegrand::PoleAtZero {
                a: 10f64.powf(la),
                c,
                t0,
                t1: t0 + 10f64.powf(lh),
            }
        }),
        (-12.0f64..0.0, -4.0f64..0.0).prop_map(|(lw, ld)| TestIntegrand::PoleNearEnd {
            w: 10f64.powf(lw),
            delta: 10f64.powf(ld)
        }),
        (-30.0f64..30.0)
            .prop_filter("k ≠ 0", |k| *k != 0.0)
            .prop_map(|k| TestIntegrand::Exponential { k }),
        (-12.0f64..0.0, -8.0f64..-1.0).prop_map(|(lw, lt0)| TestIntegrand::BranchPoint {
            w: 10f64.powf(lw),
            t0: 10f64.powf(lt0)
        }),
    ]
}

proptest! {
    #![proptest_config(common::config(4000))]
    /// The adaptive quadrature's stated error is at least its actual error, for integrands with
    /// singularities near the interval (the shape of the loss integrands) and tolerances
    /// 1e-13 … 1e-6. The previous scheme (one initial panel, the bare |coarse − fine|) fails it;
    /// the committed regression case is its shrunk counterexample.
    #[test]
    fn r05_quadrature_stated_error_bounds_the_actual_error(
        f in test_integrand(),
        log_tol in -13.0f64..-6.0,
    ) {
        use diffusion_lowdim::reduction::quadrature::integrate;
        let (a, b) = f.limits();
        let q = integrate(|t| Ok(f.at(t)), a, b, 10f64.powf(log_tol), 2048).unwrap();
        prop_assume!(q.converged);
        let actual = (q.value - f.integral()).abs();
        prop_assert!(actual <= q.error, "actual {actual:e} > stated {:e} ({} panels)", q.error, q.panels);
    }
}

/// `check --only R05 --cases 2000 --seed 2` failed its instance 1545 (VE, λ = SNR,
/// t₀ = 1.45e-3): the quadrature stated an error of 8.6e-12 and was off by 1.8e-11. With the
/// graded panels it is off by 4.6e-14 and the instance passes.
#[test]
fn r05_seed_2_instance_1545_passes() {
    let inst = Instance::sample(&mut diffusion_lowdim::rng::stream(2, "R05", 1545));
    assert!((inst.t0 - 1.449e-3).abs() < 1e-6, "{inst:?}");
    common::check_all(&inst.check().unwrap()).unwrap();
}
