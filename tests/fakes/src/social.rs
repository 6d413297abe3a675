//! Fakes of the seven social platforms' OAuth and account endpoints, served under
//! `/social/{host}/{path}` (the worker's `SOCIAL_API_ORIGIN_OVERRIDE` points there), speaking
//! each platform's wire format: authorize pages that approve at once (redirect to
//! `redirect_uri` with `code` and `state`), token endpoints that check the client
//! authentication each platform uses (Basic for X and Pinterest, `client_key` for TikTok, form
//! fields elsewhere), the `redirect_uri` and the PKCE S256 verifier, refresh grants (X's refresh
//! tokens are single use and rotate), profile reads that refuse unknown or expired tokens, and
//! revocation. Error bodies are the platforms' (`{"error": "invalid_grant"}`, X's
//! `invalid_request` for a spent refresh token, Facebook's OAuthException 190, Pinterest's
//! `{"code", "message"}`, TikTok's error with 200…).
//!
//! Test markers, added by a test to the authorize URL the worker handed out:
//! `fake_account=<id>` names the account (default: random), `fake_deny=1` denies consent
//! (`error=access_denied`), `fake_access_ttl=<seconds>` sets the first access token's lifetime,
//! `fake_refresh=invalid` makes every refresh fail with the platform's invalid-grant answer,
//! `fake_refresh=flaky` makes the first refresh answer 503. `GET /social/_stats?account=<id>`
//! counts what happened to an account and lists the tokens issued for it.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The apps the fakes accept; the local stacks configure the worker with these.
pub const APPS: [(&str, &str, &str); 6] = [
    ("x", "fake-x-client", "fake-x-secret"),
    ("linkedin", "fake-linkedin-client", "fake-linkedin-secret"),
    ("facebook", "fake-facebook-app", "fake-facebook-secret"),
    ("tiktok", "fake-tiktok-key", "fake-tiktok-secret"),
    ("pinterest", "fake-pinterest-app", "fake-pinterest-secret"),
    ("google", "fake-google-client", "fake-google-secret"),
];

fn app_of_host(host: &str) -> Option<&'static str> {
    Some(match host {
        "x.com" | "api.x.com" => "x",
        "www.linkedin.com" | "api.linkedin.com" => "linkedin",
        "www.facebook.com" | "graph.facebook.com" => "facebook",
        "www.tiktok.com" | "open.tiktokapis.com" | "open-upload.tiktokapis.com" => "tiktok",
        "www.pinterest.com" | "api.pinterest.com" => "pinterest",
        "accounts.google.com" | "oauth2.googleapis.com" | "www.googleapis.com" => "google",
        _ => return None,
    })
}

fn app_credentials(app: &str) -> (&'static str, &'static str) {
    let (_, id, secret) = APPS
        .iter()
        .find(|(name, _, _)| *name == app)
        .expect("a known app");
    (id, secret)
}

struct Grant {
    app: &'static str,
    redirect_uri: String,
    challenge: Option<String>,
    account: String,
    access_ttl: u64,
    refresh: RefreshMode,
}

#[derive(Clone, Copy, PartialEq)]
enum RefreshMode {
    Normal,
    Invalid,
    Flaky,
}

struct Token {
    app: &'static str,
    account: String,
    expires: Option<Instant>,
    refresh: RefreshMode,
}

#[derive(Default, Clone)]
struct Stats {
    token_exchanges: u64,
    refresh_calls: u64,
    profile_reads: u64,
    revocations: u64,
    tokens: Vec<String>,
}

#[derive(Default)]
struct State {
    codes: HashMap<String, Grant>,
    access: HashMap<String, Token>,
    refresh: HashMap<String, Token>,
    stats: HashMap<String, Stats>,
}

