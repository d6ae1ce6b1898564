//! `slipway-build`: binaries in, reproducible OCI images out — with no daemon and no image tool.
//!
//! - [`builder`]: go, cargo and prebuilt binaries, one per platform.
//! - [`layer`]: deterministic tar layers, streamed into the layout.
//! - [`compress`]: block-parallel gzip and multi-threaded zstd.
//! - [`base`]: scratch, OCI layout and registry bases.
//! - [`image`]: config, manifest and index assembly.
//!
//! [`build_image`] ties them together; [`verify_reproducible`] builds twice and compares;
//! [`write_archive`] writes an oci-archive tar.
#![deny(missing_docs)]

pub mod base;
pub mod builder;
pub mod compress;
mod error;
pub mod image;
pub mod layer;
mod tool;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci_spec::image::Descriptor;
use slipway_oci::{Layout, Manifest, ManifestKind, REF_NAME, convert};
use slipway_types::{Digest, Platform, Progress};

pub use base::{BasePuller, BaseSpec};
pub use builder::{Built, TemplateVars};
pub use compress::Compression;
pub use error::BuildError;

use layer::{Entry, EntryKind, LayerSpec};

/// How the program is produced.
#[derive(Debug, Clone)]
pub enum BuilderSpec {
    /// `go build`.
    Go(builder::go::GoSpec),
    /// `cargo build`.
    Cargo(builder::cargo::CargoSpec),
    /// Prebuilt files: a path template (`{os}`, `{arch}`, `{variant}`) relative to `base_dir`.
    Binary {
        /// The template.
        template: String,
        /// What it is relative to.
        base_dir: PathBuf,
    },
}

/// An extra file for the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// On the build machine.
    pub src: PathBuf,
    /// Absolute path in the image.
    pub dst: String,
    /// Mode.
    pub mode: u32,
}

/// Everything about one image to build, resolved (paths absolute, defaults applied).
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Name (state key and layout ref name).
    pub name: String,
    /// How the program is produced.
    pub builder: BuilderSpec,
    /// Platforms.
    pub platforms: Vec<Platform>,
    /// Base image.
    pub base: BaseSpec,
    /// Where the program goes in the image.
    pub path: String,
    /// Extra files.
    pub files: Vec<FileSpec>,
    /// A CA bundle for /etc/ssl/certs/ca-certificates.crt.
    pub ca_bundle: Option<PathBuf>,
    /// `uid:gid` of the files and the container user.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Container settings.
    pub runtime: image::RuntimeConfig,
    /// Extra annotations on manifests and index.
    pub annotations: BTreeMap<String, String>,
    /// Layer compression.
    pub compression: Compression,
    /// `upx` arguments when UPX is wanted.
    pub upx: Option<Vec<String>>,
}

/// Build-wide settings.
pub struct BuildOptions<'a> {
    /// Where binaries are built.
    pub work_dir: PathBuf,
    /// Cargo's target directory.
    pub cargo_target_dir: PathBuf,
    /// Timestamp of every file and of `created` (SOURCE_DATE_EPOCH, else commit time, else 0).
    pub epoch: i64,
    /// Placeholder values for ldflags.
    pub vars: TemplateVars,
    /// The version for the `org.opencontainers.image.version` annotation, when known.
    pub version: Option<String>,
    /// Repository URL for the source annotation.
    pub source: Option<String>,
    /// Worker threads (compression, concurrent builds).
    pub threads: usize,
    /// Content-addressed cache for registry bases.
    pub cache_dir: PathBuf,
    /// The registry client for registry bases.
    pub puller: Option<&'a dyn BasePuller>,
    /// Progress.
    pub progress: &'a dyn Progress,
}

impl std::fmt::Debug for BuildOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildOptions")
            .field("work_dir", &self.work_dir)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// One platform of a built image.
#[derive(Debug, Clone)]
pub struct BuiltPlatform {
    /// The manifest.
    pub manifest: slipway_state::Descriptor,
    /// Its config digest.
    pub config: Digest,
    /// The binary in it.
    pub binary: Built,
}

/// A built image.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    /// Name.
    pub name: String,
    /// The index.
    pub index: slipway_state::Descriptor,
    /// Per platform.
    pub platforms: BTreeMap<Platform, BuiltPlatform>,
    /// The base, when not scratch.
    pub base: Option<slipway_state::BaseImage>,
    /// Where the program is in the image.
    pub path: String,
}

