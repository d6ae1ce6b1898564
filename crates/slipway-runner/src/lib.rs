//! Runner binding: a hardware fingerprint, and the allowlist check.
//!
//! - [`fingerprint`]: reads the components of a machine from a root directory (`/` or a
//!   captured tree) and hashes each one; raw values (serials, UUIDs, MACs) never leave the
//!   function that reads them.
//! - [`policy`]: allowlist entries (whole fingerprint, or k of n component hashes, environments,
//!   steps) and the check, which fails closed.
//! - [`bootstrap`]: registration through GitHub's REST API (registration token or JIT config)
//!   and the files that install the actions runner.
#![deny(missing_docs)]

pub mod bootstrap;
pub mod fingerprint;
pub mod policy;

pub use fingerprint::{Component, Fingerprint, collect};
pub use policy::{Decision, Entry, check};
