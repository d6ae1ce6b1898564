//! `slipway-push`: an image (or index) from an OCI layout to a registry, with the cosign
//! signatures and attestations (`sha256-<hex>.sig` / `.att` in the layout) of its digests,
//! tagged by the tag rules; recorded in the state.

use std::sync::Arc;

use clap::Args;
use slipway_config::LatestRule;
use slipway_env as ev;
use slipway_oci::{Layout, convert};
use slipway_registry::{BlockingClient, CopyItem, CopyOptions, Source, Target, TargetReport, copy};
use slipway_ship::tags::{self, GitContext, Latest, TagRules};
use slipway_sign::source::LayoutSource;
use slipway_state::{PushRecord, State, Step};
use slipway_types::{Digest, Repository, Tag};

use crate::commands::registry_source::RegistrySource;
use crate::commands::transfer::{self, TransferArgs};
use crate::error::Failure;
use crate::{Context, StepReport};

/// Arguments of `slipway-push`.
#[derive(Debug, Clone, Default, Args)]
#[command(after_help = "\
Tags: --tag values, plus rules like docker/metadata-action from the CI's git context (or
--git-ref/--git-sha): a git tag v1.2.3 gives 1.2.3, 1.2, 1 and latest (prereleases only the full
version); a branch gives its name; a pull request gives pr-N; push.tags in slipway.yaml adds
short-sha, environment and template tags. Tags that are not valid OCI tags are sanitised with a
message (semver build metadata `+x` becomes `-x`).

Signatures and attestations stored in the layout as `sha256-<hex>.sig` / `.att` for the image's
digests are pushed with it. Credentials: --username + --password-stdin, SLIPWAY_REGISTRY_USERNAME
and SLIPWAY_REGISTRY_PASSWORD, or the docker config.json (auths, credHelpers, credsStore;
DOCKER_CONFIG, REGISTRY_AUTH_FILE).")]
pub struct PushArgs {
    /// Repository to push to, e.g. ghcr.io/acme/app [config: push.repository]
    #[arg(long, value_name = "REPO")]
    pub to: Option<String>,

    /// Image to push: its name in the state or in the layout [default: the only one]
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    /// Tag to set; repeatable
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tags: Vec<String>,

    /// Environment name, also set as a tag
    #[arg(long, value_name = "NAME", env = ev::SLIPWAY_ENVIRONMENT, hide_env_values = true)]
    pub environment: Option<String>,

    /// Git ref for the tag rules (refs/tags/v1.2.3, refs/heads/main, refs/pull/7/merge, v1.2.3)
    /// [default: from the CI environment]
    #[arg(long, value_name = "REF")]
    pub git_ref: Option<String>,

    /// Commit SHA for the tag rules [default: from the CI environment]
    #[arg(long, value_name = "SHA")]
    pub git_sha: Option<String>,

    /// Registry options.
    #[command(flatten)]
    pub transfer: TransferArgs,
}

pub mod cosign_tags;

/// Cosign artifact suffixes carried along with an image.
pub const ARTIFACT_SUFFIXES: [&str; 3] = ["sig", "att", "sbom"];

/// Runs `slipway-push`.
pub fn run(ctx: &Context, args: PushArgs) -> Result<(), Failure> {
    let state_file = ctx.state_file();
    ctx.run_step(Step::Push, &state_file, |ctx| push(ctx, &args))
}

struct Chosen {
    name: Option<String>,
    layout: Layout,
    root: oci_spec::image::Descriptor,
}

