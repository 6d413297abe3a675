//! The dispatcher: claims due destinations (several dispatchers may run at once; the database
//! hands each destination to one, under a lease), publishes each, and records the outcome.

use std::time::Duration;

use futures::future::LocalBoxFuture;
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::ai::credits::rpc;
use crate::ai::retry::random_unit;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::social::tokens::{ensure_fresh, fresh_access_token_of, Access, Renew, StoredConnection};
use crate::social::Platform;
use crate::supabase;

use super::wire::Wire;
use super::{Attempt, Content, Failure, MediaFile, Published};

/// Destinations one claim takes.
const BATCH: u32 = 25;
/// Destinations published at the same time by one dispatcher.
const CONCURRENCY: usize = 8;
/// Longer than the slowest publish (uploads included): a dispatcher still working never
/// loses its destination to another.
const LEASE_SECONDS: u32 = 300;
/// After this many attempts that proved nothing was posted, the destination fails.
const MAX_ATTEMPTS: u32 = 5;
/// Retry backoff: full jitter over `BASE · 2^(attempt-1)`, at most `MAX`.
const RETRY_BASE_MS: f64 = 15_000.0;
const RETRY_MAX_MS: f64 = 30.0 * 60_000.0;

/// A destination as `claim_due_destinations` hands it out.
#[derive(Deserialize)]
pub struct Claimed {
    pub destination_id: String,
    pub post_id: String,
    pub team_id: String,
    pub connection_id: String,
    pub platform: Platform,
    pub options: Value,
    pub body: String,
    pub media: Value,
    pub attempts: u32,
    pub lease_id: String,
    /// An earlier attempt's irreversible call may have happened (its dispatcher died).
    pub ambiguous: bool,
    pub attempt_started_at: Option<String>,
    /// The connection as it was at the claim, sealed tokens included.
    pub connection: StoredConnection,
}

/// What one dispatch run did, by outcome.
#[derive(Debug, Default, serde::Serialize)]
pub struct Tally {
    pub claimed: u32,
    pub published: u32,
    pub scheduled: u32,
    pub failed: u32,
    pub unconfirmed: u32,
    pub lost: u32,
}

