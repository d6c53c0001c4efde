//! `golden export`: build the suite in memory, check it, write it atomically.

use std::collections::BTreeMap;
use std::path::Path;

use super::families::families;
use super::tolerance::PointTolerance;
use super::{
    CaseEntry, DEFAULT_SEED, FORMAT, FamilyEntry, LevelEntry, Manifest, MeasureEntry,
    SCHEMA_VERSION, ToleranceEntry,
};
use crate::io::fsio::{DirContents, write_dir_atomic};
use crate::io::model_file::{Model, ModelSpec};
use crate::io::npy::{self, Array};
use crate::io::{InteropError, Result};
use crate::level::NoiseLevel;
use crate::rng::{SeededRng, stream};

/// A case as a family builds it.
#[derive(Debug, Clone)]
pub struct NewCase {
    /// Unique id (lower case, `-` separated).
    pub id: String,
    /// Family id.
    pub family: &'static str,
    /// Kind (`posterior_mean`, `score`, `jacobian`, `convert`, `schedule`).
    pub kind: &'static str,
    /// What the case exercises.
    pub description: String,
    /// Kind-specific parameters.
    pub params: serde_json::Value,
    /// Model path inside the suite (from [`SuiteBuilder::add_model`]).
    pub model: Option<String>,
    /// Noise level.
    pub level: Option<NoiseLevel>,
    /// Inputs by name.
    pub inputs: Vec<(&'static str, Array)>,
    /// The oracle's value rounded to f64.
    pub expected: Array,
    /// The crate's f64 value (checked against `expected`, not written).
    pub crate_value: Array,
    /// Per point: scale and tolerances.
    pub points: Vec<PointTolerance>,
    /// The CLI command computing the crate's value (paths relative to the suite).
    pub command: String,
}

/// How [`SuiteBuilder::add_case_with`] treats a case beyond [`NewCase`].
#[derive(Debug, Clone, Default)]
pub struct CaseOptions {
    /// Inputs already in the suite (added with [`SuiteBuilder::add_array`] or
    /// [`SuiteBuilder::add_model`]), by input name and relative path: shared by
    /// several cases instead of copied into each case's directory.
    pub shared_inputs: Vec<(&'static str, String)>,
}

/// Collects models and cases; families add to it.
#[derive(Debug)]
pub struct SuiteBuilder {
    seed: u64,
    files: DirContents,
    cases: Vec<CaseEntry>,
    models: BTreeMap<String, (String, Model)>,
    measure: Option<MeasureEntry>,
}

/// `‖a_b − e_b‖₂` for every point `b` (first axis) of two equally shaped arrays.
pub fn point_errors(a: &[f64], e: &[f64], points: usize) -> Vec<f64> {
    let per = e.len().checked_div(points).unwrap_or(0);
    (0..points)
        .map(|b| {
            let s: f64 = (0..per)
                .map(|i| {
                    let d = a[b * per + i] - e[b * per + i];
                    d * d
                })
                .sum();
            s.sqrt()
        })
        .collect()
}

impl SuiteBuilder {
    /// An empty suite with master seed `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            files: DirContents::new(),
            cases: Vec::new(),
            models: BTreeMap::new(),
            measure: None,
        }
    }

    /// A model added earlier by [`SuiteBuilder::add_model`]: its manifest path and the model.
    ///
    /// # Errors
    /// [`InteropError::InvalidGolden`] if no model of that name was added (families
    /// that reuse another family's model must be registered after it).
    pub fn model(&self, name: &str) -> Result<(String, Model)> {
        self.models
            .get(name)
            .cloned()
            .ok_or_else(|| InteropError::InvalidGolden {
                path: format!("models/{name}/model.json").into(),
                problem: "no model of that name was added before this family",
                detail: name.to_string(),
            })
    }

