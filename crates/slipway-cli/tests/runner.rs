//! Runner binding: fingerprints of this machine and of captured trees, the allowlist check
//! (k of n, the CPU never counting, machines that identify nothing), the policy failing closed
//! (present but empty, unreadable, invalid), sign / push / promote refusing on a machine the
//! policy does not list — with the registry and the layout checked unchanged — and proceeding
//! when it does, the verdict in the provenance, and no raw serial anywhere.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{cmd, run};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use slipway_state::StateFile;

const UUID: &str = "4C4C4544-0042-3510-8052-B7C04F4E3132";
const SERIAL: &str = "CN7016345J00MX";
const MACHINE_ID: &str = "0f8d3c1e6b2a4e9f8c7d6e5f4a3b2c1d";
const MAC: &str = "52:54:00:12:34:56";
// Upper case, as some drivers print it: the fingerprint lower-cases, the leak check looks for both.
const MAC2: &str = "52:54:00:AB:CD:EF";
const DISK_SERIAL: &str = "S4EWNX0R812345K";
// A second disk that sorts first (nvme0n1 < sda) but does not hold `/`.
const OTHER_DISK_SERIAL: &str = "WD-WCC4N7HJ2345";
const TPM_MODULUS: [u8; 24] = [
    0xB4, 0x76, 0x41, 0x82, 0xC9, 0x20, 0x2C, 0x10, 0x18, 0x40, 0xBC, 0x8B, 0xE5, 0x44, 0x4C, 0x6C,
    0x3A, 0xB2, 0x92, 0x0C, 0xA4, 0x9B, 0x2A, 0x83,
];
const CPU: &str = "Test CPU 3000";

/// Every raw value of the test machine, in each form it could leak in: as read, lower and upper
/// case, MACs without colons, the TPM key as the kernel prints it and as plain hex.
fn raw_values() -> Vec<String> {
    let mut v = Vec::new();
    for s in [
        UUID,
        SERIAL,
        MACHINE_ID,
        DISK_SERIAL,
        OTHER_DISK_SERIAL,
        CPU,
    ] {
        v.push(s.to_owned());
        v.push(s.to_ascii_lowercase());
        v.push(s.to_ascii_uppercase());
    }
    v.push(UUID.replace('-', "").to_ascii_lowercase());
    for m in [MAC, MAC2] {
        for form in [m.to_owned(), m.replace(':', ""), m.replace(':', "-")] {
            v.push(form.to_ascii_lowercase());
            v.push(form.to_ascii_uppercase());
        }
    }
    let spaced: Vec<String> = TPM_MODULUS.iter().map(|b| format!("{b:02X}")).collect();
    v.push(spaced.join(" "));
    v.push(spaced.join(""));
    v.push(spaced.join("").to_ascii_lowercase());
    v.push(spaced[..8].join(" ").to_ascii_lowercase());
    v.sort();
    v.dedup();
    v
}

fn assert_no_raw(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for raw in raw_values() {
        assert!(!text.contains(&raw), "raw value {raw} in {what}");
    }
}

/// Every file under `dir` (gzip blobs decompressed by gzip itself), checked for raw values.
fn assert_no_raw_in_tree(dir: &Path) -> usize {
    let mut n = 0;
    for (rel, _) in snapshot(dir) {
        let p = dir.join(&rel);
        if !p.is_file() {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        assert_no_raw(&p.display().to_string(), &bytes);
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let out = Command::new("gzip").arg("-dc").arg(&p).output().unwrap();
            assert!(out.status.success(), "gzip -dc {}", p.display());
            assert_no_raw(&format!("{} (decompressed)", p.display()), &out.stdout);
        }
        n += 1;
    }
    n
}

/// Every file and directory under `dir`, with the sha256 of each file's content.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(rel, "dir".into());
                stack.push(p);
            } else {
                let h = Sha256::digest(std::fs::read(&p).unwrap());
                out.insert(rel, h.iter().map(|b| format!("{b:02x}")).collect());
            }
        }
    }
    out
}

fn w(root: &Path, p: &str, v: &str) {
    let f = root.join(p);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, format!("{v}\n")).unwrap();
}

