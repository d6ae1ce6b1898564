//! `slipway-push`: the same as `slipway push`.
fn main() -> std::process::ExitCode {
    slipway_cli::main_step(slipway_cli::StepCommand::Push)
}
