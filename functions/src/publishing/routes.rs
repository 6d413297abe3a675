//! Publishing endpoints: `POST /v1/posts/{post_id}/schedule | publish | approve | reject |
//! cancel | retry`, `GET /v1/posts/{post_id}/status`, and pg_cron's `POST /v1/cron/publish`.
//!
//! Drafts are written by clients through PostgREST; these endpoints move them on. Before a post
//! is scheduled it is checked against every destination's platform rules and by the AI
//! proxy's moderation (billed to the team), so nothing that would be refused or flagged waits
//! in the queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::ai::credits::Pacing;
use crate::ai::moderation;
use crate::auth::Caller;
use crate::auth::Cron;
use crate::config::Config;
use crate::error::{ApiError, Problem};
use crate::http::cx::Cx;
use crate::http::extract::{invalid, parse_instant, Query};
use crate::http::{camel_case_keys, Response};
use crate::ids::{ConnectionId, Job, Post, PostId};
use crate::infra::clock::Clock;
use crate::infra::supabase;
use crate::publishing::dispatcher;
use crate::publishing::local_time::{self, LocalTime};
use crate::publishing::media::StoredMedia;
use crate::publishing::on_time;
use crate::publishing::rules::{self, MediaInfo};
use crate::publishing::store::{self, Draft, PostFromJob};
use crate::scope::Scope;
use crate::social::store::ConnectionStatus;
use crate::valid::{List, Text};

/// How long one cron call claims batch after batch before answering (pg_cron calls every
/// minute; publish-now, approval and retry call at once for their post).
const CRON_BUDGET: Duration = Duration::from_secs(25);

/// The post a route's path names; an id that cannot name one is answered as an unknown post.
fn post_id(cx: &Cx<'_, Caller>) -> Result<PostId, ApiError> {
    cx.id::<Post>("post_id").ok_or(ApiError::NotFound)
}

/// The time zone a post is scheduled in, for display.
type Timezone = Text<64>;

/// The zone a post is recorded in: the one the request names, else the author's own (their
/// profile's), as people read a post's time in their own zone.
async fn recorded_timezone(
    config: &Config,
    caller: &Caller,
    given: Option<Timezone>,
) -> Result<String, ApiError> {
    match given {
        Some(zone) => Ok(zone.to_string()),
        None => store::authors_timezone(config, caller).await,
    }
}

/// An RFC 3339 time with an offset (`extract::parse_instant`).
#[derive(Deserialize)]
#[serde(try_from = "Value")]
struct ScheduledAt(DateTime<Utc>);

impl TryFrom<Value> for ScheduledAt {
    type Error = &'static str;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        value
            .as_str()
            .filter(|text| text.chars().count() <= 40)
            .and_then(parse_instant)
            .map(Self)
            .ok_or("must be an RFC 3339 time with an offset")
    }
}

/// `POST /v1/posts/{post_id}/schedule` `{scheduledAt, timezone?}` or `{localTime, timezone}`:
/// checks and schedules (or, for a plain member of a team that requires approval, submits for
/// review). A scheduled post may be moved to another time the same way until it starts
/// publishing.
pub async fn schedule(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, _, scope) = cx.parts();
    let body: ScheduleRequest = cx.body()?;
    let scheduled_at = body.instant(config).await?;
    let now_seconds = scope.unix_seconds();
    if scheduled_at.timestamp() < now_seconds - 60 {
        return Err(invalid(
            "scheduledAt",
            "is in the past; use publish to post now",
        ));
    }
    let timezone = recorded_timezone(config, caller, body.timezone).await?;
    let at = scheduled_at.to_rfc3339();
    let outcome = submit(config, caller, &post_id(cx)?, &at, &timezone, scope).await?;
    Ok(Response::json(200, &outcome))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleRequest {
    scheduled_at: Option<ScheduledAt>,
    local_time: Option<LocalTime>,
    timezone: Option<Timezone>,
}

impl ScheduleRequest {
    /// `scheduledAt` as given, or `localTime` resolved in `timezone` (which it requires).
    async fn instant(&self, config: &Config) -> Result<DateTime<Utc>, ApiError> {
        let local = match (&self.scheduled_at, &self.local_time) {
            (Some(ScheduledAt(at)), None) => return Ok(*at),
            (None, None) => return Err(invalid("scheduledAt", "is required")),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "localTime",
                    "is an alternative to scheduledAt; send one of them",
                ))
            }
            (None, Some(local)) => local,
        };
        let timezone = self
            .timezone
            .as_deref()
            .ok_or_else(|| invalid("timezone", "is required with localTime (an IANA zone)"))?;
        let resolved = local_time::resolve(config, local, timezone).await?;
        parse_instant(&resolved)
            .ok_or_else(|| invalid("scheduledAt", "must be an RFC 3339 time with an offset"))
    }
}

