//! `slipway-build`: build images from `slipway.yaml` (`images:`) or from flags.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, ValueEnum};
use slipway_build::builder::{cargo::CargoSpec, go::GoSpec};
use slipway_build::{BuildOptions, BuilderSpec, Compression, FileSpec, ImageSpec, TemplateVars};
use slipway_config::{CaBundle, CompressionKind, ImageConfig};
use slipway_oci::Layout;
use slipway_state::Step;
use slipway_types::Platform;

use crate::error::Failure;
use crate::render::md_cell;
use crate::{Context, StepReport};

/// Arguments of `slipway-build`.
#[derive(Debug, Clone, Default, Args)]
#[command(after_help = "\
Images come from `images:` in slipway.yaml, or from flags for a one-off image:
  slipway-build                                   # every image in slipway.yaml
  slipway-build --image hello                     # one of them
  slipway-build --name hello --go . --platform linux/amd64,linux/arm64
  slipway-build --name tool --binary 'dist/{os}-{arch}/tool' --base oci:base-layout
Timestamps come from SOURCE_DATE_EPOCH, else the commit time, else 0.")]
pub struct BuildArgs {
    /// Build only these images from slipway.yaml [default: all]
    #[arg(long = "image", value_name = "NAME")]
    pub images: Vec<String>,

    /// Name of a one-off image given by flags
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Build this Go main package (with --dir as the module directory)
    #[arg(long, value_name = "PACKAGE", conflicts_with_all = ["cargo", "binary"])]
    pub go: Option<String>,

    /// Build the Rust package in this directory with cargo
    #[arg(long, value_name = "DIR", conflicts_with = "binary")]
    pub cargo: Option<PathBuf>,

    /// Take prebuilt binaries from this path template ({os}, {arch}, {variant})
    #[arg(long, value_name = "TEMPLATE")]
    pub binary: Option<String>,

    /// Module directory for --go [default: .]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Platforms (comma-separated or repeated) [default: linux/amd64]
    #[arg(
        long = "platform",
        value_name = "OS/ARCH[/VARIANT]",
        value_delimiter = ','
    )]
    pub platforms: Vec<Platform>,

    /// Base image: scratch, oci:PATH[:NAME] or a registry reference [default: scratch]
    #[arg(long, value_name = "BASE")]
    pub base: Option<String>,

    /// Extra file: SRC:DST[:MODE]
    #[arg(long = "file", value_name = "SRC:DST[:MODE]")]
    pub files: Vec<String>,

    /// Layer compression [default: gzip]
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,

    /// Compression level (gzip 1-12, default 4; zstd 1-19, default 3)
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub level: Option<i32>,

    /// Version for {version} in ldflags and the version annotation
    #[arg(long = "app-version", value_name = "VERSION")]
    pub app_version: Option<String>,

    /// Also write an oci-archive tar of the image
    #[arg(long, value_name = "FILE")]
    pub archive: Option<PathBuf>,

    /// Build twice in separate temp dirs; exit 1 naming the first differing blob if they differ
    #[arg(long)]
    pub verify_reproducible: bool,

    /// Compress the binaries with upx (must be on PATH)
    #[arg(long)]
    pub upx: bool,

    /// Registry options (for registry base images).
    #[command(flatten)]
    pub transfer: crate::commands::transfer::TransferArgs,
}

/// A registry client for base images, when an image has a registry base.
fn base_puller(
    ctx: &Context,
    args: &BuildArgs,
    specs: &[ImageSpec],
) -> Result<Option<crate::commands::base_puller::RegistryBasePuller>, Failure> {
    let remote = specs
        .iter()
        .any(|s| matches!(s.base, slipway_build::BaseSpec::Registry(_)));
    if !remote {
        return Ok(None);
    }
    let cfg = ctx.settings.config.config.push.clone().unwrap_or_default();
    let t = crate::commands::transfer::resolve(ctx, &args.transfer, cfg.transfer.as_ref())?;
    Ok(Some(crate::commands::base_puller::RegistryBasePuller {
        client: slipway_registry::BlockingClient::on(
            t.client,
            std::sync::Arc::new(crate::commands::transfer::runtime()?),
        ),
        jobs: t.jobs,
        progress: std::sync::Arc::new(ctx.progress()),
    }))
}

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// gzip (parallel blocks)
    Gzip,
    /// zstd (multi-threaded)
    Zstd,
}

