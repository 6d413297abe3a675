//! A web app on another origin calls the worker from a browser: the preflight its
//! `Authorization` header forces, then answers (errors and streams too) it may read. The local
//! stack allows the usual development servers' origins (docs/local-stack.md).

use e2e::app::TestApp;
use reqwest::Method;
use serde_json::json;

/// One of the local stack's web app origins (`CORS_ALLOWED_ORIGINS`).
const WEB_APP: &str = "http://localhost:5173";

fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::RequestBuilder {
    app.http
        .request(Method::OPTIONS, app.stack.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type, x-client-info",
        )
}

fn header<'a>(answer: &'a e2e::app::Answer, name: &str) -> Option<&'a str> {
    answer
        .headers
        .get(name)
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_and_others_are_refused() {
    let app = TestApp::spawn().await;
    let allowed = app
        .answer(preflight(&app, "/v1/ai/stream-text", WEB_APP, "POST"))
        .await;
    assert_eq!(allowed.status, 204);
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(WEB_APP)
    );
    assert_eq!(
        header(&allowed, "access-control-allow-methods"),
        Some("POST")
    );
    let headers = header(&allowed, "access-control-allow-headers").unwrap();
    for sent in ["authorization", "content-type", "x-client-info", "apikey"] {
        assert!(headers.contains(sent), "{sent} in {headers}");
    }
    assert!(header(&allowed, "access-control-max-age").is_some());

    for origin in [
        "https://evil.example",
        "http://localhost:5173.evil.example",
        "null",
    ] {
        let refused = app
            .answer(preflight(&app, "/v1/ai/stream-text", origin, "POST"))
            .await;
        assert_eq!(refused.status, 403, "{origin}");
        assert_eq!(e2e::error_code(&refused.body), "origin_not_allowed");
        assert_eq!(header(&refused, "access-control-allow-origin"), None);
    }
    let unknown = app
        .answer(preflight(&app, "/v1/nothing", WEB_APP, "GET"))
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn an_error_answer_is_readable_by_the_allowed_origin_only() {
    let app = TestApp::spawn().await;
    let from = |origin: &str| {
        app.http
            .get(app.stack.url("/v1/me"))
            .header("origin", origin)
    };
    let allowed = app.answer(from(WEB_APP)).await;
    assert_eq!(
        (allowed.status, e2e::error_code(&allowed.body)),
        (401, "missing_token")
    );
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(WEB_APP)
    );
    let exposed = header(&allowed, "access-control-expose-headers").unwrap();
    assert!(exposed.contains("x-request-id") && exposed.contains("retry-after"));
    assert_eq!(header(&allowed, "vary"), Some("Origin"));

    let other = app.answer(from("https://evil.example")).await;
    assert_eq!(other.status, 401);
    assert_eq!(header(&other, "access-control-allow-origin"), None);
    assert_eq!(header(&other, "vary"), Some("Origin"));
}

#[tokio::test]
async fn a_stream_carries_the_cors_headers() {
    let app = TestApp::spawn().await;
    let user = app.new_user().await;
    let response = e2e::send(
        app.request(
            Method::POST,
            "/v1/ai/stream-text",
            &user.token,
            Some(&json!({"prompt": "hi"})),
        )
        .header("origin", WEB_APP),
    )
    .await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert_eq!(headers["access-control-allow-origin"], WEB_APP);
    assert!(response.text().await.unwrap().contains("event: usage"));
}
