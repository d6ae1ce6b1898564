//! OS packages: the dpkg database (`/var/lib/dpkg/status`, and distroless'
//! `/var/lib/dpkg/status.d/*`), the apk database (`/lib/apk/db/installed`) and `os-release`.

use std::collections::BTreeMap;

/// An installed OS package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsPackage {
    /// Package name.
    pub name: String,
    /// Version, as the package manager writes it.
    pub version: String,
    /// Architecture.
    pub arch: Option<String>,
    /// Source package (dpkg `Source:` without its version, apk origin).
    pub source: Option<String>,
    /// License (apk `L:`; dpkg keeps licenses in copyright files).
    pub license: Option<String>,
    /// Maintainer.
    pub maintainer: Option<String>,
}

/// `ID`, `VERSION_ID` and the rest of an os-release file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// Fields, unquoted.
    pub fields: BTreeMap<String, String>,
}

impl OsRelease {
    /// Parses `KEY=value` lines (values optionally quoted).
    pub fn parse(text: &str) -> OsRelease {
        let fields = text
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                if l.starts_with('#') {
                    return None;
                }
                let (k, v) = l.split_once('=')?;
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                    .unwrap_or(v);
                Some((k.trim().to_owned(), v.replace("\\\"", "\"")))
            })
            .collect();
        OsRelease { fields }
    }

    /// `ID` (e.g. `debian`, `alpine`).
    pub fn id(&self) -> Option<&str> {
        self.fields.get("ID").map(String::as_str)
    }

    /// `VERSION_ID` (e.g. `12`, `3.19.1`).
    pub fn version_id(&self) -> Option<&str> {
        self.fields.get("VERSION_ID").map(String::as_str)
    }
}

/// Paragraphs of an RFC 822-style control file: field name → value (continuation lines
/// joined with `\n`).
fn paragraphs(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    let mut cur: BTreeMap<String, String> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            last = None;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(k) = &last
                && let Some(v) = cur.get_mut(k)
            {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim().to_owned();
            cur.insert(k.clone(), v.trim().to_owned());
            last = Some(k);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Installed packages of a dpkg status file. Entries whose `Status` is not `… installed` are
/// left out; files without a `Status` field (distroless' `status.d`) count as installed.
pub fn dpkg(text: &str) -> Vec<OsPackage> {
    paragraphs(text)
        .into_iter()
        .filter(|p| {
            p.get("Status")
                .is_none_or(|s| s.split_whitespace().last() == Some("installed"))
        })
        .filter_map(|p| {
            Some(OsPackage {
                name: p.get("Package")?.clone(),
                version: p.get("Version")?.clone(),
                arch: p.get("Architecture").cloned(),
                source: p
                    .get("Source")
                    .and_then(|s| s.split_whitespace().next())
                    .map(str::to_owned),
                license: None,
                maintainer: p.get("Maintainer").cloned(),
            })
        })
        .collect()
}

/// Installed packages of an apk database (`P:` name, `V:` version, `A:` arch, `L:` license,
/// `o:` origin, `m:` maintainer).
pub fn apk(text: &str) -> Vec<OsPackage> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut f: BTreeMap<&str, &str> = BTreeMap::new();
        for line in block.lines() {
            if let Some((k, v)) = line.split_once(':')
                && k.len() == 1
            {
                f.entry(k).or_insert(v);
            }
        }
        if let (Some(n), Some(v)) = (f.get("P"), f.get("V")) {
            out.push(OsPackage {
                name: (*n).to_owned(),
                version: (*v).to_owned(),
                arch: f.get("A").map(|s| (*s).to_owned()),
                source: f.get("o").map(|s| (*s).to_owned()),
                license: f.get("L").map(|s| (*s).to_owned()),
                maintainer: f.get("m").map(|s| (*s).to_owned()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_installed_only() {
        let t = "Package: a\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\nSource: asrc (1.0-0)\nDescription: x\n more\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n\nPackage: c\nVersion: 3\n";
        let p = dpkg(t);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source.as_deref(), Some("asrc"));
        assert_eq!(p[1].name, "c");
    }

    #[test]
    fn apk_db() {
        let t = "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:busybox\nV:1.36.1-r5\nA:x86_64\nL:GPL-2.0-only\n";
        let p = apk(t);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].license.as_deref(), Some("GPL-2.0-only"));
    }

    #[test]
    fn os_release() {
        let r = OsRelease::parse("ID=debian\nVERSION_ID=\"12\"\n# c\n");
        assert_eq!((r.id(), r.version_id()), (Some("debian"), Some("12")));
    }
}
