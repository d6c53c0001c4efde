//! The model-file format: a JSON manifest plus `.npy` arrays.
//!
//! Specified in `docs/model-format.md` (with a Python example). In short:
//!
//! ```json
//! { "format": "diffusion-lowdim/model", "schema_version": 1, "kind": "molrg",
//!   "weights": [0.5, 0.5],
//!   "components": [ { "basis": "U0.npy" }, { "basis": "U1.npy", "variances": "l1.npy" } ] }
//! ```
//!
//! | kind | fields | model |
//! |---|---|---|
//! | `gaussian` | `mean` (d,), and `basis` (d, r) + optional `variances` (r,) **or** `covariance` (d, d) | [`Gaussian`] (R02) |
//! | `molrg` | `weights` (K,), `components`: list of `{ basis (d, r_k), variances (r_k,) optional }` | [`Molrg`] (R03) |
//! | `empirical` | `points` (N, d) | [`Empirical`] (R04) |
//! | `pca` | `basis` (d, r) | the learned K = 1 denoiser: [`Gaussian::subspace`] |
//! | `k-subspaces` | `bases`: list of (d, r_k) | the learned K-subspaces denoiser: [`Molrg::uniform`] |
//!
//! An array is either a path to a `.npy` file, relative to the manifest's
//! directory, or an inline JSON array (nested lists of numbers). Omitted
//! `variances` are ones. An optional `"description"` string is kept for people.
//! Unknown fields are errors (a misspelt `"varainces"` would otherwise be
//! silently ignored).
//!
//! # Examples
//! ```
//! use diffusion_lowdim::io::model_file::{ModelSpec, load};
//! use diffusion_lowdim::io::fsio::write_dir_atomic;
//! use diffusion_lowdim::{Denoiser, NoiseLevel};
//! let dir = tempfile::tempdir().unwrap();
//! let spec = ModelSpec::Pca { basis: faer::mat![[1.0], [0.0]] };
//! write_dir_atomic(&dir.path().join("m"), &spec.files("", None), false)?;
//! let loaded = load(&dir.path().join("m/model.json"))?;
//! let x = faer::mat![[2.0], [3.0]];
//! let m = loaded.model.denoiser().posterior_mean(x.as_ref(), NoiseLevel::new(0.8, 0.6)?)?;
//! assert!((m[(0, 0)] - 1.6).abs() < 1e-15);
//! # Ok::<(), diffusion_lowdim::io::InteropError>(())
//! ```

use std::path::{Path, PathBuf};

use faer::{Mat, MatRef};
use serde::Deserialize;
use serde_json::Value;

use super::fsio::DirContents;
use super::npy::{self, Array};
use super::{InteropError, Result};
use crate::linalg::check_orthonormal;
use crate::model::ModelKind;
use crate::model::{Denoiser, Empirical, ExactModel, Gaussian, Molrg};

/// The value of the manifest's `"format"` field.
pub const FORMAT: &str = "diffusion-lowdim/model";
/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: u64 = 1;
/// How a Gaussian's covariance is given.
#[derive(Debug, Clone, PartialEq)]
pub enum GaussianCovariance {
    /// $U\operatorname{diag}(\lambda)U^\top$ with orthonormal $U$ (d × r).
    Basis {
        /// $U$, d × r.
        basis: Mat<f64>,
        /// $\lambda$ (length r).
        variances: Vec<f64>,
    },
    /// A full symmetric PSD matrix (d × d).
    Full(Mat<f64>),
}

/// One MoLRG component.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSpec {
    /// $U_k$, d × r_k, orthonormal columns.
    pub basis: Mat<f64>,
    /// $\Lambda_k$ (ones if `None`).
    pub variances: Option<Vec<f64>>,
}

