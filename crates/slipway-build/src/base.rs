//! Base images: `scratch`, an OCI layout, or a registry reference.
//!
//! A base contributes its layers (copied byte-for-byte, never recompressed), its `diff_ids`,
//! history and config defaults (env, working directory, labels). For a multi-platform base the
//! right manifest is picked per platform. Registry bases are pulled once into a
//! content-addressed cache layout by a [`BasePuller`] and then used like a layout base.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::image::{Descriptor, ImageConfiguration};
use slipway_oci::{Layout, ManifestKind, convert};
use slipway_types::{Digest, ExitClass, MediaType, Platform, Reference};

use crate::BuildError;

/// A base as written by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseSpec {
    /// No base.
    Scratch,
    /// An OCI layout directory and optionally the name of the image in it.
    Layout {
        /// The directory.
        path: PathBuf,
        /// The image name (`org.opencontainers.image.ref.name`); default: the only image.
        name: Option<String>,
    },
    /// A registry image.
    Registry(Reference),
}

impl FromStr for BaseSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "scratch" || s.is_empty() {
            return Ok(BaseSpec::Scratch);
        }
        if let Some(rest) = s
            .strip_prefix("oci:")
            .or_else(|| s.strip_prefix("oci-layout:"))
        {
            // oci:PATH[:NAME]; a NAME never contains '/', a PATH may contain ':' only before the last one.
            let (path, name) = match rest.rsplit_once(':') {
                Some((p, n)) if !n.contains('/') && !p.is_empty() => (p, Some(n.to_owned())),
                _ => (rest, None),
            };
            return Ok(BaseSpec::Layout {
                path: PathBuf::from(path),
                name,
            });
        }
        s.parse::<Reference>().map(BaseSpec::Registry).map_err(|e| {
            format!("{e} (a base is `scratch`, `oci:PATH[:NAME]` or a registry reference)")
        })
    }
}

impl BaseSpec {
    /// The base as the user wrote it, for annotations and the state.
    pub fn display_name(&self) -> String {
        match self {
            BaseSpec::Scratch => "scratch".into(),
            BaseSpec::Layout {
                path,
                name: Some(n),
            } => format!("oci:{}:{n}", path.display()),
            BaseSpec::Layout { path, name: None } => format!("oci:{}", path.display()),
            BaseSpec::Registry(r) => r.to_string(),
        }
    }

    /// Resolves relative layout paths against `dir`.
    pub fn relative_to(self, dir: &Path) -> BaseSpec {
        match self {
            BaseSpec::Layout { path, name } if path.is_relative() => BaseSpec::Layout {
                path: dir.join(path),
                name,
            },
            other => other,
        }
    }
}

/// Pulls a registry image into a cache layout (implemented by the registry client).
pub trait BasePuller: Send + Sync {
    /// Copies `reference` (index or manifest and everything below it, for all platforms or the
    /// ones listed) into `cache`; returns the descriptor of its top manifest.
    fn pull(
        &self,
        reference: &Reference,
        platforms: &[Platform],
        cache: &Layout,
    ) -> Result<Descriptor, (ExitClass, Box<dyn std::error::Error + Send + Sync>)>;
}

/// A base opened for building.
#[derive(Debug)]
pub struct Base {
    /// As written.
    pub name: String,
    /// Where its content is.
    layout: Option<Layout>,
    /// Its top manifest (index or image manifest).
    top: Option<Descriptor>,
}

/// What a base contributes for one platform.
#[derive(Debug, Clone, Default)]
pub struct PlatformBase {
    /// Layer descriptors (media types normalised to OCI).
    pub layers: Vec<Descriptor>,
    /// Its config, when not scratch.
    pub config: Option<ImageConfiguration>,
    /// Digest of its platform manifest.
    pub manifest_digest: Option<Digest>,
}