/// A captured sysfs/etc/proc tree of a machine: DMI, machine-id, two physical NICs (and two
/// virtual ones), the CPU, `/` on the second partition of sda (nvme0n1 sorts first and is
/// another disk), a TPM 1.2 with its public endorsement key.
fn tree(root: &Path, uuid: &str, mac: &str, mac2: &str) {
    let w = |p: &str, v: &str| w(root, p, v);
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
        &format!("processor\t: 0\nmodel name\t: {CPU}\nprocessor\t: 1\nmodel name\t: {CPU}"),
    );
    w(
        "proc/self/mountinfo",
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n27 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw",
    );
    w("sys/block/nvme0n1/dev", "259:0");
    w("sys/block/nvme0n1/device/serial", OTHER_DISK_SERIAL);
    w("sys/block/sda/dev", "8:0");
    w("sys/block/sda/device/serial", DISK_SERIAL);
    w("sys/block/sda/sda1/dev", "8:1");
    w("sys/block/sda/sda1/partition", "1");
    w("sys/block/sda/sda2/dev", "8:2");
    w("sys/block/sda/sda2/partition", "2");
    w("sys/class/tpm/tpm0/tpm_version_major", "1");
    let modulus: Vec<String> = TPM_MODULUS.iter().map(|b| format!("{b:02X} ")).collect();
    w(
        "sys/class/tpm/tpm0/device/pubek",
        &format!(
            "Algorithm: 00 00 00 01\nEncscheme: 00 03\nSigscheme: 00 01\nModulus length: 24\nModulus:\n{}\n{}",
            modulus[..16].concat(),
            modulus[16..].concat()
        ),
    );
}

/// `slipway runner fingerprint`, human and JSON: neither shows a raw value; returns the JSON.
fn fingerprint(dir: &Path, root: Option<&Path>) -> Value {
    let go = |json: bool| {
        let mut c = cmd("slipway", dir);
        if json {
            c.args(["--output-format", "json"]);
        }
        c.args(["runner", "fingerprint"]);
        if let Some(r) = root {
            c.arg("--root").arg(r);
        }
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_no_raw(
            "fingerprint output",
            format!("{}{}", r.stdout, r.stderr).as_bytes(),
        );
        r
    };
    let human = go(false);
    let v: Value = serde_json::from_str(&go(true).stdout).unwrap();
    assert!(
        human.stdout.starts_with(&format!(
            "fingerprint {}\n",
            v["fingerprint"].as_str().unwrap()
        )),
        "{}",
        human.stdout
    );
    v
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
    tree(&a, UUID, MAC, MAC2);
    let fa = fingerprint(dir.path(), Some(&a));
    assert_eq!(fingerprint(dir.path(), Some(&a)), fa);
    let names: Vec<&String> = fa["components"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "cpu",
            "disk.root",
            "dmi.board_serial",
            "dmi.product_uuid",
            "machine_id",
            "nic.eth0",
            "nic.eth1",
            "tpm.ek"
        ]
    );
    assert_eq!(fa["notes"]["disk.root"], "the disk holding / is sda");
    // The same machine captured elsewhere: same id.
    let copy = dir.path().join("copy");
    tree(&copy, UUID, MAC, MAC2);
    assert_eq!(
        fingerprint(dir.path(), Some(&copy))["fingerprint"],
        fa["fingerprint"]
    );
    // Another DMI UUID: another id.
    let b = dir.path().join("b");
    tree(&b, "4C4C4544-0042-3510-8052-000000000000", MAC, MAC2);
    assert_ne!(
        fingerprint(dir.path(), Some(&b))["fingerprint"],
        fa["fingerprint"]
    );
    // The root disk is the one holding /: another serial on the other disk changes nothing,
    // on sda it changes disk.root.
    w(&copy, "sys/block/nvme0n1/device/serial", "ANOTHER-NVME");
    assert_eq!(
        fingerprint(dir.path(), Some(&copy))["components"],
        fa["components"]
    );
    w(&copy, "sys/block/sda/device/serial", "ANOTHER-SDA");
    let changed = fingerprint(dir.path(), Some(&copy));
    assert_ne!(
        changed["components"]["disk.root"],
        fa["components"]["disk.root"]
    );
    assert_eq!(changed["components"]["tpm.ek"], fa["components"]["tpm.ek"]);
    // A TPM 2.0 is reported as present, its EK as not read.
    let t2 = dir.path().join("tpm2");
    tree(&t2, UUID, MAC, MAC2);
    std::fs::remove_file(t2.join("sys/class/tpm/tpm0/device/pubek")).unwrap();
    w(&t2, "sys/class/tpm/tpm0/tpm_version_major", "2");
    let f2 = fingerprint(dir.path(), Some(&t2));
    assert!(
        f2["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "tpm.ek")
    );
    assert!(
        f2["notes"]["tpm.ek"]
            .as_str()
            .unwrap()
            .starts_with("TPM 2.0 present"),
        "{f2}"
    );
}

