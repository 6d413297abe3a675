use serde_json::json;

use e2e::app::TestApp;

#[tokio::test]
async fn healthz_answers_without_auth() {
    let app = TestApp::spawn().await;
    let (status, body, headers) = app.stack.get("/healthz", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn readyz_reaches_postgres_through_postgrest() {
    let app = TestApp::spawn().await;
    let (status, body, _) = app.stack.get("/readyz", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn request_id_is_echoed_when_sane_and_replaced_when_not() {
    let app = TestApp::spawn().await;
    let sent = app
        .stack
        .http
        .get(app.stack.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.headers()["x-request-id"], "abc-123");
    let hostile = "x".repeat(500);
    let replaced = app
        .stack
        .http
        .get(app.stack.url("/healthz"))
        .header("x-request-id", &hostile)
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(!id.is_empty() && id != hostile);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = TestApp::spawn().await;
    let (status, body, _) = app.stack.get("/nope", None).await;
    assert_eq!((status, e2e::error_code(&body)), (404, "not_found"));
    let response = app
        .stack
        .http
        .delete(app.stack.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(e2e::error_code(&body), "method_not_allowed");
}

#[tokio::test]
async fn openapi_document_is_served() {
    let app = TestApp::spawn().await;
    let (status, body, _) = app.stack.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(body["paths"]["/v1/me"]["get"].is_object());
}

/// Deep readiness on a test stack: Vault holds this worker's cron secret (Rust's digest and
/// SQL's agree), and the schedules a test stack pauses are named as the degraded part.
#[tokio::test]
async fn deep_readiness_names_the_paused_schedules_and_never_the_secret() {
    let app = TestApp::spawn().await;
    let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
    let (status, body, _) = app
        .stack
        .get("/readyz/deep", Some("not-the-cron-secret"))
        .await;
    assert_eq!((status, e2e::error_code(&body)), (403, "forbidden"));

    let (status, body, _) = app.stack.get("/readyz/deep", Some(&secret)).await;
    assert_eq!(
        (status, &body["status"]),
        (503, &json!("degraded")),
        "{body}"
    );
    let checks = &body["checks"];
    assert_eq!(checks["vault"], json!({ "ok": true, "problems": [] }));
    assert_eq!(checks["cron"]["ok"], false);
    assert!(
        checks["cron"]["problems"]
            .as_array()
            .unwrap()
            .contains(&json!("publish-due-posts is paused")),
        "{body}"
    );
    assert!(!body.to_string().contains(&secret));
}
