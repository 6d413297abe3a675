//! The social connection endpoints:
//! - `GET /v1/oauth/{platform}/start` (owner/admin of the team): stores a single-use state
//!   (SHA-256 only), bound to the user, team, platform, return address, PKCE verifier and the
//!   client that started (a random binding, SHA-256 only), and answers the platform's
//!   authorize URL (`?mode=redirect`: a 302 to it, the binding in a `__Host-` cookie; JSON
//!   mode: the binding in the body, for the app to complete with);
//! - `GET /v1/oauth/{platform}/callback` (no token: the browser comes back from the platform):
//!   consumes the state; a cookie-bound flow in the browser holding the cookie exchanges the
//!   code, reads the account, seals the tokens, saves the connection and sends the browser
//!   back with `connection_status=success|error`; an app-bound flow parks the code and sends
//!   the browser back with `connection_status=confirm&confirmation=…`;
//! - `POST /v1/oauth/{platform}/complete` (the user who started, with the binding and the
//!   confirmation): connects the parked authorization. So a started flow's link, sent to
//!   someone else, cannot connect their account to the sender's team;
//! - `POST /v1/connections/{id}/verify` and `GET /v1/connections/{id}/creator-info` (TikTok)
//!   (team member), `DELETE /v1/connections/{id}` (owner, admin, or the member who connected it);
//! - `POST /v1/cron/tokens/refresh` and `/v1/cron/tokens/reencrypt` (the cron secret).

use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::auth::Cron;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::cx::Cx;
use crate::http::extract::{invalid, Query};
use crate::http::spelling::{renamed, TEAM_FIELD};
use crate::http::{Request, Response};
use crate::ids::{Connection, ConnectionId, TeamId};
use crate::infra::clock::Clock;
use crate::infra::outbound::rewrite;
use crate::platforms;
use crate::social::failure::SocialFailure;
use crate::social::pkce::{challenge, random_token, state_hash};
use crate::social::store::{
    self, Access, ConsumedState, NewConnection, Pending, StateCreation, StoredConnection,
    TakenConfirmation,
};
use crate::social::tokens::{self, key_ring, seal_tokens};
use crate::social::transport::Transport;
use crate::social::{Grant, Platform, SocialError};
use crate::valid::Text;

/// How long a started authorization stays valid (the database's default).
const STATE_TTL_SECONDS: u32 = 600;

/// The cookie holding a redirect-mode flow's binding, one per platform so that two flows in one
/// browser do not overwrite each other's. `__Host-`: only this origin, Secure, path `/`.
fn binding_cookie(platform: Platform) -> String {
    format!("__Host-pixa_oauth_{}", platform.as_str())
}

/// The value of cookie `name` in the request's `Cookie` header.
fn cookie<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers
        .get("cookie")?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn platform(name: &str) -> Result<Platform, ApiError> {
    Platform::parse(name).ok_or_else(|| SocialFailure::UnknownPlatform.into())
}

/// `{PUBLIC_BASE_URL}/v1/oauth/{platform}/callback` (in development, the request's origin when
/// unset): registered with each platform as the redirect URI.
fn callback_url(
    config: &Config,
    platform: Platform,
    request: &Request,
) -> Result<String, SocialFailure> {
    let base = config
        .social
        .callback_base(request.headers.get("host"))
        .ok_or_else(|| SocialFailure::NotConfigured("PUBLIC_BASE_URL is not configured".into()))?;
    Ok(format!("{base}/v1/oauth/{}/callback", platform.as_str()))
}

fn credentials(
    config: &Config,
    platform: Platform,
) -> Result<crate::social::Credentials, SocialFailure> {
    config
        .social
        .credentials(platform)
        .map_err(|missing| SocialFailure::NotConfigured(format!("{missing} is not configured")))
}

