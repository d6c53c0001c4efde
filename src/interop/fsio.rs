//! Atomic output: no half-written file or directory is ever left behind.
//!
//! A file is written to a temporary file in its target directory and renamed
//! into place when complete ([`write_file_atomic`]). A directory of files
//! (a golden suite, a schedule table) is assembled in memory as a
//! [`DirContents`] and written by [`write_dir_atomic`]: every file goes into a
//! temporary directory next to the target, which is renamed onto the target
//! name at the end. On any error the temporary file or directory is removed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{InteropError, Result};

/// The files of a directory to be written, by relative path (`/`-separated).
///
/// A `BTreeMap`, so files are written in a fixed order.
pub type DirContents = BTreeMap<String, Vec<u8>>;

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
///
/// # Errors
/// [`InteropError::Write`] naming `path`; no file is left behind.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| InteropError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".diffusion-lowdim-")
        .suffix(".tmp")
        .tempfile_in(parent_of(path))
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.flush().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes `files` as the directory `out`, atomically.
///
/// The directory is built under a temporary name next to `out` and renamed to
/// `out` when complete. If `out` exists it is an error unless `replace` is
/// true, in which case the old directory is moved aside, the new one renamed
/// into place, and the old one removed.
///
/// # Errors
/// [`InteropError::OutputExists`], [`InteropError::Write`]; on error nothing is
/// left behind (the temporary directory is removed and `out` is untouched).
pub fn write_dir_atomic(out: &Path, files: &DirContents, replace: bool) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InteropError::Write { path, source }
    };
    let exists = out.symlink_metadata().is_ok();
    if exists && !replace {
        return Err(InteropError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    let parent = parent_of(out);
    let tmp = tempfile::Builder::new()
        .prefix(".diffusion-lowdim-")
        .suffix(".tmp")
        .tempdir_in(parent)
        .map_err(io(out))?;
    for (rel, bytes) in files {
        let path = tmp.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(&out.join(rel)))?;
        }
        std::fs::write(&path, bytes).map_err(io(&out.join(rel)))?;
    }
    if exists {
        let aside = tempfile::Builder::new()
            .prefix(".diffusion-lowdim-old-")
            .tempdir_in(parent)
            .map_err(io(out))?;
        let aside_path: PathBuf = aside.path().join("old");
        std::fs::rename(out, &aside_path).map_err(io(out))?;
        if let Err(e) = std::fs::rename(tmp.path(), out) {
            // Put the old directory back.
            let _ = std::fs::rename(&aside_path, out);
            return Err(io(out)(e));
        }
        let _ = tmp.keep();
        drop(aside); // removes the old directory
    } else {
        std::fs::rename(tmp.path(), out).map_err(io(out))?;
        let _ = tmp.keep();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_is_written_whole_or_not_at_all() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("suite");
        let mut files = DirContents::new();
        files.insert("a.txt".into(), b"a".to_vec());
        files.insert("sub/b.txt".into(), b"b".to_vec());
        write_dir_atomic(&out, &files, false).unwrap();
        assert_eq!(std::fs::read(out.join("sub/b.txt")).unwrap(), b"b");
        // Exists: refused, untouched.
        assert!(matches!(
            write_dir_atomic(&out, &files, false),
            Err(InteropError::OutputExists { .. })
        ));
        // Replace.
        files.insert("a.txt".into(), b"new".to_vec());
        write_dir_atomic(&out, &files, true).unwrap();
        assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"new");
        // Only the target remains in the parent (no temporaries).
        let names: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("suite")]);
    }
}
