//! R03: MoLRG posterior mean and score.
//!
//! Oracle: R03 in projector form in double-double ([`reference::molrg_formula_at`]).
//! Scales as `theorem::r03`: mean $\sum_kw_kg_{k,\max}\|x\|$, score $\sum_kw_kS_k$ with
//! $S_k = \|U_k(h_k\circ c_k)\| + \|(I-U_kU_k^\top)x\|/\beta^2$.
//!
//! Conditioning: each logit $l_k = o_k + q_k$ (offset
//! $o_k = \log\pi_k - \frac12\sum_j\log(1+\alpha^2\lambda_{kj}/\beta^2)$, quadratic part
//! $q_k = \sum_j\kappa(\lambda_{kj})c_{kj}^2$) moves by
//! $\eta_k = 8\gamma_T(d+r_k+4)(2q_k + |o_k| + 1)$ under relative input
//! perturbations $\varepsilon_T$; the weights then move as in
//! [`tolerance::weight_perturbation`](crate::golden::tolerance::weight_perturbation),
//! and the mean by $\sum_k|\delta w_k|\|m_k - m\|$ (the convex-hull bound
//! $2\max_k\|m_k-m\|$ when the linearization fails, e.g. f32 at near ties).

use faer::{Mat, MatRef};
use rand::RngExt;

use super::{SuiteBuilder, col, dist_q, eval_command, gaussian, norm, qv, rows};
use crate::golden::Tier;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma, weight_perturbation};
use crate::io::Result;
use crate::io::model_file::{ComponentSpec, Model, ModelSpec};
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::linalg::random_orthonormal;
use crate::model::{Denoiser, ExactModel, Molrg};
use crate::reference::{self, MolrgAt, Q};
use crate::service::eval::{Quantity, evaluate_matrix};
use crate::theorem::instance::log_uniform;

fn molrg_of(m: Model) -> Molrg {
    match m {
        Model::Molrg(m) => m,
        _ => unreachable!("a MoLRG spec builds a MoLRG"),
    }
}

struct Parts {
    bases: Vec<Mat<f64>>,
    variances: Vec<Vec<f64>>,
    pi: Vec<f64>,
}

impl Parts {
    fn of(m: &Molrg) -> Self {
        let k = m.num_components();
        Self {
            bases: (0..k).map(|i| m.basis(i).to_owned()).collect(),
            variances: (0..k).map(|i| m.variances(i).to_vec()).collect(),
            pi: m.weights().to_vec(),
        }
    }

    fn refs(&self) -> Vec<MatRef<'_, f64>> {
        self.bases.iter().map(|b| b.as_ref()).collect()
    }

    fn at(&self, x: &[f64], level: NoiseLevel) -> MolrgAt {
        reference::molrg_formula_at(
            &self.pi,
            &self.refs(),
            &self.variances,
            x,
            level.alpha(),
            level.beta(),
            false,
        )
    }

    /// Logit offsets $o_k$.
    fn offsets(&self, level: NoiseLevel) -> Vec<f64> {
        self.pi
            .iter()
            .zip(&self.variances)
            .map(|(p, lam)| p.ln() - lam.iter().map(|&l| level.half_log1p_snr(l)).sum::<f64>())
            .collect()
    }
}

/// Per-point scale and tolerances of a MoLRG mean or score.
fn tolerance(
    p: &Parts,
    at: &MolrgAt,
    x: &[f64],
    level: NoiseLevel,
    quantity: Quantity,
) -> PointTolerance {
    let d = x.len();
    let beta = level.beta();
    let rsum: usize = p.bases.iter().map(|b| b.ncols()).sum();
    let w: Vec<f64> = at.weights.iter().map(|&v| reference::f(v)).collect();
    let offs = p.offsets(level);
    let nx = norm(x);
    let gmax: Vec<f64> = p
        .variances
        .iter()
        .map(|v| v.iter().map(|&l| level.gain(l)).fold(0.0, f64::max))
        .collect();
    let hmax: Vec<f64> = p
        .variances
        .iter()
        .map(|v| {
            let lmin = v.iter().cloned().fold(f64::INFINITY, f64::min);
            level.inv_marginal_variance(lmin)
        })
        .collect();
    let eta = |t: Tier| -> Vec<f64> {
        at.logits
            .iter()
            .zip(&offs)
            .zip(&p.bases)
            .map(|((l, o), u)| {
                let qk = (reference::f(*l) - o).abs();
                C * gamma(t, d + u.ncols() + 4) * (2.0 * qk + o.abs() + 1.0)
            })
            .collect()
    };
    match quantity {
        Quantity::PosteriorMean => {
            let scale: f64 =
                w.iter().zip(&gmax).map(|(wk, g)| wk * g * nx).sum::<f64>() + f64::MIN_POSITIVE;
            let spread: Vec<f64> = at
                .component_means
                .iter()
                .map(|mk| dist_q(mk, &at.mean))
                .collect();
            PointTolerance::from_fn(scale, |t| {
                let err_w = match weight_perturbation(&w, &eta(t)) {
                    Some(dw) => dw.iter().zip(&spread).map(|(a, b)| a * b).sum::<f64>(),
                    None => 2.0 * spread.iter().cloned().fold(0.0, f64::max),
                };
                C * gamma(t, d + rsum + 4) + err_w / scale
            })
        }
        Quantity::Score => {
            let scale: f64 = w
                .iter()
                .zip(&at.score_magnitudes)
                .map(|(wk, m)| wk * m)
                .sum::<f64>()
                + f64::MIN_POSITIVE;
            let ns = reference::norm(&at.score);
            let cond: f64 = w
                .iter()
                .zip(&p.bases)
                .zip(&hmax)
                .map(|((wk, u), h)| {
                    let off = if u.ncols() < d {
                        1.0 / (beta * beta)
                    } else {
                        0.0
                    };
                    wk * nx * h.max(off)
                })
                .sum::<f64>()
                .max(scale);
            let spread: Vec<f64> = at.score_magnitudes.iter().map(|m| m + ns).collect();
            PointTolerance::from_fn(scale, |t| {
                let err_w = match weight_perturbation(&w, &eta(t)) {
                    Some(dw) => dw.iter().zip(&spread).map(|(a, b)| a * b).sum::<f64>(),
                    None => 2.0 * spread.iter().cloned().fold(0.0, f64::max),
                };
                (C * gamma(t, d + rsum + 4) * cond + err_w) / scale
            })
        }
        Quantity::Jacobian => unreachable!("R03 cases are means and scores"),
    }
}

