//! The error type of the interoperability layer.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong reading, writing or validating files.
///
/// Every variant names the file concerned (`path`) and says what is wrong with
/// it; the command-line tool prints the message and exits with status 2.
/// The enum is `#[non_exhaustive]`: match with a wildcard arm.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InteropError {
    /// The file could not be read (missing, unreadable, a directory, ...).
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A file or directory could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A path that is not a regular file (a FIFO, a device, a socket, a directory):
    /// reading it could block forever or never end, so it is refused.
    #[error(
        "{}: not a regular file ({kind}); only regular files are read (a FIFO or a device \
         such as /dev/zero could block or never end)",
        path.display()
    )]
    NotRegularFile {
        /// The path.
        path: PathBuf,
        /// What it is instead (`"a directory"`, `"a FIFO"`, ...).
        kind: &'static str,
    },

    /// A file larger than the limit for its kind (see [`super::limits`]).
    #[error(
        "{}: {what} of {bytes} bytes exceeds the limit of {limit} bytes",
        path.display()
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// What is too large (`"JSON manifest"`, `".npy data section"`, ...).
        what: &'static str,
        /// Its size (declared or actual).
        bytes: u128,
        /// The limit.
        limit: u64,
    },

    /// A request (a count on the command line, a shape in a file) whose memory
    /// footprint exceeds the memory budget (see [`super::limits`]).
    #[error(
        "{what} needs {needs}, more than the memory budget of {budget}; the most that fits: \
         {at_most} (set DIFFUSION_LOWDIM_MEMORY_BUDGET, in bytes, to change the budget)"
    )]
    BudgetExceeded {
        /// The request, e.g. `"--steps 1000000000"`.
        what: String,
        /// What it needs, for people (e.g. `"8.0 GB"`).
        needs: String,
        /// The largest request that fits, e.g. `"--steps 178956969"`.
        at_most: String,
        /// The budget, for people.
        budget: String,
    },

    /// A path in a manifest that is absolute or resolves (after `..` and symbolic
    /// links) outside the manifest's folder.
    #[error(
        "{}: field {field:?}: {} {problem}; paths in a manifest must be relative and stay \
         inside its folder {}",
        manifest.display(), path.display(), folder.display()
    )]
    OutsideFolder {
        /// The manifest.
        manifest: PathBuf,
        /// The field.
        field: String,
        /// The path as written (or resolved).
        path: PathBuf,
        /// What is wrong (`"is absolute"`, `"resolves outside the folder"`, ...).
        problem: &'static str,
        /// The folder paths must stay in.
        folder: PathBuf,
    },

    /// An output path that is one of the inputs (same file after resolving links).
    #[error(
        "{out_flag} {}: is the same file as the input {} ({input_what}); refusing to \
         overwrite an input: choose another {out_flag}",
        out.display(), input.display()
    )]
    OutputIsInput {
        /// The output flag (`--out`, `--report`, ...).
        out_flag: &'static str,
        /// The output path.
        out: PathBuf,
        /// The input file it resolves to.
        input: PathBuf,
        /// Which input (`"--x"`, `"an array of --model"`, ...).
        input_what: String,
    },

    /// A golden-suite file whose content differs from the SHA-256 the manifest records.
    #[error(
        "{}: altered since export: its SHA-256 is {found}, the manifest records {expected} \
         (re-export the suite with `golden export`)",
        path.display()
    )]
    Tampered {
        /// The altered file.
        path: PathBuf,
        /// The digest recorded in the manifest.
        expected: String,
        /// The digest of the file as found.
        found: String,
    },

    /// An input file whose values make a computation fail (e.g. overflow): the
    /// library's error, with the file and the flag that named it.
    #[error("{} ({flag}): {source}", path.display())]
    InputFile {
        /// The file.
        path: PathBuf,
        /// The flag or field that named it.
        flag: &'static str,
        /// The library's error.
        source: crate::Error,
    },

    /// The output path exists and overwriting it was not allowed.
    #[error("{}: already exists (remove it first, or choose another --out)", path.display())]
    OutputExists {
        /// The path.
        path: PathBuf,
    },

    /// The `.npy` header is missing or malformed (not a `.npy` file, or corrupt).
    #[error("{}: not a valid .npy file: {source}", path.display())]
    NpyHeader {
        /// The file.
        path: PathBuf,
        /// What the parser found wrong.
        source: std::io::Error,
    },

    /// The `.npy` data section is shorter than its header declares.
    #[error(
        "{}: truncated .npy file: the header declares shape {shape:?} of {dtype} \
         ({expected} data bytes) but only {found} bytes follow",
        path.display()
    )]
    NpyTruncated {
        /// The file.
        path: PathBuf,
        /// Shape declared in the header.
        shape: Vec<u64>,
        /// The dtype declared in the header (numpy notation, e.g. `<f8`).
        dtype: String,
        /// Data bytes the header implies.
        expected: u64,
        /// Data bytes present.
        found: u64,
    },

    /// Bytes follow the data section of a `.npy` file.
    #[error(
        "{}: corrupt .npy file: {extra} unexpected bytes after the data of shape {shape:?} \
         (numpy.save never writes them)",
        path.display()
    )]
    NpyTrailingBytes {
        /// The file.
        path: PathBuf,
        /// Shape declared in the header.
        shape: Vec<u64>,
        /// Number of extra bytes.
        extra: u64,
    },

    /// A dtype other than float64 / float32.
    #[error(
        "{}: unsupported dtype {dtype}: arrays must be float64 ('<f8', the ground-truth \
         precision) or float32 ('<f4', promoted to float64); convert with .astype(np.float64)",
        path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The dtype found (numpy notation).
        dtype: String,
    },

    /// An array with the wrong number of dimensions.
    #[error(
        "{}: {what} must be a {expected}-dimensional array {layout}, found shape {found:?}",
        path.display()
    )]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// Which input.
        what: &'static str,
        /// The expected layout, e.g. `"(B, d): one point per row"`.
        layout: &'static str,
        /// Expected number of dimensions.
        expected: usize,
        /// Shape found.
        found: Vec<usize>,
    },

    /// An array whose size along one axis is wrong.
    #[error(
        "{}: {what} has shape {shape:?}: axis {axis} has length {found}, expected {expected} ({reason})",
        path.display()
    )]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// Which input.
        what: &'static str,
        /// Full shape found.
        shape: Vec<usize>,
        /// The offending axis.
        axis: usize,
        /// Length required.
        expected: usize,
        /// Length found.
        found: usize,
        /// Where the requirement comes from (e.g. `"the model's dimension d"`).
        reason: &'static str,
    },

    /// An empty array where at least one entry is required.
    #[error("{}: {what} is empty (shape {shape:?})", path.display())]
    EmptyArray {
        /// The file.
        path: PathBuf,
        /// Which input.
        what: &'static str,
        /// Shape found.
        shape: Vec<usize>,
    },

    /// A NaN or infinite entry.
    #[error(
        "{}: non-finite value {value} at index {index:?} (all entries must be finite)",
        path.display()
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Multi-index of the first offending entry (in the array's shape).
        index: Vec<usize>,
        /// The value found.
        value: f64,
    },

    /// A JSON file that does not parse, or does not have the required fields.
    #[error("{}: invalid JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (with line and column).
        source: serde_json::Error,
    },

    /// A JSON file that is not of the expected format.
    #[error(
        "{}: not a {expected} file: its \"format\" field is {found:?} (expected {expected:?})",
        path.display()
    )]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// The format required.
        expected: &'static str,
        /// What the file says (empty if absent).
        found: String,
    },

    /// A schema version this build cannot read.
    #[error(
        "{}: unsupported schema_version {found}: this build of diffusion-lowdim reads version {supported}",
        path.display()
    )]
    UnsupportedSchema {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u64,
        /// The version supported.
        supported: u64,
    },

    /// An unknown model kind.
    #[error("{}: unknown model kind {kind:?}; known kinds: {known}", path.display())]
    UnknownKind {
        /// The manifest.
        path: PathBuf,
        /// The kind given.
        kind: String,
        /// The accepted kinds.
        known: String,
    },

    /// An array referenced by a manifest does not exist or cannot be read.
    #[error("{}: array {field:?} refers to {}, which cannot be read: {source}", manifest.display(), path.display())]
    MissingArray {
        /// The manifest.
        manifest: PathBuf,
        /// The manifest field (e.g. `components[1].basis`).
        field: String,
        /// The array file it names.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A manifest field with an invalid value (inconsistent combination, bad inline array, ...).
    #[error("{}: field {field:?}: {problem}", path.display())]
    InvalidField {
        /// The manifest.
        path: PathBuf,
        /// The field.
        field: String,
        /// What is wrong.
        problem: &'static str,
    },

    /// The arrays are readable but do not define a valid model (e.g. a basis
    /// that is not orthonormal, weights that do not sum to one).
    #[error("{}: {source}", path.display())]
    InvalidModel {
        /// The array file or manifest concerned.
        path: PathBuf,
        /// The crate's error.
        source: crate::Error,
    },

    /// A valid file used where it cannot serve (e.g. `--solver exact` with a
    /// non-Gaussian model, samples that do not match a golden noise bank).
    #[error("{}: {problem}", path.display())]
    Unsupported {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong, and what to do instead.
        problem: String,
    },

    /// A library computation failed on valid-looking input (e.g. a level
    /// outside a model's domain).
    #[error(transparent)]
    Lib(#[from] crate::Error),

    /// The double-double oracle and the crate's f64 path disagree beyond the
    /// case tolerance / 10 while exporting a golden case: the export is refused.
    #[error(
        "golden case {case}: the crate's f64 result differs from the double-double oracle by \
         {error:.3e} (relative), more than a tenth of the case's f64 tolerance {tolerance:.3e}; \
         refusing to export"
    )]
    OracleDisagreement {
        /// The case id.
        case: String,
        /// The worst relative difference.
        error: f64,
        /// The case's f64 tolerance at that point.
        tolerance: f64,
    },

    /// A golden-suite manifest that is inconsistent (duplicate ids, missing files, ...).
    #[error("{}: invalid golden suite: {problem} ({detail})", path.display())]
    InvalidGolden {
        /// The manifest or the file concerned.
        path: PathBuf,
        /// What is wrong.
        problem: &'static str,
        /// The offending case id or value.
        detail: String,
    },
}
