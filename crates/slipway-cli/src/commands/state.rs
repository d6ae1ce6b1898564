//! `slipway state show | get | validate | merge | output`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use slipway_oci::{Layout, Manifest, ManifestKind, convert};
use slipway_state::{State, StateFile, Step, merge, query};
use slipway_types::{Diagnostic, Digest, ExitClass};

use crate::commands::push::ARTIFACT_SUFFIXES;

use crate::args::{GetArgs, MergeArgs, OutputArgs, ShowArgs, StateCommand, ValidateArgs};
use crate::error::Failure;
use crate::{Context, StepReport, render};

/// Runs a `state` subcommand.
pub fn run(ctx: &Context, cmd: StateCommand) -> Result<(), Failure> {
    match cmd {
        StateCommand::Show(a) => show(ctx, &a),
        StateCommand::Get(a) => get(ctx, &a),
        StateCommand::Validate(a) => validate(ctx, &a),
        StateCommand::Merge(a) => merge_cmd(ctx, &a),
        StateCommand::Output(a) => output(ctx, &a),
    }
}

fn show(ctx: &Context, args: &ShowArgs) -> Result<(), Failure> {
    let file = ctx.state_file();
    let state = file.read_required()?;
    if ctx.settings.json() {
        let value = serde_json::to_value(&state).map_err(|e| Failure::usage(e.to_string()))?;
        ctx.printer.json(&value);
    } else {
        ctx.printer.data(&render::human(&state, file.path()));
    }
    if args.summary {
        ctx.ci
            .append_summary(&render::markdown(&state))
            .map_err(|e| Failure::wrap(ExitClass::Usage, e))?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("state file `{file}` has nothing at `{path}`")]
struct NoSuchValue {
    file: String,
    path: String,
    #[source]
    source: query::QueryError,
}

impl Diagnostic for NoSuchValue {
    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        Some("`slipway state show --output-format json` prints the whole file; `slipway state get --help` shows the path syntax".into())
    }
}

fn lookup(state: &State, file: &Path, path: &str) -> Result<serde_json::Value, Failure> {
    let value = serde_json::to_value(state).map_err(|e| Failure::usage(e.to_string()))?;
    query::get(&value, path).cloned().map_err(|source| {
        NoSuchValue {
            file: file.display().to_string(),
            path: path.to_owned(),
            source,
        }
        .into()
    })
}

fn get(ctx: &Context, args: &GetArgs) -> Result<(), Failure> {
    let file = ctx.state_file();
    let state = file.read_required()?;
    let value = lookup(&state, file.path(), &args.path)?;
    if ctx.settings.json() {
        ctx.printer.json(&value);
    } else {
        ctx.printer.data(&query::render_raw(&value));
    }
    Ok(())
}

