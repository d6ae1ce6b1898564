//! `slipway-push`.

use clap::Args;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// Arguments of `slipway-push`.
#[derive(Debug, Clone, Default, Args)]
pub struct PushArgs {
    /// Not implemented yet: arguments are accepted as they come.
    #[command(flatten)]
    pub pending: PendingArgs,
}

/// Runs `slipway-push`.
pub fn run(_ctx: &Context, _args: PushArgs) -> Result<(), Failure> {
    pending::not_implemented("slipway-push (slipway push)")
}
