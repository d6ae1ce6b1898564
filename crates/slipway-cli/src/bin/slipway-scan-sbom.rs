//! `slipway-scan-sbom`: the same as `slipway scan-sbom`.
fn main() -> std::process::ExitCode {
    slipway_cli::main_step(slipway_cli::StepCommand::ScanSbom)
}
