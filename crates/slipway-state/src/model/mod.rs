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
use slipway_types::Digest;

mod image;
mod promote;
mod push;
mod run;
mod runner;
mod sbom;
mod scan;
mod sign;
mod step;

pub use image::*;
pub use promote::*;
pub use push::*;
pub use run::*;
pub use runner::*;
pub use sbom::*;
pub use scan::*;
pub use sign::*;
pub use step::*;

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
