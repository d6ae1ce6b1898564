//! `slipway runner fingerprint | check | bootstrap`, and the runner check sign, push and
//! promote make before acting when a `runners:` policy is configured.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use slipway_env as ev;
use slipway_runner::{Decision, Entry, Fingerprint};
use slipway_state::{RunnerRecord, Step};
use slipway_types::Digest;

use crate::Context;
use crate::error::Failure;

/// `slipway runner ...`
#[derive(Debug, Subcommand)]
pub enum RunnerCommand {
    /// Print this machine's hardware fingerprint (component hashes only, never raw values)
    Fingerprint(FingerprintArgs),
    /// Check this machine against the runner allowlist (`runners:` in slipway.yaml); exit 1
    /// when it is not allowed
    Check(CheckArgs),
    /// Register this machine as a self-hosted GitHub Actions runner (registration token or JIT
    /// config through GitHub's REST API; the token is read from SLIPWAY_GITHUB_TOKEN, GH_TOKEN or
    /// GITHUB_TOKEN) and write the configuration script, a systemd unit and the allowlist entry
    Bootstrap(Box<BootstrapArgs>),
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

/// `slipway runner bootstrap`.
#[derive(Debug, Clone, Args)]
#[command(group = clap::ArgGroup::new("scope").required(true).args(["repo", "org"]))]
pub struct BootstrapArgs {
    /// Register the runner with this repository (OWNER/REPO)
    #[arg(long, value_name = "OWNER/REPO")]
    pub repo: Option<String>,
    /// Register the runner with this organisation
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// Request a just-in-time config (an ephemeral runner that takes one job) instead of a
    /// registration token for `config.sh`
    #[arg(long)]
    pub jit: bool,
    /// Runner name (default `runner-<short fingerprint>`)
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Extra runner label (repeatable or comma-separated); `slipway` and
    /// `slipway-fp-<short fingerprint>` are always added
    #[arg(long = "label", value_name = "LABEL", value_delimiter = ',')]
    pub labels: Vec<String>,
    /// Runner group of a JIT runner
    #[arg(long, value_name = "ID", default_value_t = 1)]
    pub runner_group_id: u64,
    /// Work folder of the runner, relative to its directory
    #[arg(long, value_name = "DIR", default_value = "_work")]
    pub work_folder: String,
    /// GitHub REST API URL (GitHub Enterprise Server: https://HOST/api/v3)
    #[arg(long, value_name = "URL", env = ev::GITHUB_API_URL, default_value = "https://api.github.com")]
    pub api_url: String,
    /// GitHub web URL for `config.sh --url` (default: derived from --api-url)
    #[arg(long, value_name = "URL")]
    pub server_url: Option<String>,
    /// Directory the actions runner is (to be) unpacked in
    #[arg(long, value_name = "DIR", default_value = "/opt/actions-runner")]
    pub runner_dir: String,
    /// User the runner service runs as
    #[arg(long, value_name = "USER", default_value = "runner")]
    pub user: String,
    /// Where the environment file (it holds the secret) will be installed; the unit and the
    /// configuration script refer to this path
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/etc/slipway/actions-runner.env"
    )]
    pub env_file: String,
    /// Directory the files are written to
    #[arg(long, value_name = "DIR", default_value = ".slipway/runner")]
    pub out: PathBuf,
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
        RunnerCommand::Bootstrap(a) => bootstrap(ctx, &a),
    }
}

fn github_token(ctx: &Context) -> Result<zeroize::Zeroizing<String>, Failure> {
    [ev::SLIPWAY_GITHUB_TOKEN, ev::GH_TOKEN, ev::GITHUB_TOKEN]
        .iter()
        .find_map(|v| ctx.env.non_empty(v))
        .map(|t| zeroize::Zeroizing::new(t.trim().to_owned()))
        .ok_or_else(|| {
            Failure::usage(
                "no GitHub token: set SLIPWAY_GITHUB_TOKEN (or GH_TOKEN / GITHUB_TOKEN) in the environment",
            )
            .with_hint(
                "the token needs runner administration on the repository (fine-grained: Administration: write) or the organisation (Self-hosted runners: write); it is never taken as a flag",
            )
        })
}

