//! Hostile input: every public constructor and evaluator, given NaN, ±inf,
//! empty inputs, mismatched shapes, non-orthonormal bases, or invalid weights,
//! returns a typed error — never a panic, never a NaN.

use diffusion_lowdim::linalg::{
    orthonormalize, random_orthonormal, singular_values, symmetric_eigenvalues,
};
use diffusion_lowdim::model::ExactModel;
use diffusion_lowdim::model::jacobian::{analyze, finite_difference_jacobian};
use diffusion_lowdim::rng::seeded;
use diffusion_lowdim::schedule::{
    DiscreteTable, SubVp, VpCosine, VpLinear, karras_sigmas, linear_betas,
};
use diffusion_lowdim::theorem::{CheckConfig, run};
use diffusion_lowdim::tweedie::{Prediction, convert};
use diffusion_lowdim::{Empirical, Error, Gaussian, Molrg, NoiseLevel};
use faer::Mat;

fn basis(d: usize, r: usize) -> Mat<f64> {
    random_orthonormal(&mut seeded(1), d, r).unwrap()
}

fn poisoned(m: &Mat<f64>, v: f64) -> Mat<f64> {
    let mut p = m.clone();
    p[(0, 0)] = v;
    p
}

const BAD: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

#[test]
fn noise_levels() {
    for v in BAD {
        assert!(matches!(
            NoiseLevel::new(v, 1.0),
            Err(Error::InvalidNoiseLevel { .. })
        ));
        assert!(matches!(
            NoiseLevel::new(1.0, v),
            Err(Error::InvalidNoiseLevel { .. })
        ));
    }
    assert!(NoiseLevel::new(-0.1, 1.0).is_err());
    assert!(NoiseLevel::new(1.0, 0.0).is_err());
    assert!(NoiseLevel::ve(-1.0).is_err());
}

