//! Tweedie conversions, schedules and library presets.

use diffusion_lowdim::service::presets::{self, Precision, Spacing, TableOptions};
use diffusion_lowdim::tweedie::{self, Prediction};
use pyo3::prelude::*;

use crate::arrays::{batch, out_batch};
use crate::models::level;
use crate::{detached, errors, guard};

fn prediction(name: &str) -> PyResult<Prediction> {
    Prediction::ALL
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| {
            errors::input(format!(
                "unknown prediction type {name:?}; known: x0, eps, v, score"
            ))
        })
}

/// Converts predictions ``value`` (B, d) made at ``x`` (B, d) from one type to another.
#[pyfunction]
#[pyo3(signature = (value, x, from_, to, alpha=None, beta=None, *, sigma=None, schedule=None, t=None))]
#[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
fn convert<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    from_: &str,
    to: &str,
    alpha: Option<f64>,
    beta: Option<f64>,
    sigma: Option<f64>,
    schedule: Option<&str>,
    t: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let lv = level(alpha, beta, sigma, schedule, t)?;
    let (from, to) = (prediction(from_)?, prediction(to)?);
    let xb = batch(x, "x", None)?;
    let d = xb.shape()[1];
    let vb = batch(value, "value", Some(d))?;
    if vb.shape()[0] != xb.shape()[0] {
        return Err(errors::input(format!(
            "value has {} points and x has {}: one prediction per point of x is needed",
            vb.shape()[0],
            xb.shape()[0]
        )));
    }
    let (vm, xm) = (vb.as_batch(), xb.as_batch());
    let m = detached(py, || {
        tweedie::convert(from, vm, xm, lv, to).map_err(errors::from_lib)
    })?;
    out_batch(py, m.as_ref())
}

/// The noise level ``(alpha, beta)`` of a schedule or library preset at ``t``, or of
/// ``sigma=`` / ``alpha=, beta=``.
#[pyfunction]
#[pyo3(signature = (schedule=None, t=None, *, alpha=None, beta=None, sigma=None))]
fn noise_level(
    schedule: Option<&str>,
    t: Option<f64>,
    alpha: Option<f64>,
    beta: Option<f64>,
    sigma: Option<f64>,
) -> PyResult<(f64, f64)> {
    let l = level(alpha, beta, sigma, schedule, t)?;
    Ok((l.alpha(), l.beta()))
}

/// The crate's schedules: ``[(name, description)]``.
#[pyfunction]
fn schedule_names() -> Vec<&'static str> {
    diffusion_lowdim::schedule::schedule_names()
}

/// The library presets as JSON text (name, library, summary, time, divergences).
#[pyfunction]
fn presets_json() -> PyResult<String> {
    serde_json::to_string(presets::PRESETS).map_err(|e| errors::internal(e.to_string()))
}

/// A preset's table as JSON text (t, alpha, beta, native arrays).
#[pyfunction]
#[pyo3(signature = (name, precision="f64", steps=None, spacing="leading", steps_offset=0,
                    sigma_min=None, sigma_max=None, rho=None, karras=false))]
#[allow(clippy::too_many_arguments, reason = "the Python keyword signature")]
fn preset_table_json(
    py: Python<'_>,
    name: &str,
    precision: &str,
    steps: Option<usize>,
    spacing: &str,
    steps_offset: usize,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    rho: Option<f64>,
    karras: bool,
) -> PyResult<String> {
    let precision = match precision {
        "f64" => Precision::F64,
        "f32" => Precision::F32,
        other => {
            return Err(errors::input(format!(
                "unknown precision {other:?}: use \"f64\" or \"f32\""
            )));
        }
    };
    let spacing = Spacing::parse(spacing).ok_or_else(|| {
        errors::input(format!(
            "unknown spacing {spacing:?}: use linspace, leading or trailing"
        ))
    })?;
    let p = guard(|| presets::find(name).map_err(errors::from_interop))?;
    let o = TableOptions {
        precision,
        steps,
        spacing,
        steps_offset,
        sigma_min,
        sigma_max,
        rho,
        karras,
    };
    detached(py, move || {
        let t = p.table(&o).map_err(errors::from_interop)?;
        serde_json::to_string(&t).map_err(|e| errors::internal(e.to_string()))
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(convert, m)?)?;
    m.add_function(wrap_pyfunction!(noise_level, m)?)?;
    m.add_function(wrap_pyfunction!(schedule_names, m)?)?;
    m.add_function(wrap_pyfunction!(presets_json, m)?)?;
    m.add_function(wrap_pyfunction!(preset_table_json, m)?)?;
    Ok(())
}