const DEFAULT_USER: (u64, u64) = (65532, 65532);

/// Runs `slipway-build`.
pub fn run(ctx: &Context, args: BuildArgs) -> Result<(), Failure> {
    let specs = resolve_specs(ctx, &args)?;
    if args.archive.is_some() && specs.len() != 1 {
        return Err(Failure::usage(format!(
            "--archive needs exactly one image, but {} are to be built",
            specs.len()
        ))
        .with_hint("select one with --image NAME"));
    }
    warn_if_not_ignored(ctx, &specs);
    let state = ctx.state_file();
    ctx.run_step(Step::Build, &state, |ctx| build_all(ctx, &args, &specs))
}

/// Go stamps `vcs.modified=true` into binaries built from a tree with untracked files, so a
/// state directory git does not ignore makes the second build differ from the first.
fn warn_if_not_ignored(ctx: &Context, specs: &[ImageSpec]) {
    for spec in specs {
        let BuilderSpec::Go(go) = &spec.builder else {
            continue;
        };
        let state_dir = ctx.settings.state_dir();
        // With a trailing slash: on a clean clone the directory does not exist yet, and a
        // `.slipway/` pattern matches only directories, which git cannot tell without it.
        let mut as_dir = state_dir.clone().into_os_string();
        as_dir.push("/");
        let Ok(out) = Command::new("git")
            .current_dir(&go.dir)
            .arg("check-ignore")
            .arg("-q")
            .arg(&as_dir)
            .output()
        else {
            return;
        };
        // 0: ignored; 1: not ignored; 128: not a git repository (nothing to worry about).
        if out.status.code() == Some(1) {
            ctx.printer.warn(&format!(
                "`{}` is not ignored by git: Go marks binaries built from this tree as modified (vcs.modified=true), so rebuilds will differ; add it to .gitignore",
                ctx.settings.display_path(&ctx.cwd, &state_dir)
            ));
            return;
        }
    }
}

fn build_all(ctx: &Context, args: &BuildArgs, specs: &[ImageSpec]) -> Result<StepReport, Failure> {
    let layout_dir = ctx.settings.layout.clone();
    let existed = layout_dir.join("oci-layout").exists();
    let result = build_into(ctx, args, specs, &layout_dir);
    if result.is_err() && !existed {
        // Leave nothing that looks like a finished layout behind.
        let _ = std::fs::remove_dir_all(&layout_dir);
    }
    result
}

fn build_into(
    ctx: &Context,
    args: &BuildArgs,
    specs: &[ImageSpec],
    layout_dir: &Path,
) -> Result<StepReport, Failure> {
    let layout = Layout::create(layout_dir)?;
    let run = ctx.run_info().clone();
    let epoch = source_date_epoch(ctx)?;
    let progress = ctx.progress();
    let commit = run.commit.clone().unwrap_or_default();
    let puller = base_puller(ctx, args, specs)?;
    let mut built = Vec::new();
    for spec in specs {
        let version = image_version(ctx, args, spec, &run);
        let opts = BuildOptions {
            work_dir: ctx.settings.state_dir().join("build"),
            cargo_target_dir: ctx.settings.state_dir().join("build/cargo-target"),
            epoch,
            vars: TemplateVars {
                version: version.clone().unwrap_or_else(|| "dev".into()),
                commit: commit.clone(),
                date: slipway_build::rfc3339(epoch),
            },
            version,
            source: source_url(ctx, &run),
            threads: slipway_build::default_threads(),
            cache_dir: ctx.settings.cache_dir(&ctx.env),
            puller: puller.as_ref().map(|p| p as &dyn slipway_build::BasePuller),
            progress: &progress,
        };
        let image = if args.verify_reproducible {
            slipway_build::verify_reproducible(spec, &layout, &opts)?
        } else {
            slipway_build::build_image(spec, &layout, &opts)?
        };
        built.push(image);
    }
    if let (Some(archive), Some(image)) = (&args.archive, built.first()) {
        let path = ctx.cwd.join(archive);
        slipway_build::write_archive(&layout, &image.name, &path, epoch)?;
    }
    let layout_shown = ctx.settings.display_path(&ctx.cwd, layout_dir);
    ctx.state_file().update(|s| {
        for b in &built {
            s.images
                .insert(b.name.clone(), b.to_state(Path::new(&layout_shown)));
        }
    })?;
    Ok(report(&built, &layout_shown, args.verify_reproducible))
}

