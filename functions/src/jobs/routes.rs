//! Content jobs: `POST /v1/jobs` (202; pg_net then has the sweep run the chain), `GET /v1/jobs`,
//! `GET /v1/jobs/{job_id}`, `POST /v1/jobs/{job_id}/cancel | retry | draft`, campaign batches
//! (`POST|GET /v1/campaigns/{campaign_id}/batches`, `GET /v1/batches/{batch_id}`,
//! `POST /v1/batches/{batch_id}/retry`) and pg_cron's
//! `POST /v1/cron/jobs/sweep`. Reads go through PostgREST with the caller's token (RLS decides,
//! so others' jobs are 404); writes through the service-role RPCs with the verified user id.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::auth::Cron;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::{invalid, parse_date_or_instant, query_id, Query};
use crate::http::{camel_case_keys, Request, Response};
use crate::ids::{Batch, BatchId, Campaign, CampaignId, Job, JobId, PersonaId, TeamId};
use crate::infra::{hex, supabase};
use crate::jobs::chain::{self, Platforms, Steps};
use crate::jobs::exec::{self, BUCKET};
use crate::jobs::store::{
    self, BatchCreation, BatchRetry, DraftCreation, Filter, JobCreation, Transition,
};
use crate::valid::{Count, List, Text};

type JobPrompt = Text<8_000>;
type BrandVoice = Text<1_000>;
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
    draft_id,run_after,wait_reason,created_at,updated_at,started_at,finished_at";
const JOB_SUMMARY_COLUMNS: &str = "id,user_id,team_id,campaign_id,batch_id,batch_index,state,\
    current_step,steps_total,error_code,failed_step,created_at,updated_at,finished_at";
/// The columns `openapi.json`'s `JobStep` and `GeneratedAsset` document, no more.
const STEP_COLUMNS: &str = "step_index,kind,status,provider,model,attempt,input,output,\
    ai_request_id,input_tokens,output_tokens,images,credits,latency_ms,error_code,error_message,\
    started_at,finished_at";
const ASSET_COLUMNS: &str =
    "id,kind,storage_path,mime_type,size_bytes,width,height,job_id,step_index,draft_id";

fn job_not_found() -> ApiError {
    ApiError::Rejected {
        status: 404,
        code: "job_not_found",
        message: "No such job.".into(),
    }
}

fn campaign_not_found() -> ApiError {
    not_found("campaign_not_found", "No such campaign.")
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

/// `POST /v1/jobs`' body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobRequest {
    prompt: JobPrompt,
    brand_voice: Option<BrandVoice>,
    platforms: Option<Platforms>,
    persona_id: Option<PersonaId>,
    chain: Option<Steps>,
    team_id: Option<TeamId>,
    campaign_id: Option<CampaignId>,
}

/// `POST /v1/campaigns/{campaign_id}/batches`' body: the posts' briefs, and what a post's
/// brief leaves out.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchRequest {
    posts: List<PostBrief, 1, MAX_POSTS>,
    chain: Option<Steps>,
    platforms: Option<Platforms>,
    brand_voice: Option<BrandVoice>,
    concurrency: Option<Count<1, MAX_CONCURRENCY>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostBrief {
    prompt: JobPrompt,
    brand_voice: Option<BrandVoice>,
    platforms: Option<Platforms>,
    persona_id: Option<PersonaId>,
    chain: Option<Steps>,
}

/// A brief as the job stores it (instagram when no platform is named).
fn brief(prompt: &str, brand_voice: Option<&BrandVoice>, platforms: Option<&Platforms>) -> Value {
    let platforms = platforms.cloned().unwrap_or_default();
    json!({ "prompt": prompt, "brandVoice": brand_voice, "platforms": platforms })
}

