//! The GitHub Action and the example workflows: GitHub's schemas (check-jsonschema's vendored
//! schemas) and @action-validator/cli accept them; remote actions are pinned to commits; every
//! workflow and job asks for the least permissions; the action's install step downloads and
//! checks a release (against a local server) or builds from source; its run step sets
//! `verdict` on a failing gate and fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use slipway_test::{repo_root, tool};

fn workflows() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo_root().join("workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    v.sort();
    assert!(v.len() >= 4, "{v:?}");
    v
}

fn yaml(p: &Path) -> Value {
    serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn ok(c: &mut Command) -> (bool, String) {
    let out = c.output().expect("validator runs");
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
fn action_and_workflows_pass_both_validators() {
    let action = repo_root().join("action.yml");
    let (good, out) = ok(Command::new(tool("action-validator")).arg(&action));
    assert!(good, "action-validator action.yml: {out}");
    let (good, out) = ok(Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-actions"])
        .arg(&action));
    assert!(good, "{out}");
    for w in workflows() {
        let (good, out) = ok(Command::new(tool("action-validator")).arg(&w));
        assert!(good, "action-validator {}: {out}", w.display());
    }
    let mut c = Command::new(tool("check-jsonschema"));
    c.args(["--builtin-schema", "vendor.github-workflows"])
        .args(workflows());
    let (good, out) = ok(&mut c);
    assert!(good, "{out}");
    // The validators are not rubber stamps.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n",
    )
    .unwrap();
    let mut c = Command::new(tool("check-jsonschema"));
    c.args(["--builtin-schema", "vendor.github-workflows"])
        .arg(&bad);
    assert!(!ok(&mut c).0);
}

/// Every step of every job (and of the composite action).
fn steps(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    if let Some(jobs) = doc["jobs"].as_object() {
        for (name, job) in jobs {
            for s in job["steps"].as_array().into_iter().flatten() {
                out.push((name.clone(), s));
            }
        }
    }
    for s in doc["runs"]["steps"].as_array().into_iter().flatten() {
        out.push(("(action)".into(), s));
    }
    out
}

/// Why a `uses:` is not pinned, if it is not: remote actions need a full 40-hex commit, Docker
/// images a sha256 digest; local actions (`./`) are part of the checkout.
fn unpinned(uses: &str) -> Option<String> {
    if uses.starts_with("./") {
        return None;
    }
    if let Some(image) = uses.strip_prefix("docker://") {
        let ok = image
            .split_once("@sha256:")
            .is_some_and(|(_, h)| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        return (!ok).then(|| format!("{uses}: a Docker image not pinned by digest"));
    }
    match uses.rsplit_once('@') {
        Some((action, r))
            if action.split('/').count() >= 2
                && r.len() == 40
                && r.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            None
        }
        _ => Some(format!("{uses}: not pinned to a 40-hex commit SHA")),
    }
}

#[test]
fn remote_actions_are_pinned_to_commit_shas() {
    let mut files = workflows();
    files.push(repo_root().join("action.yml"));
    let mut remote = 0;
    for f in &files {
        for (job, s) in steps(&yaml(f)) {
            let Some(uses) = s["uses"].as_str() else {
                continue;
            };
            if let Some(why) = unpinned(uses) {
                panic!("{} job {job}: {why}", f.display());
            }
            remote += usize::from(!uses.starts_with("./"));
        }
    }
    assert!(remote >= 8, "the workflows use remote actions: {remote}");
    // The check itself.
    for bad in [
        "actions/checkout@v4",
        "actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae1",
        "actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11x",
        "actions/checkout@B4FFDE65F46336AB88EB53BE808477A3936BAE11",
        "actions/checkout",
        "docker://alpine:3.19",
    ] {
        assert!(unpinned(bad).is_some(), "{bad} passed");
    }
    assert_eq!(
        unpinned("github/codeql-action/upload-sarif@5d4e8d1aca955e8d8589aabd499c5cae939e33c7"),
        None
    );
}

/// The slipway commands a job's steps run through the action (`command` and its `args`).
fn slipway_steps<'a>(steps: &[&'a Value]) -> Vec<(&'a str, &'a str)> {
    steps
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u == "./" || u.starts_with("slipway-dev/slipway@"))
        })
        .map(|s| {
            (
                s["with"]["command"].as_str().unwrap_or(""),
                s["with"]["args"].as_str().unwrap_or(""),
            )
        })
        .collect()
}

