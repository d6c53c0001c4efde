//! R02 planted defects: each overrides one method of [`r02::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::level::NoiseLevel;
use diffusion_lowdim::model::{Denoiser, ExactModel, Gaussian};
use diffusion_lowdim::theorem::r02;
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

/// The log-density without its $-\frac12\log\det C$ term.
struct LogDetDropped;
impl r02::Subject for LogDetDropped {
    fn log_density(&self, m: &Gaussian, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Vec<f64>> {
        let d = m.mean().len();
        let logdet: f64 = m
            .variances()
            .iter()
            .map(|&v| l.log_marginal_variance(v))
            .sum::<f64>()
            + (d - m.rank()) as f64 * 2.0 * l.beta().ln();
        Ok(m.log_density(x, l)?
            .into_iter()
            .map(|v| v + 0.5 * logdet)
            .collect())
    }
}

#[test]
fn r02_planted_log_det_dropped() {
    let report = run("R02", 8, |rng| r02::run_case_with(rng, &LogDetDropped));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "dense_dd");
}

/// The posterior mean without $\mu$: $U\operatorname{diag}(g)U^\top(x_t - \alpha\mu)$.
struct MeanMissingMu;
impl r02::Subject for MeanMissingMu {
    fn posterior_mean(&self, m: &Gaussian, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        let mean = m.posterior_mean(x, l)?;
        let mu = m.mean();
        Ok(Mat::from_fn(mean.nrows(), mean.ncols(), |i, j| {
            mean[(i, j)] - mu[i]
        }))
    }
}

#[test]
fn r02_planted_mean_missing_mu() {
    let report = run("R02", 8, |rng| r02::run_case_with(rng, &MeanMissingMu));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "projector_dd");
    assert_caught(&report, "dense_dd");
}

/// The score with its sign flipped.
struct ScoreSignFlipped;
impl r02::Subject for ScoreSignFlipped {
    fn score(&self, m: &Gaussian, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        Ok(-m.score(x, l)?)
    }
}

#[test]
fn r02_planted_score_sign_flipped() {
    let report = run("R02", 8, |rng| r02::run_case_with(rng, &ScoreSignFlipped));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "dense_dd");
}

/// The Jacobian without its factor α: $\Sigma C^{-1}$.
struct JacobianMissingAlpha;
impl r02::Subject for JacobianMissingAlpha {
    fn jacobian(&self, m: &Gaussian, x: ColRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        Ok(m.jacobian(x, l)? * faer::Scale(1.0 / l.alpha()))
    }
}

#[test]
fn r02_planted_jacobian_missing_alpha() {
    let report = run("R02", 8, |rng| {
        r02::run_case_with(rng, &JacobianMissingAlpha)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "jacobian_dd");
}