    /// Adds an array at `rel` (a relative path ending in `.npy`, outside `cases/`) and
    /// returns the path, for inputs shared by several cases (see [`CaseOptions`]).
    ///
    /// # Errors
    /// [`InteropError::InvalidGolden`] if the path is taken or not a `.npy` path.
    pub fn add_array(&mut self, rel: &str, a: &Array) -> Result<String> {
        if !rel.ends_with(".npy") || rel.starts_with("cases/") || self.files.contains_key(rel) {
            return Err(InteropError::InvalidGolden {
                path: rel.into(),
                problem: "an extra array needs a new .npy path outside cases/",
                detail: rel.to_string(),
            });
        }
        a.ensure_finite(Path::new(rel))?;
        self.files.insert(rel.to_string(), npy::encode(a));
        Ok(rel.to_string())
    }

    /// Records the reference of `measure` (the manifest's `measure` field).
    ///
    /// # Errors
    /// [`InteropError::InvalidGolden`] if it was set already or names a file or case
    /// that is not in the suite.
    pub fn set_measure(&mut self, m: MeasureEntry) -> Result<()> {
        let bad = |problem: &'static str, detail: String| InteropError::InvalidGolden {
            path: "manifest.json".into(),
            problem,
            detail,
        };
        if self.measure.is_some() {
            return Err(bad("the measure reference is set twice", String::new()));
        }
        let mut files = vec![&m.reference_model, &m.noises, &m.reference_flow];
        let mut cases = vec![&m.reference_case];
        for t in &m.training_sets {
            files.extend([&t.points, &t.model, &t.flow]);
            cases.push(&t.case);
        }
        if let Some(f) = files
            .into_iter()
            .find(|f| !self.files.contains_key(f.as_str()))
        {
            return Err(bad("the measure reference names a missing file", f.clone()));
        }
        if let Some(c) = cases
            .into_iter()
            .find(|c| !self.cases.iter().any(|e| &e.id == *c))
        {
            return Err(bad("the measure reference names a missing case", c.clone()));
        }
        self.measure = Some(m);
        Ok(())
    }

    /// The random stream of a family: `stream(seed, "golden/<family>", 0)`.
    pub fn rng(&self, family: &str) -> SeededRng {
        stream(self.seed, &format!("golden/{family}"), 0)
    }

    /// Adds a model file under `models/<name>/` and returns its manifest path
    /// (relative to the suite) and the validated model.
    ///
    /// # Errors
    /// [`InteropError::InvalidModel`] if the spec is not a valid model;
    /// [`InteropError::InvalidGolden`] for a duplicate name.
    pub fn add_model(
        &mut self,
        name: &str,
        spec: &ModelSpec,
        description: &str,
    ) -> Result<(String, Model)> {
        let path = format!("models/{name}/model.json");
        if self.models.contains_key(name) {
            return Err(InteropError::InvalidGolden {
                path: path.into(),
                problem: "duplicate model name",
                detail: name.to_string(),
            });
        }
        let model = spec.build().map_err(|source| InteropError::InvalidModel {
            path: path.clone().into(),
            source,
        })?;
        self.models
            .insert(name.to_string(), (path.clone(), model.clone()));
        self.files
            .extend(spec.files(&format!("models/{name}/"), Some(description)));
        Ok((path, model))
    }

    /// Adds a case after checking it (see the module docs of [`super`]).
    ///
    /// # Errors
    /// [`InteropError::OracleDisagreement`] if the crate's f64 value is farther
    /// from the oracle than a tenth of the f64 tolerance at some point;
    /// [`InteropError::InvalidGolden`] for an inconsistent case (duplicate id,
    /// shapes, non-finite or inverted tolerances).
    pub fn add_case(&mut self, c: NewCase) -> Result<()> {
        self.add_case_with(c, CaseOptions::default())
    }

    /// [`SuiteBuilder::add_case`] with options (shared inputs).
    ///
    /// # Errors
    /// As [`SuiteBuilder::add_case`], and [`InteropError::InvalidGolden`] for a shared
    /// input that is not in the suite or has the name of one of the case's own inputs.
    pub fn add_case_with(&mut self, c: NewCase, options: CaseOptions) -> Result<()> {
        let bad = |problem: &'static str, detail: String| InteropError::InvalidGolden {
            path: format!("cases/{}", c.id).into(),
            problem,
            detail,
        };
        if self.cases.iter().any(|e| e.id == c.id) {
            return Err(bad("duplicate case id", c.id.clone()));
        }
        let shape = c.expected.shape().to_vec();
        let points = shape.first().copied().unwrap_or(0);
        if c.crate_value.shape() != shape.as_slice() || c.points.len() != points || points == 0 {
            return Err(bad(
                "shapes of expected, crate value and tolerances disagree",
                format!(
                    "{:?} vs {:?}, {} tolerances",
                    shape,
                    c.crate_value.shape(),
                    c.points.len()
                ),
            ));
        }
        c.expected.ensure_finite(Path::new(&c.id))?;
        for (b, p) in c.points.iter().enumerate() {
            let ok = p.scale.is_finite()
                && p.scale > 0.0
                && p.f64.is_finite()
                && p.f64 > 0.0
                && p.f32.is_finite()
                && p.f32 >= p.f64;
            if !ok {
                return Err(bad("invalid tolerance", format!("point {b}: {p:?}")));
            }
        }
        let errs = point_errors(c.crate_value.data(), c.expected.data(), points);
        for (e, p) in errs.iter().zip(&c.points) {
            let rel = e / p.scale;
            // Written so that a NaN error is refused too.
            if rel.is_nan() || rel > p.f64 / 10.0 {
                return Err(InteropError::OracleDisagreement {
                    case: c.id.clone(),
                    error: rel,
                    tolerance: p.f64,
                });
            }
        }
        let dir = format!("cases/{}", c.id);
        let mut inputs = BTreeMap::new();
        for (name, rel) in &options.shared_inputs {
            if !self.files.contains_key(rel) || c.inputs.iter().any(|(n, _)| n == name) {
                return Err(bad("invalid shared input", format!("{name}: {rel}")));
            }
            inputs.insert((*name).to_string(), rel.clone());
        }
        for (name, a) in &c.inputs {
            let rel = format!("{dir}/{name}.npy");
            self.files.insert(rel.clone(), npy::encode(a));
            inputs.insert((*name).to_string(), rel);
        }
        let put = |files: &mut DirContents, name: &str, a: Array| {
            let rel = format!("{dir}/{name}.npy");
            files.insert(rel.clone(), npy::encode(&a));
            rel
        };
        let expected = put(&mut self.files, "expected", c.expected.clone());
        let scale = put(
            &mut self.files,
            "scale",
            Array::from_vec(c.points.iter().map(|p| p.scale).collect()),
        );
        let t64: Vec<f64> = c.points.iter().map(|p| p.f64).collect();
        let t32: Vec<f64> = c.points.iter().map(|p| p.f32).collect();
        let tolerance = ToleranceEntry {
            max_f64: t64.iter().cloned().fold(0.0, f64::max),
            max_f32: t32.iter().cloned().fold(0.0, f64::max),
            f64: put(&mut self.files, "tol_f64", Array::from_vec(t64)),
            f32: put(&mut self.files, "tol_f32", Array::from_vec(t32)),
        };
        self.cases.push(CaseEntry {
            output: format!("{}.npy", c.id),
            id: c.id,
            family: c.family.to_string(),
            kind: c.kind.to_string(),
            description: c.description,
            params: c.params,
            model: c.model,
            level: c.level.map(|l| LevelEntry {
                alpha: l.alpha(),
                beta: l.beta(),
            }),
            inputs,
            expected,
            shape,
            scale,
            tolerance,
            command: c.command,
        });
        Ok(())
    }

    fn finish(mut self) -> Result<(Manifest, DirContents)> {
        let fams = families()
            .iter()
            .map(|f| FamilyEntry {
                id: f.id.to_string(),
                title: f.title.to_string(),
                cases: self.cases.iter().filter(|c| c.family == f.id).count(),
            })
            .collect();
        let manifest = Manifest {
            format: FORMAT.to_string(),
            schema_version: SCHEMA_VERSION,
            crate_name: env!("CARGO_PKG_NAME").to_string(),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: self.seed,
            criterion: "point b (first axis) passes in tier T iff ||output[b] - expected[b]||_2 <= \
                        tol_T[b] * scale[b]; a case passes iff all its points pass"
                .to_string(),
            conventions: vec![
                "x_t = alpha * x_0 + beta * eps, eps ~ N(0, I_d)".into(),
                "arrays are batch-first: points (B, d), bases (d, r), Jacobians (B, d, d) with \
                 J[b, i, j] = d x0hat_i / d x_t_j"
                    .into(),
                "inputs and expected outputs are float64; candidates may write float64 or float32"
                    .into(),
                "f64 tier: eps = 2^-52; f32 tier: eps = 2^-23, inputs rounded to float32 by the candidate"
                    .into(),
                "expected values: double-double (~32 digit) oracles rounded to float64; flow cases of \
                 non-Gaussian models: the crate's Dormand-Prince, its estimated error \
                 (params.reference) added to the tolerance"
                    .into(),
                "kind flow: rows of x are starting points x_t0; expected = the PF-ODE solution at \
                 t_n, then D(x_tn, t_n) if params.end = clean (EDM's Euler last step); params give \
                 the schedule, the grid and the candidate discretization (solver, steps) whose \
                 error the tolerance allows for, twice over"
                    .into(),
                "kind sampler_step: one Euler, Heun or DDIM step from t to s with the exact \
                 denoiser; params give the schedule's (alpha, beta, dalpha, dbeta) at t and s"
                    .into(),
            ],
            families: fams,
            cases: self.cases,
            measure: self.measure,
            // Every file so far: inputs, expected outputs, scales, tolerances, models.
            sha256: self
                .files
                .iter()
                .map(|(rel, bytes)| (rel.clone(), super::suite::sha256_hex(bytes)))
                .collect(),
        };
        let mut json = serde_json::to_vec_pretty(&manifest).map_err(|e| InteropError::Json {
            path: "manifest.json".into(),
            source: e,
        })?;
        json.push(b'\n');
        self.files.insert("manifest.json".into(), json);
        self.files
            .insert("README.md".into(), readme(&manifest).into_bytes());
        Ok((manifest, self.files))
    }
}

