//! The typed model of the state file.
//!
//! Everything a later step needs is here: what was built (images, platforms, binaries), what
//! is inside (SBOMs), what the gates said (scans, verifications), what was signed, pushed and
//! promoted (with the previous digest of every moved tag, for rollback), which runner did it,
//! and a log of steps. Collections are ordered (`BTreeMap`) so the file is stable.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use slipway_types::{Digest, MediaType, Platform, Repository, Tag};

/// A point in time, serialised as RFC 3339 in UTC.
pub type Timestamp = DateTime<Utc>;

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Slipway state file")]
pub struct State {
    /// Format version of this file. Readers accept this and older versions and refuse newer.
    #[schemars(range(min = crate::format::OLDEST_FORMAT, max = crate::FORMAT))]
    pub format: u32,
    /// The Slipway that last wrote this file, e.g. `slipway 0.1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
    /// The CI run (or local checkout) the steps ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// Images built, by image name (the `name` in `slipway.yaml`, e.g. `hello`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, Image>,
    /// SBOMs written for image manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sboms: Vec<SbomRecord>,
    /// Scan verdicts, newest last; the newest verdict for a digest is the one that counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scans: Vec<ScanRecord>,
    /// Signatures made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<SignatureRecord>,
    /// Attestations made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<AttestationRecord>,
    /// Verification results, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verifications: Vec<VerificationRecord>,
    /// Pushes to registries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pushes: Vec<PushRecord>,
    /// Promotions (and rollbacks), newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotions: Vec<PromotionRecord>,
    /// Runner fingerprints and policy verdicts, one per check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runners: Vec<RunnerRecord>,
    /// Log of steps that ran, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
}

impl Default for State {
    fn default() -> Self {
        State {
            format: crate::FORMAT,
            written_by: None,
            run: None,
            images: BTreeMap::new(),
            sboms: Vec::new(),
            scans: Vec::new(),
            signatures: Vec::new(),
            attestations: Vec::new(),
            verifications: Vec::new(),
            pushes: Vec::new(),
            promotions: Vec::new(),
            runners: Vec::new(),
            steps: Vec::new(),
        }
    }
}

impl State {
    /// The newest scan verdict recorded for `digest`.
    pub fn latest_scan(&self, digest: &Digest) -> Option<&ScanRecord> {
        self.scans.iter().rev().find(|s| &s.digest == digest)
    }

    /// The newest verification recorded for `digest`.
    pub fn latest_verification(&self, digest: &Digest) -> Option<&VerificationRecord> {
        self.verifications
            .iter()
            .rev()
            .find(|v| &v.digest == digest)
    }
}

/// Which CI system ran the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CiKind {
    /// GitHub Actions.
    Github,
    /// GitLab CI.
    Gitlab,
    /// Not in a recognised CI system.
    Local,
}

/// Metadata of the run, read from the CI environment (or the local git checkout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    /// The CI system.
    pub ci: CiKind,
    /// Repository or project path, e.g. `acme/app`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Base URL of the forge, e.g. `https://github.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Git ref, e.g. `refs/heads/main` or `v1.2.3`.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// Commit SHA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// Run (GitHub) or pipeline (GitLab) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Run attempt (GitHub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_attempt: Option<String>,
    /// Workflow name (GitHub) or CI config path (GitLab).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Workflow file reference (GitHub `GITHUB_WORKFLOW_REF`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_ref: Option<String>,
    /// Job name or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Triggering event (GitHub event name, GitLab pipeline source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Who triggered the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A content descriptor: what a manifest or index is, and how big.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    /// Media type.
    pub media_type: MediaType,
    /// Digest of the content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// One image (possibly multi-platform) built by `slipway-build`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Directory of the OCI image layout holding the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Name of the image inside the layout (`org.opencontainers.image.ref.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout_ref: Option<String>,
    /// The image index over all platforms. Absent after a merge of partial builds until the
    /// index is assembled again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Descriptor>,
    /// One manifest per platform.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platforms: BTreeMap<Platform, PlatformImage>,
    /// The base image the layers were put on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseImage>,
}

/// The image for one platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformImage {
    /// The platform's image manifest.
    pub manifest: Descriptor,
    /// Digest of the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Digest>,
    /// Layout directory, when it differs from the image's (matrix builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    /// Binaries placed in the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<Binary>,
}

/// A binary put into an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Binary {
    /// Absolute path inside the image.
    pub path: String,
    /// Where it was built or taken from on the build machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// sha256 of the file as placed in the image.
    pub sha256: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Toolchain that built it, e.g. `go1.19.8` or `rustc 1.95.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
}

/// The base an image was built on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseImage {
    /// `scratch`, a reference, or a layout path as given.
    pub name: String,
    /// Resolved digest (absent for `scratch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// SBOM document format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum SbomFormat {
    /// SPDX 2.3 JSON.
    #[serde(rename = "spdx-json")]
    SpdxJson,
    /// CycloneDX 1.6 JSON.
    #[serde(rename = "cyclonedx-json")]
    CyclonedxJson,
}

/// An SBOM written for an image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SbomRecord {
    /// Image name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Manifest digest the SBOM describes.
    pub subject: Digest,
    /// Platform of that manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Document format.
    pub format: SbomFormat,
    /// Path of the document.
    pub path: String,
    /// sha256 of the document.
    pub sha256: Digest,
    /// Tool that made it, e.g. `slipway 0.1.0` or `syft 1.0.0`.
    pub tool: String,
}

/// The outcome of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The gate let it through.
    Pass,
    /// The gate said no.
    Fail,
}

