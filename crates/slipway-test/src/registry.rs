//! The real Docker Distribution registry, started per test on a free loopback port.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TestCa;
use crate::token::{TOKEN_ISSUER, TOKEN_SERVICE, TokenServer};
use crate::tools::tool;

/// Which registry variant to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryKind {
    /// Plain HTTP, no authentication.
    Plain,
    /// HTTPS with a certificate from a test CA, and bcrypt htpasswd basic auth.
    TlsAuth,
    /// HTTPS with a certificate from a test CA, and Bearer token auth (`auth.token`, the flow of
    /// GHCR, Docker Hub and Harbor): tokens come from an in-process [`TokenServer`] whose realm
    /// is HTTPS with a certificate from the same CA.
    TlsToken,
    /// [`RegistryKind::TlsToken`], but its token realm is plain HTTP: a misconfigured (or
    /// hostile) registry that would have clients send their password in clear.
    TlsTokenPlainRealm,
}

impl RegistryKind {
    fn tls(self) -> bool {
        self != RegistryKind::Plain
    }
}

/// A running `docker-registry serve` with its own storage directory; stopped on drop.
#[derive(Debug)]
pub struct Registry {
    kind: RegistryKind,
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
    ca: Option<TestCa>,
    username: String,
    password: String,
    token: Option<TokenServer>,
}

const READY_TIMEOUT: Duration = Duration::from_secs(20);
const START_ATTEMPTS: usize = 5;

impl Registry {
    /// Starts a plain-HTTP registry.
    pub fn plain() -> Registry {
        Registry::start(RegistryKind::Plain)
    }

    /// Starts a TLS + basic-auth registry.
    pub fn tls_auth() -> Registry {
        Registry::start(RegistryKind::TlsAuth)
    }

    /// Starts a TLS + token-auth registry with its token server.
    pub fn tls_token() -> Registry {
        Registry::start(RegistryKind::TlsToken)
    }

    /// Starts a registry of `kind` and waits until it answers.
    pub fn start(kind: RegistryKind) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("slipway-registry-")
            .tempdir()
            .expect("temp dir");
        let storage = dir.path().join("storage");
        fs::create_dir_all(&storage).expect("storage dir");
        let username = "slipway".to_owned();
        let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
        let ca = kind.tls().then(|| {
            let ca = TestCa::generate(&dir.path().join("server"));
            // Clients get a directory holding only the CA (skopeo's --cert-dir treats a lone
            // *.key as a broken client key pair).
            let certs = dir.path().join("certs");
            fs::create_dir_all(&certs).expect("certs dir");
            fs::copy(&ca.ca_cert, certs.join("ca.crt")).expect("copy ca.crt");
            if kind == RegistryKind::TlsAuth {
                write_htpasswd(&dir.path().join("htpasswd"), &username, &password);
            }
            ca
        });
        let token_dir = dir.path().join("token");
        let token = match (kind, &ca) {
            (RegistryKind::TlsToken, Some(ca)) => {
                Some(TokenServer::start_tls(&token_dir, &username, &password, ca))
            }
            (RegistryKind::TlsTokenPlainRealm, _) => {
                Some(TokenServer::start(&token_dir, &username, &password))
            }
            _ => None,
        };

        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let config = dir.path().join("config.yml");
            fs::write(
                &config,
                config_yaml(
                    kind,
                    addr,
                    &storage,
                    dir.path(),
                    ca.as_ref(),
                    token.as_ref(),
                ),
            )
            .expect("write config");
            let log_path = dir.path().join("registry.log");
            let log = fs::File::create(&log_path).expect("log file");
            let mut cmd = Command::new(tool("docker-registry"));
            cmd.arg("serve")
                .arg(&config)
                .env_remove("REGISTRY_HTTP_ADDR")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("clone log"))
                .stderr(log);
            let mut child = spawn_tied_to_process(cmd).expect("start docker-registry");
            let scheme = if kind.tls() { "https" } else { "http" };
            let client = client_builder(ca.as_ref())
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client");
            match wait_ready(&mut child, &client, &format!("{scheme}://{addr}/v2/")) {
                Ok(()) => {
                    return Registry {
                        kind,
                        addr,
                        child,
                        dir,
                        ca,
                        username,
                        password,
                        token,
                    };
                }
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // Most likely another test took the port between our probe and the
                    // registry's bind: try another one.
                    last_log = format!(
                        "{why}\n{}",
                        fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
            }
        }
        panic!(
            "docker-registry did not start after {START_ATTEMPTS} attempts; last attempt:\n{last_log}"
        );
    }

    /// The variant.
    pub fn kind(&self) -> RegistryKind {
        self.kind
    }

    /// `127.0.0.1:PORT`, the registry part of references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Base URL (`http://…` or `https://…`).
    pub fn url(&self) -> String {
        let scheme = if self.kind.tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Where the registry keeps its blobs.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The test CA (TLS variant only).
    pub fn ca(&self) -> Option<&TestCa> {
        self.ca.as_ref()
    }

    /// A directory holding only `ca.crt`, for `skopeo --cert-dir` / `--dest-cert-dir` and
    /// docker-style `certs.d` use (TLS variant only).
    pub fn cert_dir(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(|_| self.dir.path().join("certs"))
    }

    /// Username and password (TLS variants only).
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.kind
            .tls()
            .then_some((self.username.as_str(), self.password.as_str()))
    }

    /// A containers-auth.json (`{"auths":{HOST:{"auth":…}}}`) with this registry's credentials,
    /// for `skopeo --authfile` / `--dest-authfile`: a password on a command line is visible to
    /// every user of the machine (TLS variants only).
    pub fn auth_file(&self) -> Option<PathBuf> {
        use base64::Engine as _;
        let (user, pass) = self.credentials()?;
        let path = self.dir.path().join("auth.json");
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let doc = serde_json::json!({ "auths": { self.host(): { "auth": auth } } });
        fs::write(&path, doc.to_string()).expect("write auth.json");
        Some(path)
    }

    /// The token server (token variants only).
    pub fn token_server(&self) -> Option<&TokenServer> {
        self.token.as_ref()
    }

    /// A client builder trusting the test CA (for raw protocol checks in tests).
    pub fn client_builder(&self) -> reqwest::blocking::ClientBuilder {
        client_builder(self.ca.as_ref())
    }

    /// The registry's own log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_builder(ca: Option<&TestCa>) -> reqwest::blocking::ClientBuilder {
    let mut b = reqwest::blocking::Client::builder();
    if let Some(ca) = ca {
        let cert = reqwest::Certificate::from_pem(&ca.ca_pem()).expect("CA pem");
        b = b.tls_certs_only([cert]);
    }
    b
}

