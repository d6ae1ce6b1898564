//! Commands. Each module owns its arguments (`…Args`, clap derive) and its `run`.

mod base_puller;
pub mod build;
pub mod promote;
pub mod push;
mod registry_source;
mod rescan;
pub mod runner;
pub mod sbom;
pub mod scan_sbom;
pub mod sign;
mod state;
pub mod transfer;
pub mod verify;

use crate::Context;
use crate::args::Command;
use crate::error::Failure;

/// Runs a parsed command.
pub fn dispatch(ctx: &Context, command: Command) -> Result<(), Failure> {
    match command {
        Command::Build(a) => build::run(ctx, a),
        Command::ScanSbom(a) => scan_sbom::run(ctx, a),
        Command::Sign(a) => sign::run(ctx, a),
        Command::Push(a) => push::run(ctx, a),
        Command::Promote(a) => promote::run(ctx, a),
        Command::Verify(a) => verify::run(ctx, a),
        Command::Runner(c) => runner::run(ctx, c),
        Command::State(c) => state::run(ctx, c),
    }
}