/// What a workflow's jobs get wrong about the tools and trust they rely on: a `--scanner trivy`
/// step with no Trivy installed before it (GitHub-hosted runners have none), a keyless verify
/// that accepts a pattern of signers instead of one exact identity, a promote that does not
/// re-judge the image (a `--rescan`) first.
fn workflow_problems(doc: &Value) -> Vec<String> {
    let mut why = Vec::new();
    for (name, job) in doc["jobs"].as_object().into_iter().flatten() {
        let steps: Vec<&Value> = job["steps"].as_array().into_iter().flatten().collect();
        let mut trivy = false;
        let mut rescanned = false;
        for s in &steps {
            let uses = s["uses"].as_str().unwrap_or("");
            if uses.starts_with("aquasecurity/setup-trivy@") {
                trivy = s["with"]["version"]
                    .as_str()
                    .is_some_and(|v| v.starts_with('v') && v != "latest");
                if !trivy {
                    why.push(format!("job {name}: setup-trivy without a fixed version"));
                }
            }
            let Some((cmd, args)) = slipway_steps(&[*s]).first().copied() else {
                continue;
            };
            if args.contains("--scanner trivy") && !trivy {
                why.push(format!(
                    "job {name}: {cmd} runs trivy that no earlier step installed"
                ));
            }
            if cmd == "scan-sbom" && args.contains("--rescan") {
                rescanned = true;
            }
            if cmd == "promote" && !rescanned {
                why.push(format!("job {name}: promotes without a --rescan before it"));
            }
            if cmd == "verify" && !args.contains("--key") {
                if args.contains("--certificate-identity-regexp") {
                    why.push(format!("job {name}: verify accepts a pattern of signers"));
                }
                // The value may hold `${{ … }}` expressions (with spaces): up to the next flag.
                let exact = args.find("--certificate-identity ").map(|i| {
                    let rest = &args[i + "--certificate-identity ".len()..];
                    rest[..rest.find(" --").unwrap_or(rest.len())].trim()
                });
                match exact {
                    Some(id) if id.contains("/.github/workflows/") || id.contains("workflow_ref") => {}
                    other => why.push(format!(
                        "job {name}: keyless verify must name the signing workflow exactly, not {other:?}"
                    )),
                }
            }
        }
    }
    why
}

#[test]
fn workflows_install_trivy_name_their_signer_exactly_and_rescan_before_promoting() {
    for w in workflows() {
        let why = workflow_problems(&yaml(&w));
        assert!(why.is_empty(), "{}: {why:#?}", w.display());
    }
    // The check sees each mistake.
    let bad: Value = serde_json::json!({"jobs": {"j": {"steps": [
        {"uses": "./", "with": {"command": "scan-sbom", "args": "--scanner trivy"}},
        {"uses": "aquasecurity/setup-trivy@81e514348e19b6112ce2a7e3ecbafe19c1e1f567",
         "with": {"version": "latest"}},
        {"uses": "./", "with": {"command": "verify",
         "args": "--certificate-identity-regexp ^https://github.com/o/r/ x"}},
        {"uses": "./", "with": {"command": "promote", "args": "--tag stable"}},
    ]}}});
    let why = workflow_problems(&bad);
    assert_eq!(why.len(), 5, "{why:#?}");
    for needle in [
        "no earlier step installed",
        "fixed version",
        "pattern of signers",
        "exactly",
        "--rescan",
    ] {
        assert!(why.iter().any(|w| w.contains(needle)), "{needle}: {why:#?}");
    }
}