fn choose(ctx: &Context, args: &PushArgs, state: &State) -> Result<Chosen, Failure> {
    let from_state = match &args.image {
        Some(n) => state.images.get(n).map(|i| (n.clone(), i)),
        None if state.images.len() == 1 => state.images.iter().next().map(|(n, i)| (n.clone(), i)),
        None => None,
    };
    // An image of the state lives in the layout the state records for it; anything else in the
    // shared layout (--layout).
    let layout_dir = match from_state.as_ref().and_then(|(_, i)| i.layout.as_ref()) {
        Some(l) => ctx.cwd.join(l),
        None => ctx.settings.layout.clone(),
    };
    let layout = Layout::open(&layout_dir).map_err(|e| {
        Failure::from(e).with_hint("pass --layout DIR (the OCI layout slipway-build wrote)")
    })?;
    let refs = layout.refs()?;
    let is_artifact = |n: &str| {
        ARTIFACT_SUFFIXES
            .iter()
            .any(|s| n.ends_with(&format!(".{s}")) && n.starts_with("sha256-"))
    };
    let wanted = match (&args.image, from_state.as_ref()) {
        (_, Some((n, img))) => img.layout_ref.clone().unwrap_or_else(|| n.clone()),
        (Some(n), None) => n.clone(),
        (None, None) => {
            // `NAME.os-arch` entries are the platforms of image NAME (slipway-build writes them
            // for tools that cannot pick a platform from an index).
            let all: Vec<&str> = refs.iter().map(|(n, _)| n.as_str()).collect();
            let names: Vec<&String> = refs
                .iter()
                .map(|(n, _)| n)
                .filter(|n| !is_artifact(n))
                .filter(|n| {
                    !n.rsplit_once('.')
                        .is_some_and(|(parent, _)| all.contains(&parent))
                })
                .collect();
            match names.as_slice() {
                [one] => (*one).clone(),
                [] => {
                    return Err(Failure::usage(format!(
                        "layout `{}` holds no image",
                        layout.root().display()
                    ))
                    .with_hint("build one first (slipway-build) or pass --layout"));
                }
                many => {
                    return Err(Failure::usage(format!(
                        "layout `{}` holds several images ({}); say which with --image",
                        layout.root().display(),
                        many.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    let root = layout.resolve(&wanted)?;
    Ok(Chosen {
        name: from_state.map(|(n, _)| n).or(Some(wanted)),
        layout,
        root,
    })
}

fn tag_rules(ctx: &Context, args: &PushArgs) -> TagRules {
    let cfg = ctx
        .settings
        .config
        .config
        .push
        .as_ref()
        .and_then(|p| p.tags.clone())
        .unwrap_or_default();
    let d = TagRules::default();
    let mut explicit = args.tags.clone();
    if explicit.is_empty() {
        explicit = cfg.explicit.clone();
    }
    TagRules {
        explicit,
        semver: cfg.semver.unwrap_or(d.semver),
        latest: match cfg.latest {
            Some(LatestRule::Always) => Latest::Always,
            Some(LatestRule::Never) => Latest::Never,
            Some(LatestRule::Auto) | None => Latest::Auto,
        },
        branch: cfg.branch.unwrap_or(d.branch),
        pr: cfg.pr.unwrap_or(d.pr),
        sha: cfg.sha.unwrap_or(d.sha),
        environment: args.environment.clone().or(cfg.environment),
        templates: cfg.templates,
    }
}

fn git_context(ctx: &Context, args: &PushArgs) -> GitContext {
    let mut g = GitContext::from_env(|k| ctx.env.get(k).map(str::to_owned));
    if let Some(r) = &args.git_ref {
        g.tag = None;
        g.branch = None;
        g.pr = None;
        g.apply_ref(r);
    }
    if let Some(s) = &args.git_sha {
        g.sha = Some(s.clone());
    }
    g
}

/// Cosign artifacts in the layout for the digests reachable from `root`.
fn artifacts(
    layout: &Layout,
    root: &oci_spec::image::Descriptor,
) -> Result<Vec<(String, oci_spec::image::Descriptor)>, Failure> {
    let refs = layout.refs()?;
    let mut out = Vec::new();
    for d in layout.walk(root)? {
        let media = convert::media_type(d.media_type());
        if !(media.is_index() || media.is_manifest()) {
            continue;
        }
        let digest = convert::descriptor_digest(&d)?;
        for suffix in ARTIFACT_SUFFIXES {
            let name = digest.cosign_tag(suffix);
            if let Some((_, desc)) = refs.iter().find(|(n, _)| *n == name) {
                out.push((name, desc.clone()));
            }
        }
    }
    Ok(out)
}

fn push(ctx: &Context, args: &PushArgs) -> Result<StepReport, Failure> {
    let cfg = ctx.settings.config.config.push.clone().unwrap_or_default();
    // The runner is checked for the environment this push tags, not only SLIPWAY_ENVIRONMENT.
    let environment = args
        .environment
        .clone()
        .or_else(|| cfg.tags.as_ref().and_then(|t| t.environment.clone()));
    crate::commands::runner::enforce_in(ctx, Step::Push, environment.as_deref())?;
    let state_file = ctx.state_file();
    let state = state_file.read()?.unwrap_or_default();
    let to = args.to.clone().or(cfg.repository.clone()).ok_or_else(|| {
        Failure::usage("no repository to push to").with_hint(
            "pass --to REPO (e.g. ghcr.io/acme/app) or set push.repository in slipway.yaml",
        )
    })?;
    let repo: Repository = to
        .parse()
        .map_err(|e: slipway_types::ReferenceError| Failure::usage(format!("--to: {e}")))?;
    let chosen = choose(ctx, args, &state)?;
    let digest = convert::descriptor_digest(&chosen.root)?;
    let plan = tags::compute(&tag_rules(ctx, args), &git_context(ctx, args))
        .map_err(|e| Failure::usage(e.to_string()))?;
    for n in &plan.notes {
        ctx.printer.warn(n);
    }
    let arts = artifacts(&chosen.layout, &chosen.root)?;
    let t = transfer::resolve(ctx, &args.transfer, cfg.transfer.as_ref())?;
    // One runtime and one client for the whole push.
    let rt = Arc::new(transfer::runtime()?);
    // Signatures and attestations others already put on the target are kept: each cosign tag
    // gets the union of theirs and ours (see cosign_tags).
    let scratch = cosign_tags::Scratch::new();
    let remote = RegistrySource::new(
        BlockingClient::on(t.client.clone(), Arc::clone(&rt)),
        repo.clone(),
    );
    let local = LayoutSource::new(chosen.layout.clone());
    let mut items: Vec<CopyItem> = Vec::new();
    let mut merged: Vec<CopyItem> = Vec::new();
    for (name, d) in &arts {
        match cosign_tags::decide(&local, &remote, name, d, &scratch)? {
            cosign_tags::Decision::AsIs => items.push(CopyItem {
                root: d.clone(),
                tags: vec![name.clone()],
            }),
            cosign_tags::Decision::Union(item) => {
                ctx.printer.detail(&format!(
                    "{name}: {repo} holds other entries; writing the union"
                ));
                merged.push(*item);
            }
            cosign_tags::Decision::Kept => ctx.printer.detail(&format!(
                "{name}: {repo} already holds every entry; left as is"
            )),
        }
    }
    // The image last: its tags appear only once everything else is there.
    items.push(CopyItem {
        root: chosen.root.clone(),
        tags: plan.tags.iter().map(|t| t.to_string()).collect(),
    });
    let progress: Arc<dyn slipway_types::Progress> = Arc::new(ctx.progress());
    let target = Target::Remote {
        client: t.client.clone(),
        repo: repo.clone(),
    };
    ctx.printer.detail(&format!(
        "pushing {} from {} to {repo} ({} artifact(s))",
        digest.short(),
        chosen.layout.root().display(),
        arts.len()
    ));
    let opts = CopyOptions {
        jobs: t.jobs,
        progress,
    };
    let mut report = TargetReport::default();
    if !merged.is_empty() {
        let (_, r) = rt.block_on(copy::copy(
            &Source::Layout(scratch.layout()?.clone()),
            std::slice::from_ref(&target),
            &merged,
            &opts,
        ))?;
        add_report(&mut report, r.first());
    }
    let (_, reports) = rt.block_on(copy::copy(
        &Source::Layout(chosen.layout.clone()),
        std::slice::from_ref(&target),
        &items,
        &opts,
    ))?;
    add_report(&mut report, reports.first());

    let artifact_tags: Vec<Tag> = arts.iter().filter_map(|(n, _)| n.parse().ok()).collect();
    let record = PushRecord {
        image: chosen.name.clone(),
        repository: repo.clone(),
        digest: digest.clone(),
        tags: plan.tags.clone(),
        artifacts: artifact_tags.clone(),
        bytes_sent: report.bytes_sent,
        bytes_mounted: report.bytes_mounted,
        bytes_skipped: report.bytes_skipped,
        at: chrono::Utc::now(),
    };
    state_file.update(|s| s.pushes.push(record.clone()))?;
    Ok(report_for(
        &repo,
        &digest,
        &plan.tags,
        &artifact_tags,
        &report,
        t.client.retries(),
    ))
}

/// Adds the counts of `r` to `into`.
pub(crate) fn add_report(into: &mut TargetReport, r: Option<&TargetReport>) {
    let Some(r) = r else { return };
    if into.target.is_empty() {
        into.target = r.target.clone();
    }
    into.bytes_sent += r.bytes_sent;
    into.bytes_mounted += r.bytes_mounted;
    into.bytes_skipped += r.bytes_skipped;
    into.blobs_sent += r.blobs_sent;
    into.blobs_mounted += r.blobs_mounted;
    into.blobs_skipped += r.blobs_skipped;
    into.manifests += r.manifests;
}

fn report_for(
    repo: &Repository,
    digest: &Digest,
    tags: &[Tag],
    artifacts: &[Tag],
    r: &TargetReport,
    retries: u64,
) -> StepReport {
    let image = format!("{repo}@{digest}");
    let tag_list: Vec<String> = tags.iter().map(ToString::to_string).collect();
    let summary = format!(
        "pushed {image}{} — sent {}, mounted {}, skipped {} ({} blob(s) sent, {} mounted, {} already there{})",
        if tag_list.is_empty() {
            String::new()
        } else {
            format!(" as {}", tag_list.join(", "))
        },
        transfer::bytes(r.bytes_sent),
        transfer::bytes(r.bytes_mounted),
        transfer::bytes(r.bytes_skipped),
        r.blobs_sent,
        r.blobs_mounted,
        r.blobs_skipped,
        if retries > 0 {
            format!(", {retries} retr{}", if retries == 1 { "y" } else { "ies" })
        } else {
            String::new()
        },
    );
    let markdown = format!(
        "### slipway push\n\n| Repository | Digest | Tags | Sent | Mounted | Skipped |\n|---|---|---|---|---|---|\n| `{repo}` | `{digest}` | {} | {} | {} | {} |\n{}",
        if tag_list.is_empty() {
            "—".to_owned()
        } else {
            tag_list
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(" ")
        },
        transfer::bytes(r.bytes_sent),
        transfer::bytes(r.bytes_mounted),
        transfer::bytes(r.bytes_skipped),
        if artifacts.is_empty() {
            String::new()
        } else {
            format!(
                "\nWith {}.\n",
                artifacts
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    StepReport {
        summary,
        outputs: vec![
            ("digest".into(), digest.to_string()),
            ("image".into(), image.clone()),
            ("tags".into(), tag_list.join(",")),
        ],
        markdown: Some(markdown),
        human: Some(image.clone()),
        json: Some(serde_json::json!({
            "repository": repo.to_string(),
            "digest": digest.to_string(),
            "image": image,
            "tags": tag_list,
            "artifacts": artifacts.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "bytes_sent": r.bytes_sent,
            "bytes_mounted": r.bytes_mounted,
            "bytes_skipped": r.bytes_skipped,
            "blobs_sent": r.blobs_sent,
            "blobs_mounted": r.blobs_mounted,
            "blobs_skipped": r.blobs_skipped,
            "retries": retries,
        })),
    }
}
