//! Runner bootstrap: register this machine as a self-hosted GitHub Actions runner.
//!
//! Two ways, both through GitHub's REST API (API version 2022-11-28):
//! - **registration token** (`POST /repos/{owner}/{repo}/actions/runners/registration-token`, or
//!   `/orgs/{org}/...`): a one-hour token the actions runner's `config.sh` exchanges for a
//!   persistent registration;
//! - **just-in-time config** (`POST .../actions/runners/generate-jitconfig` with `name`,
//!   `runner_group_id`, `labels`, `work_folder`): an ephemeral runner that takes one job, for
//!   `run.sh` directly.
//!
//! Either secret is handed to the runner through an environment file (mode 0600) as
//! `ACTIONS_RUNNER_INPUT_TOKEN` / `ACTIONS_RUNNER_INPUT_JITCONFIG`, the variables the runner
//! reads for its `--token` / `--jitconfig` arguments, so it never appears on a command line or
//! in output. The runner gets a `slipway-fp-<short fingerprint>` label, which workflows can
//! target (`runs-on: [self-hosted, slipway-fp-…]`).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::Fingerprint;

/// The API version header GitHub's REST docs pin.
pub const API_VERSION: &str = "2022-11-28";

/// Where the runner registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A repository, `owner/repo`.
    Repo {
        /// Owner (user or organisation).
        owner: String,
        /// Repository name.
        repo: String,
    },
    /// An organisation.
    Org(String),
}

impl Scope {
    /// Parses `owner/repo`.
    pub fn repo(s: &str) -> Result<Scope, BootstrapError> {
        match s.split_once('/') {
            Some((o, r)) if valid_name(o) && valid_name(r) => Ok(Scope::Repo {
                owner: o.to_owned(),
                repo: r.to_owned(),
            }),
            _ => Err(BootstrapError::Input(format!(
                "--repo `{s}`: expected OWNER/REPO (letters, digits, `-`, `_`, `.`)"
            ))),
        }
    }

    /// An organisation name.
    pub fn org(s: &str) -> Result<Scope, BootstrapError> {
        if valid_name(s) {
            Ok(Scope::Org(s.to_owned()))
        } else {
            Err(BootstrapError::Input(format!(
                "--org `{s}`: expected an organisation name (letters, digits, `-`, `_`, `.`)"
            )))
        }
    }

    /// The path below the server URL: `owner/repo` or `org`.
    pub fn path(&self) -> String {
        match self {
            Scope::Repo { owner, repo } => format!("{owner}/{repo}"),
            Scope::Org(o) => o.clone(),
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Which credential to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// A registration token for `config.sh` (a persistent runner).
    Registration,
    /// A just-in-time configuration (an ephemeral runner that runs one job).
    Jit {
        /// Runner group (1 is the default group).
        runner_group_id: u64,
        /// Work folder, relative to the runner's directory.
        work_folder: String,
    },
}

/// What to ask GitHub for.
#[derive(Debug)]
pub struct Request {
    /// REST API base, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    pub api_url: String,
    /// The token (a PAT or app installation token with runner administration rights).
    pub token: Zeroizing<String>,
    /// Repository or organisation.
    pub scope: Scope,
    /// Registration token or JIT config.
    pub mode: Mode,
    /// Runner name.
    pub name: String,
    /// Labels (for JIT the full set; for a registration token the extra labels `config.sh` gets).
    pub labels: Vec<String>,
}

/// What GitHub granted. The secrets are zeroed on drop and never formatted by `Debug`.
pub enum Grant {
    /// A registration token.
    Registration {
        /// The token.
        token: Zeroizing<String>,
        /// When it expires.
        expires_at: DateTime<Utc>,
    },
    /// A JIT configuration.
    Jit {
        /// The base64 `encoded_jit_config`.
        encoded: Zeroizing<String>,
        /// The runner's id.
        runner_id: u64,
        /// The labels GitHub recorded.
        labels: Vec<String>,
    },
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Registration { expires_at, .. } => f
                .debug_struct("Registration")
                .field("token", &"<redacted>")
                .field("expires_at", expires_at)
                .finish(),
            Grant::Jit {
                runner_id, labels, ..
            } => f
                .debug_struct("Jit")
                .field("encoded", &"<redacted>")
                .field("runner_id", runner_id)
                .field("labels", labels)
                .finish(),
        }
    }
}

