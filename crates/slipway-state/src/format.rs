//! Reading a state file: syntax, then the format version, then the typed model.
//!
//! The version is read from a minimal view of the document before anything else, so a file
//! written by a newer Slipway is refused with a message naming both versions instead of a
//! confusing field error. Older formats are upgraded by [`upgrade`] before typed parsing.

use std::fmt;

use serde_json::Value;

use crate::State;

/// The state format this Slipway writes (and the newest it reads).
pub const FORMAT: u32 = 1;

/// The oldest format this Slipway reads.
pub const OLDEST_FORMAT: u32 = 1;

/// Why a state document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// Written by a newer Slipway.
    #[error(
        "it is in state format {found}{}, but this slipway {ours} reads {}",
        by.as_ref().map(|b| format!(" (written by {b})")).unwrap_or_default(),
        readable_formats(),
        ours = env!("CARGO_PKG_VERSION"),
    )]
    Newer {
        /// The file's format.
        found: u64,
        /// The file's `written_by`, when present.
        by: Option<String>,
    },
    /// A format older than any Slipway wrote.
    #[error("state format {found} does not exist (the oldest is {OLDEST_FORMAT})")]
    Unknown {
        /// The file's format.
        found: u64,
    },
    /// The `format` field is missing or not a number.
    #[error("field `format` is {0}; expected a format number such as {FORMAT}")]
    BadFormatField(&'static str),
    /// Valid JSON and a known format, but not a valid state document.
    #[error("field `{path}`: {message}")]
    Invalid {
        /// Path of the offending field, e.g. `images.hello.platforms`.
        path: FieldPath,
        /// What is wrong with it.
        message: String,
    },
}

fn readable_formats() -> String {
    if OLDEST_FORMAT == FORMAT {
        format!("format {FORMAT} only")
    } else {
        format!("formats {OLDEST_FORMAT} to {FORMAT}")
    }
}

/// A dotted path to a field, as `slipway state get` would take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(pub String);

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(top level)")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// Parses a state document: syntax, format version, then the typed model.
pub fn parse(bytes: &[u8]) -> Result<State, ParseError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ParseError::Syntax {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })?;
    let value = upgrade(value)?;
    let mut track = serde_path_to_error::Track::new();
    let de = serde_path_to_error::Deserializer::new(&value, &mut track);
    <State as serde::Deserialize>::deserialize(de).map_err(|e| ParseError::Invalid {
        path: FieldPath(render_path(&track.path())),
        message: e.to_string(),
    })
}

/// Checks the format version and upgrades an older document to [`FORMAT`].
pub fn upgrade(value: Value) -> Result<Value, ParseError> {
    let found = match value.get("format") {
        None => {
            return Err(if value.is_object() {
                ParseError::BadFormatField("missing")
            } else {
                ParseError::Invalid {
                    path: FieldPath(String::new()),
                    message: "expected a JSON object".to_owned(),
                }
            });
        }
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or(ParseError::BadFormatField("not a whole number"))?,
        Some(_) => return Err(ParseError::BadFormatField("not a number")),
    };
    if found > u64::from(FORMAT) {
        let by = value
            .get("written_by")
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Err(ParseError::Newer { found, by });
    }
    if found < u64::from(OLDEST_FORMAT) {
        return Err(ParseError::Unknown { found });
    }
    // Format 1 is the first format; upgrades from older formats are added here, one step at a
    // time (`1 => v1_to_v2(value)`, ...), when the format changes.
    Ok(value)
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

fn render_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                if key.contains(['.', '[', ']', '"']) || key.is_empty() {
                    out.push_str(&format!("{key:?}"));
                } else {
                    out.push_str(key);
                }
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_document() {
        let s = parse(br#"{"format": 1}"#).unwrap();
        assert_eq!(s, State::default());
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse(b"{\n  \"format\": 1,\n  oops\n}").unwrap_err();
        match e {
            ParseError::Syntax { line, column, .. } => assert_eq!((line, column), (3, 3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn newer_names_both_versions() {
        let e =
            parse(br#"{"format": 7, "written_by": "slipway 9.0.0", "future": true}"#).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("format 7"), "{msg}");
        assert!(msg.contains("slipway 9.0.0"), "{msg}");
        assert!(msg.contains(&readable_formats()), "{msg}");
    }

    #[test]
    fn format_field_problems() {
        assert!(matches!(
            parse(b"{}"),
            Err(ParseError::BadFormatField("missing"))
        ));
        assert!(matches!(
            parse(br#"{"format":"1"}"#),
            Err(ParseError::BadFormatField(_))
        ));
        assert!(matches!(
            parse(br#"{"format":0}"#),
            Err(ParseError::Unknown { found: 0 })
        ));
        assert!(matches!(parse(b"[]"), Err(ParseError::Invalid { .. })));
    }

    #[test]
    fn invalid_field_names_path() {
        let doc = br#"{"format":1,"images":{"hello":{"platforms":{"linux/amd64":{"manifest":{
            "media_type":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:nope","size":1}}}}}}"#;
        let e = parse(doc).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("field `images.hello.platforms.linux/amd64.manifest.digest`"),
            "{msg}"
        );
        let e = parse(br#"{"format":1,"steps":[{"step":"build","outcome":"ok","started":"x"}]}"#)
            .unwrap_err();
        assert!(e.to_string().starts_with("field `steps[0].started`"), "{e}");
        let e = parse(br#"{"format":1,"imagez":{}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `imagez`"), "{e}");
    }
}
