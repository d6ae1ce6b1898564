//! A blocking face of the client for synchronous callers (`slipway-build`, `slipway verify`):
//! each call runs on a runtime owned by the [`BlockingClient`]. Do not call it from inside an
//! async runtime; use [`crate::Client`] there.

use std::io::Write;
use std::sync::Arc;

use futures_util::StreamExt;
use slipway_oci::{Layout, Manifest};
use slipway_types::{Digest, Platform, Progress, Reference, Repository};

use crate::RegistryError;
use crate::client::{Client, ClientOptions, RemoteDescriptor, io_to_registry};
use crate::copy::CopyOptions;
use crate::pull::{self, PulledImage};

/// A registry client with its own runtime.
#[derive(Debug)]
pub struct BlockingClient {
    client: Client,
    rt: Arc<tokio::runtime::Runtime>,
}

impl BlockingClient {
    /// A client with `opts`.
    pub fn new(opts: ClientOptions) -> Result<BlockingClient, RegistryError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Options(format!("cannot start the async runtime: {e}")))?;
        let client = {
            let _guard = rt.enter();
            Client::new(opts)?
        };
        Ok(BlockingClient {
            client,
            rt: Arc::new(rt),
        })
    }

    /// A blocking face of an existing `client` on an existing runtime `rt`: a command that
    /// also copies asynchronously uses one client (one set of connections, tokens and TLS
    /// roots) and one runtime for both. Call it from outside `rt`.
    pub fn on(client: Client, rt: Arc<tokio::runtime::Runtime>) -> BlockingClient {
        BlockingClient { client, rt }
    }

    /// The async client underneath.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a future on this client's runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// Resolves a tag or digest reference to the descriptor of what it points at.
    pub fn resolve(&self, reference: &Reference) -> Result<RemoteDescriptor, RegistryError> {
        self.rt.block_on(self.client.resolve(reference))
    }

    /// The digest a tag points at, `None` when the tag does not exist.
    pub fn tag_digest(
        &self,
        repo: &Repository,
        tag: &str,
    ) -> Result<Option<Digest>, RegistryError> {
        self.rt
            .block_on(self.client.head_manifest(repo, tag))
            .map(|d| d.map(|d| d.digest))
    }

    /// A manifest or index by tag or digest (exact bytes, digest verified).
    pub fn fetch_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Manifest, RegistryError> {
        self.rt
            .block_on(self.client.fetch_manifest(repo, reference))
    }

    /// A small blob whole, verified.
    pub fn fetch_blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        self.rt.block_on(self.client.fetch_blob_bytes(repo, digest))
    }

    /// Streams a blob into `out`, verified (digest and, when given, size); returns its size.
    pub fn fetch_blob_to(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: Option<u64>,
        out: &mut dyn Write,
    ) -> Result<u64, RegistryError> {
        self.rt.block_on(async {
            let mut s = self.client.fetch_blob(repo, digest, size).await?;
            let mut n = 0u64;
            while let Some(chunk) = s.next().await {
                let chunk =
                    chunk.map_err(|e| io_to_registry(e, format!("blob {digest} from {repo}")))?;
                out.write_all(&chunk).map_err(|e| {
                    RegistryError::invalid(format!("writing blob {digest}"), e.to_string())
                })?;
                n += chunk.len() as u64;
            }
            Ok(n)
        })
    }

    /// Tags of a repository.
    pub fn list_tags(&self, repo: &Repository) -> Result<Vec<String>, RegistryError> {
        self.rt.block_on(self.client.list_tags(repo))
    }

    /// Pulls an image into a layout; see [`pull::pull_image`].
    pub fn pull_image(
        &self,
        reference: &Reference,
        platform: Option<&Platform>,
        layout: &Layout,
        ref_name: Option<&str>,
        jobs: usize,
        progress: Arc<dyn Progress>,
    ) -> Result<PulledImage, RegistryError> {
        let opts = CopyOptions { jobs, progress };
        self.rt.block_on(pull::pull_image(
            &self.client,
            reference,
            platform,
            layout,
            ref_name,
            &opts,
        ))
    }
}
