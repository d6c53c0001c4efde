//! Planted defects: every result's check, run on deliberately wrong implementations, fails
//! and names the facet that caught the defect.
//!
//! Each `rNN` module overrides one method of `theorem::rNN::Subject` per defect (no `cfg`
//! switch in the library: the check code is the same code `check` runs) and asserts with
//! [`assert_caught`] that the check fails on the same instance streams `check` uses.
//! The reference implementation passes on those streams (that is `check` itself, run in CI).

use diffusion_lowdim::rng::SeededRng;
use diffusion_lowdim::theorem::{CaseResult, ResultReport, find, run_cases};

mod r01;
mod r02;
mod r03;
mod r04;
mod r05;
mod r06;
mod r07;
mod r08;
mod r09;
mod r10;
mod r11;
mod r12;
mod r13;
mod r14;
mod r15;
mod r16;

/// Seed of the planted-defect runs (the `check` command's default).
pub const SEED: u64 = 0;

/// Runs `cases` instances of result `id` through `case` (the check on a planted defect).
pub fn run(
    id: &str,
    cases: usize,
    case: impl Fn(&mut SeededRng) -> CaseResult + Sync,
) -> ResultReport {
    run_cases(find(id).expect("registered id"), SEED, cases, case)
}

/// Asserts that the check failed and that `facet` is among the facets that caught it
/// (`"error"` if the check returned an error instead of measurements).
#[track_caller]
pub fn assert_caught(report: &ResultReport, facet: &str) {
    let failed = report.failed_facets();
    assert!(
        report.failures > 0,
        "{}: the planted defect passed the check on all {} instances",
        report.id,
        report.instances
    );
    assert!(
        failed.contains(&facet),
        "{}: expected facet `{facet}` to catch the defect; failed facets: {failed:?} (errors: {:?})",
        report.id,
        report.errors
    );
}
