//! Model files and `eval`: round trips, inline arrays, float32 promotion, array
//! orders, and agreement of the command line with the library.

use super::interop_support;

use diffusion_lowdim::NoiseLevel;
use diffusion_lowdim::io::fsio::write_dir_atomic;
use diffusion_lowdim::io::model_file::{ComponentSpec, GaussianCovariance, ModelSpec, load};
use diffusion_lowdim::linalg::random_orthonormal;
use diffusion_lowdim::model::ModelKind;
use diffusion_lowdim::rng::{seeded, standard_normal};
use diffusion_lowdim::service::eval::{LevelSpec, Quantity, evaluate_matrix};
use diffusion_lowdim::service::presets::TableOptions;
use faer::Mat;
use interop_support::*;
use npyz::Order;

fn specs() -> Vec<(&'static str, ModelSpec)> {
    let mut g = seeded(5);
    let u = random_orthonormal(&mut g, 6, 2).unwrap();
    let q = random_orthonormal(&mut g, 6, 6).unwrap();
    let sig = {
        let s = Mat::from_fn(6, 6, |i, j| q[(i, j)] * (1.0 + j as f64));
        let full = &s * q.transpose();
        Mat::from_fn(6, 6, |i, j| 0.5 * (full[(i, j)] + full[(j, i)]))
    };
    vec![
        (
            "gaussian",
            ModelSpec::Gaussian {
                mean: vec![0.1, -0.2, 0.3, 0.0, 0.5, -0.6],
                covariance: GaussianCovariance::Basis {
                    basis: u.clone(),
                    variances: vec![2.0, 0.5],
                },
            },
        ),
        (
            "gaussian-full",
            ModelSpec::Gaussian {
                mean: vec![0.0; 6],
                covariance: GaussianCovariance::Full(sig),
            },
        ),
        (
            "molrg",
            ModelSpec::Molrg {
                weights: vec![0.25, 0.75],
                components: vec![
                    ComponentSpec {
                        basis: u.clone(),
                        variances: Some(vec![1.5, 0.7]),
                    },
                    ComponentSpec {
                        basis: random_orthonormal(&mut g, 6, 3).unwrap(),
                        variances: None,
                    },
                ],
            },
        ),
        (
            "empirical",
            ModelSpec::Empirical {
                points: standard_normal(&mut g, 6, 9),
            },
        ),
        ("pca", ModelSpec::Pca { basis: u.clone() }),
        (
            "k-subspaces",
            ModelSpec::KSubspaces {
                bases: vec![u, random_orthonormal(&mut g, 6, 2).unwrap()],
            },
        ),
    ]
}

fn bits(m: &Mat<f64>) -> Vec<u64> {
    (0..m.ncols())
        .flat_map(|j| (0..m.nrows()).map(move |i| (i, j)))
        .map(|(i, j)| m[(i, j)].to_bits())
        .collect()
}

#[test]
fn every_model_kind_round_trips_through_its_files_bit_for_bit() {
    let dir = tmp();
    let x = standard_normal(&mut seeded(9), 6, 4);
    let level = NoiseLevel::new(0.7, 0.4).unwrap();
    for (name, spec) in specs() {
        let out = dir.path().join(name);
        write_dir_atomic(&out, &spec.files("", Some("a test model")), false).unwrap();
        let loaded = load(&out.join("model.json")).unwrap();
        assert_eq!(loaded.spec, spec, "{name}: arrays changed on the way");
        assert_eq!(loaded.kind.name(), spec.kind().name());
        let direct = spec.build().unwrap();
        for q in [Quantity::PosteriorMean, Quantity::Score, Quantity::Jacobian] {
            let a = evaluate_matrix(direct.exact(), &x, level, q).unwrap();
            let b = evaluate_matrix(loaded.model.exact(), &x, level, q).unwrap();
            assert_eq!(a, b, "{name} {q:?}");
        }
    }
}