/// Findings counted by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityCounts {
    /// Critical.
    #[serde(default)]
    pub critical: u64,
    /// High.
    #[serde(default)]
    pub high: u64,
    /// Medium.
    #[serde(default)]
    pub medium: u64,
    /// Low.
    #[serde(default)]
    pub low: u64,
    /// Unknown or negligible.
    #[serde(default)]
    pub unknown: u64,
}

/// One finding, as far as the state needs to remember it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Vulnerability, rule or secret id (e.g. `CVE-2024-0001`).
    pub id: String,
    /// What kind of finding: `vulnerability`, `secret`, `misconfiguration`, `license`.
    pub kind: String,
    /// Severity as the scanner reported it.
    pub severity: String,
    /// Affected package, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Version that fixes it, when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Why it was ignored (only for ignored findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the ignore expires (only for ignored findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
}

/// A scan verdict for one image digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRecord {
    /// Image name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The digest that was scanned (a manifest or an index).
    pub digest: Digest,
    /// Scanner and version, e.g. `trivy 0.50.0`.
    pub scanner: String,
    /// Path of the raw report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// The gate's verdict.
    pub verdict: Verdict,
    /// All findings by severity (before ignores).
    pub counts: SeverityCounts,
    /// Findings that made the gate fail.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<Finding>,
    /// Findings ignored by policy, with reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<Finding>,
    /// Ignores that expire soon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<Finding>,
    /// When the verdict was reached.
    pub at: Timestamp,
}

/// How something was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SigningMode {
    /// With a key pair.
    Keyed,
    /// With a short-lived certificate from an OIDC identity.
    Keyless,
}

/// A signature attached to a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignatureRecord {
    /// The signed manifest or index.
    pub digest: Digest,
    /// The cosign tag holding it, `sha256-<hex>.sig`.
    pub tag: Tag,
    /// Keyed or keyless.
    pub mode: SigningMode,
    /// sha256 of the public key (keyed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Certificate identity (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Certificate OIDC issuer (keyless).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Transparency log index, when uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    /// When it was made.
    pub at: Timestamp,
}

/// An attestation attached to a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestationRecord {
    /// The subject manifest or index.
    pub digest: Digest,
    /// The cosign tag holding it, `sha256-<hex>.att`.
    pub tag: Tag,
    /// in-toto predicate type URI.
    pub predicate_type: String,
    /// Keyed or keyless.
    pub mode: SigningMode,
    /// When it was made.
    pub at: Timestamp,
}

/// The result of verifying a digest's signatures (and attestations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRecord {
    /// The digest checked.
    pub digest: Digest,
    /// Where it was checked: a registry reference or a layout path.
    pub location: String,
    /// Whether it verified.
    pub verified: bool,
    /// What it was checked against: `key:sha256:…` or `identity:<regex>@<issuer>`.
    pub method: String,
    /// Number of valid signatures found.
    pub signatures: u32,
    /// Predicate types of attestations that verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<String>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// A push of one image to a repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushRecord {
    /// Image name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Target repository.
    pub repository: Repository,
    /// Digest pushed (index or manifest).
    pub digest: Digest,
    /// Tags set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Signature and attestation tags pushed with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<Tag>,
    /// Blob bytes uploaded.
    #[serde(default)]
    pub bytes_sent: u64,
    /// Blob bytes mounted from another repository.
    #[serde(default)]
    pub bytes_mounted: u64,
    /// Blob bytes already present.
    #[serde(default)]
    pub bytes_skipped: u64,
    /// When.
    pub at: Timestamp,
}

/// A tag moved by a promotion, with what it pointed to before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagMove {
    /// The tag.
    pub tag: Tag,
    /// Digest the tag pointed to before (absent when it was new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Digest>,
}

/// One target repository of a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionTarget {
    /// Target repository.
    pub repository: Repository,
    /// Tags set there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagMove>,
}

/// A promotion of a digest to production repositories, or a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionRecord {
    /// The digest promoted (or rolled back to).
    pub digest: Digest,
    /// Where it was copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Repository>,
    /// Where it went.
    pub targets: Vec<PromotionTarget>,
    /// Whether this was a rollback.
    #[serde(default)]
    pub rollback: bool,
    /// When.
    pub at: Timestamp,
}

/// A runner fingerprint and, when a policy was checked, its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnerRecord {
    /// The fingerprint: sha256 over the sorted component hashes.
    pub fingerprint: Digest,
    /// Hash of each component found, by component name. Never raw values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub components: BTreeMap<String, Digest>,
    /// Components that could not be read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Policy verdict, when a policy was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// Name of the allowlist entry that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Step the check was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<Step>,
    /// Environment the check was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// When.
    pub at: Timestamp,
}

/// A pipeline step.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// `slipway-build`.
    Build,
    /// `slipway-scan-sbom`.
    ScanSbom,
    /// `slipway-sign`.
    Sign,
    /// `slipway-push`.
    Push,
    /// `slipway-promote`.
    Promote,
    /// `slipway verify`.
    Verify,
    /// `slipway runner`.
    Runner,
    /// `slipway state merge`.
    Merge,
}

impl Step {
    /// The step's name as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Step::Build => "build",
            Step::ScanSbom => "scan-sbom",
            Step::Sign => "sign",
            Step::Push => "push",
            Step::Promote => "promote",
            Step::Verify => "verify",
            Step::Runner => "runner",
            Step::Merge => "merge",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    /// It did its work.
    Ok,
    /// A gate or policy said no.
    Denied,
    /// It failed.
    Failed,
}

/// One entry in the step log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRecord {
    /// Which step.
    pub step: Step,
    /// How it ended.
    pub outcome: StepOutcome,
    /// When it started.
    pub started: Timestamp,
    /// When it finished.
    pub finished: Timestamp,
    /// The Slipway that ran it.
    pub version: String,
    /// CI job it ran in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// One line on what it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}
