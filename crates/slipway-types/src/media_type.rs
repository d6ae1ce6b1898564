//! Media types (RFC 6838 `type/subtype[+suffix]`, optionally with parameters).

use std::fmt;
use std::str::FromStr;

/// A validated media type such as `application/vnd.oci.image.manifest.v1+json`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MediaType(String);

/// Why a string is not a media type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a media type (expected `type/subtype`, e.g. `application/vnd.oci.image.manifest.v1+json`)"
)]
pub struct MediaTypeError(String);

impl MediaType {
    /// OCI image manifest.
    pub const OCI_MANIFEST: &'static str = "application/vnd.oci.image.manifest.v1+json";
    /// OCI image index.
    pub const OCI_INDEX: &'static str = "application/vnd.oci.image.index.v1+json";
    /// OCI image config.
    pub const OCI_CONFIG: &'static str = "application/vnd.oci.image.config.v1+json";
    /// OCI gzip layer.
    pub const OCI_LAYER_GZIP: &'static str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// OCI zstd layer.
    pub const OCI_LAYER_ZSTD: &'static str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// OCI uncompressed layer.
    pub const OCI_LAYER_TAR: &'static str = "application/vnd.oci.image.layer.v1.tar";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &'static str =
        "application/vnd.docker.distribution.manifest.v2+json";
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: &'static str =
        "application/vnd.docker.distribution.manifest.list.v2+json";

    /// The media type as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an index (OCI index or Docker manifest list).
    pub fn is_index(&self) -> bool {
        matches!(self.essence(), Self::OCI_INDEX | Self::DOCKER_MANIFEST_LIST)
    }

    /// Whether this is a single-platform manifest (OCI or Docker schema 2).
    pub fn is_manifest(&self) -> bool {
        matches!(self.essence(), Self::OCI_MANIFEST | Self::DOCKER_MANIFEST)
    }

    /// The type without parameters.
    pub fn essence(&self) -> &str {
        self.0.split(';').next().unwrap_or_default().trim()
    }
}

fn restricted_name(s: &str) -> bool {
    // RFC 6838 section 4.2: restricted-name = 1*127 restricted-name-chars, first alnum.
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
        && s.len() <= 127
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

impl FromStr for MediaType {
    type Err = MediaTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let essence = s.split(';').next().unwrap_or_default().trim();
        match essence.split_once('/') {
            Some((t, sub)) if restricted_name(t) && restricted_name(sub) => {
                Ok(MediaType(s.to_owned()))
            }
            _ => Err(MediaTypeError(s.to_owned())),
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MediaType({})", self.0)
    }
}

crate::string_type!(
    MediaType,
    "MediaType",
    "An RFC 6838 media type, e.g. `application/vnd.oci.image.manifest.v1+json`.",
    Some("^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(;.*)?$")
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let m: MediaType = MediaType::OCI_INDEX.parse().unwrap();
        assert!(m.is_index() && !m.is_manifest());
        let m: MediaType = "application/vnd.docker.distribution.manifest.v2+json"
            .parse()
            .unwrap();
        assert!(m.is_manifest());
        let m: MediaType = "text/plain; charset=utf-8".parse().unwrap();
        assert_eq!(m.essence(), "text/plain");
    }

    #[test]
    fn rejects() {
        for bad in ["", "json", "/json", "application/", "app lication/json"] {
            assert!(bad.parse::<MediaType>().is_err(), "{bad:?}");
        }
    }
}
