//! The content jobs' RPCs (see the `content_jobs` migration), called as the service role with
//! the user id the worker verified.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::supabase::rpc;

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
    Job(String),
    Batch(String),
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

/// The answer of the RPCs a user's request calls: a status and, depending on it, ids or the
/// field or state that made it fail.
#[derive(Debug, Deserialize)]
pub struct Outcome {
    pub status: String,
    pub job_id: Option<String>,
    pub batch_id: Option<String>,
    pub draft_id: Option<String>,
    pub field: Option<String>,
    pub state: Option<String>,
    pub reason: Option<String>,
}

pub async fn call(config: &Config, function: &str, params: Value) -> Result<Outcome, ApiError> {
    rpc(config, function, params).await
}
