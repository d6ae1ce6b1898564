//! Trust material for keyless verification, and certificates.
//!
//! A `trusted_root.json` (Sigstore's format, `application/vnd.dev.sigstore.trustedroot+json`)
//! gives the Fulcio certificate chains and the Rekor public keys. Verification uses only what the
//! file holds: nothing is fetched.
//!
//! A Fulcio certificate names the identity in its Subject Alternative Name (a URI or an email)
//! and the OIDC issuer in the extension `1.3.6.1.4.1.57264.1.8` (UTF8String; the older
//! `…1.1` holds raw bytes). The chain must lead to a trusted CA and allow code signing, at the
//! time the transparency log integrated the signature (Fulcio certificates live ten minutes).
//!
//! Fulcio logs each certificate in a Certificate Transparency log and embeds the log's signed
//! certificate timestamp (SCT, RFC 6962 §3.3) in it; cosign checks it by default against the CT
//! log keys of the trusted root (`ctlogs`), and so does verification here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use const_oid::ObjectIdentifier;
use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Deserialize;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::SignError;
use crate::keys::PublicKey;
use crate::rekor::LogKey;

const OID_ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
const OID_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
const OID_SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const OID_SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER value bytes.
const EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// The parts of `trusted_root.json` verification uses.
#[derive(Debug, Clone)]
pub struct TrustedRoot {
    /// Each CA's chain, DER, leaf-most first (the last one is the root).
    pub fulcio: Vec<Vec<Vec<u8>>>,
    /// Rekor keys.
    pub rekor: Vec<LogKey>,
    /// Certificate Transparency log keys (the SCTs of Fulcio certificates).
    pub ctlogs: Vec<LogKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawTlog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawTlog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTlog {
    public_key: RawKey,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKey {
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    cert_chain: RawChain,
}

#[derive(Deserialize)]
struct RawChain {
    certificates: Vec<RawKeyBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawKeyBytes {
    raw_bytes: String,
}

impl TrustedRoot {
    /// Parses a `trusted_root.json`; `what` names it in errors.
    pub fn from_json(bytes: &[u8], what: &str) -> Result<TrustedRoot, SignError> {
        let raw: RawRoot = serde_json::from_slice(bytes)
            .map_err(|e| SignError::invalid(what, format!("not a Sigstore trusted root: {e}")))?;
        if let Some(m) = &raw.media_type
            && !m.starts_with("application/vnd.dev.sigstore.trustedroot")
        {
            return Err(SignError::invalid(
                what,
                format!("mediaType `{m}` is not a Sigstore trusted root"),
            ));
        }
        let decode = |s: &str, field: &str| {
            B64.decode(s)
                .map_err(|e| SignError::invalid(what, format!("{field} is not base64: {e}")))
        };
        let mut rekor = Vec::new();
        for (i, t) in raw.tlogs.iter().enumerate() {
            let der = decode(&t.public_key.raw_bytes, &format!("tlogs[{i}].publicKey"))?;
            rekor.push(LogKey::new(PublicKey::from_der(
                &der,
                &format!("{what} tlogs[{i}]"),
            )?));
        }
        let mut ctlogs = Vec::new();
        for (i, t) in raw.ctlogs.iter().enumerate() {
            let der = decode(&t.public_key.raw_bytes, &format!("ctlogs[{i}].publicKey"))?;
            ctlogs.push(LogKey::new(PublicKey::from_der(
                &der,
                &format!("{what} ctlogs[{i}]"),
            )?));
        }
        let mut fulcio = Vec::new();
        for (i, ca) in raw.certificate_authorities.iter().enumerate() {
            let mut chain = Vec::new();
            for (j, c) in ca.cert_chain.certificates.iter().enumerate() {
                let der = decode(
                    &c.raw_bytes,
                    &format!("certificateAuthorities[{i}].certChain[{j}]"),
                )?;
                Certificate::from_der(&der).map_err(|e| {
                    SignError::invalid(
                        what,
                        format!(
                            "certificateAuthorities[{i}].certChain[{j}] is not a certificate: {e}"
                        ),
                    )
                })?;
                chain.push(der);
            }
            if !chain.is_empty() {
                fulcio.push(chain);
            }
        }
        Ok(TrustedRoot {
            fulcio,
            rekor,
            ctlogs,
        })
    }

    /// Reads a trusted root file.
    pub fn load(path: &std::path::Path) -> Result<TrustedRoot, SignError> {
        let bytes = std::fs::read(path).map_err(SignError::io("cannot read trusted root", path))?;
        TrustedRoot::from_json(&bytes, &format!("trusted root `{}`", path.display()))
    }

    /// Checks that `leaf` chains to a trusted CA for code signing at `at` (unix seconds), using
    /// `extra` certificates (the signature's chain annotation) as intermediates.
    pub fn verify_chain(
        &self,
        leaf: &SigningCert,
        extra: &[Vec<u8>],
        at: i64,
    ) -> Result<(), String> {
        if self.fulcio.is_empty() {
            return Err("the trusted root has no certificate authorities".into());
        }
        let leaf_der = CertificateDer::from(leaf.der.as_slice());
        let ee = webpki::EndEntityCert::try_from(&leaf_der)
            .map_err(|e| format!("the signing certificate cannot be parsed: {e}"))?;
        let algs = webpki::ALL_VERIFICATION_ALGS;
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(at).map_err(|_| "the integration time is negative".to_owned())?,
        ));
        let mut last = String::from("no CA");
        for chain in &self.fulcio {
            let root = CertificateDer::from(chain.last().expect("non-empty").as_slice());
            let anchor = match webpki::anchor_from_trusted_cert(&root) {
                Ok(a) => a,
                Err(e) => {
                    last = format!("a trusted CA certificate cannot be used: {e}");
                    continue;
                }
            };
            let intermediates: Vec<CertificateDer<'_>> = chain[..chain.len() - 1]
                .iter()
                .chain(extra.iter())
                .map(|d| CertificateDer::from(d.as_slice()))
                .collect();
            match ee.verify_for_usage(
                algs,
                &[anchor],
                &intermediates,
                time,
                webpki::KeyUsage::required(EKU_CODE_SIGNING),
                None,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(e) => last = format!("{e:?}"),
            }
        }
        Err(format!(
            "the signing certificate does not chain to a trusted Fulcio CA at the signing time ({last})"
        ))
    }
}

impl TrustedRoot {
    /// The DER SubjectPublicKeyInfo of the certificate that issued `leaf`: one of `extra` (the
    /// signature's chain annotation) or of the trusted CA chains whose subject is the leaf's
    /// issuer.
    pub fn issuer_spki(&self, leaf: &SigningCert, extra: &[Vec<u8>]) -> Result<Vec<u8>, String> {
        let leaf = Certificate::from_der(&leaf.der).map_err(|e| e.to_string())?;
        let issuer = leaf.tbs_certificate().issuer();
        extra
            .iter()
            .chain(self.fulcio.iter().flatten())
            .filter_map(|d| Certificate::from_der(d).ok())
            .find(|c| c.tbs_certificate().subject() == issuer)
            .ok_or_else(|| {
                "the certificate's issuer is not in its chain nor the trusted root".to_owned()
            })
            .and_then(|c| {
                c.tbs_certificate()
                    .subject_public_key_info()
                    .to_der()
                    .map_err(|e| e.to_string())
            })
    }

