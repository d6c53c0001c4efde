//! `diffusion_lowdim._native`: the compiled core of the Python package `diffusion_lowdim`.
//!
//! A thin shell over the Rust crate `diffusion-lowdim`: arrays in (any array-like, batch-first
//! `(B, d)`, float64 or promoted to it), the crate's functions, arrays out. The mathematics is in
//! the crate; the exceptions are the Python classes of `diffusion_lowdim._errors`, raised with
//! the crate's message. Every call runs inside [`guard`], so that no Rust panic crosses into
//! Python, and long computations release the GIL ([`Python::detach`]).

mod arrays;
mod errors;
mod flows;
mod golden;
mod misc;
mod models;

use pyo3::prelude::*;

/// Runs `f` without the GIL, turning a panic into `diffusion_lowdim.InternalError`.
pub(crate) fn detached<T: Send, F: FnOnce() -> PyResult<T> + Send>(
    py: Python<'_>,
    f: F,
) -> PyResult<T> {
    py.detach(|| guard(f))
}

/// Runs `f`, turning a panic into `diffusion_lowdim.InternalError` (never a
/// `pyo3_runtime.PanicException`, which derives from `BaseException`).
pub(crate) fn guard<T, F: FnOnce() -> PyResult<T>>(f: F) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(errors::internal(msg))
        }
    }
}

/// `check(only, cases, seed)`: the theorem checks' report as the CLI's `--report` JSON text.
#[pyfunction]
#[pyo3(signature = (only=None, cases=200, seed=0))]
fn check_json(
    py: Python<'_>,
    only: Option<Vec<String>>,
    cases: usize,
    seed: u64,
) -> PyResult<String> {
    // The CLI's memory check of `--cases` (bytes kept per instance in the report).
    diffusion_lowdim::io::limits::ensure_count_fits("cases", cases as u128, 0, 256, 0, "")
        .map_err(errors::from_interop)?;
    detached(py, move || {
        let report = diffusion_lowdim::theorem::run(&diffusion_lowdim::theorem::CheckConfig {
            seed,
            cases,
            only,
        })
        .map_err(errors::from_lib)?;
        serde_json::to_string(&report).map_err(|e| errors::internal(e.to_string()))
    })
}

/// The crate's version (the package's version is the same).
#[pyfunction]
fn crate_version() -> &'static str {
    diffusion_lowdim::VERSION
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_json, m)?)?;
    m.add_function(wrap_pyfunction!(crate_version, m)?)?;
    models::register(m)?;
    golden::register(m)?;
    misc::register(m)?;
    flows::register(m)?;
    Ok(())
}
