//! The scan gate of `slipway-scan-sbom`.
//!
//! - [`report`]: Trivy (SchemaVersion 2 and the legacy top-level array) and Grype JSON reports,
//!   read into typed models that tolerate unknown fields and fail closed on malformed JSON
//!   (the file and the line:column are named), normalised to [`Finding`]s.
//! - [`ignore`]: Trivy's `.trivyignore` and `.trivyignore.yaml` (with `exp:` / `expired_at`).
//! - [`vex`]: OpenVEX and CycloneDX VEX statements (`not_affected`, `fixed`).
//! - [`policy`]: the gate — a severity threshold, fixable-only, ignores, VEX, per-package allow
//!   rules, secrets and misconfigurations — giving a [`policy::Outcome`].
//! - [`sbom`]: what the gate reads from SBOM documents (dependency graph, declared licenses, OS).
//! - [`render`]: the markdown step summary, SARIF 2.1.0 and the GitLab container-scanning report.
#![deny(missing_docs)]

pub mod ignore;
pub mod policy;
pub mod render;
pub mod report;
pub mod sbom;
pub mod vex;

mod error;

pub use error::ScanError;
pub use report::{Finding, Kind, Report, Severity};
