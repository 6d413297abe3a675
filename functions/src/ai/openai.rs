//! OpenAI's wire format (`/chat/completions`, `/images/generations`), also spoken by xAI and
//! every OpenAI-compatible server; and OpenAI's own `/moderations`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::provider::{
    json_body, ImageOutput, ImagePrompt, Message, ProviderEndpoint, ProviderError, Role,
    StreamDelta, TextOutput, TextPrompt, Usage, Verdict,
};
use crate::infra::outbound::{Call, Method, Reply};

/// OpenAI's moderation model (free of charge at OpenAI).
pub const MODERATION_MODEL: &str = "omni-moderation-latest";

fn call(endpoint: &ProviderEndpoint, path: &str, body: Value) -> Call {
    let url = format!("{}{path}", endpoint.base_url.trim_end_matches('/'));
    Call::new(Method::Post, url, &endpoint.api_key).json(body)
}

pub fn text_call(endpoint: &ProviderEndpoint, prompt: &TextPrompt<'_>) -> Call {
    call(endpoint, "/chat/completions", completion_body(prompt))
}

/// The same completion as Server-Sent Events, ending with a usage chunk and `[DONE]`.
pub fn stream_text_call(endpoint: &ProviderEndpoint, prompt: &TextPrompt<'_>) -> Call {
    let mut body = completion_body(prompt);
    body["stream"] = json!(true);
    body["stream_options"] = json!({ "include_usage": true });
    call(endpoint, "/chat/completions", body)
}

fn completion_body(prompt: &TextPrompt<'_>) -> Value {
    let system = prompt.system.map(|content| Message {
        role: Role::System,
        content: content.to_owned(),
    });
    let messages: Vec<&Message> = system.iter().chain(prompt.messages).collect();
    let mut body = json!({
        "model": prompt.model,
        "messages": messages,
        "max_completion_tokens": prompt.max_output_tokens,
    });
    if prompt.json {
        body["response_format"] = json!({ "type": "json_object" });
    }
    body
}

/// One `data:` payload of a streamed completion: `chat.completion.chunk` objects, a last one
/// with `usage` and no choices, then `[DONE]`; an `error` object if the stream broke.
pub fn parse_stream_event(data: &str) -> Result<StreamDelta, ProviderError> {
    #[derive(Deserialize)]
    struct Chunk {
        #[serde(default)]
        choices: Vec<ChunkChoice>,
        usage: Option<WireUsage>,
        error: Option<Value>,
    }
    #[derive(Deserialize)]
    struct ChunkChoice {
        delta: Option<ChoiceMessage>,
        finish_reason: Option<String>,
    }
    if data.trim() == "[DONE]" {
        return Ok(StreamDelta {
            done: true,
            ..StreamDelta::default()
        });
    }
    let chunk: Chunk = serde_json::from_str(data)
        .map_err(|error| ProviderError::Malformed(format!("unparsable stream event: {error}")))?;
    if chunk.error.is_some() {
        return Err(ProviderError::Unavailable(
            "the provider broke off the stream with an error".into(),
        ));
    }
    let choice = chunk.choices.into_iter().next();
    if choice
        .as_ref()
        .and_then(|choice| choice.finish_reason.as_deref())
        == Some("content_filter")
    {
        return Err(ProviderError::ContentFiltered);
    }
    Ok(StreamDelta {
        text: choice
            .and_then(|choice| choice.delta?.content)
            .unwrap_or_default(),
        usage: chunk.usage.map(Usage::from),
        done: false,
    })
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    /// gpt-image models report tokens under these names.
    #[serde(default)]
    input_tokens: u32,
    #[serde(default)]
    output_tokens: u32,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Self {
        Usage {
            input_tokens: usage.prompt_tokens + usage.input_tokens,
            output_tokens: usage.completion_tokens + usage.output_tokens,
        }
    }
}

pub fn parse_text(reply: &Reply) -> Result<TextOutput, ProviderError> {
    check_status(reply)?;
    let completion: Completion = json_body(reply)?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| ProviderError::Malformed("no choices".into()))?;
    if choice.finish_reason.as_deref() == Some("content_filter") {
        return Err(ProviderError::ContentFiltered);
    }
    Ok(TextOutput {
        text: choice.message.content.unwrap_or_default(),
        usage: completion.usage.unwrap_or_default().into(),
        grounding_chunks: None,
    })
}

pub fn image_call(endpoint: &ProviderEndpoint, prompt: &ImagePrompt<'_>) -> Call {
    let mut body = json!({ "model": prompt.model, "prompt": prompt.prompt, "n": prompt.count });
    // gpt-image models always answer in base64 and reject the parameter; DALL·E and Grok need it.
    if !prompt.model.starts_with("gpt-image") {
        body["response_format"] = json!("b64_json");
    }
    call(endpoint, "/images/generations", body)
}

pub fn parse_images(reply: &Reply) -> Result<ImageOutput, ProviderError> {
    #[derive(Deserialize)]
    struct Images {
        data: Vec<Image>,
        usage: Option<WireUsage>,
    }
    #[derive(Deserialize)]
    struct Image {
        b64_json: Option<String>,
    }
    check_status(reply)?;
    let images: Images = json_body(reply)?;
    let encoded = images
        .data
        .into_iter()
        .map(|image| image.b64_json)
        .collect::<Option<Vec<_>>>();
    Ok(ImageOutput {
        images: encoded
            .ok_or_else(|| ProviderError::Malformed("an image without b64_json".into()))?,
        usage: images.usage.unwrap_or_default().into(),
    })
}

/// OpenAI's error body: `{"error": {"message", "type", "code"}}`; refused content is flagged by
/// `content_policy_violation` / `content_filter` in `code` or `type`.
pub fn moderation_call(endpoint: &ProviderEndpoint, text: &str) -> Call {
    call(
        endpoint,
        "/moderations",
        json!({ "model": MODERATION_MODEL, "input": text }),
    )
}

