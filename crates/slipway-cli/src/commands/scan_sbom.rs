//! `slipway-scan-sbom`: SBOMs of what is inside the image (SPDX 2.3 and CycloneDX 1.6 per
//! platform), then the gate: a Trivy or Grype report judged by policy, reported where users look
//! (step summary, annotations, SARIF, the GitLab container-scanning report).

use std::path::{Path, PathBuf};

use clap::Args;
use slipway_ci::{Annotation, CiKind, Level};
use slipway_scan::policy::{Allow, Policy};
use slipway_scan::{Finding, Severity, render};
use slipway_state::{ScanRecord, SeverityCounts, Step, Verdict};
use slipway_types::Digest;

use crate::commands::sbom;
use crate::error::Failure;
use crate::{Context, StepReport};

/// Arguments of `slipway-scan-sbom`.
#[derive(Debug, Clone, Default, Args)]
#[command(after_help = "\
First the SBOMs: for every platform of the image, one SPDX 2.3 and one CycloneDX 1.6 document
(--sbom-format) made from the layout itself: Go build info, cargo-auditable data, dpkg/apk
databases and every file with its sha256 (--sbom-tool syft|trivy runs those tools instead).
They go to .slipway/sbom (--sbom-dir) and into the state, where slipway-sign finds them.

The gate reads a Trivy JSON report (SchemaVersion 2 or the legacy array) or a Grype JSON report
(--report FILE), or runs the scanner on the image's layout (--scanner trivy|grype). A finding
blocks when it is at or above --severity (default critical), fixable with --fixable-only, and not
suppressed by a VEX statement (--vex), an unexpired .trivyignore / .trivyignore.yaml entry
(--ignore-file; default: those files in the working directory) or an allow rule in
policy.scan.allow. Secrets and misconfigurations gate too unless switched off; licenses on
policy.scan.deny_licenses block. Exit 1 when the gate fails; the verdict is recorded in the state
for the image's digest either way (promote requires a passing one).")]
pub struct ScanSbomArgs {
    /// Image to gate: its name in the state [default: the only one]
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    /// Digest the verdict is for [default: the image's index or manifest digest in the state]
    #[arg(long, value_name = "DIGEST")]
    pub digest: Option<String>,

    /// An existing Trivy or Grype JSON report [config: scan.report]
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// Run this scanner on the image's layout: trivy or grype [config: scan.scanner]
    #[arg(long, value_name = "TOOL")]
    pub scanner: Option<String>,

    /// What trivy looks for (its --scanners): vuln, secret, misconfig, license
    #[arg(long, value_name = "LIST", default_value = "vuln,secret")]
    pub scanners: String,

    /// Fail at or above this severity: critical, high, medium, low, unknown
    /// [config: policy.scan.severity] [default: critical]
    #[arg(long, value_name = "LEVEL")]
    pub severity: Option<String>,

    /// Only findings with a fixed version block [config: policy.scan.fixable_only]
    #[arg(long)]
    pub fixable_only: bool,

    /// .trivyignore or .trivyignore.yaml; repeatable [config: policy.scan.ignore_files]
    #[arg(long = "ignore-file", value_name = "FILE")]
    pub ignore_files: Vec<PathBuf>,

    /// OpenVEX or CycloneDX VEX document; repeatable [config: policy.scan.vex]
    #[arg(long = "vex", value_name = "FILE")]
    pub vex: Vec<PathBuf>,

    /// License name that fails the gate; repeatable [config: policy.scan.deny_licenses]
    #[arg(long = "deny-license", value_name = "NAME")]
    pub deny_licenses: Vec<String>,

    /// Write SARIF 2.1.0 (for GitHub code scanning) [config: scan.sarif]
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,

    /// Write the GitLab container-scanning report [config: scan.gitlab_report]
    /// [default in GitLab CI: gl-container-scanning-report.json]
    #[arg(long, value_name = "FILE")]
    pub gitlab_report: Option<PathBuf>,

    /// SBOM formats: spdx, cyclonedx (comma-separated), or none [default: spdx,cyclonedx]
    #[arg(long, value_name = "LIST", default_value = "spdx,cyclonedx")]
    pub sbom_format: String,

