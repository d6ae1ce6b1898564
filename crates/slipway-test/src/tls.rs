//! A throw-away certificate authority and a leaf certificate for 127.0.0.1 / localhost.
//!
//! Go clients (the registry, skopeo) reject a self-signed `CA:TRUE` certificate used directly
//! as a server certificate, so the server gets a leaf signed by a separate CA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// PEM files of a test CA and a server certificate it signed.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate (what clients must trust).
    pub ca_cert: PathBuf,
    /// The server's certificate.
    pub server_cert: PathBuf,
    /// The server's private key.
    pub server_key: PathBuf,
}

impl TestCa {
    /// Generates a CA and a server certificate into `dir` (`ca.crt`, `server.crt`,
    /// `server.key`). `ca.crt` is also the name skopeo's `--cert-dir` expects.
    pub fn generate(dir: &Path) -> TestCa {
        std::fs::create_dir_all(dir).expect("create cert dir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Slipway test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .expect("sign server cert");

        let out = TestCa {
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        };
        std::fs::write(&out.ca_cert, ca_cert.pem()).expect("write ca.crt");
        std::fs::write(&out.server_cert, server_cert.pem()).expect("write server.crt");
        std::fs::write(&out.server_key, server_key.serialize_pem()).expect("write server.key");
        out
    }

    /// The CA certificate in PEM.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).expect("read ca.crt")
    }
}