/// `bin args` as uid/gid 65534 with no supplementary groups, in `dir`.
fn unprivileged(bin: &str, dir: &Path, args: &[&std::ffi::OsStr]) -> common::Run {
    let path = cmd(bin, dir).get_program().to_owned();
    run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(path)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1"))
}

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn fingerprint_works_unprivileged_and_reports_root_only_components_missing() {
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let t = dir.path().join("machine");
    tree(&t, UUID, MAC, MAC2);
    // As on real machines: the DMI serials are root-only.
    chmod(&t.join("sys/class/dmi/id/board_serial"), 0o400);
    chmod(&t.join("sys/class/dmi/id/product_uuid"), 0o400);
    let r = unprivileged(
        "slipway",
        dir.path(),
        &[
            "--output-format".as_ref(),
            "json".as_ref(),
            "runner".as_ref(),
            "fingerprint".as_ref(),
            "--root".as_ref(),
            t.as_os_str(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_no_raw("unprivileged fingerprint", r.stdout.as_bytes());
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let missing: Vec<&str> = v["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(missing, ["dmi.product_uuid", "dmi.board_serial"]);
    assert!(
        v["notes"]["dmi.board_serial"]
            .as_str()
            .unwrap()
            .contains("not readable"),
        "{v}"
    );
    assert!(v["components"]["machine_id"].is_string() && v["components"]["disk.root"].is_string());
    // This machine, unprivileged: works, whatever it can read.
    let r = unprivileged(
        "slipway",
        dir.path(),
        &["runner".as_ref(), "fingerprint".as_ref()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
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
    tree(&a, UUID, MAC, MAC2);
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
    tree(&swapped, UUID, "52:54:00:99:99:99", MAC2);
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

    // A machine sharing only the CPU with an entry listing it: the CPU never counts.
    let cpu_entry = format!(
        "    - name: by-cpu\n      components:\n        - {}\n",
        c["cpu"].as_str().unwrap()
    );
    policy(dir.path(), &cpu_entry);
    let r = check(dir.path(), &both, "production");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cpu component never counts"),
        "{}",
        r.stderr
    );
}

#[test]
fn min_match_outside_one_to_n_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    tree(&a, UUID, MAC, MAC2);
    let fa = fingerprint(dir.path(), Some(&a));
    let two = ["machine_id", "nic.eth0"]
        .map(|k| format!("        - {}\n", fa["components"][k].as_str().unwrap()))
        .concat();
    for (k, needle) in [
        ("0", "outside 1..=2"),
        ("3", "outside 1..=2"),
        ("1", "at least 2"),
    ] {
        policy(
            dir.path(),
            &format!("    - name: build-01\n      components:\n{two}      min_match: {k}\n"),
        );
        // Any machine — even one matching nothing — would have passed `min_match: 0`.
        let other = dir.path().join("other");
        tree(
            &other,
            "11111111-2222-3333-4444-555555555555",
            "52:54:00:00:00:01",
            "52:54:00:00:00:02",
        );
        w(&other, "etc/machine-id", "ffffffffffffffffffffffffffffffff");
        for root in [&a, &other] {
            let r = check(dir.path(), root, "production");
            assert_eq!(r.code, 2, "min_match {k}: {}", r.stderr);
            assert!(
                r.stderr
                    .contains("slipway.yaml:7:1: field `runners.allow[0].min_match`")
                    && r.stderr.contains(needle),
                "{}",
                r.stderr
            );
        }
    }
}

#[test]
fn a_machine_whose_fingerprint_identifies_nothing_gets_no_entry_and_is_denied() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let cpu_only = dir.path().join("cpu-only");
    w(
        &cpu_only,
        "proc/cpuinfo",
        &format!("processor\t: 0\nmodel name\t: {CPU}"),
    );
    for (root, why) in [
        (&empty, "no component could be read"),
        (&cpu_only, "only the CPU model"),
    ] {
        for json in [false, true] {
            let mut c = cmd("slipway", dir.path());
            if json {
                c.args(["--output-format", "json"]);
            }
            let r = run(c.args(["runner", "fingerprint", "--root"]).arg(root));
            assert_eq!(r.code, 2, "{}", r.stderr);
            if json {
                // JSON mode reports the error as the document on stdout.
                let v: Value = serde_json::from_str(&r.stdout).unwrap();
                assert_eq!(v["error"]["exit_code"], 2);
                assert!(v.get("fingerprint").is_none(), "{v}");
            } else {
                assert!(r.stdout.is_empty(), "no entry printed: {}", r.stdout);
            }
            let text = format!("{}{}", r.stdout, r.stderr);
            assert!(
                text.contains("identifies nothing") && text.contains(why),
                "{text}"
            );
        }
    }
    // Denied by the check, even with an entry of its very id.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let cpu_id = {
        let mut h = Sha256::new();
        h.update(b"slipway-fp-v1\0cpu\0");
        h.update(format!("{CPU} x1").as_bytes());
        let c = format!("sha256:{}", hex(&h.finalize()));
        format!("sha256:{}", hex(&Sha256::digest(c.as_bytes())))
    };
    policy(
        dir.path(),
        &format!("    - name: vm\n      fingerprint: {cpu_id}\n"),
    );
    let r = check(dir.path(), &cpu_only, "production");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("runner not allowed: this machine's fingerprint identifies nothing"),
        "{}",
        r.stderr
    );
    // Bootstrap does not register it: nothing is sent, nothing written.
    let api = slipway_test::GithubApi::start(PAT, &["acme"]);
    let r = run(bootstrap(dir.path(), &api, Some(PAT))
        .args(["--repo", "acme/app", "--root"])
        .arg(&cpu_only));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("identifies nothing"), "{}", r.stderr);
    assert!(api.requests().is_empty());
    assert!(!dir.path().join(".slipway/runner").exists());
}

