//! Matrix fan-in: per-platform builds in separate clones, their `.slipway/` directories brought
//! together and merged with `slipway state merge --assemble`, give the index one multi-platform
//! build gives; the result signs recursively and pushes as a two-manifest index.

mod common;

use std::path::Path;
use std::process::Command;

use common::{cmd, run};
use serde_json::Value;
use slipway_state::StateFile;

const EPOCH: &str = "1700000000";

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

/// A repository with a prebuilt binary per platform.
fn source(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "."]);
    std::fs::write(dir.join("app-linux-amd64"), b"#!/bin/sh\necho amd64\n").unwrap();
    std::fs::write(dir.join("app-linux-arm64"), b"#!/bin/sh\necho arm64\n").unwrap();
    std::fs::write(dir.join(".gitignore"), ".slipway/\n").unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "init"]);
}

/// A fresh clone of `src` at `dir`, built for `platforms` with the run's SOURCE_DATE_EPOCH.
fn build(src: &Path, dir: &Path, platforms: &str, epoch: &str) -> String {
    let ok = Command::new("git")
        .args(["clone", "-q"])
        .arg(src)
        .arg(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let r = run(cmd("slipway-build", dir)
        .env("SOURCE_DATE_EPOCH", epoch)
        .args([
            "--name",
            "app",
            "--binary",
            "app-{os}-{arch}",
            "--platform",
            platforms,
        ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    index_digest(&dir.join(".slipway/state.json"))
}

fn index_digest(state: &Path) -> String {
    let s = StateFile::new(state).read_required().unwrap();
    s.images["app"].index.as_ref().unwrap().digest.to_string()
}

/// What `actions/upload-artifact` + `download-artifact` do with a job's `.slipway/`: the same
/// files under another directory.
fn download(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from.join(".slipway/."))
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn merged_single_platform_builds_assemble_the_index_of_one_multi_platform_build() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    source(&src);
    let amd64 = build(&src, &d.join("job-amd64"), "linux/amd64", EPOCH);
    let arm64 = build(&src, &d.join("job-arm64"), "linux/arm64", EPOCH);
    let both = build(&src, &d.join("one"), "linux/amd64,linux/arm64", EPOCH);
    assert!(
        amd64 != both && arm64 != both,
        "single-platform indexes differ"
    );

    // The fan-in job: a fresh clone with each job's .slipway/ downloaded next to it.
    let fan = d.join("fan-in");
    let ok = Command::new("git")
        .args(["clone", "-q"])
        .arg(&src)
        .arg(&fan)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    download(&d.join("job-amd64"), &fan.join("states/state-linux-amd64"));
    download(&d.join("job-arm64"), &fan.join("states/state-linux-arm64"));

    // Without --assemble the index is dropped, and the layout it points at is not there.
    let r = run(cmd("slipway", &fan).args([
        "state",
        "merge",
        "states/state-linux-amd64/state.json",
        "states/state-linux-arm64/state.json",
        "-o",
        "plain.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("partial indexes") && r.stderr.contains("--assemble"),
        "{}",
        r.stderr
    );
    // As docs/state-file.md says: every platform, no index, and each platform still pointing at
    // the layout of the job that built it.
    let plain = StateFile::new(fan.join("plain.json"))
        .read_required()
        .unwrap();
    let app = &plain.images["app"];
    assert!(app.index.is_none(), "{:?}", app.index);
    assert_eq!(app.platforms.len(), 2, "{:?}", app.platforms.keys());
    for job in ["state-linux-amd64", "state-linux-arm64"] {
        let input = StateFile::new(fan.join("states").join(job).join("state.json"))
            .read_required()
            .unwrap();
        let img = &input.images["app"];
        for (platform, p) in &img.platforms {
            let want = p.layout.clone().or_else(|| img.layout.clone());
            assert!(want.is_some(), "{job} records no layout for {platform}");
            let got = &app.platforms[platform];
            assert_eq!(got.manifest.digest, p.manifest.digest, "{platform}");
            assert_eq!(
                got.layout.clone().or_else(|| app.layout.clone()),
                want,
                "{platform}: the layout of {job}"
            );
        }
    }

    let r = run(cmd("slipway", &fan).args([
        "--output-format",
        "json",
        "state",
        "merge",
        "--assemble",
        "states/state-linux-amd64/state.json",
        "states/state-linux-arm64/state.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["images"]["app"]["index"], both.as_str());
    // The notes say what was assembled, not that there is no index.
    let notes = out["notes"].as_array().unwrap();
    assert!(
        notes.len() == 1
            && notes[0]
                .as_str()
                .unwrap()
                .contains("over 2 platform(s) assembled in .slipway/oci"),
        "{notes:?}"
    );
    assert!(!r.stderr.contains("no index until"), "{}", r.stderr);
    let state = fan.join(".slipway/state.json");
    assert_eq!(index_digest(&state), both);
    let s = StateFile::new(&state).read_required().unwrap();
    assert_eq!(s.images["app"].layout.as_deref(), Some(".slipway/oci"));
    assert!(
        s.images["app"]
            .platforms
            .values()
            .all(|p| p.layout.is_none())
    );
    // The layout holds the same index as the multi-platform build's, byte for byte, and umoci
    // (which reads layouts on its own) finds both platform manifests in it.
    let blob = |root: &Path, digest: &str| {
        std::fs::read(
            root.join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    assert_eq!(
        blob(&fan.join(".slipway/oci"), &both),
        blob(&d.join("one/.slipway/oci"), &both)
    );
    for platform in ["linux-amd64", "linux-arm64"] {
        let st = Command::new(slipway_test::tool("umoci"))
            .args(["stat", "--image"])
            .arg(format!(
                "{}:app.{platform}",
                fan.join(".slipway/oci").display()
            ))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    // Signing recursively and pushing the merged image work; the registry has the index.
    let r = run(cmd("slipway", &fan)
        .env("SLIPWAY_PASSWORD", "pw")
        .args(["sign", "generate-key-pair"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(cmd("slipway-sign", &fan)
        .env("SLIPWAY_PASSWORD", "pw")
        .args(["--key", "cosign.key", "--recursive"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reg = slipway_test::Registry::plain();
    let repo = format!("{}/matrix/app", reg.host());
    let r = run(cmd("slipway-push", &fan).args([
        "--to",
        &repo,
        "--insecure-registry",
        &reg.host(),
        "-t",
        "v1",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let raw = Command::new(slipway_test::tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{repo}:v1"))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(slipway_test::sha256_digest(&raw.stdout), both);
    let index: Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let plats: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
    // Each platform's signature went along (sign --recursive).
    for m in index["manifests"].as_array().unwrap() {
        let tag = m["digest"].as_str().unwrap().replace(':', "-") + ".sig";
        let sig = Command::new(slipway_test::tool("skopeo"))
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{repo}:{tag}"))
            .output()
            .unwrap();
        assert!(
            sig.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&sig.stderr)
        );
    }
}

#[test]
fn assembling_refuses_builds_of_different_runs_and_missing_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    source(&src);
    build(&src, &d.join("job-amd64"), "linux/amd64", EPOCH);
    build(&src, &d.join("job-arm64"), "linux/arm64", "1700000999");
    let fan = d.join("fan-in");
    download(&d.join("job-amd64"), &fan.join("a"));
    download(&d.join("job-arm64"), &fan.join("b"));
    let r = run(cmd("slipway", &fan).args([
        "state",
        "merge",
        "--assemble",
        "a/state.json",
        "b/state.json",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("different annotations")
            && r.stderr.contains("org.opencontainers.image.created"),
        "{}",
        r.stderr
    );
    let nothing = |dir: &Path| {
        // The failure is logged in the state's steps; no image, no layout.
        let s = StateFile::new(dir.join(".slipway/state.json"))
            .read_required()
            .unwrap();
        assert!(s.images.is_empty(), "{:?}", s.images);
        assert!(!dir.join(".slipway/oci").exists());
    };
    nothing(&fan);

    // Only the state downloaded, not the layout: named, with the fix.
    let lone = d.join("lone");
    std::fs::create_dir_all(lone.join("a")).unwrap();
    std::fs::copy(
        d.join("job-amd64/.slipway/state.json"),
        lone.join("a/state.json"),
    )
    .unwrap();
    let r = run(cmd("slipway", &lone).args(["state", "merge", "--assemble", "a/state.json"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("is in no layout next to it") && r.stderr.contains("whole .slipway/"),
        "{}",
        r.stderr
    );
    nothing(&lone);
}

/// The names and blobs of a layout: what a failed assembly must leave as it was.
fn layout_snapshot(root: &Path) -> (Vec<u8>, Vec<String>) {
    let mut blobs: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    blobs.sort();
    (std::fs::read(root.join("index.json")).unwrap(), blobs)
}

/// Regression: when the platforms assembled to another index than the inputs' one, the blobs and
/// names had already been written into the layout before the exit 2.
#[test]
fn an_assembly_that_does_not_give_the_inputs_index_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    source(&src);
    build(&src, &d.join("job"), "linux/amd64,linux/arm64", EPOCH);
    // An input whose index has two platforms but whose state lists one: assembling gives a
    // one-platform index, not the recorded one.
    let tamper = |fan: &Path| {
        download(&d.join("job"), &fan.join("bad"));
        let path = fan.join("bad/state.json");
        let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let plats = v["images"]["app"]["platforms"].as_object_mut().unwrap();
        assert!(plats.remove("linux/arm64").is_some(), "{plats:?}");
        std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    };
    let refused = |fan: &Path, out: &str| {
        let r = run(cmd("slipway", fan).args([
            "state",
            "merge",
            "--assemble",
            "bad/state.json",
            "-o",
            out,
        ]));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("the inputs' index is")
                && r.stderr.contains("but the platforms assemble to"),
            "{}",
            r.stderr
        );
        let s = StateFile::new(fan.join(out)).read_required().unwrap();
        assert!(s.images.is_empty(), "{:?}", s.images);
    };

    // No layout before: none after.
    let fan = d.join("fresh");
    tamper(&fan);
    refused(&fan, ".slipway/state.json");
    assert!(
        !fan.join(".slipway/oci").exists(),
        "a layout was left behind"
    );

    // A layout there before (from a good assembly): its names and blobs are untouched.
    let fan = d.join("existing");
    download(&d.join("job"), &fan.join("good"));
    let r = run(cmd("slipway", &fan).args(["state", "merge", "--assemble", "good/state.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let layout = fan.join(".slipway/oci");
    let before = layout_snapshot(&layout);
    tamper(&fan);
    refused(&fan, "bad.json");
    assert!(layout_snapshot(&layout) == before, "the layout changed");

    // Assembling fewer platforms into that layout names them as slipway-build does: no
    // `app.linux-arm64` is left over from the earlier index.
    let amd64 = build(&src, &d.join("job-amd64"), "linux/amd64", EPOCH);
    download(&d.join("job-amd64"), &fan.join("amd64"));
    let r = run(cmd("slipway", &fan).args([
        "state",
        "merge",
        "--assemble",
        "amd64/state.json",
        "-o",
        "amd64.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let names: Vec<(&str, &str)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap_or(""),
                m["digest"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(names.contains(&("app", amd64.as_str())), "{names:?}");
    assert!(
        names.iter().any(|(n, _)| *n == "app.linux-amd64"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|(n, _)| *n == "app.linux-arm64"),
        "{names:?}"
    );
}