fn report(built: &[slipway_build::BuiltImage], layout: &str, verified: bool) -> StepReport {
    let first = &built[0];
    let platforms: Vec<String> = first.platforms.keys().map(ToString::to_string).collect();
    let mut md = String::from(
        "### Build\n\n| Image | Platform | Digest | Binary | Toolchain |\n|---|---|---|---|---|\n",
    );
    let mut human = String::new();
    for b in built {
        md.push_str(&format!(
            "| {} | index | `{}` | | |\n",
            md_cell(&b.name),
            b.index.digest
        ));
        for (p, bp) in &b.platforms {
            md.push_str(&format!(
                "| {} | {p} | `{}` | {} bytes | {} |\n",
                md_cell(&b.name),
                bp.manifest.digest,
                bp.binary.size,
                md_cell(bp.binary.toolchain.as_deref().unwrap_or("prebuilt"))
            ));
        }
        human.push_str(&format!("{} {}\n", b.name, b.index.digest));
    }
    if verified {
        md.push_str("\nReproducible: two independent builds gave identical digests.\n");
    }
    let json = serde_json::json!({
        "layout": layout,
        "reproducible": if verified { Some(true) } else { None },
        "images": built.iter().map(|b| (b.name.clone(), serde_json::json!({
            "index": b.index.digest.to_string(),
            "platforms": b.platforms.iter().map(|(p, x)| (p.to_string(), serde_json::Value::String(x.manifest.digest.to_string()))).collect::<serde_json::Map<_, _>>(),
        }))).collect::<serde_json::Map<_, _>>(),
    });
    StepReport {
        summary: format!(
            "built {}: {} platform(s), index {}{}",
            built
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            first.platforms.len(),
            first.index.digest.short(),
            if verified { " (reproducible)" } else { "" }
        ),
        outputs: vec![
            ("digest".into(), first.index.digest.to_string()),
            ("image".into(), first.name.clone()),
            ("layout".into(), layout.to_owned()),
            ("platforms".into(), platforms.join("\n")),
        ],
        markdown: Some(md),
        human: Some(human.trim_end().to_owned()),
        json: Some(json),
    }
}

fn source_date_epoch(ctx: &Context) -> Result<i64, Failure> {
    if let Some(v) = ctx.env.non_empty(slipway_env::SOURCE_DATE_EPOCH) {
        return v.trim().parse::<i64>().map_err(|_| {
            Failure::usage(format!(
                "SOURCE_DATE_EPOCH is `{v}`, not a number of seconds since 1970"
            ))
            .with_hint("unset it or set it to e.g. `$(git log -1 --format=%ct)`")
        });
    }
    let out = Command::new("git")
        .current_dir(&ctx.cwd)
        .args(["log", "-1", "--format=%ct"])
        .output();
    Ok(out
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0))
}

fn image_version(
    ctx: &Context,
    args: &BuildArgs,
    spec: &ImageSpec,
    run: &slipway_state::RunInfo,
) -> Option<String> {
    let from_config = ctx
        .settings
        .config
        .config
        .images
        .iter()
        .find(|i| i.name == spec.name)
        .and_then(|i| i.version.clone());
    args.app_version.clone().or(from_config).or_else(|| {
        run.git_ref
            .as_deref()
            .and_then(|r| {
                r.strip_prefix("refs/tags/")
                    .or(if run.ci == slipway_state::CiKind::Gitlab {
                        Some(r)
                    } else {
                        None
                    })
            })
            .map(str::to_owned)
            .filter(|_| {
                // On GitLab `ref` is a tag only when CI_COMMIT_TAG is set.
                run.ci != slipway_state::CiKind::Gitlab
                    || ctx.env.non_empty(slipway_env::CI_COMMIT_TAG).is_some()
            })
    })
}

