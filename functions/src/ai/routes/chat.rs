//! The OpenAI-compatible surface: `POST /v1/chat/completions` (whole or streamed) and
//! `GET /v1/models`, so any OpenAI SDK works with base URL = `{worker}/v1` and API key = the
//! caller's Supabase access token. Calls are metered like every other AI call; errors take
//! OpenAI's shape (`ApiError::to_openai_response`), so OpenAI's SDKs raise them as their own.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::ai::provider::{
    Capability, Message, ModelName, ProviderKind, Role, TextOutput, TextPrompt, Usage,
};
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
use crate::http::extract::invalid;
use crate::ids::TeamId;
use crate::valid::{Count, List};

use super::{team_id, MAX_PROMPT_CHARS};

const MAX_MESSAGES: usize = 100;

/// The request as OpenAI's SDKs send it. Fields this endpoint does not use (`temperature`,
/// `user`, …) are accepted and ignored, as OpenAI-compatible servers do.
#[derive(Deserialize)]
struct ChatBody {
    model: Option<ModelName>,
    messages: List<ChatMessage, 1, MAX_MESSAGES>,
    tools: Option<Value>,
    functions: Option<Value>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    response_format: Option<ResponseFormat>,
    max_completion_tokens: Option<OutputTokens>,
    max_tokens: Option<OutputTokens>,
}

type OutputTokens = Count<1, { MAX_OUTPUT_TOKENS as u64 }>;

#[derive(Deserialize)]
struct ChatMessage {
    role: ChatRole,
    content: Content,
}

#[derive(Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChatRole {
    System,
    Developer,
    User,
    Assistant,
}

/// A message's text: a string, or OpenAI's content parts, each of type `text`.
#[derive(Deserialize)]
#[serde(try_from = "Value")]
struct Content(String);

impl TryFrom<Value> for Content {
    type Error = &'static str;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Sent {
            Text(String),
            Parts(Vec<TextPart>),
        }
        #[derive(Deserialize)]
        struct TextPart {
            #[serde(rename = "type")]
            _kind: TextKind,
            text: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum TextKind {
            Text,
        }
        match serde_json::from_value(value) {
            Ok(Sent::Text(text)) => Ok(Self(text)),
            Ok(Sent::Parts(parts)) => Ok(Self(parts.into_iter().map(|part| part.text).collect())),
            Err(_) => Err("must be a string or an array of text parts"),
        }
    }
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

#[derive(Deserialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: FormatKind,
}

#[derive(PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FormatKind {
    Text,
    JsonObject,
}

/// A validated chat completion request.
#[derive(Debug, PartialEq)]
struct ChatRequest {
    /// The model asked for; absent means the caller's configured (or the default) chat model.
    model: Option<ModelName>,
    /// `system` and `developer` messages, joined.
    system: Option<String>,
    messages: Vec<Message>,
    stream: bool,
    include_usage: bool,
    json: bool,
    max_output_tokens: u32,
}

impl ChatRequest {
    /// The rules across fields: the size of all messages together, a user message among them,
    /// no tools offered.
    fn from_body(body: ChatBody) -> Result<Self, ApiError> {
        let total_chars: usize = body
            .messages
            .iter()
            .map(|m| m.content.0.chars().count())
            .sum();
        if total_chars > MAX_PROMPT_CHARS {
            return Err(invalid(
                "messages",
                &format!("must hold at most {MAX_PROMPT_CHARS} characters in all"),
            ));
        }
        let (system, messages): (Vec<_>, Vec<_>) =
            body.messages.into_vec().into_iter().partition(|message| {
                matches!(message.role, ChatRole::System | ChatRole::Developer)
            });
        if !messages
            .iter()
            .any(|message| message.role == ChatRole::User)
        {
            return Err(invalid("messages", "must contain a user message"));
        }
        // Refused rather than ignored: a client that offers tools expects the model may call them.
        for (field, tools) in [("tools", &body.tools), ("functions", &body.functions)] {
            if tools
                .as_ref()
                .is_some_and(|tools| tools != &Value::Array(vec![]))
            {
                return Err(invalid(
                    field,
                    "tool calling is not supported by this endpoint",
                ));
            }
        }
        let system: Vec<String> = system
            .into_iter()
            .map(|message| message.content.0)
            .collect();
        Ok(Self {
            model: body.model,
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            messages: messages.into_iter().map(Message::from).collect(),
            stream: body.stream.unwrap_or(false),
            include_usage: body
                .stream_options
                .and_then(|options| options.include_usage)
                == Some(true),
            json: body
                .response_format
                .is_some_and(|format| format.kind == FormatKind::JsonObject),
            max_output_tokens: (body.max_completion_tokens.or(body.max_tokens))
                .map_or(MAX_OUTPUT_TOKENS, |tokens| tokens.get() as u32),
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

impl From<ChatMessage> for Message {
    fn from(message: ChatMessage) -> Self {
        let role = match message.role {
            ChatRole::Assistant => Role::Assistant,
            _ => Role::User,
        };
        Message {
            role,
            content: message.content.0,
        }
    }
}

pub async fn completions(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, scope) = cx.parts();
    let chat = ChatRequest::from_body(cx.body()?)?;
    let estimated_input_tokens = chat
        .messages
        .iter()
        .map(|message| estimate_tokens(&message.content))
        .sum::<u32>()
        + chat.system.as_deref().map_or(0, estimate_tokens);
    let team = team_id(request)?;
    let reserve = ReserveRequest {
        model: chat.model.as_deref(),
        ..ReserveRequest::new(
            caller.user.id.as_str(),
            team.as_ref().map(TeamId::as_str),
            "chat-completions",
            Capability::Text,
            text_estimate(estimated_input_tokens, chat.max_output_tokens),
            0,
        )
    };
    let call = begin(config, scope, &reserve)
        .await
        .map_err(as_openai_refusal)?;
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
    let read = |output: &TextOutput| Ok((output.text.clone(), output.usage));
    let ((text, usage), answered_by) = complete(
        config,
        call,
        &text_prompt,
        scope,
        chat.last_user_text(),
        read,
    )
    .await?;
    Ok(Response::json(
        200,
        &completion(&id, created, &answered_by, &text, usage),
    ))
}

/// A model the platform's key does not run is, as OpenAI answers a model it does not have,
/// 404 `model_not_found`.
fn as_openai_refusal(error: ApiError) -> ApiError {
    match error {
        ApiError::Rejected {
            code: "model_not_allowed",
            message,
            ..
        } => ApiError::Rejected {
            status: 404,
            code: "model_not_found",
            message,
        },
        other => other,
    }
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

/// `GET /v1/models`: the default chat and image models of every provider the platform holds a
/// key for, then the models of the caller's enabled configurations (their own and their teams', as RLS
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
        .flat_map(|kind| {
            [Capability::Chat, Capability::Image]
                .map(|capability| (kind, kind.default_model(capability).to_owned()))
        });
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
    use crate::http::extract::decode;

    fn parse(body: Value) -> Result<ChatRequest, ApiError> {
        decode(body.to_string().as_bytes()).and_then(ChatRequest::from_body)
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
