//! Publishing endpoints: `POST /v1/posts/{post_id}/schedule | publish | approve | reject |
//! cancel | retry`, `GET /v1/posts/{post_id}/status`, and pg_cron's `POST /v1/cron/publish`.
//!
//! Drafts are written by clients through PostgREST; these endpoints move them on. Before a post
//! is scheduled it is checked against every destination's platform rules and by the AI
//! proxy's moderation (billed to the team), so nothing that would be refused or flagged waits
//! in the queue.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::ai::moderation;
use crate::auth::Caller;
use crate::auth::Cron;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::{invalid, is_uuid, JsonBody, Query};
use crate::http::{Request, Response};
use crate::infra::clock::Clock;
use crate::infra::supabase;
use crate::infra::supabase::rpc;
use crate::publishing::dispatcher;
use crate::publishing::media::StoredMedia;
use crate::publishing::rules::{self, MediaInfo};
use crate::scope::Scope;
use crate::social::Platform;

/// How long one cron call claims batch after batch before answering (pg_cron calls every
/// minute; publish-now, approval and retry call at once for their post).
const CRON_BUDGET: Duration = Duration::from_secs(25);

fn post_id(id: &str) -> Result<&str, ApiError> {
    if is_uuid(id) {
        Ok(id)
    } else {
        Err(ApiError::NotFound)
    }
}

/// `POST /v1/posts/{post_id}/schedule` `{scheduledAt, timezone}`: checks and schedules (or, for
/// a plain member of a team that requires approval, submits for review). A scheduled post may
/// be moved to another time the same way until it starts publishing.
pub async fn schedule(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let id = cx.param("post_id");
    let body = JsonBody::parse(&request.body)?;
    let scheduled_at = body.required_text("scheduledAt", 40)?;
    let scheduled_at = crate::http::extract::parse_instant(scheduled_at)
        .ok_or_else(|| invalid("scheduledAt", "must be an RFC 3339 time with an offset"))?;
    let now_seconds = scope.unix_seconds();
    if scheduled_at.timestamp() < now_seconds - 60 {
        return Err(invalid(
            "scheduledAt",
            "is in the past; use publish to post now",
        ));
    }
    let timezone = body.optional_text("timezone", 64)?.unwrap_or("UTC");
    let at = scheduled_at.to_rfc3339();
    let outcome = submit(config, caller, post_id(id)?, &at, timezone, scope).await?;
    Ok(Response::json(200, &outcome))
}

/// `POST /v1/posts/{post_id}/publish`: as `schedule` for now (202). The submission itself asks
/// pg_net to call `/v1/cron/publish?post_id=…` at once, so publishing runs in a request that
/// stays open up to five minutes (work after a response is stopped by Cloudflare after 30 s,
/// too soon for a video's processing); the status endpoint shows the outcome.
pub async fn publish_now(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let id = cx.param("post_id");
    let body = optional_body(request)?;
    let timezone = body.optional_text("timezone", 64)?.unwrap_or("UTC");
    let outcome = submit_now(config, caller, post_id(id)?, timezone, scope).await?;
    Ok(Response::json(202, &outcome))
}

/// Submits the post for now.
async fn submit_now(
    config: &Config,
    caller: &Caller,
    id: &str,
    timezone: &str,
    scope: &Scope<'_>,
) -> Result<Value, ApiError> {
    let now = chrono::DateTime::from_timestamp(scope.unix_seconds(), 0)
        .expect("the clock is in range")
        .to_rfc3339();
    submit(config, caller, id, &now, timezone, scope).await
}

/// An empty body reads as `{}`.
fn optional_body(request: &Request) -> Result<JsonBody, ApiError> {
    if request.body.is_empty() {
        Ok(JsonBody(Default::default()))
    } else {
        JsonBody::parse(&request.body)
    }
}

/// `POST /v1/jobs/{job_id}/post` `{destinations: [{connectionId, options?}], scheduledAt?,
/// timezone?}`: a finished content job's text and images become a post of its team, scheduled
/// (or, without `scheduledAt`, published now) in one call. Idempotent per job: `post_from_job`
/// makes the post and its destinations in one transaction, once per job, and a repeated call
/// answers 200 `existing` with it, unless the first call's submission was refused (moderation,
/// rules, credits): then the post, still a draft, is submitted again.
pub async fn from_job(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let job_id = cx.param("job_id");
    let body = JsonBody::parse(&request.body)?;
    let destinations = match body.0.get("destinations") {
        Some(Value::Array(items)) if (1..=10).contains(&items.len()) => items,
        _ => {
            return Err(invalid(
                "destinations",
                "must list 1 to 10 {connectionId, options?}",
            ))
        }
    };
    let destinations = chosen_destinations(destinations)?;
    let scheduled_at = body
        .optional_text("scheduledAt", 40)?
        .map(|at| {
            crate::http::extract::parse_instant(at)
                .map(|at| at.to_rfc3339())
                .ok_or_else(|| invalid("scheduledAt", "must be an RFC 3339 time with an offset"))
        })
        .transpose()?;
    let timezone = body.optional_text("timezone", 64)?.unwrap_or("UTC");
    let made: PostFromJob = rpc(
        config,
        "post_from_job",
        json!({
            "user_id": caller.user.id.as_str(), "job_id": post_id(job_id)?,
            "destinations": destinations,
        }),
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
        PostFromJob::NotFound => return Err(ApiError::NotFound),
    };
    let mut outcome = match scheduled_at {
        Some(at) => submit(config, caller, &post, &at, timezone, scope).await?,
        None => submit_now(config, caller, &post, timezone, scope).await?,
    };
    outcome["postId"] = json!(post);
    Ok(Response::json(202, &outcome))
}

