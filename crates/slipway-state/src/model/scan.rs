//! Scan verdicts of `slipway-scan-sbom`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use slipway_types::Digest;

use super::Timestamp;

/// The outcome of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The gate let it through.
    Pass,
    /// The gate said no.
    Fail,
}

/// Findings counted by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityCounts {
    /// Critical.
    #[serde(default)]
    pub critical: u64,
    /// High.
    #[serde(default)]
    pub high: u64,
    /// Medium.
    #[serde(default)]
    pub medium: u64,
    /// Low.
    #[serde(default)]
    pub low: u64,
    /// Unknown or negligible.
    #[serde(default)]
    pub unknown: u64,
}

/// One finding, as far as the state needs to remember it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Vulnerability, rule or secret id (e.g. `CVE-2024-0001`).
    pub id: String,
    /// What kind of finding: `vulnerability`, `secret`, `misconfiguration`, `license`.
    pub kind: String,
    /// Severity as the scanner reported it.
    pub severity: String,
    /// Affected package, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Version that fixes it, when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Why it was ignored (only for ignored findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the ignore expires (only for ignored findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
}

/// A scan verdict for one image digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRecord {
    /// Image name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The digest that was scanned (a manifest or an index).
    pub digest: Digest,
    /// Scanner and version, e.g. `trivy 0.50.0`.
    pub scanner: String,
    /// Path of the raw report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// SBOMs the findings came from instead of the image itself (`--rescan`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sboms: Vec<String>,
    /// The gate's verdict.
    pub verdict: Verdict,
    /// All findings by severity (before ignores).
    pub counts: SeverityCounts,
    /// Findings that made the gate fail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<Finding>,
    /// Findings ignored by policy, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<Finding>,
    /// Ignores that expire soon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<Finding>,
    /// When the verdict was reached.
    pub at: Timestamp,
}
