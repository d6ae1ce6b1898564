//! The Rekor transparency log: entries, the bundle cosign stores, the client.
//!
//! Signing uploads a `hashedrekord` entry (signatures) or a `dsse` entry (attestations) and keeps
//! the log's answer as cosign's "bundle" (`dev.sigstore.cosign/bundle`: the SignedEntryTimestamp
//! and the entry's body, integrated time, index and log id — sigstore/cosign
//! `pkg/cosign/bundle/rekor.go`). Verification checks that bundle offline: the SET is a signature
//! by the log's key over the canonical JSON of the payload, and the body must describe exactly
//! the signature being verified.
//!
//! Uploading the same entry twice is not an error: Rekor answers 409 Conflict with the existing
//! entry's location, and the client fetches that entry. A sign step re-run after a failure later
//! in the pipeline therefore reuses the entry it made before.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use slipway_types::redact_url;

use crate::SignError;
use crate::keys::PublicKey;

/// The public-good Rekor.
pub const DEFAULT_REKOR_URL: &str = "https://rekor.sigstore.dev";

/// cosign's `RekorBundle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekorBundle {
    /// Base64 signature of the log over the payload.
    #[serde(rename = "SignedEntryTimestamp")]
    pub signed_entry_timestamp: String,
    /// What the log signed.
    #[serde(rename = "Payload")]
    pub payload: RekorPayload,
}

/// The signed part of a bundle (field order as cosign writes it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RekorPayload {
    /// Base64 of the canonical entry body.
    pub body: String,
    /// Unix time the entry was integrated.
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    /// Index in the log.
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    /// Hex sha256 of the log's public key.
    #[serde(rename = "logID")]
    pub log_id: String,
}

/// A log entry as the API returns it.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// The entry's UUID.
    pub uuid: String,
    /// The bundle to store.
    pub bundle: RekorBundle,
    /// Whether the entry already existed (409 on upload).
    pub existed: bool,
}

/// A transparency log. Tests substitute a local server behind [`RekorClient`] or their own
/// implementation.
pub trait TransparencyLog {
    /// Uploads `entry` (a proposed entry: `{apiVersion, kind, spec}`), or returns the existing
    /// identical entry.
    fn upload(&self, entry: &Value) -> Result<LogEntry, SignError>;
    /// The log's URL, for messages.
    fn url(&self) -> String;
}

/// A `hashedrekord` v0.0.1 entry for a signature over `payload` by `verifier_pem` (a public key
/// or certificate PEM).
pub fn hashedrekord(payload: &[u8], signature: &[u8], verifier_pem: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": slipway_oci::digest::sha256(payload).hex()}},
            "signature": {
                "content": B64.encode(signature),
                "publicKey": {"content": B64.encode(verifier_pem.as_bytes())}
            }
        }
    })
}

/// A `dsse` v0.0.1 entry for an envelope signed by `verifier_pem`.
pub fn dsse(envelope_json: &[u8], verifier_pem: &str) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": String::from_utf8_lossy(envelope_json),
                "verifiers": [B64.encode(verifier_pem.as_bytes())]
            }
        }
    })
}

/// A Rekor server reached over HTTP.
#[derive(Debug, Clone)]
pub struct RekorClient {
    base: String,
    http: reqwest::blocking::Client,
    retries: u32,
}

impl RekorClient {
    /// A client for the Rekor at `base_url`.
    pub fn new(base_url: &str) -> Result<RekorClient, SignError> {
        Ok(RekorClient {
            base: base_url.trim_end_matches('/').to_owned(),
            http: crate::http_client()?,
            retries: 3,
        })
    }

    fn err(&self, message: impl Into<String>) -> SignError {
        SignError::Service {
            service: "Rekor",
            url: redact_url(&self.base),
            message: message.into(),
        }
    }

