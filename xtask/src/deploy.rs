//! The `deploy` suite: `wrangler deploy --dry-run` run as on a laptop or CI runner that has Rust
//! and Node but no root and none of the test stack's tools, and the bundle it would upload
//! checked as Cloudflare takes it.
//!
//! Building the worker must need only Rust and Node. A clean clone would rebuild every crate
//! (minutes on two cores), so the suite checks the property itself on this checkout: the build
//! runs as an unprivileged user, with a PATH whose first entries are failing stand-ins for apt,
//! dpkg, sudo, the Postgres tools, Python and the Supabase CLI; any call to one fails the suite.
//! Run as root (as here), the build runs as `nobody` (see `AS_NOBODY`): its uid is not 0, so
//! nothing that needs root (apt, `install_apt_packages`) would proceed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::install::cargo_bin;
use crate::repo_root;
use crate::workerd::{self, Code};

/// What a deploy must not need: package managers, root, the stack's database and Python tools.
const FORBIDDEN: &[&str] = &[
    "apt",
    "apt-get",
    "dpkg",
    "dpkg-query",
    "sudo",
    "psql",
    "pg_ctl",
    "pg_ctlcluster",
    "initdb",
    "postgres",
    "pg_prove",
    "python",
    "python3",
    "pip",
    "pip3",
    "supabase",
];

/// Cloudflare's limit on a Worker's compressed size on the Workers Free plan (Paid: 10 MiB);
/// https://developers.cloudflare.com/workers/platform/limits/#worker-size
const FREE_PLAN_COMPRESSED_LIMIT: usize = 3 * 1024 * 1024;

/// The `nobody` user the build runs as when the suite runs as root.
const UNPRIVILEGED_ID: &str = "65534";

/// Runs the dry run and the bundle's checks; (passed, failed) checks.
pub async fn check() -> Result<(u32, u32)> {
    let dir = repo_root().join("target/deploy-check");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(dir.join("logs"))?;
    let calls_log = dir.join("forbidden-calls.log");
    let stand_ins = forbidden_stand_ins(&dir.join("forbidden-bin"), &calls_log)?;
    let bundle = dir.join("bundle");
    let dry_run = dry_run(&dir, &stand_ins, &bundle);

    let mut checks = Checks::default();
    let calls = std::fs::read_to_string(&calls_log).unwrap_or_default();
    checks.record(
        "the build called no package manager, database, Python or Supabase tool",
        calls.is_empty(),
        &calls,
    );
    let built = dry_run.is_ok();
    checks.record_result(
        "wrangler deploy --dry-run built and bundled the worker",
        dry_run,
    );
    if !built {
        return Ok((checks.passed, checks.failed));
    }
    let entry = bundle_entry()?;
    checks.record_result(
        "the main module and what it imports",
        entry_resolves(&bundle, &entry),
    );
    let compressed = compressed_size(&bundle)?;
    checks.record(
        "the compressed bundle fits the Workers Free plan's 3 MiB",
        compressed <= FREE_PLAN_COMPRESSED_LIMIT,
        &format!("{:.0} KiB gzip", compressed as f64 / 1024.0),
    );
    let served = serves_health(&dir, &bundle, &entry).await;
    checks.record_result(
        "workerd serves the bundle under wrangler.toml's compatibility date and flags",
        served,
    );
    Ok((checks.passed, checks.failed))
}

#[derive(Default)]
struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    fn record(&mut self, name: &str, ok: bool, detail: &str) {
        if ok {
            self.passed += 1;
            println!("ok - {name}");
        } else {
            self.failed += 1;
            println!("not ok - {name}: {detail}");
        }
    }

    fn record_result(&mut self, name: &str, outcome: Result<()>) {
        let detail = outcome.as_ref().err().map(|e| format!("{e:#}"));
        self.record(name, outcome.is_ok(), &detail.unwrap_or_default());
    }
}

/// A directory of scripts named after the forbidden tools, each recording its call and failing.
fn forbidden_stand_ins(bin: &Path, calls_log: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(bin)?;
    for tool in FORBIDDEN {
        let script = format!(
            "#!/bin/sh\necho \"{tool} $*\" >> '{}'\nexit 97\n",
            calls_log.display()
        );
        let path = bin.join(tool);
        std::fs::write(&path, script)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(bin.to_owned())
}

/// `wrangler deploy --dry-run --env production --outdir bundle`, whose build command is
/// `cargo xtask build-worker`: with a clean environment (nothing of a stack's settings), the
/// stand-ins first in PATH, and an unprivileged user.
fn dry_run(dir: &Path, stand_ins: &Path, bundle: &Path) -> Result<()> {
    let root = repo_root();
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let cargo_home = cargo_bin("cargo")
        .parent()
        .and_then(Path::parent)
        .context("cargo's home")?
        .to_owned();
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".rustup")))
        .context("rustup's home")?;
    let path = std::env::join_paths(
        [stand_ins.to_owned(), cargo_home.join("bin")]
            .into_iter()
            .chain(["/usr/local/bin", "/usr/bin", "/bin"].map(PathBuf::from)),
    )?;
    let wrangler = root.join("node_modules/.bin/wrangler");
    let mut command = if unsafe { libc::geteuid() } == 0 {
        as_nobody(&dir.join("mounts"), &cargo_home, &rustup_home, &wrangler)?
    } else {
        Command::new(wrangler)
    };
    command
        .args(["deploy", "--dry-run", "--env", "production", "--outdir"])
        .arg(bundle)
        .current_dir(&root)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("CARGO_HOME", &cargo_home)
        .env("RUSTUP_HOME", &rustup_home)
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false");
    crate::run(&mut command).context("wrangler deploy --dry-run")
}

