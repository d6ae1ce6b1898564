//! Reads an image manifest's layers from an OCI layout — streamed, one entry at a time — into the
//! final filesystem's files (sha256, sha1, size) and what its binaries and package databases
//! say.
//!
//! Layers apply in order with the OCI whiteout rules: `.wh.NAME` removes `NAME` from the layers
//! below, `.wh..wh..opq` empties its directory of what the layers below put there. Files are
//! hashed as they stream; only executables (ELF, PE, Mach-O magic) and package databases are
//! held in memory, one at a time, for analysis.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};

use sha1::Digest as _;
use slipway_oci::Layout;
use slipway_types::Digest;

use crate::SbomError;
use crate::golang::{self, BuildInfo};
use crate::os::{self, OsPackage, OsRelease};
use crate::rust::{self, Crate};

/// Largest executable analysed (bigger ones are hashed, not parsed).
const MAX_ANALYSED: u64 = 1 << 30;

/// A regular file of the final filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Absolute path in the image.
    pub path: String,
    /// sha256, hex.
    pub sha256: String,
    /// sha1, hex (SPDX requires it for files).
    pub sha1: String,
    /// Size in bytes.
    pub size: u64,
    /// Unix mode bits.
    pub mode: u32,
}

/// What the image holds.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Regular files by path.
    pub files: BTreeMap<String, FileEntry>,
    /// Go build information by executable path.
    pub go: BTreeMap<String, BuildInfo>,
    /// cargo-auditable crate lists by executable path.
    pub rust: BTreeMap<String, Vec<Crate>>,
    /// OS packages by database path (`var/lib/dpkg/status`, `lib/apk/db/installed`, ...).
    pub os_packages: BTreeMap<String, (String, Vec<OsPackage>)>,
    /// os-release, when present.
    pub os_release: Option<OsRelease>,
    /// Licenses of Debian packages from their DEP-5 copyright files, by the file's path
    /// (`usr/share/doc/PACKAGE/copyright`).
    pub copyrights: BTreeMap<String, Vec<String>>,
    /// Diagnostics (an executable whose build info did not parse).
    pub warnings: Vec<String>,
}

/// The manifest's config: what the SBOM says about the image itself.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    /// `os/arch[/variant]`.
    pub platform: Option<String>,
    /// `created`, RFC 3339.
    pub created: Option<String>,
}

#[derive(Debug, Default)]
struct Layer {
    files: BTreeMap<String, FileEntry>,
    go: BTreeMap<String, BuildInfo>,
    rust: BTreeMap<String, Vec<Crate>>,
    os_packages: BTreeMap<String, (String, Vec<OsPackage>)>,
    os_release: BTreeMap<String, OsRelease>,
    copyrights: BTreeMap<String, Vec<String>>,
    whiteouts: BTreeSet<String>,
    opaque: BTreeSet<String>,
    hardlinks: Vec<(String, String, u32)>,
    warnings: Vec<String>,
}

fn normalise(p: &str) -> String {
    let p = p.trim_start_matches("./").trim_start_matches('/');
    p.trim_end_matches('/').to_owned()
}

/// `usr/share/doc/PACKAGE/copyright`.
fn is_copyright(path: &str) -> bool {
    path.strip_prefix("usr/share/doc/")
        .and_then(|r| r.strip_suffix("/copyright"))
        .is_some_and(|pkg| !pkg.is_empty() && !pkg.contains('/'))
}

/// Largest copyright file read for its licenses.
const MAX_COPYRIGHT: u64 = 4 << 20;

