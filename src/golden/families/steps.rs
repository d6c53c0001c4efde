//! R10-steps: one sampler step with the exact denoiser (kind `sampler_step`).
//!
//! From points $x$ at time $t$ to time $s$ ($h = s - t$), with $D_t = D(x, t)$ and the
//! velocity $v(t, x) = \frac{\beta'_t}{\beta_t}(x - \alpha_tD_t) + \alpha'_tD_t$ of the PF ODE:
//! - Euler: $x + h\,v(t, x)$;
//! - Heun (EDM, k-diffusion `sample_heun` without churn): $\tilde x = x + h\,v(t, x)$,
//!   $x + \frac h2\big(v(t, x) + v(s, \tilde x)\big)$;
//! - DDIM (deterministic, $\eta = 0$): $\frac{\beta_s}{\beta_t}x + \big(\alpha_s - \alpha_t\frac{\beta_s}{\beta_t}\big)D_t$.
//!
//! The schedule's coefficients at $t$ and $s$ are given in `params` (taken as exact).
//! Expected values: the formulas in double-double with the R02–R04 oracles for $D$
//! (Heun's $\tilde x$ is rounded to f64 before its denoiser is evaluated; the
//! resulting error, at most $\frac{|h|}2(|\beta'_s/\beta_s|(1 + \alpha_s\|J\|) + |\alpha'_s|\|J\|)\,\varepsilon_{64}\|\tilde x\|$,
//! is far below the tolerance).
//!
//! Tolerances propagate first-order error bounds through the step: a denoiser
//! evaluation carries the R02–R04 mean tolerance $E_D$ at its point plus
//! $\|J\|_F\,E_{\mathrm{in}}$ for an error $E_{\mathrm{in}}$ of its input ($J$ the exact
//! Jacobian); each linear combination adds $8\gamma_T(8)$ times the magnitude of its
//! terms; the scale is that magnitude for the whole step, e.g. for Euler
//! $\|x\| + |h|\big(|\beta'_t/\beta_t|(\|x\| + \alpha_t\|D_t\|) + |\alpha'_t|\|D_t\|\big)$.

use faer::Mat;

use super::flows::{flow_command, from_rows};
use super::r02::typical;
use super::{SuiteBuilder, col, mean_at, norm, qv};
use crate::golden::Tier;
use crate::golden::export::NewCase;
use crate::golden::tolerance::{C, PointTolerance, gamma};
use crate::io::Result;
use crate::io::model_file::Model;
use crate::io::npy::Array;
use crate::level::NoiseLevel;
use crate::reference::{self, Q, q};
use crate::schedule::Coefficients;
use crate::service::eval::{FlowSpec, GridSpec, SolverSpec, flow_of};

/// The velocity in double-double: $\frac{\beta'}{\beta}(x - \alpha D) + \alpha' D$.
fn velocity(c: &Coefficients, x: &[Q], d: &[Q]) -> Vec<Q> {
    let (k, a, da) = (q(c.dbeta) / q(c.beta), q(c.alpha), q(c.dalpha));
    x.iter()
        .zip(d)
        .map(|(&xi, &di)| k * (xi - a * di) + da * di)
        .collect()
}

/// The magnitude of the terms of a velocity: $|\beta'/\beta|(\|x\| + \alpha\|D\|) + |\alpha'|\|D\|$.
fn magnitude(c: &Coefficients, nx: f64, nd: f64) -> f64 {
    (c.dbeta / c.beta).abs() * (nx + c.alpha * nd) + c.dalpha.abs() * nd
}

/// An error bound on a velocity from errors `ex` of `x` and `ed` of `D`.
fn velocity_error(c: &Coefficients, ex: f64, ed: f64) -> f64 {
    (c.dbeta / c.beta).abs() * (ex + c.alpha * ed) + c.dalpha.abs() * ed
}

fn qnorm(v: &[Q]) -> f64 {
    reference::norm(v)
}

fn coefficients_json(c: &Coefficients) -> serde_json::Value {
    serde_json::json!({ "alpha": c.alpha, "beta": c.beta, "dalpha": c.dalpha, "dbeta": c.dbeta })
}

