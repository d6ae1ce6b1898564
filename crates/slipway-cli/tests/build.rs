//! slipway-build as a user runs it, checked with independent tools: skopeo, umoci, Trivy, the
//! registry, readelf.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::{build_cmd, copy_example, output_ok, read_json, run, tool_ok};
use slipway_test::{Registry, check_jsonschema, sha256_digest, state_schema, tool};

fn index_digest(ex: &Path, image: &str) -> String {
    let state = read_json(&ex.join(".slipway/state.json"));
    state["images"][image]["index"]["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn umoci_unpack(layout: &Path, name: &str, bundle: &Path) {
    let out = Command::new(tool("umoci"))
        .args(["unpack", "--image"])
        .arg(format!("{}:{name}", layout.display()))
        .arg(bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn go_image_for_three_platforms_is_read_by_skopeo_umoci_trivy_and_a_registry() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = index_digest(&ex, "hello");
    assert_eq!(r.stdout, format!("hello {digest}\n"));
    let layout = ex.join(".slipway/oci");

    // skopeo sees an index with the three platforms, whose bytes hash to the recorded digest.
    let raw = tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:hello", layout.display()),
        ],
    );
    assert_eq!(sha256_digest(raw.as_bytes()), digest);
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let mut arches: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    arches.sort_unstable();
    assert_eq!(arches, ["amd64", "arm64", "ppc64le"]);
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );

    // umoci unpacks the amd64 image: the binary is where it should be, owned by 65532, and runs.
    let bundle = dir.path().join("bundle");
    umoci_unpack(&layout, "hello.linux-amd64", &bundle);
    let bin = bundle.join("rootfs/usr/local/bin/hello");
    let meta = std::fs::metadata(&bin).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65532, 65532));
    assert_eq!(meta.mode() & 0o777, 0o755);
    let out = Command::new(&bin).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello from Slipway!\nbuilt for linux/amd64\n"
    );
    // Outside git and CI the ldflags get version `dev` and no commit.
    let out = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello dev\n");
    let config: serde_json::Value = read_json(&bundle.join("config.json"));
    assert_eq!(config["process"]["user"]["uid"], 65532);

    // The state records what was built.
    let state = read_json(&ex.join(".slipway/state.json"));
    let amd64 = &state["images"]["hello"]["platforms"]["linux/amd64"];
    assert_eq!(state["images"]["hello"]["layout"], ".slipway/oci");
    assert_eq!(amd64["binaries"][0]["path"], "/usr/local/bin/hello");
    assert!(
        amd64["binaries"][0]["toolchain"]
            .as_str()
            .unwrap()
            .starts_with("go1.")
    );
    assert_eq!(
        amd64["binaries"][0]["sha256"],
        sha256_digest(&std::fs::read(&bin).unwrap())
    );
    assert_eq!(state["steps"][0]["step"], "build");
    // The independent JSON Schema validator accepts the state file a real build wrote.
    let (ok, out) = check_jsonschema(&state_schema(), &ex.join(".slipway/state.json"));
    assert!(ok, "check-jsonschema: {out}");

    // Trivy finds the Go module of the binary.
    let cache = dir.path().join("trivy-cache");
    let out = Command::new(tool("trivy"))
        .env("TRIVY_CACHE_DIR", &cache)
        .args(["image", "-q", "--input"])
        .arg(&layout)
        .args(["--format", "cyclonedx"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trivy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bom: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let comps: Vec<(String, String)> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["version"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        comps.contains(&("example.com/greeting".into(), "v1.3.0".into())),
        "{comps:?}"
    );
    // go.mod replaces punctuation v0.2.0 with v0.2.1: Trivy lists the module actually linked.
    assert!(
        comps.contains(&("example.com/punctuation".into(), "v0.2.1".into())),
        "{comps:?}"
    );
    assert!(
        !comps
            .iter()
            .any(|(n, v)| n == "example.com/punctuation" && v == "v0.2.0"),
        "{comps:?}"
    );

    // skopeo copies the whole index into the real registry, keeping its digest.
    let reg = Registry::plain();
    let dest = format!("docker://{}/demo/hello:v1", reg.host());
    tool_ok(
        "skopeo",
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:hello", layout.display()),
            &dest,
        ],
    );
    let pushed = tool_ok("skopeo", &["inspect", "--raw", "--tls-verify=false", &dest]);
    assert_eq!(sha256_digest(pushed.as_bytes()), digest);
}

/// The rest of the Go platforms the builder promises: a variant (arm/v7) in the index, and each
/// binary built for its architecture (read by readelf and `go version -m`).
#[test]
fn go_image_for_arm_v7_s390x_and_riscv64() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    let r = run(build_cmd("slipway-build", &ex)
        .args(["--platform", "linux/arm/v7,linux/s390x,linux/riscv64"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let layout = ex.join(".slipway/oci");
    let raw = tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:hello", layout.display()),
        ],
    );
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let mut platforms: Vec<serde_json::Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"].clone())
        .collect();
    platforms.sort_by_key(ToString::to_string);
    assert_eq!(
        platforms,
        [
            serde_json::json!({"architecture": "arm", "os": "linux", "variant": "v7"}),
            serde_json::json!({"architecture": "riscv64", "os": "linux"}),
            serde_json::json!({"architecture": "s390x", "os": "linux"}),
        ]
    );
    let state = read_json(&ex.join(".slipway/state.json"));
    for (platform, slug, machine, goarch) in [
        ("linux/arm/v7", "linux-arm-v7", "ARM", "GOARCH=arm"),
        ("linux/s390x", "linux-s390x", "IBM S/390", "GOARCH=s390x"),
        ("linux/riscv64", "linux-riscv64", "RISC-V", "GOARCH=riscv64"),
    ] {
        let bundle = dir.path().join(format!("bundle-{slug}"));
        umoci_unpack(&layout, &format!("hello.{slug}"), &bundle);
        let bin = bundle.join("rootfs/usr/local/bin/hello");
        let config = read_json(&bundle.join("config.json"));
        assert_eq!(config["process"]["user"]["uid"], 65532, "{platform}");
        let elf = Command::new("readelf")
            .arg("-h")
            .arg(&bin)
            .output()
            .unwrap();
        let elf = String::from_utf8_lossy(&elf.stdout);
        let line = elf
            .lines()
            .find(|l| l.trim_start().starts_with("Machine:"))
            .unwrap_or_default();
        assert!(line.contains(machine), "{platform}: {line}");
        let info = Command::new("go")
            .args(["version", "-m"])
            .arg(&bin)
            .output()
            .unwrap();
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(info.contains(goarch), "{platform}: {info}");
        assert_eq!(
            info.contains("GOARM=7"),
            platform == "linux/arm/v7",
            "{platform}: {info}"
        );
        assert_eq!(
            state["images"]["hello"]["platforms"][platform]["binaries"][0]["sha256"],
            sha256_digest(&std::fs::read(&bin).unwrap()),
            "{platform}"
        );
    }
}

