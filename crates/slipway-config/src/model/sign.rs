//! The `sign:` section (`slipway-sign`, `slipway verify`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// Signing settings. Flags and their environment variables override each of them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignConfig {
    /// Keyed signing: a cosign key file (relative to this file) or `env://VAR`. The password
    /// comes from `SLIPWAY_PASSWORD` / `COSIGN_PASSWORD` or a prompt, never from here.
    #[serde(default)]
    pub key: Option<String>,
    /// Keyless signing: a Fulcio certificate for the CI's OIDC identity, recorded in Rekor.
    #[serde(default)]
    pub keyless: Option<bool>,
    /// Fulcio URL (default `https://fulcio.sigstore.dev`).
    #[serde(default)]
    pub fulcio_url: Option<String>,
    /// Rekor URL (default `https://rekor.sigstore.dev`).
    #[serde(default)]
    pub rekor_url: Option<String>,
    /// Also record keyed signatures in Rekor (keyless ones always are).
    #[serde(default)]
    pub tlog_upload: Option<bool>,
    /// The repository the image is pushed to, named in the signed payload
    /// (`critical.identity.docker-reference`), e.g. `ghcr.io/acme/app` (no tag or digest).
    /// Default: `push.repository`, else the repository the state last pushed the image to, else
    /// the image name.
    #[serde(default)]
    pub repository: Option<String>,
    /// Also sign every platform manifest of an index.
    #[serde(default)]
    pub recursive: Option<bool>,
    /// Attestations to attach (default: provenance, plus the SBOMs and the scan verdict the
    /// state records). `[]` attaches none.
    #[serde(default)]
    pub attest: Option<Vec<AttestKind>>,
    /// Annotations put in the signed payload's `optional` section.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Verification settings (`slipway verify`).
    #[serde(default)]
    pub verify: Option<VerifyConfig>,
}

/// An attestation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttestKind {
    /// The SBOMs (SPDX / CycloneDX) recorded by scan-sbom.
    Sbom,
    /// SLSA provenance v1 from the CI run.
    Provenance,
    /// The scan verdict, as cosign's vulnerability predicate.
    Vuln,
}

/// `slipway verify` settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Public key (PEM file relative to this file, or `env://VAR`).
    #[serde(default)]
    pub key: Option<String>,
    /// Certificate identity that must have signed (keyless).
    #[serde(default)]
    pub certificate_identity: Option<String>,
    /// Regular expression for the certificate identity (keyless).
    #[serde(default)]
    pub certificate_identity_regexp: Option<String>,
    /// OIDC issuer of the certificate (keyless).
    #[serde(default)]
    pub certificate_oidc_issuer: Option<String>,
    /// Regular expression for the OIDC issuer (keyless).
    #[serde(default)]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Sigstore `trusted_root.json` (Fulcio roots, Rekor keys), relative to this file.
    #[serde(default)]
    pub trusted_root: Option<PathBuf>,
    /// Require a verified Rekor entry for keyed signatures too.
    #[serde(default)]
    pub require_tlog: Option<bool>,
    /// Predicate types that must have a valid attestation (`sbom`, `provenance`, `vuln`, or URIs).
    #[serde(default)]
    pub attestations: Vec<String>,
    /// Also verify every platform manifest of an index.
    #[serde(default)]
    pub recursive: Option<bool>,
}
