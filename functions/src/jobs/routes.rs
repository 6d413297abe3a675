//! Content jobs: `POST /v1/jobs` (202; pg_net then has the sweep run the chain), `GET /v1/jobs`,
//! `GET /v1/jobs/{job_id}`, `POST /v1/jobs/{job_id}/cancel | retry | draft`, campaign batches
//! (`POST|GET /v1/campaigns/{campaign_id}/batches`, `GET /v1/batches/{batch_id}`) and pg_cron's
//! `POST /v1/cron/jobs/sweep`. Reads go through PostgREST with the caller's token (RLS decides,
//! so others' jobs are 404); writes through the service-role RPCs with the verified user id.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::auth::Cron;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::{invalid, is_uuid, parse_date_or_instant, JsonBody, Query};
use crate::http::{Request, Response};
use crate::infra::supabase;
use crate::jobs::chain::{self, PLATFORMS};
use crate::jobs::exec::{self, BUCKET};
use crate::jobs::store::{self, Filter, Outcome};

const MAX_PROMPT_CHARS: usize = 8_000;
const MAX_BRAND_VOICE_CHARS: usize = 1_000;
const MAX_POSTS: usize = 100;
const DEFAULT_CONCURRENCY: u64 = 5;
const MAX_CONCURRENCY: u64 = 20;
/// Executors a sweep runs side by side.
const SWEEP_LANES: usize = 5;
/// How long the signed URLs in responses stay valid.
pub const SIGNED_URL_SECONDS: u32 = 600;
const DEFAULT_PAGE: u64 = 20;
const MAX_PAGE: u64 = 100;

const JOB_COLUMNS: &str = "id,user_id,team_id,campaign_id,persona_id,batch_id,batch_index,state,\
    current_step,steps_total,attempts,error_code,error_message,failed_step,brief,chain,result,\
    draft_id,created_at,updated_at,started_at,finished_at";
const JOB_SUMMARY_COLUMNS: &str = "id,user_id,team_id,campaign_id,batch_id,batch_index,state,\
    current_step,steps_total,error_code,failed_step,created_at,updated_at,finished_at";

fn job_not_found() -> ApiError {
    ApiError::Rejected {
        status: 404,
        code: "job_not_found",
        message: "No such job.".into(),
    }
}

fn not_found(code: &'static str, message: &str) -> ApiError {
    ApiError::Rejected {
        status: 404,
        code,
        message: message.into(),
    }
}

fn conflict(code: &'static str, message: String) -> ApiError {
    ApiError::Rejected {
        status: 409,
        code,
        message,
    }
}

/// A brief's fields, checked; `prefix` names where they sit in the request (`posts[3].`).
struct BriefFields {
    brief: Value,
    persona_id: Option<String>,
}

fn prefixed(prefix: &str, error: ApiError) -> ApiError {
    match error {
        ApiError::InvalidRequest { field, reason } => ApiError::InvalidRequest {
            field: format!("{prefix}{field}"),
            reason,
        },
        other => other,
    }
}

fn brief_fields(
    body: &JsonBody,
    prefix: &str,
    default_platforms: Option<&Value>,
) -> Result<BriefFields, ApiError> {
    let parse = || -> Result<BriefFields, ApiError> {
        let prompt = body.required_text("prompt", MAX_PROMPT_CHARS)?;
        let brand_voice = body.optional_text("brandVoice", MAX_BRAND_VOICE_CHARS)?;
        let platforms = match body.0.get("platforms").or(default_platforms) {
            None | Some(Value::Null) => vec!["instagram".to_owned()],
            Some(Value::Array(items)) => {
                let mut platforms: Vec<String> = Vec::new();
                for item in items {
                    match item.as_str() {
                        Some(name) if PLATFORMS.contains(&name) => {
                            if !platforms.iter().any(|known| known == name) {
                                platforms.push(name.to_owned());
                            }
                        }
                        _ => {
                            return Err(invalid(
                                "platforms",
                                &format!("must list platforms among {}", PLATFORMS.join(", ")),
                            ))
                        }
                    }
                }
                if platforms.is_empty() {
                    return Err(invalid("platforms", "must name at least one platform"));
                }
                platforms
            }
            Some(_) => return Err(invalid("platforms", "must be an array of platforms")),
        };
        Ok(BriefFields {
            brief: json!({ "prompt": prompt, "brandVoice": brand_voice, "platforms": platforms }),
            persona_id: body.optional_uuid("personaId")?.map(str::to_owned),
        })
    };
    parse().map_err(|error| prefixed(prefix, error))
}

