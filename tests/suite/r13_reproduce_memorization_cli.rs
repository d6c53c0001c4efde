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
/// has GL = 0 and RP ≤ 3/200 at every N; and every entry of the table in docs/metrics.md. The
/// run is deterministic (fixed seed), so these are exact regression values, not statistical
/// claims.
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
    // docs/metrics.md's table: RP and GL of both denoisers (counts of 200), E_gen to the
    // printed digits (two decimals, or two significant digits at rounding level).
    let table: [(f64, [u32; 4], f64, f64); 8] = [
        (0.25, [6, 116, 0, 0], 4.86, 6.36),
        (0.5, [51, 168, 0, 0], 4.15, 6.23),
        (0.75, [148, 185, 0, 0], 3.24, 6.08),
        (1.0, [200, 197, 3, 0], 7.6e-14, 5.98),
        (1.5, [200, 196, 1, 0], 8.2e-14, 5.87),
        (2.0, [200, 190, 0, 0], 9.2e-14, 5.58),
        (3.0, [200, 185, 1, 0], 6.6e-14, 5.67),
        (4.0, [200, 189, 0, 0], 9.1e-14, 5.62),
    ];
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let printed = |x: f64, like: f64| -> f64 {
        if like < 1e-6 {
            let e = x.log10().floor();
            (x / 10f64.powf(e - 1.0)).round() * 10f64.powf(e - 1.0)
        } else {
            (x * 100.0).round() / 100.0
        }
    };
    for (ratio_v, counts, egen_low, egen_mem) in table {
        let row = |name: &str| {
            rows.iter()
                .find(|f| f[ratio].parse::<f64>().unwrap() == ratio_v && f[denoiser] == name)
                .unwrap()
        };
        let (low, mem) = (row("low-rank"), row("memorizing"));
        let count =
            |f: &Vec<String>, i: usize| (f[i].parse::<f64>().unwrap() * 200.0).round() as u32;
        assert_eq!(
            [
                count(low, rp),
                count(low, gl),
                count(mem, rp),
                count(mem, gl)
            ],
            counts,
            "N/r = {ratio_v}"
        );
        let eg = |f: &Vec<String>| f[e_gen].parse::<f64>().unwrap();
        assert!(
            (printed(eg(low), egen_low) - egen_low).abs() <= 1e-9 * egen_low,
            "N/r = {ratio_v}: E_gen low-rank {}",
            eg(low)
        );
        assert!(
            (printed(eg(mem), egen_mem) - egen_mem).abs() <= 1e-9 * egen_mem,
            "N/r = {ratio_v}: E_gen memorizing {}",
            eg(mem)
        );
    }
}
