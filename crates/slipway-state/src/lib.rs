//! The state file: the protocol between Slipway's steps.
//!
//! - [`model`]: the typed model ([`State`]) and its JSON Schema.
//! - [`format`]: parsing with format-version checks and precise error locations.
//! - [`merge`]: fan-in of matrix jobs.
//! - [`query`]: `KEY.PATH` lookups for `slipway state get`.
//! - [`store`]: atomic, locked reads and writes ([`StateFile`]).
#![deny(missing_docs)]

pub mod format;
pub mod merge;
pub mod model;
pub mod query;
pub mod store;

pub use format::{FORMAT, ParseError, parse};
pub use merge::{MergeError, merge};
pub use model::*;
pub use store::{StateError, StateFile};

/// The JSON Schema of the state file, as checked in at `schemas/state.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(State);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}

/// `slipway <version>`, recorded in `written_by`.
pub fn writer_id() -> String {
    format!("slipway {}", env!("CARGO_PKG_VERSION"))
}
