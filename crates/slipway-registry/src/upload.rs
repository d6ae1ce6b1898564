//! Blob uploads: one request per blob, or chunks; after a failure, resume from the `Range`
//! the registry reports for the upload session (or start a new session when it lost it).
//!
//! Every byte sent is hashed on the way; the last bytes are only released once the digest and
//! size are confirmed, so a blob that does not match its descriptor is never committed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::header;
use reqwest::{StatusCode, Url};
use slipway_oci::digest::Hasher;
use slipway_types::{Digest, Progress, Repository};
use tokio::io::AsyncSeekExt;

use crate::RegistryError;
use crate::client::{
    Attempt, ByteStream, Challenge, Client, MismatchError, Op, Reauth, error_body, location,
};
use crate::retry::Backoff;

/// Where a blob's bytes come from.
pub trait BlobSource: Send + Sync {
    /// The blob's bytes from `offset` on. The uploader verifies them; sources need not.
    fn open(&self, offset: u64) -> BoxFuture<'_, Result<ByteStream, RegistryError>>;
}

/// A blob in an OCI layout.
#[derive(Debug, Clone)]
pub struct LayoutBlob {
    /// The layout.
    pub layout: slipway_oci::Layout,
    /// The blob.
    pub digest: Digest,
}

impl BlobSource for LayoutBlob {
    fn open(&self, offset: u64) -> BoxFuture<'_, Result<ByteStream, RegistryError>> {
        Box::pin(async move {
            let path = self.layout.blob_path(&self.digest);
            let mut f = tokio::fs::File::open(&path).await.map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    RegistryError::Layout(slipway_oci::OciError::BlobMissing {
                        layout: self.layout.root().to_path_buf(),
                        digest: self.digest.clone(),
                    })
                } else {
                    RegistryError::Layout(slipway_oci::OciError::Io {
                        action: "cannot read blob",
                        path: path.clone(),
                        source: e,
                    })
                }
            })?;
            if offset > 0 {
                f.seek(std::io::SeekFrom::Start(offset))
                    .await
                    .map_err(|e| {
                        RegistryError::Layout(slipway_oci::OciError::Io {
                            action: "cannot read blob",
                            path: path.clone(),
                            source: e,
                        })
                    })?;
            }
            let s = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024);
            Ok(Box::pin(s) as ByteStream)
        })
    }
}

/// A blob in a registry repository.
#[derive(Debug, Clone)]
pub struct RemoteBlob {
    /// Client for the source registry.
    pub client: Client,
    /// Source repository.
    pub repo: Repository,
    /// The blob.
    pub digest: Digest,
}

impl BlobSource for RemoteBlob {
    fn open(&self, offset: u64) -> BoxFuture<'_, Result<ByteStream, RegistryError>> {
        Box::pin(async move {
            self.client
                .blob_stream(&self.repo, &self.digest, offset)
                .await
        })
    }
}

/// Reports bytes sent for one blob.
#[derive(Clone)]
pub struct UploadProgress {
    /// Receiver.
    pub progress: Arc<dyn Progress>,
    /// Task label.
    pub task: String,
}

impl std::fmt::Debug for UploadProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadProgress")
            .field("task", &self.task)
            .finish()
    }
}

/// The source stream being consumed, with the hash of everything read before `pos`.
struct Feed {
    stream: ByteStream,
    pending: Option<Bytes>,
    pos: u64,
    hasher: Hasher,
    size: u64,
    digest: Digest,
    what: String,
    mismatch: Option<MismatchError>,
    sent: u64,
}

