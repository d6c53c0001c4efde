//! Files in and out: bounded reads of regular files, atomic writes.
//!
//! # Reading
//! [`open_regular`] and [`read_regular`] accept only regular files (after
//! following symbolic links): a FIFO, a device such as `/dev/zero` or
//! `/dev/urandom`, a socket or a directory is refused with
//! [`InteropError::NotRegularFile`] before anything is read, so a read can
//! neither block nor grow without bound. [`read_regular`] also refuses a file
//! larger than a given limit ([`InteropError::FileTooLarge`]) before reading it.
//!
//! # Writing
//! A file is written to a temporary file in its target directory and renamed
//! into place when complete ([`write_file_atomic`]). A directory of files
//! (a golden suite, a schedule table) is assembled in memory as a
//! [`DirContents`] and written by [`write_dir_atomic`]: every file goes into a
//! temporary directory next to the target, which is renamed onto the target
//! name at the end. On any error the temporary file or directory is removed.
//!
//! Outputs get the mode a plain `File::create` gives (`0666` minus the umask;
//! directories `0777` minus the umask), and a file or directory that is replaced
//! keeps its mode. Temporaries are named `.diffusion-lowdim-*.tmp` and recorded
//! while they exist: [`remove_pending_temporaries`] removes them (the command-line
//! tool calls it on SIGINT, SIGTERM and SIGHUP before exiting).
//!
//! # Outputs that are inputs
//! [`ensure_not_input`] refuses an output path that is the same file as one of
//! the inputs (same device and inode, so links and `..` do not hide it).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{InteropError, Result};

/// The files of a directory to be written, by relative path (`/`-separated).
///
/// A `BTreeMap`, so files are written in a fixed order.
pub type DirContents = BTreeMap<String, Vec<u8>>;

/// Prefix of every temporary file or directory.
pub const TEMP_PREFIX: &str = ".diffusion-lowdim-";
/// Suffix of every temporary file or directory.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Test hook: milliseconds to sleep after creating a temporary output (so that a
/// test can interrupt a write). Read from this environment variable; unset in use.
pub const WRITE_DELAY_ENV: &str = "DIFFUSION_LOWDIM_TEST_WRITE_DELAY_MS";

/// Temporaries that exist now (files and directories), removed on a signal.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records a temporary while it lives; forgets it when dropped.
struct Pending(PathBuf);

impl Pending {
    fn new(path: &Path) -> Self {
        pending().push(path.to_path_buf());
        Self(path.to_path_buf())
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let mut list = pending();
        if let Some(i) = list.iter().position(|p| p == &self.0) {
            list.swap_remove(i);
        }
    }
}

/// Removes every temporary file or directory of a write still in progress.
///
/// Meant for a signal handler that then exits: it takes the lock that a write
/// holds while renaming its temporary into place, so it never removes a
/// finished output nor interrupts a replacement half-way.
pub fn remove_pending_temporaries() {
    let mut list = pending();
    for p in list.drain(..) {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&p);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&p);
            }
            Err(_) => {}
        }
    }
}

fn test_delay() {
    if let Some(ms) = std::env::var(WRITE_DELAY_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
    }
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// What a non-regular file is, for messages.
fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens a regular file for reading; returns it with its length.
///
/// The type is checked before opening (opening a FIFO blocks) and again on the
/// open file.
///
/// # Errors
/// [`InteropError::Read`] (missing, unreadable), [`InteropError::NotRegularFile`].
pub fn open_regular(path: &Path) -> Result<(File, u64)> {
    let read_err = |source| InteropError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(InteropError::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    let f = File::open(path).map_err(read_err)?;
    let meta = f.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(InteropError::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(meta.file_type()),
        });
    }
    Ok((f, meta.len()))
}

