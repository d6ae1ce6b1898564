//! Finding the third-party tools tests run.

use std::path::{Path, PathBuf};

/// The repository root (where `Cargo.toml` of the workspace is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/slipway-test is two levels below the root")
        .to_path_buf()
}

/// Where `scripts/test-deps.sh` installs tools that are not Debian packages
/// (`SLIPWAY_TEST_TOOLS` overrides; default `<repo>/.test-tools`).
pub fn test_tools_dir() -> PathBuf {
    std::env::var_os("SLIPWAY_TEST_TOOLS")
        .map_or_else(|| repo_root().join(".test-tools"), PathBuf::from)
}

/// The path of tool `name`: from the downloaded binaries and wrappers, the test venv, the test
/// Node modules, then `PATH`. Panics with the install hint when it is nowhere: a missing tool is
/// an install step, not a reason to skip.
pub fn tool(name: &str) -> PathBuf {
    let base = test_tools_dir();
    let candidates = [
        base.join("bin").join(name),
        base.join("venv/bin").join(name),
        base.join("node_modules/.bin").join(name),
    ];
    if let Some(found) = candidates.iter().find(|p| is_executable(p)) {
        return found.clone();
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if is_executable(&p) {
                return p;
            }
        }
    }
    panic!(
        "test tool `{name}` is not installed; run `scripts/test-deps.sh` (it installs every tool the tests use)"
    );
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
