//! R16: Shallow Diffuse, Theorem 1.

use super::common;

use diffusion_lowdim::metric::{
    binomial_lower_tail, binomial_two_sided_p, binomial_upper_tail, perturbation_test,
    shallow_diffuse_h, sphere_projection_tail,
};
use diffusion_lowdim::theorem::r16::Instance;
use diffusion_lowdim::theorem::r16::{SAMPLES, TEST_LEVEL};
use diffusion_lowdim::{Error, ExactModel, Gaussian, Molrg, NoiseLevel, rng};
use proptest::prelude::*;

prop_compose! {
    fn instance()(
        log_d in 0.48..3.32f64,
        rf in 0.0..1.0f64,
        log_alpha in -2.0..0.0f64,
        log_beta in -3.0..2.0f64,
        log_lambda in -3.0..2.0f64,
        seed in any::<u64>(),
    ) -> Instance {
        let d = (10f64.powf(log_d).round() as usize).clamp(3, 2048);
        Instance {
            d, r: 1 + ((d.min(32) - 1) as f64 * rf).round() as usize,
            alpha: 10f64.powf(log_alpha), beta: 10f64.powf(log_beta), lambda: 10f64.powf(log_lambda), seed,
        }
    }
}

proptest! {
    #![proptest_config(common::config(48))]
    #[test]
    fn r16_check_on_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }
}

/// The `sphere_law` facet's operating characteristics, computed exactly: its two-sided test
/// of $\mathrm{Bin}(400, \frac12)$ at level $10^{-6}$ rejects with probability $\le 10^{-6}$ under the null
/// (false-failure rate) and with probability $\ge 0.99$ when the true rate above the median
/// threshold is $\le 0.32$ or $\ge 0.68$ (power).
#[test]
fn r16_sphere_law_size_and_power() {
    let m = SAMPLES;
    let rejects = |k: usize| binomial_two_sided_p(k, m, 0.5).unwrap() < TEST_LEVEL;
    let lo = (0..=m / 2).filter(|&k| rejects(k)).max().unwrap();
    let hi = (m / 2..=m).filter(|&k| rejects(k)).min().unwrap();
    assert!((lo + 1..hi).all(|k| !rejects(k)));
    let reject_prob =
        |p: f64| binomial_lower_tail(lo, m, p).unwrap() + binomial_upper_tail(hi, m, p).unwrap();
    let size = reject_prob(0.5);
    let (p32, p68) = (reject_prob(0.32), reject_prob(0.68));
    println!(
        "reject k <= {lo} or k >= {hi}; size {size:.3e}; power {p32:.4} at 0.32, {p68:.4} at 0.68"
    );
    assert!(size <= TEST_LEVEL);
    assert!(p32 >= 0.99 && p68 >= 0.99);
}

#[test]
fn r16_h_and_tail_values() {
    // h(r)² = r/d + √(18π³ log(2r)/(d − 2)).
    let h = shallow_diffuse_h(1, 3).unwrap();
    let want = (1.0 / 3.0 + (18.0 * std::f64::consts::PI.powi(3) * 2f64.ln()).sqrt()).sqrt();
    assert!((h - want).abs() <= 4.0 * f64::EPSILON * want);
    // The bound is informative (h < 1) only for large d.
    assert!(shallow_diffuse_h(4, 1000).unwrap() > 1.0);
    assert!(shallow_diffuse_h(4, 4096).unwrap() < 1.0);
    // d = 3, r = 2: ‖UᵀΔ‖² ~ Beta(1, 1/2), P(‖UᵀΔ‖² > c²) = √(1 − c²).
    let c: f64 = 0.6;
    assert!((sphere_projection_tail(2, 3, c).unwrap() - (1.0 - c * c).sqrt()).abs() < 1e-12);
    assert_eq!(sphere_projection_tail(3, 3, 0.5).unwrap(), 1.0);
    assert_eq!(sphere_projection_tail(3, 3, 1.0).unwrap(), 0.0);
}