fn state() -> MutexGuard<'static, State> {
    static STATE: LazyLock<Mutex<State>> = LazyLock::new(Mutex::default);
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn random(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!(
        "{prefix}-{:x}{:x}",
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn pairs(text: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(text.as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn json_response(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        Json(body),
    )
        .into_response()
}

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [("location", location.to_owned())]).into_response()
}

/// Every `/social/...` request.
pub async fn handle(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().strip_prefix("/social/").unwrap_or_default();
    let query = pairs(uri.query().unwrap_or_default());
    let account = query.get("account").map(String::as_str).unwrap_or_default();
    match path {
        "_stats" => return stats(account),
        "_posts" => return super::publishing::list(account),
        _ => {}
    }
    let (host, rest) = path.split_once('/').unwrap_or((path, ""));
    let rest = format!("/{rest}");
    let Some(app) = app_of_host(host) else {
        return json_response(404, json!({"error": "unknown host"}));
    };
    let form = pairs(std::str::from_utf8(&body).unwrap_or_default());
    let bearer = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let request = super::publishing::Request {
        app,
        method: method.as_str(),
        host,
        path: &rest,
        query: &query,
        headers: &headers,
        bearer: &bearer,
        body: &body,
    };
    if let Some(response) = super::publishing::handle(request).await {
        return response;
    }
    match (method.as_str(), host, rest.as_str()) {
        ("GET", "x.com", "/i/oauth2/authorize")
        | ("GET", "www.linkedin.com", "/oauth/v2/authorization")
        | ("GET", "www.facebook.com", "/v23.0/dialog/oauth")
        | ("GET", "www.tiktok.com", "/v2/auth/authorize/")
        | ("GET", "www.pinterest.com", "/oauth/")
        | ("GET", "accounts.google.com", "/o/oauth2/v2/auth") => authorize(app, &query),
        ("POST", "api.x.com", "/2/oauth2/token")
        | ("POST", "www.linkedin.com", "/oauth/v2/accessToken")
        | ("POST", "graph.facebook.com", "/v23.0/oauth/access_token")
        | ("POST", "open.tiktokapis.com", "/v2/oauth/token/")
        | ("POST", "api.pinterest.com", "/v5/oauth/token")
        | ("POST", "oauth2.googleapis.com", "/token") => token(app, &headers, &form),
        ("POST", "api.x.com", "/2/oauth2/revoke")
        | ("POST", "oauth2.googleapis.com", "/revoke")
        | ("POST", "open.tiktokapis.com", "/v2/oauth/revoke/") => revoke(
            app,
            form.get("token").map(String::as_str).unwrap_or_default(),
        ),
        ("DELETE", "graph.facebook.com", "/v23.0/me/permissions") => {
            match use_token(app, &bearer) {
                Ok(account) => {
                    revoke_account(app, &account);
                    json_response(200, json!({"success": true}))
                }
                Err(()) => unauthorized(app),
            }
        }
        ("GET", _, _) => profile(app, host, &rest, &query, &bearer),
        _ => json_response(404, json!({"error": "no such fake endpoint"})),
    }
}

fn stats(account: &str) -> Response {
    let stats = state().stats.get(account).cloned().unwrap_or_default();
    json_response(
        200,
        json!({"tokenExchanges": stats.token_exchanges, "refreshCalls": stats.refresh_calls,
               "profileReads": stats.profile_reads, "revocations": stats.revocations,
               "tokens": stats.tokens}),
    )
}

fn authorize(app: &'static str, query: &HashMap<String, String>) -> Response {
    let id_param = if app == "tiktok" {
        "client_key"
    } else {
        "client_id"
    };
    let (client_id, _) = app_credentials(app);
    let (Some(redirect_uri), Some(state_param)) = (query.get("redirect_uri"), query.get("state"))
    else {
        return json_response(
            400,
            json!({"error": "invalid_request", "error_description": "redirect_uri and state are required"}),
        );
    };
    if query.get(id_param).map(String::as_str) != Some(client_id)
        || query.get("response_type").map(String::as_str) != Some("code")
        || query.get("scope").is_none_or(String::is_empty)
    {
        return json_response(
            400,
            json!({"error": "invalid_request", "error_description": "bad client, response_type or scope"}),
        );
    }
    let mut back = url::Url::parse(redirect_uri).expect("an absolute redirect_uri");
    if query.get("fake_deny").is_some() {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The user denied the request")
            .append_pair("state", state_param);
        return redirect(back.as_str());
    }
    let challenge = match (
        query.get("code_challenge"),
        query.get("code_challenge_method"),
    ) {
        (Some(challenge), Some(method)) if method == "S256" => Some(challenge.clone()),
        (Some(_), _) => {
            return json_response(
                400,
                json!({"error": "invalid_request", "error_description": "only S256"}),
            )
        }
        _ => None,
    };
    let refresh = match query.get("fake_refresh").map(String::as_str) {
        Some("invalid") => RefreshMode::Invalid,
        Some("flaky") => RefreshMode::Flaky,
        _ => RefreshMode::Normal,
    };
    let code = random("code");
    state().codes.insert(
        code.clone(),
        Grant {
            app,
            redirect_uri: redirect_uri.clone(),
            challenge,
            account: query
                .get("fake_account")
                .cloned()
                .unwrap_or_else(|| random("acct")),
            access_ttl: query
                .get("fake_access_ttl")
                .and_then(|ttl| ttl.parse().ok())
                .unwrap_or(3600),
            refresh,
        },
    );
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", state_param);
    redirect(back.as_str())
}

/// The platform's answer to a refused grant.
fn invalid_grant(app: &str, description: &str) -> Response {
    match app {
        // X answers a spent or unknown token with invalid_request.
        "x" => json_response(
            400,
            json!({"error": "invalid_request", "error_description": description}),
        ),
        "facebook" => json_response(
            400,
            json!({"error": {"message": description, "type": "OAuthException", "code": 190, "fbtrace_id": "fake"}}),
        ),
        "tiktok" => json_response(
            200,
            json!({"error": "invalid_grant", "error_description": description, "log_id": "fake-log"}),
        ),
        "pinterest" => json_response(400, json!({"code": 1, "message": description})),
        _ => json_response(
            400,
            json!({"error": "invalid_grant", "error_description": description}),
        ),
    }
}

fn client_authenticated(app: &str, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let (id, secret) = app_credentials(app);
    match app {
        "x" | "pinterest" => {
            headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Basic "))
                .and_then(|b| STANDARD.decode(b).ok())
                == Some(format!("{id}:{secret}").into_bytes())
        }
        "tiktok" => {
            form.get("client_key").map(String::as_str) == Some(id)
                && form.get("client_secret").map(String::as_str) == Some(secret)
        }
        _ => {
            form.get("client_id").map(String::as_str) == Some(id)
                && form.get("client_secret").map(String::as_str) == Some(secret)
        }
    }
}

/// A new access token (`fake-at-…`, with a lifetime) or refresh token (`fake-rt-…`), recorded for
/// the account.
fn mint(
    kind: &str,
    app: &'static str,
    account: &str,
    ttl: Option<u64>,
    refresh: RefreshMode,
) -> String {
    let token = random(&format!("fake-{kind}-{app}"));
    let entry = Token {
        app,
        account: account.to_owned(),
        expires: ttl.map(|ttl| Instant::now() + Duration::from_secs(ttl)),
        refresh,
    };
    let mut state = state();
    let store = if kind == "rt" {
        &mut state.refresh
    } else {
        &mut state.access
    };
    store.insert(token.clone(), entry);
    state
        .stats
        .entry(account.to_owned())
        .or_default()
        .tokens
        .push(token.clone());
    token
}

fn issue(app: &'static str, account: &str, ttl: Option<u64>, refresh: RefreshMode) -> String {
    mint("at", app, account, ttl, refresh)
}

fn issue_refresh(app: &'static str, account: &str, refresh: RefreshMode) -> String {
    mint("rt", app, account, None, refresh)
}

fn token(app: &'static str, headers: &HeaderMap, form: &HashMap<String, String>) -> Response {
    if !client_authenticated(app, headers, form) {
        return json_response(
            401,
            json!({"error": "invalid_client", "error_description": "client authentication failed"}),
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(app, form),
        Some("refresh_token") => refresh_grant(app, form),
        Some("fb_exchange_token") if app == "facebook" => {
            let short = form.get("fb_exchange_token").cloned().unwrap_or_default();
            let Ok(account) = use_token(app, &short) else {
                return invalid_grant(app, "Error validating access token");
            };
            let long = issue(app, &account, Some(5_183_944), RefreshMode::Normal);
            json_response(
                200,
                json!({"access_token": long, "token_type": "bearer", "expires_in": 5_183_944}),
            )
        }
        _ => json_response(400, json!({"error": "unsupported_grant_type"})),
    }
}

fn code_grant(app: &'static str, form: &HashMap<String, String>) -> Response {
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(grant) = state().codes.remove(&code) else {
        return invalid_grant(app, "authorization code is invalid or was already used");
    };
    if grant.app != app || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return invalid_grant(app, "redirect_uri does not match the authorization request");
    }
    if let Some(challenge) = &grant.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return invalid_grant(app, "code_verifier does not match code_challenge");
        }
    }
    state()
        .stats
        .entry(grant.account.clone())
        .or_default()
        .token_exchanges += 1;
    let access = issue(app, &grant.account, Some(grant.access_ttl), grant.refresh);
    // Facebook's user tokens come without refresh tokens.
    let refresh_token =
        (app != "facebook").then(|| issue_refresh(app, &grant.account, grant.refresh));
    token_answer(app, &grant.account, access, grant.access_ttl, refresh_token)
}

