//! Layouts written by slipway-oci are read by skopeo and umoci (independent implementations).

use std::process::Command;

use oci_spec::image::{
    ConfigBuilder, ImageConfigurationBuilder, ImageManifestBuilder, MediaType as SpecMediaType,
    RootFsBuilder,
};
use slipway_oci::{Layout, Manifest, convert, digest::sha256};
use slipway_test::tool;
use slipway_types::MediaType;

#[test]
fn skopeo_and_umoci_read_our_layout() {
    let dir = tempfile::tempdir().unwrap();
    // A layer made by GNU tar + gzip: this test is about the layout, not about layer writing.
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(rootfs.join("etc/hello.txt"), b"hello layout\n").unwrap();
    let tar = dir.path().join("layer.tar");
    let st = Command::new("tar")
        .args([
            "--sort=name",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-C",
        ])
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let diff_id = sha256(&std::fs::read(&tar).unwrap());
    let st = Command::new("gzip")
        .args(["-n", "-k"])
        .arg(&tar)
        .status()
        .unwrap();
    assert!(st.success());

    let layout = Layout::create(dir.path().join("oci")).unwrap();
    let (layer_digest, layer_size) = layout
        .write_blob(std::fs::File::open(dir.path().join("layer.tar.gz")).unwrap())
        .unwrap();
    let config = ImageConfigurationBuilder::default()
        .architecture("amd64")
        .os("linux")
        .config(
            ConfigBuilder::default()
                .cmd(vec!["/bin/true".to_owned()])
                .build()
                .unwrap(),
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![diff_id.to_string()])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let config_bytes = slipway_oci::json::canonical(&config).unwrap();
    let (config_digest, config_size) = layout.write_bytes(&config_bytes).unwrap();
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(SpecMediaType::ImageManifest)
        .config(convert::descriptor(
            MediaType::OCI_CONFIG,
            &config_digest,
            config_size,
        ))
        .layers(vec![convert::descriptor(
            MediaType::OCI_LAYER_GZIP,
            &layer_digest,
            layer_size,
        )])
        .build()
        .unwrap();
    let m = Manifest::from_image(&manifest).unwrap();
    layout.write_manifest(&m).unwrap();
    layout.set_ref("test", &m.descriptor()).unwrap();

    let oci = format!("oci:{}:test", layout.root().display());
    let out = Command::new(tool("skopeo"))
        .args(["inspect", "--raw", &oci])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, m.bytes, "skopeo returns our manifest bytes");
    let out = Command::new(tool("skopeo"))
        .args(["inspect", &oci])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["Digest"], m.digest.to_string());
    assert_eq!(info["Layers"][0], layer_digest.to_string());

    let bundle = dir.path().join("bundle");
    let out = Command::new(tool("umoci"))
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:test", layout.root().display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(bundle.join("rootfs/etc/hello.txt")).unwrap(),
        b"hello layout\n"
    );
}
