//! The golden suite: export, validation of a folder of outputs, and validation of a Python
//! callable through the crate's family-agnostic `golden::validate_suite` (one verdict code
//! path for the CLI and Python).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use diffusion_lowdim::golden::{self, Provided, Tier, suite::Suite};
use diffusion_lowdim::io::{InteropError, model_file, npy};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::models::PyModel;
use crate::{detached, errors, guard};

fn tier(name: &str) -> PyResult<Tier> {
    Tier::parse(name)
        .ok_or_else(|| errors::input(format!("unknown tier {name:?}: use \"f64\" or \"f32\"")))
}

/// Exports the golden suite to `dir`; returns the summary as JSON text.
#[pyfunction]
#[pyo3(signature = (dir, seed=golden::DEFAULT_SEED, replace=false))]
fn golden_export(py: Python<'_>, dir: PathBuf, seed: u64, replace: bool) -> PyResult<String> {
    detached(py, move || {
        let s = golden::export_to(&dir, seed, replace).map_err(errors::from_interop)?;
        Ok(serde_json::json!({
            "families": s.families.iter().map(|(id, n)| serde_json::json!({"id": id, "cases": n})).collect::<Vec<_>>(),
            "files": s.files,
            "bytes": s.bytes,
        })
        .to_string())
    })
}

/// Validates a folder of `<id>.npy` outputs (the CLI's `golden validate`); the report as
/// JSON text (the CLI's `--report`).
#[pyfunction]
#[pyo3(signature = (golden_dir, outputs, tier_name="f64", only=Vec::new()))]
fn golden_validate_dir(
    py: Python<'_>,
    golden_dir: PathBuf,
    outputs: PathBuf,
    tier_name: &str,
    only: Vec<String>,
) -> PyResult<String> {
    let t = tier(tier_name)?;
    detached(py, move || {
        let r =
            golden::validate_only(&golden_dir, &outputs, t, &only).map_err(errors::from_interop)?;
        serde_json::to_string(&r).map_err(|e| errors::internal(e.to_string()))
    })
}

/// The manifest of a suite (verified) as JSON text.
#[pyfunction]
fn golden_manifest(py: Python<'_>, golden_dir: PathBuf) -> PyResult<String> {
    detached(py, move || {
        let s = Suite::open(&golden_dir).map_err(errors::from_interop)?;
        serde_json::to_string(s.manifest()).map_err(|e| errors::internal(e.to_string()))
    })
}

