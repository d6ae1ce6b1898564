//! Images built by `slipway-build`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use slipway_types::{Digest, MediaType, Platform};

/// A content descriptor: what a manifest or index is, and how big.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    /// Media type.
    pub media_type: MediaType,
    /// Digest of the content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// One image (possibly multi-platform) built by `slipway-build`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Directory of the OCI image layout holding the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Name of the image inside the layout (`org.opencontainers.image.ref.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout_ref: Option<String>,
    /// The image index over all platforms. Absent after a merge of partial builds until the
    /// index is assembled again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Descriptor>,
    /// One manifest per platform.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<Platform, PlatformImage>,
    /// The base image the layers were put on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseImage>,
}

/// The image for one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformImage {
    /// The platform's image manifest.
    pub manifest: Descriptor,
    /// Digest of the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Digest>,
    /// Layout directory, when it differs from the image's (matrix builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Binaries placed in the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<Binary>,
}

/// A binary put into an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Binary {
    /// Absolute path inside the image.
    pub path: String,
    /// Where it was built or taken from on the build machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// sha256 of the file as placed in the image.
    pub sha256: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Toolchain that built it, e.g. `go1.19.8` or `rustc 1.95.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
}

/// The base an image was built on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseImage {
    /// `scratch`, a reference, or a layout path as given.
    pub name: String,
    /// Resolved digest (absent for `scratch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}
