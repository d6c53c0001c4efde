//! R12 planted defects: each overrides `r12::Subject::bias_variance` with a plausible bug.

use diffusion_lowdim::Result;
use diffusion_lowdim::flow::FlowMap;
use diffusion_lowdim::metric::{BiasVariance, Pfd};
use diffusion_lowdim::theorem::r12::{self, Subject};
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

/// The variance with the unbiased $1/(m-1)$ instead of the identity's $1/m$.
struct UnbiasedVariance;
impl Subject for UnbiasedVariance {
    fn bias_variance(
        &self,
        pfd: &Pfd<'_>,
        learned: &[&dyn FlowMap],
        truth: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<BiasVariance> {
        let mut bv = BiasVariance::from_flows(pfd, learned, truth, noises)?;
        let m = learned.len() as f64;
        if m > 1.0 {
            bv.variance *= m / (m - 1.0);
        }
        Ok(bv)
    }
}

#[test]
fn r12_planted_variance_with_m_minus_one() {
    let report = run("R12", 16, |rng| r12::run_case_with(rng, &UnbiasedVariance));
    show(&report);
    assert_caught(&report, "identity");
}

/// The bias taken at the first fitted model instead of the mean map.
struct BiasOfFirstModel;
impl Subject for BiasOfFirstModel {
    fn bias_variance(
        &self,
        pfd: &Pfd<'_>,
        learned: &[&dyn FlowMap],
        truth: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<BiasVariance> {
        let mut bv = BiasVariance::from_flows(pfd, learned, truth, noises)?;
        bv.bias_sq = bv.gen_sq[0];
        Ok(bv)
    }
}

#[test]
fn r12_planted_bias_of_first_model() {
    let report = run("R12", 16, |rng| r12::run_case_with(rng, &BiasOfFirstModel));
    show(&report);
    assert_caught(&report, "components_dd");
}

/// $E_{\mathrm{gen}}(j)$ reported where $E^2_{\mathrm{gen}}(j)$ is due (square root taken).
struct GenNotSquared;
impl Subject for GenNotSquared {
    fn bias_variance(
        &self,
        pfd: &Pfd<'_>,
        learned: &[&dyn FlowMap],
        truth: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<BiasVariance> {
        let mut bv = BiasVariance::from_flows(pfd, learned, truth, noises)?;
        for g in &mut bv.gen_sq {
            *g = g.sqrt();
        }
        Ok(bv)
    }
}

#[test]
fn r12_planted_generalization_error_not_squared() {
    let report = run("R12", 16, |rng| r12::run_case_with(rng, &GenNotSquared));
    show(&report);
    assert_caught(&report, "matches_pfd");
}
