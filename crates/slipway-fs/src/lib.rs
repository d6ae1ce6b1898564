//! Atomic file replacement and advisory locks.
//!
//! Used for every file Slipway rewrites in place: the state file, a layout's `index.json`, the
//! GitLab dotenv file. Temp files are named `.<name>.<random>.tmp` next to the target, so
//! [`remove_stale_temps`] can clean up after a writer that was killed.
#![deny(missing_docs)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temp_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{name}.")
}

/// Replaces `path` with `bytes` atomically and durably (mode 0644). The directory must exist.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write_mode(path, bytes, 0o644)
}

/// [`atomic_write`] with the file's Unix permission bits (e.g. `0o600` for a file that holds a
/// secret: the mode is set before the contents are visible under `path`).
pub fn atomic_write_mode(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent_dir(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix(path))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes temp files that [`atomic_write`] left next to `path` when its writer died. Call it
/// only while holding the [`Lock`] that guards `path`.
pub fn remove_stale_temps(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// An exclusive advisory lock, released on drop (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

impl Lock {
    /// Blocks until the lock file at `lock_path` is locked exclusively; creates the file (and its
    /// directory) when missing. The lock file is never deleted: deleting lock files races.
    pub fn exclusive(lock_path: &Path) -> io::Result<Lock> {
        fs::create_dir_all(parent_dir(lock_path))?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path)?;
        file.lock()?;
        Ok(Lock {
            _file: file,
            path: lock_path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_cleans() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        fs::write(dir.path().join(".f.json.dead.tmp"), b"x").unwrap();
        fs::write(dir.path().join(".other.dead.tmp"), b"x").unwrap();
        remove_stale_temps(&p);
        assert!(!dir.path().join(".f.json.dead.tmp").exists());
        assert!(
            dir.path().join(".other.dead.tmp").exists(),
            "only this file's temps go"
        );
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temp file of our own is left"
        );
    }

    #[test]
    fn lock_excludes_other_holders() {
        let dir = tempfile::tempdir().unwrap();
        let lp = dir.path().join("sub/x.lock");
        let held = Lock::exclusive(&lp).unwrap();
        let other = OpenOptions::new().write(true).open(&lp).unwrap();
        assert!(
            other.try_lock().is_err(),
            "a second lock must not be granted while held"
        );
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
