//! `slipway-sign`: cosign-compatible signatures and attestations on the images in a layout.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use chrono::Utc;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use slipway_config::AttestKind;
use slipway_env as ev;
use slipway_oci::{Layout, Manifest, ManifestKind, OciError, convert};
use slipway_sign::keys::{EnvPassword, KeyRef, PrivateKey};
use slipway_sign::signer::{KeyedProvider, KeylessProvider, Signer, SignerProvider};
use slipway_sign::{SignError, fulcio, oidc, payload, predicates, rekor, sign};
use slipway_state::{AttestationRecord, SignatureRecord, SigningMode, State, Step};
use slipway_types::{Digest, Repository};

use crate::error::Failure;
use crate::{Context, StepReport};

/// Arguments of `slipway-sign`.
#[derive(Debug, Clone, Default, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_long_help = "\
Signs by digest, never by tag, and stores what cosign stores: a `sha256-<hex>.sig` image whose
layers hold the simple-signing payload and the signature annotations, and `sha256-<hex>.att` for
attestations (in-toto Statement v1 in DSSE). They are entries of the layout's index.json, so
slipway-push carries them. Signing twice with the same key or identity adds nothing.

Passwords of encrypted keys come from SLIPWAY_PASSWORD or COSIGN_PASSWORD, or a prompt on a
terminal; never from a flag. Keyless signing takes the OIDC token from --identity-token (a file
or env://VAR), GitLab's SIGSTORE_ID_TOKEN, or GitHub Actions (permissions: id-token: write)."
)]
pub struct SignArgs {
    /// Key management
    #[command(subcommand)]
    pub command: Option<SignCommand>,

    /// Images to sign: image names from the state, names in the layout (--layout), or digests
    /// [default: every image in the state file, else every image in the layout]
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,

    /// Sign with this cosign key file (or env://VAR holding the PEM)
    #[arg(long, value_name = "PATH|env://VAR", env = ev::SLIPWAY_SIGN_KEY, hide_env_values = true)]
    pub key: Option<String>,

    /// Sign keylessly: an ephemeral key, a Fulcio certificate for the OIDC identity, a Rekor entry
    #[arg(long, conflicts_with = "key")]
    pub keyless: bool,

    /// Where the OIDC token is: a file, or env://VAR (never the token itself)
    #[arg(long, value_name = "FILE|env://VAR", env = ev::SLIPWAY_IDENTITY_TOKEN, hide_env_values = true)]
    pub identity_token: Option<String>,

    /// Fulcio URL [default: https://fulcio.sigstore.dev]
    #[arg(long, value_name = "URL", env = ev::SLIPWAY_FULCIO_URL, hide_env_values = true)]
    pub fulcio_url: Option<String>,

    /// Rekor URL [default: https://rekor.sigstore.dev]
    #[arg(long, value_name = "URL", env = ev::SLIPWAY_REKOR_URL, hide_env_values = true)]
    pub rekor_url: Option<String>,

    /// Also record keyed signatures in Rekor (keyless ones always are)
    #[arg(long)]
    pub tlog_upload: bool,

    /// Repository the image is pushed to, named in the signed payload (no tag or digest), e.g.
    /// ghcr.io/acme/app [default: sign.repository, push.repository, the state's last push, else
    /// the image name]
    #[arg(long, value_name = "REPOSITORY")]
    pub repository: Option<String>,

    /// Also sign (and attest) every platform manifest of an index
    #[arg(short, long)]
    pub recursive: bool,

    /// Attestations to attach [default: provenance, plus sbom and vuln when the state has them]
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KIND")]
    pub attest: Vec<AttestArg>,

    /// SBOM file to attest about the image (instead of the state's SBOM records); repeatable
    #[arg(long, value_name = "FILE")]
    pub sbom: Vec<PathBuf>,

    /// Annotation put in the signed payload (`optional` section); repeatable
    #[arg(short = 'a', long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
}

/// `--attest` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AttestArg {
    /// The SBOMs (SPDX / CycloneDX)
    Sbom,
    /// SLSA provenance v1
    Provenance,
    /// The scan verdict (cosign's vuln predicate)
    Vuln,
    /// No attestations
    None,
}

