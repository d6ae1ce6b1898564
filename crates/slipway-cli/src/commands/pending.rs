//! Commands that exist in the interface but not yet in this version.

use crate::error::Failure;

/// Says plainly that `what` is not implemented, and exits 2. It never pretends to work.
pub fn not_implemented(what: &str) -> Result<(), Failure> {
    Err(Failure::usage(format!(
        "{what} is not implemented in slipway {} yet",
        env!("CARGO_PKG_VERSION")
    ))
    .with_hint("nothing was done and the state file was not touched"))
}
