//! `slipway-promote`: copy a gated digest (with its signatures and attestations) from the
//! source repository to every target, apply the target tags, record what each tag pointed to
//! before; `--rollback` moves the tags back.

use std::sync::Arc;

use clap::Args;
use slipway_oci::{Manifest, convert};
use slipway_registry::{
    BlockingClient, Client, CopyItem, CopyOptions, Source, Target, TargetReport, copy,
};
use slipway_ship::gates::{self, Gate, GateCheck, Requirements, RunnerVerdict, Subject};
use slipway_ship::rollback;
use slipway_state::{PromotionRecord, PromotionTarget, State, Step, TagMove};
use slipway_types::{Digest, ExitClass, Reference, Repository, Tag};

use crate::commands::push::{ARTIFACT_SUFFIXES, add_report, cosign_tags};
use crate::commands::registry_source::RegistrySource;
use crate::commands::runner::DENIED_HINT as RUNNER_HINT;
use crate::commands::transfer::{self, TransferArgs};
use crate::error::Failure;
use crate::{Context, StepReport};

/// Arguments of `slipway-promote`.
#[derive(Debug, Clone, Default, Args)]
#[command(after_help = "\
Preconditions, read from the state file, each required unless promote.require says otherwise:
  scan       the newest scan verdict for the digest is pass
  signature  a verification of its signature is recorded and verified (slipway verify)
  pushed     it was pushed to the source repository (slipway-push)
  runner     the runner is allowed, when a runner policy exists
Unmet preconditions stop the promotion with exit code 1, each one listed.

--rollback moves every tag of the newest promotion back to the digest it pointed to before
(or to --to DIGEST), after checking that digest still passes the preconditions.")]
pub struct PromoteArgs {
    /// Source image, REPO:TAG or REPO@DIGEST [default: the newest push in the state]
    #[arg(long, value_name = "REF")]
    pub from: Option<String>,

    /// Image name whose newest push is the source (when the state holds several)
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    /// Target repository; repeatable [config: promote.targets]
    #[arg(long = "target", value_name = "REPO")]
    pub targets: Vec<String>,

    /// Tag to set on the targets; repeatable [config: promote.tags]
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    pub tags: Vec<String>,

    /// Print the plan (gates, copies, tag moves) and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Refuse to move a tag that already points at another digest
    #[arg(long)]
    pub no_clobber: bool,

    /// Move the tags of the newest promotion back to their previous digests
    #[arg(long)]
    pub rollback: bool,

    /// With --rollback: move the tags to this digest instead
    #[arg(long, value_name = "DIGEST", requires = "rollback")]
    pub to: Option<String>,

