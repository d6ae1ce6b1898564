//! Image config, manifest and index assembly.

use std::collections::{BTreeMap, HashMap};

use oci_spec::image::{
    Config, Descriptor, HistoryBuilder, ImageConfiguration, ImageIndexBuilder,
    ImageManifestBuilder, MediaType as SpecMediaType, RootFs,
};
use slipway_oci::{Layout, Manifest, convert};
use slipway_types::{Digest, MediaType, Platform};

use crate::BuildError;
use crate::base::PlatformBase;
use crate::layer::LayerBlob;

/// Annotation keys of the OCI image spec.
pub mod keys {
    /// When the image was created.
    pub const CREATED: &str = "org.opencontainers.image.created";
    /// Where the source is.
    pub const SOURCE: &str = "org.opencontainers.image.source";
    /// Source revision.
    pub const REVISION: &str = "org.opencontainers.image.revision";
    /// Version of the packaged software.
    pub const VERSION: &str = "org.opencontainers.image.version";
    /// Base image reference.
    pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
    /// Base image digest.
    pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
}

/// The container runtime settings of an image.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// `uid:gid`.
    pub user: String,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Cmd (`None` keeps none).
    pub cmd: Option<Vec<String>>,
    /// `NAME=value` entries, overriding the base's.
    pub env: Vec<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// Exposed ports.
    pub ports: Vec<String>,
    /// Labels, added to the base's.
    pub labels: BTreeMap<String, String>,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Merges `NAME=value` lists: later entries replace earlier ones with the same name.
fn merge_env(base: &[String], ours: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for e in base.iter().chain(ours) {
        let name = e.split_once('=').map_or(e.as_str(), |(n, _)| n);
        out.retain(|x| x.split_once('=').map_or(x.as_str(), |(n, _)| n) != name);
        out.push(e.clone());
    }
    out
}

/// Builds the image config for `platform` on top of `base`.
pub fn config(
    platform: &Platform,
    base: &PlatformBase,
    rt: &RuntimeConfig,
    layer: &LayerBlob,
    created: &str,
) -> ImageConfiguration {
    let base_cfg = base
        .config
        .as_ref()
        .and_then(|c| c.config().clone())
        .unwrap_or_default();
    let base_env = base_cfg
        .env()
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_PATH.to_owned()]);
    let mut labels: HashMap<String, String> = base_cfg.labels().clone().unwrap_or_default();
    labels.extend(rt.labels.clone());
    let mut ports: Vec<String> = base_cfg.exposed_ports().clone().unwrap_or_default();
    for p in &rt.ports {
        if !ports.contains(p) {
            ports.push(p.clone());
        }
    }
    let mut c = Config::default();
    c.set_user(Some(rt.user.clone()));
    c.set_env(Some(merge_env(&base_env, &rt.env)));
    c.set_entrypoint(Some(rt.entrypoint.clone()));
    c.set_cmd(rt.cmd.clone());
    c.set_working_dir(
        rt.workdir
            .clone()
            .or_else(|| base_cfg.working_dir().clone()),
    );
    c.set_exposed_ports((!ports.is_empty()).then_some(ports));
    c.set_labels((!labels.is_empty()).then_some(labels));
    c.set_stop_signal(base_cfg.stop_signal().clone());

    let mut diff_ids: Vec<String> = base
        .config
        .as_ref()
        .map(|c| c.rootfs().diff_ids().clone())
        .unwrap_or_default();
    diff_ids.push(layer.diff_id.to_string());
    let mut rootfs = RootFs::default();
    rootfs.set_diff_ids(diff_ids);
    let mut history = base
        .config
        .as_ref()
        .and_then(|c| c.history().clone())
        .unwrap_or_default();
    history.push(
        HistoryBuilder::default()
            .created(created.to_owned())
            .created_by("slipway-build".to_owned())
            .comment("application layer".to_owned())
            .build()
            .expect("history entry"),
    );
    let mut cfg = ImageConfiguration::default();
    cfg.set_created(Some(created.to_owned()));
    cfg.set_os(oci_spec::image::Os::from(platform.os()));
    cfg.set_architecture(oci_spec::image::Arch::from(platform.architecture()));
    cfg.set_variant(platform.variant().map(str::to_owned));
    cfg.set_config(Some(c));
    cfg.set_rootfs(rootfs);
    cfg.set_history(Some(history));
    cfg
}

/// Writes config and manifest for one platform; returns the manifest.
pub fn manifest(
    layout: &Layout,
    base: &PlatformBase,
    cfg: &ImageConfiguration,
    layer: &LayerBlob,
    annotations: &BTreeMap<String, String>,
) -> Result<(Manifest, Digest), BuildError> {
    let cfg_bytes = slipway_oci::json::canonical(cfg).map_err(|e| BuildError::Spec {
        image: String::new(),
        message: format!("cannot encode the image config: {e}"),
    })?;
    let (cfg_digest, cfg_size) = layout.write_bytes(&cfg_bytes)?;
    let mut layers: Vec<Descriptor> = base.layers.clone();
    layers.push(convert::descriptor(
        layer.media_type,
        &layer.digest,
        layer.size,
    ));
    let mut builder = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(SpecMediaType::ImageManifest)
        .config(convert::descriptor(
            MediaType::OCI_CONFIG,
            &cfg_digest,
            cfg_size,
        ))
        .layers(layers);
    if !annotations.is_empty() {
        builder = builder.annotations(
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        );
    }
    let m = builder.build().map_err(|e| BuildError::Spec {
        image: String::new(),
        message: format!("cannot assemble the manifest: {e}"),
    })?;
    let m = Manifest::from_image(&m)?;
    layout.write_manifest(&m)?;
    Ok((m, cfg_digest))
}

/// Writes the index over the platform manifests.
pub fn index(
    layout: &Layout,
    manifests: &[(Platform, Manifest)],
    annotations: &BTreeMap<String, String>,
) -> Result<Manifest, BuildError> {
    let m = index_manifest(manifests, annotations)?;
    layout.write_manifest(&m)?;
    Ok(m)
}

/// The index over the platform manifests, without writing it anywhere (so that its digest can
/// be checked before a layout is touched).
pub fn index_manifest(
    manifests: &[(Platform, Manifest)],
    annotations: &BTreeMap<String, String>,
) -> Result<Manifest, BuildError> {
    let entries: Vec<Descriptor> = manifests
        .iter()
        .map(|(p, m)| {
            let mut d = m.descriptor();
            d.set_platform(Some(convert::to_spec_platform(p)));
            d
        })
        .collect();
    let mut builder = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(SpecMediaType::ImageIndex)
        .manifests(entries);
    if !annotations.is_empty() {
        builder = builder.annotations(
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        );
    }
    let i = builder.build().map_err(|e| BuildError::Spec {
        image: String::new(),
        message: format!("cannot assemble the index: {e}"),
    })?;
    Ok(Manifest::from_index(&i)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_merge_overrides_by_name() {
        let base = vec!["PATH=/bin".to_owned(), "A=1".to_owned()];
        let ours = vec!["A=2".to_owned(), "B=3".to_owned()];
        assert_eq!(merge_env(&base, &ours), ["PATH=/bin", "A=2", "B=3"]);
    }
}
