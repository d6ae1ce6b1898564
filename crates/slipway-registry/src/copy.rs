//! The copy engine: images (manifests, indexes and their blobs) from a source to one or more
//! targets — a layout or a registry repository on either side.
//!
//! Push is layout → registry, promote is registry → registries, pulling a base image is
//! registry → layout. For each target, each blob is checked first (HEAD; a layout looks on
//! disk) and skipped when present, mounted across repositories when source and target share a
//! registry, or streamed otherwise; blobs move in parallel (`jobs`). Several targets form a
//! tee: every target gets the same plan, and a blob is read from the source once for each
//! target that lacks it. Manifests go after all blobs, children before parents, so the index
//! (and the tags on it) comes last: a tag never points at something incomplete.
//! Everything read is verified against its digest.

use std::collections::HashSet;
use std::sync::Arc;

use oci_spec::image::Descriptor;
use serde::Serialize;
use slipway_oci::{Layout, Manifest, convert};
use slipway_types::{Digest, Progress, Repository};
use tokio::task::JoinSet;

use crate::RegistryError;
use crate::client::Client;
use crate::upload::{BlobSource, LayoutBlob, RemoteBlob, UploadProgress};

/// Where images come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An OCI image layout on disk.
    Layout(Layout),
    /// A registry repository.
    Remote {
        /// Client for its registry.
        client: Client,
        /// The repository.
        repo: Repository,
    },
}

/// Where images go.
#[derive(Debug, Clone)]
pub enum Target {
    /// An OCI image layout on disk (tags become `org.opencontainers.image.ref.name` entries).
    Layout(Layout),
    /// A registry repository.
    Remote {
        /// Client for its registry.
        client: Client,
        /// The repository.
        repo: Repository,
    },
}

impl Target {
    /// A name for messages: the repository, or the layout path.
    pub fn label(&self) -> String {
        match self {
            Target::Layout(l) => l.root().display().to_string(),
            Target::Remote { repo, .. } => repo.to_string(),
        }
    }
}

impl Source {
    /// A name for messages.
    pub fn label(&self) -> String {
        match self {
            Source::Layout(l) => l.root().display().to_string(),
            Source::Remote { repo, .. } => repo.to_string(),
        }
    }

    /// Reads (and verifies) the manifest or index `desc` points at.
    pub async fn manifest(&self, desc: &Descriptor) -> Result<Manifest, RegistryError> {
        match self {
            Source::Layout(l) => Ok(l.read_manifest(desc)?),
            Source::Remote { client, repo } => {
                let d = convert::descriptor_digest(desc)?;
                client.fetch_manifest(repo, &d.to_string()).await
            }
        }
    }

    fn blob(&self, digest: &Digest) -> Arc<dyn BlobSource> {
        match self {
            Source::Layout(l) => Arc::new(LayoutBlob {
                layout: l.clone(),
                digest: digest.clone(),
            }),
            Source::Remote { client, repo } => Arc::new(RemoteBlob {
                client: client.clone(),
                repo: repo.clone(),
                digest: digest.clone(),
            }),
        }
    }
}

/// One image (or index, or cosign artifact) to copy, and the tags to give it on the target.
#[derive(Debug, Clone)]
pub struct CopyItem {
    /// The manifest or index.
    pub root: Descriptor,
    /// Tags on the target (layout: ref names). Empty: stored by digest only.
    pub tags: Vec<String>,
}

/// What was read from the source: manifests in push order and the blobs they need.
#[derive(Debug, Clone)]
pub struct Plan {
    /// (item index, manifest), children before parents within each item.
    pub manifests: Vec<(usize, Manifest)>,
    /// Every non-manifest blob, once.
    pub blobs: Vec<Descriptor>,
}

impl Plan {
    /// Total bytes of the plan's blobs.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(Descriptor::size).sum()
    }
}

/// How to copy.
#[derive(Clone)]
pub struct CopyOptions {
    /// Blobs moved at once.
    pub jobs: usize,
    /// Progress receiver.
    pub progress: Arc<dyn Progress>,
}

impl std::fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOptions")
            .field("jobs", &self.jobs)
            .finish()
    }
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            jobs: 4,
            progress: Arc::new(slipway_types::NoProgress),
        }
    }
}

/// What happened at one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// The target (repository or layout path).
    pub target: String,
    /// Blob bytes uploaded (bytes actually sent, resumed attempts included).
    pub bytes_sent: u64,
    /// Blob bytes mounted from another repository of the same registry.
    pub bytes_mounted: u64,
    /// Blob bytes already present.
    pub bytes_skipped: u64,
    /// Blobs uploaded.
    pub blobs_sent: u64,
    /// Blobs mounted.
    pub blobs_mounted: u64,
    /// Blobs already present.
    pub blobs_skipped: u64,
    /// Manifests and indexes written.
    pub manifests: u64,
}

