//! The golden suite: byte-identical export, validation exit codes, detection of
//! small perturbations, and a candidate that computes every case through the
//! command line (the same path as tests/golden_client.py, without Python).

use super::interop_support;

use std::collections::BTreeMap;
use std::path::Path;

use diffusion_lowdim::golden::{
    CaseStatus, DEFAULT_SEED, Tier, export, validate, validate::read_manifest,
};
use diffusion_lowdim::io::npy::{self, Array};
use interop_support::*;

/// Every file of a directory tree, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Copies every case's expected output to `<outputs>/<id>.npy`.
fn perfect_outputs(golden: &Path, outputs: &Path) {
    std::fs::create_dir_all(outputs).unwrap();
    for c in read_manifest(golden).unwrap().cases {
        std::fs::copy(golden.join(&c.expected), outputs.join(&c.output)).unwrap();
    }
}

#[test]
fn golden_export_is_byte_identical_across_runs_and_thread_counts() {
    let dir = tmp();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let o = bin()
        .args(["golden", "export", "--out", s(&a)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bin()
        .env("RAYON_NUM_THREADS", "1")
        .args(["golden", "export", "--out", s(&b)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (ta, tb) = (tree(&a), tree(&b));
    assert!(ta.len() > 100, "{} files", ta.len());
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(v == &tb[k], "{k} differs between runs / thread counts");
    }
    // In-process with a 2-thread pool: the same bytes again.
    let c = dir.path().join("c");
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| export(&c, false))
        .unwrap();
    assert!(tree(&c) == ta, "in-process export differs");
    let m = read_manifest(&a).unwrap();
    assert_eq!(m.seed, DEFAULT_SEED);
    assert_eq!(m.crate_version, env!("CARGO_PKG_VERSION"));
    for fam in [
        "R01",
        "R02",
        "R03",
        "R04",
        "R14",
        "R10",
        "R10-steps",
        "measure",
        "schedules",
    ] {
        assert!(
            m.cases.iter().filter(|c| c.family == fam).count() >= 4,
            "family {fam} has fewer than 4 cases"
        );
    }
}

#[test]
fn validate_catches_a_relative_perturbation_of_1e_6_in_any_single_f64_case() {
    let dir = tmp();
    let golden = dir.path().join("golden");
    export(&golden, false).unwrap();
    let outputs = dir.path().join("out");
    perfect_outputs(&golden, &outputs);
    let clean = validate(&golden, &outputs, Tier::F64).unwrap();
    assert!(clean.passed, "{}", clean.table());
    let manifest = read_manifest(&golden).unwrap();
    for c in &manifest.cases {
        let path = outputs.join(&c.output);
        let original = std::fs::read(&path).unwrap();
        let e = npy::read(&path).unwrap();
        // (a) the single largest entry, and (b) the whole case, scaled by 1 + 1e-6.
        let k = (0..e.data().len())
            .max_by(|&i, &j| e.data()[i].abs().total_cmp(&e.data()[j].abs()))
            .unwrap();
        let mut one = e.clone();
        one.data_mut()[k] *= 1.0 + 1e-6;
        let all = Array::new(
            e.shape().to_vec(),
            e.data().iter().map(|v| v * (1.0 + 1e-6)).collect(),
        )
        .unwrap();
        for (what, a) in [("largest entry", one), ("whole case", all)] {
            std::fs::write(&path, npy::encode(&a)).unwrap();
            let r = validate(&golden, &outputs, Tier::F64).unwrap();
            assert!(
                !r.passed,
                "{}: {what} perturbed by 1e-6 was not caught",
                c.id
            );
            let failed: Vec<&str> = r
                .results
                .iter()
                .filter(|x| x.status != CaseStatus::Pass)
                .map(|x| x.id.as_str())
                .collect();
            assert_eq!(failed, vec![c.id.as_str()], "{what}");
        }
        std::fs::write(&path, original).unwrap();
    }
}

#[test]
fn float32_outputs_pass_the_f32_tier_and_not_the_f64_tier() {
    let dir = tmp();
    let golden = dir.path().join("golden");
    export(&golden, false).unwrap();
    let outputs = dir.path().join("out32");
    std::fs::create_dir_all(&outputs).unwrap();
    for c in read_manifest(&golden).unwrap().cases {
        let e = npy::read(&golden.join(&c.expected)).unwrap();
        let data: Vec<f32> = e.data().iter().map(|&v| v as f32).collect();
        let shape: Vec<u64> = e.shape().iter().map(|&n| n as u64).collect();
        write_f32(&outputs.join(&c.output), &shape, &data);
    }
    let r32 = validate(&golden, &outputs, Tier::F32).unwrap();
    assert!(r32.passed, "{}", r32.table());
    assert!(r32.results.iter().all(|r| r.stored.is_some()));
    let r64 = validate(&golden, &outputs, Tier::F64).unwrap();
    assert!(!r64.passed);
}

/// Runs a case's `command` field from the suite directory, writing into `outputs`.
fn run_case_command(golden: &Path, outputs: &Path, case: &diffusion_lowdim::golden::CaseEntry) {
    if case.kind == "schedule" {
        // `eval schedule` writes a directory; take the column the case names.
        let p = &case.params;
        let table = outputs.join(format!("{}-table", case.id));
        let mut args = vec![
            "eval".to_string(),
            "schedule".into(),
            "--schedule".into(),
            p["preset"].as_str().unwrap().into(),
            "--out-dir".into(),
            s(&table).into(),
        ];
        if let Some(n) = p.get("steps").and_then(|v| v.as_u64())
            && p["preset"] != "edm"
        {
            args.extend(["--steps".into(), n.to_string()]);
        }
        for key in ["sigma_min", "sigma_max", "rho"] {
            if let Some(v) = p.get(key).and_then(|v| v.as_f64()) {
                args.extend([format!("--{}", key.replace('_', "-")), v.to_string()]);
            }
        }
        // diffusers Euler: timestep_spacing and use_karras_sigmas.
        if let Some(v) = p.get("spacing").and_then(|v| v.as_str()) {
            args.extend(["--spacing".into(), v.into()]);
        }
        if p.get("karras").and_then(|v| v.as_bool()) == Some(true) {
            args.push("--karras".into());
        }
        let o = bin().args(&args).output().unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            case.id,
            String::from_utf8_lossy(&o.stderr)
        );
        let col = p["column"].as_str().unwrap();
        let a = npy::read(&table.join(format!("{col}.npy"))).unwrap();
        let n = case.shape[0];
        let cut = Array::from_vec(a.data()[..n].to_vec());
        std::fs::write(outputs.join(&case.output), npy::encode(&cut)).unwrap();
        return;
    }
    let words: Vec<String> = case
        .command
        .split_whitespace()
        .skip(1)
        .map(|w| {
            // Inputs and model files: any path of the suite (cases/, models/, measure/).
            if w.contains('/') && golden.join(w).exists() {
                s(&golden.join(w)).to_string()
            } else if w == case.output || (case.kind == "pfd" && w == format!("{}.json", case.id)) {
                // `eval pfd --method exact` also writes its JSON report: next to the output.
                s(&outputs.join(w)).to_string()
            } else {
                w.to_string()
            }
        })
        .collect();
    let o = bin().args(&words).output().unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        case.id,
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_candidate_computing_every_case_with_the_cli_passes_and_wrong_or_missing_outputs_fail() {
    let dir = tmp();
    let golden = dir.path().join("golden");
    let o = run(&["golden", "export", "--out", s(&golden)]);
    assert!(o.status.success());
    let outputs = dir.path().join("out");
    std::fs::create_dir_all(&outputs).unwrap();
    let manifest = read_manifest(&golden).unwrap();
    for c in &manifest.cases {
        run_case_command(&golden, &outputs, c);
    }
    let report = dir.path().join("report.json");
    let o = run(&[
        "golden",
        "validate",
        "--golden",
        s(&golden),
        "--outputs",
        s(&outputs),
        "--tier",
        "f64",
        "--report",
        s(&report),
    ]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{table}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["cases"], manifest.cases.len());
    assert!(table.contains(&format!("{0} of {0} cases passed", manifest.cases.len())));

    // A wrong output (the score where the mean is expected) and a missing one.
    let mean = &manifest
        .cases
        .iter()
        .find(|c| c.kind == "posterior_mean")
        .unwrap();
    let score = &manifest
        .cases
        .iter()
        .find(|c| c.kind == "score" && c.shape == mean.shape && c.model == mean.model)
        .unwrap();
    std::fs::copy(outputs.join(&score.output), outputs.join(&mean.output)).unwrap();
    let gone = &manifest.cases.last().unwrap();
    std::fs::remove_file(outputs.join(&gone.output)).unwrap();
    let o = run(&[
        "golden",
        "validate",
        "--golden",
        s(&golden),
        "--outputs",
        s(&outputs),
        "--report",
        s(&report),
    ]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{table}");
    assert!(
        table.contains(&format!("missing outputs: {}", gone.id)),
        "{table}"
    );
    assert!(table.contains("FAIL"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["missing"], serde_json::json!([gone.id]));
    let failed: Vec<&str> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec![mean.id.as_str()]);
}

#[test]
fn validate_on_unusable_input_exits_2_naming_the_file() {
    let dir = tmp();
    let golden = dir.path().join("golden");
    export(&golden, false).unwrap();
    let outputs = dir.path().join("out");
    perfect_outputs(&golden, &outputs);
    // Missing golden directory.
    let o = run(&[
        "golden",
        "validate",
        "--golden",
        s(&dir.path().join("nope")),
        "--outputs",
        s(&outputs),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest.json"));
    // Missing outputs directory.
    let o = run(&[
        "golden",
        "validate",
        "--golden",
        s(&golden),
        "--outputs",
        s(&dir.path().join("none")),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("none"));
    // A corrupt output file.
    let first = read_manifest(&golden).unwrap().cases[0].output.clone();
    std::fs::write(outputs.join(&first), b"\x93NUMPY garbage").unwrap();
    let o = run(&[
        "golden",
        "validate",
        "--golden",
        s(&golden),
        "--outputs",
        s(&outputs),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&first));
    // A manifest of another schema version.
    let mpath = golden.join("manifest.json");
    let text = std::fs::read_to_string(&mpath).unwrap();
    std::fs::write(
        &mpath,
        text.replacen("\"schema_version\": 1", "\"schema_version\": 99", 1),
    )
    .unwrap();
    let o = run(&[
        "golden",
        "validate",
        "--golden",
        s(&golden),
        "--outputs",
        s(&outputs),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("schema_version 99"));
}

#[test]
fn golden_export_refuses_an_existing_directory_and_replaces_it_with_force() {
    let dir = tmp();
    let out = dir.path().join("g");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"mine").unwrap();
    let o = run(&["golden", "export", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(entries(&out), vec!["keep.txt"]);
    assert_eq!(
        entries(dir.path()),
        vec!["g"],
        "no temporary directory left"
    );
    let o = run(&["golden", "export", "--out", s(&out), "--force"]);
    assert!(o.status.success());
    assert!(out.join("manifest.json").exists() && !out.join("keep.txt").exists());
    assert_eq!(entries(dir.path()), vec!["g"]);
}

/// `validate_suite` with a candidate function judges exactly as the file-based validation:
/// the same report for the same outputs, missing where the function
/// provides nothing, and its inputs are the suite's verified arrays.
#[test]
fn validate_suite_with_a_function_gives_the_file_verdicts() {
    use diffusion_lowdim::golden::{Provided, suite::Suite, validate_only, validate_suite};
    let dir = tmp();
    let golden = dir.path().join("golden");
    export(&golden, false).unwrap();
    let outputs = dir.path().join("out");
    perfect_outputs(&golden, &outputs);
    let manifest = read_manifest(&golden).unwrap();
    // Perturb one R03 case (1e-6 relative) and drop one R04 case, in the files.
    let bad = manifest.cases.iter().find(|c| c.family == "R03").unwrap();
    let gone = manifest.cases.iter().find(|c| c.family == "R04").unwrap();
    let e = npy::read(&outputs.join(&bad.output)).unwrap();
    let scaled = Array::new(
        e.shape().to_vec(),
        e.data().iter().map(|v| v * (1.0 + 1e-6)).collect(),
    )
    .unwrap();
    std::fs::write(outputs.join(&bad.output), npy::encode(&scaled)).unwrap();
    std::fs::remove_file(outputs.join(&gone.output)).unwrap();
    let files = validate_only(&golden, &outputs, Tier::F64, &[]).unwrap();

    let suite = Suite::open(&golden).unwrap();
    let mut asked = Vec::new();
    let mem = validate_suite(&suite, &outputs, Tier::F64, &[], |q| {
        asked.push(q.case().id.clone());
        if let Some(rel) = q.case().inputs.get("x") {
            // The verified input is the file's array.
            assert_eq!(q.input("x").unwrap(), npy::read(&golden.join(rel)).unwrap());
        }
        let p = outputs.join(&q.case().output);
        Ok(if p.exists() {
            Provided::Array(npy::read(&p).unwrap())
        } else {
            Provided::Missing(format!("no output file {}", p.display()))
        })
    })
    .unwrap();
    assert_eq!(asked.len(), manifest.cases.len());
    assert_eq!(mem, files);
    let not_pass: Vec<(&str, CaseStatus)> = mem
        .results
        .iter()
        .filter(|r| r.status != CaseStatus::Pass)
        .map(|r| (r.id.as_str(), r.status))
        .collect();
    assert_eq!(
        not_pass,
        vec![
            (bad.id.as_str(), CaseStatus::Fail),
            (gone.id.as_str(), CaseStatus::Missing)
        ]
    );
    // A wrong shape from a function is a shape mismatch, as a file's is.
    let only = vec![bad.id.clone()];
    let r = validate_suite(&suite, &outputs, Tier::F64, &only, |_| {
        Ok(Provided::Array(Array::new(vec![1, 1], vec![0.0]).unwrap()))
    })
    .unwrap();
    assert_eq!(r.results[0].status, CaseStatus::ShapeMismatch);
}
