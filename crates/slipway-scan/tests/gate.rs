//! The gate over real Trivy and Grype reports (tests/fixtures, from upstream; see MANIFEST.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;
use slipway_scan::policy::{Allow, Policy};
use slipway_scan::vex::{Graph, Vex};
use slipway_scan::{Kind, ScanError, Severity, ignore, render, report, vex};

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(p)
}

fn today() -> DateTime<Utc> {
    at("2026-11-22T10:00:00Z")
}

fn at(t: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
}

fn vex_of(paths: &[PathBuf]) -> Vex {
    let mut v = Vex::default();
    for p in paths {
        v.extend(vex::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())));
    }
    v
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

/// Counts by severity made straight from the raw JSON, without our models (licenses are
/// counted apart, not by severity).
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
        for key in ["Vulnerabilities", "Secrets"] {
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
        let raw: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let results = match &raw {
            Value::Array(a) => a.clone(),
            _ => raw["Results"].as_array().cloned().unwrap_or_default(),
        };
        let licenses: usize = results
            .iter()
            .map(|r| r["Licenses"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(outcome.licenses, licenses as u64, "{}", path.display());
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
        vex: vex_of(std::slice::from_ref(&vex_path)),
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
        cdx[0].products[0].component.id.as_deref(),
        Some("pkg:golang/github.com/aws/aws-sdk-go@v1.44.234")
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
        let s = render::sarif(&r.findings, &[], "0.1.0", "app@sha256:00");
        std::fs::write(&sarif, serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(
            s["runs"][0]["results"].as_array().unwrap().len(),
            r.findings.len().min(render::SARIF_MAX_RESULTS)
        );
        sarifs.push(sarif);
        let gl = dir.path().join(format!("{name}.gitlab.json"));
        let g = render::gitlab(
            &r.findings,
            &[],
            "registry.example/app@sha256:00",
            r.os.as_deref().unwrap_or("debian 10"),
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
            &[],
            "registry.example/app@sha256:00",
            r.os.as_deref().unwrap_or("debian 10"),
            &r.scanner,
            "0.1.0",
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:05",
        );
        assert_eq!(g, again);
        // Regression: the target was not part of the id (gomod.json gave three equal ids).
        let ids: Vec<&str> = g["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "{name}: duplicate GitLab ids");
        let distinct: std::collections::BTreeSet<_> = r
            .findings
            .iter()
            .filter(|f| f.kind == Kind::Vulnerability)
            .map(|f| (&f.id, &f.package, &f.version, &f.target))
            .collect();
        assert_eq!(
            ids.len(),
            distinct.len(),
            "{name}: one per distinct finding"
        );
        if let Some(os) = &r.os {
            assert!(
                g["vulnerabilities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|v| v["location"]["operating_system"] == os.as_str()),
                "{name}"
            );
        }
    }
    fn refs(v: &[PathBuf]) -> Vec<&Path> {
        v.iter().map(PathBuf::as_path).collect()
    }
    let (ok, out) = slipway_test::check_jsonschema_all(
        &fixture("schemas/sarif-schema-2.1.0.json"),
        &refs(&sarifs),
    );
    assert!(ok, "SARIF: {out}");
    // GitLab's published schemas, the newest 15.x (the version the report declares) and 15.0.7.
    for schema in [
        "schemas/gitlab-container-scanning-report-format-15.2.1.json",
        "schemas/gitlab-container-scanning-report-format-15.0.7.json",
    ] {
        let (ok, out) = slipway_test::check_jsonschema_all(&fixture(schema), &refs(&gitlabs));
        assert!(ok, "GitLab {schema}: {out}");
    }
    let first: Value = serde_json::from_slice(&std::fs::read(&gitlabs[0]).unwrap()).unwrap();
    assert_eq!(first["version"], "15.2.1");
    // The validator is not a rubber stamp: a report without its required scan times fails.
    let mut broken: Value = serde_json::from_slice(&std::fs::read(&gitlabs[0]).unwrap()).unwrap();
    broken["scan"]["start_time"] = "yesterday".into();
    let b = dir.path().join("broken.json");
    std::fs::write(&b, serde_json::to_vec(&broken).unwrap()).unwrap();
    let (ok, _) = slipway_test::check_jsonschema(
        &fixture("schemas/gitlab-container-scanning-report-format-15.2.1.json"),
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

/// (target, id, package, version) of every vulnerability in a Trivy report, from the raw JSON.
fn raw_vulns(path: &Path) -> Vec<(String, String, String, String)> {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for r in v["Results"].as_array().unwrap() {
        for x in r["Vulnerabilities"].as_array().into_iter().flatten() {
            out.push((
                r["Target"].as_str().unwrap().to_owned(),
                x["VulnerabilityID"].as_str().unwrap().to_owned(),
                x["PkgName"].as_str().unwrap().to_owned(),
                x["InstalledVersion"].as_str().unwrap_or("").to_owned(),
            ));
        }
    }
    out.sort();
    out
}

fn key(f: &slipway_scan::Finding) -> (String, String, String, String) {
    (
        f.target.clone(),
        f.id.clone(),
        f.package.clone().unwrap_or_default(),
        f.version.clone().unwrap_or_default(),
    )
}

/// The dependency graph of the project Trivy scanned for gomod.json (upstream's
/// integration/testdata/fixtures/repo/gomod): the repository at the root, each go.mod, the
/// module it declares and the modules it requires. The module names are the first lines of
/// those go.mod files (`module github.com/testdata/testdata`, `…/submod`, `…/submod2`); the
/// modules each requires are the packages the report lists for that target (a go.mod scan
/// reports every required module it finds vulnerable, and only those matter here).
fn gomod_repo_graph(report: &report::Report) -> Graph {
    let mut g = Graph::default();
    let root = g.add(Vec::new(), None);
    g.set_root(root);
    for (target, module) in [
        ("go.mod", "github.com/testdata/testdata"),
        ("submod/go.mod", "github.com/testdata/testdata/submod"),
        ("submod2/go.mod", "github.com/testdata/testdata/submod2"),
    ] {
        let file = g.add(Vec::new(), Some(target.to_owned()));
        g.link(root, file);
        let main = g.add(
            vec![format!("pkg:golang/{module}")],
            Some(target.to_owned()),
        );
        g.link(file, main);
        for f in report.findings.iter().filter(|f| f.target == target) {
            let dep = g.add(vec![f.purl.clone().unwrap()], Some(target.to_owned()));
            g.link(main, dep);
        }
    }
    g
}

// Regression: upstream's OpenVEX (vulnerability by `@id`, a product with subcomponents) was
// refused ("missing field `name`") and subcomponents never suppressed anything.
#[test]
fn openvex_applied_to_gomod_suppresses_exactly_what_trivy_removed() {
    let report_path = fixture("trivy/gomod.json");
    let r = report::read(&report_path).unwrap();
    let vex = vex_of(&[fixture("vex/gomod-openvex.json")]);
    assert_eq!(vex.statements.len(), 1);
    assert_eq!(vex.statements[0].ids, ["CVE-2022-23628"]);
    assert_eq!(vex.statements[0].products[0].subcomponents.len(), 1);

    // What Trivy itself removed: gomod.json minus gomod-vex.json (same scan, with the VEX).
    let before = raw_vulns(&report_path);
    let after = raw_vulns(&fixture("trivy/gomod-vex.json"));
    let removed: Vec<_> = before
        .iter()
        .filter(|v| !after.contains(v))
        .cloned()
        .collect();
    assert_eq!(removed.len(), 1, "{removed:?}");

    let o = Policy {
        fail_on: Severity::Unknown,
        vex: vex.clone(),
        graph: gomod_repo_graph(&r),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    let mut suppressed: Vec<_> = o.ignored.iter().map(|s| key(&s.finding)).collect();
    suppressed.sort();
    assert_eq!(suppressed, removed);
    let mut kept: Vec<_> = o.blocking.iter().map(key).collect();
    kept.sort();
    assert_eq!(kept, after, "everything else still blocks");
    assert!(
        o.ignored[0].reason.contains("not_affected")
            && o.ignored[0]
                .reason
                .contains("vulnerable_code_not_in_execute_path")
            && o.ignored[0].reason.contains("github.com/testdata/testdata"),
        "{}",
        o.ignored[0].reason
    );

    // Without a dependency graph the product cannot be related to the finding: nothing is
    // suppressed (no guessing).
    let o = Policy {
        fail_on: Severity::Unknown,
        vex,
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert!(o.ignored.is_empty(), "{:?}", o.ignored);
}

/// A finding of `id` in the Go module `purl` inside `target`.
fn go_finding(id: &str, purl: &str, target: &str) -> slipway_scan::Finding {
    let rest = purl.strip_prefix("pkg:golang/").unwrap();
    let (name, version) = rest.split_once('@').unwrap();
    slipway_scan::Finding {
        id: id.into(),
        kind: Kind::Vulnerability,
        severity: Severity::High,
        package: Some(name.into()),
        version: Some(version.into()),
        fixed_version: None,
        purl: Some(purl.into()),
        target: target.into(),
        pkg_path: None,
        title: None,
        url: None,
    }
}

#[test]
fn trivy_project_openvex_product_with_subcomponents_suppresses_only_inside_that_product() {
    let doc = fixture("vex/trivy-project.openvex.json");
    let vex = vex_of(std::slice::from_ref(&doc));
    assert_eq!(vex.statements.len(), 21);
    assert!(
        vex.statements
            .iter()
            .all(|s| s.products.iter().all(|p| !p.subcomponents.is_empty()))
    );
    // The image: the trivy binary (its main module and every subcomponent the document names, at
    // version v9.9.9 when it has none) and a second binary, `other`, that links the same modules.
    let versioned = |s: &str| {
        if s.contains('@') {
            s.to_owned()
        } else {
            format!("{s}@v9.9.9")
        }
    };
    let raw: Value = serde_json::from_slice(&std::fs::read(&doc).unwrap()).unwrap();
    let mut subs: Vec<String> = Vec::new();
    for s in raw["statements"].as_array().unwrap() {
        for p in s["products"].as_array().unwrap() {
            for c in p["subcomponents"].as_array().unwrap() {
                let id = c["@id"].as_str().unwrap().to_owned();
                if !subs.contains(&id) {
                    subs.push(id);
                }
            }
        }
    }
    let mut g = Graph::default();
    let image = g.add(vec!["pkg:oci/app@sha256:00".into()], None);
    g.set_root(image);
    let trivy = g.add(
        vec!["pkg:golang/github.com/aquasecurity/trivy@v0.50.0".into()],
        Some("/usr/bin/trivy".into()),
    );
    let other = g.add(
        vec!["pkg:golang/example.com/other@v1.0.0".into()],
        Some("/usr/bin/other".into()),
    );
    g.link(image, trivy);
    g.link(image, other);
    for s in &subs {
        let a = g.add(vec![versioned(s)], Some("/usr/bin/trivy".into()));
        g.link(trivy, a);
        let b = g.add(vec![versioned(s)], Some("/usr/bin/other".into()));
        g.link(other, b);
    }
    let policy = Policy {
        fail_on: Severity::Unknown,
        vex,
        graph: g,
        ..Policy::default()
    };
    for s in raw["statements"].as_array().unwrap() {
        let sub = s["products"][0]["subcomponents"][0]["@id"]
            .as_str()
            .unwrap();
        let purl = versioned(sub);
        let name = s["vulnerability"]["name"].as_str().unwrap();
        let alias = s["vulnerability"]["aliases"][0].as_str().unwrap_or(name);
        for id in [name, alias] {
            let inside = go_finding(id, &purl, "usr/bin/trivy");
            let elsewhere = go_finding(id, &purl, "usr/bin/other");
            let o = policy.evaluate(&[inside.clone(), elsewhere.clone()], today());
            assert_eq!(
                o.ignored.iter().map(|s| &s.finding).collect::<Vec<_>>(),
                [&inside],
                "{id} in {purl}: only inside trivy"
            );
            assert_eq!(o.blocking, [elsewhere]);
        }
    }
    // Another vulnerability in a subcomponent is not covered.
    let o = policy.evaluate(
        &[go_finding(
            "CVE-2099-0001",
            &versioned(&subs[0]),
            "usr/bin/trivy",
        )],
        today(),
    );
    assert!(o.ignored.is_empty());
}

fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

#[test]
fn the_latest_openvex_statement_wins_and_statuses_decide() {
    let r = report::read(&fixture("trivy/debian-buster.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stmt = |status: &str, ts: Option<&str>| {
        let mut s = serde_json::json!({
            "vulnerability": {"name": "CVE-2019-18224"},
            "products": [{"@id": "pkg:deb/debian/libidn2-0"}],
            "status": status,
        });
        if status == "not_affected" {
            s["justification"] = "vulnerable_code_not_present".into();
        }
        if status == "affected" {
            s["action_statement"] = "upgrade".into();
        }
        if let Some(t) = ts {
            s["timestamp"] = t.into();
        }
        s
    };
    let doc = |stmts: Vec<Value>| {
        serde_json::json!({
            "@context": "https://openvex.dev/ns/v0.2.0",
            "@id": "https://example.com/vex",
            "author": "test",
            "timestamp": "2026-01-01T00:00:00Z",
            "version": 1,
            "statements": stmts,
        })
    };
    let suppressed = |v: Value| {
        let p = write_json(dir.path(), "v.json", &v);
        let o = Policy {
            vex: vex_of(&[p]),
            ..Policy::default()
        }
        .evaluate(&r.findings, today());
        o.ignored.len()
    };
    // Newer `affected` overrides older `not_affected`, whatever the order in the file.
    assert_eq!(
        suppressed(doc(vec![
            stmt("affected", Some("2026-03-01T00:00:00Z")),
            stmt("not_affected", Some("2026-02-01T00:00:00Z")),
        ])),
        0
    );
    assert_eq!(
        suppressed(doc(vec![
            stmt("affected", Some("2026-02-01T00:00:00Z")),
            stmt("not_affected", Some("2026-03-01T00:00:00Z")),
        ])),
        1
    );
    // A statement without a timestamp has its document's (2026-01-01): older than February.
    assert_eq!(
        suppressed(doc(vec![
            stmt("fixed", Some("2026-02-01T00:00:00Z")),
            stmt("under_investigation", None),
        ])),
        1
    );
    for (status, n) in [
        ("not_affected", 1),
        ("fixed", 1),
        ("affected", 0),
        ("under_investigation", 0),
    ] {
        assert_eq!(suppressed(doc(vec![stmt(status, None)])), n, "{status}");
    }
    // Across documents too: the later statement decides.
    let a = write_json(
        dir.path(),
        "a.json",
        &doc(vec![stmt("not_affected", Some("2026-02-01T00:00:00Z"))]),
    );
    let b = write_json(
        dir.path(),
        "b.json",
        &doc(vec![stmt("affected", Some("2026-04-01T00:00:00Z"))]),
    );
    let o = Policy {
        vex: vex_of(&[a, b]),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert!(!o.pass);
    // A qualifier the package does not have, or another distro: no match.
    for product in [
        "pkg:deb/debian/libidn2-0?arch=arm64",
        "pkg:deb/ubuntu/libidn2-0",
        "pkg:deb/debian/libidn2-0@2.0.5-2",
    ] {
        let mut s = stmt("not_affected", None);
        s["products"][0]["@id"] = product.into();
        assert_eq!(suppressed(doc(vec![s])), 0, "{product}");
    }
    // The product named by `identifiers.purl` and the vulnerability by an alias.
    let s = serde_json::json!({
        "vulnerability": {"@id": "https://example.com/v/1", "name": "EX-1", "aliases": ["CVE-2019-18224"]},
        "products": [{"@id": "https://example.com/product/libidn2", "identifiers": {"purl": "pkg:deb/debian/libidn2-0@2.0.5-1?distro=debian-10.1"}}],
        "status": "not_affected",
        "justification": "component_not_present",
    });
    assert_eq!(suppressed(doc(vec![s])), 1);
    // The image as product (a statement about a package inside it) applies when the image is
    // the root of the graph.
    let s = serde_json::json!({
        "vulnerability": {"name": "CVE-2019-18224"},
        "products": [{"@id": "pkg:oci/app@sha256%3Aabc", "subcomponents": [{"@id": "pkg:deb/debian/libidn2-0"}]}],
        "status": "not_affected",
        "justification": "component_not_present",
    });
    let p = write_json(dir.path(), "img.json", &doc(vec![s]));
    let with = |graph: Graph| {
        Policy {
            vex: vex_of(std::slice::from_ref(&p)),
            graph,
            ..Policy::default()
        }
        .evaluate(&r.findings, today())
        .ignored
        .len()
    };
    assert_eq!(
        with(Graph::image(vec![
            "pkg:oci/app@sha256%3Aabc?arch=amd64".into()
        ])),
        1
    );
    assert_eq!(
        with(Graph::image(vec!["pkg:oci/other@sha256%3Aabc".into()])),
        0
    );
    assert_eq!(with(Graph::default()), 0);

    // Malformed statements are refused, naming the statement.
    let mut bad = stmt("not_affected", None);
    bad["status"] = "maybe".into();
    let p = write_json(dir.path(), "bad.json", &doc(vec![stmt("fixed", None), bad]));
    let e = vex::read(&p).unwrap_err().to_string();
    assert!(e.contains("statements[1]") && e.contains("maybe"), "{e}");
    let mut bad = stmt("fixed", None);
    bad["vulnerability"] = serde_json::json!({"description": "no name"});
    let p = write_json(dir.path(), "bad.json", &doc(vec![bad]));
    let e = vex::read(&p).unwrap_err().to_string();
    assert!(e.contains("statements[0]") && e.contains("name"), "{e}");
}

fn suppressed_keys(
    report_path: &Path,
    vex_files: &[&str],
) -> Vec<(String, String, String, String)> {
    let r = report::read(report_path).unwrap();
    let paths: Vec<PathBuf> = vex_files.iter().map(|f| fixture(f)).collect();
    let o = Policy {
        fail_on: Severity::Unknown,
        vex: vex_of(&paths),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert_eq!(o.ignored.len() + o.blocking.len(), r.findings.len());
    let mut v: Vec<_> = o.ignored.iter().map(|s| key(&s.finding)).collect();
    v.sort();
    v
}

#[test]
fn cyclonedx_vex_not_affected_and_fixed_suppress_exactly_the_matching_finding() {
    // DERIVED report (see MANIFEST): each upstream VEX's vulnerability+component, plus the same
    // vulnerability in another version or package and another vulnerability in the same one.
    let report_path = fixture("trivy/derived-cyclonedx-vex-targets.json");
    let k = |t: &str, id: &str, p: &str, v: &str| {
        (t.to_owned(), id.to_owned(), p.to_owned(), v.to_owned())
    };
    let spring = k(
        "app/app.jar",
        "CVE-2021-44228",
        "org.springframework.boot:spring-boot",
        "2.6.0",
    );
    let libstdcxx = k(
        "derived (ubuntu 22.04)",
        "CVE-2022-27943",
        "libstdc++6",
        "12.3.0-1ubuntu1~22.04",
    );
    let aws = k(
        "usr/local/bin/app",
        "CVE-2020-8911",
        "github.com/aws/aws-sdk-go",
        "v1.44.234",
    );
    assert_eq!(
        suppressed_keys(&report_path, &["vex/testdata-cyclonedx-vex.json"]),
        [spring.clone(), libstdcxx.clone()]
    );
    assert_eq!(
        suppressed_keys(&report_path, &["vex/docs-example.cyclonedx-vex.json"]),
        [aws]
    );
    // `resolved` is CycloneDX's fixed.
    let fixed = vex::read(&fixture("vex/derived-cyclonedx-resolved.json")).unwrap();
    assert_eq!(fixed[0].status, vex::Status::Fixed);
    assert_eq!(
        suppressed_keys(&report_path, &["vex/derived-cyclonedx-resolved.json"]),
        [spring, libstdcxx]
    );
    let r = report::read(&report_path).unwrap();
    let o = Policy {
        fail_on: Severity::Unknown,
        vex: vex_of(&[fixture("vex/derived-cyclonedx-resolved.json")]),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    let spring_reason = &o
        .ignored
        .iter()
        .find(|s| s.finding.id == "CVE-2021-44228")
        .unwrap()
        .reason;
    assert!(spring_reason.contains("VEX fixed"), "{spring_reason}");
}

#[test]
fn ignore_expiry_starts_at_midnight_utc_of_the_date() {
    let r = report::read(&fixture("trivy/alpine-39.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join(".trivyignore");
    std::fs::write(
        &plain,
        "CVE-2019-14697 exp:2026-11-22 trailing words are ignored\n",
    )
    .unwrap();
    let yaml = dir.path().join(".trivyignore.yaml");
    std::fs::write(
        &yaml,
        "vulnerabilities:\n  - id: CVE-2019-14697\n    expired_at: 2026-11-22\n",
    )
    .unwrap();
    for file in [&plain, &yaml] {
        let p = Policy {
            ignores: ignore::read(file).unwrap(),
            ..Policy::default()
        };
        let before = p.evaluate(&r.findings, at("2026-11-21T23:59:59Z"));
        assert!(
            before.pass,
            "{}: still ignored the day before",
            file.display()
        );
        assert!(before.expired.is_empty());
        let after = p.evaluate(&r.findings, at("2026-11-22T00:00:01Z"));
        assert!(
            !after.pass,
            "{}: expired from 00:00 UTC on the date",
            file.display()
        );
        assert_eq!(after.expired.len(), 1, "{:?}", after.expired);
        assert!(after.expired[0].contains("2026-11-22"));
    }
    // A full timestamp expires at that time.
    std::fs::write(
        &yaml,
        "vulnerabilities:\n  - id: CVE-2019-14697\n    expired_at: 2026-11-22T12:00:00Z\n",
    )
    .unwrap();
    let p = Policy {
        ignores: ignore::read(&yaml).unwrap(),
        ..Policy::default()
    };
    assert!(p.evaluate(&r.findings, at("2026-11-22T11:59:00Z")).pass);
    assert!(!p.evaluate(&r.findings, at("2026-11-22T12:00:01Z")).pass);
    std::fs::write(
        &yaml,
        "vulnerabilities:\n  - id: CVE-2019-14697\n    expired_at: next week\n",
    )
    .unwrap();
    let e = ignore::read(&yaml).unwrap_err().to_string();
    assert!(e.contains("expired_at") && e.contains("next week"), "{e}");
}

#[test]
fn ignore_paths_glob_the_target_or_the_package_path() {
    // fluentd-gems: CVE-2020-8165 in activesupport, target `Ruby`, PkgPath the gemspec.
    let r = report::read(&fixture("trivy/fluentd-gems.json")).unwrap();
    let f = r
        .findings
        .iter()
        .find(|f| f.id == "CVE-2020-8165")
        .unwrap()
        .clone();
    assert_eq!(
        f.pkg_path.as_deref(),
        Some("var/lib/gems/2.5.0/specifications/activesupport-6.0.2.1.gemspec")
    );
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join(".trivyignore.yaml");
    let ignored_with = |paths: &str| {
        std::fs::write(
            &yaml,
            format!("vulnerabilities:\n  - id: CVE-2020-8165\n    paths: [{paths}]\n"),
        )
        .unwrap();
        let o = Policy {
            fail_on: Severity::Unknown,
            ignores: ignore::read(&yaml).unwrap(),
            ..Policy::default()
        }
        .evaluate(std::slice::from_ref(&f), today());
        !o.ignored.is_empty()
    };
    assert!(ignored_with(
        "\"var/lib/gems/2.5.0/specifications/activesupport-6.0.2.1.gemspec\""
    ));
    assert!(ignored_with("\"var/lib/gems/**/activesupport-*.gemspec\""));
    assert!(ignored_with("\"**/*.gemspec\""));
    assert!(ignored_with("\"Ruby\""));
    assert!(
        !ignored_with("\"var/lib/gems/*.gemspec\""),
        "* stays within a segment"
    );
    assert!(!ignored_with("\"usr/lib/**\""));
    // The upstream docs example's entry (a PkgPath) matches a finding at that package path.
    let docs = ignore::read(&fixture("ignore/docs-example.trivyignore.yaml")).unwrap();
    let setuptools = docs.iter().find(|i| i.id == "CVE-2022-40897").unwrap();
    let mut py = f.clone();
    py.id = "CVE-2022-40897".into();
    py.target = "Python".into();
    py.pkg_path =
        Some("usr/local/lib/python3.9/site-packages/setuptools-58.1.0.dist-info/METADATA".into());
    assert!(setuptools.matches(&py));
    py.pkg_path = Some("usr/lib/python3/dist-packages/setuptools/METADATA".into());
    assert!(!setuptools.matches(&py));
}

#[test]
fn ignore_purls_match_when_the_entry_qualifiers_are_a_subset() {
    let r = report::read(&fixture("trivy/debian-buster.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join(".trivyignore.yaml");
    let pass_with = |purl: &str| {
        std::fs::write(
            &yaml,
            format!("vulnerabilities:\n  - id: CVE-2019-18224\n    purls: [\"{purl}\"]\n"),
        )
        .unwrap();
        Policy {
            ignores: ignore::read(&yaml).unwrap(),
            ..Policy::default()
        }
        .evaluate(&r.findings, today())
        .pass
    };
    // The finding: pkg:deb/debian/libidn2-0@2.0.5-1?arch=amd64&distro=debian-10.1
    assert!(pass_with("pkg:deb/debian/libidn2-0"));
    assert!(pass_with("pkg:deb/debian/libidn2-0@2.0.5-1"));
    assert!(pass_with("pkg:deb/debian/libidn2-0?arch=amd64"));
    assert!(pass_with(
        "pkg:deb/debian/libidn2-0@2.0.5-1?distro=debian-10.1&arch=amd64"
    ));
    assert!(!pass_with("pkg:deb/debian/libidn2-0?arch=arm64"));
    assert!(!pass_with(
        "pkg:deb/debian/libidn2-0?arch=amd64&distro=debian-11"
    ));
    assert!(!pass_with("pkg:deb/debian/libidn2-0@2.0.5-2"));
    assert!(!pass_with("pkg:deb/debian/libidn2"));
    std::fs::write(
        &yaml,
        "vulnerabilities:\n  - id: CVE-2019-18224\n    purls: [\"libidn2-0\"]\n",
    )
    .unwrap();
    let e = ignore::read(&yaml).unwrap_err().to_string();
    assert!(e.contains("purls") && e.contains("libidn2-0"), "{e}");
}

/// A large Trivy report DERIVED from a real one: alpine-39's vulnerabilities repeated in
/// `copies` targets (like scripts/bench/gate.sh builds), each copy a distinct finding.
fn large_report(dir: &Path, copies: usize) -> PathBuf {
    let raw: Value =
        serde_json::from_slice(&std::fs::read(fixture("trivy/alpine-39.json")).unwrap()).unwrap();
    let vulns = raw["Results"][0]["Vulnerabilities"].as_array().unwrap();
    let results: Vec<Value> = (0..copies)
        .map(|i| {
            serde_json::json!({
                "Target": format!("layer-{i} (alpine 3.9.4)"),
                "Class": "os-pkgs",
                "Type": "alpine",
                "Vulnerabilities": vulns,
            })
        })
        .collect();
    let doc =
        serde_json::json!({"SchemaVersion": 2, "ArtifactName": "derived", "Results": results});
    let p = dir.join("large.json");
    std::fs::write(&p, serde_json::to_vec(&doc).unwrap()).unwrap();
    p
}

#[test]
fn sarif_is_capped_within_githubs_limits_with_rule_ids_from_the_finding_ids() {
    let dir = tempfile::tempdir().unwrap();
    let r = report::read(&large_report(dir.path(), 1000)).unwrap();
    assert!(
        r.findings.len() > render::SARIF_MAX_RESULTS,
        "{}",
        r.findings.len()
    );
    let s = render::sarif(&r.findings, &[], "0.1.0", "app@sha256:00");
    let bytes = serde_json::to_vec(&s).unwrap();
    let results = s["runs"][0]["results"].as_array().unwrap();
    let rules = s["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(results.len(), render::SARIF_MAX_RESULTS);
    // GitHub's upload limits: 10 MB (gzip) per file, 25,000 results and rules per run, 1,000
    // locations per result, 20 tags per rule.
    assert!(bytes.len() < 10 * 1000 * 1000, "{} bytes", bytes.len());
    assert!(rules.len() <= 25_000);
    assert!(
        results
            .iter()
            .all(|r| r["locations"].as_array().unwrap().len() <= 1000)
    );
    assert!(
        rules
            .iter()
            .all(|r| r["properties"]["tags"].as_array().unwrap().len() <= 20)
    );
    // The most severe come first: every critical finding made it in.
    let critical = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    let shown_critical = results
        .iter()
        .filter(|x| {
            x["message"]["text"]
                .as_str()
                .unwrap()
                .starts_with("CRITICAL ")
        })
        .count();
    assert_eq!(shown_critical, critical.min(render::SARIF_MAX_RESULTS));
    let large = dir.path().join("large.sarif");
    std::fs::write(&large, &bytes).unwrap();
    let (ok, out) =
        slipway_test::check_jsonschema(&fixture("schemas/sarif-schema-2.1.0.json"), &large);
    assert!(ok, "{out}");

    // Rule ids are the finding ids, and stay the same whatever the order of the report.
    let small = report::read(&fixture("trivy/alpine-39.json")).unwrap();
    let rules_of = |findings: &[slipway_scan::Finding]| {
        let s = render::sarif(findings, &[], "0.1.0", "app@sha256:00");
        let rules: Vec<String> = s["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect();
        let mut by_print: Vec<(String, String)> = s["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let rule = x["ruleId"].as_str().unwrap().to_owned();
                assert_eq!(rules[x["ruleIndex"].as_u64().unwrap() as usize], rule);
                (
                    x["partialFingerprints"]["slipway/v1"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    rule,
                )
            })
            .collect();
        by_print.sort();
        let mut rules = rules;
        rules.sort();
        (rules, by_print)
    };
    let mut reversed = small.findings.clone();
    reversed.reverse();
    assert_eq!(rules_of(&small.findings), rules_of(&reversed));
    let (rules, _) = rules_of(&small.findings);
    let mut ids: Vec<String> = small.findings.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(rules, ids);
}

#[test]
fn suppressed_findings_are_sarif_suppressions_and_left_out_of_gitlab() {
    let r = report::read(&fixture("trivy/alpine-39.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join(".trivyignore.yaml");
    std::fs::write(
        &yaml,
        "vulnerabilities:\n  - id: CVE-2019-14697\n    statement: not reachable\n",
    )
    .unwrap();
    let o = Policy {
        ignores: ignore::read(&yaml).unwrap(),
        ..Policy::default()
    }
    .evaluate(&r.findings, today());
    assert!(!o.ignored.is_empty());
    let s = render::sarif(&r.findings, &o.ignored, "0.1.0", "app@sha256:00");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results.len(),
        r.findings.len(),
        "suppressed ones are still results"
    );
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|x| x.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), o.ignored.len());
    for x in &suppressed {
        assert_eq!(x["ruleId"], "CVE-2019-14697");
        assert_eq!(x["suppressions"][0]["kind"], "external");
        assert!(
            x["suppressions"][0]["justification"]
                .as_str()
                .unwrap()
                .contains("not reachable")
        );
    }
    assert!(
        results
            .iter()
            .filter(|x| x["ruleId"] != "CVE-2019-14697")
            .all(|x| x.get("suppressions").is_none())
    );
    let p = dir.path().join("s.sarif");
    std::fs::write(&p, serde_json::to_vec(&s).unwrap()).unwrap();
    let (ok, out) = slipway_test::check_jsonschema(&fixture("schemas/sarif-schema-2.1.0.json"), &p);
    assert!(ok, "{out}");

    // GitLab: suppressed findings are not listed; a long title is cut to the schema's 255.
    let mut findings = r.findings.clone();
    findings[0].title = Some("x".repeat(300));
    let g = render::gitlab(
        &findings,
        &o.ignored,
        "app@sha256:00",
        "alpine 3.9.4",
        &r.scanner,
        "0.1.0",
        "2026-11-22T10:00:00",
        "2026-11-22T10:00:05",
    );
    let vulns = g["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), r.findings.len() - o.ignored.len());
    assert!(
        vulns
            .iter()
            .all(|v| v["identifiers"][0]["value"] != "CVE-2019-14697")
    );
    assert!(
        vulns
            .iter()
            .all(|v| v["name"].as_str().unwrap().chars().count() <= 255)
    );
    assert_eq!(vulns[0]["name"].as_str().unwrap().chars().count(), 255);
    let p = dir.path().join("gl.json");
    std::fs::write(&p, serde_json::to_vec(&g).unwrap()).unwrap();
    for schema in [
        "schemas/gitlab-container-scanning-report-format-15.2.1.json",
        "schemas/gitlab-container-scanning-report-format-15.0.7.json",
    ] {
        let (ok, out) = slipway_test::check_jsonschema(&fixture(schema), &p);
        assert!(ok, "{schema}: {out}");
    }
}

// Regression: a malformed CycloneDX VEX `lastUpdated` / `updated` was dropped silently, so the
// statement lost its time (and the latest-statement rule its input); OpenVEX refused the same.
#[test]
fn cyclonedx_vex_timestamps_that_are_not_times_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base: Value = serde_json::from_slice(
        &std::fs::read(fixture("vex/derived-cyclonedx-resolved.json")).unwrap(),
    )
    .unwrap();
    let mut good = base.clone();
    good["vulnerabilities"][0]["analysis"]["lastUpdated"] = "2026-02-01T00:00:00Z".into();
    good["vulnerabilities"][1]["updated"] = "2026-03-01T00:00:00Z".into();
    let p = write_json(dir.path(), "good.cdx.json", &good);
    let statements = vex::read(&p).unwrap();
    assert_eq!(statements[0].timestamp, Some(at("2026-02-01T00:00:00Z")));
    assert_eq!(statements[1].timestamp, Some(at("2026-03-01T00:00:00Z")));
    // Each case spoils one time field of the document.
    type Spoil = fn(&mut Value);
    let cases: [(&str, Spoil); 3] = [
        ("vulnerabilities[0].analysis.lastUpdated", |v| {
            v["vulnerabilities"][0]["analysis"]["lastUpdated"] = "yesterday".into()
        }),
        ("vulnerabilities[1].updated", |v| {
            v["vulnerabilities"][1]["updated"] = "2026-13-01".into()
        }),
        ("metadata.timestamp", |v| {
            v["metadata"] = serde_json::json!({"timestamp": "1 May 2026"})
        }),
    ];
    for (field, set) in cases {
        let mut doc = base.clone();
        set(&mut doc);
        let p = write_json(dir.path(), "bad.cdx.json", &doc);
        match vex::read(&p) {
            Err(e @ ScanError::Malformed { .. }) => {
                let e = e.to_string();
                assert!(
                    e.contains("bad.cdx.json") && e.contains(field) && e.contains("RFC 3339"),
                    "{e}"
                );
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}

// Regression: unknown keys in .trivyignore.yaml were accepted, so a misspelt `expires_at` gave an
// ignore that never expires.
#[test]
fn trivyignore_yaml_refuses_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join(".trivyignore.yaml");
    for (text, key) in [
        (
            "vulnerabilities:\n  - id: CVE-2019-14697\n    statement: until the fix\n    expires_at: 2020-01-01\n",
            "expires_at",
        ),
        (
            "vulnerabilites:\n  - id: CVE-2019-14697\n",
            "vulnerabilites",
        ),
        (
            "secrets:\n  - id: aws-access-key-id\n    path: [a]\n",
            "path",
        ),
    ] {
        std::fs::write(&yaml, text).unwrap();
        match ignore::read(&yaml) {
            Err(e @ ScanError::Malformed { .. }) => {
                let e = e.to_string();
                assert!(e.contains(".trivyignore.yaml") && e.contains(key), "{e}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    // Every key of Trivy's format is still taken.
    std::fs::write(
        &yaml,
        "vulnerabilities:\n  - id: CVE-1\n    paths: [a]\n    purls: [\"pkg:apk/alpine/musl\"]\n    statement: s\n    expired_at: 2099-01-01\nmisconfigurations: []\nsecrets: []\nlicenses: []\n",
    )
    .unwrap();
    assert_eq!(ignore::read(&yaml).unwrap().len(), 1);
}
