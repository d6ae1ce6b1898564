//! An HTTP proxy in front of a real registry that injects faults: a connection dropped in the
//! middle of a request body, an error status, a 429 with `Retry-After`, a server that takes a
//! request and never answers.
//!
//! It speaks HTTP/1.1 on 127.0.0.1 (a port it picks) and forwards every request, Host header
//! included, to the upstream registry over plain HTTP, so the `Location` URLs the registry
//! returns point back at the proxy. A [`Fault`] fires on the matching requests after skipping the
//! first `skip` of them, `times` times; [`FaultProxy::fired`] tells a test whether it really did,
//! and [`FaultProxy::requests`] what each request was and what happened to it (with the time it
//! arrived and, for a reset, how many body bytes had arrived), so a test cannot pass because a
//! fault never happened or happened somewhere else. Stopped on drop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// What a fault does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Read this many bytes of the request body, then drop the connection without a response.
    ResetAfter(u64),
    /// Answer with this status (and a small JSON error body) without forwarding.
    Status(u16),
    /// Answer 429 Too Many Requests with `Retry-After: N` (seconds) without forwarding.
    TooManyRequests(u64),
    /// Read the whole request body, then never answer (the connection stays open).
    Stall,
    /// Forward, but flip the bits of the first byte of every chunk of the answer's body (the
    /// status and headers stay as the registry sent them).
    CorruptBody,
}

/// A fault: requests with `method` whose path contains `path_contains` (and whose query
/// contains `query_contains`, and whose announced body is at least `min_body` bytes when set);
/// the first `skip` of them pass untouched, the next `times` get `action`.
#[derive(Debug, Clone)]
pub struct Fault {
    /// HTTP method, e.g. `PUT`.
    pub method: &'static str,
    /// Substring of the request path, e.g. `/manifests/` or `/blobs/uploads/`.
    pub path_contains: &'static str,
    /// Substring of the query string (e.g. `mount=`); `None`: any query.
    pub query_contains: Option<&'static str>,
    /// Only requests that carry a body (Content-Length > 0 or chunked) match when true.
    pub with_body: bool,
    /// Only requests whose Content-Length is at least this match (0: any).
    pub min_body: u64,
    /// Matching requests let through before the fault starts firing.
    pub skip: usize,
    /// How many matching requests it fires on (after the skipped ones).
    pub times: usize,
    /// What it does.
    pub action: FaultAction,
}

impl Fault {
    /// A fault on the first request with `method` whose path contains `path_contains`.
    pub fn new(method: &'static str, path_contains: &'static str, action: FaultAction) -> Fault {
        Fault {
            method,
            path_contains,
            query_contains: None,
            with_body: false,
            min_body: 0,
            skip: 0,
            times: 1,
            action,
        }
    }

    /// Only requests with a body.
    pub fn with_body(mut self) -> Fault {
        self.with_body = true;
        self
    }

    /// Only requests announcing at least `n` body bytes (Content-Length).
    pub fn min_body(mut self, n: u64) -> Fault {
        self.with_body = true;
        self.min_body = n;
        self
    }

    /// Only requests whose query contains `s`.
    pub fn query(mut self, s: &'static str) -> Fault {
        self.query_contains = Some(s);
        self
    }

    /// Lets the first `n` matching requests through.
    pub fn skip(mut self, n: usize) -> Fault {
        self.skip = n;
        self
    }

    /// Fires on `n` requests.
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }
}

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub struct Logged {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string (empty when none).
    pub query: String,
    /// When it arrived.
    pub at: Instant,
    /// Its `Content-Length`, when announced.
    pub content_length: Option<u64>,
    /// Its `Content-Range`, when sent.
    pub content_range: Option<String>,
    /// The fault applied (index, action), `None` when forwarded.
    pub fault: Option<(usize, FaultAction)>,
    /// For [`FaultAction::ResetAfter`]: body bytes received before the connection was dropped.
    pub body_received: Option<u64>,
    /// The status the registry answered (forwarded requests).
    pub status: Option<u16>,
    /// The `Range` header of the registry's answer (upload sessions report their progress so).
    pub response_range: Option<String>,
}

#[derive(Debug)]
struct Shared {
    // (fault, matches seen, times fired)
    faults: Vec<(Fault, usize, usize)>,
    log: Vec<Logged>,
}

