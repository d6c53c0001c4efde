//! Schedule tables: diffusers `alphas_cumprod`, the EDM σ grid, score_sde levels.
//!
//! Expected values are the defining formulas evaluated in double-double from
//! the libraries' f64 parameters (taken as exact): products $\prod_{i\le n}(1-\beta_i)$,
//! Newton-refined 7th roots and powers, `exp` of the VP log-mean coefficient.
//! Each entry is a point (a scalar); its scale is its own magnitude. Condition
//! numbers: $n+2$ factors for a cumulative product; $\rho(|a| + f_i(|a|+|b|))/u_i$ for
//! $\sigma_i = u_i^\rho$, $u_i = a + f_i(b-a)$; $1 + |L|$ for $\alpha = e^{L}$, and
//! $1 + (1+|L|)\alpha^2/\beta^2$ for $\beta = \sqrt{1-\alpha^2}$ (so `sqrt(1 - exp(2L))`,
//! score_sde's own formula, passes); $1 + |\log\sigma_{\min}| + t\log(\sigma_{\max}/\sigma_{\min})$ for
//! the VE $\sigma(t)$.

use super::SuiteBuilder;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::npy::Array;
use crate::reference::{self, Q, q};
use crate::schedule::{cosine_betas, linear_betas, scaled_linear_betas};
use crate::service::presets::{self, TableOptions, torch_linspace_f64};

/// The real `n`-th root of `x > 0` in double-double (Newton from the f64 root).
pub(super) fn root_q(x: f64, n: i32) -> Q {
    let xq = q(x);
    let mut r = q(x.powf(1.0 / f64::from(n)));
    for _ in 0..3 {
        let mut p = Q::ONE;
        for _ in 0..n - 1 {
            p *= r;
        }
        // r ← r − (r^n − x)/(n r^{n−1})
        r -= (p * r - xq) / (q(f64::from(n)) * p);
    }
    r
}

pub(super) fn pow_q(x: Q, n: i32) -> Q {
    let mut p = Q::ONE;
    for _ in 0..n {
        p *= x;
    }
    p
}

