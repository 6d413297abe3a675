//! Social account connections: OAuth 2.0 with seven platforms, one module each behind the
//! [`PlatformApi`] trait. A module only builds HTTP calls and parses replies (pure functions,
//! unit-tested against the platforms' documented wire formats); sending is `transport`'s job,
//! the flows (authorize, callback, refresh, revoke) are in `connect` and `tokens`.

pub mod failure;
pub mod pkce;
pub mod routes;
pub mod settings;
pub mod store;
pub mod tokens;
pub mod transport;

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ApiKey;
use crate::infra::outbound::{url_encoded, Call, Method, Reply};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    X,
    Linkedin,
    Facebook,
    Instagram,
    Tiktok,
    Pinterest,
    Youtube,
}

impl Platform {
    pub const ALL: [Platform; 7] = [
        Self::X,
        Self::Linkedin,
        Self::Facebook,
        Self::Instagram,
        Self::Tiktok,
        Self::Pinterest,
        Self::Youtube,
    ];

    pub fn as_str(self) -> &'static str {
        crate::platforms::parts(self).spec.name
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|platform| platform.as_str() == name)
    }

    /// The module that speaks this platform's OAuth and API.
    pub fn api(self) -> &'static dyn PlatformApi {
        crate::platforms::parts(self).api
    }
}

/// An app's credentials at a platform (worker secrets).
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: ApiKey,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.client_id)
    }
}

/// A form post to a token or revocation endpoint.
pub fn form_call(url: impl Into<String>, form: Vec<(&'static str, String)>) -> Call {
    Call::unauthenticated(Method::Post, url).form(form)
}

/// How a token request authenticates the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1): X, Pinterest.
    Basic,
    /// `client_id` (or the platform's name for it) and `client_secret` in the form body.
    Body,
}

pub enum Grant<'a> {
    Code {
        code: &'a str,
        redirect_uri: &'a str,
        /// The PKCE verifier, for platforms that use PKCE.
        verifier: Option<&'a str>,
    },
    Refresh {
        refresh_token: &'a str,
    },
}

/// A token endpoint's answer.
#[derive(Clone, PartialEq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds; `None` when the platform did not say (see `default_access_lifetime`).
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    pub scopes: Option<Vec<String>>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenSet(<redacted>, refresh: {}, expires_in: {:?})",
            self.refresh_token.is_some(),
            self.expires_in
        )
    }
}

/// The connected account as the platform describes it.
#[derive(Clone, PartialEq, Default)]
pub struct Account {
    pub external_id: String,
    pub display_name: Option<String>,
    pub handle: Option<String>,
    pub avatar_url: Option<String>,
    /// A token to act as the account instead of the user's (a Facebook Page's token); the
    /// user's token is then kept beside it, for revocation.
    pub account_token: Option<String>,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Account({}, {:?}, {:?})",
            self.external_id, self.display_name, self.handle
        )
    }
}

/// Why a platform call failed. Causes are for the log; they never carry tokens.
#[derive(Debug, PartialEq)]
pub enum SocialError {
    /// The grant (code or refresh token) is invalid, expired, revoked or already used: only a
    /// new authorization helps.
    InvalidGrant(String),
    /// The access token was refused (401): refresh once, then retry.
    Unauthorized(String),
    /// 429, 5xx, no answer: may pass.
    Transient {
        retry_after: Option<u64>,
        cause: String,
    },
    /// The user has no account of the kind we connect (no Facebook Page, no Instagram
    /// professional account, no YouTube channel).
    NoAccount(String),
    /// Any other refusal or an answer we cannot read.
    Rejected(String),
}

impl SocialError {
    pub fn cause(&self) -> &str {
        match self {
            Self::InvalidGrant(cause)
            | Self::Unauthorized(cause)
            | Self::Transient { cause, .. }
            | Self::NoAccount(cause)
            | Self::Rejected(cause) => cause,
        }
    }
}

