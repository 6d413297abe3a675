//! Fakes of the AI providers the worker calls, on one port: OpenAI at `/openai/v1`, xAI at
//! `/xai/v1` (chat completions and image generations in OpenAI's format) and Gemini at
//! `/gemini/v1beta` (`models/{model}:generateContent`, Imagen `:predict`), answering in each
//! provider's documented shapes, error bodies included.
//!
//! Answers are deterministic: the text is `echo: <last user message> (key …<last 4 of the key>)`,
//! so tests can see which key was used. In JSON mode the fake answers the document the worker's
//! assistant asks for, recognised by the JSON object its instructions name (see
//! `assistant_answer`: captions, hashtags, an improved caption, an audit plan, a persona's
//! feedback, a moderation verdict that `[flag:<category>]` markers flag), else `{"echo": …}`.
//! Streamed requests
//! (OpenAI's `stream: true`, Gemini's `:streamGenerateContent?alt=sse`) get the same text one
//! word per Server-Sent Event, in each provider's framing. Markers in the prompt inject faults:
//! `[fault:429]` (with `retry-after: 1`), `[fault:500]`, `[down:<openai|xai|gemini>]` (500 from
//! that provider only), `[flaky:N]` (the first N requests with that prompt get 500),
//! `[throttled:N]` (the first N requests with that prompt get 429 with `retry-after: 1`, whichever
//! provider they reach), `[fault:401]`, `[filtered]` (refused
//! content), `[invalid-json]` (JSON mode answers with plain text), `[slow]` (streams wait
//! 200 ms between events), `[fail-once:NAME]` (the first request carrying that NAME, in any
//! prompt, is refused with 401 — not retried — and later ones pass, so a failed step can be
//! resumed), `[delay:MS]` (whole answers wait MS milliseconds, as a real model's latency),
//! `[hang:<provider>]` (that provider's whole answers never come; calls the client abandoned
//! are counted, per prompt, at `GET /_fakes/abandoned`); `<<reply:JSON>>` scripts JSON mode's
//! answer. The key `rejected-key` is refused with 401. `GET /_fakes/attempts` lists, per prompt,
//! the provider of every request that carried it, in order.
//!
//! `/capture/v1` stands in for a base URL a user configured: it answers chat completions as
//! OpenAI does and records the key of every request it receives (`GET /_fakes/captured`), so
//! tests can check which keys reached it.
//!
//! The social platforms' fakes are under `/social/{host}/…` (see `social`); a hostile server,
//! for the worker's outbound limits, under `/hostile/…` (see `hostile`).

pub mod hostile;
pub mod publishing;
pub mod social;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub const REJECTED_KEY: &str = "rejected-key";
/// What the fake reports per completion.
pub const COMPLETION_TOKENS: u64 = 7;
/// A 1×1 transparent PNG.
const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=";

pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let app = Router::new()
        .route(
            "/openai/v1/chat/completions",
            post(|headers, body| openai_chat("openai", headers, body)),
        )
        .route(
            "/xai/v1/chat/completions",
            post(|headers, body| openai_chat("xai", headers, body)),
        )
        .route(
            "/openai/v1/images/generations",
            post(|headers, body| openai_images("openai", headers, body)),
        )
        .route(
            "/xai/v1/images/generations",
            post(|headers, body| openai_images("xai", headers, body)),
        )
        .route("/openai/v1/moderations", post(openai_moderations))
        .route("/gemini/v1beta/models/{model_and_method}", post(gemini))
        .route(
            "/capture/v1/chat/completions",
            post(|headers: HeaderMap, body| {
                CAPTURED
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(bearer(&headers));
                openai_chat("capture", headers, body)
            }),
        )
        .route(
            "/_fakes/captured",
            get(|| async {
                let captured = CAPTURED
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                axum::Json(captured.clone())
            }),
        )
        .route("/social/{*rest}", any(social::handle))
        .route(
            "/hostile/{behaviour}/v1/chat/completions",
            post(hostile::handle),
        )
        .route(
            "/_fakes/attempts",
            get(|| async {
                let attempts = ATTEMPTS
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                axum::Json(attempts.clone())
            }),
        )
        .route(
            "/_fakes/abandoned",
            get(|| async {
                let abandoned = ABANDONED
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                axum::Json(abandoned.clone())
            }),
        )
        // Platforms take uploads far above axum's 2 MB default (an X segment is up to 5 MB).
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024));
    axum::serve(listener, app).await?;
    Ok(())
}

