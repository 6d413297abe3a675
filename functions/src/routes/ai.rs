//! The AI endpoints: `POST /v1/ai/generate-text | generate-json | generate-image | stream-text`
//! (metered provider calls), `PUT /v1/ai/configs` (a user's or team's provider settings; the key
//! is encrypted here and never returned) and `POST /v1/cron/credits/reset` (pg_cron's monthly
//! call). The OpenAI-compatible surface is in `chat`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::ai::provider::{
    self, Capability, ImageOutput, ImagePrompt, Message, ProviderError, ProviderKind, Role,
    TextOutput, TextPrompt, Usage,
};
use crate::ai::stream::{self, Framing};
use crate::ai::transport::{self, Opened};
use crate::ai::{self, credits, keys, Consumed, MeteredCall};
use crate::auth::{Caller, Cron};
use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::{Request, Response};
use crate::routes::is_uuid;
use crate::scope::Scope;

pub(super) const MAX_PROMPT_CHARS: usize = 32_000;
const MAX_SYSTEM_CHARS: usize = 8_000;
const MAX_IMAGES: u64 = 4;
/// The output budget of every text call: also what the reservation estimates.
pub(crate) const MAX_OUTPUT_TOKENS: u32 = 2048;

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
    let Cx {
        config,
        request,
        scope,
        ref caller,
        ..
    } = *cx;
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
    let output = complete_single_turn(config, caller, request, scope, &turn).await?;
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
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
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

/// A one-message text request, as generate-text, stream-text and the caption helpers send.
pub(super) struct SingleTurn<'a> {
    pub endpoint: &'a str,
    pub system: Option<&'a str>,
    pub prompt: &'a str,
    pub json: bool,
    pub google_search: bool,
}

impl SingleTurn<'_> {
    fn estimated_input_tokens(&self) -> u32 {
        estimate_tokens(self.prompt) + self.system.map_or(0, estimate_tokens)
    }

    /// The reservation of this turn: the caller's (or their team's) configured text model.
    pub(super) fn reservation<'r>(
        &'r self,
        caller: &'r Caller,
        team_id: Option<&'r str>,
    ) -> credits::ReserveRequest<'r> {
        credits::ReserveRequest::new(
            caller.user.id.as_str(),
            team_id,
            self.endpoint,
            Capability::Text,
            text_estimate(self.estimated_input_tokens(), MAX_OUTPUT_TOKENS),
            0,
        )
    }

    pub(super) async fn begin(
        &self,
        config: &Config,
        caller: &Caller,
        team_id: Option<&str>,
        scope: &Scope<'_>,
    ) -> Result<MeteredCall, ApiError> {
        begin(config, scope, &self.reservation(caller, team_id)).await
    }

    pub(super) fn messages(&self) -> [Message; 1] {
        [Message {
            role: Role::User,
            content: self.prompt.to_owned(),
        }]
    }

    pub(super) fn text_prompt<'a>(
        &'a self,
        model: &'a str,
        messages: &'a [Message],
    ) -> TextPrompt<'a> {
        TextPrompt {
            model,
            system: self.system,
            messages,
            json: self.json,
            google_search: self.google_search,
            max_output_tokens: MAX_OUTPUT_TOKENS,
        }
    }
}

/// Reserves, asks and settles a single-turn text request.
pub(super) async fn complete_single_turn(
    config: &Config,
    caller: &Caller,
    request: &Request,
    scope: &Scope<'_>,
    turn: &SingleTurn<'_>,
) -> Result<TextOutput, ApiError> {
    let call = turn.begin(config, caller, team_id(request)?, scope).await?;
    let model = call.model.clone();
    let messages = turn.messages();
    let (output, _) = complete(
        config,
        call,
        &turn.text_prompt(&model, &messages),
        scope,
        turn.prompt,
    )
    .await?;
    Ok(output)
}

/// The usage a text call is reserved for.
pub(super) fn text_estimate(input_tokens: u32, max_output_tokens: u32) -> Usage {
    Usage {
        input_tokens,
        output_tokens: max_output_tokens,
    }
}

