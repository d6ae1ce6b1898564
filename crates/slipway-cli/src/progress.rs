//! Drawing progress: indicatif bars on a terminal, plain lines elsewhere (CI logs).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

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
            ConsoleProgress::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            ConsoleProgress::Lines {
                printer: printer.clone(),
                started: Mutex::new(HashMap::new()),
            }
        }
    }
}

fn style(total: Option<u64>) -> ProgressStyle {
    let template = if total.is_some() {
        "{spinner} {prefix:<24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}"
    } else {
        "{spinner} {prefix:<24} {bytes} {bytes_per_sec}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for ConsoleProgress {
    fn begin(&self, task: &str, total: Option<u64>) {
        match self {
            ConsoleProgress::Bars { multi, bars } => {
                let bar = multi.add(ProgressBar::new(total.unwrap_or(0)));
                bar.set_style(style(total));
                bar.set_prefix(task.to_owned());
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
