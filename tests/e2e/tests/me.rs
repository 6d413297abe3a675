//! `GET /v1/me`: the caller's token is verified by the worker, then used for the PostgREST read so
//! row-level security decides what is visible. And what the caller asks Supabase Auth for through
//! the worker: an invitation email.

use e2e::{error_code, Stack, ALICE, BOB};

#[tokio::test]
async fn each_user_sees_their_own_profile() {
    let stack = Stack::from_env();
    for user in [&ALICE, &BOB] {
        let (status, body, _) = stack.get("/v1/me", Some(&stack.token(user))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["id"], user.id);
        assert_eq!(body["user"]["email"], user.email);
        assert_eq!(body["profile"]["id"], user.id);
    }
}

#[tokio::test]
async fn rls_hides_other_profiles_even_with_a_valid_token() {
    let stack = Stack::from_env();
    // The same PostgREST read the worker makes, asking for every row: Alice's token sees one.
    let rows: serde_json::Value = stack
        .http
        .get(format!("{}/rest/v1/profiles?select=id", stack.supabase_url))
        .header("apikey", stack.keys.anon_key())
        .bearer_auth(stack.token(&ALICE))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows, serde_json::json!([{ "id": ALICE.id }]));
}

/// Would pass if the worker read with the service role: a row RLS hides from the caller while the
/// service role still sees it must not be answered.
#[tokio::test]
async fn the_worker_reads_with_the_callers_token_so_rls_decides() {
    let stack = Stack::from_env();
    let db = e2e::database().await;
    let (id, token) = e2e::new_user(&stack, &db, None).await;
    let (status, body, _) = stack.get("/v1/me", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["profile"]["id"], id.as_str());

    // A restrictive policy hiding this one user's profile from them; RLS binds `authenticated`
    // only, so the service role still reads the row.
    let policy = format!("e2e hides {id}");
    db.batch_execute(&format!(
        "create policy \"{policy}\" on public.profiles as restrictive for select to authenticated \
         using (id <> '{id}'::uuid)"
    ))
    .await
    .unwrap();
    let (status, body, _) = stack.get("/v1/me", Some(&token)).await;
    let as_service: serde_json::Value = stack
        .http
        .get(format!(
            "{}/rest/v1/profiles?select=id&id=eq.{id}",
            stack.supabase_url
        ))
        .header("apikey", stack.keys.service_role_key())
        .bearer_auth(stack.keys.service_role_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    db.batch_execute(&format!("drop policy \"{policy}\" on public.profiles"))
        .await
        .unwrap();
    assert_eq!(
        as_service,
        serde_json::json!([{ "id": id }]),
        "the service role sees the row"
    );
    assert_eq!(
        (status, error_code(&body)),
        (404, "profile_not_found"),
        "RLS hid the row from the caller, so the worker must not answer it: {body}"
    );
}

#[tokio::test]
async fn legacy_hs256_tokens_verify_with_the_jwt_secret() {
    let stack = Stack::from_env();
    let token = stack
        .keys
        .user_access_token_hs256(&BOB, &stack.issuer(), 600);
    let (status, body, _) = stack.get("/v1/me", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], BOB.id);
}

#[tokio::test]
async fn bad_tokens_get_401_with_a_stable_code() {
    let stack = Stack::from_env();
    let token = stack.token(&ALICE);
    let (head, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    // Flip a character in the middle: the last one may only carry padding bits.
    let middle = signature.len() / 2;
    let flipped = if &signature[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let tampered_signature = format!(
        "{}{flipped}{}",
        &signature[..middle],
        &signature[middle + 1..]
    );
    let cases = [
        (None, "missing_token"),
        (Some("not-a-jwt".to_owned()), "malformed_token"),
        (
            Some(format!("{head}.{payload}.{tampered_signature}")),
            "invalid_signature",
        ),
        (
            Some(stack.keys.user_access_token(&ALICE, &stack.issuer(), -120)),
            "token_expired",
        ),
        (
            Some(
                stack
                    .keys
                    .user_access_token(&ALICE, "https://evil.example/auth/v1", 600),
            ),
            "invalid_issuer",
        ),
        // An API key is a JWT too, but not one Auth issued to a user.
        (Some(stack.keys.anon_key()), "invalid_issuer"),
    ];
    for (token, code) in cases {
        let (status, body, _) = stack.get("/v1/me", token.as_deref()).await;
        assert_eq!((status, error_code(&body)), (401, code), "{body}");
        assert!(body["error"]["message"].is_string());
    }
}

#[tokio::test]
async fn tokens_never_reach_the_log() {
    let stack = Stack::from_env();
    let token = stack.token(&ALICE);
    let (status, _, headers) = stack.get("/v1/me", Some(&token)).await;
    assert_eq!(status, 200);
    let request_id = headers["x-request-id"].to_str().unwrap().to_owned();
    let log = stack.log_through(&request_id).await;
    let line = log
        .lines()
        .find(|l| l.contains(&request_id))
        .expect("a log line for the request");
    assert!(
        line.contains(ALICE.id),
        "the log line names the user: {line}"
    );
    let signature = token.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "a token signature was logged");
    assert!(
        !log.contains(&stack.keys.service_role_key()),
        "the service role key was logged"
    );
}

/// Supabase Auth cannot invite the address (here its database refuses the new account): the
/// invitation is withdrawn, so it never waits unsent, and the inviter is told to try later.
#[tokio::test]
async fn an_invitation_auth_cannot_send_is_revoked_and_answered_503() {
    let env = e2e::social::Env::new().await;
    let owner = env.user().await;
    let team = env.team(&owner).await;
    let email = format!("{}@example.com", e2e::social::unique("unsent"));
    let refusal = e2e::Refusal::install(
        &env.db,
        "insert",
        "auth.users",
        &format!("new.email = '{email}'"),
    )
    .await;

    let (status, body, _) = env
        .send(
            env.http
                .post(env.stack.url(&format!("/v1/teams/{team}/invitations")))
                .bearer_auth(&owner.token)
                .json(&serde_json::json!({ "email": email })),
        )
        .await;
    refusal.lift(&env.db).await;
    assert_eq!(
        (status, error_code(&body)),
        (503, "auth_service_unavailable"),
        "{body}"
    );
    e2e::assert_side_effects_countable();
    let invitations: Vec<String> = env
        .db
        .query(
            "select status::text from public.team_invitations where team_id = $1::text::uuid \
             and email = $2",
            &[&team, &email],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(invitations, ["revoked"]);
}