impl Feed {
    /// Up to `max` next bytes (hashed); `None` at the end of the source.
    async fn next_piece(&mut self, max: u64) -> Result<Option<Bytes>, std::io::Error> {
        let mut b = match self.pending.take() {
            Some(b) => b,
            None => match self.stream.next().await {
                Some(r) => r?,
                None => return Ok(None),
            },
        };
        if b.is_empty() {
            return Ok(Some(b));
        }
        let room = max.min(self.size - self.pos);
        if room == 0 {
            return Ok(None);
        }
        if b.len() as u64 > room {
            self.pending = Some(b.split_off(room as usize));
        }
        self.hasher.update(&b);
        self.pos += b.len() as u64;
        if self.pos == self.size {
            // Release the last bytes only when the whole blob is what it claims to be.
            let got = self.hasher.clone().finish();
            let extra = self.pending.take().is_some_and(|p| !p.is_empty());
            if got != self.digest || extra {
                let m = MismatchError {
                    what: self.what.clone(),
                    expected: format!("{} ({} bytes)", self.digest, self.size),
                    actual: if extra {
                        format!("more than {} bytes", self.size)
                    } else {
                        got.to_string()
                    },
                };
                self.mismatch = Some(m.clone());
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, m));
            }
        }
        Ok(Some(b))
    }

    /// Reads and hashes (without sending) up to absolute offset `to`.
    async fn skip_to(&mut self, to: u64) -> Result<(), std::io::Error> {
        while self.pos < to {
            match self.next_piece(to - self.pos).await? {
                Some(_) => {}
                None => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the source ended early",
                    ));
                }
            }
        }
        Ok(())
    }
}

type SharedFeed = Arc<tokio::sync::Mutex<Feed>>;

/// A request body of exactly `len` bytes taken from the feed.
fn body(feed: SharedFeed, len: u64, progress: Option<UploadProgress>) -> reqwest::Body {
    let s = futures_util::stream::unfold(
        (feed, len, progress),
        |(feed, remaining, progress)| async move {
            if remaining == 0 {
                return None;
            }
            let mut f = feed.lock().await;
            match f.next_piece(remaining).await {
                Ok(Some(b)) => {
                    let n = b.len() as u64;
                    f.sent += n;
                    drop(f);
                    if let Some(p) = &progress {
                        p.progress.advance(&p.task, n);
                    }
                    Some((Ok(b), (feed, remaining - n, progress)))
                }
                Ok(None) => {
                    drop(f);
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "the source ended before the blob's size",
                        )),
                        (feed, 0, progress),
                    ))
                }
                Err(e) => {
                    drop(f);
                    Some((Err(e), (feed, 0, progress)))
                }
            }
        },
    );
    reqwest::Body::wrap_stream(s)
}

enum Step {
    Retry {
        why: String,
        after: Option<Duration>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
        /// Get a new token first (the 401's challenge).
        reauth: Option<Box<Option<Challenge>>>,
    },
    Fatal(RegistryError),
}

impl From<RegistryError> for Step {
    fn from(e: RegistryError) -> Self {
        Step::Fatal(e)
    }
}

fn from_attempt(a: Attempt) -> Result<reqwest::Response, Step> {
    match a {
        Attempt::Done(r) => Ok(r),
        Attempt::Fail(e) => Err(Step::Fatal(e)),
        Attempt::Reauth(ch) => Err(Step::Retry {
            why: "the token was refused".into(),
            after: Some(Duration::ZERO),
            source: None,
            reauth: Some(Box::new(ch)),
        }),
        Attempt::Retry { why, after, source } => Err(Step::Retry {
            why,
            after,
            source,
            reauth: None,
        }),
    }
}

/// Where an interrupted upload stands.
struct Session {
    url: Url,
    /// Bytes the registry holds for it.
    offset: u64,
}

/// The end of a `Range: 0-N` header as a byte count (`0-0` is taken as empty, as Distribution
/// reports an empty upload that way).
fn range_count(resp: &reqwest::Response) -> Option<u64> {
    let v = resp.headers().get(header::RANGE)?.to_str().ok()?;
    let v = v.trim().trim_start_matches("bytes=");
    let (start, end) = v.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    if start != 0 {
        return None;
    }
    Some(if end == 0 { 0 } else { end + 1 })
}

