//! `golden validate`: compare a candidate's outputs with a golden suite.
//!
//! For each case, the candidate's `<outputs>/<id>.npy` (float64 or float32) is
//! compared point by point with the expected output (see [`super`] for the
//! criterion). A missing file, a wrong shape or a NaN is a failed case, reported
//! by name; an unreadable golden suite or output file is an error (unusable input).
//!
//! The verdict has one code path for every kind of candidate: [`validate_suite`] asks a
//! function for each case's output ([`Provided`]) given a [`CaseQuery`] (the case, its
//! verified inputs and model file); the file-based [`validate_only`] is one caller (its
//! function reads `<outputs>/<id>.npy`), the Python package's validation of a Python
//! callable another. Nothing in it depends on the case kind, so new families need no change.
//!
//! # Examples
//! ```no_run
//! use diffusion_lowdim::golden::{Tier, validate};
//! let report = validate("golden".as_ref(), "outputs".as_ref(), Tier::F64)?;
//! println!("{}", report.table());
//! assert!(report.passed);
//! # Ok::<(), diffusion_lowdim::io::InteropError>(())
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::export::point_errors;
use super::suite::{Suite, check_positive, parse_manifest};
use super::{CaseEntry, Manifest, Tier};
use crate::io::npy::{self, Array, StoredPrecision};
use crate::io::{InteropError, Result, fsio, limits};

/// The outcome of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Every point within its tolerance.
    Pass,
    /// Some point beyond its tolerance.
    Fail,
    /// No output file.
    Missing,
    /// The output's shape differs from the expected one.
    ShapeMismatch,
    /// The output has NaN or infinite entries.
    NonFinite,
}

impl CaseStatus {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "FAIL",
            Self::Missing => "MISSING",
            Self::ShapeMismatch => "WRONG SHAPE",
            Self::NonFinite => "NON-FINITE",
        }
    }
}

/// The comparison of one case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReport {
    /// Case id.
    pub id: String,
    /// Family.
    pub family: String,
    /// Kind.
    pub kind: String,
    /// Outcome.
    pub status: CaseStatus,
    /// The output file looked for.
    pub output: String,
    /// Precision the output was stored in.
    pub stored: Option<StoredPrecision>,
    /// Largest entry-wise `|output − expected|`.
    pub max_abs_error: Option<f64>,
    /// Largest point error relative to its scale, `‖o_b − e_b‖ / scale_b`.
    pub max_rel_error: Option<f64>,
    /// The relative tolerance at the worst point (the point with the largest ratio).
    pub tolerance: Option<f64>,
    /// Largest `(‖o_b − e_b‖ / scale_b) / tol_b`; the case passes iff ≤ 1.
    pub ratio: Option<f64>,
    /// Index of the worst point.
    pub worst_point: Option<usize>,
    /// Why the case did not pass, in words.
    pub message: Option<String>,
}

/// The whole comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `diffusion-lowdim/golden-report`.
    pub format: &'static str,
    /// The validator's crate version.
    pub crate_version: &'static str,
    /// The SHA-256 of the suite's `manifest.json` (compare it with the published one:
    /// the manifest cannot record its own digest).
    pub golden_manifest_sha256: String,
    /// The crate version that exported the suite.
    pub golden_crate_version: String,
    /// The suite's seed.
    pub golden_seed: u64,
    /// The golden directory.
    pub golden: PathBuf,
    /// The outputs directory.
    pub outputs: PathBuf,
    /// The tier compared against.
    pub tier: Tier,
    /// True iff every case passed.
    pub passed: bool,
    /// Number of cases.
    pub cases: usize,
    /// Number passed.
    pub passed_cases: usize,
    /// Number failed (beyond tolerance, wrong shape, non-finite).
    pub failed_cases: usize,
    /// Ids of the cases without an output file.
    pub missing: Vec<String>,
    /// Per-case results, in manifest order.
    pub results: Vec<CaseReport>,
}

/// Reads and checks a suite's manifest (without checking the files' digests; see
/// [`Suite::open`] for that).
///
/// # Errors
/// [`InteropError::Read`], [`InteropError::NotRegularFile`], [`InteropError::Json`],
/// [`InteropError::WrongFormat`], [`InteropError::UnsupportedSchema`],
/// [`InteropError::InvalidGolden`] (see [`super::suite::parse_manifest`]).
pub fn read_manifest(golden: &Path) -> Result<Manifest> {
    let path = golden.join("manifest.json");
    let bytes = fsio::read_regular(&path, limits::MAX_JSON_BYTES, "JSON manifest")?;
    parse_manifest(&path, &bytes)
}