    /// Directory the SBOMs are written to [default: sbom/ next to the state file]
    #[arg(long, value_name = "DIR")]
    pub sbom_dir: Option<PathBuf>,

    /// Who makes the SBOM: native (read the image here), syft or trivy (run that tool)
    #[arg(long, value_name = "TOOL", default_value = "native")]
    pub sbom_tool: String,

    /// Only write the SBOMs; no scanner, no verdict
    #[arg(long)]
    pub sbom_only: bool,

    /// Re-evaluate from the image's SBOMs instead of the image (nightly, no rebuild): the
    /// scanner reads each SBOM (or --report gives its report) and a new verdict is recorded per
    /// manifest
    #[arg(long, conflicts_with = "sbom_only")]
    pub rescan: bool,

    /// SBOM to rescan (SPDX or CycloneDX JSON by slipway-scan-sbom); repeatable
    /// [default: the state's SBOMs]
    #[arg(long = "sbom", value_name = "FILE", requires = "rescan")]
    pub sbom: Vec<PathBuf>,
}

/// Runs `slipway-scan-sbom`.
pub fn run(ctx: &Context, args: ScanSbomArgs) -> Result<(), Failure> {
    let state_file = ctx.state_file();
    ctx.run_step(Step::ScanSbom, &state_file, |ctx| scan(ctx, &args))
}

pub(crate) fn policy(ctx: &Context, args: &ScanSbomArgs) -> Result<(Policy, Severity), Failure> {
    let cfg = ctx
        .settings
        .config
        .config
        .policy
        .as_ref()
        .and_then(|p| p.scan.clone())
        .unwrap_or_default();
    let rel = |p: &PathBuf| ctx.settings.config.relative(p);
    let word = args.severity.clone().or(cfg.severity.clone());
    let fail_on = match &word {
        Some(w) => Severity::parse_strict(w).ok_or_else(|| {
            Failure::usage(format!(
                "{}: `{w}` is not a severity",
                if args.severity.is_some() {
                    "--severity"
                } else {
                    "policy.scan.severity"
                }
            ))
            .with_hint("use critical, high, medium, low or unknown")
        })?,
        None => Severity::Critical,
    };
    let mut ignore_files: Vec<PathBuf> = if args.ignore_files.is_empty() {
        cfg.ignore_files.iter().map(rel).collect()
    } else {
        args.ignore_files.iter().map(|p| ctx.cwd.join(p)).collect()
    };
    if ignore_files.is_empty() {
        for default in [".trivyignore", ".trivyignore.yaml"] {
            let p = ctx.cwd.join(default);
            if p.is_file() {
                ignore_files.push(p);
            }
        }
    }
    let mut ignores = Vec::new();
    for f in &ignore_files {
        ignores.extend(slipway_scan::ignore::read(f)?);
    }
    let vex_files: Vec<PathBuf> = if args.vex.is_empty() {
        cfg.vex.iter().map(rel).collect()
    } else {
        args.vex.iter().map(|p| ctx.cwd.join(p)).collect()
    };
    let mut vex = Vec::new();
    for f in &vex_files {
        vex.extend(slipway_scan::vex::read(f)?);
    }
    let d = Policy::default();
    Ok((
        Policy {
            fail_on,
            fixable_only: args.fixable_only || cfg.fixable_only.unwrap_or(false),
            secrets: cfg.secrets.unwrap_or(d.secrets),
            misconfigurations: cfg.misconfigurations.unwrap_or(d.misconfigurations),
            deny_licenses: if args.deny_licenses.is_empty() {
                cfg.deny_licenses.clone()
            } else {
                args.deny_licenses.clone()
            },
            ignores,
            vex,
            allow: cfg
                .allow
                .iter()
                .map(|a| Allow {
                    package: a.package.clone(),
                    id: a.id.clone(),
                    reason: a.reason.clone(),
                })
                .collect(),
            warn_expiring_days: cfg.warn_expiring_days.unwrap_or(d.warn_expiring_days),
        },
        fail_on,
    ))
}

