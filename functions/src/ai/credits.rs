//! The credit RPCs (see the `ai` migration): one round trip reserves an estimate and takes a
//! slot in the caller's rate window; `settle` charges what the provider reported, `release`
//! returns the reservation after a failure. Called as the service role with the user id the
//! worker verified, never one the client sent.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::infra::supabase::rpc;

use super::provider::{Capability, ProviderKind, Usage};

pub struct ReserveRequest<'a> {
    pub user_id: &'a str,
    pub team_id: Option<&'a str>,
    pub endpoint: &'a str,
    pub capability: Capability,
    pub estimated_usage: Usage,
    pub estimated_images: u32,
    /// The provider and model the request names (a job step's, a chat completion's model); else
    /// the caller's active configuration's, else the platform's default. The caller's key (and
    /// base URL) is used only when their configuration is for that provider.
    pub provider: Option<ProviderKind>,
    pub model: Option<&'a str>,
    /// Only the platform's own provider and key may answer (moderation): the caller's
    /// configuration is ignored.
    pub platform_only: bool,
}

impl<'a> ReserveRequest<'a> {
    /// A request for the caller's configured (or the default) provider and model.
    pub fn new(
        user_id: &'a str,
        team_id: Option<&'a str>,
        endpoint: &'a str,
        capability: Capability,
        estimated_usage: Usage,
        estimated_images: u32,
    ) -> Self {
        Self {
            user_id,
            team_id,
            endpoint,
            capability,
            estimated_usage,
            estimated_images,
            provider: None,
            model: None,
            platform_only: false,
        }
    }
}

/// A granted reservation and the provider configuration it resolved.
#[derive(Debug, Deserialize)]
pub struct Reservation {
    pub request_id: String,
    pub config_id: Option<String>,
    pub provider: ProviderKind,
    pub model: Option<String>,
    pub base_url: Option<String>,
    pub encrypted_api_key: Option<String>,
    pub api_key_version: Option<String>,
    pub log_prompts: bool,
}

#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum ReserveOutcome {
    Reserved(Reservation),
    RateLimited {
        retry_after: u64,
    },
    CreditLimitReached {
        remaining: i64,
        limit: i64,
        resets_at: String,
    },
    NotTeamMember,
    /// The platform's key would run a model that has no price of its own.
    ModelNotAllowed {
        provider: ProviderKind,
        model: String,
    },
}

pub async fn reserve(
    config: &Config,
    request: &ReserveRequest<'_>,
) -> Result<Reservation, ApiError> {
    let params = json!({
        "user_id": request.user_id,
        "team_id": request.team_id,
        "endpoint": request.endpoint,
        "capability": request.capability.as_str(),
        "default_provider": config.ai.default_provider,
        "estimated_input_tokens": request.estimated_usage.input_tokens,
        "estimated_output_tokens": request.estimated_usage.output_tokens,
        "estimated_images": request.estimated_images,
        "requested_provider": request.provider,
        "requested_model": request.model,
        "platform_only": request.platform_only,
    });
    match rpc(config, "reserve_ai_credits", params).await? {
        ReserveOutcome::Reserved(reservation) => Ok(reservation),
        ReserveOutcome::RateLimited { retry_after } => Err(ApiError::RateLimited { retry_after }),
        ReserveOutcome::CreditLimitReached {
            remaining,
            limit,
            resets_at,
        } => Err(ApiError::CreditLimitReached {
            remaining,
            limit,
            resets_at,
        }),
        ReserveOutcome::NotTeamMember => Err(ApiError::NotTeamMember),
        ReserveOutcome::ModelNotAllowed { provider, model } => Err(ApiError::Rejected {
            status: 400,
            code: "model_not_allowed",
            message: format!(
                "The model {model} of {} is not available with the platform's key; use a priced model \
                 or configure your own API key.",
                provider.as_str()
            ),
        }),
    }
}

pub struct Settlement<'a> {
    /// The provider that answered: the reserved one, or the fallback that stood in.
    pub provider: ProviderKind,
    pub model: &'a str,
    pub usage: Usage,
    pub images: u32,
    pub latency_ms: u32,
    /// Sent only when the subject opted in to prompt logging.
    pub prompt: Option<&'a str>,
}

pub async fn settle(
    config: &Config,
    request_id: &str,
    settlement: &Settlement<'_>,
) -> Result<(), ApiError> {
    let params = json!({
        "request_id": request_id,
        "provider": settlement.provider,
        "model": settlement.model,
        "input_tokens": settlement.usage.input_tokens,
        "output_tokens": settlement.usage.output_tokens,
        "images": settlement.images,
        "latency_ms": settlement.latency_ms,
        "prompt": settlement.prompt,
    });
    rpc::<bool>(config, "settle_ai_credits", params)
        .await
        .map(drop)
}

pub async fn release(
    config: &Config,
    request_id: &str,
    error_code: &str,
    latency_ms: u32,
) -> Result<(), ApiError> {
    let params =
        json!({ "request_id": request_id, "error_code": error_code, "latency_ms": latency_ms });
    rpc::<bool>(config, "release_ai_credits", params)
        .await
        .map(drop)
}

/// After a 2xx answer of a shape the provider does not document: the provider was paid, so the
/// reservation is charged (capped at the allowance) and the request logged as failed.
pub async fn charge_reservation(
    config: &Config,
    request_id: &str,
    error_code: &str,
    latency_ms: u32,
) -> Result<(), ApiError> {
    let params =
        json!({ "request_id": request_id, "error_code": error_code, "latency_ms": latency_ms });
    rpc::<bool>(config, "charge_ai_reservation", params)
        .await
        .map(drop)
}

/// The monthly reset: releases stale reservations; idempotent within a month.
pub async fn reset(config: &Config) -> Result<Value, ApiError> {
    rpc(config, "reset_ai_credits", json!({})).await
}
