//! The typed model of `slipway.yaml`.
//!
//! Each step owns its section, in its own module; unknown keys are rejected everywhere.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

mod build;
mod promote;
mod push;
mod runners;
mod scan;
mod sign;

pub use build::*;
pub use promote::*;
pub use push::*;
pub use runners::*;
pub use scan::*;
pub use sign::*;

/// The newest config format this Slipway understands.
pub const CONFIG_VERSION: u32 = 1;

/// The whole `slipway.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Config format version (currently 1). Optional; a newer version is refused.
    #[serde(default)]
    pub version: Option<u32>,
    /// Path of the state file (relative to this file's directory).
    #[serde(default)]
    pub state: Option<PathBuf>,
    /// The OCI image layout the steps share (default `.slipway/oci`, relative to this file).
    #[serde(default)]
    pub layout: Option<PathBuf>,
    /// Format of data printed on stdout.
    #[serde(default)]
    pub output_format: Option<OutputFormat>,
    /// Colour on stderr.
    #[serde(default)]
    pub color: Option<ColorChoice>,
    /// Whether to draw progress bars on a terminal.
    #[serde(default)]
    pub progress: Option<bool>,
    /// Where CI outputs go.
    #[serde(default)]
    pub ci: Option<CiConfig>,
    /// Images to build (`slipway-build`).
    #[serde(default)]
    pub images: Vec<ImageConfig>,
    /// Scanning and SBOM settings (`slipway-scan-sbom`).
    #[serde(default)]
    pub scan: Option<ScanConfig>,
    /// Gate policies.
    #[serde(default)]
    pub policy: Option<PolicyConfig>,
    /// Signing settings (`slipway-sign`, `slipway verify`).
    #[serde(default)]
    pub sign: Option<SignConfig>,
    /// Push settings (`slipway-push`).
    #[serde(default)]
    pub push: Option<PushConfig>,
    /// Promotion settings (`slipway-promote`).
    #[serde(default)]
    pub promote: Option<PromoteConfig>,
    /// Runner binding policy. Present at all (even `runners:` with nothing under it) means a
    /// policy: an empty one allows no machine.
    #[serde(default, deserialize_with = "runners::present")]
    pub runners: Option<RunnersConfig>,
}

/// CI output settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CiConfig {
    /// GitLab: the dotenv file for `artifacts:reports:dotenv` (default `.slipway/slipway.env`).
    #[serde(default)]
    pub dotenv: Option<PathBuf>,
}

/// Format of data on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Text for people.
    Human,
    /// One JSON document.
    Json,
}

/// When to colour stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    /// When stderr is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}
