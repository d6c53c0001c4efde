//! R11: the probability flow distance.

mod common;

use diffusion_lowdim::flow::{FlowMap, GaussianFlow, Heun, Sampler, TimeGrid};
use diffusion_lowdim::metric::{
    Pfd, PfdEstimate, binomial_lower_tail, binomial_upper_tail, generalization_error,
    memorization_error, pfd_gaussians, pfd_subspaces,
};
use diffusion_lowdim::schedule::Ve;
use diffusion_lowdim::theorem::r11::Instance;
use diffusion_lowdim::{Empirical, Error, ExactModel, Gaussian, NoiseLevel, rng};
use proptest::prelude::*;

prop_compose! {
    fn instance()(
        d in 1usize..=8,
        r1f in 0.0..1.0f64,
        r2f in 0.0..1.0f64,
        subspace in any::<bool>(),
        ff in prop::option::of(0.0..1.0f64),
        log_t in -0.3..1.9f64,
        seed in any::<u64>(),
    ) -> Instance {
        let rank = |f: f64| 1 + ((d - 1) as f64 * f).round() as usize;
        Instance { d, r1: rank(r1f), r2: rank(r2f), subspace, features: ff.map_or(0, rank), t_max: 10f64.powf(log_t), seed }
    }
}

proptest! {
    #![proptest_config(common::config(24))]
    #[test]
    fn r11_check_on_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }
}

/// Two orthogonal lines in R²: PFD = (T/√(1+T²))·√2, by both closed forms.
#[test]
fn r11_closed_forms_for_orthogonal_lines() {
    let (u1, u2) = (faer::mat![[1.0], [0.0]], faer::mat![[0.0], [1.0]]);
    for t in [0.5f64, 1.0, 80.0] {
        let expected = t / (1.0 + t * t).sqrt() * 2f64.sqrt();
        let sub = pfd_subspaces(u1.as_ref(), u2.as_ref(), t).unwrap();
        let g1 = Gaussian::subspace(u1.as_ref()).unwrap();
        let g2 = Gaussian::subspace(u2.as_ref()).unwrap();
        let general = pfd_gaussians(&g1, &g2, t, None).unwrap();
        assert!((sub - expected).abs() <= 4.0 * f64::EPSILON * expected);
        assert!((general - expected).abs() <= 8.0 * f64::EPSILON * expected);
    }
}

/// Coverage of the 95% interval over 2000 independent repetitions (M = 256 noises each)
/// for two rank-2 subspaces of R⁵ at T = 80. The CLT interval's coverage is 0.95 up to an
/// O(1/M) Edgeworth term (≤ 0.0085 here, see the R11 module docs). Statistical test, two
/// one-sided binomial tests at level 1e-6 each: coverage not below 0.92 and not above
/// 0.97. False-failure rate ≤ 2e-6 (fixed seed: the outcome is deterministic).
#[test]
fn r11_interval_covers_closed_form_at_nominal_rate() {
    let mut g = rng::seeded(20);
    let u1 = diffusion_lowdim::linalg::random_orthonormal(&mut g, 5, 2).unwrap();
    let u2 = diffusion_lowdim::linalg::random_orthonormal(&mut g, 5, 2).unwrap();
    let t = 80.0;
    let (g1, g2) = (
        Gaussian::subspace(u1.as_ref()).unwrap(),
        Gaussian::subspace(u2.as_ref()).unwrap(),
    );
    let from = NoiseLevel::ve(t).unwrap();
    let (f1, f2) = (
        GaussianFlow::to_clean(&g1, from),
        GaussianFlow::to_clean(&g2, from),
    );
    let exact = pfd_subspaces(u1.as_ref(), u2.as_ref(), t).unwrap();
    let pfd = Pfd::new(t, 256).unwrap();
    let reps = 2000;
    let mut covered = 0;
    for _ in 0..reps {
        let e = pfd.estimate(&f1, &f2, &mut g).unwrap();
        if e.interval.0 <= exact && exact <= e.interval.1 {
            covered += 1;
        }
    }
    println!("PFD 95% interval coverage: {covered}/{reps}");
    assert!(binomial_lower_tail(covered, reps, 0.92).unwrap() >= 1e-6);
    assert!(binomial_upper_tail(covered, reps, 0.97).unwrap() >= 1e-6);
}

