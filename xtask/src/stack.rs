//! The whole local stack: Postgres, the PostgREST-compatible server, the gateway that serves
//! Supabase's paths, and the worker in workerd. Dropping a `Stack` stops all of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use devstack::{DevKeys, DevUser, LocalSupabase, Signing};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::install::cargo_bin;
use crate::postgres::{Cluster, Durability};
use crate::repo_root;
use crate::service::{wait_for_http, Output, Service};
use crate::workerd::BareWorkerd;

/// The users `supabase/seed.sql` creates.
pub const SEED_USERS: [DevUser<'static>; 2] = [
    DevUser {
        id: "11111111-1111-4111-8111-111111111111",
        email: "alice@example.com",
    },
    DevUser {
        id: "22222222-2222-4222-8222-222222222222",
        email: "bob@example.com",
    },
];

#[derive(Clone, Copy)]
pub struct Ports {
    pub postgres: u16,
    pub gateway: u16,
    pub postrust: u16,
    pub worker: u16,
    pub worker_inspector: u16,
    pub ai_fakes: u16,
    /// The reference web app (`examples/web`).
    pub web_app: u16,
}

impl Ports {
    /// Supabase CLI's ports for the database and API; wrangler's default for the worker.
    pub const DEV: Ports = Ports {
        postgres: 54322,
        gateway: 54321,
        postrust: 54323,
        worker: 8787,
        worker_inspector: 9229,
        ai_fakes: 54329,
        web_app: 3000,
    };

    /// Free ports, so a test stack can run beside `cargo xtask dev`.
    pub fn free() -> Result<Ports> {
        Ok(Ports {
            postgres: free_port()?,
            gateway: free_port()?,
            postrust: free_port()?,
            worker: free_port()?,
            worker_inspector: free_port()?,
            ai_fakes: free_port()?,
            web_app: free_port()?,
        })
    }
}

pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[derive(Clone, Copy)]
pub enum Mode {
    /// Data and keys persist under target/devstack; secrets go to .dev.vars; logs to the terminal.
    Dev { reset: bool, signing: Signing },
    /// Everything fresh under target/<name>; the worker's log goes to a file the tests read.
    /// Serves the worker module as built before the start (no rebuilds, no file watching).
    Throwaway { name: &'static str },
}

impl Mode {
    /// The API keys the stack gives its worker: test stacks the current ones new projects have,
    /// the development stack the legacy JWTs (`cargo xtask test e2e-legacy-keys` runs a second
    /// worker with those on a test stack).
    fn key_style(self) -> KeyStyle {
        match self {
            Mode::Dev { .. } => KeyStyle::Legacy,
            Mode::Throwaway { .. } => KeyStyle::Current,
        }
    }
}

/// Which of Supabase's two kinds of API keys the worker is given: the current ones new projects
/// have (`sb_publishable_…`, `sb_secret_…`, which Supabase's APIs take only in `apikey`), or the
/// legacy anon and service_role JWTs, which projects created before them still use.
#[derive(Clone, Copy, PartialEq)]
pub enum KeyStyle {
    Current,
    Legacy,
}

/// A second worker beside the stack's, on the same database and gateway but given the other
/// style of API keys; stopped when dropped.
pub struct SecondWorker {
    _server: Service,
    pub url: String,
    pub log: PathBuf,
}

pub struct Stack {
    mode: Mode,
    pub keys: DevKeys,
    pub ports: Ports,
    signing: Signing,
    pub dir: PathBuf,
    // Field order is drop order: the worker first, the database last.
    worker: Service,
    web_app: Service,
    gateway: JoinHandle<()>,
    ai_fakes: JoinHandle<()>,
    postrust: Service,
    pub postgres: Cluster,
}

impl Stack {
    pub async fn start(mode: Mode, ports: Ports) -> Result<Stack> {
        let root = repo_root();
        let dir = match mode {
            Mode::Dev { .. } => root.join("target/devstack"),
            // One folder per run, so test runs (and benches) can overlap without clobbering.
            Mode::Throwaway { name, .. } => {
                remove_abandoned_runs(&root.join("target").join(name))?;
                root.join("target")
                    .join(name)
                    .join(std::process::id().to_string())
            }
        };
        let fresh = match mode {
            Mode::Dev { reset, .. } => reset,
            Mode::Throwaway { .. } => true,
        };
        if fresh && dir.exists() {
            Cluster::new(&dir.join("postgres"), ports.postgres)
                .stop()
                .ok();
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir.join("logs"))?;
        let keys = DevKeys::load_or_create(&dir.join("keys.json"))?;
        // The worker starts first: it needs nothing of the database to come up, and starting it
        // (wrangler, workerd, the wasm module) takes as long as preparing Postgres.
        let vars = worker_vars(&dir, ports, &keys, mode.key_style())?;
        let (mut server, output) = match mode {
            Mode::Dev { .. } => {
                write_dev_vars(&root.join(".dev.vars"), &vars)?;
                (wrangler_dev(&dir, ports), Output::Inherit)
            }
            Mode::Throwaway { .. } => (
                inspectorless_worker_server(&dir, ports.worker, &vars)?,
                Output::File(&dir.join("logs/worker.log")),
            ),
        };
        let mut worker = Service::spawn("worker dev server", &mut server, output)?;

        let postgres = Cluster::new(&dir.join("postgres"), ports.postgres);
        postgres.stop().ok(); // a previous run that was killed may have left it running
        if postgres.exists() {
            postgres.start()?;
            postgres.apply_pending_migrations()?;
        } else {
            let durability = match mode {
                Mode::Dev { .. } => Durability::Durable,
                Mode::Throwaway { .. } => Durability::Throwaway,
            };
            postgres.init(durability)?;
            postgres.start()?;
            postgres.provision()?;
        }

        let mut postrust = Service::spawn(
            "postrust",
            Command::new(cargo_bin("postrust"))
                .env(
                    "PGRST_DB_URI",
                    format!(
                        "postgresql://authenticator@127.0.0.1:{}/postgres",
                        ports.postgres
                    ),
                )
                .env("PGRST_DB_SCHEMAS", "public")
                .env("PGRST_DB_ANON_ROLE", "anon")
                .env("PGRST_DB_EXTRA_SEARCH_PATH", "public,extensions")
                .env("PGRST_DB_MAX_ROWS", "1000")
                .env("PGRST_DB_POOL", "20")
                // PostgREST reports database errors as they are (SQLSTATE, message); postrust
                // sanitises them unless told otherwise.
                .env("PGRST_DB_ERRORS_VERBATIM", "true")
                .env("PGRST_JWT_SECRET", keys.postgrest_jwks().to_string())
                .env("PGRST_SERVER_HOST", "127.0.0.1")
                .env("PGRST_SERVER_PORT", ports.postrust.to_string())
                .env("PGRST_LOG_LEVEL", "warn"),
            Output::File(&dir.join("logs/postrust.log")),
        )?;
        wait_for_http(
            &mut postrust,
            &format!("http://127.0.0.1:{}/api/", ports.postrust),
            Duration::from_secs(30),
        )
        .await?;

        let supabase_url = format!("http://127.0.0.1:{}", ports.gateway);
        let signing = match mode {
            Mode::Dev { signing, .. } => signing,
            Mode::Throwaway { .. } => Signing::Es256,
        };
        let supabase = LocalSupabase {
            postgrest_url: format!("http://127.0.0.1:{}/api", ports.postrust),
            database_url: postgres.url(),
            api_url: supabase_url.clone(),
            site_url: "http://127.0.0.1:3000".into(),
            keys: keys.clone(),
            signing,
            storage_dir: dir.join("storage"),
        };
        let listener = TcpListener::bind(("127.0.0.1", ports.gateway))
            .await
            .with_context(|| format!("gateway port {} is taken", ports.gateway))?;
        let gateway = tokio::spawn(async move {
            if let Err(error) = supabase.serve(listener).await {
                eprintln!("local Supabase API stopped: {error:#}");
            }
        });

        // No real AI keys locally: the worker calls the provider fakes with platform keys of its own.
        let listener = TcpListener::bind(("127.0.0.1", ports.ai_fakes))
            .await
            .with_context(|| format!("AI fakes port {} is taken", ports.ai_fakes))?;
        let ai_fakes = tokio::spawn(async move {
            if let Err(error) = fakes::serve(listener).await {
                eprintln!("AI provider fakes stopped: {error:#}");
            }
        });
        wait_for_http(
            &mut worker,
            &format!("http://127.0.0.1:{}/healthz", ports.worker),
            Duration::from_secs(180),
        )
        .await?;
        let dev = matches!(mode, Mode::Dev { .. });
        let mut web_app = crate::web_app::serve(ports, &keys, &dir, dev)?;
        wait_for_http(&mut web_app, &web_app_url(ports), Duration::from_secs(30)).await?;
        // pg_cron reaches the worker as on Supabase: through pg_net, with these Vault secrets.
        // Throwaway stacks give it workerd's own socket: nothing stands between pg_net and a
        // deployed worker, and wrangler's proxy loses a request now and then under load.
        let worker_url = match mode {
            Mode::Dev { .. } => format!("http://127.0.0.1:{}", ports.worker),
            Mode::Throwaway { .. } => workerd_url(&dir)?,
        };
        postgres.psql_command(&format!(
            "insert into vault.secrets (name, secret) values ('worker_url', '{worker_url}'), \
             ('cron_secret', '{LOCAL_CRON_SECRET}') \
             on conflict (name) where name is not null do update set secret = excluded.secret"
        ))?;
        // Test stacks run no schedule on their own: a background publishing run, job sweep or
        // cleanup would race the tests' own explicit calls and make outcomes someone else's.
        // A test that needs a schedule runs its command; pgTAP checks the schedules themselves.
        if let Mode::Throwaway { .. } = mode {
            postgres.psql_command("update cron.job set active = false")?;
        }

        Ok(Stack {
            mode,
            keys,
            ports,
            signing,
            dir,
            worker,
            web_app,
            gateway,
            ai_fakes,
            postrust,
            postgres,
        })
    }