/// The chain given as `field` (the default chain when there is none), checked and as stored.
fn chain_of(steps: Option<Steps>, field: &str) -> Result<Value, ApiError> {
    let chain = match steps {
        None => chain::default_chain(),
        Some(steps) => chain::checked(steps, field).map_err(|error| ApiError::InvalidRequest {
            field: error.field,
            reason: error.reason.to_owned(),
        })?,
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

/// `POST /v1/jobs`: stores the job `queued` and answers 202; its queuing has pg_net start it.
pub async fn create(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let body: JobRequest = cx.body()?;
    let brief = brief(
        &body.prompt,
        body.brand_voice.as_ref(),
        body.platforms.as_ref(),
    );
    let chain = chain_of(body.chain, "chain")?;
    let (team_id, campaign_id, persona_id) = (body.team_id, body.campaign_id, body.persona_id);
    if team_id.is_none() {
        for (field, given) in [
            ("campaignId", campaign_id.is_some()),
            ("personaId", persona_id.is_some()),
        ] {
            if given {
                return Err(invalid(
                    field,
                    "needs teamId: campaigns and personas belong to a team",
                ));
            }
        }
    }
    let key = idempotency_key(request)?;
    let request_hash = hex::sha256(
        &json!({
            "brief": brief, "chain": chain, "teamId": team_id, "campaignId": campaign_id,
            "personaId": persona_id,
        })
        .to_string(),
    );
    let created = store::create_job(
        config,
        json!({
            "user_id": caller.user.id.as_str(), "brief": brief, "chain": chain,
            "team_id": team_id, "campaign_id": campaign_id, "persona_id": persona_id,
            "idempotency_key": key, "request_hash": key.map(|_| request_hash),
        }),
    )
    .await?;
    let (job_id, state, replayed) = match created {
        JobCreation::Created { job_id, state } => (job_id, state, "false"),
        JobCreation::Existing { job_id, state } => (job_id, state, "true"),
        JobCreation::IdempotencyConflict => {
            return Err(ApiError::Rejected {
                status: 422,
                code: "idempotency_key_reused",
                message: "This Idempotency-Key was used for a different request.".into(),
            })
        }
        JobCreation::Refused(refusal) => return Err(refusal.into_error(job_not_found())),
    };
    Ok(Response::json(
        202,
        &json!({ "id": job_id, "state": state, "location": format!("/v1/jobs/{job_id}") }),
    )
    .with_header("location", format!("/v1/jobs/{job_id}"))
    .with_header("idempotent-replayed", replayed))
}

/// `GET /v1/jobs/{job_id}`: the job's snapshot, steps and assets (with signed URLs).
pub async fn get(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let job_id: JobId = cx.id::<Job>("job_id").ok_or_else(job_not_found)?;
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
        select(
            "content_job_steps",
            STEP_COLUMNS,
            by_job("job_id"),
            "step_index",
        ),
        select(
            "assets",
            ASSET_COLUMNS,
            by_job("job_id"),
            "step_index,created_at",
        ),
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
    let mut job = camel_case_keys(job);
    job["steps"] = Value::Array(steps?.into_iter().map(camel_case_keys).collect());
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
            let mut asset = camel_case_keys(asset);
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
        found.into_iter().map(camel_case_keys).collect(),
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
            "teamId" => {
                let team: TeamId = query_id(name, value)?;
                filters.push(("team_id", format!("eq.{team}")));
            }
            "batchId" => {
                let batch: BatchId = query_id(name, value)?;
                filters.push(("batch_id", format!("eq.{batch}")));
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
    let job_id = cx.id::<Job>("job_id").ok_or_else(job_not_found)?;
    let user_id = caller.user.id.as_str();
    let moved = if retry {
        store::retry(config, user_id, job_id.as_str()).await?
    } else {
        store::cancel(config, user_id, job_id.as_str()).await?
    };
    match moved {
        Transition::Queued => Ok(Response::json(
            202,
            &json!({ "id": job_id, "state": "queued" }),
        )),
        Transition::Canceled => Ok(Response::json(
            200,
            &json!({ "id": job_id, "state": "canceled" }),
        )),
        Transition::Conflict { state } => Err(conflict(
            "invalid_job_state",
            if retry {
                format!("Only a failed job can be retried; this one is {state}.")
            } else {
                format!("Only a queued or running job can be canceled; this one is {state}.")
            },
        )),
        Transition::Refused(refusal) => Err(refusal.into_error(job_not_found())),
    }
}

/// `POST /v1/jobs/{job_id}/draft` `{title?}`: the done job's text and images as a content draft.
pub async fn draft(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct DraftRequest {
        title: Option<Text<300>>,
    }
    let (config, caller, ..) = cx.parts();
    let job_id = cx.id::<Job>("job_id").ok_or_else(job_not_found)?;
    let DraftRequest { title } = cx.optional_body()?;
    let title = title.as_deref();
    let made = store::create_draft(config, caller.user.id.as_str(), job_id.as_str(), title).await?;
    let (status, draft_id) = match made {
        DraftCreation::Created { draft_id } => (201, draft_id),
        DraftCreation::Existing { draft_id } => (200, draft_id),
        DraftCreation::Conflict { reason } => {
            return Err(conflict(
                "invalid_job_state",
                format!("This job cannot become a draft: {reason}."),
            ))
        }
        DraftCreation::Refused(refusal) => return Err(refusal.into_error(job_not_found())),
    };
    Ok(Response::json(
        status,
        &json!({ "draftId": draft_id, "jobId": job_id }),
    ))
}

/// `POST /v1/campaigns/{campaign_id}/batches`: `{posts: [{prompt, brandVoice?, platforms?,
/// personaId?, chain?}], chain?, platforms?, brandVoice?, concurrency?}`; one job per post.
pub async fn create_batch(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let campaign_id = cx
        .id::<Campaign>("campaign_id")
        .ok_or_else(campaign_not_found)?;
    let body: BatchRequest = cx.body()?;
    let concurrency = body.concurrency.map_or(DEFAULT_CONCURRENCY, Count::get);
    let chain = chain_of(body.chain, "chain")?;
    let total = body.posts.len();
    let mut items = Vec::with_capacity(total);
    for (index, post) in body.posts.into_vec().into_iter().enumerate() {
        let brand_voice = post.brand_voice.as_ref().or(body.brand_voice.as_ref());
        let platforms = post.platforms.as_ref().or(body.platforms.as_ref());
        let post_chain = match post.chain {
            None => chain.clone(),
            steps => chain_of(steps, &format!("posts[{index}].chain"))?,
        };
        items.push(json!({
            "brief": brief(&post.prompt, brand_voice, platforms), "chain": post_chain,
            "persona_id": post.persona_id,
        }));
    }
    let made = store::create_batch(
        config,
        json!({
            "user_id": caller.user.id.as_str(), "campaign_id": campaign_id,
            "concurrency": concurrency, "posts": items,
        }),
    )
    .await?;
    match made {
        BatchCreation::Created { batch_id } => Ok(Response::json(
            202,
            &json!({ "id": batch_id, "state": "running", "total": total, "concurrency": concurrency,
                     "location": format!("/v1/batches/{batch_id}") }),
        )
        .with_header("location", format!("/v1/batches/{batch_id}"))),
        BatchCreation::Refused(refusal) => Err(refusal.into_error(campaign_not_found())),
    }
}

const BATCH_COLUMNS: &str = "id,team_id,campaign_id,created_by,concurrency,total,completed,failed,\
    canceled,state,created_at,updated_at,finished_at";

/// `GET /v1/campaigns/{campaign_id}/batches?limit=&offset=`: the campaign's batches, newest first.
pub async fn list_batches(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let campaign_id = cx
        .id::<Campaign>("campaign_id")
        .ok_or_else(campaign_not_found)?;
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
    let missing = || not_found("batch_not_found", "No such batch.");
    let batch_id = cx.id::<Batch>("batch_id").ok_or_else(missing)?;
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
                ("select", "id,batch_index,state,current_step,steps_total,error_code,error_message,failed_step,run_after,wait_reason,finished_at".to_owned()),
                ("batch_id", format!("eq.{batch_id}")),
                ("order", "batch_index".to_owned()),
            ],
        ),
    )
    .await;
    let batch = rows(&batches?)?.into_iter().next().ok_or_else(missing)?;
    let mut batch = camel_case_keys(batch);
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
                    "error": error, "runAfter": job["run_after"], "waitReason": job["wait_reason"],
                    "finishedAt": job["finished_at"],
                })
            })
            .collect(),
    );
    Ok(Response::json(200, &batch))
}

