//! Rust dependency lists embedded by `cargo auditable` (the `.dep-v0` section: zlib-compressed
//! JSON), read with the `auditable-info` crate from the cargo-auditable project.

/// A crate as the binary records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crate {
    /// Crate name.
    pub name: String,
    /// Version.
    pub version: String,
    /// `crates.io`, `git`, `local`, `registry` or another source.
    pub source: String,
    /// Whether it is only a build-time dependency (build scripts, proc macros).
    pub build_only: bool,
    /// Whether it is the root package (the binary's own crate).
    pub root: bool,
    /// Indexes (into the same list) of its dependencies.
    pub dependencies: Vec<usize>,
}

/// Why audit data could not be read. No audit data at all is `Ok(None)`.
#[derive(Debug, thiserror::Error)]
#[error("cargo-auditable data: {0}")]
pub struct RustError(String);

/// Largest decompressed dependency list accepted.
const JSON_LIMIT: usize = 32 << 20;

/// Reads the embedded dependency list of `data` (a whole executable).
pub fn read(data: &[u8]) -> Result<Option<Vec<Crate>>, RustError> {
    use auditable_info::Error;
    match auditable_info::audit_info_from_slice(data, JSON_LIMIT) {
        Ok(info) => Ok(Some(
            info.packages
                .into_iter()
                .map(|p| Crate {
                    name: p.name,
                    version: p.version.to_string(),
                    source: match p.source {
                        auditable_serde::Source::CratesIo => "crates.io".into(),
                        auditable_serde::Source::Git => "git".into(),
                        auditable_serde::Source::Local => "local".into(),
                        auditable_serde::Source::Registry => "registry".into(),
                        auditable_serde::Source::Other(s) => s,
                        _ => "other".into(),
                    },
                    build_only: matches!(p.kind, auditable_serde::DependencyKind::Build),
                    root: p.root,
                    dependencies: p.dependencies,
                })
                .collect(),
        )),
        // Not an object file, or one without the section: not a cargo-auditable binary.
        Err(Error::NoAuditData | Error::BinaryParsing(_)) => Ok(None),
        Err(e) => Err(RustError(e.to_string())),
    }
}
