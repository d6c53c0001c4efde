//! The flow families of the golden suite and `measure`: flow and sampler-step cases
//! pass with the crate's own solvers run at the candidate discretization each case
//! states (and fail when perturbed by 1e-6); `measure` gives E_gen ≈ 0 for exact
//! samples and GL = 0 for memorized ones; bad input exits 2 naming the file.

use super::interop_support;

use std::path::Path;

use diffusion_lowdim::golden::validate::read_manifest;
use diffusion_lowdim::golden::{CaseStatus, Tier, export, validate_only};
use diffusion_lowdim::io::npy::{self, Array};
use interop_support::*;

/// `eval flow` arguments reproducing a flow case's candidate discretization.
fn candidate_args(p: &serde_json::Value) -> Vec<String> {
    let mut a = vec![
        "--schedule".to_string(),
        p["schedule"].as_str().unwrap().into(),
        "--solver".into(),
        p["solver"].as_str().unwrap().into(),
        "--steps".into(),
        p["steps"].to_string(),
    ];
    match p["grid"].as_str().unwrap() {
        "karras" => {
            for k in ["sigma_max", "sigma_min", "rho"] {
                a.push(format!("--{}", k.replace('_', "-")));
                a.push(p[k].to_string());
            }
        }
        grid => {
            a.extend([
                "--t-start".into(),
                p["t_start"].to_string(),
                "--t-end".into(),
                p["t_end"].to_string(),
            ]);
            if grid == "log-uniform" {
                a.push("--log-spacing".into());
            }
            if p["end"] == "clean" {
                a.push("--clean".into());
            }
        }
    }
    a
}

#[test]
fn flow_cases_pass_with_the_stated_candidate_solver_and_fail_when_perturbed_by_1e_6() {
    let dir = tmp();
    let golden = dir.path().join("golden");
    export(&golden, false).unwrap();
    let outputs = dir.path().join("out");
    std::fs::create_dir_all(&outputs).unwrap();
    let manifest = read_manifest(&golden).unwrap();
    let mut selected = Vec::new();
    for c in &manifest.cases {
        let extra = match c.kind.as_str() {
            "flow" => candidate_args(&c.params),
            // One step: --steps 1 from t to s (the case's command is exactly that).
            "sampler_step" => vec![
                "--schedule".into(),
                c.params["schedule"].as_str().unwrap().into(),
                "--solver".into(),
                c.params["solver"].as_str().unwrap().into(),
                "--steps".into(),
                "1".into(),
                "--t-start".into(),
                c.params["t"].to_string(),
                "--t-end".into(),
                c.params["s"].to_string(),
            ],
            _ => continue,
        };
        let model = golden.join(c.model.as_ref().unwrap());
        let x = golden.join(&c.inputs["x"]);
        let out = outputs.join(&c.output);
        let o = bin()
            .args([
                "eval",
                "flow",
                "--model",
                s(&model),
                "--x",
                s(&x),
                "--out",
                s(&out),
            ])
            .args(&extra)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            c.id,
            String::from_utf8_lossy(&o.stderr)
        );
        selected.push(c.clone());
    }
    assert!(
        selected.len() >= 20,
        "{} flow and step cases",
        selected.len()
    );
    let only = vec!["R10".to_string(), "measure".to_string()];
    let r = validate_only(&golden, &outputs, Tier::F64, &only).unwrap();
    assert!(r.passed, "{}", r.table());
    assert_eq!(r.cases, selected.len());
    // Every flow case's tolerance leaves room for its candidate, and is tight: the
    // candidate uses at most half of it, and a 1e-6 relative perturbation of the
    // largest entry of any case fails that case alone.
    for res in &r.results {
        assert!(
            res.ratio.unwrap() <= 0.5 + 1e-6,
            "{}: {:?}",
            res.id,
            res.ratio
        );
    }
    for c in &selected {
        let path = outputs.join(&c.output);
        let original = std::fs::read(&path).unwrap();
        let e = npy::read(&path).unwrap();
        let k = (0..e.data().len())
            .max_by(|&i, &j| e.data()[i].abs().total_cmp(&e.data()[j].abs()))
            .unwrap();
        let mut data = e.data().to_vec();
        data[k] *= 1.0 + 1e-6;
        std::fs::write(
            &path,
            npy::encode(&Array::new(e.shape().to_vec(), data).unwrap()),
        )
        .unwrap();
        let r = validate_only(&golden, &outputs, Tier::F64, &only).unwrap();
        let failed: Vec<&str> = r
            .results
            .iter()
            .filter(|x| x.status != CaseStatus::Pass)
            .map(|x| x.id.as_str())
            .collect();
        assert_eq!(failed, vec![c.id.as_str()]);
        std::fs::write(&path, original).unwrap();
    }
}

