//! `eval posterior-weights`, `log-posterior-weights`, `subspaces`, `dae-loss`, the new schedule
//! grids, the exact flow to t = 0 and `--normalize-weights` (issue 14), through the binary,
//! against double-double oracles (`diffusion_lowdim::reference`) or independent formulas.

use std::path::{Path, PathBuf};

use diffusion_lowdim::reference::{self as rf, Q};

use crate::interop_support::{entries, read, run, s, tmp, write_f64};

fn write_json(path: &Path, v: &serde_json::Value) -> PathBuf {
    std::fs::write(path, serde_json::to_vec(v).unwrap()).unwrap();
    path.to_path_buf()
}

/// Runs the binary, asserting success; returns stderr.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{args:?}: {err}");
    err
}

/// Runs the binary, asserting exit 2 with every `words` in stderr and no new entry in
/// `out_dir` (outputs are written atomically or not at all).
fn refused(args: &[&str], out_dir: &Path, words: &[&str]) {
    let before = entries(out_dir);
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for w in words {
        assert!(err.contains(w), "message lacks {w:?}: {err}");
    }
    assert_eq!(entries(out_dir), before, "output left behind");
}

fn rel(got: f64, want: f64) -> f64 {
    if got == want {
        0.0
    } else {
        (got - want).abs() / want.abs()
    }
}

/// Three rank-1 and rank-2 components in R^4 (weights 0.2, 0.3, 0.5, variances ≠ 1).
/// A model file and its weights, bases and variances.
type MolrgFile = (PathBuf, Vec<f64>, Vec<faer::Mat<f64>>, Vec<Vec<f64>>);

fn molrg_manifest(dir: &Path) -> MolrgFile {
    let pi = vec![0.2, 0.3, 0.5];
    let c = 0.6f64;
    let bases = vec![
        faer::mat![[1.0], [0.0], [0.0], [0.0]],
        faer::mat![[0.0, 0.0], [c, 0.8], [0.8, -c], [0.0, 0.0]],
        faer::mat![[0.0], [0.0], [0.0], [1.0]],
    ];
    let vars = vec![vec![2.0], vec![1.0, 0.5], vec![3.0]];
    let comp: Vec<serde_json::Value> = bases
        .iter()
        .zip(&vars)
        .map(|(u, l)| {
            let rows: Vec<Vec<f64>> = (0..u.nrows())
                .map(|i| (0..u.ncols()).map(|j| u[(i, j)]).collect())
                .collect();
            serde_json::json!({"basis": rows, "variances": l})
        })
        .collect();
    let m = write_json(
        &dir.join("molrg.json"),
        &serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "molrg", "weights": pi, "components": comp}),
    );
    (m, pi, bases, vars)
}

/// Posterior weights and their logs of a MoLRG, in the saturated (β = 1e-6: every weight but
/// one underflows, logs down to -1e13) and tied (a point equidistant from two equal
/// components) regimes, against the double-double formula of R03. A log computed as
/// `ln(w)` of the f64 weight fails here (−∞ for the underflowed weights, and ~1e-16/w
/// relative error for tiny ones).
#[test]
fn posterior_weights_and_log_weights_of_a_molrg_match_the_double_double_formula() {
    let dir = tmp();
    let (m, pi, bases, vars) = molrg_manifest(dir.path());
    let xs: Vec<[f64; 4]> = vec![
        [3.0, 1.0, -2.0, 0.5],
        [0.1, 0.2, 0.3, 0.4],
        [1e-3, 2e-3, -1e-3, 5e-4],
        [2.0, 0.0, 0.0, 2.0],
    ];
    let flat: Vec<f64> = xs.iter().flatten().copied().collect();
    let x = dir.path().join("x.npy");
    write_f64(&x, &[xs.len() as u64, 4], &flat);
    let refs: Vec<_> = bases.iter().map(|b| b.as_ref()).collect();
    for (alpha, beta) in [(1.0, 1e-6), (0.9, 0.3), (1e-3, 1.0), (1.0, 1e-3)] {
        let (a, b) = (format!("{alpha}"), format!("{beta}"));
        let w = dir.path().join("out_w.npy");
        let lw = dir.path().join("out_lw.npy");
        for (cmd, out) in [("posterior-weights", &w), ("log-posterior-weights", &lw)] {
            ok(&[
                "eval",
                cmd,
                "--model",
                s(&m),
                "--x",
                s(&x),
                "--alpha",
                &a,
                "--beta",
                &b,
                "--out",
                s(out),
            ]);
        }
        let (shape, wv) = read(&w);
        assert_eq!(shape, vec![xs.len(), 3]);
        let (_, lv) = read(&lw);
        for (n, xn) in xs.iter().enumerate() {
            let r = rf::molrg_formula_at(&pi, &refs, &vars, xn, alpha, beta, false);
            let want_lw = rf::log_softmax(&r.logits);
            for k in 0..3 {
                let (gw, glw) = (wv[n * 3 + k], lv[n * 3 + k]);
                let (ww, wlw) = (rf::f(r.weights[k]), rf::f(want_lw[k]));
                assert!(glw.is_finite(), "log weight {glw} at x{n}, k = {k}");
                // Log weights: a few ulps of the logit scale (the logits' own conditioning).
                let scale = r.logits.iter().map(|l| rf::f(*l).abs()).fold(1.0, f64::max);
                assert!(
                    (glw - wlw).abs() <= 16.0 * f64::EPSILON * scale,
                    "log w: {glw:e} vs {wlw:e} (x{n}, k = {k}, alpha {alpha}, beta {beta})"
                );
                // Weights: relative where normal (the softmax of accurate logits).
                if ww > 1e-300 {
                    assert!(
                        (gw - ww).abs() <= 16.0 * f64::EPSILON * scale * ww.max(1e-300) + 1e-300,
                        "w: {gw:e} vs {ww:e} (x{n}, k = {k})"
                    );
                }
            }
        }
    }
    // Saturation: at beta = 1e-6 the first point's smaller weights underflow to 0 but
    // their logs are finite and huge.
    let lw = dir.path().join("out_lw.npy");
    ok(&[
        "eval",
        "log-posterior-weights",
        "--model",
        s(&m),
        "--x",
        s(&x),
        "--alpha",
        "1",
        "--beta",
        "1e-6",
        "--out",
        s(&lw),
    ]);
    let (_, lv) = read(&lw);
    assert!(
        lv[..3].iter().filter(|v| **v < -1e11).count() == 2,
        "{:?}",
        &lv[..3]
    );
}

