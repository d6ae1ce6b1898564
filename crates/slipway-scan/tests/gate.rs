//! The gate over real Trivy and Grype reports (tests/fixtures, from upstream; see MANIFEST.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde_json::Value;
use slipway_scan::policy::{Allow, Policy};
use slipway_scan::{Kind, ScanError, Severity, ignore, render, report, vex};

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn reports() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["trivy", "grype"] {
        for e in std::fs::read_dir(fixture(dir)).unwrap() {
            out.push(e.unwrap().path());
        }
    }
    out.sort();
    assert!(out.len() >= 19, "{out:?}");
    out
}

/// Counts by severity made straight from the raw JSON, without our models.
fn independent_counts(path: &Path) -> BTreeMap<String, u64> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut counts = BTreeMap::new();
    let mut add = |s: Option<&str>| {
        let s = s.unwrap_or("").to_ascii_uppercase();
        let bucket = match s.as_str() {
            "CRITICAL" | "HIGH" | "MEDIUM" | "LOW" => s,
            _ => "UNKNOWN".into(),
        };
        *counts.entry(bucket).or_insert(0) += 1;
    };
    if let Some(matches) = v.get("matches").and_then(Value::as_array) {
        for m in matches {
            add(m["vulnerability"]["severity"].as_str());
        }
        return counts;
    }
    let results = match &v {
        Value::Array(a) => a.clone(),
        _ => v["Results"].as_array().cloned().unwrap_or_default(),
    };
    for r in results {
        for key in ["Vulnerabilities", "Secrets", "Licenses"] {
            for x in r[key].as_array().into_iter().flatten() {
                add(x["Severity"].as_str());
            }
        }
        for x in r["Misconfigurations"].as_array().into_iter().flatten() {
            if x["Status"].as_str().is_none_or(|s| s == "FAIL") {
                add(x["Severity"].as_str());
            }
        }
    }
    counts
}

#[test]
fn every_vector_report_parses_and_its_counts_match_an_independent_count() {
    for path in reports() {
        let r = report::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = Policy::default().evaluate(&r.findings, today());
        let ours: BTreeMap<String, u64> = outcome
            .counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        assert_eq!(ours, independent_counts(&path), "{}", path.display());
        assert!(!r.scanner.is_empty());
    }
}

