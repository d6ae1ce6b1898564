//! `slipway-promote`.

use clap::Args;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// Arguments of `slipway-promote`.
#[derive(Debug, Clone, Default, Args)]
pub struct PromoteArgs {
    /// Not implemented yet: arguments are accepted as they come.
    #[command(flatten)]
    pub pending: PendingArgs,
}

/// Runs `slipway-promote`.
pub fn run(_ctx: &Context, _args: PromoteArgs) -> Result<(), Failure> {
    pending::not_implemented("slipway-promote (slipway promote)")
}
