//! measure: the teacher–student reference of `diffusion-lowdim measure` (R11, R13).
//!
//! A reference MoLRG $p_\star$ ($K = 2$ mutually orthogonal 10-dimensional subspaces of
//! $\mathbb R^{24}$, $\pi = (\frac12, \frac12)$, $\Lambda = I$), a bank of $M = 64$ noises
//! $x_T = 80z$ (VE, $T = 80$ as in EDM), training sets of $N = 4, 16, 32$ points drawn from
//! $p_\star$, and the flow outputs on the bank (kind `flow`, EDM's grid: $\sigma$ from 80
//! to 0.002, then the clean end):
//! - $\Phi_{p_\star}(x_T)$: the MoLRG's flow reduces exactly to one ODE per component
//!   ([`RadialMolrg`]), solved by the crate's Dormand–Prince at rtol $10^{-13}$; the
//!   error estimate is the distance to the solution at rtol $10^{-11}$. The candidate
//!   discretization is RK4 on 2048 EDM levels; the crate's value is Dormand–Prince at
//!   rtol $10^{-11}$ on the full 24-dimensional system (an independent check of the reduction).
//! - $\Phi_{p_{\mathrm{emp}}}(x_T)$ for each training set: the flow of an empirical
//!   distribution ends at a training point (its softmax saturates at $\sigma = 0.002$).
//!   The reference is Dormand–Prince at rtol $10^{-6}$ followed by the exact posterior
//!   mean; Heun with 64 EDM levels (the candidate, and the crate's value) is a second,
//!   independent solution, and their distance is the error estimate: 0 when both
//!   reach the same training point, as they do for every noise of the bank.

use faer::Mat;

use super::flows::{
    FlowCase, RadialMolrg, Reference, add_flow_case, clean_end_q, col_dists, radial, unradial,
};
use super::{SuiteBuilder, gaussian};
use crate::flow::{DormandPrince, GridEnd, ProbabilityFlow, Rk4, Solver, TimeGrid};
use crate::golden::{MeasureEntry, TrainingSetEntry};
use crate::io::Result;
use crate::io::model_file::{ComponentSpec, Model, ModelSpec};
use crate::io::npy::Array;
use crate::linalg::random_orthonormal;
use crate::model::{Denoiser, ExactModel};
use crate::schedule::{Schedule, Ve};
use crate::service::eval::{FlowSpec, GridSpec, SolverSpec, flow_of};

/// Dimension, rank and number of components of the reference MoLRG.
const D: usize = 24;
const R: usize = 10;
const K: usize = 2;
/// Number of noises in the bank.
const M: usize = 64;
/// $T$.
const T: f64 = 80.0;
/// The training-set sizes.
const SIZES: [usize; 3] = [4, 16, 32];

