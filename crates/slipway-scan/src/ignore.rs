//! Trivy's ignore files: `.trivyignore` (the id is the first word of a line, `# comments`, an
//! optional `exp:YYYY-MM-DD`) and `.trivyignore.yaml` (`vulnerabilities`, `misconfigurations`,
//! `secrets`, `licenses`: entries with `id`, optional `paths`, `purls`, `statement`,
//! `expired_at`), with the semantics of Trivy's `pkg/result/ignore.go`:
//!
//! - `paths` are glob patterns (`*` within one path segment, `**` across segments) matched
//!   against the finding's target (the file, or the result's target) or its package path
//!   (Trivy's `PkgPath`, e.g. the gemspec or jar a package came from);
//! - `purls` match a package when type, namespace and name are equal, the version too when the
//!   entry has one, and every qualifier of the entry is among the package's; a finding without a
//!   purl is not restricted by them (as in Trivy);
//! - an entry stops ignoring once its expiry time has passed: a date means 00:00 UTC of that
//!   day, so `expired_at: 2024-01-01` no longer ignores anything on 1 January 2024. The policy
//!   reports it as expired.
//!
//! A key the YAML format does not have (at the top or in an entry) is refused: a misspelt
//! `expires_at` would be an ignore that never expires.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
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
    /// Only findings whose target or package path matches one of these globs, when not empty.
    pub paths: Vec<glob::Pattern>,
    /// Only findings in these packages (purls, see the module docs), when not empty.
    pub purls: Vec<String>,
    /// Why.
    pub statement: Option<String>,
    /// When it stops ignoring (a date is 00:00 UTC of that day).
    pub expires: Option<DateTime<Utc>>,
    /// Where it came from (`file:line`), for messages.
    pub source: String,
}

const GLOB: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

impl Ignore {
    /// Whether it matches `f` (expiry not considered).
    pub fn matches(&self, f: &Finding) -> bool {
        if self.id != f.id || self.kind.is_some_and(|k| k != f.kind) {
            return false;
        }
        if !self.paths.is_empty() {
            let candidates = [Some(f.target.as_str()), f.pkg_path.as_deref()];
            let hit = candidates.into_iter().flatten().any(|p| {
                self.paths.iter().any(|g| {
                    g.matches_with(p, GLOB) || g.matches_with(p.trim_start_matches('/'), GLOB)
                })
            });
            if !hit {
                return false;
            }
        }
        if !self.purls.is_empty()
            && let Some(purl) = f.purl.as_deref()
            && !self.purls.iter().any(|p| crate::vex::purl_matches(p, purl))
        {
            return false;
        }
        true
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| now > e)
    }
}

/// 00:00 UTC of `d`.
fn midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// An expiry: `YYYY-MM-DD` (00:00 UTC) or an RFC 3339 time.
fn parse_expiry(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(midnight(d));
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
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
        // As Trivy: the id is the first word; `exp:` may follow; anything else is ignored.
        let mut words = line.split_whitespace();
        let id = words.next().unwrap_or_default().to_owned();
        let mut expires = None;
        for word in words {
            if let Some(d) = word.strip_prefix("exp:") {
                let parsed =
                    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|e| ScanError::Malformed {
                        path: path.to_path_buf(),
                        message: format!("line {}: `exp:{d}` is not a YYYY-MM-DD date: {e}", i + 1),
                    })?;
                expires = Some(midnight(parsed));
            }
        }
        out.push(Ignore {
            id,
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

// Unknown keys are refused, at the top and in entries: a misspelt `expires_at` would otherwise
// be an ignore that never expires, a misspelt `vulnerabilites` a list that ignores nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
                Some(d) => Some(parse_expiry(d).ok_or_else(|| {
                    malformed(format!(
                        "{kind} `{}`: expired_at `{d}` is neither a YYYY-MM-DD date nor an RFC 3339 time",
                        e.id
                    ))
                })?),
                None => None,
            };
            let mut paths = Vec::new();
            for p in &e.paths {
                paths.push(glob::Pattern::new(p).map_err(|err| {
                    malformed(format!(
                        "{kind} `{}`: paths: `{p}` is not a glob pattern: {err}",
                        e.id
                    ))
                })?);
            }
            for p in &e.purls {
                if !p.starts_with("pkg:") || !crate::vex::purl_matches(p, p) {
                    return Err(malformed(format!(
                        "{kind} `{}`: purls: `{p}` is not a package URL (pkg:type/namespace/name@version)",
                        e.id
                    )));
                }
            }
            out.push(Ignore {
                source: format!("{} ({kind} {})", path.display(), e.id),
                id: e.id,
                kind: Some(kind),
                paths,
                purls: e.purls,
                statement: e.statement,
                expires,
            });
        }
    }
    Ok(out)
}
