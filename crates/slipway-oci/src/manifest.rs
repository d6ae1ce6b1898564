//! Manifests and indexes with the exact bytes they were read from or will be written as.

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use slipway_types::{Digest, MediaType};

use crate::{OciError, convert, digest, json};

/// An image manifest or an index.
#[derive(Debug, Clone)]
pub enum ManifestKind {
    /// A single-platform image manifest.
    Image(Box<ImageManifest>),
    /// An index (manifest list).
    Index(Box<ImageIndex>),
}

/// A manifest or index together with its bytes, digest and media type.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Media type (from the document, else from the descriptor that pointed at it).
    pub media_type: MediaType,
    /// Digest of `bytes`.
    pub digest: Digest,
    /// The exact bytes.
    pub bytes: Vec<u8>,
    /// The parsed document.
    pub kind: ManifestKind,
}

impl Manifest {
    /// Parses `bytes` (read from somewhere; `what` names it in errors). `declared` is the media
    /// type of the descriptor that pointed here, used when the document has no `mediaType`.
    pub fn parse(
        bytes: Vec<u8>,
        declared: Option<&MediaType>,
        what: &str,
    ) -> Result<Manifest, OciError> {
        let bad = |source, kind| OciError::BadDocument {
            what: what.to_owned(),
            kind,
            source,
        };
        let probe: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(e, "manifest"))?;
        let in_doc = probe
            .get("mediaType")
            .and_then(|m| m.as_str())
            .and_then(|m| m.parse::<MediaType>().ok());
        let media_type = match (in_doc, declared) {
            (Some(m), _) => m,
            (None, Some(d)) => d.clone(),
            (None, None) if probe.get("manifests").is_some() => {
                MediaType::OCI_INDEX.parse().expect("valid")
            }
            (None, None) => MediaType::OCI_MANIFEST.parse().expect("valid"),
        };
        let is_index = media_type.is_index()
            || (!media_type.is_manifest() && probe.get("manifests").is_some());
        let kind = if is_index {
            ManifestKind::Index(Box::new(
                serde_json::from_slice(&bytes).map_err(|e| bad(e, "image index"))?,
            ))
        } else {
            ManifestKind::Image(
                serde_json::from_slice(&bytes).map_err(|e| bad(e, "image manifest"))?,
            )
        };
        Ok(Manifest {
            media_type,
            digest: digest::sha256(&bytes),
            bytes,
            kind,
        })
    }

    /// A new image manifest, serialised canonically.
    pub fn from_image(m: &ImageManifest) -> Result<Manifest, OciError> {
        let media = m
            .media_type()
            .as_ref()
            .map_or(MediaType::OCI_MANIFEST.to_owned(), ToString::to_string);
        Manifest::encode(m, &media, ManifestKind::Image(Box::new(m.clone())))
    }

    /// A new image index, serialised canonically.
    pub fn from_index(i: &ImageIndex) -> Result<Manifest, OciError> {
        let media = i
            .media_type()
            .as_ref()
            .map_or(MediaType::OCI_INDEX.to_owned(), ToString::to_string);
        Manifest::encode(i, &media, ManifestKind::Index(Box::new(i.clone())))
    }

    fn encode(
        doc: &impl serde::Serialize,
        media: &str,
        kind: ManifestKind,
    ) -> Result<Manifest, OciError> {
        let bytes = json::canonical(doc).map_err(|source| OciError::BadDocument {
            what: "new manifest".into(),
            kind: "manifest",
            source,
        })?;
        Ok(Manifest {
            media_type: media.parse().map_err(|e: slipway_types::MediaTypeError| {
                OciError::Invalid {
                    what: "manifest media type".into(),
                    message: e.to_string(),
                }
            })?,
            digest: digest::sha256(&bytes),
            bytes,
            kind,
        })
    }

    /// A descriptor pointing at this manifest.
    pub fn descriptor(&self) -> Descriptor {
        convert::descriptor(
            self.media_type.as_str(),
            &self.digest,
            self.bytes.len() as u64,
        )
    }

    /// What this manifest references: config and layers, or the index's manifests.
    pub fn children(&self) -> Vec<Descriptor> {
        match &self.kind {
            ManifestKind::Image(m) => std::iter::once(m.config().clone())
                .chain(m.layers().iter().cloned())
                .collect(),
            ManifestKind::Index(i) => i.manifests().clone(),
        }
    }

    /// Whether this is an index.
    pub fn is_index(&self) -> bool {
        matches!(self.kind, ManifestKind::Index(_))
    }
}
