//! Drawing progress: indicatif bars on a terminal, plain lines elsewhere (CI logs).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use slipway_types::Progress;

use crate::Printer;

/// Progress for the console, chosen once from the settings.
pub enum ConsoleProgress {
    /// Bars on stderr (a terminal, progress not disabled).
    Bars {
        /// All bars.
        multi: MultiProgress,
        /// Running bars by task.
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
    /// One line per finished task (CI, pipes, `--no-progress`).
    Lines {
        /// Where lines go.
        printer: Printer,
        /// When each task began.
        started: Mutex<HashMap<String, Instant>>,
    },
}

impl std::fmt::Debug for ConsoleProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConsoleProgress::Bars { .. } => "ConsoleProgress::Bars",
            ConsoleProgress::Lines { .. } => "ConsoleProgress::Lines",
        })
    }
}

impl ConsoleProgress {
    /// Bars when `bars` (a terminal and progress wanted), plain lines otherwise.
    pub fn new(bars: bool, printer: &Printer) -> ConsoleProgress {
        if bars {
            ConsoleProgress::bars_to(ProgressDrawTarget::stderr())
        } else {
            ConsoleProgress::Lines {
                printer: printer.clone(),
                started: Mutex::new(HashMap::new()),
            }
        }
    }

    fn bars_to(target: ProgressDrawTarget) -> ConsoleProgress {
        ConsoleProgress::Bars {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }
}

/// How often a running bar is redrawn on its own: a compiler reports nothing while it works,
/// and a bar that never moves looks hung.
const TICK: Duration = Duration::from_millis(120);

/// The look of a bar: with a size, a bar of bytes; without one, a spinner with the elapsed time
/// (a compile), plus the bytes once some are reported (a stream of unknown length).
fn style(total: Option<u64>, bytes_seen: bool) -> ProgressStyle {
    let template = match (total, bytes_seen) {
        (Some(_), _) => {
            "{spinner} {prefix:<24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {elapsed}"
        }
        (None, true) => "{spinner} {prefix:<24} {bytes} {bytes_per_sec} {elapsed}",
        (None, false) => "{spinner} {prefix:<24} {elapsed}",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for ConsoleProgress {
    fn begin(&self, task: &str, total: Option<u64>) {
        match self {
            ConsoleProgress::Bars { multi, bars } => {
                let bar = multi.add(match total {
                    Some(t) => ProgressBar::new(t),
                    None => ProgressBar::no_length(),
                });
                bar.set_style(style(total, false));
                bar.set_prefix(task.to_owned());
                bar.enable_steady_tick(TICK);
                bars.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(task.to_owned(), bar);
            }
            ConsoleProgress::Lines { started, .. } => {
                started
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(task.to_owned(), Instant::now());
            }
        }
    }

    fn advance(&self, task: &str, delta: u64) {
        if let ConsoleProgress::Bars { bars, .. } = self
            && let Some(bar) = bars
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(task)
        {
            if bar.length().is_none() && bar.position() == 0 && delta > 0 {
                bar.set_style(style(None, true));
            }
            bar.inc(delta);
        }
    }

    fn end(&self, task: &str, message: &str) {
        match self {
            ConsoleProgress::Bars { bars, .. } => {
                if let Some(bar) = bars
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(task)
                {
                    bar.finish_with_message(message.to_owned());
                    bar.finish_and_clear();
                }
            }
            ConsoleProgress::Lines { printer, started } => {
                let t = started
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(task);
                let secs = t
                    .map(|t| format!(" ({:.1}s)", t.elapsed().as_secs_f64()))
                    .unwrap_or_default();
                printer.info(&format!("{task}: {message}{secs}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::Arc;

    /// A terminal that records what is drawn on it.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<String>>);

    impl indicatif::TermLike for Recorder {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            self.write_str("\n")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    fn lines_of(rec: &Recorder, task: &str) -> Vec<String> {
        rec.0
            .lock()
            .unwrap()
            .lines()
            .filter(|l| l.contains(task))
            .map(|l| l.trim_end().to_owned())
            .collect()
    }

    fn wait_for(rec: &Recorder, task: &str, text: &str) -> Vec<String> {
        let start = Instant::now();
        loop {
            let drawn = lines_of(rec, task);
            if drawn.iter().any(|l| l.contains(text)) || start.elapsed() > Duration::from_secs(30) {
                return drawn;
            }
            std::thread::sleep(TICK);
        }
    }

    /// Regression: a `go build` bar (no size, no bytes reported) sat at a static "0 B 0 B/s".
    #[test]
    fn a_compile_spins_with_its_elapsed_time_and_a_layer_shows_bytes() {
        let rec = Recorder::default();
        let p = ConsoleProgress::bars_to(ProgressDrawTarget::term_like(Box::new(rec.clone())));
        let compile = "hello linux/amd64: go build";
        p.begin(compile, None);
        // Nothing is reported while the compiler runs: the bar must move on its own. (Waits
        // for a few redraws, however slow a loaded machine is.)
        let start = Instant::now();
        let drawn = loop {
            std::thread::sleep(TICK);
            let drawn = lines_of(&rec, compile);
            let spinners: std::collections::BTreeSet<char> = drawn
                .iter()
                .filter_map(|l| l.trim_start().chars().next())
                .collect();
            if spinners.len() >= 3 {
                break drawn;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the spinner did not turn while idle: {drawn:?}"
            );
        };
        assert!(drawn.iter().all(|l| !l.contains(" B")), "{drawn:?}");
        assert!(
            drawn.iter().all(|l| l.ends_with('s')),
            "no elapsed time: {drawn:?}"
        );
        p.end(compile, "done");

        let layer = "hello linux/amd64: layer";
        p.begin(layer, Some(4 << 20));
        p.advance(layer, 1 << 20);
        let drawn = wait_for(&rec, layer, "1.00 MiB/4.00 MiB");
        assert!(
            drawn.iter().any(|l| l.contains("1.00 MiB/4.00 MiB")),
            "{drawn:?}"
        );
        p.end(layer, "done");

        // A stream of unknown length: bytes appear once some are reported.
        let stream = "blob sha256:0123";
        p.begin(stream, None);
        p.advance(stream, 2048);
        let drawn = wait_for(&rec, stream, "2.00 KiB");
        assert!(drawn.iter().any(|l| l.contains("2.00 KiB")), "{drawn:?}");
        p.end(stream, "done");
    }
}
