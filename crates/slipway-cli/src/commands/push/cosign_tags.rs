//! Writing cosign tags without losing what is already there.
//!
//! A `sha256-<hex>.sig` (or `.att`) tag holds *every* signature (attestation) of that digest,
//! one layer each; other signers may have added theirs in the registry. Pushing or promoting
//! our manifest over it would drop them, so — like `cosign sign`, which goes through
//! go-containerregistry's `mutate.Append` — the tag gets the union: the target's layers first,
//! then ours that it lacks (the same payload with the same annotations counts once). The union
//! manifest is written by slipway-sign's cosign writer, in a scratch layout that push/promote
//! copy from. Other cosign tags (`.sbom`) are single-valued and replaced as before.
//!
//! A `.sig`/`.att` tag at the target that cannot be read or merged (an index, a layer over the
//! size limit, a read the registry refuses) stops the push or promotion with exit 3, naming the
//! tag: writing ours over it could drop signatures we cannot see, and `cosign sign` fails the
//! same way on such a tag.
//!
//! Two writers racing on one tag can still lose an update: the tag scheme has no
//! compare-and-swap (cosign has the same limit).

use oci_spec::image::Descriptor;
use slipway_oci::Layout;
use slipway_registry::CopyItem;
use slipway_sign::cosign::{self, ArtifactKind, Layer};
use slipway_sign::source::ArtifactSource;
use slipway_types::Digest;

use crate::error::Failure;

/// What to do with one cosign tag at one target.
#[derive(Debug)]
pub enum Decision {
    /// Write ours (the target has no such tag, or the same manifest, or the tag is not a
    /// `.sig`/`.att` one).
    AsIs,
    /// Write this union instead (copied from the scratch layout).
    Union(Box<CopyItem>),
    /// The target already holds every layer of ours: leave its tag alone.
    Kept,
}

/// The subject digest and kind of a mergeable cosign tag (`sha256-<hex>.sig` / `.att`).
pub fn parse_tag(tag: &str) -> Option<(Digest, ArtifactKind)> {
    let (rest, kind) = if let Some(r) = tag.strip_suffix(".sig") {
        (r, ArtifactKind::Signature)
    } else if let Some(r) = tag.strip_suffix(".att") {
        (r, ArtifactKind::Attestation)
    } else {
        return None;
    };
    let (alg, hex) = rest.split_once('-')?;
    let digest: Digest = format!("{alg}:{hex}").parse().ok()?;
    (digest.cosign_tag(kind.suffix()) == tag).then_some((digest, kind))
}

/// `existing` followed by the layers of `ours` it does not hold; `None` when it holds them all.
pub fn union(existing: &[Layer], ours: &[Layer]) -> Option<Vec<Layer>> {
    let mut out = existing.to_vec();
    for l in ours {
        if !out.contains(l) {
            out.push(l.clone());
        }
    }
    (out.len() > existing.len()).then_some(out)
}

/// Scratch space for union manifests (removed on drop).
#[derive(Debug, Default)]
pub struct Scratch {
    made: std::sync::OnceLock<(tempfile::TempDir, Layout)>,
}

impl Scratch {
    /// A scratch layout, made in a temporary directory when first needed (most pushes write
    /// no union).
    pub fn new() -> Scratch {
        Scratch {
            made: std::sync::OnceLock::new(),
        }
    }

    /// The layout the union manifests are written to.
    pub fn layout(&self) -> Result<&Layout, Failure> {
        if let Some((_, layout)) = self.made.get() {
            return Ok(layout);
        }
        let dir = tempfile::Builder::new()
            .prefix("slipway-cosign-")
            .tempdir()
            .map_err(|e| Failure::external(format!("cannot create a temporary directory: {e}")))?;
        let layout = Layout::create(dir.path().join("oci"))?;
        Ok(&self.made.get_or_init(|| (dir, layout)).1)
    }
}

/// Decides how tag `tag` (our manifest `ours`, read from `ours_src`) is written to the target
/// read through `target`; a union is written to `scratch`. A target tag that cannot be read or
/// merged is an error of the registry's content or access (exit 3), never replaced.
pub fn decide(
    ours_src: &dyn ArtifactSource,
    target: &dyn ArtifactSource,
    tag: &str,
    ours: &Descriptor,
    scratch: &Scratch,
) -> Result<Decision, Failure> {
    let Some((subject, kind)) = parse_tag(tag) else {
        return Ok(Decision::AsIs);
    };
    let Some(theirs) = cosign::read(target, &subject, kind)
        .map_err(|e| unmergeable(tag, &target.location(), e))?
    else {
        return Ok(Decision::AsIs);
    };
    if theirs.descriptor.digest() == ours.digest() {
        return Ok(Decision::AsIs);
    }
    let Some(mine) = cosign::read(ours_src, &subject, kind)? else {
        return Ok(Decision::AsIs);
    };
    match union(&theirs.layers, &mine.layers) {
        None => Ok(Decision::Kept),
        Some(layers) => {
            let desc = cosign::write(scratch.layout()?, &subject, kind, &layers)?;
            Ok(Decision::Union(Box::new(CopyItem {
                root: desc,
                tags: vec![tag.to_owned()],
            })))
        }
    }
}

/// The target's `tag` cannot be read or merged: exit 3 whatever the cause (the content is the
/// registry's, not the user's input), with the cause's own hint when it has one (credentials).
fn unmergeable(tag: &str, location: &str, e: slipway_sign::SignError) -> Failure {
    let cause = Failure::from(e);
    let hint = cause.hint.clone().unwrap_or_else(|| {
        format!(
            "{tag} in {location} holds other signers' entries that must be kept, and it is not the \
             image manifest cosign writes; fix or delete that tag in the registry, then run again"
        )
    });
    Failure::external(format!(
        "cannot add to the existing {tag} in {location} (it is left as it is): {}",
        cause.chain().join(": ")
    ))
    .with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn layer(payload: &str, sig: &str) -> Layer {
        Layer {
            media_type: cosign::SIMPLE_SIGNING_MEDIA_TYPE.into(),
            payload: payload.as_bytes().to_vec(),
            annotations: BTreeMap::from([(cosign::SIGNATURE_ANNOTATION.into(), sig.into())]),
        }
    }

    #[test]
    fn union_keeps_theirs_first_and_counts_a_layer_once() {
        let a = layer("p", "sig-a");
        let b = layer("p", "sig-b");
        let c = layer("q", "sig-a");
        assert_eq!(
            union(std::slice::from_ref(&a), std::slice::from_ref(&a)),
            None
        );
        assert_eq!(
            union(&[b.clone(), a.clone()], std::slice::from_ref(&a)),
            None
        );
        // Same payload, another signature: a new layer.
        assert_eq!(
            union(std::slice::from_ref(&b), &[a.clone(), c.clone()]),
            Some(vec![b, a, c])
        );
    }

    #[test]
    fn only_sig_and_att_tags_are_merged() {
        let d = Digest::sha256_from_bytes(&[7; 32]);
        let hex = d.to_string()["sha256:".len()..].to_owned();
        assert_eq!(
            parse_tag(&format!("sha256-{hex}.sig")),
            Some((d.clone(), ArtifactKind::Signature))
        );
        assert_eq!(
            parse_tag(&format!("sha256-{hex}.att")),
            Some((d, ArtifactKind::Attestation))
        );
        assert_eq!(parse_tag(&format!("sha256-{hex}.sbom")), None);
        assert_eq!(parse_tag("sha256-nothex.sig"), None);
        assert_eq!(parse_tag("v1.sig"), None);
    }
}
