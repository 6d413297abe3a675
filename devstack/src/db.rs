//! Connections of the stand-in services. They connect as `postgres`, the way GoTrue and Storage
//! connect with their own privileged roles, and drop to the caller's role where RLS must decide.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use serde_json::Value;
use tokio_postgres::{NoTls, Transaction};

pub fn pool(database_url: &str, size: usize) -> anyhow::Result<Pool> {
    let config: tokio_postgres::Config = database_url.parse()?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager).max_size(size).build()?)
}

/// Makes the rest of `tx` run as PostgREST runs a request: in the role the token names, with its
/// claims visible to `auth.uid()` and `auth.jwt()`.
pub async fn act_as(tx: &Transaction<'_>, claims: &Value) -> Result<(), tokio_postgres::Error> {
    let role = role_of(claims);
    tx.execute(
        "select set_config('request.jwt.claims', $1, true)",
        &[&claims.to_string()],
    )
    .await?;
    tx.batch_execute(&format!("set local role {role}")).await
}

/// The database role a token's claims name; anything but the API roles is `anon`.
pub fn role_of(claims: &Value) -> &str {
    claims["role"]
        .as_str()
        .filter(|role| ["anon", "authenticated", "service_role"].contains(role))
        .unwrap_or("anon")
}
