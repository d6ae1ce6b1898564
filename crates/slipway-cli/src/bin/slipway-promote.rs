//! `slipway-promote`: the same as `slipway promote`.
fn main() -> std::process::ExitCode {
    slipway_cli::main_step(slipway_cli::StepCommand::Promote)
}
