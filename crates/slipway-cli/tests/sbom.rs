//! Native SBOMs of real images, checked against independent readers: `go version -m` for Go
//! build info, objcopy + zlib for cargo-auditable data, dpkg-query and sha256sum over an
//! unpacked root filesystem for OS packages and files, spdx-tools and the CycloneDX 1.6
//! validator for the documents, and Trivy's own SBOM of the same layout.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{build_cmd, copy_example, read_json, run, tool_ok};
use serde_json::Value;
use slipway_test::{tool, validate_cyclonedx, validate_spdx};

fn umoci_unpack(layout: &Path, name: &str, bundle: &Path) {
    tool_ok(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:{name}", layout.display()),
            bundle.to_str().unwrap(),
        ],
    );
}

/// What `go version -m` says: the Go version, the modules linked (replacements applied) as
/// (path, version, sha256 hex of the h1 hash), and the build settings.
struct GoVersionM {
    go: String,
    modules: BTreeSet<(String, String, Option<String>)>,
    replaced: BTreeSet<String>,
    settings: BTreeSet<(String, String)>,
}

fn h1_hex(sum: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(sum.strip_prefix("h1:").unwrap())
        .unwrap();
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn go_version_m(bin: &Path) -> GoVersionM {
    let out = Command::new("go")
        .args(["version", "-m"])
        .arg(bin)
        .output()
        .unwrap();
    assert!(out.status.success(), "go version -m failed");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let go = lines.next().unwrap().rsplit(' ').next().unwrap().to_owned();
    let mut mods: Vec<(String, String, Option<String>)> = Vec::new();
    let mut replaced = BTreeSet::new();
    let mut settings = BTreeSet::new();
    for line in lines {
        let f: Vec<&str> = line.trim_start_matches('\t').split('\t').collect();
        let m = |f: &[&str]| {
            (
                f[1].to_owned(),
                f.get(2).copied().unwrap_or("").to_owned(),
                f.get(3).filter(|s| !s.is_empty()).map(|s| h1_hex(s)),
            )
        };
        match f[0] {
            "mod" | "dep" => mods.push(m(&f)),
            "=>" => {
                let old = mods.pop().unwrap();
                replaced.insert(format!("{} {}", old.0, old.1));
                mods.push(m(&f));
            }
            "build" => {
                let (k, v) = f[1].split_once('=').unwrap();
                settings.insert((k.to_owned(), v.trim_matches('"').to_owned()));
            }
            _ => {}
        }
    }
    GoVersionM {
        go,
        modules: mods.into_iter().collect(),
        replaced,
        settings,
    }
}

fn sbom_files(ex: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(ex.join(".slipway/sbom"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn assert_valid(files: &[PathBuf]) {
    for f in files {
        let name = f.to_string_lossy();
        let (ok, out) = if name.ends_with(".spdx.json") {
            validate_spdx(f)
        } else {
            validate_cyclonedx(f)
        };
        assert!(ok, "{name} is not valid:\n{out}");
    }
}

/// (name, version, sha256) of the CycloneDX components of an ecosystem.
fn cdx_packages(bom: &Value, eco: &str) -> BTreeSet<(String, String, Option<String>)> {
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["properties"].as_array().is_some_and(|p| {
                p.iter()
                    .any(|p| p["name"] == "slipway:ecosystem" && p["value"] == eco)
            })
        })
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap_or("").to_owned(),
                c["hashes"][0]["content"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// The same from the SPDX document (packages whose purl has the ecosystem's type).
fn spdx_packages(doc: &Value, eco: &str) -> BTreeSet<(String, String, Option<String>)> {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["externalRefs"][0]["referenceLocator"]
                .as_str()
                .is_some_and(|l| l.starts_with(&format!("pkg:{eco}/")))
        })
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap_or("").to_owned(),
                p["checksums"][0]["checksumValue"]
                    .as_str()
                    .map(str::to_owned),
            )
        })
        .collect()
}

fn prop<'a>(c: &'a Value, name: &str) -> Option<&'a str> {
    c["properties"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)?["value"]
        .as_str()
}

