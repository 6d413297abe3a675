//! pg_net's contract, as pg_cron jobs use it: `net.http_get` / `net.http_post` enqueue, return a
//! request id at once, and the response lands in `net._http_response` after delivery.

use e2e::app::TestApp;

#[tokio::test]
async fn queued_requests_reach_the_worker_and_record_the_answer() {
    let app = TestApp::spawn().await;
    let get_id: i64 = app
        .db
        .query_one(
            "select net.http_get(url := $1)",
            &[&app.stack.url("/healthz")],
        )
        .await
        .unwrap()
        .get(0);
    let (status, content) = e2e::net_response(&app.db, get_id).await;
    assert_eq!(status, Some(200));
    assert!(content.unwrap().contains("ok"));

    let post_id: i64 = app
        .db
        .query_one(
            "select net.http_post(url := $1, body := '{\"from\": \"pg_cron\"}'::jsonb)",
            &[&app.stack.url("/healthz")],
        )
        .await
        .unwrap()
        .get(0);
    let (status, content) = e2e::net_response(&app.db, post_id).await;
    assert_eq!(status, Some(405), "the worker answered the POST itself");
    assert!(content.unwrap().contains("method_not_allowed"));
}

#[tokio::test]
async fn delivery_happens_only_after_the_enqueuing_transaction_commits() {
    let mut app = TestApp::spawn().await;
    let tx = app.db.transaction().await.unwrap();
    let id: i64 = tx
        .query_one(
            "select net.http_get(url := $1)",
            &[&app.stack.url("/healthz")],
        )
        .await
        .unwrap()
        .get(0);
    tx.rollback().await.unwrap();
    // The queue is served in id order: once a request committed after it has been delivered,
    // the rolled-back one would have been too.
    let later: i64 = app
        .db
        .query_one(
            "select net.http_get(url := $1)",
            &[&app.stack.url("/healthz")],
        )
        .await
        .unwrap()
        .get(0);
    assert!(later > id);
    let (status, _) = e2e::net_response(&app.db, later).await;
    assert_eq!(status, Some(200));
    let sent_or_queued = app
        .db
        .query_opt(
            "select 1 from net._http_response where id = $1 \
             union all select 1 from net.http_request_queue where id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert!(sent_or_queued.is_none(), "a rolled-back request was sent");
}

#[tokio::test]
async fn pg_cron_jobs_reach_the_worker_with_the_vault_secret() {
    let app = TestApp::spawn().await;
    let scheduled: String = app
        .db
        .query_one(
            "select command from cron.job where jobname = 'ai-credits-reset'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let id: i64 = app
        .db
        .query_one(
            &format!("select {}", scheduled.trim_start_matches("select ")),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let (status, content) = e2e::net_response(&app.db, id).await;
    assert_eq!(status, Some(200), "{content:?}");
    assert!(content.unwrap().contains("alreadyReset"));
}
