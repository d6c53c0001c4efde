//! Posterior (softmax) weights and log weights of MoLRGs and empirical distributions
//! (`eval posterior-weights`, `eval log-posterior-weights`; issue 14).
//!
//! Oracle: the double-double logits of R03 ([`reference::molrg_formula_at`]) and R04
//! ([`reference::empirical_logits`]), normalized in double-double ([`reference::softmax`],
//! [`reference::log_softmax`]).
//!
//! Conditioning. Each logit moves by $\eta_k$ under relative input perturbations
//! $\varepsilon_T$: for a MoLRG as in the R03 family, $\eta_k = 8\gamma_T(d+r_k+4)(2q_k+|o_k|+1)$;
//! for an empirical model $\eta_i = 8\gamma_T(d+4)\,\|x - \alpha x^{(i)}\|(\|x\| + \alpha\|x^{(i)}\|)/\beta^2$
//! (the squared distance moves by twice the distance times the perturbation of the residual).
//! - weights: $|\delta w_k| \le$ [`weight_perturbation`]$(w, \eta)_k$ (scale 1, the weights sum
//!   to 1), at least $8\gamma_T(K)$; $1$ (the whole simplex) if the linearization fails;
//! - log weights: $|\delta\log w_k| \le \eta_k + \sum_jw_j\eta_j$; the scale is
//!   $\max(1, \max_k|\log w_k|)$, and the point's error (the 2-norm over $k$) is bounded by
//!   $\sqrt K\max_k|\delta\log w_k|$ + one rounding of each log.

use faer::Mat;

use super::{SuiteBuilder, col, eval_command, gaussian, norm, rows};
use crate::golden::Tier;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma, weight_perturbation};
use crate::io::Result;
use crate::io::model_file::{ComponentSpec, Model, ModelSpec};
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::linalg::random_orthonormal;
use crate::reference::{self, Q};
use crate::service::eval::{WeightsOutput, posterior_weights_matrix};

/// Perturbation bounds of the logits, per tier.
type Eta = Box<dyn Fn(Tier) -> Vec<f64>>;

/// Logits (double-double) and their perturbation bounds per tier, at one point.
fn logits_at(model: &Model, x: &[f64], level: NoiseLevel) -> (Vec<Q>, Eta) {
    let (a, b) = (level.alpha(), level.beta());
    let d = x.len();
    match model {
        Model::Molrg(m) => {
            let k = m.num_components();
            let bases: Vec<Mat<f64>> = (0..k).map(|i| m.basis(i).to_owned()).collect();
            let refs: Vec<_> = bases.iter().map(|u| u.as_ref()).collect();
            let vars: Vec<Vec<f64>> = (0..k).map(|i| m.variances(i).to_vec()).collect();
            let at = reference::molrg_formula_at(m.weights(), &refs, &vars, x, a, b, false);
            let offs: Vec<f64> = m
                .weights()
                .iter()
                .zip(&vars)
                .map(|(p, lam)| p.ln() - lam.iter().map(|&l| level.half_log1p_snr(l)).sum::<f64>())
                .collect();
            let parts: Vec<(f64, f64, usize)> = at
                .logits
                .iter()
                .zip(&offs)
                .zip(&bases)
                .map(|((l, o), u)| ((reference::f(*l) - o).abs(), *o, u.ncols()))
                .collect();
            let eta = move |t: Tier| -> Vec<f64> {
                parts
                    .iter()
                    .map(|&(qk, o, r)| C * gamma(t, d + r + 4) * (2.0 * qk + o.abs() + 1.0))
                    .collect()
            };
            (at.logits, Box::new(eta))
        }
        Model::Empirical(e) => {
            let pts = e.points().to_owned();
            let logits = reference::empirical_logits(pts.as_ref(), x, a, b);
            let nx = norm(x);
            let parts: Vec<(f64, f64)> = (0..pts.ncols())
                .map(|i| {
                    let p = col(&pts, i);
                    let r: Vec<f64> = x.iter().zip(&p).map(|(xi, pi)| xi - a * pi).collect();
                    (norm(&r), nx + a * norm(&p))
                })
                .collect();
            let eta = move |t: Tier| -> Vec<f64> {
                parts
                    .iter()
                    .map(|&(r, s)| C * gamma(t, d + 4) * (r * s / (b * b) + 1.0))
                    .collect()
            };
            (logits, Box::new(eta))
        }
        Model::Gaussian(_) => unreachable!("weights cases use mixtures and empirical models"),
    }
}

