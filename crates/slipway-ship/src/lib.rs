//! What to ship and whether it may ship: the rules of `slipway-push` and `slipway-promote`
//! that do not talk to a registry.
//!
//! - [`tags`]: tags from git context like docker/metadata-action (semver, branch, `pr-N`,
//!   short sha, environment, templates), sanitised to valid OCI tags with a note each time.
//! - [`gates`]: promotion preconditions read from the state (scan verdict, verified
//!   signature, pushed to the source, runner allowed) and the [`gates::RunnerPolicy`] hook.
//! - [`rollback`]: which digest each promoted tag goes back to.
#![deny(missing_docs)]

pub mod gates;
pub mod rollback;
pub mod tags;
