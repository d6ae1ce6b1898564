//! Runner binding: fingerprints of this machine and of captured trees, the allowlist check, and
//! sign / push refusing on a machine the policy does not list.

mod common;

use std::path::Path;

use common::{cmd, run};
use serde_json::Value;
use slipway_state::StateFile;

const UUID: &str = "4C4C4544-0042-3510-8052-B7C04F4E3132";
const SERIAL: &str = "CN7016345J00MX";
const MACHINE_ID: &str = "0f8d3c1e6b2a4e9f8c7d6e5f4a3b2c1d";
const MAC: &str = "52:54:00:12:34:56";

/// A captured sysfs/etc/proc tree of a machine.
fn tree(root: &Path, uuid: &str, mac: &str, mac2: &str) {
    let w = |p: &str, v: &str| {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, format!("{v}\n")).unwrap();
    };
    w("sys/class/dmi/id/product_uuid", uuid);
    w("sys/class/dmi/id/board_serial", SERIAL);
    w("etc/machine-id", MACHINE_ID);
    w("sys/class/net/eth0/address", mac);
    std::fs::create_dir_all(root.join("sys/class/net/eth0/device")).unwrap();
    w("sys/class/net/eth1/address", mac2);
    std::fs::create_dir_all(root.join("sys/class/net/eth1/device")).unwrap();
    // Virtual interfaces do not count.
    w("sys/class/net/veth9a1b/address", "aa:bb:cc:dd:ee:ff");
    w("sys/class/net/docker0/address", "02:42:ac:11:00:02");
    w(
        "proc/cpuinfo",
        "processor\t: 0\nmodel name\t: Test CPU 3000\nprocessor\t: 1\nmodel name\t: Test CPU 3000\n",
    );
}

fn fingerprint(dir: &Path, root: Option<&Path>) -> Value {
    let mut c = cmd("slipway", dir);
    c.args(["--output-format", "json", "runner", "fingerprint"]);
    if let Some(r) = root {
        c.arg("--root").arg(r);
    }
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for raw in [UUID, SERIAL, MACHINE_ID, MAC, "Test CPU"] {
        assert!(
            !r.stdout.contains(raw) && !r.stderr.contains(raw),
            "{raw} leaked: {}",
            r.stdout
        );
    }
    serde_json::from_str(&r.stdout).unwrap()
}

