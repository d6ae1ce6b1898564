//! The registry client: one HTTP stack (reqwest, rustls) shared with `oci-client`.
//!
//! Authentication follows the registry's `WWW-Authenticate` challenge: for `Bearer`, a token
//! from the realm (the token auth spec: `service` and one `scope` per repository, so a
//! cross-repository mount gets `pull` on the source and `push` on the target in one token, and a
//! 401 whose challenge names further scopes gets a token for them too); Basic registries get
//! the credentials directly. Credentials go only to an HTTPS realm (or one on an
//! `--insecure-registry` host): a registry cannot send them elsewhere in clear. Without
//! credentials, `oci-client` does the handshake for an anonymous token.
//! Everything else that needs more control than `oci-client` offers is here too, on the same
//! reqwest 0.13 stack: HEAD checks, manifests with exact bytes, blob streams with `Range`,
//! cross-repository mounts, chunked uploads that resume, and retries with backoff that honour
//! `Retry-After`, each attempt bounded by what the time budget has left.

use std::collections::HashMap;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use slipway_oci::Manifest;
use slipway_oci::digest::Hasher;
use slipway_types::{Digest, MediaType, Reference, Repository, Secret};

use crate::RegistryError;
use crate::auth::{CredentialStore, Credentials};
use crate::error::Detail;
use crate::retry::{Backoff, RetryPolicy, parse_retry_after};

/// A stream of blob bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Called with every secret the client learns (passwords, tokens), so the caller can mask it.
pub type SecretSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Manifest media types we ask for.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// How the client connects and authenticates.
#[derive(Clone)]
pub struct ClientOptions {
    /// Where credentials come from.
    pub credentials: CredentialStore,
    /// PEM files with extra CA certificates to trust (`--ca-file`).
    pub ca_files: Vec<PathBuf>,
    /// Hosts (`host[:port]`) spoken to over plain HTTP (`--insecure-registry`). Only these.
    pub insecure_registries: Vec<String>,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Upload blobs larger than this in chunks of this size (`None`: one request per blob).
    pub chunk_size: Option<u64>,
    /// Sent as `User-Agent`.
    pub user_agent: String,
    /// Receives every password and token learnt, for masking.
    pub on_secret: Option<SecretSink>,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Idle timeout: the longest wait for the next bytes of an answer (also the wait for an
    /// answer once a blob's body is sent; other requests are bounded by the retry budget too).
    pub read_timeout: Duration,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("credentials", &self.credentials)
            .field("ca_files", &self.ca_files)
            .field("insecure_registries", &self.insecure_registries)
            .field("retry", &self.retry)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            credentials: CredentialStore::anonymous(),
            ca_files: Vec::new(),
            insecure_registries: Vec::new(),
            retry: RetryPolicy::default(),
            chunk_size: None,
            user_agent: format!("slipway/{}", env!("CARGO_PKG_VERSION")),
            on_secret: None,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// What a manifest HEAD (or GET) says about a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDescriptor {
    /// Digest of the manifest or index.
    pub digest: Digest,
    /// Its media type.
    pub media_type: MediaType,
    /// Its size in bytes.
    pub size: u64,
}

impl RemoteDescriptor {
    /// As an `oci-spec` descriptor.
    pub fn to_spec(&self) -> oci_spec::image::Descriptor {
        slipway_oci::convert::descriptor(self.media_type.as_str(), &self.digest, self.size)
    }
}

#[derive(Clone)]
struct AuthValue {
    header: Option<Secret<String>>,
    bearer: bool,
}

/// A registry client (cheap to clone; clones share connections, tokens and counters).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.opts)
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    /// oci-client, for its anonymous token handshake; made when first needed (it loads the
    /// system's roots itself).
    oci: std::sync::OnceLock<Result<oci_client::Client, String>>,
    /// The `--ca-file` certificates (PEM), for `oci`.
    ca_pems: Vec<Vec<u8>>,
    opts: ClientOptions,
    /// Authorization per (registry, the scopes it was asked for).
    auth: tokio::sync::Mutex<HashMap<(String, String), AuthValue>>,
    /// The Bearer challenge of each registry (`None`: not a token registry).
    challenges: tokio::sync::Mutex<HashMap<String, Option<Challenge>>>,
    creds: Mutex<HashMap<String, Option<Credentials>>>,
    retries: AtomicU64,
}

/// What one request is, for messages and auth.
#[derive(Debug, Clone)]
pub(crate) struct Op<'a> {
    pub repo: &'a Repository,
    pub push: bool,
    pub what: String,
    /// Another repository of the same registry the request reads (a mount's source): its
    /// `pull` scope goes into the same token.
    pub also_pull: Option<&'a Repository>,
}

impl Op<'_> {
    /// The token scopes the request needs (`repository:NAME:ACTIONS`).
    fn scopes(&self) -> Vec<String> {
        let mut v = vec![format!(
            "repository:{}:{}",
            self.repo.path(),
            if self.push { "pull,push" } else { "pull" }
        )];
        if let Some(from) = self.also_pull
            && from.path() != self.repo.path()
        {
            v.push(format!("repository:{}:pull", from.path()));
        }
        v
    }
}

/// A `WWW-Authenticate: Bearer` challenge: where to get a token, and for which scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    realm: String,
    service: Option<String>,
    /// Space-separated scopes the registry said the request needs (RFC 6750 §3).
    scopes: Vec<String>,
}

impl Challenge {
    /// The Bearer challenge among the `WWW-Authenticate` headers of `h`, when there is one.
    pub(crate) fn from_headers(h: &HeaderMap) -> Option<Challenge> {
        h.get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(Challenge::parse)
    }

