//! GitLab CI: outputs through a dotenv file (`artifacts:reports:dotenv`).
//!
//! GitLab's dotenv reports take `KEY=VALUE` lines with single-line values; later jobs get them
//! as variables. Slipway's outputs become `SLIPWAY_<NAME>` (upper case, `-` → `_`). Setting an
//! output again replaces its line; the file is rewritten atomically.

use std::io;
use std::path::Path;

pub(crate) fn dotenv_key(name: &str) -> String {
    format!("SLIPWAY_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// Sets `name` in the dotenv file; returns a warning instead when the value cannot be carried.
pub(crate) fn set_dotenv(path: &Path, name: &str, value: &str) -> io::Result<Option<String>> {
    let key = dotenv_key(name);
    if value.contains(['\n', '\r']) {
        return Ok(Some(format!(
            "output `{name}` is multiline and GitLab dotenv reports only carry single-line values: not written to {}",
            path.display()
        )));
    }
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut lines: Vec<String> = existing.lines().map(str::to_owned).collect();
    let line = format!("{key}={value}");
    match lines
        .iter_mut()
        .find(|l| l.split_once('=').is_some_and(|(k, _)| k == key))
    {
        Some(l) => *l = line,
        None => lines.push(line),
    }
    std::fs::create_dir_all(slipway_fs::parent_dir(path))?;
    let mut text = String::new();
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    slipway_fs::atomic_write(path, text.as_bytes())?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(dotenv_key("digest"), "SLIPWAY_DIGEST");
        assert_eq!(dotenv_key("scan-verdict"), "SLIPWAY_SCAN_VERDICT");
    }
}
