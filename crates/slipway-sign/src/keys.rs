//! Key files as cosign writes and reads them.
//!
//! Private keys: one PEM block, either `ENCRYPTED SIGSTORE PRIVATE KEY` (what current cosign and
//! Slipway write) or `ENCRYPTED COSIGN PRIVATE KEY` (older cosign) — a JSON envelope with scrypt
//! parameters and a NaCl secretbox over a DER PKCS#8 key — or a plain PKCS#8 `PRIVATE KEY`.
//! ECDSA (P-256/P-384/P-521), RSA and Ed25519 keys are read, as cosign reads them. Public keys
//! are PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
//!
//! How each key type signs follows what `cosign sign --key` writes and `cosign verify --key`
//! accepts for a `.sig` image (sigstore/cosign `pkg/cosign/keys.go` `GetDefaultLoadOptions`,
//! `pkg/signature/keys.go` `VerifierForKeyRef`; sigstore/sigstore `pkg/signature/verifier.go`
//! `LoadVerifierWithOpts`, `algorithm_registry.go`):
//!
//! - ECDSA signs over SHA-256 on every curve: `cosign verify --key` loads its verifier with
//!   `--signature-digest-algorithm`, default sha256, whatever the curve, and cosign's legacy
//!   bundle and `hashedrekord` entries carry a SHA-256 digest. Verification also accepts the
//!   curve's own hash (SHA-384 for P-384, SHA-512 for P-521), which `cosign sign` uses.
//! - RSA signs PKCS#1 v1.5 with SHA-256.
//! - Ed25519 signs Ed25519ph (RFC 8032, SHA-512 prehash, empty context): cosign signs images
//!   with it by default, the only Ed25519 form `hashedrekord` accepts. Verification also accepts
//!   pure Ed25519, which is what `cosign verify --key` checks and older cosign signed.
//!
//! The envelope is validated here before it reaches the decryptor of the `sigstore` crate, so a
//! file whose envelope is damaged is reported as such (never a panic). What remains is the
//! secretbox MAC check, which fails alike for a wrong password and for altered ciphertext, salt
//! or nonce: scrypt + secretbox cannot tell them apart, so the error says both.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sigstore::crypto::signing_key::{SigStoreKeyPair, SigStoreSigner, kdf};
use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};
use slipway_ci::Env;
use zeroize::Zeroizing;

use crate::SignError;

/// PEM label of the keys Slipway writes (current cosign's label).
pub const SIGSTORE_PRIVATE_KEY_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// PEM label older cosign versions write.
pub const COSIGN_PRIVATE_KEY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
const PLAIN_PRIVATE_KEY_LABEL: &str = "PRIVATE KEY";
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";

/// Where a key comes from: a file, or an environment variable (`env://VAR`, as cosign spells it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A file.
    Path(PathBuf),
    /// An environment variable holding the PEM text.
    Env(String),
}

impl KeyRef {
    /// Parses `env://VAR` or a path.
    pub fn parse(s: &str) -> Result<KeyRef, SignError> {
        if let Some(var) = s.strip_prefix("env://") {
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(SignError::invalid(
                    format!("key `{s}`"),
                    "env:// must be followed by an environment variable name",
                ));
            }
            return Ok(KeyRef::Env(var.to_owned()));
        }
        if s.contains("://") {
            return Err(SignError::invalid(
                format!("key `{s}`"),
                "only file paths and env://VAR are supported (no KMS or remote keys)",
            ));
        }
        if s.is_empty() {
            return Err(SignError::invalid("key", "the path is empty"));
        }
        Ok(KeyRef::Path(PathBuf::from(s)))
    }

    /// Resolves a relative path against `base`.
    pub fn relative_to(self, base: &Path) -> KeyRef {
        match self {
            KeyRef::Path(p) if p.is_relative() => KeyRef::Path(base.join(p)),
            other => other,
        }
    }

    /// The key's content.
    pub fn read(&self, env: &Env) -> Result<Zeroizing<Vec<u8>>, SignError> {
        match self {
            KeyRef::Path(p) => std::fs::read(p)
                .map(Zeroizing::new)
                .map_err(SignError::io("cannot read key file", p)),
            KeyRef::Env(var) => env
                .get(var)
                .map(|v| Zeroizing::new(v.as_bytes().to_vec()))
                .ok_or_else(|| SignError::key(self.to_string(), "the variable is not set")),
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Path(p) => write!(f, "`{}`", p.display()),
            KeyRef::Env(v) => write!(f, "env://{v}"),
        }
    }
}