    fn parse_entries(&self, body: &str) -> Result<(String, Value), SignError> {
        let v: Value = serde_json::from_str(body)
            .map_err(|e| self.err(format!("the answer is not JSON: {e}")))?;
        let obj = v
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| self.err("the answer is not a single log entry"))?;
        let (uuid, entry) = obj.iter().next().expect("one entry");
        Ok((uuid.clone(), entry.clone()))
    }

    fn to_entry(&self, uuid: String, e: &Value, existed: bool) -> Result<LogEntry, SignError> {
        let field = |k: &str| {
            e.get(k)
                .cloned()
                .ok_or_else(|| self.err(format!("the entry has no `{k}`")))
        };
        let set = e
            .pointer("/verification/signedEntryTimestamp")
            .and_then(Value::as_str)
            .ok_or_else(|| self.err("the entry has no signedEntryTimestamp"))?;
        Ok(LogEntry {
            uuid,
            existed,
            bundle: RekorBundle {
                signed_entry_timestamp: set.to_owned(),
                payload: RekorPayload {
                    body: field("body")?
                        .as_str()
                        .ok_or_else(|| self.err("`body` is not a string"))?
                        .to_owned(),
                    integrated_time: field("integratedTime")?
                        .as_i64()
                        .ok_or_else(|| self.err("`integratedTime` is not a number"))?,
                    log_index: field("logIndex")?
                        .as_i64()
                        .ok_or_else(|| self.err("`logIndex` is not a number"))?,
                    log_id: field("logID")?
                        .as_str()
                        .ok_or_else(|| self.err("`logID` is not a string"))?
                        .to_owned(),
                },
            },
        })
    }

    fn fetch(&self, location: &str) -> Result<LogEntry, SignError> {
        let url = if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            format!("{}/{}", self.base, location.trim_start_matches('/'))
        };
        let resp = crate::with_retries(self.retries, || self.http.get(&url).send())
            .map_err(|e| self.err(format!("cannot read the existing entry: {e}")))?;
        let status = resp.status();
        let text = resp
            .text()
            .map_err(|e| self.err(format!("cannot read the answer: {e}")))?;
        if !status.is_success() {
            return Err(self.err(format!(
                "reading the existing entry answered {status}: {}",
                crate::snippet(&text)
            )));
        }
        let (uuid, e) = self.parse_entries(&text)?;
        self.to_entry(uuid, &e, true)
    }
}

