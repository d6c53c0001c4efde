//! R13: the `reproduce memorization` command.

use std::process::Command;

use diffusion_lowdim::figure::memorization::CSV_HEADER;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_diffusion-lowdim"))
        .args(args)
        .output()
        .expect("the binary runs")
}

const SMALL: [&str; 10] = [
    "--dim",
    "16",
    "--rank",
    "4",
    "--samples",
    "16",
    "--ratios",
    "0.5,1,2",
    "--steps",
    "6",
];

#[test]
fn r13_cli_memorization_writes_csv_and_svg_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for out in [&a, &b] {
        let mut args = vec![
            "reproduce",
            "memorization",
            "--seed",
            "7",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(SMALL);
        let o = run(&args);
        assert!(
            o.status.success(),
            "stderr: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let csv = std::fs::read_to_string(a.join("memorization.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some(CSV_HEADER));
    assert_eq!(csv.lines().count(), 1 + 2 * 3);
    assert_eq!(
        csv,
        std::fs::read_to_string(b.join("memorization.csv")).unwrap()
    );
    let svg = std::fs::read_to_string(a.join("memorization.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<text"));
    assert_eq!(
        svg,
        std::fs::read_to_string(b.join("memorization.svg")).unwrap()
    );
}

#[test]
fn r13_cli_memorization_error_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    // Too few noises for a standard error: refused before anything is written.
    let o = run(&[
        "reproduce",
        "memorization",
        "--samples",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("samples"));
    assert!(!out.exists());
    // d < K·r: refused too.
    let o = run(&[
        "reproduce",
        "memorization",
        "--dim",
        "3",
        "--rank",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(!out.exists());
    // The output path is a file, not a directory: an I/O error, and the file is untouched.
    let file = dir.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    let mut args = vec!["reproduce", "memorization", "--out", file.to_str().unwrap()];
    args.extend(SMALL);
    let o = run(&args);
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Every memorization figure the README states, from `reproduce memorization` with its
/// defaults (MoLRG d = 96, r = 24, K = 2, 200 noises, Heun on 18 EDM steps, seed 0): for
/// N ≥ r the low-rank denoiser has RP = 1 and GL in [0.925, 0.985] and E_gen < 1e-12; below
/// r its RP is 6/200, 51/200 and 148/200 at N/r = 0.25, 0.5, 0.75; the memorizing denoiser
/// has GL = 0 and RP ≤ 3/200 at every N. The run is deterministic (fixed seed), so these are
/// exact regression values of the README's table, not statistical claims.
#[test]
fn r13_readme_memorization_figures() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "reproduce",
        "memorization",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let csv = std::fs::read_to_string(dir.path().join("memorization.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (ratio, denoiser, rp, gl, e_gen) = (
        col("ratio"),
        col("denoiser"),
        col("rp"),
        col("gl"),
        col("e_gen"),
    );
    let mut low_rank_below = Vec::new();
    let mut rows = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| f[i].parse::<f64>().unwrap();
        rows += 1;
        match f[denoiser] {
            "low-rank" if num(ratio) >= 1.0 => {
                assert_eq!(num(rp), 1.0, "{line}");
                assert!((0.925..=0.985).contains(&num(gl)), "{line}");
                assert!(num(e_gen) < 1e-12, "{line}");
            }
            "low-rank" => low_rank_below.push((num(ratio), (num(rp) * 200.0).round())),
            "memorizing" => {
                assert_eq!(num(gl), 0.0, "{line}");
                assert!(num(rp) <= 0.015, "{line}");
            }
            other => panic!("unexpected denoiser {other}"),
        }
    }
    assert_eq!(rows, 16);
    assert_eq!(
        low_rank_below,
        vec![(0.25, 6.0), (0.5, 51.0), (0.75, 148.0)]
    );
}
