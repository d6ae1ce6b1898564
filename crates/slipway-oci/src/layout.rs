//! The OCI image layout on disk (image-spec `image-layout.md`).
//!
//! ```text
//! LAYOUT/
//!   oci-layout          {"imageLayoutVersion":"1.0.0"}
//!   index.json          the entry points, named by org.opencontainers.image.ref.name
//!   blobs/sha256/<hex>  content
//! ```
//!
//! Blobs are streamed into a temp file in the layout while being hashed, then renamed into
//! place: a blob file, once present, always holds exactly its digest's content. `index.json` is
//! rewritten atomically under an exclusive lock (`index.json.lock`), so concurrent writers (a
//! build and a sign step, two platform builds) do not lose each other's entries.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder};
use slipway_types::{Digest, MediaType};

use crate::digest::{HashingReader, HashingWriter};
use crate::{Manifest, OciError, REF_NAME, convert, json};

const OCI_LAYOUT_FILE: &str = "oci-layout";
const OCI_LAYOUT_CONTENT: &str = "{\"imageLayoutVersion\":\"1.0.0\"}";
const INDEX_FILE: &str = "index.json";
const TEMP_PREFIX: &str = ".slipway-blob-";

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Opens the layout at `root`, creating an empty one when the directory is missing or empty.
    pub fn create(root: impl Into<PathBuf>) -> Result<Layout, OciError> {
        let root = root.into();
        let layout = Layout { root };
        let marker = layout.root.join(OCI_LAYOUT_FILE);
        if marker.exists() {
            return Layout::open(layout.root);
        }
        if layout.root.is_dir() {
            let mut entries = fs::read_dir(&layout.root)
                .map_err(OciError::io("cannot read directory", &layout.root))?;
            if entries.next().is_some() {
                return Err(OciError::NotALayout {
                    path: layout.root,
                    reason: "the directory is not empty and has no `oci-layout` file; refusing to write into it".into(),
                });
            }
        }
        fs::create_dir_all(layout.root.join("blobs/sha256"))
            .map_err(OciError::io("cannot create layout", &layout.root))?;
        let index = empty_index();
        let mut bytes = json::canonical(&index).expect("an empty index serialises");
        bytes.push(b'\n');
        slipway_fs::atomic_write(&layout.root.join(INDEX_FILE), &bytes)
            .map_err(OciError::io("cannot write", layout.root.join(INDEX_FILE)))?;
        // The marker goes last: a layout interrupted while being created is not mistaken for one.
        slipway_fs::atomic_write(&marker, OCI_LAYOUT_CONTENT.as_bytes())
            .map_err(OciError::io("cannot write", &marker))?;
        Ok(layout)
    }

    /// Opens an existing layout, checking its `oci-layout` marker and `index.json`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Layout, OciError> {
        let root = root.into();
        let not = |reason: String| OciError::NotALayout {
            path: root.clone(),
            reason,
        };
        if !root.is_dir() {
            return Err(not("no such directory".into()));
        }
        let marker = fs::read(root.join(OCI_LAYOUT_FILE))
            .map_err(|e| not(format!("cannot read `oci-layout`: {e}")))?;
        let v: serde_json::Value = serde_json::from_slice(&marker)
            .map_err(|e| not(format!("`oci-layout` is not JSON: {e}")))?;
        match v.get("imageLayoutVersion").and_then(|x| x.as_str()) {
            Some(ver) if ver.starts_with("1.") => {}
            Some(ver) => return Err(not(format!("unsupported imageLayoutVersion `{ver}`"))),
            None => return Err(not("`oci-layout` has no imageLayoutVersion".into())),
        }
        if !root.join(INDEX_FILE).is_file() {
            return Err(not("`index.json` is missing".into()));
        }
        Ok(Layout { root })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// Whether the blob is present.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile, OciError> {
        tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.root)
            .map_err(OciError::io("cannot create a temp file in", &self.root))
    }

    fn place(&self, tmp: tempfile::NamedTempFile, digest: &Digest) -> Result<(), OciError> {
        let path = self.blob_path(digest);
        if path.is_file() {
            // Same digest, same content: keep the existing file.
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(OciError::io("cannot create", dir))?;
        }
        tmp.as_file()
            .sync_all()
            .map_err(OciError::io("cannot write blob", &path))?;
        tmp.persist(&path).map_err(|e| OciError::Io {
            action: "cannot write blob",
            path,
            source: e.error,
        })?;
        Ok(())
    }

    /// Streams `reader` into a temp file in the layout, hashing it on the way.
    fn stream_to_temp(
        &self,
        reader: impl Read,
    ) -> Result<(tempfile::NamedTempFile, Digest, u64), OciError> {
        let tmp = self.temp_file()?;
        let mut w = HashingWriter::new(io::BufWriter::with_capacity(1 << 20, tmp.as_file()));
        let mut r = reader;
        io::copy(&mut r, &mut w).map_err(OciError::io("cannot write blob into", &self.root))?;
        let (buf, digest, size) = w.finish();
        buf.into_inner().map_err(|e| OciError::Io {
            action: "cannot write blob into",
            path: self.root.clone(),
            source: e.into_error(),
        })?;
        Ok((tmp, digest, size))
    }

    /// Streams `reader` into a new blob; returns its digest and size. Nothing is held in memory.
    pub fn write_blob(&self, reader: impl Read) -> Result<(Digest, u64), OciError> {
        let (tmp, digest, size) = self.stream_to_temp(reader)?;
        self.place(tmp, &digest)?;
        Ok((digest, size))
    }

    /// Writes `bytes` as a blob.
    pub fn write_bytes(&self, bytes: &[u8]) -> Result<(Digest, u64), OciError> {
        self.write_blob(bytes)
    }

    /// A writer for a new blob; call [`BlobWriter::finish`] to put it in place. Useful when the
    /// content is produced by an encoder (a compressed layer).
    pub fn blob_writer(&self) -> Result<BlobWriter, OciError> {
        let tmp = self.temp_file()?;
        let file = tmp
            .reopen()
            .map_err(OciError::io("cannot open temp file in", &self.root))?;
        Ok(BlobWriter {
            layout: self.clone(),
            tmp,
            w: HashingWriter::new(io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Streams `reader` into a blob that must hash to `expected` (and have `size`, when given);
    /// on mismatch nothing is stored. Returns the size.
    pub fn write_blob_expect(
        &self,
        reader: impl Read,
        expected: &Digest,
        size: Option<u64>,
    ) -> Result<u64, OciError> {
        let (tmp, got, n) = self.stream_to_temp(reader)?;
        if got != *expected {
            return Err(OciError::Mismatch {
                what: format!("blob {expected}"),
                expected: expected.to_string(),
                actual: got.to_string(),
            });
        }
        if let Some(s) = size
            && s != n
        {
            return Err(OciError::Mismatch {
                what: format!("blob {expected}"),
                expected: format!("{s} bytes"),
                actual: format!("{n} bytes"),
            });
        }
        self.place(tmp, &got)?;
        Ok(n)
    }

    /// Opens a blob for streaming.
    pub fn open_blob(&self, digest: &Digest) -> Result<File, OciError> {
        File::open(self.blob_path(digest)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                OciError::BlobMissing {
                    layout: self.root.clone(),
                    digest: digest.clone(),
                }
            } else {
                OciError::Io {
                    action: "cannot read blob",
                    path: self.blob_path(digest),
                    source: e,
                }
            }
        })
    }

    /// Reads a (small) blob whole and checks its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, OciError> {
        let mut bytes = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut bytes)
            .map_err(OciError::io("cannot read blob", self.blob_path(digest)))?;
        let got = crate::digest::sha256(&bytes);
        if got != *digest {
            return Err(OciError::Mismatch {
                what: format!("blob {digest} in `{}`", self.root.display()),
                expected: digest.to_string(),
                actual: got.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Re-hashes a blob (streaming) and checks digest and size; returns the size.
    pub fn verify_blob(&self, digest: &Digest, size: Option<u64>) -> Result<u64, OciError> {
        let mut r = HashingReader::new(self.open_blob(digest)?);
        io::copy(&mut r, &mut io::sink())
            .map_err(OciError::io("cannot read blob", self.blob_path(digest)))?;
        let (got, n) = r.finish();
        if got != *digest || size.is_some_and(|s| s != n) {
            return Err(OciError::Mismatch {
                what: format!("blob {digest} in `{}`", self.root.display()),
                expected: format!(
                    "{digest} ({} bytes)",
                    size.map_or("?".into(), |s| s.to_string())
                ),
                actual: format!("{got} ({n} bytes)"),
            });
        }
        Ok(n)
    }

    /// Reads and parses the manifest or index a descriptor points at.
    pub fn read_manifest(&self, desc: &Descriptor) -> Result<Manifest, OciError> {
        let digest = convert::descriptor_digest(desc)?;
        let bytes = self.read_blob(&digest)?;
        if bytes.len() as u64 != desc.size() {
            return Err(OciError::Mismatch {
                what: format!("manifest {digest}"),
                expected: format!("{} bytes", desc.size()),
                actual: format!("{} bytes", bytes.len()),
            });
        }
        let declared = convert::media_type(desc.media_type());
        Manifest::parse(bytes, Some(&declared), &format!("manifest {digest}"))
    }

    /// Stores a manifest's bytes as a blob.
    pub fn write_manifest(&self, m: &Manifest) -> Result<(), OciError> {
        self.write_blob_expect(&m.bytes[..], &m.digest, Some(m.bytes.len() as u64))
            .map(|_| ())
    }

    /// The parsed `index.json`.
    pub fn index(&self) -> Result<ImageIndex, OciError> {
        let path = self.root.join(INDEX_FILE);
        let bytes = fs::read(&path).map_err(OciError::io("cannot read", &path))?;
        serde_json::from_slice(&bytes).map_err(|source| OciError::BadDocument {
            what: path.display().to_string(),
            kind: "image index",
            source,
        })
    }

    /// Named entries of `index.json`, in file order.
    pub fn refs(&self) -> Result<Vec<(String, Descriptor)>, OciError> {
        Ok(self
            .index()?
            .manifests()
            .iter()
            .filter_map(|d| convert::annotation(d, REF_NAME).map(|n| (n.to_owned(), d.clone())))
            .collect())
    }

    /// The descriptor named `name`.
    pub fn resolve(&self, name: &str) -> Result<Descriptor, OciError> {
        let refs = self.refs()?;
        if let Some((_, d)) = refs.iter().find(|(n, _)| n == name) {
            return Ok(d.clone());
        }
        Err(OciError::RefNotFound {
            layout: self.root.clone(),
            name: name.to_owned(),
            available: refs.into_iter().map(|(n, _)| n).collect(),
        })
    }

    /// Points `name` at `desc` in `index.json` (replacing an entry of the same name). The
    /// descriptor's content must already be in the layout.
    pub fn set_ref(&self, name: &str, desc: &Descriptor) -> Result<(), OciError> {
        let digest = convert::descriptor_digest(desc)?;
        if !self.has_blob(&digest) {
            return Err(OciError::BlobMissing {
                layout: self.root.clone(),
                digest,
            });
        }
        let mut entry = desc.clone();
        convert::annotate(&mut entry, REF_NAME, name);
        self.update_index(|manifests| {
            manifests.retain(|d| convert::annotation(d, REF_NAME) != Some(name));
            manifests.push(entry);
        })
    }

    /// Points several names at descriptors in one `index.json` update (see [`Layout::set_ref`]).
    pub fn set_refs(&self, refs: &[(String, Descriptor)]) -> Result<(), OciError> {
        let mut entries = Vec::new();
        for (name, desc) in refs {
            let digest = convert::descriptor_digest(desc)?;
            if !self.has_blob(&digest) {
                return Err(OciError::BlobMissing {
                    layout: self.root.clone(),
                    digest,
                });
            }
            let mut entry = desc.clone();
            convert::annotate(&mut entry, REF_NAME, name);
            entries.push((name.clone(), entry));
        }
        self.update_index(|manifests| {
            manifests.retain(|d| {
                !entries
                    .iter()
                    .any(|(n, _)| convert::annotation(d, REF_NAME) == Some(n.as_str()))
            });
            manifests.extend(entries.into_iter().map(|(_, e)| e));
        })
    }

    /// Removes the entry named `name`, if any.
    pub fn remove_ref(&self, name: &str) -> Result<(), OciError> {
        self.update_index(|manifests| {
            manifests.retain(|d| convert::annotation(d, REF_NAME) != Some(name))
        })
    }

    /// Changes the entries of `index.json` under the lock; they are stored sorted by name then
    /// digest, so the file does not depend on the order steps ran in.
    pub fn update_index(&self, f: impl FnOnce(&mut Vec<Descriptor>)) -> Result<(), OciError> {
        let path = self.root.join(INDEX_FILE);
        let lock_path = self.root.join("index.json.lock");
        let _lock = slipway_fs::Lock::exclusive(&lock_path)
            .map_err(OciError::io("cannot lock", &lock_path))?;
        slipway_fs::remove_stale_temps(&path);
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        f(&mut manifests);
        manifests.sort_by(|a, b| {
            let key = |d: &Descriptor| {
                (
                    convert::annotation(d, REF_NAME).unwrap_or("").to_owned(),
                    d.digest().to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        index.set_manifests(manifests);
        let mut bytes = json::canonical(&index).map_err(|source| OciError::BadDocument {
            what: path.display().to_string(),
            kind: "image index",
            source,
        })?;
        bytes.push(b'\n');
        slipway_fs::atomic_write(&path, &bytes).map_err(OciError::io("cannot write", &path))
    }

    /// Every blob reachable from `desc` (the manifest itself, configs, layers, child manifests),
    /// each once, parents before children.
    pub fn walk(&self, desc: &Descriptor) -> Result<Vec<Descriptor>, OciError> {
        let mut out: Vec<Descriptor> = Vec::new();
        let mut stack = vec![desc.clone()];
        while let Some(d) = stack.pop() {
            if out.iter().any(|o| o.digest() == d.digest()) {
                continue;
            }
            let media = convert::media_type(d.media_type());
            let is_manifest = media.is_index() || media.is_manifest();
            out.push(d.clone());
            if is_manifest {
                let m = self.read_manifest(&d)?;
                stack.extend(m.children().into_iter().rev());
            }
        }
        Ok(out)
    }

    /// Media type helper for callers building descriptors.
    pub fn media(m: &str) -> MediaType {
        m.parse().expect("a media type constant")
    }
}

/// A blob being written; see [`Layout::blob_writer`].
#[derive(Debug)]
pub struct BlobWriter {
    layout: Layout,
    tmp: tempfile::NamedTempFile,
    w: HashingWriter<io::BufWriter<File>>,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl BlobWriter {
    /// Puts the blob in place; returns its digest and size.
    pub fn finish(self) -> Result<(Digest, u64), OciError> {
        let (buf, digest, size) = self.w.finish();
        let file = buf.into_inner().map_err(|e| OciError::Io {
            action: "cannot write blob into",
            path: self.layout.root.clone(),
            source: e.into_error(),
        })?;
        drop(file);
        self.layout.place(self.tmp, &digest)?;
        Ok((digest, size))
    }
}

fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(oci_spec::image::MediaType::ImageIndex)
        .manifests(Vec::<Descriptor>::new())
        .build()
        .expect("an empty index is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256;

    #[test]
    fn create_write_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("oci");
        let l = Layout::create(&root).unwrap();
        assert_eq!(
            fs::read_to_string(root.join("oci-layout")).unwrap(),
            OCI_LAYOUT_CONTENT
        );
        let (d, n) = l.write_bytes(b"{}").unwrap();
        assert_eq!((d.clone(), n), (sha256(b"{}"), 2));
        assert_eq!(l.read_blob(&d).unwrap(), b"{}");
        // Writing the same content again is a no-op.
        l.write_bytes(b"{}").unwrap();
        let desc = convert::descriptor(MediaType::OCI_CONFIG, &d, 2);
        l.set_ref("b", &desc).unwrap();
        l.set_ref("a", &desc).unwrap();
        l.set_ref("b", &desc).unwrap();
        let names: Vec<String> = l.refs().unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
        let e = l.resolve("zzz").unwrap_err();
        assert!(e.to_string().contains("(it holds: a, b)"), "{e}");
        // Nothing but the layout files and the lock is left at the root.
        let mut entries: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        entries.sort();
        assert_eq!(
            entries,
            ["blobs", "index.json", "index.json.lock", "oci-layout"]
        );
        // Re-opening works; a non-layout directory is refused.
        Layout::open(&root).unwrap();
        assert!(matches!(
            Layout::open(dir.path()),
            Err(OciError::NotALayout { .. })
        ));
        fs::write(dir.path().join("stray"), b"x").unwrap();
        assert!(matches!(
            Layout::create(dir.path()),
            Err(OciError::NotALayout { .. })
        ));
    }

    #[test]
    fn expected_digest_is_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path().join("oci")).unwrap();
        let wrong = sha256(b"other");
        let e = l.write_blob_expect(&b"data"[..], &wrong, None).unwrap_err();
        assert!(matches!(e, OciError::Mismatch { .. }));
        assert!(!l.has_blob(&wrong) && !l.has_blob(&sha256(b"data")));
        let right = sha256(b"data");
        assert!(
            l.write_blob_expect(&b"data"[..], &right, Some(5)).is_err(),
            "size is checked"
        );
        assert_eq!(
            l.write_blob_expect(&b"data"[..], &right, Some(4)).unwrap(),
            4
        );
        // A blob damaged on disk is detected on read.
        fs::write(l.blob_path(&right), b"DATA").unwrap();
        assert!(matches!(
            l.read_blob(&right),
            Err(OciError::Mismatch { .. })
        ));
        assert!(matches!(
            l.verify_blob(&right, None),
            Err(OciError::Mismatch { .. })
        ));
    }

    #[test]
    fn blob_writer_streams() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::create(dir.path().join("oci")).unwrap();
        let mut w = l.blob_writer().unwrap();
        for _ in 0..1000 {
            w.write_all(&[7u8; 1024]).unwrap();
        }
        let (d, n) = w.finish().unwrap();
        assert_eq!(n, 1024 * 1000);
        assert_eq!(d, sha256(&vec![7u8; 1024 * 1000]));
        assert_eq!(l.verify_blob(&d, Some(n)).unwrap(), n);
    }
}
