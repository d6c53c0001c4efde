//! Every "bad input" of the interoperability layer: a clear message naming the
//! file and the problem, exit status 2, and no output file left behind.

mod interop_support;

use std::path::{Path, PathBuf};

use diffusion_lowdim::interop::fsio::write_dir_atomic;
use diffusion_lowdim::interop::model_file::ModelSpec;
use interop_support::*;
use npyz::Order;

/// A directory with a valid PCA model (`m/model.json`, basis (4, 2)) and x (3, 4).
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tmp();
    let basis = faer::mat![[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0]];
    write_dir_atomic(
        &dir.path().join("m"),
        &ModelSpec::Pca { basis }.files("", None),
        false,
    )
    .unwrap();
    let x = dir.path().join("x.npy");
    write_f64(&x, &[3, 4], &[0.5; 12]);
    let model = dir.path().join("m/model.json");
    (dir, model, x)
}

/// Runs `eval posterior-mean` and asserts exit 2, a message naming `file` and
/// containing every word of `problem`, and no output (nor temporary file) left.
#[track_caller]
fn unusable(model: &Path, x: &Path, file: &Path, problem: &[&str]) {
    let out_dir = tmp();
    let out = out_dir.path().join("out.npy");
    let o = run(&[
        "eval",
        "posterior-mean",
        "--model",
        s(model),
        "--x",
        s(x),
        "--alpha",
        "0.8",
        "--beta",
        "0.6",
        "--out",
        s(&out),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "exit status; stderr: {err}");
    let name = file.file_name().unwrap().to_str().unwrap();
    assert!(err.contains(name), "message does not name {name}: {err}");
    for w in problem {
        assert!(err.contains(w), "message lacks {w:?}: {err}");
    }
    assert!(entries(out_dir.path()).is_empty(), "output left behind");
}

fn manifest(dir: &Path, v: serde_json::Value) -> PathBuf {
    let p = dir.join("bad.json");
    write_json(&p, &v);
    p
}

#[test]
fn truncated_npy_is_refused_with_the_byte_counts() {
    let (dir, model, x) = setup();
    let bytes = std::fs::read(&x).unwrap();
    let t = dir.path().join("truncated.npy");
    std::fs::write(&t, &bytes[..bytes.len() - 5]).unwrap();
    unusable(&model, &t, &t, &["truncated", "96 data bytes", "91"]);
}

#[test]
fn corrupt_npy_is_refused() {
    let (dir, model, x) = setup();
    let garbage = dir.path().join("garbage.npy");
    std::fs::write(&garbage, b"PK\x03\x04 this is a zip, not a .npy file").unwrap();
    unusable(&model, &garbage, &garbage, &["not a valid .npy file"]);
    let mut bytes = std::fs::read(&x).unwrap();
    bytes.extend_from_slice(&[0u8; 3]);
    let trailing = dir.path().join("trailing.npy");
    std::fs::write(&trailing, &bytes).unwrap();
    unusable(
        &model,
        &trailing,
        &trailing,
        &["corrupt", "3 unexpected bytes"],
    );
    let empty = dir.path().join("empty.npy");
    std::fs::write(&empty, b"").unwrap();
    unusable(&model, &empty, &empty, &["not a valid .npy file"]);
}

#[test]
fn wrong_dtypes_are_refused_with_their_name() {
    let (dir, model, _) = setup();
    let ints = dir.path().join("ints.npy");
    write_typed::<i64>(&ints, "<i8", &[3, 4], &[1; 12], Order::C);
    unusable(
        &model,
        &ints,
        &ints,
        &["unsupported dtype", "<i8", "float64"],
    );
    let bytes = dir.path().join("bytes.npy");
    write_typed::<u8>(&bytes, "|u1", &[3, 4], &[1; 12], Order::C);
    unusable(&model, &bytes, &bytes, &["unsupported dtype"]);
    let bools = dir.path().join("bools.npy");
    write_typed::<bool>(&bools, "|b1", &[3, 4], &[true; 12], Order::C);
    unusable(&model, &bools, &bools, &["unsupported dtype"]);
}

#[test]
fn wrong_shapes_are_refused_with_the_expected_layout() {
    let (dir, model, _) = setup();
    let wide = dir.path().join("wide.npy");
    write_f64(&wide, &[3, 5], &[0.0; 15]);
    unusable(
        &model,
        &wide,
        &wide,
        &["axis 1 has length 5, expected 4", "dimension d"],
    );
    let flat = dir.path().join("flat.npy");
    write_f64(&flat, &[4], &[0.0; 4]);
    unusable(&model, &flat, &flat, &["2-dimensional", "(B, d)", "[4]"]);
    let cube = dir.path().join("cube.npy");
    write_f64(&cube, &[1, 2, 4], &[0.0; 8]);
    unusable(&model, &cube, &cube, &["2-dimensional"]);
    let none = dir.path().join("none.npy");
    write_f64(&none, &[0, 4], &[]);
    unusable(&model, &none, &none, &["empty"]);
    // A basis with the wrong number of rows for the mean.
    write_f64(&dir.path().join("mean.npy"), &[4], &[0.0; 4]);
    write_f64(
        &dir.path().join("u5.npy"),
        &[5, 1],
        &[1.0, 0.0, 0.0, 0.0, 0.0],
    );
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "gaussian", "mean": "mean.npy", "basis": "u5.npy"}),
    );
    unusable(
        &m,
        &dir.path().join("x.npy"),
        &dir.path().join("u5.npy"),
        &["axis 0 has length 5, expected 4"],
    );
}

