//! One test's handle on the running stack: the worker, the database and a browser-like client,
//! with the steps most tests begin with (a new user, a new team with connected accounts) and
//! the calls they make (JSON to the worker, reads through PostgREST, the credit ledger).

use devstack::DevUser;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;

use crate::social::unique;
use crate::Stack;

/// The stack, a client that does not follow redirects (the browser: it keeps the cookies
/// `/start` sets and sends them back to the callback), and the database.
pub struct TestApp {
    pub stack: Stack,
    pub http: reqwest::Client,
    pub db: tokio_postgres::Client,
    /// `name=value` of the cookies the worker set (the local stack is plain http, where a real
    /// browser would not keep a `Secure` cookie; the tests send it themselves).
    pub cookies: std::sync::Mutex<Vec<String>>,
}

/// A user of the app: its id and an access token (one hour).
pub struct User {
    pub id: String,
    pub token: String,
}

/// A team with its owner and one connected account per platform asked for.
pub struct Team {
    pub id: String,
    pub owner: User,
    pub connections: Vec<String>,
    /// The fakes' account name (the connection's external id on X).
    pub account: String,
}

/// A worker answer: status, JSON body (`Null` when there is none) and headers.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

impl TestApp {
    /// The stack `cargo xtask test` started. Panics with a pointer to the right command outside it.
    pub async fn spawn() -> Self {
        Self {
            stack: Stack::from_env(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .unwrap(),
            db: crate::database().await,
            cookies: std::sync::Mutex::default(),
        }
    }

    /// A fresh user (so tests share no credits, rate windows or teams), on the default plan.
    pub async fn new_user(&self) -> User {
        let email = format!("{}@example.com", unique("user"));
        let row = self
            .db
            .query_one(
                "insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, \
                 raw_app_meta_data, raw_user_meta_data, created_at, updated_at) values \
                 ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', \
                 'authenticated', $1, now(), '{}', '{}', now(), now()) returning id::text",
                &[&email],
            )
            .await
            .unwrap();
        let id: String = row.get(0);
        let token = self.stack.keys.user_access_token(
            &DevUser {
                id: &id,
                email: &email,
            },
            &self.stack.issuer(),
            3600,
        );
        User { id, token }
    }

    /// A fresh user on an AI plan (`ai_subjects.plan`).
    pub async fn new_user_on_plan(&self, plan: &str) -> User {
        let user = self.new_user().await;
        self.db
            .execute(
                "insert into public.ai_subjects (subject_id, plan) values ($1::text::uuid, $2)",
                &[&user.id, &plan],
            )
            .await
            .unwrap();
        user
    }

    /// A team owned by `owner`, with room for a few members.
    pub async fn new_team(&self, owner: &User) -> String {
        let row = self
            .db
            .query_one(
                "insert into public.teams (name, member_cap, created_by) values ('Test team', 10, $1::text::uuid) \
                 returning id::text",
                &[&owner.id],
            )
            .await
            .unwrap();
        let team: String = row.get(0);
        self.add_member(&team, owner, "owner").await;
        team
    }

    /// A new owner's new team with one account per platform in `platforms` connected through
    /// the OAuth flow, all under one fake account name.
    pub async fn new_team_with_connections(&self, platforms: &[&str]) -> Team {
        let owner = self.new_user().await;
        let id = self.new_team(&owner).await;
        let account = unique("pub");
        let mut connections = Vec::new();
        for platform in platforms {
            let markers = format!("fake_account={account}");
            connections.push(self.connect(&owner, &id, platform, &markers).await);
        }
        Team {
            id,
            owner,
            connections,
            account,
        }
    }

    pub async fn add_member(&self, team: &str, user: &User, role: &str) {
        self.db
            .execute(
                "insert into public.team_members (team_id, user_id, role) values \
                 ($1::text::uuid, $2::text::uuid, $3::text::public.team_role) \
                 on conflict (team_id, user_id) do update set role = excluded.role",
                &[&team, &user.id, &role],
            )
            .await
            .unwrap();
    }

    /// `request` sent through [`crate::send`] (so checked against openapi.json): status, JSON
    /// body and the `location` header.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
        let answer = self.answer(request).await;
        let location = answer
            .headers
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned());
        (answer.status, answer.body, location)
    }

    /// `request` sent through [`crate::send`], answered in full.
    pub async fn answer(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = crate::send(request).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }

    /// A worker request as `token`'s bearer, with a JSON body when one is given.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::RequestBuilder {
        let request = self
            .http
            .request(method, self.stack.url(path))
            .bearer_auth(token);
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    /// POST `body` to the worker as `token`'s bearer: status and JSON body.
    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let answer = self
            .answer(self.request(Method::POST, path, token, Some(&body)))
            .await;
        (answer.status, answer.body)
    }

    /// GET from the worker as `token`'s bearer: status and JSON body.
    pub async fn get_json(&self, path: &str, token: &str) -> (u16, Value) {
        let answer = self
            .answer(self.request(Method::GET, path, token, None))
            .await;
        (answer.status, answer.body)
    }

    /// A cron endpoint called with `secret` as the bearer, as pg_cron does.
    pub async fn cron(&self, path: &str, secret: &str) -> (u16, Value) {
        let answer = self
            .answer(self.request(Method::POST, path, secret, None))
            .await;
        (answer.status, answer.body)
    }

    /// A PostgREST read with the user's token.
    pub async fn rest(&self, user: &User, path: &str) -> (u16, Value) {
        let (status, body, _) = self
            .send(
                self.http
                    .get(format!("{}/rest/v1/{path}", self.stack.supabase_url))
                    .header("apikey", self.stack.keys.anon_key())
                    .bearer_auth(&user.token),
            )
            .await;
        (status, body)
    }

    /// A PostgREST insert with the user's token; the inserted row.
    pub async fn rest_insert(&self, user: &User, table: &str, row: Value) -> (u16, Value) {
        let (status, body, _) = self
            .send(
                self.http
                    .post(format!("{}/rest/v1/{table}", self.stack.supabase_url))
                    .header("apikey", self.stack.keys.anon_key())
                    .header("prefer", "return=representation")
                    .bearer_auth(&user.token)
                    .json(&row),
            )
            .await;
        let row = match body {
            Value::Array(mut rows) if rows.len() == 1 => rows.remove(0),
            other => other,
        };
        (status, row)
    }

    /// The subject's (a user's or a team's) (used, reserved) credits once its requests settled.
    pub async fn ledger(&self, subject: &str) -> (i64, i64) {
        crate::settled(&self.db, subject).await;
        let row = self
            .db
            .query_one(
                "select used, reserved from public.ai_credit_ledger where subject_id = $1::text::uuid",
                &[&subject],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }

    /// Uses up `user`'s interactive AI window (what chat and `/v1/ai/*` count in): calls
    /// generate-text until one is refused with `rate_limited`, and answers how many were granted.
    pub async fn exhaust_ai_window(&self, user: &User) -> usize {
        for granted in 0..=200 {
            let (status, body) = self
                .post_json(
                    "/v1/ai/generate-text",
                    &user.token,
                    serde_json::json!({ "prompt": format!("chatting {granted}") }),
                )
                .await;
            match status {
                200 => {}
                429 if crate::error_code(&body) == "rate_limited" => return granted,
                _ => panic!("generate-text answered {status}: {body}"),
            }
        }
        panic!("200 calls and the interactive window is still not full");
    }

    /// The database's current rate window of `width` (an interval, e.g. `1 minute`), binned as
    /// `app_private.count_in_window` bins it, and the whole seconds left in it. A test that
    /// fills a window compares the window before and after, and tries again when a boundary
    /// fell between (the window was never full).
    pub async fn rate_window(&self, width: &str) -> (String, i64) {
        let row = self
            .db
            .query_one(
                "select w::text, ceil(extract(epoch from w + $1::text::interval - now()))::int8 \
                 from date_bin($1::text::interval, now(), timestamptz '2000-01-01 00:00:00+00') as w",
                &[&width],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }
}
