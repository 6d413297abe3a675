//! The OpenAI-compatible surface: `POST /v1/chat/completions` (whole or streamed) and
//! `GET /v1/models`, so any OpenAI SDK works with base URL = `{worker}/v1` and API key = the
//! caller's Supabase access token. Calls are metered like every other AI call; errors keep the
//! worker's envelope, whose `error.message` OpenAI's SDKs read.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::ai::provider::{Capability, Message, ProviderKind, Role, TextPrompt, Usage};
use crate::ai::stream::{openai_usage, Framing};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::Response;
use crate::infra::clock::Clock;
use crate::infra::supabase;

use crate::ai::credits::ReserveRequest;

use crate::ai::call::{
    begin, complete, estimate_tokens, open_stream, text_estimate, StreamRequest, MAX_OUTPUT_TOKENS,
};
use crate::http::extract::{invalid, JsonBody};

use super::{model_name, team_id, MAX_PROMPT_CHARS};

const MAX_MESSAGES: usize = 100;

/// A validated chat completion request.
#[derive(Debug, PartialEq)]
struct ChatRequest {
    /// The model asked for; absent means the caller's configured (or the default) chat model.
    model: Option<String>,
    /// `system` and `developer` messages, joined.
    system: Option<String>,
    messages: Vec<Message>,
    stream: bool,
    include_usage: bool,
    json: bool,
    max_output_tokens: u32,
}

impl ChatRequest {
    fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = JsonBody::parse(bytes)?;
        let model = match body.0.get("model") {
            None | Some(Value::Null) => None,
            Some(model) => Some(model_name(model, "model")?.to_owned()),
        };
        let raw_messages = match body.0.get("messages") {
            Some(Value::Array(messages)) if (1..=MAX_MESSAGES).contains(&messages.len()) => {
                messages
            }
            _ => {
                return Err(invalid(
                    "messages",
                    &format!("must be an array of 1 to {MAX_MESSAGES} messages"),
                ))
            }
        };
        let mut system = Vec::new();
        let mut messages = Vec::new();
        let mut total_chars = 0;
        for (index, message) in raw_messages.iter().enumerate() {
            let field = |name: &str| format!("messages[{index}].{name}");
            let content = message_text(message.get("content")).ok_or_else(|| {
                invalid(
                    &field("content"),
                    "must be a string or an array of text parts",
                )
            })?;
            total_chars += content.chars().count();
            if total_chars > MAX_PROMPT_CHARS {
                return Err(invalid(
                    "messages",
                    &format!("must hold at most {MAX_PROMPT_CHARS} characters in all"),
                ));
            }
            let role = match message.get("role").and_then(Value::as_str) {
                Some("system" | "developer") => {
                    system.push(content);
                    continue;
                }
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                _ => {
                    return Err(invalid(
                        &field("role"),
                        "must be system, developer, user or assistant",
                    ))
                }
            };
            messages.push(Message { role, content });
        }
        if !messages.iter().any(|message| message.role == Role::User) {
            return Err(invalid("messages", "must contain a user message"));
        }
        // Refused rather than ignored: a client that offers tools expects the model may call them.
        for field in ["tools", "functions"] {
            if body.0.get(field).is_some_and(|tools| match tools {
                Value::Array(tools) => !tools.is_empty(),
                other => !other.is_null(),
            }) {
                return Err(invalid(
                    field,
                    "tool calling is not supported by this endpoint",
                ));
            }
        }
        let stream = body.optional_bool("stream")?.unwrap_or(false);
        let include_usage = match body.optional_object("stream_options")? {
            Some(options) => JsonBody(options.clone())
                .optional_bool("include_usage")?
                .unwrap_or(false),
            None => false,
        };
        let json = match body
            .optional_object("response_format")?
            .map(|format| format.get("type"))
        {
            None => false,
            Some(Some(Value::String(kind))) if kind == "text" => false,
            Some(Some(Value::String(kind))) if kind == "json_object" => true,
            Some(_) => {
                return Err(invalid(
                    "response_format.type",
                    "must be text or json_object",
                ))
            }
        };
        let max_output_tokens = ["max_completion_tokens", "max_tokens"]
            .iter()
            .map(|field| body.optional_count(field, 1, u64::from(MAX_OUTPUT_TOKENS)))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .next()
            .map_or(MAX_OUTPUT_TOKENS, |tokens| tokens as u32);
        Ok(Self {
            model,
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            messages,
            stream,
            include_usage,
            json,
            max_output_tokens,
        })
    }

    /// The latest user message: what the request log keeps when the subject opted in.
    fn last_user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|message| message.role == Role::User)
            .map_or("", |message| &message.content)
    }
}

/// A message's text: a string, or OpenAI's content parts of type `text`.
fn message_text(content: Option<&Value>) -> Option<String> {
    match content? {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => parts
            .iter()
            .map(|part| {
                match (
                    part.get("type").and_then(Value::as_str),
                    part.get("text").and_then(Value::as_str),
                ) {
                    (Some("text"), Some(text)) => Some(text),
                    _ => None,
                }
            })
            .collect::<Option<Vec<_>>>()
            .map(|texts| texts.concat()),
        _ => None,
    }
}

pub async fn completions(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let chat = ChatRequest::parse(&request.body)?;
    let estimated_input_tokens = chat
        .messages
        .iter()
        .map(|message| estimate_tokens(&message.content))
        .sum::<u32>()
        + chat.system.as_deref().map_or(0, estimate_tokens);
    let reserve = ReserveRequest {
        model: chat.model.as_deref(),
        ..ReserveRequest::new(
            caller.user.id.as_str(),
            team_id(request)?,
            "chat-completions",
            Capability::Text,
            text_estimate(estimated_input_tokens, chat.max_output_tokens),
            0,
        )
    };
    let call = begin(config, scope, &reserve).await?;
    let model = call.model.clone();
    let text_prompt = TextPrompt {
        model: &model,
        system: chat.system.as_deref(),
        messages: &chat.messages,
        json: chat.json,
        google_search: false,
        max_output_tokens: chat.max_output_tokens,
    };
    let id = format!("chatcmpl-{}", call.request_id);
    let created = scope.unix_seconds();
    if chat.stream {
        let framing = Framing::ChatCompletionChunks {
            id,
            created,
            model: model.clone(),
            include_usage: chat.include_usage,
        };
        let stream = StreamRequest {
            framing,
            estimated_input_tokens,
            prompt: chat.last_user_text(),
        };
        return open_stream(config, call, &text_prompt, scope, stream).await;
    }
    let (output, answered_by) =
        complete(config, call, &text_prompt, scope, chat.last_user_text()).await?;
    Ok(Response::json(
        200,
        &completion(&id, created, &answered_by, &output.text, output.usage),
    ))
}

fn completion(id: &str, created: i64, model: &str, text: &str, usage: Usage) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text, "refusal": null },
            "finish_reason": "stop",
        }],
        "usage": openai_usage(usage),
    })
}

/// `GET /v1/models`: the default chat model of every provider the platform holds a key for,
/// then the models of the caller's enabled configurations (their own and their teams', as RLS
/// shows them), each once.
pub async fn models(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, ..) = cx.parts();
    #[derive(Deserialize)]
    struct Configured {
        provider: ProviderKind,
        text_model: Option<String>,
        image_model: Option<String>,
        chat_model: Option<String>,
    }
    let query = supabase::user_client(config, &caller.token)
        .from("ai_provider_configs")
        .select("provider,text_model,image_model,chat_model")
        .eq("enabled", "true")
        .order("created_at");
    let configured: Vec<Configured> = serde_json::from_str(&supabase::send(query).await?)
        .map_err(|error| ApiError::Upstream(format!("ai_provider_configs unparsable: {error}")))?;
    let platform = ProviderKind::ALL
        .into_iter()
        .filter(|kind| config.ai.platform_key(*kind).is_some())
        .map(|kind| (kind, kind.default_model(Capability::Chat).to_owned()));
    let own = configured.into_iter().flat_map(|row| {
        [row.chat_model, row.text_model, row.image_model]
            .into_iter()
            .flatten()
            .map(move |model| (row.provider, model))
    });
    let mut seen = std::collections::HashSet::new();
    let data: Vec<Value> = platform
        .chain(own)
        .filter(|(_, model)| seen.insert(model.clone()))
        .map(|(kind, model)| json!({ "id": model, "object": "model", "created": 0, "owned_by": kind.as_str() }))
        .collect();
    Ok(Response::json(
        200,
        &json!({ "object": "list", "data": data }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        ChatRequest::parse(body.to_string().as_bytes())
    }

    fn field_of(error: ApiError) -> String {
        match error {
            ApiError::InvalidRequest { field, .. } => field,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn reads_what_openai_sdks_send() {
        let chat = parse(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "again"},
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "tools": [],
            "max_tokens": 50,
            "temperature": 0.2,
        }))
        .unwrap();
        assert_eq!(chat.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(chat.system.as_deref(), Some("be brief"));
        assert_eq!(chat.messages.len(), 3);
        assert_eq!(chat.messages[0].content, "hi there");
        assert_eq!(chat.last_user_text(), "again");
        assert!(chat.stream && chat.include_usage && !chat.json);
        assert_eq!(chat.max_output_tokens, 50);

        let plain = parse(json!({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})).unwrap();
        assert!(plain.json && !plain.stream && plain.model.is_none());
        assert_eq!(plain.max_output_tokens, MAX_OUTPUT_TOKENS);
    }

    #[test]
    fn invalid_requests_name_the_field() {
        let user = json!({"role": "user", "content": "x"});
        for (body, field) in [
            (json!({}), "messages"),
            (json!({"messages": []}), "messages"),
            (
                json!({"messages": [{"role": "system", "content": "only system"}]}),
                "messages",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"messages": [user, {"role": "user", "content": 5}]}),
                "messages[1].content",
            ),
            (json!({"messages": [user], "stream": "yes"}), "stream"),
            (
                json!({"messages": [user], "tools": [{"type": "function", "function": {"name": "f"}}]}),
                "tools",
            ),
            (
                json!({"messages": [user], "functions": [{"name": "f"}]}),
                "functions",
            ),
            (json!({"messages": [user], "max_tokens": 0}), "max_tokens"),
            (
                json!({"messages": [user], "response_format": {"type": "xml"}}),
                "response_format.type",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x".repeat(MAX_PROMPT_CHARS + 1)}]}),
                "messages",
            ),
        ] {
            assert_eq!(field_of(parse(body.clone()).unwrap_err()), field, "{body}");
        }
    }

    #[test]
    fn a_completion_has_openais_shape() {
        let body = completion(
            "chatcmpl-1",
            7,
            "m",
            "hello",
            Usage {
                input_tokens: 2,
                output_tokens: 3,
            },
        );
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["choices"][0]["message"]["content"], "hello");
        assert_eq!(body["usage"]["total_tokens"], 5);
    }
}