    /// Registry options.
    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// Runs `slipway-promote`.
pub fn run(ctx: &Context, args: PromoteArgs) -> Result<(), Failure> {
    let state_file = ctx.state_file();
    ctx.run_step(Step::Promote, &state_file, |ctx| {
        if args.rollback {
            rollback_cmd(ctx, &args)
        } else {
            promote(ctx, &args)
        }
    })
}

fn requirements(ctx: &Context) -> Requirements {
    let r = ctx
        .settings
        .config
        .config
        .promote
        .as_ref()
        .and_then(|p| p.require.clone())
        .unwrap_or_default();
    let d = Requirements::default();
    Requirements {
        scan: r.scan.unwrap_or(d.scan),
        signature: r.signature.unwrap_or(d.signature),
        pushed: r.pushed.unwrap_or(d.pushed),
        runner: r.runner.unwrap_or(d.runner),
    }
}

/// The runner gate: this machine checked against the `runners:` policy now (the check records
/// its verdict in the state). With `--dry-run` a denial is one gate result of the plan shown;
/// otherwise it stops the run before any registry is contacted (see [`runner_denied`]).
fn runner_verdict(ctx: &Context, req: &Requirements) -> Result<RunnerVerdict, Failure> {
    let verdict = match crate::commands::runner::enforce(ctx, Step::Promote) {
        Ok(None) => RunnerVerdict::NoPolicy,
        Ok(Some(rec)) => {
            RunnerVerdict::Allowed(rec.entry.clone().unwrap_or_else(|| rec.fingerprint.short()))
        }
        Err(f) if f.class == ExitClass::Denied => RunnerVerdict::Denied(f.chain().join(": ")),
        Err(f) => return Err(f),
    };
    if !req.runner && verdict != RunnerVerdict::NoPolicy {
        // The opt-out lives in the same file as the policy, so honouring it grants nothing
        // that editing the policy would not.
        ctx.printer.warn(
            "promote.require.runner is false: the runner policy (runners:) does not bind promote",
        );
    }
    Ok(verdict)
}

/// A denied runner (when the gate binds and this is not a dry run): the refusal, before any
/// registry access — a machine that may not promote uses no registry credentials, and the
/// answer is exit 1 whatever the registries would have said. Besides the runner it names the
/// unmet gates the state alone decides for `digest` (the scan gate needs the platform list of
/// an index, which is the registry's, so it waits until the runner is allowed).
fn runner_denied(
    state: &State,
    req: &Requirements,
    runner: &RunnerVerdict,
    subject: Option<(Digest, Option<Repository>)>,
    nothing: Option<String>,
) -> Option<Failure> {
    let RunnerVerdict::Denied(why) = runner else {
        return None;
    };
    if !req.runner {
        return None;
    }
    let f = match (subject, nothing) {
        (Some((digest, source)), _) => {
            let subject = Subject {
                digest: digest.clone(),
                children: Vec::new(),
                source,
            };
            let checks = gates::evaluate(state, &subject, req, runner);
            let unmet: Vec<&GateCheck> = gates::unmet(&checks)
                .into_iter()
                .filter(|c| c.gate != Gate::Scan)
                .collect();
            gate_failure(&digest, &unmet)
        }
        (None, Some(none)) => Failure::denied(format!("{why}; besides, {none}")),
        (None, None) => Failure::denied(why.clone()),
    };
    Some(f.with_hint(RUNNER_HINT))
}

fn parse_tag(t: &str, origin: &str) -> Result<Tag, Failure> {
    t.parse()
        .map_err(|e: slipway_types::TagError| Failure::usage(format!("{origin}: {e}")))
}

/// Targets with their tags, from flags or config.
fn targets(ctx: &Context, args: &PromoteArgs) -> Result<Vec<(Repository, Vec<Tag>)>, Failure> {
    let cfg = ctx
        .settings
        .config
        .config
        .promote
        .clone()
        .unwrap_or_default();
    let default_tags: Vec<Tag> = if args.tags.is_empty() {
        cfg.tags
            .iter()
            .map(|t| parse_tag(t, "promote.tags"))
            .collect::<Result<_, _>>()?
    } else {
        args.tags
            .iter()
            .map(|t| parse_tag(t, "--tag"))
            .collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    if !args.targets.is_empty() {
        for t in &args.targets {
            let repo: Repository = t.parse().map_err(|e: slipway_types::ReferenceError| {
                Failure::usage(format!("--target: {e}"))
            })?;
            out.push((repo, default_tags.clone()));
        }
    } else {
        for (i, t) in cfg.targets.iter().enumerate() {
            let repo: Repository =
                t.repository
                    .parse()
                    .map_err(|e: slipway_types::ReferenceError| {
                        Failure::usage(format!("promote.targets[{i}].repository: {e}"))
                    })?;
            let tags = if t.tags.is_empty() {
                default_tags.clone()
            } else {
                t.tags
                    .iter()
                    .map(|x| parse_tag(x, &format!("promote.targets[{i}].tags")))
                    .collect::<Result<_, _>>()?
            };
            out.push((repo, tags));
        }
    }
    Ok(out)
}

fn gate_failure(digest: &Digest, unmet: &[&GateCheck]) -> Failure {
    let list: Vec<String> = unmet
        .iter()
        .map(|c| format!("{}: {}", c.gate, c.detail))
        .collect();
    Failure::denied(format!(
        "{} may not be promoted; unmet preconditions:\n  - {}",
        digest.short(),
        list.join("\n  - ")
    ))
    .with_hint(
        "see `slipway state show`; promote.require in slipway.yaml says which preconditions apply",
    )
}

fn children(m: &Manifest) -> Vec<Digest> {
    if m.is_index() {
        m.children()
            .iter()
            .filter_map(|d| convert::descriptor_digest(d).ok())
            .collect()
    } else {
        Vec::new()
    }
}

/// Cosign artifacts of `digests` present in `repo`.
async fn remote_artifacts(
    client: &Client,
    repo: &Repository,
    digests: &[Digest],
) -> Result<Vec<CopyItem>, slipway_registry::RegistryError> {
    let mut out = Vec::new();
    for d in digests {
        for suffix in ARTIFACT_SUFFIXES {
            let tag = d.cosign_tag(suffix);
            if let Some(desc) = client.head_manifest(repo, &tag).await? {
                out.push(CopyItem {
                    root: desc.to_spec(),
                    tags: vec![tag],
                });
            }
        }
    }
    Ok(out)
}

/// The newest push (of `--image`, when given), or why there is none.
fn newest_push<'a>(
    state: &'a State,
    args: &PromoteArgs,
) -> Result<&'a slipway_state::PushRecord, String> {
    state
        .pushes
        .iter()
        .rev()
        .find(|p| args.image.is_none() || p.image == args.image)
        .ok_or_else(|| {
            format!(
                "no push{} is recorded in the state file, so there is nothing to promote",
                args.image
                    .as_deref()
                    .map(|i| format!(" of image `{i}`"))
                    .unwrap_or_default()
            )
        })
}

