//! Platforms (`os/arch[/variant]`) as the OCI image index names them.

use std::fmt;
use std::str::FromStr;

/// A target platform such as `linux/amd64` or `linux/arm/v7`.
///
/// Components are lowercase ASCII letters, digits and `_`/`.`; the form is the one used by
/// `docker --platform`, OCI image indexes and GitHub matrix names.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// Why a string is not a platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a platform: {reason} (expected `os/arch` or `os/arch/variant`, e.g. `linux/arm/v7`)"
)]
pub struct PlatformError {
    input: String,
    reason: &'static str,
}

impl Platform {
    /// Builds a platform from parts, validating each.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Result<Self, PlatformError> {
        let s = match variant {
            Some(v) => format!("{os}/{architecture}/{v}"),
            None => format!("{os}/{architecture}"),
        };
        s.parse()
    }

    /// Operating system (`GOOS` spelling), e.g. `linux`.
    pub fn os(&self) -> &str {
        &self.os
    }

    /// Architecture (`GOARCH` spelling), e.g. `amd64`.
    pub fn architecture(&self) -> &str {
        &self.architecture
    }

    /// CPU variant, e.g. `v7` for `arm`.
    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    /// A form safe in file names and CI job names: `linux-arm-v7`.
    pub fn slug(&self) -> String {
        self.to_string().replace('/', "-")
    }
}

fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && c.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| PlatformError {
            input: s.to_owned(),
            reason,
        };
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(err("wrong number of `/`-separated parts"));
        }
        if !parts.iter().all(|p| valid_component(p)) {
            return Err(err(
                "parts must be non-empty lowercase letters, digits, `_` or `.`",
            ));
        }
        Ok(Platform {
            os: parts[0].to_owned(),
            architecture: parts[1].to_owned(),
            variant: parts.get(2).map(|v| (*v).to_owned()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Platform({self})")
    }
}

crate::string_type!(
    Platform,
    "Platform",
    "A platform: `os/arch` or `os/arch/variant`, e.g. `linux/arm/v7`.",
    Some("^[a-z0-9_.]+/[a-z0-9_.]+(/[a-z0-9_.]+)?$")
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(
            (p.os(), p.architecture(), p.variant()),
            ("linux", "arm", Some("v7"))
        );
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert_eq!(p.slug(), "linux-arm-v7");
        let p: Platform = "linux/amd64".parse().unwrap();
        assert_eq!(p.variant(), None);
    }

    #[test]
    fn rejects() {
        for bad in [
            "linux",
            "linux/",
            "Linux/amd64",
            "linux/amd64/v8/x",
            "linux amd64",
        ] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_by_parts() {
        let mut v: Vec<Platform> = ["linux/arm64", "linux/amd64", "linux/arm/v7"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        v.sort();
        let names: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["linux/amd64", "linux/arm/v7", "linux/arm64"]);
    }
}
