//! Google Gemini's native API: `models/{model}:generateContent` for text (JSON mode through
//! `responseMimeType`, Google Search grounding through the `google_search` tool) and Imagen's
//! `models/{model}:predict` for images. Authenticates with `x-goog-api-key`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::provider::{
    json_body, path_segment, ImageOutput, ImagePrompt, ProviderEndpoint, ProviderError, Role,
    StreamDelta, TextOutput, TextPrompt, Usage,
};
use crate::infra::outbound::{Call, Method, Reply};

/// `{base}/models/{model}:{method}`, the model percent-encoded: whatever its name, it stays
/// one path segment and the method is ours.
fn call(endpoint: &ProviderEndpoint, model: &str, method: &str, body: Value) -> Call {
    let url = format!(
        "{}/models/{}:{method}",
        endpoint.base_url.trim_end_matches('/'),
        path_segment(model)
    );
    Call::unauthenticated(Method::Post, url)
        .header("x-goog-api-key", endpoint.api_key.clone())
        .json(body)
}

pub fn text_call(endpoint: &ProviderEndpoint, prompt: &TextPrompt<'_>) -> Call {
    call(endpoint, prompt.model, "generateContent", text_body(prompt))
}

fn text_body(prompt: &TextPrompt<'_>) -> Value {
    let contents: Vec<Value> = prompt
        .messages
        .iter()
        .map(|message| {
            let role = if message.role == Role::Assistant {
                "model"
            } else {
                "user"
            };
            json!({ "role": role, "parts": [{ "text": message.content }] })
        })
        .collect();
    let mut generation_config = json!({ "maxOutputTokens": prompt.max_output_tokens });
    if prompt.json {
        generation_config["responseMimeType"] = json!("application/json");
    }
    let mut body = json!({ "contents": contents, "generationConfig": generation_config });
    if let Some(system) = prompt.system {
        body["systemInstruction"] = json!({ "parts": [{ "text": system }] });
    }
    if prompt.google_search {
        body["tools"] = json!([{ "google_search": {} }]);
    }
    body
}

/// The same request as Server-Sent Events: each event is a `GenerateContentResponse` with the
/// next text and the usage so far.
pub fn stream_text_call(endpoint: &ProviderEndpoint, prompt: &TextPrompt<'_>) -> Call {
    call(
        endpoint,
        prompt.model,
        "streamGenerateContent?alt=sse",
        text_body(prompt),
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    prompt_feedback: Option<PromptFeedback>,
    usage_metadata: Option<UsageMetadata>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<Content>,
    finish_reason: Option<String>,
    grounding_metadata: Option<Value>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u32,
    #[serde(default)]
    candidates_token_count: u32,
    /// Thinking models bill their reasoning tokens as output.
    #[serde(default)]
    thoughts_token_count: u32,
}

impl From<UsageMetadata> for Usage {
    fn from(usage: UsageMetadata) -> Self {
        Usage {
            input_tokens: usage.prompt_token_count,
            output_tokens: usage.candidates_token_count + usage.thoughts_token_count,
        }
    }
}

const FILTERED_FINISH_REASONS: [&str; 4] = ["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"];

pub fn parse_text(reply: &Reply) -> Result<TextOutput, ProviderError> {
    check_status(reply)?;
    let (text, usage, candidate) = content_of(json_body(reply)?)?;
    Ok(TextOutput {
        text,
        usage: usage.unwrap_or_default(),
        grounding_chunks: candidate
            .grounding_metadata
            .and_then(|mut metadata| metadata.get_mut("groundingChunks").map(Value::take)),
    })
}

pub fn parse_stream_event(data: &str) -> Result<StreamDelta, ProviderError> {
    let response = serde_json::from_str(data)
        .map_err(|error| ProviderError::Malformed(format!("unparsable stream event: {error}")))?;
    let (text, usage, _) = content_of(response)?;
    Ok(StreamDelta {
        text,
        usage,
        done: false,
    })
}

/// The first candidate's text, the usage if reported, and the candidate; refusals are errors.
fn content_of(
    response: GenerateContentResponse,
) -> Result<(String, Option<Usage>, Candidate), ProviderError> {
    if response
        .prompt_feedback
        .and_then(|feedback| feedback.block_reason)
        .is_some()
    {
        return Err(ProviderError::ContentFiltered);
    }
    let mut candidate = response
        .candidates
        .into_iter()
        .next()
        .ok_or_else(|| ProviderError::Malformed("no candidates".into()))?;
    if candidate
        .finish_reason
        .as_deref()
        .is_some_and(|reason| FILTERED_FINISH_REASONS.contains(&reason))
    {
        return Err(ProviderError::ContentFiltered);
    }
    let text = candidate
        .content
        .take()
        .map(|content| content.parts)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|part| part.text)
        .collect();
    Ok((text, response.usage_metadata.map(Usage::from), candidate))
}

