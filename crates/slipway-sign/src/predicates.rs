//! The predicates Slipway attests: the SBOM, SLSA provenance v1, and the scan verdict.
//!
//! Predicate type URIs are the ones cosign uses for the same documents (cosign
//! `pkg/cosign/attestation/attestation.go`, `cmd/cosign/cli/options/predicate.go`).

use std::collections::BTreeSet;

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};
use slipway_state::{CiKind, Image, RunInfo, RunnerRecord, ScanRecord, StepRecord};

use crate::SignError;

/// SPDX documents.
pub const SPDX: &str = "https://spdx.dev/Document";
/// CycloneDX documents.
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// cosign's vulnerability scan predicate.
pub const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// What Slipway's provenance `buildType` says: the build ran Slipway's steps.
pub const BUILD_TYPE: &str =
    "https://github.com/slipway-dev/slipway/blob/main/docs/signing.md#provenance-v1";

/// Predicate type URIs for the names users type (`sbom` means either SBOM format).
pub fn predicate_types(name: &str) -> Vec<String> {
    match name {
        "sbom" => vec![SPDX.into(), CYCLONEDX.into()],
        "spdx" | "spdxjson" => vec![SPDX.into()],
        "cyclonedx" => vec![CYCLONEDX.into()],
        "provenance" | "slsaprovenance" | "slsaprovenance1" => vec![SLSA_PROVENANCE_V1.into()],
        "vuln" => vec![VULN.into()],
        uri => vec![uri.to_owned()],
    }
}

/// The SBOM as a predicate: the document itself, unchanged. Returns its predicate type.
pub fn sbom(bytes: &[u8], what: &str) -> Result<(&'static str, Value), SignError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| SignError::invalid(what, format!("the SBOM is not JSON: {e}")))?;
    let ty = if v.get("spdxVersion").is_some() {
        SPDX
    } else if v.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        CYCLONEDX
    } else {
        return Err(SignError::invalid(
            what,
            "neither an SPDX JSON (spdxVersion) nor a CycloneDX JSON (bomFormat) document",
        ));
    };
    Ok((ty, v))
}

fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn repo_url(run: &RunInfo) -> Option<String> {
    let server = run.server_url.as_deref()?.trim_end_matches('/');
    Some(format!("{server}/{}", run.repository.as_deref()?))
}

/// The builder id: the CI workflow that ran Slipway.
pub fn builder_id(run: &RunInfo, env: &slipway_ci::Env) -> String {
    let server = run
        .server_url
        .as_deref()
        .unwrap_or(match run.ci {
            CiKind::Github => "https://github.com",
            _ => "https://gitlab.com",
        })
        .trim_end_matches('/');
    match run.ci {
        CiKind::Github => match (&run.workflow_ref, &run.repository) {
            (Some(w), _) => format!("{server}/{w}"),
            (None, Some(r)) => format!("{server}/{r}/actions"),
            _ => format!("{server}/actions/runner"),
        },
        CiKind::Gitlab => match (&run.repository, env.non_empty(slipway_env::CI_RUNNER_ID)) {
            (Some(r), Some(id)) => format!("{server}/{r}/-/runners/{id}"),
            (Some(r), None) => format!("{server}/{r}/-/runners"),
            _ => format!("{server}/-/runners"),
        },
        CiKind::Local => "https://github.com/slipway-dev/slipway/local".to_owned(),
    }
}

fn invocation_id(run: &RunInfo) -> Option<String> {
    let repo = repo_url(run)?;
    let id = run.run_id.as_deref()?;
    Some(match run.ci {
        CiKind::Github => format!(
            "{repo}/actions/runs/{id}/attempts/{}",
            run.run_attempt.as_deref().unwrap_or("1")
        ),
        CiKind::Gitlab => format!("{repo}/-/pipelines/{id}"),
        CiKind::Local => return None,
    })
}

