//! R14: Jacobians $J = \nabla_{x_t}\mathbb E[x_0\mid x_t]$, output `(B, d, d)`.
//!
//! Oracles, all dense and in double-double: $\alpha\Sigma(\alpha^2\Sigma+\beta^2I)^{-1}$ by
//! Cholesky for Gaussians ([`reference::gaussian_jacobian_dense`]),
//! $\sum_kw_k\alpha\Sigma_kC_k^{-1} + \frac\alpha{\beta^2}\sum_kw_k(m_k-m)(m_k-m)^\top$ from dense
//! covariances for MoLRG ([`reference::mixture_jacobian_dense`]), and
//! $\frac\alpha{\beta^2}\sum_is_i(x^{(i)}-m)(x^{(i)}-m)^\top$ for the empirical model
//! ([`reference::empirical_jacobian`]). Scales as `theorem::r02`–`r04`'s `jacobian_dd`
//! facets; the weight terms are those of the posterior means (R03, R04), applied
//! to both factors of the outer products.

use faer::Mat;
use rand::RngExt;

use super::r04::{logit_errors, mean_weight_error};
use super::{SuiteBuilder, col, dist_q, eval_command, gaussian, norm, qv, stack_q};
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma, weight_perturbation};
use crate::io::Result;
use crate::io::model_file::{ComponentSpec, GaussianCovariance, Model, ModelSpec};
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::linalg::{mul, random_orthonormal};
use crate::model::ExactModel;
use crate::reference::{self, Q};
use crate::service::eval::{Quantity, evaluate_matrix};
use crate::theorem::instance::log_uniform;

#[allow(clippy::too_many_arguments)]
fn add(
    s: &mut SuiteBuilder,
    id: &str,
    path: &str,
    model: &dyn ExactModel,
    description: &str,
    level: NoiseLevel,
    x: &Mat<f64>,
    expected: Vec<Vec<Vec<Q>>>,
    points: Vec<PointTolerance>,
) -> Result<()> {
    let crate_value = evaluate_matrix(model, x, level, Quantity::Jacobian)?;
    s.add_case(NewCase {
        command: eval_command("jacobian", path, id, level),
        description: format!(
            "Jacobian of {description} at (alpha, beta) = ({}, {})",
            level.alpha(),
            level.beta()
        ),
        id: id.to_string(),
        family: "R14",
        kind: "jacobian",
        params: serde_json::json!({}),
        model: Some(path.to_string()),
        level: Some(level),
        inputs: vec![("x", Array::from_batch(x.as_ref()))],
        expected: stack_q(&expected),
        crate_value,
        points,
    })
}

fn typical(
    rng: &mut crate::rng::SeededRng,
    m: &dyn ExactModel,
    level: NoiseLevel,
    b: usize,
) -> Mat<f64> {
    let x0 = m.sample_x0(rng, b);
    let e = gaussian(rng, m.dim(), b);
    Mat::from_fn(m.dim(), b, |i, j| {
        level.alpha() * x0[(i, j)] + level.beta() * e[(i, j)]
    })
}