/// The golden suite with its measure reference, and the bank's path.
fn golden_with_bank() -> (tempfile::TempDir, std::path::PathBuf, serde_json::Value) {
    let dir = tmp();
    let golden = dir.path().join("golden");
    let o = run(&["golden", "export", "--out", s(&golden)]);
    assert!(o.status.success());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden.join("manifest.json")).unwrap()).unwrap();
    (dir, golden, m["measure"].clone())
}

fn measure(golden: &Path, samples: &Path, extra: &[&str], report: &Path) -> serde_json::Value {
    let o = bin()
        .args([
            "measure",
            "--samples",
            s(samples),
            "--golden",
            s(golden),
            "--report",
            s(report),
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    for metric in ["E_gen", "RP"] {
        assert!(table.contains(metric), "{table}");
    }
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

#[test]
fn measure_gives_e_gen_near_0_for_exact_samples_and_gl_0_for_memorized_ones() {
    let (dir, golden, m) = golden_with_bank();
    let bank = golden.join(m["noises"].as_str().unwrap());
    let report = dir.path().join("r.json");
    // Exact samples: the crate's own Dormand–Prince on the full system with the
    // reference MoLRG, from the bank.
    let exact = dir.path().join("exact.npy");
    let o = run(&[
        "eval",
        "flow",
        "--model",
        s(&golden.join(m["reference_model"].as_str().unwrap())),
        "--x",
        s(&bank),
        "--solver",
        "dopri5",
        "--rtol",
        "1e-11",
        "--atol",
        "1e-13",
        "--out",
        s(&exact),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = measure(&golden, &exact, &["--n", "16"], &report);
    let e_gen = &r["e_gen"];
    assert!(e_gen["estimate"].as_f64().unwrap() < 1e-8, "{e_gen}");
    assert!(e_gen["interval"][1].as_f64().unwrap() < 1e-8, "{e_gen}");
    assert_eq!(r["rp"]["successes"], 64);
    assert!(r["gl"]["estimate"].as_f64().unwrap() > 0.5, "{}", r["gl"]);
    assert!(r["e_mem"]["estimate"].as_f64().unwrap() > 1.0);
    assert_eq!(r["noises"], 64);
    // With a linear feature map: still 0 (h is applied to both sides).
    let w = dir.path().join("W.npy");
    let data: Vec<f64> = (0..5 * 24)
        .map(|i| ((i * 7 % 11) as f64 - 5.0) / 5.0)
        .collect();
    write_f64(&w, &[5, 24], &data);
    let rf = measure(&golden, &exact, &["--features", s(&w)], &report);
    assert!(rf["e_gen"]["estimate"].as_f64().unwrap() < 1e-7);
    assert_eq!(rf["features"]["kind"], "linear");
    assert_eq!(rf["features"]["shape"], serde_json::json!([5, 24]));
    assert!(rf["gl"].is_null() && rf["e_mem"].is_null());
    // Memorized samples: the empirical denoiser of the N = 16 training set, with EDM's
    // Heun on 18 levels (what a user's sampler would do).
    let t16 = m["training_sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["n"] == 16)
        .unwrap()
        .clone();
    let memorized = dir.path().join("mem.npy");
    let o = run(&[
        "eval",
        "flow",
        "--model",
        s(&golden.join(t16["model"].as_str().unwrap())),
        "--x",
        s(&bank),
        "--solver",
        "heun",
        "--steps",
        "18",
        "--out",
        s(&memorized),
    ]);
    assert!(o.status.success());
    let r = measure(&golden, &memorized, &["--n", "16"], &report);
    assert_eq!(r["gl"]["successes"], 0, "{}", r["gl"]);
    let hi = r["gl"]["interval"][1].as_f64().unwrap();
    assert!(
        (hi - (1.0 - 0.025f64.powf(1.0 / 64.0))).abs() < 1e-9,
        "Clopper-Pearson upper end {hi}"
    );
    assert!(r["e_gen"]["estimate"].as_f64().unwrap() > 1.0);
    // The same training set as a file: E_mem from the crate's own empirical flow.
    let rf = measure(
        &golden,
        &memorized,
        &["--train", s(&golden.join(t16["points"].as_str().unwrap()))],
        &report,
    );
    assert_eq!(rf["gl"], r["gl"]);
    assert_eq!(rf["training_set"]["source"], "file");
    let (a, b) = (
        rf["e_mem"]["estimate"].as_f64().unwrap(),
        r["e_mem"]["estimate"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-9 * (1.0 + b), "{a} vs {b}");
}

#[test]
fn measure_bad_input_exits_2_naming_the_file_and_writes_no_report() {
    let (dir, golden, m) = golden_with_bank();
    let outd = tmp();
    let report = outd.path().join("r.json");
    let bank = golden.join(m["noises"].as_str().unwrap());
    let (shape, data) = read(&bank);
    let check = |samples: &Path, extra: &[&str], file: &str, problem: &[&str]| {
        let o = bin()
            .args([
                "measure",
                "--samples",
                s(samples),
                "--golden",
                s(&golden),
                "--report",
                s(&report),
            ])
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(file), "message does not name {file}: {err}");
        for w in problem {
            assert!(err.contains(w), "message lacks {w:?}: {err}");
        }
        assert!(entries(outd.path()).is_empty(), "report left behind");
    };
    // One sample short of the bank.
    let short = dir.path().join("short.npy");
    write_f64(&short, &[63, 24], &data[..63 * 24]);
    check(
        &short,
        &[],
        "short.npy",
        &["axis 0 has length 63, expected 64", "noise bank"],
    );
    // Wrong width.
    let wide = dir.path().join("wide.npy");
    write_f64(&wide, &[64, 25], &vec![0.0; 64 * 25]);
    check(&wide, &[], "wide.npy", &["expected 24"]);
    // NaN.
    let mut bad = data.clone();
    bad[100] = f64::NAN;
    let nan = dir.path().join("nan.npy");
    write_f64(&nan, &[shape[0] as u64, shape[1] as u64], &bad);
    check(&nan, &[], "nan.npy", &["non-finite", "[4, 4]"]);
    // Unknown golden training set size; training set and features of the wrong width.
    check(
        &bank,
        &["--n", "5"],
        "manifest.json",
        &["no golden training set", "4, 16, 32"],
    );
    let t = dir.path().join("train.npy");
    write_f64(&t, &[3, 23], &vec![1.0; 69]);
    check(
        &bank,
        &["--train", s(&t)],
        "train.npy",
        &["training set", "expected 24"],
    );
    let w = dir.path().join("W.npy");
    write_f64(&w, &[2, 3], &[1.0; 6]);
    check(
        &bank,
        &["--features", s(&w)],
        "W.npy",
        &["feature matrix W"],
    );
    // A suite without the measure reference (exported before it existed).
    let mpath = golden.join("manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("measure");
    write_json(&mpath, &v);
    check(&bank, &[], "manifest.json", &["no measure reference"]);
    // ... which still validates (the field is optional in schema version 1).
    assert!(read_manifest(&golden).unwrap().measure.is_none());
}