    pub fn supabase_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.gateway)
    }

    pub fn worker_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.worker)
    }

    pub fn web_app_url(&self) -> String {
        web_app_url(self.ports)
    }

    /// workerd's own socket behind wrangler's proxy (throwaway stacks only): the worker without
    /// the dev server's extra hop, as the bench measures it.
    pub fn workerd_url(&self) -> Result<String> {
        workerd_url(&self.dir)
    }

    /// `code` in workerd alone (see `workerd`), named `name` in the stack's files, with the
    /// stack's settings, its subrequests through `outbound` when given.
    pub async fn bare_workerd(
        &self,
        name: &str,
        code: crate::workerd::Code<'_>,
        outbound: Option<&crate::workerd::Outbound<'_>>,
    ) -> Result<BareWorkerd> {
        let vars = worker_vars(&self.dir, self.ports, &self.keys, self.mode.key_style())?;
        crate::workerd::serve(&self.dir, name, code, &vars, outbound).await
    }

    /// The same built worker served a second time as the stack serves its own, given `style`'s
    /// API keys (a throwaway stack's own worker has the current ones), so the tests can run it
    /// with each style. pg_cron and pg_net keep calling the stack's own worker.
    pub async fn second_worker(&self, style: KeyStyle) -> Result<SecondWorker> {
        let name = match style {
            KeyStyle::Current => "worker-current-keys",
            KeyStyle::Legacy => "worker-legacy-keys",
        };
        let ports = Ports {
            worker: free_port()?,
            ..self.ports
        };
        let vars = worker_vars(&self.dir, ports, &self.keys, style)?;
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir)?;
        let log = self.dir.join(format!("logs/{name}.log"));
        let mut server = Service::spawn(
            "second worker",
            &mut inspectorless_worker_server(&dir, ports.worker, &vars)?,
            Output::File(&log),
        )?;
        let url = format!("http://127.0.0.1:{}", ports.worker);
        wait_for_http(
            &mut server,
            &format!("{url}/healthz"),
            Duration::from_secs(180),
        )
        .await?;
        Ok(SecondWorker {
            _server: server,
            url,
            log,
        })
    }

    /// A ready access token for a seeded user, signed as the stack's Auth signs them.
    pub fn user_token(&self, user: &DevUser<'_>) -> String {
        let issuer = format!("{}/auth/v1", self.supabase_url());
        match self.signing {
            Signing::Es256 => self.keys.user_access_token(user, &issuer, 3600),
            Signing::Hs256 => self.keys.user_access_token_hs256(user, &issuer, 3600),
        }
    }

    pub fn worker_log(&self) -> PathBuf {
        self.dir.join("logs/worker.log")
    }

    pub fn check_running(&mut self) -> Result<()> {
        self.postrust.check_running()?;
        self.web_app.check_running()?;
        self.worker.check_running()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.gateway.abort();
        self.ai_fakes.abort();
    }
}