/// A project with a built single-platform image and a key pair.
fn built_project(p: &Path) {
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
}

#[test]
fn runners_present_but_empty_denies_and_a_config_that_cannot_be_read_stops_sign() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    built_project(p);
    let layout = p.join(".slipway/oci");
    let before = snapshot(&layout);
    let sign = || {
        run(cmd("slipway-sign", p)
            .env("SLIPWAY_PASSWORD", "pw")
            .args(["--key", "cosign.key"]))
    };
    // `runners:` with nothing under it is a policy that allows nothing, not "no policy".
    for text in ["runners:\n", "runners: null\n", "runners:\n  allow: []\n"] {
        std::fs::write(p.join("slipway.yaml"), text).unwrap();
        let r = sign();
        assert_eq!(r.code, 1, "{text:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("runner not allowed") && r.stderr.contains("empty"),
            "{}",
            r.stderr
        );
        assert_eq!(snapshot(&layout), before, "{text:?}: nothing signed");
    }
    // A slipway.yaml that exists but cannot be read stops the step (exit 2), naming the file.
    std::fs::remove_file(p.join("slipway.yaml")).unwrap();
    std::os::unix::fs::symlink(p.join("policy/gone.yaml"), p.join("slipway.yaml")).unwrap();
    let r = sign();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot read config file") && r.stderr.contains("slipway.yaml"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&layout), before);
    std::fs::remove_file(p.join("slipway.yaml")).unwrap();
    std::fs::create_dir(p.join("slipway.yaml")).unwrap();
    let r = sign();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot read config file"), "{}", r.stderr);
    std::fs::remove_dir(p.join("slipway.yaml")).unwrap();
    // Permission denied: as an unprivileged user (root reads anything), on a project it may
    // otherwise write to.
    std::fs::write(p.join("slipway.yaml"), "runners:\n  allow: []\n").unwrap();
    chmod(&p.join("slipway.yaml"), 0o600);
    let ok = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(p)
        .status()
        .unwrap();
    assert!(ok.success());
    std::os::unix::fs::chown(p.join("slipway.yaml"), Some(0), Some(0)).unwrap();
    let r = unprivileged(
        "slipway-sign",
        p,
        &["--key".as_ref(), "cosign.key".as_ref()],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot read config file") && r.stderr.contains("ermission denied"),
        "{}",
        r.stderr
    );
    assert_eq!(snapshot(&layout), before);
}

