//! `cargo xtask test`: native unit tests, pgTAP, and end-to-end tests against the worker running
//! in workerd, on a throwaway stack. Prints one summary line per suite; fails if any test failed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::postgres::{Cluster, Durability};
use crate::stack::{free_port, KeyStyle, Mode, Ports, SecondWorker, Stack};
use crate::{install, repo_root, worker};

/// Counts of one suite.
#[derive(Default, Clone, Copy)]
struct Tally {
    passed: u32,
    failed: u32,
}

struct SuiteResult {
    name: &'static str,
    /// None for a build step, which is checked but counts as no test.
    tally: Option<Tally>,
    /// Set when the suite could not run at all (a build error, a stack that did not start).
    error: Option<String>,
    seconds: f64,
}

/// Which suites to run: all of them, or those named on the command line. `e2e:NAME` runs one
/// e2e module (`tests/e2e/tests/api/NAME.rs`; `e2e:NAME::TEST` one of its tests), `pgtap:TEXT`
/// the pgTAP files whose name holds TEXT, so a change can be checked by its own suites before
/// the whole run.
pub struct Selection(Vec<String>);

impl Selection {
    pub const SUITES: &'static [&'static str] = &[
        "unit",
        "deploy",
        "wasm-build",
        "types",
        "pgtap",
        "e2e",
        "e2e-legacy-keys",
        "abuse",
        "sdk",
        "browser",
        "supabase-cli",
        "e2e-outage",
    ];

    pub fn parse(args: &[&str]) -> Result<Self> {
        for arg in args {
            let suite = arg.split_once(':').map_or(*arg, |(suite, _)| suite);
            if !Self::SUITES.contains(&suite) {
                anyhow::bail!("unknown suite {arg:?} (suites: {})", Self::SUITES.join(" "));
            }
        }
        Ok(Self(args.iter().map(|arg| arg.to_string()).collect()))
    }

    fn wants(&self, suite: &str) -> bool {
        self.0.is_empty() || self.filters(suite).next().is_some()
    }

    /// What follows `suite:` in each selected argument (`""` for the bare suite name).
    fn filters<'a>(&'a self, suite: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter_map(move |arg| match arg.split_once(':') {
                Some((name, filter)) if name == suite => Some(filter),
                None if arg == suite => Some(""),
                _ => None,
            })
    }

    fn needs_stack(&self) -> bool {
        [
            "pgtap",
            "types",
            "e2e",
            "e2e-legacy-keys",
            "abuse",
            "sdk",
            "browser",
            "supabase-cli",
            "e2e-outage",
        ]
        .iter()
        .any(|suite| self.wants(suite))
    }
}

pub async fn run_all(selection: Selection) -> Result<()> {
    let started = Instant::now();
    install::ensure_all()?;
    let mut results = Vec::new();

    if selection.wants("unit") {
        results.push(timed("unit", || {
            // Unit tests are every crate's lib and bins; the e2e crate's test files need a stack.
            cargo_test(&[WHOLE_WORKSPACE, &["--lib", "--bins"]].concat(), &[])
        }));
    }
    // Before the stack's build: the dry run leaves an optimized module in functions/build.
    if selection.wants("deploy") {
        results.push(timed("deploy", || {
            let checking = crate::deploy::check();
            let (passed, failed) = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(checking)
            })?;
            Ok(Tally { passed, failed })
        }));
    }
    // The stack serves the built module: a run of its suites builds it first, so it is current.
    if selection.wants("wasm-build") || selection.needs_stack() {
        let mut build = timed("wasm build", || {
            worker::build(false).map(|()| Tally::default())
        });
        build.tally = None;
        results.push(build);
    }
    if selection.needs_stack() {
        run_stack_suites(&selection, &mut results).await;
    }

    println!("\n== summary ({:.0} s) ==", started.elapsed().as_secs_f64());
    let mut total = Tally::default();
    let mut broken = false;
    for result in &results {
        let tally = result.tally.unwrap_or_default();
        total.passed += tally.passed;
        total.failed += tally.failed;
        match &result.error {
            Some(error) => {
                broken = true;
                println!(
                    "{}: did not complete: {error}",
                    result.name.replace(' ', "-")
                );
            }
            None if result.tally.is_none() => println!(
                "{}: built, not a test ({:.0} s)",
                result.name.replace(' ', "-"),
                result.seconds
            ),
            None => println!(
                "{}: {} passed, {} failed ({:.0} s)",
                result.name.replace(' ', "-"),
                tally.passed,
                tally.failed,
                result.seconds
            ),
        }
    }
    println!("total: {} passed, {} failed", total.passed, total.failed);
    if broken || total.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

