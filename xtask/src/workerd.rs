//! The built worker served by workerd alone, as Cloudflare's runtime serves it in production.
//! wrangler's dev runtime (the test stacks' worker) routes every request through its own entry
//! worker first and wraps the worker's subrequests; that costs about a millisecond a request,
//! which production does not pay. The bench measures the worker's added latency here.

use std::path::Path;
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

/// Serves the module in `functions/build` with wrangler.toml's compatibility date and vars,
/// and `vars` (the stack's settings and secrets) over them. Files go to `dir`/`name`.
pub async fn serve(dir: &Path, name: &str, vars: &[(&str, String)]) -> Result<BareWorkerd> {
    let root = repo_root();
    let config_dir = dir.join(name);
    std::fs::create_dir_all(&config_dir)?;
    // workerd embeds files relative to its config: a copy of the build serves as it was now.
    for module in ["index.js", "index_bg.wasm"] {
        std::fs::copy(
            root.join("functions/build").join(module),
            config_dir.join(module),
        )
        .with_context(|| format!("copying the built worker's {module}"))?;
    }
    let port = free_port()?;
    let config = capnp_config(&read_wrangler()?, vars, port)?;
    start(dir, name, &config, port, "/healthz").await
}

/// Serves one JavaScript module with `bindings`, as a stand-in that a bench puts in front of a
/// service. Files go to `dir`/`name`.
pub async fn serve_script(
    dir: &Path,
    name: &str,
    module: &Path,
    bindings: &[(&str, String)],
) -> Result<BareWorkerd> {
    let config_dir = dir.join(name);
    std::fs::create_dir_all(&config_dir)?;
    std::fs::copy(module, config_dir.join("script.js"))
        .with_context(|| format!("copying {}", module.display()))?;
    let port = free_port()?;
    let config = script_config(&read_wrangler()?, bindings, port)?;
    start(dir, name, &config, port, "/").await
}

fn read_wrangler() -> Result<String> {
    Ok(std::fs::read_to_string(repo_root().join("wrangler.toml"))?)
}

/// Runs workerd on `config` (written to `dir`/`name`), listening on `port`, until `ready_path`
/// answers.
async fn start(
    dir: &Path,
    name: &str,
    config: &str,
    port: u16,
    ready_path: &str,
) -> Result<BareWorkerd> {
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
        &format!("{url}{ready_path}"),
        Duration::from_secs(30),
    )
    .await?;
    Ok(BareWorkerd {
        _service: service,
        url,
    })
}

/// The built worker's config.
fn capnp_config(wrangler: &str, vars: &[(&str, String)], port: u16) -> Result<String> {
    if wrangler.contains("compatibility_flags") {
        bail!("wrangler.toml sets compatibility_flags: give them to the bare workerd config too");
    }
    let mut bindings: Vec<(String, String)> = section(wrangler, "vars")
        .filter(|(name, _)| !vars.iter().any(|(own, _)| own == name))
        .collect();
    bindings.extend(
        vars.iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone())),
    );
    let modules = r#"(name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),"#;
    config_text(wrangler, port, modules, &bindings)
}

/// A config serving `script.js` alone.
fn script_config(wrangler: &str, bindings: &[(&str, String)], port: u16) -> Result<String> {
    let bindings: Vec<(String, String)> = bindings
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    let modules = r#"(name = "script.js", esModule = embed "script.js"),"#;
    config_text(wrangler, port, modules, &bindings)
}

/// One worker with `modules` and text `bindings` on `port`, at wrangler.toml's compatibility date.
fn config_text(
    wrangler: &str,
    port: u16,
    modules: &str,
    bindings: &[(String, String)],
) -> Result<String> {
    let compatibility_date = toml_string(wrangler, "compatibility_date")
        .context("wrangler.toml has no compatibility_date")?;
    let bindings = bindings
        .iter()
        .map(|(name, value)| format!("(name = {}, text = {})", quoted(name), quoted(value)))
        .collect::<Vec<_>>()
        .join(",\n    ");
    Ok(format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "worker", worker = .worker),
    # Cloudflare reaches public addresses; every service here is on 127.0.0.1.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "worker")],
);
const worker :Workerd.Worker = (
  modules = [
    {modules}
  ],
  compatibilityDate = {compatibility_date},
  bindings = [
    {bindings}
  ],
);
"#,
        compatibility_date = quoted(&compatibility_date),
    ))
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
            &[
                ("SUPABASE_URL", "http://127.0.0.1:1".into()),
                ("KEY", "a\"b".into()),
            ],
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
    fn a_script_is_served_alone_with_its_bindings_and_the_workers_date() {
        let config = script_config(WRANGLER, &[("ANSWER", "[1]".to_owned())], 4321).unwrap();
        assert!(config.contains("(name = \"script.js\", esModule = embed \"script.js\")"));
        assert!(config.contains("(name = \"ANSWER\", text = \"[1]\")"));
        assert!(config.contains("compatibilityDate = \"2025-11-01\""));
        assert!(!config.contains("SUPABASE_URL") && !config.contains("index_bg.wasm"));
    }

    #[test]
    fn compatibility_flags_are_not_silently_dropped() {
        let wrangler = WRANGLER.replace(
            "[build]",
            "compatibility_flags = [\"nodejs_compat\"]\n[build]",
        );
        assert!(capnp_config(&wrangler, &[], 1).is_err());
    }
}
