//! A token server for Docker Distribution's `auth.token` mode — the Bearer flow of GHCR, Docker
//! Hub and Harbor — run in-process on 127.0.0.1.
//!
//! It follows Distribution's token authentication spec (docs/spec/auth/token.md and jwt.md;
//! the registry side is `registry/auth/token/{token,accesscontroller}.go`):
//!
//! - a client that gets `401` with `WWW-Authenticate: Bearer realm=…,service=…,scope=…` asks
//!   `GET realm?service=S&scope=repository:NAME:ACTIONS[&scope=…]`, with HTTP Basic
//!   credentials or none;
//! - the answer is `200 {"token", "access_token", "expires_in", "issued_at"}`; the token is a
//!   JWT signed ES256 whose header carries the signing certificate in `x5c` (the registry checks
//!   it against its `rootcertbundle`) and whose claims are `iss` (the registry's `issuer`), `sub`,
//!   `aud` (its `service`), `exp`, `nbf`, `iat`, `jti` and `access`: the granted
//!   `{type, name, actions}`;
//! - wrong credentials get `401`; no credentials get a token with no access (the registry then
//!   answers `401 insufficient_scope`, as a private repository on Docker Hub does).
//!
//! Every request's scopes are recorded so tests can see what a client asked for. The realm is
//! HTTPS (the registry's test CA) as real token servers are, or plain HTTP to play a registry
//! that sends clients' passwords somewhere in clear.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{CertificateParams, DnType, KeyPair, KeyUsagePurpose};
use serde_json::json;

use crate::TestCa;

/// The `service` (token audience) the registry is configured with.
pub const TOKEN_SERVICE: &str = "slipway-test-registry";
/// The `issuer` the registry trusts.
pub const TOKEN_ISSUER: &str = "slipway-test-token-issuer";

/// One token request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The `service` parameter.
    pub service: Option<String>,
    /// Every `scope` parameter, in order.
    pub scopes: Vec<String>,
    /// The Basic username, when credentials came.
    pub username: Option<String>,
    /// Whether a token was issued.
    pub issued: bool,
}

#[derive(Debug)]
struct Shared {
    username: String,
    password: String,
    requests: Vec<TokenRequest>,
}

/// A running token server; stopped on drop.
#[derive(Debug)]
pub struct TokenServer {
    addr: SocketAddr,
    tls: bool,
    root_cert: PathBuf,
    shared: Arc<Mutex<Shared>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Signer {
    key: jsonwebtoken::EncodingKey,
    cert_b64: String,
}

impl TokenServer {
    /// Starts a server granting `username`/`password` every action it asks for, over plain
    /// HTTP. Writes the signing certificate (the registry's `rootcertbundle`) into `dir`.
    pub fn start(dir: &Path, username: &str, password: &str) -> TokenServer {
        TokenServer::start_with(dir, username, password, None)
    }

    /// The same over HTTPS with `ca`'s server certificate (as GHCR's and Docker Hub's realms
    /// are: clients send their password there).
    pub fn start_tls(dir: &Path, username: &str, password: &str, ca: &TestCa) -> TokenServer {
        TokenServer::start_with(dir, username, password, Some(ca))
    }

