//! R03 planted defects: each overrides one method of [`r03::Subject`].

use diffusion_lowdim::error::Result;
use diffusion_lowdim::level::NoiseLevel;
use diffusion_lowdim::model::{Denoiser, Molrg};
use diffusion_lowdim::theorem::r03;
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

/// The same components with other prior weights (the variances kept).
fn reweighted(m: &Molrg, log_pi: &[f64]) -> Result<Molrg> {
    let top = log_pi.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let raw: Vec<f64> = log_pi.iter().map(|l| (l - top).exp()).collect();
    let sum: f64 = raw.iter().sum();
    let pi: Vec<f64> = raw.iter().map(|w| w / sum).collect();
    let k = m.num_components();
    let bases: Vec<MatRef<'_, f64>> = (0..k).map(|j| m.basis(j)).collect();
    let variances: Vec<Vec<f64>> = (0..k).map(|j| m.variances(j).to_vec()).collect();
    Molrg::with_variances(&pi, &bases, &variances)
}

/// The posterior mean with the prior weights $\pi_k$ dropped from the mixture weights.
struct PiDropped;
impl r03::Subject for PiDropped {
    fn posterior_mean(&self, m: &Molrg, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        let k = m.num_components();
        reweighted(m, &vec![0.0; k])?.posterior_mean(x, l)
    }
}

#[test]
fn r03_planted_pi_dropped() {
    let report = run("R03", 16, |rng| r03::run_case_with(rng, &PiDropped));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "formula_dd");
    assert_caught(&report, "dense_mixture_dd");
}

/// The mixture weights without the $-\frac12\log\det(\alpha^2\Sigma_k+\beta^2I)$ term
/// (equivalently, $\pi_k$ multiplied by $\prod_i(1+\alpha^2\lambda_{k,i}/\beta^2)^{1/2}$).
struct LogDetDropped;
impl r03::Subject for LogDetDropped {
    fn posterior_mean(&self, m: &Molrg, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        let log_pi: Vec<f64> = (0..m.num_components())
            .map(|k| {
                m.weights()[k].ln()
                    + m.variances(k)
                        .iter()
                        .map(|&v| l.half_log1p_snr(v))
                        .sum::<f64>()
            })
            .collect();
        reweighted(m, &log_pi)?.posterior_mean(x, l)
    }
}

#[test]
fn r03_planted_log_det_dropped() {
    let report = run("R03", 16, |rng| r03::run_case_with(rng, &LogDetDropped));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "dense_mixture_dd");
}

/// The posterior mean with the logits' quadratic term at twice its weight (temperature
/// $\beta^2/2$ instead of $\beta^2$): $w_k \propto \pi_k e^{-\frac12\log\det C_k + 2\kappa_k(x)}$, written out.
struct TemperatureHalved;
impl r03::Subject for TemperatureHalved {
    fn posterior_mean(&self, m: &Molrg, x: MatRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        let (d, kk) = (x.nrows(), m.num_components());
        let mut out = Mat::<f64>::zeros(d, x.ncols());
        for j in 0..x.ncols() {
            let mut logits = Vec::with_capacity(kk);
            let mut means = Vec::with_capacity(kk);
            for k in 0..kk {
                let u = m.basis(k);
                let lam = m.variances(k);
                let mut logit = m.weights()[k].ln();
                let mut mk = vec![0.0; d];
                for (i, &v) in lam.iter().enumerate() {
                    let c: f64 = (0..d).map(|a| u[(a, i)] * x[(a, j)]).sum();
                    logit += 2.0 * l.logit_coefficient(v) * c * c - l.half_log1p_snr(v);
                    for (a, mka) in mk.iter_mut().enumerate() {
                        *mka += u[(a, i)] * l.gain(v) * c;
                    }
                }
                logits.push(logit);
                means.push(mk);
            }
            let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let w: Vec<f64> = logits.iter().map(|v| (v - top).exp()).collect();
            let sum: f64 = w.iter().sum();
            for k in 0..kk {
                for a in 0..d {
                    out[(a, j)] += w[k] / sum * means[k][a];
                }
            }
        }
        Ok(out)
    }
}

#[test]
fn r03_planted_temperature_halved() {
    let report = run("R03", 16, |rng| r03::run_case_with(rng, &TemperatureHalved));
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "dense_mixture_dd");
}

/// The Jacobian without the between-component term $\frac{\alpha}{\beta^2}\sum_kw_k(m_k-m)(m_k-m)^\top$.
struct JacobianWithinOnly;
impl r03::Subject for JacobianWithinOnly {
    fn jacobian(&self, m: &Molrg, x: ColRef<'_, f64>, l: NoiseLevel) -> Result<Mat<f64>> {
        let d = x.nrows();
        let xm = Mat::from_fn(d, 1, |i, _| x[i]);
        let w = m.posterior_weights(xm.as_ref(), l)?;
        let mut jac = Mat::<f64>::zeros(d, d);
        for k in 0..m.num_components() {
            let u = m.basis(k);
            for (i, &v) in m.variances(k).iter().enumerate() {
                let g = w[(k, 0)] * l.gain(v);
                for a in 0..d {
                    for b in 0..d {
                        jac[(a, b)] += g * u[(a, i)] * u[(b, i)];
                    }
                }
            }
        }
        Ok(jac)
    }
}

#[test]
fn r03_planted_jacobian_within_only() {
    let report = run("R03", 16, |rng| {
        r03::run_case_with(rng, &JacobianWithinOnly)
    });
    eprintln!("{:?}", failure_counts(&report));
    assert_caught(&report, "jacobian_dd");
}
