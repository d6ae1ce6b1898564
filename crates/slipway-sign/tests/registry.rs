//! The `.sig` and `.att` artifacts in the layout are what a registry takes as cosign's tags.
//!
//! slipway-push (another crate) will carry them; until it is in, skopeo stands in as the pusher
//! here, copying each layout entry by its name to the tag of the same name in the real Docker
//! Distribution registry. The registry accepts them, skopeo reads them back by tag, openssl
//! verifies the signature over the payload fetched from the registry, and a layout pulled back
//! from the registry verifies.

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;
use slipway_oci::Layout;
use slipway_sign::keys::PrivateKey;
use slipway_sign::signer::{KeyedProvider, Signer};
use slipway_sign::source::LayoutSource;
use slipway_sign::verify::{self, Authority, Policy};
use slipway_sign::{predicates, sign, testimage};
use slipway_test::{Registry, tool};

fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool("skopeo")).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn signatures_and_attestations_survive_a_registry() {
    let registry = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let (layout, img) = testimage::layout_with_image(
        &dir.path().join("oci"),
        "hello",
        &["linux/amd64", "linux/arm64", "linux/arm/v7"],
    )
    .unwrap();
    let key = PrivateKey::generate().unwrap();
    let public = key.public().clone();
    let mut p = KeyedProvider(Signer::keyed(key));
    let repo = format!("{}/acme/hello", registry.host());
    let mut subjects = vec![img.digest.clone()];
    subjects.extend(img.platforms.iter().map(|(_, m)| m.digest.clone()));
    for s in &subjects {
        sign::sign(&layout, s, &repo, &BTreeMap::new(), &mut p, None).unwrap();
    }
    let sbom = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sbom.cdx.json"),
    )
    .unwrap();
    let (ty, predicate) = predicates::sbom(&sbom, "sbom").unwrap();
    sign::attest(&layout, &img.digest, &repo, ty, &predicate, &mut p, None).unwrap();

    // Push every named entry of the layout to the tag of the same name.
    let root = layout.root().display().to_string();
    let mut tags = vec!["hello".to_owned()];
    for s in &subjects {
        tags.push(s.cosign_tag("sig"));
    }
    tags.push(img.digest.cosign_tag("att"));
    for tag in &tags {
        let (from, to) = (
            format!("oci:{root}:{tag}"),
            format!("docker://{repo}:{tag}"),
        );
        skopeo(&[
            "copy",
            "--all",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &from,
            &to,
        ]);
    }

    // The registry has the tags, with cosign's media types and annotations.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repo}:{}", img.digest.cosign_tag("sig")),
    ]);
    let m: Value = serde_json::from_slice(&raw).unwrap();
    let layer = &m["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let sig = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap();
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{repo}:{}", img.digest.cosign_tag("att")),
    ]);
    let att: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        att["layers"][0]["mediaType"],
        "application/vnd.dsse.envelope.v1+json"
    );
    assert_eq!(
        att["layers"][0]["annotations"]["predicateType"],
        "https://cyclonedx.org/bom"
    );

    // openssl verifies the signature over the payload as the registry serves it.
    let payload = reqwest::blocking::get(format!(
        "{}/v2/acme/hello/blobs/{}",
        registry.url(),
        layer["digest"].as_str().unwrap()
    ))
    .unwrap()
    .bytes()
    .unwrap();
    std::fs::write(dir.path().join("payload.json"), &payload).unwrap();
    std::fs::write(
        dir.path().join("sig.der"),
        base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("cosign.pub"), public.pem()).unwrap();
    let ok = Command::new(tool("openssl"))
        .current_dir(dir.path())
        .args([
            "dgst",
            "-sha256",
            "-verify",
            "cosign.pub",
            "-signature",
            "sig.der",
            "payload.json",
        ])
        .status()
        .unwrap();
    assert!(ok.success());

    // Pulled back into a new layout, everything verifies (index, platforms, attestation).
    let back = dir.path().join("pulled");
    let back_s = back.display().to_string();
    for tag in &tags {
        let (from, to) = (
            format!("docker://{repo}:{tag}"),
            format!("oci:{back_s}:{tag}"),
        );
        skopeo(&[
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            &from,
            &to,
        ]);
    }
    let src = LayoutSource::new(Layout::open(&back).unwrap());
    let policy = Policy {
        authority: Authority::Key(public),
        trust: None,
        require_tlog: false,
        ignore_sct: false,
    };
    for s in &subjects {
        let r = verify::verify_signatures(&src, s, &policy).unwrap();
        assert_eq!(r.valid.len(), 1, "{s}: {:?}", r.rejected);
    }
    let a = verify::verify_attestations(&src, &img.digest, &policy).unwrap();
    assert_eq!(
        a.verified_types,
        ["https://cyclonedx.org/bom"],
        "{:?}",
        a.rejected
    );
}
