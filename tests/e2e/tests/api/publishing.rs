//! Publishing through workerd, Postgres and the platform fakes: publish now and on schedule
//! (an instant given with its UTC offset), partial failure across destinations, the approval
//! gate, moderation, retries that are safe (a refused token refreshed once, the attempt cap),
//! posting caps that delay, ambiguous answers looked up instead of reposted, a dispatcher that
//! died mid-call, and dispatchers racing over many due posts without a duplicate.

use std::time::Duration;

use e2e::app::{Team, TestApp, User};
use e2e::error_code;
use e2e::social::unique;
use serde_json::{json, Value};

/// A draft with one destination per connection, written through PostgREST as clients do.
async fn draft(env: &TestApp, author: &User, team: &Team, body: &str, options: &[Value]) -> String {
    draft_with_media(env, author, team, body, &[], options).await
}

/// A draft whose media are these library assets.
async fn draft_with_media(
    env: &TestApp,
    author: &User,
    team: &Team,
    body: &str,
    assets: &[String],
    options: &[Value],
) -> String {
    let media: Vec<Value> = assets
        .iter()
        .map(|id| json!({ "libraryAssetId": id }))
        .collect();
    let (status, post) = env
        .rest_insert(
            author,
            "scheduled_posts",
            json!({"team_id": team.id, "body": body, "media": media, "client_post_id": unique("client")}),
        )
        .await;
    assert_eq!(status, 201, "{post}");
    let post_id = post["id"].as_str().unwrap().to_owned();
    for (index, connection) in team.connections.iter().enumerate() {
        let options = options.get(index).cloned().unwrap_or(json!({}));
        let (status, row) = env
            .rest_insert(
                author,
                "post_destinations",
                json!({"post_id": post_id, "team_id": team.id, "connection_id": connection, "options": options}),
            )
            .await;
        assert_eq!(status, 201, "{row}");
    }
    post_id
}

