//! The state store under concurrent writers and writers killed mid-write, with real processes.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WRITER: &str = env!("CARGO_BIN_EXE_slipway-test-state-writer");

/// Validates `file` against the checked-in schema with an independent validator.
fn check_jsonschema(file: &Path) {
    let (ok, text) = slipway_test::check_jsonschema(&slipway_test::state_schema(), file);
    assert!(ok, "check-jsonschema rejected {}:\n{text}", file.display());
}

#[test]
fn sixteen_processes_append_concurrently_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let children: Vec<_> = (0..16)
        .map(|w| {
            Command::new(WRITER)
                .arg(&path)
                .arg(format!("w{w}"))
                .arg("20")
                .spawn()
                .expect("spawn writer")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer failed");
    }
    let state = slipway_state::StateFile::new(&path)
        .read_required()
        .expect("valid state");
    let got: BTreeSet<String> = state
        .steps
        .iter()
        .map(|s| {
            s.summary
                .as_deref()
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    let want: BTreeSet<String> = (0..16)
        .flat_map(|w| (0..20).map(move |i| format!("w{w}/{i}")))
        .collect();
    assert_eq!(state.steps.len(), 320, "every append is a separate entry");
    assert_eq!(got, want);
    check_jsonschema(&path);
}

fn pseudo_random(seed: &mut u64) -> u64 {
    // xorshift64*: enough randomness for kill timing without a dependency.
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn sigkilled_writers_never_leave_a_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut highest_seen: Option<u64> = None;
    for round in 0..100 {
        let mut child = Command::new(WRITER)
            .arg(&path)
            .arg("k")
            .arg("forever")
            .spawn()
            .expect("spawn writer");
        // Kill somewhere between process start-up and many writes in.
        let delay = Duration::from_micros(pseudo_random(&mut seed) % 30_000);
        std::thread::sleep(delay);
        child.kill().expect("SIGKILL the writer");
        child.wait().unwrap();

        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && highest_seen.is_none() => {
                continue;
            }
            Err(e) => panic!("round {round}: state file vanished: {e}"),
        };
        let state = slipway_state::parse(&bytes).unwrap_or_else(|e| {
            panic!("round {round} (killed after {delay:?}): torn or invalid file: {e}")
        });
        let highest = state
            .steps
            .iter()
            .filter_map(|r| {
                r.summary
                    .as_deref()?
                    .strip_prefix("seq/")?
                    .split(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .max();
        // Committed writes are never lost: the sequence only grows.
        assert!(
            highest >= highest_seen,
            "round {round}: sequence went back from {highest_seen:?} to {highest:?}"
        );
        highest_seen = highest;
    }
    assert!(
        highest_seen.is_some(),
        "the writers never managed a single write in 100 rounds"
    );
    check_jsonschema(&path);
    // Temp files of killed writers are cleaned by the next writer; at most the last one remains.
    let temps = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert!(temps <= 1, "{temps} stale temp files left");
}
