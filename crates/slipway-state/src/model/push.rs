//! Pushes by `slipway-push`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use slipway_types::{Digest, Repository, Tag};

use super::Timestamp;

/// A push of one image to a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRecord {
    /// Image name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Target repository.
    pub repository: Repository,
    /// Digest pushed (index or manifest).
    pub digest: Digest,
    /// Tags set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Signature and attestation tags pushed with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Tag>,
    /// Blob bytes uploaded.
    #[serde(default)]
    pub bytes_sent: u64,
    /// Blob bytes mounted from another repository.
    #[serde(default)]
    pub bytes_mounted: u64,
    /// Blob bytes already present.
    #[serde(default)]
    pub bytes_skipped: u64,
    /// When.
    pub at: Timestamp,
}
