//! Fakes of the seven social platforms' OAuth and account endpoints, served under
//! `/social/{host}/{path}` (the worker's `SOCIAL_API_ORIGIN_OVERRIDE` points there), refusing
//! what each platform's reference says it refuses, so a test fails where production would
//! (docs/platforms.md lists each call and its reference):
//! - authorize: the app's id under the platform's name for it (`client_key` at TikTok),
//!   `response_type=code`, `redirect_uri`, `state`, scopes the platform knows split by its
//!   separator (space for X, LinkedIn and Google; comma for Facebook, TikTok and Pinterest), and
//!   PKCE as the platform does it (required at X; checked when sent at Google; TikTok checks a
//!   challenge as the hex SHA-256 of the verifier, its desktop flow, so an RFC 7636 challenge
//!   fails there). The consent approves at once (redirect to `redirect_uri` with `code` and
//!   `state`). A refresh token comes only where the platform gives one (X: `offline.access`;
//!   Google: `access_type=offline`; Facebook: never);
//! - token and revocation endpoints: POST with an `application/x-www-form-urlencoded` body
//!   (Graph's token endpoint: also its documented GET with a query), the client authentication
//!   each platform takes (HTTP Basic for X and Pinterest, a secret in the body as well refused;
//!   `client_key` and `client_secret` for TikTok; `client_id` and `client_secret` elsewhere), a
//!   known `grant_type`, single-use codes bound to their `redirect_uri` and PKCE verifier,
//!   refresh tokens that rotate where the platform rotates them (X: single use; Pinterest:
//!   continuous refresh), each answered in the platform's error shape (X's `invalid_request`
//!   for a spent token, Graph's OAuthException, TikTok's error body with status 200,
//!   Pinterest's `{"code", "message"}`);
//! - account reads that refuse unknown or expired tokens, and TikTok user fields whose scope
//!   was not granted (`username` needs `user.info.profile`).
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

/// An authorization code and what it stands for.
struct Grant {
    app: &'static str,
    redirect_uri: String,
    challenge: Option<(ChallengeMethod, String)>,
    /// The scopes consented to.
    scopes: Vec<String>,
    /// Whether the code's exchange comes with a refresh token (`grants_refresh`).
    offline: bool,
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
    scopes: Vec<String>,
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
        (_, "api.x.com", "/2/oauth2/token")
        | (_, "www.linkedin.com", "/oauth/v2/accessToken")
        | (_, "graph.facebook.com", "/v23.0/oauth/access_token")
        | (_, "open.tiktokapis.com", "/v2/oauth/token/")
        | (_, "api.pinterest.com", "/v5/oauth/token")
        | (_, "oauth2.googleapis.com", "/token") => {
            token(app, method.as_str(), &headers, &query, &body)
        }
        (_, "api.x.com", "/2/oauth2/revoke")
        | (_, "oauth2.googleapis.com", "/revoke")
        | (_, "open.tiktokapis.com", "/v2/oauth/revoke/") => {
            revoke(app, method.as_str(), &headers, &query, &body)
        }
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

/// How a platform's app proves itself at its token endpoint.
#[derive(Clone, Copy, PartialEq)]
enum ClientAuth {
    /// HTTP Basic with the client id and secret (X, Pinterest); a `client_secret` parameter as
    /// well is refused (RFC 6749 §2.3: one method per request).
    Basic,
    /// The id (under the platform's name for it) and the secret among the parameters.
    Params,
}

/// What a platform does with a PKCE challenge.
#[derive(Clone, Copy, PartialEq)]
enum Pkce {
    /// Required, `S256` or `plain` (X).
    Required,
    /// Checked when the authorize request carried one (Google).
    Optional,
    /// A challenge is the hex (not base64url) SHA-256 of the verifier: TikTok's desktop flow.
    /// Its web flow takes none, and a web app's RFC 7636 challenge would never match.
    Hex,
    /// Not part of the platform's web flow: the parameters are not looked at.
    Ignored,
}

/// One platform's OAuth rules, as its reference documents them.
struct Rules {
    /// The authorize and token parameter naming the app (`client_key` at TikTok).
    id_param: &'static str,
    client_auth: ClientAuth,
    scope_separator: char,
    /// The scopes the platform knows: a wrong separator makes an unknown one.
    scopes: &'static [&'static str],
    pkce: Pkce,
    /// Graph also takes the token endpoint's parameters as a GET query (its documented form).
    token_by_get: bool,
}