#[test]
fn rust_image_via_cargo_for_the_host_target() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-rust", dir.path());
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let layout = ex.join(".slipway/oci");
    let bundle = dir.path().join("bundle");
    umoci_unpack(&layout, "hello-rust.linux-amd64", &bundle);
    let bin = bundle.join("rootfs/usr/local/bin/hello-rust");
    let meta = std::fs::metadata(&bin).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65532, 65532));
    let out = Command::new(&bin).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Hello from Slipway!\n"));
    // Statically linked (it runs on scratch) and carrying the cargo-auditable dependency list.
    let sections = Command::new("readelf")
        .arg("-lS")
        .arg(&bin)
        .output()
        .unwrap();
    let sections = String::from_utf8_lossy(&sections.stdout);
    assert!(sections.contains(".dep-v0"), "no cargo-auditable section");
    assert!(
        !sections.contains("INTERP"),
        "dynamically linked: it would not run on scratch"
    );
    let state = read_json(&ex.join(".slipway/state.json"));
    assert!(
        state["images"]["hello-rust"]["platforms"]["linux/amd64"]["binaries"][0]["toolchain"]
            .as_str()
            .unwrap()
            .starts_with("rustc ")
    );

    // A platform whose Rust standard library is not installed: exit 2 with the rustup hint,
    // before anything is compiled.
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .unwrap();
    let installed = String::from_utf8_lossy(&installed.stdout);
    assert!(
        !installed.lines().any(|l| l == "s390x-unknown-linux-gnu"),
        "this check needs a toolchain without the s390x target: {installed}"
    );
    let fresh = copy_example("hello-rust", &dir.path().join("s390x").tap_mkdir());
    let r = run(build_cmd("slipway-build", &fresh).args(["--platform", "linux/s390x"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "the Rust target `s390x-unknown-linux-gnu` (for linux/s390x) is not installed"
        ) && r
            .stderr
            .contains("hint: install it with `rustup target add s390x-unknown-linux-gnu`"),
        "{}",
        r.stderr
    );
    assert_nothing_left(&fresh, "missing Rust target");
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

#[test]
fn two_clean_clones_build_the_same_digest_and_a_changed_byte_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = slipway_test::repo_root();
    let mut digests = Vec::new();
    for name in ["clone-a", "clone-b"] {
        git(
            dir.path(),
            &["clone", "-q", "--no-local", root.to_str().unwrap(), name],
        );
        let ex = dir.path().join(name).join("examples/hello-go");
        let r = run(build_cmd("slipway-build", &ex).args(["--platform", "linux/amd64"]));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        // Regression: the repository ignores `.slipway/`, but a clean clone was warned that
        // it does not (the directory did not exist yet when git was asked).
        assert!(
            !r.stderr.contains("is not ignored by git"),
            "{name}: {}",
            r.stderr
        );
        digests.push(index_digest(&ex, "hello"));
    }
    assert_eq!(
        digests[0], digests[1],
        "same source, same SOURCE_DATE_EPOCH, different directories"
    );

    // --verify-reproducible builds twice itself and agrees.
    let ex_a = dir.path().join("clone-a/examples/hello-go");
    let r = run(build_cmd("slipway-build", &ex_a).args([
        "--platform",
        "linux/amd64",
        "--verify-reproducible",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("(reproducible)"), "{}", r.stderr);
    assert_eq!(index_digest(&ex_a, "hello"), digests[0]);

    // One changed source byte, committed (a dirty tree alone would change the binary through
    // vcs.modified=true), changes the image, and the changed program is what it holds.
    let ex_b = dir.path().join("clone-b/examples/hello-go");
    let main = ex_b.join("main.go");
    let src = std::fs::read_to_string(&main)
        .unwrap()
        .replace("Slipway", "Slipwax");
    std::fs::write(&main, src).unwrap();
    git(
        &ex_b,
        &[
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "commit",
            "-q",
            "-am",
            "one byte",
        ],
    );
    let r = run(build_cmd("slipway-build", &ex_b).args(["--platform", "linux/amd64"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(index_digest(&ex_b, "hello"), digests[0]);
    let state = read_json(&ex_b.join(".slipway/state.json"));
    let bin = state["images"]["hello"]["platforms"]["linux/amd64"]["binaries"][0]["source"]
        .as_str()
        .unwrap()
        .to_owned();
    let info = Command::new("go")
        .args(["version", "-m", &bin])
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.contains("vcs.modified=false"),
        "the rebuilt tree was dirty: {info}"
    );
    let out = Command::new(&bin).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Hello from Slipwax!"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn git_commit_all(dir: &Path) {
    git(dir, &["add", "."]);
    git(
        dir,
        &[
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "commit",
            "-qm",
            "init",
        ],
    );
}

fn blob_json(layout: &Path, digest: &serde_json::Value) -> serde_json::Value {
    read_json(
        &layout
            .join("blobs/sha256")
            .join(digest.as_str().unwrap().trim_start_matches("sha256:")),
    )
}

/// What slipway.yaml says about the container, the OCI annotations from git, the CA bundle and
/// the ldflags templating all reach the image (read back by skopeo, umoci and the program).
#[test]
fn config_annotations_ca_bundle_and_templated_ldflags_reach_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    std::fs::write(
        ex.join("slipway.yaml"),
        r#"images:
  - name: hello
    go:
      main: .
      ldflags: ["-X main.version={version}", "-X main.commit={commit}"]
    user: "1000:1001"
    cmd: [--version]
    env: [LOG_FORMAT=json, TZ=UTC]
    workdir: /srv
    ports: [8080/tcp, 9090/udp]
    labels: {org.opencontainers.image.title: hello, team: build}
    ca_bundle: true
    version: 1.2.3
"#,
    )
    .unwrap();
    std::fs::write(ex.join(".gitignore"), ".slipway/\n").unwrap();
    git(&ex, &["init", "-q"]);
    git_commit_all(&ex);
    git(
        &ex,
        &[
            "remote",
            "add",
            "origin",
            "https://example.com/acme/hello.git",
        ],
    );
    let head = String::from_utf8(
        Command::new("git")
            .current_dir(&ex)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned();
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);

    // Annotations, on the index and on the platform's manifest.
    let layout = ex.join(".slipway/oci");
    let oci = |name: &str| format!("oci:{}:{name}", layout.display());
    let index: serde_json::Value =
        serde_json::from_str(&tool_ok("skopeo", &["inspect", "--raw", &oci("hello")])).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&tool_ok(
        "skopeo",
        &["inspect", "--raw", &oci("hello.linux-amd64")],
    ))
    .unwrap();
    for (what, doc) in [("index", &index), ("manifest", &manifest)] {
        let a = &doc["annotations"];
        assert_eq!(
            a["org.opencontainers.image.source"], "https://example.com/acme/hello.git",
            "{what}"
        );
        assert_eq!(
            a["org.opencontainers.image.revision"],
            head.as_str(),
            "{what}"
        );
        assert_eq!(a["org.opencontainers.image.version"], "1.2.3", "{what}");
        // SOURCE_DATE_EPOCH=1700000000 (build_cmd).
        assert_eq!(
            a["org.opencontainers.image.created"], "2023-11-14T22:13:20Z",
            "{what}"
        );
    }

    // The image config.
    let config = blob_json(&layout, &manifest["config"]["digest"]);
    let c = &config["config"];
    assert_eq!(c["User"], "1000:1001");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/hello"]));
    assert_eq!(c["Cmd"], serde_json::json!(["--version"]));
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        env.contains(&"LOG_FORMAT=json") && env.contains(&"TZ=UTC"),
        "{env:?}"
    );
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}, "9090/udp": {}})
    );
    assert_eq!(
        c["Labels"],
        serde_json::json!({"org.opencontainers.image.title": "hello", "team": "build"})
    );
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");

    // umoci's runtime bundle: the same settings as a runtime sees them, and the files.
    let bundle = dir.path().join("bundle");
    umoci_unpack(&layout, "hello.linux-amd64", &bundle);
    let runtime = read_json(&bundle.join("config.json"));
    assert_eq!(
        runtime["process"]["args"],
        serde_json::json!(["/usr/local/bin/hello", "--version"])
    );
    assert_eq!(runtime["process"]["cwd"], "/srv");
    assert_eq!(runtime["process"]["user"]["uid"], 1000);
    assert_eq!(runtime["process"]["user"]["gid"], 1001);
    let ca = bundle.join("rootfs/etc/ssl/certs/ca-certificates.crt");
    assert_eq!(
        std::fs::read(&ca).unwrap(),
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap(),
        "ca_bundle: true puts this machine's bundle in the image"
    );
    let meta = std::fs::metadata(&ca).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (0, 0, 0o644));
    let bin = bundle.join("rootfs/usr/local/bin/hello");
    let meta = std::fs::metadata(&bin).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 1001));

    // {version} and {commit} in ldflags reached the program.
    let out = Command::new(&bin).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("hello 1.2.3 (commit {head})\n")
    );
}