/// Why bootstrap failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Bad input (a flag's value).
    #[error("{0}")]
    Input(String),
    /// GitHub answered with an error.
    #[error("GitHub API {method} {path}: {status} {message}")]
    Api {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// HTTP status.
        status: u16,
        /// GitHub's `message`.
        message: String,
    },
    /// The request did not complete (connection, TLS, an unreadable response).
    #[error("GitHub API {method} {path}: {detail}")]
    Transport {
        /// HTTP method.
        method: &'static str,
        /// Request path.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// The labels a runner gets: for JIT the defaults `config.sh` would add (`self-hosted`, OS,
/// architecture), then `slipway`, `slipway-fp-<short>` and `extra`, without duplicates.
pub fn labels(fp: &Fingerprint, extra: &[String], jit: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if jit {
        out.push("self-hosted".into());
        out.push(os_label().into());
        out.push(arch_label().into());
    }
    out.push("slipway".into());
    out.push(fp_label(fp));
    for l in extra {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(l)) {
            out.push(l.clone());
        }
    }
    out
}

/// `slipway-fp-<short fingerprint>`.
pub fn fp_label(fp: &Fingerprint) -> String {
    format!("slipway-fp-{}", fp.short())
}

fn os_label() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "macOS",
        "windows" => "Windows",
        other => other,
    }
}

fn arch_label() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        "arm" => "ARM",
        other => other,
    }
}

/// Checks the API URL: https, or http only to a loopback host (a local test server or proxy).
pub fn check_api_url(url: &str) -> Result<http::Uri, BootstrapError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| BootstrapError::Input(format!("--api-url `{url}`: {e}")))?;
    let host = uri.host().unwrap_or_default();
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(uri),
        Some("http")
            if host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
                || host == "[::1]" =>
        {
            Ok(uri)
        }
        Some("http") => Err(BootstrapError::Input(format!(
            "--api-url `{url}`: plain http is only allowed to a loopback host; the token must not cross the network unencrypted"
        ))),
        _ => Err(BootstrapError::Input(format!(
            "--api-url `{url}`: expected an https:// URL"
        ))),
    }
}

/// The web URL `config.sh --url` wants, from the API URL: `https://api.github.com` →
/// `https://github.com`; `https://HOST/api/v3` (GitHub Enterprise Server) → `https://HOST`.
pub fn server_url_from_api(api_url: &str) -> String {
    let trimmed = api_url.trim_end_matches('/');
    if let Some(rest) = trimmed.strip_suffix("/api/v3") {
        return rest.to_owned();
    }
    if let Some((scheme, host)) = trimmed.split_once("://")
        && let Some(h) = host.strip_prefix("api.")
    {
        return format!("{scheme}://{h}");
    }
    trimmed.to_owned()
}

#[derive(serde::Serialize)]
struct JitBody<'a> {
    name: &'a str,
    runner_group_id: u64,
    labels: &'a [String],
    work_folder: &'a str,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    token: String,
    expires_at: DateTime<Utc>,
}

#[derive(serde::Deserialize)]
struct JitResponse {
    runner: JitRunner,
    encoded_jit_config: String,
}

#[derive(serde::Deserialize)]
struct JitRunner {
    id: u64,
    #[serde(default)]
    labels: Vec<JitLabel>,
}

#[derive(serde::Deserialize)]
struct JitLabel {
    name: String,
}

/// Asks GitHub for a registration token or a JIT config.
pub async fn request(req: &Request) -> Result<Grant, BootstrapError> {
    let base = check_api_url(&req.api_url)?;
    let crab = octocrab::Octocrab::builder()
        .base_uri(base)
        .map_err(|e| BootstrapError::Input(format!("--api-url `{}`: {e}", req.api_url)))?
        .personal_token(req.token.as_str().to_owned())
        .add_header(
            http::header::ACCEPT,
            "application/vnd.github+json".to_owned(),
        )
        .add_header(
            http::HeaderName::from_static("x-github-api-version"),
            API_VERSION.to_owned(),
        )
        .build()
        .map_err(|e| BootstrapError::Transport {
            method: "POST",
            path: String::new(),
            detail: format!("building the GitHub client: {e}"),
        })?;
    let prefix = match &req.scope {
        Scope::Repo { owner, repo } => format!("/repos/{owner}/{repo}"),
        Scope::Org(org) => format!("/orgs/{org}"),
    };
    match &req.mode {
        Mode::Registration => {
            let path = format!("{prefix}/actions/runners/registration-token");
            let r: TokenResponse = crab
                .post(&path, None::<&()>)
                .await
                .map_err(|e| api_error("POST", &path, e))?;
            Ok(Grant::Registration {
                token: Zeroizing::new(r.token),
                expires_at: r.expires_at,
            })
        }
        Mode::Jit {
            runner_group_id,
            work_folder,
        } => {
            let path = format!("{prefix}/actions/runners/generate-jitconfig");
            let body = JitBody {
                name: &req.name,
                runner_group_id: *runner_group_id,
                labels: &req.labels,
                work_folder,
            };
            let r: JitResponse = crab
                .post(&path, Some(&body))
                .await
                .map_err(|e| api_error("POST", &path, e))?;
            Ok(Grant::Jit {
                encoded: Zeroizing::new(r.encoded_jit_config),
                runner_id: r.runner.id,
                labels: r.runner.labels.into_iter().map(|l| l.name).collect(),
            })
        }
    }
}

