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
    // This Trivy build writes no version into its report: the one `trivy --version` prints is
    // recorded instead of "(unknown version)".
    let out = std::process::Command::new(&trivy_dir)
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Version:").map(|v| v.trim().to_owned()))
        .unwrap();
    assert_eq!(rec.scanner, format!("trivy {version}"));
    assert_eq!(rec.blocking[0].kind, "secret");
    assert_eq!(rec.digest, s.images["app"].index.as_ref().unwrap().digest);
}

/// A small real image for the policy table: a binary, this machine's dpkg database and
/// os-release, and the DEP-5 copyright files of three of its packages (grep: GPL-3+, zlib1g:
/// Zlib, libc6: not machine-readable).
fn policy_image() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(".gitignore"), ".slipway/\n").unwrap();
    std::fs::write(d.join("app-linux-amd64"), b"#!/bin/sh\necho hi\n").unwrap();
    let mut files = vec![
        common::host_file(d, "/var/lib/dpkg/status", "/var/lib/dpkg/status"),
        common::host_file(d, "/etc/os-release", "/etc/os-release"),
    ];
    for pkg in ["grep", "zlib1g", "libc6"] {
        let doc = format!("/usr/share/doc/{pkg}/copyright");
        files.push(common::host_file(d, &doc, &doc));
    }
    let mut c = cmd("slipway-build", d);
    c.args([
        "--name",
        "app",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        "linux/amd64",
    ]);
    for f in &files {
        c.arg("--file").arg(f);
    }
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = StateFile::new(d.join(".slipway/state.json"))
        .read_required()
        .unwrap();
    let config = s.images["app"]
        .platforms
        .values()
        .next()
        .unwrap()
        .config
        .clone();
    (dir, config.unwrap().to_string())
}

/// A recorded upstream report, DERIVED (here, at test time) to name the image under test:
/// `Metadata.ImageID` set to its config digest, so the report is tied to it.
fn report_for(dir: &Path, name: &str, config: &str) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture(&format!("trivy/{name}"))).unwrap()).unwrap();
    if !v["Metadata"].is_object() {
        v["Metadata"] = serde_json::json!({});
    }
    v["Metadata"]["ImageID"] = config.into();
    v["Metadata"]["RepoDigests"] = serde_json::json!([]);
    let p = dir.join(format!("for-image-{name}"));
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

struct Case {
    name: &'static str,
    report: &'static str,
    args: &'static [&'static str],
    /// Files written in the project first (name, content); `slipway.yaml` included.
    files: &'static [(&'static str, &'static str)],
    code: i32,
    /// (kind, id, package) of the blocking findings recorded, sorted.
    blocking: &'static [(&'static str, &'static str, &'static str)],
    /// (id, package, a word of the reason) of the ignored findings recorded, sorted.
    ignored: &'static [(&'static str, &'static str, &'static str)],
    /// A word the error must say (exit 1 and 2).
    says: &'static str,
}

