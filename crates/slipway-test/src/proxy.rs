//! An HTTP proxy in front of a real registry that injects faults: a connection dropped in the
//! middle of a request body, an error status, a 429 with `Retry-After`.
//!
//! It speaks HTTP/1.1 on 127.0.0.1 (a port it picks) and forwards every request, Host header
//! included, to the upstream registry over plain HTTP, so the `Location` URLs the registry
//! returns point back at the proxy. Each [`Fault`] fires on the first `times` requests that match
//! it; [`FaultProxy::fired`] tells a test whether it really did, so a test cannot pass because a
//! fault never happened. Stopped on drop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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
}

/// A fault: requests with `method` whose path contains `path_contains` (and, when set, whose
/// body is announced or streamed as larger than `min_body`), the first `times` of them.
#[derive(Debug, Clone)]
pub struct Fault {
    /// HTTP method, e.g. `PUT`.
    pub method: &'static str,
    /// Substring of the request path, e.g. `/manifests/` or `/blobs/uploads/`.
    pub path_contains: &'static str,
    /// Only requests that carry a body (Content-Length > 0 or chunked) match when true.
    pub with_body: bool,
    /// How many matching requests it fires on.
    pub times: usize,
    /// What it does.
    pub action: FaultAction,
}

#[derive(Debug, Default)]
struct Shared {
    faults: Vec<(Fault, usize)>,
    log: Vec<String>,
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
            faults: faults.into_iter().map(|f| (f, 0)).collect(),
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
        self.shared.lock().expect("proxy state").faults[i].1
    }

    /// Every request seen, as `METHOD path -> outcome`.
    pub fn log(&self) -> Vec<String> {
        self.shared.lock().expect("proxy state").log.clone()
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

fn has_body(req: &Request<Incoming>) -> bool {
    let h = req.headers();
    let len = h
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    len > 0 || h.contains_key(hyper::header::TRANSFER_ENCODING)
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
    let line = format!("{} {}", req.method(), req.uri().path());
    let action = {
        let mut s = shared.lock().expect("proxy state");
        let body = has_body(&req);
        let hit = s.faults.iter_mut().find(|(f, n)| {
            *n < f.times
                && req.method().as_str() == f.method
                && req.uri().path().contains(f.path_contains)
                && (!f.with_body || body)
        });
        let action = hit.map(|(f, n)| {
            *n += 1;
            f.action
        });
        s.log.push(format!(
            "{line} -> {}",
            action.map_or("forwarded".to_owned(), |a| format!("{a:?}"))
        ));
        action
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
            // An error from the service makes hyper drop the connection with no response.
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                format!("injected reset after {seen} bytes"),
            ));
        }
        None => {}
    }
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
    Ok(resp.map(BodyExt::boxed))
}
