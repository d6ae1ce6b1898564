//! The `images:` section (`slipway-build`).

use schemars::JsonSchema;
use serde::Deserialize;

/// One image to build. The build step adds its settings here.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Name of the image (the key in the state file and the name in the layout).
    pub name: String,
}
