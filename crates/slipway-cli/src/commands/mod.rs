//! Commands. Each takes the [`Context`] and its own arguments.

mod pending;
mod state;

use crate::Context;
use crate::args::{Command, RunnerCommand};
use crate::error::Failure;

/// Runs a parsed command.
pub fn dispatch(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Build(_) => pending::not_implemented("slipway-build (slipway build)"),
        Command::ScanSbom(_) => pending::not_implemented("slipway-scan-sbom (slipway scan-sbom)"),
        Command::Sign(_) => pending::not_implemented("slipway-sign (slipway sign)"),
        Command::Push(_) => pending::not_implemented("slipway-push (slipway push)"),
        Command::Promote(_) => pending::not_implemented("slipway-promote (slipway promote)"),
        Command::Verify(_) => pending::not_implemented("slipway verify"),
        Command::Runner(RunnerCommand::Fingerprint(_)) => {
            pending::not_implemented("slipway runner fingerprint")
        }
        Command::Runner(RunnerCommand::Check(_)) => {
            pending::not_implemented("slipway runner check")
        }
        Command::Runner(RunnerCommand::Bootstrap(_)) => {
            pending::not_implemented("slipway runner bootstrap")
        }
        Command::State(cmd) => state::run(ctx, cmd),
    }
}
