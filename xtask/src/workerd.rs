//! The built worker served by workerd alone, as Cloudflare's runtime serves it in production.
//! wrangler's dev runtime (the test stacks' worker) routes every request through its own entry
//! worker first and wraps the worker's subrequests; that costs about a millisecond a request,
//! which production does not pay. The bench measures the worker's added latency here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::repo_root;
use crate::service::{wait_for_http, Output, Service};
use crate::stack::free_port;

pub struct BareWorkerd {
    _service: Service,
    pub url: String,
}

/// What a bare workerd serves.
pub enum Code<'a> {
    /// The module in `functions/build`.
    Built,
    /// One JavaScript module (the bench's reference workers).
    Script(&'a Path),
    /// What `wrangler deploy --outdir` wrote: its main module `entry` and the modules beside it.
    Bundle { dir: &'a Path, entry: &'a str },
}

/// A JavaScript module that sees every subrequest of the worker, in the same process
/// (workerd's `globalOutbound`): it answers some itself and passes the rest on with `fetch`.
pub struct Outbound<'a> {
    pub module: &'a Path,
    pub bindings: &'a [(&'a str, String)],
}

/// Serves `code` with wrangler.toml's compatibility date and vars, and `vars` (the stack's
/// settings and secrets) over them, its subrequests through `outbound` when given. Files go to
/// `dir`/`name`.
pub async fn serve(
    dir: &Path,
    name: &str,
    code: Code<'_>,
    vars: &[(&str, String)],
    outbound: Option<&Outbound<'_>>,
) -> Result<BareWorkerd> {
    let config_dir = dir.join(name);
    std::fs::create_dir_all(&config_dir)?;
    // workerd embeds files relative to its config: a copy serves as the code was now.
    let build = repo_root().join("functions/build");
    let (copies, modules) = match code {
        Code::Built => (
            vec![
                (build.join("index.js"), "index.js".to_owned()),
                (build.join("index_bg.wasm"), "index_bg.wasm".to_owned()),
            ],
            BUILT_MODULES.to_owned(),
        ),
        Code::Script(module) => (
            vec![(module.to_owned(), SCRIPT_MODULE.to_owned())],
            SCRIPT_MODULES.to_owned(),
        ),
        Code::Bundle { dir, entry } => bundle_modules(dir, entry)?,
    };
    let outbound_copy =
        outbound.map(|outbound| (outbound.module.to_owned(), OUTBOUND_MODULE.to_owned()));
    for (from, to) in copies.iter().chain(&outbound_copy) {
        std::fs::copy(from, config_dir.join(to))
            .with_context(|| format!("copying {}", from.display()))?;
    }
    let port = free_port()?;
    let config = capnp_config(
        &read_wrangler()?,
        &modules,
        vars,
        outbound.map(|o| o.bindings),
        port,
    )?;
    start(dir, name, &config, port).await
}

/// The JavaScript and wasm modules of a bundle directory, its entry first (workerd's main
/// module), each named as the entry imports it.
fn bundle_modules(dir: &Path, entry: &str) -> Result<(Vec<(PathBuf, String)>, String)> {
    let mut names = vec![entry.to_owned()];
    for file in std::fs::read_dir(dir)? {
        let name = file?.file_name().to_string_lossy().into_owned();
        if name != entry && (name.ends_with(".js") || name.ends_with(".wasm")) {
            names.push(name);
        }
    }
    let modules = names
        .iter()
        .map(|name| match name.ends_with(".wasm") {
            true => format!("(name = {0}, wasm = embed {0}),", quoted(name)),
            false => format!("(name = {0}, esModule = embed {0}),", quoted(name)),
        })
        .collect::<Vec<_>>()
        .join("\n    ");
    let copies = names
        .into_iter()
        .map(|name| (dir.join(&name), name))
        .collect();
    Ok((copies, modules))
}

fn read_wrangler() -> Result<String> {
    Ok(std::fs::read_to_string(repo_root().join("wrangler.toml"))?)
}

/// Runs workerd on `config` (written to `dir`/`name`), listening on `port`, until the worker
/// answers.
async fn start(dir: &Path, name: &str, config: &str, port: u16) -> Result<BareWorkerd> {
    let path = dir.join(name).join("config.capnp");
    std::fs::write(&path, config)?;
    let mut service = Service::spawn(
        "workerd",
        Command::new(repo_root().join("node_modules/.bin/workerd"))
            .arg("serve")
            .arg(&path),
        Output::File(&dir.join(format!("logs/{name}.log"))),
    )?;
    let url = format!("http://127.0.0.1:{port}");
    wait_for_http(
        &mut service,
        &format!("{url}/healthz"),
        Duration::from_secs(30),
    )
    .await?;
    Ok(BareWorkerd {
        _service: service,
        url,
    })
}

const OUTBOUND_MODULE: &str = "outbound.js";
const SCRIPT_MODULE: &str = "worker.js";
const BUILT_MODULES: &str = r#"(name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),"#;
const SCRIPT_MODULES: &str = r#"(name = "worker.js", esModule = embed "worker.js"),"#;

