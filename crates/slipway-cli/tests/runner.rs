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