    fn parse(value: &str) -> Option<Challenge> {
        for c in http_auth::parser::ChallengeParser::new(value) {
            let Ok(c) = c else { continue };
            if !c.scheme.eq_ignore_ascii_case("bearer") {
                continue;
            }
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            return Some(Challenge {
                realm: param("realm")?,
                service: param("service"),
                scopes: param("scope")
                    .map(|s| {
                        s.split(' ')
                            .filter(|x| !x.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        None
    }
}

pub(crate) enum Attempt {
    Done(Response),
    Retry {
        why: String,
        after: Option<Duration>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The token was refused (expired, or short of a scope): ask again, for the challenge's
    /// scopes too.
    Reauth(Option<Challenge>),
    Fail(RegistryError),
}

/// Where an operation stands with its token.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reauth<'a> {
    /// Use the cached authorization; a 401 may ask for a new one.
    No,
    /// Get a new one first (for the challenge's scopes too, when it named any).
    Now(&'a Option<Challenge>),
    /// A new one was fetched already: a 401 now is final.
    Done,
}

/// The system's trusted roots (DER), loaded once per process with rustls-native-certs (on
/// Linux: `SSL_CERT_FILE` / `SSL_CERT_DIR` or the distribution's bundle and directory), as
/// reqwest's default verifier would load them, but once and only when a TLS connection needs
/// them: reqwest loads them for every HTTP client it makes, reading every file of
/// `/etc/ssl/certs` each time, which was most of a re-push's time. `None` off Linux (where
/// the platform's verifier is used) or when no root can be loaded.
fn system_roots() -> Option<&'static [Vec<u8>]> {
    static ROOTS: std::sync::OnceLock<Option<Vec<Vec<u8>>>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            if !cfg!(target_os = "linux") {
                return None;
            }
            let loaded = rustls_native_certs::load_native_certs();
            for e in &loaded.errors {
                tracing::debug!("loading the system's CA roots: {e}");
            }
            let roots: Vec<Vec<u8>> = loaded.certs.iter().map(|c| c.to_vec()).collect();
            (!roots.is_empty()).then_some(roots)
        })
        .as_deref()
}

/// Verifies registries' certificates against the system's roots and the `--ca-file`s, as
/// reqwest's `tls_certs_only` verifier does, but loads the roots at the first TLS handshake: a
/// command that speaks only plain HTTP (`--insecure-registry` hosts) never reads them, and one
/// that does reads them once.
#[derive(Debug)]
struct LazyRootsVerifier {
    /// The `--ca-file` certificates.
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: std::sync::OnceLock<Result<Arc<rustls::client::WebPkiServerVerifier>, rustls::Error>>,
}

/// No CA root could be loaded from the system and no `--ca-file` was given.
struct NoRoots;

impl std::fmt::Debug for NoRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "no CA roots: none could be loaded from the system (SSL_CERT_FILE, SSL_CERT_DIR) \
             and no --ca-file was given",
        )
    }
}

impl std::fmt::Display for NoRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for NoRoots {}

impl LazyRootsVerifier {
    fn webpki(&self) -> Result<&Arc<rustls::client::WebPkiServerVerifier>, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                let mut store = rustls::RootCertStore::empty();
                if let Some(roots) = system_roots() {
                    store.add_parsable_certificates(
                        roots
                            .iter()
                            .map(|d| rustls::pki_types::CertificateDer::from(d.clone())),
                    );
                }
                for c in &self.extra {
                    store.add(c.clone())?;
                }
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(store),
                    Arc::clone(&self.provider),
                )
                .build()
                .map_err(|_| {
                    // An invalid-certificate error, so it is reported as a TLS failure (not
                    // retried; the hint names --ca-file).
                    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                        rustls::OtherError(Arc::new(NoRoots)),
                    ))
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl rustls::client::danger::ServerCertVerifier for LazyRootsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.webpki()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls configuration of the registry client: the lazy verifier, HTTP/1.1.
fn tls_config(
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, RegistryError> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let verifier = LazyRootsVerifier {
        extra,
        provider: Arc::clone(&provider),
        verifier: std::sync::OnceLock::new(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Options(format!("cannot set up TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl Client {
    /// A client with `opts`. Fails when a CA file cannot be read.
    pub fn new(opts: ClientOptions) -> Result<Client, RegistryError> {
        let mut ders = Vec::new();
        let mut ca_pems = Vec::new();
        for path in &opts.ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                RegistryError::Options(format!(
                    "cannot read CA file `{}` (--ca-file): {e}",
                    path.display()
                ))
            })?;
            let not_pem = |e: &dyn std::fmt::Display| {
                RegistryError::Options(format!(
                    "CA file `{}` (--ca-file) is not a PEM certificate: {e}",
                    path.display()
                ))
            };
            use rustls::pki_types::pem::PemObject as _;
            let found = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| not_pem(&e))?;
            if found.is_empty() {
                return Err(not_pem(&"it holds no CERTIFICATE block"));
            }
            ders.extend(found);
            ca_pems.push(pem);
        }
        let builder = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout);
        // On Linux the system's roots are read once per process, at the first TLS handshake
        // (see `LazyRootsVerifier`); elsewhere the platform's verifier.
        let builder = if cfg!(target_os = "linux") {
            builder.use_preconfigured_tls(tls_config(ders)?)
        } else {
            let certs = ders
                .iter()
                .map(|d| reqwest::Certificate::from_der(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| RegistryError::Options(format!("a --ca-file certificate: {e}")))?;
            builder.tls_certs_merge(certs)
        };
        let http = builder
            .build()
            .map_err(|e| RegistryError::Options(format!("cannot set up HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                oci: std::sync::OnceLock::new(),
                ca_pems,
                opts,
                auth: tokio::sync::Mutex::new(HashMap::new()),
                challenges: tokio::sync::Mutex::new(HashMap::new()),
                creds: Mutex::new(HashMap::new()),
                retries: AtomicU64::new(0),
            }),
        })
    }