/// `ai::begin`, timed as the request's `reserve` step.
pub(super) async fn begin(
    config: &Config,
    scope: &Scope<'_>,
    request: &credits::ReserveRequest<'_>,
) -> Result<MeteredCall, ApiError> {
    scope.timed("reserve", ai::begin(config, request)).await
}

/// The provider call of a metered text request, settled or released by its outcome after the
/// response. The model sent is `call`'s (a fallback provider brings its own), whatever
/// `text_prompt` names; it is returned with the output. `prompt` is what the request log keeps
/// when the subject opted in.
pub(super) async fn complete(
    config: &Config,
    call: MeteredCall,
    text_prompt: &TextPrompt<'_>,
    scope: &Scope<'_>,
    prompt: &str,
) -> Result<(TextOutput, String), ApiError> {
    let (call, outcome, latency_ms) = ask_text(config, call, text_prompt, scope).await;
    let consumed = |output: &TextOutput| Consumed {
        usage: output.usage,
        images: 0,
    };
    settle(scope, config, &call, &outcome, consumed, latency_ms, prompt);
    Ok((outcome?, call.model))
}

/// A metered provider call: `attempt` with retries and the fallback provider, then settlement
/// of what `consumed` reads from the output (or release on failure) after the response.
/// Returns the output and the call that produced it.
pub(super) async fn metered<T, Attempt, Outcome>(
    config: &Config,
    call: MeteredCall,
    capability: Capability,
    scope: &Scope<'_>,
    prompt: &str,
    attempt: Attempt,
    consumed: impl Fn(&T) -> Consumed,
) -> Result<(T, MeteredCall), ApiError>
where
    Attempt: Fn(MeteredCall) -> Outcome,
    Outcome: std::future::Future<Output = Result<T, ProviderError>>,
{
    let (call, outcome, latency_ms) = ask(config, call, capability, scope, attempt).await;
    settle(scope, config, &call, &outcome, consumed, latency_ms, prompt);
    Ok((outcome?, call))
}

/// Settles what `outcome` consumed, or releases the reservation when it failed, after the
/// response.
fn settle<T>(
    scope: &Scope<'_>,
    config: &Config,
    call: &MeteredCall,
    outcome: &Result<T, ProviderError>,
    consumed: impl Fn(&T) -> Consumed,
    latency_ms: u32,
    prompt: &str,
) {
    scope.record("provider", f64::from(latency_ms));
    let settlement = match outcome {
        Ok(output) => Ok(consumed(output)),
        Err(error) => Err(error.clone()),
    };
    ai::finish_later(scope, config, call, settlement, latency_ms, prompt);
}

/// A provider call with retries and the fallback provider: the call that answered (settlement
/// bills it), the outcome and the latency. Settling is the caller's.
pub(crate) async fn ask<T, Attempt, Outcome>(
    config: &Config,
    call: MeteredCall,
    capability: Capability,
    clock: &impl Clock,
    attempt: Attempt,
) -> (MeteredCall, Result<T, ProviderError>, u32)
where
    Attempt: Fn(MeteredCall) -> Outcome,
    Outcome: std::future::Future<Output = Result<T, ProviderError>>,
{
    let started_ms = clock.unix_millis();
    let (call, outcome) =
        ai::call_with_fallback(config, call, capability, since(clock, started_ms), attempt).await;
    (call, outcome, elapsed_ms(clock, started_ms))
}

/// `ask` for a text completion.
pub(crate) async fn ask_text(
    config: &Config,
    call: MeteredCall,
    text_prompt: &TextPrompt<'_>,
    clock: &impl Clock,
) -> (MeteredCall, Result<TextOutput, ProviderError>, u32) {
    let client = &transport::Client::new(config);
    ask(config, call, Capability::Text, clock, |call| async move {
        ask_text_once(client, &call, text_prompt).await
    })
    .await
}

