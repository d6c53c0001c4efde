//! R13 planted defects: each overrides one method of `r13::Subject` with a plausible bug.

use diffusion_lowdim::Result;
use diffusion_lowdim::metric::{Proportion, Scores, clopper_pearson};
use diffusion_lowdim::theorem::r13::{self, Subject};
use faer::MatRef;

use super::{assert_caught, run};

/// Prints the failure count of every failed facet (shown with `--nocapture`).
fn show(report: &diffusion_lowdim::theorem::ResultReport) {
    for f in report.facets.iter().filter(|f| f.failures > 0) {
        println!(
            "{}: {} failed {}/{} instances",
            report.id, f.name, f.failures, f.instances
        );
    }
}

/// Clopper–Pearson with the one-sided quantile: $a$ in each tail instead of $a/2$.
struct OneSidedQuantile;
impl Subject for OneSidedQuantile {
    fn clopper_pearson(&self, k: usize, n: usize, confidence: f64) -> Result<(f64, f64)> {
        clopper_pearson(k, n, 2.0 * confidence - 1.0)
    }
}

#[test]
fn r13_planted_clopper_pearson_one_sided_quantile() {
    let report = run("R13", 8, |rng| r13::run_case_with(rng, &OneSidedQuantile));
    show(&report);
    assert_caught(&report, "clopper_pearson_tails");
}

/// The RP threshold inverted: noises whose samples have cosine $\le \tau$ counted.
struct RpInverted;
impl Subject for RpInverted {
    fn reproducibility(&self, a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<Proportion> {
        let p = Scores::new().reproducibility(a, b)?;
        Proportion::new(p.trials - p.successes, p.trials, p.confidence)
    }
}

#[test]
fn r13_planted_reproducibility_threshold_inverted() {
    let report = run("R13", 8, |rng| r13::run_case_with(rng, &RpInverted));
    show(&report);
    assert_caught(&report, "rp_lowrank_one");
}

/// GL with the cosine to the first training point only (the maximum over the training set
/// dropped).
struct GlFirstPoint;
impl Subject for GlFirstPoint {
    fn generalization(
        &self,
        samples: MatRef<'_, f64>,
        training: MatRef<'_, f64>,
    ) -> Result<Proportion> {
        Scores::new().generalization(samples, training.subcols(0, 1))
    }
}

#[test]
fn r13_planted_generalization_first_training_point_only() {
    let report = run("R13", 8, |rng| r13::run_case_with(rng, &GlFirstPoint));
    show(&report);
    assert_caught(&report, "gl_memorizing_zero");
}