fn validate(ctx: &Context, args: &ValidateArgs) -> Result<(), Failure> {
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| ctx.settings.state.clone());
    let file = StateFile::new(&path);
    let state = file.read_required().map_err(|e| {
        let newer = matches!(
            &e,
            slipway_state::StateError::Parse {
                source: slipway_state::ParseError::Newer { .. },
                ..
            }
        );
        let mut f = Failure::from(e);
        if !newer {
            // The generic hint points at `state validate`, which is this very command.
            f.hint = None;
        }
        f
    })?;
    if ctx.settings.json() {
        ctx.printer.json(&serde_json::json!({
            "valid": true,
            "file": path,
            "format": state.format,
            "written_by": state.written_by,
        }));
    } else {
        ctx.printer.data(&format!(
            "{}: valid state file (format {}{})",
            path.display(),
            state.format,
            state
                .written_by
                .as_deref()
                .map(|w| format!(", written by {w}"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("cannot merge the state files")]
struct MergeFailed(#[source] slipway_state::MergeError);

impl Diagnostic for MergeFailed {
    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        Some("the inputs describe different builds of the same thing; merge only the jobs of one run".into())
    }
}

fn merge_cmd(ctx: &Context, args: &MergeArgs) -> Result<(), Failure> {
    let mut inputs = Vec::new();
    for p in &args.inputs {
        let state = StateFile::new(p).read_required()?;
        inputs.push((p.display().to_string(), state));
    }
    let sources: Vec<PathBuf> = args.inputs.iter().map(|p| ctx.cwd.join(p)).collect();
    let out_path = args
        .output
        .clone()
        .unwrap_or_else(|| ctx.settings.state.clone());
    let out = StateFile::new(&out_path);
    ctx.run_step(Step::Merge, &out, |ctx| {
        let (mut merged, notes) = merge(&inputs).map_err(MergeFailed)?;
        // With --assemble, the notes say what was assembled, not that an index is missing.
        let notes = if args.assemble {
            assemble(ctx, &inputs, &sources, &mut merged)?
        } else {
            for n in &notes.notes {
                ctx.printer.warn(&format!(
                    "{n} (`slipway state merge --assemble` copies the platforms into one layout and assembles it)"
                ));
            }
            notes.notes
        };
        let images: Vec<&String> = merged.images.keys().collect();
        let platforms: BTreeSet<String> = merged
            .images
            .values()
            .flat_map(|i| i.platforms.keys().map(ToString::to_string))
            .collect();
        let summary = format!(
            "merged {} state files into {}: {} image(s), {} platform(s)",
            inputs.len(),
            out_path.display(),
            images.len(),
            platforms.len()
        );
        let json = serde_json::json!({
            "state": out_path,
            "images": merged.images.iter().map(|(name, img)| (name.clone(), serde_json::json!({
                "platforms": img.platforms.keys().map(ToString::to_string).collect::<Vec<_>>(),
                "index": img.index.as_ref().map(|d| d.digest.to_string()),
            }))).collect::<serde_json::Map<_, _>>(),
            "notes": notes,
        });
        let report = StepReport {
            summary,
            outputs: vec![
                ("state".into(), out_path.display().to_string()),
                (
                    "images".into(),
                    images
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                (
                    "platforms".into(),
                    platforms.iter().cloned().collect::<Vec<_>>().join("\n"),
                ),
            ],
            markdown: Some(render::markdown_images(&merged, "Merged state")),
            human: Some(out_path.display().to_string()),
            json: Some(json),
        };
        out.replace(merged)?;
        Ok(report)
    })
}

/// The layouts an input's recorded layout path may be at: the path is relative to the directory
/// the job ran in, which is unknown here, so it is tried relative to the input state's directory
/// with its leading components dropped one by one (`.slipway/oci` next to a downloaded
/// `.slipway/state.json` is `oci`), then as given. Content addressing makes a wrong guess
/// harmless: a layout is used only if it holds the manifest sought.
fn layout_candidates(state_path: &Path, recorded: &str, cwd: &Path) -> Vec<PathBuf> {
    let recorded = Path::new(recorded);
    if recorded.is_absolute() {
        return vec![recorded.to_path_buf()];
    }
    let dir = state_path.parent().unwrap_or(Path::new("."));
    let parts: Vec<_> = recorded.components().collect();
    let mut out: Vec<PathBuf> = (0..parts.len())
        .map(|i| parts[i..].iter().fold(dir.to_path_buf(), |p, c| p.join(c)))
        .collect();
    out.push(cwd.join(recorded));
    out
}

fn find_layout(candidates: &[PathBuf], manifest: &Digest) -> Option<Layout> {
    candidates
        .iter()
        .filter_map(|c| Layout::open(c).ok())
        .find(|l| l.has_blob(manifest))
}

/// Copies every blob reachable from `desc` from `from` into `to` (streamed, digests checked).
fn copy_tree(
    from: &Layout,
    to: &Layout,
    desc: &oci_spec::image::Descriptor,
) -> Result<(), Failure> {
    for d in from.walk(desc)? {
        let digest = convert::descriptor_digest(&d)?;
        if !to.has_blob(&digest) {
            to.write_blob_expect(from.open_blob(&digest)?, &digest, Some(d.size()))?;
        }
    }
    Ok(())
}

fn state_descriptor(m: &Manifest) -> slipway_state::Descriptor {
    slipway_state::Descriptor {
        media_type: m.media_type.clone(),
        digest: m.digest.clone(),
        size: m.bytes.len() as u64,
    }
}

/// `state merge --assemble`: every platform of every image is copied from the layout next to the
/// input that built it into the shared layout, and the index is assembled there with
/// slipway-build's own code, the platforms in input order and the annotations the inputs' indexes
/// carry — so two single-platform builds merged give the index one two-platform build gives.
fn assemble(
    ctx: &Context,
    inputs: &[(String, State)],
    sources: &[PathBuf],
    merged: &mut State,
) -> Result<Vec<String>, Failure> {
    let shown = ctx.settings.display_path(&ctx.cwd, &ctx.settings.layout);
    // Everything is found and checked before the shared layout is touched.
    type Plan = (
        String,
        Vec<(slipway_types::Platform, Layout)>,
        BTreeMap<String, String>,
    );
    let mut plans: Vec<Plan> = Vec::new();
    for name in merged.images.keys() {
        // Platforms in the order the inputs list them (and, within one input, in the order of its
        // index), each with the layout it is in.
        let mut order: Vec<(slipway_types::Platform, Layout)> = Vec::new();
        let mut annotations: Option<(String, BTreeMap<String, String>)> = None;
        for ((label, state), path) in inputs.iter().zip(sources) {
            let Some(img) = state.images.get(name) else {
                continue;
            };
            let mut plats: Vec<(&slipway_types::Platform, &slipway_state::PlatformImage)> =
                img.platforms.iter().collect();
            let mut index_layout = None;
            if let Some(ix) = &img.index {
                let recorded = img.layout.clone().unwrap_or_else(|| shown.clone());
                let l = find_layout(&layout_candidates(path, &recorded, &ctx.cwd), &ix.digest)
                    .ok_or_else(|| {
                        Failure::usage(format!(
                            "image `{name}` of {label}: its index {} is in no layout next to it (looked for `{recorded}` relative to {})",
                            ix.digest.short(),
                            path.parent().unwrap_or(Path::new(".")).display()
                        ))
                        .with_hint("download each job's layout with its state (the whole .slipway/ directory)")
                    })?;
                let m = l.read_manifest(&convert::descriptor(
                    ix.media_type.as_str(),
                    &ix.digest,
                    ix.size,
                ))?;
                let children: Vec<Digest> = m
                    .children()
                    .iter()
                    .map(convert::descriptor_digest)
                    .collect::<Result<_, _>>()?;
                plats.sort_by_key(|(_, p)| {
                    children
                        .iter()
                        .position(|c| *c == p.manifest.digest)
                        .unwrap_or(usize::MAX)
                });
                let ann: BTreeMap<String, String> = match &m.kind {
                    ManifestKind::Index(i) => i
                        .annotations()
                        .clone()
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                    ManifestKind::Image(_) => BTreeMap::new(),
                };
                match &annotations {
                    Some((first, a)) if *a != ann => {
                        let differ: Vec<&String> = a
                            .keys()
                            .chain(ann.keys())
                            .filter(|k| a.get(*k) != ann.get(*k))
                            .collect();
                        return Err(Failure::usage(format!(
                            "image `{name}`: the indexes of {first} and {label} carry different annotations ({}): they are not builds of the same thing",
                            differ.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                        .with_hint("build every platform of one run from the same commit with the same SOURCE_DATE_EPOCH"));
                    }
                    Some(_) => {}
                    None => annotations = Some((label.clone(), ann)),
                }
                index_layout = Some(l);
            }
            for (platform, p) in plats {
                if order.iter().any(|(q, _)| q == platform) {
                    continue;
                }
                let recorded = p
                    .layout
                    .clone()
                    .or_else(|| img.layout.clone())
                    .unwrap_or_else(|| shown.clone());
                let l = match &index_layout {
                    Some(l) if l.has_blob(&p.manifest.digest) => l.clone(),
                    _ => find_layout(&layout_candidates(path, &recorded, &ctx.cwd), &p.manifest.digest)
                        .ok_or_else(|| {
                            Failure::usage(format!(
                                "image `{name}` {platform} of {label}: its manifest {} is in no layout next to it (looked for `{recorded}`)",
                                p.manifest.digest.short()
                            ))
                            .with_hint("download each job's layout with its state (the whole .slipway/ directory)")
                        })?,
                };
                order.push((platform.clone(), l));
            }
        }
        let Some((_, annotations)) = annotations else {
            return Err(Failure::usage(format!(
                "image `{name}`: no input carries an index to take the image's annotations from"
            ))
            .with_hint("merge the states slipway-build wrote, not states merged before"));
        };
        plans.push((name.clone(), order, annotations));
    }
    // Still nothing written: every platform's blobs are there to copy, and the index the
    // platforms assemble to is computed (in memory) and compared with the inputs' own.
    let mut ready: Vec<Assembly> = Vec::new();
    for (name, order, annotations) in plans {
        let image = &merged.images[&name];
        let mut a = Assembly {
            layout_name: image.layout_ref.clone().unwrap_or_else(|| name.clone()),
            name,
            trees: Vec::new(),
            artifacts: Vec::new(),
            platforms: Vec::new(),
            index: None,
        };
        let mut manifests = Vec::new();
        for (platform, from) in &order {
            let p = &image.platforms[platform];
            let desc = convert::descriptor(
                p.manifest.media_type.as_str(),
                &p.manifest.digest,
                p.manifest.size,
            );
            check_tree(from, &desc)?;
            a.trees.push((from.clone(), desc.clone()));
            // Signatures and attestations made in the platform's own job come along.
            for (ref_name, d) in from.refs()? {
                if ARTIFACT_SUFFIXES
                    .iter()
                    .any(|s| ref_name == p.manifest.digest.cosign_tag(s))
                {
                    check_tree(from, &d)?;
                    a.trees.push((from.clone(), d.clone()));
                    a.artifacts.push((ref_name, d));
                }
            }
            a.platforms.push((platform.clone(), desc.clone()));
            manifests.push((platform.clone(), from.read_manifest(&desc)?));
        }
        let index = slipway_build::image::index_manifest(&manifests, &annotations)?;
        if let Some(old) = &image.index
            && old.digest != index.digest
        {
            return Err(Failure::usage(format!(
                "image `{}`: the inputs' index is {} but the platforms assemble to {}",
                a.name,
                old.digest.short(),
                index.digest.short()
            )));
        }
        a.index = Some(index);
        ready.push(a);
    }
    let layout_dir = &ctx.settings.layout;
    let existed = layout_dir.join("oci-layout").exists();
    let written = write_assemblies(layout_dir, &ready);
    if written.is_err() && !existed {
        // Leave nothing that looks like a layout behind.
        let _ = std::fs::remove_dir_all(layout_dir);
    }
    written?;
    let mut notes = Vec::new();
    for a in ready {
        let index = a.index.expect("computed above");
        let image = merged
            .images
            .get_mut(&a.name)
            .expect("planned from the merged images");
        image.index = Some(state_descriptor(&index));
        image.layout = Some(shown.clone());
        for p in image.platforms.values_mut() {
            p.layout = None;
        }
        let note = format!(
            "image `{}`: index {} over {} platform(s) assembled in {shown}",
            a.name,
            index.digest.short(),
            a.platforms.len()
        );
        ctx.printer.detail(&note);
        notes.push(note);
    }
    Ok(notes)
}

/// One image of `state merge --assemble`, checked and ready to be written.
struct Assembly {
    name: String,
    /// Its name in the layout.
    layout_name: String,
    /// Everything to copy: each from the layout it is in.
    trees: Vec<(Layout, oci_spec::image::Descriptor)>,
    /// Signature and attestation names to carry over.
    artifacts: Vec<(String, oci_spec::image::Descriptor)>,
    platforms: Vec<(slipway_types::Platform, oci_spec::image::Descriptor)>,
    index: Option<Manifest>,
}

/// Fails unless every blob reachable from `desc` is in `from`.
fn check_tree(from: &Layout, desc: &oci_spec::image::Descriptor) -> Result<(), Failure> {
    for d in from.walk(desc)? {
        let digest = convert::descriptor_digest(&d)?;
        if !from.has_blob(&digest) {
            return Err(Failure::usage(format!(
                "the layout `{}` lacks blob {} (a {}) that {} needs",
                from.root().display(),
                digest.short(),
                d.media_type(),
                desc.digest()
            ))
            .with_hint(
                "download each job's layout with its state (the whole .slipway/ directory)",
            ));
        }
    }
    Ok(())
}

/// Copies the assembled images into the layout at `dir` (created if need be) and names them
/// there, each image's names last.
fn write_assemblies(dir: &Path, ready: &[Assembly]) -> Result<(), Failure> {
    let dest = Layout::create(dir)?;
    for a in ready {
        for (from, desc) in &a.trees {
            copy_tree(from, &dest, desc)?;
        }
        let index = a.index.as_ref().expect("computed before writing");
        dest.write_manifest(index)?;
        if !a.artifacts.is_empty() {
            dest.set_refs(&a.artifacts)?;
        }
        slipway_build::name_image(&dest, &a.layout_name, index.descriptor(), &a.platforms)?;
    }
    Ok(())
}

fn output(ctx: &Context, args: &OutputArgs) -> Result<(), Failure> {
    let file = ctx.state_file();
    let state = file.read_required()?;
    let mut outputs = Vec::new();
    for pair in &args.pairs {
        let (name, path) = pair.split_once('=').ok_or_else(|| {
            Failure::usage(format!("`{pair}` is not NAME=KEY.PATH"))
                .with_hint("e.g. digest=images.hello.index.digest")
        })?;
        let value = lookup(&state, file.path(), path)?;
        let text = match &value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        outputs.push((name.to_owned(), text));
    }
    ctx.publish(&outputs)?;
    if ctx.settings.json() {
        ctx.printer.json(&serde_json::Value::Object(
            outputs
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        ));
    } else {
        for (k, v) in &outputs {
            ctx.printer.data(&format!("{k}={v}"));
        }
    }
    Ok(())
}
