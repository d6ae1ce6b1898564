//! `slipway-push` and `slipway-promote` against the real Docker Distribution registry, read back
//! with skopeo.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, cmd, output_ok, run};
use serde_json::Value;
use slipway_state::{ScanRecord, SeverityCounts, State, StateFile, Verdict};
use slipway_test::{Fault, FaultAction, FaultProxy, Registry, RegistryKind, sha256_digest, tool};

/// A project directory with an image built by slipway-build from prebuilt (random) binaries,
/// and the means to talk to one registry the way a user would: a docker config.json holding
/// the credentials (TLS registry) and the CA file.
struct Project {
    dir: tempfile::TempDir,
    reg: Registry,
}

impl Project {
    fn new(kind: RegistryKind) -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".gitignore"), ".slipway/\n").unwrap();
        let p = Project {
            dir,
            reg: Registry::start(kind),
        };
        if let Some((user, pass)) = p.reg.credentials() {
            p.write_auth_config(&serde_json::json!({
                "auths": { p.reg.host(): { "auth": b64(&format!("{user}:{pass}")) } }
            }));
        }
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn docker_config(&self) -> PathBuf {
        self.path().join("docker")
    }

    fn write_auth_config(&self, v: &Value) {
        std::fs::create_dir_all(self.docker_config()).unwrap();
        std::fs::write(
            self.docker_config().join("config.json"),
            serde_json::to_vec_pretty(v).unwrap(),
        )
        .unwrap();
    }

    /// Writes binaries for `platforms` (content depends on `salt`) and builds image `app`.
    fn build(&self, platforms: &[&str], salt: &str) -> String {
        let mut args: Vec<String> = ["build", "--name", "app", "--binary", "bin/app-{os}-{arch}"]
            .map(String::from)
            .to_vec();
        std::fs::create_dir_all(self.path().join("bin")).unwrap();
        for p in platforms {
            let (os, arch) = p.split_once('/').unwrap();
            let mut bytes = format!("#!/bin/sh\necho {salt} {p}\n").into_bytes();
            // Big enough that an upload spans several reads (and a reset lands mid-body).
            // Incompressible (xorshift), so layer sizes are predictable.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ salt.len() as u64 ^ (p.len() as u64) << 32;
            bytes.extend((0..300_000).map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            }));
            let f = self.path().join(format!("bin/app-{os}-{arch}"));
            std::fs::write(&f, bytes).unwrap();
            args.extend(["--platform".into(), p.to_string()]);
        }
        let r = run(self.slipway().args(&args));
        assert_eq!(r.code, 0, "build: {}", r.stderr);
        let state = self.state();
        state.images["app"].index.as_ref().map_or_else(
            || {
                state.images["app"]
                    .platforms
                    .values()
                    .next()
                    .unwrap()
                    .manifest
                    .digest
                    .to_string()
            },
            |i| i.digest.to_string(),
        )
    }

    fn state(&self) -> State {
        StateFile::new(self.path().join(".slipway/state.json"))
            .read_required()
            .unwrap()
    }

    /// `slipway` with this registry's trust and credentials configured as a user would.
    fn slipway(&self) -> Command {
        let mut c = cmd("slipway", self.path());
        c.env("DOCKER_CONFIG", self.docker_config());
        c
    }

    /// Registry flags for `slipway push`/`promote` talking to `host` of this project's registry.
    fn reg_flags(&self) -> Vec<String> {
        match self.reg.cert_dir() {
            Some(d) => vec!["--ca-file".into(), d.join("ca.crt").display().to_string()],
            None => vec!["--insecure-registry".into(), self.reg.host()],
        }
    }

    fn repo(&self, name: &str) -> String {
        format!("{}/{name}", self.reg.host())
    }

    fn push(&self, repo: &str, extra: &[&str]) -> Run {
        let mut c = self.slipway();
        c.args(["--output-format", "json", "push", "--to", repo])
            .args(self.reg_flags())
            .args(extra);
        run(&mut c)
    }

    /// skopeo with this registry's trust and credentials (the same config.json).
    fn skopeo(&self, sub: &str) -> Command {
        let mut c = Command::new(tool("skopeo"));
        c.arg(sub);
        match self.reg.cert_dir() {
            Some(d) => {
                c.arg("--authfile")
                    .arg(self.docker_config().join("config.json"));
                if sub == "copy" {
                    c.arg("--src-cert-dir").arg(d);
                } else {
                    c.arg("--cert-dir").arg(d);
                }
            }
            None if sub == "copy" => {
                c.arg("--src-tls-verify=false");
            }
            None => {
                c.arg("--tls-verify=false");
            }
        }
        c
    }

    /// The sha256 of what the registry serves for `reference` (skopeo inspect --raw).
    fn remote_digest(&self, reference: &str) -> String {
        sha256_digest(&output_ok(
            self.skopeo("inspect")
                .arg("--raw")
                .arg(format!("docker://{reference}")),
        ))
    }

    fn tags(&self, repo: &str) -> Vec<String> {
        let out = output_ok(self.skopeo("list-tags").arg(format!("docker://{repo}")));
        let v: Value = serde_json::from_slice(&out).unwrap();
        v["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    }

    /// Pulls `reference` back with skopeo into a fresh layout and checks every blob's digest.
    fn pull_back_and_verify(&self, reference: &str) -> usize {
        let out_dir = tempfile::tempdir().unwrap();
        let out = self
            .skopeo("copy")
            .args(["--all", "--preserve-digests"])
            .arg(format!("docker://{reference}"))
            .arg(format!("oci:{}:pulled", out_dir.path().display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut n = 0;
        for e in std::fs::read_dir(out_dir.path().join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            assert_eq!(
                sha256_digest(&bytes),
                format!("sha256:{name}"),
                "blob {name}"
            );
            n += 1;
        }
        n
    }

    fn password_free(&self, text: &str) {
        if let Some((_, pass)) = self.reg.credentials() {
            assert!(!text.contains(pass), "the password leaked:\n{text}");
            assert!(
                !text.contains(&b64(pass)),
                "the password leaked (base64):\n{text}"
            );
        }
    }
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn json(r: &Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr))
}

fn push_round_trip(kind: RegistryKind) {
    let p = Project::new(kind);
    // Multi-arch first, then a single-arch image in another repository.
    let index = p.build(&["linux/amd64", "linux/arm64"], "multi");
    let r = p.push(&p.repo("team/app"), &["-t", "v1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p.password_free(&format!("{}{}", r.stdout, r.stderr));
    let out = json(&r);
    assert_eq!(out["digest"], index);
    assert_eq!(out["image"], format!("{}@{index}", p.repo("team/app")));
    assert!(out["bytes_sent"].as_u64().unwrap() > 600_000, "{out}");
    assert_eq!(
        p.remote_digest(&format!("{}:v1", p.repo("team/app"))),
        index
    );
    // Index + 2 manifests + 2 configs + 2 layers.
    assert_eq!(
        p.pull_back_and_verify(&format!("{}@{index}", p.repo("team/app"))),
        7
    );

    // Re-push of the unchanged image: no blob bytes, and the summary says so.
    let r = p.push(&p.repo("team/app"), &["-t", "v1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = json(&r);
    assert_eq!(out["bytes_sent"], 0, "{out}");
    assert_eq!(out["blobs_sent"], 0, "{out}");
    assert_eq!(out["blobs_skipped"], 4, "{out}");
    assert!(r.stderr.contains("sent 0 B"), "{}", r.stderr);

    // Tags from a git tag, the way docker/metadata-action derives them.
    if kind == RegistryKind::Plain {
        let r = p.push(
            &p.repo("team/app"),
            &["--git-ref", "refs/tags/v1.4.2+build.7"],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            r.stderr.contains("1.4.2-build.7"),
            "sanitised with a message: {}",
            r.stderr
        );
        let tags = p.tags(&p.repo("team/app"));
        for t in ["1.4.2-build.7", "1.4", "1", "latest"] {
            assert!(tags.iter().any(|x| x == t), "{t} in {tags:?}");
            assert_eq!(
                p.remote_digest(&format!("{}:{t}", p.repo("team/app"))),
                index
            );
        }
    }

    std::fs::remove_dir_all(p.path().join(".slipway")).unwrap();
    let single = p.build(&["linux/amd64"], "single");
    let r = p.push(&p.repo("team/single"), &["-t", "v2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["digest"], single);
    assert_eq!(
        p.remote_digest(&format!("{}:v2", p.repo("team/single"))),
        single
    );
    assert!(p.pull_back_and_verify(&format!("{}:v2", p.repo("team/single"))) >= 3);
    let state = p.state();
    let rec = state.pushes.last().unwrap();
    assert_eq!(rec.digest.to_string(), single);
    assert_eq!(rec.repository.to_string(), p.repo("team/single"));
    assert_eq!(
        rec.tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        ["v2"]
    );

    // The repository holds the image already (so nothing under it is sent or checked again),
    // but its tag v2 was moved to another image since: a re-push moves it back, and adds v3.
    let mut c = p.skopeo("copy");
    match p.reg.cert_dir() {
        Some(d) => c.arg("--dest-cert-dir").arg(d),
        None => c.arg("--dest-tls-verify=false"),
    };
    output_ok(
        c.args(["-q", "--all"])
            .arg(format!("docker://{}:v1", p.repo("team/app")))
            .arg(format!("docker://{}:v2", p.repo("team/single"))),
    );
    let v2 = format!("{}:v2", p.repo("team/single"));
    assert_eq!(p.remote_digest(&v2), index);
    let r = p.push(&p.repo("team/single"), &["-t", "v2", "-t", "v3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = json(&r);
    assert_eq!(out["bytes_sent"], 0, "{out}");
    assert_eq!(out["blobs_sent"], 0, "{out}");
    assert_eq!(p.remote_digest(&v2), single);
    assert_eq!(
        p.remote_digest(&format!("{}:v3", p.repo("team/single"))),
        single
    );
}

#[test]
fn push_round_trip_plain_registry() {
    push_round_trip(RegistryKind::Plain);
}

#[test]
fn push_round_trip_tls_auth_registry_with_docker_config_credentials() {
    push_round_trip(RegistryKind::TlsAuth);
}

#[test]
fn push_round_trip_tls_token_registry_with_docker_config_credentials() {
    push_round_trip(RegistryKind::TlsToken);
}

#[test]
fn credentials_from_a_docker_credential_helper_on_path() {
    let p = Project::new(RegistryKind::TlsAuth);
    let (user, pass) = p.reg.credentials().unwrap();
    let bin = p.path().join("helpers");
    std::fs::create_dir_all(&bin).unwrap();
    // A credential helper speaking the docker-credential-helpers protocol: `get` reads the
    // server URL on stdin and answers with JSON.
    let helper = bin.join("docker-credential-slipwaytest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"$server\" >> {log}\n\
             case \"$server\" in *{host}*) printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{pass}\"}}' \"$server\";; \
             *) echo 'credentials not found in native keychain'; exit 1;; esac\n",
            log = p.path().join("helper.log").display(),
            host = p.reg.host(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let digest = p.build(&["linux/amd64"], "helper");

    for (i, cfg) in [
        serde_json::json!({ "credHelpers": { p.reg.host(): "slipwaytest" } }),
        serde_json::json!({ "credsStore": "slipwaytest" }),
    ]
    .iter()
    .enumerate()
    {
        p.write_auth_config(cfg);
        let repo = p.repo(&format!("helper/app{i}"));
        let mut c = p.slipway();
        c.env("PATH", &path)
            .args(["--output-format", "json", "push", "--to", &repo])
            .args(p.reg_flags());
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{cfg}: {}", r.stderr);
        p.password_free(&format!("{}{}", r.stdout, r.stderr));
        assert_eq!(json(&r)["digest"], digest);
        let log = std::fs::read_to_string(p.path().join("helper.log")).unwrap();
        assert!(log.contains(&p.reg.host()), "helper asked for {log}");
    }
    // skopeo with the real password confirms what landed.
    p.write_auth_config(&serde_json::json!({
        "auths": { p.reg.host(): { "auth": b64(&format!("{user}:{pass}")) } }
    }));
    assert_eq!(
        p.remote_digest(&format!("{}@{digest}", p.repo("helper/app1"))),
        digest
    );
    let state = std::fs::read_to_string(p.path().join(".slipway/state.json")).unwrap();
    p.password_free(&state);
}

fn write_config(p: &Project, yaml: &str) {
    std::fs::write(p.path().join("slipway.yaml"), yaml).unwrap();
}

fn keyed_sign_push_verify(p: &Project, repo: &str, tag: &str) {
    let mut c = p.slipway();
    c.env("SLIPWAY_PASSWORD", "test-password");
    if !p.path().join("cosign.key").exists() {
        let r = run(c.args(["sign", "generate-key-pair"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut c = p.slipway();
    c.env("SLIPWAY_PASSWORD", "test-password");
    let r = run(c.args(["sign", "--key", "cosign.key"]));
    assert_eq!(r.code, 0, "sign: {}", r.stderr);
    let r = p.push(repo, &["-t", tag]);
    assert_eq!(r.code, 0, "push: {}", r.stderr);
    let r = run(p.slipway().args(["verify", "--key", "cosign.pub"]));
    assert_eq!(r.code, 0, "verify: {}", r.stderr);
}

fn promote(p: &Project, extra: &[&str]) -> Run {
    let mut c = p.slipway();
    c.args(["--output-format", "json", "promote"])
        .args(p.reg_flags())
        .args(extra);
    run(&mut c)
}

#[test]
fn promote_mounts_within_a_registry_streams_to_another_carries_signatures_and_rolls_back() {
    let p = Project::new(RegistryKind::Plain);
    let other = Registry::plain();
    // The scan step is not part of this test: its gate is switched off in the config.
    write_config(&p, "promote:\n  require:\n    scan: false\n");
    let v1 = p.build(&["linux/amd64", "linux/arm64"], "one");
    keyed_sign_push_verify(&p, &p.repo("staging/app"), "v1");
    let hex1 = v1.trim_start_matches("sha256:");
    let (sig_tag, att_tag) = (format!("sha256-{hex1}.sig"), format!("sha256-{hex1}.att"));
    let staging_tags = p.tags(&p.repo("staging/app"));
    assert!(staging_tags.contains(&sig_tag), "{staging_tags:?}");
    assert!(staging_tags.contains(&att_tag), "{staging_tags:?}");

    let prod = p.repo("prod/app");
    let far = format!("{}/prod/app", other.host());
    let far_digest = |tag: &str| {
        let out = Command::new(tool("skopeo"))
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{far}:{tag}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{far}:{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sha256_digest(&out.stdout)
    };
    let far_tags = || {
        let out = Command::new(tool("skopeo"))
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{far}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let both = [
        "--target",
        prod.as_str(),
        "--target",
        far.as_str(),
        "-t",
        "stable",
        "-t",
        "current",
        "--insecure-registry",
        &other.host(),
    ];
    let r = promote(&p, &both);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = json(&r);
    let targets = out["targets"].as_array().unwrap_or_else(|| panic!("{out}"));
    let near = targets.iter().find(|t| t["repository"] == prod).unwrap();
    let remote = targets.iter().find(|t| t["repository"] == far).unwrap();
    assert_eq!(near["bytes_sent"], 0, "same registry mounts: {near}");
    assert!(near["bytes_mounted"].as_u64().unwrap() > 600_000, "{near}");
    assert!(remote["bytes_sent"].as_u64().unwrap() > 600_000, "{remote}");
    assert_eq!(remote["bytes_mounted"], 0, "{remote}");
    for tag in ["stable", "current"] {
        assert_eq!(p.remote_digest(&format!("{prod}:{tag}")), v1);
        assert_eq!(far_digest(tag), v1);
    }
    // Signature and attestation on both targets.
    let prod_tags = p.tags(&prod);
    let far_list = far_tags();
    for t in [&sig_tag, &att_tag] {
        assert!(prod_tags.contains(t), "{t} in {prod_tags:?}");
        assert!(far_list.contains(t.as_str()), "{t} in {far_list}");
    }

    // A second release moves the tags; rollback moves them back everywhere.
    std::fs::remove_dir_all(p.path().join(".slipway/oci")).unwrap();
    let state_file = StateFile::new(p.path().join(".slipway/state.json"));
    state_file
        .update(|s| {
            s.images.clear();
        })
        .unwrap();
    let v2 = p.build(&["linux/amd64", "linux/arm64"], "two");
    assert_ne!(v1, v2);
    keyed_sign_push_verify(&p, &p.repo("staging/app"), "v2");

    // A verification that failed (another key) is recorded, and it is the newest: refused.
    let stranger = tempfile::tempdir().unwrap();
    let r = run(cmd("slipway", stranger.path())
        .env("SLIPWAY_PASSWORD", "x")
        .args(["sign", "generate-key-pair"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(p
        .slipway()
        .args(["verify", "--key"])
        .arg(stranger.path().join("cosign.pub")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let last = p.state().verifications.last().cloned().unwrap();
    assert!(!last.verified, "{last:?}");
    let r = promote(&p, &both);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("did not verify"), "{}", r.stderr);
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v1);

    let r = run(p.slipway().args(["verify", "--key", "cosign.pub"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = promote(&p, &both);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for tag in ["stable", "current"] {
        assert_eq!(p.remote_digest(&format!("{prod}:{tag}")), v2);
        assert_eq!(far_digest(tag), v2);
    }
    // What each tag pointed at before is recorded.
    let state = p.state();
    let rec = state.promotions.last().unwrap();
    assert_eq!(rec.digest.to_string(), v2);
    assert_eq!(rec.targets.len(), 2);
    for t in &rec.targets {
        assert_eq!(t.tags.len(), 2, "{t:?}");
        for m in &t.tags {
            assert_eq!(
                m.previous.as_ref().map(ToString::to_string).as_deref(),
                Some(v1.as_str()),
                "{}:{}",
                t.repository,
                m.tag
            );
        }
    }

    let r = promote(
        &p,
        &[
            "--rollback",
            "--target",
            &prod,
            "--target",
            &far,
            "--insecure-registry",
            &other.host(),
        ],
    );
    assert_eq!(r.code, 0, "rollback: {}", r.stderr);
    for tag in ["stable", "current"] {
        assert_eq!(
            p.remote_digest(&format!("{prod}:{tag}")),
            v1,
            "{prod}:{tag}"
        );
        assert_eq!(far_digest(tag), v1, "{far}:{tag}");
    }
}

#[test]
fn promote_refuses_listing_every_unmet_precondition() {
    let p = Project::new(RegistryKind::Plain);
    let digest = p.build(&["linux/amd64"], "gated");
    let r = p.push(&p.repo("staging/app"), &["-t", "rc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A failed scan verdict for the digest, as slipway-scan-sbom records it; no verification.
    StateFile::new(p.path().join(".slipway/state.json"))
        .update(|s| {
            s.scans.push(ScanRecord {
                digest: digest.parse().unwrap(),
                verdict: Verdict::Fail,
                scanner: "trivy 0.58.1".into(),
                counts: SeverityCounts {
                    critical: 1,
                    ..SeverityCounts::default()
                },
                image: Some("app".into()),
                report: None,
                sboms: Vec::new(),
                blocking: Vec::new(),
                ignored: Vec::new(),
                expiring: Vec::new(),
                at: chrono::Utc::now(),
            });
        })
        .unwrap();
    let prod = p.repo("prod/app");
    let r = promote(&p, &["--target", &prod, "-t", "stable"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("scan verdict") && r.stderr.contains("fail"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("signature"), "{}", r.stderr);
    assert!(!p.tags_exist(&prod), "nothing may be promoted");

    // A digest that was never pushed through slipway (copied by hand) is refused for that too.
    let stray = format!("{}/elsewhere/app", p.reg.host());
    let out = Command::new(tool("skopeo"))
        .args(["copy", "--dest-tls-verify=false"])
        .arg(format!("docker://{}@{digest}", p.repo("staging/app")))
        .arg(format!("docker://{stray}:x"))
        .args(["--src-tls-verify=false"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = promote(
        &p,
        &[
            "--from",
            &format!("{stray}:x"),
            "--target",
            &prod,
            "-t",
            "stable",
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    for reason in ["scan", "signature", "pushed"] {
        assert!(r.stderr.contains(reason), "{reason}: {}", r.stderr);
    }
    assert!(!p.tags_exist(&prod));
}

impl Project {
    /// Whether the registry knows `repo` at all (anything promoted there makes it known).
    fn tags_exist(&self, repo: &str) -> bool {
        list_tags(self.skopeo("list-tags"), repo).is_some()
    }
}

/// How skopeo reports Docker Distribution's answer to the tags of a repository it does not have
/// (404 with `NAME_UNKNOWN`, "repository name not known to registry"): skopeo 1.9 prints only
/// the status of `GET /v2/NAME/tags/list`, later versions the registry's message.
const NAME_UNKNOWN: [&str; 2] = [
    "fetching tags list: invalid status code from registry 404 (Not Found)",
    "repository name not known to registry",
];

/// The tags of `repo` as `skopeo list-tags` (`c`, with its trust flags) lists them; `None` when
/// the registry says there is no such repository. Any other failure (TLS, connection, a wrong
/// flag) says nothing about what was pushed, so it panics.
fn list_tags(mut c: Command, repo: &str) -> Option<Vec<String>> {
    let out = c.arg(format!("docker://{repo}")).output().unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            NAME_UNKNOWN.iter().any(|m| err.contains(m)),
            "skopeo list-tags {repo} failed, and not because the repository is unknown: {err}"
        );
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        v["Tags"]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default(),
    )
}

#[test]
fn faults_in_front_of_the_registry_are_survived_and_every_digest_verifies() {
    let p = Project::new(RegistryKind::Plain);
    let digest = p.build(&["linux/amd64", "linux/arm64"], "faults");
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![
            // A layer (~300 kB; configs are < 1 kB), cut off a third of the way through.
            Fault::new("PUT", "/blobs/uploads/", FaultAction::ResetAfter(100_000))
                .min_body(200_000),
            Fault::new("PUT", "/manifests/", FaultAction::Status(500)).with_body(),
            Fault::new("HEAD", "/blobs/", FaultAction::TooManyRequests(1)),
        ],
    );
    let repo = format!("{}/faulty/app", proxy.host());
    let mut c = p.slipway();
    c.args(["--output-format", "json", "push", "--to", &repo, "-t", "v1"])
        .args(["--insecure-registry", &proxy.host(), "--jobs", "1"]);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}\n{:#?}", r.stderr, proxy.log());
    for i in 0..3 {
        assert_eq!(proxy.fired(i), 1, "fault {i} fired: {:#?}", proxy.log());
    }
    let reqs = proxy.requests();
    // The reset really cut a blob body short.
    let reset = reqs
        .iter()
        .find(|l| l.fault.is_some_and(|(i, _)| i == 0))
        .unwrap();
    let (got, len) = (reset.body_received.unwrap(), reset.content_length.unwrap());
    assert!(
        got > 0 && got < len,
        "reset after {got} of {len} body bytes: {:#?}",
        proxy.log()
    );
    // The blob was then sent again, whole, and stored.
    let retried = reqs
        .iter()
        .skip_while(|l| l.fault.is_none_or(|(i, _)| i != 0))
        .skip(1)
        .any(|l| {
            l.method == "PUT"
                && l.content_length == Some(len)
                && l.fault.is_none()
                && l.status == Some(201)
        });
    assert!(retried, "{:#?}", proxy.log());
    // Retry-After: 1 was honoured: the next request came at least a second after the 429.
    let i429 = reqs
        .iter()
        .position(|l| l.fault.is_some_and(|(i, _)| i == 2))
        .unwrap();
    let next = reqs[i429 + 1..]
        .iter()
        .find(|l| l.method == "HEAD" && l.path == reqs[i429].path)
        .expect("the HEAD was asked again");
    assert!(
        next.at.duration_since(reqs[i429].at) >= std::time::Duration::from_secs(1),
        "retried {:?} after the 429",
        next.at.duration_since(reqs[i429].at)
    );
    assert!(json(&r)["retries"].as_u64().unwrap() >= 3, "{}", r.stdout);
    assert_eq!(
        p.remote_digest(&format!("{}/faulty/app:v1", p.reg.host())),
        digest
    );
    assert_eq!(
        p.pull_back_and_verify(&format!("{}/faulty/app@{digest}", p.reg.host())),
        7
    );
    // Manifests only after every blob, the index last.
    let order: Vec<&slipway_test::Logged> = reqs
        .iter()
        .filter(|l| l.method == "PUT" && l.status.is_some_and(|s| s < 300))
        .collect();
    let first_manifest = order
        .iter()
        .position(|l| l.path.contains("/manifests/"))
        .unwrap();
    assert!(
        order[first_manifest..]
            .iter()
            .all(|l| l.path.contains("/manifests/")),
        "{:#?}",
        proxy.log()
    );
    assert!(
        order.last().unwrap().path.ends_with("/manifests/v1"),
        "the index (tag v1) comes last: {:#?}",
        proxy.log()
    );
}

#[test]
fn a_registry_that_stalls_after_taking_the_body_gives_up_within_the_retry_budget() {
    let p = Project::new(RegistryKind::Plain);
    p.build(&["linux/amd64"], "stall");
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![
            Fault::new("PUT", "/manifests/", FaultAction::Stall)
                .with_body()
                .times(100),
        ],
    );
    let repo = format!("{}/stalled/app", proxy.host());
    let mut c = p.slipway();
    c.args(["push", "--to", &repo, "-t", "v1"])
        .args(["--insecure-registry", &proxy.host()])
        .args(["--retries", "5", "--retry-seconds", "3"]);
    // A generous guard so a regression fails the test instead of hanging it.
    let r = run_with_timeout(&mut c, std::time::Duration::from_secs(120));
    assert_eq!(r.code, 3, "{}\n{:#?}", r.stderr, proxy.log());
    assert!(proxy.fired(0) >= 1, "{:#?}", proxy.log());
    assert!(
        r.stderr.contains("sent no answer within"),
        "says it waited in vain: {}",
        r.stderr
    );
    assert!(r.stderr.contains("--retry-seconds"), "{}", r.stderr);
    assert!(p.state().pushes.is_empty());

    // A blob upload that stalls is caught by the idle timeout (--timeout).
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![
            Fault::new("PUT", "/blobs/uploads/", FaultAction::Stall)
                .with_body()
                .times(100),
        ],
    );
    let repo = format!("{}/stalled/blobs", proxy.host());
    let mut c = p.slipway();
    c.args(["push", "--to", &repo])
        .args(["--insecure-registry", &proxy.host()])
        .args(["--retries", "1", "--timeout", "2"]);
    let r = run_with_timeout(&mut c, std::time::Duration::from_secs(120));
    assert_eq!(r.code, 3, "{}\n{:#?}", r.stderr, proxy.log());
    assert!(proxy.fired(0) >= 1, "{:#?}", proxy.log());
    assert!(p.state().pushes.is_empty());
}

/// Runs `c`, killing it if it is still running after `limit` (then panics).
fn run_with_timeout(c: &mut Command, limit: std::time::Duration) -> Run {
    use std::process::Stdio;
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap().into();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn registry_down_exits_3_after_bounded_retries_and_records_nothing() {
    let p = Project::new(RegistryKind::Plain);
    p.build(&["linux/amd64"], "down");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    write_config(
        &p,
        "push:\n  transfer:\n    attempts: 3\n    retry_seconds: 5\n",
    );
    let started = std::time::Instant::now();
    let mut c = p.slipway();
    c.args([
        "push",
        "--to",
        &format!("{host}/app"),
        "--insecure-registry",
        &host,
    ]);
    let r = run(&mut c);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&host), "{}", r.stderr);
    assert!(
        r.stderr.contains("attempt"),
        "says it retried: {}",
        r.stderr
    );
    assert!(started.elapsed().as_secs() < 60);
    assert!(p.state().pushes.is_empty());
    let v = run(p
        .slipway()
        .args(["state", "validate", ".slipway/state.json"]));
    assert_eq!(v.code, 0, "{}", v.stderr);
}

#[test]
fn bad_input_is_named_with_the_right_exit_code() {
    let p = Project::new(RegistryKind::TlsAuth);
    p.build(&["linux/amd64"], "bad");
    let repo = p.repo("bad/app");

    let r = p.push("Not A/Reference::", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--to"), "{}", r.stderr);

    let r = p.push(&repo, &["-t", "bad tag!"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bad tag!"), "{}", r.stderr);

    let r = promote(
        &p,
        &[
            "--from",
            &format!("{}/nothing/here:missing", p.reg.host()),
            "--target",
            &repo,
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("unknown promote source"), "{}", r.stderr);

    // Wrong password, through the environment.
    let mut c = p.slipway();
    c.env("SLIPWAY_REGISTRY_USERNAME", p.reg.credentials().unwrap().0)
        .env("SLIPWAY_REGISTRY_PASSWORD", "not-the-password")
        .args(["push", "--to", &repo])
        .args(p.reg_flags());
    let r = run(&mut c);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.to_lowercase().contains("unauthorized"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("not-the-password"));

    // TLS without the CA.
    let r = run(p.slipway().args(["push", "--to", &repo]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("--ca-file"), "{}", r.stderr);
    assert!(p.state().pushes.is_empty());

    // A machine whose system trust store cannot be read at all: a TLS failure that says so
    // (not retried as an unreachable registry), and the registry's CA given with --ca-file
    // is then enough.
    let empty = p.path().join("no-certs");
    std::fs::create_dir_all(&empty).unwrap();
    let no_roots = |c: &mut Command| {
        c.env("SSL_CERT_FILE", empty.join("none.pem"))
            .env("SSL_CERT_DIR", &empty);
    };
    let mut c = p.slipway();
    no_roots(&mut c);
    let r = run(c.args(["push", "--to", &repo, "--retries", "3"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("TLS connection"), "{}", r.stderr);
    assert!(r.stderr.contains("no CA roots"), "{}", r.stderr);
    assert!(r.stderr.contains("--ca-file"), "{}", r.stderr);
    assert!(!r.stderr.contains("retry"), "not retried: {}", r.stderr);
    let mut c = p.slipway();
    no_roots(&mut c);
    let r = run(c.args(["push", "--to", &repo]).args(p.reg_flags()));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn pushed_signatures_and_attestations_are_in_the_registry_and_verify_there() {
    let p = Project::new(RegistryKind::TlsAuth);
    let index = p.build(&["linux/amd64", "linux/arm64"], "signed");
    let mut c = p.slipway();
    c.env("SLIPWAY_PASSWORD", "test-password");
    assert_eq!(run(c.args(["sign", "generate-key-pair"])).code, 0);
    let mut c = p.slipway();
    c.env("SLIPWAY_PASSWORD", "test-password");
    let r = run(c.args(["sign", "--key", "cosign.key", "--recursive"]));
    assert_eq!(r.code, 0, "sign: {}", r.stderr);
    let repo = p.repo("signed/app");
    let r = p.push(&repo, &["-t", "v1"]);
    assert_eq!(r.code, 0, "push: {}", r.stderr);
    assert_eq!(
        json(&r)["artifacts"].as_array().unwrap().len(),
        6,
        "{}",
        r.stdout
    );

    // The cosign tags exist and hold what cosign writes (see docs/signing.md for the sources).
    let hex = index.trim_start_matches("sha256:");
    let tags = p.tags(&repo);
    for suffix in ["sig", "att"] {
        let tag = format!("sha256-{hex}.{suffix}");
        assert!(tags.contains(&tag), "{tag} in {tags:?}");
        let out = p
            .skopeo("inspect")
            .arg("--raw")
            .arg(format!("docker://{repo}:{tag}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
        let layer = &m["layers"][0];
        if suffix == "sig" {
            assert_eq!(
                layer["mediaType"],
                "application/vnd.dev.cosign.simplesigning.v1+json"
            );
            assert!(layer["annotations"]["dev.cosignproject.cosign/signature"].is_string());
        } else {
            assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
            assert_eq!(
                layer["annotations"]["predicateType"],
                "https://slsa.dev/provenance/v1"
            );
        }
    }

    // slipway verify reads them from the registry, recursively.
    let reference = format!("{repo}:v1");
    let mut c = p.slipway();
    c.args(["verify", "--key", "cosign.pub", "--recursive", &reference])
        .args(p.reg_flags());
    let r = run(&mut c);
    assert_eq!(r.code, 0, "verify: {}", r.stderr);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("verified"))
            .count(),
        3,
        "{}",
        r.stdout
    );
    let state = p.state();
    let last = state.verifications.last().unwrap();
    assert!(last.verified && last.location == repo, "{last:?}");

    // Another key does not verify them.
    let other = tempfile::tempdir().unwrap();
    let mut c = cmd("slipway", other.path());
    c.env("SLIPWAY_PASSWORD", "x");
    assert_eq!(run(c.args(["sign", "generate-key-pair"])).code, 0);
    let mut c = p.slipway();
    c.args(["verify", "--key"])
        .arg(other.path().join("cosign.pub"))
        .arg(&reference)
        .args(p.reg_flags());
    let r = run(&mut c);
    assert_eq!(r.code, 1, "{}", r.stderr);
}

#[test]
fn chunked_uploads_resume_from_the_registry_range_after_a_reset() {
    let p = Project::new(RegistryKind::Plain);
    let digest = p.build(&["linux/amd64"], "chunks");
    // The third chunk of the layer is cut: the registry holds two chunks by then.
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![
            Fault::new("PATCH", "/blobs/uploads/", FaultAction::ResetAfter(10_000))
                .with_body()
                .skip(2),
        ],
    );
    let repo = format!("{}/chunked/app", proxy.host());
    let mut c = p.slipway();
    c.args(["--output-format", "json", "push", "--to", &repo, "-t", "v1"])
        .args([
            "--insecure-registry",
            &proxy.host(),
            "--chunk-size",
            "64KiB",
            "--jobs",
            "1",
        ]);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}\n{:#?}", r.stderr, proxy.log());
    assert_eq!(proxy.fired(0), 1, "{:#?}", proxy.log());
    let reqs = proxy.requests();
    let log = proxy.log();
    let fault_at = reqs.iter().position(|l| l.fault.is_some()).unwrap();
    assert_eq!(
        reqs[fault_at].content_range.as_deref(),
        Some("131072-196607"),
        "the third chunk was cut: {log:#?}"
    );
    // Then the upload asked the registry where it stands and went on from there.
    let status = reqs[fault_at..]
        .iter()
        .find(|l| l.method == "GET" && l.path.contains("/blobs/uploads/"))
        .unwrap_or_else(|| panic!("no status GET: {log:#?}"));
    let held = status.response_range.as_deref().unwrap();
    let end: u64 = held.rsplit('-').next().unwrap().parse().unwrap();
    assert!(end + 1 >= 131_072, "the registry held {held}: {log:#?}");
    let resumed = reqs[fault_at..]
        .iter()
        .find(|l| l.method == "PATCH" && l.fault.is_none())
        .unwrap();
    let start: u64 = resumed
        .content_range
        .as_deref()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(start, end + 1, "resumed where the registry stood: {log:#?}");
    assert_eq!(
        resumed.path, reqs[fault_at].path,
        "the same upload session: {log:#?}"
    );
    // One upload session per blob sent (the interrupted one was reused).
    let posts = reqs
        .iter()
        .filter(|l| l.method == "POST" && l.path.contains("/blobs/uploads/"))
        .count();
    assert_eq!(
        posts as u64,
        json(&r)["blobs_sent"].as_u64().unwrap(),
        "{log:#?}"
    );
    let patches = reqs.iter().filter(|l| l.method == "PATCH").count();
    assert!(patches >= 5, "a 300 kB layer in 64 KiB chunks: {log:#?}");
    assert_eq!(
        p.remote_digest(&format!("{}/chunked/app:v1", p.reg.host())),
        digest
    );
    assert!(p.pull_back_and_verify(&format!("{}/chunked/app:v1", p.reg.host())) >= 3);
}

#[test]
fn the_five_step_binaries_in_sequence_against_the_tls_auth_registry() {
    let p = Project::new(RegistryKind::TlsAuth);
    std::fs::create_dir_all(p.path().join("bin")).unwrap();
    std::fs::write(
        p.path().join("bin/app-linux-amd64"),
        b"#!/bin/sh\necho amd64\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("bin/app-linux-arm64"),
        b"#!/bin/sh\necho arm64\n",
    )
    .unwrap();
    let step = |bin: &str, args: &[&str]| {
        let mut c = cmd(bin, p.path());
        c.env("DOCKER_CONFIG", p.docker_config())
            .env("SLIPWAY_PASSWORD", "e2e-password")
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    tool("trivy").parent().unwrap().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .env("TRIVY_CACHE_DIR", p.path().join("trivy-cache"))
            .args(args);
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{bin} {args:?}: {}", r.stderr);
        p.password_free(&format!("{}{}", r.stdout, r.stderr));
        r
    };
    let ca = p
        .reg
        .cert_dir()
        .unwrap()
        .join("ca.crt")
        .display()
        .to_string();
    let staging = p.repo("staging/app");
    let prod = p.repo("prod/app");
    step(
        "slipway-build",
        &[
            "--name",
            "app",
            "--binary",
            "bin/app-{os}-{arch}",
            "--platform",
            "linux/amd64,linux/arm64",
        ],
    );
    let built = p.state().images["app"]
        .index
        .as_ref()
        .unwrap()
        .digest
        .to_string();
    step(
        "slipway-scan-sbom",
        &["--scanner", "trivy", "--scanners", "secret"],
    );
    step("slipway", &["sign", "generate-key-pair"]);
    step("slipway-sign", &["--key", "cosign.key", "--recursive"]);
    step(
        "slipway-push",
        &["--to", &staging, "--ca-file", &ca, "-t", "rc"],
    );
    step(
        "slipway",
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--ca-file",
            &ca,
            &format!("{staging}:rc"),
        ],
    );
    step(
        "slipway-promote",
        &["--target", &prod, "-t", "stable", "--ca-file", &ca],
    );
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), built);
    assert!(p.tags(&prod).contains(&format!(
        "sha256-{}.sig",
        built.trim_start_matches("sha256:")
    )));
    let state = std::fs::read_to_string(p.path().join(".slipway/state.json")).unwrap();
    p.password_free(&state);
    let r = run(cmd("slipway", p.path()).args(["state", "validate", ".slipway/state.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // And an independent validator accepts it against the published schema.
    let (ok, out) = slipway_test::check_jsonschema(
        &slipway_test::state_schema(),
        &p.path().join(".slipway/state.json"),
    );
    assert!(ok, "check-jsonschema: {out}");
}

#[test]
fn promote_within_a_token_auth_registry_mounts_every_blob_with_one_token_for_both_repositories() {
    // Regression: the mount asked for a token for the target only, and a token registry
    // (GHCR, Docker Hub, Harbor) refused it for lack of `pull` on the source.
    let p = Project::new(RegistryKind::TlsToken);
    write_config(&p, "promote:\n  require:\n    scan: false\n");
    let v1 = p.build(&["linux/amd64", "linux/arm64"], "token");
    let staging = p.repo("team/app");
    keyed_sign_push_verify(&p, &staging, "v1");
    let prod = p.repo("prod/app");
    let r = promote(&p, &["--target", &prod, "-t", "stable"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    p.password_free(&format!("{}{}", r.stdout, r.stderr));
    let out = json(&r);
    let t = &out["targets"][0];
    assert_eq!(t["bytes_sent"], 0, "every blob mounted: {t}");
    assert!(t["bytes_mounted"].as_u64().unwrap() > 600_000, "{t}");
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v1);
    let sig = format!("sha256-{}.sig", v1.trim_start_matches("sha256:"));
    assert!(p.tags(&prod).contains(&sig));
    assert_eq!(
        p.pull_back_and_verify(&format!("{prod}@{v1}")),
        7,
        "everything mounted is readable"
    );
    let asked = p.reg.token_server().unwrap().requests();
    assert!(
        asked.iter().any(|r| r.issued
            && r.scopes
                .contains(&"repository:prod/app:pull,push".to_owned())
            && r.scopes.contains(&"repository:team/app:pull".to_owned())),
        "one token for both repositories: {asked:#?}"
    );
}

#[test]
fn credentials_are_not_sent_to_a_plain_http_token_realm_of_an_https_registry() {
    // Regression: the password went to whatever realm the registry's challenge named, in clear
    // when that was http:// (a misconfigured registry, or a man in the middle).
    let p = Project::new(RegistryKind::TlsTokenPlainRealm);
    let digest = p.build(&["linux/amd64"], "realm");
    let tokens = p.reg.token_server().unwrap();
    let realm = tokens.realm();
    assert!(realm.starts_with("http://"), "{realm}");
    let repo = p.repo("team/app");
    let r = p.push(&repo, &["-t", "v1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("`{realm}`")) && r.stderr.contains("not HTTPS"),
        "names the realm: {}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("--insecure-registry {}", tokens.host())),
        "{}",
        r.stderr
    );
    assert_eq!(tokens.requests(), vec![], "nothing was sent to the realm");
    p.password_free(&format!("{}{}", r.stdout, r.stderr));
    assert!(p.state().pushes.is_empty());

    // A realm host named with --insecure-registry is the user's call: the push goes through.
    let r = p.push(&repo, &["-t", "v1", "--insecure-registry", &tokens.host()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["digest"], digest);
    let asked = tokens.requests();
    assert!(
        asked
            .iter()
            .any(|q| q.issued && q.username.as_deref() == p.reg.credentials().map(|c| c.0)),
        "{asked:#?}"
    );
}

#[test]
fn a_refused_mount_falls_back_to_streaming_the_blob() {
    let p = Project::new(RegistryKind::Plain);
    write_config(
        &p,
        "promote:\n  require:\n    scan: false\n    signature: false\n",
    );
    let digest = p.build(&["linux/amd64"], "nomount");
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![
            Fault::new("POST", "/blobs/uploads/", FaultAction::Status(403))
                .query("mount=")
                .times(100),
        ],
    );
    let flags = ["--insecure-registry".to_owned(), proxy.host()];
    let mut c = p.slipway();
    c.args(["push", "--to", &format!("{}/staging/app", proxy.host())])
        .args(&flags);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut c = p.slipway();
    c.args(["--output-format", "json", "promote", "-t", "stable"])
        .args(["--target", &format!("{}/prod/app", proxy.host())])
        .args(&flags);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}\n{:#?}", r.stderr, proxy.log());
    assert!(
        proxy.fired(0) >= 2,
        "mounts were refused: {:#?}",
        proxy.log()
    );
    let t = &json(&r)["targets"][0];
    assert_eq!(t["bytes_mounted"], 0, "{t}");
    assert!(t["bytes_sent"].as_u64().unwrap() > 300_000, "streamed: {t}");
    let prod = p.repo("prod/app");
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), digest);
    assert!(p.pull_back_and_verify(&format!("{prod}:stable")) >= 3);
}

/// `dir/.slipway` copied to a new directory: the same built image, unsigned, in a fresh layout.
fn fresh_copy(p: &Project) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let st = Command::new("cp")
        .arg("-r")
        .arg(p.path().join(".slipway"))
        .arg(d.path())
        .status()
        .unwrap();
    assert!(st.success());
    d
}

/// Generates a key pair in `dir` and signs the image of its state with it.
fn sign_in(dir: &Path) {
    for args in [
        &["sign", "generate-key-pair"][..],
        &["sign", "--key", "cosign.key"][..],
    ] {
        let r = run(cmd("slipway", dir).env("SLIPWAY_PASSWORD", "pw").args(args));
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    }
}

impl Project {
    /// `slipway verify --key KEY REF` against the registry.
    fn verify_remote(&self, key: &Path, reference: &str) -> Run {
        let mut c = self.slipway();
        c.args(["verify", "--key"])
            .arg(key)
            .arg(reference)
            .args(self.reg_flags());
        run(&mut c)
    }

    /// The layers of the manifest at `reference`, as the registry serves it.
    fn layers(&self, reference: &str) -> Vec<Value> {
        let out = self
            .skopeo("inspect")
            .arg("--raw")
            .arg(format!("docker://{reference}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m: Value = serde_json::from_slice(&out.stdout).unwrap();
        m["layers"].as_array().unwrap().clone()
    }
}

const SIG_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

#[test]
fn signatures_other_signers_put_in_the_registry_are_kept_on_push_and_promote() {
    // Regression: push and promote replaced the remote `.sig` with the layout's, dropping
    // the signatures other signers had added (cosign appends).
    let p = Project::new(RegistryKind::Plain);
    write_config(&p, "promote:\n  require:\n    scan: false\n");
    let digest = p.build(&["linux/amd64"], "union");
    let (b, c) = (fresh_copy(&p), fresh_copy(&p));
    let staging = p.repo("staging/app");
    let prod = p.repo("prod/app");
    let sig = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let push_from = |dir: &Path, repo: &str| {
        let r = run(cmd("slipway", dir)
            .args(["push", "--to", repo, "-t", "v1"])
            .args(p.reg_flags()));
        assert_eq!(r.code, 0, "{}", r.stderr);
    };

    sign_in(p.path());
    push_from(p.path(), &staging);
    sign_in(b.path());
    push_from(b.path(), &staging);
    for key in [p.path(), b.path()] {
        let r = p.verify_remote(&key.join("cosign.pub"), &format!("{staging}:v1"));
        assert_eq!(r.code, 0, "key of {}: {}", key.display(), r.stderr);
    }
    let layers = p.layers(&format!("{staging}:{sig}"));
    assert_eq!(layers.len(), 2, "{layers:#?}");
    assert_ne!(
        layers[0]["annotations"][SIG_ANNOTATION],
        layers[1]["annotations"][SIG_ANNOTATION]
    );
    // The first signer's entry comes first, as cosign appends.
    let own = Project::layout_sig_layers(p.path(), &sig);
    assert_eq!(layers[0]["annotations"], own[0]["annotations"]);
    // Pushing the first signer's layout again leaves both in place.
    push_from(p.path(), &staging);
    assert_eq!(p.layers(&format!("{staging}:{sig}")).len(), 2);

    // A third signer's signature is already on the promotion target.
    sign_in(c.path());
    push_from(c.path(), &prod);
    let r = run(p.slipway().args(["verify", "--key", "cosign.pub"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = promote(&p, &["--target", &prod, "-t", "stable"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let layers = p.layers(&format!("{prod}:{sig}"));
    assert_eq!(layers.len(), 3, "theirs, then ours: {layers:#?}");
    let theirs = Project::layout_sig_layers(c.path(), &sig);
    assert_eq!(layers[0]["annotations"], theirs[0]["annotations"]);
    for key in [p.path(), b.path(), c.path()] {
        let r = p.verify_remote(&key.join("cosign.pub"), &format!("{prod}:stable"));
        assert_eq!(r.code, 0, "key of {}: {}", key.display(), r.stderr);
    }
}

#[test]
fn a_sig_tag_in_the_registry_that_cannot_be_merged_stops_push_with_exit_3_and_stays() {
    // Regression: an index at the target's `.sig` tag made every push fail with exit 2, as if
    // the user's input were bad, while the docs said such a tag was overwritten.
    let p = Project::new(RegistryKind::Plain);
    let digest = p.build(&["linux/amd64", "linux/arm64"], "unmergeable");
    let repo = p.repo("team/app");
    let r = p.push(&repo, &["-t", "v1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sig = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    // Not the image manifest cosign keeps signatures in: the image's own index.
    let out = p
        .skopeo("copy")
        .args(["--all", "--preserve-digests", "--dest-tls-verify=false"])
        .arg(format!("docker://{repo}:v1"))
        .arg(format!("docker://{repo}:{sig}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sign_in(p.path());
    let r = p.push(&repo, &["-t", "v1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains(&sig) && r.stderr.contains("is an index"),
        "names the tag and why: {}",
        r.stderr
    );
    assert!(r.stderr.contains("hint:"), "{}", r.stderr);
    assert_eq!(
        p.remote_digest(&format!("{repo}:{sig}")),
        digest,
        "the tag is left as it was"
    );
    assert_eq!(p.state().pushes.len(), 1, "the failed push is not recorded");
}

impl Project {
    /// The layers of the `.sig` manifest named `sig` in the layout under `dir`.
    fn layout_sig_layers(dir: &Path, sig: &str) -> Vec<Value> {
        let layout = dir.join(".slipway/oci");
        let index = common::read_json(&layout.join("index.json"));
        let desc = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == sig)
            .unwrap_or_else(|| panic!("{sig} in {index}"));
        let hex = desc["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let m = common::read_json(&layout.join("blobs/sha256").join(hex));
        m["layers"].as_array().unwrap().clone()
    }
}

/// A captured sysfs/etc/proc tree of a machine (as the runner tests make them).
fn machine_tree(root: &Path) {
    let w = |p: &str, v: &str| {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, format!("{v}\n")).unwrap();
    };
    w(
        "sys/class/dmi/id/product_uuid",
        "4C4C4544-0042-3510-8052-B7C04F4E3132",
    );
    w("etc/machine-id", "0f8d3c1e6b2a4e9f8c7d6e5f4a3b2c1d");
    w("sys/class/net/eth0/address", "52:54:00:12:34:56");
    std::fs::create_dir_all(root.join("sys/class/net/eth0/device")).unwrap();
}

#[test]
fn promote_checks_the_runner_policy_as_one_of_its_gates() {
    let p = Project::new(RegistryKind::Plain);
    let digest = p.build(&["linux/amd64"], "runner");
    let staging = p.repo("staging/app");
    let r = p.push(&staging, &["-t", "rc"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let machine = p.path().join("machine");
    machine_tree(&machine);
    let prod = p.repo("prod/app");
    let promote_here = |extra: &[&str]| {
        let mut c = p.slipway();
        c.env("SLIPWAY_FINGERPRINT_ROOT", &machine)
            .args(["--output-format", "json", "promote", "--target", &prod])
            .args(["-t", "stable"])
            .args(p.reg_flags())
            .args(extra);
        run(&mut c)
    };
    let deny = "runners:\n  allow:\n    - name: someone-else\n      fingerprint: sha256:0000000000000000000000000000000000000000000000000000000000000000\n";

    // Not listed: exit 1, every unmet gate named (the runner among them), nothing promoted.
    write_config(
        &p,
        &format!("{deny}promote:\n  require:\n    scan: false\n"),
    );
    let r = promote_here(&[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("runner not allowed"), "{}", r.stderr);
    assert!(
        r.stderr.contains("signature:"),
        "the other unmet gate too: {}",
        r.stderr
    );
    assert!(!p.tags_exist(&prod), "the registry is unchanged");

    // --dry-run shows the whole plan with the runner as a gate.
    let r = promote_here(&["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let gates = json(&r)["gates"].clone();
    let runner = gates
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "runner")
        .unwrap();
    assert_eq!(runner["met"], false, "{gates}");
    assert_eq!(runner["required"], true, "{gates}");
    assert!(
        runner["detail"]
            .as_str()
            .unwrap()
            .contains("runner not allowed")
    );
    assert!(!p.tags_exist(&prod));

    // require.runner: false is honoured, with a warning; the other gates still apply.
    write_config(
        &p,
        &format!("{deny}promote:\n  require:\n    scan: false\n    runner: false\n"),
    );
    let r = promote_here(&["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("does not bind promote"), "{}", r.stderr);
    let out = json(&r);
    let sig_gate = out["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "signature")
        .unwrap();
    assert_eq!(sig_gate["met"], false, "{out}");
    assert!(!p.tags_exist(&prod));

    // Listed: it proceeds.
    let fp = run(p
        .slipway()
        .args(["--output-format", "json", "runner", "fingerprint", "--root"])
        .arg(&machine));
    assert_eq!(fp.code, 0, "{}", fp.stderr);
    let fp: Value = serde_json::from_str(&fp.stdout).unwrap();
    write_config(
        &p,
        &format!(
            "runners:\n  allow:\n    - name: release-01\n      fingerprint: {}\npromote:\n  require:\n    scan: false\n    signature: false\n",
            fp["fingerprint"].as_str().unwrap()
        ),
    );
    let r = promote_here(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), digest);
    let state = p.state();
    let last = state.runners.last().unwrap();
    assert_eq!(last.allowed, Some(true));
    assert_eq!(last.entry.as_deref(), Some("release-01"));
}

#[test]
fn a_denied_runner_is_refused_before_any_registry_is_asked_even_when_they_are_down() {
    // Regression: promote resolved the source, read manifests and tags (with the registry
    // credentials) before the runner gate said no, so a registry down came out as exit 3.
    let p = Project::new(RegistryKind::Plain);
    let staging_reg = Registry::plain();
    let digest = p.build(&["linux/amd64"], "denied");
    let staging = format!("{}/staging/app", staging_reg.host());
    let r = p.push(
        &staging,
        &["-t", "rc", "--insecure-registry", &staging_reg.host()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    StateFile::new(p.path().join(".slipway/state.json"))
        .update(|s| {
            // A promotion to roll back, to the same registry.
            s.promotions.push(slipway_state::PromotionRecord {
                digest: digest.parse().unwrap(),
                source: Some(staging.parse().unwrap()),
                targets: vec![slipway_state::PromotionTarget {
                    repository: format!("{}/prod/app", staging_reg.host()).parse().unwrap(),
                    tags: vec![slipway_state::TagMove {
                        tag: "stable".parse().unwrap(),
                        previous: Some(digest.parse().unwrap()),
                    }],
                }],
                rollback: false,
                at: chrono::Utc::now(),
            });
        })
        .unwrap();
    let down = staging_reg.host();
    drop(staging_reg);
    let machine = p.path().join("machine");
    machine_tree(&machine);
    write_config(
        &p,
        "runners:\n  allow:\n    - name: someone-else\n      fingerprint: sha256:0000000000000000000000000000000000000000000000000000000000000000\npromote:\n  require:\n    scan: false\n",
    );
    let prod = format!("{down}/prod/app");
    for (i, extra) in [
        &["--target", prod.as_str(), "-t", "stable"][..],
        &["--from", &format!("{staging}:rc"), "--target", &prod][..],
        &["--rollback"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let started = std::time::Instant::now();
        let mut c = p.slipway();
        c.env("SLIPWAY_FINGERPRINT_ROOT", &machine)
            .args(["promote", "--insecure-registry", &down])
            .args(extra);
        let r = run(&mut c);
        assert_eq!(r.code, 1, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains("runner not allowed"), "{}", r.stderr);
        assert!(
            !r.stderr.contains(&down),
            "{extra:?}: no registry was asked: {}",
            r.stderr
        );
        assert!(started.elapsed().as_secs() < 20, "no retries");
        if i == 0 {
            // The gates the state decides are named too.
            assert!(r.stderr.contains("signature:"), "{}", r.stderr);
        }
    }
    assert_eq!(p.state().promotions.len(), 1, "nothing promoted");
}

impl Project {
    /// The tags of `repo`, empty when the registry says the repository does not exist.
    fn tags_or_none(&self, repo: &str) -> Vec<String> {
        list_tags(self.skopeo("list-tags"), repo).unwrap_or_default()
    }
}

#[test]
fn credentials_from_password_stdin_and_the_auth_file_precedence() {
    use std::io::Write;
    use std::process::Stdio;
    let p = Project::new(RegistryKind::TlsAuth);
    let (user, pass) = p.reg.credentials().unwrap();
    let digest = p.build(&["linux/amd64"], "stdin");
    // No credentials anywhere but stdin.
    p.write_auth_config(&serde_json::json!({}));
    let repo = p.repo("stdin/app");
    let mut c = p.slipway();
    c.args([
        "--output-format",
        "json",
        "push",
        "--to",
        &repo,
        "--username",
        user,
    ])
    .arg("--password-stdin")
    .args(p.reg_flags())
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{pass}\n").as_bytes())
        .unwrap();
    let r: Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["digest"], digest);
    p.password_free(&format!("{}{}", r.stdout, r.stderr));
    p.password_free(&std::fs::read_to_string(p.path().join(".slipway/state.json")).unwrap());

    // REGISTRY_AUTH_FILE wins over DOCKER_CONFIG (which holds a wrong password here).
    p.write_auth_config(&serde_json::json!({
        "auths": { p.reg.host(): { "auth": b64(&format!("{user}:wrong")) } }
    }));
    let auth_file = p.path().join("auth.json");
    std::fs::write(
        &auth_file,
        serde_json::json!({"auths": { p.reg.host(): { "auth": b64(&format!("{user}:{pass}")) } }})
            .to_string(),
    )
    .unwrap();
    let mut c = p.slipway();
    c.env("REGISTRY_AUTH_FILE", &auth_file)
        .args(["push", "--to", &p.repo("authfile/app")])
        .args(p.reg_flags());
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Without it, the wrong password in DOCKER_CONFIG is what is used, and refused.
    let mut c = p.slipway();
    c.args(["push", "--to", &p.repo("authfile/app")])
        .args(p.reg_flags());
    let r = run(&mut c);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("unauthorized"), "{}", r.stderr);
}

#[test]
fn insecure_registry_for_another_host_still_verifies_tls() {
    let p = Project::new(RegistryKind::TlsAuth);
    p.build(&["linux/amd64"], "tls");
    let mut c = p.slipway();
    c.args(["push", "--to", &p.repo("tls/app")])
        .args(["--insecure-registry", "127.0.0.1:1"]);
    let r = run(&mut c);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("TLS"), "{}", r.stderr);
    assert!(r.stderr.contains("--ca-file"), "{}", r.stderr);
    assert!(p.state().pushes.is_empty());
}

#[test]
fn a_corrupted_layout_blob_is_refused_and_nothing_is_tagged() {
    let p = Project::new(RegistryKind::Plain);
    p.build(&["linux/amd64"], "corrupt");
    // The largest blob is the layer: flip one byte in the middle, same size.
    let blobs = p.path().join(".slipway/oci/blobs/sha256");
    let layer = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|f| f.metadata().unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&layer).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();
    let repo = p.repo("corrupt/app");
    let r = p.push(&repo, &["-t", "v1"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("does not match its descriptor"),
        "{}",
        r.stderr
    );
    assert!(p.tags_or_none(&repo).is_empty(), "nothing tagged");
    assert!(p.state().pushes.is_empty());
}

#[test]
fn corrupted_blobs_on_promote_are_refused_and_nothing_lands() {
    let p = Project::new(RegistryKind::Plain);
    write_config(
        &p,
        "promote:\n  require:\n    scan: false\n    signature: false\n",
    );
    p.build(&["linux/amd64"], "badread");
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![Fault::new("GET", "/blobs/sha256:", FaultAction::CorruptBody).times(100)],
    );
    let r = run(p
        .slipway()
        .args(["push", "--to", &format!("{}/staging/app", proxy.host())])
        .args(["--insecure-registry", &proxy.host()]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let other = Registry::plain();
    let far = format!("{}/prod/app", other.host());
    let r = run(p
        .slipway()
        .args(["promote", "--target", &far, "-t", "stable"])
        .args(["--insecure-registry", &proxy.host()])
        .args(["--insecure-registry", &other.host()]));
    assert_eq!(r.code, 3, "{}\n{:#?}", r.stderr, proxy.log());
    assert!(proxy.fired(0) >= 1, "{:#?}", proxy.log());
    assert!(
        r.stderr.contains("does not match its descriptor"),
        "{}",
        r.stderr
    );
    let mut c = Command::new(tool("skopeo"));
    c.args(["list-tags", "--tls-verify=false"]);
    let tags = list_tags(c, &far).unwrap_or_default();
    assert!(
        !tags.contains(&"stable".to_owned()),
        "nothing landed: {tags:?}"
    );
    assert!(p.state().promotions.is_empty());
}

/// The `name<<DELIM … DELIM` entries of a GitHub output file.
fn github_outputs(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((name, delim)) = l.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|x| *x != delim).collect();
            out.insert(name.to_owned(), value.join("\n"));
        } else if let Some((k, v)) = l.split_once('=') {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out
}

#[test]
fn github_outputs_and_step_summaries_of_push_and_promote() {
    let p = Project::new(RegistryKind::Plain);
    write_config(
        &p,
        "promote:\n  require:\n    scan: false\n    signature: false\n",
    );
    let digest = p.build(&["linux/amd64"], "github");
    let out = p.path().join("gh-output");
    let summary = p.path().join("gh-summary");
    std::fs::write(&out, "").unwrap();
    std::fs::write(&summary, "").unwrap();
    let gh = |c: &mut Command| {
        c.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &out)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_REF", "refs/tags/v1.2.3")
            .env("GITHUB_REF_NAME", "v1.2.3")
            .env("GITHUB_REF_TYPE", "tag")
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567");
    };
    let staging = p.repo("gh/app");
    let mut c = p.slipway();
    gh(&mut c);
    c.args(["push", "--to", &staging]).args(p.reg_flags());
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let o = github_outputs(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(o["digest"], digest, "{o:?}");
    assert_eq!(o["image"], format!("{staging}@{digest}"));
    assert_eq!(o["tags"], "1.2.3,1.2,1,latest");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### slipway push"), "{md}");
    assert!(
        md.contains("| Repository | Digest | Tags | Sent | Mounted | Skipped |"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| `{staging}` | `{digest}` | `1.2.3` `1.2` `1` `latest` |"
        )),
        "{md}"
    );

    let prod = p.repo("gh/prod");
    let mut c = p.slipway();
    gh(&mut c);
    c.args(["promote", "--target", &prod, "-t", "stable"])
        .args(p.reg_flags());
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("### slipway promote"), "{md}");
    assert!(
        md.contains(&format!("| `{prod}` | `{digest}` | `stable` | 0 B |")),
        "promotion within the registry sends nothing: {md}"
    );
    let o = github_outputs(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(o["images"], format!("{prod}@{digest}"));
}

/// Removes the layout and the images of the state, so the next build is a new release.
fn next_release(p: &Project) {
    std::fs::remove_dir_all(p.path().join(".slipway/oci")).unwrap();
    StateFile::new(p.path().join(".slipway/state.json"))
        .update(|s| s.images.clear())
        .unwrap();
}

#[test]
fn a_promotion_failing_part_way_records_the_tags_it_moved_so_rollback_undoes_only_those() {
    // Regression: the promotion was recorded only once every tag had moved. When tag 2 failed,
    // tag 1 stayed moved with no record, and --rollback took it back two releases (to what
    // the promotion before had recorded).
    let p = Project::new(RegistryKind::Plain);
    write_config(
        &p,
        "promote:\n  require:\n    scan: false\n    signature: false\n",
    );
    // The second promotion's `second` tag is refused (the first promotion's passes).
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![Fault::new("PUT", "/manifests/second", FaultAction::Status(403)).skip(1)],
    );
    let prod = format!("{}/prod/app", proxy.host());
    let args = [
        "--target",
        prod.as_str(),
        "-t",
        "first",
        "-t",
        "second",
        "--insecure-registry",
        &proxy.host(),
    ];
    let v1 = p.build(&["linux/amd64"], "release one");
    assert_eq!(p.push(&p.repo("staging/app"), &["-t", "v1"]).code, 0);
    let r = promote(&p, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    next_release(&p);
    let v2 = p.build(&["linux/amd64"], "release two");
    assert_eq!(p.push(&p.repo("staging/app"), &["-t", "v2"]).code, 0);

    let r = promote(&p, &args);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(proxy.fired(0), 1, "{:#?}", proxy.log());
    assert!(
        r.stderr.contains(&format!("{prod}:first")) && r.stderr.contains("--rollback"),
        "the hint names the tag that moved: {}",
        r.stderr
    );
    let at = |tag: &str| p.remote_digest(&format!("{prod}:{tag}"));
    assert_eq!((at("first"), at("second")), (v2.clone(), v1.clone()));
    let state = p.state();
    assert_eq!(state.promotions.len(), 2);
    let rec = state.promotions.last().unwrap();
    assert_eq!(rec.digest.to_string(), v2);
    assert!(!rec.rollback);
    assert_eq!(rec.targets.len(), 1);
    assert_eq!(rec.targets[0].repository.to_string(), prod);
    let moved: Vec<(String, Option<String>)> = rec.targets[0]
        .tags
        .iter()
        .map(|m| {
            (
                m.tag.to_string(),
                m.previous.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    assert_eq!(moved, [("first".to_owned(), Some(v1.clone()))]);

    // The rollback puts `first` back on v1 and leaves `second` (never moved) where it is.
    let r = promote(&p, &["--rollback", "--insecure-registry", &proxy.host()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!((at("first"), at("second")), (v1.clone(), v1));
}

#[test]
fn rollback_to_a_digest_the_target_lacks_copies_its_signatures_so_it_verifies_there() {
    // Regression: only the image was copied in, so the rolled-back tag had no `.sig`/`.att`
    // next to it and could not be verified in the target.
    let p = Project::new(RegistryKind::Plain);
    let other = Registry::plain();
    write_config(&p, "promote:\n  require:\n    scan: false\n");
    let staging = p.repo("staging/app");
    let v1 = p.build(&["linux/amd64", "linux/arm64"], "rollback one");
    keyed_sign_push_verify(&p, &staging, "v1");
    next_release(&p);
    let v2 = p.build(&["linux/amd64", "linux/arm64"], "rollback two");
    keyed_sign_push_verify(&p, &staging, "v2");
    let far = format!("{}/prod/app", other.host());
    let insecure = ["--insecure-registry", &other.host()];
    let r = promote(
        &p,
        &[&["--target", far.as_str(), "-t", "stable"][..], &insecure].concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = promote(
        &p,
        &[&["--rollback", "--to", v1.as_str()][..], &insecure].concat(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hex1 = v1.trim_start_matches("sha256:");
    let out = Command::new(tool("skopeo"))
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{far}"))
        .output()
        .unwrap();
    let tags = String::from_utf8_lossy(&out.stdout);
    for t in [format!("sha256-{hex1}.sig"), format!("sha256-{hex1}.att")] {
        assert!(tags.contains(&t), "{t} in {tags}");
    }
    let out = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{far}:stable"))
        .output()
        .unwrap();
    assert_eq!(sha256_digest(&out.stdout), v1);
    assert_ne!(v1, v2);
    // The signature verifies in the target, and so do the attestations.
    let r = run(p
        .slipway()
        .args([
            "verify",
            "--key",
            "cosign.pub",
            "--attestation",
            "provenance",
        ])
        .arg(format!("{far}:stable"))
        .args(insecure));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn promote_dry_run_no_clobber_and_rollback_to_a_digest_or_refused_by_a_gate() {
    let p = Project::new(RegistryKind::Plain);
    write_config(
        &p,
        "promote:\n  require:\n    scan: false\n    signature: false\n",
    );
    let v1 = p.build(&["linux/amd64"], "first");
    assert_eq!(p.push(&p.repo("staging/app"), &["-t", "v1"]).code, 0);
    let prod = p.repo("prod/app");

    // --dry-run: the plan, and nothing changes.
    let r = promote(&p, &["--target", &prod, "-t", "stable", "--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(json(&r)["dry_run"], true);
    assert!(p.tags_or_none(&prod).is_empty());
    assert!(p.state().promotions.is_empty());

    let r = promote(&p, &["--target", &prod, "-t", "stable"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_dir_all(p.path().join(".slipway/oci")).unwrap();
    StateFile::new(p.path().join(".slipway/state.json"))
        .update(|s| s.images.clear())
        .unwrap();
    let v2 = p.build(&["linux/amd64"], "second");
    assert_eq!(p.push(&p.repo("staging/app"), &["-t", "v2"]).code, 0);

    // --no-clobber: exit 1 naming the tag, nothing moves.
    let r = promote(&p, &["--target", &prod, "-t", "stable", "--no-clobber"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{prod}:stable")), "{}", r.stderr);
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v1);

    let r = promote(&p, &["--target", &prod, "-t", "stable"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v2);

    // A rollback to a digest that now fails a gate is refused.
    StateFile::new(p.path().join(".slipway/state.json"))
        .update(|s| {
            s.scans.push(ScanRecord {
                digest: v1.parse().unwrap(),
                verdict: Verdict::Fail,
                scanner: "trivy 0.58.1".into(),
                counts: SeverityCounts::default(),
                image: Some("app".into()),
                report: None,
                sboms: Vec::new(),
                blocking: Vec::new(),
                ignored: Vec::new(),
                expiring: Vec::new(),
                at: chrono::Utc::now(),
            });
        })
        .unwrap();
    write_config(&p, "promote:\n  require:\n    signature: false\n");
    let r = promote(&p, &["--rollback"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("scan verdict"), "{}", r.stderr);
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v2);

    // --rollback --to DIGEST moves the tag there (v2 passes: the gate is off again).
    write_config(
        &p,
        "promote:\n  require:\n    scan: false\n    signature: false\n",
    );
    let r = promote(&p, &["--rollback", "--to", &v1]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v1);
}