enum Fault {
    RateLimited,
    ServerError,
    Unauthorized,
    Filtered,
}

/// The providers each prompt reached, one entry per request in order of arrival (every
/// handler asks `fault` once per request): `GET /_fakes/attempts` answers them, so tests tell a
/// retry the primary answered from the fallback answering.
static ATTEMPTS: Mutex<BTreeMap<String, Vec<String>>> = Mutex::new(BTreeMap::new());

/// The fault a prompt asks `provider` (`openai`, `xai`, `gemini`) for.
fn fault(provider: &str, prompt: &str, key: &str) -> Option<Fault> {
    ATTEMPTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(prompt.to_owned())
        .or_default()
        .push(provider.to_owned());
    if key == REJECTED_KEY || prompt.contains("[fault:401]") || fail_once(prompt) {
        Some(Fault::Unauthorized)
    } else if prompt.contains("[fault:429]") || among_first(prompt, "[throttled:") {
        Some(Fault::RateLimited)
    } else if prompt.contains("[fault:500]")
        || prompt.contains(&format!("[down:{provider}]"))
        || among_first(prompt, "[flaky:")
    {
        Some(Fault::ServerError)
    } else if prompt.contains("[filtered]") {
        Some(Fault::Filtered)
    } else {
        None
    }
}

/// `[fail-once:NAME]`: true the first time NAME is seen.
fn fail_once(prompt: &str) -> bool {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let Some(name) = marker(prompt, "[fail-once:") else {
        return false;
    };
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.iter().any(|known| known == name) {
        return false;
    }
    seen.push(name.to_owned());
    true
}

/// The argument of the first `<open>ARG]` marker in the prompt.
fn marker<'a>(prompt: &'a str, open: &str) -> Option<&'a str> {
    prompt
        .split_once(open)
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(argument, _)| argument)
}

/// `[delay:MS]`: waits as long before answering. `[hang:<provider>]`: that provider never
/// answers; a call whose client gives up (closes the connection) is counted in `ABANDONED`.
async fn delay(provider: &str, prompt: &str) {
    if prompt.contains(&format!("[hang:{provider}]")) {
        let _counted = AbandonedCall(prompt.to_owned());
        tokio::time::sleep(Duration::from_secs(600)).await;
    }
    if let Some(ms) = marker(prompt, "[delay:").and_then(|ms| ms.parse::<u64>().ok()) {
        tokio::time::sleep(Duration::from_millis(ms.min(10_000))).await;
    }
}

/// The keys `/capture/v1` received, in order.
static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Calls the client abandoned, per prompt: `GET /_fakes/abandoned` answers them.
static ABANDONED: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());

/// Counts its prompt when dropped: axum drops a handler when its client hangs up.
struct AbandonedCall(String);

impl Drop for AbandonedCall {
    fn drop(&mut self) {
        let mut abandoned = ABANDONED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *abandoned.entry(std::mem::take(&mut self.0)).or_insert(0) += 1;
    }
}

