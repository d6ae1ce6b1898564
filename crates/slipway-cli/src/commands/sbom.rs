//! The SBOM half of `slipway-scan-sbom`: one SPDX 2.3 and one CycloneDX 1.6 document per
//! platform manifest of the image, made natively from the layout (or by syft / trivy with
//! `--sbom-tool`), recorded in the state.

use std::path::{Path, PathBuf};

use slipway_state::{SbomFormat, SbomRecord};
use slipway_types::{Digest, Platform};

use crate::Context;
use crate::error::Failure;

/// Which SBOMs to write, and how.
#[derive(Debug, Clone)]
pub struct SbomPlan {
    /// Formats (empty: none).
    pub formats: Vec<SbomFormat>,
    /// Directory the documents go to.
    pub dir: PathBuf,
    /// `native`, `syft` or `trivy`.
    pub tool: String,
    /// The tool's version, asked once per run (`trivy --version` alone takes seconds).
    pub tool_version: std::cell::OnceCell<String>,
}

/// One document written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The state record.
    pub record: SbomRecord,
    /// Packages it lists (native only).
    pub packages: Option<usize>,
    /// Files it lists (native only).
    pub files: Option<usize>,
}

/// Parses `--sbom-format`: `spdx`, `cyclonedx`, both comma-separated, or `none`.
pub fn parse_formats(s: &str) -> Result<Vec<SbomFormat>, Failure> {
    let mut out = Vec::new();
    for w in s.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let f = match w {
            "none" => continue,
            "spdx" | "spdx-json" => SbomFormat::SpdxJson,
            "cyclonedx" | "cyclonedx-json" | "cdx" => SbomFormat::CyclonedxJson,
            other => {
                return Err(Failure::usage(format!(
                    "--sbom-format: `{other}` is not a format (spdx, cyclonedx, none)"
                )));
            }
        };
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

fn extension(f: SbomFormat) -> &'static str {
    match f {
        SbomFormat::SpdxJson => "spdx.json",
        SbomFormat::CyclonedxJson => "cdx.json",
    }
}

/// The creation time the documents carry: SOURCE_DATE_EPOCH, else the image's `created`, else
/// the epoch — never the wall clock, so the same image gives the same bytes.
fn created(ctx: &Context, config_created: Option<&str>) -> Result<String, Failure> {
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if let Some(v) = ctx.env.non_empty(slipway_env::SOURCE_DATE_EPOCH) {
        let secs: i64 = v.trim().parse().map_err(|_| {
            Failure::usage(format!(
                "SOURCE_DATE_EPOCH is `{v}`, not a number of seconds since 1970"
            ))
        })?;
        return chrono::DateTime::from_timestamp(secs, 0)
            .map(fmt)
            .ok_or_else(|| Failure::usage(format!("SOURCE_DATE_EPOCH `{v}` is out of range")));
    }
    Ok(config_created
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| fmt(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<Digest, Failure> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)
            .map_err(|e| Failure::usage(format!("SBOM directory `{}`: {e}", p.display())))?;
    }
    slipway_fs::atomic_write(path, bytes)
        .map_err(|e| Failure::usage(format!("writing SBOM `{}`: {e}", path.display())))?;
    Ok(slipway_oci::digest::sha256(bytes))
}

/// `tool VERSION` from `tool --version` (trivy: `Version: 0.50.0`; syft: `syft 1.0.0`); a
/// version that cannot be read is recorded as `unknown`, with a warning saying what it `did`.
pub(crate) fn tool_version(ctx: &Context, tool: &str, did: &str) -> String {
    let out = std::process::Command::new(tool).arg("--version").output();
    let text = out
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let v = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("Version:")
                .or_else(|| l.strip_prefix(&format!("{tool} ")))
        })
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match v {
        Some(v) => format!("{tool} {v}"),
        None => {
            ctx.printer.warn(&format!(
                "cannot tell which {tool} {did}: `{tool} --version` printed {}; the state records `{tool} unknown`",
                match &out {
                    Ok(o) if text.trim().is_empty() => format!("nothing (exit {})", o.status),
                    Ok(_) => format!("`{}`", text.lines().next().unwrap_or_default().trim()),
                    Err(e) => format!("nothing ({e})"),
                }
            ));
            format!("{tool} unknown")
        }
    }
}

