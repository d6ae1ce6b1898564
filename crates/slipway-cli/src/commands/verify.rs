//! `slipway verify`: signatures and attestations of images, offline, against a key or a
//! certificate identity.

use std::path::{Path, PathBuf};

use chrono::Utc;
use clap::Args;
use serde_json::json;
use slipway_env as ev;
use slipway_oci::Layout;
use slipway_registry::BlockingClient;
use slipway_sign::keys::{KeyRef, PublicKey};
use slipway_sign::predicates;
use slipway_sign::source::{ArtifactSource, LayoutSource};
use slipway_sign::trust::TrustedRoot;
use slipway_sign::verify::{self, Authority, Matcher, Policy};
use slipway_state::{Step, VerificationRecord};
use slipway_types::{Digest, Reference};

use crate::commands::registry_source::RegistrySource;
use crate::commands::sign::{Target, targets};
use crate::commands::transfer::{self, TransferArgs};
use crate::error::Failure;
use crate::{Context, StepReport};

/// Arguments of `slipway verify`.
#[derive(Debug, Clone, Default, Args)]
#[command(after_long_help = "\
TARGET is an OCI layout directory (every image in it), DIR:NAME or DIR@sha256:… (one image),
an image name from the state file, or a name or digest in the shared layout (--layout); without
TARGET, the state's images are verified.
A registry reference (registry/repo:tag or registry/repo@sha256:…) is verified in the registry:
its signatures and attestations are read from the cosign tags next to it (registry options as
for slipway-push: --ca-file, --insecure-registry, credentials from the docker config).

Verification is offline: it uses only the key or the trusted root given, and the transparency
log bundle stored with each signature. Exit 1 when a signature or required attestation does not
verify; the result is recorded in the state file (`verifications`).")]
pub struct VerifyArgs {
    /// What to verify [default: the images in the state file]
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// Public key that must have signed (PEM file, or env://VAR)
    #[arg(long, value_name = "PATH|env://VAR", env = ev::SLIPWAY_VERIFY_KEY, hide_env_values = true)]
    pub key: Option<String>,

    /// Certificate identity that must have signed (keyless)
    #[arg(long, value_name = "IDENTITY", conflicts_with = "key")]
    pub certificate_identity: Option<String>,

    /// Regular expression the certificate identity must match (whole value)
    #[arg(long, value_name = "REGEX", conflicts_with_all = ["key", "certificate_identity"])]
    pub certificate_identity_regexp: Option<String>,

    /// OIDC issuer of the certificate (keyless)
    #[arg(long, value_name = "URL")]
    pub certificate_oidc_issuer: Option<String>,

    /// Regular expression the OIDC issuer must match (whole value)
    #[arg(long, value_name = "REGEX", conflicts_with = "certificate_oidc_issuer")]
    pub certificate_oidc_issuer_regexp: Option<String>,

    /// Sigstore trusted_root.json with the Fulcio roots and Rekor keys (keyless, --require-tlog)
    #[arg(long, value_name = "FILE", env = ev::SLIPWAY_TRUSTED_ROOT, hide_env_values = true)]
    pub trusted_root: Option<PathBuf>,

    /// Keyed signatures must have a verified Rekor entry too
    #[arg(long)]
    pub require_tlog: bool,

    /// Do not check the SCT embedded in keyless certificates (for a Fulcio without a CT log)
    #[arg(long)]
    pub insecure_ignore_sct: bool,

    /// Predicate type that must have a valid attestation: sbom, spdx, cyclonedx, provenance,
    /// vuln, or a URI; repeatable
    #[arg(long = "attestation", value_name = "TYPE")]
    pub attestations: Vec<String>,

    /// Also verify every platform manifest of an index
    #[arg(short, long)]
    pub recursive: bool,

