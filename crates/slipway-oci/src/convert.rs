//! Between `oci-spec` types and Slipway's validated types.

use std::collections::HashMap;

use oci_spec::image as spec;
use slipway_types::{Digest, MediaType, Platform};

use crate::OciError;

/// Slipway digest → `oci-spec` digest.
pub fn to_spec_digest(d: &Digest) -> spec::Digest {
    d.to_string()
        .parse()
        .expect("a validated digest is a valid OCI digest")
}

/// `oci-spec` digest → Slipway digest (only sha256/sha512 are accepted).
pub fn from_spec_digest(d: &spec::Digest) -> Result<Digest, OciError> {
    d.to_string()
        .parse()
        .map_err(|e: slipway_types::DigestError| OciError::Invalid {
            what: "digest".into(),
            message: e.to_string(),
        })
}

/// Slipway platform → `oci-spec` platform.
pub fn to_spec_platform(p: &Platform) -> spec::Platform {
    let mut out = spec::Platform::default();
    out.set_os(spec::Os::from(p.os()));
    out.set_architecture(spec::Arch::from(p.architecture()));
    out.set_variant(p.variant().map(str::to_owned));
    out
}

/// `oci-spec` platform → Slipway platform.
pub fn from_spec_platform(p: &spec::Platform) -> Result<Platform, OciError> {
    Platform::new(
        &p.os().to_string(),
        &p.architecture().to_string(),
        p.variant().as_deref(),
    )
    .map_err(|e| OciError::Invalid {
        what: "platform".into(),
        message: e.to_string(),
    })
}

/// `oci-spec` media type → Slipway media type.
pub fn media_type(m: &spec::MediaType) -> MediaType {
    m.to_string().parse().unwrap_or_else(|_| {
        // oci-spec accepts any string as `Other`; keep a valid placeholder rather than panic.
        "application/octet-stream"
            .parse()
            .expect("valid media type")
    })
}

/// A descriptor for content of `media_type` with `digest` and `size`.
pub fn descriptor(media_type: &str, digest: &Digest, size: u64) -> spec::Descriptor {
    spec::Descriptor::new(
        spec::MediaType::from(media_type),
        size,
        to_spec_digest(digest),
    )
}

/// A descriptor's digest as a Slipway digest.
pub fn descriptor_digest(d: &spec::Descriptor) -> Result<Digest, OciError> {
    from_spec_digest(d.digest())
}

/// Adds (or replaces) one annotation on a descriptor.
pub fn annotate(d: &mut spec::Descriptor, key: &str, value: &str) {
    let mut a = d.annotations().clone().unwrap_or_default();
    a.insert(key.to_owned(), value.to_owned());
    d.set_annotations(Some(a));
}

/// A descriptor's annotation.
pub fn annotation<'a>(d: &'a spec::Descriptor, key: &str) -> Option<&'a str> {
    d.annotations()
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}

/// Annotations from pairs.
pub fn annotations<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        let s = to_spec_platform(&p);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!({"architecture":"arm","os":"linux","variant":"v7"})
        );
        assert_eq!(from_spec_platform(&s).unwrap(), p);
        let d = crate::digest::sha256(b"x");
        assert_eq!(from_spec_digest(&to_spec_digest(&d)).unwrap(), d);
        let mut desc = descriptor(MediaType::OCI_MANIFEST, &d, 1);
        annotate(&mut desc, crate::REF_NAME, "hello");
        assert_eq!(annotation(&desc, crate::REF_NAME), Some("hello"));
    }
}
