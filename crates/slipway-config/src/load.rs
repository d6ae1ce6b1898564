//! Finding and loading `slipway.yaml`.

use std::path::{Path, PathBuf};

use slipway_types::{Diagnostic, ExitClass};

use crate::{CONFIG_VERSION, Config};

/// Names looked for in the working directory when no `--config` is given.
pub const DEFAULT_FILE_NAMES: &[&str] = &["slipway.yaml", "slipway.yml"];

/// A loaded config and where it came from.
#[derive(Debug, Clone, Default)]
pub struct LoadedConfig {
    /// The file, when there was one.
    pub path: Option<PathBuf>,
    /// Its content (the default when there was no file).
    pub config: Config,
}

impl LoadedConfig {
    /// Resolves a path written in the config relative to the config file's directory.
    pub fn relative(&self, p: &Path) -> PathBuf {
        match self.path.as_deref().and_then(Path::parent) {
            Some(dir) if p.is_relative() && !dir.as_os_str().is_empty() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }
}

/// Why the config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` / `SLIPWAY_CONFIG` does not exist.
    #[error("config file `{}` does not exist", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// It could not be read.
    #[error("cannot read config file `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// It is not a valid config.
    #[error("{}:{line}:{column}: {}{message}", path.display(), field.as_ref().map(|f| format!("field `{f}`: ")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// Field path, e.g. `images[0].platforms[1]`, when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
        /// The offending lines, rendered for a terminal.
        snippet: Option<String>,
    },
}

impl Diagnostic for ConfigError {
    fn exit_class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Missing { .. } => Some(
                "pass an existing file to --config (or SLIPWAY_CONFIG), or drop the option".into(),
            ),
            ConfigError::Invalid {
                snippet: Some(s), ..
            } => Some(format!("fix the file at the marked place:\n{s}")),
            _ => None,
        }
    }
}

/// The config file to use: `explicit` (must exist) or the first of [`DEFAULT_FILE_NAMES`] in
/// `dir` (optional).
pub fn find(explicit: Option<&Path>, dir: &Path) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(p) = explicit {
        return if p.exists() {
            Ok(Some(p.to_path_buf()))
        } else {
            Err(ConfigError::Missing {
                path: p.to_path_buf(),
            })
        };
    }
    Ok(DEFAULT_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file()))
}

/// Loads the config from `path`, or the default config when `path` is `None`.
pub fn load(path: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
    let Some(path) = path else {
        return Ok(LoadedConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let config = parse(&text, path)?;
    Ok(LoadedConfig {
        path: Some(path.to_path_buf()),
        config,
    })
}

/// Parses config text; `path` is used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut field: Option<String> = None;
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, Option<Config>>(de).map_err(|e| {
            let p = e.path().to_string();
            if p != "." && !p.is_empty() {
                field = Some(p);
            }
            e.into_inner()
        })
    });
    let config = match result {
        // An empty file is an empty config.
        Ok(c) => c.unwrap_or_default(),
        Err(e) => {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let rendered = e.to_string();
            let (first, rest) = rendered.split_once('\n').unwrap_or((rendered.as_str(), ""));
            let message = strip_location_prefix(first);
            let snippet = (!rest.trim().is_empty())
                .then(|| rest.replace("<input>", &path.display().to_string()));
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                field,
                message,
                snippet,
            });
        }
    };
    if let Some(v) = config.version
        && v > CONFIG_VERSION
    {
        let line = find_key_line(text, "version");
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column: 1,
            field: Some("version".into()),
            message: format!(
                "config version {v} is newer than this slipway {} understands (up to {CONFIG_VERSION})",
                env!("CARGO_PKG_VERSION")
            ),
            snippet: None,
        });
    }
    Ok(config)
}

fn strip_location_prefix(msg: &str) -> String {
    let msg = msg.strip_prefix("error: ").unwrap_or(msg);
    // "line 4 column 30: message"
    if let Some(rest) = msg.strip_prefix("line ")
        && let Some((_, m)) = rest.split_once(": ")
    {
        return m.to_owned();
    }
    msg.to_owned()
}

fn find_key_line(text: &str, key: &str) -> u64 {
    text.lines()
        .position(|l| l.trim_start().starts_with(&format!("{key}:")) && !l.starts_with(' '))
        .map_or(0, |i| i as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ColorChoice, OutputFormat};

    fn p() -> PathBuf {
        PathBuf::from("conf/slipway.yaml")
    }

    #[test]
    fn parses_a_full_file() {
        let c = parse("version: 1\nstate: out/state.json\noutput_format: json\ncolor: never\nprogress: false\nci:\n  dotenv: build.env\n", &p()).unwrap();
        assert_eq!(c.output_format, Some(OutputFormat::Json));
        assert_eq!(c.color, Some(ColorChoice::Never));
        assert_eq!(c.progress, Some(false));
        assert_eq!(c.ci.unwrap().dotenv.unwrap(), PathBuf::from("build.env"));
    }

    #[test]
    fn empty_file_is_default() {
        assert_eq!(parse("", &p()).unwrap(), Config::default());
        assert_eq!(
            parse("# only a comment\n", &p()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_key_names_line_and_field() {
        let e = parse("version: 1\nci:\n  dotenf: x\n", &p()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("conf/slipway.yaml:3:3: "), "{msg}");
        assert!(msg.contains("unknown field `dotenf`"), "{msg}");
        assert!(msg.contains("field `ci"), "{msg}");
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("conf/slipway.yaml:3:3") && hint.contains("dotenf: x"),
            "{hint}"
        );
    }

    #[test]
    fn bad_value_names_line_and_field() {
        let e = parse("version: 1\ncolor: sometimes\n", &p()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("conf/slipway.yaml:2:8: field `color`: "),
            "{msg}"
        );
        let e = parse("progress: [1]\n", &p()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("conf/slipway.yaml:1:11: field `progress`"),
            "{e}"
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse("ci: {\n", &p()).unwrap_err();
        match e {
            ConfigError::Invalid { line, .. } => assert!(line >= 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn newer_version_is_refused() {
        let e = parse("# c\nversion: 9\n", &p()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("conf/slipway.yaml:2:1: field `version`: config version 9 is newer"),
            "{msg}"
        );
    }

    #[test]
    fn find_and_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find(None, dir.path()).unwrap().is_none());
        std::fs::write(dir.path().join("slipway.yml"), "state: s/state.json\n").unwrap();
        let found = find(None, dir.path()).unwrap().unwrap();
        assert_eq!(found, dir.path().join("slipway.yml"));
        let loaded = load(Some(&found)).unwrap();
        assert_eq!(
            loaded.relative(loaded.config.state.as_deref().unwrap()),
            dir.path().join("s/state.json")
        );
        let missing = dir.path().join("nope.yaml");
        assert!(matches!(
            find(Some(&missing), dir.path()),
            Err(ConfigError::Missing { .. })
        ));
    }
}
