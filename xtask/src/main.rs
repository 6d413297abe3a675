//! `cargo xtask dev | test | setup | bench | mutants | build-worker | docs | types | smoke`: the
//! project's two commands and their helpers.

mod bench;
mod deploy;
mod docs;
mod install;
mod mutants;
mod postgres;
mod service;
mod smoke;
mod stack;
mod test;
mod types;
mod web_app;
mod worker;
mod workerd;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use tokio::signal::unix::{signal, SignalKind};

use devstack::Signing;
use stack::{Mode, Ports, Stack, SEED_USERS};

const USAGE: &str = "usage: cargo xtask <command>
  setup                  install what the local stack needs and is missing (dev and test run it
                         when their check finds something missing)
  dev [--reset] [--legacy-jwt]
                         install what is missing, then run the whole local stack until Ctrl-C
                         (--reset: drop the local database and start from the migrations again;
                         --legacy-jwt: Auth signs access tokens with the HS256 secret, as older
                         projects do, instead of the ES256 key in the JWKS)
  test [SUITE...]        install what is missing, then run every test suite on a throwaway stack
                         (or only the named ones: unit deploy wasm-build types pgtap e2e abuse
                         sdk browser supabase-cli e2e-outage; e2e:NAME runs tests/e2e/tests/api/NAME.rs,
                         pgtap:TEXT the pgTAP files whose name holds TEXT)
  bench [SECTION...]     measure speed and size targets, printed as a table
                         (sections: size healthz rls ai content credits publishing warm-start;
                         default: all)
  mutants [--list] [MODULE...] [-- CARGO_MUTANTS_OPTION...]
                         mutation testing (cargo-mutants) of the worker's security- and
                         money-critical modules against its unit tests, with caught/missed/
                         timeout/unviable per module (default: all the modules listed in
                         xtask/src/mutants.rs); slow, so not part of `test`; after `--`,
                         options of cargo-mutants (a sample: --shard 0/10 --sharding
                         round-robin; chosen mutants: --re REGEX)
  build-worker [--optimize]
                         build the worker to wasm (what wrangler.toml's build command runs)
  docs                   write docs/api.md's operation reference from functions/openapi.json
  types                  write the client types of the database (types/database.ts for
                         supabase-js, types/Database.swift for supabase-swift) and
                         docs/data-model.md's column lists from a database built from the
                         migrations (`test` checks they are current)
  smoke --platform <x|linkedin|facebook|instagram|tiktok|pinterest|youtube>
        [--post TEXT [--media FILE] [--media-url URL] [--options JSON]]
                         against the real platform, with credentials from the environment
                         (docs/platforms.md#smoke-test): a token refresh (or Facebook's
                         long-lived exchange) and the account lookup, and with --post one real
                         post, through the worker's own platform code; never run by test or CI";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = match args.as_slice() {
        ["dev", options @ ..]
            if options
                .iter()
                .all(|o| ["--reset", "--legacy-jwt"].contains(o)) =>
        {
            let signing = if options.contains(&"--legacy-jwt") {
                Signing::Hs256
            } else {
                Signing::Es256
            };
            with_runtime(dev(options.contains(&"--reset"), signing))
        }
        ["setup"] => install::setup(),
        ["test", suites @ ..] => test::Selection::parse(suites)
            .and_then(|selection| with_runtime(test::run_all(selection))),
        ["bench", sections @ ..] => with_runtime(bench::run(sections)),
        ["mutants", options @ ..] => mutants::run(options),
        ["build-worker"] => build_worker(false),
        ["build-worker", "--optimize"] => build_worker(true),
        ["docs"] => docs::write(),
        ["types"] => types::write(),
        ["smoke", options @ ..] => smoke::run(options),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(error) = outcome {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn with_runtime(future: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(future)
}

fn build_worker(optimize: bool) -> Result<()> {
    // dev and test set FAST_BUILD_ENV for the build wrangler runs: they installed the tools and
    // built already, so an up-to-date module is reused; a deploy always gets a fresh optimized one.
    let fast = std::env::var_os(worker::FAST_BUILD_ENV).is_some() && !optimize;
    if fast && worker::is_up_to_date()? {
        return Ok(());
    }
    install::ensure_build_tools()?;
    worker::build(!fast)
}

async fn dev(reset: bool, signing: Signing) -> Result<()> {
    install::ensure_all()?;
    let mut stack = Stack::start(Mode::Dev { reset, signing }, Ports::DEV).await?;
    let [alice, bob] = &SEED_USERS;
    println!(
        "\nLocal stack is up (Ctrl-C stops everything).\n\
         \n  Supabase API   {supabase}   (REST at /rest/v1, JWKS at /auth/v1/.well-known/jwks.json)\
         \n  Postgres       {db}\
         \n  Worker         {worker}\
         \n  Web app        {web_app}   (examples/web: open it in a browser)\
         \n\n  anon key          {anon}\
         \n  service_role key  {service}\
         \n\n  {alice_email} token (1 h):\n  {alice_token}\
         \n\n  {bob_email} token (1 h):\n  {bob_token}\
         \n\n  try: curl -H \"Authorization: Bearer $TOKEN\" {worker}/v1/me\n",
        supabase = stack.supabase_url(),
        db = stack.postgres.url(),
        worker = stack.worker_url(),
        web_app = stack.web_app_url(),
        anon = stack.keys.anon_key(),
        service = stack.keys.service_role_key(),
        alice_email = alice.email,
        alice_token = stack.user_token(alice),
        bob_email = bob.email,
        bob_token = stack.user_token(bob),
    );
    let mut health = tokio::time::interval(std::time::Duration::from_secs(2));
    // Stopped by Ctrl-C, by `kill` or a process manager (SIGTERM), or with its terminal
    // (SIGHUP): each way the stack's processes stop with it, none is left running.
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = hangup.recv() => break,
            _ = health.tick() => stack.check_running()?,
        }
    }
    eprintln!("\nstopping the local stack");
    Ok(())
}

/// The repository root (xtask's parent folder).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

/// Runs a command to completion, failing on a non-zero exit.
pub fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    if !status.success() {
        bail!("{:?} failed ({status})", command.get_program());
    }
    Ok(())
}
