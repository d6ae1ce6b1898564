//! Where signed images and their signatures are read from.
//!
//! Verification reads through [`ArtifactSource`]: resolve a name to a descriptor, read a manifest,
//! read a (small) blob. [`LayoutSource`] reads an OCI image layout; a registry source (issue 4's
//! `slipway-registry`) implements the same trait, so `slipway verify REF` uses the same code for
//! both. Signatures are found by the cosign tag scheme (`sha256-<hex>.sig`), which in a layout is
//! an `index.json` entry of that name.

use oci_spec::image::Descriptor;
use slipway_oci::{Layout, Manifest, OciError, convert};
use slipway_types::{Digest, MediaType};

use crate::SignError;

/// Read access to images, signatures and attestations.
pub trait ArtifactSource {
    /// Where this is, for messages and the state file (`oci:DIR` or a registry repository).
    fn location(&self) -> String;
    /// The descriptor a tag (or layout name) points at; `None` when it does not exist.
    fn resolve_tag(&self, tag: &str) -> Result<Option<Descriptor>, SignError>;
    /// The manifest or index `desc` points at, checked against its digest.
    fn manifest(&self, desc: &Descriptor) -> Result<Manifest, SignError>;
    /// A small blob (payloads, configs), checked against its digest; larger than `max` is refused.
    fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>, SignError>;
    /// The manifest with `digest`, wherever it is referenced from.
    fn manifest_by_digest(&self, digest: &Digest) -> Result<Manifest, SignError>;
}

/// An OCI image layout as a source.
#[derive(Debug, Clone)]
pub struct LayoutSource {
    layout: Layout,
}

impl LayoutSource {
    /// Reads `layout`.
    pub fn new(layout: Layout) -> Self {
        LayoutSource { layout }
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

impl ArtifactSource for LayoutSource {
    fn location(&self) -> String {
        format!("oci:{}", self.layout.root().display())
    }

    fn resolve_tag(&self, tag: &str) -> Result<Option<Descriptor>, SignError> {
        match self.layout.resolve(tag) {
            Ok(d) => Ok(Some(d)),
            Err(OciError::RefNotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn manifest(&self, desc: &Descriptor) -> Result<Manifest, SignError> {
        Ok(self.layout.read_manifest(desc)?)
    }

    fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>, SignError> {
        let path = self.layout.blob_path(digest);
        let len = std::fs::metadata(&path)
            .map_err(|_| OciError::BlobMissing {
                layout: self.layout.root().to_path_buf(),
                digest: digest.clone(),
            })?
            .len();
        if len > max {
            return Err(SignError::invalid(
                format!("blob {digest}"),
                format!("{len} bytes is larger than the {max} bytes allowed here"),
            ));
        }
        Ok(self.layout.read_blob(digest)?)
    }

    fn manifest_by_digest(&self, digest: &Digest) -> Result<Manifest, SignError> {
        // Prefer a descriptor that names it (it carries the media type); else read it bare.
        let mut pending: Vec<Descriptor> = self.layout.index()?.manifests().clone();
        let mut seen = 0usize;
        while let Some(d) = pending.pop() {
            seen += 1;
            if seen > 10_000 {
                break;
            }
            if convert::descriptor_digest(&d)? == *digest {
                return self.manifest(&d);
            }
            let media = convert::media_type(d.media_type());
            if media.is_index() {
                let m = self.manifest(&d)?;
                pending.extend(m.children());
            }
        }
        let bytes = self.blob(digest, 4 << 20)?;
        let m = Manifest::parse(bytes, None::<&MediaType>, &format!("manifest {digest}"))?;
        Ok(m)
    }
}
