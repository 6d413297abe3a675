//! Dev-only stand-ins for the parts of hosted Supabase that no installable package provides:
//! the API gateway, Auth (GoTrue), Storage, Realtime, pg_net's delivery and the mail catcher, on one port at
//! Supabase's paths.
//! Nothing here is deployed: production talks to a real Supabase project.

pub mod auth;
mod db;
pub mod gateway;
pub mod keys;
pub mod mailbox;
mod openapi;
mod pg_net;
mod postgrest_parity;
mod realtime;
mod rpc_shape;
pub mod storage;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use gateway::{Gateway, GatewayConfig};
pub use keys::{DevKeys, DevUser, Signing};

use auth::{Auth, AuthConfig};
use mailbox::Mailbox;
use realtime::Realtime;
use storage::Storage;

/// Everything the local Supabase API needs to know.
pub struct LocalSupabase {
    /// Base URL of the PostgREST-compatible server's REST surface.
    pub postgrest_url: String,
    /// Postgres as its superuser (the services' own privileged connection).
    pub database_url: String,
    /// The URL clients use for this API (the gateway's own address).
    pub api_url: String,
    /// `[auth] site_url`: where emailed links land by default.
    pub site_url: String,
    pub keys: DevKeys,
    pub signing: Signing,
    /// Where Storage keeps object bytes.
    pub storage_dir: std::path::PathBuf,
}

/// Lowercase hex SHA-256, for token hashes and ETags.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl LocalSupabase {
    pub async fn serve(self, listener: TcpListener) -> anyhow::Result<()> {
        let pool = db::pool(&self.database_url, 16)?;
        let mailbox = Arc::new(Mailbox::default());
        let auth = Arc::new(Auth::new(
            pool.clone(),
            self.keys.clone(),
            AuthConfig {
                api_url: self.api_url.clone(),
                site_url: self.site_url,
                access_token_ttl_seconds: 3600,
                min_password_length: 8,
                confirm_email: true,
                signing: self.signing,
                refresh_token_reuse_interval: Duration::from_secs(10),
                email_min_interval: Duration::from_secs(1),
            },
            mailbox.clone(),
        ));
        let storage = Arc::new(Storage::new(
            pool.clone(),
            self.keys.clone(),
            self.storage_dir,
        ));
        let gateway = Gateway::new(
            GatewayConfig {
                postgrest_url: self.postgrest_url,
                anon_key: self.keys.anon_key(),
                service_role_key: self.keys.service_role_key(),
                publishable_key: self.keys.publishable_key(),
                secret_key: self.keys.secret_key(),
            },
            pool.clone(),
        );
        let realtime = Realtime::new(pool.clone(), self.keys.clone());
        tokio::spawn(pg_net::run_dispatcher(pool.clone()));
        tokio::spawn(realtime.clone().follow_changes(self.database_url.clone()));
        let services = auth
            .router()
            .merge(storage.router())
            .merge(mailbox.router())
            .merge(realtime.router());
        axum::serve(listener, gateway.router(services)).await?;
        Ok(())
    }
}
