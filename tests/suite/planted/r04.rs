//! R04 planted defects: each overrides one method of [`r04::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::level::NoiseLevel;
use diffusion_lowdim::model::{Denoiser, Empirical, ExactModel};
use diffusion_lowdim::theorem::r04;
use faer::{ColRef, Mat, MatRef};

use super::{assert_caught, run};

/// `(facet, failed instances, measured instances)` for every failed facet (shown with `--nocapture`).
fn failure_counts(
    r: &diffusion_lowdim::theorem::ResultReport,
) -> Vec<(&'static str, usize, usize)> {
    r.facets
        .iter()
        .filter(|f| f.failures > 0)
        .map(|f| (f.name, f.failures, f.instances))
        .collect()
}

/// The softmax with temperature β instead of β²: $s_i \propto e^{-\|x_t - \alpha x^{(i)}\|^2/2\beta}$.
struct SoftmaxBetaNotSquared;
impl r04::Subject for SoftmaxBetaNotSquared {
    fn posterior_mean(&self, m: &Empirical, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        m.posterior_mean(x, NoiseLevel::new(l.alpha(), l.beta().sqrt())?)
    }
}

#[test]
fn r04_planted_softmax_beta_not_squared() {
    let report = run("R04", 16, |rng| {
        r04::run_case_with(rng, &SoftmaxBetaNotSquared)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "formula_dd");
    assert_caught(&report, "high_noise_expansion");
}

/// The nearest training point (closest $\alpha x^{(i)}$ to $x_t$) returned at every level.
struct NearestPointAlways;
impl r04::Subject for NearestPointAlways {
    fn posterior_mean(&self, m: &Empirical, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        let p = m.points();
        let (d, n) = (p.nrows(), p.ncols());
        let mut out = Mat::<f64>::zeros(d, x.ncols());
        for j in 0..x.ncols() {
            let dist = |i: usize| -> f64 {
                (0..d)
                    .map(|a| (x[(a, j)] - l.alpha() * p[(a, i)]).powi(2))
                    .sum()
            };
            let star = (0..n)
                .min_by(|&a, &b| dist(a).total_cmp(&dist(b)))
                .unwrap_or(0);
            for a in 0..d {
                out[(a, j)] = p[(a, star)];
            }
        }
        Ok(out)
    }
}

#[test]
fn r04_planted_nearest_point_always() {
    let report = run("R04", 16, |rng| {
        r04::run_case_with(rng, &NearestPointAlways)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "formula_dd");
    assert_caught(&report, "high_noise_expansion");
}

/// The score divided by β instead of β²: $(\alpha\hat x_0 - x_t)/\beta$.
struct ScoreOverBeta;
impl r04::Subject for ScoreOverBeta {
    fn score(&self, m: &Empirical, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        Ok(m.score(x, l)? * faer::Scale(l.beta()))
    }
}

#[test]
fn r04_planted_score_over_beta() {
    let report = run("R04", 8, |rng| r04::run_case_with(rng, &ScoreOverBeta));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "formula_dd");
}

/// The Jacobian without its factor α.
struct JacobianMissingAlpha;
impl r04::Subject for JacobianMissingAlpha {
    fn jacobian(&self, m: &Empirical, x: ColRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        Ok(m.jacobian(x, l)? * faer::Scale(1.0 / l.alpha()))
    }
}

#[test]
fn r04_planted_jacobian_missing_alpha() {
    let report = run("R04", 16, |rng| {
        r04::run_case_with(rng, &JacobianMissingAlpha)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "jacobian_dd");
}

/// Ties broken towards the first index: the weight of a duplicated point moved onto
/// its first copy.
struct TiesToFirst;
impl r04::Subject for TiesToFirst {
    fn posterior_weights(
        &self,
        m: &Empirical,
        x: ColRef<'_, f64>,
        l: NoiseLevel,
    ) -> Result<Vec<(usize, f64)>> {
        let p = m.points();
        let w = m.posterior_weights(x, l)?;
        let first = |i: usize| {
            (0..i)
                .find(|&j| (0..p.nrows()).all(|a| p[(a, j)] == p[(a, i)]))
                .unwrap_or(i)
        };
        let mut out: Vec<(usize, f64)> = Vec::new();
        for (i, s) in w {
            let f = first(i);
            match out.iter_mut().find(|e| e.0 == f) {
                Some(e) => e.1 += s,
                None => out.push((f, s)),
            }
        }
        Ok(out)
    }
}

#[test]
fn r04_planted_ties_to_first() {
    let report = run("R04", 24, |rng| r04::run_case_with(rng, &TiesToFirst));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "tie_split");
}