#[test]
fn go_sboms_match_go_version_m_validate_cover_trivy_and_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &ex).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files = sbom_files(&ex);
    assert_eq!(files.len(), 6, "{files:?}");
    assert_valid(&files);

    let layout = ex.join(".slipway/oci");
    let cache = dir.path().join("trivy-cache");
    for platform in ["linux/amd64", "linux/arm64", "linux/ppc64le"] {
        let stem = platform.replace('/', "-");
        let bundle = dir.path().join(format!("bundle-{stem}"));
        umoci_unpack(&layout, &format!("hello.{stem}"), &bundle);
        let want = go_version_m(&bundle.join("rootfs/usr/local/bin/hello"));
        assert_eq!(want.modules.len(), 3, "the example links three modules");
        assert_eq!(want.replaced.len(), 1, "and replaces one");

        let bom = read_json(&ex.join(format!(".slipway/sbom/hello-{stem}.cdx.json")));
        let spdx = read_json(&ex.join(format!(".slipway/sbom/hello-{stem}.spdx.json")));
        let mut ours = cdx_packages(&bom, "golang");
        let stdlib = ours
            .iter()
            .find(|p| p.0 == "stdlib")
            .cloned()
            .expect("stdlib listed");
        assert_eq!(stdlib.1, format!("v{}", want.go.trim_start_matches("go")));
        ours.remove(&stdlib);
        assert_eq!(
            ours, want.modules,
            "{platform}: modules differ from go version -m"
        );
        let mut spdx_ours = spdx_packages(&spdx, "golang");
        spdx_ours.retain(|p| p.0 != "stdlib");
        assert_eq!(spdx_ours, want.modules, "{platform}: SPDX differs");

        // The main module carries the build settings and the Go version; the replaced module
        // says what it replaces.
        let comps = bom["components"].as_array().unwrap();
        let main = comps.iter().find(|c| c["type"] == "application").unwrap();
        assert_eq!(prop(main, "slipway:go.version"), Some(want.go.as_str()));
        for (k, v) in &want.settings {
            assert_eq!(
                prop(main, &format!("slipway:go.build.{k}")),
                Some(v.as_str()),
                "{platform}: build setting {k}"
            );
        }
        let replaced: BTreeSet<String> = comps
            .iter()
            .filter_map(|c| prop(c, "slipway:go.replaces").map(str::to_owned))
            .collect();
        assert_eq!(replaced, want.replaced);

        // Relationships: the main module depends on every other module linked and on the
        // standard library, in both documents.
        let main_name = main["name"].as_str().unwrap();
        let mut want_deps: BTreeSet<String> = want
            .modules
            .iter()
            .map(|m| m.0.clone())
            .filter(|n| n != main_name)
            .collect();
        want_deps.insert("stdlib".into());
        let name_of_ref: std::collections::BTreeMap<&str, &str> = comps
            .iter()
            .filter_map(|c| Some((c["bom-ref"].as_str()?, c["name"].as_str()?)))
            .collect();
        let cdx_deps: BTreeSet<String> = bom["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["ref"] == main["bom-ref"])
            .unwrap()["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| name_of_ref[r.as_str().unwrap()].to_owned())
            .collect();
        assert_eq!(cdx_deps, want_deps, "{platform}: CycloneDX dependsOn");
        let spdx_name: std::collections::BTreeMap<&str, &str> = spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["SPDXID"].as_str().unwrap(), p["name"].as_str().unwrap()))
            .collect();
        let spdx_main = spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["primaryPackagePurpose"] == "APPLICATION")
            .unwrap()["SPDXID"]
            .as_str()
            .unwrap();
        let spdx_deps: BTreeSet<String> = spdx["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["spdxElementId"] == spdx_main && r["relationshipType"] == "DEPENDS_ON")
            .map(|r| spdx_name[r["relatedSpdxElement"].as_str().unwrap()].to_owned())
            .collect();
        assert_eq!(spdx_deps, want_deps, "{platform}: SPDX DEPENDS_ON");
        // The binary's file CONTAINS the modules linked into it.
        let file_id = spdx["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["fileName"] == "./usr/local/bin/hello")
            .unwrap()["SPDXID"]
            .as_str()
            .unwrap();
        let contained = spdx["relationships"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["spdxElementId"] == file_id && r["relationshipType"] == "CONTAINS")
            .count();
        assert_eq!(
            contained,
            want.modules.len() + 1,
            "{platform}: modules + stdlib"
        );
        assert_eq!(
            main["evidence"]["occurrences"][0]["location"],
            "/usr/local/bin/hello"
        );

        // Trivy's SBOM of the same platform's manifest lists no Go module we miss (trivy takes
        // a layout's first image whatever --platform says: it is given the manifest's digest).
        let manifest = bom["metadata"]["component"]["version"].as_str().unwrap();
        let out = Command::new(tool("trivy"))
            .env("TRIVY_CACHE_DIR", &cache)
            .args(["image", "-q", "--format", "cyclonedx", "--input"])
            .arg(format!("{}@{manifest}", layout.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "trivy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
        let image_id = theirs["metadata"]["component"]["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "aquasecurity:trivy:ImageID")
            .map(|p| p["value"].clone());
        let state = read_json(&ex.join(".slipway/state.json"));
        assert_eq!(
            image_id.as_ref(),
            Some(&state["images"]["hello"]["platforms"][platform]["config"]),
            "{platform}: trivy read that platform's image"
        );
        let names: BTreeSet<(String, String)> = cdx_packages(&bom, "golang")
            .into_iter()
            .map(|p| (p.0, p.1))
            .collect();
        let trivy_go: Vec<(String, String)> = theirs["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["purl"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("pkg:golang/"))
            })
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["version"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        assert!(!trivy_go.is_empty(), "trivy found no Go module");
        for m in &trivy_go {
            assert!(
                names.contains(m),
                "{platform}: trivy lists {m:?}, we do not: {names:?}"
            );
        }
    }

    // The state records every document with its hash; sign finds them there.
    let state = read_json(&ex.join(".slipway/state.json"));
    let records = state["sboms"].as_array().unwrap();
    assert_eq!(records.len(), 6);
    for rec in records {
        let path = ex.join(rec["path"].as_str().unwrap());
        assert_eq!(
            rec["sha256"],
            slipway_test::sha256_digest(&std::fs::read(&path).unwrap())
        );
    }

    // Same input, same bytes; a second run replaces the records instead of adding to them.
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let r = run(build_cmd("slipway-scan-sbom", &ex).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(
        before == after,
        "SBOMs changed between two runs on the same image"
    );
    let state = read_json(&ex.join(".slipway/state.json"));
    assert_eq!(state["sboms"].as_array().unwrap().len(), 6);

    // The documents carry SOURCE_DATE_EPOCH (1700000000, set by build_cmd) as their time...
    for f in &files {
        let doc = read_json(f);
        let when = if f.to_string_lossy().ends_with(".spdx.json") {
            doc["creationInfo"]["created"].clone()
        } else {
            doc["metadata"]["timestamp"].clone()
        };
        assert_eq!(when, "2023-11-14T22:13:20Z", "{}", f.display());
    }
    // ...and a rebuild of the same sources in another directory gives the same bytes.
    let elsewhere = tempfile::tempdir().unwrap();
    let ex2 = copy_example("hello-go", elsewhere.path());
    let r = run(&mut build_cmd("slipway-build", &ex2));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &ex2).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files2 = sbom_files(&ex2);
    assert_eq!(
        files
            .iter()
            .map(|f| f.file_name().unwrap())
            .collect::<Vec<_>>(),
        files2
            .iter()
            .map(|f| f.file_name().unwrap())
            .collect::<Vec<_>>()
    );
    for (a, b) in files.iter().zip(&files2) {
        assert!(
            std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
            "{} differs when built in another directory",
            b.display()
        );
    }

    let r = run(build_cmd("slipway-scan-sbom", &ex).args(["--sbom-only", "--sbom-format", "xml"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--sbom-format"), "{}", r.stderr);
}

#[test]
fn rust_sbom_lists_exactly_the_crates_cargo_auditable_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-rust", dir.path());
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &ex).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files = sbom_files(&ex);
    assert_eq!(files.len(), 2);
    assert_valid(&files);

    // The embedded list, read without Slipway: objcopy dumps the section, Python inflates it.
    let bundle = dir.path().join("bundle");
    umoci_unpack(&ex.join(".slipway/oci"), "hello-rust.linux-amd64", &bundle);
    let section = dir.path().join("dep-v0");
    let st = Command::new("objcopy")
        .arg("--dump-section")
        .arg(format!(".dep-v0={}", section.display()))
        .arg(bundle.join("rootfs/usr/local/bin/hello-rust"))
        .arg(dir.path().join("discard"))
        .status()
        .unwrap();
    assert!(st.success(), "objcopy");
    let out = Command::new(tool("python3"))
        .args([
            "-c",
            "import sys, zlib, json\n\
             d = json.loads(zlib.decompress(open(sys.argv[1], 'rb').read()))\n\
             ps = d['packages']\n\
             for p in ps: print(p['name'], p['version'], sep='\\t')\n\
             for p in ps:\n\
             \x20   for i in p.get('dependencies', []): print('dep', p['name'], ps[i]['name'], sep='\\t')",
        ])
        .arg(&section)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let embedded: BTreeSet<(String, String)> = text
        .lines()
        .filter(|l| !l.starts_with("dep\t"))
        .map(|l| {
            let (n, v) = l.split_once('\t').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect();
    let embedded_edges: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("dep\t"))
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.to_owned(), b.to_owned())
        })
        .collect();
    assert!(
        !embedded_edges.is_empty(),
        "hello-rust depends on its crates"
    );
    assert!(
        embedded.len() >= 3,
        "hello-rust, greeting, itoa: {embedded:?}"
    );

    let bom = read_json(&ex.join(".slipway/sbom/hello-rust-linux-amd64.cdx.json"));
    let ours: BTreeSet<(String, String)> = cdx_packages(&bom, "cargo")
        .into_iter()
        .map(|p| (p.0, p.1))
        .collect();
    assert_eq!(ours, embedded);
    let spdx = read_json(&ex.join(".slipway/sbom/hello-rust-linux-amd64.spdx.json"));
    let spdx_ours: BTreeSet<(String, String)> = spdx_packages(&spdx, "cargo")
        .into_iter()
        .map(|p| (p.0, p.1))
        .collect();
    assert_eq!(spdx_ours, embedded);
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.iter().any(|p| p.starts_with("pkg:cargo/itoa@")),
        "{purls:?}"
    );
    // The dependency links between crates are the embedded ones, in both documents.
    let comps = bom["components"].as_array().unwrap();
    let name_of_ref: std::collections::BTreeMap<&str, &str> = comps
        .iter()
        .filter(|c| prop(c, "slipway:ecosystem") == Some("cargo"))
        .filter_map(|c| Some((c["bom-ref"].as_str()?, c["name"].as_str()?)))
        .collect();
    let cdx_edges: BTreeSet<(String, String)> = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| Some((name_of_ref.get(d["ref"].as_str()?)?, d)))
        .flat_map(|(from, d)| {
            d["dependsOn"]
                .as_array()
                .unwrap()
                .iter()
                .map(|to| {
                    (
                        from.to_string(),
                        name_of_ref[to.as_str().unwrap()].to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(cdx_edges, embedded_edges, "CycloneDX dependencies");
    let spdx_name: std::collections::BTreeMap<&str, &str> = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["SPDXID"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let spdx_edges: BTreeSet<(String, String)> = spdx["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| {
            let a = spdx_name.get(r["spdxElementId"].as_str()?)?;
            let b = spdx_name.get(r["relatedSpdxElement"].as_str()?)?;
            match r["relationshipType"].as_str()? {
                "DEPENDS_ON" => Some((a.to_string(), b.to_string())),
                // Build dependencies read the other way round.
                "BUILD_DEPENDENCY_OF" => Some((b.to_string(), a.to_string())),
                _ => None,
            }
        })
        .collect();
    assert_eq!(spdx_edges, embedded_edges, "SPDX relationships");
}

#[test]
fn os_packages_and_every_file_of_a_layered_base_with_a_whiteout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A base image made with umoci: this machine's real dpkg database and os-release in one
    // layer, a file added and one deleted (a whiteout) in a second.
    let base = d.join("base");
    tool_ok("umoci", &["init", "--layout", base.to_str().unwrap()]);
    tool_ok(
        "umoci",
        &["new", "--image", &format!("{}:latest", base.display())],
    );
    let bundle = d.join("base-bundle");
    umoci_unpack(&base, "latest", &bundle);
    let rootfs = bundle.join("rootfs");
    for (src, dst) in [
        ("/var/lib/dpkg/status", "var/lib/dpkg/status"),
        ("/etc/os-release", "etc/os-release"),
    ] {
        let to = rootfs.join(dst);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(std::fs::canonicalize(src).unwrap(), &to).unwrap();
    }
    std::fs::write(
        rootfs.join("etc/doomed.conf"),
        "removed in the next layer\n",
    )
    .unwrap();
    let img = format!("{}:latest", base.display());
    tool_ok(
        "umoci",
        &["repack", "--image", &img, bundle.to_str().unwrap()],
    );
    std::fs::remove_dir_all(&bundle).unwrap();
    umoci_unpack(&base, "latest", &bundle);
    std::fs::remove_file(bundle.join("rootfs/etc/doomed.conf")).unwrap();
    std::fs::write(bundle.join("rootfs/etc/motd"), "second layer\n").unwrap();
    tool_ok(
        "umoci",
        &["repack", "--image", &img, bundle.to_str().unwrap()],
    );

    let ex = copy_example("hello-go", d);
    std::fs::write(
        ex.join("slipway.yaml"),
        format!(
            "images:\n  - name: hello\n    go:\n      main: .\n    base: oci:{}:latest\n    platforms: [linux/amd64]\n",
            base.display()
        ),
    )
    .unwrap();
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &ex).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files = sbom_files(&ex);
    assert_valid(&files);

    // The final filesystem, unpacked by umoci and hashed by sha256sum.
    let image = d.join("image");
    umoci_unpack(&ex.join(".slipway/oci"), "hello.linux-amd64", &image);
    let root = image.join("rootfs");
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . -type f -print0 | sort -z | xargs -0 sha256sum")
        .current_dir(&root)
        .output()
        .unwrap();
    let want_files: BTreeSet<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").unwrap();
            (p.trim_start_matches('.').to_owned(), h.to_owned())
        })
        .collect();
    assert!(want_files.iter().any(|f| f.0 == "/etc/motd"));
    assert!(!want_files.iter().any(|f| f.0 == "/etc/doomed.conf"));
    let bom = read_json(&ex.join(".slipway/sbom/hello-linux-amd64.cdx.json"));
    let our_files: BTreeSet<(String, String)> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "file")
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["hashes"][1]["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(our_files, want_files);

    // Installed packages per dpkg-query over the image's database.
    let out = Command::new("dpkg-query")
        .arg(format!(
            "--admindir={}",
            root.join("var/lib/dpkg").display()
        ))
        .args(["-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\n"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want_debs: BTreeSet<(String, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            (f.next() == Some("installed"))
                .then(|| (f.next().unwrap().to_owned(), f.next().unwrap().to_owned()))
        })
        .collect();
    assert!(want_debs.len() > 20, "{want_debs:?}");
    let ours: BTreeSet<(String, String)> = cdx_packages(&bom, "deb")
        .into_iter()
        .map(|p| (p.0, p.1))
        .collect();
    assert_eq!(ours, want_debs);
    let os_id = std::fs::read_to_string(root.join("etc/os-release"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("ID=")
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap();
    let purl = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "dpkg")
        .and_then(|c| c["purl"].as_str())
        .unwrap()
        .to_owned();
    assert!(
        purl.starts_with(&format!("pkg:deb/{os_id}/dpkg@")) && purl.contains("distro="),
        "{purl}"
    );
}

fn scan_fixture(name: &str) -> PathBuf {
    slipway_test::repo_root()
        .join("crates/slipway-scan/tests/fixtures/trivy")
        .join(name)
}

fn latest_verdict(state: &Value, digest: &str) -> Option<String> {
    state["scans"]
        .as_array()?
        .iter()
        .rev()
        .find(|s| s["digest"] == digest)
        .and_then(|s| s["verdict"].as_str())
        .map(str::to_owned)
}

#[test]
fn rescan_of_one_platform_records_its_manifest_verdict_and_none_for_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    let r = run(&mut build_cmd("slipway-build", &ex));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &ex).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = read_json(&ex.join(".slipway/state.json"));
    let amd64 = state["images"]["hello"]["platforms"]["linux/amd64"]["manifest"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let index = state["images"]["hello"]["index"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    // A real Trivy report of Go modules (1 medium, 4 unknown), standing in for the scanner's
    // reading of the SBOM with today's database. DERIVED: it names no image, so it is tied to
    // the amd64 manifest here (Metadata.RepoDigests), as a report of this image would be.
    let mut v = read_json(&scan_fixture("gomod.json"));
    v["Metadata"] = serde_json::json!({"RepoDigests": [format!("hello@{amd64}")]});
    let report = dir.path().join("gomod-for-amd64.json");
    std::fs::write(&report, serde_json::to_vec(&v).unwrap()).unwrap();
    let cdx = ".slipway/sbom/hello-linux-amd64.cdx.json";

    // One report for three SBOMs is ambiguous.
    let r = run(build_cmd("slipway-scan-sbom", &ex)
        .arg("--rescan")
        .arg("--report")
        .arg(&report));
    assert_eq!(r.code, 2, "{}", r.stderr);

    // Regression: a report that names no image was gated on for the SBOM's digest.
    let r = run(build_cmd("slipway-scan-sbom", &ex)
        .args(["--rescan", "--sbom", cdx, "--report"])
        .arg(scan_fixture("gomod.json")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("gomod.json")
            && r.stderr.contains("names no image")
            && r.stderr.contains("--allow-report-mismatch"),
        "{}",
        r.stderr
    );
    // A report of another platform's manifest is refused too.
    let arm64 = state["images"]["hello"]["platforms"]["linux/arm64"]["manifest"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    v["Metadata"] = serde_json::json!({"RepoDigests": [format!("hello@{arm64}")]});
    std::fs::write(
        dir.path().join("arm64.json"),
        serde_json::to_vec(&v).unwrap(),
    )
    .unwrap();
    let r = run(build_cmd("slipway-scan-sbom", &ex)
        .args(["--rescan", "--sbom", cdx, "--report"])
        .arg(dir.path().join("arm64.json")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("another image"), "{}", r.stderr);
    let state = read_json(&ex.join(".slipway/state.json"));
    assert!(state["scans"].as_array().is_none_or(Vec::is_empty));

    let r = run(build_cmd("slipway-scan-sbom", &ex)
        .args(["--rescan", "--sbom", cdx, "--report"])
        .arg(&report));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = read_json(&ex.join(".slipway/state.json"));
    assert_eq!(latest_verdict(&state, &amd64).as_deref(), Some("pass"));
    // Regression: a rescan of one platform of three recorded a pass for the whole index.
    assert_eq!(latest_verdict(&state, &index), None);
    assert!(
        r.stderr.contains("no verdict is recorded for the index")
            && r.stderr.contains("linux/arm64"),
        "{}",
        r.stderr
    );
    let rec = state["scans"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|s| s["digest"] == amd64.as_str())
        .unwrap();
    assert_eq!(rec["sboms"][0], cdx);
    assert_eq!(rec["counts"]["medium"], 1);
    assert_eq!(rec["counts"]["unknown"], 4);

    // Tomorrow the policy is stricter: the new verdict fails for the manifest, and it is the
    // newest one promote sees (a failed platform manifest blocks its index).
    let r = run(build_cmd("slipway-scan-sbom", &ex)
        .args([
            "--rescan",
            "--sbom",
            cdx,
            "--severity",
            "medium",
            "--report",
        ])
        .arg(&report));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("linux/amd64: MEDIUM"), "{}", r.stderr);
    let state = read_json(&ex.join(".slipway/state.json"));
    assert_eq!(latest_verdict(&state, &amd64).as_deref(), Some("fail"));
    assert_eq!(latest_verdict(&state, &index), None);

    // A nightly job elsewhere has only the SBOM (SPDX this time): the digest comes from it.
    let nightly = dir.path().join("nightly");
    std::fs::create_dir_all(&nightly).unwrap();
    std::fs::copy(
        ex.join(".slipway/sbom/hello-linux-amd64.spdx.json"),
        nightly.join("hello.spdx.json"),
    )
    .unwrap();
    let r = run(build_cmd("slipway-scan-sbom", &nightly)
        .args([
            "--rescan",
            "--sbom",
            "hello.spdx.json",
            "--severity",
            "medium",
            "--report",
        ])
        .arg(&report));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let state = read_json(&nightly.join(".slipway/state.json"));
    let scans = state["scans"].as_array().unwrap();
    assert_eq!(scans.len(), 1);
    assert_eq!(scans[0]["digest"], amd64.as_str());
    assert_eq!(scans[0]["image"], "hello");
    assert_eq!(scans[0]["blocking"].as_array().unwrap().len(), 1);

    // Bad input: not an SBOM, or nothing to read it with.
    std::fs::write(nightly.join("notes.txt"), "not json\n").unwrap();
    let r = run(build_cmd("slipway-scan-sbom", &nightly)
        .args(["--rescan", "--sbom", "notes.txt", "--report"])
        .arg(&report));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("notes.txt"), "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &nightly).args([
        "--rescan",
        "--sbom",
        "hello.spdx.json",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--scanner"), "{}", r.stderr);
    let state = read_json(&nightly.join(".slipway/state.json"));
    assert_eq!(
        state["scans"].as_array().unwrap().len(),
        1,
        "bad input recorded a verdict"
    );
}

/// A two-platform image of small programs, with four entries of this machine's dpkg database
/// (kept small: trivy and pyspdxtools are slow on hundreds of packages), os-release and two
/// DEP-5 copyright files (grep: GPL-3+, zlib1g: Zlib).
fn licensed_image(d: &Path) {
    std::fs::write(d.join(".gitignore"), ".slipway/\n").unwrap();
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    let keep: Vec<&str> = status
        .split("\n\n")
        .filter(|p| {
            p.lines().any(|l| {
                ["grep", "zlib1g", "dpkg", "libc6"]
                    .iter()
                    .any(|k| l == format!("Package: {k}"))
            })
        })
        .collect();
    assert_eq!(
        keep.len(),
        4,
        "grep, zlib1g, dpkg and libc6 are installed here"
    );
    std::fs::write(d.join("status"), keep.join("\n\n") + "\n").unwrap();
    for p in ["amd64", "arm64"] {
        std::fs::write(d.join(format!("app-linux-{p}")), b"#!/bin/sh\necho hi\n").unwrap();
    }
    let mut c = common::cmd("slipway-build", d);
    c.args([
        "--name",
        "app",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        "linux/amd64,linux/arm64",
        "--file",
        "status:/var/lib/dpkg/status",
        "--file",
    ]);
    c.arg(common::host_file(d, "/etc/os-release", "/etc/os-release"));
    for pkg in ["grep", "zlib1g"] {
        let doc = format!("/usr/share/doc/{pkg}/copyright");
        c.arg("--file").arg(common::host_file(d, &doc, &doc));
    }
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

fn with_trivy(c: &mut Command, d: &Path) {
    let trivy = tool("trivy");
    c.env(
        "PATH",
        format!(
            "{}:{}",
            trivy.parent().unwrap().display(),
            std::env::var("PATH").unwrap()
        ),
    )
    .env("TRIVY_CACHE_DIR", d.join("trivy-cache"));
}

fn validate_cdx_any(file: &Path) -> (bool, String) {
    let out = Command::new(tool("python3"))
        .args([
            "-c",
            "import sys, json\n\
             from cyclonedx.validation.json import JsonStrictValidator\n\
             from cyclonedx.schema import SchemaVersion\n\
             doc = open(sys.argv[1]).read()\n\
             v = json.loads(doc)['specVersion']\n\
             err = JsonStrictValidator(SchemaVersion.from_version(v)).validate_str(doc)\n\
             print(err if err else 'valid ' + v)\n\
             sys.exit(1 if err else 0)",
        ])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn syft_as_the_sbom_tool_writes_valid_sboms_of_each_platform_and_records_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    licensed_image(d);
    let syft = tool("syft");
    let mut c = common::cmd("slipway-scan-sbom", d);
    c.env(
        "PATH",
        format!(
            "{}:{}",
            syft.parent().unwrap().display(),
            std::env::var("PATH").unwrap()
        ),
    )
    .env("XDG_CACHE_HOME", d.join("cache"));
    let r = run(c.args(["--sbom-only", "--sbom-tool", "syft"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = Command::new(&syft).arg("--version").output().unwrap();
    let version = String::from_utf8(out.stdout).unwrap();
    let v = version
        .lines()
        .find_map(|l| l.strip_prefix("syft "))
        .unwrap()
        .trim()
        .to_owned();
    let state = read_json(&d.join(".slipway/state.json"));
    let records = state["sboms"].as_array().unwrap();
    assert_eq!(records.len(), 4, "two formats for two platforms");
    for rec in records {
        assert_eq!(rec["tool"], format!("syft {v}"));
        let path = d.join(rec["path"].as_str().unwrap());
        assert_eq!(
            rec["sha256"],
            slipway_test::sha256_digest(&std::fs::read(&path).unwrap())
        );
        let (ok, out) = if rec["format"] == "spdx-json" {
            validate_spdx(&path)
        } else {
            validate_cdx_any(&path)
        };
        assert!(ok, "{}: {out}", path.display());
    }
    // syft read the dpkg database the image carries, per platform.
    for platform in state["images"]["app"]["platforms"]
        .as_object()
        .unwrap()
        .keys()
    {
        let stem = platform.replace('/', "-");
        let bom = read_json(&d.join(format!(".slipway/sbom/app-{stem}.cdx.json")));
        let names: BTreeSet<&str> = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        for pkg in ["grep", "zlib1g", "dpkg", "libc6"] {
            assert!(
                names.contains(pkg),
                "{platform}: {pkg} missing from {names:?}"
            );
        }
    }
}

#[test]
fn trivy_as_the_sbom_tool_writes_valid_sboms_of_each_platform_and_records_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    licensed_image(d);
    let mut c = common::cmd("slipway-scan-sbom", d);
    with_trivy(&mut c, d);
    let r = run(c.args(["--sbom-only", "--sbom-tool", "trivy"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let state = read_json(&d.join(".slipway/state.json"));
    let records = state["sboms"].as_array().unwrap();
    assert_eq!(records.len(), 4, "two formats for two platforms");
    let version = Command::new(tool("trivy"))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    let v = version
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .unwrap()
        .trim();
    for rec in records {
        assert_eq!(rec["tool"], format!("trivy {v}"));
        let path = d.join(rec["path"].as_str().unwrap());
        assert_eq!(
            rec["sha256"],
            slipway_test::sha256_digest(&std::fs::read(&path).unwrap())
        );
        let (ok, out) = if rec["format"] == "spdx-json" {
            validate_spdx(&path)
        } else {
            validate_cdx_any(&path)
        };
        assert!(ok, "{}: {out}", path.display());
    }
    // Each platform's SBOM is of that platform's image (trivy names the config digest).
    for (platform, p) in state["images"]["app"]["platforms"].as_object().unwrap() {
        let stem = platform.replace('/', "-");
        let bom = read_json(&d.join(format!(".slipway/sbom/app-{stem}.cdx.json")));
        let image_id = bom["metadata"]["component"]["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "aquasecurity:trivy:ImageID")
            .unwrap()["value"]
            .clone();
        assert_eq!(image_id, p["config"], "{platform}");
    }

    // The deny-list reads licenses from trivy's SBOM too: zlib1g is Zlib.
    let report = d.join("gomod.json");
    std::fs::copy(scan_fixture("gomod.json"), &report).unwrap();
    let mut c = common::cmd("slipway-scan-sbom", d);
    with_trivy(&mut c, d);
    let r = run(c.args([
        "--sbom-tool",
        "trivy",
        "--sbom-format",
        "cyclonedx",
        "--report",
        "gomod.json",
        // A recorded report of another project: it names no image.
        "--allow-report-mismatch",
        "--deny-license",
        "Zlib",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("1 denied license") && r.stderr.contains("denied license Zlib in zlib1g"),
        "{}",
        r.stderr
    );

    // A tool whose version cannot be read is recorded as unknown, with a warning. The stand-in
    // passes everything to the real trivy but prints nothing for --version.
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("trivy");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] && exit 0\nexec {} \"$@\"\n",
            tool("trivy").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(common::cmd("slipway-scan-sbom", d)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("TRIVY_CACHE_DIR", d.join("trivy-cache"))
        .args([
            "--sbom-only",
            "--sbom-tool",
            "trivy",
            "--sbom-format",
            "cyclonedx",
        ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("cannot tell which trivy"), "{}", r.stderr);
    let state = read_json(&d.join(".slipway/state.json"));
    assert!(
        state["sboms"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["format"] == "cyclonedx-json")
            .all(|r| r["tool"] == "trivy unknown")
    );
}

#[test]
fn native_sbom_licenses_come_from_dep5_copyright_files_and_gate_on_rescan() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    licensed_image(d);
    let r = run(common::cmd("slipway-scan-sbom", d).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bom = read_json(&d.join(".slipway/sbom/app-linux-amd64.cdx.json"));
    let spdx_path = d.join(".slipway/sbom/app-linux-amd64.spdx.json");
    let (ok, out) = validate_spdx(&spdx_path);
    assert!(ok, "{out}");
    let (ok, out) = validate_cyclonedx(&d.join(".slipway/sbom/app-linux-amd64.cdx.json"));
    assert!(ok, "{out}");
    let license = |name: &str| {
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["name"] == name
                    && c["purl"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("pkg:deb/"))
            })
            .map(|c| c["licenses"][0]["expression"].clone())
            .unwrap()
    };
    // grep's copyright says GPL-3+ for every file; zlib1g's says Zlib.
    assert_eq!(license("grep"), "GPL-3.0-or-later");
    assert_eq!(license("zlib1g"), "Zlib");
    // A package without a copyright file in the image declares nothing.
    assert!(license("dpkg").is_null());
    let os = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "operating-system")
        .unwrap();
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap();
    let id = os_release
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .unwrap()
        .trim_matches('"');
    assert_eq!(os["name"], id);

    // --rescan reads the licenses of the SBOM it rescans.
    let r = run(common::cmd("slipway-scan-sbom", d)
        .args([
            "--rescan",
            "--sbom",
            ".slipway/sbom/app-linux-amd64.spdx.json",
            "--deny-license",
            "gpl-3.0-or-later",
            // A recorded report of another project: it names no image.
            "--allow-report-mismatch",
            "--report",
        ])
        .arg(scan_fixture("gomod.json")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("denied license GPL-3.0-or-later in grep"),
        "{}",
        r.stderr
    );
    let state = read_json(&d.join(".slipway/state.json"));
    let rec = state["scans"].as_array().unwrap().first().unwrap();
    assert_eq!(rec["verdict"], "fail");
    assert_eq!(rec["blocking"][0]["kind"], "license");
    assert_eq!(
        rec["counts"]["medium"], 1,
        "licenses are not counted by severity"
    );
}

#[test]
fn rescan_runs_the_scanner_on_each_sbom_and_records_expiring_and_expired_ignores() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    licensed_image(d);
    let r = run(common::cmd("slipway-scan-sbom", d).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Trivy cannot scan an SBOM here (no vulnerability database): a stand-in `trivy` on PATH
    // records how it was called and answers with a real recorded Trivy report (gomod.json).
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = d.join("calls.txt");
    let shim = bin.join("trivy");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {calls}\nout=\nwhile [ $# -gt 0 ]; do [ \"$1\" = --output ] && out=$2; shift; done\ncp {report} \"$out\"\n",
            calls = calls.display(),
            report = scan_fixture("gomod.json").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    // One ignore that has expired, one that expires in five days.
    let soon = (chrono::Utc::now() + chrono::Duration::days(5))
        .format("%Y-%m-%d")
        .to_string();
    std::fs::write(
        d.join(".trivyignore.yaml"),
        format!(
            "vulnerabilities:\n  - id: GMS-2022-20\n    statement: old\n    expired_at: 2020-01-01\n  - id: CVE-2022-23628\n    statement: fix due next week\n    expired_at: {soon}\n"
        ),
    )
    .unwrap();
    let r = run(common::cmd("slipway-scan-sbom", d)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .args([
            "--rescan",
            "--scanner",
            "trivy",
            "--severity",
            "unknown",
            "--gitlab-report",
            "gl.json",
        ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("expired ignore no longer applies"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("the ignore of CVE-2022-23628 expires on"),
        "{}",
        r.stderr
    );
    let state = read_json(&d.join(".slipway/state.json"));
    let calls = std::fs::read_to_string(&calls).unwrap();
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 2, "once per platform's SBOM: {calls:?}");
    for (platform, p) in state["images"]["app"]["platforms"].as_object().unwrap() {
        let digest = p["manifest"]["digest"].as_str().unwrap();
        let stem = platform.replace('/', "-");
        let out = d.join(format!(
            ".slipway/scan/trivy-sbom-{}.json",
            digest.trim_start_matches("sha256:")
        ));
        let sbom = d.join(format!(".slipway/sbom/app-{stem}.cdx.json"));
        let want = format!(
            "sbom --quiet --format json --output {} {}",
            out.display(),
            sbom.display()
        );
        assert!(calls.contains(&want.as_str()), "{want}\nnot in {calls:?}");
        let rec = state["scans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["digest"] == digest)
            .unwrap();
        assert_eq!(rec["verdict"], "fail");
        let expiring = rec["expiring"].as_array().unwrap();
        let soon_one = expiring
            .iter()
            .find(|f| f["id"] == "CVE-2022-23628")
            .unwrap();
        assert!(soon_one["expires"].as_str().unwrap().starts_with(&soon));
        assert!(
            soon_one["reason"]
                .as_str()
                .unwrap()
                .contains("fix due next week")
        );
        let expired: Vec<&Value> = expiring
            .iter()
            .filter(|f| f["id"] == "GMS-2022-20")
            .collect();
        assert_eq!(expired.len(), 3, "gomod.json has it in three targets");
        assert!(
            expired
                .iter()
                .all(|f| f["reason"].as_str().unwrap().contains("expired")
                    && f["expires"].as_str().unwrap().starts_with("2020-01-01"))
        );
        assert_eq!(
            rec["blocking"].as_array().unwrap().len(),
            4,
            "3 × GMS-2022-20 + golang.org/x/text"
        );
    }
    // Both platforms were rescanned in this run: the index gets the combined verdict.
    let index = state["images"]["app"]["index"]["digest"].as_str().unwrap();
    assert_eq!(latest_verdict(&state, index).as_deref(), Some("fail"));
    // The GitLab report is written for the rescan, and is valid.
    let (ok, out) = slipway_test::check_jsonschema(
        &slipway_test::repo_root().join(
            "crates/slipway-scan/tests/fixtures/schemas/gitlab-container-scanning-report-format-15.2.1.json",
        ),
        &d.join("gl.json"),
    );
    assert!(ok, "{out}");
    let gl = read_json(&d.join("gl.json"));
    assert!(
        gl["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["identifiers"][0]["value"] != "CVE-2022-23628"),
        "ignored findings are not listed"
    );

    // Regression: the scanner's output path is reused, and a scanner that exited 0 without
    // writing had the previous run's report gated on. Now: exit 3, nothing recorded.
    std::fs::write(
        &shim,
        "#!/bin/sh
exit 0
",
    )
    .unwrap();
    let before = state["scans"].as_array().unwrap().len();
    let r = run(common::cmd("slipway-scan-sbom", d)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .args(["--rescan", "--scanner", "trivy"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("trivy exited 0 but wrote no report"),
        "{}",
        r.stderr
    );
    let state = read_json(&d.join(".slipway/state.json"));
    assert_eq!(state["scans"].as_array().unwrap().len(), before);
}

// Regression: Go build info in Mach-O was never read (the object parser refuses Go's Mach-O
// and the file was skipped without a word).
#[test]
fn go_build_info_of_mach_o_and_pe_binaries_matches_go_version_m() {
    let dir = tempfile::tempdir().unwrap();
    let ex = copy_example("hello-go", dir.path());
    // Build the example for macOS and Windows with the same environment as the builder.
    let env_of = |c: &Command| -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
        c.get_envs()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
            .collect()
    };
    let envs = env_of(&build_cmd("slipway-build", &ex));
    let targets = [
        ("darwin", "arm64", "hello-darwin-arm64"),
        ("darwin", "amd64", "hello-darwin-amd64"),
        ("windows", "amd64", "hello-windows-amd64.exe"),
    ];
    for (os, arch, out) in targets {
        let st = Command::new("go")
            .current_dir(&ex)
            .env_clear()
            .envs(envs.clone())
            .env("GOOS", os)
            .env("GOARCH", arch)
            .env("CGO_ENABLED", "0")
            .args(["build", "-trimpath", "-o", out, "."])
            .status()
            .unwrap();
        assert!(st.success(), "go build {os}/{arch}");
    }
    std::fs::write(ex.join("app-linux-amd64"), b"#!/bin/sh\n").unwrap();
    let mut c = build_cmd("slipway-build", &ex);
    c.args([
        "--name",
        "multi",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        "linux/amd64",
    ]);
    for (_, _, out) in targets {
        c.arg("--file").arg(format!("{out}:/opt/{out}"));
    }
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &ex).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("cannot be parsed"), "{}", r.stderr);
    let bom = read_json(&ex.join(".slipway/sbom/multi-linux-amd64.cdx.json"));
    let comps = bom["components"].as_array().unwrap();
    for (_, _, out) in targets {
        let want = go_version_m(&ex.join(out));
        assert_eq!(want.modules.len(), 3, "{out}");
        let location = format!("/opt/{out}");
        let ours: BTreeSet<(String, String, Option<String>)> = comps
            .iter()
            .filter(|c| {
                c["evidence"]["occurrences"][0]["location"] == location.as_str()
                    && prop(c, "slipway:ecosystem") == Some("golang")
                    && c["name"] != "stdlib"
            })
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["version"].as_str().unwrap_or("").to_owned(),
                    c["hashes"][0]["content"].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            ours, want.modules,
            "{out}: modules differ from go version -m"
        );
        let main = comps
            .iter()
            .find(|c| {
                c["type"] == "application"
                    && c["evidence"]["occurrences"][0]["location"] == location.as_str()
            })
            .unwrap();
        for (k, v) in &want.settings {
            assert_eq!(
                prop(main, &format!("slipway:go.build.{k}")),
                Some(v.as_str()),
                "{out}: {k}"
            );
        }
        assert_eq!(prop(main, "slipway:go.version"), Some(want.go.as_str()));
    }

    // A file that looks like an executable but is not one is listed, with a warning.
    std::fs::write(
        ex.join("broken"),
        b"\xcf\xfa\xed\xfe garbage, not a Mach-O file",
    )
    .unwrap();
    let r = run(build_cmd("slipway-build", &ex).args([
        "--name",
        "multi",
        "--binary",
        "app-{os}-{arch}",
        "--platform",
        "linux/amd64",
        "--file",
        "broken:/opt/broken",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(build_cmd("slipway-scan-sbom", &ex).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("/opt/broken") && r.stderr.contains("cannot be parsed"),
        "{}",
        r.stderr
    );
}

#[test]
fn distroless_dpkg_status_d_files_list_their_packages() {
    // Distroless images keep one file per package in /var/lib/dpkg/status.d, without a Status
    // field: this machine's entries for three packages, laid out that way.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("app-linux-amd64"), b"#!/bin/sh\n").unwrap();
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap();
    let mut want = BTreeSet::new();
    let mut c = common::cmd("slipway-build", d);
    c.args(["--name", "app", "--binary", "app-{os}-{arch}"]);
    for pkg in ["grep", "zlib1g", "dpkg"] {
        let para = status
            .split("\n\n")
            .find(|p| p.lines().any(|l| l == format!("Package: {pkg}")))
            .unwrap();
        let body: String = para
            .lines()
            .filter(|l| !l.starts_with("Status:"))
            .map(|l| format!("{l}\n"))
            .collect();
        let version = para
            .lines()
            .find_map(|l| l.strip_prefix("Version: "))
            .unwrap()
            .to_owned();
        want.insert((pkg.to_owned(), version));
        std::fs::write(d.join(pkg), body).unwrap();
        c.arg("--file")
            .arg(format!("{pkg}:/var/lib/dpkg/status.d/{pkg}"));
    }
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(common::cmd("slipway-scan-sbom", d).arg("--sbom-only"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bom = read_json(&d.join(".slipway/sbom/app-linux-amd64.cdx.json"));
    let ours: BTreeSet<(String, String)> = cdx_packages(&bom, "deb")
        .into_iter()
        .map(|p| (p.0, p.1))
        .collect();
    assert_eq!(ours, want);
    let locations: BTreeSet<String> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| prop(c, "slipway:ecosystem") == Some("deb"))
        .map(|c| {
            c["evidence"]["occurrences"][0]["location"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        locations,
        ["dpkg", "grep", "zlib1g"]
            .iter()
            .map(|p| format!("/var/lib/dpkg/status.d/{p}"))
            .collect::<BTreeSet<_>>()
    );
    assert_valid(&sbom_files(d));
}
