//! The command-line layer's error type. Files are written by the library's
//! single atomic writer, [`diffusion_lowdim::interop::fsio::write_file_atomic`]
//! (re-exported here as [`write_atomic`]).

pub use diffusion_lowdim::interop::fsio::write_file_atomic as write_atomic;

/// Errors of the command-line layer (library errors, I/O with the path, JSON).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A library error.
    #[error(transparent)]
    Lib(#[from] diffusion_lowdim::Error),
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Serialization failure.
    #[error("cannot serialize the report: {0}")]
    Json(#[from] serde_json::Error),
    /// An error of the interoperability layer (files, formats, golden suites).
    #[error(transparent)]
    Interop(#[from] diffusion_lowdim::interop::InteropError),
    /// Bad command-line usage the parser cannot express.
    #[error("{0}")]
    Usage(String),
}