impl Client {
    /// Uploads blob `digest` of `size` bytes from `source` to `repo`; returns the bytes sent
    /// (resumed attempts count what was actually sent again).
    pub async fn upload_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
        progress: Option<UploadProgress>,
    ) -> Result<u64, RegistryError> {
        let what = format!("uploading blob {} to {repo}", digest.short());
        let mut backoff = Backoff::new(self.options().retry);
        let mut session: Option<Session> = None;
        // Hash state of the prefix the registry is known to hold (chunk boundaries).
        let mut confirmed = (Hasher::new(), 0u64);
        let mut sent = 0u64;
        let mut reauth: Option<Box<Option<Challenge>>> = None;
        loop {
            backoff.start_attempt();
            let step = self
                .upload_attempt(
                    repo,
                    digest,
                    size,
                    source,
                    &progress,
                    &mut session,
                    &mut confirmed,
                    &mut sent,
                    match &reauth {
                        Some(ch) => Reauth::Now(ch),
                        None => Reauth::No,
                    },
                    backoff.attempt_timeout(),
                    &what,
                )
                .await;
            let (why, after, src, again) = match step {
                Ok(()) => return Ok(sent),
                Err(Step::Fatal(e)) => return Err(e),
                Err(Step::Retry {
                    why,
                    after,
                    source,
                    reauth,
                }) => (why, after, source, reauth),
            };
            reauth = again;
            match backoff.next_delay(after) {
                Some(d) => {
                    self.note_retry();
                    tracing::info!("{what}: {why}; retrying in {d:?}");
                    tokio::time::sleep(d).await;
                }
                None => {
                    return Err(RegistryError::GaveUp {
                        what,
                        attempts: backoff.attempts(),
                        elapsed: backoff.elapsed(),
                        last: why,
                        source: src,
                    });
                }
            }
            // Where does the upload stand? Resume from the registry's Range, else start over.
            session = match session.take() {
                Some(s) => {
                    self.upload_status(repo, &s.url, &what, backoff.attempt_timeout())
                        .await
                }
                None => None,
            };
            match &session {
                Some(s) if s.offset >= confirmed.1 && s.offset <= size => {
                    tracing::info!("{what}: resuming at byte {} of {size}", s.offset);
                }
                _ => {
                    session = None;
                    confirmed = (Hasher::new(), 0);
                }
            }
        }
    }

    async fn upload_status(
        &self,
        repo: &Repository,
        url: &Url,
        what: &str,
        deadline: Duration,
    ) -> Option<Session> {
        let op = Op {
            repo,
            push: true,
            what: what.to_owned(),
            also_pull: None,
        };
        let a = self
            .attempt(
                &op,
                Reauth::No,
                Some(deadline),
                self.http().get(url.clone()),
            )
            .await
            .ok()?;
        let Attempt::Done(resp) = a else { return None };
        if resp.status() != StatusCode::NO_CONTENT && !resp.status().is_success() {
            return None;
        }
        let offset = range_count(&resp)?;
        let url = match location(&resp) {
            Some(l) => self.absolute(repo, &l).ok()?,
            None => url.clone(),
        };
        Some(Session { url, offset })
    }

    #[allow(clippy::too_many_arguments)]
    async fn upload_attempt(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
        progress: &Option<UploadProgress>,
        session: &mut Option<Session>,
        confirmed: &mut (Hasher, u64),
        sent: &mut u64,
        mut reauth: Reauth<'_>,
        deadline: Duration,
        what: &str,
    ) -> Result<(), Step> {
        let op = Op {
            repo,
            push: true,
            what: what.to_owned(),
            also_pull: None,
        };
        if session.is_none() {
            let url = format!("{}/blobs/uploads/", self.repo_url(repo));
            let resp = from_attempt(
                self.attempt(
                    &op,
                    reauth,
                    Some(deadline),
                    self.http().post(&url).header(header::CONTENT_LENGTH, "0"),
                )
                .await?,
            )?;
            reauth = Reauth::No;
            if resp.status() != StatusCode::ACCEPTED {
                return Err(Step::Fatal(crate::client::protocol(repo, what, resp).await));
            }
            let loc = location(&resp).ok_or_else(|| {
                RegistryError::invalid(what, "the registry sent no upload Location")
            })?;
            *session = Some(Session {
                url: self.absolute(repo, &loc)?,
                offset: 0,
            });
            *confirmed = (Hasher::new(), 0);
        }
        let (mut url, resume_at) = {
            let s = session.as_ref().expect("set above");
            (s.url.clone(), s.offset)
        };
        let stream = source.open(confirmed.1).await?;
        let feed = Arc::new(tokio::sync::Mutex::new(Feed {
            stream,
            pending: None,
            pos: confirmed.1,
            hasher: confirmed.0.clone(),
            size,
            digest: digest.clone(),
            what: format!("blob {digest} (source)"),
            mismatch: None,
            sent: 0,
        }));
        let result = self
            .send_rest(
                &op, &feed, &mut url, resume_at, size, digest, progress, session, confirmed, reauth,
            )
            .await;
        let f = feed.lock().await;
        *sent += f.sent;
        if let Some(m) = &f.mismatch {
            return Err(Step::Fatal(RegistryError::Mismatch {
                what: m.what.clone(),
                expected: m.expected.clone(),
                actual: m.actual.clone(),
            }));
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_rest(
        &self,
        op: &Op<'_>,
        feed: &SharedFeed,
        url: &mut Url,
        resume_at: u64,
        size: u64,
        digest: &Digest,
        progress: &Option<UploadProgress>,
        session: &mut Option<Session>,
        confirmed: &mut (Hasher, u64),
        mut reauth: Reauth<'_>,
    ) -> Result<(), Step> {
        let io_retry = |e: std::io::Error| Step::Retry {
            why: format!("reading the source: {e}"),
            after: None,
            source: Some(Box::new(e)),
            reauth: None,
        };
        feed.lock()
            .await
            .skip_to(resume_at)
            .await
            .map_err(io_retry)?;
        let chunk = self.options().chunk_size.filter(|c| *c > 0 && size > *c);
        let mut pos = resume_at;
        if let Some(chunk) = chunk {
            while pos < size {
                let len = chunk.min(size - pos);
                let r = std::mem::replace(&mut reauth, Reauth::No);
                // No deadline: a chunk takes as long as its bytes take (the idle timeout
                // catches a registry that stops reading or answering).
                let resp = from_attempt(
                    self.attempt(
                        op,
                        r,
                        None,
                        self.http()
                            .patch(url.clone())
                            .header(header::CONTENT_TYPE, "application/octet-stream")
                            .header(header::CONTENT_LENGTH, len.to_string())
                            .header("Content-Range", format!("{pos}-{}", pos + len - 1))
                            .body(body(feed.clone(), len, progress.clone())),
                    )
                    .await?,
                )?;
                if resp.status() != StatusCode::ACCEPTED {
                    if resp.status() == StatusCode::RANGE_NOT_SATISFIABLE
                        || resp.status() == StatusCode::NOT_FOUND
                    {
                        // The registry lost track of this session: start over.
                        *session = None;
                        return Err(Step::Retry {
                            why: format!("the registry answered {} to a chunk", resp.status()),
                            after: None,
                            source: None,
                            reauth: None,
                        });
                    }
                    return Err(Step::Fatal(
                        crate::client::protocol(op.repo, &op.what, resp).await,
                    ));
                }
                let held = range_count(&resp);
                if let Some(l) = location(&resp) {
                    *url = self.absolute(op.repo, &l)?;
                }
                pos += len;
                let f = feed.lock().await;
                if held.is_some_and(|h| h != pos) || f.pos != pos {
                    return Err(Step::Retry {
                        why: format!(
                            "the registry holds {held:?} bytes after a chunk ending at {pos}"
                        ),
                        after: None,
                        source: None,
                        reauth: None,
                    });
                }
                *confirmed = (f.hasher.clone(), pos);
                *session = Some(Session {
                    url: url.clone(),
                    offset: pos,
                });
            }
        }
        let mut put = url.clone();
        put.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let len = size - pos;
        let resp = from_attempt(
            self.attempt(
                op,
                reauth,
                None,
                self.http()
                    .put(put)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .header(header::CONTENT_LENGTH, len.to_string())
                    .body(body(feed.clone(), len, progress.clone())),
            )
            .await?,
        )?;
        match resp.status() {
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => Ok(()),
            StatusCode::NOT_FOUND | StatusCode::RANGE_NOT_SATISFIABLE => {
                *session = None;
                Err(Step::Retry {
                    why: format!("the registry answered {} to the final PUT", resp.status()),
                    after: None,
                    source: None,
                    reauth: None,
                })
            }
            s => {
                let body = error_body(resp).await;
                Err(Step::Fatal(RegistryError::Protocol {
                    registry: op.repo.registry().to_owned(),
                    what: op.what.clone(),
                    status: s.as_u16(),
                    body,
                }))
            }
        }
    }
}
