//! The schedule grids issue 14 made reachable: k-diffusion's Karras grid with another range and
//! ρ (σ ∈ [0.0292, 14.6146], ρ = 3, diffusers' scaled-linear range), its exponential grid with
//! that range, `get_sigmas_vp`, and diffusers' `EulerDiscreteScheduler` sigmas and
//! `init_noise_sigma` (leading, linspace with interpolated timesteps, trailing with Karras
//! sigmas), in f64.
//!
//! Expected values are the defining formulas in double-double from the f64 parameters (taken
//! as exact), as in the `schedules` family: Newton-refined cube roots and powers for the Karras
//! grid (condition number $\rho(|a| + f_i(|a|+|b|))/u_i$ for $\sigma_i = u_i^\rho$, $u_i = a + f_i(b - a)$);
//! for the VP grid at the given times $t_i$, $\sigma = \sqrt{e^x - 1}$ with
//! $x = \beta_d t^2/2 + \beta_{\min}t$, whose condition number is $1 + x e^x/(e^x - 1)$ (so an
//! implementation with `expm1` passes, while `exp(x) - 1` in float32 — k-diffusion's own
//! arithmetic — fails the f32 tier near $t = 10^{-3}$; divergence `k-diffusion-vp-float32`).
//! The exponential and Euler oracles and their tolerances are described at their builders.

use super::SuiteBuilder;
use super::schedules::{pow_q, root_q};
use crate::golden::Tier;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::npy::Array;
use crate::reference::{self, Q, q};
use crate::schedule::{cosine_betas, linear_betas, scaled_linear_betas};
use crate::service::presets::{self, Spacing, TableOptions, torch_linspace_f64};

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

    exponential(s)?;
    // diffusers EulerDiscreteScheduler: one case per setting for the sigmas, one for
    // init_noise_sigma. 12 linspace steps: np.linspace(0, 999, 12) is not integer (10 is:
    // 999 = 9 · 111), so the sigmas are interpolated between table entries.
    euler(
        s,
        "diffusers-euler-scaled-linear",
        &scaled_linear_betas(1000, 0.00085, 0.012)?,
        25,
        "leading",
        false,
    )?;
    euler(
        s,
        "diffusers-euler-linear",
        &linear_betas(1000, 1e-4, 0.02)?,
        12,
        "linspace",
        false,
    )?;
    euler(
        s,
        "diffusers-euler-squaredcos-cap-v2",
        &cosine_betas(1000)?,
        10,
        "trailing",
        true,
    )?;
    Ok(())
}

/// k-diffusion `get_sigmas_exponential(10, 0.0292, 14.6146)`: $\sigma_i = e^{L_i}$,
/// $L_i = (1 - f_i)\log\sigma_{\max} + f_i\log\sigma_{\min}$, condition number
/// $1 + |L_{\max}| + f_i(|L_{\max}| + |L_{\min}|)$ (the exponent's rounding, relative to $|L|$).
fn exponential(s: &mut SuiteBuilder) -> Result<()> {
    let (smin, smax, n) = (0.0292f64, 14.6146f64, 10usize);
    let (la, lb) = (q(smax).ln(), q(smin).ln());
    let (laf, lbf) = (reference::f(la).abs(), reference::f(lb).abs());
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for i in 0..n {
        let fi = i as f64 / (n - 1) as f64;
        let l = la + q(i as f64) / q((n - 1) as f64) * (lb - la);
        let v = reference::f(l.exp());
        expected.push(v);
        let kappa = 1.0 + laf + fi * (laf + lbf);
        points.push(PointTolerance::from_fn(v, |t| C * gamma(t, 4) * kappa));
    }
    let table = presets::find("k-diffusion-exponential")?.table(&TableOptions {
        steps: Some(n),
        sigma_min: Some(smin),
        sigma_max: Some(smax),
        ..TableOptions::default()
    })?;
    s.add_case(NewCase {
        id: "grids-k-diffusion-exponential-range".into(),
        family: "grids",
        kind: "schedule",
        description: format!(
            "k-diffusion get_sigmas_exponential({n}, {smin}, {smax}) in float64, without the appended 0"
        ),
        params: serde_json::json!({"preset": "k-diffusion-exponential", "column": "sigmas", "steps": n,
            "sigma_min": smin, "sigma_max": smax, "precision": "f64", "appended_zero": false}),
        model: None,
        level: None,
        inputs: vec![],
        expected: Array::from_vec(expected),
        crate_value: Array::from_vec(table.beta[..n].to_vec()),
        points,
        command: format!(
            "diffusion-lowdim eval schedule --schedule k-diffusion-exponential --sigma-min {smin} --sigma-max {smax} --steps {n} --out-dir table   # then table/sigmas.npy[:{n}]"
        ),
    })
}

