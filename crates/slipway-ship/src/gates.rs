//! Promotion gates: what must be true of a digest, according to the state, before it may be
//! promoted. Each gate can be required or not (`promote.require` in `slipway.yaml`); all are
//! required by default, and a gate with no evidence in the state is unmet (fail closed).

use std::fmt;

use slipway_state::{State, Verdict};
use slipway_types::{Digest, Repository};

/// A precondition of promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The newest scan verdict for the digest is `pass` (for an index: its own verdict, which
    /// covers every platform, else every platform manifest's), and no platform manifest's newest
    /// verdict is `fail`.
    Scan,
    /// The newest verification recorded for the digest verified.
    Signature,
    /// The digest was pushed to the source repository (by `slipway-push`).
    Pushed,
    /// The runner is allowed, when a runner policy exists.
    Runner,
}

impl Gate {
    /// All gates, in the order they are reported.
    pub const ALL: [Gate; 4] = [Gate::Scan, Gate::Signature, Gate::Pushed, Gate::Runner];

    /// Name in config and messages.
    pub fn name(self) -> &'static str {
        match self {
            Gate::Scan => "scan",
            Gate::Signature => "signature",
            Gate::Pushed => "pushed",
            Gate::Runner => "runner",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which gates are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    /// [`Gate::Scan`].
    pub scan: bool,
    /// [`Gate::Signature`].
    pub signature: bool,
    /// [`Gate::Pushed`].
    pub pushed: bool,
    /// [`Gate::Runner`].
    pub runner: bool,
}

impl Default for Requirements {
    fn default() -> Self {
        Requirements {
            scan: true,
            signature: true,
            pushed: true,
            runner: true,
        }
    }
}

impl Requirements {
    /// Whether `gate` is required.
    pub fn requires(&self, gate: Gate) -> bool {
        match gate {
            Gate::Scan => self.scan,
            Gate::Signature => self.signature,
            Gate::Pushed => self.pushed,
            Gate::Runner => self.runner,
        }
    }
}

/// What a runner policy says about the machine this runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerVerdict {
    /// No runner policy is configured: the gate does not apply.
    NoPolicy,
    /// Allowed (by the named entry).
    Allowed(String),
    /// Not allowed, and why.
    Denied(String),
}

/// Decides whether the current runner may promote. `slipway-promote` checks the machine
/// against the configured policy when it runs and passes that [`RunnerVerdict`] (a verdict is
/// itself a policy); [`RecordedRunnerVerdict`] reads the newest verdict recorded in the state.
pub trait RunnerPolicy {
    /// The verdict for this run.
    fn verdict(&self, state: &State) -> RunnerVerdict;
}

impl RunnerPolicy for RunnerVerdict {
    fn verdict(&self, _state: &State) -> RunnerVerdict {
        self.clone()
    }
}

/// A [`RunnerPolicy`] from the state: the newest runner record with a verdict (for `promote` or for
/// no particular step). No such record means no policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordedRunnerVerdict;

impl RunnerPolicy for RecordedRunnerVerdict {
    fn verdict(&self, state: &State) -> RunnerVerdict {
        let rec = state.runners.iter().rev().find(|r| {
            r.allowed.is_some() && r.step.is_none_or(|s| s == slipway_state::Step::Promote)
        });
        match rec {
            None => RunnerVerdict::NoPolicy,
            Some(r) if r.allowed == Some(true) => {
                RunnerVerdict::Allowed(r.entry.clone().unwrap_or_else(|| r.fingerprint.short()))
            }
            Some(r) => RunnerVerdict::Denied(format!(
                "runner {} is not in the allowlist",
                r.fingerprint.short()
            )),
        }
    }
}

/// What is being promoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The digest (manifest or index).
    pub digest: Digest,
    /// Platform manifests, when the digest is an index.
    pub children: Vec<Digest>,
    /// The source repository, when known.
    pub source: Option<Repository>,
}

/// One gate's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateCheck {
    /// The gate.
    pub gate: Gate,
    /// Whether it is required.
    pub required: bool,
    /// Whether it holds.
    pub met: bool,
    /// Why (one line).
    pub detail: String,
}