/// Runs `program` as `nobody` where root's toolchain stays reachable at the same paths: in a
/// mount namespace of its own, a world-readable tmpfs covers the home holding the cargo and
/// rustup homes (root's home is mode 700), with both homes mounted back in it. The build keeps
/// CAP_DAC_OVERRIDE to write the checkout's root-owned target/ and functions/build.
const AS_NOBODY: &str = r#"set -e
stage=$1 cargo_home=$2 rustup_home=$3
shift 3
mkdir -p "$stage/cargo" "$stage/rustup"
mount --bind "$cargo_home" "$stage/cargo"
mount --bind "$rustup_home" "$stage/rustup"
mount -t tmpfs -o mode=755 tmpfs "$(dirname "$cargo_home")"
mkdir "$cargo_home" "$rustup_home"
mount --bind "$stage/cargo" "$cargo_home"
mount --bind "$stage/rustup" "$rustup_home"
exec "$@""#;

fn as_nobody(
    stage: &Path,
    cargo_home: &Path,
    rustup_home: &Path,
    program: &Path,
) -> Result<Command> {
    if cargo_home.parent() != rustup_home.parent() {
        bail!(
            "the cargo and rustup homes are not in one folder; run the deploy suite unprivileged"
        );
    }
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "sh", "-c", AS_NOBODY, "sh"])
        .args([stage, cargo_home, rustup_home])
        .args([
            "setpriv",
            &format!("--reuid={UNPRIVILEGED_ID}"),
            &format!("--regid={UNPRIVILEGED_ID}"),
            "--clear-groups",
            "--inh-caps=+dac_override",
            "--ambient-caps=+dac_override",
        ])
        .arg(program);
    Ok(command)
}

/// The bundle's main module: wrangler.toml's `main`, bundled by esbuild to `<stem>.js`.
fn bundle_entry() -> Result<String> {
    let wrangler = std::fs::read_to_string(repo_root().join("wrangler.toml"))?;
    let main = wrangler
        .lines()
        .find_map(|line| line.strip_prefix("main = "))
        .context("wrangler.toml has no main")?
        .trim_matches('"');
    let stem = Path::new(main)
        .file_stem()
        .context("main names a file")?
        .to_string_lossy();
    Ok(format!("{stem}.js"))
}

/// The entry is in the bundle and every module it imports by a relative path is too (the
/// runtime's own, `cloudflare:…`, need not be).
fn entry_resolves(bundle: &Path, entry: &str) -> Result<()> {
    let code = std::fs::read_to_string(bundle.join(entry))
        .with_context(|| format!("the bundle has no {entry}"))?;
    let imports: Vec<&str> = code
        .split("from \"./")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    if !imports.iter().any(|name| name.ends_with(".wasm")) {
        bail!("{entry} imports no wasm module");
    }
    match imports.iter().find(|name| !bundle.join(name).is_file()) {
        Some(missing) => bail!("{entry} imports ./{missing}, which the bundle lacks"),
        None => Ok(()),
    }
}

/// The gzip size of the modules Cloudflare stores (source maps and the README are not uploaded).
fn compressed_size(bundle: &Path) -> Result<usize> {
    let mut total = 0;
    for file in std::fs::read_dir(bundle)? {
        let path = file?.path();
        let uploaded = path
            .extension()
            .is_some_and(|extension| extension == "js" || extension == "wasm");
        if uploaded {
            let mut gzip = GzEncoder::new(Vec::new(), Compression::best());
            gzip.write_all(&std::fs::read(&path)?)?;
            total += gzip.finish()?.len();
        }
    }
    Ok(total)
}

/// workerd loads the bundle with wrangler.toml's compatibility date (and refuses flags it is
/// not given) and the worker answers `/healthz`.
async fn serves_health(dir: &Path, bundle: &Path, entry: &str) -> Result<()> {
    let code = Code::Bundle { dir: bundle, entry };
    let worker = workerd::serve(dir, "bundle-workerd", code, &[], None).await?;
    let status = reqwest::get(format!("{}/healthz", worker.url))
        .await?
        .status();
    if status != 200 {
        bail!("/healthz answered {status}");
    }
    Ok(())
}
