//! Keyed signing in a layout, checked by independent tools (openssl, skopeo) and by verify.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;
use slipway_oci::Layout;
use slipway_sign::cosign::{self, ArtifactKind};
use slipway_sign::keys::PrivateKey;
use slipway_sign::signer::{KeyedProvider, Signer};
use slipway_sign::source::LayoutSource;
use slipway_sign::verify::{self, Authority, Policy};
use slipway_sign::{predicates, sign, testimage};
use slipway_test::tool;
use slipway_types::Digest;

fn provider(key: &PrivateKey) -> KeyedProvider {
    let pem = key.encrypted_pem("pw").unwrap();
    let copy = PrivateKey::from_pem(
        pem.as_bytes(),
        "k",
        &mut slipway_sign::keys::GivenPassword("pw".to_owned().into()),
    )
    .unwrap();
    KeyedProvider(Signer::keyed(copy))
}

fn key_policy(key: &PrivateKey) -> Policy {
    Policy {
        authority: Authority::Key(key.public().clone()),
        trust: None,
        require_tlog: false,
        ignore_sct: false,
    }
}

/// Reads the raw JSON of a layout file, independently of slipway's readers.
fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn blob(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

/// The `.sig` manifest of `digest`, found through index.json by its name.
fn sig_manifest(dir: &Path, digest: &Digest, suffix: &str) -> Value {
    let index = json(&dir.join("index.json"));
    let tag = digest.cosign_tag(suffix);
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag.as_str())
        .unwrap_or_else(|| panic!("{tag} in index.json"))
        .clone();
    assert_eq!(
        entry["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    json(&blob(dir, entry["digest"].as_str().unwrap()))
}

fn openssl_verifies(dir: &Path, key: &PrivateKey, payload: &[u8], sig_b64: &str) -> bool {
    std::fs::write(dir.join("cosign.pub"), key.public().pem()).unwrap();
    std::fs::write(dir.join("payload.json"), payload).unwrap();
    std::fs::write(
        dir.join("sig.der"),
        base64::engine::general_purpose::STANDARD
            .decode(sig_b64)
            .unwrap(),
    )
    .unwrap();
    let out = Command::new(tool("openssl"))
        .current_dir(dir)
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "cosign.pub",
            "-signature",
            "sig.der",
            "payload.json",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("Verified OK") && out.status.success()
}

#[test]
fn keyed_signature_is_cosign_layout_and_openssl_verifies_it() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, img) = testimage::layout_with_image(
        &dir.path().join("oci"),
        "hello",
        &["linux/amd64", "linux/arm64", "linux/arm/v7"],
    )
    .unwrap();
    let key = PrivateKey::generate().unwrap();
    let mut p = provider(&key);
    let none = BTreeMap::new();
    let out = sign::sign(
        &layout,
        &img.digest,
        "registry.example/acme/hello",
        &none,
        &mut p,
        None,
    )
    .unwrap();
    assert!(out.added);
    assert_eq!(out.tag, img.digest.cosign_tag("sig"));
    assert_eq!(out.key_id.as_deref(), Some(key.public().id().as_str()));

    // The manifest as cosign writes it.
    let m = sig_manifest(layout.root(), &img.digest, "sig");
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let ann = layers[0]["annotations"].as_object().unwrap();
    assert_eq!(
        ann.keys().collect::<Vec<_>>(),
        ["dev.cosignproject.cosign/signature"]
    );
    let config =
        std::fs::read(blob(layout.root(), m["config"]["digest"].as_str().unwrap())).unwrap();
    let payload =
        std::fs::read(blob(layout.root(), layers[0]["digest"].as_str().unwrap())).unwrap();
    // go-containerregistry's config bytes for one appended layer.
    assert_eq!(
        String::from_utf8(config).unwrap(),
        format!(
            r#"{{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{{"created":"0001-01-01T00:00:00Z"}}],"os":"","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{}}}}"#,
            layers[0]["digest"].as_str().unwrap()
        )
    );
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        img.digest.to_string()
    );
    assert_eq!(
        claims["critical"]["identity"]["docker-reference"],
        "registry.example/acme/hello"
    );
    assert_eq!(
        claims["critical"]["type"],
        "cosign container image signature"
    );
    // openssl, on its own, verifies the signature over the payload taken from the layout.
    let sig = ann["dev.cosignproject.cosign/signature"].as_str().unwrap();
    assert!(openssl_verifies(dir.path(), &key, &payload, sig));
    let mut tampered = payload.clone();
    tampered.push(b' ');
    assert!(!openssl_verifies(dir.path(), &key, &tampered, sig));

    // skopeo reads the signature image from the layout by its tag.
    let oci = format!(
        "oci:{}:{}",
        layout.root().display(),
        img.digest.cosign_tag("sig")
    );
    let out = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", &oci])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), m);

    // Signing again with the same key adds nothing.
    let again = sign::sign(
        &layout,
        &img.digest,
        "registry.example/acme/hello",
        &none,
        &mut p,
        None,
    )
    .unwrap();
    assert!(!again.added);
    assert_eq!(sig_manifest(layout.root(), &img.digest, "sig"), m);

    // Another key appends a second layer; both keys verify.
    let other = PrivateKey::generate().unwrap();
    let out = sign::sign(
        &layout,
        &img.digest,
        "registry.example/acme/hello",
        &none,
        &mut provider(&other),
        None,
    )
    .unwrap();
    assert!(out.added);
    let m2 = sig_manifest(layout.root(), &img.digest, "sig");
    assert_eq!(m2["layers"].as_array().unwrap().len(), 2);
    assert_eq!(
        m2["layers"][0], m["layers"][0],
        "the old layer comes first, unchanged"
    );
    let src = LayoutSource::new(layout.clone());
    for k in [&key, &other] {
        let r = verify::verify_signatures(&src, &img.digest, &key_policy(k)).unwrap();
        assert_eq!(r.valid.len(), 1, "{:?}", r.rejected);
    }
}