#[test]
fn inline_json_arrays_define_the_same_model_as_npy_files() {
    let dir = tmp();
    let manifest = dir.path().join("inline.json");
    write_json(
        &manifest,
        &serde_json::json!({
            "format": "diffusion-lowdim/model", "schema_version": 1, "kind": "molrg",
            "weights": [0.5, 0.5],
            "components": [
                {"basis": [[1.0], [0.0], [0.0]]},
                {"basis": [[0.0], [0.6], [0.8]], "variances": [2.0]}
            ]
        }),
    );
    let inline = load(&manifest).unwrap();
    assert_eq!(inline.kind, ModelKind::Molrg);
    write_f64(&dir.path().join("u0.npy"), &[3, 1], &[1.0, 0.0, 0.0]);
    write_f64(&dir.path().join("u1.npy"), &[3, 1], &[0.0, 0.6, 0.8]);
    let files = dir.path().join("files.json");
    write_json(
        &files,
        &serde_json::json!({
            "format": "diffusion-lowdim/model", "schema_version": 1, "kind": "molrg",
            "description": "same model, arrays in files",
            "weights": [0.5, 0.5],
            "components": [{"basis": "u0.npy"}, {"basis": "u1.npy", "variances": [2.0]}]
        }),
    );
    let from_files = load(&files).unwrap();
    let x = standard_normal(&mut seeded(3), 3, 5);
    let l = NoiseLevel::new(0.9, 0.3).unwrap();
    let a = inline
        .model
        .denoiser()
        .posterior_mean(x.as_ref(), l)
        .unwrap();
    let b = from_files
        .model
        .denoiser()
        .posterior_mean(x.as_ref(), l)
        .unwrap();
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn fortran_order_and_big_endian_arrays_read_as_the_same_values() {
    let dir = tmp();
    // Basis (3, 2) with columns e1 and (0, 0.6, 0.8): C order is row by row.
    let c_data = [1.0, 0.0, 0.0, 0.6, 0.0, 0.8];
    let f_data = [1.0, 0.0, 0.0, 0.0, 0.6, 0.8];
    write_f64(&dir.path().join("c.npy"), &[3, 2], &c_data);
    write_typed::<f64>(
        &dir.path().join("f.npy"),
        "<f8",
        &[3, 2],
        &f_data,
        Order::Fortran,
    );
    write_typed::<f64>(
        &dir.path().join("be.npy"),
        ">f8",
        &[3, 2],
        &c_data,
        Order::C,
    );
    let (_, c) = read(&dir.path().join("c.npy"));
    let (_, f) = read(&dir.path().join("f.npy"));
    let (_, be) = read(&dir.path().join("be.npy"));
    assert_eq!(c, f);
    assert_eq!(c, be);
}

#[test]
fn float32_inputs_are_promoted_exactly_and_outputs_are_float64() {
    let dir = tmp();
    let spec = &specs()[2].1; // MoLRG
    write_dir_atomic(&dir.path().join("m"), &spec.files("", None), false).unwrap();
    let xs: Vec<f32> = (0..12).map(|i| (i as f32 * 0.37).sin()).collect();
    write_f32(&dir.path().join("x32.npy"), &[2, 6], &xs);
    let promoted: Vec<f64> = xs.iter().map(|&v| f64::from(v)).collect();
    write_f64(&dir.path().join("x64.npy"), &[2, 6], &promoted);
    let model = dir.path().join("m/model.json");
    for x in ["x32", "x64"] {
        let o = run(&[
            "eval",
            "score",
            "--model",
            s(&model),
            "--x",
            s(&dir.path().join(format!("{x}.npy"))),
            "--alpha",
            "0.8",
            "--beta",
            "0.6",
            "--out",
            s(&dir.path().join(format!("{x}-out.npy"))),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let a = std::fs::read(dir.path().join("x32-out.npy")).unwrap();
    let b = std::fs::read(dir.path().join("x64-out.npy")).unwrap();
    assert_eq!(
        a, b,
        "f32 input must give the same f64 output as its exact promotion"
    );
    let out = diffusion_lowdim::io::npy::read(&dir.path().join("x32-out.npy")).unwrap();
    assert_eq!(
        out.stored(),
        diffusion_lowdim::io::npy::StoredPrecision::F64
    );
    assert_eq!(out.shape(), &[2, 6]);
}

#[test]
fn eval_commands_write_what_the_library_computes() {
    let dir = tmp();
    let x = standard_normal(&mut seeded(11), 6, 3);
    let xa = diffusion_lowdim::io::npy::Array::from_batch(x.as_ref());
    std::fs::write(
        dir.path().join("x.npy"),
        diffusion_lowdim::io::npy::encode(&xa),
    )
    .unwrap();
    let level = NoiseLevel::new(0.8, 0.6).unwrap();
    for (name, spec) in specs() {
        let mdir = dir.path().join(name);
        write_dir_atomic(&mdir, &spec.files("", None), false).unwrap();
        let model = spec.build().unwrap();
        for (sub, q) in [
            ("posterior-mean", Quantity::PosteriorMean),
            ("score", Quantity::Score),
            ("jacobian", Quantity::Jacobian),
        ] {
            let out = dir.path().join(format!("{name}-{sub}.npy"));
            let o = run(&[
                "eval",
                sub,
                "--model",
                s(&mdir.join("model.json")),
                "--x",
                s(&dir.path().join("x.npy")),
                "--alpha",
                "0.8",
                "--beta",
                "0.6",
                "--out",
                s(&out),
            ]);
            assert!(
                o.status.success(),
                "{name} {sub}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let (shape, data) = read(&out);
            let want = evaluate_matrix(model.exact(), &x, level, q).unwrap();
            assert_eq!(shape, want.shape());
            assert_eq!(data, want.data(), "{name} {sub}");
        }
    }
}

#[test]
fn the_four_ways_of_giving_a_noise_level_agree() {
    let sigma = LevelSpec::Sigma(2.5).resolve().unwrap();
    let ab = LevelSpec::AlphaBeta {
        alpha: 1.0,
        beta: 2.5,
    }
    .resolve()
    .unwrap();
    let ve = LevelSpec::Schedule {
        name: "ve".into(),
        t: 2.5,
        options: TableOptions::default(),
    }
    .resolve()
    .unwrap();
    assert_eq!(sigma, ab);
    assert_eq!(sigma, ve);
    // A diffusers train timestep: alpha² = alphas_cumprod[t].
    let l = LevelSpec::Schedule {
        name: "diffusers-linear".into(),
        t: 500.0,
        options: TableOptions::default(),
    }
    .resolve()
    .unwrap();
    assert!((l.alpha().powi(2) + l.beta().powi(2) - 1.0).abs() < 1e-15);
    let unknown = LevelSpec::Schedule {
        name: "nope".into(),
        t: 1.0,
        options: TableOptions::default(),
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(
        unknown.contains("nope") && unknown.contains("diffusers-linear"),
        "{unknown}"
    );
    // The command line takes the same forms.
    let dir = tmp();
    write_dir_atomic(&dir.path().join("m"), &specs()[4].1.files("", None), false).unwrap();
    write_f64(
        &dir.path().join("x.npy"),
        &[1, 6],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    );
    let mut outs = Vec::new();
    for (k, level) in [
        vec!["--sigma", "2.5"],
        vec!["--alpha", "1", "--beta", "2.5"],
        vec!["--schedule", "ve", "--t", "2.5"],
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.path().join(format!("o{k}.npy"));
        let mut args = vec!["eval", "posterior-mean", "--model"];
        let model = dir.path().join("m/model.json");
        let x = dir.path().join("x.npy");
        args.extend([s(&model), "--x", s(&x), "--out", s(&out)]);
        args.extend(level);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        outs.push(std::fs::read(&out).unwrap());
    }
    assert!(outs.windows(2).all(|w| w[0] == w[1]));
    // No level, or two levels: a usage error (exit 2).
    let model = dir.path().join("m/model.json");
    let x = dir.path().join("x.npy");
    let out = dir.path().join("bad.npy");
    let o = run(&[
        "eval",
        "score",
        "--model",
        s(&model),
        "--x",
        s(&x),
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

#[test]
fn convert_command_inverts_itself() {
    let dir = tmp();
    let x: Vec<f64> = (0..8).map(|i| (i as f64).cos()).collect();
    let eps: Vec<f64> = (0..8).map(|i| (i as f64 * 0.7).sin()).collect();
    write_f64(&dir.path().join("x.npy"), &[2, 4], &x);
    write_f64(&dir.path().join("eps.npy"), &[2, 4], &eps);
    let p = |n: &str| dir.path().join(n);
    for (from, to, input, out) in [
        ("eps", "x0", "eps.npy", "x0.npy"),
        ("x0", "eps", "x0.npy", "back.npy"),
    ] {
        let o = run(&[
            "eval",
            "convert",
            "--from",
            from,
            "--to",
            to,
            "--x",
            s(&p("x.npy")),
            "--value",
            s(&p(input)),
            "--alpha",
            "0.6",
            "--beta",
            "0.8",
            "--out",
            s(&p(out)),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (_, back) = read(&p("back.npy"));
    for (a, b) in back.iter().zip(&eps) {
        assert!(
            (a - b).abs() <= 4.0 * f64::EPSILON * (1.0 + b.abs()) / 0.6,
            "{a} {b}"
        );
    }
}
