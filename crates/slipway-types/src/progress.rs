//! Progress reporting from libraries to whoever draws it.
//!
//! Libraries never draw: they call a [`Progress`] they were given. The CLI implements it with
//! progress bars on a terminal and plain lines elsewhere; tests and quiet runs use
//! [`NoProgress`].

/// Receives progress events. Tasks are identified by a label unique among running tasks
/// (e.g. `linux/arm64` or a blob digest).
pub trait Progress: Send + Sync {
    /// A task starts; `total` is its size in bytes (or units) when known.
    fn begin(&self, task: &str, total: Option<u64>);
    /// `delta` more units of `task` are done.
    fn advance(&self, task: &str, delta: u64);
    /// `task` finished; `message` says how (one line).
    fn end(&self, task: &str, message: &str);
}

/// Ignores all progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: &str, _: u64) {}
    fn end(&self, _: &str, _: &str) {}
}