/// Reads every manifest reachable from `items` and lists the blobs they need.
pub async fn plan(source: &Source, items: &[CopyItem]) -> Result<Plan, RegistryError> {
    let mut manifests = Vec::new();
    let mut seen_manifests: HashSet<String> = HashSet::new();
    let mut blobs = Vec::new();
    let mut seen_blobs: HashSet<String> = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        // Depth-first, parents recorded after their children.
        let mut stack: Vec<(Descriptor, bool)> = vec![(item.root.clone(), false)];
        let mut loaded: Vec<(String, Manifest)> = Vec::new();
        while let Some((desc, expanded)) = stack.pop() {
            let key = desc.digest().to_string();
            if expanded {
                let m = loaded
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, m)| m.clone())
                    .expect("loaded before expansion");
                // The root of each item is written even if another item holds it, so its tags
                // are applied.
                if seen_manifests.insert(key.clone()) || desc.digest() == item.root.digest() {
                    manifests.push((i, m));
                }
                continue;
            }
            let media = convert::media_type(desc.media_type());
            if media.is_index() || media.is_manifest() {
                let m = source.manifest(&desc).await?;
                if m.bytes.len() as u64 != desc.size() {
                    return Err(RegistryError::Mismatch {
                        what: format!("manifest {} in {}", m.digest, source.label()),
                        expected: format!("{} bytes", desc.size()),
                        actual: format!("{} bytes", m.bytes.len()),
                    });
                }
                stack.push((desc.clone(), true));
                for child in m.children().into_iter().rev() {
                    stack.push((child, false));
                }
                loaded.push((key, m));
            } else if seen_blobs.insert(key) {
                blobs.push(desc);
            }
        }
    }
    Ok(Plan { manifests, blobs })
}

/// The manifests and blobs reachable from some roots of a plan (digests).
#[derive(Debug, Default)]
struct Reach {
    manifests: HashSet<String>,
    blobs: HashSet<String>,
}

impl Reach {
    fn walk(&mut self, plan: &Plan, root: &str) {
        let mut stack = vec![root.to_owned()];
        while let Some(d) = stack.pop() {
            match plan
                .manifests
                .iter()
                .find(|(_, m)| m.digest.to_string() == d)
            {
                Some((_, m)) => {
                    if self.manifests.insert(d) {
                        stack.extend(m.children().iter().map(|c| c.digest().to_string()));
                    }
                }
                None => {
                    self.blobs.insert(d);
                }
            }
        }
    }
}

enum BlobOutcome {
    Sent(u64),
    Mounted,
    Skipped,
}

/// Copies `items` from `source` to every target; returns one report per target.
pub async fn copy(
    source: &Source,
    targets: &[Target],
    items: &[CopyItem],
    opts: &CopyOptions,
) -> Result<(Plan, Vec<TargetReport>), RegistryError> {
    let plan = plan(source, items).await?;
    let reports = copy_planned(source, targets, items, &plan, opts).await?;
    Ok((plan, reports))
}