#[test]
fn fingerprints_are_stable_change_with_the_dmi_uuid_and_never_show_raw_values() {
    let dir = tempfile::tempdir().unwrap();
    let here: Vec<Value> = (0..10).map(|_| fingerprint(dir.path(), None)).collect();
    assert!(
        here.iter()
            .all(|f| f["fingerprint"] == here[0]["fingerprint"])
    );
    assert!(
        here[0]["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    let a = dir.path().join("a");
    tree(&a, UUID, MAC, "52:54:00:ab:cd:ef");
    let fa = fingerprint(dir.path(), Some(&a));
    assert_eq!(fingerprint(dir.path(), Some(&a)), fa);
    let names: Vec<&String> = fa["components"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "cpu",
            "dmi.board_serial",
            "dmi.product_uuid",
            "machine_id",
            "nic.eth0",
            "nic.eth1"
        ]
    );
    assert!(
        fa["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "tpm.ek")
    );
    // The same machine captured elsewhere: same id.
    let copy = dir.path().join("copy");
    tree(&copy, UUID, MAC, "52:54:00:ab:cd:ef");
    assert_eq!(
        fingerprint(dir.path(), Some(&copy))["fingerprint"],
        fa["fingerprint"]
    );
    // Another DMI UUID: another id.
    let b = dir.path().join("b");
    tree(
        &b,
        "4C4C4544-0042-3510-8052-000000000000",
        MAC,
        "52:54:00:ab:cd:ef",
    );
    assert_ne!(
        fingerprint(dir.path(), Some(&b))["fingerprint"],
        fa["fingerprint"]
    );
}

fn policy(dir: &Path, entry: &str) {
    std::fs::write(
        dir.join("slipway.yaml"),
        format!("runners:\n  allow:\n{entry}"),
    )
    .unwrap();
}

fn check(dir: &Path, root: &Path, env: &str) -> common::Run {
    run(cmd("slipway", dir)
        .args([
            "runner", "check", "--env", env, "--step", "promote", "--root",
        ])
        .arg(root))
}

#[test]
fn k_of_n_survives_a_swapped_nic_and_environments_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    tree(&a, UUID, MAC, "52:54:00:ab:cd:ef");
    let fa = fingerprint(dir.path(), Some(&a));
    let c = &fa["components"];
    let four = ["dmi.product_uuid", "machine_id", "nic.eth0", "nic.eth1"]
        .map(|k| format!("        - {}\n", c[k].as_str().unwrap()))
        .concat();
    policy(
        dir.path(),
        &format!(
            "    - name: build-01\n      components:\n{four}      min_match: 3\n      environments: [production]\n"
        ),
    );
    let r = check(dir.path(), &a, "production");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("allowed by build-01"), "{}", r.stdout);

    // One NIC swapped: 3 of 4 still match.
    let swapped = dir.path().join("swapped");
    tree(&swapped, UUID, "52:54:00:99:99:99", "52:54:00:ab:cd:ef");
    let r = check(dir.path(), &swapped, "production");
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Both NICs swapped: 2 of 4 is not enough.
    let both = dir.path().join("both");
    tree(&both, UUID, "52:54:00:99:99:99", "52:54:00:88:88:88");
    let r = check(dir.path(), &both, "production");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("runner not allowed") && r.stderr.contains("2 of 4"),
        "{}",
        r.stderr
    );

    // The right machine, the wrong environment.
    let r = check(dir.path(), &a, "staging");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("environment staging"), "{}", r.stderr);

    // Fail closed: an unreadable policy denies (the config error exits 2, nothing runs).
    std::fs::write(
        dir.path().join("slipway.yaml"),
        "runners:\n  allow: [oops\n",
    )
    .unwrap();
    let r = check(dir.path(), &a, "production");
    assert_ne!(r.code, 0);
    let state = std::fs::read_to_string(dir.path().join(".slipway/state.json")).unwrap_or_default();
    for raw in [UUID, SERIAL, MACHINE_ID, MAC] {
        assert!(!state.contains(raw), "{raw} in the state");
    }
}

