//! Routing: the `Route` an entry of the route table (`crate::routes::ROUTES`) is, and finding
//! the one a request names.

use std::future::Future;
use std::pin::Pin;

use super::cx::Cx;
use super::spelling::TeamIdIn;
use super::{Method, Response};
use crate::auth::{Caller, Cron};
use crate::error::ApiError;

/// What a handler answers with, boxed so that every handler has one type.
pub type Answer<'a> = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + 'a>>;

/// A handler of requests admitted as `Who`.
pub type Handler<Who> = for<'a> fn(&'a Cx<'a, Who>) -> Answer<'a>;

/// Who may call a route, with the handler that serves them: the router authenticates before
/// calling, so a handler cannot forget to.
#[derive(Clone, Copy)]
pub enum Auth {
    /// Anyone, and answered even when the deployment lacks settings (`/healthz`).
    Always(fn() -> Response),
    /// Anyone (a probe, or a browser coming back from a platform without our token).
    Public(Handler<()>),
    /// A signed-in user: `Authorization: Bearer <access token>`.
    User(Handler<Caller>),
    /// pg_cron, with `Authorization: Bearer <CRON_SECRET>`.
    Cron(Handler<Cron>),
}

/// `Auth::User(...)` for an `async fn(&Cx<Caller>)`; `public!` and `cron!` likewise.
#[macro_export]
macro_rules! user {
    ($handler:path) => {
        $crate::http::router::Auth::User(|cx| Box::pin($handler(cx)))
    };
}

#[macro_export]
macro_rules! public {
    ($handler:path) => {
        $crate::http::router::Auth::Public(|cx| Box::pin($handler(cx)))
    };
}

#[macro_export]
macro_rules! cron {
    ($handler:path) => {
        $crate::http::router::Auth::Cron(|cx| Box::pin($handler(cx)))
    };
}

pub struct Route {
    pub method: Method,
    /// The path template, as in the OpenAPI document and the request log.
    pub template: &'static str,
    /// The most body bytes this endpoint accepts: the worker refuses a larger body with 413
    /// before reading it (by `Content-Length`) or as soon as the read passes it (chunked).
    pub max_body: usize,
    pub auth: Auth,
    /// Where the route reads the team a request acts for; other spellings are refused.
    pub team_id: TeamIdIn,
}

impl Route {
    pub const fn new(method: Method, template: &'static str, max_body: usize, auth: Auth) -> Self {
        Self {
            method,
            template,
            max_body,
            auth,
            team_id: TeamIdIn::Nowhere,
        }
    }

    /// The route reads the team from the `x-team-id` header (the metered AI routes).
    pub const fn team_in_header(self) -> Self {
        Self {
            team_id: TeamIdIn::Header,
            ..self
        }
    }

    /// The route reads the team as `teamId` in its body or query.
    pub const fn team_in_fields(self) -> Self {
        Self {
            team_id: TeamIdIn::Field,
            ..self
        }
    }
}

/// A `GET` route: it reads no body.
pub const fn get(template: &'static str, auth: Auth) -> Route {
    Route::new(Method::Get, template, NO_BODY, auth)
}

pub const fn post(template: &'static str, max_body: usize, auth: Auth) -> Route {
    Route::new(Method::Post, template, max_body, auth)
}

pub const fn put(template: &'static str, max_body: usize, auth: Auth) -> Route {
    Route::new(Method::Put, template, max_body, auth)
}

pub const fn delete(template: &'static str, max_body: usize, auth: Auth) -> Route {
    Route::new(Method::Delete, template, max_body, auth)
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.template)
    }
}

/// A route is its method and path: the table lists each pair once.
impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        (self.method, self.template) == (other.method, other.template)
    }
}

