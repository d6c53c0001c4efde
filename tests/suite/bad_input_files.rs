//! Every "bad input" of the interoperability layer: a clear message naming the
//! file and the problem, exit status 2, and no output file left behind.

use super::interop_support;

use std::path::{Path, PathBuf};

use diffusion_lowdim::io::fsio::write_dir_atomic;
use diffusion_lowdim::io::model_file::ModelSpec;
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

// ------------------------------------------------------------------ hostile inputs
//
// Every subcommand that reads files, fed FIFOs, devices, directories, files out of
// their folder, truncated or oversized .npy files, NaN, a tampered golden suite, and
// an output path equal to an input: exit 2, a message naming the file or flag, no
// output and no temporary file left behind. Each reproducer of issue 12 in the files,
// golden suite and command-line layer is one of these cases.

/// A directory with everything the file-reading subcommands need.
struct Fixture {
    dir: tempfile::TempDir,
    /// The golden suite (exported once per fixture).
    golden: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let (dir, _, _) = setup();
        let p = |n: &str| dir.path().join(n);
        write_f64(&p("value.npy"), &[3, 4], &[0.25; 12]);
        write_f64(
            &p("noises.npy"),
            &[5, 4],
            &(0..20).map(f64::from).collect::<Vec<_>>(),
        );
        write_f64(
            &p("w.npy"),
            &[2, 4],
            &[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        );
        // Features of the golden suite's dimension (24), for measure.
        write_f64(
            &p("w24.npy"),
            &[2, 24],
            &(0..48).map(|i| f64::from(i % 5)).collect::<Vec<_>>(),
        );
        // Bad files.
        let ok = std::fs::read(p("x.npy")).unwrap();
        std::fs::write(p("truncated.npy"), &ok[..ok.len() - 3]).unwrap();
        write_f64(
            &p("nan.npy"),
            &[3, 4],
            &[
                0.5,
                f64::NAN,
                0.5,
                0.5,
                0.5,
                0.5,
                0.5,
                0.5,
                0.5,
                0.5,
                0.5,
                0.5,
            ],
        );
        // A header declaring 2^40 x 2^40 float64 with 8 bytes of data.
        let header =
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }";
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut huge = b"\x93NUMPY\x01\x00".to_vec();
        huge.extend_from_slice(&(h.len() as u16).to_le_bytes());
        huge.extend_from_slice(h.as_bytes());
        huge.extend_from_slice(&[0u8; 8]);
        std::fs::write(p("huge.npy"), huge).unwrap();
        std::fs::create_dir(p("adir.npy")).unwrap();
        let st = std::process::Command::new("mkfifo")
            .arg(p("fifo.npy"))
            .status()
            .unwrap();
        assert!(st.success());
        let golden = p("golden");
        let o = run(&["golden", "export", "--out", s(&golden)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Self { dir, golden }
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A copy of the golden suite to tamper with.
    fn golden_copy(&self, name: &str) -> PathBuf {
        let to = self.p(name);
        let st = std::process::Command::new("cp")
            .arg("-r")
            .arg(&self.golden)
            .arg(&to)
            .status()
            .unwrap();
        assert!(st.success());
        to
    }
}

/// The names of the entries of `dir` that are temporaries of this tool.
fn temporaries(dir: &Path) -> Vec<String> {
    entries(dir)
        .into_iter()
        .filter(|n| n.starts_with(".diffusion-lowdim-"))
        .collect()
}

/// Runs `args` (with `{out}` replaced by a fresh output path) and asserts exit 2, a
/// message containing every word of `must`, no output and no temporary left.
#[track_caller]
fn hostile(args: &[&str], must: &[&str]) -> String {
    let out_dir = tmp();
    let out = out_dir.path().join("out.npy");
    let args: Vec<String> = args.iter().map(|a| a.replace("{out}", s(&out))).collect();
    let o = bin().args(&args).output().expect("the binary runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: exit status; stderr: {err}"
    );
    for w in must {
        assert!(err.contains(w), "{args:?}: message lacks {w:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        entries(out_dir.path()).is_empty(),
        "{args:?}: output left behind"
    );
    err
}

/// The command lines of every file-reading subcommand, with `{X}` standing for the
/// file under test in the slot named by the first element.
fn commands(f: &Fixture) -> Vec<(&'static str, Vec<String>)> {
    let m = s(&f.p("m/model.json")).to_string();
    let x = s(&f.p("x.npy")).to_string();
    let v = s(&f.p("value.npy")).to_string();
    let n = s(&f.p("noises.npy")).to_string();
    let w = s(&f.p("w.npy")).to_string();
    let g = s(&f.golden).to_string();
    let level = ["--alpha", "0.8", "--beta", "0.6"];
    let mut out = Vec::new();
    for q in ["posterior-mean", "score", "jacobian"] {
        for slot in ["--model", "--x"] {
            let mut a = vec![
                "eval".to_string(),
                q.into(),
                "--model".into(),
                m.clone(),
                "--x".into(),
                x.clone(),
            ];
            a.extend(level.iter().map(|s| s.to_string()));
            a.extend(["--out".into(), "{out}".into()]);
            out.push((slot, a));
        }
    }
    for slot in ["--x", "--value"] {
        let mut a: Vec<String> = [
            "eval", "convert", "--from", "eps", "--to", "x0", "--x", &x, "--value", &v,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(level.iter().map(|s| s.to_string()));
        a.extend(["--out".into(), "{out}".into()]);
        out.push((slot, a));
    }
    for slot in ["--model", "--x"] {
        let a = [
            "eval", "flow", "--model", &m, "--x", &x, "--solver", "euler", "--steps", "3", "--out",
            "{out}",
        ];
        out.push((slot, a.iter().map(|s| s.to_string()).collect()));
    }
    for slot in ["--model", "--model2", "--noises", "--features"] {
        let a = [
            "eval",
            "pfd",
            "--model",
            &m,
            "--model2",
            &m,
            "--noises",
            &n,
            "--features",
            &w,
            "--solver",
            "euler",
            "--steps",
            "3",
            "--out-json",
            "{out}",
        ];
        out.push((slot, a.iter().map(|s| s.to_string()).collect()));
    }
    let samples = s(&f.golden.join("measure/noises.npy")).to_string();
    let w24 = s(&f.p("w24.npy")).to_string();
    for slot in ["--samples", "--train", "--features"] {
        let a = [
            "measure",
            "--samples",
            &samples,
            "--golden",
            &g,
            "--train",
            &samples,
            "--features",
            &w24,
            "--report",
            "{out}",
        ];
        out.push((slot, a.iter().map(|s| s.to_string()).collect()));
    }
    out
}

/// `args` with the value of `slot` replaced by `file`.
fn with(args: &[String], slot: &str, file: &str) -> Vec<String> {
    let mut a = args.to_vec();
    let i = a.iter().position(|x| x == slot).unwrap();
    a[i + 1] = file.to_string();
    a
}

#[test]
fn every_file_reading_subcommand_refuses_special_truncated_huge_and_nan_files() {
    let f = Fixture::new();
    let bad = [
        (f.p("fifo.npy"), vec!["fifo.npy", "FIFO"]),
        (
            PathBuf::from("/dev/zero"),
            vec!["/dev/zero", "not a regular file"],
        ),
        (f.p("adir.npy"), vec!["adir.npy", "directory"]),
        (f.p("truncated.npy"), vec!["truncated.npy", "truncated"]),
        (f.p("huge.npy"), vec!["huge.npy", "1099511627776"]),
        (f.p("nan.npy"), vec!["nan.npy", "NaN"]),
    ];
    let mut runs = 0;
    for (slot, args) in commands(&f) {
        for (file, must) in &bad {
            let a = with(&args, slot, s(file));
            if slot.starts_with("--model") {
                // A model manifest that is a special file; its array as one below.
                if must[0].ends_with(".npy") && !matches!(must[0], "fifo.npy" | "adir.npy") {
                    continue;
                }
            }
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            hostile(&refs, must);
            runs += 1;
        }
    }
    assert!(runs > 80, "{runs} runs");
}

#[test]
fn model_array_paths_must_stay_inside_the_manifest_folder() {
    let f = Fixture::new();
    let d = f.p("confined");
    std::fs::create_dir(&d).unwrap();
    std::fs::copy(f.p("m/basis.npy"), f.p("outside.npy")).unwrap();
    std::os::unix::fs::symlink(f.p("outside.npy"), d.join("link.npy")).unwrap();
    let manifest = |name: &str, basis: &str| {
        let p = d.join(name);
        write_json(
            &p,
            &serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
                "kind": "pca", "basis": basis}),
        );
        p
    };
    let absolute = s(&f.p("m/basis.npy")).to_string();
    for (name, basis, must) in [
        ("abs.json", absolute.as_str(), "absolute"),
        ("dots.json", "../outside.npy", "outside the folder"),
        ("link.json", "link.npy", "outside the folder"),
    ] {
        let m = manifest(name, basis);
        for q in ["posterior-mean", "score", "jacobian"] {
            hostile(
                &[
                    "eval",
                    q,
                    "--model",
                    s(&m),
                    "--x",
                    s(&f.p("x.npy")),
                    "--sigma",
                    "1",
                    "--out",
                    "{out}",
                ],
                &[name, "basis", must],
            );
        }
        hostile(
            &[
                "eval",
                "flow",
                "--model",
                s(&m),
                "--x",
                s(&f.p("x.npy")),
                "--solver",
                "heun",
                "--steps",
                "2",
                "--out",
                "{out}",
            ],
            &[name, must],
        );
        hostile(
            &[
                "eval",
                "pfd",
                "--model",
                s(&f.p("m/model.json")),
                "--model2",
                s(&m),
                "--solver",
                "heun",
                "--steps",
                "2",
                "--samples",
                "4",
                "--out-json",
                "{out}",
            ],
            &[name, must],
        );
    }
    // Inside the folder, through a subfolder and back: accepted.
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::copy(f.p("m/basis.npy"), d.join("basis.npy")).unwrap();
    let m = manifest("fine.json", "sub/../basis.npy");
    let out = f.p("fine.npy");
    let o = run(&[
        "eval",
        "score",
        "--model",
        s(&m),
        "--x",
        s(&f.p("x.npy")),
        "--sigma",
        "1",
        "--out",
        s(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn an_output_equal_to_an_input_is_refused_and_the_input_kept() {
    let f = Fixture::new();
    let x = f.p("x.npy");
    let before = std::fs::read(&x).unwrap();
    let m = f.p("m/model.json");
    let basis = f.p("m/basis.npy");
    let link = f.p("x-link.npy");
    std::os::unix::fs::symlink(&x, &link).unwrap();
    let level = ["--alpha", "0.8", "--beta", "0.6"];
    for (out, must) in [
        (x.clone(), "--x"),
        (link.clone(), "--x"),
        (m.clone(), "--model"),
        (basis.clone(), "an array of --model"),
        (f.p("m/../x.npy"), "--x"),
    ] {
        let mut a = vec!["eval", "posterior-mean", "--model", s(&m), "--x", s(&x)];
        a.extend(level);
        a.extend(["--out", s(&out)]);
        let o = run(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains("same file as the input") && err.contains(must),
            "{err}"
        );
    }
    let value = f.p("value.npy");
    let mut a = vec![
        "eval",
        "convert",
        "--from",
        "eps",
        "--to",
        "x0",
        "--x",
        s(&x),
        "--value",
        s(&value),
    ];
    a.extend(level);
    a.extend(["--out", s(&value)]);
    assert_eq!(run(&a).status.code(), Some(2));
    let o = run(&[
        "eval",
        "flow",
        "--model",
        s(&m),
        "--x",
        s(&x),
        "--solver",
        "euler",
        "--steps",
        "2",
        "--out",
        s(&x),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let noises = f.p("noises.npy");
    let o = run(&[
        "eval",
        "pfd",
        "--model",
        s(&m),
        "--model2",
        s(&m),
        "--noises",
        s(&noises),
        "--solver",
        "euler",
        "--steps",
        "2",
        "--out-json",
        s(&noises),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let samples = f.golden.join("measure/noises.npy");
    let o = run(&[
        "measure",
        "--samples",
        s(&samples),
        "--golden",
        s(&f.golden),
        "--report",
        s(&samples),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let outputs = f.p("outputs");
    std::fs::create_dir(&outputs).unwrap();
    let o = run(&[
        "golden",
        "validate",
        "--golden",
        s(&f.golden),
        "--outputs",
        s(&outputs),
        "--report",
        s(&f.golden.join("manifest.json")),
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(&x).unwrap(), before, "the input is untouched");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(temporaries(f.dir.path()).is_empty());
}

/// Rewrites a golden file and records its new digest in the manifest (a consistent
/// edit that only the value checks can catch).
fn rewrite_with_digest(golden: &Path, rel: &str, bytes: &[u8]) {
    std::fs::write(golden.join(rel), bytes).unwrap();
    let mpath = golden.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["sha256"][rel] = diffusion_lowdim::golden::suite::sha256_hex(bytes).into();
    write_json(&mpath, &m);
}

/// Copies the expected outputs into `outputs`, then adds `delta` to every entry of `id`'s.
fn outputs_plus(golden: &Path, outputs: &Path, id: &str, delta: f64) {
    std::fs::create_dir_all(outputs).unwrap();
    let m = diffusion_lowdim::golden::validate::read_manifest(golden).unwrap();
    for c in &m.cases {
        let mut a = diffusion_lowdim::io::npy::read(&golden.join(&c.expected)).unwrap();
        if c.id == id {
            a.data_mut().iter_mut().for_each(|v| *v += delta);
        }
        std::fs::write(
            outputs.join(&c.output),
            diffusion_lowdim::io::npy::encode(&a),
        )
        .unwrap();
    }
}

#[test]
fn a_tampered_golden_suite_never_passes_a_wrong_candidate() {
    let f = Fixture::new();
    let first = diffusion_lowdim::golden::validate::read_manifest(&f.golden)
        .unwrap()
        .cases[0]
        .clone();
    let validate = |g: &Path, outputs: &Path| {
        run(&[
            "golden",
            "validate",
            "--golden",
            s(g),
            "--outputs",
            s(outputs),
        ])
    };
    let outputs = f.p("outputs");
    outputs_plus(&f.golden, &outputs, &first.id, 1.0);
    assert_eq!(
        validate(&f.golden, &outputs).status.code(),
        Some(1),
        "a wrong output fails"
    );

    // (1) A negative tolerance or scale with a consistent digest (ratio -1.57 used to pass).
    for (file, what) in [("tol_f64.npy", "tol_f64"), ("scale.npy", "scale")] {
        let g = f.golden_copy(&format!("neg-{what}"));
        let rel = format!("cases/{}/{file}", first.id);
        let mut a = diffusion_lowdim::io::npy::read(&g.join(&rel)).unwrap();
        a.data_mut().iter_mut().for_each(|v| *v = -*v);
        rewrite_with_digest(&g, &rel, &diffusion_lowdim::io::npy::encode(&a));
        let o = validate(&g, &outputs);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(file) && err.contains("finite and > 0") && err.contains(&first.id),
            "{err}"
        );
    }
    // (2) An expected output altered without its digest: the file is named.
    let g = f.golden_copy("altered");
    let rel = first.expected.clone();
    let mut a = diffusion_lowdim::io::npy::read(&g.join(&rel)).unwrap();
    a.data_mut().iter_mut().for_each(|v| *v += 1.0);
    std::fs::write(g.join(&rel), diffusion_lowdim::io::npy::encode(&a)).unwrap();
    let o = validate(&g, &outputs);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("expected.npy") && err.contains("altered"),
        "{err}"
    );
    // Also for measure, which reads the same suite.
    let samples = g.join("measure/noises.npy");
    hostile(
        &["measure", "--samples", s(&samples), "--golden", s(&g)],
        &["expected.npy", "altered"],
    );
    // (3) `expected` pointed at the candidate's own output, or outside the suite.
    for (k, expected) in [
        format!("../outputs/{}.npy", first.id),
        s(&outputs.join(&first.output)).to_string(),
        format!("cases/{}/tol_f32.npy", first.id),
    ]
    .iter()
    .enumerate()
    {
        let g = f.golden_copy(&format!("pointed-{k}"));
        let mpath = g.join("manifest.json");
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
        m["cases"][0]["expected"] = expected.clone().into();
        write_json(&mpath, &m);
        let o = validate(&g, &outputs);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{expected}: {err}");
        assert!(
            err.contains("manifest.json") && err.contains(&first.id),
            "{err}"
        );
    }
    // (4) The case folder a symbolic link to the outputs, with the candidate's output
    // copied as expected.npy and the digests recomputed: outside the suite.
    let g = f.golden_copy("linked");
    let case_dir = g.join("cases").join(&first.id);
    let fake = f.p("fake-case");
    std::fs::create_dir(&fake).unwrap();
    for e in std::fs::read_dir(&case_dir).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), fake.join(e.file_name())).unwrap();
    }
    std::fs::copy(outputs.join(&first.output), fake.join("expected.npy")).unwrap();
    std::fs::remove_dir_all(&case_dir).unwrap();
    std::os::unix::fs::symlink(&fake, &case_dir).unwrap();
    rewrite_with_digest(&g, &rel, &std::fs::read(fake.join("expected.npy")).unwrap());
    let o = validate(&g, &outputs);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("outside the folder"), "{err}");
    // (5) The outputs folder is the suite itself (expected files are "outputs").
    let g = f.golden_copy("self");
    outputs_plus(&g, &g, "none", 0.0);
    let o = validate(&g, &g);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // (6) A suite without digests (exported before them): refused, naming the fix.
    let g = f.golden_copy("old");
    let mpath = g.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("sha256");
    write_json(&mpath, &m);
    let o = validate(&g, &outputs);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("export it again"), "{err}");
}

#[test]
fn measure_refuses_a_reference_flow_of_the_wrong_shape() {
    let f = Fixture::new();
    let g = f.golden_copy("short-flow");
    let m = diffusion_lowdim::golden::validate::read_manifest(&g).unwrap();
    let ms = m.measure.unwrap();
    let a = diffusion_lowdim::io::npy::read(&g.join(&ms.reference_flow)).unwrap();
    let (rows, d) = (a.shape()[0], a.shape()[1]);
    let cut = diffusion_lowdim::io::npy::Array::new(
        vec![rows - 1, d],
        a.data()[..(rows - 1) * d].to_vec(),
    )
    .unwrap();
    rewrite_with_digest(
        &g,
        &ms.reference_flow,
        &diffusion_lowdim::io::npy::encode(&cut),
    );
    let samples = g.join(&ms.noises);
    let name = Path::new(&ms.reference_flow)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    hostile(
        &["measure", "--samples", s(&samples), "--golden", s(&g)],
        &[
            &name,
            &format!("[{}, {d}]", rows - 1),
            &format!("expected {rows}"),
        ],
    );
}

#[test]
fn sizes_are_checked_against_the_memory_budget_before_allocating() {
    let f = Fixture::new();
    let m = s(&f.p("m/model.json")).to_string();
    let x = s(&f.p("x.npy")).to_string();
    let max = usize::MAX.to_string();
    let flow = |steps: &str| -> Vec<String> {
        [
            "eval", "flow", "--model", &m, "--x", &x, "--solver", "euler", "--steps", steps,
            "--out", "{out}",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            flow(&max),
            vec![
                "--steps 18446744073709551615 needs",
                "the most that fits: --steps",
            ],
        ),
        (
            flow("1000000000"),
            vec![
                "--steps 1000000000 needs 22.4 GiB",
                "memory budget of 4.0 GiB",
            ],
        ),
        (
            [
                "eval",
                "score",
                "--model",
                &m,
                "--x",
                &x,
                "--schedule",
                "edm",
                "--t",
                "3",
                "--steps",
                &max,
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--steps 18446744073709551615"],
        ),
        (
            [
                "eval",
                "schedule",
                "--schedule",
                "k-diffusion-karras",
                "--steps",
                &max,
                "--out-dir",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--steps 18446744073709551615"],
        ),
        (
            [
                "eval",
                "pfd",
                "--model",
                &m,
                "--model2",
                &m,
                "--solver",
                "euler",
                "--steps",
                "3",
                "--samples",
                "1000000000000",
                "--out-json",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec![
                "--samples 1000000000000 (d = 4) needs",
                "the most that fits: --samples",
            ],
        ),
        (
            [
                "reproduce",
                "memorization",
                "--ratios",
                "1e300",
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--ratios 1e300", "the most that fits: a ratio of"],
        ),
        (
            [
                "reproduce",
                "memorization",
                "--dim",
                "1000000000",
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--dim 1000000000 needs"],
        ),
        (
            [
                "reproduce",
                "memorization",
                "--steps",
                &max,
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--steps 18446744073709551615"],
        ),
        (
            [
                "reproduce",
                "memorization",
                "--samples",
                &max,
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--samples 18446744073709551615"],
        ),
        (
            [
                "reproduce",
                "phase-transition",
                "--trials",
                &max,
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--trials 18446744073709551615"],
        ),
        (
            [
                "reproduce",
                "phase-transition",
                "--dim",
                &max,
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--dim 18446744073709551615", "the most that fits: --dim"],
        ),
        (
            [
                "reproduce",
                "phase-transition",
                "--r-max",
                &max,
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--r-max 18446744073709551615"],
        ),
        (
            [
                "reproduce",
                "phase-transition",
                "--n-max",
                &max,
                "--out",
                "{out}",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            vec!["--n-max 18446744073709551615"],
        ),
        (
            ["check", "--cases", &max, "--report", "{out}"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            vec!["--cases 18446744073709551615"],
        ),
    ];
    for (args, must) in &cases {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        hostile(&refs, must);
    }
    // A smaller budget from the environment is honoured.
    let o = bin()
        .env("DIFFUSION_LOWDIM_MEMORY_BUDGET", "1K")
        .args([
            "eval",
            "flow",
            "--model",
            &m,
            "--x",
            &x,
            "--solver",
            "euler",
            "--steps",
            "100",
            "--out",
            s(&f.p("o.npy")),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("memory budget of 1.0 KiB") && err.contains("--steps 40"),
        "{err}"
    );
}

#[test]
fn negative_numbers_are_values_rejected_by_their_domain() {
    let f = Fixture::new();
    let (m, x) = (f.p("m/model.json"), f.p("x.npy"));
    let err = hostile(
        &[
            "eval",
            "posterior-mean",
            "--model",
            s(&m),
            "--x",
            s(&x),
            "--alpha",
            "-1",
            "--beta",
            "0.5",
            "--out",
            "{out}",
        ],
        &["alpha = -1"],
    );
    assert!(!err.contains("unexpected argument"), "{err}");
    hostile(
        &[
            "eval",
            "score",
            "--model",
            s(&m),
            "--x",
            s(&x),
            "--sigma",
            "-2",
            "--out",
            "{out}",
        ],
        &["-2"],
    );
    hostile(
        &[
            "eval",
            "flow",
            "--model",
            s(&m),
            "--x",
            s(&x),
            "--solver",
            "euler",
            "--steps",
            "-3",
            "--out",
            "{out}",
        ],
        &["--steps", "-3"],
    );
    hostile(
        &[
            "reproduce",
            "memorization",
            "--ratios",
            "-1,2",
            "--out",
            "{out}",
        ],
        &["ratio", "-1"],
    );
    hostile(
        &[
            "measure",
            "--samples",
            s(&f.golden.join("measure/noises.npy")),
            "--golden",
            s(&f.golden),
            "--threshold",
            "-0.5",
            "--confidence",
            "-1",
        ],
        &["-1"],
    );
}

#[cfg(unix)]
#[test]
fn outputs_get_0666_minus_umask_and_keep_a_replaced_files_mode() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    let out = f.p("mean.npy");
    let args = |out: &Path| {
        vec![
            "eval".to_string(),
            "posterior-mean".into(),
            "--model".into(),
            s(&f.p("m/model.json")).into(),
            "--x".into(),
            s(&f.p("x.npy")).into(),
            "--sigma".into(),
            "1".into(),
            "--out".into(),
            s(out).into(),
        ]
    };
    // umask 022 in the child (through sh), so the expected mode is exactly 0644.
    let sh = |a: Vec<String>| {
        let cmd = "umask 022; exec \"$0\" \"$@\"";
        std::process::Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .arg(env!("CARGO_BIN_EXE_diffusion-lowdim"))
            .args(a)
            .output()
            .unwrap()
    };
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert!(sh(args(&out)).status.success());
    assert_eq!(mode(&out), 0o644);
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(sh(args(&out)).status.success());
    assert_eq!(mode(&out), 0o600, "a replaced file keeps its mode");
    let outputs = f.p("outputs");
    outputs_plus(&f.golden, &outputs, "none", 0.0);
    let report = f.p("report.json");
    let o = sh([
        "golden",
        "validate",
        "--golden",
        s(&f.golden),
        "--outputs",
        s(&outputs),
        "--report",
        s(&report),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mode(&report), 0o644);
    let sched = f.p("sched");
    assert!(
        sh([
            "eval",
            "schedule",
            "--schedule",
            "edm",
            "--out-dir",
            s(&sched)
        ]
        .iter()
        .map(|s| s.to_string())
        .collect())
        .status
        .success()
    );
    assert_eq!(mode(&sched), 0o755);
    assert_eq!(mode(&sched.join("t.npy")), 0o644);
}

#[cfg(unix)]
#[test]
fn sigterm_and_sigint_during_a_write_leave_no_temporary() {
    let f = Fixture::new();
    for (signal, dir_output) in [("-TERM", false), ("-INT", false), ("-TERM", true)] {
        let out_dir = tmp();
        let out = out_dir.path().join("out");
        let mut cmd = bin();
        cmd.env("DIFFUSION_LOWDIM_TEST_WRITE_DELAY_MS", "20000");
        if dir_output {
            cmd.args(["golden", "export", "--out", s(&out)]);
        } else {
            cmd.args([
                "eval",
                "posterior-mean",
                "--model",
                s(&f.p("m/model.json")),
                "--x",
                s(&f.p("x.npy")),
                "--sigma",
                "1",
                "--out",
                s(&out),
            ]);
        }
        let child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the temporary exists.
        let start = std::time::Instant::now();
        while temporaries(out_dir.path()).is_empty() {
            assert!(start.elapsed().as_secs() < 60, "no temporary appeared");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let st = std::process::Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let o = child.wait_with_output().unwrap();
        assert!(start.elapsed().as_secs() < 15, "the signal ended the write");
        assert_eq!(
            o.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            entries(out_dir.path()).is_empty(),
            "{signal}: {:?}",
            entries(out_dir.path())
        );
    }
}

#[test]
fn golden_validate_refuses_special_output_files_and_reads_no_data_of_a_wrong_shape() {
    let f = Fixture::new();
    let m = diffusion_lowdim::golden::validate::read_manifest(&f.golden).unwrap();
    let first = &m.cases[0];
    for (k, bad) in [
        "fifo.npy",
        "adir.npy",
        "/dev/zero",
        "truncated.npy",
        "nan.npy",
        "huge.npy",
    ]
    .iter()
    .enumerate()
    {
        let outputs = f.p(&format!("outputs-{k}"));
        outputs_plus(&f.golden, &outputs, "none", 0.0);
        let target = outputs.join(&first.output);
        std::fs::remove_file(&target).unwrap();
        let src = if bad.starts_with('/') {
            PathBuf::from(bad)
        } else {
            f.p(bad)
        };
        std::os::unix::fs::symlink(&src, &target).unwrap();
        let o = run(&[
            "golden",
            "validate",
            "--golden",
            s(&f.golden),
            "--outputs",
            s(&outputs),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        let table = String::from_utf8_lossy(&o.stdout);
        match *bad {
            // A file of another shape (the huge header, the truncated x of shape (3, 4)) or
            // with NaN is a failed case, not an error; its data is not read.
            "huge.npy" | "truncated.npy" | "nan.npy" if o.status.code() == Some(1) => {
                assert!(table.contains(&first.id), "{table}");
            }
            _ => {
                assert_eq!(o.status.code(), Some(2), "{bad}: {err}");
                assert!(err.contains(&first.output), "{bad}: {err}");
            }
        }
    }
}
