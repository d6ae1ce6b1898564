//! Where registry credentials come from.
//!
//! In order: credentials given explicitly (`--username` + `--password-stdin`, or the
//! `SLIPWAY_REGISTRY_USERNAME`/`SLIPWAY_REGISTRY_PASSWORD` variables), then the docker
//! `config.json` (or the containers `auth.json` named by `REGISTRY_AUTH_FILE`): `credHelpers`
//! for the host, then an `auths` entry, then `credsStore`. Helpers are the
//! `docker-credential-<name>` programs on `PATH`, spoken to with their `get` protocol
//! (server URL on stdin, `{"Username","Secret"}` on stdout). No credentials means anonymous.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;
use slipway_types::Secret;

use crate::RegistryError;

/// A username and password (or token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Username.
    pub username: String,
    /// Password or token; never printed.
    pub password: Secret<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// Where the docker-style auth file is.
#[derive(Debug, Clone, Default)]
pub struct AuthFileLocations {
    /// `REGISTRY_AUTH_FILE`: a containers `auth.json` (same format); wins when set.
    pub registry_auth_file: Option<PathBuf>,
    /// `DOCKER_CONFIG`: the directory holding `config.json`.
    pub docker_config_dir: Option<PathBuf>,
    /// The home directory (`~/.docker/config.json` is the default).
    pub home: Option<PathBuf>,
}

impl AuthFileLocations {
    /// The file to read, when one applies.
    pub fn file(&self) -> Option<PathBuf> {
        if let Some(f) = &self.registry_auth_file {
            return Some(f.clone());
        }
        if let Some(d) = &self.docker_config_dir {
            return Some(d.join("config.json"));
        }
        self.home.as_ref().map(|h| h.join(".docker/config.json"))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Credentials lookup for registry hosts.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    explicit: Option<Credentials>,
    explicit_hosts: Option<Vec<String>>,
    file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

impl CredentialStore {
    /// Anonymous access everywhere.
    pub fn anonymous() -> CredentialStore {
        CredentialStore::default()
    }

    /// Reads credentials from the docker/containers auth file found at `locations` (a missing
    /// file means none).
    pub fn from_locations(locations: &AuthFileLocations) -> CredentialStore {
        CredentialStore {
            explicit: None,
            explicit_hosts: None,
            file: locations.file(),
        }
    }

    /// Uses `credentials` for `hosts` (every host when `None`), before any file.
    pub fn with_explicit(mut self, credentials: Credentials, hosts: Option<Vec<String>>) -> Self {
        self.explicit = Some(credentials);
        self.explicit_hosts = hosts;
        self
    }

    /// The auth file consulted, when any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Credentials for `host` (`registry[:port]` as in references; `docker.io` for Docker Hub),
    /// or `None` for anonymous access.
    pub fn lookup(&self, host: &str) -> Result<Option<Credentials>, RegistryError> {
        if let Some(c) = &self.explicit
            && self
                .explicit_hosts
                .as_ref()
                .is_none_or(|hs| hs.iter().any(|h| h == host))
        {
            return Ok(Some(c.clone()));
        }
        let Some(path) = &self.file else {
            return Ok(None);
        };
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(RegistryError::Credentials(format!(
                    "cannot read registry auth file `{}`: {e}",
                    path.display()
                )));
            }
        };
        let config: ConfigFile = serde_json::from_slice(&text).map_err(|e| {
            RegistryError::Credentials(format!(
                "registry auth file `{}` is not valid JSON: {e}",
                path.display()
            ))
        })?;
        let keys = host_keys(host);
        if let Some(helper) = keys.iter().find_map(|k| config.cred_helpers.get(k)) {
            return run_helper(helper, host);
        }
        if let Some(entry) = keys.iter().find_map(|k| config.auths.get(k))
            && let Some(c) = decode_entry(entry, host, path)?
        {
            return Ok(Some(c));
        }
        if let Some(store) = &config.creds_store {
            return run_helper(store, host);
        }
        Ok(None)
    }
}

/// The keys a host may be stored under: `host`, `https://host`, `http://host`, and for Docker
/// Hub the legacy `https://index.docker.io/v1/`.
fn host_keys(host: &str) -> Vec<String> {
    let mut keys = vec![
        host.to_owned(),
        format!("https://{host}"),
        format!("http://{host}"),
        format!("https://{host}/v1/"),
        format!("https://{host}/v2/"),
    ];
    if host == "docker.io" {
        keys.extend(
            [
                "https://index.docker.io/v1/",
                "index.docker.io",
                "registry-1.docker.io",
            ]
            .map(str::to_owned),
        );
    }
    keys
}

