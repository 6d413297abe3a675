//! The executor: runs claimed jobs step by step inside the sweep's request (pg_net's call when
//! jobs are queued, or pg_cron's every minute). Each step is recorded as started (which checks
//! the lease), reserved in the credit ledger, sent to its provider, and finished in one
//! transaction that settles its credits, writes its snapshot and moves the job on. A job whose
//! executor vanished is claimed again once its lease expires and resumes at its first
//! unfinished step. A step refused by the user's background window or by its provider's rate
//! limit does not fail: its job waits (`queued` until `run_after`) and a later sweep resumes it.

use std::cell::{Cell, RefCell};

use base64::Engine;
use serde_json::{json, Value};

use crate::ai::call::{ask_images, ask_text, estimate_tokens, image_estimate, MAX_OUTPUT_TOKENS};
use crate::ai::provider::ProviderError;
use crate::ai::provider::{Message, Role, TextPrompt, Usage};
use crate::ai::{self, credits, MeteredCall};
use crate::config::Config;
use crate::error::ApiError;
use crate::infra::clock::{Clock, WallClock};
use crate::infra::hex;
use crate::infra::storage;

use super::chain::{self, Brief, StepInput, StepKind, StepSpec};
use super::image;
use super::store::{self, ClaimedJob, Filter, StepStatus, LEASE_SECONDS};

/// The private Storage bucket of generated files.
pub const BUCKET: &str = "generated-assets";
/// How long an executor keeps claiming jobs (running ones finish; what is left waits for the
/// next sweep). It runs inside the sweep's request, which pg_net waits 5 minutes for
/// (`app_private.request_worker`).
const DRAIN_BUDGET_MS: f64 = 240_000.0;
/// How long a step waits after its provider's 429 when the provider did not say.
const PROVIDER_WAIT_SECONDS: u64 = 30;