/// A reader of `repo` through `client` on `rt` (the command's one client and runtime).
fn registry_reader(
    client: &Client,
    rt: &Arc<tokio::runtime::Runtime>,
    repo: &Repository,
) -> RegistrySource {
    RegistrySource::new(
        BlockingClient::on(client.clone(), Arc::clone(rt)),
        repo.clone(),
    )
}

/// Copies an image with its signatures and attestations from one repository to targets.
struct TargetCopy<'a> {
    ctx: &'a Context,
    rt: &'a Arc<tokio::runtime::Runtime>,
    client: &'a Client,
    opts: &'a CopyOptions,
    /// Where union cosign manifests are written.
    scratch: &'a cosign_tags::Scratch,
    /// The source repository, for reading cosign manifests.
    from: &'a RegistrySource,
    /// The same, for copying.
    source: &'a Source,
}

impl TargetCopy<'_> {
    /// Copies `arts` (cosign tags) and then `image` (untagged) to `repo`. A cosign tag there
    /// may already hold other signers' entries, which are kept: the union is written.
    fn run(
        &self,
        repo: &Repository,
        image: &CopyItem,
        arts: &[CopyItem],
    ) -> Result<TargetReport, Failure> {
        let there = registry_reader(self.client, self.rt, repo);
        let mut items = Vec::new();
        let mut merged = Vec::new();
        for a in arts {
            let tag = a.tags.first().map(String::as_str).unwrap_or_default();
            match cosign_tags::decide(self.from, &there, tag, &a.root, self.scratch)? {
                cosign_tags::Decision::AsIs => items.push(a.clone()),
                cosign_tags::Decision::Union(item) => {
                    self.ctx.printer.detail(&format!(
                        "{repo}:{tag} holds other entries; writing the union"
                    ));
                    merged.push(*item);
                }
                cosign_tags::Decision::Kept => self.ctx.printer.detail(&format!(
                    "{repo}:{tag} already holds every entry; left as is"
                )),
            }
        }
        items.push(image.clone());
        let target = Target::Remote {
            client: self.client.clone(),
            repo: repo.clone(),
        };
        let mut report = TargetReport::default();
        if !merged.is_empty() {
            let (_, r) = self.rt.block_on(copy::copy(
                &Source::Layout(self.scratch.layout()?.clone()),
                std::slice::from_ref(&target),
                &merged,
                self.opts,
            ))?;
            add_report(&mut report, r.first());
        }
        let (_, r) = self.rt.block_on(copy::copy(
            self.source,
            std::slice::from_ref(&target),
            &items,
            self.opts,
        ))?;
        add_report(&mut report, r.first());
        Ok(report)
    }
}

/// Adds `mv` to the moves recorded for `repo`.
fn note_move(targets: &mut Vec<PromotionTarget>, repo: &Repository, mv: TagMove) {
    match targets.iter_mut().find(|t| &t.repository == repo) {
        Some(t) => t.tags.push(mv),
        None => targets.push(PromotionTarget {
            repository: repo.clone(),
            tags: vec![mv],
        }),
    }
}

