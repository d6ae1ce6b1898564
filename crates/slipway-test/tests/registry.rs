//! The harness starts the real Distribution registry in both variants; real round trips.

use std::process::Command;

use slipway_test::{Registry, sha256_digest};

/// Uploads `data` as a blob with the monolithic POST-then-PUT flow and returns its digest.
fn upload(reg: &Registry, client: &reqwest::blocking::Client, repo: &str, data: &[u8]) -> String {
    let digest = sha256_digest(data);
    let auth = |rb: reqwest::blocking::RequestBuilder| match reg.credentials() {
        Some((u, p)) => rb.basic_auth(u, Some(p)),
        None => rb,
    };
    let resp = auth(client.post(format!("{}/v2/{repo}/blobs/uploads/", reg.url())))
        .send()
        .unwrap();
    assert_eq!(
        resp.status(),
        202,
        "start upload: {}",
        resp.text().unwrap_or_default()
    );
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let location = if location.starts_with('/') {
        format!("{}{location}", reg.url())
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let resp = auth(client.put(format!("{location}{sep}digest={digest}")))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .unwrap();
    assert_eq!(
        resp.status(),
        201,
        "finish upload: {}",
        resp.text().unwrap_or_default()
    );
    assert_eq!(
        resp.headers()["docker-content-digest"].to_str().unwrap(),
        digest
    );
    digest
}

#[test]
fn plain_registry_round_trip() {
    let reg = Registry::plain();
    assert!(reg.url().starts_with("http://127.0.0.1:"));
    let client = reg.client_builder().build().unwrap();
    let data = b"hello from slipway's harness".repeat(1000);
    let digest = upload(&reg, &client, "harness/plain", &data);
    let got = client
        .get(format!("{}/v2/harness/plain/blobs/{digest}", reg.url()))
        .send()
        .unwrap();
    assert_eq!(got.status(), 200);
    let body = got.bytes().unwrap();
    assert_eq!(body.as_ref(), data.as_slice());
    assert_eq!(sha256_digest(&body), digest);
    // The blob really is in this registry's own storage directory.
    let blob_dir = reg
        .storage_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&digest["sha256:".len().."sha256:".len() + 2])
        .join(&digest["sha256:".len()..]);
    assert!(
        blob_dir.join("data").is_file(),
        "blob not at {}",
        blob_dir.display()
    );
}

#[test]
fn tls_auth_registry_round_trip_and_refusals() {
    let reg = Registry::tls_auth();
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    let client = reg.client_builder().build().unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let digest = upload(&reg, &client, "harness/tls", &data);

    let (user, pass) = reg.credentials().unwrap();
    let got = client
        .get(format!("{}/v2/harness/tls/blobs/{digest}", reg.url()))
        .basic_auth(user, Some(pass))
        .send()
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(sha256_digest(&got.bytes().unwrap()), digest);

    // Without credentials: 401 with a Basic challenge.
    let resp = client
        .get(format!("{}/v2/harness/tls/blobs/{digest}", reg.url()))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Basic realm=\"slipway-test\""),
        "{challenge}"
    );

    // Wrong password: 401 too.
    let resp = client
        .get(format!("{}/v2/", reg.url()))
        .basic_auth(user, Some("wrong"))
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);

    // Without the CA: the TLS handshake fails (certificate not trusted), nothing is served.
    let untrusting = reqwest::blocking::Client::builder().build().unwrap();
    let err = untrusting
        .get(format!("{}/v2/", reg.url()))
        .send()
        .unwrap_err();
    let chain = error_chain(&err);
    assert!(
        err.is_connect(),
        "expected a connection (TLS) error, got: {chain}"
    );
    assert!(
        chain.to_lowercase().contains("certificate"),
        "expected a certificate error, got: {chain}"
    );

    // An independent client agrees: curl with and without the CA. The credentials go in a
    // netrc file, not on curl's command line.
    let netrc_dir = tempfile::tempdir().unwrap();
    let netrc = netrc_dir.path().join("netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login {user} password {pass}\n"),
    )
    .unwrap();
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--netrc-file",
            ])
            .arg(&netrc)
            .args(extra)
            .arg(format!("{}/v2/", reg.url()))
            .output()
            .unwrap()
    };
    let ok = curl(&["--cacert", reg.ca().unwrap().ca_cert.to_str().unwrap()]);
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "200");
    let bad = curl(&[]);
    assert!(!bad.status.success(), "curl without the CA must fail");
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[test]
fn registries_run_in_parallel_on_distinct_ports() {
    let regs: Vec<Registry> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4).map(|_| s.spawn(Registry::plain)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let hosts: std::collections::BTreeSet<String> = regs.iter().map(Registry::host).collect();
    assert_eq!(hosts.len(), 4);
    let dirs: std::collections::BTreeSet<_> = regs.iter().map(Registry::storage_dir).collect();
    assert_eq!(dirs.len(), 4);
    // Still alive after the threads that started them have ended.
    for reg in &regs {
        let client = reg.client_builder().build().unwrap();
        assert_eq!(
            client
                .get(format!("{}/v2/", reg.url()))
                .send()
                .unwrap()
                .status(),
            200
        );
    }
}

#[test]
fn stopping_on_drop_frees_the_port() {
    let reg = Registry::plain();
    let url = format!("{}/v2/", reg.url());
    let client = reg.client_builder().build().unwrap();
    assert_eq!(client.get(&url).send().unwrap().status(), 200);
    drop(reg);
    assert!(
        client.get(&url).send().is_err(),
        "registry still answers after drop"
    );
}