async fn run_stack_suites(selection: &Selection, results: &mut Vec<SuiteResult>) {
    let started = match Ports::free() {
        Ok(ports) => Stack::start(Mode::Throwaway { name: "teststack" }, ports).await,
        Err(error) => Err(error),
    };
    let stack = match started {
        Ok(stack) => stack,
        Err(error) => {
            return results.push(SuiteResult {
                name: "stack",
                tally: None,
                error: Some(format!("{error:#}")),
                seconds: 0.0,
            })
        }
    };
    // First, on the database as the migrations and the seed leave it (later suites add their own
    // objects).
    if selection.wants("types") {
        results.push(timed("types", || {
            let (passed, failed) = crate::types::check(&stack.postgres)?;
            Ok(Tally { passed, failed })
        }));
    }
    if selection.wants("pgtap") {
        let filters: Vec<&str> = selection.filters("pgtap").collect();
        results.push(timed("pgtap", || pg_prove(&stack, &filters)));
    }
    if selection.wants("e2e") {
        results.push(timed("e2e", || {
            let modules = e2e_filters(selection.filters("e2e").filter(|f| !f.is_empty()))?;
            let mut args = WHOLE_WORKSPACE.to_vec();
            args.extend(["--test", E2E_BINARY, "--"]);
            args.extend(modules.iter().map(String::as_str));
            cargo_test(&args, &e2e_env(&stack))
        }));
    }
    if selection.wants("e2e-legacy-keys") {
        results.push(timed("e2e legacy keys", || {
            let legacy = stack.second_worker(KeyStyle::Legacy);
            let legacy =
                tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(legacy))?;
            legacy_key_tests(&stack, &legacy)
        }));
    }
    // After the e2e tests, which it would slow down, and before the suites it must leave a
    // healthy worker for.
    if selection.wants("abuse") {
        results.push(timed("abuse", || {
            cargo_test(
                &[WHOLE_WORKSPACE, &["--test", ABUSE_FILE]].concat(),
                &e2e_env(&stack),
            )
        }));
    }
    if selection.wants("sdk") {
        results.push(timed("sdk python", || {
            pytest(&e2e_env(&stack), &["tests/sdk"])
        }));
        results.push(timed("sdk js", || {
            node_test(&stack, &["tests/sdk/js/".into()], &[])
        }));
    }
    if selection.wants("browser") {
        let files: Vec<&str> = selection
            .filters("browser")
            .filter(|f| !f.is_empty())
            .collect();
        results.push(timed("browser", || browser_tests(&stack, &files)));
    }
    if selection.wants("supabase-cli") {
        results.push(timed("supabase cli", || supabase_cli(&stack.dir)));
    }
    // Last, because it stops the database under the running worker.
    if selection.wants("e2e-outage") {
        results.push(timed("e2e outage", || {
            stack.postgres.stop()?;
            cargo_test(
                &[
                    WHOLE_WORKSPACE,
                    &["--test", "database_outage", "--", "--ignored"],
                ]
                .concat(),
                &e2e_env(&stack),
            )
        }));
    }
}

/// What runs a second time against a worker given the legacy JWT API keys (the stack's own has
/// the current `sb_` keys): the worker's calls of each Supabase API as the service role (Auth's
/// admin invite, Storage, PostgREST RPCs of publishing and readiness) and as a user with the anon
/// key, and supabase-py's invitation flow through it. e2e modules (`me`) or single tests
/// (`publishing::name`), a few so the suite stays short.
const LEGACY_KEY_E2E_TESTS: [&str; 7] = [
    "invitations",
    "storage",
    "me",
    "health",
    "publishing::publish_now_reaches_every_destination_once_with_permalinks_and_history",
    "publishing::a_cron_trigger_publishes_a_due_post_without_pg_cron",
    "publishing::an_image_post_reaches_linkedin_instagram_and_pinterest_once_with_permalinks",
];
const LEGACY_KEY_SDK_TESTS: [&str; 1] = ["tests/sdk/test_invitations.py"];