/// Validates the outputs in `outputs` against the suite in `golden`, in `tier`.
///
/// # Errors
/// Unusable input: an unreadable or inconsistent suite ([`read_manifest`]'s errors,
/// the `.npy` errors of its arrays, [`InteropError::InvalidGolden`]), a missing
/// outputs directory ([`InteropError::Read`]), or an output file that is not a
/// readable float64/float32 `.npy` file. Missing outputs, wrong shapes, NaN and
/// errors beyond tolerance are not errors: they are failed cases in the [`Report`].
pub fn validate(golden: &Path, outputs: &Path, tier: Tier) -> Result<Report> {
    validate_only(golden, outputs, tier, &[])
}

/// As [`validate`], restricted to the cases selected by `only`: a case is
/// selected if its id or its family starts with one of the patterns (all cases
/// if `only` is empty).
///
/// # Errors
/// As [`validate`], and [`InteropError::InvalidGolden`] if `only` selects no case.
pub fn validate_only(golden: &Path, outputs: &Path, tier: Tier, only: &[String]) -> Result<Report> {
    let suite = Suite::open(golden)?;
    check_selection(&suite, only)?;
    match std::fs::metadata(outputs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(InteropError::Read {
                path: outputs.to_path_buf(),
                source: std::io::Error::other("not a directory"),
            });
        }
        Err(source) => {
            return Err(InteropError::Read {
                path: outputs.to_path_buf(),
                source,
            });
        }
    }
    let suite = suite.with_outputs(outputs)?;
    validate_suite(&suite, outputs, tier, only, |q| {
        read_output(outputs, q.case())
    })
}

/// The candidate's output file for `case`, as a [`Provided`]: [`Provided::Missing`]
/// without a file, [`Provided::Shape`] when its header declares another shape (its
/// data is never read), the array otherwise.
fn read_output(outputs: &Path, case: &CaseEntry) -> Result<Provided> {
    let out_path = outputs.join(&case.output);
    if !out_path.exists() {
        return Ok(Provided::Missing(format!(
            "no output file {}",
            out_path.display()
        )));
    }
    // The header first: a wrong shape is a failed case, and its data is never read.
    let info = npy::read_info(&out_path)?;
    let same_shape = info.shape.len() == case.shape.len()
        && info
            .shape
            .iter()
            .zip(&case.shape)
            .all(|(&a, &b)| a == b as u64);
    if !same_shape {
        return Ok(Provided::Shape {
            shape: info.shape,
            stored: Some(info.stored),
        });
    }
    Ok(Provided::Array(npy::read(&out_path)?))
}

/// [`InteropError::InvalidGolden`] if `only` is not empty and selects no case.
fn check_selection(suite: &Suite, only: &[String]) -> Result<()> {
    if !only.is_empty() && !suite.manifest().cases.iter().any(|c| selected(c, only)) {
        return Err(InteropError::InvalidGolden {
            path: suite.manifest_path().to_path_buf(),
            problem: "--only selects no case",
            detail: only.join(","),
        });
    }
    Ok(())
}

/// Whether `only` (id or family prefixes; empty: all) selects `case`.
fn selected(case: &CaseEntry, only: &[String]) -> bool {
    only.is_empty()
        || only
            .iter()
            .any(|p| case.id.starts_with(p.as_str()) || case.family.starts_with(p.as_str()))
}

/// What a candidate gives for one case.
#[derive(Debug, Clone, PartialEq)]
pub enum Provided {
    /// No output: no file, or a candidate that does not compute this case's kind. The
    /// message says which (it becomes the case's [`CaseStatus::Missing`] message).
    Missing(String),
    /// An output known only by its shape (and stored precision), which differs from
    /// the case's: a [`CaseStatus::ShapeMismatch`] without reading the data.
    Shape {
        /// The shape found.
        shape: Vec<u64>,
        /// Its precision, if known.
        stored: Option<StoredPrecision>,
    },
    /// An output array (float32 outputs are promoted to f64 exactly; [`Array::stored`]
    /// records the precision).
    Array(Array),
}

/// One case as a candidate sees it: what to compute, on which model, inputs and level.
///
/// Every file it reads is checked against the suite's SHA-256 digests ([`Suite::array`]).
#[derive(Debug, Clone, Copy)]
pub struct CaseQuery<'a> {
    suite: &'a Suite,
    case: &'a CaseEntry,
}

