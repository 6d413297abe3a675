//! The social-connection side of the stack for tests: the OAuth flow through the platform
//! fakes, and reads of the fakes' records.

use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::Url;
use serde_json::Value;

use crate::app::{TestApp, User};

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

/// The OAuth flow as the app and the browser go through it, against the platform fakes.
impl TestApp {
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
                    .query(&[("teamId", team), ("redirectTo", redirect_to)])
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
                    ("teamId", team),
                    ("redirectTo", RETURN_TO),
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

    pub async fn creator_info(&self, user: &User, connection: &str) -> (u16, Value) {
        let url = format!("/v1/connections/{connection}/creator-info");
        let (status, body, _) = self
            .send(self.http.get(self.stack.url(&url)).bearer_auth(&user.token))
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

    pub async fn fake_stats(&self, account: &str) -> Value {
        crate::fakes_json(&self.http, "/social/_stats", &[("account", account)]).await
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