/// Supplies the password of an encrypted key, only when one is needed.
pub trait PasswordSource {
    /// The password for `key`, or [`SignError::NoPassword`].
    fn password(&mut self, key: &str) -> Result<Zeroizing<String>, SignError>;
}

/// Asks for a password interactively, given the prompt text.
pub type Prompt<'a> = Box<dyn FnMut(&str) -> std::io::Result<String> + 'a>;

/// Passwords from `SLIPWAY_PASSWORD`, then `COSIGN_PASSWORD` (an empty value is an empty
/// password, as with cosign), then an optional prompt (the CLI passes one when stdin is a TTY).
pub struct EnvPassword<'a> {
    env: &'a Env,
    prompt: Option<Prompt<'a>>,
}

impl fmt::Debug for EnvPassword<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvPassword")
            .field("prompt", &self.prompt.is_some())
            .finish()
    }
}

impl<'a> EnvPassword<'a> {
    /// Reads passwords from `env`; `prompt` asks interactively when the variables are unset.
    pub fn new(env: &'a Env, prompt: Option<Prompt<'a>>) -> Self {
        EnvPassword { env, prompt }
    }

    /// The password from the environment, if set there.
    pub fn from_env(env: &Env) -> Option<Zeroizing<String>> {
        [slipway_env::SLIPWAY_PASSWORD, slipway_env::COSIGN_PASSWORD]
            .iter()
            .find_map(|v| env.get(v))
            .map(|s| Zeroizing::new(s.to_owned()))
    }
}

impl PasswordSource for EnvPassword<'_> {
    fn password(&mut self, key: &str) -> Result<Zeroizing<String>, SignError> {
        if let Some(p) = EnvPassword::from_env(self.env) {
            return Ok(p);
        }
        match self.prompt.as_mut() {
            Some(ask) => ask(&format!("Password for key {key}: "))
                .map(Zeroizing::new)
                .map_err(|e| SignError::key(key, format!("cannot read the password: {e}"))),
            None => Err(SignError::NoPassword {
                key: key.to_owned(),
            }),
        }
    }
}

/// A fixed password (tests, and generate-key-pair after it asked).
#[derive(Clone)]
pub struct GivenPassword(pub Zeroizing<String>);

impl fmt::Debug for GivenPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GivenPassword(***)")
    }
}

impl PasswordSource for GivenPassword {
    fn password(&mut self, _key: &str) -> Result<Zeroizing<String>, SignError> {
        Ok(self.0.clone())
    }
}

/// A public key (SubjectPublicKeyInfo) that verifies signatures.
#[derive(Clone)]
pub struct PublicKey {
    der: Vec<u8>,
    key: CosignVerificationKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({}, {})", self.algorithm(), self.id())
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo; `what` names it in errors.
    pub fn from_der(der: &[u8], what: &str) -> Result<PublicKey, SignError> {
        let key = CosignVerificationKey::try_from_der(der)
            .map_err(|e| SignError::key(what, format!("unsupported public key: {e}")))?;
        Ok(PublicKey {
            der: der.to_vec(),
            key,
        })
    }

    /// Parses a PEM `PUBLIC KEY`.
    pub fn from_pem(pem_bytes: &[u8], what: &str) -> Result<PublicKey, SignError> {
        let block = pem::parse(pem_bytes)
            .map_err(|e| SignError::key(what, format!("not a PEM public key: {e}")))?;
        if block.tag() != PUBLIC_KEY_LABEL {
            return Err(SignError::key(
                what,
                format!(
                    "expected a PEM `{PUBLIC_KEY_LABEL}` block, found `{}`",
                    block.tag()
                ),
            ));
        }
        PublicKey::from_der(block.contents(), what)
    }

