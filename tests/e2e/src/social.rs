//! The social-connection side of the stack for tests: users, teams, the OAuth flow through
//! the platform fakes, and reads of the fakes' records.

use std::sync::atomic::{AtomicU64, Ordering};

use devstack::DevUser;
use reqwest::Url;
use serde_json::Value;

use crate::Stack;

pub const RETURN_TO: &str = "http://127.0.0.1:3000/settings/connections";

pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The stack, a client that does not follow redirects (the browser: it keeps the cookies
/// `/start` sets and sends them back to the callback), and the database.
pub struct Env {
    pub stack: Stack,
    pub http: reqwest::Client,
    pub db: tokio_postgres::Client,
    /// `name=value` of the cookies the worker set (the local stack is plain http, where a real
    /// browser would not keep a `Secure` cookie; the tests send it themselves).
    pub cookies: std::sync::Mutex<Vec<String>>,
}

pub struct User {
    pub id: String,
    pub token: String,
}

impl Env {
    pub async fn new() -> Self {
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

    pub async fn user(&self) -> User {
        let email = format!("{}@example.com", unique("oauth"));
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

    /// A team owned by `owner`, with room for a few members.
    pub async fn team(&self, owner: &User) -> String {
        let row = self
            .db
            .query_one(
                "insert into public.teams (name, member_cap, created_by) values ('OAuth team', 10, $1::text::uuid) \
                 returning id::text",
                &[&owner.id],
            )
            .await
            .unwrap();
        let team: String = row.get(0);
        self.add_member(&team, owner, "owner").await;
        team
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

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
        let response = crate::send(request).await;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned());
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, location)
    }

    pub async fn start(
        &self,
        user: &User,
        team: &str,
        platform: &str,
        redirect_to: &str,
    ) -> (u16, Value) {
        let (status, body, _) = self
            .send(
                self.http
                    .get(self.stack.url(&format!("/v1/oauth/{platform}/start")))
                    .query(&[("team_id", team), ("redirect_to", redirect_to)])
                    .bearer_auth(&user.token),
            )
            .await;
        (status, body)
    }

    /// Starts in redirect mode, keeps the binding cookie, and consents at the fake (with its
    /// test markers): the worker callback URL the platform sends the browser to.
    pub async fn authorize(
        &self,
        user: &User,
        team: &str,
        platform: &str,
        markers: &str,
    ) -> String {
        let response = crate::send(
            self.http
                .get(self.stack.url(&format!("/v1/oauth/{platform}/start")))
                .query(&[
                    ("team_id", team),
                    ("redirect_to", RETURN_TO),
                    ("mode", "redirect"),
                ])
                .bearer_auth(&user.token),
        )
        .await;
        assert_eq!(response.status().as_u16(), 302);
        let header = |name| {
            response
                .headers()
                .get(name)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        };
        let (cookie, authorize_url) = (header("set-cookie"), header("location"));
        assert!(
            cookie.starts_with(&format!("__Host-pixa_oauth_{platform}="))
                && cookie.contains("; Secure; HttpOnly; SameSite=Lax"),
            "{cookie}"
        );
        let pair = cookie.split(';').next().unwrap().to_owned();
        let mut jar = self.cookies.lock().unwrap();
        jar.retain(|kept| kept.split('=').next() != pair.split('=').next());
        jar.push(pair);
        drop(jar);
        self.consent(platform, &authorize_url, markers).await
    }

    /// The fake platform approves at once: the callback URL it sends the browser to.
    pub async fn consent(&self, platform: &str, authorize_url: &str, markers: &str) -> String {
        let (status, _, location) = self
            .send(self.http.get(format!("{authorize_url}&{markers}")))
            .await;
        assert_eq!(status, 302, "the fake approves at once");
        let callback = location.unwrap();
        assert!(
            callback.starts_with(&self.stack.url(&format!("/v1/oauth/{platform}/callback?"))),
            "{callback}"
        );
        callback
    }

    /// The browser following the platform back to the worker, with its cookies.
    pub async fn callback(&self, callback_url: &str) -> (u16, Value, Option<String>) {
        let cookies = self.cookies.lock().unwrap().join("; ");
        self.send(self.http.get(callback_url).header("cookie", cookies))
            .await
    }

    /// The whole flow; the connection id.
    pub async fn connect(&self, user: &User, team: &str, platform: &str, markers: &str) -> String {
        let callback = self.authorize(user, team, platform, markers).await;
        let (status, body, location) = self.callback(&callback).await;
        assert_eq!(status, 302, "{body}");
        let outcome = query(location.as_deref().unwrap());
        assert_eq!(
            outcome("connection_status").as_deref(),
            Some("success"),
            "{location:?}"
        );
        assert_eq!(outcome("platform").as_deref(), Some(platform));
        outcome("connection_id").unwrap()
    }

    pub async fn verify(&self, user: &User, connection: &str) -> (u16, Value) {
        let (status, body, _) = self
            .send(
                self.http
                    .post(
                        self.stack
                            .url(&format!("/v1/connections/{connection}/verify")),
                    )
                    .bearer_auth(&user.token),
            )
            .await;
        (status, body)
    }

    pub async fn delete(&self, user: &User, connection: &str) -> (u16, Value) {
        let (status, body, _) = self
            .send(
                self.http
                    .delete(self.stack.url(&format!("/v1/connections/{connection}")))
                    .bearer_auth(&user.token),
            )
            .await;
        (status, body)
    }

    pub async fn cron(&self, path: &str, secret: &str) -> (u16, Value) {
        let (status, body, _) = self
            .send(self.http.post(self.stack.url(path)).bearer_auth(secret))
            .await;
        (status, body)
    }

    pub async fn fake_stats(&self, account: &str) -> Value {
        crate::fakes_json(&self.http, "/social/_stats", &[("account", account)]).await
    }

    /// A PostgREST read with the user's token.
    pub async fn rest(&self, user: &User, path: &str) -> (u16, Value) {
        self.send(
            self.http
                .get(format!("{}/rest/v1/{path}", self.stack.supabase_url))
                .header("apikey", self.stack.keys.anon_key())
                .bearer_auth(&user.token),
        )
        .await
        .into_two()
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

    pub async fn expire_access_token(&self, connection: &str) {
        self.db
            .execute(
                "update public.social_connections set access_token_expires_at = now() - interval '1 minute' \
                 where id = $1::text::uuid",
                &[&connection],
            )
            .await
            .unwrap();
    }
}

pub trait IntoTwo {
    fn into_two(self) -> (u16, Value);
}

impl IntoTwo for (u16, Value, Option<String>) {
    fn into_two(self) -> (u16, Value) {
        (self.0, self.1)
    }
}

/// A query parameter of a URL.
pub fn query(url: &str) -> impl Fn(&str) -> Option<String> {
    let url = Url::parse(url).unwrap();
    move |name| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// The account id each fake reports for a test account, as the connection stores it.
pub fn external_id(platform: &str, account: &str) -> String {
    match platform {
        "facebook" => format!("page-{account}"),
        "instagram" => format!("ig-{account}"),
        "pinterest" => format!("p-{account}"),
        "youtube" => format!("UC-{account}"),
        _ => account.to_owned(),
    }
}
