//! Social account connections through workerd, real Postgres and the platform fakes
//! (`tests/fakes/src/social.rs`): the OAuth flow for all seven platforms, state and PKCE
//! attacks, open-redirect attempts, denied consent, who may connect and disconnect, the
//! single-flight refresh under 50 concurrent verifications, `invalid_grant` → reauth, cron
//! refresh, key rotation, and tokens never reaching a response or the worker's log.

use std::time::Duration;

use e2e::app::{TestApp, User};
use e2e::error_code;
use e2e::social::{external_id, query, unique, RETURN_TO};
use serde_json::json;

const PLATFORMS: [&str; 7] = [
    "x",
    "linkedin",
    "facebook",
    "instagram",
    "tiktok",
    "pinterest",
    "youtube",
];

/// The first access token the platform fake issued `account`.
async fn first_access_token(env: &TestApp, account: &str) -> String {
    let stats = env.fake_stats(account).await;
    stats["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|token| token.as_str())
        .find(|token| token.starts_with("fake-at-"))
        .unwrap_or_else(|| panic!("no access token issued: {stats}"))
        .to_owned()
}

/// Waits (within 10 s) until the platform fake refuses the first access token it issued
/// `account` (one of `fake_access_ttl=1`), reading the profile at `api` (host and path) with it.
async fn expired_at_the_platform(env: &TestApp, api: &str, account: &str) {
    let fakes = std::env::var("E2E_FAKES_URL").expect("E2E_FAKES_URL");
    let first = first_access_token(env, account).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let response = env
            .http
            .get(format!("{fakes}/social/{api}"))
            .bearer_auth(&first)
            .send()
            .await
            .expect("fakes reachable");
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the platform still accepts the first token of {account}: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_platform_connects_verifies_lists_without_tokens_and_disconnects() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let mut seen = Vec::new();
    let mut accounts = Vec::new();
    for platform in PLATFORMS {
        let account = unique(platform);
        let connection = env
            .connect(&owner, &team, platform, &format!("fake_account={account}"))
            .await;
        let stats = env.fake_stats(&account).await;
        assert_eq!(stats["tokenExchanges"], 1, "{platform}: {stats}");

        let (status, body) = env.verify(&owner, &connection).await;
        assert_eq!(status, 200, "{platform}: {body}");
        assert_eq!(body["platform"], platform);
        assert_eq!(body["verified"], true);
        assert_eq!(body["externalAccountId"], external_id(platform, &account));
        assert_eq!(
            body["profile"]["externalAccountId"],
            external_id(platform, &account)
        );
        assert_eq!(body["status"], "active");
        seen.push(body.to_string());
        accounts.push((platform, account, connection));
    }

    // Clients list the team's connections through the view, never a token.
    let (status, rows) = env
        .rest(
            &owner,
            &format!("social_accounts?team_id=eq.{team}&order=platform"),
        )
        .await;
    assert_eq!(status, 200, "{rows}");
    assert_eq!(rows.as_array().unwrap().len(), 7, "{rows}");
    let listed = rows.to_string();
    assert!(
        !listed.contains("encrypted")
            && !listed.contains("fake-at-")
            && !listed.contains("fake-rt-")
    );
    seen.push(listed);
    let (status, refused) = env
        .rest(&owner, "social_connections?select=encrypted_access_token")
        .await;
    assert_ne!(
        status, 200,
        "the sealed column is not selectable: {refused}"
    );
    let outsider = env.new_user().await;
    let (_, none) = env
        .rest(&outsider, &format!("social_accounts?team_id=eq.{team}"))
        .await;
    assert_eq!(none, json!([]), "another team sees nothing");

    // Reconnecting the same account updates the one connection.
    let (platform, account, connection) = &accounts[0];
    let again = env
        .connect(&owner, &team, platform, &format!("fake_account={account}"))
        .await;
    assert_eq!(&again, connection);

    for (platform, account, connection) in &accounts {
        let (status, body) = env.delete(&owner, connection).await;
        assert_eq!(status, 200, "{platform}: {body}");
        let expected = match *platform {
            "linkedin" | "pinterest" => "unsupported",
            _ => "revoked",
        };
        assert_eq!(body["revocation"], expected, "{platform}");
        let revocations = env.fake_stats(account).await["revocations"].clone();
        assert_eq!(revocations, u64::from(expected == "revoked"), "{platform}");
        seen.push(body.to_string());
    }
    let (_, rows) = env
        .rest(&owner, &format!("social_accounts?team_id=eq.{team}"))
        .await;
    assert_eq!(rows, json!([]));

    // No token the fakes issued reached a response or the worker's log: read the log once it
    // holds the line of a request answered after all of the above.
    let (status, _, headers) = env.stack.get("/v1/me", Some(&owner.token)).await;
    assert_eq!(status, 200);
    let last = headers["x-request-id"].to_str().unwrap().to_owned();
    let log = env.stack.log_through(&last).await;
    for (platform, account, _) in &accounts {
        let stats = env.fake_stats(account).await;
        let tokens = stats["tokens"].as_array().unwrap();
        assert!(!tokens.is_empty(), "{platform}");
        for token in tokens {
            let token = token.as_str().unwrap();
            assert!(!log.contains(token), "{platform} token in the worker log");
            assert!(
                seen.iter().all(|body| !body.contains(token)),
                "{platform} token in a response"
            );
        }
    }
    assert!(
        !log.contains("fake-x-secret") && !log.contains("code="),
        "secrets or codes in the log"
    );
}

#[tokio::test]
async fn a_state_is_single_use_bound_to_its_platform_and_expires() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;

    let callback = env.authorize(&owner, &team, "x", "").await;
    let (status, _, location) = env.callback(&callback).await;
    assert_eq!(status, 302);
    assert!(location.unwrap().contains("connection_status=success"));
    let (status, body, location) = env.callback(&callback).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "oauth_state_invalid"),
        "a replay"
    );
    assert!(location.is_none(), "no redirect for an untrusted state");

    let tampered = callback.replace("state=", "state=x");
    let (status, body, _) = env.callback(&tampered).await;
    assert_eq!((status, error_code(&body)), (400, "oauth_state_invalid"));
    let (status, body, _) = env
        .callback(&env.stack.url("/v1/oauth/x/callback?code=abc"))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "oauth_state_invalid"),
        "no state"
    );

    // A state started for X, brought back to LinkedIn's callback, is spent and refused.
    let callback = env.authorize(&owner, &team, "x", "").await;
    let other_platform = callback.replace("/v1/oauth/x/", "/v1/oauth/linkedin/");
    let (status, body, _) = env.callback(&other_platform).await;
    assert_eq!((status, error_code(&body)), (400, "oauth_state_invalid"));
    let (status, body, _) = env.callback(&callback).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "oauth_state_invalid"),
        "spent by the mismatch"
    );

    // Expired: ten minutes passed.
    let callback = env.authorize(&owner, &team, "x", "").await;
    env.db
        .execute(
            "update app_private.oauth_states set expires_at = now() - interval '1 second' \
             where user_id = $1::text::uuid",
            &[&owner.id],
        )
        .await
        .unwrap();
    let (status, body, _) = env.callback(&callback).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "oauth_state_invalid"),
        "expired"
    );

    let (status, body, _) = env
        .callback(&env.stack.url("/v1/oauth/myspace/callback?state=a&code=b"))
        .await;
    assert_eq!((status, error_code(&body)), (404, "unknown_platform"));
}

