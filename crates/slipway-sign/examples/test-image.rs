//! Writes a small image into an OCI layout (for benchmarks and trying the CLI out):
//!
//! ```sh
//! cargo run -p slipway-sign --example test-image -- LAYOUT NAME linux/amd64 linux/arm64 ...
//! ```
//! Prints the digest of the image (the index when there are several platforms).

// An example program talks to its user directly.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: test-image LAYOUT NAME PLATFORM...");
        return ExitCode::from(2);
    }
    let layout = match slipway_oci::Layout::create(&args[0]) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let platforms: Vec<&str> = args[2..].iter().map(String::as_str).collect();
    match slipway_sign::testimage::write(&layout, &args[1], &platforms, &args[1]) {
        Ok(img) => {
            println!("{}", img.digest);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(3)
        }
    }
}