fn chain_field(value: Option<&Value>, field: &str) -> Result<Value, ApiError> {
    let chain = match value {
        None | Some(Value::Null) => chain::default_chain(),
        Some(value) => {
            chain::parse_chain(value, field).map_err(|error| ApiError::InvalidRequest {
                field: error.field,
                reason: error.reason,
            })?
        }
    };
    Ok(serde_json::to_value(chain).expect("a chain serializes"))
}

fn idempotency_key(request: &Request) -> Result<Option<&str>, ApiError> {
    match request.headers.get("idempotency-key") {
        None => Ok(None),
        Some(key)
            if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key))
        }
        Some(_) => Err(invalid(
            "Idempotency-Key",
            "must be 1 to 255 printable characters",
        )),
    }
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `POST /v1/jobs`: stores the job `queued` and answers 202; its queuing has pg_net start it.
pub async fn create(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let body = JsonBody::parse(&request.body)?;
    let fields = brief_fields(&body, "", None)?;
    let chain = chain_field(body.0.get("chain"), "chain")?;
    let team_id = body.optional_uuid("teamId")?;
    let campaign_id = body.optional_uuid("campaignId")?;
    if team_id.is_none() {
        for (field, value) in [
            ("campaignId", campaign_id),
            ("personaId", fields.persona_id.as_deref()),
        ] {
            if value.is_some() {
                return Err(invalid(
                    field,
                    "needs teamId: campaigns and personas belong to a team",
                ));
            }
        }
    }
    let key = idempotency_key(request)?;
    let request_hash = sha256_hex(
        &json!({
            "brief": fields.brief, "chain": chain, "teamId": team_id, "campaignId": campaign_id,
            "personaId": fields.persona_id,
        })
        .to_string(),
    );
    let outcome = store::call(
        config,
        "create_content_job",
        json!({
            "user_id": caller.user.id.as_str(), "brief": fields.brief, "chain": chain,
            "team_id": team_id, "campaign_id": campaign_id, "persona_id": fields.persona_id,
            "idempotency_key": key, "request_hash": key.map(|_| request_hash),
        }),
    )
    .await?;
    let job_id = match outcome.status.as_str() {
        "created" | "existing" => outcome.job_id.clone().unwrap_or_default(),
        "idempotency_conflict" => {
            return Err(ApiError::Rejected {
                status: 422,
                code: "idempotency_key_reused",
                message: "This Idempotency-Key was used for a different request.".into(),
            })
        }
        other => return Err(refused(other, &outcome)),
    };
    Ok(Response::json(
        202,
        &json!({ "id": job_id, "state": outcome.state, "location": format!("/v1/jobs/{job_id}") }),
    )
    .with_header("location", format!("/v1/jobs/{job_id}"))
    .with_header(
        "idempotent-replayed",
        if outcome.status == "existing" {
            "true"
        } else {
            "false"
        },
    ))
}

/// The answer for the statuses every RPC shares.
fn refused(status: &str, outcome: &Outcome) -> ApiError {
    match status {
        "not_team_member" => ApiError::NotTeamMember,
        "forbidden" => ApiError::Forbidden,
        "invalid" => invalid(
            outcome.field.as_deref().unwrap_or("body"),
            "does not name one of the team's records",
        ),
        other => ApiError::Upstream(format!("unexpected RPC status {other}")),
    }
}