/// The warning about an un-ignored state directory: none when .gitignore covers it (checked on
/// clean clones above), one when it does not.
#[test]
fn warns_when_git_does_not_ignore_the_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    for ignored in [false, true] {
        let ex = copy_example(
            "hello-go",
            &dir.path().join(format!("ignored-{ignored}")).tap_mkdir(),
        );
        if ignored {
            std::fs::write(ex.join(".gitignore"), ".slipway/\n").unwrap();
        }
        git(&ex, &["init", "-q"]);
        git(&ex, &["add", "."]);
        git(
            &ex,
            &[
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.com",
                "commit",
                "-qm",
                "init",
            ],
        );
        let r = run(build_cmd("slipway-build", &ex).args(["--platform", "linux/amd64"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let warned = r.stderr.contains(
            "`.slipway` is not ignored by git: Go marks binaries built from this tree as modified",
        );
        assert_eq!(warned, !ignored, "ignored={ignored}: {}", r.stderr);
    }
}

#[test]
fn verify_reproducible_names_the_first_differing_blob() {
    let dir = tempfile::tempdir().unwrap();
    // A "build" that is not reproducible: a prebuilt-binary template resolved to a file that a
    // stand-in UPX rewrites differently on every run.
    let bin = dir.path().join("tool-linux-amd64");
    std::fs::write(&bin, b"\x7fELF not really a program").unwrap();
    let fake = dir.path().join("fakebin");
    std::fs::create_dir(&fake).unwrap();
    std::fs::write(
        fake.join("upx"),
        "#!/bin/sh\nfor f; do :; done\ndate +%s%N >> \"$f\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        fake.join("upx"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
    let r = run(build_cmd("slipway-build", dir.path())
        .env("PATH", path)
        .args([
            "--name",
            "tool",
            "--binary",
            "tool-{os}-{arch}",
            "--upx",
            "--verify-reproducible",
        ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the build is not reproducible: the binary for linux/amd64 differs"),
        "{}",
        r.stderr
    );
    assert!(
        !dir.path().join(".slipway/oci").exists(),
        "a failed build leaves no layout"
    );
}

/// A two-platform base layout made with GNU tar, gzip and slipway_oci.
fn make_base(dir: &Path) -> (std::path::PathBuf, serde_json::Value) {
    use oci_spec::image::{
        ConfigBuilder, ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder,
        MediaType as M, RootFsBuilder,
    };
    use slipway_oci::{Layout, Manifest, convert};
    let layout = Layout::create(dir.join("base")).unwrap();
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let root = dir.join(format!("rootfs-{arch}"));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/base-release"), format!("base for {arch}\n")).unwrap();
        let tar = dir.join(format!("{arch}.tar"));
        assert!(
            Command::new("tar")
                .args(["--sort=name", "--owner=0", "--group=0", "--mtime=@0", "-C"])
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .arg("etc")
                .status()
                .unwrap()
                .success()
        );
        let diff_id = sha256_digest(&std::fs::read(&tar).unwrap());
        assert!(
            Command::new("gzip")
                .args(["-n", "-9"])
                .arg(&tar)
                .status()
                .unwrap()
                .success()
        );
        let (ld, ls) = layout
            .write_blob(std::fs::File::open(dir.join(format!("{arch}.tar.gz"))).unwrap())
            .unwrap();
        let cfg = ImageConfigurationBuilder::default()
            .architecture(arch)
            .os("linux")
            .config(
                ConfigBuilder::default()
                    .env(vec![
                        "PATH=/usr/bin:/bin".to_owned(),
                        "FROM_BASE=1".to_owned(),
                    ])
                    .build()
                    .unwrap(),
            )
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(vec![diff_id])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let (cd, cs) = layout
            .write_bytes(&slipway_oci::json::canonical(&cfg).unwrap())
            .unwrap();
        let m = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(M::ImageManifest)
            .config(convert::descriptor(
                "application/vnd.oci.image.config.v1+json",
                &cd,
                cs,
            ))
            .layers(vec![convert::descriptor(
                "application/vnd.oci.image.layer.v1.tar+gzip",
                &ld,
                ls,
            )])
            .build()
            .unwrap();
        let m = Manifest::from_image(&m).unwrap();
        layout.write_manifest(&m).unwrap();
        let mut d = m.descriptor();
        d.set_platform(Some(convert::to_spec_platform(
            &format!("linux/{arch}").parse().unwrap(),
        )));
        entries.push(d);
    }
    let idx = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(M::ImageIndex)
        .manifests(entries)
        .build()
        .unwrap();
    let idx = Manifest::from_index(&idx).unwrap();
    layout.write_manifest(&idx).unwrap();
    layout.set_ref("base", &idx.descriptor()).unwrap();
    (
        layout.root().to_path_buf(),
        serde_json::from_slice(&idx.bytes).unwrap(),
    )
}

#[test]
fn layout_base_layers_are_reused_byte_for_byte_for_the_right_platform() {
    let dir = tempfile::tempdir().unwrap();
    let (base, base_index) = make_base(dir.path());
    let ex = copy_example("hello-go", dir.path());
    let base_arg = format!("oci:{}:base", base.display());
    let r = run(build_cmd("slipway-build", &ex).args([
        "--platform",
        "linux/amd64,linux/arm64",
        "--base",
        &base_arg,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = ex.join(".slipway/oci");
    let blob = |layout: &Path, d: &str| {
        std::fs::read(
            layout
                .join("blobs/sha256")
                .join(d.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let base_index_digest = format!("sha256:{}", {
        let raw = tool_ok(
            "skopeo",
            &["inspect", "--raw", &format!("oci:{}:base", base.display())],
        );
        sha256_digest(raw.as_bytes())
            .trim_start_matches("sha256:")
            .to_owned()
    });
    let index = read_json(
        &out.join("blobs/sha256")
            .join(index_digest(&ex, "hello").trim_start_matches("sha256:")),
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.base.name"],
        base_arg
    );
    assert_eq!(
        index["annotations"]["org.opencontainers.image.base.digest"],
        base_index_digest
    );
    for entry in base_index["manifests"].as_array().unwrap() {
        let arch = entry["platform"]["architecture"].as_str().unwrap();
        let base_manifest = read_json(
            &base.join("blobs/sha256").join(
                entry["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        );
        let ours_raw = tool_ok(
            "skopeo",
            &[
                "inspect",
                "--raw",
                &format!("oci:{}:hello.linux-{arch}", out.display()),
            ],
        );
        let ours: serde_json::Value = serde_json::from_str(&ours_raw).unwrap();
        let base_layer = &base_manifest["layers"][0];
        assert_eq!(
            ours["layers"][0], *base_layer,
            "{arch}: base layer descriptor kept"
        );
        let d = base_layer["digest"].as_str().unwrap();
        assert_eq!(
            blob(&out, d),
            blob(&base, d),
            "{arch}: base layer bytes identical"
        );
        assert_eq!(ours["layers"].as_array().unwrap().len(), 2);
        assert_eq!(
            ours["annotations"]["org.opencontainers.image.base.digest"],
            entry["digest"]
        );
        let config = read_json(
            &out.join("blobs/sha256").join(
                ours["config"]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        );
        assert_eq!(config["architecture"], arch);
        assert!(
            config["config"]["Env"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "FROM_BASE=1"),
            "{arch}: base env kept"
        );
        // Unpacked, the base's file for the right architecture is there next to our binary.
        let bundle = dir.path().join(format!("bundle-{arch}"));
        umoci_unpack(&out, &format!("hello.linux-{arch}"), &bundle);
        assert_eq!(
            std::fs::read_to_string(bundle.join("rootfs/etc/base-release")).unwrap(),
            format!("base for {arch}\n")
        );
        assert!(bundle.join("rootfs/usr/local/bin/hello").is_file());
    }
    let state = read_json(&ex.join(".slipway/state.json"));
    assert_eq!(
        state["images"]["hello"]["base"]["digest"],
        base_index_digest
    );
}

#[test]
fn zstd_layers_and_oci_archive() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    let r = run(build_cmd("slipway-build", &ex).args([
        "--platform",
        "linux/amd64",
        "--compression",
        "zstd",
        "--level",
        "9",
        "--archive",
        "hello.tar",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let layout = ex.join(".slipway/oci");
    let m: serde_json::Value = serde_json::from_str(&tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:hello.linux-amd64", layout.display()),
        ],
    ))
    .unwrap();
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    // zstd(1) decompresses the layer and tar(1) lists the binary.
    let layer = layout.join("blobs/sha256").join(
        m["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc '{}' | tar -tv --numeric-owner",
            layer.display()
        ))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains("65532/65532") && listing.contains("usr/local/bin/hello"),
        "{listing}"
    );
    // The oci-archive holds the same image.
    let archived = tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci-archive:{}:hello", ex.join("hello.tar").display()),
        ],
    );
    assert_eq!(
        sha256_digest(archived.as_bytes()),
        index_digest(&ex, "hello")
    );
    // And the registry takes zstd layers.
    let reg = Registry::plain();
    tool_ok(
        "skopeo",
        &[
            "copy",
            "--all",
            "--dest-tls-verify=false",
            &format!("oci:{}:hello", layout.display()),
            &format!("docker://{}/z/hello:1", reg.host()),
        ],
    );
}

/// `cmd` run through `taskset -c CPUS` (util-linux), with the same directory and environment.
fn under_taskset(cmd: &Command, cpus: &str) -> Command {
    let mut t = Command::new("taskset");
    t.arg("-c")
        .arg(cpus)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    t.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            t.env(k, v);
        }
    }
    if let Some(d) = cmd.get_current_dir() {
        t.current_dir(d);
    }
    t
}

/// Regression: with `--compression zstd`, `taskset -c 0` (one core: zstd's single-threaded
/// mode) and two cores gave different layer and index digests.
#[test]
fn digests_do_not_depend_on_the_number_of_cores() {
    let cores = std::thread::available_parallelism().unwrap().get();
    assert!(
        cores >= 2,
        "this test compares one core with several; the machine has {cores}"
    );
    let dir = tempfile::tempdir().unwrap();
    for compression in ["gzip", "zstd"] {
        let mut digests = Vec::new();
        for cpus in [None, Some("0")] {
            let ex = copy_example(
                "hello-go",
                &dir.path()
                    .join(format!("{compression}-{}", cpus.unwrap_or("all")))
                    .tap_mkdir(),
            );
            let mut c = build_cmd("slipway-build", &ex);
            c.args(["--platform", "linux/amd64", "--compression", compression]);
            let r = match cpus {
                None => run(&mut c),
                Some(cpus) => run(&mut under_taskset(&c, cpus)),
            };
            assert_eq!(r.code, 0, "{compression} {cpus:?}: {}", r.stderr);
            digests.push(index_digest(&ex, "hello"));
        }
        assert_eq!(
            digests[0], digests[1],
            "{compression}: {cores} cores and `taskset -c 0` built different images"
        );
    }
}

#[test]
fn upx_is_run_on_each_binary_when_asked() {
    // UPX cannot be installed on our machines: a stand-in executable named `upx` records its
    // arguments and marks the file, which proves the invocation and that the result is what
    // goes into the image.
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    let fake = dir.path().join("fakebin");
    std::fs::create_dir(&fake).unwrap();
    let log = dir.path().join("upx.log");
    std::fs::write(
        fake.join("upx"),
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nfor f; do :; done\nprintf UPXED >> \"$f\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        fake.join("upx"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
    let r = run(build_cmd("slipway-build", &ex).env("PATH", &path).args([
        "--platform",
        "linux/amd64",
        "--upx",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls.lines().count(), 1);
    assert!(
        calls.starts_with("-q --best /") && calls.trim_end().ends_with("hello.upx"),
        "{calls}"
    );
    let bundle = dir.path().join("bundle");
    umoci_unpack(&ex.join(".slipway/oci"), "hello.linux-amd64", &bundle);
    let bin = std::fs::read(bundle.join("rootfs/usr/local/bin/hello")).unwrap();
    assert!(bin.ends_with(b"UPXED"), "the image holds the UPX output");

    // Asked for but missing: exit 2 with a hint.
    let ex2 = copy_example("hello-rust", &dir.path().join("b").tap_mkdir());
    let r = run(build_cmd("slipway-build", &ex2).args(["--upx"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("`upx` was not found on PATH") && r.stderr.contains("hint: install UPX"),
        "{}",
        r.stderr
    );
    // Regression: the missing UPX was noticed only after the whole compile.
    assert_nothing_left(&ex2, "--upx without upx");
}

trait TapMkdir {
    fn tap_mkdir(self) -> std::path::PathBuf;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> std::path::PathBuf {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// Regression: after a three-platform build, `--platform linux/amd64` left `hello.linux-arm64`
/// and `hello.linux-ppc64le` in index.json, naming manifests of the old image.
#[test]
fn rebuilding_with_fewer_platforms_drops_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path();
    for arch in ["amd64", "arm64", "ppc64le"] {
        std::fs::write(
            proj.join(format!("tool-linux-{arch}")),
            format!("#!/bin/sh\necho {arch}\n"),
        )
        .unwrap();
    }
    // An unrelated image whose name starts like a platform name of `tool` keeps its entry.
    std::fs::write(proj.join("other-linux-amd64"), b"#!/bin/sh\n").unwrap();
    let refs = || -> Vec<String> {
        let index = read_json(&proj.join(".slipway/oci/index.json"));
        let mut names: Vec<String> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        names.sort();
        names
    };
    let build = |name: &str, template: &str, platforms: &str| {
        let r = run(build_cmd("slipway-build", proj).args([
            "--name",
            name,
            "--binary",
            template,
            "--platform",
            platforms,
        ]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    };
    build(
        "tool",
        "tool-{os}-{arch}",
        "linux/amd64,linux/arm64,linux/ppc64le",
    );
    build("tool.linux-s390x", "other-{os}-{arch}", "linux/amd64");
    assert_eq!(
        refs(),
        [
            "tool",
            "tool.linux-amd64",
            "tool.linux-arm64",
            "tool.linux-ppc64le",
            "tool.linux-s390x",
            "tool.linux-s390x.linux-amd64"
        ]
    );
    build("tool", "tool-{os}-{arch}", "linux/amd64");
    assert_eq!(
        refs(),
        [
            "tool",
            "tool.linux-amd64",
            "tool.linux-s390x",
            "tool.linux-s390x.linux-amd64"
        ]
    );
    // What is left names the new image: skopeo reads one platform from it.
    let raw = tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:tool", proj.join(".slipway/oci").display()),
        ],
    );
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(sha256_digest(raw.as_bytes()), index_digest(proj, "tool"));
}

/// Asserts that a failed build in `project` left no layout (nor anything built) behind.
fn assert_nothing_left(project: &Path, what: &str) {
    let state_dir = project.join(".slipway");
    assert!(
        !state_dir.join("oci").exists(),
        "{what}: a layout was left behind"
    );
    assert!(
        !state_dir.join("build").exists(),
        "{what}: something was compiled before the input was checked"
    );
}

#[test]
fn bad_input_exits_2_and_leaves_no_layout() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    // A package that is not `main`: `go build -o` would happily write a library archive.
    std::fs::create_dir(ex.join("emptypkg")).unwrap();
    std::fs::write(
        ex.join("emptypkg/lib.go"),
        "// Package lib is a library, not a program.\npackage lib\n\nfunc Answer() int { return 42 }\n",
    )
    .unwrap();
    let layout = ex.join(".slipway/oci");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--name", "x", "--go", "./nope"], "go list"),
        (
            vec!["--name", "x", "--go", "./emptypkg"],
            "the Go package `./emptypkg` (in `",
        ),
        (
            vec!["--name", "x", "--go", "./emptypkg"],
            "is `package lib`, not `package main`",
        ),
        (
            vec!["--platform", "linux/mips99"],
            "cannot build for platform `linux/mips99`",
        ),
        (
            vec![
                "--platform",
                "linux/amd64",
                "--file",
                "main.go:/../etc/passwd",
            ],
            "escapes the image root",
        ),
        (
            vec!["--platform", "linux/amd64", "--file", "missing.txt:/etc/x"],
            "`",
        ),
        (vec!["--image", "nope"], "slipway.yaml has no image `nope`"),
        (vec!["--level", "99"], "gzip level 99 is out of range"),
    ];
    for (args, expect) in cases {
        let r = run(build_cmd("slipway-build", &ex).args(&args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(expect), "{args:?}: {}", r.stderr);
        assert!(!layout.exists(), "{args:?} left a layout behind");
    }

    // Missing toolchain: no `go` on PATH (a fresh project, so nothing was there before).
    let fresh = copy_example("hello-go", &dir.path().join("no-go").tap_mkdir());
    let r = run(build_cmd("slipway-build", &fresh)
        .env("PATH", "/nonexistent")
        .args(["--platform", "linux/amd64"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("`go` was not found on PATH") && r.stderr.contains("hint:"),
        "{}",
        r.stderr
    );
    assert_nothing_left(&fresh, "missing toolchain");

    // Unwritable output: the layout's parent is a regular file (root ignores permissions).
    let fresh = copy_example("hello-go", &dir.path().join("unwritable").tap_mkdir());
    let afile = dir.path().join("afile");
    std::fs::write(&afile, b"x").unwrap();
    let r = run(build_cmd("slipway-build", &fresh)
        .args(["--platform", "linux/amd64", "--layout"])
        .arg(afile.join("oci")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot create layout"), "{}", r.stderr);
    assert_eq!(std::fs::read(&afile).unwrap(), b"x");
    assert_nothing_left(&fresh, "unwritable output");

    // An existing layout keeps its content when a later build fails.
    let r = run(build_cmd("slipway-build", &ex).args(["--platform", "linux/amd64"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = std::fs::read(layout.join("index.json")).unwrap();
    let r = run(build_cmd("slipway-build", &ex).args(["--platform", "linux/mips99"]));
    assert_eq!(r.code, 2);
    assert_eq!(std::fs::read(layout.join("index.json")).unwrap(), before);
}

/// The Go architecture that is not this machine's (amd64 ↔ arm64).
fn other_go_arch() -> &'static str {
    let out = Command::new("uname").arg("-m").output().unwrap();
    assert!(out.status.success(), "uname -m failed");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "x86_64" => "arm64",
        "aarch64" | "arm64" => "amd64",
        other => panic!("no other Go architecture known for host `{other}`: add it here"),
    }
}

/// Regression: the main-package check ran `go list` for the host, so a program whose files are
/// all constrained to the target (`//go:build linux` on a macOS host) was refused.
#[test]
fn the_main_package_check_is_made_for_the_target_platform_not_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("archonly");
    std::fs::create_dir_all(&proj).unwrap();
    let arch = other_go_arch();
    std::fs::write(
        proj.join("go.mod"),
        "module example.com/archonly\n\ngo 1.19\n",
    )
    .unwrap();
    std::fs::write(
        proj.join("main.go"),
        format!("//go:build {arch}\n\npackage main\n\nfunc main() {{ println(\"{arch}\") }}\n"),
    )
    .unwrap();
    let platform = format!("linux/{arch}");
    let r = run(build_cmd("slipway-build", &proj).args([
        "--name",
        "archonly",
        "--go",
        ".",
        "--platform",
        &platform,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = read_json(&proj.join(".slipway/state.json"));
    assert!(
        state["images"]["archonly"]["platforms"][&platform]["manifest"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")),
        "{state}"
    );
    // For the host's own architecture the package has no files, and that is still refused
    // before anything is compiled.
    let fresh = dir.path().join("host");
    std::fs::create_dir_all(&fresh).unwrap();
    for f in ["go.mod", "main.go"] {
        std::fs::copy(proj.join(f), fresh.join(f)).unwrap();
    }
    let host = if arch == "arm64" {
        "linux/amd64"
    } else {
        "linux/arm64"
    };
    let r = run(build_cmd("slipway-build", &fresh).args([
        "--name",
        "archonly",
        "--go",
        ".",
        "--platform",
        host,
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("build constraints exclude all Go files"),
        "{}",
        r.stderr
    );
    assert_nothing_left(&fresh, "no files for the platform");
}

/// Regression: `files: [{src: ../../../../../etc/hostname, ...}]` in slipway.yaml exited 0 and
/// copied the build machine's file into the image.
#[test]
fn files_escaping_the_project_or_the_image_are_refused_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, b"a file of the build machine\n").unwrap();
    let up = "../".repeat(dir.path().components().count() + 2);
    let cases = [
        (
            format!("{{src: {up}etc/hostname, dst: /etc/hostname}}"),
            "files[0] (src `{up}etc/hostname`, dst `/etc/hostname`): src resolves to `/etc/hostname`, outside the project directory",
        ),
        (
            "{src: ../../outside.txt, dst: /etc/x}".to_owned(),
            "files[0] (src `../../outside.txt`, dst `/etc/x`): src resolves to `",
        ),
        // A symlink inside the project that points out of it.
        (
            "{src: link.txt, dst: /etc/x}".to_owned(),
            "files[0] (src `link.txt`, dst `/etc/x`): src resolves to `",
        ),
        (
            "{src: main.go, dst: /../../etc/passwd}".to_owned(),
            "files[0] (src `main.go`, dst `/../../etc/passwd`): dst `/../../etc/passwd` escapes the image root",
        ),
    ];
    for (i, (entry, expect)) in cases.iter().enumerate() {
        let ex = copy_example("hello-go", &dir.path().join(format!("p{i}")).tap_mkdir());
        std::os::unix::fs::symlink(&outside, ex.join("link.txt")).unwrap();
        std::fs::write(
            ex.join("slipway.yaml"),
            format!("images:\n  - name: hello\n    go: {{main: .}}\n    files:\n      - {entry}\n"),
        )
        .unwrap();
        let r = run(&mut build_cmd("slipway-build", &ex));
        assert_eq!(r.code, 2, "{entry}: {}", r.stderr);
        let expect = expect.replace("{up}", &up);
        assert!(
            r.stderr.contains(&format!("image `hello`: {expect}")),
            "{entry}: {}",
            r.stderr
        );
        assert_nothing_left(&ex, entry);
    }
    // A file inside the project is fine, also through a symlink that stays inside.
    let ex = copy_example("hello-go", &dir.path().join("ok").tap_mkdir());
    std::fs::create_dir(ex.join("conf")).unwrap();
    std::fs::write(ex.join("conf/app.toml"), b"greeting = true\n").unwrap();
    std::os::unix::fs::symlink("conf/app.toml", ex.join("app-link.toml")).unwrap();
    std::fs::write(
        ex.join("slipway.yaml"),
        "images:\n  - name: hello\n    go: {main: .}\n    files:\n      - {src: app-link.toml, dst: /etc/app.toml, mode: '0640'}\n",
    )
    .unwrap();
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bundle = dir.path().join("bundle");
    umoci_unpack(&ex.join(".slipway/oci"), "hello.linux-amd64", &bundle);
    let f = bundle.join("rootfs/etc/app.toml");
    assert_eq!(std::fs::read(&f).unwrap(), b"greeting = true\n");
    assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o7777, 0o640);
}

/// Regression: a bad file mode was reported without saying which file it belonged to.
#[test]
fn a_bad_file_mode_names_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", &dir.path().join("yaml").tap_mkdir());
    std::fs::write(
        ex.join("slipway.yaml"),
        "images:\n  - name: hello\n    go: {main: .}\n    files:\n      - {src: go.mod, dst: /etc/a}\n      - {src: main.go, dst: /etc/b, mode: '17777'}\n",
    )
    .unwrap();
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "image `hello`: files[1] (src `main.go`, dst `/etc/b`): mode `17777` is not an octal mode"
        ),
        "{}",
        r.stderr
    );
    assert_nothing_left(&ex, "bad mode in slipway.yaml");

    let ex = copy_example("hello-go", &dir.path().join("flag").tap_mkdir());
    let r = run(build_cmd("slipway-build", &ex).args([
        "--platform",
        "linux/amd64",
        "--file",
        "go.mod:/etc/a",
        "--file",
        "main.go:/etc/b:rw-r--r--",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--file `main.go:/etc/b:rw-r--r--`: mode `rw-r--r--` is not an octal mode"),
        "{}",
        r.stderr
    );
    assert_nothing_left(&ex, "bad mode in --file");
}

/// Regression: a base pinned by digest and fully cached still went to the registry, and the
/// build failed (exit 3) when the registry was down.
#[test]
fn base_pinned_by_digest_is_used_from_the_cache_when_the_registry_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let (base, _) = make_base(dir.path());
    let reg = Registry::plain();
    let host = reg.host();
    tool_ok(
        "skopeo",
        &[
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:base", base.display()),
            &format!("docker://{host}/bases/tiny:1"),
        ],
    );
    let raw = tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{host}/bases/tiny:1"),
        ],
    );
    let pinned = format!("{host}/bases/tiny@{}", sha256_digest(raw.as_bytes()));
    let cache = dir.path().join("cache");
    let build_for = |proj: &Path, base: &str, platform: &str| {
        std::fs::create_dir_all(proj).unwrap();
        let bin = format!("tool-{}", platform.replace('/', "-"));
        std::fs::write(proj.join(bin), b"#!/bin/sh\necho hi\n").unwrap();
        run(build_cmd("slipway-build", proj)
            .env("SLIPWAY_CACHE", &cache)
            .args(["--name", "tool", "--binary", "tool-{os}-{arch}"])
            .args(["--platform", platform, "--base", base])
            .args(["--insecure-registry", &host, "--retries", "1"]))
    };
    let build = |proj: &Path, base: &str| build_for(proj, base, "linux/arm64");
    let r = build(&dir.path().join("online"), &pinned);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let online = index_digest(&dir.path().join("online"), "tool");

    drop(reg);
    let r = build(&dir.path().join("offline"), &pinned);
    assert_eq!(r.code, 0, "registry down, base cached: {}", r.stderr);
    assert_eq!(index_digest(&dir.path().join("offline"), "tool"), online);
    // A tag must still be resolved by the registry: no stale answer from the cache.
    let r = build(&dir.path().join("tag"), &format!("{host}/bases/tiny:1"));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_nothing_left(&dir.path().join("tag"), "tag with the registry down");
    // Regression: a platform the cached, digest-pinned index does not have went to the (down)
    // registry and exited 3; the index cannot change, so it is bad input.
    let r = build_for(&dir.path().join("s390x"), &pinned, "linux/s390x");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("it has no image for linux/s390x (it has: linux/amd64, linux/arm64)"),
        "{}",
        r.stderr
    );
    assert_nothing_left(&dir.path().join("s390x"), "platform missing from the base");
    // A platform the index has but the cache never fetched (only arm64 was pulled) still needs
    // the registry.
    let r = build_for(&dir.path().join("amd64"), &pinned, "linux/amd64");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_nothing_left(
        &dir.path().join("amd64"),
        "platform not cached, registry down",
    );
}

#[test]
fn registry_base_is_pulled_for_the_platforms_built_and_an_unreachable_one_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let (base, base_index) = make_base(dir.path());
    let reg = Registry::tls_auth();
    let (user, pass) = reg.credentials().unwrap();
    let ca = reg.cert_dir().unwrap().join("ca.crt");
    let base_ref = format!("{}/bases/tiny:1", reg.host());
    // The base reaches the registry through skopeo, not through our code.
    let out = Command::new(tool("skopeo"))
        .args(["copy", "--all", "--preserve-digests", "--dest-cert-dir"])
        .arg(reg.cert_dir().unwrap())
        .arg("--dest-authfile")
        .arg(reg.auth_file().unwrap())
        .arg(format!("oci:{}:base", base.display()))
        .arg(format!("docker://{base_ref}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let proj = dir.path().join("proj");
    std::fs::create_dir_all(&proj).unwrap();
    std::fs::write(proj.join("tool-linux-arm64"), b"#!/bin/sh\necho hi\n").unwrap();
    let mut c = build_cmd("slipway-build", &proj);
    c.env("SLIPWAY_REGISTRY_USERNAME", user)
        .env("SLIPWAY_REGISTRY_PASSWORD", pass)
        .args(["--name", "tool", "--binary", "tool-{os}-{arch}"])
        .args([
            "--platform",
            "linux/arm64",
            "--base",
            &base_ref,
            "--ca-file",
        ])
        .arg(&ca);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains(pass) && !r.stdout.contains(pass));

    let arm = base_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .unwrap();
    let base_manifest = read_json(
        &base.join("blobs/sha256").join(
            arm["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:"),
        ),
    );
    let out = proj.join(".slipway/oci");
    let ours: serde_json::Value = serde_json::from_str(&tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:tool.linux-arm64", out.display()),
        ],
    ))
    .unwrap();
    assert_eq!(
        ours["layers"][0], base_manifest["layers"][0],
        "base layer kept"
    );
    assert_eq!(
        ours["annotations"]["org.opencontainers.image.base.digest"],
        arm["digest"]
    );
    assert_eq!(
        ours["annotations"]["org.opencontainers.image.base.name"],
        base_ref
    );
    // A state with a registry base (name and digest) is valid for the independent validator.
    let (ok, report) = check_jsonschema(&state_schema(), &proj.join(".slipway/state.json"));
    assert!(ok, "check-jsonschema: {report}");
    let layer = base_manifest["layers"][0]["digest"].as_str().unwrap();
    let bytes = std::fs::read(
        out.join("blobs/sha256")
            .join(layer.trim_start_matches("sha256:")),
    )
    .unwrap();
    assert_eq!(sha256_digest(&bytes), layer);

    // A base on a registry that is not there: an external failure, after bounded retries.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("127.0.0.1:{port}");
    // In a fresh project, so that a layout left behind would show.
    let proj2 = dir.path().join("proj2");
    std::fs::create_dir_all(&proj2).unwrap();
    std::fs::write(proj2.join("tool-linux-arm64"), b"#!/bin/sh\necho hi\n").unwrap();
    let mut c = build_cmd("slipway-build", &proj2);
    c.args([
        "--name",
        "tool2",
        "--binary",
        "tool-{os}-{arch}",
        "--platform",
        "linux/arm64",
    ])
    .args([
        "--base",
        &format!("{gone}/bases/tiny:1"),
        "--insecure-registry",
        &gone,
    ])
    .args(["--retries", "1"]);
    let r = run(&mut c);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&gone), "{}", r.stderr);
    assert_nothing_left(&proj2, "unreachable base");
}

/// Prebuilt binaries are read once, as they stream into the layer: the state records the sha256
/// and size of exactly the file the image holds, per platform.
#[test]
fn prebuilt_binaries_are_recorded_with_the_hash_of_what_the_layer_holds() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path();
    for (arch, n) in [("amd64", 3_000_000), ("arm64", 5)] {
        let mut bytes = b"\x7fELF".to_vec();
        bytes.extend((0..n).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        std::fs::write(proj.join(format!("tool-linux-{arch}")), bytes).unwrap();
    }
    let r = run(build_cmd("slipway-build", proj).args([
        "--name",
        "tool",
        "--binary",
        "tool-{os}-{arch}",
        "--platform",
        "linux/amd64,linux/arm64",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = read_json(&proj.join(".slipway/state.json"));
    let layout = proj.join(".slipway/oci");
    for arch in ["amd64", "arm64"] {
        let platform = format!("linux/{arch}");
        let p = &state["images"]["tool"]["platforms"][&platform];
        let file = std::fs::read(proj.join(format!("tool-linux-{arch}"))).unwrap();
        assert_eq!(
            p["binaries"][0]["sha256"],
            sha256_digest(&file),
            "{platform}"
        );
        assert_eq!(p["binaries"][0]["size"], file.len(), "{platform}");
        // The same bytes, as GNU tar reads them back out of the image's (last) layer.
        let manifest = p["manifest"]["digest"].as_str().unwrap();
        let m = read_json(&layout.join("blobs/sha256").join(&manifest[7..]));
        let layer = m["layers"].as_array().unwrap().last().unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_owned();
        let extracted = output_ok(
            Command::new("tar")
                .arg("-xzOf")
                .arg(layout.join("blobs/sha256").join(&layer[7..]))
                .arg("usr/local/bin/tool"),
        );
        assert_eq!(extracted, file, "{platform}");
    }
}