    /// Registry options (for registry references).
    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// One image to verify, and where its signatures are read from.
struct VerifyTarget {
    name: String,
    source: Box<dyn ArtifactSource>,
    manifest: slipway_oci::Manifest,
    children: Vec<Digest>,
}

impl From<Target> for VerifyTarget {
    fn from(t: Target) -> VerifyTarget {
        VerifyTarget {
            children: t.children(),
            name: t.name,
            source: Box::new(LayoutSource::new(t.layout)),
            manifest: t.manifest,
        }
    }
}

fn registry_target(
    ctx: &Context,
    args: &VerifyArgs,
    reference: &Reference,
) -> Result<VerifyTarget, Failure> {
    let cfg = ctx.settings.config.config.push.clone().unwrap_or_default();
    let t = transfer::resolve(ctx, &args.transfer, cfg.transfer.as_ref())?;
    let rt = std::sync::Arc::new(transfer::runtime()?);
    let client = BlockingClient::on(t.client, rt);
    let desc = client.resolve(reference)?;
    let source = RegistrySource::new(client, reference.repository().clone());
    let manifest = source.manifest_by_digest(&desc.digest)?;
    let children = match &manifest.kind {
        slipway_oci::ManifestKind::Index(i) => i
            .manifests()
            .iter()
            .filter_map(|d| slipway_oci::convert::descriptor_digest(d).ok())
            .collect(),
        slipway_oci::ManifestKind::Image(_) => Vec::new(),
    };
    Ok(VerifyTarget {
        name: reference.to_string(),
        source: Box::new(source),
        manifest,
        children,
    })
}

/// Runs `slipway verify`.
pub fn run(ctx: &Context, args: VerifyArgs) -> Result<(), Failure> {
    let state = ctx.state_file();
    ctx.run_step(Step::Verify, &state, |ctx| verify_images(ctx, &args))
}

fn policy(ctx: &Context, args: &VerifyArgs) -> Result<Policy, Failure> {
    let cfg = ctx
        .settings
        .config
        .config
        .sign
        .as_ref()
        .and_then(|s| s.verify.clone())
        .unwrap_or_default();
    let cfg_path = |p: &str| match KeyRef::parse(p) {
        Ok(KeyRef::Path(x)) => Ok(KeyRef::Path(ctx.settings.config.relative(&x))),
        other => other,
    };
    let key = match (&args.key, &cfg.key) {
        (Some(k), _) => Some(KeyRef::parse(k)?.relative_to(&ctx.cwd)),
        (None, Some(k))
            if args.certificate_identity.is_none()
                && args.certificate_identity_regexp.is_none() =>
        {
            Some(cfg_path(k)?)
        }
        _ => None,
    };
    let trusted_root = args
        .trusted_root
        .as_ref()
        .map(|p| ctx.cwd.join(p))
        .or_else(|| {
            cfg.trusted_root
                .as_ref()
                .map(|p| ctx.settings.config.relative(p))
        });
    let trust = trusted_root.as_deref().map(TrustedRoot::load).transpose()?;
    let identity = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
        &cfg.certificate_identity,
        &cfg.certificate_identity_regexp,
    ) {
        (Some(i), _, _, _) => Some(Matcher::Exact(i.clone())),
        (None, Some(r), _, _) => Some(Matcher::regex(r, "--certificate-identity-regexp")?),
        (None, None, Some(i), _) => Some(Matcher::Exact(i.clone())),
        (None, None, None, Some(r)) => Some(Matcher::regex(
            r,
            "sign.verify.certificate_identity_regexp",
        )?),
        _ => None,
    };
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
        &cfg.certificate_oidc_issuer,
        &cfg.certificate_oidc_issuer_regexp,
    ) {
        (Some(i), _, _, _) => Some(Matcher::Exact(i.clone())),
        (None, Some(r), _, _) => Some(Matcher::regex(r, "--certificate-oidc-issuer-regexp")?),
        (None, None, Some(i), _) => Some(Matcher::Exact(i.clone())),
        (None, None, None, Some(r)) => Some(Matcher::regex(
            r,
            "sign.verify.certificate_oidc_issuer_regexp",
        )?),
        _ => None,
    };
    let authority = match (key, identity, issuer) {
        (Some(k), None, _) => Authority::Key(PublicKey::load(&k, &ctx.env)?),
        (None, Some(identity), Some(issuer)) => Authority::Keyless { identity, issuer },
        (None, Some(_), None) => {
            return Err(Failure::usage(
                "keyless verification needs the issuer too: --certificate-oidc-issuer or --certificate-oidc-issuer-regexp",
            ));
        }
        (None, None, Some(_)) => {
            return Err(Failure::usage(
                "keyless verification needs the identity too: --certificate-identity or --certificate-identity-regexp",
            ));
        }
        _ => {
            return Err(Failure::usage(
                "nothing to verify against: pass --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp] and --trusted-root",
            ));
        }
    };
    let policy = Policy {
        authority,
        trust,
        require_tlog: args.require_tlog || cfg.require_tlog.unwrap_or(false),
        ignore_sct: args.insecure_ignore_sct,
    };
    policy.check()?;
    Ok(policy)
}