impl BuiltImage {
    /// The state file's view of this image.
    pub fn to_state(&self, layout: &Path) -> slipway_state::Image {
        slipway_state::Image {
            layout: Some(layout.display().to_string()),
            layout_ref: Some(self.name.clone()),
            index: Some(self.index.clone()),
            platforms: self
                .platforms
                .iter()
                .map(|(p, b)| {
                    (
                        p.clone(),
                        slipway_state::PlatformImage {
                            manifest: b.manifest.clone(),
                            config: Some(b.config.clone()),
                            layout: None,
                            binaries: vec![slipway_state::Binary {
                                path: self.path.clone(),
                                source: Some(b.binary.path.display().to_string()),
                                sha256: b.binary.sha256.clone(),
                                size: b.binary.size,
                                toolchain: b.binary.toolchain.clone(),
                            }],
                        },
                    )
                })
                .collect(),
            base: self.base.clone(),
        }
    }
}

fn state_descriptor(m: &Manifest) -> slipway_state::Descriptor {
    slipway_state::Descriptor {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
    }
}

/// The layout name of one platform's manifest of image `name`: `name.linux-arm-v7`.
pub fn platform_ref(name: &str, platform: &Platform) -> String {
    format!("{name}.{}", platform.slug())
}

/// RFC 3339 for an epoch.
pub fn rfc3339(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn produce(
    spec: &ImageSpec,
    opts: &BuildOptions<'_>,
    upx: Option<&Path>,
) -> Result<Vec<Built>, BuildError> {
    let out_dir = opts.work_dir.join(&spec.name);
    let mut built = match &spec.builder {
        BuilderSpec::Go(g) => builder::go::build(
            g,
            &spec.name,
            &spec.platforms,
            &out_dir,
            &opts.vars,
            opts.threads,
            opts.progress,
        )?,
        BuilderSpec::Cargo(c) => builder::cargo::build(
            c,
            &spec.name,
            &spec.platforms,
            &out_dir,
            &opts.cargo_target_dir,
            opts.progress,
        )?,
        BuilderSpec::Binary { template, base_dir } => {
            builder::binary::collect(&spec.name, template, &spec.platforms, base_dir)?
        }
    };
    if let (Some(args), Some(upx)) = (&spec.upx, upx) {
        for b in &mut built {
            // Prebuilt inputs are not modified: UPX works on a copy.
            let dir = out_dir.join(b.platform.slug());
            std::fs::create_dir_all(&dir)
                .map_err(error::io_error("cannot create build directory", &dir))?;
            let target = dir.join(format!("{}.upx", spec.name));
            std::fs::copy(&b.path, &target)
                .map_err(error::io_error("cannot copy for upx", &b.path))?;
            tool::run(std::process::Command::new(upx).args(args).arg(&target))?;
            *b = builder::finish(&b.platform, target, b.toolchain.clone())?;
        }
    }
    Ok(built)
}

fn annotations(
    spec: &ImageSpec,
    opts: &BuildOptions<'_>,
    base: &base::Base,
    base_digest: Option<&Digest>,
) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert(image::keys::CREATED.to_owned(), rfc3339(opts.epoch));
    if let Some(s) = &opts.source {
        a.insert(image::keys::SOURCE.to_owned(), s.clone());
    }
    if !opts.vars.commit.is_empty() {
        a.insert(image::keys::REVISION.to_owned(), opts.vars.commit.clone());
    }
    if let Some(v) = &opts.version {
        a.insert(image::keys::VERSION.to_owned(), v.clone());
    }
    if !base.is_scratch() {
        a.insert(image::keys::BASE_NAME.to_owned(), base.name.clone());
        if let Some(d) = base_digest {
            a.insert(image::keys::BASE_DIGEST.to_owned(), d.to_string());
        }
    }
    a.extend(spec.annotations.clone());
    a
}

