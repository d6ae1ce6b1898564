//! SBOMs written by `slipway-scan-sbom`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use slipway_types::{Digest, Platform};

/// SBOM document format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum SbomFormat {
    /// SPDX 2.3 JSON.
    #[serde(rename = "spdx-json")]
    SpdxJson,
    /// CycloneDX 1.6 JSON.
    #[serde(rename = "cyclonedx-json")]
    CyclonedxJson,
}

/// An SBOM written for an image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SbomRecord {
    /// Image name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Manifest digest the SBOM describes.
    pub subject: Digest,
    /// Platform of that manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Document format.
    pub format: SbomFormat,
    /// Path of the document.
    pub path: String,
    /// sha256 of the document.
    pub sha256: Digest,
    /// Tool that made it, e.g. `slipway 0.1.0` or `syft 1.0.0`.
    pub tool: String,
}
