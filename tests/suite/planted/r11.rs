//! R11 planted defects: each overrides one method of `r11::Subject` with a plausible bug.

use diffusion_lowdim::flow::FlowMap;
use diffusion_lowdim::flow::{Euler, GaussianFlow, Solver};
use diffusion_lowdim::metric::{LinearFeatures, Pfd, PfdEstimate, pfd_gaussians, pfd_subspaces};
use diffusion_lowdim::theorem::r11::{self, Subject};
use diffusion_lowdim::{Denoiser, Gaussian, NoiseLevel, Result};
use faer::{Mat, MatRef};

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

/// Heun replaced by Euler (order 1 instead of 2).
struct EulerSolver;
impl Subject for EulerSolver {
    fn solver(&self) -> &dyn Solver {
        &Euler
    }
}

#[test]
fn r11_planted_euler_instead_of_heun() {
    let report = run("R11", 8, |rng| r11::run_case_with(rng, &EulerSolver));
    show(&report);
    assert_caught(&report, "solver_error");
}

/// The estimate reports $\bar\delta$ (the PFD²) instead of its square root.
struct NoSqrt;
impl Subject for NoSqrt {
    fn estimate(
        &self,
        pfd: &Pfd<'_>,
        p: &dyn FlowMap,
        q: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<PfdEstimate> {
        let mut e = pfd.estimate_on(p, q, noises)?;
        e.estimate = e.squared;
        Ok(e)
    }
}

#[test]
fn r11_planted_estimate_without_square_root() {
    let report = run("R11", 8, |rng| r11::run_case_with(rng, &NoSqrt));
    show(&report);
    assert_caught(&report, "estimator_mean");
}

/// `q` is evaluated on other noises than `p` (the columns in reverse order): unpaired.
struct Unpaired;
impl Subject for Unpaired {
    fn estimate(
        &self,
        pfd: &Pfd<'_>,
        p: &dyn FlowMap,
        q: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<PfdEstimate> {
        let m = noises.ncols();
        let reversed = Mat::from_fn(noises.nrows(), m, |i, j| noises[(i, m - 1 - j)]);
        let (fp, fq) = (
            pfd.features(p, noises)?,
            pfd.features(q, reversed.as_ref())?,
        );
        let sq = (0..m)
            .map(|j| {
                (0..fp.nrows())
                    .map(|i| (fp[(i, j)] - fq[(i, j)]).powi(2))
                    .sum()
            })
            .collect();
        PfdEstimate::from_squared_distances(sq, 0.95)
    }
}

#[test]
fn r11_planted_unpaired_noises() {
    let report = run("R11", 8, |rng| r11::run_case_with(rng, &Unpaired));
    show(&report);
    assert_caught(&report, "estimator_mean");
}

/// The interval without the normal quantile: $\bar\delta \pm s_\delta/\sqrt M$ (68%, not 95%).
struct NoQuantile;
impl Subject for NoQuantile {
    fn estimate(
        &self,
        pfd: &Pfd<'_>,
        p: &dyn FlowMap,
        q: &dyn FlowMap,
        noises: MatRef<'_, f64>,
    ) -> Result<PfdEstimate> {
        let e = pfd.estimate_on(p, q, noises)?;
        let mut wrong = PfdEstimate::from_squared_distances(e.squared_distances, 0.682_689_492)?;
        wrong.confidence = e.confidence;
        Ok(wrong)
    }
}

#[test]
fn r11_planted_interval_without_quantile() {
    let report = run("R11", 8, |rng| r11::run_case_with(rng, &NoQuantile));
    show(&report);
    assert_caught(&report, "coverage");
}

/// The mean offset with a sign error: $c = (I - A_p)\mu_p + (I - A_q)\mu_q$.
struct MeanSign;
impl Subject for MeanSign {
    fn pfd_gaussians(
        &self,
        p: &Gaussian,
        q: &Gaussian,
        t_max: f64,
        feature: Option<&LinearFeatures>,
    ) -> Result<f64> {
        let from = NoiseLevel::ve(t_max)?;
        let (ap, aq) = (
            GaussianFlow::to_clean(p, from).matrix(),
            GaussianFlow::to_clean(q, from).matrix(),
        );
        let d = p.dim();
        let c = Mat::from_fn(d, 1, |i, _| {
            let mut v = p.mean()[i] + q.mean()[i];
            for j in 0..d {
                v -= ap[(i, j)] * p.mean()[j] + aq[(i, j)] * q.mean()[j];
            }
            v
        });
        let diff = Mat::from_fn(d, d, |i, j| ap[(i, j)] - aq[(i, j)]);
        let (wc, wm) = match feature {
            Some(h) => (h.matrix() * c.as_ref(), h.matrix() * diff.as_ref()),
            None => (c, diff),
        };
        Ok(wc.norm_l2().hypot(t_max * wm.norm_l2()))
    }
}

#[test]
fn r11_planted_closed_form_mean_sign() {
    let report = run("R11", 16, |rng| r11::run_case_with(rng, &MeanSign));
    show(&report);
    assert_caught(&report, "closed_form");
}

/// The closed form without $T$ on the linear part: $\|Wc\|^2 + \|W(A_p - A_q)\|_F^2$.
struct NoNoiseScale;
impl Subject for NoNoiseScale {
    fn pfd_gaussians(
        &self,
        p: &Gaussian,
        q: &Gaussian,
        t_max: f64,
        feature: Option<&LinearFeatures>,
    ) -> Result<f64> {
        // T·X and X agree only at T = 1: rescale the linear part by 1/T.
        let zero = vec![0.0; p.dim()];
        let centered = |g: &Gaussian| Gaussian::new(&zero, g.basis(), g.variances());
        let linear = pfd_gaussians(&centered(p)?, &centered(q)?, t_max, feature)?;
        let full = pfd_gaussians(p, q, t_max, feature)?;
        let mean_sq = (full * full - linear * linear).max(0.0);
        Ok(mean_sq.sqrt().hypot(linear / t_max))
    }
}

#[test]
fn r11_planted_closed_form_without_noise_scale() {
    let report = run("R11", 8, |rng| r11::run_case_with(rng, &NoNoiseScale));
    show(&report);
    assert_caught(&report, "closed_form");
}

/// The subspace factor $T/(1 + T^2)$ instead of $T/\sqrt{1 + T^2}$.
struct SubspaceFactor;
impl Subject for SubspaceFactor {
    fn pfd_subspaces(&self, u1: MatRef<'_, f64>, u2: MatRef<'_, f64>, t_max: f64) -> Result<f64> {
        Ok(pfd_subspaces(u1, u2, t_max)? / 1f64.hypot(t_max))
    }
}

#[test]
fn r11_planted_subspace_factor_without_square_root() {
    let report = run("R11", 8, |rng| r11::run_case_with(rng, &SubspaceFactor));
    show(&report);
    assert_caught(&report, "closed_form_subspace");
}