    /// Checks the SCT embedded in `leaf` (RFC 6962 §3.2 `precert_entry`): signed by a CT log of
    /// the trusted root over the certificate's TBS without the SCT extension and the hash of
    /// `issuer_spki`.
    pub fn verify_sct(&self, leaf: &SigningCert, issuer_spki: &[u8]) -> Result<(), String> {
        if self.ctlogs.is_empty() {
            return Err(
                "the trusted root has no Certificate Transparency logs to check the certificate's \
                 SCT against"
                    .into(),
            );
        }
        let list = sct_list(&leaf.der)?.ok_or("the certificate has no embedded SCT")?;
        let tbs = precert_tbs(&leaf.der).map_err(|e| format!("certificate: {e}"))?;
        let issuer_hash = {
            use sha2::Digest as _;
            sha2::Sha256::digest(issuer_spki)
        };
        let mut last = String::from("the SCT list is empty");
        for sct in list {
            let Some(log) = self.ctlogs.iter().find(|k| k.log_id == hex(&sct.log_id)) else {
                last = format!(
                    "the SCT is from CT log {} which is not in the trusted root",
                    hex(&sct.log_id)
                );
                continue;
            };
            // `digitally-signed` CertificateTimestamp for a precert_entry.
            let mut signed = vec![0u8, 0u8];
            signed.extend_from_slice(&sct.timestamp.to_be_bytes());
            signed.extend_from_slice(&1u16.to_be_bytes());
            signed.extend_from_slice(&issuer_hash);
            let len = u32::try_from(tbs.len()).map_err(|_| "the certificate is too large")?;
            signed.extend_from_slice(&len.to_be_bytes()[1..]);
            signed.extend_from_slice(&tbs);
            signed.extend_from_slice(
                &u16::try_from(sct.extensions.len())
                    .map_err(|_| "bad SCT")?
                    .to_be_bytes(),
            );
            signed.extend_from_slice(&sct.extensions);
            if log.key.verify(&sct.signature, &signed) {
                return Ok(());
            }
            last = "the SCT's signature does not verify with its CT log's key".into();
        }
        Err(last)
    }
}

struct Sct {
    log_id: Vec<u8>,
    timestamp: u64,
    extensions: Vec<u8>,
    signature: Vec<u8>,
}

/// Reads TLS-encoded bytes in order (RFC 5246 §4: big-endian, length-prefixed vectors).
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the SCT list is truncated".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self) -> Result<usize, String> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn vec16(&mut self) -> Result<&'a [u8], String> {
        let n = self.u16()?;
        self.take(n)
    }
}