impl TransparencyLog for RekorClient {
    fn upload(&self, entry: &Value) -> Result<LogEntry, SignError> {
        let url = format!("{}/api/v1/log/entries", self.base);
        let body = serde_json::to_vec(entry).expect("an entry serialises");
        let resp = crate::with_retries(self.retries, || {
            self.http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(body.clone())
                .send()
        })
        .map_err(|e| self.err(e))?;
        let status = resp.status();
        if status.as_u16() == 409 {
            // The same entry is already in the log (a re-run): use it.
            let location = resp
                .headers()
                .get("Location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| self.err("409 Conflict without a Location header"))?;
            return self.fetch(&location);
        }
        let text = resp
            .text()
            .map_err(|e| self.err(format!("cannot read the answer: {e}")))?;
        if !status.is_success() {
            return Err(self.err(format!(
                "upload answered {status}: {}",
                crate::snippet(&text)
            )));
        }
        let (uuid, e) = self.parse_entries(&text)?;
        self.to_entry(uuid, &e, false)
    }

    fn url(&self) -> String {
        redact_url(&self.base)
    }
}

/// A log's public key and id.
#[derive(Debug, Clone)]
pub struct LogKey {
    /// Hex sha256 of the DER public key.
    pub log_id: String,
    /// The key.
    pub key: PublicKey,
}

impl LogKey {
    /// A log key from its public key.
    pub fn new(key: PublicKey) -> LogKey {
        LogKey {
            log_id: slipway_oci::digest::sha256(key.der()).hex().to_owned(),
            key,
        }
    }
}

/// Checks a bundle offline: the SET verifies with one of `keys` (the one whose id is the
/// bundle's log id), and the entry body is about `signature` over `payload_sha256`-hashed content
/// by `verifier_pem`. Returns the integrated time.
pub fn verify_bundle(
    bundle: &RekorBundle,
    keys: &[LogKey],
    signature: &[u8],
    signed_content: &[u8],
    verifier_pem: &str,
) -> Result<i64, String> {
    let key = keys
        .iter()
        .find(|k| k.log_id.eq_ignore_ascii_case(&bundle.payload.log_id))
        .ok_or_else(|| {
            format!(
                "the bundle is from log {} which is not in the trusted root",
                bundle.payload.log_id
            )
        })?;
    let set = B64
        .decode(bundle.signed_entry_timestamp.trim())
        .map_err(|e| format!("the SignedEntryTimestamp is not base64: {e}"))?;
    // The SET covers the canonical JSON (keys sorted) of the payload.
    let signed = slipway_oci::json::canonical(&json!({
        "body": bundle.payload.body,
        "integratedTime": bundle.payload.integrated_time,
        "logID": bundle.payload.log_id,
        "logIndex": bundle.payload.log_index,
    }))
    .map_err(|e| e.to_string())?;
    if !key.key.verify(&set, &signed) {
        return Err("the bundle's SignedEntryTimestamp does not verify with the log key".into());
    }
    let body = B64
        .decode(bundle.payload.body.trim())
        .map_err(|e| format!("the bundle body is not base64: {e}"))?;
    let body: Value =
        serde_json::from_slice(&body).map_err(|e| format!("the bundle body is not JSON: {e}"))?;
    check_body(&body, signature, signed_content, verifier_pem)?;
    Ok(bundle.payload.integrated_time)
}

fn b64_field<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

fn same_b64(a: &str, raw: &[u8]) -> bool {
    B64.decode(a.trim()).is_ok_and(|d| d == raw)
}

fn same_verifier(b64_pem: &str, verifier_pem: &str) -> bool {
    let Ok(given) = B64.decode(b64_pem.trim()) else {
        return false;
    };
    // Compare the decoded PEM contents, not the text (line endings may differ).
    match (pem::parse(&given), pem::parse(verifier_pem.as_bytes())) {
        (Ok(a), Ok(b)) => a.contents() == b.contents(),
        _ => false,
    }
}

fn check_body(
    body: &Value,
    signature: &[u8],
    content: &[u8],
    verifier_pem: &str,
) -> Result<(), String> {
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let mismatch = |what: &str| Err(format!("the transparency log entry is for another {what}"));
    match kind {
        "hashedrekord" | "rekord" => {
            let hash = b64_field(body, "/spec/data/hash/value").unwrap_or("");
            if hash != slipway_oci::digest::sha256(content).hex() {
                return mismatch("payload");
            }
            if !b64_field(body, "/spec/signature/content").is_some_and(|s| same_b64(s, signature)) {
                return mismatch("signature");
            }
            if !b64_field(body, "/spec/signature/publicKey/content")
                .is_some_and(|k| same_verifier(k, verifier_pem))
            {
                return mismatch("key or certificate");
            }
            Ok(())
        }
        "dsse" => {
            // As proposed (what a log that stores proposals keeps)…
            if let Some(env) = b64_field(body, "/spec/proposedContent/envelope") {
                let ours: Value = serde_json::from_slice(content).map_err(|e| e.to_string())?;
                let theirs: Value = serde_json::from_str(env).map_err(|e| e.to_string())?;
                if ours != theirs {
                    return mismatch("envelope");
                }
                let verifiers = body
                    .pointer("/spec/proposedContent/verifiers")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if !verifiers
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|v| same_verifier(v, verifier_pem))
                {
                    return mismatch("key or certificate");
                }
                return Ok(());
            }
            // …or canonicalised by Rekor: payload hash and signatures.
            let env: Value = serde_json::from_slice(content).map_err(|e| e.to_string())?;
            let payload = env
                .get("payload")
                .and_then(Value::as_str)
                .and_then(|p| B64.decode(p).ok())
                .ok_or("the envelope has no payload")?;
            if b64_field(body, "/spec/payloadHash/value")
                != Some(slipway_oci::digest::sha256(&payload).hex())
            {
                return mismatch("payload");
            }
            let sigs = body
                .pointer("/spec/signatures")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !sigs.iter().any(|s| {
                s.get("signature")
                    .and_then(Value::as_str)
                    .is_some_and(|x| same_b64(x, signature))
                    && s.get("verifier")
                        .and_then(Value::as_str)
                        .is_some_and(|v| same_verifier(v, verifier_pem))
            }) {
                return mismatch("signature");
            }
            Ok(())
        }
        other => Err(format!("unsupported transparency log entry kind `{other}`")),
    }
}

/// A Merkle inclusion proof of a log entry and the checkpoint (signed tree head) it leads to, as a
/// Sigstore bundle carries them (`verificationMaterial.tlogEntries[].inclusionProof`).
#[derive(Debug, Clone)]
pub struct InclusionProof {
    /// The entry's index in the log shard the proof is for.
    pub log_index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The root hash of that tree.
    pub root_hash: Vec<u8>,
    /// The audit path, leaf to root.
    pub hashes: Vec<Vec<u8>>,
    /// The signed note: origin, tree size, base64 root hash, a blank line, signature lines.
    pub checkpoint: String,
}