/// `GET /v1/jobs/{job_id}`: the job's snapshot, steps and assets (with signed URLs).
pub async fn get(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let job_id = cx.param("job_id");
    if !is_uuid(job_id) {
        return Err(job_not_found());
    }
    let by_job = |column: &str| (column.to_owned(), format!("eq.{job_id}"));
    let select = |table: &'static str,
                  columns: &'static str,
                  filter: (String, String),
                  order: &'static str| async move {
        let query = [
            ("select", columns.to_owned()),
            (filter.0.as_str(), filter.1.clone()),
            ("order", order.to_owned()),
        ];
        let text = supabase::select_as_user(config, &caller.token, table, &query).await?;
        rows(&text)
    };
    // The job first, its steps and assets after: a step's outcome commits with (or before) the
    // job state it leads to, so a job read as failed or done never shows a step still running.
    let mut job = select("content_jobs", JOB_COLUMNS, by_job("id"), "id")
        .await?
        .into_iter()
        .next()
        .ok_or_else(job_not_found)?;
    let (steps, assets) = futures::future::join(
        select("content_job_steps", "*", by_job("job_id"), "step_index"),
        select("assets", "*", by_job("job_id"), "step_index,created_at"),
    )
    .await;
    let assets = signed_assets(config, assets?).await?;
    let (steps_total, current_step) = (job["steps_total"].as_u64(), job["current_step"].as_u64());
    job["progress"] = json!({
        "completedSteps": current_step, "totalSteps": steps_total,
        "percent": match (current_step, steps_total) {
            (Some(done), Some(total)) if total > 0 => done * 100 / total,
            _ => 0,
        },
    });
    let mut job = camel_case(job);
    job["steps"] = Value::Array(steps?.into_iter().map(camel_case).collect());
    job["assets"] = Value::Array(assets);
    Ok(Response::json(200, &job))
}

async fn signed_assets(config: &Config, assets: Vec<Value>) -> Result<Vec<Value>, ApiError> {
    let signed =
        futures::future::join_all(assets.iter().map(|asset| {
            let path = asset["storage_path"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            async move {
                crate::infra::storage::signed_url(config, BUCKET, &path, SIGNED_URL_SECONDS).await
            }
        }))
        .await;
    assets
        .into_iter()
        .zip(signed)
        .map(|(asset, url)| {
            let mut asset = camel_case(asset);
            asset["signedUrl"] = url?.into();
            asset["signedUrlExpiresIn"] = SIGNED_URL_SECONDS.into();
            Ok(asset)
        })
        .collect()
}

fn rows(text: &str) -> Result<Vec<Value>, ApiError> {
    serde_json::from_str(text)
        .map_err(|error| ApiError::Upstream(format!("PostgREST rows unparsable: {error}")))
}

/// The row's keys in camelCase, as the worker's API writes them.
fn camel_case(row: Value) -> Value {
    let Value::Object(fields) = row else {
        return row;
    };
    let camel = |key: &str| {
        let mut out = String::with_capacity(key.len());
        let mut upper = false;
        for c in key.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (camel(&key), value))
            .collect::<Map<_, _>>(),
    )
}

/// limit (1-100, default 20) and offset (default 0) from the query.
fn page(pairs: &[(String, String)]) -> Result<(u64, u64), ApiError> {
    let number = |name: &str, min: u64, max: u64, default: u64| -> Result<u64, ApiError> {
        match pairs.iter().find(|(key, _)| key == name) {
            None => Ok(default),
            Some((_, value)) => value
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| invalid(name, &format!("must be an integer from {min} to {max}"))),
        }
    };
    Ok((
        number("limit", 1, MAX_PAGE, DEFAULT_PAGE)?,
        number("offset", 0, 1_000_000, 0)?,
    ))
}

