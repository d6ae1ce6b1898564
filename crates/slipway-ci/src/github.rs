//! GitHub Actions: output files and workflow commands.
//!
//! Formats follow GitHub's documentation ("Workflow commands for GitHub Actions"): outputs are
//! appended to `$GITHUB_OUTPUT` as `name<<DELIMITER\nvalue\nDELIMITER\n`, with a random
//! delimiter that does not occur in the value; command data escapes `%`, CR and LF, and
//! property values additionally `:` and `,`.

use std::io;
use std::path::Path;

/// Escapes workflow-command data (the part after `::`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property value (`file=`, `title=`, ...).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub(crate) fn append_output(path: &Path, name: &str, value: &str) -> io::Result<()> {
    let delimiter = loop {
        let d = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
        if !value.contains(&d) && !name.contains(&d) {
            break d;
        }
    };
    let text = format!("{name}<<{delimiter}\n{value}\n{delimiter}\n");
    crate::append(path, text.as_bytes())
}

/// Parses an output file the way the runner does (used by tests).
#[cfg(test)]
pub(crate) fn parse_output_file(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.split('\n');
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_owned(), value.join("\n")));
        } else if let Some((name, v)) = line.split_once('=') {
            out.push((name.to_owned(), v.to_owned()));
        }
    }
    out
}

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `::error`.
    Error,
    /// `::warning`.
    Warning,
    /// `::notice`.
    Notice,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// An annotation shown on the run (and, with a file, on the diff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Severity.
    pub level: Level,
    /// The message (may be multiline).
    pub message: String,
    /// Title shown above the message.
    pub title: Option<String>,
    /// File the annotation refers to.
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<u64>,
    /// 1-based end line.
    pub end_line: Option<u64>,
    /// 1-based column.
    pub col: Option<u64>,
}

impl Annotation {
    /// A plain annotation with just a level and message.
    pub fn new(level: Level, message: impl Into<String>) -> Annotation {
        Annotation {
            level,
            message: message.into(),
            title: None,
            file: None,
            line: None,
            end_line: None,
            col: None,
        }
    }

    /// The workflow command, e.g. `::error file=a.yaml,line=3,title=Bad::message`.
    pub fn to_workflow_command(&self) -> String {
        let mut props = Vec::new();
        if let Some(f) = &self.file {
            props.push(format!("file={}", escape_property(f)));
        }
        if let Some(l) = self.line {
            props.push(format!("line={l}"));
        }
        if let Some(l) = self.end_line {
            props.push(format!("endLine={l}"));
        }
        if let Some(c) = self.col {
            props.push(format!("col={c}"));
        }
        if let Some(t) = &self.title {
            props.push(format!("title={}", escape_property(t)));
        }
        let props = if props.is_empty() {
            String::new()
        } else {
            format!(" {}", props.join(","))
        };
        format!(
            "::{}{props}::{}",
            self.level.name(),
            escape_data(&self.message)
        )
    }

    /// A plain line for logs outside GitHub: `warning: file:line: title: message`.
    pub fn to_plain(&self) -> String {
        let mut s = format!("{}: ", self.level.name());
        if let Some(f) = &self.file {
            s.push_str(f);
            if let Some(l) = self.line {
                s.push_str(&format!(":{l}"));
            }
            s.push_str(": ");
        }
        if let Some(t) = &self.title {
            s.push_str(&format!("{t}: "));
        }
        s.push_str(&self.message);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_github() {
        assert_eq!(escape_data("50% done\r\nnext"), "50%25 done%0D%0Anext");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
    }

    #[test]
    fn annotation_commands() {
        let a = Annotation {
            file: Some("slipway.yaml".into()),
            line: Some(3),
            col: Some(5),
            title: Some("scan: blocked".into()),
            ..Annotation::new(Level::Error, "CVE-1\nCVE-2")
        };
        assert_eq!(
            a.to_workflow_command(),
            "::error file=slipway.yaml,line=3,col=5,title=scan%3A blocked::CVE-1%0ACVE-2"
        );
        assert_eq!(
            Annotation::new(Level::Notice, "hi").to_workflow_command(),
            "::notice::hi"
        );
        assert_eq!(
            a.to_plain(),
            "error: slipway.yaml:3: scan: blocked: CVE-1\nCVE-2"
        );
    }

    #[test]
    fn delimiter_never_in_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o");
        let tricky = "x\nghadelimiter_\ny";
        append_output(&p, "v", tricky).unwrap();
        assert_eq!(
            parse_output_file(&std::fs::read_to_string(&p).unwrap()),
            vec![("v".into(), tricky.into())]
        );
    }
}