/// The posterior mean of a MoLRG at one point, in double-double, with its scale and
/// tolerances (as the R03 mean cases).
pub(super) fn mean_at(m: &Molrg, x: &[f64], level: NoiseLevel) -> (Vec<Q>, PointTolerance) {
    let parts = Parts::of(m);
    let at = parts.at(x, level);
    let tol = tolerance(&parts, &at, x, level, Quantity::PosteriorMean);
    (at.mean, tol)
}

#[allow(clippy::too_many_arguments)]
fn add_case(
    s: &mut SuiteBuilder,
    path: &str,
    model: &Molrg,
    tag: &str,
    description: &str,
    level: NoiseLevel,
    x: &Mat<f64>,
    quantity: Quantity,
) -> Result<()> {
    let parts = Parts::of(model);
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for j in 0..x.ncols() {
        let xj = col(x, j);
        let at = parts.at(&xj, level);
        points.push(tolerance(&parts, &at, &xj, level, quantity));
        expected.push(match quantity {
            Quantity::Score => qv(&at.score),
            _ => qv(&at.mean),
        });
    }
    let name = path
        .strip_prefix("models/")
        .and_then(|p| p.strip_suffix("/model.json"))
        .unwrap_or(path);
    let sub = quantity.name().replace('_', "-");
    let id = format!("r03-{name}-{sub}-{tag}");
    let crate_value = evaluate_matrix(model, x, level, quantity)?;
    s.add_case(NewCase {
        command: eval_command(&sub, path, &id, level),
        description: format!(
            "{} of {description} at (alpha, beta) = ({}, {})",
            quantity.name().replace('_', " "),
            level.alpha(),
            level.beta()
        ),
        id,
        family: "R03",
        kind: quantity.name(),
        params: serde_json::json!({}),
        model: Some(path.to_string()),
        level: Some(level),
        inputs: vec![("x", Array::from_batch(x.as_ref()))],
        expected: rows(&expected),
        crate_value,
        points,
    })
}

fn typical(rng: &mut crate::rng::SeededRng, m: &Molrg, level: NoiseLevel, b: usize) -> Mat<f64> {
    let x0 = m.sample_x0(rng, b);
    let e = gaussian(rng, m.dim(), b);
    Mat::from_fn(m.dim(), b, |i, j| {
        level.alpha() * x0[(i, j)] + level.beta() * e[(i, j)]
    })
}

