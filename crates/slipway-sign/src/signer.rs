//! Who signs: a key pair, or an ephemeral key certified by Fulcio for an OIDC identity.

use std::collections::BTreeMap;

use crate::SignError;
use crate::cosign::{CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, Layer};
use crate::fulcio::{CertChain, CertificateAuthority};
use crate::keys::{PrivateKey, PublicKey};
use crate::oidc::IdentityToken;
use crate::trust::SigningCert;

/// Who made (or would make) a signature — used to recognise earlier signatures, so signing
/// twice adds nothing.
#[derive(Debug, Clone)]
pub enum SignerIdentity {
    /// A key pair.
    Key(PublicKey),
    /// A certificate for any of `identities` from `issuer`.
    Certificate {
        /// Subject Alternative Names that count as this signer.
        identities: Vec<String>,
        /// The OIDC issuer.
        issuer: String,
    },
}

impl SignerIdentity {
    /// Whether `signature` over `message` in `layer` was made by this identity.
    pub fn made(&self, layer: &Layer, signature: &[u8], message: &[u8]) -> bool {
        match self {
            SignerIdentity::Key(k) => k.verify(signature, message),
            SignerIdentity::Certificate { identities, issuer } => {
                let Some(pem) = layer.certificate_pem() else {
                    return false;
                };
                let Ok(cert) = SigningCert::from_pem(pem) else {
                    return false;
                };
                // An earlier keyless signature counts only with its transparency log entry.
                cert.issuer.as_deref() == Some(issuer.as_str())
                    && cert.identities.iter().any(|i| identities.contains(i))
                    && matches!(layer.bundle(), Ok(Some(_)))
                    && cert.public_key.verify(signature, message)
            }
        }
    }
}

/// A signer ready to sign.
pub struct Signer {
    key: PrivateKey,
    cert: Option<(CertChain, SigningCert)>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key", &self.key)
            .field("keyless", &self.cert.is_some())
            .finish()
    }
}

impl Signer {
    /// Signs with a key pair.
    pub fn keyed(key: PrivateKey) -> Signer {
        Signer { key, cert: None }
    }

    /// Makes an ephemeral key and has `ca` certify it for `token`'s identity.
    pub fn keyless(
        ca: &dyn CertificateAuthority,
        token: &IdentityToken,
    ) -> Result<Signer, SignError> {
        let key = PrivateKey::generate()?;
        let proof = key.sign(token.claims.proof_subject().as_bytes())?;
        let chain = ca.signing_certificate(&token.token, &key.public().pem(), &proof)?;
        let cert = SigningCert::from_pem(&chain.leaf_pem).map_err(|e| SignError::Service {
            service: "Fulcio",
            url: ca.url(),
            message: format!("the certificate it issued cannot be read: {e}"),
        })?;
        if cert.public_key != *key.public() {
            return Err(SignError::Service {
                service: "Fulcio",
                url: ca.url(),
                message: "the certificate it issued is for another key".into(),
            });
        }
        Ok(Signer {
            key,
            cert: Some((chain, cert)),
        })
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key.sign(message)
    }

    /// What the transparency log records as the verifier: the certificate, or the public key.
    pub fn verifier_pem(&self) -> String {
        match &self.cert {
            Some((chain, _)) => chain.leaf_pem.clone(),
            None => self.key.public().pem(),
        }
    }

    /// Whether this is a keyless signer.
    pub fn is_keyless(&self) -> bool {
        self.cert.is_some()
    }

    /// The public key (ephemeral for keyless).
    pub fn public_key(&self) -> &PublicKey {
        self.key.public()
    }

    /// The certificate (keyless).
    pub fn certificate(&self) -> Option<&SigningCert> {
        self.cert.as_ref().map(|(_, c)| c)
    }

    /// The identity to recognise this signer's signatures by.
    pub fn identity(&self) -> SignerIdentity {
        match &self.cert {
            Some((_, c)) => SignerIdentity::Certificate {
                identities: c.identities.clone(),
                issuer: c.issuer.clone().unwrap_or_default(),
            },
            None => SignerIdentity::Key(self.key.public().clone()),
        }
    }

    /// Adds the certificate annotations (keyless).
    pub fn annotate(&self, annotations: &mut BTreeMap<String, String>) {
        if let Some((chain, _)) = &self.cert {
            annotations.insert(CERTIFICATE_ANNOTATION.into(), chain.leaf_pem.clone());
            annotations.insert(CHAIN_ANNOTATION.into(), chain.chain_pem.clone());
        }
    }
}

/// Gives the signer, creating it only when something has to be signed: a keyless re-run that
/// finds everything already signed never asks Fulcio for a certificate.
pub trait SignerProvider {
    /// Who the signer will be, as far as known before it exists.
    fn expected_identity(&self) -> SignerIdentity;
    /// The signer.
    fn signer(&mut self) -> Result<&Signer, SignError>;
}

/// A keyed signer (always ready).
#[derive(Debug)]
pub struct KeyedProvider(pub Signer);

impl SignerProvider for KeyedProvider {
    fn expected_identity(&self) -> SignerIdentity {
        self.0.identity()
    }
    fn signer(&mut self) -> Result<&Signer, SignError> {
        Ok(&self.0)
    }
}

/// A keyless signer made on first use.
pub struct KeylessProvider<'a> {
    ca: &'a dyn CertificateAuthority,
    token: IdentityToken,
    signer: Option<Signer>,
}

impl std::fmt::Debug for KeylessProvider<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeylessProvider")
            .field("ca", &self.ca.url())
            .field("token", &self.token.source)
            .finish()
    }
}

impl<'a> KeylessProvider<'a> {
    /// Keyless signing with `ca` for `token`.
    pub fn new(ca: &'a dyn CertificateAuthority, token: IdentityToken) -> Self {
        KeylessProvider {
            ca,
            token,
            signer: None,
        }
    }
}

impl SignerProvider for KeylessProvider<'_> {
    fn expected_identity(&self) -> SignerIdentity {
        match &self.signer {
            Some(s) => s.identity(),
            None => SignerIdentity::Certificate {
                identities: self.token.claims.possible_identities(),
                issuer: self.token.claims.issuer.clone(),
            },
        }
    }

    fn signer(&mut self) -> Result<&Signer, SignError> {
        if self.signer.is_none() {
            self.signer = Some(Signer::keyless(self.ca, &self.token)?);
        }
        Ok(self.signer.as_ref().expect("just made"))
    }
}
