//! Registry options shared by `slipway-push` and `slipway-promote`: credentials, TLS, retries,
//! parallelism — resolved flag > env > config > default into a registry client.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use slipway_config::TransferConfig;
use slipway_env as ev;
use slipway_registry::{
    AuthFileLocations, Client, ClientOptions, CredentialStore, Credentials, RetryPolicy,
};
use slipway_types::Secret;

use crate::Context;
use crate::error::Failure;

/// Registry connection options.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Registry options")]
pub struct TransferArgs {
    /// Registry username (the password comes from --password-stdin or SLIPWAY_REGISTRY_PASSWORD)
    #[arg(long, value_name = "USER", env = ev::SLIPWAY_REGISTRY_USERNAME, hide_env_values = true)]
    pub username: Option<String>,

    /// Read the registry password or token from stdin
    #[arg(long, requires = "username")]
    pub password_stdin: bool,

    /// Extra CA certificate (PEM) to trust for registries
    #[arg(long, value_name = "PATH", env = ev::SLIPWAY_CA_FILE, hide_env_values = true)]
    pub ca_file: Option<PathBuf>,

    /// Speak plain HTTP to this registry host (host[:port]); repeatable. Only the hosts named.
    #[arg(long = "insecure-registry", value_name = "HOST", env = ev::SLIPWAY_INSECURE_REGISTRY, value_delimiter = ',', hide_env_values = true)]
    pub insecure_registries: Vec<String>,

    /// Blobs transferred at once [default: 4]
    #[arg(long, value_name = "N", env = ev::SLIPWAY_JOBS, hide_env_values = true)]
    pub jobs: Option<usize>,

    /// Upload blobs larger than this in chunks of this many bytes (accepts KiB/MiB/GiB);
    /// 0 means one request per blob [default: 0]
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub chunk_size: Option<u64>,

    /// Retries of a failing registry operation (connection errors, 5xx, 429) [default: 5]
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,

    /// Stop retrying an operation after this many seconds; each attempt waits for an answer
    /// only as long as this budget has left [default: 120]
    #[arg(long, value_name = "SECONDS")]
    pub retry_seconds: Option<u64>,

    /// Drop a request when the registry sends nothing for this many seconds [default: 60]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,

    /// Give up connecting to a registry after this many seconds [default: 15]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub connect_timeout: Option<u64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = [
        ("GiB", 1u64 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim(), *m)))
    .unwrap_or((t, 1));
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size (e.g. 8388608, 8MiB)"))
}

/// Resolved transfer settings.
#[derive(Debug)]
pub struct Transfer {
    /// The client.
    pub client: Client,
    /// Parallel blobs.
    pub jobs: usize,
}

/// A runtime for the registry work of one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::external(format!("cannot start the async runtime: {e}")))
}

/// Builds the client from flags, env, config and defaults. Reads stdin for `--password-stdin`.
pub fn resolve(
    ctx: &Context,
    args: &TransferArgs,
    config: Option<&TransferConfig>,
) -> Result<Transfer, Failure> {
    let cfg = config.cloned().unwrap_or_default();
    let env = &ctx.env;
    let locations = AuthFileLocations {
        registry_auth_file: env.non_empty(ev::REGISTRY_AUTH_FILE).map(PathBuf::from),
        docker_config_dir: env.non_empty(ev::DOCKER_CONFIG).map(PathBuf::from),
        home: env.non_empty("HOME").map(PathBuf::from),
    };
    let mut credentials = CredentialStore::from_locations(&locations);
    if let Some(user) = &args.username {
        let password = if args.password_stdin {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                Failure::usage(format!(
                    "cannot read the password from stdin (--password-stdin): {e}"
                ))
            })?;
            s.trim_end_matches(['\n', '\r']).to_owned()
        } else if let Some(p) = env.get(ev::SLIPWAY_REGISTRY_PASSWORD) {
            p.to_owned()
        } else {
            return Err(Failure::usage(
                "--username (or SLIPWAY_REGISTRY_USERNAME) needs a password: pipe it to --password-stdin or set SLIPWAY_REGISTRY_PASSWORD",
            )
            .with_hint("passwords are never taken from command-line arguments"));
        };
        if password.is_empty() {
            return Err(Failure::usage(
                "the registry password read for --username is empty",
            ));
        }
        ctx.mask(&password);
        credentials = credentials.with_explicit(
            Credentials {
                username: user.clone(),
                password: Secret::new(password),
            },
            None,
        );
    }
    let ca_file = args
        .ca_file
        .clone()
        .map(|p| if p.is_relative() { ctx.cwd.join(p) } else { p })
        .or_else(|| {
            cfg.ca_file
                .as_deref()
                .map(|p| ctx.settings.config.relative(p))
        });
    let mut insecure = args.insecure_registries.clone();
    if insecure.is_empty() {
        insecure = cfg.insecure_registries.clone();
    }
    insecure.retain(|h| !h.trim().is_empty());
    let jobs = args.jobs.or(cfg.jobs).unwrap_or(4);
    if jobs == 0 {
        return Err(Failure::usage("--jobs must be at least 1"));
    }
    let attempts = args
        .retries
        .map(|r| r.saturating_add(1))
        .or(cfg.attempts)
        .unwrap_or(6)
        .max(1);
    let retry_seconds = args.retry_seconds.or(cfg.retry_seconds).unwrap_or(120);
    let chunk_size = args.chunk_size.or(cfg.chunk_size).filter(|c| *c > 0);
    let positive = |v: Option<u64>, key: &str, default: u64| -> Result<Duration, Failure> {
        match v {
            Some(0) => Err(Failure::usage(format!(
                "transfer.{key} must be at least 1 (seconds)"
            ))),
            Some(n) => Ok(Duration::from_secs(n)),
            None => Ok(Duration::from_secs(default)),
        }
    };
    let read_timeout = positive(args.timeout.or(cfg.timeout_seconds), "timeout_seconds", 60)?;
    let connect_timeout = positive(
        args.connect_timeout.or(cfg.connect_timeout_seconds),
        "connect_timeout_seconds",
        15,
    )?;
    let mask_ctx = ctx.clone();
    let opts = ClientOptions {
        credentials,
        ca_files: ca_file.into_iter().collect(),
        insecure_registries: insecure,
        retry: RetryPolicy {
            attempts,
            max_elapsed: Duration::from_secs(retry_seconds),
            ..RetryPolicy::default()
        },
        chunk_size,
        on_secret: Some(Arc::new(move |s: &str| mask_ctx.mask(s))),
        connect_timeout,
        read_timeout,
        ..ClientOptions::default()
    };
    let client = Client::new(opts)?;
    Ok(Transfer { client, jobs })
}

/// Human byte counts: `12.3 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("8MiB").unwrap(), 8 << 20);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("2 KiB").unwrap(), 2048);
        assert!(parse_size("lots").is_err());
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(52_428_800), "52.4 MB");
    }
}
