//! Errors of signing and verification.
//!
//! A signature that does not verify is not an error here: verification returns an outcome and
//! the caller decides (exit 1). Errors are for input that cannot be used (exit 2) and services
//! that failed (exit 3).

use std::path::PathBuf;

use slipway_oci::OciError;
use slipway_types::{Diagnostic, ExitClass};

/// What went wrong signing, attesting or reading signatures.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key file or key variable cannot be used.
    #[error("key {key}: {message}")]
    Key {
        /// Which key (`path` or `env://VAR`).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The key did not decrypt: a wrong password, or damaged ciphertext (the secretbox MAC check
    /// cannot tell which).
    #[error("key {key}: wrong password, or the key file is damaged (the key did not decrypt)")]
    WrongPassword {
        /// Which key.
        key: String,
    },
    /// The key is encrypted and no password is available.
    #[error("key {key} is encrypted and no password is available")]
    NoPassword {
        /// Which key.
        key: String,
    },
    /// A file could not be read or written.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// OCI layout or manifest trouble.
    #[error(transparent)]
    Oci(#[from] OciError),
    /// Input that cannot be used (a flag value, a document, a trust file).
    #[error("{what}: {message}")]
    Invalid {
        /// What was given (a flag, a file, a field).
        what: String,
        /// What is wrong.
        message: String,
    },
    /// An identity token is needed and none was found.
    #[error("no OIDC identity token for keyless signing: {message}")]
    NoToken {
        /// Where it was looked for.
        message: String,
    },
    /// Reading signatures or manifests from somewhere else (a registry) failed; the source's
    /// own error decides the exit class and hint.
    #[error("reading from {location}")]
    Source {
        /// Where (a repository).
        location: String,
        /// Its exit class.
        class: ExitClass,
        /// Its hint.
        hint: Option<String>,
        /// The source's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A remote service (Fulcio, Rekor, the CI's OIDC endpoint) failed after retries.
    #[error("{service} at {url}: {message}")]
    Service {
        /// `Fulcio`, `Rekor`, `GitHub OIDC`.
        service: &'static str,
        /// The URL (credentials redacted).
        url: String,
        /// What happened.
        message: String,
    },
}

impl SignError {
    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> SignError {
        SignError::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }

    /// Wraps the error of a source (a registry) of manifests and signatures.
    pub fn source(location: impl Into<String>, e: impl Diagnostic) -> SignError {
        SignError::Source {
            location: location.into(),
            class: e.exit_class(),
            hint: e.hint(),
            source: Box::new(e),
        }
    }

    pub(crate) fn key(key: impl Into<String>, message: impl Into<String>) -> SignError {
        SignError::Key {
            key: key.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> SignError {
        let path = path.into();
        move |source| SignError::Io {
            action,
            path,
            source,
        }
    }
}

impl Diagnostic for SignError {
    fn exit_class(&self) -> ExitClass {
        match self {
            SignError::Service { .. } => ExitClass::External,
            SignError::Oci(e) => e.exit_class(),
            SignError::Source { class, .. } => *class,
            _ => ExitClass::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            SignError::WrongPassword { .. } => Some(format!(
                "check {} (or {}): the password is the one given to generate-key-pair; if it is \
                 right, the key file was altered — restore it from where it is kept",
                slipway_env::SLIPWAY_PASSWORD,
                slipway_env::COSIGN_PASSWORD
            )),
            SignError::NoPassword { .. } => Some(format!(
                "set {} (or {}) in the environment, or run on a terminal to be asked; \
                 passwords are never taken from command-line flags",
                slipway_env::SLIPWAY_PASSWORD,
                slipway_env::COSIGN_PASSWORD
            )),
            SignError::Key { .. } => Some(
                "keys are cosign/sigstore PEM files (ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY, or \
                 PKCS#8 PRIVATE KEY); make one with `slipway sign generate-key-pair`"
                    .into(),
            ),
            SignError::NoToken { .. } => Some(
                "on GitHub Actions grant `permissions: id-token: write`; on GitLab define an \
                 `id_tokens: SIGSTORE_ID_TOKEN` with `aud: sigstore`; elsewhere pass \
                 --identity-token FILE or env://VAR"
                    .into(),
            ),
            SignError::Service { .. } => {
                Some("the service did not answer correctly after retries; try again later".into())
            }
            SignError::Oci(e) => e.hint(),
            SignError::Source { hint, .. } => hint.clone(),
            _ => None,
        }
    }
}
