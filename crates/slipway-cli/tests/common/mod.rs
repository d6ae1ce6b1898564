//! Helpers for running the real binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use slipway_state::{Descriptor, Image, PlatformImage, State, StateFile};
use slipway_types::Digest;

/// A command for binary `bin` (`slipway`, `slipway-build`, ...) in `cwd`, with a clean
/// environment: no CI variables leak in from the machine running the tests.
pub fn cmd(bin: &str, cwd: &Path) -> Command {
    let path = match bin {
        "slipway" => env!("CARGO_BIN_EXE_slipway"),
        "slipway-build" => env!("CARGO_BIN_EXE_slipway-build"),
        "slipway-scan-sbom" => env!("CARGO_BIN_EXE_slipway-scan-sbom"),
        "slipway-sign" => env!("CARGO_BIN_EXE_slipway-sign"),
        "slipway-push" => env!("CARGO_BIN_EXE_slipway-push"),
        "slipway-promote" => env!("CARGO_BIN_EXE_slipway-promote"),
        other => panic!("unknown binary {other}"),
    };
    let mut c = Command::new(path);
    c.current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1");
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().expect("exited normally"),
            stdout: String::from_utf8(o.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(o.stderr).expect("utf-8 stderr"),
        }
    }
}

impl Run {
    /// Exit code, stdout and stderr in one block for snapshots, with `dir` replaced by `[DIR]`.
    pub fn snapshot(&self, dir: &Path) -> String {
        let d = dir.display().to_string();
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code,
            self.stdout.replace(&d, "[DIR]"),
            self.stderr.replace(&d, "[DIR]")
        )
    }
}

pub fn run(c: &mut Command) -> Run {
    c.output().expect("binary runs").into()
}

pub fn digest(n: u8) -> Digest {
    Digest::sha256_from_bytes(&[n; 32])
}

/// A state as one matrix job of a build would leave it: image `hello`, one platform.
pub fn one_platform_state(platform: &str, n: u8) -> State {
    let mut s = State::default();
    let mut image = Image {
        layout: Some(format!("oci-{}", platform.replace('/', "-"))),
        layout_ref: Some("hello".into()),
        ..Image::default()
    };
    image.platforms.insert(
        platform.parse().unwrap(),
        PlatformImage {
            manifest: Descriptor {
                media_type: "application/vnd.oci.image.manifest.v1+json"
                    .parse()
                    .unwrap(),
                digest: digest(n),
                size: 400 + u64::from(n),
            },
            config: Some(digest(n + 100)),
            layout: None,
            binaries: vec![],
        },
    );
    s.images.insert("hello".into(), image);
    s
}

pub fn write_state(path: &Path, state: State) -> PathBuf {
    StateFile::new(path).replace(state).unwrap();
    path.to_path_buf()
}

/// Like [`cmd`], plus what builds need: HOME (Go and cargo caches), the file GOPROXY of the
/// examples, and the test tools (cargo-auditable) on PATH.
pub fn build_cmd(bin: &str, cwd: &Path) -> Command {
    let mut c = cmd(bin, cwd);
    let root = slipway_test::repo_root();
    let goproxy = Command::new(root.join("examples/goproxy.sh"))
        .output()
        .expect("examples/goproxy.sh runs");
    assert!(goproxy.status.success(), "goproxy.sh failed");
    let path = format!(
        "{}:{}",
        slipway_test::test_tools_dir().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    c.env("PATH", path)
        .env(
            "HOME",
            std::env::var_os("HOME").unwrap_or_else(|| "/root".into()),
        )
        .env("GOPROXY", String::from_utf8(goproxy.stdout).unwrap().trim())
        .env("GOSUMDB", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("SOURCE_DATE_EPOCH", "1700000000");
    for var in ["RUSTUP_HOME", "CARGO_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(v) = std::env::var_os(var) {
            c.env(var, v);
        }
    }
    c
}

/// Copies the example `name` (e.g. `hello-go`) into `dir` and returns its new path.
pub fn copy_example(name: &str, dir: &Path) -> PathBuf {
    let src = slipway_test::repo_root().join("examples").join(name);
    let dst = dir.join(name);
    let st = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&dst)
        .status()
        .unwrap();
    assert!(st.success());
    // Build output from a developer's own runs does not come along.
    let _ = std::fs::remove_dir_all(dst.join(".slipway"));
    let _ = std::fs::remove_dir_all(dst.join("target"));
    dst
}

/// The parsed JSON of a file.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// Runs a tool from the test tools, asserting success; returns stdout.
pub fn tool_ok(name: &str, args: &[&str]) -> String {
    String::from_utf8(output_ok(Command::new(slipway_test::tool(name)).args(args))).unwrap()
}

/// Runs `c` (a third-party tool: skopeo, tar, ...) and returns its stdout; a failure fails the
/// test with the command and everything it printed.
pub fn output_ok(c: &mut Command) -> Vec<u8> {
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    assert!(
        out.status.success(),
        "{c:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A `--file SRC:DST` argument for a file of this machine: copied into the project `dir` first,
/// since slipway-build takes extra files only from inside the project.
pub fn host_file(dir: &Path, src: &str, dst: &str) -> String {
    let name = format!("host{}", src.replace('/', "_"));
    std::fs::copy(std::fs::canonicalize(src).unwrap(), dir.join(&name)).unwrap();
    format!("{name}:{dst}")
}