fn decode_entry(
    entry: &AuthEntry,
    host: &str,
    path: &Path,
) -> Result<Option<Credentials>, RegistryError> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| {
                RegistryError::Credentials(format!(
                    "the `auth` of `{host}` in `{}` is not base64",
                    path.display()
                ))
            })?;
        let text = String::from_utf8(raw).map_err(|_| {
            RegistryError::Credentials(format!(
                "the `auth` of `{host}` in `{}` is not UTF-8",
                path.display()
            ))
        })?;
        let (user, pass) = text.split_once(':').ok_or_else(|| {
            RegistryError::Credentials(format!(
                "the `auth` of `{host}` in `{}` is not `user:password`",
                path.display()
            ))
        })?;
        return Ok(Some(Credentials {
            username: user.to_owned(),
            password: Secret::new(pass.to_owned()),
        }));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credentials {
            username: u.clone(),
            password: Secret::new(p.clone()),
        }));
    }
    if entry.identitytoken.is_some() {
        return Err(RegistryError::Credentials(format!(
            "`{host}` in `{}` holds an identity token (OAuth refresh token), which slipway does not support; use a username and password or token",
            path.display()
        )));
    }
    Ok(None)
}

fn run_helper(helper: &str, host: &str) -> Result<Option<Credentials>, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let fail = |message: String| RegistryError::Helper {
        helper: helper.to_owned(),
        registry: host.to_owned(),
        message,
    };
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run `{program}` (is it on PATH?): {e}")))?;
    let server = if host == "docker.io" {
        "https://index.docker.io/v1/".to_owned()
    } else {
        host.to_owned()
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| fail(format!("cannot write to it: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("it did not finish: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // The protocol's way of saying "nothing stored for this server".
        if stdout.contains("credentials not found")
            || String::from_utf8_lossy(&out.stderr).contains("credentials not found")
        {
            return Ok(None);
        }
        // Never echo the helper's stdout: it could hold a secret.
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!(
            "exited with {}{}",
            out.status,
            err.lines()
                .next()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        )));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| fail(format!("its answer is not the expected JSON: {e}")))?;
    if answer.username == "<token>" {
        return Err(fail(
            "it returned an identity token, which slipway does not support".into(),
        ));
    }
    Ok(Some(Credentials {
        username: answer.username,
        password: Secret::new(answer.secret),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(json: &str) -> (tempfile::TempDir, CredentialStore) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), json).unwrap();
        let store = CredentialStore::from_locations(&AuthFileLocations {
            docker_config_dir: Some(dir.path().to_path_buf()),
            ..AuthFileLocations::default()
        });
        (dir, store)
    }

    #[test]
    fn auths_entries() {
        let auth = base64::engine::general_purpose::STANDARD.encode("u:p:w");
        let (_d, s) = store_with(&format!(
            r#"{{"auths":{{"https://reg.example:5000":{{"auth":"{auth}"}},"other.example":{{"username":"a","password":"b"}},"empty.example":{{}}}}}}"#
        ));
        let c = s.lookup("reg.example:5000").unwrap().unwrap();
        assert_eq!(c.username, "u");
        assert_eq!(c.password.expose(), "p:w");
        assert_eq!(s.lookup("other.example").unwrap().unwrap().username, "a");
        assert_eq!(s.lookup("empty.example").unwrap(), None);
        assert_eq!(s.lookup("nowhere.example").unwrap(), None);
        assert!(!format!("{c:?}").contains("p:w"));
    }

    #[test]
    fn explicit_wins_and_bad_files_are_named() {
        let (_d, s) = store_with("{not json");
        let e = s.lookup("x.example").unwrap_err();
        assert!(e.to_string().contains("config.json"), "{e}");
        let s = s.with_explicit(
            Credentials {
                username: "me".into(),
                password: Secret::new("pw".into()),
            },
            None,
        );
        assert_eq!(s.lookup("x.example").unwrap().unwrap().username, "me");
        let (_d, s) = store_with(r#"{"credHelpers":{"x.example":"slipway-absent-helper"}}"#);
        let e = s.lookup("x.example").unwrap_err();
        assert!(
            e.to_string()
                .contains("docker-credential-slipway-absent-helper"),
            "{e}"
        );
    }

    #[test]
    fn docker_hub_credentials_under_any_of_its_key_forms() {
        let auth = base64::engine::general_purpose::STANDARD.encode("hub:pw");
        for key in [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "registry-1.docker.io",
            "docker.io",
            "https://docker.io",
        ] {
            let (_d, s) = store_with(&format!(r#"{{"auths":{{"{key}":{{"auth":"{auth}"}}}}}}"#));
            let c = s.lookup("docker.io").unwrap();
            assert_eq!(c.map(|c| c.username), Some("hub".into()), "{key}");
            // Another registry does not pick them up.
            assert_eq!(s.lookup("ghcr.io").unwrap(), None, "{key}");
        }
        // Other hosts are found with or without a scheme, never by a prefix of theirs.
        let (_d, s) = store_with(&format!(
            r#"{{"auths":{{"https://reg.example:5000/v2/":{{"auth":"{auth}"}}}}}}"#
        ));
        assert!(s.lookup("reg.example:5000").unwrap().is_some());
        assert_eq!(s.lookup("reg.example").unwrap(), None);
    }
}
