//! Every environment variable Slipway reads, defined once.
//!
//! Options resolve as *flag > environment > `slipway.yaml` > default*; the environment half of
//! that chain is spelled here and nowhere else. CI-provided variables that Slipway consumes
//! (GitHub Actions, GitLab CI) are listed too, so the reference documentation is complete.
#![deny(missing_docs)]

/// Who sets a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A Slipway option, set by the user.
    Slipway,
    /// A convention shared with other tools (e.g. `NO_COLOR`, `DOCKER_CONFIG`).
    Convention,
    /// Set by GitHub Actions.
    GitHubActions,
    /// Set by GitLab CI.
    GitLabCi,
}

/// One environment variable and what it means.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    /// The variable's name.
    pub name: &'static str,
    /// Who sets it.
    pub origin: Origin,
    /// What Slipway does with it.
    pub help: &'static str,
    /// Whether its value is a secret (never printed, masked in CI logs).
    pub secret: bool,
}

macro_rules! env_vars {
    ($( $(#[doc = $doc:literal])* $ident:ident : $origin:ident $(, $secret:ident)? ; )*) => {
        $(
            $(#[doc = $doc])*
            pub const $ident: &str = stringify!($ident);
        )*
        /// All variables, in definition order (used to generate the reference documentation).
        pub const ALL: &[EnvVar] = &[
            $( EnvVar {
                name: stringify!($ident),
                origin: Origin::$origin,
                help: concat!($($doc, "\n"),*),
                secret: env_vars!(@secret $($secret)?),
            }, )*
        ];
    };
    (@secret secret) => { true };
    (@secret) => { false };
}

env_vars! {
    /// Path of the state file (`--state`); default `.slipway/state.json`.
    SLIPWAY_STATE: Slipway;
    /// Path of the configuration file (`--config`); default `slipway.yaml` when it exists.
    SLIPWAY_CONFIG: Slipway;
    /// Output format for data on stdout: `human` or `json` (`--output-format`).
    SLIPWAY_OUTPUT_FORMAT: Slipway;
    /// Colour on stderr: `auto`, `always` or `never` (`--color`).
    SLIPWAY_COLOR: Slipway;
    /// Set to `1`/`true` to disable progress bars (`--no-progress`).
    SLIPWAY_NO_PROGRESS: Slipway;
    /// Log filter for `-v` style diagnostics, in `tracing` directive syntax (e.g. `slipway=debug`).
    SLIPWAY_LOG: Slipway;
    /// The OCI image layout the steps share (`--layout`); default `.slipway/oci`.
    SLIPWAY_LAYOUT: Slipway;
    /// Path of the GitLab dotenv file Slipway writes its outputs to (default `.slipway/slipway.env`).
    SLIPWAY_DOTENV: Slipway;
    /// Content-addressed cache directory for base images and tools (default `$XDG_CACHE_HOME/slipway`).
    SLIPWAY_CACHE: Slipway;
    /// Password for encrypted signing keys.
    SLIPWAY_PASSWORD: Slipway, secret;
    /// Password for encrypted signing keys, as cosign names it.
    COSIGN_PASSWORD: Convention, secret;
    /// Signing key for `slipway-sign` (`--key`): a cosign key file path or `env://VAR`.
    SLIPWAY_SIGN_KEY: Slipway;
    /// Public key for `slipway verify` (`--key`): a PEM file path or `env://VAR`.
    SLIPWAY_VERIFY_KEY: Slipway;
    /// Where keyless signing reads the OIDC token (`--identity-token`): a file or `env://VAR`
    /// (never the token itself).
    SLIPWAY_IDENTITY_TOKEN: Slipway;
    /// Fulcio URL for keyless signing (`--fulcio-url`); default `https://fulcio.sigstore.dev`.
    SLIPWAY_FULCIO_URL: Slipway;
    /// Rekor URL (`--rekor-url`); default `https://rekor.sigstore.dev`.
    SLIPWAY_REKOR_URL: Slipway;
    /// Sigstore `trusted_root.json` for offline verification (`--trusted-root`).
    SLIPWAY_TRUSTED_ROOT: Slipway;
    /// OIDC identity token for keyless signing (GitLab `id_tokens:` with `aud: sigstore`).
    SIGSTORE_ID_TOKEN: Convention, secret;
    /// Registry username for push/promote (with `SLIPWAY_REGISTRY_PASSWORD`; `--username`).
    SLIPWAY_REGISTRY_USERNAME: Slipway;
    /// Registry password or token for push/promote (instead of `--password-stdin`).
    SLIPWAY_REGISTRY_PASSWORD: Slipway, secret;
    /// Extra CA certificate (PEM) trusted for registries (`--ca-file`).
    SLIPWAY_CA_FILE: Slipway;
    /// Comma-separated registry hosts spoken to over plain HTTP (`--insecure-registry`).
    SLIPWAY_INSECURE_REGISTRY: Slipway;
    /// Blobs transferred at once by push/promote (`--jobs`, default 4).
    SLIPWAY_JOBS: Slipway;
    /// Deployment environment name, used as a tag by push (`--environment`) and for the runner
    /// allowlist check.
    SLIPWAY_ENVIRONMENT: Slipway;
    /// Root of the filesystem the runner fingerprint is read from (default `/`; a captured
    /// sysfs/etc tree for tests, `--root`).
    SLIPWAY_FINGERPRINT_ROOT: Slipway;
    /// GitHub token for `slipway runner bootstrap` (needs runner administration on the repository
    /// or organisation); read before `GH_TOKEN` and `GITHUB_TOKEN`.
    SLIPWAY_GITHUB_TOKEN: Slipway, secret;
    /// GitHub token, as the `gh` CLI names it (`slipway runner bootstrap`).
    GH_TOKEN: Convention, secret;
    /// GitHub token (`slipway runner bootstrap`; a workflow's own `GITHUB_TOKEN` cannot register
    /// runners).
    GITHUB_TOKEN: Convention, secret;
    /// Disables colour when set to any non-empty value (<https://no-color.org>).
    NO_COLOR: Convention;
    /// Forces colour when set to a non-empty value other than `0`.
    CLICOLOR_FORCE: Convention;
    /// Base of the user's cache directories (Slipway's cache defaults to `$XDG_CACHE_HOME/slipway`).
    XDG_CACHE_HOME: Convention;
    /// The user's home directory (for `~/.cache/slipway` and `~/.docker`).
    HOME: Convention;
    /// Fixed timestamp (seconds since the epoch) for reproducible output.
    SOURCE_DATE_EPOCH: Convention;
    /// Directory holding the docker `config.json` used for registry credentials.
    DOCKER_CONFIG: Convention;
    /// Path of a containers-auth JSON file used for registry credentials.
    REGISTRY_AUTH_FILE: Convention;
    /// Set to `true` by GitHub Actions.
    GITHUB_ACTIONS: GitHubActions;
    /// File that step outputs are appended to.
    GITHUB_OUTPUT: GitHubActions;
    /// File that the job summary (markdown) is appended to.
    GITHUB_STEP_SUMMARY: GitHubActions;
    /// `owner/repo` of the workflow run.
    GITHUB_REPOSITORY: GitHubActions;
    /// Git ref that triggered the run.
    GITHUB_REF: GitHubActions;
    /// Commit SHA that triggered the run.
    GITHUB_SHA: GitHubActions;
    /// Source branch of a pull request.
    GITHUB_HEAD_REF: GitHubActions;
    /// Unique id of the workflow run.
    GITHUB_RUN_ID: GitHubActions;
    /// Attempt number of the workflow run.
    GITHUB_RUN_ATTEMPT: GitHubActions;
    /// Name of the workflow.
    GITHUB_WORKFLOW: GitHubActions;
    /// Reference to the workflow file (`owner/repo/.github/workflows/x.yml@ref`).
    GITHUB_WORKFLOW_REF: GitHubActions;
    /// Job id within the workflow.
    GITHUB_JOB: GitHubActions;
    /// Event that triggered the run.
    GITHUB_EVENT_NAME: GitHubActions;
    /// Login that triggered the run.
    GITHUB_ACTOR: GitHubActions;
    /// Base URL of the GitHub server.
    GITHUB_SERVER_URL: GitHubActions;
    /// Base URL of GitHub's REST API (`slipway runner bootstrap --api-url`).
    GITHUB_API_URL: GitHubActions;
    /// URL of the job's OIDC token service (present with `permissions: id-token: write`).
    ACTIONS_ID_TOKEN_REQUEST_URL: GitHubActions;
    /// Bearer token for the OIDC token service.
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: GitHubActions, secret;
    /// Set to `true` by GitLab CI.
    GITLAB_CI: GitLabCi;
    /// Set to `true` by most CI systems.
    CI: Convention;
    /// `group/project` path of the GitLab project.
    CI_PROJECT_PATH: GitLabCi;
    /// Branch or tag name the pipeline runs for.
    CI_COMMIT_REF_NAME: GitLabCi;
    /// Set when the pipeline runs for a tag.
    CI_COMMIT_TAG: GitLabCi;
    /// Commit SHA of the pipeline.
    CI_COMMIT_SHA: GitLabCi;
    /// Branch the pipeline runs for (absent for tags and merge requests).
    CI_COMMIT_BRANCH: GitLabCi;
    /// Merge request number, in merge request pipelines.
    CI_MERGE_REQUEST_IID: GitLabCi;
    /// Unique id of the pipeline.
    CI_PIPELINE_ID: GitLabCi;
    /// How the pipeline was triggered.
    CI_PIPELINE_SOURCE: GitLabCi;
    /// Unique id of the job.
    CI_JOB_ID: GitLabCi;
    /// Name of the job.
    CI_JOB_NAME: GitLabCi;
    /// Path of the CI configuration file.
    CI_CONFIG_PATH: GitLabCi;
    /// Base URL of the GitLab server.
    CI_SERVER_URL: GitLabCi;
    /// Login of the user who started the pipeline.
    GITLAB_USER_LOGIN: GitLabCi;
    /// Id of the runner running the job (provenance builder id).
    CI_RUNNER_ID: GitLabCi;
}

/// Looks a variable up in [`ALL`].
pub fn lookup(name: &str) -> Option<&'static EnvVar> {
    ALL.iter().find(|v| v.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_documented() {
        let mut names: Vec<_> = ALL.iter().map(|v| v.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate variable in the list");
        for var in ALL {
            assert!(!var.help.trim().is_empty(), "{} has no help", var.name);
        }
    }

    #[test]
    fn secrets_are_flagged() {
        assert!(lookup(SLIPWAY_PASSWORD).unwrap().secret);
        assert!(lookup(COSIGN_PASSWORD).unwrap().secret);
        assert!(!lookup(SLIPWAY_STATE).unwrap().secret);
    }
}