#[test]
fn gaussian_constructors() {
    let u = basis(5, 2);
    assert!(matches!(
        Gaussian::new(&[0.0; 4], u.as_ref(), &[1.0, 1.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Gaussian::new(&[0.0; 5], u.as_ref(), &[1.0]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Gaussian::new(&[0.0; 5], u.as_ref(), &[1.0, -1.0]),
        Err(Error::InvalidParameter { .. })
    ));
    for v in BAD {
        assert!(matches!(
            Gaussian::new(&[v, 0.0, 0.0, 0.0, 0.0], u.as_ref(), &[1.0, 1.0]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            Gaussian::new(&[0.0; 5], u.as_ref(), &[v, 1.0]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            Gaussian::subspace(poisoned(&u, v).as_ref()),
            Err(Error::NonFinite { .. })
        ));
    }
    let skew = Mat::from_fn(5, 2, |i, j| u[(i, j)] * if j == 0 { 1.001 } else { 1.0 });
    assert!(matches!(
        Gaussian::subspace(skew.as_ref()),
        Err(Error::NotOrthonormal { .. })
    ));
    assert!(matches!(
        Gaussian::subspace(Mat::<f64>::zeros(0, 0).as_ref()),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        Gaussian::subspace(Mat::<f64>::zeros(3, 0).as_ref()),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        Gaussian::subspace(Mat::<f64>::zeros(2, 3).as_ref()),
        Err(Error::InvalidCount { .. })
    ));
    // Full covariances.
    let asym = faer::mat![[1.0, 0.5], [0.0, 1.0]];
    assert!(matches!(
        Gaussian::from_covariance(&[0.0, 0.0], asym.as_ref()),
        Err(Error::NotSymmetric { .. })
    ));
    let indef = faer::mat![[1.0, 0.0], [0.0, -1.0]];
    assert!(matches!(
        Gaussian::from_covariance(&[0.0, 0.0], indef.as_ref()),
        Err(Error::NotPositiveSemidefinite { .. })
    ));
    assert!(matches!(
        Gaussian::from_covariance(&[0.0], Mat::<f64>::zeros(1, 2).as_ref()),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Gaussian::from_covariance(&[], Mat::<f64>::zeros(0, 0).as_ref()),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        Gaussian::from_covariance(
            &[0.0, 0.0],
            faer::mat![[1.0, f64::NAN], [f64::NAN, 1.0]].as_ref()
        ),
        Err(Error::NonFinite { .. })
    ));
}

#[test]
fn molrg_constructors() {
    let u = basis(6, 2);
    let w = basis(6, 3);
    let b = [u.as_ref(), w.as_ref()];
    assert!(matches!(
        Molrg::new(&[0.5, 0.5], &[]),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        Molrg::new(&[1.0], &b),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Molrg::new(&[0.7, 0.7], &b),
        Err(Error::InvalidWeights { .. })
    ));
    assert!(matches!(
        Molrg::new(&[1.2, -0.2], &b),
        Err(Error::InvalidWeights { .. })
    ));
    for v in BAD {
        assert!(matches!(
            Molrg::new(&[v, 0.5], &b),
            Err(Error::NonFinite { .. })
        ));
        let p = poisoned(&u, v);
        assert!(matches!(
            Molrg::uniform(&[p.as_ref(), w.as_ref()]),
            Err(Error::NonFinite { .. })
        ));
        assert!(matches!(
            Molrg::with_variances(&[0.5, 0.5], &b, &[vec![1.0, v], vec![1.0; 3]]),
            Err(Error::NonFinite { .. })
        ));
    }
    let other = basis(5, 2);
    assert!(matches!(
        Molrg::uniform(&[u.as_ref(), other.as_ref()]),
        Err(Error::DimensionMismatch { .. })
    ));
    let skew = Mat::from_fn(6, 2, |i, j| u[(i, j)] + if i == j { 1e-6 } else { 0.0 });
    assert!(matches!(
        Molrg::uniform(&[skew.as_ref(), w.as_ref()]),
        Err(Error::NotOrthonormal { component: 0, .. })
    ));
    assert!(matches!(
        Molrg::with_variances(&[0.5, 0.5], &b, &[vec![1.0], vec![1.0; 3]]),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        Molrg::with_variances(&[0.5, 0.5], &b, &[vec![1.0, -2.0], vec![1.0; 3]]),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn empirical_constructor() {
    assert!(matches!(
        Empirical::new(Mat::<f64>::zeros(3, 0).as_ref()),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        Empirical::new(Mat::<f64>::zeros(0, 3).as_ref()),
        Err(Error::Empty { .. })
    ));
    for v in BAD {
        assert!(matches!(
            Empirical::new(poisoned(&Mat::<f64>::zeros(2, 2), v).as_ref()),
            Err(Error::NonFinite { .. })
        ));
    }
}

/// Every evaluator of every model rejects bad `x_t` and wrong shapes.
#[test]
fn evaluators() {
    let u = basis(4, 2);
    let models: Vec<Box<dyn ExactModel>> = vec![
        Box::new(Gaussian::subspace(u.as_ref()).unwrap()),
        Box::new(Molrg::uniform(&[u.as_ref(), basis(4, 1).as_ref()]).unwrap()),
        Box::new(Empirical::new(u.as_ref()).unwrap()),
    ];
    let level = NoiseLevel::new(0.8, 0.6).unwrap();
    for m in &models {
        let good = Mat::<f64>::zeros(4, 3);
        let wrong_rows = Mat::<f64>::zeros(3, 3);
        {
            let x = wrong_rows.as_ref();
            assert!(matches!(
                m.posterior_mean(x, level),
                Err(Error::DimensionMismatch { .. })
            ));
            assert!(matches!(
                m.score(x, level),
                Err(Error::DimensionMismatch { .. })
            ));
            assert!(matches!(
                m.log_density(x, level),
                Err(Error::DimensionMismatch { .. })
            ));
            assert!(matches!(
                m.jacobian(x.col(0), level),
                Err(Error::DimensionMismatch { .. })
            ));
        }
        for v in BAD {
            let x = poisoned(&good, v);
            assert!(matches!(
                m.posterior_mean(x.as_ref(), level),
                Err(Error::NonFinite { .. })
            ));
            assert!(matches!(
                m.score(x.as_ref(), level),
                Err(Error::NonFinite { .. })
            ));
            assert!(matches!(
                m.log_density(x.as_ref(), level),
                Err(Error::NonFinite { .. })
            ));
            assert!(matches!(
                m.jacobian(x.col(0), level),
                Err(Error::NonFinite { .. })
            ));
        }
        // Output of the wrong shape.
        let mut out = Mat::<f64>::zeros(4, 2);
        assert!(matches!(
            m.posterior_mean_into(good.as_ref(), level, out.as_mut()),
            Err(Error::DimensionMismatch { .. })
        ));
        assert!(matches!(
            m.score_into(good.as_ref(), level, out.as_mut()),
            Err(Error::DimensionMismatch { .. })
        ));
        // An empty batch is fine and returns an empty result.
        let empty = Mat::<f64>::zeros(4, 0);
        assert_eq!(m.posterior_mean(empty.as_ref(), level).unwrap().ncols(), 0);
        assert!(m.log_density(empty.as_ref(), level).unwrap().is_empty());
        // Finite-difference Jacobian: invalid step.
        for h in [0.0, -1.0, f64::NAN] {
            assert!(matches!(
                finite_difference_jacobian(m.as_ref(), good.col(0), level, h),
                Err(Error::InvalidParameter { .. })
            ));
        }
    }
}

#[test]
fn tweedie_and_linalg() {
    let level = NoiseLevel::new(0.5, 0.5).unwrap();
    let x = Mat::<f64>::zeros(3, 2);
    let y = Mat::<f64>::zeros(3, 1);
    assert!(matches!(
        convert(
            Prediction::Eps,
            y.as_ref(),
            x.as_ref(),
            level,
            Prediction::X0
        ),
        Err(Error::DimensionMismatch { .. })
    ));
    for v in BAD {
        assert!(matches!(
            convert(
                Prediction::Eps,
                poisoned(&x, v).as_ref(),
                x.as_ref(),
                level,
                Prediction::X0
            ),
            Err(Error::NonFinite { .. })
        ));
    }
    assert!(matches!(
        orthonormalize(Mat::<f64>::zeros(2, 3).as_ref()),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        orthonormalize(Mat::<f64>::zeros(0, 0).as_ref()),
        Err(Error::Empty { .. })
    ));
    assert!(matches!(
        random_orthonormal(&mut seeded(0), 3, 4),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        random_orthonormal(&mut seeded(0), 3, 0),
        Err(Error::InvalidCount { .. })
    ));
    assert!(matches!(
        singular_values(poisoned(&x, f64::NAN).as_ref()),
        Err(Error::NonFinite { .. })
    ));
    assert!(matches!(
        symmetric_eigenvalues(x.as_ref()),
        Err(Error::DimensionMismatch { .. })
    ));
    assert!(matches!(
        analyze(x.as_ref()),
        Err(Error::DimensionMismatch { .. })
    ));
}

#[test]
fn schedules_and_grids() {
    for v in BAD {
        assert!(VpLinear::new(v, 20.0).is_err());
        assert!(SubVp::new(0.1, v).is_err());
        assert!(VpCosine::new(v).is_err());
        assert!(karras_sigmas(10, v, 80.0, 7.0).is_err());
        assert!(linear_betas(10, v, 0.02).is_err());
        assert!(DiscreteTable::from_betas("x", &[0.1, v]).is_err());
        assert!(DiscreteTable::from_alphas_cumprod("x", &[0.9, v]).is_err());
    }
    assert!(DiscreteTable::from_betas("x", &[]).is_err());
    assert!(linear_betas(1, 1e-4, 0.02).is_err());
}

#[test]
fn check_runner() {
    assert!(matches!(
        run(&CheckConfig {
            seed: 0,
            cases: 0,
            only: None
        }),
        Err(Error::InvalidCount { .. })
    ));
    let e = run(&CheckConfig {
        seed: 0,
        cases: 1,
        only: Some(vec!["R99".into()]),
    })
    .unwrap_err();
    assert!(matches!(e, Error::Unknown { .. }));
    assert!(
        e.to_string().contains("R01"),
        "the message lists the known ids: {e}"
    );
}

// ---------------------------------------------------------------------------
// Issue 12: every library reproducer, as a regression test.
// ---------------------------------------------------------------------------

mod issue12 {
    use super::*;
    use diffusion_lowdim::Denoiser;
    use diffusion_lowdim::error::MAX_ELEMENTS;
    use diffusion_lowdim::flow::TimeGrid;
    use diffusion_lowdim::linalg::check_orthonormal;
    use diffusion_lowdim::metric::{
        Pfd, binomial_lower_tail, binomial_two_sided_p, binomial_upper_tail, clopper_pearson,
    };
    use diffusion_lowdim::reduction::{KSubspaces, min_cost_assignment_exhaustive};
    use diffusion_lowdim::schedule::{Schedule, Ve, cosine_betas, log_uniform_grid, uniform_grid};

    fn level() -> NoiseLevel {
        NoiseLevel::new(0.8, 0.6).unwrap()
    }

    #[test]
    fn basis_entry_1e155_is_not_orthonormal() {
        let u = faer::mat![[1e155], [0.0]];
        let e = Gaussian::subspace(u.as_ref()).unwrap_err();
        assert!(matches!(e, Error::NotOrthonormal { .. }), "{e}");
        assert!(e.to_string().contains("overflows"), "{e}");
        // Opposite signs (∞ − ∞ in UᵀU) too.
        let u = faer::mat![[1e155, 1e155], [1e155, -1e155], [0.0, 0.0]];
        assert!(matches!(
            check_orthonormal("U", 0, u.as_ref()),
            Err(Error::NotOrthonormal { .. })
        ));
    }

    #[test]
    fn molrg_score_and_mean_at_huge_x() {
        let e1 = faer::mat![[1.0], [0.0]];
        let e2 = faer::mat![[0.0], [1.0]];
        let m = Molrg::uniform(&[e1.as_ref(), e2.as_ref()]).unwrap();
        // Mean at [1e155, 0]: all weight on component 0, gain α/(α²+β²) = 0.8.
        let x = faer::mat![[1e155], [0.0]];
        let mean = m.posterior_mean(x.as_ref(), level()).unwrap();
        assert!((mean[(0, 0)] - 0.8e155).abs() <= 4.0 * f64::EPSILON * 0.8e155);
        assert_eq!(mean[(1, 0)], 0.0);
        let w = m.posterior_weights(x.as_ref(), level()).unwrap();
        assert_eq!((w[(0, 0)], w[(1, 0)]), (1.0, 0.0));
        // The Gaussian on e1 agrees.
        let g = Gaussian::subspace(e1.as_ref()).unwrap();
        let gm = g.posterior_mean(x.as_ref(), level()).unwrap();
        assert!((gm[(0, 0)] - mean[(0, 0)]).abs() <= 4.0 * f64::EPSILON * 0.8e155);
        // Score at [1.3e154, 0]: −(x − α·0.8x)/... = −x/(α²+β²) on span(e1) = −1.3e154.
        let x = faer::mat![[1.3e154], [0.0]];
        let s = m.score(x.as_ref(), level()).unwrap();
        assert!((s[(0, 0)] + 1.3e154).abs() <= 1e-14 * 1.3e154, "{:?}", s);
        assert_eq!(s[(1, 0)], 0.0);
        // A mixed batch: ordinary columns keep their bits.
        let both = faer::mat![[1e155, 0.3], [0.0, -0.2]];
        let one = faer::mat![[0.3], [-0.2]];
        let mb = m.posterior_mean(both.as_ref(), level()).unwrap();
        let m1 = m.posterior_mean(one.as_ref(), level()).unwrap();
        assert_eq!(mb[(0, 1)].to_bits(), m1[(0, 0)].to_bits());
        assert_eq!(mb[(1, 1)].to_bits(), m1[(1, 0)].to_bits());
    }

    #[test]
    fn empirical_with_a_huge_point_gives_convex_means() {
        let pts = faer::mat![[1.0, -1.0, 1.4e154], [0.0, 0.0, 0.0]];
        let e = Empirical::new(pts.as_ref()).unwrap();
        let l = NoiseLevel::new(1.0, 0.5).unwrap();
        // Near the first two points: the huge point has weight 0.
        let x = faer::mat![[0.9, 1.4e154], [0.1, 0.0]];
        let m = e.posterior_mean(x.as_ref(), l).unwrap();
        let small = Empirical::new(faer::mat![[1.0, -1.0], [0.0, 0.0]].as_ref()).unwrap();
        let ms = small
            .posterior_mean(faer::mat![[0.9], [0.1]].as_ref(), l)
            .unwrap();
        assert!(
            (m[(0, 0)] - ms[(0, 0)]).abs() <= 1e-15,
            "{} vs {}",
            m[(0, 0)],
            ms[(0, 0)]
        );
        assert_eq!(m[(1, 0)], 0.0);
        // At the huge point itself: the mean is that point.
        assert_eq!(m[(0, 1)], 1.4e154);
        for v in [
            e.score(x.as_ref(), l).unwrap(),
            e.jacobian(x.col(0), l).unwrap(),
        ] {
            assert!(
                v.col_iter()
                    .flat_map(|c| c.iter().copied())
                    .all(f64::is_finite)
            );
        }
        let w = e.posterior_weights(x.col(0), l).unwrap();
        assert!(w.iter().all(|&(i, _)| i < 2));
    }

    #[test]
    fn vp_time_at_huge_sigma_is_an_error() {
        for s in [&VpLinear::score_sde() as &dyn Schedule, &SubVp::score_sde()] {
            let e = s.time_at_sigma(1e155).unwrap_err();
            assert!(matches!(e, Error::InvalidParameter { .. }), "{e}");
            assert!(e.to_string().contains("1e155"), "{e}");
            assert!(s.time_at_sigma(f64::MAX).is_err());
        }
        // A schedule that does reach σ = 1e155 (β₁ huge) answers finitely.
        let t = VpLinear::new(0.1, 1e6)
            .unwrap()
            .time_at_sigma(1e155)
            .unwrap();
        assert!(t > 0.0 && t <= 1.0);
    }

    #[test]
    fn degenerate_schedule_constructors() {
        assert!(matches!(
            VpCosine::new(9.7e94),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(VpCosine::new(1e6).is_ok());
        assert!(matches!(
            VpLinear::new(0.0, 5e-324),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            SubVp::new(0.0, 5e-324),
            Err(Error::InvalidParameter { .. })
        ));
        // Next to t = 0 the VP coefficients are not finite: an error, not Ok(inf).
        let e = VpLinear::score_sde().coefficients(5e-324).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
    }

    #[test]
    fn ksubspaces_solve_from_with_no_components() {
        let x = faer::mat![[1.0, 0.0], [0.0, 1.0]];
        let r = KSubspaces::new(0, 1).solve_from(x.as_ref(), &[], &mut seeded(1));
        assert!(matches!(r, Err(Error::InvalidCount { .. })));
    }

    #[test]
    fn exhaustive_assignment_on_ragged_input() {
        let r = min_cost_assignment_exhaustive(&[vec![1.0, 2.0], vec![3.0]]);
        assert!(matches!(r, Err(Error::DimensionMismatch { .. })));
        let r = min_cost_assignment_exhaustive(&[vec![1.0, f64::NAN], vec![3.0, 1.0]]);
        assert!(matches!(r, Err(Error::NonFinite { .. })));
    }

    #[test]
    fn binomial_tails_with_nan() {
        assert!(binomial_upper_tail(1, 3, f64::NAN).is_err());
        assert!(binomial_lower_tail(1, 3, f64::NAN).is_err());
        assert!(binomial_two_sided_p(1, 3, f64::NAN).is_err());
        assert!(binomial_upper_tail(1, 3, 1.5).is_err());
        assert!(binomial_lower_tail(1, 3, -0.5).is_err());
    }

    #[test]
    fn clopper_pearson_with_a_trillion_trials_is_fast() {
        let t = std::time::Instant::now();
        let (lo, hi) = clopper_pearson(13, 1_000_000_000_000, 0.95).unwrap();
        assert!(t.elapsed().as_secs_f64() < 1.0);
        // Poisson-regime check: the exact ends are χ²-quantiles/2n = 6.92e-12, 2.22e-11.
        assert!(
            lo > 5e-12 && lo < 13e-12 && hi > 13e-12 && hi < 3e-11,
            "{lo} {hi}"
        );
        for (k, n) in [
            (0, usize::MAX),
            (usize::MAX, usize::MAX),
            (1 << 62, usize::MAX),
        ] {
            let (lo, hi) = clopper_pearson(k, n, 0.99).unwrap();
            assert!((0.0..=1.0).contains(&lo) && lo <= hi && hi <= 1.0);
        }
        // Continuity at the switch: the approximation against the exact interval at 1e7.
        let n = 10_000_000;
        let exact = clopper_pearson(n / 3, n, 0.95).unwrap();
        let approx = clopper_pearson(n / 3, n + 1, 0.95).unwrap();
        assert!((exact.0 - approx.0).abs() < 1e-6 && (exact.1 - approx.1).abs() < 1e-6);
    }

    #[test]
    fn grids_and_tables_refuse_usize_max_before_allocating() {
        let too_large = |r: Result<Vec<f64>, Error>| {
            let e = r.unwrap_err();
            assert!(matches!(e, Error::TooLarge { .. }), "{e}");
            assert!(e.to_string().contains("at most"), "{e}");
        };
        too_large(karras_sigmas(usize::MAX, 0.002, 80.0, 7.0));
        too_large(uniform_grid(usize::MAX, 1.0, 0.0));
        too_large(log_uniform_grid(usize::MAX, 1.0, 0.1));
        too_large(linear_betas(usize::MAX, 1e-4, 0.02));
        too_large(cosine_betas(usize::MAX));
        too_large(karras_sigmas(MAX_ELEMENTS + 1, 0.002, 80.0, 7.0));
        for s in [&Ve as &dyn Schedule, &VpLinear::score_sde()] {
            assert!(matches!(
                TimeGrid::edm(s, usize::MAX),
                Err(Error::TooLarge { .. })
            ));
        }
        assert!(matches!(
            TimeGrid::uniform(usize::MAX, 1.0, 0.1),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            random_orthonormal(&mut seeded(1), usize::MAX, 1),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            Pfd::new(80.0, usize::MAX),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn messages_name_the_cause_readably() {
        // VE with sigma_max = 1e150: the Karras grid no longer cancels to sigma = 0.
        let g = TimeGrid::karras(&Ve, 18, 0.002, 1e150, 7.0).unwrap();
        assert!((g.last() - 0.002).abs() <= 1e-15);
        assert!(g.times().iter().all(|t| t.is_finite() && *t > 0.0));
        // A VP schedule's unreachable sigma prints as 1e150, not as 151 digits.
        let e = VpLinear::score_sde()
            .time_at_sigma(1e150)
            .unwrap_err()
            .to_string();
        assert!(e.contains("sigma = 1e150"), "{e}");
        let e = VpLinear::score_sde()
            .time_at_sigma(9.999999999999804e149)
            .unwrap_err()
            .to_string();
        assert!(e.contains("9.999999999999804e149") && e.len() < 200, "{e}");
        // A covariance of 1e308 entries: too large, not "failed to converge".
        let cov = faer::mat![[1e308, 0.0], [0.0, 1e308]];
        let g = Gaussian::from_covariance(&[0.0, 0.0], cov.as_ref());
        assert!(g.is_ok(), "{g:?}"); // representable: eigenvalues 1e308
        let cov = faer::mat![[1.7e308, 1.7e308], [1.7e308, 1.7e308]];
        let e = Gaussian::from_covariance(&[0.0, 0.0], cov.as_ref()).unwrap_err();
        assert!(matches!(e, Error::Overflow { .. }), "{e}");
        assert!(e.to_string().contains("too large"), "{e}");
    }
}
