//! The dispatcher: claims due destinations (several dispatchers may run at once; the database
//! hands each destination to one, under a lease), publishes each, and records the outcome.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::LocalBoxFuture;
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::clock::Clock;
use crate::infra::hex;
use crate::infra::retry::random_unit;
use crate::infra::supabase::rpc;
use crate::platforms;
use crate::social::store::{Access, StoredConnection};
use crate::social::tokens::{ensure_fresh, fresh_access_token_of, Renew};
use crate::social::Platform;

use super::media::{self, ReadFailure, StoredMedia};
use super::rules::{max_file_bytes, PostingLimit, MAX_POST_MEDIA_BYTES};
use super::wire::Wire;
use super::{Attempt, Content, Failure, MediaFile, Published};

/// Destinations one claim takes.
const BATCH: u32 = 25;
/// Memory: an isolate has 128 MB. A post's media are read once into memory and shared by its
/// destinations, which publish one after another, so an upload adds at most one more copy of a
/// file (the request body handed to the runtime): media take at most twice what is read at once.
/// Posts whose media weigh at most `LIGHT_POST_BYTES` publish `CONCURRENCY` at a time
/// (8 × 6 MB), heavier ones alone (up to `MAX_POST_MEDIA_BYTES`, 48 MB): never more than 48 MB
/// read at once, 96 MB with the upload copies, leaving ~32 MB for the runtime and other requests.
const CONCURRENCY: usize = 8;
const LIGHT_POST_BYTES: u64 = MAX_POST_MEDIA_BYTES / CONCURRENCY as u64;
/// A dispatcher still working renews its lease (long uploads) once a third of it has passed, so
/// it never loses its destination to another.
const LEASE_SECONDS: u32 = 300;
const RENEW_AFTER_MS: f64 = LEASE_SECONDS as f64 * 1000.0 / 3.0;
/// After this many attempts that proved nothing was posted, the destination fails.
const MAX_ATTEMPTS: u32 = 5;
/// Retry backoff: full jitter over `BASE · 2^(attempt-1)`, at most `MAX`.
const RETRY_BASE_MS: f64 = 15_000.0;
const RETRY_MAX_MS: f64 = 30.0 * 60_000.0;
/// The longest wait a platform's `Retry-After` (or a posting window) may impose: a day.
const MAX_RETRY_DELAY_MS: u64 = 24 * 3600 * 1000;

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
    /// The media objects as submitted (`None`: an item naming nothing, or a file not uploaded).
    pub media: Vec<Option<StoredMedia>>,
    /// Whether those objects changed in Storage since the post was submitted.
    pub media_changed: bool,
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
        let claimed_at = clock.unix_millis();
        let (light, heavy): (Vec<_>, Vec<_>) = by_post(claimed)
            .into_iter()
            .partition(|post| media_weight(post) <= LIGHT_POST_BYTES);
        let mut outcomes: Vec<Option<Settled>> = stream::iter(light)
            .map(|post| async move { publish_post(config, clock, claimed_at, &post).await })
            .buffer_unordered(CONCURRENCY)
            .flat_map(stream::iter)
            .collect()
            .await;
        for post in heavy {
            outcomes.extend(publish_post(config, clock, claimed_at, &post).await);
        }
        for outcome in outcomes {
            match outcome {
                Some(Settled::Published) => tally.published += 1,
                Some(Settled::Scheduled) => tally.scheduled += 1,
                Some(Settled::Failed) => tally.failed += 1,
                Some(Settled::Unconfirmed) => tally.unconfirmed += 1,
                None => tally.lost += 1,
            }
        }
        if clock.unix_millis() - started > budget.as_millis() as f64 {
            return Ok(tally);
        }
    }
}