/// After a tag failed to move: records the tags that did (`records`, when any), so the state
/// says where every tag is and a rollback undoes just those, then returns `failure` saying so.
fn keep_moved(
    state_file: &slipway_state::StateFile,
    records: Vec<PromotionRecord>,
    failure: Failure,
) -> Failure {
    let moved: Vec<String> = records
        .iter()
        .flat_map(|r| {
            r.targets.iter().flat_map(move |t| {
                t.tags
                    .iter()
                    .map(move |m| format!("{}:{} -> {}", t.repository, m.tag, r.digest.short()))
            })
        })
        .collect();
    if moved.is_empty() {
        return failure;
    }
    let what = if records.iter().any(|r| r.rollback) {
        "the rollback again moves the rest"
    } else {
        "`slipway-promote --rollback` moves them back, or the promotion run again moves the rest"
    };
    match state_file.update(|s| s.promotions.extend(records)) {
        Ok(()) => {
            let ours = format!(
                "{} tag(s) had moved before the failure and are recorded in the state ({}); {what}",
                moved.len(),
                moved.join(", ")
            );
            let hint = match &failure.hint {
                Some(h) => format!("{h}\n{ours}"),
                None => ours,
            };
            failure.with_hint(hint)
        }
        Err(e) => Failure {
            error: format!(
                "{}; besides, the tags already moved ({}) could not be recorded: {e}",
                failure.chain().join(": "),
                moved.join(", ")
            )
            .into(),
            ..failure
        },
    }
}

