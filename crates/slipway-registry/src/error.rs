//! Errors of the registry layer, classified for exit codes and given hints.

use std::time::Duration;

use slipway_types::{Diagnostic, ExitClass};

/// What went wrong talking to a registry or copying content.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry refused our credentials (401), or we had none and it wants some.
    #[error("unauthorized: {registry} refused {what}{}", if *.had_credentials { " with the credentials given" } else { " (no credentials found for it)" })]
    Unauthorized {
        /// Registry host.
        registry: String,
        /// What was attempted, e.g. "push to 127.0.0.1:5000/app".
        what: String,
        /// Whether credentials were sent.
        had_credentials: bool,
        /// The registry's message, when it sent one.
        #[source]
        detail: Option<Detail>,
    },
    /// The registry understood who we are and said no (403).
    #[error("denied: {registry} does not allow {what}")]
    Denied {
        /// Registry host.
        registry: String,
        /// What was attempted.
        what: String,
        /// The registry's message.
        #[source]
        detail: Option<Detail>,
    },
    /// A manifest, tag or blob does not exist.
    #[error("{what} was not found in {repository}")]
    NotFound {
        /// Repository.
        repository: String,
        /// What was looked for.
        what: String,
    },
    /// TLS: the registry's certificate did not verify, or it does not speak TLS.
    #[error("TLS connection to {registry} failed")]
    Tls {
        /// Registry host.
        registry: String,
        /// The TLS error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The registry's token realm is not HTTPS: the credentials would travel in clear.
    #[error(
        "refusing to send credentials for {registry} to the token realm `{realm}`: it is not HTTPS"
    )]
    InsecureRealm {
        /// Registry host.
        registry: String,
        /// The realm its challenge named.
        realm: String,
        /// The realm's `host[:port]`.
        host: String,
    },
    /// The registry could not be reached, or kept failing, until the retry budget ran out.
    #[error("{what} failed after {attempts} attempt(s) over {:.1}s: {last}", elapsed.as_secs_f64())]
    GaveUp {
        /// What was attempted.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure, in one line.
        last: String,
        /// The last failure.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The registry answered something the protocol does not allow here.
    #[error("{what}: {registry} answered {status}{}", body.as_deref().map(|b| format!(": {b}")).unwrap_or_default())]
    Protocol {
        /// Registry host.
        registry: String,
        /// What was attempted.
        what: String,
        /// HTTP status.
        status: u16,
        /// Start of the response body (error JSON), when any.
        body: Option<String>,
    },
    /// Content did not match its digest or size.
    #[error("{what} does not match its descriptor: expected {expected}, got {actual}")]
    Mismatch {
        /// What was read.
        what: String,
        /// Expected digest/size.
        expected: String,
        /// What it was.
        actual: String,
    },
    /// Credentials could not be read (config file, helper).
    #[error("{0}")]
    Credentials(String),
    /// A credential helper failed.
    #[error("credential helper `docker-credential-{helper}` failed for {registry}: {message}")]
    Helper {
        /// Helper name.
        helper: String,
        /// Registry host.
        registry: String,
        /// What it said.
        message: String,
    },
    /// An option is invalid (CA file, chunk size...).
    #[error("{0}")]
    Options(String),
    /// A document or value is invalid.
    #[error("{what}: {message}")]
    Invalid {
        /// Where.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The OCI layout side failed.
    #[error(transparent)]
    Layout(#[from] slipway_oci::OciError),
    /// The platform asked for is not in the index.
    #[error("{reference} has no image for platform {platform} (it has: {available})")]
    NoPlatform {
        /// The reference.
        reference: String,
        /// Platform asked for.
        platform: String,
        /// Platforms present.
        available: String,
    },
}

/// A registry's error message, as a source for the error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Detail(pub String);

impl Diagnostic for RegistryError {
    fn exit_class(&self) -> ExitClass {
        match self {
            RegistryError::NotFound { .. }
            | RegistryError::Credentials(_)
            | RegistryError::Options(_)
            | RegistryError::NoPlatform { .. } => ExitClass::Usage,
            RegistryError::Layout(e) => e.exit_class(),
            _ => ExitClass::External,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RegistryError::Unauthorized { registry, had_credentials: true, .. } => Some(format!(
                "check the username and password (or token) for {registry}: `--username` + `--password-stdin`, SLIPWAY_REGISTRY_USERNAME/SLIPWAY_REGISTRY_PASSWORD, or the docker config.json / credential helper"
            )),
            RegistryError::Unauthorized { registry, .. } => Some(format!(
                "give credentials for {registry}: `--username` + `--password-stdin`, SLIPWAY_REGISTRY_USERNAME/SLIPWAY_REGISTRY_PASSWORD, or `docker login {registry}` (config.json, credHelpers, credsStore)"
            )),
            RegistryError::Tls { registry, .. } => Some(format!(
                "if {registry} uses a private CA, pass it with --ca-file PATH (or SLIPWAY_CA_FILE); if it speaks plain HTTP, --insecure-registry {registry} switches that host (only) to HTTP"
            )),
            RegistryError::InsecureRealm { host, .. } => Some(format!(
                "a token server should be HTTPS; if {host} is trusted on a private network, --insecure-registry {host} allows plain HTTP to it"
            )),
            RegistryError::GaveUp { .. } => Some(
                "the registry is unreachable or failing; check the address and try again (retry budget: --retries / --retry-seconds, or transfer.attempts / transfer.retry_seconds in slipway.yaml)".into(),
            ),
            RegistryError::NotFound { .. } => {
                Some("check the repository, tag or digest (`skopeo list-tags docker://REPO` lists tags)".into())
            }
            RegistryError::Layout(e) => e.hint(),
            _ => None,
        }
    }
}

impl RegistryError {
    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> RegistryError {
        RegistryError::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}
