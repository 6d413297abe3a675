//! pixa-edge: the Cloudflare Worker. Everything but `wasm.rs` is platform-neutral and tested
//! on the host; `handle` is the whole request pipeline.

pub mod ai;
pub mod auth;
pub mod config;
pub mod error;
#[cfg(target_arch = "wasm32")]
mod glue;
pub mod http;
pub mod ids;
pub mod infra;
pub mod jobs;
pub mod ops;
pub mod platforms;
#[cfg(test)]
mod proptests;
pub mod publishing;
pub mod routes;
pub mod scheduled;
pub mod scope;
pub mod social;
pub mod teams;
#[cfg(test)]
mod test_support;
pub mod valid;
#[cfg(target_arch = "wasm32")]
mod wasm;

use auth::UserId;
use config::{Config, ConfigError};
use error::ApiError;
use http::cors;
use http::cx::Cx;
use http::router::{self, Auth, Resolution};
use http::{Request, Response, UnreadBody};
use infra::clock::Clock;
use infra::observability::{RequestId, RequestLog};
use routes::{OPENAI_COMPATIBLE, ROUTES};
use scope::{Background, Scope};

/// A response plus the request's log line and those its work added, which the platform glue
/// writes out, and the work it must keep running after the response (`waitUntil`).
pub struct Handled {
    pub response: Response,
    pub log_line: String,
    pub more_log_lines: Vec<String>,
    pub deferred: Vec<Background>,
}

/// Serves one request whose body is already in memory; it is held to its route's limit as an
/// unread one would be.
pub async fn handle(
    mut request: Request,
    config: &Result<Config, ConfigError>,
    clock: &dyn Clock,
) -> Handled {
    let body = std::mem::take(&mut request.body);
    handle_unread(request, body, config, clock).await
}

/// Serves one request, reading its body only once routing has found the endpoint, within that
/// endpoint's limit. `config` is an error when the deployment lacks settings; only the routes
/// that need them fail then, so `/healthz` keeps answering.
pub async fn handle_unread(
    mut request: Request,
    body: impl UnreadBody,
    config: &Result<Config, ConfigError>,
    clock: &dyn Clock,
) -> Handled {
    let scope = Scope::new(clock);
    let started_ms = clock.unix_millis();
    let request_id = RequestId::from_headers(&request.headers);
    let resolution = router::resolve(ROUTES, &request.method, &request.path);
    let route = match &resolution {
        Resolution::Matched(route) => Some(route.template),
        Resolution::MethodNotAllowed { template, .. } => Some(*template),
        Resolution::NotFound => None,
    };

    let mut user_id = None;
    let origins = config.as_ref().ok().map(|config| &config.cors);
    let outcome = match cors::preflight(&request, &resolution, origins) {
        Some(answer) => answer,
        None => match read_body(&resolution, &request, body).await {
            Ok(bytes) => {
                request.body = bytes;
                dispatch(resolution, &request, config, &scope, &mut user_id).await
            }
            Err(error) => Err(error),
        },
    };
    let (response, error) = match outcome {
        Ok(response) => (response, None),
        Err(error) if route.is_some_and(|route| OPENAI_COMPATIBLE.contains(&route)) => {
            (error.to_openai_response(), Some(error))
        }
        Err(error) => (error.to_response(), Some(error)),
    };
    let duration_ms = clock.unix_millis() - started_ms;
    let response = scope
        .headers()
        .into_iter()
        .fold(response, |response, (name, value)| {
            response.with_header(name, value)
        });
    let response = cors::decorate(response, &request.headers, origins)
        .with_header(RequestId::HEADER, request_id.as_str())
        .with_header("Server-Timing", scope.server_timing(duration_ms));

    let log_line = RequestLog {
        request_id: &request_id,
        method: &request.method,
        route,
        status: response.status,
        duration_ms,
        user_id: user_id.as_ref().map(UserId::as_str),
        error_code: error.as_ref().map(ApiError::code),
        cause: error.as_ref().and_then(ApiError::cause),
    }
    .to_json_line();
    let (more_log_lines, deferred) = scope.into_after();
    Handled {
        response,
        log_line,
        more_log_lines,
        deferred,
    }
}

/// The body of a routed request, within its endpoint's limit; nothing is read for a path or
/// method no endpoint serves.
async fn read_body(
    resolution: &Resolution,
    request: &Request,
    body: impl UnreadBody,
) -> Result<Vec<u8>, ApiError> {
    let Resolution::Matched(route) = resolution else {
        return Ok(Vec::new());
    };
    request.declared_length_fits(route.max_body)?;
    Ok(body.read(route.max_body).await?)
}

