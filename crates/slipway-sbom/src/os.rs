//! OS packages: the dpkg database (`/var/lib/dpkg/status`, and distroless'
//! `/var/lib/dpkg/status.d/*`), the apk database (`/lib/apk/db/installed`), `os-release`, and the
//! licenses of Debian packages from their machine-readable copyright files
//! (`/usr/share/doc/PACKAGE/copyright`, DEP-5).

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

/// The licenses a machine-readable (DEP-5) copyright file declares: the short name (first line)
/// of the `License:` field of its header and of every `Files:` paragraph, in order, each once.
/// `None` for a free-form copyright file (no `Format:` header): nothing to read reliably.
pub fn dep5_licenses(text: &str) -> Option<Vec<String>> {
    let paras = paragraphs(text);
    let header = paras.first()?;
    let format = header
        .get("Format")
        .or_else(|| header.get("Format-Specification"))?;
    if !format.contains("copyright-format") && !format.contains("dep5") && !format.contains("DEP-5")
    {
        return None;
    }
    let mut out: Vec<String> = Vec::new();
    for (i, p) in paras.iter().enumerate() {
        // Stand-alone `License:` paragraphs hold the texts of licenses named elsewhere.
        if i > 0 && !p.contains_key("Files") {
            continue;
        }
        if let Some(l) = p.get("License") {
            let short = l.lines().next().unwrap_or_default().trim().to_owned();
            if !short.is_empty() && !out.contains(&short) {
                out.push(short);
            }
        }
    }
    Some(out)
}

/// A DEP-5 license short name (or expression, `GPL-2+ or Artistic`) as an SPDX license
/// expression: the standard short names of the copyright format map to SPDX ids (`GPL-2+` is
/// `GPL-2.0-or-later`, `Expat` is `MIT`); any other name becomes a `LicenseRef-`.
pub fn dep5_to_spdx(short: &str) -> String {
    let spaced = short.replace(',', " , ");
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        i += 1;
        let lower = word.to_ascii_lowercase();
        let mapped = match lower.as_str() {
            "or" | "|" => "OR".to_owned(),
            "and" | "," => "AND".to_owned(),
            // `GPL-3+ with Bison exception`: SPDX exceptions are a fixed list; a known one
            // keeps its id, an unknown one is left out of the expression (the license it
            // modifies stays, and the file's own words are kept beside the expression).
            "with" => {
                let mut name = Vec::new();
                while i < words.len() {
                    let w = words[i];
                    i += 1;
                    if w.eq_ignore_ascii_case("exception") {
                        break;
                    }
                    name.push(w);
                }
                match spdx_exception(&name.join(" ")) {
                    Some(e) => {
                        out.push("WITH".to_owned());
                        e.to_owned()
                    }
                    None => continue,
                }
            }
            _ => spdx_id(word),
        };
        // `A, and B` is one AND.
        if mapped == "AND" && out.last().is_some_and(|l| l == "AND") {
            continue;
        }
        out.push(mapped);
    }
    while out
        .last()
        .is_some_and(|l| matches!(l.as_str(), "AND" | "OR" | "WITH"))
    {
        out.pop();
    }
    out.join(" ")
}

fn spdx_exception(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "bison" => "Bison-exception-2.2",
        "autoconf" => "Autoconf-exception-3.0",
        "gcc" | "gcc-3.1" => "GCC-exception-3.1",
        "classpath" => "Classpath-exception-2.0",
        "llvm" => "LLVM-exception",
        "openssl" => "OpenSSL-exception",
        _ => return None,
    })
}

fn spdx_id(name: &str) -> String {
    let (base, later) = match name.strip_suffix('+') {
        Some(b) => (b, true),
        None => (name, false),
    };
    let gnu = |family: &str, v: &str| {
        let v = if v.contains('.') {
            v.to_owned()
        } else {
            format!("{v}.0")
        };
        format!("{family}-{v}-{}", if later { "or-later" } else { "only" })
    };
    let lower = base.to_ascii_lowercase();
    for family in ["agpl", "lgpl", "gpl", "gfdl"] {
        if let Some(v) = lower.strip_prefix(&format!("{family}-"))
            && !v.is_empty()
            && v.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            return gnu(&family.to_ascii_uppercase(), v);
        }
    }
    let known = match lower.as_str() {
        "expat" | "mit" => Some("MIT"),
        "apache-2.0" | "apache-2" => Some("Apache-2.0"),
        "apache-1.1" => Some("Apache-1.1"),
        "bsd-2-clause" => Some("BSD-2-Clause"),
        "bsd-3-clause" => Some("BSD-3-Clause"),
        "bsd-4-clause" => Some("BSD-4-Clause"),
        "isc" => Some("ISC"),
        "zlib" => Some("Zlib"),
        "cc0-1.0" | "cc0" => Some("CC0-1.0"),
        "mpl-1.1" => Some("MPL-1.1"),
        "mpl-2.0" => Some("MPL-2.0"),
        "artistic" | "artistic-1.0" => Some("Artistic-1.0"),
        "artistic-2.0" => Some("Artistic-2.0"),
        "python-2.0" => Some("Python-2.0"),
        "zope-2.1" => Some("ZPL-2.1"),
        "openssl" => Some("OpenSSL"),
        "curl" => Some("curl"),
        "ftl" => Some("FTL"),
        _ => None,
    };
    match known {
        Some(id) if later => format!("{id}+"),
        Some(id) => id.to_owned(),
        None => {
            let clean: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("LicenseRef-{clean}")
        }
    }
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
    fn dep5_copyright_files() {
        let t = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\nFiles: *\nCopyright: 2000 A\nLicense: GPL-2+\n\nFiles: lib/*\nCopyright: B\nLicense: Expat or BSD-3-clause\n\nLicense: GPL-2+\n This program is free software...\n";
        let l = dep5_licenses(t).unwrap();
        assert_eq!(l, ["GPL-2+", "Expat or BSD-3-clause"]);
        assert_eq!(dep5_to_spdx(&l[0]), "GPL-2.0-or-later");
        assert_eq!(dep5_to_spdx(&l[1]), "MIT OR BSD-3-Clause");
        assert_eq!(dep5_to_spdx("LGPL-2.1"), "LGPL-2.1-only");
        assert_eq!(dep5_to_spdx("public-domain"), "LicenseRef-public-domain");
        assert_eq!(
            dep5_to_spdx("GPL-3+ with Bison exception"),
            "GPL-3.0-or-later WITH Bison-exception-2.2"
        );
        assert_eq!(
            dep5_to_spdx("GPL-2+ with Foo exception"),
            "GPL-2.0-or-later"
        );
        assert!(dep5_licenses("This is free software.\n").is_none());
    }

    #[test]
    fn os_release() {
        let r = OsRelease::parse("ID=debian\nVERSION_ID=\"12\"\n# c\n");
        assert_eq!((r.id(), r.version_id()), (Some("debian"), Some("12")));
    }
}
