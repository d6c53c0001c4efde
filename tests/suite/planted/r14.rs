//! R14 planted defects.

use diffusion_lowdim::model::jacobian::{JacobianStructure, analyze};
use diffusion_lowdim::theorem::instance::AnyModel;
use diffusion_lowdim::theorem::r14::{self, Subject};
use diffusion_lowdim::{NoiseLevel, Result};
use faer::{ColRef, Mat, MatRef};

use super::{assert_caught, run};

/// The MoLRG Jacobian without the softmax-covariance (between-component) term:
/// $\sum_kw_kU_k\operatorname{diag}(g(\lambda_k))U_k^\top$ only.
struct WithinComponentsOnly;
impl Subject for WithinComponentsOnly {
    fn jacobian(
        &self,
        model: &AnyModel,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        let AnyModel::Molrg(m) = model else {
            return model.as_exact().jacobian(x_t, level);
        };
        let d = x_t.nrows();
        let w = m.posterior_weights(x_t.as_mat(), level)?;
        let mut j = Mat::<f64>::zeros(d, d);
        for k in 0..m.num_components() {
            let (u, lam) = (m.basis(k), m.variances(k));
            for a in 0..d {
                for b in 0..d {
                    j[(a, b)] += (0..u.ncols())
                        .map(|c| w[(k, 0)] * level.gain(lam[c]) * u[(a, c)] * u[(b, c)])
                        .sum::<f64>();
                }
            }
        }
        Ok(j)
    }
}

#[test]
fn r14_planted_molrg_missing_covariance_term() {
    let report = run("R14", 24, |rng| {
        r14::run_case_with(rng, &WithinComponentsOnly)
    });
    assert_caught(&report, "jacobian_fd");
}

/// The Jacobian $\operatorname{Cov}[x_0\mid x_t]/\beta^2$, the factor $\alpha$ dropped.
struct AlphaDropped;
impl Subject for AlphaDropped {
    fn jacobian(
        &self,
        model: &AnyModel,
        x_t: ColRef<'_, f64>,
        level: NoiseLevel,
    ) -> Result<Mat<f64>> {
        let j = model.as_exact().jacobian(x_t, level)?;
        Ok(j * faer::Scale(1.0 / level.alpha()))
    }
}

#[test]
fn r14_planted_jacobian_alpha_dropped() {
    let report = run("R14", 4, |rng| r14::run_case_with(rng, &AlphaDropped));
    assert_caught(&report, "jacobian_fd");
    assert_caught(&report, "steering");
}

/// The energy rank off by one (the 0-based index of the crossing returned).
struct EnergyRankOffByOne;
impl Subject for EnergyRankOffByOne {
    fn analyze(&self, j: MatRef<'_, f64>) -> Result<JacobianStructure> {
        let mut s = analyze(j)?;
        s.energy_rank -= 1;
        Ok(s)
    }
}

#[test]
fn r14_planted_energy_rank_off_by_one() {
    let report = run("R14", 4, |rng| r14::run_case_with(rng, &EnergyRankOffByOne));
    assert_caught(&report, "energy_rank");
}

/// The tolerance rank without its threshold: every nonzero singular value counts, so
/// rounding-level singular values do too.
struct ToleranceRankAllNonzero;
impl Subject for ToleranceRankAllNonzero {
    fn analyze(&self, j: MatRef<'_, f64>) -> Result<JacobianStructure> {
        let mut s = analyze(j)?;
        s.tolerance_rank = s.singular_values.iter().filter(|&&v| v > 0.0).count();
        Ok(s)
    }
}

#[test]
fn r14_planted_tolerance_rank_without_threshold() {
    let report = run("R14", 8, |rng| {
        r14::run_case_with(rng, &ToleranceRankAllNonzero)
    });
    assert_caught(&report, "k1_rank");
}

/// The smallest $k$ with $\sum_{i\le k}w_i > f\sum_iw_i$ (all of them if none).
fn rank_reaching(w: &[f64], f: f64) -> usize {
    let total: f64 = w.iter().sum();
    let mut cum = 0.0;
    w.iter()
        .position(|v| {
            cum += v;
            cum > f * total
        })
        .map_or(w.len(), |k| k + 1)
}

/// The energy rank with the threshold applied to $\sum\sigma_i$ instead of $\sqrt{\sum\sigma_i^2}$.
struct EnergyOnSingularValues;
impl Subject for EnergyOnSingularValues {
    fn analyze(&self, j: MatRef<'_, f64>) -> Result<JacobianStructure> {
        let mut s = analyze(j)?;
        s.energy_rank = rank_reaching(&s.singular_values, 0.99);
        Ok(s)
    }
}

#[test]
fn r14_planted_energy_on_singular_values() {
    let report = run("R14", 24, |rng| {
        r14::run_case_with(rng, &EnergyOnSingularValues)
    });
    assert_caught(&report, "energy_rank_spectrum");
}

/// The energy rank at threshold $\theta^2 = 0.9801$ instead of $\theta = 0.99$ (on the root energy).
struct EnergyThresholdSquared;
impl Subject for EnergyThresholdSquared {
    fn analyze(&self, j: MatRef<'_, f64>) -> Result<JacobianStructure> {
        let mut s = analyze(j)?;
        // √(Σ_{i≤k}σ_i²) > 0.99²·‖J‖_F  ⇔  Σ_{i≤k}σ_i² > 0.99⁴·Σσ_i².
        let sq: Vec<f64> = s.singular_values.iter().map(|v| v * v).collect();
        s.energy_rank = rank_reaching(&sq, 0.99f64.powi(4));
        Ok(s)
    }
}

#[test]
fn r14_planted_energy_threshold_squared() {
    let report = run("R14", 24, |rng| {
        r14::run_case_with(rng, &EnergyThresholdSquared)
    });
    assert_caught(&report, "energy_rank_spectrum");
}
