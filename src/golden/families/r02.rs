//! R02: Gaussian posterior mean and score.
//!
//! Oracles: the projector-form formulas in double-double
//! ([`reference::gaussian_projector_at`]) for models given by a basis, and the dense
//! formulas with a Cholesky solve in double-double ([`reference::dense_gaussian_at`])
//! for a full covariance, which is an independent derivation (the crate goes
//! through an eigendecomposition).
//!
//! Scales (as `theorem::r02`): mean $\|\mu\| + g_{\max}\|y\|$, score
//! $\|U(h\circ c)\| + \|(I-UU^\top)y\|/\beta^2$. Condition numbers: 1 for the mean given
//! a basis; for the score, $(\|x\| + \alpha\|\mu\|)\max(h_{\max}, 1/\beta^2)$ over the
//! scale (rounding $y = x - \alpha\mu$ is amplified by $1/\beta^2$ off the subspace);
//! for a full covariance both are multiplied by $\operatorname{cond}(C)(1 + \operatorname{cond}(C))$,
//! $C = \alpha^2\Sigma + \beta^2 I$ (a solve, and a perturbation of $\Sigma$).

use faer::Mat;
use rand::RngExt;

use super::{SuiteBuilder, col, eval_command, gaussian, norm, qv, rows};
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::model_file::{GaussianCovariance, ModelSpec};
use crate::level::NoiseLevel;
use crate::linalg::{mul, random_orthonormal};
use crate::model::{Denoiser, ExactModel, Gaussian};
use crate::reference::{self, Q};
use crate::service::eval::{Quantity, evaluate_matrix};
use crate::theorem::instance::log_uniform;

struct GaussianCase<'a> {
    model_path: &'a str,
    model: &'a Gaussian,
    /// Dense covariance for the oracle (`Some` for a full-covariance model).
    dense: Option<&'a Vec<Vec<Q>>>,
    tag: &'a str,
    level: NoiseLevel,
    x: Mat<f64>,
    description: &'a str,
}

impl GaussianCase<'_> {
    fn add(&self, s: &mut SuiteBuilder, quantity: Quantity) -> Result<()> {
        let m = self.model;
        let (alpha, beta) = (self.level.alpha(), self.level.beta());
        let (d, r) = (m.dim(), m.rank());
        let lmax = m.variances().iter().cloned().fold(0.0, f64::max);
        let lmin = m.variances().iter().cloned().fold(f64::INFINITY, f64::min);
        let cond_c = (alpha * alpha * lmax + beta * beta) / (alpha * alpha * lmin + beta * beta);
        let kappa_cov = if self.dense.is_some() {
            cond_c * (1.0 + cond_c)
        } else {
            1.0
        };
        let gmax = m
            .variances()
            .iter()
            .map(|&l| self.level.gain(l))
            .fold(0.0, f64::max);
        let hmax = self.level.inv_marginal_variance(lmin);
        let off = if r < d { 1.0 / (beta * beta) } else { 0.0 };
        let nmu = norm(m.mean());
        let mut expected = Vec::new();
        let mut points = Vec::new();
        for j in 0..self.x.ncols() {
            let x = col(&self.x, j);
            let at = match self.dense {
                Some(sig) => reference::dense_gaussian_at(m.mean(), sig, &x, alpha, beta),
                None => reference::gaussian_projector_at(
                    m.mean(),
                    m.basis(),
                    m.variances(),
                    &x,
                    alpha,
                    beta,
                ),
            };
            match quantity {
                Quantity::PosteriorMean => {
                    let scale = reference::mean_scale(m.mean(), gmax, &x, alpha);
                    points.push(PointTolerance::from_fn(scale, |t| {
                        C * gamma(t, d + r + 4) * kappa_cov
                    }));
                    expected.push(qv(&at.mean));
                }
                Quantity::Score => {
                    let (hc, res) =
                        reference::score_parts(m.mean(), m.basis(), m.variances(), &x, alpha, beta);
                    let scale = hc + res;
                    let kappa = ((norm(&x) + alpha * nmu) * hmax.max(off) / scale).max(1.0);
                    points.push(PointTolerance::from_fn(scale, |t| {
                        C * gamma(t, d + r + 4) * kappa * kappa_cov
                    }));
                    expected.push(qv(&at.score));
                }
                Quantity::Jacobian => unreachable!("R02 cases are means and scores"),
            }
        }
        let id = format!(
            "r02-{}-{}-{}",
            self.model_path_tag(),
            quantity.name().replace('_', "-"),
            self.tag
        );
        let crate_value = evaluate_matrix(m, &self.x, self.level, quantity)?;
        s.add_case(NewCase {
            command: eval_command(
                &quantity.name().replace('_', "-"),
                self.model_path,
                &id,
                self.level,
            ),
            description: format!(
                "{} of {} at (alpha, beta) = ({alpha}, {beta})",
                quantity.name().replace('_', " "),
                self.description
            ),
            id,
            family: "R02",
            kind: quantity.name(),
            params: serde_json::json!({}),
            model: Some(self.model_path.to_string()),
            level: Some(self.level),
            inputs: vec![("x", crate::io::npy::Array::from_batch(self.x.as_ref()))],
            expected: rows(&expected),
            crate_value,
            points,
        })
    }

    fn model_path_tag(&self) -> &str {
        self.model_path
            .strip_prefix("models/")
            .and_then(|p| p.strip_suffix("/model.json"))
            .unwrap_or(self.model_path)
    }
}