pub async fn start(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, ..) = cx.parts();
    let platform_name = cx.param("platform");
    let platform = platform(platform_name)?;
    let query = Query::of(request);
    let team_id = query
        .get(TEAM_FIELD)
        .and_then(|id| id.parse::<TeamId>().ok())
        .ok_or_else(|| invalid(TEAM_FIELD, "must be a team id (UUID)"))?;
    renamed(
        query.get("redirect_to").is_some(),
        "redirect_to",
        "redirectTo",
    )?;
    let redirect_to = query
        .get("redirectTo")
        .ok_or_else(|| invalid("redirectTo", "is required"))?;
    let redirect_to = config
        .social
        .redirect_allowlist
        .check(redirect_to)
        .ok_or(SocialFailure::RedirectNotAllowed)?;
    let redirect_mode = match query.get("mode") {
        None | Some("json") => false,
        Some("redirect") => true,
        Some(_) => return Err(invalid("mode", "must be `json` or `redirect`")),
    };
    let credentials = credentials(config, platform)?;
    key_ring(config)?;

    let state = random_token();
    let verifier = random_token();
    let binding = random_token();
    let created = store::create_state(
        config,
        json!({"user_id": caller.user.id.as_str(), "team_id": team_id, "platform": platform,
               "state_hash": state_hash(&state), "redirect_to": redirect_to, "code_verifier": verifier,
               "binding_hash": state_hash(&binding),
               "binding_kind": if redirect_mode { "cookie" } else { "app" }}),
    )
    .await?;
    if let StateCreation::Refused(refusal) = created {
        let not_found = ApiError::Upstream("create_oauth_state answered not_found".into());
        return Err(refusal.into_error(not_found));
    }
    let authorize_url = platform.api().authorize_url(
        &credentials,
        &callback_url(config, platform, request)?,
        &state,
        &challenge(&verifier),
    );
    let authorize_url = rewrite(&authorize_url, config.social.api_origin_override.as_deref());
    let response = if redirect_mode {
        let body = json!({"authorizeUrl": authorize_url, "expiresIn": STATE_TTL_SECONDS});
        let cookie = format!(
            "{}={binding}; Max-Age={STATE_TTL_SECONDS}; Path=/; Secure; HttpOnly; SameSite=Lax",
            binding_cookie(platform)
        );
        Response::json(302, &body)
            .with_header("location", authorize_url)
            .with_header("set-cookie", cookie)
    } else {
        let body = json!({"authorizeUrl": authorize_url, "expiresIn": STATE_TTL_SECONDS,
                          "binding": binding});
        Response::json(200, &body)
    };
    Ok(response.with_header("cache-control", "no-store"))
}

/// `redirect_to` with the outcome appended to its query.
fn outcome_url(redirect_to: &str, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_to) else {
        return redirect_to.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
    }
    url.into()
}

fn redirect_error(
    redirect_to: &str,
    platform: Platform,
    reason: &'static str,
    cause: Option<String>,
) -> ApiError {
    let location = outcome_url(
        redirect_to,
        &[
            ("connection_status", "error"),
            ("platform", platform.as_str()),
            ("reason", reason),
        ],
    );
    ApiError::Social(SocialFailure::Redirected { location, reason }, cause)
}