fn node_hash(left: &[u8], right: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().to_vec()
}

/// Checks that the entry `body` (the decoded canonical body) is in the tree `proof` names (RFC
/// 9162 §2.1.3.2: leaf hash `SHA-256(0x00 || body)`, nodes `SHA-256(0x01 || left || right)`), and
/// that the checkpoint for that tree is signed by one of `keys`.
pub fn verify_inclusion(
    body: &[u8],
    proof: &InclusionProof,
    keys: &[LogKey],
) -> Result<(), String> {
    use sha2::Digest as _;
    if proof.log_index >= proof.tree_size {
        return Err("the inclusion proof's index is outside its tree".into());
    }
    let mut r = {
        let mut h = sha2::Sha256::new();
        h.update([0u8]);
        h.update(body);
        h.finalize().to_vec()
    };
    let (mut f, mut n) = (proof.log_index, proof.tree_size - 1);
    for p in &proof.hashes {
        if n == 0 {
            return Err("the inclusion proof is longer than its tree is deep".into());
        }
        if f & 1 == 1 || f == n {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        n >>= 1;
    }
    if n != 0 || r != proof.root_hash {
        return Err("the inclusion proof does not lead to the tree's root hash".into());
    }
    verify_checkpoint(&proof.checkpoint, proof.tree_size, &proof.root_hash, keys)
}

/// Checks a checkpoint (a signed note, c2sp.org/signed-note): its tree size and root hash are
/// the ones given, and a signature line verifies with the log key its key hint names (the first
/// four bytes of the log id).
fn verify_checkpoint(
    note: &str,
    tree_size: u64,
    root_hash: &[u8],
    keys: &[LogKey],
) -> Result<(), String> {
    let (text, signatures) = note
        .split_once("\n\n")
        .ok_or("the checkpoint has no signature lines")?;
    let text = format!("{text}\n");
    let mut lines = text.lines();
    let _origin = lines.next().ok_or("the checkpoint is empty")?;
    if lines.next().and_then(|l| l.parse::<u64>().ok()) != Some(tree_size) {
        return Err("the checkpoint is for another tree size".into());
    }
    if lines.next().and_then(|l| B64.decode(l).ok()).as_deref() != Some(root_hash) {
        return Err("the checkpoint names another root hash".into());
    }
    for line in signatures.lines() {
        let Some(sig) = line
            .strip_prefix("\u{2014} ")
            .and_then(|l| l.rsplit_once(' '))
            .and_then(|(_, b)| B64.decode(b).ok())
        else {
            continue;
        };
        if sig.len() <= 4 {
            continue;
        }
        let (hint, sig) = sig.split_at(4);
        for k in keys {
            let id = slipway_oci::digest::sha256(k.key.der());
            if id.hex().get(..8) == Some(hex4(hint).as_str()) && k.key.verify(sig, text.as_bytes())
            {
                return Ok(());
            }
        }
    }
    Err("no signature on the checkpoint verifies with a trusted log key".into())
}

fn hex4(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How long a single HTTP exchange may take.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    /// The legacy bundle cosign stored for a keyed signature (sigstore-rs test data) verifies
    /// with the public-good Rekor key.
    #[test]
    fn real_bundle_set_verifies() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let bundle: RekorBundle =
            serde_json::from_slice(&std::fs::read(dir.join("rekor-bundle-keyed.json")).unwrap())
                .unwrap();
        let key = PublicKey::from_pem(&std::fs::read(dir.join("rekor-prod.pub")).unwrap(), "rekor")
            .unwrap();
        let keys = [LogKey::new(key)];
        // The body is for another signature than the one given: the SET passes, the binding fails.
        let err = verify_bundle(&bundle, &keys, b"sig", b"payload", "").unwrap_err();
        assert!(err.contains("another"), "{err}");
        // A flipped SET fails.
        let mut bad = bundle.clone();
        bad.payload.integrated_time += 1;
        let err = verify_bundle(&bad, &keys, b"sig", b"payload", "").unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        // An unknown log fails.
        bad.payload.log_id = "00".into();
        assert!(
            verify_bundle(&bad, &keys, b"sig", b"payload", "")
                .unwrap_err()
                .contains("not in the trusted root")
        );
    }
}
