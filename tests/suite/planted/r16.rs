//! R16 planted defects.

use diffusion_lowdim::metric::shallow_diffuse_h;
use diffusion_lowdim::model::Gaussian;
use diffusion_lowdim::rng::{SeededRng, standard_normal};
use diffusion_lowdim::theorem::r16::{self, Subject};
use diffusion_lowdim::{NoiseLevel, Result};
use faer::{Mat, MatRef};

use super::{assert_caught, run};

/// The denoiser $gx$ (the full-rank shrinkage) in place of $gUU^\top x$.
struct IdentityDenoiser;
impl Subject for IdentityDenoiser {
    fn posterior_mean(
        &self,
        _model: &Gaussian,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        let g = level.shrinkage();
        Ok(Mat::from_fn(x_t.nrows(), x_t.ncols(), |i, j| {
            g * x_t[(i, j)]
        }))
    }
}

#[test]
fn r16_planted_identity_denoiser() {
    let report = run("R16", 8, |rng| r16::run_case_with(rng, &IdentityDenoiser));
    assert_caught(&report, "linear_change");
    assert_caught(&report, "sphere_law");
}

/// $h(r)$ with $9\pi^3$ for $18\pi^3$.
struct HalfConstant;
impl Subject for HalfConstant {
    fn h(&self, r: usize, d: usize) -> Result<f64> {
        let (rf, df) = (r as f64, d as f64);
        let pi3 = core::f64::consts::PI.powi(3);
        Ok((rf / df + (9.0 * pi3 / (df - 2.0) * (2.0 * rf).ln()).sqrt()).sqrt())
    }
}

#[test]
fn r16_planted_h_half_constant() {
    let report = run("R16", 4, |rng| r16::run_case_with(rng, &HalfConstant));
    assert_caught(&report, "h_formula");
}

/// $h(r)^2$ returned for $h(r)$ (the outer square root missing).
struct HMissingSqrt;
impl Subject for HMissingSqrt {
    fn h(&self, r: usize, d: usize) -> Result<f64> {
        Ok(shallow_diffuse_h(r, d)?.powi(2))
    }
}

#[test]
fn r16_planted_h_missing_sqrt() {
    let report = run("R16", 4, |rng| r16::run_case_with(rng, &HMissingSqrt));
    assert_caught(&report, "h_formula");
}

/// The Lipschitz constant $1/\alpha$ (the shrinkage without the noise) in place of
/// $\alpha/(\alpha^2+\beta^2)$.
struct InverseAlpha;
impl Subject for InverseAlpha {
    fn lipschitz(&self, level: NoiseLevel) -> f64 {
        1.0 / level.alpha()
    }
}

#[test]
fn r16_planted_lipschitz_inverse_alpha() {
    let report = run("R16", 4, |rng| r16::run_case_with(rng, &InverseAlpha));
    assert_caught(&report, "lipschitz");
}

/// Standard normal perturbations, not normalized to the sphere.
struct UnnormalizedSphere;
impl Subject for UnnormalizedSphere {
    fn uniform_sphere(&self, rng: &mut SeededRng, d: usize, m: usize) -> Mat<f64> {
        standard_normal(rng, d, m)
    }
}

#[test]
fn r16_planted_sphere_unnormalized() {
    let report = run("R16", 4, |rng| r16::run_case_with(rng, &UnnormalizedSphere));
    assert_caught(&report, "sphere_norm");
    assert_caught(&report, "sphere_law");
}

/// The Beta tail at $c$ instead of $c^2$.
struct TailUnsquared;
impl Subject for TailUnsquared {
    fn sphere_projection_tail(&self, r: usize, d: usize, c: f64) -> Result<f64> {
        diffusion_lowdim::metric::sphere_projection_tail(r, d, c.sqrt())
    }
}

#[test]
fn r16_planted_tail_unsquared() {
    let report = run("R16", 8, |rng| r16::run_case_with(rng, &TailUnsquared));
    assert_caught(&report, "tail_series");
}
