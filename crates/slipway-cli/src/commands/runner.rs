//! `slipway runner fingerprint | check | bootstrap`, and the runner check sign, push and
//! promote make before acting when a `runners:` policy is configured.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use slipway_env as ev;
use slipway_runner::{Decision, Entry, Fingerprint};
use slipway_state::{RunnerRecord, Step};
use slipway_types::Digest;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// `slipway runner ...`
#[derive(Debug, Subcommand)]
pub enum RunnerCommand {
    /// Print this machine's hardware fingerprint (component hashes only, never raw values)
    Fingerprint(FingerprintArgs),
    /// Check this machine against the runner allowlist (`runners:` in slipway.yaml); exit 1
    /// when it is not allowed
    Check(CheckArgs),
    /// Register this machine as a self-hosted GitHub Actions runner
    Bootstrap(PendingArgs),
}

/// `slipway runner fingerprint`.
#[derive(Debug, Clone, Args)]
pub struct FingerprintArgs {
    /// Read a captured sysfs/etc tree instead of this machine
    #[arg(long, value_name = "DIR", env = ev::SLIPWAY_FINGERPRINT_ROOT)]
    pub root: Option<PathBuf>,
}

/// `slipway runner check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Environment the run acts for
    #[arg(long = "env", value_name = "NAME", env = ev::SLIPWAY_ENVIRONMENT)]
    pub environment: Option<String>,
    /// Step to check for: sign, push or promote
    #[arg(long, value_name = "STEP", default_value = "promote")]
    pub step: String,
    /// Read a captured sysfs/etc tree instead of this machine
    #[arg(long, value_name = "DIR", env = ev::SLIPWAY_FINGERPRINT_ROOT)]
    pub root: Option<PathBuf>,
}

/// Runs a `runner` subcommand.
pub fn run(ctx: &Context, cmd: RunnerCommand) -> Result<(), Failure> {
    match cmd {
        RunnerCommand::Fingerprint(a) => fingerprint(ctx, &a),
        RunnerCommand::Check(a) => {
            let step = parse_step(&a.step)?;
            let root = a.root.map(|r| ctx.cwd.join(r));
            let record = enforce_with(ctx, step, a.environment.as_deref(), root)?
                .ok_or_else(|| {
                    Failure::denied("runner not allowed: no runner policy is configured (runners: in slipway.yaml)")
                        .with_hint("add the entry `slipway runner fingerprint` prints under runners.allow")
                })?;
            ctx.printer.data(&format!(
                "allowed by {} ({})",
                record.entry.as_deref().unwrap_or("?"),
                record.fingerprint
            ));
            Ok(())
        }
        RunnerCommand::Bootstrap(_) => pending::not_implemented("slipway runner bootstrap"),
    }
}

fn parse_step(s: &str) -> Result<Step, Failure> {
    match s {
        "sign" => Ok(Step::Sign),
        "push" => Ok(Step::Push),
        "promote" => Ok(Step::Promote),
        other => Err(Failure::usage(format!(
            "--step: `{other}` is not a step the runner policy covers (sign, push, promote)"
        ))),
    }
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Sign => "sign",
        Step::Push => "push",
        _ => "promote",
    }
}

fn digest(s: &str) -> Result<Digest, Failure> {
    s.parse::<Digest>()
        .map_err(|e| Failure::external(format!("fingerprint hash `{s}`: {e}")))
}

fn record(fp: &Fingerprint) -> Result<RunnerRecord, Failure> {
    Ok(RunnerRecord {
        fingerprint: digest(&fp.id)?,
        components: fp
            .components
            .iter()
            .map(|(k, v)| Ok((k.clone(), digest(v)?)))
            .collect::<Result<_, Failure>>()?,
        missing: fp.missing.clone(),
        allowed: None,
        entry: None,
        step: None,
        environment: None,
        at: chrono::Utc::now(),
    })
}

fn fingerprint(ctx: &Context, args: &FingerprintArgs) -> Result<(), Failure> {
    let root = args
        .root
        .as_ref()
        .map_or_else(|| PathBuf::from("/"), |r| ctx.cwd.join(r));
    let fp = slipway_runner::collect(&root);
    if ctx.settings.json() {
        ctx.printer.json(&serde_json::json!({
            "fingerprint": fp.id,
            "short": fp.short(),
            "components": fp.components,
            "missing": fp.missing,
        }));
    } else {
        let mut out = format!("fingerprint {}\n", fp.id);
        for (name, hash) in &fp.components {
            out.push_str(&format!("  {name:<18} {hash}\n"));
        }
        if !fp.missing.is_empty() {
            out.push_str(&format!("  not found: {}\n", fp.missing.join(", ")));
        }
        out.push_str(&format!(
            "allowlist entry (slipway.yaml):\nrunners:\n  allow:\n    - name: runner-{}\n      components:\n{}      min_match: {}\n",
            fp.short(),
            fp.components.values().map(|h| format!("        - {h}\n")).collect::<String>(),
            fp.components.len().saturating_sub(1).max(1)
        ));
        ctx.printer.data(out.trim_end());
    }
    Ok(())
}

/// The runner check of sign, push and promote: when `runners:` is configured, the machine must
/// match an entry for `step` (and the environment, `SLIPWAY_ENVIRONMENT`), or the step fails
/// with exit 1 before it changes anything. The fingerprint and verdict go into the state.
pub fn enforce(ctx: &Context, step: Step) -> Result<Option<RunnerRecord>, Failure> {
    let env = ctx
        .env
        .non_empty(ev::SLIPWAY_ENVIRONMENT)
        .map(str::to_owned);
    let root = ctx
        .env
        .non_empty(ev::SLIPWAY_FINGERPRINT_ROOT)
        .map(|r| ctx.cwd.join(r));
    enforce_with(ctx, step, env.as_deref(), root)
}

fn enforce_with(
    ctx: &Context,
    step: Step,
    environment: Option<&str>,
    root: Option<PathBuf>,
) -> Result<Option<RunnerRecord>, Failure> {
    let Some(policy) = ctx.settings.config.config.runners.as_ref() else {
        return Ok(None);
    };
    let entries: Vec<Entry> = policy
        .allow
        .iter()
        .map(|e| Entry {
            name: e.name.clone(),
            fingerprint: e.fingerprint.clone(),
            components: e.components.clone(),
            min_match: e.min_match,
            environments: e.environments.clone(),
            steps: e.steps.clone(),
        })
        .collect();
    let fp = slipway_runner::collect(&root.unwrap_or_else(|| PathBuf::from("/")));
    let decision = slipway_runner::check(&entries, &fp, environment, step_name(step));
    let mut rec = record(&fp)?;
    rec.step = Some(step);
    rec.environment = environment.map(str::to_owned);
    match &decision {
        Decision::Allowed(name) => {
            rec.allowed = Some(true);
            rec.entry = Some(name.clone());
        }
        Decision::Denied(_) => rec.allowed = Some(false),
    }
    ctx.state_file().update(|s| s.runners.push(rec.clone()))?;
    match decision {
        Decision::Allowed(_) => Ok(Some(rec)),
        Decision::Denied(why) => Err(Failure::denied(why).with_hint(
            "run `slipway runner fingerprint` on the runner and add its entry under runners.allow in slipway.yaml",
        )),
    }
}