/// diffusers `EulerDiscreteScheduler`'s inference timesteps for 1000 train steps, as the
/// library computes them (linspace in float64 rounded to float32; leading and trailing are
/// integers; `steps_offset` 0).
fn euler_timesteps(n: usize, spacing: &str) -> Vec<f64> {
    let n_train = 1000usize;
    let mut t: Vec<f64> = match spacing {
        "linspace" => {
            let step = (n_train - 1) as f64 / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n)
                .map(|i| f64::from(((i as f64) * step) as f32))
                .collect();
            v[n - 1] = (n_train - 1) as f64;
            v
        }
        "leading" => (0..n).map(|i| (i * (n_train / n)) as f64).collect(),
        _ => {
            let step = n_train as f64 / n as f64;
            (0..n)
                .map(|i| (n_train as f64 - i as f64 * step).round_ties_even() - 1.0)
                .rev()
                .collect()
        }
    };
    t.reverse();
    t
}

/// The Euler sigmas (and `init_noise_sigma`) of one setting against double-double oracles:
/// the training table $\sigma_j = \sqrt{(1-\bar\alpha_j)/\bar\alpha_j}$ from the f64 betas,
/// linearly interpolated at the timesteps, then (`karras`) the Karras grid with $\rho = 7$
/// between the interpolated ends.
///
/// Tolerances, per tier: a table entry computed as `sqrt((1 - cumprod)/cumprod)` has relative
/// error at most $\gamma(j+5)(1 + \tfrac12\bar\alpha_j/(1-\bar\alpha_j))$ (the product's
/// $\gamma(j+2)$, amplified in $1 - \bar\alpha_j$); interpolation is a convex combination of two
/// entries (σ increases with $t$), so it adds $\gamma(3)$ to the larger of their bounds; the
/// Karras grid adds its own $\rho(|a| + f_i(|a|+|b|))/u_i\,\gamma(4)$ to the larger bound of its
/// ends (an end's relative error $e$ moves $u_i^\rho$ by at most $e$); $\sqrt{\sigma^2 + 1}$ adds
/// $\gamma(3)$.
fn euler(
    s: &mut SuiteBuilder,
    preset: &str,
    betas: &[f64],
    n: usize,
    spacing: &str,
    karras: bool,
) -> Result<()> {
    let ac = reference::alphas_cumprod(betas);
    let train = reference::ve_sigmas(&ac);
    let last = train.len() - 1;
    let node = |t: Tier, j: usize| {
        let a = reference::f(ac[j]);
        let om = reference::f(Q::ONE - ac[j]);
        C * gamma(t, j + 5) * (1.0 + 0.5 * a / om)
    };
    let ts = euler_timesteps(n, spacing);
    let at = |t: Tier, x: f64| {
        let j = (x.max(0.0).floor() as usize).min(last);
        C * gamma(t, 3) + node(t, j).max(node(t, (j + 1).min(last)))
    };
    let interp: Vec<Q> = ts
        .iter()
        .map(|&x| reference::interp_unit(x, &train))
        .collect();
    let tiers = [Tier::F64, Tier::F32];
    let (values, tols): (Vec<Q>, Vec<[f64; 2]>) = if karras {
        let rho = 7i32;
        let (a, b) = (
            reference::nth_root(interp[0], rho),
            reference::nth_root(interp[n - 1], rho),
        );
        let (af, bf) = (reference::f(a), reference::f(b));
        let mut values = Vec::new();
        let mut tols = Vec::new();
        for i in 0..n {
            let fi = i as f64 / (n - 1) as f64;
            let u = a + q(i as f64) / q((n - 1) as f64) * (b - a);
            values.push(pow_q(u, rho));
            let kappa = f64::from(rho) * (af.abs() + fi * (af.abs() + bf.abs())) / reference::f(u);
            tols.push(tiers.map(|t| at(t, ts[0]).max(at(t, ts[n - 1])) + C * gamma(t, 4) * kappa));
        }
        (values, tols)
    } else {
        let tols = ts.iter().map(|&x| tiers.map(|t| at(t, x))).collect();
        (interp, tols)
    };
    let point = |v: f64, tol: [f64; 2]| PointTolerance {
        scale: v,
        f64: tol[0],
        f32: tol[1],
    };
    // The largest sigma is the first (the grids decrease).
    let (top, top_tol) = (values[0], tols[0]);
    let (init, init_tol) = if spacing == "leading" {
        (
            (top * top + Q::ONE).sqrt(),
            [0, 1].map(|k| top_tol[k] + C * gamma(tiers[k], 3)),
        )
    } else {
        (top, top_tol)
    };
    let expected: Vec<f64> = values.iter().map(|&v| reference::f(v)).collect();
    let points = expected
        .iter()
        .zip(&tols)
        .map(|(&v, &tol)| point(v, tol))
        .collect();
    let init_f = reference::f(init);
    let table = presets::find(preset)?.table(&TableOptions {
        steps: Some(n),
        spacing: Spacing::parse(spacing).unwrap_or_default(),
        karras,
        ..TableOptions::default()
    })?;
    let crate_init = table
        .native
        .iter()
        .find(|(k, _)| *k == "init_noise_sigma")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let karras_flag = if karras { " --karras" } else { "" };
    let karras_id = if karras { "-karras" } else { "" };
    let cmd = format!(
        "diffusion-lowdim eval schedule --schedule {preset} --steps {n} --spacing {spacing}{karras_flag} --out-dir table"
    );
    let what = format!(
        "diffusers EulerDiscreteScheduler (beta_schedule of {preset}, use_karras_sigmas={}) after set_timesteps({n}), timestep_spacing={spacing}, float64",
        if karras { "True" } else { "False" }
    );
    let inputs = || vec![("t", Array::from_vec(ts.clone()))];
    let short = preset.trim_start_matches("diffusers-");
    s.add_case(NewCase {
        id: format!("grids-{short}-{spacing}{karras_id}-{n}-sigmas"),
        family: "grids",
        kind: "schedule",
        description: format!(
            "{what}: sigmas without the appended 0 (input t: the scheduler's timesteps)"
        ),
        params: serde_json::json!({"preset": preset, "column": "sigmas", "steps": n,
            "spacing": spacing, "karras": karras, "precision": "f64", "appended_zero": false}),
        model: None,
        level: None,
        inputs: inputs(),
        expected: Array::from_vec(expected),
        crate_value: Array::from_vec(table.beta[..n].to_vec()),
        points,
        command: format!("{cmd}   # then table/sigmas.npy[:{n}]"),
    })?;
    s.add_case(NewCase {
        id: format!("grids-{short}-{spacing}{karras_id}-{n}-init-noise-sigma"),
        family: "grids",
        kind: "schedule",
        description: format!(
            "{what}: init_noise_sigma ({})",
            if spacing == "leading" {
                "sqrt(max sigma^2 + 1) for leading spacing"
            } else {
                "max sigma"
            }
        ),
        params: serde_json::json!({"preset": preset, "column": "init_noise_sigma", "steps": n,
            "spacing": spacing, "karras": karras, "precision": "f64"}),
        model: None,
        level: None,
        inputs: inputs(),
        expected: Array::from_vec(vec![init_f]),
        crate_value: Array::from_vec(crate_init),
        points: vec![point(init_f, init_tol)],
        command: format!("{cmd}   # then table/init_noise_sigma.npy"),
    })
}
