//! The AI proxy through workerd, real Postgres and the provider fakes (`tests/fakes`): each
//! endpoint, metering (settle, release, the allowance under 1,000 concurrent calls, the rate
//! limit), bring-your-own keys that are never readable, and the cron reset.

use e2e::app::{TestApp, User};
use e2e::{error_code, settled, Stack, DEV_PROXY_DROP};
use futures::StreamExt;
use serde_json::{json, Value};

async fn call(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = e2e::send(
        stack
            .http
            .request(method, stack.url(path))
            .bearer_auth(token)
            .json(&body),
    )
    .await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test]
async fn generate_text_json_and_image_with_the_platform_key_and_settle_usage() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;

    let (status, body, headers) = call(
        &app.stack,
        reqwest::Method::POST,
        "/v1/ai/generate-text",
        &token,
        json!({"prompt": "hello there"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["text"], "echo: hello there (key …-key)",
        "the platform key was used"
    );
    let timing = headers["server-timing"].to_str().unwrap();
    let steps: Vec<&str> = timing
        .split(", ")
        .map(|step| step.split(';').next().unwrap())
        .collect();
    assert_eq!(steps, ["auth", "reserve", "provider", "total"], "{timing}");
    // The fake reports 2 input and 7 output tokens: ceil(0.001 + 0.0105) = 1 credit.
    assert_eq!(app.ledger(&user).await, (1, 0));

    let (status, body) = app
        .post_json(
            "/v1/ai/generate-json",
            &token,
            json!({"prompt": "as json", "systemInstruction": "json"}),
        )
        .await;
    assert_eq!(
        (status, &body["data"]["echo"]),
        (200, &json!("echo: as json (key …-key)")),
        "{body}"
    );

    let (status, body) = app
        .post_json(
            "/v1/ai/generate-json",
            &token,
            json!({"prompt": "[invalid-json]"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (502, "invalid_model_output"),
        "{body}"
    );

    let (status, body) = app
        .post_json(
            "/v1/ai/generate-image",
            &token,
            json!({"prompt": "a cat", "numberOfImages": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["images"].as_array().unwrap().len(), 2);

    let logged: Vec<(String, String)> = requests(&app.db, &user)
        .await
        .into_iter()
        .map(|(endpoint, status, _, _)| (endpoint, status))
        .collect();
    let logged: Vec<(&str, &str)> = logged
        .iter()
        .map(|(endpoint, status)| (endpoint.as_str(), status.as_str()))
        .collect();
    assert_eq!(
        logged,
        [
            ("generate-text", "succeeded"),
            ("generate-json", "succeeded"),
            ("generate-json", "failed"),
            ("generate-image", "succeeded")
        ],
        "the answer that was an error is logged failed"
    );
}

/// `user`'s AI requests once settled, oldest first: endpoint, status, error code and credits.
async fn requests(
    db: &tokio_postgres::Client,
    user: &str,
) -> Vec<(String, String, Option<String>, Option<i64>)> {
    settled(db, user).await;
    db.query(
        "select endpoint, status::text, error_code, credits from public.ai_requests \
         where user_id = $1::text::uuid order by created_at, id",
        &[&user],
    )
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
    .collect()
}

#[tokio::test]
async fn invalid_bodies_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = app.stack.token(&e2e::ALICE);
    for (path, body, field) in [
        ("/v1/ai/generate-text", json!({}), "prompt"),
        (
            "/v1/ai/generate-text",
            json!({"prompt": "x", "useGoogleSearch": "yes"}),
            "useGoogleSearch",
        ),
        (
            "/v1/ai/generate-image",
            json!({"prompt": "x", "numberOfImages": 12}),
            "numberOfImages",
        ),
        ("/v1/ai/configs", json!({"provider": "bard"}), "provider"),
    ] {
        let method = if path == "/v1/ai/configs" {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let (status, body, _) = call(&app.stack, method, path, &token, body).await;
        assert_eq!(
            (status, error_code(&body), &body["error"]["field"]),
            (400, "invalid_request", &json!(field)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn provider_failures_release_the_reservation_and_map_to_stable_codes() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    for (prompt, status, code) in [
        ("[fault:500]", 503, "provider_unavailable"),
        ("[fault:401]", 502, "provider_auth_failed"),
        ("[fault:429]", 429, "provider_rate_limited"),
        ("[filtered]", 422, "content_filtered"),
    ] {
        let (got, body) = app
            .post_json("/v1/ai/generate-text", &token, json!({"prompt": prompt}))
            .await;
        assert_eq!((got, error_code(&body)), (status, code), "{body}");
        assert!(
            !body.to_string().contains("raw provider text"),
            "the provider's body leaked: {body}"
        );
    }
    assert_eq!(app.ledger(&user).await, (0, 0), "failures cost nothing");
}

#[tokio::test]
async fn byok_keys_are_used_but_never_readable() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    let secret = "sk-user-owned-SECRET-9876";
    let (status, body, _) = call(
        &app.stack,
        reqwest::Method::PUT,
        "/v1/ai/configs",
        &token,
        json!({"provider": "gemini", "apiKey": secret, "active": true, "models": {"text": "gemini-2.5-pro"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["hasApiKey"], &body["active"], &body["models"]["text"]),
        (&json!(true), &json!(true), &json!("gemini-2.5-pro"))
    );
    assert!(!body.to_string().contains(secret));

    let (status, body) = app
        .post_json(
            "/v1/ai/generate-text",
            &token,
            json!({"prompt": "grounded", "useGoogleSearch": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["text"], "echo: grounded (key …9876)",
        "the user's key reached Gemini"
    );
    assert_eq!(
        body["groundingChunks"][0]["web"]["uri"],
        "https://example.com/source"
    );

    // Through the Data API with the owner's own token: the key column is refused, hasApiKey shows.
    let rest = |select: &str| {
        app.stack
            .http
            .get(format!(
                "{}/rest/v1/ai_provider_configs?select={select}",
                app.stack.supabase_url
            ))
            .header("apikey", app.stack.keys.anon_key())
            .bearer_auth(&token)
            .send()
    };
    let refused = rest("encrypted_api_key").await.unwrap();
    assert!(!refused.status().is_success());
    assert!(!refused.text().await.unwrap().contains("9876"));
    let everything = rest("*").await.unwrap().text().await.unwrap();
    assert!(
        !everything.contains("9876") && !everything.contains("encrypted"),
        "{everything}"
    );
    let visible: Value = rest("provider,has_api_key")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        visible,
        json!([{"provider": "gemini", "has_api_key": true}])
    );

    let stored: String = app.db
        .query_one("select encrypted_api_key from public.ai_provider_configs where user_id = $1::text::uuid", &[&user])
        .await
        .unwrap()
        .get(0);
    assert!(!stored.contains(secret), "the key is stored encrypted");
    assert!(
        !app.stack.worker_log().contains(secret),
        "the key reached the log"
    );
}

#[tokio::test]
async fn a_thousand_concurrent_calls_on_a_hundred_credit_allowance_grant_exactly_a_hundred() {
    let app = TestApp::spawn().await;
    app.db.batch_execute(
        "insert into public.ai_plans values ('e2e-hundred', 100, 100000) on conflict do nothing;
         insert into public.ai_model_prices (provider, model, credits_per_request) values ('openai', 'e2e-flat', 1)
         on conflict do nothing;",
    )
    .await
    .unwrap();
    let User { id: user, token } = app.new_user_on_plan("e2e-hundred").await;
    let (status, body, _) = call(
        &app.stack,
        reqwest::Method::PUT,
        "/v1/ai/configs",
        &token,
        json!({"provider": "openai", "active": true, "models": {"text": "e2e-flat"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let calls = (0..1000).map(|i| {
        let (app, token) = (&app, &token);
        async move {
            let sent = app
                .stack
                .http
                .post(app.stack.url("/v1/ai/generate-text"))
                .bearer_auth(token)
                .json(&json!({"prompt": format!("call {i}")}))
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                // The dev server reset the connection before answering: as lost as its own
                // 503 (see below).
                Err(error) if e2e::reset_before_answer(&error).is_some() => {
                    return (503, format!("{DEV_PROXY_DROP} (client: {error})"))
                }
                // Anything else (a timeout, a refused connection, …) is no known drop.
                Err(error) => return (0, format!("<no answer: {error:?}>")),
            };
            let status = response.status().as_u16();
            match response.text().await {
                Ok(text) => (status, text),
                Err(error) => (0, format!("<{status} with an unreadable body: {error:?}>")),
            }
        }
    });
    // 100 in flight at a time. Under load, wrangler's local dev proxy (not the worker) answers
    // a few POSTs with its own 503 "Your worker restarted mid-request", or resets the
    // connection, whether or not they reached the worker: those are counted apart, and the
    // database says what was granted.
    let results: Vec<(u16, String)> = futures::stream::iter(calls)
        .buffer_unordered(100)
        .collect()
        .await;
    let dropped_by_dev_proxy = results
        .iter()
        .filter(|(status, text)| *status == 503 && text.starts_with(DEV_PROXY_DROP))
        .count();
    let unexpected: Vec<&(u16, String)> = results
        .iter()
        .filter(|(status, text)| {
            let refused = *status == 403
                && serde_json::from_str::<Value>(text)
                    .is_ok_and(|body| error_code(&body) == "credit_limit_reached");
            *status != 200 && !refused && !(*status == 503 && text.starts_with(DEV_PROXY_DROP))
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} unexpected answers, e.g. {:?}",
        unexpected.len(),
        unexpected.first()
    );
    assert!(
        dropped_by_dev_proxy <= 20,
        "{dropped_by_dev_proxy} dropped by the dev proxy"
    );
    let granted = results.iter().filter(|(status, _)| *status == 200).count();
    assert!(
        granted <= 100 && granted + dropped_by_dev_proxy >= 100,
        "{granted} granted, {dropped_by_dev_proxy} dropped"
    );
    let refused: Vec<Value> = results
        .iter()
        .filter(|(status, _)| *status == 403)
        .map(|(_, text)| serde_json::from_str(text).unwrap())
        .collect();
    assert_eq!(refused[0]["error"]["limit"], 100);
    assert_eq!(refused[0]["error"]["remaining"], 0);
    assert!(refused[0]["error"]["resetsAt"].is_string());
    assert_eq!(
        app.ledger(&user).await,
        (100, 0),
        "exactly the allowance was spent"
    );
    let succeeded: i64 = app.db
        .query_one(
            "select count(*) from public.ai_requests where user_id = $1::text::uuid and status = 'succeeded'",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(succeeded, 100, "exactly a hundred calls were granted");
}

#[tokio::test]
async fn a_call_past_the_plans_requests_per_minute_is_429_with_retry_after() {
    let app = TestApp::spawn().await;
    app.db
        .batch_execute(
            "insert into public.ai_plans (plan, monthly_credits, requests_per_minute) \
         values ('e2e-two-per-minute', 100000, 2) on conflict do nothing",
        )
        .await
        .unwrap();
    // Three calls within one minute window on a plan of two per minute: the third is refused.
    // When a minute boundary falls between them the window was never full: a fresh user
    // tries again (two boundaries are a minute apart, so the second try is within one window).
    for _ in 0..3 {
        let User { id: user, token } = app.new_user_on_plan("e2e-two-per-minute").await;
        let (started_in, left_before) = app.rate_window("1 minute").await;
        let mut answers = Vec::new();
        for i in 0..3 {
            answers.push(
                call(
                    &app.stack,
                    reqwest::Method::POST,
                    "/v1/ai/generate-text",
                    &token,
                    json!({ "prompt": format!("per minute {i}") }),
                )
                .await,
            );
        }
        let (ended_in, left_after) = app.rate_window("1 minute").await;
        if started_in != ended_in {
            continue;
        }
        let statuses: Vec<u16> = answers.iter().map(|(status, ..)| *status).collect();
        assert_eq!(statuses, [200, 200, 429], "{answers:?}");
        let (_, body, headers) = &answers[2];
        assert_eq!(error_code(body), "rate_limited", "{body}");
        let retry_after: i64 = headers
            .get("retry-after")
            .expect("a Retry-After header")
            .to_str()
            .unwrap()
            .parse()
            .expect("Retry-After in whole seconds");
        assert!(
            (1..=60).contains(&retry_after)
                && (left_after.max(1)..=left_before).contains(&retry_after),
            "Retry-After {retry_after}: the window had {left_before}..{left_after} s left"
        );
        assert_eq!(
            body["error"]["retryAfter"],
            json!(retry_after),
            "the body says it too: {body}"
        );
        // Every answer carries the window (IETF RateLimit fields and X-RateLimit-*): what is
        // left goes down with each call, and the refusal shows none left until Retry-After.
        for (answer, remaining) in answers.iter().zip([1, 0, 0]) {
            let field = |name: &str| {
                let value = answer.2.get(name);
                value.map(|value| value.to_str().unwrap().to_owned())
            };
            let reset = field("x-ratelimit-reset").expect("X-RateLimit-Reset");
            let reset: i64 = reset.parse().unwrap();
            assert!(
                (left_after.max(1)..=left_before).contains(&reset),
                "X-RateLimit-Reset {reset}: the window had {left_before}..{left_after} s left"
            );
            assert_eq!(
                [
                    field("ratelimit-policy"),
                    field("ratelimit"),
                    field("x-ratelimit-limit"),
                    field("x-ratelimit-remaining"),
                ],
                [
                    Some("\"ai\";q=2;w=60".to_owned()),
                    Some(format!("\"ai\";r={remaining};t={reset}")),
                    Some("2".to_owned()),
                    Some(remaining.to_string()),
                ],
                "{:?}",
                answer.2
            );
        }
        assert_eq!(
            answers[2].2["x-ratelimit-reset"].to_str().unwrap(),
            retry_after.to_string()
        );
        let counted: i32 = app
            .db
            .query_one(
                "select count from app_private.rate_windows \
                 where subject = $1::text::uuid and action = 'ai_request'",
                &[&user],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(counted, 2, "the refused call took no slot of the window");
        settled(&app.db, &user).await;
        let rows = app
            .db
            .query(
                "select status::text, coalesce(error_code, '') from public.ai_requests \
                 where user_id = $1::text::uuid order by created_at",
                &[&user],
            )
            .await
            .unwrap();
        let logged: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(
            logged,
            [
                ("succeeded".to_owned(), String::new()),
                ("succeeded".to_owned(), String::new()),
                ("rejected".to_owned(), "rate_limited".to_owned())
            ],
            "the refusal is logged and nothing is reserved for it"
        );
        return;
    }
    panic!("three tries each straddled a minute boundary");
}

/// A call refused for its credits leaves the rate window as it was: only granted calls count.
#[tokio::test]
async fn a_call_refused_for_its_credits_takes_no_slot_of_the_rate_window() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    app.db
        .execute(
            "insert into public.ai_credit_ledger (subject_id, period, allowance, used) \
             values ($1::text::uuid, app_private.ai_current_period(), 200, 200)",
            &[&user],
        )
        .await
        .unwrap();
    let (status, body, headers) = call(
        &app.stack,
        reqwest::Method::POST,
        "/v1/ai/generate-text",
        &token,
        json!({"prompt": "no credits left"}),
    )
    .await;
    assert_eq!((status, error_code(&body)), (403, "credit_limit_reached"));
    assert!(
        headers.get("ratelimit").is_none(),
        "no window was consulted"
    );
    let slots: i64 = app
        .db
        .query_one(
            "select count(*) from app_private.rate_windows where subject = $1::text::uuid",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(slots, 0, "the refused call counted in no window");
}

#[tokio::test]
async fn team_members_only_spend_team_credits() {
    let app = TestApp::spawn().await;
    let User {
        id: owner,
        token: owner_token,
    } = app.new_user().await;
    let User {
        id: _,
        token: outsider_token,
    } = app.new_user().await;
    let team: String = app
        .db
        .query_one(
            "insert into public.teams (name) values ('AI e2e') returning id::text",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    app.db.execute("insert into public.team_members (team_id, user_id, role) values ($1::text::uuid, $2::text::uuid, 'owner')", &[&team, &owner])
        .await
        .unwrap();
    let as_team = |token: &str| {
        app.stack
            .http
            .post(app.stack.url("/v1/ai/generate-text"))
            .bearer_auth(token.to_owned())
            .header("x-team-id", &team)
            .json(&json!({"prompt": "team"}))
            .send()
    };
    assert_eq!(as_team(&owner_token).await.unwrap().status(), 200);
    let refused = as_team(&outsider_token).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(
        error_code(&refused.json().await.unwrap()),
        "not_team_member"
    );
    assert_eq!(app.ledger(&team).await.0, 1);
}

#[tokio::test]
async fn the_cron_reset_needs_the_secret_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
    let (status, body) = app
        .post_json("/v1/cron/credits/reset", "wrong-secret", json!({}))
        .await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));

    // A call that never settled (its worker died): 7 credits reserved an hour ago.
    let User { id: user, token: _ } = app.new_user().await;
    let stale =
        "with period as (select date_trunc('month', now() at time zone 'utc')::date as p), \
         ledger as (insert into public.ai_credit_ledger (subject_id, period, allowance, reserved) \
           select $1::text::uuid, p, 100, 7 from period) \
         insert into public.ai_requests \
           (user_id, subject_id, period, endpoint, status, reserved_credits, created_at) \
         select $1::text::uuid, $1::text::uuid, p, 'generate-text', 'reserved', 7, \
           now() - interval '1 hour' from period";
    app.db.execute(stale, &[&user]).await.unwrap();

    let (status, first) = app
        .post_json("/v1/cron/credits/reset", &secret, json!({}))
        .await;
    assert_eq!(status, 200, "{first}");
    assert!(
        first["expiredReservations"].as_i64().unwrap() >= 1,
        "{first}"
    );
    let row = app.db
        .query_one(
            "select r.status::text, l.reserved from public.ai_requests as r \
             join public.ai_credit_ledger as l on l.subject_id = r.subject_id and l.period = r.period \
             where r.user_id = $1::text::uuid",
            &[&user],
        )
        .await
        .unwrap();
    let (status, reserved): (String, i64) = (row.get(0), row.get(1));
    assert_eq!(
        (status.as_str(), reserved),
        ("expired", 0),
        "the stale reservation is expired and its credits freed"
    );

    let (_, second) = app
        .post_json("/v1/cron/credits/reset", &secret, json!({}))
        .await;
    assert_eq!(second["alreadyReset"], true, "the month is reset once");
    assert_eq!(second["period"], first["period"]);
}

/// The `data` of each Server-Sent Event, with its `event` name (`None` for plain messages).
fn events(body: &str) -> Vec<(Option<String>, String)> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            let name = event
                .lines()
                .find_map(|line| line.strip_prefix("event: "))
                .map(str::to_owned);
            let data = event
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect::<Vec<_>>()
                .join("\n");
            (name, data)
        })
        .collect()
}

/// The user's one request once settled.
async fn settled_request(db: &tokio_postgres::Client, user: &str) -> (String, i32, i64) {
    settled(db, user).await;
    let row = db
        .query_one(
            "select status::text, coalesce(output_tokens, 0), coalesce(credits, 0) from public.ai_requests \
             where user_id = $1::text::uuid",
            &[&user],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn stream_text_sends_text_events_then_usage_and_settles_from_openai_and_gemini() {
    let app = TestApp::spawn().await;
    for provider in ["openai", "gemini"] {
        let User { id: user, token } = app.new_user().await;
        let (status, body, _) = call(
            &app.stack,
            reqwest::Method::PUT,
            "/v1/ai/configs",
            &token,
            json!({"provider": provider, "active": true}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let response = app
            .stack
            .http
            .post(app.stack.url("/v1/ai/stream-text"))
            .bearer_auth(&token)
            .json(&json!({"prompt": "stream me please"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        let events = events(&response.text().await.unwrap());
        let text: String = events
            .iter()
            .filter(|(name, _)| name.is_none())
            .map(|(_, data)| {
                serde_json::from_str::<Value>(data).unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(text, "echo: stream me please (key …-key)", "{provider}");
        assert!(
            events.len() > 3,
            "{provider}: the text arrived in pieces: {events:?}"
        );
        let (name, usage) = events.last().unwrap();
        assert_eq!(name.as_deref(), Some("usage"));
        assert_eq!(
            serde_json::from_str::<Value>(usage).unwrap()["outputTokens"],
            7,
            "{provider}"
        );
        assert_eq!(
            settled_request(&app.db, &user).await,
            ("succeeded".to_owned(), 7, 1),
            "{provider}"
        );
        assert_eq!(app.ledger(&user).await, (1, 0), "{provider}");
    }
}

#[tokio::test]
async fn a_refused_stream_is_an_error_response_and_costs_nothing() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    let (status, body) = app
        .post_json(
            "/v1/ai/stream-text",
            &token,
            json!({"prompt": "[fault:500]"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (503, "provider_unavailable"),
        "{body}"
    );
    assert_eq!(app.ledger(&user).await, (0, 0));
}

#[tokio::test]
async fn a_client_disconnect_mid_stream_still_settles() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    // The fake sends one word every 200 ms: about 6 s in all.
    let prompt = format!("[slow] {}", vec!["word"; 25].join(" "));
    let mut response = app
        .stack
        .http
        .post(app.stack.url("/v1/ai/stream-text"))
        .bearer_auth(&token)
        .json(&json!({ "prompt": prompt }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().expect("a first event");
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    drop(response);

    let (status, output_tokens, credits) = settled_request(&app.db, &user).await;
    assert_eq!(status, "succeeded");
    assert!(
        output_tokens > 0 && credits > 0,
        "what was produced is charged: {output_tokens} tokens, {credits} credits"
    );
    assert_eq!(app.ledger(&user).await.1, 0, "nothing stays reserved");
}

#[tokio::test]
async fn content_assistants_return_checked_structures() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user_on_plan("pro").await;
    // The fake answers JSON mode with the JSON scripted in the prompt as `<<reply:…>>`.
    let scripted = |reply: Value| format!("Some post text. <<reply:{reply}>>");

    let (status, body) = app
        .post_json(
            "/v1/ai/captions",
            &token,
            json!({"content": scripted(json!({"captions": ["one", "two", "three"]})), "count": 2}),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({"captions": ["one", "two"]})));

    let (status, body) = app
        .post_json(
            "/v1/ai/hashtags",
            &token,
            json!({"content": scripted(json!({"hashtags": ["#a", "b c"]}))}),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({"hashtags": ["#a", "#bc"]})));

    let (status, body) = app
        .post_json(
            "/v1/ai/improve",
            &token,
            json!({"caption": scripted(json!({"caption": "Better"})), "tone": "warm"}),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({"caption": "Better"})));

    let plan: serde_json::Map<String, Value> = (0..9)
        .map(|phase| (format!("D{phase}"), json!({"title": "t", "actions": []})))
        .collect();
    let (status, body) = app
        .post_json(
            "/v1/ai/generate-audit-plan",
            &token,
            json!({"campaignObjective": scripted(Value::Object(plan.clone()))}),
        )
        .await;
    assert_eq!(
        (status, &body),
        (200, &json!({ "plan": plan })),
        "the plan is wrapped as every assistant's answer is"
    );

    let feedback = json!({"sentiment": "positive", "score": 80, "reaction": "Nice.",
                          "concerns": ["price"], "suggestions": []});
    let (status, body) = app
        .post_json(
            "/v1/ai/simulate-feedback",
            &token,
            json!({"persona": {"name": "Ana", "age": 31}, "content": scripted(feedback.clone())}),
        )
        .await;
    assert_eq!((status, &body), (200, &json!({"feedback": feedback})));

    // Whatever else a model answers is refused, as an error that costs nothing.
    for (path, body) in [
        (
            "/v1/ai/captions",
            json!({"content": scripted(json!({"captions": [1]}))}),
        ),
        (
            "/v1/ai/hashtags",
            json!({"content": scripted(json!({"tags": ["#a"]}))}),
        ),
        (
            "/v1/ai/improve",
            json!({"caption": scripted(json!({"caption": " "}))}),
        ),
        (
            "/v1/ai/generate-audit-plan",
            json!({"campaignObjective": scripted(json!({"D0": {"title": "t"}}))}),
        ),
        (
            "/v1/ai/simulate-feedback",
            json!({"persona": {"name": "Ana"}, "content": scripted(json!({"score": 1}))}),
        ),
    ] {
        let (status, answer) = app.post_json(path, &token, body).await;
        assert_eq!(
            (status, error_code(&answer)),
            (502, "invalid_model_output"),
            "{path}: {answer}"
        );
    }
    let refused = &requests(&app.db, &user).await[5..];
    assert!(
        refused.iter().all(|(_, status, code, credits)| (
            status.as_str(),
            code.as_deref(),
            *credits
        ) == (
            "failed",
            Some("invalid_model_output"),
            Some(0)
        )),
        "{refused:?}"
    );

    let team: String = app
        .db
        .query_one(
            "insert into public.teams (name) values ('Assist e2e') returning id::text",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    app.db.execute("insert into public.team_members (team_id, user_id, role) values ($1::text::uuid, $2::text::uuid, 'owner')", &[&team, &user])
        .await
        .unwrap();
    let persona: String = app.db
        .query_one("insert into public.personas (team_id, name) values ($1::text::uuid, 'Stored') returning id::text", &[&team])
        .await
        .unwrap()
        .get(0);
    let (status, body) = app
        .post_json(
            "/v1/ai/simulate-feedback",
            &token,
            json!({"personaId": persona, "content": "A stored persona reads this."}),
        )
        .await;
    assert_eq!(
        (status, &body["feedback"]["sentiment"]),
        (200, &json!("positive")),
        "{body}"
    );

    let User {
        id: _,
        token: outsider,
    } = app.new_user().await;
    let (status, body) = app
        .post_json(
            "/v1/ai/simulate-feedback",
            &outsider,
            json!({"personaId": persona, "content": "x"}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (404, "resource_not_found"),
        "RLS hides other teams' personas"
    );
    let (status, body) = app
        .post_json(
            "/v1/ai/simulate-feedback",
            &outsider,
            json!({"content": "x"}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("personaId"))
    );
}

/// A newcomer's plain requests: the local fakes answer each assistant with a document of the
/// shape it asks for (recognised by its instructions), from OpenAI's and Gemini's fakes alike.
#[tokio::test]
async fn every_assistant_answers_a_plain_request_locally() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user_on_plan("pro").await;
    let post = json!({"content": "Our winter launch is here"});
    let checks: [(&str, Value, fn(&Value) -> bool); 5] = [
        ("/v1/ai/captions", post.clone(), |body| {
            body["captions"].as_array().is_some_and(|c| c.len() == 3)
        }),
        ("/v1/ai/hashtags", post.clone(), |body| {
            body["hashtags"][0]
                .as_str()
                .is_some_and(|tag| tag.starts_with('#'))
        }),
        (
            "/v1/ai/improve",
            json!({"caption": "Our winter launch"}),
            |body| body["caption"].is_string(),
        ),
        (
            "/v1/ai/generate-audit-plan",
            json!({"campaignObjective": "Grow sign-ups"}),
            |body| (0..9).all(|phase| body["plan"][format!("D{phase}")]["title"].is_string()),
        ),
        (
            "/v1/ai/simulate-feedback",
            json!({"persona": {"name": "Ana"}, "content": "Our winter launch"}),
            |body| body["feedback"]["reaction"].is_string(),
        ),
    ];
    for provider in ["openai", "gemini"] {
        let configured = json!({"provider": provider, "active": true});
        let (status, body) = put_config(&app.stack, &token, configured).await;
        assert_eq!(status, 200, "{body}");
        for (path, request, answers_its_schema) in &checks {
            let (status, body) = app.post_json(path, &token, request.clone()).await;
            assert!(
                status == 200 && answers_its_schema(&body),
                "{provider} {path}: {status} {body}"
            );
        }
    }
    let charged = requests(&app.db, &user).await;
    assert!(
        charged.len() == 10
            && charged
                .iter()
                .all(|(_, status, _, credits)| status == "succeeded" && credits > &Some(0)),
        "{charged:?}"
    );
}

/// The billing rule: a call whose caller gets an error costs nothing, on every AI endpoint; its
/// request is logged failed with the error's code.
#[tokio::test]
async fn a_call_answered_with_an_error_is_not_charged_on_any_ai_endpoint() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user_on_plan("pro").await;
    // The fake refuses the platform's key for this prompt: never retried, so quick.
    let refused = "[fault:401] our winter launch";
    let user_message = json!([{"role": "user", "content": refused}]);
    let calls = [
        ("/v1/ai/generate-text", json!({ "prompt": refused })),
        ("/v1/ai/generate-json", json!({ "prompt": refused })),
        ("/v1/ai/stream-text", json!({ "prompt": refused })),
        ("/v1/ai/generate-image", json!({ "prompt": refused })),
        ("/v1/ai/captions", json!({ "content": refused })),
        ("/v1/ai/hashtags", json!({ "content": refused })),
        ("/v1/ai/improve", json!({ "caption": refused })),
        (
            "/v1/ai/generate-audit-plan",
            json!({ "campaignObjective": refused }),
        ),
        (
            "/v1/ai/simulate-feedback",
            json!({"persona": {"name": "Ana"}, "content": refused}),
        ),
        ("/v1/ai/moderate", json!({ "text": refused })),
        ("/v1/chat/completions", json!({ "messages": user_message })),
        (
            "/v1/chat/completions",
            json!({"messages": user_message, "stream": true}),
        ),
    ];
    for (path, body) in &calls {
        let (status, answer, _) = call(
            &app.stack,
            reqwest::Method::POST,
            path,
            &token,
            body.clone(),
        )
        .await;
        assert_eq!(
            (status, error_code(&answer)),
            (502, "provider_auth_failed"),
            "{path}: {answer}"
        );
    }
    let logged = requests(&app.db, &user).await;
    assert_eq!(logged.len(), calls.len(), "{logged:?}");
    assert!(
        logged.iter().all(|(_, status, code, credits)| (
            status.as_str(),
            code.as_deref(),
            *credits
        ) == (
            "failed",
            Some("provider_auth_failed"),
            Some(0)
        )),
        "{logged:?}"
    );
    assert_eq!(app.ledger(&user).await, (0, 0), "nothing charged or held");
}

/// A call that needs more than what remains is refused saying both, with what remains above 0.
#[tokio::test]
async fn a_credit_refusal_says_what_the_call_needs_and_what_remains() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    app.db
        .execute(
            "insert into public.ai_credit_ledger (subject_id, period, allowance, used) \
             values ($1::text::uuid, app_private.ai_current_period(), 200, 198)",
            &[&user],
        )
        .await
        .unwrap();
    let (status, body) = app
        .post_json(
            "/v1/ai/generate-text",
            &token,
            json!({"prompt": "a long answer"}),
        )
        .await;
    let error = &body["error"];
    assert_eq!(
        (
            status,
            error_code(&body),
            &error["remaining"],
            &error["limit"]
        ),
        (403, "credit_limit_reached", &json!(2), &json!(200)),
        "{body}"
    );
    let needed = error["needed"].as_i64().unwrap();
    assert!(needed > 2, "{body}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("needs an estimated {needed}"))
            && message.contains("2 of the monthly 200"),
        "{message}"
    );
}

#[tokio::test]
async fn moderation_uses_openais_endpoint_and_asks_other_providers_for_a_judgement() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    for (text, verdict) in [
        (
            "you will regret this [flag:harassment/threatening] [flag:violence]",
            json!({"flagged": true, "categories": ["harassment/threatening", "violence"]}),
        ),
        (
            "a sunny day at the beach",
            json!({"flagged": false, "categories": []}),
        ),
    ] {
        let (status, body) = app
            .post_json("/v1/ai/moderate", &token, json!({ "text": text }))
            .await;
        assert_eq!((status, &body), (200, &verdict));
    }
    assert_eq!(
        settled_providers(&app.db, &user).await,
        vec![("openai".to_owned(), "omni-moderation-latest".to_owned()); 2]
    );

    // The caller's own configuration, key and base URL included, never moderates: a base URL
    // they control could answer anything.
    let (status, body, _) = call(
        &app.stack,
        reqwest::Method::PUT,
        "/v1/ai/configs",
        &token,
        json!({"provider": "openai", "active": true, "apiKey": "sk-moderation-own-5555",
               "baseUrl": capture_url()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let judgement = json!({"flagged": false, "categories": []});
    let (status, body) = app
        .post_json(
            "/v1/ai/moderate",
            &token,
            json!({"text": format!("buy now [flag:illicit] <<reply:{judgement}>>")}),
        )
        .await;
    assert_eq!(
        (status, &body),
        (200, &json!({"flagged": true, "categories": ["illicit"]})),
        "the platform's moderation endpoint answered"
    );
    assert_eq!(
        settled_providers(&app.db, &user).await,
        vec![("openai".to_owned(), "omni-moderation-latest".to_owned()); 3]
    );
    assert!(!captured(&app.stack)
        .await
        .contains(&"sk-moderation-own-5555".to_owned()));
}

/// The fakes' stand-in for a base URL a user configured (see `tests/fakes`).
fn capture_url() -> String {
    format!(
        "{}/capture/v1",
        std::env::var("E2E_FAKES_URL").expect("E2E_FAKES_URL")
    )
}

/// The keys the capture base URL has received so far (from every test).
async fn captured(stack: &Stack) -> Vec<String> {
    serde_json::from_value(e2e::fakes_json(&stack.http, "/_fakes/captured", &[]).await).unwrap()
}

async fn put_config(stack: &Stack, token: &str, config: Value) -> (u16, Value) {
    let (status, body, _) =
        call(stack, reqwest::Method::PUT, "/v1/ai/configs", token, config).await;
    (status, body)
}

#[tokio::test]
async fn a_configured_base_url_only_ever_receives_its_own_key() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;

    // No key: refused, so the platform's key can never be paired with the user's base URL.
    for provider in ["openai", "gemini", "xai", "openai_compatible"] {
        let (status, body) = put_config(
            &app.stack,
            &token,
            json!({"provider": provider, "baseUrl": capture_url(), "active": true}),
        )
        .await;
        assert_eq!(
            (status, error_code(&body), &body["error"]["field"]),
            (400, "invalid_request", &json!("apiKey")),
            "{provider}: {body}"
        );
    }
    let (status, body) = app
        .post_json("/v1/ai/generate-text", &token, json!({"prompt": "mine?"}))
        .await;
    assert_eq!(
        (status, &body["text"]),
        (200, &json!("echo: mine? (key …-key)")),
        "the platform's own endpoint answered: {body}"
    );

    // With its own key, the base URL gets that key, for any model the user names.
    let own_key = format!("sk-capture-{user}");
    let (status, body) = put_config(
        &app.stack,
        &token,
        json!({"provider": "openai", "baseUrl": capture_url(), "apiKey": own_key, "active": true}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_json(
            "/v1/chat/completions",
            &token,
            json!({"model": "o1-pro", "messages": [{"role": "user", "content": "own endpoint"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], "o1-pro");

    // A stored key never follows a new base URL.
    let (status, body) = put_config(
        &app.stack,
        &token,
        json!({"provider": "openai", "baseUrl": format!("{}/", capture_url())}),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("apiKey")),
        "{body}"
    );

    let captured = captured(&app.stack).await;
    assert!(captured.contains(&own_key), "{captured:?}");
    assert!(
        !captured.iter().any(|key| key.starts_with("platform-")),
        "a platform key reached a user's base URL: {captured:?}"
    );
}

/// A user's configuration saved through the API: its row id.
async fn saved_config(
    stack: &Stack,
    db: &tokio_postgres::Client,
    user: &str,
    token: &str,
    config: Value,
) -> String {
    let (status, body) = put_config(stack, token, config).await;
    assert_eq!(status, 200, "{body}");
    db.query_one(
        "select id::text from public.ai_provider_configs where user_id = $1::text::uuid",
        &[&user],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn the_cron_pass_reseals_keys_of_an_older_version_under_the_newest_and_they_still_work() {
    use pixa_edge::ai::keys::{self, KeyRing, SealedKey};

    let app = TestApp::spawn().await;
    let raw_ring = std::env::var("E2E_AI_KEY_RING").expect("E2E_AI_KEY_RING");
    let ring = KeyRing::parse(&raw_ring).unwrap();
    let first_version = KeyRing::parse(raw_ring.split(',').next().unwrap()).unwrap();
    let newest = ring.newest_version();
    assert_ne!(
        first_version.newest_version(),
        newest,
        "the app.stack's ring has an older version"
    );

    // One key bound to the base URL it is sent to, one sent to the provider's own endpoint.
    let User {
        id: bound_user,
        token: bound_token,
    } = app.new_user().await;
    let bound_key = format!("sk-reseal-{bound_user}");
    let base_url = capture_url();
    let bound = saved_config(
        &app.stack,
        &app.db,
        &bound_user,
        &bound_token,
        json!({"provider": "openai", "baseUrl": base_url, "apiKey": bound_key, "active": true}),
    )
    .await;
    let User {
        id: plain_user,
        token: plain_token,
    } = app.new_user().await;
    let plain_key = format!("sk-reseal-{plain_user}");
    let plain = saved_config(
        &app.stack,
        &app.db,
        &plain_user,
        &plain_token,
        json!({"provider": "openai", "apiKey": plain_key, "active": true}),
    )
    .await;

    // Seal both as a worker that knew only the first version did.
    let stale = [
        (&bound, &bound_key, Some(base_url.as_str())),
        (&plain, &plain_key, None),
    ];
    let mut sealed_before = Vec::new();
    for (config_id, api_key, base_url) in stale {
        let sealed = keys::seal(&first_version, api_key, config_id, base_url);
        app.db.execute(
            "update public.ai_provider_configs set encrypted_api_key = $2, api_key_version = $3 \
             where id = $1::text::uuid",
            &[config_id, &sealed.ciphertext, &sealed.version],
        )
        .await
        .unwrap();
        sealed_before.push(sealed.ciphertext);
    }
    // And a key no version of the ring opens, first in the pass's id order.
    let unreadable: String = app.db
        .query_one(
            "insert into public.ai_provider_configs (id, user_id, provider, encrypted_api_key, api_key_version) \
             values (overlay(gen_random_uuid()::text placing '00000000' from 1)::uuid, $1::text::uuid, 'xai', \
             'bm90IGEga2V5IHNlYWxlZCBieSB0aGlzIHJpbmc=', $2) returning id::text",
            &[&plain_user, &first_version.newest_version()],
        )
        .await
        .unwrap()
        .get(0);

    let secret = std::env::var("E2E_CRON_SECRET").expect("E2E_CRON_SECRET");
    let (status, report) = app
        .post_json("/v1/cron/tokens/reencrypt", &secret, json!({}))
        .await;
    app.db
        .execute(
            "delete from public.ai_provider_configs where id = $1::text::uuid",
            &[&unreadable],
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{report}");
    let pass = &report["aiKeys"];
    assert_eq!(pass["keyVersion"], newest, "{report}");
    assert!(
        pass["unreadable"]
            .as_array()
            .unwrap()
            .contains(&json!(unreadable)),
        "the unreadable key is reported and skipped: {report}"
    );
    assert!(pass["resealed"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(pass["done"], false, "not done while a key is unreadable");

    for ((config_id, api_key, base_url), before) in stale.into_iter().zip(sealed_before) {
        let row = app
            .db
            .query_one(
                "select encrypted_api_key, api_key_version from public.ai_provider_configs \
                 where id = $1::text::uuid",
                &[config_id],
            )
            .await
            .unwrap();
        let resealed = SealedKey {
            ciphertext: row.get(0),
            version: row.get(1),
        };
        assert_eq!(resealed.version, newest);
        assert_ne!(resealed.ciphertext, before);
        assert_eq!(
            keys::open(&ring, &resealed, config_id, base_url).as_deref(),
            Ok(api_key.as_str()),
            "re-sealed with the same binding"
        );
    }

    // The worker still opens both: the exact key reaches its base URL, the other its provider.
    let received_before = captured(&app.stack).await;
    let (status, body) = app
        .post_json(
            "/v1/chat/completions",
            &bound_token,
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "after rotation"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let received_after = captured(&app.stack).await;
    let count = |received: &[String]| received.iter().filter(|key| **key == bound_key).count();
    assert_eq!(count(&received_after), count(&received_before) + 1);
    let (status, body) = app
        .post_json(
            "/v1/ai/generate-text",
            &plain_token,
            json!({"prompt": "after rotation"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["text"],
        format!(
            "echo: after rotation (key …{})",
            &plain_key[plain_key.len() - 4..]
        )
    );
}

#[tokio::test]
async fn the_platform_key_runs_only_priced_models_with_valid_names() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    let (status, body) = app
        .post_json(
            "/v1/chat/completions",
            &token,
            json!({"model": "o1-pro", "messages": [{"role": "user", "content": "premium"}]}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body), &body["error"]["param"]),
        (404, "model_not_found", &json!("model")),
        "on the OpenAI-compatible surface, as OpenAI answers a model it does not have: {body}"
    );

    let (status, body) = put_config(
        &app.stack,
        &token,
        json!({"provider": "gemini", "active": true, "models": {"text": "gemini-2.5-pro"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .post_json("/v1/ai/generate-text", &token, json!({"prompt": "x"}))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "model_not_allowed"),
        "{body}"
    );

    for (path, body, field) in [
        (
            "/v1/ai/configs",
            json!({"provider": "gemini", "models": {"image": "veo-3.0-generate-001:predictLongRunning#"}}),
            "models.image",
        ),
        (
            "/v1/ai/configs",
            json!({"provider": "openai", "models": {"chat": "../files?x"}}),
            "models.chat",
        ),
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o-mini?alt=sse", "messages": [{"role": "user", "content": "x"}]}),
            "model",
        ),
    ] {
        let method = if path == "/v1/ai/configs" {
            reqwest::Method::PUT
        } else {
            reqwest::Method::POST
        };
        let (status, body, _) = call(&app.stack, method, path, &token, body).await;
        assert_eq!(
            (status, error_code(&body), &body["error"]["field"]),
            (400, "invalid_request", &json!(field)),
            "{body}"
        );
    }
    let refused: i64 = app
        .db
        .query_one(
            "select count(*) from public.ai_requests where user_id = $1::text::uuid \
             and status = 'rejected' and error_code = 'model_not_allowed' and credits is null",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refused, 2, "refusals are logged and cost nothing");
}

#[tokio::test]
async fn transient_provider_failures_are_retried_before_anything_is_sent() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    // The fake fails the first N requests carrying the exact prompt `[flaky:N] …` with a 500.
    let (status, body) = app
        .post_json(
            "/v1/ai/generate-text",
            &token,
            json!({"prompt": format!("[flaky:2] {user}")}),
        )
        .await;
    assert_eq!(status, 200, "the third attempt succeeds: {body}");
    assert_eq!(
        attempts(&app.stack, &format!("[flaky:2] {user}")).await,
        ["openai"; 3],
        "the primary answered its third attempt, the fallback was never asked"
    );
    let response = app
        .stack
        .http
        .post(app.stack.url("/v1/ai/stream-text"))
        .bearer_auth(&token)
        .json(&json!({"prompt": format!("[flaky:1] stream {user}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "a stream is retried while opening");
    assert!(response.text().await.unwrap().contains("event: usage"));
    assert_eq!(
        attempts(&app.stack, &format!("[flaky:1] stream {user}")).await,
        ["openai"; 2]
    );
    assert_eq!(
        settled_providers(&app.db, &user).await,
        [
            ("openai".to_owned(), "gpt-4o-mini".to_owned()),
            ("openai".to_owned(), "gpt-4o-mini".to_owned())
        ],
        "billed as the primary, which answered"
    );
    let (status, body) = app
        .post_json(
            "/v1/ai/generate-text",
            &token,
            json!({"prompt": format!("[flaky:9] {user}")}),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (503, "provider_unavailable"),
        "three attempts, then the error"
    );
    assert_eq!(
        attempts(&app.stack, &format!("[flaky:9] {user}")).await,
        ["openai", "openai", "openai", "gemini", "gemini", "gemini"],
        "three attempts at the primary, then three at the fallback"
    );
    settled(&app.db, &user).await;
    let outcomes = app.db
        .query("select status::text from public.ai_requests where user_id = $1::text::uuid order by created_at", &[&user])
        .await
        .unwrap();
    let outcomes: Vec<String> = outcomes.iter().map(|row| row.get(0)).collect();
    assert_eq!(
        outcomes.len(),
        3,
        "one logged call per request, however many attempts: {outcomes:?}"
    );
}

#[tokio::test]
async fn the_fallback_provider_answers_when_the_primary_is_down_and_is_billed() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    // The test app.stack's AI_FALLBACK_PROVIDER is gemini; `[down:openai]` makes only OpenAI fail.
    let text_prompt = format!("[down:openai] anyone? {user}");
    let (status, body) = app
        .post_json(
            "/v1/ai/generate-text",
            &token,
            json!({ "prompt": text_prompt }),
        )
        .await;
    assert_eq!(
        (status, &body["text"]),
        (200, &json!(format!("echo: {text_prompt} (key …-key)"))),
        "{body}"
    );
    let stream_prompt = format!("[down:openai] streaming {user}");
    let response = app
        .stack
        .http
        .post(app.stack.url("/v1/ai/stream-text"))
        .bearer_auth(&token)
        .json(&json!({ "prompt": stream_prompt }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("event: usage"));
    let chat_prompt = format!("[down:openai] who? {user}");
    let (status, body) = app
        .post_json(
            "/v1/chat/completions",
            &token,
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": chat_prompt}]}),
        )
        .await;
    assert_eq!(
        (status, &body["model"]),
        (200, &json!("gemini-2.5-flash")),
        "a completion names the model that answered: {body}"
    );
    for prompt in [&text_prompt, &stream_prompt, &chat_prompt] {
        assert_eq!(
            attempts(&app.stack, prompt).await,
            ["openai", "openai", "openai", "gemini"],
            "the primary's three attempts, then the fallback answered at once: {prompt}"
        );
    }
    let served = settled_providers(&app.db, &user).await;
    assert_eq!(
        served,
        vec![("gemini".to_owned(), "gemini-2.5-flash".to_owned()); 3],
        "billed as what answered"
    );
}

#[tokio::test]
async fn an_unanswered_attempt_is_abandoned_at_the_call_timeout_and_the_fallback_answers() {
    use std::time::{Duration, Instant};

    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    // The test app.stack's AI_CALL_TIMEOUT_SECONDS is 2; `[hang:openai]` makes OpenAI never answer.
    let prompt = format!("[hang:openai] still there? {}", std::process::id());
    let abandoned = || async {
        let counts = e2e::fakes_json(&app.stack.http, "/_fakes/abandoned", &[]).await;
        counts[&prompt].as_u64().unwrap_or(0)
    };
    let started = Instant::now();
    let call = async {
        let answer = app
            .post_json("/v1/ai/generate-text", &token, json!({ "prompt": prompt }))
            .await;
        (answer, started.elapsed())
    };
    // When the fake saw the first attempt's connection closed.
    let first_abandoned = async {
        while abandoned().await == 0 {
            if started.elapsed() > Duration::from_secs(30) {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(started.elapsed())
    };
    let (((status, body), answered), first_abandoned) = tokio::join!(call, first_abandoned);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["text"], json!(format!("echo: {prompt} (key …-key)")));
    // Three attempts, each abandoned at its 2 s timeout (so no sooner than 6 s), then the
    // fallback: what the fakes saw says so, whatever the machine's speed (an attempt that
    // never answers is recorded only as abandoned).
    let deadline = Instant::now() + Duration::from_secs(10);
    while abandoned().await < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(abandoned().await, 3, "each OpenAI attempt abandoned");
    assert_eq!(attempts(&app.stack, &prompt).await, ["gemini"]);
    assert!(
        answered >= Duration::from_secs(6),
        "answered after {answered:?}"
    );
    // A timed-out attempt's request is aborted then, not when the whole call ends: the
    // provider stops generating for nobody.
    let first_abandoned = first_abandoned.expect("the fake saw no abandoned call");
    assert!(
        first_abandoned < answered - Duration::from_secs(2),
        "first attempt abandoned at {first_abandoned:?}, the call answered at {answered:?}"
    );
    assert_eq!(
        settled_providers(&app.db, &user).await,
        vec![("gemini".to_owned(), "gemini-2.5-flash".to_owned())],
        "billed as what answered"
    );
    let mut count = abandoned().await;
    for _ in 0..20 {
        if count == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        count = abandoned().await;
    }
    assert_eq!(count, 3, "each of the three attempts closed its connection");
}

/// Provider and model of `user`'s succeeded requests, once settled.
async fn settled_providers(db: &tokio_postgres::Client, user: &str) -> Vec<(String, String)> {
    settled(db, user).await;
    let rows = db
        .query(
            "select provider::text, model from public.ai_requests \
             where user_id = $1::text::uuid and status = 'succeeded' order by created_at",
            &[&user],
        )
        .await
        .unwrap();
    rows.iter().map(|row| (row.get(0), row.get(1))).collect()
}

/// The providers the fakes received `prompt` from, one per request, in order.
async fn attempts(stack: &Stack, prompt: &str) -> Vec<String> {
    let all = e2e::fakes_json(&stack.http, "/_fakes/attempts", &[]).await;
    serde_json::from_value(all[prompt].clone()).unwrap_or_default()
}

/// The settlement after the answer fails (here the database refuses to mark the request
/// succeeded, and nothing else): the failure is logged, and the reservation stays open and
/// uncharged (neither released nor charged another way) for the monthly reset to expire.
#[tokio::test]
async fn a_failed_settlement_leaves_the_reservation_open_and_uncharged() {
    let app = TestApp::spawn().await;
    let User { id: user, token } = app.new_user().await;
    let refusal = e2e::Refusal::install(
        &app.db,
        "update",
        "public.ai_requests",
        &format!("old.user_id = '{user}' and new.status = 'succeeded'"),
    )
    .await;

    let (status, body) = app
        .post_json(
            "/v1/ai/generate-text",
            &token,
            json!({"prompt": "unsettled"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    e2e::assert_side_effects_countable();
    let request: String = app
        .db
        .query_one(
            "select id::text from public.ai_requests where user_id = $1::text::uuid",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !app
        .stack
        .worker_log()
        .lines()
        .any(|line| line.contains("credit settlement failed") && line.contains(&request))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no failed settlement of {request} logged within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    refusal.lift(&app.db).await;

    let row = app
        .db
        .query_one(
            "select r.status::text, r.reserved_credits, r.credits, l.used, l.reserved \
             from public.ai_requests as r join public.ai_credit_ledger as l \
             on l.subject_id = r.subject_id and l.period = r.period where r.id = $1::text::uuid",
            &[&request],
        )
        .await
        .unwrap();
    let (status, held, charged, used, reserved): (String, i64, Option<i64>, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
    assert!(held >= 1, "the call reserved credits");
    assert_eq!(
        (status.as_str(), charged, used, reserved),
        ("reserved", None, 0, held),
        "the reservation is still held, and nothing was charged"
    );
}