fn layout_targets(layout: &Layout, name: Option<&str>) -> Result<Vec<Target>, Failure> {
    let mut out = Vec::new();
    match name {
        Some(n) => {
            let manifest = if let Ok(d) = n.parse::<Digest>() {
                LayoutSource::new(layout.clone()).manifest_by_digest(&d)?
            } else {
                layout.read_manifest(&layout.resolve(n)?)?
            };
            out.push(Target {
                name: n.to_owned(),
                layout: layout.clone(),
                manifest,
            });
        }
        None => {
            for (n, d) in layout.refs()? {
                if n.starts_with("sha256-")
                    && (n.ends_with(".sig") || n.ends_with(".att") || n.ends_with(".sbom"))
                {
                    continue;
                }
                out.push(Target {
                    name: n,
                    layout: layout.clone(),
                    manifest: layout.read_manifest(&d)?,
                });
            }
            if out.is_empty() {
                return Err(Failure::usage(format!(
                    "layout `{}` names no images",
                    layout.root().display()
                )));
            }
        }
    }
    Ok(out)
}

fn is_layout(p: &Path) -> bool {
    p.join("oci-layout").is_file()
}

fn resolve_targets(
    ctx: &Context,
    args: &VerifyArgs,
    state: &slipway_state::State,
) -> Result<Vec<VerifyTarget>, Failure> {
    if args.targets.is_empty() {
        return Ok(targets(ctx, state, &[])?
            .into_iter()
            .map(Into::into)
            .collect());
    }
    let mut out = Vec::new();
    for t in &args.targets {
        let spec = t.strip_prefix("oci:").unwrap_or(t);
        let path = ctx.cwd.join(spec);
        if is_layout(&path) {
            out.extend(
                layout_targets(&Layout::open(&path)?, None)?
                    .into_iter()
                    .map(Into::into),
            );
            continue;
        }
        let split = spec
            .rfind('@')
            .filter(|i| spec[i + 1..].starts_with("sha"))
            .map(|i| (&spec[..i], &spec[i + 1..]))
            .or_else(|| spec.rfind(':').map(|i| (&spec[..i], &spec[i + 1..])));
        if let Some((dir, name)) = split
            && is_layout(&ctx.cwd.join(dir))
        {
            out.extend(
                layout_targets(&Layout::open(ctx.cwd.join(dir))?, Some(name))?
                    .into_iter()
                    .map(Into::into),
            );
            continue;
        }
        if state.images.contains_key(t.as_str()) || !t.contains('/') {
            out.extend(
                targets(ctx, state, std::slice::from_ref(t))?
                    .into_iter()
                    .map(Into::into),
            );
            continue;
        }
        if let Ok(reference) = t.parse::<Reference>() {
            out.push(registry_target(ctx, args, &reference)?);
            continue;
        }
        return Err(Failure::usage(format!(
            "`{t}` is neither an OCI layout, DIR:NAME, an image of the state file, nor a reference"
        )));
    }
    Ok(out)
}

struct Checked {
    digest: Digest,
    image: String,
    location: String,
    signatures: usize,
    types: Vec<String>,
    problems: Vec<String>,
}

