//! Test support for Slipway: real components, started and stopped by the tests themselves.
//!
//! Nothing here fakes a component that can run on the machine. The registry is Docker
//! Distribution itself; third-party readers are the real tools installed by
//! `scripts/test-deps.sh`, found with [`tool`]. A missing tool panics with the install hint —
//! a test never skips because its tool is absent.

mod github_api;
mod proxy;
mod registry;
mod sigstore;
mod tls;
mod token;
mod tools;

pub use github_api::{GithubApi, Recorded};
pub use proxy::{Fault, FaultAction, FaultProxy, Logged};
pub use registry::{Registry, RegistryKind};
pub use sigstore::{MockSigstore, test_identity_token};
pub use tls::TestCa;
pub use token::{TOKEN_ISSUER, TOKEN_SERVICE, TokenRequest, TokenServer};
pub use tools::{repo_root, test_tools_dir, tool};

/// Runs the independent validator `check-jsonschema --schemafile SCHEMA FILE`; returns whether
/// it accepted the file and what it printed.
pub fn check_jsonschema(schema: &std::path::Path, file: &std::path::Path) -> (bool, String) {
    check_jsonschema_all(schema, &[file])
}

/// [`check_jsonschema`] over several files in one run (the validator's start-up dominates).
pub fn check_jsonschema_all(
    schema: &std::path::Path,
    files: &[&std::path::Path],
) -> (bool, String) {
    let out = std::process::Command::new(tool("check-jsonschema"))
        .arg("--schemafile")
        .arg(schema)
        .args(files)
        .output()
        .expect("run check-jsonschema");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The checked-in JSON Schema of the state file.
pub fn state_schema() -> std::path::PathBuf {
    repo_root().join("schemas/state.schema.json")
}

/// A sha256 digest string (`sha256:<hex>`) of `bytes`, computed by `sha256sum`-equivalent code
/// in the test harness, independent of the code under test.
pub fn sha256_digest(bytes: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    // Use the system's coreutils, not our own hashing, so tests check us against an outsider.
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils) runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write to sha256sum");
    let out = child.wait_with_output().expect("sha256sum finishes");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    format!("sha256:{}", text.split_whitespace().next().expect("a hash"))
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Validates an SPDX document with spdx-tools (`pyspdxtools -i FILE`: parse and validate);
/// returns whether it is valid and what the tool printed.
pub fn validate_spdx(file: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(tool("pyspdxtools"))
        .arg("-i")
        .arg(file)
        .output()
        .expect("run pyspdxtools");
    (out.status.success(), output_text(&out))
}

/// Validates a CycloneDX 1.6 JSON document with cyclonedx-python-lib's strict JSON validator
/// (the official schema); returns whether it is valid and the validator's error.
pub fn validate_cyclonedx(file: &std::path::Path) -> (bool, String) {
    const SCRIPT: &str = "import sys\n\
from cyclonedx.validation.json import JsonStrictValidator\n\
from cyclonedx.schema import SchemaVersion\n\
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
print(err if err else 'valid')\n\
sys.exit(1 if err else 0)\n";
    let out = std::process::Command::new(tool("python3"))
        .args(["-c", SCRIPT])
        .arg(file)
        .output()
        .expect("run the CycloneDX validator");
    (out.status.success(), output_text(&out))
}