/// What SLSA provenance is made from.
#[derive(Debug, Clone, Copy)]
pub struct ProvenanceInput<'a> {
    /// The CI run.
    pub run: &'a RunInfo,
    /// The image name in the state.
    pub image_name: Option<&'a str>,
    /// The image record (base image, binaries and their toolchains).
    pub image: Option<&'a Image>,
    /// The runner of this signing step: the record of its policy check, or its fingerprint
    /// unverified (`allowed` unset) when no policy is configured.
    pub runner: Option<&'a RunnerRecord>,
    /// The build step's record (its start and end times).
    pub build: Option<&'a StepRecord>,
    /// Environment (GitLab runner id).
    pub env: &'a slipway_ci::Env,
}

/// A SLSA provenance v1 predicate. Everything in it comes from the state and the CI run, so
/// attesting twice in one pipeline gives the same predicate.
pub fn provenance(input: ProvenanceInput<'_>) -> Value {
    let run = input.run;
    let mut deps = Vec::new();
    if let Some(commit) = &run.commit {
        let mut d = Map::new();
        if let Some(url) = repo_url(run) {
            let uri = match &run.git_ref {
                Some(r) => format!("git+{url}@{r}"),
                None => format!("git+{url}"),
            };
            d.insert("uri".into(), uri.into());
        }
        d.insert("digest".into(), json!({"gitCommit": commit}));
        d.insert("name".into(), "source".into());
        deps.push(Value::Object(d));
    }
    if let Some(base) = input.image.and_then(|i| i.base.as_ref())
        && base.name != "scratch"
    {
        let mut d = Map::new();
        d.insert("name".into(), "base-image".into());
        d.insert("uri".into(), base.name.clone().into());
        if let Some(digest) = &base.digest {
            d.insert(
                "digest".into(),
                json!({digest.algorithm().name(): digest.hex()}),
            );
        }
        deps.push(Value::Object(d));
    }
    let toolchains: BTreeSet<&str> = input
        .image
        .map(|i| {
            i.platforms
                .values()
                .flat_map(|p| p.binaries.iter().filter_map(|b| b.toolchain.as_deref()))
                .collect()
        })
        .unwrap_or_default();
    for t in toolchains {
        deps.push(json!({
            "name": "toolchain",
            "uri": format!("toolchain:{t}"),
            "annotations": {"version": t},
        }));
    }

    let mut external = Map::new();
    let mut source = Map::new();
    if let Some(u) = repo_url(run) {
        source.insert("repository".into(), u.into());
    }
    if let Some(r) = &run.git_ref {
        source.insert("ref".into(), r.clone().into());
    }
    external.insert("source".into(), Value::Object(source));
    let mut workflow = Map::new();
    for (k, v) in [
        ("name", &run.workflow),
        ("ref", &run.workflow_ref),
        ("event", &run.event),
    ] {
        if let Some(v) = v {
            workflow.insert(k.into(), v.clone().into());
        }
    }
    if !workflow.is_empty() {
        external.insert("workflow".into(), Value::Object(workflow));
    }
    if let Some(n) = input.image_name {
        external.insert("image".into(), n.into());
    }

    let mut internal = Map::new();
    internal.insert(
        "ci".into(),
        serde_json::to_value(run.ci).expect("a CI kind serialises"),
    );
    for (k, v) in [
        ("runId", &run.run_id),
        ("runAttempt", &run.run_attempt),
        ("job", &run.job),
        ("actor", &run.actor),
    ] {
        if let Some(v) = v {
            internal.insert(k.into(), v.clone().into());
        }
    }
    let mut byproducts = Vec::new();
    if let Some(r) = input.runner {
        internal.insert("runnerFingerprint".into(), r.fingerprint.to_string().into());
        // The verdict with the fingerprint: which allowlist entry admitted the machine, for
        // which environment; or that no policy checked it.
        let mut runner = Map::new();
        runner.insert("fingerprint".into(), r.fingerprint.to_string().into());
        runner.insert(
            "verdict".into(),
            match r.allowed {
                Some(true) => "allowed",
                Some(false) => "denied",
                None => "unverified",
            }
            .into(),
        );
        if let Some(e) = &r.entry {
            runner.insert("entry".into(), e.clone().into());
        }
        if let Some(e) = &r.environment {
            runner.insert("environment".into(), e.clone().into());
        }
        internal.insert("runner".into(), Value::Object(runner));
        byproducts.push(json!({
            "name": "runner-fingerprint",
            "digest": {r.fingerprint.algorithm().name(): r.fingerprint.hex()},
        }));
    }

    let mut metadata = Map::new();
    if let Some(id) = invocation_id(run) {
        metadata.insert("invocationId".into(), id.into());
    }
    if let Some(b) = input.build {
        metadata.insert("startedOn".into(), ts(&b.started).into());
        metadata.insert("finishedOn".into(), ts(&b.finished).into());
    }
    let mut run_details = Map::new();
    run_details.insert(
        "builder".into(),
        json!({
            "id": builder_id(run, input.env),
            "version": {"slipway": env!("CARGO_PKG_VERSION")},
        }),
    );
    run_details.insert("metadata".into(), Value::Object(metadata));
    if !byproducts.is_empty() {
        run_details.insert("byproducts".into(), Value::Array(byproducts));
    }
    json!({
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "internalParameters": internal,
            "resolvedDependencies": deps,
        },
        "runDetails": run_details,
    })
}

