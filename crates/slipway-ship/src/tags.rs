//! Tags for a pushed image, computed like docker/metadata-action does from the git context.
//!
//! | rule | from | tags |
//! |---|---|---|
//! | explicit | `--tag` | as given |
//! | semver | a git tag `v1.2.3` | `1.2.3`, `1.2`, `1`, `latest` (prereleases: only the full version; no bare `0`) |
//! | branch | a branch push | the branch name, sanitised (`feature/x` → `feature-x`) |
//! | pr | a pull/merge request | `pr-N` |
//! | sha | the commit | `sha-` + 7 hex digits |
//! | environment | `--environment` | its name |
//! | template | `push.tags.templates` | e.g. `{{branch}}-{{sha}}` |
//!
//! Only valid OCI tags come out (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`); semver build metadata
//! (`+abc`) and other characters a tag cannot hold are replaced, with a note saying so.

use slipway_types::{Tag, sanitize_tag};

/// The git context tags are derived from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitContext {
    /// A git tag name (`v1.2.3`), when the run is for a tag.
    pub tag: Option<String>,
    /// A branch name, when the run is for a branch.
    pub branch: Option<String>,
    /// Pull/merge request number.
    pub pr: Option<u64>,
    /// Commit SHA (full).
    pub sha: Option<String>,
}

impl GitContext {
    /// Reads GitHub Actions (`GITHUB_REF`, `GITHUB_SHA`, `GITHUB_HEAD_REF`) or GitLab CI
    /// (`CI_COMMIT_TAG`, `CI_COMMIT_BRANCH`, `CI_MERGE_REQUEST_IID`, `CI_COMMIT_SHA`) variables
    /// through `get`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> GitContext {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let mut c = GitContext {
            sha: get("GITHUB_SHA").or_else(|| get("CI_COMMIT_SHA")),
            ..GitContext::default()
        };
        if let Some(r) = get("GITHUB_REF") {
            c.apply_ref(&r);
            if c.pr.is_some() {
                c.branch = None;
            }
        } else {
            c.tag = get("CI_COMMIT_TAG");
            c.pr = get("CI_MERGE_REQUEST_IID").and_then(|v| v.parse().ok());
            if c.tag.is_none() && c.pr.is_none() {
                c.branch = get("CI_COMMIT_BRANCH").or_else(|| get("CI_COMMIT_REF_NAME"));
            }
        }
        c
    }

    /// Sets tag/branch/pr from a git ref (`refs/tags/v1`, `refs/heads/main`,
    /// `refs/pull/12/merge`); anything else is taken as a tag name when it parses as semver,
    /// else as a branch.
    pub fn apply_ref(&mut self, r: &str) {
        if let Some(t) = r.strip_prefix("refs/tags/") {
            self.tag = Some(t.to_owned());
        } else if let Some(b) = r.strip_prefix("refs/heads/") {
            self.branch = Some(b.to_owned());
        } else if let Some(p) = r.strip_prefix("refs/pull/") {
            self.pr = p.split('/').next().and_then(|n| n.parse().ok());
        } else if let Some(p) = r.strip_prefix("refs/merge-requests/") {
            self.pr = p.split('/').next().and_then(|n| n.parse().ok());
        } else if Semver::parse(r).is_some() {
            self.tag = Some(r.to_owned());
        } else if !r.is_empty() {
            self.branch = Some(r.to_owned());
        }
    }

    /// The first 7 hex digits of the commit.
    pub fn short_sha(&self) -> Option<String> {
        self.sha
            .as_deref()
            .filter(|s| s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|s| s[..7].to_ascii_lowercase())
    }
}