pub async fn callback(cx: &Cx<'_, ()>) -> Result<Response, ApiError> {
    let (config, _, request, clock) = cx.parts();
    let platform_name = cx.param("platform");
    let platform = platform(platform_name)?;
    let query = Query::of(request);
    let state = query
        .get("state")
        .filter(|state| state.len() <= 200)
        .ok_or(SocialFailure::StateInvalid)?;
    // The code is parked for an app-bound flow (not when the platform reported an error).
    let code = query
        .get("code")
        .filter(|code| code.len() <= 2000 && query.get("error").is_none());
    let confirmation = random_token();
    let cookie_binding = cookie(request, &binding_cookie(platform));
    let consumed = store::consume_state(
        config,
        json!({"state_hash": state_hash(state), "platform": platform,
               "binding_hash": cookie_binding.map(state_hash), "authorization_code": code,
               "confirmation_hash": state_hash(&confirmation)}),
    )
    .await?;
    let (redirect_to, pending) = match consumed {
        ConsumedState::Valid {
            redirect_to,
            pending,
        } => (redirect_to, pending),
        ConsumedState::Forbidden { redirect_to } => {
            return Err(redirect_error(&redirect_to, platform, "forbidden", None))
        }
        ConsumedState::BrowserMismatch { redirect_to } => {
            let cause = "the callback came without the starting browser's binding cookie";
            return Err(redirect_error(
                &redirect_to,
                platform,
                "oauth_browser_mismatch",
                Some(cause.into()),
            ));
        }
        ConsumedState::Confirm { redirect_to } => {
            let location = outcome_url(
                &redirect_to,
                &[
                    ("connection_status", "confirm"),
                    ("platform", platform.as_str()),
                    ("confirmation", &confirmation),
                ],
            );
            return Ok(Response::json(302, &json!({"status": "confirm"}))
                .with_header("location", location)
                .with_header("cache-control", "no-store"));
        }
        ConsumedState::Invalid => return Err(SocialFailure::StateInvalid.into()),
    };
    let redirect_to = redirect_to.as_str();
    if let Some(error) = query.get("error") {
        let reason = if error == "access_denied" {
            "access_denied"
        } else {
            "authorization_failed"
        };
        let cause = format!(
            "{} authorization error {}",
            platform.as_str(),
            error.chars().take(60).collect::<String>()
        );
        return Err(redirect_error(redirect_to, platform, reason, Some(cause)));
    }
    let Some(code) = code else {
        return Err(redirect_error(
            redirect_to,
            platform,
            "invalid_callback",
            None,
        ));
    };
    match connect(config, clock, platform, request, code, &pending).await {
        Ok(connection_id) => {
            let location = outcome_url(
                redirect_to,
                &[
                    ("connection_status", "success"),
                    ("platform", platform.as_str()),
                    ("connection_id", &connection_id),
                ],
            );
            Ok(Response::json(302, &json!({"connectionId": connection_id}))
                .with_header("location", location)
                .with_header("cache-control", "no-store")
                .with_header("set-cookie", expired_cookie(platform)))
        }
        Err((reason, cause)) => Err(redirect_error(redirect_to, platform, reason, Some(cause))),
    }
}

/// Clears the binding cookie once its flow is done.
fn expired_cookie(platform: Platform) -> String {
    format!(
        "{}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax",
        binding_cookie(platform)
    )
}

/// `POST /v1/oauth/{platform}/complete` `{"confirmation", "binding"}`: the app that started an
/// app-bound flow (same user, its binding) connects what the callback parked. Failures are
/// JSON errors with the callback's reasons as codes.
pub async fn complete(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, request, clock) = cx.parts();
    let platform_name = cx.param("platform");
    let platform = platform(platform_name)?;
    #[derive(Deserialize)]
    struct CompleteRequest {
        confirmation: Text<200>,
        binding: Text<200>,
    }
    let CompleteRequest {
        confirmation,
        binding,
    } = cx.body()?;
    let taken = store::take_confirmation(
        config,
        json!({"confirmation_hash": state_hash(&confirmation), "binding_hash": state_hash(&binding),
               "user_id": caller.user.id.as_str(), "platform": platform}),
    )
    .await?;
    let (code, pending) = match taken {
        TakenConfirmation::Valid {
            authorization_code,
            pending,
        } => (authorization_code, pending),
        TakenConfirmation::Forbidden => return Err(ApiError::Forbidden),
        TakenConfirmation::Invalid => return Err(SocialFailure::StateInvalid.into()),
    };
    let connection_id = connect(config, clock, platform, request, &code, &pending)
        .await
        .map_err(|(reason, cause)| {
            ApiError::Social(SocialFailure::NotConnected(reason), Some(cause))
        })?;
    Ok(Response::json(
        200,
        &json!({"connectionId": connection_id, "platform": platform}),
    ))
}