impl<'a> CaseQuery<'a> {
    /// The case's manifest entry: `id`, `family`, `kind` (`posterior_mean`, `score`,
    /// `jacobian`, `convert`, …), `params`, `level`, `inputs`, `shape`.
    pub fn case(&self) -> &'a CaseEntry {
        self.case
    }

    /// The suite.
    pub fn suite(&self) -> &'a Suite {
        self.suite
    }

    /// The input array `name` (e.g. `x`), read and verified.
    ///
    /// # Errors
    /// [`InteropError::InvalidGolden`] if the case has no such input; [`Suite::array`]'s errors.
    pub fn input(&self, name: &str) -> Result<Array> {
        let Some(rel) = self.case.inputs.get(name) else {
            return Err(InteropError::InvalidGolden {
                path: self.suite.manifest_path().to_path_buf(),
                problem: "the case has no such input",
                detail: format!("case {}: {name}", self.case.id),
            });
        };
        Ok(self
            .suite
            .array(&format!("case {}: inputs.{name}", self.case.id), rel, None)?
            .0)
    }

    /// The path of the case's model file, if it has one (its files were verified when
    /// the suite was opened).
    pub fn model_path(&self) -> Option<PathBuf> {
        self.case.model.as_ref().map(|m| self.suite.dir().join(m))
    }
}

