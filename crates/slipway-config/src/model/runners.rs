//! The `runners:` section (runner binding). When it is present, sign, push and promote check
//! the machine against it before acting, and deny when nothing matches (fail closed).

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// Runner allowlist policy.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnersConfig {
    /// Machines allowed to sign, push and promote. Empty: none is.
    #[serde(default)]
    pub allow: Vec<RunnerEntry>,
}

/// One allowed machine (`slipway runner fingerprint` prints what to put here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunnerEntry {
    /// A name for messages and the state.
    pub name: String,
    /// The whole fingerprint (`sha256:…`).
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Component hashes (`sha256:…`) for a k-of-n match. The `cpu` component never counts
    /// towards a match (identical machines share it).
    #[serde(default)]
    pub components: Vec<String>,
    /// How many of `components` must match (default: all of them): 1..=n, and at least 2 when
    /// two or more are listed.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub min_match: Option<usize>,
    /// Environments it may act for (default: any).
    #[serde(default)]
    pub environments: Vec<String>,
    /// Steps it may run: sign, push, promote (default: any).
    #[serde(default)]
    pub steps: Vec<String>,
}

/// The steps a runner policy covers.
pub const RUNNER_STEPS: &[&str] = &["sign", "push", "promote"];

/// The fingerprint id of a machine where no component could be read: sha256 of nothing. It is
/// the same on every such machine, so it identifies none.
pub const EMPTY_FINGERPRINT: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// `runners:` present but empty (`runners:` or `runners: null`) is a policy that allows nothing,
/// not the absence of a policy: a policy reduced to nothing must not switch the check off.
pub(crate) fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RunnersConfig>, D::Error> {
    Ok(Some(
        Option::<RunnersConfig>::deserialize(d)?.unwrap_or_default(),
    ))
}

fn is_hash(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

impl RunnersConfig {
    /// Checks what serde cannot: hash syntax, `min_match` within 1..=n (and at least 2 of
    /// several), known steps. Returns the field (`runners.allow[i].…`) and what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (i, e) in self.allow.iter().enumerate() {
            let field = |k: &str| format!("runners.allow[{i}].{k}");
            if e.name.trim().is_empty() {
                return Err((field("name"), "an entry needs a name".into()));
            }
            if let Some(fp) = &e.fingerprint {
                if !is_hash(fp) {
                    return Err((
                        field("fingerprint"),
                        format!(
                            "`{fp}` is not a fingerprint (sha256: and 64 lower-case hex digits, as `slipway runner fingerprint` prints)"
                        ),
                    ));
                }
                if fp == EMPTY_FINGERPRINT {
                    return Err((
                        field("fingerprint"),
                        "this is the fingerprint of a machine where no component could be read (sha256 of nothing): every such machine has it, so it identifies none".into(),
                    ));
                }
            }
            for (j, c) in e.components.iter().enumerate() {
                if !is_hash(c) {
                    return Err((
                        format!("runners.allow[{i}].components[{j}]"),
                        format!(
                            "`{c}` is not a component hash (sha256: and 64 lower-case hex digits)"
                        ),
                    ));
                }
            }
            if e.fingerprint.is_none() && e.components.is_empty() {
                return Err((
                    format!("runners.allow[{i}]"),
                    format!(
                        "entry `{}` has neither `fingerprint` nor `components`: it could never match",
                        e.name
                    ),
                ));
            }
            let n = e.components.len();
            if let Some(k) = e.min_match {
                if n == 0 {
                    return Err((
                        field("min_match"),
                        "min_match without components: list the component hashes it counts".into(),
                    ));
                }
                if k < 1 || k > n {
                    return Err((
                        field("min_match"),
                        format!(
                            "min_match {k} is outside 1..={n} (the number of components listed)"
                        ),
                    ));
                }
                if n >= 2 && k < 2 {
                    return Err((
                        field("min_match"),
                        format!(
                            "min_match 1 of {n} components: one component alone (a MAC, a machine-id) is easy to copy onto another machine; at least 2 must match"
                        ),
                    ));
                }
            }
            for (j, s) in e.steps.iter().enumerate() {
                if !RUNNER_STEPS.contains(&s.as_str()) {
                    return Err((
                        format!("runners.allow[{i}].steps[{j}]"),
                        format!(
                            "`{s}` is not a step the runner policy covers ({})",
                            RUNNER_STEPS.join(", ")
                        ),
                    ));
                }
            }
            for (j, env) in e.environments.iter().enumerate() {
                if env.trim().is_empty() {
                    return Err((
                        format!("runners.allow[{i}].environments[{j}]"),
                        "an empty environment name".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}
