//! `slipway runner fingerprint | check | bootstrap`.

use clap::Subcommand;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// `slipway runner ...`
#[derive(Debug, Subcommand)]
pub enum RunnerCommand {
    /// Print this machine's hardware fingerprint
    Fingerprint(PendingArgs),
    /// Check this machine against the runner allowlist
    Check(PendingArgs),
    /// Register this machine as a self-hosted GitHub Actions runner
    Bootstrap(PendingArgs),
}

/// Runs a `runner` subcommand.
pub fn run(_ctx: &Context, cmd: RunnerCommand) -> Result<(), Failure> {
    match cmd {
        RunnerCommand::Fingerprint(_) => pending::not_implemented("slipway runner fingerprint"),
        RunnerCommand::Check(_) => pending::not_implemented("slipway runner check"),
        RunnerCommand::Bootstrap(_) => pending::not_implemented("slipway runner bootstrap"),
    }
}