/// Validates a candidate given as `adapter(case: dict) -> None | (bytes of a .npy file)`;
/// `None` or a missing-message string means "not provided". Returns the report as JSON.
#[pyfunction]
#[pyo3(signature = (golden_dir, adapter, tier_name="f64", only=Vec::new(), label="<python callable>".to_string()))]
fn golden_validate_callable(
    py: Python<'_>,
    golden_dir: PathBuf,
    adapter: Bound<'_, PyAny>,
    tier_name: &str,
    only: Vec<String>,
    label: String,
) -> PyResult<String> {
    let t = tier(tier_name)?;
    let suite = detached(py, || {
        Suite::open(&golden_dir).map_err(errors::from_interop)
    })?;
    let mut models: HashMap<PathBuf, Py<PyModel>> = HashMap::new();
    let mut failure: Option<PyErr> = None;
    let result = guard(|| {
        Ok(golden::validate_suite(
            &suite,
            Path::new(&label),
            t,
            &only,
            |q| match ask(py, &adapter, q, &mut models) {
                Ok(p) => Ok(p),
                Err(e) => {
                    let msg = e.to_string();
                    failure = Some(e);
                    Err(InteropError::Unsupported {
                        path: PathBuf::from(&q.case().id),
                        problem: msg,
                    })
                }
            },
        ))
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let report = result.map_err(errors::from_interop)?;
    serde_json::to_string(&report).map_err(|e| errors::internal(e.to_string()))
}

/// Builds the case dict, calls the adapter, decodes its answer.
fn ask(
    py: Python<'_>,
    adapter: &Bound<'_, PyAny>,
    q: &golden::CaseQuery<'_>,
    models: &mut HashMap<PathBuf, Py<PyModel>>,
) -> PyResult<Provided> {
    let case = q.case();
    let d = PyDict::new(py);
    d.set_item("id", &case.id)?;
    d.set_item("family", &case.family)?;
    d.set_item("kind", &case.kind)?;
    d.set_item("description", &case.description)?;
    d.set_item("params_json", case.params.to_string())?;
    d.set_item("command", &case.command)?;
    d.set_item("shape", case.shape.clone())?;
    match case.level {
        Some(l) => d.set_item("level", (l.alpha, l.beta))?,
        None => d.set_item("level", py.None())?,
    }
    let inputs = PyDict::new(py);
    for name in case.inputs.keys() {
        let a = q.input(name).map_err(errors::from_interop)?;
        let shape = a.shape().to_vec();
        inputs.set_item(name, crate::arrays::out_shaped(py, a.into_data(), &shape)?)?;
    }
    d.set_item("inputs", inputs)?;
    match q.model_path() {
        Some(path) => {
            let m = match models.get(&path) {
                Some(m) => m.clone_ref(py),
                None => {
                    let p2 = path.clone();
                    let loaded = detached(py, move || {
                        model_file::load(&p2).map_err(errors::from_interop)
                    })?;
                    let m = Py::new(
                        py,
                        PyModel {
                            kind: loaded.kind.name(),
                            model: loaded.model,
                            spec: Some(loaded.spec),
                        },
                    )?;
                    models.insert(path, m.clone_ref(py));
                    m
                }
            };
            d.set_item("model", m)?;
        }
        None => d.set_item("model", py.None())?,
    }
    let answer = adapter.call1((d,))?;
    if answer.is_none() {
        return Ok(Provided::Missing(format!(
            "not provided by the candidate (kind {})",
            case.kind
        )));
    }
    if let Ok(msg) = answer.extract::<String>() {
        return Ok(Provided::Missing(msg));
    }
    let bytes = answer.cast::<PyBytes>().map_err(PyErr::from)?;
    let a = npy::decode(Path::new(&format!("{}.npy", case.id)), bytes.as_bytes())
        .map_err(errors::from_interop)?;
    Ok(Provided::Array(a))
}

/// `measure`: a trained network's samples (a `.npy` file) against the suite's teacher–student
/// reference; the report as JSON text (the CLI's `measure --report`).
#[pyfunction]
#[pyo3(signature = (samples, golden_dir, golden_training=None, training_file=None, features=None, confidence=0.95, threshold=0.6))]
#[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
fn measure_json(
    py: Python<'_>,
    samples: PathBuf,
    golden_dir: PathBuf,
    golden_training: Option<usize>,
    training_file: Option<PathBuf>,
    features: Option<PathBuf>,
    confidence: f64,
    threshold: f64,
) -> PyResult<String> {
    use diffusion_lowdim::service::measure::{MeasureConfig, TrainingSet, measure};
    let training = match (golden_training, training_file) {
        (None, None) => TrainingSet::None,
        (Some(n), None) => TrainingSet::Golden(n),
        (None, Some(p)) => TrainingSet::File(p),
        (Some(_), Some(_)) => {
            return Err(errors::input(
                "give at most one training set: a golden one (training=N) or your own points",
            ));
        }
    };
    let mut c = MeasureConfig::new(samples, golden_dir);
    c.training = training;
    c.features = features;
    c.confidence = confidence;
    c.threshold = threshold;
    detached(py, move || {
        let r = measure(&c).map_err(errors::from_interop)?;
        serde_json::to_string(&r).map_err(|e| errors::internal(e.to_string()))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(golden_export, m)?)?;
    m.add_function(wrap_pyfunction!(golden_validate_dir, m)?)?;
    m.add_function(wrap_pyfunction!(golden_validate_callable, m)?)?;
    m.add_function(wrap_pyfunction!(golden_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(measure_json, m)?)?;
    Ok(())
}
