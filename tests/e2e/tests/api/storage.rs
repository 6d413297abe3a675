//! Storage cleanup: deleting a row that owns a Storage object queues the object, and the
//! worker's cron endpoint, as pg_cron calls it, removes it through the Storage API.

use e2e::app::TestApp;
use e2e::{error_code, Stack};
use serde_json::Value;

/// Uploads `name` to the `library` bucket as the service role.
async fn upload(stack: &Stack, name: &str) {
    let service = stack.keys.service_role_key();
    let response = stack
        .http
        .post(format!(
            "{}/storage/v1/object/library/{name}",
            stack.supabase_url
        ))
        .header("apikey", &service)
        .bearer_auth(&service)
        .header("content-type", "image/png")
        .body(vec![0x89, b'P', b'N', b'G'])
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}

async fn object_exists(stack: &Stack, name: &str) -> bool {
    let service = stack.keys.service_role_key();
    stack
        .http
        .get(format!(
            "{}/storage/v1/object/library/{name}",
            stack.supabase_url
        ))
        .header("apikey", &service)
        .bearer_auth(&service)
        .send()
        .await
        .unwrap()
        .status()
        .is_success()
}

#[tokio::test]
async fn objects_of_deleted_assets_are_removed_from_storage_by_the_scheduled_cleanup() {
    let app = TestApp::spawn().await;
    let team: String = app.db
        .query_one(
            "with owner as (insert into auth.users (instance_id, id, aud, role, email, created_at, updated_at) \
               values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', \
                       'authenticated', 'cleanup-' || gen_random_uuid() || '@example.com', now(), now()) \
               returning id) \
             insert into public.teams (name, created_by) select 'Cleanup', id from owner returning id::text",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let (kept, deleted) = (format!("{team}/kept.png"), format!("{team}/deleted.png"));
    for name in [&kept, &deleted] {
        upload(&app.stack, name).await;
        app.db
            .execute(
                "insert into public.content_library_assets (team_id, object_path, mime_type) \
             values ($1::text::uuid, $2, 'image/png')",
                &[&team, name],
            )
            .await
            .unwrap();
    }
    app.db
        .execute(
            "delete from public.content_library_assets where object_path = $1",
            &[&deleted],
        )
        .await
        .unwrap();
    assert!(
        object_exists(&app.stack, &deleted).await,
        "SQL cannot remove it"
    );

    let answer = e2e::run_scheduled(&app.db, "storage-cleanup").await;
    assert!(answer["removed"].as_u64().unwrap() >= 1, "{answer}");
    assert_eq!(answer["failed"], 0, "{answer}");
    assert!(!object_exists(&app.stack, &deleted).await);
    assert!(
        object_exists(&app.stack, &kept).await,
        "objects still in use stay"
    );
    let queued: i64 = app
        .db
        .query_one(
            "select count(*) from app_private.storage_cleanup_queue where object_name = $1",
            &[&deleted],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(queued, 0, "the entry is finished");
}

#[tokio::test]
async fn only_the_cron_secret_runs_the_cleanup() {
    let app = TestApp::spawn().await;
    let response = e2e::send(
        app.stack
            .http
            .post(app.stack.url("/v1/cron/storage/cleanup"))
            .bearer_auth(app.stack.keys.service_role_key()),
    )
    .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "forbidden");
}
