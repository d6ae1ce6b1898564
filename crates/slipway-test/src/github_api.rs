//! A local server for the part of GitHub's REST API that `slipway runner bootstrap` uses
//! (public GitHub cannot be reached from tests).
//!
//! It implements, per GitHub's REST docs (API version 2022-11-28, "Self-hosted runners"):
//! - `POST /repos/{owner}/{repo}/actions/runners/registration-token` and
//!   `POST /orgs/{org}/actions/runners/registration-token` → `201 {token, expires_at}`;
//! - `POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig` and the `/orgs/{org}` form,
//!   body `{name, runner_group_id, labels, work_folder}` (`name`, `runner_group_id` and 1–100
//!   `labels` required) → `201 {runner, encoded_jit_config}`; a missing field is `422`.
//!
//! Requests without `Authorization: Bearer <the token>` get `401 {"message": "Bad credentials"}`,
//! an unknown repository or organisation `404 {"message": "Not Found"}`, like GitHub. Every
//! request is recorded (method, path, headers, body) for the test to inspect. Loopback only, a
//! port it picks; stopped on drop.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body).expect("request body is JSON")
        }
    }
}

#[derive(Debug)]
struct Shared {
    token: String,
    owners: Vec<String>,
    registration_token: String,
    encoded_jit_config: String,
    requests: Vec<Recorded>,
}

/// A running GitHub API server.
#[derive(Debug)]
pub struct GithubApi {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GithubApi {
    /// Starts a server that accepts `token` and knows the repositories and organisations of
    /// the `owners` (`acme` covers `acme/*` and the organisation `acme`). The registration token
    /// and JIT config it hands out are random per server.
    pub fn start(token: &str, owners: &[&str]) -> GithubApi {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind github api");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let shared = Arc::new(Mutex::new(Shared {
            token: token.to_owned(),
            owners: owners.iter().map(|s| (*s).to_owned()).collect(),
            // Same shape as GitHub's (29 upper-case alphanumerics).
            registration_token: uuid::Uuid::new_v4()
                .simple()
                .to_string()
                .to_uppercase()
                .chars()
                .take(29)
                .collect(),
            encoded_jit_config: format!("eyJ{}", uuid::Uuid::new_v4().simple()),
            requests: Vec::new(),
        }));
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let s = s.clone();
                            tokio::spawn(async move {
                                let svc = service_fn(move |req| handle(req, s.clone()));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        GithubApi {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().expect("state").requests.clone()
    }

    /// The registration token it hands out.
    pub fn registration_token(&self) -> String {
        self.shared
            .lock()
            .expect("state")
            .registration_token
            .clone()
    }

    /// The JIT config it hands out.
    pub fn encoded_jit_config(&self) -> String {
        self.shared
            .lock()
            .expect("state")
            .encoded_jit_config
            .clone()
    }
}

impl Drop for GithubApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .header("x-github-api-version-selected", "2022-11-28")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        &json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest/actions/self-hosted-runners",
            "status": status.as_u16().to_string(),
        }),
    )
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Mutex<Shared>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let rec = Recorded {
        method,
        path,
        headers,
        body,
    };
    let mut s = shared.lock().expect("state");
    s.requests.push(rec.clone());
    if rec.header("authorization") != Some(&format!("Bearer {}", s.token)) {
        return Ok(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    }
    let parts: Vec<&str> = rec.path.trim_start_matches('/').split('/').collect();
    let (owner, rest) = match parts.as_slice() {
        ["repos", owner, _repo, rest @ ..] => (*owner, rest),
        ["orgs", org, rest @ ..] => (*org, rest),
        _ => return Ok(error(StatusCode::NOT_FOUND, "Not Found")),
    };
    if !s.owners.iter().any(|o| o == owner) || rec.method != "POST" {
        return Ok(error(StatusCode::NOT_FOUND, "Not Found"));
    }
    match rest {
        ["actions", "runners", "registration-token"] => Ok(reply(
            StatusCode::CREATED,
            &json!({
                "token": s.registration_token,
                "expires_at": (chrono::Utc::now() + chrono::Duration::hours(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            }),
        )),
        ["actions", "runners", "generate-jitconfig"] => {
            let b = rec.json();
            let name = b.get("name").and_then(Value::as_str);
            let group = b.get("runner_group_id").and_then(Value::as_u64);
            let labels = b.get("labels").and_then(Value::as_array);
            let (Some(name), Some(_group), Some(labels)) = (name, group, labels) else {
                return Ok(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid request.\n\n\"name\", \"runner_group_id\" and \"labels\" are required.",
                ));
            };
            if labels.is_empty() || labels.len() > 100 || labels.iter().any(|l| !l.is_string()) {
                return Ok(error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid request.\n\n\"labels\" must have 1 to 100 string items.",
                ));
            }
            let labels: Vec<Value> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let n = l.as_str().unwrap_or_default();
                    let builtin = matches!(n, "self-hosted" | "Linux" | "X64" | "ARM64");
                    json!({"id": i + 1, "name": n, "type": if builtin { "read-only" } else { "custom" }})
                })
                .collect();
            Ok(reply(
                StatusCode::CREATED,
                &json!({
                    "runner": {
                        "id": 23,
                        "name": name,
                        "os": "unknown",
                        "status": "offline",
                        "busy": false,
                        "labels": labels,
                    },
                    "encoded_jit_config": s.encoded_jit_config,
                }),
            ))
        }
        _ => Ok(error(StatusCode::NOT_FOUND, "Not Found")),
    }
}