/// Runs a command and keeps its output for the leak check at the end.
fn logged(log: &mut Vec<u8>, c: &mut Command) -> common::Run {
    let r = run(c);
    log.extend_from_slice(r.stdout.as_bytes());
    log.extend_from_slice(r.stderr.as_bytes());
    r
}

fn skopeo(args: &[&str]) -> std::process::Output {
    Command::new(slipway_test::tool("skopeo"))
        .args(args)
        .output()
        .unwrap()
}

/// The in-toto statements of the attestations of `digest` in the layout.
fn statements(layout: &Path, digest: &str) -> Vec<Value> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let name = format!("{}.att", digest.replace(':', "-"));
    let blob = |d: &str| {
        std::fs::read(
            layout
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let Some(att) = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == name.as_str())
    else {
        return Vec::new();
    };
    let manifest: Value = serde_json::from_slice(&blob(att["digest"].as_str().unwrap())).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            use base64::Engine as _;
            let env: Value = serde_json::from_slice(&blob(l["digest"].as_str().unwrap())).unwrap();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(env["payload"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&payload).unwrap()
        })
        .collect()
}

#[test]
fn sign_push_and_promote_refuse_on_a_machine_the_policy_does_not_list_and_proceed_when_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    built_project(p);
    let mut log = Vec::new();
    let machine = p.join("machine");
    tree(&machine, UUID, MAC, MAC2);
    let reg = slipway_test::Registry::plain();
    let host = reg.host();
    let repo = format!("{host}/bound/app");
    let prod = format!("{host}/prod/app");
    let step = |log: &mut Vec<u8>, bin: &str, env: Option<&str>, args: &[&str]| {
        let mut c = cmd(bin, p);
        c.env("SLIPWAY_PASSWORD", "pw")
            .env("SLIPWAY_FINGERPRINT_ROOT", &machine)
            .args(args);
        if let Some(e) = env {
            c.env("SLIPWAY_ENVIRONMENT", e);
        }
        logged(log, &mut c)
    };
    let storage = reg.storage_dir();
    let layout = p.join(".slipway/oci");
    let unchanged = |before: &(BTreeMap<String, String>, BTreeMap<String, String>), what: &str| {
        assert_eq!(snapshot(&storage), before.0, "{what}: the registry changed");
        assert_eq!(snapshot(&layout), before.1, "{what}: the layout changed");
    };
    let push_args = ["--to", repo.as_str(), "--insecure-registry", host.as_str()];
    let promote_args = [
        "--target",
        prod.as_str(),
        "--insecure-registry",
        host.as_str(),
    ];
    let requirements = "promote:\n  require:\n    scan: false\n    signature: false\n";

    // Another machine's entry: every step refuses and changes nothing.
    std::fs::write(
        p.join("slipway.yaml"),
        format!("{requirements}runners:\n  allow:\n    - name: someone-else\n      fingerprint: sha256:{}\n", "0".repeat(64)),
    )
    .unwrap();
    let before = (snapshot(&storage), snapshot(&layout));
    for (bin, args) in [
        ("slipway-sign", &["--key", "cosign.key"][..]),
        ("slipway-push", &push_args[..]),
        ("slipway-promote", &promote_args[..]),
    ] {
        let r = step(&mut log, bin, Some("staging"), args);
        assert_eq!(r.code, 1, "{bin}: {}", r.stderr);
        assert!(
            r.stderr.contains("runner not allowed"),
            "{bin}: {}",
            r.stderr
        );
        unchanged(&before, bin);
    }

    // This machine, for staging only.
    let fp = fingerprint(p, Some(&machine));
    let fp_id = fp["fingerprint"].as_str().unwrap().to_owned();
    let allowed = format!(
        "{requirements}runners:\n  allow:\n    - name: build-01\n      fingerprint: {fp_id}\n      environments: [staging]\n"
    );
    std::fs::write(p.join("slipway.yaml"), &allowed).unwrap();
    let r = step(
        &mut log,
        "slipway-sign",
        Some("staging"),
        &["--key", "cosign.key"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The environment the push acts for (and tags) is the one checked, whatever
    // SLIPWAY_ENVIRONMENT says.
    let before = (snapshot(&storage), snapshot(&layout));
    let mut bypass = push_args.to_vec();
    bypass.extend(["--environment", "production"]);
    let r = step(&mut log, "slipway-push", Some("staging"), &bypass);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("runner not allowed") && r.stderr.contains("environment production"),
        "{}",
        r.stderr
    );
    unchanged(&before, "push --environment production");
    let r = step(&mut log, "slipway-push", Some("staging"), &push_args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = StateFile::new(p.join(".slipway/state.json"))
        .read_required()
        .unwrap();
    let pushed = state.pushes.last().unwrap().digest.to_string();
    let inspect = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repo}:staging"),
    ]);
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    assert_eq!(slipway_test::sha256_digest(&inspect.stdout), pushed);
    let last = state.runners.last().unwrap();
    assert_eq!(last.fingerprint.to_string(), fp_id);
    assert_eq!(
        (
            last.allowed,
            last.entry.as_deref(),
            last.environment.as_deref()
        ),
        (Some(true), Some("build-01"), Some("staging"))
    );
    assert!(state.runners.iter().any(|r| r.allowed == Some(false)));

    // The SLSA provenance of the signed image carries the fingerprint and this step's verdict.
    let stmts = statements(&layout, &pushed);
    let prov = stmts
        .iter()
        .find(|s| s["predicateType"] == "https://slsa.dev/provenance/v1")
        .expect("a provenance attestation");
    let internal = &prov["predicate"]["buildDefinition"]["internalParameters"];
    assert_eq!(internal["runnerFingerprint"], fp_id.as_str());
    assert_eq!(
        internal["runner"],
        serde_json::json!({"fingerprint": fp_id, "verdict": "allowed", "entry": "build-01", "environment": "staging"})
    );

    // Promote: allowed here (staging), it lands.
    let r = step(
        &mut log,
        "slipway-promote",
        Some("staging"),
        &[&promote_args[..], &["-t", "v1"]].concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let promoted = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{prod}:v1"),
    ]);
    assert!(
        promoted.status.success(),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    assert_eq!(slipway_test::sha256_digest(&promoted.stdout), pushed);
    // For production (not in the entry) promote and its rollback refuse, changing nothing.
    let before = (snapshot(&storage), snapshot(&layout));
    let r = step(
        &mut log,
        "slipway-promote",
        Some("production"),
        &[&promote_args[..], &["-t", "v2"]].concat(),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("runner not allowed"), "{}", r.stderr);
    unchanged(&before, "promote for production");
    let r = step(
        &mut log,
        "slipway-promote",
        Some("production"),
        &["--rollback", "--insecure-registry", host.as_str()],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("runner not allowed"), "{}", r.stderr);
    unchanged(&before, "promote --rollback for production");

    // No raw serial, UUID, MAC, disk serial or TPM key in any output, the state, the layout or
    // the registry.
    assert_no_raw("the outputs of every step", &log);
    assert!(
        assert_no_raw_in_tree(&p.join(".slipway")) > 10,
        "the state and the layout were read"
    );
    assert!(
        assert_no_raw_in_tree(&storage) > 10,
        "the registry storage was read"
    );
}

