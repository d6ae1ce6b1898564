//! Small real images written with `slipway-oci`, for tests, examples and benchmarks of signing
//! (the image builder is another crate; signing only needs manifests that exist).
//!
//! Each platform gets a one-file gzip layer made by GNU tar + gzip, an OCI config and a
//! manifest; several platforms get an index. skopeo and umoci read what this writes.

use std::path::Path;
use std::process::Command;

use oci_spec::image::{
    ConfigBuilder, ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder,
    MediaType as SpecMediaType, RootFsBuilder,
};
use slipway_oci::{Layout, Manifest, convert};
use slipway_types::{Digest, MediaType, Platform};

/// A written image.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// The index (multi-platform) or the manifest (one platform): what gets signed.
    pub digest: Digest,
    /// Its manifest.
    pub manifest: Manifest,
    /// Platform manifests with their platforms.
    pub platforms: Vec<(Platform, Manifest)>,
}

/// Writes an image named `name` into `layout` with one manifest per platform (an index over
/// them when there are several). `salt` makes distinct images.
pub fn write(
    layout: &Layout,
    name: &str,
    platforms: &[&str],
    salt: &str,
) -> std::io::Result<TestImage> {
    let work = tempfile::tempdir_in(layout.root())?;
    let mut out = Vec::new();
    for p in platforms {
        let platform: Platform = p
            .parse()
            .map_err(|e| std::io::Error::other(format!("{p}: {e}")))?;
        let rootfs = work.path().join(format!("rootfs-{}", out.len()));
        std::fs::create_dir_all(rootfs.join("etc"))?;
        std::fs::write(rootfs.join("etc/hello.txt"), format!("{name} {p} {salt}\n"))?;
        let tar = work.path().join(format!("layer-{}.tar", out.len()));
        run(Command::new("tar")
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--mtime=@0",
                "-C",
            ])
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."))?;
        let diff_id = slipway_oci::digest::sha256(&std::fs::read(&tar)?);
        run(Command::new("gzip").args(["-n", "-k"]).arg(&tar))?;
        let gz = std::fs::File::open(tar.with_extension("tar.gz"))?;
        let (layer, layer_size) = layout.write_blob(gz).map_err(std::io::Error::other)?;
        let config = ImageConfigurationBuilder::default()
            .architecture(platform.architecture())
            .os(platform.os())
            .config(
                ConfigBuilder::default()
                    .cmd(vec!["/bin/true".to_owned()])
                    .build()
                    .map_err(std::io::Error::other)?,
            )
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(vec![diff_id.to_string()])
                    .build()
                    .map_err(std::io::Error::other)?,
            )
            .build()
            .map_err(std::io::Error::other)?;
        let mut config = serde_json::to_value(&config).map_err(std::io::Error::other)?;
        if let Some(v) = platform.variant() {
            config["variant"] = v.into();
        }
        let bytes = slipway_oci::json::canonical(&config).map_err(std::io::Error::other)?;
        let (cfg, cfg_size) = layout.write_bytes(&bytes).map_err(std::io::Error::other)?;
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(SpecMediaType::ImageManifest)
            .config(convert::descriptor(MediaType::OCI_CONFIG, &cfg, cfg_size))
            .layers(vec![convert::descriptor(
                MediaType::OCI_LAYER_GZIP,
                &layer,
                layer_size,
            )])
            .build()
            .map_err(std::io::Error::other)?;
        let m = Manifest::from_image(&manifest).map_err(std::io::Error::other)?;
        layout.write_manifest(&m).map_err(std::io::Error::other)?;
        out.push((platform, m));
    }
    let top = if out.len() == 1 {
        out[0].1.clone()
    } else {
        let descs = out
            .iter()
            .map(|(p, m)| {
                let mut d = m.descriptor();
                d.set_platform(Some(convert::to_spec_platform(p)));
                d
            })
            .collect::<Vec<_>>();
        let index = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(SpecMediaType::ImageIndex)
            .manifests(descs)
            .build()
            .map_err(std::io::Error::other)?;
        let m = Manifest::from_index(&index).map_err(std::io::Error::other)?;
        layout.write_manifest(&m).map_err(std::io::Error::other)?;
        m
    };
    layout
        .set_ref(name, &top.descriptor())
        .map_err(std::io::Error::other)?;
    Ok(TestImage {
        digest: top.digest.clone(),
        manifest: top,
        platforms: out,
    })
}

fn run(cmd: &mut Command) -> std::io::Result<()> {
    let st = cmd.status()?;
    if st.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{cmd:?} failed: {st}")))
    }
}

/// Writes a layout at `dir` with one image `name` over `platforms`.
pub fn layout_with_image(
    dir: &Path,
    name: &str,
    platforms: &[&str],
) -> std::io::Result<(Layout, TestImage)> {
    let layout = Layout::create(dir).map_err(std::io::Error::other)?;
    let img = write(&layout, name, platforms, "")?;
    Ok((layout, img))
}