/// What is wrong with a workflow's permissions: the top level grants nothing (or reads only);
/// every job says what it gets, and each grant beyond `contents: read` is used by a step.
fn permission_problems(doc: &Value) -> Vec<String> {
    let mut why = Vec::new();
    match &doc["permissions"] {
        Value::Object(m) => {
            for (k, v) in m {
                if v != "read" {
                    why.push(format!(
                        "top-level permissions grant {k}: {}",
                        v.as_str().unwrap_or("?")
                    ));
                }
            }
        }
        Value::String(s) if s == "read-all" => {}
        other => why.push(format!(
            "top-level permissions must be {{}} or read-only, not {other}"
        )),
    }
    for (name, job) in doc["jobs"].as_object().into_iter().flatten() {
        let steps: Vec<&Value> = job["steps"].as_array().into_iter().flatten().collect();
        let slipway = slipway_steps(&steps);
        let runs = |needle: &str| {
            steps
                .iter()
                .any(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
        };
        let uses = |prefix: &str| {
            steps
                .iter()
                .any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
        };
        let cross_run_download = steps.iter().any(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
                && s["with"]["run-id"].is_string()
        });
        let keyless = slipway
            .iter()
            .any(|(c, a)| *c == "sign" && !a.contains("--key"));
        let ships = slipway
            .iter()
            .any(|(c, _)| matches!(*c, "push" | "promote"));
        let sarif_upload = uses("github/codeql-action/upload-sarif@");
        let Some(perms) = job["permissions"].as_object() else {
            why.push(format!("job {name}: no permissions of its own"));
            continue;
        };
        for (k, v) in perms {
            let needed = match (k.as_str(), v.as_str().unwrap_or("")) {
                ("contents", "read") => true,
                ("packages", "write") => ships,
                ("id-token", "write") => keyless,
                ("security-events", "write") => sarif_upload,
                ("actions", "read") => cross_run_download || runs("gh run "),
                _ => false,
            };
            if !needed {
                why.push(format!(
                    "job {name}: {k}: {} is not needed by its steps",
                    v.as_str().unwrap_or("?")
                ));
            }
        }
        let has = |k: &str, v: &str| perms.get(k).is_some_and(|x| x == v);
        if ships && !has("packages", "write") {
            why.push(format!("job {name}: pushes without packages: write"));
        }
        if keyless && !has("id-token", "write") {
            why.push(format!(
                "job {name}: signs keylessly without id-token: write"
            ));
        }
        if sarif_upload && !has("security-events", "write") {
            why.push(format!(
                "job {name}: uploads SARIF without security-events: write"
            ));
        }
        // A SARIF file written is a SARIF file uploaded, or the workflow claims what it does not do.
        for (_, args) in &slipway {
            let mut it = args.split_whitespace();
            while let Some(a) = it.next() {
                if a == "--sarif" {
                    let file = it.next().unwrap_or("");
                    let uploaded = steps.iter().any(|s| {
                        s["uses"]
                            .as_str()
                            .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif@"))
                            && s["with"]["sarif_file"] == file
                    });
                    if !uploaded {
                        why.push(format!(
                            "job {name}: writes SARIF {file} but never uploads it"
                        ));
                    }
                }
            }
        }
    }
    why
}

