//! The `images:` section (`slipway-build`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use slipway_types::Platform;

/// One image to build.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Name of the image: the key in the state file and the name in the OCI layout.
    pub name: String,
    /// Build Go code (exactly one of `go`, `cargo`, `binary`).
    #[serde(default)]
    pub go: Option<GoConfig>,
    /// Build Rust code with cargo.
    #[serde(default)]
    pub cargo: Option<CargoConfig>,
    /// Take prebuilt binaries.
    #[serde(default)]
    pub binary: Option<BinaryConfig>,
    /// Platforms to build (default: `linux/amd64`).
    #[serde(default)]
    pub platforms: Vec<Platform>,
    /// Base image: `scratch` (default), `oci:PATH[:NAME]` for an OCI layout, or a registry
    /// reference such as `gcr.io/distroless/static-debian12:nonroot`.
    #[serde(default)]
    pub base: Option<String>,
    /// Where the program goes in the image (default `/usr/local/bin/<binary name>`).
    #[serde(default)]
    pub path: Option<String>,
    /// Extra files.
    #[serde(default)]
    pub files: Vec<FileConfig>,
    /// CA certificates at /etc/ssl/certs/ca-certificates.crt: `true` for this machine's bundle,
    /// or the path of a bundle.
    #[serde(default)]
    pub ca_bundle: Option<CaBundle>,
    /// User (`uid[:gid]`, default `65532:65532`, distroless' nonroot).
    #[serde(default)]
    pub user: Option<String>,
    /// Entrypoint (default: the program).
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Environment of the container, `NAME=value`.
    #[serde(default)]
    pub env: Vec<String>,
    /// Working directory.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Exposed ports, e.g. `8080/tcp`.
    #[serde(default)]
    pub ports: Vec<String>,
    /// Image config labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra manifest and index annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Layer compression: `gzip` (default) or `zstd`.
    #[serde(default)]
    pub compression: Option<CompressionKind>,
    /// Compression level (gzip 1–12, default 4; zstd 1–19, default 3).
    #[serde(default)]
    pub level: Option<i32>,
    /// Compress the binaries with `upx` (must be on PATH).
    #[serde(default)]
    pub upx: bool,
    /// Arguments for `upx` (default `-q --best`).
    #[serde(default)]
    pub upx_args: Option<Vec<String>>,
    /// Version for `{version}` in ldflags and the version annotation (default: the git tag being
    /// built, else `dev`).
    #[serde(default)]
    pub version: Option<String>,
}

/// The Go builder.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GoConfig {
    /// Directory of the Go module (relative to this file; default: this file's directory).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Main package, as `go build` takes it (default `.`).
    #[serde(default)]
    pub main: Option<String>,
    /// Extra linker flags; `{version}`, `{commit}`, `{short_commit}`, `{date}` are replaced.
    #[serde(default)]
    pub ldflags: Vec<String>,
    /// Build tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Build a position-independent executable (`-buildmode=pie`).
    #[serde(default)]
    pub pie: bool,
    /// Extra environment for `go build` (e.g. `GOPROXY`, `GOFLAGS`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// The cargo builder.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CargoConfig {
    /// Directory holding Cargo.toml (relative to this file; default: this file's directory).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Package to build (default: the root package).
    #[serde(default)]
    pub package: Option<String>,
    /// Binary target (default: the package's only binary).
    #[serde(default)]
    pub bin: Option<String>,
    /// Cargo features to enable.
    #[serde(default)]
    pub features: Vec<String>,
    /// Build with `cargo auditable` so the dependency list is embedded in the binary.
    #[serde(default)]
    pub auditable: bool,
    /// Link the C runtime statically so the binary runs on `scratch` (default true).
    #[serde(default)]
    pub static_crt: Option<bool>,
    /// Target triple per platform, overriding the built-in mapping.
    #[serde(default)]
    pub targets: BTreeMap<Platform, String>,
    /// Extra environment for cargo.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// Prebuilt binaries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BinaryConfig {
    /// Path template of the binary for a platform: `{os}`, `{arch}`, `{variant}` are replaced
    /// (relative to this file).
    pub path: String,
}

/// An extra file placed in the image.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// File on the build machine, relative to this file; it must be inside this file's
    /// directory once `..` and symlinks are resolved.
    pub src: PathBuf,
    /// Absolute path in the image (`..` is refused).
    pub dst: String,
    /// Mode, octal (default `0644`).
    #[serde(default)]
    pub mode: Option<String>,
}

/// `ca_bundle:`
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CaBundle {
    /// `true`: this machine's bundle; `false`: none.
    Host(bool),
    /// A bundle file.
    File(PathBuf),
}

/// Layer compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompressionKind {
    /// gzip, compressed in parallel blocks.
    Gzip,
    /// zstd, multi-threaded.
    Zstd,
}
