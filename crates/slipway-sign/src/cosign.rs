//! Cosign's storage of signatures and attestations, in an OCI layout.
//!
//! The layout is what cosign pushes to a registry (compared against sigstore/cosign
//! `pkg/oci/static/{signature,options}.go`, `pkg/oci/mutate/signatures.go`, `pkg/oci/empty/empty.go`,
//! `pkg/types/{media,payload}.go`, `cmd/cosign/cli/attest/attest.go`):
//!
//! - the signatures of `sha256:<hex>` form one image manifest tagged `sha256-<hex>.sig`
//!   (attestations: `sha256-<hex>.att`); here the tag is the `index.json` entry of that name,
//!   so push carries it as a tag;
//! - the manifest is an OCI image manifest with an OCI image config (go-containerregistry's empty
//!   image after `mutate.Append`: empty architecture/os, one empty history entry and one diff id
//!   per layer);
//! - each signature is one layer: the payload blob, media type
//!   `application/vnd.dev.cosign.simplesigning.v1+json` (attestations: the DSSE envelope,
//!   `application/vnd.dsse.envelope.v1+json`), with the annotations
//!   `dev.cosignproject.cosign/signature` (base64 signature; empty for attestations, whose
//!   signature is inside the envelope), `dev.sigstore.cosign/certificate` and
//!   `dev.sigstore.cosign/chain` (keyless, PEM), `dev.sigstore.cosign/bundle` (the Rekor bundle)
//!   and `predicateType` (attestations).
//!
//! Adding a signature rewrites the manifest with the old layers first and the new one last, as
//! `cosign sign` appends.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use oci_spec::image::{Descriptor, ImageManifestBuilder, MediaType as SpecMediaType};
use serde::Serialize;
use slipway_oci::{Layout, Manifest, ManifestKind, convert};
use slipway_types::{Digest, MediaType};

use crate::SignError;
use crate::rekor::RekorBundle;
use crate::source::ArtifactSource;

/// Layer media type of a simple-signing payload.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer media type of an attestation (a DSSE envelope).
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The signing certificate (keyless), PEM.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The certificate chain up to the root (keyless), PEM.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The Rekor bundle (JSON).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// The in-toto predicate type of an attestation layer.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// Largest payload read back (cosign's default limit is 128 MiB too).
pub const MAX_PAYLOAD: u64 = 128 << 20;

/// Signatures or attestations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    /// `sha256-<hex>.sig`
    Signature,
    /// `sha256-<hex>.att`
    Attestation,
}

impl ArtifactKind {
    /// The tag suffix (`sig`, `att`).
    pub fn suffix(self) -> &'static str {
        match self {
            ArtifactKind::Signature => "sig",
            ArtifactKind::Attestation => "att",
        }
    }

    /// The cosign tag for `subject`.
    pub fn tag(self, subject: &Digest) -> String {
        subject.cosign_tag(self.suffix())
    }
}

/// One signature or attestation: a layer of the `.sig`/`.att` manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Layer media type.
    pub media_type: String,
    /// The payload (simple-signing JSON, or the DSSE envelope JSON).
    pub payload: Vec<u8>,
    /// Layer annotations.
    pub annotations: BTreeMap<String, String>,
}

impl Layer {
    /// Digest of the payload.
    pub fn digest(&self) -> Digest {
        slipway_oci::digest::sha256(&self.payload)
    }

    /// The decoded signature annotation (`None` when empty or absent).
    pub fn signature(&self) -> Result<Option<Vec<u8>>, String> {
        match self.annotations.get(SIGNATURE_ANNOTATION) {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => B64
                .decode(s.trim())
                .map(Some)
                .map_err(|e| format!("the signature annotation is not base64: {e}")),
        }
    }