#[test]
fn verify_rejects_tampered_payload_other_digest_and_other_key() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let a = testimage::write(&layout, "a", &["linux/amd64"], "a").unwrap();
    let b = testimage::write(&layout, "b", &["linux/amd64"], "b").unwrap();
    let key = PrivateKey::generate().unwrap();
    let none = BTreeMap::new();
    sign::sign(&layout, &a.digest, "r/a", &none, &mut provider(&key), None).unwrap();
    let src = LayoutSource::new(layout.clone());
    let policy = key_policy(&key);
    assert_eq!(
        verify::verify_signatures(&src, &a.digest, &policy)
            .unwrap()
            .valid
            .len(),
        1
    );

    // Another key.
    let other = PrivateKey::generate().unwrap();
    let r = verify::verify_signatures(&src, &a.digest, &key_policy(&other)).unwrap();
    assert!(r.valid.is_empty());
    assert!(
        r.rejected[0].contains("does not verify"),
        "{:?}",
        r.rejected
    );

    // Another digest: a's signature put where b's would be.
    let attached = cosign::read(&src, &a.digest, ArtifactKind::Signature)
        .unwrap()
        .unwrap();
    cosign::write(
        &layout,
        &b.digest,
        ArtifactKind::Signature,
        &attached.layers,
    )
    .unwrap();
    let r = verify::verify_signatures(&src, &b.digest, &policy).unwrap();
    assert!(r.valid.is_empty());
    assert!(r.rejected[0].contains("is for"), "{:?}", r.rejected);

    // A tampered payload, stored consistently (as someone rewriting the .sig would).
    let mut layers = attached.layers.clone();
    let text = String::from_utf8(layers[0].payload.clone()).unwrap();
    layers[0].payload = text.replace("r/a", "r/evil").into_bytes();
    cosign::write(&layout, &a.digest, ArtifactKind::Signature, &layers).unwrap();
    let r = verify::verify_signatures(&src, &a.digest, &policy).unwrap();
    assert!(r.valid.is_empty());
    assert!(
        r.rejected[0].contains("does not verify"),
        "{:?}",
        r.rejected
    );

    // A payload blob changed on disk behind its digest.
    cosign::write(
        &layout,
        &a.digest,
        ArtifactKind::Signature,
        &attached.layers,
    )
    .unwrap();
    assert_eq!(
        verify::verify_signatures(&src, &a.digest, &policy)
            .unwrap()
            .valid
            .len(),
        1
    );
    let path = layout.blob_path(&attached.layers[0].digest());
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let r = verify::verify_signatures(&src, &a.digest, &policy).unwrap();
    assert!(r.valid.is_empty());
    assert!(
        r.rejected[0].contains("cannot be read intact"),
        "{:?}",
        r.rejected
    );

    // Nothing attached at all.
    let c = testimage::write(&layout, "c", &["linux/amd64"], "c").unwrap();
    let r = verify::verify_signatures(&src, &c.digest, &policy).unwrap();
    assert!(r.valid.is_empty() && r.rejected[0].contains("no signatures"));
}

#[test]
fn sbom_attestation_predicate_is_the_sbom() {
    let dir = tempfile::tempdir().unwrap();
    let (layout, img) =
        testimage::layout_with_image(&dir.path().join("oci"), "hello", &["linux/amd64"]).unwrap();
    let sbom_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sbom.spdx.json");
    let bytes = std::fs::read(&sbom_path).unwrap();
    let (ty, predicate) = predicates::sbom(&bytes, "sbom").unwrap();
    assert_eq!(ty, predicates::SPDX);
    let key = PrivateKey::generate().unwrap();
    let mut p = provider(&key);
    let out = sign::attest(
        &layout,
        &img.digest,
        "r/hello",
        ty,
        &predicate,
        &mut p,
        None,
    )
    .unwrap();
    assert!(out.added);
    // Again: nothing added.
    assert!(
        !sign::attest(
            &layout,
            &img.digest,
            "r/hello",
            ty,
            &predicate,
            &mut p,
            None
        )
        .unwrap()
        .added
    );

    let m = sig_manifest(layout.root(), &img.digest, "att");
    let layer = &m["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.dsse.envelope.v1+json");
    assert_eq!(
        layer["annotations"]["predicateType"],
        "https://spdx.dev/Document"
    );
    assert_eq!(
        layer["annotations"]["dev.cosignproject.cosign/signature"],
        ""
    );
    let env = json(&blob(layout.root(), layer["digest"].as_str().unwrap()));
    assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        img.digest.hex()
    );
    // The predicate is the SBOM file.
    let file: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(statement["predicate"], file);

    let src = LayoutSource::new(layout.clone());
    let r = verify::verify_attestations(&src, &img.digest, &key_policy(&key)).unwrap();
    assert_eq!(
        r.verified_types,
        ["https://spdx.dev/Document"],
        "{:?}",
        r.rejected
    );
    let other = PrivateKey::generate().unwrap();
    let r = verify::verify_attestations(&src, &img.digest, &key_policy(&other)).unwrap();
    assert!(r.verified_types.is_empty());
}

use std::path::PathBuf;
