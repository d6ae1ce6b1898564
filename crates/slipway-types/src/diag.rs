//! Error classes and the exit codes they map to.

use std::fmt;

/// What kind of failure an error is; decides the process exit code.
///
/// | code | class |
/// |------|-------|
/// | 0 | success |
/// | 1 | [`ExitClass::Denied`]: a gate or policy said no |
/// | 2 | [`ExitClass::Usage`]: bad input or usage |
/// | 3 | [`ExitClass::External`]: an external system failed after retries |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitClass {
    /// A gate or policy said no (scan failed, signature unverified, runner not allowed).
    Denied,
    /// Bad input or usage: the message names the file, flag or field.
    Usage,
    /// An external system (registry, tool, network) failed after retries.
    External,
}

impl ExitClass {
    /// The process exit code for this class.
    pub const fn code(self) -> u8 {
        match self {
            ExitClass::Denied => 1,
            ExitClass::Usage => 2,
            ExitClass::External => 3,
        }
    }

    /// A short label used in JSON error output.
    pub const fn label(self) -> &'static str {
        match self {
            ExitClass::Denied => "denied",
            ExitClass::Usage => "usage",
            ExitClass::External => "external",
        }
    }
}

impl fmt::Display for ExitClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An error that knows its class and, optionally, what the user can do about it.
///
/// Library errors implement this; the CLI renders the error's `source()` chain, then the hint,
/// then exits with [`ExitClass::code`].
pub trait Diagnostic: std::error::Error + Send + Sync + 'static {
    /// The class, which decides the exit code.
    fn exit_class(&self) -> ExitClass;

    /// A one-line suggestion printed after the error as `hint: ...`.
    fn hint(&self) -> Option<String> {
        None
    }
}
