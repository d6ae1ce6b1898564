//! CI integration: detection, run metadata, outputs, summaries, annotations and masking.
#![deny(missing_docs)]

mod env;
mod github;
mod gitlab;
mod redact;
mod run;

use std::io;
use std::path::{Path, PathBuf};

pub use env::Env;
pub use github::{Annotation, Level, escape_data, escape_property};
pub use redact::Redactor;
pub use run::{detect, run_info};
pub use slipway_state::CiKind;

/// Where a step's outputs and summary go, for the CI system at hand.
#[derive(Debug, Clone)]
pub struct Ci {
    kind: CiKind,
    github_output: Option<PathBuf>,
    github_summary: Option<PathBuf>,
    dotenv: Option<PathBuf>,
    summary_file: Option<PathBuf>,
    redactor: Redactor,
    /// Lines already sent as `::add-mask::` (the registry client reports its password for every
    /// host and request that uses it; once is enough for the runner).
    announced: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

/// Why a CI output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CiError {
    /// Writing a CI file failed.
    #[error("cannot write {what} `{}`", path.display())]
    Write {
        /// Which file (e.g. "GitHub output file").
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// An output name CI systems cannot carry.
    #[error(
        "output name `{0}` is invalid: use letters, digits, `_` and `-`, starting with a letter or `_`"
    )]
    BadName(String),
}

impl Ci {
    /// Sets up CI outputs from the environment. `dotenv` overrides the GitLab dotenv path (default
    /// `.slipway/slipway.env` next to `state_dir`); `state_dir` also holds `summary.md` outside
    /// GitHub.
    pub fn from_env(
        env: &Env,
        dotenv: Option<PathBuf>,
        state_dir: &Path,
        redactor: Redactor,
    ) -> Ci {
        let kind = detect(env);
        let path_var = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let (github_output, github_summary) = match kind {
            CiKind::Github => (
                path_var(slipway_env::GITHUB_OUTPUT),
                path_var(slipway_env::GITHUB_STEP_SUMMARY),
            ),
            _ => (None, None),
        };
        let dotenv = match kind {
            CiKind::Gitlab => Some(dotenv.unwrap_or_else(|| state_dir.join("slipway.env"))),
            _ => dotenv,
        };
        let summary_file = (kind != CiKind::Github).then(|| state_dir.join("summary.md"));
        register_env_secrets(env, &redactor);
        Ci {
            kind,
            github_output,
            github_summary,
            dotenv,
            summary_file,
            redactor,
            announced: Default::default(),
        }
    }

    /// The CI system.
    pub fn kind(&self) -> CiKind {
        self.kind
    }

    /// The redactor shared with the printer.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Publishes a step output: `$GITHUB_OUTPUT` on GitHub, the dotenv file (as
    /// `SLIPWAY_<NAME>`) on GitLab or when a dotenv path was configured. Returns a warning when
    /// the value cannot be carried (a multiline value in dotenv).
    pub fn set_output(&self, name: &str, value: &str) -> Result<Option<String>, CiError> {
        if !valid_output_name(name) {
            return Err(CiError::BadName(name.to_owned()));
        }
        if let Some(path) = &self.github_output {
            github::append_output(path, name, value).map_err(|source| CiError::Write {
                what: "GitHub output file ($GITHUB_OUTPUT)",
                path: path.clone(),
                source,
            })?;
        }
        if let Some(path) = &self.dotenv {
            return gitlab::set_dotenv(path, name, value).map_err(|source| CiError::Write {
                what: "dotenv file",
                path: path.clone(),
                source,
            });
        }
        Ok(None)
    }

    /// Appends markdown to the job summary (`$GITHUB_STEP_SUMMARY` on GitHub, `summary.md` in the
    /// state directory elsewhere, for artifacts).
    pub fn append_summary(&self, markdown: &str) -> Result<(), CiError> {
        let (what, path) = match (&self.github_summary, &self.summary_file) {
            (Some(p), _) => ("GitHub step summary ($GITHUB_STEP_SUMMARY)", p),
            (None, Some(p)) => ("summary file", p),
            (None, None) => return Ok(()),
        };
        let mut text = self.redactor.redact(markdown).into_owned();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        append(path, text.as_bytes()).map_err(|source| CiError::Write {
            what,
            path: path.clone(),
            source,
        })
    }