#[allow(clippy::too_many_lines)]
pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("R14");
    let nb = 3;

    // Gaussians: a low-rank one and a full covariance.
    for (name, full) in [
        ("jacobian-gaussian-lowrank", false),
        ("jacobian-gaussian-full", true),
    ] {
        let d = if full { 6 } else { 8 };
        let r = if full { 6 } else { 3 };
        let u = random_orthonormal(&mut rng, d, r)?;
        let lam: Vec<f64> = (0..r).map(|_| log_uniform(&mut rng, -0.3, 0.3)).collect();
        let mu: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
        let scaled = Mat::from_fn(d, r, |i, j| u[(i, j)] * lam[j]);
        let sig = mul(scaled.as_ref(), u.transpose());
        let sig = Mat::from_fn(d, d, |i, j| 0.5 * (sig[(i, j)] + sig[(j, i)]));
        let (spec, dense) = if full {
            let dense = reference::dense(sig.as_ref());
            (
                ModelSpec::Gaussian {
                    mean: mu,
                    covariance: GaussianCovariance::Full(sig),
                },
                dense,
            )
        } else {
            (
                ModelSpec::Gaussian {
                    mean: mu,
                    covariance: GaussianCovariance::Basis {
                        basis: u.clone(),
                        variances: lam.clone(),
                    },
                },
                reference::dense_covariance(u.as_ref(), &lam),
            )
        };
        let (path, m) = s.add_model(
            name,
            &spec,
            if full {
                "full-covariance Gaussian in R^6, eigenvalues in [0.5, 2]"
            } else {
                "rank-3 Gaussian in R^8, variances in [0.5, 2]"
            },
        )?;
        let Model::Gaussian(g) = m else {
            unreachable!("a Gaussian spec builds a Gaussian")
        };
        let level = NoiseLevel::new(0.8, 0.6)?;
        let x = typical(&mut rng, &g, level, nb);
        let (lmax, lmin) = (
            g.variances().iter().cloned().fold(0.0, f64::max),
            g.variances().iter().cloned().fold(f64::INFINITY, f64::min),
        );
        let cond_c = (0.64 * lmax + 0.36) / (0.64 * lmin + 0.36);
        let kappa = if full { cond_c * (1.0 + cond_c) } else { 1.0 };
        let scale = norm(
            &g.variances()
                .iter()
                .map(|&l| level.gain(l))
                .collect::<Vec<_>>(),
        );
        let jref = reference::gaussian_jacobian_dense(&dense, 0.8, 0.6);
        let expected = vec![jref; nb];
        let points = (0..nb)
            .map(|_| PointTolerance::from_fn(scale, |t| C * gamma(t, d + r + 4) * kappa))
            .collect();
        let id = format!("r14-{name}-moderate");
        let desc = if full {
            "a full-covariance Gaussian (oracle: dense Cholesky)"
        } else {
            "a rank-3 Gaussian"
        };
        add(s, &id, &path, &g, desc, level, &x, expected, points)?;
    }

    // MoLRG with unequal π, ranks and variances (independent bases), typical points.
    let d = 10;
    let ranks = [2usize, 3];
    let comps: Vec<ComponentSpec> = ranks
        .iter()
        .map(|&r| -> Result<ComponentSpec> {
            Ok(ComponentSpec {
                basis: random_orthonormal(&mut rng, d, r)?,
                variances: Some((0..r).map(|_| log_uniform(&mut rng, -0.5, 0.5)).collect()),
            })
        })
        .collect::<Result<_>>()?;
    let pi = vec![0.6, 0.4];
    let spec = ModelSpec::Molrg {
        weights: pi.clone(),
        components: comps.clone(),
    };
    let (path, m) = s.add_model(
        "jacobian-molrg",
        &spec,
        "MoLRG in R^10, pi = (0.6, 0.4), ranks (2, 3), variances in [0.3, 3.2], independent bases",
    )?;
    let Model::Molrg(mix) = m else {
        unreachable!("a MoLRG spec builds a MoLRG")
    };
    let level = NoiseLevel::new(0.9, 0.4)?;
    let x = typical(&mut rng, &mix, level, nb);
    let covs: Vec<Vec<Vec<Q>>> = comps
        .iter()
        .map(|c| {
            reference::dense_covariance(c.basis.as_ref(), c.variances.as_deref().unwrap_or(&[]))
        })
        .collect();
    let refs: Vec<_> = comps.iter().map(|c| c.basis.as_ref()).collect();
    let vars: Vec<Vec<f64>> = comps
        .iter()
        .map(|c| c.variances.clone().unwrap_or_default())
        .collect();
    let coef = level.alpha() / (level.beta() * level.beta());
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for j in 0..nb {
        let xj = col(&x, j);
        expected.push(reference::mixture_jacobian_dense(&pi, &covs, &xj, 0.9, 0.4));
        let at = reference::molrg_formula_at(&pi, &refs, &vars, &xj, 0.9, 0.4, false);
        let w: Vec<f64> = at.weights.iter().map(|&v| reference::f(v)).collect();
        let dk: Vec<f64> = at
            .component_means
            .iter()
            .map(|mk| dist_q(mk, &at.mean))
            .collect();
        let gk: Vec<f64> = vars
            .iter()
            .map(|v| norm(&v.iter().map(|&l| level.gain(l)).collect::<Vec<_>>()))
            .collect();
        let scale: f64 = w.iter().zip(&gk).map(|(a, b)| a * b).sum::<f64>()
            + coef * w.iter().zip(&dk).map(|(a, b)| a * b * b).sum::<f64>();
        let offs: Vec<f64> = pi
            .iter()
            .zip(&vars)
            .map(|(p, lam)| p.ln() - lam.iter().map(|&l| level.half_log1p_snr(l)).sum::<f64>())
            .collect();
        let mmax = at
            .component_means
            .iter()
            .map(|mk| reference::norm(mk))
            .fold(0.0, f64::max);
        let rsum: usize = ranks.iter().sum();
        points.push(PointTolerance::from_fn(scale, |t| {
            let eta: Vec<f64> = at
                .logits
                .iter()
                .zip(&offs)
                .zip(&ranks)
                .map(|((l, o), r)| {
                    C * gamma(t, d + r + 4) * (2.0 * (reference::f(*l) - o).abs() + o.abs() + 1.0)
                })
                .collect();
            let per: Vec<f64> = gk
                .iter()
                .zip(&dk)
                .map(|(g, dd)| g + coef * dd * dd)
                .collect();
            let (err_j, err_m) = match weight_perturbation(&w, &eta) {
                Some(dw) => (
                    dw.iter().zip(&per).map(|(a, b)| a * b).sum::<f64>(),
                    dw.iter().zip(&dk).map(|(a, b)| a * b).sum::<f64>(),
                ),
                None => (
                    2.0 * per.iter().cloned().fold(0.0, f64::max),
                    2.0 * dk.iter().cloned().fold(0.0, f64::max),
                ),
            };
            let round = C * gamma(t, d + rsum + 4);
            let outer: f64 = 2.0
                * coef
                * w.iter()
                    .zip(&dk)
                    .map(|(a, b)| {
                        a * b * (err_m + round * (mmax + dk.iter().cloned().fold(0.0, f64::max)))
                    })
                    .sum::<f64>();
            round + (err_j + outer) / scale
        }));
    }
    add(
        s,
        "r14-jacobian-molrg-moderate",
        &path,
        &mix,
        "a MoLRG with unequal pi, r_k and Lambda_k (includes the softmax-weight terms)",
        level,
        &x,
        expected,
        points,
    )?;

    // Empirical: (α/β²) Σ s_i v_i v_iᵀ.
    let (d, n) = (6usize, 10usize);
    let pts = gaussian(&mut rng, d, n);
    let spec = ModelSpec::Empirical {
        points: pts.clone(),
    };
    let (path, m) = s.add_model(
        "jacobian-empirical",
        &spec,
        "empirical distribution of N = 10 standard normal points in R^6",
    )?;
    let Model::Empirical(emp) = m else {
        unreachable!("an empirical spec builds an empirical model")
    };
    let level = NoiseLevel::new(0.9, 0.5)?;
    let e = gaussian(&mut rng, d, nb);
    let x = Mat::from_fn(d, nb, |l, j| 0.9 * pts[(l, j)] + 0.5 * e[(l, j)]);
    let coef = level.alpha() / (level.beta() * level.beta());
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for j in 0..nb {
        let xj = col(&x, j);
        expected.push(reference::empirical_jacobian(pts.as_ref(), &xj, 0.9, 0.5));
        let (rm, _, rw) = reference::empirical_at(pts.as_ref(), &xj, 0.9, 0.5);
        let w: Vec<f64> = rw.iter().map(|&v| reference::f(v)).collect();
        let mean = qv(&rm);
        let vn: Vec<f64> = (0..n)
            .map(|i| {
                norm(
                    &col(&pts, i)
                        .iter()
                        .zip(&mean)
                        .map(|(a, b)| a - b)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let scale = coef * w.iter().zip(&vn).map(|(a, b)| a * b * b).sum::<f64>();
        let pmax = (0..n).map(|i| norm(&col(&pts, i))).fold(0.0, f64::max);
        points.push(PointTolerance::from_fn(scale, |t| {
            let eta = logit_errors(&pts, &xj, level, t);
            let (err_m, spread) = mean_weight_error(&pts, &w, &mean, &eta);
            let round = C * gamma(t, d + n + 4);
            let err_j = match weight_perturbation(&w, &eta) {
                Some(dw) => coef * dw.iter().zip(&vn).map(|(a, b)| a * b * b).sum::<f64>(),
                None => 2.0 * coef * vn.iter().map(|v| v * v).fold(0.0, f64::max),
            };
            let outer = 2.0 * coef * spread * (err_m + round * (norm(&mean) + pmax));
            round + (err_j + outer) / scale
        }));
    }
    add(
        s,
        "r14-jacobian-empirical-moderate",
        &path,
        &emp,
        "the empirical distribution of 10 points in R^6",
        level,
        &x,
        expected,
        points,
    )?;
    Ok(())
}
