//! Fan-in of matrix jobs: combine the state files of jobs that ran in parallel.
//!
//! Collections are unions (exact duplicates collapse). Facts that must agree — the digest of an
//! image for a platform, an image's base, the run's commit — are compared, and a disagreement is
//! an error naming both values and where they came from. Every field of every merged struct is
//! destructured, so adding a field to the model does not compile until merge decides about it.

use std::collections::BTreeMap;
use std::fmt::Display;

use crate::{Image, PlatformImage, RunInfo, State};

/// Two inputs disagree about a fact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conflicting {what}: {left} (from {left_source}) vs {right} (from {right_source})")]
pub struct MergeError {
    /// The fact, e.g. "digest for image `hello` platform linux/amd64".
    pub what: String,
    /// Value in the accumulated result.
    pub left: String,
    /// Where it came from.
    pub left_source: String,
    /// Value in the input being merged.
    pub right: String,
    /// Where it came from.
    pub right_source: String,
}

/// Warnings a merge produces (not errors, but worth telling the user).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeNotes {
    /// Human-readable notes, e.g. that an index must be assembled again.
    pub notes: Vec<String>,
}

struct Ctx<'a> {
    left: &'a str,
    right: &'a str,
}

impl Ctx<'_> {
    fn conflict(&self, what: impl Into<String>, l: impl Display, r: impl Display) -> MergeError {
        MergeError {
            what: what.into(),
            left: l.to_string(),
            left_source: self.left.to_owned(),
            right: r.to_string(),
            right_source: self.right.to_owned(),
        }
    }
}

/// Merges `inputs` (each with a name used in messages, usually its path) into one state.
pub fn merge(inputs: &[(String, State)]) -> Result<(State, MergeNotes), MergeError> {
    let mut acc = State::default();
    let mut notes = MergeNotes::default();
    let mut sources: Vec<&str> = Vec::new();
    for (name, input) in inputs {
        let left = if sources.is_empty() {
            String::from("(none)")
        } else {
            sources.join(" + ")
        };
        let ctx = Ctx {
            left: &left,
            right: name,
        };
        merge_into(&mut acc, input.clone(), &ctx, &mut notes)?;
        sources.push(name);
    }
    Ok((acc, notes))
}

fn merge_into(
    acc: &mut State,
    input: State,
    ctx: &Ctx<'_>,
    notes: &mut MergeNotes,
) -> Result<(), MergeError> {
    let State {
        format: _,
        written_by: _,
        run,
        images,
        sboms,
        scans,
        signatures,
        attestations,
        verifications,
        pushes,
        promotions,
        runners,
        steps,
    } = input;
    acc.run = merge_run(acc.run.take(), run, ctx)?;
    for (name, image) in images {
        match acc.images.remove(&name) {
            None => {
                acc.images.insert(name, image);
            }
            Some(existing) => {
                let merged = merge_image(&name, existing, image, ctx, notes)?;
                acc.images.insert(name, merged);
            }
        }
    }
    for s in &sboms {
        if let Some(other) = acc.sboms.iter().find(|o| {
            o.subject == s.subject
                && o.format == s.format
                && o.tool == s.tool
                && o.sha256 != s.sha256
        }) {
            return Err(ctx.conflict(
                format!("SBOM ({:?}) for {}", s.format, s.subject),
                &other.sha256,
                &s.sha256,
            ));
        }
    }
    union(&mut acc.sboms, sboms);
    union(&mut acc.scans, scans);
    union(&mut acc.signatures, signatures);
    union(&mut acc.attestations, attestations);
    union(&mut acc.verifications, verifications);
    union(&mut acc.pushes, pushes);
    union(&mut acc.promotions, promotions);
    union(&mut acc.runners, runners);
    union(&mut acc.steps, steps);
    // Keep time order across jobs for the logs whose order means something.
    acc.scans.sort_by_key(|s| s.at);
    acc.verifications.sort_by_key(|v| v.at);
    acc.promotions.sort_by_key(|p| p.at);
    acc.steps.sort_by_key(|s| (s.started, s.finished));
    Ok(())
}

fn union<T: PartialEq>(acc: &mut Vec<T>, items: Vec<T>) {
    for item in items {
        if !acc.contains(&item) {
            acc.push(item);
        }
    }
}