#[test]
fn truncated_or_malformed_reports_fail_closed_naming_the_position() {
    for path in reports() {
        let bytes = std::fs::read(&path).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cut = dir.path().join("cut.json");
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        match report::read(&cut) {
            Err(ScanError::Malformed { message, .. }) => {
                assert!(
                    message.contains("line") && message.contains("column"),
                    "{message}"
                );
            }
            other => panic!("{}: truncated report gave {other:?}", path.display()),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"SchemaVersion\": 2,\n  \"Results\": [ oops ]\n}\n",
    )
    .unwrap();
    let e = report::read(&bad).unwrap_err().to_string();
    assert!(e.contains("line 3"), "{e}");
    std::fs::write(&bad, "{\"something\": \"else\"}").unwrap();
    assert!(
        report::read(&bad)
            .unwrap_err()
            .to_string()
            .contains("neither a Trivy")
    );
    std::fs::write(&bad, "{\"SchemaVersion\": 3, \"Results\": []}").unwrap();
    assert!(
        report::read(&bad)
            .unwrap_err()
            .to_string()
            .contains("SchemaVersion 3")
    );
}

fn ids(findings: &[slipway_scan::Finding]) -> Vec<String> {
    let mut v: Vec<String> = findings
        .iter()
        .map(|f| format!("{} {}", f.id, f.package.as_deref().unwrap_or("")))
        .collect();
    v.sort();
    v
}

#[test]
fn thresholds_and_fixable_only() {
    let r = report::read(&fixture("trivy/debian-buster.json")).unwrap();
    let by = |fail_on, fixable_only| {
        Policy {
            fail_on,
            fixable_only,
            ..Policy::default()
        }
        .evaluate(&r.findings, today())
    };
    let critical = by(Severity::Critical, false);
    assert!(!critical.pass);
    assert_eq!(ids(&critical.blocking), ["CVE-2019-18224 libidn2-0"]);
    let low = by(Severity::Low, false);
    assert_eq!(low.blocking.len(), r.findings.len());
    let fixable = by(Severity::Low, true);
    assert!(fixable.blocking.iter().all(|f| f.fixable()));
    assert!(fixable.blocking.len() < low.blocking.len());
    assert_eq!(
        fixable.blocking.len(),
        r.findings
            .iter()
            .filter(|f| f.fixed_version.is_some())
            .count()
    );
    // A report with nothing at the threshold passes.
    let grype = report::read(&fixture("grype/empty.json")).unwrap();
    assert!(grype.findings.is_empty());
    assert!(Policy::default().evaluate(&grype.findings, today()).pass);
}

#[test]
fn trivyignore_entries_ignore_until_they_expire() {
    let r = report::read(&fixture("trivy/alpine-39.json")).unwrap();
    let critical: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .map(|f| f.id.clone())
        .collect();
    assert!(
        critical.iter().all(|id| id == "CVE-2019-14697"),
        "{critical:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join(".trivyignore");

    // Upstream's docs example ignores CVE-2019-14697 until 2023-01-01: expired by now.
    let docs = ignore::read(&fixture("ignore/docs-example.trivyignore")).unwrap();
    let o = Policy {
        ignores: docs,
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert!(!o.pass, "an expired entry no longer ignores");
    assert!(
        o.expired.iter().any(|e| e.contains("2023-01-01")),
        "{:?}",
        o.expired
    );

    // The same entry with a date ahead ignores, with its reason, and warns when close.
    std::fs::write(
        &plain,
        "# until the fix lands\nCVE-2019-14697 exp:2026-11-30\n",
    )
    .unwrap();
    let o = Policy {
        ignores: ignore::read(&plain).unwrap(),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert!(o.pass, "{:?}", ids(&o.blocking));
    assert_eq!(o.ignored.len(), critical.len());
    assert_eq!(o.expiring.len(), critical.len(), "expires within 14 days");

    // YAML: expired_at in the past stops ignoring; a purl limits the entry to one package.
    let yaml = dir.path().join(".trivyignore.yaml");
    std::fs::write(
        &yaml,
        "vulnerabilities:\n  - id: CVE-2019-14697\n    expired_at: 2024-01-01\n    statement: old decision\n",
    )
    .unwrap();
    let o = Policy {
        ignores: ignore::read(&yaml).unwrap(),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert!(!o.pass);
    assert_eq!(o.expired.len(), 1, "{:?}", o.expired);
    let musl_purl = r
        .findings
        .iter()
        .find(|f| f.id == "CVE-2019-14697" && f.package.as_deref() == Some("musl"))
        .and_then(|f| f.purl.clone());
    std::fs::write(
        &yaml,
        format!(
            "vulnerabilities:\n  - id: CVE-2019-14697\n    expired_at: 2030-01-01\n    statement: accepted\n{}",
            musl_purl
                .as_deref()
                .map(|p| format!("    purls: [\"{}\"]\n", p.split('?').next().unwrap()))
                .unwrap_or_default()
        ),
    )
    .unwrap();
    let o = Policy {
        ignores: ignore::read(&yaml).unwrap(),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    // Exactly the findings whose package purl is not musl's stay blocking.
    let bare = |p: &str| p.split(['@', '?']).next().unwrap().to_owned();
    let expected: Vec<String> = {
        let mut v: Vec<String> = r
            .findings
            .iter()
            .filter(|f| f.id == "CVE-2019-14697")
            .filter(|f| match (&musl_purl, &f.purl) {
                (Some(m), Some(p)) => bare(m) != bare(p),
                _ => true,
            })
            .map(|f| format!("{} {}", f.id, f.package.as_deref().unwrap_or("")))
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&o.blocking), expected);
    assert!(!o.ignored.is_empty());
    assert!(o.ignored.iter().all(|s| s.reason.contains("accepted")));

    // The upstream YAML example parses, kinds and all.
    let docs = ignore::read(&fixture("ignore/docs-example.trivyignore.yaml")).unwrap();
    assert!(
        docs.iter()
            .any(|i| i.kind == Some(Kind::Secret) && i.id == "aws-access-key-id")
    );
    assert!(
        docs.iter()
            .any(|i| i.id == "CVE-2023-29491" && i.expires.is_some())
    );
}

#[test]
fn openvex_not_affected_suppresses_exactly_the_matching_vulnerability_and_product() {
    // debian-buster's critical finding, plus the same CVE in a second package and another CVE
    // in the same package: only the vulnerability + product pair in the statement is suppressed.
    let raw: Value =
        serde_json::from_slice(&std::fs::read(fixture("trivy/debian-buster.json")).unwrap())
            .unwrap();
    let mut doc = raw.clone();
    let vulns = doc["Results"][0]["Vulnerabilities"].as_array_mut().unwrap();
    let idn = vulns
        .iter()
        .find(|v| v["VulnerabilityID"] == "CVE-2019-18224")
        .unwrap()
        .clone();
    let mut other_pkg = idn.clone();
    other_pkg["PkgName"] = "libidn2-dev".into();
    other_pkg["PkgIdentifier"]["PURL"] =
        "pkg:deb/debian/libidn2-dev@2.0.5-1?arch=amd64&distro=debian-10.1".into();
    let mut other_cve = idn.clone();
    other_cve["VulnerabilityID"] = "CVE-2099-0001".into();
    vulns.push(other_pkg);
    vulns.push(other_cve);
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    std::fs::write(&report_path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let vex_path = dir.path().join("vex.json");
    std::fs::write(
        &vex_path,
        serde_json::to_vec(&serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.com/vex/1",
            "author": "test",
            "timestamp": "2026-11-01T00:00:00Z",
            "version": 1,
            "statements": [{
                "vulnerability": {"name": "CVE-2019-18224"},
                "products": [{"@id": "pkg:deb/debian/libidn2-0@2.0.5-1"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path"
            }]
        }))
        .unwrap(),
    )
    .unwrap();
    let r = report::read(&report_path).unwrap();
    let o = Policy {
        vex: vex::read(&vex_path).unwrap(),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert_eq!(
        ids(&o.blocking),
        ["CVE-2019-18224 libidn2-dev", "CVE-2099-0001 libidn2-0"]
    );
    assert_eq!(o.ignored.len(), 1);
    assert_eq!(o.ignored[0].finding.package.as_deref(), Some("libidn2-0"));
    assert!(o.ignored[0].reason.contains("not_affected"));

    // Upstream's examples parse: OpenVEX and CycloneDX VEX.
    let ov = vex::read(&fixture("vex/docs-example.openvex.json")).unwrap();
    assert_eq!(ov[0].vulnerability, "CVE-2019-8457");
    let cdx = vex::read(&fixture("vex/docs-example.cyclonedx-vex.json")).unwrap();
    assert_eq!(
        cdx[0].products,
        ["pkg:golang/github.com/aws/aws-sdk-go@v1.44.234"]
    );
}

#[test]
fn allow_rules_secrets_and_licenses() {
    let secrets = report::read(&fixture("trivy/secrets.json")).unwrap();
    assert!(!Policy::default().evaluate(&secrets.findings, today()).pass);
    let off = Policy {
        secrets: false,
        ..Policy::default()
    };
    assert!(off.evaluate(&secrets.findings, today()).pass);

    let r = report::read(&fixture("trivy/debian-buster.json")).unwrap();
    let o = Policy {
        allow: vec![Allow {
            package: "libidn2-0".into(),
            id: None,
            reason: "not reachable from our binary".into(),
        }],
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert!(o.pass);
    assert!(o.ignored[0].reason.contains("not reachable"));

    let lic = report::read(&fixture("trivy/license-cyclonedx.json")).unwrap();
    assert!(Policy::default().evaluate(&lic.findings, today()).pass);
    let deny = Policy {
        deny_licenses: vec!["epl-1.0".into()],
        ..Policy::default()
    }
    .evaluate(&lic.findings, today());
    assert_eq!(
        ids(&deny.blocking),
        ["EPL-1.0 org.eclipse.sisu:org.eclipse.sisu.plexus"]
    );
}

#[test]
fn sarif_and_gitlab_reports_validate_against_their_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let mut sarifs = Vec::new();
    let mut gitlabs = Vec::new();
    for path in reports() {
        let r = report::read(&path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let sarif = dir.path().join(format!("{name}.sarif"));
        let s = render::sarif(&r.findings, "0.1.0", "app@sha256:00");
        std::fs::write(&sarif, serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(
            s["runs"][0]["results"].as_array().unwrap().len(),
            r.findings.len().min(render::SARIF_MAX_RESULTS)
        );
        sarifs.push(sarif);
        let gl = dir.path().join(format!("{name}.gitlab.json"));
        let g = render::gitlab(
            &r.findings,
            "registry.example/app@sha256:00",
            "debian 10",
            &r.scanner,
            "0.1.0",
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:05",
        );
        std::fs::write(&gl, serde_json::to_vec(&g).unwrap()).unwrap();
        gitlabs.push(gl);
        // Same input, same bytes (ids derive from content).
        let again = render::gitlab(
            &r.findings,
            "registry.example/app@sha256:00",
            "debian 10",
            &r.scanner,
            "0.1.0",
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:05",
        );
        assert_eq!(g, again);
    }
    fn refs(v: &[PathBuf]) -> Vec<&Path> {
        v.iter().map(PathBuf::as_path).collect()
    }
    let (ok, out) = slipway_test::check_jsonschema_all(
        &fixture("schemas/sarif-schema-2.1.0.json"),
        &refs(&sarifs),
    );
    assert!(ok, "SARIF: {out}");
    let (ok, out) = slipway_test::check_jsonschema_all(
        &fixture("schemas/gitlab-container-scanning-15.0.7.subset.json"),
        &refs(&gitlabs),
    );
    assert!(ok, "GitLab: {out}");
    // The validator is not a rubber stamp: a report without its required scan times fails.
    let mut broken: Value = serde_json::from_slice(&std::fs::read(&gitlabs[0]).unwrap()).unwrap();
    broken["scan"]["start_time"] = "yesterday".into();
    let b = dir.path().join("broken.json");
    std::fs::write(&b, serde_json::to_vec(&broken).unwrap()).unwrap();
    let (ok, _) = slipway_test::check_jsonschema(
        &fixture("schemas/gitlab-container-scanning-15.0.7.subset.json"),
        &b,
    );
    assert!(!ok);
}

#[test]
fn markdown_summary() {
    let r = report::read(&fixture("trivy/alpine-39.json")).unwrap();
    let o = Policy {
        fail_on: Severity::High,
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    insta::assert_snapshot!(render::markdown(
        "hello@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        &r.scanner,
        &o,
        Severity::High
    ));
}
