//! R01: conversions among prediction types (Tweedie's formula).
//!
//! Expected values: the conversion formulas evaluated in double-double from
//! the f64 inputs. Scale: the same formula with every subtraction replaced by
//! an addition of magnitudes (the sum of the terms' sizes), so the condition
//! number relative to it is 1 and the tolerance is $8\gamma_T(8)$.

use super::{SuiteBuilder, qv, rows};
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::level::NoiseLevel;
use crate::reference::{Q, q};
use crate::rng::standard_normal;
use crate::service::eval;
use crate::tweedie::Prediction;

/// `(x0, eps)` from a prediction, in double-double; `mag` evaluates magnitudes instead.
fn to_pair(from: Prediction, v: Q, x: Q, a: Q, b: Q, mag: bool) -> (Q, Q) {
    let sub = |u: Q, w: Q| if mag { u + w } else { u - w };
    match from {
        Prediction::X0 => (v, sub(x, a * v) / b),
        Prediction::Eps => (sub(x, b * v) / a, v),
        Prediction::Score => {
            let eps = if mag { b * v } else { -(b * v) };
            (sub(x, b * eps) / a, eps)
        }
        Prediction::V => {
            let h2 = a * a + b * b;
            (sub(a * x, b * v) / h2, (b * x + a * v) / h2)
        }
    }
}

fn from_pair(to: Prediction, x0: Q, eps: Q, a: Q, b: Q, mag: bool) -> Q {
    match to {
        Prediction::X0 => x0,
        Prediction::Eps => eps,
        Prediction::Score => {
            if mag {
                eps / b
            } else {
                -(eps / b)
            }
        }
        Prediction::V => {
            if mag {
                a * eps + b * x0
            } else {
                a * eps - b * x0
            }
        }
    }
}

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("R01");
    let (d, nb) = (6usize, 5usize);
    use Prediction::{Eps, Score, V, X0};
    let cases: &[(&str, f64, f64, Prediction, Prediction)] = &[
        ("moderate", 0.8, 0.6, X0, Eps),
        ("moderate", 0.8, 0.6, Eps, X0),
        ("moderate", 0.8, 0.6, X0, V),
        ("moderate", 0.8, 0.6, V, X0),
        ("moderate", 0.8, 0.6, Eps, Score),
        ("moderate", 0.8, 0.6, Score, X0),
        ("small-alpha", 1e-3, 1.0, X0, Eps),
        ("small-alpha", 1e-3, 1.0, V, X0),
        ("small-beta", 1.0, 1e-4, Eps, X0),
        ("small-beta", 1.0, 1e-4, Score, X0),
    ];
    for &(tag, alpha, beta, from, to) in cases {
        let level = NoiseLevel::new(alpha, beta)?;
        let x0 = standard_normal(&mut rng, d, nb);
        let e = standard_normal(&mut rng, d, nb);
        let mut xs = Vec::new();
        let mut vals = Vec::new();
        for j in 0..nb {
            let x: Vec<f64> = (0..d)
                .map(|i| alpha * x0[(i, j)] + beta * e[(i, j)])
                .collect();
            let v: Vec<f64> = (0..d)
                .map(|i| match from {
                    X0 => x0[(i, j)],
                    Eps => e[(i, j)],
                    Score => -e[(i, j)] / beta,
                    V => alpha * e[(i, j)] - beta * x0[(i, j)],
                })
                .collect();
            xs.push(x);
            vals.push(v);
        }
        let (a, b) = (q(alpha), q(beta));
        let mut expected = Vec::new();
        let mut points = Vec::new();
        for (x, v) in xs.iter().zip(&vals) {
            let mut out = Vec::with_capacity(d);
            let mut mag = Vec::with_capacity(d);
            for i in 0..d {
                let (x0q, eq) = to_pair(from, q(v[i]), q(x[i]), a, b, false);
                out.push(from_pair(to, x0q, eq, a, b, false));
                let (x0m, em) = to_pair(from, q(v[i].abs()), q(x[i].abs()), a, b, true);
                mag.push(from_pair(to, x0m, em, a, b, true));
            }
            let scale = super::norm(&qv(&mag));
            points.push(PointTolerance::from_fn(scale, |t| C * gamma(t, 8)));
            expected.push(qv(&out));
        }
        let id = format!("r01-{}-to-{}-{tag}", from.name(), to.name());
        let x_arr = rows(&xs);
        let v_arr = rows(&vals);
        let crate_value = eval::convert(
            from,
            &v_arr,
            "value".as_ref(),
            &x_arr,
            "x".as_ref(),
            level,
            to,
        )?;
        s.add_case(NewCase {
            command: format!(
                "diffusion-lowdim eval convert --from {} --to {} --x cases/{id}/x.npy --value cases/{id}/value.npy --alpha {alpha} --beta {beta} --out {id}.npy",
                from.name(),
                to.name()
            ),
            id,
            family: "R01",
            kind: "convert",
            description: format!(
                "convert a {} prediction to {} at (alpha, beta) = ({alpha}, {beta})",
                from.name(),
                to.name()
            ),
            params: serde_json::json!({"from": from.name(), "to": to.name()}),
            model: None,
            level: Some(level),
            inputs: vec![("x", x_arr), ("value", v_arr)],
            expected: rows(&expected),
            crate_value,
            points,
        })?;
    }
    Ok(())
}
