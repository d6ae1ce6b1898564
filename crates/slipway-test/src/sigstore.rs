//! A local Fulcio + Rekor (`mock-sigstore.js`, a small Node server over `@sigstore/mock`),
//! started per test on a free loopback port and stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::tools::{test_tools_dir, tool};

/// A running mock Fulcio + Rekor, with the trusted root naming its CA and log key.
#[derive(Debug)]
pub struct MockSigstore {
    child: Child,
    // Kept open: the server exits when it closes.
    _stdin: Option<ChildStdin>,
    port: u16,
    dir: tempfile::TempDir,
}

impl MockSigstore {
    /// Starts the server and waits until it listens.
    pub fn start() -> MockSigstore {
        let dir = tempfile::Builder::new()
            .prefix("slipway-sigstore-")
            .tempdir()
            .expect("temp dir");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/mock-sigstore.js");
        let mut child = Command::new(tool("node"))
            .arg(&script)
            .arg(dir.path().join("trusted_root.json"))
            .env("NODE_PATH", test_tools_dir().join("node_modules"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts (scripts/test-deps.sh installs Node and @sigstore/mock)");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the port line");
        let v: serde_json::Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                let _ = child.kill();
                panic!(
                    "mock-sigstore.js did not start ({e}): {line:?}; is @sigstore/mock installed (scripts/test-deps.sh)?"
                );
            }
        };
        let port = u16::try_from(v["port"].as_u64().expect("port")).expect("port fits");
        MockSigstore {
            child,
            _stdin: stdin,
            port,
            dir,
        }
    }

    /// Base URL of both Fulcio and Rekor.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The trusted root naming the mock's CA and log key.
    pub fn trusted_root(&self) -> PathBuf {
        self.dir.path().join("trusted_root.json")
    }

    /// Request counters: `certificates`, `uploads`, `conflicts`, `entries`, `gets`, and
    /// `requests` (every request, whatever its path).
    pub fn stats(&self) -> serde_json::Value {
        let text = reqwest::blocking::get(format!("{}/__stats", self.url()))
            .and_then(|r| r.text())
            .expect("stats");
        serde_json::from_str(&text).expect("stats JSON")
    }

    /// Makes the next `n` Rekor uploads answer 503.
    pub fn fail_next_uploads(&self, n: u32) {
        reqwest::blocking::Client::new()
            .post(format!("{}/__fail?n={n}", self.url()))
            .send()
            .expect("set failure");
    }
}

impl Drop for MockSigstore {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An unsigned JWT with `iss`, `sub` and `aud: sigstore` (the mock does not check signatures).
pub fn test_identity_token(issuer: &str, subject: &str) -> String {
    use std::fmt::Write;
    fn b64url(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                let _ = out.write_char(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
    let claims = serde_json::json!({
        "iss": issuer, "sub": subject, "aud": "sigstore",
        "iat": 1_700_000_000u64, "exp": 4_000_000_000u64,
    });
    format!(
        "{}.{}.{}",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims.to_string().as_bytes()),
        b64url(b"unsigned")
    )
}
