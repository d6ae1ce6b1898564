//! `slipway-build`: the same as `slipway build`.
fn main() -> std::process::ExitCode {
    slipway_cli::main_step(slipway_cli::StepCommand::Build)
}
