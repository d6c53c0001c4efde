//! The command-line layer's error type. Files are written by the library's
//! single atomic writer, [`diffusion_lowdim::io::fsio::write_file_atomic`]
//! (re-exported here as [`write_atomic`]).

pub use diffusion_lowdim::io::fsio::write_file_atomic as write_atomic;

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
    Interop(#[from] diffusion_lowdim::io::InteropError),
    /// Bad command-line usage the parser cannot express.
    #[error("{0}")]
    Usage(String),
}

/// Refuses an output that is one of the inputs (same file after resolving links);
/// `inputs` are described by their flag (e.g. `"--x"`).
pub fn ensure_not_input(
    out_flag: &'static str,
    out: &std::path::Path,
    inputs: &[(String, std::path::PathBuf)],
) -> Result<(), CliError> {
    let refs: Vec<(&str, &std::path::Path)> = inputs
        .iter()
        .map(|(w, p)| (w.as_str(), p.as_path()))
        .collect();
    diffusion_lowdim::io::fsio::ensure_not_input(out_flag, out, &refs)?;
    Ok(())
}

/// The files of a loaded model, described for [`ensure_not_input`].
pub fn model_inputs(
    flag: &str,
    m: &diffusion_lowdim::io::model_file::LoadedModel,
) -> Vec<(String, std::path::PathBuf)> {
    m.files
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let what = if i == 0 {
                flag.to_string()
            } else {
                format!("an array of {flag}")
            };
            (what, p.clone())
        })
        .collect()
}

/// A library error of a computation on a user's file, with the file and its flag.
pub fn on_file(
    e: diffusion_lowdim::io::InteropError,
    path: &std::path::Path,
    flag: &'static str,
) -> diffusion_lowdim::io::InteropError {
    use diffusion_lowdim::io::InteropError;
    match e {
        InteropError::Lib(source) => InteropError::InputFile {
            path: path.to_path_buf(),
            flag,
            source,
        },
        other => other,
    }
}
