//! Trivy's ignore files: `.trivyignore` (one id per line, `# comments`, an optional
//! `exp:YYYY-MM-DD` after the id) and `.trivyignore.yaml` (`vulnerabilities`,
//! `misconfigurations`, `secrets`, `licenses`: entries with `id`, optional `paths`, `purls`,
//! `statement`, `expired_at`). An entry past its expiry date no longer ignores anything; the
//! policy reports it as expired.

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::ScanError;
use crate::report::{Finding, Kind};

/// One ignore entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignore {
    /// The id it ignores (vulnerability, check, secret rule or license).
    pub id: String,
    /// Which kinds it applies to (`None`: any, as in `.trivyignore`).
    pub kind: Option<Kind>,
    /// Only findings in these paths (targets), when not empty.
    pub paths: Vec<String>,
    /// Only findings in these packages (purl prefix match), when not empty.
    pub purls: Vec<String>,
    /// Why.
    pub statement: Option<String>,
    /// The last day it applies (it stops ignoring after this date).
    pub expires: Option<NaiveDate>,
    /// Where it came from (`file:line`), for messages.
    pub source: String,
}

impl Ignore {
    /// Whether it matches `f` (expiry not considered).
    pub fn matches(&self, f: &Finding) -> bool {
        if self.id != f.id || self.kind.is_some_and(|k| k != f.kind) {
            return false;
        }
        if !self.paths.is_empty()
            && !self
                .paths
                .iter()
                .any(|p| f.target.trim_start_matches('/') == p.trim_start_matches('/'))
        {
            return false;
        }
        if !self.purls.is_empty() {
            let Some(purl) = f.purl.as_deref() else {
                return false;
            };
            // Trivy matches a purl without version against every version of the package.
            let unqualified = purl.split(['?', '#']).next().unwrap_or(purl);
            let bare = unqualified.split('@').next().unwrap_or(unqualified);
            if !self
                .purls
                .iter()
                .any(|p| p == purl || p == unqualified || p == bare)
            {
                return false;
            }
        }
        true
    }

    /// Whether it has expired by `today`.
    pub fn expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|e| today > e)
    }
}

fn read_text(path: &Path) -> Result<String, ScanError> {
    std::fs::read_to_string(path).map_err(|source| ScanError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads an ignore file: `.yaml`/`.yml` names are the YAML format, anything else `.trivyignore`.
pub fn read(path: &Path) -> Result<Vec<Ignore>, ScanError> {
    let text = read_text(path)?;
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if yaml {
        parse_yaml(&text, path)
    } else {
        parse_plain(&text, path)
    }
}

/// Parses the `.trivyignore` format.
pub fn parse_plain(text: &str, path: &Path) -> Result<Vec<Ignore>, ScanError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut id_parts = Vec::new();
        let mut expires = None;
        for word in line.split_whitespace() {
            if let Some(d) = word.strip_prefix("exp:") {
                expires = Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| {
                    ScanError::Malformed {
                        path: path.to_path_buf(),
                        message: format!("line {}: `exp:{d}` is not a YYYY-MM-DD date: {e}", i + 1),
                    }
                })?);
            } else {
                id_parts.push(word);
            }
        }
        out.push(Ignore {
            // License expressions hold spaces ("Apache-2.0 WITH LLVM-exception").
            id: id_parts.join(" "),
            kind: None,
            paths: Vec::new(),
            purls: Vec::new(),
            statement: None,
            expires,
            source: format!("{}:{}", path.display(), i + 1),
        });
    }
    Ok(out)
}

#[derive(Deserialize)]
struct YamlFile {
    #[serde(default)]
    vulnerabilities: Vec<YamlEntry>,
    #[serde(default)]
    misconfigurations: Vec<YamlEntry>,
    #[serde(default)]
    secrets: Vec<YamlEntry>,
    #[serde(default)]
    licenses: Vec<YamlEntry>,
}

#[derive(Deserialize)]
struct YamlEntry {
    id: String,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    purls: Vec<String>,
    #[serde(default)]
    statement: Option<String>,
    #[serde(default)]
    expired_at: Option<String>,
}

/// Parses the `.trivyignore.yaml` format.
pub fn parse_yaml(text: &str, path: &Path) -> Result<Vec<Ignore>, ScanError> {
    let malformed = |message: String| ScanError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let doc: YamlFile = serde_saphyr::from_str(text).map_err(|e| malformed(e.to_string()))?;
    let mut out = Vec::new();
    for (kind, entries) in [
        (Kind::Vulnerability, doc.vulnerabilities),
        (Kind::Misconfiguration, doc.misconfigurations),
        (Kind::Secret, doc.secrets),
        (Kind::License, doc.licenses),
    ] {
        for e in entries {
            let expires = match &e.expired_at {
                Some(d) => Some(
                    NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d").map_err(
                        |err| malformed(format!("{}: expired_at `{d}` is not a date: {err}", e.id)),
                    )?,
                ),
                None => None,
            };
            out.push(Ignore {
                source: format!("{} ({kind} {})", path.display(), e.id),
                id: e.id,
                kind: Some(kind),
                paths: e.paths,
                purls: e.purls,
                statement: e.statement,
                expires,
            });
        }
    }
    Ok(out)
}
