//! The GitHub Action and the example workflows pass GitHub's schemas (check-jsonschema's
//! vendored schemas) and @action-validator/cli.

use std::path::PathBuf;
use std::process::Command;

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
        // Third-party actions are pinned to full commit SHAs.
        let text = std::fs::read_to_string(&w).unwrap();
        for line in text
            .lines()
            .filter(|l| l.contains("uses:") && !l.contains("uses: ./"))
        {
            let at = line.split('@').nth(1).unwrap_or("");
            assert!(
                at.len() >= 40 && at[..40].chars().all(|c| c.is_ascii_hexdigit()),
                "{}: not pinned to a commit: {line}",
                w.display()
            );
        }
        assert!(
            text.contains("permissions:"),
            "{}: least permissions",
            w.display()
        );
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