/// Statistical: the K = 1 model at d = 64, r = 8 with a threshold at which violations are
/// common (c = 0.4, exact probability from the Beta law): the count over 4000
/// perturbations passes a two-sided exact binomial test at level 1e-6 (false-failure
/// rate ≤ 1e-6; fixed seed).
#[test]
fn r16_violation_count_matches_beta_law() {
    let (d, r) = (64, 8);
    let mut g = rng::seeded(40);
    let u = diffusion_lowdim::linalg::random_orthonormal(&mut g, d, r).unwrap();
    let model = Gaussian::subspace(u.as_ref()).unwrap();
    let level = NoiseLevel::new(0.9, 0.5).unwrap();
    let x: Vec<f64> = rng::standard_normal_vec(&mut g, d);
    let lambda = 0.3;
    let test = perturbation_test(
        &model,
        &x,
        level,
        lambda,
        level.shrinkage(),
        r,
        4000,
        0.95,
        &mut g,
    )
    .unwrap();
    let c = 0.4;
    let k = test
        .changes
        .iter()
        .filter(|&&v| v > lambda * level.shrinkage() * c)
        .count();
    let p = sphere_projection_tail(r, d, c).unwrap();
    println!("K = 1: {k}/4000 above c = {c}; exact probability {p:.4}");
    assert!(binomial_two_sided_p(k, 4000, p).unwrap() >= 1e-6);
    assert_eq!(test.violations.successes, 0); // h(8) > 1 at d = 64: the theorem's event is certain
}

/// MoLRG: only approximately linear, so Theorem 1 does not apply. The violation rate with
/// the local Lipschitz constant L = ‖J(x)‖₂ is reported here, not asserted; what is
/// asserted is the report's own consistency (the count is the number of changes above
/// the bound, and the interval contains the rate).
#[test]
fn r16_molrg_violation_rate_is_reported() {
    let (d, r) = (2048, 4);
    let mut g = rng::seeded(41);
    let basis = diffusion_lowdim::linalg::random_orthonormal(&mut g, d, 2 * r).unwrap();
    let (u1, u2) = (basis.as_ref().subcols(0, r), basis.as_ref().subcols(r, r));
    let model = Molrg::uniform(&[u1, u2]).unwrap();
    for beta in [0.1, 0.5, 1.0] {
        let level = NoiseLevel::new(1.0, beta).unwrap();
        let x0 = model.sample_x0(&mut g, 1);
        let x: Vec<f64> = (0..d)
            .map(|i| x0[(i, 0)] + beta * rng::standard_normal_vec(&mut g, 1)[0])
            .collect();
        let xm = faer::Mat::from_fn(d, 1, |i, _| x[i]);
        // J = J·BBᵀ with B = [U₁ U₂] (its range lies in span B, R14), so ‖J‖₂ = ‖JB‖₂.
        let jb = diffusion_lowdim::linalg::mul(
            model.jacobian(xm.col(0), level).unwrap().as_ref(),
            basis.as_ref(),
        );
        let lip = diffusion_lowdim::linalg::singular_values(jb.as_ref()).unwrap()[0];
        let lambda = 1.0;
        let test =
            perturbation_test(&model, &x, level, lambda, lip, 2 * r, 400, 0.95, &mut g).unwrap();
        let v = &test.violations;
        println!(
            "MoLRG d = {d}, r_k = {r}, beta = {beta}: h = {:.3}, violation rate {}/{} (95% CI [{:.4}, {:.4}])",
            shallow_diffuse_h(2 * r, d).unwrap(),
            v.successes,
            v.trials,
            v.interval.0,
            v.interval.1
        );
        assert_eq!(
            v.successes,
            test.changes.iter().filter(|&&c| c > test.bound).count()
        );
        assert!(v.interval.0 <= v.estimate && v.estimate <= v.interval.1);
    }
}

#[test]
fn r16_hostile_inputs_give_typed_errors() {
    assert!(matches!(
        shallow_diffuse_h(1, 2),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        shallow_diffuse_h(0, 10),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        sphere_projection_tail(4, 3, 0.5),
        Err(Error::InvalidCount { .. })
    ));
    let g = Gaussian::subspace(faer::mat![[1.0], [0.0], [0.0]].as_ref()).unwrap();
    let l = NoiseLevel::ve(1.0).unwrap();
    let mut rng = rng::seeded(0);
    assert!(matches!(
        perturbation_test(&g, &[0.0; 2], l, 1.0, 1.0, 1, 10, 0.95, &mut rng),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        perturbation_test(&g, &[0.0; 3], l, -1.0, 1.0, 1, 10, 0.95, &mut rng),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        perturbation_test(&g, &[0.0; 3], l, 1.0, 1.0, 1, 0, 0.95, &mut rng),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        perturbation_test(
            &g,
            &[f64::NAN, 0.0, 0.0],
            l,
            1.0,
            1.0,
            1,
            10,
            0.95,
            &mut rng
        ),
        Err(Error::NonFinite { .. })
    ));
}
