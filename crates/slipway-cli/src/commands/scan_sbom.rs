//! `slipway-scan-sbom`.

use clap::Args;

use crate::Context;
use crate::args::PendingArgs;
use crate::commands::pending;
use crate::error::Failure;

/// Arguments of `slipway-scan-sbom`.
#[derive(Debug, Clone, Default, Args)]
pub struct ScanSbomArgs {
    /// Not implemented yet: arguments are accepted as they come.
    #[command(flatten)]
    pub pending: PendingArgs,
}

/// Runs `slipway-scan-sbom`.
pub fn run(_ctx: &Context, _args: ScanSbomArgs) -> Result<(), Failure> {
    pending::not_implemented("slipway-scan-sbom (slipway scan-sbom)")
}
