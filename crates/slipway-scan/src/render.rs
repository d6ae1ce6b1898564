//! What the gate says, where users look: a markdown step summary (GitHub), SARIF 2.1.0 (GitHub
//! code scanning), the GitLab container-scanning report (security report schema 15.x). All
//! output is deterministic for the same input (ids are derived from content, not random).

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::policy::{Outcome, Suppressed};
use crate::report::{Finding, Kind, Severity};

/// Most findings listed in the markdown summary.
pub const SUMMARY_TOP: usize = 20;
/// Most results in one SARIF run (GitHub accepts 25,000 per run; stay well inside).
pub const SARIF_MAX_RESULTS: usize = 5_000;

/// The GitLab security report schema version the report follows.
pub const GITLAB_SCHEMA_VERSION: &str = "15.2.1";

/// An expiry for people: the date, with the time when it is not midnight UTC.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    if t.time() == chrono::NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

fn link(f: &Finding) -> String {
    match &f.url {
        Some(u) => format!("[{}]({u})", f.id),
        None if f.id.starts_with("CVE-") => {
            format!("[{}](https://nvd.nist.gov/vuln/detail/{})", f.id, f.id)
        }
        None if f.id.starts_with("GHSA-") => {
            format!("[{}](https://github.com/advisories/{})", f.id, f.id)
        }
        None => f.id.clone(),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The markdown step summary for `image` (`name@digest`).
pub fn markdown(image: &str, scanner: &str, o: &Outcome, threshold: Severity) -> String {
    let mut md = format!(
        "### slipway scan: {} {}\n\n`{image}` — {scanner}, failing at {threshold} and above\n\n",
        if o.pass { "✅ pass" } else { "❌ fail" },
        if o.pass {
            ""
        } else {
            "(blocking findings below)"
        }
    )
    .replace("  \n", " \n");
    md.push_str("| Critical | High | Medium | Low | Unknown | Blocking | Ignored |\n|---:|---:|---:|---:|---:|---:|---:|\n");
    md.push_str(&format!(
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        o.count(Severity::Critical),
        o.count(Severity::High),
        o.count(Severity::Medium),
        o.count(Severity::Low),
        o.count(Severity::Unknown),
        o.blocking.len(),
        o.ignored.len()
    ));
    if o.licenses > 0 {
        md.push_str(&format!(
            "\n{} license finding(s) (not counted by severity).\n",
            o.licenses
        ));
    }
    if !o.blocking.is_empty() {
        md.push_str("\n#### Blocking findings\n\n| Severity | Id | Package | Installed | Fixed in | Where |\n|---|---|---|---|---|---|\n");
        let mut sorted: Vec<&Finding> = o.blocking.iter().collect();
        sorted.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
        for f in sorted.iter().take(SUMMARY_TOP) {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                if f.kind == Kind::License {
                    "LICENSE".to_owned()
                } else {
                    f.severity.to_string()
                },
                link(f),
                cell(f.package.as_deref().unwrap_or("—")),
                cell(f.version.as_deref().unwrap_or("—")),
                cell(f.fixed_version.as_deref().unwrap_or("—")),
                cell(&f.target)
            ));
        }
        if sorted.len() > SUMMARY_TOP {
            md.push_str(&format!(
                "\n…and {} more (see the JSON report).\n",
                sorted.len() - SUMMARY_TOP
            ));
        }
    }
    if !o.ignored.is_empty() {
        md.push_str(&format!(
            "\n<details><summary>{} ignored</summary>\n\n",
            o.ignored.len()
        ));
        for s in o.ignored.iter().take(SUMMARY_TOP) {
            md.push_str(&format!(
                "- {} {}: {}\n",
                s.finding.id,
                s.finding.package.as_deref().unwrap_or(""),
                cell(&s.reason)
            ));
        }
        md.push_str("\n</details>\n");
    }
    for s in &o.expiring {
        md.push_str(&format!(
            "\n> ⚠️ the ignore of {} expires on {}\n",
            s.finding.id,
            s.expires.map(when).unwrap_or_default()
        ));
    }
    for e in &o.expired {
        md.push_str(&format!("\n> ⚠️ expired ignore no longer applies: {e}\n"));
    }
    md
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// GitHub's `security-severity` (a CVSS-like score) for a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Unknown => "0.0",
    }
}