/// Builds the whole suite in memory: its manifest and every file.
///
/// # Errors
/// Any family's error (see [`SuiteBuilder::add_case`]).
pub fn build(seed: u64) -> Result<(Manifest, DirContents)> {
    let mut b = SuiteBuilder::new(seed);
    for f in families() {
        (f.build)(&mut b)?;
    }
    b.finish()
}

/// What [`export`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    /// Number of cases per family, in registry order.
    pub families: Vec<(String, usize)>,
    /// Number of files.
    pub files: usize,
    /// Total bytes.
    pub bytes: usize,
}

/// Exports the default suite (seed [`DEFAULT_SEED`]) to `out`, atomically.
///
/// # Errors
/// As [`export_to`].
pub fn export(out: &Path, replace: bool) -> Result<ExportSummary> {
    export_to(out, DEFAULT_SEED, replace)
}

/// Exports the suite with master seed `seed` to `out`: the directory is
/// assembled under a temporary name next to `out` and renamed at the end.
///
/// # Errors
/// [`build`]'s errors, [`InteropError::OutputExists`] (unless `replace`),
/// [`InteropError::Write`]; nothing is left behind on error.
pub fn export_to(out: &Path, seed: u64, replace: bool) -> Result<ExportSummary> {
    let (manifest, files) = build(seed)?;
    write_dir_atomic(out, &files, replace)?;
    Ok(ExportSummary {
        families: manifest
            .families
            .iter()
            .map(|f| (f.id.clone(), f.cases))
            .collect(),
        files: files.len(),
        bytes: files.values().map(Vec::len).sum(),
    })
}

