//! Running external tools (go, cargo, rustc, upx) with errors that say what failed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::BuildError;

/// Finds `name` on PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `name` on PATH, or [`BuildError::MissingToolchain`] with `hint`.
pub fn require(name: &str, hint: &str) -> Result<PathBuf, BuildError> {
    find_on_path(name).ok_or_else(|| BuildError::MissingToolchain {
        tool: name.to_owned(),
        hint: hint.to_owned(),
    })
}

/// A command line for messages.
pub fn display(cmd: &Command) -> String {
    let mut parts = vec![
        Path::new(cmd.get_program())
            .file_name()
            .unwrap_or(cmd.get_program())
            .to_string_lossy()
            .into_owned(),
    ];
    parts.extend(cmd.get_args().map(shell_word));
    parts.join(" ")
}

fn shell_word(a: &OsStr) -> String {
    let s = a.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs `cmd`, returning its output; a non-zero exit is [`BuildError::ToolFailed`] with the end
/// of stderr.
pub fn run(cmd: &mut Command) -> Result<Output, BuildError> {
    let tool = display(cmd)
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    let out = cmd
        .output()
        .map_err(|source| BuildError::ToolStart { tool, source })?;
    if !out.status.success() {
        return Err(BuildError::ToolFailed {
            command: display(cmd),
            status: out.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&out.stderr), 40),
        });
    }
    Ok(out)
}

/// Stdout of a successful command, trimmed.
pub fn stdout(cmd: &mut Command) -> Result<String, BuildError> {
    Ok(String::from_utf8_lossy(&run(cmd)?.stdout).trim().to_owned())
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.trim_end().lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}
