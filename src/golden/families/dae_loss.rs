//! The DAE loss of a basis ($K = 1$) and the hard-max loss of $K = 2$ bases at one noise level
//! (`eval dae-loss --out`; issue 14), at $\beta = 10^{-4}$ (where $a = \alpha^2/(\alpha^2+\beta^2)$ is
//! $1 - 10^{-8}$ and $\|x\|^2 - (2a - a^2)\|U^\top x\|^2$ cancels) and at $\alpha = 10^{-3}$.
//!
//! Oracle: the $\varepsilon$-expectation of the affine denoiser's squared error in double-double,
//! from the map itself ([`reference::linear_dae_loss`]: $\|a\,UU^\top x - x\|^2 + \beta^2g^2\|UU^\top\|_F^2$
//! per sample), the hard-max assignment by the clean projections.
//!
//! Conditioning: with $e_i = aUU^\top x_i - x_i$, a relative perturbation $\varepsilon_T$ of every
//! input moves $e_i$ by at most $\gamma_T(d + r + 4)\|x_i\|$ and the noise term
//! $r\,a(1-a)$ by $4\varepsilon_T r\,a(1-a)$, so the loss moves by
//! $8\gamma_T(d + r + 4)\sum_i\big(2\|e_i\|\|x_i\| + \|x_i\|^2\gamma_T + r\,a(1-a)\big)$; the tolerance
//! is that relative to the loss (the data sit at distance $\gtrsim 0.1\|x\|$ from the spans, and
//! every assignment has a margin far above its perturbation).

use faer::{Mat, MatRef};

use super::{SuiteBuilder, col, gaussian, norm};
use crate::golden::Tier;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::linalg::random_orthonormal;
use crate::reference::{self, Q};
use crate::service::eval::{LossForm, LossRange, dae_loss};

/// The oracle and the perturbation sum of one basis on its samples.
fn oracle(u: MatRef<'_, f64>, x: MatRef<'_, f64>, level: NoiseLevel) -> (Q, impl Fn(Tier) -> f64) {
    let (alpha, beta) = (level.alpha(), level.beta());
    let value = reference::linear_dae_loss(u, x, alpha, beta);
    let (a, b) = level.fractions();
    let r = u.ncols();
    let d = u.nrows();
    let per: Vec<(f64, f64)> = (0..x.ncols())
        .map(|j| {
            let xj = col(&x.to_owned(), j);
            let c: Vec<f64> = (0..r)
                .map(|l| (0..d).map(|i| u[(i, l)] * xj[i]).sum())
                .collect();
            let e: Vec<f64> = (0..d)
                .map(|i| a * (0..r).map(|l| u[(i, l)] * c[l]).sum::<f64>() - xj[i])
                .collect();
            (norm(&e), norm(&xj))
        })
        .collect();
    let noise = r as f64 * a * b;
    let bound = move |t: Tier| {
        let g = gamma(t, d + r + 4);
        C * g
            * per
                .iter()
                .map(|&(e, xn)| 2.0 * e * xn + xn * xn * g + noise)
                .sum::<f64>()
    };
    (value, bound)
}

