//! Cosign-compatible signing and verification of images in OCI layouts.
//!
//! - [`keys`]: cosign/sigstore key files (encrypted PEM, scrypt + secretbox over PKCS#8), public keys.
//! - [`payload`]: the simple-signing payload, DSSE envelopes, in-toto statements.
//! - [`cosign`]: how cosign stores signatures and attestations (`sha256-<hex>.sig` / `.att`).
//! - [`signer`]: keyed and keyless (Fulcio) signers; [`oidc`]: identity tokens from CI.
//! - [`fulcio`], [`rekor`]: the services, behind traits so tests use local servers.
//! - [`sign`]: signing and attesting a digest, idempotently.
//! - [`predicates`]: SBOM, SLSA provenance v1 and vulnerability-scan predicates.
//! - [`trust`], [`verify`]: offline verification against a key or a certificate identity.
//! - [`source`]: where verification reads from (a layout today; a registry implements the same trait).
//! - [`testimage`]: small real images for tests, examples and benchmarks.
#![deny(missing_docs)]

pub mod cosign;
mod error;
pub mod fulcio;
pub mod keys;
pub mod oidc;
pub mod payload;
pub mod predicates;
pub mod rekor;
pub mod sign;
pub mod signer;
pub mod source;
pub mod testimage;
pub mod trust;
pub mod verify;

pub use error::SignError;

/// The HTTP client for Fulcio, Rekor and token endpoints: TLS verified, bounded time.
pub(crate) fn http_client() -> Result<reqwest::blocking::Client, SignError> {
    reqwest::blocking::Client::builder()
        .timeout(rekor::HTTP_TIMEOUT)
        .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SignError::invalid("HTTP client", e.to_string()))
}

/// Sends with retries on connection errors and 5xx/429 answers (backoff 0.5 s, 1 s, 2 s).
pub(crate) fn with_retries(
    retries: u32,
    mut send: impl FnMut() -> reqwest::Result<reqwest::blocking::Response>,
) -> Result<reqwest::blocking::Response, String> {
    let mut attempt = 0;
    loop {
        let result = send();
        let retry = match &result {
            Ok(r) => r.status().is_server_error() || r.status().as_u16() == 429,
            Err(e) => e.is_connect() || e.is_timeout() || e.is_request(),
        };
        if !retry || attempt >= retries {
            return result.map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg.push_str(": ");
                    msg.push_str(&s.to_string());
                    src = s.source();
                }
                format!("{msg} (after {} attempts)", attempt + 1)
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(500 << attempt));
        attempt += 1;
    }
}

/// The start of a response body, for messages.
pub(crate) fn snippet(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_owned(),
    }
}
