//! What gets signed: cosign's simple-signing payload, DSSE envelopes, in-toto statements.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use slipway_types::{Digest, Repository};

/// `critical.type` of a cosign image signature.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// DSSE payload type of in-toto statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// in-toto Statement v0.1 (what cosign itself still writes; read, never written).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// `critical.identity.docker-reference` for an image pushed to `repo`, as cosign writes it:
/// go-containerregistry's `Repository.Name()` — the repository without tag or digest, Docker Hub
/// spelled `index.docker.io` with the implicit `library/` (sigstore/sigstore
/// `pkg/signature/payload`, go-containerregistry `pkg/name/{repository,registry}.go`).
pub fn docker_reference(repo: &Repository) -> String {
    if repo.registry() == "docker.io" {
        format!("index.docker.io/{}", repo.path())
    } else {
        repo.to_string()
    }
}

/// The simple-signing payload for `digest` pushed as `docker_reference`: compact JSON, keys
/// sorted — the bytes cosign produces for the same values. `optional` holds annotations
/// (`-a key=value`); `null` when there are none, as cosign writes it.
pub fn simple_signing(
    docker_reference: &str,
    digest: &Digest,
    optional: &BTreeMap<String, String>,
) -> Vec<u8> {
    let optional = if optional.is_empty() {
        Value::Null
    } else {
        json!(optional)
    };
    slipway_oci::json::canonical(&json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest.to_string()},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": optional,
    }))
    .expect("the payload serialises")
}

/// The claims of a simple-signing payload that verification checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    /// `critical.image.docker-manifest-digest`.
    pub digest: String,
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
    /// `optional`, string values only.
    pub optional: BTreeMap<String, String>,
}

/// Parses a simple-signing payload.
pub fn parse_simple_signing(bytes: &[u8]) -> Result<SimpleSigning, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let s = |p: &str| v.pointer(p).and_then(Value::as_str);
    let ty = s("/critical/type").ok_or("the payload has no critical.type")?;
    if !ty.eq_ignore_ascii_case(SIMPLE_SIGNING_TYPE) {
        return Err(format!(
            "the payload type is `{ty}`, not `{SIMPLE_SIGNING_TYPE}`"
        ));
    }
    Ok(SimpleSigning {
        digest: s("/critical/image/docker-manifest-digest")
            .ok_or("the payload has no critical.image.docker-manifest-digest")?
            .to_owned(),
        docker_reference: s("/critical/identity/docker-reference")
            .unwrap_or_default()
            .to_owned(),
        optional: v
            .get("optional")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// DSSE pre-authentication encoding: what is actually signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope (field order as cosign writes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `application/vnd.in-toto+json`.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 of the statement.
    pub payload: String,
    /// Signatures over the PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Key id (cosign writes an empty one).
    #[serde(default)]
    pub keyid: String,
    /// Base64 signature.
    pub sig: String,
}

impl Envelope {
    /// An envelope of `statement` signed with `sign` (over the PAE).
    pub fn sign<E>(
        statement: &[u8],
        sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
    ) -> Result<(Envelope, Vec<u8>), E> {
        let sig = sign(&pae(INTOTO_PAYLOAD_TYPE, statement))?;
        Ok((
            Envelope {
                payload_type: INTOTO_PAYLOAD_TYPE.to_owned(),
                payload: B64.encode(statement),
                signatures: vec![EnvelopeSignature {
                    keyid: String::new(),
                    sig: B64.encode(&sig),
                }],
            },
            sig,
        ))
    }

    /// The JSON bytes stored as the layer.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope serialises")
    }

    /// The decoded statement bytes.
    pub fn statement_bytes(&self) -> Result<Vec<u8>, String> {
        B64.decode(&self.payload)
            .map_err(|e| format!("the envelope payload is not base64: {e}"))
    }

    /// The decoded signatures.
    pub fn raw_signatures(&self) -> Vec<Vec<u8>> {
        self.signatures
            .iter()
            .filter_map(|s| B64.decode(&s.sig).ok())
            .collect()
    }
}