/// Builds `spec` into `layout` and names it there. The name is set last: a failed build leaves
/// no image behind under that name (at most unreferenced blobs).
pub fn build_image(
    spec: &ImageSpec,
    layout: &Layout,
    opts: &BuildOptions<'_>,
) -> Result<BuiltImage, BuildError> {
    if spec.platforms.is_empty() {
        return Err(BuildError::Spec {
            image: spec.name.clone(),
            message: "no platforms to build".into(),
        });
    }
    // Everything about the extra files is checked before anything is pulled or compiled.
    let program = layer::image_path(&spec.path).map_err(|m| BuildError::Spec {
        image: spec.name.clone(),
        message: format!("path: {m}"),
    })?;
    let mut extra = Vec::new();
    for f in &spec.files {
        let dst = layer::image_path(&f.dst).map_err(|m| BuildError::Spec {
            image: spec.name.clone(),
            message: format!("files: {m}"),
        })?;
        extra.push((dst, f));
        if !f.src.is_file() {
            return Err(BuildError::Spec {
                image: spec.name.clone(),
                message: format!(
                    "files: `{}` does not exist or is not a file",
                    f.src.display()
                ),
            });
        }
    }
    // A missing UPX is known now, not after a full compile.
    let upx = match &spec.upx {
        Some(_) => Some(tool::require(
            "upx",
            "install UPX (https://upx.github.io) or remove `upx: true`",
        )?),
        None => None,
    };
    let started = std::time::Instant::now();
    let base = base::Base::open(&spec.base, &spec.platforms, opts.puller, &opts.cache_dir)?;
    tracing::debug!(image = %spec.name, elapsed = ?started.elapsed(), "base opened");
    let binaries = produce(spec, opts, upx.as_deref())?;
    tracing::debug!(image = %spec.name, elapsed = ?started.elapsed(), "binaries ready");
    let mut manifests = Vec::new();
    let mut platforms = BTreeMap::new();
    for mut bin in binaries {
        let p = bin.platform.clone();
        let pb = base.for_platform(&p)?;
        base.copy_layers(&pb, layout)?;
        let mut layer = LayerSpec::new();
        let owned = |path: String, kind: EntryKind, mode: u32| Entry {
            path,
            kind,
            mode,
            uid: spec.uid,
            gid: spec.gid,
        };
        layer.add(owned(
            program.clone(),
            EntryKind::File(bin.path.clone()),
            0o755,
        ));
        if let Some(ca) = &spec.ca_bundle {
            layer.add(Entry {
                path: "etc/ssl/certs/ca-certificates.crt".into(),
                kind: EntryKind::File(ca.clone()),
                mode: 0o644,
                uid: 0,
                gid: 0,
            });
        }
        for (dst, f) in &extra {
            layer.add(owned(dst.clone(), EntryKind::File(f.src.clone()), f.mode));
        }
        let task = format!("{} {p}: layer", spec.name);
        let blob = layer::write_layer(
            layout,
            &layer,
            opts.epoch.max(0) as u64,
            spec.compression,
            opts.threads,
            opts.progress,
            &task,
        )?;
        // The program's hash and size as they went into the layer.
        match blob.files.iter().find(|(path, ..)| *path == program) {
            Some((_, digest, size)) => {
                bin.sha256 = digest.clone();
                bin.size = *size;
            }
            None => bin = builder::finish(&bin.platform, bin.path, bin.toolchain)?,
        }
        let cfg = image::config(&p, &pb, &spec.runtime, &blob, &rfc3339(opts.epoch));
        let ann = annotations(spec, opts, &base, pb.manifest_digest.as_ref());
        let (m, cfg_digest) = image::manifest(layout, &pb, &cfg, &blob, &ann)?;
        platforms.insert(
            p.clone(),
            BuiltPlatform {
                manifest: state_descriptor(&m),
                config: cfg_digest,
                binary: bin,
            },
        );
        manifests.push((p, m));
    }
    let ann = annotations(spec, opts, &base, base.digest().as_ref());
    let index = image::index(layout, &manifests, &ann)?;
    let per_platform: Vec<(Platform, Descriptor)> = manifests
        .iter()
        .map(|(p, m)| (p.clone(), m.descriptor()))
        .collect();
    name_image(layout, &spec.name, index.descriptor(), &per_platform)?;
    tracing::debug!(image = %spec.name, elapsed = ?started.elapsed(), "image named in the layout");
    Ok(BuiltImage {
        name: spec.name.clone(),
        index: state_descriptor(&index),
        platforms,
        base: (!base.is_scratch()).then(|| slipway_state::BaseImage {
            name: base.name.clone(),
            digest: base.digest(),
        }),
        path: spec.path.clone(),
    })
}