#[tokio::test]
async fn denied_consent_pkce_mismatch_and_lost_roles_come_back_as_error_redirects() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let admin = env.new_user().await;
    let team = env.new_team(&owner).await;
    env.add_member(&team, &admin, "admin").await;
    let outcome = |location: Option<String>| {
        let location = location.expect("a redirect");
        assert!(location.starts_with(RETURN_TO), "{location}");
        let q = query(&location);
        (
            q("connection_status").unwrap(),
            q("reason").unwrap(),
            q("platform").unwrap(),
        )
    };

    let callback = env.authorize(&owner, &team, "youtube", "fake_deny=1").await;
    assert!(callback.contains("error=access_denied"));
    let (status, _, location) = env.callback(&callback).await;
    assert_eq!(status, 302);
    assert_eq!(
        outcome(location),
        ("error".into(), "access_denied".into(), "youtube".into())
    );

    // The verifier sent does not match the challenge the platform saw: the platform refuses
    // (the platforms whose web flow takes PKCE; TikTok's does not).
    for platform in ["x", "youtube"] {
        let account = unique("pkce");
        let callback = env
            .authorize(&owner, &team, platform, &format!("fake_account={account}"))
            .await;
        env.db
            .execute(
                "update app_private.oauth_states set code_verifier = repeat('A', 43) where user_id = $1::text::uuid",
                &[&owner.id],
            )
            .await
            .unwrap();
        let (status, _, location) = env.callback(&callback).await;
        assert_eq!(status, 302);
        assert_eq!(outcome(location).1, "token_exchange_failed", "{platform}");
        assert_eq!(env.fake_stats(&account).await["tokenExchanges"], 0);
    }

    // An admin demoted before coming back may no longer connect.
    let callback = env.authorize(&admin, &team, "linkedin", "").await;
    env.add_member(&team, &admin, "member").await;
    let (status, _, location) = env.callback(&callback).await;
    assert_eq!(status, 302);
    assert_eq!(outcome(location).1, "forbidden");

    let count = env
        .db
        .query_one(
            "select count(*) from public.social_connections where team_id = $1::text::uuid",
            &[&team],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(count, 0, "nothing was connected");
}

