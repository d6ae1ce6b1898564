//! The `runners:` section (runner binding). When it is present, sign, push and promote check
//! the machine against it before acting, and deny when nothing matches (fail closed).

use schemars::JsonSchema;
use serde::Deserialize;

/// Runner allowlist policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnersConfig {
    /// Machines allowed to sign, push and promote. Empty: none is.
    #[serde(default)]
    pub allow: Vec<RunnerEntry>,
}

/// One allowed machine (`slipway runner fingerprint` prints what to put here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnerEntry {
    /// A name for messages and the state.
    pub name: String,
    /// The whole fingerprint (`sha256:…`).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Component hashes (`sha256:…`) for a k-of-n match.
    #[serde(default)]
    pub components: Vec<String>,
    /// How many of `components` must match (default: all of them).
    #[serde(default)]
    pub min_match: Option<usize>,
    /// Environments it may act for (default: any).
    #[serde(default)]
    pub environments: Vec<String>,
    /// Steps it may run: sign, push, promote (default: any).
    #[serde(default)]
    pub steps: Vec<String>,
}