/// A worker of `modules` with wrangler.toml's date and vars, `vars` over them, and an outbound
/// worker with its `outbound_bindings` when given.
fn capnp_config(
    wrangler: &str,
    modules: &str,
    vars: &[(&str, String)],
    outbound_bindings: Option<&[(&str, String)]>,
    port: u16,
) -> Result<String> {
    if wrangler.contains("compatibility_flags") {
        bail!("wrangler.toml sets compatibility_flags: give them to the bare workerd config too");
    }
    let compatibility_date = quoted(
        &toml_string(wrangler, "compatibility_date")
            .context("wrangler.toml has no compatibility_date")?,
    );
    let inherited =
        section(wrangler, "vars").filter(|(name, _)| !vars.iter().any(|(own, _)| own == name));
    let bindings = binding_list(
        inherited
            .map(|(name, value)| binding(&name, &value))
            .chain(vars.iter().map(|(name, value)| binding(name, value))),
    );
    let (outbound_service, global_outbound, outbound_worker) = match outbound_bindings {
        None => Default::default(),
        Some(own) => (
            "\n    (name = \"outbound\", worker = .outbound),".to_owned(),
            "\n  globalOutbound = \"outbound\",".to_owned(),
            format!(
                r#"const outbound :Workerd.Worker = (
  modules = [(name = "{OUTBOUND_MODULE}", esModule = embed "{OUTBOUND_MODULE}")],
  compatibilityDate = {compatibility_date},
  bindings = [
    {}
  ],
);
"#,
                binding_list(own.iter().map(|(name, value)| binding(name, value)))
            ),
        ),
    };
    Ok(format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "worker", worker = .worker),{outbound_service}
    # Cloudflare reaches public addresses; every service here is on 127.0.0.1.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "worker")],
);
const worker :Workerd.Worker = (
  modules = [
    {modules}
  ],
  compatibilityDate = {compatibility_date},{global_outbound}
  bindings = [
    {bindings}
  ],
);
{outbound_worker}"#
    ))
}

/// A text binding.
fn binding(name: &str, value: &str) -> String {
    format!("(name = {}, text = {})", quoted(name), quoted(value))
}

fn binding_list(each: impl Iterator<Item = String>) -> String {
    each.collect::<Vec<_>>().join(",\n    ")
}

/// `key = "value"` at the top of wrangler.toml (before its first table).
fn toml_string(toml: &str, key: &str) -> Option<String> {
    toml.lines()
        .take_while(|line| !line.starts_with('['))
        .find_map(|line| parse_assignment(line).filter(|(name, _)| name == key))
        .map(|(_, value)| value)
}

/// The `name = "value"` lines of a table such as `[vars]`.
fn section<'a>(toml: &'a str, table: &'a str) -> impl Iterator<Item = (String, String)> + 'a {
    let header = format!("[{table}]");
    toml.lines()
        .skip_while(move |line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter_map(parse_assignment)
}

fn parse_assignment(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once('=')?;
    let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
    Some((name.trim().to_owned(), value.to_owned()))
}

/// A Cap'n Proto text literal.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRANGLER: &str = "name = \"w\"\ncompatibility_date = \"2025-11-01\"\n\n[build]\ncommand = \"x\"\n\n[vars]\n# a comment\nSUPABASE_URL = \"https://example\"\nJWT_AUDIENCE = \"authenticated\"\n\n[observability]\nenabled = true\n";

    #[test]
    fn the_config_carries_the_date_and_the_vars_with_the_stacks_values_winning() {
        let config = capnp_config(
            WRANGLER,
            BUILT_MODULES,
            &[
                ("SUPABASE_URL", "http://127.0.0.1:1".into()),
                ("KEY", "a\"b".into()),
            ],
            None,
            4321,
        )
        .unwrap();
        assert!(config.contains("compatibilityDate = \"2025-11-01\""));
        assert!(config.contains("(name = \"JWT_AUDIENCE\", text = \"authenticated\")"));
        assert!(config.contains("(name = \"SUPABASE_URL\", text = \"http://127.0.0.1:1\")"));
        assert!(!config.contains("https://example"));
        assert!(config.contains("(name = \"KEY\", text = \"a\\\"b\")"));
        assert!(config.contains("address = \"127.0.0.1:4321\""));
        assert!(config.contains("embed \"index_bg.wasm\""));
    }

    #[test]
    fn an_outbound_worker_sees_the_workers_subrequests_with_its_own_bindings() {
        let config = capnp_config(
            WRANGLER,
            SCRIPT_MODULES,
            &[],
            Some(&[("ANSWER", "[1]".to_owned())]),
            4321,
        )
        .unwrap();
        assert!(config.contains("(name = \"outbound\", worker = .outbound)"));
        assert!(config.contains("globalOutbound = \"outbound\""));
        let outbound = &config[config.find("const outbound").unwrap()..];
        assert!(outbound.contains("esModule = embed \"outbound.js\""));
        assert!(outbound.contains("(name = \"ANSWER\", text = \"[1]\")"));
        assert!(outbound.contains("compatibilityDate = \"2025-11-01\""));
        assert!(!outbound.contains("SUPABASE_URL") && !outbound.contains("worker.js"));
        assert!(config.contains("embed \"worker.js\"") && !config.contains("index_bg.wasm"));
        let alone = capnp_config(WRANGLER, BUILT_MODULES, &[], None, 4321).unwrap();
        assert!(!alone.contains("outbound"));
    }

    #[test]
    fn compatibility_flags_are_not_silently_dropped() {
        let wrangler = WRANGLER.replace(
            "[build]",
            "compatibility_flags = [\"nodejs_compat\"]\n[build]",
        );
        assert!(capnp_config(&wrangler, BUILT_MODULES, &[], None, 1).is_err());
    }
}
