//! Validated value types shared by every Slipway crate.
//!
//! Strings that mean something (a digest, a reference, a platform) are parsed once at the
//! boundary into types that cannot hold an invalid value; everything downstream can rely on
//! them. The grammars follow the OCI image and distribution specifications and the
//! `distribution/reference` rules used by Docker tooling.
#![deny(missing_docs)]

mod diag;
mod digest;
mod media_type;
mod platform;
pub mod progress;

mod reference;
mod secret;

pub use diag::{Diagnostic, ExitClass};
pub use digest::{Digest, DigestAlgorithm, DigestError};
pub use media_type::{MediaType, MediaTypeError};
pub use platform::{Platform, PlatformError};
pub use progress::{NoProgress, Progress};

pub use reference::{Reference, ReferenceError, Repository, Tag, TagError, sanitize_tag};
pub use secret::{Secret, redact_url};

/// Implements `Serialize`, `Deserialize` (via `FromStr`) and a string `JsonSchema` for a type
/// that has `Display` and `FromStr`.
macro_rules! string_type {
    ($ty:ty, $name:literal, $description:literal, $pattern:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let pattern: Option<&str> = $pattern;
                match pattern {
                    Some(p) => schemars::json_schema!({
                        "type": "string",
                        "description": $description,
                        "pattern": p,
                    }),
                    None => schemars::json_schema!({
                        "type": "string",
                        "description": $description,
                    }),
                }
            }
        }
    };
}
pub(crate) use string_type;
