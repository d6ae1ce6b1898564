//! The Go builder: `go build` per platform, static and reproducible.
//!
//! Every build runs with `CGO_ENABLED=0`, `-trimpath` and `-ldflags "-s -w -buildid="` (plus the
//! user's ldflags), so the binary is static, has no paths of the build machine and is
//! byte-for-byte reproducible from the same source. Platforms build concurrently, at most as
//! many at once as there are cores.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use slipway_types::{Platform, Progress};

use super::{Built, TemplateVars, finish};
use crate::BuildError;
use crate::tool;

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct GoSpec {
    /// Module directory (where `go build` runs).
    pub dir: PathBuf,
    /// Main package (`.` by default).
    pub main: String,
    /// Extra linker flags (templated).
    pub ldflags: Vec<String>,
    /// Build tags.
    pub tags: Vec<String>,
    /// `-buildmode=pie`.
    pub pie: bool,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
}

const HINT: &str = "install Go (e.g. `apt-get install golang-go`) or put `go` on PATH";

/// The toolchain version (`go1.19.8`).
pub fn toolchain() -> Result<String, BuildError> {
    let go = tool::require("go", HINT)?;
    let v = tool::stdout(Command::new(go).arg("version"))?;
    Ok(v.split_whitespace().nth(2).unwrap_or("go").to_owned())
}

/// `GOOS/GOARCH` pairs the toolchain supports.
fn supported(go: &Path) -> Result<BTreeSet<String>, BuildError> {
    let list = tool::stdout(Command::new(go).args(["tool", "dist", "list"]))?;
    Ok(list.lines().map(str::to_owned).collect())
}

/// `GOARM` / `GOAMD64`-style variables for a platform variant.
fn variant_env(p: &Platform) -> Result<Vec<(&'static str, String)>, String> {
    let Some(v) = p.variant() else {
        return Ok(vec![]);
    };
    match p.architecture() {
        "arm" => match v {
            "v5" | "v6" | "v7" => Ok(vec![("GOARM", v[1..].to_owned())]),
            _ => Err(format!("unknown arm variant `{v}` (v5, v6 or v7)")),
        },
        "arm64" if v == "v8" => Ok(vec![]),
        "amd64" => match v {
            "v1" | "v2" | "v3" | "v4" => Ok(vec![("GOAMD64", v.to_owned())]),
            _ => Err(format!("unknown amd64 variant `{v}` (v1 to v4)")),
        },
        a => Err(format!("variants are not supported for {a}")),
    }
}

/// Checks that Go can build every platform; returns the `go` binary.
pub fn check_platforms(platforms: &[Platform]) -> Result<PathBuf, BuildError> {
    let go = tool::require("go", HINT)?;
    let known = supported(&go)?;
    for p in platforms {
        let pair = format!("{}/{}", p.os(), p.architecture());
        let ok = known.contains(&pair) && variant_env(p).is_ok();
        if !ok {
            let linux: Vec<&str> = known
                .iter()
                .filter(|k| k.starts_with("linux/"))
                .map(String::as_str)
                .collect();
            return Err(BuildError::UnknownPlatform {
                platform: p.clone(),
                builder: "go",
                known: variant_env(p).err().unwrap_or_else(|| linux.join(", ")),
            });
        }
    }
    Ok(go)
}

