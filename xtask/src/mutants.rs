//! `cargo xtask mutants [--list] [MODULE...] [-- CARGO_MUTANTS_OPTION...]`: mutation testing
//! of the worker's security- and money-critical modules with cargo-mutants. It changes their
//! code one small way at a time (an operator flipped, a body replaced by a default value, a
//! match arm deleted), builds the worker's unit tests and runs them; a change that no test
//! notices is "missed". Prints caught, missed, timeout and unviable mutants per module. Slow
//! (one build and test run per mutant), so `cargo xtask test` does not run it; docs/testing.md
//! has the last figures and the survivors.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{install, repo_root};

/// A measured module. `files` are cargo-mutants `--file` globs from the repository root (`*`
/// stays within a folder); `needs_a_stack` names its functions that only exchange requests with
/// the database or a platform: no unit test can run them without a stack, the e2e suites do, so
/// their mutants are not generated.
struct Module {
    name: &'static str,
    files: &'static [&'static str],
    needs_a_stack: &'static [&'static str],
}

/// The measured modules: when one moves, update its files here.
const MODULES: &[Module] = &[
    Module {
        name: "auth",
        files: &["functions/src/auth/*.rs"],
        needs_a_stack: &["authenticate"],
    },
    Module {
        name: "crypto",
        files: &["functions/src/infra/crypto.rs"],
        needs_a_stack: &[],
    },
    Module {
        name: "credits",
        files: &["functions/src/ai/credits.rs"],
        needs_a_stack: &["reserve", "settle", "release", "reset"],
    },
    Module {
        name: "retry",
        files: &["functions/src/infra/retry.rs"],
        needs_a_stack: &[],
    },
    Module {
        name: "publishing-rules",
        files: &[
            "functions/src/publishing/rules.rs",
            "functions/src/platforms/x/mod.rs",
            "functions/src/platforms/linkedin/mod.rs",
            "functions/src/platforms/facebook/mod.rs",
            "functions/src/platforms/instagram/mod.rs",
            "functions/src/platforms/tiktok/mod.rs",
            "functions/src/platforms/pinterest/mod.rs",
            "functions/src/platforms/youtube/mod.rs",
        ],
        needs_a_stack: &[],
    },
    Module {
        name: "dispatcher",
        files: &["functions/src/publishing/dispatcher.rs"],
        needs_a_stack: &[
            "dispatch",
            "publish_post",
            "process",
            "attempt",
            "renew_lease_when_due",
            "wait_for_posting_slot",
            "look_up",
            "load_media",
            "signed_url",
        ],
    },
    Module {
        name: "oauth",
        files: &[
            "functions/src/social/pkce.rs",
            "functions/src/http/redirect.rs",
        ],
        needs_a_stack: &[],
    },
    Module {
        name: "outbound-policy",
        files: &["functions/src/infra/outbound/policy.rs"],
        needs_a_stack: &[],
    },
];

/// Where cargo-mutants writes `mutants.out/`.
const OUTPUT_DIR: &str = "target/mutants";
/// What each of cargo-mutants' outcome lists counts, in the order printed.
const OUTCOMES: [&str; 4] = ["caught", "missed", "timeout", "unviable"];

pub fn run(args: &[&str]) -> Result<()> {
    // After `--`, options for cargo-mutants itself: a sample (`--shard 0/10 --sharding
    // round-robin`) or chosen mutants (`--re REGEX`) when the whole set takes too long.
    let (ours, passed_on) = match args.iter().position(|a| *a == "--") {
        Some(at) => (&args[..at], &args[at + 1..]),
        None => (args, &[][..]),
    };
    let list = ours.contains(&"--list");
    let named: Vec<&str> = ours.iter().copied().filter(|a| *a != "--list").collect();
    let modules = select(&named)?;
    install::ensure_cargo_mutants()?;
    let root = repo_root();
    let status = cargo_mutants(&root, &modules, list)
        .args(passed_on)
        .status()
        .context("running cargo mutants")?;
    if list {
        return if status.success() {
            Ok(())
        } else {
            bail!("cargo mutants --list failed ({status})")
        };
    }
    // Exit codes 2 (missed) and 3 (timeouts) still mean a complete run with figures to print.
    if !matches!(status.code(), Some(0 | 2 | 3)) {
        bail!("cargo mutants did not complete ({status})");
    }
    print_figures(&modules, &root.join(OUTPUT_DIR).join("mutants.out"))
}