/// `post_from_job`'s answer: the job's post to submit, or why there is none to submit.
#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum PostFromJob {
    Draft {
        #[serde(rename = "postId")]
        post_id: String,
    },
    Existing {
        #[serde(rename = "postId")]
        post_id: String,
    },
    InvalidJobState,
    NotFound,
}

/// The request's `destinations` as `post_from_job` takes them: `{connectionId, options}`.
fn chosen_destinations(destinations: &[Value]) -> Result<Vec<Value>, ApiError> {
    let mut chosen = Vec::with_capacity(destinations.len());
    for (index, destination) in destinations.iter().enumerate() {
        let connection = destination["connectionId"]
            .as_str()
            .filter(|id| is_uuid(id))
            .ok_or_else(|| {
                invalid(
                    &format!("destinations[{index}].connectionId"),
                    "must be a connection id",
                )
            })?;
        let options = destination.get("options").cloned().unwrap_or(json!({}));
        if !options.is_object() {
            return Err(invalid(
                &format!("destinations[{index}].options"),
                "must be an object",
            ));
        }
        chosen.push(json!({ "connectionId": connection, "options": options }));
    }
    Ok(chosen)
}

/// The post as the caller sees it, checked against every destination's platform and by
/// moderation, then handed to `submit_post` with the fingerprint of what was checked: a post
/// edited meanwhile (text, media, destinations, or a file replaced in Storage) is refused with
/// 409 `post_changed` instead of being submitted unchecked.
async fn submit(
    config: &Config,
    caller: &Caller,
    id: &str,
    scheduled_at: &str,
    timezone: &str,
    scope: &Scope<'_>,
) -> Result<Value, ApiError> {
    let draft = Draft::load(config, caller, id).await?;
    draft.check()?;
    if !draft.body.trim().is_empty() {
        let verdict =
            moderation::verdict(config, caller, Some(&draft.team_id), &draft.body, scope).await?;
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
    let outcome: Value = rpc(
        config,
        "submit_post",
        json!({
            "user_id": caller.user.id.as_str(), "post_id": id, "scheduled_at": scheduled_at,
            "timezone": timezone, "fingerprint": draft.fingerprint,
        }),
    )
    .await?;
    answer_of(outcome)
}

/// Maps a publishing RPC's `status` to the response or the error it means.
fn answer_of(outcome: Value) -> Result<Value, ApiError> {
    let conflict = |code, message: &str| ApiError::Rejected {
        status: 409,
        code,
        message: message.to_owned(),
    };
    match outcome["status"].as_str().unwrap_or_default() {
        "not_found" => Err(ApiError::NotFound),
        "forbidden" => Err(ApiError::Forbidden),
        "not_editable" => Err(conflict(
            "post_not_editable",
            "The post has started publishing (or was canceled); it can no longer be scheduled.",
        )),
        "no_destinations" => Err(invalid(
            "destinations",
            "a post needs at least one destination",
        )),
        "not_pending" => Err(conflict(
            "post_not_pending",
            "The post is not waiting for approval.",
        )),
        "changed" => Err(conflict(
            "post_changed",
            "The post, its destinations or its media changed while it was being checked; submit it again.",
        )),
        _ => Ok(outcome),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DestinationRow {
    platform: Platform,
    account_status: String,
    options: Value,
}

/// A post with its destinations and media as `post_for_submission` reads them in one snapshot,
/// with the fingerprint `submit_post` compares.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Draft {
    team_id: String,
    body: String,
    media: Vec<Option<StoredMedia>>,
    destinations: Vec<DestinationRow>,
    fingerprint: String,
}

impl Draft {
    async fn load(config: &Config, caller: &Caller, id: &str) -> Result<Self, ApiError> {
        let read: Value = rpc(
            config,
            "post_for_submission",
            json!({ "user_id": caller.user.id.as_str(), "post_id": id }),
        )
        .await?;
        if read["status"] != "ok" {
            return Err(ApiError::NotFound);
        }
        serde_json::from_value(read)
            .map_err(|error| ApiError::Upstream(format!("post_for_submission unparsable: {error}")))
    }

    /// Every platform rule and every account's state; all problems at once, the first named.
    fn check(&self) -> Result<(), ApiError> {
        let mut problems = Vec::new();
        let mut media = Vec::with_capacity(self.media.len());
        for (index, item) in self.media.iter().enumerate() {
            match item {
                Some(StoredMedia {
                    mime_type,
                    size_bytes: Some(size_bytes),
                    ..
                }) => media.push(MediaInfo {
                    mime_type: mime_type.clone(),
                    size_bytes: *size_bytes,
                }),
                _ => problems.push(rules::Problem {
                    field: format!("media[{index}]"),
                    reason: "must name an uploaded file of the team's library (libraryAssetId) or a generated image (assetId)".into(),
                }),
            }
        }
        for (index, destination) in self.destinations.iter().enumerate() {
            if destination.account_status == "reauth_required" {
                return Err(ApiError::Rejected {
                    status: 409,
                    code: "reauth_required",
                    message: format!(
                        "The {} account must be connected again before posting to it.",
                        destination.platform.as_str()
                    ),
                });
            }
            problems.extend(rules::check(
                destination.platform,
                &self.body,
                &media,
                &destination.options,
                &format!("destinations[{index}]"),
            ));
        }
        match problems.into_iter().next() {
            None => Ok(()),
            Some(first) => Err(ApiError::InvalidRequest {
                field: first.field,
                reason: first.reason,
            }),
        }
    }
}

async fn rows<T: serde::de::DeserializeOwned>(
    query: postgrest::Builder,
) -> Result<Vec<T>, ApiError> {
    let body = supabase::send(query).await?;
    serde_json::from_str(&body)
        .map_err(|error| ApiError::Upstream(format!("rows unparsable: {error}")))
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
    let (config, caller, request, ..) = cx.parts();
    let id = cx.param("post_id");
    let body = optional_body(request)?;
    let comment = if approve {
        body.optional_text("comment", 2000)?
    } else {
        Some(body.required_text("comment", 2000)?)
    };
    let outcome = rpc(
        config,
        "review_post",
        json!({ "user_id": caller.user.id.as_str(), "post_id": post_id(id)?, "approve": approve, "comment": comment }),
    )
    .await?;
    Ok(Response::json(200, &answer_of(outcome)?))
}

/// `POST /v1/posts/{post_id}/cancel`: cancels every destination that has not started.
pub async fn cancel(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let id = cx.param("post_id");
    let outcome = rpc(
        config,
        "cancel_post",
        json!({ "user_id": caller.user.id.as_str(), "post_id": post_id(id)? }),
    )
    .await?;
    Ok(Response::json(200, &answer_of(outcome)?))
}

/// `POST /v1/posts/{post_id}/retry` `{includeUnconfirmed?}`: failed destinations go out again
/// now (and unconfirmed ones, when the caller checked they are not live).
pub async fn retry(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let id = cx.param("post_id");
    let body = optional_body(request)?;
    let include_unconfirmed = body.optional_bool("includeUnconfirmed")?.unwrap_or(false);
    let outcome = rpc(
        config,
        "retry_post",
        json!({ "user_id": caller.user.id.as_str(), "post_id": post_id(id)?, "include_unconfirmed": include_unconfirmed }),
    )
    .await?;
    Ok(Response::json(200, &answer_of(outcome)?))
}

/// `GET /v1/posts/{post_id}/status`: every destination's state, permalink and error, with
/// the history of attempts (read with the caller's token).
pub async fn status(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let id = cx.param("post_id");
    let id = post_id(id)?;
    let client = supabase::user_client(config, &caller.token);
    let post: Value = rows::<Value>(
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
    let destinations: Vec<Value> = rows(
        client
            .from("post_destinations")
            .select("id,connection_id,status,attempts,next_attempt_at,external_id,permalink,error_code,error_message,published_at")
            .eq("post_id", id)
            .order("created_at"),
    )
    .await?;
    let events: Vec<Value> = rows(
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

/// `POST /v1/cron/publish[?post_id=…]`, called with the cron secret every minute by pg_cron, and
/// through pg_net for one post when it is published now, approved or retried.
pub async fn cron_publish(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let (config, _, request, clock) = cx.parts();
    let post = Query::of(request).get("post_id").map(str::to_owned);
    if post.as_deref().is_some_and(|id| !is_uuid(id)) {
        return Err(invalid("post_id", "must be a post id"));
    }
    let tally = dispatcher::dispatch(config, clock, post.as_deref(), CRON_BUDGET).await?;
    Ok(Response::json(200, &tally))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_changed_while_it_was_checked_is_a_conflict() {
        let error = answer_of(json!({ "status": "changed" })).unwrap_err();
        assert_eq!((error.status(), error.code()), (409, "post_changed"));
    }
}