/// When to add `latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Latest {
    /// With a semver release (not a prerelease).
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Which rules apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRules {
    /// Tags given explicitly.
    pub explicit: Vec<String>,
    /// Semver tags from a git tag.
    pub semver: bool,
    /// `latest`.
    pub latest: Latest,
    /// The branch name.
    pub branch: bool,
    /// `pr-N`.
    pub pr: bool,
    /// `sha-<7 hex>`.
    pub sha: bool,
    /// The environment name, as a tag.
    pub environment: Option<String>,
    /// Templates with `{{version}}`, `{{major}}`, `{{minor}}`, `{{patch}}`, `{{tag}}`,
    /// `{{branch}}`, `{{pr}}`, `{{sha}}`, `{{long_sha}}`, `{{env}}`.
    pub templates: Vec<String>,
}

impl Default for TagRules {
    fn default() -> Self {
        TagRules {
            explicit: Vec::new(),
            semver: true,
            latest: Latest::Auto,
            branch: true,
            pr: true,
            sha: false,
            environment: None,
            templates: Vec::new(),
        }
    }
}

/// Tags and what was changed to make them valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagPlan {
    /// Tags, in rule order, each once.
    pub tags: Vec<Tag>,
    /// One line per sanitised or skipped value.
    pub notes: Vec<String>,
}

/// A tag that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` ({origin}) is not a valid OCI tag: {reason}")]
pub struct TagRuleError {
    /// The value.
    pub value: String,
    /// Where it came from (`--tag`, `template {{...}}`).
    pub origin: String,
    /// Why.
    pub reason: String,
}

/// A parsed semantic version (a leading `v` is allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Prerelease (`rc.1`).
    pub pre: Option<String>,
    /// Build metadata (`abc`).
    pub build: Option<String>,
}

impl Semver {
    /// Parses `v1.2.3`, `1.2.3-rc.1+build`.
    pub fn parse(s: &str) -> Option<Semver> {
        let s = s.strip_prefix('v').unwrap_or(s);
        let (rest, build) = match s.split_once('+') {
            Some((r, b)) if !b.is_empty() => (r, Some(b.to_owned())),
            Some(_) => return None,
            None => (s, None),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) if !p.is_empty() => (c, Some(p.to_owned())),
            Some(_) => return None,
            None => (rest, None),
        };
        let mut it = core.split('.');
        let num = |x: Option<&str>| -> Option<u64> {
            let x = x?;
            if x.is_empty()
                || !x.bytes().all(|b| b.is_ascii_digit())
                || (x.len() > 1 && x.starts_with('0'))
            {
                return None;
            }
            x.parse().ok()
        };
        let (major, minor, patch) = (num(it.next())?, num(it.next())?, num(it.next())?);
        if it.next().is_some() {
            return None;
        }
        Some(Semver {
            major,
            minor,
            patch,
            pre,
            build,
        })
    }

    /// `1.2.3[-pre][+build]`.
    pub fn version(&self) -> String {
        let mut v = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if let Some(p) = &self.pre {
            v.push('-');
            v.push_str(p);
        }
        if let Some(b) = &self.build {
            v.push('+');
            v.push_str(b);
        }
        v
    }
}

