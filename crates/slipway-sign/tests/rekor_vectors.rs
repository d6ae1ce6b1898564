//! Real public-good Rekor entries (shared/vectors/cosign/bundles) checked against the trusted root
//! given with them (shared/vectors/cosign/trust/trusted_root.json): the SET, the binding of a
//! Rekor-canonicalised `dsse` body to its envelope, the inclusion proof and the checkpoint.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use slipway_sign::payload::{Envelope, EnvelopeSignature};
use slipway_sign::rekor::{self, InclusionProof, RekorBundle, RekorPayload};
use slipway_sign::trust::TrustedRoot;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(name)).unwrap()).unwrap()
}

fn root() -> TrustedRoot {
    TrustedRoot::load(&fixture("trusted_root.json")).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().unwrap()).unwrap()
}

/// The v0.3 bundle's log entry as cosign's legacy bundle (what a `.att` layer carries), the
/// envelope as cosign stores it in the layer, the signature and the certificate PEM.
fn dsse_vector() -> (RekorBundle, Vec<u8>, Vec<u8>, String, Value) {
    let v = json("sigstore-bundle-v0.3.json");
    let e = &v["verificationMaterial"]["tlogEntries"][0];
    let bundle = RekorBundle {
        signed_entry_timestamp: e["inclusionPromise"]["signedEntryTimestamp"]
            .as_str()
            .unwrap()
            .to_owned(),
        payload: RekorPayload {
            body: e["canonicalizedBody"].as_str().unwrap().to_owned(),
            integrated_time: e["integratedTime"].as_str().unwrap().parse().unwrap(),
            log_index: e["logIndex"].as_str().unwrap().parse().unwrap(),
            log_id: b64(&e["logId"]["keyId"])
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        },
    };
    let env = &v["dsseEnvelope"];
    let sig = b64(&env["signatures"][0]["sig"]);
    let envelope = Envelope {
        payload_type: env["payloadType"].as_str().unwrap().to_owned(),
        payload: env["payload"].as_str().unwrap().to_owned(),
        signatures: vec![EnvelopeSignature {
            keyid: String::new(),
            sig: env["signatures"][0]["sig"].as_str().unwrap().to_owned(),
        }],
    };
    let cert_der = b64(&v["verificationMaterial"]["certificate"]["rawBytes"]);
    let cert_pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        B64.encode(cert_der)
    );
    (bundle, envelope.to_bytes(), sig, cert_pem, e.clone())
}

#[test]
fn a_rekor_canonicalised_dsse_entry_verifies_against_the_trusted_root() {
    let (bundle, envelope, sig, cert, _) = dsse_vector();
    let root = root();
    // The SET by the public-good Rekor key, and the body (payloadHash + signatures[].signature
    // and .verifier, as Rekor stores a dsse entry) binds this envelope, signature and certificate.
    let t = rekor::verify_bundle(&bundle, &root.rekor, &sig, &envelope, &cert).unwrap();
    assert_eq!(t, 1_775_719_409);

    // Another signature, another payload, another certificate: the body says no.
    let mut other_sig = sig.clone();
    other_sig[10] ^= 1;
    let err = rekor::verify_bundle(&bundle, &root.rekor, &other_sig, &envelope, &cert).unwrap_err();
    assert!(err.contains("another signature"), "{err}");
    let mut env: Value = serde_json::from_slice(&envelope).unwrap();
    env["payload"] = B64.encode(b"{}").into();
    let err = rekor::verify_bundle(
        &bundle,
        &root.rekor,
        &sig,
        &serde_json::to_vec(&env).unwrap(),
        &cert,
    )
    .unwrap_err();
    assert!(err.contains("another payload"), "{err}");
    let other_cert = {
        let v = json("sign-blob.bundle.json");
        String::from_utf8(b64(&v["cert"])).unwrap()
    };
    let err = rekor::verify_bundle(&bundle, &root.rekor, &sig, &envelope, &other_cert).unwrap_err();
    assert!(err.contains("another signature"), "{err}");
    // A changed index breaks the SET.
    let mut bad = bundle.clone();
    bad.payload.log_index += 1;
    let err = rekor::verify_bundle(&bad, &root.rekor, &sig, &envelope, &cert).unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
}