/// One page of rows newest first, and the offset of the next page when there may be one.
async fn list_page(
    config: &Config,
    caller: &Caller,
    table: &str,
    columns: &str,
    filters: Vec<(&str, String)>,
    (limit, offset): (u64, u64),
) -> Result<(Vec<Value>, Option<u64>), ApiError> {
    let mut query = vec![
        ("select", columns.to_owned()),
        ("order", "created_at.desc,id.desc".to_owned()),
        ("limit", (limit + 1).to_string()),
        ("offset", offset.to_string()),
    ];
    query.extend(filters);
    let mut found = rows(&supabase::select_as_user(config, &caller.token, table, &query).await?)?;
    let more = found.len() as u64 > limit;
    found.truncate(limit as usize);
    Ok((
        found.into_iter().map(camel_case).collect(),
        more.then_some(offset + limit),
    ))
}

/// The PostgREST filters of `GET /v1/jobs`' query; every value is checked here, so the
/// database never sees one it would refuse.
fn job_filters(pairs: &[(String, String)]) -> Result<Vec<(&'static str, String)>, ApiError> {
    let mut filters = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "state" => {
                if !["queued", "running", "done", "failed", "canceled"].contains(&value.as_str()) {
                    return Err(invalid(
                        "state",
                        "must be queued, running, done, failed or canceled",
                    ));
                }
                filters.push(("state", format!("eq.{value}")));
            }
            "since" | "until" => {
                let instant = parse_date_or_instant(value).ok_or_else(|| {
                    invalid(
                        name,
                        "must be a real date or RFC 3339 time in the years 1-9999",
                    )
                })?;
                let operator = if name == "since" { "gte" } else { "lt" };
                filters.push(("created_at", format!("{operator}.{}", instant.to_rfc3339())));
            }
            "teamId" | "batchId" => {
                if !is_uuid(value) {
                    return Err(invalid(name, "must be a UUID"));
                }
                let column = if name == "teamId" {
                    "team_id"
                } else {
                    "batch_id"
                };
                filters.push((column, format!("eq.{value}")));
            }
            "limit" | "offset" => {}
            other => return Err(invalid(other, "is not a known query parameter")),
        }
    }
    Ok(filters)
}

/// `GET /v1/jobs?state=&since=&until=&teamId=&batchId=&limit=&offset=`: the jobs the caller
/// can read, newest first.
pub async fn list(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let query = Query::of(request);
    let pairs = query.pairs();
    let filters = job_filters(pairs)?;
    let page = page(pairs)?;
    let (jobs, next_offset) = list_page(
        config,
        caller,
        "content_jobs",
        JOB_SUMMARY_COLUMNS,
        filters,
        page,
    )
    .await?;
    Ok(Response::json(
        200,
        &json!({ "jobs": jobs, "limit": page.0, "offset": page.1, "nextOffset": next_offset }),
    ))
}

/// `POST /v1/jobs/{job_id}/cancel`.
pub async fn cancel(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    transition(cx, false).await
}

/// `POST /v1/jobs/{job_id}/retry`.
pub async fn retry(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    transition(cx, true).await
}

async fn transition(cx: &Cx<'_, Caller>, retry: bool) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let job_id = cx.param("job_id");
    if !is_uuid(job_id) {
        return Err(job_not_found());
    }
    let function = if retry {
        "retry_content_job"
    } else {
        "cancel_content_job"
    };
    let outcome = store::call(
        config,
        function,
        json!({ "user_id": caller.user.id.as_str(), "job_id": job_id }),
    )
    .await?;
    match outcome.status.as_str() {
        "queued" => Ok(Response::json(
            202,
            &json!({ "id": job_id, "state": "queued" }),
        )),
        "canceled" => Ok(Response::json(
            200,
            &json!({ "id": job_id, "state": "canceled" }),
        )),
        "not_found" => Err(job_not_found()),
        "conflict" => {
            let state = outcome.state.unwrap_or_default();
            Err(conflict(
                "invalid_job_state",
                if retry {
                    format!("Only a failed job can be retried; this one is {state}.")
                } else {
                    format!("Only a queued or running job can be canceled; this one is {state}.")
                },
            ))
        }
        other => Err(refused(other, &outcome)),
    }
}

