//! The GitLab template (ci/gitlab/slipway.gitlab-ci.yml) run end to end by gitlab-ci-local in
//! shell mode against a local registry: build → scan → sign → push → promote, every report the
//! template declares present and valid, and a failing gate failing the pipeline.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::{cmd, run};
use slipway_test::{Registry, repo_root, sha256_digest, tool};

fn project(dir: &Path, secret: bool) {
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "."]);
    std::fs::write(dir.join("app-linux-amd64"), b"#!/bin/sh\necho hi\n").unwrap();
    if secret {
        std::fs::write(
            dir.join("app-linux-amd64"),
            b"#!/bin/sh\nAWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\n",
        )
        .unwrap();
    }
    std::fs::write(
        dir.join(".gitignore"),
        ".slipway/\ncosign.key\n.gitlab-ci-local/\n",
    )
    .unwrap();
    std::fs::copy(
        repo_root().join("ci/gitlab/slipway.gitlab-ci.yml"),
        dir.join("slipway.gitlab-ci.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".gitlab-ci.yml"),
        "include:\n  - local: slipway.gitlab-ci.yml\n",
    )
    .unwrap();
    let r = run(cmd("slipway", dir)
        .env("SLIPWAY_PASSWORD", "pw")
        .args(["sign", "generate-key-pair"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "init"]);
}

fn pipeline(dir: &Path, reg: &Registry) -> (bool, String) {
    let bins = Path::new(env!("CARGO_BIN_EXE_slipway"))
        .parent()
        .unwrap()
        .to_path_buf();
    let trivy = tool("trivy").parent().unwrap().to_path_buf();
    let host = reg.host();
    let out = Command::new(tool("gitlab-ci-local"))
        .current_dir(dir)
        .env(
            "PATH",
            format!(
                "{}:{}:{}",
                bins.display(),
                trivy.display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("TRIVY_CACHE_DIR", dir.join(".trivy-cache"))
        .arg("--shell-executor-no-image")
        // gitlab-ci-local sets GITLAB_CI=false to tell scripts they run locally; GitLab sets
        // true, and that is what makes slipway write the dotenv report.
        .args(["--variable", "GITLAB_CI=true"])
        .args([
            "--variable",
            "SLIPWAY_BUILD_ARGS=--name app --binary app-{os}-{arch} --platform linux/amd64",
        ])
        .args([
            "--variable",
            "SLIPWAY_SCAN_ARGS=--scanner trivy --scanners secret",
        ])
        .args([
            "--variable",
            "SLIPWAY_SIGN_ARGS=--key cosign.key --recursive",
        ])
        .args(["--variable", "SLIPWAY_PASSWORD=pw"])
        .args(["--variable", &format!("SLIPWAY_PUSH_TO={host}/staging/app")])
        .args([
            "--variable",
            &format!("SLIPWAY_PUSH_ARGS=--insecure-registry {host}"),
        ])
        .args(["--variable", &format!("SLIPWAY_PROMOTE_TO={host}/prod/app")])
        .args([
            "--variable",
            &format!("SLIPWAY_PROMOTE_ARGS=-t stable --insecure-registry {host}"),
        ])
        .args([
            "--variable",
            &format!("SLIPWAY_VERIFY_ARGS=--recursive --key cosign.pub --insecure-registry {host}"),
        ])
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// GitLab's `extends`: hashes merge deeply, the job's own keys win.
fn deep_merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut m = b.clone();
            for (k, v) in o {
                let merged = m.get(k).map_or_else(|| v.clone(), |bv| deep_merge(bv, v));
                m.insert(k.clone(), merged);
            }
            Value::Object(m)
        }
        (_, o) => o.clone(),
    }
}

/// `artifacts:reports` of every job of the template, `extends` resolved: (job, kind, pattern).
fn declared_reports() -> Vec<(String, String, String)> {
    let text =
        std::fs::read_to_string(repo_root().join("ci/gitlab/slipway.gitlab-ci.yml")).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    let jobs = doc.as_object().unwrap();
    let resolve = |job: &Value| -> Value {
        let mut out = Value::Object(Default::default());
        let parents = match &job["extends"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
            _ => vec![],
        };
        for p in parents {
            out = deep_merge(&out, &jobs[&p]);
        }
        deep_merge(&out, job)
    };
    let mut out = Vec::new();
    for (name, job) in jobs {
        if name.starts_with('.') || !job.is_object() || job.get("script").is_none() {
            continue;
        }
        let job = resolve(job);
        for (kind, files) in job["artifacts"]["reports"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let files = match files {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
                other => panic!("{name}: reports.{kind} is {other}"),
            };
            for f in files {
                out.push((name.clone(), kind.clone(), f));
            }
        }
    }
    out
}

/// The files a report pattern names (`*` within the last path component).
fn matching(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let p = Path::new(pattern);
    let name = p.file_name().unwrap().to_str().unwrap();
    let parent = dir.join(p.parent().unwrap());
    let Some((pre, post)) = name.split_once('*') else {
        return [dir.join(p)].into_iter().filter(|f| f.is_file()).collect();
    };
    let mut v: Vec<PathBuf> = std::fs::read_dir(&parent)
        .into_iter()
        .flatten()
        .map(|e| e.unwrap().path())
        .filter(|f| {
            let n = f.file_name().unwrap().to_string_lossy();
            f.is_file()
                && n.starts_with(pre)
                && n.ends_with(post)
                && n.len() >= pre.len() + post.len()
        })
        .collect();
    v.sort();
    v
}

/// The GitLab container-scanning report schema of the version `report` declares (its
/// `version` field); a version with no schema here is a failure, not a pass against another one.
fn container_scanning_schema(report: &Path) -> PathBuf {
    let doc: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap_or_else(|e| {
        panic!("{} is not JSON: {e}", report.display());
    });
    let version = doc["version"]
        .as_str()
        .unwrap_or_else(|| panic!("{} declares no `version`", report.display()));
    let schema = repo_root()
        .join("crates/slipway-scan/tests/fixtures/schemas")
        .join(format!(
            "gitlab-container-scanning-report-format-{version}.json"
        ));
    assert!(
        schema.is_file(),
        "{} declares version {version}, and there is no schema {}",
        report.display(),
        schema.display()
    );
    schema
}

/// Every report the template declares exists after the run and is valid for its kind.
fn assert_reports(dir: &Path, only: &[&str]) {
    let declared = declared_reports();
    for kind in ["container_scanning", "cyclonedx", "dotenv"] {
        assert!(
            declared.iter().any(|(_, k, _)| k == kind),
            "the template declares no {kind} report: {declared:?}"
        );
    }
    for (job, kind, pattern) in declared
        .iter()
        .filter(|(j, _, _)| only.is_empty() || only.contains(&j.as_str()))
    {
        let files = matching(dir, pattern);
        assert!(
            !files.is_empty(),
            "{job}: reports.{kind} `{pattern}` matched nothing"
        );
        for f in &files {
            match kind.as_str() {
                "container_scanning" => {
                    let (ok, out) =
                        slipway_test::check_jsonschema(&container_scanning_schema(f), f);
                    assert!(
                        ok,
                        "{job}: {} against the container scanning schema: {out}",
                        f.display()
                    );
                }
                "cyclonedx" => {
                    let (ok, out) = slipway_test::validate_cyclonedx(f);
                    assert!(
                        ok,
                        "{job}: {} is not valid CycloneDX 1.6: {out}",
                        f.display()
                    );
                }
                "dotenv" => {
                    let text = std::fs::read_to_string(f).unwrap();
                    assert!(!text.trim().is_empty(), "{job}: {} is empty", f.display());
                    for l in text.lines().filter(|l| !l.is_empty()) {
                        let (k, _) = l
                            .split_once('=')
                            .unwrap_or_else(|| panic!("{job}: `{l}` is not KEY=VALUE"));
                        assert!(
                            !k.is_empty()
                                && !k.starts_with(|c: char| c.is_ascii_digit())
                                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                            "{job}: `{k}` is not a variable name"
                        );
                    }
                }
                other => panic!("{job}: no check for report kind {other}: add one here"),
            }
        }
    }
}

#[test]
fn the_gitlab_template_runs_green_end_to_end_and_a_failing_gate_fails_it() {
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    project(dir.path(), false);
    let (ok, log) = pipeline(dir.path(), &reg);
    assert!(ok, "{log}");
    for job in [
        "slipway-build",
        "slipway-scan",
        "slipway-sign",
        "slipway-push",
        "slipway-promote",
    ] {
        assert!(log.contains(&format!("PASS  {job}")), "{job}: {log}");
    }
    assert_reports(dir.path(), &[]);
    let promoted = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/prod/app:stable", reg.host()))
        .output()
        .unwrap();
    assert!(
        promoted.status.success(),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    let staged = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/staging/app:master", reg.host()))
        .output()
        .unwrap();
    assert_eq!(
        sha256_digest(&promoted.stdout),
        sha256_digest(&staged.stdout)
    );

    // A planted secret: the scan job fails, the pipeline fails, nothing reaches production.
    let reg2 = Registry::plain();
    let bad = tempfile::tempdir().unwrap();
    project(bad.path(), true);
    let (ok, log) = pipeline(bad.path(), &reg2);
    assert!(!ok, "{log}");
    assert!(log.contains("FAIL  slipway-scan"), "{log}");
    assert!(log.contains("aws-access-key-id"), "{log}");
    // `when: always`: the failed scan's reports are there and valid too.
    assert_reports(bad.path(), &["slipway-scan"]);
    let promoted = Command::new(tool("skopeo"))
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{}/prod/app", reg2.host()))
        .output()
        .unwrap();
    // Not a TLS or connection failure: the registry says it has no such repository (a 404 for
    // the tags list, NAME_UNKNOWN; skopeo 1.9 prints only the status, later ones the message).
    let err = String::from_utf8_lossy(&promoted.stderr);
    assert!(
        !promoted.status.success()
            && (err.contains("fetching tags list: invalid status code from registry 404")
                || err.contains("repository name not known to registry")),
        "nothing promoted: {err}"
    );
}
