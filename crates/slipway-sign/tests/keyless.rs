//! Keyless signing against a local Fulcio + Rekor (@sigstore/mock behind a small Node server).

use std::collections::BTreeMap;

use slipway_ci::Env;
use slipway_oci::Layout;
use slipway_sign::cosign::{self, ArtifactKind};
use slipway_sign::fulcio::FulcioClient;
use slipway_sign::keys::PrivateKey;
use slipway_sign::oidc;
use slipway_sign::rekor::{self, RekorClient, TransparencyLog};
use slipway_sign::signer::{KeyedProvider, KeylessProvider, Signer};
use slipway_sign::source::LayoutSource;
use slipway_sign::trust::TrustedRoot;
use slipway_sign::verify::{self, Authority, Matcher, Policy};
use slipway_sign::{predicates, sign, testimage};
use slipway_test::{MockSigstore, test_identity_token};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn token(subject: &str) -> oidc::IdentityToken {
    let env = Env::from_pairs([(
        slipway_env::SIGSTORE_ID_TOKEN.to_owned(),
        test_identity_token(ISSUER, subject),
    )]);
    oidc::find(None, &env).unwrap()
}

fn policy(root: &TrustedRoot, identity: Matcher, issuer: Matcher) -> Policy {
    Policy {
        authority: Authority::Keyless { identity, issuer },
        trust: Some(root.clone()),
        require_tlog: true,
        ignore_sct: false,
    }
}