/// Points on two components whose logits tie (found by bisection on the
/// double-double logits), plus noise of size `1e-3 β`.
fn near_ties(rng: &mut crate::rng::SeededRng, m: &Molrg, level: NoiseLevel, b: usize) -> Mat<f64> {
    let parts = Parts::of(m);
    let (d, k) = (m.dim(), m.num_components());
    let mut out = Mat::<f64>::zeros(d, b);
    for j in 0..b {
        let a = j % k;
        let c = (a + 1) % k;
        let cb = 0.5 + rng.random::<f64>();
        let noise = gaussian(rng, d, 1);
        let point = |ca: f64| -> Vec<f64> {
            (0..d)
                .map(|i| ca * parts.bases[a][(i, 0)] + cb * parts.bases[c][(i, 0)])
                .collect()
        };
        let gap = |ca: f64| -> f64 {
            let at = parts.at(&point(ca), level);
            reference::f(at.logits[a] - at.logits[c])
        };
        // gap is increasing in ca for large ca; bracket and bisect.
        let (mut lo, mut hi) = (0.0, 1.0);
        while gap(hi) < 0.0 && hi < 1e6 {
            hi *= 2.0;
        }
        if gap(lo) > 0.0 {
            lo = hi; // no tie reachable: use the bracket end
        }
        for _ in 0..80 {
            let mid = 0.5 * (lo + hi);
            if gap(mid) < 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let x = point(0.5 * (lo + hi));
        for i in 0..d {
            out[(i, j)] = x[i] + 1e-3 * level.beta() * noise[(i, 0)];
        }
    }
    out
}

#[allow(clippy::too_many_lines)]
pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("R03");
    let nb = 8;

    // The paper's model: K = 3 orthogonal 3-dim subspaces of R^16, π = 1/3, Λ = I.
    let q = random_orthonormal(&mut rng, 16, 9)?;
    let comps: Vec<ComponentSpec> = (0..3)
        .map(|k| ComponentSpec {
            basis: q.as_ref().subcols(3 * k, 3).to_owned(),
            variances: None,
        })
        .collect();
    let spec = ModelSpec::Molrg {
        weights: vec![1.0 / 3.0; 3],
        components: comps,
    };
    let (paper_path, m) = s.add_model(
        "molrg-paper",
        &spec,
        "MoLRG with K = 3 mutually orthogonal 3-dim subspaces of R^16, pi = 1/3, Lambda = I",
    )?;
    let paper = molrg_of(m);
    let level = NoiseLevel::new(0.8, 0.6)?;
    let x = typical(&mut rng, &paper, level, nb);
    let desc = "the paper's MoLRG (K = 3, r = 3, d = 16)";
    add_case(
        s,
        &paper_path,
        &paper,
        "moderate",
        desc,
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    add_case(
        s,
        &paper_path,
        &paper,
        "moderate",
        desc,
        level,
        &x,
        Quantity::Score,
    )?;
    // Saturated softmax: β = 1e-6, logits ~ 1e12.
    let level = NoiseLevel::new(1.0, 1e-6)?;
    let x = typical(&mut rng, &paper, level, nb);
    add_case(
        s,
        &paper_path,
        &paper,
        "saturated",
        "the paper's MoLRG with a saturated softmax (logits ~ 1e12)",
        level,
        &x,
        Quantity::PosteriorMean,
    )?;

    // General model: unequal π, ranks, variances; independent (non-orthogonal) bases.
    let ranks = [2usize, 4, 3];
    let d = 12;
    let comps: Vec<ComponentSpec> = ranks
        .iter()
        .map(|&r| -> Result<ComponentSpec> {
            Ok(ComponentSpec {
                basis: random_orthonormal(&mut rng, d, r)?,
                variances: Some((0..r).map(|_| log_uniform(&mut rng, -1.0, 1.0)).collect()),
            })
        })
        .collect::<Result<_>>()?;
    let spec = ModelSpec::Molrg {
        weights: vec![0.5, 0.3, 0.2],
        components: comps,
    };
    let (gen_path, m) = s.add_model(
        "molrg-general",
        &spec,
        "MoLRG with pi = (0.5, 0.3, 0.2), ranks (2, 4, 3), variances in [0.1, 10], independent bases in R^12",
    )?;
    let general = molrg_of(m);
    let desc = "a MoLRG with unequal pi, r_k and Lambda_k";
    let level = NoiseLevel::new(0.7, 0.5)?;
    let x = typical(&mut rng, &general, level, nb);
    add_case(
        s,
        &gen_path,
        &general,
        "moderate",
        desc,
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    add_case(
        s,
        &gen_path,
        &general,
        "moderate",
        desc,
        level,
        &x,
        Quantity::Score,
    )?;
    // Near ties between two components (weights close to 1/2 each).
    let level = NoiseLevel::new(1.0, 0.05)?;
    let x = near_ties(&mut rng, &general, level, nb);
    add_case(
        s,
        &gen_path,
        &general,
        "near-tie",
        "a MoLRG with unequal pi, r_k, Lambda_k at points where two components' logits tie",
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    add_case(
        s,
        &gen_path,
        &general,
        "near-tie",
        "a MoLRG with unequal pi, r_k, Lambda_k at points where two components' logits tie",
        level,
        &x,
        Quantity::Score,
    )?;

    // The learned K-subspaces denoiser: two learned 3-dim bases of R^10.
    let bases = vec![
        random_orthonormal(&mut rng, 10, 3)?,
        random_orthonormal(&mut rng, 10, 3)?,
    ];
    let spec = ModelSpec::KSubspaces { bases };
    let (ks_path, m) = s.add_model(
        "k-subspaces",
        &spec,
        "the learned K-subspaces denoiser: uniform MoLRG on two learned 3-dim bases of R^10",
    )?;
    let ks = molrg_of(m);
    let level = NoiseLevel::new(0.9, 0.4)?;
    let x = typical(&mut rng, &ks, level, nb);
    add_case(
        s,
        &ks_path,
        &ks,
        "moderate",
        "the K-subspaces denoiser (K = 2, r = 3, d = 10)",
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    Ok(())
}