/// The first result: `flagged`, and the categories marked true, in name order.
pub fn parse_moderation(reply: &Reply) -> Result<Verdict, ProviderError> {
    #[derive(Deserialize)]
    struct Moderation {
        results: Vec<ModerationResult>,
    }
    #[derive(Deserialize)]
    struct ModerationResult {
        flagged: bool,
        categories: std::collections::BTreeMap<String, Option<bool>>,
    }
    check_status(reply)?;
    let moderation: Moderation = json_body(reply)?;
    let result = moderation
        .results
        .into_iter()
        .next()
        .ok_or_else(|| ProviderError::Malformed("a moderation without results".into()))?;
    Ok(Verdict {
        flagged: result.flagged,
        categories: result
            .categories
            .into_iter()
            .filter(|(_, applies)| *applies == Some(true))
            .map(|(category, _)| category)
            .collect(),
    })
}

pub(super) fn check_status(reply: &Reply) -> Result<(), ProviderError> {
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let error = &body["error"];
    let filtered = [&error["code"], &error["type"]].iter().any(|marker| {
        matches!(
            marker.as_str(),
            Some("content_policy_violation" | "content_filter")
        )
    });
    Err(ProviderError::from_status(reply, filtered))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> ProviderEndpoint {
        ProviderEndpoint {
            base_url: "https://api.example/v1/".into(),
            api_key: "sk-test".into(),
        }
    }

    fn ok(body: Value) -> Reply {
        Reply::ok_json(body)
    }

    #[test]
    fn builds_a_chat_completion_with_system_message_and_json_mode() {
        let messages = [Message {
            role: Role::User,
            content: "hi".into(),
        }];
        let call = text_call(
            &endpoint(),
            &TextPrompt {
                model: "gpt-4o-mini",
                system: Some("be brief"),
                messages: &messages,
                json: true,
                google_search: true,
                max_output_tokens: 64,
            },
        );
        assert_eq!(call.url, "https://api.example/v1/chat/completions");
        assert!(call
            .headers
            .contains(&("authorization", "Bearer sk-test".into())));
        let body = call.json_body().clone();
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
                "max_completion_tokens": 64,
                "response_format": {"type": "json_object"},
            })
        );
    }

    #[test]
    fn parses_text_usage_and_refusals() {
        let output = parse_text(&ok(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        })))
        .unwrap();
        assert_eq!(output.text, "hello");
        assert_eq!(
            output.usage,
            Usage {
                input_tokens: 5,
                output_tokens: 2
            }
        );

        let filtered = ok(
            json!({"choices": [{"message": {"content": null}, "finish_reason": "content_filter"}]}),
        );
        assert_eq!(parse_text(&filtered), Err(ProviderError::ContentFiltered));
        let refused = Reply::new(400, br#"{"error":{"message":"no","type":"invalid_request_error","code":"content_policy_violation"}}"#.to_vec());
        assert_eq!(parse_text(&refused), Err(ProviderError::ContentFiltered));
        assert!(matches!(
            parse_text(&ok(json!({"choices": []}))),
            Err(ProviderError::Malformed(_))
        ));
    }

    #[test]
    fn streams_a_completion_and_parses_its_events() {
        let messages = [Message {
            role: Role::User,
            content: "hi".into(),
        }];
        let prompt = TextPrompt {
            model: "m",
            system: None,
            messages: &messages,
            json: false,
            google_search: false,
            max_output_tokens: 8,
        };
        let body = stream_text_call(&endpoint(), &prompt).json_body().clone();
        assert_eq!(
            (&body["stream"], &body["stream_options"]),
            (&json!(true), &json!({"include_usage": true}))
        );

        let delta = r#"{"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}"#;
        assert_eq!(
            parse_stream_event(delta).unwrap(),
            StreamDelta {
                text: "Hel".into(),
                ..StreamDelta::default()
            }
        );
        let usage =
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#;
        assert_eq!(
            parse_stream_event(usage).unwrap().usage,
            Some(Usage {
                input_tokens: 3,
                output_tokens: 5
            })
        );
        assert!(parse_stream_event("[DONE]").unwrap().done);
        let filtered = r#"{"choices":[{"index":0,"delta":{},"finish_reason":"content_filter"}]}"#;
        assert_eq!(
            parse_stream_event(filtered),
            Err(ProviderError::ContentFiltered)
        );
        let broken = r#"{"error":{"message":"raw provider text","type":"server_error"}}"#;
        assert!(!format!("{:?}", parse_stream_event(broken)).contains("raw provider text"));
    }

    #[test]
    fn builds_and_parses_image_generations() {
        let call = image_call(
            &endpoint(),
            &ImagePrompt {
                model: "grok-2-image",
                prompt: "a cat",
                count: 2,
            },
        );
        let body = call.json_body().clone();
        assert_eq!(
            body,
            json!({"model": "grok-2-image", "prompt": "a cat", "n": 2, "response_format": "b64_json"})
        );
        let gpt = image_call(
            &endpoint(),
            &ImagePrompt {
                model: "gpt-image-1",
                prompt: "a cat",
                count: 1,
            },
        );
        assert!(gpt.json_body().get("response_format").is_none());

        let output = parse_images(&ok(json!({
            "created": 1, "data": [{"b64_json": "AAA="}, {"b64_json": "BBB="}],
            "usage": {"input_tokens": 10, "output_tokens": 4000}
        })))
        .unwrap();
        assert_eq!(output.images, ["AAA=", "BBB="]);
        assert_eq!(
            output.usage,
            Usage {
                input_tokens: 10,
                output_tokens: 4000
            }
        );
    }
}
