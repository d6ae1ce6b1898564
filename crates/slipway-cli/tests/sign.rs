//! `slipway-sign` and `slipway verify`, run as a user would run them.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use common::{Run, cmd, run};
use serde_json::Value;
use slipway_sign::testimage;
use slipway_state::{
    BaseImage, Binary, Descriptor, Image, PlatformImage, RunnerRecord, SbomFormat, SbomRecord,
    State, StateFile, Step, StepOutcome, StepRecord,
};
use slipway_test::{MockSigstore, Registry, test_identity_token, tool};
use slipway_types::Digest;

fn fixture(name: &str) -> PathBuf {
    slipway_test::repo_root()
        .join("crates/slipway-sign/tests/fixtures")
        .join(name)
}

fn no_panic(r: &Run) {
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// A 3-platform image `hello` in `.slipway/oci` and a state file that records it.
fn image_with_state(dir: &Path) -> (testimage::TestImage, PathBuf) {
    let (_, img) = testimage::layout_with_image(
        &dir.join(".slipway/oci"),
        "hello",
        &["linux/amd64", "linux/arm64", "linux/arm/v7"],
    )
    .unwrap();
    let mut state = State::default();
    let mut image = Image {
        layout: Some(".slipway/oci".into()),
        layout_ref: Some("hello".into()),
        index: Some(Descriptor {
            media_type: img.manifest.media_type.clone(),
            digest: img.digest.clone(),
            size: img.manifest.bytes.len() as u64,
        }),
        base: Some(BaseImage {
            name: "docker.io/library/alpine:3.19".into(),
            digest: Some(Digest::sha256_from_bytes(&[7; 32])),
        }),
        ..Image::default()
    };
    for (p, m) in &img.platforms {
        image.platforms.insert(
            p.clone(),
            PlatformImage {
                manifest: Descriptor {
                    media_type: m.media_type.clone(),
                    digest: m.digest.clone(),
                    size: m.bytes.len() as u64,
                },
                config: None,
                layout: None,
                binaries: vec![Binary {
                    path: "/app".into(),
                    source: None,
                    sha256: Digest::sha256_from_bytes(&[9; 32]),
                    size: 10,
                    toolchain: Some("go1.19.8".into()),
                }],
            },
        );
    }
    state.images.insert("hello".into(), image);
    let path = dir.join(".slipway/state.json");
    StateFile::new(&path).replace(state).unwrap();
    (img, path)
}

fn read_state(dir: &Path) -> State {
    StateFile::new(dir.join(".slipway/state.json"))
        .read_required()
        .unwrap()
}

fn json_file(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The `.sig`/`.att` manifest of `digest`, read from the layout's files directly.
fn attached(layout: &Path, digest: &Digest, suffix: &str) -> Option<Value> {
    let index = json_file(&layout.join("index.json"));
    let tag = digest.cosign_tag(suffix);
    let entry = index["manifests"]
        .as_array()?
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag.as_str())?
        .clone();
    Some(json_file(&blob(layout, entry["digest"].as_str()?)))
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// The in-toto statements attached to `digest`.
fn statements(layout: &Path, digest: &Digest) -> Vec<Value> {
    let Some(m) = attached(layout, digest, "att") else {
        return vec![];
    };
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let env = json_file(&blob(layout, l["digest"].as_str().unwrap()));
            serde_json::from_slice(
                &base64::engine::general_purpose::STANDARD
                    .decode(env["payload"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn generate_key_pair_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(cmd("slipway-sign", dir.path())
        .args(["generate-key-pair", "--output-key-prefix", "release"])
        .env("COSIGN_PASSWORD", "s3cret"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pem = std::fs::read(dir.path().join("release.key")).unwrap();
    assert!(pem.starts_with(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.path().join("release.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // Reads back with the password, and its public key is the .pub written.
    let key = slipway_sign::keys::PrivateKey::from_pem(
        &pem,
        "release.key",
        &mut slipway_sign::keys::GivenPassword("s3cret".to_owned().into()),
    )
    .unwrap();
    let public = slipway_sign::keys::PublicKey::from_pem(
        &std::fs::read(dir.path().join("release.pub")).unwrap(),
        "release.pub",
    )
    .unwrap();
    assert_eq!(key.public(), &public);
    // openssl reads the public key too.
    let out = Command::new(tool("openssl"))
        .args(["pkey", "-pubin", "-noout", "-text", "-in"])
        .arg(dir.path().join("release.pub"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("prime256v1"));
    // Existing files are not overwritten without --force.
    let r = run(cmd("slipway", dir.path())
        .args([
            "sign",
            "generate-key-pair",
            "--output-key-prefix",
            "release",
        ])
        .env("COSIGN_PASSWORD", "x"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    // No password and no terminal: exit 2, saying so.
    let r = run(cmd("slipway", dir.path())
        .args(["sign", "generate-key-pair", "--output-key-prefix", "other"])
        .stdin(Stdio::null()));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no password is available"),
        "{}",
        r.stderr
    );
    assert!(!dir.path().join("other.key").exists());
}

#[test]
fn vector_keys_sign_and_verify_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image_with_state(dir.path());
    let cases = [
        ("cosign-ecdsa-p256", "hello"),
        ("sigstore-label-ecdsa-p256", "hello"),
        ("sigstore-rs-ecdsa", "123"),
        ("cosign-generated-empty-password", ""),
        ("sigstore-rs-rsa", "123"),
    ];
    for (name, password) in cases {
        let key = fixture(&format!("{name}.key"));
        // A wrong password: exit 2, saying so, nothing signed.
        let r = run(cmd("slipway-sign", dir.path())
            .arg("--key")
            .arg(&key)
            .args(["--attest", "none"])
            .env("SLIPWAY_PASSWORD", format!("{password}-wrong")));
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(r.stderr.contains("wrong password"), "{name}: {}", r.stderr);
        let r = run(cmd("slipway-sign", dir.path())
            .arg("--key")
            .arg(&key)
            .args(["--attest", "none"])
            .env("COSIGN_PASSWORD", password));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let r = run(cmd("slipway", dir.path())
            .args(["verify", "--key"])
            .arg(fixture(&format!("{name}.pub"))));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        assert!(
            r.stdout.contains(&format!("verified hello {}", img.digest)),
            "{}",
            r.stdout
        );
    }
    let m = attached(&dir.path().join(".slipway/oci"), &img.digest, "sig").unwrap();
    assert_eq!(m["layers"].as_array().unwrap().len(), cases.len());
    // The env://VAR form of keys.
    let r = run(cmd("slipway-sign", dir.path())
        .args(["--key", "env://SIGNING_KEY", "--attest", "none"])
        .env(
            "SIGNING_KEY",
            std::fs::read_to_string(fixture("sigstore-rs-ecdsa-plain.key")).unwrap(),
        ));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn bad_key_input_exits_2_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    image_with_state(dir.path());
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let corrupted = {
        let mut t = std::fs::read_to_string(fixture("cosign-ecdsa-p256.key")).unwrap();
        t.replace_range(60..70, "!!!!!!!!!!");
        write("corrupted.key", &t)
    };
    // The ciphertext altered inside an intact envelope: the MAC check fails as for a wrong
    // password, and the message says it may be either.
    let damaged = {
        let text = std::fs::read_to_string(fixture("cosign-ecdsa-p256.key")).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut env: Value = serde_json::from_slice(&b64.decode(body).unwrap()).unwrap();
        let mut ct = b64.decode(env["ciphertext"].as_str().unwrap()).unwrap();
        ct[10] ^= 0x80;
        env["ciphertext"] = b64.encode(&ct).into();
        let label = text
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("-----BEGIN ");
        let label = label.trim_end_matches("-----");
        write(
            "damaged.key",
            &format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                b64.encode(serde_json::to_vec(&env).unwrap())
            ),
        )
    };
    let cases: Vec<(PathBuf, &str)> = vec![
        (damaged, "wrong password, or the key file is damaged"),
        (corrupted, "corrupted PEM"),
        (write("garbage.key", "hello\n"), "corrupted PEM"),
        (fixture("busybox.pub"), "not a private key"),
        (
            // An X25519 PKCS#8 key: cosign cannot sign with it either.
            write(
                "x25519.key",
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VuBCIEIHDq1oLLDH0/tnqESnUOsmQHsQ2gP8W1hx+nmCl8HKpg\n-----END PRIVATE KEY-----\n",
            ),
            "unsupported key type",
        ),
        (
            write(
                "sec1.key",
                "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n",
            ),
            "not supported",
        ),
        (dir.path().join("missing.key"), "cannot read key file"),
    ];
    for (key, want) in cases {
        let r = run(cmd("slipway-sign", dir.path())
            .arg("--key")
            .arg(&key)
            .env("COSIGN_PASSWORD", "hello"));
        assert_eq!(r.code, 2, "{}: {}", key.display(), r.stderr);
        assert!(r.stderr.contains(want), "{want}: {}", r.stderr);
        no_panic(&r);
    }
    // An encrypted key, no password variable and no terminal.
    let r = run(cmd("slipway-sign", dir.path())
        .arg("--key")
        .arg(fixture("cosign-ecdsa-p256.key"))
        .stdin(Stdio::null()));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("no password is available"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("SLIPWAY_PASSWORD"), "{}", r.stderr);
    // No signing method at all.
    let r = run(&mut cmd("slipway-sign", dir.path()));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--keyless"), "{}", r.stderr);
    // Nothing was signed by any of these.
    assert!(read_state(dir.path()).signatures.is_empty());
    // verify: a corrupted public key and a bad regex are usage errors too.
    let r = run(cmd("slipway", dir.path())
        .args(["verify", "--key"])
        .arg(dir.path().join("garbage.key")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    no_panic(&r);
    let r = run(cmd("slipway", dir.path())
        .args([
            "verify",
            "--certificate-identity-regexp",
            "(",
            "--certificate-oidc-issuer",
            "x",
            "--trusted-root",
        ])
        .arg(fixture("trusted_root.json")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("regular expression"), "{}", r.stderr);
}

fn openssl_verify(dir: &Path, public: &Path, payload: &[u8], sig_b64: &str) -> bool {
    std::fs::write(dir.join("payload.json"), payload).unwrap();
    std::fs::write(
        dir.join("sig.der"),
        base64::engine::general_purpose::STANDARD
            .decode(sig_b64)
            .unwrap(),
    )
    .unwrap();
    Command::new(tool("openssl"))
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(dir.join("sig.der"))
        .arg(dir.join("payload.json"))
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn recursive_sign_openssl_check_and_verify_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image_with_state(dir.path());
    let layout = dir.path().join(".slipway/oci");
    let r = run(cmd("slipway", dir.path())
        .args(["sign", "generate-key-pair"])
        .env("COSIGN_PASSWORD", "pw"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sign = |extra: &[&str]| {
        run(cmd("slipway-sign", dir.path())
            .args([
                "--key",
                "cosign.key",
                "--recursive",
                "--repository",
                "ghcr.io/acme/hello",
            ])
            .args(extra)
            .env("COSIGN_PASSWORD", "pw"))
    };
    let r = sign(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digests: Vec<Digest> = std::iter::once(img.digest.clone())
        .chain(img.platforms.iter().map(|(_, m)| m.digest.clone()))
        .collect();
    for d in &digests {
        // openssl verifies the signature over the payload, both taken from the layout's files.
        let m = attached(&layout, d, "sig").unwrap_or_else(|| panic!("{d} signed"));
        let l = &m["layers"][0];
        let payload = std::fs::read(blob(&layout, l["digest"].as_str().unwrap())).unwrap();
        let claims: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(
            claims["critical"]["image"]["docker-manifest-digest"],
            d.to_string()
        );
        assert_eq!(
            claims["critical"]["identity"]["docker-reference"],
            "ghcr.io/acme/hello"
        );
        let sig = l["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap();
        assert!(
            openssl_verify(dir.path(), &dir.path().join("cosign.pub"), &payload, sig),
            "{d}"
        );
        // Provenance is attested by default.
        assert_eq!(
            statements(&layout, d)[0]["predicateType"],
            "https://slsa.dev/provenance/v1"
        );
    }
    let state = read_state(dir.path());
    assert_eq!(state.signatures.len(), 4);
    assert!(
        state
            .signatures
            .iter()
            .all(|s| s.key.is_some() && s.layout.is_some())
    );
    // Signing again adds nothing.
    let r = sign(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("0 signatures added (4 already there)"),
        "{}",
        r.stderr
    );
    assert_eq!(
        attached(&layout, &img.digest, "sig").unwrap()["layers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(read_state(dir.path()).signatures.len(), 4);

    let verify = |key: &str| {
        run(cmd("slipway", dir.path()).args([
            "verify",
            "--recursive",
            "--key",
            key,
            "--attestation",
            "provenance",
        ]))
    };
    let r = verify("cosign.pub");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("verified"))
            .count(),
        4
    );

    // Another key: exit 1, recorded.
    let r = run(cmd("slipway", dir.path())
        .args(["sign", "generate-key-pair", "--output-key-prefix", "other"])
        .env("COSIGN_PASSWORD", "pw"));
    assert_eq!(r.code, 0);
    let r = verify("other.pub");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("does not verify"), "{}", r.stderr);
    let last = read_state(dir.path())
        .verifications
        .last()
        .cloned()
        .unwrap();
    assert!(!last.verified && last.reason.is_some());

    // Another digest: the index's signature put where a platform's would be.
    let index_sig = attached(&layout, &img.digest, "sig").unwrap();
    let platform = &img.platforms[0].1.digest;
    let l = slipway_oci::Layout::open(&layout).unwrap();
    let src = slipway_sign::source::LayoutSource::new(l.clone());
    let layers = slipway_sign::cosign::read(
        &src,
        &img.digest,
        slipway_sign::cosign::ArtifactKind::Signature,
    )
    .unwrap()
    .unwrap()
    .layers;
    let saved = slipway_sign::cosign::read(
        &src,
        platform,
        slipway_sign::cosign::ArtifactKind::Signature,
    )
    .unwrap()
    .unwrap()
    .layers;
    slipway_sign::cosign::write(
        &l,
        platform,
        slipway_sign::cosign::ArtifactKind::Signature,
        &layers,
    )
    .unwrap();
    let r = verify("cosign.pub");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains(&format!("the payload is for {}", img.digest)),
        "{}",
        r.stderr
    );
    slipway_sign::cosign::write(
        &l,
        platform,
        slipway_sign::cosign::ArtifactKind::Signature,
        &saved,
    )
    .unwrap();
    assert_eq!(verify("cosign.pub").code, 0);

    // A tampered payload: its bytes changed in the layout.
    let payload_blob = blob(&layout, index_sig["layers"][0]["digest"].as_str().unwrap());
    let original = std::fs::read(&payload_blob).unwrap();
    std::fs::write(
        &payload_blob,
        String::from_utf8(original.clone())
            .unwrap()
            .replace("acme", "evil"),
    )
    .unwrap();
    let r = verify("cosign.pub");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot be read intact"), "{}", r.stderr);
    std::fs::write(&payload_blob, &original).unwrap();
    assert_eq!(verify("cosign.pub").code, 0);

    // A required attestation that is not there.
    let r = run(cmd("slipway", dir.path()).args([
        "verify",
        "--key",
        "cosign.pub",
        "--attestation",
        "vuln",
    ]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no valid `vuln` attestation"),
        "{}",
        r.stderr
    );
}

#[test]
fn attestations_from_state_in_simulated_github_actions() {
    let dir = tempfile::tempdir().unwrap();
    let (img, state_path) = image_with_state(dir.path());
    // The state as earlier steps leave it: a build step, SBOMs per platform, a scan, a runner.
    let sbom_src = fixture("sbom.spdx.json");
    std::fs::create_dir_all(dir.path().join(".slipway/sbom")).unwrap();
    std::fs::copy(&sbom_src, dir.path().join(".slipway/sbom/amd64.spdx.json")).unwrap();
    let amd64 = img.platforms[0].1.digest.clone();
    let fingerprint = Digest::sha256_from_bytes(&[3; 32]);
    StateFile::new(&state_path)
        .update(|s| {
            s.steps.push(StepRecord {
                step: Step::Build,
                outcome: StepOutcome::Ok,
                started: "2026-01-02T03:04:05Z".parse().unwrap(),
                finished: "2026-01-02T03:05:00Z".parse().unwrap(),
                version: "slipway 0.1.0".into(),
                job: None,
                summary: None,
            });
            s.sboms.push(SbomRecord {
                image: Some("hello".into()),
                subject: amd64.clone(),
                platform: Some("linux/amd64".parse().unwrap()),
                format: SbomFormat::SpdxJson,
                path: "sbom/amd64.spdx.json".into(),
                sha256: Digest::sha256_from_bytes(&[1; 32]),
                tool: "slipway 0.1.0".into(),
            });
            s.scans.push(
                serde_json::from_value(serde_json::json!({
                    "image": "hello", "digest": img.digest.to_string(), "scanner": "trivy 0.50.0",
                    "verdict": "pass", "counts": {"high": 2}, "at": "2026-01-02T03:06:00Z"
                }))
                .unwrap(),
            );
            s.runners.push(RunnerRecord {
                fingerprint: fingerprint.clone(),
                components: Default::default(),
                missing: vec![],
                allowed: Some(true),
                entry: Some("rack-1".into()),
                step: None,
                environment: None,
                at: "2026-01-02T03:00:00Z".parse().unwrap(),
            });
        })
        .unwrap();
    let gh = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/hello"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REF", "refs/tags/v1.2.3"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("GITHUB_RUN_ID", "4242"),
        ("GITHUB_RUN_ATTEMPT", "2"),
        ("GITHUB_WORKFLOW", "release"),
        (
            "GITHUB_WORKFLOW_REF",
            "acme/hello/.github/workflows/release.yml@refs/tags/v1.2.3",
        ),
        ("GITHUB_JOB", "publish"),
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_ACTOR", "octocat"),
    ];
    let out_file = dir.path().join("gh-output");
    let r = run(cmd("slipway-sign", dir.path())
        .args(["--recursive", "--key"])
        .arg(fixture("sigstore-rs-ecdsa-plain.key"))
        .envs(gh)
        .env("GITHUB_OUTPUT", &out_file));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        std::fs::read_to_string(&out_file)
            .unwrap()
            .contains("signed-digests")
    );
    let layout = dir.path().join(".slipway/oci");

    // SLSA provenance about the index: subject = the image digest, fields from GitHub Actions.
    let stmts = statements(&layout, &img.digest);
    let prov = stmts
        .iter()
        .find(|s| s["predicateType"] == "https://slsa.dev/provenance/v1")
        .expect("provenance");
    assert_eq!(prov["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(prov["subject"][0]["digest"]["sha256"], img.digest.hex());
    let p = &prov["predicate"];
    assert_eq!(
        p["runDetails"]["builder"]["id"],
        "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1.2.3"
    );
    assert_eq!(
        p["runDetails"]["metadata"]["invocationId"],
        "https://github.com/acme/hello/actions/runs/4242/attempts/2"
    );
    assert_eq!(
        p["runDetails"]["metadata"]["startedOn"],
        "2026-01-02T03:04:05Z"
    );
    assert_eq!(
        p["runDetails"]["metadata"]["finishedOn"],
        "2026-01-02T03:05:00Z"
    );
    assert_eq!(
        p["buildDefinition"]["externalParameters"]["workflow"]["ref"],
        "acme/hello/.github/workflows/release.yml@refs/tags/v1.2.3"
    );
    assert_eq!(
        p["buildDefinition"]["internalParameters"]["actor"],
        "octocat"
    );
    let deps = p["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    assert!(deps.iter().any(
        |d| d["uri"] == "git+https://github.com/acme/hello@refs/tags/v1.2.3"
            && d["digest"]["gitCommit"] == "0123456789abcdef0123456789abcdef01234567"
    ));
    assert!(
        deps.iter()
            .any(|d| d["uri"] == "docker.io/library/alpine:3.19"
                && d["digest"]["sha256"] == Digest::sha256_from_bytes(&[7; 32]).hex())
    );
    assert!(
        deps.iter()
            .any(|d| d["annotations"]["version"] == "go1.19.8")
    );
    // The provenance names the machine that signed (unverified: no runner policy), not the
    // runner record an earlier step left in the state.
    let here =
        run(cmd("slipway", dir.path()).args(["--output-format", "json", "runner", "fingerprint"]));
    let here: Value = serde_json::from_str(&here.stdout).unwrap();
    let recorded = &p["runDetails"]["byproducts"][0]["digest"]["sha256"];
    assert_eq!(
        format!("sha256:{}", recorded.as_str().unwrap()),
        here["fingerprint"].as_str().unwrap()
    );
    assert_ne!(recorded, &fingerprint.hex());
    assert_eq!(
        p["buildDefinition"]["internalParameters"]["runner"]["verdict"],
        "unverified"
    );

    // The SBOM attestation is about the platform manifest, and its predicate is the SBOM file.
    let sboms = statements(&layout, &amd64);
    let sbom = sboms
        .iter()
        .find(|s| s["predicateType"] == "https://spdx.dev/Document")
        .expect("sbom attestation");
    assert_eq!(sbom["subject"][0]["digest"]["sha256"], amd64.hex());
    assert_eq!(sbom["predicate"], json_file(&sbom_src));

    // The scan verdict, as cosign's vuln predicate.
    let vuln = stmts
        .iter()
        .find(|s| s["predicateType"] == "https://cosign.sigstore.dev/attestation/vuln/v1")
        .expect("vuln attestation");
    assert_eq!(vuln["predicate"]["scanner"]["version"], "0.50.0");
    assert_eq!(vuln["predicate"]["scanner"]["result"]["verdict"], "pass");

    let state = read_state(dir.path());
    // Provenance for the index and its 3 platform manifests, one SBOM, one scan verdict.
    assert_eq!(state.attestations.len(), 6);
    assert_eq!(
        state.run.as_ref().unwrap().commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );

    // Verify with every kind required: the index has provenance and vuln itself, and sbom through
    // its platform manifests only where they have one (amd64) — so it fails, naming sbom.
    let public = fixture("sigstore-rs-ecdsa-plain.key");
    let key = slipway_sign::keys::PrivateKey::from_pem(
        &std::fs::read(&public).unwrap(),
        "k",
        &mut slipway_sign::keys::GivenPassword(String::new().into()),
    )
    .unwrap();
    std::fs::write(dir.path().join("plain.pub"), key.public().pem()).unwrap();
    let r = run(cmd("slipway", dir.path()).args([
        "verify",
        "--key",
        "plain.pub",
        "--attestation",
        "provenance",
        "--attestation",
        "vuln",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(cmd("slipway", dir.path()).args([
        "verify",
        "--key",
        "plain.pub",
        "--attestation",
        "sbom",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("no valid `sbom` attestation"),
        "{}",
        r.stderr
    );
    let r = run(cmd("slipway", dir.path())
        .arg("verify")
        .arg(format!(".slipway/oci@{amd64}"))
        .args(["--key", "plain.pub", "--attestation", "sbom"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// GitHub Actions' OIDC token service, answering one request: checks the bearer token and the
/// audience, and returns `token`.
fn github_token_service(token: String) -> (String, std::thread::JoinHandle<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/token?api-version=2.0",
        listener.local_addr().unwrap()
    );
    let h = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 8192];
        let n = s.read(&mut buf).unwrap();
        let req = String::from_utf8_lossy(&buf[..n]).to_string();
        let ok = req.starts_with("GET /token?api-version=2.0&audience=sigstore ")
            && req
                .to_ascii_lowercase()
                .contains("authorization: bearer request-token-123");
        let body = serde_json::json!({ "value": token }).to_string();
        let status = if ok { "200 OK" } else { "403 Forbidden" };
        write!(s, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
        ok
    });
    (url, h)
}

#[test]
fn keyless_through_the_cli_with_github_oidc() {
    let mock = MockSigstore::start();
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image_with_state(dir.path());
    let identity = "https://github.com/acme/hello/.github/workflows/release.yml@refs/heads/main";
    let issuer = "https://token.actions.githubusercontent.com";
    let (url, service) = github_token_service(test_identity_token(issuer, identity));
    let sign = |c: &mut Command| {
        run(c
            .args([
                "--keyless",
                "--fulcio-url",
                &mock.url(),
                "--rekor-url",
                &mock.url(),
            ])
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", dir.path().join("out")))
    };
    let r = sign(
        cmd("slipway-sign", dir.path())
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", &url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token-123"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        service.join().unwrap(),
        "the token request had the bearer and audience=sigstore"
    );
    // The token learnt at run time is masked in the GitHub log.
    assert!(r.stderr.contains("::add-mask::"), "{}", r.stderr);
    let state = read_state(dir.path());
    let rec = &state.signatures[0];
    assert_eq!(rec.identity.as_deref(), Some(identity));
    assert_eq!(rec.issuer.as_deref(), Some(issuer));
    assert!(rec.log_index.is_some());
    let m = attached(&dir.path().join(".slipway/oci"), &img.digest, "sig").unwrap();
    let ann = m["layers"][0]["annotations"].as_object().unwrap();
    assert!(
        ann["dev.sigstore.cosign/certificate"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(
        ann["dev.sigstore.cosign/bundle"]
            .as_str()
            .unwrap()
            .contains("SignedEntryTimestamp")
    );

    // The trusted root outlives the mock (verify runs once more after it is stopped).
    let root = dir.path().join("trusted_root.json");
    std::fs::copy(mock.trusted_root(), &root).unwrap();
    let verify_cmd = |id: &str| {
        let mut c = cmd("slipway", dir.path());
        c.args([
            "verify",
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
        ])
        .arg(&root);
        c
    };
    let verify = |id: &str| run(&mut verify_cmd(id));
    // Offline: verification asks the Fulcio/Rekor it was signed with nothing at all.
    let asked = mock.stats();
    let r = verify(identity);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify("https://github.com/evil/hello/.github/workflows/release.yml@refs/heads/main");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("does not match"), "{}", r.stderr);
    let r = run(cmd("slipway", dir.path())
        .args([
            "verify",
            "--certificate-identity-regexp",
            r"https://github\.com/acme/.*",
            "--certificate-oidc-issuer-regexp",
            r"https://token\.actions\.githubusercontent\.com",
            "--trusted-root",
        ])
        .arg(&root));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The certificate's embedded SCT is checked against the root's CT logs: a root without them
    // (or with another log's key) rejects it, unless --insecure-ignore-sct says not to check.
    let mut no_ct = json_file(&root);
    let ct = no_ct.as_object_mut().unwrap().remove("ctlogs").unwrap();
    std::fs::write(dir.path().join("no-ct.json"), no_ct.to_string()).unwrap();
    let mut other_ct = json_file(&root);
    other_ct["ctlogs"] = ct.clone();
    other_ct["ctlogs"][0]["publicKey"] = other_ct["tlogs"][0]["publicKey"].clone();
    std::fs::write(dir.path().join("other-ct.json"), other_ct.to_string()).unwrap();
    for (file, why) in [
        ("no-ct.json", "no Certificate Transparency logs"),
        ("other-ct.json", "not in the trusted root"),
    ] {
        let r = run(cmd("slipway", dir.path()).args([
            "verify",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            file,
        ]));
        assert_eq!(r.code, 1, "{file}: {}", r.stderr);
        assert!(
            r.stderr.contains("certificate transparency") && r.stderr.contains(why),
            "{file}: {}",
            r.stderr
        );
    }
    let r = run(cmd("slipway", dir.path()).args([
        "verify",
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        "--trusted-root",
        "no-ct.json",
        "--insecure-ignore-sct",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(mock.stats(), asked, "verify sent requests to Fulcio/Rekor");

    // The push after this sign failed; the job is re-run, sign runs again (now with a token file):
    // everything is there, no new certificate and no new Rekor upload, exit 0.
    let before = mock.stats();
    std::fs::write(
        dir.path().join("token"),
        test_identity_token(issuer, identity),
    )
    .unwrap();
    let r = sign(cmd("slipway-sign", dir.path()).args(["--identity-token", "token"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("0 signatures added (1 already there)"),
        "{}",
        r.stderr
    );
    let after = mock.stats();
    assert_eq!(after["uploads"], before["uploads"]);
    assert_eq!(after["certificates"], before["certificates"]);
    assert_eq!(read_state(dir.path()).signatures.len(), 1);

    // No token anywhere: exit 2 with the hint.
    let r = sign(&mut cmd("slipway-sign", dir.path()));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("id-token: write"), "{}", r.stderr);
    // Rekor down (after retries): exit 3, and nothing half-written.
    mock.fail_next_uploads(100);
    let other = "https://github.com/acme/hello/.github/workflows/other.yml@refs/heads/main";
    std::fs::write(
        dir.path().join("token2"),
        test_identity_token(issuer, other),
    )
    .unwrap();
    let r = sign(cmd("slipway-sign", dir.path()).args([
        "--identity-token",
        "token2",
        "--attest",
        "none",
    ]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        attached(&dir.path().join(".slipway/oci"), &img.digest, "sig").unwrap(),
        m
    );

    // With Fulcio and Rekor gone, verification still passes.
    drop(mock);
    let r = verify(identity);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // And with no network at all, where this machine lets a process have its own empty network
    // namespace (root, or unprivileged user namespaces; CI containers may allow neither).
    if Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        let c = verify_cmd(identity);
        let mut u = Command::new("unshare");
        u.args(["-rn", "--"])
            .arg(c.get_program())
            .args(c.get_args())
            .current_dir(dir.path())
            .env_clear()
            .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
        let r = run(&mut u);
        assert_eq!(r.code, 0, "verify without a network: {}", r.stderr);
    } else {
        eprintln!("unshare -rn is not permitted here: the no-network run of verify was not made");
    }
}

#[test]
fn sign_and_verify_settings_from_slipway_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image_with_state(dir.path());
    std::fs::create_dir_all(dir.path().join("cfg/keys")).unwrap();
    std::fs::copy(
        fixture("sigstore-rs-ecdsa.key"),
        dir.path().join("cfg/keys/cosign.key"),
    )
    .unwrap();
    std::fs::copy(
        fixture("sigstore-rs-ecdsa.pub"),
        dir.path().join("cfg/keys/cosign.pub"),
    )
    .unwrap();
    // Paths in the file are relative to the file.
    std::fs::write(
        dir.path().join("cfg/slipway.yaml"),
        "sign:\n  key: keys/cosign.key\n  repository: ghcr.io/acme/hello\n  attest: []\n  annotations: {team: platform}\n  verify:\n    key: keys/cosign.pub\n    recursive: false\n",
    )
    .unwrap();
    let r = run(cmd("slipway-sign", dir.path())
        .args(["--config", "cfg/slipway.yaml"])
        .env("SLIPWAY_PASSWORD", "123"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let layout = dir.path().join(".slipway/oci");
    assert!(
        attached(&layout, &img.digest, "att").is_none(),
        "attest: [] attaches none"
    );
    let m = attached(&layout, &img.digest, "sig").unwrap();
    let payload = json_file(&blob(&layout, m["layers"][0]["digest"].as_str().unwrap()));
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        "ghcr.io/acme/hello"
    );
    assert_eq!(payload["optional"]["team"], "platform");
    let r = run(cmd("slipway", dir.path()).args(["--config", "cfg/slipway.yaml", "verify"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // An unknown key in the section is an error naming it.
    std::fs::write(
        dir.path().join("cfg/slipway.yaml"),
        "sign:\n  keyles: true\n",
    )
    .unwrap();
    let r = run(cmd("slipway-sign", dir.path()).args(["--config", "cfg/slipway.yaml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("keyles"), "{}", r.stderr);
}

/// `critical.identity.docker-reference` of the last signature on `digest`.
fn signed_reference(dir: &Path, digest: &Digest) -> Value {
    let layout = dir.join(".slipway/oci");
    let m = attached(&layout, digest, "sig").expect("signed");
    let l = m["layers"].as_array().unwrap().last().unwrap().clone();
    json_file(&blob(&layout, l["digest"].as_str().unwrap()))["critical"]["identity"]
        ["docker-reference"]
        .clone()
}

#[test]
fn docker_reference_is_a_validated_repository_defaulting_to_the_push_repository() {
    let dir = tempfile::tempdir().unwrap();
    let (img, state_path) = image_with_state(dir.path());
    let sign = |extra: &[&str]| {
        run(cmd("slipway-sign", dir.path())
            .arg("--key")
            .arg(fixture("sigstore-rs-ecdsa-plain.key"))
            .args(["--attest", "none"])
            .args(extra))
    };
    // A tag, a digest or garbage is not a repository: exit 2 naming the flag, nothing signed.
    for bad in [
        "ghcr.io/acme/app:v1",
        "not a repo!!",
        "ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "GHCR.io/Acme/App",
    ] {
        let r = sign(&["--repository", bad]);
        assert_eq!(r.code, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("--repository"), "{bad}: {}", r.stderr);
        assert!(r.stderr.contains(bad), "{bad}: {}", r.stderr);
        no_panic(&r);
        assert!(attached(&dir.path().join(".slipway/oci"), &img.digest, "sig").is_none());
    }
    // The same for the configuration keys, named as such.
    std::fs::write(
        dir.path().join("tagged.yaml"),
        "sign:\n  repository: ghcr.io/acme/app:latest\n",
    )
    .unwrap();
    let r = sign(&["--config", "tagged.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("sign.repository"), "{}", r.stderr);
    std::fs::write(
        dir.path().join("badpush.yaml"),
        "push:\n  repository: \"no such/repo!\"\n",
    )
    .unwrap();
    let r = sign(&["--config", "badpush.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("push.repository"), "{}", r.stderr);
    assert!(read_state(dir.path()).signatures.is_empty());

    // Nothing known: the image name, with a warning saying what policies will see.
    let r = sign(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("no repository known") && r.stderr.contains("signedIdentity"),
        "{}",
        r.stderr
    );
    assert_eq!(signed_reference(dir.path(), &img.digest), "hello");

    // push.repository is the default, normalised as cosign writes it (Docker Hub as
    // index.docker.io); no warning then.
    std::fs::write(
        dir.path().join("push.yaml"),
        "push:\n  repository: docker.io/acme/hello\n",
    )
    .unwrap();
    let r = sign(&["--config", "push.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("no repository known"), "{}", r.stderr);
    assert_eq!(
        signed_reference(dir.path(), &img.digest),
        "index.docker.io/acme/hello"
    );
    // --repository wins over the file.
    let r = sign(&[
        "--config",
        "push.yaml",
        "--repository",
        "ghcr.io/acme/hello",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        signed_reference(dir.path(), &img.digest),
        "ghcr.io/acme/hello"
    );

    // A push the state records (a re-run after push) names the repository too.
    StateFile::new(&state_path)
        .update(|s| {
            s.pushes.push(
                serde_json::from_value(serde_json::json!({
                    "image": "hello", "repository": "registry.example.com:5000/team/hello",
                    "digest": img.digest.to_string(), "at": "2026-01-02T03:06:00Z"
                }))
                .unwrap(),
            );
        })
        .unwrap();
    let r = sign(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        signed_reference(dir.path(), &img.digest),
        "registry.example.com:5000/team/hello"
    );
}

/// AWS-LC's Ed25519ph verifier (RFC 8032 §5.1, SHA-512 prehash, empty context): OpenSSL 3.0 and
/// Go 1.19 here have no Ed25519ph, so this C implementation is the independent check.
#[allow(unsafe_code)]
fn aws_lc_ed25519ph_verify(spki_pem: &str, message: &[u8], signature: &[u8]) -> bool {
    let spki = slipway_sign::keys::PublicKey::from_pem(spki_pem.as_bytes(), "pub").unwrap();
    // An Ed25519 SubjectPublicKeyInfo is a 12-byte header and the 32-byte key.
    let raw = &spki.der()[12..];
    assert_eq!((raw.len(), signature.len()), (32, 64));
    // SAFETY: the pointers and lengths describe live slices of the sizes AWS-LC reads (message of
    // message.len(), 64-byte signature, 32-byte key, no context).
    unsafe {
        aws_lc_sys::ED25519ph_verify(
            message.as_ptr(),
            message.len(),
            signature.as_ptr(),
            raw.as_ptr(),
            std::ptr::null(),
            0,
        ) == 1
    }
}

fn openssl_ok(dir: &Path, args: &[&str]) -> bool {
    let out = Command::new(tool("openssl"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    out.status.success()
}

#[test]
fn ed25519_p384_p521_and_rsa_keys_sign_as_cosign_does_and_verify_independently() {
    use slipway_sign::cosign::{self, ArtifactKind, Layer};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (img, _) = image_with_state(d);
    let layout = d.join(".slipway/oci");
    let platform = img.platforms[0].1.digest.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    let cases: [(&str, &[&str]); 4] = [
        ("ed25519", &["-algorithm", "ed25519"]),
        (
            "p384",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        ),
        (
            "p521",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        ),
        (
            "rsa",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        ),
    ];
    for (name, keygen) in cases {
        // openssl makes the key (PKCS#8); Slipway reads it plain, and in cosign's encrypted form.
        let pem_file = format!("{name}.pem");
        let pub_file = format!("{name}.pub");
        let mut args = vec!["genpkey", "-out", pem_file.as_str()];
        args.extend(keygen);
        assert!(openssl_ok(d, &args), "{name}: openssl genpkey");
        assert!(openssl_ok(
            d,
            &["pkey", "-in", &pem_file, "-pubout", "-out", &pub_file]
        ));
        let key = slipway_sign::keys::PrivateKey::from_pem(
            &std::fs::read(d.join(&pem_file)).unwrap(),
            &pem_file,
            &mut slipway_sign::keys::GivenPassword(String::new().into()),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let public_pem = std::fs::read_to_string(d.join(&pub_file)).unwrap();
        assert_eq!(
            key.public(),
            &slipway_sign::keys::PublicKey::from_pem(public_pem.as_bytes(), "pub").unwrap(),
            "{name}"
        );
        std::fs::write(
            d.join(format!("{name}.key")),
            key.encrypted_pem(&format!("pw-{name}")).unwrap().as_bytes(),
        )
        .unwrap();

        // Sign (and attest) through the CLI with the encrypted key.
        let r = run(cmd("slipway-sign", d)
            .args([
                "--key",
                &format!("{name}.key"),
                "--repository",
                "ghcr.io/acme/hello",
            ])
            .env("SLIPWAY_PASSWORD", format!("pw-{name}")));
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        let m = attached(&layout, &img.digest, "sig").unwrap();
        let l = m["layers"].as_array().unwrap().last().unwrap().clone();
        let payload = std::fs::read(blob(&layout, l["digest"].as_str().unwrap())).unwrap();
        let sig_b64 = l["annotations"]["dev.cosignproject.cosign/signature"]
            .as_str()
            .unwrap();
        let sig = b64.decode(sig_b64).unwrap();
        std::fs::write(d.join("payload.json"), &payload).unwrap();
        std::fs::write(d.join("sig.bin"), &sig).unwrap();
        if name == "ed25519" {
            // Ed25519ph, as `cosign sign --key` signs: AWS-LC's Ed25519ph verifier accepts it,
            // OpenSSL's pure Ed25519 verifier does not.
            assert!(aws_lc_ed25519ph_verify(&public_pem, &payload, &sig));
            assert!(!aws_lc_ed25519ph_verify(&public_pem, b"other", &sig));
            assert!(!openssl_ok(
                d,
                &[
                    "pkeyutl",
                    "-verify",
                    "-pubin",
                    "-inkey",
                    &pub_file,
                    "-rawin",
                    "-in",
                    "payload.json",
                    "-sigfile",
                    "sig.bin"
                ]
            ));
        } else {
            // ECDSA on any curve over SHA-256 (what `cosign verify --key` checks by default),
            // RSA PKCS#1 v1.5 SHA-256.
            assert!(
                openssl_verify(d, &d.join(&pub_file), &payload, sig_b64),
                "{name}: openssl dgst -sha256 -verify"
            );
        }
        let verify = |target: &str| {
            run(cmd("slipway", d).args([
                "verify",
                target,
                "--key",
                &pub_file,
                "--attestation",
                "provenance",
            ]))
        };
        let r = verify("hello");
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);

        // The other scheme cosign uses for the key type verifies too: a signature openssl made
        // (pure Ed25519, which `cosign verify --key` checks; ECDSA over the curve's hash, which
        // `cosign sign` writes), alone on a platform manifest.
        let other = match name {
            "ed25519" => Some(vec![
                "pkeyutl", "-sign", "-inkey", &pem_file, "-rawin", "-in", "p.json", "-out", "o.bin",
            ]),
            "p384" => Some(vec![
                "dgst", "-sha384", "-sign", &pem_file, "-out", "o.bin", "p.json",
            ]),
            "p521" => Some(vec![
                "dgst", "-sha512", "-sign", &pem_file, "-out", "o.bin", "p.json",
            ]),
            _ => None,
        };
        if let Some(args) = other {
            let p = slipway_sign::payload::simple_signing(
                "ghcr.io/acme/hello",
                &platform,
                &Default::default(),
            );
            std::fs::write(d.join("p.json"), &p).unwrap();
            assert!(openssl_ok(d, &args), "{name}: openssl sign");
            let l = slipway_oci::Layout::open(&layout).unwrap();
            let layer = Layer {
                media_type: cosign::SIMPLE_SIGNING_MEDIA_TYPE.into(),
                payload: p,
                annotations: [(
                    cosign::SIGNATURE_ANNOTATION.to_owned(),
                    b64.encode(std::fs::read(d.join("o.bin")).unwrap()),
                )]
                .into(),
            };
            cosign::write(&l, &platform, ArtifactKind::Signature, &[layer]).unwrap();
            let target = format!(".slipway/oci@{platform}");
            let r = run(cmd("slipway", d).args(["verify", &target, "--key", &pub_file]));
            assert_eq!(r.code, 0, "{name}: {}", r.stderr);
            // Signed by this key, not by another one of the same type.
            let mut args = vec!["genpkey", "-out", "other.pem"];
            args.extend(keygen);
            assert!(openssl_ok(d, &args));
            assert!(openssl_ok(
                d,
                &["pkey", "-in", "other.pem", "-pubout", "-out", "other.pub"]
            ));
            let r = run(cmd("slipway", d).args(["verify", &target, "--key", "other.pub"]));
            assert_eq!(r.code, 1, "{name}: {}", r.stderr);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn keyless_sign_failed_push_sign_again_push_then_verify_from_the_registry() {
    let mock = MockSigstore::start();
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (img, _) = image_with_state(d);
    let identity = "https://github.com/acme/hello/.github/workflows/release.yml@refs/tags/v1";
    let issuer = "https://token.actions.githubusercontent.com";
    std::fs::write(d.join("token"), test_identity_token(issuer, identity)).unwrap();
    let repo = format!("{}/acme/hello", reg.host());
    // The repository push goes to is what the payload names (push.repository).
    std::fs::write(
        d.join("slipway.yaml"),
        format!(
            "push:\n  repository: {repo}\n  transfer:\n    attempts: 2\n    retry_seconds: 1\n"
        ),
    )
    .unwrap();
    let sign = || {
        run(cmd("slipway-sign", d).args([
            "--config",
            "slipway.yaml",
            "--keyless",
            "--identity-token",
            "token",
            "--fulcio-url",
            &mock.url(),
            "--rekor-url",
            &mock.url(),
        ]))
    };
    let r = sign();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(signed_reference(d, &img.digest), repo.as_str());
    let signed = mock.stats();
    assert_eq!(signed["certificates"], 1);
    // One signature and one provenance attestation in the log.
    assert_eq!(signed["entries"], 2);

    // The push fails: the registry is down (exit 3, nothing recorded).
    let down = format!("127.0.0.1:{}", free_port());
    let r = run(cmd("slipway-push", d).args([
        "--config",
        "slipway.yaml",
        "--to",
        &format!("{down}/acme/hello"),
        "--insecure-registry",
        &down,
    ]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(read_state(d).pushes.is_empty());

    // The job is re-run from sign: it finds its own signature and attestation, asks Fulcio and
    // Rekor nothing, creates no entry, exit 0.
    let r = sign();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("0 signatures added (1 already there)")
            && r.stderr.contains("0 attestations added (1 already there)"),
        "{}",
        r.stderr
    );
    assert_eq!(mock.stats(), signed, "the re-run asked Fulcio or Rekor");
    assert_eq!(read_state(d).signatures.len(), 1);

    // The push to the live registry carries the signature; verify from the registry passes.
    let r = run(cmd("slipway-push", d).args([
        "--config",
        "slipway.yaml",
        "-t",
        "v1",
        "--insecure-registry",
        &reg.host(),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(cmd("slipway", d)
        .args([
            "verify",
            &format!("{repo}:v1"),
            "--insecure-registry",
            &reg.host(),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--attestation",
            "provenance",
            "--trusted-root",
        ])
        .arg(mock.trusted_root()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let last = read_state(d).verifications.last().cloned().unwrap();
    assert!(last.verified && last.location == repo, "{last:?}");
    assert_eq!(mock.stats(), signed, "verify asked Fulcio or Rekor");
}

#[test]
fn an_entry_rekor_already_has_is_fetched_and_reused_by_sign() {
    // Ed25519 signatures are deterministic: the same key signing the same payload in a fresh
    // layout (a retried job on a clean runner) proposes the very entry Rekor already holds, and
    // Rekor answers 409 Conflict with its location.
    let mock = MockSigstore::start();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (img, _) = image_with_state(a.path());
    let (img_b, _) = image_with_state(b.path());
    assert_eq!(img.digest, img_b.digest);
    assert!(openssl_ok(
        a.path(),
        &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"]
    ));
    assert!(openssl_ok(
        a.path(),
        &["pkey", "-in", "ed.pem", "-pubout", "-out", "ed.pub"]
    ));
    let key = a.path().join("ed.pem");
    let sign = |dir: &Path| {
        run(cmd("slipway", dir)
            .args(["--output-format", "json", "sign", "--key"])
            .arg(&key)
            .args([
                "--tlog-upload",
                "--rekor-url",
                &mock.url(),
                "--attest",
                "none",
                "--repository",
                "ghcr.io/acme/hello",
            ]))
    };
    let r = sign(a.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(first["signatures"][0]["log_entry_existed"], false);
    let s = mock.stats();
    assert_eq!(
        (s["entries"].as_u64(), s["conflicts"].as_u64()),
        (Some(1), Some(0))
    );

    let r = sign(b.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(second["signatures"][0]["added"], true);
    assert_eq!(second["signatures"][0]["log_entry_existed"], true);
    assert_eq!(
        second["signatures"][0]["log_index"],
        first["signatures"][0]["log_index"]
    );
    let s = mock.stats();
    assert_eq!(
        (
            s["entries"].as_u64(),
            s["conflicts"].as_u64(),
            s["gets"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "one 409, the existing entry fetched, no new entry: {s}"
    );
    // The bundle stored in the fresh layout is the log's existing entry, and it verifies.
    let bundle = |dir: &Path| {
        attached(&dir.join(".slipway/oci"), &img.digest, "sig").unwrap()["layers"][0]["annotations"]
            ["dev.sigstore.cosign/bundle"]
            .clone()
    };
    assert_eq!(bundle(a.path()), bundle(b.path()));
    let r = run(cmd("slipway", b.path())
        .args(["verify", "--require-tlog", "--key"])
        .arg(a.path().join("ed.pub"))
        .arg("--trusted-root")
        .arg(mock.trusted_root()));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Runs `args` of `bin` on a pseudo-terminal (util-linux `script`), typing each of `answers` once
/// the text before it has appeared (typed earlier, the terminal would still echo it); returns
/// the exit code and everything the terminal showed.
fn on_a_terminal(dir: &Path, bin: &str, args: &[&str], answers: &[(&str, &str)]) -> (i32, String) {
    use std::sync::{Arc, Mutex};
    let exe = match bin {
        "slipway" => env!("CARGO_BIN_EXE_slipway"),
        "slipway-sign" => env!("CARGO_BIN_EXE_slipway-sign"),
        other => panic!("{other}"),
    };
    let line = std::iter::once(exe)
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = {
        let seen = seen.clone();
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let mut stdin = child.stdin.take().unwrap();
    let mut from = 0;
    for (after, answer) in answers {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let text = String::from_utf8_lossy(&seen.lock().unwrap()).to_string();
            if let Some(i) = text[from..].find(after) {
                from += i + after.len();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no `{after}` on the terminal: {text:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The program turns echo off right after writing the prompt; typing before that would
        // have the terminal itself echo the answer, so give it a moment (an untimed wait: this
        // only delays the typing, it asserts nothing about time).
        std::thread::sleep(std::time::Duration::from_millis(500));
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).to_string();
    (status.code().unwrap(), text)
}

#[test]
fn passwords_are_asked_on_the_terminal_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (img, _) = image_with_state(d);
    let secret = "s3cret-typed-on-the-tty";
    // generate-key-pair asks twice.
    let (code, screen) = on_a_terminal(
        d,
        "slipway",
        &["sign", "generate-key-pair"],
        &[
            ("Enter password for private key: ", secret),
            ("again: ", secret),
        ],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(
        !screen.contains(secret),
        "the password was echoed: {screen:?}"
    );
    assert!(d.join("cosign.key").exists());

    // sign asks for the key's password on the terminal (no variable set) and signs with it.
    let (code, screen) = on_a_terminal(
        d,
        "slipway-sign",
        &[
            "--key",
            "cosign.key",
            "--attest",
            "none",
            "--repository",
            "ghcr.io/acme/hello",
        ],
        &[("Password for key ", secret)],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Password for key `"), "{screen:?}");
    assert!(screen.contains("cosign.key"), "{screen:?}");
    assert!(
        !screen.contains(secret),
        "the password was echoed: {screen:?}"
    );
    assert!(attached(&d.join(".slipway/oci"), &img.digest, "sig").is_some());
    let r = run(cmd("slipway", d).args(["verify", "--key", "cosign.pub"]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A wrong password typed there: exit 2, saying so, still not echoed.
    let (code, screen) = on_a_terminal(
        d,
        "slipway-sign",
        &[
            "--key",
            "cosign.key",
            "--attest",
            "none",
            "--repository",
            "ghcr.io/acme/hello",
        ],
        &[("Password for key ", "not-the-password")],
    );
    assert_eq!(code, 2, "{screen}");
    assert!(screen.contains("wrong password"), "{screen:?}");
    assert!(!screen.contains("not-the-password"), "{screen:?}");
}
