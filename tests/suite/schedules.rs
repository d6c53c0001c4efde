//! Noise schedules: analytic derivatives, domains, inverses, grids, DDPM tables.

use super::common;

use diffusion_lowdim::Error;
use diffusion_lowdim::schedule::{
    Custom, DiscreteTable, Domain, RectifiedFlow, Schedule, SubVp, Ve, VpCosine, VpLinear,
    cosine_betas, karras_sigmas, linear_betas, log_uniform_grid, scaled_linear_betas, uniform_grid,
};
use proptest::prelude::*;

fn all() -> Vec<Box<dyn Schedule>> {
    vec![
        Box::new(Ve),
        Box::new(VpLinear::score_sde()),
        Box::new(VpCosine::nichol_dhariwal()),
        Box::new(SubVp::score_sde()),
        Box::new(RectifiedFlow),
        Box::new(DiscreteTable::ddpm_linear()),
        Box::new(DiscreteTable::ddpm_scaled_linear()),
        Box::new(DiscreteTable::ddpm_cosine()),
    ]
}

/// A time strictly inside the domain at relative position `u ∈ (0, 1)`.
fn inside(s: &dyn Schedule, u: f64) -> f64 {
    let d = s.domain();
    let hi = if d.hi.is_finite() { d.hi } else { 100.0 };
    d.lo + u * (hi - d.lo)
}

/// Richardson-extrapolated central difference and its error estimate.
fn derivative(f: impl Fn(f64) -> f64, t: f64, h: f64) -> (f64, f64) {
    let d1 = (f(t + h) - f(t - h)) / (2.0 * h);
    let d2 = (f(t + h / 2.0) - f(t - h / 2.0)) / h;
    let r = (4.0 * d2 - d1) / 3.0;
    (r, (r - d2).abs())
}

proptest! {
    #![proptest_config(common::config(256))]

    /// α' and β' agree with finite differences of α and β for every built-in
    /// continuous schedule (the discrete tables are piecewise: checked inside a
    /// piece). Tolerance: 10× the Richardson error estimate plus rounding 4ε|f|/h.
    #[test]
    fn schedule_derivatives_match_finite_differences(which in 0usize..8, u in 0.02f64..0.98) {
        let s = &all()[which];
        let mut t = inside(s.as_ref(), u);
        let discrete = which >= 5;
        if discrete {
            t = t.floor() + 0.5; // middle of a piece, where the interpolant is smooth
        }
        let h = if discrete { 0.25 } else { 1e-3 * (1.0 + t.abs()) * u.min(1.0 - u) };
        let c = s.coefficients(t).unwrap();
        let a = |x: f64| s.coefficients(x).unwrap().alpha;
        let b = |x: f64| s.coefficients(x).unwrap().beta;
        let (da, ea) = derivative(a, t, h);
        let (db, eb) = derivative(b, t, h);
        let tol_a = 10.0 * ea + 4.0 * f64::EPSILON * c.alpha.abs().max(1.0) / h + 1e-12 * da.abs();
        let tol_b = 10.0 * eb + 4.0 * f64::EPSILON * c.beta.abs().max(1.0) / h + 1e-12 * db.abs();
        prop_assert!((c.dalpha - da).abs() <= tol_a, "{}: dα {} vs {} at t={}", s.name(), c.dalpha, da, t);
        prop_assert!((c.dbeta - db).abs() <= tol_b, "{}: dβ {} vs {} at t={}", s.name(), c.dbeta, db, t);
    }

    /// `time_at_sigma` inverts σ_t = β_t/α_t to near full precision.
    #[test]
    fn schedule_time_at_sigma_inverts(which in 0usize..8, u in 0.05f64..0.95) {
        let s = &all()[which];
        let t = inside(s.as_ref(), u);
        let sigma = s.coefficients(t).unwrap().sigma();
        let back = s.time_at_sigma(sigma).unwrap();
        let c = s.coefficients(back).unwrap();
        prop_assert!((c.sigma() - sigma).abs() <= 1e-12 * sigma, "{}: σ {} vs {}", s.name(), c.sigma(), sigma);
    }

    /// VP schedules preserve variance: α² + β² = 1 to rounding.
    #[test]
    fn vp_schedules_preserve_variance(which in prop_oneof![Just(1usize), Just(2), Just(5), Just(6), Just(7)], u in 0.0f64..1.0) {
        let s = &all()[which];
        let t = inside(s.as_ref(), u.max(1e-9));
        let c = s.coefficients(t).unwrap();
        prop_assert!((c.alpha * c.alpha + c.beta * c.beta - 1.0).abs() <= 8.0 * f64::EPSILON);
    }
}