fn cargo_mutants(root: &Path, modules: &[&Module], list: bool) -> Command {
    let mut command = Command::new("nice");
    command
        .args(["-n", "10", "cargo", "mutants"])
        .args(cargo_mutants_args(modules, list))
        .current_dir(root)
        // The copy cargo-mutants builds shares the repository's target dir, so dependencies
        // are not compiled again; only the worker crate is rebuilt per mutant.
        .env("CARGO_TARGET_DIR", root.join("target"));
    // `cargo run` gave xtask its own package's variables; passed on, they make build scripts
    // that watch them (ring's) run again, and everything above them is rebuilt.
    let own_package = |name: &str| {
        name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name)
    };
    for (name, _) in std::env::vars().filter(|(name, _)| own_package(name)) {
        command.env_remove(name);
    }
    command
}

fn select(named: &[&str]) -> Result<Vec<&'static Module>> {
    if let Some(unknown) = named
        .iter()
        .find(|name| !MODULES.iter().any(|m| m.name == **name))
    {
        let known: Vec<&str> = MODULES.iter().map(|m| m.name).collect();
        bail!("unknown module {unknown:?} (modules: {})", known.join(" "));
    }
    Ok(MODULES
        .iter()
        .filter(|m| named.is_empty() || named.contains(&m.name))
        .collect())
}

fn cargo_mutants_args(modules: &[&Module], list: bool) -> Vec<String> {
    let mut args: Vec<String> = ["--package", "pixa-edge", "--output", OUTPUT_DIR]
        .map(String::from)
        .into();
    // The worker's unit tests only: its other tests need a stack (e2e is its own package).
    args.push("--cargo-arg=--lib".into());
    // Without debug info the worker rebuilds several times faster for each mutant (measured:
    // 30 s instead of 3 min on a loaded machine); only the worker's own build changes, into
    // files of their own, so its dependencies and the usual debug build are left as they are.
    args.push("--cargo-arg=--config=profile.dev.package.pixa-edge.debug=0".into());
    // The suite takes seconds, but on a shared machine a niced run can be starved for longer:
    // a timeout should mean a mutant that hangs, not a busy machine.
    args.push("--minimum-test-timeout=60".into());
    for module in modules {
        for file in module.files {
            args.extend(["--file".into(), (*file).into()]);
        }
        if let Some(regex) = needs_a_stack_regex(module) {
            args.extend(["--exclude-re".into(), regex]);
        }
    }
    if list {
        args.push("--list".into());
    }
    args
}

/// Matches cargo-mutants' names of mutants inside the module's `needs_a_stack` functions:
/// `FILE:LINE:COL: replace FN -> TYPE with VALUE` or `FILE:LINE:COL: ... in FN`.
fn needs_a_stack_regex(module: &Module) -> Option<String> {
    if module.needs_a_stack.is_empty() {
        return None;
    }
    let files: Vec<String> = module.files.iter().map(|f| glob_regex(f)).collect();
    let functions = module.needs_a_stack.join("|");
    Some(format!(
        "^(?:{}):\\d+:\\d+: (?:replace (?:{functions}) -> .*|.* in (?:{functions}))$",
        files.join("|")
    ))
}

fn glob_regex(glob: &str) -> String {
    glob.split('*')
        .map(|part| part.replace('.', "\\."))
        .collect::<Vec<_>>()
        .join("[^/]*")
}

/// Whether `path` matches `glob`, whose `*` stands for any characters within one folder.
fn glob_matches(glob: &str, path: &str) -> bool {
    match glob.split_once('*') {
        None => glob == path,
        Some((head, tail)) => path.strip_prefix(head).is_some_and(|rest| {
            rest.char_indices()
                .map(|(at, _)| at)
                .chain([rest.len()])
                .take_while(|at| !rest[..*at].contains('/'))
                .any(|at| glob_matches(tail, &rest[at..]))
        }),
    }
}