#[test]
fn sign_and_push_refuse_on_a_machine_the_policy_does_not_list_and_proceed_when_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join(".gitignore"), ".slipway/\n").unwrap();
    std::fs::write(p.join("app-linux-amd64"), b"#!/bin/sh\necho hi\n").unwrap();
    let r = run(cmd("slipway-build", p).args([
        "--name",
        "app",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        "linux/amd64",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(cmd("slipway", p)
        .env("SLIPWAY_PASSWORD", "pw")
        .args(["sign", "generate-key-pair"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let machine = p.join("machine");
    tree(&machine, UUID, MAC, "52:54:00:ab:cd:ef");
    let reg = slipway_test::Registry::plain();
    let repo = format!("{}/bound/app", reg.host());
    let step = |bin: &str, args: &[&str]| {
        run(cmd(bin, p)
            .env("SLIPWAY_PASSWORD", "pw")
            .env("SLIPWAY_FINGERPRINT_ROOT", &machine)
            .args(args))
    };

    policy(
        p,
        "    - name: someone-else\n      fingerprint: sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let r = step("slipway-sign", &["--key", "cosign.key"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("runner not allowed"), "{}", r.stderr);
    let index = std::fs::read_to_string(p.join(".slipway/oci/index.json")).unwrap();
    assert!(!index.contains(".sig"), "nothing signed: {index}");
    let r = step(
        "slipway-push",
        &["--to", &repo, "--insecure-registry", &reg.host()],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("runner not allowed"));
    let tags = std::process::Command::new(slipway_test::tool("skopeo"))
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{repo}"))
        .output()
        .unwrap();
    assert!(
        !tags.status.success(),
        "the registry has nothing: {}",
        String::from_utf8_lossy(&tags.stdout)
    );

    let fp = fingerprint(p, Some(&machine));
    policy(
        p,
        &format!(
            "    - name: build-01\n      fingerprint: {}\n",
            fp["fingerprint"].as_str().unwrap()
        ),
    );
    let r = step("slipway-sign", &["--key", "cosign.key"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = step(
        "slipway-push",
        &["--to", &repo, "--insecure-registry", &reg.host()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = StateFile::new(p.join(".slipway/state.json"))
        .read_required()
        .unwrap();
    let last = state.runners.last().unwrap();
    assert_eq!(
        last.fingerprint.to_string(),
        fp["fingerprint"].as_str().unwrap()
    );
    assert_eq!(last.allowed, Some(true));
    assert!(state.runners.iter().any(|r| r.allowed == Some(false)));
    // The SLSA provenance of the signed image names the runner's fingerprint.
    let layout = p.join(".slipway/oci");
    let found = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .filter_map(|e| std::fs::read(e.unwrap().path()).ok())
        .any(|b| {
            let text = String::from_utf8_lossy(&b);
            text.contains("payloadType") && {
                let v: Value = serde_json::from_slice(&b).unwrap_or_default();
                v["payload"].as_str().is_some_and(|pl| {
                    use base64::Engine as _;
                    let st = base64::engine::general_purpose::STANDARD
                        .decode(pl)
                        .unwrap_or_default();
                    String::from_utf8_lossy(&st).contains(fp["fingerprint"].as_str().unwrap())
                })
            }
        });
    assert!(found, "the provenance records the fingerprint");
}

const PAT: &str = "github_pat_11ABCDEFG0123456789_testtokenvalue";

fn bootstrap(
    dir: &Path,
    api: &slipway_test::GithubApi,
    token: Option<&str>,
) -> std::process::Command {
    let mut c = cmd("slipway", dir);
    c.args(["runner", "bootstrap", "--api-url", &api.url()]);
    if let Some(t) = token {
        c.env("SLIPWAY_GITHUB_TOKEN", t);
    }
    c
}

fn assert_no_secret(r: &common::Run, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !r.stdout.contains(s) && !r.stderr.contains(s),
            "secret {s} printed:\n{}\n{}",
            r.stdout,
            r.stderr
        );
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn bootstrap_requests_a_registration_token_and_writes_the_runner_setup_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("machine");
    tree(&root, UUID, MAC, "52:54:00:ab:cd:ef");
    let fp = fingerprint(dir.path(), Some(&root));
    let short = fp["short"].as_str().unwrap().to_owned();
    let api = slipway_test::GithubApi::start(PAT, &["acme"]);

    let r = run(bootstrap(dir.path(), &api, Some(PAT))
        .args(["--repo", "acme/app", "--label", "gpu,fast", "--server-url"])
        .arg("https://github.com")
        .arg("--root")
        .arg(&root));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let reg = api.registration_token();
    assert_no_secret(&r, &[PAT, &reg]);

    // The right endpoint, auth header, GitHub's media type and API version; no body.
    let reqs = api.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let q = &reqs[0];
    assert_eq!(q.method, "POST");
    assert_eq!(q.path, "/repos/acme/app/actions/runners/registration-token");
    assert_eq!(
        q.header("authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );
    assert_eq!(q.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(q.header("x-github-api-version"), Some("2022-11-28"));
    assert!(q.json().is_null(), "unexpected body {:?}", q.json());

    // The token is in the environment file (0600) only.
    let out = dir.path().join(".slipway/runner");
    let env = std::fs::read_to_string(out.join("actions-runner.env")).unwrap();
    assert_eq!(env, format!("ACTIONS_RUNNER_INPUT_TOKEN={reg}\n"));
    #[cfg(unix)]
    assert_eq!(mode(&out.join("actions-runner.env")), 0o600);
    let script = std::fs::read_to_string(out.join("configure.sh")).unwrap();
    assert!(!script.contains(&reg), "{script}");
    let labels = format!("slipway,slipway-fp-{short},gpu,fast");
    assert!(
        r.stdout.contains(&format!("slipway-fp-{short}")),
        "{}",
        r.stdout
    );

    // Run the configuration script against a stand-in config.sh that records what it got: the
    // URL, name and labels as arguments, the token only through the environment.
    let runner_dir = dir.path().join("actions-runner");
    std::fs::create_dir_all(&runner_dir).unwrap();
    std::fs::write(
        runner_dir.join("config.sh"),
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > args.txt\nprintf '%s' \"$ACTIONS_RUNNER_INPUT_TOKEN\" > token.txt\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            runner_dir.join("config.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let script = script.replace("/opt/actions-runner", runner_dir.to_str().unwrap());
    let script_path = dir.path().join("configure-local.sh");
    std::fs::write(&script_path, script).unwrap();
    let env_copy = dir.path().join("runner.env");
    std::fs::copy(out.join("actions-runner.env"), &env_copy).unwrap();
    let st = std::process::Command::new("sh")
        .arg(&script_path)
        .env("SLIPWAY_RUNNER_ENV", &env_copy)
        .status()
        .unwrap();
    assert!(st.success());
    let args = std::fs::read_to_string(runner_dir.join("args.txt")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(
        args,
        [
            "--unattended",
            "--replace",
            "--url",
            "https://github.com/acme/app",
            "--name",
            &format!("runner-{short}"),
            "--labels",
            &labels,
            "--work",
            "_work"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(runner_dir.join("token.txt")).unwrap(),
        reg
    );
    // The spent token is removed from the environment file.
    assert!(!std::fs::read_to_string(&env_copy).unwrap().contains(&reg));

    let unit = std::fs::read_to_string(out.join("slipway-actions-runner.service")).unwrap();
    for line in [
        "User=runner",
        "WorkingDirectory=/opt/actions-runner",
        "EnvironmentFile=/etc/slipway/actions-runner.env",
        "ExecStart=/opt/actions-runner/run.sh",
        "Restart=always",
        "WantedBy=multi-user.target",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "unit lacks {line}:\n{unit}"
        );
    }

    // The allowlist entry it prints admits this machine.
    let entry = std::fs::read_to_string(out.join("allowlist.yaml")).unwrap();
    assert!(
        entry.contains(fp["fingerprint"].as_str().unwrap()),
        "{entry}"
    );
    assert!(r.stdout.contains(entry.trim_end()), "{}", r.stdout);
    std::fs::write(dir.path().join("slipway.yaml"), &entry).unwrap();
    let c = check(dir.path(), &root, "production");
    assert_eq!(c.code, 0, "{}", c.stderr);
    let other = dir.path().join("other");
    tree(
        &other,
        "11111111-2222-3333-4444-555555555555",
        "52:54:00:00:00:01",
        "52:54:00:00:00:02",
    );
    std::fs::write(
        other.join("etc/machine-id"),
        "ffffffffffffffffffffffffffffffff\n",
    )
    .unwrap();
    std::fs::write(other.join("sys/class/dmi/id/board_serial"), "OTHER\n").unwrap();
    let c = check(dir.path(), &other, "production");
    assert_eq!(c.code, 1, "{}", c.stderr);
}

#[test]
fn bootstrap_jit_for_an_organisation_sends_name_group_labels_and_work_folder() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("machine");
    tree(&root, UUID, MAC, "52:54:00:ab:cd:ef");
    let short = fingerprint(dir.path(), Some(&root))["short"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = slipway_test::GithubApi::start(PAT, &["acme"]);
    let mut c = bootstrap(dir.path(), &api, None);
    // GH_TOKEN is read when SLIPWAY_GITHUB_TOKEN is absent.
    c.env("GH_TOKEN", PAT)
        .args([
            "--output-format",
            "json",
            "--org",
            "acme",
            "--jit",
            "--name",
            "build-01",
            "--runner-group-id",
            "7",
            "--label",
            "gpu",
            "--out",
            "jit",
        ])
        .arg("--root")
        .arg(&root);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let jit = api.encoded_jit_config();
    assert_no_secret(&r, &[PAT, &jit]);

    let reqs = api.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].path,
        "/orgs/acme/actions/runners/generate-jitconfig"
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );
    let body = reqs[0].json();
    assert_eq!(body["name"], "build-01");
    assert_eq!(body["runner_group_id"], 7);
    assert_eq!(body["work_folder"], "_work");
    let fp_label = format!("slipway-fp-{short}");
    let labels: Vec<&str> = body["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(&labels[..1], ["self-hosted"]);
    assert!(
        labels.contains(&"slipway")
            && labels.contains(&fp_label.as_str())
            && labels.contains(&"gpu"),
        "{labels:?}"
    );

    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["mode"], "jit");
    assert_eq!(out["runner_id"], 23);
    assert_eq!(out["scope"], "acme");
    assert!(
        out["labels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == fp_label.as_str())
    );
    let env = std::fs::read_to_string(dir.path().join("jit/actions-runner.env")).unwrap();
    assert_eq!(env, format!("ACTIONS_RUNNER_INPUT_JITCONFIG={jit}\n"));
    assert!(
        !dir.path().join("jit/configure.sh").exists(),
        "a JIT runner needs no config.sh"
    );
    let unit =
        std::fs::read_to_string(dir.path().join("jit/slipway-actions-runner.service")).unwrap();
    assert!(unit.contains("Restart=no"), "{unit}");

    // systemd itself accepts the unit (every key known, paths absolute, the binary there) when
    // the runner directory, user and environment file exist.
    let runner_dir = dir.path().join("actions-runner");
    std::fs::create_dir_all(&runner_dir).unwrap();
    std::fs::write(runner_dir.join("run.sh"), "#!/bin/sh\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            runner_dir.join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    let user = common::tool_ok("id", &["-un"]);
    let mut c = bootstrap(dir.path(), &api, Some(PAT));
    c.args([
        "--org",
        "acme",
        "--jit",
        "--out",
        "unit",
        "--user",
        user.trim(),
    ])
    .arg("--runner-dir")
    .arg(&runner_dir)
    .arg("--env-file")
    .arg(dir.path().join("unit/actions-runner.env"))
    .arg("--root")
    .arg(&root);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("unit/slipway-actions-runner.service"))
        .output()
        .expect("systemd-analyze (package systemd, scripts/test-deps.sh)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
    assert!(
        v.status.success() && text.trim().is_empty(),
        "systemd-analyze verify:\n{text}"
    );
}

#[test]
fn bootstrap_refuses_without_a_token_with_a_rejected_one_and_over_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let api = slipway_test::GithubApi::start(PAT, &["acme"]);

    let r = run(bootstrap(dir.path(), &api, None).args(["--repo", "acme/app"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("SLIPWAY_GITHUB_TOKEN"), "{}", r.stderr);
    assert!(api.requests().is_empty());

    let wrong = "ghp_wrongwrongwrongwrongwrongwrong0000";
    let r = run(bootstrap(dir.path(), &api, Some(wrong)).args(["--repo", "acme/app"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("401") && r.stderr.contains("Bad credentials"),
        "{}",
        r.stderr
    );
    assert_no_secret(&r, &[wrong, PAT]);

    let r = run(bootstrap(dir.path(), &api, Some(PAT)).args(["--repo", "nobody/app"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("404") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );

    let r = run(bootstrap(dir.path(), &api, Some(PAT)).args(["--repo", "acme"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--repo"), "{}", r.stderr);

    let r = run(cmd("slipway", dir.path())
        .env("SLIPWAY_GITHUB_TOKEN", PAT)
        .args([
            "runner",
            "bootstrap",
            "--repo",
            "acme/app",
            "--api-url",
            "http://api.example.com",
        ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--api-url"), "{}", r.stderr);
    assert_eq!(
        api.requests().len(),
        2,
        "only the two requests above reached the server"
    );
    assert!(
        !dir.path().join(".slipway/runner").exists(),
        "a failed bootstrap wrote files"
    );
}