fn is_database(path: &str) -> bool {
    path == "var/lib/dpkg/status"
        || path.starts_with("var/lib/dpkg/status.d/")
        || path == "lib/apk/db/installed"
        || path == "etc/os-release"
        || path == "usr/lib/os-release"
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the manifest `manifest` of `layout`: its config and every layer.
pub fn read(layout: &Layout, manifest: &Digest) -> Result<(ImageConfig, Contents), SbomError> {
    let bytes = layout
        .read_blob(manifest)
        .map_err(|e| SbomError::Image(format!("manifest {manifest}: {e}")))?;
    let m: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| SbomError::Image(format!("manifest {manifest}: {e}")))?;
    if m.get("manifests").is_some() {
        return Err(SbomError::Image(format!(
            "{manifest} is an index; SBOMs are made per platform manifest"
        )));
    }
    let mut config = ImageConfig::default();
    if let Some(d) = m["config"]["digest"].as_str() {
        let d: Digest = d
            .parse()
            .map_err(|e| SbomError::Image(format!("config digest: {e}")))?;
        let c: serde_json::Value = serde_json::from_slice(
            &layout
                .read_blob(&d)
                .map_err(|e| SbomError::Image(format!("config {d}: {e}")))?,
        )
        .map_err(|e| SbomError::Image(format!("config {d}: {e}")))?;
        if let (Some(os), Some(arch)) = (c["os"].as_str(), c["architecture"].as_str()) {
            config.platform = Some(match c["variant"].as_str() {
                Some(v) => format!("{os}/{arch}/{v}"),
                None => format!("{os}/{arch}"),
            });
        }
        config.created = c["created"].as_str().map(str::to_owned);
    }
    let mut contents = Contents::default();
    for l in m["layers"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let digest: Digest = l["digest"]
            .as_str()
            .unwrap_or_default()
            .parse()
            .map_err(|e| SbomError::Image(format!("layer digest: {e}")))?;
        let media = l["mediaType"].as_str().unwrap_or_default();
        let file = layout
            .open_blob(&digest)
            .map_err(|e| SbomError::Image(format!("layer {digest}: {e}")))?;
        let reader = BufReader::with_capacity(256 * 1024, file);
        let layer = if media.ends_with("+zstd") || media.ends_with(".zstd") {
            let d = zstd::stream::read::Decoder::with_buffer(reader)
                .map_err(|e| SbomError::Image(format!("layer {digest}: {e}")))?;
            read_layer(d, &digest)?
        } else if media.ends_with("+gzip") || media.ends_with(".gzip") {
            read_layer(flate2::bufread::MultiGzDecoder::new(reader), &digest)?
        } else if media.ends_with(".tar") || media.ends_with("layer.v1.tar") {
            read_layer(reader, &digest)?
        } else {
            return Err(SbomError::Image(format!(
                "layer {digest}: media type `{media}` is not a tar layer"
            )));
        };
        apply(&mut contents, layer);
    }
    Ok((config, contents))
}

