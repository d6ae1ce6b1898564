//! The GitLab template (ci/gitlab/slipway.gitlab-ci.yml) run end to end by gitlab-ci-local in
//! shell mode against a local registry: build → scan → sign → push → promote, and a failing
//! gate failing the pipeline.

mod common;

use std::path::Path;
use std::process::Command;

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
    let promoted = Command::new(tool("skopeo"))
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{}/prod/app", reg2.host()))
        .output()
        .unwrap();
    assert!(!promoted.status.success(), "nothing promoted");
}