/// Reads exactly `len` bytes of `f` (fewer if the file shrank; an error if it grew
/// beyond `limit`).
pub(crate) fn read_to_vec(
    path: &Path,
    f: &mut File,
    len: u64,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>> {
    let too_large = |bytes: u128| InteropError::FileTooLarge {
        path: path.to_path_buf(),
        what,
        bytes,
        limit,
    };
    if len > limit {
        return Err(too_large(u128::from(len)));
    }
    let cap = usize::try_from(len).map_err(|_| too_large(u128::from(len)))?;
    let mut buf = Vec::new();
    buf.try_reserve_exact(cap)
        .map_err(|_| too_large(u128::from(len)))?;
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|source| InteropError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(too_large(buf.len() as u128));
    }
    Ok(buf)
}

/// Reads a regular file of at most `limit` bytes (`what` names it in messages).
///
/// # Errors
/// [`InteropError::Read`], [`InteropError::NotRegularFile`],
/// [`InteropError::FileTooLarge`].
pub fn read_regular(path: &Path, limit: u64, what: &'static str) -> Result<Vec<u8>> {
    let (mut f, len) = open_regular(path)?;
    read_to_vec(path, &mut f, len, limit, what)
}

/// The identity of an existing file (device and inode on Unix; the canonical path elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId(FileIdInner);

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileIdInner {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Canonical(PathBuf),
}

impl FileId {
    /// The identity of `path` after following links; `None` if it does not exist.
    pub fn of(path: &Path) -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(path)
                .ok()
                .map(|m| Self(FileIdInner::Inode(m.dev(), m.ino())))
        }
        #[cfg(not(unix))]
        {
            std::fs::canonicalize(path)
                .ok()
                .map(|p| Self(FileIdInner::Canonical(p)))
        }
    }
}