fn verify_images(ctx: &Context, args: &VerifyArgs) -> Result<StepReport, Failure> {
    let policy = policy(ctx, args)?;
    let state_file = ctx.state_file();
    let state = state_file.read()?.unwrap_or_default();
    let cfg_verify = ctx
        .settings
        .config
        .config
        .sign
        .as_ref()
        .and_then(|s| s.verify.clone())
        .unwrap_or_default();
    let recursive = args.recursive || cfg_verify.recursive.unwrap_or(false);
    let required: Vec<String> = if args.attestations.is_empty() {
        cfg_verify.attestations.clone()
    } else {
        args.attestations.clone()
    };
    let targets = resolve_targets(ctx, args, &state)?;
    let started = std::time::Instant::now();
    let mut checked = Vec::new();
    for t in &targets {
        let source = &*t.source;
        let children = t.children.clone();
        let mut subjects = vec![t.manifest.digest.clone()];
        if recursive {
            subjects.extend(children.iter().cloned());
        }
        // Attestations of the platform manifests, for requirements an index meets through them.
        let mut child_types: Vec<Vec<String>> = Vec::new();
        if !required.is_empty() && !children.is_empty() {
            for c in &children {
                child_types.push(verify::verify_attestations(source, c, &policy)?.verified_types);
            }
        }
        for s in subjects {
            let sigs = verify::verify_signatures(source, &s, &policy)?;
            let atts = verify::verify_attestations(source, &s, &policy)?;
            let mut problems = Vec::new();
            if sigs.valid.is_empty() {
                problems.extend(sigs.rejected.clone());
                if problems.is_empty() {
                    problems.push("no signature verified".into());
                }
            }
            for r in &required {
                let wanted = predicates::predicate_types(r);
                let has = |types: &[String]| types.iter().any(|t| wanted.contains(t));
                let on_children = s == t.manifest.digest
                    && !child_types.is_empty()
                    && child_types.iter().all(|c| has(c));
                if !has(&atts.verified_types) && !on_children {
                    let mut why = format!("no valid `{r}` attestation");
                    if !atts.rejected.is_empty() {
                        why.push_str(&format!(" ({})", atts.rejected.join("; ")));
                    }
                    problems.push(why);
                }
            }
            checked.push(Checked {
                digest: s,
                image: t.name.clone(),
                location: source.location(),
                signatures: sigs.valid.len(),
                types: atts.verified_types,
                problems,
            });
        }
    }
    let elapsed = started.elapsed();
    let method = policy.method();
    state_file.update(|s| {
        for c in &checked {
            s.verifications.push(VerificationRecord {
                digest: c.digest.clone(),
                location: c.location.clone(),
                verified: c.problems.is_empty(),
                method: method.clone(),
                signatures: u32::try_from(c.signatures).unwrap_or(u32::MAX),
                attestations: c.types.clone(),
                reason: (!c.problems.is_empty()).then(|| c.problems.join("; ")),
                at: Utc::now(),
            });
        }
    })?;
    let failed: Vec<&Checked> = checked.iter().filter(|c| !c.problems.is_empty()).collect();
    let lines: Vec<String> = checked
        .iter()
        .map(|c| {
            format!(
                "{} {} {} ({} signature{}{})",
                if c.problems.is_empty() {
                    "verified"
                } else {
                    "FAILED"
                },
                c.image,
                c.digest,
                c.signatures,
                if c.signatures == 1 { "" } else { "s" },
                if c.types.is_empty() {
                    String::new()
                } else {
                    format!(", attestations: {}", c.types.join(", "))
                }
            )
        })
        .collect();
    if !failed.is_empty() {
        // In JSON mode the failure itself is the JSON document on stdout.
        if !ctx.settings.json() {
            ctx.printer.data(&lines.join("\n"));
        }
        for c in &failed {
            for p in &c.problems {
                ctx.printer.warn(&format!("{} {}: {p}", c.image, c.digest));
            }
        }
        return Err(Failure::denied(format!(
            "verification failed for {} of {} digest{} against {method}",
            failed.len(),
            checked.len(),
            if checked.len() == 1 { "" } else { "s" }
        ))
        .with_hint("the reasons are listed above; nothing unverified may be promoted"));
    }
    ctx.printer
        .detail(&format!("verified in {:.3} s", elapsed.as_secs_f64()));
    Ok(StepReport {
        summary: format!(
            "verified {} digest{} against {method}",
            checked.len(),
            if checked.len() == 1 { "" } else { "s" }
        ),
        outputs: vec![(
            "verified-digests".into(),
            checked
                .iter()
                .map(|c| c.digest.to_string())
                .collect::<Vec<_>>()
                .join(","),
        )],
        markdown: Some(format!(
            "### slipway verify\n\n{}\n",
            lines
                .iter()
                .map(|l| format!("- {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )),
        human: Some(lines.join("\n")),
        json: Some(json!({
            "method": method,
            "verified": checked.iter().map(|c| json!({
                "image": c.image, "digest": c.digest.to_string(), "signatures": c.signatures,
                "attestations": c.types,
            })).collect::<Vec<_>>(),
        })),
    })
}
