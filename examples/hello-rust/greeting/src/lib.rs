//! The greeting the hello example prints (a local dependency, so the SBOM lists two crates of
//! ours and one from crates.io).

/// The greeting for `name`.
pub fn hello(name: &str) -> String {
    format!("Hello from {name}!")
}
