//! The step log.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Timestamp;

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