/// Checks every gate for `subject`.
pub fn evaluate(
    state: &State,
    subject: &Subject,
    req: &Requirements,
    runner: &dyn RunnerPolicy,
) -> Vec<GateCheck> {
    Gate::ALL
        .iter()
        .map(|&gate| {
            let (met, detail) = match gate {
                Gate::Scan => scan(state, subject),
                Gate::Signature => signature(state, &subject.digest),
                Gate::Pushed => pushed(state, subject),
                Gate::Runner => match runner.verdict(state) {
                    RunnerVerdict::NoPolicy => (true, "no runner policy configured".into()),
                    RunnerVerdict::Allowed(e) => (true, format!("runner allowed ({e})")),
                    RunnerVerdict::Denied(why) => (false, why),
                },
            };
            GateCheck {
                gate,
                required: req.requires(gate),
                met,
                detail,
            }
        })
        .collect()
}

/// The required gates that do not hold.
pub fn unmet(checks: &[GateCheck]) -> Vec<&GateCheck> {
    checks.iter().filter(|c| c.required && !c.met).collect()
}

fn scan(state: &State, s: &Subject) -> (bool, String) {
    let own = state.latest_scan(&s.digest);
    if let Some(r) = own
        && r.verdict == Verdict::Fail
    {
        return (
            false,
            format!(
                "the scan verdict for {} is fail ({} blocking finding(s))",
                s.digest.short(),
                r.blocking.len()
            ),
        );
    }
    // A platform manifest that failed its newest scan blocks the index, whatever the index's
    // own verdict says: a rescan of some platforms records verdicts for those manifests only.
    for c in &s.children {
        if let Some(r) = state.latest_scan(c)
            && r.verdict == Verdict::Fail
        {
            return (
                false,
                format!(
                    "the scan verdict for platform manifest {} is fail ({} blocking finding(s))",
                    c.short(),
                    r.blocking.len()
                ),
            );
        }
    }
    if let Some(r) = own {
        // The index's own verdict covers every platform (it is only recorded when all were
        // judged together), so a platform without a verdict of its own is covered by it.
        return (true, format!("scan passed ({})", r.scanner));
    }
    if s.children.is_empty() {
        return (
            false,
            format!("no scan verdict is recorded for {}", s.digest.short()),
        );
    }
    for c in &s.children {
        if state.latest_scan(c).is_none() {
            return (
                false,
                format!(
                    "no scan verdict is recorded for platform manifest {}",
                    c.short()
                ),
            );
        }
    }
    (true, "every platform manifest passed its scan".into())
}

