//! Run by `cargo xtask test` after it stops Postgres under the running worker.

use e2e::{error_code, Stack};

#[tokio::test]
#[ignore = "needs Postgres stopped; `cargo xtask test` runs it last"]
async fn readyz_turns_503_when_postgres_is_down() {
    let stack = Stack::from_env();
    let (status, body, _) = stack.get("/readyz", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (503, "database_unavailable"),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("127.0.0.1") && !message.contains("http"),
        "leaks internals: {message}"
    );
    // Liveness does not depend on the database.
    let (status, _, _) = stack.get("/healthz", None).await;
    assert_eq!(status, 200);
}