/// Expected values and tolerances of one point.
fn point(
    model: &Model,
    x: &[f64],
    level: NoiseLevel,
    output: WeightsOutput,
) -> (Vec<f64>, PointTolerance) {
    let (logits, eta) = logits_at(model, x, level);
    let w: Vec<f64> = reference::softmax(&logits)
        .iter()
        .map(|&v| reference::f(v))
        .collect();
    let k = w.len();
    match output {
        WeightsOutput::Weights => {
            let tol = PointTolerance::from_fn(1.0, |t| {
                let dw = match weight_perturbation(&w, &eta(t)) {
                    Some(dw) => dw.iter().sum::<f64>(),
                    None => 1.0,
                };
                (dw + C * gamma(t, k)).min(1.0)
            });
            (w, tol)
        }
        WeightsOutput::LogWeights => {
            let lw: Vec<f64> = reference::log_softmax(&logits)
                .iter()
                .map(|&v| reference::f(v))
                .collect();
            let scale = lw.iter().fold(1.0f64, |m, v| m.max(v.abs()));
            let tol = PointTolerance::from_fn(scale, |t| {
                let e = eta(t);
                let mean: f64 = w.iter().zip(&e).map(|(wj, ej)| wj * ej).sum();
                let worst = e.iter().fold(0.0f64, |m, v| m.max(*v));
                ((k as f64).sqrt() * (worst + mean) + C * gamma(t, k) * scale) / scale
            });
            (lw, tol)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_case(
    s: &mut SuiteBuilder,
    path: &str,
    model: &Model,
    name: &str,
    tag: &str,
    description: &str,
    level: NoiseLevel,
    x: &Mat<f64>,
) -> Result<()> {
    for output in [WeightsOutput::Weights, WeightsOutput::LogWeights] {
        let (kind, sub) = match output {
            WeightsOutput::Weights => ("posterior_weights", "posterior-weights"),
            WeightsOutput::LogWeights => ("log_posterior_weights", "log-posterior-weights"),
        };
        let mut expected = Vec::new();
        let mut points = Vec::new();
        for j in 0..x.ncols() {
            let (e, p) = point(model, &col(x, j), level, output);
            expected.push(e);
            points.push(p);
        }
        let id = format!("weights-{name}-{sub}-{tag}");
        let crate_value =
            Array::from_batch(posterior_weights_matrix(model, x.as_ref(), level, output)?.as_ref());
        s.add_case(NewCase {
            command: eval_command(sub, path, &id, level),
            description: format!(
                "{} of {description} at (alpha, beta) = ({}, {})",
                kind.replace('_', " "),
                level.alpha(),
                level.beta()
            ),
            id,
            family: "weights",
            kind,
            params: serde_json::json!({}),
            model: Some(path.to_string()),
            level: Some(level),
            inputs: vec![("x", Array::from_batch(x.as_ref()))],
            expected: rows(&expected),
            crate_value,
            points,
        })?;
    }
    Ok(())
}

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("weights");
    // A MoLRG with unequal weights, ranks and variances in R^8; components 1 and 2 are
    // mirror images (same pi, rank, variances) so points between them tie exactly.
    let q = random_orthonormal(&mut rng, 8, 6)?;
    let comps = vec![
        ComponentSpec {
            basis: q.as_ref().subcols(0, 2).to_owned(),
            variances: Some(vec![2.0, 0.5]),
        },
        ComponentSpec {
            basis: q.as_ref().subcols(2, 1).to_owned(),
            variances: Some(vec![1.0]),
        },
        ComponentSpec {
            basis: q.as_ref().subcols(3, 1).to_owned(),
            variances: Some(vec![1.0]),
        },
        ComponentSpec {
            basis: q.as_ref().subcols(4, 2).to_owned(),
            variances: None,
        },
    ];
    let spec = ModelSpec::Molrg {
        weights: vec![0.4, 0.2, 0.2, 0.2],
        components: comps,
    };
    let (path, m) = s.add_model(
        "weights-molrg",
        &spec,
        "MoLRG in R^8 with K = 4 components (ranks 2, 1, 1, 2; unequal weights and variances; components 1 and 2 mirror images)",
    )?;
    let desc = "a MoLRG with unequal pi, r, Lambda (K = 4, d = 8)";
    let typical = |rng: &mut crate::rng::SeededRng, level: NoiseLevel, scale: f64| {
        let z = gaussian(rng, 8, 6);
        Mat::from_fn(8, 6, |i, j| {
            scale * z[(i, j)] * level.alpha().max(level.beta())
        })
    };
    for (tag, level, scale) in [
        ("moderate", NoiseLevel::new(0.8, 0.6)?, 1.0),
        ("saturated", NoiseLevel::new(1.0, 1e-6)?, 1.0),
        ("low-snr", NoiseLevel::new(1e-3, 1.0)?, 1.0),
    ] {
        let x = typical(&mut rng, level, scale);
        add_case(s, &path, &m, "molrg", tag, desc, level, &x)?;
    }
    // Ties: c (u_1 + u_2) is equidistant from the mirror components; plus relative offsets
    // of 1e-9 along u_1 (at beta = 1e-2 the logit gap is then ~1e-5: a near tie whose
    // weights are still well conditioned enough for a 1e-6 error to show).
    let level = NoiseLevel::new(1.0, 1e-2)?;
    let x = Mat::from_fn(8, 4, |i, j| {
        let c = 0.5 + 0.25 * j as f64;
        let off = if j % 2 == 0 { 0.0 } else { 1e-9 * c };
        (c + off) * q[(i, 2)] + c * q[(i, 3)]
    });
    add_case(
        s,
        &path,
        &m,
        "molrg",
        "tied",
        "a MoLRG at points tied between two components",
        level,
        &x,
    )?;

    // An empirical distribution: 6 points in R^3, two of them 1e-9 apart.
    let mut pts = gaussian(&mut rng, 3, 6);
    for i in 0..3 {
        pts[(i, 5)] = pts[(i, 4)] + if i == 0 { 1e-9 } else { 0.0 };
    }
    let (epath, e) = s.add_model(
        "weights-empirical",
        &ModelSpec::Empirical {
            points: pts.clone(),
        },
        "empirical distribution of 6 points in R^3 (points 4 and 5 are 1e-9 apart)",
    )?;
    let edesc = "an empirical distribution (N = 6, d = 3)";
    for (tag, level) in [
        ("moderate", NoiseLevel::new(0.8, 0.6)?),
        // beta = 1e-3 with points 0.03 from the data: logit gaps of ~1e5 (every weight but
        // one or two underflows); smaller beta or farther points make the pair of training
        // points 1e-9 apart too ill-conditioned for an f64 tolerance below 1e-8.
        ("saturated", NoiseLevel::new(1.0, 1e-3)?),
    ] {
        let z = gaussian(&mut rng, 3, 6);
        let noise = if tag == "saturated" { 0.03 } else { 0.3 };
        let x = Mat::from_fn(3, 6, |i, j| level.alpha() * pts[(i, j)] + noise * z[(i, j)]);
        add_case(s, &epath, &e, "empirical", tag, edesc, level, &x)?;
    }
    // Near ties: midway between the two close points and between points 0 and 1 (at
    // beta = 1e-2, where a tie's weights are conditioned well enough for a 1e-8 tolerance).
    let level = NoiseLevel::new(1.0, 1e-2)?;
    let x = Mat::from_fn(3, 2, |i, j| {
        let (a, b) = if j == 0 { (4, 5) } else { (0, 1) };
        0.5 * (pts[(i, a)] + pts[(i, b)])
    });
    add_case(
        s,
        &epath,
        &e,
        "empirical",
        "tied",
        "an empirical distribution at points equidistant from two training points",
        level,
        &x,
    )?;
    Ok(())
}