/// Empirical weights (B, N) and logs: saturated (β = 1e-4, gaps of 1e8 in logit units) and
/// a near tie (two training points at relative distance difference 1e-12), against the
/// double-double softmax.
#[test]
fn empirical_weights_and_log_weights_match_the_double_double_softmax() {
    let dir = tmp();
    let pts = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0 + 1e-12]];
    let p = dir.path().join("p.npy");
    write_f64(
        &p,
        &[4, 2],
        &pts.iter().flatten().copied().collect::<Vec<_>>(),
    );
    let m = write_json(
        &dir.path().join("emp.json"),
        &serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "empirical", "points": "p.npy"}),
    );
    let xs = [[0.3, 0.1], [1.0, 0.5], [0.5, 0.5], [0.2, 0.9]];
    let x = dir.path().join("x.npy");
    write_f64(
        &x,
        &[4, 2],
        &xs.iter().flatten().copied().collect::<Vec<_>>(),
    );
    let points = faer::Mat::from_fn(2, 4, |i, j| pts[j][i]);
    for (alpha, beta) in [(1.0, 1e-4), (0.8, 0.6), (1.0, 1e-2)] {
        let (a, b) = (format!("{alpha}"), format!("{beta}"));
        let w = dir.path().join("out_w.npy");
        let lw = dir.path().join("out_lw.npy");
        for (cmd, out) in [("posterior-weights", &w), ("log-posterior-weights", &lw)] {
            ok(&[
                "eval",
                cmd,
                "--model",
                s(&m),
                "--x",
                s(&x),
                "--alpha",
                &a,
                "--beta",
                &b,
                "--out",
                s(out),
            ]);
        }
        let (shape, wv) = read(&w);
        assert_eq!(shape, vec![4, 4]);
        let (_, lv) = read(&lw);
        for (n, xn) in xs.iter().enumerate() {
            let logits = rf::empirical_logits(points.as_ref(), xn, alpha, beta);
            let want = rf::log_softmax(&logits);
            let ws = rf::softmax(&logits);
            let scale = logits.iter().map(|l| rf::f(*l).abs()).fold(1.0, f64::max);
            for i in 0..4 {
                let (g, wl) = (lv[n * 4 + i], rf::f(want[i]));
                assert!(
                    (g - wl).abs() <= 16.0 * f64::EPSILON * scale,
                    "log s: {g:e} vs {wl:e} (x{n}, i = {i}, beta {beta})"
                );
                let ww = rf::f(ws[i]);
                if ww > 1e-290 {
                    assert!(
                        rel(wv[n * 4 + i], ww) <= 32.0 * f64::EPSILON * scale,
                        "s: {} vs {ww:e}",
                        wv[n * 4 + i]
                    );
                }
            }
        }
    }
}

