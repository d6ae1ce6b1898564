//! Resolving raw arguments into settings: flag > environment > config > default.
//!
//! clap has already applied flag > environment (the variables named in `slipway-env`); this
//! module adds the config file and the defaults, once, before any work starts.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use slipway_ci::Env;
use slipway_config::{ColorChoice, LoadedConfig, OutputFormat, resolve};

use crate::args::{ColorArg, GlobalArgs, OutputFormatArg};
use crate::error::Failure;

/// Where the state file lives unless told otherwise.
pub const DEFAULT_STATE: &str = ".slipway/state.json";

/// Where the shared OCI layout lives unless told otherwise.
pub const DEFAULT_LAYOUT: &str = ".slipway/oci";

/// Global settings after resolution.
#[derive(Debug, Clone)]
pub struct GlobalSettings {
    /// The state file.
    pub state: PathBuf,
    /// The shared OCI layout.
    pub layout: PathBuf,
    /// The config (default when there is no file).
    pub config: LoadedConfig,
    /// Format of stdout data.
    pub output_format: OutputFormat,
    /// `-q`.
    pub quiet: bool,
    /// `-v` count.
    pub verbose: u8,
    /// Whether to draw progress bars (only ever on a terminal).
    pub progress: bool,
    /// Colour choice for stderr.
    pub color: ColorChoice,
    /// Explicit GitLab dotenv path from the config.
    pub dotenv: Option<PathBuf>,
}

impl GlobalSettings {
    /// Resolves `args` with the config file (found relative to `cwd`).
    pub fn resolve(args: &GlobalArgs, env: &Env, cwd: &Path) -> Result<GlobalSettings, Failure> {
        let explicit = args.config.as_deref().map(|p| absolutize(cwd, p));
        let path = slipway_config::find(explicit.as_deref(), cwd)?;
        let config = slipway_config::load(path.as_deref())?;
        let c = &config.config;
        let (state, _) = resolve(
            args.state.as_deref().map(|p| absolutize(cwd, p)),
            c.state.as_deref().map(|p| config.relative(p)),
            || cwd.join(DEFAULT_STATE),
        );
        let (layout, _) = resolve(
            args.layout.as_deref().map(|p| absolutize(cwd, p)),
            c.layout.as_deref().map(|p| config.relative(p)),
            || cwd.join(DEFAULT_LAYOUT),
        );
        let (output_format, _) = resolve(
            args.output_format.map(|f| match f {
                OutputFormatArg::Human => OutputFormat::Human,
                OutputFormatArg::Json => OutputFormat::Json,
            }),
            c.output_format,
            || OutputFormat::Human,
        );
        let (color, _) = resolve(
            args.color.map(|c| match c {
                ColorArg::Auto => ColorChoice::Auto,
                ColorArg::Always => ColorChoice::Always,
                ColorArg::Never => ColorChoice::Never,
            }),
            c.color,
            || ColorChoice::Auto,
        );
        let (wants_progress, _) = resolve(args.no_progress.then_some(false), c.progress, || true);
        let in_ci =
            env.is_true(slipway_env::CI) || slipway_ci::detect(env) != slipway_ci::CiKind::Local;
        let dotenv =
            c.ci.as_ref()
                .and_then(|ci| ci.dotenv.as_deref())
                .map(|p| config.relative(p));
        Ok(GlobalSettings {
            state,
            layout,
            output_format,
            quiet: args.quiet,
            verbose: args.verbose,
            progress: wants_progress && !in_ci && std::io::stderr().is_terminal(),
            color,
            dotenv,
            config,
        })
    }

    /// The colour choice for `anstream` (`auto` honours NO_COLOR and CLICOLOR_FORCE).
    pub fn anstream_color(&self) -> anstream::ColorChoice {
        match self.color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        }
    }

    /// The directory of the state file (where summaries and dotenv files go by default).
    pub fn state_dir(&self) -> PathBuf {
        self.state
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// `path` for messages and the state file: relative to `cwd` when inside it, so state files
    /// from different machines (matrix jobs) stay comparable.
    pub fn display_path(&self, cwd: &Path, path: &Path) -> String {
        path.strip_prefix(cwd)
            .map_or_else(|_| path.display().to_string(), |p| p.display().to_string())
    }

    /// The content-addressed cache: `SLIPWAY_CACHE`, else `$XDG_CACHE_HOME/slipway`, else
    /// `~/.cache/slipway`, else next to the state file.
    pub fn cache_dir(&self, env: &Env) -> PathBuf {
        if let Some(c) = env.non_empty(slipway_env::SLIPWAY_CACHE) {
            return PathBuf::from(c);
        }
        if let Some(x) = env.non_empty(slipway_env::XDG_CACHE_HOME) {
            return PathBuf::from(x).join("slipway");
        }
        if let Some(h) = env.non_empty(slipway_env::HOME) {
            return PathBuf::from(h).join(".cache/slipway");
        }
        self.state_dir().join("cache")
    }

    /// Whether stdout gets JSON.
    pub fn json(&self) -> bool {
        self.output_format == OutputFormat::Json
    }
}

fn absolutize(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_flag_env_config_default() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::default();
        // Default.
        let s = GlobalSettings::resolve(&GlobalArgs::default(), &env, dir.path()).unwrap();
        assert_eq!(s.state, dir.path().join(DEFAULT_STATE));
        assert_eq!(s.output_format, OutputFormat::Human);
        // Config (relative to the config file).
        std::fs::create_dir(dir.path().join("cfg")).unwrap();
        std::fs::write(
            dir.path().join("cfg/slipway.yaml"),
            "state: st/state.json\noutput_format: json\ncolor: never\n",
        )
        .unwrap();
        let args = GlobalArgs {
            config: Some("cfg/slipway.yaml".into()),
            ..GlobalArgs::default()
        };
        let s = GlobalSettings::resolve(&args, &env, dir.path()).unwrap();
        assert_eq!(s.state, dir.path().join("cfg/st/state.json"));
        assert_eq!(s.output_format, OutputFormat::Json);
        assert_eq!(s.color, ColorChoice::Never);
        // Flag (or its env var, which clap folds into the same field) beats config.
        let args = GlobalArgs {
            config: Some("cfg/slipway.yaml".into()),
            state: Some("flag.json".into()),
            output_format: Some(OutputFormatArg::Human),
            ..GlobalArgs::default()
        };
        let s = GlobalSettings::resolve(&args, &env, dir.path()).unwrap();
        assert_eq!(s.state, dir.path().join("flag.json"));
        assert_eq!(s.output_format, OutputFormat::Human);
    }

    #[test]
    fn missing_explicit_config_is_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let args = GlobalArgs {
            config: Some("nope.yaml".into()),
            ..GlobalArgs::default()
        };
        let e = GlobalSettings::resolve(&args, &Env::default(), dir.path()).unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(e.chain()[0].contains("nope.yaml"));
    }
}