fn promote(ctx: &Context, args: &PromoteArgs) -> Result<StepReport, Failure> {
    let req = requirements(ctx);
    let runner = runner_verdict(ctx, &req)?;
    let state_file = ctx.state_file();
    let state = state_file.read()?.unwrap_or_default();
    if !args.dry_run {
        // What is promoted, as far as the state and the flags tell without a registry.
        let (subject, nothing) = match &args.from {
            Some(f) => (
                f.parse::<Reference>().ok().and_then(|r| {
                    r.digest()
                        .map(|d| (d.clone(), Some(r.repository().clone())))
                }),
                None,
            ),
            None => match newest_push(&state, args) {
                Ok(p) => (Some((p.digest.clone(), Some(p.repository.clone()))), None),
                Err(none) => (None, Some(none)),
            },
        };
        if let Some(f) = runner_denied(&state, &req, &runner, subject, nothing) {
            return Err(f);
        }
    }
    let cfg = ctx
        .settings
        .config
        .config
        .promote
        .clone()
        .unwrap_or_default();
    let targets = targets(ctx, args)?;
    if targets.is_empty() {
        return Err(Failure::usage("no target repository to promote to")
            .with_hint("pass --target REPO (repeatable) or set promote.targets in slipway.yaml"));
    }
    let source_ref: Option<Reference> =
        match &args.from {
            Some(f) => Some(f.parse().map_err(|e: slipway_types::ReferenceError| {
                Failure::usage(format!("--from: {e}"))
            })?),
            None => None,
        };
    let t = transfer::resolve(ctx, &args.transfer, cfg.transfer.as_ref())?;
    let rt = Arc::new(transfer::runtime()?);
    let client = t.client.clone();
    let (source_repo, digest) = match &source_ref {
        Some(r) => {
            let resolved = rt.block_on(client.resolve(r)).map_err(|e| {
                let unknown = matches!(e, slipway_registry::RegistryError::NotFound { .. });
                let f = Failure::from(e);
                if unknown {
                    Failure {
                        error: format!("unknown promote source `{r}`: {}", f.chain().join(": "))
                            .into(),
                        ..f
                    }
                } else {
                    f
                }
            })?;
            (r.repository().clone(), resolved.digest)
        }
        None => {
            let p = newest_push(&state, args).map_err(|none| {
                // A dry run on a denied runner says so first (exit 1), as a real run does.
                runner_denied(&state, &req, &runner, None, Some(none.clone())).unwrap_or_else(
                    || {
                        Failure::usage(none).with_hint(
                            "run slipway-push first, or name the source with --from REPO@DIGEST",
                        )
                    },
                )
            })?;
            (p.repository.clone(), p.digest.clone())
        }
    };
    let manifest = rt.block_on(client.fetch_manifest(&source_repo, &digest.to_string()))?;
    let kids = children(&manifest);
    let subject = Subject {
        digest: digest.clone(),
        children: kids.clone(),
        source: Some(source_repo.clone()),
    };
    let checks = gates::evaluate(&state, &subject, &req, &runner);
    let unmet = gates::unmet(&checks);
    let mut all_digests = vec![digest.clone()];
    all_digests.extend(kids);
    let arts = rt.block_on(remote_artifacts(&client, &source_repo, &all_digests))?;
    // What each tag points to now.
    let no_clobber = args.no_clobber || cfg.no_clobber.unwrap_or(false);
    let mut moves: Vec<(Repository, Vec<TagMove>)> = Vec::new();
    let mut clobbers = Vec::new();
    for (repo, tags) in &targets {
        let mut m = Vec::new();
        for tag in tags {
            let previous = rt
                .block_on(client.head_manifest(repo, tag.as_str()))?
                .map(|d| d.digest);
            if no_clobber && previous.as_ref().is_some_and(|p| p != &digest) {
                clobbers.push(format!(
                    "{repo}:{tag} points at {}",
                    previous.as_ref().map(Digest::short).unwrap_or_default()
                ));
            }
            m.push(TagMove {
                tag: tag.clone(),
                previous,
            });
        }
        moves.push((repo.clone(), m));
    }
    let plan_text = plan_text(&source_repo, &digest, &checks, &arts, &moves);
    if args.dry_run {
        return Ok(StepReport {
            summary: format!(
                "dry run: {} would {}be promoted to {} target(s); nothing changed",
                digest.short(),
                if unmet.is_empty() && clobbers.is_empty() {
                    ""
                } else {
                    "NOT "
                },
                moves.len()
            ),
            human: Some(plan_text),
            json: Some(serde_json::json!({
                "dry_run": true,
                "source": source_repo.to_string(),
                "digest": digest.to_string(),
                "gates": checks.iter().map(|c| serde_json::json!({"gate": c.gate.name(), "required": c.required, "met": c.met, "detail": c.detail})).collect::<Vec<_>>(),
                "artifacts": arts.iter().flat_map(|a| a.tags.clone()).collect::<Vec<_>>(),
                "targets": moves_json(&moves),
                "refusals": clobbers,
            })),
            ..StepReport::default()
        });
    }
    if !unmet.is_empty() {
        return Err(gate_failure(&digest, &unmet));
    }
    if !clobbers.is_empty() {
        return Err(Failure::denied(format!(
            "--no-clobber: tags already point elsewhere:\n  - {}",
            clobbers.join("\n  - ")
        )));
    }
    ctx.printer.detail(&plan_text);
    let source = Source::Remote {
        client: client.clone(),
        repo: source_repo.clone(),
    };
    let image_item = CopyItem {
        root: convert::descriptor(
            manifest.media_type.as_str(),
            &digest,
            manifest.bytes.len() as u64,
        ),
        tags: Vec::new(),
    };
    let opts = CopyOptions {
        jobs: t.jobs,
        progress: Arc::new(ctx.progress()),
    };
    let scratch = cosign_tags::Scratch::new();
    let from = registry_reader(&client, &rt, &source_repo);
    let copy = TargetCopy {
        ctx,
        rt: &rt,
        client: &client,
        opts: &opts,
        scratch: &scratch,
        from: &from,
        source: &source,
    };
    let mut reports: Vec<TargetReport> = Vec::new();
    for (repo, _) in &targets {
        reports.push(copy.run(repo, &image_item, &arts)?);
    }
    // Tags last, once every target holds everything. A failure part way leaves the tags moved
    // so far recorded (as the promotion they are), so a rollback undoes exactly those.
    let mut moved: Vec<PromotionTarget> = Vec::new();
    for (repo, m) in &moves {
        for mv in m {
            if let Err(e) = rt.block_on(client.put_manifest(repo, mv.tag.as_str(), &manifest)) {
                let partial = PromotionRecord {
                    digest: digest.clone(),
                    source: Some(source_repo.clone()),
                    targets: moved,
                    rollback: false,
                    at: chrono::Utc::now(),
                };
                return Err(keep_moved(&state_file, vec![partial], e.into()));
            }
            note_move(&mut moved, repo, mv.clone());
        }
    }
    let record = PromotionRecord {
        digest: digest.clone(),
        source: Some(source_repo.clone()),
        targets: moves
            .iter()
            .map(|(repo, m)| PromotionTarget {
                repository: repo.clone(),
                tags: m.clone(),
            })
            .collect(),
        rollback: false,
        at: chrono::Utc::now(),
    };
    state_file.update(|s| s.promotions.push(record))?;
    let mut md = String::from(
        "### slipway promote\n\n| Repository | Digest | Tags | Sent | Mounted | Skipped |\n|---|---|---|---|---|---|\n",
    );
    let mut lines = Vec::new();
    for ((repo, m), r) in moves.iter().zip(&reports) {
        let tags: Vec<String> = m.iter().map(|x| x.tag.to_string()).collect();
        md.push_str(&format!(
            "| `{repo}` | `{digest}` | {} | {} | {} | {} |\n",
            tags.iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(" "),
            transfer::bytes(r.bytes_sent),
            transfer::bytes(r.bytes_mounted),
            transfer::bytes(r.bytes_skipped)
        ));
        lines.push(format!("{repo}@{digest}"));
        ctx.printer.info(&format!(
            "{repo}: {} — sent {}, mounted {}, skipped {}",
            if tags.is_empty() {
                "by digest".to_owned()
            } else {
                tags.join(", ")
            },
            transfer::bytes(r.bytes_sent),
            transfer::bytes(r.bytes_mounted),
            transfer::bytes(r.bytes_skipped)
        ));
    }
    Ok(StepReport {
        summary: format!(
            "promoted {} from {source_repo} to {} target(s)",
            digest.short(),
            moves.len()
        ),
        outputs: vec![
            ("digest".into(), digest.to_string()),
            ("images".into(), lines.join(",")),
        ],
        markdown: Some(md),
        human: Some(lines.join("\n")),
        json: Some(serde_json::json!({
            "source": source_repo.to_string(),
            "digest": digest.to_string(),
            "artifacts": arts.iter().flat_map(|a| a.tags.clone()).collect::<Vec<_>>(),
            "targets": moves_json(&moves)
                .as_array()
                .into_iter()
                .flatten()
                .zip(&reports)
                .map(|(t, r)| {
                    let mut t = t.clone();
                    if let (Some(o), Ok(serde_json::Value::Object(r))) =
                        (t.as_object_mut(), serde_json::to_value(r))
                    {
                        o.extend(r);
                    }
                    t
                })
                .collect::<Vec<_>>(),
        })),
    })
}

