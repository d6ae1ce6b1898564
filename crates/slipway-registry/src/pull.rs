//! Pulling images into an OCI layout (base images for `slipway-build`): resolve a reference,
//! pick a platform from an index, copy the image's blobs into the layout, verifying digests.

use oci_spec::image::Descriptor;
use slipway_oci::{Layout, Manifest, ManifestKind, convert};
use slipway_types::{Platform, Reference};

use crate::RegistryError;
use crate::client::{Client, RemoteDescriptor};
use crate::copy::{self, CopyItem, CopyOptions, Source, Target, TargetReport};

/// An image pulled into a layout.
#[derive(Debug, Clone)]
pub struct PulledImage {
    /// What the reference pointed at (an index or a manifest), resolved.
    pub resolved: RemoteDescriptor,
    /// The index, when the reference pointed at one.
    pub index: Option<Manifest>,
    /// The platform's image manifest (now in the layout, with its config and layers).
    pub manifest: Manifest,
    /// The platform chosen from the index (or asked for).
    pub platform: Option<Platform>,
    /// What the copy did (bytes fetched or already cached).
    pub report: TargetReport,
}

impl PulledImage {
    /// The image's config digest.
    pub fn config(&self) -> Option<Descriptor> {
        match &self.manifest.kind {
            ManifestKind::Image(m) => Some(m.config().clone()),
            ManifestKind::Index(_) => None,
        }
    }
}

/// Whether an index entry's platform is `want` (`variant` must match when asked for; `v8` on
/// arm64 counts as no variant).
pub fn platform_matches(entry: &oci_spec::image::Platform, want: &Platform) -> bool {
    let Ok(p) = convert::from_spec_platform(entry) else {
        return false;
    };
    let norm = |v: Option<&str>, arch: &str| match (arch, v) {
        ("arm64", Some("v8")) => None,
        (_, v) => v.map(str::to_owned),
    };
    p.os() == want.os()
        && p.architecture() == want.architecture()
        && (want.variant().is_none()
            || norm(p.variant(), p.architecture()) == norm(want.variant(), want.architecture()))
}

/// The descriptor for `platform` in `index`, or an error listing what the index has.
pub fn select_platform(
    index: &Manifest,
    platform: &Platform,
    what: &str,
) -> Result<Descriptor, RegistryError> {
    let ManifestKind::Index(i) = &index.kind else {
        return Err(RegistryError::invalid(what, "not an index"));
    };
    let found = i.manifests().iter().find(|d| {
        d.platform()
            .as_ref()
            .is_some_and(|p| platform_matches(p, platform))
    });
    found.cloned().ok_or_else(|| RegistryError::NoPlatform {
        reference: what.to_owned(),
        platform: platform.to_string(),
        available: i
            .manifests()
            .iter()
            .filter_map(|d| d.platform().as_ref())
            .filter_map(|p| convert::from_spec_platform(p).ok())
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Pulls `reference` into `layout`: resolves it, picks `platform` when it is an index
/// (required then), copies the manifest, config and layers (skipping blobs already in the
/// layout, verifying everything fetched), and names it `ref_name` in the layout when given.
pub async fn pull_image(
    client: &Client,
    reference: &Reference,
    platform: Option<&Platform>,
    layout: &Layout,
    ref_name: Option<&str>,
    opts: &CopyOptions,
) -> Result<PulledImage, RegistryError> {
    let repo = reference.repository();
    let resolved = client.resolve(reference).await?;
    let top = client
        .fetch_manifest(repo, &resolved.digest.to_string())
        .await?;
    let (index, manifest, chosen) = if top.is_index() {
        let Some(p) = platform else {
            return Err(RegistryError::invalid(
                reference.to_string(),
                "it is a multi-platform index: say which platform to pull",
            ));
        };
        let desc = select_platform(&top, p, &reference.to_string())?;
        let digest = convert::descriptor_digest(&desc)?;
        let m = client.fetch_manifest(repo, &digest.to_string()).await?;
        (Some(top), m, Some(p.clone()))
    } else {
        (None, top, platform.cloned())
    };
    let item = CopyItem {
        root: manifest.descriptor(),
        tags: ref_name.map(|r| vec![r.to_owned()]).unwrap_or_default(),
    };
    let source = Source::Remote {
        client: client.clone(),
        repo: repo.clone(),
    };
    let (_, mut reports) =
        copy::copy(&source, &[Target::Layout(layout.clone())], &[item], opts).await?;
    Ok(PulledImage {
        resolved,
        index,
        manifest,
        platform: chosen,
        report: reports.remove(0),
    })
}