#[test]
fn every_workflow_and_job_asks_for_the_least_permissions() {
    for w in workflows() {
        let problems = permission_problems(&yaml(&w));
        assert!(problems.is_empty(), "{}: {problems:#?}", w.display());
    }
    // The check itself catches the usual mistakes.
    let sample = |text: &str| permission_problems(&serde_saphyr::from_str(text).unwrap());
    let steps = "    steps:\n      - uses: ./\n        with:\n          command: build\n";
    for (bad, needle) in [
        (format!("permissions: write-all\njobs:\n  a:\n    permissions:\n      contents: read\n{steps}"), "top-level"),
        (format!("permissions:\n  contents: write\njobs:\n  a:\n    permissions:\n      contents: read\n{steps}"), "top-level"),
        (format!("permissions: {{}}\njobs:\n  a:\n{steps}"), "no permissions of its own"),
        (format!("permissions: {{}}\njobs:\n  a:\n    permissions:\n      contents: read\n      packages: write\n{steps}"), "packages: write is not needed"),
        (format!("permissions: {{}}\njobs:\n  a:\n    permissions:\n      contents: read\n      security-events: write\n{steps}"), "security-events: write is not needed"),
        (
            "permissions: {}\njobs:\n  a:\n    permissions:\n      contents: read\n    steps:\n      - uses: ./\n        with:\n          command: scan-sbom\n          args: --sarif x.sarif\n".into(),
            "never uploads",
        ),
        (
            "permissions: {}\njobs:\n  a:\n    permissions:\n      contents: read\n    steps:\n      - uses: ./\n        with:\n          command: push\n".into(),
            "without packages: write",
        ),
    ] {
        let p = sample(&bad);
        assert!(p.iter().any(|x| x.contains(needle)), "{needle} not found for:\n{bad}\n{p:?}");
    }
}

/// The `run:` script of the action step named `name`.
fn action_script(name: &str) -> String {
    let doc = yaml(&repo_root().join("action.yml"));
    doc["runs"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("no step {name} in action.yml"))
        .to_owned()
}

/// The action step named `name` as the runner runs a `shell: bash` step: its script written to a
/// file and run with `bash --noprofile --norc -eo pipefail FILE` (errexit on). The directory
/// holding the script must outlive the command.
fn runner_bash(name: &str) -> (tempfile::TempDir, Command) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("step.sh");
    std::fs::write(&script, action_script(name)).unwrap();
    let mut c = Command::new("bash");
    c.args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script);
    (dir, c)
}

/// A plain HTTP file server on 127.0.0.1 standing in for GitHub's release downloads; records the
/// paths asked for.
struct Releases {
    port: u16,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Releases {
    fn start() -> Releases {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let (f, a) = (files.clone(), asked.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                a.lock().unwrap().push(path.clone());
                let body = f.lock().unwrap().get(&path).cloned();
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        Releases { port, files, asked }
    }

    fn put(&self, path: &str, bytes: Vec<u8>) {
        self.files.lock().unwrap().insert(path.into(), bytes);
    }
}

struct Install {
    code: i32,
    log: String,
    temp: PathBuf,
    github_path: String,
}

fn install(
    dir: &Path,
    version: &str,
    base: &str,
    path_prefix: Option<&Path>,
    os_arch: (&str, &str),
) -> Install {
    let temp = tempfile::tempdir_in(dir).unwrap().keep();
    let github_path = temp.join("github_path");
    let path = match path_prefix {
        Some(p) => format!("{}:{}", p.display(), std::env::var("PATH").unwrap()),
        None => std::env::var("PATH").unwrap(),
    };
    let (_script, mut step) = runner_bash("Install");
    let out = step
        .env_clear()
        .env("PATH", path)
        .env("SLIPWAY_VERSION", version)
        .env("ACTION_PATH", repo_root())
        .env("RUNNER_TEMP", &temp)
        .env("RUNNER_OS", os_arch.0)
        .env("RUNNER_ARCH", os_arch.1)
        .env("GITHUB_PATH", &github_path)
        .env("SLIPWAY_RELEASE_BASE", base)
        .output()
        .unwrap();
    Install {
        code: out.status.code().unwrap(),
        log: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        github_path: std::fs::read_to_string(&github_path).unwrap_or_default(),
        temp,
    }
}

fn sha256_line(bytes: &[u8], name: &str) -> Vec<u8> {
    let d = slipway_test::sha256_digest(bytes);
    format!("{}  {name}\n", d.trim_start_matches("sha256:")).into_bytes()
}

#[test]
fn the_action_installs_a_release_only_with_the_right_checksum() {
    let dir = tempfile::tempdir().unwrap();
    // A release archive as the release workflow makes it: the binaries at its top level.
    let payload = dir.path().join("payload");
    std::fs::create_dir_all(&payload).unwrap();
    for bin in ["slipway", "slipway-build"] {
        let p = payload.join(bin);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho {bin} 0.1.0 from the release\n"),
        )
        .unwrap();
        let ok = Command::new("chmod").arg("755").arg(&p).status().unwrap();
        assert!(ok.success());
    }
    let file = "slipway-0.1.0-x86_64-unknown-linux-musl.tar.gz";
    let tarball = dir.path().join(file);
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&payload)
        .args(["slipway", "slipway-build"])
        .status()
        .unwrap();
    assert!(ok.success());
    let bytes = std::fs::read(&tarball).unwrap();
    let rel = Releases::start();
    let base = format!("http://127.0.0.1:{}", rel.port);
    rel.put(&format!("/v0.1.0/{file}"), bytes.clone());

