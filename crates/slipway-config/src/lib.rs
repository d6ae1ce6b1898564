//! `slipway.yaml`: model, loading and option resolution.
//!
//! The file is optional. When present it is parsed strictly — unknown keys are errors, so a
//! typo never silently does nothing — and every error names the file, line, column and the
//! field path (`images[0].platforms[1]`), with the offending line shown.
//!
//! Options resolve as *flag > environment > config > default*: clap reads the flag and its
//! environment variable (names from [`slipway_env`]), [`resolve`] falls back to the config
//! value and then the default.
#![deny(missing_docs)]

mod load;
mod model;
pub mod reference;

pub use load::{ConfigError, DEFAULT_FILE_NAMES, LoadedConfig, find, load};
pub use model::*;

/// Where a resolved option's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag or its environment variable.
    CommandLine,
    /// The config file.
    Config,
    /// The built-in default.
    Default,
}

/// Applies *command line (flag or env) > config > default*.
pub fn resolve<T>(
    command_line: Option<T>,
    config: Option<T>,
    default: impl FnOnce() -> T,
) -> (T, Source) {
    match (command_line, config) {
        (Some(v), _) => (v, Source::CommandLine),
        (None, Some(v)) => (v, Source::Config),
        (None, None) => (default(), Source::Default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        assert_eq!(resolve(Some(1), Some(2), || 3), (1, Source::CommandLine));
        assert_eq!(resolve(None, Some(2), || 3), (2, Source::Config));
        assert_eq!(resolve(None::<i32>, None, || 3), (3, Source::Default));
    }
}
