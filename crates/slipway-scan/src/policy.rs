//! The gate: which findings block, which are ignored and why, which ignores expire soon.
//!
//! A finding blocks when its kind is gated (vulnerabilities always; secrets and
//! misconfigurations unless switched off; licenses only through the deny-list), its severity is
//! at or above the threshold (licenses on the deny-list block whatever their severity), it is
//! fixable when `fixable_only` is set, and nothing suppresses it: a VEX statement, an ignore
//! entry that has not expired, or a per-package allow rule. Fail closed: an unknown threshold
//! word, an unreadable ignore or VEX file is an error before any verdict.
//!
//! The counts by severity are of vulnerabilities, secrets and misconfigurations; license
//! findings are counted apart (a license has no severity of its own).

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ignore::Ignore;
use crate::report::{Finding, Kind, Severity};
use crate::vex::{Graph, Vex};

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
    pub vex: Vex,
    /// What contains what in the image (from its SBOM), for VEX statements about a product and
    /// its subcomponents.
    pub graph: Graph,
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
            vex: Vex::default(),
            graph: Graph::default(),
            allow: Vec::new(),
            warn_expiring_days: 14,
        }
    }
}

/// A finding the gate let through, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Suppressed {
    /// The finding.
    pub finding: Finding,
    /// Why (`VEX not_affected (file)`, `.trivyignore:3: statement`, `allowed: reason`).
    pub reason: String,
    /// When the ignore that suppressed it expires.
    pub expires: Option<DateTime<Utc>>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Whether the gate passes.
    pub pass: bool,
    /// Every vulnerability, secret and misconfiguration (before suppression) by severity.
    pub counts: BTreeMap<Severity, u64>,
    /// License findings (not in `counts`).
    pub licenses: u64,
    /// Findings that block.
    pub blocking: Vec<Finding>,
    /// Findings suppressed, with reasons.
    pub ignored: Vec<Suppressed>,
    /// Ignores that expire within the warning window (they still apply).
    pub expiring: Vec<Suppressed>,
    /// Ignore entries that have expired and no longer apply (with where they are).
    pub expired: Vec<String>,
    /// The findings those expired entries would have ignored, with the entry and its expiry.
    pub expired_findings: Vec<Suppressed>,
    /// Findings below the threshold, not fixable (with fixable-only), or of ungated kinds.
    pub below_threshold: u64,
}

impl Outcome {
    /// The count for one severity.
    pub fn count(&self, s: Severity) -> u64 {
        self.counts.get(&s).copied().unwrap_or(0)
    }

    /// Several verdicts as one (the platforms of an index): it fails when any fails; counts
    /// add up; findings are listed once each.
    pub fn merge(all: &[Outcome]) -> Outcome {
        let mut out = Outcome {
            pass: all.iter().all(|o| o.pass),
            counts: Severity::ALL.iter().map(|s| (*s, 0)).collect(),
            licenses: 0,
            blocking: Vec::new(),
            ignored: Vec::new(),
            expiring: Vec::new(),
            expired: Vec::new(),
            expired_findings: Vec::new(),
            below_threshold: 0,
        };
        // Each list keeps the first of equal items, in order. Equal items are found by hash
        // (a report of 100 MB has tens of thousands of findings: a linear `contains` per item
        // would be quadratic).
        type Seen = HashMap<u64, Vec<usize>>;
        fn add<T: PartialEq + Clone + Hash>(to: &mut Vec<T>, seen: &mut Seen, from: &[T]) {
            for x in from {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                x.hash(&mut h);
                let slot = seen.entry(h.finish()).or_default();
                if slot.iter().any(|&i| to[i] == *x) {
                    continue;
                }
                slot.push(to.len());
                to.push(x.clone());
            }
        }
        let mut seen: [Seen; 5] = Default::default();
        for o in all {
            for (s, n) in &o.counts {
                *out.counts.entry(*s).or_default() += n;
            }
            out.licenses += o.licenses;
            out.below_threshold += o.below_threshold;
            add(&mut out.blocking, &mut seen[0], &o.blocking);
            add(&mut out.ignored, &mut seen[1], &o.ignored);
            add(&mut out.expiring, &mut seen[2], &o.expiring);
            add(&mut out.expired, &mut seen[3], &o.expired);
            add(&mut out.expired_findings, &mut seen[4], &o.expired_findings);
        }
        out
    }
}

impl Policy {
    /// Evaluates `findings` at `now` (ignores expire by it).
    pub fn evaluate(&self, findings: &[Finding], now: DateTime<Utc>) -> Outcome {
        let mut counts: BTreeMap<Severity, u64> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
        let mut licenses = 0u64;
        let mut blocking = Vec::new();
        let mut ignored = Vec::new();
        let mut expiring = Vec::new();
        let mut expired = std::collections::BTreeSet::new();
        let mut expired_findings = Vec::new();
        let mut below = 0u64;
        let horizon = now + chrono::Duration::days(self.warn_expiring_days);
        for f in findings {
            if f.kind == Kind::License {
                licenses += 1;
            } else {
                *counts.entry(f.severity).or_default() += 1;
            }
            if let Some(v) = self.vex.suppressing(f, &self.graph) {
                ignored.push(Suppressed {
                    finding: f.clone(),
                    reason: crate::vex::describe(v),
                    expires: None,
                });
                continue;
            }
            let mut matching = self.ignores.iter().filter(|i| i.matches(f));
            let live = matching.clone().find(|i| !i.expired(now));
            for dead in matching.by_ref().filter(|i| i.expired(now)) {
                if !expired_findings
                    .iter()
                    .any(|s: &Suppressed| s.finding == *f)
                {
                    expired_findings.push(Suppressed {
                        finding: f.clone(),
                        reason: format!("expired ignore no longer applies: {}", dead.source),
                        expires: dead.expires,
                    });
                }
                expired.insert(format!(
                    "{} (expired {})",
                    dead.source,
                    dead.expires.map(crate::render::when).unwrap_or_default()
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
            licenses,
            blocking,
            ignored,
            expiring,
            expired: expired.into_iter().collect(),
            expired_findings,
            below_threshold: below,
        }
    }
}