/// Writes the SBOMs of one platform manifest.
#[allow(clippy::too_many_arguments)]
pub fn platform_sboms(
    ctx: &Context,
    plan: &SbomPlan,
    image: &str,
    platform: &Platform,
    manifest: &Digest,
    layout_dir: &Path,
) -> Result<Vec<Written>, Failure> {
    let stem = format!(
        "{}-{}",
        image.replace(['/', ':', '@'], "_"),
        platform.to_string().replace('/', "-")
    );
    let mut out = Vec::new();
    if plan.tool != "native" {
        for f in &plan.formats {
            let path = plan.dir.join(format!("{stem}.{}", extension(*f)));
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p)
                    .map_err(|e| Failure::usage(format!("`{}`: {e}", p.display())))?;
            }
            run_tool(ctx, &plan.tool, *f, platform, manifest, layout_dir, &path)?;
            let bytes = std::fs::read(&path).map_err(|e| {
                Failure::external(format!(
                    "{} wrote no SBOM at `{}`: {e}",
                    plan.tool,
                    path.display()
                ))
            })?;
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
                Failure::external(format!(
                    "{}'s SBOM `{}` is not JSON: {e}",
                    plan.tool,
                    path.display()
                ))
            })?;
            out.push(Written {
                record: SbomRecord {
                    image: Some(image.to_owned()),
                    subject: manifest.clone(),
                    platform: Some(platform.clone()),
                    format: *f,
                    path: ctx.settings.display_path(&ctx.cwd, &path),
                    sha256: slipway_oci::digest::sha256(&bytes),
                    tool: plan
                        .tool_version
                        .get_or_init(|| tool_version(ctx, &plan.tool, "made the SBOM"))
                        .clone(),
                },
                packages: None,
                files: None,
            });
        }
        return Ok(out);
    }
    let layout = slipway_oci::Layout::open(layout_dir).map_err(|e| {
        Failure::usage(format!("layout `{}`: {e}", layout_dir.display()))
            .with_hint("run slipway-build first; the SBOM is made from the image in its layout")
    })?;
    let (config, contents) = slipway_sbom::image::read(&layout, manifest)
        .map_err(|e| Failure::usage(format!("{image} ({platform}): {e}")))?;
    let when = created(ctx, config.created.as_deref())?;
    let version = env!("CARGO_PKG_VERSION");
    let sbom = slipway_sbom::Sbom::build(image, manifest, &config, contents, when, version);
    for w in &sbom.warnings {
        ctx.printer
            .warn(&format!("SBOM of {image} ({platform}): {w}"));
    }
    for f in &plan.formats {
        let doc = match f {
            SbomFormat::SpdxJson => slipway_sbom::spdx::document(&sbom),
            SbomFormat::CyclonedxJson => slipway_sbom::cyclonedx::document(&sbom),
        };
        let mut bytes =
            serde_json::to_vec_pretty(&doc).map_err(|e| Failure::external(format!("SBOM: {e}")))?;
        bytes.push(b'\n');
        let path = plan.dir.join(format!("{stem}.{}", extension(*f)));
        let sha256 = write(&path, &bytes)?;
        out.push(Written {
            record: SbomRecord {
                image: Some(image.to_owned()),
                subject: manifest.clone(),
                platform: Some(platform.clone()),
                format: *f,
                path: ctx.settings.display_path(&ctx.cwd, &path),
                sha256,
                tool: format!("slipway {version}"),
            },
            packages: Some(sbom.packages.len()),
            files: Some(sbom.files.len()),
        });
    }
    Ok(out)
}

fn run_tool(
    ctx: &Context,
    tool: &str,
    format: SbomFormat,
    platform: &Platform,
    manifest: &Digest,
    layout: &Path,
    out: &Path,
) -> Result<(), Failure> {
    // The platform's own manifest: trivy ignores --platform for a layout.
    let single = out.with_extension("layout");
    let source = crate::commands::scan_sbom::layout_source(tool, layout, Some(manifest), &single)?;
    let mut cmd = std::process::Command::new(tool);
    match tool {
        "trivy" => {
            cmd.args(["image", "--quiet", "--format"])
                .arg(match format {
                    SbomFormat::SpdxJson => "spdx-json",
                    SbomFormat::CyclonedxJson => "cyclonedx",
                })
                .arg("--platform")
                .arg(platform.to_string())
                .arg("--output")
                .arg(out)
                .arg("--input")
                .arg(&source);
        }
        "syft" => {
            // No update check: the step talks to nothing but what it is pointed at.
            cmd.env("SYFT_CHECK_FOR_APP_UPDATE", "false")
                .arg("scan")
                .arg(format!("oci-dir:{}", source.display()))
                .arg("--platform")
                .arg(platform.to_string())
                .arg("-o")
                .arg(format!(
                    "{}={}",
                    match format {
                        SbomFormat::SpdxJson => "spdx-json@2.3",
                        SbomFormat::CyclonedxJson => "cyclonedx-json@1.6",
                    },
                    out.display()
                ));
        }
        other => {
            let _ = std::fs::remove_dir_all(&single);
            return Err(Failure::usage(format!(
                "--sbom-tool: `{other}` is not supported (native, syft, trivy)"
            )));
        }
    }
    ctx.printer
        .detail(&format!("running {tool} for the SBOM of {platform}"));
    let status = cmd.status();
    let _ = std::fs::remove_dir_all(&single);
    let status = status.map_err(|e| {
        Failure::external(format!("cannot run {tool}: {e}")).with_hint(format!(
            "install {tool}, or use the native SBOM (--sbom-tool native)"
        ))
    })?;
    if !status.success() {
        return Err(Failure::external(format!("{tool} failed ({status})")));
    }
    Ok(())
}
