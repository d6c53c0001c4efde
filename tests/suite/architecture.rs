//! The architecture as docs/architecture.md states it: no module uses a module of a higher
//! layer, and the results' tables in README.md, docs/README.md and src/lib.rs list exactly the
//! registry's results, with its titles and proofs.

use std::fs;
use std::path::{Path, PathBuf};

use diffusion_lowdim::theorem::registry;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(module path, layer)` from the "Layers" table of docs/architecture.md.
fn layers() -> Vec<(String, usize)> {
    let doc = fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let mut out = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 {
            continue;
        }
        let Ok(layer) = cells[1].parse::<usize>() else {
            continue;
        };
        for m in cells[2].split('`').skip(1).step_by(2) {
            out.push((m.to_string(), layer));
        }
    }
    assert!(out.len() >= 20, "the layer table was not found: {out:?}");
    out
}

fn layer_of(path: &str, table: &[(String, usize)]) -> Option<usize> {
    table
        .iter()
        .filter(|(m, _)| path == m || path.starts_with(&format!("{m}::")))
        .max_by_key(|(m, _)| m.len())
        .map(|&(_, l)| l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every `crate::a::b` path in the production code of `src/` (before `#[cfg(test)]`, comments
/// removed) points to the same or a lower layer than the file's own module.
#[test]
fn no_module_uses_a_higher_layer() {
    let table = layers();
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().with_extension("");
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .filter(|p| p != "mod")
            .collect();
        if parts == ["lib"] || parts == ["main"] {
            continue;
        }
        let me = parts.join("::");
        let mine = layer_of(&me, &table).unwrap_or_else(|| panic!("{me} is in no layer"));
        let text = fs::read_to_string(&f).unwrap();
        let production = text.split("#[cfg(test)]").next().unwrap();
        for line in production.lines() {
            let code = line.split("//").next().unwrap();
            for (i, _) in code.match_indices("crate::") {
                let tail = &code[i + "crate::".len()..];
                let path: String = tail
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
                let target = segs.iter().take(2).copied().collect::<Vec<_>>().join("::");
                let Some(theirs) = layer_of(&target, &table) else {
                    continue; // a crate-root item (`crate::Error`, …)
                };
                checked += 1;
                if theirs > mine {
                    violations.push(format!(
                        "{me} (layer {mine}) uses crate::{target} (layer {theirs})"
                    ));
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} paths checked");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

/// The rows `| Rnn | … |` of a markdown table (optionally behind a `//! ` prefix).
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.trim_start_matches("//!").trim())
        .filter(|l| l.starts_with("| R") && l.as_bytes().get(4).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            l.replace("\\|", "\u{1}")
                .split('|')
                .map(|c| c.trim().replace('\u{1}', "|"))
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect()
}

/// README.md, docs/README.md and src/lib.rs list the registry's ids in order; docs/README.md
/// writes each title exactly as the registry does (the titles exist once, in
/// `theorem/rNN.rs`), and the README's and docs' rows link the registry's proof file.
#[test]
fn result_tables_match_the_registry() {
    let reg = registry();
    let ids: Vec<&str> = reg.iter().map(|t| t.id).collect();
    for (file, title_col, proof_col) in [
        ("README.md", None, Some(3)),
        ("docs/README.md", Some(1), Some(2)),
        ("src/lib.rs", None, None),
    ] {
        let text = fs::read_to_string(root().join(file)).unwrap();
        let rows = rows(&text);
        let got: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(got, ids, "{file}: the ids of its results table");
        for (row, t) in rows.iter().zip(reg) {
            if let Some(c) = title_col {
                assert_eq!(row[c], t.title, "{file}: the title of {}", t.id);
            }
            if let Some(c) = proof_col {
                assert!(
                    row[c].contains(t.proof),
                    "{file}: {} must link {}",
                    t.id,
                    t.proof
                );
            }
            if file == "src/lib.rs" {
                let check = format!("theorem::{}", t.id.to_lowercase());
                assert!(
                    row.iter().any(|c| c.contains(&check)),
                    "{file}: {} must link {check}",
                    t.id
                );
            }
        }
    }
}