/// Every schedule rejects times outside its domain (and NaN) with a typed error.
#[test]
fn schedules_reject_times_outside_domain() {
    for s in all() {
        let d = s.domain();
        for t in [
            d.lo - 1.0,
            f64::NAN,
            f64::NEG_INFINITY,
            if d.hi.is_finite() {
                d.hi + 1e-9
            } else {
                f64::INFINITY
            },
        ] {
            match s.coefficients(t) {
                Err(Error::TimeOutOfDomain { .. }) => {}
                other => panic!(
                    "{} at t = {t}: expected TimeOutOfDomain, got {other:?}",
                    s.name()
                ),
            }
        }
        if d.lo_open {
            assert!(
                matches!(s.coefficients(d.lo), Err(Error::TimeOutOfDomain { .. })),
                "{}",
                s.name()
            );
        }
        assert!(s.time_at_sigma(-1.0).is_err() && s.time_at_sigma(f64::NAN).is_err());
    }
    // VE at t = 0 has coefficients but no noise level (β = 0).
    assert!(Ve.coefficients(0.0).is_ok());
    assert!(matches!(
        Ve.level(0.0),
        Err(Error::InvalidNoiseLevel { .. })
    ));
}

/// Closed-form values: score_sde VP at t = 1, sub-VP, rectified flow, cosine end.
#[test]
fn schedules_closed_form_values() {
    let vp = VpLinear::score_sde();
    let c = vp.coefficients(1.0).unwrap();
    // log α(1) = −(20 − 0.1)/4 − 0.1/2 = −5.025
    assert!((c.alpha.ln() + 5.025).abs() < 1e-15);
    let sub = SubVp::score_sde().coefficients(1.0).unwrap();
    assert!((sub.beta - (1.0 - (-10.05f64).exp())).abs() < 1e-15);
    let rf = RectifiedFlow.coefficients(0.25).unwrap();
    assert_eq!(
        (rf.alpha, rf.beta, rf.dalpha, rf.dbeta),
        (0.75, 0.25, -1.0, 1.0)
    );
    let cos = VpCosine::nichol_dhariwal().coefficients(1.0).unwrap();
    assert!(cos.alpha < 1e-15 && (cos.beta - 1.0).abs() < 1e-15);
    assert!(VpLinear::new(1.0, 0.5).is_err() && VpCosine::new(0.0).is_err());
}

