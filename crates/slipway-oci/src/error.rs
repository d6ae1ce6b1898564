//! Errors of the OCI layer.

use std::io;
use std::path::PathBuf;

use slipway_types::{Diagnostic, Digest, ExitClass};

/// What went wrong reading or writing OCI content.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A file operation failed.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What was being done, e.g. "cannot write blob".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The directory is not an OCI image layout.
    #[error("`{}` is not an OCI image layout: {reason}", path.display())]
    NotALayout {
        /// The directory.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// A blob is not in the layout.
    #[error("blob {digest} is missing from layout `{}`", layout.display())]
    BlobMissing {
        /// The layout.
        layout: PathBuf,
        /// The blob.
        digest: Digest,
    },
    /// Content does not match its digest (or size).
    #[error("content of {what} does not match its descriptor: expected {expected}, got {actual}")]
    Mismatch {
        /// What was read, e.g. "blob sha256:…".
        what: String,
        /// Expected digest or size.
        expected: String,
        /// What the content hashed to.
        actual: String,
    },
    /// A document is not valid JSON of the expected kind.
    #[error("{what} is not a valid {kind}")]
    BadDocument {
        /// Which document.
        what: String,
        /// What it should have been.
        kind: &'static str,
        /// The parser's message.
        #[source]
        source: serde_json::Error,
    },
    /// A reference name is not in the layout.
    #[error("layout `{}` has no image named `{name}`{}", layout.display(), list(.available))]
    RefNotFound {
        /// The layout.
        layout: PathBuf,
        /// The name asked for.
        name: String,
        /// Names that exist.
        available: Vec<String>,
    },
    /// A value from a document is not valid.
    #[error("{what}: {message}")]
    Invalid {
        /// Where.
        what: String,
        /// What is wrong.
        message: String,
    },
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        " (it holds none)".to_owned()
    } else {
        format!(" (it holds: {})", names.join(", "))
    }
}

impl Diagnostic for OciError {
    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            OciError::NotALayout { .. } => {
                Some("point at the directory slipway-build wrote (default .slipway/oci)".into())
            }
            OciError::Mismatch { .. } | OciError::BlobMissing { .. } => {
                Some("the layout is damaged or incomplete; build it again".into())
            }
            _ => None,
        }
    }
}

impl OciError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> OciError {
        let path = path.into();
        move |source| OciError::Io {
            action,
            path,
            source,
        }
    }
}
