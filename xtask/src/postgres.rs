//! A Postgres 15 cluster in a folder under target/, run as the `postgres` user (Postgres refuses
//! root), with what hosted Supabase provides (`sql/`), then our migrations and seed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{repo_root, run};

pub const BIN_DIR: &str = "/usr/lib/postgresql/15/bin";

pub struct Cluster {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    pub port: u16,
}

/// How much durability a cluster trades for speed.
#[derive(Clone, Copy, PartialEq)]
pub enum Durability {
    /// Survives a crash; for `dev`, whose data persists between runs.
    Durable,
    /// fsync off; for throwaway test clusters.
    Throwaway,
}

impl Cluster {
    pub fn new(dir: &Path, port: u16) -> Self {
        Self {
            data_dir: dir.join("data"),
            socket_dir: dir.join("run"),
            port,
        }
    }

    pub fn exists(&self) -> bool {
        self.data_dir.join("PG_VERSION").exists()
    }

    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates the cluster; fails if it already exists.
    pub fn init(&self, durability: Durability) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir)?;
        std::fs::create_dir_all(&self.socket_dir)?;
        self.chown_to_postgres(&[&self.data_dir, &self.socket_dir])?;
        run(self
            .as_postgres(&format!("{BIN_DIR}/initdb"))
            .stdout(std::process::Stdio::null())
            .args([
                "--no-sync",
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--pgdata",
            ])
            .arg(&self.data_dir))?;
        let mut conf = format!(
            "\n# written by cargo xtask\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{sock}'\nshared_preload_libraries = 'pg_cron'\n\
             cron.database_name = 'postgres'\ncron.host = '{sock}'\nmax_connections = 200\n\
             wal_level = logical\n",
            port = self.port,
            sock = self.socket_dir.display(),
        );
        if durability == Durability::Throwaway {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let conf_path = self.data_dir.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing)?;
        Ok(())
    }

    pub fn start(&self) -> Result<()> {
        let log = self
            .data_dir
            .parent()
            .unwrap_or(&self.data_dir)
            .join("postgres.log");
        std::fs::File::create(&log)?;
        self.chown_to_postgres(&[&log])?;
        run(self
            .as_postgres(&format!("{BIN_DIR}/pg_ctl"))
            .args(["--wait", "--silent", "--pgdata"])
            .arg(&self.data_dir)
            .arg("--log")
            .arg(&log)
            .arg("start"))
        .with_context(|| format!("starting Postgres (log: {})", log.display()))
    }

    pub fn stop(&self) -> Result<()> {
        if !self.data_dir.join("postmaster.pid").exists() {
            return Ok(());
        }
        run(self
            .as_postgres(&format!("{BIN_DIR}/pg_ctl"))
            .args(["--wait", "--silent", "--mode=fast", "--pgdata"])
            .arg(&self.data_dir)
            .arg("stop"))
    }

    /// The local stand-in for hosted Supabase, then the migrations, then the seed.
    pub fn provision(&self) -> Result<()> {
        self.apply_supabase_stand_in()?;
        self.apply_pending_migrations()?;
        self.psql_file(&repo_root().join("supabase/seed.sql"), &[])
    }

    /// `sql/`: what a hosted Supabase database has before any migration of ours.
    pub fn apply_supabase_stand_in(&self) -> Result<()> {
        for file in sorted_sql_files(&repo_root().join("sql"))? {
            self.psql_file(&file, &[])?;
        }
        Ok(())
    }

    pub fn migration_files() -> Result<Vec<PathBuf>> {
        sorted_sql_files(&repo_root().join("supabase/migrations"))
    }

    /// Applies migrations not yet recorded, each in one transaction with its record, in the table
    /// the Supabase CLI keeps, so `supabase migration up --db-url …` agrees about what is applied.
    pub fn apply_pending_migrations(&self) -> Result<()> {
        self.psql_command(
            "create schema if not exists supabase_migrations; \
             create table if not exists supabase_migrations.schema_migrations \
             (version text primary key, statements text[], name text);",
        )?;
        let applied =
            self.psql_command("select version from supabase_migrations.schema_migrations")?;
        let applied: Vec<&str> = applied.lines().collect();
        for file in Self::migration_files()? {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let (version, name) = stem.split_once('_').unwrap_or((stem, ""));
            if applied.contains(&version) {
                continue;
            }
            let record = format!(
                "insert into supabase_migrations.schema_migrations (version, name) values ('{version}', '{name}')"
            );
            self.psql_file(&file, &["--single-transaction", "--command", &record])
                .with_context(|| format!("migration {}", file.display()))?;
        }
        Ok(())
    }

    fn psql_file(&self, file: &Path, extra: &[&str]) -> Result<()> {
        let out = self.psql().arg("--file").arg(file).args(extra).output()?;
        if !out.status.success() {
            bail!(
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Runs a SQL file and returns its unaligned, tuples-only output (`|`-separated columns).
    pub fn psql_script(&self, file: &Path) -> Result<String> {
        let out = self
            .psql()
            .args(["--tuples-only", "--no-align", "--file"])
            .arg(file)
            .output()?;
        if !out.status.success() {
            bail!(
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs SQL and returns its unaligned, tuples-only output.
    pub fn psql_command(&self, sql: &str) -> Result<String> {
        let out = self
            .psql()
            .args(["--tuples-only", "--no-align", "--command", sql])
            .output()?;
        if !out.status.success() {
            bail!("psql: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn psql(&self) -> Command {
        let mut command = Command::new("psql");
        command
            .args([
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--no-psqlrc",
                "--host=127.0.0.1",
            ])
            .arg(format!("--port={}", self.port))
            .args(["--username=postgres", "--dbname=postgres"]);
        command
    }

    fn as_postgres(&self, program: &str) -> Command {
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--", program]);
            command
        } else {
            Command::new(program)
        }
    }

    fn chown_to_postgres(&self, paths: &[&Path]) -> Result<()> {
        if !is_root() {
            return Ok(());
        }
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .args(paths))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            eprintln!("stopping Postgres: {error:#}");
        }
    }
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

fn sorted_sql_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    Ok(files)
}