/// DDPM tables: ᾱ from betas equals the product Π(1 − β_i) computed in
/// double length; the three diffusers beta rules give their documented ends.
#[test]
fn ddpm_tables_match_products() {
    let lin = linear_betas(1000, 1e-4, 0.02).unwrap();
    assert_eq!((lin[0], lin[999]), (1e-4, 0.02));
    let sl = scaled_linear_betas(1000, 0.00085, 0.012).unwrap();
    assert!((sl[0] - 0.00085).abs() < 1e-18 && (sl[999] - 0.012).abs() < 1e-17);
    let cosb = cosine_betas(1000).unwrap();
    assert!(cosb.iter().all(|&b| b > 0.0 && b <= 0.999));
    assert_eq!(cosb[999], 0.999);
    for (betas, table) in [
        (lin.clone(), DiscreteTable::ddpm_linear()),
        (sl, DiscreteTable::ddpm_scaled_linear()),
        (cosb, DiscreteTable::ddpm_cosine()),
    ] {
        let abar = table.alphas_cumprod();
        let mut log_prod = 0.0f64;
        let mut comp = 0.0f64; // Kahan compensation
        for (n, b) in betas.iter().enumerate() {
            let y = (-b).ln_1p() - comp;
            let t = log_prod + y;
            comp = (t - log_prod) - y;
            log_prod = t;
            let expect = log_prod.exp();
            assert!(
                (abar[n] - expect).abs() <= 64.0 * f64::EPSILON * expect * (1.0 + log_prod.abs()),
                "n = {n}"
            );
        }
    }
    let from_abar =
        DiscreteTable::from_alphas_cumprod("x", &DiscreteTable::ddpm_linear().alphas_cumprod())
            .unwrap();
    let c = from_abar.coefficients(10.0).unwrap();
    let c2 = DiscreteTable::ddpm_linear().coefficients(10.0).unwrap();
    assert!((c.alpha - c2.alpha).abs() < 1e-15);
    assert!(DiscreteTable::from_alphas_cumprod("x", &[0.5, 0.6]).is_err());
    assert!(DiscreteTable::from_betas("x", &[0.5, 1.0]).is_err());
}

/// Karras grid: endpoints, monotonicity, the ρ-spacing rule; uniform and
/// log-uniform grids; invalid arguments give typed errors.
#[test]
fn grids() {
    let s = karras_sigmas(18, 0.002, 80.0, 7.0).unwrap();
    assert!((s[0] - 80.0).abs() < 1e-12 && (s[17] - 0.002).abs() < 1e-16);
    assert!(s.windows(2).all(|w| w[0] > w[1]));
    // σ_i^{1/ρ} is linear in i.
    let r: Vec<f64> = s.iter().map(|x| x.powf(1.0 / 7.0)).collect();
    for i in 1..17 {
        assert!(((r[i + 1] - r[i]) - (r[i] - r[i - 1])).abs() < 1e-14);
    }
    let u = uniform_grid(5, 1.0, 0.0).unwrap();
    assert_eq!(u, vec![1.0, 0.75, 0.5, 0.25, 0.0]);
    let l = log_uniform_grid(3, 100.0, 1.0).unwrap();
    assert_eq!((l[0], l[2]), (100.0, 1.0));
    assert!((l[1] - 10.0).abs() < 1e-13);
    assert!(karras_sigmas(1, 0.002, 80.0, 7.0).is_err());
    assert!(karras_sigmas(10, 80.0, 0.002, 7.0).is_err());
    assert!(karras_sigmas(10, 0.0, 80.0, 7.0).is_err());
    assert!(karras_sigmas(10, 0.002, 80.0, -1.0).is_err());
    assert!(uniform_grid(3, 0.0, 1.0).is_err());
    assert!(log_uniform_grid(3, 1.0, 0.0).is_err());
}

/// A user-supplied schedule: derivatives checked by `derivative_mismatch`,
/// invalid outputs reported as typed errors.
#[test]
fn custom_schedule() {
    let h = std::f64::consts::FRAC_PI_2;
    let s = Custom::new(
        "trig",
        Domain::left_open(0.0, 1.0),
        move |t| (h * t).cos(),
        move |t| (h * t).sin(),
        move |t| -h * (h * t).sin(),
        move |t| h * (h * t).cos(),
    );
    assert!(s.derivative_mismatch(0.4).unwrap() < 1e-9);
    let wrong = Custom::new(
        "wrong",
        Domain::closed(0.0, 1.0),
        |_| 1.0,
        |t| t,
        |_| 0.0,
        |_| 2.0,
    );
    assert!(wrong.derivative_mismatch(0.5).unwrap() > 0.4);
    let bad = Custom::new(
        "bad",
        Domain::closed(0.0, 1.0),
        |_| f64::NAN,
        |t| t,
        |_| 0.0,
        |_| 1.0,
    );
    assert!(matches!(
        bad.coefficients(0.5),
        Err(Error::InvalidUserFunction { .. })
    ));
    let neg = Custom::new(
        "neg",
        Domain::closed(0.0, 1.0),
        |_| 1.0,
        |_| -1.0,
        |_| 0.0,
        |_| 1.0,
    );
    assert!(matches!(
        neg.coefficients(0.5),
        Err(Error::InvalidUserFunction { .. })
    ));
}