#[test]
fn nan_and_inf_are_refused_with_their_index() {
    let (dir, model, _) = setup();
    let mut v = vec![0.5; 12];
    v[6] = f64::NAN;
    let nan = dir.path().join("nan.npy");
    write_f64(&nan, &[3, 4], &v);
    unusable(&model, &nan, &nan, &["non-finite", "NaN", "[1, 2]"]);
    v[6] = f64::NEG_INFINITY;
    let inf = dir.path().join("inf.npy");
    write_f64(&inf, &[3, 4], &v);
    unusable(&model, &inf, &inf, &["non-finite", "-inf"]);
    // In a model array.
    let mut b = vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    b[7] = f64::INFINITY;
    write_f64(&dir.path().join("m/basis.npy"), &[4, 2], &b);
    unusable(
        &model,
        &dir.path().join("x.npy"),
        &dir.path().join("m/basis.npy"),
        &["non-finite", "[3, 1]"],
    );
}

#[test]
fn unknown_kind_schema_and_format_are_refused() {
    let (dir, _, x) = setup();
    let base = |k: &str, v: u64, f: &str| serde_json::json!({"format": f, "schema_version": v, "kind": k, "basis": [[1.0], [0.0], [0.0], [0.0]]});
    let m = manifest(
        dir.path(),
        base("diffusion-transformer", 1, "diffusion-lowdim/model"),
    );
    unusable(
        &m,
        &x,
        &m,
        &["unknown model kind", "diffusion-transformer", "k-subspaces"],
    );
    let m = manifest(dir.path(), base("pca", 7, "diffusion-lowdim/model"));
    unusable(&m, &x, &m, &["unsupported schema_version 7", "version 1"]);
    let m = manifest(dir.path(), base("pca", 1, "something-else"));
    unusable(
        &m,
        &x,
        &m,
        &["not a diffusion-lowdim/model file", "something-else"],
    );
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1, "kind": "pca",
            "basis": [[1.0], [0.0], [0.0], [0.0]], "varainces": [1.0]}),
    );
    unusable(&m, &x, &m, &["unknown field", "varainces"]);
    let notjson = dir.path().join("notjson.json");
    std::fs::write(&notjson, b"{ kind: pca").unwrap();
    unusable(&notjson, &x, &notjson, &["invalid JSON"]);
    let missing = dir.path().join("absent.json");
    unusable(&missing, &x, &missing, &["cannot read"]);
}

#[test]
fn missing_arrays_are_refused_naming_field_and_file() {
    let (dir, _, x) = setup();
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "k-subspaces", "bases": ["m/basis.npy", "nowhere/u1.npy"]}),
    );
    unusable(
        &m,
        &x,
        &dir.path().join("nowhere/u1.npy"),
        &["bases[1]", "cannot be read"],
    );
    // A required field that is absent.
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "gaussian", "basis": "m/basis.npy"}),
    );
    unusable(&m, &x, &m, &["missing field", "mean"]);
    // Both or neither of basis / covariance.
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "gaussian", "mean": [0.0, 0.0, 0.0, 0.0]}),
    );
    unusable(&m, &x, &m, &["exactly one of"]);
}

#[test]
fn non_orthonormal_bases_and_invalid_models_name_the_array_file() {
    let (dir, model, x) = setup();
    write_f64(
        &dir.path().join("m/basis.npy"),
        &[4, 2],
        &[1.0, 0.1, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    );
    unusable(
        &model,
        &x,
        &dir.path().join("m/basis.npy"),
        &["orthonormal", "orthonormalize"],
    );
    // A float32 basis is orthonormal only to ~1e-7: refused with the same advice.
    let c = 0.6f32;
    write_f32(&dir.path().join("u32.npy"), &[4, 1], &[c, 0.8, 0.0, 0.0]);
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "pca", "basis": "u32.npy"}),
    );
    unusable(&m, &x, &dir.path().join("u32.npy"), &["orthonormal"]);
    // Weights that do not sum to one: named in the manifest.
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1, "kind": "molrg",
            "weights": [0.5, 0.6], "components": [{"basis": "m/basis.npy"}, {"basis": "m/basis.npy"}]}),
    );
    write_f64(
        &dir.path().join("m/basis.npy"),
        &[4, 2],
        &[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
    );
    unusable(&m, &x, &m, &["sum to 1"]);
    // A covariance that is not symmetric: named file.
    write_f64(&dir.path().join("cov.npy"), &[2, 2], &[1.0, 0.5, 0.0, 1.0]);
    let m = manifest(
        dir.path(),
        serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "gaussian", "mean": [0.0, 0.0], "covariance": "cov.npy"}),
    );
    write_f64(&dir.path().join("x2.npy"), &[1, 2], &[0.0, 0.0]);
    unusable(
        &m,
        &dir.path().join("x2.npy"),
        &dir.path().join("cov.npy"),
        &["not symmetric"],
    );
}

#[test]
fn unwritable_output_fails_cleanly() {
    let (dir, model, x) = setup();
    let out = dir.path().join("no-such-dir").join("out.npy");
    let o = run(&[
        "eval",
        "score",
        "--model",
        s(&model),
        "--x",
        s(&x),
        "--alpha",
        "1",
        "--beta",
        "1",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no-such-dir"));
    assert!(!out.exists());
}

#[test]
fn schedule_table_errors_leave_no_directory() {
    let dir = tmp();
    let out = dir.path().join("table");
    let o = run(&[
        "eval",
        "schedule",
        "--schedule",
        "edm",
        "--precision",
        "f32",
        "--out-dir",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("float64"));
    assert!(entries(dir.path()).is_empty());
    let o = run(&[
        "eval",
        "schedule",
        "--schedule",
        "nope",
        "--out-dir",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("diffusers-linear"));
    assert!(entries(dir.path()).is_empty());
}