fn api_error(method: &'static str, path: &str, e: octocrab::Error) -> BootstrapError {
    match e {
        octocrab::Error::GitHub { source, .. } => BootstrapError::Api {
            method,
            path: path.to_owned(),
            status: source.status_code.as_u16(),
            message: source.message,
        },
        other => BootstrapError::Transport {
            method,
            path: path.to_owned(),
            // octocrab's Display is terse; its Debug names the cause (connection refused, …).
            detail: format!("{other}: {}", source_chain(&other)),
        },
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    if parts.is_empty() {
        "no further detail".into()
    } else {
        parts.join(": ")
    }
}

/// Where the actions runner lives on the machine, for the files bootstrap writes.
#[derive(Debug, Clone)]
pub struct Install {
    /// The runner's directory (holds `config.sh`, `run.sh`).
    pub runner_dir: String,
    /// The user the service runs as.
    pub user: String,
    /// Absolute path the environment file will be installed at (the unit's `EnvironmentFile=`).
    pub env_file: String,
    /// `https://github.com/OWNER/REPO` or `https://github.com/ORG`.
    pub url: String,
}

/// The environment file: the secret as the runner's input variable. Mode 0600.
pub fn env_file(grant: &Grant) -> Zeroizing<String> {
    match grant {
        Grant::Registration { token, .. } => {
            Zeroizing::new(format!("ACTIONS_RUNNER_INPUT_TOKEN={}\n", token.as_str()))
        }
        Grant::Jit { encoded, .. } => Zeroizing::new(format!(
            "ACTIONS_RUNNER_INPUT_JITCONFIG={}\n",
            encoded.as_str()
        )),
    }
}

fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:,=@+".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The configuration script for a registration token: `config.sh --unattended` with the URL,
/// name, labels and work folder; the token comes from the environment file, never the command
/// line. For a JIT config no configuration step exists (`run.sh` reads the config).
pub fn configure_script(install: &Install, name: &str, labels: &[String]) -> String {
    let mut s = String::new();
    s.push_str("#!/bin/sh\n# Written by `slipway runner bootstrap`: registers this machine with GitHub Actions.\n# The registration token is read from the environment file (ACTIONS_RUNNER_INPUT_TOKEN),\n# so it never appears on a command line. It expires one hour after bootstrap.\nset -eu\n");
    let _ = writeln!(
        s,
        "ENV_FILE=${{SLIPWAY_RUNNER_ENV:-{}}}",
        sh_quote(&install.env_file)
    );
    s.push_str("set -a\n. \"$ENV_FILE\"\nset +a\n");
    let _ = writeln!(s, "cd {}", sh_quote(&install.runner_dir));
    let _ = writeln!(
        s,
        "./config.sh --unattended --replace \\\n  --url {} \\\n  --name {} \\\n  --labels {} \\\n  --work _work",
        sh_quote(&install.url),
        sh_quote(name),
        sh_quote(&labels.join(","))
    );
    s.push_str("# The token is spent; keep it out of the service's environment.\nsed -i '/^ACTIONS_RUNNER_INPUT_TOKEN=/d' \"$ENV_FILE\"\n");
    s
}

/// A systemd unit for the actions runner, hardened; the environment file supplies the JIT
/// config (ephemeral runners) and nothing for registered ones.
pub fn systemd_unit(install: &Install, name: &str, fp: &Fingerprint, jit: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Written by `slipway runner bootstrap` for runner {name}."
    );
    let _ = writeln!(
        s,
        "# Install: cp slipway-actions-runner.service /etc/systemd/system/ && systemctl daemon-reload && systemctl enable --now slipway-actions-runner"
    );
    s.push_str("[Unit]\n");
    let _ = writeln!(
        s,
        "Description=GitHub Actions runner {name} (slipway, fingerprint {})",
        fp.short()
    );
    s.push_str(
        "After=network-online.target\nWants=network-online.target\n\n[Service]\nType=simple\n",
    );
    let _ = writeln!(s, "User={}", install.user);
    let _ = writeln!(s, "WorkingDirectory={}", install.runner_dir);
    let _ = writeln!(s, "EnvironmentFile={}", install.env_file);
    let _ = writeln!(s, "ExecStart={}/run.sh", install.runner_dir);
    if jit {
        s.push_str(
            "# A JIT runner takes one job and is then removed by GitHub: no restart.\nRestart=no\n",
        );
    } else {
        s.push_str("Restart=always\nRestartSec=5\n");
    }
    s.push_str("KillMode=process\nKillSignal=SIGTERM\nTimeoutStopSec=5min\nNoNewPrivileges=true\nPrivateTmp=true\nProtectSystem=full\n\n[Install]\nWantedBy=multi-user.target\n");
    s
}

