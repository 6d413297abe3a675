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
        // Commits stay synchronous, as on Supabase: logical decoding (the Realtime stand-in's
        // postgres_changes) sees only flushed WAL, and an asynchronous commit waits up to three
        // times `wal_writer_delay` (200 ms) for the WAL writer. Without fsync a flush costs no
        // more than a write.
        if durability == Durability::Throwaway {
            conf.push_str("fsync = off\nfull_page_writes = off\n");
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
    /// Warns about an applied migration whose file changed since (its new text is not applied).
    pub fn apply_pending_migrations(&self) -> Result<()> {
        self.psql_command(
            "create schema if not exists supabase_migrations; \
             create table if not exists supabase_migrations.schema_migrations \
             (version text primary key, statements text[], name text);",
        )?;
        let applied =
            self.psql_command("select version from supabase_migrations.schema_migrations")?;
        let applied: Vec<&str> = applied.lines().collect();
        let fingerprints_path = self.data_dir.with_file_name("applied-migrations.txt");
        let mut fingerprints = AppliedFingerprints::parse(
            &std::fs::read_to_string(&fingerprints_path).unwrap_or_default(),
        );
        for file in Self::migration_files()? {
            let stem = file
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let (version, name) = stem.split_once('_').unwrap_or((stem, ""));
            let fingerprint = fingerprint(&std::fs::read(&file)?);
            if applied.contains(&version) {
                if !fingerprints.still_matches(version, fingerprint) {
                    eprintln!(
                        "warning: migration {stem} changed after it was applied to this database \
                         and is not applied again; `cargo xtask dev --reset` rebuilds the database \
                         from the migrations (applied migrations are better left as they are: \
                         add a new one)"
                    );
                }
                continue;
            }
            let record = format!(
                "insert into supabase_migrations.schema_migrations (version, name) values ('{version}', '{name}')"
            );
            self.psql_file(&file, &["--single-transaction", "--command", &record])
                .with_context(|| format!("migration {}", file.display()))?;
            fingerprints.still_matches(version, fingerprint);
        }
        std::fs::write(&fingerprints_path, fingerprints.to_text())?;
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

/// What each migration's file was when it was applied to a database (kept next to the cluster,
/// so a reset forgets it), to tell when an applied migration's file was edited afterwards.
#[derive(Default)]
struct AppliedFingerprints(Vec<(String, u64)>);

impl AppliedFingerprints {
    fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .filter_map(|line| {
                    let (version, fingerprint) = line.split_once(' ')?;
                    Some((
                        version.to_owned(),
                        u64::from_str_radix(fingerprint, 16).ok()?,
                    ))
                })
                .collect(),
        )
    }

    /// Whether `version`'s file is as it was applied; a version not seen before is recorded as
    /// it is now. An edited one keeps its first fingerprint, so the difference is told each time.
    fn still_matches(&mut self, version: &str, fingerprint: u64) -> bool {
        match self.0.iter().find(|(known, _)| known == version) {
            Some((_, recorded)) => *recorded == fingerprint,
            None => {
                self.0.push((version.to_owned(), fingerprint));
                true
            }
        }
    }

    fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|(version, fingerprint)| format!("{version} {fingerprint:016x}\n"))
            .collect()
    }
}

/// FNV-1a: stable across builds and toolchains, which std's hasher is not promised to be.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edited_applied_migration_is_told_every_time_until_the_record_is_reset() {
        let mut fingerprints = AppliedFingerprints::default();
        assert!(fingerprints.still_matches("001", fingerprint(b"create table a ();")));
        let mut reread = AppliedFingerprints::parse(&fingerprints.to_text());
        assert!(reread.still_matches("001", fingerprint(b"create table a ();")));
        assert!(!reread.still_matches("001", fingerprint(b"create table a (id int);")));
        let mut again = AppliedFingerprints::parse(&reread.to_text());
        assert!(!again.still_matches("001", fingerprint(b"create table a (id int);")));
        // A migration first seen on an existing database is taken as applied as it is now.
        assert!(again.still_matches("002", fingerprint(b"select 1;")));
        assert_eq!(again.to_text().lines().count(), 2);
    }

    #[test]
    fn the_fingerprint_is_fnv_1a() {
        assert_eq!(fingerprint(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fingerprint(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
