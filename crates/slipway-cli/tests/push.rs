//! `slipway-push` and `slipway-promote` against the real Docker Distribution registry, read back
//! with skopeo.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Run, cmd, run};
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
        let out = self
            .skopeo("inspect")
            .arg("--raw")
            .arg(format!("docker://{reference}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sha256_digest(&out.stdout)
    }

    fn tags(&self, repo: &str) -> Vec<String> {
        let out = self
            .skopeo("list-tags")
            .arg(format!("docker://{repo}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
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
    let sig_tag = format!("sha256-{}.sig", v1.trim_start_matches("sha256:"));
    assert!(p.tags(&p.repo("staging/app")).contains(&sig_tag));

    let prod = p.repo("prod/app");
    let far = format!("{}/prod/app", other.host());
    let r = promote(
        &p,
        &[
            "--target",
            &prod,
            "--target",
            &far,
            "-t",
            "stable",
            "--insecure-registry",
            &other.host(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = json(&r);
    let targets = out["targets"].as_array().unwrap_or_else(|| panic!("{out}"));
    let near = targets.iter().find(|t| t["repository"] == prod).unwrap();
    let remote = targets.iter().find(|t| t["repository"] == far).unwrap();
    assert_eq!(near["bytes_sent"], 0, "same registry mounts: {near}");
    assert!(near["bytes_mounted"].as_u64().unwrap() > 600_000, "{near}");
    assert!(remote["bytes_sent"].as_u64().unwrap() > 600_000, "{remote}");
    assert_eq!(remote["bytes_mounted"], 0, "{remote}");
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v1);
    assert!(p.tags(&prod).contains(&sig_tag), "{:?}", p.tags(&prod));
    let far_digest = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{far}:stable"))
        .output()
        .unwrap();
    assert_eq!(sha256_digest(&far_digest.stdout), v1);

    // A second release moves the tag; rollback moves it back everywhere.
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
    let r = promote(
        &p,
        &[
            "--target",
            &prod,
            "--target",
            &far,
            "-t",
            "stable",
            "--insecure-registry",
            &other.host(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v2);

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
    assert_eq!(p.remote_digest(&format!("{prod}:stable")), v1);
    let far_digest = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{far}:stable"))
        .output()
        .unwrap();
    assert_eq!(sha256_digest(&far_digest.stdout), v1);
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
    fn tags_exist(&self, repo: &str) -> bool {
        self.skopeo("list-tags")
            .arg(format!("docker://{repo}"))
            .output()
            .unwrap()
            .status
            .success()
    }
}

#[test]
fn faults_in_front_of_the_registry_are_survived_and_every_digest_verifies() {
    let p = Project::new(RegistryKind::Plain);
    let digest = p.build(&["linux/amd64", "linux/arm64"], "faults");
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![
            Fault {
                method: "PUT",
                path_contains: "/blobs/uploads/",
                with_body: true,
                times: 1,
                action: FaultAction::ResetAfter(100_000),
            },
            Fault {
                method: "PUT",
                path_contains: "/manifests/",
                with_body: true,
                times: 1,
                action: FaultAction::Status(500),
            },
            Fault {
                method: "HEAD",
                path_contains: "/blobs/",
                with_body: false,
                times: 1,
                action: FaultAction::TooManyRequests(1),
            },
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
    assert!(json(&r)["retries"].as_u64().unwrap() >= 2, "{}", r.stdout);
    assert_eq!(
        p.remote_digest(&format!("{}/faulty/app:v1", p.reg.host())),
        digest
    );
    assert_eq!(
        p.pull_back_and_verify(&format!("{}/faulty/app@{digest}", p.reg.host())),
        7
    );
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
    let proxy = FaultProxy::start(
        &p.reg.host(),
        vec![Fault {
            method: "PATCH",
            path_contains: "/blobs/uploads/",
            with_body: true,
            times: 1,
            action: FaultAction::ResetAfter(10_000),
        }],
    );
    let repo = format!("{}/chunked/app", proxy.host());
    let mut c = p.slipway();
    c.args(["--output-format", "json", "push", "--to", &repo, "-t", "v1"])
        .args([
            "--insecure-registry",
            &proxy.host(),
            "--chunk-size",
            "64KiB",
        ]);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}\n{:#?}", r.stderr, proxy.log());
    assert_eq!(proxy.fired(0), 1, "{:#?}", proxy.log());
    let log = proxy.log();
    let patches = log.iter().filter(|l| l.starts_with("PATCH")).count();
    assert!(patches >= 5, "a 300 kB layer in 64 KiB chunks: {log:#?}");
    // After the reset the upload asked the registry where it stands (GET on the session).
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET") && l.contains("/blobs/uploads/")),
        "{log:#?}"
    );
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
}