/// Claimed destinations grouped by post, in claim order: a post's media are read once.
fn by_post(claimed: Vec<Claimed>) -> Vec<Vec<Claimed>> {
    let mut order: Vec<String> = Vec::new();
    let mut posts: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
    for job in claimed {
        if !posts.contains_key(&job.post_id) {
            order.push(job.post_id.clone());
        }
        posts.entry(job.post_id.clone()).or_default().push(job);
    }
    order
        .into_iter()
        .filter_map(|post| posts.remove(&post))
        .collect()
}

/// What a post's media weigh as submitted (a file of unknown size counts as the most allowed).
fn media_weight(post: &[Claimed]) -> u64 {
    post[0]
        .media
        .iter()
        .flatten()
        .map(|file| file.size_bytes.unwrap_or(MAX_POST_MEDIA_BYTES))
        .fold(0, u64::saturating_add)
}

/// Publishes one post's claimed destinations one after another, sharing its media; each
/// destination's new status.
async fn publish_post(
    config: &Config,
    clock: &dyn Clock,
    claimed_at: f64,
    post: &[Claimed],
) -> Vec<Option<Settled>> {
    let media = load_media(config, post).await;
    let mut outcomes = Vec::with_capacity(post.len());
    for job in post {
        outcomes.push(process(config, clock, claimed_at, job, &media).await);
    }
    outcomes
}

/// A destination's status after an attempt, as `finish_publish_attempt` answers it.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Settled {
    Published,
    /// To be tried again.
    Scheduled,
    Failed,
    Unconfirmed,
}

/// What an attempt came to: `finish_publish_attempt`'s `outcome`, or lost.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Published,
    /// An earlier attempt had posted it: found on the account.
    FoundExisting,
    Retry,
    Failed,
    Unconfirmed,
    /// The lease went to another dispatcher: nothing is recorded.
    Lost,
}

/// The outcome recorded for a destination.
struct Outcome {
    kind: Kind,
    published: Option<Published>,
    code: Option<&'static str>,
    message: Option<String>,
    platform_status: Option<u16>,
    retry_in_ms: Option<u64>,
}

impl Outcome {
    fn published(kind: Kind, published: Published) -> Self {
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
                ..bare(Kind::Retry, code, message, platform_status)
            },
            Failure::Unauthorized => bare(
                Kind::Failed,
                "platform_unauthorized",
                "the platform refused the account's token after a refresh".into(),
                Some(401),
            ),
            Failure::Refused {
                code,
                message,
                platform_status,
            } => bare(Kind::Failed, code, message, platform_status),
            Failure::Ambiguous {
                message,
                platform_status,
            } => bare(
                Kind::Unconfirmed,
                "outcome_unknown",
                message,
                platform_status,
            ),
            Failure::LeaseLost => bare(Kind::Lost, "lease_lost", String::new(), None),
        }
    }
}

/// Full jitter over an exponential bound, or the platform's `Retry-After` when longer; never
/// more than a day, whatever the platform says.
fn retry_delay_ms(attempts: u32, retry_after: Option<u64>) -> u64 {
    let bound =
        (RETRY_BASE_MS * 2_f64.powi(attempts.saturating_sub(1).min(16) as i32)).min(RETRY_MAX_MS);
    let jittered = (bound * random_unit()) as u64;
    jittered
        .max(retry_after.unwrap_or(0).saturating_mul(1000))
        .min(MAX_RETRY_DELAY_MS)
}