/// Runs the matched endpoint once its route's caller is admitted; records the caller's id in
/// `user_id` once authenticated.
async fn dispatch(
    resolution: Resolution,
    request: &Request,
    config: &Result<Config, ConfigError>,
    scope: &Scope<'_>,
    user_id: &mut Option<UserId>,
) -> Result<Response, ApiError> {
    let route = match resolution {
        Resolution::Matched(route) => route,
        Resolution::MethodNotAllowed { allowed, .. } => {
            return Err(ApiError::MethodNotAllowed { allowed })
        }
        Resolution::NotFound => return Err(ApiError::NotFound),
    };
    let configured = || {
        config
            .as_ref()
            .map_err(|error| ApiError::Misconfigured(error.to_string()))
    };
    match route.auth {
        Auth::Always(answer) => Ok(answer()),
        Auth::Public(handler) => handler(&Cx::new(configured()?, request, scope, route, ())).await,
        Auth::Cron(handler) => {
            let config = configured()?;
            let cron = auth::cron::check(config.cron_secret.as_ref(), &request.headers)?;
            handler(&Cx::new(config, request, scope, route, cron)).await
        }
        Auth::User(handler) => {
            let config = configured()?;
            let now = scope.unix_seconds();
            let authenticating = auth::authenticate(&request.headers, config, now);
            let caller = scope.timed("auth", authenticating).await?;
            *user_id = Some(caller.user.id.clone());
            http::spelling::check_team_id(route.team_id, request)?;
            handler(&Cx::new(config, request, scope, route, caller)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::config_from;
    use crate::http::{Body, Headers};
    use crate::infra::clock::SystemClock;

    fn unreachable_supabase() -> Result<Config, ConfigError> {
        config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
        ])
    }

    fn request(method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Request {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (path_and_query, None),
        };
        Request {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            headers: headers
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect::<Headers>(),
            body: Vec::new(),
        }
    }

    async fn send(
        request: Request,
        config: &Result<Config, ConfigError>,
    ) -> (Handled, serde_json::Value) {
        let handled = handle(request, config, &SystemClock).await;
        let Body::Bytes(bytes) = &handled.response.body else {
            panic!("a whole body")
        };
        let body = serde_json::from_slice(bytes).expect("JSON body");
        (handled, body)
    }

    fn log_fields(handled: &Handled) -> serde_json::Value {
        serde_json::from_str(&handled.log_line).expect("log line is JSON")
    }

    #[tokio::test]
    async fn healthz_answers_even_without_configuration() {
        let (handled, body) = send(
            request("GET", "/healthz", &[]),
            &Err(ConfigError::Missing("SUPABASE_URL")),
        )
        .await;
        assert_eq!(handled.response.status, 200);
        assert_eq!(body, serde_json::json!({"status": "ok"}));
    }

    #[tokio::test]
    async fn readyz_reports_an_unreachable_database_without_leaking_it() {
        let (handled, body) = send(request("GET", "/readyz", &[]), &unreachable_supabase()).await;
        assert_eq!(handled.response.status, 503);
        assert_eq!(body["error"]["code"], "database_unavailable");
        assert!(!body.to_string().contains("127.0.0.1"));
        let log = log_fields(&handled);
        assert_eq!(log["level"], "error");
        assert!(log["cause"].as_str().unwrap().contains("unreachable"));
    }

    #[tokio::test]
    async fn me_requires_a_token() {
        let (handled, body) = send(request("GET", "/v1/me", &[]), &unreachable_supabase()).await;
        assert_eq!(handled.response.status, 401);
        assert_eq!(body["error"]["code"], "missing_token");
        assert_eq!(handled.response.header("www-authenticate"), Some("Bearer"));
    }

    #[tokio::test]
    async fn misconfiguration_is_a_500_with_the_cause_only_in_the_log() {
        let config = Err(ConfigError::Missing("SUPABASE_ANON_KEY"));
        let (handled, body) = send(request("GET", "/readyz", &[]), &config).await;
        assert_eq!(handled.response.status, 500);
        assert_eq!(body["error"]["code"], "server_misconfigured");
        assert!(!body.to_string().contains("SUPABASE_ANON_KEY"));
        assert_eq!(
            log_fields(&handled)["cause"],
            "SUPABASE_ANON_KEY is not configured"
        );
    }

    #[tokio::test]
    async fn unknown_paths_and_wrong_methods() {
        let (not_found, body) =
            send(request("GET", "/v2/nothing", &[]), &unreachable_supabase()).await;
        assert_eq!(
            (not_found.response.status, &body["error"]["code"]),
            (404, &"not_found".into())
        );
        assert_eq!(log_fields(&not_found)["route"], serde_json::Value::Null);

        let (wrong_method, body) =
            send(request("DELETE", "/healthz", &[]), &unreachable_supabase()).await;
        assert_eq!(wrong_method.response.status, 405);
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert_eq!(wrong_method.response.header("allow"), Some("GET"));
        assert_eq!(log_fields(&wrong_method)["route"], "/healthz");
    }

    #[tokio::test]
    async fn the_openai_compatible_routes_answer_errors_in_openais_shape() {
        for (method, path) in [
            ("POST", "/v1/chat/completions"),
            ("GET", "/v1/models"),
            ("DELETE", "/v1/models"),
        ] {
            let (handled, body) = send(request(method, path, &[]), &unreachable_supabase()).await;
            let error = &body["error"];
            assert!(
                handled.response.status >= 400
                    && ["message", "type", "param", "code"]
                        .iter()
                        .all(|field| error.get(field).is_some()),
                "{method} {path}: {body}"
            );
        }
        let (_, body) = send(request("GET", "/v1/me", &[]), &unreachable_supabase()).await;
        assert!(body["error"].get("type").is_none(), "{body}");
    }

    #[tokio::test]
    async fn a_browser_preflight_is_answered_before_authentication_and_errors_stay_readable() {
        let config = config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.com"),
        ]);
        let preflight = request(
            "OPTIONS",
            "/v1/me",
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "authorization"),
            ],
        );
        let handled = handle(preflight, &config, &SystemClock).await;
        assert_eq!(handled.response.status, 204);
        let allow_origin = handled.response.header("access-control-allow-origin");
        assert_eq!(allow_origin, Some("https://app.example.com"));
        assert!(handled.response.header("x-request-id").is_some());

        let origin = [("origin", "https://app.example.com")];
        let (unauthenticated, body) = send(request("GET", "/v1/me", &origin), &config).await;
        assert_eq!(body["error"]["code"], "missing_token");
        let allow_origin = unauthenticated
            .response
            .header("access-control-allow-origin");
        assert_eq!(allow_origin, Some("https://app.example.com"));
        assert_eq!(unauthenticated.response.header("vary"), Some("Origin"));
    }

    fn with_body(mut request: Request, body: &[u8]) -> Request {
        request.body = body.to_vec();
        request
    }

    #[tokio::test]
    async fn a_body_over_the_routes_limit_is_a_413_before_authentication() {
        let limit = router::JSON_BODY;
        let oversized = with_body(
            request("POST", "/v1/ai/generate-text", &[]),
            &vec![b' '; limit + 1],
        );
        let (handled, body) = send(oversized, &unreachable_supabase()).await;
        assert_eq!(handled.response.status, 413);
        assert_eq!(body["error"]["code"], "payload_too_large");
        assert_eq!(body["error"]["maxBytes"], limit);

        let at_the_limit = with_body(
            request("POST", "/v1/ai/generate-text", &[]),
            &vec![b' '; limit],
        );
        let (handled, body) = send(at_the_limit, &unreachable_supabase()).await;
        assert_eq!(
            (handled.response.status, &body["error"]["code"]),
            (401, &"missing_token".into()),
            "read, then refused for want of a token"
        );

        let invitation = with_body(
            request("POST", "/v1/teams/t/invitations", &[]),
            &[b' '; router::INVITATION_BODY + 1],
        );
        let (handled, _) = send(invitation, &unreachable_supabase()).await;
        assert_eq!(handled.response.status, 413);

        let get_with_body = with_body(request("GET", "/healthz", &[]), b"x");
        assert_eq!(
            send(get_with_body, &unreachable_supabase())
                .await
                .0
                .response
                .status,
            413
        );
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_without_reading() {
        struct MustNotRead;
        impl UnreadBody for MustNotRead {
            async fn read(self, _limit: usize) -> Result<Vec<u8>, http::BodyError> {
                panic!("the body was read")
            }
        }
        for (method, path, length) in [
            ("POST", "/v1/jobs", "262145"),
            ("POST", "/v1/cron/publish", "1025"),
            ("POST", "/v1/ai/captions", "99999999999999999999"),
        ] {
            let request = request(method, path, &[("Content-Length", length)]);
            let handled =
                handle_unread(request, MustNotRead, &unreachable_supabase(), &SystemClock).await;
            assert_eq!(handled.response.status, 413, "{path} {length}");
            assert_eq!(log_fields(&handled)["error_code"], "payload_too_large");
        }
        for (method, path) in [
            ("POST", "/healthz/x"),
            ("POST", "/healthz"),
            ("BREW", "/v1/me"),
        ] {
            let request = request(method, path, &[("Content-Length", "5000000")]);
            let handled =
                handle_unread(request, MustNotRead, &unreachable_supabase(), &SystemClock).await;
            assert!(
                [404, 405].contains(&handled.response.status),
                "an unrouted body is never read: {method} {path}"
            );
        }
    }

    #[test]
    fn every_route_reading_a_body_has_room_for_one() {
        for route in ROUTES {
            let room = match route.template {
                "/v1/teams/{team_id}/invitations" => router::INVITATION_BODY,
                _ if route.method == http::Method::Get => router::NO_BODY,
                _ => continue,
            };
            assert_eq!(route.max_body, room, "{}", route.template);
        }
        assert!(ROUTES
            .iter()
            .all(|route| route.max_body <= router::JSON_BODY));
    }

    #[tokio::test]
    async fn every_cron_route_is_refused_without_the_cron_secret() {
        let config = config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
            ("CRON_SECRET", "cron-secret-of-at-least-thirty-two-bytes"),
        ]);
        let cron_routes = ROUTES.iter().filter(|route| {
            let cron = matches!(route.auth, Auth::Cron(_));
            assert_eq!(
                cron,
                route.template.starts_with("/v1/cron/") || route.template == "/readyz/deep",
                "{route:?}"
            );
            cron
        });
        for route in cron_routes {
            let wrong = [("Authorization", "Bearer not-the-cron-secret")];
            let attempt = request(route.method.as_str(), route.template, &wrong);
            let (handled, body) = send(attempt, &config).await;
            assert_eq!(handled.response.status, 403, "{route:?}");
            assert_eq!(body["error"]["code"], "forbidden");
        }
    }

    #[tokio::test]
    async fn serves_the_openapi_document() {
        let (handled, body) = send(
            request("GET", "/openapi.json", &[]),
            &unreachable_supabase(),
        )
        .await;
        assert_eq!(handled.response.status, 200);
        assert_eq!(
            handled.response.header("content-type"),
            Some("application/json")
        );
        assert!(body["paths"]["/v1/me"]["get"].is_object());
    }

    #[tokio::test]
    async fn every_response_carries_a_request_id() {
        let (echoed, _) = send(
            request("GET", "/healthz", &[("X-Request-Id", "trace-42")]),
            &unreachable_supabase(),
        )
        .await;
        assert_eq!(echoed.response.header("x-request-id"), Some("trace-42"));
        assert_eq!(log_fields(&echoed)["request_id"], "trace-42");

        let (generated, _) = send(
            request("GET", "/nope", &[("x-request-id", "bad id!")]),
            &unreachable_supabase(),
        )
        .await;
        let id = generated
            .response
            .header("x-request-id")
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 32);
        assert_eq!(log_fields(&generated)["request_id"], id.as_str());
    }

    #[tokio::test]
    async fn log_line_has_the_route_template_and_user_but_no_token_or_query() {
        use crate::test_support::{hs256_token, user_claims, HS_SECRET};
        let config = config_from(&[
            ("SUPABASE_URL", "http://127.0.0.1:1"),
            ("SUPABASE_ANON_KEY", "anon-key"),
            ("SUPABASE_SERVICE_ROLE_KEY", "service-role-key"),
            ("SUPABASE_JWT_SECRET", HS_SECRET),
        ]);
        let mut claims = user_claims();
        claims["iss"] = "http://127.0.0.1:1/auth/v1".into();
        claims["exp"] = (SystemClock.unix_seconds() + 600).into();
        claims["iat"] = SystemClock.unix_seconds().into();
        let token = hs256_token(HS_SECRET, None, &claims);
        let authorization = format!("Bearer {token}");
        let (handled, _) = send(
            request(
                "GET",
                "/v1/me?access_token=leaky-query",
                &[("Authorization", &authorization)],
            ),
            &config,
        )
        .await;
        assert_eq!(
            handled.response.status, 503,
            "authenticated, then the database is unreachable"
        );
        let line = &handled.log_line;
        for secret in [
            token.as_str(),
            "Bearer",
            "leaky-query",
            "service-role-key",
            "anon-key",
            HS_SECRET,
        ] {
            assert!(!line.contains(secret), "{secret} leaked into {line}");
        }
        let log = log_fields(&handled);
        for field in [
            "level",
            "msg",
            "request_id",
            "method",
            "route",
            "status",
            "duration_ms",
            "user_id",
        ] {
            assert!(log.get(field).is_some(), "missing {field} in {line}");
        }
        assert_eq!(log["route"], "/v1/me");
        assert_eq!(log["user_id"], claims["sub"]);
        assert!(log["duration_ms"].as_f64().unwrap() >= 0.0);
    }
}
