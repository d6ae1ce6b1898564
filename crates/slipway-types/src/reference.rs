//! Image references: `[registry/]path[:tag][@digest]`, normalised the way Docker tooling does.

use std::fmt;
use std::str::FromStr;

use crate::Digest;

/// The registry Docker tooling assumes when a reference names none.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_ALIASES: &[&str] = &["index.docker.io", "registry-1.docker.io"];
const MAX_NAME_LEN: usize = 255;

/// A valid OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(String);

/// Why a string is not a tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a valid tag: tags are 1–128 characters of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
)]
pub struct TagError(String);

impl Tag {
    /// The tag as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_tag(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric() || b == b'_')
        && s.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl FromStr for Tag {
    type Err = TagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_tag(s) {
            Ok(Tag(s.to_owned()))
        } else {
            Err(TagError(s.to_owned()))
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tag({})", self.0)
    }
}

crate::string_type!(
    Tag,
    "Tag",
    "An OCI tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.",
    Some("^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
);

/// Turns an arbitrary string (a branch name, a semver with build metadata) into a valid tag.
///
/// Characters outside the tag alphabet become `-`, a leading `.`/`-` becomes `_`, and the
/// result is cut to 128 characters. Returns `None` when nothing usable is left. The boolean
/// says whether the input had to change, so callers can tell the user.
pub fn sanitize_tag(input: &str) -> Option<(Tag, bool)> {
    let mut out: String = input
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if out.starts_with(['.', '-']) {
        out.replace_range(0..1, "_");
    }
    if out.is_empty() || out.bytes().all(|b| matches!(b, b'-' | b'_' | b'.')) {
        return None;
    }
    let changed = out != input;
    Some((Tag(out), changed))
}

/// A repository: a registry host (with optional port) and a path, e.g. `ghcr.io/acme/app`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository {
    registry: String,
    path: String,
}

/// A reference to an image: a repository plus a tag, a digest, or both.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    repository: Repository,
    tag: Option<Tag>,
    digest: Option<Digest>,
}

/// Why a string is not a reference or repository.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a valid image reference: {reason}")]
pub struct ReferenceError {
    input: String,
    reason: String,
}

fn ref_err(input: &str, reason: impl Into<String>) -> ReferenceError {
    ReferenceError {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run: ".", "_", "__" or one or more "-"
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_registry(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: [::1]:5000
        match rest.split_once(']') {
            Some((addr, tail)) => {
                if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
                    return false;
                }
                (None, tail.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(host), None),
        }
    };
    let name_ok = name.is_none_or(|n| {
        !n.is_empty()
            && n.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    name_ok && port_ok
}

/// Splits `name` into registry and path following Docker's rules: the first component is a
/// registry when it contains `.` or `:`, is `localhost`, or has uppercase letters.
fn split_registry(name: &str) -> (String, String) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DOCKER_HUB.to_owned(), name.to_owned()),
    }
}

impl Repository {
    /// The registry host, with port when one was given (`docker.io` for Docker Hub).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry, e.g. `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The host to contact for the registry API (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            &self.registry
        }
    }

    /// A reference to this repository with a tag.
    pub fn with_tag(&self, tag: Tag) -> Reference {
        Reference {
            repository: self.clone(),
            tag: Some(tag),
            digest: None,
        }
    }

    /// A reference to this repository by digest.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            repository: self.clone(),
            tag: None,
            digest: Some(digest),
        }
    }
}

impl FromStr for Repository {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let r: Reference = s.parse()?;
        if r.tag.is_some() || r.digest.is_some() {
            return Err(ref_err(s, "a repository takes no tag or digest"));
        }
        Ok(r.repository)
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Repository({self})")
    }
}

impl Reference {
    /// The repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The tag, when one was given.
    pub fn tag(&self) -> Option<&Tag> {
        self.tag.as_ref()
    }