#[tokio::test]
async fn start_refuses_open_redirects_non_admins_and_unconfigured_requests() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let member = env.new_user().await;
    let outsider = env.new_user().await;
    let team = env.new_team(&owner).await;
    env.add_member(&team, &member, "member").await;

    for target in [
        "https://evil.example/settings/connections",
        "//evil.example/",
        "http://127.0.0.1:3000@evil.example/",
        "http://evil.example\\@127.0.0.1:3000/",
        "javascript:alert(document.cookie)",
        "http://127.0.0.1:3001/",
        "https://127.0.0.1:3000/",
        "/settings/connections",
    ] {
        let (status, body) = env.start(&owner, &team, "x", target).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "redirect_not_allowed"),
            "{target}"
        );
    }
    let (status, body, _) = env
        .send(
            env.http
                .get(env.stack.url("/v1/oauth/x/start"))
                .query(&[("teamId", team.as_str())])
                .bearer_auth(&owner.token),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("redirectTo"))
    );

    let (status, body) = env.start(&member, &team, "x", RETURN_TO).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "forbidden"),
        "members do not connect"
    );
    let (status, body) = env.start(&outsider, &team, "x", RETURN_TO).await;
    assert_eq!((status, error_code(&body)), (403, "not_team_member"));
    let (status, body) = env.start(&owner, &team, "myspace", RETURN_TO).await;
    assert_eq!((status, error_code(&body)), (404, "unknown_platform"));
    let (status, body, _) = env
        .send(env.http.get(env.stack.url("/v1/oauth/x/start")))
        .await;
    assert_eq!((status, error_code(&body)), (401, "missing_token"));

    // mode=redirect answers with the authorize URL as a 302.
    let (status, body, location) = env
        .send(
            env.http
                .get(env.stack.url("/v1/oauth/tiktok/start"))
                .query(&[
                    ("teamId", team.as_str()),
                    ("redirectTo", RETURN_TO),
                    ("mode", "redirect"),
                ])
                .bearer_auth(&owner.token),
        )
        .await;
    assert_eq!(status, 302, "{body}");
    let location = location.unwrap();
    let q = query(&location);
    assert!(location.contains("/social/www.tiktok.com/v2/auth/authorize/"));
    assert_eq!(q("client_key").as_deref(), Some("fake-tiktok-key"));
    // Login Kit for Web takes no PKCE (a challenge would be checked as TikTok's hex one).
    assert_eq!(q("code_challenge"), None);
    assert_eq!(
        q("scope").as_deref(),
        Some("user.info.basic,user.info.profile,video.publish,video.upload")
    );
    assert!(q("state").unwrap().len() >= 43, "≥ 256 bits of state");
}