/// A token endpoint's answer in the platform's shape; `refresh_token` only when one is sent.
fn token_answer(
    app: &'static str,
    account: &str,
    access: String,
    ttl: u64,
    refresh_token: Option<String>,
) -> Response {
    let mut body = match app {
        "x" => json!({"token_type": "bearer", "expires_in": ttl, "access_token": access,
                      "scope": "tweet.read tweet.write users.read media.write offline.access"}),
        "linkedin" => {
            json!({"access_token": access, "expires_in": ttl, "refresh_token_expires_in": 31_536_000,
                             "scope": "email,openid,profile,w_member_social"})
        }
        "facebook" => json!({"access_token": access, "token_type": "bearer", "expires_in": ttl}),
        "tiktok" => json!({"access_token": access, "expires_in": ttl, "open_id": account,
                           "refresh_expires_in": 31_536_000, "scope": "user.info.basic,video.publish,video.upload",
                           "token_type": "Bearer"}),
        "pinterest" => {
            json!({"access_token": access, "response_type": "authorization_code", "token_type": "bearer",
                              "expires_in": ttl, "refresh_token_expires_in": 31_536_000,
                              "scope": "boards:read,boards:write,pins:read,pins:write,user_accounts:read"})
        }
        _ => json!({"access_token": access, "expires_in": ttl, "token_type": "Bearer",
            "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly"}),
    };
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    json_response(200, body)
}

