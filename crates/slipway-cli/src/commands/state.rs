//! `slipway state show | get | validate | merge | output`.

use std::collections::BTreeSet;
use std::path::Path;

use slipway_state::{State, StateFile, Step, merge, query};
use slipway_types::{Diagnostic, ExitClass};

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
    let out_path = args
        .output
        .clone()
        .unwrap_or_else(|| ctx.settings.state.clone());
    let out = StateFile::new(&out_path);
    ctx.run_step(Step::Merge, &out, |ctx| {
        let (merged, notes) = merge(&inputs).map_err(MergeFailed)?;
        for n in &notes.notes {
            ctx.printer.warn(n);
        }
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
            "notes": notes.notes,
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
