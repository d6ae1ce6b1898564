//! The gate: which findings block, which are ignored and why, which ignores expire soon.
//!
//! A finding blocks when its kind is gated (vulnerabilities always; secrets and
//! misconfigurations unless switched off; licenses only through the deny-list), its severity is
//! at or above the threshold (licenses on the deny-list block whatever their severity), it is
//! fixable when `fixable_only` is set, and nothing suppresses it: a VEX statement, an ignore
//! entry that has not expired, or a per-package allow rule. Fail closed: an unknown threshold
//! word, an unreadable ignore or VEX file is an error before any verdict.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::ignore::Ignore;
use crate::report::{Finding, Kind, Severity};
use crate::vex::VexStatement;

/// A per-package allow rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// Package name (exact).
    pub package: String,
    /// Only this vulnerability id, when set.
    pub id: Option<String>,
    /// Why it is allowed (required: it goes into the state and the summary).
    pub reason: String,
}

/// The gate's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Findings at or above this severity block.
    pub fail_on: Severity,
    /// Only findings with a fixed version block.
    pub fixable_only: bool,
    /// Secrets gate too.
    pub secrets: bool,
    /// Misconfigurations gate too.
    pub misconfigurations: bool,
    /// License names that block (exact, case-insensitive).
    pub deny_licenses: Vec<String>,
    /// Ignore entries.
    pub ignores: Vec<Ignore>,
    /// VEX statements.
    pub vex: Vec<VexStatement>,
    /// Allow rules.
    pub allow: Vec<Allow>,
    /// Ignores expiring within this many days are reported.
    pub warn_expiring_days: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            fail_on: Severity::Critical,
            fixable_only: false,
            secrets: true,
            misconfigurations: true,
            deny_licenses: Vec::new(),
            ignores: Vec::new(),
            vex: Vec::new(),
            allow: Vec::new(),
            warn_expiring_days: 14,
        }
    }
}

/// A finding the gate let through, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    /// The finding.
    pub finding: Finding,
    /// Why (`VEX not_affected (file)`, `.trivyignore:3: statement`, `allowed: reason`).
    pub reason: String,
    /// When the ignore that suppressed it expires.
    pub expires: Option<NaiveDate>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Whether the gate passes.
    pub pass: bool,
    /// Every finding (before suppression) by severity, vulnerabilities and others together.
    pub counts: BTreeMap<Severity, u64>,
    /// Findings that block.
    pub blocking: Vec<Finding>,
    /// Findings suppressed, with reasons.
    pub ignored: Vec<Suppressed>,
    /// Ignores that expire within the warning window (they still apply).
    pub expiring: Vec<Suppressed>,
    /// Ignore entries that have expired and no longer apply (with where they are).
    pub expired: Vec<String>,
    /// Findings below the threshold, not fixable (with fixable-only), or of ungated kinds.
    pub below_threshold: u64,
}

impl Outcome {
    /// The count for one severity.
    pub fn count(&self, s: Severity) -> u64 {
        self.counts.get(&s).copied().unwrap_or(0)
    }
}

impl Policy {
    /// Evaluates `findings` on `today`.
    pub fn evaluate(&self, findings: &[Finding], today: NaiveDate) -> Outcome {
        let mut counts: BTreeMap<Severity, u64> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
        let mut blocking = Vec::new();
        let mut ignored = Vec::new();
        let mut expiring = Vec::new();
        let mut expired = std::collections::BTreeSet::new();
        let mut below = 0u64;
        let horizon = today + chrono::Duration::days(self.warn_expiring_days);
        for f in findings {
            *counts.entry(f.severity).or_default() += 1;
            if let Some(v) = self.vex.iter().find(|v| v.matches(f)) {
                ignored.push(Suppressed {
                    finding: f.clone(),
                    reason: format!(
                        "VEX {}{} ({})",
                        v.status,
                        v.justification
                            .as_deref()
                            .map(|j| format!(": {j}"))
                            .unwrap_or_default(),
                        v.source
                    ),
                    expires: None,
                });
                continue;
            }
            let mut matching = self.ignores.iter().filter(|i| i.matches(f));
            let live = matching.clone().find(|i| !i.expired(today));
            for dead in matching.by_ref().filter(|i| i.expired(today)) {
                expired.insert(format!(
                    "{} (expired {})",
                    dead.source,
                    dead.expires.map(|d| d.to_string()).unwrap_or_default()
                ));
            }
            if let Some(i) = live {
                let s = Suppressed {
                    finding: f.clone(),
                    reason: format!(
                        "ignored by {}{}",
                        i.source,
                        i.statement
                            .as_deref()
                            .map(|s| format!(": {s}"))
                            .unwrap_or_default()
                    ),
                    expires: i.expires,
                };
                if i.expires.is_some_and(|e| e <= horizon) {
                    expiring.push(s.clone());
                }
                ignored.push(s);
                continue;
            }
            if let Some(a) = self.allow.iter().find(|a| {
                f.package.as_deref() == Some(a.package.as_str())
                    && a.id.as_deref().is_none_or(|id| id == f.id)
            }) {
                ignored.push(Suppressed {
                    finding: f.clone(),
                    reason: format!("allowed for {}: {}", a.package, a.reason),
                    expires: None,
                });
                continue;
            }
            let blocks = match f.kind {
                Kind::Vulnerability => {
                    f.severity >= self.fail_on && (!self.fixable_only || f.fixable())
                }
                Kind::Secret => self.secrets && f.severity >= self.fail_on,
                Kind::Misconfiguration => self.misconfigurations && f.severity >= self.fail_on,
                Kind::License => self
                    .deny_licenses
                    .iter()
                    .any(|d| d.eq_ignore_ascii_case(&f.id)),
            };
            if blocks {
                blocking.push(f.clone());
            } else {
                below += 1;
            }
        }
        Outcome {
            pass: blocking.is_empty(),
            counts,
            blocking,
            ignored,
            expiring,
            expired: expired.into_iter().collect(),
            below_threshold: below,
        }
    }
}