// Mutation-testing kills (docs/mutation.md): validation boundaries and interpolation that no
// theorem check reaches.

#[test]
fn schedule_names_are_the_documented_ones() {
    let names = [
        Ve.name(),
        RectifiedFlow.name(),
        VpLinear::score_sde().name(),
        SubVp::score_sde().name(),
        VpCosine::nichol_dhariwal().name(),
    ];
    assert_eq!(
        names,
        ["ve", "rectified-flow", "vp-linear", "sub-vp", "vp-cosine"]
    );
}

#[test]
fn beta_tables_reject_rates_outside_the_open_unit_interval() {
    assert!(
        linear_betas(10, 1e-4, 1.5).is_err(),
        "beta_end > 1 accepted"
    );
    assert!(
        linear_betas(10, -1e-4, 0.02).is_err(),
        "beta_start < 0 accepted"
    );
    assert!(linear_betas(10, 1e-4, 0.02).is_ok());
    assert!(
        DiscreteTable::from_betas("zero", &[0.0, 0.5]).is_err(),
        "beta = 0 accepted"
    );
    assert!(
        DiscreteTable::from_betas("one", &[0.5, 1.0]).is_err(),
        "beta = 1 accepted"
    );
    // Two steps is the smallest table (n < 2 is the documented error).
    assert_eq!(cosine_betas(2).unwrap().len(), 2);
    assert!(cosine_betas(1).is_err());
}

/// Between grid points log ᾱ is linear: at t = n + 1/2, α = (ᾱ_n ᾱ_{n+1})^{1/4}.
#[test]
fn discrete_table_interpolates_log_alpha_bar_linearly() {
    let betas = linear_betas(50, 1e-3, 0.2).unwrap();
    let table = DiscreteTable::from_betas("lin", &betas).unwrap();
    let ab = table.alphas_cumprod();
    for n in [0usize, 7, 48] {
        let c = table.coefficients(n as f64 + 0.5).unwrap();
        let want = (ab[n] * ab[n + 1]).powf(0.25);
        assert!(
            (c.alpha - want).abs() <= 1e-14 * want,
            "n = {n}: {} vs {want}",
            c.alpha
        );
    }
    // Grid points, the last one included, give α = √ᾱ_n.
    for n in [0usize, 1, 25, 48, 49] {
        let c = table.coefficients(n as f64).unwrap();
        let want = ab[n].sqrt();
        assert!(
            (c.alpha - want).abs() <= 4e-16 * want,
            "t = {n}: {} vs {want}",
            c.alpha
        );
    }
}

/// The end of the sub-VP domain is a valid time: some σ within a few hundred ulps of σ(1)
/// maps back to exactly t = 1, and that is `Ok`, not an out-of-domain error.
#[test]
fn sub_vp_time_at_the_end_of_the_domain() {
    let s = SubVp::score_sde();
    let c = s.coefficients(1.0).unwrap();
    let sigma = c.beta / c.alpha;
    let exact_end = (-400i64..=400)
        .map(|k| f64::from_bits((sigma.to_bits() as i64 + k) as u64))
        .filter_map(|x| s.time_at_sigma(x).ok())
        .any(|t| t == 1.0);
    assert!(
        exact_end,
        "no sigma near sigma(1) = {sigma} maps to t = 1 exactly"
    );
}
