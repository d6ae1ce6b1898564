//! `slipway-sign`: the same as `slipway sign`.
fn main() -> std::process::ExitCode {
    slipway_cli::main_step(slipway_cli::StepCommand::Sign)
}
