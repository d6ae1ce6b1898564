//! Scanner reports: Trivy JSON (SchemaVersion 2, and the legacy top-level array of results) and
//! Grype JSON, read into typed models (unknown fields are ignored, so newer scanner versions
//! still parse) and normalised to [`Finding`]s. A malformed or truncated document fails closed:
//! the error names the file and the line and column.
//!
//! A report is read into memory once and parsed with `serde_json::from_slice` into the typed
//! models only (fields the gate does not use are skipped, never kept as generic JSON), so memory
//! is the document's bytes plus the findings, and parsing runs at slice speed (`from_reader`
//! goes through `Read` byte by byte, several times slower).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ScanError;
use crate::error::json_position;

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Unknown or negligible.
    Unknown,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Parses a scanner's severity word (`HIGH`, `High`, `Negligible`, ...); anything else is
    /// unknown.
    pub fn parse_lenient(s: &str) -> Severity {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "high" => Severity::High,
            "medium" | "moderate" => Severity::Medium,
            "low" => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    /// Parses a threshold given by a user; errors on unknown words.
    pub fn parse_strict(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "unknown" | "negligible" => Some(Severity::Unknown),
            _ => None,
        }
    }

    /// All, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Unknown => "UNKNOWN",
        })
    }
}

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A known vulnerability in a package.
    Vulnerability,
    /// A secret found in a file.
    Secret,
    /// A failed misconfiguration check.
    Misconfiguration,
    /// A license finding.
    License,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Vulnerability => "vulnerability",
            Kind::Secret => "secret",
            Kind::Misconfiguration => "misconfiguration",
            Kind::License => "license",
        })
    }
}

/// One finding, whatever scanner reported it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Finding {
    /// Vulnerability id, secret rule id, check id or license name.
    pub id: String,
    /// What kind.
    pub kind: Kind,
    /// Severity.
    pub severity: Severity,
    /// Package name, when the finding is about a package.
    pub package: Option<String>,
    /// Installed version.
    pub version: Option<String>,
    /// Version(s) that fix it; empty when there is no fix.
    pub fixed_version: Option<String>,
    /// Package URL, when the scanner gave one.
    pub purl: Option<String>,
    /// The file or target it was found in.
    pub target: String,
    /// The file the package was found in, when the scanner says (Trivy's `PkgPath`).
    pub pkg_path: Option<String>,
    /// A short title.
    pub title: Option<String>,
    /// A link for humans.
    pub url: Option<String>,
}

impl Finding {
    /// Whether a fixed version exists.
    pub fn fixable(&self) -> bool {
        self.fixed_version.as_deref().is_some_and(|v| !v.is_empty())
    }
}

/// A parsed report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `trivy 0.58.1`, `grype 0.86.1`.
    pub scanner: String,
    /// What was scanned, as the report names it (Trivy `ArtifactName`, Grype
    /// `source.target.userInput`).
    pub artifact: Option<String>,
    /// The image's config digest (Trivy `Metadata.ImageID`, Grype `source.target.imageID`).
    pub image_id: Option<String>,
    /// Manifest digests the report names: `NAME@sha256:…` repo digests (Trivy
    /// `Metadata.RepoDigests`, Grype `repoDigests`) and Grype's `manifestDigest`.
    pub digests: Vec<String>,
    /// The operating system, `family version` (Trivy `Metadata.OS`, Grype `distro`).
    pub os: Option<String>,
    /// Every finding, in report order.
    pub findings: Vec<Finding>,
}

// ---- Trivy ---------------------------------------------------------------------------------