/// Imagen's `predict`, asking for the reason of each image its safety filter drops, so a
/// refusal is told apart from an answer of another shape.
pub fn image_call(endpoint: &ProviderEndpoint, prompt: &ImagePrompt<'_>) -> Call {
    let body = json!({
        "instances": [{ "prompt": prompt.prompt }],
        "parameters": { "sampleCount": prompt.count, "includeRaiReason": true },
    });
    call(endpoint, prompt.model, "predict", body)
}

pub fn parse_images(reply: &Reply) -> Result<ImageOutput, ProviderError> {
    #[derive(Deserialize)]
    struct Predictions {
        #[serde(default)]
        predictions: Vec<Prediction>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Prediction {
        bytes_base64_encoded: Option<String>,
        rai_filtered_reason: Option<String>,
    }
    check_status(reply)?;
    let response: Predictions = json_body(reply)?;
    // Imagen answers each image its safety filter refused with the reason instead (asked for by
    // `includeRaiReason`). No image and no such reason is not a refusal: the answer is not an
    // Imagen prediction (another method, a long-running operation), and is charged as such.
    let refused = response
        .predictions
        .iter()
        .any(|p| p.rai_filtered_reason.is_some());
    let images: Vec<String> = response
        .predictions
        .into_iter()
        .filter_map(|p| p.bytes_base64_encoded)
        .collect();
    if images.is_empty() {
        return Err(if refused {
            ProviderError::ContentFiltered
        } else {
            ProviderError::Malformed("no predictions".into())
        });
    }
    Ok(ImageOutput {
        images,
        usage: Usage::default(),
    })
}

/// Google's error body: `{"error": {"code", "message", "status"}}`.
fn check_status(reply: &Reply) -> Result<(), ProviderError> {
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    Err(ProviderError::from_status(
        reply,
        message.contains("safety") || message.contains("blocked"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::provider::Message;

    fn endpoint() -> ProviderEndpoint {
        ProviderEndpoint {
            base_url: "https://gemini.example/v1beta".into(),
            api_key: "g-key".into(),
        }
    }

    fn ok(body: Value) -> Reply {
        Reply::ok_json(body)
    }

    #[test]
    fn builds_generate_content_with_grounding_json_mode_and_system_instruction() {
        let messages = [
            Message {
                role: Role::User,
                content: "q".into(),
            },
            Message {
                role: Role::Assistant,
                content: "a".into(),
            },
        ];
        let call = text_call(
            &endpoint(),
            &TextPrompt {
                model: "gemini-2.5-flash",
                system: Some("sys"),
                messages: &messages,
                json: true,
                google_search: true,
                max_output_tokens: 100,
            },
        );
        assert_eq!(
            call.url,
            "https://gemini.example/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert!(call.headers.contains(&("x-goog-api-key", "g-key".into())));
        let body = call.json_body().clone();
        assert_eq!(
            body,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}],
                "generationConfig": {"maxOutputTokens": 100, "responseMimeType": "application/json"},
                "systemInstruction": {"parts": [{"text": "sys"}]},
                "tools": [{"google_search": {}}],
            })
        );
    }

    #[test]
    fn parses_text_grounding_usage_and_blocks() {
        let output = parse_text(&ok(json!({
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": "Hel"}, {"text": "lo"}]},
                "finishReason": "STOP",
                "groundingMetadata": {"groundingChunks": [{"web": {"uri": "https://a.example", "title": "A"}}]}
            }],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "thoughtsTokenCount": 3}
        })))
        .unwrap();
        assert_eq!(output.text, "Hello");
        assert_eq!(
            output.usage,
            Usage {
                input_tokens: 4,
                output_tokens: 5
            }
        );
        assert_eq!(
            output.grounding_chunks,
            Some(json!([{"web": {"uri": "https://a.example", "title": "A"}}]))
        );

        let blocked = ok(json!({"promptFeedback": {"blockReason": "SAFETY"}}));
        assert_eq!(parse_text(&blocked), Err(ProviderError::ContentFiltered));
        let unsafe_candidate = ok(json!({"candidates": [{"finishReason": "SAFETY"}]}));
        assert_eq!(
            parse_text(&unsafe_candidate),
            Err(ProviderError::ContentFiltered)
        );
        let exhausted = Reply::new(
            429,
            br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#.to_vec(),
        );
        assert_eq!(
            parse_text(&exhausted),
            Err(ProviderError::RateLimited {
                retry_after_seconds: None
            })
        );
    }

    #[test]
    fn streams_generate_content_as_server_sent_events() {
        let messages = [Message {
            role: Role::User,
            content: "q".into(),
        }];
        let prompt = TextPrompt {
            model: "gemini-2.5-flash",
            system: None,
            messages: &messages,
            json: false,
            google_search: false,
            max_output_tokens: 8,
        };
        let call = stream_text_call(&endpoint(), &prompt);
        assert_eq!(
            call.url,
            "https://gemini.example/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(call.body, text_call(&endpoint(), &prompt).body);

        let event = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}}"#;
        let delta = parse_stream_event(event).unwrap();
        assert_eq!(
            (delta.text.as_str(), delta.usage),
            (
                "Hi",
                Some(Usage {
                    input_tokens: 2,
                    output_tokens: 1
                })
            )
        );
        assert_eq!(
            parse_stream_event(r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#),
            Err(ProviderError::ContentFiltered)
        );
    }

    #[test]
    fn builds_and_parses_imagen_predictions() {
        let call = image_call(
            &endpoint(),
            &ImagePrompt {
                model: "imagen-4.0-generate-001",
                prompt: "p",
                count: 3,
            },
        );
        assert!(call
            .url
            .ends_with("/models/imagen-4.0-generate-001:predict"));
        let output = parse_images(&ok(
            json!({"predictions": [{"bytesBase64Encoded": "QQ==", "mimeType": "image/png"}]}),
        ))
        .unwrap();
        assert_eq!(output.images, ["QQ=="]);
        assert_eq!(
            parse_images(&ok(
                json!({"predictions": [{"raiFilteredReason": "unsafe"}]})
            )),
            Err(ProviderError::ContentFiltered)
        );
        assert!(
            matches!(
                parse_images(&ok(json!({"name": "operations/123"}))),
                Err(ProviderError::Malformed(_))
            ),
            "a long-running operation is no refusal"
        );
    }

    #[test]
    fn a_hostile_model_name_stays_one_path_segment() {
        let call = image_call(
            &endpoint(),
            &ImagePrompt {
                model: "veo-3.0-generate-001:predictLongRunning#",
                prompt: "p",
                count: 1,
            },
        );
        assert_eq!(
            call.url,
            "https://gemini.example/v1beta/models/veo-3.0-generate-001%3ApredictLongRunning%23:predict"
        );
        let messages = [Message {
            role: Role::User,
            content: "q".into(),
        }];
        let call = stream_text_call(
            &endpoint(),
            &TextPrompt {
                model: "../../files/x?key=",
                system: None,
                messages: &messages,
                json: false,
                google_search: false,
                max_output_tokens: 8,
            },
        );
        assert_eq!(
            call.url,
            "https://gemini.example/v1beta/models/..%2F..%2Ffiles%2Fx%3Fkey%3D:streamGenerateContent?alt=sse"
        );
    }
}