/// `slipway sign ...` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum SignCommand {
    /// Write a cosign-compatible key pair: PREFIX.key (encrypted) and PREFIX.pub
    GenerateKeyPair(GenerateKeyPairArgs),
}

/// `slipway sign generate-key-pair`.
#[derive(Debug, Clone, Args)]
pub struct GenerateKeyPairArgs {
    /// File name prefix of the key pair
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub output_key_prefix: String,
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
}

/// Runs `slipway-sign`.
pub fn run(ctx: &Context, args: SignArgs) -> Result<(), Failure> {
    match args.command.clone() {
        Some(SignCommand::GenerateKeyPair(a)) => generate_key_pair(ctx, &a),
        None => {
            let state = ctx.state_file();
            ctx.run_step(Step::Sign, &state, |ctx| sign_images(ctx, &args))
        }
    }
}

/// A password prompt on the terminal, when there is one.
pub(crate) fn tty_prompt<'a>() -> Option<slipway_sign::keys::Prompt<'a>> {
    std::io::stdin()
        .is_terminal()
        .then(|| Box::new(|p: &str| rpassword::prompt_password(p)) as Box<_>)
}

fn generate_key_pair(ctx: &Context, args: &GenerateKeyPairArgs) -> Result<(), Failure> {
    let key_path = ctx.cwd.join(format!("{}.key", args.output_key_prefix));
    let pub_path = ctx.cwd.join(format!("{}.pub", args.output_key_prefix));
    for p in [&key_path, &pub_path] {
        if p.exists() && !args.force {
            return Err(Failure::usage(format!("`{}` already exists", p.display()))
                .with_hint("pass --force to overwrite it, or choose --output-key-prefix"));
        }
    }
    let password = match EnvPassword::from_env(&ctx.env) {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            let a = rpassword::prompt_password("Enter password for private key: ")
                .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))?;
            let b = rpassword::prompt_password("Enter password for private key again: ")
                .map_err(|e| Failure::usage(format!("cannot read the password: {e}")))?;
            if a != b {
                return Err(Failure::usage("the passwords do not match"));
            }
            zeroize::Zeroizing::new(a)
        }
        None => {
            return Err(SignError::NoPassword {
                key: format!("`{}`", key_path.display()),
            }
            .into());
        }
    };
    let key = PrivateKey::generate()?;
    let pem = key.encrypted_pem(&password)?;
    write_private(&key_path, pem.as_bytes())?;
    slipway_fs::atomic_write(&pub_path, key.public().pem().as_bytes())
        .map_err(|e| Failure::usage(format!("cannot write `{}`: {e}", pub_path.display())))?;
    ctx.printer.info(&format!(
        "Private key written to {}\nPublic key written to {} ({})",
        key_path.display(),
        pub_path.display(),
        key.public().id()
    ));
    if ctx.settings.json() {
        ctx.printer.json(&json!({
            "private_key": key_path.display().to_string(),
            "public_key": pub_path.display().to_string(),
            "key_id": key.public().id(),
        }));
    } else {
        ctx.printer.data(&pub_path.display().to_string());
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use std::os::unix::fs::PermissionsExt;
    let fail =
        |e: std::io::Error| Failure::usage(format!("cannot write `{}`: {e}", path.display()));
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".slipway-key-")
        .tempfile_in(dir)
        .map_err(fail)?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
    std::fs::write(tmp.path(), bytes).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// One image to sign.
pub(crate) struct Target {
    /// Image name (state key or layout name), for the payload and statements.
    pub name: String,
    /// Where it is.
    pub layout: Layout,
    /// The top manifest or index.
    pub manifest: Manifest,
}

impl Target {
    pub(crate) fn children(&self) -> Vec<Digest> {
        match &self.manifest.kind {
            ManifestKind::Index(i) => i
                .manifests()
                .iter()
                .filter_map(|d| convert::descriptor_digest(d).ok())
                .collect(),
            ManifestKind::Image(_) => Vec::new(),
        }
    }
}

