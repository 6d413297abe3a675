//! The local stack's PostgREST-compatible server: `postrust-server` from crates.io (pinned in
//! Cargo.toml), built into xtask and run as its own process (`cargo xtask postrust`, started by
//! the stack), configured by the same `PGRST_*` variables as its own binary. Built with the
//! workspace rather than by `cargo install`, the many dependencies it shares with the stack
//! (tokio, hyper, axum, rustls, serde, ...) compile once on a fresh machine.

use anyhow::Result;
use tracing_subscriber::filter::LevelFilter;

/// Serves until killed, as `postrust` does: its router on `PGRST_SERVER_HOST:PGRST_SERVER_PORT`,
/// behind the listener that lets request targets with raw `>` or `"` reach the router.
pub async fn serve() -> Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::WARN)
        .with_ansi(false)
        .init();
    let config = postrust_core::AppConfig::try_from_env()?;
    let address = format!("{}:{}", config.server_host, config.server_port);
    let app = postrust_server::build(config, postrust_server::Host::SERVER).await?;
    let listener = tokio::net::TcpListener::bind(&address).await?;
    axum::serve(
        postrust_server::lenient_uri::LenientListener(listener),
        app.router,
    )
    .await?;
    Ok(())
}