/// Exchanges the code, finds the account and saves the connection: its id, or the reason
/// (for the app) and cause (for the log) it failed.
async fn connect(
    config: &Config,
    clock: &dyn Clock,
    platform: Platform,
    request: &Request,
    code: &str,
    pending: &Pending,
) -> Result<String, (&'static str, String)> {
    let not_configured = |failure: SocialFailure| {
        let cause = failure.cause().unwrap_or_default().to_owned();
        ("platform_not_configured", cause)
    };
    let credentials = credentials(config, platform).map_err(not_configured)?;
    let ring = key_ring(config).map_err(not_configured)?;
    let api = platform.api();
    let transport = Transport::new(config.social.api_origin_override.as_deref(), clock);
    let exchange_failed = |error: SocialError| ("token_exchange_failed", error.cause().to_owned());

    let redirect_uri = callback_url(config, platform, request).map_err(not_configured)?;
    let call = api.token_call(
        &credentials,
        &Grant::Code {
            code,
            redirect_uri: &redirect_uri,
            verifier: Some(&pending.code_verifier),
        },
    );
    let reply = transport.send(&call).await.map_err(exchange_failed)?;
    let mut tokens = api.parse_token(&reply).map_err(exchange_failed)?;
    if let Some(followup) = api.token_followup(&credentials, &tokens) {
        let reply = transport.send(&followup).await.map_err(exchange_failed)?;
        let scopes = tokens.scopes.take();
        tokens = api.parse_token(&reply).map_err(exchange_failed)?;
        tokens.scopes = tokens.scopes.take().or(scopes);
    }
    let account_failed = |error: SocialError| match error {
        SocialError::NoAccount(cause) => ("no_account", cause),
        other => ("account_unavailable", other.cause().to_owned()),
    };
    let reply = transport
        .send(&api.discovery_call(&tokens.access_token))
        .await
        .map_err(account_failed)?;
    let account = api.parse_discovery(&reply).map_err(account_failed)?;

    // A Page token acts for the account and does not expire; the user's token is kept for
    // revocation only.
    let (access, refresh, expires_in, refresh_expires_in) = match &account.account_token {
        Some(page_token) => (
            page_token.as_str(),
            Some(tokens.access_token.as_str()),
            None,
            None,
        ),
        None => (
            tokens.access_token.as_str(),
            tokens.refresh_token.as_deref(),
            tokens.expires_in.or(api.spec().default_access_lifetime),
            tokens.refresh_expires_in,
        ),
    };
    let server_error = |error: ApiError| {
        let cause = error.cause().unwrap_or(error.code()).to_owned();
        ("server_error", cause)
    };
    let connection_id =
        store::connection_id(config, &pending.team_id, platform, &account.external_id)
            .await
            .map_err(server_error)?;
    let sealed = seal_tokens(ring, &connection_id, platform, access, refresh);
    let scopes = tokens
        .scopes
        .clone()
        .unwrap_or_else(|| api.spec().scopes.iter().map(|s| s.to_string()).collect());
    let connection = NewConnection {
        id: &connection_id,
        pending,
        platform,
        account: &account,
        scopes: &scopes,
        sealed: &sealed,
        access_token_expires_in: expires_in,
        refresh_token_expires_in: refresh_expires_in,
    };
    store::save_connection(config, &connection)
        .await
        .map_err(server_error)?;
    Ok(connection_id)
}

/// The connection a route's path names; an id that cannot name one is answered as an unknown
/// connection.
fn connection_id(cx: &Cx<'_, Caller>) -> Result<ConnectionId, ApiError> {
    cx.id::<Connection>("connection_id")
        .ok_or_else(|| SocialFailure::ConnectionNotFound.into())
}

