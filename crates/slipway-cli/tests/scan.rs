//! `slipway-scan-sbom` as a user runs it: exit codes, the state's verdict, CI reports.

mod common;

use std::path::{Path, PathBuf};

use common::{cmd, one_platform_state, run, write_state};
use slipway_state::{StateFile, Verdict};

fn fixture(p: &str) -> PathBuf {
    slipway_test::repo_root()
        .join("crates/slipway-scan/tests/fixtures")
        .join(p)
}

fn project() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".slipway/state.json");
    write_state(&state, one_platform_state("linux/amd64", 7));
    (dir, state)
}

fn scan(dir: &Path, args: &[&str]) -> common::Run {
    run(cmd("slipway-scan-sbom", dir).args(args))
}

#[test]
fn the_gate_exits_1_on_blocking_findings_records_the_verdict_and_writes_ci_reports() {
    let (dir, state) = project();
    let report = fixture("trivy/alpine-39.json");
    let summary = dir.path().join("summary.md");
    let output = dir.path().join("output");
    let r = run(cmd("slipway-scan-sbom", dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output)
        .arg("--report")
        .arg(&report)
        .args([
            "--severity",
            "high",
            "--sarif",
            "scan.sarif",
            "--gitlab-report",
            "gl.json",
            // The recorded report is of upstream's alpine image, not of this state's.
            "--allow-report-mismatch",
        ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("CVE-2019-14697"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("::error title=slipway scan%3A CVE-2019-14697"),
        "{}",
        r.stderr
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("❌ fail") && md.contains("CVE-2019-14697"),
        "{md}"
    );
    let s = StateFile::new(&state).read_required().unwrap();
    let rec = s.scans.last().unwrap();
    assert_eq!(rec.verdict, Verdict::Fail);
    assert_eq!((rec.counts.critical, rec.counts.medium), (2, 4));
    assert_eq!(rec.blocking.len(), 2);
    assert_eq!(
        rec.digest,
        s.images["hello"]
            .platforms
            .values()
            .next()
            .unwrap()
            .manifest
            .digest
    );
    let (ok, out) = slipway_test::check_jsonschema(
        &fixture("schemas/sarif-schema-2.1.0.json"),
        &dir.path().join("scan.sarif"),
    );
    assert!(ok, "{out}");
    let (ok, out) = slipway_test::check_jsonschema(
        &fixture("schemas/gitlab-container-scanning-report-format-15.2.1.json"),
        &dir.path().join("gl.json"),
    );
    assert!(ok, "{out}");

    // An ignore with a reason and a date ahead lets it pass; the state says why.
    std::fs::write(
        dir.path().join(".trivyignore.yaml"),
        "vulnerabilities:\n  - id: CVE-2019-14697\n    statement: fixed upstream, image rebuilt weekly\n    expired_at: 2099-01-01\n",
    )
    .unwrap();
    let r = run(cmd("slipway-scan-sbom", dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .arg("--report")
        .arg(&report)
        .args(["--severity", "high", "--allow-report-mismatch"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = StateFile::new(&state).read_required().unwrap();
    let rec = s.scans.last().unwrap();
    assert_eq!(rec.verdict, Verdict::Pass);
    assert_eq!(rec.ignored.len(), 2);
    assert!(
        rec.ignored[0]
            .reason
            .as_deref()
            .unwrap()
            .contains("rebuilt weekly")
    );
    let outputs = std::fs::read_to_string(&output).unwrap();
    assert!(
        outputs.contains("verdict<<") && outputs.contains("\npass\n"),
        "{outputs}"
    );
}

#[test]
fn bad_input_exits_2_and_records_nothing() {
    let (dir, state) = project();
    let before = std::fs::read(&state).unwrap();
    let cut = dir.path().join("cut.json");
    let bytes = std::fs::read(fixture("grype/keycloak-image.json")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let r = scan(dir.path(), &["--report", "cut.json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cut.json") && r.stderr.contains("line"),
        "{}",
        r.stderr
    );
    let r = scan(
        dir.path(),
        &["--report", "cut.json", "--severity", "severe"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--severity"), "{}", r.stderr);
    let r = scan(dir.path(), &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--report"), "{}", r.stderr);
    let s = StateFile::new(&state).read_required().unwrap();
    assert!(s.scans.is_empty());
    // Only the step log may have grown.
    let old: slipway_state::State = serde_json::from_slice(&before).unwrap();
    assert_eq!(old.images, s.images);
}

#[test]
fn trivy_run_on_the_built_layout_finds_a_planted_secret_and_the_gate_says_no() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitignore"), ".slipway/\n").unwrap();
    std::fs::write(dir.path().join("app-linux-amd64"), b"#!/bin/sh\necho hi\n").unwrap();
    // A made-up key id of the shape of Trivy's aws-access-key-id rule.
    std::fs::write(
        dir.path().join("config.env"),
        "AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\n",
    )
    .unwrap();
    let r = run(cmd("slipway-build", dir.path()).args([
        "--name",
        "app",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        "linux/amd64",
        "--file",
        "config.env:/etc/app/config.env",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let trivy_dir = slipway_test::tool("trivy");
    let path = format!(
        "{}:{}",
        trivy_dir.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let cache = dir.path().join("trivy-cache");
    let r = run(cmd("slipway-scan-sbom", dir.path())
        .env("PATH", &path)
        .env("TRIVY_CACHE_DIR", &cache)
        .args(["--scanner", "trivy", "--scanners", "secret"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("aws-access-key-id"), "{}", r.stderr);
    let s = StateFile::new(dir.path().join(".slipway/state.json"))
        .read_required()
        .unwrap();
    let rec = s.scans.last().unwrap();
    assert_eq!(rec.verdict, Verdict::Fail);
    assert!(rec.scanner.starts_with("trivy"));
    assert_eq!(rec.blocking[0].kind, "secret");
    assert_eq!(rec.digest, s.images["app"].index.as_ref().unwrap().digest);
}
