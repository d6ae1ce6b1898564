//! `KEY.PATH` lookups into a state document, for `slipway state get`.
//!
//! Syntax: segments separated by `.`; a segment holding `.` (an image named `ghcr.io/x`) is
//! written in double quotes or brackets: `images."ghcr.io/x".index.digest`,
//! `images["ghcr.io/x"]`; array elements by `[N]` or `.N`. Platform keys need no quoting:
//! `images.hello.platforms.linux/amd64.manifest.digest`.

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key (or an array index written as a bare number).
    Key(String),
    /// An explicit array index, `[N]`.
    Index(usize),
}

/// Why a path could not be parsed or followed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The path itself is malformed.
    #[error("malformed path `{path}`: {reason}")]
    Syntax {
        /// The path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The path leads nowhere.
    #[error("`{at}` has no {missing}{}", available(.keys))]
    NotFound {
        /// The part of the path that exists.
        at: String,
        /// What was asked for.
        missing: String,
        /// What is there instead.
        keys: Vec<String>,
    },
}

fn available(keys: &[String]) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        format!("; it has: {}", keys.join(", "))
    }
}

/// Parses a path into segments.
pub fn parse_path(path: &str) -> Result<Vec<Segment>, QueryError> {
    let err = |reason| QueryError::Syntax {
        path: path.to_owned(),
        reason,
    };
    let chars: Vec<char> = path.chars().collect();
    let mut segs = Vec::new();
    let mut i = 0;
    if chars.is_empty() {
        return Ok(segs);
    }
    loop {
        match chars.get(i) {
            Some('"') => {
                let (s, next) = quoted(&chars, i).ok_or_else(|| err("unterminated quote"))?;
                segs.push(Segment::Key(s));
                i = next;
            }
            Some('[') => {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .ok_or_else(|| err("unterminated `[`"))?
                    + i;
                let inner: String = chars[i + 1..close].iter().collect();
                if inner.starts_with('"') {
                    let inner_chars: Vec<char> = inner.chars().collect();
                    match quoted(&inner_chars, 0) {
                        Some((s, n)) if n == inner_chars.len() => segs.push(Segment::Key(s)),
                        _ => return Err(err("malformed quoted key in `[...]`")),
                    }
                } else {
                    let n = inner
                        .parse::<usize>()
                        .map_err(|_| err("`[...]` holds an index or a quoted key"))?;
                    segs.push(Segment::Index(n));
                }
                i = close + 1;
            }
            Some(_) => {
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                segs.push(Segment::Key(chars[start..i].iter().collect()));
            }
            None => return Err(err("ends with `.`")),
        }
        match chars.get(i) {
            None => break,
            Some('.') => {
                i += 1;
                if chars.get(i).is_none_or(|&c| c == '.') {
                    return Err(err("empty segment"));
                }
            }
            Some('[') => {}
            Some(_) => return Err(err("expected `.` or `[` after a quoted key")),
        }
    }
    Ok(segs)
}

fn quoted(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                s.push(chars[i + 1]);
                i += 2;
            }
            '"' => return Some((s, i + 1)),
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    None
}

