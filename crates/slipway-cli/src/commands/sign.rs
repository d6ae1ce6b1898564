//! `slipway-sign`.

use clap::Args;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// Arguments of `slipway-sign`.
#[derive(Debug, Clone, Default, Args)]
pub struct SignArgs {
    /// Not implemented yet: arguments are accepted as they come.
    #[command(flatten)]
    pub pending: PendingArgs,
}

/// Runs `slipway-sign`.
pub fn run(_ctx: &Context, _args: SignArgs) -> Result<(), Failure> {
    pending::not_implemented("slipway-sign (slipway sign)")
}