/// Builds `spec` for every platform into `out_dir/<platform-slug>/<name>`.
pub fn build(
    spec: &GoSpec,
    name: &str,
    platforms: &[Platform],
    out_dir: &Path,
    vars: &TemplateVars,
    threads: usize,
    progress: &dyn Progress,
) -> Result<Vec<Built>, BuildError> {
    let go = check_platforms(platforms)?;
    let version = toolchain()?;
    if !spec.dir.is_dir() {
        return Err(BuildError::Spec {
            image: name.to_owned(),
            message: format!("go.dir `{}` is not a directory", spec.dir.display()),
        });
    }
    check_main_package(&go, spec, name, platforms.first())?;
    let mut ldflags = vec!["-s".to_owned(), "-w".to_owned(), "-buildid=".to_owned()];
    ldflags.extend(spec.ldflags.iter().map(|f| vars.apply(f)));
    let queue = Mutex::new(platforms.to_vec());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, platforms.len().max(1)) {
            s.spawn(|| {
                loop {
                    let Some(p) = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pop()
                    else {
                        break;
                    };
                    let r = build_one(&go, spec, name, &p, out_dir, &ldflags, &version, progress);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((p, r));
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results.into_iter().map(|(_, r)| r).collect()
}

fn main_package(spec: &GoSpec) -> &str {
    if spec.main.is_empty() {
        "."
    } else {
        &spec.main
    }
}

/// `go build -o FILE` of a package that is not `main` succeeds and writes a package archive,
/// which would then be shipped as the "program": ask `go list` first. It is asked as for the
/// first platform built (GOOS, GOARCH, GOARM…), not the host: a package whose files are all
/// `//go:build linux` has no files at all for a macOS host.
fn check_main_package(
    go: &Path,
    spec: &GoSpec,
    name: &str,
    platform: Option<&Platform>,
) -> Result<(), BuildError> {
    let pkg = main_package(spec);
    let mut cmd = Command::new(go);
    cmd.current_dir(&spec.dir).args(["list", "-f", "{{.Name}}"]);
    if !spec.tags.is_empty() {
        cmd.arg("-tags").arg(spec.tags.join(","));
    }
    cmd.arg(pkg);
    target_env(&mut cmd, platform, spec);
    let names = tool::stdout(&mut cmd)?;
    let names: Vec<&str> = names.lines().collect();
    let spec_err = |message: String| BuildError::Spec {
        image: name.to_owned(),
        message,
    };
    match names.as_slice() {
        ["main"] => Ok(()),
        [other] => Err(spec_err(format!(
            "the Go package `{pkg}` (in `{}`) is `package {other}`, not `package main`: it builds a library archive, not a program",
            spec.dir.display()
        ))),
        many => Err(spec_err(format!(
            "`{pkg}` names {} Go packages; give one main package",
            many.len()
        ))),
    }
}

/// The environment of a `go` command for platform `p`: static, the platform's GOOS/GOARCH and
/// variant variables, then the user's `env` (which may override any of them).
fn target_env(cmd: &mut Command, p: Option<&Platform>, spec: &GoSpec) {
    cmd.env("CGO_ENABLED", "0");
    if let Some(p) = p {
        cmd.env("GOOS", p.os()).env("GOARCH", p.architecture());
        for (k, v) in variant_env(p).unwrap_or_default() {
            cmd.env(k, v);
        }
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
}

#[allow(clippy::too_many_arguments)]
fn build_one(
    go: &Path,
    spec: &GoSpec,
    name: &str,
    p: &Platform,
    out_dir: &Path,
    ldflags: &[String],
    version: &str,
    progress: &dyn Progress,
) -> Result<Built, BuildError> {
    let task = format!("{name} {p}: go build");
    progress.begin(&task, None);
    let dir = out_dir.join(p.slug());
    std::fs::create_dir_all(&dir).map_err(crate::error::io_error(
        "cannot create build directory",
        &dir,
    ))?;
    let out = dir.join(name);
    let mut cmd = Command::new(go);
    cmd.current_dir(&spec.dir)
        .arg("build")
        .arg("-trimpath")
        .arg("-ldflags")
        .arg(ldflags.join(" "));
    if spec.pie {
        cmd.arg("-buildmode=pie");
    }
    if !spec.tags.is_empty() {
        cmd.arg("-tags").arg(spec.tags.join(","));
    }
    cmd.arg("-o").arg(&out).arg(main_package(spec));
    target_env(&mut cmd, Some(p), spec);
    tool::run(&mut cmd)?;
    super::check_executable(name, p, &out)?;
    let built = finish(p, out, Some(version.to_owned()))?;
    progress.end(
        &task,
        &format!("{} bytes, {}", built.size, built.sha256.short()),
    );
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants() {
        let p = |s: &str| s.parse::<Platform>().unwrap();
        assert_eq!(
            variant_env(&p("linux/arm/v7")).unwrap(),
            vec![("GOARM", "7".to_owned())]
        );
        assert!(variant_env(&p("linux/arm64/v8")).unwrap().is_empty());
        assert!(variant_env(&p("linux/arm/v9")).is_err());
        assert!(variant_env(&p("linux/ppc64le/x")).is_err());
    }
}