/// Follows `path` in `value`.
pub fn get<'a>(value: &'a Value, path: &str) -> Result<&'a Value, QueryError> {
    let segs = parse_path(path)?;
    let mut cur = value;
    let mut at = String::from("(top level)");
    let mut walked = String::new();
    for seg in segs {
        let next = match (&seg, cur) {
            (Segment::Key(k), Value::Object(map)) => {
                map.get(k).ok_or_else(|| QueryError::NotFound {
                    at: at.clone(),
                    missing: format!("key `{k}`"),
                    keys: map.keys().cloned().collect(),
                })?
            }
            (Segment::Index(n), Value::Array(items)) => {
                items.get(*n).ok_or_else(|| QueryError::NotFound {
                    at: at.clone(),
                    missing: format!("element [{n}]"),
                    keys: vec![format!("{} elements", items.len())],
                })?
            }
            // `items.2`, and `items.-1` for the last one (the newest push, scan, ...).
            (Segment::Key(k), Value::Array(items)) if k.parse::<i64>().is_ok() => {
                let i: i64 = k.parse().unwrap_or_default();
                let n = if i < 0 {
                    usize::try_from(i.unsigned_abs())
                        .ok()
                        .and_then(|back| items.len().checked_sub(back))
                        .unwrap_or(usize::MAX)
                } else {
                    usize::try_from(i).unwrap_or(usize::MAX)
                };
                items.get(n).ok_or_else(|| QueryError::NotFound {
                    at: at.clone(),
                    missing: format!("element [{n}]"),
                    keys: vec![format!("{} elements", items.len())],
                })?
            }
            (seg, other) => {
                return Err(QueryError::NotFound {
                    at: at.clone(),
                    missing: match seg {
                        Segment::Key(k) => format!("key `{k}` (it is {})", kind(other)),
                        Segment::Index(n) => format!("element [{n}] (it is {})", kind(other)),
                    },
                    keys: vec![],
                });
            }
        };
        match &seg {
            Segment::Key(k) if k.contains(['.', '[', ']', '"']) => {
                walked.push_str(&format!(
                    "{}{k:?}",
                    if walked.is_empty() { "" } else { "." }
                ));
            }
            Segment::Key(k) => {
                walked.push_str(&format!("{}{k}", if walked.is_empty() { "" } else { "." }))
            }
            Segment::Index(n) => walked.push_str(&format!("[{n}]")),
        }
        at.clone_from(&walked);
        cur = next;
    }
    Ok(cur)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Renders a value for shell use: strings raw (no quotes), scalars as JSON, objects and
/// arrays as pretty JSON.
pub fn render_raw(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => {
            serde_json::to_string_pretty(value).unwrap_or_default()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "format": 1,
            "images": {
                "hello": {"platforms": {"linux/amd64": {"manifest": {"digest": "sha256:aa"}}}},
                "ghcr.io/x": {"layout": "oci"}
            },
            "steps": [{"step": "build"}, {"step": "push"}]
        })
    }

    #[test]
    fn paths() {
        let d = doc();
        assert_eq!(get(&d, "format").unwrap(), &json!(1));
        assert_eq!(
            get(&d, "images.hello.platforms.linux/amd64.manifest.digest").unwrap(),
            &json!("sha256:aa")
        );
        assert_eq!(
            get(&d, "images.\"ghcr.io/x\".layout").unwrap(),
            &json!("oci")
        );
        assert_eq!(
            get(&d, "images[\"ghcr.io/x\"].layout").unwrap(),
            &json!("oci")
        );
        assert_eq!(get(&d, "steps[1].step").unwrap(), &json!("push"));
        assert_eq!(get(&d, "steps.0.step").unwrap(), &json!("build"));
        assert_eq!(get(&d, "steps.-1.step").unwrap(), &json!("push"));
        assert_eq!(get(&d, "steps.-2.step").unwrap(), &json!("build"));
        assert!(get(&d, "steps.-3.step").is_err());
        assert_eq!(get(&d, "").unwrap(), &d);
    }

    #[test]
    fn errors_say_what_exists() {
        let d = doc();
        let e = get(&d, "images.nope.layout").unwrap_err().to_string();
        assert_eq!(e, "`images` has no key `nope`; it has: ghcr.io/x, hello");
        let e = get(&d, "steps[5]").unwrap_err().to_string();
        assert!(
            e.contains("no element [5]") && e.contains("2 elements"),
            "{e}"
        );
        let e = get(&d, "format.x").unwrap_err().to_string();
        assert!(e.contains("it is a number"), "{e}");
        assert!(matches!(get(&d, "a..b"), Err(QueryError::Syntax { .. })));
        assert!(matches!(get(&d, "a.\"b"), Err(QueryError::Syntax { .. })));
        assert!(matches!(get(&d, "a[x]"), Err(QueryError::Syntax { .. })));
    }

    #[test]
    fn raw_rendering() {
        assert_eq!(render_raw(&json!("sha256:aa")), "sha256:aa");
        assert_eq!(render_raw(&json!(3)), "3");
        assert_eq!(render_raw(&json!(null)), "null");
        assert_eq!(render_raw(&json!({"a":1})), "{\n  \"a\": 1\n}");
    }
}
