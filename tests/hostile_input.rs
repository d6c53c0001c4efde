//! Hostile input: every public constructor and evaluator, given NaN, ±inf,
//! empty inputs, mismatched shapes, non-orthonormal bases, or invalid weights,
//! returns a typed error — never a panic, never a NaN.

use diffusion_lowdim::jacobian::{analyze, finite_difference_jacobian};
use diffusion_lowdim::linalg::{
    orthonormalize, random_orthonormal, singular_values, symmetric_eigenvalues,
};
use diffusion_lowdim::model::ExactModel;
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
