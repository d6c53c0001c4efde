//! `eval flow` and `eval pfd`: round trips against the library (the exact Gaussian
//! flow, the solvers, the PFD closed form), float32 promotion, byte-identical output for
//! any thread count, and every bad input (exit 2, the file named, nothing written).

use super::interop_support;

use std::path::{Path, PathBuf};

use diffusion_lowdim::flow::{FlowMap, GaussianFlow, Heun, ProbabilityFlow, Solver, TimeGrid};
use diffusion_lowdim::io::fsio::write_dir_atomic;
use diffusion_lowdim::io::model_file::ModelSpec;
use diffusion_lowdim::metric::pfd_gaussians;
use diffusion_lowdim::schedule::Ve;
use diffusion_lowdim::{Denoiser, Gaussian, NoiseLevel};
use faer::Mat;
use interop_support::*;

/// A rank-1 Gaussian N(0, u u^T) in R^3 (a PCA model), a MoLRG in R^3, and 5 noises (5, 3).
fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tmp();
    let u = faer::mat![[0.6], [0.8], [0.0]];
    write_dir_atomic(
        &dir.path().join("g"),
        &ModelSpec::Pca { basis: u }.files("", None),
        false,
    )
    .unwrap();
    let bases = vec![
        faer::mat![[1.0], [0.0], [0.0]],
        faer::mat![[0.0], [0.0], [1.0]],
    ];
    write_dir_atomic(
        &dir.path().join("k"),
        &ModelSpec::KSubspaces { bases }.files("", None),
        false,
    )
    .unwrap();
    let x = dir.path().join("x.npy");
    let data: Vec<f64> = (0..15).map(|i| 80.0 * ((i as f64) * 0.7).sin()).collect();
    write_f64(&x, &[5, 3], &data);
    (
        dir,
        PathBuf::from("g/model.json"),
        PathBuf::from("k/model.json"),
        x,
    )
}

fn gaussian() -> Gaussian {
    Gaussian::subspace(faer::mat![[0.6], [0.8], [0.0]].as_ref()).unwrap()
}

/// `(B, d)` data as a `d × B` matrix.
fn batch(shape: &[usize], data: &[f64]) -> Mat<f64> {
    Mat::from_fn(shape[1], shape[0], |i, j| data[j * shape[1] + i])
}

fn flow_cmd(
    dir: &Path,
    model: &Path,
    x: &Path,
    extra: &[&str],
    out: &Path,
) -> std::process::Output {
    let mp = dir.join(model);
    let mut args = vec!["eval", "flow", "--model", s(&mp), "--x", s(x)];
    args.extend_from_slice(extra);
    args.extend(["--out", s(out)]);
    run(&args)
}

