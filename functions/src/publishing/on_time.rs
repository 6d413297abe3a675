//! Posts on time (#26): pg_cron calls the sweep once a minute, so each sweep also asks the
//! database at which seconds something falls due before the next one (`publishing_wakeups`)
//! and sends itself a delayed queue message per second; the queue's consumer (`wake_up`)
//! claims what is due then, exactly as the sweep does.

use std::time::Duration;

use serde_json::json;

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::clock::Clock;
use crate::infra::supabase::rpc;
use crate::infra::wakeups;
use crate::scope::Scope;

use super::dispatcher::{self, Tally};

/// How long a wake-up claims batch after batch: what falls due at one second is a few batches
/// at most, and the sweep and the next wake-ups take whatever is left.
const WAKE_UP_BUDGET: Duration = Duration::from_secs(25);

/// Wake-ups a minute at most: Queues bills each message, and a busier minute shares wider
/// buckets (2 s for a 70 s look-ahead) instead.
const MAX_WAKEUPS: u32 = 35;

/// Sends the wake-ups for what falls due before the next sweep. A failure only costs
/// punctuality (the next sweep publishes those posts), so it is logged, not answered.
pub async fn schedule_wakeups(config: &Config, scope: &Scope<'_>) {
    let args = json!({ "max_wakeups": MAX_WAKEUPS });
    let sent = match rpc::<Vec<u32>>(config, "publishing_wakeups", args).await {
        Ok(delays) if delays.is_empty() => Ok(()),
        Ok(delays) => wakeups::send(&delays).await,
        Err(error) => Err(described(&error)),
    };
    if let Err(error) = sent {
        scope.log(json!({ "event": "publishing_wakeups_failed", "error": error }).to_string());
    }
}

/// A wake-up came due: publishes what is due now. The error is described for the log.
pub async fn wake_up(config: &Config, clock: &dyn Clock) -> Result<Tally, String> {
    dispatcher::dispatch(config, clock, None, WAKE_UP_BUDGET)
        .await
        .map_err(|error| described(&error))
}

/// An error as the log shows it: what went wrong internally, else its code.
fn described(error: &ApiError) -> String {
    error.cause().unwrap_or(error.code()).to_owned()
}
