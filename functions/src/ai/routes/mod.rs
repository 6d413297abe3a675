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
use crate::ai::provider::{Capability, ModelName, ProviderKind};
use crate::ai::stream::Framing;
use crate::ai::{credits, keys, Consumed};
use crate::auth::{Caller, Cron};
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::invalid;
use crate::http::spelling::TEAM_HEADER;
use crate::http::{camel_case_keys, Request, Response};
use crate::ids::TeamId;
use crate::infra::supabase::rpc;
use crate::valid::{present, Count, Text};

pub(super) const MAX_PROMPT_CHARS: usize = 32_000;
/// A prompt, or the content an assistant works on.
pub(super) type Prompt = Text<MAX_PROMPT_CHARS>;
const MAX_SYSTEM_CHARS: usize = 8_000;
const MAX_IMAGES: u64 = 4;

/// `generate-text`, `generate-json` and `stream-text`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TextRequest {
    prompt: Prompt,
    system_instruction: Option<Text<MAX_SYSTEM_CHARS>>,
    use_google_search: Option<bool>,
}

impl TextRequest {
    fn turn(&self, endpoint: &'static str, json: bool) -> SingleTurn<'_> {
        SingleTurn {
            endpoint,
            system: self.system_instruction.as_deref(),
            prompt: &self.prompt,
            json,
            google_search: self.use_google_search.unwrap_or(false),
        }
    }
}

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
    let body: TextRequest = cx.body()?;
    let turn = match format {
        TextFormat::Text => body.turn("generate-text", false),
        TextFormat::Json => body.turn("generate-json", true),
    };
    let team = team_id(request)?;
    let team = team.as_ref().map(TeamId::as_str);
    let answer = complete_single_turn(config, caller, team, scope, &turn, |output| match format {
        TextFormat::Text => {
            let mut answer = json!({ "text": output.text });
            if let Some(chunks) = &output.grounding_chunks {
                answer["groundingChunks"] = chunks.clone();
            }
            Ok(answer)
        }
        TextFormat::Json => serde_json::from_str(&output.text)
            .map(|data: Value| json!({ "data": data }))
            .map_err(|_| ApiError::InvalidModelOutput),
    })
    .await?;
    Ok(Response::json(200, &answer))
}

/// `POST /v1/ai/stream-text`: the `generate-text` request, answered as Server-Sent Events.
pub async fn stream_text(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let body: TextRequest = cx.body()?;
    let turn = body.turn("stream-text", false);
    let team = team_id(request)?;
    let call = turn
        .begin(config, caller, team.as_ref().map(TeamId::as_str), scope)
        .await?;
    let model = call.model.clone();
    let messages = turn.messages();
    let text_prompt = turn.text_prompt(&model, &messages);
    let estimated_input_tokens = turn.estimated_input_tokens();
    let stream = StreamRequest {
        framing: Framing::TextEvents,
        estimated_input_tokens,
        prompt: &body.prompt,
    };
    open_stream(config, call, &text_prompt, scope, stream).await
}

pub async fn generate_image(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ImageRequest {
        prompt: Prompt,
        number_of_images: Option<Count<1, MAX_IMAGES>>,
    }
    let (config, caller, request, scope) = cx.parts();
    let body: ImageRequest = cx.body()?;
    let prompt = &body.prompt;
    let count = body.number_of_images.map_or(1, Count::get) as u32;
    let team = team_id(request)?;
    let reserve = credits::ReserveRequest::new(
        caller.user.id.as_str(),
        team.as_ref().map(TeamId::as_str),
        "generate-image",
        Capability::Image,
        image_estimate(prompt, count),
        count,
    );
    let call = begin(config, scope, &reserve).await?;
    let (call, outcome, latency_ms) = ask_images(config, call, prompt, count, scope).await;
    let answered = outcome.map_err(ApiError::from).map(|output| {
        let consumed = Consumed {
            usage: output.usage,
            images: output.images.len() as u32,
        };
        (output.images, consumed)
    });
    settle(scope, config, &call, &answered, latency_ms, prompt);
    let (images, _) = answered?;
    Ok(Response::json(200, &json!({ "images": images })))
}

/// `PUT /v1/ai/configs`: creates or updates the caller's (or, with `teamId`, their team's)
/// configuration of one provider. `apiKey` sets the key, `null` removes it, absent keeps it.
pub async fn put_config(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    let body: ConfigRequest = cx.body()?;
    let (provider, team_id) = (body.provider, body.team_id.as_ref());
    let (api_key, clear_key) = match &body.api_key {
        Some(Some(key)) => (Some(key), false),
        Some(None) => (None, true),
        None => (None, false),
    };
    let base_url = body.base_url.as_deref();
    if let Some(url) = base_url {
        config
            .outbound
            .check(url)
            .map_err(|refusal| invalid("baseUrl", refusal.reason()))?;
    }
    if provider == ProviderKind::OpenaiCompatible && base_url.is_none() {
        return Err(invalid("baseUrl", "is required for openai_compatible"));
    }
    let models = body.models.unwrap_or_default();
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
        "enabled": body.enabled.unwrap_or(true),
        "text_model": models.text,
        "image_model": models.image,
        "chat_model": models.chat,
        "base_url": base_url,
        "make_active": body.active.unwrap_or(false),
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

/// `PUT /v1/ai/configs`' body. `apiKey`: absent keeps the stored key, `null` removes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigRequest {
    provider: ProviderKind,
    team_id: Option<TeamId>,
    #[serde(default, deserialize_with = "present")]
    api_key: Option<Option<Text<500>>>,
    models: Option<Models>,
    base_url: Option<Text<500>>,
    enabled: Option<bool>,
    active: Option<bool>,
}

/// The model of each capability; absent ones keep the provider's default.
#[derive(Default, Deserialize)]
struct Models {
    text: Option<ModelName>,
    image: Option<ModelName>,
    chat: Option<ModelName>,
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

/// `POST /v1/cron/credits/reset`, called monthly by pg_cron with `Authorization: Bearer <CRON_SECRET>`.
pub async fn reset_credits(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let report = credits::reset(cx.config).await?;
    Ok(Response::json(200, &camel_case_keys(report)))
}

/// The team whose credits pay for the call (`x-team-id`), else the caller's own.
pub(super) fn team_id(request: &Request) -> Result<Option<TeamId>, ApiError> {
    let header = request.headers.get(TEAM_HEADER);
    header
        .map(|id| {
            id.parse()
                .map_err(|_| invalid(TEAM_HEADER, "must be a team id (UUID)"))
        })
        .transpose()
}
