//! Liveness (`/healthz`, no dependencies) and readiness (`/readyz`, the database answers).

use serde_json::json;

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