/// The image and digest the verdict is for, and its layout when known.
fn subject(
    ctx: &Context,
    args: &ScanSbomArgs,
    state: &slipway_state::State,
) -> Result<(String, Digest, Option<PathBuf>), Failure> {
    let named = match &args.image {
        Some(n) => Some((
            n.clone(),
            state.images.get(n).ok_or_else(|| {
                Failure::usage(format!("--image: no image `{n}` in the state file"))
                    .with_hint("slipway state show lists the images")
            })?,
        )),
        None if state.images.len() == 1 => state.images.iter().next().map(|(n, i)| (n.clone(), i)),
        None => None,
    };
    let digest = match (&args.digest, &named) {
        (Some(d), _) => d
            .parse::<Digest>()
            .map_err(|e| Failure::usage(format!("--digest: {e}")))?,
        (None, Some((_, img))) => match &img.index {
            Some(i) => i.digest.clone(),
            None => img
                .platforms
                .values()
                .next()
                .map(|p| p.manifest.digest.clone())
                .ok_or_else(|| Failure::usage("the image in the state has no manifest"))?,
        },
        (None, None) => {
            return Err(Failure::usage(if state.images.is_empty() {
                "no image in the state file to record the verdict for".to_owned()
            } else {
                "the state file holds several images; say which with --image".to_owned()
            })
            .with_hint(
                "run slipway-build first, or pass --digest sha256:… for an image built elsewhere",
            ));
        }
    };
    let layout = named
        .as_ref()
        .and_then(|(_, img)| img.layout.as_ref())
        .map(|l| ctx.cwd.join(l));
    Ok((
        named.map(|(n, _)| n).unwrap_or_else(|| digest.to_string()),
        digest,
        layout,
    ))
}

/// The SBOMs of every platform of the image (or of the one manifest given with --digest).
fn sboms(
    ctx: &Context,
    plan: &sbom::SbomPlan,
    state: &slipway_state::State,
    image: &str,
    layout: Option<&Path>,
) -> Result<Vec<sbom::Written>, Failure> {
    if plan.formats.is_empty() {
        return Ok(Vec::new());
    }
    let Some(img) = state.images.get(image) else {
        ctx.printer.info(&format!(
            "no SBOM: `{image}` is not an image built into a layout in this state"
        ));
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (platform, p) in &img.platforms {
        let dir = p
            .layout
            .as_ref()
            .or(img.layout.as_ref())
            .map(|d| ctx.cwd.join(d))
            .or_else(|| layout.map(Path::to_path_buf));
        let Some(dir) = dir.filter(|d| d.is_dir()) else {
            ctx.printer.warn(&format!(
                "no SBOM for {image} ({platform}): its layout is not on this machine (run slipway-build here, or download the layout artifact)"
            ));
            continue;
        };
        out.extend(sbom::platform_sboms(
            ctx,
            plan,
            image,
            platform,
            &p.manifest.digest,
            &dir,
        )?);
    }
    Ok(out)
}

/// License findings from the SBOMs: a package whose declared license expression names a denied
/// license (any term of it: fail closed) blocks like a scanner's license finding.
fn sbom_license_findings(written: &[sbom::Written], deny: &[String]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    if deny.is_empty() {
        return out;
    }
    for w in written {
        for (name, version, purl, license, location) in &w.licenses {
            let denied = license
                .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .filter(|t| !matches!(*t, "" | "AND" | "OR" | "WITH"))
                .find(|t| deny.iter().any(|d| d.eq_ignore_ascii_case(t)));
            let Some(term) = denied else { continue };
            if out
                .iter()
                .any(|f| f.id == term && f.purl.as_deref() == Some(purl.as_str()))
            {
                continue;
            }
            out.push(Finding {
                id: term.to_owned(),
                kind: slipway_scan::Kind::License,
                severity: Severity::High,
                package: Some(name.clone()),
                version: version.clone(),
                fixed_version: None,
                purl: Some(purl.clone()),
                target: format!("SBOM: {location}"),
                title: Some(format!("{name} is licensed {license}")),
                url: None,
            });
        }
    }
    out
}

fn sbom_line(written: &[sbom::Written]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for w in written {
        let platform = w
            .record
            .platform
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        let line = match (w.packages, w.files) {
            (Some(p), Some(f)) => format!("{platform}: {p} packages, {f} files"),
            _ => format!("{platform}: by {}", w.record.tool),
        };
        if !parts.contains(&line) {
            parts.push(line);
        }
    }
    parts.join("; ")
}

fn run_scanner(
    ctx: &Context,
    tool: &str,
    scanners: &str,
    layout: &Path,
    out: &Path,
) -> Result<(), Failure> {
    let mut cmd = std::process::Command::new(tool);
    match tool {
        "trivy" => {
            cmd.args([
                "image",
                "--quiet",
                "--format",
                "json",
                "--scanners",
                scanners,
                "--output",
            ])
            .arg(out)
            .arg("--input")
            .arg(layout);
        }
        "grype" => {
            cmd.arg(format!("oci-dir:{}", layout.display()))
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
        .detail(&format!("running {tool} on {}", layout.display()));
    let status = cmd.status().map_err(|e| {
        Failure::external(format!("cannot run {tool}: {e}")).with_hint(format!(
            "install {tool}, or pass an existing report with --report FILE"
        ))
    })?;
    if !status.success() {
        return Err(Failure::external(format!("{tool} failed ({status})")));
    }
    Ok(())
}

pub(crate) fn to_state(f: &Finding) -> slipway_state::Finding {
    slipway_state::Finding {
        id: f.id.clone(),
        kind: f.kind.to_string(),
        severity: f.severity.to_string(),
        package: f.package.clone(),
        version: f.version.clone(),
        fixed_version: f.fixed_version.clone(),
        reason: None,
        expires: None,
    }
}

pub(crate) fn write_file(
    path: &Path,
    value: &serde_json::Value,
    what: &str,
) -> Result<(), Failure> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| Failure::external(format!("{what}: {e}")))?;
    bytes.push(b'\n');
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Failure::usage(format!("{what} `{}`: {e}", path.display())))?;
    }
    slipway_fs::atomic_write(path, &bytes)
        .map_err(|e| Failure::usage(format!("{what} `{}`: {e}", path.display())))
}

