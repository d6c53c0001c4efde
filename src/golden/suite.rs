//! Reading a golden suite safely: confined paths, integrity hashes, checked tolerances.
//!
//! A [`Suite`] is a manifest that passed [`check_manifest`] and whose files all
//! match the SHA-256 digests the manifest records ([`Suite::open`]). Its arrays
//! are read through [`Suite::array`], which checks the path again (relative,
//! inside the suite after resolving `..` and symbolic links, not inside the
//! candidate's outputs folder) and the digest of the very bytes it decodes.
//!
//! # What the checks guarantee
//! - A file altered after export (an expected output, a tolerance, a scale, an
//!   input, a model array) is reported by name ([`InteropError::Tampered`]).
//! - Every case keeps the exporter's layout: `cases/<id>/expected.npy`,
//!   `scale.npy`, `tol_f64.npy`, `tol_f32.npy`, output `<id>.npy`; so an edited
//!   manifest cannot swap a case's f64 tolerances for its f32 ones, nor point its
//!   expected output at the candidate's own output.
//! - Scales and tolerances are finite and > 0 ([`check_positive`]).
//!
//! The manifest itself cannot carry its own digest: the validation report records
//! it (`golden_manifest_sha256`) so that it can be compared with a published one.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{CaseEntry, FORMAT, Manifest, SCHEMA_VERSION};
use crate::io::model_file::{check_header, confined};
use crate::io::npy::{self, Array};
use crate::io::{InteropError, Result, fsio, limits};

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn bad(path: &Path, problem: &'static str, detail: String) -> InteropError {
    InteropError::InvalidGolden {
        path: path.to_path_buf(),
        problem,
        detail,
    }
}