/// `POST /v1/jobs/{job_id}/draft` `{title?}`: the done job's text and images as a content draft.
pub async fn draft(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let job_id = cx.param("job_id");
    if !is_uuid(job_id) {
        return Err(job_not_found());
    }
    let body = if request.body.is_empty() {
        JsonBody(Map::new())
    } else {
        JsonBody::parse(&request.body)?
    };
    let title = body.optional_text("title", 300)?;
    let outcome = store::call(
        config,
        "create_draft_from_content_job",
        json!({ "user_id": caller.user.id.as_str(), "job_id": job_id, "title": title }),
    )
    .await?;
    match outcome.status.as_str() {
        "created" | "existing" => Ok(Response::json(
            if outcome.status == "created" {
                201
            } else {
                200
            },
            &json!({ "draftId": outcome.draft_id, "jobId": job_id }),
        )),
        "not_found" => Err(job_not_found()),
        "conflict" => Err(conflict(
            "invalid_job_state",
            format!(
                "This job cannot become a draft: {}.",
                outcome.reason.unwrap_or_default()
            ),
        )),
        other => Err(refused(other, &outcome)),
    }
}

/// `POST /v1/campaigns/{campaign_id}/batches`: `{posts: [{prompt, brandVoice?, platforms?,
/// personaId?, chain?}], chain?, platforms?, brandVoice?, concurrency?}`; one job per post.
pub async fn create_batch(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let campaign_id = cx.param("campaign_id");
    if !is_uuid(campaign_id) {
        return Err(not_found("campaign_not_found", "No such campaign."));
    }
    let body = JsonBody::parse(&request.body)?;
    let concurrency = body
        .optional_count("concurrency", 1, MAX_CONCURRENCY)?
        .unwrap_or(DEFAULT_CONCURRENCY);
    let chain = chain_field(body.0.get("chain"), "chain")?;
    let brand_voice = body.optional_text("brandVoice", MAX_BRAND_VOICE_CHARS)?;
    let Some(Value::Array(posts)) = body.0.get("posts") else {
        return Err(invalid("posts", "must be an array of post briefs"));
    };
    if posts.is_empty() || posts.len() > MAX_POSTS {
        return Err(invalid(
            "posts",
            &format!("must have 1 to {MAX_POSTS} posts"),
        ));
    }
    let mut items = Vec::with_capacity(posts.len());
    for (index, post) in posts.iter().enumerate() {
        let prefix = format!("posts[{index}].");
        let Value::Object(fields) = post else {
            return Err(invalid(&format!("posts[{index}]"), "must be an object"));
        };
        let mut fields = fields.clone();
        if let (Some(voice), None) = (brand_voice, fields.get("brandVoice")) {
            fields.insert("brandVoice".into(), voice.into());
        }
        let post = JsonBody(fields);
        let brief = brief_fields(&post, &prefix, body.0.get("platforms"))?;
        let post_chain = match post.0.get("chain") {
            None | Some(Value::Null) => chain.clone(),
            value => chain_field(value, &format!("posts[{index}].chain"))?,
        };
        items.push(
            json!({ "brief": brief.brief, "chain": post_chain, "persona_id": brief.persona_id }),
        );
    }
    let outcome = store::call(
        config,
        "create_content_batch",
        json!({
            "user_id": caller.user.id.as_str(), "campaign_id": campaign_id,
            "concurrency": concurrency, "posts": items,
        }),
    )
    .await?;
    match outcome.status.as_str() {
        "created" => {
            let batch_id = outcome.batch_id.unwrap_or_default();
            Ok(Response::json(
                202,
                &json!({ "id": batch_id, "state": "running", "total": posts.len(), "concurrency": concurrency,
                         "location": format!("/v1/batches/{batch_id}") }),
            )
            .with_header("location", format!("/v1/batches/{batch_id}")))
        }
        "not_found" => Err(not_found("campaign_not_found", "No such campaign.")),
        other => Err(refused(other, &outcome)),
    }
}