/// An in-toto Statement v1 about `subject` (named `name`).
pub fn statement(name: &str, subject: &Digest, predicate_type: &str, predicate: &Value) -> Vec<u8> {
    // Field order as in the in-toto spec; serde_json keeps struct order.
    #[derive(Serialize)]
    struct Statement<'a> {
        #[serde(rename = "_type")]
        ty: &'a str,
        subject: Vec<Value>,
        #[serde(rename = "predicateType")]
        predicate_type: &'a str,
        predicate: &'a Value,
    }
    let mut digest = serde_json::Map::new();
    digest.insert(
        subject.algorithm().name().to_owned(),
        Value::String(subject.hex().to_owned()),
    );
    serde_json::to_vec(&Statement {
        ty: STATEMENT_V1,
        subject: vec![json!({"name": name, "digest": digest})],
        predicate_type,
        predicate,
    })
    .expect("a statement serialises")
}

/// The parts of a statement verification checks.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    /// `predicateType`.
    pub predicate_type: String,
    /// Digests of the subjects (`sha256:<hex>`).
    pub subject_digests: Vec<String>,
    /// The predicate.
    pub predicate: Value,
}

/// Parses an in-toto statement (v1 or v0.1).
pub fn parse_statement(bytes: &[u8]) -> Result<ParsedStatement, String> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the statement is not JSON: {e}"))?;
    let ty = v.get("_type").and_then(Value::as_str).unwrap_or_default();
    if ty != STATEMENT_V1 && ty != STATEMENT_V01 {
        return Err(format!("`_type` is `{ty}`, not an in-toto statement"));
    }
    let subject_digests = v
        .get("subject")
        .and_then(Value::as_array)
        .map(|subs| {
            subs.iter()
                .filter_map(|s| s.get("digest").and_then(Value::as_object))
                .flat_map(|d| {
                    d.iter()
                        .filter_map(|(alg, hex)| hex.as_str().map(|h| format!("{alg}:{h}")))
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(ParsedStatement {
        predicate_type: v
            .get("predicateType")
            .and_then(Value::as_str)
            .ok_or("the statement has no predicateType")?
            .to_owned(),
        subject_digests,
        predicate: v.get("predicate").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_signing_bytes_match_cosign() {
        // The busybox payload from sigstore-rs/cosign: our encoder writes the same bytes.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let want = std::fs::read(dir.join("busybox.payload.json")).unwrap();
        let d: Digest = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b"
            .parse()
            .unwrap();
        let got = simple_signing("registry-testing.svc.lan/busybox", &d, &BTreeMap::new());
        assert_eq!(
            String::from_utf8(got).unwrap(),
            String::from_utf8(want.clone()).unwrap()
        );
        let p = parse_simple_signing(&want).unwrap();
        assert_eq!(p.digest, d.to_string());
        assert_eq!(p.docker_reference, "registry-testing.svc.lan/busybox");
    }

    #[test]
    fn docker_reference_is_normalised_as_cosign_does() {
        let r = |s: &str| docker_reference(&s.parse().unwrap());
        assert_eq!(r("ghcr.io/acme/app"), "ghcr.io/acme/app");
        assert_eq!(r("127.0.0.1:5000/acme/app"), "127.0.0.1:5000/acme/app");
        assert_eq!(r("hello"), "index.docker.io/library/hello");
        assert_eq!(r("docker.io/acme/app"), "index.docker.io/acme/app");
        assert_eq!(
            r("index.docker.io/library/alpine"),
            "index.docker.io/library/alpine"
        );
    }

    #[test]
    fn pae_is_dsse_v1() {
        // The example from the DSSE specification's protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn statements_round_trip() {
        let d = slipway_oci::digest::sha256(b"x");
        let s = statement(
            "repo",
            &d,
            "https://slsa.dev/provenance/v1",
            &json!({"a": 1}),
        );
        let p = parse_statement(&s).unwrap();
        assert_eq!(p.predicate_type, "https://slsa.dev/provenance/v1");
        assert_eq!(p.subject_digests, [d.to_string()]);
        assert_eq!(p.predicate, json!({"a": 1}));
        // The in-toto examples of the attestation spec parse.
        for f in [
            "intoto-statement-v1-release-01.json",
            "slsa-blog-statement-01.json",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(f);
            parse_statement(&std::fs::read(path).unwrap()).unwrap();
        }
    }
}