/// Builds `spec` twice, in separate temporary directories, and compares. On success the first
/// build's image is copied into `layout`; on a difference the first differing blob is named.
pub fn verify_reproducible(
    spec: &ImageSpec,
    layout: &Layout,
    opts: &BuildOptions<'_>,
) -> Result<BuiltImage, BuildError> {
    let tmp = tempfile::Builder::new()
        .prefix("slipway-repro-")
        .tempdir()
        .map_err(error::io_error(
            "cannot create a temp dir in",
            std::env::temp_dir(),
        ))?;
    let mut results = Vec::new();
    for run in ["a", "b"] {
        let dir = tmp.path().join(run);
        let l = Layout::create(dir.join("oci"))?;
        let o = BuildOptions {
            work_dir: dir.join("work"),
            cargo_target_dir: dir.join("cargo-target"),
            vars: opts.vars.clone(),
            version: opts.version.clone(),
            source: opts.source.clone(),
            cache_dir: opts.cache_dir.clone(),
            ..*opts
        };
        let built = build_image(spec, &l, &o)?;
        results.push((l, built));
    }
    let (la, a) = &results[0];
    let (lb, b) = &results[1];
    if a.index.digest != b.index.digest {
        return Err(BuildError::NotReproducible {
            first_difference: first_difference(la, a, lb, b)?,
        });
    }
    // Identical: bring the image into the real layout.
    let top = la.resolve(&a.name)?;
    for d in la.walk(&top)? {
        let digest = convert::descriptor_digest(&d)?;
        if !layout.has_blob(&digest) {
            layout.write_blob_expect(la.open_blob(&digest)?, &digest, Some(d.size()))?;
        }
    }
    let per_platform: Vec<(Platform, Descriptor)> = a
        .platforms
        .iter()
        .map(|(p, bp)| {
            let m = &bp.manifest;
            (
                p.clone(),
                convert::descriptor(m.media_type.as_str(), &m.digest, m.size),
            )
        })
        .collect();
    name_image(layout, &a.name, top, &per_platform)?;
    Ok(a.clone())
}

/// Names a built image in `layout`, in one `index.json` update: the index under `name`, each
/// platform's manifest under `name.os-arch[-variant]` (for tools that cannot pick a platform from
/// an index, e.g. umoci), and no `name.*` entry left over from platforms an earlier build of
/// `name` had and this one has not.
pub fn name_image(
    layout: &Layout,
    name: &str,
    index: Descriptor,
    platforms: &[(Platform, Descriptor)],
) -> Result<(), BuildError> {
    let mut refs = vec![(name.to_owned(), index)];
    refs.extend(
        platforms
            .iter()
            .map(|(p, d)| (platform_ref(name, p), d.clone())),
    );
    for (_, d) in &refs {
        let digest = convert::descriptor_digest(d)?;
        if !layout.has_blob(&digest) {
            return Err(slipway_oci::OciError::BlobMissing {
                layout: layout.root().to_path_buf(),
                digest,
            }
            .into());
        }
    }
    // Only names derived from the platforms of the previous index are dropped: another image
    // may well be called `name.something`.
    let stale: Vec<String> = previous_platforms(layout, name)
        .iter()
        .map(|p| platform_ref(name, p))
        .filter(|r| !refs.iter().any(|(n, _)| n == r))
        .collect();
    layout.update_index(|manifests| {
        manifests.retain(|d| match convert::annotation(d, REF_NAME) {
            Some(n) => !refs.iter().any(|(r, _)| r == n) && !stale.iter().any(|s| s == n),
            None => true,
        });
        manifests.extend(refs.into_iter().map(|(n, mut d)| {
            convert::annotate(&mut d, REF_NAME, &n);
            d
        }));
    })?;
    Ok(())
}

/// The platforms of the index currently named `name` in `layout` (none if there is none).
fn previous_platforms(layout: &Layout, name: &str) -> Vec<Platform> {
    let Ok(top) = layout.resolve(name) else {
        return Vec::new();
    };
    match layout.read_manifest(&top).map(|m| m.kind) {
        Ok(ManifestKind::Index(index)) => index
            .manifests()
            .iter()
            .filter_map(|d| d.platform().as_ref())
            .filter_map(|p| convert::from_spec_platform(p).ok())
            .collect(),
        _ => Vec::new(),
    }
}

