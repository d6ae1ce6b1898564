//! SBOMs from what is really inside an OCI image.
//!
//! - [`image`]: streams a platform manifest's layers from a layout (whiteouts applied) into the
//!   final files with their sha256/sha1, and what the binaries and package databases say;
//! - [`golang`]: Go build information from ELF, PE and Mach-O (what `go version -m` prints);
//! - [`rust`]: `cargo auditable` dependency lists;
//! - [`os`]: dpkg and apk databases, os-release;
//! - [`Sbom::build`]: packages with purls and relationships;
//! - [`spdx`] and [`cyclonedx`]: SPDX 2.3 JSON and CycloneDX 1.6 JSON writers. Their output is a
//!   function of the image and the given creation time only, so the same image gives the same
//!   bytes.
#![deny(missing_docs)]

pub mod cyclonedx;
pub mod golang;
pub mod image;
pub mod os;
pub mod rust;
pub mod spdx;

use packageurl::PackageUrl;
use slipway_types::Digest;

pub use image::FileEntry;

/// Why an SBOM could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// The image could not be read from the layout.
    #[error("{0}")]
    Image(String),
}

/// Package ecosystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ecosystem {
    /// A Go module, or the Go standard library.
    Golang,
    /// A Rust crate.
    Cargo,
    /// A Debian package.
    Deb,
    /// An Alpine package.
    Apk,
}

impl Ecosystem {
    /// Short name (`golang`, `cargo`, `deb`, `apk`), as in purls.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Golang => "golang",
            Ecosystem::Cargo => "cargo",
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
        }
    }
}

/// A package found in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Name (Go module path, crate name, package name).
    pub name: String,
    /// Version, when known.
    pub version: Option<String>,
    /// Package URL.
    pub purl: String,
    /// SHA-256 the package manager records (Go's `h1:` hash, decoded), hex.
    pub sha256: Option<String>,
    /// Licenses the package database declares.
    pub licenses: Vec<String>,
    /// The file it was found in (`/usr/local/bin/app`, `/var/lib/dpkg/status`).
    pub location: String,
    /// The main module of a Go binary or the root crate of a Rust one.
    pub main: bool,
    /// Only needed at build time (Rust build dependencies, proc macros).
    pub build_only: bool,
    /// Indexes of the packages it depends on.
    pub depends_on: Vec<usize>,
    /// Supplier / maintainer, when declared.
    pub supplier: Option<String>,
    /// Extra facts (`go.version`, `go.build.GOOS`, `go.h1`, `go.replaces`, `cargo.source`, ...).
    pub properties: Vec<(String, String)>,
}

/// The SBOM of one platform manifest.
#[derive(Debug, Clone)]
pub struct Sbom {
    /// Image name.
    pub name: String,
    /// Manifest digest.
    pub digest: Digest,
    /// `os/arch[/variant]`.
    pub platform: Option<String>,
    /// Creation time written into the documents (RFC 3339, UTC, seconds).
    pub created: String,
    /// `slipway` version.
    pub tool_version: String,
    /// Packages, in a stable order.
    pub packages: Vec<Package>,
    /// Every regular file, by path.
    pub files: Vec<FileEntry>,
    /// The distribution (os-release `ID`, `VERSION_ID`), when the image has one.
    pub os: Option<(String, Option<String>)>,
    /// What could not be analysed (listed, not fatal).
    pub warnings: Vec<String>,
}

fn golang_purl(path: &str, version: Option<&str>) -> String {
    let (ns, name) = match path.rsplit_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, path),
    };
    let mut p = match PackageUrl::new("golang", name) {
        Ok(p) => p,
        Err(_) => return format!("pkg:golang/{path}"),
    };
    if let Some(ns) = ns {
        let _ = p.with_namespace(ns);
    }
    if let Some(v) = version {
        let _ = p.with_version(v);
    }
    p.to_string()
}