#[allow(clippy::too_many_lines)]
pub(super) fn build(s: &mut SuiteBuilder) -> Result<()> {
    let mut rng = s.rng("measure");
    let q = random_orthonormal(&mut rng, D, K * R)?;
    let bases: Vec<Mat<f64>> = (0..K)
        .map(|k| q.as_ref().subcols(k * R, R).to_owned())
        .collect();
    let spec = ModelSpec::Molrg {
        weights: vec![1.0 / K as f64; K],
        components: bases
            .iter()
            .map(|b| ComponentSpec {
                basis: b.clone(),
                variances: None,
            })
            .collect(),
    };
    let (ref_path, model) = s.add_model(
        "molrg-reference",
        &spec,
        "the reference MoLRG p* of measure: K = 2 mutually orthogonal 10-dim subspaces of R^24, \
         pi = 1/2, Lambda = I",
    )?;
    let Model::Molrg(molrg) = &model else {
        unreachable!("a MoLRG spec builds a MoLRG")
    };
    let noises = gaussian(&mut rng, D, M) * faer::Scale(T);
    let noises_path = s.add_array("measure/noises.npy", &Array::from_batch(noises.as_ref()))?;

    // The flow of every case: EDM's grid in VE; its first and last levels.
    let candidate_spec = FlowSpec {
        schedule: "ve".into(),
        solver: SolverSpec::Rk4,
        grid: GridSpec::edm(2048),
    };
    let grid = candidate_spec.grid.build(&Ve)?;
    let last = Ve.level(grid.last())?;
    let ends = TimeGrid::new(vec![grid.start(), grid.last()], GridEnd::Last)?;
    let complement = grid.last() / grid.start();

    // Φ_{p⋆}: the radial reduction, Dormand–Prince at two tolerances.
    let reduced = RadialMolrg {
        log_pi: vec![(1.0 / K as f64).ln(); K],
        ranks: vec![R as f64; K],
        lambdas: vec![1.0; K],
    };
    let a0 = radial(&bases, &noises);
    let pf = ProbabilityFlow::new(&Ve, &reduced);
    let tight = DormandPrince::new(1e-13, 1e-15)?.solve(&pf, &ends, a0.as_ref())?;
    let loose = DormandPrince::new(1e-11, 1e-13)?.solve(&pf, &ends, a0.as_ref())?;
    let end_state = unradial(&bases, &noises, &a0, &tight.x, complement);
    let expected = clean_end_q(&model, &end_state, last);
    let error = col_dists(
        &clean_end_q(
            &model,
            &unradial(&bases, &noises, &a0, &loose.x, complement),
            last,
        ),
        &expected,
    );
    // The candidate on the reduced system (a Runge–Kutta method commutes with the
    // reduction), then the crate's clean end.
    let cand_grid = grid.clone().with_end(GridEnd::Last)?;
    let cand_end = Rk4.solve(&pf, &cand_grid, a0.as_ref())?.x;
    let candidate = molrg.posterior_mean(
        unradial(&bases, &noises, &a0, &cand_end, complement).as_ref(),
        last,
    )?;
    // The crate's value: Dormand–Prince on the full system.
    let crate_solver = SolverSpec::DormandPrince {
        rtol: 1e-11,
        atol: 1e-13,
    };
    let crate_value = flow_of(
        &model,
        noises.as_ref(),
        &FlowSpec {
            solver: crate_solver,
            ..candidate_spec.clone()
        },
    )?
    .x;
    let ref_case = "measure-reference-flow".to_string();
    let max_ref = (0..M)
        .map(|j| error[j] / expected.col(j).norm_l2())
        .fold(0.0, f64::max);
    add_flow_case(
        s,
        FlowCase {
            id: ref_case.clone(),
            family: "measure",
            description: format!(
                "Phi_p*(x_T): flow outputs of the reference MoLRG on the noise bank (VE, EDM grid \
                 sigma 80 -> 0.002, clean end); expected: the flow reduced exactly to one ODE per \
                 component, Dormand-Prince at rtol 1e-13 ({} steps); candidate RK4 with 2048 levels",
                tight.info.steps
            ),
            model_path: &ref_path,
            model: &model,
            spec: candidate_spec.clone(),
            x: &noises,
            shared_x: Some(noises_path.clone()),
            reference: Reference {
                error,
                expected,
                end_state,
                method: serde_json::json!({
                    "method": "radial reduction of the orthogonal MoLRG (one ODE per component, \
                               exact), the crate's Dormand-Prince 5(4) at rtol 1e-13, atol 1e-15; \
                               clean end: R03 posterior mean in double-double",
                    "error": "per point, the distance to the same computation at rtol 1e-11",
                }),
            },
            candidate,
            crate_value,
            crate_solver,
        },
    )?;

    // Φ_{p_emp} for each training set.
    let emp_spec = FlowSpec {
        schedule: "ve".into(),
        solver: SolverSpec::Heun,
        grid: GridSpec::edm(64),
    };
    let mut sets = Vec::new();
    for n in SIZES {
        let points = molrg.sample_x0(&mut rng, n);
        let name = format!("empirical-n{n}");
        let (emp_path, emp) = s.add_model(
            &name,
            &ModelSpec::Empirical { points },
            &format!("a training set of N = {n} points drawn from the reference MoLRG of measure"),
        )?;
        let pf = ProbabilityFlow::new(&Ve, emp.denoiser());
        let dopri = DormandPrince::new(1e-6, 1e-8)?.solve(&pf, &ends, noises.as_ref())?;
        let expected = clean_end_q(&emp, &dopri.x, last);
        let heun = flow_of(&emp, noises.as_ref(), &emp_spec)?.x;
        let error = col_dists(&heun, &expected);
        let case = format!("measure-empirical-n{n}-flow");
        add_flow_case(
            s,
            FlowCase {
                id: case.clone(),
                family: "measure",
                description: format!(
                    "Phi_p_emp(x_T): flow outputs of the empirical distribution of the N = {n} \
                     training set on the noise bank (VE, EDM grid, clean end): training points; \
                     expected: Dormand-Prince at rtol 1e-6 ({} steps) and the exact posterior \
                     mean; candidate Heun with 64 levels",
                    dopri.info.steps
                ),
                model_path: &emp_path,
                model: &emp,
                spec: emp_spec.clone(),
                x: &noises,
                shared_x: Some(noises_path.clone()),
                reference: Reference {
                    error,
                    expected,
                    end_state: dopri.x,
                    method: serde_json::json!({
                        "method": "the crate's Dormand-Prince 5(4) at rtol 1e-6, atol 1e-8, then \
                                   the R04 posterior mean in double-double (the flow ends at a \
                                   training point)",
                        "error": "per point, the distance to Heun with 64 EDM levels (an \
                                  independent solution): 0 when both reach the same training point",
                    }),
                },
                candidate: heun.clone(),
                crate_value: heun,
                crate_solver: SolverSpec::Heun,
            },
        )?;
        sets.push(TrainingSetEntry {
            n,
            points: format!("models/{name}/points.npy"),
            model: emp_path,
            flow: format!("cases/{case}/expected.npy"),
            case,
        });
    }
    s.set_measure(MeasureEntry {
        reference_model: ref_path,
        noises: noises_path,
        noise_scale: T,
        flow: serde_json::json!({
            "schedule": "ve",
            "grid": "karras",
            "sigma_max": crate::flow::EDM_SIGMA_MAX,
            "sigma_min": crate::flow::EDM_SIGMA_MIN,
            "rho": crate::flow::EDM_RHO,
            "end": "clean",
        }),
        reference_flow: format!("cases/{ref_case}/expected.npy"),
        reference_case: ref_case,
        training_sets: sets,
        accuracy: format!(
            "Phi_p*: the exact radial reduction solved by Dormand-Prince at rtol 1e-13, estimated \
             relative error <= {max_ref:.1e} per noise; Phi_p_emp: training points, exact up to \
             rounding (Dormand-Prince and Heun reach the same point for every noise). A sampler \
             with a finite number of steps differs from these by its discretization error: \
             E_gen of exact samples is that error, not 0."
        ),
        usage: "run your sampler (schedule VE, x_T = the rows of noises.npy, sigma from 80 to \
                0.002, last step to sigma = 0) with your network, save the samples (M, d) in the \
                order of the noises, then: diffusion-lowdim measure --samples S.npy --golden <this \
                directory> --n N (a golden training set) or --train X.npy (yours)"
            .into(),
    })
}