impl Base {
    /// Opens the base; registry bases are pulled with `puller` into `cache` first.
    pub fn open(
        spec: &BaseSpec,
        platforms: &[Platform],
        puller: Option<&dyn BasePuller>,
        cache: &Path,
    ) -> Result<Base, BuildError> {
        let name = spec.display_name();
        let err = |message: String| BuildError::Base {
            base: name.clone(),
            message,
        };
        match spec {
            BaseSpec::Scratch => Ok(Base {
                name,
                layout: None,
                top: None,
            }),
            BaseSpec::Layout { path, name: image } => {
                let layout = Layout::open(path).map_err(|e| err(e.to_string()))?;
                let refs = layout.refs()?;
                let top = match image {
                    Some(n) => layout.resolve(n).map_err(|e| err(e.to_string()))?,
                    None => {
                        // Signatures and attestations (`sha256-….sig`) are not images, and
                        // `NAME.os-arch` entries are platforms of image NAME.
                        let names: Vec<&str> = refs.iter().map(|(n, _)| n.as_str()).collect();
                        let images: Vec<_> = refs
                            .iter()
                            .filter(|(n, _)| !n.starts_with("sha256-"))
                            .filter(|(n, _)| {
                                !n.rsplit_once('.')
                                    .is_some_and(|(parent, _)| names.contains(&parent))
                            })
                            .collect();
                        match images.as_slice() {
                            [(_, d)] => d.clone(),
                            [] => return Err(err("the layout holds no image".into())),
                            many => {
                                let names: Vec<&str> =
                                    many.iter().map(|(n, _)| n.as_str()).collect();
                                return Err(err(format!(
                                    "the layout holds several images ({}); write oci:PATH:NAME",
                                    names.join(", ")
                                )));
                            }
                        }
                    }
                };
                Ok(Base {
                    name,
                    layout: Some(layout),
                    top: Some(top),
                })
            }
            BaseSpec::Registry(reference) => {
                let cache_layout = Layout::create(cache.join("oci"))?;
                // Pinned by digest and all there: the registry has nothing to add (and may be
                // unreachable, e.g. offline rebuilds). A cached index that cannot serve a
                // platform is final too: content pinned by digest does not change.
                let hit = match reference.digest() {
                    Some(d) => cached(&cache_layout, d, platforms, &name)?,
                    None => None,
                };
                if let Some(top) = hit {
                    tracing::debug!(base = %name, "base used from the cache, without the registry");
                    return Ok(Base {
                        name,
                        layout: Some(cache_layout),
                        top: Some(top),
                    });
                }
                let Some(puller) = puller else {
                    return Err(BuildError::BaseFetch {
                        base: name,
                        source: "no registry client is available to fetch it".into(),
                        class: ExitClass::Usage,
                    });
                };
                let top = puller.pull(reference, platforms, &cache_layout).map_err(
                    |(class, source)| BuildError::BaseFetch {
                        base: name.clone(),
                        source,
                        class,
                    },
                )?;
                Ok(Base {
                    name,
                    layout: Some(cache_layout),
                    top: Some(top),
                })
            }
        }
    }

    /// Digest of the base's top manifest (index or manifest); `None` for scratch.
    pub fn digest(&self) -> Option<Digest> {
        self.top
            .as_ref()
            .and_then(|d| convert::descriptor_digest(d).ok())
    }

    /// Whether this is `scratch`.
    pub fn is_scratch(&self) -> bool {
        self.layout.is_none()
    }

    /// The base for `platform`.
    pub fn for_platform(&self, platform: &Platform) -> Result<PlatformBase, BuildError> {
        let (Some(layout), Some(top)) = (&self.layout, &self.top) else {
            return Ok(PlatformBase::default());
        };
        let err = |message: String| BuildError::Base {
            base: self.name.clone(),
            message,
        };
        let m = layout.read_manifest(top)?;
        let manifest_desc = match &m.kind {
            ManifestKind::Index(index) => {
                let candidates: Vec<(Platform, &Descriptor)> = index
                    .manifests()
                    .iter()
                    .filter_map(|d| {
                        d.platform()
                            .as_ref()
                            .and_then(|p| convert::from_spec_platform(p).ok())
                            .map(|p| (p, d))
                    })
                    .collect();
                pick(platform, &candidates).ok_or_else(|| {
                    let have: Vec<String> = candidates.iter().map(|(p, _)| p.to_string()).collect();
                    err(format!(
                        "it has no image for {platform} (it has: {})",
                        have.join(", ")
                    ))
                })?
            }
            ManifestKind::Image(_) => top.clone(),
        };
        let manifest = layout.read_manifest(&manifest_desc)?;
        let ManifestKind::Image(image) = &manifest.kind else {
            return Err(err(
                "a platform entry of its index is itself an index".into()
            ));
        };
        let config_bytes = layout.read_blob(&convert::descriptor_digest(image.config())?)?;
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
            .map_err(|e| err(format!("its config is invalid: {e}")))?;
        let (os, arch) = (config.os().to_string(), config.architecture().to_string());
        if os != platform.os() || arch != platform.architecture() {
            return Err(err(format!("its image is for {os}/{arch}, not {platform}")));
        }
        let layers = image
            .layers()
            .iter()
            .map(|l| {
                let mut l = l.clone();
                // Docker and OCI layer media types name the same bytes; the manifest is OCI.
                let mt = l.media_type().to_string();
                let oci = match mt.as_str() {
                    "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
                        Some(MediaType::OCI_LAYER_GZIP)
                    }
                    "application/vnd.docker.image.rootfs.diff.tar" => {
                        Some(MediaType::OCI_LAYER_TAR)
                    }
                    _ => None,
                };
                if let Some(oci) = oci {
                    l.set_media_type(oci_spec::image::MediaType::from(oci));
                }
                l
            })
            .collect();
        Ok(PlatformBase {
            layers,
            config: Some(config),
            manifest_digest: Some(manifest.digest),
        })
    }

    /// Copies the base's layers for `pb` into `out`, byte for byte.
    pub fn copy_layers(&self, pb: &PlatformBase, out: &Layout) -> Result<(), BuildError> {
        let Some(layout) = &self.layout else {
            return Ok(());
        };
        for l in &pb.layers {
            let d = convert::descriptor_digest(l)?;
            if out.has_blob(&d) {
                continue;
            }
            let f = layout.open_blob(&d)?;
            out.write_blob_expect(f, &d, Some(l.size()))?;
        }
        Ok(())
    }
}