/// `POST /v1/posts/{post_id}/publish`: as `schedule` for now (202). The submission itself asks
/// pg_net to call `/v1/cron/publish?post_id=…` at once, so publishing runs in a request that
/// stays open up to five minutes (work after a response is stopped by Cloudflare after 30 s,
/// too soon for a video's processing); the status endpoint shows the outcome.
pub async fn publish_now(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct PublishRequest {
        timezone: Option<Timezone>,
    }
    let (config, caller, _, scope) = cx.parts();
    let body: PublishRequest = cx.optional_body()?;
    let timezone = recorded_timezone(config, caller, body.timezone).await?;
    let outcome = submit_now(config, caller, &post_id(cx)?, &timezone, scope).await?;
    Ok(Response::json(202, &outcome))
}

/// Submits the post for now.
async fn submit_now(
    config: &Config,
    caller: &Caller,
    id: &PostId,
    timezone: &str,
    scope: &Scope<'_>,
) -> Result<Value, ApiError> {
    let now = chrono::DateTime::from_timestamp(scope.unix_seconds(), 0)
        .expect("the clock is in range")
        .to_rfc3339();
    submit(config, caller, id, &now, timezone, scope).await
}

/// `POST /v1/jobs/{job_id}/post` `{destinations: [{connectionId, options?}], scheduledAt?,
/// timezone?}`: a finished content job's text and images become a post of its team, scheduled
/// (or, without `scheduledAt`, published now) in one call. Idempotent per job: `post_from_job`
/// makes the post and its destinations in one transaction, once per job, and a repeated call
/// answers 200 `existing` with it, unless the first call's submission was refused (moderation,
/// rules, credits): then the post, still a draft, is submitted again.
pub async fn from_job(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, _, scope) = cx.parts();
    let body: FromJobRequest = cx.body()?;
    let timezone = recorded_timezone(config, caller, body.timezone).await?;
    let job_id = cx.id::<Job>("job_id").ok_or(ApiError::NotFound)?;
    let made = store::post_from_job(
        config,
        caller.user.id.as_str(),
        job_id.as_str(),
        json!(body.destinations.into_vec()),
    )
    .await?;
    let post = match made {
        PostFromJob::Draft { post_id } => post_id,
        PostFromJob::Existing { post_id } => {
            // Asked before: the post exists and went its way.
            return Ok(Response::json(
                200,
                &json!({ "status": "existing", "postId": post_id }),
            ));
        }
        PostFromJob::InvalidJobState => {
            return Err(ApiError::Rejected {
                status: 409,
                code: "invalid_job_state",
                message: "Only a finished team job can become a post.".into(),
            })
        }
        PostFromJob::Refused(refusal) => return Err(refusal.into_error(ApiError::NotFound)),
    };
    let mut outcome = match body.scheduled_at {
        Some(ScheduledAt(at)) => {
            submit(config, caller, &post, &at.to_rfc3339(), &timezone, scope).await?
        }
        None => submit_now(config, caller, &post, &timezone, scope).await?,
    };
    outcome["postId"] = json!(post);
    Ok(Response::json(202, &outcome))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FromJobRequest {
    destinations: List<Destination, 1, 10>,
    scheduled_at: Option<ScheduledAt>,
    timezone: Option<Timezone>,
}

/// A destination as `post_from_job` takes it.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Destination {
    connection_id: ConnectionId,
    #[serde(default)]
    options: Map<String, Value>,
}

/// The post as the caller sees it, checked against every destination's platform and by
/// moderation, then handed to `submit_post` with the fingerprint of what was checked: a post
/// edited meanwhile (text, media, destinations, or a file replaced in Storage) is refused with
/// 409 `post_changed` instead of being submitted unchecked.
async fn submit(
    config: &Config,
    caller: &Caller,
    id: &PostId,
    scheduled_at: &str,
    timezone: &str,
    scope: &Scope<'_>,
) -> Result<Value, ApiError> {
    let user_id = caller.user.id.as_str();
    let draft = store::draft(config, user_id, id.as_str()).await?;
    check(&draft)?;
    if !draft.body.trim().is_empty() {
        let verdict = moderation::verdict(
            config,
            caller,
            Some(&draft.team_id),
            &draft.body,
            Pacing::Publishing,
            scope,
        )
        .await?;
        if verdict.flagged {
            return Err(ApiError::Rejected {
                status: 422,
                code: "content_flagged",
                message: format!(
                    "Moderation flagged this post ({}); edit it before publishing.",
                    verdict.categories.join(", ")
                ),
            });
        }
    }
    store::submit(
        config,
        user_id,
        id.as_str(),
        scheduled_at,
        timezone,
        &draft.fingerprint,
    )
    .await
}