#[test]
fn a_broken_policy_stops_sign_and_push_with_exit_2_and_they_do_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    built_project(p);
    let reg = slipway_test::Registry::plain();
    let host = reg.host();
    std::fs::write(p.join("slipway.yaml"), "runners:\n  allow: [oops\n").unwrap();
    let storage = reg.storage_dir();
    let layout = p.join(".slipway/oci");
    let state = p.join(".slipway/state.json");
    let before = (
        snapshot(&storage),
        snapshot(&layout),
        std::fs::read(&state).unwrap(),
    );
    let push = vec![
        "--to".to_owned(),
        format!("{host}/bound/app"),
        "--insecure-registry".into(),
        host.clone(),
    ];
    let promote = vec![
        "--target".to_owned(),
        format!("{host}/prod/app"),
        "--insecure-registry".into(),
        host.clone(),
    ];
    let sign = vec!["--key".to_owned(), "cosign.key".into()];
    for (bin, args) in [
        ("slipway-sign", sign),
        ("slipway-push", push),
        ("slipway-promote", promote),
    ] {
        let r = run(cmd(bin, p).env("SLIPWAY_PASSWORD", "pw").args(&args));
        // docs/runners.md: an unreadable slipway.yaml stops every step with exit 2, naming the
        // file and the place.
        assert_eq!(r.code, 2, "{bin}: {}", r.stderr);
        assert!(r.stderr.contains("slipway.yaml:2:"), "{bin}: {}", r.stderr);
        assert_eq!(
            (
                snapshot(&storage),
                snapshot(&layout),
                std::fs::read(&state).unwrap()
            ),
            before,
            "{bin} changed something"
        );
    }
}