/// The top descriptor of `digest` when the cache holds it and, for every platform in
/// `platforms`, the manifest picked for it, its config and its layers; `None` when something is
/// not cached (yet). An error when the cached content itself rules a platform out (the index
/// has no image for it, or the image is for another platform): asking the registry for the same
/// digest would give the same bytes.
fn cached(
    cache: &Layout,
    digest: &Digest,
    platforms: &[Platform],
    name: &str,
) -> Result<Option<Descriptor>, BuildError> {
    if !cache.has_blob(digest) {
        return Ok(None);
    }
    let Ok(bytes) = cache.read_blob(digest) else {
        return Ok(None);
    };
    let Ok(top) = slipway_oci::Manifest::parse(bytes, None, "cached base") else {
        return Ok(None);
    };
    let top = top.descriptor();
    let base = Base {
        name: name.to_owned(),
        layout: Some(cache.clone()),
        top: Some(top.clone()),
    };
    let mut complete = true;
    for p in platforms {
        let pb = match base.for_platform(p) {
            Ok(pb) => pb,
            Err(e @ BuildError::Base { .. }) => return Err(e),
            // A manifest or config of this platform not fetched before.
            Err(_) => {
                complete = false;
                continue;
            }
        };
        complete &= pb.layers.iter().all(|l| {
            convert::descriptor_digest(l)
                .map(|d| cache.has_blob(&d))
                .unwrap_or(false)
        });
    }
    Ok(complete.then_some(top))
}

fn pick(want: &Platform, candidates: &[(Platform, &Descriptor)]) -> Option<Descriptor> {
    let same_arch: Vec<&(Platform, &Descriptor)> = candidates
        .iter()
        .filter(|(p, _)| p.os() == want.os() && p.architecture() == want.architecture())
        .collect();
    let normalise = |p: &Platform| match (p.architecture(), p.variant()) {
        ("arm64", Some("v8")) => None,
        (_, v) => v.map(str::to_owned),
    };
    same_arch
        .iter()
        .find(|(p, _)| normalise(p) == normalise(want))
        .or_else(|| {
            if want.variant().is_none() && same_arch.len() == 1 {
                same_arch.first()
            } else {
                None
            }
        })
        .map(|(_, d)| (*d).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!("scratch".parse::<BaseSpec>().unwrap(), BaseSpec::Scratch);
        assert_eq!(
            "oci:/tmp/base:distroless".parse::<BaseSpec>().unwrap(),
            BaseSpec::Layout {
                path: "/tmp/base".into(),
                name: Some("distroless".into())
            }
        );
        assert_eq!(
            "oci:base/dir".parse::<BaseSpec>().unwrap(),
            BaseSpec::Layout {
                path: "base/dir".into(),
                name: None
            }
        );
        assert!(matches!(
            "gcr.io/distroless/static:nonroot"
                .parse::<BaseSpec>()
                .unwrap(),
            BaseSpec::Registry(_)
        ));
        assert!("Bad Base".parse::<BaseSpec>().is_err());
    }
}
