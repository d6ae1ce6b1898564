//! The `runners:` section (runner binding).

use schemars::JsonSchema;
use serde::Deserialize;

/// Runner allowlist policy. The runner feature adds its settings here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnersConfig {}
