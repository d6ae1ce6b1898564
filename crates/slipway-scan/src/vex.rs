//! VEX documents: OpenVEX (`statements[]` with `vulnerability.name`, `products[].@id`, `status`)
//! and CycloneDX VEX (`vulnerabilities[]` with `id`, `analysis.state`, `affects[].ref`). A
//! `not_affected` or `fixed` statement suppresses exactly the findings with that vulnerability id
//! in a matching product (purl; a product without a version matches every version).

use std::path::Path;

use serde::Deserialize;

use crate::ScanError;
use crate::report::{Finding, Kind};

/// One statement that suppresses findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// Vulnerability id.
    pub vulnerability: String,
    /// Product purls it is about.
    pub products: Vec<String>,
    /// `not_affected` or `fixed`.
    pub status: String,
    /// Justification or detail.
    pub justification: Option<String>,
    /// The document it came from.
    pub source: String,
}

impl VexStatement {
    /// Whether it suppresses `f`.
    pub fn matches(&self, f: &Finding) -> bool {
        if f.kind != Kind::Vulnerability || f.id != self.vulnerability {
            return false;
        }
        let Some(purl) = f.purl.as_deref() else {
            return false;
        };
        self.products.iter().any(|p| purl_matches(p, purl))
    }
}

fn strip_qualifiers(p: &str) -> &str {
    p.split(['?', '#']).next().unwrap_or(p)
}

/// `product` (maybe without version) against a finding's `purl`.
fn purl_matches(product: &str, purl: &str) -> bool {
    let product = strip_qualifiers(product);
    let purl = strip_qualifiers(purl);
    // Versions in purls may be percent-encoded differently (`+` vs `%2B`).
    let norm = |s: &str| s.replace("%2B", "+").replace("%2b", "+");
    let (product, purl) = (norm(product), norm(purl));
    if product.contains('@') {
        product == purl
    } else {
        purl.split('@').next() == Some(product.as_str())
    }
}

#[derive(Deserialize)]
struct OpenVex {
    statements: Vec<OpenVexStatement>,
}

#[derive(Deserialize)]
struct OpenVexStatement {
    vulnerability: OpenVexVuln,
    #[serde(default)]
    products: Vec<OpenVexProduct>,
    status: String,
    #[serde(default)]
    justification: Option<String>,
}

#[derive(Deserialize)]
struct OpenVexVuln {
    name: String,
}

#[derive(Deserialize)]
struct OpenVexProduct {
    #[serde(rename = "@id")]
    id: String,
}

#[derive(Deserialize)]
struct CdxVex {
    vulnerabilities: Vec<CdxVuln>,
}

#[derive(Deserialize)]
struct CdxVuln {
    id: String,
    #[serde(default)]
    analysis: Option<CdxAnalysis>,
    #[serde(default)]
    affects: Vec<CdxAffects>,
}

#[derive(Deserialize)]
struct CdxAnalysis {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    justification: Option<String>,
}

#[derive(Deserialize)]
struct CdxAffects {
    #[serde(rename = "ref")]
    reference: String,
}

/// Reads an OpenVEX or CycloneDX VEX document; only suppressing statements are returned.
pub fn read(path: &Path) -> Result<Vec<VexStatement>, ScanError> {
    let bytes = std::fs::read(path).map_err(|source| ScanError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let malformed = |message: String| ScanError::Malformed {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| malformed(crate::error::json_position(&e)))?;
    let source = path.display().to_string();
    let suppresses =
        |s: &str| matches!(s, "not_affected" | "fixed" | "resolved" | "false_positive");
    if value.get("statements").is_some() {
        let doc: OpenVex =
            serde_json::from_value(value).map_err(|e| malformed(format!("OpenVEX: {e}")))?;
        Ok(doc
            .statements
            .into_iter()
            .filter(|s| suppresses(&s.status))
            .map(|s| VexStatement {
                vulnerability: s.vulnerability.name,
                products: s.products.into_iter().map(|p| p.id).collect(),
                status: s.status,
                justification: s.justification,
                source: source.clone(),
            })
            .collect())
    } else if value.get("bomFormat").and_then(|v| v.as_str()) == Some("CycloneDX") {
        let doc: CdxVex =
            serde_json::from_value(value).map_err(|e| malformed(format!("CycloneDX VEX: {e}")))?;
        Ok(doc
            .vulnerabilities
            .into_iter()
            .filter_map(|v| {
                let a = v.analysis?;
                let state = a.state?;
                suppresses(&state).then(|| VexStatement {
                    vulnerability: v.id,
                    // `urn:cdx:<serial>/<version>#<purl>` refers to a component by purl.
                    products: v
                        .affects
                        .into_iter()
                        .map(|a| match a.reference.split_once('#') {
                            Some((_, purl)) if purl.starts_with("pkg:") => purl.to_owned(),
                            _ => a.reference,
                        })
                        .collect(),
                    status: state,
                    justification: a.justification,
                    source: source.clone(),
                })
            })
            .collect())
    } else {
        Err(malformed(
            "neither OpenVEX (`statements`) nor CycloneDX VEX (`bomFormat: CycloneDX`)".into(),
        ))
    }
}
