//! R07 (Theorem 2(ii)): with N < r the PCA optimum is not identifiable.

use super::common;

use diffusion_lowdim::Error;
use diffusion_lowdim::linalg::random_orthonormal;
use diffusion_lowdim::reduction::adversarial_optimal_basis;
use diffusion_lowdim::reduction::{Pca, pca_objective, subspace_distance};
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::theorem::r07::Instance;
use proptest::prelude::*;

prop_compose! {
    fn instance()(
        d in 2usize..=40,
        r_frac in 0.0f64..1.0,
        n_frac in 0.0f64..1.0,
        noise in prop_oneof![Just(0.0), (-12.0f64..-1.0).prop_map(|e| 10f64.powf(e))],
        seed in any::<u64>(),
    ) -> Instance {
        let r = 2 + ((r_frac * (d - 1) as f64) as usize).min(d - 2);
        let n = 1 + ((n_frac * (r - 1) as f64) as usize).min(r - 2);
        Instance { d, r, n, noise, seed }
    }
}

proptest! {
    #![proptest_config(common::config(128))]
    /// Every optimal basis contains span X; the constructed optimal basis has
    /// error exactly √(2 min{r−N, d−r}) noise-free and obeys the explicit lower
    /// bound with noise; the random completion never exceeds that maximum.
    #[test]
    fn r07_random_instances(inst in instance()) {
        common::check_all(&inst.check().map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }
}

/// Both branches of min{r−N, d−r}: d − r < r − N (d = 6, r = 5, N = 1 → m = 1)
/// and r − N < d − r (d = 48, r = 8, N = 5 → m = 3).
#[test]
fn r07_exact_error_both_branches() {
    for (d, r, n, m) in [
        (6usize, 5usize, 1usize, 1usize),
        (48, 8, 5, 3),
        (8, 8, 3, 0),
    ] {
        let mut g = seeded(d as u64 * 100 + n as u64);
        let u = random_orthonormal(&mut g, d, r).unwrap();
        let x = &u * &standard_normal(&mut g, r, n);
        let (u_hat, k, _) = adversarial_optimal_basis(x.as_ref(), u.as_ref()).unwrap();
        assert_eq!(k, n);
        let dist = subspace_distance(u_hat.as_ref(), u.as_ref()).unwrap();
        assert!(
            (dist - (2.0 * m as f64).sqrt()).abs() < 1e-13,
            "{d} {r} {n}: {dist}"
        );
        let obj = pca_objective(u_hat.as_ref(), x.as_ref()).unwrap();
        let best = Pca::fit(x.as_ref(), r).unwrap().objective();
        assert!((obj - best).abs() <= 1e-13 * best);
    }
}

/// Hostile inputs: the construction needs rank X < r; shapes must agree.
#[test]
fn r07_hostile_inputs() {
    let mut g = seeded(3);
    let u = random_orthonormal(&mut g, 6, 2).unwrap();
    let x = standard_normal(&mut g, 6, 4);
    assert!(matches!(
        adversarial_optimal_basis(x.as_ref(), u.as_ref()),
        Err(Error::InvalidCount { .. })
    ));
    let x5 = standard_normal(&mut g, 5, 1);
    assert!(matches!(
        adversarial_optimal_basis(x5.as_ref(), u.as_ref()),
        Err(Error::DimensionMismatch { .. })
    ));
    let bad = faer::mat![[1.0], [1.0], [0.0], [0.0], [0.0], [0.0]];
    let x1 = standard_normal(&mut g, 6, 1);
    assert!(matches!(
        adversarial_optimal_basis(x1.as_ref(), bad.as_ref()),
        Err(Error::NotOrthonormal { .. })
    ));
}