#[test]
fn posterior_weights_refuse_gaussians_and_bad_input() {
    let dir = tmp();
    let g = write_json(
        &dir.path().join("g.json"),
        &serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "pca", "basis": [[1.0], [0.0]]}),
    );
    let x = dir.path().join("x.npy");
    write_f64(&x, &[1, 2], &[1.0, 2.0]);
    let out = dir.path().join("out.npy");
    refused(
        &[
            "eval",
            "posterior-weights",
            "--model",
            s(&g),
            "--x",
            s(&x),
            "--sigma",
            "1",
            "--out",
            s(&out),
        ],
        dir.path(),
        &["g.json", "single component"],
    );
    let (m, ..) = molrg_manifest(dir.path());
    // Wrong dimension, NaN, β = 0.
    refused(
        &[
            "eval",
            "posterior-weights",
            "--model",
            s(&m),
            "--x",
            s(&x),
            "--sigma",
            "1",
            "--out",
            s(&out),
        ],
        dir.path(),
        &["x.npy"],
    );
    let xn = dir.path().join("xn.npy");
    write_f64(&xn, &[1, 4], &[1.0, f64::NAN, 0.0, 0.0]);
    refused(
        &[
            "eval",
            "log-posterior-weights",
            "--model",
            s(&m),
            "--x",
            s(&xn),
            "--sigma",
            "1",
            "--out",
            s(&out),
        ],
        dir.path(),
        &["xn.npy"],
    );
    let x4 = dir.path().join("x4.npy");
    write_f64(&x4, &[1, 4], &[1.0, 0.0, 0.0, 0.0]);
    refused(
        &[
            "eval",
            "log-posterior-weights",
            "--model",
            s(&m),
            "--x",
            s(&x4),
            "--alpha",
            "1",
            "--beta",
            "0",
            "--out",
            s(&out),
        ],
        dir.path(),
        &["beta"],
    );
}

/// Weights that do not sum to one: the error names the flag; with it, the weights are those
/// of the normalized file.
#[test]
fn normalize_weights_flag() {
    let dir = tmp();
    let manifest = |name: &str, w: [f64; 2]| {
        write_json(
            &dir.path().join(name),
            &serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
                "kind": "molrg", "weights": w,
                "components": [{"basis": [[1.0], [0.0]]}, {"basis": [[0.0], [1.0]]}]}),
        )
    };
    let off = manifest("off.json", [0.25 * (1.0 + 1e-9), 0.75 * (1.0 + 1e-9)]);
    let exact = manifest("exact.json", [0.25, 0.75]);
    let x = dir.path().join("x.npy");
    write_f64(&x, &[2, 2], &[1.0, 2.0, -0.5, 0.1]);
    let out = dir.path().join("out.npy");
    refused(
        &[
            "eval",
            "posterior-mean",
            "--model",
            s(&off),
            "--x",
            s(&x),
            "--sigma",
            "0.5",
            "--out",
            s(&out),
        ],
        dir.path(),
        &["off.json", "--normalize-weights", "sum to 1"],
    );
    ok(&[
        "eval",
        "posterior-weights",
        "--model",
        s(&off),
        "--normalize-weights",
        "--x",
        s(&x),
        "--sigma",
        "0.5",
        "--out",
        s(&out),
    ]);
    let (_, a) = read(&out);
    let out2 = dir.path().join("out2.npy");
    ok(&[
        "eval",
        "posterior-weights",
        "--model",
        s(&exact),
        "--x",
        s(&x),
        "--sigma",
        "0.5",
        "--out",
        s(&out2),
    ]);
    let (_, b) = read(&out2);
    for (u, v) in a.iter().zip(&b) {
        assert!((u - v).abs() <= 4.0 * f64::EPSILON, "{u} vs {v}");
    }
    // A zero sum cannot be normalized.
    let zero = manifest("zero.json", [0.0, 0.0]);
    refused(
        &[
            "eval",
            "posterior-mean",
            "--model",
            s(&zero),
            "--normalize-weights",
            "--x",
            s(&x),
            "--sigma",
            "0.5",
            "--out",
            s(&out),
        ],
        dir.path(),
        &["zero.json", "--normalize-weights"],
    );
}