fn refresh_grant(app: &'static str, form: &HashMap<String, String>) -> Response {
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    let mut guard = state();
    let Some(token) = guard.refresh.get(&presented) else {
        drop(guard);
        return invalid_grant(app, "Value passed for the token was invalid.");
    };
    let (account, mode, token_app) = (token.account.clone(), token.refresh, token.app);
    let stats = guard.stats.entry(account.clone()).or_default();
    stats.refresh_calls += 1;
    let calls = stats.refresh_calls;
    if token_app != app || mode == RefreshMode::Invalid {
        drop(guard);
        return invalid_grant(app, "Value passed for the token was invalid.");
    }
    if mode == RefreshMode::Flaky && calls == 1 {
        drop(guard);
        return json_response(503, json!({"error": "temporarily_unavailable"}));
    }
    if app == "x" {
        // Single use: the presented token is spent.
        guard.refresh.remove(&presented);
    }
    drop(guard);
    let access = issue(app, &account, Some(3600), mode);
    let refresh_token = match app {
        "x" => Some(issue_refresh(app, &account, mode)),
        // Google's refresh tokens do not rotate and are not repeated.
        "google" => None,
        _ => Some(presented),
    };
    token_answer(app, &account, access, 3600, refresh_token)
}

/// The account a valid, unexpired access token belongs to; counts the use.
pub(crate) fn use_token(app: &str, token: &str) -> Result<String, ()> {
    let state = state();
    match state.access.get(token) {
        Some(found)
            if found.app == app && found.expires.is_none_or(|expires| expires > Instant::now()) =>
        {
            Ok(found.account.clone())
        }
        _ => Err(()),
    }
}

