//! `slipway-scan-sbom --rescan`: re-evaluate an image that is already built (and pushed) from
//! its SBOMs, without the image or a rebuild — the nightly job with a fresh vulnerability
//! database. Each SBOM names its manifest digest; the scanner reads the SBOM (`trivy sbom`,
//! `grype sbom:`), or `--report` gives the scanner's report; the policy judges it and a new
//! verdict is recorded per manifest (and for the index of the image, when the state knows it), so
//! promote sees the newest verdict.

use std::path::{Path, PathBuf};

use slipway_state::{ScanRecord, SeverityCounts, Verdict};
use slipway_types::Digest;

use crate::commands::scan_sbom::{ScanSbomArgs, policy, to_state, write_file};
use crate::error::Failure;
use crate::{Context, StepReport};

/// An SBOM to rescan and the image manifest it describes.
struct Input {
    path: PathBuf,
    digest: Digest,
    image: Option<String>,
    platform: Option<String>,
}

/// The subject of an SBOM: CycloneDX `metadata.component` (`version` = digest), or the SPDX
/// package the document DESCRIBES (`versionInfo` = digest).
fn subject_of(path: &Path) -> Result<(Digest, Option<String>, Option<String>), Failure> {
    let bad = |why: String| {
        Failure::usage(format!("--sbom `{}`: {why}", path.display()))
            .with_hint("give an SPDX 2.3 or CycloneDX JSON SBOM written by slipway-scan-sbom, or name the digest with --digest")
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let (version, name, platform) = if doc.get("bomFormat").is_some() {
        let c = &doc["metadata"]["component"];
        let platform = c["properties"].as_array().and_then(|p| {
            p.iter()
                .find(|p| p["name"] == "slipway:platform")
                .and_then(|p| p["value"].as_str())
                .map(str::to_owned)
        });
        (
            c["version"].as_str().map(str::to_owned),
            c["name"].as_str().map(str::to_owned),
            platform,
        )
    } else if doc.get("spdxVersion").is_some() {
        let described = doc["relationships"].as_array().and_then(|rels| {
            rels.iter()
                .find(|r| {
                    r["spdxElementId"] == "SPDXRef-DOCUMENT" && r["relationshipType"] == "DESCRIBES"
                })
                .and_then(|r| r["relatedSpdxElement"].as_str())
        });
        let pkg = doc["packages"].as_array().and_then(|ps| {
            ps.iter()
                .find(|p| Some(p["SPDXID"].as_str().unwrap_or_default()) == described)
        });
        let platform = pkg
            .and_then(|p| p["comment"].as_str())
            .and_then(|c| c.strip_prefix("platform "))
            .map(str::to_owned);
        (
            pkg.and_then(|p| p["versionInfo"].as_str())
                .map(str::to_owned),
            pkg.and_then(|p| p["name"].as_str()).map(str::to_owned),
            platform,
        )
    } else {
        return Err(bad(
            "neither CycloneDX (`bomFormat`) nor SPDX (`spdxVersion`)".into(),
        ));
    };
    let digest = version
        .as_deref()
        .and_then(|v| v.parse::<Digest>().ok())
        .ok_or_else(|| bad("it does not name the image's digest".into()))?;
    Ok((digest, name, platform))
}

/// SBOMs from `--sbom`, else the state's (CycloneDX preferred, one per manifest).
fn inputs(
    ctx: &Context,
    args: &ScanSbomArgs,
    state: &slipway_state::State,
) -> Result<Vec<Input>, Failure> {
    let mut out = Vec::new();
    if !args.sbom.is_empty() {
        for p in &args.sbom {
            let path = ctx.cwd.join(p);
            let (digest, image, platform) = subject_of(&path)?;
            out.push(Input {
                path,
                digest,
                image,
                platform,
            });
        }
        return Ok(out);
    }
    let mut chosen: Vec<&slipway_state::SbomRecord> = Vec::new();
    for r in &state.sboms {
        if let Some(img) = &args.image
            && r.image.as_deref() != Some(img)
        {
            continue;
        }
        match chosen.iter_mut().find(|c| c.subject == r.subject) {
            Some(c) if r.format == slipway_state::SbomFormat::CyclonedxJson => *c = r,
            Some(_) => {}
            None => chosen.push(r),
        }
    }
    for r in chosen {
        let path = crate::commands::sign::state_path(ctx, &r.path);
        if !path.is_file() {
            return Err(Failure::usage(format!(
                "the state records the SBOM `{}`, which is not here",
                r.path
            ))
            .with_hint("download the SBOM artifact, or pass it with --sbom FILE"));
        }
        out.push(Input {
            path,
            digest: r.subject.clone(),
            image: r.image.clone(),
            platform: r.platform.as_ref().map(ToString::to_string),
        });
    }
    if out.is_empty() {
        return Err(Failure::usage("--rescan: no SBOM to rescan").with_hint(
            "pass --sbom FILE (written by slipway-scan-sbom), or run slipway-scan-sbom first so the state records its SBOMs",
        ));
    }
    Ok(out)
}

fn run_on_sbom(ctx: &Context, tool: &str, sbom: &Path, out: &Path) -> Result<(), Failure> {
    let mut cmd = std::process::Command::new(tool);
    match tool {
        "trivy" => {
            cmd.args(["sbom", "--quiet", "--format", "json", "--output"])
                .arg(out)
                .arg(sbom);
        }
        "grype" => {
            cmd.arg(format!("sbom:{}", sbom.display()))
                .args(["-o", "json", "--file"])
                .arg(out);
        }
        other => {
            return Err(Failure::usage(format!(
                "--scanner: `{other}` is not supported (trivy or grype)"
            )));
        }
    }
    ctx.printer
        .detail(&format!("running {tool} on the SBOM {}", sbom.display()));
    let status = cmd.status().map_err(|e| {
        Failure::external(format!("cannot run {tool}: {e}")).with_hint(format!(
            "install {tool}, or pass its report with --report FILE"
        ))
    })?;
    if !status.success() {
        return Err(Failure::external(format!(
            "{tool} failed on the SBOM {} ({status})",
            sbom.display()
        ))
        .with_hint("the scanner needs its vulnerability database (network, or a mirror via its own settings)"));
    }
    Ok(())
}

/// Runs the rescan.
pub fn rescan(ctx: &Context, args: &ScanSbomArgs) -> Result<StepReport, Failure> {
    let state_file = ctx.state_file();
    let state = state_file.read()?.unwrap_or_default();
    let cfg = ctx.settings.config.config.scan.clone().unwrap_or_default();
    let (pol, fail_on) = policy(ctx, args)?;
    let inputs = inputs(ctx, args, &state)?;
    let tool = args.scanner.clone().or(cfg.scanner.clone());
    let given_report = args.report.as_ref().map(|r| ctx.cwd.join(r));
    if given_report.is_some() && inputs.len() > 1 {
        return Err(Failure::usage(format!(
            "--report gives one report, but there are {} SBOMs to rescan",
            inputs.len()
        ))
        .with_hint("pick the SBOM with --sbom FILE, or let --scanner read each SBOM"));
    }
    if given_report.is_none() && tool.is_none() {
        return Err(Failure::usage("--rescan: nothing reads the SBOM")
            .with_hint("pass --scanner trivy|grype (it scans the SBOM), or --report FILE"));
    }
    let today = chrono::Utc::now().date_naive();
    let mut records = Vec::new();
    let mut all_findings = Vec::new();
    let mut blocking_lines = Vec::new();
    let mut scanner_name = String::new();
    for input in &inputs {
        let report_path = match (&given_report, &tool) {
            (Some(r), _) => r.clone(),
            (None, Some(t)) => {
                let out = ctx
                    .settings
                    .state_dir()
                    .join(format!("scan/{t}-sbom-{}.json", input.digest.hex()));
                if let Some(p) = out.parent() {
                    std::fs::create_dir_all(p)
                        .map_err(|e| Failure::usage(format!("`{}`: {e}", p.display())))?;
                }
                run_on_sbom(ctx, t, &input.path, &out)?;
                out
            }
            (None, None) => unreachable!("checked above"),
        };
        let report = slipway_scan::report::read(&report_path)?;
        scanner_name = report.scanner.clone();
        let outcome = pol.evaluate(&report.findings, today);
        let count = |s| outcome.count(s);
        use slipway_scan::Severity as S;
        let midnight = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let label = input
            .platform
            .clone()
            .unwrap_or_else(|| input.digest.short());
        for f in &outcome.blocking {
            blocking_lines.push(format!(
                "{label}: {} {} {} {}",
                f.severity,
                f.id,
                f.package.as_deref().unwrap_or(&f.target),
                f.version.as_deref().unwrap_or("")
            ));
        }
        records.push(ScanRecord {
            image: args.image.clone().or(input.image.clone()),
            digest: input.digest.clone(),
            scanner: report.scanner.clone(),
            report: Some(ctx.settings.display_path(&ctx.cwd, &report_path)),
            sboms: vec![ctx.settings.display_path(&ctx.cwd, &input.path)],
            verdict: if outcome.pass {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            counts: SeverityCounts {
                critical: count(S::Critical),
                high: count(S::High),
                medium: count(S::Medium),
                low: count(S::Low),
                unknown: count(S::Unknown),
            },
            blocking: outcome.blocking.iter().map(to_state).collect(),
            ignored: outcome
                .ignored
                .iter()
                .map(|s| slipway_state::Finding {
                    reason: Some(s.reason.clone()),
                    expires: s.expires.and_then(midnight),
                    ..to_state(&s.finding)
                })
                .collect(),
            expiring: Vec::new(),
            at: chrono::Utc::now(),
        });
        all_findings.extend(report.findings);
    }
    // The image's index, when the state knows it, gets the combined verdict too: promote looks
    // at an index's own verdict first.
    let digests: Vec<&Digest> = records.iter().map(|r| &r.digest).collect();
    let index = state.images.iter().find_map(|(name, img)| {
        let i = img.index.as_ref()?;
        img.platforms
            .values()
            .any(|p| digests.contains(&&p.manifest.digest))
            .then(|| (name.clone(), i.digest.clone()))
    });
    if let Some((name, idx)) = index {
        let fail = records.iter().any(|r| r.verdict == Verdict::Fail);
        let mut counts = SeverityCounts::default();
        for r in &records {
            counts.critical += r.counts.critical;
            counts.high += r.counts.high;
            counts.medium += r.counts.medium;
            counts.low += r.counts.low;
            counts.unknown += r.counts.unknown;
        }
        records.push(ScanRecord {
            image: Some(name),
            digest: idx,
            scanner: scanner_name.clone(),
            report: None,
            sboms: records.iter().flat_map(|r| r.sboms.clone()).collect(),
            verdict: if fail { Verdict::Fail } else { Verdict::Pass },
            counts,
            blocking: records.iter().flat_map(|r| r.blocking.clone()).collect(),
            ignored: Vec::new(),
            expiring: Vec::new(),
            at: chrono::Utc::now(),
        });
    }
    if let Some(p) = args.sarif.as_ref().map(|p| ctx.cwd.join(p)) {
        write_file(
            &p,
            &slipway_scan::render::sarif(
                &all_findings,
                env!("CARGO_PKG_VERSION"),
                &inputs[0].digest.to_string(),
            ),
            "--sarif",
        )?;
    }
    state_file.update(|s| s.scans.extend(records.iter().cloned()))?;
    let pass = records.iter().all(|r| r.verdict == Verdict::Pass);
    let mut md = format!(
        "### Rescan from SBOMs ({scanner_name}, fail at {fail_on})\n\n| manifest | verdict | critical | high | medium | low |\n|---|---|---|---|---|---|\n"
    );
    for r in &records {
        md.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            r.digest.short(),
            if r.verdict == Verdict::Pass {
                "pass"
            } else {
                "**fail**"
            },
            r.counts.critical,
            r.counts.high,
            r.counts.medium,
            r.counts.low
        ));
    }
    let json = serde_json::json!({
        "rescan": true,
        "verdict": if pass { "pass" } else { "fail" },
        "threshold": fail_on.to_string(),
        "records": records.iter().map(|r| serde_json::json!({
            "digest": r.digest.to_string(),
            "image": r.image,
            "verdict": r.verdict,
            "counts": r.counts,
            "sboms": r.sboms,
            "blocking": r.blocking.len(),
        })).collect::<Vec<_>>(),
    });
    if !pass {
        if ctx.settings.json() {
            ctx.printer.json(&json);
        }
        ctx.publish_markdown(&md);
        let shown: Vec<&String> = blocking_lines.iter().take(20).collect();
        return Err(Failure::denied(format!(
            "the rescan failed: {} blocking finding(s) at or above {fail_on}:\n  - {}{}",
            blocking_lines.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  - "),
            if blocking_lines.len() > shown.len() {
                format!("\n  …and {} more", blocking_lines.len() - shown.len())
            } else {
                String::new()
            }
        ))
        .with_hint(
            "the new verdict is recorded: promote refuses this digest until a rescan passes",
        ));
    }
    Ok(StepReport {
        summary: format!(
            "rescan passed for {} manifest(s) ({scanner_name})",
            records.len()
        ),
        outputs: vec![("verdict".into(), "pass".into())],
        markdown: Some(md),
        human: Some(format!("pass ({} manifest(s))", records.len())),
        json: Some(json),
    })
}
