//! The content jobs' RPCs (see the `content_jobs` migration), called as the service role with
//! the user id the worker verified.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::ids::{BatchId, JobId};
use crate::infra::supabase::{rpc, Refusal};

/// How long a claim holds a job without news from its executor: longer than one step can take
/// (a provider call gives up after 90 s, retries and fallback included).
pub const LEASE_SECONDS: u32 = 150;

/// A job an executor claimed, with what it needs to resume it.
#[derive(Debug, Deserialize)]
pub struct ClaimedJob {
    pub id: String,
    pub user_id: String,
    pub team_id: Option<String>,
    pub brief: Value,
    pub chain: Value,
    pub current_step: usize,
    /// The outputs of the steps before `current_step`.
    pub outputs: Vec<Value>,
}

/// Which jobs a claim may take.
#[derive(Clone, Debug)]
pub enum Filter {
    Any,
    Job(JobId),
    Batch(BatchId),
}

pub async fn claim(
    config: &Config,
    worker_id: &str,
    max_jobs: usize,
    filter: &Filter,
) -> Result<Vec<ClaimedJob>, ApiError> {
    let mut params = json!({
        "worker_id": worker_id, "max_jobs": max_jobs, "lease_seconds": LEASE_SECONDS,
    });
    match filter {
        Filter::Any => {}
        Filter::Job(id) => params["job_id"] = id.as_str().into(),
        Filter::Batch(id) => params["batch_id"] = id.as_str().into(),
    }
    rpc(config, "claim_content_jobs", params).await
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Started,
    Next,
    Done,
    Failed,
    Canceled,
    LeaseLost,
    /// The job waits for a rate limit (`defer_content_job`).
    Waiting,
}

#[derive(Deserialize)]
struct StatusOnly {
    status: StepStatus,
}

pub async fn start_step(config: &Config, params: Value) -> Result<StepStatus, ApiError> {
    let answer: StatusOnly = rpc(config, "start_content_job_step", params).await?;
    Ok(answer.status)
}

pub async fn finish_step(config: &Config, params: Value) -> Result<StepStatus, ApiError> {
    let answer: StatusOnly = rpc(config, "finish_content_job_step", params).await?;
    Ok(answer.status)
}

/// Puts a job whose step a rate limit refused back in the queue until the limit allows.
pub async fn defer(config: &Config, params: Value) -> Result<StepStatus, ApiError> {
    let answer: StatusOnly = rpc(config, "defer_content_job", params).await?;
    Ok(answer.status)
}

/// `create_content_job`'s answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum JobCreation {
    Created {
        job_id: String,
        state: String,
    },
    /// The same Idempotency-Key with the same request: the job the first call made.
    Existing {
        job_id: String,
        state: String,
    },
    /// The Idempotency-Key was used for a different request.
    IdempotencyConflict,
    #[serde(untagged)]
    Refused(Refusal),
}

pub async fn create_job(config: &Config, params: Value) -> Result<JobCreation, ApiError> {
    rpc(config, "create_content_job", params).await
}

/// `create_content_batch`'s answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BatchCreation {
    Created {
        batch_id: String,
    },
    #[serde(untagged)]
    Refused(Refusal),
}

pub async fn create_batch(config: &Config, params: Value) -> Result<BatchCreation, ApiError> {
    rpc(config, "create_content_batch", params).await
}

/// What canceling or retrying a job did.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Transition {
    /// Retried: queued again.
    Queued,
    Canceled,
    /// The job's `state` allows no such move.
    Conflict {
        state: String,
    },
    #[serde(untagged)]
    Refused(Refusal),
}

pub async fn cancel(config: &Config, user_id: &str, job_id: &str) -> Result<Transition, ApiError> {
    let params = json!({ "user_id": user_id, "job_id": job_id });
    rpc(config, "cancel_content_job", params).await
}

pub async fn retry(config: &Config, user_id: &str, job_id: &str) -> Result<Transition, ApiError> {
    let params = json!({ "user_id": user_id, "job_id": job_id });
    rpc(config, "retry_content_job", params).await
}

/// `create_draft_from_content_job`'s answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DraftCreation {
    Created {
        draft_id: String,
    },
    /// The job became a draft before.
    Existing {
        draft_id: String,
    },
    /// Why this job cannot become a draft.
    Conflict {
        reason: String,
    },
    #[serde(untagged)]
    Refused(Refusal),
}

pub async fn create_draft(
    config: &Config,
    user_id: &str,
    job_id: &str,
    title: Option<&str>,
) -> Result<DraftCreation, ApiError> {
    let params = json!({ "user_id": user_id, "job_id": job_id, "title": title });
    rpc(config, "create_draft_from_content_job", params).await
}

/// `retry_content_batch`'s answer.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BatchRetry {
    /// `retried` failed posts queued again.
    Queued { retried: u32 },
    /// None of the batch's posts failed; the batch is in `state`.
    Conflict { state: String },
    #[serde(untagged)]
    Refused(Refusal),
}

pub async fn retry_batch(
    config: &Config,
    user_id: &str,
    batch_id: &str,
) -> Result<BatchRetry, ApiError> {
    let params = json!({ "user_id": user_id, "batch_id": batch_id });
    rpc(config, "retry_content_batch", params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode_into_their_outcomes() {
        let transition: Transition =
            serde_json::from_value(json!({"status": "conflict", "state": "done"})).unwrap();
        assert!(matches!(transition, Transition::Conflict { state } if state == "done"));
        let created: JobCreation = serde_json::from_value(
            json!({"status": "existing", "job_id": "j", "state": "running"}),
        )
        .unwrap();
        assert!(matches!(created, JobCreation::Existing { job_id, .. } if job_id == "j"));
        let refused: BatchCreation =
            serde_json::from_value(json!({"status": "invalid", "field": "posts[1].personaId"}))
                .unwrap();
        assert!(matches!(
            refused,
            BatchCreation::Refused(Refusal::Invalid { field: Some(_) })
        ));
        let draft: Result<DraftCreation, _> = serde_json::from_value(json!({"status": "created"}));
        assert!(draft.is_err(), "a created draft has its id");
    }
}
