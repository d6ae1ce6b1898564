//! Signing and attesting a digest in a layout.
//!
//! Both are idempotent: a signature (attestation) already present for the same payload
//! (statement) by the same signer is kept and nothing is added — the transparency log is not
//! asked again either, so re-running the sign step after a failure later in the pipeline reuses
//! what the first run made.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;
use slipway_oci::Layout;
use slipway_types::Digest;

use crate::SignError;
use crate::cosign::{
    self, ArtifactKind, BUNDLE_ANNOTATION, DSSE_MEDIA_TYPE, Layer, PREDICATE_TYPE_ANNOTATION,
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE,
};
use crate::payload::{self, Envelope};
use crate::rekor::{self, TransparencyLog};
use crate::signer::{SignerIdentity, SignerProvider};
use crate::source::LayoutSource;

/// What signing or attesting one digest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The subject.
    pub digest: Digest,
    /// The cosign tag holding it.
    pub tag: String,
    /// Whether a layer was added (false: it was there already).
    pub added: bool,
    /// Transparency log index, when there is an entry.
    pub log_index: Option<i64>,
    /// Whether the log already had the entry (409 on upload).
    pub log_entry_existed: bool,
    /// `sha256:…` of the public key (keyed).
    pub key_id: Option<String>,
    /// Certificate identity (keyless).
    pub identity: Option<String>,
    /// Certificate issuer (keyless).
    pub issuer: Option<String>,
}

fn describe(
    layer: &Layer,
    identity: &SignerIdentity,
) -> (Option<String>, Option<String>, Option<String>) {
    match identity {
        SignerIdentity::Key(k) => (Some(k.id()), None, None),
        SignerIdentity::Certificate { .. } => {
            let cert = layer
                .certificate_pem()
                .and_then(|p| crate::trust::SigningCert::from_pem(p).ok());
            (
                None,
                cert.as_ref().and_then(|c| c.identities.first().cloned()),
                cert.and_then(|c| c.issuer),
            )
        }
    }
}

fn log_index(layer: &Layer) -> Option<i64> {
    layer.bundle().ok().flatten().map(|b| b.payload.log_index)
}

/// Signs `subject` (stored in `layout`) with cosign's simple-signing payload naming
/// `docker_reference`, appending to its `.sig` manifest unless the same signer already signed the
/// same payload. With `tlog`, the signature is recorded in the transparency log and the bundle
/// stored with it.
pub fn sign(
    layout: &Layout,
    subject: &Digest,
    docker_reference: &str,
    optional: &BTreeMap<String, String>,
    provider: &mut dyn SignerProvider,
    tlog: Option<&dyn TransparencyLog>,
) -> Result<Outcome, SignError> {
    let source = LayoutSource::new(layout.clone());
    let existing = cosign::read(&source, subject, ArtifactKind::Signature)?;
    let mut layers = existing.map(|a| a.layers).unwrap_or_default();
    let tag = ArtifactKind::Signature.tag(subject);

    let find_own = |identity: &SignerIdentity, layers: &[Layer]| {
        layers
            .iter()
            .find(|l| {
                l.media_type == SIMPLE_SIGNING_MEDIA_TYPE
                    && payload::parse_simple_signing(&l.payload).is_ok_and(|p| {
                        p.digest == subject.to_string()
                            && p.docker_reference == docker_reference
                            && p.optional == *optional
                    })
                    && (tlog.is_none() || matches!(l.bundle(), Ok(Some(_))))
                    && l.signature()
                        .ok()
                        .flatten()
                        .is_some_and(|s| identity.made(l, &s, &l.payload))
            })
            .cloned()
    };
    let already = |identity: SignerIdentity, layer: Layer| {
        let (key_id, ident, issuer) = describe(&layer, &identity);
        Outcome {
            digest: subject.clone(),
            tag: tag.clone(),
            added: false,
            log_index: log_index(&layer),
            log_entry_existed: true,
            key_id,
            identity: ident,
            issuer,
        }
    };
    let expected = provider.expected_identity();
    if let Some(l) = find_own(&expected, &layers) {
        return Ok(already(expected, l));
    }
    let signer = provider.signer()?;
    let identity = signer.identity();
    if let Some(l) = find_own(&identity, &layers) {
        return Ok(already(identity, l));
    }

    let body = payload::simple_signing(docker_reference, subject, optional);
    let signature = signer.sign(&body)?;
    let mut annotations = BTreeMap::new();
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), B64.encode(&signature));
    signer.annotate(&mut annotations);
    let mut entry_existed = false;
    let mut index = None;
    if let Some(log) = tlog {
        let entry = log.upload(&rekor::hashedrekord(
            &body,
            &signature,
            &signer.verifier_pem(),
        ))?;
        entry_existed = entry.existed;
        index = Some(entry.bundle.payload.log_index);
        annotations.insert(
            BUNDLE_ANNOTATION.to_owned(),
            serde_json::to_string(&entry.bundle).expect("a bundle serialises"),
        );
    }
    let layer = Layer {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
        payload: body,
        annotations,
    };
    let (key_id, ident, issuer) = describe(&layer, &identity);
    layers.push(layer);
    cosign::write(layout, subject, ArtifactKind::Signature, &layers)?;
    Ok(Outcome {
        digest: subject.clone(),
        tag,
        added: true,
        log_index: index,
        log_entry_existed: entry_existed,
        key_id,
        identity: ident,
        issuer,
    })
}