/// The samples assigned to `u0` and to `u1` (larger projection; the data are drawn with
/// margins far above rounding).
fn split(u0: &Mat<f64>, u1: &Mat<f64>, x: &Mat<f64>) -> Result<(Mat<f64>, Mat<f64>)> {
    let proj = |u: &Mat<f64>, j: usize| -> f64 {
        (0..u.ncols())
            .map(|l| {
                let c: f64 = (0..u.nrows()).map(|i| u[(i, l)] * x[(i, j)]).sum();
                c * c
            })
            .sum()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for j in 0..x.ncols() {
        let (p0, p1) = (proj(u0, j), proj(u1, j));
        assert!(
            (p0 - p1).abs() > 1e-6 * (p0 + p1),
            "a hard-max tie in the golden data"
        );
        if p0 >= p1 { a.push(j) } else { b.push(j) }
    }
    let pick = |idx: &[usize]| Mat::from_fn(x.nrows(), idx.len(), |i, j| x[(i, idx[j])]);
    Ok((pick(&a), pick(&b)))
}

fn save(m: &Mat<f64>) -> Array {
    Array::from_batch(m.transpose())
}

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("dae-loss");
    let (d, r) = (10, 3);
    let q = random_orthonormal(&mut rng, d, 2 * r)?;
    let u0 = q.as_ref().subcols(0, r).to_owned();
    let u1 = q.as_ref().subcols(r, r).to_owned();
    // 12 samples: 6 near span U0, 6 near span U1, each 0.2 of its norm off the span.
    let n = 12;
    let z = gaussian(&mut rng, r, n);
    let off = gaussian(&mut rng, d, n);
    let x = Mat::from_fn(d, n, |i, j| {
        let u = if j < n / 2 { &u0 } else { &u1 };
        (0..r).map(|l| u[(i, l)] * z[(l, j)]).sum::<f64>() + 0.2 * off[(i, j)]
    });
    for (tag, level) in [
        ("beta-1e-4", NoiseLevel::new(1.0, 1e-4)?),
        ("alpha-1e-3", NoiseLevel::new(1e-3, 1.0)?),
        ("moderate", NoiseLevel::new(0.8, 0.6)?),
    ] {
        // K = 1 on all the data.
        let (value, bound) = oracle(u0.as_ref(), x.as_ref(), level);
        let want = reference::f(value);
        let got = dae_loss(
            std::slice::from_ref(&u0),
            x.as_ref(),
            LossForm::HardMax,
            &LossRange::Level(level),
        )?;
        let id = format!("dae-loss-k1-{tag}");
        s.add_case(NewCase {
            command: format!(
                "diffusion-lowdim eval dae-loss --basis cases/{id}/u0.npy --data cases/{id}/x.npy --alpha {} --beta {} --out {id}.npy",
                level.alpha(),
                level.beta()
            ),
            description: format!(
                "DAE loss of a rank-{r} basis in R^{d} on {n} samples at (alpha, beta) = ({}, {})",
                level.alpha(),
                level.beta()
            ),
            points: vec![PointTolerance::from_fn(want, |t| bound(t) / want)],
            expected: Array::from_vec(vec![want]),
            crate_value: Array::from_vec(vec![got.value]),
            id,
            family: "dae-loss",
            kind: "dae_loss",
            params: serde_json::json!({"form": "linear", "bases": 1}),
            model: None,
            level: Some(level),
            inputs: vec![("u0", save(&u0)), ("x", Array::from_batch(x.as_ref()))],
        })?;
        // Hard max over {U0, U1}: each sample to the basis with the larger clean projection.
        let (x0, x1) = split(&u0, &u1, &x)?;
        let (v0, b0) = oracle(u0.as_ref(), x0.as_ref(), level);
        let (v1, b1) = oracle(u1.as_ref(), x1.as_ref(), level);
        let want = reference::f(v0 + v1);
        let got = dae_loss(
            &[u0.clone(), u1.clone()],
            x.as_ref(),
            LossForm::HardMax,
            &LossRange::Level(level),
        )?;
        let id = format!("dae-loss-hard-max-{tag}");
        s.add_case(NewCase {
            command: format!(
                "diffusion-lowdim eval dae-loss --basis cases/{id}/u0.npy --basis cases/{id}/u1.npy --form hard-max --data cases/{id}/x.npy --alpha {} --beta {} --out {id}.npy",
                level.alpha(),
                level.beta()
            ),
            description: format!(
                "hard-max DAE loss of two rank-{r} bases in R^{d} on {n} samples at (alpha, beta) = ({}, {})",
                level.alpha(),
                level.beta()
            ),
            points: vec![PointTolerance::from_fn(want, |t| (b0(t) + b1(t)) / want)],
            expected: Array::from_vec(vec![want]),
            crate_value: Array::from_vec(vec![got.value]),
            id,
            family: "dae-loss",
            kind: "dae_loss",
            params: serde_json::json!({"form": "hard-max", "bases": 2}),
            model: None,
            level: Some(level),
            inputs: vec![("u0", save(&u0)), ("u1", save(&u1)), ("x", Array::from_batch(x.as_ref()))],
        })?;
    }
    Ok(())
}
