//! Content jobs through workerd, real Postgres, the Storage stand-in and the provider fakes: a
//! chain with snapshots and an image in Storage, a failed step resumed without repeating or
//! re-charging the steps before it, a dead executor's job swept and finished, idempotency keys,
//! cancellation, a 20-post batch with failures, and isolation between teams; background pacing
//! (issue #26): a batch beside a full chat window, a step the provider rate limits waiting for
//! the next sweep, a failed batch retried.

use std::time::Duration;

use e2e::app::{TestApp, User};
use e2e::social::unique;
use e2e::{error_code, settled, Stack};
use serde_json::{json, Value};

async fn send(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut request = stack
        .http
        .request(method, stack.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let response = e2e::send(request).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

/// A team owned by `owner`, on the AI `plan`, with a campaign.
async fn team_with_campaign(
    db: &tokio_postgres::Client,
    owner: &str,
    plan: &str,
) -> (String, String) {
    let team: String = db
        .query_one(
            "with t as (insert into public.teams (name, created_by) values ('Jobs team', $1::text::uuid) returning id) \
             insert into public.team_members (team_id, user_id, role) select id, $1::text::uuid, 'owner' from t \
             returning team_id::text",
            &[&owner],
        )
        .await
        .unwrap()
        .get(0);
    db.execute(
        "insert into public.ai_subjects (subject_id, plan) values ($1::text::uuid, $2)",
        &[&team, &plan],
    )
    .await
    .unwrap();
    let campaign: String = db
        .query_one(
            "insert into public.campaigns (team_id, name, tone) values ($1::text::uuid, 'Spring launch', 'warm') \
             returning id::text",
            &[&team],
        )
        .await
        .unwrap()
        .get(0);
    (team, campaign)
}

/// Polls the job until it is in one of `states`.
async fn wait_for_job(stack: &Stack, token: &str, id: &str, states: &[&str]) -> Value {
    wait_until_job(stack, token, id, |job| {
        states.contains(&job["state"].as_str().unwrap_or_default())
    })
    .await
}

/// Polls the job until `reached` holds for it.
async fn wait_until_job(
    stack: &Stack,
    token: &str,
    id: &str,
    reached: impl Fn(&Value) -> bool,
) -> Value {
    e2e::assert_side_effects_countable();
    for _ in 0..600 {
        let (status, job, _) = stack.get(&format!("/v1/jobs/{id}"), Some(token)).await;
        assert_eq!(status, 200, "{job}");
        if reached(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never reached the state waited for");
}

/// Polls the batch until all its posts are finished (`done`, `partial` or `failed`).
async fn wait_for_batch(app: &TestApp, token: &str, id: &str) -> Value {
    e2e::assert_side_effects_countable();
    for _ in 0..600 {
        let (status, batch) = app.get_json(&format!("/v1/batches/{id}"), token).await;
        assert_eq!(status, 200, "{batch}");
        if batch["state"] != "running" {
            return batch;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("batch {id} never finished");
}

/// The AI requests of a user's jobs: (status, endpoint, credits), oldest first.
async fn job_requests(db: &tokio_postgres::Client, user: &str) -> Vec<(String, String, i64)> {
    settled(db, user).await;
    db.query(
        "select status::text, endpoint, coalesce(credits, 0) from public.ai_requests \
         where user_id = $1::text::uuid and endpoint like 'jobs/%' order by created_at",
        &[&user],
    )
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2)))
    .collect()
}

/// What the caller's token reads through PostgREST (RLS).
async fn rest_rows(stack: &Stack, token: &str, path: &str) -> Vec<Value> {
    let response = stack
        .http
        .get(format!("{}/rest/v1/{path}", stack.supabase_url))
        .header("apikey", stack.keys.anon_key())
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_mixed_provider_chain_completes_with_snapshots_an_image_in_storage_and_a_draft() {
    let app = TestApp::spawn().await;
    let User {
        id: alice,
        token: alice_token,
    } = app.new_user().await;
    let User {
        id: _,
        token: bob_token,
    } = app.new_user().await;
    let (team, campaign) = team_with_campaign(&app.db, &alice, "team").await;

    let chain = json!([
        {"kind": "draft", "provider": "openai"},
        {"kind": "refine", "provider": "xai", "model": "grok-3-mini"},
        {"kind": "image_prompt"},
        {"kind": "image", "provider": "openai"},
        {"kind": "moderation", "instructions": "<<reply:{\"flagged\": false, \"categories\": []}>>"},
    ]);
    let (status, accepted) = app.post_json("/v1/jobs",
        &alice_token,
        json!({"prompt": "Spring collection launch", "brandVoice": "playful", "platforms": ["instagram", "x"],
               "teamId": team, "campaignId": campaign, "chain": chain}),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    assert_eq!(
        accepted["state"], "queued",
        "answered before the chain runs"
    );

    let job = wait_for_job(&app.stack, &alice_token, &id, &["done", "failed"]).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        job["progress"],
        json!({"completedSteps": 5, "totalSteps": 5, "percent": 100})
    );
    assert_eq!(
        job["brief"]["context"]["campaign"]["name"], "Spring launch",
        "the campaign is snapshotted"
    );
    let steps = job["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    for (index, step) in steps.iter().enumerate() {
        assert_eq!(step["stepIndex"], index);
        assert_eq!(step["status"], "succeeded", "{step}");
        assert_eq!(step["attempt"], 1);
        assert!(step["input"]["prompt"].as_str().unwrap().len() > 10);
        assert!(step["aiRequestId"].is_string() && step["latencyMs"].is_number());
        assert!(
            step["credits"].as_i64().unwrap() >= 1,
            "each step is charged: {step}"
        );
    }
    assert_eq!(
        (&steps[0]["provider"], &steps[1]["provider"]),
        (&json!("openai"), &json!("xai"))
    );
    assert_eq!(steps[1]["model"], "grok-3-mini");
    assert!(
        steps[1]["input"]["prompt"]
            .as_str()
            .unwrap()
            .contains(steps[0]["output"]["text"].as_str().unwrap()),
        "refine works on the draft"
    );
    assert_eq!(steps[4]["output"]["flagged"], false);
    assert_eq!(job["result"]["text"], steps[1]["output"]["text"]);
    assert_eq!(job["result"]["imagePrompt"], steps[2]["output"]["text"]);

    // The image: in the team's folder of the private bucket, recorded, and served by its signed URL.
    let assets = job["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 1, "{job}");
    let asset = &assets[0];
    assert_eq!(
        (&asset["mimeType"], &asset["width"], &asset["height"]),
        (&json!("image/png"), &json!(1), &json!(1))
    );
    assert_eq!(asset["stepIndex"], 3);
    assert!(asset["storagePath"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{team}/{id}/")));
    let download = app
        .stack
        .http
        .get(asset["signedUrl"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let bytes = download.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    assert_eq!(bytes.len() as i64, asset["sizeBytes"].as_i64().unwrap());

    // Metered: five settled requests billed to the team.
    let requests = job_requests(&app.db, &alice).await;
    assert_eq!(requests.len(), 5, "{requests:?}");
    assert!(requests.iter().all(|(status, _, _)| status == "succeeded"));
    assert_eq!(requests[3].1, "jobs/image");
    let billed: i64 = app.db
        .query_one(
            "select count(*) from public.ai_requests where subject_id = $1::text::uuid and endpoint like 'jobs/%'",
            &[&team],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(billed, 5, "the team pays for a team job");

    // Readable by the team through PostgREST; not by anyone else, through either door.
    assert_eq!(
        rest_rows(
            &app.stack,
            &alice_token,
            &format!("content_job_steps?job_id=eq.{id}")
        )
        .await
        .len(),
        5
    );
    let (status, body) = app.get_json(&format!("/v1/jobs/{id}"), &bob_token).await;
    assert_eq!((status, error_code(&body)), (404, "job_not_found"));
    assert!(
        rest_rows(&app.stack, &bob_token, &format!("content_jobs?id=eq.{id}"))
            .await
            .is_empty()
    );
    assert!(
        rest_rows(&app.stack, &bob_token, &format!("assets?job_id=eq.{id}"))
            .await
            .is_empty()
    );
    assert!(rest_rows(
        &app.stack,
        &bob_token,
        &format!("content_job_steps?job_id=eq.{id}")
    )
    .await
    .is_empty());
    let (_, listed) = app.get_json("/v1/jobs", &bob_token).await;
    assert_eq!(listed["jobs"], json!([]));
    let object = format!(
        "{}/storage/v1/object/authenticated/generated-assets/{}",
        app.stack.supabase_url,
        asset["storagePath"].as_str().unwrap()
    );
    let as_bob = app
        .stack
        .http
        .get(&object)
        .header("apikey", app.stack.keys.anon_key())
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap();
    assert_ne!(
        as_bob.status(),
        200,
        "another user cannot download the object"
    );
    let as_alice = app
        .stack
        .http
        .get(&object)
        .header("apikey", app.stack.keys.anon_key())
        .bearer_auth(&alice_token)
        .send()
        .await
        .unwrap();
    assert_eq!(as_alice.status(), 200, "a member can");

    // Into a content draft, once.
    let (status, draft) = app
        .post_json(&format!("/v1/jobs/{id}/draft"), &bob_token, json!({}))
        .await;
    assert_eq!(status, 404, "{draft}");
    let (status, draft) = app
        .post_json(
            &format!("/v1/jobs/{id}/draft"),
            &alice_token,
            json!({"title": "Spring"}),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    let draft_id = draft["draftId"].as_str().unwrap().to_owned();
    let row = app.db
        .query_one(
            "select platform_contents, campaign_id::text, title from public.content_drafts where id = $1::text::uuid",
            &[&draft_id],
        )
        .await
        .unwrap();
    let contents: Value = row.get(0);
    assert_eq!(contents["instagram"]["content"], job["result"]["text"]);
    assert_eq!(contents["x"]["media_type"], "image");
    assert_eq!(contents["x"]["image_source"], "ai_generated");
    assert_eq!(row.get::<_, String>(1), campaign);
    let linked = rest_rows(
        &app.stack,
        &alice_token,
        &format!("assets?draft_id=eq.{draft_id}"),
    )
    .await;
    assert_eq!(linked.len(), 1, "the image is attached to the draft");
    let (status, again) = app
        .post_json(&format!("/v1/jobs/{id}/draft"), &alice_token, json!({}))
        .await;
    assert_eq!((status, &again["draftId"]), (200, &json!(draft_id)));
}

#[tokio::test]
async fn a_failed_step_resumes_without_repeating_or_recharging_the_steps_before_it() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    let marker = format!("[fail-once:resume-{user}]");
    let (status, accepted) = app
        .post_json(
            "/v1/jobs",
            &token,
            json!({"prompt": "Autumn sale", "chain": [
            {"kind": "draft"}, {"kind": "refine"}, {"kind": "image_prompt", "instructions": marker},
            {"kind": "image"}, {"kind": "moderation"}]}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let failed = wait_for_job(&app.stack, &token, &id, &["failed", "done"]).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(
        (&failed["failedStep"], &failed["errorCode"]),
        (&json!(2), &json!("provider_auth_failed"))
    );
    assert!(
        !failed["errorMessage"]
            .as_str()
            .unwrap()
            .contains("raw provider text"),
        "never the provider's body"
    );
    let before = failed["steps"].as_array().unwrap().clone();
    assert_eq!(
        before
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["succeeded", "succeeded", "failed"]
    );
    let charged_before = job_requests(&app.db, &user).await;
    assert_eq!(
        charged_before
            .iter()
            .map(|(s, _, _)| s.as_str())
            .collect::<Vec<_>>(),
        ["succeeded", "succeeded", "failed"],
        "the failed step's reservation was released"
    );

    let (status, body) = app
        .post_json(&format!("/v1/jobs/{id}/retry"), &token, json!({}))
        .await;
    assert_eq!((status, &body["state"]), (202, &json!("queued")), "{body}");
    let done = wait_for_job(&app.stack, &token, &id, &["done", "failed"]).await;
    assert_eq!(done["state"], "done", "{done}");
    let after = done["steps"].as_array().unwrap();
    for index in 0..2 {
        assert_eq!(
            after[index], before[index],
            "step {index} was not run again"
        );
    }
    assert_eq!(after[2]["attempt"], 2, "the failed step ran again");
    assert_eq!(
        after[2]["input"], before[2]["input"],
        "with the same input: reproducible"
    );
    assert_eq!(done["attempts"], 2);

    let requests = job_requests(&app.db, &user).await;
    assert_eq!(
        requests
            .iter()
            .map(|(s, e, _)| (s.as_str(), e.as_str()))
            .collect::<Vec<_>>(),
        [
            ("succeeded", "jobs/draft"),
            ("succeeded", "jobs/refine"),
            ("failed", "jobs/image_prompt"),
            ("succeeded", "jobs/image_prompt"),
            ("succeeded", "jobs/image"),
            ("succeeded", "jobs/moderation"),
        ],
        "steps 1-2 were charged once"
    );
    let charged: i64 = requests.iter().map(|(_, _, credits)| credits).sum();
    let steps_credits: i64 = after.iter().map(|s| s["credits"].as_i64().unwrap()).sum();
    assert_eq!(
        charged, steps_credits,
        "the snapshots account for every credit charged"
    );
    let (used, reserved): (i64, i64) = {
        let row = app.db
            .query_one("select used, reserved from public.ai_credit_ledger where subject_id = $1::text::uuid", &[&user])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((used, reserved), (charged, 0));

    let (status, body) = app
        .post_json(&format!("/v1/jobs/{id}/retry"), &token, json!({}))
        .await;
    assert_eq!((status, error_code(&body)), (409, "invalid_job_state"));
}

/// A moderation step whose model gives no verdict fails its job (it is never read as "not
/// flagged"), and like every failed step it costs nothing.
#[tokio::test]
async fn a_moderation_step_without_a_verdict_fails_uncharged() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    let (status, accepted) = app
        .post_json(
            "/v1/jobs",
            &token,
            json!({"prompt": "Winter sale", "chain": [
                {"kind": "draft"}, {"kind": "moderation", "instructions": "[invalid-json]"}]}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap();
    let failed = wait_for_job(&app.stack, &token, id, &["failed", "done"]).await;
    assert_eq!(
        (
            &failed["state"],
            &failed["failedStep"],
            &failed["errorCode"]
        ),
        (&json!("failed"), &json!(1), &json!("invalid_model_output")),
        "{failed}"
    );
    let requests = job_requests(&app.db, &user).await;
    let charged: Vec<(&str, &str, bool)> = requests
        .iter()
        .map(|(status, endpoint, credits)| (status.as_str(), endpoint.as_str(), *credits > 0))
        .collect();
    assert_eq!(
        charged,
        [
            ("succeeded", "jobs/draft", true),
            ("failed", "jobs/moderation", false)
        ]
    );
}

#[tokio::test]
async fn a_job_whose_executor_died_is_swept_and_finished_from_where_it_stopped() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    let chain = json!([{"kind": "draft"}, {"kind": "refine"}, {"kind": "moderation"}]);
    // Queued straight in the database (no executor dispatched), then a dead executor's work:
    // step 0 done, step 1 started, the lease run out.
    let id: String = app.db
        .query_one(
            "select (public.create_content_job(user_id => $1::text::uuid, brief => $2::text::jsonb, chain => $3::text::jsonb)) ->> 'job_id'",
            &[&user, &json!({"prompt": "Winter drinks", "platforms": ["instagram"]}).to_string(), &chain.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    let dead = "00000000-0000-4000-8000-00000000dead";
    app.db.batch_execute(&format!(
        "select public.claim_content_jobs(worker_id => '{dead}', max_jobs => 1, lease_seconds => 150, job_id => '{id}');
         select public.start_content_job_step('{id}', '{dead}', 0, 'draft', '{{\"prompt\": \"p\"}}', 150);
         select public.finish_content_job_step('{id}', '{dead}', 0, true, 7, 150, output => '{{\"text\": \"a draft from before the crash\"}}');
         select public.start_content_job_step('{id}', '{dead}', 1, 'refine', '{{\"prompt\": \"p\"}}', 150);
         update public.content_jobs set lease_expires_at = now() - interval '1 second' where id = '{id}';"
    ))
    .await
    .unwrap();

    let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
    let (status, body) = app
        .post_json("/v1/cron/jobs/sweep", "wrong-secret", json!({}))
        .await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));
    for (query, field) in [
        ("job_id=nope", "job_id"),
        ("batch_id=00000000-0000-4000-8000-000000000000", "lanes"),
        ("batch_id=00000000-0000-4000-8000-000000000000&lanes=21", "lanes"),
        (
            "job_id=00000000-0000-4000-8000-000000000000&batch_id=00000000-0000-4000-8000-000000000000",
            "batch_id",
        ),
    ] {
        let (status, body) = app.post_json(&format!("/v1/cron/jobs/sweep?{query}"), &secret, json!({})).await;
        assert_eq!((status, error_code(&body), &body["error"]["field"]), (400, "invalid_request", &json!(field)), "{query}: {body}");
    }
    // Other tests' jobs can fill a sweep's lanes: sweep until this one has left the dead
    // executor (named in a sweep's answer, or taken by the drain a sweep started).
    let mut swept_ids = Vec::new();
    for _ in 0..20 {
        let (status, swept) = app
            .post_json("/v1/cron/jobs/sweep", &secret, json!({}))
            .await;
        assert_eq!(status, 200, "{swept}");
        swept_ids.extend(swept["jobIds"].as_array().unwrap().iter().cloned());
        let row = app.db
            .query_one(
                "select lease_owner::text, state::text from public.content_jobs where id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap();
        let (owner, state): (Option<String>, String) = (row.get(0), row.get(1));
        if swept_ids.contains(&json!(id)) {
            // The sweep runs what it claims before it answers (work after a response is cut).
            assert_eq!(state, "done", "the sweep answered before running its job");
        }
        if swept_ids.contains(&json!(id)) || owner.as_deref() != Some(dead) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let job = wait_for_job(&app.stack, &token, &id, &["done", "failed"]).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["attempts"], 2);
    let steps = job["steps"].as_array().unwrap();
    assert_eq!(
        steps[0]["output"]["text"], "a draft from before the crash",
        "step 0 kept, not rerun"
    );
    assert_eq!(steps[0]["attempt"], 1);
    assert_eq!(steps[1]["attempt"], 2, "the interrupted step ran again");
    assert!(steps[1]["input"]["prompt"]
        .as_str()
        .unwrap()
        .contains("a draft from before the crash"));
    let requests = job_requests(&app.db, &user).await;
    assert_eq!(
        requests.len(),
        2,
        "only the two unfinished steps called a provider: {requests:?}"
    );

    // Nothing left to sweep for this job: a second sweep does not take it.
    let (_, again) = app
        .post_json("/v1/cron/jobs/sweep", &secret, json!({}))
        .await;
    assert!(!again["jobIds"].as_array().unwrap().contains(&json!(id)));
}

/// Cancelling a job while a step runs: that step finishes and is recorded (and charged), and no
/// later step starts.
#[tokio::test]
async fn cancelling_a_running_job_lets_its_step_finish_and_starts_no_other() {
    let mut app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    // Created with its pg_net call withdrawn in the same transaction: this test runs the job.
    let created = app.db.transaction().await.unwrap();
    let id: String = created
        .query_one(
            "select (public.create_content_job(user_id => $1::text::uuid, \
             brief => '{\"prompt\": \"A slow brief [delay:1500]\"}', \
             chain => '[{\"kind\": \"draft\"}, {\"kind\": \"refine\"}]')) ->> 'job_id'",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    created
        .execute(
            "delete from net.http_request_queue where url like '%job_id=' || $1",
            &[&id],
        )
        .await
        .unwrap();
    created.commit().await.unwrap();

    let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
    let sweep_path = format!("/v1/cron/jobs/sweep?job_id={id}");
    let sweep = app.post_json(&sweep_path, &secret, json!({}));
    let cancel_while_the_draft_runs = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let running = app
                .db
                .query_opt(
                    "select 1 from public.content_job_steps where job_id = $1::text::uuid \
                     and step_index = 0 and status = 'running'",
                    &[&id],
                )
                .await
                .unwrap();
            if running.is_some() {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the draft never ran");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.post_json(&format!("/v1/jobs/{id}/cancel"), &token, json!({}))
            .await
    };
    // The sweep answers once its executor has returned.
    let ((status, swept), (canceled, body)) = tokio::join!(sweep, cancel_while_the_draft_runs);
    assert_eq!(status, 200, "{swept}");
    assert_eq!(swept["jobIds"], json!([id]));
    assert_eq!(
        (canceled, &body["state"]),
        (200, &json!("canceled")),
        "{body}"
    );

    let job = wait_for_job(&app.stack, &token, &id, &["canceled"]).await;
    let steps: Vec<(&Value, &Value)> = job["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| (&step["stepIndex"], &step["status"]))
        .collect();
    assert_eq!(steps, [(&json!(0), &json!("succeeded"))], "{job}");
    let requests = job_requests(&app.db, &user).await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        (requests[0].0.as_str(), requests[0].1.as_str()),
        ("succeeded", "jobs/draft")
    );
    assert!(requests[0].2 >= 1, "the finished step is charged");
}

#[tokio::test]
async fn idempotency_keys_validation_and_cancellation() {
    let app = TestApp::spawn().await;
    let User { id: _, token } = app.new_user().await;
    let User {
        id: _,
        token: other_token,
    } = app.new_user().await;
    let body = json!({"prompt": "Idempotent brief", "chain": [{"kind": "draft"}]});
    let key = format!("key-{}", std::process::id());
    let create = |token: &str, body: Value| {
        let (app, key) = (&app, key.clone());
        let token = token.to_owned();
        async move {
            send(
                &app.stack,
                reqwest::Method::POST,
                "/v1/jobs",
                &token,
                Some(body),
                Some(&key),
            )
            .await
        }
    };
    let (status, first, headers) = create(&token, body.clone()).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(headers["idempotent-replayed"], "false");
    let (status, replay, headers) = create(&token, body.clone()).await;
    assert_eq!(
        (status, &replay["id"]),
        (202, &first["id"]),
        "the same key returns the same job"
    );
    assert_eq!(headers["idempotent-replayed"], "true");
    let (status, changed, _) = create(
        &token,
        json!({"prompt": "Something else", "chain": [{"kind": "draft"}]}),
    )
    .await;
    assert_eq!(
        (status, error_code(&changed)),
        (422, "idempotency_key_reused")
    );
    let (status, theirs, _) = create(&other_token, body.clone()).await;
    assert_eq!(status, 202);
    assert_ne!(theirs["id"], first["id"], "keys are per user");

    for (request, field) in [
        (json!({}), "prompt"),
        (
            json!({"prompt": "x", "chain": [{"kind": "draft"}, {"kind": "paint"}]}),
            "chain[1].kind",
        ),
        (
            json!({"prompt": "x", "chain": [{"kind": "draft", "provider": "acme"}]}),
            "chain[0].provider",
        ),
        (
            json!({"prompt": "x", "platforms": ["myspace"]}),
            "platforms",
        ),
        (
            json!({"prompt": "x", "campaignId": "11111111-1111-4111-8111-111111111111"}),
            "campaignId",
        ),
        (json!({"prompt": "x", "teamId": "nope"}), "teamId"),
    ] {
        let (status, body) = app.post_json("/v1/jobs", &token, request.clone()).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "invalid_request"),
            "{request}"
        );
        assert_eq!(body["error"]["field"], field, "{request}");
    }
    let (status, body) = app
        .post_json(
            "/v1/jobs",
            &token,
            json!({"prompt": "x", "teamId": "11111111-1111-4111-8111-111111111111"}),
        )
        .await;
    assert_eq!((status, error_code(&body)), (403, "not_team_member"));

    // Cancel: a job no executor has claimed yet.
    let user: String = app
        .db
        .query_one(
            "select user_id::text from public.content_jobs where id = $1::text::uuid",
            &[&first["id"].as_str().unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    let queued: String = app.db
        .query_one(
            "select (public.create_content_job(user_id => $1::text::uuid, brief => '{\"prompt\": \"later\"}', \
             chain => '[{\"kind\": \"draft\"}]')) ->> 'job_id'",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    let (status, _) = app
        .post_json(
            &format!("/v1/jobs/{queued}/cancel"),
            &other_token,
            json!({}),
        )
        .await;
    assert_eq!(status, 404, "others cannot see it, let alone cancel it");
    let (status, body) = app
        .post_json(&format!("/v1/jobs/{queued}/cancel"), &token, json!({}))
        .await;
    assert_eq!(
        (status, &body["state"]),
        (200, &json!("canceled")),
        "{body}"
    );
    let (status, body) = app
        .post_json(&format!("/v1/jobs/{queued}/cancel"), &token, json!({}))
        .await;
    assert_eq!((status, error_code(&body)), (409, "invalid_job_state"));
    let (_, listed) = app.get_json("/v1/jobs?state=canceled", &token).await;
    assert_eq!(listed["jobs"].as_array().unwrap().len(), 1, "{listed}");
    let (status, body) = app.get_json("/v1/jobs?state=lost", &token).await;
    assert_eq!((status, &body["error"]["field"]), (400, &json!("state")));
    let (_, page) = app
        .get_json("/v1/jobs?limit=1&since=2020-01-01", &token)
        .await;
    assert_eq!(
        (page["jobs"].as_array().unwrap().len(), &page["nextOffset"]),
        (1, &json!(1))
    );
    let (status, _) = app.get_json("/v1/jobs/not-a-uuid", &token).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_batch_of_twenty_posts_survives_three_failures_with_monotone_progress() {
    let app = TestApp::spawn().await;
    let User { id: owner, token } = app.new_user().await;
    let User {
        id: _,
        token: outsider_token,
    } = app.new_user().await;
    let (_, campaign) = team_with_campaign(&app.db, &owner, "team").await;
    let failing = [3, 9, 15];
    let posts: Vec<Value> = (0..20)
        .map(|i| {
            let fault = if failing.contains(&i) {
                " [fault:401]"
            } else {
                ""
            };
            json!({"prompt": format!("Post {i} of the spring batch{fault}")})
        })
        .collect();
    let path = format!("/v1/campaigns/{campaign}/batches");

    let (status, body) = app
        .post_json(
            &path,
            &token,
            json!({"posts": vec![json!({"prompt": "x"}); 101]}),
        )
        .await;
    assert_eq!((status, &body["error"]["field"]), (400, &json!("posts")));
    let (status, body) = app
        .post_json(
            &path,
            &token,
            json!({"posts": [{"prompt": "x"}, {"platforms": ["x"]}]}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("posts[1].prompt"))
    );
    let (status, body) = app
        .post_json(&path, &outsider_token, json!({"posts": [{"prompt": "x"}]}))
        .await;
    assert_eq!((status, error_code(&body)), (404, "campaign_not_found"));

    let (status, accepted) = app.post_json(&path,
        &token,
        json!({"posts": posts, "chain": [{"kind": "draft"}, {"kind": "refine"}], "concurrency": 5,
               "platforms": ["linkedin"]}),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let batch_id = accepted["id"].as_str().unwrap().to_owned();
    // Three executors beside the batch's own five lanes: the cap, not the number of lanes, is
    // what must keep its jobs to five at once (the sweep runs what it claims, then answers).
    let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
    let extra_lanes = format!("/v1/cron/jobs/sweep?batch_id={batch_id}&lanes=3");
    let (status, swept) = app.post_json(&extra_lanes, &secret, json!({})).await;
    assert_eq!(status, 200, "{swept}");

    let (mut last_completed, mut last_finished, mut observations) = (0, 0, 0);
    let batch = loop {
        let (status, batch) = app
            .get_json(&format!("/v1/batches/{batch_id}"), &token)
            .await;
        assert_eq!(status, 200, "{batch}");
        let completed = batch["completed"].as_i64().unwrap();
        let finished = completed + batch["failed"].as_i64().unwrap();
        let state = batch["state"].as_str().unwrap().to_owned();
        assert!(
            completed >= last_completed && finished >= last_finished,
            "progress went back: {batch}"
        );
        assert_eq!(batch["total"], 20);
        (last_completed, last_finished) = (completed, finished);
        observations += 1;
        if state != "running" {
            assert_eq!(state, "partial", "3 of 20 failed: {batch}");
            break batch;
        }
        assert!(observations < 1_500, "the batch never finished: {batch}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        (&batch["completed"], &batch["failed"]),
        (&json!(17), &json!(3)),
        "{batch}"
    );
    let posts = batch["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 20);
    for post in posts {
        let index = post["index"].as_u64().unwrap();
        if failing.contains(&index) {
            assert_eq!(post["state"], "failed");
            assert_eq!(post["error"]["code"], "provider_auth_failed", "{post}");
        } else {
            assert_eq!(post["state"], "done", "{post}");
        }
    }

    // The cap held: never more than 5 of the batch's jobs ran at once, with 8 executors. Read
    // from the steps' run times: a job that waited for its rate limit keeps its first
    // `started_at` but ran nothing meanwhile, while a step's row holds its last run.
    let overlap: i64 = app.db
        .query_one(
            "select max(c) from (select (select count(distinct o.job_id) \
               from public.content_job_steps as o join public.content_jobs as oj on oj.id = o.job_id \
               where oj.batch_id = j.batch_id and o.started_at <= s.started_at \
                 and coalesce(o.finished_at, 'infinity') > s.started_at) as c \
             from public.content_job_steps as s join public.content_jobs as j on j.id = s.job_id \
             where j.batch_id = $1::text::uuid) as t",
            &[&batch_id],
        )
        .await
        .unwrap()
        .get(0);
    assert!(overlap <= 5, "{overlap} jobs ran at once");

    let (_, history) = app.get_json(&path, &token).await;
    assert_eq!(history["batches"][0]["id"], json!(batch_id));
    let (_, failed) = app
        .get_json(&format!("/v1/jobs?batchId={batch_id}&state=failed"), &token)
        .await;
    assert_eq!(failed["jobs"].as_array().unwrap().len(), 3);
    let (status, _) = app
        .get_json(&format!("/v1/batches/{batch_id}"), &outsider_token)
        .await;
    assert_eq!(status, 404);
    let (_, none) = app.get_json(&path, &outsider_token).await;
    assert_eq!(none["batches"], json!([]));
}

/// A batch's steps are paced by the submitter's background window, not the interactive one: a
/// user who used up their chat window that minute still gets every post of their batch.
#[tokio::test]
async fn a_batch_completes_while_its_submitter_has_used_up_the_chat_window() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        let user = app.new_user().await;
        let (_, campaign) = team_with_campaign(&app.db, &user.id, "free").await;
        let (started_in, _) = app.rate_window("1 minute").await;
        assert_eq!(
            app.exhaust_ai_window(&user).await,
            10,
            "the free plan's interactive window"
        );
        let posts: Vec<Value> = (0..3)
            .map(|i| json!({"prompt": format!("Post {i} beside a busy chat")}))
            .collect();
        let (status, accepted) = app
            .post_json(
                &format!("/v1/campaigns/{campaign}/batches"),
                &user.token,
                json!({"posts": posts, "chain": [{"kind": "draft"}]}),
            )
            .await;
        assert_eq!(status, 202, "{accepted}");
        let batch = wait_for_batch(&app, &user.token, accepted["id"].as_str().unwrap()).await;
        // Evidence only when every step was reserved while the chat window was still full.
        let last_step_in: Option<String> = app
            .db
            .query_one(
                "select date_bin('1 minute', max(created_at), timestamptz '2000-01-01 00:00:00+00')::text \
                 from public.ai_requests where user_id = $1::text::uuid and endpoint = 'jobs/draft'",
                &[&user.id],
            )
            .await
            .unwrap()
            .get(0);
        if last_step_in.as_deref() != Some(started_in.as_str()) {
            continue;
        }
        assert_eq!(
            (&batch["state"], &batch["completed"], &batch["failed"]),
            (&json!("done"), &json!(3), &json!(0)),
            "{batch}"
        );
        return;
    }
    panic!("three tries each straddled a minute boundary");
}

/// A step its provider refuses with 429 past the call's own retries does not fail: the job
/// waits (queued) for the provider's Retry-After, and the sweep pg_cron requests finishes it.
#[tokio::test]
async fn a_step_the_provider_rate_limits_waits_and_a_later_sweep_completes_it() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    // Refused six times: the call's three attempts at its provider and three at the fallback.
    let prompt = format!("Launch day {} [throttled:6]", unique("throttled"));
    let (status, accepted) = app
        .post_json(
            "/v1/jobs",
            &token,
            json!({"prompt": prompt, "chain": [{"kind": "draft"}]}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["id"].as_str().unwrap().to_owned();
    let waiting = wait_until_job(&app.stack, &token, &id, |job| {
        job["waitReason"].is_string() || job["state"] == "done" || job["state"] == "failed"
    })
    .await;
    assert_eq!(
        (&waiting["state"], &waiting["waitReason"]),
        (&json!("queued"), &json!("provider_rate_limited")),
        "the job waits instead of failing: {waiting}"
    );
    assert!(waiting["runAfter"].is_string(), "{waiting}");
    assert_eq!(
        (
            &waiting["steps"][0]["status"],
            &waiting["steps"][0]["errorCode"]
        ),
        (&json!("waiting"), &json!("provider_rate_limited"))
    );

    // As pg_cron does every minute: the sweep takes the job once its wait is over.
    let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
    let done = wait_until_job(&app.stack, &token, &id, |job| {
        job["state"] == "done" || job["state"] == "failed"
    });
    let sweeps = async {
        loop {
            let (status, swept) = app
                .cron(&format!("/v1/cron/jobs/sweep?job_id={id}"), &secret)
                .await;
            assert_eq!(status, 200, "{swept}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let done = tokio::select! {
        done = done => done,
        () = sweeps => unreachable!("the sweeps never end"),
    };
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(
        (&done["steps"][0]["status"], &done["steps"][0]["attempt"]),
        (&json!("succeeded"), &json!(2)),
        "the step that waited ran again"
    );
    assert_eq!(done["waitReason"], Value::Null);
    let requests = job_requests(&app.db, &user).await;
    assert_eq!(
        requests
            .iter()
            .map(|(status, _, credits)| (status.as_str(), *credits))
            .collect::<Vec<_>>(),
        [("failed", 0), ("succeeded", requests[1].2)],
        "the refused attempt was released, uncharged"
    );
}

/// A batch whose posts all failed ends `failed`, not `done`; retrying the batch runs its failed
/// posts again and it ends `done`.
#[tokio::test]
async fn a_batch_whose_posts_all_failed_is_failed_and_its_retry_completes_it() {
    let app = TestApp::spawn().await;
    let User { id: owner, token } = app.new_user().await;
    let outsider = app.new_user().await;
    let (_, campaign) = team_with_campaign(&app.db, &owner, "team").await;
    let posts: Vec<Value> = (0..2)
        .map(|i| json!({"prompt": format!("Refused once [fail-once:batch-{owner}-{i}]")}))
        .collect();
    let (status, accepted) = app
        .post_json(
            &format!("/v1/campaigns/{campaign}/batches"),
            &token,
            json!({"posts": posts, "chain": [{"kind": "draft"}]}),
        )
        .await;
    assert_eq!(status, 202, "{accepted}");
    let batch_id = accepted["id"].as_str().unwrap().to_owned();
    let failed = wait_for_batch(&app, &token, &batch_id).await;
    assert_eq!(
        (&failed["state"], &failed["completed"], &failed["failed"]),
        (&json!("failed"), &json!(0), &json!(2)),
        "{failed}"
    );

    let retry = format!("/v1/batches/{batch_id}/retry");
    let (status, body) = app.post_json(&retry, &outsider.token, json!({})).await;
    assert_eq!((status, error_code(&body)), (404, "batch_not_found"));
    let (status, body) = app.post_json(&retry, &token, json!({})).await;
    assert_eq!(
        (status, &body["state"], &body["retried"]),
        (202, &json!("running"), &json!(2)),
        "{body}"
    );
    let done = wait_for_batch(&app, &token, &batch_id).await;
    assert_eq!(
        (&done["state"], &done["completed"], &done["failed"]),
        (&json!("done"), &json!(2), &json!(0)),
        "{done}"
    );
    let (status, body) = app.post_json(&retry, &token, json!({})).await;
    assert_eq!((status, error_code(&body)), (409, "invalid_batch_state"));
}
