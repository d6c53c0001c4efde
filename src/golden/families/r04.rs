//! R04: empirical posterior mean and score (the memorizing denoiser).
//!
//! Oracle: the softmax over all training points in double-double
//! ([`reference::empirical_at`]). Scales as `theorem::r04`: mean $\|m\| + \sum_is_i\|x^{(i)} - m\|$,
//! score $(\|x - \alpha x^\star\| + \alpha\sum_is_i\|x^{(i)}-m\|)/\beta^2$.
//!
//! Conditioning: relative input perturbations $\varepsilon_T$ move the logit
//! $-\|r_i\|^2/2\beta^2$, $r_i = x - \alpha x^{(i)}$, by
//! $\eta_i = 8\gamma_T(d+4)\,(\|r_i\|(\|x\| + \alpha\|x^{(i)}\|) + \|r_i\|^2)/\beta^2$; the weights
//! and the mean then move as for R03.

use faer::Mat;
use rand::RngExt;

use super::{SuiteBuilder, col, eval_command, gaussian, norm, qv, rows};
use crate::golden::Tier;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma, weight_perturbation};
use crate::io::Result;
use crate::io::model_file::{Model, ModelSpec};
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::model::Empirical;
use crate::reference::{self, Q};
use crate::service::eval::{Quantity, evaluate_matrix};

/// Logit errors $\eta_i$ of a query `x` (see the module docs).
pub(super) fn logit_errors(pts: &Mat<f64>, x: &[f64], level: NoiseLevel, t: Tier) -> Vec<f64> {
    let (d, n) = (pts.nrows(), pts.ncols());
    let (alpha, b2) = (level.alpha(), level.beta() * level.beta());
    let nx = norm(x);
    (0..n)
        .map(|i| {
            let p = col(pts, i);
            let r: Vec<f64> = (0..d).map(|l| x[l] - alpha * p[l]).collect();
            let nr = norm(&r);
            C * gamma(t, d + 4) * (nr * (nx + alpha * norm(&p)) + nr * nr) / b2 + C * gamma(t, 4)
        })
        .collect()
}

/// Bound on the error of the weighted mean caused by the weights, and the spread.
pub(super) fn mean_weight_error(
    pts: &Mat<f64>,
    w: &[f64],
    mean: &[f64],
    eta: &[f64],
) -> (f64, f64) {
    let offs: Vec<f64> = (0..pts.ncols())
        .map(|i| {
            let p = col(pts, i);
            norm(&p.iter().zip(mean).map(|(a, b)| a - b).collect::<Vec<_>>())
        })
        .collect();
    let spread: f64 = w.iter().zip(&offs).map(|(a, b)| a * b).sum();
    let err = match weight_perturbation(w, eta) {
        Some(dw) => dw.iter().zip(&offs).map(|(a, b)| a * b).sum(),
        None => 2.0 * offs.iter().cloned().fold(0.0, f64::max),
    };
    (err, spread)
}

fn tolerance(
    pts: &Mat<f64>,
    x: &[f64],
    level: NoiseLevel,
    quantity: Quantity,
) -> (Vec<f64>, PointTolerance) {
    let (d, n) = (pts.nrows(), pts.ncols());
    let (alpha, b2) = (level.alpha(), level.beta() * level.beta());
    let (rm, rs, rw) = reference::empirical_at(pts.as_ref(), x, alpha, level.beta());
    let w: Vec<f64> = rw.iter().map(|&v| reference::f(v)).collect();
    let mean = qv(&rm);
    let (_, spread) = mean_weight_error(pts, &w, &mean, &vec![0.0; n]);
    match quantity {
        Quantity::PosteriorMean => {
            let scale = norm(&mean) + spread + f64::MIN_POSITIVE;
            let tol = PointTolerance::from_fn(scale, |t| {
                let (err, _) = mean_weight_error(pts, &w, &mean, &logit_errors(pts, x, level, t));
                C * gamma(t, d + n + 4) + err / scale
            });
            (mean, tol)
        }
        Quantity::Score => {
            let star = (0..n)
                .min_by(|&a, &b| {
                    let da: f64 = (0..d).map(|l| (x[l] - alpha * pts[(l, a)]).powi(2)).sum();
                    let db: f64 = (0..d).map(|l| (x[l] - alpha * pts[(l, b)]).powi(2)).sum();
                    da.total_cmp(&db)
                })
                .unwrap_or(0);
            let rstar: f64 = (0..d)
                .map(|l| (x[l] - alpha * pts[(l, star)]).powi(2))
                .sum::<f64>()
                .sqrt();
            let pmax = (0..n).map(|i| norm(&col(pts, i))).fold(0.0, f64::max);
            let scale = (rstar + alpha * spread) / b2 + f64::MIN_POSITIVE;
            let cond = ((norm(x) + alpha * pmax) / b2).max(scale);
            let tol = PointTolerance::from_fn(scale, |t| {
                let (err, _) = mean_weight_error(pts, &w, &mean, &logit_errors(pts, x, level, t));
                (C * gamma(t, d + n + 4) * cond + alpha * err / b2) / scale
            });
            (qv(&rs), tol)
        }
        Quantity::Jacobian => unreachable!("R04 cases are means and scores"),
    }
}