/// Computes the tags for `rules` in `ctx`.
pub fn compute(rules: &TagRules, ctx: &GitContext) -> Result<TagPlan, TagRuleError> {
    let mut plan = TagPlan::default();
    for t in &rules.explicit {
        add_explicit(&mut plan, t, "--tag")?;
    }
    let semver = ctx.tag.as_deref().and_then(Semver::parse);
    if rules.semver {
        match (&semver, &ctx.tag) {
            (Some(v), _) => {
                add(&mut plan, &v.version(), "semver {{version}}");
                if v.pre.is_none() {
                    add(
                        &mut plan,
                        &format!("{}.{}", v.major, v.minor),
                        "semver {{major}}.{{minor}}",
                    );
                    if v.major > 0 {
                        add(&mut plan, &v.major.to_string(), "semver {{major}}");
                    }
                }
            }
            (None, Some(t)) => plan.notes.push(format!(
                "git tag `{t}` is not a semantic version; no semver tags"
            )),
            (None, None) => {}
        }
    }
    let release = semver.as_ref().is_some_and(|v| v.pre.is_none());
    match rules.latest {
        Latest::Always => add(&mut plan, "latest", "latest"),
        Latest::Auto if release && rules.semver => add(&mut plan, "latest", "latest"),
        _ => {}
    }
    if rules.branch
        && let Some(b) = &ctx.branch
    {
        add(&mut plan, b, "branch");
    }
    if rules.pr
        && let Some(n) = ctx.pr
    {
        add(&mut plan, &format!("pr-{n}"), "pull request");
    }
    if rules.sha
        && let Some(s) = ctx.short_sha()
    {
        add(&mut plan, &format!("sha-{s}"), "commit");
    }
    if let Some(e) = &rules.environment {
        add_explicit(&mut plan, e, "--environment")?;
    }
    for t in &rules.templates {
        match render(t, ctx, semver.as_ref(), rules.environment.as_deref()) {
            Ok(v) => add(&mut plan, &v, &format!("template `{t}`")),
            Err(missing) => plan
                .notes
                .push(format!("template `{t}` skipped: no {missing} in this run")),
        }
    }
    Ok(plan)
}

fn push_unique(plan: &mut TagPlan, tag: Tag) {
    if !plan.tags.contains(&tag) {
        plan.tags.push(tag);
    }
}

/// Derived values are sanitised; a value with nothing usable is skipped with a note.
fn add(plan: &mut TagPlan, value: &str, origin: &str) {
    match sanitize_tag(value) {
        Some((tag, changed)) => {
            if changed {
                plan.notes.push(format!(
                    "{origin}: `{value}` is not a valid OCI tag; using `{tag}`"
                ));
            }
            push_unique(plan, tag);
        }
        None => plan.notes.push(format!(
            "{origin}: `{value}` cannot be made into a tag; skipped"
        )),
    }
}

/// Explicit values must be valid tags; only semver build metadata (`+…`) is sanitised.
fn add_explicit(plan: &mut TagPlan, value: &str, origin: &str) -> Result<(), TagRuleError> {
    if let Ok(t) = value.parse::<Tag>() {
        push_unique(plan, t);
        return Ok(());
    }
    if let Some((head, _)) = value.split_once('+')
        && head.parse::<Tag>().is_ok()
        && let Some((t, _)) = sanitize_tag(value)
        && t.as_str().len() == value.len()
    {
        plan.notes.push(format!(
            "{origin}: `{value}` has semver build metadata (`+`), which tags cannot hold; using `{t}`"
        ));
        push_unique(plan, t);
        return Ok(());
    }
    let reason = value
        .parse::<Tag>()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    Err(TagRuleError {
        value: value.to_owned(),
        origin: origin.to_owned(),
        reason: if reason.is_empty() {
            "tags match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}".into()
        } else {
            reason
        },
    })
}