const PAT: &str = "github_pat_11ABCDEFG0123456789_testtokenvalue";

fn bootstrap(dir: &Path, api: &slipway_test::GithubApi, token: Option<&str>) -> Command {
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
    assert_no_raw(
        "bootstrap output",
        format!("{}{}", r.stdout, r.stderr).as_bytes(),
    );
    assert_eq!(
        assert_no_raw_in_tree(&dir.path().join(".slipway/runner")),
        4
    );

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
    let st = Command::new("sh")
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
    assert_no_raw(
        "bootstrap JSON output",
        format!("{}{}", r.stdout, r.stderr).as_bytes(),
    );
    assert_eq!(assert_no_raw_in_tree(&dir.path().join("jit")), 3);

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
    let v = Command::new("systemd-analyze")
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

#[test]
fn bootstrap_registers_with_an_organisation_and_jit_with_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("machine");
    tree(&root, UUID, MAC, MAC2);
    let short = fingerprint(dir.path(), Some(&root))["short"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = slipway_test::GithubApi::start(PAT, &["acme"]);

    // A registration token for the organisation: its endpoint, no body, config.sh pointed at
    // the organisation.
    let r = run(bootstrap(dir.path(), &api, Some(PAT))
        .args([
            "--org",
            "acme",
            "--server-url",
            "https://github.com",
            "--out",
            "org",
            "--root",
        ])
        .arg(&root));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reg = api.registration_token();
    assert_no_secret(&r, &[PAT, &reg]);
    assert_no_raw(
        "bootstrap --org output",
        format!("{}{}", r.stdout, r.stderr).as_bytes(),
    );
    let reqs = api.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].path.as_str()),
        ("POST", "/orgs/acme/actions/runners/registration-token")
    );
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer {PAT}").as_str())
    );
    assert_eq!(reqs[0].header("x-github-api-version"), Some("2022-11-28"));
    assert!(reqs[0].json().is_null());
    let script = std::fs::read_to_string(dir.path().join("org/configure.sh")).unwrap();
    assert!(
        script.contains("https://github.com/acme") && !script.contains("https://github.com/acme/"),
        "{script}"
    );
    assert!(script.contains(&format!("slipway-fp-{short}")), "{script}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("org/actions-runner.env")).unwrap(),
        format!("ACTIONS_RUNNER_INPUT_TOKEN={reg}\n")
    );

    // A JIT config for a repository: its endpoint and the documented body.
    let r = run(bootstrap(dir.path(), &api, Some(PAT))
        .args([
            "--output-format",
            "json",
            "--repo",
            "acme/app",
            "--jit",
            "--label",
            "arm",
            "--out",
            "repo-jit",
            "--root",
        ])
        .arg(&root));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let jit = api.encoded_jit_config();
    assert_no_secret(&r, &[PAT, &jit]);
    let reqs = api.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].path,
        "/repos/acme/app/actions/runners/generate-jitconfig"
    );
    let body = reqs[1].json();
    assert_eq!(body["name"], format!("runner-{short}"));
    assert_eq!(body["runner_group_id"], 1);
    assert_eq!(body["work_folder"], "_work");
    let labels: Vec<&str> = body["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    for l in [
        "self-hosted",
        "slipway",
        &format!("slipway-fp-{short}"),
        "arm",
    ] {
        assert!(labels.contains(&l), "{l} in {labels:?}");
    }
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        (out["mode"].as_str(), out["scope"].as_str()),
        (Some("jit"), Some("acme/app"))
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("repo-jit/actions-runner.env")).unwrap(),
        format!("ACTIONS_RUNNER_INPUT_JITCONFIG={jit}\n")
    );
    for d in ["org", "repo-jit"] {
        assert_no_raw_in_tree(&dir.path().join(d));
    }
}