/// The content of a model file, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// `kind: gaussian`.
    Gaussian {
        /// $\mu$.
        mean: Vec<f64>,
        /// $\Sigma$.
        covariance: GaussianCovariance,
    },
    /// `kind: molrg`.
    Molrg {
        /// $\pi$.
        weights: Vec<f64>,
        /// The components.
        components: Vec<ComponentSpec>,
    },
    /// `kind: empirical`; `points` is d × N (columns are points; `(N, d)` on disk).
    Empirical {
        /// The training set, d × N.
        points: Mat<f64>,
    },
    /// `kind: pca`.
    Pca {
        /// The learned basis, d × r.
        basis: Mat<f64>,
    },
    /// `kind: k-subspaces`.
    KSubspaces {
        /// The learned bases, d × r_k each.
        bases: Vec<Mat<f64>>,
    },
}

/// A validated model, ready to evaluate.
#[derive(Debug, Clone)]
pub enum Model {
    /// A Gaussian (kinds `gaussian`, `pca`).
    Gaussian(Gaussian),
    /// A MoLRG (kinds `molrg`, `k-subspaces`).
    Molrg(Molrg),
    /// An empirical distribution.
    Empirical(Empirical),
}

impl Model {
    /// The model as an [`ExactModel`] (posterior mean, score, Jacobian).
    pub fn exact(&self) -> &dyn ExactModel {
        match self {
            Self::Gaussian(m) => m,
            Self::Molrg(m) => m,
            Self::Empirical(m) => m,
        }
    }

    /// The model as a [`Denoiser`].
    pub fn denoiser(&self) -> &dyn Denoiser {
        match self {
            Self::Gaussian(m) => m,
            Self::Molrg(m) => m,
            Self::Empirical(m) => m,
        }
    }

    /// Ambient dimension $d$.
    pub fn dim(&self) -> usize {
        self.denoiser().dim()
    }
}

impl ModelSpec {
    /// The kind.
    pub fn kind(&self) -> ModelKind {
        match self {
            Self::Gaussian { .. } => ModelKind::Gaussian,
            Self::Molrg { .. } => ModelKind::Molrg,
            Self::Empirical { .. } => ModelKind::Empirical,
            Self::Pca { .. } => ModelKind::Pca,
            Self::KSubspaces { .. } => ModelKind::KSubspaces,
        }
    }

    /// Validates and builds the model.
    ///
    /// # Errors
    /// The constructors' errors ([`crate::Error::NotOrthonormal`], ...).
    pub fn build(&self) -> crate::Result<Model> {
        Ok(match self {
            Self::Gaussian { mean, covariance } => Model::Gaussian(match covariance {
                GaussianCovariance::Basis { basis, variances } => {
                    Gaussian::new(mean, basis.as_ref(), variances)?
                }
                GaussianCovariance::Full(s) => Gaussian::from_covariance(mean, s.as_ref())?,
            }),
            Self::Molrg {
                weights,
                components,
            } => {
                let refs: Vec<MatRef<'_, f64>> =
                    components.iter().map(|c| c.basis.as_ref()).collect();
                let vars: Vec<Vec<f64>> = components
                    .iter()
                    .map(|c| {
                        c.variances
                            .clone()
                            .unwrap_or_else(|| vec![1.0; c.basis.ncols()])
                    })
                    .collect();
                Model::Molrg(Molrg::with_variances(weights, &refs, &vars)?)
            }
            Self::Empirical { points } => Model::Empirical(Empirical::new(points.as_ref())?),
            Self::Pca { basis } => Model::Gaussian(Gaussian::subspace(basis.as_ref())?),
            Self::KSubspaces { bases } => {
                let refs: Vec<MatRef<'_, f64>> = bases.iter().map(|b| b.as_ref()).collect();
                Model::Molrg(Molrg::uniform(&refs)?)
            }
        })
    }

