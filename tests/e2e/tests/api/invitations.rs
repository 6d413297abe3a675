//! `POST /v1/teams/{team_id}/invitations` through workerd, Postgres and the Auth stand-in (which
//! answers `/invite` and `/otp` as hosted GoTrue does): every address is emailed, an existing
//! account a sign-in link to the app (a deep link on the app's own scheme here); the invitee
//! lists, accepts and declines in the app through PostgREST; invitations that cannot lead
//! anywhere are refused with 409 before any email goes out.

use e2e::app::{TestApp, User};
use e2e::error_code;
use e2e::social::unique;
use serde_json::{json, Value};

const APP_LANDING: &str = "com.pixa.dev:/invitations";

async fn invite(env: &TestApp, inviter: &User, team: &str, body: Value) -> (u16, Value) {
    env.post_json(
        &format!("/v1/teams/{team}/invitations"),
        &inviter.token,
        body,
    )
    .await
}

async fn email_of(env: &TestApp, user: &User) -> String {
    env.db
        .query_one(
            "select email from auth.users where id = $1::text::uuid",
            &[&user.id],
        )
        .await
        .unwrap()
        .get(0)
}

/// The local mailbox's messages to `address`, oldest first.
async fn mail_to(env: &TestApp, address: &str) -> Vec<Value> {
    let mail: Value = env
        .http
        .get(format!("{}/mailbox/v1/messages", env.stack.supabase_url))
        .query(&[("to", address)])
        .header("apikey", env.stack.keys.anon_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    mail.as_array().unwrap().clone()
}

/// A function called through PostgREST with the user's own token, as the app calls it.
async fn rpc(env: &TestApp, user: &User, function: &str, args: Value) -> (u16, Value) {
    let (status, body, _) = env
        .send(
            env.http
                .post(format!("{}/rest/v1/rpc/{function}", env.stack.supabase_url))
                .header("apikey", env.stack.keys.anon_key())
                .bearer_auth(&user.token)
                .json(&args),
        )
        .await;
    (status, body)
}

/// The invitation ids `my_team_invitations` lists for `team`.
async fn pending_for(env: &TestApp, invitee: &User, team: &str) -> Vec<String> {
    let (status, rows) = rpc(env, invitee, "my_team_invitations", json!({})).await;
    assert_eq!(status, 200, "{rows}");
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|row| row["team_id"] == team)
        .map(|row| row["invitation_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_existing_account_is_emailed_a_link_into_the_app_and_accepts_or_declines_there() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let invitee = env.new_user().await;
    let address = email_of(&env, &invitee).await;
    let (joining, declining) = (env.new_team(&owner).await, env.new_team(&owner).await);

    for team in [&joining, &declining] {
        let (status, body) = invite(
            &env,
            &owner,
            team,
            json!({"email": address.to_uppercase(), "redirectTo": APP_LANDING}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["invitationId"],
            "the same answer as for a new address"
        );
    }

    // One email per invitation, unless the second came within Auth's per-address interval:
    // then the first link leads to both.
    let mail = mail_to(&env, &address).await;
    assert!((1..=2).contains(&mail.len()), "{mail:?}");
    let link = mail[0]["link"].as_str().unwrap();
    assert!(
        link.contains("type=magiclink"),
        "a sign-in link, not a sign-up invite: {link}"
    );
    let landing = env
        .http
        .get(link)
        .send()
        .await
        .unwrap()
        .headers()
        .get("location")
        .map(|location| location.to_str().unwrap().to_owned())
        .expect("the link redirects");
    assert!(
        landing.starts_with(&format!("{APP_LANDING}#access_token=")),
        "the link lands in the app, signed in: {landing}"
    );

    let joining_id = pending_for(&env, &invitee, &joining).await;
    let declining_id = pending_for(&env, &invitee, &declining).await;
    assert_eq!((joining_id.len(), declining_id.len()), (1, 1));
    let (status, team) = rpc(
        &env,
        &invitee,
        "respond_to_team_invitation",
        json!({"invitation_id": joining_id[0], "accept": true}),
    )
    .await;
    assert_eq!((status, team), (200, json!(joining)));
    let (status, body) = rpc(
        &env,
        &invitee,
        "respond_to_team_invitation",
        json!({"invitation_id": declining_id[0], "accept": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(pending_for(&env, &invitee, &joining).await.is_empty());
    assert!(pending_for(&env, &invitee, &declining).await.is_empty());
    let (status, members) = env
        .rest(
            &invitee,
            &format!("team_members?select=team_id&user_id=eq.{}", invitee.id),
        )
        .await;
    assert_eq!((status, members), (200, json!([{"team_id": joining}])));
}

#[tokio::test]
async fn a_new_address_gets_the_invite_landing_on_the_allowed_app_page() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let team = env.new_team(&owner).await;
    let address = format!("{}@example.com", unique("newcomer"));
    let (status, body) = invite(
        &env,
        &owner,
        &team,
        json!({"email": address, "redirectTo": format!("{APP_LANDING}/open")}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let mail = mail_to(&env, &address).await;
    assert_eq!(mail.len(), 1);
    let link = mail[0]["link"].as_str().unwrap();
    assert!(link.contains("type=invite"), "{link}");
    assert!(
        link.ends_with("redirect_to=com.pixa.dev%3A%2Finvitations%2Fopen"),
        "{link}"
    );
}

#[tokio::test]
async fn invitations_that_cannot_lead_anywhere_are_refused_before_any_email() {
    let env = TestApp::spawn().await;
    let owner = env.new_user().await;
    let member = env.new_user().await;
    let team = env.new_team(&owner).await;
    env.add_member(&team, &member, "member").await;

    let member_address = email_of(&env, &member).await;
    let (status, body) = invite(&env, &owner, &team, json!({"email": member_address})).await;
    assert_eq!(
        (status, error_code(&body)),
        (409, "already_member"),
        "{body}"
    );

    // Two identical invitations at the same moment: one is sent, the other refused.
    let address = format!("{}@example.com", unique("twice"));
    let same = json!({"email": address});
    let (first, second) = tokio::join!(
        invite(&env, &owner, &team, same.clone()),
        invite(&env, &owner, &team, same.clone())
    );
    let mut statuses = [first.0, second.0];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{first:?} {second:?}");
    let refused = if first.0 == 409 { &first.1 } else { &second.1 };
    assert_eq!(error_code(refused), "invitation_pending");

    env.db
        .execute(
            "update public.teams set member_cap = 2 where id = $1::text::uuid",
            &[&team],
        )
        .await
        .unwrap();
    let full_address = format!("{}@example.com", unique("nospace"));
    let (status, body) = invite(&env, &owner, &team, json!({"email": full_address})).await;
    assert_eq!((status, error_code(&body)), (409, "team_full"), "{body}");

    let elsewhere = format!("{}@example.com", unique("elsewhere"));
    let (status, body) = invite(
        &env,
        &owner,
        &team,
        json!({"email": elsewhere, "redirectTo": "https://evil.example/invitations"}),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "redirect_not_allowed"),
        "{body}"
    );

    for refused in [&member_address, &full_address, &elsewhere] {
        assert!(
            mail_to(&env, refused).await.is_empty(),
            "{refused} was emailed"
        );
    }
    assert_eq!(
        mail_to(&env, &address).await.len(),
        1,
        "one email for the two requests"
    );
    let stored: i64 = env
        .db
        .query_one(
            "select count(*) from public.team_invitations where team_id = $1::text::uuid",
            &[&team],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1, "only the invitation that was sent exists");
}
