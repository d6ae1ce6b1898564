//! The `push:` section (`slipway-push`) and the registry transfer settings it shares with
//! `promote:`.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// Push settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Repository to push to, e.g. `ghcr.io/acme/app` (`--to`).
    #[serde(default)]
    pub repository: Option<String>,
    /// Which tags to set.
    #[serde(default)]
    pub tags: Option<TagsConfig>,
    /// How blobs move.
    #[serde(default)]
    pub transfer: Option<TransferConfig>,
}

/// Tag rules (like docker/metadata-action).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsConfig {
    /// Tags always set.
    #[serde(default)]
    pub explicit: Vec<String>,
    /// From a git tag `v1.2.3`: `1.2.3`, `1.2`, `1` (default true).
    #[serde(default)]
    pub semver: Option<bool>,
    /// `latest`: `auto` (with a semver release), `always` or `never` (default auto).
    #[serde(default)]
    pub latest: Option<LatestRule>,
    /// The branch name on branch runs (default true).
    #[serde(default)]
    pub branch: Option<bool>,
    /// `pr-N` on pull/merge requests (default true).
    #[serde(default)]
    pub pr: Option<bool>,
    /// `sha-<7 hex>` (default false).
    #[serde(default)]
    pub sha: Option<bool>,
    /// The environment name as a tag (`--environment`).
    #[serde(default)]
    pub environment: Option<String>,
    /// Templates: `{{version}}`, `{{major}}`, `{{minor}}`, `{{patch}}`, `{{tag}}`, `{{branch}}`,
    /// `{{pr}}`, `{{sha}}`, `{{long_sha}}`, `{{env}}`, e.g. `{{branch}}-{{sha}}`.
    #[serde(default)]
    pub templates: Vec<String>,
}

/// When to tag `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LatestRule {
    /// With a semver release (not a prerelease).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Registry transfer settings (`push.transfer`, `promote.transfer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferConfig {
    /// Blobs transferred at once (`--jobs`, default 4).
    #[serde(default)]
    pub jobs: Option<usize>,
    /// Upload blobs larger than this in chunks of this many bytes; 0 or absent: one request
    /// per blob (`--chunk-size`).
    #[serde(default)]
    pub chunk_size: Option<u64>,
    /// Attempts per operation, first included (`--retries` + 1; default 6).
    #[serde(default)]
    pub attempts: Option<u32>,
    /// Give up retrying an operation after this many seconds (default 120); each attempt waits
    /// for an answer only as long as this budget has left (`--retry-seconds`).
    #[serde(default)]
    pub retry_seconds: Option<u64>,
    /// Drop a request when the registry sends nothing for this many seconds (default 60;
    /// `--timeout`).
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// Give up connecting to a registry after this many seconds (default 15;
    /// `--connect-timeout`).
    #[serde(default)]
    pub connect_timeout_seconds: Option<u64>,
    /// Extra CA certificate (PEM) to trust (`--ca-file`); relative to this file.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Hosts (`host[:port]`) spoken to over plain HTTP (`--insecure-registry`).
    #[serde(default)]
    pub insecure_registries: Vec<String>,
}