    /// The files of this model: `model.json` and its `.npy` arrays, under `prefix`
    /// (e.g. `"models/molrg/"`, or `""`), with an optional description.
    ///
    /// The bytes are deterministic: the same spec gives the same files.
    pub fn files(&self, prefix: &str, description: Option<&str>) -> DirContents {
        let mut files = DirContents::new();
        let mut put = |name: String, a: Array| {
            files.insert(format!("{prefix}{name}"), npy::encode(&a));
            Value::String(name)
        };
        let mut body = serde_json::Map::new();
        body.insert("format".into(), FORMAT.into());
        body.insert("schema_version".into(), SCHEMA_VERSION.into());
        body.insert("kind".into(), self.kind().name().into());
        if let Some(d) = description {
            body.insert("description".into(), d.into());
        }
        match self {
            Self::Gaussian { mean, covariance } => {
                body.insert(
                    "mean".into(),
                    put("mean.npy".into(), Array::from_vec(mean.clone())),
                );
                match covariance {
                    GaussianCovariance::Basis { basis, variances } => {
                        body.insert(
                            "basis".into(),
                            put("basis.npy".into(), Array::from_matrix(basis.as_ref())),
                        );
                        body.insert(
                            "variances".into(),
                            put("variances.npy".into(), Array::from_vec(variances.clone())),
                        );
                    }
                    GaussianCovariance::Full(s) => {
                        body.insert(
                            "covariance".into(),
                            put("covariance.npy".into(), Array::from_matrix(s.as_ref())),
                        );
                    }
                }
            }
            Self::Molrg {
                weights,
                components,
            } => {
                body.insert(
                    "weights".into(),
                    put("weights.npy".into(), Array::from_vec(weights.clone())),
                );
                let comps: Vec<Value> = components
                    .iter()
                    .enumerate()
                    .map(|(k, c)| {
                        let mut m = serde_json::Map::new();
                        m.insert(
                            "basis".into(),
                            put(
                                format!("component_{k}_basis.npy"),
                                Array::from_matrix(c.basis.as_ref()),
                            ),
                        );
                        if let Some(v) = &c.variances {
                            m.insert(
                                "variances".into(),
                                put(
                                    format!("component_{k}_variances.npy"),
                                    Array::from_vec(v.clone()),
                                ),
                            );
                        }
                        Value::Object(m)
                    })
                    .collect();
                body.insert("components".into(), Value::Array(comps));
            }
            Self::Empirical { points } => {
                body.insert(
                    "points".into(),
                    put("points.npy".into(), Array::from_batch(points.as_ref())),
                );
            }
            Self::Pca { basis } => {
                body.insert(
                    "basis".into(),
                    put("basis.npy".into(), Array::from_matrix(basis.as_ref())),
                );
            }
            Self::KSubspaces { bases } => {
                let list: Vec<Value> = bases
                    .iter()
                    .enumerate()
                    .map(|(k, b)| put(format!("basis_{k}.npy"), Array::from_matrix(b.as_ref())))
                    .collect();
                body.insert("bases".into(), Value::Array(list));
            }
        }
        let json = manifest_json(&body);
        files.insert(format!("{prefix}model.json"), json);
        files
    }
}

/// Pretty JSON with the fields in a fixed order (format, schema_version, kind, description, arrays).
fn manifest_json(body: &serde_json::Map<String, Value>) -> Vec<u8> {
    // serde_json's Map is sorted by key; write the header keys first by hand.
    let order = ["format", "schema_version", "kind", "description"];
    let mut out = String::from("{\n");
    let mut first = true;
    let mut emit = |k: &str, v: &Value| {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        let val = serde_json::to_string_pretty(v)
            .expect("JSON values serialize")
            .replace('\n', "\n  ");
        out.push_str(&format!("  {}: {}", Value::String(k.into()), val));
    };
    for k in order {
        if let Some(v) = body.get(k) {
            emit(k, v);
        }
    }
    for (k, v) in body {
        if !order.contains(&k.as_str()) {
            emit(k, v);
        }
    }
    out.push_str("\n}\n");
    out.into_bytes()
}

