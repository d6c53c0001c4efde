//! Writing files safely: a temporary file in the target directory, renamed
//! into place only when complete, so no half-written file is ever left behind.

use std::io::Write;
use std::path::Path;

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

/// Writes `bytes` to `path` atomically (temporary file + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let io = |source| CliError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Create with the mode a plain `File::create` would get (0666 minus the
    // umask), not tempfile's private 0600: the result is an ordinary output file.
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.flush().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}
