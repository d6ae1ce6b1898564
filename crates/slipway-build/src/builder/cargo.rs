//! The cargo builder: `cargo build --release --target TRIPLE` per platform.
//!
//! By default the C runtime is linked statically (`-C target-feature=+crt-static`), so the
//! binary runs on a `scratch` base, and source, cargo-home and target paths are remapped, so
//! builds from different checkouts are byte-identical. `auditable: true` builds with
//! `cargo auditable` (the dependency list is embedded for SBOMs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use slipway_types::{Platform, Progress};

use super::{Built, finish};
use crate::BuildError;
use crate::tool;

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct CargoSpec {
    /// Directory of Cargo.toml.
    pub dir: PathBuf,
    /// Package (default: the root package).
    pub package: Option<String>,
    /// Binary target (default: the package's only binary).
    pub bin: Option<String>,
    /// Features.
    pub features: Vec<String>,
    /// Use `cargo auditable build`.
    pub auditable: bool,
    /// Link the C runtime statically.
    pub static_crt: bool,
    /// Target triples overriding the built-in mapping.
    pub targets: BTreeMap<Platform, String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
}

const HINT: &str = "install Rust (https://rustup.rs) so that `cargo` is on PATH";

/// The built-in platform → target triple mapping (glibc targets, linked statically by default).
pub fn default_triple(p: &Platform) -> Option<&'static str> {
    Some(match (p.os(), p.architecture(), p.variant()) {
        ("linux", "amd64", _) => "x86_64-unknown-linux-gnu",
        ("linux", "arm64", None | Some("v8")) => "aarch64-unknown-linux-gnu",
        ("linux", "arm", Some("v7") | None) => "armv7-unknown-linux-gnueabihf",
        ("linux", "arm", Some("v6")) => "arm-unknown-linux-gnueabihf",
        ("linux", "386", _) => "i686-unknown-linux-gnu",
        ("linux", "ppc64le", _) => "powerpc64le-unknown-linux-gnu",
        ("linux", "s390x", _) => "s390x-unknown-linux-gnu",
        ("linux", "riscv64", _) => "riscv64gc-unknown-linux-gnu",
        _ => return None,
    })
}

/// The toolchain version (`rustc 1.95.0 (…)`).
pub fn toolchain() -> Result<String, BuildError> {
    let rustc = tool::require("rustc", HINT)?;
    tool::stdout(Command::new(rustc).arg("--version"))
}

struct Metadata {
    bin: String,
    package: String,
}