#[test]
fn policy_table_exit_codes_and_recorded_verdicts() {
    let (dir, config) = policy_image();
    let d = dir.path();
    let state_path = d.join(".slipway/state.json");
    let index = StateFile::new(&state_path).read_required().unwrap().images["app"]
        .index
        .as_ref()
        .unwrap()
        .digest
        .clone();
    let cases = [
        Case {
            name: "critical threshold",
            report: "alpine-39.json",
            args: &["--severity", "critical"],
            files: &[],
            code: 1,
            blocking: &[
                ("vulnerability", "CVE-2019-14697", "musl"),
                ("vulnerability", "CVE-2019-14697", "musl-utils"),
            ],
            ignored: &[],
            says: "2 vulnerabilities at or above CRITICAL",
        },
        Case {
            name: "medium threshold",
            report: "alpine-39.json",
            args: &["--severity", "medium"],
            files: &[],
            code: 1,
            blocking: &[
                ("vulnerability", "CVE-2019-14697", "musl"),
                ("vulnerability", "CVE-2019-14697", "musl-utils"),
                ("vulnerability", "CVE-2019-1549", "libcrypto1.1"),
                ("vulnerability", "CVE-2019-1549", "libssl1.1"),
                ("vulnerability", "CVE-2019-1551", "libcrypto1.1"),
                ("vulnerability", "CVE-2019-1551", "libssl1.1"),
            ],
            ignored: &[],
            says: "6 vulnerabilities at or above MEDIUM",
        },
        Case {
            name: "nothing at the threshold passes",
            report: "gomod.json",
            args: &["--severity", "high"],
            files: &[],
            code: 0,
            blocking: &[],
            ignored: &[],
            says: "",
        },
        Case {
            name: "fixable-only leaves the unfixed out",
            report: "debian-buster.json",
            args: &["--severity", "low", "--fixable-only"],
            files: &[],
            code: 1,
            blocking: &[("vulnerability", "CVE-2019-18224", "libidn2-0")],
            ignored: &[],
            says: "1 vulnerability at or above LOW",
        },
        Case {
            name: "without fixable-only the unfixed block too",
            report: "debian-buster.json",
            args: &["--severity", "low"],
            files: &[],
            code: 1,
            blocking: &[
                ("vulnerability", "CVE-2019-18224", "libidn2-0"),
                ("vulnerability", "CVE-2019-18276", "bash"),
            ],
            ignored: &[],
            says: "2 vulnerabilities",
        },
        Case {
            name: "plain .trivyignore",
            report: "alpine-39.json",
            args: &[],
            files: &[(".trivyignore", "# upstream fix pending\nCVE-2019-14697\n")],
            code: 0,
            blocking: &[],
            ignored: &[
                ("CVE-2019-14697", "musl", ".trivyignore:2"),
                ("CVE-2019-14697", "musl-utils", ".trivyignore:2"),
            ],
            says: "",
        },
        Case {
            name: ".trivyignore.yaml with a statement and a future expiry",
            report: "alpine-39.json",
            args: &[],
            files: &[(
                ".trivyignore.yaml",
                "vulnerabilities:\n  - id: CVE-2019-14697\n    purls: [\"pkg:apk/alpine/musl-utils\"]\n    statement: musl-utils is never run\n    expired_at: 2099-01-01\n  - id: CVE-2019-14697\n    paths: [\"**/alpine-39.tar.gz*\"]\n    statement: rebuilt weekly\n",
            )],
            code: 0,
            blocking: &[],
            ignored: &[
                ("CVE-2019-14697", "musl", "rebuilt weekly"),
                ("CVE-2019-14697", "musl-utils", "never run"),
            ],
            says: "",
        },
        Case {
            name: "an expired entry no longer ignores",
            report: "alpine-39.json",
            args: &[],
            files: &[(
                ".trivyignore.yaml",
                "vulnerabilities:\n  - id: CVE-2019-14697\n    statement: old decision\n    expired_at: 2020-01-01\n",
            )],
            code: 1,
            blocking: &[
                ("vulnerability", "CVE-2019-14697", "musl"),
                ("vulnerability", "CVE-2019-14697", "musl-utils"),
            ],
            ignored: &[],
            says: "at or above CRITICAL",
        },
        Case {
            name: "OpenVEX not_affected suppresses exactly the vulnerability + product",
            report: "alpine-39.json",
            args: &["--vex", "musl.openvex.json"],
            files: &[(
                "musl.openvex.json",
                "{\"@context\": \"https://openvex.dev/ns/v0.2.0\", \"@id\": \"https://example.com/vex/musl\", \"author\": \"test\", \"timestamp\": \"2026-01-01T00:00:00Z\", \"version\": 1, \"statements\": [{\"vulnerability\": {\"name\": \"CVE-2019-14697\"}, \"products\": [{\"@id\": \"pkg:apk/alpine/musl@1.1.20-r4\"}], \"status\": \"not_affected\", \"justification\": \"vulnerable_code_not_in_execute_path\"}, {\"vulnerability\": {\"name\": \"CVE-2019-1549\"}, \"products\": [{\"@id\": \"pkg:apk/alpine/musl@1.1.20-r4\"}], \"status\": \"not_affected\", \"justification\": \"component_not_present\"}]}",
            )],
            code: 1,
            blocking: &[("vulnerability", "CVE-2019-14697", "musl-utils")],
            ignored: &[(
                "CVE-2019-14697",
                "musl",
                "vulnerable_code_not_in_execute_path",
            )],
            says: "1 vulnerability at or above CRITICAL",
        },
        Case {
            name: "allow rules with reasons",
            report: "alpine-39.json",
            args: &[],
            files: &[(
                "slipway.yaml",
                "policy:\n  scan:\n    allow:\n      - package: musl\n        id: CVE-2019-14697\n        reason: patched in our fork\n      - package: musl-utils\n        reason: not shipped to users\n",
            )],
            code: 0,
            blocking: &[],
            ignored: &[
                ("CVE-2019-14697", "musl", "patched in our fork"),
                ("CVE-2019-14697", "musl-utils", "not shipped"),
            ],
            says: "",
        },
        Case {
            name: "an allow rule without a reason is refused",
            report: "alpine-39.json",
            args: &[],
            files: &[(
                "slipway.yaml",
                "policy:\n  scan:\n    allow:\n      - package: musl\n        reason: \"  \"\n",
            )],
            code: 2,
            blocking: &[],
            ignored: &[],
            says: "policy.scan.allow[0].reason",
        },
        Case {
            name: "secrets gate by default",
            report: "secrets.json",
            args: &["--severity", "high"],
            files: &[],
            code: 1,
            blocking: &[
                ("secret", "aws-access-key-id", ""),
                ("secret", "mysecret", ""),
            ],
            ignored: &[],
            says: "2 secrets at or above HIGH",
        },
        Case {
            name: "secrets off",
            report: "secrets.json",
            args: &["--severity", "high"],
            files: &[("slipway.yaml", "policy:\n  scan:\n    secrets: false\n")],
            code: 0,
            blocking: &[],
            ignored: &[],
            says: "",
        },
        Case {
            name: "misconfigurations gate by default",
            report: "helm_testchart.json",
            args: &["--severity", "medium"],
            files: &[],
            code: 1,
            blocking: &[
                ("misconfiguration", "KSV-0001", ""),
                ("misconfiguration", "KSV-0104", ""),
                ("misconfiguration", "KSV-0117", ""),
                ("misconfiguration", "KSV-0118", ""),
            ],
            ignored: &[],
            says: "misconfigurations at or above MEDIUM",
        },
        Case {
            name: "misconfigurations off",
            report: "helm_testchart.json",
            args: &["--severity", "medium"],
            files: &[(
                "slipway.yaml",
                "policy:\n  scan:\n    misconfigurations: false\n",
            )],
            code: 0,
            blocking: &[],
            ignored: &[],
            says: "",
        },
        Case {
            name: "--deny-license blocks the package whose copyright declares it",
            report: "gomod.json",
            args: &["--deny-license", "GPL-3.0-or-later"],
            files: &[],
            code: 1,
            blocking: &[("license", "GPL-3.0-or-later", "grep")],
            ignored: &[],
            says: "1 denied license",
        },
        Case {
            name: "--deny-license of a license nothing declares passes",
            report: "gomod.json",
            args: &["--deny-license", "LGPL-2.1-or-later"],
            files: &[],
            code: 0,
            blocking: &[],
            ignored: &[],
            says: "",
        },
        Case {
            name: "--deny-license without an SBOM fails closed",
            report: "gomod.json",
            args: &["--deny-license", "Zlib", "--sbom-format", "none"],
            files: &[],
            code: 2,
            blocking: &[],
            ignored: &[],
            says: "deny-list",
        },
        Case {
            name: "a misspelt key in .trivyignore.yaml is refused",
            report: "alpine-39.json",
            args: &[],
            files: &[(
                ".trivyignore.yaml",
                "vulnerabilities:\n  - id: CVE-2019-14697\n    statement: until the fix\n    expires_at: 2020-01-01\n",
            )],
            code: 2,
            blocking: &[],
            ignored: &[],
            says: "expires_at",
        },
    ];
    for case in &cases {
        for f in [".trivyignore", ".trivyignore.yaml", "slipway.yaml"] {
            let _ = std::fs::remove_file(d.join(f));
        }
        for (name, content) in case.files {
            std::fs::write(d.join(name), content).unwrap();
        }
        let before = StateFile::new(&state_path)
            .read_required()
            .unwrap()
            .scans
            .len();
        let report = report_for(d, case.report, &config);
        let r = run(cmd("slipway-scan-sbom", d)
            .arg("--report")
            .arg(&report)
            .args(case.args));
        assert_eq!(r.code, case.code, "{}: {}", case.name, r.stderr);
        assert!(
            r.stderr.contains(case.says),
            "{}: expected `{}` in:\n{}",
            case.name,
            case.says,
            r.stderr
        );
        let s = StateFile::new(&state_path).read_required().unwrap();
        if case.code == 2 {
            assert_eq!(
                s.scans.len(),
                before,
                "{}: bad input recorded a verdict",
                case.name
            );
            continue;
        }
        assert_eq!(s.scans.len(), before + 1, "{}", case.name);
        let rec = s.scans.last().unwrap();
        assert_eq!(rec.digest, index, "{}", case.name);
        assert_eq!(
            rec.verdict,
            if case.code == 0 {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            "{}",
            case.name
        );
        let mut blocking: Vec<(String, String, String)> = rec
            .blocking
            .iter()
            .map(|f| {
                (
                    f.kind.clone(),
                    f.id.clone(),
                    f.package.clone().unwrap_or_default(),
                )
            })
            .collect();
        blocking.sort();
        let want: Vec<(String, String, String)> = case
            .blocking
            .iter()
            .map(|(k, i, p)| (k.to_string(), i.to_string(), p.to_string()))
            .collect();
        assert_eq!(blocking, want, "{}", case.name);
        let mut ignored: Vec<(String, String, String)> = rec
            .ignored
            .iter()
            .map(|f| {
                (
                    f.id.clone(),
                    f.package.clone().unwrap_or_default(),
                    f.reason.clone().unwrap_or_default(),
                )
            })
            .collect();
        ignored.sort();
        assert_eq!(
            ignored.len(),
            case.ignored.len(),
            "{}: {ignored:?}",
            case.name
        );
        for ((id, pkg, reason), (wid, wpkg, word)) in ignored.iter().zip(case.ignored) {
            assert_eq!((id.as_str(), pkg.as_str()), (*wid, *wpkg), "{}", case.name);
            assert!(
                reason.contains(word),
                "{}: `{reason}` lacks `{word}`",
                case.name
            );
        }
        if case.name == "an expired entry no longer ignores" {
            // The state records the expired entry with the findings it no longer covers.
            assert_eq!(rec.expiring.len(), 2, "{:?}", rec.expiring);
            assert!(rec.expiring.iter().all(|f| {
                f.reason.as_deref().is_some_and(|r| r.contains("expired"))
                    && f.expires
                        .is_some_and(|e| e.to_rfc3339().starts_with("2020-01-01T00:00:00"))
            }));
            assert!(
                r.stderr.contains("expired ignore no longer applies"),
                "{}",
                r.stderr
            );
        }
        if case.name.starts_with("--deny-license blocks") {
            // A license has no severity: the counts are the report's vulnerabilities only
            // (gomod: 1 medium, 4 unknown).
            assert_eq!(
                (rec.counts.medium, rec.counts.unknown, rec.counts.high),
                (1, 4, 0)
            );
            assert!(!r.stderr.contains("at or above"), "{}", r.stderr);
        }
    }
}

// Regression: a failing gate printed the verdict and then an error object: two documents.
#[test]
fn json_output_is_one_document_whether_the_gate_passes_or_fails() {
    let (dir, config) = policy_image();
    let d = dir.path();
    let report = report_for(d, "alpine-39.json", &config);
    let r = run(cmd("slipway-scan-sbom", d)
        .args(["--output-format", "json", "--report"])
        .arg(&report));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", r.stdout));
    assert_eq!(doc["verdict"], "fail");
    assert_eq!(doc["error"]["class"], "denied");
    assert_eq!(doc["error"]["exit_code"], 1);
    assert_eq!(doc["blocking"].as_array().unwrap().len(), 2);
    let r = run(cmd("slipway-scan-sbom", d)
        .args([
            "--output-format",
            "json",
            "--severity",
            "critical",
            "--report",
        ])
        .arg(report_for(d, "gomod.json", &config)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["verdict"], "pass");
    assert!(doc.get("error").is_none());
    // Bad input: one error document too.
    let r = run(cmd("slipway-scan-sbom", d)
        .args([
            "--output-format",
            "json",
            "--severity",
            "severe",
            "--report",
        ])
        .arg(&report));
    assert_eq!(r.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--severity")
    );
}

#[test]
fn a_report_about_another_image_is_refused_unless_allowed() {
    let (dir, config) = policy_image();
    let d = dir.path();
    let state = d.join(".slipway/state.json");
    let scans = |s: &Path| StateFile::new(s).read_required().unwrap().scans.len();
    // Upstream's alpine report names its own image (Metadata.ImageID), not this one.
    let r = scan(
        d,
        &[
            "--report",
            fixture("trivy/alpine-39.json").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("alpine-39.json")
            && r.stderr.contains("another image")
            && r.stderr.contains(
                "sha256:055936d3920576da37aa9bc460d70c5f212028bda1c08c0879aedf03d7a66ea1"
            ),
        "{}",
        r.stderr
    );
    assert_eq!(scans(&state), 0);
    let r = scan(
        d,
        &[
            "--report",
            fixture("trivy/alpine-39.json").to_str().unwrap(),
            "--allow-report-mismatch",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("gating on it anyway"), "{}", r.stderr);
    assert_eq!(scans(&state), 1);
    // A Grype report names the image by source.target; a manifest digest of this image passes
    // the check.
    let digest = StateFile::new(&state).read_required().unwrap().images["app"]
        .platforms
        .values()
        .next()
        .unwrap()
        .manifest
        .digest
        .to_string();
    let mut g: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture("grype/keycloak-image.json")).unwrap())
            .unwrap();
    let r = scan(
        d,
        &[
            "--report",
            fixture("grype/keycloak-image.json").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    g["source"]["target"]["manifestDigest"] = digest.clone().into();
    g["source"]["target"]["imageID"] = config.clone().into();
    g["source"]["target"]["repoDigests"] = serde_json::json!([]);
    // DERIVED: upstream's keycloak report re-labelled as this image's.
    std::fs::write(d.join("grype.json"), serde_json::to_vec(&g).unwrap()).unwrap();
    // Its six findings are all Low (CVE-2020-12413 in the nss packages): nothing blocks at
    // critical, all six at low.
    let r = scan(d, &["--report", "grype.json", "--severity", "critical"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("another image"), "{}", r.stderr);
    let last = || {
        StateFile::new(&state)
            .read_required()
            .unwrap()
            .scans
            .pop()
            .unwrap()
    };
    let rec = last();
    assert_eq!((rec.verdict, rec.counts.low), (Verdict::Pass, 6));
    assert!(rec.blocking.is_empty(), "{:?}", rec.blocking);
    let r = scan(d, &["--report", "grype.json", "--severity", "low"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut blocking: Vec<String> = last()
        .blocking
        .iter()
        .map(|f| format!("{} {}", f.id, f.package.clone().unwrap_or_default()))
        .collect();
    blocking.sort();
    assert_eq!(
        blocking,
        [
            "nspr",
            "nss",
            "nss-softokn",
            "nss-softokn-freebl",
            "nss-sysinit",
            "nss-util"
        ]
        .map(|p| format!("CVE-2020-12413 {p}"))
    );
    // Regression: a report that names no image was gated on with only a warning, so `[]` or an
    // empty SchemaVersion 2 document recorded a pass. Now it is refused unless allowed.
    std::fs::write(d.join("empty.json"), "[]").unwrap();
    std::fs::write(d.join("bare.json"), "{\"SchemaVersion\": 2}").unwrap();
    let gomod = fixture("trivy/gomod.json");
    let before = scans(&state);
    for file in ["empty.json", "bare.json", gomod.to_str().unwrap()] {
        let r = scan(d, &["--report", file]);
        assert_eq!(r.code, 2, "{file}: {}", r.stderr);
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        assert!(
            r.stderr.contains(name)
                && r.stderr.contains("names no image")
                && r.stderr.contains("--allow-report-mismatch"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(scans(&state), before);
    let r = scan(
        d,
        &[
            "--report",
            gomod.to_str().unwrap(),
            "--allow-report-mismatch",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("names no image") && r.stderr.contains("gating on it anyway"),
        "{}",
        r.stderr
    );
    assert_eq!(scans(&state), before + 1);
}

// Regression: trivy ran once on the layout without --platform, so only one platform of the
// index was scanned and a pass was recorded for all of it.
#[test]
fn trivy_scans_every_platform_of_an_index_and_records_a_verdict_for_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(".gitignore"), ".slipway/\n").unwrap();
    let platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
    for p in ["linux-amd64", "linux-arm"] {
        std::fs::write(d.join(format!("app-{p}")), b"#!/bin/sh\necho hi\n").unwrap();
    }
    // Only the arm64 program carries a key (made up, of the shape of Trivy's rule).
    std::fs::write(
        d.join("app-linux-arm64"),
        b"#!/bin/sh\nexport AWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\necho hi\n",
    )
    .unwrap();
    let r = run(cmd("slipway-build", d).args([
        "--name",
        "app",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        &platforms.join(","),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let trivy_dir = slipway_test::tool("trivy");
    let path = format!(
        "{}:{}",
        trivy_dir.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let r = run(cmd("slipway-scan-sbom", d)
        .env("PATH", &path)
        .env("TRIVY_CACHE_DIR", d.join("trivy-cache"))
        .args(["--scanner", "trivy", "--scanners", "secret"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("linux/arm64: CRITICAL aws-access-key-id"),
        "{}",
        r.stderr
    );
    let s = StateFile::new(d.join(".slipway/state.json"))
        .read_required()
        .unwrap();
    let img = &s.images["app"];
    assert_eq!(img.platforms.len(), 3);
    let verdict = |digest: &slipway_types::Digest| {
        s.scans
            .iter()
            .rev()
            .find(|r| &r.digest == digest)
            .map(|r| (r.verdict, r.report.clone()))
            .unwrap_or_else(|| panic!("no verdict for {digest}"))
    };
    for (platform, p) in &img.platforms {
        let (v, report) = verdict(&p.manifest.digest);
        let want = if platform.to_string() == "linux/arm64" {
            Verdict::Fail
        } else {
            Verdict::Pass
        };
        assert_eq!(v, want, "{platform}");
        // Each platform was scanned on its own: trivy's report is of that platform's image.
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(report.unwrap())).unwrap()).unwrap();
        assert_eq!(
            report["Metadata"]["ImageID"],
            p.config.as_ref().unwrap().to_string(),
            "{platform}"
        );
    }
    let index = &img.index.as_ref().unwrap().digest;
    assert_eq!(verdict(index).0, Verdict::Fail);
    assert_eq!(s.scans.last().unwrap().digest, *index);

    // A layout that lists only the index (as other tools write them): each platform is taken
    // out into a layout of its own, with the same verdicts.
    let index_json = d.join(".slipway/oci/index.json");
    let mut ij: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_json).unwrap()).unwrap();
    ij["manifests"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["digest"] == index.to_string());
    std::fs::write(&index_json, serde_json::to_vec(&ij).unwrap()).unwrap();
    let before = s.scans.len();
    let r = run(cmd("slipway-scan-sbom", d)
        .env("PATH", &path)
        .env("TRIVY_CACHE_DIR", d.join("trivy-cache"))
        .args([
            "--scanner",
            "trivy",
            "--scanners",
            "secret",
            "--sbom-format",
            "none",
        ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let s = StateFile::new(d.join(".slipway/state.json"))
        .read_required()
        .unwrap();
    let fresh = &s.scans[before..];
    assert_eq!(fresh.len(), 4, "three platforms and the index");
    let failed: Vec<&slipway_types::Digest> = fresh
        .iter()
        .filter(|r| r.verdict == Verdict::Fail)
        .map(|r| &r.digest)
        .collect();
    let arm64 = img
        .platforms
        .iter()
        .find(|(p, _)| p.to_string() == "linux/arm64")
        .map(|(_, p)| &p.manifest.digest)
        .unwrap();
    assert_eq!(failed, [arm64, index]);
    assert!(
        !d.join(".slipway/scan").read_dir().unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "layout")),
        "the per-platform layouts are removed"
    );
}

/// A two-platform image (linux/amd64, linux/arm64) of small programs, built here.
fn two_platform_image() -> (tempfile::TempDir, slipway_state::Image) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(".gitignore"), ".slipway/\n").unwrap();
    for p in ["amd64", "arm64"] {
        std::fs::write(d.join(format!("app-linux-{p}")), b"#!/bin/sh\necho hi\n").unwrap();
    }
    let r = run(cmd("slipway-build", d).args([
        "--name",
        "app",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        "linux/amd64,linux/arm64",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let img = StateFile::new(d.join(".slipway/state.json"))
        .read_required()
        .unwrap()
        .images["app"]
        .clone();
    (dir, img)
}

/// A recorded upstream report DERIVED to name the given ids (Trivy `Metadata`, `ArtifactName`).
fn report_naming(
    dir: &Path,
    name: &str,
    image_id: Option<&str>,
    repo_digests: &[String],
    artifact: Option<&str>,
) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture(&format!("trivy/{name}"))).unwrap()).unwrap();
    v["Metadata"] = serde_json::json!({"RepoDigests": repo_digests});
    if let Some(id) = image_id {
        v["Metadata"]["ImageID"] = id.into();
    }
    if let Some(a) = artifact {
        v["ArtifactName"] = a.into();
    }
    let p = dir.join(format!("named-{name}"));
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p
}

// Regression: a report of the amd64 image alone was accepted for the amd64+arm64 index (any one
// id matching sufficed) and one verdict was recorded for the whole index.
#[test]
fn a_report_of_one_platform_is_recorded_for_that_manifest_not_the_index() {
    let (dir, img) = two_platform_image();
    let d = dir.path();
    let state = d.join(".slipway/state.json");
    let index = img.index.as_ref().unwrap().digest.clone();
    let amd64 = img
        .platforms
        .iter()
        .find(|(p, _)| p.to_string() == "linux/amd64")
        .unwrap()
        .1;
    let arm64 = img
        .platforms
        .iter()
        .find(|(p, _)| p.to_string() == "linux/arm64")
        .unwrap()
        .1;
    let amd64_config = amd64.config.as_ref().unwrap().to_string();
    let scans = || StateFile::new(&state).read_required().unwrap().scans;

    let r = run(cmd("slipway-scan-sbom", d)
        .arg("--report")
        .arg(report_naming(
            d,
            "alpine-39.json",
            Some(&amd64_config),
            &[],
            None,
        )));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("--report covers linux/amd64 of app only")
            && r.stderr.contains("linux/arm64 not scanned"),
        "{}",
        r.stderr
    );
    let s = scans();
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(
        (&s[0].digest, s[0].verdict),
        (&amd64.manifest.digest, Verdict::Fail)
    );
    // A passing report of that platform: a pass for its manifest, still none for the index.
    let r = run(cmd("slipway-scan-sbom", d)
        .arg("--report")
        .arg(report_naming(
            d,
            "gomod.json",
            Some(&amd64_config),
            &[],
            None,
        )));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = scans();
    assert_eq!(s.len(), 2);
    assert_eq!(
        (&s[1].digest, s[1].verdict),
        (&amd64.manifest.digest, Verdict::Pass)
    );
    assert!(s.iter().all(|r| r.digest != index));

    // A report that names every platform's manifest covers the index.
    let both = [
        format!("app@{}", amd64.manifest.digest),
        format!("app@{}", arm64.manifest.digest),
    ];
    let r = run(cmd("slipway-scan-sbom", d)
        .arg("--report")
        .arg(report_naming(d, "gomod.json", None, &both, None)));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = scans();
    assert_eq!(s.len(), 3);
    assert_eq!((&s[2].digest, s[2].verdict), (&index, Verdict::Pass));

    // A report that names only the index does not say which platform was scanned.
    let only_index = report_naming(d, "gomod.json", None, &[], Some(&format!("app@{index}")));
    let r = run(cmd("slipway-scan-sbom", d).arg("--report").arg(&only_index));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("not which of its 2 platforms"),
        "{}",
        r.stderr
    );
    assert_eq!(scans().len(), 3);
    let r = run(cmd("slipway-scan-sbom", d)
        .arg("--report")
        .arg(&only_index)
        .arg("--allow-report-mismatch"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("gating on it anyway"), "{}", r.stderr);
    let s = scans();
    assert_eq!((s.len(), &s[3].digest), (4, &index));
}

// Regression: the scanner's report path is reused between runs, and a scanner that exited 0
// without writing had the previous run's report gated on.
#[test]
fn a_scanner_that_writes_no_report_is_an_error_not_the_old_report() {
    let (dir, img) = two_platform_image();
    let d = dir.path();
    // The reports an earlier run left: passing ones, tied to each platform.
    std::fs::create_dir_all(d.join(".slipway/scan")).unwrap();
    let mut stale = Vec::new();
    for p in img.platforms.values() {
        let report = report_naming(
            d,
            "gomod.json",
            Some(&p.config.as_ref().unwrap().to_string()),
            &[],
            None,
        );
        let out = d.join(format!(
            ".slipway/scan/trivy-{}.json",
            p.manifest.digest.hex()
        ));
        std::fs::copy(&report, &out).unwrap();
        stale.push(out);
    }
    // A stand-in `trivy` that exits 0 and writes nothing.
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("trivy");
    std::fs::write(&shim, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(cmd("slipway-scan-sbom", d)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .args(["--scanner", "trivy", "--sbom-format", "none"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("trivy exited 0 but wrote no report"),
        "{}",
        r.stderr
    );
    let s = StateFile::new(d.join(".slipway/state.json"))
        .read_required()
        .unwrap();
    assert!(s.scans.is_empty(), "{:?}", s.scans);
    // The first platform's scan ran (and failed): its old report is gone.
    assert!(!stale[0].exists(), "the old report was removed");
}
