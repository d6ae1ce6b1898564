//! The `push:` section (`slipway-push`).

use schemars::JsonSchema;
use serde::Deserialize;

/// Push settings. The push step adds its settings here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {}