#[test]
fn eval_flow_exact_and_heun_match_the_library_bit_for_bit() {
    let (dir, g, _, x) = setup();
    let (shape, data) = read(&x);
    let xm = batch(&shape, &data);
    let model = gaussian();
    // The exact flow on EDM's grid (80 -> 0.002, clean end) = GaussianFlow to 0.002, then D.
    let out = dir.path().join("exact.npy");
    let o = flow_cmd(dir.path(), &g, &x, &["--solver", "exact"], &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let grid = TimeGrid::edm(&Ve, 2).unwrap();
    let last = NoiseLevel::ve(grid.last()).unwrap();
    let moved = GaussianFlow::between(
        &model,
        NoiseLevel::ve(grid.start()).unwrap(),
        1.0,
        grid.last(),
    )
    .unwrap()
    .map(xm.as_ref())
    .unwrap();
    let want = model.posterior_mean(moved.as_ref(), last).unwrap();
    let (oshape, odata) = read(&out);
    assert_eq!(oshape, vec![5, 3]);
    assert_eq!(batch(&oshape, &odata), want);
    // Heun with 18 EDM levels = the library's Sampler.
    let out = dir.path().join("heun.npy");
    let o = flow_cmd(
        dir.path(),
        &g,
        &x,
        &["--solver", "heun", "--steps", "18"],
        &out,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let flow = ProbabilityFlow::new(&Ve, &model);
    let want = Heun
        .solve(&flow, &TimeGrid::edm(&Ve, 18).unwrap(), xm.as_ref())
        .unwrap()
        .x;
    let (oshape, odata) = read(&out);
    assert_eq!(batch(&oshape, &odata), want);
    // ... and converges to the exact flow: RK4 with 512 levels within 1e-9.
    let out = dir.path().join("rk4.npy");
    let o = flow_cmd(
        dir.path(),
        &g,
        &x,
        &["--solver", "rk4", "--steps", "512"],
        &out,
    );
    assert!(o.status.success());
    let (_, rk) = read(&out);
    let (_, ex) = read(&dir.path().join("exact.npy"));
    let err = rk
        .iter()
        .zip(&ex)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-9, "RK4 512 vs exact: {err:e}");
}

#[test]
fn eval_flow_one_step_is_the_sampler_step_formula() {
    let (dir, g, _, _) = setup();
    let x = dir.path().join("x1.npy");
    write_f64(&x, &[2, 3], &[1.0, 2.0, 0.5, -0.3, 0.4, 1.5]);
    let model = gaussian();
    let (t, s_) = (1.0, 0.7);
    let d = |v: &[f64], sigma: f64| -> Vec<f64> {
        let m = Mat::from_fn(3, 1, |i, _| v[i]);
        let o = model
            .posterior_mean(m.as_ref(), NoiseLevel::ve(sigma).unwrap())
            .unwrap();
        (0..3).map(|i| o[(i, 0)]).collect()
    };
    for solver in ["euler", "heun", "ddim"] {
        let out = dir.path().join(format!("{solver}.npy"));
        let o = flow_cmd(
            dir.path(),
            &g,
            &x,
            &[
                "--solver",
                solver,
                "--steps",
                "1",
                "--t-start",
                "1",
                "--t-end",
                "0.7",
            ],
            &out,
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (_, got) = read(&out);
        for b in 0..2 {
            let xb = [1.0, 2.0, 0.5, -0.3, 0.4, 1.5][3 * b..3 * b + 3].to_vec();
            let d1 = d(&xb, t);
            let v1: Vec<f64> = (0..3).map(|i| (xb[i] - d1[i]) / t).collect();
            let want: Vec<f64> = match solver {
                "euler" => (0..3).map(|i| xb[i] + (s_ - t) * v1[i]).collect(),
                "heun" => {
                    let xe: Vec<f64> = (0..3).map(|i| xb[i] + (s_ - t) * v1[i]).collect();
                    let d2 = d(&xe, s_);
                    (0..3)
                        .map(|i| xb[i] + 0.5 * (s_ - t) * (v1[i] + (xe[i] - d2[i]) / s_))
                        .collect()
                }
                // VE: x_s = (s/t) x + (1 - s/t) D.
                _ => (0..3)
                    .map(|i| (s_ / t) * xb[i] + (1.0 - s_ / t) * d1[i])
                    .collect(),
            };
            for i in 0..3 {
                assert!(
                    (got[3 * b + i] - want[i]).abs() < 1e-14,
                    "{solver}: {} vs {}",
                    got[3 * b + i],
                    want[i]
                );
            }
        }
    }
}

#[test]
fn eval_flow_promotes_float32_input_and_is_identical_for_any_thread_count() {
    let (dir, _, k, x) = setup();
    let (shape, data) = read(&x);
    let x32 = dir.path().join("x32.npy");
    let d32: Vec<f32> = data.iter().map(|&v| v as f32).collect();
    write_f32(&x32, &[shape[0] as u64, shape[1] as u64], &d32);
    let x64 = dir.path().join("x64.npy");
    let d64: Vec<f64> = d32.iter().map(|&v| f64::from(v)).collect();
    write_f64(&x64, &[shape[0] as u64, shape[1] as u64], &d64);
    let args = ["--solver", "dpm-solver++2m", "--steps", "30"];
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    assert!(flow_cmd(dir.path(), &k, &x32, &args, &a).status.success());
    let o = bin()
        .env("RAYON_NUM_THREADS", "1")
        .args([
            "eval",
            "flow",
            "--model",
            s(&dir.path().join(&k)),
            "--x",
            s(&x64),
        ])
        .args(args)
        .args(["--out", s(&b)])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    // The output is float64.
    let head = std::fs::read(&a).unwrap();
    assert!(String::from_utf8_lossy(&head[..80]).contains("<f8"));
}

/// Asserts exit 2, a message naming `file` with every word of `problem`, and no output.
#[track_caller]
fn unusable(args: &[&str], out_dir: &Path, file: &str, problem: &[&str]) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "exit status; stderr: {err}");
    assert!(err.contains(file), "message does not name {file}: {err}");
    for w in problem {
        assert!(err.contains(w), "message lacks {w:?}: {err}");
    }
    assert!(
        entries(out_dir).is_empty(),
        "output left behind: {:?}",
        entries(out_dir)
    );
}