/// Facts that must agree, or one side lacks.
fn same<T: PartialEq + Display>(
    what: &str,
    l: Option<T>,
    r: Option<T>,
    ctx: &Ctx<'_>,
) -> Result<Option<T>, MergeError> {
    match (l, r) {
        (Some(l), Some(r)) if l != r => Err(ctx.conflict(what, l, r)),
        (l, r) => Ok(l.or(r)),
    }
}

/// Details that may legitimately differ between jobs of one run (job name, attempt): kept when
/// equal, dropped when not.
fn common<T: PartialEq>(l: Option<T>, r: Option<T>) -> Option<T> {
    match (l, r) {
        (Some(l), Some(r)) => (l == r).then_some(l),
        (l, r) => l.or(r),
    }
}

fn merge_run(
    l: Option<RunInfo>,
    r: Option<RunInfo>,
    ctx: &Ctx<'_>,
) -> Result<Option<RunInfo>, MergeError> {
    let (l, r) = match (l, r) {
        (Some(l), Some(r)) => (l, r),
        (l, r) => return Ok(l.or(r)),
    };
    let RunInfo {
        ci,
        repository,
        server_url,
        git_ref,
        commit,
        run_id,
        run_attempt,
        workflow,
        workflow_ref,
        job,
        event,
        actor,
    } = r;
    if l.ci != ci {
        return Err(ctx.conflict("CI system", format!("{:?}", l.ci), format!("{ci:?}")));
    }
    Ok(Some(RunInfo {
        ci,
        repository: same("run repository", l.repository, repository, ctx)?,
        server_url: common(l.server_url, server_url),
        git_ref: same("run ref", l.git_ref, git_ref, ctx)?,
        commit: same("run commit", l.commit, commit, ctx)?,
        run_id: common(l.run_id, run_id),
        run_attempt: common(l.run_attempt, run_attempt),
        workflow: common(l.workflow, workflow),
        workflow_ref: common(l.workflow_ref, workflow_ref),
        job: common(l.job, job),
        event: common(l.event, event),
        actor: common(l.actor, actor),
    }))
}

