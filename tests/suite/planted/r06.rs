//! R06 planted defects: each overrides one method of [`r06::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::reduction;
use diffusion_lowdim::theorem::r06;
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

/// PCA keeping the $r$ *smallest* left singular vectors (full SVD, last $r$ columns).
struct SmallestVectors;
impl r06::Subject for SmallestVectors {
    fn pca_basis(&self, x: MatRef<'_, f64>, r: usize) -> Result<Mat<f64>> {
        let svd = x.svd().expect("SVD");
        let d = x.nrows();
        Ok(svd.U().subcols(d - r, r).to_owned())
    }
}

#[test]
fn r06_planted_pca_smallest_vectors() {
    let report = run("R06", 4, |rng| r06::run_case_with(rng, &SmallestVectors));
    caught(&report, "exact_recovery");
}

/// The Wedin constant halved: $\sqrt2 \to 1/\sqrt2$.
struct WedinHalved;
impl r06::Subject for WedinHalved {
    fn recovery_bound(&self, e_fro: f64, e_op: f64, r: usize, sigma_r: f64) -> f64 {
        0.5 * reduction::recovery_bound(e_fro, e_op, r, sigma_r)
    }
}

#[test]
fn r06_planted_wedin_constant_halved() {
    let report = run("R06", 4, |rng| r06::run_case_with(rng, &WedinHalved));
    caught(&report, "sin_theta_bound");
}

/// The Wedin constant doubled ($2\sqrt2$: a valid but looser bound, stated as if proven tight).
struct WedinDoubled;
impl r06::Subject for WedinDoubled {
    fn recovery_bound(&self, e_fro: f64, e_op: f64, r: usize, sigma_r: f64) -> f64 {
        2.0 * reduction::recovery_bound(e_fro, e_op, r, sigma_r)
    }
}

#[test]
fn r06_planted_wedin_constant_doubled() {
    let report = run("R06", 4, |rng| r06::run_case_with(rng, &WedinDoubled));
    caught(&report, "sin_theta_tight");
}

/// Weyl with the wrong sign: $\sigma_r(A) + \|E\|_2$ in the a-priori denominator.
struct WeylSignFlipped;
impl r06::Subject for WeylSignFlipped {
    fn recovery_bound_a_priori(&self, e_fro: f64, e_op: f64, r: usize, sigma_r_a: f64) -> f64 {
        reduction::recovery_bound(e_fro, e_op, r, sigma_r_a + e_op)
    }
}

#[test]
fn r06_planted_weyl_sign_flipped() {
    let report = run("R06", 4, |rng| r06::run_case_with(rng, &WeylSignFlipped));
    caught(&report, "sin_theta_a_priori");
}

/// The subspace distance without the factor $\sqrt2$: $\|(I - VV^\top)U\|_F$.
struct DistanceMissingSqrt2;
impl r06::Subject for DistanceMissingSqrt2 {
    fn subspace_distance(&self, u: MatRef<'_, f64>, v: MatRef<'_, f64>) -> Result<f64> {
        Ok(diffusion_lowdim::reduction::subspace_distance(u, v)? / 2f64.sqrt())
    }
}

#[test]
fn r06_planted_distance_missing_sqrt2() {
    let report = run("R06", 4, |rng| {
        r06::run_case_with(rng, &DistanceMissingSqrt2)
    });
    caught(&report, "tight_distance");
}
