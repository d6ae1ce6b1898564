//! Keeping secrets out of everything Slipway prints.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

/// Secrets registered so far; shared (cheap clones) between the CI layer and the printer.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

/// Shorter values are not redacted: replacing every `1` or `ab` in the output would destroy it
/// and reveal more than it hides (GitHub behaves the same way for very short secrets).
const MIN_SECRET_LEN: usize = 3;

impl Redactor {
    /// Registers a secret (and each of its lines, for multiline secrets).
    pub fn register(&self, secret: &str) {
        let mut secrets = self
            .secrets
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut add = |s: &str| {
            if s.len() >= MIN_SECRET_LEN && !secrets.iter().any(|x| x == s) {
                secrets.push(s.to_owned());
            }
        };
        add(secret);
        if secret.contains('\n') {
            secret.lines().map(str::trim).for_each(&mut add);
        }
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every registered secret replaced by `***`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let secrets = self
            .secrets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Cow::Borrowed(text);
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), "***"));
            }
        }
        out
    }

    /// Whether any secret is registered.
    pub fn is_empty(&self) -> bool {
        self.secrets
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_longest_first_and_lines() {
        let r = Redactor::default();
        r.register("abc");
        r.register("abcdef");
        r.register("line-one\nline-two");
        r.register("x");
        assert_eq!(r.redact("abcdef abc x"), "*** *** x");
        assert_eq!(r.redact("got line-two only"), "got *** only");
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }
}
