//! `GET /v1/me`: the caller's token is verified by the worker, then used for the PostgREST read so
//! row-level security decides what is visible.

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
    // The log line is written as the response goes out; give wrangler a moment to flush it.
    let mut log = String::new();
    for _ in 0..50 {
        log = stack.worker_log();
        if log.contains(&request_id) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
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
