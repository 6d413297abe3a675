//! Request limits through workerd: a body over its endpoint's limit is refused with 413 before
//! it is read (by `Content-Length`) or as soon as a chunked body passes the limit; an unknown
//! route's body is never read; malformed dates and numbers in a query are the caller's 400
//! naming the parameter, not the database's error turned 502. The worker keeps serving after
//! each.

use e2e::app::TestApp;
use e2e::{error_code, Stack, ALICE};
use serde_json::Value;

/// The AI endpoints' limit (`router::JSON_BODY`).
const JSON_BODY: usize = 256 * 1024;

/// Through `e2e::send`, which resends once what wrangler dev's proxy dropped (it can lose a
/// request the worker answers before reading its body; Cloudflare's edge does not).
async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = e2e::send(request).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn assert_still_healthy(stack: &Stack) {
    let (status, body, _) = stack.get("/healthz", None).await;
    assert_eq!((status, &body["status"]), (200, &"ok".into()));
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_a_413() {
    let app = TestApp::spawn().await;
    let request = app
        .stack
        .http
        .post(app.stack.url("/v1/ai/generate-text"))
        .header("content-type", "application/json")
        .body(vec![b' '; JSON_BODY + 1]);
    let (status, body) = answer(request).await;
    assert_eq!(
        (status, error_code(&body)),
        (413, "payload_too_large"),
        "{body}"
    );
    assert_eq!(body["error"]["maxBytes"], JSON_BODY);
    assert_still_healthy(&app.stack).await;
}

#[tokio::test]
async fn a_chunked_body_is_cut_off_at_the_limit() {
    let app = TestApp::spawn().await;
    // 64 chunks of 8 KB, no Content-Length: twice the limit, refused once it passes the limit.
    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b' '; 8 * 1024]));
    let request = app
        .stack
        .http
        .post(app.stack.url("/v1/ai/generate-text"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    let (status, body) = answer(request).await;
    assert_eq!(
        (status, error_code(&body)),
        (413, "payload_too_large"),
        "{body}"
    );
    assert_still_healthy(&app.stack).await;

    // A streamed body cannot be resent by `e2e::send`: after the cut-off above, wrangler dev's
    // proxy may drop the next request on its connection to workerd (a 503 of its own, without
    // our error envelope), so the request is made again once in that case.
    let small_chunked = || {
        let small = (0..4).map(|_| Ok::<_, std::io::Error>(b"    ".to_vec()));
        app.stack
            .http
            .post(app.stack.url("/v1/ai/generate-text"))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(small)))
    };
    let (mut status, mut body) = answer(small_chunked()).await;
    if status == 503 && body["error"]["code"].is_null() {
        (status, body) = answer(small_chunked()).await;
    }
    assert_eq!(
        (status, error_code(&body)),
        (401, "missing_token"),
        "a chunked body within the limit is read: {body}"
    );
}

#[tokio::test]
async fn endpoints_without_a_body_and_unknown_routes_refuse_or_ignore_one() {
    let app = TestApp::spawn().await;
    let request = app
        .stack
        .http
        .post(app.stack.url("/v1/cron/publish"))
        .body(vec![b'x'; 64 * 1024]);
    let (status, body) = answer(request).await;
    assert_eq!(status, 413, "{body}");
    for (method, path, status) in [
        (reqwest::Method::POST, "/nope", 404),
        (reqwest::Method::POST, "/healthz", 405),
    ] {
        let request = app
            .stack
            .http
            .request(method, app.stack.url(path))
            .body(vec![b'x'; JSON_BODY + 1]);
        assert_eq!(answer(request).await.0, status, "{path}");
    }
    assert_still_healthy(&app.stack).await;
}

#[tokio::test]
async fn malformed_dates_and_numbers_are_400s_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let token = app.stack.token(&ALICE);
    for (query, parameter) in [
        ("since=2026-13-45", "since"),
        ("until=2026-02-30T10%3A00%3A00Z", "until"),
        ("since=0000-01-01", "since"),
        ("since=99999-01-01", "since"),
        ("limit=-1", "limit"),
        ("limit=99999999999999999999", "limit"),
        ("offset=-5", "offset"),
    ] {
        let (status, body, _) = app
            .stack
            .get(&format!("/v1/jobs?{query}"), Some(&token))
            .await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "invalid_request"),
            "{query}: {body}"
        );
        assert_eq!(body["error"]["field"], parameter, "{query}");
    }
    let (status, body, _) = app
        .stack
        .get(
            "/v1/jobs?since=2026-11-23&until=2026-11-24T00%3A00%3A00%2B01%3A00",
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "well-formed dates pass: {body}");
}