#[allow(clippy::too_many_arguments)]
fn add(
    s: &mut SuiteBuilder,
    id: &str,
    description: &str,
    params: serde_json::Value,
    inputs: Vec<(&'static str, Array)>,
    expected: Vec<f64>,
    crate_value: Vec<f64>,
    points: Vec<PointTolerance>,
    command: String,
) -> Result<()> {
    s.add_case(NewCase {
        id: id.to_string(),
        family: "schedules",
        kind: "schedule",
        description: description.to_string(),
        params,
        model: None,
        level: None,
        inputs,
        expected: Array::from_vec(expected),
        crate_value: Array::from_vec(crate_value),
        points,
        command,
    })
}

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    // diffusers alphas_cumprod (f64 ground truth).
    for (preset, betas) in [
        ("diffusers-linear", linear_betas(1000, 1e-4, 0.02)?),
        (
            "diffusers-scaled-linear",
            scaled_linear_betas(1000, 0.00085, 0.012)?,
        ),
        ("diffusers-squaredcos-cap-v2", cosine_betas(1000)?),
    ] {
        let mut p = Q::ONE;
        let mut expected = Vec::with_capacity(betas.len());
        let mut points = Vec::with_capacity(betas.len());
        for (n, &b) in betas.iter().enumerate() {
            p *= Q::ONE - q(b);
            let v = reference::f(p);
            expected.push(v);
            points.push(PointTolerance::from_fn(v, |t| C * gamma(t, n + 2)));
        }
        let table = presets::find(preset)?.table(&TableOptions::default())?;
        let crate_value = table
            .native
            .iter()
            .find(|(k, _)| *k == "alphas_cumprod")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        add(
            s,
            &format!("schedule-{preset}-alphas-cumprod"),
            &format!(
                "alphas_cumprod of the {preset} table (1000 entries) from the f64 betas, exactly"
            ),
            serde_json::json!({"preset": preset, "column": "alphas_cumprod", "precision": "f64"}),
            vec![],
            expected,
            crate_value,
            points,
            format!(
                "diffusion-lowdim eval schedule --schedule {preset} --out-dir table   # then table/alphas_cumprod.npy"
            ),
        )?;
    }

    // NVlabs EDM's 18-step grid (without the appended 0).
    let n = 18usize;
    let (a, b) = (root_q(80.0, 7), root_q(0.002, 7));
    let (af, bf) = (reference::f(a), reference::f(b));
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for i in 0..n {
        let fi = i as f64 / (n - 1) as f64;
        let u = a + q(i as f64) / q((n - 1) as f64) * (b - a);
        let v = reference::f(pow_q(u, 7));
        expected.push(v);
        let kappa = 7.0 * (af.abs() + fi * (af.abs() + bf.abs())) / reference::f(u);
        points.push(PointTolerance::from_fn(v, |t| C * gamma(t, 4) * kappa));
    }
    let table = presets::find("edm")?.table(&TableOptions::default())?;
    add(
        s,
        "schedule-edm-sigmas",
        "NVlabs EDM's 18-step sigma grid (sigma_min 0.002, sigma_max 80, rho 7), without the appended 0",
        serde_json::json!({"preset": "edm", "column": "sigmas", "steps": 18, "precision": "f64", "appended_zero": false}),
        vec![],
        expected,
        table.beta[..n].to_vec(),
        points,
        "diffusion-lowdim eval schedule --schedule edm --out-dir table   # then table/sigmas.npy[:18]".into(),
    )?;

    // score_sde VP: α and β on the sampler grid linspace(1, 1e-3, 50).
    let steps = 50usize;
    let t = torch_linspace_f64(1.0, 1e-3, steps);
    let vp = presets::find("score-sde-vp")?;
    let opts = TableOptions {
        steps: Some(steps),
        ..TableOptions::default()
    };
    let levels: Vec<_> = t
        .iter()
        .map(|&ti| vp.level_at(ti, &opts))
        .collect::<Result<_>>()?;
    let (b0, b1) = (q(0.1), q(20.0));
    let mut ea = Vec::new();
    let mut eb = Vec::new();
    let mut pa = Vec::new();
    let mut pb = Vec::new();
    for &ti in &t {
        let tq = q(ti);
        let l = -(q(0.25) * tq * tq * (b1 - b0) + q(0.5) * tq * b0);
        let al = l.exp();
        let be = (Q::ONE - (q(2.0) * l).exp()).sqrt();
        let (lf, af, bf) = (reference::f(l).abs(), reference::f(al), reference::f(be));
        ea.push(af);
        eb.push(bf);
        pa.push(PointTolerance::from_fn(af, |t| {
            C * gamma(t, 6) * (1.0 + lf)
        }));
        let kb = 1.0 + (1.0 + lf) * af * af / (bf * bf);
        pb.push(PointTolerance::from_fn(bf, |t| C * gamma(t, 6) * kb));
    }
    let t_arr = Array::from_vec(t.clone());
    let params = |col: &str| serde_json::json!({"preset": "score-sde-vp", "column": col, "steps": steps, "precision": "f64"});
    add(
        s,
        "schedule-score-sde-vp-alpha",
        "score_sde VPSDE (beta_min 0.1, beta_max 20) signal scale alpha(t) at the given times t",
        params("alpha"),
        vec![("t", t_arr.clone())],
        ea,
        levels.iter().map(|l| l.alpha()).collect(),
        pa,
        format!(
            "diffusion-lowdim eval schedule --schedule score-sde-vp --steps {steps} --out-dir table   # then table/alpha.npy"
        ),
    )?;
    add(
        s,
        "schedule-score-sde-vp-beta",
        "score_sde VPSDE noise scale beta(t) = sqrt(1 - alpha(t)^2) at the given times t",
        params("beta"),
        vec![("t", t_arr)],
        eb,
        levels.iter().map(|l| l.beta()).collect(),
        pb,
        format!(
            "diffusion-lowdim eval schedule --schedule score-sde-vp --steps {steps} --out-dir table   # then table/beta.npy"
        ),
    )?;

    // score_sde VE: σ(t) = 0.01 (50/0.01)^t on linspace(1, 1e-5, 50).
    let t = torch_linspace_f64(1.0, 1e-5, steps);
    let ve = presets::find("score-sde-ve")?;
    let mut e = Vec::new();
    let mut p = Vec::new();
    let mut c = Vec::new();
    let ln_min = q(0.01).ln();
    let ln_ratio = (q(50.0) / q(0.01)).ln();
    for &ti in &t {
        let v = reference::f((ln_min + q(ti) * ln_ratio).exp());
        e.push(v);
        let kappa = 1.0 + 0.01f64.ln().abs() + ti * (5000.0f64).ln();
        p.push(PointTolerance::from_fn(v, |t| C * gamma(t, 6) * kappa));
        c.push(ve.level_at(ti, &opts)?.beta());
    }
    add(
        s,
        "schedule-score-sde-ve-sigma",
        "score_sde VESDE (sigma_min 0.01, sigma_max 50) noise scale sigma(t) at the given times t",
        serde_json::json!({"preset": "score-sde-ve", "column": "beta", "steps": steps, "precision": "f64"}),
        vec![("t", Array::from_vec(t))],
        e,
        c,
        p,
        format!(
            "diffusion-lowdim eval schedule --schedule score-sde-ve --steps {steps} --out-dir table   # then table/beta.npy"
        ),
    )?;
    Ok(())
}
