//! The metered AI call: reserve credits, ask the provider (with retries and the fallback
//! provider), then settle what the answer consumed, or release the reservation, after the
//! response. The AI routes, the assistants, moderation and the job executors all call through
//! here.

use serde_json::{Map, Value};

use crate::ai::provider::{
    Capability, ImageOutput, ImagePrompt, Message, ProviderError, Role, TextOutput, TextPrompt,
    Usage,
};
use crate::ai::stream::{self, Framing};
use crate::ai::transport::{self, Opened};
use crate::ai::{self, credits, Consumed, MeteredCall};
use crate::auth::Caller;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::Response;
use crate::infra::clock::Clock;
use crate::scope::Scope;

/// The output budget of every text call: also what the reservation estimates.
pub(crate) const MAX_OUTPUT_TOKENS: u32 = 2048;

/// A one-message text request, as generate-text, stream-text and the caption helpers send.
pub(crate) struct SingleTurn<'a> {
    pub endpoint: &'a str,
    pub system: Option<&'a str>,
    pub prompt: &'a str,
    pub json: bool,
    pub google_search: bool,
}

impl SingleTurn<'_> {
    pub(crate) fn estimated_input_tokens(&self) -> u32 {
        estimate_tokens(self.prompt) + self.system.map_or(0, estimate_tokens)
    }

    /// The reservation of this turn: the caller's (or their team's) configured text model.
    pub(crate) fn reservation<'r>(
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

    pub(crate) async fn begin(
        &self,
        config: &Config,
        caller: &Caller,
        team_id: Option<&str>,
        scope: &Scope<'_>,
    ) -> Result<MeteredCall, ApiError> {
        begin(config, scope, &self.reservation(caller, team_id)).await
    }

    pub(crate) fn messages(&self) -> [Message; 1] {
        [Message {
            role: Role::User,
            content: self.prompt.to_owned(),
        }]
    }

    pub(crate) fn text_prompt<'a>(
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

/// Reserves, asks and settles a single-turn text request, metered to the caller or their team
/// `team_id`; `read` checks the model's answer and makes the caller's of it (see `complete`).
pub(crate) async fn complete_single_turn<T>(
    config: &Config,
    caller: &Caller,
    team_id: Option<&str>,
    scope: &Scope<'_>,
    turn: &SingleTurn<'_>,
    read: impl FnOnce(&TextOutput) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let call = turn.begin(config, caller, team_id, scope).await?;
    let model = call.model.clone();
    let messages = turn.messages();
    let text_prompt = turn.text_prompt(&model, &messages);
    let (answer, _) = complete(config, call, &text_prompt, scope, turn.prompt, read).await?;
    Ok(answer)
}

/// The usage a text call is reserved for.
pub(crate) fn text_estimate(input_tokens: u32, max_output_tokens: u32) -> Usage {
    Usage {
        input_tokens,
        output_tokens: max_output_tokens,
    }
}

/// `ai::begin`, timed as the request's `reserve` step. An interactive call's window goes out
/// with the answer as rate-limit headers, so a client can pace itself.
pub(crate) async fn begin(
    config: &Config,
    scope: &Scope<'_>,
    request: &credits::ReserveRequest<'_>,
) -> Result<MeteredCall, ApiError> {
    let reserved = scope.timed("reserve", ai::begin(config, request)).await;
    if let (Some(window), credits::Pacing::Interactive) = (reserved.window, request.pacing) {
        scope.set_headers(window.headers());
    }
    reserved.outcome
}

/// The provider call of a metered text request; `read` checks the model's answer and makes
/// the caller's answer of it. Settled after the response when `read` accepted it, else (like
/// any failure) released. The model sent is `call`'s (a fallback provider brings its own),
/// whatever `text_prompt` names; it is returned with the answer. `prompt` is what the request
/// log keeps when the subject opted in.
pub(crate) async fn complete<T>(
    config: &Config,
    call: MeteredCall,
    text_prompt: &TextPrompt<'_>,
    scope: &Scope<'_>,
    prompt: &str,
    read: impl FnOnce(&TextOutput) -> Result<T, ApiError>,
) -> Result<(T, String), ApiError> {
    let client = &transport::Client::new(config);
    let (answer, call) = metered(
        config,
        call,
        Capability::Text,
        scope,
        prompt,
        |call| async move { ask_text_once(client, &call, text_prompt).await },
        |output| {
            let consumed = Consumed {
                usage: output.usage,
                images: 0,
            };
            Ok((read(&output)?, consumed))
        },
    )
    .await?;
    Ok((answer, call.model))
}

/// What a metered call answers its caller, with what it consumed; or the error they get, for
/// which they are not charged.
pub(crate) type Answer<T> = Result<(T, Consumed), ApiError>;

/// A metered provider call: `attempt` with retries and the fallback provider; `answer` makes
/// the caller's answer of its output (checking it) and says what it consumed. Settled after
/// the response, or released when the caller gets an error. Returns the answer and the call
/// that produced it.
pub(crate) async fn metered<T, R, Attempt, Outcome>(
    config: &Config,
    call: MeteredCall,
    capability: Capability,
    scope: &Scope<'_>,
    prompt: &str,
    attempt: Attempt,
    answer: impl FnOnce(T) -> Answer<R>,
) -> Result<(R, MeteredCall), ApiError>
where
    Attempt: Fn(MeteredCall) -> Outcome,
    Outcome: std::future::Future<Output = Result<T, ProviderError>>,
{
    let (call, outcome, latency_ms) = ask(config, call, capability, scope, attempt).await;
    let answered = outcome.map_err(ApiError::from).and_then(answer);
    settle(scope, config, &call, &answered, latency_ms, prompt);
    let (answer, _) = answered?;
    Ok((answer, call))
}

/// Settles what the caller's answer consumed, or releases the reservation when they got an
/// error, after the response.
pub(crate) fn settle<T>(
    scope: &Scope<'_>,
    config: &Config,
    call: &MeteredCall,
    answered: &Answer<T>,
    latency_ms: u32,
    prompt: &str,
) {
    scope.record("provider", f64::from(latency_ms));
    let outcome = match answered {
        Ok((_, consumed)) => Ok(*consumed),
        Err(error) => Err(error.code()),
    };
    ai::finish_later(scope, config, call, outcome, latency_ms, prompt);
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
pub(crate) async fn ask_text_once(
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
pub(crate) struct StreamRequest<'a> {
    pub framing: Framing,
    pub estimated_input_tokens: u32,
    pub prompt: &'a str,
}

/// Opens the provider's stream and relays it. A refusal before the first byte releases the
/// reservation and is an ordinary error response; after it, errors end the stream. As in
/// `complete`, the model sent is `call`'s.
pub(crate) async fn open_stream(
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
        Err(refusal.code()),
        latency_ms,
        stream.prompt,
    );
    Err(refusal.into())
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

/// `field` of the model's object as a list of 1 to `max` non-empty strings.
pub(crate) fn string_list(
    object: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Vec<String>, ApiError> {
    let items = object
        .get(field)
        .and_then(Value::as_array)
        .ok_or(ApiError::InvalidModelOutput)?;
    let strings: Option<Vec<String>> = items
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let mut list = strings
        .filter(|list| !list.is_empty())
        .ok_or(ApiError::InvalidModelOutput)?;
    list.truncate(max);
    Ok(list)
}

/// The most items a list in a model's answer keeps (concerns, actions, categories).
pub(crate) const MAX_LIST_ITEMS: usize = 20;

/// `field` of the model's object as a list of at most `max` non-empty strings; absent or empty
/// is an empty list.
pub(crate) fn optional_string_list(
    object: &Map<String, Value>,
    field: &str,
    max: usize,
) -> Result<Vec<String>, ApiError> {
    match object.get(field) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) if items.is_empty() => Ok(Vec::new()),
        Some(_) => string_list(object, field, max),
    }
}

/// `field` of the model's object as a non-empty string, trimmed.
pub(crate) fn text_field<'a>(
    object: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, ApiError> {
    object
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .ok_or(ApiError::InvalidModelOutput)
}
