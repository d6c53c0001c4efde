//! The golden suite: reference cases for implementations in other languages.
//!
//! [`export()`] writes a directory of cases — inputs, expected outputs and, per
//! point, a tolerance in two tiers (f64 and f32) derived from the problem's
//! conditioning — with a `manifest.json` and a `README.md`. [`validate()`]
//! compares a candidate's outputs with it, case by case.
//!
//! # Layout of a suite
//! ```text
//! manifest.json                  format, schema_version, crate_version, seed, tiers, case list,
//!                                the SHA-256 of every other file but README.md
//! README.md                      how to run a candidate
//! models/<name>/model.json       model files (docs/model-format.md) with their .npy arrays
//! cases/<id>/<input>.npy         inputs, batch-first (B, d)
//! cases/<id>/expected.npy        expected output (B, d), (B, d, d) or (N,)
//! cases/<id>/scale.npy           (B,) the magnitude each point's error is measured against
//! cases/<id>/tol_f64.npy         (B,) relative tolerance of each point, f64 tier
//! cases/<id>/tol_f32.npy         (B,) relative tolerance of each point, f32 tier
//! ```
//!
//! # The pass criterion
//! Scales and tolerances must be finite and > 0, and every file must match the
//! SHA-256 the manifest records; see [`suite`] for these integrity checks.
//!
//! A case's first axis indexes its *points*. Point `b` passes in tier `T` iff
//! $\|o_b - e_b\|_2 \le \mathrm{tol}_{T,b}\cdot\mathrm{scale}_b$, with $o$ the candidate's
//! output and $e$ the expected one (the norm runs over the remaining axes:
//! a vector, a Jacobian's Frobenius norm, or a scalar's absolute value). A case
//! passes iff every point passes; NaN fails.
//!
//! # Expected values and tolerances
//! Expected values come from the double-double oracles of
//! [`crate::reference`] (about 32 digits) rounded to f64, never from the
//! crate's f64 path; at export the crate's f64 result must agree with them within
//! a tenth of the f64 tolerance, or the export is refused
//! ([`crate::io::InteropError::OracleDisagreement`]). Tolerances are $c\,\varepsilon_T\,\kappa$ with
//! $\varepsilon_{64} = 2^{-52}$, $\varepsilon_{32} = 2^{-23}$ and $\kappa$ the problem's condition
//! number relative to the scale (see [`tolerance`]): an implementation that is
//! backward stable in precision `T` (including rounding the f64 inputs to f32
//! in the f32 tier) passes.
//!
//! # Families
//! Cases are grouped by result family ([`families`]): each family is one module
//! under `families/` and one entry of the registry, so that the
//! probability-flow families (flow maps, PFD) are added without touching the
//! exporter or the validator.

pub mod export;
mod families;
pub mod suite;
pub mod tolerance;
pub mod validate;

use serde::{Deserialize, Serialize};

pub use export::{ExportSummary, export, export_to};
pub use families::{Family, families};
pub use validate::{
    CaseQuery, CaseReport, CaseStatus, Provided, Report, validate, validate_only, validate_suite,
};

/// The value of the manifest's `"format"` field.
pub const FORMAT: &str = "diffusion-lowdim/golden";
/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u64 = 1;
/// The master seed of the default suite.
pub const DEFAULT_SEED: u64 = 20_250_611;

/// A precision tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// A double-precision candidate: $\varepsilon = 2^{-52}$.
    F64,
    /// A single-precision candidate (inputs rounded to f32): $\varepsilon = 2^{-23}$.
    F32,
}

impl Tier {
    /// Machine epsilon of the tier.
    pub fn eps(self) -> f64 {
        match self {
            Self::F64 => f64::EPSILON,
            Self::F32 => f64::from(f32::EPSILON),
        }
    }

    /// `"f64"` or `"f32"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::F64 => "f64",
            Self::F32 => "f32",
        }
    }

    /// Parses `f64` / `f32`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "f64" => Some(Self::F64),
            "f32" => Some(Self::F32),
            _ => None,
        }
    }
}

/// A noise level as recorded in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LevelEntry {
    /// Signal scale.
    pub alpha: f64,
    /// Noise scale.
    pub beta: f64,
}