impl crate::infra::retry::Retryable for SocialError {
    fn retry_hint(&self) -> Option<Option<u64>> {
        match self {
            Self::Transient { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    fn timed_out(limit: std::time::Duration) -> Self {
        Self::Transient {
            retry_after: None,
            cause: format!("no answer within {} s", limit.as_secs_f64()),
        }
    }
}

/// How much of a platform's error body goes into the log: its error code fields only.
fn error_summary(platform: Platform, status: u16, reply: &Reply) -> String {
    let body = reply.json();
    let code = ["error", "code", "message"]
        .iter()
        .filter_map(|field| match &body[field] {
            Value::String(text) => Some(text.chars().take(80).collect::<String>()),
            Value::Number(number) => Some(number.to_string()),
            Value::Object(inner) => inner
                .get("code")
                .or_else(|| inner.get("type"))
                .map(|code| code.to_string()),
            _ => None,
        })
        .next()
        .unwrap_or_default();
    format!("{} answered {status} {code}", platform.as_str())
}

/// The classification every platform shares: 429, 5xx and the rate limits some platforms
/// answer with another status may pass, `invalid_grant` (RFC 6749 §5.2) and Facebook's
/// OAuthException 190 need a new authorization, 401 refuses the token. A 403 is a refusal of
/// the request, not of the token (Google's missing scope, X's unpermitted action): refreshing
/// would not help, and taking it for a dead token would disconnect a working account.
pub fn classify_error(platform: Platform, reply: &Reply) -> SocialError {
    classify_status(platform, reply.status, reply)
}

/// A rate or quota refusal that does not come as a 429: Graph's throttling codes (4 app, 17
/// user, 32 Page, 613 per-hour, or `is_transient`) with status 400 or 403, Google's 403 with
/// reason `rateLimitExceeded`, `userRateLimitExceeded` or `quotaExceeded` (the YouTube Data API
/// quota, renewed daily).
fn throttled(body: &Value) -> bool {
    let graph = &body["error"];
    let graph_throttled = graph["is_transient"] == true
        || graph["code"]
            .as_u64()
            .is_some_and(|code| matches!(code, 4 | 17 | 32 | 613));
    let google_throttled = graph["errors"].as_array().is_some_and(|errors| {
        errors.iter().any(|error| {
            matches!(
                error["reason"].as_str(),
                Some("rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded")
            )
        })
    });
    graph_throttled || google_throttled
}

/// `classify_error` as if `reply` had come with `status`.
fn classify_status(platform: Platform, status: u16, reply: &Reply) -> SocialError {
    let summary = error_summary(platform, status, reply);
    let body = reply.json();
    if status == 429 || status >= 500 || throttled(&body) {
        return SocialError::Transient {
            retry_after: reply.retry_after(),
            cause: summary,
        };
    }
    if body["error"] == "invalid_grant" || body["error"]["code"] == 190 {
        return SocialError::InvalidGrant(summary);
    }
    if status == 401 {
        return SocialError::Unauthorized(summary);
    }
    SocialError::Rejected(summary)
}

/// `classify_error` for a transient reply, named by the call's host (the transport does not
/// know the platform).
pub(crate) fn classify_error_host(call: &Call, reply: &Reply) -> SocialError {
    SocialError::Transient {
        retry_after: reply.retry_after(),
        cause: format!("{} answered {}", call.host(), reply.status),
    }
}

/// The standard token answer (RFC 6749 §5.1) and error classification.
pub fn parse_standard_token(platform: Platform, reply: &Reply) -> Result<TokenSet, SocialError> {
    let body = reply.json();
    let access_token = body["access_token"].as_str().filter(|t| !t.is_empty());
    match access_token {
        Some(access_token) if reply.succeeded() => {
            let seconds = |field: &str| body[field].as_i64().filter(|s| *s > 0);
            let scopes = body["scope"].as_str().map(|scope| {
                scope
                    .split([' ', ','])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            });
            Ok(TokenSet {
                access_token: access_token.to_owned(),
                refresh_token: body["refresh_token"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
                expires_in: seconds("expires_in"),
                refresh_expires_in: seconds("refresh_token_expires_in")
                    .or_else(|| seconds("refresh_expires_in")),
                scopes,
            })
        }
        _ if reply.succeeded() && body.get("error").is_none() => Err(SocialError::Rejected(
            format!("{} token answer without access_token", platform.as_str()),
        )),
        // Some platforms (TikTok) answer errors with 200.
        _ if reply.succeeded() => Err(classify_status(platform, 400, reply)),
        _ => Err(classify_error(platform, reply)),
    }
}

/// A string field of a JSON object, if present and non-empty.
pub(crate) fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// One platform's OAuth constants, as data: each platform module states its `SPEC` once.
pub struct Spec {
    pub platform: Platform,
    /// The platform's name in the API and the database (`Platform`'s serde name).
    pub name: &'static str,
    /// Where the browser is sent to consent.
    pub authorize_endpoint: &'static str,
    pub token_endpoint: &'static str,
    pub scopes: &'static [&'static str],
    pub scope_separator: &'static str,
    /// Proof Key for Code Exchange (RFC 7636, S256).
    pub uses_pkce: bool,
    /// The authorize and token parameter naming the app (`client_key` at TikTok).
    pub client_id_param: &'static str,
    pub client_auth: ClientAuth,
    /// Fixed extra authorize parameters (e.g. Google's `access_type=offline`).
    pub extra_authorize_params: &'static [(&'static str, &'static str)],
    /// Whether an expired access token can be renewed without the user.
    pub supports_refresh: bool,
    /// The access token lifetime assumed when the token answer gives none (`None`: no expiry).
    pub default_access_lifetime: Option<i64>,
    /// The worker secrets naming the platform's app (Instagram uses the Facebook app).
    pub credential_names: (&'static str, &'static str),
}

/// One platform's OAuth 2.0 and account API, as pure functions.
pub trait PlatformApi: Sync {
    /// The platform's constants (endpoints, scopes, how the app authenticates).
    fn spec(&self) -> &'static Spec;

    fn authorize_url(
        &self,
        credentials: &Credentials,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> String {
        let spec = self.spec();
        let mut url = url::Url::parse(spec.authorize_endpoint).expect("a valid endpoint");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair(self.spec().client_id_param, &credentials.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair(
                    "scope",
                    &self.spec().scopes.join(self.spec().scope_separator),
                )
                .append_pair("state", state);
            if self.spec().uses_pkce {
                query
                    .append_pair("code_challenge", code_challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            for (name, value) in self.spec().extra_authorize_params {
                query.append_pair(name, value);
            }
        }
        url.into()
    }

    fn token_call(&self, credentials: &Credentials, grant: &Grant<'_>) -> Call {
        let mut form: Vec<(&'static str, String)> = match grant {
            Grant::Code {
                code,
                redirect_uri,
                verifier,
            } => {
                let mut form = vec![
                    ("grant_type", "authorization_code".to_owned()),
                    ("code", (*code).to_owned()),
                    ("redirect_uri", (*redirect_uri).to_owned()),
                ];
                if let (true, Some(verifier)) = (self.spec().uses_pkce, verifier) {
                    form.push(("code_verifier", (*verifier).to_owned()));
                }
                form
            }
            Grant::Refresh { refresh_token } => vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", (*refresh_token).to_owned()),
            ],
        };
        match self.spec().client_auth {
            ClientAuth::Basic => {
                form_call(self.spec().token_endpoint, form).header("authorization", {
                    let id = url_encoded(&credentials.client_id);
                    let secret = url_encoded(credentials.client_secret.expose());
                    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
                })
            }
            ClientAuth::Body => {
                form.push((self.spec().client_id_param, credentials.client_id.clone()));
                form.push((
                    "client_secret",
                    credentials.client_secret.expose().to_owned(),
                ));
                form_call(self.spec().token_endpoint, form)
            }
        }
    }

    fn parse_token(&self, reply: &Reply) -> Result<TokenSet, SocialError> {
        parse_standard_token(self.spec().platform, reply)
    }

    /// A second token call after the code exchange (Facebook's long-lived token exchange).
    fn token_followup(&self, _credentials: &Credentials, _tokens: &TokenSet) -> Option<Call> {
        None
    }

    /// At connect time: finds the account to connect (the profile, or the user's Page,
    /// Instagram account or channel).
    fn discovery_call(&self, access_token: &str) -> Call {
        self.profile_call(access_token, "")
    }

    fn parse_discovery(&self, reply: &Reply) -> Result<Account, SocialError> {
        self.parse_profile(reply)
    }

    /// Reads the connected account with its stored token (`external_id` is the account's id).
    fn profile_call(&self, access_token: &str, external_id: &str) -> Call;

    fn parse_profile(&self, reply: &Reply) -> Result<Account, SocialError>;

    /// Revokes the authorization at the platform; `None` where the platform offers no revocation
    /// endpoint. `user_token` is the user's token kept beside a Page's token.
    fn revoke_call(
        &self,
        credentials: &Credentials,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Option<Call>;
}

/// A profile call's reply: 2xx JSON, else classified.
pub(crate) fn profile_json(platform: Platform, reply: &Reply) -> Result<Value, SocialError> {
    if !reply.succeeded() {
        return Err(classify_error(platform, reply));
    }
    match reply.json() {
        Value::Null => Err(SocialError::Rejected(format!(
            "{} profile is not JSON",
            platform.as_str()
        ))),
        body => Ok(body),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn credentials() -> Credentials {
        Credentials {
            client_id: "app-id".into(),
            client_secret: ApiKey::parse("SECRET", "app-secret".into()).unwrap(),
        }
    }

    pub fn reply(status: u16, body: Value) -> Reply {
        Reply::new(status, body.to_string())
    }

    pub fn form_value<'a>(call: &'a Call, name: &str) -> Option<&'a str> {
        call.form_value(name)
    }

    pub fn query_value(url: &str, name: &str) -> Option<String> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    #[test]
    fn platforms_round_trip_and_use_public_https_endpoints() {
        for platform in Platform::ALL {
            assert_eq!(Platform::parse(platform.as_str()), Some(platform));
            let spec = platform.api().spec();
            assert_eq!(spec.platform, platform);
            for endpoint in [spec.authorize_endpoint, spec.token_endpoint] {
                assert!(endpoint.starts_with("https://"), "{endpoint}");
            }
            assert!(!spec.scopes.is_empty());
        }
        assert_eq!(Platform::parse("myspace"), None);
    }

    #[test]
    fn classifies_errors_the_same_way_everywhere() {
        let cases = [
            (
                reply(400, serde_json::json!({"error": "invalid_grant"})),
                "grant",
            ),
            (
                reply(
                    400,
                    serde_json::json!({"error": {"code": 190, "type": "OAuthException"}}),
                ),
                "grant",
            ),
            (reply(401, serde_json::json!({})), "unauthorized"),
            (
                reply(403, serde_json::json!({"title": "Forbidden"})),
                "rejected",
            ),
            (reply(503, serde_json::json!({})), "transient"),
            (reply(429, serde_json::json!({})), "transient"),
            (
                reply(
                    400,
                    serde_json::json!({"error": {"code": 4, "type": "OAuthException",
                                       "message": "Application request limit reached"}}),
                ),
                "transient",
            ),
            (
                reply(
                    403,
                    serde_json::json!({"error": {"code": 403, "message": "quota",
                                       "errors": [{"reason": "quotaExceeded", "domain": "youtube.quota"}]}}),
                ),
                "transient",
            ),
            (
                reply(400, serde_json::json!({"error": "invalid_request"})),
                "rejected",
            ),
        ];
        for (reply, expected) in cases {
            let kind = match classify_error(Platform::X, &reply) {
                SocialError::InvalidGrant(_) => "grant",
                SocialError::Unauthorized(_) => "unauthorized",
                SocialError::Transient { .. } => "transient",
                _ => "rejected",
            };
            assert_eq!(kind, expected, "{}", String::from_utf8_lossy(&reply.body));
        }
    }

    #[test]
    fn reads_standard_token_answers_and_errors_sent_with_200() {
        let tokens = parse_standard_token(
            Platform::X,
            &reply(
                200,
                serde_json::json!({"access_token": "at", "refresh_token": "rt", "expires_in": 7200,
                                   "scope": "tweet.read offline.access", "token_type": "bearer"}),
            ),
        )
        .unwrap();
        assert_eq!(tokens.access_token, "at");
        assert_eq!(tokens.refresh_token.as_deref(), Some("rt"));
        assert_eq!(tokens.expires_in, Some(7200));
        assert_eq!(tokens.scopes.unwrap(), vec!["tweet.read", "offline.access"]);
        assert!(!format!(
            "{:?}",
            parse_standard_token(
                Platform::X,
                &reply(200, serde_json::json!({"access_token": "secret-at"}))
            )
        )
        .contains("secret-at"));
        assert!(matches!(
            parse_standard_token(
                Platform::Tiktok,
                &reply(
                    200,
                    serde_json::json!({"error": "invalid_grant", "log_id": "1"})
                )
            ),
            Err(SocialError::InvalidGrant(_))
        ));
    }
}