/// One attempt of a text completion, with the call's provider and model.
pub(super) async fn ask_text_once(
    client: &transport::Client,
    call: &MeteredCall,
    text_prompt: &TextPrompt<'_>,
) -> Result<TextOutput, ProviderError> {
    let http_call = call.provider.text_call(
        &call.endpoint,
        &TextPrompt {
            model: &call.model,
            ..*text_prompt
        },
    );
    call.provider
        .parse_text(&transport::send(client, &http_call).await?)
}

/// `ask` for `count` images.
pub(crate) async fn ask_images(
    config: &Config,
    call: MeteredCall,
    prompt: &str,
    count: u32,
    clock: &impl Clock,
) -> (MeteredCall, Result<ImageOutput, ProviderError>, u32) {
    let client = &transport::Client::new(config).answering_up_to(transport::IMAGE_ANSWER_BYTES);
    ask(config, call, Capability::Image, clock, |call| async move {
        let http_call = call.provider.image_call(
            &call.endpoint,
            &ImagePrompt {
                model: &call.model,
                prompt,
                count,
            },
        );
        call.provider
            .parse_images(&transport::send(client, &http_call).await?)
    })
    .await
}

/// How a metered stream is sent, and what its settlement needs.
pub(super) struct StreamRequest<'a> {
    pub framing: Framing,
    pub estimated_input_tokens: u32,
    pub prompt: &'a str,
}

/// Opens the provider's stream and relays it. A refusal before the first byte releases the
/// reservation and is an ordinary error response; after it, errors end the stream. As in
/// `complete`, the model sent is `call`'s.
pub(super) async fn open_stream(
    config: &Config,
    call: MeteredCall,
    text_prompt: &TextPrompt<'_>,
    scope: &Scope<'_>,
    stream: StreamRequest<'_>,
) -> Result<Response, ApiError> {
    let started_ms = scope.unix_millis();
    let client = &transport::Client::new(config);
    // Retried (and fallen back) only while opening: nothing has reached the client yet.
    let (call, opened) = ai::call_with_fallback(
        config,
        call,
        Capability::Text,
        since(scope, started_ms),
        |call| async move {
            let http_call = call.provider.stream_text_call(
                &call.endpoint,
                &TextPrompt {
                    model: &call.model,
                    ..*text_prompt
                },
            );
            match transport::open_stream(client, &http_call).await? {
                Opened::Streaming(provider_bytes) => Ok(provider_bytes),
                Opened::Refused(reply) => Err(match call.provider.parse_text(&reply) {
                    Err(error) => error,
                    Ok(_) => {
                        ProviderError::Malformed(format!("a stream refused with {}", reply.status))
                    }
                }),
            }
        },
    )
    .await;
    let latency_ms = elapsed_ms(scope, started_ms);
    let refusal = match opened {
        Ok(provider_bytes) => {
            let StreamRequest {
                mut framing,
                estimated_input_tokens,
                prompt,
            } = stream;
            if let Framing::ChatCompletionChunks { model, .. } = &mut framing {
                model.clone_from(&call.model);
            }
            let (chunks, pump) = stream::metered(
                config.clone(),
                call,
                provider_bytes,
                framing,
                estimated_input_tokens,
                latency_ms,
                prompt.to_owned(),
            );
            scope.defer(pump);
            return Ok(Response::event_stream(chunks));
        }
        Err(error) => error,
    };
    ai::finish_later(
        scope,
        config,
        &call,
        Err(refusal.clone()),
        latency_ms,
        stream.prompt,
    );
    Err(refusal.into())
}