/// The body limits, one per kind of endpoint: the only place a body's size is capped.
/// No GET endpoint reads a body.
pub const NO_BODY: usize = 0;
/// Endpoints that read no body still take the small one some clients always send (pg_net
/// posts `{}`).
pub const IGNORED_BODY: usize = 1024;
/// A JSON request: prompts, chat histories and drafts fit with room to spare.
pub const JSON_BODY: usize = 256 * 1024;
/// An invitation is an email address and a role.
pub const INVITATION_BODY: usize = 4 * 1024;

#[derive(Debug, PartialEq)]
pub enum Resolution {
    Matched(&'static Route),
    /// The path exists, with other methods.
    MethodNotAllowed {
        template: &'static str,
        allowed: Vec<&'static str>,
    },
    NotFound,
}

/// The route of `routes` that serves `method` on `path`.
pub fn resolve(routes: &'static [Route], method: &str, path: &str) -> Resolution {
    let method = Method::parse(method);
    let candidates: Vec<&'static Route> = routes
        .iter()
        .filter(|route| matches_template(route.template, path))
        .collect();
    let Some(first) = candidates.first() else {
        return Resolution::NotFound;
    };
    match candidates.iter().find(|route| Some(route.method) == method) {
        Some(route) => Resolution::Matched(route),
        None => Resolution::MethodNotAllowed {
            template: first.template,
            allowed: candidates
                .iter()
                .map(|route| route.method.as_str())
                .collect(),
        },
    }
}

/// Segment by segment; `{name}` matches one non-empty segment. A trailing slash is not the
/// same resource.
fn matches_template(template: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    template.split('/').all(|expected| match segments.next() {
        Some(actual) if expected.starts_with('{') => !actual.is_empty(),
        Some(actual) => actual == expected,
        None => false,
    }) && segments.next().is_none()
}

/// The value of `{name}` in `path`, which matched `template`.
pub fn path_param<'a>(template: &str, path: &'a str, name: &str) -> Option<&'a str> {
    let placeholder = format!("{{{name}}}");
    template
        .split('/')
        .zip(path.split('/'))
        .find_map(|(expected, actual)| (expected == placeholder).then_some(actual))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Response {
        Response::json(200, &serde_json::json!({}))
    }

    const ROUTES: &[Route] = &[
        get("/healthz", Auth::Always(ok)),
        get("/readyz", Auth::Always(ok)),
        get("/v1/me", Auth::Always(ok)),
    ];

    fn resolve(method: &str, path: &str) -> Resolution {
        super::resolve(ROUTES, method, path)
    }

    #[test]
    fn resolves_known_routes() {
        assert_eq!(resolve("GET", "/v1/me"), Resolution::Matched(&ROUTES[2]));
        assert_eq!(resolve("get", "/healthz"), Resolution::Matched(&ROUTES[0]));
    }

    #[test]
    fn distinguishes_unknown_paths_from_wrong_methods() {
        assert_eq!(resolve("GET", "/nope"), Resolution::NotFound);
        assert_eq!(resolve("GET", "/healthz/"), Resolution::NotFound);
        assert_eq!(
            resolve("POST", "/readyz"),
            Resolution::MethodNotAllowed {
                template: "/readyz",
                allowed: vec!["GET"]
            }
        );
        assert_eq!(
            resolve("BREW", "/readyz"),
            Resolution::MethodNotAllowed {
                template: "/readyz",
                allowed: vec!["GET"]
            }
        );
    }

    #[test]
    fn templates_match_one_segment_per_parameter() {
        let template = "/v1/teams/{team_id}/invitations";
        assert!(matches_template(template, "/v1/teams/abc/invitations"));
        assert!(!matches_template(template, "/v1/teams//invitations"));
        assert!(!matches_template(template, "/v1/teams/a/b/invitations"));
        assert!(!matches_template(template, "/v1/teams/abc/invitations/x"));
        assert_eq!(
            path_param(template, "/v1/teams/abc/invitations", "team_id"),
            Some("abc")
        );
        assert_eq!(
            path_param(template, "/v1/teams/abc/invitations", "other"),
            None
        );
    }
}