fn source_url(ctx: &Context, run: &slipway_state::RunInfo) -> Option<String> {
    if let (Some(server), Some(repo)) = (&run.server_url, &run.repository) {
        return Some(format!("{}/{repo}", server.trim_end_matches('/')));
    }
    let out = Command::new("git")
        .current_dir(&ctx.cwd)
        .args(["remote", "get-url", "origin"])
        .output()
        .ok()?;
    let url = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    // Local paths say nothing to whoever reads the image.
    let looks_remote = url.contains("://") || url.starts_with("git@");
    (out.status.success() && looks_remote).then(|| slipway_types::redact_url(&url))
}

fn usage(image: &str, msg: impl std::fmt::Display) -> Failure {
    Failure::usage(format!("image `{image}`: {msg}"))
}

fn parse_user(image: &str, user: Option<&str>) -> Result<(u64, u64, String), Failure> {
    let Some(u) = user else {
        return Ok((
            DEFAULT_USER.0,
            DEFAULT_USER.1,
            format!("{}:{}", DEFAULT_USER.0, DEFAULT_USER.1),
        ));
    };
    let (uid, gid) = u.split_once(':').unwrap_or((u, u));
    let parse = |s: &str| {
        s.parse::<u64>().map_err(|_| {
            usage(
                image,
                format!(
                    "user `{u}` must be numeric `uid[:gid]` (a scratch image has no /etc/passwd)"
                ),
            )
        })
    };
    let (uid, gid) = (parse(uid)?, parse(gid)?);
    Ok((uid, gid, format!("{uid}:{gid}")))
}

/// The mode of an extra file; `entry` names it (`files[N] (…)` or `--file …`) as
/// [`checked_file`] does.
fn parse_mode(image: &str, entry: &str, m: Option<&str>) -> Result<u32, Failure> {
    match m {
        None => Ok(0o644),
        Some(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .ok_or_else(|| {
                usage(
                    image,
                    format!("{entry}: mode `{s}` is not an octal mode such as 0644"),
                )
            }),
    }
}

fn compression(
    image: &str,
    kind: Option<CompressionKind>,
    level: Option<i32>,
) -> Result<Compression, Failure> {
    let c = match kind.unwrap_or(CompressionKind::Gzip) {
        CompressionKind::Gzip => Compression::Gzip {
            level: level.unwrap_or(slipway_build::compress::DEFAULT_GZIP_LEVEL),
        },
        CompressionKind::Zstd => Compression::Zstd {
            level: level.unwrap_or(slipway_build::compress::DEFAULT_ZSTD_LEVEL),
        },
    };
    c.validate().map_err(|m| usage(image, m))
}

fn check_name(name: &str) -> Result<(), Failure> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "image name `{name}` is invalid: use letters, digits, `.`, `_` and `-`"
        )))
    }
}

/// Images from flags or from the config.
fn resolve_specs(ctx: &Context, args: &BuildArgs) -> Result<Vec<ImageSpec>, Failure> {
    let adhoc = args.go.is_some() || args.cargo.is_some() || args.binary.is_some();
    if adhoc {
        return Ok(vec![adhoc_spec(ctx, args)?]);
    }
    let config = &ctx.settings.config;
    if config.config.images.is_empty() {
        return Err(Failure::usage("nothing to build: slipway.yaml has no `images:` and no --go, --cargo or --binary was given")
            .with_hint("see `slipway-build --help` and docs/build.md"));
    }
    let mut chosen: Vec<&ImageConfig> = config.config.images.iter().collect();
    if !args.images.is_empty() {
        for want in &args.images {
            if !chosen.iter().any(|i| &i.name == want) {
                let names: Vec<&str> = config
                    .config
                    .images
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect();
                return Err(Failure::usage(format!(
                    "--image {want}: slipway.yaml has no image `{want}` (it has: {})",
                    names.join(", ")
                )));
            }
        }
        chosen.retain(|i| args.images.contains(&i.name));
    }
    let dir = config
        .path
        .as_deref()
        .and_then(Path::parent)
        .map_or_else(|| ctx.cwd.clone(), Path::to_path_buf);
    chosen
        .into_iter()
        .map(|c| config_spec(ctx, args, c, &dir))
        .collect()
}