/// A path recorded in the state: absolute, or relative to the working directory, or to the
/// state file's directory (whichever exists; the working directory when neither does).
pub(crate) fn state_path(ctx: &Context, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let from_cwd = ctx.cwd.join(p);
    let from_state = ctx.settings.state_dir().join(p);
    if !from_cwd.exists() && from_state.exists() {
        from_state
    } else {
        from_cwd
    }
}

fn is_cosign_tag(name: &str) -> bool {
    name.starts_with("sha256-")
        && (name.ends_with(".sig") || name.ends_with(".att") || name.ends_with(".sbom"))
}

fn open_layout(path: &Path, what: &str) -> Result<Layout, Failure> {
    Layout::open(path).map_err(|e| {
        Failure::from(e).with_hint(format!(
            "{what}: point --layout at the OCI layout slipway-build wrote (default .slipway/oci)"
        ))
    })
}

fn manifest_in(layout: &Layout, spec: &str) -> Result<Manifest, Failure> {
    if let Ok(d) = spec.parse::<Digest>() {
        let source = slipway_sign::source::LayoutSource::new(layout.clone());
        use slipway_sign::source::ArtifactSource;
        return source.manifest_by_digest(&d).map_err(|e| match e {
            SignError::Oci(OciError::BlobMissing { .. }) => Failure::usage(format!(
                "{d} is not in layout `{}`",
                layout.root().display()
            )),
            e => e.into(),
        });
    }
    let desc = layout.resolve(spec)?;
    Ok(layout.read_manifest(&desc)?)
}

/// Resolves what to sign or verify: explicit images, else the state's images, else every image
/// in the layout. An image of the state is read from the layout the state records for it; other
/// names and digests from the shared layout (`--layout`, default `.slipway/oci`).
pub(crate) fn targets(
    ctx: &Context,
    state: &State,
    explicit: &[String],
) -> Result<Vec<Target>, Failure> {
    let default_layout = ctx.settings.layout.clone();
    let from_state = |name: &str| -> Result<Option<Target>, Failure> {
        let Some(img) = state.images.get(name) else {
            return Ok(None);
        };
        let dir = match &img.layout {
            Some(l) => state_path(ctx, l),
            None => default_layout.clone(),
        };
        let layout = open_layout(&dir, &format!("image `{name}`"))?;
        let manifest = match (&img.index, img.platforms.values().next(), &img.layout_ref) {
            (Some(i), _, _) => manifest_in(&layout, &i.digest.to_string())?,
            (None, Some(p), _) if img.platforms.len() == 1 => {
                manifest_in(&layout, &p.manifest.digest.to_string())?
            }
            (None, _, Some(r)) => manifest_in(&layout, r)?,
            _ => {
                return Err(Failure::usage(format!(
                    "image `{name}` in the state has several platforms and no index yet"
                ))
                .with_hint(
                    "merge the matrix builds (slipway state merge) and assemble the index first",
                ));
            }
        };
        Ok(Some(Target {
            name: name.to_owned(),
            layout,
            manifest,
        }))
    };
    let mut out = Vec::new();
    if !explicit.is_empty() {
        for spec in explicit {
            if let Some(t) = from_state(spec)? {
                out.push(t);
                continue;
            }
            let layout = open_layout(&default_layout, spec)?;
            let manifest = manifest_in(&layout, spec)?;
            let name = if spec.parse::<Digest>().is_ok() {
                layout
                    .refs()?
                    .into_iter()
                    .find(|(_, d)| {
                        convert::descriptor_digest(d).ok().as_ref() == Some(&manifest.digest)
                    })
                    .map_or_else(|| manifest.digest.short(), |(n, _)| n)
            } else {
                spec.clone()
            };
            out.push(Target {
                name,
                layout,
                manifest,
            });
        }
        return Ok(out);
    }
    if !state.images.is_empty() {
        for name in state.images.keys() {
            out.extend(from_state(name)?);
        }
        return Ok(out);
    }
    let layout = open_layout(&default_layout, "no images in the state file")?;
    for (name, desc) in layout.refs()? {
        if is_cosign_tag(&name) {
            continue;
        }
        out.push(Target {
            name,
            manifest: layout.read_manifest(&desc)?,
            layout: layout.clone(),
        });
    }
    if out.is_empty() {
        return Err(Failure::usage(format!(
            "nothing to sign: the state file has no images and layout `{}` names none",
            layout.root().display()
        )));
    }
    Ok(out)
}

