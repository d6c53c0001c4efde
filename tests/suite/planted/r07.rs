//! R07 planted defects: each overrides one method of [`r07::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::reduction;
use diffusion_lowdim::theorem::r07;
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

/// The adversarial construction picking $W$ from the *largest* singular values of $B^\top U_g$
/// (i.e. inside $\operatorname{span}U_g$ as far as possible): an optimal basis, but not the farthest.
struct AdversarialWrongEnd;
impl r07::Subject for AdversarialWrongEnd {
    fn adversarial_optimal_basis(
        &self,
        x: MatRef<'_, f64>,
        u_g: MatRef<'_, f64>,
    ) -> Result<(Mat<f64>, usize, f64)> {
        let (d, r) = (x.nrows(), u_g.ncols());
        let svd = x.svd().expect("SVD");
        let s = svd.S();
        let m = d.min(x.ncols());
        let tol = d.max(x.ncols()) as f64 * f64::EPSILON * s[0];
        let k = (0..m).take_while(|&j| s[j] > tol).count();
        let b = svd.U().subcols(k, d - k);
        let g = b.transpose() * u_g;
        let gs = g.svd().expect("SVD");
        let mut out = Mat::<f64>::zeros(d, r);
        out.as_mut()
            .subcols_mut(0, k)
            .copy_from(svd.U().subcols(0, k));
        let w = b * gs.U().subcols(0, r - k);
        out.as_mut().subcols_mut(k, r - k).copy_from(w.as_ref());
        Ok((out, k, if k > 0 { s[k - 1] } else { 0.0 }))
    }
}

#[test]
fn r07_planted_adversarial_wrong_end() {
    let report = run("R07", 4, |rng| {
        r07::run_case_with(rng, &AdversarialWrongEnd)
    });
    caught(&report, "adversarial_error_exact");
}

/// The largest error stated as $\sqrt{2(r-k)}$, ignoring $d - r < r - k$.
struct MaxErrorIgnoresD;
impl r07::Subject for MaxErrorIgnoresD {
    fn max_optimal_error(&self, _d: usize, r: usize, k: usize) -> f64 {
        (2.0 * (r - k) as f64).sqrt()
    }
}

#[test]
fn r07_planted_max_error_ignores_d() {
    let report = run("R07", 16, |rng| r07::run_case_with(rng, &MaxErrorIgnoresD));
    caught(&report, "adversarial_error_exact");
}

/// The failure bound with $2$ in place of $\sqrt2$.
struct LowerBoundFactorTwo;
impl r07::Subject for LowerBoundFactorTwo {
    fn failure_lower_bound(&self, e_fro: f64, e_op: f64, m: usize, sigma_k: f64) -> f64 {
        2f64.sqrt() * reduction::failure_lower_bound(e_fro, e_op, m, sigma_k)
    }
}

#[test]
fn r07_planted_lower_bound_factor_two() {
    let report = run("R07", 4, |rng| {
        r07::run_case_with(rng, &LowerBoundFactorTwo)
    });
    caught(&report, "failure_lower_bound");
}

/// The generic optimal basis completed from the leading singular vectors of $X$ *without* them:
/// random orthonormal directions only (an optimizer that ignores the data).
struct OptimalBasisIgnoresData;
impl r07::Subject for OptimalBasisIgnoresData {
    fn optimal_basis(&self, x: MatRef<'_, f64>, r: usize, seed: u64) -> Result<Mat<f64>> {
        diffusion_lowdim::linalg::random_orthonormal(
            &mut diffusion_lowdim::rng::seeded(seed),
            x.nrows(),
            r,
        )
    }
}

#[test]
fn r07_planted_optimal_basis_ignores_data() {
    let report = run("R07", 4, |rng| {
        r07::run_case_with(rng, &OptimalBasisIgnoresData)
    });
    caught(&report, "contains_span_x");
}