    /// oci-client, made at its first use with the same roots and `--ca-file`s.
    fn oci(&self) -> Result<&oci_client::Client, RegistryError> {
        self.inner
            .oci
            .get_or_init(|| {
                let mut certs: Vec<oci_client::client::Certificate> = self
                    .inner
                    .ca_pems
                    .iter()
                    .map(|pem| oci_client::client::Certificate {
                        encoding: oci_client::client::CertificateEncoding::Pem,
                        data: pem.clone(),
                    })
                    .collect();
                let only = match system_roots() {
                    Some(roots) => {
                        let mut all: Vec<oci_client::client::Certificate> = roots
                            .iter()
                            .map(|der| oci_client::client::Certificate {
                                encoding: oci_client::client::CertificateEncoding::Der,
                                data: der.clone(),
                            })
                            .collect();
                        all.append(&mut certs);
                        all
                    }
                    None => Vec::new(),
                };
                let opts = &self.inner.opts;
                oci_client::Client::try_from(oci_client::client::ClientConfig {
                    protocol: oci_client::client::ClientProtocol::HttpsExcept(
                        opts.insecure_registries.clone(),
                    ),
                    extra_root_certificates: certs,
                    tls_certs_only: only,
                    user_agent: "slipway",
                    connect_timeout: Some(opts.connect_timeout),
                    read_timeout: Some(opts.read_timeout),
                    ..oci_client::client::ClientConfig::default()
                })
                .map_err(|e| format!("cannot set up OCI client: {e}"))
            })
            .as_ref()
            .map_err(|e| RegistryError::Options(e.clone()))
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Retries made so far (all operations).
    pub fn retries(&self) -> u64 {
        self.inner.retries.load(Ordering::Relaxed)
    }

    pub(crate) fn note_retry(&self) {
        self.inner.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// `http` for `--insecure-registry` hosts, `https` otherwise.
    pub fn scheme(&self, host: &str) -> &'static str {
        if self
            .inner
            .opts
            .insecure_registries
            .iter()
            .any(|h| h == host)
        {
            "http"
        } else {
            "https"
        }
    }

    /// `scheme://host/v2/path`.
    pub(crate) fn repo_url(&self, repo: &Repository) -> String {
        let host = repo.api_host();
        format!("{}://{host}/v2/{}", self.scheme(host), repo.path())
    }

    pub(crate) fn absolute(&self, repo: &Repository, location: &str) -> Result<Url, RegistryError> {
        let host = repo.api_host();
        let base = Url::parse(&format!("{}://{host}/", self.scheme(host)))
            .map_err(|e| RegistryError::invalid("registry URL", e.to_string()))?;
        base.join(location)
            .map_err(|e| RegistryError::invalid("upload location", e.to_string()))
    }

    fn credentials(&self, host: &str) -> Result<Option<Credentials>, RegistryError> {
        let mut cache = self
            .inner
            .creds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = cache.get(host) {
            return Ok(c.clone());
        }
        let c = self.inner.opts.credentials.lookup(host)?;
        if let (Some(c), Some(mask)) = (&c, &self.inner.opts.on_secret) {
            mask(c.password.expose());
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                c.username,
                c.password.expose()
            ));
            mask(&basic);
        }
        cache.insert(host.to_owned(), c.clone());
        Ok(c)
    }

    /// The `Authorization` value for `op` (its scopes), cached. `refresh` asks again — for the
    /// scopes a 401 challenge named as well, when it named any.
    async fn authorization(
        &self,
        op: &Op<'_>,
        refresh: Option<&Option<Challenge>>,
    ) -> Result<AuthValue, RegistryError> {
        let repo = op.repo;
        let mut scopes = op.scopes();
        let key = (repo.registry().to_owned(), scopes.join(" "));
        let mut cache = self.inner.auth.lock().await;
        if refresh.is_none()
            && let Some(v) = cache.get(&key)
        {
            return Ok(v.clone());
        }
        let creds = self.credentials(repo.registry())?;
        let challenge = match refresh {
            Some(Some(ch)) => {
                for sc in &ch.scopes {
                    if !scopes.contains(sc) {
                        scopes.push(sc.clone());
                    }
                }
                Some(ch.clone())
            }
            // oci-client asks for one repository's scope; more than that needs the realm. And
            // credentials go only to a realm checked first (oci-client would send them wherever
            // the challenge points).
            _ if scopes.len() > 1 || creds.is_some() => self.challenge(repo).await?,
            _ => None,
        };
        let value = match (challenge, &creds) {
            (Some(ch), _) => {
                let token = self.fetch_token(repo, &ch, &scopes, creds.as_ref()).await?;
                self.bearer(&token)
            }
            (None, Some(c)) => basic_auth(c),
            // Anonymous: a registry that asks for no token (our probe, cached per registry)
            // gets nothing; one that does, oci-client's handshake (an anonymous token).
            (None, None) => match self.challenge(repo).await? {
                None => AuthValue {
                    header: None,
                    bearer: false,
                },
                Some(_) => match self.anonymous_token(repo, op.push).await? {
                    Some(t) => self.bearer(&t),
                    None => AuthValue {
                        header: None,
                        bearer: false,
                    },
                },
            },
        };
        cache.insert(key, value.clone());
        Ok(value)
    }

    fn bearer(&self, token: &str) -> AuthValue {
        if let Some(mask) = &self.inner.opts.on_secret {
            mask(token);
        }
        AuthValue {
            header: Some(Secret::new(format!("Bearer {token}"))),
            bearer: true,
        }
    }

    /// The registry's Bearer challenge (from an unauthenticated `GET /v2/`), cached; `None` for
    /// registries that do not use tokens.
    async fn challenge(&self, repo: &Repository) -> Result<Option<Challenge>, RegistryError> {
        let registry = repo.registry().to_owned();
        if let Some(c) = self.inner.challenges.lock().await.get(&registry) {
            return Ok(c.clone());
        }
        let host = repo.api_host();
        let url = format!("{}://{host}/v2/", self.scheme(host));
        let what = format!("asking {} how to authenticate", repo.registry());
        let mut backoff = Backoff::new(self.inner.opts.retry);
        let challenge = loop {
            backoff.start_attempt();
            match self
                .inner
                .http
                .get(&url)
                .timeout(backoff.attempt_timeout())
                .send()
                .await
            {
                Ok(resp) => {
                    break (
                        Challenge::from_headers(resp.headers()),
                        resp.status().is_success() || resp.status() == StatusCode::UNAUTHORIZED,
                    );
                }
                Err(e) => self.retry_or_give_up(repo, &what, &backoff, e).await?,
            }
        };
        let (challenge, definite) = challenge;
        // A busy or failing registry (429, 5xx) said nothing about how it authenticates: not
        // remembered, and a 401 later still brings its challenge (see `send`).
        if definite {
            self.inner
                .challenges
                .lock()
                .await
                .insert(registry, challenge.clone());
        }
        Ok(challenge)
    }

    /// After a failed request: sleeps for the next backoff delay, or says why to give up.
    async fn retry_or_give_up(
        &self,
        repo: &Repository,
        what: &str,
        backoff: &Backoff,
        e: reqwest::Error,
    ) -> Result<(), RegistryError> {
        if let Some(tls) = tls_error(&e) {
            return Err(RegistryError::Tls {
                registry: repo.registry().to_owned(),
                source: tls,
            });
        }
        let line = error_line(&e);
        match backoff.next_delay(None) {
            Some(d) => {
                self.note_retry();
                tracing::debug!("{what}: {line}; retrying in {d:?}");
                tokio::time::sleep(d).await;
                Ok(())
            }
            None => Err(RegistryError::GaveUp {
                what: what.to_owned(),
                attempts: backoff.attempts(),
                elapsed: backoff.elapsed(),
                last: line,
                source: Some(Box::new(e)),
            }),
        }
    }

    /// Refuses a token realm that is not HTTPS (credentials would go there in clear), unless
    /// its host is an `--insecure-registry` one or the host of the registry itself when that is
    /// reached over plain HTTP already.
    fn check_realm(&self, repo: &Repository, realm: &str, url: &Url) -> Result<(), RegistryError> {
        if url.scheme() == "https" {
            return Ok(());
        }
        let host = url.host_str().unwrap_or_default();
        let host_port = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let api_host = repo.api_host();
        let registry_host = Url::parse(&format!("http://{api_host}/"))
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let insecure = &self.inner.opts.insecure_registries;
        let allowed = url.scheme() == "http"
            && (insecure.contains(&host_port)
                || (self.scheme(api_host) == "http" && registry_host.as_deref() == Some(host)));
        if allowed {
            Ok(())
        } else {
            Err(RegistryError::InsecureRealm {
                registry: repo.registry().to_owned(),
                realm: realm.to_owned(),
                host: host_port,
            })
        }
    }

    /// A token for `scopes` from the challenge's realm (the token auth spec: `GET realm?
    /// service=…&scope=…&scope=…`, Basic credentials when we have them).
    async fn fetch_token(
        &self,
        repo: &Repository,
        ch: &Challenge,
        scopes: &[String],
        creds: Option<&Credentials>,
    ) -> Result<String, RegistryError> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = &ch.service {
            query.push(("service", s));
        }
        for sc in scopes {
            query.push(("scope", sc));
        }
        let url = Url::parse_with_params(&ch.realm, &query)
            .map_err(|e| RegistryError::invalid("token realm", format!("`{}`: {e}", ch.realm)))?;
        if creds.is_some() {
            self.check_realm(repo, &ch.realm, &url)?;
        }
        let what = format!("a token for {} from {}", scopes.join(" "), ch.realm);
        let mut backoff = Backoff::new(self.inner.opts.retry);
        loop {
            backoff.start_attempt();
            let mut rb = self
                .inner
                .http
                .get(url.clone())
                .timeout(backoff.attempt_timeout());
            if let Some(c) = creds {
                rb = rb.basic_auth(&c.username, Some(c.password.expose()));
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    self.retry_or_give_up(repo, &format!("getting {what}"), &backoff, e)
                        .await?;
                    continue;
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                return Err(RegistryError::Unauthorized {
                    registry: repo.registry().to_owned(),
                    what,
                    had_credentials: creds.is_some(),
                    detail: error_body(resp).await.map(Detail),
                });
            }
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                let after = resp
                    .headers()
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                match backoff.next_delay(after) {
                    Some(d) => {
                        self.note_retry();
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    None => {
                        return Err(RegistryError::GaveUp {
                            what: format!("getting {what}"),
                            attempts: backoff.attempts(),
                            elapsed: backoff.elapsed(),
                            last: format!("the token server answered {status}"),
                            source: None,
                        });
                    }
                }
            }
            if !status.is_success() {
                return Err(protocol(repo, &format!("getting {what}"), resp).await);
            }
            #[derive(serde::Deserialize)]
            struct TokenAnswer {
                #[serde(default)]
                token: Option<String>,
                #[serde(default)]
                access_token: Option<String>,
            }
            let bytes = read_capped(resp, 1 << 20, &what).await?;
            let answer: TokenAnswer = serde_json::from_slice(&bytes)
                .map_err(|e| RegistryError::invalid(what.clone(), e.to_string()))?;
            return answer
                .token
                .or(answer.access_token)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| RegistryError::invalid(what, "the answer holds no token"));
        }
    }

    /// oci-client's handshake for one repository without credentials: an anonymous Bearer
    /// token (`Some`), or `None` for registries that do not use tokens.
    async fn anonymous_token(
        &self,
        repo: &Repository,
        push: bool,
    ) -> Result<Option<String>, RegistryError> {
        let auth = oci_client::secrets::RegistryAuth::Anonymous;
        let reference = oci_client::Reference::with_tag(
            repo.api_host().to_owned(),
            repo.path().to_owned(),
            "latest".to_owned(),
        );
        let op = if push {
            oci_client::RegistryOperation::Push
        } else {
            oci_client::RegistryOperation::Pull
        };
        let oci = self.oci()?;
        let what = format!("authenticating to {}", repo.registry());
        let mut backoff = Backoff::new(self.inner.opts.retry);
        loop {
            backoff.start_attempt();
            match tokio::time::timeout(backoff.attempt_timeout(), oci.auth(&reference, &auth, op))
                .await
            {
                Ok(Ok(t)) => return Ok(t),
                Ok(Err(oci_client::errors::OciDistributionError::AuthenticationFailure(msg))) => {
                    return Err(RegistryError::Unauthorized {
                        registry: repo.registry().to_owned(),
                        what: format!("a token for {repo}"),
                        had_credentials: false,
                        detail: Some(Detail(short_body(&msg))),
                    });
                }
                Ok(Err(oci_client::errors::OciDistributionError::RequestError(e))) => {
                    self.retry_or_give_up(repo, &what, &backoff, e).await?;
                }
                Ok(Err(e)) => {
                    return Err(RegistryError::Protocol {
                        registry: repo.registry().to_owned(),
                        what,
                        status: 0,
                        body: Some(e.to_string()),
                    });
                }
                Err(_elapsed) => match backoff.next_delay(None) {
                    Some(d) => {
                        self.note_retry();
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return Err(RegistryError::GaveUp {
                            what,
                            attempts: backoff.attempts(),
                            elapsed: backoff.elapsed(),
                            last: "no answer in time".into(),
                            source: None,
                        });
                    }
                },
            }
        }
    }

    /// Sends one request (no retry): builds it with auth, classifies the outcome. `deadline`
    /// bounds the wait for the answer's headers (`None`: only the idle timeout applies, for
    /// requests whose body is a blob — their length is not a matter of the retry budget).
    pub(crate) async fn attempt(
        &self,
        op: &Op<'_>,
        reauth: Reauth<'_>,
        deadline: Option<Duration>,
        request: RequestBuilder,
    ) -> Result<Attempt, RegistryError> {
        let refresh = match reauth {
            Reauth::Now(ch) => Some(ch),
            _ => None,
        };
        let auth = self.authorization(op, refresh).await?;
        let mut request = request;
        if let Some(h) = &auth.header {
            let mut v = HeaderValue::from_str(h.expose()).map_err(|_| {
                RegistryError::Credentials(
                    "credentials contain characters not allowed in an HTTP header".into(),
                )
            })?;
            v.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, v);
        }
        let sent = match deadline {
            Some(d) => match tokio::time::timeout(d, request.send()).await {
                Ok(r) => r,
                Err(_) => {
                    return Ok(Attempt::Retry {
                        why: format!(
                            "{} sent no answer within {:.1}s",
                            op.repo.registry(),
                            d.as_secs_f64()
                        ),
                        after: None,
                        source: None,
                    });
                }
            },
            None => request.send().await,
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                if let Some(tls) = tls_error(&e) {
                    return Ok(Attempt::Fail(RegistryError::Tls {
                        registry: op.repo.registry().to_owned(),
                        source: tls,
                    }));
                }
                return Ok(Attempt::Retry {
                    why: error_line(&e),
                    after: None,
                    source: Some(Box::new(e)),
                });
            }
        };
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED {
            let challenge = Challenge::from_headers(resp.headers());
            // A token that expired or lacks a scope (the challenge says which): ask once more.
            if matches!(reauth, Reauth::No) && (auth.bearer || challenge.is_some()) {
                return Ok(Attempt::Reauth(challenge));
            }
            let body = error_body(resp).await;
            return Ok(Attempt::Fail(RegistryError::Unauthorized {
                registry: op.repo.registry().to_owned(),
                what: op.what.clone(),
                had_credentials: self.credentials(op.repo.registry())?.is_some(),
                detail: body.map(Detail),
            }));
        }
        if status == StatusCode::FORBIDDEN {
            let body = error_body(resp).await;
            return Ok(Attempt::Fail(RegistryError::Denied {
                registry: op.repo.registry().to_owned(),
                what: op.what.clone(),
                detail: body.map(Detail),
            }));
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = error_body(resp).await;
            return Ok(Attempt::Retry {
                why: format!(
                    "{} answered {status}{}",
                    op.repo.registry(),
                    body.map(|b| format!(": {b}")).unwrap_or_default()
                ),
                after,
                source: None,
            });
        }
        Ok(Attempt::Done(resp))
    }

    /// Sends a request built by `build`, retrying transient failures per the policy; each
    /// attempt waits for its answer no longer than the time budget has left.
    pub(crate) async fn send(
        &self,
        op: &Op<'_>,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        let mut backoff = Backoff::new(self.inner.opts.retry);
        let mut challenge: Option<Option<Challenge>> = None;
        let mut fresh = false;
        loop {
            backoff.start_attempt();
            let deadline = Some(backoff.attempt_timeout());
            let reauth = match &challenge {
                None => Reauth::No,
                Some(c) if fresh => Reauth::Now(c),
                Some(_) => Reauth::Done,
            };
            fresh = false;
            match self
                .attempt(op, reauth, deadline, build(&self.inner.http))
                .await?
            {
                Attempt::Done(r) => return Ok(r),
                Attempt::Fail(e) => return Err(e),
                Attempt::Reauth(ch) => {
                    challenge = Some(ch);
                    fresh = true;
                }
                Attempt::Retry { why, after, source } => match backoff.next_delay(after) {
                    Some(d) => {
                        self.note_retry();
                        tracing::debug!("{}: {why}; retrying in {d:?}", op.what);
                        tokio::time::sleep(d).await;
                    }
                    None => {
                        return Err(RegistryError::GaveUp {
                            what: op.what.clone(),
                            attempts: backoff.attempts(),
                            elapsed: backoff.elapsed(),
                            last: why,
                            source,
                        });
                    }
                },
            }
        }
    }

    /// HEAD of a manifest by tag or digest: `None` when it does not exist.
    pub async fn head_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RemoteDescriptor>, RegistryError> {
        self.head_manifest_as(repo, reference, false).await
    }

    /// [`Client::head_manifest`] with the authorization of a push to `repo` (one token for
    /// the checks and the writes of a copy).
    pub async fn head_manifest_for_push(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<RemoteDescriptor>, RegistryError> {
        self.head_manifest_as(repo, reference, true).await
    }

    async fn head_manifest_as(
        &self,
        repo: &Repository,
        reference: &str,
        push: bool,
    ) -> Result<Option<RemoteDescriptor>, RegistryError> {
        let url = format!("{}/manifests/{reference}", self.repo_url(repo));
        let op = Op {
            repo,
            push,
            what: format!("checking {repo}:{reference}"),
            also_pull: None,
        };
        let resp = self
            .send(&op, |c| {
                c.request(Method::HEAD, &url)
                    .header(header::ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(protocol(repo, &op.what, resp).await);
        }
        let h = resp.headers();
        let digest = h
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        let media = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<MediaType>().ok());
        let size = h
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match (digest, media, size) {
            (Some(digest), Some(media_type), Some(size)) => Ok(Some(RemoteDescriptor {
                digest,
                media_type,
                size,
            })),
            // Some registries leave headers out of HEAD answers: ask with GET and hash.
            _ => Ok(self
                .get_manifest(repo, reference)
                .await?
                .map(|m| RemoteDescriptor {
                    digest: m.digest.clone(),
                    media_type: m.media_type.clone(),
                    size: m.bytes.len() as u64,
                })),
        }
    }

    /// Resolves a reference (tag or digest) to its manifest's descriptor.
    pub async fn resolve(&self, reference: &Reference) -> Result<RemoteDescriptor, RegistryError> {
        let repo = reference.repository();
        let r = reference_str(reference);
        self.head_manifest(repo, &r)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                repository: repo.to_string(),
                what: format!("manifest `{r}`"),
            })
    }

    /// GET of a manifest by tag or digest, with its exact bytes, verified against the digest
    /// asked for (or the `Docker-Content-Digest` the registry sent). `None` when absent.
    pub async fn get_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Manifest>, RegistryError> {
        let url = format!("{}/manifests/{reference}", self.repo_url(repo));
        let op = Op {
            repo,
            push: false,
            what: format!("fetching manifest {repo}:{reference}"),
            also_pull: None,
        };
        let resp = self
            .send(&op, |c| c.get(&url).header(header::ACCEPT, MANIFEST_ACCEPT))
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(protocol(repo, &op.what, resp).await);
        }
        let declared = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<MediaType>().ok());
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok());
        // Manifests are small (the spec lets registries refuse > 4 MiB); cap what we read.
        let bytes = read_capped(resp, 8 << 20, &op.what).await?;
        let manifest = Manifest::parse(
            bytes,
            declared.as_ref(),
            &format!("manifest {repo}:{reference}"),
        )?;
        let expected = reference.parse::<Digest>().ok().or(header_digest);
        if let Some(expected) = expected
            && expected != manifest.digest
        {
            return Err(RegistryError::Mismatch {
                what: format!("manifest {repo}:{reference}"),
                expected: expected.to_string(),
                actual: manifest.digest.to_string(),
            });
        }
        Ok(Some(manifest))
    }

    /// Like [`Client::get_manifest`], but absence is an error.
    pub async fn fetch_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Manifest, RegistryError> {
        self.get_manifest(repo, reference)
            .await?
            .ok_or_else(|| RegistryError::NotFound {
                repository: repo.to_string(),
                what: format!("manifest `{reference}`"),
            })
    }

    /// PUT of a manifest under `reference` (a tag, or its digest).
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        manifest: &Manifest,
    ) -> Result<(), RegistryError> {
        let url = format!("{}/manifests/{reference}", self.repo_url(repo));
        let op = Op {
            repo,
            push: true,
            what: format!(
                "pushing manifest {} to {repo}:{reference}",
                manifest.digest.short()
            ),
            also_pull: None,
        };
        let body = Bytes::from(manifest.bytes.clone());
        let resp = self
            .send(&op, |c| {
                c.put(&url)
                    .header(header::CONTENT_TYPE, manifest.media_type.as_str())
                    .body(body.clone())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(protocol(repo, &op.what, resp).await);
        }
        if let Some(d) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Digest>().ok())
            && d != manifest.digest
        {
            return Err(RegistryError::Mismatch {
                what: format!("manifest stored at {repo}:{reference}"),
                expected: manifest.digest.to_string(),
                actual: d.to_string(),
            });
        }
        Ok(())
    }

    /// HEAD of a blob: its size when present.
    pub async fn blob_exists(
        &self,
        repo: &Repository,
        digest: &Digest,
        push: bool,
    ) -> Result<Option<u64>, RegistryError> {
        let url = format!("{}/blobs/{digest}", self.repo_url(repo));
        let op = Op {
            repo,
            push,
            what: format!("checking blob {} in {repo}", digest.short()),
            also_pull: None,
        };
        let resp = self.send(&op, |c| c.head(&url)).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(
                resp.headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )),
            _ => Err(protocol(repo, &op.what, resp).await),
        }
    }

    /// The raw bytes of a blob from `offset` on (not verified: see [`Client::fetch_blob`]).
    pub async fn blob_stream(
        &self,
        repo: &Repository,
        digest: &Digest,
        offset: u64,
    ) -> Result<ByteStream, RegistryError> {
        let url = format!("{}/blobs/{digest}", self.repo_url(repo));
        let op = Op {
            repo,
            push: false,
            what: format!("fetching blob {} from {repo}", digest.short()),
            also_pull: None,
        };
        let resp = self
            .send(&op, |c| {
                let r = c.get(&url);
                if offset > 0 {
                    r.header(header::RANGE, format!("bytes={offset}-"))
                } else {
                    r
                }
            })
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Err(RegistryError::NotFound {
                repository: repo.to_string(),
                what: format!("blob {digest}"),
            }),
            StatusCode::PARTIAL_CONTENT if offset > 0 => Ok(body_stream(resp)),
            StatusCode::OK if offset == 0 => Ok(body_stream(resp)),
            StatusCode::OK => {
                // The registry ignored Range: skip the prefix ourselves.
                Ok(skip_prefix(body_stream(resp), offset))
            }
            _ => Err(protocol(repo, &op.what, resp).await),
        }
    }

    /// A blob's bytes, verified while they stream: the stream fails at its end when the
    /// content does not hash to `digest` (or is not `size` long).
    pub async fn fetch_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<ByteStream, RegistryError> {
        let raw = self.blob_stream(repo, digest, 0).await?;
        Ok(Box::pin(VerifyingStream::new(
            raw,
            Hasher::new(),
            digest.clone(),
            size,
            format!("blob {digest} from {repo}"),
        )))
    }

    /// A small blob (a config, a signature payload) whole, verified.
    pub async fn fetch_blob_bytes(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        let s = self.fetch_blob(repo, digest, None).await?;
        let chunks: Vec<Bytes> = s
            .try_collect()
            .await
            .map_err(|e| io_to_registry(e, format!("blob {digest} from {repo}")))?;
        Ok(chunks.concat())
    }

    /// Cross-repository mount of `digest` from `from` into `repo` (same registry). `true`
    /// when mounted; `false` when the registry declined or refused it — an upload session
    /// instead of a mount, or a token without the source's `pull` (the caller uploads instead).
    pub async fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<bool, RegistryError> {
        let url = format!(
            "{}/blobs/uploads/?mount={digest}&from={}",
            self.repo_url(repo),
            from.path()
        );
        // One token for both repositories: pull on the source, push on the target.
        let op = Op {
            repo,
            push: true,
            what: format!("mounting blob {} from {from} into {repo}", digest.short()),
            also_pull: Some(from),
        };
        let resp = match self
            .send(&op, |c| c.post(&url).header(header::CONTENT_LENGTH, "0"))
            .await
        {
            Ok(r) => r,
            Err(e @ (RegistryError::Unauthorized { .. } | RegistryError::Denied { .. })) => {
                tracing::info!("{e}; uploading the blob instead");
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // An upload session instead of a mount: give it back.
                if let Some(loc) = location(&resp) {
                    let url = self.absolute(repo, &loc)?;
                    let _ = self
                        .attempt(
                            &op,
                            Reauth::No,
                            Some(Duration::from_secs(10)),
                            self.http().delete(url),
                        )
                        .await;
                }
                Ok(false)
            }
            s if s.is_client_error() => {
                let e = protocol(repo, &op.what, resp).await;
                tracing::info!("{e}; uploading the blob instead");
                Ok(false)
            }
            _ => Err(protocol(repo, &op.what, resp).await),
        }
    }

    /// Tags of a repository (all pages).
    pub async fn list_tags(&self, repo: &Repository) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut url = format!("{}/tags/list?n=1000", self.repo_url(repo));
        let op = Op {
            repo,
            push: false,
            what: format!("listing tags of {repo}"),
            also_pull: None,
        };
        loop {
            let resp = self.send(&op, |c| c.get(&url)).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(out);
            }
            if !resp.status().is_success() {
                return Err(protocol(repo, &op.what, resp).await);
            }
            let next = resp
                .headers()
                .get(header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split(';').next())
                .map(|l| {
                    l.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_owned()
                });
            let bytes = read_capped(resp, 16 << 20, &op.what).await?;
            let list: TagList = serde_json::from_slice(&bytes)
                .map_err(|e| RegistryError::invalid(op.what.clone(), e.to_string()))?;
            out.extend(list.tags.unwrap_or_default());
            match next {
                Some(n) => url = self.absolute(repo, &n)?.to_string(),
                None => return Ok(out),
            }
        }
    }
}

