//! The command line as a user meets it: exit codes, stdout/stderr discipline, messages.

mod common;

use common::{cmd, digest, one_platform_state, run, write_state};
use slipway_test::{check_jsonschema, state_schema};

/// The subcommands listed under `Commands:` in a help page (without `help`).
fn listed_subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // Wrapped descriptions continue on lines indented further.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect()
}

/// Regression: `slipway-sign --help` (its own notes replaced the block) and every subcommand
/// page (`slipway build --help`, `slipway state show --help`, ...) lacked the exit codes.
#[test]
fn help_documents_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut pages: Vec<Vec<String>> = [
        "slipway",
        "slipway-build",
        "slipway-scan-sbom",
        "slipway-sign",
        "slipway-push",
        "slipway-promote",
    ]
    .iter()
    .map(|b| vec![(*b).to_owned()])
    .collect();
    let mut checked = Vec::new();
    while let Some(page) = pages.pop() {
        for flag in ["--help", "-h"] {
            let r = run(cmd(&page[0], dir.path()).args(&page[1..]).arg(flag));
            assert_eq!(r.code, 0, "{page:?} {flag}: {}", r.stderr);
            for line in [
                "Exit codes:",
                "0  success",
                "1  a gate or policy said no",
                "2  bad input or usage",
                "3  an external system",
            ] {
                assert!(r.stdout.contains(line), "{page:?} {flag} lacks `{line}`");
            }
            if flag == "--help" {
                for sub in listed_subcommands(&r.stdout) {
                    let mut p = page.clone();
                    p.push(sub);
                    pages.push(p);
                }
            }
        }
        checked.push(page.join(" "));
    }
    // The walk reached the nested commands, so it cannot pass by finding none.
    for page in [
        "slipway build",
        "slipway sign",
        "slipway verify",
        "slipway state",
        "slipway state show",
        "slipway state merge",
        "slipway runner",
    ] {
        assert!(
            checked.iter().any(|c| c == page),
            "{page} not checked: {checked:?}"
        );
    }
    let runner_subs = checked
        .iter()
        .filter(|c| c.starts_with("slipway runner "))
        .count();
    assert!(runner_subs >= 2, "{checked:?}");
}

/// Regression: `slipway`, `slipway state` and `slipway runner` without a subcommand printed
/// their help and exited 0, so a script calling them by mistake saw success.
#[test]
fn missing_subcommand_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &["state"][..], &["runner"][..]] {
        let r = run(cmd("slipway", dir.path()).args(args));
        assert_eq!(r.code, 2, "slipway {args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "slipway {args:?}: help went to stdout");
        assert!(r.stderr.contains("Usage: slipway"), "{}", r.stderr);
        assert!(r.stderr.contains("Commands:"), "{}", r.stderr);
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(cmd("slipway", dir.path()).args(["state", "frobnicate"]));
    assert_eq!(r.code, 2);
    let r = run(cmd("slipway", dir.path()).args(["--color", "purple", "state", "show"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--color"), "{}", r.stderr);
    let r = run(cmd("slipway", dir.path())
        .args(["state", "show"])
        .env("SLIPWAY_OUTPUT_FORMAT", "yaml"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("yaml"), "{}", r.stderr);
}

#[test]
fn validate_newer_format_names_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("newer.json");
    std::fs::write(
        &f,
        r#"{"format": 2, "written_by": "slipway 9.1.0", "images": {}}"#,
    )
    .unwrap();
    let r = run(cmd("slipway", dir.path()).args(["state", "validate", "newer.json"]));
    insta::assert_snapshot!(r.snapshot(dir.path()));
}

#[test]
fn validate_malformed_json_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        "{\n  \"format\": 1,\n  \"images\": {\n    \"hello\": \n}\n",
    )
    .unwrap();
    let r = run(cmd("slipway", dir.path()).args(["state", "validate", "bad.json"]));
    insta::assert_snapshot!(r.snapshot(dir.path()));
}

#[test]
fn validate_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    write_state(&good, one_platform_state("linux/amd64", 1));
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(dir.path().join("cut.json"), &bytes[..bytes.len() / 2]).unwrap();
    let r = run(cmd("slipway", dir.path()).args(["state", "validate", "cut.json"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not valid JSON at line"), "{}", r.stderr);
}

#[test]
fn validate_schema_violation_names_field_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad_digest = r#"{"format": 1, "images": {"hello": {"platforms": {"linux/arm64": {"manifest":
        {"media_type": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:1234", "size": 10}}}}}}"#;
    std::fs::write(dir.path().join("digest.json"), bad_digest).unwrap();
    let r = run(cmd("slipway", dir.path()).args(["state", "validate", "digest.json"]));
    insta::assert_snapshot!("schema_bad_digest", r.snapshot(dir.path()));

    std::fs::write(
        dir.path().join("field.json"),
        r#"{"format": 1, "steps": [{"step": "build", "outcome": "maybe"}]}"#,
    )
    .unwrap();
    let r = run(cmd("slipway", dir.path()).args(["state", "validate", "field.json"]));
    insta::assert_snapshot!("schema_bad_enum", r.snapshot(dir.path()));

    // The independent validator agrees that both files violate the schema.
    for f in ["digest.json", "field.json"] {
        let (ok, _) = check_jsonschema(&state_schema(), &dir.path().join(f));
        assert!(!ok, "check-jsonschema accepted {f}");
    }
}

#[test]
fn validate_good_file_and_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_state(
        &dir.path().join("s.json"),
        one_platform_state("linux/amd64", 1),
    );
    let r = run(cmd("slipway", dir.path())
        .args(["state", "validate"])
        .arg(&f));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("valid state file (format 1, written by slipway "),
        "{}",
        r.stdout
    );
    let r = run(cmd("slipway", dir.path())
        .args(["--output-format", "json", "state", "validate"])
        .arg(&f));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["format"], 1);
    // Errors in JSON mode: human text on stderr, a JSON error document on stdout.
    let r = run(cmd("slipway", dir.path()).args([
        "--output-format",
        "json",
        "state",
        "validate",
        "missing.json",
    ]));
    assert_eq!(r.code, 2);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["error"]["class"], "usage");
    assert_eq!(v["error"]["exit_code"], 2);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing.json")
    );
}

