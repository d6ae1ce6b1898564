//! `cargo xtask gen [--check]`: regenerates the files derived from code.
//!
//! - `schemas/state.schema.json` from the state model;
//! - `schemas/config.schema.json` and `docs/reference/config.md` from the config model;
//! - `docs/reference/cli.md` from the clap definitions;
//! - `docs/reference/env.md` from the environment variable list.
//!
//! With `--check` nothing is written; the command fails listing the files that are stale.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the root")
        .to_path_buf()
}

fn generated() -> Vec<(PathBuf, String)> {
    vec![
        (
            root().join("schemas/state.schema.json"),
            slipway_state::schema_json(),
        ),
        (
            root().join("schemas/config.schema.json"),
            slipway_config::reference::schema_json(),
        ),
        (
            root().join("docs/reference/config.md"),
            slipway_config::reference::reference_markdown(),
        ),
        (
            root().join("docs/reference/cli.md"),
            slipway_cli::reference::cli_markdown(),
        ),
        (
            root().join("docs/reference/env.md"),
            slipway_cli::reference::env_markdown(),
        ),
    ]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    match args.first().map(String::as_str) {
        Some("gen") => {}
        _ => {
            eprintln!("usage: cargo xtask gen [--check]");
            return ExitCode::from(2);
        }
    }
    let mut stale = Vec::new();
    for (path, content) in generated() {
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == content {
            continue;
        }
        if check {
            stale.push(path);
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).expect("create directory");
            }
            std::fs::write(&path, content).expect("write generated file");
            eprintln!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        ExitCode::SUCCESS
    } else {
        for p in &stale {
            eprintln!("stale: {} (run `cargo xtask gen`)", p.display());
        }
        ExitCode::from(1)
    }
}