pub async fn generate_image(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let Cx {
        config,
        ref caller,
        request,
        scope,
        ..
    } = *cx;
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
    let Cx {
        config,
        ref caller,
        request,
        ..
    } = *cx;
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
    let config_id: String = credits::rpc(
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
    match credits::rpc(config, "save_ai_provider_config", params).await? {
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

pub(crate) use crate::ai::provider::estimate_tokens;

/// The output an image is reserved for: gpt-image models bill images as output tokens (4,160
/// for a 1024×1024 image at high quality), on top of the price per image.
pub(crate) const IMAGE_OUTPUT_TOKENS: u32 = 4_160;

/// The usage `count` images of `prompt` are reserved for.
pub(crate) fn image_estimate(prompt: &str, count: u32) -> Usage {
    Usage {
        input_tokens: estimate_tokens(prompt),
        output_tokens: IMAGE_OUTPUT_TOKENS * count,
    }
}

fn elapsed_ms(clock: &impl Clock, started_ms: f64) -> u32 {
    (clock.unix_millis() - started_ms).max(0.0) as u32
}

/// The time since `started_ms`, as the retry loop reads it.
fn since(clock: &impl Clock, started_ms: f64) -> impl Fn() -> std::time::Duration + '_ {
    move || std::time::Duration::from_millis(u64::from(elapsed_ms(clock, started_ms)))
}

pub(super) fn invalid(field: &str, reason: &str) -> ApiError {
    ApiError::InvalidRequest {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A JSON object request body with field accessors whose errors name the field.
pub(super) struct JsonBody(pub Map<String, Value>);

impl JsonBody {
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        // The size is capped before the body is read (`router::Route::max_body`).
        match serde_json::from_slice(bytes) {
            Ok(Value::Object(fields)) => Ok(Self(fields)),
            _ => Err(invalid("body", "must be a JSON object")),
        }
    }

    pub(super) fn optional_text(
        &self,
        field: &str,
        max_chars: usize,
    ) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text))
                if !text.trim().is_empty() && text.chars().count() <= max_chars =>
            {
                Ok(Some(text))
            }
            Some(_) => Err(invalid(
                field,
                &format!("must be a non-empty string of at most {max_chars} characters"),
            )),
        }
    }

    pub(super) fn required_text(&self, field: &str, max_chars: usize) -> Result<&str, ApiError> {
        self.optional_text(field, max_chars)?
            .ok_or_else(|| invalid(field, "is required"))
    }

    pub(super) fn optional_bool(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(invalid(field, "must be a boolean")),
        }
    }

    pub(super) fn optional_count(
        &self,
        field: &str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .filter(|count| (min..=max).contains(count))
                .map(Some)
                .ok_or_else(|| invalid(field, &format!("must be an integer from {min} to {max}"))),
        }
    }

    pub(super) fn optional_uuid(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.optional_text(field, 36)? {
            Some(id) if !is_uuid(id) => Err(invalid(field, "must be a UUID")),
            id => Ok(id),
        }
    }

    pub(super) fn optional_object(
        &self,
        field: &str,
    ) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(fields)) => Ok(Some(fields)),
            Some(_) => Err(invalid(field, "must be an object")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: ApiError) -> String {
        match error {
            ApiError::InvalidRequest { field, .. } => field,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn validation_errors_name_the_field() {
        let body = JsonBody::parse(
            br#"{"prompt": "", "numberOfImages": 9, "useGoogleSearch": "yes", "teamId": "x"}"#,
        )
        .unwrap();
        assert_eq!(
            field_of(body.required_text("prompt", 10).unwrap_err()),
            "prompt"
        );
        assert_eq!(
            field_of(body.required_text("missing", 10).unwrap_err()),
            "missing"
        );
        assert_eq!(
            field_of(body.optional_count("numberOfImages", 1, 4).unwrap_err()),
            "numberOfImages"
        );
        assert_eq!(
            field_of(body.optional_bool("useGoogleSearch").unwrap_err()),
            "useGoogleSearch"
        );
        assert_eq!(
            field_of(body.optional_uuid("teamId").unwrap_err()),
            "teamId"
        );
        assert_eq!(field_of(JsonBody::parse(b"[1]").err().unwrap()), "body");
        let long = JsonBody::parse(br#"{"prompt": "abcdefghijk"}"#).unwrap();
        assert_eq!(
            field_of(long.required_text("prompt", 10).unwrap_err()),
            "prompt"
        );
    }

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("11111111-1111-4111-8111-111111111111"));
        assert!(!is_uuid("11111111-1111-4111-8111-11111111111g"));
    }
}