/// Every account's state, then every platform rule: all problems at once.
fn check(draft: &Draft) -> Result<(), ApiError> {
    if let Some(stale) = draft
        .destinations
        .iter()
        .find(|destination| destination.account_status == ConnectionStatus::ReauthRequired)
    {
        return Err(ApiError::Rejected {
            status: 409,
            code: "reauth_required",
            message: format!(
                "The {} account must be connected again before posting to it.",
                stale.platform.as_str()
            ),
        });
    }
    let mut problems = Vec::new();
    let mut media = Vec::with_capacity(draft.media.len());
    for (index, item) in draft.media.iter().enumerate() {
        match item {
            Some(StoredMedia {
                mime_type,
                size_bytes: Some(size_bytes),
                ..
            }) => media.push(MediaInfo {
                mime_type: mime_type.clone(),
                size_bytes: *size_bytes,
            }),
            _ => problems.push(Problem::new(
                format!("media[{index}]"),
                "media_not_found",
                "must name an uploaded file of the team's library (libraryAssetId) or a generated image (assetId)",
            )),
        }
    }
    problems.extend(rules::check_post(&draft.body, &media));
    for (index, destination) in draft.destinations.iter().enumerate() {
        problems.extend(rules::check_destination(
            destination.platform,
            &draft.body,
            &media,
            &destination.options,
            &format!("destinations[{index}]"),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::InvalidFields(problems))
    }
}

/// The rows a PostgREST read answers, keys in camelCase.
async fn rows(query: postgrest::Builder) -> Result<Vec<Value>, ApiError> {
    let body = supabase::send(query).await?;
    let rows: Vec<Value> = serde_json::from_str(&body)
        .map_err(|error| ApiError::Upstream(format!("rows unparsable: {error}")))?;
    Ok(rows.into_iter().map(camel_case_keys).collect())
}

/// `POST /v1/posts/{post_id}/approve` `{comment?}` (owners, admins).
pub async fn approve(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    review(cx, true).await
}

/// `POST /v1/posts/{post_id}/reject` `{comment}` (owners, admins).
pub async fn reject(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    review(cx, false).await
}

async fn review(cx: &Cx<'_, Caller>, approve: bool) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct ReviewRequest {
        comment: Option<Text<2000>>,
    }
    let (config, caller, ..) = cx.parts();
    let ReviewRequest { comment } = cx.optional_body()?;
    if !approve && comment.is_none() {
        return Err(invalid("comment", "is required"));
    }
    let user_id = caller.user.id.as_str();
    let id = post_id(cx)?;
    let answer = store::review(config, user_id, id.as_str(), approve, comment.as_deref()).await?;
    Ok(Response::json(200, &answer))
}

/// `POST /v1/posts/{post_id}/cancel`: cancels every destination that has not started.
pub async fn cancel(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let id = post_id(cx)?;
    let answer = store::cancel(config, caller.user.id.as_str(), id.as_str()).await?;
    Ok(Response::json(200, &answer))
}

/// `POST /v1/posts/{post_id}/retry` `{includeUnconfirmed?}`: failed destinations go out again
/// now (and unconfirmed ones, when the caller checked they are not live).
pub async fn retry(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RetryRequest {
        include_unconfirmed: Option<bool>,
    }
    let (config, caller, ..) = cx.parts();
    let body: RetryRequest = cx.optional_body()?;
    let include_unconfirmed = body.include_unconfirmed.unwrap_or(false);
    let user_id = caller.user.id.as_str();
    let id = post_id(cx)?;
    let answer = store::retry(config, user_id, id.as_str(), include_unconfirmed).await?;
    Ok(Response::json(200, &answer))
}

/// `GET /v1/posts/{post_id}/status`: every destination's state, permalink and error, with
/// the history of attempts (read with the caller's token), in the API's camelCase.
pub async fn status(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let id = post_id(cx)?;
    let id = id.as_str();
    let client = supabase::user_client(config, &caller.token);
    let post = rows(
        client
            .from("scheduled_posts")
            .select(
                "id,team_id,client_post_id,scheduled_at,timezone,approval_status,review_comment",
            )
            .eq("id", id),
    )
    .await?
    .into_iter()
    .next()
    .ok_or(ApiError::NotFound)?;
    let destinations = rows(
        client
            .from("post_destinations")
            .select("id,connection_id,platform,status,attempts,next_attempt_at,external_id,permalink,error_code,error_message,published_at")
            .eq("post_id", id)
            .order("created_at"),
    )
    .await?;
    let events = rows(
        client
            .from("publish_events")
            .select("destination_id,attempt,event,request_id,platform_status,external_id,permalink,error_code,error_message,duration_ms,created_at")
            .eq("post_id", id)
            .order("id"),
    )
    .await?;
    Ok(Response::json(
        200,
        &json!({ "post": post, "destinations": destinations, "events": events }),
    ))
}

/// `POST /v1/cron/publish[?post_id=…]`, called with the cron secret every minute by pg_cron
/// (which also wakes it up for what falls due before the next minute, see `on_time`), and
/// through pg_net for one post when it is published now, approved or retried.
pub async fn cron_publish(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let (config, _, request, clock) = cx.parts();
    let post = Query::of(request).id::<Post>("post_id")?;
    let post = post.as_ref().map(PostId::as_str);
    if post.is_none() {
        on_time::schedule_wakeups(config, clock).await;
    }
    let tally = dispatcher::dispatch(config, clock, post, CRON_BUDGET).await?;
    Ok(Response::json(200, &tally))
}