fn under(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

fn apply(c: &mut Contents, mut l: Layer) {
    let removed = |p: &str| {
        l.whiteouts.iter().any(|w| under(p, w)) || l.opaque.iter().any(|d| p != d && under(p, d))
    };
    c.files.retain(|p, _| !removed(p));
    c.go.retain(|p, _| !removed(p));
    c.rust.retain(|p, _| !removed(p));
    c.os_packages.retain(|p, _| !removed(p));
    c.copyrights.retain(|p, _| !removed(p));
    // Hard links take the content of their target, in this layer or below.
    for (path, target, mode) in std::mem::take(&mut l.hardlinks) {
        let src = l
            .files
            .get(&target)
            .or_else(|| c.files.get(&target))
            .cloned();
        if let Some(mut f) = src {
            f.path = format!("/{path}");
            f.mode = mode;
            l.files.insert(path.clone(), f);
            if let Some(g) = l.go.get(&target).or_else(|| c.go.get(&target)).cloned() {
                l.go.insert(path.clone(), g);
            }
            if let Some(r) = l.rust.get(&target).or_else(|| c.rust.get(&target)).cloned() {
                l.rust.insert(path, r);
            }
        }
    }
    c.files.extend(l.files);
    c.go.extend(l.go);
    c.rust.extend(l.rust);
    c.os_packages.extend(l.os_packages);
    c.copyrights.extend(l.copyrights);
    c.warnings.extend(l.warnings);
    // /etc/os-release wins over /usr/lib/os-release.
    if let Some(r) = l
        .os_release
        .remove("etc/os-release")
        .or_else(|| l.os_release.remove("usr/lib/os-release"))
    {
        c.os_release = Some(r);
    }
}

fn read_layer(r: impl Read, digest: &Digest) -> Result<Layer, SbomError> {
    let bad = |e: std::io::Error| SbomError::Image(format!("layer {digest}: {e}"));
    let mut archive = tar::Archive::new(r);
    let mut layer = Layer::default();
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let path = normalise(&raw);
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_owned(), b.to_owned()),
            None => (String::new(), path.clone()),
        };
        if base == ".wh..wh..opq" {
            layer.opaque.insert(dir);
            continue;
        }
        if let Some(name) = base.strip_prefix(".wh.") {
            layer.whiteouts.insert(if dir.is_empty() {
                name.to_owned()
            } else {
                format!("{dir}/{name}")
            });
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => {}
            tar::EntryType::Link => {
                if let Some(t) = entry.link_name().map_err(bad)? {
                    layer
                        .hardlinks
                        .push((path, normalise(&t.to_string_lossy()), mode));
                }
                continue;
            }
            _ => continue,
        }
        let size = entry.size();
        let mut sha256 = sha2::Sha256::new();
        let mut sha1 = sha1::Sha1::new();
        let mut head = [0u8; 8];
        let mut got = 0;
        while got < head.len() {
            let n = entry.read(&mut head[got..]).map_err(bad)?;
            if n == 0 {
                break;
            }
            got += n;
        }
        let head = &head[..got];
        sha256.update(head);
        sha1.update(head);
        let keep = (golang::is_executable_magic(head) && size <= MAX_ANALYSED)
            || is_database(&path)
            || (is_copyright(&path) && size <= MAX_COPYRIGHT);
        let mut kept = Vec::new();
        if keep {
            kept.reserve(usize::try_from(size).unwrap_or(0));
            kept.extend_from_slice(head);
        }
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = entry.read(&mut buf).map_err(bad)?;
            if n == 0 {
                break;
            }
            sha256.update(&buf[..n]);
            sha1.update(&buf[..n]);
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        if keep {
            analyse(&mut layer, &path, &kept);
        }
        layer.files.insert(
            path.clone(),
            FileEntry {
                path: format!("/{path}"),
                sha256: hex(&sha256.finalize()),
                sha1: hex(&sha1.finalize()),
                size,
                mode,
            },
        );
    }
    Ok(layer)
}

fn analyse(layer: &mut Layer, path: &str, data: &[u8]) {
    if is_copyright(path) {
        if let Some(l) = os::dep5_licenses(&String::from_utf8_lossy(data)) {
            layer.copyrights.insert(path.to_owned(), l);
        }
        return;
    }
    if is_database(path) {
        let text = String::from_utf8_lossy(data);
        if path.starts_with("var/lib/dpkg/") {
            layer
                .os_packages
                .insert(path.to_owned(), ("deb".into(), os::dpkg(&text)));
        } else if path == "lib/apk/db/installed" {
            layer
                .os_packages
                .insert(path.to_owned(), ("apk".into(), os::apk(&text)));
        } else {
            layer
                .os_release
                .insert(path.to_owned(), OsRelease::parse(&text));
        }
        return;
    }
    match golang::read(data) {
        Ok(Some(info)) => {
            layer.go.insert(path.to_owned(), info);
        }
        Ok(None) => {}
        // Not fatal: the file is still listed with its hashes.
        Err(e) => layer.warnings.push(format!("/{path}: {e}")),
    }
    match rust::read(data) {
        Ok(Some(crates)) => {
            layer.rust.insert(path.to_owned(), crates);
        }
        Ok(None) => {}
        Err(e) => layer.warnings.push(format!("/{path}: {e}")),
    }
}
