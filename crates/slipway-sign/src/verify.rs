//! Verifying signatures and attestations, offline, against a key or a certificate identity.
//!
//! Nothing here fetches anything: trust comes from the key or the trusted root given, and the
//! transparency log is checked through the bundle stored with each signature. A signature
//! counts only when every check passes: the payload names the digest being verified, the
//! signature verifies, and — keyless, or keyed with a log required — the log's SET verifies and
//! its entry is about this very signature, the certificate chains to a trusted Fulcio CA at the
//! time the log integrated it, its embedded SCT verifies with a CT log key of the trusted root,
//! and its identity and issuer match.

use regex::Regex;
use slipway_types::Digest;

use crate::SignError;
use crate::cosign::{self, ArtifactKind, DSSE_MEDIA_TYPE, Layer, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::keys::PublicKey;
use crate::payload::{self, Envelope};
use crate::rekor;
use crate::source::ArtifactSource;
use crate::trust::{SigningCert, TrustedRoot, chain_ders};

/// An exact value or a regular expression (matched against the whole value, as cosign does).
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal to.
    Exact(String),
    /// Matches.
    Regex(Regex),
}

impl Matcher {
    /// A regex matcher; `what` names the flag in errors.
    pub fn regex(pattern: &str, what: &str) -> Result<Matcher, SignError> {
        Regex::new(&format!("^(?:{pattern})$"))
            .map(Matcher::Regex)
            .map_err(|e| SignError::invalid(what, format!("not a valid regular expression: {e}")))
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }

    /// For messages and the state (`identity:<…>`).
    pub fn describe(&self) -> String {
        match self {
            Matcher::Exact(s) => s.clone(),
            Matcher::Regex(r) => {
                let s = r.as_str();
                format!("~{}", &s[4..s.len() - 2])
            }
        }
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Authority {
    /// A key pair.
    Key(PublicKey),
    /// A Fulcio certificate for a matching identity and issuer.
    Keyless {
        /// Certificate identity (SAN).
        identity: Matcher,
        /// OIDC issuer.
        issuer: Matcher,
    },
}

/// What verification requires.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Who must have signed.
    pub authority: Authority,
    /// Fulcio roots and Rekor keys (required for keyless and for `require_tlog`).
    pub trust: Option<TrustedRoot>,
    /// Require a verified transparency log entry for keyed signatures too.
    pub require_tlog: bool,
    /// Accept keyless certificates without checking their embedded SCT (cosign's
    /// `--insecure-ignore-sct`, for a private Fulcio without a CT log).
    pub ignore_sct: bool,
}

impl Policy {
    /// `key:sha256:…` or `identity:<identity>@<issuer>`, for the state file.
    pub fn method(&self) -> String {
        match &self.authority {
            Authority::Key(k) => format!("key:{}", k.id()),
            Authority::Keyless { identity, issuer } => {
                format!("identity:{}@{}", identity.describe(), issuer.describe())
            }
        }
    }

    /// Checks the policy itself is usable.
    pub fn check(&self) -> Result<(), SignError> {
        let needs_trust = matches!(self.authority, Authority::Keyless { .. }) || self.require_tlog;
        if needs_trust && self.trust.is_none() {
            return Err(SignError::invalid(
                "--trusted-root",
                "keyless verification (and --require-tlog) needs a trusted root file: \
                 verification is offline and uses only the trust material given",
            ));
        }
        Ok(())
    }
}

/// A signature (or attestation) that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid {
    /// Certificate identity (keyless).
    pub identity: Option<String>,
    /// Transparency log index, when checked.
    pub log_index: Option<i64>,
}

/// The result of checking every signature of a digest.
#[derive(Debug, Clone, Default)]
pub struct SignatureReport {
    /// Signatures that passed.
    pub valid: Vec<Valid>,
    /// Why the others did not.
    pub rejected: Vec<String>,
}

/// The result of checking the attestations of a digest.
#[derive(Debug, Clone, Default)]
pub struct AttestationReport {
    /// Predicate types with at least one valid attestation.
    pub verified_types: Vec<String>,
    /// Why others did not pass.
    pub rejected: Vec<String>,
}

fn check_signed_by(
    policy: &Policy,
    layer: &Layer,
    signature: &[u8],
    signed: &[u8],
    content: &[u8],
) -> Result<Valid, String> {
    let bundle = layer.bundle()?;
    match &policy.authority {
        Authority::Key(key) => {
            if !key.verify(signature, signed) {
                return Err("the signature does not verify with the key".into());
            }
            let mut log_index = None;
            match (&bundle, &policy.trust) {
                (Some(b), Some(trust)) => {
                    rekor::verify_bundle(b, &trust.rekor, signature, content, &key.pem())?;
                    log_index = Some(b.payload.log_index);
                }
                (None, _) if policy.require_tlog => {
                    return Err("no transparency log bundle, and one is required".into());
                }
                _ => {}
            }
            Ok(Valid {
                identity: None,
                log_index,
            })
        }
        Authority::Keyless { identity, issuer } => {
            let trust = policy.trust.as_ref().ok_or("no trusted root")?;
            let pem = layer
                .certificate_pem()
                .ok_or("no certificate (not a keyless signature)")?;
            let cert = SigningCert::from_pem(pem).map_err(|e| format!("certificate: {e}"))?;
            let bundle = bundle.ok_or("no transparency log bundle")?;
            let at = rekor::verify_bundle(&bundle, &trust.rekor, signature, content, pem)?;
            let chain = match layer.chain_pem() {
                Some(c) => chain_ders(c)?,
                None => Vec::new(),
            };
            trust.verify_chain(&cert, &chain, at)?;
            if !policy.ignore_sct {
                let spki = trust.issuer_spki(&cert, &chain)?;
                trust
                    .verify_sct(&cert, &spki)
                    .map_err(|e| format!("certificate transparency: {e}"))?;
            }
            if !cert.public_key.verify(signature, signed) {
                return Err("the signature does not verify with the certificate's key".into());
            }
            let got_issuer = cert.issuer.clone().unwrap_or_default();
            if !issuer.matches(&got_issuer) {
                return Err(format!(
                    "certificate issuer `{got_issuer}` does not match `{}`",
                    issuer.describe()
                ));
            }
            let Some(id) = cert.identities.iter().find(|i| identity.matches(i)) else {
                return Err(format!(
                    "certificate identity {:?} does not match `{}`",
                    cert.identities,
                    identity.describe()
                ));
            };
            Ok(Valid {
                identity: Some(id.clone()),
                log_index: Some(bundle.payload.log_index),
            })
        }
    }
}