fn rules(app: &str) -> Rules {
    let standard = Rules {
        id_param: "client_id",
        client_auth: ClientAuth::Params,
        scope_separator: ' ',
        scopes: &[],
        pkce: Pkce::Ignored,
        token_by_get: false,
    };
    match app {
        "x" => Rules {
            client_auth: ClientAuth::Basic,
            scopes: &[
                "tweet.read",
                "tweet.write",
                "tweet.moderate.write",
                "users.read",
                "follows.read",
                "follows.write",
                "offline.access",
                "like.read",
                "like.write",
                "list.read",
                "list.write",
                "bookmark.read",
                "bookmark.write",
                "media.write",
            ],
            pkce: Pkce::Required,
            ..standard
        },
        "linkedin" => Rules {
            scopes: &["openid", "profile", "email", "w_member_social"],
            ..standard
        },
        "facebook" => Rules {
            scope_separator: ',',
            scopes: &[
                "public_profile",
                "email",
                "pages_show_list",
                "pages_manage_posts",
                "pages_read_engagement",
                "pages_manage_metadata",
                "business_management",
                "instagram_basic",
                "instagram_content_publish",
                "instagram_manage_comments",
            ],
            token_by_get: true,
            ..standard
        },
        "tiktok" => Rules {
            id_param: "client_key",
            scope_separator: ',',
            scopes: &[
                "user.info.basic",
                "user.info.profile",
                "user.info.stats",
                "video.list",
                "video.publish",
                "video.upload",
            ],
            pkce: Pkce::Hex,
            ..standard
        },
        "pinterest" => Rules {
            client_auth: ClientAuth::Basic,
            scope_separator: ',',
            scopes: &[
                "ads:read",
                "boards:read",
                "boards:read_secret",
                "boards:write",
                "boards:write_secret",
                "pins:read",
                "pins:read_secret",
                "pins:write",
                "pins:write_secret",
                "user_accounts:read",
            ],
            ..standard
        },
        _ => Rules {
            scopes: &[
                "openid",
                "email",
                "profile",
                "https://www.googleapis.com/auth/youtube",
                "https://www.googleapis.com/auth/youtube.upload",
                "https://www.googleapis.com/auth/youtube.readonly",
                "https://www.googleapis.com/auth/youtube.force-ssl",
            ],
            pkce: Pkce::Optional,
            ..standard
        },
    }
}

/// How the verifier must relate to the challenge an authorize request carried.
#[derive(Clone, Copy)]
enum ChallengeMethod {
    S256,
    Plain,
    /// TikTok's: the hex SHA-256.
    HexS256,
}

fn verifies(method: ChallengeMethod, challenge: &str, verifier: &str) -> bool {
    let digest = Sha256::digest(verifier.as_bytes());
    match method {
        ChallengeMethod::S256 => URL_SAFE_NO_PAD.encode(digest) == challenge,
        ChallengeMethod::Plain => verifier == challenge,
        ChallengeMethod::HexS256 => format!("{digest:x}") == challenge,
    }
}

/// An authorize request's refusal: the platform shows an error page and does not redirect.
fn authorize_refusal(error: &str, description: &str) -> Response {
    json_response(
        400,
        json!({"error": error, "error_description": description}),
    )
}

/// Whether the platform gives this authorization a refresh token: X only with the
/// `offline.access` scope, Google only with `access_type=offline`, Facebook never (its user
/// tokens are exchanged for long-lived ones instead).
fn grants_refresh(app: &str, scopes: &[String], query: &HashMap<String, String>) -> bool {
    match app {
        "x" => scopes.iter().any(|scope| scope == "offline.access"),
        "google" => query.get("access_type").map(String::as_str) == Some("offline"),
        "facebook" => false,
        _ => true,
    }
}

