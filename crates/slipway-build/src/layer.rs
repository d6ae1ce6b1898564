//! Deterministic layers.
//!
//! Entries are sorted by path; every header field is set explicitly (mode, uid/gid, mtime, empty
//! user/group names); no extended attributes, devices or host metadata leak in. Parent
//! directories are added (root-owned, 0755) unless given. The tar stream is hashed (diff_id),
//! compressed and written into the layout in one pass: nothing is held whole in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::PathBuf;

use slipway_oci::Layout;
use slipway_oci::digest::HashingWriter;
use slipway_types::{Digest, Progress};

use crate::BuildError;
use crate::compress::Compression;

/// What an entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file copied from the build machine.
    File(PathBuf),
    /// A regular file with this content.
    Bytes(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
}

/// One entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Normalised path inside the image, without the leading `/` (`usr/local/bin/app`).
    pub path: String,
    /// Content.
    pub kind: EntryKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
}

/// Normalises an absolute image path; refuses `..`, empty and relative paths.
pub fn image_path(raw: &str) -> Result<String, String> {
    if !raw.starts_with('/') {
        return Err(format!("`{raw}` is not an absolute path in the image"));
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "`{raw}` escapes the image root (`..` is not allowed)"
                ));
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(format!("`{raw}` names the image root, not a file"));
    }
    Ok(parts.join("/"))
}

/// The entries of a layer, keyed by path (later additions replace earlier ones).
#[derive(Debug, Clone, Default)]
pub struct LayerSpec {
    entries: BTreeMap<String, Entry>,
}

impl LayerSpec {
    /// An empty layer.
    pub fn new() -> Self {
        LayerSpec::default()
    }

    /// Adds an entry; its parent directories are added when missing.
    pub fn add(&mut self, entry: Entry) {
        let mut parent = String::new();
        let comps: Vec<&str> = entry.path.split('/').collect();
        for c in &comps[..comps.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(c);
            self.entries.entry(parent.clone()).or_insert(Entry {
                path: parent.clone(),
                kind: EntryKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
            });
        }
        self.entries.insert(entry.path.clone(), entry);
    }

    /// Whether the layer has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in the order they are written.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }
}

/// A layer written into a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// Digest of the compressed blob.
    pub digest: Digest,
    /// Size of the compressed blob.
    pub size: u64,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// Media type.
    pub media_type: &'static str,
    /// The sha256 and size of each file copied from the build machine (image path, as
    /// written into the layer: hashed while it streamed, not read a second time).
    pub files: Vec<(String, Digest, u64)>,
}