fn legacy_key_tests(stack: &Stack, legacy: &SecondWorker) -> Result<Tally> {
    let mut env = e2e_env(stack);
    for (name, value) in &mut env {
        match *name {
            "E2E_WORKER_URL" => *value = legacy.url.clone(),
            "E2E_WORKER_LOG" => *value = legacy.log.display().to_string(),
            _ => {}
        }
    }
    let filters = e2e_filters(LEGACY_KEY_E2E_TESTS.into_iter())?;
    let mut args = WHOLE_WORKSPACE.to_vec();
    args.extend(["--test", E2E_BINARY, "--"]);
    args.extend(filters.iter().map(String::as_str));
    let e2e = cargo_test(&args, &env)?;
    let sdk = pytest(&env, &LEGACY_KEY_SDK_TESTS)?;
    Ok(Tally {
        passed: e2e.passed + sdk.passed,
        failed: e2e.failed + sdk.failed,
    })
}

/// The e2e test file that is a suite of its own (`abuse`): hostile input to every operation.
const ABUSE_FILE: &str = "abuse";
/// Every `cargo test` of a run selects the whole workspace (targets chosen by `--lib`/`--test`):
/// cargo unifies dependency features over the selected packages, so one selection compiles each
/// dependency once, where `--package e2e` beside `--exclude e2e` compiled tokio, hyper, reqwest and
/// their kin twice on a clean machine.
const WHOLE_WORKSPACE: &[&str] = &["test", "--no-fail-fast", "--workspace"];

/// The one e2e binary (`tests/e2e/tests/api/main.rs`), a module per feature.
const E2E_BINARY: &str = "api";

/// libtest filters for the named e2e modules (`ai` runs `tests/e2e/tests/api/ai.rs`'s tests) or
/// single tests (`ai::name`); none when none is named. A module or test that does not exist is an
/// error, not a filter that quietly runs nothing.
fn e2e_filters<'a>(named: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    let folder = repo_root().join("tests/e2e/tests").join(E2E_BINARY);
    named
        .map(|name| {
            let (module, test) = name.split_once("::").unwrap_or((name, ""));
            let file = folder.join(format!("{module}.rs"));
            let Ok(source) = std::fs::read_to_string(&file) else {
                anyhow::bail!("no e2e module {module:?} in {}", folder.display());
            };
            if !test.is_empty() && !source.contains(&format!("fn {test}(")) {
                anyhow::bail!("no e2e test {test:?} in {}", file.display());
            }
            Ok(format!("{module}::{test}"))
        })
        .collect()
}