#[tokio::test]
async fn who_may_disconnect() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let admin = env.new_user().await;
    let member = env.new_user().await;
    let outsider = env.new_user().await;
    let team = env.new_team(&owner).await;
    env.add_member(&team, &admin, "admin").await;
    env.add_member(&team, &member, "member").await;

    let by_owner = env.connect(&owner, &team, "pinterest", "").await;
    let by_admin = env.connect(&admin, &team, "linkedin", "").await;
    // The admin steps down to member: still the one who connected it.
    env.add_member(&team, &admin, "member").await;

    let (status, body) = env.delete(&member, &by_owner).await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));
    let (status, body) = env.delete(&outsider, &by_owner).await;
    assert_eq!((status, error_code(&body)), (404, "connection_not_found"));
    let (status, body) = env.verify(&outsider, &by_owner).await;
    assert_eq!((status, error_code(&body)), (404, "connection_not_found"));
    let (status, _) = env.verify(&member, &by_owner).await;
    assert_eq!(status, 200, "members verify");
    let (status, body) = env.delete(&admin, &by_admin).await;
    assert_eq!(status, 200, "the connecting user: {body}");
    env.add_member(&team, &admin, "admin").await;
    let (status, body) = env.delete(&admin, &by_owner).await;
    assert_eq!(status, 200, "an admin: {body}");
    let (status, body) = env.delete(&admin, &by_owner).await;
    assert_eq!((status, error_code(&body)), (404, "connection_not_found"));
    let (status, body) = env.delete(&owner, "not-a-uuid").await;
    assert_eq!((status, error_code(&body)), (404, "connection_not_found"));
}

#[tokio::test]
async fn fifty_concurrent_verifications_of_an_expired_x_token_refresh_it_once() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let account = unique("race");
    let connection = env
        .connect(
            &owner,
            &team,
            "x",
            &format!("fake_account={account}&fake_access_ttl=1"),
        )
        .await;
    // Expired at the platform and in the database.
    expired_at_the_platform(&env, "api.x.com/2/users/me", &account).await;
    env.expire_access_token(&connection).await;
    // The cron refresh another test runs may have renewed the short-lived first token meanwhile.
    let refreshes_before = env.fake_stats(&account).await["refreshCalls"]
        .as_u64()
        .unwrap_or(0);
    let generation = || async {
        env.db
            .query_one(
                "select token_generation from public.social_connections where id = $1::text::uuid",
                &[&connection],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let generation_before = generation().await;

    let verifications = (0..50).map(|_| env.verify(&owner, &connection));
    let outcomes = futures::future::join_all(verifications).await;
    for (status, body) in &outcomes {
        assert_eq!(*status, 200, "{body}");
    }
    let stats = env.fake_stats(&account).await;
    assert_eq!(
        stats["refreshCalls"].as_u64().unwrap_or(0) - refreshes_before,
        1,
        "one refresh for 50 callers: {stats}"
    );
    assert!(stats["profileReads"].as_u64().unwrap() >= 50);
    assert_eq!(
        generation().await,
        generation_before + 1,
        "the tokens were written once"
    );
}

#[tokio::test]
async fn an_invalid_grant_requires_reauthorization_and_transient_failures_are_retried() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;

    for platform in ["x", "tiktok", "pinterest", "youtube", "linkedin"] {
        let account = unique("revoked");
        let connection = env
            .connect(
                &owner,
                &team,
                platform,
                &format!("fake_account={account}&fake_refresh=invalid"),
            )
            .await;
        env.expire_access_token(&connection).await;
        let (status, body) = env.verify(&owner, &connection).await;
        assert_eq!(
            (status, error_code(&body)),
            (409, "reauth_required"),
            "{platform}"
        );
        let (status, _) = env.verify(&owner, &connection).await;
        assert_eq!(status, 409);
        assert_eq!(
            env.fake_stats(&account).await["refreshCalls"],
            1,
            "{platform}: no retry loop"
        );
        let (_, rows) = env
            .rest(
                &owner,
                &format!("social_accounts?id=eq.{connection}&select=status,last_error"),
            )
            .await;
        assert_eq!(
            rows,
            json!([{"status": "reauth_required", "last_error": "invalid_grant"}])
        );
    }

    // Facebook Page tokens cannot be refreshed: once Facebook refuses one (the user removed
    // the app), the team must connect again.
    let account = unique("fbgone");
    let connection = env
        .connect(
            &owner,
            &team,
            "facebook",
            &format!("fake_account={account}"),
        )
        .await;
    let user_token = env.fake_stats(&account).await["tokens"][1].clone();
    let fakes = std::env::var("E2E_FAKES_URL").unwrap();
    let removed = env
        .http
        .delete(format!(
            "{fakes}/social/graph.facebook.com/v23.0/me/permissions"
        ))
        .bearer_auth(user_token.as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 200);
    let (status, body) = env.verify(&owner, &connection).await;
    assert_eq!(
        (status, error_code(&body)),
        (409, "reauth_required"),
        "{body}"
    );

    let account = unique("flaky");
    let connection = env
        .connect(
            &owner,
            &team,
            "pinterest",
            &format!("fake_account={account}&fake_refresh=flaky"),
        )
        .await;
    env.expire_access_token(&connection).await;
    let (status, body) = env.verify(&owner, &connection).await;
    assert_eq!(
        status, 200,
        "a 503 from the token endpoint is retried: {body}"
    );
    assert_eq!(env.fake_stats(&account).await["refreshCalls"], 2);
}

