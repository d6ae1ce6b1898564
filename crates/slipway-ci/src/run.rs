//! Which CI system runs us, and the run's metadata.

use std::path::Path;
use std::process::Command;

use slipway_env as ev;
use slipway_state::{CiKind, RunInfo};

use crate::Env;

/// Detects the CI system from its marker variables.
pub fn detect(env: &Env) -> CiKind {
    if env.is_true(ev::GITHUB_ACTIONS) {
        CiKind::Github
    } else if env.is_true(ev::GITLAB_CI) {
        CiKind::Gitlab
    } else {
        CiKind::Local
    }
}

/// Run metadata from the CI environment, or from the git checkout in `cwd` when local.
pub fn run_info(env: &Env, cwd: &Path) -> RunInfo {
    let get = |n: &str| env.non_empty(n).map(str::to_owned);
    match detect(env) {
        CiKind::Github => RunInfo {
            ci: CiKind::Github,
            repository: get(ev::GITHUB_REPOSITORY),
            server_url: get(ev::GITHUB_SERVER_URL),
            git_ref: get(ev::GITHUB_REF),
            commit: get(ev::GITHUB_SHA),
            run_id: get(ev::GITHUB_RUN_ID),
            run_attempt: get(ev::GITHUB_RUN_ATTEMPT),
            workflow: get(ev::GITHUB_WORKFLOW),
            workflow_ref: get(ev::GITHUB_WORKFLOW_REF),
            job: get(ev::GITHUB_JOB),
            event: get(ev::GITHUB_EVENT_NAME),
            actor: get(ev::GITHUB_ACTOR),
        },
        CiKind::Gitlab => RunInfo {
            ci: CiKind::Gitlab,
            repository: get(ev::CI_PROJECT_PATH),
            server_url: get(ev::CI_SERVER_URL),
            git_ref: get(ev::CI_COMMIT_TAG).or_else(|| get(ev::CI_COMMIT_REF_NAME)),
            commit: get(ev::CI_COMMIT_SHA),
            run_id: get(ev::CI_PIPELINE_ID),
            run_attempt: None,
            workflow: get(ev::CI_CONFIG_PATH),
            workflow_ref: None,
            job: get(ev::CI_JOB_NAME).or_else(|| get(ev::CI_JOB_ID)),
            event: get(ev::CI_PIPELINE_SOURCE),
            actor: get(ev::GITLAB_USER_LOGIN),
        },
        CiKind::Local => {
            let (git_ref, commit) = git_head(cwd);
            RunInfo {
                ci: CiKind::Local,
                repository: None,
                server_url: None,
                git_ref,
                commit,
                run_id: None,
                run_attempt: None,
                workflow: None,
                workflow_ref: None,
                job: None,
                event: None,
                actor: None,
            }
        }
    }
}

/// The checked-out ref (`refs/heads/main`, none when detached) and commit, in one `git` call.
fn git_head(cwd: &Path) -> (Option<String>, Option<String>) {
    let Ok(out) = Command::new("git")
        .current_dir(cwd)
        .args(["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"])
        .output()
    else {
        return (None, None);
    };
    if !out.status.success() {
        return (None, None);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines().map(str::trim);
    let (first, second) = (lines.next(), lines.next());
    let git_ref = second.filter(|r| r.starts_with("refs/")).map(str::to_owned);
    let commit = first
        .filter(|c| c.len() >= 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned);
    (git_ref, commit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn github_metadata() {
        let e = env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF", "refs/tags/v1.2.3"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_WORKFLOW", "release"),
            ("GITHUB_JOB", "build"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_SERVER_URL", "https://github.com"),
        ]);
        let r = run_info(&e, Path::new("."));
        assert_eq!(r.ci, CiKind::Github);
        assert_eq!(r.repository.as_deref(), Some("acme/app"));
        assert_eq!(r.git_ref.as_deref(), Some("refs/tags/v1.2.3"));
        assert_eq!(r.run_id.as_deref(), Some("42"));
        assert_eq!(r.workflow.as_deref(), Some("release"));
        assert_eq!(r.actor.as_deref(), Some("octocat"));
    }

    #[test]
    fn gitlab_metadata_prefers_tag() {
        let e = env(&[
            ("GITLAB_CI", "true"),
            ("CI_PROJECT_PATH", "grp/app"),
            ("CI_COMMIT_REF_NAME", "main"),
            ("CI_COMMIT_TAG", "v2.0.0"),
            ("CI_COMMIT_SHA", "abc"),
            ("CI_PIPELINE_ID", "7"),
            ("CI_JOB_NAME", "push"),
        ]);
        let r = run_info(&e, Path::new("."));
        assert_eq!(r.ci, CiKind::Gitlab);
        assert_eq!(r.git_ref.as_deref(), Some("v2.0.0"));
        assert_eq!(r.job.as_deref(), Some("push"));
    }

    #[test]
    fn local_reads_git() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let ok = Command::new("git")
                .current_dir(dir.path())
                .args(args)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
                .output()
                .unwrap();
            assert!(ok.status.success(), "{ok:?}");
            String::from_utf8(ok.stdout).unwrap().trim().to_owned()
        };
        run(&["init", "-q", "-b", "trunk"]);
        run(&["commit", "-q", "--allow-empty", "-m", "x"]);
        let head = run(&["rev-parse", "HEAD"]);
        let r = run_info(&Env::default(), dir.path());
        assert_eq!(r.ci, CiKind::Local);
        assert_eq!(r.commit.as_deref(), Some(head.as_str()));
        assert_eq!(r.git_ref.as_deref(), Some("refs/heads/trunk"));
        // Outside a repository there is simply nothing to record.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(run_info(&Env::default(), empty.path()).commit, None);
    }
}