fn bootstrap(ctx: &Context, args: &BootstrapArgs) -> Result<(), Failure> {
    use slipway_runner::bootstrap as bs;
    let bad = |e: bs::BootstrapError| {
        match e {
        bs::BootstrapError::Input(m) => Failure::usage(m),
        bs::BootstrapError::Api { status, .. } => {
            let hint = match status {
                401 => "GitHub rejected the token: check that it is current",
                403 | 404 => "the token cannot administer runners here: a classic PAT needs `repo` (repository) or `admin:org` (organisation); a fine-grained one Administration: write or Self-hosted runners: write",
                422 => "GitHub refused the request body: check --name (unique per scope), --label and --runner-group-id",
                _ => "GitHub's API failed; retry later",
            };
            Failure::external(e.to_string()).with_hint(hint)
        }
        bs::BootstrapError::Transport { .. } => Failure::external(e.to_string())
            .with_hint("check --api-url (GITHUB_API_URL) and the network; for GitHub Enterprise Server use https://HOST/api/v3"),
    }
    };
    let scope = match (&args.repo, &args.org) {
        (Some(r), _) => bs::Scope::repo(r),
        (None, Some(o)) => bs::Scope::org(o),
        (None, None) => Err(bs::BootstrapError::Input(
            "give --repo OWNER/REPO or --org ORG".into(),
        )),
    }
    .map_err(bad)?;
    bs::check_api_url(&args.api_url).map_err(bad)?;
    for l in &args.labels {
        if l.is_empty() || l.len() > 256 || l.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(Failure::usage(format!(
                "--label `{l}`: a label is 1-256 characters without spaces or commas"
            )));
        }
    }
    let token = github_token(ctx)?;
    let root = args
        .root
        .as_ref()
        .map_or_else(|| PathBuf::from("/"), |r| ctx.cwd.join(r));
    let fp = slipway_runner::collect(&root);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("runner-{}", fp.short()));
    // A machine that cannot be told apart from others is not registered: nothing is sent.
    let entry = bs::allow_entry(&fp, &name).map_err(unbindable)?;
    let labels = bs::labels(&fp, &args.labels, args.jit);
    let mode = if args.jit {
        bs::Mode::Jit {
            runner_group_id: args.runner_group_id,
            work_folder: args.work_folder.clone(),
        }
    } else {
        bs::Mode::Registration
    };
    let req = bs::Request {
        api_url: args.api_url.clone(),
        token,
        scope: scope.clone(),
        mode,
        name: name.clone(),
        labels: labels.clone(),
    };
    let rt = crate::commands::transfer::runtime()?;
    let grant = rt.block_on(bs::request(&req)).map_err(bad)?;
    match &grant {
        bs::Grant::Registration { token, .. } => ctx.mask(token),
        bs::Grant::Jit { encoded, .. } => ctx.mask(encoded),
    }
    let server = args
        .server_url
        .clone()
        .or_else(|| ctx.env.non_empty(ev::GITHUB_SERVER_URL).map(str::to_owned))
        .unwrap_or_else(|| bs::server_url_from_api(&args.api_url));
    let install = bs::Install {
        runner_dir: args.runner_dir.clone(),
        user: args.user.clone(),
        env_file: args.env_file.clone(),
        url: format!("{}/{}", server.trim_end_matches('/'), scope.path()),
    };
    let out = ctx.cwd.join(&args.out);
    std::fs::create_dir_all(&out)
        .map_err(|e| Failure::usage(format!("--out {}: {e}", out.display())))?;
    let write = |file: &str, bytes: &[u8], mode: u32| -> Result<PathBuf, Failure> {
        let p = out.join(file);
        slipway_fs::atomic_write_mode(&p, bytes, mode)
            .map_err(|e| Failure::usage(format!("writing {}: {e}", p.display())))?;
        Ok(p)
    };
    let mut files = vec![(
        "env_file",
        write("actions-runner.env", bs::env_file(&grant).as_bytes(), 0o600)?,
    )];
    let config_labels: Vec<String> = labels.clone();
    if !args.jit {
        files.push((
            "configure",
            write(
                "configure.sh",
                bs::configure_script(&install, &name, &config_labels).as_bytes(),
                0o700,
            )?,
        ));
    }
    files.push((
        "systemd_unit",
        write(
            "slipway-actions-runner.service",
            bs::systemd_unit(&install, &name, &fp, args.jit).as_bytes(),
            0o644,
        )?,
    ));
    files.push((
        "allowlist",
        write("allowlist.yaml", entry.as_bytes(), 0o644)?,
    ));
    let rel = |p: &PathBuf| p.strip_prefix(&ctx.cwd).unwrap_or(p).display().to_string();
    let (mode_name, expires, runner_id, granted_labels) = match &grant {
        bs::Grant::Registration { expires_at, .. } => (
            "registration-token",
            Some(*expires_at),
            None,
            labels.clone(),
        ),
        bs::Grant::Jit {
            runner_id,
            labels: l,
            ..
        } => ("jit", None, Some(*runner_id), l.clone()),
    };
    if ctx.settings.json() {
        ctx.printer.json(&serde_json::json!({
            "scope": scope.path(),
            "url": install.url,
            "mode": mode_name,
            "name": name,
            "labels": granted_labels,
            "expires_at": expires,
            "runner_id": runner_id,
            "fingerprint": fp.id,
            "files": files.iter().map(|(k, p)| (k.to_string(), rel(p))).collect::<std::collections::BTreeMap<_, _>>(),
        }));
    } else {
        let mut o = match &grant {
            bs::Grant::Registration { expires_at, .. } => format!(
                "registration token for {} granted (expires {}); runner {name}\n",
                install.url,
                expires_at.to_rfc3339()
            ),
            bs::Grant::Jit { runner_id, .. } => format!(
                "just-in-time runner {name} (id {runner_id}) created for {}\n",
                install.url
            ),
        };
        o.push_str(&format!("labels: {}\nwrote:\n", granted_labels.join(", ")));
        for (_, p) in &files {
            o.push_str(&format!("  {}\n", rel(p)));
        }
        o.push_str(&format!(
            "next, on the runner machine (as root):\n  install -D -m 0600 {env} {dest}\n",
            env = rel(&files[0].1),
            dest = args.env_file
        ));
        if !args.jit {
            o.push_str(&format!(
                "  sudo -u {} sh {}   # within the hour: the token expires\n",
                args.user,
                rel(&files[1].1)
            ));
        }
        o.push_str("  install -m 0644 slipway-actions-runner.service /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now slipway-actions-runner\n");
        o.push_str(&format!(
            "then add this entry to slipway.yaml (also in {}):\n{}",
            rel(&files.last().expect("allowlist").1),
            entry
        ));
        ctx.printer.data(o.trim_end());
    }
    Ok(())
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