#[test]
fn eval_flow_bad_input_exits_2_naming_the_file_and_writes_nothing() {
    let (dir, g, k, x) = setup();
    let outd = tmp();
    let out = outd.path().join("y.npy");
    let (g, k) = (dir.path().join(g), dir.path().join(k));
    let base = |model: &Path, x: &Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["eval", "flow", "--model", s(model), "--x", s(x)]
            .iter()
            .map(|w| w.to_string())
            .collect();
        v.extend(extra.iter().map(|w| w.to_string()));
        v.extend(["--out".to_string(), s(&out).to_string()]);
        v
    };
    let call = |v: Vec<String>, file: &str, problem: &[&str]| {
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        unusable(&refs, outd.path(), file, problem);
    };
    // Wrong width.
    let wide = dir.path().join("wide.npy");
    write_f64(&wide, &[2, 4], &[0.0; 8]);
    call(
        base(&g, &wide, &["--solver", "heun", "--steps", "4"]),
        "wide.npy",
        &["axis 1 has length 4, expected 3"],
    );
    // NaN.
    let nan = dir.path().join("nan.npy");
    write_f64(&nan, &[1, 3], &[0.0, f64::NAN, 1.0]);
    call(
        base(&g, &nan, &["--solver", "heun", "--steps", "4"]),
        "nan.npy",
        &["non-finite", "[0, 1]"],
    );
    // Truncated.
    let bytes = std::fs::read(&x).unwrap();
    let cut = dir.path().join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    call(
        base(&g, &cut, &["--solver", "heun", "--steps", "4"]),
        "cut.npy",
        &["truncated"],
    );
    // The exact flow of a non-Gaussian model.
    call(
        base(&k, &x, &["--solver", "exact"]),
        "model.json",
        &["exact needs a Gaussian model", "k-subspaces"],
    );
    // Missing model file.
    let none = dir.path().join("none.json");
    call(
        base(&none, &x, &["--solver", "heun", "--steps", "4"]),
        "none.json",
        &["cannot read"],
    );
    // Unknown solver and schedule (a preset is a table, not a schedule with derivatives).
    let o = run(&base(&g, &x, &["--solver", "leapfrog", "--steps", "4"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("dpm-solver++2m"));
    let o = run(&base(
        &g,
        &x,
        &["--schedule", "edm", "--solver", "heun", "--steps", "4"],
    )
    .iter()
    .map(String::as_str)
    .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("vp-linear"));
    // A fixed-step solver without --steps; a grid outside the schedule's domain.
    let o = run(&base(&g, &x, &["--solver", "rk4"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--steps"));
    let o = run(&base(
        &g,
        &x,
        &[
            "--schedule",
            "vp-linear",
            "--solver",
            "heun",
            "--steps",
            "4",
            "--t-start",
            "2",
            "--t-end",
            "0.5",
        ],
    )
    .iter()
    .map(String::as_str)
    .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    assert!(entries(outd.path()).is_empty());
}

#[test]
fn eval_pfd_matches_the_gaussian_closed_form_and_given_noises() {
    let (dir, g, _, x) = setup();
    let dir2 = dir.path().join("g2");
    let u2 = faer::mat![[0.0], [0.6], [0.8]];
    write_dir_atomic(
        &dir2,
        &ModelSpec::Pca { basis: u2.clone() }.files("", None),
        false,
    )
    .unwrap();
    let report = dir.path().join("pfd.json");
    let o = run(&[
        "eval",
        "pfd",
        "--model",
        s(&dir.path().join(&g)),
        "--model2",
        s(&dir2.join("model.json")),
        "--solver",
        "exact",
        "--samples",
        "4000",
        "--seed",
        "3",
        "--out-json",
        s(&report),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let (lo, hi) = (
        j["pfd"]["interval"][0].as_f64().unwrap(),
        j["pfd"]["interval"][1].as_f64().unwrap(),
    );
    // The exact flow ends with D at 0.002: the flow to the clean end up to O(0.002^2).
    let g2 = Gaussian::subspace(u2.as_ref()).unwrap();
    let exact = pfd_gaussians(&gaussian(), &g2, 80.0, None).unwrap();
    assert!(lo < exact && exact < hi, "[{lo}, {hi}] vs {exact}");
    assert_eq!(j["pfd"]["samples"], 4000);
    assert_eq!(j["noises"]["noise_scale"], 80.0);
    // Given noises: the root-mean-square distance of the two flows on them, exactly.
    let (shape, data) = read(&x);
    let xm = batch(&shape, &data);
    let grid = TimeGrid::edm(&Ve, 2).unwrap();
    let (from, last) = (
        NoiseLevel::ve(grid.start()).unwrap(),
        NoiseLevel::ve(grid.last()).unwrap(),
    );
    let phi = |m: &Gaussian| {
        let moved = GaussianFlow::between(m, from, 1.0, grid.last())
            .unwrap()
            .map(xm.as_ref())
            .unwrap();
        m.posterior_mean(moved.as_ref(), last).unwrap()
    };
    let (a, b) = (phi(&gaussian()), phi(&g2));
    let w = faer::mat![[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]];
    let wpath = dir.path().join("W.npy");
    write_f64(&wpath, &[2, 3], &[1.0, 2.0, 0.0, 0.0, 1.0, -1.0]);
    let (p1, p2) = (dir.path().join(&g), dir2.join("model.json"));
    for features in [false, true] {
        let mut args = vec![
            "eval",
            "pfd",
            "--model",
            s(&p1),
            "--model2",
            s(&p2),
            "--solver",
            "exact",
            "--noises",
            s(&x),
            "--out-json",
            s(&report),
        ];
        if features {
            args.extend(["--features", s(&wpath)]);
        }
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        let diff = Mat::from_fn(3, 5, |i, c| a[(i, c)] - b[(i, c)]);
        let fd = if features { &w * &diff } else { diff };
        let want = (fd.norm_l2().powi(2) / 5.0).sqrt();
        let got = j["pfd"]["estimate"].as_f64().unwrap();
        assert!((got - want).abs() <= 1e-14 * want, "{got} vs {want}");
        assert_eq!(
            j["features"]["kind"],
            if features { "linear" } else { "identity" }
        );
    }
}

#[test]
fn eval_pfd_bad_input_exits_2_naming_the_file_and_writes_nothing() {
    let (dir, g, k, x) = setup();
    let outd = tmp();
    let report = outd.path().join("r.json");
    let (g, k) = (dir.path().join(g), dir.path().join(k));
    let w = dir.path().join("W4.npy");
    write_f64(&w, &[1, 4], &[1.0; 4]);
    unusable(
        &[
            "eval",
            "pfd",
            "--model",
            s(&g),
            "--model2",
            s(&k),
            "--solver",
            "heun",
            "--steps",
            "4",
            "--noises",
            s(&x),
            "--features",
            s(&w),
            "--out-json",
            s(&report),
        ],
        outd.path(),
        "W4.npy",
        &["feature matrix W", "axis 1 has length 4, expected 3"],
    );
    let one = dir.path().join("one.npy");
    write_f64(&one, &[1, 3], &[1.0; 3]);
    let o = run(&[
        "eval",
        "pfd",
        "--model",
        s(&g),
        "--model2",
        s(&k),
        "--solver",
        "heun",
        "--steps",
        "4",
        "--noises",
        s(&one),
        "--out-json",
        s(&report),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least 2"));
    let narrow = dir.path().join("narrow.npy");
    write_f64(&narrow, &[4, 2], &[1.0; 8]);
    unusable(
        &[
            "eval",
            "pfd",
            "--model",
            s(&g),
            "--model2",
            s(&k),
            "--solver",
            "heun",
            "--steps",
            "4",
            "--noises",
            s(&narrow),
            "--out-json",
            s(&report),
        ],
        outd.path(),
        "narrow.npy",
        &["noises", "expected 3"],
    );
    unusable(
        &[
            "eval",
            "pfd",
            "--model",
            s(&g),
            "--model2",
            s(&k),
            "--solver",
            "exact",
            "--samples",
            "10",
            "--out-json",
            s(&report),
        ],
        outd.path(),
        "model.json",
        &["exact needs a Gaussian model"],
    );
    assert!(entries(outd.path()).is_empty());
}

/// `eval pfd --method exact` (issue 14): the closed form of the VE flows' PFD, accurate relative
/// to the PFD itself. Two Gaussians N(0, diag(λ)) whose variances differ by 1e-10 relative, at
/// T = 80: the reference is computed here from differences, never by subtracting the two flow
/// factors a = √(λ/(λ + T²)): a_p − a_q = T²(λ_p − λ_q)/((λ_p + T²)(λ_q + T²)(a_p + a_q)), PFD =
/// T·‖a_p − a_q‖ (λ_p − λ_q is exact in f64 here). Two subspace Gaussians use the
/// principal-angle form, T/√(1 + T²)·‖U₁U₁ᵀ − U₂U₂ᵀ‖_F = T/√(1 + T²)·√2·sin θ for one angle θ.
/// A MoLRG has no closed form: exit 2 naming the file; so has `--noises` with `exact`, and a
/// schedule other than VE.
#[test]
fn eval_pfd_exact_is_relatively_accurate_for_nearly_identical_models() {
    use diffusion_lowdim::io::model_file::GaussianCovariance;
    let dir = tmp();
    let eye = faer::mat![[1.0, 0.0], [0.0, 1.0]];
    let lp = [0.5, 2.0];
    let lq = [0.5 * (1.0 + 1.0 / 1024.0 / 1024.0 / 1024.0 / 8.0), 2.0];
    let save = |name: &str, l: &[f64]| {
        let path = dir.path().join(name);
        let spec = ModelSpec::Gaussian {
            mean: vec![0.0, 0.0],
            covariance: GaussianCovariance::Basis {
                basis: eye.clone(),
                variances: l.to_vec(),
            },
        };
        write_dir_atomic(&path, &spec.files("", None), false).unwrap();
        path.join("model.json")
    };
    let (p, q) = (save("p", &lp), save("q", &lq));
    let report = dir.path().join("exact.json");
    let exact = |p: &Path, q: &Path, extra: &[&str]| {
        let mut args = vec![
            "eval",
            "pfd",
            "--model",
            s(p),
            "--model2",
            s(q),
            "--solver",
            "exact",
            "--method",
            "exact",
            "--t-max",
            "80",
            "--out-json",
            s(&report),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let o = exact(&p, &q, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let got = j["pfd"]["exact"].as_f64().unwrap();
    let t = 80.0f64;
    let a = |l: f64| (l / (l + t * t)).sqrt();
    let diff: Vec<f64> = lp
        .iter()
        .zip(&lq)
        .map(|(&x, &y)| t * t * (x - y) / ((x + t * t) * (y + t * t) * (a(x) + a(y))))
        .collect();
    let want = t * diff.iter().map(|v| v * v).sum::<f64>().sqrt();
    assert!(
        (got - want).abs() <= 1e-14 * want,
        "exact PFD {got:e} vs {want:e} (relative {:e})",
        (got - want).abs() / want
    );
    assert_eq!(j["closed_form"], "gaussians");
    // Subspace Gaussians at a principal angle of 1e-9.
    let th = 1e-9f64;
    let dir2 = dir.path();
    let (u1, u2) = (
        faer::mat![[1.0], [0.0], [0.0]],
        faer::mat![[th.cos()], [th.sin()], [0.0]],
    );
    for (name, u) in [("s1", u1), ("s2", u2)] {
        write_dir_atomic(
            &dir2.join(name),
            &ModelSpec::Pca { basis: u }.files("", None),
            false,
        )
        .unwrap();
    }
    let o = exact(
        &dir2.join("s1").join("model.json"),
        &dir2.join("s2").join("model.json"),
        &[],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let got = j["pfd"]["exact"].as_f64().unwrap();
    let want = t / (1.0 + t * t).sqrt() * 2f64.sqrt() * th.sin();
    assert!((got - want).abs() <= 1e-14 * want, "{got:e} vs {want:e}");
    assert_eq!(j["closed_form"], "subspaces");
    // No closed form, or the wrong flow: exit 2 with the reason, no report written.
    let m = dir.path().join("m");
    write_dir_atomic(
        &m,
        &ModelSpec::KSubspaces {
            bases: vec![faer::mat![[1.0], [0.0]], faer::mat![[0.0], [1.0]]],
        }
        .files("", None),
        false,
    )
    .unwrap();
    std::fs::remove_file(&report).unwrap();
    for (args, needle) in [
        (vec![s(&p), s(&m.join("model.json"))], "no closed-form PFD"),
        (vec![s(&p), s(&q), "--schedule", "vp-linear"], "VE flows"),
        (vec![s(&p), s(&q), "--samples", "7"], ""),
    ] {
        let mut full = vec!["eval", "pfd", "--model", args[0], "--model2", args[1]];
        full.extend_from_slice(&args[2..]);
        full.extend([
            "--solver",
            "exact",
            "--method",
            "exact",
            "--out-json",
            s(&report),
        ]);
        let o = run(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        if needle.is_empty() {
            // --samples only sizes the estimator's noises: ignored by the closed form.
            assert!(o.status.success(), "{err}");
            std::fs::remove_file(&report).unwrap();
            continue;
        }
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(!report.exists());
    }
}
