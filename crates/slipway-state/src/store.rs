//! Reading and writing the state file safely.
//!
//! Writers take an exclusive advisory lock on a sibling `*.lock` file and hold it across
//! read-modify-write, so concurrent steps (parallel matrix jobs sharing a workspace, a step and
//! `slipway state merge`) never lose each other's entries. The new content goes to a temp file
//! in the same directory, is fsynced, and is renamed over the old file (then the directory is
//! fsynced): a reader sees the old or the new version, never a torn one, and a writer killed at
//! any moment leaves the previous version intact. Readers need no lock.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use slipway_types::{Diagnostic, ExitClass};

use crate::format::{FORMAT, ParseError};
use crate::{State, writer_id};

/// A state file on disk.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// It exists but could not be read.
    #[error("cannot read state file `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// It does not exist and the command needs it.
    #[error("no state file at `{}`", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// Its content is not a state document this Slipway can read.
    #[error("cannot use state file `{}`", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: ParseError,
    },
    /// It could not be written.
    #[error("cannot write state file `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The lock could not be taken.
    #[error("cannot lock state file `{}` (lock file `{}`)", path.display(), lock.display())]
    Lock {
        /// The state file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl Diagnostic for StateError {
    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            StateError::Missing { .. } => Some(
                "run the earlier steps first (slipway-build creates the state), or point --state / SLIPWAY_STATE at the right file".into(),
            ),
            StateError::Parse {
                source: ParseError::Newer { .. },
                ..
            } => Some("upgrade slipway to the version that wrote this file (or newer)".into()),
            StateError::Parse { path, .. } => Some(format!(
                "the file was edited or damaged; `slipway state validate {}` shows the problem",
                path.display()
            )),
            StateError::Write { path, .. } | StateError::Lock { path, .. } => Some(format!(
                "check that the directory of `{}` exists and is writable",
                path.display()
            )),
            StateError::Read { .. } => None,
        }
    }
}

impl StateFile {
    /// A state file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateFile { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file guarding writes.
    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.path, "", ".lock")
    }

    /// Reads the state; `None` when the file does not exist.
    pub fn read(&self) -> Result<Option<State>, StateError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StateError::Read {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        crate::parse(&bytes)
            .map(Some)
            .map_err(|source| StateError::Parse {
                path: self.path.clone(),
                source,
            })
    }

    /// Reads the state, failing when the file does not exist.
    pub fn read_required(&self) -> Result<State, StateError> {
        self.read()?.ok_or_else(|| StateError::Missing {
            path: self.path.clone(),
        })
    }

    /// Reads, lets `f` change the state, and writes it back atomically, all under the lock.
    /// A missing file starts from an empty state. The result is written in the current format.
    pub fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, StateError> {
        let _lock = self.lock()?;
        let mut state = self.read()?.unwrap_or_default();
        let out = f(&mut state);
        self.write_locked(&mut state)?;
        Ok(out)
    }

    /// Replaces the whole state (e.g. with the result of a merge), under the lock.
    pub fn replace(&self, mut state: State) -> Result<(), StateError> {
        let _lock = self.lock()?;
        self.write_locked(&mut state)
    }

    fn lock(&self) -> Result<slipway_fs::Lock, StateError> {
        let lock_path = self.lock_path();
        let lock = slipway_fs::Lock::exclusive(&lock_path).map_err(|source| StateError::Lock {
            path: self.path.clone(),
            lock: lock_path,
            source,
        })?;
        // We hold the lock: any temp file left next to the state belongs to a writer that died.
        slipway_fs::remove_stale_temps(&self.path);
        Ok(lock)
    }

    fn write_locked(&self, state: &mut State) -> Result<(), StateError> {
        let write_err = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        state.format = FORMAT;
        state.written_by = Some(writer_id());
        let mut bytes =
            serde_json::to_vec_pretty(state).map_err(|e| write_err(io::Error::other(e)))?;
        bytes.push(b'\n');
        slipway_fs::atomic_write(&self.path, &bytes).map_err(write_err)
    }
}

fn sibling(path: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{prefix}{name}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_creates_then_appends() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path().join("sub/state.json"));
        assert!(sf.read().unwrap().is_none());
        assert!(matches!(
            sf.read_required(),
            Err(StateError::Missing { .. })
        ));
        sf.update(|s| s.images.insert("a".into(), Default::default()))
            .unwrap();
        sf.update(|s| s.images.insert("b".into(), Default::default()))
            .unwrap();
        let s = sf.read_required().unwrap();
        assert_eq!(s.images.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.written_by.as_deref(), Some(writer_id().as_str()));
        // No temp files are left behind.
        let names: Vec<String> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, ["state.json", "state.json.lock"]);
    }

    #[test]
    fn stale_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let sf = StateFile::new(dir.path().join("state.json"));
        fs::write(dir.path().join(".state.json.abc123.tmp"), b"{\"form").unwrap();
        sf.update(|_| ()).unwrap();
        assert!(!dir.path().join(".state.json.abc123.tmp").exists());
    }

    #[test]
    fn newer_file_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let content = format!(
            "{{\"format\": {}, \"written_by\": \"slipway 9.9.9\"}}",
            FORMAT + 1
        );
        fs::write(&path, &content).unwrap();
        let sf = StateFile::new(&path);
        let err = sf.update(|_| ()).unwrap_err();
        assert!(matches!(
            err,
            StateError::Parse {
                source: ParseError::Newer { .. },
                ..
            }
        ));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            content,
            "a refused file is left untouched"
        );
        assert!(err.hint().unwrap().contains("upgrade"));
    }
}
