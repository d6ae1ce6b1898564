//! The `promote:` section (`slipway-promote`).

use schemars::JsonSchema;
use serde::Deserialize;

/// Promotion settings. The promote step adds its settings here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteConfig {}