#[test]
fn keyless_sign_verify_and_rerun_reuses_the_log_entry() {
    let mock = MockSigstore::start();
    let dir = tempfile::tempdir().unwrap();
    let (layout, img) = testimage::layout_with_image(
        &dir.path().join("oci"),
        "app",
        &["linux/amd64", "linux/arm64"],
    )
    .unwrap();
    let fulcio = FulcioClient::new(&mock.url()).unwrap();
    let rekor = RekorClient::new(&mock.url()).unwrap();
    let none = BTreeMap::new();

    let mut p = KeylessProvider::new(&fulcio, token(IDENTITY));
    let out = sign::sign(&layout, &img.digest, "r/app", &none, &mut p, Some(&rekor)).unwrap();
    assert!(out.added);
    assert_eq!(out.identity.as_deref(), Some(IDENTITY));
    assert_eq!(out.issuer.as_deref(), Some(ISSUER));
    assert!(out.log_index.is_some());
    let (predicate_type, predicate) = (
        predicates::SLSA_PROVENANCE_V1,
        serde_json::json!({"buildDefinition": {"buildType": "x"}}),
    );
    sign::attest(
        &layout,
        &img.digest,
        "r/app",
        predicate_type,
        &predicate,
        &mut p,
        Some(&rekor),
    )
    .unwrap();
    let stats = mock.stats();
    assert_eq!(
        stats["certificates"], 1,
        "one certificate for the whole run"
    );
    assert_eq!(stats["entries"], 2);

    // The layer carries cosign's keyless annotations.
    let src = LayoutSource::new(layout.clone());
    let sig = cosign::read(&src, &img.digest, ArtifactKind::Signature)
        .unwrap()
        .unwrap();
    let ann = &sig.layers[0].annotations;
    for k in [
        "dev.cosignproject.cosign/signature",
        "dev.sigstore.cosign/certificate",
        "dev.sigstore.cosign/chain",
        "dev.sigstore.cosign/bundle",
    ] {
        assert!(ann.get(k).is_some_and(|v| !v.is_empty()), "{k}");
    }
    let bundle: serde_json::Value =
        serde_json::from_str(&ann["dev.sigstore.cosign/bundle"]).unwrap();
    assert!(bundle["SignedEntryTimestamp"].is_string());
    assert_eq!(
        bundle["Payload"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["body", "integratedTime", "logID", "logIndex"]
    );

    // Verify: matching identity passes (exact and regex), another identity or issuer fails.
    let root = TrustedRoot::load(&mock.trusted_root()).unwrap();
    let good = policy(
        &root,
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
    );
    let r = verify::verify_signatures(&src, &img.digest, &good).unwrap();
    assert_eq!(r.valid.len(), 1, "{:?}", r.rejected);
    assert_eq!(r.valid[0].identity.as_deref(), Some(IDENTITY));
    let a = verify::verify_attestations(&src, &img.digest, &good).unwrap();
    assert_eq!(
        a.verified_types,
        [predicates::SLSA_PROVENANCE_V1],
        "{:?}",
        a.rejected
    );
    let re = policy(
        &root,
        Matcher::regex(r"https://github\.com/acme/.*", "id").unwrap(),
        Matcher::regex(r"https://token\.actions\..*", "iss").unwrap(),
    );
    assert_eq!(
        verify::verify_signatures(&src, &img.digest, &re)
            .unwrap()
            .valid
            .len(),
        1
    );
    let other = policy(
        &root,
        Matcher::Exact(
            "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main".into(),
        ),
        Matcher::Exact(ISSUER.into()),
    );
    let r = verify::verify_signatures(&src, &img.digest, &other).unwrap();
    assert!(r.valid.is_empty());
    assert!(r.rejected[0].contains("identity"), "{:?}", r.rejected);
    let r = verify::verify_attestations(&src, &img.digest, &other).unwrap();
    assert!(r.verified_types.is_empty());
    let wrong_issuer = policy(
        &root,
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact("https://accounts.google.com".into()),
    );
    assert!(
        verify::verify_signatures(&src, &img.digest, &wrong_issuer)
            .unwrap()
            .valid
            .is_empty()
    );
    // A regex must match the whole identity, as with cosign.
    let partial = policy(
        &root,
        Matcher::regex("acme", "id").unwrap(),
        Matcher::Exact(ISSUER.into()),
    );
    assert!(
        verify::verify_signatures(&src, &img.digest, &partial)
            .unwrap()
            .valid
            .is_empty()
    );

    // Trust material from elsewhere (the public-good root) does not vouch for this signature.
    let public_good = TrustedRoot::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/trusted_root.json"),
    )
    .unwrap();
    let r = verify::verify_signatures(
        &src,
        &img.digest,
        &policy(
            &public_good,
            Matcher::Exact(IDENTITY.into()),
            Matcher::Exact(ISSUER.into()),
        ),
    )
    .unwrap();
    assert!(r.valid.is_empty());
    assert!(
        r.rejected[0].contains("not in the trusted root"),
        "{:?}",
        r.rejected
    );
    // The right log but another CA: the certificate chain does not verify.
    let mixed = TrustedRoot {
        fulcio: public_good.fulcio.clone(),
        rekor: root.rekor.clone(),
        ctlogs: root.ctlogs.clone(),
    };
    let r = verify::verify_signatures(
        &src,
        &img.digest,
        &policy(
            &mixed,
            Matcher::Exact(IDENTITY.into()),
            Matcher::Exact(ISSUER.into()),
        ),
    )
    .unwrap();
    assert!(r.valid.is_empty());
    assert!(r.rejected[0].contains("does not chain"), "{:?}", r.rejected);

    // A push fails later; the job runs sign again with a new token for the same identity: it
    // finds its signature and attestation, asks neither Fulcio nor Rekor, and succeeds.
    let before = mock.stats();
    let mut p = KeylessProvider::new(&fulcio, token(IDENTITY));
    let again = sign::sign(&layout, &img.digest, "r/app", &none, &mut p, Some(&rekor)).unwrap();
    assert!(!again.added);
    assert_eq!(
        again.log_index, out.log_index,
        "the existing entry is reused"
    );
    assert!(
        !sign::attest(
            &layout,
            &img.digest,
            "r/app",
            predicate_type,
            &predicate,
            &mut p,
            Some(&rekor)
        )
        .unwrap()
        .added
    );
    let after = mock.stats();
    assert_eq!(after["certificates"], before["certificates"]);
    assert_eq!(after["uploads"], before["uploads"]);

    // Another identity signing the same image appends its own signature.
    let other_id = "https://github.com/acme/app/.github/workflows/other.yml@refs/heads/main";
    let mut p = KeylessProvider::new(&fulcio, token(other_id));
    assert!(
        sign::sign(&layout, &img.digest, "r/app", &none, &mut p, Some(&rekor))
            .unwrap()
            .added
    );
    let sig = cosign::read(&src, &img.digest, ArtifactKind::Signature)
        .unwrap()
        .unwrap();
    assert_eq!(sig.layers.len(), 2);
}

