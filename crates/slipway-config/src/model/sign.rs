//! The `sign:` section (`slipway-sign`, `slipway verify`).

use schemars::JsonSchema;
use serde::Deserialize;

/// Signing and verification settings. The sign step adds its settings here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignConfig {}