/// The post's destinations and history (its outcomes: see `e2e::assert_side_effects_countable`).
async fn status(env: &TestApp, user: &User, post_id: &str) -> Value {
    e2e::assert_side_effects_countable();
    let (status, body, _) = env
        .send(
            env.http
                .get(env.stack.url(&format!("/v1/posts/{post_id}/status")))
                .bearer_auth(&user.token),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The destinations' statuses once none is scheduled or publishing any more.
async fn settled(env: &TestApp, user: &User, post_id: &str) -> Vec<String> {
    for _ in 0..150 {
        let snapshot = status(env, user, post_id).await;
        let states: Vec<String> = snapshot["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["status"].as_str().unwrap().to_owned())
            .collect();
        if states.iter().all(|s| s != "scheduled" && s != "publishing") {
            return states;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("post {post_id} never settled");
}

async fn cron_publish(env: &TestApp) -> Value {
    let secret = std::env::var("E2E_CRON_SECRET").unwrap();
    let (status, body) = env.cron("/v1/cron/publish", &secret).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Schedules a post far in the future (tests then make it due with `make_due`).
async fn schedule_later(env: &TestApp, author: &User, post_id: &str) {
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/schedule"),
            &author.token,
            json!({"scheduledAt": "2030-06-01T12:00:00Z"}),
        )
        .await;
    assert_eq!(code, 200, "{body}");
}

/// Makes a post's scheduled destinations due now (time passing, without waiting for it).
async fn make_due(env: &TestApp, post_id: &str) {
    env.db
        .execute(
            "update public.post_destinations set next_attempt_at = now() where post_id = $1::text::uuid \
             and status = 'scheduled'",
            &[&post_id],
        )
        .await
        .unwrap();
}

/// The posts the fake platforms created for an account.
async fn created_posts(env: &TestApp, account: &str) -> Vec<Value> {
    let body = e2e::fakes_json(&env.http, "/social/_posts", &[("account", account)]).await;
    body["posts"].as_array().unwrap().clone()
}

fn count_with_text(posts: &[Value], text: &str) -> usize {
    posts.iter().filter(|p| p["text"] == text).count()
}

/// The platforms (fake apps) that created a post with `text`, sorted.
fn apps_with_text(posts: &[Value], text: &str) -> Vec<String> {
    let mut apps: Vec<String> = posts
        .iter()
        .filter(|p| p["text"] == text)
        .map(|p| p["app"].as_str().unwrap().to_owned())
        .collect();
    apps.sort();
    apps
}

/// A file in the team's library: uploaded to the `library` bucket through Storage with the
/// user's token (RLS: the team's folder), and its asset row; the asset id.
async fn library_asset(
    env: &TestApp,
    user: &User,
    team: &Team,
    mime: &str,
    bytes: Vec<u8>,
) -> String {
    let extension = mime.rsplit('/').next().unwrap();
    let path = format!("{}/{}.{extension}", team.id, unique("asset"));
    let size = bytes.len() as i64;
    let response = env
        .http
        .post(format!(
            "{}/storage/v1/object/library/{path}",
            env.stack.supabase_url
        ))
        .header("apikey", env.stack.keys.anon_key())
        .header("content-type", mime)
        .bearer_auth(&user.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
    let (status, row) = env
        .rest_insert(
            user,
            "content_library_assets",
            json!({"team_id": team.id, "object_path": path, "mime_type": mime, "size_bytes": size}),
        )
        .await;
    assert_eq!(status, 201, "{row}");
    row["id"].as_str().unwrap().to_owned()
}

/// A few KB that pass for a JPEG photo.
fn jpeg() -> Vec<u8> {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00,
    ];
    bytes.resize(3000, 0x42);
    bytes.extend([0xFF, 0xD9]);
    bytes
}

/// A few KB that pass for an MP4 video.
fn mp4() -> Vec<u8> {
    let mut bytes = vec![0x00, 0x00, 0x00, 0x18];
    bytes.extend(b"ftypmp42");
    bytes.resize(4096, 0x17);
    bytes
}

/// Each destination's `(status, error_code)`, in the order of the team's connections.
async fn outcomes(env: &TestApp, user: &User, team: &Team, post_id: &str) -> Vec<(String, Value)> {
    let snapshot = status(env, user, post_id).await;
    let destinations = snapshot["destinations"].as_array().unwrap();
    team.connections
        .iter()
        .map(|connection| {
            let d = destinations
                .iter()
                .find(|d| d["connectionId"] == connection.as_str())
                .unwrap();
            (
                d["status"].as_str().unwrap().to_owned(),
                d["errorCode"].clone(),
            )
        })
        .collect()
}

/// Publishes now and waits until every destination settled.
async fn publish_now(env: &TestApp, user: &User, post_id: &str) -> Vec<String> {
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/publish"),
            &user.token,
            json!({}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    settled(env, user, post_id).await
}

#[tokio::test]
async fn a_post_sent_without_a_zone_is_recorded_in_its_authors_own() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    env.db
        .execute(
            "update public.profiles set timezone = 'America/Chicago' where id = $1::text::uuid",
            &[&team.owner.id],
        )
        .await
        .unwrap();
    let text = format!("Zoned {}", unique("zone"));
    let post_id = draft(&env, &team.owner, &team, &text, &[json!({})]).await;
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/schedule"),
            &team.owner.token,
            json!({ "scheduledAt": "2030-06-01T12:00:00Z" }),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["post"]["timezone"], "America/Chicago", "{body}");
}

#[tokio::test]
async fn publish_now_reaches_every_destination_once_with_permalinks_and_history() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x", "facebook"]).await;
    let text = format!("Launch day {}", unique("now"));
    let post_id = draft(
        &env,
        &team.owner,
        &team,
        &text,
        &[json!({"replySettings": "following"})],
    )
    .await;

    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/publish"),
            &team.owner.token,
            json!({"timezone": "Asia/Tokyo"}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (202, Some("scheduled")),
        "{body}"
    );
    assert_eq!(
        body["post"]["timezone"], "Asia/Tokyo",
        "the author's zone is recorded"
    );
    assert_eq!(
        settled(&env, &team.owner, &post_id).await,
        ["published", "published"]
    );

    let snapshot = status(&env, &team.owner, &post_id).await;
    for destination in snapshot["destinations"].as_array().unwrap() {
        assert!(destination["permalink"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
        assert!(destination["externalId"].is_string());
    }
    let events: Vec<&str> = snapshot["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events.iter().filter(|e| **e == "attempt_started").count(),
        2
    );
    assert_eq!(events.iter().filter(|e| **e == "published").count(), 2);
    let created = created_posts(&env, &team.account).await;
    assert_eq!(count_with_text(&created, &text), 2, "one post per platform");

    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/schedule"),
            &team.owner.token,
            json!({"scheduledAt": "2030-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!((code, error_code(&body)), (409, "post_not_editable"));
}

#[tokio::test]
async fn a_post_scheduled_at_a_local_time_in_its_zone_is_stored_in_utc_and_published_when_due() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let text = format!("Spring forward {}", unique("dst"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    let schedule = |body: serde_json::Value| {
        let path = format!("/v1/posts/{post_id}/schedule");
        let token = team.owner.token.clone();
        let env = &env;
        async move { env.post_json(&path, &token, body).await }
    };
    // Berlin moves its clocks from 02:00 to 03:00 on 2027-03-28 and back from 03:00 to 02:00 on
    // 2027-10-31: 02:30 does not exist in spring and happens twice in autumn.
    let (code, body) =
        schedule(json!({"localTime": "2027-03-28T02:30", "timezone": "Europe/Berlin"})).await;
    assert_eq!(
        (code, error_code(&body)),
        (400, "schedule_time_nonexistent"),
        "{body}"
    );
    assert_eq!(
        body["error"]["candidates"],
        json!(["2027-03-28T01:30:00+01:00", "2027-03-28T03:30:00+02:00"])
    );
    let (code, body) =
        schedule(json!({"localTime": "2027-10-31T02:30", "timezone": "Europe/Berlin"})).await;
    assert_eq!(
        (code, error_code(&body)),
        (400, "schedule_time_ambiguous"),
        "{body}"
    );
    assert_eq!(
        body["error"]["candidates"],
        json!(["2027-10-31T02:30:00+02:00", "2027-10-31T02:30:00+01:00"])
    );
    let (code, body) =
        schedule(json!({"localTime": "2027-03-28T03:30", "timezone": "Mars/Olympus"})).await;
    assert_eq!((code, error_code(&body)), (400, "rule_violation"), "{body}");
    let (code, body) = schedule(json!({"localTime": "2027-03-28T03:30"})).await;
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (400, Some("timezone")),
        "{body}"
    );
    let (code, body) =
        schedule(json!({"localTime": "2027-03-28T03:30+02:00", "timezone": "Europe/Berlin"})).await;
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (400, Some("localTime")),
        "{body}"
    );

    // 03:30 local is CEST (+02:00), just after the jump.
    let (code, body) =
        schedule(json!({"localTime": "2027-03-28T03:30", "timezone": "Europe/Berlin"})).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("scheduled")),
        "{body}"
    );
    let row = env
        .db
        .query_one(
            "select to_char(scheduled_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI'), \
             to_char(scheduled_at at time zone timezone, 'HH24:MI'), timezone from public.scheduled_posts \
             where id = $1::text::uuid",
            &[&post_id],
        )
        .await
        .unwrap();
    let stored: (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        stored,
        (
            "2027-03-28 01:30".to_owned(),
            "03:30".to_owned(),
            "Europe/Berlin".to_owned()
        )
    );
    cron_publish(&env).await;
    assert_eq!(
        settled_now(&env, &team.owner, &post_id).await,
        ["scheduled"],
        "not due yet"
    );
    make_due(&env, &post_id).await;
    cron_publish(&env).await;
    assert_eq!(settled(&env, &team.owner, &post_id).await, ["published"]);

    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/schedule"),
            &team.owner.token,
            json!({"scheduledAt": "2027-03-28T03:30:00+02:00", "timezone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!((code, error_code(&body)), (400, "rule_violation"), "{body}");
}

/// A Cloudflare Cron Trigger publishes a due post with pg_cron out of the picture (the test
/// stack's pg_cron jobs are paused): wrangler's local runtime delivers the scheduled event the
/// way Cloudflare does, to the worker's `scheduled` handler, with wrangler.toml's cron.
#[tokio::test]
async fn a_cron_trigger_publishes_a_due_post_without_pg_cron() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let text = format!("From the Cron Trigger {}", unique("scheduled"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    schedule_later(&env, &team.owner, &post_id).await;
    make_due(&env, &post_id).await;

    // wrangler's endpoint, not the worker's API: sent as is, outside the openapi.json contract.
    let triggered = env
        .http
        .get(env.stack.url("/cdn-cgi/handler/scheduled"))
        .query(&[("cron", "* * * * *")])
        .send()
        .await
        .unwrap();
    assert_eq!(triggered.status(), 200);
    assert_eq!(settled(&env, &team.owner, &post_id).await, ["published"]);
    let created = created_posts(&env, &team.account).await;
    assert_eq!(count_with_text(&created, &text), 1);
}

/// A post due a few seconds after the minute's run goes out within seconds of its time, woken
/// by the delayed queue message that run sent, not at the next run (#26). Test stacks pause
/// pg_cron: without the wake-up nothing would publish it at all.
#[tokio::test]
async fn a_post_due_between_cron_minutes_goes_out_within_seconds_of_its_time() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let text = format!("On time {}", unique("on-time"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    schedule_later(&env, &team.owner, &post_id).await;
    let due: f64 = env
        .db
        .query_one(
            "update public.post_destinations set next_attempt_at = now() + interval '4 seconds' \
             where post_id = $1::text::uuid returning extract(epoch from next_attempt_at)::float8",
            &[&post_id],
        )
        .await
        .unwrap()
        .get(0);
    e2e::run_scheduled(&env.db, "publish-due-posts").await;
    assert_eq!(settled(&env, &team.owner, &post_id).await, ["published"]);
    assert_published_at_its_second(&env, &post_id, due).await;
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        1
    );
}

/// A post scheduled for a few seconds from now, after the minute's run looked ahead, goes out at
/// its second too: its submission asks for the sweep, which sends its wake-up (#26). Test stacks
/// pause pg_cron, so nothing else would publish it.
#[tokio::test]
async fn a_post_scheduled_seconds_ahead_goes_out_at_its_second() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let text = format!("Seconds ahead {}", unique("soon"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    let due_row = env
        .db
        .query_one(
            "select to_char(now() at time zone 'UTC' + interval '6 seconds', \
             'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), extract(epoch from now() + interval '6 seconds')::float8",
            &[],
        )
        .await
        .unwrap();
    let (scheduled_at, due): (String, f64) = (due_row.get(0), due_row.get(1));
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/schedule"),
            &team.owner.token,
            json!({ "scheduledAt": scheduled_at }),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(settled(&env, &team.owner, &post_id).await, ["published"]);
    assert_published_at_its_second(&env, &post_id, due).await;
}

/// The post's one destination was published within seconds of `due` (epoch seconds): its
/// second, not the next minute's run; the bench measures the p99 (≤ 5 s) under load, and a
/// loaded test machine gets twice that here.
async fn assert_published_at_its_second(env: &TestApp, post_id: &str, due: f64) {
    let published: f64 = env
        .db
        .query_one(
            "select extract(epoch from published_at)::float8 from public.post_destinations \
             where post_id = $1::text::uuid",
            &[&post_id],
        )
        .await
        .unwrap()
        .get(0);
    let lateness = published - due;
    assert!(
        (0.0..10.0).contains(&lateness),
        "published {lateness:.1} s after its time"
    );
}

/// The destinations' statuses once none is being published.
async fn idle(env: &TestApp, user: &User, post_id: &str) -> Vec<String> {
    for _ in 0..150 {
        let states = settled_now(env, user, post_id).await;
        if states.iter().all(|s| s != "publishing") {
            return states;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("post {post_id} is still publishing");
}

/// The destinations' statuses right now.
async fn settled_now(env: &TestApp, user: &User, post_id: &str) -> Vec<String> {
    status(env, user, post_id).await["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap().to_owned())
        .collect()
}

/// The moderation a schedule runs is paced apart from the author's chat (issue #26): a used-up
/// interactive AI window does not refuse it.
#[tokio::test]
async fn a_used_up_chat_window_does_not_refuse_the_moderation_a_schedule_runs() {
    let env = TestApp::spawn().await;
    for _ in 0..3 {
        let team = env.new_team_with_connections(&["x"]).await;
        let text = format!("Checked beside a busy chat {}", unique("paced"));
        let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
        let (started_in, _) = env.rate_window("1 minute").await;
        env.exhaust_ai_window(&team.owner).await;
        let (code, body) = env
            .post_json(
                &format!("/v1/posts/{post_id}/schedule"),
                &team.owner.token,
                json!({"scheduledAt": "2030-06-01T12:00:00Z"}),
            )
            .await;
        if env.rate_window("1 minute").await.0 != started_in {
            continue;
        }
        assert_eq!(
            (code, body["status"].as_str()),
            (200, Some("scheduled")),
            "{body}"
        );
        return;
    }
    panic!("three tries each straddled a minute boundary");
}

#[tokio::test]
async fn one_destination_failing_does_not_stop_the_others() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x", "facebook"]).await;
    let text = format!("Partial {}", unique("partial"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    schedule_later(&env, &team.owner, &post_id).await;
    // The X account is revoked at the platform meanwhile.
    env.db
        .execute(
            "update public.social_connections set status = 'reauth_required' where id = $1::text::uuid",
            &[&team.connections[0]],
        )
        .await
        .unwrap();
    make_due(&env, &post_id).await;
    cron_publish(&env).await;
    let snapshot = status(&env, &team.owner, &post_id).await;
    let outcomes: Vec<(String, Value)> = snapshot["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap().to_owned(),
                d["errorCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("failed".to_owned(), json!("reauth_required")),
            ("published".to_owned(), Value::Null)
        ]
    );
}

#[tokio::test]
async fn members_posts_wait_for_approval_and_flagged_text_is_blocked() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let member = env.new_user().await;
    env.add_member(&team.id, &member, "member").await;
    env.db
        .execute(
            "update public.teams set requires_post_approval = true where id = $1::text::uuid",
            &[&team.id],
        )
        .await
        .unwrap();

    let flagged = draft(
        &env,
        &member,
        &team,
        "you will regret this [flag:harassment/threatening]",
        &[],
    )
    .await;
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{flagged}/publish"),
            &member.token,
            json!({}),
        )
        .await;
    assert_eq!(
        (code, error_code(&body)),
        (422, "content_flagged"),
        "{body}"
    );

    let text = format!("Needs a nod {}", unique("approval"));
    let post_id = draft(&env, &member, &team, &text, &[]).await;
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/publish"),
            &member.token,
            json!({}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (202, Some("pending_approval")),
        "{body}"
    );
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/approve"),
            &member.token,
            json!({}),
        )
        .await;
    assert_eq!((code, error_code(&body)), (403, "forbidden"));
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/reject"),
            &team.owner.token,
            json!({}),
        )
        .await;
    assert_eq!(
        (code, error_code(&body)),
        (400, "invalid_request"),
        "a rejection needs a comment"
    );
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/reject"),
            &team.owner.token,
            json!({"comment": "Add a link"}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    assert_eq!(settled_now(&env, &member, &post_id).await, ["draft"]);
    assert!(
        created_posts(&env, &team.account).await.is_empty(),
        "nothing went out"
    );

    let (code, _) = env
        .post_json(
            &format!("/v1/posts/{post_id}/publish"),
            &member.token,
            json!({}),
        )
        .await;
    assert_eq!(code, 202);
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/approve"),
            &team.owner.token,
            json!({"comment": "Go"}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    cron_publish(&env).await;
    assert_eq!(settled(&env, &member, &post_id).await, ["published"]);
}

#[tokio::test]
async fn platform_rules_are_checked_before_anything_is_scheduled() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x", "pinterest"]).await;
    let post_id = draft(
        &env,
        &team.owner,
        &team,
        &"a".repeat(281),
        &[json!({"replySettings": "anyone"}), json!({})],
    )
    .await;
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/publish"),
            &team.owner.token,
            json!({}),
        )
        .await;
    assert_eq!((code, error_code(&body)), (400, "invalid_request"));
    let problems: Vec<(&str, &str)> = body["error"]["problems"]
        .as_array()
        .expect("every problem listed")
        .iter()
        .map(|problem| {
            let text = |key: &str| problem[key].as_str().unwrap_or_default();
            (text("path"), text("code"))
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("destinations[0].body", "too_long"),
            ("destinations[0].options.replySettings", "invalid_option"),
            ("destinations[1].media", "media_required"),
            ("destinations[1].options.boardId", "invalid_option"),
        ],
        "{body}"
    );
    assert_eq!(body["error"]["field"], "destinations[0].body", "{body}");
    assert_eq!(
        settled_now(&env, &team.owner, &post_id).await,
        ["draft", "draft"]
    );
    let outsider = env.new_user().await;
    let (code, _) = env
        .post_json(
            &format!("/v1/posts/{post_id}/publish"),
            &outsider.token,
            json!({}),
        )
        .await;
    assert_eq!(code, 404, "another team's post is not found");
}

#[tokio::test]
async fn refusals_that_prove_nothing_was_posted_are_retried_and_ambiguous_ones_looked_up() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x", "facebook"]).await;
    for marker in [
        "[publish:429]",
        "[publish:500-after-accept]",
        "[publish:503-after-accept]",
        "[publish:drop-after-accept]",
    ] {
        let text = format!("{marker} {}", unique("fault"));
        let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
        let (code, _) = env
            .post_json(
                &format!("/v1/posts/{post_id}/publish"),
                &team.owner.token,
                json!({}),
            )
            .await;
        assert_eq!(code, 202);
        for _ in 0..5 {
            let states = idle(&env, &team.owner, &post_id).await;
            if states.iter().all(|s| s == "published") {
                break;
            }
            // A retry waits for its time: make it due now and let the cron run.
            make_due(&env, &post_id).await;
            cron_publish(&env).await;
        }
        assert_eq!(
            settled_now(&env, &team.owner, &post_id).await,
            ["published", "published"],
            "{marker}"
        );
        let created = created_posts(&env, &team.account).await;
        assert_eq!(
            count_with_text(&created, &text),
            2,
            "{marker}: once per platform, never twice"
        );
    }
    // A 503 to the posting call proves nothing (X answers it after creating posts too): the
    // post is looked up, and when it is not found the user decides; it is never sent again.
    let text = format!("[publish:503] {}", unique("fault"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    assert_eq!(
        publish_now(&env, &team.owner, &post_id).await,
        ["unconfirmed", "unconfirmed"]
    );
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        0
    );
}

/// The post's one destination as the database holds it (status, attempts, error code), once
/// no dispatcher is publishing it.
async fn destination_row(env: &TestApp, post_id: &str) -> (String, i32, Option<String>) {
    e2e::assert_side_effects_countable();
    for _ in 0..150 {
        let row = env
            .db
            .query_one(
                "select status::text, attempts, error_code from public.post_destinations \
                 where post_id = $1::text::uuid",
                &[&post_id],
            )
            .await
            .unwrap();
        if row.get::<_, String>(0) != "publishing" {
            return (row.get(0), row.get(1), row.get(2));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("post {post_id} is still publishing");
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_the_post_sent_again_and_a_second_refusal_fails_it() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let refresh_calls = || async {
        env.fake_stats(&team.account).await["refreshCalls"]
            .as_u64()
            .unwrap()
    };
    let before = refresh_calls().await;

    let text = format!("[publish:401] {}", unique("token"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    assert_eq!(
        publish_now(&env, &team.owner, &post_id).await,
        ["published"]
    );
    assert_eq!(refresh_calls().await, before + 1, "one refresh");
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        1
    );

    // The refreshed token is refused too: the destination fails after its two calls (each an
    // attempt), with no second refresh and no loop.
    let text = format!("[publish:401-always] {}", unique("token"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    assert_eq!(publish_now(&env, &team.owner, &post_id).await, ["failed"]);
    assert_eq!(
        destination_row(&env, &post_id).await,
        ("failed".into(), 2, Some("platform_unauthorized".into()))
    );
    assert_eq!(
        refresh_calls().await,
        before + 2,
        "one refresh for this post"
    );
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        0
    );
}

#[tokio::test]
async fn the_fourth_attempt_proven_not_posted_is_retried_and_the_fifth_fails_the_destination() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let mut posts = Vec::new();
    for spent in [3, 4] {
        // The platform answers 429 to the first attempt of each text.
        let text = format!("[publish:429] {}", unique("attempts"));
        let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
        schedule_later(&env, &team.owner, &post_id).await;
        env.db
            .execute(
                "update public.post_destinations set attempts = $2, next_attempt_at = now() \
                 where post_id = $1::text::uuid",
                &[&post_id, &spent],
            )
            .await
            .unwrap();
        posts.push(post_id);
    }
    cron_publish(&env).await;
    // What became of the 4th attempt (the destination itself may be published by now).
    let fourth: Vec<(String, Option<String>)> = env
        .db
        .query(
            "select event, error_code from public.publish_events where post_id = $1::text::uuid \
             and attempt = 4 and event <> 'attempt_started'",
            &[&posts[0]],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        fourth,
        [(
            "retry_scheduled".into(),
            Some("platform_unavailable".into())
        )]
    );
    assert_eq!(
        destination_row(&env, &posts[1]).await,
        ("failed".into(), 5, Some("retries_exhausted".into()))
    );
    assert!(created_posts(&env, &team.account).await.is_empty());
}

#[tokio::test]
async fn a_full_posting_window_delays_the_destination_without_calling_the_platform() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    // X takes 100 posts per account in 15 minutes: another post of the account took them all
    // a minute ago.
    let other = draft(&env, &team.owner, &team, "earlier posts", &[]).await;
    env.db
        .execute(
            "insert into public.publish_events (destination_id, post_id, team_id, attempt, event, created_at) \
             select d.id, d.post_id, d.team_id, n, 'attempt_started', now() - interval '1 minute' \
             from public.post_destinations as d, generate_series(1, 100) as n where d.post_id = $1::text::uuid",
            &[&other],
        )
        .await
        .unwrap();
    let text = format!("Window {}", unique("cap"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    schedule_later(&env, &team.owner, &post_id).await;
    for _ in 0..2 {
        make_due(&env, &post_id).await;
        cron_publish(&env).await;
        assert_eq!(
            destination_row(&env, &post_id).await,
            ("scheduled".into(), 0, Some("platform_rate_limit".into())),
            "delayed, never refused, and no attempt spent"
        );
        let wait: f64 = env
            .db
            .query_one(
                "select extract(epoch from next_attempt_at - now())::float8 from public.post_destinations \
                 where post_id = $1::text::uuid",
                &[&post_id],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            (13.0 * 60.0..=14.0 * 60.0).contains(&wait),
            "due when the oldest post leaves the window, in 14 minutes: {wait} s"
        );
    }
    assert!(created_posts(&env, &team.account).await.is_empty());

    // The window moves on: the destination goes out.
    env.db
        .execute(
            "update public.publish_events set created_at = now() - interval '16 minutes' \
             where post_id = $1::text::uuid",
            &[&other],
        )
        .await
        .unwrap();
    make_due(&env, &post_id).await;
    cron_publish(&env).await;
    assert_eq!(
        settled_now(&env, &team.owner, &post_id).await,
        ["published"]
    );
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        1
    );
}

#[tokio::test]
async fn an_attempt_interrupted_mid_call_is_never_reposted_and_the_user_decides() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let text = format!("Interrupted {}", unique("crash"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    schedule_later(&env, &team.owner, &post_id).await;
    make_due(&env, &post_id).await;
    // A dispatcher claims the destination, records its intent and dies before any outcome.
    env.db
        .batch_execute(&format!(
            "select public.begin_publish_attempt((c ->> 'destination_id')::uuid, (c ->> 'lease_id')::uuid, 'dead') \
             from jsonb_array_elements(public.claim_due_destinations(10, 60, '{post_id}')) as c; \
             update public.post_destinations set lease_expires_at = now() - interval '1 second' \
             where post_id = '{post_id}'"
        ))
        .await
        .unwrap();
    cron_publish(&env).await;
    let snapshot = status(&env, &team.owner, &post_id).await;
    assert_eq!(
        snapshot["destinations"][0]["status"], "unconfirmed",
        "{snapshot}"
    );
    assert_eq!(snapshot["destinations"][0]["errorCode"], "outcome_unknown");
    assert!(created_posts(&env, &team.account).await.is_empty());

    let retry = format!("/v1/posts/{post_id}/retry");
    let (code, body) = env.post_json(&retry, &team.owner.token, json!({})).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("nothing_to_retry"))
    );
    let (code, body) = env
        .post_json(
            &retry,
            &team.owner.token,
            json!({"includeUnconfirmed": true}),
        )
        .await;
    assert_eq!((code, body["status"].as_str()), (200, Some("retrying")));
    cron_publish(&env).await;
    assert_eq!(settled(&env, &team.owner, &post_id).await, ["published"]);
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        1
    );
}

#[tokio::test]
async fn the_publishing_call_for_one_post_needs_a_post_id_and_the_cron_secret() {
    let env = TestApp::spawn().await;
    let secret = std::env::var("E2E_CRON_SECRET").unwrap();
    let (status, body) = env.cron("/v1/cron/publish?post_id=nope", &secret).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "invalid_request"),
        "{body}"
    );
    assert_eq!(body["error"]["field"], "post_id");
    let unknown = "/v1/cron/publish?post_id=00000000-0000-4000-8000-000000000000";
    let (status, body) = env.cron(unknown, &secret).await;
    assert_eq!((status, &body["claimed"]), (200, &json!(0)), "{body}");
    let (status, _) = env.cron(unknown, "not-the-secret").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn canceled_posts_never_go_out() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let text = format!("Canceled {}", unique("cancel"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    schedule_later(&env, &team.owner, &post_id).await;
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/cancel"),
            &team.owner.token,
            json!({}),
        )
        .await;
    assert_eq!((code, body["status"].as_str()), (200, Some("canceled")));
    make_due(&env, &post_id).await;
    cron_publish(&env).await;
    assert_eq!(settled_now(&env, &team.owner, &post_id).await, ["canceled"]);
    assert!(created_posts(&env, &team.account).await.is_empty());
}

#[tokio::test]
async fn dispatchers_racing_over_a_thousand_due_posts_publish_each_exactly_once() {
    let env = TestApp::spawn().await;
    // A Facebook Page: X would (rightly) hold posts beyond its 100 per 15 minutes.
    let team = env.new_team_with_connections(&["facebook"]).await;
    let prefix = unique("race");
    // 1,000 due destinations, one in ten with an injected fault.
    env.db
        .batch_execute(&format!(
            "with posts as ( \
               insert into public.scheduled_posts (team_id, body, created_by) \
               select '{team}', format('%s %s %s', '{prefix}', n, \
                 case n % 40 when 1 then '[publish:429]' when 2 then '[publish:503]' \
                             when 3 then '[publish:500-after-accept]' when 4 then '[publish:drop-after-accept]' else '' end), \
                 '{owner}' \
               from generate_series(1, 1000) as n returning id) \
             insert into public.post_destinations (post_id, team_id, connection_id, status, next_attempt_at) \
             select id, '{team}', '{connection}', 'scheduled', now() from posts",
            team = team.id,
            owner = team.owner.id,
            connection = team.connections[0],
        ))
        .await
        .unwrap();
    let remaining = || async {
        let row = env
            .db
            .query_one(
                "select count(*) filter (where d.status in ('scheduled', 'publishing')) from public.post_destinations as d \
                 join public.scheduled_posts as p on p.id = d.post_id where p.body like $1",
                &[&format!("{prefix} %")],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    for _ in 0..20 {
        // Two dispatchers at once, as overlapping pg_cron runs or instances would be.
        futures::future::join(cron_publish(&env), cron_publish(&env)).await;
        if remaining().await == 0 {
            break;
        }
        env.db
            .execute(
                "update public.post_destinations set next_attempt_at = now() where status = 'scheduled' \
                 and post_id in (select id from public.scheduled_posts where body like $1)",
                &[&format!("{prefix} %")],
            )
            .await
            .unwrap();
    }
    assert_eq!(remaining().await, 0, "nothing is lost or stuck");
    // What the platform holds, per text: each destination's post exactly once, and nothing else.
    let mut at_platform: std::collections::HashMap<String, usize> =
        std::collections::HashMap::new();
    for post in created_posts(&env, &team.account).await {
        let text = post["text"].as_str().unwrap_or_default().to_owned();
        if text.starts_with(&format!("{prefix} ")) {
            *at_platform.entry(text).or_default() += 1;
        }
    }
    let rows = env
        .db
        .query(
            "select p.body, d.status::text from public.post_destinations as d \
             join public.scheduled_posts as p on p.id = d.post_id where p.body like $1",
            &[&format!("{prefix} %")],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1000);
    let mut wrong = Vec::new();
    for row in &rows {
        let (body, status): (String, String) = (row.get(0), row.get(1));
        let posted = at_platform.remove(&body).unwrap_or(0);
        // A plain 503 to the first attempt proves nothing and the post is not at the platform
        // when looked up: the user decides (never reposted). Every other destination, those
        // that met a 429, a 500 or 503 after the post was created or a cut answer included,
        // is published, once.
        let expected = if body.contains("[publish:503]") {
            ("unconfirmed", 0)
        } else {
            ("published", 1)
        };
        if (status.as_str(), posted) != expected {
            wrong.push(format!("{body:?}: {status}, {posted} at the platform"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} destinations not as expected, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
    assert!(
        at_platform.is_empty(),
        "posts no destination asked for: {at_platform:?}"
    );
}

#[tokio::test]
async fn an_image_post_reaches_linkedin_instagram_and_pinterest_once_with_permalinks() {
    let env = TestApp::spawn().await;
    let team = env
        .new_team_with_connections(&["linkedin", "instagram", "pinterest"])
        .await;
    let image = library_asset(&env, &team.owner, &team, "image/jpeg", jpeg()).await;
    let text = format!("New collection (spring) #launch {}", unique("image"));
    let options = [
        json!({"visibility": "PUBLIC"}),
        json!({}),
        json!({"boardId": "board-spring", "title": "Spring", "link": "https://pixa.example/spring"}),
    ];
    let post_id = draft_with_media(&env, &team.owner, &team, &text, &[image], &options).await;
    assert_eq!(
        publish_now(&env, &team.owner, &post_id).await,
        ["published", "published", "published"]
    );
    let snapshot = status(&env, &team.owner, &post_id).await;
    let permalinks: Vec<&str> = snapshot["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["permalink"].as_str().unwrap())
        .collect();
    for prefix in [
        "https://www.linkedin.com/feed/update/urn:li:share:",
        "https://www.instagram.com/p/",
        "https://www.pinterest.com/pin/",
    ] {
        assert!(
            permalinks.iter().any(|p| p.starts_with(prefix)),
            "{prefix} in {permalinks:?}"
        );
    }
    let created = created_posts(&env, &team.account).await;
    assert_eq!(
        apps_with_text(&created, &text),
        ["instagram", "linkedin", "pinterest"],
        "once per platform; Instagram fetched the image from its signed URL"
    );
}

#[tokio::test]
async fn a_video_post_reaches_tiktok_and_youtube_once_with_permalinks() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["tiktok", "youtube"]).await;
    let video = library_asset(&env, &team.owner, &team, "video/mp4", mp4()).await;
    let text = format!("Behind the scenes {}", unique("video"));
    let options = [
        json!({"privacyLevel": "PUBLIC_TO_EVERYONE", "disableDuet": true}),
        json!({"title": format!("Behind the scenes {}", unique("t")), "privacyStatus": "unlisted"}),
    ];
    let post_id = draft_with_media(&env, &team.owner, &team, &text, &[video], &options).await;
    assert_eq!(
        publish_now(&env, &team.owner, &post_id).await,
        ["published", "published"]
    );
    let snapshot = status(&env, &team.owner, &post_id).await;
    let permalinks: Vec<&str> = snapshot["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["permalink"].as_str().unwrap())
        .collect();
    assert!(
        permalinks
            .iter()
            .any(|p| p.starts_with(&format!("https://www.tiktok.com/@{}/video/", team.account))),
        "{permalinks:?}"
    );
    assert!(
        permalinks
            .iter()
            .any(|p| p.starts_with("https://www.youtube.com/watch?v=")),
        "{permalinks:?}"
    );
    let created = created_posts(&env, &team.account).await;
    assert_eq!(apps_with_text(&created, &text), ["tiktok", "youtube"]);
}

#[tokio::test]
async fn a_video_reaches_x_in_segments_and_is_posted_once_processed() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    // Three of the worker's 3 MB segments, the first opening with an MP4 `ftyp` box.
    let mut long = mp4();
    long.resize(7 * 1024 * 1024, 0x17);
    let video = library_asset(&env, &team.owner, &team, "video/mp4", long).await;
    let text = format!("Launch film {}", unique("x-video"));
    let post_id = draft_with_media(&env, &team.owner, &team, &text, &[video], &[json!({})]).await;
    assert_eq!(
        publish_now(&env, &team.owner, &post_id).await,
        ["published"]
    );
    let created = created_posts(&env, &team.account).await;
    assert_eq!(apps_with_text(&created, &text), ["x"]);

    // Bytes X cannot read as video: its processing fails and nothing is posted.
    let not_video = library_asset(&env, &team.owner, &team, "video/mp4", jpeg()).await;
    let text = format!("Broken film {}", unique("x-video"));
    let post_id =
        draft_with_media(&env, &team.owner, &team, &text, &[not_video], &[json!({})]).await;
    publish_now(&env, &team.owner, &post_id).await;
    assert_eq!(
        outcomes(&env, &team.owner, &team, &post_id).await,
        [("failed".to_owned(), json!("media_rejected"))]
    );
    let snapshot = status(&env, &team.owner, &post_id).await;
    assert!(
        snapshot["destinations"][0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Unsupported video format"),
        "{snapshot}"
    );
    assert_eq!(
        apps_with_text(&created_posts(&env, &team.account).await, &text),
        Vec::<String>::new()
    );
}

/// X's one-call upload takes no GIF (its `media_category` is `tweet_image`, `dm_image` or
/// `subtitles`): a GIF goes up in segments as `tweet_gif` and is posted once processed.
#[tokio::test]
async fn a_gif_reaches_x_as_a_segmented_tweet_gif_upload() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let mut gif = b"GIF89a".to_vec();
    gif.resize(2048, 0x2C);
    let gif = library_asset(&env, &team.owner, &team, "image/gif", gif).await;
    let text = format!("Animated {}", unique("x-gif"));
    let post_id = draft_with_media(&env, &team.owner, &team, &text, &[gif], &[json!({})]).await;
    assert_eq!(
        publish_now(&env, &team.owner, &post_id).await,
        ["published"],
        "{}",
        status(&env, &team.owner, &post_id).await
    );
    assert_eq!(
        apps_with_text(&created_posts(&env, &team.account).await, &text),
        ["x"]
    );
}

/// TikTok refuses a privacy level the creator's info does not offer: the worker reads it
/// first and fails the destination with the levels the account offers, before anything is
/// sent to TikTok; a level it offers publishes.
#[tokio::test]
async fn a_tiktok_privacy_level_the_account_does_not_offer_fails_before_posting() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let id = env.new_team(&owner).await;
    // The fake's accounts named `private…` are private: no PUBLIC_TO_EVERYONE.
    let account = unique("private");
    let connection = env
        .connect(&owner, &id, "tiktok", &format!("fake_account={account}"))
        .await;
    let team = Team {
        id,
        owner,
        connections: vec![connection],
        account,
    };
    let video = library_asset(&env, &team.owner, &team, "video/mp4", mp4()).await;
    let text = format!("Dance {}", unique("tiktok"));
    let post_id = draft_with_media(
        &env,
        &team.owner,
        &team,
        &text,
        std::slice::from_ref(&video),
        &[json!({"privacyLevel": "PUBLIC_TO_EVERYONE"})],
    )
    .await;
    publish_now(&env, &team.owner, &post_id).await;
    assert_eq!(
        outcomes(&env, &team.owner, &team, &post_id).await,
        [("failed".to_owned(), json!("invalid_option"))]
    );
    let snapshot = status(&env, &team.owner, &post_id).await;
    let message = snapshot["destinations"][0]["errorMessage"]
        .as_str()
        .unwrap();
    assert!(message.contains("FOLLOWER_OF_CREATOR"), "{message}");
    assert!(created_posts(&env, &team.account).await.is_empty());

    let text = format!("Dance {}", unique("tiktok"));
    let post_id = draft_with_media(
        &env,
        &team.owner,
        &team,
        &text,
        &[video],
        &[json!({"privacyLevel": "FOLLOWER_OF_CREATOR"})],
    )
    .await;
    assert_eq!(
        publish_now(&env, &team.owner, &post_id).await,
        ["published"]
    );
    assert_eq!(
        apps_with_text(&created_posts(&env, &team.account).await, &text),
        ["tiktok"]
    );
}

/// The Graph API refuses a Page token with 400 and `OAuthException` code 190, not 401: the
/// destination asks for a new authorization (Facebook has no refresh grant) instead of failing
/// as a refused post.
#[tokio::test]
async fn a_page_token_facebook_refuses_with_code_190_asks_for_reauthorization() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["facebook"]).await;
    let text = format!("[publish:401] {}", unique("page-token"));
    let post_id = draft(&env, &team.owner, &team, &text, &[json!({})]).await;
    publish_now(&env, &team.owner, &post_id).await;
    assert_eq!(
        outcomes(&env, &team.owner, &team, &post_id).await,
        [("failed".to_owned(), json!("reauth_required"))]
    );
    let connection = env
        .db
        .query_one(
            "select status::text from public.social_connections where id = $1::text::uuid",
            &[&team.connections[0]],
        )
        .await
        .unwrap();
    assert_eq!(connection.get::<_, String>(0), "reauth_required");
    assert!(created_posts(&env, &team.account).await.is_empty());
}

/// YouTube refuses `<` and `>` in a description (`invalidDescription`) and counts its limit in
/// bytes: both are refused before anything is scheduled.
#[tokio::test]
async fn a_youtube_description_youtube_would_refuse_is_refused_before_scheduling() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["youtube"]).await;
    let video = library_asset(&env, &team.owner, &team, "video/mp4", mp4()).await;
    for (body, code) in [
        ("Watch <this>".to_owned(), "invalid_text"),
        ("é".repeat(2501), "too_long"),
    ] {
        let post_id = draft_with_media(
            &env,
            &team.owner,
            &team,
            &body,
            std::slice::from_ref(&video),
            &[json!({"title": "Launch", "privacyStatus": "public"})],
        )
        .await;
        let (status, answer) = env
            .post_json(
                &format!("/v1/posts/{post_id}/publish"),
                &team.owner.token,
                json!({}),
            )
            .await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"));
        assert_eq!(
            answer["error"]["problems"][0]["path"], "destinations[0].body",
            "{answer}"
        );
        assert_eq!(answer["error"]["problems"][0]["code"], code, "{answer}");
    }
}

#[tokio::test]
async fn ambiguous_answers_are_looked_up_where_the_platform_allows_and_never_reposted() {
    let env = TestApp::spawn().await;
    let images = env
        .new_team_with_connections(&["linkedin", "instagram", "pinterest"])
        .await;
    let videos = env.new_team_with_connections(&["youtube", "tiktok"]).await;
    let image = library_asset(&env, &images.owner, &images, "image/jpeg", jpeg()).await;
    let video = library_asset(&env, &videos.owner, &videos, "video/mp4", mp4()).await;
    for marker in [
        "[publish:500-after-accept]",
        "[publish:drop-after-accept]",
        "[publish:timeout-after-accept]",
    ] {
        let text = format!("{marker} {}", unique("lost"));
        let post_id = draft_with_media(
            &env,
            &images.owner,
            &images,
            &text,
            std::slice::from_ref(&image),
            &[json!({}), json!({}), json!({"boardId": "board-lost"})],
        )
        .await;
        publish_now(&env, &images.owner, &post_id).await;
        assert_eq!(
            outcomes(&env, &images.owner, &images, &post_id).await,
            [
                ("unconfirmed".to_owned(), json!("outcome_unknown")),
                ("published".to_owned(), Value::Null),
                ("published".to_owned(), Value::Null),
            ],
            "{marker}: found at Instagram and Pinterest; LinkedIn lists a member's posts only \
             to apps with the private r_member_social permission, so the user decides"
        );
        let events = status(&env, &images.owner, &post_id).await["events"].clone();
        assert_eq!(
            events
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["event"] == "found_existing")
                .count(),
            2,
            "{marker}: {events}"
        );
        assert_eq!(
            apps_with_text(&created_posts(&env, &images.account).await, &text),
            ["instagram", "linkedin", "pinterest"],
            "{marker}: never reposted"
        );

        let text = format!("{marker} {}", unique("lost-video"));
        let post_id = draft_with_media(
            &env,
            &videos.owner,
            &videos,
            &text,
            std::slice::from_ref(&video),
            &[
                json!({"title": unique("Lost"), "privacyStatus": "public"}),
                json!({"privacyLevel": "SELF_ONLY"}),
            ],
        )
        .await;
        publish_now(&env, &videos.owner, &post_id).await;
        assert_eq!(
            outcomes(&env, &videos.owner, &videos, &post_id).await,
            [
                ("published".to_owned(), Value::Null),
                ("unconfirmed".to_owned(), json!("outcome_unknown"))
            ],
            "{marker}: TikTok cannot be looked up without the lost publish id: the user decides"
        );
        assert_eq!(
            apps_with_text(&created_posts(&env, &videos.account).await, &text),
            ["youtube"],
            "{marker}: the TikTok job never got its video"
        );
    }
}

#[tokio::test]
async fn refused_media_fail_the_destination_with_a_clear_error_and_post_nothing() {
    let env = TestApp::spawn().await;
    let images = env
        .new_team_with_connections(&["linkedin", "instagram", "pinterest"])
        .await;
    let videos = env.new_team_with_connections(&["tiktok", "youtube"]).await;
    let image = library_asset(&env, &images.owner, &images, "image/jpeg", jpeg()).await;
    let video = library_asset(&env, &videos.owner, &videos, "video/mp4", mp4()).await;
    let text = format!("[publish:reject-media] {}", unique("refused"));
    let post_id = draft_with_media(
        &env,
        &images.owner,
        &images,
        &text,
        &[image],
        &[json!({}), json!({}), json!({"boardId": "board-refused"})],
    )
    .await;
    publish_now(&env, &images.owner, &post_id).await;
    assert_eq!(
        outcomes(&env, &images.owner, &images, &post_id).await,
        [
            ("failed".to_owned(), json!("platform_refused")),
            ("failed".to_owned(), json!("media_rejected")),
            ("failed".to_owned(), json!("platform_refused")),
        ]
    );
    let post_id = draft_with_media(
        &env,
        &videos.owner,
        &videos,
        &text,
        &[video],
        &[
            json!({"privacyLevel": "PUBLIC_TO_EVERYONE"}),
            json!({"title": "Refused", "privacyStatus": "private"}),
        ],
    )
    .await;
    publish_now(&env, &videos.owner, &post_id).await;
    assert_eq!(
        outcomes(&env, &videos.owner, &videos, &post_id).await,
        [
            ("failed".to_owned(), json!("media_rejected")),
            ("failed".to_owned(), json!("platform_refused")),
        ]
    );
    let snapshot = status(&env, &videos.owner, &post_id).await;
    for destination in snapshot["destinations"].as_array().unwrap() {
        let message = destination["errorMessage"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.contains("fake-at-"),
            "{message}"
        );
    }
    assert!(created_posts(&env, &images.account).await.is_empty());
    assert!(created_posts(&env, &videos.account).await.is_empty());
}

#[tokio::test]
async fn a_finished_content_job_becomes_a_published_post_in_one_call() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["facebook"]).await;
    let chain = json!([
        {"kind": "draft", "provider": "openai"},
        {"kind": "image_prompt"},
        {"kind": "image", "provider": "openai"},
    ]);
    let (code, accepted) = env.post_json("/v1/jobs", &team.owner.token, json!({"prompt": format!("Autumn sale {}", unique("job")), "teamId": team.id, "chain": chain}))
    .await;
    assert_eq!(code, 202, "{accepted}");
    let job_id = accepted["id"].as_str().unwrap().to_owned();
    let mut text = String::new();
    for _ in 0..300 {
        let (_, job, _) = env
            .send(
                env.http
                    .get(env.stack.url(&format!("/v1/jobs/{job_id}")))
                    .bearer_auth(&team.owner.token),
            )
            .await;
        if job["state"] == "done" {
            text = job["result"]["text"].as_str().unwrap().to_owned();
            break;
        }
        assert_ne!(job["state"], "failed", "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!text.is_empty(), "the job finished");

    let path = format!("/v1/jobs/{job_id}/post");
    let destinations = json!({"destinations": [{"connectionId": team.connections[0]}]});
    let (code, body) = env
        .post_json(&path, &team.owner.token, destinations.clone())
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (202, Some("scheduled")),
        "{body}"
    );
    let post_id = body["postId"].as_str().unwrap().to_owned();
    assert_eq!(settled(&env, &team.owner, &post_id).await, ["published"]);
    let created = created_posts(&env, &team.account).await;
    assert_eq!(
        count_with_text(&created, &text),
        1,
        "the job's text, with its image, went out once"
    );

    let (code, body) = env.post_json(&path, &team.owner.token, destinations).await;
    assert_eq!(
        (code, body["status"].as_str(), body["postId"].as_str()),
        (200, Some("existing"), Some(post_id.as_str()))
    );
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        1
    );
}

/// Replaces a library file's bytes through Storage, as any member may.
async fn replace_library_file(env: &TestApp, user: &User, asset: &str, mime: &str, bytes: Vec<u8>) {
    let rows = env
        .db
        .query(
            "select object_path from public.content_library_assets where id = $1::text::uuid",
            &[&asset],
        )
        .await
        .unwrap();
    let path: String = rows[0].get(0);
    let response = env
        .http
        .put(format!(
            "{}/storage/v1/object/library/{path}",
            env.stack.supabase_url
        ))
        .header("apikey", env.stack.keys.anon_key())
        .header("content-type", mime)
        .header("x-upsert", "true")
        .bearer_auth(&user.token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );
}

#[tokio::test]
async fn a_file_far_larger_than_storage_recorded_fails_its_destination_and_the_run_goes_on() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let mut huge = jpeg();
    huge.resize(30 * 1024 * 1024, 0x42);
    let image = library_asset(&env, &team.owner, &team, "image/jpeg", huge).await;
    // Storage's record of the object says it is tiny (the size a client could once claim).
    env.db
        .execute(
            "update storage.objects set metadata = metadata || '{\"size\": 1}' \
             where bucket_id = 'library' and name = \
             (select object_path from public.content_library_assets where id = $1::text::uuid)",
            &[&image],
        )
        .await
        .unwrap();
    let heavy_text = format!("Heavy {}", unique("heavy"));
    let heavy = draft_with_media(&env, &team.owner, &team, &heavy_text, &[image], &[]).await;
    let light_text = format!("Light {}", unique("light"));
    let light = draft(&env, &team.owner, &team, &light_text, &[]).await;
    for post_id in [&heavy, &light] {
        schedule_later(&env, &team.owner, post_id).await;
        make_due(&env, post_id).await;
    }
    cron_publish(&env).await;
    idle(&env, &team.owner, &heavy).await;
    idle(&env, &team.owner, &light).await;
    assert_eq!(
        outcomes(&env, &team.owner, &team, &heavy).await,
        [("failed".to_owned(), json!("media_too_large"))]
    );
    assert_eq!(
        outcomes(&env, &team.owner, &team, &light).await,
        [("published".to_owned(), Value::Null)]
    );
    let created = created_posts(&env, &team.account).await;
    assert_eq!(count_with_text(&created, &heavy_text), 0);
    assert_eq!(count_with_text(&created, &light_text), 1);
}

#[tokio::test]
async fn a_file_replaced_after_the_post_was_submitted_is_never_published() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let image = library_asset(&env, &team.owner, &team, "image/jpeg", jpeg()).await;
    let text = format!("Approved {}", unique("approved"));
    let post_id = draft_with_media(
        &env,
        &team.owner,
        &team,
        &text,
        std::slice::from_ref(&image),
        &[],
    )
    .await;
    schedule_later(&env, &team.owner, &post_id).await;
    let mut other = jpeg();
    other.resize(5000, 0x66);
    replace_library_file(&env, &team.owner, &image, "image/jpeg", other).await;
    make_due(&env, &post_id).await;
    cron_publish(&env).await;
    idle(&env, &team.owner, &post_id).await;
    assert_eq!(
        outcomes(&env, &team.owner, &team, &post_id).await,
        [("failed".to_owned(), json!("media_changed"))]
    );
    assert_eq!(
        count_with_text(&created_posts(&env, &team.account).await, &text),
        0
    );
}

#[tokio::test]
async fn a_job_post_whose_first_submission_was_refused_is_submitted_when_asked_again() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    let (code, accepted) = env
        .post_json(
            "/v1/jobs",
            &team.owner.token,
            json!({"prompt": format!("Winter sale {}", unique("job")), "teamId": team.id,
               "chain": [{"kind": "draft", "provider": "openai"}]}),
        )
        .await;
    assert_eq!(code, 202, "{accepted}");
    let job_id = accepted["id"].as_str().unwrap().to_owned();
    for _ in 0..300 {
        let (_, job, _) = env
            .send(
                env.http
                    .get(env.stack.url(&format!("/v1/jobs/{job_id}")))
                    .bearer_auth(&team.owner.token),
            )
            .await;
        if job["state"] == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A member cannot take the job's post key first.
    let (status, refused) = env
        .rest_insert(
            &team.owner,
            "scheduled_posts",
            json!({"team_id": team.id, "client_post_id": format!("job:{job_id}"), "body": "squatted"}),
        )
        .await;
    assert_ne!(status, 201, "{refused}");

    let path = format!("/v1/jobs/{job_id}/post");
    let refused_options = json!({"destinations": [{"connectionId": team.connections[0],
                                                   "options": {"replySettings": "everyone"}}]});
    let (code, body) = env
        .post_json(&path, &team.owner.token, refused_options)
        .await;
    assert_eq!(
        (code, error_code(&body)),
        (400, "invalid_request"),
        "{body}"
    );
    env.db
        .execute(
            "update public.post_destinations set options = '{}' where post_id = \
             (select id from public.scheduled_posts where client_post_id = $1)",
            &[&format!("job:{job_id}")],
        )
        .await
        .unwrap();
    let (code, body) = env
        .post_json(
            &path,
            &team.owner.token,
            json!({"destinations": [{"connectionId": team.connections[0]}]}),
        )
        .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (202, Some("scheduled")),
        "the refused first submission is not taken for a done one: {body}"
    );
    let post_id = body["postId"].as_str().unwrap().to_owned();
    assert_eq!(settled(&env, &team.owner, &post_id).await, ["published"]);
}

#[tokio::test]
async fn moderation_fails_closed_when_its_provider_is_down() {
    let env = TestApp::spawn().await;
    let team = env.new_team_with_connections(&["x"]).await;
    // The platform's moderator and the fallback provider both fail for this text.
    let text = format!("[down:openai] [down:gemini] {}", unique("unmoderated"));
    let post_id = draft(&env, &team.owner, &team, &text, &[]).await;
    let (code, body) = env
        .post_json(
            &format!("/v1/posts/{post_id}/publish"),
            &team.owner.token,
            json!({}),
        )
        .await;
    assert_eq!(
        (code, error_code(&body)),
        (503, "provider_unavailable"),
        "{body}"
    );
    let row = env
        .db
        .query_one(
            "select p.scheduled_at is null, array_agg(d.status::text) from public.scheduled_posts as p \
             join public.post_destinations as d on d.post_id = p.id \
             where p.id = $1::text::uuid group by p.id",
            &[&post_id],
        )
        .await
        .unwrap();
    let (unscheduled, statuses): (bool, Vec<String>) = (row.get(0), row.get(1));
    assert!(
        unscheduled && statuses == ["draft"],
        "nothing unmoderated was submitted: {statuses:?}"
    );
}
