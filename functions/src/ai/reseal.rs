//! Re-sealing stored provider keys under the newest `AI_KEY_ENCRYPTION_KEYS` version (the
//! `/v1/cron/tokens/reencrypt` pass does it after the social tokens), so old key versions can
//! be removed. Each key is opened and sealed again with the same binding (`keys::open`/`seal`:
//! its row and base URL), and written only if the row still holds what was read.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::ai::keys::{self, KeyRing, SealedKey};
use crate::config::Config;
use crate::error::ApiError;
use crate::infra::crypto::{reseal_in_pages, Resealed};
use crate::infra::supabase::rpc;

/// A stored key sealed with an older version, as `ai_keys_to_reseal` lists it.
#[derive(Deserialize)]
struct StaleKey {
    id: String,
    base_url: Option<String>,
    encrypted_api_key: String,
    api_key_version: String,
}

/// The pass's report, or `null` when no AI key ring is configured.
pub async fn reseal_keys(config: &Config) -> Result<Value, ApiError> {
    let Some(ring) = config.ai.key_ring.as_ref() else {
        return Ok(Value::Null);
    };
    let newest = ring.newest_version();
    let report = reseal_in_pages(
        |after_id, batch_size| {
            rpc::<Vec<StaleKey>>(
                config,
                "ai_keys_to_reseal",
                json!({"newest_version": newest, "batch_size": batch_size, "after_id": after_id}),
            )
        },
        |row| row.id.as_str(),
        |row| reseal_key(config, ring, row),
    )
    .await?;
    Ok(
        json!({"keyVersion": newest, "checked": report.checked, "resealed": report.resealed,
              "unreadable": report.unreadable, "done": report.done}),
    )
}

async fn reseal_key(config: &Config, ring: &KeyRing, row: StaleKey) -> Result<Resealed, ApiError> {
    let stored = SealedKey {
        version: row.api_key_version,
        ciphertext: row.encrypted_api_key,
    };
    let base_url = row.base_url.as_deref();
    let Ok(api_key) = keys::open(ring, &stored, &row.id, base_url) else {
        return Ok(Resealed::Unreadable);
    };
    let sealed = keys::seal(ring, &api_key, &row.id, base_url);
    let written: bool = rpc(
        config,
        "reseal_ai_key",
        json!({"config_id": row.id, "base_url": base_url, "read_api_key": stored.ciphertext,
               "encrypted_api_key": sealed.ciphertext, "api_key_version": sealed.version}),
    )
    .await?;
    Ok(Resealed::Written(written))
}