pub async fn verify(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, _, clock) = cx.parts();
    let id = connection_id(cx)?;
    let id = id.as_str();
    store::take_verify_limit(config, caller.user.id.as_str()).await?;
    let (connection, account) =
        tokens::verify(config, clock, id, Access::Use(caller.user.id.as_str())).await?;
    let mut body = connection.public();
    body["verified"] = json!(true);
    body["profile"] = json!({"externalAccountId": account.external_id,
        "displayName": account.display_name, "handle": account.handle, "avatarUrl": account.avatar_url});
    Ok(Response::json(200, &body))
}

/// `GET /v1/connections/{id}/creator-info`: what TikTok lets the connected creator post now
/// (`creator_info`), so the app offers only the creator's privacy levels.
pub async fn creator_info(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, _, clock) = cx.parts();
    let id = connection_id(cx)?;
    store::take_verify_limit(config, caller.user.id.as_str()).await?;
    let (_, info) = tokens::ask_platform(
        config,
        clock,
        id.as_str(),
        Access::Use(caller.user.id.as_str()),
        |connection, token| match platforms::parts(connection.platform).creator_info {
            Some(creator_info) => Ok((creator_info.call)(token)),
            None => Err(invalid("connection_id", "is not a TikTok account")),
        },
        |connection, reply| match platforms::parts(connection.platform).creator_info {
            Some(creator_info) => (creator_info.read)(reply),
            // Not asked of such a platform: the call above refused it.
            None => Err(SocialError::Rejected("no creator_info".into())),
        },
    )
    .await?;
    Ok(Response::json(200, &info))
}

pub async fn delete(cx: &Cx<'_, Caller>) -> Result<Response, ApiError> {
    let (config, caller, _, clock) = cx.parts();
    let id = connection_id(cx)?;
    let id = id.as_str();
    let connection = store::connection(config, id, Access::Remove(caller.user.id.as_str())).await?;
    // Deleted first: if the delete is refused (a post is going out with it right now), the
    // platform's grant is still intact.
    if !store::delete_connection(config, id).await? {
        return Err(SocialFailure::ConnectionNotFound.into());
    }
    let revocation = revoke(config, clock, &connection).await;
    Ok(Response::json(
        200,
        &json!({"id": id, "deleted": true, "revocation": revocation}),
    ))
}

/// Revokes the grant at the platform, best effort: `revoked`, `unsupported` (LinkedIn,
/// Pinterest), or `failed` (the platform refused or could not be reached; the connection is
/// deleted already, and the user can remove the app in the platform's settings).
async fn revoke(config: &Config, clock: &dyn Clock, connection: &StoredConnection) -> &'static str {
    let (Ok(credentials), Ok(ring)) = (credentials(config, connection.platform), key_ring(config))
    else {
        return "failed";
    };
    let Ok((access, refresh)) = tokens::open_tokens(ring, connection) else {
        return "failed";
    };
    let Some(call) =
        connection
            .platform
            .api()
            .revoke_call(&credentials, &access, refresh.as_deref())
    else {
        return "unsupported";
    };
    let transport = Transport::new(config.social.api_origin_override.as_deref(), clock);
    match transport.send(&call).await {
        Ok(reply) if reply.succeeded() => "revoked",
        _ => "failed",
    }
}

pub async fn cron_refresh(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let (config, _, _, clock) = cx.parts();
    Ok(Response::json(
        200,
        &tokens::refresh_due(config, clock).await?,
    ))
}

