//! Output discipline: data on stdout, everything else on stderr, secrets never.
//!
//! Every line goes through the [`Redactor`]; colour is decided once (`--color`, `NO_COLOR`,
//! terminal detection) by `anstream`, which strips styling when colour is off. Library crates
//! never print: they return values and report progress through callbacks, and the binary
//! prints through a `Printer`.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use anstyle::{AnsiColor, Style};
use slipway_ci::Redactor;

use crate::error::Failure;

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// Prints for the binary.
#[derive(Clone)]
pub struct Printer {
    out: Sink,
    err: Sink,
    quiet: bool,
    verbose: u8,
    color: bool,
    redactor: Redactor,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("quiet", &self.quiet)
            .field("verbose", &self.verbose)
            .finish_non_exhaustive()
    }
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default().bold();
const DIM: Style = Style::new().dimmed();

impl Printer {
    /// A printer on the process's stdout/stderr with the given colour choice.
    pub fn stdio(
        color: anstream::ColorChoice,
        quiet: bool,
        verbose: u8,
        redactor: Redactor,
    ) -> Printer {
        let out = anstream::AutoStream::new(io::stdout(), color);
        let err = anstream::AutoStream::new(io::stderr(), color);
        let colored = !matches!(err.current_choice(), anstream::ColorChoice::Never);
        let mut p = Printer::new(Box::new(out), Box::new(err), quiet, verbose, redactor);
        p.color = colored;
        p
    }

    /// A printer on arbitrary writers (tests).
    pub fn new(
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
        quiet: bool,
        verbose: u8,
        redactor: Redactor,
    ) -> Printer {
        Printer {
            out: Arc::new(Mutex::new(out)),
            err: Arc::new(Mutex::new(err)),
            quiet,
            verbose,
            color: false,
            redactor,
        }
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// The redactor.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Verbosity (`-v` count).
    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    fn write(sink: &Sink, text: &str) {
        let mut w = sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A closed pipe (e.g. `| head`) is not worth a panic.
        let _ = w.write_all(text.as_bytes());
        let _ = w.flush();
    }

    /// Data for stdout (a value, a digest, JSON). A newline is added when missing.
    pub fn data(&self, text: &str) {
        let mut t = self.redactor.redact(text).into_owned();
        if !t.ends_with('\n') {
            t.push('\n');
        }
        Printer::write(&self.out, &t);
    }

    /// JSON data for stdout, pretty-printed.
    pub fn json(&self, value: &serde_json::Value) {
        self.data(&serde_json::to_string_pretty(value).unwrap_or_default());
    }

    /// A progress or status line on stderr (not with `-q`).
    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.line(Style::new(), "", text);
        }
    }

    /// A detail line on stderr (only with `-v`).
    pub fn detail(&self, text: &str) {
        if self.verbose > 0 && !self.quiet {
            self.line(DIM, "", text);
        }
    }

    /// A warning on stderr (also with `-q`).
    pub fn warn(&self, text: &str) {
        self.line(WARN, "warning", text);
    }

    /// A CI workflow command (`::add-mask::…`, `::error::…`) on stderr, unredacted and unstyled:
    /// the runner reads and consumes these lines.
    pub fn ci_command(&self, line: &str) {
        Printer::write(&self.err, &format!("{line}\n"));
    }

    /// A failure: the error, its causes, the hint.
    pub fn failure(&self, f: &Failure) {
        let chain = f.chain();
        let mut text = format!("{}: {}\n", self.paint(ERROR, "error"), chain[0]);
        for cause in &chain[1..] {
            text.push_str(&format!("  {} {cause}\n", self.paint(DIM, "caused by:")));
        }
        if let Some(h) = &f.hint {
            let mut lines = h.lines();
            if let Some(first) = lines.next() {
                text.push_str(&format!("{}: {first}\n", self.paint(HINT, "hint")));
            }
            for l in lines {
                text.push_str(&format!("{l}\n"));
            }
        }
        Printer::write(&self.err, &self.redactor.redact(&text));
    }

    fn line(&self, style: Style, label: &str, text: &str) {
        let text = self.redactor.redact(text);
        let line = if label.is_empty() {
            format!("{}\n", self.paint(style, &text))
        } else {
            format!("{}: {text}\n", self.paint(style, label))
        };
        Printer::write(&self.err, &line);
    }

    /// A writer for `tracing` logs: stderr, redacted.
    pub fn log_writer(&self) -> LogWriter {
        LogWriter {
            err: self.err.clone(),
            redactor: self.redactor.clone(),
        }
    }
}

/// `tracing` output through the printer's stderr and redactor.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct LogWriter {
    err: Sink,
    redactor: Redactor,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        Printer::write(&self.err, &self.redactor.redact(&text));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// An in-memory sink, for tests that capture output.
#[derive(Debug, Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_redaction() {
        let (out, err) = (Captured::default(), Captured::default());
        let r = Redactor::default();
        let p = Printer::new(
            Box::new(out.clone()),
            Box::new(err.clone()),
            false,
            0,
            r.clone(),
        );
        r.register("s3cr3t-token");
        p.data("digest sha256:1");
        p.info("pushing with s3cr3t-token");
        p.detail("hidden without -v");
        p.warn("careful");
        p.failure(&Failure::usage("bad s3cr3t-token").with_hint("do x"));
        assert_eq!(out.text(), "digest sha256:1\n");
        assert_eq!(
            err.text(),
            "pushing with ***\nwarning: careful\nerror: bad ***\nhint: do x\n"
        );
    }

    #[test]
    fn quiet_keeps_errors_and_data() {
        let (out, err) = (Captured::default(), Captured::default());
        let p = Printer::new(
            Box::new(out.clone()),
            Box::new(err.clone()),
            true,
            0,
            Redactor::default(),
        );
        p.info("status");
        p.data("value");
        p.warn("w");
        assert_eq!(out.text(), "value\n");
        assert_eq!(err.text(), "warning: w\n");
    }
}
