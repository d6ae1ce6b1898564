//! `slipway verify`.

use clap::Args;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// Arguments of `slipway verify`.
#[derive(Debug, Clone, Default, Args)]
pub struct VerifyArgs {
    /// Not implemented yet: arguments are accepted as they come.
    #[command(flatten)]
    pub pending: PendingArgs,
}

/// Runs `slipway verify`.
pub fn run(_ctx: &Context, _args: VerifyArgs) -> Result<(), Failure> {
    pending::not_implemented("slipway verify")
}