fn config_spec(
    ctx: &Context,
    args: &BuildArgs,
    c: &ImageConfig,
    dir: &Path,
) -> Result<ImageSpec, Failure> {
    check_name(&c.name)?;
    let rel = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        }
    };
    let builders = [c.go.is_some(), c.cargo.is_some(), c.binary.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if builders != 1 {
        return Err(usage(
            &c.name,
            "give exactly one of `go`, `cargo` or `binary`",
        ));
    }
    let builder = if let Some(g) = &c.go {
        BuilderSpec::Go(GoSpec {
            dir: rel(g.dir.as_deref().unwrap_or(Path::new("."))),
            main: g.main.clone().unwrap_or_else(|| ".".into()),
            ldflags: g.ldflags.clone(),
            tags: g.tags.clone(),
            pie: g.pie,
            env: g.env.clone(),
        })
    } else if let Some(k) = &c.cargo {
        BuilderSpec::Cargo(CargoSpec {
            dir: rel(k.dir.as_deref().unwrap_or(Path::new("."))),
            package: k.package.clone(),
            bin: k.bin.clone(),
            features: k.features.clone(),
            auditable: k.auditable,
            static_crt: k.static_crt.unwrap_or(true),
            targets: k.targets.clone(),
            env: k.env.clone(),
        })
    } else {
        let b = c.binary.as_ref().expect("checked above");
        BuilderSpec::Binary {
            template: b.path.clone(),
            base_dir: dir.to_path_buf(),
        }
    };
    let platforms = if !args.platforms.is_empty() {
        args.platforms.clone()
    } else if c.platforms.is_empty() {
        vec!["linux/amd64".parse().expect("valid platform")]
    } else {
        c.platforms.clone()
    };
    let base_text = args
        .base
        .clone()
        .or_else(|| c.base.clone())
        .unwrap_or_else(|| "scratch".into());
    let base = base_text
        .parse::<slipway_build::BaseSpec>()
        .map_err(|m| usage(&c.name, format!("base: {m}")))?
        .relative_to(dir);
    let mut files = Vec::new();
    for (i, f) in c.files.iter().enumerate() {
        let entry = format!("files[{i}] (src `{}`, dst `{}`)", f.src.display(), f.dst);
        let mode = parse_mode(&c.name, &entry, f.mode.as_deref())?;
        files.push(checked_file(
            &c.name,
            &entry,
            dir,
            &rel(&f.src),
            &f.dst,
            mode,
        )?);
    }
    files.extend(flag_files(&c.name, &args.files, &ctx.cwd)?);
    let ca_bundle = match &c.ca_bundle {
        None | Some(CaBundle::Host(false)) => None,
        Some(CaBundle::Host(true)) => Some(host_ca_bundle(&c.name)?),
        Some(CaBundle::File(p)) => Some(rel(p)),
    };
    let (uid, gid, user) = parse_user(&c.name, c.user.as_deref())?;
    let path = c
        .path
        .clone()
        .unwrap_or_else(|| format!("/usr/local/bin/{}", c.name));
    let kind = args.compression.map(|a| match a {
        CompressionArg::Gzip => CompressionKind::Gzip,
        CompressionArg::Zstd => CompressionKind::Zstd,
    });
    Ok(ImageSpec {
        name: c.name.clone(),
        builder,
        platforms,
        base,
        runtime: slipway_build::image::RuntimeConfig {
            user,
            entrypoint: c.entrypoint.clone().unwrap_or_else(|| vec![path.clone()]),
            cmd: c.cmd.clone(),
            env: c.env.clone(),
            workdir: c.workdir.clone(),
            ports: c.ports.clone(),
            labels: c.labels.clone(),
        },
        path,
        files,
        ca_bundle,
        uid,
        gid,
        annotations: c.annotations.clone(),
        compression: compression(&c.name, kind.or(c.compression), args.level.or(c.level))?,
        upx: (c.upx || args.upx).then(|| {
            c.upx_args
                .clone()
                .unwrap_or_else(|| vec!["-q".into(), "--best".into()])
        }),
    })
}

