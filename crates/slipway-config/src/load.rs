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
    // Anything at a default name counts, readable or not: a `slipway.yaml` that is a dangling
    // symlink, a directory or unreadable must fail the command (it may hold the runner policy),
    // not be skipped as if there were no config.
    Ok(DEFAULT_FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.symlink_metadata().is_ok()))
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
    if let Some(r) = &config.runners
        && let Err((field, message)) = r.validate()
    {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            line: field_line(text, &field),
            column: 1,
            field: Some(field),
            message,
            snippet: None,
        });
    }
    Ok(config)
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// The 1-based line of a field such as `runners.allow[2].min_match` or
/// `runners.allow[0].components[3]` in block-style YAML, for messages; falls back to the line of
/// the section (or 0) when the layout is not the plain one.
fn field_line(text: &str, field: &str) -> u64 {
    let lines: Vec<&str> = text.lines().collect();
    let section = field.split(['.', '[']).next().unwrap_or(field);
    let Some(top) = lines
        .iter()
        .position(|l| l.starts_with(&format!("{section}:")))
    else {
        return 0;
    };
    let mut at = top;
    // Walk the path: `key` moves to that key below the current line, `[n]` to the n-th item of
    // the list that follows.
    let mut rest = &field[section.len()..];
    while !rest.is_empty() {
        let (seg, tail) = if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').map_or(r.len(), |e| e + 1);
            (&rest[..end + 1], &r[end.min(r.len())..])
        } else {
            break;
        };
        let base = indent(lines[at]);
        // A key's block may hold list items at its own indent (`allow:` then `- name:`); an
        // item's block ends at the next item.
        let key_line = !lines[at].trim_start().starts_with("- ");
        let below = lines.iter().enumerate().skip(at + 1).take_while(|(_, l)| {
            l.trim().is_empty()
                || indent(l) > base
                || key_line && indent(l) == base && l.trim_start().starts_with("- ")
        });
        let found = if let Some(n) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let n: usize = n.parse().unwrap_or(0);
            let items: Vec<(usize, &&str)> = below
                .filter(|(_, l)| l.trim_start().starts_with("- "))
                .collect();
            let item_indent = items.first().map(|(_, l)| indent(l));
            items
                .into_iter()
                .filter(|(_, l)| Some(indent(l)) == item_indent)
                .nth(n)
                .map(|(i, _)| i)
        } else {
            let key = format!("{seg}:");
            // The key may sit on the item's own line (`- name: x`).
            if lines[at]
                .trim_start()
                .trim_start_matches("- ")
                .starts_with(&key)
            {
                Some(at)
            } else {
                below
                    .filter(|(_, l)| l.trim_start().trim_start_matches("- ").starts_with(&key))
                    .map(|(i, _)| i)
                    .next()
            }
        };
        match found {
            Some(i) => at = i,
            None => break,
        }
        rest = tail;
    }
    at as u64 + 1
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

    const H1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const H2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn runners_present_but_empty_is_a_policy_that_allows_nothing() {
        for text in [
            "runners:\n",
            "runners: null\n",
            "runners: {}\n",
            "runners:\n  allow: []\n",
        ] {
            let c = parse(text, &p()).unwrap();
            assert_eq!(c.runners, Some(crate::RunnersConfig::default()), "{text:?}");
        }
        assert_eq!(parse("state: s.json\n", &p()).unwrap().runners, None);
    }

    #[test]
    fn min_match_outside_one_to_n_is_refused_naming_the_field_and_line() {
        let entry = |extra: &str| {
            format!(
                "version: 1\nrunners:\n  allow:\n    - name: ok\n      fingerprint: {H1}\n    - name: bad\n      components:\n        - {H1}\n        - {H2}\n{extra}"
            )
        };
        for (extra, needle) in [
            ("      min_match: 0\n", "outside 1..=2"),
            ("      min_match: 3\n", "outside 1..=2"),
            ("      min_match: 1\n", "at least 2 must match"),
        ] {
            let e = parse(&entry(extra), &p()).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with("conf/slipway.yaml:10:1: field `runners.allow[1].min_match`: "),
                "{msg}"
            );
            assert!(msg.contains(needle), "{msg}");
            assert_eq!(e.exit_class(), ExitClass::Usage);
        }
        assert!(parse(&entry("      min_match: 2\n"), &p()).is_ok());
        // One component: 1 of 1 is allowed (and all there is).
        let one = format!(
            "runners:\n  allow:\n    - name: one\n      components: [{H1}]\n      min_match: 1\n"
        );
        assert!(parse(&one, &p()).is_ok());
    }

    #[test]
    fn runner_entries_that_could_never_mean_anything_are_refused() {
        for (body, field, needle) in [
            ("    - name: x\n", "runners.allow[0]", "neither"),
            (
                "    - name: x\n      fingerprint: sha256:abc\n",
                "runners.allow[0].fingerprint",
                "not a fingerprint",
            ),
            (
                "    - name: x\n      fingerprint: sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n",
                "runners.allow[0].fingerprint",
                "no component could be read",
            ),
            (
                "    - name: x\n      components:\n        - nope\n",
                "runners.allow[0].components[0]",
                "not a component hash",
            ),
            (
                "    - name: x\n      fingerprint: FP\n      min_match: 1\n",
                "runners.allow[0].min_match",
                "without components",
            ),
            (
                "    - name: x\n      fingerprint: FP\n      steps: [sign, deploy]\n",
                "runners.allow[0].steps[1]",
                "`deploy`",
            ),
        ] {
            let text = format!("runners:\n  allow:\n{}", body.replace("FP", H1));
            let msg = parse(&text, &p()).unwrap_err().to_string();
            assert!(msg.contains(&format!("field `{field}`")), "{msg}");
            assert!(msg.contains(needle), "{msg}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_config_that_exists_but_cannot_be_read_is_an_error_not_no_config() {
        let dir = tempfile::tempdir().unwrap();
        // A dangling symlink at the default name.
        std::os::unix::fs::symlink(
            dir.path().join("gone.yaml"),
            dir.path().join("slipway.yaml"),
        )
        .unwrap();
        let found = find(None, dir.path())
            .unwrap()
            .expect("the symlink is found");
        assert!(matches!(load(Some(&found)), Err(ConfigError::Read { .. })));
        std::fs::remove_file(dir.path().join("slipway.yaml")).unwrap();
        // A directory at the default name.
        std::fs::create_dir(dir.path().join("slipway.yaml")).unwrap();
        let found = find(None, dir.path())
            .unwrap()
            .expect("the directory is found");
        assert!(matches!(load(Some(&found)), Err(ConfigError::Read { .. })));
    }
}
