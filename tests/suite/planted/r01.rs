//! R01 planted defects: each overrides one method of [`r01::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::level::NoiseLevel;
use diffusion_lowdim::model::ExactModel;
use diffusion_lowdim::theorem::r01;
use diffusion_lowdim::tweedie::Prediction;
use faer::{Mat, MatRef};

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

/// The score with its sign flipped ($+\varepsilon/\beta$).
struct ScoreSignFlipped;
impl r01::Subject for ScoreSignFlipped {
    fn score(&self, m: &dyn ExactModel, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        Ok(-m.score(x, l)?)
    }
}

#[test]
fn r01_planted_score_sign_flipped() {
    let report = run("R01", 16, |rng| r01::run_case_with(rng, &ScoreSignFlipped));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "tweedie_analytic");
    assert_caught(&report, "conversions");
}

/// $\hat x_0 \to \hat\varepsilon$ with α and β swapped: $(x_t - \beta\hat x_0)/\alpha$.
struct EpsAlphaBetaSwapped;
impl r01::Subject for EpsAlphaBetaSwapped {
    fn convert(
        &self,
        from: Prediction,
        value: MatRef<'_, f64>,
        x: MatRef<'_, f64>,
        l: NoiseLevel,
        to: Prediction,
    ) -> Result<Mat<f64>> {
        if from == Prediction::X0 && to == Prediction::Eps {
            let (a, b) = (l.alpha(), l.beta());
            Ok(Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
                (x[(i, j)] - b * value[(i, j)]) / a
            }))
        } else {
            diffusion_lowdim::tweedie::convert(from, value, x, l, to)
        }
    }
}

#[test]
fn r01_planted_eps_conversion_alpha_beta_swapped() {
    let report = run("R01", 8, |rng| {
        r01::run_case_with(rng, &EpsAlphaBetaSwapped)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "conversions");
}

/// $\log p_t$ evaluated with the variance $\beta$ in place of $\beta^2$ (the level's β squared).
struct LogDensityBetaForBetaSquared;
impl r01::Subject for LogDensityBetaForBetaSquared {
    fn log_density(
        &self,
        m: &dyn ExactModel,
        x: MatRef<'_, f64>,
        l: NoiseLevel,
    ) -> Result<Vec<f64>> {
        m.log_density(x, NoiseLevel::new(l.alpha(), l.beta().sqrt())?)
    }
}

#[test]
fn r01_planted_log_density_beta_for_beta_squared() {
    let report = run("R01", 8, |rng| {
        r01::run_case_with(rng, &LogDensityBetaForBetaSquared)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "tweedie_fd");
}

/// Tweedie without the division by α: the posterior mean returned as $x_t + \beta^2 s$.
struct MeanMissingAlpha;
impl r01::Subject for MeanMissingAlpha {
    fn posterior_mean(
        &self,
        m: &dyn ExactModel,
        x: MatRef<'_, f64>,
        l: NoiseLevel,
    ) -> Result<Mat<f64>> {
        Ok(m.posterior_mean(x, l)? * faer::Scale(l.alpha()))
    }
}

#[test]
fn r01_planted_mean_missing_alpha() {
    let report = run("R01", 8, |rng| r01::run_case_with(rng, &MeanMissingAlpha));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "tweedie_fd");
    assert_caught(&report, "tweedie_analytic");
}
