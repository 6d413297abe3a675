//! Liveness (`/healthz`, no dependencies), readiness (`/readyz`, the database answers) and,
//! for operators, deep readiness (`/readyz/deep`: what the schedulers need as well).

use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::cron::Cron;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::Response;
use crate::infra::supabase;

pub fn healthz() -> Response {
    Response::json(200, &json!({ "status": "ok" }))
}

/// Ready when `public.health_check()` answers through PostgREST as service_role. Any failure
/// is reported as the database being unavailable: a load balancer needs no finer detail.
pub async fn readyz(cx: &Cx<'_, ()>) -> Result<Response, ApiError> {
    let config = cx.config;
    let probe = supabase::service_role_client(config).rpc("health_check", "{}");
    supabase::send(probe)
        .await
        .map_err(|error| ApiError::DatabaseUnavailable(error.to_string()))?;
    Ok(Response::json(200, &json!({ "status": "ready" })))
}

/// `readiness_report`'s answer: each part as `{ok, problems, ...figures}`.
#[derive(Deserialize)]
struct ReadinessReport {
    ready: bool,
    checks: Value,
}

/// Everything publishing and the other schedules need (pg_cron's jobs and their last runs,
/// pg_net's deliveries, Vault's `worker_url` and `cron_secret` matching this worker, overdue
/// posts and jobs): 200 when all are, else 503 naming each part's problems. Behind the cron
/// secret: it is for operators, and it describes the deployment's internals.
pub async fn readyz_deep(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let config = cx.config;
    let secret = crate::auth::cron::configured(config.cron_secret.as_ref())?;
    let params = json!({ "worker_cron_secret_sha256": secret.sha256_hex() });
    let report: ReadinessReport = supabase::rpc(config, "readiness_report", params).await?;
    let (status, state) = if report.ready {
        (200, "ready")
    } else {
        (503, "degraded")
    };
    Ok(Response::json(
        status,
        &json!({ "status": state, "checks": report.checks }),
    ))
}