/// Attests `predicate` (of `predicate_type`) about `subject`, named `name` in the statement,
/// appending to its `.att` manifest unless the same signer already attested the same predicate.
pub fn attest(
    layout: &Layout,
    subject: &Digest,
    name: &str,
    predicate_type: &str,
    predicate: &Value,
    provider: &mut dyn SignerProvider,
    tlog: Option<&dyn TransparencyLog>,
) -> Result<Outcome, SignError> {
    let source = LayoutSource::new(layout.clone());
    let existing = cosign::read(&source, subject, ArtifactKind::Attestation)?;
    let mut layers = existing.map(|a| a.layers).unwrap_or_default();
    let tag = ArtifactKind::Attestation.tag(subject);

    let find_own = |identity: &SignerIdentity, layers: &[Layer]| {
        layers
            .iter()
            .find(|l| {
                if l.media_type != DSSE_MEDIA_TYPE || l.predicate_type() != Some(predicate_type) {
                    return false;
                }
                if tlog.is_some() && !matches!(l.bundle(), Ok(Some(_))) {
                    return false;
                }
                let Ok(env) = serde_json::from_slice::<Envelope>(&l.payload) else {
                    return false;
                };
                let Ok(statement) = env.statement_bytes() else {
                    return false;
                };
                let same = payload::parse_statement(&statement).is_ok_and(|s| {
                    s.predicate_type == predicate_type
                        && s.subject_digests.contains(&subject.to_string())
                        && s.predicate == *predicate
                });
                let pae = payload::pae(&env.payload_type, &statement);
                same && env
                    .raw_signatures()
                    .iter()
                    .any(|sig| identity.made(l, sig, &pae))
            })
            .cloned()
    };
    let already = |identity: SignerIdentity, layer: Layer| {
        let (key_id, ident, issuer) = describe(&layer, &identity);
        Outcome {
            digest: subject.clone(),
            tag: tag.clone(),
            added: false,
            log_index: log_index(&layer),
            log_entry_existed: true,
            key_id,
            identity: ident,
            issuer,
        }
    };
    let expected = provider.expected_identity();
    if let Some(l) = find_own(&expected, &layers) {
        return Ok(already(expected, l));
    }
    let signer = provider.signer()?;
    let identity = signer.identity();
    if let Some(l) = find_own(&identity, &layers) {
        return Ok(already(identity, l));
    }

    let statement = payload::statement(name, subject, predicate_type, predicate);
    let (envelope, signature) = Envelope::sign(&statement, |m| signer.sign(m))?;
    let body = envelope.to_bytes();
    let mut annotations = BTreeMap::new();
    // cosign stores attestations with an empty signature annotation: the signature is in the
    // envelope.
    annotations.insert(SIGNATURE_ANNOTATION.to_owned(), String::new());
    annotations.insert(
        PREDICATE_TYPE_ANNOTATION.to_owned(),
        predicate_type.to_owned(),
    );
    signer.annotate(&mut annotations);
    let mut entry_existed = false;
    let mut index = None;
    if let Some(log) = tlog {
        let entry = log.upload(&rekor::dsse(&body, &signer.verifier_pem()))?;
        entry_existed = entry.existed;
        index = Some(entry.bundle.payload.log_index);
        annotations.insert(
            BUNDLE_ANNOTATION.to_owned(),
            serde_json::to_string(&entry.bundle).expect("a bundle serialises"),
        );
    }
    let _ = signature;
    let layer = Layer {
        media_type: DSSE_MEDIA_TYPE.to_owned(),
        payload: body,
        annotations,
    };
    let (key_id, ident, issuer) = describe(&layer, &identity);
    layers.push(layer);
    cosign::write(layout, subject, ArtifactKind::Attestation, &layers)?;
    Ok(Outcome {
        digest: subject.clone(),
        tag,
        added: true,
        log_index: index,
        log_entry_existed: entry_existed,
        key_id,
        identity: ident,
        issuer,
    })
}
