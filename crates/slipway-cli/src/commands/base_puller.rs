//! Registry base images for `slipway-build`: the registry client of push/promote pulls the
//! base (the platforms being built, verified blob by blob) into the build's content-addressed
//! cache layout, where the builder reads it like a layout base.

use std::sync::Arc;

use oci_spec::image::Descriptor;
use slipway_build::BasePuller;
use slipway_oci::Layout;
use slipway_registry::BlockingClient;
use slipway_types::{Diagnostic, ExitClass, Platform, Progress, Reference};

/// Pulls registry bases with one client.
pub struct RegistryBasePuller {
    /// The client (trust, credentials and retries of the registry options).
    pub client: BlockingClient,
    /// Blobs fetched at once.
    pub jobs: usize,
    /// Per-blob progress.
    pub progress: Arc<dyn Progress>,
}

type PullError = (ExitClass, Box<dyn std::error::Error + Send + Sync>);

fn fail(e: impl Diagnostic) -> PullError {
    (e.exit_class(), Box::new(e))
}

impl BasePuller for RegistryBasePuller {
    fn pull(
        &self,
        reference: &Reference,
        platforms: &[Platform],
        cache: &Layout,
    ) -> Result<Descriptor, PullError> {
        let resolved = self.client.resolve(reference).map_err(fail)?;
        let top = self
            .client
            .fetch_manifest(reference.repository(), &resolved.digest.to_string())
            .map_err(fail)?;
        if !top.is_index() {
            let pulled = self
                .client
                .pull_image(
                    reference,
                    None,
                    cache,
                    None,
                    self.jobs,
                    self.progress.clone(),
                )
                .map_err(fail)?;
            return Ok(pulled.manifest.descriptor());
        }
        // An index: the platforms being built, then the index itself (its other platforms'
        // manifests are never read, so they are not fetched).
        let by_digest: Reference = format!("{}@{}", reference.repository(), resolved.digest)
            .parse()
            .map_err(|e: slipway_types::ReferenceError| {
                (
                    ExitClass::Usage,
                    Box::new(e) as Box<dyn std::error::Error + Send + Sync>,
                )
            })?;
        for p in platforms {
            self.client
                .pull_image(
                    &by_digest,
                    Some(p),
                    cache,
                    None,
                    self.jobs,
                    self.progress.clone(),
                )
                .map_err(fail)?;
        }
        cache
            .write_blob_expect(
                top.bytes.as_slice(),
                &top.digest,
                Some(top.bytes.len() as u64),
            )
            .map_err(fail)?;
        Ok(top.descriptor())
    }
}