fn purl(
    ty: &str,
    ns: Option<&str>,
    name: &str,
    version: Option<&str>,
    q: &[(&str, Option<&str>)],
) -> String {
    let Ok(mut p) = PackageUrl::new(ty, name) else {
        return format!("pkg:{ty}/{name}");
    };
    if let Some(ns) = ns {
        let _ = p.with_namespace(ns);
    }
    if let Some(v) = version {
        let _ = p.with_version(v);
    }
    for (k, v) in q {
        if let Some(v) = v {
            let _ = p.add_qualifier(*k, *v);
        }
    }
    p.to_string()
}

/// `pkg:oci/NAME@DIGEST?arch=…` for the image itself.
pub fn image_purl(name: &str, digest: &Digest, platform: Option<&str>) -> String {
    let last = name.rsplit('/').next().unwrap_or(name).to_lowercase();
    let arch = platform.and_then(|p| p.split('/').nth(1));
    purl(
        "oci",
        None,
        &last,
        Some(&digest.to_string()),
        &[("arch", arch)],
    )
}

impl Sbom {
    /// Builds the SBOM of an image from what [`image::read`] found.
    pub fn build(
        name: &str,
        digest: &Digest,
        config: &image::ImageConfig,
        contents: image::Contents,
        created: String,
        tool_version: &str,
    ) -> Sbom {
        let mut packages: Vec<Package> = Vec::new();
        for (path, info) in &contents.go {
            let location = format!("/{path}");
            let main_idx = packages.len();
            let main = info.main.clone().unwrap_or(golang::Module {
                path: info.path.clone().unwrap_or_else(|| path.clone()),
                version: String::new(),
                sum: None,
                replace: None,
            });
            let mut props = vec![("go.version".to_owned(), info.go_version.clone())];
            if let Some(p) = &info.path {
                props.push(("go.path".into(), p.clone()));
            }
            for (k, v) in &info.settings {
                props.push((format!("go.build.{k}"), v.clone()));
            }
            packages.push(go_package(&main, &location, true, props));
            let go_v = info.go_version.trim_start_matches("go");
            let std_version = go_v.split([' ', '-']).next().unwrap_or(go_v).to_owned();
            let std_idx = packages.len();
            packages.push(Package {
                ecosystem: Ecosystem::Golang,
                name: "stdlib".into(),
                version: Some(format!("v{std_version}")),
                purl: golang_purl("stdlib", Some(&format!("v{std_version}"))),
                sha256: None,
                // The binary does not say; the SBOM does not guess.
                licenses: Vec::new(),
                location: location.clone(),
                main: false,
                build_only: false,
                depends_on: Vec::new(),
                supplier: None,
                properties: vec![("go.version".into(), info.go_version.clone())],
            });
            let mut deps = vec![std_idx];
            for d in &info.deps {
                deps.push(packages.len());
                packages.push(go_package(d, &location, false, Vec::new()));
            }
            packages[main_idx].depends_on = deps;
        }
        for (path, crates) in &contents.rust {
            let location = format!("/{path}");
            let base = packages.len();
            for c in crates {
                packages.push(Package {
                    ecosystem: Ecosystem::Cargo,
                    name: c.name.clone(),
                    version: Some(c.version.clone()),
                    purl: purl("cargo", None, &c.name, Some(&c.version), &[]),
                    sha256: None,
                    licenses: Vec::new(),
                    location: location.clone(),
                    main: c.root,
                    build_only: c.build_only,
                    depends_on: c.dependencies.iter().map(|i| base + i).collect(),
                    supplier: None,
                    properties: vec![("cargo.source".into(), c.source.clone())],
                });
            }
        }
        let (distro_id, distro_version) = contents
            .os_release
            .as_ref()
            .map(|r| (r.id().map(str::to_owned), r.version_id().map(str::to_owned)))
            .unwrap_or_default();
        for (path, (kind, list)) in &contents.os_packages {
            let location = format!("/{path}");
            let mut list = list.clone();
            list.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
            for p in list {
                let (eco, ns_default, distro) = if kind == "apk" {
                    (Ecosystem::Apk, "alpine", distro_version.clone())
                } else {
                    (
                        Ecosystem::Deb,
                        "debian",
                        match (&distro_id, &distro_version) {
                            (Some(i), Some(v)) => Some(format!("{i}-{v}")),
                            _ => None,
                        },
                    )
                };
                let ns = distro_id.clone().unwrap_or_else(|| ns_default.to_owned());
                let mut props = Vec::new();
                if let Some(s) = &p.source {
                    props.push((format!("{}.source", eco.as_str()), s.clone()));
                }
                let mut licenses: Vec<String> = p.license.clone().into_iter().collect();
                if eco == Ecosystem::Deb
                    && let Some(names) = contents
                        .copyrights
                        .get(&format!("usr/share/doc/{}/copyright", p.name))
                {
                    // As SPDX, with the file's own words kept alongside.
                    let parts: Vec<String> = names.iter().map(|n| os::dep5_to_spdx(n)).collect();
                    let expr = match parts.as_slice() {
                        [] => None,
                        [one] => Some(one.clone()),
                        many => Some(
                            many.iter()
                                .map(|p| {
                                    if p.contains(' ') {
                                        format!("({p})")
                                    } else {
                                        p.clone()
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(" AND "),
                        ),
                    };
                    licenses.extend(expr);
                    props.push(("deb.copyright.license".into(), names.join("; ")));
                }
                packages.push(Package {
                    ecosystem: eco,
                    purl: purl(
                        eco.as_str(),
                        Some(&ns),
                        &p.name,
                        Some(&p.version),
                        &[("arch", p.arch.as_deref()), ("distro", distro.as_deref())],
                    ),
                    name: p.name,
                    version: Some(p.version),
                    sha256: None,
                    licenses,
                    location: location.clone(),
                    main: false,
                    build_only: false,
                    depends_on: Vec::new(),
                    supplier: p.maintainer,
                    properties: props,
                });
            }
        }
        Sbom {
            name: name.to_owned(),
            digest: digest.clone(),
            platform: config.platform.clone(),
            created,
            tool_version: tool_version.to_owned(),
            packages,
            files: contents.files.into_values().collect(),
            os: distro_id.map(|id| (id, distro_version)),
            warnings: contents.warnings,
        }
    }

    /// A stable UUID for a document of `kind` about this image (namespace / serial number).
    pub fn uuid(&self, kind: &str) -> uuid::Uuid {
        uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!(
                "slipway:{kind}:{}:{}:{}",
                self.name, self.digest, self.tool_version
            )
            .as_bytes(),
        )
    }
}

fn go_package(
    m: &golang::Module,
    location: &str,
    main: bool,
    mut props: Vec<(String, String)>,
) -> Package {
    let eff = m.effective();
    let local = eff.path.starts_with('.') || eff.path.starts_with('/');
    if let Some(r) = &m.replace {
        props.push(("go.replaces".into(), format!("{} {}", m.path, m.version)));
        if local {
            props.push(("go.replacement.dir".into(), r.path.clone()));
        }
    }
    // A local directory replacement has no module version: keep the original path.
    let (name, version) = if local {
        (m.path.clone(), None)
    } else {
        (
            eff.path.clone(),
            Some(eff.version.clone()).filter(|v| !v.is_empty()),
        )
    };
    let purl_version = version.as_deref().filter(|v| *v != "(devel)");
    if let Some(h) = &eff.sum {
        props.push(("go.h1".into(), h.clone()));
    }
    Package {
        ecosystem: Ecosystem::Golang,
        purl: golang_purl(&name, purl_version),
        name,
        version,
        sha256: eff.sum.as_deref().and_then(golang::h1_to_hex),
        licenses: Vec::new(),
        location: location.to_owned(),
        main,
        build_only: false,
        depends_on: Vec::new(),
        supplier: None,
        properties: props,
    }
}
