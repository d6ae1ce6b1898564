//! The `promote:` section (`slipway-promote`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::TransferConfig;

/// Promotion settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteConfig {
    /// Target repositories (`--target`), each with its tags.
    #[serde(default)]
    pub targets: Vec<PromoteTarget>,
    /// Tags set on every target that lists none (`--tag`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Which preconditions must hold (all by default).
    #[serde(default)]
    pub require: Option<RequireConfig>,
    /// Refuse to move tags that already point elsewhere (`--no-clobber`).
    #[serde(default)]
    pub no_clobber: Option<bool>,
    /// How blobs move.
    #[serde(default)]
    pub transfer: Option<TransferConfig>,
}

/// One promotion target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteTarget {
    /// Repository, e.g. `registry.example/prod/app`.
    pub repository: String,
    /// Tags to set there (default: `promote.tags`).
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Promotion preconditions; each defaults to required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequireConfig {
    /// The newest scan verdict for the digest is `pass`.
    #[serde(default)]
    pub scan: Option<bool>,
    /// A verification of the digest's signature is recorded and verified.
    #[serde(default)]
    pub signature: Option<bool>,
    /// The digest was pushed to the source repository.
    #[serde(default)]
    pub pushed: Option<bool>,
    /// The runner is allowed, when a runner policy exists.
    #[serde(default)]
    pub runner: Option<bool>,
}