/// `<open>N]` (`[flaky:N]`, `[throttled:N]`): whether this request is among the first N with
/// this exact prompt (each marker counts its own requests), which fail; later ones succeed.
fn among_first(prompt: &str, open: &'static str) -> bool {
    static SEEN: Mutex<BTreeMap<(&'static str, String), u32>> = Mutex::new(BTreeMap::new());
    let failures = marker(prompt, open).and_then(|n| n.parse::<u32>().ok());
    let Some(failures) = failures else {
        return false;
    };
    let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let attempts = seen.entry((open, prompt.to_owned())).or_insert(0);
    *attempts += 1;
    *attempts <= failures
}

fn echo(prompt: &str, key: &str) -> String {
    let last4: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("echo: {prompt} (key …{last4})")
}

/// JSON mode's answer: the scripted `<<reply:JSON>>`, plain text for `[invalid-json]`, else the
/// document the instructions (`system`, or the prompt) ask for, else `{"echo": text}`.
fn json_answer(system: &str, prompt: &str, text: String) -> String {
    let scripted = prompt
        .split_once("<<reply:")
        .and_then(|(_, rest)| rest.split_once(">>"))
        .map(|(reply, _)| reply.to_owned());
    match scripted {
        Some(reply) => reply,
        None if prompt.contains("[invalid-json]") => text,
        None => assistant_answer(system, prompt)
            .unwrap_or_else(|| json!({"echo": text}))
            .to_string(),
    }
}

/// A valid answer to one of the worker's assistants, recognised by the JSON object its system
/// instruction asks for (a content job's moderation step asks in its prompt).
fn assistant_answer(system: &str, prompt: &str) -> Option<Value> {
    let gist: String = prompt.chars().take(40).collect();
    let asks = |shape: &str| system.contains(shape);
    if asks(r#"{"captions""#) {
        let count = number_after(system, "exactly ").unwrap_or(3);
        let captions: Vec<String> = (1..=count)
            .map(|n| format!("Caption {n}: {gist}"))
            .collect();
        Some(json!({ "captions": captions }))
    } else if asks(r#"{"hashtags""#) {
        let count = number_after(system, "at most ").unwrap_or(3).min(3);
        let hashtags = &["#local", "#fake", "#stack"][..count];
        Some(json!({ "hashtags": hashtags }))
    } else if asks(r#"{"caption""#) {
        Some(json!({ "caption": format!("Improved: {gist}") }))
    } else if asks("D0") && asks("D8") {
        let plan: serde_json::Map<String, Value> = (0..9)
            .map(|phase| {
                let details = json!({"title": format!("Phase D{phase}"), "actions": [format!("Review {gist}")]});
                (format!("D{phase}"), details)
            })
            .collect();
        Some(Value::Object(plan))
    } else if asks(r#""sentiment""#) {
        Some(
            json!({"sentiment": "positive", "score": 72, "reaction": format!("I like it: {gist}"),
                    "concerns": [], "suggestions": ["Add a call to action."]}),
        )
    } else if asks(r#"{"flagged""#) || prompt.contains(r#"{"flagged""#) {
        let categories = flags(prompt);
        Some(json!({"flagged": !categories.is_empty(), "categories": categories}))
    } else {
        None
    }
}

/// The number right after `words` in `text` ("exactly 3 distinct captions" → 3).
fn number_after(text: &str, words: &str) -> Option<usize> {
    let (_, rest) = text.split_once(words)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The categories of the `[flag:<category>]` markers in `text`, in order.
fn flags(text: &str) -> Vec<&str> {
    text.split("[flag:")
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(category, _)| category))
        .collect()
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn bearer(headers: &HeaderMap) -> String {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    value.strip_prefix("Bearer ").unwrap_or_default().to_owned()
}

/// OpenAI's error body and status for a fault.
fn openai_error(fault: Fault) -> Response {
    let (status, kind, code) = match fault {
        Fault::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            "rate_limit_exceeded",
        ),
        Fault::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
        ),
        Fault::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
        ),
        Fault::Filtered => (
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "content_policy_violation",
        ),
    };
    let body = json!({"error": {"message": "fake provider fault (raw provider text)", "type": kind, "param": null, "code": code}});
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert("retry-after", "1".parse().expect("valid header"));
    }
    response
}