/// The SARIF rule of a finding: its own id (a CVE, a check id, a secret rule), so the same
/// finding has the same rule in every run and across images.
pub fn rule_id(f: &Finding) -> String {
    f.id.clone()
}

/// The identity of a finding across runs (same id, package, version and place).
fn fingerprint(f: &Finding) -> String {
    stable_id(&[
        &f.id,
        f.package.as_deref().unwrap_or(""),
        f.version.as_deref().unwrap_or(""),
        &f.target,
    ])
}

/// SARIF 2.1.0 for `findings`, one run. Findings the policy let through (`suppressed`: VEX,
/// ignores, allow rules) are results with a `suppressions` entry (kind `external`, status
/// `accepted`, the reason as justification), so code scanning shows them as dismissed rather
/// than open. At most [`SARIF_MAX_RESULTS`] results: unsuppressed ones first, most severe first;
/// the same finding twice (several platforms) is one result.
pub fn sarif(
    findings: &[Finding],
    suppressed: &[Suppressed],
    tool_version: &str,
    image: &str,
) -> Value {
    let reasons: HashMap<&Finding, &str> = suppressed
        .iter()
        .map(|s| (&s.finding, s.reason.as_str()))
        .collect();
    let mut rules: Vec<Value> = Vec::new();
    let mut index: std::collections::BTreeMap<String, usize> = Default::default();
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        reasons
            .contains_key(a)
            .cmp(&reasons.contains_key(b))
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(&b.id))
            .then(a.package.cmp(&b.package))
            .then(a.version.cmp(&b.version))
            .then(a.target.cmp(&b.target))
    });
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    for f in sorted {
        if results.len() == SARIF_MAX_RESULTS {
            break;
        }
        let print = fingerprint(f);
        if !seen.insert(print.clone()) {
            continue;
        }
        let id = rule_id(f);
        let i = *index.entry(id.clone()).or_insert_with(|| {
            rules.push(json!({
                "id": id,
                "name": format!("{}{}", match f.kind { Kind::Vulnerability => "Vulnerability", Kind::Secret => "Secret", Kind::Misconfiguration => "Misconfiguration", Kind::License => "License" }, id.chars().filter(char::is_ascii_alphanumeric).collect::<String>()),
                "shortDescription": { "text": f.title.clone().unwrap_or_else(|| id.clone()) },
                "fullDescription": { "text": f.title.clone().unwrap_or_else(|| format!("{} {}", f.kind, id)) },
                "helpUri": f.url.clone().unwrap_or_else(|| "https://github.com/slipway-dev/slipway".into()),
                "help": { "text": format!("{} {} ({})", f.kind, id, f.severity) },
                "defaultConfiguration": { "level": sarif_level(f.severity) },
                "properties": {
                    "security-severity": security_severity(f.severity),
                    "tags": ["security", f.kind.to_string()],
                    "precision": "very-high",
                },
            }));
            rules.len() - 1
        });
        let what = match (&f.package, &f.version) {
            (Some(p), Some(v)) => format!("{p} {v}"),
            (Some(p), None) => p.clone(),
            _ => f.target.clone(),
        };
        let uri = uri_reference(if f.target.is_empty() {
            image
        } else {
            f.target.trim_start_matches('/')
        });
        let mut result = json!({
            "ruleId": id,
            "ruleIndex": i,
            "level": sarif_level(f.severity),
            "message": { "text": format!(
                "{} {} in {what}{}",
                f.severity,
                f.id,
                f.fixed_version.as_deref().map(|v| format!(" (fixed in {v})")).unwrap_or_default()
            ) },
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": { "uri": uri },
                    "region": { "startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1 }
                },
                "message": { "text": image }
            }],
            "partialFingerprints": { "slipway/v1": print },
        });
        if let Some(reason) = reasons.get(f) {
            result["suppressions"] = json!([{
                "kind": "external",
                "status": "accepted",
                "justification": reason,
            }]);
        }
        results.push(result);
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "slipway",
                "informationUri": "https://github.com/slipway-dev/slipway",
                "version": tool_version,
                "rules": rules,
            }},
            "results": results,
        }]
    })
}

