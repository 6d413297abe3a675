//! Installs what the local stack needs, idempotently: seconds when nothing is missing.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{repo_root, run};

const APT_PACKAGES: [&str; 5] = [
    "postgresql-15",
    "postgresql-15-cron",
    "postgresql-15-pgtap",
    "libtap-parser-sourcehandler-pgtap-perl",
    "postgresql-plpython3-15",
];
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const WORKER_BUILD_VERSION: &str = "0.8.7";
const POSTRUST_VERSION: &str = "3.1.0";
const CARGO_MUTANTS_VERSION: &str = "27.1.0";

pub fn ensure_all() -> Result<()> {
    ensure_apt_packages()?;
    ensure_wasm_target()?;
    ensure_cargo_tool("worker-build", "worker-build", WORKER_BUILD_VERSION)?;
    ensure_cargo_tool(
        "wasm-bindgen-cli",
        "wasm-bindgen",
        &locked_version("wasm-bindgen")?,
    )?;
    ensure_cargo_tool("postrust-server", "postrust", POSTRUST_VERSION)?;
    ensure_npm_packages()?;
    ensure_python_packages()
}

fn ensure_apt_packages() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .into_iter()
        .filter(|p| !dpkg_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
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
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup is required")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// cargo-mutants, for `cargo xtask mutants` only (the stack does not need it).
pub fn ensure_cargo_mutants() -> Result<()> {
    ensure_cargo_tool("cargo-mutants", "cargo-mutants", CARGO_MUTANTS_VERSION)
}

/// `cargo install` at an exact version; `--locked` is avoided because the registry here can lack
/// the newest patch releases a crate's own lockfile names.
fn ensure_cargo_tool(krate: &str, binary: &str, version: &str) -> Result<()> {
    let list = Command::new("cargo").args(["install", "--list"]).output()?;
    let wanted = format!("{krate} v{version}:");
    let listed = String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.starts_with(&wanted));
    if listed && cargo_bin(binary).exists() {
        return Ok(());
    }
    eprintln!("installing {krate} {version} (one-time, a few minutes)");
    run(Command::new("cargo").args(["install", krate, "--version", &format!("={version}")]))
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
fn ensure_npm_packages() -> Result<()> {
    let root = repo_root();
    when_changed(
        &root.join("package-lock.json"),
        &root.join("node_modules/.xtask-installed"),
        || {
            run(Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&root))
        },
    )
}

/// The official Python clients the SDK contract tests use, in a venv under target/.
fn ensure_python_packages() -> Result<()> {
    let root = repo_root();
    let venv = python_venv();
    when_changed(
        &root.join("tests/sdk/requirements.txt"),
        &venv.join(".xtask-installed"),
        || {
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
            run(Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--requirement",
                ])
                .arg(root.join("tests/sdk/requirements.txt")))
        },
    )
}

pub fn python_venv() -> std::path::PathBuf {
    repo_root().join("target/pyenv")
}

/// Runs `install` unless `stamp` records the current content of `input`.
fn when_changed(input: &Path, stamp: &Path, install: impl FnOnce() -> Result<()>) -> Result<()> {
    let content = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let fingerprint = format!("{:x}", fnv1a(&content));
    if std::fs::read_to_string(stamp).is_ok_and(|s| s == fingerprint) {
        return Ok(());
    }
    install()?;
    std::fs::write(stamp, fingerprint)?;
    Ok(())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}
