//! Builders: they turn source (or prebuilt files) into one binary per platform.

pub mod binary;
pub mod cargo;
pub mod go;

use std::path::PathBuf;

use slipway_types::{Digest, Platform};

use crate::BuildError;

/// A binary built (or taken) for one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The platform.
    pub platform: Platform,
    /// The file on the build machine.
    pub path: PathBuf,
    /// Its sha256 (after UPX, when used).
    pub sha256: Digest,
    /// Its size.
    pub size: u64,
    /// The toolchain, e.g. `go1.19.8`.
    pub toolchain: Option<String>,
}

/// Values for `{version}`, `{commit}`, `{short_commit}`, `{date}` in ldflags.
#[derive(Debug, Clone, Default)]
pub struct TemplateVars {
    /// Version being built.
    pub version: String,
    /// Full commit SHA (empty when unknown).
    pub commit: String,
    /// Build date, RFC 3339 (from the reproducible epoch).
    pub date: String,
}

impl TemplateVars {
    /// Replaces the placeholders in `s`.
    pub fn apply(&self, s: &str) -> String {
        let short: String = self.commit.chars().take(12).collect();
        s.replace("{version}", &self.version)
            .replace("{commit}", &self.commit)
            .replace("{short_commit}", &short)
            .replace("{date}", &self.date)
    }
}

/// Whether `head` (the first bytes of a file) starts like an executable: ELF, PE (`MZ`) or
/// Mach-O (either byte order, 32 or 64 bit, or a universal binary).
pub fn is_executable_format(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 7] = [
        b"\x7fELF",
        b"MZ",
        &[0xfe, 0xed, 0xfa, 0xce],
        &[0xfe, 0xed, 0xfa, 0xcf],
        &[0xce, 0xfa, 0xed, 0xfe],
        &[0xcf, 0xfa, 0xed, 0xfe],
        &[0xca, 0xfe, 0xba, 0xbe],
    ];
    MAGICS.iter().any(|m| head.starts_with(m))
}

/// A compiler's output must be a program: a library archive (`!<arch>`) or anything else is
/// refused before it goes into an image.
pub(crate) fn check_executable(
    image: &str,
    platform: &Platform,
    path: &std::path::Path,
) -> Result<(), BuildError> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(crate::error::io_error("cannot read the built binary", path))?;
    if is_executable_format(&head[..n]) {
        return Ok(());
    }
    let what = if head[..n].starts_with(b"!<arch>") {
        "a library archive (ar)"
    } else {
        "not an ELF, PE or Mach-O file"
    };
    Err(BuildError::Spec {
        image: image.to_owned(),
        message: format!(
            "the build for {platform} produced `{}`, which is {what}, not an executable",
            path.display()
        ),
    })
}

/// A prebuilt file, not read yet: its `sha256` is that of the empty input until the layer
/// it goes into is written, which hashes it while streaming it and sets `sha256` and `size`
/// (see `build_image`).
pub(crate) fn unhashed(platform: &Platform, path: PathBuf) -> Result<Built, BuildError> {
    let size = std::fs::metadata(&path)
        .map_err(crate::error::io_error(
            "cannot read the prebuilt binary",
            &path,
        ))?
        .len();
    Ok(Built {
        platform: platform.clone(),
        path,
        sha256: slipway_oci::digest::sha256(b""),
        size,
        toolchain: None,
    })
}

/// Hashes a built file.
pub(crate) fn finish(
    platform: &Platform,
    path: PathBuf,
    toolchain: Option<String>,
) -> Result<Built, BuildError> {
    let f = std::fs::File::open(&path).map_err(crate::error::io_error(
        "cannot read the built binary",
        &path,
    ))?;
    // Read (and hash) in 1 MiB chunks: with 8 KiB reads the syscalls cost as much as hashing.
    let mut r =
        std::io::BufReader::with_capacity(1 << 20, slipway_oci::digest::HashingReader::new(f));
    std::io::copy(&mut r, &mut std::io::sink()).map_err(crate::error::io_error(
        "cannot read the built binary",
        &path,
    ))?;
    let (sha256, size) = r.into_inner().finish();
    Ok(Built {
        platform: platform.clone(),
        path,
        sha256,
        size,
        toolchain,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn executable_formats() {
        assert!(super::is_executable_format(b"\x7fELF\x02\x01"));
        assert!(super::is_executable_format(b"MZ\x90\x00"));
        assert!(super::is_executable_format(&[0xcf, 0xfa, 0xed, 0xfe, 7]));
        assert!(!super::is_executable_format(b"!<arch>\n"));
        assert!(!super::is_executable_format(b"#!/bin/sh"));
        assert!(!super::is_executable_format(b""));
    }
}