/// cosign's vulnerability predicate for a scan verdict; `report` is the scanner's raw JSON
/// report when it was kept, else the verdict summary stands in as the result.
pub fn vuln(
    scan: &ScanRecord,
    report: Option<Value>,
    run: &RunInfo,
    env: &slipway_ci::Env,
) -> Value {
    let (name, version) = scan
        .scanner
        .split_once(' ')
        .map_or((scan.scanner.as_str(), ""), |(n, v)| (n, v));
    let uri = match name {
        "trivy" => format!("pkg:github/aquasecurity/trivy@{version}"),
        "grype" => format!("pkg:github/anchore/grype@{version}"),
        other => other.to_owned(),
    };
    let result = report.unwrap_or_else(|| {
        json!({
            "verdict": scan.verdict,
            "counts": scan.counts,
            "blocking": scan.blocking,
            "ignored": scan.ignored,
        })
    });
    let at = ts(&scan.at);
    json!({
        "invocation": {
            "parameters": null,
            "uri": invocation_id(run).unwrap_or_default(),
            "event_id": run.run_id.clone().unwrap_or_default(),
            "builder.id": builder_id(run, env),
        },
        "scanner": {
            "uri": uri,
            "version": version,
            "db": {"uri": "", "version": ""},
            "result": result,
        },
        "metadata": {"scanStartedOn": at, "scanFinishedOn": at},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_types() {
        assert_eq!(sbom(br#"{"spdxVersion":"SPDX-2.3"}"#, "f").unwrap().0, SPDX);
        assert_eq!(
            sbom(br#"{"bomFormat":"CycloneDX"}"#, "f").unwrap().0,
            CYCLONEDX
        );
        assert!(sbom(b"{}", "f").is_err());
        assert!(sbom(b"nope", "f").is_err());
    }

    #[test]
    fn vuln_predicate_has_cosign_shape() {
        // Same keys as cosign's own example predicate.
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vuln-predicate.json");
        let example: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        let scan: ScanRecord = serde_json::from_value(json!({
            "digest": format!("sha256:{}", "a".repeat(64)),
            "scanner": "trivy 0.50.0",
            "verdict": "pass",
            "counts": {"critical": 0, "high": 1},
            "at": "2024-01-01T00:00:00Z"
        }))
        .unwrap();
        let run: RunInfo = serde_json::from_value(json!({"ci": "local"})).unwrap();
        let got = vuln(&scan, None, &run, &slipway_ci::Env::default());
        fn keys(v: &Value) -> Vec<String> {
            let mut out = Vec::new();
            if let Some(o) = v.as_object() {
                for (k, x) in o {
                    if k == "result" || k == "parameters" {
                        out.push(k.clone());
                        continue;
                    }
                    out.push(k.clone());
                    out.extend(keys(x).into_iter().map(|s| format!("{k}.{s}")));
                }
            }
            out.sort();
            out
        }
        assert_eq!(keys(&got), keys(&example));
        assert_eq!(got["scanner"]["version"], "0.50.0");
        assert_eq!(got["scanner"]["result"]["verdict"], "pass");
    }
}