/// Publishes what is due, claim after claim, until nothing is due or `budget` has passed.
/// `only_post` limits it to one post's destinations (published now, approved or retried).
pub async fn dispatch(
    config: &Config,
    clock: &dyn Clock,
    only_post: Option<&str>,
    budget: Duration,
) -> Result<Tally, ApiError> {
    let started = clock.unix_millis();
    let mut tally = Tally::default();
    loop {
        let claimed: Vec<Claimed> = rpc(
            config,
            "claim_due_destinations",
            json!({ "batch_size": BATCH, "lease_seconds": LEASE_SECONDS, "only_post_id": only_post }),
        )
        .await?;
        if claimed.is_empty() {
            return Ok(tally);
        }
        tally.claimed += claimed.len() as u32;
        let outcomes: Vec<Option<String>> = stream::iter(claimed)
            .map(|job| async move { process(config, clock, &job).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome.as_deref() {
                Some("published") => tally.published += 1,
                Some("scheduled") => tally.scheduled += 1,
                Some("failed") => tally.failed += 1,
                Some("unconfirmed") => tally.unconfirmed += 1,
                _ => tally.lost += 1,
            }
        }
        if clock.unix_millis() - started > budget.as_millis() as f64 {
            return Ok(tally);
        }
    }
}

/// The outcome recorded for a destination.
struct Outcome {
    kind: &'static str,
    published: Option<Published>,
    code: Option<&'static str>,
    message: Option<String>,
    platform_status: Option<u16>,
    retry_in_ms: Option<u64>,
}

impl Outcome {
    fn published(kind: &'static str, published: Published) -> Self {
        Self {
            kind,
            published: Some(published),
            code: None,
            message: None,
            platform_status: None,
            retry_in_ms: None,
        }
    }

    fn of(failure: Failure, attempts: u32) -> Self {
        let bare = |kind, code, message, platform_status| Self {
            kind,
            published: None,
            code: Some(code),
            message: Some(message),
            platform_status,
            retry_in_ms: None,
        };
        match failure {
            Failure::NotPosted {
                code,
                message,
                platform_status,
                retry_after,
            } => Self {
                retry_in_ms: Some(retry_delay_ms(attempts, retry_after)),
                ..bare("retry", code, message, platform_status)
            },
            Failure::Unauthorized => bare(
                "failed",
                "platform_unauthorized",
                "the platform refused the account's token after a refresh".into(),
                Some(401),
            ),
            Failure::Refused {
                code,
                message,
                platform_status,
            } => bare("failed", code, message, platform_status),
            Failure::Ambiguous {
                message,
                platform_status,
            } => bare("unconfirmed", "outcome_unknown", message, platform_status),
            Failure::LeaseLost => bare("lost", "lease_lost", String::new(), None),
        }
    }
}

/// Full jitter over an exponential bound, or the platform's `Retry-After` when longer.
fn retry_delay_ms(attempts: u32, retry_after: Option<u64>) -> u64 {
    let bound =
        (RETRY_BASE_MS * 2_f64.powi(attempts.saturating_sub(1).min(16) as i32)).min(RETRY_MAX_MS);
    let jittered = (bound * random_unit()) as u64;
    jittered.max(retry_after.unwrap_or(0) * 1000)
}

/// Publishes one claimed destination and records its outcome; returns the destination's new
/// status (`None` when the lease was lost meanwhile).
async fn process(config: &Config, clock: &dyn Clock, job: &Claimed) -> Option<String> {
    let started = clock.unix_millis();
    let request_id = request_id();
    let outcome = match attempt(config, clock, job, &request_id).await {
        Ok(outcome) => outcome,
        Err(failure) => Outcome::of(failure, job.attempts + 1),
    };
    if outcome.kind == "lost" {
        return None;
    }
    let published = outcome.published.as_ref();
    let params = json!({
        "destination_id": job.destination_id,
        "lease_id": job.lease_id,
        "outcome": outcome.kind,
        "request_id": request_id,
        "platform_status": outcome.platform_status,
        "external_id": published.map(|p| &p.external_id),
        "permalink": published.and_then(|p| p.permalink.as_ref()),
        "error_code": outcome.code,
        "error_message": outcome.message,
        "duration_ms": (clock.unix_millis() - started).max(0.0) as u64,
        "retry_in_ms": outcome.retry_in_ms,
        "max_attempts": MAX_ATTEMPTS,
    });
    rpc::<Option<String>>(config, "finish_publish_attempt", params)
        .await
        .ok()
        .flatten()
}

async fn attempt(
    config: &Config,
    clock: &dyn Clock,
    job: &Claimed,
    request_id: &str,
) -> Result<Outcome, Failure> {
    let fresh = fresh_access_token_of(config, clock, job.connection.clone())
        .await
        .map_err(token_failure)?;
    let media = load_media(config, job).await?;
    let content = Content {
        body: &job.body,
        media: &media,
        options: &job.options,
    };
    let wire = Wire::new(
        config.social.api_origin_override.as_deref(),
        config.social.publish_call_timeout,
    );
    let intent = || -> LocalBoxFuture<'_, bool> {
        Box::pin(async move {
            let params = json!({
                "destination_id": job.destination_id, "lease_id": job.lease_id, "request_id": request_id,
            });
            matches!(
                rpc::<Option<i64>>(config, "begin_publish_attempt", params).await,
                Ok(Some(_))
            )
        })
    };
    let mut attempt = Attempt {
        wire: &wire,
        access_token: fresh.access_token.clone(),
        account_id: &fresh.connection.external_account_id,
        account_handle: fresh.connection.handle.as_deref(),
        intent: &intent,
    };
    // Lookups search from a little before this attempt (clock skew between us and the platform).
    let since = job.attempt_started_at.clone().unwrap_or_else(|| {
        chrono::DateTime::from_timestamp(clock.unix_seconds() - 300, 0)
            .expect("the clock is in range")
            .to_rfc3339()
    });
    if job.ambiguous {
        // An earlier attempt was interrupted and may have posted: look, never post again.
        return Ok(look_up(job.platform, &attempt, &content, &since).await);
    }
    wait_for_posting_slot(config, job).await?;
    let outcome = match super::publish(job.platform, &attempt, &content).await {
        // A refused token posted nothing: refresh it once and try again.
        Err(Failure::Unauthorized) => {
            let renewed = ensure_fresh(
                config,
                clock,
                &job.connection_id,
                Access::Internal,
                Renew::Refused(fresh.connection.token_generation),
            )
            .await
            .map_err(token_failure)?;
            attempt.access_token = renewed.access_token;
            super::publish(job.platform, &attempt, &content).await
        }
        other => other,
    };
    match outcome {
        Ok(published) => Ok(Outcome::published("published", published)),
        Err(Failure::Ambiguous { .. }) => {
            Ok(look_up(job.platform, &attempt, &content, &since).await)
        }
        Err(failure) => Err(failure),
    }
}

/// The platform's posting cap for the account, checked before calling: a full window delays the
/// destination until a slot frees, without asking the platform (which would refuse).
async fn wait_for_posting_slot(config: &Config, job: &Claimed) -> Result<(), Failure> {
    let Some((max_posts, window_seconds)) = super::rules::posting_limit(job.platform) else {
        return Ok(());
    };
    let params = json!({
        "connection_id": job.connection_id, "max_posts": max_posts, "window_seconds": window_seconds,
    });
    match rpc::<u64>(config, "publishing_slot", params).await {
        Ok(0) => Ok(()),
        Ok(wait_seconds) => Err(Failure::NotPosted {
            code: "platform_rate_limit",
            message: format!(
                "{} allows {max_posts} posts per account in {} minutes; the next slot frees in {wait_seconds} s",
                job.platform.as_str(),
                window_seconds / 60
            ),
            platform_status: None,
            retry_after: Some(wait_seconds),
        }),
        Err(error) => Err(Failure::NotPosted {
            code: "database_unavailable",
            message: error.message(),
            platform_status: None,
            retry_after: None,
        }),
    }
}

