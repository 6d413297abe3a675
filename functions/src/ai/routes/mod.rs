//! The AI endpoints: `POST /v1/ai/generate-text | generate-json | generate-image | stream-text`
//! (metered provider calls), `PUT /v1/ai/configs` (a user's or team's provider settings; the key
//! is encrypted here and never returned) and `POST /v1/cron/credits/reset` (pg_cron's monthly
//! call). The OpenAI-compatible surface is in `chat`.

pub mod assist;
pub mod chat;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::ai::call::{
    ask_images, begin, complete_single_turn, image_estimate, open_stream, settle, SingleTurn,
    StreamRequest,
};
use crate::ai::provider::{self, Capability, ImageOutput, ProviderKind};
use crate::ai::stream::Framing;
use crate::ai::{credits, keys, Consumed};
use crate::auth::{Caller, Cron};
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::{invalid, is_uuid, JsonBody};
use crate::http::{Request, Response};
use crate::infra::supabase::rpc;

pub(super) const MAX_PROMPT_CHARS: usize = 32_000;
const MAX_SYSTEM_CHARS: usize = 8_000;
const MAX_IMAGES: u64 = 4;

#[derive(Clone, Copy)]
enum TextFormat {
    Text,
    Json,
}

pub async fn generate_text(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    generate(cx, TextFormat::Text).await
}

pub async fn generate_json(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    generate(cx, TextFormat::Json).await
}

async fn generate(cx: &Cx<'_, Caller>, format: TextFormat) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let body = JsonBody::parse(&request.body)?;
    let prompt = body.required_text("prompt", MAX_PROMPT_CHARS)?;
    let system = body.optional_text("systemInstruction", MAX_SYSTEM_CHARS)?;
    let google_search = body.optional_bool("useGoogleSearch")?.unwrap_or(false);
    let (endpoint, json) = match format {
        TextFormat::Text => ("generate-text", false),
        TextFormat::Json => ("generate-json", true),
    };
    let turn = SingleTurn {
        endpoint,
        system,
        prompt,
        json,
        google_search,
    };
    let output = complete_single_turn(config, caller, team_id(request)?, scope, &turn).await?;
    Ok(match format {
        TextFormat::Text => {
            let mut answer = json!({ "text": output.text });
            if let Some(chunks) = output.grounding_chunks {
                answer["groundingChunks"] = chunks;
            }
            Response::json(200, &answer)
        }
        TextFormat::Json => {
            let data: Value =
                serde_json::from_str(&output.text).map_err(|_| ApiError::InvalidModelOutput)?;
            Response::json(200, &json!({ "data": data }))
        }
    })
}

/// `POST /v1/ai/stream-text`: the `generate-text` request, answered as Server-Sent Events.
pub async fn stream_text(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let body = JsonBody::parse(&request.body)?;
    let prompt = body.required_text("prompt", MAX_PROMPT_CHARS)?;
    let system = body.optional_text("systemInstruction", MAX_SYSTEM_CHARS)?;
    let google_search = body.optional_bool("useGoogleSearch")?.unwrap_or(false);
    let turn = SingleTurn {
        endpoint: "stream-text",
        system,
        prompt,
        json: false,
        google_search,
    };
    let call = turn.begin(config, caller, team_id(request)?, scope).await?;
    let model = call.model.clone();
    let messages = turn.messages();
    let text_prompt = turn.text_prompt(&model, &messages);
    let estimated_input_tokens = turn.estimated_input_tokens();
    let stream = StreamRequest {
        framing: Framing::TextEvents,
        estimated_input_tokens,
        prompt,
    };
    open_stream(config, call, &text_prompt, scope, stream).await
}

pub async fn generate_image(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let body = JsonBody::parse(&request.body)?;
    let prompt = body.required_text("prompt", MAX_PROMPT_CHARS)?;
    let count = body
        .optional_count("numberOfImages", 1, MAX_IMAGES)?
        .unwrap_or(1) as u32;
    let reserve = credits::ReserveRequest::new(
        caller.user.id.as_str(),
        team_id(request)?,
        "generate-image",
        Capability::Image,
        image_estimate(prompt, count),
        count,
    );
    let call = begin(config, scope, &reserve).await?;
    let (call, outcome, latency_ms) = ask_images(config, call, prompt, count, scope).await;
    let consumed = |output: &ImageOutput| Consumed {
        usage: output.usage,
        images: output.images.len() as u32,
    };
    settle(scope, config, &call, &outcome, consumed, latency_ms, prompt);
    let output = outcome?;
    Ok(Response::json(200, &json!({ "images": output.images })))
}

/// `PUT /v1/ai/configs`: creates or updates the caller's (or, with `teamId`, their team's)
/// configuration of one provider. `apiKey` sets the key, `null` removes it, absent keeps it.
pub async fn put_config(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let body = JsonBody::parse(&request.body)?;
    let provider_name = body.required_text("provider", 40)?;
    let provider = ProviderKind::parse(provider_name).ok_or_else(|| {
        invalid(
            "provider",
            "must be openai, xai, gemini or openai_compatible",
        )
    })?;
    let team_id = body.optional_uuid("teamId")?;
    let (api_key, clear_key) = match body.0.get("apiKey") {
        Some(Value::Null) => (None, true),
        None => (None, false),
        Some(_) => (Some(body.required_text("apiKey", 500)?), false),
    };
    let models = body.optional_object("models")?;
    let model = |capability: &str| -> Result<Option<&str>, ApiError> {
        match models.and_then(|models| models.get(capability)) {
            None | Some(Value::Null) => Ok(None),
            Some(model) => model_name(model, &format!("models.{capability}")).map(Some),
        }
    };
    let base_url = body.optional_text("baseUrl", 500)?;
    if let Some(url) = base_url {
        config
            .outbound
            .check(url)
            .map_err(|refusal| invalid("baseUrl", refusal.reason()))?;
    }
    if provider == ProviderKind::OpenaiCompatible && base_url.is_none() {
        return Err(invalid("baseUrl", "is required for openai_compatible"));
    }
    let user_id = caller.user.id.as_str();
    let config_id: String = rpc(
        config,
        "ai_provider_config_id",
        json!({ "user_id": user_id, "team_id": team_id, "provider": provider }),
    )
    .await?;
    let sealed = match api_key {
        Some(key) => {
            let key_ring = config.ai.key_ring.as_ref().ok_or_else(|| {
                ApiError::Misconfigured("AI_KEY_ENCRYPTION_KEYS is not configured".into())
            })?;
            Some(keys::seal(key_ring, key, &config_id, base_url))
        }
        None => None,
    };
    let params = json!({
        "user_id": user_id,
        "team_id": team_id,
        "config_id": config_id,
        "provider": provider,
        "encrypted_api_key": sealed.as_ref().map(|s| &s.ciphertext),
        "api_key_version": sealed.as_ref().map(|s| &s.version),
        "clear_key": clear_key,
        "enabled": body.optional_bool("enabled")?.unwrap_or(true),
        "text_model": model("text")?,
        "image_model": model("image")?,
        "chat_model": model("chat")?,
        "base_url": base_url,
        "make_active": body.optional_bool("active")?.unwrap_or(false),
    });
    match rpc(config, "save_ai_provider_config", params).await? {
        SaveOutcome::Saved { config } => Ok(Response::json(200, &config)),
        SaveOutcome::Forbidden => Err(ApiError::Forbidden),
        SaveOutcome::ApiKeyRequired { reason } => Err(invalid(
            "apiKey",
            match reason {
                KeyRequired::BaseUrlNeedsKey => {
                    "is required with a baseUrl: a base URL is only ever called with its configuration's own key"
                }
                KeyRequired::BaseUrlChanged => {
                    "must be sent again when baseUrl changes (or null to remove it): a stored key never follows its endpoint elsewhere"
                }
            },
        )),
    }
}

#[derive(Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum SaveOutcome {
    Saved {
        config: Value,
    },
    /// A plain member tried to configure the team's providers.
    Forbidden,
    ApiKeyRequired {
        reason: KeyRequired,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum KeyRequired {
    /// A base URL without a key, new or stored.
    BaseUrlNeedsKey,
    /// A new base URL for a stored key.
    BaseUrlChanged,
}

/// A model name from the request body (`field` names it), checked against the strict character
/// set (`provider::is_valid_model`).
pub(crate) fn model_name<'a>(value: &'a Value, field: &str) -> Result<&'a str, ApiError> {
    value
        .as_str()
        .filter(|model| provider::is_valid_model(model))
        .ok_or_else(|| invalid(field, provider::MODEL_NAME_RULE))
}

/// `POST /v1/cron/credits/reset`, called monthly by pg_cron with `Authorization: Bearer <CRON_SECRET>`.
pub async fn reset_credits(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    Ok(Response::json(200, &credits::reset(cx.config).await?))
}

/// The team whose credits pay for the call (`x-team-id`), else the caller's own.
pub(super) fn team_id(request: &Request) -> Result<Option<&str>, ApiError> {
    match request.headers.get("x-team-id") {
        None => Ok(None),
        Some(id) if is_uuid(id) => Ok(Some(id)),
        Some(_) => Err(invalid("x-team-id", "must be a team id (UUID)")),
    }
}