fn first_difference(
    la: &Layout,
    a: &BuiltImage,
    lb: &Layout,
    b: &BuiltImage,
) -> Result<String, BuildError> {
    for (p, pa) in &a.platforms {
        let Some(pbp) = b.platforms.get(p) else {
            return Ok(format!("{p} is missing from the second build"));
        };
        if pa.binary.sha256 != pbp.binary.sha256 {
            return Ok(format!(
                "the binary for {p} differs ({} vs {}): the compiler output is not reproducible",
                pa.binary.sha256, pbp.binary.sha256
            ));
        }
        if pa.manifest.digest == pbp.manifest.digest {
            continue;
        }
        let ma = la.read_manifest(&convert::descriptor(
            pa.manifest.media_type.as_str(),
            &pa.manifest.digest,
            pa.manifest.size,
        ))?;
        let mb = lb.read_manifest(&convert::descriptor(
            pbp.manifest.media_type.as_str(),
            &pbp.manifest.digest,
            pbp.manifest.size,
        ))?;
        if let (ManifestKind::Image(x), ManifestKind::Image(y)) = (&ma.kind, &mb.kind) {
            for (i, (lx, ly)) in x.layers().iter().zip(y.layers()).enumerate() {
                if lx.digest() != ly.digest() {
                    return Ok(format!("{p} layer {i}: {} vs {}", lx.digest(), ly.digest()));
                }
            }
            if x.config().digest() != y.config().digest() {
                return Ok(format!(
                    "{p} config: {} vs {}",
                    x.config().digest(),
                    y.config().digest()
                ));
            }
        }
        return Ok(format!(
            "{p} manifest: {} vs {}",
            pa.manifest.digest, pbp.manifest.digest
        ));
    }
    Ok(format!("index: {} vs {}", a.index.digest, b.index.digest))
}

/// Writes an oci-archive (a tar of an OCI layout holding just this image) to `path`, atomically.
pub fn write_archive(
    layout: &Layout,
    name: &str,
    path: &Path,
    epoch: i64,
) -> Result<(), BuildError> {
    let top = layout.resolve(name)?;
    let blobs = layout.walk(&top)?;
    let dir = slipway_fs::parent_dir(path);
    std::fs::create_dir_all(&dir).map_err(error::io_error("cannot create", &dir))?;
    let tmp = tempfile::Builder::new()
        .prefix(".slipway-archive-")
        .tempfile_in(&dir)
        .map_err(error::io_error("cannot write the archive into", &dir))?;
    let write_err = error::io_error("cannot write the archive", path);
    let result = (|| -> std::io::Result<()> {
        let mut tar = tar::Builder::new(std::io::BufWriter::new(tmp.as_file()));
        let header = |size: u64, mode: u32, kind: tar::EntryType| {
            let mut h = tar::Header::new_gnu();
            h.set_size(size);
            h.set_mode(mode);
            h.set_mtime(epoch.max(0) as u64);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(kind);
            h
        };
        let mut entry = top.clone();
        convert::annotate(&mut entry, REF_NAME, name);
        let index = oci_spec::image::ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(oci_spec::image::MediaType::ImageIndex)
            .manifests(vec![entry])
            .build()
            .map_err(std::io::Error::other)?;
        let index_bytes = slipway_oci::json::canonical(&index).map_err(std::io::Error::other)?;
        let marker = br#"{"imageLayoutVersion":"1.0.0"}"#;
        for d in ["blobs/", "blobs/sha256/"] {
            tar.append_data(
                &mut header(0, 0o755, tar::EntryType::Directory),
                d,
                std::io::empty(),
            )?;
        }
        let mut sorted: Vec<&Descriptor> = blobs.iter().collect();
        sorted.sort_by_key(|d| d.digest().to_string());
        sorted.dedup_by_key(|d| d.digest().to_string());
        for d in sorted {
            let digest = convert::descriptor_digest(d).map_err(std::io::Error::other)?;
            let f = layout.open_blob(&digest).map_err(std::io::Error::other)?;
            let len = f.metadata()?.len();
            tar.append_data(
                &mut header(len, 0o644, tar::EntryType::Regular),
                format!("blobs/sha256/{}", digest.hex()),
                f,
            )?;
        }
        tar.append_data(
            &mut header(index_bytes.len() as u64, 0o644, tar::EntryType::Regular),
            "index.json",
            &index_bytes[..],
        )?;
        tar.append_data(
            &mut header(marker.len() as u64, 0o644, tar::EntryType::Regular),
            "oci-layout",
            &marker[..],
        )?;
        tar.into_inner()?.flush()?;
        tmp.as_file().sync_all()
    })();
    result.map_err(write_err)?;
    tmp.persist(path).map_err(|e| BuildError::Io {
        action: "cannot write the archive".into(),
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// The number of worker threads to use: the available cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}
