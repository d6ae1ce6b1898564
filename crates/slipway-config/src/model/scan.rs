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
    /// SPDX license ids that fail the gate when a package in the image's SBOM declares one
    /// (`--deny-license`); the deny-list needs an SBOM (fails closed without one).
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
    /// Why (required and not blank; recorded in the state and the summary).
    #[serde(deserialize_with = "non_blank")]
    #[schemars(length(min = 1))]
    pub reason: String,
}

/// A string that says something: an allow rule without a reason is refused.
fn non_blank<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.trim().is_empty() {
        return Err(serde::de::Error::custom(
            "an allow rule needs a reason that says why its findings are accepted",
        ));
    }
    Ok(s)
}
