/work/main/examples/hello-rust/.slipway/build/cargo-target/x86_64-unknown-linux-gnu/release/deps/greeting-e82a994519e997a6.d: greeting/src/lib.rs

/work/main/examples/hello-rust/.slipway/build/cargo-target/x86_64-unknown-linux-gnu/release/deps/libgreeting-e82a994519e997a6.rlib: greeting/src/lib.rs

/work/main/examples/hello-rust/.slipway/build/cargo-target/x86_64-unknown-linux-gnu/release/deps/libgreeting-e82a994519e997a6.rmeta: greeting/src/lib.rs

greeting/src/lib.rs:
