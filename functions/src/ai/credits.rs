//! The credit RPCs (see the `ai` migration): one round trip reserves an estimate and takes a
//! slot in the caller's rate window of the call's pacing; `settle` charges what the provider
//! reported, `release` returns the reservation after a failure (any call whose caller got an
//! error). Called as the service role with the user id the worker verified, never one the client
//! sent.

use serde::{Deserialize, Serialize};
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
    /// Whose per-user window the call counts in.
    pub pacing: Pacing,
}

/// The per-user rate windows AI calls are paced by (each sized by the plan), so background work
/// and the checks publishing needs are never starved by a user's own interactive calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pacing {
    /// A client waits for the answer: chat, the assistants, `/v1/ai/*`.
    Interactive,
    /// A content job's or batch's step: refused, it waits and continues later.
    Background,
    /// The moderation a post's schedule or publish runs.
    Publishing,
}

/// A rate window's state after a reservation: what it allows, what it has left, the whole
/// seconds until it ends, and its length in seconds.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct RateWindow {
    pub limit: u32,
    pub remaining: u32,
    pub reset: u32,
    pub length: u32,
}

impl RateWindow {
    /// The window as response headers: the IETF fields (draft-ietf-httpapi-ratelimit-headers,
    /// policy `ai`) and the widely used `X-RateLimit-*` (reset in seconds from now).
    pub fn headers(&self) -> [(&'static str, String); 5] {
        [
            (
                "RateLimit-Policy",
                format!("\"ai\";q={};w={}", self.limit, self.length),
            ),
            (
                "RateLimit",
                format!("\"ai\";r={};t={}", self.remaining, self.reset),
            ),
            ("X-RateLimit-Limit", self.limit.to_string()),
            ("X-RateLimit-Remaining", self.remaining.to_string()),
            ("X-RateLimit-Reset", self.reset.to_string()),
        ]
    }
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
            pacing: Pacing::Interactive,
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
    pub window: RateWindow,
}

#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum ReserveOutcome {
    Reserved(Reservation),
    RateLimited {
        retry_after: u64,
        window: RateWindow,
    },
    CreditLimitReached {
        needed: i64,
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

/// A reservation granted or refused, with the state of the window it was counted in (or refused
/// by); no window when something else refused it (credits, model, team, the database).
pub struct Reserved<T> {
    pub outcome: Result<T, ApiError>,
    pub window: Option<RateWindow>,
}

pub async fn reserve(config: &Config, request: &ReserveRequest<'_>) -> Reserved<Reservation> {
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
        "pacing": request.pacing,
    });
    let refused = |error| Reserved {
        outcome: Err(error),
        window: None,
    };
    let answer = match rpc(config, "reserve_ai_credits", params).await {
        Ok(answer) => answer,
        Err(error) => return refused(error),
    };
    match answer {
        ReserveOutcome::Reserved(reservation) => Reserved {
            window: Some(reservation.window),
            outcome: Ok(reservation),
        },
        ReserveOutcome::RateLimited {
            retry_after,
            window,
        } => Reserved {
            outcome: Err(ApiError::RateLimited { retry_after }),
            window: Some(window),
        },
        ReserveOutcome::CreditLimitReached {
            needed,
            remaining,
            limit,
            resets_at,
        } => refused(ApiError::CreditLimitReached {
            needed,
            remaining,
            limit,
            resets_at,
        }),
        ReserveOutcome::NotTeamMember => refused(ApiError::NotTeamMember),
        ReserveOutcome::ModelNotAllowed { provider, model } => refused(ApiError::Rejected {
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

/// The monthly reset: releases stale reservations; idempotent within a month.
pub async fn reset(config: &Config) -> Result<Value, ApiError> {
    rpc(config, "reset_ai_credits", json!({})).await
}