fn signature(state: &State, d: &Digest) -> (bool, String) {
    match state.latest_verification(d) {
        Some(v) if v.verified => (
            true,
            format!(
                "signature verified ({}, {} signature(s))",
                v.method, v.signatures
            ),
        ),
        Some(v) => (
            false,
            format!(
                "the signature of {} did not verify{}",
                d.short(),
                v.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        None => (
            false,
            format!(
                "no verified signature is recorded for {} (run `slipway verify`)",
                d.short()
            ),
        ),
    }
}

fn pushed(state: &State, s: &Subject) -> (bool, String) {
    let hit =
        state.pushes.iter().rev().find(|p| {
            p.digest == s.digest && s.source.as_ref().is_none_or(|src| &p.repository == src)
        });
    match (hit, &s.source) {
        (Some(p), _) => (true, format!("pushed to {}", p.repository)),
        (None, Some(src)) => (
            false,
            format!(
                "{} was never pushed to {src} (no push record)",
                s.digest.short()
            ),
        ),
        (None, None) => (
            false,
            format!("{} was never pushed (no push record)", s.digest.short()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use slipway_state::{PushRecord, RunnerRecord, ScanRecord, SeverityCounts, VerificationRecord};

    fn d(n: u8) -> Digest {
        Digest::sha256_from_bytes(&[n; 32])
    }

    fn scan_rec(digest: Digest, verdict: Verdict) -> ScanRecord {
        ScanRecord {
            image: None,
            digest,
            scanner: "trivy 0.50.0".into(),
            report: None,
            sboms: Vec::new(),
            verdict,
            counts: SeverityCounts::default(),
            blocking: vec![],
            ignored: vec![],
            expiring: vec![],
            at: Utc::now(),
        }
    }

    #[test]
    fn every_unmet_gate_is_listed_and_fails_closed() {
        let state = State::default();
        let subject = Subject {
            digest: d(1),
            children: vec![],
            source: Some("127.0.0.1:5000/app".parse().unwrap()),
        };
        let checks = evaluate(
            &state,
            &subject,
            &Requirements::default(),
            &RecordedRunnerVerdict,
        );
        let names: Vec<&str> = unmet(&checks).iter().map(|c| c.gate.name()).collect();
        assert_eq!(names, ["scan", "signature", "pushed"]);
        let relaxed = Requirements {
            scan: false,
            signature: false,
            ..Requirements::default()
        };
        let checks = evaluate(&state, &subject, &relaxed, &RecordedRunnerVerdict);
        assert_eq!(unmet(&checks).len(), 1);
    }

    #[test]
    fn met_from_state() {
        let src: Repository = "127.0.0.1:5000/app".parse().unwrap();
        let mut state = State::default();
        state.scans.push(scan_rec(d(1), Verdict::Fail));
        state.scans.push(scan_rec(d(1), Verdict::Pass));
        state.verifications.push(VerificationRecord {
            digest: d(1),
            location: "x".into(),
            verified: true,
            method: "key:sha256:…".into(),
            signatures: 1,
            attestations: vec![],
            reason: None,
            at: Utc::now(),
        });
        state.pushes.push(PushRecord {
            image: None,
            repository: src.clone(),
            digest: d(1),
            tags: vec![],
            artifacts: vec![],
            bytes_sent: 0,
            bytes_mounted: 0,
            bytes_skipped: 0,
            at: Utc::now(),
        });
        let subject = Subject {
            digest: d(1),
            children: vec![],
            source: Some(src),
        };
        let checks = evaluate(
            &state,
            &subject,
            &Requirements::default(),
            &RecordedRunnerVerdict,
        );
        assert!(unmet(&checks).is_empty(), "{checks:?}");
        // A runner verdict that says no is a gate.
        state.runners.push(RunnerRecord {
            fingerprint: d(9),
            components: Default::default(),
            missing: vec![],
            allowed: Some(false),
            entry: None,
            step: None,
            environment: None,
            at: Utc::now(),
        });
        let checks = evaluate(
            &state,
            &subject,
            &Requirements::default(),
            &RecordedRunnerVerdict,
        );
        assert_eq!(unmet(&checks)[0].gate, Gate::Runner);
    }

    #[test]
    fn index_scans_count_per_platform() {
        let mut state = State::default();
        state.scans.push(scan_rec(d(2), Verdict::Pass));
        state.scans.push(scan_rec(d(3), Verdict::Fail));
        let subject = Subject {
            digest: d(1),
            children: vec![d(2), d(3)],
            source: None,
        };
        let (met, why) = scan(&state, &subject);
        assert!(!met && why.contains("platform manifest"), "{why}");
        // Without the failing one, a platform with no verdict is unmet too.
        state.scans.pop();
        let (met, why) = scan(&state, &subject);
        assert!(!met && why.contains("no scan verdict"), "{why}");
        state.scans.push(scan_rec(d(3), Verdict::Pass));
        assert!(scan(&state, &subject).0);
    }

    // Regression: a rescan of one platform recorded a pass for the whole index, and the gate
    // read only the index's verdict, so another platform's failed scan was let through.
    #[test]
    fn index_pass_with_a_failed_platform_is_refused() {
        let mut state = State::default();
        let subject = Subject {
            digest: d(1),
            children: vec![d(2), d(3)],
            source: None,
        };
        state.scans.push(scan_rec(d(3), Verdict::Fail));
        state.scans.push(scan_rec(d(2), Verdict::Pass));
        state.scans.push(scan_rec(d(1), Verdict::Pass));
        let (met, why) = scan(&state, &subject);
        assert!(!met, "{why}");
        assert!(why.contains(&d(3).short()) && why.contains("fail"), "{why}");
        let checks = evaluate(
            &state,
            &subject,
            &Requirements::default(),
            &RecordedRunnerVerdict,
        );
        assert!(unmet(&checks).iter().any(|c| c.gate == Gate::Scan));
        // A newer pass for that platform clears it; the index's verdict covers the platform
        // that has none of its own.
        state.scans.push(scan_rec(d(3), Verdict::Pass));
        assert!(scan(&state, &subject).0);
        let mut only_index = State::default();
        only_index.scans.push(scan_rec(d(1), Verdict::Pass));
        let (met, why) = scan(&only_index, &subject);
        assert!(met, "{why}");
        // An index that failed stays refused even when every platform passed since.
        let mut state = State::default();
        state.scans.push(scan_rec(d(1), Verdict::Fail));
        state.scans.push(scan_rec(d(2), Verdict::Pass));
        state.scans.push(scan_rec(d(3), Verdict::Pass));
        assert!(!scan(&state, &subject).0);
    }
}
