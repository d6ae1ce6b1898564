//! Helper process for the state-file tests: appends step entries through the real store.
//!
//! `slipway-test-state-writer STATE_FILE WRITER_ID COUNT` appends COUNT entries whose summary is
//! `WRITER_ID/N`. With COUNT `forever` it appends `seq/N` entries, N one more than the highest
//! already in the file, until killed (the crash test kills it with SIGKILL at random moments).
#![allow(clippy::print_stderr)] // a test helper process reports on stderr

use std::process::ExitCode;

use chrono::Utc;
use slipway_state::{StateFile, Step, StepOutcome, StepRecord};

fn record(summary: String, padding: usize) -> StepRecord {
    let now = Utc::now();
    StepRecord {
        step: Step::Build,
        outcome: StepOutcome::Ok,
        started: now,
        finished: now,
        version: slipway_state::writer_id(),
        job: Some(format!("pid-{}", std::process::id())),
        // Padding (crash test) makes each write large enough that a kill lands mid-write.
        summary: Some(format!("{summary} {}", "x".repeat(padding))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, path, id, count] = args.as_slice() else {
        eprintln!("usage: slipway-test-state-writer STATE_FILE WRITER_ID COUNT|forever");
        return ExitCode::from(2);
    };
    let file = StateFile::new(path);
    if count == "forever" {
        loop {
            let result = file.update(|s| {
                let next = s
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
                    .max()
                    .map_or(0, |m| m + 1);
                // Keep the file bounded: drop the oldest entries once there are many.
                if s.steps.len() >= 200 {
                    s.steps.drain(..100);
                }
                s.steps.push(record(format!("seq/{next}"), 2048));
            });
            if let Err(e) = result {
                eprintln!("{id}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let Ok(n) = count.parse::<u32>() else {
        eprintln!("COUNT must be a number or `forever`");
        return ExitCode::from(2);
    };
    for i in 0..n {
        if let Err(e) = file.update(|s| s.steps.push(record(format!("{id}/{i}"), 0))) {
            eprintln!("{id}: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