/// Writes `spec` as a compressed tar layer into `layout`; `mtime` is every entry's time.
pub fn write_layer(
    layout: &Layout,
    spec: &LayerSpec,
    mtime: u64,
    compression: Compression,
    threads: usize,
    progress: &dyn Progress,
    task: &str,
) -> Result<LayerBlob, BuildError> {
    let io_err = |what: &str| {
        let what = what.to_owned();
        move |e: io::Error| BuildError::Io {
            action: what,
            path: layout.root().to_path_buf(),
            source: e,
        }
    };
    let total: u64 = spec
        .entries()
        .map(|e| match &e.kind {
            EntryKind::File(p) => p.metadata().map(|m| m.len()).unwrap_or(0),
            EntryKind::Bytes(b) => b.len() as u64,
            _ => 0,
        })
        .sum();
    progress.begin(task, Some(total));
    let blob = layout.blob_writer()?;
    let encoder = compression
        .encoder(blob, threads)
        .map_err(io_err("cannot start the compressor for a layer in"))?;
    let hashing = HashingWriter::new(encoder);
    let mut tar = tar::Builder::new(hashing);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut files = Vec::new();
    for e in spec.entries() {
        let mut h = tar::Header::new_gnu();
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(mtime);
        h.set_username("")
            .map_err(io_err("cannot write a tar header for"))?;
        h.set_groupname("")
            .map_err(io_err("cannot write a tar header for"))?;
        match &e.kind {
            EntryKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, format!("{}/", e.path), io::empty())
                    .map_err(io_err("cannot write a layer into"))?;
            }
            EntryKind::File(src) => {
                let f = File::open(src).map_err(|source| BuildError::Io {
                    action: "cannot read a file for the image".into(),
                    path: src.clone(),
                    source,
                })?;
                let len = f
                    .metadata()
                    .map_err(io_err("cannot stat a file for"))?
                    .len();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(len);
                let mut reader = ProgressReader {
                    inner: slipway_oci::digest::HashingReader::new(f),
                    progress,
                    task,
                };
                tar.append_data(&mut h, &e.path, &mut reader)
                    .map_err(|source| BuildError::Io {
                        action: "cannot add a file to a layer".into(),
                        path: src.clone(),
                        source,
                    })?;
                let (digest, read) = reader.inner.finish();
                files.push((e.path.clone(), digest, read));
            }
            EntryKind::Bytes(b) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(b.len() as u64);
                progress.advance(task, b.len() as u64);
                tar.append_data(&mut h, &e.path, &b[..])
                    .map_err(io_err("cannot write a layer into"))?;
            }
            EntryKind::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                tar.append_link(&mut h, &e.path, target)
                    .map_err(io_err("cannot write a layer into"))?;
            }
        }
    }
    let hashing = tar
        .into_inner()
        .map_err(io_err("cannot finish a layer in"))?;
    let (encoder, diff_id, _) = hashing.finish();
    let blob = encoder
        .finish()
        .map_err(io_err("cannot finish compressing a layer in"))?;
    let (digest, size) = blob.finish()?;
    progress.end(task, &format!("layer {} ({size} bytes)", digest.short()));
    Ok(LayerBlob {
        digest,
        size,
        diff_id,
        media_type: compression.media_type(),
        files,
    })
}

struct ProgressReader<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
    task: &'a str,
}

impl<R: io::Read> io::Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(self.task, n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_types::NoProgress;

    #[test]
    fn paths() {
        assert_eq!(
            image_path("/usr//local/./bin/app").unwrap(),
            "usr/local/bin/app"
        );
        assert!(image_path("usr/app").is_err());
        assert!(
            image_path("/../etc/passwd")
                .unwrap_err()
                .contains("escapes")
        );
        assert!(image_path("/a/../../b").is_err());
        assert!(image_path("/").is_err());
    }

    #[test]
    fn parents_sorted_and_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path().join("oci")).unwrap();
        let mut spec = LayerSpec::new();
        let file = |p: &str, b: &[u8]| Entry {
            path: p.into(),
            kind: EntryKind::Bytes(b.to_vec()),
            mode: 0o755,
            uid: 65532,
            gid: 65532,
        };
        spec.add(file("usr/local/bin/b", b"b"));
        spec.add(file("etc/a", b"a"));
        let paths: Vec<&str> = spec.entries().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "etc",
                "etc/a",
                "usr",
                "usr/local",
                "usr/local/bin",
                "usr/local/bin/b"
            ]
        );
        let a = write_layer(
            &layout,
            &spec,
            0,
            Compression::default(),
            2,
            &NoProgress,
            "t",
        )
        .unwrap();
        let b = write_layer(
            &layout,
            &spec,
            0,
            Compression::default(),
            1,
            &NoProgress,
            "t",
        )
        .unwrap();
        assert_eq!(a, b, "same entries, same bytes, whatever the thread count");
        let c = write_layer(
            &layout,
            &spec,
            1,
            Compression::default(),
            2,
            &NoProgress,
            "t",
        )
        .unwrap();
        assert_ne!(a.diff_id, c.diff_id, "mtime is part of the content");
        // GNU tar lists the entries with the owners and modes we set.
        let out = std::process::Command::new("tar")
            .args(["-tvzf"])
            .arg(layout.blob_path(&a.digest))
            .arg("--numeric-owner")
            .output()
            .unwrap();
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(
            listing.contains("-rwxr-xr-x 65532/65532       1 1970-01-01 00:00 usr/local/bin/b"),
            "{listing}"
        );
        assert!(
            listing.contains("drwxr-xr-x 0/0               0 1970-01-01 00:00 usr/local/"),
            "{listing}"
        );
    }
}
