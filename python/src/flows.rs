//! Probability flows and samplers, the PFD, RP/GL scores, PCA / K-subspaces fits, subspace
//! distances and DAE losses.

use std::path::PathBuf;

use diffusion_lowdim::io::model_file::LoadedModel;
use diffusion_lowdim::metric::{LinearFeatures, Scores};
use diffusion_lowdim::model::ModelKind;
use diffusion_lowdim::reduction::{self, KSubspaces, Pca};
use diffusion_lowdim::service::eval::{
    self, FlowSpec, GridSpec, LossForm, LossRange, Noises, PfdSummary, SolverSpec,
};
use diffusion_lowdim::stats::Proportion;
use faer::Mat;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::{batch, matrix, out_batch, out_matrix};
use crate::models::{PyModel, level};
use crate::{detached, errors, guard};

/// The flow specification from the Python keywords (the CLI's `eval flow` options).
#[allow(clippy::too_many_arguments, reason = "the CLI's flow options")]
pub(crate) fn flow_spec(
    solver: &str,
    schedule: &str,
    steps: Option<usize>,
    t_start: Option<f64>,
    t_end: Option<f64>,
    log_spacing: bool,
    clean: bool,
    sigma_max: f64,
    sigma_min: f64,
    rho: f64,
    rtol: f64,
    atol: f64,
) -> PyResult<FlowSpec> {
    let solver = guard(|| SolverSpec::parse(solver, rtol, atol).map_err(errors::from_interop))?;
    let steps = match (steps, solver) {
        (Some(n), _) => n,
        (None, SolverSpec::DormandPrince { .. } | SolverSpec::Exact) => {
            if t_start.is_some() {
                1
            } else {
                2
            }
        }
        (None, _) => {
            return Err(errors::input(format!(
                "solver {} needs steps=N",
                solver.name()
            )));
        }
    };
    let grid = match (t_start, t_end) {
        (Some(t_start), Some(t_end)) => GridSpec::Times {
            steps,
            t_start,
            t_end,
            log: log_spacing,
            clean,
        },
        (None, None) => {
            if log_spacing || clean {
                return Err(errors::input(
                    "log_spacing= and clean= apply to explicit grids (t_start=, t_end=)",
                ));
            }
            GridSpec::Karras {
                steps,
                sigma_min,
                sigma_max,
                rho,
            }
        }
        _ => {
            return Err(errors::input(
                "give both t_start= and t_end= (or neither: the EDM grid)",
            ));
        }
    };
    Ok(FlowSpec {
        schedule: schedule.to_string(),
        solver,
        grid,
    })
}

fn loaded(m: &PyModel) -> LoadedModel {
    LoadedModel {
        path: PathBuf::from("<python model>"),
        kind: ModelKind::from_name(m.kind).unwrap_or(ModelKind::Gaussian),
        spec: m
            .spec
            .clone()
            .unwrap_or(diffusion_lowdim::io::model_file::ModelSpec::Pca {
                basis: Mat::zeros(0, 0),
            }),
        model: m.model.clone(),
        files: Vec::new(),
    }
}

/// [`PyModel`]'s `flow`: the CLI's `eval flow` on a batch.
pub(crate) fn model_flow<'py>(
    m: &PyModel,
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    spec: FlowSpec,
) -> PyResult<Bound<'py, PyAny>> {
    let xb = batch(x, "x", Some(m.model.dim()))?;
    let owned = xb.as_batch().to_owned();
    let lm = loaded(m);
    let out = detached(py, move || {
        eval::flow_matrix(&lm, owned.as_ref(), &spec).map_err(errors::from_interop)
    })?;
    out_batch(py, out.x.as_ref())
}

/// The probability flow distance between the flows of two models (`method="estimate"` on
/// shared noises with its interval, or `"exact"`: the closed form for two Gaussians in VE).
#[pyfunction]
#[pyo3(signature = (p, q, solver="exact", *, schedule="ve", steps=None, t_start=None,
    t_end=None, log_spacing=false, clean=false, sigma_max=80.0, sigma_min=0.002, rho=7.0,
    rtol=1e-10, atol=1e-12, noises=None, samples=256, seed=0, t_max=None, features=None,
    confidence=0.95, method="estimate"))]
