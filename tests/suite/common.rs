//! Shared helpers for the integration tests.
#![allow(dead_code)]

use diffusion_lowdim::theorem::Measurement;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};

/// Proptest configuration: `cases` cases, failures persisted next to the test
/// source as `tests/<file>.proptest-regressions` (committed).
///
/// The generator's seed is fixed ([`SEED`]), so a CI run is reproducible bit for bit;
/// set `PROPTEST_RNG_SEED=<u64>` to explore other instances.
pub fn config(cases: u32) -> Config {
    let base = Config::default();
    let rng_seed = if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
        base.rng_seed
    } else {
        RngSeed::Fixed(SEED)
    };
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        rng_seed,
        ..base
    }
}

/// The property tests' fixed generator seed (see [`config`]).
pub const SEED: u64 = 20_261_203;

/// Asserts that every measurement passed, naming the first that did not.
#[track_caller]
pub fn check_all(ms: &[Measurement]) -> Result<(), proptest::test_runner::TestCaseError> {
    proptest::prop_assert!(!ms.is_empty(), "no measurements");
    for m in ms {
        proptest::prop_assert!(
            m.passed(),
            "facet {} failed: error {:e} > tolerance {:e}",
            m.facet,
            m.error,
            m.tolerance
        );
    }
    Ok(())
}

/// Panicking version of [`check_all`] for plain tests.
#[track_caller]
pub fn assert_all(ms: &[Measurement]) {
    assert!(!ms.is_empty(), "no measurements");
    for m in ms {
        assert!(
            m.passed(),
            "facet {} failed: error {:e} > tolerance {:e}",
            m.facet,
            m.error,
            m.tolerance
        );
    }
}
