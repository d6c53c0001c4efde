//! R15 planted defects.

use diffusion_lowdim::metric::{Affine, empirical_gaussian, optimal_affine};
use diffusion_lowdim::theorem::r15::{self, Subject};
use diffusion_lowdim::{Denoiser, ExactModel, NoiseLevel, Result};
use faer::{Mat, MatRef};

use super::{assert_caught, run};

/// The optimal affine map with the offset dropped ($b = 0$, as if the data were centred).
struct MeanDropped;
impl Subject for MeanDropped {
    fn optimal_affine(&self, train: MatRef<'_, f64>, level: NoiseLevel) -> Result<Affine> {
        let mut a = optimal_affine(train, level)?;
        a.b.iter_mut().for_each(|v| *v = 0.0);
        Ok(a)
    }
}

#[test]
fn r15_planted_mean_dropped() {
    let report = run("R15", 8, |rng| r15::run_case_with(rng, &MeanDropped));
    assert_caught(&report, "normal_equations");
}

/// The unbiased covariance $\frac1{N-1}\sum_i(x_i - \mu)(x_i - \mu)^\top$ in place of the $(1/N)$ one.
struct UnbiasedCovariance;
impl Subject for UnbiasedCovariance {
    fn optimal_affine(&self, train: MatRef<'_, f64>, level: NoiseLevel) -> Result<Affine> {
        let (d, n) = (train.nrows(), train.ncols());
        if n < 2 {
            return optimal_affine(train, level);
        }
        let mean: Vec<f64> = (0..d)
            .map(|i| (0..n).map(|j| train[(i, j)]).sum::<f64>() / n as f64)
            .collect();
        let s = (n as f64 / (n - 1) as f64).sqrt();
        let scaled = Mat::from_fn(d, n, |i, j| mean[i] + s * (train[(i, j)] - mean[i]));
        let g = empirical_gaussian(scaled.as_ref())?;
        let zero = Mat::<f64>::zeros(d, 1);
        let b0 = g.posterior_mean(zero.as_ref(), level)?;
        Ok(Affine {
            w: g.jacobian(zero.col(0), level)?,
            b: (0..d).map(|i| b0[(i, 0)]).collect(),
        })
    }
}

#[test]
fn r15_planted_unbiased_covariance() {
    let report = run("R15", 8, |rng| r15::run_case_with(rng, &UnbiasedCovariance));
    assert_caught(&report, "dense_formula");
    assert_caught(&report, "normal_equations");
}

/// The per-dimension mean squared difference, without the square root.
struct RmseMissingSqrt;
impl Subject for RmseMissingSqrt {
    fn per_dim_rmse(
        &self,
        a: &dyn Denoiser,
        b: &dyn Denoiser,
        x_t: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<f64> {
        Ok(diffusion_lowdim::metric::per_dim_rmse(a, b, x_t, level)?.powi(2))
    }
}

#[test]
fn r15_planted_rmse_missing_sqrt() {
    let report = run("R15", 4, |rng| r15::run_case_with(rng, &RmseMissingSqrt));
    assert_caught(&report, "rmse_metric");
}

/// The linearity score with weights $a = b = \frac12$ (an affine map then scores 1).
struct HalfWeights;
impl Subject for HalfWeights {
    fn linearity_score(
        &self,
        denoiser: &dyn Denoiser,
        x1: MatRef<'_, f64>,
        x2: MatRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<f64> {
        let (d, n) = (x1.nrows(), x1.ncols());
        let mix = Mat::from_fn(d, n, |i, j| 0.5 * x1[(i, j)] + 0.5 * x2[(i, j)]);
        let (dm, d1, d2) = (
            denoiser.posterior_mean(mix.as_ref(), level)?,
            denoiser.posterior_mean(x1, level)?,
            denoiser.posterior_mean(x2, level)?,
        );
        let mut total = 0.0;
        for j in 0..n {
            let u: Vec<f64> = (0..d).map(|i| dm[(i, j)]).collect();
            let v: Vec<f64> = (0..d)
                .map(|i| 0.5 * d1[(i, j)] + 0.5 * d2[(i, j)])
                .collect();
            total += diffusion_lowdim::metric::cosine_similarity(&u, &v).abs();
        }
        Ok(total / n as f64)
    }
}

#[test]
fn r15_planted_linearity_half_weights() {
    let report = run("R15", 4, |rng| r15::run_case_with(rng, &HalfWeights));
    assert_caught(&report, "linearity_affine");
}
