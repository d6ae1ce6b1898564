//! The one place errors become text and exit codes.

use std::fmt;

use slipway_types::{Diagnostic, ExitClass};

/// A failed command: the error (with its `source()` chain), its class and a hint.
#[derive(Debug)]
pub struct Failure {
    /// Decides the exit code.
    pub class: ExitClass,
    /// The error; its `source()` chain is printed as "caused by" lines.
    pub error: Box<dyn std::error::Error + Send + Sync + 'static>,
    /// Printed as `hint: ...`.
    pub hint: Option<String>,
}

/// A plain message as an error.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// A message with the command's data document, so that `--output-format json` prints one
/// document (the data with an `error` member) rather than the data and then the error.
#[derive(Debug)]
struct WithData {
    message: String,
    data: serde_json::Value,
}

impl fmt::Display for WithData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WithData {}

impl<E: Diagnostic> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure {
            class: e.exit_class(),
            hint: e.hint(),
            error: Box::new(e),
        }
    }
}

impl Failure {
    /// A failure of `class` with a message.
    pub fn new(class: ExitClass, message: impl Into<String>) -> Failure {
        Failure {
            class,
            error: Box::new(Message(message.into())),
            hint: None,
        }
    }

    /// Bad input or usage (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(ExitClass::Usage, message)
    }

    /// A gate or policy said no (exit 1).
    pub fn denied(message: impl Into<String>) -> Failure {
        Failure::new(ExitClass::Denied, message)
    }

    /// A gate said no (exit 1), with the data document it reached (a verdict).
    pub fn denied_with_data(message: impl Into<String>, data: serde_json::Value) -> Failure {
        Failure {
            class: ExitClass::Denied,
            error: Box::new(WithData {
                message: message.into(),
                data,
            }),
            hint: None,
        }
    }

    /// An external system failed (exit 3).
    pub fn external(message: impl Into<String>) -> Failure {
        Failure::new(ExitClass::External, message)
    }

    /// Wraps any error with a class.
    pub fn wrap(
        class: ExitClass,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Failure {
        Failure {
            class,
            error: Box::new(error),
            hint: None,
        }
    }

    /// Adds (or replaces) the hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// The top message and the messages of its causes.
    pub fn chain(&self) -> Vec<String> {
        let mut out = vec![self.error.to_string()];
        let mut cur = self.error.source();
        while let Some(e) = cur {
            let msg = e.to_string();
            // Some errors repeat their source's message in their own; print each once.
            if out.last() != Some(&msg) {
                out.push(msg);
            }
            cur = e.source();
        }
        out
    }

    /// The exit code.
    pub fn code(&self) -> u8 {
        self.class.code()
    }

    /// The failure as JSON (for `--output-format json`): the data document, when the failure
    /// carries one, with an `error` member.
    pub fn to_json(&self) -> serde_json::Value {
        let chain = self.chain();
        let error = serde_json::json!({
            "class": self.class.label(),
            "exit_code": self.code(),
            "message": chain[0],
            "causes": &chain[1..],
            "hint": self.hint,
        });
        match self.error.downcast_ref::<WithData>() {
            Some(WithData {
                data: serde_json::Value::Object(map),
                ..
            }) => {
                let mut map = map.clone();
                map.insert("error".into(), error);
                serde_json::Value::Object(map)
            }
            _ => serde_json::json!({ "error": error }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    impl Diagnostic for Outer {
        fn exit_class(&self) -> ExitClass {
            ExitClass::External
        }
        fn hint(&self) -> Option<String> {
            Some("try again".into())
        }
    }

    #[test]
    fn chain_and_class() {
        let f: Failure = Outer(std::io::Error::other("inner")).into();
        assert_eq!(f.code(), 3);
        assert_eq!(f.chain(), ["outer", "inner"]);
        assert_eq!(f.hint.as_deref(), Some("try again"));
        let j = f.to_json();
        assert_eq!(j["error"]["class"], "external");
        assert_eq!(j["error"]["causes"][0], "inner");
    }
}
