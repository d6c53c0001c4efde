//! The crate's typed errors as the exceptions of `diffusion_lowdim._errors`.
//!
//! | crate error | Python exception |
//! |---|---|
//! | shapes, NaN/inf, non-orthonormal bases, invalid parameters, unknown names | `InputError` (`ValueError`) |
//! | wrong dtype of an array | `DtypeError` (`TypeError`) |
//! | sizes beyond the memory limits | `TooLargeError` (`InputError`, `MemoryError`) |
//! | overflow, no convergence, solver step failure | `NumericalError` (`ArithmeticError`) |
//! | unreadable / malformed files, model files | `FileError` (`OSError`) |
//! | an invalid or altered golden suite | `GoldenError` (`FileError`) |
//! | a bug (a Rust panic caught at the boundary) | `InternalError` (`RuntimeError`) |
//!
//! All derive from `diffusion_lowdim.Error`.

use diffusion_lowdim::Error as LibError;
use diffusion_lowdim::io::InteropError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Raises `diffusion_lowdim._errors.<class>` with `msg`.
pub(crate) fn raise(class: &'static str, msg: String) -> PyErr {
    Python::attach(|py| {
        let ty = py
            .import("diffusion_lowdim._errors")
            .and_then(|m| m.getattr(class))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match ty {
            Ok(ty) => PyErr::from_type(ty, msg),
            Err(e) => e,
        }
    })
}

/// `InputError`.
pub(crate) fn input(msg: impl Into<String>) -> PyErr {
    raise("InputError", msg.into())
}

/// `DtypeError`.
pub(crate) fn dtype(msg: impl Into<String>) -> PyErr {
    raise("DtypeError", msg.into())
}

/// `InternalError` (a panic or an impossible state).
pub(crate) fn internal(msg: impl Into<String>) -> PyErr {
    raise(
        "InternalError",
        format!(
            "internal error in diffusion-lowdim (please report it): {}",
            msg.into()
        ),
    )
}

/// The class of a crate error.
fn lib_class(e: &LibError) -> &'static str {
    match e {
        LibError::TooLarge { .. } => "TooLargeError",
        LibError::Overflow { .. }
        | LibError::NoConvergence { .. }
        | LibError::StepFailure { .. } => "NumericalError",
        LibError::Render { .. } => "InternalError",
        _ => "InputError",
    }
}

/// A crate error as its exception, with the crate's message.
pub(crate) fn from_lib(e: LibError) -> PyErr {
    raise(lib_class(&e), e.to_string())
}

/// An interoperability error as its exception, with the crate's message.
pub(crate) fn from_interop(e: InteropError) -> PyErr {
    let class = match &e {
        InteropError::Lib(l) => lib_class(l),
        InteropError::BudgetExceeded { .. } => "TooLargeError",
        InteropError::InvalidGolden { .. }
        | InteropError::Tampered { .. }
        | InteropError::OracleDisagreement { .. } => "GoldenError",
        _ => "FileError",
    };
    raise(class, e.to_string())
}