/// A running fault proxy.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` (`host:port`, plain HTTP) with `faults`.
    pub fn start(upstream: &str, faults: Vec<Fault>) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .parse()
            .unwrap_or_else(|e| panic!("upstream {upstream}: {e}"));
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("proxy addr");
        let shared = Arc::new(Mutex::new(Shared {
            faults: faults.into_iter().map(|f| (f, 0, 0)).collect(),
            log: Vec::new(),
        }));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let s = s.clone();
                            tokio::spawn(async move {
                                let svc = service_fn(move |req| handle(req, upstream, s.clone()));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        FaultProxy {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT` of the proxy.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// How many times fault `i` (in the order given) fired.
    pub fn fired(&self, i: usize) -> usize {
        self.shared.lock().expect("proxy state").faults[i].2
    }

    /// Every request seen, in order of arrival.
    pub fn requests(&self) -> Vec<Logged> {
        self.shared.lock().expect("proxy state").log.clone()
    }

    /// Every request seen, as `METHOD path -> outcome` (for assertion messages).
    pub fn log(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|l| {
                format!(
                    "{} {}{} -> {}",
                    l.method,
                    l.path,
                    if l.query.is_empty() {
                        String::new()
                    } else {
                        format!("?{}", l.query)
                    },
                    match (l.fault, l.body_received) {
                        (None, _) => "forwarded".to_owned(),
                        (Some((_, a)), Some(n)) => format!("{a:?} (after {n} body bytes)"),
                        (Some((_, a)), None) => format!("{a:?}"),
                    }
                )
            })
            .collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

fn content_length(req: &Request<Incoming>) -> Option<u64> {
    req.headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

fn has_body(req: &Request<Incoming>) -> bool {
    content_length(req).unwrap_or(0) > 0
        || req.headers().contains_key(hyper::header::TRANSFER_ENCODING)
}

fn small(status: StatusCode, extra: Option<(&'static str, String)>) -> Response<ProxyBody> {
    let mut r = Response::builder().status(status);
    if let Some((k, v)) = extra {
        r = r.header(k, v);
    }
    r.header("content-type", "application/json")
        .body(
            Full::new(Bytes::from_static(
                br#"{"errors":[{"code":"UNKNOWN","message":"injected by the test proxy"}]}"#,
            ))
            .map_err(|never: Infallible| match never {})
            .boxed(),
        )
        .expect("response")
}

async fn handle(
    req: Request<Incoming>,
    upstream: SocketAddr,
    shared: Arc<Mutex<Shared>>,
) -> Result<Response<ProxyBody>, std::io::Error> {
    let (action, entry) = {
        let mut s = shared.lock().expect("proxy state");
        let body = has_body(&req);
        let len = content_length(&req);
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let mut hit = None;
        for (i, (f, seen, fired)) in s.faults.iter_mut().enumerate() {
            let matches = req.method().as_str() == f.method
                && path.contains(f.path_contains)
                && f.query_contains.is_none_or(|q| query.contains(q))
                && (!f.with_body || body)
                && len.unwrap_or(0) >= f.min_body;
            if !matches || *fired >= f.times {
                continue;
            }
            *seen += 1;
            if *seen <= f.skip {
                continue;
            }
            *fired += 1;
            hit = Some((i, f.action));
            break;
        }
        s.log.push(Logged {
            method: req.method().to_string(),
            path,
            query,
            at: Instant::now(),
            content_length: len,
            content_range: req
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            fault: hit,
            body_received: None,
            status: None,
            response_range: None,
        });
        (hit.map(|(_, a)| a), s.log.len() - 1)
    };
    match action {
        Some(FaultAction::Status(code)) => {
            return Ok(small(
                StatusCode::from_u16(code).expect("status code"),
                None,
            ));
        }
        Some(FaultAction::TooManyRequests(secs)) => {
            return Ok(small(
                StatusCode::TOO_MANY_REQUESTS,
                Some(("retry-after", secs.to_string())),
            ));
        }
        Some(FaultAction::ResetAfter(limit)) => {
            let mut body = req.into_body();
            let mut seen = 0u64;
            while seen < limit {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                    }
                    _ => break,
                }
            }
            shared.lock().expect("proxy state").log[entry].body_received = Some(seen);
            // An error from the service makes hyper drop the connection with no response.
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                format!("injected reset after {seen} bytes"),
            ));
        }
        Some(FaultAction::Stall) => {
            let mut body = req.into_body();
            while let Some(Ok(_)) = body.frame().await {}
            // Never answer; the task ends when the proxy stops.
            let never: Infallible = std::future::pending().await;
            match never {}
        }
        Some(FaultAction::CorruptBody) | None => {}
    }
    let corrupt = action == Some(FaultAction::CorruptBody);
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender
        .send_request(req)
        .await
        .map_err(std::io::Error::other)?;
    {
        let mut s = shared.lock().expect("proxy state");
        s.log[entry].status = Some(resp.status().as_u16());
        s.log[entry].response_range = resp
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    if corrupt {
        return Ok(resp.map(|b| {
            b.map_frame(|f| {
                f.map_data(|d| {
                    let mut v = d.to_vec();
                    if let Some(x) = v.first_mut() {
                        *x = !*x;
                    }
                    Bytes::from(v)
                })
            })
            .boxed()
        }));
    }
    Ok(resp.map(BodyExt::boxed))
}