/// The bearer pg_cron sends to the local worker's `/v1/cron/*` (Vault's `cron_secret` on Supabase).
pub const LOCAL_CRON_SECRET: &str = "local-cron-secret-of-at-least-32-bytes";

/// The web apps of a local stack: the usual development servers' origins (Vite, Next.js and
/// Create React App, Expo web, plain static servers), so a local web client works out of the box.
const LOCAL_WEB_APP_ORIGINS: &str = "http://localhost:5173,http://127.0.0.1:5173,\
    http://localhost:3000,http://127.0.0.1:3000,http://localhost:8081,http://127.0.0.1:8081,\
    http://localhost:8080,http://127.0.0.1:8080";

/// Where the local apps may be sent back after connecting a social account or from an invitation
/// email: the web app's dev server, and a native app's own scheme (RFC 8252's reverse-DNS form).
pub const LOCAL_REDIRECT_ALLOWLIST: &str =
    "http://127.0.0.1:3000/,http://localhost:3000/,com.pixa.dev:/";

/// The reference web app's address: one of the usual ones above in `dev`, a free port in tests.
fn web_app_url(ports: Ports) -> String {
    format!("http://127.0.0.1:{}", ports.web_app)
}

/// `list` (comma-separated) with `entry` added unless it holds it already.
fn with_entry(list: &str, entry: &str) -> String {
    if list.split(',').any(|kept| kept == entry) {
        list.to_owned()
    } else {
        format!("{list},{entry}")
    }
}

/// The local key ring sealing stored provider keys: made once per stack directory and kept, so
/// keys saved in a dev database stay readable across restarts. Two versions, as after a
/// rotation, so the tests can seal a key as a worker that knew only `v1` did and see it re-sealed.
pub fn ai_key_ring(dir: &Path) -> Result<String> {
    key_ring(&dir.join("ai-key-ring.txt"), &["v1", "v2"])
}

/// The local key ring sealing social tokens: two versions, as after a rotation, so the tests
/// can seal a row as a worker that knew only `v1` did and see it still open and re-seal.
pub fn social_key_ring(dir: &Path) -> Result<String> {
    key_ring(&dir.join("social-key-ring.txt"), &["v1", "v2"])
}

fn key_ring(path: &Path, versions: &[&str]) -> Result<String> {
    use base64::Engine;
    if let Ok(ring) = std::fs::read_to_string(path) {
        return Ok(ring.trim().to_owned());
    }
    let mut entries = Vec::new();
    for version in versions {
        let mut key = [0_u8; 32];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut key)?;
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        entries.push(format!("{version}:{key}"));
    }
    let ring = entries.join(",");
    std::fs::write(path, &ring)?;
    Ok(ring)
}

