//! Promotions and rollbacks by `slipway-promote`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use slipway_types::{Digest, Repository, Tag};

use super::Timestamp;

/// A tag moved by a promotion, with what it pointed to before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagMove {
    /// The tag.
    pub tag: Tag,
    /// Digest the tag pointed to before (absent when it was new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
}

/// One target repository of a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionTarget {
    /// Target repository.
    pub repository: Repository,
    /// Tags set there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagMove>,
}

/// A promotion of a digest to production repositories, or a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionRecord {
    /// The digest promoted (or rolled back to).
    pub digest: Digest,
    /// Where it was copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Repository>,
    /// Where it went.
    pub targets: Vec<PromotionTarget>,
    /// Whether this was a rollback.
    #[serde(default)]
    pub rollback: bool,
    /// When.
    pub at: Timestamp,
}