fn merge_image(
    name: &str,
    l: Image,
    r: Image,
    ctx: &Ctx<'_>,
    notes: &mut MergeNotes,
) -> Result<Image, MergeError> {
    let Image {
        layout,
        layout_ref,
        index,
        platforms,
        base,
    } = r;
    let base = match (l.base, base) {
        (Some(a), Some(b)) if a != b => {
            let show = |x: &crate::BaseImage| match &x.digest {
                Some(d) => format!("{}@{d}", x.name),
                None => x.name.clone(),
            };
            return Err(ctx.conflict(format!("base of image `{name}`"), show(&a), show(&b)));
        }
        (a, b) => a.or(b),
    };
    let same_platform_set = l.platforms.keys().eq(platforms.keys());
    let mut merged: BTreeMap<_, PlatformImage> = l.platforms;
    // A platform's layout is the image's layout unless it says otherwise; keep that
    // information when the images' layouts differ.
    let left_layout = l.layout.clone();
    for p in merged.values_mut() {
        if p.layout.is_none() {
            p.layout.clone_from(&left_layout);
        }
    }
    for (platform, mut pimg) in platforms {
        if pimg.layout.is_none() {
            pimg.layout.clone_from(&layout);
        }
        match merged.get(&platform) {
            Some(existing) if existing.manifest.digest != pimg.manifest.digest => {
                return Err(ctx.conflict(
                    format!("digest for image `{name}` platform {platform}"),
                    &existing.manifest.digest,
                    &pimg.manifest.digest,
                ));
            }
            Some(_) => {}
            None => {
                merged.insert(platform, pimg);
            }
        }
    }
    let index = match (l.index, index) {
        (Some(a), Some(b)) if a.digest != b.digest => {
            if same_platform_set {
                return Err(ctx.conflict(
                    format!("index digest for image `{name}`"),
                    &a.digest,
                    &b.digest,
                ));
            }
            notes.notes.push(format!(
                "image `{name}`: the inputs carry partial indexes ({} and {}); the merged image has {} platforms and no index until one is assembled",
                a.digest.short(),
                b.digest.short(),
                merged.len()
            ));
            None
        }
        (a, b) => a.or(b),
    };
    let layout = common(l.layout, layout);
    if layout.is_some() {
        // One layout for everything: platforms need no layout of their own.
        for p in merged.values_mut() {
            if p.layout == layout {
                p.layout = None;
            }
        }
    }
    Ok(Image {
        layout,
        layout_ref: same(
            &format!("layout name of image `{name}`"),
            l.layout_ref,
            layout_ref,
            ctx,
        )?,
        index,
        platforms: merged,
        base,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Descriptor, StepOutcome, StepRecord};
    use slipway_types::{Digest, Platform};

    fn digest(n: u8) -> Digest {
        Digest::sha256_from_bytes(&[n; 32])
    }

    fn desc(n: u8) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json"
                .parse()
                .unwrap(),
            digest: digest(n),
            size: 100 + u64::from(n),
        }
    }

    fn one_platform(p: &str, n: u8, layout: &str) -> State {
        let mut s = State::default();
        let mut image = Image {
            layout: Some(layout.to_owned()),
            layout_ref: Some("hello".to_owned()),
            index: Some(Descriptor {
                media_type: "application/vnd.oci.image.index.v1+json".parse().unwrap(),
                ..desc(n + 100)
            }),
            ..Image::default()
        };
        image.platforms.insert(
            p.parse().unwrap(),
            PlatformImage {
                manifest: desc(n),
                config: None,
                layout: None,
                binaries: vec![],
            },
        );
        s.images.insert("hello".to_owned(), image);
        s.steps.push(StepRecord {
            step: crate::Step::Build,
            outcome: StepOutcome::Ok,
            started: chrono::DateTime::from_timestamp(i64::from(n), 0).unwrap(),
            finished: chrono::DateTime::from_timestamp(i64::from(n) + 1, 0).unwrap(),
            version: "slipway 0.1.0".to_owned(),
            job: Some(format!("build-{p}")),
            summary: None,
        });
        s
    }

    #[test]
    fn two_platforms_union() {
        let a = one_platform("linux/amd64", 1, "oci-amd64");
        let b = one_platform("linux/arm64", 2, "oci-arm64");
        let (m, notes) = merge(&[("a.json".into(), a), ("b.json".into(), b)]).unwrap();
        let img = &m.images["hello"];
        let plats: Vec<String> = img.platforms.keys().map(Platform::to_string).collect();
        assert_eq!(plats, ["linux/amd64", "linux/arm64"]);
        assert!(img.index.is_none(), "partial indexes must not survive");
        assert_eq!(notes.notes.len(), 1);
        // Each platform remembers its own layout.
        assert_eq!(
            img.platforms[&"linux/amd64".parse().unwrap()]
                .layout
                .as_deref(),
            Some("oci-amd64")
        );
        assert_eq!(
            img.platforms[&"linux/arm64".parse().unwrap()]
                .layout
                .as_deref(),
            Some("oci-arm64")
        );
        assert_eq!(m.steps.len(), 2);
    }

    #[test]
    fn identical_inputs_collapse() {
        let a = one_platform("linux/amd64", 1, "oci");
        let (m, notes) = merge(&[("a".into(), a.clone()), ("b".into(), a.clone())]).unwrap();
        assert_eq!(m.images, a.images);
        assert_eq!(m.steps, a.steps);
        assert!(notes.notes.is_empty());
    }

    #[test]
    fn conflicting_digest_names_both() {
        let a = one_platform("linux/amd64", 1, "oci");
        let b = one_platform("linux/amd64", 2, "oci");
        let e = merge(&[("a.json".into(), a), ("b.json".into(), b)]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("image `hello` platform linux/amd64"), "{msg}");
        assert!(
            msg.contains(&digest(1).to_string()) && msg.contains(&digest(2).to_string()),
            "{msg}"
        );
        assert!(
            msg.contains("(from a.json)") && msg.contains("(from b.json)"),
            "{msg}"
        );
    }

    #[test]
    fn conflicting_commit() {
        let mut a = State::default();
        let mut b = State::default();
        let run = |c: &str| RunInfo {
            ci: crate::CiKind::Github,
            repository: Some("acme/app".into()),
            server_url: None,
            git_ref: None,
            commit: Some(c.into()),
            run_id: None,
            run_attempt: None,
            workflow: None,
            workflow_ref: None,
            job: Some(c.into()),
            event: None,
            actor: None,
        };
        a.run = Some(run("aaaa"));
        b.run = Some(run("bbbb"));
        let e = merge(&[("a".into(), a), ("b".into(), b)]).unwrap_err();
        assert!(
            e.to_string()
                .contains("run commit: aaaa (from a) vs bbbb (from b)"),
            "{e}"
        );
    }
}
