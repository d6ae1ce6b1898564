//! The allowlist: which machines may run which steps in which environments.
//!
//! An entry matches a fingerprint when its `fingerprint` equals the id, or when at least
//! `min_match` of its listed component hashes are among the machine's (k of n: a swapped NIC does
//! not lock a runner out). Its `environments` and `steps`, when listed, must include the ones
//! asked for. No entry matching means denied; an empty allowlist denies everything.

use crate::Fingerprint;

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// A name for messages and the state.
    pub name: String,
    /// The whole fingerprint id (`sha256:…`).
    pub fingerprint: Option<String>,
    /// Component hashes (`sha256:…`), for a k-of-n match.
    pub components: Vec<String>,
    /// How many of `components` must match (default: all).
    pub min_match: Option<usize>,
    /// Environments it may act for (empty: any).
    pub environments: Vec<String>,
    /// Steps it may run (empty: any).
    pub steps: Vec<String>,
}

/// The check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by this entry.
    Allowed(String),
    /// Denied, with the reason.
    Denied(String),
}

impl Entry {
    fn machine_matches(&self, fp: &Fingerprint) -> Result<(), String> {
        if let Some(id) = &self.fingerprint
            && id == &fp.id
        {
            return Ok(());
        }
        if !self.components.is_empty() {
            let have = self
                .components
                .iter()
                .filter(|h| fp.components.values().any(|v| v == *h))
                .count();
            let need = self.min_match.unwrap_or(self.components.len());
            if have >= need {
                return Ok(());
            }
            return Err(format!(
                "{}: {have} of {} components match, {need} needed",
                self.name,
                self.components.len()
            ));
        }
        Err(format!("{}: fingerprint differs", self.name))
    }
}

/// Checks `fp` for `environment` and `step` against `entries`.
pub fn check(
    entries: &[Entry],
    fp: &Fingerprint,
    environment: Option<&str>,
    step: &str,
) -> Decision {
    if entries.is_empty() {
        return Decision::Denied("the runner allowlist is empty".into());
    }
    let mut why = Vec::new();
    for e in entries {
        if let Err(w) = e.machine_matches(fp) {
            why.push(w);
            continue;
        }
        if !e.steps.is_empty() && !e.steps.iter().any(|s| s == step) {
            why.push(format!(
                "{}: may not run {step} (only {})",
                e.name,
                e.steps.join(", ")
            ));
            continue;
        }
        if !e.environments.is_empty() {
            match environment {
                Some(env) if e.environments.iter().any(|x| x == env) => {}
                Some(env) => {
                    why.push(format!(
                        "{}: not allowed for environment {env} (only {})",
                        e.name,
                        e.environments.join(", ")
                    ));
                    continue;
                }
                None => {
                    why.push(format!(
                        "{}: only for environments {}, none given",
                        e.name,
                        e.environments.join(", ")
                    ));
                    continue;
                }
            }
        }
        return Decision::Allowed(e.name.clone());
    }
    Decision::Denied(format!(
        "runner not allowed: fingerprint {} matches no allowlist entry ({})",
        fp.id,
        why.join("; ")
    ))
}