fn unbindable(why: String) -> Failure {
    Failure::usage(why).with_hint(
        "run where /etc/machine-id, a physical NIC or the root disk's serial is readable (DMI serials need root), or pass --root with a captured tree",
    )
}

fn fingerprint(ctx: &Context, args: &FingerprintArgs) -> Result<(), Failure> {
    let root = args
        .root
        .as_ref()
        .map_or_else(|| PathBuf::from("/"), |r| ctx.cwd.join(r));
    let fp = slipway_runner::collect(&root);
    // No allowlist entry for a fingerprint every such machine shares.
    let entry = slipway_runner::bootstrap::allow_entry(&fp, &format!("runner-{}", fp.short()))
        .map_err(unbindable)?;
    if ctx.settings.json() {
        ctx.printer.json(&serde_json::json!({
            "fingerprint": fp.id,
            "short": fp.short(),
            "components": fp.components,
            "missing": fp.missing,
            "notes": fp.notes,
        }));
    } else {
        let mut out = format!("fingerprint {}\n", fp.id);
        for (name, hash) in &fp.components {
            out.push_str(&format!("  {name:<18} {hash}\n"));
        }
        for name in &fp.missing {
            out.push_str(&format!(
                "  {name:<18} not found: {}\n",
                fp.notes.get(name).map_or("", String::as_str)
            ));
        }
        out.push_str("allowlist entry (slipway.yaml):\n");
        out.push_str(&entry);
        ctx.printer.data(out.trim_end());
    }
    Ok(())
}

fn fingerprint_root(ctx: &Context) -> PathBuf {
    ctx.env
        .non_empty(ev::SLIPWAY_FINGERPRINT_ROOT)
        .map_or_else(|| PathBuf::from("/"), |r| ctx.cwd.join(r))
}

fn environment_from_env(ctx: &Context) -> Option<String> {
    ctx.env
        .non_empty(ev::SLIPWAY_ENVIRONMENT)
        .map(str::to_owned)
}

/// What a denied runner is told to do.
pub const DENIED_HINT: &str = "run `slipway runner fingerprint` on the runner and add its entry under runners.allow in slipway.yaml";

/// The runner check of sign and promote: when `runners:` is configured, the machine must match
/// an entry for `step` and the environment (`SLIPWAY_ENVIRONMENT`), or the step fails with exit 1
/// before it changes anything. The fingerprint and verdict go into the state.
pub fn enforce(ctx: &Context, step: Step) -> Result<Option<RunnerRecord>, Failure> {
    let env = environment_from_env(ctx);
    enforce_in(ctx, step, env.as_deref())
}

/// [`enforce`] for the environment the step actually acts for (push: `--environment` /
/// `push.environment`, which it also tags), not only `SLIPWAY_ENVIRONMENT`: a step must not be
/// checked for one environment and then act for another.
pub fn enforce_in(
    ctx: &Context,
    step: Step,
    environment: Option<&str>,
) -> Result<Option<RunnerRecord>, Failure> {
    enforce_with(ctx, step, environment, Some(fingerprint_root(ctx)))
}

/// The runner record for the provenance of what `slipway-sign` signs: with a policy, the record of
/// the check this very step passed (never an older one from the state, which may come from another
/// step, job or machine); without one, this machine's fingerprint, unverified (`allowed` unset).
/// `None` when there is no policy and the fingerprint identifies nothing.
pub fn for_provenance(ctx: &Context, step: Step) -> Result<Option<RunnerRecord>, Failure> {
    if let Some(checked) = enforce(ctx, step)? {
        return Ok(Some(checked));
    }
    let fp = slipway_runner::collect(&fingerprint_root(ctx));
    if fp.unbindable().is_some() {
        return Ok(None);
    }
    let mut rec = record(&fp)?;
    rec.step = Some(step);
    rec.environment = environment_from_env(ctx);
    Ok(Some(rec))
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
        Decision::Denied(why) => Err(Failure::denied(why).with_hint(DENIED_HINT)),
    }
}