#[tokio::test]
async fn tiktok_tells_the_team_what_its_creator_may_post_and_no_other_platform_is_asked() {
    let env = TestApp::spawn().await;
    let (owner, member, outsider) = (
        env.new_user().await,
        env.new_user().await,
        env.new_user().await,
    );
    let team = env.new_team(&owner).await;
    env.add_member(&team, &member, "member").await;
    let tiktok = env.connect(&owner, &team, "tiktok", "").await;
    let x = env.connect(&owner, &team, "x", "").await;

    // The fake creator's account is public: no FOLLOWER_OF_CREATOR, as TikTok answers it.
    let (status, body) = env.creator_info(&member, &tiktok).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["privacyLevelOptions"],
        json!(["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"])
    );
    assert_eq!(
        (&body["duetDisabled"], &body["commentDisabled"]),
        (&json!(true), &json!(false))
    );
    let (status, body) = env.creator_info(&owner, &x).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_request"));
    assert_eq!(body["error"]["field"], "connection_id");
    let (status, body) = env.creator_info(&outsider, &tiktok).await;
    assert_eq!((status, error_code(&body)), (404, "connection_not_found"));
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_once_then_retried() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let account = unique("stale");
    // The platform's token expires in a second, while the database still trusts it for
    // longer (as when a platform revokes a token early).
    let connection = env
        .connect(
            &owner,
            &team,
            "youtube",
            &format!("fake_account={account}&fake_access_ttl=1"),
        )
        .await;
    env.db
        .execute(
            "update public.social_connections set access_token_expires_at = now() + interval '1 hour' \
             where id = $1::text::uuid",
            &[&connection],
        )
        .await
        .unwrap();
    expired_at_the_platform(&env, "www.googleapis.com/youtube/v3/channels", &account).await;
    let (status, body) = env.verify(&owner, &connection).await;
    assert_eq!(status, 200, "{body}");
    let stats = env.fake_stats(&account).await;
    assert_eq!(stats["refreshCalls"], 1, "{stats}");
}

#[tokio::test]
async fn the_cron_refreshes_tokens_about_to_expire() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let secret = std::env::var("E2E_CRON_SECRET").unwrap();
    let (status, body) = env.cron("/v1/cron/tokens/refresh", "wrong").await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"));

    let account = unique("cron");
    let connection = env
        .connect(
            &owner,
            &team,
            "tiktok",
            &format!("fake_account={account}&fake_access_ttl=300"),
        )
        .await;
    let (status, body) = env.cron("/v1/cron/tokens/refresh", &secret).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["checked"].as_u64().unwrap() >= 1, "{body}");
    assert_eq!(env.fake_stats(&account).await["refreshCalls"], 1);
    let left: f64 = env
        .db
        .query_one(
            "select extract(epoch from access_token_expires_at - now())::float8 from public.social_connections \
             where id = $1::text::uuid",
            &[&connection],
        )
        .await
        .unwrap()
        .get(0);
    assert!(left > 3000.0, "renewed for an hour: {left}");
}

