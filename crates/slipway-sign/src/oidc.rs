//! The OIDC identity token for keyless signing.
//!
//! Looked for, in order: `--identity-token` (a file, or `env://VAR` — never the token itself on
//! the command line, where it would show in process lists and CI logs), GitLab's
//! `SIGSTORE_ID_TOKEN` (an `id_tokens:` entry with `aud: sigstore`), and GitHub Actions' token
//! endpoint (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience
//! `sigstore`; the job needs `permissions: id-token: write`).
//!
//! The token's claims are read without checking its signature: Fulcio checks it. Slipway uses
//! them only to name the identity and to recognise its own earlier signatures.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::Value;
use slipway_ci::Env;
use slipway_env as ev;
use slipway_types::{Secret, redact_url};

use crate::SignError;

/// `--identity-token`: where the token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    /// A file holding the token.
    File(PathBuf),
    /// An environment variable holding the token.
    Env(String),
}

impl TokenRef {
    /// Parses `env://VAR` or a path.
    pub fn parse(s: &str) -> Result<TokenRef, SignError> {
        if let Some(v) = s.strip_prefix("env://") {
            if v.is_empty() {
                return Err(SignError::invalid(
                    "--identity-token",
                    "env:// must name a variable",
                ));
            }
            return Ok(TokenRef::Env(v.to_owned()));
        }
        if s.matches('.').count() == 2 && s.len() > 100 && !s.contains('/') {
            return Err(SignError::invalid(
                "--identity-token",
                "this looks like a token itself; pass a file holding it or env://VAR, so the token \
                 does not appear in process lists and logs",
            ));
        }
        Ok(TokenRef::File(PathBuf::from(s)))
    }
}

/// The claims Slipway reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `email`, when present.
    pub email: Option<String>,
    /// GitHub's `job_workflow_ref`, when present.
    pub job_workflow_ref: Option<String>,
}

impl Claims {
    /// What Fulcio's proof of possession signs: the email for email tokens, else the subject.
    pub fn proof_subject(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }

    /// The certificate identities this token can be issued (for recognising earlier signatures).
    pub fn possible_identities(&self) -> Vec<String> {
        let mut v = vec![self.subject.clone()];
        v.extend(self.email.clone());
        if let Some(j) = &self.job_workflow_ref {
            v.push(format!("https://github.com/{j}"));
        }
        v
    }
}

/// An identity token and where it came from.
#[derive(Debug, Clone)]
pub struct IdentityToken {
    /// The token.
    pub token: Secret<String>,
    /// Where it came from (for messages).
    pub source: String,
    /// Its claims.
    pub claims: Claims,
}

/// Decodes the claims of a JWT (no signature check).
pub fn claims(token: &str) -> Result<Claims, SignError> {
    let bad = |m: &str| SignError::invalid("identity token", m.to_owned());
    let mut parts = token.trim().split('.');
    let (Some(_), Some(body), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not a JWT (three dot-separated parts)"));
    };
    let bytes = B64URL
        .decode(body.trim_end_matches('='))
        .map_err(|_| bad("the claims are not base64url"))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad("the claims are not JSON"))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(Claims {
        issuer: s("iss").ok_or_else(|| bad("no `iss` claim"))?,
        subject: s("sub").ok_or_else(|| bad("no `sub` claim"))?,
        email: s("email"),
        job_workflow_ref: s("job_workflow_ref"),
    })
}