/// E_gen and E_mem on a small MoLRG-free example: the true model has E_gen = 0; the
/// empirical model has E_mem = 0; both via a solver (Heun, EDM grid).
#[test]
fn r11_generalization_and_memorization_errors() {
    let mut g = rng::seeded(21);
    let u = diffusion_lowdim::linalg::random_orthonormal(&mut g, 6, 2).unwrap();
    let truth = Gaussian::subspace(u.as_ref()).unwrap();
    let train = truth.sample_x0(&mut g, 10);
    let emp = Empirical::new(train.as_ref()).unwrap();
    let grid = TimeGrid::edm(&Ve, 18).unwrap();
    let s_truth = Sampler::new(&Ve, &truth, &Heun, grid.clone());
    let s_emp = Sampler::new(&Ve, &emp, &Heun, grid);
    let pfd = Pfd::new(80.0, 64).unwrap();
    let e0 = generalization_error(&pfd, &s_truth, &s_truth, &mut rng::seeded(1)).unwrap();
    let m0 = memorization_error(&pfd, &s_emp, &s_emp, &mut rng::seeded(1)).unwrap();
    assert_eq!((e0.estimate, m0.estimate), (0.0, 0.0));
    let e = generalization_error(&pfd, &s_emp, &s_truth, &mut rng::seeded(1)).unwrap();
    let m = memorization_error(&pfd, &s_truth, &s_emp, &mut rng::seeded(1)).unwrap();
    // Same noises: PFD is symmetric, so these two are the same number.
    assert_eq!(e.estimate.to_bits(), m.estimate.to_bits());
    assert!(e.estimate > 0.0 && e.interval.0 <= e.estimate && e.estimate <= e.interval.1);
}

#[test]
fn r11_hostile_inputs_give_typed_errors() {
    assert!(matches!(
        Pfd::new(0.0, 10),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        Pfd::new(-1.0, 10),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        Pfd::new(f64::NAN, 10),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(Pfd::new(1.0, 1), Err(Error::InvalidCount { .. })));
    assert!(matches!(
        Pfd::new(1.0, 10).unwrap().with_confidence(1.0),
        Err(Error::InvalidParameter { .. })
    ));
    let g2 = Gaussian::subspace(faer::mat![[1.0], [0.0]].as_ref()).unwrap();
    let g3 = Gaussian::subspace(faer::mat![[1.0], [0.0], [0.0]].as_ref()).unwrap();
    let l = NoiseLevel::ve(1.0).unwrap();
    let (f2, f3) = (
        GaussianFlow::to_clean(&g2, l),
        GaussianFlow::to_clean(&g3, l),
    );
    let pfd = Pfd::new(1.0, 10).unwrap();
    assert!(matches!(
        pfd.estimate(&f2, &f3, &mut rng::seeded(0)),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        pfd_gaussians(&g2, &g3, 1.0, None),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        pfd_gaussians(&g2, &g2, 0.0, None),
        Err(Error::InvalidParameter { .. })
    ));
    let nan = faer::mat![[1.0, f64::NAN], [0.0, 0.0]];
    assert!(matches!(
        pfd.estimate_on(&f2, &f2, nan.as_ref()),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        PfdEstimate::from_squared_distances(vec![1.0, -1.0], 0.95),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        pfd_subspaces(
            faer::mat![[1.0], [1.0]].as_ref(),
            faer::mat![[1.0], [0.0]].as_ref(),
            1.0
        ),
        Err(Error::NotOrthonormal { .. })
    ));
    let _ = f2.dim();
}

/// The estimator reports the noise scale and sample count it was built with.
#[test]
fn r11_pfd_reports_its_parameters() {
    let p = Pfd::new(80.0, 37).unwrap();
    assert_eq!(p.samples(), 37);
    assert_eq!(p.noise_scale(), 80.0);
}