/// Paths of a case's tolerance files and their maxima (for people).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToleranceEntry {
    /// `(B,)` relative tolerances of the f64 tier.
    pub f64: String,
    /// `(B,)` relative tolerances of the f32 tier.
    pub f32: String,
    /// The largest f64 tolerance of the case.
    pub max_f64: f64,
    /// The largest f32 tolerance of the case.
    pub max_f32: f64,
}

/// One case of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEntry {
    /// Unique id; the candidate writes its output to `<outputs>/<id>.npy`.
    pub id: String,
    /// Result family (`R01`, `R02`, `R03`, `R04`, `R14`, `schedules`, …).
    pub family: String,
    /// What is computed: `posterior_mean`, `score`, `jacobian`, `convert`, `schedule`.
    pub kind: String,
    /// What the case exercises.
    pub description: String,
    /// Kind-specific parameters (e.g. `{"from": "eps", "to": "x0"}`).
    pub params: serde_json::Value,
    /// The model file, relative to the suite directory, if any.
    pub model: Option<String>,
    /// The noise level, if any.
    pub level: Option<LevelEntry>,
    /// Input arrays by name (`x`, `value`, `t`), relative paths.
    pub inputs: std::collections::BTreeMap<String, String>,
    /// The file name the candidate must write in the outputs directory.
    pub output: String,
    /// The expected output, relative path.
    pub expected: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The per-point scale, relative path.
    pub scale: String,
    /// The tolerances.
    pub tolerance: ToleranceEntry,
    /// The `diffusion-lowdim` command that computes the crate's value for this case.
    pub command: String,
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u64,
    /// `diffusion-lowdim`.
    pub crate_name: String,
    /// The crate version that exported the suite.
    pub crate_version: String,
    /// The master seed; family `F` draws from `rng::stream(seed, "golden/F", 0)`.
    pub seed: u64,
    /// How a point passes (text, for people).
    pub criterion: String,
    /// Conventions (text, for people).
    pub conventions: Vec<String>,
    /// Families and their number of cases.
    pub families: Vec<FamilyEntry>,
    /// The cases.
    pub cases: Vec<CaseEntry>,
    /// The teacher–student reference of `diffusion-lowdim measure` (absent in suites
    /// exported before it existed; readers of schema version 1 ignore unknown fields).
    #[serde(default)]
    pub measure: Option<MeasureEntry>,
    /// The SHA-256 (lower-case hex) of every file of the suite but `manifest.json` and
    /// `README.md`, by relative path. `golden validate` and `measure` refuse a file
    /// whose content differs, and a suite without digests (exported before they existed).
    #[serde(default)]
    pub sha256: std::collections::BTreeMap<String, String>,
}

/// The reference of `diffusion-lowdim measure`: a MoLRG $p_\star$, a bank of noises
/// $x_T$, the flow outputs $\Phi_{p_\star}(x_T)$, and training sets with the flow outputs
/// $\Phi_{p_{\mathrm{emp}}}(x_T)$ of their empirical distributions (paths relative to the suite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureEntry {
    /// The reference MoLRG $p_\star$ (a model file).
    pub reference_model: String,
    /// The noise bank $x_T$, `(M, d)`.
    pub noises: String,
    /// $T$: the noises are $x_T = Tz$, $z \sim \mathcal N(0, I_d)$ (VE, as in EDM).
    pub noise_scale: f64,
    /// The flow the outputs are defined by (schedule, grid, end), as in a flow case's `params`.
    pub flow: serde_json::Value,
    /// The case whose expected output is $\Phi_{p_\star}(x_T)$.
    pub reference_case: String,
    /// Its expected output, `(M, d)`.
    pub reference_flow: String,
    /// The training sets, by increasing size.
    pub training_sets: Vec<TrainingSetEntry>,
    /// How accurate the reference flow outputs are (text, for people).
    pub accuracy: String,
    /// How to use it (text, for people).
    pub usage: String,
}

/// One training set of [`MeasureEntry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSetEntry {
    /// Number of points $N$.
    pub n: usize,
    /// The points, `(N, d)`.
    pub points: String,
    /// The empirical model file.
    pub model: String,
    /// The case whose expected output is $\Phi_{p_{\mathrm{emp}}}(x_T)$.
    pub case: String,
    /// Its expected output, `(M, d)`.
    pub flow: String,
}

/// A family line of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyEntry {
    /// Family id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Number of cases.
    pub cases: usize,
}