/// Re-seals the social tokens, then the stored AI provider keys (`aiKeys`).
pub async fn cron_reencrypt(cx: &Cx<'_, Cron>) -> Result<Response, ApiError> {
    let config = cx.config;
    let mut report = tokens::reseal_batch(config).await?;
    report["aiKeys"] = crate::ai::reseal::reseal_keys(config).await?;
    Ok(Response::json(200, &report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn outcomes_are_appended_to_the_return_address() {
        assert_eq!(
            outcome_url(
                "https://app.example/settings?tab=social#x",
                &[("connection_status", "error"), ("reason", "access_denied")]
            ),
            "https://app.example/settings?tab=social&connection_status=error&reason=access_denied#x"
        );
    }

    use crate::config::tests::config_from;
    use crate::http::Headers;
    use crate::infra::clock::SystemClock;

    /// Through the whole pipeline, with a database that cannot be reached: what is decided
    /// before any database call.
    async fn send(
        method: &str,
        path: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> crate::Handled {
        let config = config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
            ("CRON_SECRET", "cron-secret-of-at-least-thirty-two-bytes"),
        ]);
        let request = Request {
            method: method.into(),
            path: path.into(),
            query: Some(query.into()),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Headers>(),
            body: Vec::new(),
        };
        crate::handle(request, &config, &SystemClock).await
    }

    fn code(handled: &crate::Handled) -> String {
        let body: Value = serde_json::from_str(&handled.response.body_text()).unwrap();
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn a_callback_without_a_state_is_a_json_400_without_redirect() {
        // "zz-code" cannot occur in the log's hex request id, unlike a hex-like marker.
        for query in [
            "code=zz-code",
            "state=&code=zz-code",
            &format!("state={}&code=zz-code", "a".repeat(201)),
        ] {
            let handled = send("GET", "/v1/oauth/x/callback", query, &[]).await;
            assert_eq!(handled.response.status, 400, "{query}");
            assert_eq!(code(&handled), "oauth_state_invalid");
            assert_eq!(handled.response.header("location"), None);
            assert!(
                !handled.log_line.contains("zz-code"),
                "the query is never logged"
            );
        }
        let handled = send("GET", "/v1/oauth/myspace/callback", "state=s&code=c", &[]).await;
        assert_eq!(
            (handled.response.status, code(&handled)),
            (404, "unknown_platform".into())
        );
    }

    #[tokio::test]
    async fn start_verify_and_delete_need_a_token_and_cron_jobs_the_secret() {
        for (method, path) in [
            ("GET", "/v1/oauth/x/start"),
            (
                "POST",
                "/v1/connections/11111111-1111-4111-8111-111111111111/verify",
            ),
            (
                "DELETE",
                "/v1/connections/11111111-1111-4111-8111-111111111111",
            ),
        ] {
            let handled = send(method, path, "", &[]).await;
            assert_eq!(
                (handled.response.status, code(&handled)),
                (401, "missing_token".into())
            );
        }
        for path in ["/v1/cron/tokens/refresh", "/v1/cron/tokens/reencrypt"] {
            let handled = send("POST", path, "", &[("authorization", "Bearer wrong")]).await;
            assert_eq!(
                (handled.response.status, code(&handled)),
                (403, "forbidden".into())
            );
        }
    }

    #[tokio::test]
    async fn start_checks_the_return_address_then_the_platform_configuration() {
        use crate::test_support::{hs256_token, user_claims, HS_SECRET};
        let config = config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
            ("SUPABASE_JWT_SECRET", HS_SECRET),
            ("OAUTH_REDIRECT_ALLOWLIST", "https://app.pixa.example/"),
            (
                "SOCIAL_TOKEN_ENCRYPTION_KEYS",
                "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ]);
        let mut claims = user_claims();
        claims["iss"] = "http://127.0.0.1:1/auth/v1".into();
        claims["iat"] = SystemClock.unix_seconds().into();
        claims["exp"] = (SystemClock.unix_seconds() + 600).into();
        let authorization = format!("Bearer {}", hs256_token(HS_SECRET, None, &claims));
        let start = |query: String| {
            let request = Request {
                method: "GET".into(),
                path: "/v1/oauth/x/start".into(),
                query: Some(query),
                headers: [("authorization".to_owned(), authorization.clone())]
                    .into_iter()
                    .collect(),
                body: Vec::new(),
            };
            let config = &config;
            async move { crate::handle(request, config, &SystemClock).await }
        };
        let team = "teamId=11111111-1111-4111-8111-111111111111";
        for old_spelling in [
            "team_id=11111111-1111-4111-8111-111111111111&redirectTo=https%3A%2F%2Fapp.pixa.example%2Fs",
            "teamId=11111111-1111-4111-8111-111111111111&redirect_to=https%3A%2F%2Fapp.pixa.example%2Fs",
        ] {
            let handled = start(old_spelling.to_owned()).await;
            let body: Value = serde_json::from_str(&handled.response.body_text()).unwrap();
            assert_eq!(handled.response.status, 400, "{old_spelling}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|message| message.contains("is spelled")),
                "{body}"
            );
        }
        let handled = start(format!("{team}&redirectTo=https%3A%2F%2Fevil.example%2F")).await;
        assert_eq!(
            (handled.response.status, code(&handled)),
            (400, "redirect_not_allowed".into())
        );
        let handled = start(format!(
            "{team}&redirectTo=https%3A%2F%2Fapp.pixa.example%2Fs"
        ))
        .await;
        assert_eq!(
            (handled.response.status, code(&handled)),
            (503, "platform_not_configured".into())
        );
        assert!(handled.log_line.contains("X_CLIENT_ID is not configured"));
        let handled = start("redirect_to=https%3A%2F%2Fapp.pixa.example%2F".into()).await;
        assert_eq!(
            (handled.response.status, code(&handled)),
            (400, "invalid_request".into())
        );
    }

    #[test]
    fn the_callback_url_is_the_public_base_or_in_development_the_request_origin() {
        let request = |host: &str| Request {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: [("host".to_owned(), host.to_owned())].into_iter().collect(),
            body: Vec::new(),
        };
        let base = [
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "a"),
            ("SUPABASE_SERVICE_ROLE_KEY", "s"),
        ];
        let production = config_from(&base).unwrap();
        assert!(matches!(
            callback_url(&production, Platform::X, &request("evil.example")),
            Err(SocialFailure::NotConfigured(_))
        ));
        let mut development = base.to_vec();
        development.push(("ENVIRONMENT", "development"));
        let config = config_from(&development).unwrap();
        assert_eq!(
            callback_url(&config, Platform::Tiktok, &request("127.0.0.1:8787")).unwrap(),
            "http://127.0.0.1:8787/v1/oauth/tiktok/callback"
        );
        let mut with_base = base.to_vec();
        with_base.push(("PUBLIC_BASE_URL", "https://edge.pixa.example/"));
        let config = config_from(&with_base).unwrap();
        assert_eq!(
            callback_url(&config, Platform::Youtube, &request("evil.example")).unwrap(),
            "https://edge.pixa.example/v1/oauth/youtube/callback"
        );
    }

    #[test]
    fn the_binding_cookie_is_read_by_its_platform_name() {
        let request = Request {
            method: "GET".into(),
            path: "/".into(),
            query: None,
            headers: [(
                "cookie".to_owned(),
                "a=1; __Host-pixa_oauth_x=bound-x;__Host-pixa_oauth_tiktok=bound-t".to_owned(),
            )]
            .into_iter()
            .collect(),
            body: Vec::new(),
        };
        assert_eq!(
            cookie(&request, &binding_cookie(Platform::X)),
            Some("bound-x")
        );
        assert_eq!(
            cookie(&request, &binding_cookie(Platform::Tiktok)),
            Some("bound-t")
        );
        assert_eq!(cookie(&request, &binding_cookie(Platform::Youtube)), None);
    }

    #[test]
    fn redirect_errors_are_302s_with_the_reason_as_code() {
        let error = redirect_error("https://app.example/s", Platform::X, "access_denied", None);
        let response = error.to_response();
        assert_eq!(response.status, 302);
        assert_eq!(error.code(), "access_denied");
        assert_eq!(
            response.header("location"),
            Some("https://app.example/s?connection_status=error&platform=x&reason=access_denied")
        );
    }
}
