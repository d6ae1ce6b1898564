//! Signatures and manifests read from a registry repository, for `slipway verify REF`: the
//! same [`ArtifactSource`] the layout verification reads through, over the registry client
//! of push/promote (digests verified on every read).

use oci_spec::image::Descriptor;
use slipway_oci::Manifest;
use slipway_registry::{BlockingClient, RegistryError};
use slipway_sign::SignError;
use slipway_sign::source::ArtifactSource;
use slipway_types::{Digest, Reference, Repository};

/// A registry repository as a source of images, signatures and attestations.
pub struct RegistrySource {
    client: BlockingClient,
    repo: Repository,
}

impl RegistrySource {
    /// Reads `repo` through `client`.
    pub fn new(client: BlockingClient, repo: Repository) -> RegistrySource {
        RegistrySource { client, repo }
    }

    fn wrap(&self, e: RegistryError) -> SignError {
        SignError::source(self.repo.to_string(), e)
    }
}

impl ArtifactSource for RegistrySource {
    fn location(&self) -> String {
        self.repo.to_string()
    }

    fn resolve_tag(&self, tag: &str) -> Result<Option<Descriptor>, SignError> {
        let reference: Reference =
            format!("{}:{tag}", self.repo)
                .parse()
                .map_err(|e| SignError::Invalid {
                    what: format!("tag `{tag}`"),
                    message: format!("{e}"),
                })?;
        match self.client.resolve(&reference) {
            Ok(d) => Ok(Some(d.to_spec())),
            Err(RegistryError::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.wrap(e)),
        }
    }

    fn manifest(&self, desc: &Descriptor) -> Result<Manifest, SignError> {
        self.client
            .fetch_manifest(&self.repo, desc.digest().as_ref())
            .map_err(|e| self.wrap(e))
    }

    fn blob(&self, digest: &Digest, max: u64) -> Result<Vec<u8>, SignError> {
        let mut out = Vec::new();
        let mut limited = Limited { out: &mut out, max };
        self.client
            .fetch_blob_to(&self.repo, digest, None, &mut limited)
            .map_err(|e| self.wrap(e))?;
        Ok(out)
    }

    fn manifest_by_digest(&self, digest: &Digest) -> Result<Manifest, SignError> {
        self.client
            .fetch_manifest(&self.repo, &digest.to_string())
            .map_err(|e| self.wrap(e))
    }
}

/// A writer that refuses to grow past `max` bytes (signature payloads are small; a huge blob
/// where a payload should be is refused while streaming, not after).
struct Limited<'a> {
    out: &'a mut Vec<u8>,
    max: u64,
}

impl std::io::Write for Limited<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if (self.out.len() + buf.len()) as u64 > self.max {
            return Err(std::io::Error::other(format!(
                "larger than the {} bytes allowed here",
                self.max
            )));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