/// Each module's counts of caught, missed, timeout and unviable mutants, then the score: caught
/// over every mutant that built (a timeout counts as not caught).
fn print_figures(modules: &[&Module], out: &Path) -> Result<()> {
    let counts = count_outcomes(modules, out)?;
    println!("\n== mutants ({}) ==", out.display());
    println!(
        "{:<18} {:>7} {:>7} {:>8} {:>9} {:>8}",
        "module", "caught", "missed", "timeout", "unviable", "score"
    );
    let mut total = [0; 4];
    for module in modules {
        let row = counts.get(module.name).copied().unwrap_or_default();
        for (sum, n) in total.iter_mut().zip(row) {
            *sum += n;
        }
        println!("{}", figure_row(module.name, row));
    }
    println!("{}", figure_row("all", total));
    Ok(())
}

/// Reads cargo-mutants' `caught.txt`, `missed.txt`, ... (one mutant a line,
/// `FILE:LINE:COL: description`) into counts per module, in `OUTCOMES` order.
fn count_outcomes<'a>(modules: &[&'a Module], out: &Path) -> Result<BTreeMap<&'a str, [usize; 4]>> {
    let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for (slot, outcome) in OUTCOMES.iter().enumerate() {
        let path = out.join(format!("{outcome}.txt"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let file = line.split(':').next().unwrap_or_default();
            let module = modules
                .iter()
                .find(|m| m.files.iter().any(|glob| glob_matches(glob, file)))
                .with_context(|| format!("{} names a file of no module: {line}", path.display()))?;
            counts.entry(module.name).or_default()[slot] += 1;
        }
    }
    Ok(counts)
}

fn figure_row(name: &str, [caught, missed, timeout, unviable]: [usize; 4]) -> String {
    let tested = caught + missed + timeout;
    let score = if tested == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} %", 100.0 * caught as f64 / tested as f64)
    };
    format!("{name:<18} {caught:>7} {missed:>7} {timeout:>8} {unviable:>9} {score:>8}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_one_folder() {
        assert!(glob_matches(
            "functions/src/auth/*.rs",
            "functions/src/auth/jwks.rs"
        ));
        assert!(!glob_matches(
            "functions/src/auth/*.rs",
            "functions/src/auth/deep/jwks.rs"
        ));
        assert!(!glob_matches(
            "functions/src/auth/*.rs",
            "functions/src/auth.rs"
        ));
        assert!(glob_matches(
            "functions/src/infra/crypto.rs",
            "functions/src/infra/crypto.rs"
        ));
        assert!(!glob_matches(
            "functions/src/infra/crypto.rs",
            "functions/src/crypto.rsx"
        ));
    }

    #[test]
    fn outcomes_are_counted_per_module() {
        let out = std::env::temp_dir().join(format!("xtask-mutants-{}", std::process::id()));
        std::fs::create_dir_all(&out).unwrap();
        let lists = [
            (
                "caught",
                "functions/src/infra/crypto.rs:51:21: delete ! in KeyRing::parse\n\
                        functions/src/auth/jwks.rs:9:1: replace f -> bool with true\n",
            ),
            (
                "missed",
                "functions/src/ai/credits.rs:228:35: replace == with != in returned_value\n",
            ),
            (
                "unviable",
                "functions/src/infra/crypto.rs:39:9: replace KeyRing::parse -> X with Default\n",
            ),
        ];
        for (outcome, text) in lists {
            std::fs::write(out.join(format!("{outcome}.txt")), text).unwrap();
        }
        let modules: Vec<&Module> = MODULES.iter().collect();
        let counts = count_outcomes(&modules, &out).unwrap();
        std::fs::remove_dir_all(&out).unwrap();
        assert_eq!(counts["crypto"], [1, 0, 0, 1]);
        assert_eq!(counts["auth"], [1, 0, 0, 0]);
        assert_eq!(counts["credits"], [0, 1, 0, 0]);
        assert!(!counts.contains_key("retry"));
        assert_eq!(
            figure_row("crypto", [21, 0, 1, 2])
                .split_whitespace()
                .collect::<Vec<_>>(),
            ["crypto", "21", "0", "1", "2", "95.5", "%"]
        );
    }

    #[test]
    fn every_module_names_existing_files() {
        for module in MODULES {
            for glob in module.files {
                let (folder, name) = glob.rsplit_once('/').unwrap();
                let found = std::fs::read_dir(repo_root().join(folder))
                    .map(|entries| {
                        entries
                            .flatten()
                            .any(|entry| glob_matches(name, &entry.file_name().to_string_lossy()))
                    })
                    .unwrap_or(false);
                assert!(found, "{}: {glob} matches no file", module.name);
            }
        }
    }
}
