//! The checked-in JSON Schema must match the model; regenerate with `cargo xtask gen`.

#[test]
fn checked_in_schema_matches_the_model() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/state.schema.json");
    let on_disk = std::fs::read_to_string(&path).expect("schemas/state.schema.json exists");
    let generated = slipway_state::schema_json();
    assert!(
        on_disk == generated,
        "schemas/state.schema.json is stale: the state model changed. Run `cargo xtask gen` and commit the result."
    );
}