/// Copies an already computed plan (see [`plan`]).
pub async fn copy_planned(
    source: &Source,
    targets: &[Target],
    items: &[CopyItem],
    plan: &Plan,
    opts: &CopyOptions,
) -> Result<Vec<TargetReport>, RegistryError> {
    let mut reports: Vec<TargetReport> = targets
        .iter()
        .map(|t| TargetReport {
            target: t.label(),
            ..TargetReport::default()
        })
        .collect();
    // What each target holds already: an item whose root manifest is in a target repository
    // is there whole (a registry takes a manifest only once everything it references is in
    // that repository), so nothing under it is checked or sent again.
    let mut present: Vec<Vec<bool>> = Vec::with_capacity(targets.len());
    let mut needed: Vec<Reach> = Vec::with_capacity(targets.len());
    for target in targets {
        let here = match target {
            Target::Remote { client, repo } => {
                let checks = items.iter().map(|item| async {
                    let digest = convert::descriptor_digest(&item.root)?;
                    Ok::<bool, RegistryError>(
                        client
                            .head_manifest_for_push(repo, &digest.to_string())
                            .await?
                            .is_some_and(|d| d.digest == digest),
                    )
                });
                futures_util::future::try_join_all(checks).await?
            }
            Target::Layout(_) => vec![false; items.len()],
        };
        let mut reach = Reach::default();
        for (item, there) in items.iter().zip(&here) {
            if !there {
                reach.walk(plan, item.root.digest().as_ref());
            }
        }
        present.push(here);
        needed.push(reach);
    }
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1)));
    let mut set: JoinSet<Result<(usize, u64, BlobOutcome), RegistryError>> = JoinSet::new();
    let many = targets.len() > 1;
    for (ti, target) in targets.iter().enumerate() {
        for desc in &plan.blobs {
            let digest = convert::descriptor_digest(desc)?;
            let size = desc.size();
            if !needed[ti].blobs.contains(&digest.to_string()) {
                reports[ti].bytes_skipped += size;
                reports[ti].blobs_skipped += 1;
                continue;
            }
            let (source, target, sem) = (source.clone(), target.clone(), sem.clone());
            let progress = opts.progress.clone();
            let task = if many {
                format!("{} → {}", digest.short(), target.label())
            } else {
                format!("blob {}", digest.short())
            };
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore open");
                progress.begin(&task, Some(size));
                let outcome = transfer(&source, &target, &digest, size, &progress, &task).await;
                match &outcome {
                    Ok(BlobOutcome::Sent(_)) => progress.end(&task, "sent"),
                    Ok(BlobOutcome::Mounted) => progress.end(&task, "mounted"),
                    Ok(BlobOutcome::Skipped) => progress.end(&task, "already there"),
                    Err(_) => progress.end(&task, "failed"),
                }
                outcome.map(|o| (ti, size, o))
            });
        }
    }
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok((ti, size, outcome))) => {
                let r = &mut reports[ti];
                match outcome {
                    BlobOutcome::Sent(n) => {
                        r.bytes_sent += n;
                        r.blobs_sent += 1;
                    }
                    BlobOutcome::Mounted => {
                        r.bytes_mounted += size;
                        r.blobs_mounted += 1;
                    }
                    BlobOutcome::Skipped => {
                        r.bytes_skipped += size;
                        r.blobs_skipped += 1;
                    }
                }
            }
            Ok(Err(e)) => {
                if first_error.is_none() {
                    first_error = Some(e);
                    // Stop the other transfers: nothing after a failed blob may be written.
                    set.abort_all();
                }
            }
            Err(j) if j.is_cancelled() => {}
            Err(j) => {
                if first_error.is_none() {
                    first_error = Some(RegistryError::invalid("blob transfer", j.to_string()));
                    set.abort_all();
                }
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // Manifests: after all blobs, children first, roots (with their tags) last.
    for (ti, target) in targets.iter().enumerate() {
        for (i, m) in &plan.manifests {
            let item = &items[*i];
            let is_root = m.digest.to_string() == item.root.digest().to_string();
            let there = present[ti][*i];
            if there && !is_root && !needed[ti].manifests.contains(&m.digest.to_string()) {
                continue;
            }
            let refs: Vec<String> = if is_root && !item.tags.is_empty() {
                item.tags.clone()
            } else if is_root && there {
                Vec::new()
            } else {
                vec![m.digest.to_string()]
            };
            match target {
                Target::Remote { client, repo } => {
                    let mut wrote = false;
                    for r in &refs {
                        // A tag of an item that is there already moves only if it points
                        // elsewhere.
                        if there
                            && is_root
                            && client
                                .head_manifest_for_push(repo, r)
                                .await?
                                .is_some_and(|d| d.digest == m.digest)
                        {
                            continue;
                        }
                        client.put_manifest(repo, r, m).await?;
                        wrote = true;
                    }
                    if !wrote {
                        continue;
                    }
                }
                Target::Layout(l) => {
                    l.write_manifest(m)?;
                    if is_root {
                        for t in &item.tags {
                            l.set_ref(t, &m.descriptor())?;
                        }
                    }
                }
            }
            reports[ti].manifests += 1;
        }
    }
    Ok(reports)
}

async fn transfer(
    source: &Source,
    target: &Target,
    digest: &Digest,
    size: u64,
    progress: &Arc<dyn Progress>,
    task: &str,
) -> Result<BlobOutcome, RegistryError> {
    match target {
        Target::Remote { client, repo } => {
            if client.blob_exists(repo, digest, true).await?.is_some() {
                return Ok(BlobOutcome::Skipped);
            }
            if let Source::Remote {
                client: _,
                repo: from,
            } = source
                && from.registry() == repo.registry()
                && from != repo
                && client.mount_blob(repo, digest, from).await?
            {
                return Ok(BlobOutcome::Mounted);
            }
            let src = source.blob(digest);
            let sent = client
                .upload_blob(
                    repo,
                    digest,
                    size,
                    src.as_ref(),
                    Some(UploadProgress {
                        progress: progress.clone(),
                        task: task.to_owned(),
                    }),
                )
                .await?;
            Ok(BlobOutcome::Sent(sent))
        }
        Target::Layout(layout) => {
            if layout.has_blob(digest) {
                return Ok(BlobOutcome::Skipped);
            }
            let stream = match source {
                Source::Remote { client, repo } => {
                    client.fetch_blob(repo, digest, Some(size)).await?
                }
                Source::Layout(_) => source.blob(digest).open(0).await?,
            };
            let progress = progress.clone();
            let task = task.to_owned();
            let counted = futures_util::StreamExt::inspect(stream, move |c| {
                if let Ok(b) = c {
                    progress.advance(&task, b.len() as u64);
                }
            });
            let reader = tokio_util::io::StreamReader::new(counted);
            let layout = layout.clone();
            let digest2 = digest.clone();
            tokio::task::spawn_blocking(move || {
                let sync = tokio_util::io::SyncIoBridge::new(reader);
                layout.write_blob_expect(sync, &digest2, Some(size))
            })
            .await
            .map_err(|e| RegistryError::invalid("blob write", e.to_string()))??;
            Ok(BlobOutcome::Sent(size))
        }
    }
}
