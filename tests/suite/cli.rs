//! The command-line tool: exit codes, the JSON report, atomic writes.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_diffusion-lowdim"))
}

fn tmpdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dl-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn check_writes_a_report_and_exits_zero() {
    let dir = tmpdir("ok");
    let path = dir.join("report.json");
    let out = bin()
        .args([
            "check", "--only", "R02,r04", "--cases", "5", "--seed", "3", "--report",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("R02") && stdout.contains("R04") && stdout.contains("pass"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(json["seed"], 3);
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        for key in [
            "id",
            "title",
            "status",
            "instances",
            "max_error",
            "tolerance",
            "seconds",
        ] {
            assert!(r.get(key).is_some(), "missing {key}");
        }
        assert_eq!(r["status"], "pass");
        assert_eq!(r["instances"], 5);
    }
    // Same seed, same report (but for wall time).
    let path2 = dir.join("again.json");
    assert!(
        bin()
            .args([
                "check", "--only", "R02,r04", "--cases", "5", "--seed", "3", "--report"
            ])
            .arg(&path2)
            .status()
            .unwrap()
            .success()
    );
    let strip = |p: &std::path::Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        for r in v["results"].as_array_mut().unwrap() {
            r["seconds"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(strip(&path), strip(&path2));
}

#[test]
fn unknown_id_is_a_usage_error() {
    let out = bin().args(["check", "--only", "R99"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("R99") && err.contains("R01"), "{err}");
}

#[test]
fn zero_cases_is_a_usage_error() {
    let out = bin().args(["check", "--cases", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn unwritable_report_fails_and_leaves_no_file() {
    let dir = tmpdir("bad");
    let path = dir.join("missing-subdir").join("report.json");
    let out = bin()
        .args(["check", "--only", "R04", "--cases", "2", "--report"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing-subdir"));
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no temporary file left behind"
    );
}