fn authorize(app: &'static str, query: &HashMap<String, String>) -> Response {
    let rules = rules(app);
    let (client_id, _) = app_credentials(app);
    let (Some(redirect_uri), Some(state_param)) = (query.get("redirect_uri"), query.get("state"))
    else {
        return authorize_refusal("invalid_request", "redirect_uri and state are required");
    };
    if query.get(rules.id_param).map(String::as_str) != Some(client_id)
        || query.get("response_type").map(String::as_str) != Some("code")
        || query.get("scope").is_none_or(String::is_empty)
    {
        return authorize_refusal("invalid_request", "bad client, response_type or scope");
    }
    let scopes: Vec<String> = query["scope"]
        .split(rules.scope_separator)
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = scopes
        .iter()
        .find(|scope| !rules.scopes.contains(&scope.as_str()))
    {
        return authorize_refusal("invalid_scope", &format!("unknown scope {unknown:?}"));
    }
    let mut back = url::Url::parse(redirect_uri).expect("an absolute redirect_uri");
    if query.get("fake_deny").is_some() {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The user denied the request")
            .append_pair("state", state_param);
        return redirect(back.as_str());
    }
    let method = query.get("code_challenge_method").map(String::as_str);
    let challenge = match (rules.pkce, query.get("code_challenge"), method) {
        (Pkce::Ignored, _, _) => None,
        (Pkce::Required, None, _) => {
            return authorize_refusal("invalid_request", "code_challenge is required")
        }
        (_, None, _) => None,
        (Pkce::Hex, Some(challenge), Some("S256")) => {
            Some((ChallengeMethod::HexS256, challenge.clone()))
        }
        (Pkce::Required | Pkce::Optional, Some(challenge), Some("S256")) => {
            Some((ChallengeMethod::S256, challenge.clone()))
        }
        (Pkce::Required | Pkce::Optional, Some(challenge), None | Some("plain")) => {
            Some((ChallengeMethod::Plain, challenge.clone()))
        }
        (_, Some(_), _) => {
            return authorize_refusal("invalid_request", "unsupported code_challenge_method")
        }
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
            offline: grants_refresh(app, &scopes, query),
            scopes,
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

/// Why a token or revocation endpoint refused a request.
#[derive(Clone, Copy)]
enum Refusal {
    /// Malformed: wrong method or content type, a missing or doubled parameter.
    InvalidRequest,
    InvalidClient,
    /// The code or refresh token is unknown, spent, expired, revoked or not this client's.
    InvalidGrant,
    UnsupportedGrantType,
}

/// The platform's answer to a refused token request, in its own shape.
fn token_error(app: &str, refusal: Refusal, description: &str) -> Response {
    let (status, error) = match refusal {
        Refusal::InvalidRequest => (400, "invalid_request"),
        Refusal::InvalidClient => (401, "invalid_client"),
        Refusal::InvalidGrant => (400, "invalid_grant"),
        Refusal::UnsupportedGrantType => (400, "unsupported_grant_type"),
    };
    match app {
        // X answers a spent, revoked or unknown code or refresh token with invalid_request,
        // and a failed client authentication with unauthorized_client.
        "x" => {
            let error = match refusal {
                Refusal::InvalidGrant => "invalid_request",
                Refusal::InvalidClient => "unauthorized_client",
                _ => error,
            };
            json_response(
                status,
                json!({"error": error, "error_description": description}),
            )
        }
        // Graph: an OAuthException; code 1 for a wrong app secret, 100 for a bad parameter
        // (subcode 36009: the code was used already).
        "facebook" => {
            let mut body = json!({"message": description, "type": "OAuthException",
                                  "code": 100, "fbtrace_id": "fake"});
            match refusal {
                Refusal::InvalidClient => body["code"] = json!(1),
                Refusal::InvalidGrant => body["error_subcode"] = json!(36009),
                _ => {}
            }
            json_response(400, json!({ "error": body }))
        }
        // TikTok's token endpoint reports errors in the body, with status 200.
        "tiktok" => json_response(
            200,
            json!({"error": error, "error_description": description, "log_id": "fake-log"}),
        ),
        "pinterest" => {
            let code = if matches!(refusal, Refusal::InvalidClient) {
                2
            } else {
                1
            };
            json_response(status, json!({"code": code, "message": description}))
        }
        _ => json_response(
            status,
            json!({"error": error, "error_description": description}),
        ),
    }
}

/// The parameters of a token or revocation request: a form body posted as
/// `application/x-www-form-urlencoded` (Graph's token endpoint: also a GET query).
fn oauth_params(
    app: &str,
    method: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<HashMap<String, String>, Response> {
    let form = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    match method {
        "POST" if form => Ok(pairs(std::str::from_utf8(body).unwrap_or_default())),
        "POST" => Err(token_error(
            app,
            Refusal::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        )),
        "GET" if rules(app).token_by_get => Ok(query.clone()),
        _ => Err(token_error(
            app,
            Refusal::InvalidRequest,
            &format!("{method} is not allowed here"),
        )),
    }
}

/// The client authentication the platform takes (`rules(app).client_auth`).
fn authenticate_client(
    app: &str,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<(), Response> {
    let rules = rules(app);
    let (id, secret) = app_credentials(app);
    let authenticated = match rules.client_auth {
        ClientAuth::Basic if params.contains_key("client_secret") => {
            return Err(token_error(
                app,
                Refusal::InvalidRequest,
                "client authentication given twice (Basic and client_secret)",
            ))
        }
        ClientAuth::Basic => {
            headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Basic "))
                .and_then(|encoded| STANDARD.decode(encoded).ok())
                == Some(format!("{id}:{secret}").into_bytes())
        }
        ClientAuth::Params => {
            params.get(rules.id_param).map(String::as_str) == Some(id)
                && params.get("client_secret").map(String::as_str) == Some(secret)
        }
    };
    if authenticated {
        Ok(())
    } else {
        let description = match rules.client_auth {
            ClientAuth::Basic => "client authentication failed: expected HTTP Basic".to_owned(),
            ClientAuth::Params => {
                format!(
                    "client authentication failed: expected {} and client_secret",
                    rules.id_param
                )
            }
        };
        Err(token_error(app, Refusal::InvalidClient, &description))
    }
}

/// A new access token (`fake-at-…`, with a lifetime) or refresh token (`fake-rt-…`), recorded for
/// the account.
fn mint(kind: &str, app: &'static str, grant: Minted, ttl: Option<u64>) -> String {
    let token = random(&format!("fake-{kind}-{app}"));
    let account = grant.account.clone();
    let entry = Token {
        app,
        account: grant.account,
        scopes: grant.scopes,
        expires: ttl.map(|ttl| Instant::now() + Duration::from_secs(ttl)),
        refresh: grant.refresh,
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
        .entry(account)
        .or_default()
        .tokens
        .push(token.clone());
    token
}

/// Whose tokens are minted, with what.
#[derive(Clone)]
struct Minted {
    account: String,
    scopes: Vec<String>,
    refresh: RefreshMode,
}

fn issue(app: &'static str, grant: &Minted, ttl: Option<u64>) -> String {
    mint("at", app, grant.clone(), ttl)
}

fn issue_refresh(app: &'static str, grant: &Minted) -> String {
    mint("rt", app, grant.clone(), None)
}

fn token(
    app: &'static str,
    method: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    let params = match oauth_params(app, method, headers, query, body) {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    if let Err(refused) = authenticate_client(app, headers, &params) {
        return refused;
    }
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(app, &params),
        // Graph's code exchange is documented without a grant_type.
        None if app == "facebook" && params.contains_key("code") => code_grant(app, &params),
        Some("refresh_token") if app != "facebook" => refresh_grant(app, &params),
        Some("fb_exchange_token") if app == "facebook" => {
            let short = params.get("fb_exchange_token").cloned().unwrap_or_default();
            let Some(user) = token_of(app, &short) else {
                return unauthorized(app);
            };
            let long = issue(app, &user, Some(5_183_944));
            json_response(
                200,
                json!({"access_token": long, "token_type": "bearer", "expires_in": 5_183_944}),
            )
        }
        Some(_) => token_error(app, Refusal::UnsupportedGrantType, "unsupported grant_type"),
        None => token_error(app, Refusal::InvalidRequest, "grant_type is required"),
    }
}

fn code_grant(app: &'static str, params: &HashMap<String, String>) -> Response {
    let code = params.get("code").cloned().unwrap_or_default();
    let Some(grant) = state().codes.remove(&code) else {
        return token_error(
            app,
            Refusal::InvalidGrant,
            "authorization code is invalid or was already used",
        );
    };
    if grant.app != app || params.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error(
            app,
            Refusal::InvalidGrant,
            "redirect_uri does not match the authorization request",
        );
    }
    if let Some((method, challenge)) = &grant.challenge {
        let Some(verifier) = params.get("code_verifier") else {
            return token_error(app, Refusal::InvalidRequest, "code_verifier is required");
        };
        if !verifies(*method, challenge, verifier) {
            return token_error(
                app,
                Refusal::InvalidGrant,
                "code_verifier does not match code_challenge",
            );
        }
    }
    state()
        .stats
        .entry(grant.account.clone())
        .or_default()
        .token_exchanges += 1;
    let minted = Minted {
        account: grant.account.clone(),
        scopes: grant.scopes.clone(),
        refresh: grant.refresh,
    };
    let access = issue(app, &minted, Some(grant.access_ttl));
    let refresh_token = grant.offline.then(|| issue_refresh(app, &minted));
    token_answer(app, &minted, access, grant.access_ttl, refresh_token)
}

/// A token endpoint's answer in the platform's shape; `refresh_token` only when one is sent.
fn token_answer(
    app: &'static str,
    grant: &Minted,
    access: String,
    ttl: u64,
    refresh_token: Option<String>,
) -> Response {
    let scope = grant.scopes.join(&rules(app).scope_separator.to_string());
    let mut body = match app {
        "x" => json!({"token_type": "bearer", "expires_in": ttl, "access_token": access,
                      "scope": scope}),
        // LinkedIn lists the granted scopes comma-separated, whatever the request's separator.
        "linkedin" => {
            json!({"access_token": access, "expires_in": ttl, "refresh_token_expires_in": 31_536_000,
                   "scope": grant.scopes.join(",")})
        }
        "facebook" => json!({"access_token": access, "token_type": "bearer", "expires_in": ttl}),
        "tiktok" => json!({"access_token": access, "expires_in": ttl, "open_id": grant.account,
                           "refresh_expires_in": 31_536_000, "scope": scope,
                           "token_type": "Bearer"}),
        "pinterest" => {
            json!({"access_token": access, "response_type": "authorization_code", "token_type": "bearer",
                   "expires_in": ttl, "refresh_token_expires_in": 31_536_000, "scope": scope})
        }
        _ => json!({"access_token": access, "expires_in": ttl, "token_type": "Bearer",
                    "scope": scope}),
    };
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    json_response(200, body)
}

/// Platforms that answer a refresh with a new refresh token and spend the presented one: X
/// (single use), Pinterest (continuous refresh, its default).
fn rotates_refresh_tokens(app: &str) -> bool {
    matches!(app, "x" | "pinterest")
}

fn refresh_grant(app: &'static str, params: &HashMap<String, String>) -> Response {
    let presented = params.get("refresh_token").cloned().unwrap_or_default();
    let mut guard = state();
    let Some(token) = guard.refresh.get(&presented) else {
        drop(guard);
        return token_error(
            app,
            Refusal::InvalidGrant,
            "Value passed for the token was invalid.",
        );
    };
    let (minted, token_app) = (
        Minted {
            account: token.account.clone(),
            scopes: token.scopes.clone(),
            refresh: token.refresh,
        },
        token.app,
    );
    let stats = guard.stats.entry(minted.account.clone()).or_default();
    stats.refresh_calls += 1;
    let calls = stats.refresh_calls;
    if token_app != app || minted.refresh == RefreshMode::Invalid {
        drop(guard);
        return token_error(
            app,
            Refusal::InvalidGrant,
            "Value passed for the token was invalid.",
        );
    }
    if minted.refresh == RefreshMode::Flaky && calls == 1 {
        drop(guard);
        return json_response(503, json!({"error": "temporarily_unavailable"}));
    }
    if rotates_refresh_tokens(app) {
        guard.refresh.remove(&presented);
    }
    drop(guard);
    let access = issue(app, &minted, Some(3600));
    let refresh_token = match app {
        _ if rotates_refresh_tokens(app) => Some(issue_refresh(app, &minted)),
        // Google's refresh tokens do not rotate and are not repeated.
        "google" => None,
        _ => Some(presented),
    };
    token_answer(app, &minted, access, 3600, refresh_token)
}

/// What a valid, unexpired access token was granted.
fn token_of(app: &str, token: &str) -> Option<Minted> {
    let state = state();
    state
        .access
        .get(token)
        .filter(|found| found.app == app && found.expires.is_none_or(|at| at > Instant::now()))
        .map(|found| Minted {
            account: found.account.clone(),
            scopes: found.scopes.clone(),
            refresh: found.refresh,
        })
}

/// The account a valid, unexpired access token belongs to.
pub(crate) fn use_token(app: &str, token: &str) -> Result<String, ()> {
    token_of(app, token).map(|grant| grant.account).ok_or(())
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

/// The scope each TikTok user field needs (`/v2/user/info/`); `None`: not a user field.
fn tiktok_field_scope(field: &str) -> Option<&'static str> {
    Some(match field {
        "open_id" | "union_id" | "avatar_url" | "avatar_url_100" | "avatar_large_url"
        | "display_name" => "user.info.basic",
        "bio_description" | "profile_deep_link" | "is_verified" | "username" => "user.info.profile",
        "follower_count" | "following_count" | "likes_count" | "video_count" => "user.info.stats",
        _ => return None,
    })
}

/// TikTok's user info answers only fields whose scope the user granted.
fn tiktok_fields_refusal(fields: &str, scopes: &[String]) -> Option<Response> {
    for field in fields.split(',') {
        let refusal = match tiktok_field_scope(field) {
            None => ("invalid_params", format!("unknown field {field:?}"), 400),
            Some(scope) if !scopes.iter().any(|granted| granted == scope) => (
                "scope_not_authorized",
                format!("{field} needs the {scope} scope"),
                401,
            ),
            Some(_) => continue,
        };
        let (code, message, status) = refusal;
        return Some(json_response(
            status,
            json!({"data": {}, "error": {"code": code, "message": message, "log_id": "fake"}}),
        ));
    }
    None
}

fn profile(
    app: &'static str,
    host: &str,
    path: &str,
    query: &HashMap<String, String>,
    bearer: &str,
) -> Response {
    let Some(grant) = token_of(app, bearer) else {
        return unauthorized(app);
    };
    let account = grant.account.clone();
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
            let page_token = issue(app, &grant, None);
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
        ("open.tiktokapis.com", "/v2/user/info/") => {
            if let Some(refused) = tiktok_fields_refusal(&fields, &grant.scopes) {
                return refused;
            }
            json!({"data": {"user": {"open_id": account,
            "union_id": format!("u-{account}"), "display_name": format!("TikTok {account}"), "username": account,
            "avatar_url": "https://p16.tiktokcdn.com/fake.jpeg"}}, "error": {"code": "ok", "message": "", "log_id": "fake"}})
        }
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

/// A revocation endpoint (RFC 7009, a form post): X authenticates the client as at its token
/// endpoint, TikTok takes `client_key` and `client_secret`, Google only the token. Revoking
/// any token of a grant ends the whole grant (as X and Google do).
fn revoke(
    app: &str,
    method: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    let params = match oauth_params(app, method, headers, query, body) {
        Ok(params) => params,
        Err(refused) => return refused,
    };
    if app != "google" {
        if let Err(refused) = authenticate_client(app, headers, &params) {
            return refused;
        }
    }
    let Some(token) = params.get("token").filter(|token| !token.is_empty()) else {
        return token_error(app, Refusal::InvalidRequest, "token is required");
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
    const CALLBACK: &str = "https://worker.example/v1/oauth/p/callback";

    /// One request to the fakes: (status, JSON body, `location`).
    async fn send(
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> (u16, Value, Option<String>) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let response = handle(
            method.parse().unwrap(),
            format!("/social/{url}").parse().unwrap(),
            map,
            Bytes::from(body.to_owned()),
        )
        .await;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json, location)
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    fn basic(app: &str) -> (&'static str, String) {
        let (id, secret) = app_credentials(app);
        (
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
    }

    /// Consents at `authorize` (host and path) with `params`: the code, or the refusal.
    async fn consent(authorize: &str, params: &[(&str, &str)]) -> Result<String, (u16, Value)> {
        let mut all = vec![("response_type", "code"), ("redirect_uri", CALLBACK)];
        all.extend_from_slice(&[("state", "st")]);
        all.extend_from_slice(params);
        let (status, body, location) =
            send("GET", &format!("{authorize}?{}", form(&all)), &[], "").await;
        match location {
            Some(location) => Ok(url::Url::parse(&location)
                .unwrap()
                .query_pairs()
                .find(|(name, _)| name == "code")
                .map(|(_, code)| code.into_owned())
                .expect("a code")),
            None => Err((status, body)),
        }
    }

    const X_AUTHORIZE: &str = "x.com/i/oauth2/authorize";
    const X_TOKEN: &str = "api.x.com/2/oauth2/token";

    async fn x_code(scope: &str) -> String {
        let verifier = "v".repeat(43);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        consent(
            X_AUTHORIZE,
            &[
                ("client_id", "fake-x-client"),
                ("scope", scope),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await
        .unwrap()
    }

    fn x_exchange(code: &str) -> String {
        let verifier = "v".repeat(43);
        form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ])
    }

    #[tokio::test]
    async fn token_endpoints_take_only_a_form_post() {
        let code = x_code("tweet.read offline.access").await;
        let json_body = json!({"grant_type": "authorization_code", "code": code}).to_string();
        let json_type = ("content-type", "application/json".to_owned());
        let (status, body, _) = send("POST", X_TOKEN, &[basic("x"), json_type], &json_body).await;
        assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
        let (status, _, _) = send(
            "GET",
            &format!("{X_TOKEN}?{}", x_exchange(&code)),
            &[basic("x")],
            "",
        )
        .await;
        assert_eq!(status, 400, "a GET is refused");
        let form_type = (FORM.0, FORM.1.to_owned());
        let (status, body, _) = send(
            "POST",
            X_TOKEN,
            &[basic("x"), form_type],
            &x_exchange(&code),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(body["refresh_token"].is_string(), "offline.access: {body}");
    }

    #[tokio::test]
    async fn each_platform_takes_only_its_own_client_authentication() {
        let form_type = (FORM.0, FORM.1.to_owned());
        let code = x_code("tweet.read").await;
        let doubled = format!("{}&client_secret=fake-x-secret", x_exchange(&code));
        let (status, body, _) =
            send("POST", X_TOKEN, &[basic("x"), form_type.clone()], &doubled).await;
        assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
        let in_body = format!("{}&client_id=fake-x-client", x_exchange(&code));
        let (status, body, _) =
            send("POST", X_TOKEN, std::slice::from_ref(&form_type), &in_body).await;
        assert_eq!(
            (status, &body["error"]),
            (401, &json!("unauthorized_client"))
        );

        // TikTok names the app client_key; client_id is not it.
        let tiktok = "open.tiktokapis.com/v2/oauth/token/";
        for id_field in ["client_id", "client_key"] {
            let body = form(&[
                (id_field, "fake-tiktok-key"),
                ("client_secret", "fake-tiktok-secret"),
                ("grant_type", "refresh_token"),
                ("refresh_token", "unknown"),
            ]);
            let (status, answer, _) =
                send("POST", tiktok, std::slice::from_ref(&form_type), &body).await;
            let expected = if id_field == "client_key" {
                "invalid_grant"
            } else {
                "invalid_client"
            };
            assert_eq!(
                (status, &answer["error"]),
                (200, &json!(expected)),
                "{id_field}"
            );
        }

        // Google and LinkedIn take the secret in the body, not a Basic header.
        let google = "oauth2.googleapis.com/token";
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "unknown"),
        ]);
        let (status, answer, _) =
            send("POST", google, &[basic("google"), form_type.clone()], &body).await;
        assert_eq!((status, &answer["error"]), (401, &json!("invalid_client")));
    }

    #[tokio::test]
    async fn a_code_is_single_use_and_bound_to_its_redirect_uri_and_verifier() {
        let form_type = (FORM.0, FORM.1.to_owned());
        let code = x_code("tweet.read").await;
        let wrong_verifier = x_exchange(&code).replace(&"v".repeat(43), &"w".repeat(43));
        let (status, body, _) = send(
            "POST",
            X_TOKEN,
            &[basic("x"), form_type.clone()],
            &wrong_verifier,
        )
        .await;
        assert_eq!((status, &body["error"]), (400, &json!("invalid_request")));
        let (status, _, _) = send(
            "POST",
            X_TOKEN,
            &[basic("x"), form_type.clone()],
            &x_exchange(&code),
        )
        .await;
        assert_eq!(status, 400, "a code refused once is spent");

        let code = x_code("tweet.read").await;
        let elsewhere = x_exchange(&code).replace("worker.example", "evil.example");
        let (status, _, _) = send(
            "POST",
            X_TOKEN,
            &[basic("x"), form_type.clone()],
            &elsewhere,
        )
        .await;
        assert_eq!(status, 400, "another redirect_uri");

        // Graph: the documented GET; a used code is OAuthException 100, subcode 36009.
        let code = consent(
            "www.facebook.com/v23.0/dialog/oauth",
            &[
                ("client_id", "fake-facebook-app"),
                ("scope", "pages_show_list,pages_manage_posts"),
            ],
        )
        .await
        .unwrap();
        let exchange = format!(
            "graph.facebook.com/v23.0/oauth/access_token?{}",
            form(&[
                ("client_id", "fake-facebook-app"),
                ("client_secret", "fake-facebook-secret"),
                ("redirect_uri", CALLBACK),
                ("code", &code),
            ])
        );
        let (status, body, _) = send("GET", &exchange, &[], "").await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.get("refresh_token").is_none(),
            "Graph gives no refresh token"
        );
        let (status, body, _) = send("GET", &exchange, &[], "").await;
        assert_eq!(status, 400);
        assert_eq!(
            (
                &body["error"]["type"],
                &body["error"]["code"],
                &body["error"]["error_subcode"]
            ),
            (&json!("OAuthException"), &json!(100), &json!(36009))
        );
    }

    async fn refresh(
        url: &str,
        headers: &[(&str, String)],
        params: &[(&str, &str)],
        token: &str,
    ) -> (u16, Value) {
        let mut all = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        all.extend_from_slice(params);
        let (status, body, _) = send("POST", url, headers, &form(&all)).await;
        (status, body)
    }

    #[tokio::test]
    async fn rotated_refresh_tokens_are_spent_and_others_stay() {
        let form_type = (FORM.0, FORM.1.to_owned());
        let code = x_code("tweet.read offline.access").await;
        let (_, tokens, _) = send(
            "POST",
            X_TOKEN,
            &[basic("x"), form_type.clone()],
            &x_exchange(&code),
        )
        .await;
        let first = tokens["refresh_token"].as_str().unwrap().to_owned();
        let headers = [basic("x"), form_type.clone()];
        let (status, renewed) = refresh(X_TOKEN, &headers, &[], &first).await;
        assert_eq!(status, 200);
        assert_ne!(renewed["refresh_token"].as_str().unwrap(), first);
        let (status, body) = refresh(X_TOKEN, &headers, &[], &first).await;
        assert_eq!(
            (status, &body["error"]),
            (400, &json!("invalid_request")),
            "spent"
        );

        let linkedin = "www.linkedin.com/oauth/v2/accessToken";
        let code = consent(
            "www.linkedin.com/oauth/v2/authorization",
            &[
                ("client_id", "fake-linkedin-client"),
                ("scope", "openid profile w_member_social"),
            ],
        )
        .await
        .unwrap();
        let secret = [
            ("client_id", "fake-linkedin-client"),
            ("client_secret", "fake-linkedin-secret"),
        ];
        let mut exchange = vec![
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
        ];
        exchange.extend_from_slice(&secret);
        let (_, tokens, _) = send(
            "POST",
            linkedin,
            std::slice::from_ref(&form_type),
            &form(&exchange),
        )
        .await;
        let kept = tokens["refresh_token"].as_str().unwrap().to_owned();
        for _ in 0..2 {
            let (status, body) =
                refresh(linkedin, std::slice::from_ref(&form_type), &secret, &kept).await;
            assert_eq!(
                (status, body["refresh_token"].as_str()),
                (200, Some(kept.as_str()))
            );
        }
    }

    #[tokio::test]
    async fn authorize_refuses_unknown_scopes_a_wrong_separator_and_x_without_pkce() {
        let refused = consent(
            X_AUTHORIZE,
            &[
                ("client_id", "fake-x-client"),
                ("scope", "tweet.read,users.read"),
                ("code_challenge", "c"),
            ],
        )
        .await;
        assert_eq!(refused.unwrap_err().1["error"], "invalid_scope");
        let refused = consent(
            X_AUTHORIZE,
            &[("client_id", "fake-x-client"), ("scope", "tweet.read")],
        )
        .await;
        assert_eq!(refused.unwrap_err().0, 400, "X requires PKCE");
        let refused = consent(
            "www.pinterest.com/oauth/",
            &[
                ("client_id", "fake-pinterest-app"),
                ("scope", "boards:read pins:read"),
            ],
        )
        .await;
        assert_eq!(refused.unwrap_err().1["error"], "invalid_scope");
        let refused = consent(
            "www.tiktok.com/v2/auth/authorize/",
            &[
                ("client_id", "fake-tiktok-key"),
                ("scope", "user.info.basic"),
            ],
        )
        .await;
        assert_eq!(
            refused.unwrap_err().0,
            400,
            "TikTok names the app client_key"
        );
    }

    #[tokio::test]
    async fn refresh_tokens_come_only_with_offline_access() {
        let form_type = (FORM.0, FORM.1.to_owned());
        let code = x_code("tweet.read").await;
        let (_, tokens, _) = send(
            "POST",
            X_TOKEN,
            &[basic("x"), form_type.clone()],
            &x_exchange(&code),
        )
        .await;
        assert!(tokens.get("refresh_token").is_none(), "{tokens}");
        for (access_type, expected) in [("online", false), ("offline", true)] {
            let code = consent(
                "accounts.google.com/o/oauth2/v2/auth",
                &[
                    ("client_id", "fake-google-client"),
                    ("scope", "https://www.googleapis.com/auth/youtube.upload"),
                    ("access_type", access_type),
                ],
            )
            .await
            .unwrap();
            let body = form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("client_id", "fake-google-client"),
                ("client_secret", "fake-google-secret"),
            ]);
            let (status, tokens, _) = send(
                "POST",
                "oauth2.googleapis.com/token",
                std::slice::from_ref(&form_type),
                &body,
            )
            .await;
            assert_eq!(status, 200);
            assert_eq!(
                tokens["refresh_token"].is_string(),
                expected,
                "{access_type}"
            );
        }
    }

    #[tokio::test]
    async fn tiktok_checks_a_challenge_as_hex_and_user_fields_by_scope() {
        let form_type = (FORM.0, FORM.1.to_owned());
        let verifier = "v".repeat(43);
        let rfc_7636 = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let code = consent(
            "www.tiktok.com/v2/auth/authorize/",
            &[
                ("client_key", "fake-tiktok-key"),
                ("scope", "user.info.basic,video.publish"),
                ("code_challenge", &rfc_7636),
                ("code_challenge_method", "S256"),
            ],
        )
        .await
        .unwrap();
        let exchange = |code: &str, verifier: Option<&str>| {
            let mut pairs = vec![
                ("client_key", "fake-tiktok-key"),
                ("client_secret", "fake-tiktok-secret"),
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CALLBACK),
            ];
            pairs.extend(verifier.map(|verifier| ("code_verifier", verifier)));
            form(&pairs)
        };
        let tiktok = "open.tiktokapis.com/v2/oauth/token/";
        let (_, body, _) = send(
            "POST",
            tiktok,
            std::slice::from_ref(&form_type),
            &exchange(&code, Some(&verifier)),
        )
        .await;
        assert_eq!(
            body["error"], "invalid_grant",
            "a base64url challenge never matches"
        );

        let code = consent(
            "www.tiktok.com/v2/auth/authorize/",
            &[
                ("client_key", "fake-tiktok-key"),
                ("scope", "user.info.basic,video.publish"),
            ],
        )
        .await
        .unwrap();
        let (_, tokens, _) = send(
            "POST",
            tiktok,
            std::slice::from_ref(&form_type),
            &exchange(&code, None),
        )
        .await;
        let bearer = (
            "authorization",
            format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
        );
        let info = "open.tiktokapis.com/v2/user/info/?fields=open_id,display_name";
        let (status, _, _) = send("GET", info, std::slice::from_ref(&bearer), "").await;
        assert_eq!(status, 200);
        let (status, body, _) = send("GET", &format!("{info},username"), &[bearer], "").await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (401, &json!("scope_not_authorized"))
        );
    }
}
