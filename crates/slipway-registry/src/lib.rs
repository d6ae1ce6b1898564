//! Registries: the OCI distribution client, credentials, retries, and the copy engine.
//!
//! - [`client`]: [`Client`] — HEAD/GET/PUT of manifests, blob checks, verified blob streams,
//!   cross-repository mounts, tag lists; authentication through `oci-client` (Basic and Bearer
//!   token flows); TLS verification always on (`--ca-file` adds CAs; `--insecure-registry HOST`
//!   switches only the named hosts to plain HTTP); retries per [`RetryPolicy`].
//! - [`auth`]: where credentials come from (explicit, docker `config.json` `auths` /
//!   `credHelpers` / `credsStore`, `REGISTRY_AUTH_FILE`).
//! - [`upload`]: monolithic and chunked blob uploads that resume from the session's `Range`.
//! - [`copy`]: the copy engine over sources and targets (layout, registry; several targets).
//! - [`pull`]: pulling an image (one platform) into a layout, for base images.
//! - [`blocking`]: the same for synchronous callers.
#![deny(missing_docs)]

pub mod auth;
pub mod blocking;
pub mod client;
pub mod copy;
mod error;
pub mod pull;
mod retry;
pub mod upload;

pub use auth::{AuthFileLocations, CredentialStore, Credentials};
pub use blocking::BlockingClient;
pub use client::{ByteStream, Client, ClientOptions, RemoteDescriptor, reference_str};
pub use copy::{CopyItem, CopyOptions, Plan, Source, Target, TargetReport};
pub use error::{Detail, RegistryError};
pub use pull::{PulledImage, pull_image, select_platform};
pub use retry::RetryPolicy;