/// Removes the folders of earlier throwaway runs whose process is gone, stopping their Postgres.
fn remove_abandoned_runs(parent: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let owner = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<libc::pid_t>().ok());
        let alive = owner.is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0);
        if alive {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            Cluster::new(&path.join("postgres"), 0).stop().ok();
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        }
        .with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// `wrangler dev` as a developer runs it: rebuilds on source changes, DevTools on the inspector
/// port.
fn wrangler_dev(dir: &Path, ports: Ports) -> Command {
    let root = repo_root();
    let mut command = Command::new(root.join("node_modules/.bin/wrangler"));
    command
        .current_dir(&root)
        .args([
            "dev",
            "--ip",
            "127.0.0.1",
            "--show-interactive-dev-session=false",
            "--log-level",
            "log",
        ])
        .arg("--port")
        .arg(ports.worker.to_string())
        .arg("--inspector-port")
        .arg(ports.worker_inspector.to_string())
        .arg("--persist-to")
        .arg(dir.join("wrangler"))
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false")
        // wrangler.toml's build command runs `cargo xtask build-worker`; skip wasm-opt locally.
        .env(crate::worker::FAST_BUILD_ENV, "1");
    command
}

/// The worker's vars and secrets on the local stack: the local Supabase, the fakes in place of
/// every AI provider and social platform, and local keys.
fn worker_vars(
    dir: &Path,
    ports: Ports,
    keys: &DevKeys,
    style: KeyStyle,
) -> Result<Vec<(&'static str, String)>> {
    let fakes_url = format!("http://127.0.0.1:{}", ports.ai_fakes);
    let (anon_key, service_role_key) = match style {
        KeyStyle::Legacy => (keys.anon_key(), keys.service_role_key()),
        KeyStyle::Current => (keys.publishable_key(), keys.secret_key()),
    };
    // The reference web app calls the worker from its page and comes back to it from OAuth.
    let web_app = web_app_url(ports);
    let redirect_allowlist = with_entry(LOCAL_REDIRECT_ALLOWLIST, &format!("{web_app}/"));
    let vars = [
        (
            "SUPABASE_URL",
            format!("http://127.0.0.1:{}", ports.gateway),
        ),
        ("SUPABASE_ANON_KEY", anon_key),
        ("SUPABASE_SERVICE_ROLE_KEY", service_role_key),
        ("SUPABASE_JWT_SECRET", keys.jwt_secret.clone()),
        // The fakes listen on loopback over http: only a development configuration may call
        // there (and use SOCIAL_API_ORIGIN_OVERRIDE).
        ("ENVIRONMENT", "development".into()),
        ("ALLOW_LOCAL_OUTBOUND", "true".into()),
        ("OPENAI_BASE_URL", format!("{fakes_url}/openai/v1")),
        ("XAI_BASE_URL", format!("{fakes_url}/xai/v1")),
        ("GEMINI_BASE_URL", format!("{fakes_url}/gemini/v1beta")),
        ("OPENAI_API_KEY", "platform-openai-key".into()),
        ("XAI_API_KEY", "platform-xai-key".into()),
        ("GEMINI_API_KEY", "platform-gemini-key".into()),
        ("AI_KEY_ENCRYPTION_KEYS", ai_key_ring(dir)?),
        ("CRON_SECRET", LOCAL_CRON_SECRET.into()),
        ("AI_FALLBACK_PROVIDER", "gemini".into()),
        // Social platforms: the fakes stand in for every platform host, with their apps.
        ("SOCIAL_API_ORIGIN_OVERRIDE", format!("{fakes_url}/social")),
        (
            "PUBLIC_BASE_URL",
            format!("http://127.0.0.1:{}", ports.worker),
        ),
        ("OAUTH_REDIRECT_ALLOWLIST", redirect_allowlist.clone()),
        ("INVITATION_REDIRECT_ALLOWLIST", redirect_allowlist),
        (
            "CORS_ALLOWED_ORIGINS",
            with_entry(LOCAL_WEB_APP_ORIGINS, &web_app),
        ),
        ("SOCIAL_TOKEN_ENCRYPTION_KEYS", social_key_ring(dir)?),
        // The fakes answer in milliseconds; a short wait keeps the timeout tests quick.
        ("PUBLISH_CALL_TIMEOUT_SECONDS", "8".into()),
        ("AI_CALL_TIMEOUT_SECONDS", "2".into()),
    ];
    let mut vars = vars.to_vec();
    for platform in ["x", "linkedin", "facebook", "tiktok", "pinterest", "google"] {
        let (_, id, secret) = fakes::social::APPS
            .iter()
            .find(|(app, _, _)| *app == platform)
            .expect("a fake app per platform");
        let (id_name, secret_name) = match platform {
            "x" => ("X_CLIENT_ID", "X_CLIENT_SECRET"),
            "linkedin" => ("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"),
            "facebook" => ("FACEBOOK_APP_ID", "FACEBOOK_APP_SECRET"),
            "tiktok" => ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"),
            "pinterest" => ("PINTEREST_APP_ID", "PINTEREST_APP_SECRET"),
            _ => ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
        };
        vars.push((id_name, (*id).to_owned()));
        vars.push((secret_name, (*secret).to_owned()));
    }
    Ok(vars)
}