fn scan(ctx: &Context, args: &ScanSbomArgs) -> Result<StepReport, Failure> {
    if args.rescan {
        return crate::commands::rescan::rescan(ctx, args);
    }
    let started = chrono::Utc::now();
    let state_file = ctx.state_file();
    let state = state_file.read()?.unwrap_or_default();
    let cfg = ctx.settings.config.config.scan.clone().unwrap_or_default();
    let (policy, fail_on) = policy(ctx, args)?;
    let (image, digest, layout) = subject(ctx, args, &state)?;
    let gate_input = args.report.is_some()
        || cfg.report.is_some()
        || args.scanner.is_some()
        || cfg.scanner.is_some();
    if !gate_input && !args.sbom_only {
        return Err(Failure::usage("nothing to gate on: no scanner report").with_hint(
            "pass --report FILE (Trivy or Grype JSON) or --scanner trivy|grype, or --sbom-only for SBOMs without a verdict",
        ));
    }
    // A given report is read (and refused when malformed) before anything is written.
    let mut report_path = match (&args.report, &args.scanner, &cfg.report) {
        (Some(r), ..) => ctx.cwd.join(r),
        (None, None, Some(r)) if !args.sbom_only => ctx.settings.config.relative(r),
        _ => PathBuf::new(),
    };
    let pre_read = if report_path.as_os_str().is_empty() || args.sbom_only {
        None
    } else {
        Some(slipway_scan::report::read(&report_path)?)
    };
    let plan = sbom::SbomPlan {
        formats: sbom::parse_formats(&args.sbom_format)?,
        dir: args.sbom_dir.as_ref().map_or_else(
            || ctx.settings.state_dir().join("sbom"),
            |d| ctx.cwd.join(d),
        ),
        tool: args.sbom_tool.clone(),
    };
    let written = sboms(ctx, &plan, &state, &image, layout.as_deref())?;
    if !written.is_empty() {
        state_file.update(|s| {
            for w in &written {
                s.sboms
                    .retain(|r| !(r.subject == w.record.subject && r.format == w.record.format));
                s.sboms.push(w.record.clone());
            }
        })?;
    }
    let sbom_json: Vec<serde_json::Value> = written
        .iter()
        .map(|w| {
            serde_json::json!({
                "platform": w.record.platform.as_ref().map(ToString::to_string),
                "digest": w.record.subject.to_string(),
                "format": w.record.format,
                "path": w.record.path,
                "sha256": w.record.sha256.to_string(),
                "tool": w.record.tool,
                "packages": w.packages,
                "files": w.files,
            })
        })
        .collect();
    let sbom_paths: Vec<String> = written.iter().map(|w| w.record.path.clone()).collect();
    let sbom_line = sbom_line(&written);
    if args.sbom_only {
        let json =
            serde_json::json!({"image": image, "digest": digest.to_string(), "sboms": sbom_json});
        return Ok(StepReport {
            summary: format!("SBOMs for {image}: {sbom_line}"),
            outputs: vec![
                ("digest".into(), digest.to_string()),
                ("sboms".into(), sbom_paths.join("\n")),
            ],
            markdown: Some(format!("### SBOMs for `{image}`\n\n{sbom_line}\n")),
            human: Some(sbom_paths.join("\n")),
            json: Some(json),
        });
    }
    let report = match pre_read {
        Some(r) => r,
        None => {
            let tool = args
                .scanner
                .as_ref()
                .or(cfg.scanner.as_ref())
                .expect("a scanner when no report");
            let layout = layout
                .clone()
                .unwrap_or_else(|| ctx.settings.layout.clone());
            let out = ctx
                .settings
                .state_dir()
                .join(format!("scan/{tool}-{}.json", digest.hex()));
            if let Some(p) = out.parent() {
                std::fs::create_dir_all(p)
                    .map_err(|e| Failure::usage(format!("`{}`: {e}", p.display())))?;
            }
            run_scanner(ctx, tool, &args.scanners, &layout, &out)?;
            let r = slipway_scan::report::read(&out)?;
            report_path = out;
            r
        }
    };
    let mut report = report;
    report
        .findings
        .extend(sbom_license_findings(&written, &policy.deny_licenses));
    let today = chrono::Utc::now().date_naive();
    let outcome = policy.evaluate(&report.findings, today);
    let ended = chrono::Utc::now();

    let image_ref = format!("{image}@{digest}");
    let version = env!("CARGO_PKG_VERSION");
    let sarif_path = args
        .sarif
        .clone()
        .map(|p| ctx.cwd.join(p))
        .or_else(|| cfg.sarif.as_ref().map(|p| ctx.settings.config.relative(p)));
    if let Some(p) = &sarif_path {
        write_file(
            p,
            &render::sarif(&report.findings, version, &image_ref),
            "--sarif",
        )?;
    }
    let gitlab_path = args
        .gitlab_report
        .clone()
        .map(|p| ctx.cwd.join(p))
        .or_else(|| {
            cfg.gitlab_report
                .as_ref()
                .map(|p| ctx.settings.config.relative(p))
        })
        .or_else(|| {
            (ctx.ci.kind() == CiKind::Gitlab)
                .then(|| ctx.cwd.join("gl-container-scanning-report.json"))
        });
    if let Some(p) = &gitlab_path {
        let fmt = "%Y-%m-%dT%H:%M:%S";
        write_file(
            p,
            &render::gitlab(
                &report.findings,
                &image_ref,
                "unknown",
                &report.scanner,
                version,
                &started.format(fmt).to_string(),
                &ended.format(fmt).to_string(),
            ),
            "--gitlab-report",
        )?;
    }
    for f in outcome.blocking.iter().take(render::SUMMARY_TOP) {
        let mut a = Annotation::new(
            Level::Error,
            format!(
                "{} {} in {} {}{}",
                f.severity,
                f.id,
                f.package.as_deref().unwrap_or(&f.target),
                f.version.as_deref().unwrap_or(""),
                f.fixed_version
                    .as_deref()
                    .map(|v| format!(" (fixed in {v})"))
                    .unwrap_or_default()
            ),
        );
        a.title = Some(format!("slipway scan: {} blocks {image}", f.id));
        ctx.annotate(&a);
    }
    for e in &outcome.expired {
        ctx.printer
            .warn(&format!("expired ignore no longer applies: {e}"));
    }
    for s in &outcome.expiring {
        ctx.printer.warn(&format!(
            "the ignore of {} expires on {}",
            s.finding.id,
            s.expires.map(|d| d.to_string()).unwrap_or_default()
        ));
    }
    let counts = SeverityCounts {
        critical: outcome.count(Severity::Critical),
        high: outcome.count(Severity::High),
        medium: outcome.count(Severity::Medium),
        low: outcome.count(Severity::Low),
        unknown: outcome.count(Severity::Unknown),
    };
    let midnight = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let record = ScanRecord {
        image: Some(image.clone()),
        digest: digest.clone(),
        scanner: report.scanner.clone(),
        report: Some(ctx.settings.display_path(&ctx.cwd, &report_path)),
        sboms: Vec::new(),
        verdict: if outcome.pass {
            Verdict::Pass
        } else {
            Verdict::Fail
        },
        counts,
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
        expiring: outcome
            .expiring
            .iter()
            .map(|s| slipway_state::Finding {
                reason: Some(s.reason.clone()),
                expires: s.expires.and_then(midnight),
                ..to_state(&s.finding)
            })
            .collect(),
        at: ended,
    };
    state_file.update(|s| s.scans.push(record.clone()))?;
    let markdown = render::markdown(&image_ref, &report.scanner, &outcome, fail_on);
    let summary = format!(
        "scan {} for {image} ({}): {} critical, {} high, {} medium, {} low, {} unknown; {} blocking, {} ignored",
        if outcome.pass { "passed" } else { "FAILED" },
        report.scanner,
        counts.critical,
        counts.high,
        counts.medium,
        counts.low,
        counts.unknown,
        outcome.blocking.len(),
        outcome.ignored.len()
    );
    let json = serde_json::json!({
        "image": image,
        "digest": digest.to_string(),
        "scanner": report.scanner,
        "verdict": if outcome.pass { "pass" } else { "fail" },
        "threshold": fail_on.to_string(),
        "counts": counts,
        "blocking": outcome.blocking,
        "ignored": outcome.ignored,
        "expiring": outcome.expiring,
        "expired_ignores": outcome.expired,
        "sboms": sbom_json,
    });
    let markdown = if written.is_empty() {
        markdown
    } else {
        format!("{markdown}\n**SBOM**: {sbom_line}\n")
    };
    if !outcome.pass {
        if ctx.settings.json() {
            ctx.printer.json(&json);
        }
        ctx.publish_markdown(&markdown);
        let mut lines: Vec<String> = outcome
            .blocking
            .iter()
            .take(render::SUMMARY_TOP)
            .map(|f| {
                format!(
                    "{} {} {} {}",
                    f.severity,
                    f.id,
                    f.package.as_deref().unwrap_or(&f.target),
                    f.version.as_deref().unwrap_or("")
                )
            })
            .collect();
        if outcome.blocking.len() > lines.len() {
            lines.push(format!(
                "…and {} more",
                outcome.blocking.len() - lines.len()
            ));
        }
        return Err(Failure::denied(format!(
            "the scan gate failed for {image_ref}: {} blocking finding(s) at or above {fail_on}:\n  - {}",
            outcome.blocking.len(),
            lines.join("\n  - ")
        ))
        .with_hint("fix or upgrade the packages, or record a decision: .trivyignore(.yaml) with a reason and expiry, a VEX statement, or policy.scan.allow"));
    }
    Ok(StepReport {
        summary,
        outputs: vec![
            ("verdict".into(), "pass".into()),
            ("digest".into(), digest.to_string()),
            ("sboms".into(), sbom_paths.join("\n")),
        ],
        markdown: Some(markdown),
        human: Some(format!("pass {image_ref}")),
        json: Some(json),
    })
}