const BATCH_COLUMNS: &str = "id,team_id,campaign_id,created_by,concurrency,total,completed,failed,\
    canceled,state,created_at,updated_at,finished_at";

/// `GET /v1/campaigns/{campaign_id}/batches?limit=&offset=`: the campaign's batches, newest first.
pub async fn list_batches(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let campaign_id = cx.param("campaign_id");
    if !is_uuid(campaign_id) {
        return Err(not_found("campaign_not_found", "No such campaign."));
    }
    let query = Query::of(request);
    let pairs = query.pairs();
    if let Some((name, _)) = pairs
        .iter()
        .find(|(name, _)| name != "limit" && name != "offset")
    {
        return Err(invalid(name, "is not a known query parameter"));
    }
    let page = page(pairs)?;
    let filters = vec![("campaign_id", format!("eq.{campaign_id}"))];
    let (batches, next_offset) = list_page(
        config,
        caller,
        "content_batches",
        BATCH_COLUMNS,
        filters,
        page,
    )
    .await?;
    Ok(Response::json(
        200,
        &json!({ "batches": batches, "limit": page.0, "offset": page.1, "nextOffset": next_offset }),
    ))
}

/// `GET /v1/batches/{batch_id}`: counters, and each post's job state and error.
pub async fn get_batch(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let batch_id = cx.param("batch_id");
    let missing = || not_found("batch_not_found", "No such batch.");
    if !is_uuid(batch_id) {
        return Err(missing());
    }
    let (batches, jobs) = futures::future::join(
        supabase::select_as_user(
            config,
            &caller.token,
            "content_batches",
            &[("select", BATCH_COLUMNS.to_owned()), ("id", format!("eq.{batch_id}"))],
        ),
        supabase::select_as_user(
            config,
            &caller.token,
            "content_jobs",
            &[
                ("select", "id,batch_index,state,current_step,steps_total,error_code,error_message,failed_step,finished_at".to_owned()),
                ("batch_id", format!("eq.{batch_id}")),
                ("order", "batch_index".to_owned()),
            ],
        ),
    )
    .await;
    let batch = rows(&batches?)?.into_iter().next().ok_or_else(missing)?;
    let mut batch = camel_case(batch);
    batch["posts"] = Value::Array(
        rows(&jobs?)?
            .into_iter()
            .map(|job| {
                let error = job["error_code"].is_string().then(|| {
                    json!({ "code": job["error_code"], "message": job["error_message"], "step": job["failed_step"] })
                });
                json!({
                    "index": job["batch_index"], "jobId": job["id"], "state": job["state"],
                    "completedSteps": job["current_step"], "totalSteps": job["steps_total"],
                    "error": error, "finishedAt": job["finished_at"],
                })
            })
            .collect(),
    );
    Ok(Response::json(200, &batch))
}

/// `POST /v1/cron/jobs/sweep` (pg_net): claims jobs and runs them (and whatever else the same
/// filter admits) before it answers which it claimed. pg_cron calls it every minute for queued
/// jobs and expired leases; a job's queuing calls it with `job_id`, or `batch_id` and `lanes`
/// (the batch's concurrency), when its transaction commits. The work is done before the answer:
/// pg_net waits 5 minutes, while work after a response is cut after about 30 s.
pub async fn sweep(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let (config, _, request, scope) = cx.parts();
    let (filter, lanes) = sweep_scope(&Query::of(request))?;
    let worker_id = exec::new_worker_id();
    let claimed = store::claim(config, &worker_id, lanes, &filter).await?;
    let ids: Vec<String> = claimed.iter().map(|job| job.id.clone()).collect();
    if let Some(failure) = exec::drain(config.clone(), worker_id, filter, lanes, claimed).await {
        scope.log(failure);
    }
    Ok(Response::json(
        200,
        &json!({ "claimed": ids.len(), "jobIds": ids }),
    ))
}