    /// Reads a public key from a file or variable.
    pub fn load(key: &KeyRef, env: &Env) -> Result<PublicKey, SignError> {
        let bytes = key.read(env)?;
        PublicKey::from_pem(&bytes, &key.to_string())
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// PEM text, as cosign writes `cosign.pub`.
    pub fn pem(&self) -> String {
        pem_lf(PUBLIC_KEY_LABEL, self.der.clone())
    }

    /// `sha256:<hex>` of the DER key: how the state file names a key.
    pub fn id(&self) -> String {
        slipway_oci::digest::sha256(&self.der).to_string()
    }

    /// `ecdsa-p256`, `rsa`, `ed25519`...
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            CosignVerificationKey::ECDSA_P256_SHA256_ASN1(_) => "ecdsa-p256",
            CosignVerificationKey::ECDSA_P384_SHA384_ASN1(_) => "ecdsa-p384",
            CosignVerificationKey::ECDSA_P521_SHA512_ASN1(_) => "ecdsa-p521",
            CosignVerificationKey::RSA_PKCS1_SHA256(_)
            | CosignVerificationKey::RSA_PSS_SHA256(_) => "rsa",
            CosignVerificationKey::ED25519(_) => "ed25519",
        }
    }

    /// Whether `signature` (raw bytes: DER for ECDSA) is valid for `message`, in any of the
    /// schemes cosign signs or verifies for this key type (see the module documentation).
    pub fn verify(&self, signature: &[u8], message: &[u8]) -> bool {
        if self
            .key
            .verify_signature(Signature::Raw(signature), message)
            .is_ok()
        {
            return true;
        }
        match self.key {
            CosignVerificationKey::ECDSA_P384_SHA384_ASN1(_) => {
                use p384::ecdsa::signature::hazmat::PrehashVerifier;
                use p384::pkcs8::DecodePublicKey;
                let (Ok(key), Ok(sig)) = (
                    p384::ecdsa::VerifyingKey::from_public_key_der(&self.der),
                    p384::ecdsa::Signature::from_der(signature),
                ) else {
                    return false;
                };
                key.verify_prehash(&sha256(message), &sig).is_ok()
            }
            CosignVerificationKey::ECDSA_P521_SHA512_ASN1(_) => {
                use p521::ecdsa::signature::hazmat::PrehashVerifier;
                use p521::pkcs8::DecodePublicKey;
                let (Ok(key), Ok(sig)) = (
                    p521::PublicKey::from_public_key_der(&self.der),
                    p521::ecdsa::Signature::from_der(signature),
                ) else {
                    return false;
                };
                p521::ecdsa::VerifyingKey::from_affine(*key.as_affine())
                    .is_ok_and(|k| k.verify_prehash(&sha256(message), &sig).is_ok())
            }
            CosignVerificationKey::ED25519(_) => {
                use ed25519_dalek::Digest as _;
                use ed25519_dalek::pkcs8::DecodePublicKey;
                let (Ok(key), Ok(sig)) = (
                    ed25519_dalek::VerifyingKey::from_public_key_der(&self.der),
                    ed25519_dalek::Signature::from_slice(signature),
                ) else {
                    return false;
                };
                key.verify_prehashed(ed25519_dalek::Sha512::new_with_prefix(message), None, &sig)
                    .is_ok()
            }
            _ => false,
        }
    }

    fn signing_scheme(&self) -> SigningScheme {
        match self.key {
            CosignVerificationKey::ECDSA_P256_SHA256_ASN1(_) => {
                SigningScheme::ECDSA_P256_SHA256_ASN1
            }
            CosignVerificationKey::ECDSA_P384_SHA384_ASN1(_) => {
                SigningScheme::ECDSA_P384_SHA384_ASN1
            }
            CosignVerificationKey::ECDSA_P521_SHA512_ASN1(_) => {
                SigningScheme::ECDSA_P521_SHA512_ASN1
            }
            // cosign signs with PKCS#1 v1.5 + SHA-256 for RSA keys.
            CosignVerificationKey::RSA_PKCS1_SHA256(_)
            | CosignVerificationKey::RSA_PSS_SHA256(_) => SigningScheme::RSA_PKCS1_SHA256(0),
            CosignVerificationKey::ED25519(_) => SigningScheme::ED25519,
        }
    }
}

/// A private key that signs, with its public half.
pub struct PrivateKey {
    pair: SigStoreKeyPair,
    signer: KeySigner,
    public: PublicKey,
    source: String,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, {:?})", self.source, self.public)
    }
}

/// The envelope cosign puts inside the PEM block; checked field by field before decryption.
#[derive(serde::Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(serde::Deserialize)]
struct Kdf {
    name: String,
    params: KdfParams,
    salt: String,
}

