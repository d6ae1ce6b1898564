//! The allowlist: which machines may run which steps in which environments.
//!
//! An entry matches a fingerprint when its `fingerprint` equals the id, or when at least
//! `min_match` of its listed component hashes are among the machine's (k of n: a swapped NIC does
//! not lock a runner out). The `cpu` component never counts towards that (identical machines share
//! it), at least one component must match, and two when the entry lists several. Its
//! `environments` and `steps`, when listed, must include the ones asked for. No entry matching
//! means denied; an empty allowlist denies everything, and so does a machine whose fingerprint
//! identifies nothing (no component but `cpu` readable).

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
            // Only identifying components count: every VM of a size has the same `cpu`.
            let have = self
                .components
                .iter()
                .filter(|h| fp.identifying().any(|(_, v)| v == *h))
                .count();
            let cpu_listed = fp
                .components
                .get(crate::fingerprint::CPU)
                .is_some_and(|c| self.components.contains(c));
            let n = self.components.len();
            // Never fewer than one, and two when several are listed, whatever `min_match` says
            // (the config refuses such values; this keeps the check closed on its own).
            let need = self.min_match.unwrap_or(n).max(1).max(n.min(2));
            if have >= need {
                return Ok(());
            }
            return Err(format!(
                "{}: {have} of {n} components match, {need} needed{}",
                self.name,
                if cpu_listed {
                    " (the cpu component never counts)"
                } else {
                    ""
                }
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
    if let Some(why) = fp.unbindable() {
        return Decision::Denied(format!("runner not allowed: {why}"));
    }
    if entries.is_empty() {
        return Decision::Denied(
            "runner not allowed: the runner allowlist (runners.allow) is empty, so no machine is"
                .into(),
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::component_hash;

    fn machine(parts: &[(&str, &str)]) -> Fingerprint {
        let mut fp = Fingerprint::default();
        for (n, v) in parts {
            fp.components.insert((*n).into(), component_hash(n, v));
        }
        let mut hs: Vec<&String> = fp.components.values().collect();
        hs.sort();
        fp.id = format!("sha256:{}", hs.len());
        fp
    }

    fn hashes(parts: &[(&str, &str)]) -> Vec<String> {
        parts.iter().map(|(n, v)| component_hash(n, v)).collect()
    }

    const M: &[(&str, &str)] = &[
        ("cpu", "Test CPU x2"),
        ("dmi.product_uuid", "u"),
        ("machine_id", "m"),
        ("nic.eth0", "a"),
        ("nic.eth1", "b"),
    ];

    fn entry(components: Vec<String>, min_match: Option<usize>) -> Entry {
        Entry {
            name: "e".into(),
            components,
            min_match,
            ..Entry::default()
        }
    }

    #[test]
    fn k_of_n_counts_identifying_components_only() {
        let fp = machine(M);
        let four = hashes(&M[1..]);
        assert_eq!(
            check(&[entry(four.clone(), Some(3))], &fp, None, "sign"),
            Decision::Allowed("e".into())
        );
        // One NIC swapped: 3 of 4.
        let swapped = machine(&[M[0], M[1], M[2], M[3], ("nic.eth1", "z")]);
        assert!(matches!(
            check(&[entry(four.clone(), Some(3))], &swapped, None, "sign"),
            Decision::Allowed(_)
        ));
        // Both swapped: 2 of 4 is short.
        let both = machine(&[M[0], M[1], M[2], ("nic.eth0", "y"), ("nic.eth1", "z")]);
        let Decision::Denied(why) = check(&[entry(four, Some(3))], &both, None, "sign") else {
            panic!("allowed")
        };
        assert!(
            why.starts_with("runner not allowed")
                && why.contains("2 of 4 components match, 3 needed"),
            "{why}"
        );
    }

    #[test]
    fn the_cpu_never_counts_and_one_of_several_is_never_enough() {
        // Another VM of the same size: only the CPU matches.
        let other = machine(&[M[0], ("machine_id", "other")]);
        let with_cpu = hashes(&[M[0], M[2]]);
        for min in [None, Some(0), Some(1), Some(2)] {
            let d = check(&[entry(with_cpu.clone(), min)], &other, None, "sign");
            assert!(
                matches!(d, Decision::Denied(ref w) if w.contains("cpu component never counts")),
                "{min:?}: {d:?}"
            );
        }
        // min_match 0 or 1 of two listed still needs two.
        let half = machine(&[M[0], M[1], ("machine_id", "other")]);
        for min in [Some(0), Some(1)] {
            let d = check(&[entry(hashes(&M[1..3]), min)], &half, None, "sign");
            assert!(
                matches!(d, Decision::Denied(ref w) if w.contains("1 of 2 components match, 2 needed")),
                "{d:?}"
            );
        }
        // A single listed component: that one must match (and it is not the CPU).
        assert!(matches!(
            check(
                &[entry(hashes(&M[2..3]), Some(0))],
                &machine(M),
                None,
                "sign"
            ),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            check(&[entry(hashes(&M[..1]), None)], &machine(M), None, "sign"),
            Decision::Denied(_)
        ));
    }

    #[test]
    fn a_machine_that_identifies_nothing_is_denied_even_by_its_own_id() {
        let cpu_only = machine(&M[..1]);
        let e = Entry {
            name: "vm".into(),
            fingerprint: Some(cpu_only.id.clone()),
            ..Entry::default()
        };
        let Decision::Denied(why) = check(&[e], &cpu_only, None, "sign") else {
            panic!("allowed")
        };
        assert!(why.contains("identifies nothing"), "{why}");
        let Decision::Denied(why) =
            check(&[e_fp(&machine(M))], &Fingerprint::default(), None, "sign")
        else {
            panic!("allowed")
        };
        assert!(why.contains("no component could be read"), "{why}");
    }

    fn e_fp(fp: &Fingerprint) -> Entry {
        Entry {
            name: "by-id".into(),
            fingerprint: Some(fp.id.clone()),
            ..Entry::default()
        }
    }

    #[test]
    fn steps_and_environments_restrict_and_an_empty_allowlist_denies() {
        let fp = machine(M);
        let mut e = e_fp(&fp);
        e.steps = vec!["sign".into()];
        e.environments = vec!["staging".into()];
        assert!(matches!(
            check(&[e.clone()], &fp, Some("staging"), "sign"),
            Decision::Allowed(_)
        ));
        let d = check(&[e.clone()], &fp, Some("staging"), "push");
        assert!(
            matches!(d, Decision::Denied(ref w) if w.contains("may not run push")),
            "{d:?}"
        );
        let d = check(&[e.clone()], &fp, Some("production"), "sign");
        assert!(
            matches!(d, Decision::Denied(ref w) if w.contains("environment production")),
            "{d:?}"
        );
        let d = check(&[e], &fp, None, "sign");
        assert!(
            matches!(d, Decision::Denied(ref w) if w.contains("none given")),
            "{d:?}"
        );
        let d = check(&[], &fp, None, "sign");
        assert!(
            matches!(d, Decision::Denied(ref w) if w.starts_with("runner not allowed") && w.contains("empty")),
            "{d:?}"
        );
    }
}