    fn start_with(dir: &Path, username: &str, password: &str, tls: Option<&TestCa>) -> TokenServer {
        std::fs::create_dir_all(dir).expect("token dir");
        let key = KeyPair::generate().expect("token signing key (ECDSA P-256)");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("cert params");
        params
            .distinguished_name
            .push(DnType::CommonName, "Slipway test token issuer");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).expect("self-signed token cert");
        let root_cert = dir.join("token-root.crt");
        std::fs::write(&root_cert, cert.pem()).expect("write token-root.crt");
        let signer = Arc::new(Signer {
            key: jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der()),
            cert_b64: base64::engine::general_purpose::STANDARD.encode(cert.der()),
        });

        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind token server");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("token server addr");
        let shared = Arc::new(Mutex::new(Shared {
            username: username.to_owned(),
            password: password.to_owned(),
            requests: Vec::new(),
        }));
        let acceptor = tls.map(tls_acceptor);
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let s = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("token server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let (s, signer, acceptor) = (s.clone(), signer.clone(), acceptor.clone());
                            tokio::spawn(async move {
                                match acceptor {
                                    Some(a) => {
                                        if let Ok(tls) = a.accept(stream).await {
                                            serve(tls, s, signer).await;
                                        }
                                    }
                                    None => serve(stream, s, signer).await,
                                }
                            });
                        }
                    }
                }
            });
        });
        TokenServer {
            addr,
            tls: tls.is_some(),
            root_cert,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The realm URL (`https://127.0.0.1:PORT/token`, or `http://` without TLS).
    pub fn realm(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/token", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The certificate the tokens are signed with (the registry's `rootcertbundle`).
    pub fn root_cert(&self) -> &Path {
        &self.root_cert
    }

    /// Every token request so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.shared.lock().expect("token state").requests.clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

async fn serve<S>(stream: S, s: Arc<Mutex<Shared>>, signer: Arc<Signer>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let (s, signer) = (s.clone(), signer.clone());
        async move { Ok::<_, Infallible>(handle(&req, &s, &signer)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), svc)
        .await;
}

fn tls_acceptor(ca: &TestCa) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let cert = CertificateDer::from_pem_slice(&std::fs::read(&ca.server_cert).expect("server.crt"))
        .expect("server.crt is a PEM certificate");
    let key = PrivateKeyDer::from_pem_slice(&std::fs::read(&ca.server_key).expect("server.key"))
        .expect("server.key is a PEM key");
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("token server certificate");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn reply(status: StatusCode, v: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .expect("response")
}

/// `type:name:actions` → (type, name, actions). Names hold no `:` (no registry host in them),
/// but types may carry a class (`repository(plugin)`), so split at the first and last colon.
fn parse_scope(s: &str) -> Option<(String, String, Vec<String>)> {
    let (typ, rest) = s.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    Some((
        typ.to_owned(),
        name.to_owned(),
        actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

fn basic(req: &Request<Incoming>) -> Option<(String, String)> {
    let v = req
        .headers()
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let b64 = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let (u, p) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn handle(req: &Request<Incoming>, shared: &Mutex<Shared>, signer: &Signer) -> Response<Body> {
    if req.uri().path() != "/token" {
        return reply(StatusCode::NOT_FOUND, &json!({"error": "not found"}));
    }
    let mut service = None;
    let mut scopes = Vec::new();
    for (k, v) in url_pairs(req.uri().query().unwrap_or("")) {
        match k.as_str() {
            "service" => service = Some(v),
            "scope" => scopes.extend(v.split(' ').filter(|s| !s.is_empty()).map(str::to_owned)),
            _ => {}
        }
    }
    let creds = basic(req);
    let mut s = shared.lock().expect("token state");
    let mut record = TokenRequest {
        service: service.clone(),
        scopes: scopes.clone(),
        username: creds.as_ref().map(|(u, _)| u.clone()),
        issued: false,
    };
    let granted = match &creds {
        Some((u, p)) if *u == s.username && *p == s.password => true,
        Some(_) => {
            s.requests.push(record);
            return reply(
                StatusCode::UNAUTHORIZED,
                &json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}),
            );
        }
        None => false,
    };
    if service.as_deref() != Some(TOKEN_SERVICE) {
        s.requests.push(record);
        return reply(
            StatusCode::BAD_REQUEST,
            &json!({"errors": [{"code": "DENIED", "message": "unknown service"}]}),
        );
    }
    // Merge the actions asked per resource (one entry per resource, as issuers do).
    let mut access: Vec<(String, String, Vec<String>)> = Vec::new();
    if granted {
        for sc in &scopes {
            let Some((typ, name, actions)) = parse_scope(sc) else {
                continue;
            };
            match access.iter_mut().find(|(t, n, _)| *t == typ && *n == name) {
                Some((_, _, a)) => {
                    for x in actions {
                        if !a.contains(&x) {
                            a.push(x);
                        }
                    }
                }
                None => access.push((typ, name, actions)),
            }
        }
    }
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": TOKEN_ISSUER,
        "sub": creds.as_ref().map(|(u, _)| u.as_str()).unwrap_or(""),
        "aud": TOKEN_SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "access": access.iter().map(|(t, n, a)| json!({"type": t, "name": n, "actions": a})).collect::<Vec<_>>(),
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.x5c = Some(vec![signer.cert_b64.clone()]);
    let token = jsonwebtoken::encode(&header, &claims, &signer.key).expect("sign the token");
    record.issued = true;
    s.requests.push(record);
    reply(
        StatusCode::OK,
        &json!({
            "token": token,
            "access_token": token,
            "expires_in": 300,
            "issued_at": chrono::Utc::now().to_rfc3339(),
        }),
    )
}

/// The decoded `key=value` pairs of a query string.
fn url_pairs(q: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://query.invalid/?{q}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}