    // The right checksum: installed, on GITHUB_PATH, runnable.
    rel.put(&format!("/v0.1.0/{file}.sha256"), sha256_line(&bytes, file));
    let r = install(dir.path(), "0.1.0", &base, None, ("Linux", "X64"));
    assert_eq!(r.code, 0, "{}", r.log);
    let bin = r.temp.join("slipway/bin");
    assert_eq!(r.github_path, format!("{}\n", bin.display()));
    let out = Command::new(bin.join("slipway")).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "slipway 0.1.0 from the release\n"
    );
    assert_eq!(
        *rel.asked.lock().unwrap(),
        [format!("/v0.1.0/{file}"), format!("/v0.1.0/{file}.sha256")]
    );

    // A wrong checksum, or a checksum line for another file: nothing installed, the step fails.
    for sums in [
        sha256_line(b"something else", file),
        sha256_line(&bytes, "slipway-0.1.0-aarch64-unknown-linux-musl.tar.gz"),
        Vec::new(),
    ] {
        rel.put(&format!("/v0.1.0/{file}.sha256"), sums.clone());
        let r = install(dir.path(), "0.1.0", &base, None, ("Linux", "X64"));
        assert_ne!(r.code, 0, "{}", String::from_utf8_lossy(&sums));
        assert!(r.log.contains("checksum of"), "{}", r.log);
        assert!(
            !r.temp.join("slipway/bin/slipway").exists(),
            "installed despite the checksum"
        );
        assert!(r.github_path.is_empty());
    }
    // A missing release asset (404) fails too; so does a platform without releases.
    let r = install(dir.path(), "9.9.9", &base, None, ("Linux", "X64"));
    assert_ne!(r.code, 0, "{}", r.log);
    assert!(!r.temp.join("slipway/bin/slipway").exists());
    let r = install(dir.path(), "0.1.0", &base, None, ("Windows", "X64"));
    assert_eq!(r.code, 1, "{}", r.log);
    assert!(
        r.log.contains("no slipway release for Windows/X64"),
        "{}",
        r.log
    );
}

/// `version: source` runs `cargo install --locked` on the action's own checkout. A real build of
/// the whole CLI in release mode takes too long for the test suite, so a stand-in `cargo` on PATH
/// records the arguments (and puts a binary where cargo would).
#[test]
fn the_action_builds_from_source_with_cargo_install_locked() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake-cargo");
    std::fs::create_dir_all(&fake).unwrap();
    let record = dir.path().join("cargo-args");
    std::fs::write(
        fake.join("cargo"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> {rec}\necho --- >> {rec}\nwhile [ \"$1\" != --root ]; do shift; done\nmkdir -p \"$2/bin\" && printf '#!/bin/sh\\n' > \"$2/bin/slipway\" && chmod 755 \"$2/bin/slipway\"\n",
            rec = record.display()
        ),
    )
    .unwrap();
    assert!(
        Command::new("chmod")
            .arg("755")
            .arg(fake.join("cargo"))
            .status()
            .unwrap()
            .success()
    );
    let r = install(
        dir.path(),
        "source",
        "http://127.0.0.1:9",
        Some(&fake),
        ("Linux", "X64"),
    );
    assert_eq!(r.code, 0, "{}", r.log);
    let args = std::fs::read_to_string(&record).unwrap();
    let dest = r.temp.join("slipway");
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        [
            "install",
            "--locked",
            "--path",
            &repo_root().join("crates/slipway-cli").display().to_string(),
            "--root",
            &dest.display().to_string(),
            "---"
        ]
    );
    assert_eq!(r.github_path, format!("{}\n", dest.join("bin").display()));
    // The crate it points at is the CLI, with the binaries the action runs.
    let manifest =
        std::fs::read_to_string(repo_root().join("crates/slipway-cli/Cargo.toml")).unwrap();
    for bin in [
        "slipway",
        "slipway-build",
        "slipway-scan-sbom",
        "slipway-sign",
        "slipway-push",
        "slipway-promote",
    ] {
        assert!(manifest.contains(&format!("name = \"{bin}\"")), "{bin}");
    }
}