/// Publishes one claimed destination with its post's media and records its outcome; returns
/// the destination's new status (`None` when the lease was lost meanwhile).
async fn process(
    config: &Config,
    clock: &dyn Clock,
    claimed_at: f64,
    job: &Claimed,
    media: &Result<Vec<MediaFile>, Failure>,
) -> Option<Settled> {
    let started = clock.unix_millis();
    let request_id = hex::random_128();
    let outcome = match attempt(config, clock, claimed_at, job, media, &request_id).await {
        Ok(outcome) => outcome,
        Err(failure) => Outcome::of(failure, job.attempts + 1),
    };
    if outcome.kind == Kind::Lost {
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
    rpc::<Option<Settled>>(config, "finish_publish_attempt", params)
        .await
        .ok()
        .flatten()
}

async fn attempt(
    config: &Config,
    clock: &dyn Clock,
    claimed_at: f64,
    job: &Claimed,
    media: &Result<Vec<MediaFile>, Failure>,
    request_id: &str,
) -> Result<Outcome, Failure> {
    let fresh = fresh_access_token_of(config, clock, job.connection.clone())
        .await
        .map_err(token_failure)?;
    // An ambiguous attempt is only looked up (by its text): it needs no media.
    let media: &[MediaFile] = if job.ambiguous {
        &[]
    } else {
        let media = media.as_ref().map_err(Clone::clone)?;
        fits_platform(job.platform, media)?;
        media
    };
    let content = Content {
        body: &job.body,
        media,
        options: &job.options,
    };
    let wire = Wire::new(
        config.social.api_origin_override.as_deref(),
        config.social.publish_call_timeout,
    );
    let renewed_at = Cell::new(claimed_at);
    let keep_lease = || -> LocalBoxFuture<'_, bool> {
        Box::pin(renew_lease_when_due(config, clock, job, &renewed_at))
    };
    let intent = || -> LocalBoxFuture<'_, bool> {
        Box::pin(async move {
            if !keep_lease().await {
                return false;
            }
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
        keep_lease: &keep_lease,
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
        Ok(published) => Ok(Outcome::published(Kind::Published, published)),
        Err(Failure::Ambiguous { .. }) => {
            Ok(look_up(job.platform, &attempt, &content, &since).await)
        }
        Err(failure) => Err(failure),
    }
}

/// Extends the destination's lease once a third of it has passed since the claim or the last
/// renewal; false when the lease was lost (a database that cannot be reached leaves the lease to
/// `begin_publish_attempt`, which checks it anyway).
async fn renew_lease_when_due(
    config: &Config,
    clock: &dyn Clock,
    job: &Claimed,
    renewed_at: &Cell<f64>,
) -> bool {
    let now = clock.unix_millis();
    if now - renewed_at.get() < RENEW_AFTER_MS {
        return true;
    }
    let params = json!({
        "destination_id": job.destination_id, "lease_id": job.lease_id, "lease_seconds": LEASE_SECONDS,
    });
    match rpc::<bool>(config, "renew_publish_lease", params).await {
        Ok(renewed) => {
            if renewed {
                renewed_at.set(now);
            }
            renewed
        }
        Err(_) => true,
    }
}

/// Every file within what `platform` takes (the post's other destinations may take more).
fn fits_platform(platform: Platform, media: &[MediaFile]) -> Result<(), Failure> {
    for (index, file) in media.iter().enumerate() {
        let max = max_file_bytes(platform, &file.mime_type);
        if file.bytes.len() as u64 > max {
            return Err(media_too_large(index, file.bytes.len() as u64, max));
        }
    }
    Ok(())
}

fn media_too_large(index: usize, size: u64, max: u64) -> Failure {
    Failure::Refused {
        code: "media_too_large",
        message: format!(
            "media[{index}] has {} MB or more; at most {} MB can be published here",
            size / (1024 * 1024),
            max / (1024 * 1024)
        ),
        platform_status: None,
    }
}

/// The platform's posting cap for the account, checked before calling: a full window delays the
/// destination until a slot frees, without asking the platform (which would refuse).
async fn wait_for_posting_slot(config: &Config, job: &Claimed) -> Result<(), Failure> {
    let Some(PostingLimit {
        posts: max_posts,
        window_seconds,
    }) = platforms::parts(job.platform).rules.posting_limit
    else {
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
        Ok(Some(found)) => Outcome::published(Kind::FoundExisting, found),
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

fn media_unavailable(cause: String) -> Failure {
    Failure::NotPosted {
        code: "media_unavailable",
        message: cause,
        platform_status: None,
        retry_after: None,
    }
}

fn media_refused(code: &'static str, message: String) -> Failure {
    Failure::Refused {
        code,
        message,
        platform_status: None,
    }
}

/// A post's media as submitted, read once from Storage for all its claimed destinations, each
/// file at most as large as the most any of them takes. Only the submitted bytes go out: media
/// changed since the submission fail every destination with `media_changed`.
async fn load_media(config: &Config, post: &[Claimed]) -> Result<Vec<MediaFile>, Failure> {
    let publishing: Vec<&Claimed> = post.iter().filter(|job| !job.ambiguous).collect();
    let Some(first) = publishing.first() else {
        return Ok(Vec::new());
    };
    if first.media_changed {
        return Err(media_refused(
            "media_changed",
            "a media file was replaced or removed after the post was submitted; submit it again"
                .into(),
        ));
    }
    let mut files = Vec::with_capacity(first.media.len());
    let mut total: u64 = 0;
    for (index, stored) in first.media.iter().enumerate() {
        let stored = stored.as_ref().ok_or_else(|| {
            media_refused("media_missing", format!("media[{index}] no longer exists"))
        })?;
        let cap = publishing
            .iter()
            .map(|job| max_file_bytes(job.platform, &stored.mime_type))
            .max()
            .unwrap_or(0)
            .min(MAX_POST_MEDIA_BYTES.saturating_sub(total));
        let bytes = media::read(config, stored, cap)
            .await
            .map_err(|failure| read_failure(index, failure))?;
        total += bytes.len() as u64;
        let public_url = if publishing
            .iter()
            .any(|job| platforms::parts(job.platform).publisher.fetches_media)
        {
            Some(signed_url(config, stored).await?)
        } else {
            None
        };
        files.push(MediaFile {
            mime_type: stored.mime_type.clone(),
            bytes,
            public_url,
        });
    }
    Ok(files)
}

fn read_failure(index: usize, failure: ReadFailure) -> Failure {
    match failure {
        ReadFailure::TooLarge { size, cap } => media_too_large(index, size, cap),
        ReadFailure::Changed(why) => {
            media_refused("media_changed", format!("media[{index}]: {why}"))
        }
        ReadFailure::Unavailable(why) => media_unavailable(format!("media[{index}]: {why}")),
        ReadFailure::Unsafe => media_refused(
            "media_missing",
            format!("media[{index}] names no readable file"),
        ),
    }
}

/// How long a signed media URL handed to a platform stays valid.
const SIGNED_URL_SECONDS: u32 = 3600;

/// A URL the platform fetches the file from itself (Instagram).
async fn signed_url(config: &Config, stored: &StoredMedia) -> Result<String, Failure> {
    crate::infra::storage::signed_url(config, &stored.bucket, &stored.path, SIGNED_URL_SECONDS)
        .await
        .map_err(|error| media_unavailable(format!("signing failed: {}", error.message())))
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
    fn retry_waits_grow_from_15_seconds_to_at_most_30_minutes() {
        let samples = |attempts| (0..40).map(move |_| retry_delay_ms(attempts, None));
        // Full jitter: of 40 waits, some reach past half their bound (all below: odds 2^-40).
        assert!(
            samples(3).any(|ms| ms > 30_000),
            "the third waits up to 60 s"
        );
        assert!(samples(20).all(|ms| ms < 30 * 60_000));
        assert!(
            samples(20).any(|ms| ms > 15 * 60_000),
            "late waits reach 30 min"
        );
    }

    #[test]
    fn a_retry_after_of_any_size_waits_a_day_at_most_and_never_overflows() {
        assert_eq!(retry_delay_ms(1, Some(u64::MAX)), 24 * 3600 * 1000);
        assert_eq!(
            retry_delay_ms(u32::MAX, Some(u64::MAX / 999)),
            MAX_RETRY_DELAY_MS
        );
        assert!(
            MAX_RETRY_DELAY_MS <= i32::MAX as u64,
            "finish_publish_attempt takes an integer"
        );
    }

    #[test]
    fn each_destination_takes_only_files_its_platform_accepts() {
        let image = |size: usize| MediaFile {
            mime_type: "image/jpeg".into(),
            bytes: vec![0; size].into(),
            public_url: None,
        };
        let six_megabytes = [image(1024), image(6 * 1024 * 1024)];
        assert!(matches!(
            fits_platform(Platform::X, &six_megabytes),
            Err(Failure::Refused { code: "media_too_large", message, .. }) if message.starts_with("media[1]")
        ));
        assert_eq!(fits_platform(Platform::Linkedin, &six_megabytes), Ok(()));
    }

    #[test]
    fn a_file_exactly_at_the_platform_limit_is_taken() {
        let at_limit = MediaFile {
            mime_type: "image/jpeg".into(),
            bytes: vec![0; max_file_bytes(Platform::X, "image/jpeg") as usize].into(),
            public_url: None,
        };
        assert_eq!(fits_platform(Platform::X, &[at_limit]), Ok(()));
    }

    fn claimed(destination_id: &str, post_id: &str, media: Value) -> Claimed {
        serde_json::from_value(json!({
            "destination_id": destination_id, "post_id": post_id, "team_id": "t",
            "connection_id": "c", "platform": "x", "options": {}, "body": "hi", "media": media,
            "media_changed": false, "attempts": 0, "lease_id": "l", "ambiguous": false,
            "attempt_started_at": null,
            "connection": {
                "id": "c", "team_id": "t", "platform": "x", "external_account_id": "e",
                "status": "active", "encrypted_access_token": "a", "token_key_version": "v1",
                "token_generation": 1, "created_at": "c", "updated_at": "u",
            },
        }))
        .unwrap()
    }

    #[test]
    fn claimed_destinations_are_grouped_by_post_in_claim_order() {
        let claims = [("d1", "p2"), ("d2", "p1"), ("d3", "p2"), ("d4", "p3")];
        let posts = by_post(
            claims
                .iter()
                .map(|(destination, post)| claimed(destination, post, json!([])))
                .collect(),
        );
        let ids: Vec<Vec<&str>> = posts
            .iter()
            .map(|post| post.iter().map(|job| job.destination_id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["d1", "d3"], vec!["d2"], vec!["d4"]]);
    }

    #[test]
    fn a_post_weighs_its_files_and_an_unknown_size_as_the_most_allowed() {
        let file = |size: Value| {
            json!({
                "bucket": "b", "path": "p", "mimeType": "image/png", "sizeBytes": size,
            })
        };
        let post = [claimed(
            "d",
            "p",
            json!([file(json!(1000)), null, file(json!(234))]),
        )];
        assert_eq!(media_weight(&post), 1234);
        let unknown = [claimed(
            "d",
            "p",
            json!([file(json!(null)), file(json!(1))]),
        )];
        assert_eq!(media_weight(&unknown), MAX_POST_MEDIA_BYTES + 1);
        assert_eq!(media_weight(&[claimed("d", "p", json!([]))]), 0);
    }

    // Checked when the tests run, not at compile time: a mutated constant is then a failing
    // test (caught) instead of a build error (unviable, counted for nothing).
    #[allow(clippy::assertions_on_constants)]
    #[test]
    fn at_most_the_post_cap_is_read_at_once_and_a_six_megabyte_post_is_light() {
        assert!(LIGHT_POST_BYTES * CONCURRENCY as u64 <= MAX_POST_MEDIA_BYTES);
        assert!(6 * 1024 * 1024 <= LIGHT_POST_BYTES);
    }

    #[test]
    fn a_lease_is_renewed_once_a_third_of_it_has_passed() {
        assert_eq!(RENEW_AFTER_MS * 3.0, f64::from(LEASE_SECONDS) * 1000.0);
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
            (Kind::Unconfirmed, Some("outcome_unknown"))
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
        assert_eq!(throttled.kind, Kind::Retry);
        assert!(throttled.retry_in_ms.unwrap() >= 3000);
    }
}
