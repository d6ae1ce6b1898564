//! OCI images as Slipway handles them: model helpers and the image layout on disk.
//!
//! - [`digest`]: streaming sha256 (`Hasher`, `HashingReader`/`HashingWriter`), verification.
//! - [`json`]: canonical JSON for documents whose digest matters.
//! - [`layout`]: the OCI image layout directory ([`Layout`]).
//! - [`convert`]: between `oci-spec` types and Slipway's validated types.
#![deny(missing_docs)]

pub mod convert;
pub mod digest;
mod error;
pub mod json;
pub mod layout;
mod manifest;

pub use error::OciError;
pub use layout::Layout;
pub use manifest::{Manifest, ManifestKind};
pub use oci_spec;

/// The annotation naming an image inside a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