#[tokio::test]
async fn rows_sealed_with_an_older_key_still_open_and_are_resealed() {
    use pixa_edge::infra::crypto::KeyRing;
    use pixa_edge::social::tokens::seal_tokens;
    use pixa_edge::social::Platform;

    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let account = unique("rotate");
    let connection = env
        .connect(&owner, &team, "x", &format!("fake_account={account}"))
        .await;
    let tokens = env.fake_stats(&account).await["tokens"].clone();
    let (access, refresh) = (tokens[0].as_str().unwrap(), tokens[1].as_str().unwrap());

    // Seal the same tokens as a worker that knew only v1 did.
    let ring = std::env::var("E2E_SOCIAL_KEY_RING").unwrap();
    let v1 = KeyRing::parse(ring.split(',').next().unwrap()).unwrap();
    let sealed = seal_tokens(&v1, &connection, Platform::X, access, Some(refresh));
    assert_eq!(sealed.version, "v1");
    assert!(!sealed.access.contains(access));
    env.db
        .execute(
            "update public.social_connections set encrypted_access_token = $2, encrypted_refresh_token = $3, \
             token_key_version = 'v1' where id = $1::text::uuid",
            &[&connection, &sealed.access, &sealed.refresh],
        )
        .await
        .unwrap();
    let (status, body) = env.verify(&owner, &connection).await;
    assert_eq!(status, 200, "a v1 row opens with the rotated ring: {body}");

    let secret = std::env::var("E2E_CRON_SECRET").unwrap();
    let (status, body) = env.cron("/v1/cron/tokens/reencrypt", &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keyVersion"], "v2");
    assert!(body["resealed"].as_u64().unwrap() >= 1);
    let version: String = env
        .db
        .query_one(
            "select token_key_version from public.social_connections where id = $1::text::uuid",
            &[&connection],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, "v2");
    let (status, body) = env.verify(&owner, &connection).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        env.fake_stats(&account).await["refreshCalls"],
        0,
        "the same tokens, re-sealed"
    );
}

/// Consent injection: an admin sends the authorize link of a flow they started to someone
/// else. In redirect mode the other browser lacks the binding cookie; in JSON mode only the app
/// that started (same user, its binding) can complete what the callback parked.
#[tokio::test]
async fn a_started_flow_completes_only_for_the_client_that_started_it() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let victim = env.new_user().await;
    let team = env.new_team(&owner).await;
    let victims_team = env.new_team(&victim).await;

    // Redirect mode, the callback in a browser without the cookie: nothing is exchanged.
    let account = unique("victim");
    let callback = env
        .authorize(&owner, &team, "x", &format!("fake_account={account}"))
        .await;
    env.cookies.lock().unwrap().clear();
    let (status, _, location) = env.callback(&callback).await;
    assert_eq!(status, 302);
    let outcome = query(location.as_deref().unwrap());
    assert_eq!(
        (outcome("connection_status"), outcome("reason")),
        (Some("error".into()), Some("oauth_browser_mismatch".into()))
    );
    assert_eq!(env.fake_stats(&account).await["tokenExchanges"], 0);

    // JSON mode: the callback parks the code and hands the browser a confirmation.
    let env = &env;
    let json_flow = |account: String| {
        let (owner, team) = (&owner, &team);
        async move {
            let (status, body) = env.start(owner, team, "linkedin", RETURN_TO).await;
            assert_eq!(status, 200, "{body}");
            let binding = body["binding"].as_str().unwrap().to_owned();
            let authorize_url = body["authorizeUrl"].as_str().unwrap();
            let callback = env
                .consent(
                    "linkedin",
                    authorize_url,
                    &format!("fake_account={account}"),
                )
                .await;
            let (status, _, location) = env.callback(&callback).await;
            assert_eq!(status, 302);
            let outcome = query(location.as_deref().unwrap());
            assert_eq!(outcome("connection_status").as_deref(), Some("confirm"));
            (binding, outcome("confirmation").unwrap())
        }
    };
    let complete = |user: &User, confirmation: &str, binding: &str| {
        let request = env
            .http
            .post(env.stack.url("/v1/oauth/linkedin/complete"))
            .bearer_auth(&user.token)
            .json(&json!({"confirmation": confirmation, "binding": binding}));
        async move { env.send(request).await }
    };

    let account = unique("parked");
    let (binding, confirmation) = json_flow(account.clone()).await;
    assert_eq!(env.fake_stats(&account).await["tokenExchanges"], 0);
    let (status, body, _) = complete(&victim, &confirmation, &binding).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "oauth_state_invalid"),
        "another user, even with the binding"
    );
    let (status, body, _) = complete(&owner, &confirmation, &binding).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "oauth_state_invalid"),
        "spent"
    );
    let (_, confirmation) = json_flow(unique("parked")).await;
    let (status, body, _) = complete(&owner, &confirmation, "not-the-binding").await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "oauth_state_invalid"),
        "the starting user without the app's binding"
    );

    let account = unique("app");
    let (binding, confirmation) = json_flow(account.clone()).await;
    let (status, body, _) = complete(&owner, &confirmation, &binding).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["platform"], "linkedin");
    assert_eq!(env.fake_stats(&account).await["tokenExchanges"], 1);
    let teams: Vec<String> = env
        .db
        .query(
            "select team_id::text from public.social_connections where team_id = any(array[$1, $2]::text[]::uuid[])",
            &[&team, &victims_team],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        teams,
        vec![team.clone()],
        "only the starting app's flow connected"
    );
}