#[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
fn pfd_json(
    py: Python<'_>,
    p: &PyModel,
    q: &PyModel,
    solver: &str,
    schedule: &str,
    steps: Option<usize>,
    t_start: Option<f64>,
    t_end: Option<f64>,
    log_spacing: bool,
    clean: bool,
    sigma_max: f64,
    sigma_min: f64,
    rho: f64,
    rtol: f64,
    atol: f64,
    noises: Option<&Bound<'_, PyAny>>,
    samples: usize,
    seed: u64,
    t_max: Option<f64>,
    features: Option<&Bound<'_, PyAny>>,
    confidence: f64,
    method: &str,
) -> PyResult<String> {
    let d = p.model.dim();
    let feats = match features {
        Some(w) => {
            let w = matrix(w, "features", None, Some(d))?.to_mat();
            Some(guard(|| {
                LinearFeatures::new(w.as_ref()).map_err(errors::from_lib)
            })?)
        }
        None => None,
    };
    let (lp, lq) = (loaded(p), loaded(q));
    match method {
        "exact" => {
            let t = t_max.unwrap_or(sigma_max);
            detached(py, move || {
                let (v, form) =
                    eval::pfd_exact(&lp, &lq, t, feats.as_ref()).map_err(errors::from_interop)?;
                Ok(serde_json::json!({"pfd": v, "closed_form": form, "t_max": t}).to_string())
            })
        }
        "estimate" => {
            let spec = flow_spec(
                solver,
                schedule,
                steps,
                t_start,
                t_end,
                log_spacing,
                clean,
                sigma_max,
                sigma_min,
                rho,
                rtol,
                atol,
            )?;
            let noises = match noises {
                Some(n) => {
                    if t_max.is_some() {
                        return Err(errors::input(
                            "t_max= sets the scale of drawn noises; it does not apply to noises=",
                        ));
                    }
                    Noises::Given(batch(n, "noises", Some(d))?.as_batch().to_owned())
                }
                None => Noises::Drawn {
                    samples,
                    seed,
                    noise_scale: t_max,
                },
            };
            detached(py, move || {
                let (est, _) = eval::pfd(&lp, &lq, &spec, &noises, feats.as_ref(), confidence)
                    .map_err(errors::from_interop)?;
                serde_json::to_string(&PfdSummary::from(&est))
                    .map_err(|e| errors::internal(e.to_string()))
            })
        }
        other => Err(errors::input(format!(
            "unknown method {other:?}: use \"estimate\" or \"exact\""
        ))),
    }
}

fn proportion<'py>(py: Python<'py>, p: &Proportion) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("estimate", p.estimate)?;
    d.set_item("interval", p.interval)?;
    d.set_item("confidence", p.confidence)?;
    d.set_item("successes", p.successes)?;
    d.set_item("trials", p.trials)?;
    Ok(d)
}

fn scores(threshold: Option<f64>, confidence: f64) -> PyResult<Scores<'static>> {
    guard(|| {
        let mut s = Scores::new()
            .with_confidence(confidence)
            .map_err(errors::from_lib)?;
        if let Some(t) = threshold {
            s = s.with_threshold(t).map_err(errors::from_lib)?;
        }
        Ok(s)
    })
}

/// Reproducibility score RP of paired samples ``a``, ``b`` (B, d) (two models from the same
/// noises): the fraction of pairs with cosine similarity above the threshold, with its
/// Clopper–Pearson interval.
#[pyfunction]
#[pyo3(signature = (a, b, threshold=None, confidence=0.95))]
fn reproducibility<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    threshold: Option<f64>,
    confidence: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let s = scores(threshold, confidence)?;
    let ab = batch(a, "a", None)?;
    let bb = batch(b, "b", Some(ab.shape()[1]))?;
    let (am, bm) = (ab.as_batch(), bb.as_batch());
    let p = detached(py, || s.reproducibility(am, bm).map_err(errors::from_lib))?;
    proportion(py, &p)
}