/// The SCTs of a certificate's SCT list extension, if it has one.
fn sct_list(cert_der: &[u8]) -> Result<Option<Vec<Sct>>, String> {
    let cert = Certificate::from_der(cert_der).map_err(|e| e.to_string())?;
    let Some(ext) = cert
        .tbs_certificate()
        .extensions()
        .and_then(|e| e.iter().find(|x| x.extn_id == OID_SCT_LIST))
    else {
        return Ok(None);
    };
    // extnValue holds a DER OCTET STRING holding the TLS SignedCertificateTimestampList.
    let inner = x509_cert::der::asn1::OctetString::from_der(ext.extn_value.as_bytes())
        .map_err(|e| format!("bad SCT extension: {e}"))?;
    let mut list = Tls(inner.as_bytes());
    let mut entries = Tls(list.vec16()?);
    let mut out = Vec::new();
    while !entries.0.is_empty() {
        let mut s = Tls(entries.vec16()?);
        if s.take(1)? != [0] {
            continue; // only v1 SCTs are defined
        }
        let log_id = s.take(32)?.to_vec();
        let t = s.take(8)?;
        let timestamp = u64::from_be_bytes(t.try_into().expect("8 bytes"));
        let extensions = s.vec16()?.to_vec();
        let _algorithms = s.take(2)?;
        let signature = s.vec16()?.to_vec();
        out.push(Sct {
            log_id,
            timestamp,
            extensions,
            signature,
        });
    }
    Ok(Some(out))
}