#[test]
fn merged_state_file_passes_check_jsonschema() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_state(
        &dir.path().join("a.json"),
        one_platform_state("linux/amd64", 1),
    );
    let b = write_state(
        &dir.path().join("b.json"),
        one_platform_state("linux/arm64", 2),
    );
    let r = run(cmd("slipway", dir.path())
        .args(["state", "merge"])
        .arg(&a)
        .arg(&b)
        .args(["-o", "merged.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let (ok, text) = check_jsonschema(&state_schema(), &dir.path().join("merged.json"));
    assert!(ok, "{text}");
}

#[test]
fn merge_two_platforms_into_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_state(
        &dir.path().join("amd64.json"),
        one_platform_state("linux/amd64", 1),
    );
    let b = write_state(
        &dir.path().join("arm64.json"),
        one_platform_state("linux/arm64", 2),
    );
    let r = run(cmd("slipway", dir.path()).args([
        "state",
        "merge",
        "amd64.json",
        "arm64.json",
        "-o",
        "out/state.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "out/state.json\n");
    let merged = slipway_state::StateFile::new(dir.path().join("out/state.json"))
        .read_required()
        .unwrap();
    let hello = &merged.images["hello"];
    let platforms: Vec<String> = hello.platforms.keys().map(ToString::to_string).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        hello.platforms[&"linux/amd64".parse().unwrap()]
            .manifest
            .digest,
        digest(1)
    );
    assert_eq!(
        hello.platforms[&"linux/arm64".parse().unwrap()]
            .manifest
            .digest,
        digest(2)
    );
    // The merge itself is in the step log.
    assert_eq!(
        merged.steps.last().unwrap().step,
        slipway_state::Step::Merge
    );
    // And `state get` reads it back for shell use, raw.
    let r = run(cmd("slipway", dir.path()).args([
        "--state",
        "out/state.json",
        "state",
        "get",
        "images.hello.platforms.linux/arm64.manifest.digest",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, format!("{}\n", digest(2)));
    let _ = (a, b);
}

#[test]
fn merge_conflict_names_both_values() {
    let dir = tempfile::tempdir().unwrap();
    write_state(
        &dir.path().join("a.json"),
        one_platform_state("linux/amd64", 1),
    );
    write_state(
        &dir.path().join("b.json"),
        one_platform_state("linux/amd64", 2),
    );
    let r = run(
        cmd("slipway", dir.path()).args(["state", "merge", "a.json", "b.json", "-o", "m.json"])
    );
    insta::assert_snapshot!(r.snapshot(dir.path()));
    assert!(
        !dir.path().join("m.json").exists() || {
            // A failed merge leaves at most a step-log entry, never merged content.
            let s = slipway_state::StateFile::new(dir.path().join("m.json"))
                .read_required()
                .unwrap();
            s.images.is_empty()
        }
    );
}

#[test]
fn get_missing_key_lists_what_exists() {
    let dir = tempfile::tempdir().unwrap();
    write_state(
        &dir.path().join(".slipway/state.json"),
        one_platform_state("linux/amd64", 1),
    );
    let r = run(cmd("slipway", dir.path()).args(["state", "get", "images.nope.index"]));
    insta::assert_snapshot!(r.snapshot(dir.path()));
}

#[test]
fn show_human_and_json() {
    let dir = tempfile::tempdir().unwrap();
    write_state(
        &dir.path().join(".slipway/state.json"),
        one_platform_state("linux/amd64", 1),
    );
    let r = run(cmd("slipway", dir.path()).args(["state", "show"]));
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("hello  1 platform(s), no index"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("linux/amd64      {}", digest(1))),
        "{}",
        r.stdout
    );
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    let r = run(cmd("slipway", dir.path()).args(["state", "show", "--output-format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["images"]["hello"]["layout_ref"], "hello");
}

#[test]
fn config_errors_name_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("slipway.yaml"),
        "version: 1\noutput_format: json\ncolor: rainbow\n",
    )
    .unwrap();
    let r = run(cmd("slipway", dir.path()).args(["state", "show"]));
    insta::assert_snapshot!(r.snapshot(dir.path()));
}

#[test]
fn config_env_and_flag_precedence() {
    let dir = tempfile::tempdir().unwrap();
    write_state(
        &dir.path().join("from-config.json"),
        one_platform_state("linux/amd64", 1),
    );
    write_state(
        &dir.path().join("from-env.json"),
        one_platform_state("linux/amd64", 2),
    );
    write_state(
        &dir.path().join("from-flag.json"),
        one_platform_state("linux/amd64", 3),
    );
    std::fs::write(dir.path().join("slipway.yaml"), "state: from-config.json\n").unwrap();
    let get = |c: &mut std::process::Command| {
        let r = run(c.args([
            "state",
            "get",
            "images.hello.platforms.linux/amd64.manifest.digest",
        ]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.trim().to_owned()
    };
    assert_eq!(get(&mut cmd("slipway", dir.path())), digest(1).to_string());
    assert_eq!(
        get(cmd("slipway", dir.path()).env("SLIPWAY_STATE", "from-env.json")),
        digest(2).to_string()
    );
    assert_eq!(
        get(cmd("slipway", dir.path())
            .env("SLIPWAY_STATE", "from-env.json")
            .args(["--state", "from-flag.json"])),
        digest(3).to_string()
    );
}

#[test]
fn secrets_from_the_environment_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Sup3r-s3cret-pw";
    // Bad input that echoes itself back in the error message.
    std::fs::write(
        dir.path().join("s.json"),
        format!(r#"{{"format": 1, "run": {{"ci": "{secret}"}}}}"#),
    )
    .unwrap();
    for var in ["SLIPWAY_PASSWORD", "COSIGN_PASSWORD"] {
        let r = run(cmd("slipway", dir.path())
            .env(var, secret)
            .args(["state", "validate", "s.json"]));
        assert_eq!(r.code, 2);
        assert!(r.stderr.contains("unknown variant `***`"), "{}", r.stderr);
        assert!(
            !r.stderr.contains(secret) && !r.stdout.contains(secret),
            "{var} leaked"
        );
    }
}

#[test]
fn color_follows_flag_and_no_color() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(cmd("slipway", dir.path()).args(["--color", "always", "state", "show"]));
    assert!(
        r.stderr.contains("\u{1b}["),
        "no ANSI with --color always: {:?}",
        r.stderr
    );
    // NO_COLOR is set by `cmd`; `auto` honours it (and stderr is not a terminal anyway).
    let r = run(cmd("slipway", dir.path()).args(["state", "show"]));
    assert!(
        !r.stderr.contains('\u{1b}'),
        "ANSI despite NO_COLOR: {:?}",
        r.stderr
    );
    let r = run(cmd("slipway", dir.path()).args(["--color", "never", "state", "show"]));
    assert!(!r.stderr.contains('\u{1b}'));
}

/// The `yaml` block of docs/policy.md and the examples' slipway.yaml files: Slipway loads them,
/// and the independent validator accepts them against the generated config schema; a typo fails
/// both.
#[test]
fn documented_and_example_configs_load_and_match_the_config_schema() {
    let root = slipway_test::repo_root();
    let schema = root.join("schemas/config.schema.json");
    let doc = std::fs::read_to_string(root.join("docs/policy.md")).unwrap();
    let block = doc
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("docs/policy.md has a yaml block");
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, block).unwrap();
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, block.replace("min_match:", "min_mach:")).unwrap();

    let examples: Vec<std::path::PathBuf> = ["hello-go", "hello-rust"]
        .iter()
        .map(|e| root.join("examples").join(e).join("slipway.yaml"))
        .collect();
    let mut files: Vec<&std::path::Path> = vec![&policy];
    files.extend(examples.iter().map(|p| p.as_path()));
    let (ok, out) = slipway_test::check_jsonschema_all(&schema, &files);
    assert!(ok, "{out}");
    let (ok, out) = check_jsonschema(&schema, &typo);
    assert!(!ok && out.contains("min_mach"), "{out}");

    // Slipway loads the documented policy: this machine is not in its allowlist, so the runner
    // check says no (exit 1) naming the entry — the policy was read, not skipped.
    let r = run(cmd("slipway", dir.path())
        .arg("--config")
        .arg(&policy)
        .args(["runner", "check", "--env", "production"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("runner not allowed") && r.stderr.contains("release-runner-1"),
        "{}",
        r.stderr
    );
    let r = run(cmd("slipway", dir.path()).arg("--config").arg(&typo).args([
        "runner",
        "check",
        "--env",
        "production",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("min_mach"), "{}", r.stderr);
}
