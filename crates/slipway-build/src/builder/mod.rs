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
    let mut r = slipway_oci::digest::HashingReader::new(f);
    std::io::copy(&mut r, &mut std::io::sink()).map_err(crate::error::io_error(
        "cannot read the built binary",
        &path,
    ))?;
    let (sha256, size) = r.finish();
    Ok(Built {
        platform: platform.clone(),
        path,
        sha256,
        size,
        toolchain,
    })
}