/// A native app (ASWebAuthenticationSession, Custom Tabs) gets the flow back on the scheme the
/// deployment lists for it (`com.pixa.dev:/` locally), then completes with its binding; hostile
/// spellings of that return address are refused before anything starts.
#[tokio::test]
async fn a_native_app_gets_the_flow_back_on_its_allow_listed_scheme() {
    const APP_RETURN: &str = "com.pixa.dev:/oauth/done";
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;

    for hostile in [
        "COM.PIXA.DEV:/oauth/done",
        "Com.Pixa.Dev:/oauth/done",
        "com.pixa.dev://evil.example/oauth/done",
        "com.pixa.dev:oauth/done",
        "com.pixa.dev:/oauth/done\\..\\x",
        "com.pixa.devil:/oauth/done",
        "https://127.0.0.1:3000@evil.example/",
        "JavaScript:alert(1)",
    ] {
        let (status, body) = env.start(&owner, &team, "linkedin", hostile).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "redirect_not_allowed"),
            "{hostile}"
        );
    }

    let (status, body) = env.start(&owner, &team, "linkedin", APP_RETURN).await;
    assert_eq!(status, 200, "{body}");
    let account = unique("native");
    let callback = env
        .consent(
            "linkedin",
            body["authorizeUrl"].as_str().unwrap(),
            &format!("fake_account={account}"),
        )
        .await;
    let (status, _, location) = env.callback(&callback).await;
    let location = location.expect("the callback redirects");
    assert_eq!(status, 302);
    assert!(
        location.starts_with(&format!("{APP_RETURN}?")),
        "{location}"
    );
    let outcome = query(&location);
    assert_eq!(outcome("connection_status").as_deref(), Some("confirm"));
    let (status, body, _) = env
        .send(
            env.http
                .post(env.stack.url("/v1/oauth/linkedin/complete"))
                .bearer_auth(&owner.token)
                .json(&json!({
                    "confirmation": outcome("confirmation").unwrap(),
                    "binding": body["binding"].as_str().unwrap(),
                })),
        )
        .await;
    assert_eq!(
        (status, body["platform"].as_str()),
        (200, Some("linkedin")),
        "{body}"
    );
}

#[tokio::test]
async fn starting_too_many_flows_is_answered_429_with_retry_after() {
    let env = TestApp::spawn().await;
    // Twenty starts per ten-minute window, then 429. When a window boundary falls between the
    // first start and the refused one the window was never full: a fresh owner tries again
    // (boundaries are ten minutes apart, so the second try is within one window).
    for _ in 0..2 {
        let owner = env.new_user().await;
        let team = env.new_team(&owner).await;
        let (started_in, _) = env.rate_window("10 minutes").await;
        for _ in 0..20 {
            let (status, body) = env.start(&owner, &team, "x", RETURN_TO).await;
            assert_eq!(status, 200, "{body}");
        }
        let response = e2e::send(
            env.http
                .get(env.stack.url("/v1/oauth/x/start"))
                .query(&[("teamId", team.as_str()), ("redirectTo", RETURN_TO)])
                .bearer_auth(&owner.token),
        )
        .await;
        if env.rate_window("10 minutes").await.0 != started_in {
            continue;
        }
        assert_eq!(response.status().as_u16(), 429);
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=600).contains(&retry_after), "{retry_after}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), "rate_limited");
        assert_eq!(body["error"]["retryAfter"], retry_after);
        let other = env.new_user().await;
        let other_team = env.new_team(&other).await;
        let (status, _) = env.start(&other, &other_team, "x", RETURN_TO).await;
        assert_eq!(status, 200, "the limit is per user");
        return;
    }
    panic!("both tries straddled a window boundary");
}