/// Finds the identity token (see the module docs for the order).
pub fn find(explicit: Option<&TokenRef>, env: &Env) -> Result<IdentityToken, SignError> {
    let (token, source) = match explicit {
        Some(TokenRef::File(p)) => (
            std::fs::read_to_string(p)
                .map_err(SignError::io("cannot read identity token file", p))?,
            format!("file `{}`", p.display()),
        ),
        Some(TokenRef::Env(v)) => (
            env.non_empty(v)
                .ok_or_else(|| SignError::NoToken {
                    message: format!("--identity-token env://{v}: the variable is not set"),
                })?
                .to_owned(),
            format!("env://{v}"),
        ),
        None => {
            if let Some(t) = env.non_empty(ev::SIGSTORE_ID_TOKEN) {
                (t.to_owned(), ev::SIGSTORE_ID_TOKEN.to_owned())
            } else if let (Some(url), Some(bearer)) = (
                env.non_empty(ev::ACTIONS_ID_TOKEN_REQUEST_URL),
                env.non_empty(ev::ACTIONS_ID_TOKEN_REQUEST_TOKEN),
            ) {
                (
                    github_token(url, &Secret::new(bearer.to_owned()))?,
                    "GitHub Actions OIDC".to_owned(),
                )
            } else {
                return Err(SignError::NoToken {
                    message: format!(
                        "no --identity-token, no {} (GitLab) and no {} (GitHub Actions)",
                        ev::SIGSTORE_ID_TOKEN,
                        ev::ACTIONS_ID_TOKEN_REQUEST_URL
                    ),
                });
            }
        }
    };
    let token = token.trim().to_owned();
    let claims = claims(&token)?;
    Ok(IdentityToken {
        token: Secret::new(token),
        source,
        claims,
    })
}

/// Asks GitHub Actions' token service for a token with audience `sigstore`.
fn github_token(request_url: &str, bearer: &Secret<String>) -> Result<String, SignError> {
    let sep = if request_url.contains('?') { '&' } else { '?' };
    let url = format!("{request_url}{sep}audience=sigstore");
    let err = |m: String| SignError::Service {
        service: "GitHub Actions OIDC",
        url: redact_url(request_url),
        message: m,
    };
    let http = crate::http_client()?;
    let resp = crate::with_retries(3, || {
        http.get(&url)
            .header("Authorization", format!("bearer {}", bearer.expose()))
            .header("Accept", "application/json")
            .send()
    })
    .map_err(err)?;
    let status = resp.status();
    let text = resp
        .text()
        .map_err(|e| err(format!("cannot read the answer: {e}")))?;
    if !status.is_success() {
        return Err(err(format!(
            "token request answered {status}: {}",
            crate::snippet(&text)
        )));
    }
    let v: Value =
        serde_json::from_str(&text).map_err(|e| err(format!("the answer is not JSON: {e}")))?;
    v.get("value")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| err("the answer has no `value`".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!("e30.{}.c2ln", B64URL.encode(claims))
    }

    #[test]
    fn reads_claims() {
        let t = jwt(
            r#"{"iss":"https://token.actions.githubusercontent.com","sub":"repo:a/b:ref:refs/heads/main","job_workflow_ref":"a/b/.github/workflows/r.yml@refs/heads/main","aud":"sigstore"}"#,
        );
        let c = claims(&t).unwrap();
        assert_eq!(c.issuer, "https://token.actions.githubusercontent.com");
        assert_eq!(c.proof_subject(), "repo:a/b:ref:refs/heads/main");
        assert!(
            c.possible_identities()
                .contains(&"https://github.com/a/b/.github/workflows/r.yml@refs/heads/main".into())
        );
        assert!(claims("nope").is_err());
        assert!(claims("a.!!!.c").is_err());
    }

    #[test]
    fn token_sources() {
        let t = jwt(
            r#"{"iss":"https://gitlab.example","sub":"project_path:g/p:ref_type:branch:ref:main"}"#,
        );
        let env = Env::from_pairs([(ev::SIGSTORE_ID_TOKEN.to_owned(), t.clone())]);
        let got = find(None, &env).unwrap();
        assert_eq!(got.token.expose(), &t);
        assert_eq!(got.claims.issuer, "https://gitlab.example");
        let err = find(None, &Env::default()).unwrap_err();
        assert!(matches!(err, SignError::NoToken { .. }));
        assert!(
            TokenRef::parse(&format!(
                "{}.{}.{}",
                "a".repeat(40),
                "b".repeat(40),
                "c".repeat(40)
            ))
            .is_err()
        );
    }
}
