//! The `scan:` and `policy:` sections (`slipway-scan-sbom`).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// Scanning settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanConfig {
    /// Scanner to run on the image when no report is given (`--scanner`): `trivy` or `grype`.
    #[serde(default)]
    pub scanner: Option<String>,
    /// An existing Trivy or Grype JSON report to gate on (`--report`).
    #[serde(default)]
    pub report: Option<PathBuf>,
    /// Write SARIF 2.1.0 here (`--sarif`).
    #[serde(default)]
    pub sarif: Option<PathBuf>,
    /// Write the GitLab container-scanning report here (`--gitlab-report`; in GitLab CI the
    /// default is `gl-container-scanning-report.json`).
    #[serde(default)]
    pub gitlab_report: Option<PathBuf>,
}

/// Gate policies.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The scan gate.
    #[serde(default)]
    pub scan: Option<ScanPolicy>,
}

/// The scan gate policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanPolicy {
    /// Fail at or above this severity: critical, high, medium, low, unknown (`--severity`;
    /// default critical).
    #[serde(default)]
    pub severity: Option<String>,
    /// Only findings with a fixed version block (`--fixable-only`).
    #[serde(default)]
    pub fixable_only: Option<bool>,
    /// `.trivyignore` / `.trivyignore.yaml` files (`--ignore-file`; default: those two in the
    /// working directory when present).
    #[serde(default)]
    pub ignore_files: Vec<PathBuf>,
    /// OpenVEX or CycloneDX VEX documents (`--vex`).
    #[serde(default)]
    pub vex: Vec<PathBuf>,
    /// Per-package allow rules.
    #[serde(default)]
    pub allow: Vec<AllowRule>,
    /// Secret findings gate too (default true).
    #[serde(default)]
    pub secrets: Option<bool>,
    /// Misconfiguration findings gate too (default true).
    #[serde(default)]
    pub misconfigurations: Option<bool>,
    /// License names that fail the gate (`--deny-license`).
    #[serde(default)]
    pub deny_licenses: Vec<String>,
    /// Report ignores that expire within this many days (default 14).
    #[serde(default)]
    pub warn_expiring_days: Option<i64>,
}

/// A package whose findings are accepted, with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// Package name, exactly as the scanner reports it.
    pub package: String,
    /// Only this vulnerability id (default: every finding of the package).
    #[serde(default)]
    pub id: Option<String>,
    /// Why (required; recorded in the state and the summary).
    pub reason: String,
}