/// The `key="value"` parameters of a `WWW-Authenticate: Bearer …` challenge.
fn challenge_params(h: &str) -> std::collections::BTreeMap<String, String> {
    let rest = h.strip_prefix("Bearer ").expect("a Bearer challenge");
    let mut out = std::collections::BTreeMap::new();
    // Values are quoted and hold no `"`; commas separate parameters.
    for part in rest.split("\",") {
        let (k, v) = part.split_once('=').expect("key=value");
        out.insert(k.trim().to_owned(), v.trim_matches('"').to_owned());
    }
    out
}

fn token_for(
    client: &reqwest::blocking::Client,
    realm: &str,
    service: &str,
    scopes: &[&str],
    creds: Option<(&str, &str)>,
) -> reqwest::blocking::Response {
    let mut q: Vec<(&str, &str)> = vec![("service", service)];
    q.extend(scopes.iter().map(|s| ("scope", *s)));
    let url = reqwest::Url::parse_with_params(realm, &q).unwrap();
    let rb = client.get(url);
    match creds {
        Some((u, p)) => rb.basic_auth(u, Some(p)),
        None => rb,
    }
    .send()
    .unwrap()
}

#[test]
fn token_auth_registry_speaks_the_bearer_flow_and_checks_scopes() {
    let reg = Registry::tls_token();
    let client = reg.client_builder().build().unwrap();
    let (user, pass) = reg.credentials().unwrap();

    // The registry sends clients to the token server.
    let resp = client.get(format!("{}/v2/", reg.url())).send().unwrap();
    assert_eq!(resp.status(), 401);
    let ch = challenge_params(resp.headers()["www-authenticate"].to_str().unwrap());
    let realm = ch["realm"].clone();
    assert_eq!(realm, reg.token_server().unwrap().realm());
    assert_eq!(ch["service"], slipway_test::TOKEN_SERVICE);

    // A token for team/app:pull,push lets a blob be uploaded there.
    let get_token = |scopes: &[&str]| -> String {
        let r = token_for(&client, &realm, &ch["service"], scopes, Some((user, pass)));
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let push_team = get_token(&["repository:team/app:pull,push"]);
    let data = b"token flow".repeat(100);
    let digest = sha256_digest(&data);
    let resp = client
        .post(format!("{}/v2/team/app/blobs/uploads/", reg.url()))
        .bearer_auth(&push_team)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 202, "{}", resp.text().unwrap_or_default());
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let loc = if loc.starts_with('/') {
        format!("{}{loc}", reg.url())
    } else {
        loc
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let resp = client
        .put(format!("{loc}{sep}digest={digest}"))
        .bearer_auth(&push_team)
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().unwrap_or_default());

    // A cross-repository mount with a token for the target only: insufficient scope, and the
    // challenge names both scopes it needs.
    let push_prod = get_token(&["repository:prod/app:pull,push"]);
    let mount = format!(
        "{}/v2/prod/app/blobs/uploads/?mount={digest}&from=team/app",
        reg.url()
    );
    let resp = client.post(&mount).bearer_auth(&push_prod).send().unwrap();
    assert_eq!(resp.status(), 401);
    let ch2 = challenge_params(resp.headers()["www-authenticate"].to_str().unwrap());
    assert_eq!(ch2["error"], "insufficient_scope");
    assert!(ch2["scope"].contains("repository:team/app:pull"), "{ch2:?}");
    assert!(ch2["scope"].contains("repository:prod/app:"), "{ch2:?}");
    // With both scopes in one token the mount happens.
    let both = get_token(&["repository:prod/app:pull,push", "repository:team/app:pull"]);
    let resp = client.post(&mount).bearer_auth(&both).send().unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().unwrap_or_default());
    let got = client
        .get(format!("{}/v2/prod/app/blobs/{digest}", reg.url()))
        .bearer_auth(&both)
        .send()
        .unwrap();
    assert_eq!(sha256_digest(&got.bytes().unwrap()), digest);

    // Wrong password: the token server refuses; no credentials: a token with no access.
    let r = token_for(
        &client,
        &realm,
        &ch["service"],
        &["repository:team/app:pull"],
        Some((user, "wrong")),
    );
    assert_eq!(r.status(), 401);
    let r = token_for(
        &client,
        &realm,
        &ch["service"],
        &["repository:team/app:pull"],
        None,
    );
    let anon: serde_json::Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    let resp = client
        .get(format!("{}/v2/team/app/blobs/{digest}", reg.url()))
        .bearer_auth(anon["token"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(resp.status(), 401);

    // The server recorded what was asked.
    let reqs = reg.token_server().unwrap().requests();
    assert!(
        reqs.iter().any(|r| r.scopes.len() == 2 && r.issued),
        "{reqs:?}"
    );

    // skopeo, an independent client, goes through the same flow.
    let out = Command::new(slipway_test::tool("skopeo"))
        .args(["inspect", "--raw", "--cert-dir"])
        .arg(reg.cert_dir().unwrap())
        .arg("--authfile")
        .arg(reg.auth_file().unwrap())
        .arg(format!("docker://{}/team/app:none", reg.host()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("manifest unknown"),
        "authenticated, then told the tag does not exist: {err}"
    );
}