fn moves_json(moves: &[(Repository, Vec<TagMove>)]) -> serde_json::Value {
    serde_json::Value::Array(
        moves
            .iter()
            .map(|(repo, m)| {
                serde_json::json!({
                    "repository": repo.to_string(),
                    "tags": m.iter().map(|x| serde_json::json!({"tag": x.tag.to_string(), "previous": x.previous.as_ref().map(ToString::to_string)})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn plan_text(
    source: &Repository,
    digest: &Digest,
    checks: &[GateCheck],
    arts: &[CopyItem],
    moves: &[(Repository, Vec<TagMove>)],
) -> String {
    let mut out = format!("promote {source}@{digest}\n");
    for c in checks {
        out.push_str(&format!(
            "  gate {:<9} {} {}\n",
            c.gate.name(),
            match (c.required, c.met) {
                (_, true) => "ok  ",
                (true, false) => "FAIL",
                (false, false) => "skip",
            },
            c.detail
        ));
    }
    for a in arts {
        out.push_str(&format!("  with {}\n", a.tags.join(", ")));
    }
    for (repo, m) in moves {
        out.push_str(&format!("  to {repo}\n"));
        for x in m {
            out.push_str(&format!(
                "    {}: {} -> {}\n",
                x.tag,
                x.previous
                    .as_ref()
                    .map_or("(new)".to_owned(), Digest::short),
                digest.short()
            ));
        }
    }
    out.trim_end().to_owned()
}

/// Moves the tags of a rollback plan.
struct Rollback<'a> {
    ctx: &'a Context,
    rt: &'a Arc<tokio::runtime::Runtime>,
    client: &'a Client,
    opts: &'a CopyOptions,
    /// The promotion's source, where a digest missing from a target is copied from.
    source: Option<&'a Repository>,
}

impl Rollback<'_> {
    /// Moves every tag of `plan` back, adding each move to `records` as it happens (so that on
    /// failure they say what moved).
    fn run(
        &self,
        plan: &[rollback::TargetRollback],
        records: &mut Vec<PromotionRecord>,
    ) -> Result<(), Failure> {
        let (rt, client) = (self.rt, self.client);
        for p in plan {
            for tg in &p.tags {
                let Some(restore) = &tg.restore else {
                    self.ctx.printer.warn(&format!(
                        "{}:{} was new in the promotion; there is no previous digest to restore, left as is",
                        p.repository, tg.tag
                    ));
                    continue;
                };
                let current = rt
                    .block_on(client.head_manifest(&p.repository, tg.tag.as_str()))?
                    .map(|d| d.digest);
                let m =
                    match rt.block_on(client.get_manifest(&p.repository, &restore.to_string()))? {
                        Some(m) => m,
                        None => self.copy_in(&p.repository, restore)?,
                    };
                rt.block_on(client.put_manifest(&p.repository, tg.tag.as_str(), &m))?;
                let rec = match records.iter().position(|r| &r.digest == restore) {
                    Some(i) => &mut records[i],
                    None => {
                        records.push(PromotionRecord {
                            digest: restore.clone(),
                            source: self.source.cloned(),
                            targets: Vec::new(),
                            rollback: true,
                            at: chrono::Utc::now(),
                        });
                        records.last_mut().expect("just pushed")
                    }
                };
                note_move(
                    &mut rec.targets,
                    &p.repository,
                    TagMove {
                        tag: tg.tag.clone(),
                        previous: current,
                    },
                );
            }
        }
        Ok(())
    }

    /// `restore` is not in `repo` (e.g. `--to` a digest never promoted there): copies it in
    /// from the promotion's source with its signatures and attestations, as a promotion does,
    /// so that the tag moved to it verifies there.
    fn copy_in(&self, repo: &Repository, restore: &Digest) -> Result<Manifest, Failure> {
        let src = self.source.ok_or_else(|| {
            Failure::usage(format!(
                "{restore} is not in {repo} and the promotion has no source"
            ))
        })?;
        let (rt, client) = (self.rt, self.client);
        let m = rt.block_on(client.fetch_manifest(src, &restore.to_string()))?;
        let mut digests = vec![restore.clone()];
        digests.extend(children(&m));
        let arts = rt.block_on(remote_artifacts(client, src, &digests))?;
        let scratch = cosign_tags::Scratch::new();
        let from = registry_reader(client, rt, src);
        let source = Source::Remote {
            client: client.clone(),
            repo: src.clone(),
        };
        let copy = TargetCopy {
            ctx: self.ctx,
            rt,
            client,
            opts: self.opts,
            scratch: &scratch,
            from: &from,
            source: &source,
        };
        let image = CopyItem {
            root: m.descriptor(),
            tags: Vec::new(),
        };
        copy.run(repo, &image, &arts)?;
        self.ctx.printer.detail(&format!(
            "copied {} into {repo} from {src}, with {} signature/attestation tag(s)",
            restore.short(),
            arts.len()
        ));
        Ok(m)
    }
}

fn rollback_cmd(ctx: &Context, args: &PromoteArgs) -> Result<StepReport, Failure> {
    let req = requirements(ctx);
    let runner = runner_verdict(ctx, &req)?;
    let state_file = ctx.state_file();
    let state: State = state_file.read()?.unwrap_or_default();
    let cfg = ctx
        .settings
        .config
        .config
        .promote
        .clone()
        .unwrap_or_default();
    let to: Option<Digest> = match &args.to {
        Some(d) => Some(
            d.parse()
                .map_err(|e: slipway_types::DigestError| Failure::usage(format!("--to: {e}")))?,
        ),
        None => None,
    };
    let wanted: Vec<Repository> = args
        .targets
        .iter()
        .map(|t| {
            t.parse().map_err(|e: slipway_types::ReferenceError| {
                Failure::usage(format!("--target: {e}"))
            })
        })
        .collect::<Result<_, _>>()?;
    let plan = rollback::plan(&state, &wanted, to.as_ref());
    let source_of = |plan: &[rollback::TargetRollback]| {
        rollback::last_promotion(&state, plan.first().map(|p| &p.repository))
            .and_then(|p| p.source.clone())
    };
    let restores_of = |plan: &[rollback::TargetRollback]| {
        let mut r: Vec<Digest> = plan
            .iter()
            .flat_map(|p| p.tags.iter().filter_map(|t| t.restore.clone()))
            .collect();
        r.sort();
        r.dedup();
        r
    };
    if !args.dry_run {
        let (subject, nothing) = match &plan {
            Ok(pl) => (
                restores_of(pl)
                    .into_iter()
                    .next()
                    .map(|d| (d, source_of(pl))),
                None,
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        if let Some(f) = runner_denied(&state, &req, &runner, subject, nothing) {
            return Err(f);
        }
    }
    let plan = plan.map_err(|e| {
        Failure::usage(e.to_string())
            .with_hint("a rollback undoes a promotion recorded in this state file")
    })?;
    let t = transfer::resolve(ctx, &args.transfer, cfg.transfer.as_ref())?;
    let rt = Arc::new(transfer::runtime()?);
    let client = t.client.clone();
    // Each digest to go back to must still pass the gates.
    let restores = restores_of(&plan);
    let promo_source = source_of(&plan);
    let mut text = Vec::new();
    let mut all_unmet = Vec::new();
    for d in &restores {
        let repo = &plan[0].repository;
        let m = match rt.block_on(client.get_manifest(repo, &d.to_string()))? {
            Some(m) => m,
            None => match &promo_source {
                Some(src) => rt.block_on(client.fetch_manifest(src, &d.to_string()))?,
                None => {
                    return Err(Failure::usage(format!(
                        "{d} is not in {repo}; nothing to roll back to"
                    )));
                }
            },
        };
        let subject = Subject {
            digest: d.clone(),
            children: children(&m),
            source: promo_source.clone(),
        };
        let checks = gates::evaluate(&state, &subject, &req, &runner);
        let unmet: Vec<GateCheck> = gates::unmet(&checks).into_iter().cloned().collect();
        if !unmet.is_empty() {
            all_unmet.push((d.clone(), unmet));
        }
    }
    for p in &plan {
        for tg in &p.tags {
            text.push(format!(
                "{}:{}: {} -> {}",
                p.repository,
                tg.tag,
                tg.promoted.short(),
                tg.restore
                    .as_ref()
                    .map_or("(was new; left as is)".to_owned(), Digest::short)
            ));
        }
    }
    if args.dry_run {
        return Ok(StepReport {
            summary: format!(
                "dry run: rollback of {} tag(s); nothing changed",
                text.len()
            ),
            human: Some(text.join("\n")),
            ..StepReport::default()
        });
    }
    if let Some((d, unmet)) = all_unmet.first() {
        return Err(gate_failure(d, &unmet.iter().collect::<Vec<_>>()));
    }
    let mut records: Vec<PromotionRecord> = Vec::new();
    let mover = Rollback {
        ctx,
        rt: &rt,
        client: &client,
        opts: &CopyOptions {
            jobs: t.jobs,
            progress: Arc::new(ctx.progress()),
        },
        source: promo_source.as_ref(),
    };
    if let Err(f) = mover.run(&plan, &mut records) {
        return Err(keep_moved(&state_file, records, f));
    }
    let n: usize = records
        .iter()
        .map(|r| r.targets.iter().map(|t| t.tags.len()).sum::<usize>())
        .sum();
    state_file.update(|s| s.promotions.extend(records.clone()))?;
    Ok(StepReport {
        summary: format!("rolled back {n} tag(s)"),
        markdown: Some(format!(
            "### slipway promote --rollback\n\n| Tag | From | To |\n|---|---|---|\n{}",
            plan.iter()
                .flat_map(|p| p.tags.iter().map(move |t| format!(
                    "| `{}:{}` | `{}` | {} |\n",
                    p.repository,
                    t.tag,
                    t.promoted.short(),
                    t.restore
                        .as_ref()
                        .map_or("(left as is)".to_owned(), |d| format!("`{}`", d.short()))
                )))
                .collect::<String>()
        )),
        human: Some(text.join("\n")),
        json: Some(serde_json::json!({
            "rollback": true,
            "tags": plan.iter().flat_map(|p| p.tags.iter().map(move |t| serde_json::json!({
                "repository": p.repository.to_string(),
                "tag": t.tag.to_string(),
                "from": t.promoted.to_string(),
                "to": t.restore.as_ref().map(ToString::to_string),
            }))).collect::<Vec<_>>(),
        })),
        outputs: restores
            .first()
            .map(|d| vec![("digest".to_owned(), d.to_string())])
            .unwrap_or_default(),
    })
}
