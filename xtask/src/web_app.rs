//! The reference web app (`examples/web`): bundled by esbuild from its TypeScript and served with
//! its page, configured for one stack the way a customer's app is configured at build time.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use devstack::DevKeys;

use crate::service::{Output, Service};
use crate::stack::Ports;
use crate::{repo_root, run};

/// The app's folder, relative to the repository root.
pub const APP_DIR: &str = "examples/web";

/// esbuild serving the app on `ports.web_app` for this stack's URLs and anon key. In `dev` it
/// rebuilds (in memory) when a source file changes and logs to the terminal; a test stack serves
/// a copy built once at its start, as it serves the worker, so editing mid-run changes nothing
/// under the tests.
pub fn serve(ports: Ports, keys: &DevKeys, dir: &Path, dev: bool) -> Result<Service> {
    let app = repo_root().join(APP_DIR);
    let mut server = esbuild(&app);
    let output = if dev {
        bundle(&mut server, ports, keys);
        server.args(["--outfile=public/app.js", "--servedir=public"]);
        Output::Inherit
    } else {
        let built = dir.join("web-app");
        std::fs::create_dir_all(&built)?;
        for file in ["index.html", "style.css"] {
            std::fs::copy(app.join("public").join(file), built.join(file))?;
        }
        let mut build = esbuild(&app);
        bundle(&mut build, ports, keys);
        run(build.arg(format!("--outfile={}", built.join("app.js").display())))?;
        server.arg(format!("--servedir={}", built.display()));
        Output::File(&dir.join("logs/web-app.log"))
    };
    server
        .arg(format!("--serve=127.0.0.1:{}", ports.web_app))
        // Watching also keeps esbuild serving without a terminal on its standard input.
        .arg("--watch=forever");
    Service::spawn("web app (esbuild)", &mut server, output)
}

fn esbuild(app: &Path) -> Command {
    let mut command = Command::new(repo_root().join("node_modules/.bin/esbuild"));
    command.current_dir(app).arg("--log-level=warning");
    command
}

/// The app's bundle, with the stack's settings where the app reads `import.meta.env`.
fn bundle(command: &mut Command, ports: Ports, keys: &DevKeys) {
    let settings = [
        (
            "SUPABASE_URL",
            format!("http://127.0.0.1:{}", ports.gateway),
        ),
        ("SUPABASE_ANON_KEY", keys.anon_key()),
        ("WORKER_URL", format!("http://127.0.0.1:{}", ports.worker)),
    ];
    command.args(["src/main.ts", "--bundle", "--format=esm", "--sourcemap"]);
    for (name, value) in settings {
        command.arg(format!(
            "--define:import.meta.env.{name}={}",
            serde_json::Value::from(value)
        ));
    }
}
