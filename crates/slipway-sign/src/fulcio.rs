//! Fulcio: a short-lived signing certificate for an OIDC identity.
//!
//! `POST /api/v2/signingCert` with the identity token, the ephemeral public key and a proof of
//! possession (the token's subject signed with the key); the answer holds the certificate chain,
//! leaf first.

use serde_json::{Value, json};
use slipway_types::{Secret, redact_url};

use crate::SignError;

/// The public-good Fulcio.
pub const DEFAULT_FULCIO_URL: &str = "https://fulcio.sigstore.dev";

/// A certificate chain from the CA, PEM, leaf first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertChain {
    /// The signing certificate.
    pub leaf_pem: String,
    /// The rest of the chain (intermediates, root), concatenated PEM.
    pub chain_pem: String,
}

/// A certificate authority for keyless signing.
pub trait CertificateAuthority {
    /// A certificate for `public_key_pem`, proven by `proof` (the token subject signed with the key).
    fn signing_certificate(
        &self,
        token: &Secret<String>,
        public_key_pem: &str,
        proof: &[u8],
    ) -> Result<CertChain, SignError>;
    /// The CA's URL, for messages.
    fn url(&self) -> String;
}

/// A Fulcio server reached over HTTP.
#[derive(Debug, Clone)]
pub struct FulcioClient {
    base: String,
    http: reqwest::blocking::Client,
}

impl FulcioClient {
    /// A client for the Fulcio at `base_url`.
    pub fn new(base_url: &str) -> Result<FulcioClient, SignError> {
        Ok(FulcioClient {
            base: base_url.trim_end_matches('/').to_owned(),
            http: crate::http_client()?,
        })
    }

    fn err(&self, message: impl Into<String>) -> SignError {
        SignError::Service {
            service: "Fulcio",
            url: redact_url(&self.base),
            message: message.into(),
        }
    }
}

impl CertificateAuthority for FulcioClient {
    fn signing_certificate(
        &self,
        token: &Secret<String>,
        public_key_pem: &str,
        proof: &[u8],
    ) -> Result<CertChain, SignError> {
        use base64::Engine as _;
        let body = json!({
            "credentials": {"oidcIdentityToken": token.expose()},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": public_key_pem},
                "proofOfPossession": base64::engine::general_purpose::STANDARD.encode(proof),
            }
        });
        let bytes = serde_json::to_vec(&body).expect("the request serialises");
        let url = format!("{}/api/v2/signingCert", self.base);
        let resp = crate::with_retries(3, || {
            self.http
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(bytes.clone())
                .send()
        })
        .map_err(|e| self.err(e))?;
        let status = resp.status();
        let text = resp
            .text()
            .map_err(|e| self.err(format!("cannot read the answer: {e}")))?;
        if !status.is_success() {
            return Err(self.err(format!(
                "certificate request answered {status}: {}",
                crate::snippet(&text)
            )));
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| self.err(format!("the answer is not JSON: {e}")))?;
        let certs = v
            .pointer("/signedCertificateEmbeddedSct/chain/certificates")
            .or_else(|| v.pointer("/signedCertificateDetachedSct/chain/certificates"))
            .and_then(Value::as_array)
            .ok_or_else(|| self.err("the answer holds no certificate chain"))?;
        let pems: Vec<String> = certs
            .iter()
            .filter_map(Value::as_str)
            .map(|s| {
                let mut s = s.trim().to_owned();
                s.push('\n');
                s
            })
            .collect();
        let (leaf, rest) = pems
            .split_first()
            .ok_or_else(|| self.err("the certificate chain is empty"))?;
        Ok(CertChain {
            leaf_pem: leaf.clone(),
            chain_pem: rest.concat(),
        })
    }

    fn url(&self) -> String {
        redact_url(&self.base)
    }
}