#[derive(serde::Deserialize)]
struct KdfParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(serde::Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

fn check_envelope(json: &[u8], what: &str) -> Result<(), SignError> {
    let bad = |m: String| SignError::key(what, format!("damaged encrypted key: {m}"));
    let env: Envelope =
        serde_json::from_slice(json).map_err(|e| bad(format!("the envelope is not valid: {e}")))?;
    if env.kdf.name != "scrypt" {
        return Err(bad(format!("unknown key derivation `{}`", env.kdf.name)));
    }
    // The same bounds as cosign and sigstore-rs: anything else is refused before running scrypt.
    if !matches!(env.kdf.params.n, 32768 | 65536) || env.kdf.params.r != 8 || env.kdf.params.p != 1
    {
        return Err(bad(format!(
            "unsupported scrypt parameters N={} r={} p={}",
            env.kdf.params.n, env.kdf.params.r, env.kdf.params.p
        )));
    }
    if env.cipher.name != "nacl/secretbox" {
        return Err(bad(format!("unknown cipher `{}`", env.cipher.name)));
    }
    let decode = |field: &str, v: &str| {
        B64.decode(v)
            .map_err(|e| bad(format!("`{field}` is not base64: {e}")))
    };
    let salt = decode("kdf.salt", &env.kdf.salt)?;
    if salt.is_empty() {
        return Err(bad("the salt is empty".into()));
    }
    if decode("cipher.nonce", &env.cipher.nonce)?.len() != 24 {
        return Err(bad("the nonce is not 24 bytes".into()));
    }
    if decode("ciphertext", &env.ciphertext)?.len() <= 16 {
        return Err(bad("the ciphertext is too short".into()));
    }
    Ok(())
}

impl PrivateKey {
    /// Reads a private key from a file or variable, asking `password` only when it is encrypted.
    pub fn load(
        key: &KeyRef,
        env: &Env,
        password: &mut dyn PasswordSource,
    ) -> Result<PrivateKey, SignError> {
        let bytes = key.read(env)?;
        PrivateKey::from_pem(&bytes, &key.to_string(), password)
    }

    /// Parses PEM key text; `what` names the key in errors.
    pub fn from_pem(
        pem_bytes: &[u8],
        what: &str,
        password: &mut dyn PasswordSource,
    ) -> Result<PrivateKey, SignError> {
        let blocks = pem::parse_many(pem_bytes).map_err(|e| {
            SignError::key(what, format!("not a PEM key file (corrupted PEM): {e}"))
        })?;
        let block = match blocks.as_slice() {
            [one] => one,
            [] => return Err(SignError::key(what, "no PEM block found (corrupted PEM)")),
            _ => {
                return Err(SignError::key(
                    what,
                    format!("expected one PEM block, found {}", blocks.len()),
                ));
            }
        };
        let pkcs8: Zeroizing<Vec<u8>> = match block.tag() {
            SIGSTORE_PRIVATE_KEY_LABEL | COSIGN_PRIVATE_KEY_LABEL => {
                check_envelope(block.contents(), what)?;
                let pw = password.password(what)?;
                match kdf::decrypt(block.contents(), pw.as_bytes()) {
                    Ok(der) => Zeroizing::new(der),
                    // The envelope was checked above; what remains is the MAC check (a wrong
                    // password, or damaged ciphertext: indistinguishable).
                    Err(sigstore::errors::SigstoreError::PrivateKeyEncryptError(_)) => {
                        return Err(SignError::WrongPassword {
                            key: what.to_owned(),
                        });
                    }
                    Err(e) => {
                        return Err(SignError::key(what, format!("cannot decrypt: {e}")));
                    }
                }
            }
            PLAIN_PRIVATE_KEY_LABEL => Zeroizing::new(block.contents().to_vec()),
            "EC PRIVATE KEY" | "RSA PRIVATE KEY" => {
                return Err(SignError::key(
                    what,
                    format!(
                        "`{}` (SEC1/PKCS#1) keys are not supported, as in cosign; convert with \
                         `openssl pkcs8 -topk8` and import it, or generate a new key pair",
                        block.tag()
                    ),
                ));
            }
            other => {
                return Err(SignError::key(
                    what,
                    format!("unsupported PEM block `{other}`: not a private key"),
                ));
            }
        };
        PrivateKey::from_pkcs8(&pkcs8, what)
    }

    fn from_pkcs8(der: &[u8], what: &str) -> Result<PrivateKey, SignError> {
        let pair = SigStoreKeyPair::from_der(der).map_err(|e| {
            SignError::key(
                what,
                format!(
                    "unsupported key type (ECDSA P-256/P-384/P-521, RSA and Ed25519 PKCS#8 keys are read): {e}"
                ),
            )
        })?;
        PrivateKey::from_pair(pair, what)
    }

    fn from_pair(pair: SigStoreKeyPair, what: &str) -> Result<PrivateKey, SignError> {
        let pub_der = pair
            .public_key_to_der()
            .map_err(|e| SignError::key(what, format!("cannot derive the public key: {e}")))?;
        let public = PublicKey::from_der(&pub_der, what)?;
        let cannot = |e: String| SignError::key(what, format!("cannot sign with this key: {e}"));
        let pkcs8 = || {
            pair.private_key_to_der()
                .map(Zeroizing::new)
                .map_err(|e| cannot(e.to_string()))
        };
        let signer = match public.key {
            CosignVerificationKey::ECDSA_P384_SHA384_ASN1(_) => {
                use p384::pkcs8::DecodePrivateKey;
                KeySigner::P384(
                    p384::ecdsa::SigningKey::from_pkcs8_der(&pkcs8()?)
                        .map_err(|e| cannot(e.to_string()))?,
                )
            }
            CosignVerificationKey::ECDSA_P521_SHA512_ASN1(_) => {
                use p521::pkcs8::DecodePrivateKey;
                let secret = p521::SecretKey::from_pkcs8_der(&pkcs8()?)
                    .map_err(|e| cannot(e.to_string()))?;
                KeySigner::P521(
                    p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes())
                        .map_err(|e| cannot(e.to_string()))?,
                )
            }
            CosignVerificationKey::ED25519(_) => {
                use ed25519_dalek::pkcs8::DecodePrivateKey;
                KeySigner::Ed25519ph(
                    ed25519_dalek::SigningKey::from_pkcs8_der(&pkcs8()?)
                        .map_err(|e| cannot(e.to_string()))?,
                )
            }
            _ => KeySigner::Sigstore(
                pair.to_sigstore_signer(&public.signing_scheme())
                    .map_err(|e| cannot(e.to_string()))?,
            ),
        };
        Ok(PrivateKey {
            pair,
            signer,
            public,
            source: what.to_owned(),
        })
    }

    /// A new ECDSA P-256 key (cosign's default).
    pub fn generate() -> Result<PrivateKey, SignError> {
        let keys = sigstore::crypto::signing_key::ecdsa::ECDSAKeys::new(
            sigstore::crypto::signing_key::ecdsa::EllipticCurve::P256,
        )
        .map_err(|e| SignError::key("new key", format!("cannot generate: {e}")))?;
        PrivateKey::from_pair(SigStoreKeyPair::ECDSA(keys), "new key")
    }

    /// The key encrypted with `password`, as PEM `ENCRYPTED SIGSTORE PRIVATE KEY`.
    pub fn encrypted_pem(&self, password: &str) -> Result<Zeroizing<String>, SignError> {
        let der = self
            .pair
            .private_key_to_der()
            .map_err(|e| SignError::key(&self.source, format!("cannot export: {e}")))?;
        let envelope = kdf::encrypt(&der, password.as_bytes())
            .map_err(|e| SignError::key(&self.source, format!("cannot encrypt: {e}")))?;
        Ok(Zeroizing::new(pem_lf(SIGSTORE_PRIVATE_KEY_LABEL, envelope)))
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Signs `message` (cosign's scheme for the key type, see the module documentation; DER for
    /// ECDSA).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let failed = |e: String| SignError::key(&self.source, format!("signing failed: {e}"));
        match &self.signer {
            KeySigner::Sigstore(s) => s.sign(message).map_err(|e| failed(e.to_string())),
            KeySigner::P384(k) => {
                use p384::ecdsa::signature::hazmat::PrehashSigner;
                let sig: p384::ecdsa::Signature = k
                    .sign_prehash(&sha256(message))
                    .map_err(|e| failed(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            KeySigner::P521(k) => {
                use p521::ecdsa::signature::hazmat::PrehashSigner;
                let sig: p521::ecdsa::Signature = k
                    .sign_prehash(&sha256(message))
                    .map_err(|e| failed(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            KeySigner::Ed25519ph(k) => {
                use ed25519_dalek::Digest as _;
                k.sign_prehashed(ed25519_dalek::Sha512::new_with_prefix(message), None)
                    .map(|s| s.to_bytes().to_vec())
                    .map_err(|e| failed(e.to_string()))
            }
        }
    }
}

/// How a private key signs (see the module documentation).
enum KeySigner {
    /// P-256 with SHA-256, RSA PKCS#1 v1.5 with SHA-256: as the `sigstore` crate signs.
    Sigstore(SigStoreSigner),
    /// P-384 over SHA-256 (RFC 6979 nonces).
    P384(p384::ecdsa::SigningKey),
    /// P-521 over SHA-256 (RFC 6979 nonces).
    P521(p521::ecdsa::SigningKey),
    /// Ed25519ph, empty context.
    Ed25519ph(ed25519_dalek::SigningKey),
}

fn sha256(message: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(message).to_vec()
}

fn pem_lf(label: &str, contents: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(label, contents),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_refs() {
        assert_eq!(
            KeyRef::parse("env://COSIGN_KEY").unwrap(),
            KeyRef::Env("COSIGN_KEY".into())
        );
        assert_eq!(
            KeyRef::parse("cosign.key").unwrap(),
            KeyRef::Path("cosign.key".into())
        );
        assert!(KeyRef::parse("env://").is_err());
        assert!(KeyRef::parse("awskms://x").is_err());
    }

    #[test]
    fn generated_key_round_trips_and_signs() {
        let key = PrivateKey::generate().unwrap();
        let pem = key.encrypted_pem("pw").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let back = PrivateKey::from_pem(
            pem.as_bytes(),
            "k",
            &mut GivenPassword("pw".to_owned().into()),
        )
        .unwrap();
        assert_eq!(back.public(), key.public());
        let sig = back.sign(b"hello").unwrap();
        assert!(key.public().verify(&sig, b"hello"));
        assert!(!key.public().verify(&sig, b"hellO"));
        let err = PrivateKey::from_pem(
            pem.as_bytes(),
            "k",
            &mut GivenPassword("nope".to_owned().into()),
        )
        .unwrap_err();
        assert!(matches!(err, SignError::WrongPassword { .. }), "{err}");
    }

    #[test]
    fn damaged_envelopes_are_errors_not_panics() {
        let key = PrivateKey::generate().unwrap();
        let pem = key.encrypted_pem("pw").unwrap();
        let block = pem::parse(pem.as_bytes()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(block.contents()).unwrap();
        v["cipher"]["nonce"] = "AAAA".into();
        let bad = pem_lf(SIGSTORE_PRIVATE_KEY_LABEL, serde_json::to_vec(&v).unwrap());
        let err = PrivateKey::from_pem(
            bad.as_bytes(),
            "k",
            &mut GivenPassword("pw".to_owned().into()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("nonce"), "{err}");
        v["kdf"]["params"]["N"] = 1024.into();
        let bad = pem_lf(SIGSTORE_PRIVATE_KEY_LABEL, serde_json::to_vec(&v).unwrap());
        let err = PrivateKey::from_pem(
            bad.as_bytes(),
            "k",
            &mut GivenPassword("pw".to_owned().into()),
        )
        .unwrap_err();
        assert!(err.to_string().contains("scrypt"), "{err}");
    }

    #[test]
    fn damaged_ciphertext_is_not_called_just_a_wrong_password() {
        let key = PrivateKey::generate().unwrap();
        let pem = key.encrypted_pem("pw").unwrap();
        let block = pem::parse(pem.as_bytes()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(block.contents()).unwrap();
        let mut ct = B64.decode(v["ciphertext"].as_str().unwrap()).unwrap();
        ct[20] ^= 0x01;
        v["ciphertext"] = B64.encode(&ct).into();
        let bad = pem_lf(SIGSTORE_PRIVATE_KEY_LABEL, serde_json::to_vec(&v).unwrap());
        let err = PrivateKey::from_pem(
            bad.as_bytes(),
            "k",
            &mut GivenPassword("pw".to_owned().into()),
        )
        .unwrap_err();
        assert!(matches!(err, SignError::WrongPassword { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("wrong password, or the key file is damaged"),
            "{err}"
        );
    }
}
