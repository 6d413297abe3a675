//! `cargo xtask setup`: installs what the local stack needs. `dev` and `test` first check, without
//! writing anything, what is missing, and run the setup only then: nothing runs `apt-get` or
//! writes to `/etc` on a machine that has everything. Building the worker (`build-worker`, which
//! `wrangler deploy` runs) needs only the build tools: Rust and Node, never root, apt, Postgres,
//! Python or the Supabase CLI.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{repo_root, run};

const APT_PACKAGES: [&str; 7] = [
    "postgresql-15",
    "postgresql-15-cron",
    "postgresql-15-pgtap",
    // Logical decoding to JSON, as Supabase Realtime reads the database's changes.
    "postgresql-15-wal2json",
    "libtap-parser-sourcehandler-pgtap-perl",
    "postgresql-plpython3-15",
    // The browser the reference web app's tests drive (through npm playwright-core).
    "chromium",
];
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const WORKER_BUILD_VERSION: &str = "0.8.7";
const POSTRUST_VERSION: &str = "3.1.0";
const CARGO_MUTANTS_VERSION: &str = "27.1.0";

/// One thing the stack needs that can be missing.
enum Requirement {
    AptPackages(Vec<&'static str>),
    WasmTarget,
    CargoTool {
        krate: &'static str,
        binary: &'static str,
        version: String,
    },
    NpmPackages,
    PythonPackages,
}

/// Installs whatever is missing when something is (what `dev` and `test` run first).
pub fn ensure_all() -> Result<()> {
    ensure(missing()?)
}

/// Installs what building the worker needs when something is missing: the wasm target,
/// worker-build, wasm-bindgen and the npm packages (esbuild, wasm-opt); no root, apt or stack.
pub fn ensure_build_tools() -> Result<()> {
    ensure(missing_among(build_requirements()?)?)
}

fn ensure(missing: Vec<Requirement>) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing.iter().map(Requirement::name).collect();
    eprintln!("missing: {}; installing", names.join(", "));
    install(missing)
}

/// `cargo xtask setup`: installs what is missing, and says so when nothing is.
pub fn setup() -> Result<()> {
    let missing = missing()?;
    if missing.is_empty() {
        println!("everything the local stack needs is installed");
        return Ok(());
    }
    install(missing)
}

/// Cargo tools compile (CPU) while the packages download and unpack (network and disk): the
/// two run side by side, each in its own order.
fn install(missing: Vec<Requirement>) -> Result<()> {
    let (compiled, fetched): (Vec<_>, Vec<_>) = missing
        .into_iter()
        .partition(|r| matches!(r, Requirement::CargoTool { .. }));
    std::thread::scope(|scope| {
        let compiling = scope.spawn(|| compiled.iter().try_for_each(Requirement::install));
        let fetching = fetched.iter().try_for_each(Requirement::install);
        let compiling = compiling
            .join()
            .map_err(|_| anyhow::anyhow!("installing the cargo tools panicked"))?;
        fetching.and(compiling)
    })
}

/// What is not installed, found without installing or writing anything.
fn missing() -> Result<Vec<Requirement>> {
    let apt: Vec<&str> = APT_PACKAGES
        .into_iter()
        .filter(|p| !dpkg_installed(p))
        .collect();
    let stack_requirements = [
        Requirement::AptPackages(apt),
        Requirement::CargoTool {
            krate: "postrust-server",
            binary: "postrust",
            version: POSTRUST_VERSION.to_owned(),
        },
        Requirement::PythonPackages,
    ];
    missing_among(build_requirements()?.into_iter().chain(stack_requirements))
}

/// What `worker::build` runs: the wasm target, worker-build, wasm-bindgen at the version the
/// lock resolved, and esbuild and wasm-opt from node_modules.
fn build_requirements() -> Result<Vec<Requirement>> {
    let wasm_bindgen_version = locked_version("wasm-bindgen")?;
    Ok(vec![
        Requirement::WasmTarget,
        Requirement::CargoTool {
            krate: "worker-build",
            binary: "worker-build",
            version: WORKER_BUILD_VERSION.to_owned(),
        },
        Requirement::CargoTool {
            krate: "wasm-bindgen-cli",
            binary: "wasm-bindgen",
            version: wasm_bindgen_version,
        },
        Requirement::NpmPackages,
    ])
}

fn missing_among(candidates: impl IntoIterator<Item = Requirement>) -> Result<Vec<Requirement>> {
    let mut missing = Vec::new();
    for requirement in candidates {
        if !requirement.is_present()? {
            missing.push(requirement);
        }
    }
    Ok(missing)
}

impl Requirement {
    fn name(&self) -> String {
        match self {
            Self::AptPackages(packages) => packages.join(" "),
            Self::WasmTarget => format!("rust target {WASM_TARGET}"),
            Self::CargoTool { krate, version, .. } => format!("{krate} {version}"),
            Self::NpmPackages => "npm packages (package-lock.json)".to_owned(),
            Self::PythonPackages => "Python SDK clients (tests/sdk/requirements.txt)".to_owned(),
        }
    }

