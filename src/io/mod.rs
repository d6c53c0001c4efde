//! File formats and file-system safety: how users outside Rust hand the crate arrays and
//! models, and get results back ([`crate::service`], [`crate::golden`] and the CLI build on it).
//!
//! | file | job |
//! |---|---|
//! | [`npy`] | `.npy` arrays in and out (batch-first `(B, d)`, f64; f32 promoted), with typed errors naming the file |
//! | [`model_file`] | the versioned model-file format: a JSON manifest plus `.npy` arrays (`docs/model-format.md`) |
//! | [`fsio`] | bounded reads of regular files only; atomic writes of files and whole directories (mode 0666 − umask, removed on SIGINT/SIGTERM); output ≠ input checks |
//! | [`limits`] | the memory budget and file-size limits every user-given size is checked against |
//!
//! # Conventions
//! Arrays on disk are **batch-first**, as in numpy and PyTorch: a batch of `B`
//! points in $\mathbb R^d$ is a `(B, d)` array, a basis is `(d, r)`, a batch of
//! Jacobians `(B, d, d)`. The crate's own matrices are `d × B` (columns are
//! points); the transposition happens on input and output only. C and Fortran
//! order are both read; outputs are always little-endian f64 in C order.
//!
//! # Errors
//! Every failure is an [`InteropError`] naming the file and the problem; none
//! leaves a partial output behind (see [`fsio`]).

pub mod fsio;
pub mod limits;
pub mod model_file;
pub mod npy;

mod error;

pub use error::InteropError;

/// Convenience alias for results of this module.
pub type Result<T, E = InteropError> = core::result::Result<T, E>;