/// The leaf's DER TBSCertificate without the SCT list extension — what the CT log signed. Works
/// on the DER as it is (a decoded TBSCertificate need not re-encode to the same bytes).
fn precert_tbs(cert_der: &[u8]) -> x509_cert::der::Result<Vec<u8>> {
    use x509_cert::der::{Any, Tag, TagNumber, Tagged};
    let extensions_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    let cert = Vec::<Any>::from_der(cert_der)?;
    let tbs = cert.first().ok_or_else(|| Tag::Sequence.value_error())?;
    let mut fields: Vec<Any> = tbs.decode_as()?;
    if let Some(exts) = fields.iter_mut().find(|f| f.tag() == extensions_tag) {
        let kept: Vec<Any> = Vec::<Any>::from_der(exts.value())?
            .into_iter()
            .filter(|e| {
                e.decode_as::<x509_cert::ext::Extension>()
                    .is_ok_and(|x| x.extn_id != OID_SCT_LIST)
            })
            .collect();
        *exts = Any::new(extensions_tag, kept.to_der()?)?;
    }
    fields.to_der()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A signing certificate (Fulcio leaf) and what it says.
#[derive(Debug, Clone)]
pub struct SigningCert {
    /// DER.
    pub der: Vec<u8>,
    /// PEM as stored.
    pub pem: String,
    /// Subject Alternative Names (URIs and emails).
    pub identities: Vec<String>,
    /// The OIDC issuer extension.
    pub issuer: Option<String>,
    /// The certified key.
    pub public_key: PublicKey,
}

impl SigningCert {
    /// Parses the first certificate of a PEM text.
    pub fn from_pem(pem_text: &str) -> Result<SigningCert, String> {
        let blocks = pem::parse_many(pem_text.as_bytes()).map_err(|e| format!("bad PEM: {e}"))?;
        let first = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or("no CERTIFICATE block")?;
        let der = first.contents().to_vec();
        let cert = Certificate::from_der(&der).map_err(|e| format!("not a certificate: {e}"))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| e.to_string())?;
        let public_key =
            PublicKey::from_der(&spki, "certificate key").map_err(|e| e.to_string())?;
        let mut identities = Vec::new();
        let mut issuer_v1 = None;
        let mut issuer_v2 = None;
        for ext in tbs.extensions().map(|e| e.as_slice()).unwrap_or_default() {
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == OID_SAN {
                let san = SubjectAltName::from_der(value).map_err(|e| format!("bad SAN: {e}"))?;
                for name in san.0 {
                    match name {
                        GeneralName::UniformResourceIdentifier(u) => {
                            identities.push(u.as_str().to_owned())
                        }
                        GeneralName::Rfc822Name(m) => identities.push(m.as_str().to_owned()),
                        _ => {}
                    }
                }
            } else if ext.extn_id == OID_ISSUER_V2 {
                issuer_v2 = x509_cert::der::asn1::Utf8StringRef::from_der(value)
                    .ok()
                    .map(|s| s.as_str().to_owned());
            } else if ext.extn_id == OID_ISSUER_V1 {
                issuer_v1 = std::str::from_utf8(value).ok().map(str::to_owned);
            }
        }
        Ok(SigningCert {
            der,
            pem: pem_text.to_owned(),
            identities,
            issuer: issuer_v2.or(issuer_v1),
            public_key,
        })
    }
}

/// The DER certificates of a PEM chain text.
pub fn chain_ders(pem_text: &str) -> Result<Vec<Vec<u8>>, String> {
    Ok(pem::parse_many(pem_text.as_bytes())
        .map_err(|e| format!("bad chain PEM: {e}"))?
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.contents().to_vec())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_good_trusted_root_parses() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/trusted_root.json");
        let root = TrustedRoot::load(&p).unwrap();
        assert!(!root.fulcio.is_empty());
        // The public-good Rekor key; its log id is the well-known c0d23d6a…801d.
        assert!(root.rekor.iter().any(
            |k| k.log_id == "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
        ));
        assert!(TrustedRoot::from_json(b"{\"mediaType\":\"x\"}", "t").is_err());
    }

    #[test]
    fn real_fulcio_certificate_identity() {
        // The certificate of cosign's sign-blob bundle (sigstore-rs test data): a public-good
        // Fulcio certificate for an email identity issued via GitHub login.
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/sign-blob.bundle.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let pem = String::from_utf8(B64.decode(v["cert"].as_str().unwrap()).unwrap()).unwrap();
        let c = SigningCert::from_pem(&pem).unwrap();
        assert_eq!(c.identities, ["daniel.bevenius@gmail.com"]);
        assert_eq!(c.issuer.as_deref(), Some("https://github.com/login/oauth"));
        assert_eq!(c.public_key.algorithm(), "ecdsa-p256");
    }
}
