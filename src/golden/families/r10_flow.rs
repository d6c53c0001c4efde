//! R10: probability-flow maps $\Phi(x_{t_0})$ (kind `flow`).
//!
//! Gaussian models: the expected output is the exact flow (R10's closed form,
//! [`crate::flow::GaussianFlow`]) evaluated in double-double, followed for a clean
//! end by the R02 posterior mean in double-double; its error is rounding only.
//! A general MoLRG (non-orthogonal components, unequal $\pi$, ranks and variances):
//! the crate's adaptive Dormand–Prince at rtol $10^{-12}$ (atol $10^{-14}$), whose error
//! is estimated per point by its distance to the solution at rtol $10^{-10}$ (the error of the
//! looser solve, an overestimate of the tighter one's). The tolerance of every case adds
//! twice the measured error of the stated candidate discretization (see [`super::flows`]).

use faer::Mat;

use super::flows::{FlowCase, Reference, add_flow_case, clean_end_q, col_dists, gaussian_flow_q};
use super::{SuiteBuilder, gaussian};
use crate::flow::{DormandPrince, GridEnd, ProbabilityFlow, Solver, TimeGrid};
use crate::io::Result;
use crate::io::model_file::Model;
use crate::service::eval::{FlowSpec, GridSpec, SolverSpec, exact_gaussian_flow, flow_of};

/// A Gaussian flow case: exact reference, the candidate run by the crate.
fn gaussian_case(
    s: &mut SuiteBuilder,
    tag: &str,
    description: &str,
    spec: FlowSpec,
    x: &Mat<f64>,
) -> Result<()> {
    let (path, model) = s.model("gaussian-lowrank")?;
    let Model::Gaussian(g) = &model else {
        unreachable!("gaussian-lowrank is a Gaussian")
    };
    let schedule = spec.schedule()?;
    let grid = spec.grid.build(schedule.as_ref())?;
    let (from, last) = (schedule.level(grid.start())?, schedule.level(grid.last())?);
    let end_state = gaussian_flow_q(g, x, from, last);
    let expected = if grid.end() == GridEnd::Clean {
        clean_end_q(&model, &end_state, last)
    } else {
        end_state.clone()
    };
    let candidate = flow_of(&model, x.as_ref(), &spec)?.x;
    let crate_value = exact_gaussian_flow(g, schedule.as_ref(), &grid, x.as_ref())?;
    add_flow_case(
        s,
        FlowCase {
            id: format!("r10-gaussian-lowrank-flow-{tag}"),
            family: "R10",
            description: format!(
                "flow map of a rank-4 Gaussian in R^12: {description}; expected: the exact \
                 Gaussian flow (double-double)"
            ),
            model_path: &path,
            model: &model,
            spec,
            x,
            shared_x: None,
            reference: Reference {
                error: vec![0.0; x.ncols()],
                expected,
                end_state,
                method: serde_json::json!({
                    "method": "exact Gaussian flow (R10 closed form) in double-double; clean end: \
                               R02 posterior mean in double-double",
                    "error": "rounding only",
                }),
            },
            candidate,
            crate_value,
            crate_solver: SolverSpec::Exact,
        },
    )
}

pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("R10");
    let nb = 6;
    let d = 12;
    // VE on EDM's grid (σ from 80 to 0.002, then the clean end): noises x_T = 80 z.
    let x = gaussian(&mut rng, d, nb) * faer::Scale(80.0);
    gaussian_case(
        s,
        "ve-edm",
        "VE on EDM's grid (sigma 80 -> 0.002, then the clean end); candidate RK4 with 1024 levels",
        FlowSpec {
            schedule: "ve".into(),
            solver: SolverSpec::Rk4,
            grid: GridSpec::edm(1024),
        },
        &x,
    )?;
    // VE, a short span where Heun converges fast: t = 2 -> 0.5, equal steps.
    let x = gaussian(&mut rng, d, nb) * faer::Scale(2.0);
    gaussian_case(
        s,
        "ve-heun",
        "VE from t = 2 to t = 0.5 in equal steps; candidate Heun with 8192 steps",
        FlowSpec {
            schedule: "ve".into(),
            solver: SolverSpec::Heun,
            grid: GridSpec::Times {
                steps: 8192,
                t_start: 2.0,
                t_end: 0.5,
                log: false,
                clean: false,
            },
        },
        &x,
    )?;
    // VP (score_sde linear) from t = 1 to 0.01, equal steps in log t.
    let x = gaussian(&mut rng, d, nb);
    gaussian_case(
        s,
        "vp-linear",
        "VP-linear (score_sde) from t = 1 to t = 0.01 in equal steps of log t; candidate RK4 \
         with 512 steps",
        FlowSpec {
            schedule: "vp-linear".into(),
            solver: SolverSpec::Rk4,
            grid: GridSpec::Times {
                steps: 512,
                t_start: 1.0,
                t_end: 0.01,
                log: true,
                clean: false,
            },
        },
        &x,
    )?;
    // Rectified flow from pure noise (alpha = 0 at t = 1) to t = 0.02, then the clean end.
    let x = gaussian(&mut rng, d, nb);
    gaussian_case(
        s,
        "rectified-flow",
        "rectified flow from pure noise (t = 1, alpha = 0) to t = 0.02, then the clean end; \
         candidate RK4 with 512 equal steps",
        FlowSpec {
            schedule: "rectified-flow".into(),
            solver: SolverSpec::Rk4,
            grid: GridSpec::Times {
                steps: 512,
                t_start: 1.0,
                t_end: 0.02,
                log: false,
                clean: true,
            },
        },
        &x,
    )?;

    // A general MoLRG: Dormand–Prince reference.
    let (path, model) = s.model("molrg-general")?;
    let x = gaussian(&mut rng, model.dim(), nb) * faer::Scale(2.0);
    let spec = FlowSpec {
        schedule: "ve".into(),
        solver: SolverSpec::Heun,
        grid: GridSpec::Times {
            steps: 8192,
            t_start: 2.0,
            t_end: 1.0,
            log: false,
            clean: false,
        },
    };
    let schedule = spec.schedule()?;
    let ends = TimeGrid::new(vec![2.0, 1.0], GridEnd::Last)?;
    let flow = ProbabilityFlow::new(schedule.as_ref(), model.denoiser());
    let (tight, loose) = (
        DormandPrince::new(1e-12, 1e-14)?,
        DormandPrince::new(1e-10, 1e-12)?,
    );
    let expected = tight.solve(&flow, &ends, x.as_ref())?.x;
    let error = col_dists(&loose.solve(&flow, &ends, x.as_ref())?.x, &expected);
    let candidate = flow_of(&model, x.as_ref(), &spec)?.x;
    // The crate's value: Dormand–Prince at rtol 1e-11 (its command).
    let crate_solver = SolverSpec::DormandPrince {
        rtol: 1e-11,
        atol: 1e-13,
    };
    let crate_value = flow_of(
        &model,
        x.as_ref(),
        &FlowSpec {
            solver: crate_solver,
            ..spec.clone()
        },
    )?
    .x;
    add_flow_case(
        s,
        FlowCase {
            id: "r10-molrg-general-flow-ve-heun".into(),
            family: "R10",
            description: "flow map of a MoLRG with unequal pi, r_k and Lambda_k (non-orthogonal \
                          components in R^12), VE from t = 2 to t = 1; expected: Dormand-Prince \
                          at rtol 1e-12; candidate Heun with 8192 equal steps"
                .into(),
            model_path: &path,
            model: &model,
            spec,
            x: &x,
            shared_x: None,
            reference: Reference {
                error,
                end_state: expected.clone(),
                expected,
                method: serde_json::json!({
                    "method": "the crate's adaptive Dormand-Prince 5(4), rtol 1e-12, atol 1e-14",
                    "error": "per point, the distance to the Dormand-Prince solution at rtol 1e-10",
                }),
            },
            candidate,
            crate_value,
            crate_solver,
        },
    )
}
