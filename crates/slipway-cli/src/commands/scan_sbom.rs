//! `slipway-scan-sbom`: SBOMs of what is inside the image (SPDX 2.3 and CycloneDX 1.6 per
//! platform), then the gate: a Trivy or Grype report judged by policy, reported where users look
//! (step summary, annotations, SARIF, the GitLab container-scanning report).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Args;
use slipway_ci::{Annotation, CiKind, Level};
use slipway_scan::policy::{Allow, Outcome, Policy};
use slipway_scan::sbom::Facts;
use slipway_scan::vex::{Graph, Vex};
use slipway_scan::{Finding, Kind, Report, Severity, render};
use slipway_state::{ScanRecord, SeverityCounts, Step, Verdict};
use slipway_types::{Digest, Platform};

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
(--report FILE; it must name this image — Trivy's Metadata.ImageID/RepoDigests, Grype's
source.target — else exit 2 unless --allow-report-mismatch; a report of some platforms of an
index gives verdicts for those manifests only), or runs the scanner on the image's layout once
per platform (--scanner trivy|grype), recording a verdict per manifest and one for the index. A finding blocks when it is at or above --severity (default
critical), fixable with --fixable-only, and not suppressed by a VEX statement (--vex; products
and subcomponents are related through the SBOM's dependency graph), an unexpired .trivyignore /
.trivyignore.yaml entry (--ignore-file; default: those files in the working directory) or an
allow rule in policy.scan.allow. Secrets and misconfigurations gate too unless switched off;
packages whose SBOM license is on the deny-list block (the deny-list needs an SBOM). Exit 1 when
the gate fails; the verdict is recorded in the state either way (promote requires a passing
one).")]
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

    /// License (SPDX id) that fails the gate when a package in the SBOM declares it; repeatable
    /// [config: policy.scan.deny_licenses]
    #[arg(long = "deny-license", value_name = "NAME")]
    pub deny_licenses: Vec<String>,

    /// Gate on --report even when it names another image, or none (a loud warning instead of
    /// exit 2)
    #[arg(long)]
    pub allow_report_mismatch: bool,

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
    for (i, a) in cfg.allow.iter().enumerate() {
        if a.reason.trim().is_empty() {
            return Err(Failure::usage(format!(
                "policy.scan.allow[{i}].reason: the allow rule for `{}` has no reason",
                a.package
            ))
            .with_hint(
                "say why the findings are accepted; the reason goes into the state and the summary",
            ));
        }
        if a.package.trim().is_empty() {
            return Err(Failure::usage(format!(
                "policy.scan.allow[{i}].package: the allow rule names no package"
            )));
        }
    }
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
    let mut vex = Vex::default();
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
            graph: Graph::default(),
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

/// A platform manifest of the image in the state, and where its layout is.
struct PlatformRef {
    platform: Platform,
    manifest: Digest,
    config: Option<Digest>,
    layout: Option<PathBuf>,
}

/// The platform manifests the verdict covers: all of the image's when the subject is its index
/// (or the image has no index), else the one the subject names.
fn platforms_of(
    ctx: &Context,
    state: &slipway_state::State,
    image: &str,
    digest: &Digest,
    layout: Option<&Path>,
) -> Vec<PlatformRef> {
    let Some(img) = state.images.get(image) else {
        return Vec::new();
    };
    let is_index = img.index.as_ref().is_some_and(|i| &i.digest == digest);
    img.platforms
        .iter()
        .filter(|(_, p)| is_index || img.index.is_none() || &p.manifest.digest == digest)
        .map(|(platform, p)| PlatformRef {
            platform: platform.clone(),
            manifest: p.manifest.digest.clone(),
            config: p.config.clone(),
            layout: p
                .layout
                .as_ref()
                .or(img.layout.as_ref())
                .map(|d| ctx.cwd.join(d))
                .or_else(|| layout.map(Path::to_path_buf))
                .filter(|d| d.is_dir()),
        })
        .collect()
}

/// The SBOMs of the given platforms.
fn sboms(
    ctx: &Context,
    plan: &sbom::SbomPlan,
    image: &str,
    platforms: &[PlatformRef],
) -> Result<Vec<sbom::Written>, Failure> {
    if plan.formats.is_empty() {
        return Ok(Vec::new());
    }
    if platforms.is_empty() {
        ctx.printer.info(&format!(
            "no SBOM: `{image}` is not an image built into a layout in this state"
        ));
    }
    let mut out = Vec::new();
    for p in platforms {
        let Some(dir) = &p.layout else {
            ctx.printer.warn(&format!(
                "no SBOM for {image} ({}): its layout is not on this machine (run slipway-build here, or download the layout artifact)",
                p.platform
            ));
            continue;
        };
        out.extend(sbom::platform_sboms(
            ctx,
            plan,
            image,
            &p.platform,
            &p.manifest,
            dir,
        )?);
    }
    Ok(out)
}

/// What the gate learns from the SBOMs written for `manifest` (CycloneDX preferred): the
/// dependency graph for VEX, declared licenses, the OS.
fn sbom_facts(paths: &[PathBuf]) -> Result<Option<Facts>, Failure> {
    let pick = paths
        .iter()
        .find(|p| p.to_string_lossy().ends_with(".cdx.json"))
        .or_else(|| paths.first());
    pick.map(|p| {
        Facts::read(p).map_err(|e| {
            Failure::from(e).with_hint(
                "the gate reads licenses and the dependency graph from the SBOM just written",
            )
        })
    })
    .transpose()
}

/// The purl and digests an image is known by in VEX documents.
pub(crate) fn image_ids(
    name: &str,
    digests: &[&Digest],
    platform: Option<&Platform>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for d in digests {
        ids.push(slipway_sbom::image_purl(
            name,
            d,
            platform.map(ToString::to_string).as_deref(),
        ));
        ids.push(slipway_sbom::image_purl(name, d, None));
        ids.push(d.hex().to_owned());
        ids.push(d.to_string());
    }
    ids.dedup();
    ids
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

/// Whether the layout's `index.json` lists `manifest` itself (not only inside an index).
fn listed(layout: &Path, manifest: &Digest) -> bool {
    std::fs::read(layout.join("index.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v["manifests"].as_array().map(|ms| {
                ms.iter()
                    .any(|m| m["digest"].as_str() == Some(manifest.to_string().as_str()))
            })
        })
        .unwrap_or(false)
}