/// Runs the action's "Run slipway" step in `dir` as the runner would (see [`runner_bash`]), with
/// the test's binaries and Trivy on PATH; returns the exit code, the log and the step outputs.
fn run_step(dir: &Path, command: &str, args: &str) -> (i32, String, BTreeMap<String, String>) {
    let bins = Path::new(env!("CARGO_BIN_EXE_slipway"))
        .parent()
        .unwrap()
        .to_path_buf();
    let trivy = tool("trivy").parent().unwrap().to_path_buf();
    let output = dir.join("github_output");
    let _ = std::fs::remove_file(&output);
    let (_script, mut step) = runner_bash("Run slipway");
    let out = step
        .current_dir(dir)
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}:{}",
                bins.display(),
                trivy.display(),
                std::env::var("PATH").unwrap()
            ),
        )
        .env("NO_COLOR", "1")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("TRIVY_CACHE_DIR", dir.join(".trivy-cache"))
        .env("SLIPWAY_COMMAND", command)
        .env("SLIPWAY_ARGS", args)
        .env("SLIPWAY_CONFIG", "")
        .env("SLIPWAY_STATE", ".slipway/state.json")
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&output).unwrap_or_default();
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some((k, delim)) = l.split_once("<<") {
            let v: Vec<&str> = lines.by_ref().take_while(|x| *x != delim).collect();
            outputs.insert(k.to_owned(), v.join("\n"));
        } else if let Some((k, v)) = l.split_once('=') {
            outputs.insert(k.to_owned(), v.to_owned());
        }
    }
    (
        out.status.code().unwrap(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        outputs,
    )
}

#[test]
fn the_action_step_reports_the_verdict_and_fails_with_a_failing_gate() {
    for (secret, code, verdict) in [(false, 0, "pass"), (true, 1, "fail")] {
        let dir = tempfile::tempdir().unwrap();
        let content: &[u8] = if secret {
            b"#!/bin/sh\nAWS_ACCESS_KEY_ID=AKIA2E0A8F3B244C9986\n"
        } else {
            b"#!/bin/sh\necho hi\n"
        };
        std::fs::write(dir.path().join("app-linux-amd64"), content).unwrap();
        let (c, log, out) = run_step(
            dir.path(),
            "build",
            "--name app --binary app-{os}-{arch} --platform linux/amd64",
        );
        assert_eq!(c, 0, "{log}");
        assert!(out["digest"].starts_with("sha256:"), "{out:?}");
        let (c, log, out) = run_step(dir.path(), "scan-sbom", "--scanner trivy --scanners secret");
        assert_eq!(c, code, "{log}");
        assert_eq!(
            out.get("verdict").map(String::as_str),
            Some(verdict),
            "{out:?}\n{log}"
        );
    }
    // Arguments are not evaluated by a shell; an unknown command is a usage error.
    let dir = tempfile::tempdir().unwrap();
    let (c, _, _) = run_step(dir.path(), "state", "validate $(touch${IFS}pwned)");
    assert_ne!(c, 0);
    assert!(!dir.path().join("pwned").exists());
    let (c, log, _) = run_step(dir.path(), "deploy", "");
    assert_eq!(c, 2, "{log}");
    assert!(log.contains("unknown command 'deploy'"), "{log}");
}