#[test]
fn rekor_conflict_returns_the_existing_entry_and_retries_transient_failures() {
    let mock = MockSigstore::start();
    let rekor = RekorClient::new(&mock.url()).unwrap();
    let key = PrivateKey::generate().unwrap();
    let payload = b"{\"x\":1}";
    let sig = key.sign(payload).unwrap();
    let entry = rekor::hashedrekord(payload, &sig, &key.public().pem());
    let first = rekor.upload(&entry).unwrap();
    assert!(!first.existed);
    // The same entry again (a re-run after the layout was lost): 409, and the same entry back.
    let second = rekor.upload(&entry).unwrap();
    assert!(second.existed);
    assert_eq!(second.uuid, first.uuid);
    assert_eq!(second.bundle, first.bundle);
    assert_eq!(mock.stats()["conflicts"], 1);
    // The bundle verifies against the mock's log key and is bound to this signature only.
    let root = TrustedRoot::load(&mock.trusted_root()).unwrap();
    rekor::verify_bundle(
        &first.bundle,
        &root.rekor,
        &sig,
        payload,
        &key.public().pem(),
    )
    .unwrap();
    assert!(
        rekor::verify_bundle(
            &first.bundle,
            &root.rekor,
            &sig,
            b"{\"x\":2}",
            &key.public().pem()
        )
        .is_err()
    );
    // Two 503s, then success: retried.
    mock.fail_next_uploads(2);
    let other = rekor::hashedrekord(b"y", &key.sign(b"y").unwrap(), &key.public().pem());
    assert!(!rekor.upload(&other).unwrap().existed);
    // Failing beyond the retries is an external error (exit 3).
    mock.fail_next_uploads(10);
    let third = rekor::hashedrekord(b"z", &key.sign(b"z").unwrap(), &key.public().pem());
    let err = rekor.upload(&third).unwrap_err();
    assert_eq!(
        slipway_types::Diagnostic::exit_class(&err),
        slipway_types::ExitClass::External
    );
    assert!(err.to_string().contains("503"), "{err}");
}

#[test]
fn keyed_signature_with_transparency_log() {
    let mock = MockSigstore::start();
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let img = testimage::write(&layout, "a", &["linux/amd64"], "").unwrap();
    let rekor = RekorClient::new(&mock.url()).unwrap();
    let key = PrivateKey::generate().unwrap();
    let public = key.public().clone();
    let mut p = KeyedProvider(Signer::keyed(key));
    let out = sign::sign(
        &layout,
        &img.digest,
        "r/a",
        &BTreeMap::new(),
        &mut p,
        Some(&rekor),
    )
    .unwrap();
    assert!(out.log_index.is_some());
    let root = TrustedRoot::load(&mock.trusted_root()).unwrap();
    let src = LayoutSource::new(layout.clone());
    let pol = Policy {
        authority: Authority::Key(public),
        trust: Some(root),
        require_tlog: true,
        ignore_sct: false,
    };
    let r = verify::verify_signatures(&src, &img.digest, &pol).unwrap();
    assert_eq!(r.valid.len(), 1, "{:?}", r.rejected);
    assert_eq!(r.valid[0].log_index, out.log_index);
}
