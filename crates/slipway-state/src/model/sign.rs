//! Signatures, attestations and verifications (`slipway-sign`, `slipway verify`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use slipway_types::{Digest, Tag};

use super::Timestamp;

/// How something was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SigningMode {
    /// With a key pair.
    Keyed,
    /// With a short-lived certificate from an OIDC identity.
    Keyless,
}

/// A signature attached to a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureRecord {
    /// The signed manifest or index.
    pub digest: Digest,
    /// The cosign tag holding it, `sha256-<hex>.sig`.
    pub tag: Tag,
    /// Keyed or keyless.
    pub mode: SigningMode,
    /// sha256 of the public key (keyed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Certificate identity (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Certificate OIDC issuer (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Transparency log index, when uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// The OCI layout holding the `.sig` manifest (what push carries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// When it was made.
    pub at: Timestamp,
}

/// An attestation attached to a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestationRecord {
    /// The subject manifest or index.
    pub digest: Digest,
    /// The cosign tag holding it, `sha256-<hex>.att`.
    pub tag: Tag,
    /// in-toto predicate type URI.
    pub predicate_type: String,
    /// Keyed or keyless.
    pub mode: SigningMode,
    /// sha256 of the public key (keyed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Certificate identity (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Certificate OIDC issuer (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Transparency log index, when uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// The OCI layout holding the `.att` manifest (what push carries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// When it was made.
    pub at: Timestamp,
}

/// The result of verifying a digest's signatures (and attestations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRecord {
    /// The digest checked.
    pub digest: Digest,
    /// Where it was checked: a registry reference or a layout path.
    pub location: String,
    /// Whether it verified.
    pub verified: bool,
    /// What it was checked against: `key:sha256:…` or `identity:<regex>@<issuer>`.
    pub method: String,
    /// Number of valid signatures found.
    pub signatures: u32,
    /// Predicate types of attestations that verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<String>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When.
    pub at: Timestamp,
}