/// Whether `id` is a safe case id (a file name: ASCII letters, digits, `.`, `_`, `-`,
/// not starting with `.`).
fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Parses and checks the bytes of a manifest (`path` names it in messages).
///
/// Checks, without touching the file system: the format and schema version; case
/// ids unique and safe as file names; every case in the exporter's layout (see the
/// module docs) with at least one point; every path relative without `..`; a
/// well-formed SHA-256 digest recorded for every file a case or the measure
/// reference names.
///
/// # Errors
/// [`InteropError::Json`], [`InteropError::WrongFormat`],
/// [`InteropError::UnsupportedSchema`], [`InteropError::InvalidGolden`],
/// [`InteropError::FileTooLarge`] (more than [`limits::MAX_JSON_BYTES`]).
pub fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    if bytes.len() as u64 > limits::MAX_JSON_BYTES {
        return Err(InteropError::FileTooLarge {
            path: path.to_path_buf(),
            what: "JSON manifest",
            bytes: bytes.len() as u128,
            limit: limits::MAX_JSON_BYTES,
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| InteropError::Json {
            path: path.to_path_buf(),
            source,
        })?;
    check_header(
        path,
        value.get("format"),
        value.get("schema_version"),
        FORMAT,
        SCHEMA_VERSION,
    )?;
    let m: Manifest = serde_json::from_value(value).map_err(|source| InteropError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    check_manifest(path, &m)?;
    Ok(m)
}

/// A relative path of the manifest: no root, no `..`, not empty.
fn check_rel(manifest: &Path, field: String, rel: &str) -> Result<()> {
    let p = Path::new(rel);
    let ok = !rel.is_empty()
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
    if ok {
        Ok(())
    } else {
        Err(bad(
            manifest,
            "paths must be relative, inside the suite, without ..",
            format!("{field} = {rel:?}"),
        ))
    }
}

/// The structural checks of [`parse_manifest`] on a parsed manifest.
///
/// # Errors
/// [`InteropError::InvalidGolden`] naming the case and field.
pub fn check_manifest(path: &Path, m: &Manifest) -> Result<()> {
    for (rel, digest) in &m.sha256 {
        check_rel(path, "sha256 key".into(), rel)?;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                path,
                "a sha256 entry is not 64 hexadecimal digits",
                rel.clone(),
            ));
        }
    }
    let covered = |field: String, rel: &str| -> Result<()> {
        check_rel(path, field.clone(), rel)?;
        if m.sha256.contains_key(rel) {
            Ok(())
        } else {
            Err(bad(
                path,
                "a file has no SHA-256 in the manifest's \"sha256\" (a suite exported before \
                 integrity hashes, or an edited manifest): export it again",
                format!("{field} = {rel:?}"),
            ))
        }
    };
    let mut ids = std::collections::BTreeSet::new();
    for c in &m.cases {
        if !safe_id(&c.id) {
            return Err(bad(
                path,
                "a case id must be a plain file name (letters, digits, . _ -)",
                format!("{:?}", c.id),
            ));
        }
        if !ids.insert(c.id.as_str()) {
            return Err(bad(path, "duplicate case id", c.id.clone()));
        }
        let layout = |field: &str, found: &str, name: &str| -> Result<()> {
            let want = format!("cases/{}/{name}", c.id);
            if found == want {
                Ok(())
            } else {
                Err(bad(
                    path,
                    "a case's files must keep the exported layout",
                    format!("case {}: {field} = {found:?}, expected {want:?}", c.id),
                ))
            }
        };
        layout("expected", &c.expected, "expected.npy")?;
        layout("scale", &c.scale, "scale.npy")?;
        layout("tolerance.f64", &c.tolerance.f64, "tol_f64.npy")?;
        layout("tolerance.f32", &c.tolerance.f32, "tol_f32.npy")?;
        if c.output != format!("{}.npy", c.id) {
            return Err(bad(
                path,
                "a case's output must be <id>.npy",
                format!("case {}: output = {:?}", c.id, c.output),
            ));
        }
        if c.shape.is_empty() || c.shape[0] == 0 {
            return Err(bad(
                path,
                "a case needs at least one point (a shape with a first axis > 0)",
                format!("case {}: shape {:?}", c.id, c.shape),
            ));
        }
        let f = |name: &str| format!("case {}: {name}", c.id);
        covered(f("expected"), &c.expected)?;
        covered(f("scale"), &c.scale)?;
        covered(f("tolerance.f64"), &c.tolerance.f64)?;
        covered(f("tolerance.f32"), &c.tolerance.f32)?;
        for (name, rel) in &c.inputs {
            covered(f(&format!("inputs.{name}")), rel)?;
        }
        if let Some(model) = &c.model {
            covered(f("model"), model)?;
        }
    }
    if let Some(ms) = &m.measure {
        covered("measure.reference_model".into(), &ms.reference_model)?;
        covered("measure.noises".into(), &ms.noises)?;
        covered("measure.reference_flow".into(), &ms.reference_flow)?;
        for (k, t) in ms.training_sets.iter().enumerate() {
            covered(format!("measure.training_sets[{k}].points"), &t.points)?;
            covered(format!("measure.training_sets[{k}].model"), &t.model)?;
            covered(format!("measure.training_sets[{k}].flow"), &t.flow)?;
        }
    }
    Ok(())
}

/// Checks that every entry of a scale or tolerance array is finite and > 0.
///
/// # Errors
/// [`InteropError::InvalidGolden`] naming the case, the field and the entry.
pub fn check_positive(path: &Path, case: &CaseEntry, field: &str, a: &Array) -> Result<()> {
    match a.data().iter().position(|v| !(v.is_finite() && *v > 0.0)) {
        None => Ok(()),
        Some(k) => Err(bad(
            path,
            "scales and tolerances must be finite and > 0",
            format!("case {}: {field}[{k}] = {}", case.id, a.data()[k]),
        )),
    }
}

/// A golden suite whose manifest is checked and whose files match their digests.
#[derive(Debug, Clone)]
pub struct Suite {
    dir: PathBuf,
    manifest_path: PathBuf,
    manifest: Manifest,
    manifest_sha256: String,
    /// The candidate's outputs folder (canonical), if any: no golden file may be in it.
    outputs: Option<PathBuf>,
}