fn readme(m: &Manifest) -> String {
    let mut s = format!(
        "# diffusion-lowdim golden suite\n\n\
         Exported by diffusion-lowdim {} (schema version {}, seed {}). {} cases.\n\n\
         ## How to run a candidate\n\n\
         1. Read `manifest.json`. For each case, load its inputs (the paths in its `inputs`, e.g.\n   \
            `cases/<id>/x.npy`; float64, batch-first `(B, d)`), its model file (`models/<name>/model.json`, see docs/model-format.md\n   \
            of the crate) and its noise level `(alpha, beta)`, with `x_t = alpha x_0 + beta eps`.\n\
         2. Compute the case's `kind` with your code (`posterior_mean`, `score`, `jacobian`\n   \
            `(B, d, d)` with `J[b, i, j] = d x0hat_i / d x_j`, `convert` between prediction types,\n   \
            `schedule` tables, `flow` maps with your sampler at the case's `params` (schedule, grid,\n   \
            solver, steps), one `sampler_step`) and save it with\n   \
            `numpy.save(outputs / case[\"output\"], y)` in float64 (or float32 for the f32 tier).\n\
         3. Run\n\n\
         ```sh\n\
         diffusion-lowdim golden validate --golden <this directory> --outputs <outputs> --tier f64 --report report.json\n\
         ```\n\n\
         Exit status 0: every case passed; 1: some case failed or is missing (listed by name); 2: unusable input.\n\n\
         ## Pass criterion\n\n\
         Point `b` (first axis) passes iff `||output[b] - expected[b]||_2 <= tol[b] * scale[b]`, with\n\
         `scale = cases/<id>/scale.npy` and `tol = cases/<id>/tol_f64.npy` (or `tol_f32.npy`). Expected values\n\
         are double-double oracles rounded to float64; tolerances are `8 eps_T kappa` with `kappa` the\n\
         problem's condition number, so a backward-stable implementation in the tier's precision passes.\n\
         Each case's `command` field shows the `diffusion-lowdim` command that computes it. Flow\n\
         cases add to the tolerance the reference's estimated error and twice the measured error of\n\
         the candidate discretization in `params` (a solver at least that accurate passes).\n\n\
         ## Measure a trained network (teacher-student)\n\n\
         The manifest's `measure` field names a reference MoLRG, a bank of noises `x_T`\n\
         (`measure/noises.npy`, VE, T = 80), training sets and the flow outputs of the reference and\n\
         of each training set's empirical distribution on the bank. Run your sampler from the rows of\n\
         the bank, save the samples (M, d) in the same order, then\n\n\
         ```sh\n\
         diffusion-lowdim measure --samples samples.npy --golden <this directory> --n 16 --report measure.json\n\
         ```\n\n\
         ## Cases\n\n\
         | family | cases |\n|---|---|\n",
        m.crate_version,
        m.schema_version,
        m.seed,
        m.cases.len()
    );
    for f in &m.families {
        s.push_str(&format!("| {} — {} | {} |\n", f.id, f.title, f.cases));
    }
    s.push('\n');
    for c in &m.cases {
        s.push_str(&format!(
            "- `{}` ({}, {}): {}\n",
            c.id, c.family, c.kind, c.description
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(crate_value: f64) -> NewCase {
        NewCase {
            id: "c".into(),
            family: "R01",
            kind: "convert",
            description: String::new(),
            params: serde_json::json!({}),
            model: None,
            level: None,
            inputs: vec![],
            expected: Array::from_vec(vec![1.0]),
            crate_value: Array::from_vec(vec![crate_value]),
            points: vec![PointTolerance {
                scale: 1.0,
                f64: 1e-12,
                f32: 1e-5,
            }],
            command: String::new(),
        }
    }

    #[test]
    fn export_refuses_a_crate_value_beyond_a_tenth_of_the_tolerance() {
        let mut b = SuiteBuilder::new(1);
        assert!(matches!(
            b.add_case(case(1.0 + 2e-13)),
            Err(InteropError::OracleDisagreement { .. })
        ));
        assert!(matches!(
            b.add_case(case(f64::NAN)),
            Err(InteropError::OracleDisagreement { .. })
        ));
        b.add_case(case(1.0 + 5e-14)).unwrap();
        // Duplicate ids are refused.
        assert!(matches!(
            b.add_case(case(1.0)),
            Err(InteropError::InvalidGolden { .. })
        ));
    }

    #[test]
    fn every_f64_tolerance_is_tight_enough_to_catch_a_1e_6_error() {
        let (m, files) = build(DEFAULT_SEED).unwrap();
        for c in &m.cases {
            assert!(
                c.tolerance.max_f64 < 1e-8,
                "{}: {}",
                c.id,
                c.tolerance.max_f64
            );
            assert!(files.contains_key(&c.expected), "{}", c.id);
        }
    }
}