/// After an ambiguous attempt: the post found at the platform, else `unconfirmed` (the user
/// checks and decides; nothing is posted again automatically).
async fn look_up(
    platform: Platform,
    attempt: &Attempt<'_>,
    content: &Content<'_>,
    since: &str,
) -> Outcome {
    match super::find_existing(platform, attempt, content, since).await {
        Ok(Some(found)) => Outcome::published("found_existing", found),
        Ok(None) | Err(_) => Outcome::of(
            Failure::Ambiguous {
                message:
                    "the platform's answer was lost and the post was not found there; check the \
                          account, then retry with includeUnconfirmed if it is missing"
                        .into(),
                platform_status: None,
            },
            0,
        ),
    }
}

/// A token that cannot be had: a connection needing re-authorization (or gone) fails the
/// destination; anything else is transient, and nothing was posted.
fn token_failure(error: ApiError) -> Failure {
    match error.code() {
        code @ ("reauth_required" | "connection_not_found") => Failure::Refused {
            code,
            message: error.message(),
            platform_status: None,
        },
        code => Failure::NotPosted {
            code,
            message: error.message(),
            platform_status: None,
            retry_after: error.retry_after(),
        },
    }
}

/// How long a signed media URL handed to a platform stays valid.
const SIGNED_URL_SECONDS: u32 = 3600;

fn media_unavailable(cause: String) -> Failure {
    Failure::NotPosted {
        code: "media_unavailable",
        message: cause,
        platform_status: None,
        retry_after: None,
    }
}

/// Sends a Storage read with the service role; only a success is an answer.
async fn storage_call(
    config: &Config,
    request: reqwest::RequestBuilder,
    what: &str,
) -> Result<reqwest::Response, Failure> {
    let response = request
        .header("apikey", config.service_role_key.expose())
        .bearer_auth(config.service_role_key.expose())
        .send()
        .await
        .map_err(|error| {
            media_unavailable(format!("storage unreachable: {}", error.without_url()))
        })?;
    if !response.status().is_success() {
        return Err(media_unavailable(format!(
            "storage answered {} to {what}",
            response.status()
        )));
    }
    Ok(response)
}

/// The post's media, read from Storage with the service role: each item names a library asset
/// of the post's team.
async fn load_media(config: &Config, job: &Claimed) -> Result<Vec<MediaFile>, Failure> {
    let client = supabase::service_role_client(config);
    let resolved = super::media::resolve(&client, &job.team_id, &job.media)
        .await
        .map_err(|error| media_unavailable(format!("media unreadable: {}", error.message())))?;
    let mut files = Vec::with_capacity(resolved.len());
    for (index, stored) in resolved.into_iter().enumerate() {
        let stored = stored.ok_or(Failure::Refused {
            code: "media_missing",
            message: format!("media[{index}] no longer exists"),
            platform_status: None,
        })?;
        let url = format!(
            "{}/storage/v1/object/{}/{}",
            config.supabase_url.base(),
            stored.bucket,
            stored.path
        );
        let response = storage_call(config, reqwest::Client::new().get(url), "reading").await?;
        let bytes = response.bytes().await.map_err(|error| {
            media_unavailable(format!("storage read failed: {}", error.without_url()))
        })?;
        let public_url = match job.platform {
            Platform::Instagram => Some(
                crate::storage::signed_url(
                    config,
                    &stored.bucket,
                    &stored.path,
                    SIGNED_URL_SECONDS,
                )
                .await
                .map_err(|error| {
                    media_unavailable(format!("signing failed: {}", error.message()))
                })?,
            ),
            _ => None,
        };
        files.push(MediaFile {
            mime_type: stored.mime_type,
            bytes: bytes.to_vec(),
            public_url,
        });
    }
    Ok(files)
}

fn request_id() -> String {
    let mut bytes = [0_u8; 16];
    getrandom::getrandom(&mut bytes).expect("the platform provides randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_with_jitter_and_honour_retry_after() {
        for attempts in 1..10 {
            let delay = retry_delay_ms(attempts, None);
            let bound = (RETRY_BASE_MS * 2_f64.powi(attempts as i32 - 1)).min(RETRY_MAX_MS);
            assert!((delay as f64) < bound);
        }
        assert!(retry_delay_ms(1, Some(120)) >= 120_000);
    }

    #[test]
    fn failures_become_outcomes_that_never_repost_an_ambiguous_attempt() {
        let ambiguous = Outcome::of(
            Failure::Ambiguous {
                message: "timeout".into(),
                platform_status: None,
            },
            1,
        );
        assert_eq!(
            (ambiguous.kind, ambiguous.code),
            ("unconfirmed", Some("outcome_unknown"))
        );
        let throttled = Outcome::of(
            Failure::NotPosted {
                code: "platform_unavailable",
                message: "429".into(),
                platform_status: Some(429),
                retry_after: Some(3),
            },
            1,
        );
        assert_eq!(throttled.kind, "retry");
        assert!(throttled.retry_in_ms.unwrap() >= 3000);
    }
}