fn timed(name: &'static str, suite: impl FnOnce() -> Result<Tally>) -> SuiteResult {
    println!("\n== {name} ==");
    let started = Instant::now();
    let (tally, error) = match suite() {
        Ok(tally) => (tally, None),
        Err(error) => (Tally::default(), Some(format!("{error:#}"))),
    };
    SuiteResult {
        name,
        tally: Some(tally),
        error,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn e2e_env(stack: &Stack) -> Vec<(&'static str, String)> {
    vec![
        ("E2E_WORKER_URL", stack.worker_url()),
        ("E2E_SUPABASE_URL", stack.supabase_url()),
        (
            "E2E_KEYS_FILE",
            stack.dir.join("keys.json").display().to_string(),
        ),
        ("E2E_WORKER_LOG", stack.worker_log().display().to_string()),
        ("E2E_DATABASE_URL", stack.postgres.url()),
        ("E2E_ANON_KEY", stack.keys.anon_key()),
        ("E2E_SERVICE_ROLE_KEY", stack.keys.service_role_key()),
        ("E2E_PUBLISHABLE_KEY", stack.keys.publishable_key()),
        ("E2E_SECRET_KEY", stack.keys.secret_key()),
        (
            "E2E_CRON_SECRET",
            crate::stack::LOCAL_CRON_SECRET.to_owned(),
        ),
        (
            "E2E_FAKES_URL",
            format!("http://127.0.0.1:{}", stack.ports.ai_fakes),
        ),
        (
            "E2E_SOCIAL_KEY_RING",
            crate::stack::social_key_ring(&stack.dir).unwrap_or_default(),
        ),
        (
            "E2E_AI_KEY_RING",
            crate::stack::ai_key_ring(&stack.dir).unwrap_or_default(),
        ),
    ]
}

/// The migrations applied by the real Supabase CLI (`supabase migration up`) to a fresh cluster that
/// has only what hosted Supabase provides (`sql/`): they must need nothing else.
fn supabase_cli(run_dir: &std::path::Path) -> Result<Tally> {
    let cluster = Cluster::new(&run_dir.join("cli-postgres"), free_port()?);
    cluster.init(Durability::Throwaway)?;
    cluster.start()?;
    cluster.apply_supabase_stand_in()?;
    let root = repo_root();
    crate::run(
        Command::new(root.join("node_modules/@supabase/cli-linux-x64/bin/supabase"))
            .args(["migration", "up", "--yes", "--workdir"])
            .arg(&root)
            .arg(format!("--remote={}", cluster.url()))
            .env("SUPABASE_TELEMETRY_DISABLED", "1"),
    )?;
    let applied: usize = cluster
        .psql_command("select count(*) from supabase_migrations.schema_migrations")?
        .trim()
        .parse()?;
    let expected = Cluster::migration_files()?.len();
    println!("supabase migration up applied {applied} of {expected} migrations");
    let passed = u32::from(applied == expected);
    Ok(Tally {
        passed,
        failed: 1 - passed,
    })
}

/// The SDK contract tests (`paths` of them): the official Python `supabase` client against the
/// local stack, with `env`.
fn pytest(env: &[(&str, String)], paths: &[&str]) -> Result<Tally> {
    let mut command = Command::new(install::python_venv().join("bin/python"));
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .args(paths)
        .current_dir(repo_root());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut tally = Tally::default();
    let status = stream_lines(&mut command, |line| {
        // pytest's closing line: "5 passed, 1 failed, 2 errors in 2.31s" (any part may be missing).
        let closing = [" passed", " failed", " error"]
            .iter()
            .any(|word| line.contains(word));
        if line.contains(" in ") && closing {
            tally.passed = count_before(line, "passed");
            tally.failed = count_before(line, "failed")
                + count_before(line, "error")
                + count_before(line, "errors");
        }
    })?;
    if !status.success() && tally.failed == 0 {
        anyhow::bail!("pytest exited with {status} before reporting a failing test");
    }
    Ok(tally)
}

/// The reference web app (`examples/web`) in headless Chromium: its TypeScript type-checked
/// against the generated database types, then its browser tests against the stack's copy of it:
/// all of them, or those of `tests/<name>.test.mjs` for each name given (`browser:chat`).
fn browser_tests(stack: &Stack, names: &[&str]) -> Result<Tally> {
    let root = repo_root();
    crate::run(
        Command::new(root.join("node_modules/.bin/tsc"))
            .arg("-p")
            .arg(root.join(crate::web_app::APP_DIR)),
    )?;
    let tests_dir = format!("{}/tests", crate::web_app::APP_DIR);
    let tests: Vec<String> = match names {
        [] => vec![format!("{tests_dir}/")],
        names => names
            .iter()
            .map(|name| format!("{tests_dir}/{name}.test.mjs"))
            .collect(),
    };
    node_test(stack, &tests, &[("E2E_WEB_APP_URL", stack.web_app_url())])
}

/// The node test files in `paths` (a folder: every test file in it) under node's test runner,
/// one file at a time, with the stack's URLs and keys (and `extra_env`): the SDK contract with
/// the official `@supabase/supabase-js` client, and the web app's browser tests.
fn node_test(stack: &Stack, paths: &[String], extra_env: &[(&str, String)]) -> Result<Tally> {
    let mut command = Command::new("node");
    command
        .args(["--test", "--test-reporter=tap", "--test-concurrency=1"])
        .args(paths)
        .current_dir(repo_root());
    for (name, value) in e2e_env(stack).iter().chain(extra_env) {
        command.env(name, value);
    }
    let mut tally = Tally::default();
    let status = stream_lines(&mut command, |line| {
        // The TAP reporter's closing counts: "# pass 12", "# fail 1".
        if let Some(count) = line.strip_prefix("# pass ") {
            tally.passed = count.trim().parse().unwrap_or(0);
        } else if let Some(count) = line.strip_prefix("# fail ") {
            tally.failed = count.trim().parse().unwrap_or(0);
        }
    })?;
    if !status.success() && tally.failed == 0 {
        anyhow::bail!("node --test exited with {status} before reporting a failing test");
    }
    Ok(tally)
}

/// Runs `cargo <args>`, echoing its output, and adds up libtest's `test result:` lines.
fn cargo_test(args: &[&str], env: &[(&str, String)]) -> Result<Tally> {
    let mut command = Command::new(env!("CARGO"));
    command.args(args).current_dir(repo_root());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut tally = Tally::default();
    let status = stream_lines(&mut command, |line| {
        if let Some(counts) = line.strip_prefix("test result: ") {
            tally.passed += count_before(counts, "passed");
            tally.failed += count_before(counts, "failed");
        }
    })?;
    if !status.success() && tally.failed == 0 {
        anyhow::bail!(
            "cargo {} exited with {status} before reporting a failing test",
            args.join(" ")
        );
    }
    Ok(tally)
}

/// pgTAP through pg_prove, as `supabase test db` runs it: every file in supabase/tests, in order.
/// Only the files whose name holds one of `filters` (all of them when none is given); the shared
/// helpers file always runs first.
fn pg_prove(stack: &Stack, filters: &[&str]) -> Result<Tally> {
    let tests_dir = repo_root().join("supabase/tests");
    let selected = |name: &str| {
        name.starts_with("00000-")
            || filters.is_empty()
            || filters.iter().any(|filter| name.contains(filter))
    };
    let mut files: Vec<_> = std::fs::read_dir(&tests_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .filter(|p| selected(&p.file_name().unwrap_or_default().to_string_lossy()))
        .collect();
    files.sort();
    // As `supabase test db` does before running the files.
    stack
        .postgres
        .psql_command("create extension if not exists pgtap with schema extensions")?;
    let mut command = Command::new("pg_prove");
    command
        .args([
            "--verbose",
            "--host=127.0.0.1",
            "--username=postgres",
            "--dbname=postgres",
        ])
        .arg(format!("--port={}", stack.ports.postgres))
        .args(&files);
    let mut tally = Tally::default();
    let status = stream_lines(&mut command, |line| {
        let line = line.trim_start();
        if line.starts_with("not ok ") {
            tally.failed += 1;
        } else if line.starts_with("ok ") {
            tally.passed += 1;
        }
    })?;
    if !status.success() && tally.failed == 0 {
        anyhow::bail!(
            "pg_prove exited with {status} (a test file died or planned tests did not run)"
        );
    }
    Ok(tally)
}

fn stream_lines(
    command: &mut Command,
    mut on_line: impl FnMut(&str),
) -> Result<std::process::ExitStatus> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {:?}", command.get_program()))?;
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line?;
        println!("{line}");
        on_line(&line);
    }
    Ok(child.wait()?)
}

/// The number just before the word `label` in "12 passed; 3 failed" or "5 passed, 1 failed in 2s".
fn count_before(text: &str, label: &str) -> u32 {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|w| w[1] == label)
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::count_before;

    #[test]
    fn reads_libtest_and_pytest_counts() {
        let line =
            "ok. 12 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s";
        assert_eq!(count_before(line, "passed"), 12);
        assert_eq!(count_before(line, "failed"), 3);
        assert_eq!(count_before("FAILED. 0 passed; 1 failed", "failed"), 1);
        let pytest = "==== 1 failed, 5 passed, 2 warnings, 3 errors in 3.10s ====";
        assert_eq!(
            (
                count_before(pytest, "passed"),
                count_before(pytest, "failed")
            ),
            (5, 1)
        );
        assert_eq!(count_before(pytest, "errors"), 3);
    }
}
