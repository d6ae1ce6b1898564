//! Prints a greeting; Slipway's example Rust program.
fn main() {
    let mut buf = itoa::Buffer::new();
    println!("{}", greeting::hello("Slipway"));
    println!("built for {}/{} ({} bits)", std::env::consts::OS, std::env::consts::ARCH, buf.format(usize::BITS));
}
