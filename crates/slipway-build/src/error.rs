//! Build errors and their classes.

use std::io;
use std::path::PathBuf;

use slipway_oci::OciError;
use slipway_types::{Diagnostic, ExitClass, Platform};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A tool the build needs is not installed.
    #[error("`{tool}` was not found on PATH")]
    MissingToolchain {
        /// The tool.
        tool: String,
        /// How to get it.
        hint: String,
    },
    /// The builder cannot build for this platform.
    #[error("{builder} cannot build for platform `{platform}`{}", if known.is_empty() { String::new() } else { format!(" (known: {known})") })]
    UnknownPlatform {
        /// The platform asked for.
        platform: Platform,
        /// Which builder.
        builder: &'static str,
        /// What it can build for.
        known: String,
    },
    /// The Rust standard library for a target triple is not installed.
    #[error("the Rust target `{triple}` (for {platform}) is not installed")]
    MissingTarget {
        /// The platform.
        platform: Platform,
        /// Its target triple.
        triple: String,
    },
    /// A tool ran and failed (compile errors, a missing package…).
    #[error("`{command}` failed ({status}){}", if stderr.is_empty() { String::new() } else { format!(":\n{stderr}") })]
    ToolFailed {
        /// The command line.
        command: String,
        /// Exit status.
        status: String,
        /// The end of what it printed.
        stderr: String,
    },
    /// A tool could not be started.
    #[error("cannot run `{tool}`")]
    ToolStart {
        /// The tool.
        tool: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file operation failed.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: String,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The image specification is invalid.
    #[error("image `{image}`: {message}")]
    Spec {
        /// The image.
        image: String,
        /// What is wrong (names the field).
        message: String,
    },
    /// The base image cannot be used.
    #[error("base image `{base}`: {message}")]
    Base {
        /// The base as given.
        base: String,
        /// What is wrong.
        message: String,
    },
    /// The base image could not be fetched.
    #[error("cannot fetch base image `{base}`")]
    BaseFetch {
        /// The base as given.
        base: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        /// Exit class of the underlying failure.
        class: ExitClass,
    },
    /// Content of the layout.
    #[error(transparent)]
    Oci(#[from] OciError),
    /// Two builds of the same input differ.
    #[error("the build is not reproducible: {first_difference}")]
    NotReproducible {
        /// The first blob that differs, named.
        first_difference: String,
    },
}

impl Diagnostic for BuildError {
    fn exit_class(&self) -> ExitClass {
        match self {
            BuildError::NotReproducible { .. } => ExitClass::Denied,
            BuildError::BaseFetch { class, .. } => *class,
            BuildError::ToolStart { .. } => ExitClass::External,
            BuildError::Oci(e) => e.exit_class(),
            _ => ExitClass::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            BuildError::MissingToolchain { hint, .. } => Some(hint.clone()),
            BuildError::MissingTarget { triple, .. } => Some(format!(
                "install it with `rustup target add {triple}` (and a linker for it), or set `cargo.targets` for this platform"
            )),
            BuildError::UnknownPlatform { .. } => Some("platforms are `os/arch[/variant]`, e.g. linux/amd64, linux/arm64, linux/arm/v7".into()),
            BuildError::Io { .. } => Some("check that the path exists and is writable".into()),
            BuildError::NotReproducible { .. } => Some(
                "something in the input depends on time, paths or the environment; set SOURCE_DATE_EPOCH and build from a clean checkout".into(),
            ),
            BuildError::Oci(e) => e.hint(),
            _ => None,
        }
    }
}

pub(crate) fn io_error(
    action: impl Into<String>,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> BuildError {
    let (action, path) = (action.into(), path.into());
    move |source| BuildError::Io {
        action,
        path,
        source,
    }
}
