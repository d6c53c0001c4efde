//! R05 planted defects: each overrides one method of [`r05::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::reduction::{LossCoefficients, MonteCarlo, Weight};
use diffusion_lowdim::rng::SeededRng;
use diffusion_lowdim::schedule::Schedule;
use diffusion_lowdim::theorem::r05;
use faer::{Mat, MatRef};

use diffusion_lowdim::theorem::ResultReport;

use super::{assert_caught, run};

/// Prints which facets failed on how many instances (visible with `--nocapture`), then
/// asserts that `facet` caught the defect.
#[track_caller]
fn caught(report: &ResultReport, facet: &str) {
    let counts: Vec<String> = report
        .facets
        .iter()
        .filter(|f| f.failures > 0)
        .map(|f| format!("{} {}/{}", f.name, f.failures, f.instances))
        .collect();
    println!(
        "{}: {}/{} instances failed; {}",
        report.id,
        report.failures,
        report.instances,
        counts.join(", ")
    );
    assert_caught(report, facet);
}

/// $C = \int\lambda_t a_t$ (the cross term $a_t - a_t^2$ of $2a_t - a_t^2$ dropped; computed as $C - G$).
struct CMissingCrossTerm;
impl r05::Subject for CMissingCrossTerm {
    fn coefficients(
        &self,
        schedule: &dyn Schedule,
        weight: &Weight,
        t0: f64,
        t1: f64,
    ) -> Result<LossCoefficients> {
        let mut k = LossCoefficients::quadrature(schedule, weight, t0, t1)?;
        k.c -= k.noise;
        Ok(k)
    }
}

#[test]
fn r05_planted_c_missing_cross_term() {
    let report = run("R05", 4, |rng| r05::run_case_with(rng, &CMissingCrossTerm));
    caught(&report, "identity_c_d");
}

/// The closed form without the noise term $NrG$ of $D$.
struct NoiseTermDropped;
impl r05::Subject for NoiseTermDropped {
    fn closed_form(
        &self,
        u: MatRef<'_, f64>,
        x: MatRef<'_, f64>,
        k: &LossCoefficients,
    ) -> Result<f64> {
        let (n, r) = (x.ncols(), u.ncols());
        Ok(diffusion_lowdim::reduction::dae_loss_closed_form(u, x, k)? - (n * r) as f64 * k.noise)
    }
}

#[test]
fn r05_planted_noise_term_dropped() {
    let report = run("R05", 4, |rng| r05::run_case_with(rng, &NoiseTermDropped));
    caught(&report, "closed_vs_quadrature");
}

/// PCA keeping the $r$ *smallest* left singular vectors (full SVD, last $r$ columns).
struct SmallestVectors;
impl r05::Subject for SmallestVectors {
    fn pca_basis(&self, x: MatRef<'_, f64>, r: usize, _seed: u64) -> Result<Mat<f64>> {
        let svd = x.svd().expect("SVD");
        let d = x.nrows();
        Ok(svd.U().subcols(d - r, r).to_owned())
    }
}

#[test]
fn r05_planted_pca_smallest_vectors() {
    let report = run("R05", 8, |rng| r05::run_case_with(rng, &SmallestVectors));
    caught(&report, "pca_minimizes");
}

/// Monte Carlo averaging with $M - 1$ in the denominator (a biased mean).
struct MonteCarloBiased;
impl r05::Subject for MonteCarloBiased {
    fn monte_carlo(
        &self,
        u: MatRef<'_, f64>,
        x: MatRef<'_, f64>,
        schedule: &dyn Schedule,
        weight: &Weight,
        rule: &[(f64, f64)],
        m: usize,
        rng: &mut SeededRng,
    ) -> Result<MonteCarlo> {
        let mut mc = diffusion_lowdim::reduction::dae_loss_monte_carlo(
            u, x, schedule, weight, rule, m, rng,
        )?;
        mc.value *= m as f64 / (m as f64 - 1.0);
        Ok(mc)
    }
}

#[test]
fn r05_planted_monte_carlo_biased() {
    let report = run("R05", 4, |rng| r05::run_case_with(rng, &MonteCarloBiased));
    caught(&report, "monte_carlo");
}