/// Principal angles down to 1e-9 (and up to π/2): sines relative to themselves, angles, the
/// distance √(p − q + 2‖sin Θ‖²), against the double-double sine of each exactly stored pair.
/// `sin(acos(cos θ))` has relative error ~1e-7 at θ = 1e-9 and fails here.
#[test]
fn subspaces_report_accurate_sines_and_angles_down_to_1e9() {
    let dir = tmp();
    for th in [1e-9f64, 3e-5, 0.7, 1.2, std::f64::consts::FRAC_PI_2] {
        // U = [e1, e3, e4], V = [cos θ e1 + sin θ e2, e3]: angles 0 and θ.
        let (c, sn) = (th.cos(), th.sin());
        let u = dir.path().join("u.npy");
        let v = dir.path().join("v.npy");
        write_f64(
            &u,
            &[5, 3],
            &[
                1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0,
            ],
        );
        write_f64(
            &v,
            &[5, 2],
            &[c, 0.0, sn, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        );
        let out = dir.path().join("out.json");
        ok(&[
            "eval",
            "subspaces",
            "--u",
            s(&u),
            "--v",
            s(&v),
            "--out-json",
            s(&out),
        ]);
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let r = &j["result"];
        let sines: Vec<f64> = r["sines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let angles: Vec<f64> = r["principal_angles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let um = faer::mat![
            [1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 0.0, 0.0]
        ];
        let want = rf::line_sine(um.as_ref(), &[c, sn, 0.0, 0.0, 0.0]);
        assert_eq!(sines.len(), 2);
        assert!(sines[0] <= 1e-300, "{sines:?}");
        assert!(
            rel(sines[1], want) <= 4.0 * f64::EPSILON,
            "sine {} vs {want:e} at θ = {th}",
            sines[1]
        );
        let want_angle = if want <= std::f64::consts::FRAC_1_SQRT_2 {
            want.asin()
        } else {
            // cos θ of the stored pair, in double-double.
            rf::f(rf::q(c) / (rf::q(c) * rf::q(c) + rf::q(sn) * rf::q(sn)).sqrt()).acos()
        };
        assert!(
            (angles[1] - want_angle).abs() <= 8.0 * f64::EPSILON * want_angle,
            "angle {} vs {want_angle:e}",
            angles[1]
        );
        let d = r["distance"].as_f64().unwrap();
        let want_d = (1.0 + 2.0 * want * want).sqrt();
        assert!(
            rel(d, want_d) <= 4.0 * f64::EPSILON,
            "distance {d} vs {want_d}"
        );
        assert_eq!(
            (r["rank_u"].as_u64(), r["rank_v"].as_u64()),
            (Some(3), Some(2))
        );
    }
    // Non-orthonormal basis, mismatched dimension, NaN: exit 2, nothing written.
    let u = dir.path().join("u.npy");
    let bad = dir.path().join("bad.npy");
    write_f64(&bad, &[5, 1], &[1.0, 1.0, 0.0, 0.0, 0.0]);
    let out = dir.path().join("out.json");
    let _ = std::fs::remove_file(&out);
    refused(
        &[
            "eval",
            "subspaces",
            "--u",
            s(&u),
            "--v",
            s(&bad),
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["orthonormal"],
    );
    let short = dir.path().join("short.npy");
    write_f64(&short, &[2, 1], &[1.0, 0.0]);
    refused(
        &[
            "eval",
            "subspaces",
            "--u",
            s(&u),
            "--v",
            s(&short),
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["rows"],
    );
    write_f64(&bad, &[5, 1], &[f64::NAN, 1.0, 0.0, 0.0, 0.0]);
    refused(
        &[
            "eval",
            "subspaces",
            "--u",
            s(&u),
            "--v",
            s(&bad),
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["bad.npy"],
    );
}

fn loss_report(path: &Path) -> (f64, f64) {
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    (
        j["loss"]["value"].as_f64().unwrap(),
        j["loss"]["integration_error"].as_f64().unwrap(),
    )
}

/// The K = 1 loss at β = 1e-4 (a ≈ 1: the residual form avoids the cancellation of
/// ‖x‖² − (2a − a²)‖Uᵀx‖²) and α = 1e-3 against the double-double affine-map formula; the
/// hard-max K = 2 loss against the same oracle per cluster; the integrated K = 1 / hard-max
/// loss against the library's independent quadrature of the denoiser's outputs.
#[test]
fn dae_loss_at_extreme_levels_and_integrated() {
    let dir = tmp();
    let c = 0.6f64;
    let u0 = faer::mat![[c, 0.0], [0.8, 0.0], [0.0, 1.0], [0.0, 0.0]];
    let u1 = faer::mat![[0.0], [0.0], [0.0], [1.0]];
    let save = |name: &str, m: &faer::Mat<f64>| {
        let p = dir.path().join(name);
        let data: Vec<f64> = (0..m.nrows())
            .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
            .collect();
        write_f64(&p, &[m.nrows() as u64, m.ncols() as u64], &data);
        p
    };
    let (b0, b1) = (save("u0.npy", &u0), save("u1.npy", &u1));
    // Samples near span U0 (x1, x2), near span U1 (x3), and one off both (x4).
    let xs = faer::mat![
        [0.6 * 3.0, 0.8 * 3.0, 1.5, 1e-7],
        [-1.2, -1.6, 0.5, 0.0],
        [0.1, 0.0, 0.0, 2.0],
        [2.0, 1e-3, 0.3, -0.5]
    ]
    .transpose()
    .to_owned();
    let data = save("x.npy", &xs.transpose().to_owned());
    let out = dir.path().join("out.json");
    for (alpha, beta) in [(1.0, 1e-4), (1e-3, 1.0), (0.8, 0.6)] {
        let (a, b) = (format!("{alpha}"), format!("{beta}"));
        ok(&[
            "eval",
            "dae-loss",
            "--basis",
            s(&b0),
            "--data",
            s(&data),
            "--alpha",
            &a,
            "--beta",
            &b,
            "--out-json",
            s(&out),
        ]);
        let (got, _) = loss_report(&out);
        let want = rf::f(rf::linear_dae_loss(u0.as_ref(), xs.as_ref(), alpha, beta));
        assert!(
            rel(got, want) <= 16.0 * f64::EPSILON,
            "K = 1 at ({alpha}, {beta}): {got:e} vs {want:e}"
        );
        // Hard max: x1, x2 go to U0 (larger projection), x3 to U1... computed here.
        ok(&[
            "eval",
            "dae-loss",
            "--basis",
            s(&b0),
            "--basis",
            s(&b1),
            "--form",
            "hard-max",
            "--data",
            s(&data),
            "--alpha",
            &a,
            "--beta",
            &b,
            "--out-json",
            s(&out),
        ]);
        let (got, _) = loss_report(&out);
        let mut want = Q::ZERO;
        for n in 0..xs.ncols() {
            let x = xs.as_ref().subcols(n, 1);
            let p0: f64 = (0..2)
                .map(|l| {
                    let v: f64 = (0..4).map(|i| u0[(i, l)] * x[(i, 0)]).sum();
                    v * v
                })
                .sum();
            let p1: f64 = {
                let v: f64 = (0..4).map(|i| u1[(i, 0)] * x[(i, 0)]).sum();
                v * v
            };
            let u = if p0 >= p1 { u0.as_ref() } else { u1.as_ref() };
            want += rf::linear_dae_loss(u, x, alpha, beta);
        }
        let want = rf::f(want);
        assert!(
            rel(got, want) <= 16.0 * f64::EPSILON,
            "hard max at ({alpha}, {beta}): {got:e} vs {want:e}"
        );
        // Softmax form: between the hard-max loss and its value with uniform weights is not
        // guaranteed; at beta = 1e-4 the weights saturate and the two forms agree.
        ok(&[
            "eval",
            "dae-loss",
            "--basis",
            s(&b0),
            "--basis",
            s(&b1),
            "--data",
            s(&data),
            "--alpha",
            &a,
            "--beta",
            &b,
            "--out-json",
            s(&out),
        ]);
        let (soft, _) = loss_report(&out);
        assert!(soft.is_finite() && soft > 0.0);
        if beta == 1e-4 {
            assert!(
                rel(soft, want) <= 1e-12,
                "softmax {soft:e} vs hard max {want:e}"
            );
        }
    }
    // Integrated over VE [0.01, 5] with each weighting: closed form vs quadrature of outputs.
    for weighting in ["unit", "inverse-noise-variance", "snr"] {
        for extra in [vec![], vec!["--basis", s(&b1), "--form", "hard-max"]] {
            let mut args = vec!["eval", "dae-loss", "--basis", s(&b0)];
            args.extend(extra.iter().copied());
            args.extend([
                "--data",
                s(&data),
                "--loss-schedule",
                "ve",
                "--t0",
                "0.01",
                "--t1",
                "5",
                "--weighting",
                weighting,
                "--out-json",
                s(&out),
            ]);
            ok(&args);
            let (got, err) = loss_report(&out);
            let w = diffusion_lowdim::service::eval::parse_weighting(weighting).unwrap();
            let mut refs = vec![u0.as_ref()];
            if !extra.is_empty() {
                refs.push(u1.as_ref());
            }
            let q = diffusion_lowdim::reduction::dae_loss_hard_max_quadrature(
                &refs,
                xs.as_ref(),
                &diffusion_lowdim::schedule::Ve,
                &w,
                0.01,
                5.0,
            )
            .unwrap();
            assert!(
                (got - q.value).abs() <= err + q.error + 64.0 * f64::EPSILON * got,
                "{weighting} K = {}: {got:e} vs quadrature {:e} (± {err:e} ± {:e})",
                refs.len(),
                q.value,
                q.error
            );
        }
    }
    // Bad input: a non-orthonormal basis, both a level and a range, an unknown weighting,
    // data of the wrong width, t0 >= t1.
    let bad = save("bad.npy", &faer::mat![[1.0], [1.0], [0.0], [0.0]]);
    let _ = std::fs::remove_file(&out);
    refused(
        &[
            "eval",
            "dae-loss",
            "--basis",
            s(&bad),
            "--data",
            s(&data),
            "--sigma",
            "1",
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["orthonormal"],
    );
    refused(
        &[
            "eval",
            "dae-loss",
            "--basis",
            s(&b0),
            "--data",
            s(&data),
            "--sigma",
            "1",
            "--loss-schedule",
            "ve",
            "--t0",
            "0.1",
            "--t1",
            "1",
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["not both"],
    );
    refused(
        &[
            "eval",
            "dae-loss",
            "--basis",
            s(&b0),
            "--data",
            s(&data),
            "--loss-schedule",
            "ve",
            "--t0",
            "0.1",
            "--t1",
            "1",
            "--weighting",
            "edm",
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["unit", "snr"],
    );
    refused(
        &[
            "eval",
            "dae-loss",
            "--basis",
            s(&b0),
            "--data",
            s(&data),
            "--loss-schedule",
            "ve",
            "--t0",
            "1",
            "--t1",
            "0.1",
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["t1"],
    );
    let narrow = save("narrow.npy", &faer::mat![[1.0, 2.0]]);
    refused(
        &[
            "eval",
            "dae-loss",
            "--basis",
            s(&b0),
            "--data",
            s(&narrow),
            "--sigma",
            "1",
            "--out-json",
            s(&out),
        ],
        dir.path(),
        &["narrow.npy"],
    );
}

/// The exact flow of a Gaussian N(μ, UΛUᵀ) from T to t = 0 (VE) against the closed form
/// μ + U diag(√(λ/(λ+T²))) Uᵀ(x − μ) (the complement contracts to 0): before issue 14 this
/// was refused (no noise level at β = 0).
#[test]
fn exact_flow_ends_at_t_zero() {
    let dir = tmp();
    let m = write_json(
        &dir.path().join("g.json"),
        &serde_json::json!({"format": "diffusion-lowdim/model", "schema_version": 1,
            "kind": "gaussian", "mean": [0.5, -1.0, 0.0], "basis": [[0.6, 0.0], [0.8, 0.0], [0.0, 1.0]],
            "variances": [2.0, 1e-3]}),
    );
    let x = dir.path().join("x.npy");
    write_f64(&x, &[2, 3], &[3.0, 4.0, -2.0, 80.0, -40.0, 7.0]);
    let out = dir.path().join("out.npy");
    let t = 80.0f64;
    for clean in [false, true] {
        let mut args = vec![
            "eval",
            "flow",
            "--model",
            s(&m),
            "--x",
            s(&x),
            "--solver",
            "exact",
            "--t-start",
            "80",
            "--t-end",
            "0",
            "--out",
            s(&out),
        ];
        if clean {
            args.push("--clean");
        }
        ok(&args);
        let (shape, got) = read(&out);
        assert_eq!(shape, vec![2, 3]);
        let u = [[0.6, 0.0], [0.8, 0.0], [0.0, 1.0]];
        let lam = [2.0f64, 1e-3];
        let mu = [0.5, -1.0, 0.0];
        for b in 0..2 {
            let xb: Vec<f64> = (0..3).map(|i| got[b * 3 + i]).collect();
            let x0: Vec<f64> = (0..3)
                .map(|i| [3.0, 4.0, -2.0, 80.0, -40.0, 7.0][b * 3 + i] - mu[i])
                .collect();
            for i in 0..3 {
                let mut want = mu[i];
                for j in 0..2 {
                    let c: f64 = (0..3).map(|l| u[l][j] * x0[l]).sum();
                    want += u[i][j] * (lam[j] / (lam[j] + t * t)).sqrt() * c;
                }
                assert!(
                    (xb[i] - want).abs() <= 1e-14 * (1.0 + want.abs()),
                    "point {b}, entry {i}: {} vs {want}",
                    xb[i]
                );
            }
        }
    }
}

/// The new grids: k-diffusion Karras / exponential with another range and ρ (f64 against the
/// formula; f32 within 1 float32 ulp of the f64 value rounded), get_sigmas_vp (f64 against
/// expm1; f32 within the documented loss), diffusers' Euler sigmas against sqrt((1 − ā)/ā)
/// computed in float32 from the real diffusers alphas_cumprod fixture, and init_noise_sigma.
#[test]
fn new_schedule_grids() {
    let dir = tmp();
    let table = |args: &[&str]| -> PathBuf {
        let o = dir
            .path()
            .join(format!("out{}", args.join("_").replace(['-', '.'], "")));
        let mut a = vec!["eval", "schedule", "--out-dir", s(&o)];
        a.extend_from_slice(args);
        ok(&a);
        o
    };
    let (smin, smax, rho) = (0.0292f64, 14.6146f64, 3.0f64);
    let o = table(&[
        "--schedule",
        "k-diffusion-karras",
        "--sigma-min",
        "0.0292",
        "--sigma-max",
        "14.6146",
        "--rho",
        "3",
        "--steps",
        "10",
    ]);
    let (_, sig) = read(&o.join("sigmas.npy"));
    assert_eq!(sig.len(), 11);
    assert_eq!(sig[10], 0.0);
    for (i, &v) in sig[..10].iter().enumerate() {
        let r = i as f64 / 9.0;
        let want =
            (smax.powf(1.0 / rho) + r * (smin.powf(1.0 / rho) - smax.powf(1.0 / rho))).powf(rho);
        assert!(rel(v, want) <= 8.0 * f64::EPSILON, "{i}: {v} vs {want}");
    }
    let o = table(&[
        "--schedule",
        "k-diffusion-karras",
        "--sigma-min",
        "0.0292",
        "--sigma-max",
        "14.6146",
        "--rho",
        "3",
        "--steps",
        "10",
        "--precision",
        "f32",
    ]);
    let (_, s32) = read(&o.join("sigmas.npy"));
    // float32: u = hi + r·(lo − hi) carries two roundings relative to max(hi, |lo − hi|),
    // i.e. 2ε₃₂·hi/u relative to u, and σ = u^ρ multiplies that by ρ (+ one rounding).
    let (hi, lo) = (smax.powf(1.0 / rho), smin.powf(1.0 / rho));
    for (i, (a, b)) in s32.iter().zip(&sig).take(10).enumerate() {
        assert_eq!(*a, f64::from(*a as f32));
        let u = b.powf(1.0 / rho);
        let tol = (rho * 2.0 * hi.max(hi - lo) / u + 1.0) * f64::from(f32::EPSILON);
        assert!(rel(*a, *b) <= tol, "{i}: {a} vs {b} (tolerance {tol:e})");
    }
    let o = table(&[
        "--schedule",
        "k-diffusion-exponential",
        "--sigma-min",
        "0.1",
        "--sigma-max",
        "10",
        "--steps",
        "5",
    ]);
    let (_, e) = read(&o.join("sigmas.npy"));
    for (i, v) in e[..5].iter().enumerate() {
        let want = (10f64.ln() + i as f64 / 4.0 * (0.1f64.ln() - 10f64.ln())).exp();
        assert!(rel(*v, want) <= 8.0 * f64::EPSILON, "{v} vs {want}");
    }
    // get_sigmas_vp.
    let o = table(&["--schedule", "k-diffusion-vp", "--steps", "10"]);
    let (_, v64) = read(&o.join("sigmas.npy"));
    let o = table(&[
        "--schedule",
        "k-diffusion-vp",
        "--steps",
        "10",
        "--precision",
        "f32",
    ]);
    let (_, v32) = read(&o.join("sigmas.npy"));
    for i in 0..10 {
        let t = 1.0 + i as f64 / 9.0 * (1e-3 - 1.0);
        let want = (19.9 * t * t / 2.0 + 0.1 * t).exp_m1().sqrt();
        assert!(rel(v64[i], want) <= 1e-14, "vp {i}: {} vs {want}", v64[i]);
        // Documented float32 loss (divergence k-diffusion-vp-float32): ≤ 5e-4 at the end.
        assert!(
            rel(v32[i], want) <= if i == 9 { 5e-4 } else { 1e-6 },
            "vp f32 {i}: {} vs {want}",
            v32[i]
        );
    }
    // diffusers Euler, scaled_linear, all 1000 steps with linspace spacing: the timesteps
    // are the integers, so the sigmas are the training sigmas, which diffusers forms in
    // float32 from its alphas_cumprod (the real library's, in the fixtures).
    let fix = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/presets/diffusers_scaled_linear_alphas_cumprod.npy");
    let (_, ac) = read(&fix);
    let o = table(&[
        "--schedule",
        "diffusers-euler-scaled-linear",
        "--precision",
        "f32",
        "--steps",
        "1000",
    ]);
    let (_, es) = read(&o.join("sigmas.npy"));
    let (_, init) = read(&o.join("init_noise_sigma.npy"));
    assert_eq!(es.len(), 1001);
    for i in 0..1000 {
        let a = ac[999 - i] as f32;
        let want = ((1.0f32 - a) / a).sqrt();
        assert_eq!(es[i], f64::from(want), "sigma {i}");
    }
    assert_eq!(init[0], es[0], "linspace: init_noise_sigma = max sigma");
    // Leading spacing: init_noise_sigma = sqrt(max^2 + 1) in float32.
    let o = table(&[
        "--schedule",
        "diffusers-euler-scaled-linear",
        "--precision",
        "f32",
        "--steps",
        "50",
        "--spacing",
        "leading",
        "--steps-offset",
        "1",
    ]);
    let (_, ls) = read(&o.join("sigmas.npy"));
    let (_, ts) = read(&o.join("timesteps.npy"));
    let (_, init) = read(&o.join("init_noise_sigma.npy"));
    assert_eq!((ts[0], ts[49]), (981.0, 1.0));
    let m = ls[0] as f32;
    assert_eq!(init[0], f64::from((m * m + 1.0).sqrt()));
    let a = ac[981] as f32;
    assert_eq!(ls[0], f64::from(((1.0f32 - a) / a).sqrt()));
    // Karras: from the first to the last interpolated sigma, rho = 7, ends exact to f32.
    let o = table(&[
        "--schedule",
        "diffusers-euler-scaled-linear",
        "--precision",
        "f32",
        "--steps",
        "50",
        "--spacing",
        "leading",
        "--steps-offset",
        "1",
        "--karras",
    ]);
    let (_, ks) = read(&o.join("sigmas.npy"));
    assert_eq!(ks.len(), 51);
    assert_eq!(ks[0], ls[0]);
    assert!(
        rel(ks[49], ls[49]) <= f32::EPSILON as f64,
        "{} vs {}",
        ks[49],
        ls[49]
    );
    // Options a preset does not take: exit 2 naming the flag.
    let out = dir.path().join("out_bad");
    refused(
        &[
            "eval",
            "schedule",
            "--schedule",
            "diffusers-linear",
            "--karras",
            "--out-dir",
            s(&out),
        ],
        dir.path(),
        &["--karras"],
    );
    refused(
        &[
            "eval",
            "schedule",
            "--schedule",
            "diffusers-euler-linear",
            "--steps",
            "10",
            "--karras",
            "--rho",
            "3",
            "--out-dir",
            s(&out),
        ],
        dir.path(),
        &["--rho"],
    );
    refused(
        &[
            "eval",
            "schedule",
            "--schedule",
            "k-diffusion-karras",
            "--sigma-min",
            "5",
            "--sigma-max",
            "1",
            "--out-dir",
            s(&out),
        ],
        dir.path(),
        &["--sigma-max"],
    );
    refused(
        &[
            "eval",
            "schedule",
            "--schedule",
            "k-diffusion-exponential",
            "--sigma-min",
            "0",
            "--out-dir",
            s(&out),
        ],
        dir.path(),
        &["--sigma-min"],
    );
}

/// The softmax form's closed-form noise expectation (weights held at their ε-averaged
/// logits) against Monte Carlo over ε with those weights, computed here from the definition
/// (plain f64 projections and softmax): agreement within 5 standard errors. Dropping the
/// noise term a(1 − a)Σ w_k w_l ‖U_kᵀU_l‖² or using the unshifted logits φα²‖U_kᵀx‖²
/// with unequal ranks moves the value by many standard errors.
#[test]
fn softmax_dae_loss_matches_monte_carlo_with_fixed_weights() {
    use diffusion_lowdim::NoiseLevel;
    use diffusion_lowdim::rng::{seeded, standard_normal};
    let c = 0.6f64;
    let u0 = faer::mat![[c, 0.0], [0.8, 0.0], [0.0, 1.0], [0.0, 0.0]];
    let u1 = faer::mat![[0.0], [0.0], [0.6], [0.8]];
    let xs = faer::mat![
        [1.0, 0.3, -0.5],
        [0.5, 0.2, 1.0],
        [0.2, 1.0, 0.4],
        [-0.3, 0.9, 0.1]
    ];
    let level = NoiseLevel::new(0.9, 0.7).unwrap();
    let (alpha, beta) = (0.9f64, 0.7f64);
    let got = diffusion_lowdim::reduction::dae_loss_softmax_at_level(
        &[u0.as_ref(), u1.as_ref()],
        xs.as_ref(),
        level,
    )
    .unwrap();
    let bases = [u0.as_ref(), u1.as_ref()];
    let g = alpha / (alpha * alpha + beta * beta);
    let phi = alpha * alpha / (2.0 * beta * beta * (alpha * alpha + beta * beta));
    let proj = |u: faer::MatRef<'_, f64>, v: &[f64]| -> Vec<f64> {
        let cf: Vec<f64> = (0..u.ncols())
            .map(|l| (0..4).map(|i| u[(i, l)] * v[i]).sum())
            .collect();
        (0..4)
            .map(|i| (0..u.ncols()).map(|l| u[(i, l)] * cf[l]).sum())
            .collect()
    };
    let mut rng = seeded(14);
    let m = 40_000;
    let (mut mean, mut var) = (0.0, 0.0);
    for n in 0..xs.ncols() {
        let x: Vec<f64> = (0..4).map(|i| xs[(i, n)]).collect();
        let logits: Vec<f64> = bases
            .iter()
            .map(|u| {
                let p = proj(*u, &x);
                let q: f64 = p.iter().map(|v| v * v).sum();
                phi * (alpha * alpha * q + beta * beta * u.ncols() as f64)
            })
            .collect();
        let mx = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - mx).exp()).collect();
        let w: Vec<f64> = e.iter().map(|v| v / e.iter().sum::<f64>()).collect();
        let eps = standard_normal(&mut rng, 4, m);
        let (mut s1, mut s2) = (0.0, 0.0);
        for j in 0..m {
            let xt: Vec<f64> = (0..4).map(|i| alpha * x[i] + beta * eps[(i, j)]).collect();
            let mut out = [0.0; 4];
            for (k, u) in bases.iter().enumerate() {
                let p = proj(*u, &xt);
                for i in 0..4 {
                    out[i] += g * w[k] * p[i];
                }
            }
            let err: f64 = (0..4).map(|i| (out[i] - x[i]).powi(2)).sum();
            s1 += err;
            s2 += err * err;
        }
        let mu = s1 / m as f64;
        mean += mu;
        var += (s2 / m as f64 - mu * mu) / m as f64;
    }
    let se = var.sqrt();
    assert!(
        (got - mean).abs() <= 5.0 * se,
        "softmax loss {got} vs Monte Carlo {mean} ± {se}"
    );
}

/// Hostile sizes and values for the new presets' options: exit 2 naming the flag.
#[test]
fn new_presets_refuse_hostile_options() {
    let dir = tmp();
    let out = dir.path().join("out_t");
    for (args, word) in [
        (
            vec![
                "--schedule",
                "k-diffusion-vp",
                "--steps",
                "18446744073709551615",
            ],
            "--steps",
        ),
        (
            vec!["--schedule", "diffusers-euler-linear", "--steps", "0"],
            "steps",
        ),
        (
            vec!["--schedule", "diffusers-euler-linear", "--steps", "1001"],
            "steps",
        ),
        (
            vec!["--schedule", "diffusers-euler-linear", "--karras"],
            "--karras",
        ),
        (
            vec!["--schedule", "k-diffusion-karras", "--rho", "1e-300"],
            "--sigma",
        ),
        (
            vec!["--schedule", "k-diffusion-karras", "--rho", "NaN"],
            "--rho",
        ),
        (
            vec!["--schedule", "k-diffusion-karras", "--sigma-max", "inf"],
            "--sigma-max",
        ),
        (
            vec!["--schedule", "edm", "--sigma-min", "-1"],
            "--sigma-min",
        ),
        (
            vec!["--schedule", "score-sde-vp", "--sigma-min", "0.1"],
            "--sigma-min",
        ),
    ] {
        let mut a = vec!["eval", "schedule", "--out-dir", s(&out)];
        a.extend(args);
        refused(&a, dir.path(), &[word]);
    }
}