fn metadata(cargo: &Path, spec: &CargoSpec, image: &str) -> Result<Metadata, BuildError> {
    let manifest = spec.dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::Spec {
            image: image.to_owned(),
            message: format!("cargo.dir `{}` has no Cargo.toml", spec.dir.display()),
        });
    }
    let out = tool::run(
        Command::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(&manifest),
    )?;
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| BuildError::Spec {
            image: image.to_owned(),
            message: format!("cannot read `cargo metadata`: {e}"),
        })?;
    let packages = v["packages"].as_array().cloned().unwrap_or_default();
    let manifest_abs = manifest.canonicalize().unwrap_or(manifest.clone());
    let pkg = match &spec.package {
        Some(name) => packages.iter().find(|p| p["name"] == name.as_str()),
        None => packages.iter().find(|p| {
            p["manifest_path"]
                .as_str()
                .map(PathBuf::from)
                .and_then(|m| m.canonicalize().ok())
                == Some(manifest_abs.clone())
        }),
    }
    .ok_or_else(|| BuildError::Spec {
        image: image.to_owned(),
        message: match &spec.package {
            Some(n) => format!(
                "cargo.package: no package `{n}` in `{}`",
                spec.dir.display()
            ),
            None => format!(
                "`{}` is a virtual workspace: set cargo.package",
                manifest.display()
            ),
        },
    })?;
    let bins: Vec<String> = pkg["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        })
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    let bin = match &spec.bin {
        Some(b) if bins.contains(b) => b.clone(),
        Some(b) => {
            return Err(BuildError::Spec {
                image: image.to_owned(),
                message: format!(
                    "cargo.bin: package has no binary `{b}` (it has: {})",
                    bins.join(", ")
                ),
            });
        }
        None if bins.len() == 1 => bins[0].clone(),
        None => {
            return Err(BuildError::Spec {
                image: image.to_owned(),
                message: format!(
                    "cargo.bin: the package has {} binaries ({}); name one",
                    bins.len(),
                    bins.join(", ")
                ),
            });
        }
    };
    Ok(Metadata {
        bin,
        package: pkg["name"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Builds `spec` for each platform; binaries end up in `out_dir/<platform-slug>/<name>`.
/// `target_dir` is cargo's target directory.
pub fn build(
    spec: &CargoSpec,
    name: &str,
    platforms: &[Platform],
    out_dir: &Path,
    target_dir: &Path,
    progress: &dyn Progress,
) -> Result<Vec<Built>, BuildError> {
    let cargo = tool::require("cargo", HINT)?;
    let rustc = tool::require("rustc", HINT)?;
    let version = toolchain()?;
    let sysroot = PathBuf::from(tool::stdout(
        Command::new(&rustc).args(["--print", "sysroot"]),
    )?);
    let known = tool::stdout(Command::new(&rustc).args(["--print", "target-list"]))?;
    let mut triples = Vec::new();
    for p in platforms {
        let triple = match spec.targets.get(p) {
            Some(t) => t.clone(),
            None => default_triple(p).map(str::to_owned).ok_or_else(|| BuildError::UnknownPlatform {
                platform: p.clone(),
                builder: "cargo",
                known: "linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6, linux/386, linux/ppc64le, linux/s390x, linux/riscv64 (or set cargo.targets)".into(),
            })?,
        };
        if !known.lines().any(|l| l == triple) {
            return Err(BuildError::UnknownPlatform {
                platform: p.clone(),
                builder: "cargo",
                known: format!("`{triple}` is not a target rustc knows"),
            });
        }
        if !sysroot
            .join("lib/rustlib")
            .join(&triple)
            .join("lib")
            .is_dir()
        {
            return Err(BuildError::MissingTarget {
                platform: p.clone(),
                triple,
            });
        }
        triples.push((p.clone(), triple));
    }
    if spec.auditable {
        tool::require(
            "cargo-auditable",
            "install it with `cargo install --locked cargo-auditable`",
        )?;
    }
    let meta = metadata(&cargo, spec, name)?;
    let dir = spec
        .dir
        .canonicalize()
        .map_err(crate::error::io_error("cannot resolve", &spec.dir))?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    std::fs::create_dir_all(target_dir)
        .map_err(crate::error::io_error("cannot create", target_dir))?;
    let mut out = Vec::new();
    for (p, triple) in triples {
        let task = format!("{name} {p}: cargo build");
        progress.begin(&task, None);
        let mut flags: Vec<String> = std::env::var("RUSTFLAGS")
            .ok()
            .into_iter()
            .filter(|f| !f.is_empty())
            .collect();
        if spec.static_crt {
            flags.push("-C target-feature=+crt-static".into());
        }
        flags.push(format!("--remap-path-prefix={}=/src", dir.display()));
        flags.push(format!(
            "--remap-path-prefix={}=/target",
            target_dir.display()
        ));
        if let Some(home) = &cargo_home {
            flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
        }
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&dir);
        if spec.auditable {
            cmd.arg("auditable");
        }
        cmd.args([
            "build",
            "--release",
            "--target",
            &triple,
            "--package",
            &meta.package,
            "--bin",
            &meta.bin,
        ]);
        if dir.join("Cargo.lock").is_file() {
            cmd.arg("--locked");
        }
        if !spec.features.is_empty() {
            cmd.arg("--features").arg(spec.features.join(","));
        }
        cmd.env("CARGO_TARGET_DIR", target_dir)
            .env("RUSTFLAGS", flags.join(" "));
        for (k, v) in &spec.env {
            cmd.env(k, v);
        }
        tool::run(&mut cmd)?;
        let built = target_dir.join(&triple).join("release").join(&meta.bin);
        let dest_dir = out_dir.join(p.slug());
        std::fs::create_dir_all(&dest_dir).map_err(crate::error::io_error(
            "cannot create build directory",
            &dest_dir,
        ))?;
        let dest = dest_dir.join(name);
        std::fs::copy(&built, &dest).map_err(crate::error::io_error(
            "cannot copy the built binary",
            &built,
        ))?;
        super::check_executable(name, &p, &dest)?;
        let b = finish(&p, dest, Some(version.clone()))?;
        progress.end(&task, &format!("{} bytes, {}", b.size, b.sha256.short()));
        out.push(b);
    }
    Ok(out)
}
