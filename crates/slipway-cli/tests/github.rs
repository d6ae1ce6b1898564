//! GitHub Actions integration through the real binary: outputs, summary, annotations, masking.

mod common;

use common::{cmd, one_platform_state, run, write_state};

/// Parses `$GITHUB_OUTPUT` the way the runner does: `name<<DELIM` heredocs and `name=value`.
fn parse_github_output(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            assert!(
                delim.starts_with("ghadelimiter_"),
                "unexpected delimiter {delim}"
            );
            let mut value = Vec::new();
            loop {
                let l = lines.next().expect("delimiter closes the value");
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_owned(), value.join("\n")));
        } else {
            let (n, v) = line.split_once('=').expect("name=value");
            out.push((n.to_owned(), v.to_owned()));
        }
    }
    out
}

#[test]
fn outputs_and_summary_land_in_github_files() {
    let dir = tempfile::tempdir().unwrap();
    write_state(
        &dir.path().join("amd64.json"),
        one_platform_state("linux/amd64", 1),
    );
    write_state(
        &dir.path().join("arm64.json"),
        one_platform_state("linux/arm64", 2),
    );
    let output = dir.path().join("gh_output");
    let summary = dir.path().join("gh_summary");
    let gh = |c: &mut std::process::Command| {
        c.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_REPOSITORY", "acme/hello")
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("GITHUB_RUN_ID", "4242")
            .env("GITHUB_JOB", "fan-in");
    };
    let mut c = cmd("slipway", dir.path());
    gh(&mut c);
    let r = run(c.args(["state", "merge", "amd64.json", "arm64.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    let outputs = parse_github_output(&std::fs::read_to_string(&output).unwrap());
    let get = |n: &str| {
        outputs
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("images"), Some("hello"));
    // A multiline output survives intact.
    assert_eq!(get("platforms"), Some("linux/amd64\nlinux/arm64"));
    assert!(get("state").unwrap().ends_with(".slipway/state.json"));

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("### Merged state\n"), "{md}");
    assert!(md.contains("| hello | linux/arm64 | `sha256:0202"), "{md}");

    // Run metadata from the environment went into the state.
    let state = slipway_state::StateFile::new(dir.path().join(".slipway/state.json"))
        .read_required()
        .unwrap();
    let run_info = state.run.unwrap();
    assert_eq!(run_info.ci, slipway_state::CiKind::Github);
    assert_eq!(run_info.repository.as_deref(), Some("acme/hello"));
    assert_eq!(run_info.run_id.as_deref(), Some("4242"));
    assert_eq!(state.steps.last().unwrap().job.as_deref(), Some("fan-in"));

    // `state output` publishes arbitrary values, objects as one-line JSON.
    let mut c = cmd("slipway", dir.path());
    gh(&mut c);
    let r = run(c.args([
        "state",
        "output",
        "digest=images.hello.platforms.linux/amd64.manifest.digest",
        "plats=images.hello.platforms",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let outputs = parse_github_output(&std::fs::read_to_string(&output).unwrap());
    let digest = outputs.iter().rev().find(|(k, _)| k == "digest").unwrap();
    assert_eq!(digest.1, common::digest(1).to_string());
    let plats = outputs.iter().rev().find(|(k, _)| k == "plats").unwrap();
    let v: serde_json::Value = serde_json::from_str(&plats.1).unwrap();
    assert!(v["linux/arm64"]["manifest"]["digest"].is_string());

    // `state show --summary` appends the whole state to the summary.
    let mut c = cmd("slipway", dir.path());
    gh(&mut c);
    let r = run(c.args(["state", "show", "--summary"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| merge | Ok |"), "{md}");
}

#[test]
fn failures_become_error_annotations_on_github() {
    let dir = tempfile::tempdir().unwrap();
    write_state(
        &dir.path().join("a.json"),
        one_platform_state("linux/amd64", 1),
    );
    write_state(
        &dir.path().join("b.json"),
        one_platform_state("linux/amd64", 2),
    );
    let r = run(cmd("slipway", dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", dir.path().join("o"))
        .args(["state", "merge", "a.json", "b.json"]));
    assert_eq!(r.code, 2);
    let annotation = r
        .stderr
        .lines()
        .find(|l| l.starts_with("::error "))
        .expect("an ::error annotation");
    assert!(
        annotation.starts_with(
            "::error title=slipway merge::cannot merge the state files: conflicting digest"
        ),
        "{annotation}"
    );
    // Nothing was published for a failed step.
    assert!(!dir.path().join("o").exists());
}

#[test]
fn gitlab_outputs_go_to_dotenv() {
    let dir = tempfile::tempdir().unwrap();
    write_state(
        &dir.path().join("amd64.json"),
        one_platform_state("linux/amd64", 1),
    );
    let r = run(cmd("slipway", dir.path())
        .env("GITLAB_CI", "true")
        .env("CI", "true")
        .env("CI_PROJECT_PATH", "grp/hello")
        .args(["state", "merge", "amd64.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dotenv = std::fs::read_to_string(dir.path().join(".slipway/slipway.env")).unwrap();
    assert!(dotenv.contains("SLIPWAY_IMAGES=hello\n"), "{dotenv}");
    assert!(
        dotenv.contains("SLIPWAY_PLATFORMS=linux/amd64\n"),
        "{dotenv}"
    );
    assert!(dotenv.lines().all(|l| {
        l.split_once('=')
            .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
    }));
}

/// The masking API end to end: a registry password from the environment, used for a real
/// authenticated pull (a registry base image) with debug logs on, shows up once, on the
/// `::add-mask::` line the runner consumes, and nowhere else the job could show or keep it.
#[test]
fn masked_registry_password_appears_only_on_the_add_mask_line() {
    let dir = tempfile::tempdir().unwrap();
    let reg = slipway_test::Registry::tls_auth();
    let (user, pass) = reg.credentials().unwrap();
    let ca = reg.cert_dir().unwrap().join("ca.crt");

    // A base image, made by slipway-build and put into the registry by skopeo.
    let base_dir = dir.path().join("base");
    std::fs::create_dir(&base_dir).unwrap();
    std::fs::write(base_dir.join("base-linux-amd64"), b"#!/bin/sh\n").unwrap();
    let r = run(cmd("slipway-build", &base_dir).args([
        "--name",
        "base",
        "--binary",
        "base-{os}-{arch}",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let base_ref = format!("{}/bases/b:1", reg.host());
    let out = std::process::Command::new(slipway_test::tool("skopeo"))
        .args(["copy", "--all", "--dest-cert-dir"])
        .arg(reg.cert_dir().unwrap())
        .arg("--dest-authfile")
        .arg(reg.auth_file().unwrap())
        .arg(format!(
            "oci:{}:base",
            base_dir.join(".slipway/oci").display()
        ))
        .arg(format!("docker://{base_ref}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let proj = dir.path().join("proj");
    std::fs::create_dir(&proj).unwrap();
    std::fs::write(proj.join("tool-linux-amd64"), b"#!/bin/sh\necho hi\n").unwrap();
    let output = dir.path().join("gh_output");
    let summary = dir.path().join("gh_summary");
    let build = |password: &str| {
        run(cmd("slipway-build", &proj)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("SLIPWAY_REGISTRY_USERNAME", user)
            .env("SLIPWAY_REGISTRY_PASSWORD", password)
            .env("SLIPWAY_CACHE", dir.path().join("cache"))
            .args(["-vv", "--name", "tool", "--binary", "tool-{os}-{arch}"])
            .args(["--base", &base_ref, "--retries", "0", "--ca-file"])
            .arg(&ca))
    };
    let check = |r: &common::Run, secret: &str| {
        let mask = format!("::add-mask::{secret}");
        let lines: Vec<&str> = r.stderr.lines().filter(|l| l.contains(secret)).collect();
        assert_eq!(lines, [mask.as_str()], "stderr:\n{}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!("{mask}\n")),
            "the mask comes before anything else:\n{}",
            r.stderr
        );
        assert!(!r.stdout.contains(secret), "stdout:\n{}", r.stdout);
        for f in [&output, &summary, &proj.join(".slipway/state.json")] {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            assert!(!text.contains(secret), "{}:\n{text}", f.display());
        }
    };

    let r = build(pass);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Debug logging was on: there was something to leak into.
    assert!(r.stderr.lines().count() > 5, "{}", r.stderr);
    check(&r, pass);

    // A wrong password: refused by the registry (401) and reported, still masked.
    let wrong = "Wr0ng-passw0rd-4-masking";
    let r = build(wrong);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("401") || r.stderr.contains("unauthorized"),
        "{}",
        r.stderr
    );
    check(&r, wrong);
}