/// A connection posts went out with: deleted first (its history kept), revoked afterwards; while
/// a post is being published with it, refused before anything is revoked.
#[tokio::test]
async fn a_used_connection_is_deleted_before_its_grant_is_revoked() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let account = unique("used");
    let connection = env
        .connect(&owner, &team, "x", &format!("fake_account={account}"))
        .await;
    let destination: String = env
        .db
        .query_one(
            "with post as (insert into public.scheduled_posts (team_id, body) values ($1::text::uuid, 'Hi') \
             returning id) insert into public.post_destinations (post_id, team_id, connection_id, status) \
             select post.id, $1::text::uuid, $2::text::uuid, 'publishing' from post returning id::text",
            &[&team, &connection],
        )
        .await
        .unwrap()
        .get(0);

    let (status, body) = env.delete(&owner, &connection).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "rule_violation"),
        "{body}"
    );
    assert_eq!(
        env.fake_stats(&account).await["revocations"],
        0,
        "nothing revoked for a refused delete"
    );

    env.db
        .execute(
            "update public.post_destinations set status = 'published' where id = $1::text::uuid",
            &[&destination],
        )
        .await
        .unwrap();
    let (status, body) = env.delete(&owner, &connection).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revocation"], "revoked");
    let row = env
        .db
        .query_one(
            "select connection_id::text, platform::text, account_name from public.post_destinations \
             where id = $1::text::uuid",
            &[&destination],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), None);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("x"));
    assert!(
        row.get::<_, Option<String>>(2).is_some(),
        "the account's name is kept"
    );
}

/// The user removed the app at the platform already: the platform refuses the revocation, the
/// connection is deleted all the same and the answer says the revocation `failed`.
#[tokio::test]
async fn a_revocation_the_platform_refuses_is_reported_failed_and_the_connection_is_gone() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let account = unique("gone");
    let connection = env
        .connect(&owner, &team, "youtube", &format!("fake_account={account}"))
        .await;
    let access_token = first_access_token(&env, &account).await;
    let fakes = std::env::var("E2E_FAKES_URL").expect("E2E_FAKES_URL");
    let revoked = env
        .http
        .post(format!("{fakes}/social/oauth2.googleapis.com/revoke"))
        .form(&[("token", access_token.as_str())])
        .send()
        .await
        .expect("fakes reachable");
    assert_eq!(revoked.status(), 200, "revoked at the platform");

    let (status, body) = env.delete(&owner, &connection).await;
    assert_eq!(
        (status, &body["deleted"], &body["revocation"]),
        (200, &json!(true), &json!("failed")),
        "{body}"
    );
    assert_eq!(
        env.fake_stats(&account).await["revocations"],
        1,
        "only the user's own"
    );
    let (_, rows) = env
        .rest(&owner, &format!("social_accounts?id=eq.{connection}"))
        .await;
    assert_eq!(rows, json!([]));
}

/// Another worker holds the connection's refresh lease and never stores new tokens: a caller
/// needing a fresh token waits for them, then is told to come back, and refreshes nothing itself.
#[tokio::test]
async fn a_caller_waiting_on_another_workers_refresh_is_answered_token_refresh_busy_with_retry_after(
) {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let account = unique("busy");
    let connection = env
        .connect(&owner, &team, "x", &format!("fake_account={account}"))
        .await;
    env.expire_access_token(&connection).await;
    let lease = |held: bool| {
        let connection = &connection;
        let env = &env;
        async move {
            env.db
                .execute(
                    "update public.social_connections set \
                     refresh_lease_id = case when $2 then gen_random_uuid() end, \
                     refresh_lease_expires_at = case when $2 then now() + interval '5 minutes' end \
                     where id = $1::text::uuid",
                    &[connection, &held],
                )
                .await
                .unwrap();
        }
    };
    lease(true).await;

    let response = e2e::send(
        env.http
            .post(
                env.stack
                    .url(&format!("/v1/connections/{connection}/verify")),
            )
            .bearer_auth(&owner.token),
    )
    .await;
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").cloned();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (status, error_code(&body)),
        (503, "token_refresh_busy"),
        "{body}"
    );
    assert_eq!(retry_after.as_ref().map(|v| v.to_str().unwrap()), Some("1"));
    assert_eq!(env.fake_stats(&account).await["refreshCalls"], 0);

    // The lease given up: the next caller refreshes.
    lease(false).await;
    let (status, body) = env.verify(&owner, &connection).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(env.fake_stats(&account).await["refreshCalls"], 1);
}
