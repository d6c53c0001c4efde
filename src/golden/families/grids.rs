//! The schedule grids issue 14 made reachable: k-diffusion's Karras grid with another range and
//! ρ (σ ∈ [0.0292, 14.6146], ρ = 3, diffusers' scaled-linear range) and `get_sigmas_vp`, in f64.
//!
//! Expected values are the defining formulas in double-double from the f64 parameters (taken
//! as exact), as in the `schedules` family: Newton-refined cube roots and powers for the Karras
//! grid (condition number $\rho(|a| + f_i(|a|+|b|))/u_i$ for $\sigma_i = u_i^\rho$, $u_i = a + f_i(b - a)$);
//! for the VP grid at the given times $t_i$, $\sigma = \sqrt{e^x - 1}$ with
//! $x = \beta_d t^2/2 + \beta_{\min}t$, whose condition number is $1 + x e^x/(e^x - 1)$ (so an
//! implementation with `expm1` passes, while `exp(x) - 1` in float32 — k-diffusion's own
//! arithmetic — fails the f32 tier near $t = 10^{-3}$; divergence `k-diffusion-vp-float32`).

use super::SuiteBuilder;
use super::schedules::{pow_q, root_q};
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::npy::Array;
use crate::reference::{self, Q, q};
use crate::service::presets::{self, TableOptions, torch_linspace_f64};

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    // Karras, σ ∈ [0.0292, 14.6146], ρ = 3, 10 levels.
    let (smin, smax, rho, n) = (0.0292f64, 14.6146f64, 3i32, 10usize);
    let (a, b) = (root_q(smax, rho), root_q(smin, rho));
    let (af, bf) = (reference::f(a), reference::f(b));
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for i in 0..n {
        let fi = i as f64 / (n - 1) as f64;
        let u = a + q(i as f64) / q((n - 1) as f64) * (b - a);
        let v = reference::f(pow_q(u, rho));
        expected.push(v);
        let kappa = f64::from(rho) * (af.abs() + fi * (af.abs() + bf.abs())) / reference::f(u);
        points.push(PointTolerance::from_fn(v, |t| C * gamma(t, 4) * kappa));
    }
    let opts = TableOptions {
        steps: Some(n),
        sigma_min: Some(smin),
        sigma_max: Some(smax),
        rho: Some(f64::from(rho)),
        ..TableOptions::default()
    };
    let table = presets::find("k-diffusion-karras")?.table(&opts)?;
    s.add_case(NewCase {
        id: "grids-k-diffusion-karras-range".into(),
        family: "grids",
        kind: "schedule",
        description: format!(
            "k-diffusion get_sigmas_karras({n}, {smin}, {smax}, rho={rho}) in float64, without the appended 0"
        ),
        params: serde_json::json!({"preset": "k-diffusion-karras", "column": "sigmas", "steps": n,
            "sigma_min": smin, "sigma_max": smax, "rho": f64::from(rho), "precision": "f64", "appended_zero": false}),
        model: None,
        level: None,
        inputs: vec![],
        expected: Array::from_vec(expected),
        crate_value: Array::from_vec(table.beta[..n].to_vec()),
        points,
        command: format!(
            "diffusion-lowdim eval schedule --schedule k-diffusion-karras --sigma-min {smin} --sigma-max {smax} --rho {rho} --steps {n} --out-dir table   # then table/sigmas.npy[:{n}]"
        ),
    })?;

    // get_sigmas_vp(10): σ(t) at t = linspace(1, 1e-3, 10).
    let n = 10usize;
    let t = torch_linspace_f64(1.0, 1e-3, n);
    let (bd, bm) = (q(19.9), q(0.1));
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for &ti in &t {
        let tq = q(ti);
        let x: Q = bd * tq * tq / q(2.0) + bm * tq;
        let em1 = x.exp() - Q::ONE;
        let v = reference::f(em1.sqrt());
        let xf = reference::f(x);
        let kappa = 1.0 + xf * xf.exp() / reference::f(em1);
        expected.push(v);
        points.push(PointTolerance::from_fn(v, |t| C * gamma(t, 8) * kappa));
    }
    let table = presets::find("k-diffusion-vp")?.table(&TableOptions {
        steps: Some(n),
        ..TableOptions::default()
    })?;
    s.add_case(NewCase {
        id: "grids-k-diffusion-vp".into(),
        family: "grids",
        kind: "schedule",
        description: format!(
            "k-diffusion get_sigmas_vp({n}) (beta_d 19.9, beta_min 0.1, eps_s 1e-3) in float64 at the given times t, without the appended 0"
        ),
        params: serde_json::json!({"preset": "k-diffusion-vp", "column": "sigmas", "steps": n, "precision": "f64", "appended_zero": false}),
        model: None,
        level: None,
        inputs: vec![("t", Array::from_vec(t))],
        expected: Array::from_vec(expected),
        crate_value: Array::from_vec(table.beta[..n].to_vec()),
        points,
        command: format!(
            "diffusion-lowdim eval schedule --schedule k-diffusion-vp --steps {n} --out-dir table   # then table/sigmas.npy[:{n}]"
        ),
    })?;
    Ok(())
}