enum TrivyDoc {
    V2(TrivyReport),
    Legacy(Vec<TrivyResult>),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyReport {
    schema_version: u32,
    #[serde(default)]
    trivy: Option<TrivyTool>,
    #[serde(default)]
    artifact_name: Option<String>,
    #[serde(default)]
    metadata: Option<TrivyMetadata>,
    #[serde(default)]
    results: Vec<TrivyResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyMetadata {
    #[serde(default, rename = "OS")]
    os: Option<TrivyOs>,
    #[serde(default, rename = "ImageID")]
    image_id: Option<String>,
    #[serde(default)]
    repo_digests: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyOs {
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyTool {
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    target: String,
    #[serde(default)]
    vulnerabilities: Option<Vec<TrivyVuln>>,
    #[serde(default)]
    secrets: Option<Vec<TrivySecret>>,
    #[serde(default)]
    misconfigurations: Option<Vec<TrivyMisconf>>,
    #[serde(default)]
    licenses: Option<Vec<TrivyLicense>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyVuln {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: String,
    pkg_name: String,
    #[serde(default)]
    installed_version: Option<String>,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    pkg_identifier: Option<TrivyPkgId>,
    #[serde(default)]
    pkg_path: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    primary_url: Option<String>,
}

#[derive(Deserialize)]
struct TrivyPkgId {
    #[serde(default, rename = "PURL")]
    purl: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivySecret {
    #[serde(rename = "RuleID")]
    rule_id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyMisconf {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default, rename = "AVDID")]
    avd_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    primary_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyLicense {
    name: String,
    #[serde(default)]
    pkg_name: Option<String>,
    #[serde(default)]
    file_path: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

fn trivy_findings(results: Vec<TrivyResult>) -> Vec<Finding> {
    let mut out = Vec::new();
    let sev = |s: &Option<String>| Severity::parse_lenient(s.as_deref().unwrap_or(""));
    for r in results {
        for v in r.vulnerabilities.unwrap_or_default() {
            out.push(Finding {
                severity: sev(&v.severity),
                id: v.vulnerability_id,
                kind: Kind::Vulnerability,
                package: Some(v.pkg_name),
                version: v.installed_version,
                fixed_version: v.fixed_version.filter(|f| !f.is_empty()),
                purl: v.pkg_identifier.and_then(|p| p.purl),
                target: r.target.clone(),
                pkg_path: v.pkg_path.filter(|p| !p.is_empty()),
                title: v.title,
                url: v.primary_url,
            });
        }
        for s in r.secrets.unwrap_or_default() {
            out.push(Finding {
                severity: sev(&s.severity),
                id: s.rule_id,
                kind: Kind::Secret,
                package: None,
                version: None,
                fixed_version: None,
                purl: None,
                target: r.target.clone(),
                pkg_path: None,
                title: s.title,
                url: None,
            });
        }
        for m in r.misconfigurations.unwrap_or_default() {
            // Trivy lists passed checks too (with --include-non-failures).
            if m.status
                .as_deref()
                .is_some_and(|s| !s.eq_ignore_ascii_case("FAIL"))
            {
                continue;
            }
            out.push(Finding {
                severity: sev(&m.severity),
                id: m.avd_id.filter(|a| !a.is_empty()).unwrap_or(m.id),
                kind: Kind::Misconfiguration,
                package: None,
                version: None,
                fixed_version: None,
                purl: None,
                target: r.target.clone(),
                pkg_path: None,
                title: m.title,
                url: m.primary_url,
            });
        }
        for l in r.licenses.unwrap_or_default() {
            out.push(Finding {
                severity: sev(&l.severity),
                id: l.name,
                kind: Kind::License,
                package: l.pkg_name,
                version: None,
                fixed_version: None,
                purl: None,
                target: l
                    .file_path
                    .filter(|p| !p.is_empty())
                    .unwrap_or(r.target.clone()),
                pkg_path: None,
                title: None,
                url: None,
            });
        }
    }
    out
}

// ---- Grype ---------------------------------------------------------------------------------

#[derive(Deserialize)]
struct GrypeReport {
    matches: Vec<GrypeMatch>,
    #[serde(default)]
    descriptor: Option<GrypeDescriptor>,
    #[serde(default)]
    source: Option<GrypeSource>,
    #[serde(default)]
    distro: Option<GrypeDistro>,
}

#[derive(Deserialize)]
struct GrypeDistro {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct GrypeDescriptor {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct GrypeSource {
    #[serde(default)]
    target: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct GrypeMatch {
    vulnerability: GrypeVuln,
    artifact: GrypeArtifact,
}

#[derive(Deserialize)]
struct GrypeVuln {
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    fix: Option<GrypeFix>,
    #[serde(default)]
    urls: Vec<String>,
    #[serde(default, rename = "dataSource")]
    data_source: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    purl: Option<String>,
    #[serde(default)]
    locations: Vec<GrypeLocation>,
}

#[derive(Deserialize)]
struct GrypeLocation {
    #[serde(default)]
    path: Option<String>,
}

fn grype_findings(r: GrypeReport) -> Vec<Finding> {
    r.matches
        .into_iter()
        .map(|m| {
            let fixed = m.vulnerability.fix.as_ref().and_then(|f| {
                (f.state.as_deref() == Some("fixed") && !f.versions.is_empty())
                    .then(|| f.versions.join(", "))
            });
            Finding {
                id: m.vulnerability.id,
                kind: Kind::Vulnerability,
                severity: Severity::parse_lenient(
                    m.vulnerability.severity.as_deref().unwrap_or(""),
                ),
                package: Some(m.artifact.name),
                version: m.artifact.version,
                fixed_version: fixed,
                purl: m.artifact.purl.filter(|p| !p.is_empty()),
                target: m
                    .artifact
                    .locations
                    .into_iter()
                    .find_map(|l| l.path)
                    .unwrap_or_default(),
                pkg_path: None,
                title: m.vulnerability.description.map(|d| {
                    let line = d.lines().next().unwrap_or_default();
                    line.chars().take(120).collect()
                }),
                url: m
                    .vulnerability
                    .data_source
                    .filter(|d| !d.is_empty())
                    .or_else(|| m.vulnerability.urls.into_iter().next()),
            }
        })
        .collect()
}

// ---- reading -------------------------------------------------------------------------------

/// Which format a JSON object is, from its top-level keys: Grype's have `matches`, Trivy's
/// `SchemaVersion`. Both write that key first, so the probe stops at it instead of reading
/// (and skipping) the whole report a second time; the typed parse that follows reads it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Grype,
    Trivy,
    Neither,
}

/// How the probe stops early: an error carrying this marker and the format.
const PROBE_STOP: &str = "\u{0}slipway-probe:";

fn probe(bytes: &[u8]) -> Result<Format, serde_json::Error> {
    use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Format;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Format, A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "matches" => return Err(A::Error::custom(format!("{PROBE_STOP}grype"))),
                    "SchemaVersion" => {
                        return Err(A::Error::custom(format!("{PROBE_STOP}trivy")));
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(Format::Neither)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde::Deserializer::deserialize_map(&mut de, V) {
        Ok(f) => de.end().map(|()| f),
        Err(e) => {
            let msg = e.to_string();
            match msg.strip_prefix(PROBE_STOP) {
                Some(rest) if rest.starts_with("grype") => Ok(Format::Grype),
                Some(rest) if rest.starts_with("trivy") => Ok(Format::Trivy),
                _ => Err(e),
            }
        }
    }
}

enum AnyDoc {
    Grype(GrypeReport),
    Trivy(TrivyDoc),
}

/// Reads a Trivy or Grype JSON report from `path`.
///
/// Two passes over the file: the first checks it is JSON (naming the line and column where it
/// is not) and which format it is, keeping nothing; the second reads the typed model.
pub fn read(path: &Path) -> Result<Report, ScanError> {
    let bytes = std::fs::read(path).map_err(|source| ScanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let malformed = |message: String| ScanError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    let doc = match first {
        Some(b'[') => {
            let results: Vec<TrivyResult> =
                serde_json::from_slice(&bytes).map_err(|e| malformed(json_position(&e)))?;
            AnyDoc::Trivy(TrivyDoc::Legacy(results))
        }
        Some(b'{') => {
            let format = probe(&bytes).map_err(|e| malformed(json_position(&e)))?;
            // The probe stopped early, so the typed parse is the first to see the rest: its
            // syntax errors (truncated, malformed JSON) read as such, with their position.
            let typed = |e: serde_json::Error, what: &str| match e.classify() {
                serde_json::error::Category::Data => {
                    malformed(format!("not a valid {what} report: {}", json_position(&e)))
                }
                _ => malformed(json_position(&e)),
            };
            match format {
                Format::Grype => {
                    AnyDoc::Grype(serde_json::from_slice(&bytes).map_err(|e| typed(e, "Grype"))?)
                }
                Format::Trivy => AnyDoc::Trivy(TrivyDoc::V2(
                    serde_json::from_slice(&bytes).map_err(|e| typed(e, "Trivy"))?,
                )),
                Format::Neither => {
                    return Err(malformed(
                        "neither a Trivy report (no `SchemaVersion`) nor a Grype report (no `matches`)"
                            .into(),
                    ));
                }
            }
        }
        Some(_) => {
            let e = serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
                .err()
                .map(|e| json_position(&e))
                .unwrap_or_else(|| "not a JSON object or array".into());
            return Err(malformed(e));
        }
        None => return Err(malformed("the file is empty".into())),
    };
    Ok(match doc {
        AnyDoc::Grype(g) => {
            let scanner = match &g.descriptor {
                Some(d) => format!(
                    "{} {}",
                    d.name.as_deref().unwrap_or("grype"),
                    d.version.as_deref().unwrap_or("(unknown version)")
                ),
                None => "grype".to_owned(),
            };
            let target = g.source.as_ref().and_then(|s| s.target.as_ref());
            let field = |k: &str| {
                target
                    .and_then(|t| t.get(k))
                    .and_then(|v| v.as_str())
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            let artifact = match target {
                Some(serde_json::Value::String(t)) => Some(t.clone()),
                _ => field("userInput"),
            };
            let mut digests: Vec<String> = target
                .and_then(|t| t.get("repoDigests"))
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            digests.extend(field("manifestDigest"));
            let os = g.distro.as_ref().and_then(|d| {
                let name = d.name.as_deref().filter(|n| !n.is_empty())?;
                Some(match d.version.as_deref().filter(|v| !v.is_empty()) {
                    Some(v) => format!("{name} {v}"),
                    None => name.to_owned(),
                })
            });
            Report {
                scanner,
                artifact,
                image_id: field("imageID"),
                digests,
                os,
                findings: grype_findings(g),
            }
        }
        AnyDoc::Trivy(TrivyDoc::V2(t)) => {
            if t.schema_version != 2 {
                return Err(malformed(format!(
                    "Trivy SchemaVersion {} is not supported (2 is)",
                    t.schema_version
                )));
            }
            Report {
                scanner: format!(
                    "trivy {}",
                    t.trivy
                        .and_then(|v| v.version)
                        .unwrap_or_else(|| "(unknown version)".into())
                ),
                artifact: t.artifact_name,
                image_id: t
                    .metadata
                    .as_ref()
                    .and_then(|m| m.image_id.clone())
                    .filter(|i| !i.is_empty()),
                digests: t
                    .metadata
                    .as_ref()
                    .map(|m| m.repo_digests.clone())
                    .unwrap_or_default(),
                os: t
                    .metadata
                    .as_ref()
                    .and_then(|m| m.os.as_ref())
                    .and_then(|o| {
                        let family = o.family.as_deref().filter(|f| !f.is_empty())?;
                        Some(match o.name.as_deref().filter(|n| !n.is_empty()) {
                            Some(n) => format!("{family} {n}"),
                            None => family.to_owned(),
                        })
                    }),
                findings: trivy_findings(t.results),
            }
        }
        AnyDoc::Trivy(TrivyDoc::Legacy(results)) => Report {
            scanner: "trivy (legacy report)".into(),
            artifact: None,
            image_id: None,
            digests: Vec::new(),
            os: None,
            findings: trivy_findings(results),
        },
    })
}