/// `s` as a URI reference: bytes outside RFC 3986's unreserved and reserved sets are
/// percent-encoded (targets like `app.tar (alpine 3.9)` hold spaces).
fn uri_reference(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A UUID-shaped id derived from `parts` (deterministic).
pub fn stable_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let x: String = d.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn gitlab_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Unknown => "Unknown",
    }
}

/// At most `n` characters of `s` (GitLab counts characters, as JSON Schema does).
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

fn gitlab_url(u: &str) -> bool {
    ["https://", "http://", "ftp://"]
        .iter()
        .any(|p| u.len() > p.len() && u.starts_with(p))
}

/// The GitLab container-scanning report (`gl-container-scanning-report.json`, security report
/// schema [`GITLAB_SCHEMA_VERSION`]) for the vulnerabilities among `findings`. Findings the
/// policy let through (`suppressed`) are left out, as Trivy's GitLab template leaves out what
/// its ignores and VEX filter. Each vulnerability's id derives from what it is and where
/// (vulnerability, package, version, target, image), so it is unique in the report and stable
/// across runs; the same finding twice (several platforms) is listed once. Times are
/// `YYYY-MM-DDTHH:MM:SS` as the schema requires.
#[allow(clippy::too_many_arguments)]
pub fn gitlab(
    findings: &[Finding],
    suppressed: &[Suppressed],
    image: &str,
    operating_system: &str,
    scanner: &str,
    tool_version: &str,
    start: &str,
    end: &str,
) -> Value {
    let (scanner_name, scanner_version) = scanner.split_once(' ').unwrap_or((scanner, "unknown"));
    let hidden: std::collections::HashSet<&Finding> =
        suppressed.iter().map(|s| &s.finding).collect();
    let os = if operating_system.trim().is_empty() {
        "unknown"
    } else {
        operating_system
    };
    let mut seen = std::collections::HashSet::new();
    let mut vulns: Vec<Value> = Vec::new();
    for f in findings
        .iter()
        .filter(|f| f.kind == Kind::Vulnerability && !hidden.contains(f))
    {
        let id = stable_id(&[
            &f.id,
            f.package.as_deref().unwrap_or(""),
            f.version.as_deref().unwrap_or(""),
            &f.target,
            image,
        ]);
        if !seen.insert(id.clone()) {
            continue;
        }
        let identifier_type = if f.id.starts_with("CVE-") {
            "cve"
        } else if f.id.starts_with("GHSA-") {
            "ghsa"
        } else {
            "other"
        };
        let url = f.url.as_deref().filter(|u| gitlab_url(u));
        let mut ident = json!({ "type": identifier_type, "name": f.id, "value": f.id });
        if let Some(u) = url {
            ident["url"] = json!(u);
        }
        let mut v = json!({
            "id": id,
            "name": cut(f.title.as_deref().unwrap_or(&f.id), 255),
            "description": cut(
                &f.title.clone().unwrap_or_else(|| format!("{} in {}", f.id, f.package.as_deref().unwrap_or("?"))),
                1_048_576,
            ),
            "severity": gitlab_severity(f.severity),
            "identifiers": [ident],
            "location": {
                "dependency": {
                    "package": { "name": f.package.clone().unwrap_or_default() },
                    "version": f.version.clone().unwrap_or_default(),
                },
                "operating_system": os,
                "image": image,
            },
        });
        if let Some(fix) = &f.fixed_version {
            v["solution"] = json!(cut(
                &format!(
                    "Upgrade {} to {fix}",
                    f.package.as_deref().unwrap_or("the package")
                ),
                7000
            ));
        }
        if let Some(u) = url {
            v["links"] = json!([{ "url": u }]);
        }
        vulns.push(v);
    }
    json!({
        "version": GITLAB_SCHEMA_VERSION,
        "scan": {
            "analyzer": { "id": "slipway", "name": "slipway", "version": tool_version, "vendor": { "name": "Slipway" } },
            "scanner": { "id": scanner_name.to_ascii_lowercase(), "name": scanner_name, "version": scanner_version, "vendor": { "name": scanner_name } },
            "type": "container_scanning",
            "start_time": start,
            "end_time": end,
            "status": "success",
        },
        "vulnerabilities": vulns,
        "remediations": [],
    })
}
