//! Slipway's command line.
//!
//! Binaries are thin: `slipway` calls [`main`], each `slipway-<step>` calls [`main_step`].
//! Parsing (clap derive, [`args`]) → resolution with env and config ([`settings`]) → a
//! [`Context`] → the command. Failures are rendered in one place ([`Printer::failure`]) with
//! their cause chain and a hint, and map to exit codes: 0 ok, 1 denied, 2 usage, 3 external.

pub mod args;
pub mod commands;
pub mod context;
pub mod error;
pub mod printer;
pub mod progress;

pub mod reference;
pub mod render;
pub mod settings;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use slipway_ci::{Ci, Env, Redactor};

/// mimalloc for every binary: the scan gate builds and frees tens of thousands of small
/// findings per report, where glibc's allocator (consolidating freed chunks) took a quarter of
/// the time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use context::{Context, StepReport};
pub use error::Failure;
pub use printer::Printer;

use args::{Cli, Command, GlobalArgs, StepCli};
use settings::GlobalSettings;

/// The pipeline steps that have their own binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepCommand {
    /// `slipway-build`
    Build,
    /// `slipway-scan-sbom`
    ScanSbom,
    /// `slipway-sign`
    Sign,
    /// `slipway-push`
    Push,
    /// `slipway-promote`
    Promote,
}

impl StepCommand {
    /// The subcommand name (`scan-sbom`).
    pub fn name(self) -> &'static str {
        match self {
            StepCommand::Build => "build",
            StepCommand::ScanSbom => "scan-sbom",
            StepCommand::Sign => "sign",
            StepCommand::Push => "push",
            StepCommand::Promote => "promote",
        }
    }
}

/// Entry point of `slipway`.
pub fn main() -> ExitCode {
    main_from(std::env::args_os(), Env::from_process())
}

/// Entry point of `slipway` with explicit arguments and environment.
pub fn main_from(argv: impl IntoIterator<Item = OsString>, env: Env) -> ExitCode {
    let parsed = args::cli_command()
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => return clap_exit(&e),
    };
    run(&cli.global, env, |ctx| commands::dispatch(ctx, cli.command))
}

/// Entry point of a step binary (`slipway-build`, ...): the step's own arguments plus the
/// global options, parsed with the step's clap definition under the binary's name.
pub fn main_step(step: StepCommand) -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let parsed = match step {
        StepCommand::Build => parse_step(step, argv).map(|(g, a)| (g, Command::Build(a))),
        StepCommand::ScanSbom => parse_step(step, argv).map(|(g, a)| (g, Command::ScanSbom(a))),
        StepCommand::Sign => parse_step(step, argv).map(|(g, a)| (g, Command::Sign(a))),
        StepCommand::Push => parse_step(step, argv).map(|(g, a)| (g, Command::Push(a))),
        StepCommand::Promote => parse_step(step, argv).map(|(g, a)| (g, Command::Promote(a))),
    };
    match parsed {
        Ok((global, command)) => run(&global, Env::from_process(), |ctx| {
            commands::dispatch(ctx, command)
        }),
        Err(e) => clap_exit(&e),
    }
}

fn parse_step<A: clap::Args + FromArgMatches>(
    step: StepCommand,
    argv: Vec<OsString>,
) -> Result<(GlobalArgs, A), clap::Error> {
    let bin = format!("slipway-{}", step.name());
    let about = Cli::command()
        .find_subcommand(step.name())
        .and_then(|c| c.get_about().map(ToString::to_string))
        .unwrap_or_default();
    let cmd = args::with_exit_codes(
        StepCli::<A>::command()
            .name(bin.clone())
            .bin_name(bin)
            .about(about),
    );
    let m = cmd.try_get_matches_from(argv)?;
    let cli = StepCli::<A>::from_arg_matches(&m)?;
    Ok((cli.global, cli.args))
}

fn clap_exit(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        // `slipway` or `slipway state` alone: the help (on stderr) is the answer to a usage
        // error, not a success a script could mistake for work done.
        _ => ExitCode::from(2),
    }
}

fn run(global: &GlobalArgs, env: Env, f: impl FnOnce(&Context) -> Result<(), Failure>) -> ExitCode {
    let redactor = Redactor::default();
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            let p = Printer::stdio(anstream::ColorChoice::Auto, false, 0, redactor);
            p.failure(&Failure::usage(format!(
                "cannot read the current directory: {e}"
            )));
            return ExitCode::from(2);
        }
    };
    // Secrets in Slipway's own variables are known before anything is printed.
    slipway_ci::register_env_secrets(&env, &redactor);
    let settings = match GlobalSettings::resolve(global, &env, &cwd) {
        Ok(s) => s,
        Err(f) => {
            let p = Printer::stdio(
                anstream::ColorChoice::Auto,
                global.quiet,
                global.verbose,
                redactor,
            );
            return fail(
                &p,
                global.output_format == Some(args::OutputFormatArg::Json),
                &f,
            );
        }
    };
    let printer = Printer::stdio(
        settings.anstream_color(),
        settings.quiet,
        settings.verbose,
        redactor.clone(),
    );
    init_logging(&printer, &env);
    let ci = Ci::from_env(
        &env,
        settings.dotenv.clone(),
        &settings.state_dir(),
        redactor,
    );
    let ctx = Context {
        settings,
        printer,
        ci,
        env,
        cwd,
        run: Default::default(),
    };
    match f(&ctx) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => fail(&ctx.printer, ctx.settings.json(), &failure),
    }
}

fn fail(printer: &Printer, json: bool, failure: &Failure) -> ExitCode {
    printer.failure(failure);
    if json {
        printer.json(&failure.to_json());
    }
    ExitCode::from(failure.code())
}

fn init_logging(printer: &Printer, env: &Env) {
    let filter = match (env.non_empty(slipway_env::SLIPWAY_LOG), printer.verbose()) {
        (Some(f), _) => f.to_owned(),
        (None, 0 | 1) => return,
        (None, 2) => "slipway=debug,info".to_owned(),
        (None, _) => "debug".to_owned(),
    };
    let Ok(filter) = tracing_subscriber::EnvFilter::try_new(&filter) else {
        printer.warn(&format!(
            "{} is not a valid log filter; logging stays off",
            slipway_env::SLIPWAY_LOG
        ));
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(printer.log_writer())
        .with_target(true)
        .without_time()
        .try_init();
}