#[test]
fn the_inclusion_proof_and_checkpoint_verify_against_the_trusted_root() {
    let (bundle, _, _, _, e) = dsse_vector();
    let p = &e["inclusionProof"];
    let proof = InclusionProof {
        log_index: p["logIndex"].as_str().unwrap().parse().unwrap(),
        tree_size: p["treeSize"].as_str().unwrap().parse().unwrap(),
        root_hash: b64(&p["rootHash"]),
        hashes: p["hashes"].as_array().unwrap().iter().map(b64).collect(),
        checkpoint: p["checkpoint"]["envelope"].as_str().unwrap().to_owned(),
    };
    let body = B64.decode(&bundle.payload.body).unwrap();
    let keys = root().rekor;
    rekor::verify_inclusion(&body, &proof, &keys).unwrap();

    // Another body, a changed path, another index: not in that tree.
    let err = rekor::verify_inclusion(b"{}", &proof, &keys).unwrap_err();
    assert!(err.contains("root hash"), "{err}");
    let mut bad = proof.clone();
    bad.hashes[3][0] ^= 1;
    assert!(rekor::verify_inclusion(&body, &bad, &keys).is_err());
    let mut bad = proof.clone();
    bad.log_index += 1;
    assert!(rekor::verify_inclusion(&body, &bad, &keys).is_err());
    // A checkpoint whose signature does not verify, or with no key of ours.
    let mut bad = proof.clone();
    bad.checkpoint = bad.checkpoint.replacen("ajBFAiEA", "ajBFAiEB", 1);
    let err = rekor::verify_inclusion(&body, &bad, &keys).unwrap_err();
    assert!(err.contains("checkpoint"), "{err}");
    let other = rekor::LogKey::new(
        slipway_sign::keys::PublicKey::from_pem(
            &std::fs::read(fixture("busybox.pub")).unwrap(),
            "other",
        )
        .unwrap(),
    );
    assert!(rekor::verify_inclusion(&body, &proof, &[other]).is_err());
}

#[test]
fn legacy_cosign_bundles_sets_verify_with_the_trusted_roots_rekor_key() {
    let keys = root().rekor;
    let keyed: RekorBundle =
        serde_json::from_slice(&std::fs::read(fixture("rekor-bundle-keyed.json")).unwrap())
            .unwrap();
    let blob: RekorBundle =
        serde_json::from_value(json("sign-blob.bundle.json")["rekorBundle"].clone()).unwrap();
    for (name, bundle) in [("keyed", keyed), ("sign-blob", blob)] {
        // The SET holds; the body then decides, and it is about another signature than "x".
        let err = rekor::verify_bundle(&bundle, &keys, b"x", b"x", "").unwrap_err();
        assert!(err.contains("another"), "{name}: {err}");
        let mut bad = bundle.clone();
        bad.payload.integrated_time -= 1;
        let err = rekor::verify_bundle(&bad, &keys, b"x", b"x", "").unwrap_err();
        assert!(err.contains("does not verify"), "{name}: {err}");
    }
}

#[test]
fn the_real_fulcio_certificates_sct_verifies_with_the_trusted_roots_ct_log() {
    let (_, _, _, cert_pem, _) = dsse_vector();
    let cert = slipway_sign::trust::SigningCert::from_pem(&cert_pem).unwrap();
    let root = root();
    // Its issuer is the public-good Fulcio intermediate of the trusted root.
    let spki = root.issuer_spki(&cert, &[]).unwrap();
    root.verify_sct(&cert, &spki).unwrap();

    // Another issuer key hash, no CT logs, or only another log's key: no.
    let err = root.verify_sct(&cert, b"another issuer").unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
    let mut none = root.clone();
    none.ctlogs.clear();
    let err = none.verify_sct(&cert, &spki).unwrap_err();
    assert!(err.contains("no Certificate Transparency logs"), "{err}");
    let mut other = root.clone();
    other.ctlogs = root.rekor.clone();
    let err = other.verify_sct(&cert, &spki).unwrap_err();
    assert!(err.contains("not in the trusted root"), "{err}");
    // The 2022 sign-blob certificate (same intermediate, another CT log key of the root) verifies
    // too; a certificate whose TBS was altered after logging does not.
    let blob_pem = String::from_utf8(b64(&json("sign-blob.bundle.json")["cert"])).unwrap();
    let blob = slipway_sign::trust::SigningCert::from_pem(&blob_pem).unwrap();
    root.verify_sct(&blob, &root.issuer_spki(&blob, &[]).unwrap())
        .unwrap();
    let mut der = cert.der.clone();
    let at = der
        .windows(b"kubewarden".len())
        .position(|w| w == b"kubewarden")
        .expect("the SAN names kubewarden");
    der[at] = b'K';
    let altered = slipway_sign::trust::SigningCert::from_pem(&format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        B64.encode(&der)
    ))
    .unwrap();
    let err = root.verify_sct(&altered, &spki).unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
}