    /// The digest, when one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same reference pinned to `digest` (the tag is kept for display).
    pub fn pinned(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ref_err(s, "it is empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(d.parse::<Digest>().map_err(|e| ref_err(s, e.to_string()))?),
            ),
            None => (s, None),
        };
        // A tag is the part after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                let tag = t.parse::<Tag>().map_err(|e| ref_err(s, e.to_string()))?;
                (&rest[..last_slash + i], Some(tag))
            }
            None => (rest, None),
        };
        let (mut registry, mut path) = split_registry(name);
        if DOCKER_HUB_ALIASES.contains(&registry.as_str()) {
            registry = DOCKER_HUB.to_owned();
        }
        if !is_registry(&registry) {
            return Err(ref_err(
                s,
                format!("`{registry}` is not a valid registry host"),
            ));
        }
        if registry == DOCKER_HUB && !path.contains('/') {
            path = format!("library/{path}");
        }
        if path.is_empty() {
            return Err(ref_err(s, "the repository path is empty"));
        }
        if let Some(bad) = path.split('/').find(|c| !is_path_component(c)) {
            let reason = if bad.bytes().any(|b| b.is_ascii_uppercase()) {
                format!("repository path component `{bad}` must be lowercase")
            } else {
                format!(
                    "repository path component `{bad}` is invalid (lowercase letters, digits and single `.`, `_`, `__` or `-` runs between them)"
                )
            };
            return Err(ref_err(s, reason));
        }
        if registry.len() + 1 + path.len() > MAX_NAME_LEN {
            return Err(ref_err(
                s,
                format!("the name is longer than {MAX_NAME_LEN} characters"),
            ));
        }
        Ok(Reference {
            repository: Repository { registry, path },
            tag,
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

crate::string_type!(
    Reference,
    "Reference",
    "An image reference: `registry/path[:tag][@sha256:…]`, normalised (Docker Hub names gain `docker.io/` and `library/`).",
    None
);
crate::string_type!(
    Repository,
    "Repository",
    "A repository: `registry/path`, e.g. `ghcr.io/acme/app`.",
    None
);

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn r(s: &str) -> Reference {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(r("alpine").to_string(), "docker.io/library/alpine");
        assert_eq!(
            r("alpine:3.20").to_string(),
            "docker.io/library/alpine:3.20"
        );
        assert_eq!(r("acme/app").to_string(), "docker.io/acme/app");
        assert_eq!(
            r("index.docker.io/alpine").to_string(),
            "docker.io/library/alpine"
        );
        assert_eq!(r("alpine").repository().api_host(), "registry-1.docker.io");
    }

    #[test]
    fn registries_ports_digests() {
        let x = r(&format!("127.0.0.1:5000/team/app:v1@{D}"));
        assert_eq!(x.repository().registry(), "127.0.0.1:5000");
        assert_eq!(x.repository().path(), "team/app");
        assert_eq!(x.tag().unwrap().as_str(), "v1");
        assert_eq!(x.digest().unwrap().to_string(), D);
        let x = r("localhost/app");
        assert_eq!(x.repository().registry(), "localhost");
        let x = r("localhost:5000/app");
        assert_eq!(x.repository().registry(), "localhost:5000");
        assert!(x.tag().is_none());
        let x = r("[::1]:5000/app:1");
        assert_eq!(x.repository().registry(), "[::1]:5000");
        let x = r("ghcr.io/acme/my-app__x.y:1.2.3");
        assert_eq!(x.repository().path(), "acme/my-app__x.y");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "App",
            "ghcr.io/Acme/app",
            "ghcr.io/acme/app:",
            "ghcr.io/acme/app:-bad",
            "ghcr.io/acme/app@sha256:1234",
            "ghcr.io//app",
            "ghcr.io/acme/app-",
            "ghcr.io:port/app",
            "ghcr.io/acme/a..b",
        ] {
            assert!(
                bad.parse::<Reference>().is_err(),
                "{bad:?} should be rejected"
            );
        }
        let e = "ghcr.io/Acme/app".parse::<Reference>().unwrap_err();
        assert!(e.to_string().contains("must be lowercase"), "{e}");
    }

    #[test]
    fn repository_rejects_tag() {
        assert!("ghcr.io/acme/app".parse::<Repository>().is_ok());
        assert!("ghcr.io/acme/app:1".parse::<Repository>().is_err());
    }

    #[test]
    fn tags() {
        assert!("latest".parse::<Tag>().is_ok());
        assert!("_x".parse::<Tag>().is_ok());
        assert!("a".repeat(128).parse::<Tag>().is_ok());
        assert!("a".repeat(129).parse::<Tag>().is_err());
        assert!(".x".parse::<Tag>().is_err());
        assert!("1.2.3+sha".parse::<Tag>().is_err());
    }

    #[test]
    fn sanitises() {
        assert_eq!(
            sanitize_tag("1.2.3+abc").unwrap(),
            ("1.2.3-abc".parse().unwrap(), true)
        );
        assert_eq!(sanitize_tag("feature/x").unwrap().0.as_str(), "feature-x");
        assert_eq!(sanitize_tag("-x").unwrap().0.as_str(), "_x");
        assert_eq!(
            sanitize_tag("main").unwrap(),
            ("main".parse().unwrap(), false)
        );
        assert!(sanitize_tag("///").is_none());
        assert_eq!(
            sanitize_tag(&"a".repeat(300)).unwrap().0.as_str().len(),
            128
        );
    }
}
