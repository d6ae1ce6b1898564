//! The `scan:` and `policy:` sections (`slipway-scan-sbom`).

use schemars::JsonSchema;
use serde::Deserialize;

/// Scanning and SBOM settings. The scan step adds its settings here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {}

/// Gate policies.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The scan gate.
    #[serde(default)]
    pub scan: Option<ScanPolicy>,
}

/// The scan gate policy. The scan step adds its settings here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanPolicy {}