/// A layout of just `manifest` (its blobs linked from `layout`), for scanners that take the
/// first image of a layout.
fn single_manifest_layout(layout: &Path, manifest: &Digest, dest: &Path) -> std::io::Result<()> {
    let blob = |d: &Digest| {
        layout
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.hex())
    };
    let bytes = std::fs::read(blob(manifest))?;
    let m: serde_json::Value = serde_json::from_slice(&bytes)?;
    let mut digests = vec![manifest.clone()];
    for d in std::iter::once(&m["config"]).chain(m["layers"].as_array().into_iter().flatten()) {
        if let Some(d) = d["digest"].as_str().and_then(|d| d.parse().ok()) {
            digests.push(d);
        }
    }
    let _ = std::fs::remove_dir_all(dest);
    for d in &digests {
        let to = dest.join("blobs").join(d.algorithm().name()).join(d.hex());
        std::fs::create_dir_all(to.parent().expect("a blob has a directory"))?;
        let from = std::fs::canonicalize(blob(d))?;
        std::os::unix::fs::symlink(from, to)?;
    }
    std::fs::write(
        dest.join("oci-layout"),
        b"{\"imageLayoutVersion\":\"1.0.0\"}",
    )?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": m["mediaType"].as_str().unwrap_or("application/vnd.oci.image.manifest.v1+json"),
            "digest": manifest.to_string(),
            "size": bytes.len(),
        }],
    });
    std::fs::write(dest.join("index.json"), serde_json::to_vec(&index)?)
}

/// What to point `tool` at for `manifest` of `layout`: `LAYOUT@DIGEST` for Trivy when the
/// layout lists the manifest (Trivy ignores `--platform` for a layout and takes its first
/// image), else a layout of that manifest alone at `single`.
pub(crate) fn layout_source(
    tool: &str,
    layout: &Path,
    manifest: Option<&Digest>,
    single: &Path,
) -> Result<PathBuf, Failure> {
    Ok(match manifest {
        Some(d) if tool == "trivy" && listed(layout, d) => {
            PathBuf::from(format!("{}@{d}", layout.display()))
        }
        Some(d) => {
            single_manifest_layout(layout, d, single).map_err(|e| {
                Failure::usage(format!(
                    "layout `{}`: cannot take out manifest {d}: {e}",
                    layout.display()
                ))
            })?;
            single.to_path_buf()
        }
        None => layout.to_path_buf(),
    })
}

