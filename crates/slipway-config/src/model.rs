//! The typed model of `slipway.yaml`.
//!
//! Each step owns its section; sections are added by the step that reads them. Unknown keys
//! are rejected everywhere.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

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