/// Validates a candidate given as a function: for each case selected by `only` (id or
/// family prefixes; all if empty), in manifest order, `candidate` is asked for its output
/// ([`Provided`]) and the output is judged exactly as [`validate`] judges a file (same
/// criterion, statuses and messages). `outputs` is what the report records as the outputs
/// (e.g. the folder, or a description of the callable).
///
/// A candidate that does not compute a case's kind answers [`Provided::Missing`]: the
/// case is reported missing, as a missing output file is. The candidate's errors abort
/// the validation (they are unusable input, not failed cases).
///
/// # Examples
/// ```no_run
/// use diffusion_lowdim::golden::{Tier, suite::Suite, validate::{Provided, validate_suite}};
/// let suite = Suite::open("golden".as_ref())?;
/// // A candidate that computes nothing: every case is reported missing.
/// let report = validate_suite(&suite, "nothing".as_ref(), Tier::F64, &[], |q| {
///     Ok(Provided::Missing(format!("{} not implemented", q.case().kind)))
/// })?;
/// assert_eq!(report.missing.len(), report.cases);
/// # Ok::<(), diffusion_lowdim::io::InteropError>(())
/// ```
///
/// # Errors
/// The golden arrays' errors (as [`validate`]), [`InteropError::InvalidGolden`] if `only`
/// selects no case, and the candidate's errors.
pub fn validate_suite<F>(
    suite: &Suite,
    outputs: &Path,
    tier: Tier,
    only: &[String],
    mut candidate: F,
) -> Result<Report>
where
    F: FnMut(&CaseQuery<'_>) -> Result<Provided>,
{
    check_selection(suite, only)?;
    let manifest = suite.manifest();
    let mut results = Vec::new();
    for case in manifest.cases.iter().filter(|c| selected(c, only)) {
        let field = |name: &str| format!("case {}: {name}", case.id);
        let (expected, _) = suite.array(&field("expected"), &case.expected, Some(&case.shape))?;
        let points = case.shape.first().copied().unwrap_or(0);
        let (scale, scale_path) = suite.array(&field("scale"), &case.scale, Some(&[points]))?;
        check_positive(&scale_path, case, "scale", &scale)?;
        let (tol_name, tol_rel) = match tier {
            Tier::F64 => ("tol_f64", &case.tolerance.f64),
            Tier::F32 => ("tol_f32", &case.tolerance.f32),
        };
        let (tol, tol_path) = suite.array(&field(tol_name), tol_rel, Some(&[points]))?;
        check_positive(&tol_path, case, tol_name, &tol)?;
        let provided = candidate(&CaseQuery { suite, case })?;
        results.push(judge(case, tier, &expected, &scale, &tol, provided));
    }
    let passed_cases = results
        .iter()
        .filter(|r| r.status == CaseStatus::Pass)
        .count();
    let missing: Vec<String> = results
        .iter()
        .filter(|r| r.status == CaseStatus::Missing)
        .map(|r| r.id.clone())
        .collect();
    Ok(Report {
        format: "diffusion-lowdim/golden-report",
        crate_version: env!("CARGO_PKG_VERSION"),
        golden_manifest_sha256: suite.manifest_sha256().to_string(),
        golden_crate_version: manifest.crate_version.clone(),
        golden_seed: manifest.seed,
        golden: suite.dir().to_path_buf(),
        outputs: outputs.to_path_buf(),
        tier,
        passed: passed_cases == results.len(),
        cases: results.len(),
        passed_cases,
        failed_cases: results.len() - passed_cases - missing.len(),
        missing,
        results,
    })
}

/// The verdict on one case: the one code path of every validation.
fn judge(
    case: &CaseEntry,
    tier: Tier,
    expected: &Array,
    scale: &Array,
    tol: &Array,
    provided: Provided,
) -> CaseReport {
    let points = case.shape.first().copied().unwrap_or(0);
    let mut r = CaseReport {
        id: case.id.clone(),
        family: case.family.clone(),
        kind: case.kind.clone(),
        status: CaseStatus::Missing,
        output: case.output.clone(),
        stored: None,
        max_abs_error: None,
        max_rel_error: None,
        tolerance: None,
        ratio: None,
        worst_point: None,
        message: None,
    };
    let out = match provided {
        Provided::Missing(message) => {
            r.message = Some(message);
            return r;
        }
        Provided::Shape { shape, stored } => {
            r.stored = stored;
            r.status = CaseStatus::ShapeMismatch;
            r.message = Some(format!("output shape {shape:?}, expected {:?}", case.shape));
            return r;
        }
        Provided::Array(a) => a,
    };
    r.stored = Some(out.stored());
    if out.shape() != case.shape.as_slice() {
        r.status = CaseStatus::ShapeMismatch;
        let shape: Vec<u64> = out.shape().iter().map(|&n| n as u64).collect();
        r.message = Some(format!("output shape {shape:?}, expected {:?}", case.shape));
        return r;
    }
    if let Some(k) = out.data().iter().position(|v| !v.is_finite()) {
        r.status = CaseStatus::NonFinite;
        r.message = Some(format!(
            "non-finite value {} at index {:?}",
            out.data()[k],
            out.unravel(k)
        ));
        return r;
    }
    let errs = point_errors(out.data(), expected.data(), points);
    let max_abs = out
        .data()
        .iter()
        .zip(expected.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let mut worst = 0;
    let mut worst_ratio = f64::NEG_INFINITY;
    let mut max_rel = 0.0f64;
    for (b, ((e, sc), tl)) in errs.iter().zip(scale.data()).zip(tol.data()).enumerate() {
        let rel = e / sc;
        let ratio = rel / tl;
        max_rel = max_rel.max(rel);
        if ratio > worst_ratio || ratio.is_nan() {
            worst_ratio = ratio;
            worst = b;
        }
    }
    r.max_abs_error = Some(max_abs);
    r.max_rel_error = Some(max_rel);
    r.tolerance = Some(tol.data()[worst]);
    r.ratio = Some(worst_ratio);
    r.worst_point = Some(worst);
    if worst_ratio <= 1.0 {
        r.status = CaseStatus::Pass;
    } else {
        r.status = CaseStatus::Fail;
        r.message = Some(format!(
            "point {worst}: relative error {:.3e} exceeds the {} tolerance {:.3e}",
            errs[worst] / scale.data()[worst],
            tier.name(),
            tol.data()[worst]
        ));
    }
    r
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.3e}"))
}

impl Report {
    /// A plain-text table: one line per case, then a summary.
    pub fn table(&self) -> String {
        let mut s = format!(
            "diffusion-lowdim {} golden validate  (suite {} seed {}, tier {})\n",
            self.crate_version,
            self.golden_crate_version,
            self.golden_seed,
            self.tier.name()
        );
        s.push_str(&format!(
            "{:<52} {:<9} {:<14} {:>10} {:>10} {:>10} {:>9}  status\n",
            "case", "family", "kind", "max abs", "max rel", "tolerance", "ratio"
        ));
        for r in &self.results {
            s.push_str(&format!(
                "{:<52} {:<9} {:<14} {:>10} {:>10} {:>10} {:>9}  {}\n",
                r.id,
                r.family,
                r.kind,
                opt(r.max_abs_error),
                opt(r.max_rel_error),
                opt(r.tolerance),
                r.ratio.map_or_else(|| "-".into(), |x| format!("{x:.2e}")),
                r.status.label()
            ));
            if let Some(m) = &r.message
                && r.status != CaseStatus::Pass
            {
                s.push_str(&format!("    {m}\n"));
            }
        }
        s.push_str(&format!(
            "{} of {} cases passed, {} failed, {} missing\n",
            self.passed_cases,
            self.cases,
            self.failed_cases,
            self.missing.len()
        ));
        if !self.missing.is_empty() {
            s.push_str(&format!("missing outputs: {}\n", self.missing.join(", ")));
        }
        s
    }
}