fn wait_ready(
    child: &mut Child,
    client: &reqwest::blocking::Client,
    url: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("docker-registry exited early ({status})"));
        }
        // Our registry, not whatever else may listen there: Distribution sends this header.
        if let Ok(resp) = client.get(url).send()
            && resp
                .headers()
                .contains_key("docker-distribution-api-version")
        {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("not ready after {READY_TIMEOUT:?}"))
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn write_htpasswd(path: &Path, user: &str, password: &str) {
    use std::io::Write;
    // bcrypt (-B) is the only scheme Distribution accepts; the password goes in on stdin.
    let mut child = Command::new(tool("htpasswd"))
        .args(["-niB", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run htpasswd (apache2-utils)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(password.as_bytes())
        .expect("password to htpasswd");
    let out = child.wait_with_output().expect("htpasswd finishes");
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(path, out.stdout).expect("write htpasswd");
}

fn config_yaml(
    kind: RegistryKind,
    addr: SocketAddr,
    storage: &Path,
    dir: &Path,
    ca: Option<&TestCa>,
    token: Option<&TokenServer>,
) -> String {
    let mut y = format!(
        "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n  secret: {}\n",
        storage.display(),
        uuid::Uuid::new_v4().simple(),
    );
    if let Some(ca) = ca {
        y.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            ca.server_cert.display(),
            ca.server_key.display(),
        ));
    }
    match kind {
        RegistryKind::Plain => {}
        RegistryKind::TlsAuth => y.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: slipway-test\n    path: {}\n",
            dir.join("htpasswd").display()
        )),
        RegistryKind::TlsToken | RegistryKind::TlsTokenPlainRealm => {
            let t = token.expect("token registry has a token server");
            y.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                t.realm(),
                t.root_cert().display()
            ));
        }
    }
    y
}

/// Spawns `cmd` so that the kernel kills it when the test process dies (an aborted test run
/// leaves no registry behind).
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, and tests start
/// registries from short-lived threads; so all spawning happens on one thread that lives as
/// long as the process.
fn spawn_tied_to_process(cmd: Command) -> std::io::Result<Child> {
    use std::sync::mpsc::{Sender, channel};
    use std::sync::{Mutex, OnceLock};
    type Job = (Command, Sender<std::io::Result<Child>>);
    static SPAWNER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("registry-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    die_with_parent(&mut cmd);
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = channel();
    spawner
        .lock()
        .expect("spawner lock")
        .send((cmd, reply_tx))
        .expect("spawner thread alive");
    reply_rx.recv().expect("spawner replies")
}

#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls prctl, which is
    // async-signal-safe and touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}
