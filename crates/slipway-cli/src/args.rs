//! Command-line types (clap derive). Raw values only; [`crate::settings`] resolves them with the
//! environment and the config file.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use slipway_env as ev;

use crate::commands;

/// Printed at the end of every `--help` page (see [`with_exit_codes`]).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  a gate or policy said no (scan failed, signature unverified, runner not allowed)
  2  bad input or usage (the message names the file, flag or field)
  3  an external system (registry, tool, network) failed after retries

stdout carries data only (digests, values, JSON with --output-format json); logs, progress and
errors go to stderr.";

/// Appends [`EXIT_CODES_HELP`] to the help of `cmd` and of every subcommand below it, after
/// any help text of their own (`-h` and `--help` alike), so no page loses the exit codes.
pub fn with_exit_codes(cmd: clap::Command) -> clap::Command {
    let append = |text: Option<&clap::builder::StyledStr>| match text {
        Some(t) if t.to_string().contains("Exit codes:") => None,
        Some(t) => Some(format!("{}\n\n{EXIT_CODES_HELP}", t.to_string().trim_end())),
        None => Some(EXIT_CODES_HELP.to_owned()),
    };
    let short = append(cmd.get_after_help());
    let long = cmd.get_after_long_help().map(|t| append(Some(t)));
    let mut cmd = cmd;
    if let Some(s) = short {
        cmd = cmd.after_help(s);
    }
    if let Some(Some(l)) = long {
        cmd = cmd.after_long_help(l);
    }
    cmd.mut_subcommands(with_exit_codes)
}

/// The `slipway` command with exit codes on every help page.
pub fn cli_command() -> clap::Command {
    with_exit_codes(<Cli as clap::CommandFactory>::command())
}

/// Slipway: build, scan, sign, push and promote container images from CI, without a daemon.
#[derive(Debug, Parser)]
#[command(
    name = "slipway",
    version,
    about = "Build, scan, sign, push and promote container images from CI, without a Docker daemon",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command and step binary.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// State file shared by the steps [default: .slipway/state.json]
    #[arg(long, global = true, value_name = "PATH", env = ev::SLIPWAY_STATE, hide_env_values = true)]
    pub state: Option<PathBuf>,

    /// OCI image layout the steps share [default: .slipway/oci]
    #[arg(long, global = true, value_name = "DIR", env = ev::SLIPWAY_LAYOUT, hide_env_values = true)]
    pub layout: Option<PathBuf>,

    /// Configuration file [default: ./slipway.yaml when it exists]
    #[arg(long, global = true, value_name = "PATH", env = ev::SLIPWAY_CONFIG, hide_env_values = true)]
    pub config: Option<PathBuf>,

    /// Format of the data printed on stdout [default: human]
    #[arg(long, global = true, value_enum, env = ev::SLIPWAY_OUTPUT_FORMAT, hide_env_values = true)]
    pub output_format: Option<OutputFormatArg>,

    /// Print only errors and data
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// More detail on stderr (-vv for debug logs)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never draw progress bars (they are drawn only on a terminal anyway)
    #[arg(long, global = true, env = ev::SLIPWAY_NO_PROGRESS, hide_env_values = true, value_parser = BoolishValueParser::new())]
    pub no_progress: bool,

    /// Colour on stderr; NO_COLOR disables it in `auto` [default: auto]
    #[arg(long, global = true, value_enum, env = ev::SLIPWAY_COLOR, hide_env_values = true)]
    pub color: Option<ColorArg>,
}

/// `--output-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormatArg {
    /// Text for people.
    Human,
    /// JSON for programs.
    Json,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// When stderr is a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The commands of `slipway`.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process; boxing buys nothing
pub enum Command {
    /// Build images from Go, Rust or prebuilt binaries into an OCI layout (slipway-build)
    Build(commands::build::BuildArgs),
    /// Write SBOMs and gate on vulnerability scan results (slipway-scan-sbom)
    ScanSbom(commands::scan_sbom::ScanSbomArgs),
    /// Sign images and attach attestations, cosign-compatible (slipway-sign)
    Sign(commands::sign::SignArgs),
    /// Push images, signatures and attestations to a registry (slipway-push)
    Push(commands::push::PushArgs),
    /// Promote a gated, verified digest to production tags; roll back (slipway-promote)
    Promote(commands::promote::PromoteArgs),
    /// Verify signatures and attestations of an image
    Verify(commands::verify::VerifyArgs),
    /// Read, check, merge and export the state file
    #[command(subcommand)]
    State(StateCommand),
    /// Runner fingerprint, allowlist check and bootstrap
    #[command(subcommand)]
    Runner(commands::runner::RunnerCommand),
}

/// `slipway state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print a summary of the state file (JSON: the whole file)
    Show(ShowArgs),
    /// Print one value, raw, for shell use: `slipway state get images.hello.index.digest`
    Get(GetArgs),
    /// Check that a file is a valid state file this slipway can read
    Validate(ValidateArgs),
    /// Merge the state files of parallel (matrix) jobs into one
    Merge(MergeArgs),
    /// Publish state values as CI outputs: `slipway state output digest=images.hello.index.digest`
    Output(OutputArgs),
}

/// `slipway state show`
#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    /// Also append the summary (markdown) to the CI job summary
    #[arg(long)]
    pub summary: bool,
}

/// `slipway state get`
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Paths: keys separated by `.`; quote keys that contain dots, index arrays with [N]:
  slipway state get images.hello.index.digest
  slipway state get 'images.hello.platforms.linux/amd64.manifest.digest'
  slipway state get 'images.\"ghcr.io/acme/app\".layout'
  slipway state get 'steps[0].outcome'
Strings print raw (no quotes), other values as JSON.")]
pub struct GetArgs {
    /// Path of the value, e.g. images.hello.index.digest
    #[arg(value_name = "KEY.PATH")]
    pub path: String,
}

/// `slipway state validate`
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// File to check [default: the state file]
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// `slipway state merge`
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// State files to merge (e.g. downloaded from each matrix job)
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where to write the result [default: the state file]
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Also bring the images together: copy each platform's manifest and blobs from the layout
    /// next to each input state into the shared layout (--layout, default .slipway/oci), and
    /// assemble the multi-platform index there as slipway-build does (platforms in the order of
    /// the inputs)
    #[arg(long)]
    pub assemble: bool,
}

/// `slipway state output`
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// NAME=KEY.PATH pairs; objects and arrays are published as one-line JSON
    #[arg(value_name = "NAME=KEY.PATH", required = true)]
    pub pairs: Vec<String>,
}

/// A step binary (`slipway-build`, ...): global options plus the step's own.
#[derive(Debug, Parser)]
#[command(version, max_term_width = 100)]
pub struct StepCli<A: Args> {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The step's own arguments.
    #[command(flatten)]
    pub args: A,
}
