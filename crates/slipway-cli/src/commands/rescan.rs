//! `slipway-scan-sbom --rescan`: re-evaluate an image that is already built (and pushed) from
//! its SBOMs, without the image or a rebuild — the nightly job with a fresh vulnerability
//! database. Each SBOM names its manifest digest; the scanner reads the SBOM (`trivy sbom`,
//! `grype sbom:`), or `--report` gives the scanner's report; the policy judges it and a new
//! verdict is recorded per manifest (and for the index of the image, when the state knows it and
//! every one of its platforms was rescanned in this run), so promote sees the newest verdict.

use std::path::{Path, PathBuf};

use slipway_scan::policy::{Outcome, Policy};
use slipway_scan::sbom::Facts;
use slipway_state::{ScanRecord, Verdict};
use slipway_types::Digest;

use crate::commands::scan_sbom::{
    Judged, Part, ScanSbomArgs, blocking_line, blocking_summary, check_report, combine, image_ids,
    policy, record_of, remove_stale_output, require_output, warn_ignores, write_reports,
};
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
    remove_stale_output(out)?;
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
    require_output(tool, out)
}

/// Runs the rescan.
pub fn rescan(ctx: &Context, args: &ScanSbomArgs) -> Result<StepReport, Failure> {
    let started = chrono::Utc::now();
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
    // The index each SBOM's manifest belongs to, when the state knows it.
    let index_of = |d: &Digest| {
        state.images.iter().find_map(|(name, img)| {
            let i = img.index.as_ref()?;
            img.platforms
                .values()
                .any(|p| &p.manifest.digest == d)
                .then(|| (name.clone(), i.digest.clone()))
        })
    };
    // Everything is read (and refused when malformed) before a verdict is recorded.
    let mut prepared = Vec::new();
    for input in &inputs {
        let facts = Facts::read(&input.path)
            .map_err(|e| Failure::from(e).with_hint("give an SPDX or CycloneDX JSON SBOM"))?;
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
        if given_report.is_some() {
            // A given report must be tied to the SBOM's manifest (its digest, or its config's
            // when the state knows it), as in a scan.
            let config = state
                .images
                .values()
                .flat_map(|i| i.platforms.values())
                .find(|p| p.manifest.digest == input.digest)
                .and_then(|p| p.config.clone());
            let shown = ctx.settings.display_path(&ctx.cwd, &input.path);
            check_report(
                ctx,
                args,
                &report_path,
                &report,
                &format!("the image of --sbom `{shown}`"),
                &input.digest,
                &[Part {
                    manifest: input.digest.clone(),
                    config,
                }],
            )?;
        }
        prepared.push((input, facts, report_path, report));
    }
    let now = chrono::Utc::now();
    let mut judged = Vec::new();
    for (input, facts, report_path, report) in prepared {
        let image = args.image.clone().or(input.image.clone());
        let index = index_of(&input.digest).map(|(_, i)| i);
        let mut digests = vec![&input.digest];
        if let Some(i) = &index {
            digests.push(i);
        }
        let platform = input.platform.as_deref().and_then(|p| p.parse().ok());
        let mut graph = facts.graph.clone();
        graph.add_root_ids(&image_ids(
            image.as_deref().unwrap_or("image"),
            &digests,
            platform.as_ref(),
        ));
        let mut findings = report.findings;
        findings.extend(slipway_scan::sbom::license_findings(
            &facts.licenses,
            &pol.deny_licenses,
        ));
        let outcome = Policy {
            graph,
            ..pol.clone()
        }
        .evaluate(&findings, now);
        judged.push(Judged {
            platform: input.platform.clone(),
            digest: input.digest.clone(),
            image,
            scanner: report.scanner,
            report: Some(ctx.settings.display_path(&ctx.cwd, &report_path)),
            sboms: vec![ctx.settings.display_path(&ctx.cwd, &input.path)],
            findings,
            outcome,
            os: report.os.or(facts.os),
        });
    }
    let ended = chrono::Utc::now();
    let mut records: Vec<ScanRecord> = judged.iter().map(|j| record_of(j, ended)).collect();
    let scanner_name = judged
        .first()
        .map(|j| j.scanner.clone())
        .unwrap_or_default();
    // The image's index, when the state knows it, gets the combined verdict too — only when
    // every platform manifest of the index was judged in this run: a verdict for the index
    // covers all its platforms (promote takes it for those without a verdict of their own).
    let index = judged.iter().find_map(|j| index_of(&j.digest));
    let mut unjudged: Vec<String> = Vec::new();
    if let Some((name, idx)) = &index {
        let members: Vec<&Judged> = judged
            .iter()
            .filter(|j| index_of(&j.digest).is_some_and(|(_, i)| &i == idx))
            .collect();
        unjudged = state
            .images
            .get(name)
            .map(|img| {
                img.platforms
                    .iter()
                    .filter(|(_, p)| !members.iter().any(|j| j.digest == p.manifest.digest))
                    .map(|(platform, _)| platform.to_string())
                    .collect()
            })
            .unwrap_or_default();
        if unjudged.is_empty() {
            let outcome = Outcome::merge(
                &members
                    .iter()
                    .map(|j| j.outcome.clone())
                    .collect::<Vec<_>>(),
            );
            records.push(record_of(
                &Judged {
                    platform: None,
                    digest: idx.clone(),
                    image: Some(name.clone()),
                    scanner: scanner_name.clone(),
                    report: None,
                    sboms: members.iter().flat_map(|j| j.sboms.clone()).collect(),
                    findings: Vec::new(),
                    outcome,
                    os: None,
                },
                ended,
            ));
        } else {
            ctx.printer.warn(&format!(
                "no verdict is recorded for the index {name}@{}: {} not rescanned in this run (verdicts are recorded for the manifests rescanned); promote needs a verdict for every platform",
                idx.short(),
                unjudged.join(", ")
            ));
        }
    }
    let subject = match &index {
        Some((name, idx)) if unjudged.is_empty() => format!("{name}@{idx}"),
        _ => match (&judged[0].image, &judged[0].digest) {
            (Some(n), d) => format!("{n}@{d}"),
            (None, d) => d.to_string(),
        },
    };
    write_reports(ctx, args, &judged, &subject, started, ended)?;
    let combined = combine(&judged);
    warn_ignores(ctx, &combined);
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
    if !unjudged.is_empty() {
        md.push_str(&format!(
            "\n> ⚠️ not rescanned: {}; no verdict is recorded for the index\n",
            unjudged.join(", ")
        ));
    }
    for e in &combined.expired {
        md.push_str(&format!("\n> ⚠️ expired ignore no longer applies: {e}\n"));
    }
    for s in &combined.expiring {
        md.push_str(&format!(
            "\n> ⚠️ the ignore of {} expires on {}\n",
            s.finding.id,
            s.expires
                .map(slipway_scan::render::when)
                .unwrap_or_default()
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
            "expiring": r.expiring.len(),
        })).collect::<Vec<_>>(),
        "expired_ignores": combined.expired,
        "not_rescanned": unjudged,
    });
    if !pass {
        ctx.publish_markdown(&md);
        let mut lines: Vec<String> = Vec::new();
        for j in &judged {
            let label = j.platform.clone().unwrap_or_else(|| j.digest.short());
            for f in &j.outcome.blocking {
                lines.push(blocking_line(f, Some(&label)));
            }
        }
        let total = lines.len();
        lines.truncate(20);
        let message = format!(
            "the rescan failed: {} blocking finding(s) ({}):\n  - {}{}",
            total,
            blocking_summary(&combined, fail_on),
            lines.join("\n  - "),
            if total > lines.len() {
                format!("\n  …and {} more", total - lines.len())
            } else {
                String::new()
            }
        );
        let failure = if ctx.settings.json() {
            Failure::denied_with_data(message, json)
        } else {
            Failure::denied(message)
        };
        return Err(failure.with_hint(
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
