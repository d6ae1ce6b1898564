//! The generated reference docs must match the code; regenerate with `cargo xtask gen`.

fn check(rel: &str, generated: &str) {
    let path = slipway_test::repo_root().join(rel);
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{rel} is stale: run `cargo xtask gen` and commit the result"
    );
}

#[test]
fn cli_reference_is_current() {
    check(
        "docs/reference/cli.md",
        &slipway_cli::reference::cli_markdown(),
    );
}

#[test]
fn env_reference_is_current() {
    check(
        "docs/reference/env.md",
        &slipway_cli::reference::env_markdown(),
    );
}
