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
/// and `vars` (the stack's settings and secrets) over them. Files go to `dir`.
pub async fn serve(dir: &Path, vars: &[(&str, String)]) -> Result<BareWorkerd> {
    let root = repo_root();
    let wrangler = std::fs::read_to_string(root.join("wrangler.toml"))?;
    let config_dir = dir.join("bare-workerd");
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
    let config = config_dir.join("config.capnp");
    std::fs::write(&config, capnp_config(&wrangler, vars, port)?)?;
    let mut service = Service::spawn(
        "workerd",
        Command::new(root.join("node_modules/.bin/workerd"))
            .arg("serve")
            .arg(&config),
        Output::File(&dir.join("logs/bare-workerd.log")),
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

fn capnp_config(wrangler: &str, vars: &[(&str, String)], port: u16) -> Result<String> {
    if wrangler.contains("compatibility_flags") {
        bail!("wrangler.toml sets compatibility_flags: give them to the bare workerd config too");
    }
    let compatibility_date = toml_string(wrangler, "compatibility_date")
        .context("wrangler.toml has no compatibility_date")?;
    let mut bindings: Vec<(String, String)> = section(wrangler, "vars")
        .filter(|(name, _)| !vars.iter().any(|(own, _)| own == name))
        .collect();
    bindings.extend(
        vars.iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone())),
    );
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
    (name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),
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