/// Which jobs a sweep takes, and in how many lanes.
fn sweep_scope(query: &Query) -> Result<(Filter, usize), ApiError> {
    let id = |name: &'static str| match query.get(name) {
        Some(id) if !is_uuid(id) => Err(invalid(name, "must be an id")),
        id => Ok(id.map(str::to_owned)),
    };
    match (id("job_id")?, id("batch_id")?) {
        (Some(_), Some(_)) => Err(invalid("batch_id", "give job_id or batch_id, not both")),
        (Some(job), None) => Ok((Filter::Job(job), 1)),
        (None, Some(batch)) => {
            let lanes = match query.get("lanes").map(str::parse::<u64>) {
                Some(Ok(lanes @ 1..=MAX_CONCURRENCY)) => lanes as usize,
                _ => {
                    return Err(invalid(
                        "lanes",
                        &format!("must be a number from 1 to {MAX_CONCURRENCY}"),
                    ))
                }
            };
            Ok((Filter::Batch(batch), lanes))
        }
        (None, None) => Ok((Filter::Any, SWEEP_LANES)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_pages_are_checked() {
        let filters_of = |q: &str| job_filters(Query::parse(q).pairs());
        assert_eq!(
            filters_of("since=2026-11-23&until=2026-11-23T10%3A00%3A00.5%2B01%3A00").unwrap(),
            [
                ("created_at", "gte.2026-11-23T00:00:00+00:00".to_owned()),
                ("created_at", "lt.2026-11-23T09:00:00.500+00:00".to_owned()),
            ]
        );
        for (query, field) in [
            ("since=yesterday", "since"),
            ("since=2026-13-45", "since"),
            ("until=2026-02-30T10%3A00%3A00Z", "until"),
            ("since=2026-11-23T10", "since"),
            ("until=2026-11-23T10%3A00%3A00%3Bdrop", "until"),
            ("since=0000-01-01", "since"),
            ("batchId=1", "batchId"),
            ("state=lost", "state"),
        ] {
            match filters_of(query) {
                Err(ApiError::InvalidRequest { field: named, .. }) => {
                    assert_eq!(named, field, "{query}")
                }
                other => panic!("{query}: {other:?}"),
            }
        }
        let page_of = |q: &str| page(Query::parse(q).pairs());
        assert_eq!(page_of("").unwrap(), (20, 0));
        assert_eq!(page_of("limit=5&offset=10").unwrap(), (5, 10));
        for bad in [
            "limit=0",
            "limit=101",
            "limit=-1",
            "offset=-5",
            "limit=1e3",
            "offset=99999999999999999999999",
            "offset=1000001",
        ] {
            assert!(page_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn briefs_are_validated_with_the_field_path() {
        let field = |json: Value, prefix: &str| match brief_fields(
            &JsonBody(json.as_object().unwrap().clone()),
            prefix,
            None,
        ) {
            Err(ApiError::InvalidRequest { field, .. }) => field,
            other => panic!("expected invalid_request, got {:?}", other.map(|b| b.brief)),
        };
        assert_eq!(field(json!({}), ""), "prompt");
        assert_eq!(
            field(
                json!({"prompt": "x", "platforms": ["myspace"]}),
                "posts[2]."
            ),
            "posts[2].platforms"
        );
        assert_eq!(
            field(json!({"prompt": "x", "platforms": []}), ""),
            "platforms"
        );
        assert_eq!(
            field(json!({"prompt": "x", "personaId": "nope"}), ""),
            "personaId"
        );
        let ok = brief_fields(
            &JsonBody(
                json!({"prompt": "x", "platforms": ["x", "x", "linkedin"]})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            "",
            None,
        )
        .unwrap();
        assert_eq!(ok.brief["platforms"], json!(["x", "linkedin"]));
    }

    #[test]
    fn rows_come_out_in_camel_case() {
        assert_eq!(
            camel_case(json!({"steps_total": 5, "id": "x", "error_code": null})),
            json!({"stepsTotal": 5, "id": "x", "errorCode": null})
        );
    }
}