/// `POST /v1/batches/{batch_id}/retry`: queues the batch's failed posts again, each at the step
/// that failed (202); 409 when none failed.
pub async fn retry_batch(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let missing = || not_found("batch_not_found", "No such batch.");
    let batch_id = cx.id::<Batch>("batch_id").ok_or_else(missing)?;
    match store::retry_batch(config, caller.user.id.as_str(), batch_id.as_str()).await? {
        BatchRetry::Queued { retried } => Ok(Response::json(
            202,
            &json!({ "id": batch_id, "state": "running", "retried": retried,
                     "location": format!("/v1/batches/{batch_id}") }),
        )
        .with_header("location", format!("/v1/batches/{batch_id}"))),
        BatchRetry::Conflict { state } => Err(conflict(
            "invalid_batch_state",
            format!(
                "Only a batch with failed posts can be retried; this one is {state} with none failed."
            ),
        )),
        BatchRetry::Refused(refusal) => Err(refusal.into_error(missing())),
    }
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
    match (query.id::<Job>("job_id")?, query.id::<Batch>("batch_id")?) {
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
    use crate::http::extract::decode;

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
        fn field<T: serde::de::DeserializeOwned>(body: Value) -> String {
            match decode::<T>(body.to_string().as_bytes()) {
                Err(ApiError::InvalidRequest { field, .. }) => field,
                other => panic!("expected invalid_request, got {:?}", other.err()),
            }
        }
        assert_eq!(field::<JobRequest>(json!({})), "prompt");
        let posts =
            json!([{"prompt": "x"}, {"prompt": "x"}, {"prompt": "x", "platforms": ["myspace"]}]);
        assert_eq!(
            field::<BatchRequest>(json!({ "posts": posts })),
            "posts[2].platforms"
        );
        assert_eq!(
            field::<JobRequest>(json!({"prompt": "x", "platforms": []})),
            "platforms"
        );
        assert_eq!(
            field::<JobRequest>(json!({"prompt": "x", "personaId": "nope"})),
            "personaId"
        );
        let ok: JobRequest =
            decode(br#"{"prompt": "x", "platforms": ["x", "x", "linkedin"]}"#).unwrap();
        assert_eq!(
            brief(&ok.prompt, None, ok.platforms.as_ref())["platforms"],
            json!(["x", "linkedin"])
        );
        assert_eq!(brief("x", None, None)["platforms"], json!(["instagram"]));
    }
}