/// One point of a step: the expected value (double-double) and its tolerance.
fn step_point(
    model: &Model,
    solver: SolverSpec,
    ct: &Coefficients,
    cs: &Coefficients,
    h: f64,
    x: &[f64],
) -> crate::Result<(Vec<f64>, PointTolerance)> {
    let (lt, ls) = (ct.level()?, cs.level()?);
    let xq: Vec<Q> = x.iter().map(|&v| q(v)).collect();
    let nx = norm(x);
    let (d1, p1) = mean_at(model, x, lt);
    let nd1 = qnorm(&d1);
    let e1 = |t: Tier| match t {
        Tier::F64 => p1.f64 * p1.scale,
        Tier::F32 => p1.f32 * p1.scale,
    };
    let g = |t: Tier| C * gamma(t, 8);
    Ok(match solver {
        SolverSpec::Euler => {
            let v = velocity(ct, &xq, &d1);
            let y: Vec<Q> = xq.iter().zip(&v).map(|(&a, &b)| a + q(h) * b).collect();
            let scale = nx + h.abs() * magnitude(ct, nx, nd1);
            (
                qv(&y),
                PointTolerance::from_fn(scale, |t| {
                    (h.abs() * velocity_error(ct, 0.0, e1(t)) + g(t) * scale) / scale
                }),
            )
        }
        SolverSpec::Heun => {
            let v1 = velocity(ct, &xq, &d1);
            let xt: Vec<Q> = xq.iter().zip(&v1).map(|(&a, &b)| a + q(h) * b).collect();
            let xt64 = qv(&xt);
            let (d2, p2) = mean_at(model, &xt64, ls);
            let v2 = velocity(cs, &xt, &d2);
            let y: Vec<Q> = xq
                .iter()
                .zip(v1.iter().zip(&v2))
                .map(|(&a, (&b, &c))| a + q(0.5 * h) * (b + c))
                .collect();
            let jac = model
                .exact()
                .jacobian(faer::ColRef::from_slice(&xt64), ls)?;
            let nj = jac.norm_l2();
            let (nxt, nd2) = (norm(&xt64), qnorm(&d2));
            let (m1, m2) = (magnitude(ct, nx, nd1), magnitude(cs, nxt, nd2));
            let scale = nx + 0.5 * h.abs() * (m1 + m2);
            let e2 = |t: Tier| match t {
                Tier::F64 => p2.f64 * p2.scale,
                Tier::F32 => p2.f32 * p2.scale,
            };
            (
                qv(&y),
                PointTolerance::from_fn(scale, |t| {
                    let ev1 = velocity_error(ct, 0.0, e1(t)) + g(t) * m1;
                    let ext = h.abs() * ev1 + g(t) * (nx + h.abs() * m1);
                    let ed2 = e2(t) + nj * ext;
                    let ev2 = velocity_error(cs, ext, ed2) + g(t) * m2;
                    (0.5 * h.abs() * (ev1 + ev2) + g(t) * scale) / scale
                }),
            )
        }
        SolverSpec::Ddim => {
            let ratio = q(cs.beta) / q(ct.beta);
            let gain = q(cs.alpha) - q(ct.alpha) * ratio;
            let y: Vec<Q> = xq
                .iter()
                .zip(&d1)
                .map(|(&a, &b)| ratio * a + gain * b)
                .collect();
            let r = cs.beta / ct.beta;
            let scale = r * nx + (cs.alpha + ct.alpha * r) * nd1;
            let c = reference::f(gain).abs();
            (
                qv(&y),
                PointTolerance::from_fn(scale, |t| (c * e1(t) + g(t) * scale) / scale),
            )
        }
        _ => unreachable!("sampler-step cases are Euler, Heun and DDIM"),
    })
}