/// A fresh executor id (a UUID v4): what a lease names as its owner.
pub fn new_worker_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the platform provides randomness");
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(&bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Runs `first` (jobs `worker_id` already claimed), then keeps claiming jobs that `filter`
/// admits, in `lanes` parallel lanes, until none is left, the time budget is spent or a job had
/// to wait for a rate limit (which likely holds for the jobs after it too: they are left to the
/// next sweep). Resolves to a log line when something failed on our side (a job's own failure
/// is its state).
pub async fn drain(
    config: Config,
    worker_id: String,
    filter: Filter,
    lanes: usize,
    first: Vec<ClaimedJob>,
) -> Option<String> {
    let started_ms = WallClock.unix_millis();
    let first = RefCell::new(first);
    let rate_limited = Cell::new(false);
    let errors = RefCell::new(Vec::<Value>::new());
    let failed = |job: Option<&str>, error: ApiError| {
        errors.borrow_mut().push(json!({
            "job_id": job, "error_code": error.code(), "cause": error.cause(),
        }));
    };
    let lane = || async {
        loop {
            let claimed = first.borrow_mut().pop();
            let job = match claimed {
                Some(job) => job,
                None if rate_limited.get() => break,
                None if WallClock.unix_millis() - started_ms > DRAIN_BUDGET_MS => break,
                None => match store::claim(&config, &worker_id, 1, &filter).await {
                    Ok(mut jobs) if !jobs.is_empty() => jobs.remove(0),
                    Ok(_) => break,
                    Err(error) => {
                        failed(None, error);
                        break;
                    }
                },
            };
            let id = job.id.clone();
            match run_job(&config, &worker_id, job).await {
                Ok(JobRun::Waiting) => rate_limited.set(true),
                Ok(JobRun::Ended) => {}
                Err(error) => failed(Some(&id), error),
            }
        }
    };
    futures::future::join_all((0..lanes.max(1)).map(|_| lane())).await;
    let errors = errors.into_inner();
    (!errors.is_empty()).then(|| {
        json!({"level": "error", "msg": "content job executor failed", "worker_id": worker_id, "errors": errors})
            .to_string()
    })
}

/// How an executor left a job.
#[derive(Debug, PartialEq, Eq)]
enum JobRun {
    /// Done, failed, canceled, or taken over by another executor.
    Ended,
    /// Waiting for a rate limit; a later sweep resumes it.
    Waiting,
}

/// Runs a claimed job from its next step to its end, or until it fails, waits, is canceled or
/// its lease is lost. `Err` is a failure to talk to the database (the lease then expires and the
/// sweep resumes the job).
async fn run_job(config: &Config, worker_id: &str, job: ClaimedJob) -> Result<JobRun, ApiError> {
    let unreadable = |what: &str, error: serde_json::Error| {
        ApiError::Upstream(format!("job {}: stored {what} unreadable: {error}", job.id))
    };
    let chain: Vec<StepSpec> =
        serde_json::from_value(job.chain.clone()).map_err(|e| unreadable("chain", e))?;
    let brief: Brief =
        serde_json::from_value(job.brief.clone()).map_err(|e| unreadable("brief", e))?;
    let mut outputs = job.outputs.clone();
    for index in job.current_step..chain.len() {
        let step = &chain[index];
        let input = chain::step_input(&brief, &chain, &outputs, index);
        let started = store::start_step(
            config,
            json!({
                "job_id": job.id, "worker_id": worker_id, "step_index": index, "kind": step.kind,
                "input": input, "lease_seconds": LEASE_SECONDS, "provider": step.provider,
                "model": step.model,
            }),
        )
        .await?;
        if started != StepStatus::Started {
            return Ok(JobRun::Ended);
        }
        let ran = run_step(config, &job, index, step, &input).await;
        if let Some(wait) = rate_limit_wait(&ran.outcome) {
            return defer(config, worker_id, &job.id, index, &ran, wait).await;
        }
        let mut finish = json!({
            "job_id": job.id, "worker_id": worker_id, "step_index": index,
            "lease_seconds": LEASE_SECONDS, "succeeded": ran.outcome.is_ok(),
            "latency_ms": ran.latency_ms,
        });
        if let Some(call) = &ran.call {
            finish["ai_request_id"] = call.request_id.as_str().into();
            finish["provider"] = json!(call.provider);
            finish["model"] = call.model.as_str().into();
        }
        let output = match ran.outcome {
            Ok(done) => {
                finish["output"] = done.output.clone();
                finish["input_tokens"] = done.usage.input_tokens.into();
                finish["output_tokens"] = done.usage.output_tokens.into();
                finish["images"] = done.images.into();
                if !done.assets.is_empty() {
                    finish["assets"] = done.assets.into();
                }
                if index + 1 == chain.len() {
                    let mut all = outputs.clone();
                    all.push(done.output.clone());
                    finish["result"] = chain::result(&chain, &all);
                }
                Some(done.output)
            }
            Err(error) => {
                finish["error_code"] = error.code().into();
                finish["error_message"] = error.message().into();
                None
            }
        };
        match (store::finish_step(config, finish).await?, output) {
            (StepStatus::Next, Some(output)) => outputs.push(output),
            _ => return Ok(JobRun::Ended),
        }
    }
    Ok(JobRun::Ended)
}

/// Why a step's refusal makes its job wait rather than fail, and for how many seconds: the
/// user's background window (until it ends), or the provider's rate limit (its `Retry-After`).
fn rate_limit_wait(outcome: &Result<StepDone, ApiError>) -> Option<(&'static str, u64)> {
    match outcome {
        Err(ApiError::RateLimited { retry_after }) => Some(("rate_limited", *retry_after)),
        Err(ApiError::Provider(ProviderError::RateLimited {
            retry_after_seconds,
        })) => Some((
            "provider_rate_limited",
            retry_after_seconds.unwrap_or(PROVIDER_WAIT_SECONDS),
        )),
        _ => None,
    }
}

/// Puts the job back in the queue until `wait` is over (releasing the step's reservation, if
/// it had one), unless it was canceled or taken over meanwhile, or its provider refused it too
/// often (then it fails).
async fn defer(
    config: &Config,
    worker_id: &str,
    job_id: &str,
    index: usize,
    ran: &StepRun,
    (reason, seconds): (&str, u64),
) -> Result<JobRun, ApiError> {
    let deferred = store::defer(
        config,
        json!({
            "job_id": job_id, "worker_id": worker_id, "step_index": index,
            "reason": reason, "seconds": seconds, "latency_ms": ran.latency_ms,
            "ai_request_id": ran.call.as_ref().map(|call| call.request_id.as_str()),
        }),
    )
    .await?;
    Ok(match deferred {
        StepStatus::Waiting => JobRun::Waiting,
        _ => JobRun::Ended,
    })
}

/// One step's provider call and what it cost; `call` is the reserved call (the one that
/// answered, when a fallback stood in), absent when nothing was reserved.
struct StepRun {
    call: Option<MeteredCall>,
    latency_ms: u32,
    outcome: Result<StepDone, ApiError>,
}

struct StepDone {
    output: Value,
    usage: Usage,
    images: u32,
    /// Rows for `assets` (storage_path, mime_type, size_bytes, width, height).
    assets: Vec<Value>,
}

async fn run_step(
    config: &Config,
    job: &ClaimedJob,
    index: usize,
    step: &StepSpec,
    input: &StepInput,
) -> StepRun {
    let failed = |call, error| StepRun {
        call,
        latency_ms: 0,
        outcome: Err(error),
    };
    let call = match reserve(config, job, step, input).await {
        Ok(call) => call,
        Err(error) => return failed(None, error),
    };
    if step.kind == StepKind::Image {
        let (call, outcome, latency_ms) =
            ask_images(config, call, &input.prompt, 1, &WallClock).await;
        let outcome = match outcome {
            Ok(generated) => store_images(config, job, index, &generated.images)
                .await
                .map(|(output, assets)| StepDone {
                    output,
                    usage: generated.usage,
                    images: generated.images.len() as u32,
                    assets,
                }),
            Err(error) => Err(error.into()),
        };
        return StepRun {
            call: Some(call),
            latency_ms,
            outcome,
        };
    }
    let messages = [Message {
        role: Role::User,
        content: input.prompt.clone(),
    }];
    let model = call.model.clone();
    let text_prompt = TextPrompt {
        model: &model,
        system: input.system.as_deref(),
        messages: &messages,
        json: input.json,
        google_search: false,
        max_output_tokens: MAX_OUTPUT_TOKENS,
    };
    let (call, outcome, latency_ms) = ask_text(config, call, &text_prompt, &WallClock).await;
    let outcome = outcome.map_err(ApiError::from).and_then(|answer| {
        Ok(StepDone {
            output: match step.kind {
                StepKind::Moderation => chain::moderation_output(&answer.text)?,
                _ => chain::text_output(&answer.text),
            },
            usage: answer.usage,
            images: 0,
            assets: Vec::new(),
        })
    });
    StepRun {
        call: Some(call),
        latency_ms,
        outcome,
    }
}

/// Reserves the step's credits for the job's submitter (or team), in the submitter's background
/// window.
async fn reserve(
    config: &Config,
    job: &ClaimedJob,
    step: &StepSpec,
    input: &StepInput,
) -> Result<MeteredCall, ApiError> {
    let image = step.kind == StepKind::Image;
    let endpoint = format!("jobs/{}", step.kind.as_str());
    let estimated_usage = if image {
        image_estimate(&input.prompt, 1)
    } else {
        Usage {
            input_tokens: estimate_tokens(&input.prompt)
                + input.system.as_deref().map_or(0, estimate_tokens),
            output_tokens: MAX_OUTPUT_TOKENS,
        }
    };
    let request = credits::ReserveRequest {
        provider: step.provider,
        model: step.model.as_deref(),
        // A verdict is the platform's to give, as for every moderation (`ai::moderation`).
        platform_only: step.kind == StepKind::Moderation,
        pacing: credits::Pacing::Background,
        ..credits::ReserveRequest::new(
            &job.user_id,
            job.team_id.as_deref(),
            &endpoint,
            step.kind.capability(),
            estimated_usage,
            u32::from(image),
        )
    };
    ai::begin(config, &request).await.outcome
}

/// Uploads generated images under `<team or user>/<job>/<step>-<n>.<ext>` (a rerun of the step
/// replaces them) and returns the step's output and the asset rows.
async fn store_images(
    config: &Config,
    job: &ClaimedJob,
    index: usize,
    images: &[String],
) -> Result<(Value, Vec<Value>), ApiError> {
    let owner = job.team_id.as_deref().unwrap_or(&job.user_id);
    let mut assets = Vec::new();
    let mut described = Vec::new();
    for (n, encoded) in images.iter().enumerate() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|error| {
                ApiError::Provider(ProviderError::Malformed(format!(
                    "image not base64: {error}"
                )))
            })?;
        let info = image::inspect(&bytes).ok_or_else(|| {
            ApiError::Provider(ProviderError::Malformed("image of an unknown type".into()))
        })?;
        let path = format!("{owner}/{}/{index}-{n}.{}", job.id, info.extension);
        let size = bytes.len();
        storage::upload(config, BUCKET, &path, info.mime_type, bytes).await?;
        let (width, height) = info.dimensions.unzip();
        assets.push(json!({
            "storage_path": path, "mime_type": info.mime_type, "size_bytes": size,
            "width": width, "height": height,
        }));
        described.push(json!({
            "storagePath": path, "mimeType": info.mime_type, "sizeBytes": size,
            "width": width, "height": height,
        }));
    }
    Ok((json!({ "assets": described }), assets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rate_limits_make_a_step_wait() {
        let refused = |error: ApiError| rate_limit_wait(&Err(error));
        assert_eq!(
            refused(ApiError::RateLimited { retry_after: 12 }),
            Some(("rate_limited", 12))
        );
        assert_eq!(
            refused(ApiError::Provider(ProviderError::RateLimited {
                retry_after_seconds: Some(3)
            })),
            Some(("provider_rate_limited", 3))
        );
        assert_eq!(
            refused(ApiError::Provider(ProviderError::RateLimited {
                retry_after_seconds: None
            })),
            Some(("provider_rate_limited", PROVIDER_WAIT_SECONDS))
        );
        for lasting in [
            ApiError::Provider(ProviderError::Unavailable("503".into())),
            ApiError::Provider(ProviderError::AuthFailed("401".into())),
            ApiError::CreditLimitReached {
                needed: 4,
                remaining: 0,
                limit: 10,
                resets_at: "2027-01-01T00:00:00Z".into(),
            },
        ] {
            assert_eq!(refused(lasting), None);
        }
    }

    #[test]
    fn worker_ids_are_v4_uuids() {
        let id = new_worker_id();
        assert!(crate::ids::is_uuid(&id));
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_worker_id());
    }
}