    /// The certificate PEM (keyless).
    pub fn certificate_pem(&self) -> Option<&str> {
        self.annotations
            .get(CERTIFICATE_ANNOTATION)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The chain PEM (keyless).
    pub fn chain_pem(&self) -> Option<&str> {
        self.annotations
            .get(CHAIN_ANNOTATION)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The Rekor bundle, when there is one.
    pub fn bundle(&self) -> Result<Option<RekorBundle>, String> {
        match self.annotations.get(BUNDLE_ANNOTATION) {
            None => Ok(None),
            Some(s) => serde_json::from_str(s)
                .map(Some)
                .map_err(|e| format!("the bundle annotation is not a Rekor bundle: {e}")),
        }
    }

    /// The predicate type annotation (attestations).
    pub fn predicate_type(&self) -> Option<&str> {
        self.annotations
            .get(PREDICATE_TYPE_ANNOTATION)
            .map(String::as_str)
    }
}

/// The `.sig`/`.att` manifest of a subject, with its layers' payloads.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The manifest's descriptor.
    pub descriptor: Descriptor,
    /// Its layers, in order.
    pub layers: Vec<Layer>,
}

/// Reads the signatures (or attestations) attached to `subject`; `None` when there are none.
pub fn read(
    source: &dyn ArtifactSource,
    subject: &Digest,
    kind: ArtifactKind,
) -> Result<Option<Attached>, SignError> {
    let tag = kind.tag(subject);
    let Some(desc) = source.resolve_tag(&tag)? else {
        return Ok(None);
    };
    let manifest = source.manifest(&desc)?;
    let ManifestKind::Image(image) = &manifest.kind else {
        return Err(SignError::invalid(
            format!("{} in {}", tag, source.location()),
            "is an index, not the image manifest cosign stores signatures in",
        ));
    };
    let mut layers = Vec::with_capacity(image.layers().len());
    for l in image.layers() {
        let digest = convert::descriptor_digest(l)?;
        let payload = source.blob(&digest, MAX_PAYLOAD)?;
        layers.push(Layer {
            media_type: l.media_type().to_string(),
            payload,
            annotations: l
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        });
    }
    Ok(Some(Attached {
        descriptor: desc,
        layers,
    }))
}

/// go-containerregistry's config for the signature image, field for field and in its order
/// (so the bytes are the ones cosign would write for the same layers).
#[derive(Serialize)]
struct SigConfig<'a> {
    architecture: &'a str,
    created: &'a str,
    history: Vec<History>,
    os: &'a str,
    rootfs: RootFs,
    config: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct History {
    created: &'static str,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    typ: &'static str,
    diff_ids: Vec<String>,
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Writes the `.sig`/`.att` manifest of `subject` holding `layers` (all of them: callers pass the
/// existing layers plus the new ones) and points the cosign tag at it. Returns its descriptor.
pub fn write(
    layout: &Layout,
    subject: &Digest,
    kind: ArtifactKind,
    layers: &[Layer],
) -> Result<Descriptor, SignError> {
    let mut descs = Vec::with_capacity(layers.len());
    let mut diff_ids = Vec::with_capacity(layers.len());
    for l in layers {
        let (digest, size) = layout.write_bytes(&l.payload)?;
        let mut d = convert::descriptor(&l.media_type, &digest, size);
        d.set_annotations(Some(l.annotations.clone().into_iter().collect()));
        descs.push(d);
        diff_ids.push(digest.to_string());
    }
    let config = SigConfig {
        architecture: "",
        created: ZERO_TIME,
        history: layers
            .iter()
            .map(|_| History { created: ZERO_TIME })
            .collect(),
        os: "",
        rootfs: RootFs {
            typ: "layers",
            diff_ids,
        },
        config: BTreeMap::new(),
    };
    let config_bytes = serde_json::to_vec(&config).expect("the config serialises");
    let (config_digest, config_size) = layout.write_bytes(&config_bytes)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(SpecMediaType::ImageManifest)
        .config(convert::descriptor(
            MediaType::OCI_CONFIG,
            &config_digest,
            config_size,
        ))
        .layers(descs)
        .build()
        .map_err(|e| SignError::invalid("signature manifest", e.to_string()))?;
    let m = Manifest::from_image(&manifest)?;
    layout.write_manifest(&m)?;
    let desc = m.descriptor();
    layout.set_ref(&kind.tag(subject), &desc)?;
    Ok(desc)
}
