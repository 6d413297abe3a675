//! The credit RPCs (see the `ai` migration): one round trip reserves an estimate and takes a
//! slot in the caller's rate window; `settle` charges what the provider reported, `release`
//! returns the reservation after a failure. Called as the service role with the user id the
//! worker verified, never one the client sent.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::supabase;

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

/// Calls a `public` RPC as the service role and parses the value it returned.
pub async fn rpc<T: DeserializeOwned>(
    config: &Config,
    function: &str,
    params: Value,
) -> Result<T, ApiError> {
    let call = supabase::service_role_client(config)
        .rpc(function, without_null_arguments(params).to_string());
    let body = supabase::send(call).await?;
    returned_value(function, &body)
        .map_err(|error| ApiError::Upstream(format!("{function} answer unparsable: {error}")))
}

/// Leaves null arguments out, so the SQL default (null) applies: PostgREST-compatible servers
/// differ in how they bind a JSON null (postrust binds it as an empty string).
fn without_null_arguments(params: Value) -> Value {
    match params {
        Value::Object(arguments) => Value::Object(
            arguments
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .collect(),
        ),
        other => other,
    }
}

/// The value a function returned. PostgREST sends it as is; postrust sends a one-element array
/// of `{"<function>": value}` for a scalar (jsonb included) and of the row for a composite.
/// A one-element array is taken as it is first: it may be a jsonb array PostgREST sent.
fn returned_value<T: DeserializeOwned>(function: &str, body: &str) -> Result<T, serde_json::Error> {
    match serde_json::from_str(body)? {
        Value::Array(mut rows) if rows.len() == 1 => match rows.remove(0) {
            Value::Object(mut row) if row.len() == 1 && row.contains_key(function) => {
                serde_json::from_value(row.remove(function).unwrap_or_default())
            }
            row => {
                let rows = Value::Array(vec![row]);
                T::deserialize(&rows).or_else(|_| T::deserialize(&rows[0]))
            }
        },
        value => serde_json::from_value(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_arguments_are_left_out() {
        let params = json!({"user_id": "u", "team_id": null, "images": 0, "clear_key": false});
        assert_eq!(
            without_null_arguments(params),
            json!({"user_id": "u", "images": 0, "clear_key": false})
        );
        assert_eq!(without_null_arguments(json!({})), json!({}));
    }

    #[test]
    fn reads_a_returned_value_as_postgrest_or_postrust_sends_it() {
        let outcome = r#"{"status": "rate_limited", "retry_after": 12}"#;
        for body in [
            outcome.to_owned(),
            format!(r#"[{{"reserve_ai_credits": {outcome}}}]"#),
        ] {
            let outcome: ReserveOutcome = returned_value("reserve_ai_credits", &body).unwrap();
            assert!(matches!(
                outcome,
                ReserveOutcome::RateLimited { retry_after: 12 }
            ));
        }
        assert!(
            returned_value::<bool>("release_ai_credits", r#"[{"release_ai_credits": true}]"#)
                .unwrap()
        );
        assert_eq!(
            returned_value::<String>("config_id", "\"id\"").unwrap(),
            "id"
        );
        assert_eq!(
            returned_value::<Value>("f", "[1, 2]").unwrap(),
            json!([1, 2]),
            "a longer array is a value of its own"
        );
        assert_eq!(returned_value::<Value>("f", "[]").unwrap(), json!([]));
        #[derive(Debug, serde::Deserialize, PartialEq)]
        struct Claimed {
            id: u32,
        }
        assert_eq!(
            returned_value::<Vec<Claimed>>("claim", r#"[{"id": 7}]"#).unwrap(),
            [Claimed { id: 7 }],
            "PostgREST's jsonb array of one element stays an array"
        );
        assert_eq!(
            returned_value::<Vec<Claimed>>("claim", r#"[{"claim": [{"id": 7}]}]"#).unwrap(),
            [Claimed { id: 7 }]
        );
        assert_eq!(
            returned_value::<Claimed>("save", r#"[{"id": 1}]"#).unwrap(),
            Claimed { id: 1 },
            "postrust's composite row is unwrapped from its array"
        );
    }
}