/// A model file, loaded and validated.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The manifest's path.
    pub path: PathBuf,
    /// The kind.
    pub kind: ModelKind,
    /// The arrays as read.
    pub spec: ModelSpec,
    /// The validated model.
    pub model: Model,
    /// The manifest and every `.npy` file it refers to (for checks that an output
    /// does not overwrite one of them).
    pub files: Vec<PathBuf>,
}

/// The folder of a manifest (`.` for a bare file name).
fn folder_of(manifest: &Path) -> &Path {
    match manifest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Resolves `rel`, a path written in `manifest`'s field `field`, against the
/// manifest's folder: it must be relative and, once `..` and symbolic links are
/// resolved, inside that folder (a path that does not exist is returned joined,
/// for the "cannot be read" error).
///
/// # Errors
/// [`InteropError::OutsideFolder`].
pub(crate) fn confined(manifest: &Path, field: &str, rel: &str) -> Result<PathBuf> {
    let folder = folder_of(manifest);
    let outside = |problem, path: PathBuf| InteropError::OutsideFolder {
        manifest: manifest.to_path_buf(),
        field: field.to_string(),
        path,
        problem,
        folder: folder.to_path_buf(),
    };
    let written = Path::new(rel);
    if written.is_absolute()
        || written.components().any(|c| {
            matches!(
                c,
                std::path::Component::Prefix(_) | std::path::Component::RootDir
            )
        })
    {
        return Err(outside("is an absolute path", written.to_path_buf()));
    }
    if rel.is_empty() {
        return Err(outside("is empty", written.to_path_buf()));
    }
    let joined = folder.join(written);
    let (Ok(base), Ok(resolved)) = (
        std::fs::canonicalize(folder),
        std::fs::canonicalize(&joined),
    ) else {
        // Missing: refuse `..` outright (it could point anywhere once created).
        if written
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(outside("leaves the folder with ..", written.to_path_buf()));
        }
        return Ok(joined);
    };
    if !resolved.starts_with(&base) {
        return Err(outside(
            "resolves (after .. and symbolic links) outside the folder",
            resolved,
        ));
    }
    Ok(joined)
}

/// An array field: a path relative to the manifest, or an inline JSON array.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ArrayRef {
    Path(String),
    Inline(Value),
}