#[allow(clippy::too_many_arguments)]
fn add_step(
    s: &mut SuiteBuilder,
    model_name: &str,
    what: &str,
    solver: SolverSpec,
    schedule: &str,
    t: f64,
    t_to: f64,
    x: &Mat<f64>,
) -> Result<()> {
    let (path, model) = s.model(model_name)?;
    let spec = FlowSpec {
        schedule: schedule.into(),
        solver,
        grid: GridSpec::Times {
            steps: 1,
            t_start: t,
            t_end: t_to,
            log: false,
            clean: false,
        },
    };
    let sched = spec.schedule()?;
    let (ct, cs) = (sched.coefficients(t)?, sched.coefficients(t_to)?);
    let h = t_to - t;
    let mut expected = Vec::new();
    let mut points = Vec::new();
    for j in 0..x.ncols() {
        let (e, p) = step_point(&model, solver, &ct, &cs, h, &col(x, j))?;
        expected.push(e);
        points.push(p);
    }
    let id = format!("r10-step-{model_name}-{}-{schedule}", solver.name());
    let crate_value = flow_of(&model, x.as_ref(), &spec)?.x;
    let x_rel = format!("cases/{id}/x.npy");
    let formula = match solver {
        SolverSpec::Euler => {
            "x + h v(t, x), v(t, x) = (dbeta_t/beta_t)(x - alpha_t D(x, t)) + dalpha_t D(x, t), h = s - t"
        }
        SolverSpec::Heun => {
            "xe = x + h v(t, x); x + (h/2)(v(t, x) + v(s, xe)), v as for Euler, h = s - t"
        }
        _ => "(beta_s/beta_t) x + (alpha_s - alpha_t beta_s/beta_t) D(x, t)",
    };
    s.add_case(NewCase {
        command: flow_command(&path, &x_rel, &id, &spec, solver),
        description: format!(
            "one {} step of {what} from t = {t} to s = {t_to} ({schedule}) with the exact denoiser",
            solver.name()
        ),
        id,
        family: "R10-steps",
        kind: "sampler_step",
        params: serde_json::json!({
            "solver": solver.name(),
            "schedule": schedule,
            "t": t,
            "s": t_to,
            "at_t": coefficients_json(&ct),
            "at_s": coefficients_json(&cs),
            "formula": formula,
        }),
        model: Some(path.clone()),
        level: Some(NoiseLevel::new(ct.alpha, ct.beta)?),
        inputs: vec![("x", Array::from_batch(x.as_ref()))],
        expected: Array::from_batch(from_rows(&expected, x.nrows()).as_ref()),
        crate_value: Array::from_batch(crate_value.as_ref()),
        points,
    })
}

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("R10-steps");
    let nb = 6;
    let models = [
        ("gaussian-lowrank", "a rank-4 Gaussian in R^12"),
        ("molrg-paper", "the paper's MoLRG (K = 3, r = 3, d = 16)"),
        (
            "empirical",
            "the empirical distribution of 20 points in R^8",
        ),
    ];
    for (name, what) in models {
        let (_, model) = s.model(name)?;
        let ve = crate::schedule::by_name("ve").expect("a listed schedule");
        // EDM / k-diffusion: sigma 1 -> 0.7.
        let x = typical(&mut rng, model.exact(), ve.level(1.0)?, nb);
        add_step(s, name, what, SolverSpec::Euler, "ve", 1.0, 0.7, &x)?;
        add_step(s, name, what, SolverSpec::Heun, "ve", 1.0, 0.7, &x)?;
        // diffusers DDIM on the DDPM linear table: timestep 300 -> 280.
        let ddpm = crate::schedule::by_name("ddpm-linear").expect("a listed schedule");
        let x = typical(&mut rng, model.exact(), ddpm.level(300.0)?, nb);
        add_step(
            s,
            name,
            what,
            SolverSpec::Ddim,
            "ddpm-linear",
            300.0,
            280.0,
            &x,
        )?;
    }
    // VP (score_sde linear): the alpha' terms.
    let (_, model) = s.model("gaussian-lowrank")?;
    let vp = crate::schedule::by_name("vp-linear").expect("a listed schedule");
    let x = typical(&mut rng, model.exact(), vp.level(0.5)?, nb);
    let what = models[0].1;
    add_step(
        s,
        "gaussian-lowrank",
        what,
        SolverSpec::Euler,
        "vp-linear",
        0.5,
        0.45,
        &x,
    )?;
    add_step(
        s,
        "gaussian-lowrank",
        what,
        SolverSpec::Heun,
        "vp-linear",
        0.5,
        0.45,
        &x,
    )?;
    Ok(())
}
