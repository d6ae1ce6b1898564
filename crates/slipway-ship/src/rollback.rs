//! Rollback plans: which digest each promoted tag goes back to.
//!
//! A rollback undoes the newest promotion (not itself a rollback) to each target repository:
//! every tag it moved goes back to the digest it pointed to before, or to one digest given
//! with `--to`. Tags that were new in that promotion have nothing to go back to and are
//! reported, not touched.

use slipway_state::{PromotionRecord, State};
use slipway_types::{Digest, Repository, Tag};

/// One tag to move back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRollback {
    /// The tag.
    pub tag: Tag,
    /// The digest the promotion put there.
    pub promoted: Digest,
    /// Where it goes back to; `None` when the tag was new (nothing to restore).
    pub restore: Option<Digest>,
}

/// The rollback of one target repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRollback {
    /// The repository.
    pub repository: Repository,
    /// Its tags.
    pub tags: Vec<TagRollback>,
}

/// Nothing to roll back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no promotion{} is recorded in the state file, so there is nothing to roll back", .0.as_ref().map(|r| format!(" to {r}")).unwrap_or_default())]
pub struct NothingToRollBack(pub Option<Repository>);

/// The newest promotion (not a rollback) that went to `repo` (any repository when `None`).
pub fn last_promotion<'a>(
    state: &'a State,
    repo: Option<&Repository>,
) -> Option<&'a PromotionRecord> {
    state
        .promotions
        .iter()
        .rev()
        .find(|p| !p.rollback && repo.is_none_or(|r| p.targets.iter().any(|t| &t.repository == r)))
}

/// Plans the rollback of `targets` (the targets of the newest promotion when empty), to `to`
/// when given.
pub fn plan(
    state: &State,
    targets: &[Repository],
    to: Option<&Digest>,
) -> Result<Vec<TargetRollback>, NothingToRollBack> {
    let wanted: Vec<Repository> = if targets.is_empty() {
        let p = last_promotion(state, None).ok_or(NothingToRollBack(None))?;
        p.targets.iter().map(|t| t.repository.clone()).collect()
    } else {
        targets.to_vec()
    };
    let mut out = Vec::new();
    for repo in wanted {
        let p = last_promotion(state, Some(&repo))
            .ok_or_else(|| NothingToRollBack(Some(repo.clone())))?;
        let t = p
            .targets
            .iter()
            .find(|t| t.repository == repo)
            .expect("found by repository");
        out.push(TargetRollback {
            repository: repo,
            tags: t
                .tags
                .iter()
                .map(|m| TagRollback {
                    tag: m.tag.clone(),
                    promoted: p.digest.clone(),
                    restore: to.cloned().or_else(|| m.previous.clone()),
                })
                .collect(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use slipway_state::{PromotionTarget, TagMove};

    fn d(n: u8) -> Digest {
        Digest::sha256_from_bytes(&[n; 32])
    }

    #[test]
    fn restores_previous_digests() {
        let prod: Repository = "reg.example/prod".parse().unwrap();
        let mut state = State::default();
        assert!(plan(&state, &[], None).is_err());
        state.promotions.push(PromotionRecord {
            digest: d(2),
            source: None,
            targets: vec![PromotionTarget {
                repository: prod.clone(),
                tags: vec![
                    TagMove {
                        tag: "stable".parse().unwrap(),
                        previous: Some(d(1)),
                    },
                    TagMove {
                        tag: "new".parse().unwrap(),
                        previous: None,
                    },
                ],
            }],
            rollback: false,
            at: Utc::now(),
        });
        let p = plan(&state, &[], None).unwrap();
        assert_eq!(p[0].repository, prod);
        assert_eq!(p[0].tags[0].restore, Some(d(1)));
        assert_eq!(p[0].tags[1].restore, None);
        let p = plan(&state, std::slice::from_ref(&prod), Some(&d(7))).unwrap();
        assert!(p[0].tags.iter().all(|t| t.restore == Some(d(7))));
        let other: Repository = "reg.example/other".parse().unwrap();
        assert!(plan(&state, &[other], None).is_err());
    }
}