fn render(
    template: &str,
    ctx: &GitContext,
    semver: Option<&Semver>,
    env: Option<&str>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| "closing `}}`".to_owned())?;
        let key = after[..end].trim();
        let value = match key {
            "version" => semver.map(Semver::version),
            "major" => semver.map(|v| v.major.to_string()),
            "minor" => semver.map(|v| v.minor.to_string()),
            "patch" => semver.map(|v| v.patch.to_string()),
            "tag" => ctx.tag.clone(),
            "branch" => ctx.branch.clone(),
            "pr" => ctx.pr.map(|n| n.to_string()),
            "sha" => ctx.short_sha(),
            "long_sha" => ctx.sha.clone(),
            "env" => env.map(str::to_owned),
            other => return Err(format!("placeholder `{{{{{other}}}}}` (unknown)")),
        };
        out.push_str(&value.ok_or_else(|| format!("`{{{{{key}}}}}`"))?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(plan: &TagPlan) -> Vec<&str> {
        plan.tags.iter().map(Tag::as_str).collect()
    }

    fn ctx(r: &str) -> GitContext {
        let mut c = GitContext {
            sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
            ..GitContext::default()
        };
        c.apply_ref(r);
        c
    }

    #[test]
    fn semver_like_metadata_action() {
        let p = compute(&TagRules::default(), &ctx("refs/tags/v1.2.3")).unwrap();
        assert_eq!(tags(&p), ["1.2.3", "1.2", "1", "latest"]);
        let p = compute(&TagRules::default(), &ctx("refs/tags/v2.0.0-rc.1")).unwrap();
        assert_eq!(
            tags(&p),
            ["2.0.0-rc.1"],
            "prereleases get only the full version"
        );
        let p = compute(&TagRules::default(), &ctx("refs/tags/v0.3.1")).unwrap();
        assert_eq!(tags(&p), ["0.3.1", "0.3", "latest"], "no bare 0");
        let p = compute(&TagRules::default(), &ctx("refs/tags/v1.2.3+build.7")).unwrap();
        assert_eq!(tags(&p), ["1.2.3-build.7", "1.2", "1", "latest"]);
        assert!(p.notes[0].contains("not a valid OCI tag"), "{:?}", p.notes);
        let p = compute(&TagRules::default(), &ctx("refs/tags/release-x")).unwrap();
        assert!(p.tags.is_empty());
        assert!(p.notes[0].contains("not a semantic version"));
    }

    #[test]
    fn branch_pr_sha_env_templates() {
        let rules = TagRules {
            sha: true,
            environment: Some("staging".into()),
            templates: vec!["{{branch}}-{{sha}}".into(), "v{{version}}".into()],
            ..TagRules::default()
        };
        let p = compute(&rules, &ctx("refs/heads/feature/login")).unwrap();
        assert_eq!(
            tags(&p),
            [
                "feature-login",
                "sha-0123456",
                "staging",
                "feature-login-0123456"
            ]
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("template `v{{version}}` skipped"))
        );
        let p = compute(&rules, &ctx("refs/pull/42/merge")).unwrap();
        assert_eq!(tags(&p)[0], "pr-42");
    }

    #[test]
    fn explicit_tags_are_checked() {
        let rules = TagRules {
            explicit: vec!["stable".into(), "1.0.0+abc".into()],
            ..TagRules::default()
        };
        let p = compute(&rules, &GitContext::default()).unwrap();
        assert_eq!(tags(&p), ["stable", "1.0.0-abc"]);
        assert!(p.notes[0].contains("build metadata"));
        let rules = TagRules {
            explicit: vec!["bad tag!".into()],
            ..TagRules::default()
        };
        let e = compute(&rules, &GitContext::default()).unwrap_err();
        assert!(e.to_string().contains("--tag"), "{e}");
        let rules = TagRules {
            explicit: vec![".hidden".into()],
            ..TagRules::default()
        };
        assert!(compute(&rules, &GitContext::default()).is_err());
    }

    #[test]
    fn from_env() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(a, _)| *a == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let c = GitContext::from_env(env(&[
            ("GITHUB_REF", "refs/tags/v3.1.0"),
            ("GITHUB_SHA", "abcdef1234567"),
        ]));
        assert_eq!(c.tag.as_deref(), Some("v3.1.0"));
        assert_eq!(c.short_sha().as_deref(), Some("abcdef1"));
        let c = GitContext::from_env(env(&[
            ("CI_COMMIT_BRANCH", "main"),
            ("CI_COMMIT_SHA", "abcdef1234567"),
        ]));
        assert_eq!(c.branch.as_deref(), Some("main"));
        let c = GitContext::from_env(env(&[
            ("CI_MERGE_REQUEST_IID", "9"),
            ("CI_COMMIT_REF_NAME", "x"),
        ]));
        assert_eq!((c.pr, c.branch), (Some(9), None));
    }
}