/// Where `xtask/serve-worker.mjs` writes the address of workerd's own socket.
const WORKERD_URL_FILE: &str = "workerd-url";

/// The address serve-worker.mjs wrote for the stack in `dir`, once the worker is ready.
fn workerd_url(dir: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(dir.join(WORKERD_URL_FILE))?)
}

/// wrangler's dev server without the DevTools inspector, for tests and benchmarks (see
/// `xtask/serve-worker.mjs`): it serves the module built before the stack started, on `port`,
/// keeping its files in `dir`.
fn inspectorless_worker_server(dir: &Path, port: u16, vars: &[(&str, String)]) -> Result<Command> {
    let root = repo_root();
    let vars_file = dir.join("worker-vars.json");
    let vars: serde_json::Map<String, serde_json::Value> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone().into()))
        .collect();
    std::fs::write(&vars_file, serde_json::to_vec(&vars)?)?;
    let mut command = Command::new("node");
    command
        .current_dir(&root)
        .arg(root.join("xtask/serve-worker.mjs"))
        .arg(frozen_wrangler_config(dir)?)
        .arg(port.to_string())
        .arg(dir.join("wrangler"))
        .arg(vars_file)
        .arg(dir.join(WORKERD_URL_FILE))
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false");
    Ok(command)
}

/// wrangler.toml without its build step and file watching, for throwaway stacks: they serve the
/// module built before they start, and a rebuild mid-run would restart the worker under the tests.
fn frozen_wrangler_config(dir: &Path) -> Result<PathBuf> {
    let root = repo_root();
    let original = std::fs::read_to_string(root.join("wrangler.toml"))?;
    let mut frozen = String::new();
    let mut in_build = false;
    for line in original.lines() {
        if line.starts_with('[') {
            in_build = line.trim() == "[build]";
        }
        if in_build {
            continue;
        }
        match line.strip_prefix("main = ") {
            Some(main) => {
                let main = root.join(main.trim().trim_matches('"'));
                frozen.push_str(&format!("main = {:?}\n", main.display().to_string()));
            }
            None => {
                frozen.push_str(line);
                frozen.push('\n');
            }
        }
    }
    let path = dir.join("wrangler.toml");
    std::fs::write(&path, frozen)?;
    Ok(path)
}

fn write_dev_vars(path: &Path, vars: &[(&str, String)]) -> Result<()> {
    let mut text =
        String::from("# Generated by `cargo xtask dev`; local keys only. Do not commit.\n");
    for (name, value) in vars {
        text.push_str(&format!("{name}={value}\n"));
    }
    std::fs::write(path, text)?;
    Ok(())
}
