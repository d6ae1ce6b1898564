//! `slipway-build`.

use clap::Args;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// Arguments of `slipway-build`.
#[derive(Debug, Clone, Default, Args)]
pub struct BuildArgs {
    /// Not implemented yet: arguments are accepted as they come.
    #[command(flatten)]
    pub pending: PendingArgs,
}

/// Runs `slipway-build`.
pub fn run(_ctx: &Context, _args: BuildArgs) -> Result<(), Failure> {
    pending::not_implemented("slipway-build (slipway build)")
}