/// Runs the scanner on the layout — on one platform's manifest of it when `target` is given
/// (Trivy ignores `--platform` for a layout and takes its first image: it is told the
/// manifest's digest, `LAYOUT@DIGEST`, or given a layout of that manifest alone).
fn run_scanner(
    ctx: &Context,
    tool: &str,
    scanners: &str,
    layout: &Path,
    target: Option<(&Platform, &Digest)>,
    out: &Path,
) -> Result<(), Failure> {
    remove_stale_output(out)?;
    let single = out.with_extension("layout");
    let source = layout_source(tool, layout, target.map(|(_, d)| d), &single)?;
    let platform = target.map(|(p, _)| p);
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
            .arg(&source);
            if let Some(p) = platform {
                cmd.arg("--platform").arg(p.to_string());
            }
        }
        "grype" => {
            cmd.arg(format!("oci-dir:{}", source.display()))
                .args(["-o", "json", "--file"])
                .arg(out);
            if let Some(p) = platform {
                cmd.arg("--platform").arg(p.to_string());
            }
        }
        other => {
            return Err(Failure::usage(format!(
                "--scanner: `{other}` is not supported (trivy or grype)"
            )));
        }
    }
    ctx.printer.detail(&format!(
        "running {tool} on {}{}",
        source.display(),
        platform.map(|p| format!(" ({p})")).unwrap_or_default()
    ));
    let status = cmd.status();
    let _ = std::fs::remove_dir_all(&single);
    let status = status.map_err(|e| {
        Failure::external(format!("cannot run {tool}: {e}")).with_hint(format!(
            "install {tool}, or pass an existing report with --report FILE"
        ))
    })?;
    if !status.success() {
        return Err(Failure::external(format!("{tool} failed ({status})")));
    }
    require_output(tool, out)
}

/// Removes a scanner's report left by an earlier run at `out`, so that a scanner which exits 0
/// without writing one is not judged on the old report.
pub(crate) fn remove_stale_output(out: &Path) -> Result<(), Failure> {
    match std::fs::remove_file(out) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Failure::usage(format!(
            "cannot remove the old scanner report `{}`: {e}",
            out.display()
        ))),
    }
}

