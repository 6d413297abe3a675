//! The outbound policy through workerd: base URLs naming private or reserved addresses are
//! refused when saved, and a base URL's server cannot redirect the worker, hold it with an
//! endless answer, or grow one stream event without bound (`tests/fakes/src/hostile.rs`).
//!
//! The local stack runs with `ALLOW_LOCAL_OUTBOUND=true` (its fakes are on loopback), so
//! loopback spellings are refused only in production: the unit tests of `outbound::policy`
//! cover them.

use e2e::app::{TestApp, User};
use e2e::{error_code, settled, Stack};
use serde_json::{json, Value};

async fn send(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, String) {
    let response = e2e::send(
        stack
            .http
            .request(method, stack.url(path))
            .bearer_auth(token)
            .json(&body),
    )
    .await;
    (
        response.status().as_u16(),
        response.text().await.unwrap_or_default(),
    )
}

async fn save_base_url(stack: &Stack, token: &str, base_url: &str) -> (u16, Value) {
    let (status, body) = send(
        stack,
        reqwest::Method::PUT,
        "/v1/ai/configs",
        token,
        json!({"provider": "openai_compatible", "baseUrl": base_url, "apiKey": "user-key", "active": true}),
    )
    .await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The caller's calls go to the hostile fake behaving as `behaviour`.
async fn hostile_provider(stack: &Stack, token: &str, behaviour: &str) {
    let fakes = std::env::var("E2E_FAKES_URL").expect("E2E_FAKES_URL");
    let (status, body) =
        save_base_url(stack, token, &format!("{fakes}/hostile/{behaviour}/v1")).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn base_urls_naming_private_or_reserved_hosts_are_refused_when_saved() {
    let app = TestApp::spawn().await;
    let User { id: _, token } = app.new_user().await;
    for base_url in [
        "https://169.254.169.254/v1",
        "http://169.254.169.254/latest/meta-data/",
        "https://2852039166/v1",
        "https://0xa9.0xfe.0xa9.0xfe/v1",
        "https://0251.0376.0251.0376/v1",
        "https://[::ffff:169.254.169.254]/v1",
        "https://[::ffff:a9fe:a9fe]/v1",
        "https://[64:ff9b::a9fe:a9fe]/v1",
        "https://10.0.0.1/v1",
        "https://167772161/v1",
        "https://172.16.0.1/v1",
        "https://192.168.0.1/v1",
        "https://100.64.0.1/v1",
        "https://0.0.0.0/v1",
        "https://[::]/v1",
        "https://[fd00::1]/v1",
        "https://[fe80::1]/v1",
        "https://metadata.google.internal/v1",
        "https://%31%30.0.0.1/v1",
        "http://api.openai.com/v1",
        "https://user:pass@api.openai.com/v1",
        "https://api.openai.com/v1#fragment",
        "ftp://api.openai.com/v1",
        "not a url",
    ] {
        let (status, body) = save_base_url(&app.stack, &token, base_url).await;
        assert_eq!(
            (status, error_code(&body), &body["error"]["field"]),
            (400, "invalid_request", &json!("baseUrl")),
            "{base_url}: {body}"
        );
    }
    let (status, body) = save_base_url(&app.stack, &token, "https://llm.example:8443/v1").await;
    assert_eq!(status, 200, "a public https host is fine: {body}");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    hostile_provider(&app.stack, &token, "redirect").await;
    let (status, body) = send(
        &app.stack,
        reqwest::Method::POST,
        "/v1/ai/generate-text",
        &token,
        json!({"prompt": "hello"}),
    )
    .await;
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(
        (status, error_code(&body)),
        (502, "provider_unavailable"),
        "the 307 to the OpenAI fake would have answered 200: {body}"
    );
    settled(&app.db, &user).await;
}

#[tokio::test]
async fn an_endless_answer_is_cut_and_answered_with_a_clean_error() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    hostile_provider(&app.stack, &token, "endless").await;
    let started = std::time::Instant::now();
    let (status, body) = send(
        &app.stack,
        reqwest::Method::POST,
        "/v1/ai/generate-text",
        &token,
        json!({"prompt": "hello"}),
    )
    .await;
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    assert_eq!(
        (status, error_code(&body)),
        (502, "provider_unavailable"),
        "{body}"
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "cut at the cap, not at a timeout: {:?}",
        started.elapsed()
    );
    settled(&app.db, &user).await;

    let health = e2e::send(app.stack.http.get(app.stack.url("/healthz"))).await;
    assert_eq!(health.status(), 200, "the worker is still well");
}

#[tokio::test]
async fn a_stream_event_that_never_ends_ends_the_stream_with_an_error_event() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    hostile_provider(&app.stack, &token, "endless-event").await;
    let (status, body) = send(
        &app.stack,
        reqwest::Method::POST,
        "/v1/ai/stream-text",
        &token,
        json!({"prompt": "stream"}),
    )
    .await;
    assert_eq!(
        status,
        200,
        "the stream opened: {}",
        &body[..body.len().min(200)]
    );
    assert!(
        body.len() < 4096,
        "nothing of the oversized event was relayed: {} bytes",
        body.len()
    );
    assert!(
        body.ends_with("event: error\ndata: {\"error\":{\"code\":\"provider_unavailable\",\"message\":\"The AI provider is unavailable. Try again later.\"}}\n\n"),
        "{body}"
    );
    settled(&app.db, &user).await;
}