pub(crate) fn unauthorized(app: &str) -> Response {
    match app {
        "x" => json_response(
            401,
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        ),
        "linkedin" => json_response(
            401,
            json!({"serviceErrorCode": 65600, "message": "Invalid access token", "status": 401}),
        ),
        "facebook" => json_response(
            400,
            json!({"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}),
        ),
        "tiktok" => json_response(
            401,
            json!({"data": {}, "error": {"code": "access_token_invalid", "message": "The access token is invalid or not found in the request.", "log_id": "fake"}}),
        ),
        "pinterest" => json_response(401, json!({"code": 2, "message": "Authentication failed."})),
        _ => json_response(
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        ),
    }
}

fn profile(
    app: &'static str,
    host: &str,
    path: &str,
    query: &HashMap<String, String>,
    bearer: &str,
) -> Response {
    let Ok(account) = use_token(app, bearer) else {
        return unauthorized(app);
    };
    state()
        .stats
        .entry(account.clone())
        .or_default()
        .profile_reads += 1;
    let fields = query.get("fields").cloned().unwrap_or_default();
    let body = match (host, path) {
        ("api.x.com", "/2/users/me") => {
            json!({"data": {"id": account, "name": format!("X {account}"),
            "username": account, "profile_image_url": "https://pbs.twimg.com/fake.jpg"}})
        }
        ("api.linkedin.com", "/v2/userinfo") => {
            json!({"sub": account, "name": format!("LinkedIn {account}"),
            "email": format!("{account}@example.com"), "email_verified": true, "picture": "https://media.licdn.com/fake.jpg"})
        }
        ("graph.facebook.com", "/v23.0/me/accounts")
            if fields.contains("instagram_business_account") =>
        {
            json!({"data": [
                {"id": format!("page0-{account}"), "name": "Page without Instagram"},
                {"id": format!("page-{account}"), "name": format!("Page {account}"),
                 "instagram_business_account": {"id": format!("ig-{account}"), "username": account,
                                                "name": format!("Instagram {account}")}}
            ]})
        }
        ("graph.facebook.com", "/v23.0/me/accounts") => {
            let page_token = issue(app, &account, None, RefreshMode::Normal);
            json!({"data": [{"id": format!("page-{account}"), "name": format!("Page {account}"),
                             "access_token": page_token, "category": "Brand",
                             "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"]}],
                   "paging": {"cursors": {"before": "a", "after": "b"}}})
        }
        ("graph.facebook.com", page) if page == format!("/v23.0/page-{account}") => {
            json!({"id": format!("page-{account}"), "name": format!("Page {account}")})
        }
        ("graph.facebook.com", ig) if ig == format!("/v23.0/ig-{account}") => {
            json!({"id": format!("ig-{account}"), "username": account, "name": format!("Instagram {account}")})
        }
        ("open.tiktokapis.com", "/v2/user/info/") => json!({"data": {"user": {"open_id": account,
            "union_id": format!("u-{account}"), "display_name": format!("TikTok {account}"), "username": account,
            "avatar_url": "https://p16.tiktokcdn.com/fake.jpeg"}}, "error": {"code": "ok", "message": "", "log_id": "fake"}}),
        ("api.pinterest.com", "/v5/user_account") => {
            json!({"id": format!("p-{account}"), "username": account,
            "account_type": "BUSINESS", "profile_image": "https://i.pinimg.com/fake.jpg"})
        }
        ("www.googleapis.com", "/youtube/v3/channels") => {
            json!({"kind": "youtube#channelListResponse",
            "items": [{"kind": "youtube#channel", "id": format!("UC-{account}"),
                       "snippet": {"title": format!("Channel {account}"), "customUrl": format!("@{account}"),
                                   "thumbnails": {"default": {"url": "https://yt3.ggpht.com/fake.jpg"}}}}]})
        }
        _ => return json_response(404, json!({"error": "no such fake endpoint"})),
    };
    json_response(200, body)
}

fn revoke_account(app: &str, account: &str) {
    let mut state = state();
    state
        .access
        .retain(|_, token| !(token.app == app && token.account == account));
    state
        .refresh
        .retain(|_, token| !(token.app == app && token.account == account));
    state
        .stats
        .entry(account.to_owned())
        .or_default()
        .revocations += 1;
}

/// Revoking any token of a grant ends the whole grant (as X and Google do).
fn revoke(app: &str, token: &str) -> Response {
    let account = {
        let state = state();
        state
            .access
            .get(token)
            .or_else(|| state.refresh.get(token))
            .filter(|found| found.app == app)
            .map(|found| found.account.clone())
    };
    match (app, account) {
        (_, Some(account)) => {
            revoke_account(app, &account);
            match app {
                "x" => json_response(200, json!({"revoked": true})),
                _ => json_response(200, json!({})),
            }
        }
        ("google", None) => json_response(
            400,
            json!({"error": "invalid_token", "error_description": "Token expired or revoked"}),
        ),
        (_, None) => json_response(200, json!({"revoked": false})),
    }
}