#[derive(Debug, Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<Value>,
    #[serde(default)]
    schema_version: Option<Value>,
    #[serde(default)]
    kind: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GaussianBody {
    mean: ArrayRef,
    #[serde(default)]
    basis: Option<ArrayRef>,
    #[serde(default)]
    variances: Option<ArrayRef>,
    #[serde(default)]
    covariance: Option<ArrayRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentBody {
    basis: ArrayRef,
    #[serde(default)]
    variances: Option<ArrayRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MolrgBody {
    weights: ArrayRef,
    components: Vec<ComponentBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmpiricalBody {
    points: ArrayRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PcaBody {
    basis: ArrayRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KSubspacesBody {
    bases: Vec<ArrayRef>,
}

/// Reads the JSON of a manifest (a regular file of at most
/// [`super::limits::MAX_JSON_BYTES`]).
fn read_json(path: &Path) -> Result<Value> {
    let text = super::fsio::read_regular(path, super::limits::MAX_JSON_BYTES, "JSON manifest")?;
    parse_json(path, &text)
}

/// Parses the bytes of a JSON manifest (`path` names it in messages).
fn parse_json(path: &Path, text: &[u8]) -> Result<Value> {
    serde_json::from_slice(text).map_err(|source| InteropError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Checks `"format"` and `"schema_version"` of a manifest.
///
/// # Errors
/// [`InteropError::WrongFormat`], [`InteropError::UnsupportedSchema`].
pub(crate) fn check_header(
    path: &Path,
    format: Option<&Value>,
    schema: Option<&Value>,
    expected_format: &'static str,
    supported: u64,
) -> Result<()> {
    match format {
        Some(Value::String(s)) if s == expected_format => {}
        other => {
            return Err(InteropError::WrongFormat {
                path: path.to_path_buf(),
                expected: expected_format,
                found: other.map(|v| v.to_string()).unwrap_or_default(),
            });
        }
    }
    match schema.and_then(Value::as_u64) {
        Some(v) if v == supported => Ok(()),
        Some(v) => Err(InteropError::UnsupportedSchema {
            path: path.to_path_buf(),
            found: v,
            supported,
        }),
        None => Err(InteropError::InvalidField {
            path: path.to_path_buf(),
            field: "schema_version".into(),
            problem: "missing, or not a non-negative integer",
        }),
    }
}

/// Loads and validates a model file.
///
/// # Errors
/// [`InteropError::Read`], [`InteropError::Json`], [`InteropError::WrongFormat`],
/// [`InteropError::UnsupportedSchema`], [`InteropError::UnknownKind`],
/// [`InteropError::MissingArray`], the `.npy` errors of [`npy::read`] for each array,
/// [`InteropError::WrongRank`] / [`InteropError::WrongShape`] for inconsistent shapes,
/// [`InteropError::InvalidModel`] (naming the array file where there is one) for
/// arrays that do not define a valid model (e.g. a non-orthonormal basis).
pub fn load(path: &Path) -> Result<LoadedModel> {
    load_with(path, LoadOptions::default())
}

/// Options of [`load_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Divide a mixture's weights by their sum (`--normalize-weights`) instead of refusing
    /// weights that do not sum to 1 within [`crate::prec::WEIGHT_SUM_TOL`].
    pub normalize_weights: bool,
}

/// [`load`] with options.
///
/// # Errors
/// As [`load`]; [`InteropError::Unsupported`] naming the manifest for mixture weights
/// that are $\ge 0$ but do not sum to 1 within $10^{-12}$ (the message names
/// `--normalize-weights`), or, with `normalize_weights`, whose sum is 0.
pub fn load_with(path: &Path, options: LoadOptions) -> Result<LoadedModel> {
    let json = read_json(path)?;
    load_value_with(path, json, options)
}

/// Checks (or, with `normalize`, enforces) that valid mixture weights sum to 1; weights
/// that are negative or not finite are left to the model's own validation.
fn settle_weight_sum(path: &Path, weights: &mut [f64], normalize: bool) -> Result<()> {
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Ok(());
    }
    let sum: f64 = weights.iter().sum();
    let tol = crate::prec::WEIGHT_SUM_TOL;
    if normalize {
        if !(sum > 0.0 && sum.is_finite()) {
            return Err(InteropError::Unsupported {
                path: path.to_path_buf(),
                problem: format!(
                    "--normalize-weights cannot normalize mixture weights whose sum is {sum:e}"
                ),
            });
        }
        weights.iter_mut().for_each(|w| *w /= sum);
    } else if (sum - 1.0).abs() > tol {
        return Err(InteropError::Unsupported {
            path: path.to_path_buf(),
            problem: format!(
                "mixture weights must sum to 1 within {tol:.0e}, but they sum to {sum:e} \
                 (off by {:.3e}): correct them, or pass --normalize-weights to divide them by \
                 their sum",
                sum - 1.0
            ),
        });
    }
    Ok(())
}

/// Loads and validates a model file from the bytes of its manifest; `path` is where
/// the manifest would be (it names it in messages, and array paths are resolved
/// relative to its folder). With inline arrays only, nothing is read from disk.
///
/// # Errors
/// As [`load`] (but for reading the manifest itself).
pub fn load_from_bytes(path: &Path, bytes: &[u8]) -> Result<LoadedModel> {
    if bytes.len() as u64 > super::limits::MAX_JSON_BYTES {
        return Err(InteropError::FileTooLarge {
            path: path.to_path_buf(),
            what: "JSON manifest",
            bytes: bytes.len() as u128,
            limit: super::limits::MAX_JSON_BYTES,
        });
    }
    load_value(path, parse_json(path, bytes)?)
}

fn load_value(path: &Path, json: Value) -> Result<LoadedModel> {
    load_value_with(path, json, LoadOptions::default())
}

fn load_value_with(path: &Path, json: Value, options: LoadOptions) -> Result<LoadedModel> {
    let obj = match &json {
        Value::Object(o) => o,
        _ => {
            return Err(InteropError::InvalidField {
                path: path.to_path_buf(),
                field: "(top level)".into(),
                problem: "a model manifest must be a JSON object",
            });
        }
    };
    let header: Header =
        serde_json::from_value(json.clone()).map_err(|source| InteropError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    check_header(
        path,
        header.format.as_ref(),
        header.schema_version.as_ref(),
        FORMAT,
        SCHEMA_VERSION,
    )?;
    let kind_name = match &header.kind {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let kind = ModelKind::from_name(&kind_name).ok_or_else(|| InteropError::UnknownKind {
        path: path.to_path_buf(),
        kind: kind_name.clone(),
        known: ModelKind::names().join(", "),
    })?;
    if let Some(d) = obj.get("description")
        && !d.is_string()
    {
        return Err(InteropError::InvalidField {
            path: path.to_path_buf(),
            field: "description".into(),
            problem: "must be a string",
        });
    }
    let mut body = obj.clone();
    for k in ["format", "schema_version", "kind", "description"] {
        body.remove(k);
    }
    let body = Value::Object(body);
    let reader = Reader {
        manifest: path,
        files: std::cell::RefCell::new(vec![path.to_path_buf()]),
    };
    let spec = match kind {
        ModelKind::Gaussian => reader.gaussian(reader.parse::<GaussianBody>(body)?)?,
        ModelKind::Molrg => reader.molrg(reader.parse::<MolrgBody>(body)?)?,
        ModelKind::Empirical => {
            let b: EmpiricalBody = reader.parse(body)?;
            let (a, p) = reader.array(&b.points, "points")?;
            ModelSpec::Empirical {
                points: a.to_batch(&p, "points", None)?,
            }
        }
        ModelKind::Pca => {
            let b: PcaBody = reader.parse(body)?;
            let (basis, _) = reader.basis(&b.basis, "basis", None, 0)?;
            ModelSpec::Pca { basis }
        }
        ModelKind::KSubspaces => {
            let b: KSubspacesBody = reader.parse(body)?;
            if b.bases.is_empty() {
                return Err(InteropError::InvalidField {
                    path: path.to_path_buf(),
                    field: "bases".into(),
                    problem: "needs at least one basis",
                });
            }
            let mut bases = Vec::new();
            let mut d = None;
            for (k, r) in b.bases.iter().enumerate() {
                let (u, _) = reader.basis(r, &format!("bases[{k}]"), d, k)?;
                d = Some(u.nrows());
                bases.push(u);
            }
            ModelSpec::KSubspaces { bases }
        }
    };
    let mut spec = spec;
    if let ModelSpec::Molrg { weights, .. } = &mut spec {
        settle_weight_sum(path, weights, options.normalize_weights)?;
    }
    let model = spec.build().map_err(|source| InteropError::InvalidModel {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(LoadedModel {
        path: path.to_path_buf(),
        kind,
        spec,
        model,
        files: reader.files.into_inner(),
    })
}

struct Reader<'a> {
    manifest: &'a Path,
    /// The manifest and every array file read.
    files: std::cell::RefCell<Vec<PathBuf>>,
}

impl Reader<'_> {
    fn parse<T: serde::de::DeserializeOwned>(&self, body: Value) -> Result<T> {
        serde_json::from_value(body).map_err(|source| InteropError::Json {
            path: self.manifest.to_path_buf(),
            source,
        })
    }

    /// Reads an array field; returns it with the path to name in later errors
    /// (the `.npy` file, or the manifest for inline arrays).
    fn array(&self, r: &ArrayRef, field: &str) -> Result<(Array, PathBuf)> {
        match r {
            ArrayRef::Path(p) => {
                let path = confined(self.manifest, field, p)?;
                self.files.borrow_mut().push(path.clone());
                let a = match npy::read(&path) {
                    Err(InteropError::Read { path, source }) => {
                        return Err(InteropError::MissingArray {
                            manifest: self.manifest.to_path_buf(),
                            field: field.to_string(),
                            path,
                            source,
                        });
                    }
                    other => other?,
                };
                a.ensure_finite(&path)?;
                Ok((a, path))
            }
            ArrayRef::Inline(v) => Ok((
                inline_array(self.manifest, field, v)?,
                self.manifest.to_path_buf(),
            )),
        }
    }

    fn vector(
        &self,
        r: &ArrayRef,
        field: &str,
        what: &'static str,
        len: Option<(usize, &'static str)>,
    ) -> Result<Vec<f64>> {
        let (a, p) = self.array(r, field)?;
        if let Some((n, reason)) = len {
            a.expect_rank(&p, what, "(n,)", 1)?;
            a.expect_axis(&p, what, 0, n, reason)?;
        }
        a.to_vector(&p, what)
    }

    /// A basis `(d, r)`, checked for orthonormal columns (the error names its file).
    fn basis(
        &self,
        r: &ArrayRef,
        field: &str,
        d: Option<usize>,
        component: usize,
    ) -> Result<(Mat<f64>, PathBuf)> {
        let (a, p) = self.array(r, field)?;
        a.expect_rank(&p, "basis", "(d, r): one basis vector per column", 2)?;
        if let Some(d) = d {
            a.expect_axis(&p, "basis", 0, d, "the dimension d of the other arrays")?;
        }
        let u = a.to_matrix(&p, "basis", "(d, r): one basis vector per column")?;
        check_orthonormal("basis", component, u.as_ref()).map_err(|source| {
            InteropError::InvalidModel {
                path: p.clone(),
                source,
            }
        })?;
        Ok((u, p))
    }

    fn gaussian(&self, b: GaussianBody) -> Result<ModelSpec> {
        let (ma, mp) = self.array(&b.mean, "mean")?;
        let mean = ma.to_vector(&mp, "mean")?;
        let d = mean.len();
        let covariance = match (&b.basis, &b.covariance) {
            (Some(u), None) => {
                let (basis, _) = self.basis(u, "basis", Some(d), 0)?;
                let r = basis.ncols();
                let variances = match &b.variances {
                    Some(v) => self.vector(
                        v,
                        "variances",
                        "variances",
                        Some((r, "the number of columns r of the basis")),
                    )?,
                    None => vec![1.0; r],
                };
                GaussianCovariance::Basis { basis, variances }
            }
            (None, Some(c)) => {
                if b.variances.is_some() {
                    return Err(InteropError::InvalidField {
                        path: self.manifest.to_path_buf(),
                        field: "variances".into(),
                        problem: "only allowed with \"basis\", not with \"covariance\"",
                    });
                }
                let (a, p) = self.array(c, "covariance")?;
                a.expect_rank(&p, "covariance", "(d, d)", 2)?;
                a.expect_axis(&p, "covariance", 0, d, "the length d of the mean")?;
                a.expect_axis(&p, "covariance", 1, d, "the length d of the mean")?;
                let s = a.to_matrix(&p, "covariance", "(d, d)")?;
                // Validate here so that the error names the covariance file.
                Gaussian::from_covariance(&mean, s.as_ref()).map_err(|source| {
                    InteropError::InvalidModel {
                        path: p.clone(),
                        source,
                    }
                })?;
                GaussianCovariance::Full(s)
            }
            _ => {
                return Err(InteropError::InvalidField {
                    path: self.manifest.to_path_buf(),
                    field: "basis / covariance".into(),
                    problem: "give exactly one of \"basis\" (with optional \"variances\") or \"covariance\"",
                });
            }
        };
        Ok(ModelSpec::Gaussian { mean, covariance })
    }

    fn molrg(&self, b: MolrgBody) -> Result<ModelSpec> {
        if b.components.is_empty() {
            return Err(InteropError::InvalidField {
                path: self.manifest.to_path_buf(),
                field: "components".into(),
                problem: "needs at least one component",
            });
        }
        let weights = self.vector(
            &b.weights,
            "weights",
            "weights",
            Some((b.components.len(), "the number of components K")),
        )?;
        let mut comps = Vec::new();
        let mut d = None;
        for (k, c) in b.components.iter().enumerate() {
            let (basis, _) = self.basis(&c.basis, &format!("components[{k}].basis"), d, k)?;
            d = Some(basis.nrows());
            let variances = match &c.variances {
                Some(v) => Some(self.vector(
                    v,
                    &format!("components[{k}].variances"),
                    "variances",
                    Some((
                        basis.ncols(),
                        "the number of columns r_k of the component's basis",
                    )),
                )?),
                None => None,
            };
            comps.push(ComponentSpec { basis, variances });
        }
        Ok(ModelSpec::Molrg {
            weights,
            components: comps,
        })
    }
}

/// An inline JSON array: a number, or nested lists of numbers of consistent lengths.
fn inline_array(manifest: &Path, field: &str, v: &Value) -> Result<Array> {
    let bad = |problem| InteropError::InvalidField {
        path: manifest.to_path_buf(),
        field: field.to_string(),
        problem,
    };
    // Shape from the first elements, then a full walk checking it.
    let mut shape = Vec::new();
    let mut cur = v;
    while let Value::Array(items) = cur {
        shape.push(items.len());
        match items.first() {
            Some(first) => cur = first,
            None => break,
        }
    }
    let mut data = Vec::new();
    fn walk(
        v: &Value,
        shape: &[usize],
        out: &mut Vec<f64>,
    ) -> core::result::Result<(), &'static str> {
        match (v, shape.split_first()) {
            (Value::Number(n), None) => {
                out.push(n.as_f64().ok_or("a number is out of the f64 range")?);
                Ok(())
            }
            (Value::Array(items), Some((&len, rest))) => {
                if items.len() != len {
                    return Err("ragged nested lists: every row must have the same length");
                }
                items.iter().try_for_each(|x| walk(x, rest, out))
            }
            _ => Err(
                "must be a number, a list of numbers, or nested lists of numbers (or a path to a .npy file)",
            ),
        }
    }
    walk(v, &shape, &mut data).map_err(bad)?;
    let a = Array::new(shape, data)?;
    a.ensure_finite(manifest)?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_arrays_parse_with_shape() {
        let v: Value = serde_json::from_str("[[1, 2.5], [3, 4]]").unwrap();
        let a = inline_array(Path::new("m.json"), "x", &v).unwrap();
        assert_eq!(a.shape(), &[2, 2]);
        assert_eq!(a.data(), &[1.0, 2.5, 3.0, 4.0]);
        let ragged: Value = serde_json::from_str("[[1, 2], [3]]").unwrap();
        assert!(inline_array(Path::new("m.json"), "x", &ragged).is_err());
        let text: Value = serde_json::from_str("[\"a\"]").unwrap();
        assert!(inline_array(Path::new("m.json"), "x", &text).is_err());
    }

    #[test]
    fn inline_decimal_parses_to_the_nearest_double() {
        // Requires serde_json's float_roundtrip: 0.1 + 1 ulp boundary values.
        for s in [
            "0.1",
            "2.2250738585072014e-308",
            "0.30000000000000004",
            "1e-100",
        ] {
            let v: Value = serde_json::from_str(&format!("[{s}]")).unwrap();
            let a = inline_array(Path::new("m.json"), "x", &v).unwrap();
            assert_eq!(
                a.data()[0].to_bits(),
                s.parse::<f64>().unwrap().to_bits(),
                "{s}"
            );
        }
    }
}
