use std::path::PathBuf;

use slipway_types::{Diagnostic, ExitClass};

/// What went wrong reading reports, ignore files, VEX documents or running a scanner.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A file could not be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A document is not what it should be (malformed JSON or YAML, a wrong shape).
    #[error("`{}`: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the position when known.
        message: String,
    },
    /// A scanner could not be run or failed.
    #[error("{tool}: {message}")]
    Tool {
        /// trivy, grype, syft.
        tool: String,
        /// What happened.
        message: String,
    },
}

impl Diagnostic for ScanError {
    fn exit_class(&self) -> ExitClass {
        match self {
            ScanError::Tool { .. } => ExitClass::External,
            _ => ExitClass::Usage,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ScanError::Malformed { .. } => Some(
                "the gate fails closed on a report it cannot read: re-run the scanner with JSON output (trivy --format json, grype -o json)".into(),
            ),
            ScanError::Tool { tool, .. } => Some(format!("is {tool} installed and on PATH?")),
            ScanError::Read { .. } => None,
        }
    }
}

/// `serde_json` error with its position, for [`ScanError::Malformed`].
pub(crate) fn json_position(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "truncated JSON (it ends early)",
        serde_json::error::Category::Syntax => "malformed JSON",
        serde_json::error::Category::Data => "unexpected JSON content",
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {} column {}: {e}", e.line(), e.column())
}