async fn openai_chat(provider: &str, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let prompt = messages
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let key = bearer(&headers);
    delay(provider, prompt).await;
    if let Some(fault) = fault(provider, prompt, &key) {
        return openai_error(fault);
    }
    let json_mode = request["response_format"]["type"] == "json_object";
    let system = messages
        .iter()
        .find(|m| m["role"] == "system")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default();
    let text = echo(prompt, &key);
    let content = if json_mode {
        json_answer(system, prompt, text)
    } else {
        text
    };
    let prompt_tokens: u64 = messages
        .iter()
        .map(|m| words(m["content"].as_str().unwrap_or_default()))
        .sum();
    if request["stream"] == true {
        let chunk = |choices: Value| json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": request["model"], "choices": choices});
        let mut events: Vec<String> = pieces(&content)
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let delta = if i == 0 {
                    json!({"role": "assistant", "content": piece})
                } else {
                    json!({"content": piece})
                };
                chunk(json!([{"index": 0, "delta": delta, "finish_reason": null}])).to_string()
            })
            .collect();
        events.push(chunk(json!([{"index": 0, "delta": {}, "finish_reason": "stop"}])).to_string());
        if request["stream_options"]["include_usage"] == true {
            let mut usage = chunk(json!([]));
            usage["usage"] = json!({"prompt_tokens": prompt_tokens, "completion_tokens": COMPLETION_TOKENS,
                                    "total_tokens": prompt_tokens + COMPLETION_TOKENS});
            events.push(usage.to_string());
        }
        events.push("[DONE]".to_owned());
        return event_stream(events, prompt.contains("[slow]"));
    }
    Json(json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": COMPLETION_TOKENS,
                  "total_tokens": prompt_tokens + COMPLETION_TOKENS}
    }))
    .into_response()
}

/// OpenAI's moderation categories, as its `/moderations` answer names them.
const MODERATION_CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// `POST /moderations`: a category applies when the input carries `[flag:<category>]`.
async fn openai_moderations(headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let input = request["input"].as_str().unwrap_or_default();
    if let Some(fault) = fault("openai", input, &bearer(&headers)) {
        return openai_error(fault);
    }
    let marked = flags(input);
    let applies = |category: &str| marked.contains(&category);
    let categories: serde_json::Map<String, Value> = MODERATION_CATEGORIES
        .iter()
        .map(|c| (c.to_string(), json!(applies(c))))
        .collect();
    let scores: serde_json::Map<String, Value> = MODERATION_CATEGORIES
        .iter()
        .map(|c| (c.to_string(), json!(if applies(c) { 0.97 } else { 0.0001 })))
        .collect();
    let flagged = MODERATION_CATEGORIES.iter().any(|c| applies(c));
    Json(json!({
        "id": "modr-fake",
        "model": request["model"],
        "results": [{"flagged": flagged, "categories": categories, "category_scores": scores}],
    }))
    .into_response()
}

async fn openai_images(provider: &str, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let prompt = request["prompt"].as_str().unwrap_or_default();
    delay(provider, prompt).await;
    if let Some(fault) = fault(provider, prompt, &bearer(&headers)) {
        return openai_error(fault);
    }
    let count = request["n"].as_u64().unwrap_or(1) as usize;
    Json(json!({"created": 1_700_000_000, "data": vec![json!({"b64_json": PNG_BASE64}); count]}))
        .into_response()
}

/// Google's error body: `{"error": {"code", "message", "status"}}`.
fn gemini_error(fault: Fault) -> Response {
    let (status, name) = match fault {
        Fault::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED"),
        Fault::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        Fault::Unauthorized => (StatusCode::FORBIDDEN, "PERMISSION_DENIED"),
        Fault::Filtered => {
            return Json(json!({"promptFeedback": {"blockReason": "SAFETY"}})).into_response()
        }
    };
    let body = json!({"error": {"code": status.as_u16(), "message": "fake provider fault (raw provider text)", "status": name}});
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert("retry-after", "1".parse().expect("valid header"));
    }
    response
}