impl Suite {
    /// Opens the suite in `dir`: reads and checks `manifest.json` ([`parse_manifest`]),
    /// then checks every file it records a digest for.
    ///
    /// # Errors
    /// [`parse_manifest`]'s errors; [`InteropError::Read`] / [`InteropError::NotRegularFile`]
    /// for the manifest or a recorded file; [`InteropError::OutsideFolder`] for a file
    /// that resolves outside the suite; [`InteropError::Tampered`] for a file whose
    /// content differs from its digest.
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest_path = dir.join("manifest.json");
        let bytes = fsio::read_regular(&manifest_path, limits::MAX_JSON_BYTES, "JSON manifest")?;
        let manifest = parse_manifest(&manifest_path, &bytes)?;
        let suite = Self {
            dir: dir.to_path_buf(),
            manifest_path,
            manifest,
            manifest_sha256: sha256_hex(&bytes),
            outputs: None,
        };
        for rel in suite.manifest.sha256.keys() {
            suite.read_verified(&format!("sha256[{rel:?}]"), rel)?;
        }
        Ok(suite)
    }

    /// Refuses golden files inside `outputs` from now on (the candidate's folder: an
    /// expected output there would be the candidate's own).
    ///
    /// # Errors
    /// [`InteropError::InvalidGolden`] if a file of the suite is inside `outputs`.
    pub fn with_outputs(mut self, outputs: &Path) -> Result<Self> {
        let canon = std::fs::canonicalize(outputs).map_err(|source| InteropError::Read {
            path: outputs.to_path_buf(),
            source,
        })?;
        for rel in self.manifest.sha256.keys() {
            if let Ok(p) = std::fs::canonicalize(self.dir.join(rel))
                && p.starts_with(&canon)
            {
                return Err(bad(
                    &self.dir.join(rel),
                    "a golden file is inside the candidate's outputs folder (keep the suite \
                     and the outputs apart)",
                    outputs.display().to_string(),
                ));
            }
        }
        self.outputs = Some(canon);
        Ok(self)
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest's path.
    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    /// The SHA-256 of `manifest.json` as read.
    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// The suite's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the file at `rel` (named by `field`), checking its place and its digest.
    fn read_verified(&self, field: &str, rel: &str) -> Result<(Vec<u8>, PathBuf)> {
        let path = confined(&self.manifest_path, field, rel)?;
        if let (Some(out), Ok(p)) = (&self.outputs, std::fs::canonicalize(&path))
            && p.starts_with(out)
        {
            return Err(bad(
                &path,
                "a golden file is inside the candidate's outputs folder",
                field.to_string(),
            ));
        }
        let Some(expected) = self.manifest.sha256.get(rel) else {
            return Err(bad(
                &self.manifest_path,
                "a file has no SHA-256 in the manifest's \"sha256\"",
                format!("{field} = {rel:?}"),
            ));
        };
        let bytes = fsio::read_regular(&path, limits::memory_budget(), "golden file")?;
        let found = sha256_hex(&bytes);
        if !found.eq_ignore_ascii_case(expected) {
            return Err(InteropError::Tampered {
                path,
                expected: expected.clone(),
                found,
            });
        }
        Ok((bytes, path))
    }

    /// Reads a golden array (all entries finite), checking its place and digest, and
    /// its shape if `shape` is given.
    ///
    /// # Errors
    /// As [`Suite::open`] for the file, the `.npy` errors, [`InteropError::NonFinite`],
    /// [`InteropError::InvalidGolden`] for a shape other than the manifest's.
    pub fn array(
        &self,
        field: &str,
        rel: &str,
        shape: Option<&[usize]>,
    ) -> Result<(Array, PathBuf)> {
        let (bytes, path) = self.read_verified(field, rel)?;
        let a = npy::decode(&path, &bytes)?;
        a.ensure_finite(&path)?;
        if let Some(s) = shape
            && a.shape() != s
        {
            return Err(bad(
                &path,
                "array shape differs from the manifest",
                format!("{:?} vs {:?}", a.shape(), s),
            ));
        }
        Ok((a, path))
    }
}
