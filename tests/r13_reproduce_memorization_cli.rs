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