/// The posterior mean of a Gaussian given by a basis at one point, in double-double,
/// with its scale and tolerances (as the R02 mean cases).
pub(super) fn mean_at(m: &Gaussian, x: &[f64], level: NoiseLevel) -> (Vec<Q>, PointTolerance) {
    let (alpha, beta) = (level.alpha(), level.beta());
    let (d, r) = (m.dim(), m.rank());
    let gmax = m
        .variances()
        .iter()
        .map(|&l| level.gain(l))
        .fold(0.0, f64::max);
    let at = reference::gaussian_projector_at(m.mean(), m.basis(), m.variances(), x, alpha, beta);
    let scale = reference::mean_scale(m.mean(), gmax, x, alpha);
    (
        at.mean,
        PointTolerance::from_fn(scale, |t| C * gamma(t, d + r + 4)),
    )
}

/// `B` typical points `α x0 + β ε` of a model.
pub(super) fn typical(
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

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("R02");
    let nb = 6;

    // Low-rank Gaussian N(μ, U diag(λ) Uᵀ), d = 12, r = 4.
    let (d, r) = (12, 4);
    let u = random_orthonormal(&mut rng, d, r)?;
    let lambda: Vec<f64> = (0..r).map(|_| log_uniform(&mut rng, -1.0, 1.0)).collect();
    let mu: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
    let spec = ModelSpec::Gaussian {
        mean: mu,
        covariance: GaussianCovariance::Basis {
            basis: u,
            variances: lambda,
        },
    };
    let (path, model) = s.add_model(
        "gaussian-lowrank",
        &spec,
        "Gaussian N(mu, U diag(lambda) U^T), d = 12, r = 4, lambda log-uniform in [0.1, 10]",
    )?;
    let crate::io::model_file::Model::Gaussian(g) = model else {
        unreachable!("a Gaussian spec builds a Gaussian")
    };
    for (tag, alpha, beta, score) in [
        ("moderate", 0.8, 0.6, true),
        ("small-beta", 1.0, 1e-4, true),
        ("small-alpha", 1e-4, 1.0, false),
    ] {
        let level = NoiseLevel::new(alpha, beta)?;
        let case = GaussianCase {
            model_path: &path,
            model: &g,
            dense: None,
            tag,
            level,
            x: typical(&mut rng, &g, level, nb),
            description: "a rank-4 Gaussian in R^12",
        };
        case.add(s, Quantity::PosteriorMean)?;
        if score {
            case.add(s, Quantity::Score)?;
        }
    }

    // Full covariance Σ = Q diag(λ) Qᵀ (symmetrized exactly), d = 8, λ in [0.5, 2].
    let d = 8;
    let qm = random_orthonormal(&mut rng, d, d)?;
    let lam: Vec<f64> = (0..d).map(|_| log_uniform(&mut rng, -0.3, 0.3)).collect();
    let scaled = Mat::from_fn(d, d, |i, j| qm[(i, j)] * lam[j]);
    let sig = mul(scaled.as_ref(), qm.transpose());
    let sig = Mat::from_fn(d, d, |i, j| 0.5 * (sig[(i, j)] + sig[(j, i)]));
    let mu: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
    let dense = reference::dense(sig.as_ref());
    let spec = ModelSpec::Gaussian {
        mean: mu,
        covariance: GaussianCovariance::Full(sig),
    };
    let (path, model) = s.add_model(
        "gaussian-full",
        &spec,
        "Gaussian N(mu, Sigma) with a full covariance, d = 8, eigenvalues in [0.5, 2]",
    )?;
    let crate::io::model_file::Model::Gaussian(g) = model else {
        unreachable!("a Gaussian spec builds a Gaussian")
    };
    let level = NoiseLevel::new(0.6, 0.8)?;
    let case = GaussianCase {
        model_path: &path,
        model: &g,
        dense: Some(&dense),
        tag: "moderate",
        level,
        x: typical(&mut rng, &g, level, nb),
        description: "a full-covariance Gaussian in R^8 (oracle: dense Cholesky solve)",
    };
    case.add(s, Quantity::PosteriorMean)?;
    case.add(s, Quantity::Score)?;

    // The learned K = 1 (PCA) denoiser, d = 10, r = 3.
    let basis = random_orthonormal(&mut rng, 10, 3)?;
    let spec = ModelSpec::Pca { basis };
    let (path, model) = s.add_model(
        "pca",
        &spec,
        "the learned PCA denoiser alpha/(alpha^2+beta^2) U U^T x, d = 10, r = 3",
    )?;
    let crate::io::model_file::Model::Gaussian(g) = model else {
        unreachable!("a PCA spec builds a Gaussian")
    };
    let level = NoiseLevel::new(0.9, 0.3)?;
    GaussianCase {
        model_path: &path,
        model: &g,
        dense: None,
        tag: "moderate",
        level,
        x: typical(&mut rng, &g, level, nb),
        description: "the PCA (K = 1) denoiser in R^10",
    }
    .add(s, Quantity::PosteriorMean)?;
    Ok(())
}