/// The allowlist entry for `runners.allow` in slipway.yaml: the fingerprint, the identifying
/// component hashes (not `cpu`, which identical machines share) and a k-of-n threshold: n-1 of
/// three or more (one component, e.g. a NIC, may change), all of one or two. Refused for a
/// machine whose fingerprint identifies nothing.
pub fn allow_entry(fp: &Fingerprint, name: &str) -> Result<String, String> {
    if let Some(why) = fp.unbindable() {
        return Err(why);
    }
    let mut s = format!(
        "runners:\n  allow:\n    - name: {name}\n      fingerprint: {}\n      components:\n",
        fp.id
    );
    let mut n = 0;
    for (component, h) in fp.identifying() {
        let _ = writeln!(s, "        - {h}  # {component}");
        n += 1;
    }
    let _ = writeln!(s, "      min_match: {}", if n >= 3 { n - 1 } else { n });
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_urls() {
        assert_eq!(Scope::repo("acme/app").unwrap().path(), "acme/app");
        assert!(Scope::repo("acme").is_err());
        assert!(Scope::repo("acme/a b").is_err());
        assert!(Scope::org("../x").is_err());
        assert_eq!(
            server_url_from_api("https://api.github.com"),
            "https://github.com"
        );
        assert_eq!(
            server_url_from_api("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com"
        );
        assert!(check_api_url("http://127.0.0.1:8080").is_ok());
        assert!(check_api_url("http://api.github.com").is_err());
        assert!(check_api_url("ftp://x").is_err());
    }

    #[test]
    fn grant_debug_hides_the_secret() {
        let g = Grant::Registration {
            token: Zeroizing::new("AABF3JGZDX3P5PMEXLND6TS6FCWO6".into()),
            expires_at: Utc::now(),
        };
        assert!(!format!("{g:?}").contains("AABF3"));
        assert!(env_file(&g).contains("ACTIONS_RUNNER_INPUT_TOKEN=AABF3"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("a,b"), "a,b");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    fn fp(parts: &[(&str, &str)]) -> Fingerprint {
        let mut f = Fingerprint {
            id: "sha256:1111111111111111111111111111111111111111111111111111111111111111".into(),
            ..Fingerprint::default()
        };
        for (n, v) in parts {
            f.components
                .insert((*n).into(), crate::fingerprint::component_hash(n, v));
        }
        f
    }

    #[test]
    fn the_allow_entry_leaves_out_the_cpu_and_needs_two_of_several() {
        let three = fp(&[
            ("cpu", "c"),
            ("machine_id", "m"),
            ("nic.eth0", "a"),
            ("disk.root", "d"),
        ]);
        let e = allow_entry(&three, "r").unwrap();
        assert!(!e.contains(&three.components["cpu"]), "{e}");
        assert!(
            e.contains("  # machine_id\n") && e.ends_with("      min_match: 2\n"),
            "{e}"
        );
        let two = fp(&[("cpu", "c"), ("machine_id", "m"), ("nic.eth0", "a")]);
        assert!(
            allow_entry(&two, "r")
                .unwrap()
                .ends_with("      min_match: 2\n")
        );
        let one = fp(&[("cpu", "c"), ("machine_id", "m")]);
        assert!(
            allow_entry(&one, "r")
                .unwrap()
                .ends_with("      min_match: 1\n")
        );
        assert!(
            allow_entry(&fp(&[("cpu", "c")]), "r")
                .unwrap_err()
                .contains("only the CPU")
        );
        assert!(
            allow_entry(&fp(&[]), "r")
                .unwrap_err()
                .contains("no component could be read")
        );
    }
}