/// Generalization score GL of ``samples`` (B, d) against the ``training`` set (N, d): the
/// fraction of samples whose nearest training point (cosine similarity) is below the threshold.
#[pyfunction]
#[pyo3(signature = (samples, training, threshold=None, confidence=0.95))]
fn generalization<'py>(
    py: Python<'py>,
    samples: &Bound<'py, PyAny>,
    training: &Bound<'py, PyAny>,
    threshold: Option<f64>,
    confidence: f64,
) -> PyResult<Bound<'py, PyDict>> {
    let s = scores(threshold, confidence)?;
    let sb = batch(samples, "samples", None)?;
    let tb = batch(training, "training", Some(sb.shape()[1]))?;
    let (sm, tm) = (sb.as_batch(), tb.as_batch());
    let p = detached(py, || s.generalization(sm, tm).map_err(errors::from_lib))?;
    proportion(py, &p)
}

/// PCA of ``points`` (N, d) with rank ``r``: basis (d, r), singular values, objective.
#[pyfunction]
fn fit_pca<'py>(
    py: Python<'py>,
    points: &Bound<'py, PyAny>,
    r: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let pb = batch(points, "points", None)?;
    let pm = pb.as_batch();
    let fit = detached(py, || Pca::fit(pm, r).map_err(errors::from_lib))?;
    let d = PyDict::new(py);
    d.set_item("basis", out_matrix(py, fit.basis())?)?;
    d.set_item("singular_values", fit.singular_values().to_vec())?;
    d.set_item("objective", fit.objective())?;
    Ok(d)
}

/// K-subspaces clustering of ``points`` (N, d) into ``k`` subspaces of dimension ``r``.
#[pyfunction]
#[pyo3(signature = (points, k, r, seed=0))]
fn fit_k_subspaces<'py>(
    py: Python<'py>,
    points: &Bound<'py, PyAny>,
    k: usize,
    r: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    let pb = batch(points, "points", None)?;
    let pm = pb.as_batch();
    let sol = detached(py, || {
        let mut g = diffusion_lowdim::rng::seeded(seed);
        KSubspaces::new(k, r)
            .solve(pm, &mut g)
            .map_err(errors::from_lib)
    })?;
    let d = PyDict::new(py);
    let bases: PyResult<Vec<_>> = sol
        .bases
        .iter()
        .map(|b| out_matrix(py, b.as_ref()))
        .collect();
    d.set_item("bases", bases?)?;
    d.set_item("labels", sol.labels.clone())?;
    d.set_item("objective", sol.objective)?;
    d.set_item("converged", sol.info.converged)?;
    d.set_item("relative_gap", sol.info.relative_gap)?;
    Ok(d)
}

/// Subspace distance ‖UUᵀ − VVᵀ‖_F of two orthonormal bases (d, r).
#[pyfunction]
fn subspace_distance(u: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    let um = matrix(u, "u", None, None)?.to_mat();
    let vm = matrix(v, "v", Some(um.nrows()), None)?.to_mat();
    guard(|| reduction::subspace_distance(um.as_ref(), vm.as_ref()).map_err(errors::from_lib))
}

/// Principal angles (radians, ascending) between the spans of two orthonormal bases.
#[pyfunction]
fn principal_angles(u: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    let um = matrix(u, "u", None, None)?.to_mat();
    let vm = matrix(v, "v", Some(um.nrows()), None)?.to_mat();
    guard(|| reduction::principal_angles(um.as_ref(), vm.as_ref()).map_err(errors::from_lib))
}

