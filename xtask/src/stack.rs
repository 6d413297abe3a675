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

/// The users `supabase/seed.sql` creates.
pub const SEED_USERS: [DevUser<'static>; 2] = [
    DevUser { id: "11111111-1111-4111-8111-111111111111", email: "alice@example.com" },
    DevUser { id: "22222222-2222-4222-8222-222222222222", email: "bob@example.com" },
];

#[derive(Clone, Copy)]
pub struct Ports {
    pub postgres: u16,
    pub gateway: u16,
    pub postrust: u16,
    pub worker: u16,
    pub worker_inspector: u16,
}

impl Ports {
    /// Supabase CLI's ports for the database and API; wrangler's default for the worker.
    pub const DEV: Ports = Ports { postgres: 54322, gateway: 54321, postrust: 54323, worker: 8787, worker_inspector: 9229 };

    /// Free ports, so a test stack can run beside `cargo xtask dev`.
    pub fn free() -> Result<Ports> {
        Ok(Ports {
            postgres: free_port()?,
            gateway: free_port()?,
            postrust: free_port()?,
            worker: free_port()?,
            worker_inspector: free_port()?,
        })
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub enum Mode {
    /// Data and keys persist under target/devstack; secrets go to .dev.vars; logs to the terminal.
    Dev { reset: bool },
    /// Everything fresh under target/<name>; the worker's log goes to a file the tests read.
    Throwaway { name: &'static str, optimized_worker: bool },
}

pub struct Stack {
    pub keys: DevKeys,
    pub ports: Ports,
    pub dir: PathBuf,
    // Field order is drop order: the worker first, the database last.
    worker: Service,
    gateway: JoinHandle<()>,
    postrust: Service,
    pub postgres: Cluster,
}

impl Stack {
    pub async fn start(mode: Mode, ports: Ports) -> Result<Stack> {
        let root = repo_root();
        let dir = match mode {
            Mode::Dev { .. } => root.join("target/devstack"),
            Mode::Throwaway { name, .. } => root.join("target").join(name),
        };
        let fresh = match mode {
            Mode::Dev { reset } => reset,
            Mode::Throwaway { .. } => true,
        };
        if fresh && dir.exists() {
            Cluster::new(&dir.join("postgres"), ports.postgres).stop().ok();
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir.join("logs"))?;
        let keys = DevKeys::load_or_create(&dir.join("keys.json"))?;

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
                .env("PGRST_DB_URI", format!("postgresql://authenticator@127.0.0.1:{}/postgres", ports.postgres))
                .env("PGRST_DB_SCHEMAS", "public")
                .env("PGRST_DB_ANON_ROLE", "anon")
                .env("PGRST_DB_EXTRA_SEARCH_PATH", "public,extensions")
                .env("PGRST_DB_MAX_ROWS", "1000")
                // Answer quickly when Postgres is down, as hosted PostgREST does.
                .env("PGRST_DB_POOL_TIMEOUT", "2")
                .env("PGRST_JWT_SECRET", keys.postgrest_jwks().to_string())
                .env("PGRST_SERVER_HOST", "127.0.0.1")
                .env("PGRST_SERVER_PORT", ports.postrust.to_string())
                .env("PGRST_LOG_LEVEL", "warn"),
            Output::File(&dir.join("logs/postrust.log")),
        )?;
        wait_for_http(&mut postrust, &format!("http://127.0.0.1:{}/api/", ports.postrust), Duration::from_secs(30)).await?;

        let supabase_url = format!("http://127.0.0.1:{}", ports.gateway);
        let supabase = LocalSupabase {
            postgrest_url: format!("http://127.0.0.1:{}/api", ports.postrust),
            database_url: postgres.url(),
            api_url: supabase_url.clone(),
            site_url: "http://127.0.0.1:3000".into(),
            keys: keys.clone(),
            signing: Signing::Es256,
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

        let vars = [
            ("SUPABASE_URL", supabase_url),
            ("SUPABASE_ANON_KEY", keys.anon_key()),
            ("SUPABASE_SERVICE_ROLE_KEY", keys.service_role_key()),
            ("SUPABASE_JWT_SECRET", keys.jwt_secret.clone()),
        ];
        let optimized_worker = matches!(mode, Mode::Throwaway { optimized_worker: true, .. });
        let mut wrangler = wrangler_dev(&dir, ports, optimized_worker);
        let output = match mode {
            Mode::Dev { .. } => {
                write_dev_vars(&root.join(".dev.vars"), &vars)?;
                Output::Inherit
            }
            Mode::Throwaway { .. } => {
                for (name, value) in &vars {
                    wrangler.arg("--var").arg(format!("{name}:{value}"));
                }
                Output::File(&dir.join("logs/worker.log"))
            }
        };
        let mut worker = Service::spawn("wrangler dev", &mut wrangler, output)?;
        wait_for_http(&mut worker, &format!("http://127.0.0.1:{}/healthz", ports.worker), Duration::from_secs(180)).await?;

        Ok(Stack { keys, ports, dir, worker, gateway, postrust, postgres })
    }

    pub fn supabase_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.gateway)
    }

    pub fn worker_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.worker)
    }

    pub fn user_token(&self, user: &DevUser<'_>) -> String {
        self.keys.user_access_token(user, &format!("{}/auth/v1", self.supabase_url()), 3600)
    }

    pub fn worker_log(&self) -> PathBuf {
        self.dir.join("logs/worker.log")
    }

    pub fn check_running(&mut self) -> Result<()> {
        self.postrust.check_running()?;
        self.worker.check_running()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.gateway.abort();
    }
}

fn wrangler_dev(dir: &Path, ports: Ports, optimized_worker: bool) -> Command {
    let root = repo_root();
    let mut command = Command::new(root.join("node_modules/.bin/wrangler"));
    command
        .current_dir(&root)
        .args(["dev", "--ip", "127.0.0.1", "--show-interactive-dev-session=false", "--log-level", "log"])
        .arg("--port")
        .arg(ports.worker.to_string())
        .arg("--inspector-port")
        .arg(ports.worker_inspector.to_string())
        .arg("--persist-to")
        .arg(dir.join("wrangler"))
        .env("CI", "true")
        .env("WRANGLER_SEND_METRICS", "false");
    if !optimized_worker {
        // wrangler.toml's build command runs `cargo xtask build-worker`; skip wasm-opt locally.
        command.env(crate::worker::FAST_BUILD_ENV, "1");
    }
    command
}

fn write_dev_vars(path: &Path, vars: &[(&str, String)]) -> Result<()> {
    let mut text = String::from("# Generated by `cargo xtask dev`; local keys only. Do not commit.\n");
    for (name, value) in vars {
        text.push_str(&format!("{name}={value}\n"));
    }
    std::fs::write(path, text)?;
    Ok(())
}
