//! What the gate reads from an image's SBOM documents — SPDX 2.3 or CycloneDX JSON, whoever
//! wrote them (slipway, syft, trivy): the dependency graph that VEX statements about a product
//! and its subcomponents need, the licenses packages declare (for the license deny-list), and
//! the operating system.

use std::path::Path;

use serde_json::Value;

use crate::ScanError;
use crate::report::{Finding, Kind, Severity};
use crate::vex::Graph;

/// A license a package declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredLicense {
    /// Package name.
    pub package: String,
    /// Version.
    pub version: Option<String>,
    /// Package URL.
    pub purl: Option<String>,
    /// The license expression (or name) as the SBOM gives it.
    pub expression: String,
    /// Where the package was found, when the SBOM says.
    pub location: Option<String>,
}

/// The facts of one SBOM document.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// What contains what.
    pub graph: Graph,
    /// Declared licenses, one entry per package and license.
    pub licenses: Vec<DeclaredLicense>,
    /// The operating system (`debian 12`), when the SBOM names one.
    pub os: Option<String>,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn cdx_licenses(c: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for l in c["licenses"].as_array().into_iter().flatten() {
        if let Some(e) = s(&l["expression"]) {
            out.push(e);
        } else if let Some(id) = s(&l["license"]["id"]) {
            out.push(id);
        } else if let Some(name) = s(&l["license"]["name"]) {
            out.push(name);
        }
    }
    out
}

fn cdx_location(c: &Value) -> Option<String> {
    s(&c["evidence"]["occurrences"][0]["location"]).or_else(|| {
        c["properties"].as_array().and_then(|ps| {
            ps.iter()
                .find(|p| {
                    matches!(
                        p["name"].as_str(),
                        Some("aquasecurity:trivy:FilePath" | "syft:location:0:path")
                    )
                })
                .and_then(|p| s(&p["value"]))
        })
    })
}

impl Facts {
    /// The facts of an SBOM document (`None`: neither CycloneDX nor SPDX).
    pub fn from_doc(doc: &Value) -> Option<Facts> {
        let graph = Graph::from_sbom(doc)?;
        let mut facts = Facts {
            graph,
            ..Facts::default()
        };
        if doc.get("bomFormat").is_some() {
            fn walk(list: &Value, facts: &mut Facts) {
                for c in list.as_array().into_iter().flatten() {
                    if c["type"] == "operating-system" && facts.os.is_none() {
                        facts.os = s(&c["name"]).map(|n| match s(&c["version"]) {
                            Some(v) => format!("{n} {v}"),
                            None => n,
                        });
                    }
                    if c["type"] != "file" && c["type"] != "operating-system" {
                        for expression in cdx_licenses(c) {
                            facts.licenses.push(DeclaredLicense {
                                package: s(&c["name"]).unwrap_or_default(),
                                version: s(&c["version"]),
                                purl: s(&c["purl"]),
                                expression,
                                location: cdx_location(c),
                            });
                        }
                    }
                    walk(&c["components"], facts);
                }
            }
            walk(&doc["components"], &mut facts);
        } else {
            for p in doc["packages"].as_array().into_iter().flatten() {
                let purl = p["externalRefs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|r| r["referenceType"] == "purl")
                    .and_then(|r| s(&r["referenceLocator"]));
                if p["primaryPackagePurpose"] == "OPERATING-SYSTEM" && facts.os.is_none() {
                    facts.os = s(&p["name"]).map(|n| match s(&p["versionInfo"]) {
                        Some(v) => format!("{n} {v}"),
                        None => n,
                    });
                }
                let declared = [&p["licenseDeclared"], &p["licenseConcluded"]]
                    .into_iter()
                    .filter_map(s)
                    .find(|l| !matches!(l.as_str(), "NOASSERTION" | "NONE"));
                if let Some(expression) = declared
                    && p["primaryPackagePurpose"] != "CONTAINER"
                {
                    facts.licenses.push(DeclaredLicense {
                        package: s(&p["name"]).unwrap_or_default(),
                        version: s(&p["versionInfo"]),
                        purl,
                        expression,
                        location: p["sourceInfo"]
                            .as_str()
                            .and_then(|i| i.strip_prefix("found in "))
                            .map(str::to_owned),
                    });
                }
            }
        }
        Some(facts)
    }

    /// Reads the SBOM at `path`.
    pub fn read(path: &Path) -> Result<Facts, ScanError> {
        let malformed = |message: String| ScanError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|source| ScanError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| malformed(crate::error::json_position(&e)))?;
        Facts::from_doc(&doc).ok_or_else(|| {
            malformed("neither CycloneDX (`bomFormat`) nor SPDX (`spdxVersion`)".into())
        })
    }
}

/// The license ids of an expression (`MIT OR (GPL-2.0-only WITH Classpath-exception-2.0)`):
/// every term, operators and parentheses aside.
pub fn license_terms(expression: &str) -> Vec<&str> {
    expression
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| {
            !t.is_empty()
                && !["AND", "OR", "WITH"]
                    .iter()
                    .any(|op| t.eq_ignore_ascii_case(op))
        })
        .collect()
}

/// License findings for the packages whose declared license names a denied one (any term of
/// the expression: fail closed — `MIT OR GPL-3.0-only` is denied when GPL-3.0-only is). One
/// finding per package and denied term; a license has no severity of its own (`UNKNOWN`).
pub fn license_findings(licenses: &[DeclaredLicense], deny: &[String]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for l in licenses {
        for term in license_terms(&l.expression) {
            if !deny.iter().any(|d| d.eq_ignore_ascii_case(term)) {
                continue;
            }
            let f = Finding {
                id: term.to_owned(),
                kind: Kind::License,
                severity: Severity::Unknown,
                package: Some(l.package.clone()),
                version: l.version.clone(),
                fixed_version: None,
                purl: l.purl.clone(),
                target: l.location.clone().unwrap_or_else(|| "SBOM".into()),
                pkg_path: None,
                title: Some(format!("{} is licensed {}", l.package, l.expression)),
                url: None,
            };
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_of_an_expression_counts() {
        assert_eq!(
            license_terms("MIT OR (GPL-2.0-only WITH Classpath-exception-2.0)"),
            ["MIT", "GPL-2.0-only", "Classpath-exception-2.0"]
        );
        let l = DeclaredLicense {
            package: "p".into(),
            version: None,
            purl: None,
            expression: "MIT or GPL-3.0-only".into(),
            location: None,
        };
        let f = license_findings(std::slice::from_ref(&l), &["gpl-3.0-only".into()]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, "GPL-3.0-only");
        assert!(license_findings(&[l], &["GPL-2.0-only".into()]).is_empty());
    }
}
