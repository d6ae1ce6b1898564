/work/main/examples/hello-rust/.slipway/build/cargo-target/x86_64-unknown-linux-gnu/release/deps/hello_rust-84044f88285b11a6.d: src/main.rs

/work/main/examples/hello-rust/.slipway/build/cargo-target/x86_64-unknown-linux-gnu/release/deps/hello_rust-84044f88285b11a6: src/main.rs

src/main.rs:
