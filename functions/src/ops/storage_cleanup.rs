//! `POST /v1/cron/storage/cleanup` (pg_cron, every five minutes): removes the Storage objects
//! whose rows were deleted (library assets, chat attachments), which SQL cannot do itself. Each
//! round leases a batch of queued objects, removes them bucket by bucket, and finishes the
//! entries of the buckets whose removal succeeded; a failed bucket's entries come back when
//! their lease runs out.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::auth::Cron;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::Response;
use crate::infra::clock::Clock;
use crate::infra::storage;
use crate::infra::supabase::rpc;

const BATCH: u32 = 100;
const LEASE_SECONDS: u32 = 300;
/// Rounds stop after this, well inside a scheduled request's time.
const BUDGET: Duration = Duration::from_secs(20);

#[derive(Deserialize)]
struct Queued {
    id: i64,
    bucket: String,
    name: String,
}

pub async fn cleanup(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let (config, _, _, clock) = cx.parts();
    let started_ms = clock.unix_millis();
    let (mut removed, mut failed) = (0, 0);
    // The answer lands in pg_net's response table: buckets and error codes, never object names
    // (they can carry what users called their files).
    let mut failures = Vec::new();
    loop {
        let queued: Vec<Queued> = rpc(
            config,
            "claim_storage_cleanup",
            json!({ "batch_size": BATCH, "lease_seconds": LEASE_SECONDS }),
        )
        .await?;
        if queued.is_empty() {
            break;
        }
        let mut by_bucket: BTreeMap<&str, Vec<&Queued>> = BTreeMap::new();
        for entry in &queued {
            by_bucket.entry(&entry.bucket).or_default().push(entry);
        }
        let mut finished = Vec::new();
        for (bucket, entries) in by_bucket {
            let names: Vec<&str> = entries.iter().map(|entry| entry.name.as_str()).collect();
            match storage::remove(config, bucket, &names).await {
                Ok(()) => finished.extend(entries.iter().map(|entry| entry.id)),
                Err(error) => {
                    failed += entries.len();
                    failures.push(json!({ "bucket": bucket, "errorCode": error.code() }));
                }
            }
        }
        if !finished.is_empty() {
            let _: i64 = rpc(config, "finish_storage_cleanup", json!({ "ids": finished })).await?;
            removed += finished.len();
        }
        // A failing Storage is not hammered: what is left waits for the next run.
        if failed > 0 || clock.unix_millis() - started_ms > BUDGET.as_millis() as f64 {
            break;
        }
    }
    Ok(Response::json(
        200,
        &json!({ "removed": removed, "failed": failed, "failures": failures }),
    ))
}