async fn gemini(Path(model_and_method): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = headers
        .get("x-goog-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    delay("gemini", &request.to_string()).await;
    match model_and_method.split_once(':').map(|(_, method)| method) {
        Some("generateContent") => gemini_generate(&request, &key),
        Some("streamGenerateContent") => gemini_stream(&request, &key),
        Some("predict") => {
            let prompt = request["instances"][0]["prompt"]
                .as_str()
                .unwrap_or_default();
            match fault("gemini", prompt, &key) {
                // Imagen answers the images its filter refused with the reason instead.
                Some(Fault::Filtered) => {
                    return Json(json!({"predictions": [{"raiFilteredReason": "fake filter"}]}))
                        .into_response()
                }
                Some(fault) => return gemini_error(fault),
                None => {}
            }
            let count = request["parameters"]["sampleCount"].as_u64().unwrap_or(1) as usize;
            Json(json!({"predictions": vec![json!({"bytesBase64Encoded": PNG_BASE64, "mimeType": "image/png"}); count]}))
                .into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"code": 404, "message": "no such method", "status": "NOT_FOUND"}}),
            ),
        )
            .into_response(),
    }
}

fn gemini_generate(request: &Value, key: &str) -> Response {
    let contents = request["contents"].as_array().cloned().unwrap_or_default();
    let prompt = contents
        .iter()
        .rev()
        .find(|c| c["role"] == "user")
        .and_then(|c| c["parts"][0]["text"].as_str())
        .unwrap_or_default();
    if let Some(fault) = fault("gemini", prompt, key) {
        return gemini_error(fault);
    }
    let json_mode = request["generationConfig"]["responseMimeType"] == "application/json";
    let system = request["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default();
    let text = echo(prompt, key);
    let text = if json_mode {
        json_answer(system, prompt, text)
    } else {
        text
    };
    let mut candidate = json!({"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0});
    if request["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t.get("google_search").is_some()))
    {
        candidate["groundingMetadata"] = json!({
            "webSearchQueries": [prompt],
            "groundingChunks": [{"web": {"uri": "https://example.com/source", "title": "example.com"}}]
        });
    }
    let prompt_tokens: u64 = contents
        .iter()
        .map(|c| words(c["parts"][0]["text"].as_str().unwrap_or_default()))
        .sum();
    Json(json!({
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": COMPLETION_TOKENS,
                          "totalTokenCount": prompt_tokens + COMPLETION_TOKENS},
        "modelVersion": "fake"
    }))
    .into_response()
}

/// Streamed `generateContent`: one `GenerateContentResponse` per word, the usage so far in each.
fn gemini_stream(request: &Value, key: &str) -> Response {
    let contents = request["contents"].as_array().cloned().unwrap_or_default();
    let prompt = contents
        .iter()
        .rev()
        .find(|c| c["role"] == "user")
        .and_then(|c| c["parts"][0]["text"].as_str())
        .unwrap_or_default();
    if let Some(fault) = fault("gemini", prompt, key) {
        return gemini_error(fault);
    }
    let prompt_tokens: u64 = contents
        .iter()
        .map(|c| words(c["parts"][0]["text"].as_str().unwrap_or_default()))
        .sum();
    let pieces = pieces(&echo(prompt, key));
    let last = pieces.len() - 1;
    let events = pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut candidate = json!({"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0});
            let output_tokens = if i == last { COMPLETION_TOKENS } else { i as u64 + 1 };
            if i == last {
                candidate["finishReason"] = json!("STOP");
            }
            json!({"candidates": [candidate], "usageMetadata": {"promptTokenCount": prompt_tokens,
                   "candidatesTokenCount": output_tokens, "totalTokenCount": prompt_tokens + output_tokens}})
            .to_string()
        })
        .collect();
    event_stream(events, prompt.contains("[slow]"))
}

/// The text split after each space, so the pieces concatenate back to it.
fn pieces(text: &str) -> Vec<String> {
    text.split_inclusive(' ').map(str::to_owned).collect()
}

/// `data:` events as `text/event-stream`, optionally 200 ms apart.
fn event_stream(events: Vec<String>, slow: bool) -> Response {
    let frames = futures::stream::iter(events).then(move |data| async move {
        if slow {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok::<_, std::convert::Infallible>(format!("data: {data}\n\n"))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(frames),
    )
        .into_response()
}