fn parse_annotations(
    pairs: &[String],
    config: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = config.clone();
    for p in pairs {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Failure::usage(format!("--annotation `{p}`: expected KEY=VALUE")))?;
        if k.is_empty() {
            return Err(Failure::usage(format!(
                "--annotation `{p}`: the key is empty"
            )));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// What the signed payload names as `critical.identity.docker-reference` for `t`: the repository
/// it is pushed to, without tag or digest, normalised as cosign writes it. containers/image
/// `signedIdentity` policies (podman, CRI-O) compare it with the reference an image is pulled by.
/// From --repository, sign.repository, push.repository, or the state's last push of the image;
/// else the bare image name, with a warning.
fn docker_reference(
    ctx: &Context,
    args: &SignArgs,
    cfg: &slipway_config::SignConfig,
    state: &State,
    t: &Target,
) -> Result<String, Failure> {
    let parse = |value: &str, what: &str| -> Result<String, Failure> {
        let repo: Repository = value.parse().map_err(|e: slipway_types::ReferenceError| {
            Failure::usage(format!("{what}: {e}")).with_hint(
                "give the repository the image is pushed to, without tag or digest, e.g. ghcr.io/acme/app",
            )
        })?;
        Ok(payload::docker_reference(&repo))
    };
    if let Some(r) = &args.repository {
        return parse(r, "--repository");
    }
    if let Some(r) = &cfg.repository {
        return parse(r, "sign.repository");
    }
    let push = ctx.settings.config.config.push.as_ref();
    if let Some(r) = push.and_then(|p| p.repository.as_deref()) {
        return parse(r, "push.repository");
    }
    if let Some(p) = state
        .pushes
        .iter()
        .rev()
        .find(|p| p.image.as_deref() == Some(t.name.as_str()))
    {
        return Ok(payload::docker_reference(&p.repository));
    }
    ctx.printer.warn(&format!(
        "image `{}`: no repository known (--repository, sign.repository, push.repository), so the \
         signed payload names `{}` as its docker-reference; registry-side policies \
         (containers/image signedIdentity) will compare that name with the pull reference",
        t.name, t.name
    ));
    Ok(t.name.clone())
}

struct Planned {
    subject: Digest,
    name: String,
    predicate_type: String,
    predicate: serde_json::Value,
}

fn sign_images(ctx: &Context, args: &SignArgs) -> Result<StepReport, Failure> {
    // The runner record of this very step (or this machine's, unverified, without a policy)
    // goes into the provenance, never an older one from the state.
    let runner = crate::commands::runner::for_provenance(ctx, Step::Sign)?;
    let cfg = ctx.settings.config.config.sign.clone().unwrap_or_default();
    let state_file = ctx.state_file();
    let state = state_file.read()?.unwrap_or_default();
    let recursive = args.recursive || cfg.recursive.unwrap_or(false);
    let optional = parse_annotations(&args.annotations, &cfg.annotations)?;
    let key = args
        .key
        .clone()
        .map(|k| KeyRef::parse(&k).map(|r| r.relative_to(&ctx.cwd)))
        .or_else(|| {
            cfg.key.as_ref().map(|k| {
                KeyRef::parse(k).map(|r| match r {
                    KeyRef::Path(p) => KeyRef::Path(ctx.settings.config.relative(&p)),
                    other => other,
                })
            })
        })
        .transpose()?;
    let keyless = args.keyless || (key.is_none() && cfg.keyless.unwrap_or(false));
    if key.is_none() && !keyless {
        return Err(Failure::usage("no signing method: pass --key PATH|env://VAR or --keyless")
            .with_hint("make a key pair with `slipway sign generate-key-pair`, or set sign.key / sign.keyless in slipway.yaml"));
    }
    let attest: BTreeSet<AttestKind> = if args.attest.is_empty() {
        cfg.attest.clone().map_or_else(
            || [AttestKind::Provenance, AttestKind::Sbom, AttestKind::Vuln].into(),
            |v| v.into_iter().collect(),
        )
    } else if args.attest.contains(&AttestArg::None) {
        if args.attest.len() > 1 {
            return Err(Failure::usage(
                "--attest none cannot be combined with other kinds",
            ));
        }
        BTreeSet::new()
    } else {
        args.attest
            .iter()
            .map(|a| match a {
                AttestArg::Sbom => AttestKind::Sbom,
                AttestArg::Provenance => AttestKind::Provenance,
                AttestArg::Vuln => AttestKind::Vuln,
                AttestArg::None => unreachable!("handled above"),
            })
            .collect()
    };
    let explicit_attest = !args.attest.is_empty() || cfg.attest.is_some();

    let targets = targets(ctx, &state, &args.images)?;

    // Everything that will be signed or attested is worked out (and every input read) before
    // anything is signed: bad input fails the step with nothing half-written.
    let run = state
        .run
        .clone()
        .unwrap_or_else(|| slipway_ci::run_info(&ctx.env, &ctx.cwd));
    let mut plan: Vec<(usize, Digest)> = Vec::new();
    let mut attestations: Vec<(usize, Planned)> = Vec::new();
    let mut references = Vec::with_capacity(targets.len());
    for (ti, t) in targets.iter().enumerate() {
        let repo = docker_reference(ctx, args, &cfg, &state, t)?;
        references.push(repo.clone());
        let children = t.children();
        let mut subjects = vec![t.manifest.digest.clone()];
        if recursive {
            subjects.extend(children.iter().cloned());
        }
        for s in &subjects {
            plan.push((ti, s.clone()));
        }
        let in_image: BTreeSet<Digest> = std::iter::once(t.manifest.digest.clone())
            .chain(children.iter().cloned())
            .collect();
        if attest.contains(&AttestKind::Provenance) {
            let image = state.images.get(&t.name);
            let build = state.steps.iter().find(|s| s.step == Step::Build);
            for s in &subjects {
                attestations.push((
                    ti,
                    Planned {
                        subject: s.clone(),
                        name: repo.clone(),
                        predicate_type: predicates::SLSA_PROVENANCE_V1.into(),
                        predicate: predicates::provenance(predicates::ProvenanceInput {
                            run: &run,
                            image_name: Some(&t.name),
                            image,
                            runner: runner.as_ref(),
                            build,
                            env: &ctx.env,
                        }),
                    },
                ));
            }
        }
        if attest.contains(&AttestKind::Sbom) {
            let mut files: Vec<(Digest, PathBuf)> = args
                .sbom
                .iter()
                .map(|p| (t.manifest.digest.clone(), ctx.cwd.join(p)))
                .collect();
            if args.sbom.is_empty() {
                for r in &state.sboms {
                    if in_image.contains(&r.subject) {
                        files.push((r.subject.clone(), state_path(ctx, &r.path)));
                    }
                }
            }
            if files.is_empty() && explicit_attest {
                return Err(Failure::usage(format!(
                    "--attest sbom: the state records no SBOM for image `{}`",
                    t.name
                ))
                .with_hint("run slipway-scan-sbom first, or pass --sbom FILE"));
            }
            for (subject, path) in files {
                let bytes = std::fs::read(&path).map_err(|e| {
                    Failure::usage(format!("cannot read SBOM `{}`: {e}", path.display()))
                })?;
                let (ty, predicate) =
                    predicates::sbom(&bytes, &format!("SBOM `{}`", path.display()))?;
                attestations.push((
                    ti,
                    Planned {
                        subject,
                        name: repo.clone(),
                        predicate_type: ty.into(),
                        predicate,
                    },
                ));
            }
        }
        if attest.contains(&AttestKind::Vuln) {
            let mut found = false;
            for d in &in_image {
                if let Some(scan) = state.latest_scan(d) {
                    found = true;
                    let report = match &scan.report {
                        Some(p) => {
                            let path = state_path(ctx, p);
                            let bytes = std::fs::read(&path).map_err(|e| {
                                Failure::usage(format!(
                                    "cannot read scan report `{}`: {e}",
                                    path.display()
                                ))
                            })?;
                            Some(serde_json::from_slice(&bytes).map_err(|e| {
                                Failure::usage(format!(
                                    "scan report `{}` is not JSON: {e}",
                                    path.display()
                                ))
                            })?)
                        }
                        None => None,
                    };
                    attestations.push((
                        ti,
                        Planned {
                            subject: d.clone(),
                            name: repo.clone(),
                            predicate_type: predicates::VULN.into(),
                            predicate: predicates::vuln(scan, report, &run, &ctx.env),
                        },
                    ));
                }
            }
            if !found && explicit_attest {
                return Err(Failure::usage(format!(
                    "--attest vuln: the state records no scan verdict for image `{}`",
                    t.name
                ))
                .with_hint("run slipway-scan-sbom first"));
            }
        }
    }

    let rekor_url = args
        .rekor_url
        .clone()
        .or_else(|| cfg.rekor_url.clone())
        .unwrap_or_else(|| rekor::DEFAULT_REKOR_URL.to_owned());
    let tlog_on = keyless || args.tlog_upload || cfg.tlog_upload.unwrap_or(false);
    let rekor_client = if tlog_on {
        Some(rekor::RekorClient::new(&rekor_url)?)
    } else {
        None
    };
    let tlog = rekor_client
        .as_ref()
        .map(|c| c as &dyn rekor::TransparencyLog);
    let fulcio_url = args
        .fulcio_url
        .clone()
        .or_else(|| cfg.fulcio_url.clone())
        .unwrap_or_else(|| fulcio::DEFAULT_FULCIO_URL.to_owned());
    let fulcio_client;
    let mut keyed;
    let mut keyless_provider;
    let provider: &mut dyn SignerProvider = if let Some(key) = &key {
        let mut pw = EnvPassword::new(&ctx.env, tty_prompt());
        keyed = KeyedProvider(Signer::keyed(PrivateKey::load(key, &ctx.env, &mut pw)?));
        &mut keyed
    } else {
        let token_ref = args
            .identity_token
            .as_deref()
            .map(oidc::TokenRef::parse)
            .transpose()?
            .map(|t| match t {
                oidc::TokenRef::File(p) => oidc::TokenRef::File(ctx.cwd.join(p)),
                other => other,
            });
        let token = oidc::find(token_ref.as_ref(), &ctx.env)?;
        ctx.mask(token.token.expose());
        ctx.printer.detail(&format!(
            "identity token from {} ({} @ {})",
            token.source, token.claims.subject, token.claims.issuer
        ));
        fulcio_client = fulcio::FulcioClient::new(&fulcio_url)?;
        keyless_provider = KeylessProvider::new(&fulcio_client, token);
        &mut keyless_provider
    };
    let mode = if keyless {
        SigningMode::Keyless
    } else {
        SigningMode::Keyed
    };

    let mut sig_records = Vec::new();
    let mut att_records = Vec::new();
    let mut lines = Vec::new();
    let mut json_sigs = Vec::new();
    let mut json_atts = Vec::new();
    for (ti, subject) in &plan {
        let t = &targets[*ti];
        let out = sign::sign(
            &t.layout,
            subject,
            &references[*ti],
            &optional,
            provider,
            tlog,
        )?;
        lines.push(format!(
            "{} {} {}{}",
            if out.added {
                "signed"
            } else {
                "already signed"
            },
            subject,
            out.tag,
            match out.log_index {
                Some(i) if out.added && out.log_entry_existed => {
                    format!(" (Rekor already had the entry: log index {i} reused)")
                }
                _ => String::new(),
            }
        ));
        json_sigs.push(json!({
            "image": t.name, "digest": subject.to_string(), "tag": out.tag, "added": out.added,
            "log_index": out.log_index, "log_entry_existed": out.log_entry_existed,
            "key": out.key_id, "identity": out.identity, "issuer": out.issuer,
        }));
        sig_records.push(SignatureRecord {
            digest: subject.clone(),
            tag: out
                .tag
                .parse()
                .map_err(|e| Failure::usage(format!("tag {}: {e}", out.tag)))?,
            mode,
            key: out.key_id.clone(),
            identity: out.identity.clone(),
            issuer: out.issuer.clone(),
            log_index: out.log_index.and_then(|i| u64::try_from(i).ok()),
            layout: Some(t.layout.root().display().to_string()),
            at: Utc::now(),
        });
    }
    for (ti, a) in &attestations {
        let t = &targets[*ti];
        let out = sign::attest(
            &t.layout,
            &a.subject,
            &a.name,
            &a.predicate_type,
            &a.predicate,
            provider,
            tlog,
        )?;
        lines.push(format!(
            "{} {} {} ({})",
            if out.added {
                "attested"
            } else {
                "already attested"
            },
            a.subject,
            out.tag,
            a.predicate_type
        ));
        json_atts.push(json!({
            "image": t.name, "digest": a.subject.to_string(), "tag": out.tag, "added": out.added,
            "predicate_type": a.predicate_type, "log_index": out.log_index,
        }));
        att_records.push(AttestationRecord {
            digest: a.subject.clone(),
            tag: out
                .tag
                .parse()
                .map_err(|e| Failure::usage(format!("tag {}: {e}", out.tag)))?,
            predicate_type: a.predicate_type.clone(),
            mode,
            key: out.key_id.clone(),
            identity: out.identity.clone(),
            issuer: out.issuer.clone(),
            log_index: out.log_index.and_then(|i| u64::try_from(i).ok()),
            layout: Some(t.layout.root().display().to_string()),
            at: Utc::now(),
        });
    }
    state_file.update(|s| {
        for r in sig_records {
            let same = |x: &SignatureRecord| {
                x.digest == r.digest
                    && x.mode == r.mode
                    && x.key == r.key
                    && x.identity == r.identity
                    && x.log_index == r.log_index
                    && x.layout == r.layout
            };
            if !s.signatures.iter().any(same) {
                s.signatures.push(r);
            }
        }
        for r in att_records {
            let same = |x: &AttestationRecord| {
                x.digest == r.digest
                    && x.predicate_type == r.predicate_type
                    && x.mode == r.mode
                    && x.key == r.key
                    && x.identity == r.identity
                    && x.log_index == r.log_index
                    && x.layout == r.layout
            };
            if !s.attestations.iter().any(same) {
                s.attestations.push(r);
            }
        }
    })?;
    let signed: Vec<String> = plan.iter().map(|(_, d)| d.to_string()).collect();
    let added = json_sigs.iter().filter(|j| j["added"] == true).count();
    let att_added = json_atts.iter().filter(|j| j["added"] == true).count();
    let summary = format!(
        "{} signature{} added ({} already there), {} attestation{} added ({} already there)",
        added,
        if added == 1 { "" } else { "s" },
        json_sigs.len() - added,
        att_added,
        if att_added == 1 { "" } else { "s" },
        json_atts.len() - att_added
    );
    let mut md = String::from("### slipway sign\n\n| digest | tag | result |\n|---|---|---|\n");
    for l in json_sigs.iter().chain(json_atts.iter()) {
        md.push_str(&format!(
            "| `{}` | `{}` | {}{} |\n",
            l["digest"].as_str().unwrap_or_default(),
            l["tag"].as_str().unwrap_or_default(),
            if l["added"] == true {
                "added"
            } else {
                "already there"
            },
            l["predicate_type"]
                .as_str()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ));
    }
    Ok(StepReport {
        summary,
        outputs: vec![
            ("signed-digests".into(), signed.join(",")),
            ("signatures-added".into(), added.to_string()),
        ],
        markdown: Some(md),
        human: Some(lines.join("\n")),
        json: Some(json!({"signatures": json_sigs, "attestations": json_atts})),
    })
}
