//! The cosign/sigstore vectors: every encrypted key decrypts with its password (and only with
//! it), the derived public keys match, and the busybox payload/signature/key triple verifies.

use std::path::PathBuf;

use base64::Engine as _;
use slipway_sign::SignError;
use slipway_sign::keys::{GivenPassword, PrivateKey, PublicKey};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn pw(s: &str) -> GivenPassword {
    GivenPassword(s.to_owned().into())
}

const KEYS: &[(&str, &str, &str)] = &[
    ("cosign-ecdsa-p256.key", "hello", "ecdsa-p256"),
    ("sigstore-label-ecdsa-p256.key", "hello", "ecdsa-p256"),
    ("sigstore-rs-ecdsa.key", "123", "ecdsa-p256"),
    ("cosign-generated-empty-password.key", "", "ecdsa-p256"),
    ("sigstore-rs-rsa.key", "123", "rsa"),
];

#[test]
fn every_vector_key_decrypts_and_matches_its_public_key() {
    for (file, password, alg) in KEYS {
        let pem = std::fs::read(fixture(file)).unwrap();
        let key = PrivateKey::from_pem(&pem, file, &mut pw(password))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.public().algorithm(), *alg, "{file}");
        let public = PublicKey::from_pem(
            &std::fs::read(fixture(&file.replace(".key", ".pub"))).unwrap(),
            file,
        )
        .unwrap();
        assert_eq!(key.public(), &public, "{file}: derived public key");
        // And it signs what its public key verifies.
        let sig = key.sign(b"payload").unwrap();
        assert!(public.verify(&sig, b"payload"), "{file}");
    }
}

#[test]
fn a_wrong_password_says_so() {
    for (file, password, _) in KEYS {
        let pem = std::fs::read(fixture(file)).unwrap();
        let wrong = format!("{password}x");
        let err = PrivateKey::from_pem(&pem, file, &mut pw(&wrong)).unwrap_err();
        assert!(
            matches!(err, SignError::WrongPassword { .. }),
            "{file}: {err}"
        );
        assert!(err.to_string().contains("wrong password"), "{err}");
    }
}

#[test]
fn plain_pkcs8_key_needs_no_password() {
    struct Never;
    impl slipway_sign::keys::PasswordSource for Never {
        fn password(&mut self, _: &str) -> Result<zeroize::Zeroizing<String>, SignError> {
            panic!("an unencrypted key must not ask for a password")
        }
    }
    let pem = std::fs::read(fixture("sigstore-rs-ecdsa-plain.key")).unwrap();
    let key = PrivateKey::from_pem(&pem, "plain", &mut Never).unwrap();
    assert_eq!(key.public().algorithm(), "ecdsa-p256");
}

#[test]
fn busybox_triple_verifies_and_wrong_key_does_not() {
    let payload = std::fs::read(fixture("busybox.payload.json")).unwrap();
    let sig_b64 = std::fs::read_to_string(fixture("busybox.sig")).unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64.trim())
        .unwrap();
    let key = PublicKey::from_pem(
        &std::fs::read(fixture("busybox.pub")).unwrap(),
        "busybox.pub",
    )
    .unwrap();
    assert!(key.verify(&sig, &payload));
    let mut tampered = payload.clone();
    tampered[10] ^= 1;
    assert!(!key.verify(&sig, &tampered));
    let wrong =
        PublicKey::from_pem(&std::fs::read(fixture("wrong-key.pub")).unwrap(), "wrong").unwrap();
    assert!(!wrong.verify(&sig, &payload));
}

#[test]
fn bad_key_files_are_clear_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"not pem at all", "PEM"),
        (
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA!!!\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "PEM",
        ),
        (
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "damaged",
        ),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "unsupported PEM block",
        ),
        (
            b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            "not supported",
        ),
        (
            // A PKCS#8 block whose content is not a supported key.
            b"-----BEGIN PRIVATE KEY-----\nMAoCAQAwBQYDK2VwBAA=\n-----END PRIVATE KEY-----\n",
            "unsupported key type",
        ),
    ];
    for (pem, want) in cases {
        let err = PrivateKey::from_pem(pem, "k", &mut pw("x")).unwrap_err();
        assert!(err.to_string().contains(want), "{want}: {err}");
    }
}