/// Refuses an output path that is the same file as one of `inputs` (each with a
/// description such as `"--x"`); `out_flag` names the output's flag.
///
/// An output that does not exist yet cannot be an input. Directories among the
/// inputs are compared too (an output file cannot be one, but an output
/// directory can).
///
/// # Errors
/// [`InteropError::OutputIsInput`].
pub fn ensure_not_input<S: AsRef<str>>(
    out_flag: &'static str,
    out: &Path,
    inputs: &[(S, &Path)],
) -> Result<()> {
    let Some(id) = FileId::of(out) else {
        return Ok(());
    };
    for (what, input) in inputs {
        if FileId::of(input).as_ref() == Some(&id) {
            return Err(InteropError::OutputIsInput {
                out_flag,
                out: out.to_path_buf(),
                input: input.to_path_buf(),
                input_what: what.as_ref().to_string(),
            });
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, then rename).
///
/// A new file gets mode `0666` minus the umask; a replaced file keeps its mode.
///
/// # Errors
/// [`InteropError::Write`] naming `path`; no file is left behind.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| InteropError::Write {
        path: path.to_path_buf(),
        source,
    };
    // The mode of the file replaced, if any (a symbolic link's target's).
    let keep = std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.permissions());
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    // Created with 0666 minus the umask, as `File::create` would (not tempfile's 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(parent_of(path)).map_err(io)?;
    let _pending = Pending::new(tmp.path());
    test_delay();
    tmp.write_all(bytes).map_err(io)?;
    tmp.flush().map_err(io)?;
    if let Some(p) = keep {
        tmp.as_file().set_permissions(p).map_err(io)?;
    }
    // Renamed under the lock a signal handler takes: never removed half-way.
    let _lock = pending();
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Writes `files` as the directory `out`, atomically.
///
/// The directory is built under a temporary name next to `out` and renamed to
/// `out` when complete. If `out` exists it is an error unless `replace` is
/// true, in which case the old directory is moved aside, the new one renamed
/// into place, and the old one removed. A new directory gets mode `0777` minus
/// the umask, a replaced one keeps its mode; files get `0666` minus the umask.
///
/// # Errors
/// [`InteropError::OutputExists`], [`InteropError::Write`]; on error nothing is
/// left behind (the temporary directory is removed and `out` is untouched).
pub fn write_dir_atomic(out: &Path, files: &DirContents, replace: bool) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InteropError::Write { path, source }
    };
    let old = out.symlink_metadata().ok();
    if old.is_some() && !replace {
        return Err(InteropError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    if let Some(m) = &old
        && !m.is_dir()
    {
        return Err(InteropError::Write {
            path: out.to_path_buf(),
            source: std::io::Error::other("exists and is not a directory; not replaced"),
        });
    }
    let parent = parent_of(out);
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o777));
    }
    let tmp = builder.tempdir_in(parent).map_err(io(out))?;
    let _pending = Pending::new(tmp.path());
    test_delay();
    for (rel, bytes) in files {
        let path = tmp.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(&out.join(rel)))?;
        }
        std::fs::write(&path, bytes).map_err(io(&out.join(rel)))?;
    }
    if let Some(m) = &old {
        std::fs::set_permissions(tmp.path(), m.permissions()).map_err(io(out))?;
        let aside = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(TEMP_SUFFIX)
            .tempdir_in(parent)
            .map_err(io(out))?;
        let _pending_aside = Pending::new(aside.path());
        let aside_path: PathBuf = aside.path().join("old");
        {
            let _lock = pending();
            std::fs::rename(out, &aside_path).map_err(io(out))?;
            if let Err(e) = std::fs::rename(tmp.path(), out) {
                // Put the old directory back.
                let _ = std::fs::rename(&aside_path, out);
                return Err(io(out)(e));
            }
            let _ = tmp.keep();
        }
        drop(aside); // removes the old directory
    } else {
        let _lock = pending();
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

    #[cfg(unix)]
    #[test]
    fn outputs_get_the_umask_mode_and_replaced_files_keep_theirs() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("f.npy");
        write_file_atomic(&f, b"1").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // 0666 minus some umask: at least owner read/write, never execute.
        assert_eq!(mode(&f) & 0o600, 0o600);
        assert_eq!(mode(&f) & 0o111, 0);
        assert_ne!(mode(&f), 0o600, "not tempfile's private mode (umask 077?)");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_file_atomic(&f, b"2").unwrap();
        assert_eq!(mode(&f), 0o640);
        assert_eq!(std::fs::read(&f).unwrap(), b"2");
        let d = root.path().join("d");
        write_dir_atomic(&d, &DirContents::new(), false).unwrap();
        assert_eq!(mode(&d) & 0o700, 0o700);
        assert_ne!(mode(&d), 0o700);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).unwrap();
        write_dir_atomic(&d, &DirContents::new(), true).unwrap();
        assert_eq!(mode(&d), 0o750);
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_refused_before_reading() {
        for p in ["/dev/zero", "/dev/urandom", "/dev/null"] {
            if Path::new(p).exists() {
                assert!(matches!(
                    read_regular(Path::new(p), 10, "x"),
                    Err(InteropError::NotRegularFile { .. })
                ));
            }
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_regular(dir.path(), 10, "x"),
            Err(InteropError::NotRegularFile {
                kind: "a directory",
                ..
            })
        ));
        let f = dir.path().join("big");
        std::fs::write(&f, [0u8; 11]).unwrap();
        assert!(matches!(
            read_regular(&f, 10, "x"),
            Err(InteropError::FileTooLarge { bytes: 11, .. })
        ));
        assert_eq!(read_regular(&f, 11, "x").unwrap().len(), 11);
    }

    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"x").unwrap();
        let via_dots = dir.path().join("sub/../a");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(ensure_not_input("--out", &via_dots, &[("--x", a.as_path())]).is_err());
        let b = dir.path().join("b");
        assert!(ensure_not_input("--out", &b, &[("--x", a.as_path())]).is_ok());
        std::fs::write(&b, b"y").unwrap();
        assert!(ensure_not_input("--out", &b, &[("--x", a.as_path())]).is_ok());
    }
}