fn check_signature_layer(
    policy: &Policy,
    subject: &Digest,
    layer: &Layer,
) -> Result<Valid, String> {
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
        return Err(format!(
            "layer media type `{}` is not a simple-signing payload",
            layer.media_type
        ));
    }
    let claims = payload::parse_simple_signing(&layer.payload)?;
    if claims.digest != subject.to_string() {
        return Err(format!(
            "the payload is for {}, not {subject}",
            claims.digest
        ));
    }
    let signature = layer.signature()?.ok_or("no signature annotation")?;
    check_signed_by(policy, layer, &signature, &layer.payload, &layer.payload)
}

/// Why reading the attached artifacts failed, as a rejection when it is the content's fault
/// (damaged or substituted blobs are a failed verification, not a usage error).
fn read_attached(
    source: &dyn ArtifactSource,
    subject: &Digest,
    kind: ArtifactKind,
) -> Result<Result<Option<cosign::Attached>, String>, SignError> {
    match cosign::read(source, subject, kind) {
        Ok(a) => Ok(Ok(a)),
        Err(SignError::Oci(
            e @ (slipway_oci::OciError::Mismatch { .. }
            | slipway_oci::OciError::BlobMissing { .. }
            | slipway_oci::OciError::BadDocument { .. }),
        )) => Ok(Err(format!(
            "the {} of {subject} cannot be read intact: {e}",
            kind.tag(subject)
        ))),
        Err(e) => Err(e),
    }
}

/// Checks every signature attached to `subject`.
pub fn verify_signatures(
    source: &dyn ArtifactSource,
    subject: &Digest,
    policy: &Policy,
) -> Result<SignatureReport, SignError> {
    let mut report = SignatureReport::default();
    let attached = match read_attached(source, subject, ArtifactKind::Signature)? {
        Ok(Some(a)) => a,
        Ok(None) => {
            report.rejected.push(format!(
                "no signatures: {} does not exist in {}",
                ArtifactKind::Signature.tag(subject),
                source.location()
            ));
            return Ok(report);
        }
        Err(reason) => {
            report.rejected.push(reason);
            return Ok(report);
        }
    };
    for (i, layer) in attached.layers.iter().enumerate() {
        match check_signature_layer(policy, subject, layer) {
            Ok(v) => report.valid.push(v),
            Err(e) => report.rejected.push(format!("signature {}: {e}", i + 1)),
        }
    }
    Ok(report)
}

fn check_attestation_layer(
    policy: &Policy,
    subject: &Digest,
    layer: &Layer,
) -> Result<(String, Valid), String> {
    if layer.media_type != DSSE_MEDIA_TYPE {
        return Err(format!(
            "layer media type `{}` is not a DSSE envelope",
            layer.media_type
        ));
    }
    let env: Envelope =
        serde_json::from_slice(&layer.payload).map_err(|e| format!("not a DSSE envelope: {e}"))?;
    if env.payload_type != payload::INTOTO_PAYLOAD_TYPE {
        return Err(format!(
            "payload type `{}` is not in-toto",
            env.payload_type
        ));
    }
    let statement_bytes = env.statement_bytes()?;
    let statement = payload::parse_statement(&statement_bytes)?;
    if !statement.subject_digests.contains(&subject.to_string()) {
        return Err(format!(
            "the statement is about {:?}, not {subject}",
            statement.subject_digests
        ));
    }
    if let Some(annotated) = layer.predicate_type()
        && annotated != statement.predicate_type
    {
        return Err(format!(
            "the predicateType annotation `{annotated}` differs from the statement's `{}`",
            statement.predicate_type
        ));
    }
    let pae = payload::pae(&env.payload_type, &statement_bytes);
    let mut last = String::from("the envelope has no signatures");
    for sig in env.raw_signatures() {
        match check_signed_by(policy, layer, &sig, &pae, &layer.payload) {
            Ok(v) => return Ok((statement.predicate_type, v)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Checks the attestations attached to `subject`.
pub fn verify_attestations(
    source: &dyn ArtifactSource,
    subject: &Digest,
    policy: &Policy,
) -> Result<AttestationReport, SignError> {
    let mut report = AttestationReport::default();
    let attached = match read_attached(source, subject, ArtifactKind::Attestation)? {
        Ok(Some(a)) => a,
        Ok(None) => return Ok(report),
        Err(reason) => {
            report.rejected.push(reason);
            return Ok(report);
        }
    };
    for (i, layer) in attached.layers.iter().enumerate() {
        match check_attestation_layer(policy, subject, layer) {
            Ok((ty, _)) => {
                if !report.verified_types.contains(&ty) {
                    report.verified_types.push(ty);
                }
            }
            Err(e) => report.rejected.push(format!(
                "attestation {} ({}): {e}",
                i + 1,
                layer.predicate_type().unwrap_or("no predicate type")
            )),
        }
    }
    Ok(report)
}