/// The posterior mean of an empirical distribution at one point, in double-double,
/// with its scale and tolerances (as the R04 mean cases).
pub(super) fn mean_at(m: &Empirical, x: &[f64], level: NoiseLevel) -> (Vec<Q>, PointTolerance) {
    let pts = m.points().to_owned();
    let (mean, _, _) = reference::empirical_at(pts.as_ref(), x, level.alpha(), level.beta());
    let (_, tol) = tolerance(&pts, x, level, Quantity::PosteriorMean);
    (mean, tol)
}

#[allow(clippy::too_many_arguments)]
fn add_case(
    s: &mut SuiteBuilder,
    path: &str,
    model: &Empirical,
    tag: &str,
    description: &str,
    level: NoiseLevel,
    x: &Mat<f64>,
    quantity: Quantity,
) -> Result<()> {
    let pts = model.points().to_owned();
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for j in 0..x.ncols() {
        let (e, p) = tolerance(&pts, &col(x, j), level, quantity);
        expected.push(e);
        points.push(p);
    }
    let sub = quantity.name().replace('_', "-");
    let id = format!("r04-empirical-{sub}-{tag}");
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
        family: "R04",
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

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("R04");
    let (d, n, nb) = (8usize, 20usize, 6usize);
    let pts = gaussian(&mut rng, d, n);
    let spec = ModelSpec::Empirical {
        points: pts.clone(),
    };
    let (path, m) = s.add_model(
        "empirical",
        &spec,
        "empirical distribution of N = 20 standard normal points in R^8",
    )?;
    let Model::Empirical(emp) = m else {
        unreachable!("an empirical spec builds an empirical model")
    };
    let desc = "the empirical distribution of 20 points in R^8";
    // Typical points: α x^(i) + β ε.
    let typical = |rng: &mut crate::rng::SeededRng, level: NoiseLevel| {
        let e = gaussian(rng, d, nb);
        let idx: Vec<usize> = (0..nb).map(|_| rng.random_range(0..n)).collect();
        Mat::from_fn(d, nb, |l, j| {
            level.alpha() * pts[(l, idx[j])] + level.beta() * e[(l, j)]
        })
    };
    let level = NoiseLevel::new(0.9, 0.3)?;
    let x = typical(&mut rng, level);
    add_case(
        s,
        &path,
        &emp,
        "moderate",
        desc,
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    add_case(s, &path, &emp, "moderate", desc, level, &x, Quantity::Score)?;
    // Near ties: half-way between two training points (× α), plus 1e-9 β noise.
    let level = NoiseLevel::new(1.0, 0.1)?;
    let e = gaussian(&mut rng, d, nb);
    let pairs: Vec<(usize, usize)> = (0..nb)
        .map(|_| {
            let a = rng.random_range(0..n);
            (a, (a + 1 + rng.random_range(0..n - 1)) % n)
        })
        .collect();
    let x = Mat::from_fn(d, nb, |l, j| {
        let (a, b) = pairs[j];
        0.5 * level.alpha() * (pts[(l, a)] + pts[(l, b)]) + 1e-9 * level.beta() * e[(l, j)]
    });
    add_case(
        s,
        &path,
        &emp,
        "near-tie",
        "the empirical distribution of 20 points, queried half-way between two of them",
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    // Small β: the nearest training point.
    let level = NoiseLevel::new(1.0, 1e-3)?;
    let x = typical(&mut rng, level);
    add_case(
        s,
        &path,
        &emp,
        "small-beta",
        "the empirical distribution of 20 points at small beta (returns the nearest point)",
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    // Small α: close to the average of the training set.
    let level = NoiseLevel::new(0.05, 1.0)?;
    let x = gaussian(&mut rng, d, nb);
    add_case(
        s,
        &path,
        &emp,
        "small-alpha",
        "the empirical distribution of 20 points at small alpha (close to the average)",
        level,
        &x,
        Quantity::PosteriorMean,
    )?;
    Ok(())
}