    fn is_present(&self) -> Result<bool> {
        Ok(match self {
            Self::AptPackages(packages) => packages.is_empty(),
            Self::WasmTarget => wasm_target_installed()?,
            Self::CargoTool {
                krate,
                binary,
                version,
            } => cargo_tool_installed(krate, binary, version)?,
            Self::NpmPackages => npm_stamp().is_current()?,
            Self::PythonPackages => python_stamp().is_current()?,
        })
    }

    fn install(&self) -> Result<()> {
        match self {
            Self::AptPackages(packages) => install_apt_packages(packages),
            Self::WasmTarget => run(Command::new("rustup").args(["target", "add", WASM_TARGET])),
            Self::CargoTool { krate, version, .. } => install_cargo_tool(krate, version),
            Self::NpmPackages => npm_stamp().record_after(|| {
                run(Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(repo_root()))
            }),
            Self::PythonPackages => python_stamp().record_after(install_python_packages),
        }
    }
}

fn install_apt_packages(missing: &[&str]) -> Result<()> {
    if unsafe { libc::geteuid() } != 0 {
        bail!(
            "missing Debian packages; run as root: apt-get install {}",
            missing.join(" ")
        );
    }
    eprintln!("installing {}", missing.join(" "));
    // Our clusters live under target/; keep the package from creating and starting its own.
    std::fs::create_dir_all("/etc/postgresql-common")?;
    std::fs::write(
        "/etc/postgresql-common/createcluster.conf",
        "create_main_cluster = false\n",
    )?;
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn wasm_target_installed() -> Result<bool> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is required")?;
    Ok(String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET))
}

/// cargo-mutants, for `cargo xtask mutants` only (the stack does not need it).
pub fn ensure_cargo_mutants() -> Result<()> {
    if cargo_tool_installed("cargo-mutants", "cargo-mutants", CARGO_MUTANTS_VERSION)? {
        return Ok(());
    }
    install_cargo_tool("cargo-mutants", CARGO_MUTANTS_VERSION)
}

fn cargo_tool_installed(krate: &str, binary: &str, version: &str) -> Result<bool> {
    let list = Command::new("cargo").args(["install", "--list"]).output()?;
    let wanted = format!("{krate} v{version}:");
    let listed = String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.starts_with(&wanted));
    Ok(listed && cargo_bin(binary).exists())
}

/// `cargo install` at an exact version; `--locked` is avoided because the registry here can lack
/// the newest patch releases a crate's own lockfile names. The tools build in one shared target
/// directory, so the dependencies they have in common (serde, syn, tokio, ...) compile once.
fn install_cargo_tool(krate: &str, version: &str) -> Result<()> {
    eprintln!("installing {krate} {version} (one-time, a few minutes)");
    run(Command::new("cargo")
        .args(["install", krate, "--version", &format!("={version}")])
        .arg("--target-dir")
        .arg(repo_root().join("target/cargo-install")))
}

pub fn cargo_bin(binary: &str) -> std::path::PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    home.join("bin").join(binary)
}

/// The version Cargo.lock resolved for `package`: wasm-bindgen's CLI must match its library exactly.
fn locked_version(package: &str) -> Result<String> {
    let lock =
        std::fs::read_to_string(repo_root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        + needle.len();
    Ok(lock[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// `npm ci` whenever package-lock.json changed since the last install.
fn npm_stamp() -> Stamp {
    let root = repo_root();
    Stamp {
        input: root.join("package-lock.json"),
        stamp: root.join("node_modules/.xtask-installed"),
    }
}

/// The official Python clients the SDK contract tests use, in a venv under target/, whenever
/// their requirements changed.
fn python_stamp() -> Stamp {
    Stamp {
        input: repo_root().join("tests/sdk/requirements.txt"),
        stamp: python_venv().join(".xtask-installed"),
    }
}

fn install_python_packages() -> Result<()> {
    let venv = python_venv();
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--requirement",
        ])
        .arg(repo_root().join("tests/sdk/requirements.txt")))
}

pub fn python_venv() -> std::path::PathBuf {
    repo_root().join("target/pyenv")
}

/// An install that is current while `stamp` records the content of `input`.
struct Stamp {
    input: std::path::PathBuf,
    stamp: std::path::PathBuf,
}

impl Stamp {
    fn is_current(&self) -> Result<bool> {
        let fingerprint = self.fingerprint()?;
        Ok(std::fs::read_to_string(&self.stamp).is_ok_and(|s| s == fingerprint))
    }

    fn record_after(&self, install: impl FnOnce() -> Result<()>) -> Result<()> {
        install()?;
        Ok(std::fs::write(&self.stamp, self.fingerprint()?)?)
    }

    fn fingerprint(&self) -> Result<String> {
        let content = std::fs::read(&self.input)
            .with_context(|| format!("reading {}", self.input.display()))?;
        Ok(format!("{:x}", fnv1a(&content)))
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}