/// ‖sin Θ(U, V)‖_F of two orthonormal bases.
#[pyfunction]
fn sin_theta(u: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<f64> {
    let um = matrix(u, "u", None, None)?.to_mat();
    let vm = matrix(v, "v", Some(um.nrows()), None)?.to_mat();
    guard(|| reduction::sin_theta_norm(um.as_ref(), vm.as_ref()).map_err(errors::from_lib))
}

/// The sines of the principal angles (ascending) between the spans of two orthonormal bases,
/// computed directly (accurate for tiny angles, where sin of the angle loses digits).
#[pyfunction]
fn principal_sines(u: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    let um = matrix(u, "u", None, None)?.to_mat();
    let vm = matrix(v, "v", Some(um.nrows()), None)?.to_mat();
    guard(|| reduction::principal_sines(um.as_ref(), vm.as_ref()).map_err(errors::from_lib))
}

/// The DAE loss of bases ``bases`` [(d, r_k)] on ``points`` (N, d), summed over the points:
/// the CLI's ``eval dae-loss`` (same code, same bits). At one level (``alpha``/``beta``,
/// ``sigma``, or ``schedule``/``t``) or, with ``loss_schedule``, integrated over
/// [``t0``, ``t1``] with ``weighting``. Returns (value, integration error bound, method).
#[pyfunction]
#[pyo3(signature = (bases, points, form="softmax", alpha=None, beta=None, sigma=None,
                    schedule=None, t=None, loss_schedule=None, t0=None, t1=None,
                    weighting="unit"))]
#[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
fn dae_loss_value(
    py: Python<'_>,
    bases: Vec<Bound<'_, PyAny>>,
    points: &Bound<'_, PyAny>,
    form: &str,
    alpha: Option<f64>,
    beta: Option<f64>,
    sigma: Option<f64>,
    schedule: Option<&str>,
    t: Option<f64>,
    loss_schedule: Option<String>,
    t0: Option<f64>,
    t1: Option<f64>,
    weighting: &str,
) -> PyResult<(f64, f64, &'static str)> {
    let form = LossForm::parse(form).ok_or_else(|| {
        errors::input(format!(
            "unknown DAE loss form {form:?}: use \"softmax\" or \"hard-max\""
        ))
    })?;
    let range = match (loss_schedule, t0, t1) {
        (Some(name), Some(t0), Some(t1)) => {
            if alpha.is_some() || beta.is_some() || sigma.is_some() || schedule.is_some() {
                return Err(errors::input(
                    "give either a noise level (alpha/beta, sigma, schedule/t) or an \
                     integration range (loss_schedule, t0, t1), not both",
                ));
            }
            LossRange::Integrated {
                schedule: name,
                weighting: weighting.to_string(),
                t0,
                t1,
            }
        }
        (None, None, None) => LossRange::Level(level(alpha, beta, sigma, schedule, t)?),
        _ => {
            return Err(errors::input(
                "an integrated DAE loss needs loss_schedule, t0 and t1 together",
            ));
        }
    };
    if bases.is_empty() {
        return Err(errors::input(
            "the DAE loss needs at least one basis (d, r_k)",
        ));
    }
    let mats = bases_of(&bases)?;
    let pb = batch(points, "points", Some(mats[0].nrows()))?;
    let pm = pb.as_batch();
    let v = detached(py, || {
        eval::dae_loss(&mats, pm, form, &range).map_err(errors::from_interop)
    })?;
    Ok((v.value, v.integration_error, v.method))
}

/// Orthonormal-basis matrices (d, r_k), all with the first one's d.
fn bases_of(objs: &[Bound<'_, PyAny>]) -> PyResult<Vec<Mat<f64>>> {
    let mut out: Vec<Mat<f64>> = Vec::with_capacity(objs.len());
    for o in objs {
        let d = out.first().map(|m| m.nrows());
        out.push(matrix(o, "basis", d, None)?.to_mat());
    }
    Ok(out)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pfd_json, m)?)?;
    m.add_function(wrap_pyfunction!(reproducibility, m)?)?;
    m.add_function(wrap_pyfunction!(generalization, m)?)?;
    m.add_function(wrap_pyfunction!(fit_pca, m)?)?;
    m.add_function(wrap_pyfunction!(fit_k_subspaces, m)?)?;
    m.add_function(wrap_pyfunction!(subspace_distance, m)?)?;
    m.add_function(wrap_pyfunction!(principal_angles, m)?)?;
    m.add_function(wrap_pyfunction!(sin_theta, m)?)?;
    m.add_function(wrap_pyfunction!(principal_sines, m)?)?;
    m.add_function(wrap_pyfunction!(dae_loss_value, m)?)?;
    Ok(())
}