    /// The line to print on stderr for an annotation: a workflow command on GitHub, a plain
    /// `level: message` line elsewhere.
    pub fn annotation_line(&self, a: &Annotation) -> String {
        let a = Annotation {
            message: self.redactor.redact(&a.message).into_owned(),
            title: a
                .title
                .as_deref()
                .map(|t| self.redactor.redact(t).into_owned()),
            ..a.clone()
        };
        match self.kind {
            CiKind::Github => a.to_workflow_command(),
            _ => a.to_plain(),
        }
    }

    /// Registers a secret learnt at run time (a token, a password): Slipway's own output shows
    /// `***` for it from now on. On GitHub the returned line (`::add-mask::…`) must be printed
    /// once on stderr: the runner consumes it, never shows it, and masks the value in every later
    /// log line of the job, including other programs' output.
    pub fn mask(&self, secret: &str) -> Option<String> {
        if secret.trim().is_empty() {
            return None;
        }
        self.redactor.register(secret);
        if self.kind != CiKind::Github {
            return None;
        }
        let mut announced = self
            .announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A multiline secret is masked line by line, as the runner masks per line.
        let lines: Vec<String> = secret
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter(|l| announced.insert((*l).to_owned()))
            .map(|l| format!("::add-mask::{}", escape_data(l)))
            .collect();
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

/// Registers the values of secret variables from [`slipway_env::ALL`] (e.g. `SLIPWAY_PASSWORD`)
/// with `redactor`, so they are never printed.
pub fn register_env_secrets(env: &Env, redactor: &Redactor) {
    for var in slipway_env::ALL.iter().filter(|v| v.secret) {
        if let Some(value) = env.get(var.name) {
            redactor.register(value);
        }
    }
}

fn valid_output_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn github_outputs_summary_and_masks() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sum = dir.path().join("sum");
        let e = env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", sum.to_str().unwrap()),
        ]);
        let ci = Ci::from_env(&e, None, dir.path(), Redactor::default());
        assert_eq!(ci.kind(), CiKind::Github);
        ci.set_output("digest", "sha256:abc").unwrap();
        ci.set_output("tags", "1.2.3\nlatest").unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let parsed = github::parse_output_file(&text);
        assert_eq!(
            parsed,
            vec![
                ("digest".into(), "sha256:abc".into()),
                ("tags".into(), "1.2.3\nlatest".into())
            ]
        );
        ci.append_summary("## Build\n| a | b |").unwrap();
        assert_eq!(
            std::fs::read_to_string(&sum).unwrap(),
            "## Build\n| a | b |\n"
        );
        assert_eq!(ci.mask("tok-123").as_deref(), Some("::add-mask::tok-123"));
        assert_eq!(
            ci.clone().mask("tok-123"),
            None,
            "announced once per process"
        );
        assert_eq!(ci.redactor().redact("Bearer tok-123"), "Bearer ***");
        assert!(ci.set_output("bad name", "x").is_err());
        // Nothing goes to the GitLab dotenv on GitHub.
        assert!(!dir.path().join("slipway.env").exists());
    }

    #[test]
    fn gitlab_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[("GITLAB_CI", "true"), ("CI", "true")]);
        let ci = Ci::from_env(&e, None, dir.path(), Redactor::default());
        assert_eq!(ci.kind(), CiKind::Gitlab);
        ci.set_output("digest", "sha256:1").unwrap();
        ci.set_output("image", "r/x@sha256:1").unwrap();
        ci.set_output("digest", "sha256:2").unwrap();
        let warn = ci.set_output("tags", "a\nb").unwrap();
        assert!(warn.unwrap().contains("multiline"));
        let text = std::fs::read_to_string(dir.path().join("slipway.env")).unwrap();
        assert_eq!(
            text,
            "SLIPWAY_DIGEST=sha256:2\nSLIPWAY_IMAGE=r/x@sha256:1\n"
        );
        // GitLab has no mask command: masking only redacts our own output.
        assert_eq!(ci.mask("s3cret"), None);
        assert_eq!(ci.redactor().redact("pw s3cret"), "pw ***");
        ci.append_summary("# hi").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("summary.md")).unwrap(),
            "# hi\n"
        );
    }

    #[test]
    fn env_secrets_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[
            ("SLIPWAY_PASSWORD", "hunter22"),
            ("COSIGN_PASSWORD", "cos1gn"),
        ]);
        let ci = Ci::from_env(&e, None, dir.path(), Redactor::default());
        assert_eq!(ci.kind(), CiKind::Local);
        assert_eq!(ci.redactor().redact("a hunter22 b cos1gn"), "a *** b ***");
    }
}