/// The scanner exited 0: its report must be there.
pub(crate) fn require_output(tool: &str, out: &Path) -> Result<(), Failure> {
    if out.is_file() {
        return Ok(());
    }
    Err(Failure::external(format!(
        "{tool} exited 0 but wrote no report to `{}`",
        out.display()
    ))
    .with_hint(format!(
        "check the {tool} on PATH (its version and how it is wrapped); nothing was recorded"
    )))
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

/// One judged scan: a platform manifest (or the whole image for a single given report).
pub(crate) struct Judged {
    /// `os/arch`, when the verdict is for one platform.
    pub platform: Option<String>,
    /// The digest the verdict is for.
    pub digest: Digest,
    /// The image's name.
    pub image: Option<String>,
    /// `trivy 0.58.1`.
    pub scanner: String,
    /// The raw report, as recorded in the state.
    pub report: Option<String>,
    /// The SBOMs the findings came from (`--rescan`).
    pub sboms: Vec<String>,
    /// Every finding (scanner's and the SBOM's license findings).
    pub findings: Vec<Finding>,
    /// The verdict.
    pub outcome: Outcome,
    /// The operating system (report, else SBOM).
    pub os: Option<String>,
}

fn counts(o: &Outcome) -> SeverityCounts {
    SeverityCounts {
        critical: o.count(Severity::Critical),
        high: o.count(Severity::High),
        medium: o.count(Severity::Medium),
        low: o.count(Severity::Low),
        unknown: o.count(Severity::Unknown),
    }
}

fn with_reason(s: &slipway_scan::policy::Suppressed) -> slipway_state::Finding {
    slipway_state::Finding {
        reason: Some(s.reason.clone()),
        expires: s.expires,
        ..to_state(&s.finding)
    }
}

/// The state's record of a verdict: ignored findings with their reasons; in `expiring`, the
/// ignores that expire soon and those that have expired (their `expires` is past: they no
/// longer apply, and their findings are judged like any other).
pub(crate) fn record_of(j: &Judged, at: DateTime<Utc>) -> ScanRecord {
    let o = &j.outcome;
    ScanRecord {
        image: j.image.clone(),
        digest: j.digest.clone(),
        scanner: j.scanner.clone(),
        report: j.report.clone(),
        sboms: j.sboms.clone(),
        verdict: if o.pass { Verdict::Pass } else { Verdict::Fail },
        counts: counts(o),
        blocking: o.blocking.iter().map(to_state).collect(),
        ignored: o.ignored.iter().map(with_reason).collect(),
        expiring: o
            .expiring
            .iter()
            .chain(o.expired_findings.iter())
            .map(with_reason)
            .collect(),
        at,
    }
}

/// Every judged scan as one (the platforms of an index).
pub(crate) fn combine(judged: &[Judged]) -> Outcome {
    let all: Vec<Outcome> = judged.iter().map(|j| j.outcome.clone()).collect();
    Outcome::merge(&all)
}

/// Warns about ignores that have expired or expire soon.
pub(crate) fn warn_ignores(ctx: &Context, o: &Outcome) {
    for e in &o.expired {
        ctx.printer
            .warn(&format!("expired ignore no longer applies: {e}"));
    }
    for s in &o.expiring {
        ctx.printer.warn(&format!(
            "the ignore of {} expires on {}",
            s.finding.id,
            s.expires.map(render::when).unwrap_or_default()
        ));
    }
}

/// Why the gate failed, by kind: `2 vulnerabilities at or above HIGH, 1 denied license`.
pub(crate) fn blocking_summary(o: &Outcome, fail_on: Severity) -> String {
    let n = |k: Kind| o.blocking.iter().filter(|f| f.kind == k).count();
    let mut parts = Vec::new();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if n(Kind::Vulnerability) > 0 {
        parts.push(format!(
            "{} at or above {fail_on}",
            plural(n(Kind::Vulnerability), "vulnerability", "vulnerabilities")
        ));
    }
    if n(Kind::Secret) > 0 {
        parts.push(format!(
            "{} at or above {fail_on}",
            plural(n(Kind::Secret), "secret", "secrets")
        ));
    }
    if n(Kind::Misconfiguration) > 0 {
        parts.push(format!(
            "{} at or above {fail_on}",
            plural(
                n(Kind::Misconfiguration),
                "misconfiguration",
                "misconfigurations"
            )
        ));
    }
    if n(Kind::License) > 0 {
        parts.push(plural(
            n(Kind::License),
            "denied license",
            "denied licenses",
        ));
    }
    parts.join(", ")
}

/// One line per blocking finding, for messages.
pub(crate) fn blocking_line(f: &Finding, platform: Option<&str>) -> String {
    let at = platform.map(|p| format!("{p}: ")).unwrap_or_default();
    match f.kind {
        Kind::License => format!(
            "{at}denied license {} in {} {}",
            f.id,
            f.package.as_deref().unwrap_or(&f.target),
            f.version.as_deref().unwrap_or("")
        ),
        _ => format!(
            "{at}{} {} {} {}",
            f.severity,
            f.id,
            f.package.as_deref().unwrap_or(&f.target),
            f.version.as_deref().unwrap_or("")
        ),
    }
    .trim_end()
    .to_owned()
}

/// Writes the SARIF and GitLab reports of `judged` when asked (flags, config, GitLab CI).
pub(crate) fn write_reports(
    ctx: &Context,
    args: &ScanSbomArgs,
    judged: &[Judged],
    image_ref: &str,
    started: DateTime<Utc>,
    ended: DateTime<Utc>,
) -> Result<(), Failure> {
    let cfg = ctx.settings.config.config.scan.clone().unwrap_or_default();
    let version = env!("CARGO_PKG_VERSION");
    let findings: Vec<Finding> = judged.iter().flat_map(|j| j.findings.clone()).collect();
    let suppressed: Vec<slipway_scan::policy::Suppressed> = judged
        .iter()
        .flat_map(|j| j.outcome.ignored.clone())
        .collect();
    let sarif_path = args
        .sarif
        .clone()
        .map(|p| ctx.cwd.join(p))
        .or_else(|| cfg.sarif.as_ref().map(|p| ctx.settings.config.relative(p)));
    if let Some(p) = &sarif_path {
        write_file(
            p,
            &render::sarif(&findings, &suppressed, version, image_ref),
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
        let mut oses: Vec<String> = judged.iter().filter_map(|j| j.os.clone()).collect();
        oses.dedup();
        let os = if oses.is_empty() {
            // An image without a distribution (scratch, distroless static): its OS is the
            // platform's.
            judged
                .iter()
                .find_map(|j| j.platform.as_deref())
                .and_then(|p| p.split('/').next())
                .unwrap_or("unknown")
                .to_owned()
        } else {
            oses.join(", ")
        };
        let scanner = judged
            .first()
            .map(|j| j.scanner.clone())
            .unwrap_or_default();
        write_file(
            p,
            &render::gitlab(
                &findings,
                &suppressed,
                image_ref,
                &os,
                &scanner,
                version,
                &started.format(fmt).to_string(),
                &ended.format(fmt).to_string(),
            ),
            "--gitlab-report",
        )?;
    }
    Ok(())
}

/// The image digests a report names: Trivy `Metadata.ImageID` and `RepoDigests`, Grype's
/// `imageID`, `manifestDigest` and `repoDigests`, a digest in `ArtifactName`.
fn named_digests(report: &Report) -> Vec<Digest> {
    let mut named: Vec<String> = Vec::new();
    named.extend(report.image_id.clone());
    for d in &report.digests {
        named.push(d.rsplit('@').next().unwrap_or(d).to_owned());
    }
    if let Some(a) = &report.artifact
        && let Some((_, d)) = a.rsplit_once('@')
    {
        named.push(d.to_owned());
    }
    named.iter().filter_map(|d| d.parse().ok()).collect()
}

/// A platform manifest a verdict can be for: its digest and its config's (Trivy's `ImageID`).
pub(crate) struct Part {
    pub manifest: Digest,
    pub config: Option<Digest>,
}

/// What a report's named image ids say about the subject and its platform manifests `parts`.
#[derive(Debug, PartialEq, Eq)]
enum Match {
    /// It names no image.
    Nothing,
    /// It names the subject (its manifest, or every platform of its index).
    Whole,
    /// It names only these platform manifests of the subject's index.
    Some(Vec<Digest>),
    /// It names the subject's multi-platform index, but none of its platforms: which platform
    /// was scanned is unknown (a scanner given an index picks one).
    IndexOnly,
    /// It names only other images.
    Other,
}

fn report_match(report: &Report, subject: &Digest, parts: &[Part]) -> Match {
    let named = named_digests(report);
    if named.is_empty() {
        return Match::Nothing;
    }
    let matched: Vec<Digest> = parts
        .iter()
        .filter(|p| {
            named.contains(&p.manifest) || p.config.as_ref().is_some_and(|c| named.contains(c))
        })
        .map(|p| p.manifest.clone())
        .collect();
    let names_subject = named.contains(subject);
    if parts.is_empty() {
        return if names_subject {
            Match::Whole
        } else {
            Match::Other
        };
    }
    if matched.len() == parts.len() || (names_subject && parts.len() == 1) {
        Match::Whole
    } else if !matched.is_empty() {
        Match::Some(matched)
    } else if names_subject {
        Match::IndexOnly
    } else {
        Match::Other
    }
}

/// What a given report is judged for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// The subject as a whole (or taken as such with --allow-report-mismatch).
    Whole,
    /// Only these platform manifests of the subject's index: the verdict is theirs, not the
    /// index's.
    Platforms(Vec<Digest>),
}

/// Checks that a given report is about `subject` (`image`, with the platform manifests
/// `parts`), and says what it covers. A report that names no image, names another image, or
/// names a multi-platform index without saying which platform was scanned is refused (exit 2)
/// unless --allow-report-mismatch, when it is taken for the whole subject with a warning.
pub(crate) fn check_report(
    ctx: &Context,
    args: &ScanSbomArgs,
    path: &Path,
    report: &Report,
    image: &str,
    subject: &Digest,
    parts: &[Part],
) -> Result<Coverage, Failure> {
    let shown = ctx.settings.display_path(&ctx.cwd, path);
    let named = || {
        [report.artifact.clone(), report.image_id.clone()]
            .into_iter()
            .flatten()
            .chain(report.digests.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The ids the subject is known by: its digest, its platform manifests and their configs.
    let known = || {
        let mut ids = vec![subject.short()];
        for p in parts {
            ids.push(p.manifest.short());
            ids.extend(p.config.as_ref().map(Digest::short));
        }
        ids.dedup();
        ids.join(", ")
    };
    let (what, hint) = match report_match(report, subject, parts) {
        Match::Whole => return Ok(Coverage::Whole),
        Match::Some(m) => return Ok(Coverage::Platforms(m)),
        Match::Other => (
            format!(
                "--report `{shown}` is about another image ({}), not {image} ({})",
                named(),
                known()
            ),
            "scan this image (trivy image --input LAYOUT, or --scanner trivy), or pass --allow-report-mismatch if the report is right after all",
        ),
        Match::Nothing => (
            format!(
                "--report `{shown}` names no image (no image id or digest): it cannot be tied to {image} ({})",
                known()
            ),
            "scan the image itself (trivy image --input LAYOUT, or --scanner trivy), or pass --allow-report-mismatch to gate on this report anyway",
        ),
        Match::IndexOnly => (
            format!(
                "--report `{shown}` names the index {} of {image} but not which of its {} platforms it scanned (a scanner given an index picks one)",
                subject.short(),
                parts.len()
            ),
            "scan each platform (--scanner trivy does), or pass --allow-report-mismatch to gate on this report for the whole index anyway",
        ),
    };
    if args.allow_report_mismatch {
        ctx.printer.warn(&format!(
            "{what}; gating on it anyway (--allow-report-mismatch): the verdict recorded for {image} comes from this report"
        ));
        Ok(Coverage::Whole)
    } else {
        Err(Failure::usage(what).with_hint(hint))
    }
}

fn scan(ctx: &Context, args: &ScanSbomArgs) -> Result<StepReport, Failure> {
    if args.rescan {
        return crate::commands::rescan::rescan(ctx, args);
    }
    let started = Utc::now();
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
    let platforms = platforms_of(ctx, &state, &image, &digest, layout.as_deref());
    // A given report is read (and refused when malformed or not tied to this image) before
    // anything is written.
    let given = match (&args.report, &args.scanner, &cfg.report) {
        (Some(r), ..) => Some(ctx.cwd.join(r)),
        (None, None, Some(r)) if !args.sbom_only => Some(ctx.settings.config.relative(r)),
        _ => None,
    }
    .filter(|_| !args.sbom_only);
    let pre_read = match &given {
        Some(p) => {
            let r = slipway_scan::report::read(p)?;
            let parts: Vec<Part> = platforms
                .iter()
                .map(|p| Part {
                    manifest: p.manifest.clone(),
                    config: p.config.clone(),
                })
                .collect();
            let coverage = check_report(ctx, args, p, &r, &image, &digest, &parts)?;
            Some((p.clone(), r, coverage))
        }
        None => None,
    };
    let plan = sbom::SbomPlan {
        formats: sbom::parse_formats(&args.sbom_format)?,
        dir: args.sbom_dir.as_ref().map_or_else(
            || ctx.settings.state_dir().join("sbom"),
            |d| ctx.cwd.join(d),
        ),
        tool: args.sbom_tool.clone(),
        tool_version: Default::default(),
    };
    if !args.sbom_only && !policy.deny_licenses.is_empty() && plan.formats.is_empty() {
        return Err(Failure::usage(
            "the license deny-list (--deny-license, policy.scan.deny_licenses) is checked against the SBOM, and --sbom-format none writes none",
        )
        .with_hint("drop --sbom-format none, or the deny-list"));
    }
    let written = sboms(ctx, &plan, &image, &platforms)?;
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

    // What each platform's SBOM says (graph, licenses, OS), from the documents written.
    let mut facts: Vec<(PlatformRef, Option<Facts>)> = Vec::new();
    for p in platforms {
        let paths: Vec<PathBuf> = written
            .iter()
            .filter(|w| w.record.subject == p.manifest)
            .map(|w| crate::commands::sign::state_path(ctx, &w.record.path))
            .collect();
        let f = sbom_facts(&paths)?;
        facts.push((p, f));
    }
    if !policy.deny_licenses.is_empty() {
        let missing: Vec<String> = facts
            .iter()
            .filter(|(_, f)| f.is_none())
            .map(|(p, _)| p.platform.to_string())
            .collect();
        if facts.is_empty() || !missing.is_empty() {
            return Err(Failure::usage(format!(
                "the license deny-list (--deny-license, policy.scan.deny_licenses) is checked against the image's SBOM, and there is none{}",
                if missing.is_empty() {
                    format!(": `{image}` is not an image built into a layout in this state")
                } else {
                    format!(" for {}", missing.join(", "))
                }
            ))
            .with_hint("run slipway-build here (the SBOM is made from its layout), or drop the deny-list"));
        }
    }
    let graph_of = |p: Option<&PlatformRef>, f: Option<&Facts>| {
        let index = state
            .images
            .get(&image)
            .and_then(|i| i.index.as_ref())
            .map(|i| i.digest.clone());
        let mut ds: Vec<&Digest> = vec![&digest];
        if let Some(p) = p {
            ds.push(&p.manifest);
        }
        if let Some(i) = &index {
            ds.push(i);
        }
        let ids = image_ids(&image, &ds, p.map(|p| &p.platform));
        match f {
            Some(f) => {
                let mut g = f.graph.clone();
                g.add_root_ids(&ids);
                g
            }
            None => Graph::image(ids),
        }
    };
    let now = Utc::now();
    let mut judged: Vec<Judged> = Vec::new();
    match pre_read {
        Some((path, report, Coverage::Platforms(matched))) => {
            // A report of some platforms of the index: a verdict for each of those manifests,
            // judged with that platform's graph and licenses; none for the index.
            for (p, f) in facts.iter().filter(|(p, _)| matched.contains(&p.manifest)) {
                let mut findings = report.findings.clone();
                if let Some(f) = f {
                    findings.extend(slipway_scan::sbom::license_findings(
                        &f.licenses,
                        &policy.deny_licenses,
                    ));
                }
                let pol = Policy {
                    graph: graph_of(Some(p), f.as_ref()),
                    ..policy.clone()
                };
                let outcome = pol.evaluate(&findings, now);
                judged.push(Judged {
                    platform: Some(p.platform.to_string()),
                    digest: p.manifest.clone(),
                    image: Some(image.clone()),
                    scanner: report.scanner.clone(),
                    report: Some(ctx.settings.display_path(&ctx.cwd, &path)),
                    sboms: Vec::new(),
                    findings,
                    outcome,
                    os: report.os.clone().or(f.as_ref().and_then(|f| f.os.clone())),
                });
            }
        }
        Some((path, report, Coverage::Whole)) => {
            // One report for the whole subject: the graphs and licenses of all its platforms.
            let mut graph = Graph::default();
            let mut licenses = Vec::new();
            let mut os = report.os.clone();
            for (p, f) in &facts {
                graph.merge(&graph_of(Some(p), f.as_ref()));
                if let Some(f) = f {
                    licenses.extend(f.licenses.clone());
                    os = os.or(f.os.clone());
                }
            }
            if facts.is_empty() {
                graph = graph_of(None, None);
            }
            let mut findings = report.findings;
            findings.extend(slipway_scan::sbom::license_findings(
                &licenses,
                &policy.deny_licenses,
            ));
            let pol = Policy {
                graph,
                ..policy.clone()
            };
            let outcome = pol.evaluate(&findings, now);
            judged.push(Judged {
                platform: None,
                digest: digest.clone(),
                image: Some(image.clone()),
                scanner: report.scanner,
                report: Some(ctx.settings.display_path(&ctx.cwd, &path)),
                sboms: Vec::new(),
                findings,
                outcome,
                os,
            });
        }
        None => {
            let tool = args
                .scanner
                .as_ref()
                .or(cfg.scanner.as_ref())
                .expect("a scanner when no report");
            let dir = ctx.settings.state_dir().join("scan");
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::usage(format!("`{}`: {e}", dir.display())))?;
            // Scanning the layout: once per platform manifest, so every platform is judged
            // (trivy alone would pick one platform of an index).
            let runs: Vec<(Option<&PlatformRef>, Option<&Facts>)> = if facts.is_empty() {
                vec![(None, None)]
            } else {
                facts.iter().map(|(p, f)| (Some(p), f.as_ref())).collect()
            };
            let scanner_version = std::cell::OnceCell::new();
            for (p, f) in runs {
                let layout_dir = p
                    .and_then(|p| p.layout.clone())
                    .or_else(|| layout.clone())
                    .unwrap_or_else(|| ctx.settings.layout.clone());
                let subject = p.map_or(&digest, |p| &p.manifest);
                let out = dir.join(format!("{tool}-{}.json", subject.hex()));
                run_scanner(
                    ctx,
                    tool,
                    &args.scanners,
                    &layout_dir,
                    p.map(|p| (&p.platform, &p.manifest)),
                    &out,
                )?;
                let mut report = slipway_scan::report::read(&out)?;
                // Some builds (e.g. trivy `dev`) leave their version out of the report.
                if report.scanner.ends_with("(unknown version)") {
                    report.scanner = scanner_version
                        .get_or_init(|| sbom::tool_version(ctx, tool, "ran the scan"))
                        .clone();
                }
                if let (Some(p), Some(id)) = (p, &report.image_id)
                    && let Some(config) = &p.config
                    && id != &config.to_string()
                {
                    return Err(Failure::external(format!(
                        "{tool} scanned image {id}, not {image} ({}, config {config})",
                        p.platform
                    ))
                    .with_hint(format!(
                        "does this {tool} support --platform with an OCI layout?"
                    )));
                }
                let mut findings = report.findings;
                if let Some(f) = f {
                    findings.extend(slipway_scan::sbom::license_findings(
                        &f.licenses,
                        &policy.deny_licenses,
                    ));
                }
                let pol = Policy {
                    graph: graph_of(p, f),
                    ..policy.clone()
                };
                let outcome = pol.evaluate(&findings, now);
                judged.push(Judged {
                    platform: p.map(|p| p.platform.to_string()),
                    digest: subject.clone(),
                    image: Some(image.clone()),
                    scanner: report.scanner,
                    report: Some(ctx.settings.display_path(&ctx.cwd, &out)),
                    sboms: Vec::new(),
                    findings,
                    outcome,
                    os: report.os.or(f.and_then(|f| f.os.clone())),
                });
            }
        }
    }
    let ended = Utc::now();
    let image_ref = format!("{image}@{digest}");
    write_reports(ctx, args, &judged, &image_ref, started, ended)?;
    let outcome = combine(&judged);
    let multi = judged.len() > 1 || judged.first().is_some_and(|j| j.digest != digest);
    for j in &judged {
        for f in j.outcome.blocking.iter().take(render::SUMMARY_TOP) {
            let mut a = Annotation::new(Level::Error, blocking_line(f, j.platform.as_deref()));
            a.title = Some(format!("slipway scan: {} blocks {image}", f.id));
            ctx.annotate(&a);
        }
    }
    warn_ignores(ctx, &outcome);
    // The index's platforms this run judged no verdict for (a report of some platforms only).
    let unjudged: Vec<String> = if judged.iter().any(|j| j.digest == digest) {
        Vec::new()
    } else {
        facts
            .iter()
            .filter(|(p, _)| !judged.iter().any(|j| j.digest == p.manifest))
            .map(|(p, _)| p.platform.to_string())
            .collect()
    };
    if !unjudged.is_empty() {
        ctx.printer.warn(&format!(
            "--report covers {} of {image} only: the verdict is recorded for {}, and none for the index {} ({} not scanned); promote needs a verdict for every platform",
            judged
                .iter()
                .filter_map(|j| j.platform.clone())
                .collect::<Vec<_>>()
                .join(", "),
            if judged.len() == 1 {
                "that manifest"
            } else {
                "those manifests"
            },
            digest.short(),
            unjudged.join(", ")
        ));
    }
    let mut records: Vec<ScanRecord> = judged.iter().map(|j| record_of(j, ended)).collect();
    if multi && unjudged.is_empty() {
        // The verdict for the subject (the index) itself, when every platform was judged:
        // promote looks at it first.
        let scanner = judged
            .first()
            .map(|j| j.scanner.clone())
            .unwrap_or_default();
        records.push(record_of(
            &Judged {
                platform: None,
                digest: digest.clone(),
                image: Some(image.clone()),
                scanner,
                report: None,
                sboms: Vec::new(),
                findings: Vec::new(),
                outcome: outcome.clone(),
                os: None,
            },
            ended,
        ));
    }
    state_file.update(|s| s.scans.extend(records.iter().cloned()))?;
    let counts = counts(&outcome);
    let scanner = judged
        .first()
        .map(|j| j.scanner.clone())
        .unwrap_or_default();
    let mut markdown = render::markdown(&image_ref, &scanner, &outcome, fail_on);
    if multi {
        markdown.push_str("\n| platform | verdict | critical | high | medium | low | blocking |\n|---|---|---:|---:|---:|---:|---:|\n");
        for j in &judged {
            let c = self::counts(&j.outcome);
            markdown.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                j.platform.as_deref().unwrap_or("-"),
                if j.outcome.pass { "pass" } else { "**fail**" },
                c.critical,
                c.high,
                c.medium,
                c.low,
                j.outcome.blocking.len()
            ));
        }
    }
    if !unjudged.is_empty() {
        markdown.push_str(&format!(
            "\n> ⚠️ not scanned: {}; no verdict is recorded for the index\n",
            unjudged.join(", ")
        ));
    }
    if !written.is_empty() {
        markdown.push_str(&format!("\n**SBOM**: {sbom_line}\n"));
    }
    let summary = format!(
        "scan {} for {image} ({scanner}): {} critical, {} high, {} medium, {} low, {} unknown; {} blocking, {} ignored",
        if outcome.pass { "passed" } else { "FAILED" },
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
        "scanner": scanner,
        "verdict": if outcome.pass { "pass" } else { "fail" },
        "threshold": fail_on.to_string(),
        "counts": counts,
        "licenses": outcome.licenses,
        "blocking": outcome.blocking,
        "ignored": outcome.ignored,
        "expiring": outcome.expiring,
        "expired_ignores": outcome.expired,
        "platforms": judged.iter().filter(|_| multi).map(|j| serde_json::json!({
            "platform": j.platform,
            "digest": j.digest.to_string(),
            "verdict": if j.outcome.pass { "pass" } else { "fail" },
            "counts": self::counts(&j.outcome),
            "blocking": j.outcome.blocking.len(),
        })).collect::<Vec<_>>(),
        "sboms": sbom_json,
        "not_scanned": unjudged,
    });
    if !outcome.pass {
        ctx.publish_markdown(&markdown);
        let mut lines: Vec<String> = Vec::new();
        for j in &judged {
            for f in &j.outcome.blocking {
                lines.push(blocking_line(f, j.platform.as_deref()));
            }
        }
        let total = lines.len();
        lines.truncate(render::SUMMARY_TOP);
        if total > lines.len() {
            lines.push(format!("…and {} more", total - lines.len()));
        }
        let message = format!(
            "the scan gate failed for {image_ref}: {} blocking finding(s) ({}):\n  - {}",
            outcome.blocking.len(),
            blocking_summary(&outcome, fail_on),
            lines.join("\n  - ")
        );
        let failure = if ctx.settings.json() {
            Failure::denied_with_data(message, json)
        } else {
            Failure::denied(message)
        };
        return Err(failure.with_hint("fix or upgrade the packages, or record a decision: .trivyignore(.yaml) with a reason and expiry, a VEX statement, or policy.scan.allow"));
    }
    Ok(StepReport {
        summary,
        outputs: vec![
            ("verdict".into(), "pass".into()),
            ("digest".into(), digest.to_string()),
            ("sboms".into(), sbom_paths.join("\n")),
        ],
        markdown: Some(markdown),
        human: Some(if unjudged.is_empty() {
            format!("pass {image_ref}")
        } else {
            format!(
                "pass {} of {image_ref} (no verdict for the index: {} not scanned)",
                judged
                    .iter()
                    .filter_map(|j| j.platform.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
                unjudged.join(", ")
            )
        }),
        json: Some(json),
    })
}