fn adhoc_spec(ctx: &Context, args: &BuildArgs) -> Result<ImageSpec, Failure> {
    let rel = |p: &Path| ctx.cwd.join(p);
    let builder = if let Some(pkg) = &args.go {
        BuilderSpec::Go(GoSpec {
            dir: rel(args.dir.as_deref().unwrap_or(Path::new("."))),
            main: pkg.clone(),
            ..GoSpec::default()
        })
    } else if let Some(d) = &args.cargo {
        BuilderSpec::Cargo(CargoSpec {
            dir: rel(d),
            static_crt: true,
            ..CargoSpec::default()
        })
    } else {
        BuilderSpec::Binary {
            template: args.binary.clone().unwrap_or_default(),
            base_dir: ctx.cwd.clone(),
        }
    };
    let name = match &args.name {
        Some(n) => n.clone(),
        None => {
            return Err(Failure::usage(
                "--name is required with --go, --cargo or --binary",
            ));
        }
    };
    check_name(&name)?;
    let path = format!("/usr/local/bin/{name}");
    let base = args
        .base
        .as_deref()
        .unwrap_or("scratch")
        .parse::<slipway_build::BaseSpec>()
        .map_err(|m| Failure::usage(format!("--base: {m}")))?
        .relative_to(&ctx.cwd);
    let kind = args.compression.map(|a| match a {
        CompressionArg::Gzip => CompressionKind::Gzip,
        CompressionArg::Zstd => CompressionKind::Zstd,
    });
    Ok(ImageSpec {
        name: name.clone(),
        builder,
        platforms: if args.platforms.is_empty() {
            vec!["linux/amd64".parse().expect("valid")]
        } else {
            args.platforms.clone()
        },
        base,
        runtime: slipway_build::image::RuntimeConfig {
            user: format!("{}:{}", DEFAULT_USER.0, DEFAULT_USER.1),
            entrypoint: vec![path.clone()],
            ..Default::default()
        },
        path,
        files: flag_files(&name, &args.files, &ctx.cwd)?,
        ca_bundle: None,
        uid: DEFAULT_USER.0,
        gid: DEFAULT_USER.1,
        annotations: BTreeMap::new(),
        compression: compression(&name, kind, args.level)?,
        upx: args.upx.then(|| vec!["-q".into(), "--best".into()]),
    })
}

fn flag_files(image: &str, files: &[String], cwd: &Path) -> Result<Vec<FileSpec>, Failure> {
    files
        .iter()
        .map(|f| {
            let parts: Vec<&str> = f.splitn(3, ':').collect();
            let entry = format!("--file `{f}`");
            match parts.as_slice() {
                [src, dst] | [src, dst, _] => checked_file(
                    image,
                    &entry,
                    cwd,
                    &cwd.join(src),
                    dst,
                    parse_mode(image, &entry, parts.get(2).copied())?,
                ),
                _ => Err(Failure::usage(format!(
                    "--file `{f}` is not SRC:DST[:MODE]"
                ))),
            }
        })
        .collect()
}

/// An extra file, checked before anything is built: its source must be a file inside `root`
/// (the project: the directory of slipway.yaml, or the current directory for `--file`) once
/// `..` and symlinks are resolved, and its destination must stay inside the image.
fn checked_file(
    image: &str,
    entry: &str,
    root: &Path,
    src: &Path,
    dst: &str,
    mode: u32,
) -> Result<FileSpec, Failure> {
    slipway_build::layer::image_path(dst).map_err(|m| usage(image, format!("{entry}: dst {m}")))?;
    let real = src.canonicalize().map_err(|e| {
        usage(
            image,
            format!("{entry}: src `{}` cannot be read: {e}", src.display()),
        )
    })?;
    let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    if !real.starts_with(&real_root) {
        return Err(usage(
            image,
            format!(
                "{entry}: src resolves to `{}`, outside the project directory `{}`",
                real.display(),
                real_root.display()
            ),
        )
        .with_hint("extra files must come from inside the project; copy the file into it"));
    }
    if !real.is_file() {
        return Err(usage(
            image,
            format!("{entry}: src `{}` is not a regular file", src.display()),
        ));
    }
    Ok(FileSpec {
        src: real,
        dst: dst.to_owned(),
        mode,
    })
}

fn host_ca_bundle(image: &str) -> Result<PathBuf, Failure> {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .ok_or_else(|| {
        usage(
            image,
            "ca_bundle: true, but this machine has no CA bundle; give the path of one",
        )
    })
}