fn basic_auth(c: &Credentials) -> AuthValue {
    AuthValue {
        header: Some(Secret::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                c.username,
                c.password.expose()
            ))
        ))),
        bearer: false,
    }
}

/// `tag` or `digest` of a reference (the digest wins).
pub fn reference_str(r: &Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_owned(),
    }
}

pub(crate) fn location(resp: &Response) -> Option<String> {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub(crate) fn body_stream(resp: Response) -> ByteStream {
    Box::pin(resp.bytes_stream().map_err(std::io::Error::other))
}

fn skip_prefix(s: ByteStream, mut skip: u64) -> ByteStream {
    Box::pin(s.filter_map(move |chunk| {
        let out = match chunk {
            Ok(mut b) => {
                if skip >= b.len() as u64 {
                    skip -= b.len() as u64;
                    None
                } else {
                    let rest = b.split_off(skip as usize);
                    skip = 0;
                    Some(Ok(rest))
                }
            }
            Err(e) => Some(Err(e)),
        };
        std::future::ready(out)
    }))
}

async fn read_capped(resp: Response, cap: usize, what: &str) -> Result<Vec<u8>, RegistryError> {
    let mut out = Vec::new();
    let mut s = resp.bytes_stream();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| RegistryError::GaveUp {
            what: what.to_owned(),
            attempts: 1,
            elapsed: Duration::ZERO,
            last: error_line(&e),
            source: Some(Box::new(e)),
        })?;
        if out.len() + chunk.len() > cap {
            return Err(RegistryError::invalid(
                what,
                format!("the answer is larger than {cap} bytes"),
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The first part of an error answer, with registry error codes pulled out when it is JSON.
pub(crate) async fn error_body(resp: Response) -> Option<String> {
    let bytes = resp.bytes().await.ok()?;
    if bytes.is_empty() {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<Errors>(&bytes) {
        let parts: Vec<String> = e
            .errors
            .iter()
            .map(|i| format!("{} {}", i.code, i.message).trim().to_owned())
            .collect();
        return Some(parts.join("; "));
    }
    Some(short_body(&String::from_utf8_lossy(&bytes)))
}

fn short_body(s: &str) -> String {
    let t = s.trim();
    if t.len() > 300 {
        let mut end = 300;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &t[..end])
    } else {
        t.to_owned()
    }
}

pub(crate) async fn protocol(repo: &Repository, what: &str, resp: Response) -> RegistryError {
    let status = resp.status().as_u16();
    RegistryError::Protocol {
        registry: repo.registry().to_owned(),
        what: what.to_owned(),
        status,
        body: error_body(resp).await,
    }
}

/// One line describing a reqwest error with its causes.
pub(crate) fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let m = s.to_string();
        if !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// The TLS error inside a request error (an untrusted certificate, or a server that does not
/// speak TLS), when that is what it is: retrying cannot fix it.
fn tls_error(e: &reqwest::Error) -> Option<Box<dyn std::error::Error + Send + Sync>> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<rustls::Error>()
            && matches!(
                r,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    // What a plain-HTTP server answers to a TLS hello looks like this.
                    | rustls::Error::InvalidMessage(_)
            )
        {
            return Some(Box::new(r.clone()));
        }
        // io::Error hides its inner error from `source()`; its text still tells.
        let text = err.to_string();
        if text.contains("invalid peer certificate")
            || text.contains("UnknownIssuer")
            || text.contains("received corrupt message")
        {
            return Some(Box::new(std::io::Error::other(text)));
        }
        cur = err.source();
    }
    None
}

pub(crate) fn io_to_registry(e: std::io::Error, what: String) -> RegistryError {
    if let Some(inner) = e.get_ref()
        && let Some(m) = inner.downcast_ref::<MismatchError>()
    {
        return RegistryError::Mismatch {
            what: m.what.clone(),
            expected: m.expected.clone(),
            actual: m.actual.clone(),
        };
    }
    RegistryError::GaveUp {
        what,
        attempts: 1,
        elapsed: Duration::ZERO,
        last: error_line(&e),
        source: Some(Box::new(e)),
    }
}

/// A digest/size mismatch detected inside a stream.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} does not match its descriptor: expected {expected}, got {actual}")]
pub struct MismatchError {
    /// What was read.
    pub what: String,
    /// Expected.
    pub expected: String,
    /// Found.
    pub actual: String,
}

/// Hashes what passes; at the end, fails the stream when digest or size do not match.
pub(crate) struct VerifyingStream {
    inner: ByteStream,
    hasher: Option<Hasher>,
    expected: Digest,
    size: Option<u64>,
    what: String,
}

impl VerifyingStream {
    /// `hasher` already holds the bytes before the stream's start (resumed reads).
    pub(crate) fn new(
        inner: ByteStream,
        hasher: Hasher,
        expected: Digest,
        size: Option<u64>,
        what: String,
    ) -> VerifyingStream {
        VerifyingStream {
            inner,
            hasher: Some(hasher),
            expected,
            size,
            what,
        }
    }
}

impl Stream for VerifyingStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(hasher) = this.hasher.as_mut() else {
            return Poll::Ready(None);
        };
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                hasher.update(&b);
                if this.size.is_some_and(|s| hasher.len() > s) {
                    let n = hasher.len();
                    this.hasher = None;
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        MismatchError {
                            what: this.what.clone(),
                            expected: format!("{} bytes", this.size.unwrap_or(0)),
                            actual: format!("at least {n} bytes"),
                        },
                    ))));
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => {
                let h = this.hasher.take().expect("checked above");
                let n = h.len();
                let got = h.finish();
                if got != this.expected || this.size.is_some_and(|s| s != n) {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        MismatchError {
                            what: this.what.clone(),
                            expected: format!(
                                "{} ({} bytes)",
                                this.expected,
                                this.size.map_or("?".into(), |s| s.to_string())
                            ),
                            actual: format!("{got} ({n} bytes)"),
                        },
                    ))));
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Headers as a debug string with secrets removed (for logs).
#[allow(dead_code)]
pub(crate) fn safe_headers(h: &HeaderMap) -> String {
    h.iter()
        .map(|(k, v)| {
            if k == header::AUTHORIZATION {
                format!("{k}: ***")
            } else {
                format!("{k}: {}", v.to_str().unwrap_or("?"))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(insecure: &[&str], repo: &str, realm: &str) -> Result<(), RegistryError> {
        let client = Client::new(ClientOptions {
            insecure_registries: insecure.iter().map(|s| (*s).to_owned()).collect(),
            ..ClientOptions::default()
        })
        .unwrap();
        let repo: Repository = repo.parse().unwrap();
        client.check_realm(&repo, realm, &Url::parse(realm).unwrap())
    }

    #[test]
    fn ca_files_must_hold_pem_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let with = |path: PathBuf| {
            Client::new(ClientOptions {
                ca_files: vec![path],
                ..ClientOptions::default()
            })
        };
        // A real bundle (the distribution's, every certificate in it) is taken.
        assert!(with("/etc/ssl/certs/ca-certificates.crt".into()).is_ok());
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "no certificate here\n").unwrap();
        let e = with(text.clone()).unwrap_err().to_string();
        assert!(e.contains("notes.txt") && e.contains("--ca-file"), "{e}");
        assert!(e.contains("holds no CERTIFICATE block"), "{e}");
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = with(broken).unwrap_err().to_string();
        assert!(
            e.contains("broken.pem") && e.contains("not a PEM certificate"),
            "{e}"
        );
        let e = with(dir.path().join("missing.pem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read CA file"), "{e}");
    }

    #[test]
    fn credentials_go_only_to_an_https_realm_or_an_insecure_registry_host() {
        assert!(check(&[], "ghcr.io/acme/app", "https://ghcr.io/token").is_ok());
        // An HTTPS registry naming a plain-HTTP realm, on its own host or another.
        for realm in ["http://ghcr.io/token", "http://evil.example:8080/token"] {
            let e = check(&[], "ghcr.io/acme/app", realm).unwrap_err();
            assert!(
                matches!(&e, RegistryError::InsecureRealm { realm: r, .. } if r == realm),
                "{e}"
            );
            assert!(e.to_string().contains(realm), "{e}");
        }
        let e = check(&[], "ghcr.io/acme/app", "ftp://ghcr.io/token").unwrap_err();
        assert!(matches!(e, RegistryError::InsecureRealm { .. }), "{e}");
        // Named with --insecure-registry (host and port as given).
        let tok = "http://10.0.0.5:5001/token";
        assert!(check(&["10.0.0.5:5001"], "ghcr.io/acme/app", tok).is_ok());
        assert!(check(&["10.0.0.5"], "ghcr.io/acme/app", tok).is_err());
        // A plain-HTTP registry's token server on the same host.
        assert!(check(&["10.0.0.5:5000"], "10.0.0.5:5000/app", tok).is_ok());
        assert!(check(&["10.0.0.5:5000"], "10.0.0.5:5000/app", "http://10.0.0.6/t").is_err());
        assert!(check(&[], "10.0.0.5:5000/app", tok).is_err());
    }
}
