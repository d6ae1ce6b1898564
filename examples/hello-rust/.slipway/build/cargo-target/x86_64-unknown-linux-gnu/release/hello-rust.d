/work/main/examples/hello-rust/.slipway/build/cargo-target/x86_64-unknown-linux-gnu/release/hello-rust: /work/main/examples/hello-rust/greeting/src/lib.rs /work/main/examples/hello-rust/src/main.rs
